/* sigpayload.c — see sigpayload.h. */
#include "builder/registry/sigpayload.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/manifest.h"

char *i2k_sig_tag(const char *digest)
{
	const char *colon = strchr(digest, ':');
	if (colon == NULL)
		return i2k_xasprintf("%s.sig", digest);
	return i2k_xasprintf("%.*s-%s.sig", (int)(colon - digest), digest, colon + 1);
}

static char *dump(json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (s == NULL)
		abort(); /* out of memory */
	*len = strlen(s);
	return s;
}

char *i2k_sig_payload_build(const char *docker_reference, const char *digest, size_t *len)
{
	json_t *root =
	    json_pack("{s:{s:{s:s},s:{s:s},s:s},s:n}", "critical", "identity", "docker-reference",
		      docker_reference, "image", "docker-manifest-digest", digest, "type",
		      I2K_SIG_TYPE, "optional");
	return dump(root, len);
}

/* A member of obj whose key matches name case-insensitively. */
static json_t *get_ci(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);
	if (v || !json_is_object(obj))
		return v;
	const char *k;
	json_t *val;
	json_object_foreach(obj, k, val)
	{
		if (strcasecmp(k, name) == 0)
			return val;
	}
	return NULL;
}

int i2k_sig_payload_parse(const char *data, size_t len, char digest[I2K_DIGEST_LEN + 1],
			  struct i2k_error **err)
{
	digest[0] = '\0';
	if (len > I2K_SIG_PAYLOAD_MAX)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "signature payload: over %u bytes",
				     I2K_SIG_PAYLOAD_MAX);
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *crit = get_ci(root, "critical");
	json_t *type = get_ci(crit, "type");
	json_t *d = get_ci(get_ci(crit, "image"), "docker-manifest-digest");
	int rc = 0;
	if (!json_is_object(root) || !json_is_object(crit))
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
				   "signature payload: not a simple-signing JSON document");
	else if (!json_is_string(type) || strcmp(json_string_value(type), I2K_SIG_TYPE) != 0)
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
				   "signature payload: critical.type is not \"%s\"", I2K_SIG_TYPE);
	else if (!json_is_string(d) || !i2k_digest_valid(json_string_value(d)))
		rc = i2k_error_set(
		    err, I2K_ERR_INTEGRITY,
		    "signature payload: no valid critical.image.docker-manifest-digest");
	else
		snprintf(digest, I2K_DIGEST_LEN + 1, "%s", json_string_value(d));
	json_decref(root);
	return rc;
}

static int desc_of(json_t *j, const char *what, struct i2k_descriptor *d, struct i2k_error **err)
{
	json_t *mt = json_object_get(j, "mediaType"), *dg = json_object_get(j, "digest"),
	       *sz = json_object_get(j, "size");
	if (!json_is_string(mt) || !json_is_string(dg) ||
	    !i2k_digest_valid(json_string_value(dg)) || !json_is_integer(sz) ||
	    json_integer_value(sz) < 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "signature manifest: %s: invalid descriptor", what);
	d->media_type = i2k_xstrdup(json_string_value(mt));
	snprintf(d->digest, sizeof(d->digest), "%s", json_string_value(dg));
	d->size = (int64_t)json_integer_value(sz);
	return 0;
}

int i2k_sig_manifest_parse(const char *data, size_t len, struct i2k_sig_manifest *out,
			   struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *layers = json_object_get(root, "layers");
	int rc = 0;
	if (!json_is_object(root) || !json_is_array(layers) ||
	    !json_is_object(json_object_get(root, "config"))) {
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
				   "signature manifest: not an image manifest with layers");
	} else if (json_array_size(layers) > I2K_SIG_MAX_LAYERS) {
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "signature manifest: over %u layers",
				   I2K_SIG_MAX_LAYERS);
	} else {
		rc = desc_of(json_object_get(root, "config"), "config", &out->config, err);
		out->layers = i2k_xcalloc(json_array_size(layers) + 1, sizeof(*out->layers));
		for (size_t i = 0; rc == 0 && i < json_array_size(layers); i++) {
			json_t *l = json_array_get(layers, i);
			json_t *mt = json_object_get(l, "mediaType");
			if (!json_is_string(mt) ||
			    strcmp(json_string_value(mt), I2K_SIG_PAYLOAD_MT) != 0)
				continue;
			struct i2k_sig_layer *sl = &out->layers[out->n];
			if (desc_of(l, "layer", &sl->payload, err) < 0) {
				rc = -1;
				break;
			}
			out->n++;
			json_t *s =
			    json_object_get(json_object_get(l, "annotations"), I2K_SIG_ANNOTATION);
			if (json_is_string(s))
				sl->signature = i2k_xstrdup(json_string_value(s));
		}
	}
	json_decref(root);
	if (rc < 0)
		i2k_sig_manifest_clear(out);
	return rc;
}

void i2k_sig_manifest_clear(struct i2k_sig_manifest *m)
{
	free(m->config.media_type);
	for (size_t i = 0; i < m->n; i++) {
		free(m->layers[i].payload.media_type);
		free(m->layers[i].signature);
	}
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

static json_t *desc_json(const struct i2k_descriptor *d)
{
	return json_pack("{s:s,s:s,s:I}", "mediaType", d->media_type, "digest", d->digest, "size",
			 (json_int_t)d->size);
}

char *i2k_sig_manifest_build(const struct i2k_sig_manifest *m, size_t *len)
{
	json_t *layers = json_array();
	for (size_t i = 0; i < m->n; i++) {
		json_t *l = desc_json(&m->layers[i].payload);
		if (m->layers[i].signature)
			json_object_set_new(
			    l, "annotations",
			    json_pack("{s:s}", I2K_SIG_ANNOTATION, m->layers[i].signature));
		json_array_append_new(layers, l);
	}
	json_t *root =
	    json_pack("{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType", I2K_MT_OCI_MANIFEST,
		      "config", desc_json(&m->config), "layers", layers);
	return dump(root, len);
}

char *i2k_sig_config_build(const struct i2k_sig_manifest *m, size_t *len)
{
	json_t *ids = json_array();
	for (size_t i = 0; i < m->n; i++)
		json_array_append_new(ids, json_string(m->layers[i].payload.digest));
	json_t *root = json_pack("{s:s,s:s,s:{},s:{s:s,s:o}}", "architecture", "", "os", "",
				 "config", "rootfs", "type", "layers", "diff_ids", ids);
	return dump(root, len);
}
