/* test_squashfs.c — formats/fs/squashfs: images checked by squashfs-tools
 * as the oracle (`unsquashfs -lln` listing, `unsquashfs -d` extraction
 * compared entry by entry with the tree: modes, owners, sizes, contents,
 * devices, xattrs, hard links; `unsquashfs -stat`), for gzip, zstd, no
 * compression, no fragments, small blocks; byte-identical output across runs
 * and thread counts; large directories (with a reader of the directory index
 * written here that follows the kernel's lookup); option and tree errors;
 * and the fixture image layers:latest (when build/fixtures/oci exists).
 * Extraction keeps owners, devices and security.* xattrs only as root: the
 * test says so and fails when not root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"
#include "builder/store/store.h"
#include "formats/fs/squashfs.h"
#include "formats/sink.h"
#include "test.h"
#include "testutil.h"
#include "treeutil.h"

/* ---- building trees --------------------------------------------------------- */

#define BS (128u * 1024)
static const char fcap[] = "\x01\x00\x00\x02\x00\x20\x00\x00\0\0\0\0\0\0\0\0\0\0\0\0";

/* Every kind of entry the writer handles. */
static struct i2k_fstree *rich_tree(void)
{
	struct i2k_fstree *t = i2k_fstree_new(spool);
	add(t, "empty-dir", S_IFDIR | 0700, NULL);
	add(t, "bin/busybox", S_IFREG | 04755, "#!busybox\n");
	add(t, "bin/sh", S_IFLNK | 0777, "busybox");
	struct i2k_inode *ping = add(t, "bin/ping", S_IFREG | 0755, "PING");
	i2k_inode_set_xattr(ping, "security.capability", fcap, 20);
	i2k_inode_set_xattr(ping, "user.note", "a b=c", 5);
	link_to(t, "usr/bin/ping", "bin/ping");
	link_to(t, "usr/bin/ping6", "bin/ping");
	struct i2k_inode *same = add(t, "etc/same-xattrs", S_IFREG | 0644, "x");
	i2k_inode_set_xattr(same, "user.note", "a b=c", 5);
	struct i2k_inode *dx = add(t, "etc/xattr-dir", S_IFDIR | 0755, NULL);
	i2k_inode_set_xattr(dx, "trusted.overlay.opaque", "y", 1);
	i2k_inode_set_xattr(dx, "user.empty", "", 0);
	struct i2k_inode *lx = add(t, "etc/xattr-link", S_IFLNK | 0777, "xattr-dir");
	i2k_inode_set_xattr(lx, "trusted.t", "v", 1);
	add(t, "etc/empty", S_IFREG | 0600, NULL);
	struct i2k_fattr a = attr(S_IFREG | 0640);
	a.uid = 1000;
	a.gid = 3000000;
	a.mtime = 86400 * 365;
	add_bytes(t, "home/user/owned", &a, "mine\n", 5, NULL);
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

	/* data: exactly one block, more than one block (compressible and
	 * not), a hole in the middle, an all-zero file, a tail per file. */
	size_t big = 3 * BS + 1234;
	_cleanup_free_ uint8_t *buf = i2k_xcalloc(big, 1);
	fill_random(buf, BS, 1);
	a = attr(S_IFREG | 0644);
	add_bytes(t, "data/one-block", &a, buf, BS, NULL);
	for (size_t i = 0; i < big; i++)
		buf[i] = (uint8_t)("squashfs!"[i % 9] + (i / 4096) % 3);
	add_bytes(t, "data/text", &a, buf, big, NULL);
	fill_random(buf, big, 2);
	memset(buf + BS, 0, BS); /* block 1 is a hole */
	add_bytes(t, "data/sparse", &a, buf, big, NULL);
	memset(buf, 0, big);
	add_bytes(t, "data/zeros", &a, buf, 2 * BS + 5, NULL); /* short zero tail block too */
	fill_random(buf, big, 3);
	add_bytes(t, "data/random", &a, buf, big - 1000, NULL);
	for (int i = 0; i < 40; i++) { /* small files spanning several fragment blocks */
		char p[64];
		fill_random(buf, 9000, (uint32_t)i + 10);
		snprintf(p, sizeof(p), "data/small/f%02d", i);
		add_bytes(t, p, &a, buf, 4000 + (size_t)i * 100, NULL);
	}
	return t;
}

/* ---- writing images ----------------------------------------------------------- */

/* Writes tree to tmpdir/name (truncated to the image size). */
static int write_image(struct i2k_fstree *t, const struct i2k_squashfs_opts *o, const char *name,
		       char *path, size_t n, uint64_t *used, struct i2k_error **err)
{
	snprintf(path, n, "%s/%s", tmpdir, name);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "open %s", path);
	_cleanup_(i2k_sink_freep) struct i2k_sink *s = NULL;
	if (i2k_sink_file_new(fd, 0, 4ull << 30, "squashfs image", &s, err) < 0)
		return -1;
	uint64_t u = 0;
	if (i2k_squashfs_write(t, o, s, &u, err) < 0 || i2k_sink_finish(s, err) < 0)
		return -1;
	if (ftruncate(fd, (off_t)u) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "truncate");
	if (used)
		*used = u;
	return 0;
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
	i2k_sha256_final(h, out);
	i2k_sha256_free(h);
	return i2k_xstrdup(out);
}

