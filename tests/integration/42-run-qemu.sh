#!/bin/bash
# 42-run-qemu.sh — `i2kit run qemu` booting the fixture kernel (TCG) with a
# hand-made initrd: busybox-static as /bin/busybox, an /init shell script
# whose behaviour is chosen on the kernel command line (test.mode=...,
# passed with --cmdline-append), /bin/exitcode (writes a byte to the
# isa-debug-exit port), /bin/metafetch (the guest init's i2ki_metadata_fetch()
# from initrd/init/metadata.c) and the virtio-net + fw_cfg modules of the
# fixture kernel. Checks: console on stdout, in --console-file and in
# STATE/console.log; exit status 0 on poweroff and V from isa-debug-exit;
# --timeout → 124 with QEMU gone; SIGINT → powerdown, kill after the grace
# period, non-zero, QEMU gone; --publish to a busybox httpd in the guest;
# --data reaching /run/config/data; a second run on the same state refused;
# --accel auto picking tcg on these machines (nested KVM unusable); errors.
# No registry needed.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
W=$(t_tmpdir)
export I2KIT_CACHE=$W/cache # the kernel's PVH ELF goes there (provision/pvh.h)

# ---- ingredients (missing ones fail loudly) ---------------------------------
VMLINUZ=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | tail -1 || true)
KVER=${VMLINUZ#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER/kernel
missing=
[ -n "$VMLINUZ" ] && [ -d "$MODDIR" ] || missing="fixture kernel (linux-image-cloud-amd64)"
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || missing="$missing busybox-static"
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86"
command -v musl-gcc >/dev/null || missing="$missing musl-tools"
command -v cpio >/dev/null || missing="$missing cpio"
if [ -n "$missing" ]; then
	t_skip_is_fail run-qemu-prereqs "missing: $missing"
	t_done
	exit 1
fi

R=$W/root
mkdir -p "$R/bin" "$R/lib/modules" "$R/www/cgi-bin"
cp /bin/busybox "$R/bin/busybox"
MODS="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci net/core/failover
drivers/net/net_failover drivers/net/virtio_net drivers/firmware/qemu_fw_cfg"
for m in $MODS; do cp "$MODDIR/$m.ko" "$R/lib/modules/"; done

cat >"$W/exitcode.c" <<'C'
#include <stdlib.h>
#include <stdio.h>
#include <sys/io.h>
int main(int argc, char **argv)
{
	int v = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 0;
	if (ioperm(0xf4, 4, 1) < 0) {
		perror("ioperm");
		return 1;
	}
	outb((unsigned char)v, 0xf4);
	return 0;
}
C
cat >"$W/metafetch.c" <<'C'
#include "metadata.h"
int main(void)
{
	i2ki_metadata_fetch();
	return 0;
}
C
musl-gcc -static -Os -o "$R/bin/exitcode" "$W/exitcode.c"
musl-gcc -static -Os -std=gnu11 -D_GNU_SOURCE -I"$REPO/initrd/init" -o "$R/bin/metafetch" \
	"$W/metafetch.c" "$REPO/initrd/init/metadata.c" "$REPO/initrd/init/json.c" "$REPO/initrd/init/log.c" \
	"$REPO/initrd/init/util.c"

cat >"$R/init" <<'SH'
#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /run /tmp
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
$B mount -t tmpfs run /run
mode=boot
code=0
for w in $($B cat /proc/cmdline); do
	case "$w" in
	test.mode=*) mode=${w#test.mode=} ;;
	test.code=*) code=${w#test.code=} ;;
	esac
done
echo "I2KIT-TEST-MARKER mode=$mode"
case "$mode" in
exit)
	/bin/exitcode "$code"
	echo "exitcode did not stop the VM"
	;;
sleep)
	while :; do $B sleep 1; done
	;;
web)
	for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
		failover net_failover virtio_net qemu_fw_cfg; do
		$B insmod /lib/modules/$m.ko || echo "insmod $m failed"
	done
	/bin/metafetch
	$B cp /run/config/data /www/data.txt || echo "no /run/config/data"
	$B ip link set lo up
	$B ip addr add 10.0.2.15/24 dev eth0
	$B ip link set eth0 up
	echo "I2KIT-WEB-MARKER" >/www/index.html
	printf '#!/bin/busybox sh\necho "Content-Type: text/plain"\necho\necho stopping\n/bin/busybox touch /tmp/stop\n' >/www/cgi-bin/stop
	$B chmod 755 /www/cgi-bin/stop
	$B httpd -p 80 -h /www
	echo "I2KIT-WEB-READY"
	while [ ! -e /tmp/stop ]; do $B sleep 0.2; done
	echo "stop requested"
	;;
