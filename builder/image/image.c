/* image.c — manifest + config of an image in the store, and flattening its
 * layers into an fstree; see image.h. Layer tar handling is in layer.c. */
#include "builder/image/image.h"
#include "builder/image/layercache.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/image/layer.h"

#define MAX_MANIFEST (4u << 20)
#define MAX_CONFIG (8u << 20)
#define MAX_LAYERS 10000

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

/* ---- config ------------------------------------------------------------------ */

void i2k_image_config_clear(struct i2k_image_config *c)
{
	if (c == NULL)
		return;
	char **vs[] = {c->env, c->entrypoint, c->cmd};
	size_t ns[] = {c->n_env, c->n_entrypoint, c->n_cmd};
	for (size_t k = 0; k < 3; k++) {
		for (size_t i = 0; i < ns[k]; i++)
			free(vs[k][i]);
		free(vs[k]);
	}
	free(c->working_dir);
	free(c->user);
	if (c->labels)
		json_decref(c->labels);
	free(c->os);
	free(c->architecture);
	free(c->variant);
	memset(c, 0, sizeof(*c));
}

/* An optional string member: absent/null → NULL; "" → NULL too. */
static int opt_string(json_t *obj, const char *key, const char *where, char **out,
		      struct i2k_error **err)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s%s must be a string", where, key);
	if (json_string_length(v) > 0)
		*out = i2k_xstrndup(json_string_value(v), json_string_length(v));
	return 0;
}

/* An optional array of strings: absent/null → *set=false. */
static int opt_strv(json_t *obj, const char *key, char ***out, size_t *n, bool *set,
		    struct i2k_error **err)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	*n = 0;
	if (set)
		*set = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return i2k_error_set(err, I2K_ERR_CONFIG, "config.%s must be an array of strings",
				     key);
	size_t cnt = json_array_size(v);
	for (size_t i = 0; i < cnt; i++) {
		json_t *s = json_array_get(v, i);
		/* (json_loadb without JSON_ALLOW_NUL already refuses "\u0000") */
		if (!json_is_string(s))
			return i2k_error_set(err, I2K_ERR_CONFIG, "config.%s[%zu] must be a string",
					     key, i);
	}
	char **vs = i2k_xcalloc(cnt + 1, sizeof(*vs));
	for (size_t i = 0; i < cnt; i++)
		vs[i] = i2k_xstrdup(json_string_value(json_array_get(v, i)));
	*out = vs;
	*n = cnt;
	if (set)
		*set = true;
	return 0;
}

int i2k_image_config_parse(const char *json, size_t len, struct i2k_image_config *out,
			   struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	if (len > MAX_CONFIG)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "image config exceeds %u bytes",
				     MAX_CONFIG);
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "image config: invalid JSON: %s (line %d)", jerr.text,
				     jerr.line);
	if (!json_is_object(root))
		return i2k_error_set(err, I2K_ERR_CONFIG, "image config: not a JSON object");
	struct i2k_image_config c = {0};
	if (opt_string(root, "os", "", &c.os, err) < 0 ||
	    opt_string(root, "architecture", "", &c.architecture, err) < 0 ||
	    opt_string(root, "variant", "", &c.variant, err) < 0)
		goto fail;
	json_t *cfg = json_object_get(root, "config");
	if (cfg != NULL && !json_is_null(cfg)) {
		if (!json_is_object(cfg)) {
			i2k_error_set(err, I2K_ERR_CONFIG, "config must be an object");
			goto fail;
		}
		if (opt_strv(cfg, "Env", &c.env, &c.n_env, NULL, err) < 0 ||
		    opt_strv(cfg, "Entrypoint", &c.entrypoint, &c.n_entrypoint, &c.entrypoint_set,
			     err) < 0 ||
		    opt_strv(cfg, "Cmd", &c.cmd, &c.n_cmd, &c.cmd_set, err) < 0 ||
		    opt_string(cfg, "WorkingDir", "config.", &c.working_dir, err) < 0 ||
		    opt_string(cfg, "User", "config.", &c.user, err) < 0)
			goto fail;
		json_t *labels = json_object_get(cfg, "Labels");
		if (labels != NULL && !json_is_null(labels)) {
			const char *k;
			json_t *v;
			if (!json_is_object(labels)) {
				i2k_error_set(err, I2K_ERR_CONFIG,
					      "config.Labels must be an object");
				goto fail;
			}
			json_object_foreach(labels, k, v)
			{
				if (!json_is_string(v)) {
					i2k_error_set(err, I2K_ERR_CONFIG,
						      "config.Labels.%s must be a string", k);
					goto fail;
				}
			}
			c.labels = json_incref(labels);
		}
	}
	*out = c;
	return 0;
