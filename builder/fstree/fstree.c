/* fstree.c — see fstree.h.
 *
 * Each directory dentry owns a children table: an open-addressing hash
 * table (name → dentry) for O(1) lookup, plus a sorted array of the same
 * children built lazily when a walk needs it and dropped when the directory
 * changes. Inodes are reference counted (hard links, grafts).
 */
#include "builder/fstree/fstree.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/path.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/fstree/nodemem.h"

struct dir {
	struct i2k_dentry **slots; /* NULL = empty, TOMB = deleted */
	size_t cap;		   /* power of two (0 when no table yet) */
	size_t count;		   /* live children */
	size_t used;		   /* live + tombstones */
	struct i2k_dentry **sorted;
	size_t sorted_cap;
	bool sorted_ok;
};

struct i2k_dentry {
	struct i2k_inode *inode;
	struct i2k_dentry *parent;
	struct dir *dir; /* non-NULL iff the inode is a directory */
	uint32_t hash;
	uint32_t gen;
	uint32_t namelen;
	/* gen + 1 of the tree when i2k_fstree_graft_take() moved this entry
	 * in: what lies below counts as touched by that generation too (it
	 * keeps the gen it had in the source tree). 0: never moved. */
	uint32_t took;
	char name[]; /* NUL-terminated */
};

struct i2k_fstree {
	struct i2k_spool *spool;
	struct i2k_dentry *root;
	size_t count;
	int64_t mtime; /* for the root and directories made by MKPARENTS */
	uint32_t gen;
	bool view; /* i2k_fstree_view(): the root's children are borrowed */
	/* The inodes' ino and nlink are this tree's: it was finalized in epoch
	 * fin_epoch, has not changed since, and no other tree was finalized
	 * after it. Walks then skip the pass that looks for hard links. */
	bool numbered;
	uint32_t fin_epoch;
};

/* The epoch of the last i2k_fstree_finalize() (0: none yet). */
static uint32_t finalize_epoch;

static struct i2k_dentry tomb_marker;
#define TOMB (&tomb_marker)

/* ---- inodes ------------------------------------------------------------- */

static void xattrs_clear(struct i2k_inode *ino)
{
	for (size_t i = 0; i < ino->nxattrs; i++) {
		i2k_nodemem_free(ino->xattrs[i].name, strlen(ino->xattrs[i].name) + 1);
		i2k_nodemem_free(ino->xattrs[i].value, ino->xattrs[i].len);
	}
	i2k_nodemem_free(ino->xattrs, ino->nxattrs * sizeof(*ino->xattrs));
	ino->xattrs = NULL;
	ino->nxattrs = 0;
}

static void inode_unref(struct i2k_inode *ino)
{
	if (ino == NULL || --ino->refcnt > 0)
		return;
	if (ino->target)
		i2k_nodemem_free(ino->target, strlen(ino->target) + 1);
	xattrs_clear(ino);
	i2k_nodemem_free(ino, sizeof(*ino));
}

static void set_attrs(struct i2k_inode *ino, const struct i2k_fattr *a)
{
	ino->mode = a->mode;
	ino->uid = a->uid;
	ino->gid = a->gid;
	ino->mtime = a->mtime;
	ino->mtime_ns = a->mtime_ns;
	ino->rdev_major = a->rdev_major;
	ino->rdev_minor = a->rdev_minor;
}

static struct i2k_inode *inode_new(const struct i2k_fattr *a)
{
	struct i2k_inode *ino = i2k_nodemem_alloc(sizeof(*ino));
	set_attrs(ino, a);
	ino->refcnt = 1;
	return ino;
}

