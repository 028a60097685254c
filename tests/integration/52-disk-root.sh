#!/bin/bash
# 52-disk-root.sh — the init as a first stage (initrd/init/stage1.c): the
# root is on a disk, the initrd only holds /init and a few modules.
#   * squashfs: `i2kit build --format tar` → mksquashfs (a stand-in until
#     formats/ writes squashfs itself) in partition 2 of a GPT disk made by
#     sgdisk with a known unique GUID; booted with i2kit.root=PARTUUID=...
#     i2kit.rootfstype=auto: stage 1 switches, the full init boots on as
#     usual (onboot runs, "boot finished"), / is read-only
#   * the same disk by device path (i2kit.root=/dev/vda2, rootfstype=squashfs)
#   * ext4: mkfs.ext4 -d (stand-in) in partition 2, i2kit.root=PARTLABEL=root:
#     a service writes a file to / that is on the disk afterwards (debugfs)
#   * the full initrd (whole root) with i2kit.root: freed, then switched
#   * wrong PARTUUID with the full initrd: the "not found" line naming the
#     disks seen, then the boot goes on from the initramfs
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)
GUID=4C1D9F2E-7B3A-4E55-9A0B-1C2D3E4F5A6B
BADGUID=4C1D9F2E-7B3A-4E55-9A0B-000000000000

for tool in qemu-system-x86_64 cpio gzip mksquashfs sgdisk mkfs.ext4 debugfs musl-gcc; do
	command -v "$tool" >/dev/null || { t_skip_is_fail "tool-$tool" "$tool not installed"; t_done; exit 1; }
done
if ! make -s -C "$REPO" init init-image >"$W/make.log" 2>&1 || [ ! -x "$REPO/build/init/init" ]; then
	t_fail build-init "$(tail -c 600 "$W/make.log")"
	t_done
	exit 1
fi
"$I2KIT" cache import "$REPO/build/init/i2kit-init-$I2K_VERSION.tar" >/dev/null 2>&1

# ---- the image: one onboot probe, one service writing to / ----------------
cat >"$W/disk.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - i2kit/init:$I2K_VERSION
onboot:
  - name: probe
    image: $REG_PLAIN/fixtures/busybox:latest
    binds:
      - /:/host
    command: ["/bin/sh", "-c", "echo onboot on the disk root; if touch /host/probe 2>/dev/null; then echo root is writable; else echo root is read-only; fi"]
services:
  - name: writer
    image: $REG_PLAIN/fixtures/busybox:latest
    binds:
      - /:/host
      - /run/i2kit:/run/i2kit
    command: ["/bin/sh", "-c", "if echo written by the service >/host/written-by-service; then sync; echo service wrote to the root; else echo service could not write to the root; fi; touch /run/i2kit/poweroff; sleep 600"]
YML
if ! "$I2KIT" build --format tar --format kernel+initrd --dir "$W/out" --name disk "$W/disk.yml" >"$W/build.log" 2>&1; then
	t_fail build "$(tail -c 600 "$W/build.log")"
	t_done
	exit 1
fi
t_pass build
mkdir -p "$W/root"
tar -xpf "$W/out/disk.tar" --numeric-owner -C "$W/root"
assert_file root-has-init "$W/root/init"
# a read-only root cannot get mount points later: the image build makes them
missing=
for d in dev proc sys run tmp var; do
	[ -d "$W/root/$d" ] || missing="$missing /$d"
done
assert_eq root-has-mount-points "" "$missing"
KVER=$(ls "$W/root/lib/modules" | head -1)
assert_ne root-has-modules "" "$KVER"

