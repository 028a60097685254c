/* iso9660.c — ISO 9660 + Rock Ridge + El Torito writer (see iso9660.h).
 *
 * Three passes over an in-memory mirror of the tree:
 *   1. build: walk the fstree, make one node per entry, give each directory's
 *      children unique ISO identifiers and sort them (ECMA-119 9.3), number
 *      the directories in path-table order (breadth first);
 *   2. size: build each record's System Use entries (Rock Ridge), split what
 *      does not fit in a 255-byte record into continuation chunks, size the
 *      directories and the continuation area, then assign every block;
 *   3. emit: volume descriptors, path tables, directories, continuation
 *      area, boot catalog, file data.
 */
#include "formats/fs/iso9660.h"
#include "builder/base/bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define SECTOR I2K_ISO_BLOCK
#define CE_LEN 28
#define MAX_BOOT_INFO_FILE (4u << 20)
#define MAX_FILE_SIZE 0xffffffffull
#define COPY_CHUNK (1u << 20)

enum nkind { NK_DIR, NK_FILE, NK_LINK, NK_SPECIAL, NK_CATALOG };

/* One directory record's System Use data. */
struct rec {
	uint8_t *su; /* SUSP entries, concatenated (owned) */
	uint32_t su_len;
	uint32_t inline_len;	  /* bytes of su kept in the record */
	uint32_t chunk0, nchunks; /* continuation chunks in w->chunks */
	uint8_t len;		  /* whole record length */
};

/* A piece of a record's su stored in the continuation area. */
struct chunk {
	struct rec *rec;
	size_t start, len; /* range of rec->su */
	uint32_t block;	   /* relative to the continuation area */
	uint32_t off;
	uint32_t total; /* len + CE_LEN when another chunk follows */
};

/* One per entry of the tree (160 bytes with malloc's: a 100,000-file root
 * holds 16 MB of them while it is written). */
struct node {
	char *name;		 /* real name ("" for the root) */
	struct i2k_inode *inode; /* NULL for the catalog */
	struct node *parent;
	struct node **kids;
	size_t nkids, kids_cap;
	struct rec rec;	  /* this entry's record in its parent */
	struct rec *dots; /* directories: the "." and ".." records (owned) */
	uint32_t dir_num, dir_lba, dir_size, nsubdirs;
	enum nkind kind;
	char iso[40];
	uint8_t iso_len;
	uint8_t base_len; /* ISO name part length (before '.'), for sorting */
	bool first;	  /* first visit of the inode */
};

struct isow {
	struct i2k_fstree *tree;
	const struct i2k_iso_opts *o;
	bool rr;
	int64_t epoch;
	char volid[33];
	struct node *root;
	struct node **dirs; /* path table order */
	size_t ndirs, dirs_cap;
	struct node **files; /* data order: first visits of non-empty regular files */
	size_t nfiles, files_cap;
	uint32_t *ino_lba; /* by inode->ino */
	size_t nino;
	struct chunk *chunks;
	size_t nchunks, chunks_cap;
	struct node *bios, *efi, *catalog;
	uint32_t pt_size, pt_blocks, ce_blocks;
	uint32_t lba_brvd, lba_term, lba_pt_l, lba_pt_m, lba_ce, lba_catalog;
	uint64_t blocks; /* volume space size */
	/* walk state */
	struct node **stack;
	size_t stack_cap;
	struct i2k_error *werr;
};

/* ---- byte helpers ------------------------------------------------------- */
static void both16(uint8_t *p, uint16_t v)
{
	i2k_put_le16(p, v);
	i2k_put_be16(p + 2, v);
}
static void both32(uint8_t *p, uint32_t v)
{
	i2k_put_le32(p, v);
	i2k_put_be32(p + 4, v);
}
static void padstr(uint8_t *p, size_t n, const char *s, char pad)
{
	size_t l = s ? strlen(s) : 0;
	if (l > n)
		l = n;
	memcpy(p, s ? s : "", l);
	memset(p + l, pad, n - l);
}

static uint32_t blocks_of(uint64_t bytes)
{
	return (uint32_t)((bytes + SECTOR - 1) / SECTOR);
}

/* 7-byte recording date (ECMA-119 9.1.5), UTC. */
static void date7(uint8_t *p, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || tm.tm_year < 0) {
		memset(p, 0, 7);
		p[1] = p[2] = 1;
		return;
	}
	if (tm.tm_year > 255) {
		const uint8_t max[7] = {255, 12, 31, 23, 59, 59, 0};
		memcpy(p, max, 7);
		return;
	}
	p[0] = (uint8_t)tm.tm_year;
	p[1] = (uint8_t)(tm.tm_mon + 1);
	p[2] = (uint8_t)tm.tm_mday;
	p[3] = (uint8_t)tm.tm_hour;
	p[4] = (uint8_t)tm.tm_min;
	p[5] = (uint8_t)tm.tm_sec;
	p[6] = 0;
}

/* 17-byte volume date (ECMA-119 8.4.26.1), UTC. */
static void date17(uint8_t *p, int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[64];
	if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = 70;
		tm.tm_mday = 1;
	}
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d00", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(p, buf, 16);
	p[16] = 0;
}

static void date17_unset(uint8_t *p)
{
	memset(p, '0', 16);
	p[16] = 0;
}

