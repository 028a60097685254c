/* cnode.c — see cnode.h. YAML goes through libyaml's event API so that the
 * limits apply while parsing (the document API would first materialise every
 * node of a hostile 16 MiB input); anchors are kept as deep copies and an
 * alias is expanded by copying, counted against the same limits. */
#include "builder/config/cnode.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define MAX_BYTES ((size_t)64 << 20) /* scalar bytes after alias expansion */
#define MAX_ANCHORS 4096

void i2k_cnode_clear(struct i2k_cnode *n)
{
	if (n == NULL)
		return;
	for (size_t i = 0; i < n->n; i++)
		i2k_cnode_clear(&n->kids[i]);
	free(n->kids);
	free(n->text);
	memset(n, 0, sizeof(*n));
}

/* ---- paths and errors ---------------------------------------------------- */

char *i2k_cpath_str(const struct i2k_cpath *p)
{
	if (p == NULL)
		return i2k_xstrdup("");
	char *up = i2k_cpath_str(p->up);
	char *s;
	if (p->key)
		s = i2k_xasprintf("%s%s%s", up, *up ? "." : "", p->key);
	else
		s = i2k_xasprintf("%s[%zu]", up, p->idx);
	free(up);
	return s;
}

static char *pos_prefix(const struct i2k_cctx *c, const struct i2k_cnode *at)
{
	if (c->label)
		return i2k_xstrdup("org.mobyproject.config label");
	if (at && at->line)
		return i2k_xasprintf("%s:%u:%u", c->file, at->line, at->col);
	return i2k_xstrdup(c->file);
}

int i2k_cctx_fail(const struct i2k_cctx *c, const struct i2k_cnode *at, const struct i2k_cpath *p,
		  const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	_cleanup_free_ char *pre = pos_prefix(c, at);
	_cleanup_free_ char *path = i2k_cpath_str(p);
	if (*path)
		return i2k_error_set(c->err, I2K_ERR_CONFIG, "%s: %s: %s", pre, path,
				     msg ? msg : "?");
	return i2k_error_set(c->err, I2K_ERR_CONFIG, "%s: %s", pre, msg ? msg : "?");
}

int i2k_cctx_unknown_key(const struct i2k_cctx *c, const struct i2k_cnode *key,
			 const struct i2k_cpath *p)
{
	if (c->label)
		return 0;
	_cleanup_free_ char *pre = pos_prefix(c, key);
	_cleanup_free_ char *path = i2k_cpath_str(p);
	if (*path)
		return i2k_error_set(c->err, I2K_ERR_CONFIG, "%s: unknown key \"%.64s\" in %s", pre,
				     key->text, path);
	return i2k_error_set(c->err, I2K_ERR_CONFIG, "%s: unknown top-level key \"%.64s\"", pre,
			     key->text);
}

bool i2k_cctx_key_is(const struct i2k_cctx *c, const struct i2k_cnode *key, const char *name,
		     bool ci)
{
	if (c->label || ci)
		return strcasecmp(key->text, name) == 0;
	return strcmp(key->text, name) == 0;
}

/* ---- typed accessors ------------------------------------------------------ */

bool i2k_cnode_is_null(const struct i2k_cnode *n)
{
	if (n->kind != I2K_CN_SCALAR)
		return false;
	if (n->style == I2K_CS_JNULL)
		return true;
	if (n->style != I2K_CS_PLAIN)
		return false;
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(nulls); i++)
		if (strcmp(n->text, nulls[i]) == 0)
			return true;
	return false;
}

int i2k_cnode_str(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		  bool allow_nul, char **out, size_t *len)
{
	bool ok = n->kind == I2K_CN_SCALAR &&
		  (c->label ? n->style == I2K_CS_JSTR : !i2k_cnode_is_null(n));
	if (!ok)
		return i2k_cctx_fail(c, n, p, "expected a string");
	if (!allow_nul && memchr(n->text, '\0', n->len))
		return i2k_cctx_fail(c, n, p, "strings must not contain NUL bytes");
	char *s = i2k_xmalloc(n->len + 1);
	memcpy(s, n->text, n->len);
	s[n->len] = '\0';
	*out = s;
	if (len)
		*len = n->len;
	return 0;
}

