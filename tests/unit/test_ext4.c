/* test_ext4.c — formats/fs/ext4: trees written as ext4 through libext2fs,
 * checked with the real tools: `e2fsck -fn` must pass, and a listing made
 * from the image with debugfs (ls -p, stat, ea_list, ea_get, rdump) must
 * equal i2k_fstree_list() of the tree; link counts, times, owners and the
 * superblock are read back too. Also: byte-identical output, sparse files,
 * --size too small, option and entry errors, a failing sink, windows, and
 * the fixture images (when build/fixtures/oci exists; a missing fixture is a
 * failure when I2K_REQUIRE_FIXTURES=1). */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"
#include "builder/store/store.h"
#include "formats/fs/ext4.h"
#include "formats/sink.h"
#include "tests/unit/test.h"
#include "tests/unit/testutil.h"

/* ---- building trees ------------------------------------------------------------ */

static struct i2k_spool *new_spool(void)
{
	struct i2k_spool *s = NULL;
	struct i2k_error *err = NULL;
	if (i2k_spool_new(NULL, &s, &err) < 0)
		abort();
	return s;
}

struct spec {
	const char *path;
	uint32_t mode; /* with type; 0 → regular 0644 */
	uint32_t uid, gid;
	const void *data;
	size_t len;
	const char *target;
	uint32_t maj, min;
	int64_t mtime;
	uint32_t ns;
};

static struct i2k_inode *put_spec(struct i2k_fstree *t, struct spec s)
{
	struct i2k_fattr a = {.mode = s.mode ? s.mode : (S_IFREG | 0644),
			      .uid = s.uid,
			      .gid = s.gid,
			      .mtime = s.mtime ? s.mtime : 1700000000,
			      .mtime_ns = s.ns,
			      .rdev_major = s.maj,
			      .rdev_minor = s.min};
	uint64_t off = 0;
	if (s.len)
		OK(i2k_spool_append(i2k_fstree_spool(t), s.data, s.len, &off, &_e));
	struct i2k_inode *ino = NULL;
	OK(i2k_fstree_add(t, s.path, &a, s.target, off, s.len, I2K_FSTREE_MKPARENTS, &ino, &_e));
	return ino;
}
#define PUT(t, ...) put_spec((t), (struct spec){__VA_ARGS__})
#define TXT(s) .data = (s), .len = sizeof(s) - 1

static void xattr(struct i2k_inode *in, const char *name, const void *v, size_t len)
{
	if (in)
		i2k_inode_set_xattr(in, name, v, len);
}

/* ---- writing images ---------------------------------------------------------------- */

static struct i2k_ext4_opts opts(void)
{
	struct i2k_ext4_opts o = {.epoch = 1600000000};
	memset(o.uuid_seed, 0x5a, sizeof(o.uuid_seed));
	return o;
}

/* Writes the tree as ext4 into the file path (size 0 → automatic). */
static int write_img(struct i2k_fstree *t, const struct i2k_ext4_opts *o, uint64_t size,
		     const char *path, struct i2k_error **e)
{
	if (size == 0 && i2k_ext4_size_for(t, o, &size, e) < 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return i2k_error_errno(e, errno, I2K_ERR_IO, "%s", path);
	struct i2k_sink *s = NULL;
	int r = i2k_sink_file_new(fd, 0, size, "root", &s, e);
	if (r == 0)
		r = i2k_ext4_write(t, o, s, e);
	if (r == 0)
		r = i2k_sink_finish(s, e);
	i2k_sink_free(s);
	close(fd);
	return r;
}

static char *tpath(const char *name)
{
	return i2k_xasprintf("%s/%s", tmpdir, name);
}

/* e2fsck -fn: 0 means clean. Prints its output when not. */
static int fsck(const char *img)
{
	_cleanup_free_ char *log = tpath("fsck.log");
	_cleanup_free_ char *cmd = i2k_xasprintf("e2fsck -fn '%s' > '%s' 2>&1", img, log);
	int r = run(cmd);
	if (r != 0) {
		_cleanup_free_ char *text = read_text(log);
		fprintf(stderr, "  e2fsck -fn %s exited %d:\n%s\n", img, r, text ? text : "");
	}
	return r;
}

static char *read_big(const char *path)
{
	char *s = NULL;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, 1u << 30, &s, NULL, &e) < 0) {
		fprintf(stderr, "  %s: %s\n", path, e->msg);
		i2k_error_free(e);
		return NULL;
	}
	return s;
}

/* Runs debugfs with one command per line of cmds; returns its output split
 * into one string per command (caller frees each and the array). */
static char **debugfs_batch(const char *img, char **cmds, size_t n)
{
	_cleanup_free_ char *cf = tpath("cmds.txt");
	_cleanup_free_ char *of = tpath("debugfs.out");
	FILE *f = fopen(cf, "w");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", cmds[i]);
	fclose(f);
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("debugfs -f '%s' '%s' > '%s' 2>/dev/null", cf, img, of);
	char **res = i2k_xcalloc(n ? n : 1, sizeof(char *));
	if (run(cmd) != 0) {
		fprintf(stderr, "  debugfs failed on %s\n", img);
		t_failed_checks++;
		return res;
	}
	_cleanup_free_ char *out = read_big(of);
	/* Sections start with "debugfs: CMD" lines, in command order. */
	ssize_t cur = -1;
	struct i2k_buf b = {0};
	for (char *line = out, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "debugfs: ", 9) == 0 && cur + 1 < (ssize_t)n &&
		    strcmp(line + 9, cmds[cur + 1]) == 0) {
			if (cur >= 0)
				res[cur] = b.data ? b.data : i2k_xstrdup("");
			memset(&b, 0, sizeof(b));
			cur++;
			continue;
		}
		if (cur >= 0) {
			i2k_buf_append(&b, line, strlen(line), NULL);
			i2k_buf_append(&b, "\n", 1, NULL);
		}
	}
	if (cur >= 0)
		res[cur] = b.data ? b.data : i2k_xstrdup("");
	for (size_t i = 0; i < n; i++)
		if (res[i] == NULL)
			res[i] = i2k_xstrdup("");
	return res;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* The output of one debugfs command (caller frees). */