/* ---- growable bytes for System Use entries -------------------------------- */
struct bytes {
	uint8_t *p;
	size_t len, cap;
};
static uint8_t *bytes_add(struct bytes *b, size_t n)
{
	if (b->len + n > b->cap)
		i2k_xgrow((void **)&b->p, &b->cap, b->len + n, 1);
	uint8_t *r = b->p + b->len;
	b->len += n;
	memset(r, 0, n);
	return r;
}
static uint8_t *su_entry(struct bytes *b, const char *sig, size_t len)
{
	uint8_t *e = bytes_add(b, len);
	e[0] = (uint8_t)sig[0];
	e[1] = (uint8_t)sig[1];
	e[2] = (uint8_t)len;
	e[3] = 1;
	return e;
}

static const char RRIP_ID[] = "RRIP_1991A";
static const char RRIP_DES[] =
    "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
static const char RRIP_SRC[] = "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE "
			       "PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT "
			       "INFORMATION.";

static void su_px(struct bytes *b, uint32_t mode, uint32_t nlink, uint32_t uid, uint32_t gid)
{
	uint8_t *e = su_entry(b, "PX", 36);
	both32(e + 4, mode);
	both32(e + 12, nlink);
	both32(e + 20, uid);
	both32(e + 28, gid);
}

static void su_tf(struct bytes *b, int64_t mtime)
{
	uint8_t *e = su_entry(b, "TF", 12);
	e[4] = 0x02; /* MODIFY */
	date7(e + 5, mtime);
}

static void su_nm(struct bytes *b, const char *name)
{
	size_t len = strlen(name);
	do {
		size_t n = len > 250 ? 250 : len;
		uint8_t *e = su_entry(b, "NM", 5 + n);
		e[4] = len > n ? 0x01 : 0; /* CONTINUE */
		memcpy(e + 5, name, n);
		name += n;
		len -= n;
	} while (len > 0);
}

/* Symlink target as SL component records, packed into SL entries. A run
 * of slashes at the start or inside the target keeps its length ("a//b",
 * "//x": one ROOT component per extra slash, as libisofs writes them); a
 * trailing slash is dropped, as libisofs does ("dir/" reads back as "dir"). */
static void su_sl(struct bytes *b, const char *target)
{
	struct bytes comps = {0};
	_cleanup_free_ char *t = i2k_xstrdup(target);
	size_t tl = strlen(t);
	while (tl > 1 && t[tl - 1] == '/')
		t[--tl] = '\0';
	const char *p = t;
	if (*p == '/') {
		uint8_t *c = bytes_add(&comps, 2);
		c[0] = 0x08; /* ROOT */
		p++;
	}
	while (*p) {
		const char *q = strchr(p, '/');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (n == 0) {
			/* "a//b": a ROOT component mid-path, as libisofs writes it
			 * (Linux reads "a//b" back; xorriso too) */
			bytes_add(&comps, 2)[0] = 0x08;
		} else if (n == 1 && p[0] == '.') {
			bytes_add(&comps, 2)[0] = 0x02; /* CURRENT */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			bytes_add(&comps, 2)[0] = 0x04; /* PARENT */
		} else {
			const char *s = p;
			size_t left = n;
			do {
				size_t k = left > 248 ? 248 : left;
				uint8_t *c = bytes_add(&comps, 2 + k);
				c[0] = left > k ? 0x01 : 0; /* component CONTINUE */
				c[1] = (uint8_t)k;
				memcpy(c + 2, s, k);
				s += k;
				left -= k;
			} while (left > 0);
		}
		p += n;
		if (*p == '/') /* one separator: the next one is a ROOT component */
			p++;
	}
	if (comps.len == 0)
		bytes_add(&comps, 2); /* an empty target: one empty component */
	/* pack whole component records into entries of at most 255 bytes */
	size_t i = 0;
	while (i < comps.len) {
		size_t j = i, n = 0;
		while (j < comps.len && 5 + n + 2 + comps.p[j + 1] <= 255) {
			n += 2 + comps.p[j + 1];
			j += 2 + comps.p[j + 1];
		}
		uint8_t *e = su_entry(b, "SL", 5 + n);
		e[4] = j < comps.len ? 0x01 : 0; /* CONTINUE in the next SL */
		memcpy(e + 5, comps.p + i, n);
		i = j;
	}
	free(comps.p);
}

/* Device numbers: small ones as one old-style number in the low word
 * (major << 8 | minor, high word 0), which Linux and libisofs decode alike;
 * others as high = major, low = minor (Linux's reading). */
static void su_pn(struct bytes *b, uint32_t major, uint32_t minor)
{
	uint8_t *e = su_entry(b, "PN", 20);
	bool small = major < 4096 && minor < 256;
	both32(e + 4, small ? 0 : major);
	both32(e + 12, small ? (major << 8 | minor) : minor);
}

static void su_er(struct bytes *b)
{
	size_t li = strlen(RRIP_ID), ld = strlen(RRIP_DES), ls = strlen(RRIP_SRC);
	uint8_t *e = su_entry(b, "ER", 8 + li + ld + ls);
	e[4] = (uint8_t)li;
	e[5] = (uint8_t)ld;
	e[6] = (uint8_t)ls;
	e[7] = 1;
	memcpy(e + 8, RRIP_ID, li);
	memcpy(e + 8 + li, RRIP_DES, ld);
	memcpy(e + 8 + li + ld, RRIP_SRC, ls);
}

/* ---- nodes ----------------------------------------------------------------- */
static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->rec.su);
	if (n->dots) {
		free(n->dots[0].su);
		free(n->dots[1].su);
		free(n->dots);
	}
	free(n);
}

static void isow_release(struct isow *w)
{
	node_free(w->root);
	free(w->dirs);
	free(w->files);
	free(w->ino_lba);
	free(w->chunks);
	free(w->stack);
	i2k_error_free(w->werr);
}

