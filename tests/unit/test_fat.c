/* test_fat.c — formats/fs/fat: FAT32 images checked with fsck.fat -n and
 * read back with mtools (mdir, mcopy, minfo); long and short names, ~N
 * tails, cluster sizes, minimum size, determinism, every error message. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "formats/fs/fat.h"
#include "formats/sink.h"
#include "test.h"
#include "testutil.h"

static struct i2k_spool *spool;

static void add(struct i2k_fstree *t, const char *path, uint32_t mode, const void *data,
		size_t size)
{
	struct i2k_error *err = NULL;
	uint64_t off = 0;
	struct i2k_fattr a = {.mode = mode, .mtime = 1700000000};
	if (data && i2k_spool_append(spool, data, size, &off, &err) < 0)
		goto fail;
	if (i2k_fstree_add(t, path, &a, S_ISLNK(mode) ? "target" : NULL, off, data ? size : 0,
			   I2K_FSTREE_MKPARENTS, NULL, &err) < 0)
		goto fail;
	return;
fail:
	fprintf(stderr, "  add %s: %s\n", path, err->msg);
	exit(1);
}

static void addstr(struct i2k_fstree *t, const char *path, const char *s)
{
	add(t, path, S_IFREG | 0644, s, strlen(s));
}

/* A pattern that differs per offset, so misplaced clusters show. */
static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
	return b;
}

static struct i2k_fstree *esp_tree(void)
{
	struct i2k_fstree *t = i2k_fstree_new(spool);
	_cleanup_free_ uint8_t *efi = pattern(300000, 1); /* many 512-byte clusters */
	add(t, "EFI/BOOT/BOOTX64.EFI", S_IFREG | 0644, efi, 300000);
	addstr(t, "UPPER.TXT", "exact 8.3 name\n");
	addstr(t, "ReadMe.txt", "mixed case\n");
	addstr(t, "loader/entries/i2kit long name.conf", "title i2kit\n");
	addstr(t, "caf\xc3\xa9 \xc3\xbc.txt", "unicode\n");
	addstr(t, "smile \xf0\x9f\x98\x80", "surrogates\n"); /* U+1F600: D83D DE00 */
	addstr(t, ".hidden", "dot file\n");
	add(t, "empty", S_IFREG | 0644, NULL, 0);
	add(t, "emptydir", S_IFDIR | 0755, NULL, 0);
	add(t, "ro.txt", S_IFREG | 0444, "read only", 9);
	char name[64];
	for (int i = 1; i <= 12; i++) {
		snprintf(name, sizeof(name), "many/longfilename-%02d.txt", i);
		addstr(t, name, name);
	}
	/* 40 entries in one directory: its entries span several clusters */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "big/a rather long file name number %02d", i);
		addstr(t, name, name + 4);
	}
	return t;
}

/* Writes tree to tmpdir/name with a file sink of size bytes. */
static int write_img(struct i2k_fstree *t, const struct i2k_fat_opts *o, const char *name,
		     uint64_t size, char *path, size_t pathlen, struct i2k_error **err)
{
	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct i2k_sink *s = NULL;
	if (fd < 0 || i2k_sink_file_new(fd, 0, size, "ESP", &s, err) < 0)
		return -1;
	int r = i2k_fat_write(t, o, s, err);
	if (r == 0)
		r = i2k_sink_finish(s, err);
	i2k_sink_free(s);
	return r;
}

static bool same_as(const char *img, const char *fatpath, const void *data, size_t len)
{
	char cmd[1024], out[512];
	snprintf(out, sizeof(out), "%s/mcopy.out", tmpdir);
	snprintf(cmd, sizeof(cmd), "mcopy -n -i %s '::%s' %s", img, fatpath, out);
	if (run(cmd) != 0)
		return false;
	char *got = NULL;
	size_t glen = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(out, 1 << 26, &got, &glen, &e) < 0) {
		i2k_error_free(e);
		return false;
	}
	bool ok = glen == len && memcmp(got, data, len) == 0;
	free(got);
	return ok;
}

