#!/bin/bash
# 50-uefi-boot.sh — the UEFI path end to end, in-process: `i2kit build`
# makes kernel+initrd; tests/tools/mkesp (linked with the library) wraps them
# in a unified kernel image (kernel/uki), puts it at \EFI\BOOT\BOOTX64.EFI
# on a FAT32 ESP (formats/fs/fat) inside a GPT disk (formats/disk/gpt);
# sgdisk, fsck.fat, mtools and objdump check the pieces; the disk is
# byte-identical across two runs; OVMF boots it under TCG to the init's
# "boot finished" line with the onboot container's output on the console.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
W=$(t_tmpdir)
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd

# ---- the driver program, against the ASan library ---------------------------
rc=0
# shellcheck disable=SC2046 # the flags are words
(cd "$REPO" && make -s build/libi2k-asan.a >&2 &&
	cc -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. -Wall -Wextra -Werror -O1 -g \
		-fsanitize=address,undefined -fno-omit-frame-pointer -pthread \
		$(make -s --no-print-directory print-cflags) \
		-o "$W/mkesp" tests/tools/mkesp.c build/libi2k-asan.a \
		$(make -s --no-print-directory print-ldlibs)) >"$W/cc.log" 2>&1 || rc=$?
assert_eq mkesp-compiles 0 "$rc"
[ "$rc" -eq 0 ] || { cat "$W/cc.log" >&2; t_done; exit 1; }

# ---- kernel+initrd from a LinuxKit-style YAML -------------------------------
"$I2KIT" cache import "$REPO/build/init/i2kit-init-$I2K_VERSION.tar" >/dev/null 2>&1
cat >"$W/uefi.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - i2kit/init:$I2K_VERSION
onboot:
  - name: marker
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "uefi onboot marker"]
YML
assert_exit build-kernel-initrd 0 "$I2KIT" build --dir "$W/out" --name uefi "$W/uefi.yml"
K=$W/out/uefi-kernel
I=$W/out/uefi-initrd.img
CMDLINE=$(cat "$W/out/uefi-cmdline" 2>/dev/null || echo console=ttyS0)
printf 'ID=i2kit\nNAME=i2kit\n' >"$W/os-release"

# ---- the disk ---------------------------------------------------------------
assert_exit mkesp-runs 0 env SOURCE_DATE_EPOCH=1700000000 "$W/mkesp" --osrel "$W/os-release" \
	--label I2KIT-ESP "$K" "$I" "$CMDLINE" "$W/disk.img"
assert_exit mkesp-again 0 env SOURCE_DATE_EPOCH=1700000000 "$W/mkesp" --osrel "$W/os-release" \
	--label I2KIT-ESP "$K" "$I" "$CMDLINE" "$W/disk2.img"
assert_exit disk-reproducible 0 cmp "$W/disk.img" "$W/disk2.img"
assert_exit mkesp-usage 2 "$W/mkesp" "$K"
assert_exit mkesp-missing-kernel 1 "$W/mkesp" "$W/nope" "$I" x "$W/nope.img"
assert_contains mkesp-missing-kernel-msg "$T_OUT" "mkesp: error: $W/nope: No such file"
assert_eq mkesp-no-partial-output "" "$(ls "$W"/nope.img 2>/dev/null || true)"

assert_exit sgdisk-verify 0 sgdisk -v "$W/disk.img"
assert_contains sgdisk-no-problems "$T_OUT" "No problems found"
assert_exit sgdisk-print 0 sgdisk -p "$W/disk.img"
assert_contains sgdisk-esp "$T_OUT" "EF00  EFI System Partition"
assert_contains sgdisk-aligned "$T_OUT" "   1            2048 "

