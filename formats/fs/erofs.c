/* erofs.c — the EROFS writer (see erofs.h): collects the tree, plans the
 * layout (inode sizes → nids → data blocks), then writes the data blocks,
 * the inodes with their xattrs and inline tails, and the superblock. */
#include "formats/fs/erofs.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

#define BS I2K_EROFS_BLOCK_SIZE
#define BLKBITS 12
#define SB_OFF 1024u
#define SB_SIZE 128u
#define EROFS_MAGIC 0xE0F5E1E2u
#define ISIZE_COMPACT 32u
#define ISIZE_EXTENDED 64u
#define XATTR_HDR 12u
#define DIRENT 12u
#define NAME_MAX_LEN 255u
#define XATTR_MAX_BODY (XATTR_HDR + 4u * 65534u) /* i_xattr_icount is 16 bits */
#define COPY_CHUNK (1u << 20)

enum { LAYOUT_FLAT_PLAIN = 0, LAYOUT_FLAT_INLINE = 2 };
enum { FT_UNKNOWN, FT_REG, FT_DIR, FT_CHR, FT_BLK, FT_FIFO, FT_SOCK, FT_LNK };

struct dent {
	char *name; /* owned */
	uint32_t node;
};

struct node {
	struct i2k_inode *ino;
	char *path;	 /* first path, for messages (owned) */
	uint32_t parent; /* directories: the parent's node ("..") */
	struct dent *kids;
	size_t nkids, kcap;
	/* plan */
	uint64_t size;	  /* i_size */
	uint32_t isize;	  /* 32 or 64 */
	uint32_t xsize;	  /* inline xattr body bytes (0 or 12 + entries) */
	uint32_t tail;	  /* inline tail bytes (FLAT_INLINE), 0 for FLAT_PLAIN */
	uint32_t nblocks; /* blocks in the data area */
	uint32_t blkaddr;
	uint64_t nid;
	bool *xkeep; /* per xattr: stored (NULL: none stored) */
};

struct wr {
	struct i2k_fstree *tree;
	struct i2k_sink *out;
	const struct i2k_erofs_opts *o;
	struct node *nodes;
	size_t n, cap;
	uint32_t *stack; /* walk: node index per depth */
	size_t stack_cap;
	struct i2k_error *walk_err;
	uint32_t blocks; /* total */
};

static void wr_release(struct wr *w)
{
	for (size_t i = 0; i < w->n; i++) {
		struct node *nd = &w->nodes[i];
		for (size_t k = 0; k < nd->nkids; k++)
			free(nd->kids[k].name);
		free(nd->kids);
		free(nd->path);
		free(nd->xkeep);
	}
	free(w->nodes);
	free(w->stack);
	i2k_error_free(w->walk_err);
}

/* ---- collecting the tree ------------------------------------------------------ */

static int collect(const struct i2k_walk_entry *e, void *ctx)
{
	struct wr *w = ctx;
	uint32_t idx;
	if (e->first) {
		if (e->inode->ino != w->n + 1)
			return i2k_error_set(&w->walk_err, I2K_ERR_INTERNAL,
					     "/%s: inode number %" PRIu64 " out of walk order",
					     e->path, e->inode->ino);
		i2k_xgrow((void **)&w->nodes, &w->cap, w->n + 1, sizeof(*w->nodes));
		idx = (uint32_t)w->n++;
		w->nodes[idx] = (struct node){.ino = e->inode, .path = i2k_xstrdup(e->path)};
	} else {
		if (e->inode->ino == 0 || e->inode->ino > w->n)
			return i2k_error_set(&w->walk_err, I2K_ERR_INTERNAL,
					     "/%s: hard link to an unseen inode", e->path);
		idx = (uint32_t)(e->inode->ino - 1);
	}
	if (e->depth > 0) {
		if (strlen(e->name) > NAME_MAX_LEN)
			return i2k_error_set(&w->walk_err, I2K_ERR_UNSUPPORTED,
					     "/%s: name of %zu bytes (EROFS allows at most %u)",
					     e->path, strlen(e->name), NAME_MAX_LEN);
		struct node *p = &w->nodes[w->stack[e->depth - 1]];
		i2k_xgrow((void **)&p->kids, &p->kcap, p->nkids + 1, sizeof(*p->kids));
		p->kids[p->nkids++] = (struct dent){i2k_xstrdup(e->name), idx};
		if (e->first && S_ISDIR(e->inode->mode))
			w->nodes[idx].parent = w->stack[e->depth - 1];
	}
	if (S_ISDIR(e->inode->mode)) {
		i2k_xgrow((void **)&w->stack, &w->stack_cap, e->depth + 1, sizeof(*w->stack));
		w->stack[e->depth] = idx;
	}
	return 0;
}

