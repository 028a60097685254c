/* test_iso.c — formats/fs/iso9660 (ISO 9660 + Rock Ridge + El Torito),
 * formats/disk/isohybrid (hybrid MBR) and formats/disk/isoboot (kernel +
 * initrd → bootable image). Oracles: xorriso (-find -exec lsdl, -extract,
 * -report_el_torito, -report_system_area), plus byte checks of the boot
 * info table and the MBR computed here independently. Every error message
 * of the three modules is asserted. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "formats/disk/isoboot.h"
#include "formats/disk/isohybrid.h"
#include "formats/fs/iso9660.h"
#include "formats/sink.h"
#include "test.h"
#include "testutil.h"

#define ISOLINUX_BIN "/usr/lib/ISOLINUX/isolinux.bin"

static struct i2k_spool *spool;

static void add_full(struct i2k_fstree *t, const char *path, uint32_t mode, uint32_t uid,
		     uint32_t gid, const char *target, const void *data, size_t size)
{
	struct i2k_error *err = NULL;
	uint64_t off = 0;
	struct i2k_fattr a = {.mode = mode, .uid = uid, .gid = gid, .mtime = 1700000000};
	if (S_ISCHR(mode)) {
		a.rdev_major = 4;
		a.rdev_minor = 64;
	}
	if (data && size && i2k_spool_append(spool, data, size, &off, &err) < 0)
		goto fail;
	if (i2k_fstree_add(t, path, &a, target, off, data ? size : 0, I2K_FSTREE_MKPARENTS, NULL,
			   &err) < 0)
		goto fail;
	return;
fail:
	fprintf(stderr, "  add %s: %s\n", path, err->msg);
	exit(1);
}

static void add(struct i2k_fstree *t, const char *path, uint32_t mode, const void *data,
		size_t size)
{
	add_full(t, path, mode, 0, 0, NULL, data, size);
}

static void addstr(struct i2k_fstree *t, const char *path, const char *s)
{
	add(t, path, S_IFREG | 0644, s, strlen(s));
}

static void add_file(struct i2k_fstree *t, const char *path, const char *src)
{
	char *data = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(src, 64 << 20, &data, &len, &e) < 0) {
		fprintf(stderr, "  %s\n", e->msg);
		exit(1);
	}
	add(t, path, S_IFREG | 0444, data, len);
	free(data);
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n ? n : 1);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
	return b;
}

static char long_name[201];

static struct i2k_fstree *rich_tree(void)
{
	struct i2k_fstree *t = i2k_fstree_new(spool);
	_cleanup_free_ uint8_t *big = pattern(300001, 1);
	add(t, "data/big.bin", S_IFREG | 0644, big, 300001);
	add(t, "data/empty", S_IFREG | 0600, NULL, 0);
	add(t, "data/exact", S_IFREG | 0644, big, 4096);
	addstr(t, "etc/hostname", "i2kit\n");
	add_full(t, "usr/bin/tool", S_IFREG | 04755, 1000, 100, NULL, "#!/bin/sh\n", 10);
	add_full(t, "etc/abs-link", S_IFLNK | 0777, 0, 0, "/usr/bin/tool", NULL, 0);
	add_full(t, "etc/rel-link", S_IFLNK | 0777, 0, 0, "../usr/./bin/tool", NULL, 0);
	/* found by tests/fuzz/fuzz_roundtrip.c: "//" inside a target was
	 * written as "/"; a trailing "/" is dropped (as libisofs) */
	add_full(t, "etc/slash-link", S_IFLNK | 0777, 0, 0, "a//b///c/", NULL, 0);
	add_full(t, "etc/lead-link", S_IFLNK | 0777, 0, 0, "///x", NULL, 0);
	add_full(t, "dev/tty0", S_IFCHR | 0620, 0, 5, NULL, NULL, 0);
	add(t, "dev/fifo", S_IFIFO | 0644, NULL, 0);
	add(t, "Mixed.Case.Name.tar.gz", S_IFREG | 0644, "x", 1);
	/* names that collide once mangled to ISO 9660 level 2 */
	addstr(t, "clash/a.txt", "lower");
	addstr(t, "clash/A.txt", "upper");
	addstr(t, "clash/a-txt", "dash");
	addstr(t, "clash/a_txt", "under1");
	addstr(t, "clash/a+txt", "plus");
	memset(long_name, 'n', 200);
	long_name[200] = 0;
	char p[300];
	snprintf(p, sizeof(p), "deep/%s", long_name);
	addstr(t, p, "long name\n");
	p[strlen(p) - 1] = 'm'; /* the same ISO name: gets a numeric tail */
	addstr(t, p, "long name 2\n");
	/* a symlink whose target needs a continuation area */
	char target[1001];
	memset(target, 'x', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	for (size_t i = 100; i < sizeof(target) - 1; i += 101)
		target[i] = '/';
	add_full(t, "deep/longlink", S_IFLNK | 0777, 0, 0, target, NULL, 0);
	add(t, "a/b/c/d/e/f/g/h/i/j/deep.txt", S_IFREG | 0644, "deep", 4);
	struct i2k_error *e = NULL;
	if (i2k_fstree_link(t, "data/hardlink", "data/big.bin", 0, &e) < 0) {
		fprintf(stderr, "  link: %s\n", e->msg);
		exit(1);
	}
	return t;
}

/* Writes the tree as tmpdir/name. */
static int write_iso(struct i2k_fstree *t, const struct i2k_iso_opts *o, const char *name,
		     char *path, size_t pathlen, uint64_t *size, struct i2k_error **err)
{
	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	uint64_t need = 0;
	if (i2k_iso_size_for(t, o, &need, err) < 0)
		return -1;
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct i2k_sink *s = NULL;
	if (fd < 0 || i2k_sink_file_new(fd, 0, need, "ISO", &s, err) < 0)
		return -1;
	uint64_t bytes = 0;
	int r = i2k_iso_write(t, o, s, &bytes, err);
	if (r == 0 && bytes != need)
		r = i2k_error_set(err, I2K_ERR_INTERNAL, "size_for %llu != written %llu",
				  (unsigned long long)need, (unsigned long long)bytes);
	if (r == 0)
		r = i2k_sink_finish(s, err);
	i2k_sink_free(s);
	if (size)
		*size = need;
	return r;
}

