/* manifest.c — see manifest.h. */
#include "builder/registry/manifest.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

#define _cleanup_json_ _cleanup_(json_decrefp) /* jansson's own cleanup helper */

static const char *const known_types[] = {I2K_MT_OCI_MANIFEST, I2K_MT_DOCKER_MANIFEST,
					  I2K_MT_OCI_INDEX, I2K_MT_DOCKER_LIST};

static enum i2k_manifest_kind kind_of(const char *mt, size_t n, const char **canon)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(known_types); i++) {
		if (strlen(known_types[i]) == n && strncasecmp(mt, known_types[i], n) == 0) {
			*canon = known_types[i];
			return i < 2 ? I2K_KIND_MANIFEST : I2K_KIND_INDEX;
		}
	}
	return I2K_KIND_UNSUPPORTED;
}

enum i2k_manifest_kind i2k_manifest_classify(const char *content_type, const char *json, size_t len,
					     const char **media_type)
{
	*media_type = NULL;
	if (content_type) {
		const char *p = content_type;
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, "; \t");
		enum i2k_manifest_kind k = kind_of(p, n, media_type);
		if (k != I2K_KIND_UNSUPPORTED)
			return k;
	}
	_cleanup_json_ json_t *root = json_loadb(json, len, 0, NULL);
	if (!json_is_object(root))
		return I2K_KIND_UNSUPPORTED;
	json_t *sv = json_object_get(root, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return I2K_KIND_UNSUPPORTED;
	json_t *mt = json_object_get(root, "mediaType");
	if (json_is_string(mt))
		return kind_of(json_string_value(mt), json_string_length(mt), media_type);
	if (json_is_array(json_object_get(root, "manifests"))) {
		*media_type = I2K_MT_OCI_INDEX;
		return I2K_KIND_INDEX;
	}
	if (json_is_array(json_object_get(root, "layers"))) {
		*media_type = I2K_MT_OCI_MANIFEST;
		return I2K_KIND_MANIFEST;
	}
	return I2K_KIND_UNSUPPORTED;
}

/* Fills d from a descriptor object. */
static int parse_desc(json_t *o, struct i2k_descriptor *d, const char *what, const char *ctx,
		      struct i2k_error **err)
{
	memset(d, 0, sizeof(*d));
	if (!json_is_object(o))
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: %s is not an object", ctx, what);
	json_t *dg = json_object_get(o, "digest"), *sz = json_object_get(o, "size"),
	       *mt = json_object_get(o, "mediaType");
	if (!json_is_string(dg) || !i2k_digest_valid(json_string_value(dg)))
		return i2k_error_set(err, I2K_ERR_REGISTRY,
				     "%s: %s has an invalid or unsupported digest", ctx, what);
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: %s has an invalid size", ctx,
				     what);
	if (mt != NULL && !json_is_string(mt))
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: %s has an invalid mediaType", ctx,
				     what);
	memcpy(d->digest, json_string_value(dg), I2K_DIGEST_LEN + 1);
	d->size = (int64_t)json_integer_value(sz);
	d->media_type = i2k_xstrdup(mt ? json_string_value(mt) : "");
	return 0;
}

static json_t *load_object(const char *json, size_t len, const char *ctx, struct i2k_error **err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		i2k_error_set(err, I2K_ERR_REGISTRY, "%s: %s", ctx, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		i2k_error_set(err, I2K_ERR_REGISTRY, "%s: not a JSON object", ctx);
		return NULL;
	}
	json_t *sv = json_object_get(root, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		json_decref(root);
		i2k_error_set(err, I2K_ERR_REGISTRY, "%s: schemaVersion is not 2", ctx);
		return NULL;
	}
	return root;
}

static char *opt_string(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) && json_string_length(v) > 0 ? i2k_xstrdup(json_string_value(v))
							      : NULL;
}