start=$(sgdisk -i 1 "$W/disk.img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
last=$(sgdisk -i 1 "$W/disk.img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
dd if="$W/disk.img" of="$W/esp.img" bs=512 skip="$start" count=$((last - start + 1)) status=none
assert_exit fsck-fat-clean 0 fsck.fat -n "$W/esp.img"
assert_exit mdir-efi-boot 0 mdir -i "$W/esp.img" ::/EFI/BOOT
assert_contains mdir-bootx64 "$T_OUT" "BOOTX64  EFI"
assert_contains mdir-label "$T_OUT" "Volume in drive : is I2KIT-ESP"
assert_exit mcopy-uki 0 mcopy -n -i "$W/esp.img" ::/EFI/BOOT/BOOTX64.EFI "$W/uki.efi"

hexsize() { printf '%08x' "$(stat -c %s "$1")"; }
assert_exit objdump-uki 0 objdump -h "$W/uki.efi"
sections=$T_OUT
assert_contains uki-linux-size "$sections" ".linux        $(hexsize "$K")"
assert_contains uki-initrd-size "$sections" ".initrd       $(hexsize "$I")"
assert_contains uki-cmdline "$sections" ".cmdline      $(printf '%08x' ${#CMDLINE})"
assert_contains uki-osrel "$sections" ".osrel        $(hexsize "$W/os-release")"
objcopy -O binary --only-section=.linux "$W/uki.efi" "$W/linux.bin" 2>/dev/null || true
assert_exit uki-linux-bytes 0 cmp -n "$(stat -c %s "$K")" "$K" "$W/linux.bin"

# ---- boot under OVMF --------------------------------------------------------
if [ ! -r "$OVMF_CODE" ] || [ ! -r "$OVMF_VARS" ] || ! command -v qemu-system-x86_64 >/dev/null; then
	t_skip_is_fail uefi-boot "OVMF ($OVMF_CODE) or qemu-system-x86_64 missing"
	t_done
	exit 1
fi
cp "$OVMF_VARS" "$W/vars.fd"
t0=$(date +%s%N)
qemu_run "$W/console.log" 180 \
	-drive if=pflash,format=raw,readonly=on,file="$OVMF_CODE" \
	-drive if=pflash,format=raw,file="$W/vars.fd" \
	-drive file="$W/disk.img",format=raw,if=virtio \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0
rc=$QEMU_RC
t1=$(date +%s%N)
console=$(tr -d '\r' <"$W/console.log")
assert_eq qemu-exits-by-itself 0 "$rc"
assert_contains uefi-efi-stub "$console" "EFI stub: "
assert_contains uefi-cmdline "$console" "Command line: console=ttyS0"
assert_contains uefi-onboot-marker "$console" "uefi onboot marker"
assert_contains uefi-boot-finished "$console" "i2kit-init: boot finished in"
assert_contains uefi-powers-off "$console" "no services: powering off"
if [ "$rc" -ne 0 ]; then tail -c 3000 "$W/console.log" >&2; fi
# the same disk under a name no format writes: `run qemu` sees the GPT with an
# ESP and no BIOS boot code and boots it with OVMF by itself
cp "$W/disk.img" "$W/renamed.img"
assert_exit run-qemu-gpt-esp-uefi 0 "$I2KIT" run qemu -v --accel tcg --timeout 180 \
	--state "$W/s-renamed" "$W/renamed.img"
assert_contains run-qemu-gpt-esp-efi-stub "$T_OUT" "EFI stub: "
# `run qemu` boots a copy of OVMF trimmed for it (provision/ovmf.h), made
# into the cache on first use; the boot above used Debian's file as is
ovmf_copy=$I2KIT_CACHE/ovmf/$(sha256sum "$OVMF_CODE" | cut -d' ' -f1).3.fd
assert_contains run-qemu-ovmf-trimmed "$T_OUT" \
	"i2kit: qemu: firmware: OVMF $OVMF_CODE trimmed (no TPM probe, no network stack, no shell): $ovmf_copy (made now)"
assert_eq ovmf-copy-same-size "$(stat -c %s "$OVMF_CODE")" "$(stat -c %s "$ovmf_copy" 2>/dev/null || echo none)"
# ... with its own variable store: a boot entry whose load options are the
# UKI's command line and the TCG words (provision/efivars.h), which
# systemd-stub passes to the kernel; the store is packed into the cache
# for the next runs once the firmware has started the loader
tcg_words="cryptomgr.notests initcall_blacklist=crypto_kdf108_init no_timer_check initcall_blacklist=tracer_init_tracefs initcall_blacklist=ftrace_check_for_weak_functions cgroup.memory=nokmem nolapic_timer noreplace-smp"
assert_contains run-qemu-boot-entry "$T_OUT" \
	"i2kit: qemu: firmware: boot entry Boot0080 for \\EFI\\BOOT\\BOOTX64.EFI with the TCG words: $W/s-renamed/ovmf-vars.fd (from $OVMF_VARS)"
assert_contains run-qemu-boot-entry-loaded "$T_OUT" 'BdsDxe: starting Boot0080 "i2kit" from HD(1,GPT,'
assert_contains run-qemu-tcg-words "$T_OUT" "Command line: console=ttyS0 $tcg_words"
warm=$(ls "$I2KIT_CACHE"/ovmf/*.3.*.vars 2>/dev/null | head -1)
assert_contains run-qemu-store-kept "$T_OUT" "i2kit: qemu: firmware: variable store kept for the next runs: ${warm:-none}"
# a store OVMF booted with holds its first-boot variables: the next run
# starts from it, and boots
assert_exit run-qemu-warm-store 0 "$I2KIT" run qemu -v --accel tcg --timeout 180 \
	--state "$W/s-warm" "$W/renamed.img"
assert_contains run-qemu-warm-from "$T_OUT" "with the TCG words: $W/s-warm/ovmf-vars.fd (from ${warm:-none})"
assert_contains run-qemu-warm-words "$T_OUT" "Command line: console=ttyS0 $tcg_words"
assert_contains run-qemu-warm-boots "$T_OUT" "i2kit-init: boot finished in"
assert_not_contains run-qemu-warm-not-kept-again "$T_OUT" "variable store kept"
# and with $I2KIT_OVMF_AS_IS, the file as it is, with the read-only store
# and the disk's own command line
assert_exit run-qemu-ovmf-as-is 0 env I2KIT_OVMF_AS_IS=1 "$I2KIT" run qemu -v --accel tcg \
	--timeout 180 --state "$W/s-as-is" "$W/renamed.img"
assert_contains run-qemu-ovmf-as-is-says "$T_OUT" \
	"i2kit: qemu: firmware: OVMF $OVMF_CODE as it is (\$I2KIT_OVMF_AS_IS)"
assert_contains run-qemu-ovmf-as-is-boots "$T_OUT" "i2kit-init: boot finished in"
assert_not_contains run-qemu-ovmf-as-is-no-words "$T_OUT" "nolapic_timer"
assert_eq run-qemu-ovmf-as-is-no-store "" "$(ls "$W/s-as-is/ovmf-vars.fd" 2>/dev/null || true)"
# --cmdline-append: a UEFI disk takes it in the same boot entry, after the
# image's line and the TCG words
assert_exit run-qemu-append 0 "$I2KIT" run qemu -v --accel tcg --timeout 180 \
	--cmdline-append "i2kit.test=uefi-append" --state "$W/s-append" "$W/renamed.img"
assert_contains run-qemu-append-entry "$T_OUT" \
	"i2kit: qemu: firmware: boot entry Boot0080 for \\EFI\\BOOT\\BOOTX64.EFI with the TCG words and --cmdline-append: $W/s-append/ovmf-vars.fd (from ${warm:-none})"
assert_contains run-qemu-append-line "$T_OUT" "Command line: console=ttyS0 $tcg_words i2kit.test=uefi-append"
assert_contains run-qemu-append-boots "$T_OUT" "i2kit-init: boot finished in"
# ... with OVMF as it is too (the entry is the only way to change the
# line): a store of its own, from Debian's template
assert_exit run-qemu-append-as-is 0 env I2KIT_OVMF_AS_IS=1 "$I2KIT" run qemu -v --accel tcg \
	--timeout 180 --cmdline-append "i2kit.test=as-is" --state "$W/s-append2" "$W/renamed.img"
assert_contains run-qemu-append-as-is-entry "$T_OUT" \
	"with the TCG words and --cmdline-append: $W/s-append2/ovmf-vars.fd (from $OVMF_VARS)"
assert_contains run-qemu-append-as-is-line "$T_OUT" "Command line: console=ttyS0 $tcg_words i2kit.test=as-is"
assert_not_contains run-qemu-append-as-is-not-kept "$T_OUT" "variable store kept"
# what a boot entry cannot carry, and what has no UKI to carry it, is refused
assert_exit run-qemu-append-ascii 2 "$I2KIT" run qemu --accel tcg --timeout 30 \
	--cmdline-append "x=$(printf '\t')y" --state "$W/s-append3" "$W/renamed.img"
assert_contains run-qemu-append-ascii-says "$T_OUT" \
	"--cmdline-append: a UEFI disk's boot entry takes printable ASCII only"
truncate -s 64M "$W/no-uki.img"
sgdisk -q -n1:2048:+32M -t1:ef00 "$W/no-uki.img" >/dev/null
assert_exit run-qemu-append-no-uki 2 "$I2KIT" run qemu --accel tcg --uefi --timeout 30 \
	--cmdline-append "quiet" --state "$W/s-append4" "$W/no-uki.img"
assert_contains run-qemu-append-no-uki-says "$T_OUT" \
	"--cmdline-append: the command line of $W/no-uki.img cannot be changed ("
assert_eq run-qemu-append-no-qemu "" "$(ls "$W/s-append4/pid" 2>/dev/null || true)"
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
guest=$(sed -n 's/.*boot finished in \([0-9.]*\)s.*/\1/p' <<<"$console" | head -1)
echo "# uefi boot: ${secs}s wall from QEMU start to power-off (guest: boot finished ${guest:-?}s after kernel start)" >&2
echo "# uefi boot: ${secs}s wall, init boot finished at ${guest:-?}s"
t_done
