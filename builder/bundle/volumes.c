/* volumes.c — volume names in binds and mounts (see volumes.h). */
#include "builder/bundle/volumes.h"

#include <stdbool.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

static const struct i2k_volume_entry *find(const struct i2k_volume_entry *v, size_t n,
					   const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i].name) == len && memcmp(v[i].name, name, len) == 0)
			return &v[i];
	return NULL;
}

static int read_only_error(const char *name, struct i2k_error **err)
{
	return i2k_error_set(err, I2K_ERR_CONFIG,
			     "volume \"%s\" is read-only, but attempting to write into container "
			     "read-write",
			     name);
}

int i2k_volumes_rewrite_binds(const struct i2k_strv *in, const char *what,
			      const struct i2k_volume_entry *vols, size_t nvols,
			      struct i2k_strv *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->n; i++) {
		const char *b = in->v[i];
		const char *c1 = strchr(b, ':');
		if (b[0] == '/' || c1 == NULL) {
			/* absolute, or not a bind at all (mounts.c reports it) */
			i2k_strv_push(out, b);
			continue;
		}
		size_t len = (size_t)(c1 - b);
		const struct i2k_volume_entry *v = find(vols, nvols, b, len);
		if (v == NULL) {
			i2k_error_set(err, I2K_ERR_CONFIG, "volume \"%.*s\" not found (%s[%zu])",
				      (int)len, b, what, i);
			i2k_strv_clear(out);
			return -1;
		}
		const char *c2 = strchr(c1 + 1, ':');
		if (v->readonly && (c2 == NULL || strcmp(c2 + 1, "ro") != 0)) {
			read_only_error(v->name, err);
			i2k_strv_clear(out);
			return -1;
		}
		_cleanup_free_ char *nb = i2k_xasprintf(I2K_VOLUME_DIR "/%s/merged%s", v->name, c1);
		i2k_strv_push(out, nb);
	}
	out->set = in->set;
	return 0;
}

int i2k_volumes_rewrite_mounts(const json_t *mounts, const struct i2k_volume_entry *vols,
			       size_t nvols, json_t **out, struct i2k_error **err)
{
	*out = NULL;
	if (mounts == NULL)
		return 0;
	json_t *copy = json_deep_copy(mounts);
	if (!json_is_array(copy)) {
		*out = copy;
		return 0;
	}
	for (size_t i = 0; i < json_array_size(copy); i++) {
		json_t *m = json_array_get(copy, i);
		const char *type = json_string_value(json_object_get(m, "type"));
		const char *src = json_string_value(json_object_get(m, "source"));
		if (type == NULL || strcmp(type, "bind") != 0 || src == NULL || src[0] == '/')
			continue;
		const struct i2k_volume_entry *v = find(vols, nvols, src, strlen(src));
		if (v == NULL) {
			i2k_error_set(err, I2K_ERR_CONFIG, "volume \"%s\" not found (mounts[%zu])",
				      src, i);
			json_decref(copy);
			return -1;
		}
		if (v->readonly) {
			bool ro = false;
			json_t *opts = json_object_get(m, "options");
			for (size_t k = 0; k < json_array_size(opts); k++) {
				const char *o = json_string_value(json_array_get(opts, k));
				if (o && strcmp(o, "rw") == 0)
					break;
				if (o && strcmp(o, "ro") == 0) {
					ro = true;
					break;
				}
			}
			if (!ro) {
				read_only_error(v->name, err);
				json_decref(copy);
				return -1;
			}
		}
		_cleanup_free_ char *merged = i2k_xasprintf(I2K_VOLUME_DIR "/%s/merged", v->name);
		json_object_set_new(m, "source", json_string(merged));
	}
	*out = copy;
	return 0;
}
