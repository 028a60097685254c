#!/usr/bin/env bash
# tests/fuzz/run.sh — coverage-guided fuzzing for a bounded time: runs every
# libFuzzer harness (build/fuzzer/fuzz_*, built by `make fuzz-build` with
# clang -fsanitize=fuzzer,address,undefined) from its seed corpus
# (tests/fuzz/seeds.sh) and reports executions and crashes per harness.
#
#   FUZZ_TIME=S        seconds per parser harness (default 120)
#   ROUNDTRIP_TIME=S   seconds for fuzz_roundtrip (writers → real oracles;
#                      slow: default 300) — or ROUNDTRIP_RUNS=N iterations
#   FUZZ_ONLY=a,b      only these harnesses (names without fuzz_)
#
# Prints "PASS: fuzz/NAME: N execs in S s, no crash" or "FAIL: fuzz/NAME:
# ..." with the crashing input kept in build/fuzz-crashes/NAME/. New
# corpus entries go to build/fuzz-corpus/NAME (the seeds are not touched;
# copy an input that found a bug into the seed directory as a regression).
# `make fuzz FUZZ_TIME=5 ROUNDTRIP_RUNS=30` is the short pass tests/run.sh
# runs in CI.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/fuzz/seeds.sh
FUZZ_TIME=${FUZZ_TIME:-120}
ROUNDTRIP_TIME=${ROUNDTRIP_TIME:-300}
ROUNDTRIP_RUNS=${ROUNDTRIP_RUNS:-}
rc=0
for bin in build/fuzzer/fuzz_*; do
	name=$(basename "$bin")
	[[ "$name" == *.* || ! -x "$bin" ]] && continue # make's .d files
	short=${name#fuzz_}
	if [ -n "${FUZZ_ONLY:-}" ] && [[ ",$FUZZ_ONLY," != *",$short,"* ]]; then
		continue
	fi
	dir=${seeds[$name]:-}
	if [ -z "$dir" ] || [ -z "$(ls -A "$dir" 2>/dev/null)" ]; then
		echo "FAIL: fuzz/$name: no seed corpus"
		rc=1
		continue
	fi
	corpus=build/fuzz-corpus/$name crashes=build/fuzz-crashes/$name
	mkdir -p "$corpus" "$crashes"
	limit=(-max_total_time="$FUZZ_TIME")
	if [ "$name" = fuzz_roundtrip ]; then
		if [ -n "$ROUNDTRIP_RUNS" ]; then
			limit=(-runs="$ROUNDTRIP_RUNS")
		else
			limit=(-max_total_time="$ROUNDTRIP_TIME")
		fi
	fi
	log=build/fuzz-$name.run.log
	start=$SECONDS
	"$bin" "${limit[@]}" -timeout=60 -rss_limit_mb=2560 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$dir" >"$log" 2>&1
	r=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
	if [ "$r" -eq 0 ]; then
		echo "PASS: fuzz/$name: ${execs:-?} execs in $((SECONDS - start)) s, no crash"
	else
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5
		grep -E '^ *#[0-9]+ .* in ' "$log" | head -8
		echo "FAIL: fuzz/$name: crashed after ${execs:-?} execs (input: $(ls -t "$crashes" | head -1); log $log)"
		rc=1
	fi
done
exit $rc