static void node_add_kid(struct node *dir, struct node *kid)
{
	i2k_xgrow((void **)&dir->kids, &dir->kids_cap, dir->nkids + 1, sizeof(*dir->kids));
	dir->kids[dir->nkids++] = kid;
	kid->parent = dir;
}

static int walk_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct isow *w = ctx;
	struct node *n = i2k_xcalloc(1, sizeof(*n));
	n->name = i2k_xstrdup(e->name);
	n->inode = e->inode;
	n->first = e->first;
	switch (e->inode->mode & S_IFMT) {
	case S_IFDIR:
		n->kind = NK_DIR;
		n->dots = i2k_xcalloc(2, sizeof(*n->dots));
		break;
	case S_IFREG:
		n->kind = NK_FILE;
		break;
	case S_IFLNK:
		n->kind = NK_LINK;
		break;
	default:
		n->kind = NK_SPECIAL;
		break;
	}
	if (n->kind == NK_FILE && e->first && e->inode->size > MAX_FILE_SIZE) {
		i2k_error_set(&w->werr, I2K_ERR_UNSUPPORTED,
			      "%s: %llu bytes: ISO 9660 files are limited to 4 GiB - 1", e->path,
			      (unsigned long long)e->inode->size);
		node_free(n);
		return -1;
	}
	if (e->depth + 1 > w->stack_cap)
		i2k_xgrow((void **)&w->stack, &w->stack_cap, e->depth + 1, sizeof(*w->stack));
	if (e->depth == 0) {
		w->root = n;
	} else {
		node_add_kid(w->stack[e->depth - 1], n);
	}
	if (n->kind == NK_DIR)
		w->stack[e->depth] = n;
	if (n->kind == NK_FILE && e->first && e->inode->size > 0) {
		i2k_xgrow((void **)&w->files, &w->files_cap, w->nfiles + 1, sizeof(*w->files));
		w->files[w->nfiles++] = n;
	}
	return 0;
}

/* Finds the node of a path ("a/b/c"); NULL if absent. */
static struct node *node_find(struct node *root, const char *path)
{
	struct node *n = root;
	const char *p = path;
	while (*p == '/')
		p++;
	while (*p && n) {
		const char *q = strchr(p, '/');
		size_t len = q ? (size_t)(q - p) : strlen(p);
		struct node *next = NULL;
		for (size_t i = 0; i < n->nkids; i++) {
			if (strlen(n->kids[i]->name) == len &&
			    memcmp(n->kids[i]->name, p, len) == 0) {
				next = n->kids[i];
				break;
			}
		}
		n = next;
		p += len;
		while (*p == '/')
			p++;
	}
	return n;
}

/* ---- ISO identifiers -------------------------------------------------------- */
static char dchar(char c)
{
	if (c >= 'a' && c <= 'z')
		return (char)(c - 'a' + 'A');
	if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
		return c;
	return '_';
}

/* Builds n->iso from base/ext (already d-characters) */
static void iso_set(struct node *n, const char *base, size_t blen, const char *ext, size_t elen)
{
	size_t l = 0;
	memcpy(n->iso, base, blen);
	l = blen;
	n->base_len = (uint8_t)blen;
	if (n->kind != NK_DIR) {
		n->iso[l++] = '.';
		memcpy(n->iso + l, ext, elen);
		l += elen;
		n->iso[l++] = ';';
		n->iso[l++] = '1';
	}
	n->iso[l] = 0;
	n->iso_len = (uint8_t)l;
}

static void iso_mangle(struct node *n)
{
	char base[32], ext[32];
	size_t blen = 0, elen = 0;
	const char *name = n->name;
	if (n->kind == NK_DIR) {
		for (const char *p = name; *p && blen < 31; p++)
			base[blen++] = dchar(*p);
	} else {
		const char *dot = strrchr(name, '.');
		if (dot == name)
			dot = NULL; /* ".profile": no extension */
		size_t nlen = dot ? (size_t)(dot - name) : strlen(name);
		if (dot) {
			for (const char *p = dot + 1; *p && elen < 10; p++)
				ext[elen++] = dchar(*p);
		}
		for (size_t i = 0; i < nlen && blen < 30 - elen; i++)
			base[blen++] = dchar(name[i]);
	}
	if (blen == 0 && elen == 0)
		base[blen++] = '_';
	iso_set(n, base, blen, ext, elen);
}

/* ECMA-119 9.3 ordering: name part, then extension, both padded with
 * spaces, then version (always 1 here). */
static int iso_cmp_parts(const char *a, size_t al, const char *b, size_t bl)
{
	size_t n = al > bl ? al : bl;
	for (size_t i = 0; i < n; i++) {
		unsigned char ca = i < al ? (unsigned char)a[i] : ' ';
		unsigned char cb = i < bl ? (unsigned char)b[i] : ' ';
		if (ca != cb)
			return ca < cb ? -1 : 1;
	}
	return 0;
}
static size_t iso_ext_len(const struct node *n)
{
	if (n->kind == NK_DIR)
		return 0;
	return (size_t)n->iso_len - n->base_len - 3; /* '.', ";1" */
}
static int iso_cmp(const void *pa, const void *pb)
{
	const struct node *a = *(struct node *const *)pa, *b = *(struct node *const *)pb;
	int r = iso_cmp_parts(a->iso, a->base_len, b->iso, b->base_len);
	if (r)
		return r;
	return iso_cmp_parts(a->iso + a->base_len + 1, iso_ext_len(a), b->iso + b->base_len + 1,
			     iso_ext_len(b));
}

/* Ties (same mangled identifier) broken by the real name, so which entry
 * gets the numeric tail does not depend on qsort. */
