/* cnode.h — the untyped document tree builder/config validates (internal).
 *
 * Both inputs of the per-image schema — a LinuxKit YAML file (libyaml
 * document API) and the JSON of an image's org.mobyproject.config label
 * (jansson) — are first turned into this one tree, so that a single typed
 * parser (parse.c, imgopts.c) serves both. Each node keeps its 1-based
 * position (YAML) and how its scalar was written, because YAML resolves
 * plain scalars by the type the schema expects (`readonly: yes` is a
 * boolean, `hostname: yes` a string), whereas JSON values carry their type.
 *
 * Limits (hostile input): at most I2K_CNODE_MAX_NODES nodes after alias
 * expansion (billion laughs) and I2K_CNODE_MAX_DEPTH nesting levels (also
 * stops self-referencing aliases). Duplicate keys in a YAML mapping are an
 * error at build time. YAML merge keys ("<<: *defaults", or a list of
 * aliases) are applied here, as Go's yaml does for LinuxKit.
 *
 * Errors produced here and by the typed parsers go through struct i2k_cctx:
 *   YAML:  "FILE:LINE:COL: PATH: MESSAGE"
 *   label: "org.mobyproject.config label: PATH: MESSAGE"
 * Every error is I2K_ERR_CONFIG.
 */
#ifndef I2K_BUILDER_CONFIG_CNODE_H
#define I2K_BUILDER_CONFIG_CNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

#define I2K_CNODE_MAX_NODES 1000000
#define I2K_CNODE_MAX_DEPTH 64
#define I2K_CONFIG_MAX_INPUT (16u << 20) /* bytes of one YAML file or label */

enum i2k_cnode_kind { I2K_CN_SCALAR, I2K_CN_SEQ, I2K_CN_MAP };

enum i2k_cnode_style {
	I2K_CS_PLAIN,  /* YAML plain scalar: type resolved by the schema */
	I2K_CS_QUOTED, /* YAML quoted/block scalar or !!str: always a string */
	I2K_CS_JSTR,   /* JSON string */
	I2K_CS_JINT,   /* JSON integer (text holds the decimal form) */
	I2K_CS_JREAL,  /* JSON real */
	I2K_CS_JBOOL,  /* JSON true/false (text "true"/"false") */
	I2K_CS_JNULL,  /* JSON null */
};

struct i2k_cnode {
	enum i2k_cnode_kind kind;
	enum i2k_cnode_style style;
	char *text; /* scalars: NUL-terminated (may also contain NULs: see len) */
	size_t len;
	struct i2k_cnode *kids; /* SEQ: n items; MAP: n = 2 * pairs, key then value */
	size_t n;
	unsigned line, col; /* 1-based; 0 = unknown (JSON) */
};

/* Frees the children and text of a node (not the node itself). */
void i2k_cnode_clear(struct i2k_cnode *n);

/* Parses one YAML stream. *out_empty is set when the stream holds no
 * document or an empty (null) one; otherwise *root is filled (caller clears
 * it). Errors: libyaml's problem with its position, a second document, the
 * limits above, duplicate keys, non-scalar keys. */
int i2k_cnode_from_yaml(const char *file, const char *data, size_t len, struct i2k_cnode *root,
			bool *out_empty, struct i2k_error **err);
/* Parses JSON text (label). Errors prefixed "org.mobyproject.config label: ". */
int i2k_cnode_from_json(const char *data, size_t len, struct i2k_cnode *root,
			struct i2k_error **err);

/* Path of the value being parsed, a stack of segments rendered only for
 * errors: {"services"} → {idx 2} → {"env"} gives "services[2].env". */
struct i2k_cpath {
	const struct i2k_cpath *up;
	const char *key; /* NULL → index segment */
	size_t idx;
};
#define I2K_CPATH_KEY(parent, k) ((struct i2k_cpath){.up = (parent), .key = (k)})
#define I2K_CPATH_IDX(parent, i) ((struct i2k_cpath){.up = (parent), .idx = (i)})
/* Renders a path; caller frees. NULL path → "". */
char *i2k_cpath_str(const struct i2k_cpath *p);

struct i2k_cctx {
	const char *file; /* YAML file name; NULL for the label */
	bool label;	  /* label mode: unknown keys ignored, JSON types strict,
			     null = absent */
	struct i2k_error **err;
};

/* Sets the error "POS: PATH: MESSAGE" (PATH omitted when empty). Returns -1. */
int i2k_cctx_fail(const struct i2k_cctx *c, const struct i2k_cnode *at, const struct i2k_cpath *p,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Unknown key: an error `POS: unknown key "K" in PATH` (or `unknown
 * top-level key "K"`) in YAML mode; returns 0 (ignored) in label mode. */
int i2k_cctx_unknown_key(const struct i2k_cctx *c, const struct i2k_cnode *key,
			 const struct i2k_cpath *p);
/* Compares a mapping key with a schema name: exact in YAML mode,
 * case-insensitive in label mode (Go encoding/json) or when ci is set. */
bool i2k_cctx_key_is(const struct i2k_cctx *c, const struct i2k_cnode *key, const char *name,
		     bool ci);

/* Typed accessors. Each returns 0, or -1 with an error naming the path. */
bool i2k_cnode_is_null(const struct i2k_cnode *n);
/* Any non-null scalar in YAML (its text as written); a JSON string in label
 * mode. Strings with NUL bytes are rejected unless allow_nul. *out is a new
 * copy (freed by the caller); *len may be NULL. */
int i2k_cnode_str(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		  bool allow_nul, char **out, size_t *len);
/* true/false (YAML plain also yes/no/on/off/y/n in any common case). */
int i2k_cnode_bool(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		   bool *out);
/* Decimal integer (YAML plain scalar, JSON integer) within int64. */
int i2k_cnode_int(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		  int64_t *out);
/* Octal mode given as a string or YAML number of octal digits ("0755"),
 * at most 07777. */
int i2k_cnode_mode(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		   uint32_t *out);
/* Checks that n is a mapping / a sequence ("expected a mapping/list"). */
int i2k_cnode_want_map(const struct i2k_cctx *c, const struct i2k_cnode *n,
		       const struct i2k_cpath *p);
int i2k_cnode_want_seq(const struct i2k_cctx *c, const struct i2k_cnode *n,
		       const struct i2k_cpath *p);

#endif
