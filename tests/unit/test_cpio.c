/* test_cpio.c — initrd/cpio: newc bytes, GNU cpio as oracle, hard links,
 * filters, determinism, misuse errors. */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "initrd/cpio.h"
#include "test.h"
#include "testutil.h"

static void add(struct i2k_fstree *t, const char *path, uint32_t mode, const char *data,
		const char *target, struct i2k_inode **out)
{
	struct i2k_error *err = NULL;
	uint64_t off = 0, size = 0;
	if (data) {
		size = strlen(data);
		if (i2k_spool_append(i2k_fstree_spool(t), data, size, &off, &err) < 0)
			goto fail;
	}
	struct i2k_fattr a = {.mode = mode, .uid = 1000, .gid = 100, .mtime = 1700000000};
	if ((mode & S_IFMT) == S_IFCHR) {
		a.rdev_major = 1;
		a.rdev_minor = 3;
	}
	if (i2k_fstree_add(t, path, &a, target, off, size, I2K_FSTREE_MKPARENTS, out, &err) < 0)
		goto fail;
	return;
fail:
	fprintf(stderr, "  add %s: %s\n", path, err->msg);
	i2k_error_free(err);
	exit(1);
}

static void link_(struct i2k_fstree *t, const char *path, const char *existing)
{
	struct i2k_error *err = NULL;
	if (i2k_fstree_link(t, path, existing, I2K_FSTREE_MKPARENTS, &err) < 0) {
		fprintf(stderr, "  link %s: %s\n", path, err->msg);
		exit(1);
	}
}

/* The common test tree. */
static struct i2k_fstree *make_tree(struct i2k_spool *sp)
{
	struct i2k_fstree *t = i2k_fstree_new(sp);
	add(t, "bin", S_IFDIR | 0755, NULL, NULL, NULL);
	add(t, "bin/busybox", S_IFREG | 04755, "#!busybox binary\n", NULL, NULL);
	add(t, "bin/sh", S_IFLNK | 0777, NULL, "busybox", NULL);
	add(t, "etc/hostname", S_IFREG | 0644, "i2kit\n", NULL, NULL);
	add(t, "etc/empty", S_IFREG | 0600, NULL, NULL, NULL);
	add(t, "etc/odd", S_IFREG | 0640, "12345", NULL, NULL); /* size not a multiple of 4 */
	add(t, "usr/lib/libx.so", S_IFREG | 0755, "ELF-ish data that is shared", NULL, NULL);
	link_(t, "usr/lib/libx.so.1", "usr/lib/libx.so");
	link_(t, "lib/libx-link.so", "usr/lib/libx.so");
	add(t, "dev/null", S_IFCHR | 0666, NULL, NULL, NULL);
	add(t, "run/fifo", S_IFIFO | 0600, NULL, NULL, NULL);
	add(t, "tmp", S_IFDIR | 01777, NULL, NULL, NULL);
	add(t, "boot/kernel", S_IFREG | 0644, "KERNEL", NULL, NULL);
	add(t, "boot/cmdline", S_IFREG | 0644, "console=ttyS0", NULL, NULL);
	add(t, "boot/extra/file", S_IFREG | 0644, "dropped", NULL, NULL);
	return t;
}

static int write_tree(struct i2k_fstree *t, const struct i2k_cpio_tree_opts *o, struct membuf *m)
{
	struct i2k_error *err = NULL;
	memset(m, 0, sizeof(*m));
	int r = i2k_cpio_write_tree(t, o, mem_stream(m), &err);
	if (r < 0) {
		fprintf(stderr, "  cpio_write_tree: %s\n", err->msg);
		i2k_error_free(err);
	}
	return r;
}

static uint32_t hexfield(const unsigned char *h, int idx)
{
	char s[9];
	memcpy(s, h + 6 + 8 * idx, 8);
	s[8] = 0;
	return (uint32_t)strtoul(s, NULL, 16);
}

