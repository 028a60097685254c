/* depmod.c — modules.dep/alias/softdep/devname from the modules' .modinfo
 * (see depmod.h). */
#include "kernel/depmod.h"

#include <lzma.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define NONE ((size_t)-1)

static const char *const suffixes[] = {".ko", ".ko.xz", ".ko.zst", ".ko.gz"};

/* ---- .modinfo ----------------------------------------------------------- */

static void push(char ***v, size_t *n, const char *s, size_t len)
{
	*v = i2k_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = i2k_xstrndup(s, len);
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void i2k_modinfo_clear(struct i2k_modinfo *mi)
{
	free_list(mi->depends, mi->n_depends);
	free_list(mi->aliases, mi->n_aliases);
	free_list(mi->softdeps, mi->n_softdeps);
	memset(mi, 0, sizeof(*mi));
}

struct elf {
	const uint8_t *p;
	size_t len;
	bool is64, be;
};

static uint64_t rd(const struct elf *e, size_t off, unsigned size)
{
	const uint8_t *q = e->p + off;
	switch (size) {
	case 2:
		return e->be ? i2k_get_be16(q) : i2k_get_le16(q);
	case 4:
		return e->be ? i2k_get_be32(q) : i2k_get_le32(q);
	default:
		return e->be ? ((uint64_t)i2k_get_be32(q) << 32) | i2k_get_be32(q + 4)
			     : i2k_get_le64(q);
	}
}

/* Section i's (offset, size) or false when out of bounds. */
static bool section(const struct elf *e, uint64_t shoff, uint64_t shentsize, uint64_t i,
		    uint64_t *off, uint64_t *size, uint32_t *name)
{
	uint64_t at = shoff + i * shentsize;
	unsigned need = e->is64 ? 64 : 40;
	if (shentsize < need || at > e->len || e->len - at < need)
		return false;
	*name = (uint32_t)rd(e, at, 4);
	*off = e->is64 ? rd(e, at + 24, 8) : rd(e, at + 16, 4);
	*size = e->is64 ? rd(e, at + 32, 8) : rd(e, at + 20, 4);
	return *off <= e->len && *size <= e->len - *off;
}

static void take_modinfo(struct i2k_modinfo *mi, const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	if (eq == NULL)
		return;
	size_t klen = (size_t)(eq - s);
	const char *v = eq + 1;
	size_t vlen = len - klen - 1;
	if (klen == 7 && memcmp(s, "depends", 7) == 0) {
		while (vlen > 0) {
			const char *comma = memchr(v, ',', vlen);
			size_t n = comma ? (size_t)(comma - v) : vlen;
			if (n > 0)
				push(&mi->depends, &mi->n_depends, v, n);
			v += comma ? n + 1 : n;
			vlen -= comma ? n + 1 : n;
		}
	} else if (klen == 5 && memcmp(s, "alias", 5) == 0 && vlen > 0) {
		push(&mi->aliases, &mi->n_aliases, v, vlen);
	} else if (klen == 7 && memcmp(s, "softdep", 7) == 0 && vlen > 0) {
		push(&mi->softdeps, &mi->n_softdeps, v, vlen);
	}
}

int i2k_depmod_modinfo(const void *data, size_t len, struct i2k_modinfo *mi, struct i2k_error **err)
{
	memset(mi, 0, sizeof(*mi));
	struct elf e = {.p = data, .len = len};
	if (len < 52 || memcmp(e.p, "\177ELF", 4) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "not an ELF object");
	if ((e.p[4] != 1 && e.p[4] != 2) || (e.p[5] != 1 && e.p[5] != 2))
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "unknown ELF class or byte order");
	e.is64 = e.p[4] == 2;
	e.be = e.p[5] == 2;
	if (e.is64 && len < 64)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "truncated ELF header");
	uint64_t shoff = e.is64 ? rd(&e, 40, 8) : rd(&e, 32, 4);
	uint64_t shentsize = rd(&e, e.is64 ? 58 : 46, 2);
	uint64_t shnum = rd(&e, e.is64 ? 60 : 48, 2);
	uint64_t shstrndx = rd(&e, e.is64 ? 62 : 50, 2);
	uint64_t stroff, strsize;
	uint32_t ignored;
	if (shnum == 0 || shstrndx >= shnum ||
	    !section(&e, shoff, shentsize, shstrndx, &stroff, &strsize, &ignored))
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "bad ELF section headers");
	for (uint64_t i = 0; i < shnum; i++) {
		uint64_t off, size;
		uint32_t name;
		if (!section(&e, shoff, shentsize, i, &off, &size, &name))
			return i2k_error_set(err, I2K_ERR_INTEGRITY, "bad ELF section %llu",
					     (unsigned long long)i);
		static const char want[] = ".modinfo";
		if (name >= strsize || strsize - name < sizeof(want) ||
		    memcmp(e.p + stroff + name, want, sizeof(want)) != 0)
			continue;
		const char *s = (const char *)e.p + off;
		for (size_t at = 0; at < size;) {
			size_t n = strnlen(s + at, size - at);
			if (n > 0)
				take_modinfo(mi, s + at, n);
			at += n + 1;
		}
		return 0;
	}
	return i2k_error_set(err, I2K_ERR_INTEGRITY, "no .modinfo section");
}

