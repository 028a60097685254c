/* test_fstree.c — builder/fstree: spool, tree operations, whiteout
 * generations, graft, finalize, walk order and the listing format. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "builder/fstree/nodemem.h"
#include "tests/unit/test.h"

static struct i2k_spool *new_spool(void)
{
	struct i2k_spool *s = NULL;
	struct i2k_error *err = NULL;
	if (i2k_spool_new(NULL, &s, &err) < 0) {
		fprintf(stderr, "spool: %s\n", err->msg);
		abort();
	}
	return s;
}

static struct i2k_fattr A(uint32_t mode) {
	struct i2k_fattr a = {.mode = mode, .mtime = 1700000000};
	return a;
}

static uint64_t
put(struct i2k_spool *s, const char *data, uint64_t *size)
{
	uint64_t off = 0;
	struct i2k_error *e = NULL;
	if (i2k_spool_append(s, data, strlen(data), &off, &e) < 0)
		abort();
	*size = strlen(data);
	return off;
}

static void add_file(struct i2k_fstree *t, const char *path, const char *data)
{
	uint64_t size;
	uint64_t off = put(i2k_fstree_spool(t), data, &size);
	struct i2k_fattr a = A(S_IFREG | 0644);
	OK(i2k_fstree_add(t, path, &a, NULL, off, size, I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE,
			  NULL, &_e));
}

static void add_dir(struct i2k_fstree *t, const char *path)
{
	struct i2k_fattr a = A(S_IFDIR | 0755);
	OK(i2k_fstree_add(t, path, &a, NULL, 0, 0, I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE, NULL,
			  &_e));
}

static char *read_all(struct i2k_fstree *t, const char *path)
{
	struct i2k_inode *ino = i2k_fstree_lookup(t, path);
	if (ino == NULL || !S_ISREG(ino->mode))
		return NULL;
	char *buf = i2k_xcalloc(1, ino->size + 1);
	struct i2k_error *e = NULL;
	if (i2k_fstree_read(t, ino, 0, buf, ino->size, &e) < 0) {
		i2k_error_free(e);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Walk → "path|first|link_path|depth" lines. */
static int walk_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct i2k_buf *b = ctx;
	char line[512];
	snprintf(line, sizeof(line), "%s|%d|%s|%u\n", e->path, e->first,
		 e->link_path ? e->link_path : "", e->depth);
	i2k_buf_append(b, line, strlen(line), NULL);
	return 0;
}

static char *walk_str(struct i2k_fstree *t, bool root)
{
	struct i2k_buf b = {0};
	i2k_fstree_walk(t, root, walk_cb, &b);
	return b.data ? b.data : i2k_xstrdup("");
}

static char *list_str(struct i2k_fstree *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct i2k_error *e = NULL;
	if (i2k_fstree_list(t, f, &e) < 0) {
		fprintf(stderr, "list: %s\n", e->msg);
		i2k_error_free(e);
		t_failed_checks++;
	}
	fclose(f);
	return buf;
}

/* ---- spool ------------------------------------------------------------------ */

TEST(spool_roundtrip)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	uint64_t o1 = 99, o2 = 99, o3 = 99, sz = 0;
	OK(i2k_spool_append(s, "hello", 5, &o1, &_e));
	CHECK_INT(o1, 0);
	OK(i2k_spool_begin(s, &o2, &_e));
	CHECK_INT(o2, 5);
	OK(i2k_spool_write(s, "str", 3, &_e));
	OK(i2k_spool_write(s, "eamed", 5, &_e));
	FAILS(i2k_spool_begin(s, NULL, &_e), I2K_ERR_INTERNAL,
	      "spool: begin while a stream is open");
	OK(i2k_spool_end(s, &sz, &_e));
	CHECK_INT(sz, 8);
	FAILS(i2k_spool_write(s, "x", 1, &_e), I2K_ERR_INTERNAL, "spool: write without begin");
	FAILS(i2k_spool_end(s, NULL, &_e), I2K_ERR_INTERNAL, "spool: end without begin");

	/* append_fd from a pipe-like source: a temp file read from its offset */
	FILE *tf = tmpfile();
	fputs("skip-from-fd", tf);
	fflush(tf);
	lseek(fileno(tf), 5, SEEK_SET);
	uint64_t fsz = 0;
	OK(i2k_spool_append_fd(s, fileno(tf), &o3, &fsz, &_e));
	fclose(tf);
	CHECK_INT(o3, 13);
	CHECK_INT(fsz, 7);
	CHECK_INT(i2k_spool_size(s), 20);

	char buf[21] = {0};
	OK(i2k_spool_read(s, 0, buf, 20, &_e));
	CHECK_STR(buf, "hellostreamedfrom-fd");
	FAILS(i2k_spool_read(s, 15, buf, 10, &_e), I2K_ERR_IO, "spool: unexpected end of file");

	/* an aborted stream leaves nothing behind */
	OK(i2k_spool_begin(s, &o2, &_e));
	OK(i2k_spool_write(s, "garbage", 7, &_e));
	i2k_spool_abort(s);
	OK(i2k_spool_append(s, "Z", 1, &o1, &_e));
	CHECK_INT(o1, 20);
	uint64_t at = 99;
	CHECK(i2k_spool_fd_at(s, 5, &at) >= 0);
	CHECK_INT(at, 5);

	FAILS(i2k_spool_new("/nonexistent-dir-i2k", &s, &_e), I2K_ERR_IO,
	      "spool in /nonexistent-dir-i2k: No such file or directory");
}

TEST(spool_sparse_and_large_offsets)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	uint64_t off, size = 0;
	OK(i2k_spool_append(s, "abc", 3, &off, &_e));
	OK(i2k_spool_begin(s, &off, &_e));
	CHECK_INT(off, 3);
	/* a 5 GiB extent with data only at both ends: uint64 throughout */
	const uint64_t big = 5ULL << 30;
	OK(i2k_spool_write_at(s, 0, "head", 4, &_e));
	OK(i2k_spool_write_at(s, big - 4, "tail", 4, &_e));
	i2k_spool_extend(s, big);
	OK(i2k_spool_end(s, &size, &_e));
	CHECK_INT(size, big);
	CHECK_INT(i2k_spool_size(s), 3 + big);
	char buf[8] = {0};
	OK(i2k_spool_read(s, off + big - 4, buf, 4, &_e));
	CHECK_STR(buf, "tail");
	char z[4] = {1, 1, 1, 1};
	OK(i2k_spool_read(s, off + (3ULL << 30), z, 4, &_e));
	CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0 && z[3] == 0);
	/* a trailing hole is readable (the file is extended) */
	OK(i2k_spool_begin(s, &off, &_e));
	OK(i2k_spool_write(s, "x", 1, &_e));
	i2k_spool_extend(s, 4096);
	OK(i2k_spool_end(s, &size, &_e));
	CHECK_INT(size, 4096);
	OK(i2k_spool_read(s, off + 4092, z, 4, &_e));
	CHECK(z[3] == 0);
	struct stat st;
	uint64_t at;
	CHECK(fstat(i2k_spool_fd_at(s, 0, &at), &st) == 0);
	CHECK((uint64_t)st.st_size == off + 4096);
	CHECK(st.st_blocks * 512 < (1 << 24)); /* the holes are holes */
}

/* An attached file is read in place: its bytes get offsets of their own,
 * appends go on in the temp file, and sizes add up. */