void i2k_inode_set_xattr(struct i2k_inode *ino, const char *name, const void *value, size_t len)
{
	size_t lo = 0, hi = ino->nxattrs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(ino->xattrs[mid].name, name);
		if (c == 0) {
			i2k_nodemem_free(ino->xattrs[mid].value, ino->xattrs[mid].len);
			ino->xattrs[mid].value = i2k_nodemem_memdup(value, len);
			ino->xattrs[mid].len = len;
			return;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	ino->xattrs = i2k_nodemem_realloc(ino->xattrs, ino->nxattrs * sizeof(*ino->xattrs),
					  (ino->nxattrs + 1) * sizeof(*ino->xattrs));
	memmove(&ino->xattrs[lo + 1], &ino->xattrs[lo], (ino->nxattrs - lo) * sizeof(*ino->xattrs));
	ino->xattrs[lo].name = i2k_nodemem_strdup(name);
	ino->xattrs[lo].value = i2k_nodemem_memdup(value, len);
	ino->xattrs[lo].len = len;
	ino->nxattrs++;
}

static void copy_xattrs(struct i2k_inode *dst, const struct i2k_inode *src)
{
	xattrs_clear(dst);
	for (size_t i = 0; i < src->nxattrs; i++)
		i2k_inode_set_xattr(dst, src->xattrs[i].name, src->xattrs[i].value,
				    src->xattrs[i].len);
}

static bool valid_type(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

/* ---- directory tables ------------------------------------------------------ */

static uint32_t name_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static struct i2k_dentry *dentry_new(const char *name, size_t len, struct i2k_inode *ino)
{
	struct i2k_dentry *d = i2k_nodemem_alloc(sizeof(*d) + len + 1);
	memcpy(d->name, name, len);
	d->name[len] = '\0';
	d->namelen = (uint32_t)len;
	d->hash = name_hash(name, len);
	d->inode = ino;
	if (S_ISDIR(ino->mode))
		d->dir = i2k_nodemem_alloc(sizeof(*d->dir));
	return d;
}

static struct i2k_dentry *dir_find(struct dir *dir, const char *name, size_t len)
{
	if (dir->cap == 0)
		return NULL;
	uint32_t h = name_hash(name, len);
	size_t mask = dir->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct i2k_dentry *d = dir->slots[i];
		if (d == NULL)
			return NULL;
		if (d != TOMB && d->hash == h && d->namelen == len &&
		    memcmp(d->name, name, len) == 0)
			return d;
	}
}

static void table_put(struct i2k_dentry **slots, size_t cap, struct i2k_dentry *d)
{
	size_t mask = cap - 1;
	size_t i = d->hash & mask;
	while (slots[i] != NULL && slots[i] != TOMB)
		i = (i + 1) & mask;
	slots[i] = d;
}

static void dir_insert(struct dir *dir, struct i2k_dentry *d)
{
	if ((dir->used + 1) * 4 > dir->cap * 3) {
		size_t ncap = 8;
		while (ncap * 3 < (dir->count + 1) * 4 * 2)
			ncap *= 2;
		i2k_nodemem_touch(dir->count);
		struct i2k_dentry **ns = i2k_nodemem_alloc(ncap * sizeof(*ns));
		for (size_t i = 0; i < dir->cap; i++)
			if (dir->slots[i] != NULL && dir->slots[i] != TOMB)
				table_put(ns, ncap, dir->slots[i]);
		i2k_nodemem_free(dir->slots, dir->cap * sizeof(*dir->slots));
		dir->slots = ns;
		dir->cap = ncap;
		dir->used = dir->count;
	}
	table_put(dir->slots, dir->cap, d);
	dir->count++;
	dir->used++;
	dir->sorted_ok = false;
}

static void dir_unlink(struct dir *dir, struct i2k_dentry *d)
{
	size_t mask = dir->cap - 1;
	for (size_t i = d->hash & mask;; i = (i + 1) & mask) {
		if (dir->slots[i] == d) {
			dir->slots[i] = TOMB;
			dir->count--;
			dir->sorted_ok = false;
			return;
		}
		if (dir->slots[i] == NULL)
			abort(); /* not a child: a bug */
	}
}

static int cmp_dentry(const void *a, const void *b)
{
	const struct i2k_dentry *x = *(struct i2k_dentry *const *)a;
	const struct i2k_dentry *y = *(struct i2k_dentry *const *)b;
	return strcmp(x->name, y->name);
}

/* Children sorted by name; valid until the directory changes. */
static struct i2k_dentry **dir_sorted(struct dir *dir)
{
	if (!dir->sorted_ok) {
		i2k_nodemem_touch(dir->count);
		if (dir->count > dir->sorted_cap) {
			size_t ncap = dir->sorted_cap ? dir->sorted_cap : 8;
			while (ncap < dir->count)
				ncap *= 2;
			i2k_nodemem_free(dir->sorted, dir->sorted_cap * sizeof(*dir->sorted));
			dir->sorted = i2k_nodemem_alloc(ncap * sizeof(*dir->sorted));
			dir->sorted_cap = ncap;
		}
		size_t n = 0;
		for (size_t i = 0; i < dir->cap; i++)
			if (dir->slots[i] != NULL && dir->slots[i] != TOMB)
				dir->sorted[n++] = dir->slots[i];
		if (n > 1)
			qsort(dir->sorted, n, sizeof(*dir->sorted), cmp_dentry);
		dir->sorted_ok = true;
	}
	return dir->sorted;
}

/* A private copy of the children (for loops that modify the directory). */
static struct i2k_dentry **dir_children_copy(struct dir *dir, size_t *n)
{
	struct i2k_dentry **v = i2k_xmalloc((dir->count ? dir->count : 1) * sizeof(*v));
	if (dir->count)
		memcpy(v, dir_sorted(dir), dir->count * sizeof(*v));
	*n = dir->count;
	return v;
}

/* Frees a directory table (not the children). */
static void dir_free(struct dir *dir)
{
	i2k_nodemem_free(dir->slots, dir->cap * sizeof(*dir->slots));
	i2k_nodemem_free(dir->sorted, dir->sorted_cap * sizeof(*dir->sorted));
	i2k_nodemem_free(dir, sizeof(*dir));
}

/* Frees one dentry (its dir table and children already gone). */
static void dentry_free_one(struct i2k_dentry *d)
{
	inode_unref(d->inode);
	i2k_nodemem_free(d, sizeof(*d) + d->namelen + 1);
}

/* Frees d and everything below it (d must already be unlinked). */
static void dentry_free(struct i2k_fstree *t, struct i2k_dentry *d)
{
	if (d->dir) {
		for (size_t i = 0; i < d->dir->cap; i++) {
			struct i2k_dentry *c = d->dir->slots[i];
			if (c != NULL && c != TOMB)
				dentry_free(t, c);
		}
		dir_free(d->dir);
	}
	if (t)
		t->count--;
	i2k_nodemem_touch(1);
	dentry_free_one(d);
}

static void dentry_remove(struct i2k_fstree *t, struct i2k_dentry *d)
{
	dir_unlink(d->parent->dir, d);
	dentry_free(t, d);
}

static void dentry_attach(struct i2k_fstree *t, struct i2k_dentry *parent, struct i2k_dentry *d)
{
	d->parent = parent;
	dir_insert(parent->dir, d);
	t->count++;
}

/* Marks d and its ancestors as touched by the current generation. */
static void mark_gen(struct i2k_fstree *t, struct i2k_dentry *d)
{
	for (; d && d->gen != t->gen; d = d->parent)
		d->gen = t->gen;
	/* ancestors of a dentry with the current gen already have it */
}

/* ---- paths ---------------------------------------------------------------- */

#define MAX_COMPS_INLINE 32

struct comp {
	size_t off, len; /* into path.norm */
};

struct path {
	char *norm; /* components joined by '/' */
	struct comp *c;
	size_t n;
};

static void path_clear(struct path *p)
{
	free(p->norm);
	free(p->c);
}

/* Splits path; "." and ".." components → I2K_ERR_HOSTILE. */
static int path_parse(const char *path, struct path *p, struct i2k_error **err)
{
	memset(p, 0, sizeof(*p));
	if (path == NULL)
		path = "";
	p->norm = i2k_xmalloc(strlen(path) + 1);
	struct i2k_path_info pi;
	i2k_path_normalise(path, p->norm, &pi);
	if (pi.bad) {
		int r = i2k_error_set(err, I2K_ERR_HOSTILE, "%s: invalid component \"%.*s\"", path,
				      (int)pi.badlen, pi.bad);
		path_clear(p);
		memset(p, 0, sizeof(*p));
		return r;
	}
	p->c = pi.ncomp ? i2k_xmalloc(pi.ncomp * sizeof(*p->c)) : NULL;
	for (size_t o = 0; p->n < pi.ncomp; p->n++) {
		const char *e = strchr(p->norm + o, '/');
		size_t len = e ? (size_t)(e - (p->norm + o)) : strlen(p->norm + o);
		p->c[p->n].off = o;
		p->c[p->n].len = len;
		o += len + 1;
	}
	return 0;
}

static const char *disp(const struct path *p)
{
	return p->n ? p->norm : "/";
}

enum walk_mode { W_STRICT, W_MKPARENTS, W_LOOKUP };

/* Walks the first `upto` components of p from the root; each must be a
 * directory. W_LOOKUP returns NULL quietly for anything missing; W_STRICT
 * and W_MKPARENTS set *err (symlink → HOSTILE). *missing tells a missing
 * component apart from a bad one. */
static struct i2k_dentry *walk_dirs(struct i2k_fstree *t, const struct path *p, size_t upto,
				    enum walk_mode mode, bool *missing, struct i2k_error **err)
{
	struct i2k_dentry *d = t->root;
	if (missing)
		*missing = false;
	for (size_t i = 0; i < upto; i++) {
		const char *name = p->norm + p->c[i].off;
		size_t len = p->c[i].len;
		size_t prefix = p->c[i].off + len;
		struct i2k_dentry *c = dir_find(d->dir, name, len);
		if (c == NULL) {
			if (mode == W_MKPARENTS) {
				struct i2k_fattr a = {.mode = S_IFDIR | 0755, .mtime = t->mtime};
				c = dentry_new(name, len, inode_new(&a));
				dentry_attach(t, d, c);
			} else {
				if (missing)
					*missing = true;
				if (mode == W_LOOKUP)
					return NULL;
				i2k_error_set(err, I2K_ERR_NOTFOUND,
					      "%s: parent directory \"%.*s\" does not exist",
					      p->norm, (int)prefix, p->norm);
				return NULL;
			}
		} else if (c->dir == NULL) {
			if (mode == W_LOOKUP)
				return NULL;
			if (S_ISLNK(c->inode->mode))
				i2k_error_set(err, I2K_ERR_HOSTILE,
					      "%s: component \"%.*s\" is a symlink", p->norm,
					      (int)prefix, p->norm);
			else
				i2k_error_set(err, I2K_ERR_CONFIG,
					      "%s: component \"%.*s\" is not a directory", p->norm,
					      (int)prefix, p->norm);
			return NULL;
		}
		d = c;
	}
	return d;
}

/* The dentry at p, or NULL (no error set) when absent. */
static struct i2k_dentry *find_dentry(struct i2k_fstree *t, const struct path *p)
{
	if (p->n == 0)
		return t->root;
	struct i2k_dentry *parent = walk_dirs(t, p, p->n - 1, W_LOOKUP, NULL, NULL);
	if (parent == NULL)
		return NULL;
	const struct comp *last = &p->c[p->n - 1];
	return dir_find(parent->dir, p->norm + last->off, last->len);
}

/* ---- trees ------------------------------------------------------------------ */

/* Trees alive in the process. Node memory holds nothing else across a
 * tree's life, so when the last tree goes it is all dropped at once
 * (i2k_nodemem_free_all) instead of block by block: freeing a big tree
 * would otherwise touch every node once more. */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static size_t live_trees;

struct i2k_fstree *i2k_fstree_new(struct i2k_spool *spool)
{
	struct i2k_fstree *t = i2k_xcalloc(1, sizeof(*t));
	t->spool = spool;
	t->mtime = i2k_source_date_epoch();
	struct i2k_fattr a = {.mode = S_IFDIR | 0755, .mtime = t->mtime};
	pthread_mutex_lock(&live_mu);
	live_trees++;
	t->root = dentry_new("", 0, inode_new(&a));
	pthread_mutex_unlock(&live_mu);
	t->count = 1;
	return t;
}

void i2k_fstree_free(struct i2k_fstree *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&live_mu);
	if (--live_trees == 0) {
		i2k_nodemem_free_all();
	} else if (t->view) { /* the root only: its children belong to the viewed tree */
		dir_free(t->root->dir);
		dentry_free_one(t->root);
	} else {
		dentry_free(NULL, t->root);
	}
	pthread_mutex_unlock(&live_mu);
	free(t);
}

