/* index.c — index.json and the refs it names. See store.h / internal.h.
 *
 * index.json is rewritten only under the exclusive DIR/.lock, after
 * re-reading it, through a temp file + fsync + rename + fsync(dir); readers
 * therefore never take the lock. Output is deterministic: entries sorted by
 * ref name (unnamed entries first, by digest), object keys sorted, 2-space
 * indentation, a final newline.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/store/internal.h"
#include "builder/store/store.h"

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* OCI image-layout ref.name grammar:
 *   ref       ::= component ("/" component)*
 *   component ::= alphanum (separator alphanum)*
 *   alphanum  ::= [A-Za-z0-9]+
 *   separator ::= [-._:@+] | "--"                                         */
bool i2k_store_ref_name_valid(const char *name)
{
	if (name == NULL || *name == '\0' || strlen(name) > I2K_STORE_REF_MAX)
		return false;
	const char *p = name;
	for (;;) {
		if (!alnum(*p))
			return false;
		while (alnum(*p))
			p++;
		while (*p && *p != '/') {
			if (p[0] == '-' && p[1] == '-')
				p += 2;
			else if (strchr("-._:@+", *p))
				p++;
			else
				return false;
			if (!alnum(*p))
				return false;
			while (alnum(*p))
				p++;
		}
		if (*p == '\0')
			return true;
		p++; /* '/' */
	}
}

static int bad_name(struct i2k_error **err, const char *name)
{
	return i2k_error_set(err, I2K_ERR_USAGE,
			     "invalid image ref name \"%.200s\" (OCI ref.name: alphanumeric "
			     "components separated by one of -._:@+/)",
			     name ? name : "(null)");
}

const char *i2k_index_entry_name(json_t *entry)
{
	return json_string_value(
	    json_object_get(json_object_get(entry, "annotations"), I2K_STORE_REF_ANNOTATION));
}

void i2k_index_entry_desc(json_t *entry, struct i2k_descriptor *d)
{
	d->media_type = i2k_xstrdup(json_string_value(json_object_get(entry, "mediaType")));
	const char *dg = json_string_value(json_object_get(entry, "digest"));
	snprintf(d->digest, sizeof(d->digest), "%s", dg ? dg : "");
	d->size = (int64_t)json_integer_value(json_object_get(entry, "size"));
}

static int check_entry(json_t *e, size_t i, const char *path, struct i2k_error **err)
{
	const char *why = NULL;
	json_t *ann = json_object_get(e, "annotations");
	json_t *name = json_object_get(ann, I2K_STORE_REF_ANNOTATION);
	if (!json_is_object(e))
		why = "not an object";
	else if (!json_is_string(json_object_get(e, "mediaType")))
		why = "no mediaType";
	else if (!i2k_digest_valid(json_string_value(json_object_get(e, "digest"))))
		why = "missing or invalid sha256 digest";
	else if (!json_is_integer(json_object_get(e, "size")) ||
		 json_integer_value(json_object_get(e, "size")) < 0)
		why = "missing or negative size";
	else if (ann && !json_is_object(ann))
		why = "annotations is not an object";
	else if (name && !i2k_store_ref_name_valid(json_string_value(name)))
		why = "invalid " I2K_STORE_REF_ANNOTATION;
	if (why)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: manifests[%zu]: %s", path, i,
				     why);
	return 0;
}

int i2k_index_parse(const char *data, size_t len, const char *path, json_t **out,
		    struct i2k_error **err)
{
	json_error_t je;
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s:%d:%d: %s", path, je.line,
				     je.column, je.text);
	json_t *ms = json_object_get(root, "manifests");
	int rc = 0;
	if (!json_is_object(root) ||
	    json_integer_value(json_object_get(root, "schemaVersion")) != 2)
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: not an OCI index (schemaVersion 2)",
				   path);
	else if (ms && !json_is_array(ms))
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: manifests is not an array", path);
	json_t *res = json_array();
	for (size_t i = 0; rc == 0 && i < json_array_size(ms); i++) {
		json_t *e = json_array_get(ms, i);
		if (check_entry(e, i, path, err) < 0) {
			rc = -1;
			break;
		}
		const char *name = i2k_index_entry_name(e);
		bool later = false;
		for (size_t j = i + 1; name && !later && j < json_array_size(ms); j++) {
			const char *n2 = i2k_index_entry_name(json_array_get(ms, j));
			later = n2 && strcmp(n2, name) == 0;
		}
		if (!later)
			json_array_append(res, e);
	}
	json_decref(root);
	if (rc < 0) {
		json_decref(res);
		return -1;
	}
	*out = res;
	return 0;
}