int i2k_manifest_index_parse(const char *json, size_t len, struct i2k_manifest_index *out,
			     struct i2k_error **err)
{
	static const char ctx[] = "invalid image index";
	memset(out, 0, sizeof(*out));
	_cleanup_json_ json_t *root = load_object(json, len, ctx, err);
	if (root == NULL)
		return -1;
	json_t *ms = json_object_get(root, "manifests");
	if (!json_is_array(ms))
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: no \"manifests\" array", ctx);
	size_t n = json_array_size(ms);
	if (n > I2K_MANIFEST_MAX_ENTRIES)
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: more than %d entries", ctx,
				     I2K_MANIFEST_MAX_ENTRIES);
	out->entries = i2k_xcalloc(n ? n : 1, sizeof(*out->entries));
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(ms, i);
		struct i2k_platform_entry *e = &out->entries[i];
		out->n = i + 1;
		if (parse_desc(m, &e->desc, "manifest entry", ctx, err) < 0) {
			i2k_manifest_index_clear(out);
			return -1;
		}
		json_t *pl = json_object_get(m, "platform");
		if (pl != NULL && !json_is_object(pl)) {
			i2k_manifest_index_clear(out);
			return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: platform is not an object",
					     ctx);
		}
		if (pl) {
			e->os = opt_string(pl, "os");
			e->arch = opt_string(pl, "architecture");
			e->variant = opt_string(pl, "variant");
		}
	}
	return 0;
}

void i2k_manifest_index_clear(struct i2k_manifest_index *ix)
{
	if (ix == NULL)
		return;
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->entries[i].desc.media_type);
		free(ix->entries[i].os);
		free(ix->entries[i].arch);
		free(ix->entries[i].variant);
	}
	free(ix->entries);
	memset(ix, 0, sizeof(*ix));
}

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* "no variant" for comparison purposes: NULL, or "v8" on arm64. */
static bool default_variant(const char *arch, const char *variant)
{
	return variant == NULL || (streq(arch, "arm64") && streq(variant, "v8"));
}

static bool variant_equal(const char *arch, const char *want, const char *have)
{
	if (default_variant(arch, want) && default_variant(arch, have))
		return true;
	return streq(want, have);
}

const struct i2k_platform_entry *i2k_manifest_index_select(const struct i2k_manifest_index *ix,
							   const struct i2k_platform *p)
{
	const struct i2k_platform_entry *first = NULL;
	for (size_t i = 0; i < ix->n; i++) {
		const struct i2k_platform_entry *e = &ix->entries[i];
		if (!streq(e->os, p->os) || !streq(e->arch, p->arch))
			continue;
		if (p->variant) {
			if (variant_equal(p->arch, p->variant, e->variant))
				return e;
			continue;
		}
		if (default_variant(p->arch, e->variant))
			return e;
		if (first == NULL)
			first = e;
	}
	return first;
}

bool i2k_platform_matches(const struct i2k_platform *p, const char *os, const char *arch,
			  const char *variant)
{
	if (os && !streq(os, p->os))
		return false;
	if (arch && !streq(arch, p->arch))
		return false;
	if (p->variant && variant && !variant_equal(p->arch, p->variant, variant))
		return false;
	return true;
}

char *i2k_platform_string(const struct i2k_platform *p)
{
	return i2k_xasprintf("%s/%s%s%s", p->os ? p->os : "?", p->arch ? p->arch : "?",
			     p->variant ? "/" : "", p->variant ? p->variant : "");
}

int i2k_manifest_parse(const char *json, size_t len, struct i2k_manifest *out,
		       struct i2k_error **err)
{
	static const char ctx[] = "invalid image manifest";
	memset(out, 0, sizeof(*out));
	_cleanup_json_ json_t *root = load_object(json, len, ctx, err);
	if (root == NULL)
		return -1;
	if (parse_desc(json_object_get(root, "config"), &out->config, "config", ctx, err) < 0) {
		i2k_manifest_clear(out);
		return -1;
	}
	json_t *ls = json_object_get(root, "layers");
	if (!json_is_array(ls)) {
		i2k_manifest_clear(out);
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: no \"layers\" array", ctx);
	}
	size_t n = json_array_size(ls);
	if (n > I2K_MANIFEST_MAX_ENTRIES) {
		i2k_manifest_clear(out);
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: more than %d layers", ctx,
				     I2K_MANIFEST_MAX_ENTRIES);
	}
	out->layers = i2k_xcalloc(n ? n : 1, sizeof(*out->layers));
	for (size_t i = 0; i < n; i++) {
		out->n_layers = i + 1;
		if (parse_desc(json_array_get(ls, i), &out->layers[i], "layer", ctx, err) < 0) {
			i2k_manifest_clear(out);
			return -1;
		}
	}
	return 0;
}