/* Finds the header of entry `name` in an uncompressed archive. */
static const unsigned char *find_entry(const struct membuf *m, const char *name, size_t *data_off)
{
	size_t off = 0;
	while (off + 110 <= m->len) {
		const unsigned char *h = m->data + off;
		if (memcmp(h, "070701", 6) != 0)
			return NULL;
		uint32_t namesize = hexfield(h, 11), filesize = hexfield(h, 6);
		size_t doff = (off + 110 + namesize + 3) & ~(size_t)3;
		if (strcmp((const char *)h + 110, name) == 0) {
			if (data_off)
				*data_off = doff;
			return h;
		}
		off = (doff + filesize + 3) & ~(size_t)3;
	}
	return NULL;
}

/* ---- tests --------------------------------------------------------------- */

TEST(header_bytes)
{
	struct membuf m = {0};
	struct i2k_error *err = NULL;
	struct i2k_cpio_writer *w = NULL;
	CHECK(i2k_cpio_writer_new(mem_stream(&m), &w, &err) == 0);
	struct i2k_cpio_entry e = {.name = "etc/motd",
				   .ino = 0x2a,
				   .mode = S_IFREG | 0644,
				   .uid = 0,
				   .gid = 0,
				   .nlink = 1,
				   .mtime = 0x12345678,
				   .size = 5};
	CHECK(i2k_cpio_writer_add(w, &e, &err) == 0);
	CHECK(i2k_cpio_writer_data(w, "hello", 5, &err) == 0);
	CHECK(i2k_cpio_writer_finish(w, &err) == 0);
	const char *want = "070701"
			   "0000002A"	/* ino */
			   "000081A4"	/* mode */
			   "00000000"	/* uid */
			   "00000000"	/* gid */
			   "00000001"	/* nlink */
			   "12345678"	/* mtime */
			   "00000005"	/* filesize */
			   "00000000"	/* devmajor */
			   "00000000"	/* devminor */
			   "00000000"	/* rdevmajor */
			   "00000000"	/* rdevminor */
			   "00000009"	/* namesize */
			   "00000000"	/* check */
			   "etc/motd\0" /* 110 + 9 = 119 → pad to 120 */
			   "\0"
			   "hello\0\0\0";
	CHECK(m.len >= 128);
	CHECK(memcmp(m.data, want, 128) == 0);
	/* trailer */
	const char *trailer = "070701"
			      "00000000000000000000000000000000"
			      "00000001"
			      "0000000000000000000000000000000000000000000000000000000"
			      "B00000000TRAILER!!!\0";
	CHECK(m.len == 128 + 110 + 11 + 3);
	CHECK(memcmp(m.data + 128, trailer, 110 + 11) == 0);
	CHECK_INT(m.data[m.len - 1], 0);
	CHECK_INT(i2k_cpio_writer_bytes(w), m.len);
	i2k_cpio_writer_free(w);
	free(m.data);
}

TEST(writer_misuse)
{
	struct membuf m = {0};
	struct i2k_error *err = NULL;
	struct i2k_cpio_writer *w = NULL;
	CHECK(i2k_cpio_writer_new(mem_stream(&m), &w, &err) == 0);
	struct i2k_cpio_entry e = {.name = "a", .mode = S_IFREG | 0644, .nlink = 1, .size = 3};
	CHECK(i2k_cpio_writer_add(w, &e, &err) == 0);
	CHECK(i2k_cpio_writer_data(w, "abcd", 4, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "cpio: 4 data bytes given, 3 expected");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_cpio_writer_data(w, "ab", 2, &err) == 0);
	CHECK(i2k_cpio_writer_add(w, &e, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "cpio: previous entry is missing 1 data bytes");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_cpio_writer_finish(w, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "cpio: previous entry is missing 1 data bytes");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_cpio_writer_data(w, "c", 1, &err) == 0);
	struct i2k_cpio_entry bad = {.name = "/abs", .mode = S_IFREG, .nlink = 1};
	CHECK(i2k_cpio_writer_add(w, &bad, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "cpio: invalid entry name \"/abs\"");
	i2k_error_free(err);
	err = NULL;
	bad.name = "";
	CHECK(i2k_cpio_writer_add(w, &bad, &err) < 0);
	i2k_error_free(err);
	err = NULL;
	struct i2k_cpio_entry big = {
	    .name = "big", .mode = S_IFREG | 0644, .nlink = 1, .size = 0x100000000ULL};
	CHECK(i2k_cpio_writer_add(w, &big, &err) < 0);
	CHECK(err && err->code == I2K_ERR_UNSUPPORTED);
	CHECK_STR(err ? err->msg : NULL,
		  "big: file too large for cpio (4294967296 bytes, max 4 GiB - 1)");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_cpio_writer_finish(w, &err) == 0);
	CHECK(i2k_cpio_writer_add(w, &e, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "cpio: write after finish");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_cpio_writer_finish(w, &err) < 0);
	i2k_error_free(err);
	i2k_cpio_writer_freep(&w);
	CHECK(w == NULL);
	free(m.data);
}

