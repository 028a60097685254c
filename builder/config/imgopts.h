/* imgopts.h — the per-image schema shared by YAML entries and the
 * org.mobyproject.config label (internal to builder/config).
 *
 * The schema is data: i2k_imgopt_fields lists every per-image key in the
 * order it is written back (emit.c), and the OCI pass-through structures
 * (mounts, devices, resources, id mappings, interfaces, string maps) are
 * described by struct i2k_jschema trees that both validate input and drive
 * the YAML writer. Keys inside a jschema object match case-insensitively
 * (Go's yaml/json decoding of the OCI structs does; "blockio" is
 * "blockIO") and are written back with their canonical OCI spelling.
 *
 * i2k_imgopts_from_json and i2k_imgopts_clear (declared in config.h) are
 * defined here too.
 */
#ifndef I2K_BUILDER_CONFIG_IMGOPTS_H
#define I2K_BUILDER_CONFIG_IMGOPTS_H

#include <jansson.h>
#include <stddef.h>

#include "builder/config/cnode.h"
#include "builder/config/config.h"

enum i2k_jtype {
	I2K_J_STR,
	I2K_J_INT,  /* int64 */
	I2K_J_UINT, /* 0 .. INT64_MAX */
	I2K_J_BOOL,
	I2K_J_MODE,   /* octal string in YAML/label, JSON integer in memory */
	I2K_J_OBJ,    /* fields */
	I2K_J_ARR,    /* elem */
	I2K_J_STRMAP, /* object string → string */
	I2K_J_MAP,    /* object string → elem */
};

struct i2k_jschema;
struct i2k_jfield {
	const char *key; /* canonical (OCI) spelling */
	const struct i2k_jschema *s;
};
struct i2k_jschema {
	enum i2k_jtype t;
	const struct i2k_jfield *fields;
	size_t nfields;
	const struct i2k_jschema *elem;
};

extern const struct i2k_jschema i2k_js_mounts, i2k_js_devices, i2k_js_resources, i2k_js_idmaps,
    i2k_js_interfaces, i2k_js_strmap;

/* Validates node n against s and builds the JSON value (*out, owned by the
 * caller). Label mode: unknown object keys and null members are skipped. */
int i2k_jschema_parse(const struct i2k_cctx *c, const struct i2k_cnode *n,
		      const struct i2k_cpath *p, const struct i2k_jschema *s, json_t **out);

enum i2k_imgopt_type {
	I2K_IOF_STRV,	 /* struct i2k_strv */
	I2K_IOF_ENV,	 /* struct i2k_strv of "K=V" */
	I2K_IOF_STR,	 /* char * */
	I2K_IOF_BOOL,	 /* struct i2k_optbool */
	I2K_IOF_INT,	 /* struct i2k_optint */
	I2K_IOF_ID,	 /* struct i2k_optid */
	I2K_IOF_IDV,	 /* additional_gids (+ n, set) */
	I2K_IOF_JSON,	 /* json_t * described by schema */
	I2K_IOF_RUNTIME, /* struct i2k_runtime */
};

struct i2k_imgopt_field {
	const char *key;
	enum i2k_imgopt_type type;
	size_t off; /* offset in struct i2k_imgopts */
	const struct i2k_jschema *schema;
};
extern const struct i2k_imgopt_field i2k_imgopt_fields[];
extern const size_t i2k_imgopt_nfields;

/* Parses one per-image key/value of an entry mapping into opts. Returns 1
 * if the key is a per-image field (handled), 0 if it is not one (the caller
 * decides: "name"/"image" or unknown), -1 on error. */
int i2k_imgopts_parse_key(const struct i2k_cctx *c, const struct i2k_cnode *key,
			  const struct i2k_cnode *val, const struct i2k_cpath *entry_path,
			  struct i2k_imgopts *opts);

/* Parses a uid/gid value: integer ≥ 0 (≤ 4294967295), a string of digits
 * (the same), or a name. */
int i2k_optid_parse(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		    struct i2k_optid *out);
void i2k_optid_clear(struct i2k_optid *id);

/* Parses a list of strings into s (replacing its content; s->set = true). */
int i2k_strv_parse(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		   struct i2k_strv *s);

#endif
