/* squashfs.c — the squashfs writer's driver (see squashfs.h): collects the
 * tree, writes file data (sqfs_data), inodes bottom-up with the directory
 * listings (sqfs_dir), the id, fragment and xattr tables (sqfs_meta,
 * sqfs_xattr) and finally the superblock. */
#include "formats/fs/squashfs.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/fs/sqfs_comp.h"
#include "formats/fs/sqfs_data.h"
#include "formats/fs/sqfs_dir.h"
#include "formats/fs/sqfs_meta.h"
#include "formats/fs/sqfs_xattr.h"

#define SB_SIZE 96
#define SQFS_MAGIC 0x73717368u
#define INVALID_BLK UINT64_MAX
#define MAX_IDS 65535u

enum {
	T_DIR = 1,
	T_REG,
	T_SYMLINK,
	T_BLK,
	T_CHR,
	T_FIFO,
	T_SOCK, /* basic types; ext = +7 */
};
enum {
	F_NOI = 0x0001,
	F_NOD = 0x0002,
	F_NOF = 0x0008,
	F_NO_FRAGS = 0x0010,
	F_ALWAYS_FRAGS = 0x0020,
	F_NOX = 0x0100,
	F_NO_XATTRS = 0x0200,
	F_COMP_OPTS = 0x0400,
	F_NOID = 0x0800,
};

struct node {
	char *name;
	struct i2k_inode *inode;
	uint32_t parent, child0, nchild;
};

struct wr {
	struct i2k_fstree *tree;
	struct i2k_sink *out;
	struct node *nodes;
	size_t n, cap;
	uint32_t *kids;
	uint32_t *stack; /* walk: node index per depth */
	size_t stack_cap;
	struct i2k_error *walk_err;
	uint64_t ninodes;
	uint32_t *file_id; /* per inode number - 1: data file id */
	uint64_t *iref;	   /* per inode number - 1: inode reference, UINT64_MAX unwritten */
	struct i2k_sqfs_comp comp;
	struct i2k_sqfs_meta itab, dtab;
	struct i2k_sqfs_data *data;
	struct i2k_sqfs_xattrs *xattrs;
	uint32_t *ids, nids;
	size_t ids_cap;
	uint32_t *id_slots; /* open addressing: index + 1, 0 empty */
	size_t id_nslots;
};

static void wr_release(struct wr *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->nodes[i].name);
	free(w->nodes);
	free(w->kids);
	free(w->stack);
	i2k_error_free(w->walk_err);
	free(w->file_id);
	free(w->iref);
	i2k_sqfs_meta_release(&w->itab);
	i2k_sqfs_meta_release(&w->dtab);
	i2k_sqfs_data_free(w->data);
	i2k_sqfs_xattrs_free(w->xattrs);
	i2k_sqfs_comp_release(&w->comp);
	free(w->ids);
	free(w->id_slots);
}

/* "/"-prefixed path of node i, for messages (caller frees). */
static char *node_path(const struct wr *w, uint32_t i)
{
	size_t len = 0;
	for (uint32_t j = i; j != 0; j = w->nodes[j].parent)
		len += strlen(w->nodes[j].name) + 1;
	char *p = i2k_xmalloc(len + 2);
	p[len] = '\0';
	if (len == 0) {
		memcpy(p, "/", 2);
		return p;
	}
	for (uint32_t j = i; j != 0; j = w->nodes[j].parent) {
		size_t nl = strlen(w->nodes[j].name);
		len -= nl;
		memcpy(p + len, w->nodes[j].name, nl);
		p[--len] = '/';
	}
	return p;
}