int i2k_cnode_bool(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		   bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
					  "on",	  "On",	  "ON",	  "y",	 "Y"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO",
					 "off",	  "Off",   "OFF",   "n",  "N"};
	if (n->kind == I2K_CN_SCALAR &&
	    (n->style == I2K_CS_JBOOL || (!c->label && n->style == I2K_CS_PLAIN))) {
		for (size_t i = 0; i < I2K_ARRAY_SIZE(yes); i++) {
			if (strcmp(n->text, yes[i]) == 0) {
				*out = true;
				return 0;
			}
			if (strcmp(n->text, no[i]) == 0) {
				*out = false;
				return 0;
			}
		}
	}
	return i2k_cctx_fail(c, n, p, "expected a boolean (true or false)");
}

int i2k_cnode_int(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		  int64_t *out)
{
	bool ok = n->kind == I2K_CN_SCALAR &&
		  (n->style == I2K_CS_JINT || (!c->label && n->style == I2K_CS_PLAIN));
	const char *s = n->text;
	if (ok) {
		const char *d = s + (*s == '-' || *s == '+');
		ok = *d != '\0' && strspn(d, "0123456789") == strlen(d) && strlen(s) == n->len;
	}
	if (!ok)
		return i2k_cctx_fail(c, n, p, "expected an integer");
	errno = 0;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE || *end != '\0')
		return i2k_cctx_fail(c, n, p, "integer %.32s is out of range", s);
	*out = (int64_t)v;
	return 0;
}

int i2k_cnode_mode(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		   uint32_t *out)
{
	bool ok = n->kind == I2K_CN_SCALAR &&
		  (c->label ? n->style == I2K_CS_JSTR
			    : (n->style == I2K_CS_PLAIN || n->style == I2K_CS_QUOTED));
	if (!ok)
		return i2k_cctx_fail(c, n, p, "expected an octal mode such as \"0644\"");
	const char *s = n->text;
	size_t len = strlen(s);
	uint32_t v = 0;
	ok = len > 0 && len == n->len && strspn(s, "01234567") == len;
	for (size_t i = 0; ok && i < len; i++) {
		v = v * 8 + (uint32_t)(s[i] - '0');
		if (v > 07777)
			ok = false;
	}
	if (!ok)
		return i2k_cctx_fail(
		    c, n, p, "invalid mode \"%.32s\": expected octal digits such as \"0644\"", s);
	*out = v;
	return 0;
}

int i2k_cnode_want_map(const struct i2k_cctx *c, const struct i2k_cnode *n,
		       const struct i2k_cpath *p)
{
	if (n->kind != I2K_CN_MAP)
		return i2k_cctx_fail(c, n, p, "expected a mapping");
	return 0;
}

int i2k_cnode_want_seq(const struct i2k_cctx *c, const struct i2k_cnode *n,
		       const struct i2k_cpath *p)
{
	if (n->kind != I2K_CN_SEQ)
		return i2k_cctx_fail(c, n, p, "expected a list");
	return 0;
}

/* ---- YAML → cnode ---------------------------------------------------------- */

struct frame {
	struct i2k_cnode node;
	size_t cap;
	char *anchor;
};

struct anchor {
	char *name;
	struct i2k_cnode node;
};

struct ybuild {
	const char *file;
	const char *data;
	size_t datalen;
	struct i2k_error **err;
	size_t nodes, bytes;
	struct frame stack[I2K_CNODE_MAX_DEPTH];
	size_t depth;
	struct anchor *anchors;
	size_t n_anchors, cap_anchors;
	struct i2k_cnode root;
	bool have_root;
};

