/* modules.c — kernel module pruning by dependency closure (see modules.h). */
#include "kernel/modules.h"

#include <fnmatch.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "kernel/depmod.h"

const char *const I2K_MODULES_AUTO_DEFAULT[] = {
    "virtio_pci",     "virtio_mmio",  "virtio_net", "virtio_blk",
    "virtio_scsi",    "sd_mod",	      "virtio_rng", "virtio_console",
    "virtio_balloon", "squashfs",     "isofs",	    "erofs",
    "overlay",	      "ena",	      "nvme",	    "nvme_core",
    "xen_blkfront",   "xen_netfront", "button",	    "qemu_fw_cfg",
    "af_packet",      NULL,
};

#define NONE ((size_t)-1)

static const char *const module_suffixes[] = {".ko", ".ko.xz", ".ko.zst", ".ko.gz"};

/* ---- small string → index map (open addressing, borrowed keys) ---------- */

struct strmap {
	const char **keys;
	size_t *vals;
	size_t cap, n;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static size_t strmap_get(const struct strmap *m, const char *key)
{
	if (m->cap == 0)
		return NONE;
	for (size_t i = str_hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == NULL)
			return NONE;
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	}
}

static void strmap_put_raw(struct strmap *m, const char *key, size_t val)
{
	size_t i = str_hash(key) & (m->cap - 1);
	while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	if (m->keys[i] == NULL)
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
}

/* Sets key → val (replacing). */
static void strmap_put(struct strmap *m, const char *key, size_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct strmap bigger = {.cap = m->cap ? m->cap * 2 : 64};
		bigger.keys = i2k_xcalloc(bigger.cap, sizeof(*bigger.keys));
		bigger.vals = i2k_xcalloc(bigger.cap, sizeof(*bigger.vals));
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i])
				strmap_put_raw(&bigger, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = bigger;
	}
	strmap_put_raw(m, key, val);
}

static void strmap_free(struct strmap *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ---- names ---------------------------------------------------------------- */

char *i2k_modules_normalize(char *s)
{
	char *base = strrchr(s, '/');
	if (base)
		memmove(s, base + 1, strlen(base + 1) + 1);
	for (size_t i = I2K_ARRAY_SIZE(module_suffixes); i-- > 0;) {
		if (i2k_str_has_suffix(s, module_suffixes[i])) {
			s[strlen(s) - strlen(module_suffixes[i])] = '\0';
			break;
		}
	}
	for (char *p = s; *p; p++)
		if (*p == '-')
			*p = '_';
	return s;
}

static bool is_module_file(const char *name)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(module_suffixes); i++)
		if (i2k_str_has_suffix(name, module_suffixes[i]) &&
		    strlen(name) > strlen(module_suffixes[i]))
			return true;
	return false;
}

/* '-' → '_' outside [...] (kmod's alias_normalize), in place. */
static void alias_normalize(char *s)
{
	bool in_bracket = false;
	for (char *p = s; *p; p++) {
		if (*p == '[')
			in_bracket = true;
		else if (*p == ']')
			in_bracket = false;
		else if (*p == '-' && !in_bracket)
			*p = '_';
	}
}

/* ---- reading and writing files of the tree -------------------------------- */

/* Reads a regular file of the tree; *out = NULL (return 0) when path is
 * absent or not a regular file. */
static int tree_read(struct i2k_fstree *t, const char *path, char **out, size_t *len,
		     struct i2k_error **err)
{
	*out = NULL;
	*len = 0;
	struct i2k_inode *ino = i2k_fstree_lookup(t, path);
	if (ino == NULL || !S_ISREG(ino->mode))
		return 0;
	if (ino->size > I2K_MODULES_FILE_MAX)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: exceeds %u bytes", path,
				     I2K_MODULES_FILE_MAX);
	char *buf = i2k_xmalloc(ino->size + 1);
	if (ino->size > 0 && i2k_fstree_read(t, ino, 0, buf, ino->size, err) < 0) {
		free(buf);
		return i2k_error_wrap(err, "reading %s", path);
	}
	buf[ino->size] = '\0';
	*out = buf;
	*len = ino->size;
	return 0;
}