int i2k_index_load(struct i2k_store *s, json_t **manifests, struct i2k_error **err)
{
	_cleanup_free_ char *path = i2k_store_path(s, "index.json");
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, I2K_STORE_INDEX_MAX, &data, &len, &e) < 0) {
		if (e->code == I2K_ERR_NOTFOUND) {
			i2k_error_free(e);
			*manifests = json_array();
			return 0;
		}
		i2k_error_propagate(err, &e);
		return -1;
	}
	return i2k_index_parse(data, len, path, manifests, err);
}

static int entry_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	const char *nx = i2k_index_entry_name(x), *ny = i2k_index_entry_name(y);
	if (nx && ny)
		return strcmp(nx, ny);
	if (nx || ny)
		return nx ? 1 : -1;
	return strcmp(json_string_value(json_object_get(x, "digest")),
		      json_string_value(json_object_get(y, "digest")));
}

static json_t *sorted_copy(json_t *manifests)
{
	size_t n = json_array_size(manifests);
	json_t **v = i2k_xcalloc(n ? n : 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(manifests, i);
	qsort(v, n, sizeof(*v), entry_cmp);
	json_t *res = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append(res, v[i]);
	free(v);
	return res;
}

char *i2k_index_dump(json_t *manifests)
{
	json_t *root = json_object();
	json_object_set_new(root, "schemaVersion", json_integer(2));
	json_object_set_new(root, "mediaType", json_string(I2K_MT_OCI_INDEX));
	json_object_set_new(root, "manifests", sorted_copy(manifests));
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL)
		abort();
	char *doc = i2k_xasprintf("%s\n", text);
	free(text);
	return doc;
}

int i2k_index_save(struct i2k_store *s, json_t *manifests, struct i2k_error **err)
{
	_cleanup_free_ char *doc = i2k_index_dump(manifests);
	_cleanup_free_ char *path = i2k_store_path(s, "index.json");
	return i2k_write_file_atomic(path, doc, strlen(doc), 0644, err);
}

int i2k_index_edit(struct i2k_store *s, i2k_index_edit_fn fn, void *ctx, struct i2k_error **err)
{
	_cleanup_close_ int lock = i2k_store_lock(s, err);
	if (lock < 0)
		return -1;
	json_t *ms = NULL;
	if (i2k_index_load(s, &ms, err) < 0)
		return -1;
	bool changed = false;
	int r = fn(s, ms, ctx, &changed, err);
	if (r >= 0 && changed)
		r = i2k_index_save(s, ms, err);
	json_decref(ms);
	return r < 0 ? -1 : 0;
}

void i2k_index_put(json_t *manifests, const char *name, const struct i2k_descriptor *d)
{
	for (size_t i = json_array_size(manifests); i-- > 0;) {
		const char *n = i2k_index_entry_name(json_array_get(manifests, i));
		if (n && strcmp(n, name) == 0)
			json_array_remove(manifests, i);
	}
	json_t *e = json_object();
	json_object_set_new(
	    e, "mediaType",
	    json_string(d->media_type && *d->media_type ? d->media_type : I2K_MT_OCI_MANIFEST));
	json_object_set_new(e, "digest", json_string(d->digest));
	json_object_set_new(e, "size", json_integer(d->size));
	json_t *ann = json_object();
	json_object_set_new(ann, I2K_STORE_REF_ANNOTATION, json_string(name));
	json_object_set_new(e, "annotations", ann);
	json_array_append_new(manifests, e);
}

/* ---- public ref functions ------------------------------------------------------ */

static json_t *find_named(json_t *ms, const char *name)
{
	for (size_t i = 0; i < json_array_size(ms); i++) {
		const char *n = i2k_index_entry_name(json_array_get(ms, i));
		if (n && strcmp(n, name) == 0)
			return json_array_get(ms, i);
	}
	return NULL;
}