static int yfail(struct ybuild *b, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int yfail(struct ybuild *b, const yaml_mark_t *m, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	return i2k_error_set(b->err, I2K_ERR_CONFIG, "%s:%zu:%zu: %s", b->file, m->line + 1,
			     m->column + 1, msg ? msg : "?");
}

/* Accounts for one node with `bytes` of text. */
static int count_node(struct ybuild *b, const yaml_mark_t *m, size_t bytes)
{
	if (++b->nodes > I2K_CNODE_MAX_NODES)
		return yfail(b, m, "document too large: more than %d nodes after expanding aliases",
			     I2K_CNODE_MAX_NODES);
	b->bytes += bytes;
	if (b->bytes > MAX_BYTES)
		return yfail(b, m,
			     "document too large: more than %zu bytes after expanding aliases",
			     MAX_BYTES);
	return 0;
}

static int copy_node(struct ybuild *b, const yaml_mark_t *m, const struct i2k_cnode *src,
		     struct i2k_cnode *dst)
{
	if (count_node(b, m, src->len) < 0)
		return -1;
	*dst = *src;
	dst->kids = NULL;
	dst->text = NULL;
	dst->n = 0;
	if (src->text) {
		dst->text = i2k_xmalloc(src->len + 1);
		memcpy(dst->text, src->text, src->len + 1);
	}
	if (src->n) {
		dst->kids = i2k_xcalloc(src->n, sizeof(*dst->kids));
		dst->n = src->n;
		for (size_t i = 0; i < src->n; i++)
			if (copy_node(b, m, &src->kids[i], &dst->kids[i]) < 0)
				return -1;
	}
	return 0;
}

static int key_cmp(const struct i2k_cnode *a, const struct i2k_cnode *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->text, b->text, n);
	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int key_ptr_cmp(const void *x, const void *y)
{
	const struct i2k_cnode *a = *(const struct i2k_cnode *const *)x;
	const struct i2k_cnode *b = *(const struct i2k_cnode *const *)y;
	int r = key_cmp(a, b);
	if (r)
		return r;
	return a < b ? -1 : a > b;
}

/* Duplicate keys in a finished mapping: reports the later occurrence. */
static int check_dup_keys(struct ybuild *b, const struct i2k_cnode *map)
{
	size_t pairs = map->n / 2;
	const struct i2k_cnode *dup = NULL, *first = NULL;
	if (pairs <= 32) {
		for (size_t i = 1; i < pairs && !dup; i++)
			for (size_t j = 0; j < i; j++)
				if (key_cmp(&map->kids[2 * i], &map->kids[2 * j]) == 0) {
					dup = &map->kids[2 * i];
					first = &map->kids[2 * j];
					break;
				}
	} else {
		_cleanup_free_ const struct i2k_cnode **keys = i2k_xcalloc(pairs, sizeof(*keys));
		for (size_t i = 0; i < pairs; i++)
			keys[i] = &map->kids[2 * i];
		qsort(keys, pairs, sizeof(*keys), key_ptr_cmp);
		for (size_t i = 1; i < pairs; i++)
			if (key_cmp(keys[i], keys[i - 1]) == 0 && (dup == NULL || keys[i] < dup)) {
				dup = keys[i];
			}
		if (dup) { /* the earliest occurrence of that key */
			for (size_t i = 0; i < pairs; i++)
				if (key_cmp(&map->kids[2 * i], dup) == 0) {
					first = &map->kids[2 * i];
					break;
				}
		}
	}
	if (dup == NULL)
		return 0;
	return i2k_error_set(b->err, I2K_ERR_CONFIG,
			     "%s:%u:%u: duplicate key \"%.64s\" (first at line %u, column %u)",
			     b->file, dup->line, dup->col, dup->text, first->line, first->col);
}

static bool is_merge_key(const struct i2k_cnode *k)
{
	return k->style == I2K_CS_PLAIN && strcmp(k->text, "<<") == 0;
}

static bool has_key(const struct i2k_cnode *map, size_t pairs, const struct i2k_cnode *key)
{
	for (size_t i = 0; i < pairs; i++)
		if (!is_merge_key(&map->kids[2 * i]) && key_cmp(&map->kids[2 * i], key) == 0)
			return true;
	return false;
}

/* YAML merge keys ("<<: *defaults", or a list of aliases, earlier ones
 * winning): the pairs of the merged mappings whose keys the mapping does not
 * set itself are moved in, after its own pairs. */
static int apply_merge_keys(struct ybuild *b, struct i2k_cnode *map, size_t *cap)
{
	size_t pairs = map->n / 2, n_merge = 0;
	for (size_t i = 0; i < pairs; i++)
		n_merge += is_merge_key(&map->kids[2 * i]);
	if (n_merge == 0)
		return 0;
	struct i2k_cnode merged = {.kind = I2K_CN_MAP};
	size_t mcap = 0;
	int r = 0;
	for (size_t i = 0; i < pairs && r == 0; i++) {
		struct i2k_cnode *k = &map->kids[2 * i], *v = &map->kids[2 * i + 1];
		if (!is_merge_key(k))
			continue;
		size_t nsrc = v->kind == I2K_CN_SEQ ? v->n : 1;
		for (size_t s = 0; s < nsrc && r == 0; s++) {
			struct i2k_cnode *src = v->kind == I2K_CN_SEQ ? &v->kids[s] : v;
			if (src->kind != I2K_CN_MAP) {
				r = i2k_error_set(
				    b->err, I2K_ERR_CONFIG,
				    "%s:%u:%u: the value of a merge key (<<) must be a "
				    "mapping or a list of mappings",
				    b->file, src->line, src->col);
				break;
			}
			if ((pairs + merged.n / 2 + 1) * (src->n / 2 + 1) > 10000000) {
				r = i2k_error_set(b->err, I2K_ERR_CONFIG,
						  "%s:%u:%u: merge key (<<) mappings too large",
						  b->file, k->line, k->col);
				break;
			}
			for (size_t j = 0; j + 1 < src->n; j += 2) {
				if (has_key(map, pairs, &src->kids[j]) ||
				    has_key(&merged, merged.n / 2, &src->kids[j]))
					continue;
				i2k_xgrow((void **)&merged.kids, &mcap, merged.n + 2,
					  sizeof(*merged.kids));
				merged.kids[merged.n++] = src->kids[j];
				merged.kids[merged.n++] = src->kids[j + 1];
				memset(&src->kids[j], 0, 2 * sizeof(*src->kids));
			}
		}
	}
	if (r == 0) {
		/* drop the "<<" pairs, append the merged ones */
		size_t w = 0;
		for (size_t i = 0; i < pairs; i++) {
			if (is_merge_key(&map->kids[2 * i])) {
				i2k_cnode_clear(&map->kids[2 * i]);
				i2k_cnode_clear(&map->kids[2 * i + 1]);
				continue;
			}
			map->kids[2 * w] = map->kids[2 * i];
			map->kids[2 * w + 1] = map->kids[2 * i + 1];
			w++;
		}
		map->n = 2 * w;
		i2k_xgrow((void **)&map->kids, cap, map->n + merged.n, sizeof(*map->kids));
		if (merged.n)
			memcpy(map->kids + map->n, merged.kids, merged.n * sizeof(*merged.kids));
		map->n += merged.n;
		merged.n = 0;
	}
	i2k_cnode_clear(&merged);
	return r;
}

/* Adds a finished node to the open container or makes it the root. */
static int add_node(struct ybuild *b, struct i2k_cnode *node)
{
	if (b->depth == 0) {
		b->root = *node;
		b->have_root = true;
		memset(node, 0, sizeof(*node));
		return 0;
	}
	struct frame *f = &b->stack[b->depth - 1];
	if (f->node.kind == I2K_CN_MAP && f->node.n % 2 == 0) {
		const char *why = NULL;
		if (node->kind != I2K_CN_SCALAR)
			why = "mapping keys must be strings";
		else if (memchr(node->text, '\0', node->len))
			why = "mapping keys must not contain NUL bytes";
		if (why) {
			int r = i2k_error_set(b->err, I2K_ERR_CONFIG, "%s:%u:%u: %s", b->file,
					      node->line, node->col, why);
			i2k_cnode_clear(node);
			return r;
		}
	}
	i2k_xgrow((void **)&f->node.kids, &f->cap, f->node.n + 1, sizeof(*f->node.kids));
	f->node.kids[f->node.n++] = *node;
	memset(node, 0, sizeof(*node));
	return 0;
}

static int set_anchor(struct ybuild *b, const char *name, const struct i2k_cnode *node,
		      const yaml_mark_t *m)
{
	struct anchor *a = NULL;
	for (size_t i = 0; i < b->n_anchors; i++)
		if (strcmp(b->anchors[i].name, name) == 0)
			a = &b->anchors[i];
	if (a) {
		i2k_cnode_clear(&a->node);
	} else {
		if (b->n_anchors >= MAX_ANCHORS)
			return yfail(b, m, "too many anchors (more than %d)", MAX_ANCHORS);
		i2k_xgrow((void **)&b->anchors, &b->cap_anchors, b->n_anchors + 1,
			  sizeof(*b->anchors));
		a = &b->anchors[b->n_anchors++];
		a->name = i2k_xstrdup(name);
		memset(&a->node, 0, sizeof(a->node));
	}
	return copy_node(b, m, node, &a->node);
}

static void set_pos(struct i2k_cnode *n, const yaml_mark_t *m)
{
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
}

static int on_event(struct ybuild *b, yaml_event_t *ev, int *docs)
{
	const yaml_mark_t *m = &ev->start_mark;
	struct i2k_cnode node = {0};
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return yfail(b, m, "multiple YAML documents are not supported");
		return 0;
	case YAML_SCALAR_EVENT: {
		size_t len = ev->data.scalar.length;
		if (count_node(b, m, len) < 0)
			return -1;
		node.kind = I2K_CN_SCALAR;
		node.style =
		    ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? I2K_CS_PLAIN : I2K_CS_QUOTED;
		node.text = i2k_xmalloc(len + 1);
		memcpy(node.text, ev->data.scalar.value, len);
		node.text[len] = '\0';
		node.len = len;
		set_pos(&node, m);
		if (ev->data.scalar.anchor &&
		    set_anchor(b, (const char *)ev->data.scalar.anchor, &node, m) < 0) {
			i2k_cnode_clear(&node);
			return -1;
		}
		return add_node(b, &node);
	}
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		const struct anchor *a = NULL;
		for (size_t i = 0; i < b->n_anchors; i++)
			if (strcmp(b->anchors[i].name, name) == 0)
				a = &b->anchors[i];
		if (a == NULL)
			return yfail(b, m, "unknown alias \"%.64s\"", name);
		if (copy_node(b, m, &a->node, &node) < 0) {
			i2k_cnode_clear(&node);
			return -1;
		}
		return add_node(b, &node);
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		if (b->depth >= I2K_CNODE_MAX_DEPTH)
			return yfail(b, m, "nesting deeper than %d levels", I2K_CNODE_MAX_DEPTH);
		if (count_node(b, m, 0) < 0)
			return -1;
		struct frame *f = &b->stack[b->depth++];
		memset(f, 0, sizeof(*f));
		f->node.kind = ev->type == YAML_SEQUENCE_START_EVENT ? I2K_CN_SEQ : I2K_CN_MAP;
		set_pos(&f->node, m);
		const yaml_char_t *anchor = ev->type == YAML_SEQUENCE_START_EVENT
						? ev->data.sequence_start.anchor
						: ev->data.mapping_start.anchor;
		f->anchor = anchor ? i2k_xstrdup((const char *)anchor) : NULL;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		struct frame *f = &b->stack[--b->depth];
		node = f->node;
		size_t cap = f->cap;
		_cleanup_free_ char *anchor = f->anchor;
		memset(f, 0, sizeof(*f));
		int r = 0;
		if (node.kind == I2K_CN_MAP)
			r = check_dup_keys(b, &node);
		if (r == 0 && node.kind == I2K_CN_MAP)
			r = apply_merge_keys(b, &node, &cap);
		if (r == 0 && anchor)
			r = set_anchor(b, anchor, &node, m);
		if (r == 0)
			r = add_node(b, &node);
		i2k_cnode_clear(&node);
		return r;
	}
	default:
		return 0;
	}
}