/* ---- decompression -------------------------------------------------------- */

static int too_big(size_t max, struct i2k_error **err)
{
	return i2k_error_set(err, I2K_ERR_INTEGRITY, "decompresses to more than %zu bytes", max);
}

static int gunzip(const void *in, size_t len, size_t max, struct i2k_buf *out,
		  struct i2k_error **err)
{
	z_stream z = {0};
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "inflateInit2 failed");
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	uint8_t chunk[65536];
	int zr = Z_OK, rc = 0;
	while (zr != Z_STREAM_END) {
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "gzip: %s",
					   z.msg ? z.msg : "truncated or corrupt");
			break;
		}
		size_t n = sizeof(chunk) - z.avail_out;
		if (out->len + n > max) {
			rc = too_big(max, err);
			break;
		}
		i2k_buf_append(out, chunk, n, NULL);
		if (zr == Z_OK && n == 0 && z.avail_in == 0) {
			rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "gzip: truncated");
			break;
		}
	}
	inflateEnd(&z);
	return rc;
}

static int unzstd(const void *in, size_t len, size_t max, struct i2k_buf *out,
		  struct i2k_error **err)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	if (d == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "ZSTD_createDStream failed");
	ZSTD_initDStream(d);
	ZSTD_inBuffer ib = {.src = in, .size = len};
	uint8_t chunk[65536];
	int rc = 0;
	size_t zr = 1;
	while (zr != 0) {
		ZSTD_outBuffer ob = {.dst = chunk, .size = sizeof(chunk)};
		zr = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(zr)) {
			rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "zstd: %s",
					   ZSTD_getErrorName(zr));
			break;
		}
		if (out->len + ob.pos > max) {
			rc = too_big(max, err);
			break;
		}
		i2k_buf_append(out, chunk, ob.pos, NULL);
		if (zr != 0 && ib.pos == ib.size && ob.pos < ob.size) {
			rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "zstd: truncated");
			break;
		}
	}
	ZSTD_freeDStream(d);
	return rc;
}

