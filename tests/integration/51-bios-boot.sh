#!/bin/bash
# 51-bios-boot.sh — the isohybrid BIOS image (formats/disk/isoboot: ISO 9660
# + El Torito + isolinux + hybrid MBR) booted for real under SeaBIOS/TCG:
#   * `i2kit build` makes kernel+initrd from the fixture registry (packaged
#     init, an onboot container, no services → the VM powers off by itself);
#   * tests/tools/mkiso.c (built here with the unit-test flags against
#     build/libi2k-asan.a) turns them into one hybrid image;
#   * xorriso reads the El Torito catalog and the MBR back; two builds are
#     byte-identical; a bad command line gives an error and no file;
#   * the same image boots (a) as a CD-ROM (-cdrom: isolinux says ETCD) and
#     (b) as a virtio hard disk (isolinux says EHDD) to the init's "boot
#     finished" line and the onboot marker. Boot times go to stderr.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)

for tool in qemu-system-x86_64 xorriso cc pkg-config; do
	command -v "$tool" >/dev/null || { t_skip_is_fail "tool-$tool" "$tool not installed"; t_done; exit 1; }
done
for f in /usr/lib/ISOLINUX/isolinux.bin /usr/lib/ISOLINUX/isohdpfx.bin \
	/usr/lib/syslinux/modules/bios/ldlinux.c32; do
	[ -r "$f" ] || { t_skip_is_fail "data-$(basename "$f")" "$f missing (isolinux, syslinux-common)"; t_done; exit 1; }
done

# ---- the test driver, with the unit tests' flags ----------------------------
if ! make -s -C "$REPO" build/libi2k-asan.a >"$W/make.log" 2>&1; then
	t_fail build-lib "$(tail -c 600 "$W/make.log")"
	t_done
	exit 1
fi
CFLAGS_PKG=$(make -s --no-print-directory -C "$REPO" print-cflags)
LDLIBS_PKG=$(make -s --no-print-directory -C "$REPO" print-ldlibs)
MKISO=$W/mkiso
# shellcheck disable=SC2086
if cc -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I"$REPO" -Wall -Wextra -Werror -Wshadow \
	-Wformat=2 -Wundef -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wvla \
	-Wpointer-arith $CFLAGS_PKG -pthread -O1 -g \
	-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
	-o "$MKISO" "$REPO/tests/tools/mkiso.c" "$REPO/build/libi2k-asan.a" \
	$LDLIBS_PKG >"$W/cc.log" 2>&1; then
	t_pass build-mkiso
else
	t_fail build-mkiso "$(tail -c 600 "$W/cc.log")"
	t_done
	exit 1
fi

# ---- kernel + initrd from i2kit build -----------------------------------------
"$I2KIT" cache import "$REPO/build/init/i2kit-init-$I2K_VERSION.tar" >/dev/null 2>&1 || true
cat >"$W/iso.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - i2kit/init:$I2K_VERSION
onboot:
  - name: marker
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "hello from the iso onboot"]
YML
assert_exit iso-build 0 "$I2KIT" build --dir "$W/b" --name iso "$W/iso.yml"
K=$W/b/iso-kernel
I=$W/b/iso-initrd.img
CMDLINE=$(cat "$W/b/iso-cmdline" 2>/dev/null || echo console=ttyS0)
assert_contains cmdline-console "$CMDLINE" "console=ttyS0"

# ---- the hybrid image ------------------------------------------------------------
IMG=$W/iso.img
start=$(date +%s.%N)
assert_exit mkiso-hybrid 0 "$MKISO" --hybrid --volid i2kit_test --cmdline "$CMDLINE" "$K" "$I" "$IMG"
echo "# mkiso: $(echo "$(date +%s.%N) - $start" | bc)s for $(stat -c %s "$IMG") bytes" >&2
size=$(stat -c %s "$IMG")
assert_eq image-size-reported "$size" "$(printf '%s' "$T_OUT" | tail -n 1)"
assert_eq image-size-mib-multiple 0 $((size % 1048576))
rep=$(xorriso -indev "$IMG" -report_el_torito plain -report_system_area plain 2>&1 || true)
assert_contains xorriso-volid "$rep" "Volume id    : 'I2KIT_TEST'"
assert_contains xorriso-isohybrid "$rep" "Boot record  : El Torito , MBR isohybrid cyl-align-on"
assert_contains xorriso-bios-entry "$rep" "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4"
assert_contains xorriso-boot-info "$rep" "El Torito img opts :   1  boot-info-table isohybrid-suitable"
assert_contains xorriso-mbr-part "$rep" "MBR partition      :   1   0x80  0x17            0 $(printf '%12d' $((size / 512)))"
cfg=$(xorriso -osirrox on -indev "$IMG" -extract /isolinux/isolinux.cfg "$W/isolinux.cfg" >/dev/null 2>&1 && cat "$W/isolinux.cfg" || true)
assert_contains isolinux-cfg-append "$cfg" "APPEND $CMDLINE"
assert_exit mkiso-again 0 "$MKISO" --hybrid --volid i2kit_test --cmdline "$CMDLINE" "$K" "$I" "$W/iso2.img"
assert_exit reproducible 0 cmp "$IMG" "$W/iso2.img"
rm -f "$W/iso2.img"
assert_exit mkiso-bad-cmdline 1 "$MKISO" --cmdline $'a\nDEFAULT x' "$K" "$I" "$W/bad.img"
assert_contains mkiso-bad-cmdline-msg "$T_OUT" "kernel command line: contains a line break"
assert_eq mkiso-bad-no-file "no" "$([ -e "$W/bad.img" ] && echo yes || echo no)"

# ---- boot: CD-ROM, then virtio hard disk ---------------------------------------------
boot() { # NAME QEMU-DRIVE-ARGS...
	local name=$1 start end rc
	shift
	start=$(date +%s.%N)
	qemu_run "$W/$name.console" 150 -netdev user,id=n0 -device virtio-net-pci,netdev=n0 "$@"
	rc=$QEMU_RC
	end=$(date +%s.%N)
	echo "# $name: qemu exited $rc after $(echo "$end - $start" | bc)s" >&2
	local con
	con=$(tr -d '\r' <"$W/$name.console")
	assert_eq "$name-qemu-exit" 0 "$rc"
	assert_contains "$name-isolinux" "$con" "ISOLINUX 6"
	assert_contains "$name-boot-finished" "$con" "boot finished"
	assert_contains "$name-onboot" "$con" "hello from the iso onboot"
	assert_contains "$name-poweroff" "$con" "no services: powering off"
	grep -a -o 'boot finished in [0-9.]*s' "$W/$name.console" | sed "s/^/# $name: init /" >&2 || true
	T_CON=$con
}
boot cdrom -cdrom "$IMG"
assert_contains cdrom-via-el-torito "$T_CON" "ETCD"
boot disk -drive "file=$IMG,format=raw,if=virtio"
assert_contains disk-via-mbr "$T_CON" "EHDD"

t_done
