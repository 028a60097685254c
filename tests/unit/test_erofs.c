/* test_erofs.c — formats/fs/erofs: images checked by Debian's erofs-utils
 * as the oracle. `fsck.erofs --extract=DIR` must pass and the extracted
 * tree must match the fstree entry by entry (type, mode, owner, mtime,
 * size, content, symlink target, device numbers); `dump.erofs` must report
 * one NID and the link count for every hard link, the superblock's inode
 * and block counts, and each inode's timestamp; xattrs (which fsck.erofs
 * 1.5 does not extract) are read back by a small parser of the inode found
 * at the NID dump.erofs names. Also: multi-block directories with lookups
 * through dump.erofs, byte-identical output across runs, i2k_erofs_size ==
 * the written size, option and tree errors, skipped xattrs. Extraction
 * keeps owners and devices only as root: the test fails when not root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "formats/fs/erofs.h"
#include "formats/sink.h"
#include "test.h"
#include "testutil.h"
#include "treeutil.h"

/* ---- building trees --------------------------------------------------------- */

#define MTIME 1700000000
#define BS 4096u
static const char fcap[] = "\x01\x00\x00\x02\x00\x20\x00\x00\0\0\0\0\0\0\0\0\0\0\0\0";

/* Every kind of entry the writer handles. */
static struct i2k_fstree *rich_tree(void)
{
	/* the tree's own root takes i2k_source_date_epoch(): pin it */
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	struct i2k_fstree *t = i2k_fstree_new(spool);
	add(t, "empty-dir", S_IFDIR | 0700, NULL);
	add(t, "bin/busybox", S_IFREG | 04755, "#!busybox\n");
	add(t, "bin/sh", S_IFLNK | 0777, "busybox");
	struct i2k_inode *ping = add(t, "bin/ping", S_IFREG | 0755, "PING");
	i2k_inode_set_xattr(ping, "security.capability", fcap, 20);
	i2k_inode_set_xattr(ping, "user.note", "a b=c", 5);
	link_to(t, "usr/bin/ping", "bin/ping");
	link_to(t, "usr/bin/ping6", "bin/ping");
	struct i2k_inode *dx = add(t, "etc/xattr-dir", S_IFDIR | 0755, NULL);
	i2k_inode_set_xattr(dx, "trusted.overlay.opaque", "y", 1);
	i2k_inode_set_xattr(dx, "user.empty", "", 0);
	struct i2k_inode *lx = add(t, "etc/xattr-link", S_IFLNK | 0777, "xattr-dir");
	i2k_inode_set_xattr(lx, "trusted.t", "v", 1);
	add(t, "etc/empty", S_IFREG | 0600, NULL);
	struct i2k_fattr a = attr(S_IFREG | 0640);
	a.uid = 1000;
	a.gid = 3000000; /* extended inode */
	a.mtime = 86400 * 365;
	add_bytes(t, "home/user/owned", &a, "mine\n", 5, NULL);
	a = attr(S_IFREG | 0644);
	a.mtime = 4102444800; /* 2100-01-01: past 32 bits signed */
	a.mtime_ns = 123456789;
	add_bytes(t, "home/user/future", &a, "later\n", 6, NULL);
	a = attr(S_IFDIR | 01777);
	add_bytes(t, "tmp", &a, NULL, 0, NULL);
	a = attr(S_IFCHR | 0666);
	a.rdev_major = 1;
	a.rdev_minor = 3;
	add_bytes(t, "dev/null", &a, NULL, 0, NULL);
	a = attr(S_IFBLK | 0660);
	a.rdev_major = 259;
	a.rdev_minor = 70000; /* > 255: the split minor encoding */
	add_bytes(t, "dev/nvme-part", &a, NULL, 0, NULL);
	a = attr(S_IFIFO | 0600);
	add_bytes(t, "run/fifo", &a, NULL, 0, NULL);
	a = attr(S_IFSOCK | 0755);
	add_bytes(t, "run/sock", &a, NULL, 0, NULL);
	link_to(t, "run/fifo-link", "run/fifo");
	char name[256];
	memset(name, 'n', 255);
	name[255] = '\0';
	char path[300];
	snprintf(path, sizeof(path), "long/%s", name);
	add(t, path, S_IFREG | 0644, "long name\n");
	snprintf(path, sizeof(path), "long/%.250s-link", name);
	add(t, path, S_IFLNK | 0777, name);
	char tgt[3001];
	memset(tgt, 't', 3000);
	tgt[3000] = '\0';
	add(t, "long/target-3000", S_IFLNK | 0777, tgt); /* not inline next to others */