TEST(spool_attach_reads_in_place)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	uint64_t off, base = 0, base2 = 0, at = 0;
	OK(i2k_spool_append(s, "temp", 4, &off, &_e));
	char path[] = "/tmp/i2k-attach-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	CHECK(write(fd, "attached bytes", 14) == 14);
	OK(i2k_spool_attach(s, fd, 14, &base, &_e));
	OK(i2k_spool_attach(s, fd, 14, &base2, &_e));
	close(fd); /* the spool keeps its own descriptor */
	CHECK(base != 0 && base2 != base);
	char buf[9] = {0};
	OK(i2k_spool_read(s, base + 9, buf, 5, &_e));
	CHECK_STR(buf, "bytes");
	OK(i2k_spool_append(s, "more", 4, &off, &_e));
	CHECK_INT(off, 4); /* the temp file's offsets are untouched */
	CHECK(i2k_spool_fd_at(s, base2 + 3, &at) >= 0);
	CHECK_INT(at, 3);
	CHECK_INT(i2k_spool_size(s), 8 + 28);
	CHECK(i2k_spool_fd_at(s, base2 + (base2 - base), &at) == -1);
	FAILS(i2k_spool_read(s, base2 + (base2 - base), buf, 1, &_e), I2K_ERR_IO,
	      "spool: read offset out of range");
	int efd = -1;
	OK(i2k_spool_extent_fd(s, base, 8, &efd, &_e));
	memset(buf, 0, sizeof(buf));
	CHECK(read(efd, buf, 8) == 8);
	CHECK_STR(buf, "attached");
	close(efd);
}

struct th_arg {
	struct i2k_spool *s;
	int id;
	uint64_t offs[200];
	int fails;
};

static void *th_append(void *p)
{
	struct th_arg *a = p;
	for (int i = 0; i < 200; i++) {
		char buf[64];
		int n = snprintf(buf, sizeof(buf), "t%d-%d;", a->id, i);
		struct i2k_error *e = NULL;
		if (a->id == 0 && i % 10 == 0) {
			/* a streamed extent in the middle of other threads' appends */
			if (i2k_spool_begin(a->s, &a->offs[i], &e) < 0 ||
			    i2k_spool_write(a->s, buf, 2, &e) < 0 ||
			    i2k_spool_write(a->s, buf + 2, (size_t)n - 2, &e) < 0 ||
			    i2k_spool_end(a->s, NULL, &e) < 0)
				a->fails++;
		} else if (i2k_spool_append(a->s, buf, (size_t)n, &a->offs[i], &e) < 0) {
			a->fails++;
		}
		i2k_error_free(e);
	}
	return NULL;
}

TEST(spool_threads)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	struct th_arg args[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct th_arg){.s = s, .id = i};
		pthread_create(&th[i], NULL, th_append, &args[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int t = 0; t < 4; t++) {
		CHECK_INT(args[t].fails, 0);
		for (int i = 0; i < 200; i++) {
			char want[64], got[64] = {0};
			int n = snprintf(want, sizeof(want), "t%d-%d;", t, i);
			OK(i2k_spool_read(s, args[t].offs[i], got, (size_t)n, &_e));
			CHECK_STR(got, want);
		}
	}
}

/* ---- tree operations ------------------------------------------------------ */

TEST(add_lookup_and_errors)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	CHECK(i2k_fstree_spool(t) == s);
	CHECK_INT(i2k_fstree_count(t), 1);
	struct i2k_inode *root = i2k_fstree_lookup(t, "");
	CHECK(root != NULL && S_ISDIR(root->mode) && (root->mode & 07777) == 0755);
	CHECK(i2k_fstree_lookup(t, "/") == root);

	struct i2k_fattr d = A(S_IFDIR | 0700), f = A(S_IFREG | 04755), l = A(S_IFLNK | 0777);
	OK(i2k_fstree_add(t, "etc", &d, NULL, 0, 0, 0, NULL, &_e));
	FAILS(i2k_fstree_add(t, "usr/bin/env", &f, NULL, 0, 0, 0, NULL, &_e), I2K_ERR_NOTFOUND,
	      "usr/bin/env: parent directory \"usr\" does not exist");
	struct i2k_inode *env = NULL;
	OK(i2k_fstree_add(t, "//usr/bin//env/", &f, NULL, 0, 0, I2K_FSTREE_MKPARENTS, &env, &_e));
	CHECK(env != NULL && i2k_fstree_lookup(t, "usr/bin/env") == env);
	CHECK((env->mode & 07777) == 04755);
	struct i2k_inode *usr = i2k_fstree_lookup(t, "usr");
	CHECK(usr && usr->mode == (S_IFDIR | 0755) && usr->uid == 0);
	CHECK_INT(i2k_fstree_count(t), 5);

	FAILS(i2k_fstree_add(t, "usr/bin/env", &f, NULL, 0, 0, 0, NULL, &_e), I2K_ERR_CONFIG,
	      "usr/bin/env: already exists");
	FAILS(i2k_fstree_add(t, "usr/bin/env/x", &f, NULL, 0, 0, I2K_FSTREE_MKPARENTS, NULL, &_e),
	      I2K_ERR_CONFIG, "usr/bin/env/x: component \"usr/bin/env\" is not a directory");
	OK(i2k_fstree_add(t, "lnk", &l, "/etc", 0, 0, 0, NULL, &_e));
	FAILS(i2k_fstree_add(t, "lnk/passwd", &f, NULL, 0, 0, I2K_FSTREE_MKPARENTS, NULL, &_e),
	      I2K_ERR_HOSTILE, "lnk/passwd: component \"lnk\" is a symlink");
	FAILS(i2k_fstree_add(t, "a/../b", &f, NULL, 0, 0, I2K_FSTREE_MKPARENTS, NULL, &_e),
	      I2K_ERR_HOSTILE, "a/../b: invalid component \"..\"");
	FAILS(i2k_fstree_add(t, "./b", &f, NULL, 0, 0, I2K_FSTREE_MKPARENTS, NULL, &_e),
	      I2K_ERR_HOSTILE, "./b: invalid component \".\"");
	FAILS(i2k_fstree_add(t, "nolink", &l, NULL, 0, 0, 0, NULL, &_e), I2K_ERR_CONFIG,
	      "nolink: symlink without a target");
	struct i2k_fattr bad = A(0644);
	FAILS(i2k_fstree_add(t, "bad", &bad, NULL, 0, 0, 0, NULL, &_e), I2K_ERR_CONFIG,
	      "bad: invalid file type in mode 0644");
	FAILS(i2k_fstree_add(t, "", &f, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL, &_e), I2K_ERR_CONFIG,
	      "/: the root can only be replaced by a directory");
	FAILS(i2k_fstree_add(t, "x", &f, NULL, 0, 0, 1u << 7, NULL, &_e), I2K_ERR_INTERNAL,
	      "x: unknown flags 0x80");
	CHECK(i2k_fstree_lookup(t, "lnk/passwd") == NULL);
	CHECK(i2k_fstree_lookup(t, "usr/bin/env/x") == NULL);
	CHECK(i2k_fstree_lookup(t, "../etc") == NULL);
	CHECK(i2k_fstree_lookup(t, "nope") == NULL);
	CHECK_STR(i2k_fstree_lookup(t, "lnk")->target, "/etc");

	/* root attributes via a dir over the root */
	struct i2k_fattr r = A(S_IFDIR | 0700);
	r.uid = 5;
	OK(i2k_fstree_add(t, "/", &r, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL, &_e));
	CHECK(root->mode == (S_IFDIR | 0700) && root->uid == 5);
	CHECK_INT(i2k_fstree_count(t), 6);
}