TEST(tree_extracts_with_gnu_cpio)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_tree(sp);
	struct membuf m;
	CHECK(write_tree(t, NULL, &m) == 0);
	CHECK_INT(m.len % 4, 0);
	char path[512], cmd[1500];
	CHECK(save("all.cpio", &m, path, sizeof(path)) == 0);

	/* cpio -t lists every entry in walk order, no root, no trailing '/' */
	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < %s > %s/list.txt", path, tmpdir);
	CHECK_INT(run(cmd), 0);
	char lpath[600];
	snprintf(lpath, sizeof(lpath), "%s/list.txt", tmpdir);
	char *list = read_text(lpath);
	CHECK_STR(list, "bin\nbin/busybox\nbin/sh\nboot\nboot/cmdline\nboot/extra\n"
			"boot/extra/file\nboot/kernel\ndev\ndev/null\netc\netc/empty\n"
			"etc/hostname\netc/odd\nlib\nlib/libx-link.so\nrun\nrun/fifo\ntmp\n"
			"usr\nusr/lib\nusr/lib/libx.so\nusr/lib/libx.so.1\n");
	free(list);

	/* extract (as root: owners, devices) and compare */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/x && cd %s/x && cpio -idm --quiet --no-absolute-filenames < %s",
		 tmpdir, tmpdir, path);
	CHECK_INT(run(cmd), 0);
	struct stat st, st2, st3;
	char p[600];
	snprintf(p, sizeof(p), "%s/x/bin/busybox", tmpdir);
	CHECK(stat(p, &st) == 0);
	CHECK_INT(st.st_mode, S_IFREG | 04755);
	CHECK_INT(st.st_size, 17);
	CHECK_INT(st.st_mtime, 1700000000);
	if (geteuid() == 0) {
		CHECK_INT(st.st_uid, 1000);
		CHECK_INT(st.st_gid, 100);
	}
	snprintf(p, sizeof(p), "%s/x/bin/sh", tmpdir);
	char target[64] = {0};
	CHECK(readlink(p, target, sizeof(target) - 1) == 7);
	CHECK_STR(target, "busybox");
	snprintf(p, sizeof(p), "%s/x/etc/odd", tmpdir);
	char *odd = read_text(p);
	CHECK_STR(odd, "12345");
	free(odd);
	snprintf(p, sizeof(p), "%s/x/etc/empty", tmpdir);
	CHECK(stat(p, &st) == 0 && st.st_size == 0 && (st.st_mode & 07777) == 0600);
	snprintf(p, sizeof(p), "%s/x/tmp", tmpdir);
	CHECK(stat(p, &st) == 0 && st.st_mode == (S_IFDIR | 01777));
	snprintf(p, sizeof(p), "%s/x/run/fifo", tmpdir);
	CHECK(stat(p, &st) == 0 && S_ISFIFO(st.st_mode));
	if (geteuid() == 0) {
		snprintf(p, sizeof(p), "%s/x/dev/null", tmpdir);
		CHECK(stat(p, &st) == 0 && S_ISCHR(st.st_mode));
		CHECK(major(st.st_rdev) == 1 && minor(st.st_rdev) == 3);
	}
	/* hard links: data on the first name, all three names one inode */
	snprintf(p, sizeof(p), "%s/x/lib/libx-link.so", tmpdir);
	CHECK(stat(p, &st) == 0);
	snprintf(p, sizeof(p), "%s/x/usr/lib/libx.so", tmpdir);
	CHECK(stat(p, &st2) == 0);
	snprintf(p, sizeof(p), "%s/x/usr/lib/libx.so.1", tmpdir);
	CHECK(stat(p, &st3) == 0);
	CHECK(st.st_ino == st2.st_ino && st2.st_ino == st3.st_ino);
	CHECK_INT(st.st_nlink, 3);
	CHECK_INT(st.st_size, 27);
	char *lib = read_text(p);
	CHECK_STR(lib, "ELF-ish data that is shared");
	free(lib);

	/* the bytes: first name has data, later names size 0, same ino/nlink */
	size_t doff = 0;
	const unsigned char *h1 = find_entry(&m, "lib/libx-link.so", &doff);
	const unsigned char *h2 = find_entry(&m, "usr/lib/libx.so", NULL);
	const unsigned char *h3 = find_entry(&m, "usr/lib/libx.so.1", NULL);
	CHECK(h1 && h2 && h3);
	if (h1 && h2 && h3) {
		CHECK_INT(hexfield(h1, 6), 27);
		CHECK(memcmp(m.data + doff, "ELF-ish", 7) == 0);
		CHECK_INT(hexfield(h2, 6), 0);
		CHECK_INT(hexfield(h3, 6), 0);
		CHECK_INT(hexfield(h1, 4), 3);
		CHECK_INT(hexfield(h3, 4), 3);
		CHECK(hexfield(h1, 0) == hexfield(h2, 0) && hexfield(h1, 0) == hexfield(h3, 0));
	}
	const unsigned char *hd = find_entry(&m, "dev/null", NULL);
	CHECK(hd && hexfield(hd, 9) == 1 && hexfield(hd, 10) == 3);
	CHECK(hd && hexfield(hd, 7) == 0 && hexfield(hd, 8) == 0);
	/* every entry has a distinct ino unless hard-linked */
	const unsigned char *hb = find_entry(&m, "bin/busybox", NULL);
	const unsigned char *hs = find_entry(&m, "bin/sh", NULL);
	CHECK(hb && hs && hexfield(hb, 0) != hexfield(hs, 0));
	CHECK(hs && hexfield(hs, 6) == 7);

	/* deterministic */
	struct membuf m2;
	CHECK(write_tree(t, NULL, &m2) == 0);
	CHECK(m.len == m2.len && memcmp(m.data, m2.data, m.len) == 0);
	free(m2.data);
	free(m.data);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