	/* data: exactly one and two blocks, block + small tail (inline), a
	 * tail too large to inline, a hole in the middle, all zeros */
	size_t big = 5 * BS + 1234;
	_cleanup_free_ uint8_t *buf = i2k_xcalloc(big, 1);
	a = attr(S_IFREG | 0644);
	fill_random(buf, big, 1);
	add_bytes(t, "data/one-block", &a, buf, BS, NULL);
	add_bytes(t, "data/two-blocks", &a, buf, 2 * BS, NULL);
	add_bytes(t, "data/tail-inline", &a, buf, 3 * BS + 100, NULL);
	add_bytes(t, "data/tail-plain", &a, buf, BS + 4090, NULL);
	memset(buf + BS, 0, 2 * BS); /* blocks 1, 2 are holes */
	add_bytes(t, "data/sparse", &a, buf, big, NULL);
	memset(buf, 0, big);
	add_bytes(t, "data/zeros", &a, buf, 2 * BS + 5, NULL);
	for (int i = 0; i < 40; i++) {
		char p[64];
		fill_random(buf, 9000, (uint32_t)i + 10);
		snprintf(p, sizeof(p), "data/small/f%02d", i);
		add_bytes(t, p, &a, buf, 100 + (size_t)i * 211, NULL);
	}
	return t;
}

/* ---- writing images ----------------------------------------------------------- */

static int write_image(struct i2k_fstree *t, const struct i2k_erofs_opts *o, const char *name,
		       char *path, size_t n, uint64_t *used, struct i2k_error **err)
{
	snprintf(path, n, "%s/%s", tmpdir, name);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "open %s", path);
	_cleanup_(i2k_sink_freep) struct i2k_sink *s = NULL;
	if (i2k_sink_file_new(fd, 0, 4ull << 30, "erofs image", &s, err) < 0)
		return -1;
	uint64_t u = 0;
	if (i2k_erofs_write(t, o, s, &u, err) < 0 || i2k_sink_finish(s, err) < 0)
		return -1;
	if (ftruncate(fd, (off_t)u) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "truncate");
	if (used)
		*used = u;
	return 0;
}

static void sha_hex(struct i2k_sha256 *h, char out[I2K_DIGEST_LEN + 1])
{
	i2k_sha256_final(h, out);
	i2k_sha256_free(h);
}

static char *file_sha(const char *path)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, 1u << 30, &data, &len, &e) < 0) {
		i2k_error_free(e);
		return i2k_xstrdup("unreadable");
	}
	struct i2k_sha256 *h = i2k_sha256_new();
	i2k_sha256_update(h, data, len);
	char out[I2K_DIGEST_LEN + 1];
	sha_hex(h, out);
	return i2k_xstrdup(out);
}

/* ---- the listing: "PATH TYPE MODE UID GID MTIME EXTRA" per entry -------------- */

static void push(char ***v, size_t *n, size_t *cap, char *line)
{
	i2k_xgrow((void **)v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = line;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_sorted(char **v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), str_cmp);
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "", 0, NULL);
	for (size_t i = 0; i < n; i++) {
		i2k_buf_append(&b, v[i], strlen(v[i]), NULL);
		i2k_buf_append(&b, "\n", 1, NULL);
		free(v[i]);
	}
	free(v);
	return b.data;
}

static char type_char(uint32_t m)
{
	return S_ISDIR(m)    ? 'd'
	       : S_ISREG(m)  ? 'f'
	       : S_ISLNK(m)  ? 'l'
	       : S_ISCHR(m)  ? 'c'
	       : S_ISBLK(m)  ? 'b'
	       : S_ISFIFO(m) ? 'p'
			     : 's';
}

struct tl {
	struct i2k_fstree *t;
	char **v;
	size_t n, cap;
};