/* ---- oracle 1: unsquashfs -lln ------------------------------------------------ */

static void mode_str(uint32_t m, char s[11])
{
	const char *types = "?pc?d?b?-?l?s???";
	s[0] = types[(m >> 12) & 15];
	const char *rwx = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		s[1 + i] = (m & (0400u >> i)) ? rwx[i] : '-';
	if (m & S_ISUID)
		s[3] = (m & 0100) ? 's' : 'S';
	if (m & S_ISGID)
		s[6] = (m & 0010) ? 's' : 'S';
	if (m & S_ISVTX)
		s[9] = (m & 0001) ? 't' : 'T';
	s[10] = '\0';
}

/* One line per entry, normalised as norm_lln does: "MODE UID/GID SIZE DATE
 * TIME squashfs-root/PATH[ -> TARGET]", SIZE "-" for directories and
 * "MAJ,MIN" for devices (as unsquashfs prints it: dev >> 8, dev & 0xff). */
static int lln_line(const struct i2k_walk_entry *e, void *ctx)
{
	struct i2k_buf *b = ctx;
	const struct i2k_inode *i = e->inode;
	char m[11], size[64], when[32];
	mode_str(i->mode, m);
	if (S_ISDIR(i->mode)) {
		snprintf(size, sizeof(size), "-");
	} else if (S_ISCHR(i->mode) || S_ISBLK(i->mode)) {
		uint32_t dev = (i->rdev_minor & 0xff) | (i->rdev_major << 8) |
			       ((i->rdev_minor & ~0xffu) << 12);
		snprintf(size, sizeof(size), "%u,%u", dev >> 8, dev & 0xff);
	} else if (S_ISLNK(i->mode)) {
		snprintf(size, sizeof(size), "%zu", strlen(i->target));
	} else {
		snprintf(size, sizeof(size), "%" PRIu64, S_ISREG(i->mode) ? i->size : 0);
	}
	time_t tt = (time_t)i->mtime;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	_cleanup_free_ char *line =
	    i2k_xasprintf("%s %u/%u %s %s squashfs-root%s%s%s%s\n", m, i->uid, i->gid, size, when,
			  e->depth ? "/" : "", e->path, S_ISLNK(i->mode) ? " -> " : "",
			  S_ISLNK(i->mode) ? i->target : "");
	i2k_buf_append(b, line, strlen(line), NULL);
	return 0;
}

static char *expected_lln(struct i2k_fstree *t)
{
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "", 0, NULL);
	i2k_fstree_walk(t, true, lln_line, &b);
	return b.data;
}

/* Collapses the columns of unsquashfs -lln (the path and target stay
 * verbatim). */
static char *norm_lln(const char *text)
{
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "", 0, NULL);
	const char *p = text;
	while (*p) {
		const char *eol = strchr(p, '\n');
		if (!eol)
			eol = p + strlen(p);
		char tok[7][64];
		int nt = 0;
		const char *q = p;
		while (nt < 7 && q < eol) {
			while (q < eol && *q == ' ')
				q++;
			const char *s = q;
			while (q < eol && *q != ' ')
				q++;
			snprintf(tok[nt], sizeof(tok[nt]), "%.*s", (int)(q - s), s);
			/* "  1,  3": a device's minor is a separate token */
			if (nt == 2 && tok[2][strlen(tok[2]) - 1] == ',' && q < eol) {
				while (q < eol && *q == ' ')
					q++;
				s = q;
				while (q < eol && *q != ' ')
					q++;
				size_t l = strlen(tok[2]);
				snprintf(tok[2] + l, sizeof(tok[2]) - l, "%.*s", (int)(q - s), s);
			}
			nt++;
			if (nt == 5)
				break;
		}
		if (q < eol && *q == ' ')
			q++;
		if (tok[0][0] == 'd')
			snprintf(tok[2], sizeof(tok[2]), "-");
		_cleanup_free_ char *line =
		    i2k_xasprintf("%s %s %s %s %s %.*s\n", tok[0], tok[1], tok[2], tok[3], tok[4],
				  (int)(eol - q), q);
		i2k_buf_append(&b, line, strlen(line), NULL);
		p = *eol ? eol + 1 : eol;
	}
	return b.data;
}

static void check_lln(struct i2k_fstree *t, const char *img)
{
	_cleanup_free_ char *txt = i2k_xasprintf("%s/lln.txt", tmpdir);
	_cleanup_free_ char *cmd = i2k_xasprintf("TZ=UTC unsquashfs -lln '%s' > '%s'", img, txt);
	CHECK_INT(run(cmd), 0);
	_cleanup_free_ char *out = NULL;
	OK(i2k_read_file(txt, 64u << 20, &out, NULL, &_e));
	if (!out)
		return;
	_cleanup_free_ char *got = norm_lln(out);
	_cleanup_free_ char *want = expected_lln(t);
	CHECK_STR(got, want);
}