/* ---- xattrs ------------------------------------------------------------------- */

struct xprefix {
	const char *prefix;
	uint8_t index;
	bool whole; /* the name is the prefix itself (POSIX ACLs) */
};
static const struct xprefix xprefixes[] = {
    {"user.", 1, false},
    {"system.posix_acl_access", 2, true},
    {"system.posix_acl_default", 3, true},
    {"trusted.", 4, false},
    {"security.", 6, false},
};

/* The name index and suffix of an xattr name; false when EROFS (without
 * long prefixes) cannot store it. */
static bool xattr_index(const char *name, uint8_t *index, const char **suffix)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(xprefixes); i++) {
		const struct xprefix *x = &xprefixes[i];
		size_t l = strlen(x->prefix);
		if (x->whole ? strcmp(name, x->prefix) == 0 : strncmp(name, x->prefix, l) == 0) {
			*index = x->index;
			*suffix = name + l;
			return true;
		}
	}
	return false;
}

static uint32_t xentry_size(const char *suffix, size_t vlen)
{
	return (uint32_t)((4 + strlen(suffix) + vlen + 3) & ~(size_t)3);
}

/* Decides which xattrs of nd are stored and sets nd->xsize. */
static int plan_xattrs(struct node *nd, struct i2k_error **err)
{
	const struct i2k_inode *ino = nd->ino;
	uint64_t body = 0;
	for (size_t i = 0; i < ino->nxattrs; i++) {
		const struct i2k_xattr *x = &ino->xattrs[i];
		uint8_t index;
		const char *suffix;
		if (!xattr_index(x->name, &index, &suffix)) {
			i2k_warn("erofs: /%s: extended attribute %s skipped (EROFS stores only "
				 "user., trusted., security. and POSIX ACL attributes)",
				 nd->path, x->name);
			continue;
		}
		if (x->len > 65535) {
			i2k_warn("erofs: /%s: extended attribute %s skipped (value of %zu bytes, "
				 "at most 65535)",
				 nd->path, x->name, x->len);
			continue;
		}
		if (strlen(suffix) > 255) {
			i2k_warn("erofs: /%s: extended attribute %s skipped (name of %zu bytes "
				 "after its prefix, at most 255)",
				 nd->path, x->name, strlen(suffix));
			continue;
		}
		if (!nd->xkeep)
			nd->xkeep = i2k_xcalloc(ino->nxattrs, sizeof(bool));
		nd->xkeep[i] = true;
		body += xentry_size(suffix, x->len);
	}
	if (body == 0)
		return 0;
	body += XATTR_HDR;
	if (body > XATTR_MAX_BODY)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "/%s: xattrs of %" PRIu64 " bytes do not fit in an inode",
				     nd->path, body);
	nd->xsize = (uint32_t)body;
	return 0;
}

static void write_xattrs(const struct node *nd, uint8_t *p)
{
	if (nd->xsize == 0)
		return;
	memset(p, 0, XATTR_HDR); /* name filter 0, no shared xattrs */
	size_t at = XATTR_HDR;
	for (size_t i = 0; i < nd->ino->nxattrs; i++) {
		if (!nd->xkeep[i])
			continue;
		const struct i2k_xattr *x = &nd->ino->xattrs[i];
		uint8_t index = 0;
		const char *suffix = "";
		xattr_index(x->name, &index, &suffix);
		size_t sl = strlen(suffix);
		uint32_t es = xentry_size(suffix, x->len);
		memset(p + at, 0, es);
		p[at] = (uint8_t)sl;
		p[at + 1] = index;
		i2k_put_le16(p + at + 2, (uint16_t)x->len);
		memcpy(p + at + 4, suffix, sl);
		if (x->len)
			memcpy(p + at + 4 + sl, x->value, x->len);
		at += es;
	}
}

/* ---- directories ---------------------------------------------------------------- */

struct dslot {
	const char *name;
	size_t len;
	uint32_t node;
};

static int dslot_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dslot *)a)->name, ((const struct dslot *)b)->name);
}

/* "." and ".." and the children of directory node idx, sorted bytewise.
 * Returns the count; *out is the caller's. */