TEST(replace_semantics)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "a/f", "file a/f");
	add_file(t, "a/sub/g", "file a/sub/g");
	add_file(t, "x", "x was a file");
	CHECK_INT(i2k_fstree_count(t), 6);

	/* dir over dir: children kept, attributes and xattrs replaced */
	struct i2k_inode *a = i2k_fstree_lookup(t, "a");
	i2k_inode_set_xattr(a, "user.old", "1", 1);
	struct i2k_fattr d = A(S_IFDIR | 0711);
	d.uid = 1000;
	d.gid = 1001;
	struct i2k_inode *got = NULL;
	OK(i2k_fstree_add(t, "a", &d, NULL, 0, 0, I2K_FSTREE_REPLACE, &got, &_e));
	CHECK(got == a);
	CHECK(a->mode == (S_IFDIR | 0711) && a->uid == 1000 && a->gid == 1001);
	CHECK_INT(a->nxattrs, 0);
	CHECK(i2k_fstree_lookup(t, "a/sub/g") != NULL);

	/* file over dir: the subtree goes */
	struct i2k_fattr f = A(S_IFREG | 0600);
	OK(i2k_fstree_add(t, "a", &f, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL, &_e));
	CHECK(S_ISREG(i2k_fstree_lookup(t, "a")->mode));
	CHECK(i2k_fstree_lookup(t, "a/sub/g") == NULL);
	CHECK_INT(i2k_fstree_count(t), 3);

	/* dir over file */
	add_dir(t, "x");
	CHECK(S_ISDIR(i2k_fstree_lookup(t, "x")->mode));
	add_file(t, "x/inner", "inner");
	CHECK_INT(i2k_fstree_count(t), 4);
	_cleanup_free_ char *inner = read_all(t, "x/inner");
	CHECK_STR(inner, "inner");
}

TEST(remove_and_clear)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "d/a", "a");
	add_file(t, "d/e/b", "b");
	add_file(t, "f", "f");
	struct i2k_fattr l = A(S_IFLNK | 0777);
	OK(i2k_fstree_add(t, "l", &l, "d", 0, 0, 0, NULL, &_e));
	CHECK_INT(i2k_fstree_count(t), 7);
	OK(i2k_fstree_remove(t, "nope", true, &_e));
	OK(i2k_fstree_remove(t, "nope/deeper", true, &_e));
	FAILS(i2k_fstree_remove(t, "nope", false, &_e), I2K_ERR_NOTFOUND,
	      "nope: no such file or directory");
	FAILS(i2k_fstree_remove(t, "l/a", true, &_e), I2K_ERR_HOSTILE,
	      "l/a: component \"l\" is a symlink");
	FAILS(i2k_fstree_remove(t, "/", true, &_e), I2K_ERR_CONFIG, "/: cannot remove the root");
	FAILS(i2k_fstree_clear_dir(t, "f", &_e), I2K_ERR_CONFIG, "f: not a directory");
	FAILS(i2k_fstree_clear_dir(t, "zz", &_e), I2K_ERR_NOTFOUND,
	      "zz: no such file or directory");
	OK(i2k_fstree_clear_dir(t, "d", &_e));
	CHECK(i2k_fstree_lookup(t, "d") != NULL);
	CHECK(i2k_fstree_lookup(t, "d/a") == NULL);
	CHECK_INT(i2k_fstree_count(t), 4);
	OK(i2k_fstree_remove(t, "d", false, &_e));
	CHECK_INT(i2k_fstree_count(t), 3);
	OK(i2k_fstree_clear_dir(t, "", &_e));
	CHECK_INT(i2k_fstree_count(t), 1);
}

TEST(hard_links)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "bin/busybox", "BUSYBOX");
	add_dir(t, "sbin");
	OK(i2k_fstree_link(t, "bin/sh", "bin/busybox", 0, &_e));
	OK(i2k_fstree_link(t, "sbin/init", "/bin/busybox", 0, &_e));
	OK(i2k_fstree_link(t, "usr/bin/env", "bin/sh", I2K_FSTREE_MKPARENTS, &_e));
	struct i2k_inode *bb = i2k_fstree_lookup(t, "bin/busybox");
	CHECK(i2k_fstree_lookup(t, "usr/bin/env") == bb);
	/* linking a name to its own inode again is a no-op */
	OK(i2k_fstree_link(t, "bin/sh", "bin/busybox", 0, &_e));
	add_file(t, "other", "other");
	FAILS(i2k_fstree_link(t, "other", "bin/busybox", 0, &_e), I2K_ERR_CONFIG,
	      "other: already exists");
	FAILS(i2k_fstree_link(t, "x", "bin", 0, &_e), I2K_ERR_CONFIG,
	      "x: hard link target \"bin\" is a directory");
	FAILS(i2k_fstree_link(t, "x", "/", 0, &_e), I2K_ERR_CONFIG,
	      "x: hard link target \"/\" is a directory");
	FAILS(i2k_fstree_link(t, "x", "bin/nope", 0, &_e), I2K_ERR_NOTFOUND,
	      "x: hard link target \"bin/nope\" does not exist");
	FAILS(i2k_fstree_link(t, "x", "nodir/nope", 0, &_e), I2K_ERR_NOTFOUND,
	      "x: hard link target \"nodir/nope\" does not exist");
	struct i2k_fattr l = A(S_IFLNK | 0777);
	OK(i2k_fstree_add(t, "lnk", &l, "bin", 0, 0, 0, NULL, &_e));
	FAILS(i2k_fstree_link(t, "x", "lnk/busybox", 0, &_e), I2K_ERR_HOSTILE,
	      "x: hard link target \"lnk/busybox\" is under a symlink");
	FAILS(i2k_fstree_link(t, "lnk/x", "bin/busybox", 0, &_e), I2K_ERR_HOSTILE,
	      "lnk/x: component \"lnk\" is a symlink");
	FAILS(i2k_fstree_link(t, "", "bin/busybox", 0, &_e), I2K_ERR_CONFIG,
	      "/: cannot replace the root with a link");
	/* a hard link to a symlink is allowed (non-directory) */
	OK(i2k_fstree_link(t, "lnk2", "lnk", 0, &_e));
	CHECK(i2k_fstree_lookup(t, "lnk2") == i2k_fstree_lookup(t, "lnk"));

	/* removing the original keeps the data for the other names */
	OK(i2k_fstree_remove(t, "bin", false, &_e));
	_cleanup_free_ char *data = read_all(t, "sbin/init");
	CHECK_STR(data, "BUSYBOX");
	/* replacing a dir that holds the link target by a link to it */
	add_file(t, "d/deep/f", "deep");
	OK(i2k_fstree_link(t, "d", "d/deep/f", I2K_FSTREE_REPLACE, &_e));
	_cleanup_free_ char *deep = read_all(t, "d");
	CHECK_STR(deep, "deep");

	i2k_fstree_finalize(t);
	struct i2k_inode *init = i2k_fstree_lookup(t, "sbin/init");
	CHECK_INT(init->nlink, 2); /* sbin/init + usr/bin/env */
	CHECK_INT(i2k_fstree_lookup(t, "d")->nlink, 1);
}

TEST(read_bounds)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "f", "0123456789");
	struct i2k_inode *f = i2k_fstree_lookup(t, "f");
	char buf[16] = {0};
	OK(i2k_fstree_read(t, f, 3, buf, 4, &_e));
	CHECK_STR(buf, "3456");
	FAILS(i2k_fstree_read(t, f, 8, buf, 4, &_e), I2K_ERR_INTERNAL,
	      "read: 4 bytes at 8 beyond the end (10)");
	FAILS(i2k_fstree_read(t, i2k_fstree_lookup(t, ""), 0, buf, 1, &_e), I2K_ERR_INTERNAL,
	      "read: not a regular file");
	struct i2k_fattr e0 = A(S_IFREG | 0644);
	OK(i2k_fstree_add(t, "empty", &e0, NULL, 0, 0, 0, NULL, &_e));
	OK(i2k_fstree_read(t, i2k_fstree_lookup(t, "empty"), 0, buf, 0, &_e));
}

