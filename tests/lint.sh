#!/usr/bin/env bash
# tests/lint.sh — STYLE.md rules that a script can check: banned functions,
# header guards, include direction between pipeline stages, clang-format.
# Prints PASS/FAIL lines like every test program.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
fail() {
	echo "FAIL: $*"
	status=1
}
srcs=$(find builder kernel initrd formats pipeline provision cli -name '*.[ch]' | sort)
bad=$(grep -nE '\b(sprintf|strcpy|strcat|atoi|gets)\s*\(' $srcs | grep -vE '(snprintf|vsnprintf|asprintf|vasprintf)\s*\(' || true)
if [ -n "$bad" ]; then
	echo "$bad"
	fail "lint/banned-functions: sprintf/strcpy/strcat/atoi/gets used"
else
	echo "PASS: lint/banned-functions"
fi
missing=
for h in $(find builder kernel initrd formats pipeline provision cli -name '*.h' | sort); do
	guard="I2K_$(echo "${h%.h}" | tr '/a-z.-' '_A-Z__')_H"
	grep -q "#ifndef $guard" "$h" || missing="$missing $h(want $guard)"
done
if [ -n "$missing" ]; then
	fail "lint/header-guards:$missing"
else
	echo "PASS: lint/header-guards"
fi

# Include direction (README, DESIGN.md): cli → provision → pipeline → formats →
# initrd/kernel → builder. A file may include headers of its own stage or a lower one, never a
# higher one. The guest init (initrd/init/) is its own program: it includes
# only its own headers, plus the few libc-only, header-only helpers listed in
# INIT_SHARED; no library file includes an init header. tests/ may include
# anything and is not checked.
INIT_SHARED="builder/base/bytes.h builder/base/capnames.h"
bad_inc=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' $srcs |
	awk -v files="$srcs" -v shared="$INIT_SHARED" '
	function rank(p) {
		if (p ~ /^builder\//) return 0
		if (p ~ /^(kernel|initrd)\//) return 1
		if (p ~ /^formats\//) return 2
		if (p ~ /^pipeline\//) return 3
		if (p ~ /^provision\//) return 4
		if (p ~ /^cli\//) return 5
		return -1
	}
	function norm(p,   n, a, out, i, k) { # drop "." and resolve ".."
		n = split(p, a, "/"); k = 0
		for (i = 1; i <= n; i++) {
			if (a[i] == "." || a[i] == "") continue
			if (a[i] == ".." && k > 0) { k--; continue }
			st[++k] = a[i]
		}
		out = st[1]
		for (i = 2; i <= k; i++) out = out "/" st[i]
		return out
	}
	BEGIN {
		n = split(files, fa, /[ \n]+/); for (i = 1; i <= n; i++) have[fa[i]] = 1
		n = split(shared, sa, / +/); for (i = 1; i <= n; i++) ok_init[sa[i]] = 1
	}
	{
		file = $0; sub(/:.*/, "", file)
		rest = substr($0, length(file) + 2); line = rest; sub(/:.*/, "", line)
		inc = rest; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
		dir = file; sub(/\/[^\/]*$/, "", dir)
		# Resolve as the compiler does: beside the includer first, then -I.
		t = norm(dir "/" inc); if (!(t in have)) t = norm(inc)
		where = "  " file ":" line ": \"" inc "\""
		if (file ~ /^initrd\/init\//) {
			if (t !~ /^initrd\/init\// && !(t in ok_init))
				print where " (the guest init includes only its own headers)"
			next
		}
		if (t ~ /^initrd\/init\//) { print where " (a header of the guest init)"; next }
		from = rank(file); to = rank(t)
		if (to < 0) print where " (not a header of a pipeline stage)"
		else if (to > from) {
			hs = t; sub(/\/.*/, "", hs); fs = file; sub(/\/.*/, "", fs)
			print where " (" hs " is a higher stage than " fs ")"
		}
	}')
# The shared headers the init may include must stay libc-only.
for h in $INIT_SHARED; do
	if grep -qE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$h"; then
		bad_inc="$bad_inc"$'\n'"  $h: shared with the guest init, so it may include only <system> headers"
	fi
done
if [ -n "$bad_inc" ]; then
	echo "include direction violations:"
	echo "$bad_inc" | sed '/^$/d'
	fail "lint/include-direction: cli > provision > pipeline > formats > initrd,kernel > builder; a lower stage never includes a higher one (see above)"
else
	echo "PASS: lint/include-direction"
fi

# Formatting: every .c/.h as the checked-in .clang-format says ('make format'
# applies it).
all_c=$(find builder kernel initrd formats pipeline provision cli tests bench fixtures examples \
	-name '*.[ch]' -not -path '*/build/*' 2>/dev/null | sort)
if ! command -v clang-format >/dev/null; then
	fail "lint/clang-format: clang-format is not installed (packages.txt)"
elif out=$(clang-format --dry-run -Werror $all_c 2>&1); then
	echo "PASS: lint/clang-format"
else
	echo "$out" | grep -E '^[^ ].*: error:' | sed 's/:[0-9]*:[0-9]*: error:.*//' | sort -u | sed 's/^/  needs formatting: /'
	fail "lint/clang-format: run 'make format' (clang-format -i) on the files above"
fi
exit $status
