#!/usr/bin/env bash
# tests/run.sh — runs every test and prints "N passed, N failed" as its last line.
#
#   tests/run.sh [--unit-only | --integration-only] [FILTER]
#
# Unit tests: build/tests/test_* (built with ASan+UBSan by make).
# Integration tests: tests/integration/NN-*.sh; they source
# tests/integration/lib/harness.sh, which builds the fixtures and starts the
# local registries once per run (stopped again at the end).
# Every test program prints "PASS: name" / "FAIL: name: why" lines. A program
# that exits non-zero without printing any FAIL line counts as one failure; a
# test that cannot run prints FAIL (never a silent skip).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
export I2K_TEST_DATA="$REPO/tests/data" I2K_REPO="$REPO" I2KIT="$REPO/i2kit"
mode=all
filter=
for a in "$@"; do
	case "$a" in
	--unit-only) mode=unit ;;
	--integration-only) mode=integration ;;
	*) filter=$a ;;
	esac
done

passed=0
failed=0
failures=()
LOGDIR="$REPO/build/test-logs"
mkdir -p "$LOGDIR"

run_one() { # NAME TIMEOUT CMD...
	local name=$1 to=$2
	shift 2
	local log="$LOGDIR/$(basename "$name").log"
	local start=$SECONDS
	timeout --kill-after=10 "$to" "$@" >"$log" 2>&1
	local rc=$?
	local p f
	p=$(grep -c '^PASS: ' "$log")
	f=$(grep -c '^FAIL: ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name: exited $rc without reporting a failure (timeout=124)" >>"$log"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	printf '%-44s %3d passed %3d failed  (%ds)\n' "$name" "$p" "$f" $((SECONDS - start))
	if [ "$f" -gt 0 ]; then
		grep -B8 '^FAIL: ' "$log" | sed 's/^/    /' | tail -40
		failures+=("$name")
	fi
}

# Unit tests that read the fixture images need them built first; with
# I2K_REQUIRE_FIXTURES=1 a missing fixture is a failure, not a skip.
export I2K_FIXTURES="$REPO/build/fixtures" I2K_REQUIRE_FIXTURES=1
if ! fixtures/build.sh "$I2K_FIXTURES" >"$LOGDIR/fixtures-build.log" 2>&1; then
	echo "FAIL: fixtures/build.sh failed (see $LOGDIR/fixtures-build.log)"
	failed=$((failed + 1))
fi

if [ "$mode" != integration ]; then
	run_one lint 60 tests/lint.sh
	run_one fuzz-replay 600 tests/fuzz/replay.sh
	# coverage-guided, short: 5 s per parser harness, 30 round trips
	# (`make fuzz` alone runs them for minutes; tests/fuzz/run.sh)
	run_one fuzz-short 1200 make -s -j2 fuzz FUZZ_TIME=5 ROUNDTRIP_RUNS=30
	for t in build/tests/test_*; do
		[ -x "$t" ] || continue
		[ -n "$filter" ] && [[ "$t" != *"$filter"* ]] && continue
		run_one "$t" 300 "$t"
	done
fi

if [ "$mode" != unit ]; then
	export I2K_REG_STATE="$REPO/build/registry"
	export I2K_FIXTURES="$REPO/build/fixtures"
	trap 'fixtures/registry.sh stop "$I2K_REG_STATE" >/dev/null 2>&1' EXIT
	for t in tests/integration/[0-9]*.sh; do
		[ -f "$t" ] || continue
		[ -n "$filter" ] && [[ "$t" != *"$filter"* ]] && continue
		run_one "$t" 1200 bash "$t"
	done
fi

[ "${#failures[@]}" -gt 0 ] && echo "failing: ${failures[*]} (logs in build/test-logs/)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