static int collect(const struct i2k_walk_entry *e, void *ctx)
{
	struct wr *w = ctx;
	struct i2k_inode *ino = e->inode;
	size_t nl = strlen(e->name);
	if (e->depth > 0 && nl > I2K_SQFS_NAME_MAX) {
		i2k_error_set(&w->walk_err, I2K_ERR_UNSUPPORTED,
			      "/%s: name of %zu bytes (squashfs allows at most %d)", e->path, nl,
			      I2K_SQFS_NAME_MAX);
		return -1;
	}
	if ((S_ISCHR(ino->mode) || S_ISBLK(ino->mode)) &&
	    (ino->rdev_major > 0xfff || ino->rdev_minor > 0xfffff)) {
		i2k_error_set(&w->walk_err, I2K_ERR_UNSUPPORTED,
			      "/%s: device %" PRIu32 ":%" PRIu32
			      " does not fit (major < 4096, minor < 1048576)",
			      e->path, ino->rdev_major, ino->rdev_minor);
		return -1;
	}
	if (ino->ino == 0 || ino->ino > UINT32_MAX - 1) {
		i2k_error_set(&w->walk_err, I2K_ERR_UNSUPPORTED, "/%s: inode number %" PRIu64,
			      e->path, ino->ino);
		return -1;
	}
	if (w->n >= UINT32_MAX - 1) {
		i2k_error_set(&w->walk_err, I2K_ERR_UNSUPPORTED, "too many entries");
		return -1;
	}
	i2k_xgrow((void **)&w->nodes, &w->cap, w->n + 1, sizeof(*w->nodes));
	i2k_xgrow((void **)&w->stack, &w->stack_cap, (size_t)e->depth + 1, sizeof(*w->stack));
	uint32_t idx = (uint32_t)w->n++;
	w->nodes[idx] = (struct node){.name = i2k_xstrdup(e->name),
				      .inode = ino,
				      .parent = e->depth ? w->stack[e->depth - 1] : 0};
	w->stack[e->depth] = idx;
	if (ino->ino > w->ninodes)
		w->ninodes = ino->ino;
	return 0;
}

/* Children lists (pre-order keeps each directory's children sorted). */
static void link_children(struct wr *w)
{
	w->kids = i2k_xcalloc(w->n ? w->n : 1, sizeof(*w->kids));
	for (size_t i = 1; i < w->n; i++)
		w->nodes[w->nodes[i].parent].nchild++;
	uint32_t at = 0;
	for (size_t i = 0; i < w->n; i++) {
		w->nodes[i].child0 = at;
		at += w->nodes[i].nchild;
		w->nodes[i].nchild = 0;
	}
	for (size_t i = 1; i < w->n; i++) {
		struct node *p = &w->nodes[w->nodes[i].parent];
		w->kids[p->child0 + p->nchild++] = (uint32_t)i;
	}
}

static int id_index(struct wr *w, uint32_t id, uint16_t *out, struct i2k_error **err)
{
	if (w->id_slots == NULL) {
		w->id_nslots = 256;
		w->id_slots = i2k_xcalloc(w->id_nslots, sizeof(*w->id_slots));
	}
	size_t mask = w->id_nslots - 1;
	size_t j = (id * 2654435761u) & mask;
	for (; w->id_slots[j] != 0; j = (j + 1) & mask) {
		if (w->ids[w->id_slots[j] - 1] == id) {
			*out = (uint16_t)(w->id_slots[j] - 1);
			return 0;
		}
	}
	if (w->nids == MAX_IDS)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "more than %u distinct uids and gids", MAX_IDS);
	i2k_xgrow((void **)&w->ids, &w->ids_cap, w->nids + 1, sizeof(*w->ids));
	w->ids[w->nids] = id;
	w->id_slots[j] = ++w->nids;
	*out = (uint16_t)(w->nids - 1);
	if (w->nids * 2 > w->id_nslots) {
		size_t n = w->id_nslots * 2;
		uint32_t *s = i2k_xcalloc(n, sizeof(*s));
		for (uint32_t k = 0; k < w->nids; k++) {
			size_t h = (w->ids[k] * 2654435761u) & (n - 1);
			while (s[h] != 0)
				h = (h + 1) & (n - 1);
			s[h] = k + 1;
		}
		free(w->id_slots);
		w->id_slots = s;
		w->id_nslots = n;
	}
	return 0;
}

