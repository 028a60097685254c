/* emit.c — see emit.h. */
#include "builder/config/emit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/imgopts.h"

struct em {
	yaml_emitter_t e;
	struct i2k_buf buf;
	bool failed;
};

static int write_cb(void *data, unsigned char *buffer, size_t size)
{
	return i2k_buf_append(data, buffer, size, NULL) == 0;
}

static void emit(struct em *m, yaml_event_t *ev, int ok)
{
	if (m->failed)
		return;
	if (!ok || !yaml_emitter_emit(&m->e, ev))
		m->failed = true;
}

static void scalar(struct em *m, const char *s, size_t len, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	int ok =
	    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style);
	emit(m, &ev, ok);
}

/* Would YAML 1.1 (or our own reader) take this plain scalar as something
 * other than a string? */
static bool looks_typed(const char *s, size_t len)
{
	static const char *const words[] = {
	    "~",     "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
	    "FALSE", "yes",  "Yes",  "YES",  "no",   "No",   "NO",   "on",    "On",
	    "ON",    "off",  "Off",  "OFF",  "y",    "Y",    "n",    "N"};
	if (len == 0)
		return true;
	for (size_t i = 0; i < I2K_ARRAY_SIZE(words); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	const char *p = s;
	if (*p == '-' || *p == '+')
		p++;
	if (*p == '.')
		p++;
	if (*p >= '0' && *p <= '9')
		return true;
	/* .inf, .nan, and friends */
	if (s[0] == '.' || (s[0] && s[1] == '.'))
		return strcasecmp(p, "inf") == 0 || strcasecmp(p, "nan") == 0;
	return false;
}

static void str_n(struct em *m, const char *s, size_t len)
{
	yaml_scalar_style_t style = YAML_PLAIN_SCALAR_STYLE;
	if (looks_typed(s, len) || memchr(s, '\0', len))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	else if (memchr(s, '\n', len))
		style = YAML_LITERAL_SCALAR_STYLE;
	scalar(m, s, len, style);
}

static void str(struct em *m, const char *s)
{
	str_n(m, s, strlen(s));
}

static void integer(struct em *m, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%" PRId64, v);
	scalar(m, b, (size_t)n, YAML_PLAIN_SCALAR_STYLE);
}

static void boolean(struct em *m, bool v)
{
	scalar(m, v ? "true" : "false", v ? 4 : 5, YAML_PLAIN_SCALAR_STYLE);
}

static void mode(struct em *m, uint32_t v)
{
	char b[16];
	int n = snprintf(b, sizeof(b), "%04o", (unsigned)v);
	scalar(m, b, (size_t)n, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

static void map_start(struct em *m)
{
	yaml_event_t ev;
	emit(m, &ev,
	     yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE));
}

static void map_end(struct em *m)
{
	yaml_event_t ev;
	emit(m, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void seq_start(struct em *m)
{
	yaml_event_t ev;
	emit(m, &ev,
	     yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE));
}

static void seq_end(struct em *m)
{
	yaml_event_t ev;
	emit(m, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void kv_str(struct em *m, const char *k, const char *v)
{
	if (v == NULL)
		return;
	str(m, k);
	str(m, v);
}

static void strv(struct em *m, const char *k, const struct i2k_strv *s)
{
	if (!s->set)
		return;
	str(m, k);
	seq_start(m);
	for (size_t i = 0; i < s->n; i++)
		str(m, s->v[i]);
	seq_end(m);
}

static void optid(struct em *m, const struct i2k_optid *id)
{
	if (id->is_name)
		str(m, id->name);
	else
		integer(m, id->id);
}

static int key_sort(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void json_by_schema(struct em *m, const json_t *j, const struct i2k_jschema *s)
{
	switch (s->t) {
	case I2K_J_STR:
		str_n(m, json_string_value(j), json_string_length(j));
		return;
	case I2K_J_INT:
	case I2K_J_UINT:
		integer(m, (int64_t)json_integer_value(j));
		return;
	case I2K_J_BOOL:
		boolean(m, json_is_true(j));
		return;
	case I2K_J_MODE:
		mode(m, (uint32_t)json_integer_value(j));
		return;
	case I2K_J_ARR:
		seq_start(m);
		for (size_t i = 0; i < json_array_size(j); i++)
			json_by_schema(m, json_array_get(j, i), s->elem);
		seq_end(m);
		return;
	case I2K_J_OBJ:
		map_start(m);
		for (size_t i = 0; i < s->nfields; i++) {
			const json_t *v = json_object_get(j, s->fields[i].key);
			if (v == NULL)
				continue;
			str(m, s->fields[i].key);
			json_by_schema(m, v, s->fields[i].s);
		}
		map_end(m);
		return;
	case I2K_J_STRMAP:
	case I2K_J_MAP: {
		size_t n = json_object_size(j), i = 0;
		_cleanup_free_ const char **keys = i2k_xcalloc(n + 1, sizeof(*keys));
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)j, k, v) keys[i++] = k;
		qsort(keys, n, sizeof(*keys), key_sort);
		map_start(m);
		for (i = 0; i < n; i++) {
			str(m, keys[i]);
			v = json_object_get(j, keys[i]);
			if (s->t == I2K_J_STRMAP)
				str_n(m, json_string_value(v), json_string_length(v));
			else
				json_by_schema(m, v, s->elem);
		}
		map_end(m);
		return;
	}
	}
}

static void runtime(struct em *m, const struct i2k_runtime *r)
{
	map_start(m);
	strv(m, "cgroups", &r->cgroups);
	if (r->mounts) {
		str(m, "mounts");
		json_by_schema(m, r->mounts, &i2k_js_mounts);
	}
	strv(m, "mkdir", &r->mkdir);
	if (r->interfaces) {
		str(m, "interfaces");
		json_by_schema(m, r->interfaces, &i2k_js_interfaces);
	}
	const struct i2k_bindns *b = &r->bindns;
	if (b->cgroup || b->ipc || b->mnt || b->net || b->pid || b->user || b->uts) {
		str(m, "bindNS");
		map_start(m);
		kv_str(m, "cgroup", b->cgroup);
		kv_str(m, "ipc", b->ipc);
		kv_str(m, "mnt", b->mnt);
		kv_str(m, "net", b->net);
		kv_str(m, "pid", b->pid);
		kv_str(m, "user", b->user);
		kv_str(m, "uts", b->uts);
		map_end(m);
	}
	kv_str(m, "namespace", r->namespace_);
	map_end(m);
}

static void imgopts(struct em *m, const struct i2k_imgopts *o)
{
	for (size_t i = 0; i < i2k_imgopt_nfields; i++) {
		const struct i2k_imgopt_field *f = &i2k_imgopt_fields[i];
		const void *v = (const char *)o + f->off;
		switch (f->type) {
		case I2K_IOF_STRV:
		case I2K_IOF_ENV:
			strv(m, f->key, v);
			break;
		case I2K_IOF_STR:
			kv_str(m, f->key, *(char *const *)v);
			break;
		case I2K_IOF_BOOL: {
			const struct i2k_optbool *b = v;
			if (b->set) {
				str(m, f->key);
				boolean(m, b->value);
			}
			break;
		}
		case I2K_IOF_INT: {
			const struct i2k_optint *n = v;
			if (n->set) {
				str(m, f->key);
				integer(m, n->value);
			}
			break;
		}
		case I2K_IOF_ID:
			if (((const struct i2k_optid *)v)->set) {
				str(m, f->key);
				optid(m, v);
			}
			break;
		case I2K_IOF_IDV:
			if (o->additional_gids_set) {
				str(m, f->key);
				seq_start(m);
				for (size_t j = 0; j < o->n_additional_gids; j++)
					optid(m, &o->additional_gids[j]);
				seq_end(m);
			}
			break;
		case I2K_IOF_JSON: {
			const json_t *j = *(json_t *const *)v;
			if (j) {
				str(m, f->key);
				json_by_schema(m, j, f->schema);
			}
			break;
		}
		case I2K_IOF_RUNTIME:
			if (((const struct i2k_runtime *)v)->set) {
				str(m, f->key);
				runtime(m, v);
			}
			break;
		}
	}
}

static void images(struct em *m, const char *key, const struct i2k_image_entry *e, size_t n)
{
	if (n == 0)
		return;
	str(m, key);
	seq_start(m);
	for (size_t i = 0; i < n; i++) {
		map_start(m);
		kv_str(m, "name", e[i].name);
		kv_str(m, "image", e[i].image);
		imgopts(m, &e[i].opts);
		map_end(m);
	}
	seq_end(m);
}

static void kernel(struct em *m, const struct i2k_kernel_cfg *k)
{
	if (k->image == NULL)
		return;
	str(m, "kernel");
	map_start(m);
	kv_str(m, "image", k->image);
	kv_str(m, "cmdline", k->cmdline);
	kv_str(m, "binary", k->binary);
	kv_str(m, "tar", k->tar);
	kv_str(m, "ucode", k->ucode);
	if (k->modules_set) {
		if (k->modules == I2K_MODULES_LIST)
			strv(m, "modules", &k->module_names);
		else
			kv_str(m, "modules", k->modules == I2K_MODULES_ALL ? "all" : "auto");
	}
	map_end(m);
}

static void files(struct em *m, const struct i2k_file_entry *f, size_t n)
{
	if (n == 0)
		return;
	str(m, "files");
	seq_start(m);
	for (size_t i = 0; i < n; i++) {
		map_start(m);
		kv_str(m, "path", f[i].path);
		if (f[i].directory) {
			str(m, "directory");
			boolean(m, true);
		}
		kv_str(m, "symlink", f[i].symlink);
		if (f[i].contents) {
			str(m, "contents");
			str_n(m, f[i].contents, f[i].contents_len);
		}
		kv_str(m, "source", f[i].source);
		kv_str(m, "metadata", f[i].metadata);
		if (f[i].optional) {
			str(m, "optional");
			boolean(m, true);
		}
		if (f[i].mode_set) {
			str(m, "mode");
			mode(m, f[i].mode);
		}
		if (f[i].uid.set) {
			str(m, "uid");
			optid(m, &f[i].uid);
		}
		if (f[i].gid.set) {
			str(m, "gid");
			optid(m, &f[i].gid);
		}
		map_end(m);
	}
	seq_end(m);
}

static void volumes(struct em *m, const struct i2k_volume_entry *v, size_t n)
{
	if (n == 0)
		return;
	str(m, "volumes");
	seq_start(m);
	for (size_t i = 0; i < n; i++) {
		map_start(m);
		kv_str(m, "name", v[i].name);
		kv_str(m, "image", v[i].image);
		if (v[i].readonly) {
			str(m, "readonly");
			boolean(m, true);
		}
		kv_str(m, "format", v[i].format);
		strv(m, "platforms", &v[i].platforms);
		map_end(m);
	}
	seq_end(m);
}

int i2k_config_emit(const struct i2k_config *c, char **out, size_t *len, struct i2k_error **err)
{
	struct em m = {.buf = {.max = (size_t)256 << 20}};
	if (!yaml_emitter_initialize(&m.e))
		return i2k_error_set(err, I2K_ERR_INTERNAL, "yaml_emitter_initialize failed");
	yaml_emitter_set_output(&m.e, write_cb, &m.buf);
	yaml_emitter_set_unicode(&m.e, 1);
	yaml_emitter_set_width(&m.e, -1);
	yaml_emitter_set_indent(&m.e, 2);
	yaml_event_t ev;
	emit(&m, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit(&m, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	map_start(&m);
	kernel(&m, &c->kernel);
	if (c->n_init) {
		str(&m, "init");
		seq_start(&m);
		for (size_t i = 0; i < c->n_init; i++)
			str(&m, c->init[i].image);
		seq_end(&m);
	}
	images(&m, "onboot", c->onboot, c->n_onboot);
	images(&m, "onshutdown", c->onshutdown, c->n_onshutdown);
	images(&m, "services", c->services, c->n_services);
	files(&m, c->files, c->n_files);
	volumes(&m, c->volumes, c->n_volumes);
	if (c->trust_given) {
		str(&m, "trust");
		map_start(&m);
		map_end(&m);
	}
	map_end(&m);
	emit(&m, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit(&m, &ev, yaml_stream_end_event_initialize(&ev));
	if (!m.failed && !yaml_emitter_flush(&m.e))
		m.failed = true;
	const char *problem = m.e.problem;
	bool failed = m.failed;
	_cleanup_free_ char *why = i2k_xstrdup(problem ? problem : "write failed");
	yaml_emitter_delete(&m.e);
	if (failed) {
		i2k_buf_free(&m.buf);
		return i2k_error_set(err, I2K_ERR_INTERNAL, "writing the config as YAML: %s", why);
	}
	if (m.buf.data == NULL)
		m.buf.data = i2k_xstrdup("");
	*out = m.buf.data;
	if (len)
		*len = m.buf.len;
	return 0;
}