int i2k_store_ref_get(struct i2k_store *s, const char *name, struct i2k_store_ref *out,
		      struct i2k_error **err)
{
	if (!i2k_store_ref_name_valid(name))
		return bad_name(err, name);
	json_t *ms = NULL;
	if (i2k_index_load(s, &ms, err) < 0)
		return -1;
	json_t *e = find_named(ms, name);
	if (e) {
		memset(out, 0, sizeof(*out));
		out->name = i2k_xstrdup(name);
		i2k_index_entry_desc(e, &out->desc);
	}
	json_decref(ms);
	return e ? 1 : 0;
}

int i2k_store_check_desc(struct i2k_store *s, const char *name, const struct i2k_descriptor *d,
			 struct i2k_error **err)
{
	_cleanup_close_ int fd = -1;
	uint64_t size = 0;
	if (i2k_store_open_blob(s, d->digest, &fd, &size, err) < 0)
		return i2k_error_wrap(err, "ref %s", name);
	if (size != (uint64_t)d->size)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "ref %s: descriptor says %lld bytes but blob %s has %llu",
				     name, (long long)d->size, d->digest, (unsigned long long)size);
	struct i2k_digest_set set = {0};
	int r = i2k_store_reach(s, d->digest, true, &set, err);
	i2k_digest_set_free(&set);
	return r < 0 ? i2k_error_wrap(err, "ref %s", name) : 0;
}

struct set_ctx {
	const char *name;
	const struct i2k_descriptor *desc;
};

static int set_fn(struct i2k_store *s, json_t *ms, void *ctx, bool *changed, struct i2k_error **err)
{
	struct set_ctx *c = ctx;
	if (i2k_store_check_desc(s, c->name, c->desc, err) < 0)
		return -1;
	i2k_index_put(ms, c->name, c->desc);
	*changed = true;
	return 0;
}

int i2k_store_ref_set(struct i2k_store *s, const char *name, const struct i2k_descriptor *desc,
		      struct i2k_error **err)
{
	if (!i2k_store_ref_name_valid(name))
		return bad_name(err, name);
	if (!i2k_digest_valid(desc->digest))
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "ref %s: invalid digest \"%.80s\"",
				     name, desc->digest);
	if (desc->size < 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "ref %s: negative size", name);
	struct set_ctx c = {name, desc};
	return i2k_index_edit(s, set_fn, &c, err);
}

struct rm_ctx {
	const char *name;
	bool removed;
};

static int rm_fn(struct i2k_store *s, json_t *ms, void *ctx, bool *changed, struct i2k_error **err)
{
	struct rm_ctx *c = ctx;
	for (size_t i = json_array_size(ms); i-- > 0;) {
		const char *n = i2k_index_entry_name(json_array_get(ms, i));
		if (n && strcmp(n, c->name) == 0) {
			json_array_remove(ms, i);
			c->removed = *changed = true;
		}
	}
	return 0;
}

int i2k_store_ref_remove(struct i2k_store *s, const char *name, bool *removed,
			 struct i2k_error **err)
{
	if (removed)
		*removed = false;
	if (!i2k_store_ref_name_valid(name))
		return bad_name(err, name);
	struct rm_ctx c = {name, false};
	if (i2k_index_edit(s, rm_fn, &c, err) < 0)
		return -1;
	if (removed)
		*removed = c.removed;
	return 0;
}

int i2k_store_ref_list(struct i2k_store *s, struct i2k_store_ref **out, size_t *n,
		       struct i2k_error **err)
{
	json_t *ms = NULL;
	if (i2k_index_load(s, &ms, err) < 0)
		return -1;
	json_t *sorted = sorted_copy(ms);
	json_decref(ms);
	struct i2k_store_ref *v = i2k_xcalloc(json_array_size(sorted) + 1, sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < json_array_size(sorted); i++) {
		json_t *e = json_array_get(sorted, i);
		const char *name = i2k_index_entry_name(e);
		if (name == NULL)
			continue;
		v[k].name = i2k_xstrdup(name);
		i2k_index_entry_desc(e, &v[k].desc);
		k++;
	}
	json_decref(sorted);
	*out = v;
	*n = k;
	return 0;
}

void i2k_store_ref_clear(struct i2k_store_ref *r)
{
	if (r == NULL)
		return;
	free(r->name);
	free(r->desc.media_type);
	r->name = NULL;
	r->desc.media_type = NULL;
}

void i2k_store_refs_free(struct i2k_store_ref *refs, size_t n)
{
	for (size_t i = 0; refs && i < n; i++)
		i2k_store_ref_clear(&refs[i]);
	free(refs);
}