static uint16_t basic_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return T_DIR;
	case S_IFREG:
		return T_REG;
	case S_IFLNK:
		return T_SYMLINK;
	case S_IFBLK:
		return T_BLK;
	case S_IFCHR:
		return T_CHR;
	case S_IFIFO:
		return T_FIFO;
	default:
		return T_SOCK;
	}
}

/* Little-endian record builder for one inode. */
struct rec {
	struct i2k_buf b;
};
static void r16(struct rec *r, uint16_t v)
{
	uint8_t p[2];
	i2k_sqfs_put16(p, v);
	i2k_buf_append(&r->b, p, 2, NULL);
}
static void r32(struct rec *r, uint32_t v)
{
	uint8_t p[4];
	i2k_sqfs_put32(p, v);
	i2k_buf_append(&r->b, p, 4, NULL);
}
static void r64(struct rec *r, uint64_t v)
{
	uint8_t p[8];
	i2k_sqfs_put64(p, v);
	i2k_buf_append(&r->b, p, 8, NULL);
}

static int write_inode(struct wr *w, uint32_t ni, const struct i2k_sqfs_dirinfo *di,
		       struct i2k_error **err)
{
	const struct node *n = &w->nodes[ni];
	const struct i2k_inode *ino = n->inode;
	uint32_t xattr = I2K_SQFS_NO_XATTR;
	if (ino->nxattrs > 0) {
		_cleanup_free_ char *path = node_path(w, ni);
		if (i2k_sqfs_xattrs_add(w->xattrs, ino->xattrs, ino->nxattrs, path + 1, &xattr,
					err) < 0)
			return -1;
	}
	uint16_t uid, gid;
	if (id_index(w, ino->uid, &uid, err) < 0 || id_index(w, ino->gid, &gid, err) < 0)
		return -1;
	uint16_t type = basic_type(ino->mode);
	bool ext = xattr != I2K_SQFS_NO_XATTR;
	const struct i2k_sqfs_file *f = NULL;
	if (type == T_REG) {
		f = i2k_sqfs_data_file(w->data, w->file_id[ino->ino - 1]);
		ext = ext || f->start > UINT32_MAX || f->size > UINT32_MAX || ino->nlink > 1 ||
		      f->sparse > 0;
	} else if (type == T_DIR) {
		ext = ext || di->size > UINT16_MAX || di->index_count > 0;
	}
	uint32_t mtime = ino->mtime < 0		   ? 0
			 : ino->mtime > UINT32_MAX ? UINT32_MAX
						   : (uint32_t)ino->mtime;
	struct rec r = {0};
	r16(&r, (uint16_t)(type + (ext ? 7 : 0)));
	r16(&r, (uint16_t)(ino->mode & 07777));
	r16(&r, uid);
	r16(&r, gid);
	r32(&r, mtime);
	r32(&r, (uint32_t)ino->ino);
	switch (type) {
	case T_DIR: {
		uint32_t parent =
		    ni == 0 ? (uint32_t)w->ninodes + 1 : (uint32_t)w->nodes[n->parent].inode->ino;
		if (ext) {
			r32(&r, ino->nlink);
			r32(&r, di->size);
			r32(&r, di->block);
			r32(&r, parent);
			r16(&r, (uint16_t)di->index_count);
			r16(&r, di->offset);
			r32(&r, xattr);
			i2k_buf_append(&r.b, di->index.data, di->index.len, NULL);
		} else {
			r32(&r, di->block);
			r32(&r, ino->nlink);
			r16(&r, (uint16_t)di->size);
			r16(&r, di->offset);
			r32(&r, parent);
		}
		break;
	}
	case T_REG:
		if (ext) {
			r64(&r, f->start);
			r64(&r, f->size);
			r64(&r, f->sparse);
			r32(&r, ino->nlink);
			r32(&r, f->frag_idx);
			r32(&r, f->frag_off);
			r32(&r, xattr);
		} else {
			r32(&r, (uint32_t)f->start);
			r32(&r, f->frag_idx);
			r32(&r, f->frag_off);
			r32(&r, (uint32_t)f->size);
		}
		for (uint32_t b = 0; b < f->nblocks; b++)
			r32(&r, f->blocks[b]);
		break;
	case T_SYMLINK: {
		const char *t = ino->target ? ino->target : "";
		size_t tl = strlen(t);
		r32(&r, ino->nlink);
		r32(&r, (uint32_t)tl);
		i2k_buf_append(&r.b, t, tl, NULL);
		if (ext)
			r32(&r, xattr);
		break;
	}
	case T_BLK:
	case T_CHR:
		r32(&r, ino->nlink);
		r32(&r, (ino->rdev_minor & 0xff) | (ino->rdev_major << 8) |
			    ((ino->rdev_minor & ~0xffu) << 12));
		if (ext)
			r32(&r, xattr);
		break;
	default:
		r32(&r, ino->nlink);
		if (ext)
			r32(&r, xattr);
	}
	w->iref[ino->ino - 1] = i2k_sqfs_meta_ref(&w->itab);
	int rc = i2k_sqfs_meta_add(&w->itab, r.b.data, r.b.len, err);
	i2k_buf_free(&r.b);
	return rc;
}