static int tree_line(const struct i2k_walk_entry *e, void *ctx)
{
	struct tl *tl = ctx;
	const struct i2k_inode *i = e->inode;
	char extra[5000] = "-";
	if (S_ISREG(i->mode)) {
		struct i2k_sha256 *h = i2k_sha256_new();
		_cleanup_free_ uint8_t *buf = i2k_xmalloc(1 << 16);
		for (uint64_t off = 0; off < i->size;) {
			size_t n = i->size - off < (1 << 16) ? (size_t)(i->size - off) : 1 << 16;
			struct i2k_error *err = NULL;
			if (i2k_fstree_read(tl->t, i, off, buf, n, &err) < 0) {
				i2k_error_free(err);
				break;
			}
			i2k_sha256_update(h, buf, n);
			off += n;
		}
		char d[I2K_DIGEST_LEN + 1];
		sha_hex(h, d);
		snprintf(extra, sizeof(extra), "%" PRIu64 " %s", i->size, d + 7);
	} else if (S_ISLNK(i->mode)) {
		snprintf(extra, sizeof(extra), "%s", i->target);
	} else if (S_ISCHR(i->mode) || S_ISBLK(i->mode)) {
		snprintf(extra, sizeof(extra), "%u,%u", i->rdev_major, i->rdev_minor);
	}
	/* fsck.erofs sets no times on symlinks; directories' get touched by
	 * their children's extraction on some versions: compare file times */
	char when[32] = "-";
	if (!S_ISLNK(i->mode) && !S_ISDIR(i->mode))
		snprintf(when, sizeof(when), "%lld.%09u", (long long)i->mtime, i->mtime_ns);
	push(&tl->v, &tl->n, &tl->cap,
	     i2k_xasprintf("/%s %c %04o %u %u %s %s", e->path, type_char(i->mode),
			   i->mode & (S_ISREG(i->mode) ? 0777 : 07777), i->uid, i->gid, when,
			   extra));
	return 0;
}

static char *tree_list(struct i2k_fstree *t)
{
	struct tl tl = {.t = t};
	i2k_fstree_walk(t, false, tree_line, &tl);
	return join_sorted(tl.v, tl.n);
}

static void list_dir(const char *root, const char *rel, char ***v, size_t *n, size_t *cap)
{
	_cleanup_free_ char *dpath = i2k_xasprintf("%s%s", root, rel);
	DIR *d = opendir(dpath);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		_cleanup_free_ char *r = i2k_xasprintf("%s/%s", rel, de->d_name);
		_cleanup_free_ char *full = i2k_xasprintf("%s%s", root, r);
		struct stat st;
		if (lstat(full, &st) < 0)
			continue;
		char extra[5000] = "-";
		if (S_ISREG(st.st_mode)) {
			_cleanup_free_ char *sha = file_sha(full);
			snprintf(extra, sizeof(extra), "%lld %s", (long long)st.st_size, sha + 7);
		} else if (S_ISLNK(st.st_mode)) {
			ssize_t tl = readlink(full, extra, sizeof(extra) - 1);
			extra[tl > 0 ? tl : 0] = '\0';
		} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			snprintf(extra, sizeof(extra), "%u,%u", major(st.st_rdev),
				 minor(st.st_rdev));
		}
		char when[32] = "-";
		if (!S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode))
			snprintf(when, sizeof(when), "%lld.%09ld", (long long)st.st_mtim.tv_sec,
				 st.st_mtim.tv_nsec);
		push(v, n, cap,
		     i2k_xasprintf("%s %c %04o %u %u %s %s", r, type_char(st.st_mode),
				   (unsigned)(st.st_mode & (S_ISREG(st.st_mode) ? 0777 : 07777)),
				   (unsigned)st.st_uid, (unsigned)st.st_gid, when, extra));
		if (S_ISDIR(st.st_mode))
			list_dir(root, r, v, n, cap);
	}
	closedir(d);
}

static char *disk_list(const char *root)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	list_dir(root, "", &v, &n, &cap);
	return join_sorted(v, n);
}

/* fsck.erofs must accept the image and extract exactly the tree. (Its
 * version 1.5 extracts regular files without suid/sgid/sticky, also from
 * mkfs.erofs's own images: the listings compare files' permission bits
 * only, and rich_tree_image reads the special bits from the inode.) */
