/* spdx.c — the SPDX 2.3 JSON writer (contract in spdx.h). */
#include "formats/spdx.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/utf.h"
#include "builder/base/util.h"
#include "builder/registry/ref.h"

#ifndef I2K_VERSION
#define I2K_VERSION "dev"
#endif

#define NOASSERTION "NOASSERTION"
#define ROOT_ID "SPDXRef-Root"

/* ---- strings ------------------------------------------------------------- */

/* A JSON string of s, invalid UTF-8 bytes replaced by U+FFFD. */
static json_t *jstr(const char *s)
{
	size_t n = strlen(s);
	struct i2k_buf b = {.max = 0};
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = i2k_utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (l == 0) {
			i2k_buf_append(&b, "\xef\xbf\xbd", 3, NULL);
			i++;
		} else {
			i2k_buf_append(&b, s + i, l, NULL);
			i += l;
		}
	}
	json_t *j = json_stringn(b.data ? b.data : "", b.len);
	i2k_buf_free(&b);
	return j;
}

char *i2k_spdx_purl_encode(const char *s, const char *keep)
{
	struct i2k_buf b = {.max = 0};
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr(".-_~", *p) || (keep && strchr(keep, *p))) {
			i2k_buf_append(&b, p, 1, NULL);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			i2k_buf_append(&b, e, 3, NULL);
		}
	}
	return b.data ? b.data : i2k_xstrdup("");
}

