#!/bin/bash
# 55-erofs-boot.sh — the fixture kernel mounts EROFS images written by
# formats/fs/erofs.c. A helper compiled here against build/libi2k.a
# (mkerofs: tar → i2k_layer_apply → fstree → i2k_erofs_write) turns tars
# into images; nothing here touches the format table.
#  1. A tree made with python's tarfile (files of 0, 1 block, block + small
#     tail (inline), block + 4090-byte tail (not inline), sparse, 3 MiB;
#     a 10,000-entry directory; 255-byte names; a 3000-byte symlink target;
#     hard links; char and block devices (a minor > 255); a FIFO; uid/gid >
#     65535; suid; mtimes other than the build time (extended inodes), one
#     after 2038; user., trusted. and security.capability xattrs) boots under
#     QEMU/TCG with a hand-made initrd (busybox, the virtio, virtio_blk,
#     libcrc32c and erofs modules of the fixture kernel, a static xattr
#     lister) whose init mounts /dev/vda read-only and prints what it sees;
#     the console must match the tree. fsck.erofs agrees; two builds are
#     byte-identical.
#  2. examples/web.yml's root (`i2kit build --format tar`) as an EROFS
#     image, booted with the kernel and the first-stage initrd of the same
#     config's kernel+squashfs build (stage 1 detects EROFS itself:
#     i2kit.rootfstype=auto, loads erofs.ko, switches root) to the web
#     service answering on a forwarded port.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
W=$(t_tmpdir)
export SOURCE_DATE_EPOCH=1700000000