TEST(esp_passes_fsck_and_reads_back)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = esp_tree();
	struct i2k_error *e = NULL;
	uint64_t size = i2k_fat_size_for(t);
	CHECK_INT(size, 33 << 20); /* the FAT32 minimum, in MiB */
	char img[512], cmd[1024];
	struct i2k_fat_opts o = {.label = "i2kit-esp", .volume_id = 0x1234abcd};
	CHECK_INT(write_img(t, &o, "esp.img", size, img, sizeof(img), &e), 0);
	if (e)
		fprintf(stderr, "  %s\n", e->msg);
	snprintf(cmd, sizeof(cmd), "fsck.fat -n %s 2>&1", img);
	char *fsck = capture(cmd);
	CHECK(fsck != NULL);
	CHECK_CONTAINS(fsck, "69 files, 666/66496 clusters");
	if (fsck && strstr(fsck, "differ"))
		fprintf(stderr, "  fsck: %s\n", fsck);
	CHECK(fsck == NULL || strstr(fsck, "differ") == NULL);
	free(fsck);

	snprintf(cmd, sizeof(cmd), "mdir -i %s ::/EFI/BOOT", img);
	char *dir = capture(cmd);
	CHECK_CONTAINS(dir, "BOOTX64  EFI    300000");
	CHECK_CONTAINS(dir, "Volume in drive : is I2KIT-ESP");
	CHECK_CONTAINS(dir, "Volume Serial Number is 1234-ABCD");
	free(dir);

	_cleanup_free_ uint8_t *efi = pattern(300000, 1);
	CHECK(same_as(img, "/EFI/BOOT/BOOTX64.EFI", efi, 300000));
	CHECK(same_as(img, "/efi/boot/bootx64.efi", efi, 300000)); /* case-insensitive */
	CHECK(same_as(img, "/loader/entries/i2kit long name.conf", "title i2kit\n", 12));
	CHECK(same_as(img, "/caf\xc3\xa9 \xc3\xbc.txt", "unicode\n", 8));
	/* mtools does not decode surrogate pairs: look for the LFN bytes */
	char *raw = NULL;
	size_t rawlen = 0;
	CHECK_INT(i2k_read_file(img, 64 << 20, &raw, &rawlen, &e), 0);
	CHECK(raw && memmem(raw, rawlen, " \0\x3d\xd8\x00\xde\0\0\xff\xff", 10));
	free(raw);
	CHECK(same_as(img, "/.hidden", "dot file\n", 9));
	CHECK(same_as(img, "/empty", "", 0));
	CHECK(same_as(img, "/big/a rather long file name number 39",
		      "a rather long file name number 39", 33));

	/* short names: exact 8.3 keeps its name, case-only keeps the upper-case
	 * basis, long names get ~N tails in sorted order */
	snprintf(cmd, sizeof(cmd), "mdir -i %s ::/", img);
	dir = capture(cmd);
	CHECK_CONTAINS(dir, "UPPER    TXT");
	CHECK_CONTAINS(dir, "README   TXT");
	CHECK_CONTAINS(dir, "ReadMe.txt");
	CHECK_CONTAINS(dir, "HIDDEN~1");
	CHECK_CONTAINS(dir, "emptydir");
	free(dir);
	snprintf(cmd, sizeof(cmd), "mdir -i %s ::/many", img);
	dir = capture(cmd);
	CHECK_CONTAINS(dir, "LONGFI~1 TXT");
	CHECK_CONTAINS(dir, "LONGFI~9 TXT");
	CHECK_CONTAINS(dir, "LONGF~10 TXT");
	CHECK_CONTAINS(dir, "longfilename-12.txt");
	free(dir);
	/* mattrib: read-only files carry the R attribute */
	snprintf(cmd, sizeof(cmd), "mattrib -i %s ::/ro.txt", img);
	char *attr = capture(cmd);
	CHECK(attr && strchr(attr, 'R') && strchr(attr, 'R') < strstr(attr, "::"));
	free(attr);
	i2k_error_free(e);
}