static char *xorriso(const char *img, const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "xorriso -abort_on NEVER -indev %s %s 2>&1 | cat", img, args);
	return capture(cmd);
}

static const char *extract_opts = "";

static bool extracted_equals(const char *img, const char *isopath, const void *data, size_t len)
{
	char cmd[2048], out[512];
	snprintf(out, sizeof(out), "%s/extract.out", tmpdir);
	unlink(out);
	snprintf(cmd, sizeof(cmd),
		 "xorriso %s -osirrox on -indev %s -extract '%s' %s >/dev/null 2>&1", extract_opts,
		 img, isopath, out);
	if (run(cmd) != 0)
		return false;
	char *got = NULL;
	size_t glen = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(out, 64 << 20, &got, &glen, &e) < 0) {
		i2k_error_free(e);
		return false;
	}
	bool ok = glen == len && (len == 0 || memcmp(got, data, len) == 0);
	free(got);
	return ok;
}

static char *read_all(const char *path, size_t *len)
{
	char *d = NULL;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, 256 << 20, &d, len, &e) < 0) {
		fprintf(stderr, "  %s\n", e->msg);
		i2k_error_free(e);
		return NULL;
	}
	return d;
}

static uint32_t rd32(const void *p)
{
	const uint8_t *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* ---- ISO 9660 + Rock Ridge ------------------------------------------------ */
TEST(rock_ridge_tree_reads_back)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = rich_tree();
	struct i2k_error *e = NULL;
	char img[512];
	struct i2k_iso_opts o = {.volume_id = "test_vol"};
	CHECK_INT(write_iso(t, &o, "rr.iso", img, sizeof(img), NULL, &e), 0);
	if (e)
		fprintf(stderr, "  %s\n", e->msg);
	char *l = xorriso(img, "-find / -exec lsdl --");
	CHECK(l != NULL);
	CHECK_CONTAINS(l, "Volume id    : 'TEST_VOL'");
	CHECK_CONTAINS(l,
		       "-rw-r--r--    1 0        0          300001 Nov 14  2023 '/data/big.bin'");
	CHECK_CONTAINS(l,
		       "-rw-r--r--    1 0        0          300001 Nov 14  2023 '/data/hardlink'");
	CHECK_CONTAINS(l, "-rw-------    1 0        0               0 Nov 14  2023 '/data/empty'");
	CHECK_CONTAINS(l,
		       "-rwsr-xr-x    1 1000     100            10 Nov 14  2023 '/usr/bin/tool'");
	CHECK_CONTAINS(l, "'/etc/abs-link' -> '/usr/bin/tool'");
	CHECK_CONTAINS(l, "'/etc/rel-link' -> '../usr/./bin/tool'");
	CHECK_CONTAINS(l, "'/etc/slash-link' -> 'a//b///c'");
	CHECK_CONTAINS(l, "'/etc/lead-link' -> '///x'");
	CHECK_CONTAINS(l, "crw--w----    1 0        5            4,64 Nov 14  2023 '/dev/tty0'");
	CHECK_CONTAINS(l, "prw-r--r--");
	CHECK_CONTAINS(l, "'/Mixed.Case.Name.tar.gz'");
	CHECK_CONTAINS(l, "'/clash/a.txt'");
	CHECK_CONTAINS(l, "'/clash/A.txt'");
	CHECK_CONTAINS(l, "'/clash/a-txt'");
	CHECK_CONTAINS(l, "'/clash/a_txt'");
	CHECK_CONTAINS(l, "'/clash/a+txt'");
	CHECK_CONTAINS(l, long_name);
	CHECK_CONTAINS(l, "'/a/b/c/d/e/f/g/h/i/j/deep.txt'");
	CHECK(l == NULL || strstr(l, "FAILURE") == NULL);
	CHECK(l == NULL || strstr(l, "SORRY") == NULL);
	CHECK(l == NULL || strstr(l, "WARNING") == NULL);
	if (l && (strstr(l, "FAILURE") || strstr(l, "WARNING") || strstr(l, "SORRY")))
		fprintf(stderr, "%s\n", l);
	free(l);

	/* the long symlink target (continuation area) reads back whole */
	char lp[300];
	snprintf(lp, sizeof(lp), "%s/rr.iso", tmpdir);
	char *ll = xorriso(lp, "-find /deep/longlink -exec lsdl --");
	char target[1001];
	memset(target, 'x', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	for (size_t i = 100; i < sizeof(target) - 1; i += 101)
		target[i] = '/';
	CHECK_CONTAINS(ll, target);
	free(ll);

	_cleanup_free_ uint8_t *big = pattern(300001, 1);
	CHECK(extracted_equals(img, "/data/big.bin", big, 300001));
	CHECK(extracted_equals(img, "/data/hardlink", big, 300001));
	CHECK(extracted_equals(img, "/data/exact", big, 4096));
	CHECK(extracted_equals(img, "/data/empty", "", 0));
	CHECK(extracted_equals(img, "/clash/a.txt", "lower", 5));
	CHECK(extracted_equals(img, "/clash/A.txt", "upper", 5));
	CHECK(extracted_equals(img, "/clash/a+txt", "plus", 4));
	char path[300];
	snprintf(path, sizeof(path), "/deep/%s", long_name);
	CHECK(extracted_equals(img, path, "long name\n", 10));
	path[strlen(path) - 1] = 'm';
	CHECK(extracted_equals(img, path, "long name 2\n", 12));

	/* hard links share one extent: the data is stored once */
	size_t len = 0;
	_cleanup_free_ char *raw = read_all(img, &len);
	CHECK(raw != NULL);
	size_t copies = 0;
	for (size_t off = 0; raw && off + 64 <= len; off += I2K_ISO_BLOCK)
		if (memcmp(raw + off, big, 64) == 0)
			copies++;
	CHECK_INT(copies, 2); /* big.bin and exact (its first 4096 bytes) */
	/* primary volume descriptor fields */
	CHECK(raw && memcmp(raw + 16 * 2048,
			    "\x01"
			    "CD001\x01",
			    7) == 0);
	CHECK(raw && rd32(raw + 16 * 2048 + 80) == len / 2048);
	CHECK(raw && memcmp(raw + 16 * 2048 + 40, "TEST_VOL ", 9) == 0);
	i2k_error_free(e);
}

TEST(plain_names_without_rock_ridge)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = rich_tree();
	struct i2k_error *e = NULL;
	char img[512];
	struct i2k_iso_opts o = {.no_rock_ridge = true};
	CHECK_INT(write_iso(t, &o, "plain.iso", img, sizeof(img), NULL, &e), 0);
	char *l = xorriso(img, "-rockridge off -find / -exec lsdl --");
	CHECK(l != NULL);
	CHECK_CONTAINS(l, "Volume id    : 'I2KIT'");
	/* xorriso shows ISO names without ";1" and a trailing '.' */
	CHECK_CONTAINS(l,
		       "-r-xr-xr-x    1 0        0          300001 Nov 14  2023 '/DATA/BIG.BIN'");
	CHECK_CONTAINS(l, "'/MIXED_CASE_NAME_TAR.GZ'");
	CHECK_CONTAINS(l, "'/ETC/HOSTNAME'");
	/* collisions: a.txt and A.txt → A.TXT and A1.TXT; a-txt, a_txt, a+txt →
	 * A_TXT and numbered tails (one counter per directory) */
	CHECK_CONTAINS(l, "'/CLASH/A.TXT'");
	CHECK_CONTAINS(l, "'/CLASH/A1.TXT'");
	CHECK_CONTAINS(l, "'/CLASH/A_TXT'");
	CHECK_CONTAINS(l, "'/CLASH/A_TXT2'");
	CHECK_CONTAINS(l, "'/CLASH/A_TXT3'");
	/* 30 characters at most; the tail replaces the end when too long */
	CHECK_CONTAINS(l, "'/DEEP/NNNNNNNNNNNNNNNNNNNNNNNNNNNNNN'");
	CHECK_CONTAINS(l, "'/DEEP/NNNNNNNNNNNNNNNNNNNNNNNNNNNNN1'");
	CHECK_CONTAINS(l, "'/A/B/C/D/E/F/G/H/I/J/DEEP.TXT'");
	free(l);
	/* the raw identifiers carry the version */
	size_t rl = 0;
	_cleanup_free_ char *r0 = read_all(img, &rl);
	CHECK(r0 && memmem(r0, rl, "HOSTNAME.;1", 11) != NULL);
	CHECK(r0 && memmem(r0, rl, "BIG.BIN;1", 9) != NULL);
	/* no SUSP at all: the root record has no SP */
	size_t len = 0;
	_cleanup_free_ char *raw = read_all(img, &len);
	CHECK(raw && memmem(raw, len, "RRIP_1991A", 10) == NULL);
	_cleanup_free_ uint8_t *big = pattern(300001, 1);
	extract_opts = "-rockridge off";
	CHECK(extracted_equals(img, "/DATA/BIG.BIN", big, 300001));
	CHECK(extracted_equals(img, "/CLASH/A.TXT", "upper", 5)); /* "A.txt" < "a.txt" */
	CHECK(extracted_equals(img, "/CLASH/A1.TXT", "lower", 5));
	extract_opts = "";
	i2k_error_free(e);
}