static char *debugfs1(const char *img, const char *cmd)
{
	char *c = i2k_xstrdup(cmd);
	char **r = debugfs_batch(img, &c, 1);
	char *out = r[0];
	free(r);
	free(c);
	return out;
}

static void esc(struct i2k_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c >= 0x21 && c <= 0x7e && c != '\\') {
			i2k_buf_append(b, s, 1, NULL);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			i2k_buf_append(b, e, 4, NULL);
		}
	}
}

struct ent {
	char *path;  /* relative */
	char *epath; /* escaped, "/"-prefixed */
	unsigned long ino;
	unsigned mode, uid, gid;
	char *line; /* everything after PATH TYPE MODE UID GID */
};

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->epath, ((const struct ent *)b)->epath);
}

static char type_of(unsigned mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return 'f';
	case S_IFDIR:
		return 'd';
	case S_IFLNK:
		return 'l';
	case S_IFCHR:
		return 'c';
	case S_IFBLK:
		return 'b';
	case S_IFIFO:
		return 'p';
	case S_IFSOCK:
		return 's';
	}
	return '?';
}

static char *dq(const char *rel)
{
	return i2k_xasprintf("\"/%s\"", rel);
}

/* The image's content in i2k_fstree_list()'s format, made with debugfs only.
 * skip_lpf leaves out /lost+found (added by the writer). */
static char *ext4_listing(const char *img, bool skip_lpf)
{
	struct ent *v = NULL;
	size_t n = 0, cap = 0;
	/* 1. the names: breadth-first, one debugfs run per level */
	char **q = i2k_xcalloc(1, sizeof(char *));
	size_t nq = 1;
	q[0] = i2k_xstrdup("");
	while (nq) {
		char **cmds = i2k_xcalloc(nq, sizeof(char *));
		for (size_t i = 0; i < nq; i++) {
			_cleanup_free_ char *p = dq(q[i]);
			cmds[i] = i2k_xasprintf("ls -p %s", p);
		}
		char **out = debugfs_batch(img, cmds, nq);
		char **nextq = NULL;
		size_t nnext = 0, capnext = 0;
		for (size_t i = 0; i < nq; i++) {
			for (char *line = strtok(out[i], "\n"); line; line = strtok(NULL, "\n")) {
				unsigned long ino;
				unsigned mode, uid, gid;
				if (line[0] != '/' ||
				    sscanf(line, "/%lu/%o/%u/%u/", &ino, &mode, &uid, &gid) != 4)
					continue;
				char *name = line;
				for (int k = 0; k < 5; k++)
					name = strchr(name, '/') + 1;
				*strchr(name, '/') = '\0';
				if (ino == 0 || !strcmp(name, ".") || !strcmp(name, ".."))
					continue;
				if (skip_lpf && q[i][0] == '\0' && !strcmp(name, "lost+found"))
					continue;
				i2k_xgrow((void **)&v, &cap, n + 1, sizeof(*v));
				struct ent *e = &v[n++];
				memset(e, 0, sizeof(*e));
				e->path = q[i][0] ? i2k_xasprintf("%s/%s", q[i], name)
						  : i2k_xstrdup(name);
				struct i2k_buf b = {0};
				i2k_buf_append(&b, "/", 1, NULL);
				esc(&b, e->path);
				e->epath = b.data;
				e->ino = ino;
				e->mode = mode;
				e->uid = uid;
				e->gid = gid;
				if (S_ISDIR(mode)) {
					i2k_xgrow((void **)&nextq, &capnext, nnext + 1,
						  sizeof(char *));
					nextq[nnext++] = i2k_xstrdup(e->path);
				}
			}
		}
		free_strs(out, nq);
		free_strs(cmds, nq);
		free_strs(q, nq);
		q = nextq;
		nq = nnext;
	}
	free(q);
	if (n)
		qsort(v, n, sizeof(*v), cmp_ent);

	/* 2. contents and symlink targets from rdump; devices from stat;
	 * xattr names from ea_list */
	_cleanup_free_ char *rd = tpath("rdump");
	_cleanup_free_ char *rm = i2k_xasprintf("rm -rf '%s' && mkdir '%s'", rd, rd);
	run(rm);
	_cleanup_free_ char *rcmd = i2k_xasprintf("rdump / %s", rd);
	free(debugfs1(img, rcmd));
	char **cmds = i2k_xcalloc(2 * n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *p = dq(v[i].path);
		cmds[2 * i] = i2k_xasprintf("stat %s", p);
		cmds[2 * i + 1] = i2k_xasprintf("ea_list %s", p);
	}
	char **out = debugfs_batch(img, cmds, 2 * n);
	/* first path of each inode, in listing order */
	struct i2k_buf list = {0};
	for (size_t i = 0; i < n; i++) {
		struct ent *e = &v[i];
		char t = type_of(e->mode);
		const char *first = NULL;
		if (t == 'f')
			for (size_t j = 0; j < i && !first; j++)
				if (v[j].ino == e->ino)
					first = v[j].epath;
		_cleanup_free_ char *head =
		    i2k_xasprintf("%s %c %04o %u %u ", e->epath, first ? 'h' : t, e->mode & 07777,
				  e->uid, e->gid);
		i2k_buf_append(&list, head, strlen(head), NULL);
		if (first) {
			i2k_buf_append(&list, first, strlen(first), NULL);
			i2k_buf_append(&list, "\n", 1, NULL);
			continue;
		}
		_cleanup_free_ char *local = i2k_xasprintf("%s/%s", rd, e->path);
		_cleanup_free_ char *extra = NULL;
		if (t == 'f') {
			int fd = open(local, O_RDONLY | O_CLOEXEC);
			char hex[I2K_DIGEST_LEN + 1] = "?";
			uint64_t size = 0;
			struct i2k_error *err = NULL;
			if (fd < 0 || i2k_sha256_fd(fd, hex, &size, &err) < 0)
				fprintf(stderr, "  rdump lacks %s\n", e->path);
			i2k_error_free(err);
			if (fd >= 0)
				close(fd);
			extra = i2k_xasprintf("%" PRIu64 " %s", size, hex + 7 /* "sha256:" */);
		} else if (t == 'l') {
			char target[8192];
			ssize_t k = readlink(local, target, sizeof(target) - 1);
			target[k < 0 ? 0 : k] = '\0';
			struct i2k_buf b = {0};
			esc(&b, target);
			extra = b.data ? b.data : i2k_xstrdup("");
		} else if (t == 'c' || t == 'b') {
			const char *d = strstr(out[2 * i], "Device major/minor number: ");
			unsigned ma = 0, mi = 0;
			if (d)
				sscanf(d + 27, "%u:%u", &ma, &mi);
			extra = i2k_xasprintf("%u,%u", ma, mi);
		} else {
			extra = i2k_xstrdup("-");
		}
		i2k_buf_append(&list, extra, strlen(extra), NULL);
		/* xattrs: names from ea_list, values with ea_get -x */
		char *names[64];
		size_t nn = 0;
		for (char *line = strtok(out[2 * i + 1], "\n"); line && nn < 64;
		     line = strtok(NULL, "\n")) {
			char *p = strstr(line, " (");
			if (strncmp(line, "  ", 2) != 0 || p == NULL)
				continue;
			names[nn++] = i2k_xstrndup(line + 2, (size_t)(p - line - 2));
		}
		if (nn) {
			char **gc = i2k_xcalloc(nn, sizeof(char *));
			for (size_t k = 0; k < nn; k++) {
				_cleanup_free_ char *p = dq(e->path);
				gc[k] = i2k_xasprintf("ea_get -x %s %s", p, names[k]);
			}
			char **go = debugfs_batch(img, gc, nn);
			/* sorted by name */
			for (size_t a = 0; a < nn; a++)
				for (size_t b2 = a + 1; b2 < nn; b2++)
					if (strcmp(names[b2], names[a]) < 0) {
						char *x = names[a];
						names[a] = names[b2];
						names[b2] = x;
						x = go[a];
						go[a] = go[b2];
						go[b2] = x;
					}
			for (size_t k = 0; k < nn; k++) {
				struct i2k_buf b = {0};
				i2k_buf_append(&b, " xattr:", 7, NULL);
				esc(&b, names[k]);
				i2k_buf_append(&b, "=", 1, NULL);
				char *eq = strstr(go[k], ") = ");
				for (char *h = eq ? eq + 4 : go[k]; eq && *h && *h != '\n'; h++)
					if (*h != ' ')
						i2k_buf_append(&b, h, 1, NULL);
				i2k_buf_append(&list, b.data, b.len, NULL);
				i2k_buf_free(&b);
				free(names[k]);
			}
			free_strs(go, nn);
			free_strs(gc, nn);
		}
		i2k_buf_append(&list, "\n", 1, NULL);
	}
	free_strs(out, 2 * n);
	free_strs(cmds, 2 * n);
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].epath);
	}
	free(v);
	return list.data ? list.data : i2k_xstrdup("");
}

