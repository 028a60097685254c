/* layer.c — one tar layer into an fstree; see layer.h and image.h.
 *
 * Memory stays flat whatever the layer size: gzinput.h (gzip) and
 * libarchive (zstd) decompress into their own block buffers and each data
 * block goes straight into the tree's spool (pwrite at the entry's offset;
 * sparse holes stay holes), so the only per-entry state is the tree node
 * itself.
 */
#include "builder/image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/path.h"
#include "builder/base/util.h"
#include "builder/image/gzinput.h"
#include "builder/image/image.h"

#define READ_BLOCK (1 << 20)
#define MAX_SHOWN_NAME 200

static const struct {
	const char *type;
	enum i2k_layer_compression comp;
} media_types[] = {
    {"application/vnd.oci.image.layer.v1.tar", I2K_LAYER_PLAIN},
    {"application/vnd.oci.image.layer.v1.tar+gzip", I2K_LAYER_GZIP},
    {"application/vnd.oci.image.layer.v1.tar+zstd", I2K_LAYER_ZSTD},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar", I2K_LAYER_PLAIN},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", I2K_LAYER_GZIP},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", I2K_LAYER_ZSTD},
    {"application/vnd.docker.image.rootfs.diff.tar", I2K_LAYER_PLAIN},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", I2K_LAYER_GZIP},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", I2K_LAYER_GZIP},
};

enum i2k_layer_compression i2k_layer_media_type(const char *media_type)
{
	if (media_type == NULL || media_type[0] == '\0')
		return I2K_LAYER_DETECT;
	for (size_t i = 0; i < I2K_ARRAY_SIZE(media_types); i++)
		if (strcmp(media_types[i].type, media_type) == 0)
			return media_types[i].comp;
	return I2K_LAYER_UNKNOWN;
}

/* A name as shown in messages: quotes, backslashes and non-printable bytes
 * escaped, long names cut. Caller frees. */
static char *shown(const char *s)
{
	struct i2k_buf b = {0};
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (; *s && n < MAX_SHOWN_NAME; s++, n++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			i2k_buf_append(&b, e, 2, NULL);
		} else if (c >= 0x20 && c < 0x7f) {
			i2k_buf_append(&b, s, 1, NULL);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			i2k_buf_append(&b, e, 4, NULL);
		}
	}
	if (*s)
		i2k_buf_append(&b, "...", 3, NULL);
	if (b.data == NULL)
		return i2k_xstrdup("");
	return b.data;
}

struct entry_ctx {
	struct i2k_fstree *tree;
	const struct i2k_flatten_opts *opts;
	const char *raw;	   /* the entry's name as in the tar */
	uint64_t *used;		   /* opts->used or a per-call counter */
	struct i2k_layer_log *log; /* opts->log: the operations are recorded */
};

/* ---- layer log encoding (see image.h) ------------------------------------- */

enum { OP_WHITEOUT = 'W', OP_LINK = 'L', OP_ADD = 'A' };

static void log_bytes(struct i2k_layer_log *l, const void *p, size_t n)
{
	if (i2k_buf_append(&l->ops, p, n, NULL) < 0)
		abort(); /* no max set: only OOM, which aborts anyway */
}

static void log_u32(struct i2k_layer_log *l, uint32_t v)
{
	uint8_t b[4];
	i2k_put_le32(b, v);
	log_bytes(l, b, 4);
}

static void log_u64(struct i2k_layer_log *l, uint64_t v)
{
	uint8_t b[8];
	i2k_put_le64(b, v);
	log_bytes(l, b, 8);
}

static void log_str(struct i2k_layer_log *l, const void *s, size_t n)
{
	log_u32(l, (uint32_t)n);
	log_bytes(l, s, n);
}

static void log_op(struct i2k_layer_log *l, char op, const char *path)
{
	log_bytes(l, &op, 1);
	log_str(l, path, strlen(path));
	l->nops++;
}

void i2k_layer_log_clear(struct i2k_layer_log *l)
{
	i2k_buf_free(&l->ops);
	free(l->data_at);
	memset(l, 0, sizeof(*l));
}

/* True when n more bytes would pass opts->max_size. */
static bool over_limit(const struct entry_ctx *c, uint64_t n)
{
	if (c->opts == NULL || c->opts->max_size == 0)
		return false;
	return n > c->opts->max_size || *c->used > c->opts->max_size - n;
}