static size_t dir_slots(const struct wr *w, uint32_t idx, struct dslot **out)
{
	const struct node *nd = &w->nodes[idx];
	size_t n = nd->nkids + 2;
	struct dslot *s = i2k_xcalloc(n, sizeof(*s));
	s[0] = (struct dslot){".", 1, idx};
	s[1] = (struct dslot){"..", 2, nd->parent};
	for (size_t i = 0; i < nd->nkids; i++)
		s[i + 2] =
		    (struct dslot){nd->kids[i].name, strlen(nd->kids[i].name), nd->kids[i].node};
	qsort(s, n, sizeof(*s), dslot_cmp);
	*out = s;
	return n;
}

static uint8_t file_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return FT_REG;
	case S_IFDIR:
		return FT_DIR;
	case S_IFCHR:
		return FT_CHR;
	case S_IFBLK:
		return FT_BLK;
	case S_IFIFO:
		return FT_FIFO;
	case S_IFSOCK:
		return FT_SOCK;
	case S_IFLNK:
		return FT_LNK;
	default:
		return FT_UNKNOWN;
	}
}

/* Lays the directory's entries out in blocks: returns its exact size and,
 * when buf != NULL (ceil(size / BS) * BS bytes, zeroed), fills it. Each
 * block holds its dirents (12 bytes each) and then their names; a block
 * is full when the next entry would not fit. */
static uint64_t dir_layout(const struct wr *w, const struct dslot *s, size_t n, uint8_t *buf)
{
	uint64_t blk = 0;
	size_t i = 0;
	uint32_t used = 0;
	while (i < n) {
		size_t first = i;
		used = 0;
		while (i < n && used + DIRENT + s[i].len <= BS) {
			used += (uint32_t)(DIRENT + s[i].len);
			i++;
		}
		if (buf) {
			uint8_t *b = buf + blk * BS;
			uint32_t nameoff = (uint32_t)((i - first) * DIRENT);
			for (size_t k = first; k < i; k++) {
				uint8_t *d = b + (k - first) * DIRENT;
				const struct node *t = &w->nodes[s[k].node];
				i2k_put_le64(d, t->nid);
				i2k_put_le16(d + 8, (uint16_t)nameoff);
				d[10] = file_type(t->ino->mode);
				d[11] = 0;
				memcpy(b + nameoff, s[k].name, s[k].len);
				nameoff += (uint32_t)s[k].len;
			}
		}
		blk++;
	}
	return (blk - 1) * BS + used;
}

/* ---- planning -------------------------------------------------------------------- */

/* Where inodes go: the blocks of the metadata area that still have room
 * (at most NOPEN, the oldest closed first); an inode takes the first one
 * it fits in (first fit), else a new block. Deterministic: it depends only
 * on the sizes in walk order. */
#define NOPEN 16
struct metapack {
	uint64_t next; /* first block not yet in the metadata area */
	struct {
		uint64_t blk;
		uint32_t used;
	} open[NOPEN];
	size_t nopen;
};

/* Reserves need bytes (a multiple of 32); returns their byte offset. */
static uint64_t meta_place(struct metapack *mp, uint64_t need)
{
	if (need > BS) { /* a run of whole blocks; its last one stays open */
		uint64_t at = mp->next * BS;
		mp->next += (need + BS - 1) / BS;
		if (need % BS && mp->nopen < NOPEN) {
			mp->open[mp->nopen].blk = mp->next - 1;
			mp->open[mp->nopen++].used = (uint32_t)(need % BS);
		}
		return at;
	}
	for (size_t i = 0; i < mp->nopen; i++) {
		if (BS - mp->open[i].used < need)
			continue;
		uint64_t at = mp->open[i].blk * BS + mp->open[i].used;
		mp->open[i].used += (uint32_t)need;
		if (BS - mp->open[i].used < 32) { /* full: close it */
			memmove(&mp->open[i], &mp->open[i + 1],
				(mp->nopen - i - 1) * sizeof(mp->open[0]));
			mp->nopen--;
		}
		return at;
	}
	if (mp->nopen == NOPEN) { /* close the oldest */
		memmove(&mp->open[0], &mp->open[1], (NOPEN - 1) * sizeof(mp->open[0]));
		mp->nopen--;
	}
	uint64_t blk = mp->next++;
	mp->open[mp->nopen].blk = blk;
	mp->open[mp->nopen++].used = (uint32_t)need;
	return blk * BS;
}

