/* fat.c — see fat.h: FAT32 from an fstree. */
#include "formats/fs/fat.h"
#include "builder/base/bytes.h"

#include <libdeflate.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "builder/base/cleanup.h"
#include "builder/base/utf.h"
#include "builder/base/util.h"

#define SECTOR 512u
#define RESERVED_MIN 32u
#define NFATS 2u
#define ROOT_CLUSTER 2u
#define FAT_EOC 0x0FFFFFFFu
#define MAX_DIR_ENTRIES 65536u /* a directory is at most 2 MiB */
#define LFN_MAX 255u
#define NONE ((size_t)-1)

#define ATTR_READ_ONLY 0x01
#define ATTR_VOLUME_ID 0x08
#define ATTR_DIRECTORY 0x10
#define ATTR_ARCHIVE 0x20
#define ATTR_LFN 0x0f

struct node {
	char *path;	  /* for messages ("" = root) */
	const char *name; /* last component, inside path */
	struct i2k_inode *ino;
	size_t parent, first_child, next_sibling, last_child;
	bool dir;
	uint8_t sname[11];     /* 8.3 name, space padded */
	uint16_t lfn[LFN_MAX]; /* long name, UTF-16 */
	size_t lfn_len;	       /* 0: no long-name entries */
	uint32_t nentries;     /* dirs: 32-byte entries inside */
	uint32_t first, nclusters;
};

struct plan {
	struct node *nodes;
	size_t n, cap;
	size_t *stack; /* directory node per depth while walking */
	size_t stack_cap;
	const char *fail_path; /* walk error context */
	struct i2k_error *err;
};

struct geom {
	uint32_t total, spc, reserved, fatsz, clusters; /* sectors / count */
	uint32_t used;					/* clusters allocated */
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->nodes[i].path);
	free(p->nodes);
	free(p->stack);
	i2k_error_free(p->err);
	memset(p, 0, sizeof(*p));
}

/* ---- names ----------------------------------------------------------- */

static bool short_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'()-@^_`{}~", c));
}

/* Basis 8.3 name (Windows algorithm, simplified). *exact: the name is
 * already this 8.3 name; *caseonly: it differs only in letter case. */
static void basis_name(const char *name, uint8_t sn[11], bool *exact, bool *caseonly)
{
	memset(sn, ' ', 11);
	const char *dot = strrchr(name, '.');
	size_t nlen = strlen(name);
	bool lossy = false;
	size_t b = 0, e = 0;
	const char *s = name;
	while (*s == '.')
		s++;
	if (dot && dot < s)
		dot = NULL; /* only leading dots: no extension */
	if (s != name)
		lossy = true;
	for (const char *q = s; *q && q != dot; q++) {
		unsigned char c = (unsigned char)*q;
		if (c == ' ' || c == '.') {
			lossy = true;
			continue;
		}
		if ((c & 0xc0) == 0x80)
			continue; /* UTF-8 continuation: one '_' per character */
		unsigned char u = (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
		if (!short_char_ok(u)) {
			u = '_';
			lossy = true;
		}
		if (b < 8)
			sn[b++] = u;
		else
			lossy = true;
	}
	if (dot) {
		for (const char *q = dot + 1; *q; q++) {
			unsigned char c = (unsigned char)*q;
			if (c == ' ') {
				lossy = true;
				continue;
			}
			if ((c & 0xc0) == 0x80)
				continue;
			unsigned char u = (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
			if (!short_char_ok(u)) {
				u = '_';
				lossy = true;
			}
			if (e < 3)
				sn[8 + e++] = u;
			else
				lossy = true;
		}
	}
	if (b == 0) {
		sn[b++] = '_';
		lossy = true;
	}
	*caseonly = !lossy && nlen == b + (dot ? 1 + e : 0);
	*exact = false;
	if (*caseonly) {
		bool lower = false;
		for (const char *q = name; *q; q++)
			lower |= (*q >= 'a' && *q <= 'z');
		*exact = !lower;
	}
}

/* Replaces the end of the basis with "~N". */
static void with_tail(const uint8_t basis[11], unsigned n, uint8_t out[11])
{
	char tail[12];
	int tl = snprintf(tail, sizeof(tail), "~%u", n);
	size_t blen = 8;
	while (blen > 0 && basis[blen - 1] == ' ')
		blen--;
	if (blen > 8 - (size_t)tl)
		blen = 8 - (size_t)tl;
	memcpy(out, basis, 11);
	memset(out, ' ', 8);
	memcpy(out, basis, blen);
	memcpy(out + blen, tail, (size_t)tl);
}

/* Open-addressing set of 11-byte short names of one directory. */
struct nameset {
	uint8_t (*keys)[11];
	bool *used;
	size_t cap;
};

static size_t name_hash(const uint8_t k[11], size_t cap)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 11; i++)
		h = (h ^ k[i]) * 16777619u;
	return h & (cap - 1);
}