static char *tree_listing(struct i2k_fstree *t)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);
	OK(i2k_fstree_list(t, f, &_e));
	fclose(f);
	return data;
}

/* Compares the image with the tree, line by line (prints the first
 * difference: whole listings can be large). */
static void check_same(struct i2k_fstree *t, const char *img, bool skip_lpf)
{
	_cleanup_free_ char *want = tree_listing(t);
	_cleanup_free_ char *got = ext4_listing(img, skip_lpf);
	if (want == NULL || got == NULL || strcmp(want, got) == 0)
		return;
	const char *a = want, *b = got;
	while (*a && *a == *b)
		a++, b++;
	while (a > want && a[-1] != '\n')
		a--, b--;
	fprintf(stderr, "  listing differs at:\n    tree: %.300s\n    ext4: %.300s\n", a, b);
	t_failed_checks++;
}

static char *stat_of(const char *img, const char *path)
{
	_cleanup_free_ char *c = i2k_xasprintf("stat \"%s\"", path);
	return debugfs1(img, c);
}

static long field(const char *text, const char *key)
{
	const char *p = text ? strstr(text, key) : NULL;
	return p ? strtol(p + strlen(key), NULL, 0) : -1;
}

static uint64_t allocated(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static bool same_file(const char *a, const char *b)
{
	_cleanup_free_ char *x = NULL, *y = NULL;
	size_t lx = 0, ly = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(a, 1u << 30, &x, &lx, &e) < 0 ||
	    i2k_read_file(b, 1u << 30, &y, &ly, &e) < 0) {
		i2k_error_free(e);
		return false;
	}
	return lx == ly && memcmp(x, y, lx) == 0;
}

/* ---- the trees -------------------------------------------------------------------------- */