VMLINUZ=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | tail -1 || true)
KVER=${VMLINUZ#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER/kernel
missing=
[ -n "$VMLINUZ" ] && [ -d "$MODDIR" ] || missing="fixture kernel (linux-image-cloud-amd64)"
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || missing="$missing busybox-static"
for tool in qemu-system-x86_64:qemu-system-x86 musl-gcc:musl-tools cpio:cpio fsck.erofs:erofs-utils; do
	command -v "${tool%%:*}" >/dev/null || missing="$missing ${tool#*:}"
done
if [ -n "$missing" ]; then
	t_skip_is_fail erofs-boot-prereqs "missing: $missing"
	t_done
	exit 1
fi

# ---- the writer as a program ---------------------------------------------------
if ! make -s -C "$REPO" build/libi2k.a >"$W/make.log" 2>&1; then
	t_fail erofs-libi2k "make build/libi2k.a failed: $(tail -3 "$W/make.log")"
	t_done
	exit 1
fi
cat >"$W/mkerofs.c" <<'C'
/* mkerofs TAR OUT [--no-boot]: a plain tar as one layer into an fstree
 * (without boot/ when asked), then the EROFS writer. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"
#include "formats/fs/erofs.h"
#include "formats/sink.h"
static int die(struct i2k_error *e)
{
	fprintf(stderr, "mkerofs: %s\n", e ? e->msg : "?");
	return 1;
}
int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	struct i2k_error *e = NULL;
	struct i2k_spool *sp = NULL;
	if (i2k_spool_new(NULL, &sp, &e) < 0)
		return die(e);
	struct i2k_fstree *t = i2k_fstree_new(sp);
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || i2k_layer_apply(fd, "application/vnd.oci.image.layer.v1.tar", t, NULL, &e) < 0)
		return die(e);
	close(fd);
	if (argc > 3 && strcmp(argv[3], "--no-boot") == 0 && i2k_fstree_remove(t, "boot", true, &e) < 0)
		return die(e);
	struct i2k_erofs_opts o = {.mtime = i2k_source_date_epoch(), .label = "i2kit-test"};
	uint64_t est = 0, used = 0;
	if (i2k_erofs_size(t, &o, &est, &e) < 0)
		return die(e);
	int out = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct i2k_sink *s = NULL;
	if (out < 0 || i2k_sink_file_new(out, 0, est, "image", &s, &e) < 0)
		return die(e);
	if (i2k_erofs_write(t, &o, s, &used, &e) < 0 || i2k_sink_finish(s, &e) < 0)
		return die(e);
	printf("%llu bytes\n", (unsigned long long)used);
	i2k_sink_free(s);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
	return used == est ? 0 : 1;
}
C
# the libraries the Makefile links i2kit with (print-ldlibs)
# shellcheck disable=SC2046
if ! cc -O2 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I"$REPO" -o "$W/mkerofs" "$W/mkerofs.c" \
	"$REPO/build/libi2k.a" $(make -s --no-print-directory -C "$REPO" print-ldlibs) 2>"$W/cc.log"; then
	t_fail erofs-mkerofs "cannot build the helper: $(head -5 "$W/cc.log")"
	t_done
	exit 1
fi

# ---- 1. the tree, as a tar ---------------------------------------------------------
python3 - "$W/tree.tar" "$W/expect" <<'PY'
import hashlib, io, random, sys, tarfile
out, exp = sys.argv[1], sys.argv[2]
rnd = random.Random(55)
files = {}
tf = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
def add(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, xattrs=None,
        mtime=1700000000, **kw):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, gid, mtime
    for k, v in kw.items():
        setattr(ti, k, v)
    if xattrs:
        ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
    if kind == tarfile.REGTYPE:
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        files[name] = hashlib.sha256(data).hexdigest()
    else:
        tf.addfile(ti)
def rand(n):
    return bytes(rnd.getrandbits(8) for _ in range(n))
add("etc", tarfile.DIRTYPE, mode=0o755, xattrs={"trusted.overlay.opaque": "y"})
add("etc/hello.txt", data=b"hello from i2kit erofs\n")
add("etc/owned", data=b"owned\n", mode=0o640, uid=100000, gid=200000, mtime=86400 * 365)
add("etc/future", data=b"2100\n", mtime=4102444800)
add("etc/empty", data=b"")
add("bin", tarfile.DIRTYPE, mode=0o755)
add("bin/suid", data=b"#!/bin/sh\n", mode=0o4755)
add("bin/ping", data=b"\x7fELF-not-really", mode=0o755,
    xattrs={"security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00" + "\x00" * 12,
            "user.i2kit": "erofs"})
add("bin/ping-hl", tarfile.LNKTYPE, linkname="bin/ping")
add("bin/sh", tarfile.SYMTYPE, linkname="busybox", mode=0o777)
add("data", tarfile.DIRTYPE, mode=0o755)
add("data/one-block.bin", data=rand(4096))
add("data/tail-inline.bin", data=rand(3 * 4096 + 100))
add("data/tail-plain.bin", data=rand(4096 + 4090))
add("data/big.bin", data=rand(3 << 20))
add("data/sparse.bin", data=rand(4096) + bytes(5 * 4096) + rand(77))
add("data/text.txt", data=b"".join(b"line %06d of an erofs test file\n" % i for i in range(40000)))
add("data/fifo", tarfile.FIFOTYPE, mode=0o600)
add("dev", tarfile.DIRTYPE, mode=0o755)
add("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
add("dev/nvme", tarfile.BLKTYPE, mode=0o660, devmajor=259, devminor=70000)
add("empty-dir", tarfile.DIRTYPE, mode=0o700)
add("long", tarfile.DIRTYPE, mode=0o755)
add("long/" + "n" * 255, data=b"long name\n")
add("long/target", tarfile.SYMTYPE, linkname="t" * 3000, mode=0o777)
add("big", tarfile.DIRTYPE, mode=0o755)
for i in range(10000):
    add("big/entry-%05d" % i, data=b"%d\n" % i if i % 1000 == 0 else b"")
tf.close()
with open(exp, "w") as f:
    for name in sorted(files):
        if not name.startswith("big/"):
            f.write("%s  /mnt/%s\n" % (files[name], name))
    for i in range(0, 10000, 1000):
        f.write("%s  /mnt/big/entry-%05d\n" % (files["big/entry-%05d" % i], i))
PY

if "$W/mkerofs" "$W/tree.tar" "$W/tree.erofs" >"$W/mk.log" 2>&1; then
	t_pass erofs-write
else
	t_fail erofs-write "$(cat "$W/mk.log")"
fi
"$W/mkerofs" "$W/tree.tar" "$W/tree2.erofs" >/dev/null 2>&1 || true
assert_eq erofs-reproducible "$(sha256sum <"$W/tree.erofs")" "$(sha256sum <"$W/tree2.erofs" 2>/dev/null)"
assert_exit erofs-fsck 0 fsck.erofs --extract="$W/x" "$W/tree.erofs"
n=$(ls "$W/x/big" 2>/dev/null | wc -l)
assert_eq erofs-fsck-big-dir 10000 "$n"
assert_contains erofs-dump-super "$(dump.erofs -s "$W/tree.erofs" 2>&1)" "Filesystem root nid:                          36"

# ---- the initrd ------------------------------------------------------------------------
R=$W/root
mkdir -p "$R/bin" "$R/lib/modules" "$R/mnt"
cp /bin/busybox "$R/bin/busybox"
MODS="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
lib/libcrc32c fs/erofs/erofs"
for m in $MODS; do
	cp "$MODDIR/$m.ko" "$R/lib/modules/"
done
cat >"$W/xattrs.c" <<'C'
/* xattrs PATH: "NAME=HEX" per extended attribute (no symlink following). */
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>
int main(int argc, char **argv)
{
	char names[4096];
	unsigned char v[4096];
	if (argc < 2)
		return 2;
	ssize_t n = llistxattr(argv[1], names, sizeof(names));
	if (n < 0) {
		perror("llistxattr");
		return 1;
	}
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		ssize_t l = lgetxattr(argv[1], p, v, sizeof(v));
		printf("xattr %s %s=", argv[1], p);
		for (ssize_t i = 0; i < l; i++)
			printf("%02x", v[i]);
		printf("\n");
	}
	return 0;
}
C
musl-gcc -static -Os -o "$R/bin/xattrs" "$W/xattrs.c"
cp "$W/expect" "$R/expect.sha256"
cat >"$R/init" <<'SH'
#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk libcrc32c erofs; do
	$B insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; $B sleep 0.2; done