fail:
	i2k_image_config_clear(&c);
	return i2k_error_wrap(err, "image config");
}

/* ---- manifest ------------------------------------------------------------------- */

void i2k_image_free(struct i2k_image *img)
{
	if (img == NULL)
		return;
	free(img->manifest_media_type);
	for (size_t i = 0; i < img->n_layers; i++)
		free(img->layers[i].media_type);
	free(img->layers);
	i2k_image_config_clear(&img->config);
	free(img);
}

void i2k_image_freep(struct i2k_image **img)
{
	i2k_image_free(*img);
	*img = NULL;
}

/* A descriptor's mediaType, digest and size. */
static int descriptor(json_t *d, const char *what, const char **mt, const char **digest,
		      int64_t *size, struct i2k_error **err)
{
	if (!json_is_object(d))
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: not an object", what);
	json_t *m = json_object_get(d, "mediaType"), *g = json_object_get(d, "digest"),
	       *s = json_object_get(d, "size");
	if (!json_is_string(m))
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: mediaType missing", what);
	if (!json_is_string(g) || !i2k_digest_valid(json_string_value(g)))
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: invalid digest", what);
	if (!json_is_integer(s) || json_integer_value(s) < 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: invalid size", what);
	*mt = json_string_value(m);
	*digest = json_string_value(g);
	*size = json_integer_value(s);
	return 0;
}

static int parse_manifest(json_t *root, struct i2k_image *img, int64_t *config_size,
			  struct i2k_error **err)
{
	if (!json_is_object(root))
		return i2k_error_set(err, I2K_ERR_CONFIG, "not a JSON object");
	json_t *mtj = json_object_get(root, "mediaType");
	const char *mt = json_is_string(mtj) ? json_string_value(mtj) : NULL;
	if (mtj != NULL && mt == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG, "mediaType must be a string");
	if ((mt && (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0)) ||
	    (mt == NULL && json_object_get(root, "manifests") != NULL))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "is an image index (%s), not an image manifest: resolve a "
				     "platform first",
				     mt ? mt : MT_OCI_INDEX);
	if (mt && strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIFEST) != 0)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "unsupported manifest media type \"%s\"", mt);
	json_t *sv = json_object_get(root, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "unsupported schemaVersion (only 2 is supported)");
	img->manifest_media_type = i2k_xstrdup(mt ? mt : MT_OCI_MANIFEST);

	const char *cmt, *cdig;
	int64_t csize;
	if (descriptor(json_object_get(root, "config"), "config", &cmt, &cdig, &csize, err) < 0)
		return -1;
	if (strcmp(cmt, MT_OCI_CONFIG) != 0 && strcmp(cmt, MT_DOCKER_CONFIG) != 0)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "config media type \"%s\" is not a container image config",
				     cmt);
	if (csize > (int64_t)MAX_CONFIG)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "config: size %lld exceeds %u bytes",
				     (long long)csize, MAX_CONFIG);
	memcpy(img->config_digest, cdig, I2K_DIGEST_LEN + 1);
	*config_size = csize;

	json_t *layers = json_object_get(root, "layers");
	if (!json_is_array(layers))
		return i2k_error_set(err, I2K_ERR_CONFIG, "layers must be an array");
	size_t n = json_array_size(layers);
	if (n > MAX_LAYERS)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%zu layers (at most %d)", n,
				     MAX_LAYERS);
	img->layers = i2k_xcalloc(n ? n : 1, sizeof(*img->layers));
	for (size_t i = 0; i < n; i++) {
		const char *lmt, *ldig;
		int64_t lsize;
		char what[32];
		snprintf(what, sizeof(what), "layers[%zu]", i);
		if (descriptor(json_array_get(layers, i), what, &lmt, &ldig, &lsize, err) < 0)
			return -1;
		enum i2k_layer_compression comp = i2k_layer_media_type(lmt);
		if (comp == I2K_LAYER_UNKNOWN || comp == I2K_LAYER_DETECT)
			return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					     "%s: unsupported layer media type \"%s\"", what, lmt);
		struct i2k_layer *l = &img->layers[img->n_layers++];
		memcpy(l->digest, ldig, I2K_DIGEST_LEN + 1);
		l->media_type = i2k_xstrdup(lmt);
		l->size = lsize;
	}
	return 0;
}