static int write_dir(struct wr *w, uint32_t d, struct i2k_error **err)
{
	const struct node *n = &w->nodes[d];
	for (uint32_t k = 0; k < n->nchild; k++) {
		uint32_t c = w->kids[n->child0 + k];
		const struct i2k_inode *ci = w->nodes[c].inode;
		if (S_ISDIR(ci->mode)) {
			if (write_dir(w, c, err) < 0)
				return -1;
		} else if (w->iref[ci->ino - 1] == UINT64_MAX) {
			if (write_inode(w, c, NULL, err) < 0)
				return -1;
		}
	}
	_cleanup_free_ struct i2k_sqfs_dirent *ents =
	    i2k_xcalloc(n->nchild ? n->nchild : 1, sizeof(*ents));
	for (uint32_t k = 0; k < n->nchild; k++) {
		const struct node *c = &w->nodes[w->kids[n->child0 + k]];
		ents[k] = (struct i2k_sqfs_dirent){.name = c->name,
						   .inode_ref = w->iref[c->inode->ino - 1],
						   .ino = (uint32_t)c->inode->ino,
						   .type = basic_type(c->inode->mode)};
	}
	struct i2k_sqfs_dirinfo di;
	if (i2k_sqfs_dir_write(&w->dtab, ents, n->nchild, &di, err) < 0)
		return -1;
	int r = write_inode(w, d, &di, err);
	i2k_buf_free(&di.index);
	return r;
}

static int write_data(struct wr *w, struct i2k_error **err)
{
	for (size_t i = 0; i < w->n; i++) {
		struct i2k_inode *ino = w->nodes[i].inode;
		if (!S_ISREG(ino->mode) || w->file_id[ino->ino - 1] != UINT32_MAX)
			continue;
		if (i2k_sqfs_data_add(w->data, w->tree, ino, &w->file_id[ino->ino - 1], err) < 0) {
			_cleanup_free_ char *path = node_path(w, (uint32_t)i);
			return i2k_error_wrap(err, "%s", path);
		}
	}
	return 0;
}

static int write_blob(struct wr *w, uint64_t *pos, const struct i2k_buf *b, struct i2k_error **err)
{
	if (b->len > 0 && i2k_sink_write_at(w->out, *pos, b->data, b->len, err) < 0)
		return -1;
	*pos += b->len;
	return 0;
}