static void check_extract(struct i2k_fstree *t, const char *img)
{
	if (geteuid() != 0) {
		printf("NOTE: not root: extraction check (owners, devices) needs root\n");
		t_failed_checks++;
		return;
	}
	_cleanup_free_ char *dir = i2k_xasprintf("%s/x", tmpdir);
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("rm -rf '%s' && fsck.erofs --extract='%s' '%s' >'%s/fsck.log' 2>&1 || "
			  "{ cat '%s/fsck.log'; exit 1; }",
			  dir, dir, img, tmpdir, tmpdir);
	CHECK_INT(run(cmd), 0);
	_cleanup_free_ char *got = disk_list(dir);
	_cleanup_free_ char *want = tree_list(t);
	CHECK_STR(got, want);
}

/* `dump.erofs --path=/P IMG` as text ("" when it fails). */
static char *dump_path(const char *img, const char *p)
{
	_cleanup_free_ char *cmd = i2k_xasprintf("dump.erofs --path='%s' '%s' 2>/dev/null", p, img);
	char *out = capture(cmd);
	return out ? out : i2k_xstrdup("");
}

static uint64_t field_u64(const char *text, const char *key)
{
	const char *p = text ? strstr(text, key) : NULL;
	return p ? strtoull(p + strlen(key), NULL, 10) : UINT64_MAX;
}

/* ---- reading xattrs at a NID (test-side parser of the on-disk inode) --------- */

static char *xattrs_at(const char *img, uint64_t nid)
{
	_cleanup_free_ char *d = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(img, 1u << 30, &d, &len, &e) < 0) {
		i2k_error_free(e);
		return i2k_xstrdup("unreadable");
	}
	const uint8_t *sb = (const uint8_t *)d + 1024;
	uint64_t at = (uint64_t)i2k_get_le32(sb + 40) * BS + nid * 32;
	if (at + 64 > len)
		return i2k_xstrdup("nid out of range");
	const uint8_t *ino = (const uint8_t *)d + at;
	unsigned isize = (i2k_get_le16(ino) & 1) ? 64 : 32;
	unsigned icount = i2k_get_le16(ino + 2);
	if (icount == 0)
		return i2k_xstrdup("");
	size_t end = at + isize + 12 + (icount - 1) * 4u;
	size_t p = at + isize + 12 + ino[isize + 4] * 4u;
	static const char *pre[] = {"?",
				    "user.",
				    "system.posix_acl_access",
				    "system.posix_acl_default",
				    "trusted.",
				    "lustre.",
				    "security."};
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "", 0, NULL);
	while (p + 4 <= end && end <= len) {
		const uint8_t *x = (const uint8_t *)d + p;
		unsigned nl = x[0], idx = x[1], vl = i2k_get_le16(x + 2);
		_cleanup_free_ char *s = i2k_xasprintf("%s%.*s=", idx < 7 ? pre[idx] : "?", (int)nl,
						       (const char *)x + 4);
		i2k_buf_append(&b, s, strlen(s), NULL);
		for (unsigned k = 0; k < vl; k++) {
			char hx[3];
			snprintf(hx, sizeof(hx), "%02x", x[4 + nl + k]);
			i2k_buf_append(&b, hx, 2, NULL);
		}
		i2k_buf_append(&b, " ", 1, NULL);
		p += (4 + nl + vl + 3) & ~3u;
	}
	return b.data;
}

/* i_mode of the inode at path (dump.erofs finds its NID), 0 on failure. */
static unsigned mode_of(const char *img, const char *path)
{
	_cleanup_free_ char *dump = dump_path(img, path);
	uint64_t nid = field_u64(dump, "NID: ");
	_cleanup_free_ char *d = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (nid == UINT64_MAX || i2k_read_file(img, 1u << 30, &d, &len, &e) < 0) {
		i2k_error_free(e);
		return 0;
	}
	uint64_t at = (uint64_t)i2k_get_le32((const uint8_t *)d + 1024 + 40) * BS + nid * 32;
	return at + 32 <= len ? i2k_get_le16((const uint8_t *)d + at + 4) : 0;
}

static char *xattrs_of(const char *img, const char *path)
{
	_cleanup_free_ char *dump = dump_path(img, path);
	uint64_t nid = field_u64(dump, "NID: ");
	if (nid == UINT64_MAX)
		return i2k_xasprintf("no NID for %s", path);
	return xattrs_at(img, nid);
}

/* ---- tests ------------------------------------------------------------------ */

static unsigned count_inodes(struct i2k_fstree *t);