static void offset_to_pos(const char *data, size_t len, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (data[i] == '\n') {
			++*line;
			*col = 1;
		} else if (((unsigned char)data[i] & 0xc0) != 0x80) {
			++*col;
		}
	}
}

static int parser_fail(struct ybuild *b, const yaml_parser_t *p)
{
	if (p->error == YAML_MEMORY_ERROR)
		return i2k_error_set(b->err, I2K_ERR_CONFIG, "%s: out of memory parsing YAML",
				     b->file);
	const char *problem = p->problem ? p->problem : "invalid YAML";
	if (p->error == YAML_READER_ERROR) {
		size_t line, col;
		offset_to_pos(b->data, b->datalen, p->problem_offset, &line, &col);
		return i2k_error_set(b->err, I2K_ERR_CONFIG, "%s:%zu:%zu: %s", b->file, line, col,
				     problem);
	}
	if (p->context)
		return i2k_error_set(
		    b->err, I2K_ERR_CONFIG, "%s:%zu:%zu: %s %s (line %zu, column %zu)", b->file,
		    p->problem_mark.line + 1, p->problem_mark.column + 1, problem, p->context,
		    p->context_mark.line + 1, p->context_mark.column + 1);
	return i2k_error_set(b->err, I2K_ERR_CONFIG, "%s:%zu:%zu: %s", b->file,
			     p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
}

static void ybuild_free(struct ybuild *b)
{
	while (b->depth) {
		struct frame *f = &b->stack[--b->depth];
		i2k_cnode_clear(&f->node);
		free(f->anchor);
	}
	for (size_t i = 0; i < b->n_anchors; i++) {
		free(b->anchors[i].name);
		i2k_cnode_clear(&b->anchors[i].node);
	}
	free(b->anchors);
	i2k_cnode_clear(&b->root);
}

int i2k_cnode_from_yaml(const char *file, const char *data, size_t len, struct i2k_cnode *root,
			bool *out_empty, struct i2k_error **err)
{
	memset(root, 0, sizeof(*root));
	*out_empty = false;
	if (len > I2K_CONFIG_MAX_INPUT)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: file larger than %u bytes", file,
				     I2K_CONFIG_MAX_INPUT);
	struct ybuild *b = i2k_xcalloc(1, sizeof(*b));
	b->file = file;
	b->data = data;
	b->datalen = len;
	b->err = err;
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p)) {
		free(b);
		return i2k_error_set(err, I2K_ERR_INTERNAL, "yaml_parser_initialize failed");
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	int docs = 0, r = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			r = parser_fail(b, &p);
			break;
		}
		yaml_event_type_t t = ev.type;
		r = on_event(b, &ev, &docs);
		yaml_event_delete(&ev);
		if (r < 0 || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	if (r == 0) {
		if (!b->have_root || i2k_cnode_is_null(&b->root)) {
			*out_empty = true;
		} else {
			*root = b->root;
			memset(&b->root, 0, sizeof(b->root));
		}
	}
	ybuild_free(b);
	free(b);
	return r;
}

