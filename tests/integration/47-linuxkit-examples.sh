#!/bin/bash
# 47-linuxkit-examples.sh — LinuxKit's own example configs
# (tests/data/linuxkit/, copied unchanged from linuxkit/linuxkit examples/)
# build and boot with only their images pointed at the fixtures
# (tools/lkrewrite.py): linuxkit/init, runc and containerd stay in init: and
# are replaced by i2kit's init with one notice.
#   minimal        builds, validates, boots: the onboot and service run
#   sshd           a service with binds.add, an optional files: source
#   volumes        blank and image-populated volumes bound into the nginx
#                  service (here the fixture web server): boots, serves the
#                  page, both volumes mounted, onshutdown runs on Ctrl-C
#   dm-crypt-loop  two onboot containers named "mount" (numbered bundles)
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
boot_test_setup qemu-system-x86_64 curl tar
D=$REPO/tests/data/linuxkit
REWRITE=$REPO/tests/integration/tools/lkrewrite.py

for ex in minimal sshd volumes dm-crypt-loop; do
	"$T_PY" "$REWRITE" "$REG_PLAIN" "$D/$ex.yml" "$W/$ex.yml"
	assert_exit "$ex-validate" 0 "$I2KIT" validate "$W/$ex.yml"
	assert_exit "$ex-build" 0 "$I2KIT" build --format kernel+initrd --format tar --dir "$W/$ex" --name "$ex" "$W/$ex.yml"
	assert_eq "$ex-one-init-notice" 1 "$(printf '%s\n' "$T_OUT" | grep -c "linuxkit/containerd:[0-9a-f]* replaced by i2kit's own init" || true)"
	assert_eq "$ex-root-has-init" 1 "$(tar -tf "$W/$ex/$ex.tar" 2>/dev/null | grep -cx init || true)"
done

# sshd: binds.add on top of the image's binds, the optional source left out
sshcfg=$(tar -xOf "$W/sshd/sshd.tar" containers/services/sshd/config.json 2>/dev/null || true)
assert_contains sshd-binds-add "$sshcfg" '"destination": "/root/.ssh"'
assert_eq sshd-optional-source-skipped 0 "$(tar -tf "$W/sshd/sshd.tar" | grep -c 'root/.ssh/authorized_keys' || true)"

# dm-crypt-loop: onboot containers with the same name, numbered as LinuxKit does
mounts=$(tar -tf "$W/dm-crypt-loop/dm-crypt-loop.tar" | grep -E '^containers/onboot/[0-9]+-mount/config.json$' | sort | tr '\n' ' ')
assert_eq dm-crypt-loop-two-mounts "containers/onboot/003-mount/config.json containers/onboot/006-mount/config.json " "$mounts"

# volumes: the layout, then a boot that serves the page from the volume-binding service
vlist=$(tar -tf "$W/volumes/volumes.tar" | grep '^containers/volumes/' || true)
assert_contains volumes-blank "$vlist" "containers/volumes/blank/merged/"
assert_contains volumes-populated "$vlist" "containers/volumes/alpine/lower/www/index.html"
web_boot "$W/volumes/volumes" "$W/volumes.console" "$I2KIT"
assert_eq volumes-boot-web-page "i2kit fixture web page" "$PAGE"
web_boot_stop
con=$(cat "$W/volumes.console" 2>/dev/null || true)
assert_contains volumes-blank-mounted "$con" "volumes: blank mounted read-write"
assert_contains volumes-populated-mounted "$con" "volumes: alpine mounted read-write"
assert_contains volumes-onshutdown "$con" "so long and thanks for all the fish"

# minimal: boots to its services (dhcpcd is not in the fixture image: that
# onboot container fails, as it would without the image, and boot goes on)
rc=0
"$I2KIT" run qemu --mem 512 --timeout 60 --state "$W/minimal.run" \
	--console-file "$W/minimal.console" "$W/minimal/minimal" >/dev/null 2>&1 || rc=$?
con=$(cat "$W/minimal.console" 2>/dev/null || true)
assert_contains minimal-init-starts "$con" "i2kit-init $I2K_VERSION starting"
assert_contains minimal-service-started "$con" "1 service started"
assert_contains minimal-boot-finished "$con" "boot finished"
# the getty service keeps the VM up until --timeout
assert_eq minimal-runs-until-timeout 124 "$rc"
t_done