static bool needs_extended(const struct wr *w, const struct node *nd)
{
	const struct i2k_inode *i = nd->ino;
	return i->uid > 0xffff || i->gid > 0xffff || i->nlink > 0xffff || nd->size > UINT32_MAX ||
	       i->mtime != w->o->mtime || i->mtime_ns != 0;
}

static int plan(struct wr *w, struct i2k_error **err)
{
	/* sizes and xattrs */
	for (size_t k = 0; k < w->n; k++) {
		struct node *nd = &w->nodes[k];
		uint32_t mode = nd->ino->mode;
		if (S_ISREG(mode)) {
			nd->size = nd->ino->size;
		} else if (S_ISLNK(mode)) {
			nd->size = nd->ino->target ? strlen(nd->ino->target) : 0;
		} else if (S_ISDIR(mode)) {
			_cleanup_free_ struct dslot *s = NULL;
			size_t ns = dir_slots(w, (uint32_t)k, &s);
			nd->size = dir_layout(w, s, ns, NULL);
		}
		if ((S_ISCHR(mode) || S_ISBLK(mode)) &&
		    (nd->ino->rdev_major >= 4096 || nd->ino->rdev_minor >= (1u << 20)))
			return i2k_error_set(
			    err, I2K_ERR_UNSUPPORTED,
			    "/%s: device %u:%u does not fit (major < 4096, minor < "
			    "1048576)",
			    nd->path, nd->ino->rdev_major, nd->ino->rdev_minor);
		if (plan_xattrs(nd, err) < 0)
			return -1;
		nd->isize = needs_extended(w, nd) ? ISIZE_EXTENDED : ISIZE_COMPACT;
	}
	/* nids: inodes from byte 1152 of block 0 on, 32-byte aligned; an
	 * inode's metadata (with its inline tail) stays within one block */
	struct metapack mp = {.next = 1, .open = {{0, SB_OFF + SB_SIZE}}, .nopen = 1};
	for (size_t k = 0; k < w->n; k++) {
		struct node *nd = &w->nodes[k];
		uint64_t meta = nd->isize + nd->xsize;
		uint32_t tail = (uint32_t)(nd->size % BS);
		nd->tail = 0;
		if (tail && meta + tail <= BS) { /* FLAT_INLINE */
			nd->tail = tail;
			meta += tail;
		}
		nd->nid = meta_place(&mp, (meta + 31) & ~(uint64_t)31) / 32;
		uint64_t data = nd->size - nd->tail; /* a multiple of BS unless plain */
		uint64_t nb = (data + BS - 1) / BS;
		if (nb > UINT32_MAX)
			return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					     "/%s: file of %" PRIu64 " bytes is too large",
					     nd->path, nd->size);
		nd->nblocks = (uint32_t)nb;
	}
	if (w->nodes[0].nid > 0xffff)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "root nid %" PRIu64 " out of range",
				     w->nodes[0].nid);
	uint64_t next = mp.next;
	for (size_t k = 0; k < w->n; k++) {
		struct node *nd = &w->nodes[k];
		if (nd->nblocks == 0)
			continue;
		if (next + nd->nblocks > UINT32_MAX)
			return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					     "image of more than %u blocks is too large",
					     UINT32_MAX);
		nd->blkaddr = (uint32_t)next;
		next += nd->nblocks;
	}
	w->blocks = (uint32_t)next;
	return 0;
}

static int collect_and_plan(struct wr *w, struct i2k_fstree *tree, const struct i2k_erofs_opts *o,
			    struct i2k_error **err)
{
	if (o->label && strlen(o->label) > 16)
		return i2k_error_set(err, I2K_ERR_USAGE, "label \"%s\" is longer than 16 bytes",
				     o->label);
	if (o->mtime < 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "negative build time %" PRId64, o->mtime);
	w->tree = tree;
	w->o = o;
	i2k_fstree_finalize(tree);
	if (i2k_fstree_walk(tree, true, collect, w) != 0) {
		if (w->walk_err) {
			i2k_error_propagate(err, &w->walk_err);
			return -1;
		}
		return i2k_error_set(err, I2K_ERR_INTERNAL, "tree walk failed");
	}
	if (w->n == 0 || !S_ISDIR(w->nodes[0].ino->mode))
		return i2k_error_set(err, I2K_ERR_INTERNAL, "the tree has no root directory");
	w->nodes[0].parent = 0;
	return plan(w, err);
}