static size_t subtree_count(const struct i2k_dentry *d)
{
	size_t n = 1;
	i2k_nodemem_touch(1);
	if (d->dir)
		for (size_t i = 0; i < d->dir->cap; i++)
			if (d->dir->slots[i] != NULL && d->dir->slots[i] != TOMB)
				n += subtree_count(d->dir->slots[i]);
	return n;
}

struct i2k_fstree *i2k_fstree_view(struct i2k_fstree *src, i2k_graft_keep_fn keep, void *ctx)
{
	struct i2k_fstree *t = i2k_fstree_new(src->spool);
	t->view = true;
	struct i2k_dentry **v = dir_sorted(src->root->dir);
	for (size_t i = 0; i < src->root->dir->count; i++) {
		if (keep && !keep(v[i]->name, v[i]->inode, ctx))
			continue;
		dir_insert(t->root->dir, v[i]); /* v[i]->parent stays src's root */
		t->count += subtree_count(v[i]);
	}
	return t;
}

/* Called by every function that changes t: refuses views, and drops what
 * a finalize said about t. */
static int may_change(struct i2k_fstree *t, struct i2k_error **err)
{
	if (t->view)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "a view of a tree cannot be changed");
	t->numbered = false;
	return 0;
}

static bool still_numbered(const struct i2k_fstree *t)
{
	return t->numbered && t->fin_epoch == __atomic_load_n(&finalize_epoch, __ATOMIC_RELAXED);
}

