/* gojson.c — see gojson.h. */
#include "builder/bundle/gojson.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/base/cleanup.h"
#include "builder/base/utf.h"
#include "builder/base/util.h"

void i2k_gj_init(struct i2k_gj *w)
{
	memset(w, 0, sizeof(*w));
}

void i2k_gj_clear(struct i2k_gj *w)
{
	free(w->buf);
	i2k_error_free(w->err);
	memset(w, 0, sizeof(*w));
}

void i2k_gj_fail(struct i2k_gj *w, const char *fmt, ...)
{
	if (w->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	i2k_error_setv(&w->err, I2K_ERR_CONFIG, fmt, ap);
	va_end(ap);
}

static void put(struct i2k_gj *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (w->len + n + 1 > I2K_GJ_MAX) {
		i2k_error_set(&w->err, I2K_ERR_CONFIG, "generated JSON exceeds %u bytes",
			      I2K_GJ_MAX);
		return;
	}
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 1024;
		while (cap < w->len + n + 1)
			cap *= 2;
		w->buf = i2k_xrealloc(w->buf, cap);
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void puts_(struct i2k_gj *w, const char *s)
{
	put(w, s, strlen(s));
}

static void newline_indent(struct i2k_gj *w, unsigned depth)
{
	put(w, "\n", 1);
	for (unsigned i = 0; i < depth; i++)
		put(w, "    ", 4);
}

/* Separator before a value or a key at the current depth. */
static void before_item(struct i2k_gj *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0)
		return;
	if (w->count[w->depth]++ > 0)
		put(w, ",", 1);
	newline_indent(w, w->depth);
}

static void open_(struct i2k_gj *w, const char *c)
{
	before_item(w);
	puts_(w, c);
	if (w->depth >= I2K_GJ_MAX_DEPTH) {
		i2k_gj_fail(w, "generated JSON nests deeper than %d levels", I2K_GJ_MAX_DEPTH);
		return;
	}
	w->depth++;
	w->count[w->depth] = 0;
}

static void close_(struct i2k_gj *w, const char *c)
{
	if (w->err || w->depth == 0)
		return;
	unsigned n = w->count[w->depth];
	w->depth--;
	if (n > 0)
		newline_indent(w, w->depth);
	puts_(w, c);
}

void i2k_gj_obj_begin(struct i2k_gj *w)
{
	open_(w, "{");
}
void i2k_gj_obj_end(struct i2k_gj *w)
{
	close_(w, "}");
}
void i2k_gj_arr_begin(struct i2k_gj *w)
{
	open_(w, "[");
}
void i2k_gj_arr_end(struct i2k_gj *w)
{
	close_(w, "]");
}

static void put_string(struct i2k_gj *w, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	put(w, "\"", 1);
	size_t start = 0, i = 0;
	while (i < n) {
		unsigned char c = s[i];
		const char *esc = NULL;
		char ubuf[7];
		size_t adv = 1;
		if (c < 0x80) {
			switch (c) {
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '<':
			case '>':
			case '&':
				break;
			default:
				if (c >= 0x20) {
					i++;
					continue;
				}
			}
			if (esc == NULL) {
				memcpy(ubuf, "\\u00", 4);
				ubuf[4] = hex[c >> 4];
				ubuf[5] = hex[c & 15];
				ubuf[6] = '\0';
				esc = ubuf;
			}
		} else {
			uint32_t cp = 0;
			size_t l = i2k_utf8_decode(s + i, n - i, &cp);
			if (l == 0) {
				esc = "\\ufffd";
			} else if (cp == 0x2028) {
				esc = "\\u2028";
				adv = l;
			} else if (cp == 0x2029) {
				esc = "\\u2029";
				adv = l;
			} else {
				i += l;
				continue;
			}
		}
		put(w, str + start, i - start);
		puts_(w, esc);
		i += adv;
		start = i;
	}
	put(w, str + start, n - start);
	put(w, "\"", 1);
}

void i2k_gj_key(struct i2k_gj *w, const char *key)
{
	before_item(w);
	put_string(w, key, strlen(key));
	put(w, ": ", 2);
	w->after_key = true;
}

void i2k_gj_strn(struct i2k_gj *w, const char *s, size_t n)
{
	before_item(w);
	put_string(w, s, n);
}

void i2k_gj_str(struct i2k_gj *w, const char *s)
{
	i2k_gj_strn(w, s ? s : "", s ? strlen(s) : 0);
}

void i2k_gj_u64(struct i2k_gj *w, uint64_t v)
{
	char b[32];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	before_item(w);
	puts_(w, b);
}

void i2k_gj_i64(struct i2k_gj *w, int64_t v)
{
	char b[32];
	snprintf(b, sizeof(b), "%" PRId64, v);
	before_item(w);
	puts_(w, b);
}

void i2k_gj_bool(struct i2k_gj *w, bool v)
{
	before_item(w);
	puts_(w, v ? "true" : "false");
}

void i2k_gj_null(struct i2k_gj *w)
{
	before_item(w);
	puts_(w, "null");
}

void i2k_gj_strv(struct i2k_gj *w, char *const *v, size_t n)
{
	i2k_gj_arr_begin(w);
	for (size_t i = 0; i < n; i++)
		i2k_gj_str(w, v[i]);
	i2k_gj_arr_end(w);
}

int i2k_gj_finish(struct i2k_gj *w, char **out, struct i2k_error **err)
{
	if (w->err == NULL && w->depth != 0)
		i2k_error_set(&w->err, I2K_ERR_INTERNAL, "unbalanced JSON writer");
	if (w->err) {
		i2k_error_propagate(err, &w->err);
		i2k_gj_clear(w);
		return -1;
	}
	*out = w->buf ? w->buf : i2k_xstrdup("");
	w->buf = NULL;
	i2k_gj_clear(w);
	return 0;
}

/* ---- schemas -------------------------------------------------------------- */

#define OE I2K_GJ_OMITEMPTY
#define PTR (I2K_GJ_OMITEMPTY | I2K_GJ_PTR)

const struct i2k_gj_type i2k_gj_t_string = {.kind = I2K_GJ_STRING};
static const struct i2k_gj_type t_bool = {.kind = I2K_GJ_BOOL};
static const struct i2k_gj_type t_int = {.kind = I2K_GJ_INT};
static const struct i2k_gj_type t_u64 = {.kind = I2K_GJ_UINT};
static const struct i2k_gj_type t_u32 = {.kind = I2K_GJ_UINT, .max = UINT32_MAX};
static const struct i2k_gj_type t_u16 = {.kind = I2K_GJ_UINT, .max = UINT16_MAX};
static const struct i2k_gj_type t_strv = {.kind = I2K_GJ_ARRAY, .elem = &i2k_gj_t_string};
const struct i2k_gj_type i2k_gj_t_strmap = {.kind = I2K_GJ_MAP, .elem = &i2k_gj_t_string};

/* runtime-spec specs-go/config.go: LinuxIDMapping */
static const struct i2k_gj_field f_idmapping[] = {
    {"containerID", &t_u32, 0},
    {"hostID", &t_u32, 0},
    {"size", &t_u32, 0},
    {NULL, NULL, 0},
};
const struct i2k_gj_type i2k_gj_t_idmapping = {.kind = I2K_GJ_STRUCT, .fields = f_idmapping};
const struct i2k_gj_type i2k_gj_t_idmappings = {.kind = I2K_GJ_ARRAY, .elem = &i2k_gj_t_idmapping};

/* Mount */
static const struct i2k_gj_field f_mount[] = {
    {"destination", &i2k_gj_t_string, 0},
    {"type", &i2k_gj_t_string, OE},
    {"source", &i2k_gj_t_string, OE},
    {"options", &t_strv, OE},
    {"uidMappings", &i2k_gj_t_idmappings, OE},
    {"gidMappings", &i2k_gj_t_idmappings, OE},
    {NULL, NULL, 0},
};
const struct i2k_gj_type i2k_gj_t_mount = {.kind = I2K_GJ_STRUCT, .fields = f_mount};

/* LinuxKit moby.Interface */
static const struct i2k_gj_field f_interface[] = {
    {"name", &i2k_gj_t_string, OE},
    {"add", &i2k_gj_t_string, OE},
    {"peer", &i2k_gj_t_string, OE},
    {"createInRoot", &t_bool, 0},
    {NULL, NULL, 0},
};
const struct i2k_gj_type i2k_gj_t_interface = {.kind = I2K_GJ_STRUCT, .fields = f_interface};

/* LinuxDeviceCgroup */
static const struct i2k_gj_field f_devcgroup[] = {
    {"allow", &t_bool, 0},  {"type", &i2k_gj_t_string, OE},   {"major", &t_int, PTR},
    {"minor", &t_int, PTR}, {"access", &i2k_gj_t_string, OE}, {NULL, NULL, 0},
};
static const struct i2k_gj_type t_devcgroup = {.kind = I2K_GJ_STRUCT, .fields = f_devcgroup};

/* LinuxMemory */
static const struct i2k_gj_field f_memory[] = {
    {"limit", &t_int, PTR},
    {"reservation", &t_int, PTR},
    {"swap", &t_int, PTR},
    {"kernel", &t_int, PTR},
    {"kernelTCP", &t_int, PTR},
    {"swappiness", &t_u64, PTR},
    {"disableOOMKiller", &t_bool, PTR},
    {"useHierarchy", &t_bool, PTR},
    {"checkBeforeUpdate", &t_bool, PTR},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_memory = {.kind = I2K_GJ_STRUCT, .fields = f_memory};

/* LinuxCPU */
static const struct i2k_gj_field f_cpu[] = {
    {"shares", &t_u64, PTR},
    {"quota", &t_int, PTR},
    {"burst", &t_u64, PTR},
    {"period", &t_u64, PTR},
    {"realtimeRuntime", &t_int, PTR},
    {"realtimePeriod", &t_u64, PTR},
    {"cpus", &i2k_gj_t_string, OE},
    {"mems", &i2k_gj_t_string, OE},
    {"idle", &t_int, PTR},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_cpu = {.kind = I2K_GJ_STRUCT, .fields = f_cpu};

/* LinuxPids */
static const struct i2k_gj_field f_pids[] = {
    {"limit", &t_int, 0},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_pids = {.kind = I2K_GJ_STRUCT, .fields = f_pids};

/* LinuxWeightDevice / LinuxThrottleDevice (embedded LinuxBlockIODevice first) */
static const struct i2k_gj_field f_weightdev[] = {
    {"major", &t_int, 0},	 {"minor", &t_int, 0}, {"weight", &t_u16, PTR},
    {"leafWeight", &t_u16, PTR}, {NULL, NULL, 0},
};
static const struct i2k_gj_type t_weightdev = {.kind = I2K_GJ_STRUCT, .fields = f_weightdev};
static const struct i2k_gj_type t_weightdevs = {.kind = I2K_GJ_ARRAY, .elem = &t_weightdev};
static const struct i2k_gj_field f_throttledev[] = {
    {"major", &t_int, 0},
    {"minor", &t_int, 0},
    {"rate", &t_u64, 0},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_throttledev = {.kind = I2K_GJ_STRUCT, .fields = f_throttledev};
static const struct i2k_gj_type t_throttledevs = {.kind = I2K_GJ_ARRAY, .elem = &t_throttledev};

/* LinuxBlockIO */
static const struct i2k_gj_field f_blockio[] = {
    {"weight", &t_u16, PTR},
    {"leafWeight", &t_u16, PTR},
    {"weightDevice", &t_weightdevs, OE},
    {"throttleReadBpsDevice", &t_throttledevs, OE},
    {"throttleWriteBpsDevice", &t_throttledevs, OE},
    {"throttleReadIOPSDevice", &t_throttledevs, OE},
    {"throttleWriteIOPSDevice", &t_throttledevs, OE},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_blockio = {.kind = I2K_GJ_STRUCT, .fields = f_blockio};

/* LinuxHugepageLimit */
static const struct i2k_gj_field f_hugepage[] = {
    {"pageSize", &i2k_gj_t_string, 0},
    {"limit", &t_u64, 0},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_hugepage = {.kind = I2K_GJ_STRUCT, .fields = f_hugepage};
static const struct i2k_gj_type t_hugepages = {.kind = I2K_GJ_ARRAY, .elem = &t_hugepage};

/* LinuxNetwork */
static const struct i2k_gj_field f_prio[] = {
    {"name", &i2k_gj_t_string, 0},
    {"priority", &t_u32, 0},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_prio = {.kind = I2K_GJ_STRUCT, .fields = f_prio};
static const struct i2k_gj_type t_prios = {.kind = I2K_GJ_ARRAY, .elem = &t_prio};
static const struct i2k_gj_field f_network[] = {
    {"classID", &t_u32, PTR},
    {"priorities", &t_prios, OE},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_network = {.kind = I2K_GJ_STRUCT, .fields = f_network};

/* LinuxRdma */
static const struct i2k_gj_field f_rdma[] = {
    {"hcaHandles", &t_u32, PTR},
    {"hcaObjects", &t_u32, PTR},
    {NULL, NULL, 0},
};
static const struct i2k_gj_type t_rdma = {.kind = I2K_GJ_STRUCT, .fields = f_rdma};
static const struct i2k_gj_type t_rdmamap = {.kind = I2K_GJ_MAP, .elem = &t_rdma};

static const struct i2k_gj_type t_devcgroups = {.kind = I2K_GJ_ARRAY, .elem = &t_devcgroup};

/* LinuxResources */
static const struct i2k_gj_field f_resources[] = {
    {"devices", &t_devcgroups, OE},
    {"memory", &t_memory, PTR},
    {"cpu", &t_cpu, PTR},
    {"pids", &t_pids, PTR},
    {"blockIO", &t_blockio, PTR},
    {"hugepageLimits", &t_hugepages, OE},
    {"network", &t_network, PTR},
    {"rdma", &t_rdmamap, OE},
    {"unified", &i2k_gj_t_strmap, OE},
    {NULL, NULL, 0},
};
const struct i2k_gj_type i2k_gj_t_resources = {.kind = I2K_GJ_STRUCT, .fields = f_resources};

/* ---- emission -------------------------------------------------------------- */

json_t *i2k_gj_get(const json_t *obj, const char *key)
{
	if (!json_is_object(obj))
		return NULL;
	json_t *v = json_object_get(obj, key);
	if (v)
		return v;
	const char *k;
	json_t *val;
	json_object_foreach((json_t *)obj, k, val)
	{
		if (strcasecmp(k, key) == 0)
			return val;
	}
	return NULL;
}

bool i2k_gj_is_empty(const json_t *v, const struct i2k_gj_type *type)
{
	if (v == NULL || json_is_null(v))
		return true;
	switch (type->kind) {
	case I2K_GJ_STRING:
		return json_is_string(v) && json_string_length(v) == 0;
	case I2K_GJ_BOOL:
		return json_is_false(v);
	case I2K_GJ_INT:
	case I2K_GJ_UINT:
		return json_is_integer(v) && json_integer_value(v) == 0;
	case I2K_GJ_ARRAY:
		return json_is_array(v) && json_array_size(v) == 0;
	case I2K_GJ_MAP:
		return json_is_object(v) && json_object_size(v) == 0;
	case I2K_GJ_STRUCT:
		return false; /* Go never omits a struct value */
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void emit_zero(struct i2k_gj *w, const struct i2k_gj_type *type, const char *path);

static void emit_struct(struct i2k_gj *w, const json_t *v, const struct i2k_gj_type *type,
			const char *path)
{
	i2k_gj_obj_begin(w);
	for (const struct i2k_gj_field *f = type->fields; f->key && !w->err; f++) {
		json_t *fv = v ? i2k_gj_get(v, f->key) : NULL;
		if (fv && json_is_null(fv))
			fv = NULL;
		if ((f->flags & I2K_GJ_PTR) && fv == NULL)
			continue;
		if ((f->flags & I2K_GJ_OMITEMPTY) && !(f->flags & I2K_GJ_PTR) &&
		    i2k_gj_is_empty(fv, f->type))
			continue;
		_cleanup_free_ char *sub = i2k_xasprintf("%s.%s", path, f->key);
		i2k_gj_key(w, f->key);
		if (fv)
			i2k_gj_value_schema(w, fv, f->type, sub);
		else
			emit_zero(w, f->type, sub);
	}
	i2k_gj_obj_end(w);
}

static void emit_zero(struct i2k_gj *w, const struct i2k_gj_type *type, const char *path)
{
	switch (type->kind) {
	case I2K_GJ_STRING:
		i2k_gj_str(w, "");
		break;
	case I2K_GJ_BOOL:
		i2k_gj_bool(w, false);
		break;
	case I2K_GJ_INT:
	case I2K_GJ_UINT:
		i2k_gj_i64(w, 0);
		break;
	case I2K_GJ_ARRAY:
	case I2K_GJ_MAP:
		i2k_gj_null(w);
		break; /* nil slice / map */
	case I2K_GJ_STRUCT:
		emit_struct(w, NULL, type, path);
		break;
	}
}

void i2k_gj_value_schema(struct i2k_gj *w, const json_t *v, const struct i2k_gj_type *type,
			 const char *path)
{
	if (w->err)
		return;
	if (v == NULL || json_is_null(v)) {
		emit_zero(w, type, path);
		return;
	}
	switch (type->kind) {
	case I2K_GJ_STRING:
		if (!json_is_string(v)) {
			i2k_gj_fail(w, "%s: expected a string", path);
			return;
		}
		i2k_gj_strn(w, json_string_value(v), json_string_length(v));
		return;
	case I2K_GJ_BOOL:
		if (!json_is_boolean(v)) {
			i2k_gj_fail(w, "%s: expected a boolean", path);
			return;
		}
		i2k_gj_bool(w, json_is_true(v));
		return;
	case I2K_GJ_INT:
		if (!json_is_integer(v)) {
			i2k_gj_fail(w, "%s: expected an integer", path);
			return;
		}
		i2k_gj_i64(w, json_integer_value(v));
		return;
	case I2K_GJ_UINT: {
		if (!json_is_integer(v)) {
			i2k_gj_fail(w, "%s: expected an integer", path);
			return;
		}
		json_int_t n = json_integer_value(v);
		if (n < 0 || (type->max && (uint64_t)n > type->max)) {
			i2k_gj_fail(w, "%s: %lld out of range", path, (long long)n);
			return;
		}
		i2k_gj_u64(w, (uint64_t)n);
		return;
	}
	case I2K_GJ_STRUCT:
		if (!json_is_object(v)) {
			i2k_gj_fail(w, "%s: expected an object", path);
			return;
		}
		emit_struct(w, v, type, path);
		return;
	case I2K_GJ_ARRAY:
		if (!json_is_array(v)) {
			i2k_gj_fail(w, "%s: expected an array", path);
			return;
		}
		i2k_gj_array_schema(w, v, type->elem, path);
		return;
	case I2K_GJ_MAP: {
		if (!json_is_object(v)) {
			i2k_gj_fail(w, "%s: expected an object", path);
			return;
		}
		size_t n = json_object_size(v), i = 0;
		const char **keys = i2k_xcalloc(n ? n : 1, sizeof(*keys));
		const char *k;
		json_t *val;
		json_object_foreach((json_t *)v, k, val) keys[i++] = k;
		qsort(keys, n, sizeof(*keys), cmp_str);
		i2k_gj_obj_begin(w);
		for (i = 0; i < n && !w->err; i++) {
			_cleanup_free_ char *sub = i2k_xasprintf("%s.%s", path, keys[i]);
			i2k_gj_key(w, keys[i]);
			i2k_gj_value_schema(w, json_object_get(v, keys[i]), type->elem, sub);
		}
		i2k_gj_obj_end(w);
		free(keys);
		return;
	}
	}
}

void i2k_gj_array_schema(struct i2k_gj *w, const json_t *v, const struct i2k_gj_type *elem,
			 const char *path)
{
	if (v != NULL && !json_is_null(v) && !json_is_array(v)) {
		i2k_gj_fail(w, "%s: expected an array", path);
		return;
	}
	i2k_gj_arr_begin(w);
	size_t n = v && json_is_array(v) ? json_array_size(v) : 0;
	for (size_t i = 0; i < n && !w->err; i++) {
		_cleanup_free_ char *sub = i2k_xasprintf("%s[%zu]", path, i);
		i2k_gj_value_schema(w, json_array_get(v, i), elem, sub);
	}
	i2k_gj_arr_end(w);
}