/* ---- writing ---------------------------------------------------------------------- */

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Writes len bytes at off, leaving all-zero 4 KiB blocks unwritten (the
 * sink reads them as zeros). off is block-aligned. */
static int write_sparse(struct wr *w, uint64_t off, const uint8_t *p, size_t len,
			struct i2k_error **err)
{
	size_t i = 0;
	while (i < len) {
		size_t n = len - i < BS ? len - i : BS;
		if (!all_zero(p + i, n)) {
			size_t j = i + n; /* extend over following non-zero blocks */
			while (j < len) {
				size_t m = len - j < BS ? len - j : BS;
				if (all_zero(p + j, m))
					break;
				j += m;
			}
			if (i2k_sink_write_at(w->out, off + i, p + i, j - i, err) < 0)
				return -1;
			i = j;
		} else {
			i += n;
		}
	}
	return 0;
}

/* The full blocks of a regular file, from the tree. */
static int write_file_blocks(struct wr *w, const struct node *nd, uint8_t *buf,
			     struct i2k_error **err)
{
	uint64_t len = nd->size - nd->tail, off = 0, at = (uint64_t)nd->blkaddr * BS;
	while (off < len) {
		size_t n = len - off < COPY_CHUNK ? (size_t)(len - off) : COPY_CHUNK;
		if (i2k_fstree_read(w->tree, nd->ino, off, buf, n, err) < 0)
			return i2k_error_wrap(err, "/%s", nd->path);
		if (write_sparse(w, at + off, buf, n, err) < 0)
			return -1;
		off += n;
	}
	return 0;
}

static void put_inode(const struct node *nd, uint8_t *p)
{
	const struct i2k_inode *i = nd->ino;
	uint16_t layout = nd->tail ? LAYOUT_FLAT_INLINE : LAYOUT_FLAT_PLAIN;
	uint16_t format = (uint16_t)((nd->isize == ISIZE_EXTENDED ? 1 : 0) | layout << 1);
	uint16_t icount = nd->xsize ? (uint16_t)((nd->xsize - XATTR_HDR) / 4 + 1) : 0;
	uint32_t u = nd->blkaddr;
	if (S_ISCHR(i->mode) || S_ISBLK(i->mode))
		u = (i->rdev_minor & 0xff) | (i->rdev_major << 8) |
		    ((i->rdev_minor & ~0xffu) << 12);
	else if (!S_ISREG(i->mode) && !S_ISDIR(i->mode) && !S_ISLNK(i->mode))
		u = 0;
	memset(p, 0, nd->isize);
	i2k_put_le16(p, format);
	i2k_put_le16(p + 2, icount);
	i2k_put_le16(p + 4, (uint16_t)i->mode);
	if (nd->isize == ISIZE_COMPACT) {
		i2k_put_le16(p + 6, (uint16_t)i->nlink);
		i2k_put_le32(p + 8, (uint32_t)nd->size);
		i2k_put_le32(p + 16, u);
		i2k_put_le32(p + 20, (uint32_t)i->ino);
		i2k_put_le16(p + 24, (uint16_t)i->uid);
		i2k_put_le16(p + 26, (uint16_t)i->gid);
	} else {
		i2k_put_le64(p + 8, nd->size);
		i2k_put_le32(p + 16, u);
		i2k_put_le32(p + 20, (uint32_t)i->ino);
		i2k_put_le32(p + 24, i->uid);
		i2k_put_le32(p + 28, i->gid);
		i2k_put_le64(p + 32, (uint64_t)i->mtime);
		i2k_put_le32(p + 40, i->mtime_ns);
		i2k_put_le32(p + 44, i->nlink);
	}
}