void i2k_fstree_freep(struct i2k_fstree **t)
{
	i2k_fstree_free(*t);
	*t = NULL;
}

struct i2k_spool *i2k_fstree_spool(struct i2k_fstree *t)
{
	return t->spool;
}

size_t i2k_fstree_count(struct i2k_fstree *t)
{
	return t->count;
}

void i2k_fstree_begin_layer(struct i2k_fstree *t)
{
	/* Generations are unique in the process, not per tree: an entry that
	 * graft_take moves keeps its source tree's gen, which must never be
	 * taken for a later generation of the tree it moved to. */
	static uint32_t last_gen;
	t->gen = __atomic_add_fetch(&last_gen, 1, __ATOMIC_RELAXED);
}

int i2k_fstree_add(struct i2k_fstree *t, const char *path, const struct i2k_fattr *attr,
		   const char *target, uint64_t data_off, uint64_t size, unsigned flags,
		   struct i2k_inode **out, struct i2k_error **err)
{
	if (may_change(t, err) < 0)
		return -1;
	_cleanup_(path_clear) struct path p = {0};
	if (path_parse(path, &p, err) < 0)
		return -1;
	if (flags & ~(unsigned)(I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE))
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s: unknown flags %#x", disp(&p),
				     flags);
	if (!valid_type(attr->mode))
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: invalid file type in mode %#o",
				     disp(&p), attr->mode);
	if (S_ISLNK(attr->mode) && target == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: symlink without a target", disp(&p));

	struct i2k_dentry *parent = NULL, *old;
	if (p.n == 0) {
		old = t->root;
	} else {
		parent =
		    walk_dirs(t, &p, p.n - 1,
			      (flags & I2K_FSTREE_MKPARENTS) ? W_MKPARENTS : W_STRICT, NULL, err);
		if (parent == NULL)
			return -1;
		const struct comp *last = &p.c[p.n - 1];
		old = dir_find(parent->dir, p.norm + last->off, last->len);
	}
	if (old) {
		if (!(flags & I2K_FSTREE_REPLACE))
			return i2k_error_set(err, I2K_ERR_CONFIG, "%s: already exists", disp(&p));
		if (old->dir && S_ISDIR(attr->mode)) {
			/* dir over dir: merge, the new attributes win */
			set_attrs(old->inode, attr);
			xattrs_clear(old->inode);
			mark_gen(t, old);
			if (out)
				*out = old->inode;
			return 0;
		}
		if (p.n == 0)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "/: the root can only be replaced by a directory");
		dentry_remove(t, old);
	}

	struct i2k_inode *ino = inode_new(attr);
	if (S_ISLNK(attr->mode))
		ino->target = i2k_nodemem_strdup(target);
	if (S_ISREG(attr->mode)) {
		ino->data_off = data_off;
		ino->size = size;
	}
	const struct comp *last = &p.c[p.n - 1];
	struct i2k_dentry *d = dentry_new(p.norm + last->off, last->len, ino);
	dentry_attach(t, parent, d);
	mark_gen(t, d);
	if (out)
		*out = ino;
	return 0;
}

int i2k_fstree_link(struct i2k_fstree *t, const char *path, const char *existing, unsigned flags,
		    struct i2k_error **err)
{
	if (may_change(t, err) < 0)
		return -1;
	_cleanup_(path_clear) struct path p = {0};
	_cleanup_(path_clear) struct path e = {0};
	if (path_parse(path, &p, err) < 0 || path_parse(existing, &e, err) < 0)
		return -1;
	if (flags & ~(unsigned)(I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE))
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s: unknown flags %#x", disp(&p),
				     flags);
	if (p.n == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "/: cannot replace the root with a link");

	struct i2k_dentry *src = NULL;
	if (e.n > 0) {
		bool missing;
		struct i2k_error *werr = NULL;
		struct i2k_dentry *ep = walk_dirs(t, &e, e.n - 1, W_STRICT, &missing, &werr);
		if (ep == NULL) {
			if (werr && werr->code == I2K_ERR_HOSTILE) {
				i2k_error_free(werr);
				return i2k_error_set(
				    err, I2K_ERR_HOSTILE,
				    "%s: hard link target \"%s\" is under a symlink", p.norm,
				    e.norm);
			}
			i2k_error_free(werr);
		} else {
			const struct comp *el = &e.c[e.n - 1];
			src = dir_find(ep->dir, e.norm + el->off, el->len);
		}
	}
	if (e.n == 0 || (src && src->dir))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: hard link target \"%s\" is a directory", p.norm,
				     disp(&e));
	if (src == NULL)
		return i2k_error_set(err, I2K_ERR_NOTFOUND,
				     "%s: hard link target \"%s\" does not exist", p.norm, e.norm);

	struct i2k_inode *ino = src->inode;
	ino->refcnt++; /* keep it alive if replacing path removes src */
	struct i2k_dentry *parent = walk_dirs(
	    t, &p, p.n - 1, (flags & I2K_FSTREE_MKPARENTS) ? W_MKPARENTS : W_STRICT, NULL, err);
	if (parent == NULL) {
		inode_unref(ino);
		return -1;
	}
	const struct comp *last = &p.c[p.n - 1];
	struct i2k_dentry *old = dir_find(parent->dir, p.norm + last->off, last->len);
	if (old && old->inode == ino) {
		inode_unref(ino);
		mark_gen(t, old);
		return 0;
	}
	if (old) {
		if (!(flags & I2K_FSTREE_REPLACE)) {
			inode_unref(ino);
			return i2k_error_set(err, I2K_ERR_CONFIG, "%s: already exists", p.norm);
		}
		dentry_remove(t, old);
	}
	struct i2k_dentry *d = dentry_new(p.norm + last->off, last->len, ino); /* takes our ref */
	dentry_attach(t, parent, d);
	mark_gen(t, d);
	return 0;
}