static int entry_error(const struct entry_ctx *c, enum i2k_errc code, struct i2k_error **err,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int entry_error(const struct entry_ctx *c, enum i2k_errc code, struct i2k_error **err,
		       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *why = NULL;
	if (vasprintf(&why, fmt, ap) < 0)
		abort();
	va_end(ap);
	_cleanup_free_ char *name = shown(c->raw);
	return i2k_error_set(err, code, "entry \"%s\": %s", name, why);
}

/* Fails when n more bytes would pass the size limit (see over_limit). */
static int check_limit(const struct entry_ctx *c, uint64_t n, struct i2k_error **err)
{
	if (!over_limit(c, n))
		return 0;
	return entry_error(c, I2K_ERR_HOSTILE, err,
			   "%llu bytes would expand the root past its size limit of %llu bytes "
			   "(--max-root-size)",
			   (unsigned long long)n, (unsigned long long)c->opts->max_size);
}

/* Turns an fstree error "PATH: REASON" about normalised path into
 * `entry "RAW": REASON`: I2K_ERR_HOSTILE stays, anything else becomes
 * I2K_ERR_INTEGRITY (a malformed layer), unless `code` > 0 forces one. */
static int entry_rewrap(const struct entry_ctx *c, const char *path, struct i2k_error **ferr,
			enum i2k_errc code, struct i2k_error **err)
{
	const char *msg = (*ferr)->msg;
	size_t pl = strlen(path);
	if (pl == 0 && msg[0] == '/' && msg[1] == ':')
		msg += 3;
	else if (strncmp(msg, path, pl) == 0 && msg[pl] == ':' && msg[pl + 1] == ' ')
		msg += pl + 2;
	if (code <= 0)
		code = (*ferr)->code == I2K_ERR_HOSTILE ? I2K_ERR_HOSTILE : I2K_ERR_INTEGRITY;
	int r = entry_error(c, code, err, "%s", msg);
	if (err && *err)
		(*err)->errnum = (*ferr)->errnum;
	i2k_error_free(*ferr);
	*ferr = NULL;
	return r;
}

/* Normalises a tar name into *out ("" = the root). `what` names it in
 * messages: "path" or `hard link target "X"`. */
static int normalise(const struct entry_ctx *c, const char *name, const char *what, char **out,
		     struct i2k_error **err)
{
	size_t len = strlen(name);
	if (len > I2K_LAYER_MAX_NAME)
		return entry_error(c, I2K_ERR_HOSTILE, err, "%s longer than %d bytes", what,
				   I2K_LAYER_MAX_NAME);
	/* ".." anywhere is refused; the message says whether it climbs above
	 * the root (lexically) or stays inside. "." components are dropped. */
	_cleanup_free_ char *o = i2k_xmalloc(len + 1);
	struct i2k_path_info pi;
	i2k_path_normalise(name, o, &pi);
	if (pi.escapes)
		return entry_error(c, I2K_ERR_HOSTILE, err, "%s escapes the root", what);
	if (pi.dotdot)
		return entry_error(c, I2K_ERR_HOSTILE, err, "%s has a \"..\" component", what);
	*out = o;
	o = NULL;
	return 0;
}

static void split_last(char *path, char **dir, char **base)
{
	char *sl = strrchr(path, '/');
	if (sl) {
		*sl = '\0';
		*dir = path;
		*base = sl + 1;
	} else {
		*dir = path + strlen(path); /* "" */
		*base = path;
	}
}

static int apply_whiteout(const struct entry_ctx *c, const char *base, const char *dir,
			  struct i2k_error **err)
{
	struct i2k_error *ferr = NULL;
	if (strcmp(base, ".wh..wh..opq") == 0) {
		if (i2k_fstree_whiteout(c->tree, dir, true, &ferr) < 0)
			return entry_rewrap(c, dir, &ferr, 0, err);
		if (c->log) {
			log_op(c->log, OP_WHITEOUT, dir);
			log_bytes(c->log, "\1", 1);
		}
		return 0;
	}
	if (i2k_str_has_prefix(base, ".wh..wh."))
		return 0; /* aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not a whiteout */
	const char *victim = base + 4;
	if (victim[0] == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
		return entry_error(c, I2K_ERR_HOSTILE, err, "invalid whiteout");
	_cleanup_free_ char *target =
	    dir[0] ? i2k_xasprintf("%s/%s", dir, victim) : i2k_xstrdup(victim);
	if (i2k_fstree_whiteout(c->tree, target, false, &ferr) < 0)
		return entry_rewrap(c, target, &ferr, 0, err);
	if (c->log) {
		log_op(c->log, OP_WHITEOUT, target);
		log_bytes(c->log, "\0", 1);
	}
	return 0;
}

static int copy_data(struct archive *a, const struct entry_ctx *c, struct archive_entry *e,
		     uint64_t *off, uint64_t *size, struct i2k_error **err)
{
	struct i2k_spool *sp = i2k_fstree_spool(c->tree);
	if (i2k_spool_begin(sp, off, err) < 0)
		return -1;
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t at;
		int r = archive_read_data_block(a, &buf, &len, &at);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN || at < 0) {
			i2k_spool_abort(sp);
			return entry_error(c, I2K_ERR_INTEGRITY, err, "reading data: %s",
					   archive_error_string(a) ? archive_error_string(a)
								   : "bad data block");
		}
		if (len && i2k_spool_write_at(sp, (uint64_t)at, buf, len, err) < 0) {
			i2k_spool_abort(sp);
			return -1;
		}
		if (c->opts && c->opts->meter)
			i2k_meter_add(c->opts->meter, len);
	}
	if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
		i2k_spool_extend(sp, (uint64_t)archive_entry_size(e)); /* trailing sparse hole */
	return i2k_spool_end(sp, size, err);
}