static const uint8_t cap_v[20] = {1, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* Every kind of entry, odd modes, owners and times. */
static void fill_small(struct i2k_fstree *t)
{
	PUT(t, .path = "bin", .mode = S_IFDIR | 0755);
	struct i2k_inode *sh = PUT(t, .path = "bin/sh", .mode = S_IFREG | 04755, TXT("#!shell\n"),
				   .uid = 100000, .gid = 70000, .ns = 123456789);
	xattr(sh, "security.capability", cap_v, sizeof(cap_v));
	xattr(sh, "user.note", "hello", 5);
	xattr(sh, "trusted.overlay.opaque", "y", 1);
	OK(i2k_fstree_link(t, "bin/sh-link", "bin/sh", 0, &_e));
	OK(i2k_fstree_link(t, "usr/bin/sh-link2", "bin/sh", I2K_FSTREE_MKPARENTS, &_e));
	PUT(t, .path = "empty", .mode = S_IFREG | 0600);
	PUT(t, .path = "tmp", .mode = S_IFDIR | 01777);
	PUT(t, .path = "srv", .mode = S_IFDIR | 02750, .uid = 33, .gid = 33);
	PUT(t, .path = "etc/hostname", TXT("i2kit\n"), .mtime = 4102444800 /* 2100 */);
	PUT(t, .path = "etc/old", TXT("old\n"), .mtime = 86400);
	PUT(t, .path = "lnk/fast", .mode = S_IFLNK | 0777, .target = "../bin/sh");
	char slow[300];
	memset(slow, 'a', sizeof(slow) - 1);
	slow[sizeof(slow) - 1] = '\0';
	PUT(t, .path = "lnk/slow", .mode = S_IFLNK | 0777, .target = slow);
	char edge[61];
	memset(edge, 'b', 60);
	edge[60] = '\0';
	PUT(t, .path = "lnk/edge60", .mode = S_IFLNK | 0777, .target = edge);
	edge[59] = '\0';
	PUT(t, .path = "lnk/edge59", .mode = S_IFLNK | 0777, .target = edge);
	PUT(t, .path = "dev/null", .mode = S_IFCHR | 0666, .maj = 1, .min = 3);
	PUT(t, .path = "dev/big", .mode = S_IFBLK | 0660, .maj = 259, .min = 70000);
	PUT(t, .path = "dev/fifo", .mode = S_IFIFO | 0644);
	PUT(t, .path = "dev/sock", .mode = S_IFSOCK | 0755);
	struct i2k_inode *d = PUT(t, .path = "data", .mode = S_IFDIR | 0700, .uid = 1000);
	xattr(d, "user.dir", "d", 1);
	/* a file with a hole in the middle and a partial last block */
	static unsigned char buf[3 * 4096 + 100];
	memset(buf, 0x11, 4096);
	memset(buf + 2 * 4096, 0x22, 4096 + 100);
	PUT(t, .path = "data/holey", .data = buf, .len = sizeof(buf));
	static unsigned char zeros[10000];
	PUT(t, .path = "data/zeros", .data = zeros, .len = sizeof(zeros));
}

TEST(small_tree_matches)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	fill_small(t);
	struct i2k_ext4_opts o = opts();
	_cleanup_free_ char *img = tpath("small.img");
	uint64_t size = 0;
	OK(i2k_ext4_size_for(t, &o, &size, &_e));
	CHECK_INT(size, I2K_EXT4_MIN_AUTO_SIZE);
	OK(write_img(t, &o, 0, img, &_e));
	CHECK_INT(fsck(img), 0);
	check_same(t, img, true);

	/* link counts, times, owners, flags */
	_cleanup_free_ char *sh = stat_of(img, "/bin/sh");
	CHECK_INT(field(sh, "Links: "), 3);
	CHECK_INT(field(sh, "User: "), 100000);
	CHECK_INT(field(sh, "Group: "), 70000);
	CHECK_CONTAINS(sh, "mtime: 0x6553f100:1d6f3454"); /* 1700000000, 123456789 ns */
	CHECK_CONTAINS(sh, "crtime: 0x6553f100:1d6f3454");
	CHECK_CONTAINS(sh, "atime: 0x6553f100:1d6f3454");
	CHECK_CONTAINS(sh, "Generation: 0 ");
	_cleanup_free_ char *h = stat_of(img, "/etc/hostname");
	CHECK_CONTAINS(h, "mtime: 0xf4865700:00000001"); /* 2100-01-01: epoch bits */
	_cleanup_free_ char *root = stat_of(img, "/");
	CHECK_INT(field(root, "Links: "), 2 + 9); /* 8 tree dirs + lost+found */
	_cleanup_free_ char *lpf = stat_of(img, "/lost+found");
	CHECK_CONTAINS(lpf, "Mode:  0700");
	CHECK_INT(field(lpf, "Size: "), 16384);
	CHECK_CONTAINS(lpf, "Inode: 11 ");
	_cleanup_free_ char *holey = stat_of(img, "/data/holey");
	CHECK_INT(field(holey, "Blockcount: "), 3 * 8); /* 4 blocks, the zero one a hole */
	_cleanup_free_ char *zeros = stat_of(img, "/data/zeros");
	CHECK_INT(field(zeros, "Blockcount: "), 0);
	CHECK_INT(field(zeros, "Size: "), 10000);
	_cleanup_free_ char *fast = stat_of(img, "/lnk/edge59");
	CHECK_CONTAINS(fast, "Fast link dest: \"bbbbb");
	_cleanup_free_ char *slow = stat_of(img, "/lnk/edge60");
	CHECK(strstr(slow, "Fast link dest") == NULL);
	CHECK_INT(field(slow, "Blockcount: "), 8);

	/* superblock */
	_cleanup_free_ char *cmd = i2k_xasprintf("dumpe2fs -h '%s' 2>/dev/null", img);
	_cleanup_free_ char *sb = capture(cmd);
	CHECK_CONTAINS(sb, "Filesystem volume name:   i2kit-root");
	CHECK_CONTAINS(sb, "Filesystem features:      has_journal ext_attr resize_inode dir_index "
			   "filetype extent 64bit flex_bg sparse_super large_file huge_file "
			   "dir_nlink extra_isize metadata_csum");
	CHECK_CONTAINS(sb, "Reserved block count:     0");
	CHECK_CONTAINS(sb, "Inode size:\t          256");
	CHECK_CONTAINS(sb, "Block size:               4096");
	CHECK_CONTAINS(sb, "Maximum mount count:      -1");
	CHECK_CONTAINS(sb, "Default directory hash:   half_md4");
	CHECK_CONTAINS(sb, "Checksum type:            crc32c");
	CHECK_CONTAINS(sb, "Filesystem created:       Sun Sep 13 12:26:40 2020");
	CHECK_CONTAINS(sb, "Last write time:          Sun Sep 13 12:26:40 2020");
	CHECK_CONTAINS(sb, "Total journal size:       4096k");
	/* the UUID is a v4 layout derived from the seed */
	const char *u = sb ? strstr(sb, "Filesystem UUID:          ") : NULL;
	CHECK(u && u[26 + 14] == '4');
}