int i2k_fstree_remove(struct i2k_fstree *t, const char *path, bool missing_ok,
		      struct i2k_error **err)
{
	if (may_change(t, err) < 0)
		return -1;
	_cleanup_(path_clear) struct path p = {0};
	if (path_parse(path, &p, err) < 0)
		return -1;
	if (p.n == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "/: cannot remove the root");
	bool missing;
	struct i2k_error *werr = NULL;
	struct i2k_dentry *parent = walk_dirs(t, &p, p.n - 1, W_STRICT, &missing, &werr);
	struct i2k_dentry *d = NULL;
	if (parent) {
		const struct comp *last = &p.c[p.n - 1];
		d = dir_find(parent->dir, p.norm + last->off, last->len);
	} else if (!missing) {
		i2k_error_propagate(err, &werr);
		return -1;
	}
	i2k_error_free(werr);
	if (d == NULL) {
		if (missing_ok)
			return 0;
		return i2k_error_set(err, I2K_ERR_NOTFOUND, "%s: no such file or directory",
				     p.norm);
	}
	dentry_remove(t, d);
	return 0;
}

static void clear_children(struct i2k_fstree *t, struct i2k_dentry *d)
{
	size_t n;
	_cleanup_free_ struct i2k_dentry **v = dir_children_copy(d->dir, &n);
	for (size_t i = 0; i < n; i++)
		dentry_remove(t, v[i]);
}