/* Slot of k, inserting it if absent (*added tells). */
static size_t nameset_slot(struct nameset *s, const uint8_t k[11], bool *added)
{
	for (size_t i = name_hash(k, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (!s->used[i]) {
			s->used[i] = true;
			memcpy(s->keys[i], k, 11);
			*added = true;
			return i;
		}
		if (memcmp(s->keys[i], k, 11) == 0) {
			*added = false;
			return i;
		}
	}
}

/* Returns false when already present. */
static bool nameset_add(struct nameset *s, const uint8_t k[11])
{
	bool added;
	nameset_slot(s, k, &added);
	return added;
}

static int cmp_upper(const void *a, const void *b)
{
	return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* Short and long names of every child of directory d. */
static int name_children(struct plan *p, size_t d, struct i2k_error **err)
{
	size_t count = 0;
	for (size_t c = p->nodes[d].first_child; c != NONE; c = p->nodes[c].next_sibling)
		count++;
	uint32_t entries = d == 0 ? 0 : 2; /* "." and ".." */
	if (count == 0) {
		p->nodes[d].nentries = entries;
		return 0;
	}
	_cleanup_free_ const char **names = i2k_xcalloc(count, sizeof(*names));
	size_t k = 0;
	for (size_t c = p->nodes[d].first_child; c != NONE; c = p->nodes[c].next_sibling)
		names[k++] = p->nodes[c].name;
	qsort(names, count, sizeof(*names), cmp_upper);
	for (k = 1; k < count; k++)
		if (strcasecmp(names[k - 1], names[k]) == 0) {
			for (size_t c = p->nodes[d].first_child; c != NONE;
			     c = p->nodes[c].next_sibling)
				if (p->nodes[c].name == names[k])
					return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
							     "%s: another name in the directory "
							     "differs only in case",
							     p->nodes[c].path);
		}

	/* set: short names taken; bases: next "~N" to try per basis name, so
	 * that many similar names stay linear */
	struct nameset set = {.cap = 16}, bases;
	while (set.cap < 2 * count + 2)
		set.cap *= 2;
	bases.cap = set.cap;
	_cleanup_free_ uint8_t(*keys)[11] = i2k_xcalloc(2 * set.cap, 11);
	_cleanup_free_ bool *used = i2k_xcalloc(2 * set.cap, sizeof(bool));
	_cleanup_free_ unsigned *next_tail = i2k_xcalloc(set.cap, sizeof(unsigned));
	set.keys = keys;
	set.used = used;
	bases.keys = keys + set.cap;
	bases.used = used + set.cap;
	/* Pass 1: names whose 8.3 form needs no tail claim it first. */
	for (int pass = 1; pass <= 2; pass++) {
		for (size_t c = p->nodes[d].first_child; c != NONE; c = p->nodes[c].next_sibling) {
			struct node *n = &p->nodes[c];
			bool exact, caseonly;
			uint8_t basis[11];
			basis_name(n->name, basis, &exact, &caseonly);
			if ((pass == 1) != caseonly)
				continue;
			if (caseonly && nameset_add(&set, basis)) {
				memcpy(n->sname, basis, 11);
			} else {
				bool fresh;
				size_t b = nameset_slot(&bases, basis, &fresh);
				unsigned t = fresh ? 1 : next_tail[b];
				for (;; t++) {
					with_tail(basis, t, n->sname);
					if (nameset_add(&set, n->sname))
						break;
				}
				next_tail[b] = t + 1;
				exact = false;
			}
			if (exact)
				n->lfn_len = 0;
			entries += 1 + (uint32_t)((n->lfn_len + 12) / 13);
		}
	}
	if (entries > MAX_DIR_ENTRIES)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "%s: too many entries for a FAT directory",
				     d == 0 ? "/" : p->nodes[d].path);
	p->nodes[d].nentries = entries;
	return 0;
}