/* ---- oracle 2: extraction, listed like i2k_fstree_list ----------------------- */

struct lent {
	char *path; /* escaped */
	char *line; /* without the path */
	ino_t ino;
	bool reg; /* a regular file with more than one link */
};

static void esc(struct i2k_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x21 && c <= 0x7e && c != '\\') {
			i2k_buf_append(b, &s[i], 1, NULL);
		} else {
			char e[5];
			snprintf(e, sizeof(e), "\\x%02x", c);
			i2k_buf_append(b, e, 4, NULL);
		}
	}
}

static void list_dir(const char *root, const char *rel, struct lent **v, size_t *n, size_t *cap)
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
		struct i2k_buf p = {0}, l = {0};
		i2k_buf_append(&p, "", 0, NULL);
		esc(&p, r, strlen(r));
		char type = S_ISDIR(st.st_mode)	   ? 'd'
			    : S_ISREG(st.st_mode)  ? 'f'
			    : S_ISLNK(st.st_mode)  ? 'l'
			    : S_ISCHR(st.st_mode)  ? 'c'
			    : S_ISBLK(st.st_mode)  ? 'b'
			    : S_ISFIFO(st.st_mode) ? 'p'
						   : 's';
		_cleanup_free_ char *head =
		    i2k_xasprintf(" %c %04o %u %u ", type, (unsigned)(st.st_mode & 07777),
				  (unsigned)st.st_uid, (unsigned)st.st_gid);
		i2k_buf_append(&l, head, strlen(head), NULL);
		if (type == 'f') {
			_cleanup_free_ char *sha = file_sha(full);
			_cleanup_free_ char *x =
			    i2k_xasprintf("%lld %s", (long long)st.st_size, sha + 7);
			i2k_buf_append(&l, x, strlen(x), NULL);
		} else if (type == 'l') {
			char tgt[4096];
			ssize_t tl = readlink(full, tgt, sizeof(tgt));
			esc(&l, tgt, tl > 0 ? (size_t)tl : 0);
		} else if (type == 'c' || type == 'b') {
			_cleanup_free_ char *x =
			    i2k_xasprintf("%u,%u", major(st.st_rdev), minor(st.st_rdev));
			i2k_buf_append(&l, x, strlen(x), NULL);
		} else {
			i2k_buf_append(&l, "-", 1, NULL);
		}
		char names[4096];
		ssize_t nl = llistxattr(full, names, sizeof(names));
		const char *sorted[64];
		size_t ns = 0;
		for (ssize_t o = 0; o < nl && ns < 64; o += (ssize_t)strlen(names + o) + 1)
			sorted[ns++] = names + o;
		for (size_t a = 1; a < ns; a++) /* insertion sort by name */
			for (size_t b = a; b > 0 && strcmp(sorted[b - 1], sorted[b]) > 0; b--) {
				const char *tmp = sorted[b];
				sorted[b] = sorted[b - 1];
				sorted[b - 1] = tmp;
			}
		for (size_t a = 0; a < ns; a++) {
			unsigned char val[4096];
			ssize_t vl = lgetxattr(full, sorted[a], val, sizeof(val));
			i2k_buf_append(&l, " xattr:", 7, NULL);
			esc(&l, sorted[a], strlen(sorted[a]));
			i2k_buf_append(&l, "=", 1, NULL);
			for (ssize_t k = 0; k < vl; k++) {
				char hx[3];
				snprintf(hx, sizeof(hx), "%02x", val[k]);
				i2k_buf_append(&l, hx, 2, NULL);
			}
		}
		i2k_xgrow((void **)v, cap, *n + 1, sizeof(**v));
		(*v)[(*n)++] =
		    (struct lent){p.data, l.data, st.st_ino, type == 'f' && st.st_nlink > 1};
		if (type == 'd')
			list_dir(root, r, v, n, cap);
	}
	closedir(d);
}

static int lent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lent *)a)->path, ((const struct lent *)b)->path);
}

/* The i2k_fstree_list format of a directory on disk. */
static char *disk_list(const char *root)
{
	struct lent *v = NULL;
	size_t n = 0, cap = 0;
	list_dir(root, "", &v, &n, &cap);
	if (n > 1)
		qsort(v, n, sizeof(*v), lent_cmp);
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "", 0, NULL);
	for (size_t i = 0; i < n; i++) {
		const char *first = NULL;
		for (size_t j = 0; v[i].reg && j < i; j++)
			if (v[j].reg && v[j].ino == v[i].ino) {
				first = v[j].path;
				break;
			}
		i2k_buf_append(&b, v[i].path, strlen(v[i].path), NULL);
		if (first) {
			/* " f MODE UID GID" → " h MODE UID GID FIRST" */
			char head[64];
			snprintf(head, sizeof(head), "%s", v[i].line);
			char *sp = head;
			for (int k = 0; k < 4 && sp; k++)
				sp = strchr(sp + 1, ' ');
			if (sp)
				*sp = '\0';
			head[1] = 'h';
			i2k_buf_append(&b, head, strlen(head), NULL);
			i2k_buf_append(&b, " ", 1, NULL);
			i2k_buf_append(&b, first, strlen(first), NULL);
		} else {
			i2k_buf_append(&b, v[i].line, strlen(v[i].line), NULL);
		}
		i2k_buf_append(&b, "\n", 1, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].line);
	}
	free(v);
	return b.data;
}