if $B mount -t erofs -o ro /dev/vda /mnt; then
	echo "EROFS-MOUNTED"
	$B ls -ln /mnt /mnt/etc /mnt/bin /mnt/data /mnt/dev | $B sed 's/^/EROFS-LS /'
	$B sha256sum -c /expect.sha256 2>&1 | $B sed 's/^/EROFS-SUM /'
	echo "EROFS-BIGCOUNT $($B ls /mnt/big | $B wc -l)"
	echo "EROFS-COUNT $($B find /mnt | $B wc -l)"
	echo "EROFS-LOOKUP $($B cat /mnt/big/entry-09000) $($B stat -c '%s' /mnt/big/entry-09999) $($B stat -c '%s' /mnt/big/entry-00001)"
	echo "EROFS-LINKS $($B stat -c '%h' /mnt/bin/ping) $($B stat -c '%i' /mnt/bin/ping) $($B stat -c '%i' /mnt/bin/ping-hl)"
	echo "EROFS-READLINK $($B readlink /mnt/bin/sh) $($B readlink /mnt/long/target | $B wc -c)"
	echo "EROFS-LONGNAME $($B ls /mnt/long | $B awk '{ print length($0) }' | $B sort -n | $B tr '\n' ' ')"
	echo "EROFS-STAT $($B stat -c '%A %u %g %s %Y' /mnt/etc/owned) $($B stat -c '%A' /mnt/bin/suid) $($B stat -c '%A %t,%T' /mnt/dev/null) $($B stat -c '%A %t,%T' /mnt/dev/nvme) $($B stat -c '%A' /mnt/data/fifo) $($B stat -c '%A' /mnt/empty-dir)"
	echo "EROFS-TIMES $($B stat -c '%Y' /mnt/etc/future) $($B stat -c '%Y' /mnt/etc/hello.txt) $($B stat -c '%Y' /mnt/data)"
	/bin/xattrs /mnt/bin/ping | $B sed 's/^/EROFS-/'
	/bin/xattrs /mnt/etc | $B sed 's/^/EROFS-/'
	$B ls -a /mnt/empty-dir | $B tr '\n' ' ' | $B sed 's/^/EROFS-EMPTY /'
	echo
	$B dmesg | $B grep -i erofs | $B sed 's/^/EROFS-DMESG /'
	echo "EROFS-DONE"
else
	echo "EROFS-MOUNT-FAILED"
	$B dmesg | $B tail -20
fi
$B poweroff -f
SH
chmod 755 "$R/init"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc 2>/dev/null) | gzip -1 >"$W/initrd.img"

if [ -s "$W/tree.erofs" ]; then
	qemu_run "$W/console.txt" 300 -kernel "$VMLINUZ" -initrd "$W/initrd.img" \
		-append "console=ttyS0 quiet panic=-1" \
		-drive "file=$W/tree.erofs,format=raw,if=virtio,readonly=on"
	c=$(tr -d '\r' <"$W/console.txt")
	assert_eq boot-exit 0 "$QEMU_RC"
	assert_contains boot-mounted "$c" "EROFS-MOUNTED"
	assert_contains boot-done "$c" "EROFS-DONE"
	bad=$(echo "$c" | grep '^EROFS-SUM' | grep -v ': OK$' || true)
	oks=$(echo "$c" | grep -c '^EROFS-SUM .*: OK$' || true)
	assert_eq boot-contents "" "$bad"
	assert_eq boot-contents-count "$(wc -l <"$W/expect")" "$oks"
	assert_contains boot-bigdir "$c" "EROFS-BIGCOUNT 10000"
	# entries: 26 named above + 10000 in big/, plus /mnt itself
	assert_contains boot-count "$c" "EROFS-COUNT 10027"
	assert_contains boot-lookup "$c" "EROFS-LOOKUP 9000 0 0"
	ino=$(echo "$c" | sed -n 's/^EROFS-LINKS 2 \([0-9]*\) \([0-9]*\)$/\1=\2/p')
	if [ -n "$ino" ] && [ "${ino%=*}" = "${ino#*=}" ]; then t_pass boot-hardlink; else
		t_fail boot-hardlink "$(echo "$c" | grep '^EROFS-LINKS' || echo 'no EROFS-LINKS line')"
	fi
	assert_contains boot-symlinks "$c" "EROFS-READLINK busybox 3001"
	assert_contains boot-long-name "$c" "EROFS-LONGNAME 6 255 "
	assert_contains boot-stat "$c" "EROFS-STAT -rw-r----- 100000 200000 6 31536000 -rwsr-xr-x crw-rw-rw- 1,3 brw-rw---- 103,11170 prw------- drwx------"
	assert_contains boot-times "$c" "EROFS-TIMES 4102444800 1700000000 1700000000"
	assert_contains boot-capability "$c" \
		"EROFS-xattr /mnt/bin/ping security.capability=0100000200200000000000000000000000000000"
	assert_contains boot-user-xattr "$c" "EROFS-xattr /mnt/bin/ping user.i2kit=65726f6673"
	assert_contains boot-trusted-xattr "$c" "EROFS-xattr /mnt/etc trusted.overlay.opaque=79"
	assert_contains boot-empty-dir "$c" "EROFS-EMPTY . .. "
	assert_contains boot-ls "$c" "lrwxrwxrwx    1 0        0                7 Nov 14  2023 sh -> busybox"
	assert_not_contains boot-no-errors "$c" "corrupted"
	assert_not_contains boot-no-failed-insmod "$c" "failed"