TEST(reproducible_and_dated_from_source_date_epoch)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = rich_tree();
	struct i2k_error *e = NULL;
	char a[512], b[512], cmd[1200];
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	CHECK_INT(write_iso(t, NULL, "r1.iso", a, sizeof(a), NULL, &e), 0);
	CHECK_INT(write_iso(t, NULL, "r2.iso", b, sizeof(b), NULL, &e), 0);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a, b);
	CHECK_INT(run(cmd), 0);
	size_t len = 0;
	_cleanup_free_ char *raw = read_all(a, &len);
	CHECK(raw && memcmp(raw + 16 * 2048 + 813, "2023111422132000", 16) == 0);
	CHECK(raw && memcmp(raw + 16 * 2048 + 847, "0000000000000000", 16) == 0);
	setenv("SOURCE_DATE_EPOCH", "0", 1);
	CHECK_INT(write_iso(t, NULL, "r3.iso", b, sizeof(b), NULL, &e), 0);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a, b);
	CHECK(run(cmd) != 0);
	unsetenv("SOURCE_DATE_EPOCH");
	i2k_error_free(e);
}

TEST(size_align_and_small_sink)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	addstr(t, "hello", "hi\n");
	struct i2k_error *e = NULL;
	uint64_t size = 0;
	/* 16 system blocks, PVD, terminator, 2 path tables, root dir, data */
	CHECK_INT(i2k_iso_size_for(t, NULL, &size, &e), 0);
	CHECK_INT(size, 23 * 2048);
	struct i2k_iso_opts o = {.align = 1 << 20};
	CHECK_INT(i2k_iso_size_for(t, &o, &size, &e), 0);
	CHECK_INT(size, 1 << 20);
	o.min_size = (3 << 20) + 1;
	CHECK_INT(i2k_iso_size_for(t, &o, &size, &e), 0);
	CHECK_INT(size, 4 << 20);
	char img[512];
	CHECK_INT(write_iso(t, &o, "padded.iso", img, sizeof(img), NULL, &e), 0);
	char *l = xorriso(img, "-find / -exec lsdl --");
	CHECK_CONTAINS(l, "2048 data blocks");
	free(l);

	o.align = 3000;
	CHECK_INT(i2k_iso_size_for(t, &o, &size, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL,
		       "ISO alignment 3000: must be a power of two of at least 2048");
	i2k_error_free(e);
	e = NULL;

	_cleanup_close_ int fd = open(img, O_RDWR);
	struct i2k_sink *s = NULL;
	CHECK_INT(i2k_sink_file_new(fd, 0, 40960, "small sink", &s, &e), 0);
	CHECK_INT(i2k_iso_write(t, NULL, s, NULL, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL,
		       "writing ISO 9660 image: small sink: 40960 bytes is too small for the ISO "
		       "image of 47104 bytes");
	CHECK_INT(e ? e->code : 0, I2K_ERR_CONFIG);
	i2k_sink_free(s);
	i2k_error_free(e);
}

static void expect_err(struct i2k_fstree *t, const struct i2k_iso_opts *o, enum i2k_errc code,
		       const char *msg)
{
	struct i2k_error *e = NULL;
	uint64_t size = 0;
	CHECK_INT(i2k_iso_size_for(t, o, &size, &e), -1);
	CHECK_INT(e ? e->code : 0, code);
	CHECK_CONTAINS(e ? e->msg : NULL, msg);
	i2k_error_free(e);
}

TEST(errors)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	addstr(t, "boot/tiny", "12345");
	add(t, "boot/empty", S_IFREG | 0644, NULL, 0);
	add(t, "boot/dir", S_IFDIR | 0755, NULL, 0);
	addstr(t, "boot/boot.cat", "taken");
	struct i2k_iso_opts o = {.volume_id = "bad-id"};
	expect_err(t, &o, I2K_ERR_CONFIG,
		   "volume id \"bad-id\": only letters, digits, '_' and spaces are allowed");
	o.volume_id = "";
	expect_err(t, &o, I2K_ERR_CONFIG, "volume id \"\": must be 1 to 32 characters");
	o.volume_id = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456";
	expect_err(t, &o, I2K_ERR_CONFIG, "must be 1 to 32 characters");
	o = (struct i2k_iso_opts){.bios_boot = "boot/missing"};
	expect_err(t, &o, I2K_ERR_CONFIG, "BIOS boot image boot/missing: not found in the tree");
	o.bios_boot = "boot/dir";
	expect_err(t, &o, I2K_ERR_CONFIG, "BIOS boot image boot/dir: not a regular file");
	o.bios_boot = "boot/empty";
	expect_err(t, &o, I2K_ERR_CONFIG, "BIOS boot image boot/empty: empty file");
	o = (struct i2k_iso_opts){.efi_boot = "nope"};
	expect_err(t, &o, I2K_ERR_CONFIG, "EFI boot image nope: not found in the tree");
	o = (struct i2k_iso_opts){.bios_boot = "boot/tiny", .boot_info_table = true};
	expect_err(t, &o, I2K_ERR_CONFIG,
		   "BIOS boot image boot/tiny: 5 bytes: a boot info table needs 64 bytes to 4 MiB");
	o = (struct i2k_iso_opts){.bios_boot = "boot/tiny", .catalog_path = "boot/boot.cat"};
	expect_err(t, &o, I2K_ERR_CONFIG, "boot catalog boot/boot.cat: already exists");
	o.catalog_path = "nodir/boot.cat";
	expect_err(t, &o, I2K_ERR_CONFIG,
		   "boot catalog nodir/boot.cat: parent directory not in the tree");
	o.catalog_path = "boot/tiny/boot.cat";
	expect_err(t, &o, I2K_ERR_CONFIG, "parent directory not in the tree");
	o.catalog_path = "boot/";
	expect_err(t, &o, I2K_ERR_CONFIG, "boot catalog boot/: not a file name");

	/* a file of 4 GiB: a sparse spool extent, never read */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t2 = i2k_fstree_new(spool);
	struct i2k_error *e = NULL;
	uint64_t off = 0, size = 0;
	CHECK_INT(i2k_spool_begin(spool, &off, &e), 0);
	i2k_spool_extend(spool, 1ull << 32);
	CHECK_INT(i2k_spool_end(spool, &size, &e), 0);
	struct i2k_fattr a = {.mode = S_IFREG | 0644};
	CHECK_INT(i2k_fstree_add(t2, "huge", &a, NULL, off, size, 0, NULL, &e), 0);
	expect_err(t2, NULL, I2K_ERR_UNSUPPORTED,
		   "huge: 4294967296 bytes: ISO 9660 files are limited to 4 GiB - 1");
	i2k_error_free(e);
}