TEST(reproducible_and_content_volume_id)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = esp_tree();
	struct i2k_error *e = NULL;
	char a[512], b[512], cmd[1200];
	uint64_t size = 40 << 20;
	CHECK_INT(write_img(t, NULL, "r1.img", size, a, sizeof(a), &e), 0);
	CHECK_INT(write_img(t, NULL, "r2.img", size, b, sizeof(b), &e), 0);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a, b);
	CHECK_INT(run(cmd), 0);
	/* a different file content gives a different volume id */
	addstr(t, "extra", "x");
	CHECK_INT(write_img(t, NULL, "r3.img", size, b, sizeof(b), &e), 0);
	snprintf(cmd, sizeof(cmd), "minfo -i %s | grep 'serial number'", a);
	char *s1 = capture(cmd);
	snprintf(cmd, sizeof(cmd), "minfo -i %s | grep 'serial number'", b);
	char *s2 = capture(cmd);
	CHECK(s1 && s2 && strcmp(s1, s2) != 0);
	snprintf(cmd, sizeof(cmd), "minfo -i %s", a);
	char *info = capture(cmd);
	CHECK_CONTAINS(info, "disk type=\"FAT32   \"");
	CHECK_CONTAINS(info, "banner:\"I2KIT   \"");
	CHECK_CONTAINS(info, "cluster size: 1 sectors");
	CHECK_CONTAINS(info, "disk label=\"NO NAME    \"");
	free(info);
	free(s1);
	free(s2);
	snprintf(cmd, sizeof(cmd), "fsck.fat -n %s >/dev/null 2>&1", b);
	CHECK_INT(run(cmd), 0);
	i2k_error_free(e);
}

TEST(min_size_and_too_small)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	size_t big = 36 << 20; /* more than the 33 MiB minimum holds */
	_cleanup_free_ uint8_t *data = pattern(big, 7);
	add(t, "EFI/BOOT/BOOTX64.EFI", S_IFREG | 0644, data, big);
	struct i2k_error *e = NULL;
	uint64_t size = 0;
	CHECK_INT(i2k_fat_min_size(t, &size, &e), 0);
	CHECK(size > big && size % (1 << 20) == 0 && size < big + (2 << 20));
	char img[512], cmd[1024];
	CHECK_INT(write_img(t, NULL, "exact.img", size, img, sizeof(img), &e), 0);
	snprintf(cmd, sizeof(cmd), "fsck.fat -n %s >/dev/null 2>&1", img);
	CHECK_INT(run(cmd), 0);
	CHECK(same_as(img, "/EFI/BOOT/BOOTX64.EFI", data, big));
	CHECK_INT(write_img(t, NULL, "small.img", size - (1 << 20), img, sizeof(img), &e), -1);
	char want[200];
	snprintf(want, sizeof(want),
		 "FAT file system of %llu bytes is too small: the files need "
		 "at least %llu bytes",
		 (unsigned long long)(size - (1 << 20)), (unsigned long long)size);
	CHECK_CONTAINS(e ? e->msg : NULL, want);
	CHECK_INT(e ? e->code : 0, I2K_ERR_CONFIG);
	i2k_error_free(e);
	e = NULL;
	/* below the FAT32 minimum even for an empty tree */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *empty = i2k_fstree_new(spool);
	CHECK_INT(write_img(empty, NULL, "tiny.img", 32 << 20, img, sizeof(img), &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "at least 34603008 bytes");
	i2k_error_free(e);
}

TEST(larger_clusters)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = esp_tree();
	struct i2k_error *e = NULL;
	char img[512], cmd[1024];
	CHECK_INT(write_img(t, NULL, "big.img", 300ull << 20, img, sizeof(img), &e), 0);
	snprintf(cmd, sizeof(cmd), "minfo -i %s", img);
	char *info = capture(cmd);
	CHECK_CONTAINS(info, "cluster size: 8 sectors");
	free(info);
	snprintf(cmd, sizeof(cmd), "fsck.fat -n %s >/dev/null 2>&1", img);
	CHECK_INT(run(cmd), 0);
	_cleanup_free_ uint8_t *efi = pattern(300000, 1);
	CHECK(same_as(img, "/EFI/BOOT/BOOTX64.EFI", efi, 300000));
	CHECK(same_as(img, "/big/a rather long file name number 07",
		      "a rather long file name number 07", 33));
	/* the unused part stays sparse */
	struct stat st;
	CHECK(stat(img, &st) == 0 && (uint64_t)st.st_blocks * 512 < (8u << 20));
	i2k_error_free(e);
}