esac
$B poweroff -f
SH
chmod 755 "$R/init"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc 2>/dev/null) | gzip -1 >"$W/vm-initrd.img"
cp "$VMLINUZ" "$W/vm-kernel"
printf 'quiet\n' >"$W/vm-cmdline"

qemu_left() { # STATE_DIR: live QEMUs whose command line names it
	pgrep -f "qemu-system.*$1" || true
}

# ---- boot, console, exit 0 ----------------------------------------------------
rc=0
"$I2KIT" run qemu --timeout 120 --state "$W/s1" --console-file "$W/c1.txt" "$W/vm" \
	>"$W/o1" 2>"$W/e1" || rc=$?
assert_eq boot-exit-0 0 "$rc"
assert_contains boot-marker-stdout "$(cat "$W/o1")" "I2KIT-TEST-MARKER mode=boot"
assert_contains boot-marker-console-file "$(cat "$W/c1.txt" 2>/dev/null)" "I2KIT-TEST-MARKER mode=boot"
assert_contains boot-console-log "$(cat "$W/s1/console.log" 2>/dev/null)" "I2KIT-TEST-MARKER mode=boot"
assert_contains accel-auto-tcg "$(cat "$W/e1")" "i2kit: qemu: using tcg (kvm unusable: "
assert_eq boot-no-pidfile "" "$(ls "$W/s1/pid" 2>/dev/null || true)"
assert_eq boot-no-qemu-left "" "$(qemu_left "$W/s1")"
# the -kernel file itself works as IMAGE too; the cmdline carries the extras
rc=0
"$I2KIT" run qemu --accel tcg --timeout 120 --state "$W/s1" --cmdline-append "test.mode=boot" \
	"$W/vm-kernel" >"$W/o1b" 2>"$W/e1b" || rc=$?
assert_eq kernel-path-exit-0 0 "$rc"
assert_contains accel-tcg-forced "$(cat "$W/e1b")" "i2kit: qemu: using tcg (--accel tcg)"

# ---- isa-debug-exit status ------------------------------------------------------
rc=0
"$I2KIT" run qemu --accel tcg --timeout 120 --state "$W/s2" --cmdline-append "test.mode=exit test.code=3" \
	"$W/vm" >"$W/o2" 2>"$W/e2" || rc=$?
assert_eq debug-exit-3 3 "$rc"
assert_not_contains debug-exit-stopped "$(cat "$W/o2")" "exitcode did not stop the VM"
rc=0
"$I2KIT" run qemu --accel tcg --timeout 120 --state "$W/s2" --cmdline-append "test.mode=exit test.code=0" \
	"$W/vm" >"$W/o2b" 2>"$W/e2b" || rc=$?
assert_eq debug-exit-0 0 "$rc"
assert_contains debug-exit-cmdline "$(cat "$W/o2b")" "I2KIT-TEST-MARKER mode=exit"

# ---- --timeout ----------------------------------------------------------------------
rc=0
start=$SECONDS
"$I2KIT" run qemu --accel tcg --timeout 5 --state "$W/s3" --cmdline-append test.mode=sleep \
	"$W/vm" >"$W/o3" 2>"$W/e3" || rc=$?
assert_eq timeout-124 124 "$rc"
assert_contains timeout-message "$(cat "$W/e3")" "timed out after 5 s"
took=$((SECONDS - start))
if [ "$took" -ge 5 ] && [ "$took" -le 15 ]; then t_pass timeout-duration; else t_fail timeout-duration "took ${took}s"; fi
assert_eq timeout-no-qemu-left "" "$(qemu_left "$W/s3")"

# ---- SIGINT: powerdown, then kill after the grace period ----------------------------
I2KIT_RUN_GRACE=3 "$I2KIT" run qemu --accel tcg --timeout 120 --state "$W/s4" --console-file "$W/c4.txt" \
	--cmdline-append test.mode=sleep "$W/vm" >"$W/o4" 2>"$W/e4" &