TEST(xattrs_sorted_and_replaced)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "f", "x");
	struct i2k_inode *f = i2k_fstree_lookup(t, "f");
	i2k_inode_set_xattr(f, "user.b", "2", 1);
	i2k_inode_set_xattr(f, "security.capability", "\x01\x00", 2);
	i2k_inode_set_xattr(f, "user.a", "1", 1);
	i2k_inode_set_xattr(f, "user.b", "22", 2);
	CHECK_INT(f->nxattrs, 3);
	CHECK_STR(f->xattrs[0].name, "security.capability");
	CHECK_STR(f->xattrs[1].name, "user.a");
	CHECK_STR(f->xattrs[2].name, "user.b");
	CHECK_INT(f->xattrs[2].len, 2);
	CHECK(memcmp(f->xattrs[2].value, "22", 2) == 0);
	CHECK(memcmp(f->xattrs[0].value, "\x01\x00", 2) == 0);
}

/* ---- whiteout generations ---------------------------------------------------- */

TEST(whiteout_generations)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	i2k_fstree_begin_layer(t); /* "layer 1" */
	add_file(t, "etc/a", "a1");
	add_file(t, "etc/b", "b1");
	add_file(t, "opq/old", "old");
	add_file(t, "opq/sub/old2", "old2");
	add_file(t, "del/x", "x");
	add_file(t, "keep", "keep");

	i2k_fstree_begin_layer(t);			 /* "layer 2" */
	add_file(t, "etc/a", "a2");			 /* replaced in this layer ... */
	OK(i2k_fstree_whiteout(t, "etc/a", false, &_e)); /* ... so its whiteout keeps it */
	OK(i2k_fstree_whiteout(t, "etc/b", false, &_e));
	add_file(t, "opq/new", "new");	     /* before the opaque marker */
	add_file(t, "opq/sub/new2", "new2"); /* sub touched by this layer */
	OK(i2k_fstree_whiteout(t, "opq", true, &_e));
	add_file(t, "opq/after", "after"); /* after the opaque marker */
	OK(i2k_fstree_whiteout(t, "del", false, &_e));
	OK(i2k_fstree_whiteout(t, "missing/deeper", false, &_e));
	OK(i2k_fstree_whiteout(t, "keep/under-a-file", false, &_e));
	FAILS(i2k_fstree_whiteout(t, "../x", false, &_e), I2K_ERR_HOSTILE,
	      "../x: invalid component \"..\"");

	_cleanup_free_ char *a = read_all(t, "etc/a");
	CHECK_STR(a, "a2");
	CHECK(i2k_fstree_lookup(t, "etc/b") == NULL);
	CHECK(i2k_fstree_lookup(t, "opq/old") == NULL);
	CHECK(i2k_fstree_lookup(t, "opq/sub/old2") == NULL);
	CHECK(i2k_fstree_lookup(t, "opq/new") != NULL);
	CHECK(i2k_fstree_lookup(t, "opq/sub/new2") != NULL);
	CHECK(i2k_fstree_lookup(t, "opq/after") != NULL);
	CHECK(i2k_fstree_lookup(t, "del") == NULL);
	CHECK(i2k_fstree_lookup(t, "keep") != NULL);

	i2k_fstree_begin_layer(t); /* "layer 3": an opaque root */
	add_file(t, "fresh", "fresh");
	OK(i2k_fstree_whiteout(t, "", true, &_e));
	_cleanup_free_ char *w = walk_str(t, false);
	CHECK_STR(w, "fresh|1||1\n");

	/* without begin_layer everything is one generation: nothing is hidden */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t2 = i2k_fstree_new(s);
	add_file(t2, "a", "a");
	OK(i2k_fstree_whiteout(t2, "a", false, &_e));
	CHECK(i2k_fstree_lookup(t2, "a") != NULL);
}

/* ---- walk, finalize, graft ------------------------------------------------------ */

TEST(walk_order_and_links)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "b/z", "z");
	add_file(t, "a-c", "ac");
	add_file(t, "a/y", "y");
	add_dir(t, "a/B");
	OK(i2k_fstree_link(t, "a/x", "b/z", 0, &_e));
	OK(i2k_fstree_link(t, "c", "b/z", 0, &_e));
	_cleanup_free_ char *w = walk_str(t, true);
	/* children by strcmp of the name: "B" < "x" < "y"; "a" < "a-c" < "b" */
	CHECK_STR(w, "|1||0\n"
		     "a|1||1\n"
		     "a/B|1||2\n"
		     "a/x|1||2\n"
		     "a/y|1||2\n"
		     "a-c|1||1\n"
		     "b|1||1\n"
		     "b/z|0|a/x|2\n"
		     "c|0|a/x|1\n");
	_cleanup_free_ char *w2 = walk_str(t, false);
	CHECK(strncmp(w2, "a|1||1\n", 7) == 0);
}

static int stop_at_b(const struct i2k_walk_entry *e, void *ctx)
{
	int *n = ctx;
	(*n)++;
	return strcmp(e->name, "b") == 0 ? 42 : 0;
}

TEST(walk_stops)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "a", "a");
	add_file(t, "b", "b");
	add_file(t, "c", "c");
	int n = 0;
	CHECK_INT(i2k_fstree_walk(t, false, stop_at_b, &n), 42);
	CHECK_INT(n, 2);
}

TEST(finalize_ino_nlink)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_dir(t, "d1/s1");
	add_dir(t, "d1/s2");
	add_file(t, "d1/f", "f");
	add_file(t, "e", "e");
	OK(i2k_fstree_link(t, "d1/s2/l", "e", 0, &_e));
	i2k_fstree_finalize(t);
	/* walk order: "" d1 d1/f d1/s1 d1/s2 d1/s2/l(=e) e */
	CHECK_INT(i2k_fstree_lookup(t, "")->ino, 1);
	CHECK_INT(i2k_fstree_lookup(t, "d1")->ino, 2);
	CHECK_INT(i2k_fstree_lookup(t, "d1/f")->ino, 3);
	CHECK_INT(i2k_fstree_lookup(t, "d1/s1")->ino, 4);
	CHECK_INT(i2k_fstree_lookup(t, "d1/s2")->ino, 5);
	CHECK_INT(i2k_fstree_lookup(t, "e")->ino, 6);
	CHECK_INT(i2k_fstree_lookup(t, "")->nlink, 3);	 /* 2 + d1 */
	CHECK_INT(i2k_fstree_lookup(t, "d1")->nlink, 4); /* 2 + s1 + s2 */
	CHECK_INT(i2k_fstree_lookup(t, "d1/s1")->nlink, 2);
	CHECK_INT(i2k_fstree_lookup(t, "e")->nlink, 2);
	CHECK_INT(i2k_fstree_lookup(t, "d1/f")->nlink, 1);
	/* finalize again after a change: values recomputed, not accumulated */
	OK(i2k_fstree_remove(t, "d1/s2", false, &_e));
	i2k_fstree_finalize(t);
	CHECK_INT(i2k_fstree_lookup(t, "e")->nlink, 1);
	CHECK_INT(i2k_fstree_lookup(t, "e")->ino, 5);
	CHECK_INT(i2k_fstree_lookup(t, "d1")->nlink, 3);
}