/* Replaces a regular file of the tree with new contents, keeping its
 * attributes. */
static int tree_rewrite(struct i2k_fstree *t, const char *path, const char *data, size_t len,
			struct i2k_error **err)
{
	struct i2k_inode *old = i2k_fstree_lookup(t, path);
	if (old == NULL)
		return 0;
	struct i2k_fattr at = {.mode = old->mode,
			       .uid = old->uid,
			       .gid = old->gid,
			       .mtime = old->mtime,
			       .mtime_ns = old->mtime_ns};
	uint64_t off = 0;
	if (len > 0 && i2k_spool_append(i2k_fstree_spool(t), data, len, &off, err) < 0)
		return i2k_error_wrap(err, "rewriting %s", path);
	return i2k_fstree_add(t, path, &at, NULL, off, len, I2K_FSTREE_REPLACE, NULL, err);
}

/* ---- collecting paths with a walk ---------------------------------------- */

struct entry {
	char *rel; /* path below the walked prefix */
	bool is_dir, is_mod;
	uint64_t size;
	size_t parent; /* index in the array, NONE for direct children */
	bool remove, has_kept, had_removal;
};

struct collect {
	const char *prefix; /* "lib/modules/VER" */
	size_t plen;
	unsigned base_depth; /* depth of prefix's children */
	struct entry *v;
	size_t n, cap;
	size_t stack[64];
};

static int collect_cb(const struct i2k_walk_entry *e, void *ctx)
{
	struct collect *c = ctx;
	if (strncmp(e->path, c->prefix, c->plen) != 0 || e->path[c->plen] != '/')
		return 0;
	unsigned rel_depth = e->depth - c->base_depth; /* 0 for direct children */
	if (rel_depth >= I2K_ARRAY_SIZE(c->stack))
		return 0; /* absurdly deep: leave it alone */
	i2k_xgrow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v));
	struct entry *en = &c->v[c->n];
	memset(en, 0, sizeof(*en));
	en->rel = i2k_xstrdup(e->path + c->plen + 1);
	en->is_dir = S_ISDIR(e->inode->mode);
	en->is_mod = S_ISREG(e->inode->mode) && is_module_file(e->name);
	en->size = S_ISREG(e->inode->mode) ? e->inode->size : 0;
	en->parent = rel_depth == 0 ? NONE : c->stack[rel_depth - 1];
	c->stack[rel_depth] = c->n;
	c->n++;
	return 0;
}

static void collect_clear(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].rel);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

static unsigned path_depth(const char *p)
{
	unsigned d = 1;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

static void collect_under(struct i2k_fstree *t, const char *prefix, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	c->prefix = prefix;
	c->plen = strlen(prefix);
	c->base_depth = path_depth(prefix) + 1;
	i2k_fstree_walk(t, false, collect_cb, c);
}

/* ---- one kernel version ------------------------------------------------- */

struct mod {
	char *path; /* relative to the VER dir, as in modules.dep */
	char *name; /* normalised */
	size_t *deps;
	size_t ndeps;
	size_t next_same; /* next module with the same name, NONE */
	bool keep;
};

struct kver {
	const char *dir; /* "lib/modules/VER" */
	const char *ver;
	struct mod *mods;
	size_t n, cap;
	struct strmap by_path, by_name, builtin;
	char **builtin_names;
	size_t nbuiltin;
	char *alias, *softdep, *builtin_modinfo; /* file contents, NULL if absent */
	size_t builtin_modinfo_len;
	bool changed; /* a module was newly marked */
};

static void kver_clear(struct kver *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->mods[i].path);
		free(kv->mods[i].name);
		free(kv->mods[i].deps);
	}
	free(kv->mods);
	for (size_t i = 0; i < kv->nbuiltin; i++)
		free(kv->builtin_names[i]);
	free(kv->builtin_names);
	strmap_free(&kv->by_path);
	strmap_free(&kv->by_name);
	strmap_free(&kv->builtin);
	free(kv->alias);
	free(kv->softdep);
	free(kv->builtin_modinfo);
}