int i2k_fstree_clear_dir(struct i2k_fstree *t, const char *path, struct i2k_error **err)
{
	if (may_change(t, err) < 0)
		return -1;
	_cleanup_(path_clear) struct path p = {0};
	if (path_parse(path, &p, err) < 0)
		return -1;
	struct i2k_dentry *d = t->root;
	if (p.n > 0) {
		struct i2k_dentry *parent = walk_dirs(t, &p, p.n - 1, W_STRICT, NULL, err);
		if (parent == NULL)
			return -1;
		const struct comp *last = &p.c[p.n - 1];
		d = dir_find(parent->dir, p.norm + last->off, last->len);
		if (d == NULL)
			return i2k_error_set(err, I2K_ERR_NOTFOUND, "%s: no such file or directory",
					     p.norm);
	}
	if (d->dir == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: not a directory", p.norm);
	clear_children(t, d);
	return 0;
}

/* Whether d, or a directory above it, was moved in by a graft_take of
 * t's current generation (everything below such an entry is current). */
static bool taken_now(const struct i2k_fstree *t, const struct i2k_dentry *d)
{
	for (; d; d = d->parent)
		if (d->took == t->gen + 1)
			return true;
	return false;
}

/* Removes what earlier generations left below directory d (which is not
 * under an entry taken in this generation). */
static void remove_lower_children(struct i2k_fstree *t, struct i2k_dentry *d)
{
	size_t n;
	_cleanup_free_ struct i2k_dentry **v = dir_children_copy(d->dir, &n);
	for (size_t i = 0; i < n; i++) {
		if (v[i]->took == t->gen + 1)
			continue;
		if (v[i]->gen != t->gen)
			dentry_remove(t, v[i]);
		else if (v[i]->dir)
			remove_lower_children(t, v[i]);
	}
}

int i2k_fstree_whiteout(struct i2k_fstree *t, const char *path, bool opaque, struct i2k_error **err)
{
	if (may_change(t, err) < 0)
		return -1;
	_cleanup_(path_clear) struct path p = {0};
	if (path_parse(path, &p, err) < 0)
		return -1;
	struct i2k_dentry *d = find_dentry(t, &p);
	if (d == NULL)
		return 0;
	if (taken_now(t, d))
		return 0; /* all of it is this generation's */
	if (opaque || d == t->root) {
		if (d->dir)
			remove_lower_children(t, d);
		return 0;
	}
	if (d->gen != t->gen)
		dentry_remove(t, d);
	else if (d->dir)
		remove_lower_children(t, d);
	return 0;
}

struct i2k_inode *i2k_fstree_lookup(struct i2k_fstree *t, const char *path)
{
	struct path p;
	if (path_parse(path, &p, NULL) < 0)
		return NULL;
	struct i2k_dentry *d = find_dentry(t, &p);
	path_clear(&p);
	return d ? d->inode : NULL;
}

int i2k_fstree_readdir(struct i2k_fstree *t, const char *path, i2k_readdir_fn cb, void *ctx)
{
	struct path p;
	if (path_parse(path, &p, NULL) < 0)
		return 0;
	struct i2k_dentry *d = find_dentry(t, &p);
	path_clear(&p);
	if (d == NULL || d->dir == NULL)
		return 0;
	struct i2k_dentry **v = dir_sorted(d->dir);
	size_t n = d->dir->count;
	for (size_t i = 0; i < n; i++) {
		i2k_nodemem_touch(1);
		int r = cb(v[i]->name, v[i]->inode, ctx);
		if (r != 0)
			return r;
	}
	return 0;
}

/* ---- graft ------------------------------------------------------------------- */

/* A directory grafted over a directory: the grafted one's attributes win. */
static void merge_dir_attrs(struct i2k_inode *dst, const struct i2k_inode *src)
{
	struct i2k_fattr a = {.mode = src->mode,
			      .uid = src->uid,
			      .gid = src->gid,
			      .mtime = src->mtime,
			      .mtime_ns = src->mtime_ns};
	set_attrs(dst, &a);
	copy_xattrs(dst, src);
}

static struct i2k_inode *dir_inode_copy(const struct i2k_inode *src)
{
	struct i2k_fattr a = {.mode = src->mode,
			      .uid = src->uid,
			      .gid = src->gid,
			      .mtime = src->mtime,
			      .mtime_ns = src->mtime_ns};
	struct i2k_inode *ino = inode_new(&a);
	copy_xattrs(ino, src);
	return ino;
}

/* The directory of dst that a graft of src at dst_path fills (made with
 * src's root attributes when missing), or NULL with *err set. */
static struct i2k_dentry *graft_target(struct i2k_fstree *dst, const char *dst_path,
				       struct i2k_fstree *src, struct i2k_error **err)
{
	_cleanup_(path_clear) struct path p = {0};
	if (path_parse(dst_path, &p, err) < 0)
		return NULL;
	if (dst == src) {
		i2k_error_set(err, I2K_ERR_INTERNAL, "graft: a tree cannot be grafted into itself");
		return NULL;
	}
	if (dst->spool != src->spool) {
		i2k_error_set(err, I2K_ERR_INTERNAL, "graft: the trees use different spools");
		return NULL;
	}
	struct i2k_dentry *d = dst->root;
	if (p.n > 0) {
		struct i2k_dentry *parent = walk_dirs(dst, &p, p.n - 1, W_MKPARENTS, NULL, err);
		if (parent == NULL)
			return NULL;
		const struct comp *last = &p.c[p.n - 1];
		d = dir_find(parent->dir, p.norm + last->off, last->len);
		if (d == NULL) {
			d = dentry_new(p.norm + last->off, last->len,
				       dir_inode_copy(src->root->inode));
			dentry_attach(dst, parent, d);
		} else if (d->dir == NULL) {
			i2k_error_set(err,
				      S_ISLNK(d->inode->mode) ? I2K_ERR_HOSTILE : I2K_ERR_CONFIG,
				      "%s: exists and is not a directory", p.norm);
			return NULL;
		}
	}
	mark_gen(dst, d);
	return d;
}

struct grafter {
	struct i2k_fstree *dst;
	i2k_graft_keep_fn keep; /* NULL: everything */
	void *ctx;
	char *buf; /* with keep: the src path of the entry being copied */
	size_t cap;
};

static void graft_dir(struct grafter *g, struct i2k_dentry *dd, struct i2k_dentry *sd, size_t plen)
{
	struct i2k_fstree *dst = g->dst;
	struct i2k_dentry **v = dir_sorted(sd->dir);
	size_t n = sd->dir->count;
	for (size_t i = 0; i < n; i++) {
		struct i2k_dentry *c = v[i];
		size_t nlen = plen;
		i2k_nodemem_touch(1);
		if (g->keep) {
			nlen = plen + (plen ? 1 : 0) + c->namelen;
			i2k_xgrow((void **)&g->buf, &g->cap, nlen + 1, 1);
			if (plen)
				g->buf[plen] = '/';
			memcpy(g->buf + nlen - c->namelen, c->name, c->namelen + 1);
			if (!g->keep(g->buf, c->inode, g->ctx))
				continue;
		}
		struct i2k_dentry *e = dir_find(dd->dir, c->name, c->namelen);
		if (c->dir) {
			if (e && e->dir) {
				merge_dir_attrs(e->inode, c->inode);
			} else {
				if (e)
					dentry_remove(dst, e);
				e = dentry_new(c->name, c->namelen, dir_inode_copy(c->inode));
				dentry_attach(dst, dd, e);
			}
			mark_gen(dst, e);
			graft_dir(g, e, c, nlen); /* writes only past buf[nlen] */
			continue;
		}
		if (e && e->inode == c->inode) {
			mark_gen(dst, e);
			continue;
		}
		if (e)
			dentry_remove(dst, e);
		c->inode->refcnt++;
		e = dentry_new(c->name, c->namelen, c->inode);
		dentry_attach(dst, dd, e);
		mark_gen(dst, e);
	}
}

int i2k_fstree_graft_some(struct i2k_fstree *dst, const char *dst_path, struct i2k_fstree *src,
			  i2k_graft_keep_fn keep, void *ctx, struct i2k_error **err)
{
	if (may_change(dst, err) < 0)
		return -1;
	struct i2k_dentry *d = graft_target(dst, dst_path, src, err);
	if (d == NULL)
		return -1;
	struct grafter g = {.dst = dst, .keep = keep, .ctx = ctx};
	if (keep) {
		i2k_xgrow((void **)&g.buf, &g.cap, 256, 1);
		g.buf[0] = '\0';
	}
	graft_dir(&g, d, src->root, 0);
	free(g.buf);
	return 0;
}

int i2k_fstree_graft(struct i2k_fstree *dst, const char *dst_path, struct i2k_fstree *src,
		     struct i2k_error **err)
{
	return i2k_fstree_graft_some(dst, dst_path, src, NULL, NULL, err);
}

/* graft_dir() that moves sd's children into dd instead of copying them.
 * A moved entry is marked (took), not its subtree, so a move costs the
 * same for a file and for a directory of a million; the trees' counts
 * are settled by the caller. */
static void take_dir(struct i2k_fstree *dst, struct i2k_dentry *dd, struct i2k_fstree *src,
		     struct i2k_dentry *sd)
{
	size_t n;
	_cleanup_free_ struct i2k_dentry **v = dir_children_copy(sd->dir, &n);
	for (size_t i = 0; i < n; i++) {
		struct i2k_dentry *c = v[i];
		i2k_nodemem_touch(1);
		struct i2k_dentry *e = dir_find(dd->dir, c->name, c->namelen);
		if (c->dir && e && e->dir) { /* merge, as graft_dir() */
			merge_dir_attrs(e->inode, c->inode);
			mark_gen(dst, e);
			take_dir(dst, e, src, c);
			continue;
		}
		if (!c->dir && e && e->inode == c->inode) {
			mark_gen(dst, e);
			continue;
		}
		if (e)
			dentry_remove(dst, e);
		dir_unlink(sd->dir, c);
		c->parent = dd;
		dir_insert(dd->dir, c);
		c->took = dst->gen + 1;
		mark_gen(dst, c);
	}
}

int i2k_fstree_graft_take(struct i2k_fstree *dst, const char *dst_path, struct i2k_fstree *src,
			  struct i2k_error **err)
{
	if (may_change(dst, err) < 0 || may_change(src, err) < 0)
		return -1;
	struct i2k_dentry *d = graft_target(dst, dst_path, src, err);
	if (d == NULL)
		return -1;
	take_dir(dst, d, src, src->root);
	/* What stayed in src (directories merged into existing ones, files dst
	 * already had) is freed here; src->count then still counts the moved
	 * entries, which dst gains. */
	clear_children(src, src->root);
	dst->count += src->count - 1;
	src->count = 1;
	return 0;
}

/* ---- walks ------------------------------------------------------------------ */

/* inode → path of its first visit, for inodes that may have several names */
struct seen {
	struct {
		const struct i2k_inode *ino;
		char *path;
	} * slots;
	size_t cap, count;
};

static size_t ptr_hash(const void *p)
{
	uintptr_t x = (uintptr_t)p;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

/* The slot of ino, or NULL when absent. */
static char **seen_slot(struct seen *s, const struct i2k_inode *ino)
{
	if (s->cap == 0)
		return NULL;
	for (size_t i = ptr_hash(ino) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i].ino == NULL)
			return NULL;
		if (s->slots[i].ino == ino)
			return &s->slots[i].path;
	}
}