static int unxz(const void *in, size_t len, size_t max, struct i2k_buf *out, struct i2k_error **err)
{
	lzma_stream s = LZMA_STREAM_INIT;
	if (lzma_stream_decoder(&s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "lzma_stream_decoder failed");
	s.next_in = in;
	s.avail_in = len;
	uint8_t chunk[65536];
	int rc = 0;
	lzma_ret lr = LZMA_OK;
	while (lr != LZMA_STREAM_END) {
		s.next_out = chunk;
		s.avail_out = sizeof(chunk);
		lr = lzma_code(&s, s.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
		if (lr != LZMA_OK && lr != LZMA_STREAM_END) {
			rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "xz: %s",
					   lr == LZMA_BUF_ERROR ? "truncated" : "corrupt data");
			break;
		}
		size_t n = sizeof(chunk) - s.avail_out;
		if (out->len + n > max) {
			rc = too_big(max, err);
			break;
		}
		i2k_buf_append(out, chunk, n, NULL);
	}
	lzma_end(&s);
	return rc;
}

int i2k_depmod_decompress(const char *name, const void *in, size_t len, size_t max, void **out,
			  size_t *outlen, struct i2k_error **err)
{
	struct i2k_buf b = {.max = 0};
	int rc;
	if (i2k_str_has_suffix(name, ".xz")) {
		rc = unxz(in, len, max, &b, err);
	} else if (i2k_str_has_suffix(name, ".zst")) {
		rc = unzstd(in, len, max, &b, err);
	} else if (i2k_str_has_suffix(name, ".gz")) {
		rc = gunzip(in, len, max, &b, err);
	} else if (len > max) {
		rc = too_big(max, err);
	} else {
		rc = 0;
		i2k_buf_append(&b, in, len, NULL);
	}
	if (rc < 0) {
		i2k_buf_free(&b);
		return rc;
	}
	*outlen = b.len;
	*out = b.data ? b.data : i2k_xcalloc(1, 1);
	return 0;
}

/* ---- the module set ------------------------------------------------------- */

struct dmod {
	char *path; /* relative to dir */
	char *name; /* normalised */
	struct i2k_modinfo mi;
	size_t *deps; /* resolved direct dependencies (indices) */
	size_t ndeps;
	size_t order;	 /* position in modules.order, NONE when absent */
	size_t sort_idx; /* topological index: dependents before dependencies */
	size_t users;
	bool shadowed; /* another file of the same name wins */
};

struct dset {
	struct dmod *v;
	size_t n, cap;
};

static void dset_clear(struct dset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].path);
		free(s->v[i].name);
		free(s->v[i].deps);
		i2k_modinfo_clear(&s->v[i].mi);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static char *normalise(const char *path)
{
	const char *base = strrchr(path, '/');
	char *s = i2k_xstrdup(base ? base + 1 : path);
	for (size_t i = I2K_ARRAY_SIZE(suffixes); i-- > 0;) {
		if (i2k_str_has_suffix(s, suffixes[i])) {
			s[strlen(s) - strlen(suffixes[i])] = '\0';
			break;
		}
	}
	for (char *p = s; *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

static bool is_module(const char *name)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(suffixes); i++)
		if (i2k_str_has_suffix(name, suffixes[i]) && strlen(name) > strlen(suffixes[i]))
			return true;
	return false;
}

struct walk_ctx {
	const char *dir;
	size_t dlen;
	struct dset *set;
};

static int collect_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct walk_ctx *w = ctx;
	if (strncmp(e->path, w->dir, w->dlen) != 0 || e->path[w->dlen] != '/' ||
	    !S_ISREG(e->inode->mode) || !is_module(e->name))
		return 0;
	struct dset *s = w->set;
	i2k_xgrow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	struct dmod *m = &s->v[s->n++];
	memset(m, 0, sizeof(*m));
	m->path = i2k_xstrdup(e->path + w->dlen + 1);
	m->name = normalise(m->path);
	m->order = NONE;
	return 0;
}

static int read_tree_file(struct i2k_fstree *t, const char *path, size_t max, char **out,
			  size_t *len, struct i2k_error **err)
{
	*out = NULL;
	*len = 0;
	struct i2k_inode *ino = i2k_fstree_lookup(t, path);
	if (ino == NULL || !S_ISREG(ino->mode))
		return 0;
	if (ino->size > max)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: exceeds %zu bytes", path, max);
	char *buf = i2k_xmalloc(ino->size + 1);
	if (ino->size > 0 && i2k_fstree_read(t, ino, 0, buf, ino->size, err) < 0) {
		free(buf);
		return -1;
	}
	buf[ino->size] = '\0';
	*out = buf;
	*len = ino->size;
	return 0;
}

/* An uncompressed module's .modinfo read through a mapping of the spool: only
 * the pages of the ELF header, section headers, names and .modinfo are
 * touched, not the whole module (a distribution kernel has ~90 MB of them,
 * read on every build otherwise). False when it cannot be mapped: the
 * caller reads the file instead. */
