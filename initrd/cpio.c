/* cpio.c — newc cpio writer (contract and byte format in cpio.h). */
#include "initrd/cpio.h"

#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define CPIO_HDR_LEN 110
#define CPIO_NAME_MAX 4095

enum wstate { W_OPEN, W_FINISHED, W_FAILED };

struct i2k_cpio_writer {
	struct i2k_ostream out;
	uint64_t bytes;
	uint64_t remaining; /* data bytes still expected for the current entry */
	uint64_t data_len;  /* total data bytes of the current entry (for padding) */
	enum wstate state;
};

static int put(struct i2k_cpio_writer *w, const void *buf, size_t len, struct i2k_error **err)
{
	if (i2k_ostream_write(w->out, buf, len, err) < 0) {
		w->state = W_FAILED;
		return -1;
	}
	w->bytes += len;
	return 0;
}

static int pad4(struct i2k_cpio_writer *w, struct i2k_error **err)
{
	static const char zeros[4];
	size_t n = (size_t)((4 - (w->bytes & 3)) & 3);
	return put(w, zeros, n, err);
}

static int check_usable(struct i2k_cpio_writer *w, struct i2k_error **err)
{
	if (w->state == W_FINISHED)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "cpio: write after finish");
	if (w->state == W_FAILED)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "cpio: write after a failed write");
	return 0;
}

int i2k_cpio_writer_new(struct i2k_ostream out, struct i2k_cpio_writer **w, struct i2k_error **err)
{
	(void)err;
	struct i2k_cpio_writer *n = i2k_xcalloc(1, sizeof(*n));
	n->out = out;
	n->state = W_OPEN;
	*w = n;
	return 0;
}

static void hex8(char *dst, uint32_t v)
{
	static const char digits[] = "0123456789ABCDEF";
	for (int i = 7; i >= 0; i--) {
		dst[i] = digits[v & 0xf];
		v >>= 4;
	}
}

static int write_header(struct i2k_cpio_writer *w, const struct i2k_cpio_entry *e,
			struct i2k_error **err)
{
	size_t namelen = strlen(e->name);
	char hdr[CPIO_HDR_LEN];
	int64_t mt = e->mtime < 0 ? 0 : e->mtime > 0xffffffffLL ? 0xffffffffLL : e->mtime;
	uint32_t fields[13] = {
	    e->ino,
	    e->mode,
	    e->uid,
	    e->gid,
	    e->nlink,
	    (uint32_t)mt,
	    (uint32_t)e->size,
	    0,
	    0,
	    e->rdev_major,
	    e->rdev_minor,
	    (uint32_t)(namelen + 1),
	    0,
	};
	memcpy(hdr, "070701", 6);
	for (int i = 0; i < 13; i++)
		hex8(hdr + 6 + 8 * i, fields[i]);
	if (put(w, hdr, sizeof(hdr), err) < 0 || put(w, e->name, namelen + 1, err) < 0 ||
	    pad4(w, err) < 0)
		return -1;
	w->remaining = e->size;
	w->data_len = e->size;
	return 0;
}

int i2k_cpio_writer_add(struct i2k_cpio_writer *w, const struct i2k_cpio_entry *e,
			struct i2k_error **err)
{
	if (check_usable(w, err) < 0)
		return -1;
	if (w->remaining)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "cpio: previous entry is missing %llu data bytes",
				     (unsigned long long)w->remaining);
	size_t namelen = strlen(e->name);
	if (namelen == 0 || e->name[0] == '/' || namelen > CPIO_NAME_MAX)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "cpio: invalid entry name \"%.64s\"",
				     e->name);
	if (e->size > 0xffffffffULL)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "%s: file too large for cpio (%llu bytes, max 4 GiB - 1)",
				     e->name, (unsigned long long)e->size);
	return write_header(w, e, err);
}

static int data_done(struct i2k_cpio_writer *w, struct i2k_error **err)
{
	if (w->remaining == 0 && w->data_len > 0) {
		w->data_len = 0;
		return pad4(w, err);
	}
	return 0;
}

int i2k_cpio_writer_data(struct i2k_cpio_writer *w, const void *buf, size_t len,
			 struct i2k_error **err)
{
	if (check_usable(w, err) < 0)
		return -1;
	if (len > w->remaining)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "cpio: %zu data bytes given, %llu expected", len,
				     (unsigned long long)w->remaining);
	if (put(w, buf, len, err) < 0)
		return -1;
	w->remaining -= len;
	return data_done(w, err);
}

struct fd_ctx {
	struct i2k_cpio_writer *w;
};

static int data_sink(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	struct fd_ctx *c = ctx;
	return put(c->w, buf, len, err);
}

int i2k_cpio_writer_data_fd(struct i2k_cpio_writer *w, int fd, uint64_t off, uint64_t len,
			    struct i2k_error **err)
{
	if (check_usable(w, err) < 0)
		return -1;
	if (len > w->remaining)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "cpio: %llu data bytes given, %llu expected",
				     (unsigned long long)len, (unsigned long long)w->remaining);
	struct fd_ctx c = {.w = w};
	struct i2k_ostream s = {.write = data_sink, .ctx = &c};
	if (i2k_ostream_copy_fd(s, fd, off, len, err) < 0) {
		w->state = W_FAILED;
		return -1;
	}
	w->remaining -= len;
	return data_done(w, err);
}