TEST(rich_tree_image)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = rich_tree();
	struct i2k_erofs_opts o = {.mtime = MTIME, .label = "i2kit-root"};
	char img[512];
	uint64_t used = 0, est = 0;
	OK(write_image(t, &o, "rich.erofs", img, sizeof(img), &used, &_e));
	OK(i2k_erofs_size(t, &o, &est, &_e));
	CHECK(used > 0 && used % BS == 0);
	CHECK_INT(est, used);
	check_extract(t, img);

	_cleanup_free_ char *cmd = i2k_xasprintf("dump.erofs -s '%s'", img);
	_cleanup_free_ char *sb = capture(cmd);
	CHECK(sb != NULL);
	CHECK_INT(field_u64(sb, "Filesystem blocks:"), used / BS);
	CHECK_INT(field_u64(sb, "Filesystem root nid:"), 36);
	CHECK_INT(field_u64(sb, "Filesystem inode count:"), count_inodes(t));
	CHECK_CONTAINS(sb,
		       "Filesystem created:                           Tue Nov 14 22:13:20 2023");

	/* hard links: one NID, the tree's link count */
	_cleanup_free_ char *p1 = dump_path(img, "/bin/ping");
	_cleanup_free_ char *p2 = dump_path(img, "/usr/bin/ping6");
	_cleanup_free_ char *f1 = dump_path(img, "/run/fifo");
	_cleanup_free_ char *f2 = dump_path(img, "/run/fifo-link");
	CHECK(field_u64(p1, "NID: ") != UINT64_MAX);
	CHECK_INT(field_u64(p1, "NID: "), field_u64(p2, "NID: "));
	CHECK_INT(field_u64(p1, "Links: "), 3);
	CHECK_INT(field_u64(f1, "NID: "), field_u64(f2, "NID: "));
	CHECK_INT(field_u64(f1, "Links: "), 2);
	/* directories: 2 + subdirectories */
	_cleanup_free_ char *home = dump_path(img, "/home");
	CHECK_INT(field_u64(home, "Links: "), 3);
	/* compact inodes share the build time; these needed extended ones */
	_cleanup_free_ char *own = dump_path(img, "/home/user/owned");
	CHECK_CONTAINS(own, "Inode size: 64");
	CHECK_CONTAINS(own, "Uid: 1000   Gid: 3000000");
	CHECK_CONTAINS(own, "Timestamp: 1971-01-01 00:00:00");
	_cleanup_free_ char *fut = dump_path(img, "/home/user/future");
	CHECK_CONTAINS(fut, "Inode size: 64");
	CHECK_CONTAINS(fut, "Timestamp: 2100-01-01 00:00:00.123456789");
	_cleanup_free_ char *bb = dump_path(img, "/bin/busybox");
	CHECK_CONTAINS(bb, "Inode size: 32");
	/* layouts: 2 = FLAT_INLINE, 0 = FLAT_PLAIN */
	_cleanup_free_ char *ti = dump_path(img, "/data/tail-inline");
	CHECK_CONTAINS(ti, "Layout: 2");
	_cleanup_free_ char *tp = dump_path(img, "/data/tail-plain");
	CHECK_CONTAINS(tp, "Layout: 0");
	_cleanup_free_ char *ob = dump_path(img, "/data/one-block");
	CHECK_CONTAINS(ob, "Layout: 0");

	CHECK_INT(mode_of(img, "/bin/busybox"), S_IFREG | 04755);
	CHECK_INT(mode_of(img, "/tmp"), S_IFDIR | 01777);

	/* xattrs */
	_cleanup_free_ char *xp = xattrs_of(img, "/usr/bin/ping");
	CHECK_STR(xp, "security.capability=0100000200200000000000000000000000000000 "
		      "user.note=6120623d63 ");
	_cleanup_free_ char *xd = xattrs_of(img, "/etc/xattr-dir");
	CHECK_STR(xd, "trusted.overlay.opaque=79 user.empty= ");
	_cleanup_free_ char *xl = xattrs_of(img, "/etc/xattr-link");
	CHECK_STR(xl, "trusted.t=76 ");
	_cleanup_free_ char *xn = xattrs_of(img, "/bin/busybox");
	CHECK_STR(xn, "");

	/* the holes and the all-zero file are not written */
	struct stat st;
	CHECK(stat(img, &st) == 0 && (uint64_t)st.st_size == used);
	CHECK((uint64_t)st.st_blocks * 512 < used);
}

