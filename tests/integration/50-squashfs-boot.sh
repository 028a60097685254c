#!/bin/bash
# 50-squashfs-boot.sh — the fixture kernel mounts squashfs images written by
# formats/fs/squashfs.c. A helper compiled here against build/libi2k.a
# (mksqfs: tar → i2k_layer_apply → fstree → i2k_squashfs_write) turns a tar
# made with python's tarfile (regular, empty, sparse and multi-block files,
# a 10,000-entry directory, symlinks, hard links, a device, a FIFO, uid/gid,
# suid, user. and security.capability xattrs) into gzip and zstd images.
# Each boots under QEMU/TCG with a hand-made initrd (busybox, the
# virtio/virtio_blk/squashfs modules of the fixture kernel, a static
# xattr lister) whose init mounts /dev/vda and prints what it sees; the
# console must match the tree. Also: unsquashfs agrees, two builds are
# byte-identical. No registry needed.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
W=$(t_tmpdir)

VMLINUZ=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | tail -1 || true)
KVER=${VMLINUZ#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER/kernel
missing=
[ -n "$VMLINUZ" ] && [ -d "$MODDIR" ] || missing="fixture kernel (linux-image-cloud-amd64)"
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || missing="$missing busybox-static"
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86"
command -v musl-gcc >/dev/null || missing="$missing musl-tools"
command -v cpio >/dev/null || missing="$missing cpio"
command -v unsquashfs >/dev/null || missing="$missing squashfs-tools"
if [ -n "$missing" ]; then
	t_skip_is_fail squashfs-boot-prereqs "missing: $missing"
	t_done
	exit 1
fi

# ---- the writer as a program ---------------------------------------------------
if ! make -s -C "$REPO" build/libi2k.a >"$W/make.log" 2>&1; then
	t_fail squashfs-libi2k "make build/libi2k.a failed: $(tail -3 "$W/make.log")"
	t_done
	exit 1
fi
cat >"$W/mksqfs.c" <<'C'
/* mksqfs TAR OUT [gzip|zstd [BLOCK_SIZE [THREADS]]]: a plain tar as one layer
 * into an fstree, then the squashfs writer. Prints the write time. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"
#include "formats/fs/squashfs.h"
#include "formats/sink.h"
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
static int die(struct i2k_error *e)
{
	fprintf(stderr, "mksqfs: %s\n", e ? e->msg : "?");
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
	double t0 = now();
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0 || i2k_layer_apply(fd, "application/vnd.oci.image.layer.v1.tar", t, NULL, &e) < 0)
		return die(e);
	close(fd);
	struct i2k_squashfs_opts o = {.mtime = i2k_source_date_epoch()};
	if (argc > 3 && strcmp(argv[3], "zstd") == 0)
		o.compression = I2K_COMPRESS_ZSTD;
	if (argc > 4)
		o.block_size = (uint32_t)strtoul(argv[4], NULL, 10);
	if (argc > 5)
		o.threads = (int)strtol(argv[5], NULL, 10);
	int out = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct i2k_sink *s = NULL;
	uint64_t used = 0;
	if (out < 0 || i2k_sink_file_new(out, 0, 1ull << 36, "image", &s, &e) < 0)
		return die(e);
	double t1 = now();
	if (i2k_squashfs_write(t, &o, s, &used, &e) < 0 || i2k_sink_finish(s, &e) < 0)
		return die(e);
	double t2 = now();
	if (ftruncate(out, (off_t)used) < 0)
		return 1;
	printf("%llu bytes, tree %.3f s, squashfs %.3f s\n", (unsigned long long)used, t1 - t0,
	       t2 - t1);
	i2k_sink_free(s);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
	return 0;
}
C
# the libraries the Makefile links i2kit with (print-ldlibs)
# shellcheck disable=SC2046
if ! cc -O2 -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I"$REPO" -o "$W/mksqfs" "$W/mksqfs.c" \
	"$REPO/build/libi2k.a" $(make -s --no-print-directory -C "$REPO" print-ldlibs) 2>"$W/cc.log"; then
	t_fail squashfs-mksqfs "cannot build the helper: $(head -5 "$W/cc.log")"
	t_done
	exit 1
fi

# ---- the tree, as a tar ------------------------------------------------------------
python3 - "$W/tree.tar" "$W/expect" <<'PY'
import hashlib, io, random, sys, tarfile
out, exp = sys.argv[1], sys.argv[2]
rnd = random.Random(50)
files = {}
tf = tarfile.open(out, "w", format=tarfile.PAX_FORMAT)
def add(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, uid=0, gid=0, xattrs=None, **kw):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.uid, ti.gid, ti.mtime = kind, mode, uid, gid, 1700000000
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
add("etc", tarfile.DIRTYPE, mode=0o755)
add("etc/hello.txt", data=b"hello from i2kit squashfs\n")
add("etc/owned", data=b"owned\n", mode=0o640, uid=1000, gid=2000)
add("etc/empty", data=b"")
add("bin", tarfile.DIRTYPE, mode=0o755)
add("bin/suid", data=b"#!/bin/sh\n", mode=0o4755)
add("bin/ping", data=b"\x7fELF-not-really", mode=0o755,
    xattrs={"security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00" + "\x00" * 12,
            "user.i2kit": "squash"})
add("bin/ping-hl", tarfile.LNKTYPE, linkname="bin/ping")
add("bin/sh", tarfile.SYMTYPE, linkname="busybox", mode=0o777)
add("data", tarfile.DIRTYPE, mode=0o755)
add("data/random.bin", data=bytes(rnd.getrandbits(8) for _ in range(3 * 131072 + 777)))
add("data/one-block.bin", data=bytes(rnd.getrandbits(8) for _ in range(131072)))
add("data/text.txt", data=b"".join(b"line %06d of a squashfs test file\n" % i for i in range(40000)))
add("data/zeros.bin", data=bytes(2 * 131072 + 5))
add("data/fifo", tarfile.FIFOTYPE, mode=0o600)
add("dev", tarfile.DIRTYPE, mode=0o755)
add("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3)
add("empty-dir", tarfile.DIRTYPE, mode=0o700)
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

for comp in gzip zstd; do
	if SOURCE_DATE_EPOCH=1700000000 "$W/mksqfs" "$W/tree.tar" "$W/$comp.sqfs" $comp \
		>"$W/$comp.log" 2>&1; then
		t_pass "squashfs-write-$comp"
	else
		t_fail "squashfs-write-$comp" "$(cat "$W/$comp.log")"
	fi
done
SOURCE_DATE_EPOCH=1700000000 "$W/mksqfs" "$W/tree.tar" "$W/gzip2.sqfs" gzip 131072 1 >/dev/null 2>&1 || true
assert_eq squashfs-reproducible "$(sha256sum <"$W/gzip.sqfs")" "$(sha256sum <"$W/gzip2.sqfs" 2>/dev/null)"
n=$(unsquashfs -lln "$W/gzip.sqfs" 2>/dev/null | grep -c 'squashfs-root/big/entry-' || true)
assert_eq squashfs-unsquashfs-big-dir 10000 "$n"
assert_contains squashfs-unsquashfs-time "$(unsquashfs -mkfs-time "$W/zstd.sqfs" 2>&1)" "1700000000"

# ---- the initrd ------------------------------------------------------------------------
R=$W/root
mkdir -p "$R/bin" "$R/lib/modules" "$R/mnt"
cp /bin/busybox "$R/bin/busybox"
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
	drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk \
	fs/squashfs/squashfs; do
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
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk squashfs; do
	$B insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/vda ] && break; $B sleep 0.2; done
if $B mount -t squashfs -o ro /dev/vda /mnt; then
	echo "SQFS-MOUNTED"
	$B ls -ln /mnt /mnt/etc /mnt/bin /mnt/data /mnt/dev | $B sed 's/^/SQFS-LS /'
	$B sha256sum -c /expect.sha256 2>&1 | $B sed 's/^/SQFS-SUM /'
	echo "SQFS-BIGCOUNT $($B ls /mnt/big | $B wc -l)"
	echo "SQFS-LOOKUP $($B cat /mnt/big/entry-09000) $($B stat -c '%s' /mnt/big/entry-09999) $($B stat -c '%s' /mnt/big/entry-00001)"
	echo "SQFS-LINKS $($B stat -c '%h' /mnt/bin/ping) $($B stat -c '%i' /mnt/bin/ping) $($B stat -c '%i' /mnt/bin/ping-hl)"
	echo "SQFS-READLINK $($B readlink /mnt/bin/sh)"
	echo "SQFS-STAT $($B stat -c '%A %u %g %s' /mnt/etc/owned) $($B stat -c '%A' /mnt/bin/suid) $($B stat -c '%A %t,%T' /mnt/dev/null) $($B stat -c '%A' /mnt/data/fifo) $($B stat -c '%A' /mnt/empty-dir)"
	/bin/xattrs /mnt/bin/ping | $B sed 's/^/SQFS-/'
	$B ls -a /mnt/empty-dir | $B tr '\n' ' ' | $B sed 's/^/SQFS-EMPTY /'
	echo
	echo "SQFS-DONE"
else
	echo "SQFS-MOUNT-FAILED"
	$B dmesg | $B tail -20
fi
$B poweroff -f
SH
chmod 755 "$R/init"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc 2>/dev/null) | gzip -1 >"$W/initrd.img"

for comp in gzip zstd; do
	[ -s "$W/$comp.sqfs" ] || continue
	qemu_run "$W/console-$comp.txt" 180 -nodefaults -serial stdio \
		-kernel "$VMLINUZ" -initrd "$W/initrd.img" -append "console=ttyS0 quiet panic=-1" \
		-drive "file=$W/$comp.sqfs,format=raw,if=virtio,readonly=on"
	rc=$QEMU_RC
	c=$(tr -d '\r' <"$W/console-$comp.txt")
	assert_eq "boot-$comp-exit" 0 "$rc"
	assert_contains "boot-$comp-mounted" "$c" "SQFS-MOUNTED"
	assert_contains "boot-$comp-done" "$c" "SQFS-DONE"
	bad=$(echo "$c" | grep '^SQFS-SUM' | grep -v ': OK$' || true)
	oks=$(echo "$c" | grep -c '^SQFS-SUM .*: OK$' || true)
	assert_eq "boot-$comp-contents" "" "$bad"
	assert_eq "boot-$comp-contents-count" "$(wc -l <"$W/expect")" "$oks"
	assert_contains "boot-$comp-bigdir" "$c" "SQFS-BIGCOUNT 10000"
	assert_contains "boot-$comp-lookup" "$c" "SQFS-LOOKUP 9000 0 0"
	ino=$(echo "$c" | sed -n 's/^SQFS-LINKS 2 \([0-9]*\) \([0-9]*\)$/\1=\2/p')
	if [ -n "$ino" ] && [ "${ino%=*}" = "${ino#*=}" ]; then t_pass "boot-$comp-hardlink"; else
		t_fail "boot-$comp-hardlink" "$(echo "$c" | grep '^SQFS-LINKS' || echo 'no SQFS-LINKS line')"
	fi
	assert_contains "boot-$comp-symlink" "$c" "SQFS-READLINK busybox"
	assert_contains "boot-$comp-stat" "$c" "SQFS-STAT -rw-r----- 1000 2000 6 -rwsr-xr-x crw-rw-rw- 1,3 prw------- drwx------"
	assert_contains "boot-$comp-capability" "$c" \
		"SQFS-xattr /mnt/bin/ping security.capability=0100000200200000000000000000000000000000"
	assert_contains "boot-$comp-user-xattr" "$c" "SQFS-xattr /mnt/bin/ping user.i2kit=737175617368"
	assert_contains "boot-$comp-empty-dir" "$c" "SQFS-EMPTY . .. "
	assert_contains "boot-$comp-ls" "$c" "lrwxrwxrwx    1 0        0                7 Nov 14  2023 sh -> busybox"
	assert_not_contains "boot-$comp-no-errors" "$c" "SQUASHFS error"
done
t_done