static const char *seen_get(struct seen *s, const struct i2k_inode *ino)
{
	char **p = seen_slot(s, ino);
	return p ? *p : NULL;
}

static void seen_put(struct seen *s, const struct i2k_inode *ino, const char *path)
{
	if ((s->count + 1) * 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		__typeof__(s->slots) ns = i2k_xcalloc(ncap, sizeof(*ns));
		for (size_t i = 0; i < s->cap; i++) {
			if (s->slots[i].ino == NULL)
				continue;
			size_t j = ptr_hash(s->slots[i].ino) & (ncap - 1);
			while (ns[j].ino)
				j = (j + 1) & (ncap - 1);
			ns[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = ns;
		s->cap = ncap;
	}
	size_t j = ptr_hash(ino) & (s->cap - 1);
	while (s->slots[j].ino)
		j = (j + 1) & (s->cap - 1);
	s->slots[j].ino = ino;
	s->slots[j].path = path ? i2k_xstrdup(path) : NULL;
	s->count++;
}

static void seen_clear(struct seen *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i].path);
	free(s->slots);
}

struct walker {
	i2k_walk_fn cb;
	void *ctx;
	char *buf;
	size_t cap;
	struct seen seen;
	bool by_nlink; /* the tree is numbered: nlink > 1 tells a hard link */
};

static int walk_rec(struct walker *w, struct i2k_dentry *d, size_t plen, unsigned depth, bool visit)
{
	i2k_nodemem_touch(1);
	if (visit) {
		struct i2k_walk_entry e = {.path = w->buf,
					   .name = d->name,
					   .inode = d->inode,
					   .first = true,
					   .depth = depth};
		char **lp = NULL;
		if (d->dir == NULL && d->inode->refcnt > 1) {
			lp = seen_slot(&w->seen, d->inode);
			if (lp == NULL && w->by_nlink && d->inode->nlink > 1) {
				seen_put(&w->seen, d->inode, NULL);
				lp = seen_slot(&w->seen, d->inode);
			}
		}
		if (lp && *lp) {
			e.first = false;
			e.link_path = *lp;
		} else if (lp) {
			*lp = i2k_xstrdup(w->buf);
		}
		int r = w->cb(&e, w->ctx);
		if (r)
			return r;
	}
	if (d->dir == NULL)
		return 0;
	struct i2k_dentry **v = dir_sorted(d->dir);
	size_t n = d->dir->count;
	for (size_t i = 0; i < n; i++) {
		struct i2k_dentry *c = v[i];
		size_t nlen = plen + (plen ? 1 : 0) + c->namelen;
		i2k_xgrow((void **)&w->buf, &w->cap, nlen + 1, 1);
		if (plen)
			w->buf[plen] = '/';
		memcpy(w->buf + nlen - c->namelen, c->name, c->namelen + 1);
		int r = walk_rec(w, c, nlen, depth + 1, true);
		if (r)
			return r;
		w->buf[plen] = '\0';
	}
	return 0;
}

/* Pass 1 of a walk: every inode with several names in this tree gets a
 * slot in *multi (path NULL until its first visit). An inode that other
 * trees share (grafts) has refcnt > 1 but often one name here: the mark
 * tells a second name in this tree from a name elsewhere, so the walk keeps
 * no path for the many files that are only shared between trees. */
static void find_links(struct i2k_dentry *d, uint32_t token, struct seen *multi)
{
	i2k_nodemem_touch(d->dir->count);
	for (size_t i = 0; i < d->dir->cap; i++) {
		struct i2k_dentry *c = d->dir->slots[i];
		if (c == NULL || c == TOMB)
			continue;
		if (c->dir) {
			find_links(c, token, multi);
		} else if (c->inode->refcnt > 1) {
			if (c->inode->mark != token)
				c->inode->mark = token;
			else if (seen_slot(multi, c->inode) == NULL)
				seen_put(multi, c->inode, NULL);
		}
	}
}

int i2k_fstree_walk(struct i2k_fstree *t, bool include_root, i2k_walk_fn cb, void *ctx)
{
	static uint32_t walk_token;
	if (++walk_token == 0) /* 0 is the mark of a new inode */
		walk_token = 1;
	struct walker w = {.cb = cb, .ctx = ctx, .by_nlink = still_numbered(t)};
	if (!w.by_nlink)
		find_links(t->root, walk_token, &w.seen);
	i2k_xgrow((void **)&w.buf, &w.cap, 256, 1);
	w.buf[0] = '\0';
	int r = walk_rec(&w, t->root, 0, 0, include_root);
	seen_clear(&w.seen);
	free(w.buf);
	return r;
}

/* One pass: an inode not yet numbered in this finalize (its `fin` is not
 * the epoch) gets the next number; nlink counts the names met. */