TEST(graft_shares_inodes)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *src = i2k_fstree_new(s);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *dst = i2k_fstree_new(s);
	add_file(src, "bin/tool", "TOOL");
	OK(i2k_fstree_link(src, "bin/tool2", "bin/tool", 0, &_e));
	struct i2k_fattr l = A(S_IFLNK | 0777);
	OK(i2k_fstree_add(src, "lnk", &l, "bin/tool", 0, 0, 0, NULL, &_e));
	struct i2k_inode *bin = i2k_fstree_lookup(src, "bin");
	bin->mode = S_IFDIR | 0700;
	i2k_inode_set_xattr(bin, "user.d", "v", 1);
	struct i2k_inode *sroot = i2k_fstree_lookup(src, "");
	sroot->mode = S_IFDIR | 0711;

	add_file(dst, "etc/keep", "keep");
	add_file(dst, "containers/a/bin/old", "old");
	add_file(dst, "containers/a/lnk/x", "was a dir");
	OK(i2k_fstree_graft(dst, "containers/a", src, &_e));
	OK(i2k_fstree_graft(dst, "containers/b", src, &_e));
	struct i2k_inode *tool = i2k_fstree_lookup(src, "bin/tool");
	CHECK(i2k_fstree_lookup(dst, "containers/a/bin/tool") == tool);
	CHECK(i2k_fstree_lookup(dst, "containers/b/bin/tool2") == tool);
	CHECK(i2k_fstree_lookup(dst, "containers/a/bin/old") != NULL); /* merged */
	CHECK_STR(i2k_fstree_lookup(dst, "containers/a/lnk")->target, "bin/tool");
	struct i2k_inode *dbin = i2k_fstree_lookup(dst, "containers/b/bin");
	CHECK(dbin != bin && dbin->mode == (S_IFDIR | 0700) && dbin->nxattrs == 1);
	CHECK(i2k_fstree_lookup(dst, "containers/b")->mode == (S_IFDIR | 0711));
	CHECK(i2k_fstree_lookup(dst, "containers/a")->mode == (S_IFDIR | 0755)); /* kept */
	CHECK(i2k_fstree_lookup(dst, "etc/keep") != NULL);

	i2k_fstree_finalize(dst);
	CHECK_INT(tool->nlink, 4); /* two names in each of the two copies */
	i2k_fstree_finalize(src);
	CHECK_INT(tool->nlink, 2);
	CHECK_INT(i2k_fstree_count(src), 5);

	/* src can go first: dst keeps its references */
	i2k_fstree_freep(&src);
	_cleanup_free_ char *d = read_all(dst, "containers/b/bin/tool");
	CHECK_STR(d, "TOOL");

	_cleanup_(i2k_spool_freep) struct i2k_spool *s2 = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *other = i2k_fstree_new(s2);
	FAILS(i2k_fstree_graft(dst, "x", other, &_e), I2K_ERR_INTERNAL,
	      "graft: the trees use different spools");
	FAILS(i2k_fstree_graft(dst, "x", dst, &_e), I2K_ERR_INTERNAL,
	      "graft: a tree cannot be grafted into itself");
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *empty = i2k_fstree_new(s);
	FAILS(i2k_fstree_graft(dst, "etc/keep", empty, &_e), I2K_ERR_CONFIG,
	      "etc/keep: exists and is not a directory");
	OK(i2k_fstree_graft(dst, "", empty, &_e));
}

/* keep(): no "skip" entry (and so nothing below it), records what it was asked */
static bool keep_not_skip(const char *path, const struct i2k_inode *ino, void *ctx)
{
	struct i2k_buf *b = ctx;
	i2k_buf_append(b, path, strlen(path), NULL);
	i2k_buf_append(b, "\n", 1, NULL);
	const char *base = strrchr(path, '/');
	return strcmp(base ? base + 1 : path, "skip") != 0;
}

TEST(graft_some_leaves_out_subtrees)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *src = i2k_fstree_new(s);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *dst = i2k_fstree_new(s);
	add_file(src, "a/skip/deep/f", "f");
	add_file(src, "a/keep", "k");
	add_file(src, "skip", "top");
	add_file(src, "z/y/x", "x");
	OK(i2k_fstree_link(src, "z/y/skip", "a/keep", 0, &_e));
	struct i2k_buf asked = {0};
	OK(i2k_fstree_graft_some(dst, "", src, keep_not_skip, &asked, &_e));
	/* parents before children, sorted, nothing below a left-out entry */
	CHECK_STR(asked.data, "a\na/keep\na/skip\nskip\nz\nz/y\nz/y/skip\nz/y/x\n");
	i2k_buf_free(&asked);
	_cleanup_free_ char *w = walk_str(dst, false);
	CHECK_STR(w, "a|1||1\n"
		     "a/keep|1||2\n"
		     "z|1||1\n"
		     "z/y|1||2\n"
		     "z/y/x|1||3\n");
	CHECK_INT(i2k_fstree_count(dst), 6);
	CHECK(i2k_fstree_lookup(dst, "a/keep") == i2k_fstree_lookup(src, "a/keep"));
	/* the same as a whole graft followed by removals */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *ref = i2k_fstree_new(s);
	OK(i2k_fstree_graft(ref, "", src, &_e));
	OK(i2k_fstree_remove(ref, "a/skip", false, &_e));
	OK(i2k_fstree_remove(ref, "skip", false, &_e));
	OK(i2k_fstree_remove(ref, "z/y/skip", false, &_e));
	_cleanup_free_ char *l1 = list_str(dst);
	_cleanup_free_ char *l2 = list_str(ref);
	CHECK_STR(l1, l2);
	/* under a path, with the NULL filter being a plain graft */
	OK(i2k_fstree_graft_some(dst, "sub/dir", src, NULL, NULL, &_e));
	CHECK(i2k_fstree_lookup(dst, "sub/dir/a/skip/deep/f") != NULL);
}

/* src for graft_take: files, a hard link, a symlink, dirs with attributes */
static void take_src(struct i2k_fstree *t)
{
	add_file(t, "bin/tool", "TOOL");
	OK(i2k_fstree_link(t, "bin/tool2", "bin/tool", 0, &_e));
	struct i2k_fattr l = A(S_IFLNK | 0777);
	OK(i2k_fstree_add(t, "lnk", &l, "bin/tool", 0, 0, 0, NULL, &_e));
	add_file(t, "etc/conf", "new");
	add_dir(t, "empty");
	struct i2k_inode *bin = i2k_fstree_lookup(t, "bin");
	bin->mode = S_IFDIR | 0700;
	i2k_inode_set_xattr(bin, "user.d", "v", 1);
}

static void take_dst(struct i2k_fstree *t)
{
	add_file(t, "keep", "keep");
	add_file(t, "c/bin/old", "old");
	add_file(t, "c/etc/conf", "old conf");
	add_file(t, "c/lnk/x", "was a dir");
}

TEST(graft_take_moves_what_graft_copies)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *src1 = i2k_fstree_new(s);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *src2 = i2k_fstree_new(s);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *copy = i2k_fstree_new(s);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *moved = i2k_fstree_new(s);
	take_src(src1);
	take_src(src2);
	take_dst(copy);
	take_dst(moved);
	struct i2k_inode *tool = i2k_fstree_lookup(src2, "bin/tool");
	OK(i2k_fstree_graft(copy, "c", src1, &_e));
	OK(i2k_fstree_graft_take(moved, "c", src2, &_e));
	_cleanup_free_ char *l1 = list_str(copy);
	_cleanup_free_ char *l2 = list_str(moved);
	CHECK_STR(l1, l2);
	_cleanup_free_ char *w1 = walk_str(copy, true);
	_cleanup_free_ char *w2 = walk_str(moved, true);
	CHECK_STR(w1, w2);
	CHECK_INT(i2k_fstree_count(moved), i2k_fstree_count(copy));
	CHECK(i2k_fstree_lookup(moved, "c/bin/tool2") == tool);
	CHECK(i2k_fstree_lookup(moved, "c/bin")->nxattrs == 1);
	/* src is left empty and usable */
	CHECK_INT(i2k_fstree_count(src2), 1);
	CHECK(i2k_fstree_lookup(src2, "bin") == NULL);
	add_file(src2, "again", "a");
	CHECK_INT(i2k_fstree_count(src2), 2);
	/* moved entries belong to the new tree: removing and whiting out work */
	OK(i2k_fstree_remove(moved, "c/bin/tool", false, &_e));
	i2k_fstree_begin_layer(moved);
	OK(i2k_fstree_whiteout(moved, "c/etc", true, &_e));
	CHECK(i2k_fstree_lookup(moved, "c/etc/conf") == NULL);
	_cleanup_free_ char *d = read_all(moved, "c/bin/tool2");
	CHECK_STR(d, "TOOL");
	/* into the root of a new tree, and the errors of graft */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *src3 = i2k_fstree_new(s);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *fresh = i2k_fstree_new(s);
	take_src(src3);
	OK(i2k_fstree_graft_take(fresh, "", src3, &_e));
	CHECK_INT(i2k_fstree_count(fresh), 8);
	FAILS(i2k_fstree_graft_take(fresh, "keep", fresh, &_e), I2K_ERR_INTERNAL,
	      "graft: a tree cannot be grafted into itself");
	FAILS(i2k_fstree_graft_take(fresh, "lnk", src3, &_e), I2K_ERR_HOSTILE,
	      "lnk: exists and is not a directory");
	struct i2k_fstree *v = i2k_fstree_view(fresh, NULL, NULL);
	FAILS(i2k_fstree_graft_take(src3, "x", v, &_e), I2K_ERR_INTERNAL,
	      "a view of a tree cannot be changed");
	i2k_fstree_free(v);
}

