/* test_tar.c — formats/tar: ustar/pax bytes, GNU tar and python tarfile as
 * oracles, hard links, long names, xattrs, determinism, misuse errors. */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "formats/tar.h"
#include "test.h"
#include "testutil.h"

static void add(struct i2k_fstree *t, const char *path, const struct i2k_fattr *a, const char *data,
		const char *target, struct i2k_inode **out)
{
	struct i2k_error *err = NULL;
	uint64_t off = 0, size = 0;
	if (data) {
		size = strlen(data);
		if (i2k_spool_append(i2k_fstree_spool(t), data, size, &off, &err) < 0)
			goto fail;
	}
	if (i2k_fstree_add(t, path, a, target, off, size, I2K_FSTREE_MKPARENTS, out, &err) < 0)
		goto fail;
	return;
fail:
	fprintf(stderr, "  add %s: %s\n", path, err->msg);
	exit(1);
}

static long atol_safe(const char *s)
{
	long v = 0;
	while (s && *s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v;
}

static struct i2k_fattr attr(uint32_t mode)
{
	return (struct i2k_fattr){.mode = mode, .uid = 0, .gid = 0, .mtime = 1700000000};
}

static const char *long_dir =
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/* 87 + 1 + 60 = 148 > 100: split into prefix/name */
static const char *split_name_tail = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
/* one 120-byte component: cannot be split → pax path */
static const char *long_comp =
    "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    "cccccccccccccccccccccccccccc";

static struct i2k_fstree *make_tree(struct i2k_spool *sp)
{
	struct i2k_fstree *t = i2k_fstree_new(sp);
	struct i2k_fattr a = attr(S_IFDIR | 0755);
	add(t, "bin", &a, NULL, NULL, NULL);
	a = attr(S_IFREG | 04755);
	add(t, "bin/busybox", &a, "busybox!", NULL, NULL);
	a = attr(S_IFLNK | 0777);
	add(t, "bin/sh", &a, NULL, "busybox", NULL);
	a = attr(S_IFREG | 0644);
	a.uid = 3000000; /* > 2097151: pax uid */
	a.gid = 42;
	a.mtime_ns = 500000000;
	add(t, "home/big-uid", &a, "hello\n", NULL, NULL);
	a = attr(S_IFREG | 0755);
	struct i2k_inode *ping = NULL;
	add(t, "bin/ping", &a, "PING", NULL, &ping);
	i2k_inode_set_xattr(ping, "security.capability",
			    "\x01\x00\x00\x02\x00\x20\x00\x00\0\0\0\0\0\0\0\0\0\0\0\0", 20);
	i2k_inode_set_xattr(ping, "user.note", "a b=c", 5);
	struct i2k_error *err = NULL;
	if (i2k_fstree_link(t, "usr/bin/ping", "bin/ping", I2K_FSTREE_MKPARENTS, &err) < 0 ||
	    i2k_fstree_link(t, "usr/bin/ping6", "bin/ping", I2K_FSTREE_MKPARENTS, &err) < 0) {
		fprintf(stderr, "  link: %s\n", err->msg);
		exit(1);
	}
	a = attr(S_IFCHR | 0600);
	a.rdev_major = 5;
	a.rdev_minor = 1;
	add(t, "dev/console", &a, NULL, NULL, NULL);
	a = attr(S_IFBLK | 0660);
	a.rdev_major = 8;
	a.rdev_minor = 0;
	add(t, "dev/sda", &a, NULL, NULL, NULL);
	a = attr(S_IFIFO | 0600);
	add(t, "run/initctl", &a, NULL, NULL, NULL);
	a = attr(S_IFDIR | 01777);
	add(t, "tmp", &a, NULL, NULL, NULL);
	a = attr(S_IFREG | 0644);
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", long_dir, split_name_tail);
	add(t, p, &a, "split", NULL, NULL);
	snprintf(p, sizeof(p), "%s/%s", long_dir, long_comp);
	add(t, p, &a, "pax path", NULL, NULL);
	a = attr(S_IFLNK | 0777);
	snprintf(p, sizeof(p), "/%s/%s/%s", long_dir, long_dir, "target");
	add(t, "etc/longlink", &a, NULL, p, NULL);
	a = attr(S_IFSOCK | 0755);
	add(t, "run/sock", &a, NULL, NULL, NULL);
	return t;
}

static int write_tree(struct i2k_fstree *t, const struct i2k_tar_opts *o, struct membuf *m)
{
	struct i2k_error *err = NULL;
	memset(m, 0, sizeof(*m));
	int r = i2k_tar_write_tree(t, o, mem_stream(m), &err);
	if (r < 0) {
		fprintf(stderr, "  tar_write_tree: %s\n", err->msg);
		i2k_error_free(err);
	}
	return r;
}

static char warned[512];
static void capture_warn(const char *msg, void *ctx)
{
	(void)ctx;
	snprintf(warned, sizeof(warned), "%s", msg);
}

/* ---- tests --------------------------------------------------------------- */

TEST(header_bytes_like_go)
{
	struct membuf m = {0};
	struct i2k_error *err = NULL;
	struct i2k_tar_writer *w = NULL;
	CHECK(i2k_tar_writer_new(mem_stream(&m), &w, &err) == 0);
	struct i2k_tar_entry e = {.path = "etc/motd",
				  .mode = S_IFREG | 0644,
				  .uid = 0,
				  .gid = 0,
				  .mtime = 1700000000,
				  .size = 5};
	CHECK(i2k_tar_writer_add(w, &e, &err) == 0);
	CHECK(i2k_tar_writer_data(w, "hello", 5, &err) == 0);
	struct i2k_tar_entry d = {.path = "etc", .mode = S_IFDIR | 0755, .mtime = 0};
	CHECK(i2k_tar_writer_add(w, &d, &err) == 0);
	CHECK(i2k_tar_writer_finish(w, &err) == 0);
	CHECK_INT(m.len, 512 * 5);
	CHECK_INT(i2k_tar_writer_bytes(w), m.len);
	const unsigned char *h = m.data;
	CHECK(memcmp(h, "etc/motd\0", 9) == 0);
	CHECK(memcmp(h + 100, "0000644\0", 8) == 0);
	CHECK(memcmp(h + 108, "0000000\0", 8) == 0);
	CHECK(memcmp(h + 116, "0000000\0", 8) == 0);
	CHECK(memcmp(h + 124, "00000000005\0", 12) == 0);
	CHECK(memcmp(h + 136, "14524770400\0", 12) == 0); /* 1700000000 octal */
	CHECK(h[156] == '0');
	CHECK(memcmp(h + 257,
		     "ustar\0"
		     "00",
		     8) == 0);
	CHECK(h[265] == 0 && h[297] == 0); /* uname/gname empty */
	CHECK(memcmp(h + 329,
		     "0000000\0"
		     "0000000\0",
		     16) == 0);
	/* checksum: 6 octal digits, NUL, space; recompute */
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	char want[8];
	snprintf(want, sizeof(want), "%06o", sum);
	CHECK(memcmp(h + 148, want, 6) == 0 && h[154] == 0 && h[155] == ' ');
	CHECK(memcmp(h + 512, "hello\0\0\0", 8) == 0);
	const unsigned char *hd = m.data + 1024;
	CHECK(memcmp(hd, "etc/\0", 5) == 0);
	CHECK(hd[156] == '5');
	CHECK(memcmp(hd + 124, "00000000000\0", 12) == 0);
	/* two zero blocks, no 10240 record padding */
	static const unsigned char zero[1024];
	CHECK(memcmp(m.data + 1536, zero, 1024) == 0);
	i2k_tar_writer_free(w);
	free(m.data);
}

static const char *find_in(const struct membuf *m, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= m->len; i++)
		if (memcmp(m->data + i, needle, n) == 0)
			return (const char *)m->data + i;
	return NULL;
}