static void number_rec(struct i2k_dentry *d, uint64_t *next, uint32_t epoch)
{
	struct i2k_inode *ino = d->inode;
	i2k_nodemem_touch(1);
	if (ino->fin != epoch) {
		ino->fin = epoch;
		ino->ino = (*next)++;
		ino->nlink = 0;
	}
	if (d->dir == NULL) {
		ino->nlink++;
		return;
	}
	ino->nlink = 2;
	struct i2k_dentry **v = dir_sorted(d->dir);
	size_t n = d->dir->count;
	for (size_t i = 0; i < n; i++) {
		if (v[i]->dir)
			ino->nlink++;
		number_rec(v[i], next, epoch);
	}
}

void i2k_fstree_finalize(struct i2k_fstree *t)
{
	if (still_numbered(t))
		return;
	uint32_t epoch = __atomic_add_fetch(&finalize_epoch, 1, __ATOMIC_RELAXED);
	if (epoch == 0) /* 0 is the fin of a new inode */
		epoch = __atomic_add_fetch(&finalize_epoch, 1, __ATOMIC_RELAXED);
	uint64_t next = 1;
	number_rec(t->root, &next, epoch);
	t->numbered = true;
	t->fin_epoch = epoch;
}

int i2k_fstree_read(struct i2k_fstree *t, const struct i2k_inode *ino, uint64_t off, void *buf,
		    size_t len, struct i2k_error **err)
{
	if (!S_ISREG(ino->mode))
		return i2k_error_set(err, I2K_ERR_INTERNAL, "read: not a regular file");
	if (off > ino->size || len > ino->size - off)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "read: %zu bytes at %" PRIu64 " beyond the end (%" PRIu64 ")",
				     len, off, ino->size);
	return i2k_spool_read(t->spool, ino->data_off + off, buf, len, err);
}

/* ---- listing (fixtures/expected format, see fstree.h) ------------------- */

static void esc_append(struct i2k_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x21 && c <= 0x7e && c != '\\') {
			i2k_buf_append(b, &s[i], 1, NULL);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			i2k_buf_append(b, e, 4, NULL);
		}
	}
}

struct list_line {
	char *path; /* escaped, "/"-prefixed */
	struct i2k_inode *inode;
};

struct list_ctx {
	struct list_line *v;
	size_t n, cap;
};

static int list_collect(const struct i2k_walk_entry *e, void *ctx)
{
	struct list_ctx *lc = ctx;
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "/", 1, NULL);
	esc_append(&b, e->path, strlen(e->path));
	i2k_xgrow((void **)&lc->v, &lc->cap, lc->n + 1, sizeof(*lc->v));
	lc->v[lc->n].path = b.data;
	lc->v[lc->n].inode = e->inode;
	lc->n++;
	return 0;
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct list_line *)a)->path, ((const struct list_line *)b)->path);
}

static char type_char(uint32_t mode)
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
	default:
		return 's';
	}
}

static int hash_file(struct i2k_fstree *t, const struct i2k_inode *ino, char hexout[65],
		     struct i2k_error **err)
{
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	_cleanup_free_ char *buf = i2k_xmalloc(1 << 20);
	for (uint64_t off = 0; off < ino->size;) {
		size_t n = ino->size - off > (1 << 20) ? (1 << 20) : (size_t)(ino->size - off);
		if (i2k_fstree_read(t, ino, off, buf, n, err) < 0)
			return -1;
		i2k_sha256_update(h, buf, n);
		off += n;
	}
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_final(h, d);
	memcpy(hexout, d + 7, 65);
	return 0;
}

static int list_line_write(struct i2k_fstree *t, FILE *f, const struct list_line *l,
			   struct seen *first, struct i2k_error **err)
{
	const struct i2k_inode *ino = l->inode;
	char type = type_char(ino->mode);
	if (type == 'f') {
		const char *fp = seen_get(first, ino);
		if (fp) {
			fprintf(f, "%s h %04o %" PRIu32 " %" PRIu32 " %s\n", l->path,
				(unsigned)(ino->mode & 07777), ino->uid, ino->gid, fp);
			return 0;
		}
		seen_put(first, ino, l->path);
	}
	fprintf(f, "%s %c %04o %" PRIu32 " %" PRIu32 " ", l->path, type,
		(unsigned)(ino->mode & 07777), ino->uid, ino->gid);
	if (type == 'f') {
		char hex[65];
		if (hash_file(t, ino, hex, err) < 0)
			return i2k_error_wrap(err, "listing %s", l->path);
		fprintf(f, "%" PRIu64 " %s", ino->size, hex);
	} else if (type == 'l') {
		struct i2k_buf b = {0};
		esc_append(&b, ino->target, strlen(ino->target));
		fputs(b.data ? b.data : "", f);
		i2k_buf_free(&b);
	} else if (type == 'c' || type == 'b') {
		fprintf(f, "%" PRIu32 ",%" PRIu32, ino->rdev_major, ino->rdev_minor);
	} else {
		fputc('-', f);
	}
	for (size_t i = 0; i < ino->nxattrs; i++) {
		struct i2k_buf b = {0};
		esc_append(&b, ino->xattrs[i].name, strlen(ino->xattrs[i].name));
		fprintf(f, " xattr:%s=", b.data ? b.data : "");
		i2k_buf_free(&b);
		const unsigned char *v = ino->xattrs[i].value;
		for (size_t j = 0; j < ino->xattrs[i].len; j++)
			fprintf(f, "%02x", v[j]);
	}
	fputc('\n', f);
	return 0;
}

int i2k_fstree_list(struct i2k_fstree *t, FILE *f, struct i2k_error **err)
{
	struct list_ctx lc = {0};
	i2k_fstree_walk(t, false, list_collect, &lc);
	if (lc.n > 1)
		qsort(lc.v, lc.n, sizeof(*lc.v), cmp_line);
	struct seen first = {0};
	int r = 0;
	for (size_t i = 0; i < lc.n && r == 0; i++)
		r = list_line_write(t, f, &lc.v[i], &first, err);
	seen_clear(&first);
	for (size_t i = 0; i < lc.n; i++)
		free(lc.v[i].path);
	free(lc.v);
	if (r == 0 && ferror(f))
		r = i2k_error_errno(err, errno, I2K_ERR_IO, "listing");
	return r;
}