static bool modinfo_mapped(struct i2k_fstree *t, const char *path, struct i2k_modinfo *mi,
			   struct i2k_error **soft)
{
	struct i2k_inode *ino = i2k_fstree_lookup(t, path);
	if (ino == NULL || !S_ISREG(ino->mode) || ino->size == 0 ||
	    ino->size > I2K_DEPMOD_MODULE_MAX)
		return false;
	uint64_t at;
	int fd = i2k_spool_fd_at(i2k_fstree_spool(t), ino->data_off, &at);
	long page = sysconf(_SC_PAGESIZE);
	if (fd < 0 || page <= 0)
		return false;
	uint64_t base = at - at % (uint64_t)page, delta = at - base;
	void *map =
	    mmap(NULL, (size_t)(ino->size + delta), PROT_READ, MAP_PRIVATE, fd, (off_t)base);
	if (map == MAP_FAILED)
		return false;
	i2k_depmod_modinfo((const char *)map + delta, (size_t)ino->size, mi, soft);
	munmap(map, (size_t)(ino->size + delta));
	return true;
}

/* Reads one module's .modinfo; an unreadable module is reported, not fatal
 * (returns 1); I/O errors of the spool are fatal. */
static int read_module(struct i2k_fstree *t, const char *dir, struct dmod *m,
		       struct i2k_depmod_report *rep, struct i2k_error **err)
{
	_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, m->path);
	_cleanup_free_ char *raw = NULL;
	size_t len;
	struct i2k_error *soft = NULL;
	if (i2k_str_has_suffix(m->path, ".ko") && modinfo_mapped(t, p, &m->mi, &soft)) {
		/* done: soft says whether it was readable */
	} else if (read_tree_file(t, p, I2K_DEPMOD_MODULE_MAX, &raw, &len, &soft) < 0) {
		if (soft->code != I2K_ERR_INTEGRITY) {
			if (err)
				*err = soft;
			else
				i2k_error_free(soft);
			return -1;
		}
	} else {
		_cleanup_free_ void *elf = NULL;
		size_t elen = 0;
		if (i2k_depmod_decompress(m->path, raw, len, I2K_DEPMOD_MODULE_MAX, &elf, &elen,
					  &soft) == 0)
			i2k_depmod_modinfo(elf, elen, &m->mi, &soft);
	}
	if (soft == NULL)
		return 0;
	rep->unreadable++;
	if (rep->first_bad == NULL)
		rep->first_bad = i2k_xasprintf("%s: %s", m->path, soft->msg);
	i2k_error_free(soft);
	return 1;
}