/* ---- walking the tree -------------------------------------------------- */

static int check_name(const char *path, const char *name, struct node *n, struct i2k_error **err)
{
	for (const char *q = name; *q; q++) {
		unsigned char c = (unsigned char)*q;
		if (c < 0x20 || c == 0x7f || strchr("\"*/:<>?\\|", c))
			return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					     "%s: character '%s%c' is not allowed in FAT names",
					     path, c < 0x20 || c == 0x7f ? "\\x" : "",
					     c < 0x20 || c == 0x7f ? '?' : c);
	}
	size_t len = strlen(name);
	if (len && (name[len - 1] == '.' || name[len - 1] == ' '))
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "%s: FAT names cannot end with '.' or ' '", path);
	int r = i2k_utf16_encode(name, n->lfn, LFN_MAX, &n->lfn_len);
	if (r == I2K_UTF16_INVALID)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s: name is not valid UTF-8", path);
	if (r == I2K_UTF16_TOO_LONG)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "%s: name is longer than %u UTF-16 units", path, LFN_MAX);
	return 0;
}

static int walk_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct plan *p = ctx;
	uint32_t type = e->inode->mode & S_IFMT;
	if (e->depth > 0) {
		if (type == S_IFLNK)
			return i2k_error_set(&p->err, I2K_ERR_UNSUPPORTED,
					     "%s: FAT cannot hold symlinks", e->path);
		if (type != S_IFREG && type != S_IFDIR)
			return i2k_error_set(&p->err, I2K_ERR_UNSUPPORTED,
					     "%s: FAT cannot hold special files", e->path);
		if (type == S_IFREG && e->inode->size > UINT32_MAX)
			return i2k_error_set(&p->err, I2K_ERR_UNSUPPORTED,
					     "%s: FAT cannot hold files of 4 GiB or more", e->path);
	}
	i2k_xgrow((void **)&p->nodes, &p->cap, p->n + 1, sizeof(*p->nodes));
	size_t idx = p->n++;
	struct node *n = &p->nodes[idx];
	memset(n, 0, sizeof(*n));
	n->path = i2k_xstrdup(e->path);
	n->name = n->path + strlen(n->path) - strlen(e->name);
	n->ino = e->inode;
	n->dir = e->depth == 0 || type == S_IFDIR;
	n->first_child = n->next_sibling = n->last_child = NONE;
	n->parent = NONE;
	if (e->depth > 0) {
		if (check_name(e->path, e->name, n, &p->err) < 0)
			return -1;
		size_t par = p->stack[e->depth - 1];
		n->parent = par;
		if (p->nodes[par].last_child == NONE)
			p->nodes[par].first_child = idx;
		else
			p->nodes[p->nodes[par].last_child].next_sibling = idx;
		p->nodes[par].last_child = idx;
	}
	if (n->dir) {
		i2k_xgrow((void **)&p->stack, &p->stack_cap, e->depth + 1, sizeof(*p->stack));
		p->stack[e->depth] = idx;
	}
	return 0;
}

/* Collects and names every entry. */
static int plan_tree(struct i2k_fstree *tree, bool label, struct plan *p, struct i2k_error **err)
{
	memset(p, 0, sizeof(*p));
	if (i2k_fstree_walk(tree, true, walk_cb, p) != 0 || p->n == 0) {
		if (!p->err)
			i2k_error_set(&p->err, I2K_ERR_INTERNAL, "FAT: empty tree walk");
		i2k_error_propagate(err, &p->err);
		return -1;
	}
	for (size_t i = 0; i < p->n; i++)
		if (p->nodes[i].dir && name_children(p, i, err) < 0)
			return -1;
	if (label)
		p->nodes[0].nentries++;
	return 0;
}

/* ---- geometry and allocation -------------------------------------------- */

static uint32_t div_up(uint64_t a, uint64_t b)
{
	return (uint32_t)((a + b - 1) / b);
}