/* ---- El Torito ---------------------------------------------------------------- */
static struct i2k_fstree *boot_tree(bool efi)
{
	struct i2k_fstree *t = i2k_fstree_new(spool);
	add_file(t, "isolinux/isolinux.bin", ISOLINUX_BIN);
	addstr(t, "isolinux/isolinux.cfg", "DEFAULT linux\n");
	addstr(t, "boot/kernel", "not really a kernel");
	if (efi) {
		/* a FAT image made by mkfs.vfat: the El Torito EFI image */
		char cmd[1024], p[512];
		snprintf(p, sizeof(p), "%s/efi.img", tmpdir);
		unlink(p);
		snprintf(cmd, sizeof(cmd), "mkfs.vfat -C -i 12345678 %s 2048 >/dev/null", p);
		CHECK_INT(run(cmd), 0);
		add_file(t, "boot/efiboot.img", p);
	}
	return t;
}

static void check_boot_info_table(const char *raw, size_t len, uint32_t lba)
{
	size_t blen = 0;
	_cleanup_free_ char *bin = read_all(ISOLINUX_BIN, &blen);
	CHECK(bin != NULL && (uint64_t)lba * 2048 + blen <= len);
	if (!bin || (uint64_t)lba * 2048 + blen > len)
		return;
	const char *img = raw + (size_t)lba * 2048;
	uint32_t sum = 0;
	for (size_t i = 64; i + 4 <= blen; i += 4)
		sum += rd32(bin + i);
	CHECK_INT(rd32(img + 8), 16);	 /* PVD */
	CHECK_INT(rd32(img + 12), lba);	 /* the file itself */
	CHECK_INT(rd32(img + 16), blen); /* its length */
	CHECK_INT(rd32(img + 20), sum);	 /* checksum from byte 64 */
	CHECK(memcmp(img, bin, 8) == 0); /* the rest unchanged */
	CHECK(memcmp(img + 64, bin + 64, blen - 64) == 0);
	for (int i = 24; i < 64; i++)
		CHECK_INT(img[i], 0);
}

