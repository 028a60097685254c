#!/bin/bash
# 53-disk-formats.sh — every disk format i2kit build writes:
#  - passes its oracle: qemu-img check/compare (qcow2, vpc), sgdisk -v (GPT),
#    fsck.fat -n (ESP), unsquashfs -lls / e2fsck -fn (root partitions),
#    xorriso (ISO + El Torito), an isohybrid MBR;
#  - is byte-identical across two builds (the second with --json, whose
#    sha256 of each file is what sha256sum says: holes and headers written
#    last are hashed right; the first build, without --json, hashes nothing);
#  - boots under QEMU/TCG (SeaBIOS for bios, OVMF for efi) with `i2kit run
#    qemu` to the web service answering through --publish, then powers off
#    on Ctrl-C with exit status 0;
#  - --size too small gives one clear error and no output file.
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
onboot:
  - name: hello
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "hello from the disk"]
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    net: host
YML

# format root-mode output-file
FORMATS="raw-bios:initramfs:web-bios.img
iso-bios:initramfs:web.iso
qcow2-bios:initramfs:web.qcow2
vhd:initramfs:web.vhd
dynamic-vhd:initramfs:web.vhd
raw-efi:initramfs:web-efi.img
raw-efi:squashfs:web-efi.img
raw-efi:ext4:web-efi.img
qcow2-efi:squashfs:web-efi.qcow2
aws:squashfs:web.raw
iso-efi:initramfs:web-efi.iso
kernel+squashfs:squashfs:web"

part_extract() { # DISK N OUT: copy GPT partition N to OUT
	local first last
	first=$(sgdisk -i "$2" "$1" | awk '/^First sector/ {print $3}')
	last=$(sgdisk -i "$2" "$1" | awk '/^Last sector/ {print $3}')
	dd if="$1" of="$3" bs=512 skip="$first" count=$((last - first + 1)) status=none
}

boot_web() { # NAME IMAGE → PASS/FAIL: page through --publish, Ctrl-C → 0
	local name=$1 img=$2 port log page
	port=$(free_port)
	log=$W/boot-$name.log
	bg_start "$log" "$I2KIT" run qemu --mem 512 --publish "$port:80" --timeout 180 \
		--state "$W/st-$name" "$img"
	page=$(fetch_published "http://127.0.0.1:$port/" 170 "$BG_PID") || page=""
	kill -INT "$BG_PID" 2>/dev/null || true
	bg_wait "$BG_PID"
	assert_eq "boot-$name-page" "i2kit fixture web page" "$page"
	assert_contains "boot-$name-onboot" "$(cat "$log")" "hello from the disk"
	assert_eq "boot-$name-poweroff-0" 0 "$BG_RC"
}

while IFS=: read -r fmt root file; do
	name=$fmt-$root
	d1=$W/$name-1 d2=$W/$name-2
	assert_exit "build-$name" 0 "$I2KIT" build --format "$fmt" --root "$root" --dir "$d1" --name web "$W/web.yml"
	assert_exit "rebuild-$name" 0 "$I2KIT" build --json --format "$fmt" --root "$root" --dir "$d2" --name web "$W/web.yml"
	f1=$d1/$file f2=$d2/$file
	[ "$fmt" = kernel+squashfs ] && f1=$d1/web-squashfs.img f2=$d2/web-squashfs.img
	assert_eq "reproducible-$name" "$(sha256sum <"$f1")" "$(sha256sum <"$f2" 2>/dev/null)"
	assert_eq "json-digests-$name" ok "$(printf '%s' "$T_OUT" | python3 -c '
import hashlib, json, sys
files = json.load(sys.stdin)["files"]
assert len(files) >= 2, files
for f in files:
    h = hashlib.sha256(open(f["path"], "rb").read()).hexdigest()
    assert f["sha256"] == "sha256:" + h, (f["path"], f["sha256"], h)