# ---- the stage-1 initrd: /init + the disk modules' closure -----------------
S1=$W/stage1
mkdir -p "$S1/dev" "$S1/lib/modules/$KVER"
cp "$REPO/build/init/init" "$S1/init"
mknod "$S1/dev/console" c 5 1
"$T_PY" - "$W/root/lib/modules/$KVER" "$S1/lib/modules/$KVER" <<'PY'
import os, re, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
want = ["virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "squashfs", "isofs", "overlay", "loop"]
def norm(p):
    b = os.path.basename(p)
    return re.sub(r"\.ko(\..*)?$", "", b).replace("-", "_")
dep = {}
lines = {}
for line in open(os.path.join(src, "modules.dep")):
    if ":" not in line:
        continue
    path, deps = line.rstrip("\n").split(":", 1)
    dep[norm(path)] = (path, deps.split())
    lines[norm(path)] = line
keep, todo = set(), [w for w in want if w in dep]
while todo:
    n = todo.pop()
    if n in keep:
        continue
    keep.add(n)
    todo += [norm(d) for d in dep[n][1]]
with open(os.path.join(dst, "modules.dep"), "w") as f:
    for n in sorted(keep):
        path = dep[n][0]
        os.makedirs(os.path.join(dst, os.path.dirname(path)), exist_ok=True)
        shutil.copy2(os.path.join(src, path), os.path.join(dst, path))
        f.write(lines[n])
with open(os.path.join(dst, "modules.alias"), "w") as f:
    for line in open(os.path.join(src, "modules.alias")):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "alias" and norm(parts[2]) in keep:
            f.write(line)
if os.path.exists(os.path.join(src, "modules.builtin")):
    shutil.copy2(os.path.join(src, "modules.builtin"), os.path.join(dst, "modules.builtin"))
print(" ".join(sorted(keep)))
PY
(cd "$S1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip) >"$W/stage1.img"
echo "# stage-1 initrd: $(stat -c %s "$W/stage1.img") bytes" >&2

# mkdisk IMG PARTIMG: GPT, partition 1 a small ESP, partition 2 = PARTIMG
# (unique GUID $GUID, name "root")
mkdisk() {
	local img=$1 part=$2 size first
	size=$(($(stat -c %s "$part") / 1048576 + 4))
	rm -f "$img"
	truncate -s "${size}M" "$img"
	sgdisk -o -n 1:2048:+1M -t 1:ef00 -c 1:esp -n 2:0:0 -t 2:8300 -c 2:root -u "2:$GUID" "$img" >/dev/null
	first=$(sgdisk -i 2 "$img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
	dd if="$part" of="$img" bs=512 seek="$first" conv=notrunc status=none
	echo "$first"
}

# boot NAME INITRD DISK APPEND: runs QEMU to its end (the image powers off);
# its exit status in rc
boot() {
	local name=$1 initrd=$2 disk=$3 append=$4
	qemu_run "$W/$name.console" 240 -kernel "$W/out/disk-kernel" -initrd "$initrd" \
		-append "console=ttyS0 i2kit.exitcode=isa-debug-exit $append" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -nic none \
		-drive "file=$disk,format=raw,if=virtio"
	rc=$QEMU_RC
}

# ---- squashfs root by PARTUUID ---------------------------------------------
mksquashfs "$W/root" "$W/root.sqfs" -noappend -quiet -no-progress >/dev/null
mkdisk "$W/sqfs-disk.img" "$W/root.sqfs" >/dev/null
lower=$(echo "$GUID" | tr 'A-F' 'a-f')
boot sqfs "$W/stage1.img" "$W/sqfs-disk.img" "i2kit.root=PARTUUID=$lower i2kit.rootfstype=auto"
con=$(cat "$W/sqfs.console")
assert_ne sqfs-no-timeout 124 "$rc"
assert_contains sqfs-stage1 "$con" "i2kit-init: stage 1: root PARTUUID=$lower (auto), waiting up to 15 s"
assert_contains sqfs-switch "$con" "i2kit-init: root PARTUUID=$lower: /dev/vda2 (squashfs, read-only) mounted, switching"
assert_contains sqfs-full-init "$con" "i2kit-init: i2kit-init $I2K_VERSION starting"
assert_contains sqfs-onboot "$con" "probe: onboot on the disk root"
assert_contains sqfs-root-readonly "$con" "probe: root is read-only"
assert_contains sqfs-service-cannot-write "$con" "writer: service could not write to the root"
assert_contains sqfs-boot-finished "$con" "boot finished"
assert_not_contains sqfs-no-fallback "$con" "booting from the initramfs"
assert_not_contains sqfs-no-warnings "$con" "i2kit-init: warning"
assert_not_contains sqfs-no-panic "$con" "Kernel panic"

# ---- the same disk by device path ------------------------------------------
boot path "$W/stage1.img" "$W/sqfs-disk.img" "i2kit.root=/dev/vda2 i2kit.rootfstype=squashfs i2kit.rootwait=10"
con=$(cat "$W/path.console")
assert_ne path-no-timeout 124 "$rc"
assert_contains path-switch "$con" "i2kit-init: root /dev/vda2: /dev/vda2 (squashfs, read-only) mounted, switching"
assert_contains path-boot-finished "$con" "boot finished"

# ---- ext4 root by PARTLABEL: writable ---------------------------------------
rm -f "$W/probe" "$W/root/probe"
mkfs.ext4 -q -F -L root -d "$W/root" "$W/root.ext4" "$(($(du -sm "$W/root" | cut -f1) + 64))M" >/dev/null 2>&1
first=$(mkdisk "$W/ext4-disk.img" "$W/root.ext4")
boot ext4 "$W/stage1.img" "$W/ext4-disk.img" "i2kit.root=PARTLABEL=root"
con=$(cat "$W/ext4.console")
assert_ne ext4-no-timeout 124 "$rc"
assert_contains ext4-switch "$con" "i2kit-init: root PARTLABEL=root: /dev/vda2 (ext4, read-write) mounted, switching"
assert_contains ext4-onboot "$con" "probe: root is writable"
assert_contains ext4-service-wrote "$con" "writer: service wrote to the root"
assert_contains ext4-boot-finished "$con" "boot finished"
dd if="$W/ext4-disk.img" of="$W/after.ext4" bs=512 skip="$first" status=none
written=$(debugfs -R "cat /written-by-service" "$W/after.ext4" 2>/dev/null || true)
assert_eq ext4-file-on-disk "written by the service" "$written"
if e2fsck -fn "$W/after.ext4" >"$W/fsck.log" 2>&1; then
	t_pass ext4-fsck-clean
else
	t_fail ext4-fsck-clean "$(tail -c 300 "$W/fsck.log")"
fi

# ---- the full initrd with a disk root: its contents are freed, then switch --
boot full "$W/out/disk-initrd.img" "$W/sqfs-disk.img" "i2kit.root=PARTUUID=$GUID"
con=$(cat "$W/full.console")
assert_ne full-no-timeout 124 "$rc"
assert_contains full-switch "$con" "i2kit-init: root PARTUUID=$GUID: /dev/vda2 (squashfs, read-only) mounted, switching"
assert_contains full-root-readonly "$con" "probe: root is read-only"
assert_not_contains full-initramfs-freed "$con" "could not be removed"

# ---- wrong PARTUUID with the full initrd: logged, boot from the initramfs ---
boot fallback "$W/out/disk-initrd.img" "$W/sqfs-disk.img" "i2kit.root=PARTUUID=$BADGUID i2kit.rootwait=2"
con=$(cat "$W/fallback.console")
assert_ne fallback-no-timeout 124 "$rc"
assert_contains fallback-not-found "$con" "i2kit-init: warning: root PARTUUID=$BADGUID not found after 2 s: disks seen: vda (GPT: 2 partitions)"
assert_contains fallback-continues "$con" "i2kit-init: warning: stage 1 failed: booting from the initramfs"
assert_contains fallback-onboot "$con" "probe: onboot on the disk root"
assert_contains fallback-boot-finished "$con" "boot finished"
assert_not_contains fallback-no-switch "$con" "mounted, switching"

t_done