TEST(el_torito_bios_with_boot_info_table)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = boot_tree(false);
	struct i2k_error *e = NULL;
	char img[512];
	struct i2k_iso_opts o = {.bios_boot = "isolinux/isolinux.bin",
				 .boot_info_table = true,
				 .catalog_path = "isolinux/boot.cat"};
	CHECK_INT(write_iso(t, &o, "bios.iso", img, sizeof(img), NULL, &e), 0);
	char *r = xorriso(img, "-report_el_torito plain");
	CHECK_CONTAINS(r, "El Torito cat path : /isolinux/boot.cat");
	CHECK_CONTAINS(r, "El Torito img path :   1  /isolinux/isolinux.bin");
	CHECK_CONTAINS(r, "El Torito img opts :   1  boot-info-table isohybrid-suitable");
	CHECK_CONTAINS(r, "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4");
	free(r);
	size_t len = 0;
	_cleanup_free_ char *raw = read_all(img, &len);
	CHECK(raw != NULL);
	if (!raw)
		return;
	/* boot record → catalog → default entry → isolinux.bin */
	CHECK(memcmp(raw + 17 * 2048,
		     "\0CD001\x01"
		     "EL TORITO SPECIFICATION",
		     30) == 0);
	uint32_t cat = rd32(raw + 17 * 2048 + 71);
	const uint8_t *c = (const uint8_t *)raw + (size_t)cat * 2048;
	CHECK_INT(c[0], 1);
	CHECK_INT(c[1], 0);
	CHECK_INT(c[30], 0x55);
	CHECK_INT(c[31], 0xaa);
	CHECK_INT(c[32], 0x88);
	CHECK_INT(c[64], 0); /* no more sections */
	check_boot_info_table(raw, len, rd32(c + 40));
	/* the tree itself is unchanged */
	struct i2k_inode *ino = i2k_fstree_lookup(t, "isolinux/isolinux.bin");
	uint8_t head[24];
	CHECK_INT(i2k_fstree_read(t, ino, 0, head, sizeof(head), &e), 0);
	CHECK_INT(rd32(head + 12), 0);
	i2k_error_free(e);
}

TEST(el_torito_bios_and_efi)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = boot_tree(true);
	struct i2k_error *e = NULL;
	char img[512];
	struct i2k_iso_opts o = {.bios_boot = "isolinux/isolinux.bin",
				 .boot_info_table = true,
				 .efi_boot = "boot/efiboot.img"};
	CHECK_INT(write_iso(t, &o, "both.iso", img, sizeof(img), NULL, &e), 0);
	char *r = xorriso(img, "-report_el_torito plain");
	CHECK_CONTAINS(r, "El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4");
	CHECK_CONTAINS(r, "El Torito boot img :   2  UEFI  y   none  0x0000  0x00   4096");
	CHECK_CONTAINS(r, "El Torito img path :   2  /boot/efiboot.img");
	CHECK(r && strstr(r, "cat path") == NULL); /* catalog not listed */
	free(r);

	/* EFI only: the validation entry names the platform */
	o = (struct i2k_iso_opts){.efi_boot = "boot/efiboot.img", .catalog_path = "boot/boot.cat"};
	CHECK_INT(write_iso(t, &o, "efi.iso", img, sizeof(img), NULL, &e), 0);
	r = xorriso(img, "-report_el_torito plain");
	CHECK_CONTAINS(r, "El Torito boot img :   1  UEFI  y   none  0x0000  0x00   4096");
	CHECK_CONTAINS(r, "El Torito cat path : /boot/boot.cat");
	CHECK(r && strstr(r, "BIOS") == NULL);
	free(r);
	i2k_error_free(e);
}

TEST(el_torito_efi_count_zero_when_too_big)
{
	/* a 40 MiB "FAT image" does not fit the 16-bit sector count */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	struct i2k_error *e = NULL;
	uint64_t off = 0, size = 0;
	CHECK_INT(i2k_spool_begin(spool, &off, &e), 0);
	CHECK_INT(i2k_spool_write(spool, "FAT", 3, &e), 0);
	i2k_spool_extend(spool, 40 << 20);
	CHECK_INT(i2k_spool_end(spool, &size, &e), 0);
	struct i2k_fattr a = {.mode = S_IFREG | 0644};
	CHECK_INT(i2k_fstree_add(t, "efi.img", &a, NULL, off, size, 0, NULL, &e), 0);
	char img[512];
	struct i2k_iso_opts o = {.efi_boot = "efi.img"};
	CHECK_INT(write_iso(t, &o, "bigefi.iso", img, sizeof(img), NULL, &e), 0);
	size_t len = 0;
	_cleanup_free_ char *raw = read_all(img, &len);
	CHECK(raw != NULL);
	if (raw) {
		uint32_t cat = rd32(raw + 17 * 2048 + 71);
		const uint8_t *c = (const uint8_t *)raw + (size_t)cat * 2048;
		CHECK_INT(c[1], 0xef);
		CHECK_INT(c[38] | c[39] << 8, 0);
	}
	i2k_error_free(e);
}

/* ---- isohybrid ------------------------------------------------------------------ */
TEST(isohybrid_mbr)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = boot_tree(false);
	struct i2k_error *e = NULL;
	char img[512];
	struct i2k_iso_opts o = {.bios_boot = "isolinux/isolinux.bin",
				 .boot_info_table = true,
				 .align = I2K_ISOHYBRID_ALIGN};
	uint64_t size = 0;
	CHECK_INT(write_iso(t, &o, "hybrid.iso", img, sizeof(img), &size, &e), 0);
	CHECK_INT(size, 1 << 20);
	_cleanup_close_ int fd = open(img, O_RDWR);
	struct i2k_sink *s = NULL;
	CHECK_INT(i2k_sink_file_new(fd, 0, size, "hybrid", &s, &e), 0);
	CHECK_INT(i2k_isohybrid_bios(s, NULL, &e), 0);
	if (e)
		fprintf(stderr, "  %s\n", e->msg);
	CHECK_INT(i2k_sink_finish(s, &e), 0);
	i2k_sink_free(s);

	char *r = xorriso(img, "-report_system_area plain -report_el_torito plain");
	CHECK_CONTAINS(r, "System area summary: MBR isohybrid cyl-align-on");
	CHECK_CONTAINS(r, "MBR heads per cyl  : 64");
	CHECK_CONTAINS(r, "MBR secs per head  : 32");
	CHECK_CONTAINS(r, "MBR partition      :   1   0x80  0x17            0         2048");
	free(r);

	size_t len = 0;
	_cleanup_free_ char *raw = read_all(img, &len);
	size_t tlen = 0;
	_cleanup_free_ char *tmpl = read_all("/usr/lib/ISOLINUX/isohdpfx.bin", &tlen);
	CHECK(raw && tmpl && tlen == 432 && memcmp(raw, tmpl, 432) == 0);
	if (!raw)
		return;
	uint32_t cat = rd32(raw + 17 * 2048 + 71);
	uint32_t bin = rd32(raw + (size_t)cat * 2048 + 40);
	CHECK_INT(rd32(raw + 432), bin * 4);
	CHECK_INT(rd32(raw + 436), 0);
	/* derived id: SHA-256 of blocks 16..catalog */
	uint8_t d[32];
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	i2k_sha256_update(h, raw + 16 * 2048, (size_t)(cat - 15) * 2048);
	i2k_sha256_final_raw(h, d);
	CHECK_INT(rd32(raw + 440), rd32(d));
	const uint8_t *p = (const uint8_t *)raw + 446;
	const uint8_t want[16] = {0x80, 0, 1, 0, 0x17, 63, 32, 0, 0, 0, 0, 0, 0, 8, 0, 0};
	CHECK(memcmp(p, want, 16) == 0);
	for (int i = 16; i < 64; i++)
		CHECK_INT(p[i], 0);
	CHECK_INT((uint8_t)raw[510], 0x55);
	CHECK_INT((uint8_t)raw[511], 0xaa);
	check_boot_info_table(raw, len, bin);
	i2k_error_free(e);
}

