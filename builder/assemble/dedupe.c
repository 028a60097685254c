/* dedupe.c — see dedupe.h.
 *
 * Three steps, each bounded by what can still match:
 *   1. one walk notes, for each file size, the first tree it was seen in
 *      and whether another tree has it too (a table of distinct sizes, in
 *      file-backed node memory like the tree): sizes found in two or more
 *      trees are the only candidates;
 *   2. a second walk keeps the names of the candidates; each inode gets a
 *      key over its attributes and its first 4 KiB;
 *   3. inodes whose size and first key agree get a key over their whole
 *      content; equal keys become one inode. */
#include "builder/assemble/dedupe.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/fstree/nodemem.h"

#define SAMPLE 4096u
#define CHUNK (64u << 10)

struct size_slot {	 /* step 1: one per distinct file size */
	uint64_t size;	 /* 0: an empty slot (empty files are no candidates) */
	uint32_t root;	 /* the first root it was seen under */
	uint32_t in_two; /* seen under another root too */
};

struct name { /* step 2: one per name of a candidate */
	struct i2k_inode *ino;
	char *path;
	size_t order; /* position in the walk */
};

struct node { /* one per candidate inode */
	struct i2k_inode *ino;
	const char *path; /* its first name */
	size_t order;	  /* of that name */
	size_t first, n;  /* its names: names[first .. first + n) */
	uint8_t key[32];
};

struct ctx {
	const char *const *roots;
	size_t n_roots;
	struct size_slot *sizes; /* open addressing, cap_sizes a power of two */
	size_t n_sizes, cap_sizes;
	const uint64_t *hot; /* sorted candidate sizes */
	size_t n_hot;
	struct name *names;
	size_t n_names, cap_names, order;
};

/* Index of the root that path lies under, or n_roots. */
static size_t root_of(const struct ctx *c, const char *path)
{
	for (size_t i = 0; i < c->n_roots; i++) {
		size_t l = strlen(c->roots[i]);
		if (strncmp(path, c->roots[i], l) == 0 && path[l] == '/')
			return i;
	}
	return c->n_roots;
}

static bool candidate(const struct i2k_walk_entry *e)
{
	return S_ISREG(e->inode->mode) && e->inode->size > 0;
}

/* The slot of size in a table of cap slots (its own or the empty one
 * where it goes). */
