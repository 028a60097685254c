#!/usr/bin/env bash
# tests/lint.sh — STYLE.md rules that a grep can check: banned functions,
# header guards. Prints PASS/FAIL lines like every test program.
set -uo pipefail
cd "$(dirname "$0")/.."
srcs=$(find builder kernel initrd formats provision cli -name '*.[ch]' | sort)
bad=$(grep -nE '\b(sprintf|strcpy|strcat|atoi|gets)\s*\(' $srcs | grep -vE '(snprintf|vsnprintf|asprintf|vasprintf)\s*\(' || true)
if [ -n "$bad" ]; then
	echo "$bad"
	echo "FAIL: lint/banned-functions: sprintf/strcpy/strcat/atoi/gets used"
else
	echo "PASS: lint/banned-functions"
fi
missing=
for h in $(find builder kernel initrd formats provision cli -name '*.h' | sort); do
	guard="I2K_$(echo "${h%.h}" | tr '/a-z.-' '_A-Z__')_H"
	grep -q "#ifndef $guard" "$h" || missing="$missing $h(want $guard)"
done
if [ -n "$missing" ]; then
	echo "FAIL: lint/header-guards:$missing"
else
	echo "PASS: lint/header-guards"
fi