TEST(isohybrid_efi_partition_and_options)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = boot_tree(true);
	struct i2k_error *e = NULL;
	char img[512];
	struct i2k_iso_opts o = {.bios_boot = "isolinux/isolinux.bin",
				 .boot_info_table = true,
				 .efi_boot = "boot/efiboot.img",
				 .align = I2K_ISOHYBRID_ALIGN,
				 .min_size = 3000ull << 20}; /* > 1024 cylinders */
	uint64_t size = 0;
	CHECK_INT(write_iso(t, &o, "hyefi.iso", img, sizeof(img), &size, &e), 0);
	_cleanup_close_ int fd = open(img, O_RDWR);
	struct i2k_sink *s = NULL;
	CHECK_INT(i2k_sink_file_new(fd, 0, size, "hyefi", &s, &e), 0);
	struct i2k_isohybrid_opts h = {.efi_partition = true, .disk_id = 0xdeadbeef};
	CHECK_INT(i2k_isohybrid_bios(s, &h, &e), 0);
	i2k_sink_free(s);
	uint8_t raw[512], c[128], brvd[128];
	CHECK(pread(fd, raw, 512, 0) == 512);
	CHECK(pread(fd, brvd, sizeof(brvd), 17 * 2048) == sizeof(brvd));
	uint32_t cat = rd32(brvd + 71);
	CHECK(pread(fd, c, sizeof(c), (off_t)cat * 2048) == sizeof(c));
	uint32_t efi = rd32(c + 96 + 8);
	const uint8_t *p = raw + 446;
	CHECK_INT(rd32(raw + 440), 0xdeadbeef);
	CHECK_INT(p[0], 0x80);
	CHECK_INT(p[4], 0x00);
	CHECK_INT(p[5], 63);
	CHECK_INT(p[6], 32 + 0xc0); /* cylinder 1023: high bits in the sector byte */
	CHECK_INT(p[7], 0xff);
	CHECK_INT(rd32(p + 12), 3000u << 11);
	CHECK_INT(p[16 + 4], 0xef);
	CHECK_INT(rd32(p + 16 + 8), efi * 4);
	CHECK_INT(rd32(p + 16 + 12), 4096); /* mkfs.vfat -C ... 2048 KiB */
	char *r = xorriso(img, "-report_system_area plain");
	CHECK_CONTAINS(r, "0xef");
	free(r);

	/* part_type */
	o.efi_boot = NULL;
	o.min_size = 0;
	CHECK_INT(write_iso(t, &o, "ptype.iso", img, sizeof(img), &size, &e), 0);
	close(fd);
	fd = open(img, O_RDWR);
	CHECK_INT(i2k_sink_file_new(fd, 0, size, "ptype", &s, &e), 0);
	h = (struct i2k_isohybrid_opts){.part_type = 0x83};
	CHECK_INT(i2k_isohybrid_bios(s, &h, &e), 0);
	uint8_t mbr[512];
	CHECK_INT(i2k_sink_read_at(s, 0, mbr, sizeof(mbr), &e), 0);
	CHECK_INT(mbr[446 + 4], 0x83);
	/* efi_partition without an EFI entry */
	h = (struct i2k_isohybrid_opts){.efi_partition = true};
	CHECK_INT(i2k_isohybrid_bios(s, &h, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "ptype: no EFI El Torito entry");
	i2k_error_free(e);
	e = NULL;
	i2k_sink_free(s);
}

static void hybrid_err(const char *name, const struct i2k_iso_opts *o, struct i2k_fstree *t,
		       const struct i2k_isohybrid_opts *h, void (*mangle)(int fd),
		       enum i2k_errc code, const char *msg)
{
	struct i2k_error *e = NULL;
	char img[512];
	uint64_t size = 0;
	CHECK_INT(write_iso(t, o, name, img, sizeof(img), &size, &e), 0);
	_cleanup_close_ int fd = open(img, O_RDWR);
	if (mangle)
		mangle(fd);
	struct i2k_sink *s = NULL;
	CHECK_INT(i2k_sink_file_new(fd, 0, size, name, &s, &e), 0);
	CHECK_INT(i2k_isohybrid_bios(s, h, &e), -1);
	CHECK_INT(e ? e->code : 0, code);
	CHECK_CONTAINS(e ? e->msg : NULL, msg);
	i2k_error_free(e);
	i2k_sink_free(s);
}

static void zero_pvd(int fd)
{
	uint8_t z[2048] = {0};
	CHECK(pwrite(fd, z, sizeof(z), 16 * 2048) == 2048);
}
static void break_catalog(int fd)
{
	uint8_t b[4];
	CHECK(pread(fd, b, 4, 17 * 2048 + 71) == 4);
	CHECK(pwrite(fd, "\x02", 1, (off_t)rd32(b) * 2048) == 1);
}