/* Geometry for total sectors; -1 when fewer than 65525 clusters fit. */
static int geometry(uint64_t total, struct geom *g)
{
	uint64_t mb = total * SECTOR / (1024 * 1024);
	uint32_t spc = mb > 32 * 1024	? 64
		       : mb > 16 * 1024 ? 32
		       : mb > 8 * 1024	? 16
		       : mb > 260	? 8
					: 1;
	if (total > UINT32_MAX || total < 1024)
		return -1;
	for (; spc >= 1; spc /= 2) {
		uint32_t reserved = RESERVED_MIN;
		uint32_t fatsz = div_up(((total - reserved) / spc + 2) * 4, SECTOR);
		uint32_t data = reserved + NFATS * fatsz;
		reserved += (spc - data % spc) % spc; /* data area on a cluster boundary */
		data = reserved + NFATS * fatsz;
		if (data >= total)
			continue;
		uint64_t clusters = (total - data) / spc;
		if (clusters >= I2K_FAT_MIN_CLUSTERS && clusters <= 0x0FFFFFF5 - 2) {
			*g = (struct geom){.total = (uint32_t)total,
					   .spc = spc,
					   .reserved = reserved,
					   .fatsz = fatsz,
					   .clusters = (uint32_t)clusters};
			return 0;
		}
		if (spc == 1)
			break;
	}
	return -1;
}

/* Assigns clusters in node order; -1 when they do not fit. */
static int allocate(struct plan *p, struct geom *g)
{
	uint64_t cb = (uint64_t)g->spc * SECTOR, next = ROOT_CLUSTER;
	for (size_t i = 0; i < p->n; i++) {
		struct node *n = &p->nodes[i];
		uint64_t bytes = n->dir ? (uint64_t)n->nentries * 32 : n->ino->size;
		uint64_t nc = (bytes + cb - 1) / cb;
		if (n->dir && nc == 0)
			nc = 1;
		n->nclusters = (uint32_t)nc;
		n->first = nc ? (uint32_t)next : 0;
		next += nc;
		if (next - ROOT_CLUSTER > g->clusters)
			return -1;
	}
	g->used = (uint32_t)(next - ROOT_CLUSTER);
	return 0;
}

static int min_size(struct plan *p, uint64_t *size)
{
	uint64_t mib = 1024 * 1024;
	struct geom g;
	for (uint32_t spc = 1; spc <= 64; spc *= 2) {
		/* estimate with this cluster size, then step up 1 MiB at a time */
		uint64_t cb = (uint64_t)spc * SECTOR, need = 0;
		for (size_t i = 0; i < p->n; i++) {
			struct node *n = &p->nodes[i];
			uint64_t bytes = n->dir ? (uint64_t)n->nentries * 32 : n->ino->size;
			need += n->dir && bytes == 0 ? 1 : (bytes + cb - 1) / cb;
		}
		if (need < I2K_FAT_MIN_CLUSTERS)
			need = I2K_FAT_MIN_CLUSTERS;
		uint64_t est = RESERVED_MIN + spc +
			       NFATS * (uint64_t)div_up((need + 2) * 4, SECTOR) + need * spc;
		uint64_t bytes = (est * SECTOR + mib - 1) / mib * mib;
		for (int tries = 0; tries < 64; tries++, bytes += mib) {
			if (geometry(bytes / SECTOR, &g) < 0)
				continue;
			if (g.spc != spc)
				break; /* this size takes another cluster size */
			if (allocate(p, &g) == 0) {
				*size = bytes;
				return 0;
			}
		}
	}
	return -1;
}

int i2k_fat_min_size(struct i2k_fstree *tree, uint64_t *size, struct i2k_error **err)
{
	struct plan p;
	int r = plan_tree(tree, true, &p, err);
	if (r == 0 && min_size(&p, size) < 0)
		r = i2k_error_set(err, I2K_ERR_CONFIG, "FAT: the files do not fit in 2 TiB");
	plan_free(&p);
	return r;
}

uint64_t i2k_fat_size_for(struct i2k_fstree *tree)
{
	uint64_t size = 0;
	struct i2k_error *e = NULL;
	if (i2k_fat_min_size(tree, &size, &e) < 0)
		size = 0;
	i2k_error_free(e);
	return size;
}

