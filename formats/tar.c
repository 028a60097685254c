/* tar.c — deterministic ustar/pax writer (byte format in tar.h). */
#include "formats/tar.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define BLOCK 512
#define NAME_LEN 100
#define PREFIX_LEN 155
#define PAX_MAX (64u << 20)	  /* one pax header at most */
#define OCT11_MAX 077777777777ULL /* 12-byte fields: 11 digits */
#define OCT7_MAX 07777777ULL	  /* 8-byte fields: 7 digits */

enum wstate { W_OPEN, W_FINISHED, W_FAILED };

struct i2k_tar_writer {
	struct i2k_ostream out;
	uint64_t bytes;
	uint64_t remaining; /* data bytes still expected */
	uint64_t data_len;  /* data bytes of the current entry */
	enum wstate state;
};

static int put(struct i2k_tar_writer *w, const void *buf, size_t len, struct i2k_error **err)
{
	if (i2k_ostream_write(w->out, buf, len, err) < 0) {
		w->state = W_FAILED;
		return -1;
	}
	w->bytes += len;
	return 0;
}

static int pad_block(struct i2k_tar_writer *w, struct i2k_error **err)
{
	static const char zeros[BLOCK];
	size_t n = (size_t)((BLOCK - (w->bytes % BLOCK)) % BLOCK);
	return put(w, zeros, n, err);
}

static int check_usable(struct i2k_tar_writer *w, struct i2k_error **err)
{
	if (w->state == W_FINISHED)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "tar: write after finish");
	if (w->state == W_FAILED)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "tar: write after a failed write");
	if (w->remaining)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "tar: previous entry is missing %llu data bytes",
				     (unsigned long long)w->remaining);
	return 0;
}

int i2k_tar_writer_new(struct i2k_ostream out, struct i2k_tar_writer **w, struct i2k_error **err)
{
	(void)err;
	struct i2k_tar_writer *n = i2k_xcalloc(1, sizeof(*n));
	n->out = out;
	*w = n;
	return 0;
}

/* ---- header fields ------------------------------------------------------- */

/* Zero-padded octal in n-1 digits followed by NUL. false if it does not fit. */
static bool put_oct(char *f, size_t n, uint64_t v)
{
	f[n - 1] = '\0';
	for (size_t i = n - 1; i > 0; i--) {
		f[i - 1] = (char)('0' + (v & 7));
		v >>= 3;
	}
	return v == 0;
}

static void put_str(char *f, size_t n, const char *s, size_t len)
{
	memcpy(f, s, len < n ? len : n);
}

/* Go's splitUSTARPath: prefix + '/' + name with name <= 100, prefix <= 155. */
static bool split_ustar(const char *name, size_t len, size_t *plen)
{
	if (len <= NAME_LEN)
		return false;
	size_t l = len;
	if (l > PREFIX_LEN + 1)
		l = PREFIX_LEN + 1;
	else if (name[l - 1] == '/')
		l--;
	const char *slash = NULL;
	for (size_t i = l; i > 0; i--) {
		if (name[i - 1] == '/') {
			slash = name + i - 1;
			break;
		}
	}
	if (slash == NULL || slash == name)
		return false;
	size_t p = (size_t)(slash - name);
	size_t nlen = len - p - 1;
	if (nlen > NAME_LEN || nlen == 0 || p > PREFIX_LEN)
		return false;
	*plen = p;
	return true;
}