static int do_write(struct wr *w, const struct i2k_squashfs_opts *o, uint64_t *bytes_used,
		    struct i2k_error **err)
{
	uint32_t bs = o->block_size ? o->block_size : I2K_SQUASHFS_DEFAULT_BLOCK_SIZE;
	if (bs < 4096 || bs > (1u << 20) || (bs & (bs - 1)) != 0)
		return i2k_error_set(
		    err, I2K_ERR_USAGE,
		    "block size %" PRIu32 " is not a power of two between 4096 and 1048576", bs);
	int level = 0;
	if (i2k_sqfs_comp_check(o->compression, o->level, &level, err) < 0)
		return -1;
	if (i2k_sqfs_comp_init(&w->comp, o->compression, level, err) < 0)
		return -1;
	i2k_sqfs_meta_init(&w->itab, &w->comp, "inode table", UINT32_MAX);
	i2k_sqfs_meta_init(&w->dtab, &w->comp, "directory table", UINT32_MAX);
	w->xattrs = i2k_sqfs_xattrs_new(&w->comp);

	/* The tree, in sorted pre-order. */
	i2k_fstree_finalize(w->tree);
	if (i2k_fstree_walk(w->tree, true, collect, w) != 0) {
		i2k_error_propagate(err, &w->walk_err);
		return -1;
	}
	link_children(w);
	w->file_id = i2k_xmalloc(w->ninodes * sizeof(*w->file_id));
	memset(w->file_id, 0xff, w->ninodes * sizeof(*w->file_id));
	w->iref = i2k_xmalloc(w->ninodes * sizeof(*w->iref));
	memset(w->iref, 0xff, w->ninodes * sizeof(*w->iref));

	/* Superblock (last), compressor options, data. */
	uint16_t flags = o->no_fragments ? F_NO_FRAGS : F_ALWAYS_FRAGS;
	uint64_t pos = SB_SIZE;
	uint8_t opts[8] = {0};
	size_t opts_len = 0;
	if (o->compression == I2K_COMPRESS_GZIP && level != I2K_SQFS_GZIP_DEFAULT_LEVEL) {
		i2k_sqfs_put32(opts, (uint32_t)level);
		i2k_sqfs_put16(opts + 4, 15); /* window bits */
		opts_len = 8;		      /* strategies 0: zlib's default */
	} else if (o->compression == I2K_COMPRESS_ZSTD && level != I2K_SQFS_ZSTD_DEFAULT_LEVEL) {
		i2k_sqfs_put32(opts, (uint32_t)level);
		opts_len = 4;
	} else if (o->compression == I2K_COMPRESS_NONE) {
		flags |= F_NOI | F_NOD | F_NOF | F_NOX | F_NOID;
	}
	if (opts_len > 0) {
		uint8_t blk[10];
		i2k_sqfs_put16(blk, (uint16_t)(opts_len | I2K_SQFS_META_UNCOMPRESSED));
		memcpy(blk + 2, opts, opts_len);
		if (i2k_sink_write_at(w->out, pos, blk, opts_len + 2, err) < 0)
			return -1;
		pos += opts_len + 2;
		flags |= F_COMP_OPTS;
	}
	struct i2k_sqfs_data_opts dopts = {.kind = o->compression,
					   .level = level,
					   .block_size = bs,
					   .no_fragments = o->no_fragments,
					   .threads = o->threads > 0 ? o->threads : i2k_ncpus()};
	if (i2k_sqfs_data_new(&dopts, w->out, pos, &w->data, err) < 0 || write_data(w, err) < 0 ||
	    i2k_sqfs_data_finish(w->data, &pos, err) < 0)
		return -1;

	/* Inodes bottom-up with the directory listings. */
	if (write_dir(w, 0, err) < 0)
		return -1;
	uint64_t root_ref = w->iref[w->nodes[0].inode->ino - 1];
	if (i2k_sqfs_meta_flush(&w->itab, err) < 0 || i2k_sqfs_meta_flush(&w->dtab, err) < 0)
		return -1;
	uint64_t inode_start = pos;
	if (write_blob(w, &pos, &w->itab.out, err) < 0)
		return -1;
	uint64_t dir_start = pos;
	if (write_blob(w, &pos, &w->dtab.out, err) < 0)
		return -1;