/* One inode: its data blocks, then its metadata (inode, xattrs, tail). */
static int write_node(struct wr *w, uint32_t k, uint8_t *buf, struct i2k_error **err)
{
	const struct node *nd = &w->nodes[k];
	uint32_t mode = nd->ino->mode;
	uint64_t meta = nd->isize + nd->xsize + nd->tail;
	_cleanup_free_ uint8_t *m = i2k_xcalloc(1, meta);
	put_inode(nd, m);
	write_xattrs(nd, m + nd->isize);
	uint8_t *tail = m + nd->isize + nd->xsize;
	if (S_ISREG(mode)) {
		if (nd->nblocks && write_file_blocks(w, nd, buf, err) < 0)
			return -1;
		if (nd->tail &&
		    i2k_fstree_read(w->tree, nd->ino, nd->size - nd->tail, tail, nd->tail, err) < 0)
			return i2k_error_wrap(err, "/%s", nd->path);
	} else if (S_ISDIR(mode)) {
		_cleanup_free_ struct dslot *s = NULL;
		size_t ns = dir_slots(w, k, &s);
		uint64_t nb = (nd->size + BS - 1) / BS;
		_cleanup_free_ uint8_t *d = i2k_xcalloc(nb, BS);
		dir_layout(w, s, ns, d);
		if (nd->nblocks && write_sparse(w, (uint64_t)nd->blkaddr * BS, d,
						(size_t)nd->nblocks * BS, err) < 0)
			return -1;
		memcpy(tail, d + (nb - 1) * BS, nd->tail);
	} else if (S_ISLNK(mode) && nd->size) {
		if (nd->tail)
			memcpy(tail, nd->ino->target, nd->tail);
		else if (i2k_sink_write_at(w->out, (uint64_t)nd->blkaddr * BS, nd->ino->target,
					   nd->size, err) < 0)
			return -1;
	}
	return i2k_sink_write_at(w->out, nd->nid * 32, m, meta, err);
}

static void put_super(const struct wr *w, uint8_t *sb)
{
	memset(sb, 0, SB_SIZE);
	i2k_put_le32(sb, EROFS_MAGIC);
	sb[12] = BLKBITS;
	i2k_put_le16(sb + 14, (uint16_t)w->nodes[0].nid);
	i2k_put_le64(sb + 16, w->n);
	i2k_put_le64(sb + 24, (uint64_t)w->o->mtime);
	i2k_put_le32(sb + 36, w->blocks);
	/* meta_blkaddr (40) and xattr_blkaddr (44) are 0 */
	struct i2k_sha256 *h = i2k_sha256_new();
	static const char tag[] = "i2kit erofs uuid\n";
	i2k_sha256_update(h, tag, strlen(tag));
	i2k_sha256_update(h, w->o->uuid_seed, 32);
	uint8_t d[32];
	i2k_sha256_final_raw(h, d);
	i2k_sha256_free(h);
	d[6] = (uint8_t)((d[6] & 0x0f) | 0x40);
	d[8] = (uint8_t)((d[8] & 0x3f) | 0x80);
	memcpy(sb + 48, d, 16);
	if (w->o->label)
		memcpy(sb + 64, w->o->label, strlen(w->o->label));
	/* feature_incompat (80) 0 */
}

static int write_all(struct wr *w, struct i2k_error **err)
{
	/* the image spans every block, even when its last ones are holes */
	uint64_t end = (uint64_t)w->blocks * BS;
	if (end > w->out->size)
		return i2k_error_set(err, I2K_ERR_IO,
				     "image of %" PRIu64 " bytes does not fit in %s (%" PRIu64
				     " bytes)",
				     end, w->out->name ? w->out->name : "the sink", w->out->size);
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(COPY_CHUNK);
	for (uint32_t k = 0; k < w->n; k++)
		if (write_node(w, k, buf, err) < 0)
			return -1;
	uint8_t sb[SB_SIZE];
	put_super(w, sb);
	if (i2k_sink_write_at(w->out, SB_OFF, sb, SB_SIZE, err) < 0)
		return -1;
	return 0;
}

int i2k_erofs_write(struct i2k_fstree *tree, const struct i2k_erofs_opts *o, struct i2k_sink *out,
		    uint64_t *bytes, struct i2k_error **err)
{
	static const struct i2k_erofs_opts defaults = {0};
	struct wr w = {.out = out};
	int r = collect_and_plan(&w, tree, o ? o : &defaults, err);
	if (r == 0)
		r = write_all(&w, err);
	if (r == 0 && bytes)
		*bytes = (uint64_t)w.blocks * BS;
	wr_release(&w);
	if (r < 0)
		return i2k_error_wrap(err, "erofs");
	return 0;
}

int i2k_erofs_size(struct i2k_fstree *tree, const struct i2k_erofs_opts *o, uint64_t *bytes,
		   struct i2k_error **err)
{
	static const struct i2k_erofs_opts defaults = {0};
	struct wr w = {0};
	int r = collect_and_plan(&w, tree, o ? o : &defaults, err);
	if (r == 0)
		*bytes = (uint64_t)w.blocks * BS;
	wr_release(&w);
	if (r < 0)
		return i2k_error_wrap(err, "erofs");
	return 0;
}