static int get_id(const struct entry_ctx *c, const char *what, la_int64_t v, uint32_t *out,
		  struct i2k_error **err)
{
	if (v < 0 || v > (la_int64_t)UINT32_MAX)
		return entry_error(c, I2K_ERR_INTEGRITY, err, "%s %" PRId64 " out of range", what,
				   (int64_t)v);
	*out = (uint32_t)v;
	return 0;
}

/* The hard link path → target (normalised; sh: as shown in messages). */
static int link_to(const struct entry_ctx *c, const char *path, const char *target, const char *sh,
		   struct i2k_error **err)
{
	struct i2k_inode *ino = i2k_fstree_lookup(c->tree, target);
	if (ino == NULL)
		return entry_error(c, I2K_ERR_HOSTILE, err,
				   "hard link target \"%s\" does not exist", sh);
	if (S_ISDIR(ino->mode))
		return entry_error(c, I2K_ERR_HOSTILE, err,
				   "hard link target \"%s\" is a directory", sh);
	struct i2k_error *ferr = NULL;
	if (i2k_fstree_link(c->tree, path, target, I2K_FSTREE_REPLACE | I2K_FSTREE_MKPARENTS,
			    &ferr) < 0)
		return entry_rewrap(c, path, &ferr, 0, err);
	return 0;
}

static int apply_link(const struct entry_ctx *c, const char *path, const char *link,
		      struct i2k_error **err)
{
	_cleanup_free_ char *target = NULL;
	_cleanup_free_ char *sh = shown(link);
	_cleanup_free_ char *what = i2k_xasprintf("hard link target \"%s\"", sh);
	if (normalise(c, link, what, &target, err) < 0)
		return -1;
	if (target[0] == '\0')
		return entry_error(c, I2K_ERR_HOSTILE, err, "hard link target \"%s\" is the root",
				   sh);
	if (link_to(c, path, target, sh, err) < 0)
		return -1;
	if (c->log) {
		log_op(c->log, OP_LINK, path);
		log_str(c->log, target, strlen(target));
	}
	return 0;
}

/* An added entry, without its xattrs (their count and list follow). */
static void log_add(struct i2k_layer_log *l, const char *path, const struct i2k_fattr *a,
		    const char *target, uint64_t off, uint64_t size)
{
	log_op(l, OP_ADD, path);
	log_u32(l, a->mode);
	log_u32(l, a->uid);
	log_u32(l, a->gid);
	log_u64(l, (uint64_t)a->mtime);
	log_u32(l, a->mtime_ns);
	log_u32(l, a->rdev_major);
	log_u32(l, a->rdev_minor);
	if (size) {
		i2k_xgrow((void **)&l->data_at, &l->cap, l->ndata + 1, sizeof(*l->data_at));
		l->data_at[l->ndata++] = l->ops.len;
	}
	log_u64(l, off);
	log_u64(l, size);
	log_str(l, target ? target : "", target ? strlen(target) : 0);
}