/* ---- JSON → cnode ------------------------------------------------------------ */

static int jnode(const json_t *j, struct i2k_cnode *out, unsigned depth, size_t *count,
		 struct i2k_error **err)
{
	if (depth > I2K_CNODE_MAX_DEPTH)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "org.mobyproject.config label: nesting deeper than %d levels",
				     I2K_CNODE_MAX_DEPTH);
	if (++*count > I2K_CNODE_MAX_NODES)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "org.mobyproject.config label: more than %d values",
				     I2K_CNODE_MAX_NODES);
	out->kind = I2K_CN_SCALAR;
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		out->kind = I2K_CN_MAP;
		out->kids = i2k_xcalloc(json_object_size(j) * 2, sizeof(*out->kids));
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v)
		{
			struct i2k_cnode *key = &out->kids[out->n++];
			key->kind = I2K_CN_SCALAR;
			key->style = I2K_CS_JSTR;
			key->text = i2k_xstrdup(k);
			key->len = strlen(k);
			if (jnode(v, &out->kids[out->n++], depth + 1, count, err) < 0)
				return -1;
		}
		return 0;
	}
	case JSON_ARRAY:
		out->kind = I2K_CN_SEQ;
		out->kids = i2k_xcalloc(json_array_size(j), sizeof(*out->kids));
		for (size_t i = 0; i < json_array_size(j); i++) {
			out->n++;
			if (jnode(json_array_get(j, i), &out->kids[i], depth + 1, count, err) < 0)
				return -1;
		}
		return 0;
	case JSON_STRING:
		out->style = I2K_CS_JSTR;
		out->len = json_string_length(j);
		out->text = i2k_xmalloc(out->len + 1);
		memcpy(out->text, json_string_value(j), out->len + 1);
		return 0;
	case JSON_INTEGER:
		out->style = I2K_CS_JINT;
		out->text = i2k_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(j));
		break;
	case JSON_REAL:
		out->style = I2K_CS_JREAL;
		out->text = i2k_xasprintf("%.17g", json_real_value(j));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		out->style = I2K_CS_JBOOL;
		out->text = i2k_xstrdup(json_is_true(j) ? "true" : "false");
		break;
	default:
		out->style = I2K_CS_JNULL;
		out->text = i2k_xstrdup("null");
		break;
	}
	out->len = strlen(out->text);
	return 0;
}

int i2k_cnode_from_json(const char *data, size_t len, struct i2k_cnode *root,
			struct i2k_error **err)
{
	memset(root, 0, sizeof(*root));
	if (len > I2K_CONFIG_MAX_INPUT)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "org.mobyproject.config label: larger than %u bytes",
				     I2K_CONFIG_MAX_INPUT);
	json_error_t je;
	json_t *j = json_loadb(data, len, JSON_DECODE_ANY, &je);
	if (j == NULL)
		return i2k_error_set(
		    err, I2K_ERR_CONFIG,
		    "org.mobyproject.config label: invalid JSON: %s (line %d, column %d)", je.text,
		    je.line, je.column);
	size_t count = 0;
	int r = jnode(j, root, 0, &count, err);
	json_decref(j);
	if (r < 0)
		i2k_cnode_clear(root);
	return r;
}