TEST(byte_identical_and_seeded)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	fill_small(t);
	struct i2k_ext4_opts o = opts();
	_cleanup_free_ char *a = tpath("a.img");
	_cleanup_free_ char *b = tpath("b.img");
	_cleanup_free_ char *c = tpath("c.img");
	OK(write_img(t, &o, 0, a, &_e));
	sleep(1); /* a wall-clock leak would show */
	OK(write_img(t, &o, 0, b, &_e));
	CHECK(same_file(a, b));
	o.uuid_seed[0] ^= 1;
	OK(write_img(t, &o, 0, c, &_e));
	CHECK(!same_file(a, c));
	CHECK_INT(fsck(c), 0);
	/* epoch 0 (SOURCE_DATE_EPOCH=0): still no clock; superblock times 1 s */
	o = opts();
	o.epoch = 0;
	OK(write_img(t, &o, 0, a, &_e));
	sleep(1);
	OK(write_img(t, &o, 0, b, &_e));
	CHECK(same_file(a, b));
	CHECK_INT(fsck(a), 0);
	int fd = open(a, O_RDONLY | O_CLOEXEC);
	uint32_t tm[2] = {0, 0};
	CHECK(pread(fd, &tm[0], 4, 1024 + 0x30) == 4);	/* s_wtime */
	CHECK(pread(fd, &tm[1], 4, 1024 + 0x108) == 4); /* s_mkfs_time */
	close(fd);
	CHECK_INT(tm[0], 1);
	CHECK_INT(tm[1], 1);
	_cleanup_free_ char *j = stat_of(a, "<8>");
	CHECK_CONTAINS(j, "mtime: 0x00000000:00000000");
}

TEST(options_and_labels)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	fill_small(t);
	_cleanup_free_ char *img = tpath("opt.img");
	uint32_t bss[] = {1024, 2048};
	for (size_t i = 0; i < 2; i++) {
		struct i2k_ext4_opts o = opts();
		o.block_size = bss[i];
		o.no_journal = i == 1;
		o.label = "0123456789abcdef";
		o.inode_size = 512;
		OK(write_img(t, &o, 0, img, &_e));
		CHECK_INT(fsck(img), 0);
		check_same(t, img, true);
		_cleanup_free_ char *cmd = i2k_xasprintf("dumpe2fs -h '%s' 2>/dev/null", img);
		_cleanup_free_ char *sb = capture(cmd);
		CHECK_CONTAINS(sb, "Filesystem volume name:   0123456789abcdef");
		CHECK_CONTAINS(sb, "Inode size:\t          512");
		_cleanup_free_ char *want = i2k_xasprintf("Block size:               %u", bss[i]);
		CHECK_CONTAINS(sb, want);
		CHECK((strstr(sb ? sb : "", "has_journal") == NULL) == (i == 1));
	}
	struct i2k_ext4_opts o = opts();
	o.label = "0123456789abcdefg";
	FAILS(write_img(t, &o, 64 << 20, img, &_e), I2K_ERR_CONFIG,
	      "ext4 label \"0123456789abcdefg\" is longer than 16 bytes");
	o = opts();
	o.block_size = 3000;
	uint64_t sz;
	FAILS(i2k_ext4_size_for(t, &o, &sz, &_e), I2K_ERR_USAGE,
	      "ext4 block size must be 1024, 2048 or 4096, not 3000");
	o = opts();
	o.inode_size = 128;
	FAILS(write_img(t, &o, 64 << 20, img, &_e), I2K_ERR_USAGE,
	      "ext4 inode size must be 256, 512 or 1024 (at most the block size), not 128");
	o = opts();
	o.size = 65 << 20;
	FAILS(write_img(t, &o, 64 << 20, img, &_e), I2K_ERR_INTERNAL,
	      "ext4: size 68157440 is larger than the sink (67108864)");
	/* o.size smaller than the sink: the file system ends there */
	o.size = 40 << 20;
	OK(write_img(t, &o, 64 << 20, img, &_e));
	CHECK_INT(fsck(img), 0);
	_cleanup_free_ char *cmd = i2k_xasprintf("dumpe2fs -h '%s' 2>/dev/null", img);
	_cleanup_free_ char *sb = capture(cmd);
	CHECK_CONTAINS(sb, "Block count:              10240");
}