static int apply_entry(struct archive *a, struct archive_entry *e, struct entry_ctx *c,
		       struct i2k_error **err)
{
	const char *raw = archive_entry_pathname(e);
	if (raw == NULL)
		raw = archive_entry_pathname_utf8(e);
	if (raw == NULL || raw[0] == '\0') {
		c->raw = "";
		return entry_error(c, I2K_ERR_INTEGRITY, err, "entry without a name");
	}
	c->raw = raw;
	_cleanup_free_ char *path = NULL;
	if (normalise(c, raw, "path", &path, err) < 0)
		return -1;

	/* whiteouts first: they never become entries */
	{
		_cleanup_free_ char *copy = i2k_xstrdup(path);
		char *dir, *base;
		split_last(copy, &dir, &base);
		if (i2k_str_has_prefix(base, ".wh."))
			return apply_whiteout(c, base, dir, err);
	}

	const char *link = archive_entry_hardlink(e);
	if (link == NULL)
		link = archive_entry_hardlink_utf8(e);
	if (link != NULL) {
		if (path[0] == '\0')
			return entry_error(c, I2K_ERR_HOSTILE, err,
					   "a hard link cannot replace the root directory");
		return apply_link(c, path, link, err);
	}

	struct i2k_fattr attr = {0};
	mode_t type = archive_entry_filetype(e);
	if (get_id(c, "uid", archive_entry_uid(e), &attr.uid, err) < 0 ||
	    get_id(c, "gid", archive_entry_gid(e), &attr.gid, err) < 0)
		return -1;
	attr.mode = (uint32_t)type | (uint32_t)(archive_entry_perm(e) & 07777);
	if (archive_entry_mtime_is_set(e)) {
		attr.mtime = archive_entry_mtime(e);
		long ns = archive_entry_mtime_nsec(e);
		attr.mtime_ns = ns > 0 && ns < 1000000000L ? (uint32_t)ns : 0;
	}
	const char *target = NULL;
	uint64_t off = 0, size = 0;
	switch (type) {
	case AE_IFREG: {
		uint64_t declared = archive_entry_size_is_set(e) && archive_entry_size(e) > 0
					? (uint64_t)archive_entry_size(e)
					: 0;
		if (check_limit(c, declared, err) < 0)
			return -1;
		if (copy_data(a, c, e, &off, &size, err) < 0)
			return -1;
		if (check_limit(c, size, err) < 0)
			return -1;
		*c->used += size;
		break;
	}
	case AE_IFDIR:
	case AE_IFIFO:
	case AE_IFSOCK:
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		if (c->opts && c->opts->reject_devices)
			return entry_error(c, I2K_ERR_HOSTILE, err,
					   "device nodes are not allowed here");
		attr.rdev_major = (uint32_t)archive_entry_rdevmajor(e);
		attr.rdev_minor = (uint32_t)archive_entry_rdevminor(e);
		break;
	case AE_IFLNK:
		target = archive_entry_symlink(e);
		if (target == NULL)
			target = archive_entry_symlink_utf8(e);
		if (target == NULL || target[0] == '\0')
			return entry_error(c, I2K_ERR_INTEGRITY, err, "symlink without a target");
		if (strlen(target) > I2K_LAYER_MAX_NAME)
			return entry_error(c, I2K_ERR_HOSTILE, err,
					   "symlink target longer than %d bytes",
					   I2K_LAYER_MAX_NAME);
		break;
	default:
		return entry_error(c, I2K_ERR_UNSUPPORTED, err, "unsupported entry type %#o",
				   (unsigned)type);
	}
	if (path[0] == '\0' && type != AE_IFDIR)
		return entry_error(c, I2K_ERR_HOSTILE, err,
				   "a non-directory cannot replace the root directory");

	struct i2k_inode *ino = NULL;
	struct i2k_error *ferr = NULL;
	if (i2k_fstree_add(c->tree, path, &attr, target, off, size,
			   I2K_FSTREE_REPLACE | I2K_FSTREE_MKPARENTS, &ino, &ferr) < 0)
		return entry_rewrap(c, path, &ferr, 0, err);
	if (c->log)
		log_add(c->log, path, &attr, target, off, size);