	/* Lookup tables: fragments, ids, xattrs (the kernel wants this order,
	 * with the xattr id table ending the image). */
	uint32_t nfrags = 0;
	const uint8_t *frags = i2k_sqfs_data_fragments(w->data, &nfrags);
	uint64_t frag_start = INVALID_BLK;
	if (nfrags > 0 && i2k_sqfs_meta_write_table(w->out, &w->comp, &pos, frags,
						    (size_t)nfrags * 16, &frag_start, err) < 0)
		return -1;
	_cleanup_free_ uint8_t *ids = i2k_xmalloc((size_t)w->nids * 4 + 1);
	for (uint32_t i = 0; i < w->nids; i++)
		i2k_sqfs_put32(ids + 4 * i, w->ids[i]);
	uint64_t id_start = 0;
	if (i2k_sqfs_meta_write_table(w->out, &w->comp, &pos, ids, (size_t)w->nids * 4, &id_start,
				      err) < 0)
		return -1;
	uint64_t xattr_start = INVALID_BLK;
	if (i2k_sqfs_xattrs_count(w->xattrs) == 0)
		flags |= F_NO_XATTRS;
	else if (i2k_sqfs_xattrs_write(w->xattrs, w->out, &pos, &xattr_start, err) < 0)
		return -1;

	uint8_t sb[SB_SIZE] = {0};
	i2k_sqfs_put32(sb, SQFS_MAGIC);
	i2k_sqfs_put32(sb + 4, (uint32_t)w->ninodes);
	i2k_sqfs_put32(sb + 8, o->mtime < 0	       ? 0
			       : o->mtime > UINT32_MAX ? UINT32_MAX
						       : (uint32_t)o->mtime);
	i2k_sqfs_put32(sb + 12, bs);
	i2k_sqfs_put32(sb + 16, nfrags);
	i2k_sqfs_put16(sb + 20, o->compression == I2K_COMPRESS_ZSTD ? 6 : 1);
	i2k_sqfs_put16(sb + 22, (uint16_t)__builtin_ctz(bs));
	i2k_sqfs_put16(sb + 24, flags);
	i2k_sqfs_put16(sb + 26, (uint16_t)w->nids);
	i2k_sqfs_put16(sb + 28, 4);
	i2k_sqfs_put16(sb + 30, 0);
	i2k_sqfs_put64(sb + 32, root_ref);
	i2k_sqfs_put64(sb + 40, pos);
	i2k_sqfs_put64(sb + 48, id_start);
	i2k_sqfs_put64(sb + 56, xattr_start);
	i2k_sqfs_put64(sb + 64, inode_start);
	i2k_sqfs_put64(sb + 72, dir_start);
	i2k_sqfs_put64(sb + 80, frag_start);
	i2k_sqfs_put64(sb + 88, INVALID_BLK); /* no export table */
	if (i2k_sink_write_at(w->out, 0, sb, sizeof(sb), err) < 0)
		return -1;
	uint64_t padded = (pos + 4095) & ~(uint64_t)4095;
	if (padded > pos && i2k_sink_zero(w->out, pos, padded - pos, err) < 0)
		return -1;
	*bytes_used = padded;
	return 0;
}

int i2k_squashfs_write(struct i2k_fstree *tree, const struct i2k_squashfs_opts *o,
		       struct i2k_sink *out, uint64_t *bytes_used, struct i2k_error **err)
{
	static const struct i2k_squashfs_opts defaults = {0};
	struct wr w = {.tree = tree, .out = out};
	int r = do_write(&w, o ? o : &defaults, bytes_used, err);
	wr_release(&w);
	if (r < 0)
		return i2k_error_wrap(err, "squashfs");
	return 0;
}