TEST(too_small_leaves_nothing)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	size_t len = 40u << 20;
	unsigned char *big = malloc(len);
	for (size_t i = 0; i < len; i++)
		big[i] = (unsigned char)(i * 7 + (i >> 12));
	PUT(t, .path = "big", .data = big, .len = len);
	free(big);
	struct i2k_ext4_opts o = opts();
	uint64_t need = 0, min = 0;
	OK(i2k_ext4_size_for(t, &o, &need, &_e));
	OK(i2k_ext4_min_size(t, &o, &min, &_e));
	CHECK(need >= 52u << 20 && need <= 64u << 20);
	CHECK(need % (1u << 20) == 0);
	CHECK(min >= 41u << 20 && min < need);
	CHECK(min % (1u << 20) == 0);
	_cleanup_free_ char *img = tpath("small.img");
	_cleanup_free_ char *want = i2k_xasprintf(
	    "--size 32 MiB is too small: the root needs at least %" PRIu64 " MiB", min >> 20);
	FAILS(write_img(t, &o, 32 << 20, img, &_e), I2K_ERR_CONFIG, want);
	CHECK_INT(allocated(img), 0); /* nothing was written */
	_cleanup_free_ char *want2 = i2k_xasprintf(
	    "--size 1000000 bytes is too small: the root needs at least %" PRIu64 " MiB",
	    min >> 20);
	FAILS(write_img(t, &o, 1000000, img, &_e), I2K_ERR_CONFIG, want2);
	_cleanup_free_ char *want3 = i2k_xasprintf(
	    "--size %" PRIu64 " MiB is too small: the root needs at least %" PRIu64 " MiB",
	    (min >> 20) - 1, min >> 20);
	FAILS(write_img(t, &o, min - (1 << 20), img, &_e), I2K_ERR_CONFIG, want3);
	CHECK_INT(allocated(img), 0);
	/* the minimum itself is enough */
	OK(write_img(t, &o, min, img, &_e));
	CHECK_INT(fsck(img), 0);
	/* the automatic size works and keeps ~20% free */
	OK(write_img(t, &o, 0, img, &_e));
	CHECK_INT(fsck(img), 0);
	_cleanup_free_ char *cmd = i2k_xasprintf("dumpe2fs -h '%s' 2>/dev/null", img);
	_cleanup_free_ char *sb = capture(cmd);
	long total = field(sb, "Block count:              ");
	long freeb = field(sb, "Free blocks:              ");
	CHECK(total > 0 && freeb * 100 / total >= 10);
}

/* A sink that fails after n writes. */
struct failsink {
	struct i2k_sink base;
	size_t writes, fail_after;
};
static int fs_write(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
		    struct i2k_error **err)
{
	struct failsink *f = (struct failsink *)s;
	if (++f->writes > f->fail_after)
		return i2k_error_set(err, I2K_ERR_IO, "disk on fire");
	return 0;
}
static int fs_read(struct i2k_sink *s, uint64_t off, void *buf, size_t len, struct i2k_error **err)
{
	memset(buf, 0, len);
	return 0;
}
static int fs_finish(struct i2k_sink *s, struct i2k_error **err)
{
	return 0;
}
static void fs_destroy(struct i2k_sink *s)
{
}

TEST(sink_errors_come_back)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	fill_small(t);
	static const struct i2k_sink_ops ops = {
	    .write_at = fs_write, .read_at = fs_read, .finish = fs_finish, .destroy = fs_destroy};
	size_t afters[] = {0, 5, 40};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(afters); i++) {
		struct failsink f = {.base = {.ops = &ops, .size = 64 << 20, .name = "fail"},
				     .fail_after = afters[i]};
		struct i2k_ext4_opts o = opts();
		FAILS(i2k_ext4_write(t, &o, &f.base, &_e), I2K_ERR_IO, "ext4: disk on fire");
	}
}

TEST(bad_entries)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_free_ char *img = tpath("bad.img");
	struct i2k_ext4_opts o = opts();
	{
		_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
		char name[300];
		memset(name, 'n', 258); /* "d/" and a name of 256 bytes */
		memcpy(name, "d/", 2);
		name[258] = '\0';
		PUT(t, .path = name);
		_cleanup_free_ char *want = i2k_xasprintf("/%s: name longer than 255 bytes", name);
		FAILS(write_img(t, &o, 0, img, &_e), I2K_ERR_UNSUPPORTED, want);
	}
	{
		_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
		static char target[4097];
		memset(target, 't', 4096);
		PUT(t, .path = "l", .mode = S_IFLNK | 0777, .target = target);
		FAILS(write_img(t, &o, 0, img, &_e), I2K_ERR_UNSUPPORTED,
		      "/l: symlink target of 4096 bytes (ext4 allows 4095)");
	}
	{
		_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
		struct i2k_inode *in = PUT(t, .path = "x", TXT("x"));
		static char v[5000];
		xattr(in, "user.big", v, sizeof(v));
		FAILS(write_img(t, &o, 0, img, &_e), I2K_ERR_UNSUPPORTED,
		      "x: xattrs do not fit in one ext4 block");
	}
	{
		/* a tree with its own lost+found (a directory) keeps it */
		_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
		PUT(t, .path = "lost+found", .mode = S_IFDIR | 0755, .uid = 7);
		PUT(t, .path = "lost+found/kept", TXT("k"));
		OK(write_img(t, &o, 0, img, &_e));
		CHECK_INT(fsck(img), 0);
		check_same(t, img, false);
		_cleanup_free_ char *lpf = stat_of(img, "/lost+found");
		CHECK_CONTAINS(lpf, "Inode: 11 ");
		CHECK_INT(field(lpf, "User: "), 7);
	}
}

/* The writer reads file data once, in 1 MiB chunks, mapping each chunk's
 * runs of non-zero blocks before writing them: runs and holes that cross a
 * chunk boundary, a file that starts with a hole, lone blocks and a
 * partial last block all come back, and a run cut at a boundary is still
 * one extent. */