	const char *xname;
	const void *xval;
	size_t xlen;
	uint32_t nx = 0;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xname, &xval, &xlen) == ARCHIVE_OK)
		nx += xname != NULL && xname[0] != '\0';
	if (c->log)
		log_u32(c->log, nx);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xname, &xval, &xlen) == ARCHIVE_OK) {
		if (xname == NULL || xname[0] == '\0')
			continue;
		i2k_inode_set_xattr(ino, xname, xval, xlen);
		if (c->log) {
			log_str(c->log, xname, strlen(xname));
			log_str(c->log, xval, xlen);
		}
	}
	return 0;
}

static void archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

/* i2k_layer_apply's work, on the input in (freed by the caller after this
 * returns: the archive that reads through it is freed here). */
static int apply_input(struct i2k_gzinput *in, const char *media_type, struct i2k_fstree *tree,
		       const struct i2k_flatten_opts *opts, struct i2k_error **err)
{
	if (i2k_layer_media_type(media_type) == I2K_LAYER_UNKNOWN)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "unsupported layer media type \"%s\"", media_type);
	_cleanup_(archive_freep) struct archive *a = archive_read_new();
	if (a == NULL)
		abort();
	/* Compression is sniffed from the data whatever the media type says; a
	 * layer whose bytes are not a tar fails below. gzip is inflated by
	 * gzinput.h (ISA-L) before libarchive sees it, zstd by libarchive. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	if (i2k_gzinput_open(a, in) != ARCHIVE_OK)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "reading layer: %s",
				     archive_error_string(a) ? archive_error_string(a) : "?");
	i2k_fstree_begin_layer(tree);
	uint64_t used_here = 0;
	struct entry_ctx c = {.tree = tree,
			      .opts = opts,
			      .used = opts && opts->used ? opts->used : &used_here,
			      .log = opts ? opts->log : NULL};
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return i2k_error_set(err, I2K_ERR_INTEGRITY, "reading layer: %s",
					     archive_error_string(a) ? archive_error_string(a)
								     : "?");
		/* ARCHIVE_WARN: e.g. a UTF-8 name that the C locale cannot
		 * represent; the raw bytes are kept, which is what we want. */
		if (apply_entry(a, e, &c, err) < 0)
			return -1;
		if (i2k_check_interrupt(err) < 0)
			return -1;
	}
	if (i2k_gzinput_drain(a, in) < 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "reading layer: %s",
				     archive_error_string(a) ? archive_error_string(a) : "?");
	return 0;
}

int i2k_layer_apply(int fd, const char *media_type, struct i2k_fstree *tree,
		    const struct i2k_flatten_opts *opts, struct i2k_error **err)
{
	_cleanup_(i2k_gzinput_freep) struct i2k_gzinput *in = i2k_gzinput_new(fd, READ_BLOCK);
	return apply_input(in, media_type, tree, opts, err);
}

int i2k_layer_apply_range(int fd, uint64_t off, uint64_t len, const char *media_type,
			  struct i2k_fstree *tree, const struct i2k_flatten_opts *opts,
			  struct i2k_error **err)
{
	_cleanup_(i2k_gzinput_freep) struct i2k_gzinput *in =
	    i2k_gzinput_new_range(fd, off, len, READ_BLOCK);
	return apply_input(in, media_type, tree, opts, err);
}

/* ---- replay ----------------------------------------------------------------- */

/* A log reader: the whole log in memory (fd -1), or a log in a file read
 * through a window of RD_WINDOW bytes (grown for a longer string). What
 * rd_take returns is valid until the next rd_take. */
#define RD_WINDOW (256u << 10)

struct rd {
	const uint8_t *p, *end; /* the bytes at hand */
	bool bad;
	const uint8_t *start;	  /* memory: the log */
	int fd;			  /* file: -1 for memory */
	uint64_t off, next, stop; /* file: the log's start, what to read next, its end */
	uint8_t *win;		  /* file: the window (owned) */
	size_t cap;
};

/* Brings at least n bytes to hand from the file; false at its end (or on
 * a read error: the log then reads as malformed). */
