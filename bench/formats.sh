#!/usr/bin/env bash
# bench/formats.sh — disk formats: i2kit build vs the standard-tools pipeline
# on the same root, as ratios (< 1.00: i2kit is faster). Called by
# bench/run.sh (expects B, REPO, REG_PLAIN, RUNS and the helpers timeit/ratio
# from it); the root is the `tar` output of the same config, extracted once.
#
#   kernel+squashfs  i2kit  vs  mksquashfs (gzip) of the extracted root
#   raw-efi --root ext4  i2kit  vs  objcopy UKI + mkfs.vfat/mcopy ESP +
#                    mkfs.ext4 -d root + sgdisk + dd into the disk
#   qcow2-efi --root ext4  the same + qemu-img convert -O qcow2
#   iso-bios         i2kit  vs  find|cpio|gzip of the root + xorriso -as mkisofs
#                    with isolinux + isohybrid MBR
#   raw-efi + qcow2-efi in one build  vs  raw-efi alone (modules: all): the
#                    second format reuses the initrd, UKI, ESP and disk, so
#                    the ratio is what one more container costs (target ≤ 1.15)
set -euo pipefail
F=$B/formats
rm -rf "$F" && mkdir -p "$F"
V=$(cat "$REPO/VERSION")
cat >"$F/f.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
  modules: all
init:
  - i2kit/init:$V
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
YML
I2K() { "$REPO/i2kit" build --offline --cache "$B/cache" --name f "$F/f.yml" "$@"; }
I2K --format tar --format kernel+initrd --dir "$F/in" >/dev/null 2>&1
mkdir -p "$F/root" && tar -xf "$F/in/f.tar" -C "$F/root"
rm -rf "$F/root/boot"
KERNEL=$F/in/f-kernel INITRD=$F/in/f-initrd.img CMDLINE=$(cat "$F/in/f-cmdline")
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub

std_squashfs() { rm -f "$F/s.img"; mksquashfs "$F/root" "$F/s.img" -comp gzip -noappend -quiet -processors "$(nproc)"; }
std_uki() {
	printf '%s' "$CMDLINE" >"$F/cmdline.txt"
	objcopy --add-section .cmdline="$F/cmdline.txt" --change-section-vma .cmdline=0x30000 \
		--add-section .initrd="$INITRD" --change-section-vma .initrd=0x3000000 \
		--add-section .linux="$KERNEL" --change-section-vma .linux=0x2000000 "$STUB" "$F/uki.efi"
}
std_efi_disk() {
	std_uki
	rm -f "$F/esp.img" "$F/root.img" "$F/disk.img"
	mkfs.vfat -C -F 32 "$F/esp.img" $((64 * 1024)) >/dev/null
	mmd -i "$F/esp.img" ::/EFI ::/EFI/BOOT
	mcopy -i "$F/esp.img" "$F/uki.efi" ::/EFI/BOOT/BOOTX64.EFI
	mkfs.ext4 -q -F -d "$F/root" "$F/root.img" 256M
	truncate -s $((1 + 64 + 256 + 1))M "$F/disk.img"
	sgdisk -q -n 1:1M:+64M -t 1:ef00 -n 2:0:+256M -t 2:8304 "$F/disk.img"
	dd if="$F/esp.img" of="$F/disk.img" bs=1M seek=1 conv=notrunc,sparse status=none
	dd if="$F/root.img" of="$F/disk.img" bs=1M seek=65 conv=notrunc,sparse status=none
}
std_qcow2_efi() { std_efi_disk && qemu-img convert -O qcow2 "$F/disk.img" "$F/disk.qcow2"; }
std_iso() {
	rm -rf "$F/iso" "$F/x.iso" && mkdir -p "$F/iso/isolinux" "$F/iso/boot"
	cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$F/iso/isolinux/"
	cp "$KERNEL" "$F/iso/boot/kernel"
	# the initrd from the root, as i2kit builds it: cpio | gzip
	(cd "$F/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -6) >"$F/iso/boot/initrd.img"
	printf 'DEFAULT linux\nLABEL linux\n  LINUX /boot/kernel\n  INITRD /boot/initrd.img\n  APPEND %s\n' "$CMDLINE" >"$F/iso/isolinux/isolinux.cfg"
	xorriso -as mkisofs -quiet -o "$F/x.iso" -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
		-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
		-boot-info-table -R "$F/iso"
}
i_squashfs() { I2K --format kernel+squashfs --dir "$F/o1"; }
i_efi() { I2K --format raw-efi --root ext4 --dir "$F/o2"; }
i_qcow2() { I2K --format qcow2-efi --root ext4 --dir "$F/o3"; }
i_iso() { I2K --format iso-bios --dir "$F/o4"; }
i_raw_efi() { I2K --format raw-efi --dir "$F/o5"; }
i_two_efi() { I2K --format raw-efi --format qcow2-efi --dir "$F/o6"; }

for pair in "kernel+squashfs:i_squashfs:std_squashfs" "raw-efi (ext4 root):i_efi:std_efi_disk" \
	"qcow2-efi (ext4 root):i_qcow2:std_qcow2_efi" "iso-bios:i_iso:std_iso"; do
	IFS=: read -r label ifn sfn <<<"$pair"
	ti=$(timeit "$ifn")
	ts=$(timeit "$sfn")
	printf '%-44s %8s   (i2kit %.2fs, standard tools %.2fs)\n' "format $label: i2kit / tools" "$(ratio "$ti" "$ts")" "$ti" "$ts"
done
t_one=$(timeit i_raw_efi)
t_two=$(timeit i_two_efi)
printf '%-44s %8s   (raw-efi %.2fs, raw-efi + qcow2-efi %.2fs; target <= 1.15)\n' \
	"formats: raw-efi+qcow2-efi / raw-efi alone" "$(ratio "$t_two" "$t_one")" "$t_one" "$t_two"