/* ---- writing -------------------------------------------------------------- */

static void fat_time(int64_t t, uint16_t *date, uint16_t *time)
{
	const int64_t lo = 315532800;  /* 1980-01-01 00:00:00 */
	const int64_t hi = 4354819198; /* 2107-12-31 23:59:58 */
	t = t < lo ? lo : t > hi ? hi : t;
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	*date = (uint16_t)(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
	*time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
}

static void short_entry(uint8_t *e, const uint8_t name[11], uint8_t attr, uint32_t cluster,
			uint32_t size, int64_t mtime)
{
	uint16_t d, t;
	fat_time(mtime, &d, &t);
	memset(e, 0, 32);
	memcpy(e, name, 11);
	e[11] = attr;
	i2k_put_le16(e + 14, t);
	i2k_put_le16(e + 16, d);
	i2k_put_le16(e + 18, d);
	i2k_put_le16(e + 20, (uint16_t)(cluster >> 16));
	i2k_put_le16(e + 22, t);
	i2k_put_le16(e + 24, d);
	i2k_put_le16(e + 26, (uint16_t)(cluster & 0xffff));
	i2k_put_le32(e + 28, size);
}

static uint8_t sname_sum(const uint8_t s[11])
{
	uint8_t sum = 0;
	for (int i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + s[i]);
	return sum;
}

/* Long-name entries (last part first) then the short entry; returns the
 * number of bytes written at e. */
static size_t child_entries(uint8_t *e, const struct node *n)
{
	size_t nl = (n->lfn_len + 12) / 13, off = 0;
	uint8_t sum = sname_sum(n->sname);
	static const int pos[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
	for (size_t k = nl; k >= 1; k--) {
		uint8_t *l = e + off;
		memset(l, 0, 32);
		l[0] = (uint8_t)(k | (k == nl ? 0x40 : 0));
		l[11] = ATTR_LFN;
		l[13] = sum;
		for (int j = 0; j < 13; j++) {
			size_t ci = (k - 1) * 13 + (size_t)j;
			uint16_t ch = ci < n->lfn_len ? n->lfn[ci] : ci == n->lfn_len ? 0 : 0xffff;
			i2k_put_le16(l + pos[j], ch);
		}
		off += 32;
	}
	uint8_t attr = n->dir ? ATTR_DIRECTORY : ATTR_ARCHIVE;
	if (!n->dir && !(n->ino->mode & 0222))
		attr |= ATTR_READ_ONLY;
	short_entry(e + off, n->sname, attr, n->first, n->dir ? 0 : (uint32_t)n->ino->size,
		    n->ino->mtime);
	return off + 32;
}

struct writer {
	struct i2k_sink *out;
	struct geom g;
	uint64_t data_off, cb;
	uint32_t crc; /* CRC-32 of the content so far: the volume serial */
	uint8_t label[11];
	bool has_label;
};

static uint64_t cluster_off(const struct writer *w, uint32_t c)
{
	return w->data_off + (uint64_t)(c - ROOT_CLUSTER) * w->cb;
}

static int write_dir(struct writer *w, struct plan *p, size_t d, struct i2k_error **err)
{
	struct node *n = &p->nodes[d];
	size_t len = (size_t)n->nclusters * w->cb, off = 0;
	_cleanup_free_ uint8_t *buf = i2k_xcalloc(1, len);
	if (d == 0) {
		if (w->has_label) {
			short_entry(buf, w->label, ATTR_VOLUME_ID, 0, 0, i2k_source_date_epoch());
			off += 32;
		}
	} else {
		static const uint8_t dot[11] = ".          ", dotdot[11] = "..         ";
		const struct node *par = &p->nodes[n->parent];
		short_entry(buf, dot, ATTR_DIRECTORY, n->first, 0, n->ino->mtime);
		short_entry(buf + 32, dotdot, ATTR_DIRECTORY, n->parent == 0 ? 0 : par->first, 0,
			    par->ino->mtime);
		off = 64;
	}
	for (size_t c = n->first_child; c != NONE; c = p->nodes[c].next_sibling)
		off += child_entries(buf + off, &p->nodes[c]);
	w->crc = libdeflate_crc32(w->crc, buf, len);
	if (i2k_sink_write_at(w->out, cluster_off(w, n->first), buf, len, err) < 0)
		return i2k_error_wrap(err, "writing directory /%s", n->path);
	return 0;
}

static int write_file(struct writer *w, struct i2k_fstree *tree, const struct node *n, uint8_t *buf,
		      size_t bufsz, struct i2k_error **err)
{
	uint64_t size = n->ino->size, done = 0, dst = cluster_off(w, n->first);
	while (done < size) {
		size_t len = size - done < bufsz ? (size_t)(size - done) : bufsz;
		if (i2k_check_interrupt(err) < 0)
			return -1;
		if (i2k_fstree_read(tree, n->ino, done, buf, len, err) < 0)
			return i2k_error_wrap(err, "reading /%s", n->path);
		w->crc = libdeflate_crc32(w->crc, buf, len);
		size_t wlen = len;
		if (done + len == size) { /* zero the tail of the last cluster */
			size_t pad = (size_t)((w->cb - size % w->cb) % w->cb);
			memset(buf + len, 0, pad);
			wlen += pad;
		}
		if (i2k_sink_write_at(w->out, dst + done, buf, wlen, err) < 0)
			return i2k_error_wrap(err, "writing /%s", n->path);
		done += len;
	}
	return 0;
}

/* Both FATs: chains for every object, zeros after the last one. */
static int write_fats(struct writer *w, struct plan *p, struct i2k_error **err)
{
	uint64_t entries = (uint64_t)w->g.used + ROOT_CLUSTER;
	size_t bytes = (size_t)(div_up(entries * 4, SECTOR)) * SECTOR;
	_cleanup_free_ uint8_t *fat = i2k_xcalloc(1, bytes);
	i2k_put_le32(fat, 0x0FFFFF00u | 0xF8);
	i2k_put_le32(fat + 4, FAT_EOC);
	for (size_t i = 0; i < p->n; i++) {
		const struct node *n = &p->nodes[i];
		for (uint32_t k = 0; k < n->nclusters; k++)
			i2k_put_le32(fat + 4 * ((size_t)n->first + k),
				     k + 1 == n->nclusters ? FAT_EOC : n->first + k + 1);
	}
	uint64_t fatlen = (uint64_t)w->g.fatsz * SECTOR;
	for (uint32_t f = 0; f < NFATS; f++) {
		uint64_t off = (uint64_t)(w->g.reserved + f * w->g.fatsz) * SECTOR;
		if (i2k_sink_write_at(w->out, off, fat, bytes, err) < 0 ||
		    i2k_sink_zero(w->out, off + bytes, fatlen - bytes, err) < 0)
			return i2k_error_wrap(err, "writing the FAT");
	}
	return 0;
}

static int write_boot(struct writer *w, const struct i2k_fat_opts *o, uint32_t volid,
		      struct i2k_error **err)
{
	uint8_t bs[SECTOR] = {0}, fsi[SECTOR] = {0};
	const char *oem = o && o->oem ? o->oem : "I2KIT";
	bs[0] = 0xEB;
	bs[1] = 0x58;
	bs[2] = 0x90;
	memset(bs + 3, ' ', 8);
	memcpy(bs + 3, oem, strnlen(oem, 8));
	i2k_put_le16(bs + 11, SECTOR);
	bs[13] = (uint8_t)w->g.spc;
	i2k_put_le16(bs + 14, (uint16_t)w->g.reserved);
	bs[16] = NFATS;
	bs[21] = 0xF8;
	i2k_put_le16(bs + 24, 63);
	i2k_put_le16(bs + 26, 255);
	i2k_put_le32(bs + 28, o ? o->hidden_sectors : 0);
	i2k_put_le32(bs + 32, w->g.total);
	i2k_put_le32(bs + 36, w->g.fatsz);
	i2k_put_le32(bs + 44, ROOT_CLUSTER);
	i2k_put_le16(bs + 48, 1); /* FSInfo */
	i2k_put_le16(bs + 50, 6); /* backup boot sector */
	bs[64] = 0x80;
	bs[66] = 0x29;
	i2k_put_le32(bs + 67, volid);
	memcpy(bs + 71, w->has_label ? w->label : (const uint8_t *)"NO NAME    ", 11);
	memcpy(bs + 82, "FAT32   ", 8);
	static const uint8_t halt[] = {0xFA, 0xF4, 0xEB, 0xFD}; /* cli; hlt; jmp $-1 */
	memcpy(bs + 90, halt, sizeof(halt));
	bs[510] = 0x55;
	bs[511] = 0xAA;

	i2k_put_le32(fsi, 0x41615252);
	i2k_put_le32(fsi + 484, 0x61417272);
	i2k_put_le32(fsi + 488, w->g.clusters - w->g.used);
	i2k_put_le32(fsi + 492, w->g.used < w->g.clusters ? ROOT_CLUSTER + w->g.used : 0xFFFFFFFFu);
	i2k_put_le32(fsi + 508, 0xAA550000);

	if (i2k_sink_zero(w->out, 0, (uint64_t)w->g.reserved * SECTOR, err) < 0 ||
	    i2k_sink_write_at(w->out, 0, bs, SECTOR, err) < 0 ||
	    i2k_sink_write_at(w->out, SECTOR, fsi, SECTOR, err) < 0 ||
	    i2k_sink_write_at(w->out, 6 * SECTOR, bs, SECTOR, err) < 0 ||
	    i2k_sink_write_at(w->out, 7 * SECTOR, fsi, SECTOR, err) < 0)
		return i2k_error_wrap(err, "writing the FAT boot sector");
	return 0;
}

static int parse_label(const char *label, uint8_t out[11], struct i2k_error **err)
{
	size_t len = strlen(label);
	memset(out, ' ', 11);
	if (len > 11)
		return i2k_error_set(err, I2K_ERR_CONFIG, "bad FAT volume label '%s'", label);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)label[i];
		unsigned char u = (c >= 'a' && c <= 'z') ? (unsigned char)(c - 32) : c;
		if (u != ' ' && !short_char_ok(u))
			return i2k_error_set(err, I2K_ERR_CONFIG, "bad FAT volume label '%s'",
					     label);
		out[i] = u;
	}
	return 0;
}

