#!/bin/bash
# 45-volumes.sh — volumes: as LinuxKit's docs/yaml.md describes them: a
# blank read-write volume, an image-populated read-only one and a
# `format: oci` one, laid out under /containers/volumes/NAME/{lower,tmp,
# merged} and referenced from binds/mounts of onboot and services; a
# read-write bind of a read-only volume is refused by validate and build;
# and a boot where an onboot container writes into the volume and a
# service reads it back.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
boot_test_setup qemu-system-x86_64 tar

cat >"$W/vol.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $REG_PLAIN/i2kit/init:$I2K_VERSION
volumes:
  - name: shared
  - name: webroot
    image: $REG_PLAIN/fixtures/web:latest
    readonly: true
  - name: ociv
    image: $REG_PLAIN/fixtures/busybox:latest
    format: oci
    readonly: true
onboot:
  - name: writer
    image: $REG_PLAIN/fixtures/busybox:latest
    binds:
      - shared:/data
    command: ["/bin/sh", "-c", "echo written-by-onboot >/data/msg && echo writer done"]
  - name: writer
    image: $REG_PLAIN/fixtures/busybox:latest
    mounts:
      - {type: bind, source: shared, destination: /data, options: [rw, rbind]}
    command: ["/bin/sh", "-c", "echo second-writer >>/data/msg"]
services:
  - name: reader
    image: $REG_PLAIN/fixtures/busybox:latest
    binds:
      - shared:/data
      - webroot:/w:ro
      - ociv:/oci:ro
      - /run/i2kit:/run/i2kit
    command: ["/bin/sh", "-c", "echo reader sees \$(cat /data/msg | tr '\\\\n' ' '); echo web \$(cat /w/www/index.html); grep -q imageLayoutVersion /oci/oci-layout && echo oci layout ok; touch /w/x 2>/dev/null || echo webroot is read-only; touch /run/i2kit/poweroff; sleep 600"]
YML

assert_exit vol-validate 0 "$I2KIT" validate "$W/vol.yml"
assert_exit vol-build 0 "$I2KIT" build --format tar --format kernel+initrd --dir "$W/out" --name vol "$W/vol.yml"

# ---- layout in the root -----------------------------------------------------
list=$(tar -tvf "$W/out/vol.tar" 2>/dev/null | awk '{print $1, $6}' | grep ' containers/volumes' || true)
has() { case "$list" in *"$1"*) t_pass "$2" ;; *) t_fail "$2" "'$1' not in: $(echo "$list" | head -c 600)" ;; esac; }
hasnt() { case "$list" in *"$1"*) t_fail "$2" "'$1' unexpectedly in the root" ;; *) t_pass "$2" ;; esac; }
has "drwxr-xr-x containers/volumes/shared/lower/" layout-blank-lower
has "containers/volumes/shared/tmp/" layout-blank-rw-tmp
has "containers/volumes/shared/merged/" layout-blank-merged
has "containers/volumes/webroot/lower/www/index.html" layout-image-populated
hasnt "containers/volumes/webroot/tmp/" layout-readonly-no-tmp
has "containers/volumes/ociv/lower/oci-layout" layout-oci-layout
has "containers/volumes/ociv/lower/index.json" layout-oci-index
index=$(tar -xOf "$W/out/vol.tar" containers/volumes/ociv/lower/index.json 2>/dev/null || true)
mdigest=$("$T_PY" -c 'import json,sys; print(json.loads(sys.argv[1])["manifests"][0]["digest"].split(":")[1])' "$index" 2>/dev/null || true)
has "containers/volumes/ociv/lower/blobs/sha256/$mdigest" layout-oci-manifest-blob
cfgjson=$(tar -xOf "$W/out/vol.tar" containers/services/reader/config.json 2>/dev/null || true)
assert_contains bind-rewritten "$cfgjson" '"source": "/containers/volumes/shared/merged"'
assert_contains bind-ro-rewritten "$cfgjson" '"source": "/containers/volumes/webroot/merged"'
onboot=$(tar -tf "$W/out/vol.tar" | grep -E '^containers/onboot/[0-9]+-writer/config.json$' | sort | tr '\n' ' ')
assert_eq onboot-same-name-numbered "containers/onboot/000-writer/config.json containers/onboot/001-writer/config.json " "$onboot"

# ---- a read-write use of a read-only volume: refused before anything is fetched
sed 's|      - webroot:/w:ro|      - webroot:/w|' "$W/vol.yml" >"$W/bad.yml"
assert_exit ro-validate-refused 1 "$I2KIT" validate "$W/bad.yml"
assert_contains ro-validate-message "$T_OUT" 'services[reader]: volume "webroot" is read-only, but attempting to write into container read-write'
assert_exit ro-build-refused 1 "$I2KIT" build --offline --cache "$W/empty-cache" --dir "$W/bad" "$W/bad.yml"
assert_contains ro-build-message "$T_OUT" 'volume "webroot" is read-only'
sed 's|      - shared:/data$|      - nosuch:/data|' "$W/vol.yml" >"$W/unknown.yml"
assert_exit unknown-volume-refused 1 "$I2KIT" validate "$W/unknown.yml"
assert_contains unknown-volume-message "$T_OUT" 'volume "nosuch" not found (binds[0])'

# ---- boot: the onboot writer and the service reader share the volume --------
rc=0
timeout 200 "$I2KIT" run qemu --mem 512 --timeout 180 --state "$W/run" \
	--console-file "$W/console.log" "$W/out/vol" >/dev/null 2>&1 || rc=$?
con=$(cat "$W/console.log" 2>/dev/null || true)
assert_contains boot-volume-mounted "$con" "volumes: shared mounted read-write"
assert_contains boot-ro-volume-mounted "$con" "volumes: webroot mounted read-only"
assert_contains boot-writer "$con" "writer done"
assert_contains boot-reader-sees-onboot-writes "$con" "reader sees written-by-onboot second-writer"
assert_contains boot-image-volume "$con" "web i2kit fixture web page"
assert_contains boot-oci-volume "$con" "oci layout ok"
assert_contains boot-readonly-enforced "$con" "webroot is read-only"
assert_eq boot-exit 0 "$rc"
t_done