int i2k_image_load(struct i2k_store *s, const char *manifest_digest, struct i2k_image **out,
		   struct i2k_error **err)
{
	if (manifest_digest == NULL || !i2k_digest_valid(manifest_digest))
		return i2k_error_set(err, I2K_ERR_CONFIG, "invalid manifest digest \"%.80s\"",
				     manifest_digest ? manifest_digest : "");
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	/* store errors name the blob already ("blob sha256:…: not in cache") */
	if (i2k_store_read_blob(s, manifest_digest, MAX_MANIFEST, &data, &len, err) < 0)
		return i2k_error_wrap(err, "manifest");
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG, "manifest %s: invalid JSON: %s (line %d)",
				     manifest_digest, jerr.text, jerr.line);
	_cleanup_(i2k_image_freep) struct i2k_image *img = i2k_xcalloc(1, sizeof(*img));
	memcpy(img->manifest_digest, manifest_digest, I2K_DIGEST_LEN + 1);
	int64_t csize = 0;
	if (parse_manifest(root, img, &csize, err) < 0)
		return i2k_error_wrap(err, "manifest %s", manifest_digest);

	_cleanup_free_ char *cfg = NULL;
	size_t clen = 0;
	if (i2k_store_read_blob(s, img->config_digest, MAX_CONFIG, &cfg, &clen, err) < 0)
		return i2k_error_wrap(err, "config");
	if ((int64_t)clen != csize)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "config %s: %zu bytes, the manifest says %lld",
				     img->config_digest, clen, (long long)csize);
	if (i2k_image_config_parse(cfg, clen, &img->config, err) < 0)
		return i2k_error_wrap(err, "config %s", img->config_digest);
	*out = I2K_STEAL(img);
	return 0;
}

int i2k_image_flatten(struct i2k_image *img, struct i2k_store *s, struct i2k_fstree *tree,
		      const struct i2k_flatten_opts *opts, struct i2k_error **err)
{
	/* the expansion limit spans every layer of the image */
	uint64_t used = 0;
	struct i2k_flatten_opts o = {0};
	if (opts)
		o = *opts;
	if (o.used == NULL)
		o.used = &used;
	opts = &o;
	for (size_t i = 0; i < img->n_layers; i++) {
		const struct i2k_layer *l = &img->layers[i];
		if (!i2k_digest_valid(l->digest))
			return i2k_error_set(err, I2K_ERR_CONFIG, "layer %zu: invalid digest", i);
		const char *key = strchr(l->digest, ':') + 1;
		bool hit = false;
		if (i2k_layercache_replay(s, key, tree, opts, &hit, err) < 0)
			return i2k_error_wrap(err, "layer %s", l->digest);
		if (hit)
			continue;
		_cleanup_close_ int fd = -1;
		uint64_t size = 0;
		if (i2k_store_open_blob(s, l->digest, &fd, &size, err) < 0)
			return i2k_error_wrap(err, "layer");
		if (l->size >= 0 && size != (uint64_t)l->size)
			return i2k_error_set(
			    err, I2K_ERR_INTEGRITY, "layer %s: %llu bytes, the manifest says %lld",
			    l->digest, (unsigned long long)size, (long long)l->size);
		if (i2k_layercache_apply(s, key, l->digest, fd, 0, size, l->media_type, tree, opts,
					 err) < 0)
			return i2k_error_wrap(err, "layer %s", l->digest);
	}
	return 0;
}
