#!/usr/bin/env bash
# examples/run.sh — the README's main job, end to end, with no Docker Hub:
#   1. builds the fixture images from Debian packages (fixtures/build.sh),
#   2. imports them into a fresh i2kit cache as OCI archives under the names
#      examples/*.yml use (fixtures/kernel:6.1, ...), the air-gapped way,
#   3. builds examples/web.yml offline into build/example/ as kernel+initrd
#      and tar, and prints what it wrote.
# Usage: examples/run.sh [OUTDIR]   (default build/example)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/example}
FIX=${I2K_FIXTURES:-build/fixtures}
export I2K_CACHE=${I2K_CACHE:-$PWD/build/example-cache}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

[ -x ./i2kit ] || make -s
fixtures/build.sh "$FIX" >/dev/null
mkdir -p "$OUT" build/example-archives
for ref in kernel:6.1 busybox:latest web:latest; do
	name=${ref%%:*}
	archive=build/example-archives/$name.tar
	[ -f "$archive" ] || skopeo copy -q "oci:$FIX/oci:$ref" "oci-archive:$archive:docker.io/fixtures/$ref"
	./i2kit cache import "$archive"
done
./i2kit cache ls
./i2kit build --offline --format kernel+initrd --format tar --dir "$OUT" --name web examples/web.yml
ls -l "$OUT"