int i2k_fat_write(struct i2k_fstree *tree, const struct i2k_fat_opts *o, struct i2k_sink *out,
		  struct i2k_error **err)
{
	struct writer w = {.out = out};
	_cleanup_free_ uint8_t *buf = NULL;
	if (o && o->label && *o->label) {
		if (parse_label(o->label, w.label, err) < 0)
			return -1;
		w.has_label = true;
	}
	struct plan p;
	if (plan_tree(tree, w.has_label, &p, err) < 0) {
		plan_free(&p);
		return -1;
	}
	int r = -1;
	uint64_t need = 0;
	if (geometry(out->size / SECTOR, &w.g) < 0 || allocate(&p, &w.g) < 0) {
		if (min_size(&p, &need) < 0)
			need = 0;
		i2k_error_set(err, I2K_ERR_CONFIG,
			      "FAT file system of %llu bytes is too small: the files need at least "
			      "%llu bytes",
			      (unsigned long long)out->size, (unsigned long long)need);
		goto out;
	}
	w.cb = (uint64_t)w.g.spc * SECTOR;
	w.data_off = (uint64_t)(w.g.reserved + NFATS * w.g.fatsz) * SECTOR;
	uint8_t geo[16];
	i2k_put_le32(geo, w.g.total);
	i2k_put_le32(geo + 4, w.g.spc);
	i2k_put_le32(geo + 8, w.g.used);
	memcpy(geo + 12, "FAT ", 4);
	w.crc = libdeflate_crc32(0, geo, sizeof(geo));
	const size_t bufsz = 1 << 20;
	buf = i2k_xmalloc(bufsz + w.cb);
	for (size_t i = 0; i < p.n; i++) {
		struct node *n = &p.nodes[i];
		if (n->dir ? write_dir(&w, &p, i, err) < 0
			   : n->nclusters && write_file(&w, tree, n, buf, bufsz, err) < 0)
			goto out;
	}
	if (write_fats(&w, &p, err) < 0)
		goto out;
	uint32_t volid = o && o->volume_id ? o->volume_id : w.crc;
	r = write_boot(&w, o, volid, err);
out:
	plan_free(&p);
	return r;
}