static void expect_error(struct i2k_fstree *t, const struct i2k_fat_opts *o, const char *msg,
			 enum i2k_errc code)
{
	struct i2k_error *e = NULL;
	char img[512];
	CHECK_INT(write_img(t, o, "bad.img", 40 << 20, img, sizeof(img), &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, msg);
	CHECK_INT(e ? e->code : 0, code);
	i2k_error_free(e);
	e = NULL;
	uint64_t size = 1;
	if (!o) {
		CHECK_INT(i2k_fat_min_size(t, &size, &e), -1);
		CHECK_CONTAINS(e ? e->msg : NULL, msg);
		CHECK_INT(i2k_fat_size_for(t), 0);
		i2k_error_free(e);
	}
}

TEST(errors)
{
	struct {
		const char *path;
		uint32_t mode;
		const char *msg;
	} cases[] = {
	    {"dir/link", S_IFLNK | 0777, "dir/link: FAT cannot hold symlinks"},
	    {"fifo", S_IFIFO | 0644, "fifo: FAT cannot hold special files"},
	    {"a:b", S_IFREG | 0644, "a:b: character ':' is not allowed in FAT names"},
	    {"tab\there", S_IFREG | 0644, "character '\\x?' is not allowed"},
	    {"dot.", S_IFREG | 0644, "dot.: FAT names cannot end with '.' or ' '"},
	    {"bad\xff.txt", S_IFREG | 0644, "bad\xff.txt: name is not valid UTF-8"},
	    {"README.TXT", S_IFREG | 0644, "differs only in case"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(cases); i++) {
		_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
		addstr(t, "readme.txt", "x");
		add(t, cases[i].path, cases[i].mode, S_ISREG(cases[i].mode) ? "y" : NULL, 1);
		expect_error(t, NULL, cases[i].msg, I2K_ERR_UNSUPPORTED);
	}
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	char longname[300];
	memset(longname, 'x', 256);
	longname[256] = 0;
	add(t, longname, S_IFREG | 0644, NULL, 0);
	expect_error(t, NULL, "name is longer than 255 UTF-16 units", I2K_ERR_UNSUPPORTED);

	_cleanup_(i2k_fstree_freep) struct i2k_fstree *huge = i2k_fstree_new(spool);
	struct i2k_fattr a = {.mode = S_IFREG | 0644};
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_fstree_add(huge, "huge", &a, NULL, 0, 5ull << 30, 0, NULL, &e), 0);
	expect_error(huge, NULL, "huge: FAT cannot hold files of 4 GiB or more",
		     I2K_ERR_UNSUPPORTED);

	_cleanup_(i2k_fstree_freep) struct i2k_fstree *ok = i2k_fstree_new(spool);
	struct i2k_fat_opts o = {.label = "TWELVE CHARS"};
	expect_error(ok, &o, "bad FAT volume label 'TWELVE CHARS'", I2K_ERR_CONFIG);
	o.label = "a*b";
	expect_error(ok, &o, "bad FAT volume label 'a*b'", I2K_ERR_CONFIG);

	/* 22000 long names need 66000 entries: more than a directory holds */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *wide = i2k_fstree_new(spool);
	for (int i = 0; i < 22000; i++) {
		char n[64];
		snprintf(n, sizeof(n), "d/file-%05d.data", i);
		add(wide, n, S_IFREG | 0644, NULL, 0);
	}
	expect_error(wide, NULL, "d: too many entries for a FAT directory", I2K_ERR_UNSUPPORTED);
	i2k_error_free(e);
}

int main(void)
{
	t_prog = "test_fat";
	make_tmpdir();
	struct i2k_error *e = NULL;
	if (i2k_spool_new(tmpdir, &spool, &e) < 0) {
		fprintf(stderr, "spool: %s\n", e->msg);
		return 1;
	}
	if (run("command -v fsck.fat mdir mcopy minfo mattrib >/dev/null") != 0) {
		printf("FAIL: test_fat/oracles: fsck.fat or mtools missing (counts as failed)\n");
		return 1;
	}
	RUN(esp_passes_fsck_and_reads_back);
	RUN(reproducible_and_content_volume_id);
	RUN(min_size_and_too_small);
	RUN(larger_clusters);
	RUN(errors);
	i2k_spool_free(spool);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