static char *tree_list(struct i2k_fstree *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct i2k_error *e = NULL;
	if (i2k_fstree_list(t, f, &e) < 0) {
		fprintf(stderr, "  list: %s\n", e->msg);
		t_failed_checks++;
		i2k_error_free(e);
	}
	fclose(f);
	return buf;
}

static void check_extract(struct i2k_fstree *t, const char *img)
{
	if (geteuid() != 0) {
		printf("NOTE: not root: extraction check (owners, devices, xattrs) needs root\n");
		t_failed_checks++;
		return;
	}
	_cleanup_free_ char *dir = i2k_xasprintf("%s/x", tmpdir);
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("rm -rf '%s' && unsquashfs -n -q -d '%s' '%s' >/dev/null", dir, dir, img);
	CHECK_INT(run(cmd), 0);
	_cleanup_free_ char *got = disk_list(dir);
	/* (i2k_fstree_list of a tree holding only its root trips UBSan in
	 * fstree.c's qsort call: an empty listing is "" anyway) */
	_cleanup_free_ char *want = i2k_fstree_count(t) > 1 ? tree_list(t) : i2k_xstrdup("");
	CHECK_STR(got, want);
}

static void check_image(struct i2k_fstree *t, const char *img)
{
	check_lln(t, img);
	check_extract(t, img);
}

/* ---- a reader of the directory table (the kernel's lookup) ------------------- */

#define NCACHE 256
struct img {
	uint8_t *d;
	size_t len;
	int comp;
	uint64_t inode_start, dir_start;
	struct {
		uint64_t at; /* absolute position + 1, 0 = empty */
		size_t n;
		uint8_t buf[8192];
	} * cache; /* direct-mapped cache of decompressed metadata blocks */
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Reads len bytes of the metadata stream at table + block, offset. */
static bool meta_read(struct img *im, uint64_t table, uint64_t block, size_t off, uint8_t *out,
		      size_t len)
{
	uint8_t buf[8192];
	while (len > 0) {
		uint64_t at = table + block;
		if (at + 2 > im->len)
			return false;
		uint16_t h = le16(im->d + at);
		size_t csize = h & 0x7fff, n = 8192;
		if (at + 2 + csize > im->len)
			return false;
		size_t slot = (at / 2) % NCACHE;
		if (im->cache[slot].at == at + 1) {
			n = im->cache[slot].n;
			memcpy(buf, im->cache[slot].buf, n);
		} else if (h & 0x8000) {
			memcpy(buf, im->d + at + 2, csize);
			n = csize;
		} else if (im->comp == 1) {
			uLongf dl = sizeof(buf);
			if (uncompress(buf, &dl, im->d + at + 2, csize) != Z_OK)
				return false;
			n = dl;
		} else {
			n = ZSTD_decompress(buf, sizeof(buf), im->d + at + 2, csize);
			if (ZSTD_isError(n))
				return false;
		}
		im->cache[slot].at = at + 1;
		im->cache[slot].n = n;
		memcpy(im->cache[slot].buf, buf, n);
		if (off >= n) { /* the offset lies in a later block */
			off -= n;
			block += 2 + csize;
			continue;
		}
		size_t take = n - off < len ? n - off : len;
		memcpy(out, buf + off, take);
		out += take;
		len -= take;
		off = 0;
		block += 2 + csize;
	}
	return true;
}

/* Looks name up in the directory whose inode is at ref, the way
 * fs/squashfs/namei.c does: for an extended directory the last index entry
 * with a name <= name, then a scan of the headers from there. Returns the
 * entry's inode number (0: not found) and its inode reference in *found.
 * *nindex gets the directory's index count. */
static uint32_t kernel_lookup(struct img *im, uint64_t ref, const char *name, unsigned *nindex,
			      uint64_t *found)
{
	uint8_t ino[40];
	*nindex = 0;
	if (!meta_read(im, im->inode_start, ref >> 16, ref & 0xffff, ino, 32))
		return 0;
	uint32_t size, block;
	uint16_t icount = 0, boff;
	if (le16(ino) == 1) {
		block = le32(ino + 16);
		size = le16(ino + 24);
		boff = le16(ino + 26);
	} else if (le16(ino) == 8 &&
		   meta_read(im, im->inode_start, ref >> 16, ref & 0xffff, ino, 40)) {
		size = le32(ino + 20);
		block = le32(ino + 24);
		icount = le16(ino + 32);
		boff = le16(ino + 34);
	} else {
		return 0;
	}
	*nindex = icount;
	uint64_t next_block = block;
	size_t length = 0;
	/* the index follows the 40-byte inode */
	uint64_t iblock = ref >> 16;
	size_t ioff = (ref & 0xffff) + 40;
	for (unsigned i = 0; i < icount; i++) {
		uint8_t x[12 + 257];
		if (!meta_read(im, im->inode_start, iblock, ioff, x, 12))
			return 0;
		uint32_t nsz = le32(x + 8) + 1;
		if (nsz > 256 || !meta_read(im, im->inode_start, iblock, ioff, x, 12 + nsz))
			return 0;
		x[12 + nsz] = '\0';
		ioff += 12 + nsz;
		if (strcmp((char *)x + 12, name) > 0)
			break;
		length = le32(x);
		next_block = le32(x + 4);
	}
	size_t next_off = (length + boff) % 8192;
	length += 3;
	while (length < size) {
		uint8_t h[12];
		if (!meta_read(im, im->dir_start, next_block, next_off, h, 12))
			return 0;
		uint32_t count = le32(h) + 1, base = le32(h + 8);
		size_t pos = next_off + 12;
		length += 12;
		if (count > 256)
			return 0;
		for (uint32_t k = 0; k < count; k++) {
			uint8_t ent[8 + 257];
			if (!meta_read(im, im->dir_start, next_block, pos, ent, 8))
				return 0;
			uint32_t nsz = le16(ent + 6) + 1u;
			if (nsz > 256 ||
			    !meta_read(im, im->dir_start, next_block, pos, ent, 8 + nsz))
				return 0;
			ent[8 + nsz] = '\0';
			pos += 8 + nsz;
			length += 8 + nsz;
			if ((unsigned char)name[0] < ent[8])
				return 0;
			if (strlen(name) == nsz && memcmp(name, ent + 8, nsz) == 0) {
				*found = (uint64_t)le32(h + 4) << 16 | le16(ent);
				return base + (uint32_t)(int16_t)le16(ent + 2);
			}
		}
		next_off = pos;
	}
	return 0;
}

static bool load_img(const char *path, struct img *im)
{
	char *d = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, 1u << 30, &d, &len, &e) < 0 || len < 96) {
		i2k_error_free(e);
		free(d);
		return false;
	}
	*im = (struct img){.d = (uint8_t *)d,
			   .len = len,
			   .comp = le16((uint8_t *)d + 20),
			   .inode_start = le64((uint8_t *)d + 64),
			   .dir_start = le64((uint8_t *)d + 72),
			   .cache = i2k_xcalloc(NCACHE, sizeof(*im->cache))};
	return true;
}