TEST(linuxkit_filter_leaves_out_boot_files)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_tree(sp);
	struct membuf m;
	struct i2k_cpio_tree_opts o = {.filter = i2k_cpio_filter_linuxkit};
	CHECK(write_tree(t, &o, &m) == 0);
	CHECK(find_entry(&m, "boot", NULL) != NULL);
	CHECK(find_entry(&m, "boot/kernel", NULL) == NULL);
	CHECK(find_entry(&m, "boot/cmdline", NULL) == NULL);
	CHECK(find_entry(&m, "boot/extra", NULL) == NULL);
	CHECK(find_entry(&m, "boot/extra/file", NULL) == NULL);
	CHECK(find_entry(&m, "etc/hostname", NULL) != NULL);
	CHECK(find_entry(&m, "TRAILER!!!", NULL) != NULL);
	CHECK(i2k_cpio_filter_linuxkit("boot", NULL, NULL));
	CHECK(!i2k_cpio_filter_linuxkit("boot/ucode.cpio", NULL, NULL));
	CHECK(i2k_cpio_filter_linuxkit("bootx/a", NULL, NULL));
	free(m.data);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

static bool skip_first_link(const char *path, const struct i2k_inode *ino, void *ctx)
{
	(void)ino;
	(void)ctx;
	return strcmp(path, "lib/libx-link.so") != 0;
}