static unsigned ndigits(size_t v)
{
	unsigned d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Appends one "LEN KEY=VALUE\n" record. */
static int pax_add(struct i2k_buf *b, const char *key, const void *val, size_t vlen,
		   struct i2k_error **err)
{
	size_t klen = strlen(key);
	size_t body = klen + vlen + 3; /* ' ' '=' '\n' */
	size_t total = body + ndigits(body);
	if (ndigits(total) > ndigits(body))
		total = body + ndigits(total);
	char num[32];
	int nl = snprintf(num, sizeof(num), "%zu ", total);
	if (i2k_buf_append(b, num, (size_t)nl, err) < 0 || i2k_buf_append(b, key, klen, err) < 0 ||
	    i2k_buf_append(b, "=", 1, err) < 0 || i2k_buf_append(b, val, vlen, err) < 0 ||
	    i2k_buf_append(b, "\n", 1, err) < 0)
		return -1;
	return 0;
}

static int pax_add_num(struct i2k_buf *b, const char *key, unsigned long long v,
		       struct i2k_error **err)
{
	char s[32];
	int n = snprintf(s, sizeof(s), "%llu", v);
	return pax_add(b, key, s, (size_t)n, err);
}

static void finish_header(char *h)
{
	memcpy(h + 148, "        ", 8);
	unsigned sum = 0;
	for (int i = 0; i < BLOCK; i++)
		sum += (unsigned char)h[i];
	put_oct(h + 148, 7, sum);
	h[155] = ' ';
}

/* Fills the fixed part shared by entry headers and pax headers. */
static void base_header(char *h, char type)
{
	memset(h, 0, BLOCK);
	h[156] = type;
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
}

static int write_pax(struct i2k_tar_writer *w, const char *name, const struct i2k_buf *recs,
		     struct i2k_error **err)
{
	/* "DIR/PaxHeaders.0/BASE" like Go's path.Join(dir, "PaxHeaders.0", base). */
	size_t len = strlen(name);
	size_t end = len;
	if (end > 0 && name[end - 1] == '/')
		end--;
	size_t base = end;
	while (base > 0 && name[base - 1] != '/')
		base--;
	_cleanup_free_ char *pname = NULL;
	if (base == end)
		pname = i2k_xasprintf("%.*sPaxHeaders.0", (int)base, name);
	else
		pname = i2k_xasprintf("%.*sPaxHeaders.0/%.*s", (int)base, name, (int)(end - base),
				      name + base);
	char h[BLOCK];
	base_header(h, 'x');
	put_str(h, NAME_LEN, pname, strlen(pname));
	put_oct(h + 100, 8, 0);
	put_oct(h + 108, 8, 0);
	put_oct(h + 116, 8, 0);
	put_oct(h + 124, 12, recs->len);
	put_oct(h + 136, 12, 0);
	put_oct(h + 329, 8, 0);
	put_oct(h + 337, 8, 0);
	finish_header(h);
	if (put(w, h, BLOCK, err) < 0 || put(w, recs->data, recs->len, err) < 0)
		return -1;
	return pad_block(w, err);
}

static bool xattr_name_ok(const char *n)
{
	return *n != '\0' && strchr(n, '=') == NULL;
}

int i2k_tar_writer_add(struct i2k_tar_writer *w, const struct i2k_tar_entry *e,
		       struct i2k_error **err)
{
	if (check_usable(w, err) < 0)
		return -1;
	if (e->path == NULL || e->path[0] == '\0' || e->path[0] == '/')
		return i2k_error_set(err, I2K_ERR_INTERNAL, "tar: invalid entry path \"%s\"",
				     e->path ? e->path : "(null)");
	uint32_t type = e->mode & S_IFMT;
	char tflag;
	const char *link = NULL;
	uint64_t size = 0;
	if (e->hardlink) {
		tflag = '1';
		link = e->hardlink;
	} else {
		switch (type) {
		case S_IFREG:
			tflag = '0';
			size = e->size;
			break;
		case S_IFLNK:
			tflag = '2';
			link = e->target ? e->target : "";
			break;
		case S_IFCHR:
			tflag = '3';
			break;
		case S_IFBLK:
			tflag = '4';
			break;
		case S_IFDIR:
			tflag = '5';
			break;
		case S_IFIFO:
			tflag = '6';
			break;
		case S_IFSOCK:
			return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					     "%s: sockets cannot be stored in tar", e->path);
		default:
			return i2k_error_set(err, I2K_ERR_INTERNAL, "%s: unknown file type %#o",
					     e->path, type);
		}
	}
	_cleanup_free_ char *name = NULL;
	size_t plen = strlen(e->path);
	bool sparse = tflag == '0' && e->runs != NULL;
	if (tflag == '5' && e->path[plen - 1] != '/') {
		name = i2k_xasprintf("%s/", e->path);
	} else if (sparse) {
		/* GNU tar's "%d/GNUSparseFile.%p/%f" with %p = 0 */
		const char *slash = strrchr(e->path, '/');
		size_t dl = slash ? (size_t)(slash - e->path) + 1 : 0;
		name = i2k_xasprintf("%.*sGNUSparseFile.0/%s", (int)dl, e->path, e->path + dl);
	} else {
		name = i2k_xstrdup(e->path);
	}
	size_t nlen = strlen(name);

	char h[BLOCK];
	base_header(h, tflag);
	_cleanup_(i2k_buf_free) struct i2k_buf pax = {.max = PAX_MAX};
	_cleanup_(i2k_buf_free) struct i2k_buf map = {.max = PAX_MAX};
	if (sparse) {
		uint64_t stored = 0, end = 0;
		for (size_t i = 0; i < e->nruns; i++) {
			if (e->runs[i].off < end || e->runs[i].len > e->size ||
			    e->runs[i].off > e->size - e->runs[i].len)
				return i2k_error_set(err, I2K_ERR_INTERNAL,
						     "tar: %s: invalid sparse map", e->path);
			end = e->runs[i].off + e->runs[i].len;
			stored += e->runs[i].len;
		}
		bool tail = end < e->size || e->nruns == 0;
		char num[48];
		int n = snprintf(num, sizeof(num), "%zu\n", e->nruns + (tail ? 1 : 0));
		if (i2k_buf_append(&map, num, (size_t)n, err) < 0)
			return -1;
		for (size_t i = 0; i < e->nruns; i++) {
			n = snprintf(num, sizeof(num), "%llu\n%llu\n",
				     (unsigned long long)e->runs[i].off,
				     (unsigned long long)e->runs[i].len);
			if (i2k_buf_append(&map, num, (size_t)n, err) < 0)
				return -1;
		}
		if (tail) {
			n = snprintf(num, sizeof(num), "%llu\n0\n", (unsigned long long)e->size);
			if (i2k_buf_append(&map, num, (size_t)n, err) < 0)
				return -1;
		}
		static const char zeros[BLOCK];
		if (i2k_buf_append(&map, zeros, (BLOCK - map.len % BLOCK) % BLOCK, err) < 0)
			return -1;
		if (pax_add(&pax, "GNU.sparse.major", "1", 1, err) < 0 ||
		    pax_add(&pax, "GNU.sparse.minor", "0", 1, err) < 0 ||
		    pax_add(&pax, "GNU.sparse.name", e->path, plen, err) < 0 ||
		    pax_add_num(&pax, "GNU.sparse.realsize", e->size, err) < 0)
			return -1;
		size = map.len + stored;
	}

	/* Records in key order: SCHILY.xattr.*, gid, linkpath, mtime, path, size, uid. */
	if (e->nxattrs) {
		_cleanup_free_ size_t *idx = i2k_xcalloc(e->nxattrs, sizeof(*idx));
		for (size_t i = 0; i < e->nxattrs; i++) {
			size_t j = i;
			while (j > 0 && strcmp(e->xattrs[idx[j - 1]].name, e->xattrs[i].name) > 0) {
				idx[j] = idx[j - 1];
				j--;
			}
			idx[j] = i;
		}
		for (size_t i = 0; i < e->nxattrs; i++) {
			const struct i2k_xattr *x = &e->xattrs[idx[i]];
			if (!xattr_name_ok(x->name))
				return i2k_error_set(
				    err, I2K_ERR_UNSUPPORTED,
				    "%s: xattr name \"%s\" cannot be stored in tar", e->path,
				    x->name);
			_cleanup_free_ char *key = i2k_xasprintf("SCHILY.xattr.%s", x->name);
			if (pax_add(&pax, key, x->value, x->len, err) < 0)
				return i2k_error_wrap(err, "%s", e->path);
		}
	}
	if (!put_oct(h + 116, 8, e->gid)) {
		put_oct(h + 116, 8, 0);
		if (pax_add_num(&pax, "gid", e->gid, err) < 0)
			return -1;
	}
	if (link) {
		size_t llen = strlen(link);
		if (llen > NAME_LEN && pax_add(&pax, "linkpath", link, llen, err) < 0)
			return -1;
		put_str(h + 157, NAME_LEN, link, llen);
	}
	bool mtime_fits = e->mtime >= 0 && (uint64_t)e->mtime <= OCT11_MAX;
	put_oct(h + 136, 12, mtime_fits ? (uint64_t)e->mtime : 0);
	if (!mtime_fits || e->mtime_ns) {
		char s[64];
		int n;
		if (e->mtime_ns) {
			int64_t sec = e->mtime;
			uint32_t ns = e->mtime_ns % 1000000000u;
			const char *sign = "";
			if (sec < 0) {
				/* -1.25 s is written as "-1.25": sec = -2, ns = .75 → -(1.25) */
				sign = "-";
				sec = -(sec + 1);
				ns = 1000000000u - ns;
			}
			n = snprintf(s, sizeof(s), "%s%lld.%09u", sign, (long long)sec, ns);
			while (s[n - 1] == '0')
				s[--n] = '\0';
		} else {
			n = snprintf(s, sizeof(s), "%lld", (long long)e->mtime);
		}
		if (pax_add(&pax, "mtime", s, (size_t)n, err) < 0)
			return -1;
	}
	size_t pref = 0;
	if (nlen <= NAME_LEN) {
		put_str(h, NAME_LEN, name, nlen);
	} else if (split_ustar(name, nlen, &pref)) {
		put_str(h + 345, PREFIX_LEN, name, pref);
		put_str(h, NAME_LEN, name + pref + 1, nlen - pref - 1);
	} else {
		put_str(h, NAME_LEN, name, nlen);
		if (pax_add(&pax, "path", name, nlen, err) < 0)
			return -1;
	}
	if (!put_oct(h + 124, 12, size)) {
		put_oct(h + 124, 12, 0);
		if (pax_add_num(&pax, "size", size, err) < 0)
			return -1;
	}
	if (!put_oct(h + 108, 8, e->uid)) {
		put_oct(h + 108, 8, 0);
		if (pax_add_num(&pax, "uid", e->uid, err) < 0)
			return -1;
	}
	put_oct(h + 100, 8, e->mode & 07777);
	bool dev = tflag == '3' || tflag == '4';
	if (!put_oct(h + 329, 8, dev ? e->rdev_major : 0) ||
	    !put_oct(h + 337, 8, dev ? e->rdev_minor : 0))
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "%s: device number %u:%u too large for tar", e->path,
				     e->rdev_major, e->rdev_minor);
	finish_header(h);
	if (pax.len && write_pax(w, name, &pax, err) < 0)
		return -1;
	if (put(w, h, BLOCK, err) < 0)
		return -1;
	if (map.len && put(w, map.data, map.len, err) < 0)
		return -1;
	w->remaining = size - map.len;
	w->data_len = w->remaining;
	return 0;
}