static int iso_cmp_named(const void *pa, const void *pb)
{
	int r = iso_cmp(pa, pb);
	if (r)
		return r;
	return strcmp((*(struct node *const *)pa)->name, (*(struct node *const *)pb)->name);
}

static bool iso_same(const struct node *a, const struct node *b)
{
	return iso_cmp(&a, &b) == 0;
}

static bool iso_taken(const struct node *dir, const struct node *self)
{
	for (size_t i = 0; i < dir->nkids; i++)
		if (dir->kids[i] != self && iso_same(dir->kids[i], self))
			return true;
	return false;
}

/* Unique identifiers within dir (a numeric tail replaces the end of the
 * name part on collision), then sorted. */
static void iso_names(struct node *dir)
{
	for (size_t i = 0; i < dir->nkids; i++)
		iso_mangle(dir->kids[i]);
	if (dir->nkids > 1) /* an empty directory has no array (qsort(NULL) is undefined) */
		qsort(dir->kids, dir->nkids, sizeof(*dir->kids), iso_cmp_named);
	unsigned counter = 0;
	struct node prev; /* the previous kid's identifier before renaming */
	for (size_t i = 0; i < dir->nkids; i++) {
		struct node *n = dir->kids[i];
		struct node orig = *n;
		if (i == 0 || !iso_same(&prev, n)) {
			prev = orig;
			continue;
		}
		char base[32], ext[32], num[16];
		size_t elen = iso_ext_len(n);
		memcpy(ext, n->iso + n->base_len + 1, elen);
		size_t maxb = n->kind == NK_DIR ? 31 : 30 - elen;
		do {
			counter++;
			int k = snprintf(num, sizeof(num), "%u", counter);
			size_t keep = orig.base_len;
			if (keep + (size_t)k > maxb)
				keep = maxb - (size_t)k;
			memcpy(base, orig.iso, keep);
			memcpy(base + keep, num, (size_t)k);
			iso_set(n, base, keep + (size_t)k, ext, elen);
		} while (iso_taken(dir, n));
	}
	if (dir->nkids > 1)
		qsort(dir->kids, dir->nkids, sizeof(*dir->kids), iso_cmp);
}

/* ---- planning --------------------------------------------------------------- */
static int check_volid(struct isow *w, struct i2k_error **err)
{
	const char *v = w->o->volume_id ? w->o->volume_id : "I2KIT";
	size_t l = strlen(v);
	if (l == 0 || l > 32)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "volume id \"%s\": must be 1 to 32 characters", v);
	for (size_t i = 0; i < l; i++) {
		char c = v[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == ' '))
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "volume id \"%s\": only letters, digits, '_' and "
					     "spaces are allowed",
					     v);
		w->volid[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
	}
	w->volid[l] = 0;
	return 0;
}

static int find_boot(struct isow *w, const char *what, const char *path, struct node **out,
		     struct i2k_error **err)
{
	struct node *n = node_find(w->root, path);
	if (!n)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s %s: not found in the tree", what,
				     path);
	if (n->kind != NK_FILE)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s %s: not a regular file", what, path);
	if (n->inode->size == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s %s: empty file", what, path);
	*out = n;
	return 0;
}

static int add_catalog(struct isow *w, struct i2k_error **err)
{
	const char *path = w->o->catalog_path;
	while (*path == '/')
		path++;
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	_cleanup_free_ char *parent = i2k_xstrndup(path, slash ? (size_t)(slash - path) : 0);
	if (*name == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "boot catalog %s: not a file name",
				     w->o->catalog_path);
	struct node *dir = node_find(w->root, parent);
	if (!dir || dir->kind != NK_DIR)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "boot catalog %s: parent directory not in the tree",
				     w->o->catalog_path);
	if (node_find(dir, name))
		return i2k_error_set(err, I2K_ERR_CONFIG, "boot catalog %s: already exists",
				     w->o->catalog_path);
	struct node *n = i2k_xcalloc(1, sizeof(*n));
	n->name = i2k_xstrdup(name);
	n->kind = NK_CATALOG;
	n->first = true;
	node_add_kid(dir, n);
	w->catalog = n;
	return 0;
}

static uint32_t node_mode(const struct node *n)
{
	return n->kind == NK_CATALOG ? (S_IFREG | 0444) : n->inode->mode;
}
static int64_t node_mtime(const struct isow *w, const struct node *n)
{
	return n->inode ? n->inode->mtime : w->epoch;
}
static uint32_t node_nlink(const struct node *n)
{
	if (n->kind == NK_DIR)
		return 2 + n->nsubdirs;
	if (n->kind == NK_CATALOG || n->inode->nlink == 0)
		return 1;
	return n->inode->nlink;
}

enum rec_role { ROLE_SELF, ROLE_DOT, ROLE_DOTDOT };

static void build_su(struct isow *w, struct node *n, enum rec_role role, struct bytes *b)
{
	/* n is the node whose attributes are described */
	if (role == ROLE_DOT && n == w->root) {
		uint8_t *sp = su_entry(b, "SP", 7);
		sp[4] = 0xbe;
		sp[5] = 0xef;
		sp[6] = 0; /* len_skp */
	}
	uint32_t uid = n->inode ? n->inode->uid : 0, gid = n->inode ? n->inode->gid : 0;
	su_px(b, node_mode(n), node_nlink(n), uid, gid);
	su_tf(b, node_mtime(w, n));
	if (role == ROLE_SELF) {
		su_nm(b, n->name);
		if (n->kind == NK_LINK)
			su_sl(b, n->inode->target ? n->inode->target : "");
		uint32_t t = n->inode ? (n->inode->mode & S_IFMT) : 0;
		if (t == S_IFCHR || t == S_IFBLK)
			su_pn(b, n->inode->rdev_major, n->inode->rdev_minor);
	}
	if (role == ROLE_DOT && n == w->root)
		su_er(b);
}