int i2k_cpio_writer_finish(struct i2k_cpio_writer *w, struct i2k_error **err)
{
	if (check_usable(w, err) < 0)
		return -1;
	if (w->remaining)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "cpio: previous entry is missing %llu data bytes",
				     (unsigned long long)w->remaining);
	struct i2k_cpio_entry t = {.name = "TRAILER!!!", .nlink = 1};
	if (write_header(w, &t, err) < 0)
		return -1;
	w->state = W_FINISHED;
	return 0;
}

uint64_t i2k_cpio_writer_bytes(const struct i2k_cpio_writer *w)
{
	return w->bytes;
}

void i2k_cpio_writer_free(struct i2k_cpio_writer *w)
{
	free(w);
}

void i2k_cpio_writer_freep(struct i2k_cpio_writer **w)
{
	i2k_cpio_writer_free(*w);
	*w = NULL;
}

/* ---- whole trees --------------------------------------------------------- */

struct tree_ctx {
	struct i2k_fstree *tree;
	const struct i2k_cpio_tree_opts *opts;
	struct i2k_cpio_writer *w;
	struct i2k_spool *spool;
	size_t max_ino;
	uint32_t *names; /* per ino: names selected by the filter */
	bool *written;	 /* per ino: data already written */
	size_t xattrs_dropped;
	struct i2k_error **err;
};

static bool selected(struct tree_ctx *c, const struct i2k_walk_entry *e)
{
	if (c->opts == NULL || c->opts->filter == NULL)
		return true;
	return c->opts->filter(e->path, e->inode, c->opts->filter_ctx);
}

static int check_ino(struct tree_ctx *c, const struct i2k_walk_entry *e)
{
	if (e->inode->ino == 0 || e->inode->ino > c->max_ino || e->inode->ino > 0xffffffffULL)
		return i2k_error_set(
		    c->err, I2K_ERR_INTERNAL,
		    "cpio: %s: inode number %llu out of range (tree not finalized?)", e->path,
		    (unsigned long long)e->inode->ino);
	return 0;
}

static int count_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct tree_ctx *c = ctx;
	if (!selected(c, e))
		return 0;
	if (check_ino(c, e) < 0)
		return -1;
	c->names[e->inode->ino]++;
	return 0;
}

static int write_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct tree_ctx *c = ctx;
	const struct i2k_inode *in = e->inode;
	if (i2k_check_interrupt(c->err) < 0)
		return -1;
	if (!selected(c, e))
		return 0;
	if (check_ino(c, e) < 0)
		return -1;
	uint32_t type = in->mode & S_IFMT;
	struct i2k_cpio_entry ce = {
	    .name = e->path,
	    .ino = (uint32_t)in->ino,
	    .mode = in->mode,
	    .uid = in->uid,
	    .gid = in->gid,
	    .nlink = type == S_IFDIR ? in->nlink : c->names[in->ino],
	    .mtime = in->mtime,
	};
	if (type == S_IFCHR || type == S_IFBLK) {
		ce.rdev_major = in->rdev_major;
		ce.rdev_minor = in->rdev_minor;
	}
	const char *target = NULL;
	bool with_data = false;
	if (type == S_IFLNK) {
		target = in->target ? in->target : "";
		ce.size = strlen(target);
	} else if (type == S_IFREG && !c->written[in->ino]) {
		ce.size = in->size;
		with_data = true;
	}
	c->xattrs_dropped += c->written[in->ino] ? 0 : in->nxattrs;
	c->written[in->ino] = true;
	if (i2k_cpio_writer_add(c->w, &ce, c->err) < 0)
		return -1;
	if (target && ce.size && i2k_cpio_writer_data(c->w, target, ce.size, c->err) < 0)
		return -1;
	if (with_data && ce.size) {
		uint64_t at;
		int fd = i2k_spool_fd_at(c->spool, in->data_off, &at);
		if (i2k_cpio_writer_data_fd(c->w, fd, at, ce.size, c->err) < 0)
			return i2k_error_wrap(c->err, "%s", e->path);
	}
	return 0;
}

int i2k_cpio_write_tree(struct i2k_fstree *tree, const struct i2k_cpio_tree_opts *opts,
			struct i2k_ostream out, struct i2k_error **err)
{
	i2k_fstree_finalize(tree);
	size_t max_ino = i2k_fstree_count(tree);
	_cleanup_free_ uint32_t *names = i2k_xcalloc(max_ino + 1, sizeof(*names));
	_cleanup_free_ bool *written = i2k_xcalloc(max_ino + 1, sizeof(*written));
	_cleanup_(i2k_cpio_writer_freep) struct i2k_cpio_writer *w = NULL;
	if (i2k_cpio_writer_new(out, &w, err) < 0)
		return -1;
	struct tree_ctx c = {
	    .tree = tree,
	    .opts = opts,
	    .w = w,
	    .spool = i2k_fstree_spool(tree),
	    .max_ino = max_ino,
	    .names = names,
	    .written = written,
	    .err = err,
	};
	if (i2k_fstree_walk(tree, false, count_cb, &c) != 0)
		return -1;
	if (i2k_fstree_walk(tree, false, write_cb, &c) != 0) {
		/* A callback failed; make sure an error is set. */
		return i2k_error_set(err, I2K_ERR_INTERNAL, "cpio: tree walk stopped");
	}
	if (i2k_cpio_writer_finish(w, err) < 0)
		return -1;
	if (c.xattrs_dropped)
		i2k_warn("cpio: %zu extended attributes dropped (the newc format cannot carry "
			 "them)",
			 c.xattrs_dropped);
	return 0;
}

bool i2k_cpio_filter_linuxkit(const char *path, const struct i2k_inode *ino, void *ctx)
{
	(void)ino;
	(void)ctx;
	return !i2k_str_has_prefix(path, "boot/");
}