static int data_done(struct i2k_tar_writer *w, struct i2k_error **err)
{
	if (w->remaining == 0 && w->data_len) {
		w->data_len = 0;
		return pad_block(w, err);
	}
	return 0;
}

static int check_data(struct i2k_tar_writer *w, uint64_t len, struct i2k_error **err)
{
	if (w->state != W_OPEN)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "tar: data after %s",
				     w->state == W_FINISHED ? "finish" : "a failed write");
	if (len > w->remaining)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "tar: %llu data bytes given, %llu expected",
				     (unsigned long long)len, (unsigned long long)w->remaining);
	return 0;
}

int i2k_tar_writer_data(struct i2k_tar_writer *w, const void *buf, size_t len,
			struct i2k_error **err)
{
	if (check_data(w, len, err) < 0 || put(w, buf, len, err) < 0)
		return -1;
	w->remaining -= len;
	return data_done(w, err);
}

static int data_sink(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	return put(ctx, buf, len, err);
}

int i2k_tar_writer_data_fd(struct i2k_tar_writer *w, int fd, uint64_t off, uint64_t len,
			   struct i2k_error **err)
{
	if (check_data(w, len, err) < 0)
		return -1;
	struct i2k_ostream s = {.write = data_sink, .ctx = w};
	if (i2k_ostream_copy_fd(s, fd, off, len, err) < 0) {
		w->state = W_FAILED;
		return -1;
	}
	w->remaining -= len;
	return data_done(w, err);
}