/* Sizes a record: what stays inline, what goes to continuation chunks. */
static void plan_rec(struct isow *w, struct rec *r, size_t id_len, struct bytes *su)
{
	size_t base = 33 + id_len + (id_len % 2 == 0 ? 1 : 0);
	size_t avail = 254 - base; /* even, so the record length stays even */
	r->su = su->p;
	r->su_len = su->len;
	su->p = NULL;
	su->len = su->cap = 0;
	r->nchunks = 0;
	r->chunk0 = w->nchunks;
	if (r->su_len <= avail) {
		r->inline_len = r->su_len;
	} else {
		size_t off = 0;
		while (off < r->su_len && off + r->su[off + 2] + CE_LEN <= avail)
			off += r->su[off + 2];
		r->inline_len = off;
		/* chunks of at most one block, each but the last ending in a CE */
		while (off < r->su_len) {
			size_t start = off, len = 0;
			if (r->su_len - off <= SECTOR) {
				len = r->su_len - off;
			} else {
				while (len + r->su[off + len + 2] + CE_LEN <= SECTOR)
					len += r->su[off + len + 2];
			}
			off += len;
			i2k_xgrow((void **)&w->chunks, &w->chunks_cap, w->nchunks + 1,
				  sizeof(*w->chunks));
			struct chunk *c = &w->chunks[w->nchunks++];
			*c = (struct chunk){.rec = NULL, .start = start, .len = len};
			c->total = (uint32_t)(len + (off < r->su_len ? CE_LEN : 0));
			r->nchunks++;
		}
	}
	size_t inl = r->inline_len + (r->nchunks ? CE_LEN : 0);
	r->len = (uint8_t)(base + inl + (inl % 2));
}

static void plan_dir_records(struct isow *w, struct node *d)
{
	struct bytes b = {0};
	if (w->rr)
		build_su(w, d, ROLE_DOT, &b);
	plan_rec(w, &d->dots[0], 1, &b);
	if (w->rr)
		build_su(w, d->parent ? d->parent : d, ROLE_DOTDOT, &b);
	plan_rec(w, &d->dots[1], 1, &b);
	for (size_t i = 0; i < d->nkids; i++) {
		struct node *k = d->kids[i];
		if (w->rr)
			build_su(w, k, ROLE_SELF, &b);
		plan_rec(w, &k->rec, k->iso_len, &b);
	}
	free(b.p);
	/* records never straddle a block */
	uint64_t off = 0;
	struct rec *recs[2] = {&d->dots[0], &d->dots[1]};
	for (size_t i = 0; i < 2 + d->nkids; i++) {
		uint8_t len = i < 2 ? recs[i]->len : d->kids[i - 2]->rec.len;
		if (off % SECTOR + len > SECTOR)
			off = (off / SECTOR + 1) * SECTOR;
		off += len;
	}
	d->dir_size = blocks_of(off) * SECTOR;
}