static char *lower(const char *s)
{
	char *r = i2k_xstrdup(s);
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

/* An SPDXID part: [A-Za-z0-9.-], anything else '-', at most 64 bytes. */
static void id_part(struct i2k_buf *b, const char *s)
{
	for (size_t i = 0; s[i] && i < 64; i++) {
		char c = isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-' ? s[i] : '-';
		i2k_buf_append(b, &c, 1, NULL);
	}
}

/* "PREFIX-NAME-HEX", HEX the first 16 hex digits of the SHA-256 of key. */
static char *make_id(const char *prefix, const char *name, const struct i2k_buf *key)
{
	char dg[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(key->data ? key->data : "", key->len, dg);
	struct i2k_buf b = {.max = 0};
	i2k_buf_append(&b, prefix, strlen(prefix), NULL);
	id_part(&b, name);
	i2k_buf_append(&b, "-", 1, NULL);
	i2k_buf_append(&b, dg + 7, 16, NULL);
	return b.data;
}

static void key_add(struct i2k_buf *key, const char *s)
{
	if (s)
		i2k_buf_append(key, s, strlen(s), NULL);
	i2k_buf_append(key, "", 1, NULL); /* a NUL between fields */
}

/* ---- license expressions (SPDX 2.3 Annex D, syntax only) ----------------- */

struct lex {
	const char *p;
	char tok[256];
	int kind; /* 0 end, 1 id, 2 '(', 3 ')', 4 AND, 5 OR, 6 WITH, -1 bad */
};

static void lex_next(struct lex *l)
{
	while (*l->p == ' ' || *l->p == '\t')
		l->p++;
	if (*l->p == '\0') {
		l->kind = 0;
		return;
	}
	if (*l->p == '(' || *l->p == ')') {
		l->kind = *l->p == '(' ? 2 : 3;
		l->p++;
		return;
	}
	size_t n = 0;
	while (isalnum((unsigned char)l->p[n]) || l->p[n] == '.' || l->p[n] == '-' ||
	       l->p[n] == '+' || l->p[n] == ':')
		n++;
	if (n == 0 || n >= sizeof(l->tok)) {
		l->kind = -1;
		return;
	}
	memcpy(l->tok, l->p, n);
	l->tok[n] = '\0';
	l->p += n;
	l->kind = strcmp(l->tok, "AND") == 0	? 4
		  : strcmp(l->tok, "OR") == 0	? 5
		  : strcmp(l->tok, "WITH") == 0 ? 6
						: 1;
}

/* idstring ["+"], or DocumentRef-X:LicenseRef-Y; '+' only at the end. */
static bool id_ok(const char *t)
{
	const char *colon = strchr(t, ':');
	if (colon && (!i2k_str_has_prefix(t, "DocumentRef-") ||
		      !i2k_str_has_prefix(colon + 1, "LicenseRef-") || strchr(colon + 1, ':')))
		return false;
	const char *plus = strchr(t, '+');
	return plus == NULL || (plus[1] == '\0' && plus != t);
}

static bool parse_or(struct lex *l, int depth);

static bool parse_primary(struct lex *l, int depth)
{
	if (l->kind == 2) {
		lex_next(l);
		if (depth > 32 || !parse_or(l, depth + 1) || l->kind != 3)
			return false;
		lex_next(l);
		return true;
	}
	if (l->kind != 1 || !id_ok(l->tok))
		return false;
	lex_next(l);
	if (l->kind == 6) {
		lex_next(l);
		if (l->kind != 1 || !id_ok(l->tok) || strchr(l->tok, '+'))
			return false;
		lex_next(l);
	}
	return true;
}

static bool parse_and(struct lex *l, int depth)
{
	if (!parse_primary(l, depth))
		return false;
	while (l->kind == 4) {
		lex_next(l);
		if (!parse_primary(l, depth))
			return false;
	}
	return true;
}

static bool parse_or(struct lex *l, int depth)
{
	if (!parse_and(l, depth))
		return false;
	while (l->kind == 5) {
		lex_next(l);
		if (!parse_and(l, depth))
			return false;
	}
	return true;
}

bool i2k_spdx_license_valid(const char *expr)
{
	struct lex l = {.p = expr};
	lex_next(&l);
	return parse_or(&l, 0) && l.kind == 0;
}

/* ---- elements -------------------------------------------------------------- */

struct elem {
	char *id;
	const char *name;	   /* sort key (borrowed) */
	const struct i2k_pkg *pkg; /* packages: the rest of the sort key */
	const char *parent;	   /* packages: the id of their image (borrowed) */
	json_t *obj;
};

static int strcmp0(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

static int elem_cmp(const void *a, const void *b)
{
	const struct elem *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c == 0 && x->pkg && y->pkg) {
		const struct i2k_pkg *p = x->pkg, *q = y->pkg;
		c = strcmp0(p->version, q->version);
		if (c == 0)
			c = strcmp0(p->arch, q->arch);
		if (c == 0)
			c = (int)p->kind - (int)q->kind;
	}
	if (c == 0)
		c = strcmp(x->id, y->id);
	/* Same id: the same package listed twice in one image; order the
	 * copies by their other fields so the one kept is always the same. */
	if (c == 0 && x->pkg && y->pkg) {
		c = strcmp0(x->pkg->license, y->pkg->license);
		if (c == 0)
			c = strcmp0(x->pkg->source, y->pkg->source);
		if (c == 0)
			c = strcmp0(x->pkg->homepage, y->pkg->homepage);
	}
	return c;
}

struct rel {
	const char *a, *type, *b;
};

static int rel_cmp(const void *x, const void *y)
{
	const struct rel *p = x, *q = y;
	int c = strcmp(p->a, q->a);
	if (c == 0)
		c = strcmp(p->type, q->type);
	if (c == 0)
		c = strcmp(p->b, q->b);
	return c;
}

struct doc {
	struct elem *images, *pkgs;
	size_t nimages, npkgs, cap_images, cap_pkgs;
};

static json_t *purl_ref(char *purl)
{
	json_t *r = json_object();
	json_object_set_new(r, "referenceCategory", json_string("PACKAGE-MANAGER"));
	json_object_set_new(r, "referenceType", json_string("purl"));
	json_object_set_new(r, "referenceLocator", jstr(purl));
	free(purl);
	return json_pack("[o]", r);
}

/* Qualifiers in key order; NULL values skipped. */
static void purl_qualifiers(struct i2k_buf *b, const char *const *kv, size_t n)
{
	char sep = '?';
	for (size_t i = 0; i + 1 < n; i += 2) {
		if (kv[i + 1] == NULL || *kv[i + 1] == '\0')
			continue;
		_cleanup_free_ char *v = i2k_spdx_purl_encode(kv[i + 1], ":/");
		i2k_buf_append(b, &sep, 1, NULL);
		i2k_buf_append(b, kv[i], strlen(kv[i]), NULL);
		i2k_buf_append(b, "=", 1, NULL);
		i2k_buf_append(b, v, strlen(v), NULL);
		sep = '&';
	}
}

static char *image_purl(const struct i2k_sbom_image *im)
{
	struct i2k_ref ref;
	if (i2k_ref_parse(im->refname ? im->refname : im->ref, &ref, NULL) < 0)
		return NULL;
	const char *slash = strrchr(ref.repository, '/');
	_cleanup_free_ char *nm = lower(slash ? slash + 1 : ref.repository);
	_cleanup_free_ char *name = i2k_spdx_purl_encode(nm, NULL);
	_cleanup_free_ char *ver = i2k_spdx_purl_encode(im->digest, ":");
	_cleanup_free_ char *repo = i2k_xasprintf("%s/%s", ref.registry, ref.repository);
	struct i2k_buf b = {.max = 0};
	_cleanup_free_ char *head = i2k_xasprintf("pkg:oci/%s@%s", name, ver);
	i2k_buf_append(&b, head, strlen(head), NULL);
	const char *kv[] = {"arch", im->arch, "repository_url", repo, "tag", ref.tag};
	purl_qualifiers(&b, kv, I2K_ARRAY_SIZE(kv));
	i2k_ref_clear(&ref);
	return b.data;
}

static char *pkg_purl(const struct i2k_pkg *p)
{
	_cleanup_free_ char *nm = lower(p->name);
	_cleanup_free_ char *name = i2k_spdx_purl_encode(nm, NULL);
	struct i2k_buf b = {.max = 0};
	const char *head = p->kind == I2K_PKG_APK ? "pkg:apk/alpine/" : "pkg:deb/debian/";
	i2k_buf_append(&b, head, strlen(head), NULL);
	i2k_buf_append(&b, name, strlen(name), NULL);
	if (p->version) {
		_cleanup_free_ char *v = i2k_spdx_purl_encode(p->version, ":");
		i2k_buf_append(&b, "@", 1, NULL);
		i2k_buf_append(&b, v, strlen(v), NULL);
	}
	const char *up = p->source && strcmp(p->source, p->name) != 0 ? p->source : NULL;
	const char *kv[] = {"arch", p->arch, "upstream", up};
	purl_qualifiers(&b, kv, I2K_ARRAY_SIZE(kv));
	return b.data;
}

static json_t *package_obj(const char *id, const char *name)
{
	json_t *o = json_object();
	json_object_set_new(o, "SPDXID", json_string(id));
	json_object_set_new(o, "name", jstr(name));
	return o;
}

static void add_image(struct doc *d, const struct i2k_sbom_image *im)
{
	struct i2k_buf key = {.max = 0};
	key_add(&key, im->ref);
	key_add(&key, im->digest);
	const char *slash = strrchr(im->ref, '/');
	_cleanup_free_ char *base = i2k_xstrdup(slash ? slash + 1 : im->ref);
	base[strcspn(base, ":@")] = '\0';
	char *id = make_id("SPDXRef-Image-", base, &key);
	i2k_buf_free(&key);

	json_t *o = package_obj(id, im->ref);
	if (im->digest[0])
		json_object_set_new(o, "versionInfo", json_string(im->digest));
	json_object_set_new(o, "downloadLocation", json_string(NOASSERTION));
	json_object_set_new(o, "filesAnalyzed", json_false());
	if (i2k_str_has_prefix(im->digest, "sha256:"))
		json_object_set_new(o, "checksums",
				    json_pack("[{s:s, s:s}]", "algorithm", "SHA256",
					      "checksumValue", im->digest + 7));
	char *purl = im->digest[0] ? image_purl(im) : NULL;
	if (purl)
		json_object_set_new(o, "externalRefs", purl_ref(purl));
	json_object_set_new(o, "primaryPackagePurpose", json_string("CONTAINER"));
	if (!im->scanned)
		json_object_set_new(o, "comment",
				    json_string("package databases not read: the image is "
						"not unpacked in the root (format: oci volume)"));
	i2k_xgrow((void **)&d->images, &d->cap_images, d->nimages + 1, sizeof(*d->images));
	d->images[d->nimages++] = (struct elem){.id = id, .name = im->ref, .obj = o};
}

static void add_pkg(struct doc *d, const char *image_id, const struct i2k_sbom_image *im,
		    const struct i2k_pkg *p)
{
	struct i2k_buf key = {.max = 0};
	key_add(&key, im->ref);
	key_add(&key, im->digest);
	key_add(&key, p->kind == I2K_PKG_APK ? "apk" : "deb");
	key_add(&key, p->name);
	key_add(&key, p->version);
	key_add(&key, p->arch);
	char *id = make_id(p->kind == I2K_PKG_APK ? "SPDXRef-Package-apk-" : "SPDXRef-Package-deb-",
			   p->name, &key);
	i2k_buf_free(&key);

	json_t *o = package_obj(id, p->name);
	if (p->version)
		json_object_set_new(o, "versionInfo", jstr(p->version));
	json_object_set_new(o, "downloadLocation", json_string(NOASSERTION));
	json_object_set_new(o, "filesAnalyzed", json_false());
	if (p->homepage && (i2k_str_has_prefix(p->homepage, "http://") ||
			    i2k_str_has_prefix(p->homepage, "https://")))
		json_object_set_new(o, "homepage", jstr(p->homepage));
	if (p->source) {
		_cleanup_free_ char *si = i2k_xasprintf(
		    "%s: %s", p->kind == I2K_PKG_APK ? "apk origin" : "Debian source package",
		    p->source);
		json_object_set_new(o, "sourceInfo", jstr(si));
	}
	json_object_set_new(o, "licenseConcluded", json_string(NOASSERTION));
	bool lic_ok = p->license && i2k_spdx_license_valid(p->license);
	json_object_set_new(o, "licenseDeclared",
			    lic_ok ? jstr(p->license) : json_string(NOASSERTION));
	if (p->license && !lic_ok) {
		_cleanup_free_ char *lc = i2k_xasprintf("apk license field: %s", p->license);
		json_object_set_new(o, "licenseComments", jstr(lc));
	}
	json_object_set_new(o, "externalRefs", purl_ref(pkg_purl(p)));
	i2k_xgrow((void **)&d->pkgs, &d->cap_pkgs, d->npkgs + 1, sizeof(*d->pkgs));
	d->pkgs[d->npkgs++] =
	    (struct elem){.id = id, .name = p->name, .pkg = p, .parent = image_id, .obj = o};
}

static void doc_clear(struct doc *d)
{
	for (size_t i = 0; i < d->nimages; i++) {
		free(d->images[i].id);
		json_decref(d->images[i].obj);
	}
	for (size_t i = 0; i < d->npkgs; i++) {
		free(d->pkgs[i].id);
		json_decref(d->pkgs[i].obj);
	}
	free(d->images);
	free(d->pkgs);
}

static void iso8601(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int i2k_spdx_write(const struct i2k_sbom *s, const struct i2k_spdx_opts *o, char **out, size_t *len,
		   struct i2k_error **err)
{
	struct doc d = {0};
	for (size_t i = 0; i < s->n; i++) {
		add_image(&d, &s->images[i]);
		/* images[] is sorted only after every package has its parent id */
		const char *image_id = d.images[d.nimages - 1].id;
		for (size_t j = 0; j < s->images[i].pkgs.n; j++)
			add_pkg(&d, image_id, &s->images[i], &s->images[i].pkgs.v[j]);
	}
	if (d.nimages) /* qsort's base must not be NULL, even for 0 elements */
		qsort(d.images, d.nimages, sizeof(*d.images), elem_cmp);
	if (d.npkgs)
		qsort(d.pkgs, d.npkgs, sizeof(*d.pkgs), elem_cmp);

	_cleanup_free_ char *creator =
	    o->creator ? i2k_xstrdup(o->creator) : i2k_xstrdup("Tool: i2kit-" I2K_VERSION);
	json_t *packages = json_array();
	json_t *root = package_obj(ROOT_ID, o->name);
	json_object_set_new(root, "downloadLocation", json_string(NOASSERTION));
	json_object_set_new(root, "filesAnalyzed", json_false());
	json_object_set_new(root, "primaryPackagePurpose", json_string("OPERATING_SYSTEM"));
	json_object_set_new(root, "comment",
			    json_string("the root file system i2kit assembled from the images "
					"it CONTAINS"));
	json_array_append_new(packages, root);

	size_t nrel = 0;
	struct rel *rels = i2k_xcalloc(1 + d.nimages + d.npkgs, sizeof(*rels));
	rels[nrel++] = (struct rel){"SPDXRef-DOCUMENT", "DESCRIBES", ROOT_ID};
	for (size_t i = 0; i < d.nimages; i++) {
		json_array_append(packages, d.images[i].obj);
		rels[nrel++] = (struct rel){ROOT_ID, "CONTAINS", d.images[i].id};
	}
	for (size_t i = 0; i < d.npkgs; i++) {
		/* the same package twice in one image (id from the same key) once */
		if (i > 0 && strcmp(d.pkgs[i].id, d.pkgs[i - 1].id) == 0)
			continue;
		json_array_append(packages, d.pkgs[i].obj);
		rels[nrel++] = (struct rel){d.pkgs[i].parent, "CONTAINS", d.pkgs[i].id};
	}
	qsort(rels, nrel, sizeof(*rels), rel_cmp);
	json_t *relationships = json_array();
	for (size_t i = 0; i < nrel; i++)
		json_array_append_new(relationships,
				      json_pack("{s:s, s:s, s:s}", "spdxElementId", rels[i].a,
						"relationshipType", rels[i].type,
						"relatedSpdxElement", rels[i].b));
	free(rels);

	char created[32];
	iso8601(o->created, created);
	/* The namespace: a hash of everything else in the document. */
	json_t *body =
	    json_pack("{s:o, s:s, s:s, s:O, s:O}", "name", jstr(o->name), "created", created,
		      "creator", creator, "packages", packages, "relationships", relationships);
	_cleanup_free_ char *bodys = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(body);
	char dg[I2K_DIGEST_LEN + 1] = "";
	if (bodys)
		i2k_sha256_digest(bodys, strlen(bodys), dg);
	_cleanup_free_ char *ns = i2k_xasprintf("https://spdx.org/spdxdocs/i2kit-%s", dg + 7);

	json_t *doc = json_object();
	json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3"));
	json_object_set_new(doc, "dataLicense", json_string("CC0-1.0"));
	json_object_set_new(doc, "SPDXID", json_string("SPDXRef-DOCUMENT"));
	json_object_set_new(doc, "name", jstr(o->name));
	json_object_set_new(doc, "documentNamespace", json_string(ns));
	json_object_set_new(doc, "creationInfo",
			    json_pack("{s:s, s:[s]}", "created", created, "creators", creator));
	json_object_set_new(doc, "packages", packages);
	json_object_set_new(doc, "relationships", relationships);
	char *text = bodys ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(doc);
	doc_clear(&d);
	if (text == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "SPDX document: cannot serialise");
	size_t n = strlen(text);
	text = i2k_xrealloc(text, n + 2);
	text[n] = '\n';
	text[n + 1] = '\0';
	*out = text;
	*len = n + 1;
	return 0;
}