static bool rd_fill(struct rd *r, size_t n)
{
	size_t have = (size_t)(r->end - r->p);
	if (r->fd < 0 || n - have > r->stop - r->next)
		return false;
	size_t cap = n > RD_WINDOW ? n : RD_WINDOW;
	if (cap > r->cap) {
		uint8_t *w = i2k_xmalloc(cap);
		if (have)
			memcpy(w, r->p, have);
		free(r->win);
		r->win = w;
		r->cap = cap;
	} else if (have) {
		memmove(r->win, r->p, have);
	}
	size_t k = r->stop - r->next < r->cap - have ? (size_t)(r->stop - r->next) : r->cap - have;
	if (i2k_pread_all(r->fd, r->win + have, k, (off_t)r->next, NULL) < 0)
		return false;
	r->next += k;
	r->p = r->win;
	r->end = r->win + have + k;
	return true;
}

static const uint8_t *rd_take(struct rd *r, size_t n)
{
	if (r->bad || ((size_t)(r->end - r->p) < n && !rd_fill(r, n))) {
		r->bad = true;
		return NULL;
	}
	const uint8_t *q = r->p;
	r->p += n;
	return q;
}

static bool rd_done(const struct rd *r)
{
	return r->bad || (r->p == r->end && (r->fd < 0 || r->next == r->stop));
}

/* Where the reader is, in bytes from the log's start. */
static uint64_t rd_pos(const struct rd *r)
{
	if (r->fd < 0)
		return (uint64_t)(r->p - r->start);
	return r->next - r->off - (uint64_t)(r->end - r->p);
}

static uint8_t rd_u8(struct rd *r)
{
	const uint8_t *q = rd_take(r, 1);
	return q ? *q : 0;
}

static uint32_t rd_u32(struct rd *r)
{
	const uint8_t *q = rd_take(r, 4);
	return q ? i2k_get_le32(q) : 0;
}

static uint64_t rd_u64(struct rd *r)
{
	const uint8_t *q = rd_take(r, 8);
	return q ? i2k_get_le64(q) : 0;
}

/* A length-prefixed string, copied NUL-terminated into *out (caller frees);
 * NULL after a decoding error. */
static char *rd_str(struct rd *r, size_t *len)
{
	uint32_t n = rd_u32(r);
	const uint8_t *q = rd_take(r, n);
	if (q == NULL)
		return NULL;
	char *s = i2k_xmalloc((size_t)n + 1);
	memcpy(s, q, n);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

/* One operation; tree NULL only decodes it. */
static int replay_op(struct rd *r, struct entry_ctx *c, uint64_t base,
		     int (*visit)(void *, uint64_t, uint64_t, struct i2k_error **), void *vctx,
		     struct i2k_error **err)
{
	uint8_t op = rd_u8(r);
	_cleanup_free_ char *path = rd_str(r, NULL);
	if (path == NULL)
		return 0; /* r->bad */
	c->raw = path;
	struct i2k_error *ferr = NULL;
	if (op == OP_WHITEOUT) {
		uint8_t opq = rd_u8(r);
		if (r->bad || c->tree == NULL)
			return 0;
		if (i2k_fstree_whiteout(c->tree, path, opq != 0, &ferr) < 0)
			return entry_rewrap(c, path, &ferr, 0, err);
		return 0;
	}
	if (op == OP_LINK) {
		_cleanup_free_ char *target = rd_str(r, NULL);
		if (target == NULL || c->tree == NULL)
			return 0;
		_cleanup_free_ char *sh = shown(target);
		return link_to(c, path, target, sh, err);
	}
	if (op != OP_ADD) {
		r->bad = true;
		return 0;
	}
	struct i2k_fattr attr = {0};
	attr.mode = rd_u32(r);
	attr.uid = rd_u32(r);
	attr.gid = rd_u32(r);
	attr.mtime = (int64_t)rd_u64(r);
	attr.mtime_ns = rd_u32(r);
	attr.rdev_major = rd_u32(r);
	attr.rdev_minor = rd_u32(r);
	uint64_t off = rd_u64(r), size = rd_u64(r);
	size_t tlen = 0;
	_cleanup_free_ char *target = rd_str(r, &tlen);
	uint32_t nx = rd_u32(r);
	if (r->bad)
		return 0;
	if (size && (!S_ISREG(attr.mode) || off > UINT64_MAX - base - size)) {
		r->bad = true;
		return 0;
	}
	if (visit && size && c->tree == NULL && visit(vctx, off, size, err) < 0)
		return -1;
	struct i2k_inode *ino = NULL;
	if (c->tree) {
		if ((S_ISCHR(attr.mode) || S_ISBLK(attr.mode)) && c->opts &&
		    c->opts->reject_devices)
			return entry_error(c, I2K_ERR_HOSTILE, err,
					   "device nodes are not allowed here");
		if (S_ISREG(attr.mode)) {
			if (check_limit(c, size, err) < 0)
				return -1;
			*c->used += size;
			if (c->opts && c->opts->meter)
				i2k_meter_add(c->opts->meter, size);
		}
		if (i2k_fstree_add(c->tree, path, &attr, S_ISLNK(attr.mode) ? target : NULL,
				   size ? base + off : 0, size,
				   I2K_FSTREE_REPLACE | I2K_FSTREE_MKPARENTS, &ino, &ferr) < 0)
			return entry_rewrap(c, path, &ferr, 0, err);
	}
	for (uint32_t i = 0; i < nx && !r->bad; i++) {
		size_t vlen = 0;
		_cleanup_free_ char *name = rd_str(r, NULL);
		_cleanup_free_ char *val = rd_str(r, &vlen);
		if (ino && name && val)
			i2k_inode_set_xattr(ino, name, val, vlen);
	}
	return 0;
}

/* Every replay: rd0 positions a reader at the log's start (memory or
 * file). checked: the encoding is known good (the caller's check pass just
 * accepted it), so only the applying pass runs. */
static int replay(const struct rd *rd0, uint64_t len, uint64_t base, struct i2k_fstree *tree,
		  const struct i2k_flatten_opts *opts,
		  int (*visit)(void *ctx, uint64_t off, uint64_t size, struct i2k_error **err),
		  void *ctx, bool checked, struct i2k_error **err)
{
	uint64_t used_here = 0;
	if (len == 0) { /* an empty layer (ops may be NULL) */
		if (tree)
			i2k_fstree_begin_layer(tree);
		return 0;
	}
	/* pass 0 decodes everything (and visits); pass 1 applies */
	for (int pass = checked && tree ? 1 : 0; pass < (tree ? 2 : 1); pass++) {
		struct entry_ctx c = {.tree = pass ? tree : NULL,
				      .opts = opts,
				      .used = opts && opts->used ? opts->used : &used_here};
		struct rd r = *rd0;
		if (c.tree)
			i2k_fstree_begin_layer(tree);
		int rc = 0;
		while (rc == 0 && !rd_done(&r))
			rc = replay_op(&r, &c, base, visit, ctx, err);
		free(r.win);
		if (rc < 0)
			return -1;
		if (r.bad)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "layer log: malformed at byte %" PRIu64, rd_pos(&r));
	}
	return 0;
}