TEST(isohybrid_errors)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = boot_tree(true);
	addstr(t, "fake.bin",
	       "this is not isolinux.bin but long enough for a boot info table"
	       "................................................................");
	struct i2k_iso_opts o = {.bios_boot = "isolinux/isolinux.bin", .boot_info_table = true};
	hybrid_err("e1.iso", &o, t, NULL, zero_pvd, I2K_ERR_CONFIG,
		   "e1.iso: not an ISO 9660 image (no primary volume descriptor at block 16)");
	struct i2k_iso_opts none = {0};
	hybrid_err("e2.iso", &none, t, NULL, NULL, I2K_ERR_CONFIG,
		   "e2.iso: no El Torito boot record at block 17");
	hybrid_err("e3.iso", &o, t, NULL, break_catalog, I2K_ERR_CONFIG,
		   "e3.iso: invalid El Torito boot catalog (bad validation entry)");
	struct i2k_iso_opts efi = {.efi_boot = "boot/efiboot.img"};
	hybrid_err("e4.iso", &efi, t, NULL, NULL, I2K_ERR_CONFIG,
		   "e4.iso: the default El Torito entry is not a BIOS no-emulation image");
	struct i2k_iso_opts fake = {.bios_boot = "fake.bin", .boot_info_table = true};
	hybrid_err("e5.iso", &fake, t, NULL, NULL, I2K_ERR_CONFIG,
		   "e5.iso: the BIOS boot image is not a hybrid isolinux.bin (no signature at "
		   "offset 0x40)");
	struct i2k_isohybrid_opts h = {.mbr_path = ISOLINUX_BIN};
	hybrid_err("e6.iso", &o, t, &h, NULL, I2K_ERR_INTEGRITY,
		   ISOLINUX_BIN ": 38912 bytes, expected 432");
	h.mbr_path = "/nonexistent/isohdpfx.bin";
	hybrid_err("e7.iso", &o, t, &h, NULL, I2K_ERR_NOTFOUND,
		   "reading MBR code /nonexistent/isohdpfx.bin");
	struct i2k_iso_opts both = {.bios_boot = "isolinux/isolinux.bin",
				    .boot_info_table = true,
				    .efi_boot = "isolinux/isolinux.cfg"};
	h = (struct i2k_isohybrid_opts){.efi_partition = true};
	hybrid_err("e8.iso", &both, t, &h, NULL, I2K_ERR_CONFIG,
		   "e8.iso: the EFI image is not a FAT file system");

	/* a sink that is not a multiple of 2048 */
	struct i2k_error *e = NULL;
	struct i2k_sink *s = NULL;
	char p[512];
	snprintf(p, sizeof(p), "%s/odd.img", tmpdir);
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK_INT(i2k_sink_file_new(fd, 0, 40000, "odd", &s, &e), 0);
	CHECK_INT(i2k_isohybrid_bios(s, NULL, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "odd: 40000 bytes: not a multiple of 2048");
	i2k_error_free(e);
	i2k_sink_free(s);
}

/* ---- isoboot ---------------------------------------------------------------------- */
static int tmp_with(const char *name, const void *data, size_t len)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		return -1;
	lseek(fd, 0, SEEK_SET);
	return fd;
}

TEST(isoboot_image)
{
	_cleanup_free_ uint8_t *kernel = pattern(100000, 7);
	_cleanup_free_ uint8_t *initrd = pattern(50000, 8);
	_cleanup_close_ int kfd = tmp_with("kernel", kernel, 100000);
	_cleanup_close_ int ifd = tmp_with("initrd", initrd, 50000);
	char img[512], img2[512], cmd[1200];
	snprintf(img, sizeof(img), "%s/boot.iso", tmpdir);
	snprintf(img2, sizeof(img2), "%s/boot2.iso", tmpdir);
	_cleanup_close_ int ofd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct i2k_isoboot_opts o = {
	    .bios = true, .hybrid = true, .cmdline = "console=ttyS0 quiet", .volume_id = "web"};
	struct i2k_error *e = NULL;
	uint64_t size = 0;
	CHECK_INT(i2k_isoboot_write_fd(kfd, ifd, &o, ofd, &size, &e), 0);
	if (e)
		fprintf(stderr, "  %s\n", e->msg);
	CHECK_INT(size, 1 << 20);
	struct stat st;
	CHECK(fstat(ofd, &st) == 0 && (uint64_t)st.st_size == size);
	char *l =
	    xorriso(img, "-report_system_area plain -report_el_torito plain -find / -exec lsdl --");
	CHECK_CONTAINS(l, "Volume id    : 'WEB'");
	CHECK_CONTAINS(l, "MBR partition      :   1   0x80  0x17            0         2048");
	CHECK_CONTAINS(l, "El Torito img path :   1  /isolinux/isolinux.bin");
	CHECK_CONTAINS(l, "El Torito cat path : /isolinux/boot.cat");
	CHECK_CONTAINS(l, "'/isolinux/ldlinux.c32'");
	CHECK_CONTAINS(l, "-rw-r--r--    1 0        0          100000 Jan  1  1970 '/boot/kernel'");
	CHECK_CONTAINS(l, "'/boot/initrd.img'");
	free(l);
	CHECK(extracted_equals(img, "/boot/kernel", kernel, 100000));
	CHECK(extracted_equals(img, "/boot/initrd.img", initrd, 50000));
	const char *cfg = "SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n"
			  "  LINUX /boot/kernel\n  INITRD /boot/initrd.img\n"
			  "  APPEND console=ttyS0 quiet\n";
	CHECK(extracted_equals(img, "/isolinux/isolinux.cfg", cfg, strlen(cfg)));
	size_t ll = 0;
	_cleanup_free_ char *ld = read_all(I2K_LDLINUX_C32_DEFAULT, &ll);
	CHECK(ld && extracted_equals(img, "/isolinux/ldlinux.c32", ld, ll));

	/* byte-identical again */
	lseek(kfd, 0, SEEK_SET);
	lseek(ifd, 0, SEEK_SET);
	_cleanup_close_ int ofd2 = open(img2, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK_INT(i2k_isoboot_write_fd(kfd, ifd, &o, ofd2, &size, &e), 0);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", img, img2);
	CHECK_INT(run(cmd), 0);

	/* the two-step API into a bigger sink (a disk): MBR covers the image */
	lseek(kfd, 0, SEEK_SET);
	lseek(ifd, 0, SEEK_SET);
	o.min_size = 0;
	_cleanup_(i2k_isoboot_freep) struct i2k_isoboot *b = NULL;
	CHECK_INT(i2k_isoboot_new(kfd, ifd, &o, &b, &e), 0);
	CHECK_INT(i2k_isoboot_size(b), 1 << 20);
	struct i2k_sink *s = NULL;
	CHECK_INT(i2k_sink_tmpfile_new(4 << 20, "disk", &s, NULL, &e), 0);
	CHECK_INT(b ? i2k_isoboot_write(b, s, &e) : -1, 0);
	uint8_t mbr[512];
	CHECK_INT(i2k_sink_read_at(s, 0, mbr, sizeof(mbr), &e), 0);
	CHECK_INT(rd32(mbr + 446 + 12), 2048);
	i2k_sink_free(s);

	/* --size: a bigger image, rounded to 1 MiB */
	lseek(kfd, 0, SEEK_SET);
	lseek(ifd, 0, SEEK_SET);
	o.min_size = (5 << 20) + 7;
	CHECK_INT(i2k_isoboot_write_fd(kfd, ifd, &o, ofd2, &size, &e), 0);
	CHECK_INT(size, 6 << 20);
	i2k_error_free(e);
}

TEST(isoboot_efi_only)
{
	_cleanup_close_ int kfd = tmp_with("k2", "kernel", 6);
	_cleanup_close_ int ifd = tmp_with("i2", "initrd", 6);
	_cleanup_close_ int efd = tmp_with("e2", "EFI!", 4);
	char img[512];
	snprintf(img, sizeof(img), "%s/efi-only.iso", tmpdir);
	_cleanup_close_ int ofd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct i2k_isoboot_opts o = {.efi = true, .efi_fd = efd};
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_isoboot_write_fd(kfd, ifd, &o, ofd, NULL, &e), 0);
	char *l = xorriso(img, "-report_el_torito plain -find / -exec lsdl --");
	CHECK_CONTAINS(l, "El Torito boot img :   1  UEFI  y   none  0x0000  0x00      1");
	CHECK_CONTAINS(l, "El Torito img path :   1  /boot/efiboot.img");
	CHECK_CONTAINS(l, "El Torito cat path : /boot/boot.cat");
	CHECK(l && strstr(l, "isolinux") == NULL);
	free(l);
	i2k_error_free(e);
}

