/* json.c — a small JSON reader for the guest init (see json.h).
 *
 * Nodes and decoded strings come from one arena (a chain of chunks) that
 * sits just before the root node, so i2ki_json_free(root) releases everything.
 * Every allocation failure is reported as a parse error, never an abort.
 * Duplicate object keys are kept; i2ki_json_get returns the last one (as Go's
 * encoding/json, which wrote these files, would read them). */
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JSON_MAX_INPUT (4u << 20)
#define JSON_MAX_DEPTH 64
#define CHUNK_MIN 8192

struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct arena {
	struct chunk *chunks;
	struct jnode root;
};

struct parser {
	const char *s, *end, *p;
	struct arena *a;
	char *err;
	size_t errlen;
	int failed;
};

static void fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct parser *ps, const char *fmt, ...)
{
	if (ps->failed)
		return;
	ps->failed = 1;
	if (!ps->err || ps->errlen == 0)
		return;
	size_t line = 1, col = 1;
	for (const char *q = ps->s; q < ps->p && q < ps->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "line %zu column %zu: %s", line, col, msg);
}

static void *arena_alloc(struct parser *ps, size_t n)
{
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct chunk *c = ps->a->chunks;
	if (!c || c->size - c->used < n) {
		size_t size = n > CHUNK_MIN ? n : CHUNK_MIN;
		c = malloc(sizeof(*c) + size);
		if (!c) {
			fail(ps, "out of memory");
			return NULL;
		}
		c->size = size;
		c->used = 0;
		c->next = ps->a->chunks;
		ps->a->chunks = c;
	}
	void *r = (char *)c->data + c->used;
	c->used += n;
	return r;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;
	if (ps->end - ps->p < 4) {
		fail(ps, "truncated \\u escape");
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		char c = ps->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else {
			fail(ps, "bad \\u escape");
			return -1;
		}
	}
	ps->p += 4;
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* ps->p is at the opening quote; returns the decoded string in the arena.
 * A decoded string is never longer than its escaped form (\uXXXX = 6 bytes
 * encodes at most 3; a surrogate pair of 12 encodes 4). */
static const char *parse_string(struct parser *ps)
{
	const char *start = ++ps->p;
	const char *q = start;
	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	if (q >= ps->end) {
		fail(ps, "unterminated string");
		return NULL;
	}
	char *out = arena_alloc(ps, (size_t)(q - start) + 1);
	if (!out)
		return NULL;
	size_t n = 0;
	while (ps->p < ps->end && *ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;
		if (c < 0x20) {
			fail(ps, "control character in string");
			return NULL;
		}
		if (c != '\\') {
			out[n++] = (char)c;
			ps->p++;
			continue;
		}
		ps->p++;
		char e = ps->p < ps->end ? *ps->p++ : 0;
		switch (e) {
		case '"':
			out[n++] = '"';
			break;
		case '\\':
			out[n++] = '\\';
			break;
		case '/':
			out[n++] = '/';
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u': {
			unsigned cp;
			if (hex4(ps, &cp) < 0)
				return NULL;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo;
				if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
					const char *save = ps->p;
					ps->p += 2;
					if (hex4(ps, &lo) < 0)
						return NULL;
					if (lo >= 0xDC00 && lo <= 0xDFFF) {
						cp =
						    0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					} else {
						cp = 0xFFFD;
						ps->p = save;
					}
				} else {
					cp = 0xFFFD;
				}
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				cp = 0xFFFD;
			}
			if (cp == 0) {
				fail(ps, "\\u0000 in string");
				return NULL;
			}
			n += put_utf8(out + n, cp);
			break;
		}
		default:
			ps->p--;
			fail(ps, "bad escape");
			return NULL;
		}
	}
	ps->p++; /* closing quote */
	out[n] = 0;
	return out;
}

static int parse_number(struct parser *ps, struct jnode *nd)
{
	const char *b = ps->p, *q = ps->p;
	int is_int = 1;
	if (q < ps->end && *q == '-')
		q++;
	if (q >= ps->end || *q < '0' || *q > '9') {
		fail(ps, "bad number");
		return -1;
	}
	if (*q == '0') {
		q++;
	} else {
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && *q == '.') {
		is_int = 0;
		q++;
		if (q >= ps->end || *q < '0' || *q > '9') {
			ps->p = q;
			fail(ps, "bad number");
			return -1;
		}
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		is_int = 0;
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || *q < '0' || *q > '9') {
			ps->p = q;
			fail(ps, "bad number");
			return -1;
		}
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	char buf[64];
	size_t len = (size_t)(q - b);
	if (len >= sizeof(buf)) {
		fail(ps, "number too long");
		return -1;
	}
	memcpy(buf, b, len);
	buf[len] = 0;
	nd->type = J_NUM;
	nd->dbl = strtod(buf, NULL);
	if (is_int) {
		errno = 0;
		nd->num = strtoll(buf, NULL, 10);
		/* Out of range saturates (strtoll already returns LLONG_MAX or
		 * LLONG_MIN); dbl keeps the magnitude. OCI writes "unlimited"
		 * rlimits as 2^64-1, which readers map from LLONG_MAX. */
		(void)errno;
	} else if (nd->dbl >= -9.2e18 && nd->dbl <= 9.2e18) {
		nd->num = (long long)nd->dbl;
	} else {
		nd->num = nd->dbl < 0 ? INT64_MIN : INT64_MAX;
	}
	ps->p = q;
	return 0;
}

static int literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		fail(ps, "unexpected character '%c'", *ps->p);
		return -1;
	}
	ps->p += n;
	return 0;
}