static int count_cb(const struct i2k_walk_entry *e, void *ctx)
{
	if (e->first)
		(*(unsigned *)ctx)++;
	return 0;
}

static unsigned count_inodes(struct i2k_fstree *t)
{
	unsigned n = 0;
	i2k_fstree_walk(t, true, count_cb, &n);
	return n;
}

TEST(deterministic)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = rich_tree();
	struct i2k_erofs_opts o = {.mtime = 42};
	char a[512], b[512], c[512];
	OK(write_image(t, &o, "det1.erofs", a, sizeof(a), NULL, &_e));
	OK(write_image(t, &o, "det2.erofs", b, sizeof(b), NULL, &_e));
	_cleanup_free_ char *sa = file_sha(a);
	_cleanup_free_ char *sb = file_sha(b);
	CHECK_STR(sa, sb);
	o.uuid_seed[0] = 1;
	OK(write_image(t, &o, "det3.erofs", c, sizeof(c), NULL, &_e));
	_cleanup_free_ char *sc = file_sha(c);
	CHECK(strcmp(sa, sc) != 0);
	/* every inode's mtime differs from the build time 42: all extended,
	 * and still exact */
	check_extract(t, c);
}

TEST(empty_tree)
{
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	char img[512];
	uint64_t used = 0;
	OK(write_image(t, NULL, "empty.erofs", img, sizeof(img), &used, &_e));
	CHECK_INT(used, BS);
	_cleanup_free_ char *cmd = i2k_xasprintf("fsck.erofs '%s' >/dev/null 2>&1", img);
	CHECK_INT(run(cmd), 0);
	_cleanup_free_ char *dir = i2k_xasprintf("%s/x", tmpdir);
	_cleanup_free_ char *x =
	    i2k_xasprintf("rm -rf '%s' && fsck.erofs --extract='%s' '%s' >/dev/null 2>&1 && "
			  "test -z \"$(ls -A '%s')\"",
			  dir, dir, img, dir);
	CHECK_INT(run(x), 0);
}

TEST(big_directories)
{
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	char p[300];
	for (int i = 0; i < 5000; i++) {
		snprintf(p, sizeof(p), "big/entry-%05d-with-a-longish-name", i);
		if (i % 3 == 0)
			add(t, p, S_IFREG | 0644, i % 2 ? "odd\n" : NULL);
		else if (i % 3 == 1)
			add(t, p, S_IFLNK | 0777, "somewhere");
		else
			add(t, p, S_IFDIR | 0755, NULL);
	}
	/* names that sort before and between "." and "..": '!' < '-' < '.' */
	add(t, "big/!first", S_IFREG | 0644, "1");
	add(t, "big/-dash", S_IFREG | 0644, "2");
	add(t, "big/.hidden", S_IFREG | 0644, "3");
	add(t, "big/.-x", S_IFREG | 0644, "4");
	/* 255-byte names: 20 per block */
	for (unsigned i = 0; i < 100; i++) {
		char n[256];
		memset(n, 'a' + (int)(i % 26), 255);
		n[251] = (char)('0' + i / 1000 % 10);
		n[252] = (char)('0' + i / 100 % 10);
		n[253] = (char)('0' + i / 10 % 10);
		n[254] = (char)('0' + i % 10);
		n[255] = '\0';
		char full[300];
		snprintf(full, sizeof(full), "long/%.255s", n);
		add(t, full, S_IFREG | 0644, NULL);
	}
	char img[512];
	struct i2k_erofs_opts o = {.mtime = MTIME};
	OK(write_image(t, &o, "big.erofs", img, sizeof(img), NULL, &_e));
	check_extract(t, img);
	_cleanup_free_ char *d = dump_path(img, "/big");
	CHECK(field_u64(d, "Size: ") > 40 * BS); /* ~47 bytes a name */
	CHECK_INT(field_u64(d, "Links: "), 2 + 5000 / 3);
	/* lookups (dump.erofs resolves paths by name, block by block) */
	const char *names[] = {"!first",
			       "-dash",
			       ".hidden",
			       ".-x",
			       "entry-00000-with-a-longish-name",
			       "entry-02500-with-a-longish-name",
			       "entry-04999-with-a-longish-name"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(names); i++) {
		snprintf(p, sizeof(p), "/big/%s", names[i]);
		_cleanup_free_ char *x = dump_path(img, p);
		CHECK_CONTAINS(x, "NID: ");
	}
	_cleanup_free_ char *none = dump_path(img, "/big/entry-");
	CHECK(strstr(none, "NID: ") == NULL);
}

