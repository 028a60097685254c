/* gojson.h — JSON output formatted exactly as Go's json.MarshalIndent(v, "", "    ")
 * (internal to builder/bundle).
 *
 * LinuxKit writes config.json and runtime.json with Go's encoding/json, so
 * to produce the same bytes we emit:
 *   - 4-space indentation, `"key": value`, empty containers as `[]` / `{}`,
 *     no trailing newline;
 *   - Go's string escaping: `<`, `>`, `&` as \u003c \u003e \u0026, U+2028/2029
 *     as \u2028/\u2029, \n \r \t \b \f, other control bytes as \u00XX,
 *     invalid UTF-8 bytes as \ufffd;
 *   - struct fields in declaration order (the caller's job) and map keys
 *     sorted bytewise (i2k_gj_value_schema does it for pass-through values).
 *
 * The writer keeps the first error (sticky); every call after it is a no-op
 * and i2k_gj_finish reports it. Output is limited to I2K_GJ_MAX bytes.
 *
 * Pass-through values (OCI resources, mounts, id mappings, ...) arrive as
 * jansson values; i2k_gj_value_schema re-emits them as Go would after
 * decoding into the typed struct described by a schema: fields in schema
 * order, unknown keys dropped, key matching case-insensitive (as Go's
 * decoder), omitempty/pointer rules, and type checks (a wrong type is an
 * I2K_ERR_CONFIG error naming the field path).
 */
#ifndef I2K_BUILDER_BUNDLE_GOJSON_H
#define I2K_BUILDER_BUNDLE_GOJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

#define I2K_GJ_MAX (64u << 20)
#define I2K_GJ_MAX_DEPTH 64

struct i2k_gj {
	char *buf;
	size_t len, cap;
	unsigned depth;
	unsigned count[I2K_GJ_MAX_DEPTH + 1]; /* elements written at each depth */
	bool after_key;
	struct i2k_error *err;
};

void i2k_gj_init(struct i2k_gj *w);
void i2k_gj_obj_begin(struct i2k_gj *w);
void i2k_gj_obj_end(struct i2k_gj *w);
void i2k_gj_arr_begin(struct i2k_gj *w);
void i2k_gj_arr_end(struct i2k_gj *w);
void i2k_gj_key(struct i2k_gj *w, const char *key);
void i2k_gj_str(struct i2k_gj *w, const char *s);
void i2k_gj_strn(struct i2k_gj *w, const char *s, size_t n);
void i2k_gj_u64(struct i2k_gj *w, uint64_t v);
void i2k_gj_i64(struct i2k_gj *w, int64_t v);
void i2k_gj_bool(struct i2k_gj *w, bool v);
void i2k_gj_null(struct i2k_gj *w);
/* Array of strings (caller decides about omitempty). */
void i2k_gj_strv(struct i2k_gj *w, char *const *v, size_t n);
/* Records an error (first one wins); later output is suppressed. */
void i2k_gj_fail(struct i2k_gj *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Finishes: on success *out is the NUL-terminated document (caller frees)
 * and 0 is returned; on error the writer's error is moved to *err. The
 * writer is reset either way. */
int i2k_gj_finish(struct i2k_gj *w, char **out, struct i2k_error **err);
void i2k_gj_clear(struct i2k_gj *w);

/* ---- schema-driven emission of pass-through values ---------------------- */
enum i2k_gj_kind {
	I2K_GJ_STRING,
	I2K_GJ_BOOL,
	I2K_GJ_INT,    /* signed 64-bit */
	I2K_GJ_UINT,   /* unsigned, at most .max (0 = 64-bit) */
	I2K_GJ_STRUCT, /* object with .fields */
	I2K_GJ_ARRAY,  /* array of .elem */
	I2K_GJ_MAP,    /* object string → .elem, keys sorted */
};

enum i2k_gj_flags {
	I2K_GJ_OMITEMPTY = 1 << 0, /* `json:",omitempty"` */
	I2K_GJ_PTR = 1 << 1,	   /* a Go pointer: omitted only when absent/null */
};

struct i2k_gj_type {
	enum i2k_gj_kind kind;
	uint64_t max;			   /* I2K_GJ_UINT */
	const struct i2k_gj_field *fields; /* I2K_GJ_STRUCT, terminated by key NULL */
	const struct i2k_gj_type *elem;	   /* I2K_GJ_ARRAY / I2K_GJ_MAP */
};

struct i2k_gj_field {
	const char *key;
	const struct i2k_gj_type *type;
	unsigned flags;
};

/* Schemas of the OCI runtime-spec types LinuxKit passes through. */
extern const struct i2k_gj_type i2k_gj_t_string, i2k_gj_t_strmap, i2k_gj_t_mount,
    i2k_gj_t_idmapping, i2k_gj_t_idmappings, i2k_gj_t_resources, i2k_gj_t_interface;

/* Emits v (already known to be present) as `type`; `path` names it in
 * errors (e.g. "resources"). */
void i2k_gj_value_schema(struct i2k_gj *w, const json_t *v, const struct i2k_gj_type *type,
			 const char *path);
/* Emits an array of `elem` (NULL or empty → `[]`). */
void i2k_gj_array_schema(struct i2k_gj *w, const json_t *v, const struct i2k_gj_type *elem,
			 const char *path);
/* Go's omitempty test for a value of this type (NULL/null counts as empty). */
bool i2k_gj_is_empty(const json_t *v, const struct i2k_gj_type *type);
/* Case-insensitive object member lookup with an exact match preferred (Go's
 * decoder rule). */
json_t *i2k_gj_get(const json_t *obj, const char *key);

#endif