print("ok")' 2>&1)"

	# container oracles: the raw disk of the same build for comparison
	case $fmt in
	qcow2-*)
		assert_exit "qemu-img-check-$name" 0 qemu-img check -q -f qcow2 "$f1"
		raw=$W/$name-raw
		base=${fmt/qcow2/raw}
		assert_exit "raw-for-$name" 0 "$I2KIT" build --format "$base" --root "$root" --dir "$raw" --name web "$W/web.yml"
		rawf=$(ls "$raw"/web*.img)
		assert_exit "qemu-img-compare-$name" 0 qemu-img compare -q -f raw -F qcow2 "$rawf" "$f1"
		;;
	vhd | dynamic-vhd)
		raw=$W/$name-raw
		assert_exit "raw-for-$name" 0 "$I2KIT" build --format raw-bios --dir "$raw" --name web "$W/web.yml"
		info=$(qemu-img info -f vpc "$f1")
		assert_contains "vhd-info-$name" "$info" "file format: vpc"
		# the VHD's virtual disk starts with the raw image and is zero after it
		assert_exit "qemu-img-compare-$name" 0 qemu-img compare -q -f raw -F vpc "$raw/web-bios.img" "$f1"
		;;
	esac
	# disk layout oracles
	case $fmt in
	raw-efi | aws)
		assert_contains "sgdisk-$name" "$(sgdisk -v "$f1" 2>&1)" "No problems found"
		part_extract "$f1" 1 "$W/$name-esp"
		assert_exit "fsck-fat-$name" 0 fsck.fat -n "$W/$name-esp"
		assert_contains "esp-uki-$name" "$(mdir -i "$W/$name-esp" ::/EFI/BOOT 2>&1)" "BOOTX64  EFI"
		if [ "$root" = squashfs ]; then
			part_extract "$f1" 2 "$W/$name-root"
			assert_contains "unsquashfs-$name" "$(unsquashfs -lls "$W/$name-root" 2>&1)" "squashfs-root/containers/services/web/config.json"
		elif [ "$root" = ext4 ]; then
			part_extract "$f1" 2 "$W/$name-root"
			assert_exit "e2fsck-$name" 0 e2fsck -fn "$W/$name-root"
			assert_contains "ext4-content-$name" "$(debugfs -R 'ls -l /containers/services/web' "$W/$name-root" 2>&1)" "config.json"
		fi
		;;
	*-bios | vhd | dynamic-vhd)
		[ "$fmt" = iso-bios ] && {
			assert_contains "el-torito-$name" "$(xorriso -indev "$f1" -report_el_torito plain 2>&1)" "BIOS"
			assert_contains "iso-files-$name" "$(xorriso -indev "$f1" -find / 2>&1)" "/boot/initrd.img"
		}
		;;
	iso-efi)
		assert_contains "el-torito-$name" "$(xorriso -indev "$f1" -report_el_torito plain 2>&1)" "UEFI"
		;;
	kernel+squashfs)
		assert_contains "unsquashfs-$name" "$(unsquashfs -lls "$f1" 2>&1)" "squashfs-root/init"
		assert_contains "cmdline-$name" "$(cat "$d1/web-cmdline")" "i2kit.root=/dev/vda"
		;;
	esac
	# boot it
	if [ "$fmt" = kernel+squashfs ]; then
		boot_web "$name" "$d1/web"
	else
		boot_web "$name" "$f1"
	fi
done <<<"$FORMATS"

# --size too small: one clear error, nothing written
for fmt in raw-efi qcow2-bios; do
	assert_exit "size-too-small-$fmt" 1 "$I2KIT" build --format "$fmt" --size 4M --dir "$W/small-$fmt" --name web "$W/web.yml"
	assert_contains "size-too-small-msg-$fmt" "$T_OUT" "--size 4194304 is too small"
	assert_eq "size-too-small-no-output-$fmt" "" "$(ls -A "$W/small-$fmt" 2>/dev/null)"
done
assert_exit size-bad-unit 2 "$I2KIT" build --format raw-efi --size 3X "$W/web.yml"
# --size larger: the ext4 root fills the disk
assert_exit size-ext4-fill 0 "$I2KIT" build --format raw-efi --root ext4 --size 256M --dir "$W/big" --name web "$W/web.yml"
assert_eq size-ext4-disk-bytes 268435456 "$(stat -c %s "$W/big/web-efi.img")"
# The disk file a raw format takes as its output starts going to disk while
# it is filled (formats/artifacts.c: sync_file_range every 8 MiB written);
# a disk that only a qcow2 is made from is a temp file, never written out.
# disk_writeouts FORMAT DIR → how many write-outs were started on the disk
# file (the O_TMPFILE opened in DIR itself, as long as it is open; output
# files are opened in "DIR/")
disk_writeouts() {
	strace -f -qq -e trace=openat,close,sync_file_range -o "$W/wb-$1.trace" \
		"$I2KIT" build --format "$1" --root ext4 --dir "$2" --name web "$W/web.yml" >/dev/null 2>&1 ||
		{ echo "build failed"; return; }
	awk -v open="openat(AT_FDCWD, \"$2\", " '
		fd == "" && index($0, open) && /O_TMPFILE/ { fd = $NF; n = 0; next }
		fd != "" && index($0, "close(" fd ")") { exit }
		fd != "" && index($0, "sync_file_range(" fd ", ") { n++ }
		END { print fd == "" ? "no disk file" : n }' "$W/wb-$1.trace"
}
n=$(disk_writeouts raw-efi "$W/wb-raw")
assert_eq disk-written-early-raw yes "$([ "$n" -ge 2 ] 2>/dev/null && echo yes || echo "no ($n)")"
assert_eq disk-not-written-qcow2 0 "$(disk_writeouts qcow2-efi "$W/wb-qcow2")"
assert_exit root-mode-on-bios-usage 2 "$I2KIT" build --format raw-bios --root squashfs --dir "$W/x" "$W/web.yml"
t_done