static char warned[4][512];
static int nwarned;
static void record_warning(const char *msg, void *ctx)
{
	if (nwarned < 4)
		snprintf(warned[nwarned], sizeof(warned[0]), "%s", msg);
	nwarned++;
}

TEST(unsupported_xattrs_are_skipped)
{
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	struct i2k_inode *f = add(t, "f", S_IFREG | 0644, "f");
	i2k_inode_set_xattr(f, "system.posix_acl_access", "\x02\0\0\0", 4);
	i2k_inode_set_xattr(f, "system.other", "x", 1);
	_cleanup_free_ char *huge = i2k_xcalloc(70000, 1);
	i2k_inode_set_xattr(f, "user.huge", huge, 70000);
	nwarned = 0;
	i2k_set_warn_handler(record_warning, NULL);
	char img[512];
	OK(write_image(t, NULL, "acl.erofs", img, sizeof(img), NULL, &_e));
	i2k_set_warn_handler(NULL, NULL);
	CHECK_INT(nwarned, 2);
	CHECK_STR(warned[0], "erofs: /f: extended attribute system.other skipped (EROFS stores "
			     "only user., trusted., security. and POSIX ACL attributes)");
	CHECK_STR(warned[1], "erofs: /f: extended attribute user.huge skipped (value of 70000 "
			     "bytes, at most 65535)");
	_cleanup_free_ char *x = xattrs_of(img, "/f");
	CHECK_STR(x, "system.posix_acl_access=02000000 ");
	_cleanup_free_ char *cmd = i2k_xasprintf("fsck.erofs '%s' >/dev/null 2>&1", img);
	CHECK_INT(run(cmd), 0);
}