static char *stat_of(const char *img)
{
	_cleanup_free_ char *cmd = i2k_xasprintf("unsquashfs -stat '%s'", img);
	char *out = capture(cmd);
	return out ? out : i2k_xstrdup("");
}

static int count_inodes(const struct i2k_walk_entry *e, void *ctx)
{
	if (e->first)
		(*(unsigned *)ctx)++;
	return 0;
}

/* ---- tests ------------------------------------------------------------------ */

TEST(rich_tree_gzip)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = rich_tree();
	struct i2k_squashfs_opts o = {.mtime = 1234567890};
	char img[512];
	uint64_t used = 0;
	OK(write_image(t, &o, "rich.sqfs", img, sizeof(img), &used, &_e));
	CHECK(used > 0 && used % 4096 == 0);
	check_image(t, img);
	unsigned ninodes = 0;
	i2k_fstree_walk(t, true, count_inodes, &ninodes);
	_cleanup_free_ char *st = stat_of(img);
	CHECK_CONTAINS(st, "Compression gzip");
	CHECK_CONTAINS(st, "Block size 131072");
	CHECK_CONTAINS(st, "Always-use-fragments option is specified");
	_cleanup_free_ char *want = i2k_xasprintf("Number of inodes %u\n", ninodes);
	CHECK_CONTAINS(st, want);
	CHECK_CONTAINS(st, "Number of ids 3\n");       /* 0, 1000, 3000000 */
	CHECK_CONTAINS(st, "Number of xattr ids 4\n"); /* ping's set shared with none */
	CHECK_CONTAINS(st, "Number of fragments 2\n"); /* ~250 KiB of tails */
	CHECK_CONTAINS(st, "Filesystem is not exportable via NFS");
	_cleanup_free_ char *cmd = i2k_xasprintf("unsquashfs -mkfs-time '%s'", img);
	_cleanup_free_ char *mk = capture(cmd);
	CHECK_STR(mk, "1234567890\n");
	/* the hole and the all-zero file take no space: the image is smaller
	 * than the incompressible data alone would be plus 4 zero blocks */
	struct stat sb;
	CHECK(stat(img, &sb) == 0 && (uint64_t)sb.st_size == used);
	CHECK(used < 3 * (3 * BS + 1234) + BS + 40 * 8000);
}