static int plan(struct isow *w, struct i2k_fstree *tree, const struct i2k_iso_opts *o,
		struct i2k_error **err)
{
	static const struct i2k_iso_opts defaults = {0};
	memset(w, 0, sizeof(*w));
	w->tree = tree;
	w->o = o ? o : &defaults;
	o = w->o;
	w->rr = !o->no_rock_ridge;
	w->epoch = i2k_source_date_epoch();
	if (check_volid(w, err) < 0)
		return -1;
	uint32_t align = o->align ? o->align : SECTOR;
	if (align < SECTOR || (align & (align - 1)))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "ISO alignment %u: must be a power of two of at least 2048",
				     align);

	i2k_fstree_finalize(tree);
	w->nino = i2k_fstree_count(tree) + 1;
	w->ino_lba = i2k_xcalloc(w->nino, sizeof(*w->ino_lba));
	if (i2k_fstree_walk(tree, true, walk_cb, w) != 0) {
		if (!w->werr)
			return i2k_error_set(err, I2K_ERR_INTERNAL, "ISO: tree walk failed");
		i2k_error_propagate(err, &w->werr);
		return -1;
	}
	if (!w->root || w->root->kind != NK_DIR)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "ISO: the tree has no root directory");

	if (o->bios_boot && find_boot(w, "BIOS boot image", o->bios_boot, &w->bios, err) < 0)
		return -1;
	if (w->bios && o->boot_info_table &&
	    (w->bios->inode->size < 64 || w->bios->inode->size > MAX_BOOT_INFO_FILE))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "BIOS boot image %s: %llu bytes: a boot info table needs 64 "
				     "bytes to 4 MiB",
				     o->bios_boot, (unsigned long long)w->bios->inode->size);
	if (o->efi_boot && find_boot(w, "EFI boot image", o->efi_boot, &w->efi, err) < 0)
		return -1;
	if ((w->bios || w->efi) && o->catalog_path && add_catalog(w, err) < 0)
		return -1;

	/* directories in path-table order: breadth first, children sorted */
	i2k_xgrow((void **)&w->dirs, &w->dirs_cap, 1, sizeof(*w->dirs));
	w->dirs[w->ndirs++] = w->root;
	for (size_t i = 0; i < w->ndirs; i++) {
		struct node *d = w->dirs[i];
		d->dir_num = (uint32_t)i + 1;
		iso_names(d);
		for (size_t k = 0; k < d->nkids; k++) {
			if (d->kids[k]->kind != NK_DIR)
				continue;
			d->nsubdirs++;
			i2k_xgrow((void **)&w->dirs, &w->dirs_cap, w->ndirs + 1, sizeof(*w->dirs));
			w->dirs[w->ndirs++] = d->kids[k];
		}
	}
	if (w->ndirs > 65535)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "ISO: %zu directories: the path table holds at most 65535",
				     w->ndirs);
	uint64_t pt = 0;
	for (size_t i = 0; i < w->ndirs; i++) {
		size_t l = i == 0 ? 1 : w->dirs[i]->iso_len;
		pt += 8 + l + (l % 2);
	}
	w->pt_size = (uint32_t)pt;
	w->pt_blocks = blocks_of(pt);

	for (size_t i = 0; i < w->ndirs; i++)
		plan_dir_records(w, w->dirs[i]);
	/* continuation chunks: give each its record, pack into blocks */
	for (size_t i = 0; i < w->ndirs; i++) {
		struct node *d = w->dirs[i];
		struct rec *recs[2] = {&d->dots[0], &d->dots[1]};
		for (size_t k = 0; k < 2 + d->nkids; k++) {
			struct rec *r = k < 2 ? recs[k] : &d->kids[k - 2]->rec;
			for (size_t c = 0; c < r->nchunks; c++)
				w->chunks[r->chunk0 + c].rec = r;
		}
	}
	uint32_t blk = 0, off = 0;
	for (size_t i = 0; i < w->nchunks; i++) {
		struct chunk *c = &w->chunks[i];
		if (off + c->total > SECTOR)
			blk++, off = 0;
		c->block = blk;
		c->off = off;
		off += c->total;
	}
	w->ce_blocks = w->nchunks ? blk + 1 : 0;

	/* block assignment */
	uint64_t lba = 17;
	if (w->bios || w->efi)
		w->lba_brvd = (uint32_t)lba++;
	w->lba_term = (uint32_t)lba++;
	w->lba_pt_l = (uint32_t)lba;
	lba += w->pt_blocks;
	w->lba_pt_m = (uint32_t)lba;
	lba += w->pt_blocks;
	for (size_t i = 0; i < w->ndirs; i++) {
		w->dirs[i]->dir_lba = (uint32_t)lba;
		lba += w->dirs[i]->dir_size / SECTOR;
	}
	w->lba_ce = (uint32_t)lba;
	lba += w->ce_blocks;
	if (w->bios || w->efi)
		w->lba_catalog = (uint32_t)lba++;
	for (size_t i = 0; i < w->nfiles; i++) {
		if (lba > UINT32_MAX)
			break;
		w->ino_lba[w->files[i]->inode->ino] = (uint32_t)lba;
		lba += blocks_of(w->files[i]->inode->size);
	}
	uint64_t bytes = lba * SECTOR;
	bytes = (bytes + align - 1) / align * align;
	if (o->min_size > bytes)
		bytes = (o->min_size + align - 1) / align * align;
	if (bytes / SECTOR > UINT32_MAX)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "ISO: %llu bytes: more than 2^32 blocks",
				     (unsigned long long)bytes);
	w->blocks = bytes / SECTOR;
	return 0;
}

/* ---- emission ----------------------------------------------------------------- */
static uint32_t node_lba(const struct isow *w, const struct node *n)
{
	if (n->kind == NK_DIR)
		return n->dir_lba;
	if (n->kind == NK_CATALOG)
		return w->lba_catalog;
	if (n->kind == NK_FILE && n->inode->size > 0)
		return w->ino_lba[n->inode->ino];
	return 0;
}
static uint32_t node_size(const struct node *n)
{
	if (n->kind == NK_DIR)
		return n->dir_size;
	if (n->kind == NK_CATALOG)
		return SECTOR;
	if (n->kind == NK_FILE)
		return (uint32_t)n->inode->size;
	return 0;
}

static void put_ce(const struct isow *w, uint8_t *p, const struct chunk *c)
{
	p[0] = 'C';
	p[1] = 'E';
	p[2] = CE_LEN;
	p[3] = 1;
	both32(p + 4, w->lba_ce + c->block);
	both32(p + 12, c->off);
	both32(p + 20, c->total);
}

/* Writes a directory record at p (r->len bytes). */
static void put_record(const struct isow *w, uint8_t *p, const struct rec *r, const uint8_t *id,
		       size_t id_len, const struct node *n)
{
	memset(p, 0, r->len);
	p[0] = r->len;
	both32(p + 2, node_lba(w, n));
	both32(p + 10, node_size(n));
	date7(p + 18, node_mtime(w, n));
	p[25] = n->kind == NK_DIR ? 0x02 : 0;
	both16(p + 28, 1);
	p[32] = (uint8_t)id_len;
	memcpy(p + 33, id, id_len);
	size_t su = 33 + id_len + (id_len % 2 == 0 ? 1 : 0);
	if (r->inline_len)
		memcpy(p + su, r->su, r->inline_len);
	if (r->nchunks)
		put_ce(w, p + su + r->inline_len, &w->chunks[r->chunk0]);
}

static int write_dir(struct isow *w, struct i2k_sink *out, struct node *d, struct i2k_error **err)
{
	_cleanup_free_ uint8_t *buf = i2k_xcalloc(1, d->dir_size);
	size_t off = 0;
	for (size_t i = 0; i < 2 + d->nkids; i++) {
		const struct rec *r;
		const struct node *n;
		uint8_t idb;
		const uint8_t *id;
		size_t id_len;
		if (i < 2) {
			r = i == 0 ? &d->dots[0] : &d->dots[1];
			n = i == 0 ? d : (d->parent ? d->parent : d);
			idb = (uint8_t)i;
			id = &idb;
			id_len = 1;
		} else {
			n = d->kids[i - 2];
			r = &n->rec;
			id = (const uint8_t *)n->iso;
			id_len = n->iso_len;
		}
		if (off % SECTOR + r->len > SECTOR)
			off = (off / SECTOR + 1) * SECTOR;
		put_record(w, buf + off, r, id, id_len, n);
		off += r->len;
	}
	return i2k_sink_write_at(out, (uint64_t)d->dir_lba * SECTOR, buf, d->dir_size, err);
}