/* modules.dep paths are relative; old depmods wrote /lib/modules/VER/... */
static char *dep_path(const struct kver *kv, const char *p, size_t len)
{
	char *s = i2k_xstrndup(p, len);
	if (s[0] == '/') {
		_cleanup_free_ char *pre = i2k_xasprintf("/lib/modules/%s/", kv->ver);
		size_t off = i2k_str_has_prefix(s, pre) ? strlen(pre) : 1;
		memmove(s, s + off, strlen(s + off) + 1);
	}
	return s;
}

static void parse_dep(struct kver *kv, char *buf)
{
	/* Pass 1: one module per line (the part before ':'). */
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		char *colon = strchr(line, ':');
		if (colon && (nl == NULL || colon < nl) && colon > line && line[0] != '#') {
			char *path = dep_path(kv, line, (size_t)(colon - line));
			if (strmap_get(&kv->by_path, path) != NONE) {
				free(path);
			} else {
				i2k_xgrow((void **)&kv->mods, &kv->cap, kv->n + 1,
					  sizeof(*kv->mods));
				struct mod *m = &kv->mods[kv->n];
				memset(m, 0, sizeof(*m));
				m->path = path;
				m->name = i2k_modules_normalize(i2k_xstrdup(path));
				m->next_same = NONE;
				size_t first = strmap_get(&kv->by_name, m->name);
				if (first == NONE) {
					strmap_put(&kv->by_name, m->name, kv->n);
				} else {
					size_t j = first;
					while (kv->mods[j].next_same != NONE)
						j = kv->mods[j].next_same;
					kv->mods[j].next_same = kv->n;
				}
				kv->n++;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	/* by_path keys point into mods[], which is final now. */
	for (size_t i = 0; i < kv->n; i++)
		strmap_put(&kv->by_path, kv->mods[i].path, i);
	/* Pass 2: dependencies. */
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		char *end = nl ? nl : line + strlen(line);
		char *colon = memchr(line, ':', (size_t)(end - line));
		if (colon && colon > line && line[0] != '#') {
			_cleanup_free_ char *path = dep_path(kv, line, (size_t)(colon - line));
			struct mod *m = &kv->mods[strmap_get(&kv->by_path, path)];
			for (char *p = colon + 1; p < end;) {
				while (p < end && (*p == ' ' || *p == '\t'))
					p++;
				char *q = p;
				while (q < end && *q != ' ' && *q != '\t')
					q++;
				if (q > p) {
					_cleanup_free_ char *d = dep_path(kv, p, (size_t)(q - p));
					size_t di = strmap_get(&kv->by_path, d);
					if (di != NONE) {
						m->deps = i2k_xrealloc(
						    m->deps, (m->ndeps + 1) * sizeof(*m->deps));
						m->deps[m->ndeps++] = di;
					}
				}
				p = q;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
}

static void parse_builtin(struct kver *kv, const char *buf)
{
	for (const char *line = buf; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 0 && line[0] != '#') {
			char *name = i2k_modules_normalize(i2k_xstrndup(line, len));
			kv->builtin_names =
			    i2k_xrealloc(kv->builtin_names, (kv->nbuiltin + 1) * sizeof(char *));
			kv->builtin_names[kv->nbuiltin++] = name;
		}
		line = nl ? nl + 1 : NULL;
	}
	for (size_t i = 0; i < kv->nbuiltin; i++)
		strmap_put(&kv->builtin, kv->builtin_names[i], i);
}

/* Marks every module named name (normalised). Returns true if any. */
static bool mark_name(struct kver *kv, const char *name)
{
	size_t i = strmap_get(&kv->by_name, name);
	if (i == NONE)
		return false;
	for (; i != NONE; i = kv->mods[i].next_same) {
		if (!kv->mods[i].keep)
			kv->changed = true;
		kv->mods[i].keep = true;
	}
	return true;
}

static bool alias_matches(const char *pattern, size_t plen, const char *raw, const char *norm)
{
	_cleanup_free_ char *pat = i2k_xstrndup(pattern, plen);
	if (fnmatch(pat, raw, 0) == 0)
		return true;
	alias_normalize(pat);
	return fnmatch(pat, norm, 0) == 0;
}

/* Resolves one wanted name: a module, a built-in, or an alias of modules or
 * built-ins. Marks the modules found. Returns true if the name is known. */
static bool want(struct kver *kv, const char *raw)
{
	_cleanup_free_ char *name = i2k_modules_normalize(i2k_xstrdup(raw));
	if (*name == '\0')
		return false;
	if (mark_name(kv, name))
		return true;
	if (strmap_get(&kv->builtin, name) != NONE)
		return true;
	_cleanup_free_ char *norm = i2k_xstrdup(raw);
	alias_normalize(norm);
	bool found = false;
	/* modules.alias: "alias PATTERN MODULE" */
	for (const char *line = kv->alias; line && *line;) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		if (strncmp(line, "alias ", 6) == 0) {
			const char *pat = line + 6;
			const char *sp = memchr(pat, ' ', (size_t)(end - pat));
			if (sp && alias_matches(pat, (size_t)(sp - pat), raw, norm)) {
				_cleanup_free_ char *mod = i2k_modules_normalize(
				    i2k_xstrndup(sp + 1, (size_t)(end - sp - 1)));
				found |=
				    mark_name(kv, mod) || strmap_get(&kv->builtin, mod) != NONE;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	/* modules.builtin.modinfo: NUL-separated "MODULE.alias=PATTERN" */
	for (size_t off = 0; !found && off < kv->builtin_modinfo_len;) {
		const char *s = kv->builtin_modinfo + off;
		size_t len = strnlen(s, kv->builtin_modinfo_len - off);
		const char *eq = memchr(s, '=', len);
		if (eq && eq - s > 6 && memcmp(eq - 6, ".alias", 6) == 0 &&
		    alias_matches(eq + 1, (size_t)(s + len - eq - 1), raw, norm))
			found = true;
		off += len + 1;
	}
	return found;
}

/* modules.softdep: "softdep MODULE [pre:] A B [post: C]" — pulls A B C in
 * for every kept MODULE (unknown targets are ignored, as modprobe does). */
static void add_softdeps(struct kver *kv)
{
	for (const char *line = kv->softdep; line && *line;) {
		const char *nl = strchr(line, '\n');
		_cleanup_free_ char *l =
		    i2k_xstrndup(line, nl ? (size_t)(nl - line) : strlen(line));
		line = nl ? nl + 1 : NULL;
		char *save = NULL;
		char *tok = strtok_r(l, " \t", &save);
		if (tok == NULL || strcmp(tok, "softdep") != 0)
			continue;
		char *mod = strtok_r(NULL, " \t", &save);
		if (mod == NULL)
			continue;
		i2k_modules_normalize(mod);
		size_t i = strmap_get(&kv->by_name, mod);
		if (i == NONE || !kv->mods[i].keep)
			continue;
		while ((tok = strtok_r(NULL, " \t", &save)) != NULL)
			if (strcmp(tok, "pre:") != 0 && strcmp(tok, "post:") != 0)
				want(kv, tok);
	}
}

/* Marks the dependency closure of every kept module, softdeps included. */
static void close_deps(struct kver *kv)
{
	size_t *stack = i2k_xmalloc((kv->n + 1) * sizeof(*stack));
	bool *seen = i2k_xcalloc(kv->n + 1, sizeof(*seen));
	do {
		kv->changed = false;
		size_t sp = 0;
		for (size_t i = 0; i < kv->n; i++) {
			if (kv->mods[i].keep && !seen[i]) {
				seen[i] = true;
				stack[sp++] = i;
			}
		}
		while (sp > 0) {
			struct mod *m = &kv->mods[stack[--sp]];
			for (size_t d = 0; d < m->ndeps; d++) {
				size_t j = m->deps[d];
				kv->mods[j].keep = true;
				if (!seen[j]) {
					seen[j] = true;
					stack[sp++] = j;
				}
			}
		}
		add_softdeps(kv);
	} while (kv->changed);
	free(stack);
	free(seen);
}

/* ---- rewriting metadata ------------------------------------------------- */

enum filter_key {
	KEY_DEP_PATH,	 /* modules.dep: "PATH: ..." */
	KEY_LINE_PATH,	 /* modules.order: "PATH" */
	KEY_LAST_NAME,	 /* modules.alias, modules.symbols: "alias X NAME" */
	KEY_SECOND_NAME, /* modules.softdep: "softdep NAME ..." */
	KEY_FIRST_NAME,	 /* modules.devname: "NAME dev type" */
};

static bool line_kept(struct kver *kv, const char *line, size_t len, enum filter_key key)
{
	if (len == 0 || line[0] == '#')
		return true;
	_cleanup_free_ char *l = i2k_xstrndup(line, len);
	const char *field = NULL;
	char *save = NULL;
	switch (key) {
	case KEY_DEP_PATH: {
		char *colon = strchr(l, ':');
		if (colon == NULL)
			return true;
		_cleanup_free_ char *p = dep_path(kv, l, (size_t)(colon - l));
		size_t i = strmap_get(&kv->by_path, p);
		return i == NONE || kv->mods[i].keep;
	}
	case KEY_LINE_PATH: {
		_cleanup_free_ char *p = dep_path(kv, l, strlen(l));
		size_t i = strmap_get(&kv->by_path, p);
		if (i != NONE)
			return kv->mods[i].keep;
		/* Not in modules.dep: the file is gone unless it is kept by name. */
		i2k_modules_normalize(p);
		i = strmap_get(&kv->by_name, p);
		return i != NONE && kv->mods[i].keep;
	}
	case KEY_LAST_NAME: {
		char *sp = strrchr(l, ' ');
		field = sp ? sp + 1 : l;
		break;
	}
	case KEY_SECOND_NAME:
		strtok_r(l, " \t", &save);
		field = strtok_r(NULL, " \t", &save);
		break;
	case KEY_FIRST_NAME:
		field = strtok_r(l, " \t", &save);
		break;
	}
	if (field == NULL)
		return true;
	_cleanup_free_ char *name = i2k_modules_normalize(i2k_xstrdup(field));
	size_t i = strmap_get(&kv->by_name, name);
	return i == NONE ? strmap_get(&kv->builtin, name) != NONE : kv->mods[i].keep;
}

static int filter_file(struct i2k_fstree *t, struct kver *kv, const char *file, enum filter_key key,
		       struct i2k_error **err)
{
	_cleanup_free_ char *path = i2k_xasprintf("%s/%s", kv->dir, file);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (tree_read(t, path, &buf, &len, err) < 0)
		return -1;
	if (buf == NULL)
		return 0;
	struct i2k_buf out = {.max = 0};
	for (size_t off = 0; off < len;) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t llen = nl ? (size_t)(nl - line) : len - off;
		if (line_kept(kv, line, llen, key))
			i2k_buf_append(&out, line, nl ? llen + 1 : llen, NULL);
		off += nl ? llen + 1 : llen;
	}
	int r = 0;
	if (out.len != len)
		r = tree_rewrite(t, path, out.data ? out.data : "", out.len, err);
	i2k_buf_free(&out);
	return r;
}

/* ---- wanted names from the tree (AUTO) ------------------------------------ */

struct names {
	char **v;
	const char **src; /* where each came from (for warnings), static or owned below */
	size_t n;
	char **owned_src;
	size_t n_owned_src;
};

static void names_add(struct names *ns, const char *name, size_t len, const char *src)
{
	ns->v = i2k_xrealloc(ns->v, (ns->n + 1) * sizeof(*ns->v));
	ns->src = i2k_xrealloc(ns->src, (ns->n + 1) * sizeof(*ns->src));
	ns->v[ns->n] = i2k_xstrndup(name, len);
	ns->src[ns->n] = src;
	ns->n++;
}

static void names_clear(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	for (size_t i = 0; i < ns->n_owned_src; i++)
		free(ns->owned_src[i]);
	free(ns->v);
	free(ns->src);
	free(ns->owned_src);
	memset(ns, 0, sizeof(*ns));
}

/* etc/modules and modules-load.d(5) syntax: first word of each line,
 * '#' and ';' start comments. */
static int names_from_file(struct i2k_fstree *t, const char *path, struct names *ns,
			   struct i2k_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (tree_read(t, path, &buf, &len, err) < 0)
		return -1;
	if (buf == NULL)
		return 0;
	ns->owned_src = i2k_xrealloc(ns->owned_src, (ns->n_owned_src + 1) * sizeof(char *));
	const char *src = ns->owned_src[ns->n_owned_src++] = i2k_xstrdup(path);
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t w = strcspn(p, " \t\r\n");
		if (w > 0 && *p != '#' && *p != ';')
			names_add(ns, p, w, src);
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

static int names_from_cmdline(struct i2k_fstree *t, struct names *ns, struct i2k_error **err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (tree_read(t, "boot/cmdline", &buf, &len, err) < 0)
		return -1;
	for (char *p = buf; p && *p;) {
		p += strspn(p, " \t\r\n");
		size_t w = strcspn(p, " \t\r\n");
		static const char key[] = "i2kit.modules=";
		if (w > sizeof(key) - 1 && strncmp(p, key, sizeof(key) - 1) == 0) {
			char *v = p + sizeof(key) - 1, *end = p + w;
			if (*v == '"')
				v++;
			while (v < end) {
				size_t n = strcspn(v, ",\"");
				if (v + n > end)
					n = (size_t)(end - v);
				if (n > 0)
					names_add(ns, v, n, "boot/cmdline i2kit.modules");
				v += n + 1;
			}
		}
		p += w;
	}
	return 0;
}

static int auto_names(struct i2k_fstree *t, struct names *ns, struct i2k_error **err)
{
	if (names_from_file(t, "etc/modules", ns, err) < 0)
		return -1;
	static const char *const dirs[] = {"etc/modules-load.d", "run/modules-load.d",
					   "usr/lib/modules-load.d", "lib/modules-load.d"};
	for (size_t d = 0; d < I2K_ARRAY_SIZE(dirs); d++) {
		struct i2k_inode *dir = i2k_fstree_lookup(t, dirs[d]);
		if (dir == NULL || !S_ISDIR(dir->mode))
			continue;
		struct collect c;
		collect_under(t, dirs[d], &c);
		int r = 0;
		for (size_t i = 0; i < c.n && r == 0; i++) {
			if (c.v[i].parent != NONE || !i2k_str_has_suffix(c.v[i].rel, ".conf"))
				continue;
			_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dirs[d], c.v[i].rel);
			r = names_from_file(t, p, ns, err);
		}
		collect_clear(&c);
		if (r < 0)
			return -1;
	}
	return names_from_cmdline(t, ns, err);
}

/* ---- the driver ------------------------------------------------------------ */

static int prune_version(struct i2k_fstree *t, const char *dir, const char *ver,
			 const struct i2k_kernel_cfg *k, const struct names *extra,
			 struct i2k_modules_report *rep, struct i2k_error **err)
{
	struct collect c;
	collect_under(t, dir, &c);
	size_t nmods = 0;
	for (size_t i = 0; i < c.n; i++) {
		if (c.v[i].is_mod) {
			nmods++;
			rep->total++;
			rep->total_bytes += c.v[i].size;
		}
	}
	int rc = -1;
	struct kver kv = {.dir = dir, .ver = ver};
	_cleanup_free_ char *dep = NULL, *builtin = NULL;
	size_t len;
	_cleanup_free_ char *dep_p = i2k_xasprintf("%s/modules.dep", dir);
	_cleanup_free_ char *bp = i2k_xasprintf("%s/modules.builtin", dir);
	_cleanup_free_ char *ap = i2k_xasprintf("%s/modules.alias", dir);
	_cleanup_free_ char *sp = i2k_xasprintf("%s/modules.softdep", dir);
	_cleanup_free_ char *mp = i2k_xasprintf("%s/modules.builtin.modinfo", dir);
	if (tree_read(t, dep_p, &dep, &len, err) < 0)
		goto out;
	if (dep == NULL && nmods > 0) {
		/* A distribution kernel.tar: depmod never ran. */
		struct i2k_depmod_report dr;
		if (i2k_depmod_generate(t, dir, &dr, err) < 0) {
			free(dr.first_bad);
			goto out;
		}
		if (dr.unreadable > 0 && k->modules != I2K_MODULES_ALL) {
			/* Their dependencies are unknown: the closure cannot be trusted. */
			if (k->modules == I2K_MODULES_LIST)
				i2k_error_set(
				    err, I2K_ERR_CONFIG,
				    "kernel.modules: %s: %zu of %zu module files have no "
				    "readable .modinfo (first: %s), cannot select modules",
				    dir, dr.unreadable, dr.modules, dr.first_bad);
			else
				i2k_warn("kernel.modules: %s: %zu of %zu module files have no "
					 "readable .modinfo (first: %s); keeping all its modules",
					 dir, dr.unreadable, dr.modules, dr.first_bad);
			free(dr.first_bad);
			if (k->modules == I2K_MODULES_LIST)
				goto out;
			goto keep_all;
		}
		free(dr.first_bad);
		if (tree_read(t, dep_p, &dep, &len, err) < 0)
			goto out;
	}
	if (k->modules == I2K_MODULES_ALL)
		goto keep_all;
	if (dep == NULL) {
		if (k->modules == I2K_MODULES_LIST) {
			i2k_error_set(
			    err, I2K_ERR_CONFIG,
			    "kernel.modules: %s has no modules.dep, cannot select modules", dir);
			goto out;
		}
		if (nmods > 0)
			i2k_warn("kernel.modules: %s has no modules.dep; keeping all its modules",
				 dir);
		goto keep_all;
	}
	parse_dep(&kv, dep);
	if (tree_read(t, bp, &builtin, &len, err) < 0 ||
	    tree_read(t, ap, &kv.alias, &len, err) < 0 ||
	    tree_read(t, sp, &kv.softdep, &len, err) < 0 ||
	    tree_read(t, mp, &kv.builtin_modinfo, &kv.builtin_modinfo_len, err) < 0)
		goto out;
	if (builtin)
		parse_builtin(&kv, builtin);

	if (k->modules == I2K_MODULES_LIST) {
		for (size_t i = 0; i < k->module_names.n; i++) {
			if (!want(&kv, k->module_names.v[i])) {
				i2k_error_set(err, I2K_ERR_CONFIG,
					      "kernel.modules: no module \"%s\" in %s",
					      k->module_names.v[i], ver);
				goto out;
			}
		}
	} else {
		for (size_t i = 0; I2K_MODULES_AUTO_DEFAULT[i]; i++)
			want(&kv, I2K_MODULES_AUTO_DEFAULT[i]);
		for (size_t i = 0; i < extra->n; i++)
			if (!want(&kv, extra->v[i]))
				i2k_warn("kernel.modules: %s names \"%s\", which is not a module "
					 "of %s",
					 extra->src[i], extra->v[i], ver);
	}
	close_deps(&kv);

	/* Decide file by file; directories emptied by the pruning go too. */
	for (size_t i = c.n; i-- > 0;) {
		struct entry *en = &c.v[i];
		bool keep;
		if (en->is_dir) {
			keep = en->has_kept || !en->had_removal;
		} else if (en->is_mod) {
			size_t mi = strmap_get(&kv.by_path, en->rel);
			keep = mi != NONE && kv.mods[mi].keep;
		} else {
			keep = true;
		}
		en->remove = !keep;
		if (en->is_mod && keep) {
			rep->kept++;
			rep->kept_bytes += en->size;
		}
		if (en->parent != NONE) {
			if (keep)
				c.v[en->parent].has_kept = true;
			else
				c.v[en->parent].had_removal = true;
		}
	}
	for (size_t i = 0; i < c.n; i++) {
		struct entry *en = &c.v[i];
		if (!en->remove || (en->parent != NONE && c.v[en->parent].remove))
			continue;
		_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, en->rel);
		if (i2k_fstree_remove(t, p, false, err) < 0)
			goto out;
	}
	if (filter_file(t, &kv, "modules.dep", KEY_DEP_PATH, err) < 0 ||
	    filter_file(t, &kv, "modules.order", KEY_LINE_PATH, err) < 0 ||
	    filter_file(t, &kv, "modules.alias", KEY_LAST_NAME, err) < 0 ||
	    filter_file(t, &kv, "modules.symbols", KEY_LAST_NAME, err) < 0 ||
	    filter_file(t, &kv, "modules.softdep", KEY_SECOND_NAME, err) < 0 ||
	    filter_file(t, &kv, "modules.devname", KEY_FIRST_NAME, err) < 0)
		goto out;
	static const char *const stale[] = {"modules.dep.bin", "modules.alias.bin",
					    "modules.symbols.bin"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(stale); i++) {
		_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, stale[i]);
		if (i2k_fstree_remove(t, p, true, err) < 0)
			goto out;
	}
	rep->pruned++;
	rc = 0;
	goto out;
keep_all:
	for (size_t i = 0; i < c.n; i++) {
		if (c.v[i].is_mod) {
			rep->kept++;
			rep->kept_bytes += c.v[i].size;
		}
	}
	rc = 0;
out:
	kver_clear(&kv);
	collect_clear(&c);
	return rc;
}

int i2k_modules_prune(struct i2k_fstree *root, const struct i2k_kernel_cfg *k,
		      struct i2k_modules_report *rep, struct i2k_error **err)
{
	struct i2k_modules_report local;
	if (rep == NULL)
		rep = &local;
	memset(rep, 0, sizeof(*rep));
	struct names extra = {0};
	if (k->modules == I2K_MODULES_AUTO && auto_names(root, &extra, err) < 0) {
		names_clear(&extra);
		return -1;
	}
	int rc = 0;
	static const char *const bases[] = {"lib/modules", "usr/lib/modules"};
	for (size_t b = 0; b < I2K_ARRAY_SIZE(bases) && rc == 0; b++) {
		struct i2k_inode *base = i2k_fstree_lookup(root, bases[b]);
		if (base == NULL || !S_ISDIR(base->mode))
			continue;
		struct collect c;
		collect_under(root, bases[b], &c);
		for (size_t i = 0; i < c.n && rc == 0; i++) {
			if (c.v[i].parent != NONE || !c.v[i].is_dir)
				continue;
			rep->versions++;
			_cleanup_free_ char *dir = i2k_xasprintf("%s/%s", bases[b], c.v[i].rel);
			rc = prune_version(root, dir, c.v[i].rel, k, &extra, rep, err);
		}
		collect_clear(&c);
	}
	names_clear(&extra);
	return rc;
}