/* Whiteouts after a graft_take: in the generation that took them, the
 * moved entries (deep ones too) are that generation's own and survive;
 * in a later one they are lower entries. The source tree had more layers
 * than the destination, so a per-tree generation number would collide. */
TEST(graft_take_generations)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *src = i2k_fstree_new(s);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *dst = i2k_fstree_new(s);
	for (int i = 0; i < 3; i++)
		i2k_fstree_begin_layer(src);
	add_file(src, "a/deep/f", "f");
	add_file(src, "a/g", "g");
	i2k_fstree_begin_layer(src);
	add_file(src, "a/deep/h", "h");
	add_file(dst, "old/x", "x");
	i2k_fstree_begin_layer(dst);
	OK(i2k_fstree_graft_take(dst, "img", src, &_e));
	CHECK_INT(i2k_fstree_count(dst), 1 + 2 + 1 + 2 + 3);
	/* same generation: nothing moved in is lower */
	OK(i2k_fstree_whiteout(dst, "img/a/deep/f", false, &_e));
	OK(i2k_fstree_whiteout(dst, "img/a/deep", true, &_e));
	OK(i2k_fstree_whiteout(dst, "img/a", false, &_e));
	OK(i2k_fstree_whiteout(dst, "", true, &_e)); /* removes old/, keeps img/ */
	CHECK(i2k_fstree_lookup(dst, "img/a/deep/f") != NULL);
	CHECK(i2k_fstree_lookup(dst, "img/a/deep/h") != NULL);
	CHECK(i2k_fstree_lookup(dst, "img/a/g") != NULL);
	CHECK(i2k_fstree_lookup(dst, "old") == NULL);
	/* two layers on: they are lower now, one by one and wholesale */
	i2k_fstree_begin_layer(dst);
	i2k_fstree_begin_layer(dst);
	OK(i2k_fstree_whiteout(dst, "img/a/deep/f", false, &_e));
	CHECK(i2k_fstree_lookup(dst, "img/a/deep/f") == NULL);
	add_file(dst, "img/a/new", "n");
	OK(i2k_fstree_whiteout(dst, "img/a", true, &_e));
	CHECK(i2k_fstree_lookup(dst, "img/a/g") == NULL);
	CHECK(i2k_fstree_lookup(dst, "img/a/deep") == NULL);
	CHECK(i2k_fstree_lookup(dst, "img/a/new") != NULL);
	CHECK_INT(i2k_fstree_count(dst), 1 + 1 + 1 + 1);
}

static bool not_b(const char *name, const struct i2k_inode *ino, void *ctx)
{
	return strcmp(name, "b") != 0;
}

TEST(view_shares_and_refuses_changes)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *src = i2k_fstree_new(s);
	add_file(src, "a/f", "f");
	add_file(src, "b/kernel", "k");
	add_file(src, "c", "c");
	OK(i2k_fstree_link(src, "a/g", "c", 0, &_e));
	OK(i2k_fstree_link(src, "b/h", "a/f", 0, &_e));
	struct i2k_inode *sroot = i2k_fstree_lookup(src, "");
	sroot->mode = S_IFDIR | 0700;
	struct i2k_fstree *v = i2k_fstree_view(src, not_b, NULL);
	CHECK_INT(i2k_fstree_count(v), 5); /* "", a, a/f, a/g, c */
	CHECK(i2k_fstree_lookup(v, "a/f") == i2k_fstree_lookup(src, "a/f"));
	CHECK(i2k_fstree_lookup(v, "b") == NULL);
	CHECK(i2k_fstree_lookup(v, "")->mode == (S_IFDIR | 0755)); /* a new root's */
	/* a/f's other name is in b: left out, so a/f is no link here */
	_cleanup_free_ char *w = walk_str(v, false);
	CHECK_STR(w, "a|1||1\n"
		     "a/f|1||2\n"
		     "a/g|1||2\n"
		     "c|0|a/g|1\n");
	/* the same as a copy without b */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *copy = i2k_fstree_new(s);
	OK(i2k_fstree_graft(copy, "", src, &_e));
	OK(i2k_fstree_remove(copy, "b", false, &_e));
	_cleanup_free_ char *l1 = list_str(v);
	_cleanup_free_ char *l2 = list_str(copy);
	CHECK_STR(l1, l2);
	i2k_fstree_finalize(v);
	CHECK_INT(i2k_fstree_lookup(v, "c")->nlink, 2);
	CHECK_INT(i2k_fstree_lookup(v, "a/f")->nlink, 1);
	struct i2k_fattr fa = A(S_IFREG | 0644);
	FAILS(i2k_fstree_add(v, "x", &fa, NULL, 0, 0, 0, NULL, &_e), I2K_ERR_INTERNAL,
	      "a view of a tree cannot be changed");
	FAILS(i2k_fstree_remove(v, "a/f", false, &_e), I2K_ERR_INTERNAL,
	      "a view of a tree cannot be changed");
	FAILS(i2k_fstree_link(v, "x", "c", 0, &_e), I2K_ERR_INTERNAL,
	      "a view of a tree cannot be changed");
	FAILS(i2k_fstree_clear_dir(v, "a", &_e), I2K_ERR_INTERNAL,
	      "a view of a tree cannot be changed");
	FAILS(i2k_fstree_whiteout(v, "a", true, &_e), I2K_ERR_INTERNAL,
	      "a view of a tree cannot be changed");
	FAILS(i2k_fstree_graft(v, "x", copy, &_e), I2K_ERR_INTERNAL,
	      "a view of a tree cannot be changed");
	/* a view can be copied from */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *c2 = i2k_fstree_new(s);
	OK(i2k_fstree_graft(c2, "", v, &_e));
	CHECK_INT(i2k_fstree_count(c2), 5);
	/* freeing the view leaves src whole */
	i2k_fstree_free(v);
	CHECK_INT(i2k_fstree_count(src), 8);
	_cleanup_free_ char *d = read_all(src, "b/h");
	CHECK_STR(d, "f");
	struct i2k_fstree *all = i2k_fstree_view(src, NULL, NULL);
	CHECK_INT(i2k_fstree_count(all), 8);
	i2k_fstree_free(all);
}

/* A walk that walks another tree from its callback (nested walks share the
 * inodes' marks). */
struct nested {
	struct i2k_fstree *other;
	struct i2k_buf out;
};

static int nested_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct nested *n = ctx;
	if (strcmp(e->path, "m") == 0) {
		_cleanup_free_ char *inner = walk_str(n->other, false);
		i2k_buf_append(&n->out, "[", 1, NULL);
		i2k_buf_append(&n->out, inner, strlen(inner), NULL);
		i2k_buf_append(&n->out, "]", 1, NULL);
	}
	return walk_cb(e, &n->out);
}