TEST(option_variants)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = rich_tree();
	const struct {
		struct i2k_squashfs_opts o;
		const char *stat;
	} v[] = {
	    {{.compression = I2K_COMPRESS_ZSTD}, "Compression zstd"},
	    {{.compression = I2K_COMPRESS_ZSTD, .level = 3}, "Compression zstd"},
	    {{.compression = I2K_COMPRESS_GZIP, .level = 1}, "Compression gzip"},
	    {{.compression = I2K_COMPRESS_NONE}, "Data is uncompressed"},
	    {{.no_fragments = true}, "Fragments are not stored"},
	    {{.block_size = 4096, .threads = 3}, "Block size 4096"},
	    {{.compression = I2K_COMPRESS_ZSTD, .block_size = 1 << 20, .level = 19},
	     "Block size 1048576"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(v); i++) {
		char img[512], name[32];
		snprintf(name, sizeof(name), "variant%zu.sqfs", i);
		OK(write_image(t, &v[i].o, name, img, sizeof(img), NULL, &_e));
		check_image(t, img);
		_cleanup_free_ char *st = stat_of(img);
		CHECK_CONTAINS(st, v[i].stat);
	}
	/* level 1 gzip is bigger than level 9 on text */
	char a[512], b[512];
	uint64_t ua = 0, ub = 0;
	struct i2k_squashfs_opts fast = {.level = 1}, best = {0};
	OK(write_image(t, &fast, "fast.sqfs", a, sizeof(a), &ua, &_e));
	OK(write_image(t, &best, "best.sqfs", b, sizeof(b), &ub, &_e));
	CHECK(ua >= ub);
}

TEST(deterministic)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = rich_tree();
	for (int kind = 0; kind < 2; kind++) {
		_cleanup_free_ char *first = NULL;
		const int threads[] = {1, 2, 4, 1};
		for (size_t i = 0; i < I2K_ARRAY_SIZE(threads); i++) {
			struct i2k_squashfs_opts o = {.compression = kind ? I2K_COMPRESS_ZSTD
									  : I2K_COMPRESS_GZIP,
						      .threads = threads[i],
						      .mtime = 42};
			char img[512];
			OK(write_image(t, &o, "det.sqfs", img, sizeof(img), NULL, &_e));
			char *sha = file_sha(img);
			if (first == NULL) {
				first = sha;
			} else {
				CHECK_STR(sha, first);
				free(sha);
			}
		}
	}
}

TEST(empty_tree)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	char img[512];
	uint64_t used = 0;
	OK(write_image(t, NULL, "empty.sqfs", img, sizeof(img), &used, &_e));
	CHECK_INT(used, 4096);
	check_image(t, img);
	_cleanup_free_ char *st = stat_of(img);
	CHECK_CONTAINS(st, "Number of inodes 1\n");
	CHECK_CONTAINS(st, "Number of fragments 0\n");
}

TEST(big_directories)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	char p[128];
	for (int i = 0; i < 10000; i++) {
		snprintf(p, sizeof(p), "big/entry-%05d-with-a-longish-name", i);
		if (i % 3 == 0)
			add(t, p, S_IFREG | 0644, i % 2 ? "odd\n" : NULL);
		else if (i % 3 == 1)
			add(t, p, S_IFLNK | 0777, "somewhere");
		else
			add(t, p, S_IFDIR | 0755, NULL);
	}
	/* "mix/b" holds 33000 inodes: "mix/a" and "mix/c" are further apart
	 * than a directory header's 16-bit inode offset reaches */
	add(t, "mix/a", S_IFREG | 0644, "a");
	for (int i = 0; i < 33000; i++) {
		snprintf(p, sizeof(p), "mix/b/%05d", i);
		add(t, p, S_IFREG | 0644, NULL);
	}
	add(t, "mix/c", S_IFREG | 0644, "c");
	link_to(t, "mix/d-link-to-a", "mix/a");
	char img[512];
	OK(write_image(t, NULL, "big.sqfs", img, sizeof(img), NULL, &_e));
	check_lln(t, img); /* (extracting 50k files takes too long here) */

	struct img im;
	CHECK(load_img(img, &im));
	uint64_t root = le64(im.d + 32), big = 0, mix = 0, found = 0;
	unsigned nindex = 0;
	CHECK(kernel_lookup(&im, root, "big", &nindex, &big) > 0);
	CHECK(kernel_lookup(&im, root, "mix", &nindex, &mix) > 0);
	for (int i = 0; i < 10000; i += (i < 20 || i > 9980) ? 1 : 97) {
		snprintf(p, sizeof(p), "entry-%05d-with-a-longish-name", i);
		char full[160];
		snprintf(full, sizeof(full), "big/%s", p);
		uint32_t got = kernel_lookup(&im, big, p, &nindex, &found);
		CHECK_INT(got, i2k_fstree_lookup(t, full)->ino);
	}
	CHECK(nindex > 10); /* ~480 KiB of listing: an index entry per 8 KiB block */
	CHECK_INT(kernel_lookup(&im, big, "entry-", &nindex, &found), 0);
	CHECK_INT(kernel_lookup(&im, big, "zzz", &nindex, &found), 0);
	const char *mixed[] = {"a", "b", "c", "d-link-to-a"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(mixed); i++) {
		snprintf(p, sizeof(p), "mix/%s", mixed[i]);
		CHECK_INT(kernel_lookup(&im, mix, mixed[i], &nindex, &found),
			  i2k_fstree_lookup(t, p)->ino);
	}
	free(im.d);
	free(im.cache);
}