TEST(errors)
{
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	add(t, "f", S_IFREG | 0644, "data");
	char img[512];
	struct i2k_erofs_opts lab = {.label = "seventeen-bytes!!"};
	FAILS(write_image(t, &lab, "bad.erofs", img, sizeof(img), NULL, &_e), I2K_ERR_USAGE,
	      "erofs: label \"seventeen-bytes!!\" is longer than 16 bytes");
	struct i2k_erofs_opts neg = {.mtime = -1};
	FAILS(write_image(t, &neg, "bad.erofs", img, sizeof(img), NULL, &_e), I2K_ERR_USAGE,
	      "erofs: negative build time -1");
	uint64_t sz = 0;
	FAILS(i2k_erofs_size(t, &lab, &sz, &_e), I2K_ERR_USAGE,
	      "erofs: label \"seventeen-bytes!!\" is longer than 16 bytes");

	/* a sink too small for the image */
	_cleanup_(i2k_sink_freep) struct i2k_sink *small = NULL;
	OK(i2k_sink_tmpfile_new(100, "tiny partition", &small, NULL, &_e));
	if (small) {
		uint64_t used = 0;
		FAILS(i2k_erofs_write(t, NULL, small, &used, &_e), I2K_ERR_IO,
		      "erofs: image of 4096 bytes does not fit in tiny partition (100 bytes)");
	}

	_cleanup_(i2k_fstree_freep) struct i2k_fstree *longn = i2k_fstree_new(spool);
	char name[300];
	memset(name, 'x', 256);
	name[256] = '\0';
	char path[320];
	snprintf(path, sizeof(path), "d/%s", name);
	add(longn, path, S_IFREG | 0644, NULL);
	_cleanup_free_ char *want =
	    i2k_xasprintf("erofs: /%s: name of 256 bytes (EROFS allows at most 255)", path);
	FAILS(write_image(longn, NULL, "long.erofs", img, sizeof(img), NULL, &_e),
	      I2K_ERR_UNSUPPORTED, want);

	/* devices beyond the kernel's dev_t encoding */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *dev = i2k_fstree_new(spool);
	struct i2k_fattr a = attr(S_IFCHR | 0600);
	a.rdev_major = 4096;
	a.rdev_minor = 1;
	add_bytes(dev, "dev/x", &a, NULL, 0, NULL);
	FAILS(write_image(dev, NULL, "dev.erofs", img, sizeof(img), NULL, &_e), I2K_ERR_UNSUPPORTED,
	      "erofs: /dev/x: device 4096:1 does not fit (major < 4096, minor < 1048576)");
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *dev2 = i2k_fstree_new(spool);
	a = attr(S_IFBLK | 0600);
	a.rdev_major = 4095;
	a.rdev_minor = 1u << 20;
	add_bytes(dev2, "y", &a, NULL, 0, NULL);
	FAILS(write_image(dev2, NULL, "dev.erofs", img, sizeof(img), NULL, &_e),
	      I2K_ERR_UNSUPPORTED,
	      "erofs: /y: device 4095:1048576 does not fit (major < 4096, minor < 1048576)");
	/* the largest that fit */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *dev3 = i2k_fstree_new(spool);
	a.rdev_minor = (1u << 20) - 1;
	add_bytes(dev3, "z", &a, NULL, 0, NULL);
	OK(write_image(dev3, NULL, "dev.erofs", img, sizeof(img), NULL, &_e));
	check_extract(dev3, img);

	/* inline xattrs beyond the 16-bit count */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *xt = i2k_fstree_new(spool);
	struct i2k_inode *f = add(xt, "x", S_IFREG | 0644, NULL);
	_cleanup_free_ char *v = i2k_xcalloc(65000, 1);
	for (int i = 0; i < 5; i++) {
		char n[32];
		snprintf(n, sizeof(n), "user.v%d", i);
		i2k_inode_set_xattr(f, n, v, 65000);
	}
	FAILS(write_image(xt, NULL, "x.erofs", img, sizeof(img), NULL, &_e), I2K_ERR_UNSUPPORTED,
	      "erofs: /x: xattrs of 325052 bytes do not fit in an inode");
	/* four of them do (an inode bigger than a block) */
	OK(i2k_fstree_remove(xt, "x", false, &_e));
	f = add(xt, "x", S_IFREG | 0644, "after");
	for (int i = 0; i < 4; i++) {
		char n[32];
		snprintf(n, sizeof(n), "user.v%d", i);
		i2k_inode_set_xattr(f, n, v, 65000);
	}
	add(xt, "y", S_IFREG | 0644, "y");
	OK(write_image(xt, NULL, "x.erofs", img, sizeof(img), NULL, &_e));
	check_extract(xt, img);
}

/* ---- the fixture image -------------------------------------------------------- */

static struct i2k_store *fixture_store;

/* layers:latest (whiteouts, hard links, xattrs, odd names) flattened and
 * written: fsck.erofs extracts exactly the tree */
TEST(fixture_layers)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t =
	    fixture_tree(fixture_store, "layers:latest");
	CHECK(t != NULL);
	if (!t)
		return;
	char path[512];
	struct i2k_erofs_opts o = {.mtime = MTIME};
	OK(write_image(t, &o, "layers.erofs", path, sizeof(path), NULL, &_e));
	check_extract(t, path);
}

int main(int argc, char **argv)
{
	t_prog = "test_erofs";
	make_tmpdir();
	struct i2k_error *e = NULL;
	if (i2k_spool_new(NULL, &spool, &e) < 0) {
		fprintf(stderr, "spool: %s\n", e->msg);
		return 1;
	}
	if (run("fsck.erofs -V >/dev/null 2>&1") == 127 ||
	    run("dump.erofs -V >/dev/null 2>&1") == 127) {
		printf("FAIL: test_erofs/oracle: fsck.erofs/dump.erofs (erofs-utils) not "
		       "installed\n");
		return 1;
	}
	RUN(rich_tree_image);
	RUN(deterministic);
	RUN(empty_tree);
	RUN(big_directories);
	RUN(unsupported_xattrs_are_skipped);
	RUN(errors);

	int fx = fixture_store_open(t_prog, &fixture_store);
	if (fx > 0) {
		RUN(fixture_layers);
		i2k_store_free(fixture_store);
	} else if (fx < 0) {
		t_failed_tests++;
	}
	i2k_error_free(e);
	i2k_spool_free(spool);
	_cleanup_free_ char *rm = i2k_xasprintf("rm -rf '%s'", tmpdir);
	run(rm);
	return TEST_DONE();
}