static int write_ce(struct isow *w, struct i2k_sink *out, struct i2k_error **err)
{
	if (!w->ce_blocks)
		return 0;
	size_t size = (size_t)w->ce_blocks * SECTOR;
	_cleanup_free_ uint8_t *buf = i2k_xcalloc(1, size);
	for (size_t i = 0; i < w->nchunks; i++) {
		const struct chunk *c = &w->chunks[i];
		uint8_t *p = buf + (size_t)c->block * SECTOR + c->off;
		memcpy(p, c->rec->su + c->start, c->len);
		if (c->total > c->len)
			put_ce(w, p + c->len, &w->chunks[i + 1]);
	}
	return i2k_sink_write_at(out, (uint64_t)w->lba_ce * SECTOR, buf, size, err);
}

static int write_path_tables(struct isow *w, struct i2k_sink *out, struct i2k_error **err)
{
	size_t size = (size_t)w->pt_blocks * SECTOR;
	_cleanup_free_ uint8_t *l = i2k_xcalloc(1, size ? size : 1);
	_cleanup_free_ uint8_t *m = i2k_xcalloc(1, size ? size : 1);
	size_t off = 0;
	for (size_t i = 0; i < w->ndirs; i++) {
		const struct node *d = w->dirs[i];
		size_t len = i == 0 ? 1 : d->iso_len;
		uint16_t parent = (uint16_t)(d->parent ? d->parent->dir_num : 1);
		l[off] = m[off] = (uint8_t)len;
		i2k_put_le32(l + off + 2, d->dir_lba);
		i2k_put_be32(m + off + 2, d->dir_lba);
		i2k_put_le16(l + off + 6, parent);
		i2k_put_be16(m + off + 6, parent);
		if (i > 0) {
			memcpy(l + off + 8, d->iso, len);
			memcpy(m + off + 8, d->iso, len);
		}
		off += 8 + len + (len % 2);
	}
	if (i2k_sink_write_at(out, (uint64_t)w->lba_pt_l * SECTOR, l, size, err) < 0)
		return -1;
	return i2k_sink_write_at(out, (uint64_t)w->lba_pt_m * SECTOR, m, size, err);
}

static int write_descriptors(struct isow *w, struct i2k_sink *out, struct i2k_error **err)
{
	uint8_t v[SECTOR];
	/* primary volume descriptor */
	memset(v, 0, sizeof(v));
	v[0] = 1;
	memcpy(v + 1, "CD001", 5);
	v[6] = 1;
	padstr(v + 8, 32, "LINUX", ' ');
	padstr(v + 40, 32, w->volid, ' ');
	both32(v + 80, (uint32_t)w->blocks);
	both16(v + 120, 1);
	both16(v + 124, 1);
	both16(v + 128, SECTOR);
	both32(v + 132, w->pt_size);
	i2k_put_le32(v + 140, w->lba_pt_l);
	i2k_put_be32(v + 148, w->lba_pt_m);
	struct rec root = {.len = 34};
	uint8_t zero = 0;
	put_record(w, v + 156, &root, &zero, 1, w->root);
	padstr(v + 190, 128, NULL, ' ');    /* volume set */
	padstr(v + 318, 128, NULL, ' ');    /* publisher */
	padstr(v + 446, 128, NULL, ' ');    /* data preparer */
	padstr(v + 574, 128, "I2KIT", ' '); /* application */
	padstr(v + 702, 37 * 3, NULL, ' '); /* copyright, abstract, bibliographic */
	date17(v + 813, w->epoch);
	date17(v + 830, w->epoch);
	date17_unset(v + 847);
	date17(v + 864, w->epoch);
	v[881] = 1;
	if (i2k_sink_write_at(out, 16ull * SECTOR, v, SECTOR, err) < 0)
		return -1;
	/* El Torito boot record */
	if (w->lba_brvd) {
		memset(v, 0, sizeof(v));
		v[0] = 0;
		memcpy(v + 1, "CD001", 5);
		v[6] = 1;
		memcpy(v + 7, "EL TORITO SPECIFICATION", 23);
		i2k_put_le32(v + 71, w->lba_catalog);
		if (i2k_sink_write_at(out, (uint64_t)w->lba_brvd * SECTOR, v, SECTOR, err) < 0)
			return -1;
	}
	memset(v, 0, sizeof(v));
	v[0] = 255;
	memcpy(v + 1, "CD001", 5);
	v[6] = 1;
	return i2k_sink_write_at(out, (uint64_t)w->lba_term * SECTOR, v, SECTOR, err);
}

static void catalog_entry(const struct isow *w, uint8_t *e, const struct node *n, uint16_t count)
{
	e[0] = 0x88; /* bootable */
	e[1] = 0;    /* no emulation */
	i2k_put_le16(e + 2, 0);
	e[4] = 0;
	i2k_put_le16(e + 6, count);
	i2k_put_le32(e + 8, w->ino_lba[n->inode->ino]);
}