ipid=$!
on_exit "kill -KILL $ipid 2>/dev/null"
wait_line "$W/c4.txt" "I2KIT-TEST-MARKER" 60 "$ipid" || true
assert_contains sigint-booted "$(cat "$W/c4.txt" 2>/dev/null)" "I2KIT-TEST-MARKER mode=sleep"
assert_ne sigint-qemu-running "" "$(qemu_left "$W/s4")"
start=$SECONDS
kill -INT "$ipid"
rc=0
wait "$ipid" || rc=$?
took=$((SECONDS - start))
assert_eq sigint-exit-130 130 "$rc"
if [ "$took" -ge 3 ] && [ "$took" -le 10 ]; then t_pass sigint-grace; else t_fail sigint-grace "took ${took}s"; fi
# QMP delivered system_powerdown (else the message says so): the busybox
# init ignores ACPI, so QEMU is killed at the end of the grace period
assert_contains sigint-message "$(cat "$W/e4")" "the guest did not power off in time"
assert_eq sigint-no-qemu-left "" "$(qemu_left "$W/s4")"

# ---- --publish, --data, second instance ---------------------------------------------
PORT=$(free_port)
printf 'i2kit-metadata-%s\n' "$PORT" >"$W/data.txt"
"$I2KIT" run qemu --accel tcg --timeout 120 --state "$W/s5" --console-file "$W/c5.txt" \
	--publish "$PORT:80" --data "$W/data.txt" --cmdline-append test.mode=web "$W/vm" \
	>"$W/o5" 2>"$W/e5" &
wpid=$!
on_exit "kill -KILL $wpid 2>/dev/null"
wait_line "$W/c5.txt" "I2KIT-WEB-READY" 60 "$wpid" || true
assert_contains web-ready "$(cat "$W/c5.txt" 2>/dev/null)" "I2KIT-WEB-READY"
rc=0
"$I2KIT" run qemu --accel tcg --state "$W/s5" "$W/vm" >/dev/null 2>"$W/e5b" || rc=$?
assert_eq second-instance-refused 1 "$rc"
assert_contains second-instance-message "$(cat "$W/e5b")" "already running (pid "
page=$(fetch_published "http://127.0.0.1:$PORT/" 20 "$wpid" || true)
assert_contains publish-http "$page" "I2KIT-WEB-MARKER"
data=$(fetch_published "http://127.0.0.1:$PORT/data.txt" 20 "$wpid" || true)
assert_eq data-in-guest "i2kit-metadata-$PORT" "$data"
assert_contains metadata-log "$(cat "$W/c5.txt")" "i2kit-init: metadata: "
curl -s -m 10 "http://127.0.0.1:$PORT/cgi-bin/stop" >/dev/null || true
rc=0
wait "$wpid" || rc=$?
assert_eq web-exit-0 0 "$rc"
assert_eq web-no-qemu-left "" "$(qemu_left "$W/s5")"

# ---- errors ---------------------------------------------------------------------------
assert_exit missing-kernel 1 "$I2KIT" run qemu --state "$W/s6" "$W/nothing"
assert_contains missing-kernel-message "$T_OUT" "i2kit: error: $W/nothing: no kernel ($W/nothing-kernel does not exist)"
assert_exit missing-qemu 1 env I2KIT_QEMU=/nonexistent/qemu "$I2KIT" run qemu --accel tcg --state "$W/s6" "$W/vm"
assert_contains missing-qemu-message "$T_OUT" "/nonexistent/qemu: not found"
assert_exit missing-data 1 "$I2KIT" run qemu --accel tcg --state "$W/s6" --data-file "$W/nodata" "$W/vm"
assert_contains missing-data-message "$T_OUT" "--data-file $W/nodata: no such file"
assert_exit accel-kvm-unusable 1 "$I2KIT" run qemu --accel kvm --state "$W/s6" "$W/vm"
assert_contains accel-kvm-message "$T_OUT" "--accel kvm: kvm unusable: "
assert_exit usage-no-image 2 "$I2KIT" run qemu
assert_contains usage-message "$T_OUT" "no IMAGE given"
assert_exit usage-bad-publish 2 "$I2KIT" run qemu --publish 80 "$W/vm"
assert_exit qemu-fails-early 1 env I2KIT_QEMU=/bin/false "$I2KIT" run qemu --accel tcg --state "$W/s6" "$W/vm"
assert_contains qemu-fails-message "$T_OUT" "QEMU exited with status 1 before the guest started"
assert_eq no-qemu-left-at-all "" "$(qemu_left "$W")"

t_done