/* Module name → index of the winning file (linear probing, borrowed keys). */
struct nmap {
	const char **k;
	size_t *v;
	size_t cap;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static size_t nmap_slot(const struct nmap *m, const char *key)
{
	size_t i = fnv(key) & (m->cap - 1);
	while (m->k[i] && strcmp(m->k[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static size_t nmap_get(const struct nmap *m, const char *key)
{
	size_t i = nmap_slot(m, key);
	return m->k[i] ? m->v[i] : NONE;
}

static int cmp_size(const void *a, const void *b, void *ctx)
{
	const struct dmod *v = ctx;
	size_t x = v[*(const size_t *)a].sort_idx, y = v[*(const size_t *)b].sort_idx;
	return x < y ? -1 : x > y;
}

static int cmp_output(const void *a, const void *b, void *ctx)
{
	const struct dmod *v = ctx;
	const struct dmod *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* depmod's topological sort: a stack of modules nobody (left) depends on,
 * seeded in output order; each module gets its index when popped, so users
 * come before their dependencies (cycles are broken in output order). */
static void topo_sort(struct dset *s, const size_t *out_order)
{
	size_t *stack = i2k_xmalloc((s->n + 1) * sizeof(*stack));
	bool *done = i2k_xcalloc(s->n + 1, sizeof(*done));
	size_t sp = 0, idx = 0;
	for (size_t i = 0; i < s->n; i++)
		for (size_t d = 0; d < s->v[i].ndeps; d++)
			s->v[s->v[i].deps[d]].users++;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = out_order[k];
		if (!s->v[i].shadowed && s->v[i].users == 0) {
			done[i] = true;
			stack[sp++] = i;
		}
	}
	for (;;) {
		if (sp == 0) {
			/* a cycle: take the first module left */
			size_t k = 0;
			while (k < s->n && (done[out_order[k]] || s->v[out_order[k]].shadowed))
				k++;
			if (k == s->n)
				break;
			done[out_order[k]] = true;
			stack[sp++] = out_order[k];
		}
		while (sp > 0) {
			struct dmod *m = &s->v[stack[--sp]];
			m->sort_idx = idx++;
			for (size_t d = 0; d < m->ndeps; d++) {
				struct dmod *dm = &s->v[m->deps[d]];
				if (dm->users > 0)
					dm->users--;
				if (dm->users == 0 && !done[m->deps[d]]) {
					done[m->deps[d]] = true;
					stack[sp++] = m->deps[d];
				}
			}
		}
	}
	free(stack);
	free(done);
}

static int put_file(struct i2k_fstree *t, const char *dir, const char *name,
		    const struct i2k_buf *b, struct i2k_error **err)
{
	_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, name);
	uint64_t off = 0;
	if (b->len > 0 && i2k_spool_append(i2k_fstree_spool(t), b->data, b->len, &off, err) < 0)
		return i2k_error_wrap(err, "writing %s", p);
	struct i2k_fattr at = {.mode = S_IFREG | 0644, .mtime = i2k_source_date_epoch()};
	return i2k_fstree_add(t, p, &at, NULL, off, b->len, I2K_FSTREE_REPLACE, NULL, err);
}

static void bprintf(struct i2k_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct i2k_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	i2k_buf_append(b, s, (size_t)n, NULL);
	free(s);
}

/* "char-major-10-229" → 'c', "10:229"; NULL when alias is not one. */
static bool major_minor(const char *alias, char *type, char *mm, size_t mmlen)
{
	unsigned maj, min;
	int used = 0;
	if (sscanf(alias, "char-major-%u-%u%n", &maj, &min, &used) == 2 && alias[used] == '\0')
		*type = 'c';
	else if (sscanf(alias, "block-major-%u-%u%n", &maj, &min, &used) == 2 &&
		 alias[used] == '\0')
		*type = 'b';
	else
		return false;
	snprintf(mm, mmlen, "%u:%u", maj, min);
	return true;
}

int i2k_depmod_generate(struct i2k_fstree *t, const char *dir, struct i2k_depmod_report *rep,
			struct i2k_error **err)
{
	struct i2k_depmod_report local;
	if (rep == NULL)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	struct dset s = {0};
	struct walk_ctx w = {.dir = dir, .dlen = strlen(dir), .set = &s};
	i2k_fstree_walk(t, false, collect_cb, &w);
	int rc = -1;
	struct nmap names = {.cap = 64};
	while (names.cap < s.n * 2 + 2)
		names.cap *= 2;
	names.k = i2k_xcalloc(names.cap, sizeof(*names.k));
	names.v = i2k_xcalloc(names.cap, sizeof(*names.v));
	size_t *out_order = i2k_xmalloc((s.n + 1) * sizeof(*out_order));
	size_t *closure = i2k_xmalloc((s.n + 1) * sizeof(*closure));
	bool *in_closure = i2k_xcalloc(s.n + 1, sizeof(*in_closure));
	struct i2k_buf dep = {.max = 0}, alias = {.max = 0}, soft = {.max = 0},
		       devname = {.max = 0};
	_cleanup_free_ char *order_txt = NULL;
	_cleanup_free_ char *op = i2k_xasprintf("%s/modules.order", dir);
	size_t olen = 0;

	for (size_t i = 0; i < s.n; i++) {
		if (read_module(t, dir, &s.v[i], rep, err) < 0)
			goto out;
		rep->modules++;
	}
	/* Winners by name: updates/ first, then path order (the walk's). */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s.n; i++) {
			bool upd = i2k_str_has_prefix(s.v[i].path, "updates/");
			if (upd != (pass == 0))
				continue;
			size_t slot = nmap_slot(&names, s.v[i].name);
			if (names.k[slot]) {
				s.v[i].shadowed = true;
				continue;
			}
			names.k[slot] = s.v[i].name;
			names.v[slot] = i;
		}
	}
	/* Direct dependencies. */
	for (size_t i = 0; i < s.n; i++) {
		struct dmod *m = &s.v[i];
		if (m->shadowed)
			continue;
		m->deps = i2k_xcalloc(m->mi.n_depends + 1, sizeof(*m->deps));
		for (size_t d = 0; d < m->mi.n_depends; d++) {
			_cleanup_free_ char *n = normalise(m->mi.depends[d]);
			size_t j = nmap_get(&names, n);
			if (j != NONE && j != i)
				m->deps[m->ndeps++] = j;
		}
	}
	/* Output order: modules.order, then path order. */
	if (read_tree_file(t, op, 32u << 20, &order_txt, &olen, err) < 0)
		goto out;
	size_t pos = 0;
	for (char *line = order_txt; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		_cleanup_free_ char *n = normalise(line);
		size_t j = nmap_get(&names, n);
		if (j != NONE && s.v[j].order == NONE)
			s.v[j].order = pos++;
		line = nl ? nl + 1 : NULL;
	}
	for (size_t i = 0; i < s.n; i++)
		out_order[i] = i;
	qsort_r(out_order, s.n, sizeof(*out_order), cmp_output, s.v);
	topo_sort(&s, out_order);

	for (size_t k = 0; k < s.n; k++) {
		size_t i = out_order[k];
		struct dmod *m = &s.v[i];
		if (m->shadowed)
			continue;
		/* the closure, dependents before their dependencies */
		size_t nc = 0, scan = 0;
		for (size_t d = 0; d < m->ndeps; d++)
			if (!in_closure[m->deps[d]]) {
				in_closure[m->deps[d]] = true;
				closure[nc++] = m->deps[d];
			}
		while (scan < nc) {
			struct dmod *c = &s.v[closure[scan++]];
			for (size_t d = 0; d < c->ndeps; d++)
				if (c->deps[d] != i && !in_closure[c->deps[d]]) {
					in_closure[c->deps[d]] = true;
					closure[nc++] = c->deps[d];
				}
		}
		qsort_r(closure, nc, sizeof(*closure), cmp_size, s.v);
		bprintf(&dep, "%s:", m->path);
		for (size_t c = 0; c < nc; c++) {
			bprintf(&dep, " %s", s.v[closure[c]].path);
			in_closure[closure[c]] = false;
		}
		bprintf(&dep, "\n");
	}
	bprintf(&alias, "# Aliases extracted from modules themselves.\n");
	bprintf(&soft, "# Soft dependencies extracted from modules themselves.\n");
	bprintf(&devname, "# Device nodes to trigger on-demand module loading.\n");
	for (size_t k = 0; k < s.n; k++) {
		struct dmod *m = &s.v[out_order[k]];
		if (m->shadowed)
			continue;
		const char *dev = NULL;
		char type = 0, mm[32] = "";
		for (size_t a = 0; a < m->mi.n_aliases; a++) {
			const char *al = m->mi.aliases[a];
			bprintf(&alias, "alias %s %s\n", al, m->name);
			if (i2k_str_has_prefix(al, "devname:"))
				dev = dev ? dev : al + 8;
			else if (type == 0)
				major_minor(al, &type, mm, sizeof(mm));
		}
		for (size_t d = 0; d < m->mi.n_softdeps; d++)
			bprintf(&soft, "softdep %s %s\n", m->name, m->mi.softdeps[d]);
		if (dev && type)
			bprintf(&devname, "%s %s %c%s\n", m->name, dev, type, mm);
	}
	if (put_file(t, dir, "modules.dep", &dep, err) < 0 ||
	    put_file(t, dir, "modules.alias", &alias, err) < 0 ||
	    put_file(t, dir, "modules.softdep", &soft, err) < 0 ||
	    put_file(t, dir, "modules.devname", &devname, err) < 0)
		goto out;
	rc = 0;
out:
	i2k_buf_free(&dep);
	i2k_buf_free(&alias);
	i2k_buf_free(&soft);
	i2k_buf_free(&devname);
	free(names.k);
	free(names.v);
	free(out_order);
	free(closure);
	free(in_closure);
	dset_clear(&s);
	if (rep == &local)
		free(local.first_bad);
	return rc;
}
