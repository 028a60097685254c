#!/usr/bin/env bash
# tests/fuzz/replay.sh — builds every fuzz harness in replay mode
# (-DI2K_FUZZ_MAIN, ASan+UBSan, linked with the test library) and runs it
# over its seed corpus, so the harnesses keep compiling and the seeds keep
# passing. For coverage-guided fuzzing build them with clang
# -fsanitize=fuzzer (see each file's header).
set -uo pipefail
cd "$(dirname "$0")/../.."
declare -A seeds=(
	[fuzz_config]=tests/data/config/fuzz
	[fuzz_tar]=tests/data/image/seeds
	[fuzz_manifest]=tests/data/fuzz/manifest
	[fuzz_challenge]=tests/data/fuzz/challenge
	[fuzz_service]=tests/data/fuzz/service
	[fuzz_tar_sparse]=tests/data/fuzz/tar_sparse
	[fuzz_aws]=tests/data/fuzz/aws
	[fuzz_pkgdb]=tests/data/fuzz/pkgdb
	[fuzz_signature]=tests/data/fuzz/signature
)
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=build/fuzz/$name
	if ! make -s "$bin" >build/fuzz-$name.log 2>&1; then
		cat build/fuzz-$name.log
		echo "FAIL: fuzz/$name: does not build in replay mode"
		continue
	fi
	dir=${seeds[$name]:-}
	if [ -z "$dir" ] || [ -z "$(ls -A "$dir" 2>/dev/null)" ]; then
		echo "FAIL: fuzz/$name: no seed corpus"
		continue
	fi
	if "$bin" "$dir"/* >build/fuzz-$name.out 2>&1; then
		echo "PASS: fuzz/$name ($(ls "$dir" | wc -l) seeds)"
	else
		tail -20 build/fuzz-$name.out
		echo "FAIL: fuzz/$name: a seed crashed or failed"
	fi
done