fi

# ---- 2. examples/web.yml on an EROFS root, through the first stage --------------
fixtures_ready
fresh_cache
if ! make -s -C "$REPO" i2kit init init-image >"$W/make2.log" 2>&1; then
	t_fail web-make "$(tail -c 600 "$W/make2.log")"
	t_done
	exit 1
fi
"$I2KIT" cache import "$REPO/build/init/i2kit-init-$I2K_VERSION.tar" >/dev/null 2>&1
sed -e "s|image: fixtures/|image: $REG_PLAIN/fixtures/|" -e "s|i2kit/init:0.1.0|i2kit/init:$I2K_VERSION|" \
	"$REPO/examples/web.yml" >"$W/web.yml"
assert_exit web-build-tar 0 "$I2KIT" build --format tar --dir "$W/tar" --name web "$W/web.yml"
assert_exit web-build-kernel-squashfs 0 "$I2KIT" build --format kernel+squashfs --dir "$W/ks" --name web "$W/web.yml"
# the kernel and the first stage of kernel+squashfs, the root an EROFS
# image; the root type is left to stage 1's detection
mkdir -p "$W/er"
cmdline=$(sed 's/i2kit.rootfstype=squashfs/i2kit.rootfstype=auto/' "$W/ks/web-cmdline")
assert_contains web-cmdline "$cmdline" "i2kit.root=/dev/vda i2kit.rootfstype=auto"
assert_contains web-initrd-has-erofs "$(gzip -dc "$W/ks/web-initrd.img" 2>/dev/null | cpio -t 2>/dev/null ||
	zstd -dc "$W/ks/web-initrd.img" 2>/dev/null | cpio -t 2>/dev/null)" "fs/erofs/erofs.ko"
if "$W/mkerofs" "$W/tar/web.tar" "$W/er/web.erofs" --no-boot >"$W/mkweb.log" 2>&1; then
	t_pass web-erofs-write
else
	t_fail web-erofs-write "$(cat "$W/mkweb.log")"
fi
assert_exit web-erofs-fsck 0 fsck.erofs "$W/er/web.erofs"
assert_contains web-erofs-config "$(dump.erofs --path=/containers/services/web/config.json "$W/er/web.erofs" 2>&1)" "regular file"

port=$(free_port)
log=$W/boot-web.log
qemu_start "$log" 400 -kernel "$W/ks/web-kernel" -initrd "$W/ks/web-initrd.img" -append "$cmdline" \
	-drive "file=$W/er/web.erofs,format=raw,if=virtio,readonly=on" \
	-netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:80" -device virtio-net-pci,netdev=net0,romfile= \
	-device virtio-rng-pci
page=$(fetch_published "http://127.0.0.1:$port/" 360 "$QEMU_PID" || true)
wait_line "$log" "hello from onboot" 30 "$QEMU_PID" || true
kill "$QEMU_PID" 2>/dev/null || true
out=$(tr -d '\r' <"$log")
if [ "$page" = "i2kit fixture web page" ]; then t_pass web-page; else
	t_fail web-page "got '$page'; the guest said: $(echo "$out" | grep -a 'i2kit\|erofs\|EROFS\|VFS' | tail -25)"
fi
assert_contains web-stage1 "$out" "stage 1: root /dev/vda (auto)"
assert_contains web-onboot "$out" "hello from onboot"
assert_not_contains web-no-stage1-fallback "$out" "stage 1 failed"
t_done