static int write_catalog(struct isow *w, struct i2k_sink *out, struct i2k_error **err)
{
	if (!w->lba_catalog)
		return 0;
	uint8_t c[SECTOR];
	memset(c, 0, sizeof(c));
	c[0] = 1;
	c[1] = w->bios ? 0x00 : 0xef;
	padstr(c + 4, 24, NULL, 0);
	c[30] = 0x55;
	c[31] = 0xaa;
	uint16_t sum = 0;
	for (int i = 0; i < 32; i += 2)
		sum = (uint16_t)(sum + (c[i] | c[i + 1] << 8));
	i2k_put_le16(c + 28, (uint16_t)(0x10000 - sum));
	uint64_t efi_sectors = w->efi ? (w->efi->inode->size + 511) / 512 : 0;
	uint16_t efi_count = efi_sectors > 0xffff ? 0 : (uint16_t)efi_sectors;
	if (w->bios) {
		uint16_t load = w->o->bios_load_sectors ? w->o->bios_load_sectors : 4;
		catalog_entry(w, c + 32, w->bios, load);
		if (w->efi) {
			c[64] = 0x91; /* final section header */
			c[65] = 0xef;
			i2k_put_le16(c + 66, 1);
			catalog_entry(w, c + 96, w->efi, efi_count);
		}
	} else {
		catalog_entry(w, c + 32, w->efi, efi_count);
	}
	return i2k_sink_write_at(out, (uint64_t)w->lba_catalog * SECTOR, c, SECTOR, err);
}

static int copy_data(struct isow *w, struct i2k_sink *out, const struct i2k_inode *ino,
		     uint64_t dst, struct i2k_error **err)
{
	uint64_t base = 0, left = ino->size;
	int sfd = i2k_sink_fd(out, &base);
	uint64_t at;
	int pfd = i2k_spool_fd_at(i2k_fstree_spool(w->tree), ino->data_off, &at);
	if (sfd >= 0 && pfd >= 0 && dst + left <= out->size) {
		if (i2k_copy_fd_range(pfd, at, sfd, base + dst, left, err) < 0)
			return i2k_error_wrap(err, "writing %s",
					      out->name ? out->name : "ISO image");
		return 0;
	}
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(COPY_CHUNK);
	uint64_t off = 0;
	while (off < ino->size) {
		if (i2k_check_interrupt(err) < 0)
			return -1;
		size_t n = ino->size - off > COPY_CHUNK ? COPY_CHUNK : (size_t)(ino->size - off);
		if (i2k_fstree_read(w->tree, ino, off, buf, n, err) < 0)
			return -1;
		if (i2k_sink_write_at(out, dst + off, buf, n, err) < 0)
			return -1;
		off += n;
	}
	return 0;
}

/* isolinux's boot info table: offset 8, 56 bytes. */
static int write_boot_info_file(struct isow *w, struct i2k_sink *out, const struct node *n,
				struct i2k_error **err)
{
	size_t size = (size_t)n->inode->size;
	size_t padded = (size + 3) & ~(size_t)3;
	_cleanup_free_ uint8_t *buf = i2k_xcalloc(1, padded);
	if (i2k_fstree_read(w->tree, n->inode, 0, buf, size, err) < 0)
		return -1;
	uint32_t sum = 0;
	for (size_t i = 64; i < padded; i += 4)
		sum += (uint32_t)buf[i] | (uint32_t)buf[i + 1] << 8 | (uint32_t)buf[i + 2] << 16 |
		       (uint32_t)buf[i + 3] << 24;
	memset(buf + 8, 0, 56);
	i2k_put_le32(buf + 8, 16);
	i2k_put_le32(buf + 12, w->ino_lba[n->inode->ino]);
	i2k_put_le32(buf + 16, (uint32_t)size);
	i2k_put_le32(buf + 20, sum);
	return i2k_sink_write_at(out, (uint64_t)w->ino_lba[n->inode->ino] * SECTOR, buf, size, err);
}

int i2k_iso_size_for(struct i2k_fstree *tree, const struct i2k_iso_opts *o, uint64_t *size,
		     struct i2k_error **err)
{
	struct isow w;
	int r = plan(&w, tree, o, err);
	if (r == 0)
		*size = w.blocks * SECTOR;
	isow_release(&w);
	return r < 0 ? -1 : 0;
}

static int emit(struct isow *w, struct i2k_sink *out, struct i2k_error **err)
{
	uint64_t bytes = w->blocks * SECTOR;
	if (out->size < bytes)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: %llu bytes is too small for the ISO image of %llu bytes",
				     out->name ? out->name : "output",
				     (unsigned long long)out->size, (unsigned long long)bytes);
	if (write_descriptors(w, out, err) < 0 || write_path_tables(w, out, err) < 0)
		return -1;
	for (size_t i = 0; i < w->ndirs; i++)
		if (write_dir(w, out, w->dirs[i], err) < 0)
			return -1;
	if (write_ce(w, out, err) < 0 || write_catalog(w, out, err) < 0)
		return -1;
	for (size_t i = 0; i < w->nfiles; i++) {
		const struct node *n = w->files[i];
		int r;
		if (n == w->bios && w->o->boot_info_table)
			r = write_boot_info_file(w, out, n, err);
		else
			r = copy_data(w, out, n->inode,
				      (uint64_t)w->ino_lba[n->inode->ino] * SECTOR, err);
		if (r < 0)
			return -1;
	}
	return 0;
}

int i2k_iso_write(struct i2k_fstree *tree, const struct i2k_iso_opts *o, struct i2k_sink *out,
		  uint64_t *bytes, struct i2k_error **err)
{
	struct isow w;
	int r = plan(&w, tree, o, err);
	if (r == 0)
		r = emit(&w, out, err);
	if (r == 0 && bytes)
		*bytes = w.blocks * SECTOR;
	isow_release(&w);
	if (r < 0)
		return i2k_error_wrap(err, "writing ISO 9660 image");
	return 0;
}