TEST(file_over_4gib)
{
	/* 4 GiB of holes then "tail!": extended file inode with 64-bit size,
	 * 32768 sparse blocks and the tail in a fragment */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	uint64_t off = 0, size = 0, at = (4ull << 30) + 3;
	OK(i2k_spool_begin(spool, &off, &_e));
	OK(i2k_spool_write_at(spool, at, "tail!", 5, &_e));
	OK(i2k_spool_end(spool, &size, &_e));
	CHECK_INT(size, at + 5);
	struct i2k_fattr a = attr(S_IFREG | 0644);
	OK(i2k_fstree_add(t, "huge", &a, NULL, off, size, 0, NULL, &_e));
	add(t, "small", S_IFREG | 0644, "small");
	char img[512];
	uint64_t used = 0;
	OK(write_image(t, NULL, "huge.sqfs", img, sizeof(img), &used, &_e));
	CHECK(used < 1 << 20); /* 32768 * 4 bytes of block list + tables */
	check_lln(t, img);
	_cleanup_free_ char *dir = i2k_xasprintf("%s/x", tmpdir);
	_cleanup_free_ char *cmd = i2k_xasprintf(
	    "rm -rf '%s' && unsquashfs -n -q -d '%s' '%s' huge >/dev/null", dir, dir, img);
	CHECK_INT(run(cmd), 0);
	_cleanup_free_ char *huge = i2k_xasprintf("%s/huge", dir);
	_cleanup_close_ int fd = open(huge, O_RDONLY | O_CLOEXEC);
	struct stat st;
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == size);
	char tail[16] = {0}, zero[8] = {1};
	CHECK_INT(pread(fd, tail, 16, (off_t)at), 5);
	CHECK_STR(tail, "tail!");
	CHECK_INT(pread(fd, zero, 8, (off_t)(at - 8)), 8);
	CHECK(memcmp(zero, "\0\0\0\0\0\0\0\0", 8) == 0);
	_cleanup_free_ char *rm = i2k_xasprintf("rm -rf '%s'", dir);
	run(rm);
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
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	struct i2k_inode *f = add(t, "f", S_IFREG | 0644, "f");
	i2k_inode_set_xattr(f, "system.posix_acl_access", "\x02\0\0\0", 4);
	_cleanup_free_ char *huge = i2k_xcalloc(70000, 1);
	i2k_inode_set_xattr(f, "user.huge", huge, 70000);
	nwarned = 0;
	i2k_set_warn_handler(record_warning, NULL);
	char img[512];
	OK(write_image(t, NULL, "acl.sqfs", img, sizeof(img), NULL, &_e));
	i2k_set_warn_handler(NULL, NULL);
	CHECK_INT(nwarned, 2);
	CHECK_STR(warned[0], "squashfs: /f: extended attribute system.posix_acl_access skipped "
			     "(squashfs stores only user., trusted. and security. attributes)");
	CHECK_STR(warned[1], "squashfs: /f: extended attribute user.huge skipped (value of 70000 "
			     "bytes, at most 65536)");
	_cleanup_free_ char *st = stat_of(img);
	CHECK_CONTAINS(st, "Xattrs are not stored");
	check_lln(t, img);
}

