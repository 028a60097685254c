#!/usr/bin/env bash
# examples/run.sh — the README's main job, end to end, with no Docker Hub:
#   1. builds the fixture images from Debian packages (fixtures/build.sh),
#   2. imports them and the guest init image (built by `make`) into a fresh
#      i2kit cache as OCI archives — the air-gapped way,
#   3. builds examples/web.yml offline (kernel+initrd and tar) into OUTDIR,
#   4. boots it with `i2kit run qemu --publish`, fetches the web page from the
#      VM, then powers the VM off with Ctrl-C (SIGINT).
# Usage: examples/run.sh [OUTDIR]   (default build/example)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/example}
FIX=${I2K_FIXTURES:-build/fixtures}
VERSION=$(cat VERSION)
export I2KIT_CACHE=${I2KIT_CACHE:-$PWD/build/example-cache}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

[ -x ./i2kit ] && [ -f "build/init/i2kit-init-$VERSION.tar" ] || make -s
fixtures/build.sh "$FIX" >/dev/null
mkdir -p "$OUT" build/example-archives
for ref in kernel:6.1 busybox:latest web:latest; do
	archive=build/example-archives/${ref%%:*}.tar
	[ -f "$archive" ] || skopeo copy -q "oci:$FIX/oci:$ref" "oci-archive:$archive:docker.io/fixtures/$ref"
	./i2kit cache import "$archive" >/dev/null
done
./i2kit cache import "build/init/i2kit-init-$VERSION.tar" >/dev/null
./i2kit cache ls
./i2kit build --offline --format kernel+initrd --format tar --dir "$OUT" --name web examples/web.yml
ls -l "$OUT"

# Boot it; forward a free local port to the service's port 80.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
./i2kit run qemu --mem 512 --publish "$PORT:80" --timeout 120 --state "$OUT/run" \
	--console-file "$OUT/console.log" "$OUT/web" >/dev/null &
VM=$!
trap 'kill -INT $VM 2>/dev/null; wait $VM 2>/dev/null' EXIT
page=
for _ in $(seq 1 90); do
	if page=$(curl -fsS -m 2 "http://127.0.0.1:$PORT/" 2>/dev/null); then break; fi
	sleep 1
done
grep -a 'i2kit-init\|hello from onboot' "$OUT/console.log" | sed 's/^/console: /'
if [ -z "$page" ]; then
	echo "examples/run.sh: the web service did not answer on 127.0.0.1:$PORT" >&2
	exit 1
fi
echo "GET http://127.0.0.1:$PORT/ → $page"
kill -INT $VM
status=0
wait $VM || status=$?
trap - EXIT
echo "VM powered off (i2kit run exit status $status)"