int i2k_tar_writer_finish(struct i2k_tar_writer *w, struct i2k_error **err)
{
	if (check_usable(w, err) < 0)
		return -1;
	static const char zeros[2 * BLOCK];
	if (put(w, zeros, sizeof(zeros), err) < 0)
		return -1;
	w->state = W_FINISHED;
	return 0;
}

uint64_t i2k_tar_writer_bytes(const struct i2k_tar_writer *w)
{
	return w->bytes;
}

void i2k_tar_writer_free(struct i2k_tar_writer *w)
{
	free(w);
}

void i2k_tar_writer_freep(struct i2k_tar_writer **w)
{
	i2k_tar_writer_free(*w);
	*w = NULL;
}

/* ---- whole trees --------------------------------------------------------- */

#define SCAN_BLOCK 4096u

static bool all_zero(const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

struct scan {
	struct i2k_tar_run *runs;
	size_t n, cap;
	uint64_t dstart, zstart; /* UINT64_MAX: none */
};

static void scan_add(struct scan *s, uint64_t off, uint64_t end)
{
	i2k_xgrow((void **)&s->runs, &s->cap, s->n + 1, sizeof(*s->runs));
	s->runs[s->n++] = (struct i2k_tar_run){.off = off, .len = end - off};
}

/* A block (or several) at pos: zero or not. */
static void scan_step(struct scan *s, uint64_t pos, bool zero)
{
	if (zero) {
		if (s->zstart == UINT64_MAX)
			s->zstart = pos;
		return;
	}
	if (s->dstart == UINT64_MAX) {
		s->dstart =
		    s->zstart != UINT64_MAX && pos - s->zstart < I2K_TAR_HOLE_MIN ? s->zstart : pos;
	} else if (s->zstart != UINT64_MAX && pos - s->zstart >= I2K_TAR_HOLE_MIN) {
		scan_add(s, s->dstart, s->zstart);
		s->dstart = pos;
	}
	s->zstart = UINT64_MAX;
}

/* The data runs of [base, base+size) of fd, from its content in 4 KiB
 * blocks (SEEK_DATA/SEEK_HOLE skip what the file system knows is a hole).
 * Returns 1 with the runs when the holes add up to I2K_TAR_SPARSE_MIN, 0 for
 * a dense file, -1 on a read error. */
static int sparse_map(int fd, uint64_t base, uint64_t size, struct i2k_tar_run **out, size_t *n,
		      struct i2k_error **err)
{
	struct scan s = {.dstart = UINT64_MAX, .zstart = UINT64_MAX};
	i2k_xgrow((void **)&s.runs, &s.cap, 1, sizeof(*s.runs)); /* non-NULL when all zero */
	_cleanup_free_ char *buf = i2k_xmalloc(SCAN_BLOCK);
	uint64_t hole_from = 0, hole_to = 0, known_to = 0; /* absolute offsets */
	uint64_t pos = 0;
	while (pos < size) {
		uint64_t abs = base + pos;
		if (abs >= known_to) {
			off_t d = lseek(fd, (off_t)abs, SEEK_DATA);
			if (d < 0 && errno == ENXIO) {
				hole_from = abs;
				hole_to = known_to = UINT64_MAX;
			} else if (d < 0) {
				hole_from = hole_to = abs; /* no hole information */
				known_to = abs + SCAN_BLOCK;
			} else if ((uint64_t)d > abs) {
				hole_from = abs;
				hole_to = known_to = (uint64_t)d;
			} else {
				off_t hl = lseek(fd, (off_t)abs, SEEK_HOLE);
				hole_from = hole_to = abs;
				known_to = hl > d ? (uint64_t)hl : abs + SCAN_BLOCK;
			}
		}
		uint64_t blen = size - pos < SCAN_BLOCK ? size - pos : SCAN_BLOCK;
		if (abs >= hole_from && abs + blen <= hole_to) {
			/* whole blocks inside a known hole, all at once */
			uint64_t end = hole_to - base < size ? hole_to - base : size;
			uint64_t nb = (end - pos) / SCAN_BLOCK;
			scan_step(&s, pos, true);
			pos += nb ? nb * SCAN_BLOCK : blen;
			continue;
		}
		if (i2k_pread_all(fd, buf, (size_t)blen, (off_t)abs, err) < 0) {
			free(s.runs);
			return -1;
		}
		scan_step(&s, pos, all_zero(buf, (size_t)blen));
		pos += blen;
	}
	if (s.dstart != UINT64_MAX) {
		uint64_t end =
		    s.zstart != UINT64_MAX && size - s.zstart >= I2K_TAR_HOLE_MIN ? s.zstart : size;
		scan_add(&s, s.dstart, end);
	}
	uint64_t stored = 0;
	for (size_t i = 0; i < s.n; i++)
		stored += s.runs[i].len;
	if (size - stored < I2K_TAR_SPARSE_MIN) {
		free(s.runs);
		return 0;
	}
	*out = s.runs;
	*n = s.n;
	return 1;
}

struct tree_ctx {
	const struct i2k_tar_opts *opts;
	struct i2k_tar_writer *w;
	struct i2k_spool *spool;
	size_t max_ino;
	char **first; /* per ino: first written name of a multiply linked file */
	size_t sockets;
	struct i2k_error **err;
};

static int tree_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct tree_ctx *c = ctx;
	const struct i2k_inode *in = e->inode;
	if (i2k_check_interrupt(c->err) < 0)
		return -1;
	if (c->opts && c->opts->filter && !c->opts->filter(e->path, in, c->opts->filter_ctx))
		return 0;
	uint32_t type = in->mode & S_IFMT;
	if (type == S_IFSOCK) {
		c->sockets++;
		return 0;
	}
	struct i2k_tar_entry te = {
	    .path = e->path,
	    .mode = in->mode,
	    .uid = in->uid,
	    .gid = in->gid,
	    .mtime = in->mtime,
	    .mtime_ns = in->mtime_ns,
	    .rdev_major = in->rdev_major,
	    .rdev_minor = in->rdev_minor,
	    .target = in->target,
	    .xattrs = in->xattrs,
	    .nxattrs = in->nxattrs,
	};
	bool data = false;
	if (type != S_IFDIR && in->nlink > 1) {
		if (in->ino == 0 || in->ino > c->max_ino)
			return i2k_error_set(c->err, I2K_ERR_INTERNAL,
					     "tar: %s: inode number %llu out of range", e->path,
					     (unsigned long long)in->ino);
		char **first = &c->first[in->ino];
		if (*first) {
			te.hardlink = *first;
			te.xattrs = NULL;
			te.nxattrs = 0;
		} else {
			*first = i2k_xstrdup(e->path);
		}
	}
	_cleanup_free_ struct i2k_tar_run *runs = NULL;
	size_t nruns = 0;
	uint64_t at = 0;
	int sfd = type == S_IFREG ? i2k_spool_fd_at(c->spool, in->data_off, &at) : -1;
	if (type == S_IFREG && te.hardlink == NULL) {
		te.size = in->size;
		data = in->size > 0;
		if (in->size >= I2K_TAR_SPARSE_MIN) {
			int sp = sparse_map(sfd, at, in->size, &runs, &nruns, c->err);
			if (sp < 0)
				return i2k_error_wrap(c->err, "%s", e->path);
			if (sp > 0) {
				te.runs = runs;
				te.nruns = nruns;
			}
		}
	}
	if (i2k_tar_writer_add(c->w, &te, c->err) < 0)
		return -1;
	if (data && te.runs) {
		for (size_t i = 0; i < nruns; i++)
			if (i2k_tar_writer_data_fd(c->w, sfd, at + runs[i].off, runs[i].len,
						   c->err) < 0)
				return i2k_error_wrap(c->err, "%s", e->path);
	} else if (data && i2k_tar_writer_data_fd(c->w, sfd, at, in->size, c->err) < 0) {
		return i2k_error_wrap(c->err, "%s", e->path);
	}
	return 0;
}

int i2k_tar_write_tree(struct i2k_fstree *tree, const struct i2k_tar_opts *opts,
		       struct i2k_ostream out, struct i2k_error **err)
{
	i2k_fstree_finalize(tree);
	_cleanup_(i2k_tar_writer_freep) struct i2k_tar_writer *w = NULL;
	if (i2k_tar_writer_new(out, &w, err) < 0)
		return -1;
	size_t max_ino = i2k_fstree_count(tree);
	struct tree_ctx c = {
	    .opts = opts,
	    .w = w,
	    .spool = i2k_fstree_spool(tree),
	    .max_ino = max_ino,
	    .first = i2k_xcalloc(max_ino + 1, sizeof(char *)),
	    .err = err,
	};
	int r = i2k_fstree_walk(tree, false, tree_cb, &c);
	for (size_t i = 0; i <= max_ino; i++)
		free(c.first[i]);
	free(c.first);
	if (r != 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "tar: tree walk stopped");
	if (c.sockets)
		i2k_warn("tar: %zu sockets skipped (tar cannot store sockets)", c.sockets);
	return i2k_tar_writer_finish(w, err);
}