TEST(filter_recounts_links_and_moves_data)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_tree(sp);
	struct membuf m;
	struct i2k_cpio_tree_opts o = {.filter = skip_first_link};
	CHECK(write_tree(t, &o, &m) == 0);
	CHECK(find_entry(&m, "lib/libx-link.so", NULL) == NULL);
	size_t doff = 0;
	const unsigned char *h2 = find_entry(&m, "usr/lib/libx.so", &doff);
	const unsigned char *h3 = find_entry(&m, "usr/lib/libx.so.1", NULL);
	CHECK(h2 && h3);
	if (h2 && h3) {
		CHECK_INT(hexfield(h2, 4), 2);
		CHECK_INT(hexfield(h3, 4), 2);
		CHECK_INT(hexfield(h2, 6), 27);
		CHECK(memcmp(m.data + doff, "ELF-ish", 7) == 0);
		CHECK_INT(hexfield(h3, 6), 0);
	}
	char path[512], cmd[1500];
	CHECK(save("filtered.cpio", &m, path, sizeof(path)) == 0);
	snprintf(
	    cmd, sizeof(cmd),
	    "mkdir -p %s/y && cd %s/y && cpio -idm --quiet --no-absolute-filenames < %s && "
	    "cmp usr/lib/libx.so usr/lib/libx.so.1 && test \"$(stat -c %%h usr/lib/libx.so)\" = 2",
	    tmpdir, tmpdir, path);
	CHECK_INT(run(cmd), 0);
	free(m.data);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

static bool only_microcode(const char *path, const struct i2k_inode *ino, void *ctx)
{
	(void)ino;
	(void)ctx;
	return strcmp(path, "kernel") == 0 || i2k_str_has_prefix(path, "kernel/");
}

TEST(standalone_subset_archive)
{
	/* An early-microcode style archive: a subset of a tree, uncompressed. */
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = i2k_fstree_new(sp);
	add(t, "kernel/x86/microcode/GenuineIntel.bin", S_IFREG | 0644, "UCODE", NULL, NULL);
	add(t, "lib/other", S_IFREG | 0644, "x", NULL, NULL);
	struct membuf m;
	struct i2k_cpio_tree_opts o = {.filter = only_microcode};
	CHECK(write_tree(t, &o, &m) == 0);
	char path[512], cmd[1500];
	CHECK(save("ucode.cpio", &m, path, sizeof(path)) == 0);
	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < %s > %s/ulist.txt", path, tmpdir);
	CHECK_INT(run(cmd), 0);
	char lpath[600];
	snprintf(lpath, sizeof(lpath), "%s/ulist.txt", tmpdir);
	char *list = read_text(lpath);
	CHECK_STR(list, "kernel\nkernel/x86\nkernel/x86/microcode\n"
			"kernel/x86/microcode/GenuineIntel.bin\n");
	free(list);
	free(m.data);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

static char warned[512];
static void capture_warn(const char *msg, void *ctx)
{
	(void)ctx;
	snprintf(warned, sizeof(warned), "%s", msg);
}

TEST(xattrs_dropped_with_warning_and_interrupt)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = i2k_fstree_new(sp);
	struct i2k_inode *in = NULL;
	add(t, "bin/ping", S_IFREG | 0755, "ping", NULL, &in);
	i2k_inode_set_xattr(in, "security.capability", "\x01\x00\x00\x02", 4);
	i2k_inode_set_xattr(in, "user.x", "y", 1);
	i2k_set_warn_handler(capture_warn, NULL);
	warned[0] = 0;
	struct membuf m;
	CHECK(write_tree(t, NULL, &m) == 0);
	CHECK_STR(warned,
		  "cpio: 2 extended attributes dropped (the newc format cannot carry them)");
	i2k_set_warn_handler(NULL, NULL);
	free(m.data);

	i2k_interrupted = 1;
	memset(&m, 0, sizeof(m));
	CHECK(i2k_cpio_write_tree(t, NULL, mem_stream(&m), &err) < 0);
	CHECK(err && err->code == I2K_ERR_INTERRUPTED);
	i2k_interrupted = 0;
	i2k_error_free(err);
	free(m.data);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

int main(void)
{
	t_prog = "test_cpio";
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/i2k-test-cpio-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(header_bytes);
	RUN(writer_misuse);
	RUN(tree_extracts_with_gnu_cpio);
	RUN(linuxkit_filter_leaves_out_boot_files);
	RUN(filter_recounts_links_and_moves_data);
	RUN(standalone_subset_archive);
	RUN(xattrs_dropped_with_warning_and_interrupt);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