void i2k_manifest_clear(struct i2k_manifest *m)
{
	if (m == NULL)
		return;
	free(m->config.media_type);
	for (size_t i = 0; i < m->n_layers; i++)
		free(m->layers[i].media_type);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

static const char *const docker_to_oci[][2] = {
    {"application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json"},
    {"application/vnd.docker.image.rootfs.diff.tar.gzip",
     "application/vnd.oci.image.layer.v1.tar+gzip"},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
     "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"},
    {"application/vnd.docker.image.rootfs.diff.tar", "application/vnd.oci.image.layer.v1.tar"},
};

static int convert_type(json_t *desc, const char *what, struct i2k_error **err)
{
	json_t *mt = json_object_get(desc, "mediaType");
	if (!json_is_string(mt))
		return 0;
	const char *v = json_string_value(mt);
	if (i2k_str_has_prefix(v, "application/vnd.oci."))
		return 0;
	for (size_t i = 0; i < I2K_ARRAY_SIZE(docker_to_oci); i++)
		if (strcmp(v, docker_to_oci[i][0]) == 0)
			return json_object_set_new(desc, "mediaType",
						   json_string(docker_to_oci[i][1])) == 0
				   ? 0
				   : i2k_error_set(err, I2K_ERR_INTERNAL, "out of memory");
	return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
			     "%s media type \"%.100s\" has no OCI equivalent", what, v);
}

int i2k_manifest_docker_to_oci(const char *json, size_t len, char **out, size_t *out_len,
			       struct i2k_error **err)
{
	*out = NULL;
	_cleanup_json_ json_t *root = load_object(json, len, "invalid image manifest", err);
	if (root == NULL)
		return -1;
	json_t *cfg = json_object_get(root, "config"), *ls = json_object_get(root, "layers");
	if (!json_is_object(cfg) || !json_is_array(ls))
		return i2k_error_set(err, I2K_ERR_REGISTRY,
				     "invalid image manifest: no config or layers");
	json_object_set_new(root, "mediaType", json_string(I2K_MT_OCI_MANIFEST));
	if (convert_type(cfg, "config", err) < 0)
		return -1;
	size_t i;
	json_t *l;
	json_array_foreach(ls, i, l)
	{
		if (!json_is_object(l))
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "invalid image manifest: layer is not an object");
		if (convert_type(l, "layer", err) < 0)
			return -1;
	}
	char *s = json_dumps(root, JSON_COMPACT);
	if (s == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "out of memory");
	*out = s;
	*out_len = strlen(s);
	return 0;
}

int i2k_config_platform(const char *json, size_t len, char **os, char **arch, char **variant,
			struct i2k_error **err)
{
	*os = *arch = *variant = NULL;
	json_error_t jerr;
	_cleanup_json_ json_t *root = json_loadb(json, len, 0, &jerr);
	if (root == NULL)
		return i2k_error_set(err, I2K_ERR_REGISTRY, "invalid image config: %s", jerr.text);
	if (!json_is_object(root))
		return i2k_error_set(err, I2K_ERR_REGISTRY, "invalid image config: not an object");
	*os = opt_string(root, "os");
	*arch = opt_string(root, "architecture");
	*variant = opt_string(root, "variant");
	return 0;
}

int i2k_manifest_stored_size(struct i2k_store *s, const struct i2k_descriptor *desc,
			     uint64_t *total, bool *complete, struct i2k_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	*total = 0;
	*complete = false;
	if (i2k_store_read_blob(s, desc->digest, I2K_MANIFEST_MAX, &data, &len, err) < 0)
		return -1;
	struct i2k_manifest m;
	if (i2k_manifest_parse(data, len, &m, err) < 0)
		return i2k_error_wrap(err, "%s", desc->digest);
	uint64_t t = len + (uint64_t)m.config.size;
	bool all = i2k_store_has_blob(s, m.config.digest);
	for (size_t i = 0; i < m.n_layers; i++) {
		t += (uint64_t)m.layers[i].size;
		all = all && i2k_store_has_blob(s, m.layers[i].digest);
	}
	i2k_manifest_clear(&m);
	*total = t;
	*complete = all;
	return 0;
}