static void isoboot_err(const struct i2k_isoboot_opts *o, enum i2k_errc code, const char *msg)
{
	_cleanup_close_ int kfd = tmp_with("k3", "kernel", 6);
	_cleanup_close_ int ifd = tmp_with("i3", "initrd", 6);
	struct i2k_isoboot *b = NULL;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_isoboot_new(kfd, ifd, o, &b, &e), -1);
	CHECK(b == NULL);
	CHECK_INT(e ? e->code : 0, code);
	CHECK_CONTAINS(e ? e->msg : NULL, msg);
	i2k_error_free(e);
}

TEST(isoboot_errors)
{
	struct i2k_isoboot_opts o = {.bios = true, .cmdline = "a\nDEFAULT evil"};
	isoboot_err(&o, I2K_ERR_CONFIG, "kernel command line: contains a line break");
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	o.cmdline = big;
	isoboot_err(&o, I2K_ERR_CONFIG, "kernel command line: is longer than 2047 bytes");
	o = (struct i2k_isoboot_opts){.hybrid = true, .efi = true};
	isoboot_err(&o, I2K_ERR_CONFIG, "a hybrid image needs bios");
	o = (struct i2k_isoboot_opts){0};
	isoboot_err(&o, I2K_ERR_CONFIG, "no boot entry: set bios or efi");
	o = (struct i2k_isoboot_opts){.bios = true, .volume_id = "no/slash"};
	isoboot_err(&o, I2K_ERR_CONFIG, "volume id \"no/slash\"");
	/* data paths come in the options; the library reads no environment */
	o = (struct i2k_isoboot_opts){.bios = true, .isolinux_bin = "/nonexistent/isolinux.bin"};
	isoboot_err(&o, I2K_ERR_NOTFOUND, "reading isolinux.bin /nonexistent/isolinux.bin");
	o = (struct i2k_isoboot_opts){.bios = true, .ldlinux_c32 = "/nonexistent/ldlinux.c32"};
	isoboot_err(&o, I2K_ERR_NOTFOUND, "reading ldlinux.c32 /nonexistent/ldlinux.c32");
	o = (struct i2k_isoboot_opts){.bios = true, .hybrid = true, .mbr_path = "/nonexistent/mbr"};
	isoboot_err(&o, I2K_ERR_NOTFOUND, "reading MBR code /nonexistent/mbr");
}

int main(void)
{
	t_prog = "test_iso";
	make_tmpdir();
	struct i2k_error *e = NULL;
	if (i2k_spool_new(NULL, &spool, &e) < 0) {
		fprintf(stderr, "spool: %s\n", e->msg);
		return 1;
	}
	if (run("command -v xorriso >/dev/null") != 0 || access(ISOLINUX_BIN, R_OK) != 0 ||
	    run("command -v mkfs.vfat >/dev/null") != 0) {
		printf("FAIL: test_iso/oracles: xorriso, mkfs.vfat or isolinux not installed\n");
		return 1;
	}
	RUN(rock_ridge_tree_reads_back);
	RUN(plain_names_without_rock_ridge);
	RUN(reproducible_and_dated_from_source_date_epoch);
	RUN(size_align_and_small_sink);
	RUN(errors);
	RUN(el_torito_bios_with_boot_info_table);
	RUN(el_torito_bios_and_efi);
	RUN(el_torito_efi_count_zero_when_too_big);
	RUN(isohybrid_mbr);
	RUN(isohybrid_efi_partition_and_options);
	RUN(isohybrid_errors);
	RUN(isoboot_image);
	RUN(isoboot_efi_only);
	RUN(isoboot_errors);
	i2k_spool_free(spool);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