TEST(runs_across_chunks)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	const size_t mib = 1u << 20, len = 5 * mib + 1000;
	unsigned char *buf = calloc(1, len);
	CHECK(buf != NULL);
	for (size_t i = 300 * 1024; i < 2 * mib + mib / 2; i++) /* over two boundaries */
		buf[i] = (unsigned char)(1 + i % 251);
	buf[3 * mib + 8192 + 7] = 0x5a;		  /* a lone block */
	memset(buf + 4 * mib - 4096, 0x33, 8192); /* two blocks, one each side */
	buf[len - 1] = 0x77;			  /* the partial last block */
	PUT(t, .path = "runs.bin", .data = buf, .len = len);
	struct i2k_ext4_opts o = opts();
	_cleanup_free_ char *img = tpath("runs.img");
	OK(write_img(t, &o, 0, img, &_e));
	CHECK_INT(fsck(img), 0);
	check_same(t, img, true);
	_cleanup_free_ char *st = stat_of(img, "/runs.bin");
	/* 300K..2.5M is 565 blocks, then 1 + 2 + 1 */
	CHECK_INT(field(st, "Blockcount: "), (565 + 4) * 8);
	/* one extent per run: "(75-639):N-M, (770):N, (1023-1024):N-M, (1280):N" */
	const char *ex = st ? strstr(st, "EXTENTS:") : NULL;
	CHECK(ex != NULL);
	int extents = 0;
	for (const char *q = ex; q && *q; q++)
		extents += *q == '(';
	CHECK_INT(extents, 4);
	CHECK_CONTAINS(st, "(75-639):");
	free(buf);
	unlink(img);
}

/* 64 MiB file with holes, 10k small files, deep directories, 255-byte
 * names, hard links, devices, xattrs. */
TEST(big_tree)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	fill_small(t);
	/* 64 MiB: data, an 8 MiB hole, data, a 1 MiB hole at the end */
	uint64_t off = 0, got = 0;
	OK(i2k_spool_begin(s, &off, &_e));
	unsigned char *chunk = malloc(1 << 20);
	for (uint64_t m = 0; m < 64; m++) {
		if ((m >= 20 && m < 28) || m == 63)
			continue;
		for (size_t i = 0; i < (1u << 20); i++)
			chunk[i] = (unsigned char)(m * 31 + i * 13 + (i >> 9));
		OK(i2k_spool_write_at(s, m << 20, chunk, 1 << 20, &_e));
	}
	free(chunk);
	i2k_spool_extend(s, 64ull << 20);
	OK(i2k_spool_end(s, &got, &_e));
	CHECK_INT(got, 64ull << 20);
	struct i2k_fattr a = {.mode = S_IFREG | 0644, .mtime = 1700000000};
	struct i2k_inode *bigf = NULL;
	OK(i2k_fstree_add(t, "var/big.bin", &a, NULL, off, got, I2K_FSTREE_MKPARENTS, &bigf, &_e));
	xattr(bigf, "user.kind", "big", 3);
	/* 10k small files: 6000 in one directory, 4000 spread over 100 */
	char p[600], body[64];
	for (int i = 0; i < 6000; i++) {
		snprintf(p, sizeof(p), "many/file-%05d.txt", i);
		int n = snprintf(body, sizeof(body), "file %d\n", i);
		PUT(t, .path = p, .data = body, .len = (size_t)n, .uid = (uint32_t)(i % 7));
	}
	for (int i = 0; i < 4000; i++) {
		snprintf(p, sizeof(p), "spread/d%02d/f%04d", i % 100, i);
		int n = snprintf(body, sizeof(body), "%d", i * 3);
		struct i2k_inode *in = PUT(t, .path = p, .data = body, .len = (size_t)n);
		if (i % 500 == 0)
			xattr(in, "user.i", body, (size_t)n);
	}
	for (int i = 0; i < 50; i++) {
		snprintf(p, sizeof(p), "spread/d%02d/hard", i);
		OK(i2k_fstree_link(t, p, "many/file-00042.txt", 0, &_e));
	}
	/* deep: 100 levels */
	struct i2k_buf deep = {0};
	for (int i = 0; i < 100; i++)
		i2k_buf_append(&deep, i ? "/dd" : "deep", i ? 3 : 4, NULL);
	i2k_buf_append(&deep, "/bottom", 8, NULL);
	PUT(t, .path = (const char *)deep.data, TXT("bottom\n"));
	i2k_buf_free(&deep);
	/* 255-byte names */
	for (int i = 0; i < 20; i++) {
		char name[256];
		memset(name, 'a' + i, 255);
		name[255] = '\0';
		snprintf(p, sizeof(p), "long/%s", name);
		PUT(t, .path = p, TXT("long\n"));
	}
	for (int i = 0; i < 20; i++) {
		snprintf(p, sizeof(p), "dev/tty%d", i);
		PUT(t, .path = p, .mode = S_IFCHR | 0620, .maj = 4, .min = (uint32_t)i, .gid = 5);
	}

	struct i2k_ext4_opts o = opts();
	_cleanup_free_ char *img = tpath("big.img");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(write_img(t, &o, 0, img, &_e));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("NOTE: big tree written in %.2f s (ASan build)\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	CHECK_INT(fsck(img), 0);
	check_same(t, img, true);
	_cleanup_free_ char *bs = stat_of(img, "/var/big.bin");
	CHECK_INT(field(bs, "Size: "), 64 << 20);
	CHECK_INT(field(bs, "Blockcount: "), (64 - 9) * 2048); /* holes stay holes */
	_cleanup_free_ char *hs = stat_of(img, "/many/file-00042.txt");
	CHECK_INT(field(hs, "Links: "), 51);
	_cleanup_free_ char *many = stat_of(img, "/many");
	CHECK(field(many, "Size: ") >= 30 * 4096);
	/* the image is sparse: unused space is never written */
	struct stat st;
	CHECK(stat(img, &st) == 0);
	CHECK(allocated(img) < (uint64_t)st.st_size * 8 / 10);
	/* and reproducible */
	_cleanup_free_ char *img2 = tpath("big2.img");
	OK(write_img(t, &o, 0, img2, &_e));
	CHECK(same_file(img, img2));
	/* the minimum size holds it too */
	uint64_t min = 0;
	OK(i2k_ext4_min_size(t, &o, &min, &_e));
	OK(write_img(t, &o, min, img2, &_e));
	CHECK_INT(fsck(img2), 0);
	unlink(img2);
	unlink(img);
}