static struct size_slot *size_slot(struct size_slot *v, size_t cap, uint64_t size)
{
	size_t i = (size_t)((size * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
	while (v[i].size != 0 && v[i].size != size)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

static int note_size(const struct i2k_walk_entry *e, void *arg)
{
	struct ctx *c = arg;
	if (!candidate(e) || !e->first)
		return 0;
	size_t r = root_of(c, e->path);
	if (r == c->n_roots)
		return 0;
	if ((c->n_sizes + 1) * 2 > c->cap_sizes) {
		size_t ncap = c->cap_sizes ? 2 * c->cap_sizes : 256;
		struct size_slot *nv = i2k_nodemem_alloc(ncap * sizeof(*nv));
		for (size_t i = 0; i < c->cap_sizes; i++)
			if (c->sizes[i].size != 0)
				*size_slot(nv, ncap, c->sizes[i].size) = c->sizes[i];
		i2k_nodemem_free(c->sizes, c->cap_sizes * sizeof(*c->sizes));
		/* the rehash read the old table: a node per 1 KiB of it, a rough
		 * count for the trim check */
		i2k_nodemem_touch(c->cap_sizes / 64);
		c->sizes = nv;
		c->cap_sizes = ncap;
	}
	struct size_slot *sl = size_slot(c->sizes, c->cap_sizes, e->inode->size);
	if (sl->size == 0) {
		*sl = (struct size_slot){.size = e->inode->size, .root = (uint32_t)r};
		c->n_sizes++;
	} else if (sl->root != r) {
		sl->in_two = 1;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int note_name(const struct i2k_walk_entry *e, void *arg)
{
	struct ctx *c = arg;
	if (!candidate(e))
		return 0;
	uint64_t sz = e->inode->size;
	if (bsearch(&sz, c->hot, c->n_hot, sizeof(*c->hot), cmp_u64) == NULL ||
	    root_of(c, e->path) == c->n_roots)
		return 0;
	if (c->n_names == c->cap_names) {
		c->cap_names = c->cap_names ? 2 * c->cap_names : 64;
		c->names = i2k_xrealloc(c->names, c->cap_names * sizeof(*c->names));
	}
	c->names[c->n_names++] =
	    (struct name){.ino = e->inode, .path = i2k_xstrdup(e->path), .order = c->order++};
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	const struct name *x = a, *y = b;
	if (x->ino != y->ino)
		return (uintptr_t)x->ino < (uintptr_t)y->ino ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* By size, then key, then walk order (the first of equal files leads). */
static int cmp_node(const void *a, const void *b)
{
	const struct node *x = a, *y = b;
	if (x->ino->size != y->ino->size)
		return x->ino->size < y->ino->size ? -1 : 1;
	int k = memcmp(x->key, y->key, sizeof(x->key));
	if (k)
		return k;
	return x->order < y->order ? -1 : x->order > y->order;
}

static bool same_group(const struct node *x, const struct node *y)
{
	return x->ino->size == y->ino->size && memcmp(x->key, y->key, sizeof(x->key)) == 0;
}

/* key = SHA-256 of what a hard link shares besides the data, then of the
 * first `len` bytes of the data. */
static int make_key(struct i2k_fstree *t, struct node *nd, uint64_t len, uint8_t *buf,
		    struct i2k_error **err)
{
	const struct i2k_inode *in = nd->ino;
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	uint64_t attrs[] = {in->mode,	  in->uid,  in->gid,	(uint64_t)in->mtime,
			    in->mtime_ns, in->size, in->nxattrs};
	i2k_sha256_update(h, attrs, sizeof(attrs));
	for (uint32_t i = 0; i < in->nxattrs; i++) {
		uint64_t l = in->xattrs[i].len;
		i2k_sha256_update(h, in->xattrs[i].name, strlen(in->xattrs[i].name) + 1);
		i2k_sha256_update(h, &l, sizeof(l));
		i2k_sha256_update(h, in->xattrs[i].value, in->xattrs[i].len);
	}
	for (uint64_t off = 0; off < len;) {
		size_t n = len - off < CHUNK ? (size_t)(len - off) : CHUNK;
		if (i2k_fstree_read(t, in, off, buf, n, err) < 0)
			return -1;
		i2k_sha256_update(h, buf, n);
		off += n;
	}
	i2k_sha256_final_raw(h, nd->key);
	return 0;
}

/* Steps 2 and 3 over the candidate names in c. */
static int merge(struct i2k_fstree *t, struct ctx *c, uint64_t *saved, struct i2k_error **err)
{
	qsort(c->names, c->n_names, sizeof(*c->names), cmp_name);
	_cleanup_free_ struct node *nodes =
	    i2k_xcalloc(c->n_names ? c->n_names : 1, sizeof(*nodes));
	size_t nn = 0;
	for (size_t i = 0; i < c->n_names; i++) {
		if (nn && nodes[nn - 1].ino == c->names[i].ino) {
			nodes[nn - 1].n++;
			continue;
		}
		nodes[nn++] = (struct node){.ino = c->names[i].ino,
					    .path = c->names[i].path,
					    .order = c->names[i].order,
					    .first = i,
					    .n = 1};
	}
	_cleanup_free_ uint8_t *buf = i2k_xcalloc(1, CHUNK);
	for (size_t i = 0; i < nn; i++) {
		uint64_t sz = nodes[i].ino->size;
		if (make_key(t, &nodes[i], sz < SAMPLE ? sz : SAMPLE, buf, err) < 0)
			return -1;
	}
	qsort(nodes, nn, sizeof(*nodes), cmp_node);
	/* Step 3: whole-content keys for groups that agree so far (a file no
	 * longer than the sample already has its whole key). */
	for (size_t i = 0; i < nn;) {
		size_t j = i + 1;
		while (j < nn && same_group(&nodes[i], &nodes[j]))
			j++;
		for (size_t k = i; j - i > 1 && k < j && nodes[k].ino->size > SAMPLE; k++)
			if (make_key(t, &nodes[k], nodes[k].ino->size, buf, err) < 0)
				return -1;
		i = j;
	}
	qsort(nodes, nn, sizeof(*nodes), cmp_node);
	uint64_t total = 0;
	for (size_t i = 0; i < nn;) {
		size_t j = i + 1;
		for (; j < nn && same_group(&nodes[i], &nodes[j]); j++) {
			/* the last link frees nodes[j].ino */
			total += nodes[j].ino->size;
			for (size_t k = 0; k < nodes[j].n; k++) {
				const char *p = c->names[nodes[j].first + k].path;
				if (i2k_fstree_link(t, p, nodes[i].path, I2K_FSTREE_REPLACE, err) <
				    0)
					return -1;
			}
		}
		i = j;
	}
	if (saved)
		*saved = total;
	return 0;
}

int i2k_dedupe_images(struct i2k_fstree *t, const char *const *roots, size_t n, uint64_t *saved,
		      struct i2k_error **err)
{
	struct ctx c = {.roots = roots, .n_roots = n};
	if (saved)
		*saved = 0;
	int r = i2k_fstree_walk(t, false, note_size, &c);
	/* Candidate sizes: those seen under two roots or more. */
	_cleanup_free_ uint64_t *hot = NULL;
	size_t n_hot = 0, cap_hot = 0;
	for (size_t i = 0; r == 0 && i < c.cap_sizes; i++) {
		if (!c.sizes[i].in_two)
			continue;
		i2k_xgrow((void **)&hot, &cap_hot, n_hot + 1, sizeof(*hot));
		hot[n_hot++] = c.sizes[i].size;
	}
	i2k_nodemem_free(c.sizes, c.cap_sizes * sizeof(*c.sizes));
	c.sizes = NULL;
	if (n_hot > 1)
		qsort(hot, n_hot, sizeof(*hot), cmp_u64);
	if (r == 0 && n_hot > 0) {
		c.hot = hot;
		c.n_hot = n_hot;
		r = i2k_fstree_walk(t, false, note_name, &c);
		if (r == 0)
			r = merge(t, &c, saved, err);
	}
	for (size_t i = 0; i < c.n_names; i++)
		free(c.names[i].path);
	free(c.names);
	return r;
}