TEST(pax_records)
{
	struct membuf m = {0};
	struct i2k_error *err = NULL;
	struct i2k_tar_writer *w = NULL;
	CHECK(i2k_tar_writer_new(mem_stream(&m), &w, &err) == 0);
	/* size > 8 GiB, big gid, negative mtime with nanoseconds */
	struct i2k_tar_entry e = {.path = "dir/huge.img",
				  .mode = S_IFREG | 0600,
				  .uid = 1,
				  .gid = 4000000000u,
				  .mtime = -2,
				  .mtime_ns = 750000000,
				  .size = 9ULL << 30};
	CHECK(i2k_tar_writer_add(w, &e, &err) == 0);
	/* pax header block, named like Go's */
	CHECK(memcmp(m.data, "dir/PaxHeaders.0/huge.img\0", 26) == 0);
	CHECK(m.data[156] == 'x');
	const char *recs = (const char *)m.data + 512;
	CHECK(strncmp(recs, "18 gid=4000000000\n15 mtime=-1.25\n19 size=9663676416\n",
		      18 + 15 + 19 + 1) == 0);
	const unsigned char *h = m.data + 1024;
	CHECK(memcmp(h + 124, "00000000000\0", 12) == 0); /* size moved to pax */
	CHECK(memcmp(h + 116, "0000000\0", 8) == 0);
	CHECK(memcmp(h + 136, "00000000000\0", 12) == 0);
	/* finishing without the data is refused */
	CHECK(i2k_tar_writer_finish(w, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "tar: previous entry is missing 9663676416 data bytes");
	i2k_error_free(err);
	i2k_tar_writer_free(w);
	free(m.data);

	/* record length that crosses a digit boundary: "99 ..." vs "100 ..." */
	memset(&m, 0, sizeof(m));
	CHECK(i2k_tar_writer_new(mem_stream(&m), &w, &err) == 0);
	char val[200];
	memset(val, 'v', sizeof(val));
	struct i2k_xattr x = {.name = "user.k", .value = val, .len = 82};
	/* "NN SCHILY.xattr.user.k=" + 82 + "\n": 3+19+1+82+1 = 100+... */
	struct i2k_tar_entry e2 = {.path = "f", .mode = S_IFREG | 0644, .xattrs = &x, .nxattrs = 1};
	CHECK(i2k_tar_writer_add(w, &e2, &err) == 0);
	const char *r = (const char *)m.data + 512;
	int len = (int)strtol(r, NULL, 10);
	CHECK(len >= 100);
	const char *nl = memchr(r, '\n', 200);
	CHECK(nl && nl - r + 1 == len);
	CHECK(i2k_tar_writer_finish(w, &err) == 0);
	i2k_tar_writer_free(w);
	free(m.data);
}

TEST(writer_misuse)
{
	struct membuf m = {0};
	struct i2k_error *err = NULL;
	struct i2k_tar_writer *w = NULL;
	CHECK(i2k_tar_writer_new(mem_stream(&m), &w, &err) == 0);
	struct i2k_tar_entry e = {.path = "/abs", .mode = S_IFREG | 0644};
	CHECK(i2k_tar_writer_add(w, &e, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "tar: invalid entry path \"/abs\"");
	i2k_error_free(err);
	err = NULL;
	e.path = "s";
	e.mode = S_IFSOCK | 0644;
	CHECK(i2k_tar_writer_add(w, &e, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "s: sockets cannot be stored in tar");
	CHECK(err && err->code == I2K_ERR_UNSUPPORTED);
	i2k_error_free(err);
	err = NULL;
	e.mode = 0644;
	CHECK(i2k_tar_writer_add(w, &e, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "s: unknown file type 0");
	i2k_error_free(err);
	err = NULL;
	struct i2k_xattr x = {.name = "user.a=b", .value = "v", .len = 1};
	e.mode = S_IFREG | 0644;
	e.xattrs = &x;
	e.nxattrs = 1;
	CHECK(i2k_tar_writer_add(w, &e, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "s: xattr name \"user.a=b\" cannot be stored in tar");
	i2k_error_free(err);
	err = NULL;
	struct i2k_tar_entry dev = {.path = "d", .mode = S_IFCHR | 0600, .rdev_major = 1u << 30};
	CHECK(i2k_tar_writer_add(w, &dev, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "d: device number 1073741824:0 too large for tar");
	i2k_error_free(err);
	err = NULL;
	struct i2k_tar_entry f = {.path = "f", .mode = S_IFREG | 0644, .size = 2};
	CHECK(i2k_tar_writer_add(w, &f, &err) == 0);
	CHECK(i2k_tar_writer_data(w, "abc", 3, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "tar: 3 data bytes given, 2 expected");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_tar_writer_add(w, &f, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "tar: previous entry is missing 2 data bytes");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_tar_writer_data(w, "ab", 2, &err) == 0);
	CHECK(i2k_tar_writer_finish(w, &err) == 0);
	CHECK(i2k_tar_writer_add(w, &f, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "tar: write after finish");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_tar_writer_data(w, "ab", 2, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "tar: data after finish");
	i2k_error_free(err);
	i2k_tar_writer_freep(&w);
	CHECK(w == NULL);
	free(m.data);
}

TEST(tree_with_gnu_tar)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_tree(sp);
	struct membuf m;
	i2k_set_warn_handler(capture_warn, NULL);
	warned[0] = 0;
	CHECK(write_tree(t, NULL, &m) == 0);
	i2k_set_warn_handler(NULL, NULL);
	CHECK_STR(warned, "tar: 1 sockets skipped (tar cannot store sockets)");
	CHECK_INT(m.len % 512, 0);
	static const unsigned char zero[1024];
	CHECK(m.len >= 1024 && memcmp(m.data + m.len - 1024, zero, 1024) == 0);
	CHECK(m.len < 2048 || memcmp(m.data + m.len - 1536, zero, 512) != 0);
	char path[512], cmd[2000];
	CHECK(save("tree.tar", &m, path, sizeof(path)) == 0);

	/* listing: walk order, dirs with '/', hard links to the first name */
	snprintf(cmd, sizeof(cmd),
		 "tar --numeric-owner --full-time -tvf %s | "
		 "awk '{ $3=\"\"; $4=\"\"; $5=\"\"; print }' | sed 's/  */ /g'",
		 path);
	char *list = capture(cmd);
	char want[8192];
	snprintf(want, sizeof(want),
		 "drwxr-xr-x 0/0 %s/\n"
		 "-rw-r--r-- 0/0 %s/%s\n"
		 "-rw-r--r-- 0/0 %s/%s\n"
		 "drwxr-xr-x 0/0 bin/\n"
		 "-rwsr-xr-x 0/0 bin/busybox\n"
		 "-rwxr-xr-x 0/0 bin/ping\n"
		 "lrwxrwxrwx 0/0 bin/sh -> busybox\n"
		 "drwxr-xr-x 0/0 dev/\n"
		 "crw------- 0/0 dev/console\n"
		 "brw-rw---- 0/0 dev/sda\n"
		 "drwxr-xr-x 0/0 etc/\n"
		 "lrwxrwxrwx 0/0 etc/longlink -> /%s/%s/target\n"
		 "drwxr-xr-x 0/0 home/\n"
		 "-rw-r--r-- 3000000/42 home/big-uid\n"
		 "drwxr-xr-x 0/0 run/\n"
		 "prw------- 0/0 run/initctl\n"
		 "drwxrwxrwt 0/0 tmp/\n"
		 "drwxr-xr-x 0/0 usr/\n"
		 "drwxr-xr-x 0/0 usr/bin/\n"
		 "hrwxr-xr-x 0/0 usr/bin/ping link to bin/ping\n"
		 "hrwxr-xr-x 0/0 usr/bin/ping6 link to bin/ping\n",
		 long_dir, long_dir, split_name_tail, long_dir, long_comp, long_dir, long_dir);
	CHECK_STR(list, want);
	free(list);

	/* extract with xattrs and numeric owners, then stat */
	snprintf(
	    cmd, sizeof(cmd),
	    "mkdir -p %s/x && tar --xattrs --xattrs-include='*' --numeric-owner -xpf %s -C %s/x",
	    tmpdir, path, tmpdir);
	CHECK_INT(run(cmd), 0);
	char p[1200];
	struct stat st, st2;
	snprintf(p, sizeof(p), "%s/x/bin/busybox", tmpdir);
	CHECK(stat(p, &st) == 0 && st.st_mode == (S_IFREG | 04755) && st.st_size == 8);
	CHECK_INT(st.st_mtime, 1700000000);
	snprintf(p, sizeof(p), "%s/x/home/big-uid", tmpdir);
	CHECK(stat(p, &st) == 0);
	if (geteuid() == 0) {
		CHECK_INT(st.st_uid, 3000000);
		CHECK_INT(st.st_gid, 42);
	}
	CHECK_INT(st.st_mtim.tv_nsec, 500000000);
	snprintf(p, sizeof(p), "%s/x/bin/ping", tmpdir);
	CHECK(stat(p, &st) == 0);
	snprintf(p, sizeof(p), "%s/x/usr/bin/ping6", tmpdir);
	CHECK(stat(p, &st2) == 0);
	CHECK(st.st_ino == st2.st_ino && st.st_nlink == 3);
	char val[64] = {0};
	snprintf(p, sizeof(p), "%s/x/bin/ping", tmpdir);
	CHECK_INT(getxattr(p, "user.note", val, sizeof(val)), 5);
	CHECK_STR(val, "a b=c");
	unsigned char cap[32];
	if (geteuid() == 0) {
		CHECK_INT(getxattr(p, "security.capability", cap, sizeof(cap)), 20);
		CHECK(memcmp(cap, "\x01\x00\x00\x02\x00\x20\x00\x00", 8) == 0);
	}
	snprintf(p, sizeof(p), "%s/x/%s/%s", tmpdir, long_dir, long_comp);
	char *c = read_text(p);
	CHECK_STR(c, "pax path");
	free(c);
	if (geteuid() == 0) {
		snprintf(p, sizeof(p), "%s/x/dev/sda", tmpdir);
		CHECK(stat(p, &st) == 0 && S_ISBLK(st.st_mode) && major(st.st_rdev) == 8);
	}

	/* python's tarfile as a second, independent reader */
	char py[600];
	snprintf(py, sizeof(py), "%s/check.py", tmpdir);
	FILE *f = fopen(py, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("import sys, tarfile\n"
		      "with tarfile.open(sys.argv[1]) as t:\n"
		      "    for m in t.getmembers():\n"
		      "        x = sorted(k for k in m.pax_headers if k.startswith('SCHILY'))\n"
		      "        print(m.name, m.type.decode(), oct(m.mode), m.uid, m.gid,\n"
		      "              m.size, m.mtime, m.linkname[:8], ','.join(x))\n",
		      f);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd),
		 "python3 %s %s | grep -E '^(home/big-uid|bin/ping|usr/bin/ping) '", py, path);
	char *pyout = capture(cmd);
	CHECK_STR(pyout, "bin/ping 0 0o755 0 0 4 1700000000 "
			 " SCHILY.xattr.security.capability,SCHILY.xattr.user.note\n"
			 "home/big-uid 0 0o644 3000000 42 6 1700000000.5  \n"
			 "usr/bin/ping 1 0o755 0 0 0 1700000000 bin/ping \n");
	free(pyout);

	/* deterministic */
	struct membuf m2;
	CHECK(write_tree(t, NULL, &m2) == 0);
	CHECK(m.len == m2.len && memcmp(m.data, m2.data, m.len) == 0);
	free(m2.data);
	/* the split name has no pax header; the unsplittable one has one */
	CHECK(find_in(&m, "PaxHeaders.0/bbbb") == NULL);
	char pax_name[200];
	snprintf(pax_name, sizeof(pax_name), "%s/PaxHeaders.0", long_dir);
	CHECK(find_in(&m, pax_name) != NULL); /* cut at 100 bytes */
	free(m.data);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

/* A 5 GiB file of two small data runs (a PAX GNU sparse bomb once flattened)
 * stays a few blocks in the tar, GNU tar and python's tarfile read it back
 * with the same content; an all-zero 2 MiB file written densely becomes
 * sparse too (holes come from the content), a 2 MiB file of data does not. */
TEST(sparse_files)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = i2k_fstree_new(sp);
	const uint64_t big = 5ull << 30;
	uint64_t off = 0, size = 0;
	CHECK(i2k_spool_begin(sp, &off, &err) == 0);
	CHECK(i2k_spool_write_at(sp, 0, "HEAD", 4, &err) == 0);
	CHECK(i2k_spool_write_at(sp, big - 3 * 4096, "TAIL", 4, &err) == 0);
	i2k_spool_extend(sp, big);
	CHECK(i2k_spool_end(sp, &size, &err) == 0);
	CHECK(size == big);
	struct i2k_fattr a = attr(S_IFREG | 0644);
	CHECK(i2k_fstree_add(t, "data/bomb.img", &a, NULL, off, size, I2K_FSTREE_MKPARENTS, NULL,
			     &err) == 0);
	char *zeros = calloc(1, 2u << 20), *rnd = malloc(2u << 20);
	for (size_t i = 0; i < (2u << 20); i++)
		rnd[i] = (char)(1 + (i * 7919) % 251);
	CHECK(i2k_spool_append(sp, zeros, 2u << 20, &off, &err) == 0);
	CHECK(i2k_fstree_add(t, "data/zeros", &a, NULL, off, 2u << 20, 0, NULL, &err) == 0);
	CHECK(i2k_spool_append(sp, rnd, 2u << 20, &off, &err) == 0);
	CHECK(i2k_fstree_add(t, "data/dense", &a, NULL, off, 2u << 20, 0, NULL, &err) == 0);
	struct membuf m;
	CHECK(write_tree(t, NULL, &m) == 0);
	CHECK(m.len < (2u << 20) + 64 * 1024); /* the dense file and a few headers */
	char path[512], cmd[2000];
	CHECK(save("sparse.tar", &m, path, sizeof(path)) == 0);
	snprintf(cmd, sizeof(cmd), "tar --numeric-owner -tvf %s | awk '{print $3, $6}'", path);
	char *list = capture(cmd);
	CHECK_STR(list,
		  "0 data/\n5368709120 data/bomb.img\n2097152 data/dense\n2097152 data/zeros\n");
	free(list);
	/* python's tarfile: sizes, sparse members, sampled content */
	snprintf(
	    cmd, sizeof(cmd),
	    "python3 -c 'import tarfile,sys\n"
	    "t=tarfile.open(sys.argv[1])\n"
	    "for m in t.getmembers():\n"
	    "  if not m.isfile(): continue\n"
	    "  f=t.extractfile(m); f.seek(0); h=f.read(4); f.seek(m.size-3*4096); x=f.read(4)\n"
	    "  f.seek(m.size//2); mid=f.read(8)\n"
	    "  print(m.name, m.size, m.issparse(), h, x, mid)' %s",
	    path);
	list = capture(cmd);
	CHECK_STR(list, "data/bomb.img 5368709120 True b'HEAD' b'TAIL' "
			"b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'\n"
			"data/dense 2097152 False b'\\x01\\x8b\\x1a\\xa4' b'\\xe0o\\xf9\\x88' "
			"b'\\xe8w\\x06\\x90\\x1f\\xa98\\xc2'\n"
			"data/zeros 2097152 True b'\\x00\\x00\\x00\\x00' b'\\x00\\x00\\x00\\x00' "
			"b'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'\n");
	free(list);
	/* GNU tar extracts it sparse, with the same bytes */
	snprintf(cmd, sizeof(cmd),
		 "(d=%s/sparse-x && mkdir -p $d && tar -xf %s -C $d && "
		 "stat -c '%%s' $d/data/bomb.img && du -k $d/data/bomb.img | cut -f1 && "
		 "dd if=$d/data/bomb.img bs=4096 skip=$((5*1024*256-3)) count=1 2>/dev/null | "
		 "head -c 4 && rm -rf $d)",
		 tmpdir, path);
	list = capture(cmd);
	CHECK(list && strncmp(list, "5368709120\n", 11) == 0);
	CHECK(list && strchr(list, '\n') && atol_safe(strchr(list, '\n') + 1) < 1024); /* KiB */
	CHECK(list && strstr(list, "TAIL") != NULL);
	free(list);
	/* deterministic */
	struct membuf m2;
	CHECK(write_tree(t, NULL, &m2) == 0);
	CHECK(m2.len == m.len && memcmp(m.data, m2.data, m.len) == 0);
	free(m.data);
	free(m2.data);
	free(zeros);
	free(rnd);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

static bool skip_bin_ping(const char *path, const struct i2k_inode *ino, void *ctx)
{
	(void)ino;
	(void)ctx;
	return strcmp(path, "bin/ping") != 0;
}

TEST(filter_moves_hardlink_data)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_tree(sp);
	struct membuf m;
	struct i2k_tar_opts o = {.filter = skip_bin_ping};
	i2k_set_warn_handler(capture_warn, NULL);
	CHECK(write_tree(t, &o, &m) == 0);
	i2k_set_warn_handler(NULL, NULL);
	char path[512], cmd[1200];
	CHECK(save("filtered.tar", &m, path, sizeof(path)) == 0);
	snprintf(cmd, sizeof(cmd), "tar -tvf %s | grep ping | awk '{print $1, $6, $7, $8, $9}'",
		 path);
	char *list = capture(cmd);
	CHECK_STR(list, "-rwxr-xr-x usr/bin/ping   \n"
			"hrwxr-xr-x usr/bin/ping6 link to usr/bin/ping\n");
	free(list);
	free(m.data);

	i2k_interrupted = 1;
	memset(&m, 0, sizeof(m));
	CHECK(i2k_tar_write_tree(t, NULL, mem_stream(&m), &err) < 0);
	CHECK(err && err->code == I2K_ERR_INTERRUPTED);
	i2k_interrupted = 0;
	i2k_error_free(err);
	free(m.data);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

int main(void)
{
	t_prog = "test_tar";
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/i2k-test-tar-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	RUN(header_bytes_like_go);
	RUN(pax_records);
	RUN(writer_misuse);
	RUN(tree_with_gnu_tar);
	RUN(filter_moves_hardlink_data);
	RUN(sparse_files);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