TEST(walk_links_only_within_the_tree)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *img = i2k_fstree_new(s);
	add_file(img, "bin/sh", "sh");
	OK(i2k_fstree_link(img, "bin/ash", "bin/sh", 0, &_e));
	add_file(img, "etc/one", "1");
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *root = i2k_fstree_new(s);
	OK(i2k_fstree_graft(root, "c/a", img, &_e));
	OK(i2k_fstree_graft(root, "c/b", img, &_e));
	/* img: etc/one is shared with root (refcnt 3) but has one name here */
	_cleanup_free_ char *w = walk_str(img, false);
	CHECK_STR(w, "bin|1||1\n"
		     "bin/ash|1||2\n"
		     "bin/sh|0|bin/ash|2\n"
		     "etc|1||1\n"
		     "etc/one|1||2\n");
	/* root: the image twice, every file a link of its first copy */
	_cleanup_free_ char *wr = walk_str(root, false);
	CHECK(strstr(wr, "c/a/etc/one|1||4\n") != NULL);
	CHECK(strstr(wr, "c/b/etc/one|0|c/a/etc/one|4\n") != NULL);
	CHECK(strstr(wr, "c/b/bin/sh|0|c/a/bin/ash|4\n") != NULL);
	/* a copy without one of the two names: the other is a plain file */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *part = i2k_fstree_new(s);
	OK(i2k_fstree_graft(part, "", img, &_e));
	OK(i2k_fstree_remove(part, "bin/ash", false, &_e));
	_cleanup_free_ char *wp = walk_str(part, false);
	CHECK(strstr(wp, "bin/sh|1||2\n") != NULL);
	/* the outer walk's links survive an inner walk of a tree sharing them */
	add_file(part, "m", "m");
	OK(i2k_fstree_link(part, "n", "bin/sh", 0, &_e));
	struct nested n = {.other = img};
	CHECK_INT(i2k_fstree_walk(part, false, nested_cb, &n), 0);
	CHECK(strstr(n.out.data, "[bin|1||1\nbin/ash|1||2\nbin/sh|0|bin/ash|2\n") != NULL);
	CHECK(strstr(n.out.data, "\nn|0|bin/sh|1\n") != NULL);
	i2k_buf_free(&n.out);
}

/* Many entries, removals, replacements, links and grafts: lookups, the
 * listing and the walk stay right. */
TEST(many_entries_after_changes)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	uint64_t size;
	uint64_t off = put(s, "data", &size);
	struct i2k_fattr f = A(S_IFREG | 0644);
	char name[64], other[64];
	for (int i = 0; i < 30000; i++) {
		snprintf(name, sizeof(name), "d%d/f%d", i % 50, i);
		OK(i2k_fstree_add(t, name, &f, NULL, off, size, I2K_FSTREE_MKPARENTS, NULL, &_e));
	}
	for (int i = 0; i < 30000; i += 3) { /* a third removed */
		snprintf(name, sizeof(name), "d%d/f%d", i % 50, i);
		OK(i2k_fstree_remove(t, name, false, &_e));
	}
	struct i2k_fattr l = A(S_IFLNK | 0777);
	for (int i = 1; i < 30000; i += 3) { /* a third replaced by symlinks */
		snprintf(name, sizeof(name), "d%d/f%d", i % 50, i);
		OK(i2k_fstree_add(t, name, &l, "x", 0, 0, I2K_FSTREE_REPLACE, NULL, &_e));
	}
	for (int i = 2; i < 3000; i += 3) { /* links */
		snprintf(name, sizeof(name), "links/l%d", i);
		snprintf(other, sizeof(other), "d%d/f%d", i % 50, i);
		OK(i2k_fstree_link(t, name, other, I2K_FSTREE_MKPARENTS, &_e));
	}
	CHECK_INT(i2k_fstree_count(t), 1 + 50 + 20000 + 1 + 1000);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *root = i2k_fstree_new(s);
	OK(i2k_fstree_graft(root, "img", t, &_e));
	OK(i2k_fstree_remove(t, "d7", false, &_e)); /* the copy keeps its own */
	CHECK(i2k_fstree_lookup(root, "img/d7/f7")->target != NULL);
	CHECK(S_ISREG(i2k_fstree_lookup(root, "img/d7/f107")->mode));
	CHECK(i2k_fstree_lookup(root, "img/d7/f57") == NULL);
	CHECK(i2k_fstree_lookup(t, "d7/f7") == NULL);
	CHECK_INT(i2k_fstree_count(root), 1 + 1 + 50 + 20000 + 1 + 1000);
	struct i2k_buf b = {0};
	i2k_fstree_walk(root, false, walk_cb, &b);
	size_t lines = 0, links = 0;
	for (const char *p = b.data; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	for (const char *p = b.data; (p = strstr(p, "|0|img/")) != NULL; p++)
		links++;
	CHECK_INT(lines, 1 + 50 + 20000 + 1 + 1000);
	CHECK_INT(links, 1000); /* the second name of each linked file */
	CHECK(strstr(b.data, "img/links/l2|0|img/d2/f2|3\n") != NULL);
	i2k_buf_free(&b);
	i2k_fstree_finalize(root);
	CHECK_INT(i2k_fstree_lookup(root, "img/d2/f2")->nlink, 2);
	CHECK_INT(i2k_fstree_lookup(root, "img/d5/f5")->nlink, 2);
	CHECK_INT(i2k_fstree_lookup(root, "img/d5/f3005")->nlink, 1);
}

/* A finalized tree that has not changed since walks without the pass that
 * looks for hard links (it reads nlink instead): a change to the tree, or
 * a finalize of another tree sharing its inodes, must bring the pass back. */
TEST(walk_after_finalize_links)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "a", "a");
	add_file(t, "b", "b");
	OK(i2k_fstree_link(t, "z", "a", 0, &_e));
	i2k_fstree_finalize(t);
	_cleanup_free_ char *w1 = walk_str(t, false);
	CHECK_STR(w1, "a|1||1\nb|1||1\nz|0|a|1\n");
	/* changed after the finalize: a new name of b */
	OK(i2k_fstree_link(t, "c", "b", 0, &_e));
	_cleanup_free_ char *w2 = walk_str(t, false);
	CHECK_STR(w2, "a|1||1\nb|1||1\nc|0|b|1\nz|0|a|1\n");
	/* finalized again, then another tree sharing a and b is finalized: its
	 * nlink (1 each) overwrites t's, and t's walk must not believe it */
	i2k_fstree_finalize(t);
	CHECK_INT(i2k_fstree_lookup(t, "b")->nlink, 2);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *u = i2k_fstree_new(s);
	OK(i2k_fstree_graft(u, "", t, &_e));
	OK(i2k_fstree_remove(u, "c", false, &_e));
	OK(i2k_fstree_remove(u, "z", false, &_e));
	i2k_fstree_finalize(u);
	CHECK_INT(i2k_fstree_lookup(t, "b")->nlink, 1);
	_cleanup_free_ char *w3 = walk_str(t, false);
	CHECK_STR(w3, w2);
	/* a second finalize of an unchanged tree gives the same numbers */
	i2k_fstree_finalize(t);
	uint64_t ino_b = i2k_fstree_lookup(t, "b")->ino;
	i2k_fstree_finalize(t);
	CHECK_INT(i2k_fstree_lookup(t, "b")->ino, ino_b);
	CHECK_INT(i2k_fstree_lookup(t, "b")->nlink, 2);
}

static int count_cb(const struct i2k_walk_entry *e, void *ctx)
{
	size_t *n = ctx;
	n[0]++;
	if (!e->first)
		n[1]++;
	return 0;
}

/* 120,000 entries: more node memory than the trim budget, so the walks
 * and the finalize read nodes back after their pages were unmapped. */