int i2k_layer_log_replay(const void *ops, size_t len, uint64_t base, struct i2k_fstree *tree,
			 const struct i2k_flatten_opts *opts,
			 int (*visit)(void *ctx, uint64_t off, uint64_t size,
				      struct i2k_error **err),
			 void *ctx, struct i2k_error **err)
{
	const uint8_t *p = ops;
	struct rd r = {.p = p, .end = len ? p + len : p, .start = p, .fd = -1};
	return replay(&r, len, base, tree, opts, visit, ctx, false, err);
}

/* replay() of the len bytes at off in fd. */
static int replay_file(int fd, uint64_t off, uint64_t len, uint64_t base, struct i2k_fstree *tree,
		       const struct i2k_flatten_opts *opts,
		       int (*visit)(void *ctx, uint64_t off, uint64_t size, struct i2k_error **err),
		       void *ctx, bool checked, struct i2k_error **err)
{
	if (len > UINT64_MAX - off)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "layer log: bad extent");
	struct rd r = {.fd = fd, .off = off, .next = off, .stop = off + len};
	return replay(&r, len, base, tree, opts, visit, ctx, checked, err);
}

int i2k_layer_log_replay_fd(int fd, uint64_t off, uint64_t len, uint64_t base,
			    struct i2k_fstree *tree, const struct i2k_flatten_opts *opts,
			    int (*visit)(void *ctx, uint64_t off, uint64_t size,
					 struct i2k_error **err),
			    void *ctx, struct i2k_error **err)
{
	return replay_file(fd, off, len, base, tree, opts, visit, ctx, false, err);
}

int i2k_layer_log_apply_fd(int fd, uint64_t off, uint64_t len, uint64_t base,
			   struct i2k_fstree *tree, const struct i2k_flatten_opts *opts,
			   struct i2k_error **err)
{
	return replay_file(fd, off, len, base, tree, opts, NULL, NULL, true, err);
}
