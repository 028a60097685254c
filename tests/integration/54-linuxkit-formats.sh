#!/bin/bash
# 54-linuxkit-formats.sh — the formats LinuxKit has beyond the first set:
# vmdk (streamOptimized), gcp (disk.raw in a tar.gz), kernel+iso (the root
# on an ISO 9660 image), kernel+erofs (the root on EROFS), iso-efi-initrd; and the checks the format table
# makes before anything is fetched (file clashes, root modes).
#  - oracles: qemu-img check/compare (vmdk), tar + cmp with raw-bios (gcp),
#    xorriso (ISO, El Torito UEFI);
#  - byte-identical across two builds; one build of all of them shares the
#    BIOS disk (vmdk and gcp hold the same disk as raw-bios);
#  - boots under QEMU/TCG to the web service: kernel+iso, vmdk,
#    iso-efi-initrd (OVMF).
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)
"$I2KIT" cache import "$REPO/build/init/i2kit-init-$I2K_VERSION.tar" >/dev/null 2>&1
cat >"$W/web.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - i2kit/init:$I2K_VERSION
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    net: host
YML

ALL="--format vmdk --format gcp --format kernel+iso --format iso-efi-initrd --format raw-bios"
# shellcheck disable=SC2086
assert_exit build-all 0 "$I2KIT" build $ALL --dir "$W/a" --name web "$W/web.yml"
# shellcheck disable=SC2086
assert_exit rebuild-all 0 "$I2KIT" build $ALL --dir "$W/b" --name web "$W/web.yml"
for f in web.vmdk web.img.tar.gz web-kernel web-initrd.img web.iso web-cmdline web-efi-initrd.iso; do
	assert_file "written-$f" "$W/a/$f"
	assert_exit "identical-$f" 0 cmp "$W/a/$f" "$W/b/$f"
done

# vmdk: the oracle checks it and reads the same disk as raw-bios
assert_exit vmdk-check 0 qemu-img check -f vmdk "$W/a/web.vmdk"
assert_contains vmdk-subformat "$(qemu-img info -f vmdk "$W/a/web.vmdk")" "create type: streamOptimized"
assert_exit vmdk-compare 0 qemu-img compare -q -F vmdk -f raw "$W/a/web-bios.img" "$W/a/web.vmdk"
assert_eq vmdk-magic "KDMV" "$(head -c 4 "$W/a/web.vmdk")"

# gcp: one member, disk.raw, a whole number of GiB, the BIOS disk + zeros
assert_eq gcp-members "disk.raw" "$(tar -tzf "$W/a/web.img.tar.gz")"
mkdir -p "$W/gcp" && tar -xzf "$W/a/web.img.tar.gz" -C "$W/gcp"
size=$(stat -c %s "$W/gcp/disk.raw")
assert_eq gcp-gib-multiple 0 $((size % 1073741824))
bios=$(stat -c %s "$W/a/web-bios.img")
assert_exit gcp-disk-is-bios-disk 0 cmp -n "$bios" "$W/gcp/disk.raw" "$W/a/web-bios.img"
assert_eq gcp-rest-zero 0 "$(tail -c +$((bios + 1)) "$W/gcp/disk.raw" | tr -d '\0' | wc -c)"
rm -rf "$W/gcp"

# kernel+iso: the root on ISO 9660 with Rock Ridge, booted from the first disk
assert_contains kiso-rootfs "$(xorriso -indev "$W/a/web.iso" -find /containers/services/web 2>&1)" "config.json"
assert_contains kiso-cmdline "$(cat "$W/a/web-cmdline")" "i2kit.root=/dev/vda i2kit.rootfstype=iso9660"
# kernel+erofs: the root as EROFS (fsck.erofs from erofs-utils is the oracle)
assert_exit build-erofs 0 "$I2KIT" build --format kernel+erofs --dir "$W/e" --name web "$W/web.yml"
assert_exit rebuild-erofs 0 "$I2KIT" build --format kernel+erofs --dir "$W/e2" --name web "$W/web.yml"
assert_exit identical-erofs 0 cmp "$W/e/web-erofs.img" "$W/e2/web-erofs.img"
assert_exit fsck-erofs 0 fsck.erofs "$W/e/web-erofs.img"
assert_contains erofs-cmdline "$(cat "$W/e/web-cmdline")" "i2kit.rootfstype=erofs"
# iso-efi-initrd: an El Torito UEFI entry
assert_contains efi-initrd-eltorito "$(xorriso -indev "$W/a/web-efi-initrd.iso" -report_el_torito plain 2>&1)" "UEFI"

boot_web() { # NAME IMAGE → the page through --publish, Ctrl-C → 0
	local name=$1 img=$2 port log vm page="" rc=0
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	log=$W/boot-$name.log
	"$I2KIT" run qemu --mem 512 --publish "$port:80" --timeout 180 --state "$W/st-$name" "$img" >"$log" 2>&1 &
	vm=$!
	for _ in $(seq 1 150); do
		page=$(curl -fsS -m 2 "http://127.0.0.1:$port/" 2>/dev/null) && break
		page=""
		kill -0 "$vm" 2>/dev/null || break
		sleep 1
	done
	kill -INT "$vm" 2>/dev/null || true
	wait "$vm" || rc=$?
	assert_eq "boot-$name-page" "i2kit fixture web page" "$page"
	assert_eq "boot-$name-poweroff-0" 0 "$rc"
}
boot_web kernel+iso "$W/a/web"
assert_contains boot-kernel+iso-root "$(cat "$W/boot-kernel+iso.log")" "(iso9660, read-only) mounted"
boot_web kernel+erofs "$W/e/web"
assert_contains boot-kernel+erofs-root "$(cat "$W/boot-kernel+erofs.log")" "(erofs, read-only) mounted"
boot_web vmdk "$W/a/web.vmdk"
boot_web iso-efi-initrd "$W/a/web-efi-initrd.iso"
assert_contains boot-iso-efi-initrd-uefi "$(cat "$W/boot-iso-efi-initrd.log")" "EFI stub: Loaded"

# refused before anything is fetched or written
assert_exit clash-kernel-formats 2 "$I2KIT" build --format kernel+initrd --format kernel+squashfs --dir "$W/c1" "$W/web.yml"
assert_contains clash-kernel-formats-msg "$T_OUT" "kernel+initrd and kernel+squashfs both write NAME-kernel"
assert_exit clash-iso 2 "$I2KIT" build --format iso-bios --format kernel+iso --dir "$W/c2" "$W/web.yml"
assert_contains clash-iso-msg "$T_OUT" "both write NAME.iso"
assert_exit clash-vhd 2 "$I2KIT" build --format vhd --format dynamic-vhd --dir "$W/c3" "$W/web.yml"
assert_exit root-ext4-kernel-initrd 2 "$I2KIT" build --format kernel+initrd --root ext4 --dir "$W/c4" "$W/web.yml"
assert_contains root-ext4-kernel-initrd-msg "$T_OUT" "--root ext4 needs raw-efi, qcow2-efi or aws"
assert_eq refused-writes-nothing "" "$(ls -A "$W/c1" "$W/c2" "$W/c3" "$W/c4" 2>/dev/null)"
assert_exit run-gcp-refused 2 "$I2KIT" run qemu --timeout 10 "$W/a/web.img.tar.gz"
assert_contains run-gcp-refused-msg "$T_OUT" "written as gcp, which QEMU cannot boot"
t_done