TEST(window_of_a_disk)
{
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
	fill_small(t);
	struct i2k_ext4_opts o = opts();
	_cleanup_free_ char *disk = tpath("disk.img");
	_cleanup_free_ char *part = tpath("part.img");
	int fd = open(disk, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct i2k_sink *d = NULL, *w = NULL;
	OK(i2k_sink_file_new(fd, 0, 40 << 20, "disk", &d, &_e));
	OK(i2k_sink_window_new(d, 1 << 20, 32 << 20, "root partition", &w, &_e));
	if (w) {
		OK(i2k_ext4_write(t, &o, w, &_e));
		i2k_sink_free(w);
	}
	OK(i2k_sink_finish(d, &_e));
	i2k_sink_free(d);
	close(fd);
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("dd if='%s' of='%s' bs=1M skip=1 count=32 status=none", disk, part);
	CHECK_INT(run(cmd), 0);
	CHECK_INT(fsck(part), 0);
	check_same(t, part, true);
}

/* ---- fixture images ---------------------------------------------------------------------- */

static struct i2k_image *load_ref(struct i2k_store *st, const char *ref)
{
	struct i2k_store_ref r = {0};
	struct i2k_error *e = NULL;
	struct i2k_image *img = NULL;
	if (i2k_store_ref_get(st, ref, &r, &e) != 1) {
		fprintf(stderr, "  ref %s: %s\n", ref, e ? e->msg : "not found");
		t_failed_checks++;
		i2k_error_free(e);
		return NULL;
	}
	if (i2k_image_load(st, r.desc.digest, &img, &e) < 0) {
		fprintf(stderr, "  load %s: %s\n", ref, e->msg);
		t_failed_checks++;
		i2k_error_free(e);
	}
	i2k_store_ref_clear(&r);
	return img;
}

static void check_modules(struct i2k_fstree *t, struct i2k_inode *kt, const struct i2k_ext4_opts *o)
{
	int fd = memfd_create("kernel.tar", MFD_CLOEXEC);
	static unsigned char buf[1 << 20];
	for (uint64_t off = 0; off < kt->size; off += sizeof(buf)) {
		size_t n = kt->size - off > sizeof(buf) ? sizeof(buf) : (size_t)(kt->size - off);
		OK(i2k_fstree_read(t, kt, off, buf, n, &_e));
		OK(i2k_write_all(fd, buf, n, &_e));
	}
	lseek(fd, 0, SEEK_SET);
	_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *mods = i2k_fstree_new(s);
	OK(i2k_layer_apply(fd, "", mods, NULL, &_e));
	close(fd);
	_cleanup_free_ char *img = tpath("modules.img");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(write_img(mods, o, 0, img, &_e));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("NOTE: kernel modules: %zu entries written in %.2f s (ASan build)\n",
	       i2k_fstree_count(mods),
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	CHECK(i2k_fstree_count(mods) > 1000);
	CHECK_INT(fsck(img), 0);
	check_same(mods, img, true);
	unlink(img);
}

TEST(fixture_images)
{
	const char *fx = getenv("I2K_FIXTURES");
	const char *repo = getenv("I2K_REPO");
	_cleanup_free_ char *oci = fx && *fx
				       ? i2k_xasprintf("%s/oci", fx)
				       : i2k_xasprintf("%s/build/fixtures/oci", repo ? repo : ".");
	struct stat st;
	if (stat(oci, &st) != 0) {
		const char *req = getenv("I2K_REQUIRE_FIXTURES");
		printf("NOTE: fixture missing (%s)\n", oci);
		if (req && strcmp(req, "1") == 0)
			t_failed_checks++;
		return;
	}
	_cleanup_(i2k_store_freep) struct i2k_store *store = NULL;
	OK(i2k_store_open(oci, &store, &_e));
	if (store == NULL)
		return;
	const char *refs[] = {"busybox:latest", "layers:latest", "web:latest", "kernel:6.1"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(refs); i++) {
		_cleanup_(i2k_image_freep) struct i2k_image *im = load_ref(store, refs[i]);
		if (im == NULL)
			continue;
		_cleanup_(i2k_spool_freep) struct i2k_spool *s = new_spool();
		_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(s);
		OK(i2k_image_flatten(im, store, t, NULL, &_e));
		struct i2k_ext4_opts o = opts();
		_cleanup_free_ char *img = tpath("fixture.img");
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(write_img(t, &o, 0, img, &_e));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("NOTE: %s: %zu entries written in %.2f s (ASan build)\n", refs[i],
		       i2k_fstree_count(t),
		       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		CHECK_INT(fsck(img), 0);
		bool has_lpf = i2k_fstree_lookup(t, "lost+found") != NULL;
		check_same(t, img, !has_lpf);
		unlink(img);
		/* the kernel's modules (kernel.tar: lib/modules/VER) as a root */
		struct i2k_inode *kt = i2k_fstree_lookup(t, "kernel.tar");
		if (strcmp(refs[i], "kernel:6.1") == 0) {
			CHECK(kt != NULL);
			if (kt)
				check_modules(t, kt, &o);
		}
	}
}

int main(void)
{
	t_prog = "test_ext4";
	make_tmpdir();
	RUN(small_tree_matches);
	RUN(byte_identical_and_seeded);
	RUN(options_and_labels);
	RUN(too_small_leaves_nothing);
	RUN(sink_errors_come_back);
	RUN(bad_entries);
	RUN(runs_across_chunks);
	RUN(big_tree);
	RUN(window_of_a_disk);
	RUN(fixture_images);
	_cleanup_free_ char *rm = i2k_xasprintf("rm -rf '%s'", tmpdir);
	if (getenv("I2K_TEST_KEEP")) /* for looking at the images */
		printf("NOTE: kept %s\n", tmpdir);
	else
		run(rm);
	return TEST_DONE();
}