TEST(errors)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(spool);
	add(t, "f", S_IFREG | 0644, "data");
	char img[512];
	const struct {
		struct i2k_squashfs_opts o;
		const char *msg;
	} bad[] = {
	    {{.block_size = 1000},
	     "squashfs: block size 1000 is not a power of two between 4096 and 1048576"},
	    {{.block_size = 2048},
	     "squashfs: block size 2048 is not a power of two between 4096 and 1048576"},
	    {{.block_size = 2u << 20},
	     "squashfs: block size 2097152 is not a power of two between 4096 and 1048576"},
	    {{.level = 10}, "squashfs: gzip level 10 out of range 1..9"},
	    {{.compression = I2K_COMPRESS_ZSTD, .level = 99},
	     "squashfs: zstd level 99 out of range 1..22"},
	    {{.compression = (enum i2k_compression)7}, "squashfs: unknown compression 7"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++)
		FAILS(write_image(t, &bad[i].o, "bad.sqfs", img, sizeof(img), NULL, &_e),
		      I2K_ERR_USAGE, bad[i].msg);

	/* a sink too small for the image */
	_cleanup_(i2k_sink_freep) struct i2k_sink *small = NULL;
	OK(i2k_sink_tmpfile_new(100, "tiny partition", &small, NULL, &_e));
	uint64_t used = 0;
	if (small) {
		struct i2k_error *e = NULL;
		CHECK(i2k_squashfs_write(t, NULL, small, &used, &e) < 0);
		CHECK(e != NULL);
		if (e) {
			CHECK(strncmp(e->msg, "squashfs: ", 10) == 0);
			CHECK_CONTAINS(e->msg, "past the end of tiny partition");
		}
		i2k_error_free(e);
	}

	/* what squashfs cannot hold */
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *dev = i2k_fstree_new(spool);
	struct i2k_fattr a = attr(S_IFCHR | 0600);
	a.rdev_major = 4096;
	a.rdev_minor = 1;
	add_bytes(dev, "dev/x", &a, NULL, 0, NULL);
	FAILS(write_image(dev, NULL, "dev.sqfs", img, sizeof(img), NULL, &_e), I2K_ERR_UNSUPPORTED,
	      "squashfs: /dev/x: device 4096:1 does not fit (major < 4096, minor < 1048576)");
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *dev2 = i2k_fstree_new(spool);
	a.rdev_major = 4095;
	a.rdev_minor = 1u << 20;
	add_bytes(dev2, "y", &a, NULL, 0, NULL);
	FAILS(write_image(dev2, NULL, "dev.sqfs", img, sizeof(img), NULL, &_e), I2K_ERR_UNSUPPORTED,
	      "squashfs: /y: device 4095:1048576 does not fit (major < 4096, minor < 1048576)");

	_cleanup_(i2k_fstree_freep) struct i2k_fstree *longn = i2k_fstree_new(spool);
	char name[300];
	memset(name, 'x', 257);
	name[257] = '\0';
	char path[320];
	snprintf(path, sizeof(path), "d/%s", name);
	add(longn, path, S_IFREG | 0644, NULL);
	_cleanup_free_ char *want =
	    i2k_xasprintf("squashfs: /%s: name of 257 bytes (squashfs allows at most 256)", path);
	FAILS(write_image(longn, NULL, "long.sqfs", img, sizeof(img), NULL, &_e),
	      I2K_ERR_UNSUPPORTED, want);

	_cleanup_(i2k_fstree_freep) struct i2k_fstree *ids = i2k_fstree_new(spool);
	for (uint32_t i = 0; i < 32768; i++) {
		char p[32];
		snprintf(p, sizeof(p), "u/%05u", i);
		a = attr(S_IFREG | 0644);
		a.uid = 100000 + i;
		a.gid = 200000 + i;
		add_bytes(ids, p, &a, NULL, 0, NULL);
	}
	/* 0 (root, u) + 65536 more */
	FAILS(write_image(ids, NULL, "ids.sqfs", img, sizeof(img), NULL, &_e), I2K_ERR_UNSUPPORTED,
	      "squashfs: more than 65535 distinct uids and gids");
	/* one fewer fits exactly */
	OK(i2k_fstree_remove(ids, "u/00000", false, &_e));
	OK(write_image(ids, NULL, "ids.sqfs", img, sizeof(img), NULL, &_e));
	_cleanup_free_ char *st = stat_of(img);
	CHECK_CONTAINS(st, "Number of ids 65535\n");
}

/* ---- the fixture image -------------------------------------------------------- */

static struct i2k_store *fixture_store;

TEST(fixture_layers)
{
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t =
	    fixture_tree(fixture_store, "layers:latest");
	CHECK(t != NULL);
	if (!t)
		return;
	const struct i2k_squashfs_opts v[] = {{0}, {.compression = I2K_COMPRESS_ZSTD}};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(v); i++) {
		char path[512];
		OK(write_image(t, &v[i], "layers.sqfs", path, sizeof(path), NULL, &_e));
		check_image(t, path);
	}
	/* the extracted tree is the fixture's expected listing, too */
	const char *repo = getenv("I2K_REPO");
	_cleanup_free_ char *exp =
	    i2k_xasprintf("%s/fixtures/expected/layers.list", repo ? repo : ".");
	_cleanup_free_ char *want = read_text(exp);
	_cleanup_free_ char *dir = i2k_xasprintf("%s/x", tmpdir);
	_cleanup_free_ char *got = disk_list(dir);
	CHECK_STR(got, want);
}

/* `test_squashfs NAME...` runs only the named tests. */
static int g_argc;
static char **g_argv;
static bool wanted(const char *name)
{
	if (g_argc < 2)
		return true;
	for (int i = 1; i < g_argc; i++)
		if (strcmp(g_argv[i], name) == 0)
			return true;
	return false;
}
#define RUN_IF(name)                                                                               \
	do {                                                                                       \
		if (wanted(#name))                                                                 \
			RUN(name);                                                                 \
	} while (0)

int main(int argc, char **argv)
{
	t_prog = "test_squashfs";
	g_argc = argc;
	g_argv = argv;
	make_tmpdir();
	struct i2k_error *e = NULL;
	if (i2k_spool_new(NULL, &spool, &e) < 0) {
		fprintf(stderr, "spool: %s\n", e->msg);
		return 1;
	}
	if (run("unsquashfs -help >/dev/null 2>&1") == 127) {
		printf("FAIL: test_squashfs/oracle: unsquashfs (squashfs-tools) not installed\n");
		return 1;
	}
	RUN_IF(rich_tree_gzip);
	RUN_IF(option_variants);
	RUN_IF(deterministic);
	RUN_IF(empty_tree);
	RUN_IF(big_directories);
	RUN_IF(file_over_4gib);
	RUN_IF(unsupported_xattrs_are_skipped);
	RUN_IF(errors);

	int fx = fixture_store_open(t_prog, &fixture_store);
	if (fx > 0) {
		RUN_IF(fixture_layers);
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