static int parse_value(struct parser *ps, struct jnode *nd, int depth);

static int parse_container(struct parser *ps, struct jnode *nd, int depth, int is_obj)
{
	char close = is_obj ? '}' : ']';
	struct jnode **tail = &nd->kids;
	nd->type = is_obj ? J_OBJ : J_ARR;
	if (depth >= JSON_MAX_DEPTH) {
		fail(ps, "nesting deeper than %d", JSON_MAX_DEPTH);
		return -1;
	}
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		struct jnode *kid = arena_alloc(ps, sizeof(*kid));
		if (!kid)
			return -1;
		memset(kid, 0, sizeof(*kid));
		skip_ws(ps);
		if (is_obj) {
			if (ps->p >= ps->end || *ps->p != '"') {
				fail(ps, "expected a member name");
				return -1;
			}
			kid->key = parse_string(ps);
			if (!kid->key)
				return -1;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				fail(ps, "expected ':'");
				return -1;
			}
			ps->p++;
		}
		if (parse_value(ps, kid, depth + 1) < 0)
			return -1;
		*tail = kid;
		tail = &kid->next;
		nd->n++;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return 0;
		}
		fail(ps, "expected ',' or '%c'", close);
		return -1;
	}
}

static int parse_value(struct parser *ps, struct jnode *nd, int depth)
{
	skip_ws(ps);
	if (ps->p >= ps->end) {
		fail(ps, "unexpected end of input");
		return -1;
	}
	switch (*ps->p) {
	case '{':
		return parse_container(ps, nd, depth, 1);
	case '[':
		return parse_container(ps, nd, depth, 0);
	case '"':
		nd->type = J_STR;
		nd->str = parse_string(ps);
		return nd->str ? 0 : -1;
	case 't':
		nd->type = J_BOOL;
		nd->b = true;
		return literal(ps, "true");
	case 'f':
		nd->type = J_BOOL;
		nd->b = false;
		return literal(ps, "false");
	case 'n':
		nd->type = J_NULL;
		return literal(ps, "null");
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps, nd);
		fail(ps, "unexpected character '%c'", *ps->p);
		return -1;
	}
}

static void free_chunks(struct chunk *c)
{
	while (c) {
		struct chunk *next = c->next;
		free(c);
		c = next;
	}
}

struct jnode *i2ki_json_parse(const char *text, size_t len, char *errbuf, size_t errlen)
{
	if (errbuf && errlen)
		errbuf[0] = 0;
	if (!text) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "no input");
		return NULL;
	}
	if (len > JSON_MAX_INPUT) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "document larger than %u bytes", JSON_MAX_INPUT);
		return NULL;
	}
	struct arena *a = calloc(1, sizeof(*a));
	if (!a) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	struct parser ps = {
	    .s = text, .end = text + len, .p = text, .a = a, .err = errbuf, .errlen = errlen};
	if (parse_value(&ps, &a->root, 0) == 0) {
		skip_ws(&ps);
		if (ps.p < ps.end)
			fail(&ps, "trailing data after the document");
	}
	if (ps.failed) {
		free_chunks(a->chunks);
		free(a);
		return NULL;
	}
	return &a->root;
}

struct jnode *i2ki_json_load(const char *path, char *errbuf, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)JSON_MAX_INPUT) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: not a regular file of at most %u bytes", path,
				 JSON_MAX_INPUT);
		close(fd);
		return NULL;
	}
	size_t cap = (size_t)st.st_size, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errbuf && errlen)
				snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	char msg[256];
	struct jnode *root = i2ki_json_parse(buf, len, msg, sizeof(msg));
	if (!root && errbuf && errlen)
		snprintf(errbuf, errlen, "%s: %s", path, msg);
	free(buf);
	return root;
}

void i2ki_json_free(struct jnode *root)
{
	if (!root)
		return;
	struct arena *a = (struct arena *)((char *)root - offsetof(struct arena, root));
	free_chunks(a->chunks);
	free(a);
}

const struct jnode *i2ki_json_get(const struct jnode *obj, const char *key)
{
	const struct jnode *found = NULL;
	if (!obj || obj->type != J_OBJ || !key)
		return NULL;
	for (const struct jnode *k = obj->kids; k; k = k->next)
		if (k->key && strcmp(k->key, key) == 0)
			found = k;
	return found;
}

const char *i2ki_json_str(const struct jnode *obj, const char *key, const char *dflt)
{
	const struct jnode *v = i2ki_json_get(obj, key);
	return v && v->type == J_STR ? v->str : dflt;
}

const struct jnode *i2ki_json_first(const struct jnode *obj, const char *key)
{
	const struct jnode *a = i2ki_json_get(obj, key);
	return a && a->type == J_ARR ? a->kids : NULL;
}

bool i2ki_json_bool(const struct jnode *obj, const char *key, bool dflt)
{
	const struct jnode *b = i2ki_json_get(obj, key);
	return b && b->type == J_BOOL ? b->b : dflt;
}

int i2ki_json_int(const struct jnode *obj, const char *key, long long *v)
{
	const struct jnode *n = i2ki_json_get(obj, key);
	if (!n || n->type != J_NUM)
		return -1;
	*v = n->num;
	return 0;
}

unsigned long long i2ki_json_u64(const struct jnode *n)
{
	if (!n || n->type != J_NUM)
		return 0;
	if (n->dbl >= 9.2e18) {
		if (n->dbl >= 18446744073709549568.0)
			return UINT64_MAX;
		return (unsigned long long)n->dbl;
	}
	return n->num < 0 ? 0 : (unsigned long long)n->num;
}