TEST(big_tree_in_node_memory)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	struct i2k_fstree *t = i2k_fstree_new(s);
	uint64_t size;
	uint64_t off = put(s, "data", &size);
	struct i2k_fattr f = A(S_IFREG | 0644);
	char name[64], other[64];
	for (int i = 0; i < 120000; i++) {
		snprintf(name, sizeof(name), "d%d/sub%d/file-%d", i % 40, i % 7, i);
		OK(i2k_fstree_add(t, name, &f, NULL, off + (uint64_t)(i % 4),
				  size - (uint64_t)(i % 4), I2K_FSTREE_MKPARENTS, NULL, &_e));
		if (i % 1000 == 0) {
			snprintf(other, sizeof(other), "links/l%d", i);
			OK(i2k_fstree_link(t, other, name, I2K_FSTREE_MKPARENTS, &_e));
		}
	}
	i2k_inode_set_xattr(i2k_fstree_lookup(t, "d3/sub3/file-3"), "user.k", "v", 1);
	struct i2k_nodemem_stats st;
	i2k_nodemem_stats(&st);
	CHECK(st.in_use > 4 * I2K_NODEMEM_BUDGET);
	size_t trims = st.trims;
	i2k_fstree_finalize(t);
	size_t n[2] = {0, 0};
	CHECK_INT(i2k_fstree_walk(t, false, count_cb, n), 0);
	CHECK_INT(n[0], 120000 + 40 + 280 + 1 + 120);
	CHECK_INT(n[1], 120);
	i2k_nodemem_stats(&st);
	CHECK(st.trims > trims);
	CHECK_INT(i2k_fstree_lookup(t, "d5/sub5/file-5")->size, 3);
	CHECK_INT(i2k_fstree_lookup(t, "d0/sub0/file-0")->nlink, 2);
	CHECK_INT(i2k_fstree_lookup(t, "d1")->nlink, 2 + 7);
	CHECK_INT(i2k_fstree_lookup(t, "d3/sub3/file-3")->xattrs[0].len, 1);
	/* removing a whole directory gives its blocks back */
	size_t before = st.in_use;
	OK(i2k_fstree_remove(t, "d7", false, &_e));
	i2k_nodemem_stats(&st);
	CHECK(st.in_use < before - 3000 * 100);
	CHECK_INT(i2k_fstree_count(t), 1 + 120000 + 40 + 280 + 1 + 120 - 3000 - 7 - 1);
	/* the last tree freed: node memory is empty again */
	i2k_fstree_free(t);
	i2k_nodemem_stats(&st);
	CHECK_INT(st.in_use, 0);
	CHECK_INT(st.file_chunks + st.anon_chunks, 1); /* one kept for the next tree */
}

/* ---- listing --------------------------------------------------------------- */

TEST(list_format)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	add_file(t, "bin/hello", "hello\n");
	struct i2k_inode *h = i2k_fstree_lookup(t, "bin/hello");
	h->mode = S_IFREG | 04755;
	i2k_inode_set_xattr(h, "security.capability", "\x01\x00\x00\x02", 4);
	OK(i2k_fstree_link(t, "a/hello", "bin/hello", I2K_FSTREE_MKPARENTS, &_e));
	struct i2k_fattr l = A(S_IFLNK | 0777);
	OK(i2k_fstree_add(t, "bin/sp ace", &l, "/tar\\get x", 0, 0, 0, NULL, &_e));
	struct i2k_fattr c = A(S_IFCHR | 0666);
	c.rdev_major = 1;
	c.rdev_minor = 3;
	OK(i2k_fstree_add(t, "dev/null", &c, NULL, 0, 0, I2K_FSTREE_MKPARENTS, NULL, &_e));
	struct i2k_fattr b = A(S_IFBLK | 0660);
	b.rdev_major = 7;
	OK(i2k_fstree_add(t, "dev/loop0", &b, NULL, 0, 0, 0, NULL, &_e));
	struct i2k_fattr p = A(S_IFIFO | 0644);
	p.uid = 65534;
	p.gid = 3000000;
	OK(i2k_fstree_add(t, "fifo", &p, NULL, 0, 0, 0, NULL, &_e));
	struct i2k_fattr so = A(S_IFSOCK | 0755);
	OK(i2k_fstree_add(t, "sock", &so, NULL, 0, 0, 0, NULL, &_e));
	add_file(t, "caf\xc3\xa9", "");
	add_dir(t, "a-b");
	_cleanup_free_ char *got = list_str(t);
	/* sorted by the escaped path: "/a-b" < "/a/..." since '-' < '/' */
	CHECK_STR(got, "/a d 0755 0 0 -\n"
		       "/a-b d 0755 0 0 -\n"
		       "/a/hello f 4755 0 0 6 "
		       "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 "
		       "xattr:security.capability=01000002\n"
		       "/bin d 0755 0 0 -\n"
		       "/bin/hello h 4755 0 0 /a/hello\n"
		       "/bin/sp\\x20ace l 0777 0 0 /tar\\x5cget\\x20x\n"
		       "/caf\\xc3\\xa9 f 0644 0 0 0 "
		       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
		       "/dev d 0755 0 0 -\n"
		       "/dev/loop0 b 0660 0 0 7,0\n"
		       "/dev/null c 0666 0 0 1,3\n"
		       "/fifo p 0644 65534 3000000 -\n"
		       "/sock s 0755 0 0 -\n");
}

TEST(big_directory)
{
	/* 20000 entries in one directory, inserted in reverse order: lookups
	 * hash, the walk sorts once; also removes half of them. */
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	struct i2k_fattr f = A(S_IFREG | 0644);
	char name[64];
	for (int i = 19999; i >= 0; i--) {
		snprintf(name, sizeof(name), "d/f%05d", i);
		OK(i2k_fstree_add(t, name, &f, NULL, 0, 0, I2K_FSTREE_MKPARENTS, NULL, &_e));
	}
	CHECK_INT(i2k_fstree_count(t), 20002);
	for (int i = 0; i < 20000; i += 2) {
		snprintf(name, sizeof(name), "d/f%05d", i);
		OK(i2k_fstree_remove(t, name, false, &_e));
	}
	CHECK(i2k_fstree_lookup(t, "d/f00001") != NULL);
	CHECK(i2k_fstree_lookup(t, "d/f00002") == NULL);
	CHECK_INT(i2k_fstree_count(t), 10002);
	_cleanup_free_ char *w = walk_str(t, false);
	CHECK(strncmp(w, "d|1||1\nd/f00001|1||2\nd/f00003|1||2\n", 35) == 0);
	CHECK(i2k_str_has_suffix(w, "d/f19999|1||2\n"));
	for (int i = 0; i < 20000; i += 2) {
		snprintf(name, sizeof(name), "d/f%05d", i);
		OK(i2k_fstree_add(t, name, &f, NULL, 0, 0, 0, NULL, &_e));
	}
	CHECK_INT(i2k_fstree_count(t), 20002);
}

int main(void)
{
	t_prog = "test_fstree";
	RUN(spool_roundtrip);
	RUN(spool_sparse_and_large_offsets);
	RUN(spool_attach_reads_in_place);
	RUN(spool_threads);
	RUN(add_lookup_and_errors);
	RUN(replace_semantics);
	RUN(remove_and_clear);
	RUN(hard_links);
	RUN(read_bounds);
	RUN(xattrs_sorted_and_replaced);
	RUN(whiteout_generations);
	RUN(walk_order_and_links);
	RUN(walk_stops);
	RUN(finalize_ino_nlink);
	RUN(graft_shares_inodes);
	RUN(graft_some_leaves_out_subtrees);
	RUN(walk_links_only_within_the_tree);
	RUN(view_shares_and_refuses_changes);
	RUN(graft_take_moves_what_graft_copies);
	RUN(graft_take_generations);
	RUN(many_entries_after_changes);
	RUN(walk_after_finalize_links);
	RUN(big_tree_in_node_memory);
	RUN(list_format);
	RUN(big_directory);
	return TEST_DONE();
}
