/* parse.c — see parse.h. */
#include "builder/config/parse.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/cnode.h"
#include "builder/config/emit.h"
#include "builder/config/imgopts.h"

static struct i2k_pos pos_of(const struct i2k_cctx *c, const struct i2k_cnode *n)
{
	return (struct i2k_pos){.file = c->file, .line = n->line, .col = n->col};
}

static int missing(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		   const char *field)
{
	return i2k_cctx_fail(c, n, p, "missing required field \"%s\"", field);
}

/* ---- kernel ------------------------------------------------------------------ */

static int parse_kernel(const struct i2k_cctx *c, const struct i2k_cnode *n,
			struct i2k_kernel_cfg *k)
{
	struct i2k_cpath p = I2K_CPATH_KEY(NULL, "kernel");
	if (i2k_cnode_want_map(c, n, &p) < 0)
		return -1;
	k->pos = pos_of(c, n);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct i2k_cnode *key = &n->kids[i], *v = &n->kids[i + 1];
		struct i2k_cpath kp = I2K_CPATH_KEY(&p, key->text);
		char **dst = NULL;
		if (strcmp(key->text, "image") == 0)
			dst = &k->image;
		else if (strcmp(key->text, "cmdline") == 0)
			dst = &k->cmdline;
		else if (strcmp(key->text, "binary") == 0)
			dst = &k->binary;
		else if (strcmp(key->text, "tar") == 0)
			dst = &k->tar;
		else if (strcmp(key->text, "ucode") == 0)
			dst = &k->ucode;
		if (dst) {
			if (i2k_cnode_str(c, v, &kp, false, dst, NULL) < 0)
				return -1;
			continue;
		}
		if (strcmp(key->text, "modules") != 0)
			return i2k_cctx_unknown_key(c, key, &p);
		k->modules_set = true;
		if (v->kind == I2K_CN_SEQ) {
			k->modules = I2K_MODULES_LIST;
			if (i2k_strv_parse(c, v, &kp, &k->module_names) < 0)
				return -1;
		} else if (v->kind == I2K_CN_SCALAR && strcmp(v->text, "auto") == 0) {
			k->modules = I2K_MODULES_AUTO;
		} else if (v->kind == I2K_CN_SCALAR && strcmp(v->text, "all") == 0) {
			k->modules = I2K_MODULES_ALL;
		} else {
			return i2k_cctx_fail(
			    c, v, &kp, "expected \"auto\", \"all\" or a list of module names");
		}
	}
	/* A kernel: section without image is allowed here: a later file may
	 * override only cmdline (LinuxKit merges kernel fields one by one);
	 * i2k_config_load checks the merged result. */
	if (k->image && *k->image == '\0')
		return i2k_cctx_fail(c, n, &p, "image must not be empty");
	return 0;
}

/* ---- init ------------------------------------------------------------------- */

static int parse_init(const struct i2k_cctx *c, const struct i2k_cnode *n, struct i2k_config *cfg)
{
	struct i2k_cpath p = I2K_CPATH_KEY(NULL, "init");
	if (n->kind != I2K_CN_SEQ)
		return i2k_cctx_fail(c, n, &p, "expected a list of strings");
	cfg->init = i2k_xcalloc(n->n, sizeof(*cfg->init));
	for (size_t i = 0; i < n->n; i++) {
		struct i2k_cpath ip = I2K_CPATH_IDX(&p, i);
		struct i2k_init_entry *e = &cfg->init[cfg->n_init++];
		e->pos = pos_of(c, &n->kids[i]);
		if (i2k_cnode_str(c, &n->kids[i], &ip, false, &e->image, NULL) < 0)
			return -1;
		if (*e->image == '\0')
			return i2k_cctx_fail(c, &n->kids[i], &ip, "image must not be empty");
	}
	return 0;
}

/* ---- onboot / onshutdown / services ----------------------------------------- */

static int check_entry_name(const struct i2k_cctx *c, const struct i2k_cnode *n,
			    const struct i2k_cpath *p, const char *name)
{
	/* The name becomes a directory (containers/services/NAME) and a
	 * containerd id: keep it a single, sane path component. */
	if (*name == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/') || strlen(name) > 255)
		return i2k_cctx_fail(c, n, p,
				     "invalid name \"%.64s\": must be 1-255 characters, not \".\" "
				     "or \"..\", without '/'",
				     name);
	return 0;
}

static int parse_image_entry(const struct i2k_cctx *c, const struct i2k_cnode *n,
			     const struct i2k_cpath *p, struct i2k_image_entry *e)
{
	if (n->kind != I2K_CN_MAP)
		return i2k_cctx_fail(c, n, p, "expected a mapping with name and image");
	e->pos = pos_of(c, n);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct i2k_cnode *key = &n->kids[i], *v = &n->kids[i + 1];
		if (strcmp(key->text, "name") == 0 || strcmp(key->text, "image") == 0) {
			bool is_name = key->text[0] == 'n';
			struct i2k_cpath kp = I2K_CPATH_KEY(p, key->text);
			char **dst = is_name ? &e->name : &e->image;
			if (i2k_cnode_str(c, v, &kp, false, dst, NULL) < 0)
				return -1;
			if (is_name && check_entry_name(c, v, &kp, e->name) < 0)
				return -1;
			if (!is_name && *e->image == '\0')
				return i2k_cctx_fail(c, v, &kp, "image must not be empty");
			continue;
		}
		int r = i2k_imgopts_parse_key(c, key, v, p, &e->opts);
		if (r < 0)
			return -1;
		if (r == 0)
			return i2k_cctx_unknown_key(c, key, p);
	}
	if (e->name == NULL)
		return missing(c, n, p, "name");
	if (e->image == NULL)
		return missing(c, n, p, "image");
	return 0;
}

static int parse_images(const struct i2k_cctx *c, const char *section, const struct i2k_cnode *n,
			struct i2k_image_entry **arr, size_t *count)
{
	struct i2k_cpath p = I2K_CPATH_KEY(NULL, section);
	if (n->kind != I2K_CN_SEQ)
		return i2k_cctx_fail(c, n, &p, "expected a list of images");
	*arr = i2k_xcalloc(n->n, sizeof(**arr));
	for (size_t i = 0; i < n->n; i++) {
		struct i2k_cpath ip = I2K_CPATH_IDX(&p, i);
		if (parse_image_entry(c, &n->kids[i], &ip, &(*arr)[(*count)++]) < 0)
			return -1;
	}
	return 0;
}

/* ---- files -------------------------------------------------------------------- */

static int parse_file_entry(const struct i2k_cctx *c, const struct i2k_cnode *n,
			    const struct i2k_cpath *p, struct i2k_file_entry *f)
{
	if (n->kind != I2K_CN_MAP)
		return i2k_cctx_fail(c, n, p, "expected a mapping with a path");
	f->pos = pos_of(c, n);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct i2k_cnode *key = &n->kids[i], *v = &n->kids[i + 1];
		const char *k = key->text;
		struct i2k_cpath kp = I2K_CPATH_KEY(p, k);
		int r;
		if (strcmp(k, "path") == 0)
			r = i2k_cnode_str(c, v, &kp, false, &f->path, NULL);
		else if (strcmp(k, "directory") == 0)
			r = i2k_cnode_bool(c, v, &kp, &f->directory);
		else if (strcmp(k, "symlink") == 0)
			r = i2k_cnode_str(c, v, &kp, false, &f->symlink, NULL);
		else if (strcmp(k, "contents") == 0)
			r = i2k_cnode_str(c, v, &kp, true, &f->contents, &f->contents_len);
		else if (strcmp(k, "source") == 0)
			r = i2k_cnode_str(c, v, &kp, false, &f->source, NULL);
		else if (strcmp(k, "metadata") == 0)
			r = i2k_cnode_str(c, v, &kp, false, &f->metadata, NULL);
		else if (strcmp(k, "optional") == 0)
			r = i2k_cnode_bool(c, v, &kp, &f->optional);
		else if (strcmp(k, "mode") == 0)
			r = i2k_cnode_mode(c, v, &kp, &f->mode), f->mode_set = r == 0;
		else if (strcmp(k, "uid") == 0)
			r = i2k_optid_parse(c, v, &kp, &f->uid);
		else if (strcmp(k, "gid") == 0)
			r = i2k_optid_parse(c, v, &kp, &f->gid);
		else
			r = i2k_cctx_unknown_key(c, key, p);
		if (r < 0)
			return -1;
		if (strcmp(k, "metadata") == 0 && strcmp(f->metadata, "yaml") != 0 &&
		    strcmp(f->metadata, "json") != 0)
			return i2k_cctx_fail(
			    c, v, &kp, "must be \"yaml\" or \"json\", not \"%.32s\"", f->metadata);
	}
	if (f->path == NULL)
		return missing(c, n, p, "path");
	if (*f->path == '\0')
		return i2k_cctx_fail(c, n, p, "path must not be empty");
	for (const char *s = f->path; *s;) {
		size_t l = strcspn(s, "/");
		if (l == 2 && s[0] == '.' && s[1] == '.')
			return i2k_cctx_fail(c, n, p, "path \"%.64s\" must not contain \"..\"",
					     f->path);
		s += l;
		s += *s == '/';
	}
	/* LinuxKit's rules (moby/build.go filesystem()): one kind of content. */
	int kinds = (f->contents != NULL) + (f->source != NULL) + (f->symlink != NULL) +
		    (f->metadata != NULL) + f->directory;
	if (kinds > 1)
		return i2k_cctx_fail(c, n, p,
				     "only one of contents, source, symlink, metadata and "
				     "directory may be given");
	if (kinds == 0)
		return i2k_cctx_fail(c, n, p,
				     "one of contents, source, symlink, metadata or directory is "
				     "required");
	if (f->optional && f->source == NULL)
		return i2k_cctx_fail(c, n, p, "optional is only valid with source");
	return 0;
}

static int parse_files(const struct i2k_cctx *c, const struct i2k_cnode *n, struct i2k_config *cfg)
{
	struct i2k_cpath p = I2K_CPATH_KEY(NULL, "files");
	if (n->kind != I2K_CN_SEQ)
		return i2k_cctx_fail(c, n, &p, "expected a list of files");
	cfg->files = i2k_xcalloc(n->n, sizeof(*cfg->files));
	for (size_t i = 0; i < n->n; i++) {
		struct i2k_cpath ip = I2K_CPATH_IDX(&p, i);
		if (parse_file_entry(c, &n->kids[i], &ip, &cfg->files[cfg->n_files++]) < 0)
			return -1;
	}
	return 0;
}

/* ---- volumes ------------------------------------------------------------------ */

static int parse_volume_entry(const struct i2k_cctx *c, const struct i2k_cnode *n,
			      const struct i2k_cpath *p, struct i2k_volume_entry *v)
{
	if (n->kind != I2K_CN_MAP)
		return i2k_cctx_fail(c, n, p, "expected a mapping with a name");
	v->pos = pos_of(c, n);
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct i2k_cnode *key = &n->kids[i], *val = &n->kids[i + 1];
		const char *k = key->text;
		struct i2k_cpath kp = I2K_CPATH_KEY(p, k);
		int r;
		if (strcmp(k, "name") == 0) {
			r = i2k_cnode_str(c, val, &kp, false, &v->name, NULL);
			if (r == 0 && (*v->name == '\0' ||
				       strspn(v->name, "abcdefghijklmnopqrstuvwxyz0123456789_-") !=
					   strlen(v->name)))
				r = i2k_cctx_fail(c, val, &kp,
						  "invalid volume name \"%.64s\": use a-z, 0-9, _ "
						  "and -",
						  v->name);
		} else if (strcmp(k, "image") == 0) {
			r = i2k_cnode_str(c, val, &kp, false, &v->image, NULL);
		} else if (strcmp(k, "readonly") == 0) {
			r = i2k_cnode_bool(c, val, &kp, &v->readonly);
		} else if (strcmp(k, "format") == 0) {
			r = i2k_cnode_str(c, val, &kp, false, &v->format, NULL);
			if (r == 0 && strcmp(v->format, "oci") != 0 &&
			    strcmp(v->format, "filesystem") != 0)
				r = i2k_cctx_fail(
				    c, val, &kp, "must be \"oci\" or \"filesystem\", not \"%.32s\"",
				    v->format);
		} else if (strcmp(k, "platforms") == 0) {
			r = i2k_strv_parse(c, val, &kp, &v->platforms);
		} else {
			r = i2k_cctx_unknown_key(c, key, p);
		}
		if (r < 0)
			return -1;
	}
	if (v->name == NULL)
		return missing(c, n, p, "name");
	return 0;
}

static int parse_volumes(const struct i2k_cctx *c, const struct i2k_cnode *n,
			 struct i2k_config *cfg)
{
	struct i2k_cpath p = I2K_CPATH_KEY(NULL, "volumes");
	if (n->kind != I2K_CN_SEQ)
		return i2k_cctx_fail(c, n, &p, "expected a list of volumes");
	cfg->volumes = i2k_xcalloc(n->n, sizeof(*cfg->volumes));
	for (size_t i = 0; i < n->n; i++) {
		struct i2k_cpath ip = I2K_CPATH_IDX(&p, i);
		if (parse_volume_entry(c, &n->kids[i], &ip, &cfg->volumes[cfg->n_volumes++]) < 0)
			return -1;
	}
	return 0;
}

/* ---- uniqueness ------------------------------------------------------------------ */

struct named {
	const char *name;
	const struct i2k_pos *pos;
	size_t idx;
};

static int named_cmp(const void *x, const void *y)
{
	const struct named *a = x, *b = y;
	int r = strcmp(a->name, b->name);
	if (r)
		return r;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int check_unique(const char *what, struct named *v, size_t n, size_t from,
			struct i2k_error **err)
{
	if (n < 2)
		return 0;
	qsort(v, n, sizeof(*v), named_cmp);
	const struct named *dup = NULL, *first = NULL;
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i].name, v[i - 1].name) != 0 || v[i].idx < from)
			continue;
		size_t f = i - 1;
		while (f > 0 && strcmp(v[f - 1].name, v[i].name) == 0)
			f--;
		if (dup == NULL || v[i].idx < dup->idx) {
			dup = &v[i];
			first = &v[f];
		}
	}
	if (dup == NULL)
		return 0;
	return i2k_error_set(err, I2K_ERR_CONFIG,
			     "%s:%u:%u: duplicate %s name \"%s\" (first defined at %s:%u:%u)",
			     dup->pos->file, dup->pos->line, dup->pos->col, what, dup->name,
			     first->pos->file, first->pos->line, first->pos->col);
}

int i2k_config_check_unique_images(const char *what, const struct i2k_image_entry *e, size_t n,
				   size_t from, struct i2k_error **err)
{
	_cleanup_free_ struct named *v = i2k_xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (struct named){e[i].name, &e[i].pos, i};
	return check_unique(what, v, n, from, err);
}

int i2k_config_check_unique_volumes(const struct i2k_volume_entry *e, size_t n, size_t from,
				    struct i2k_error **err)
{
	_cleanup_free_ struct named *v = i2k_xcalloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = (struct named){e[i].name, &e[i].pos, i};
	return check_unique("volume", v, n, from, err);
}

/* ---- i2kit-verify (an i2kit extension) --------------------------------------------- */

/* i2kit-verify: {IMAGE: KEY.pub | [KEY.pub, ...]} */
static int parse_verify(const struct i2k_cctx *c, const struct i2k_cnode *n, struct i2k_config *cfg)
{
	struct i2k_cpath p = I2K_CPATH_KEY(NULL, "i2kit-verify");
	if (n->kind != I2K_CN_MAP)
		return i2k_cctx_fail(c, n, &p, "expected a mapping of image to public key file");
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct i2k_cnode *key = &n->kids[i], *v = &n->kids[i + 1];
		struct i2k_cpath kp = I2K_CPATH_KEY(&p, key->text);
		if (key->kind != I2K_CN_SCALAR || key->text[0] == '\0')
			return i2k_cctx_fail(c, key, &p, "image must not be empty");
		const struct i2k_cnode *one = v;
		size_t count = 1;
		if (v->kind == I2K_CN_SEQ) {
			count = v->n;
			if (count == 0)
				return i2k_cctx_fail(c, v, &kp, "expected a key file or a list");
		}
		for (size_t j = 0; j < count; j++) {
			if (v->kind == I2K_CN_SEQ)
				one = &v->kids[j];
			char *path = NULL;
			if (i2k_cnode_str(c, one, &kp, false, &path, NULL) < 0)
				return -1;
			cfg->verify =
			    i2k_xrealloc(cfg->verify, (cfg->n_verify + 1) * sizeof(*cfg->verify));
			cfg->verify[cfg->n_verify++] = (struct i2k_verify_entry){
			    .image = i2k_xstrdup(key->text), .key = path, .pos = pos_of(c, one)};
			if (*path == '\0')
				return i2k_cctx_fail(c, one, &kp, "key file must not be empty");
		}
	}
	return 0;
}

/* ---- top level ------------------------------------------------------------------ */

static int parse_root(const struct i2k_cctx *c, const struct i2k_cnode *root,
		      struct i2k_config *cfg, struct i2k_pos *trust_pos)
{
	if (root->kind != I2K_CN_MAP)
		return i2k_cctx_fail(c, root, NULL, "the top level must be a mapping");
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct i2k_cnode *key = &root->kids[i], *v = &root->kids[i + 1];
		const char *k = key->text;
		int r;
		if (strcmp(k, "trust") == 0) {
			cfg->trust_given = true;
			*trust_pos = pos_of(c, key);
			continue;
		}
		bool known = strcmp(k, "kernel") == 0 || strcmp(k, "init") == 0 ||
			     strcmp(k, "onboot") == 0 || strcmp(k, "onshutdown") == 0 ||
			     strcmp(k, "services") == 0 || strcmp(k, "files") == 0 ||
			     strcmp(k, "volumes") == 0;
		if (strcmp(k, "i2kit-verify") == 0) {
			if (!i2k_cnode_is_null(v) && parse_verify(c, v, cfg) < 0)
				return -1;
			continue;
		}
		if (!known)
			return i2k_cctx_unknown_key(c, key, NULL);
		if (i2k_cnode_is_null(v)) /* "services:" with every entry commented out */
			continue;
		if (strcmp(k, "kernel") == 0)
			r = parse_kernel(c, v, &cfg->kernel);
		else if (strcmp(k, "init") == 0)
			r = parse_init(c, v, cfg);
		else if (strcmp(k, "onboot") == 0)
			r = parse_images(c, "onboot", v, &cfg->onboot, &cfg->n_onboot);
		else if (strcmp(k, "onshutdown") == 0)
			r = parse_images(c, "onshutdown", v, &cfg->onshutdown, &cfg->n_onshutdown);
		else if (strcmp(k, "services") == 0)
			r = parse_images(c, "services", v, &cfg->services, &cfg->n_services);
		else if (strcmp(k, "files") == 0)
			r = parse_files(c, v, cfg);
		else
			r = parse_volumes(c, v, cfg);
		if (r < 0)
			return -1;
	}
	/* As LinuxKit: service names are unique (they run side by side),
	 * onboot/onshutdown entries are numbered and may share a name. */
	if (i2k_config_check_unique_images("service", cfg->services, cfg->n_services, 0, c->err) <
		0 ||
	    i2k_config_check_unique_volumes(cfg->volumes, cfg->n_volumes, 0, c->err) < 0)
		return -1;
	return 0;
}

int i2k_config_parse(const char *name, const char *data, size_t len, struct i2k_config **out,
		     struct i2k_error **err)
{
	*out = NULL;
	_cleanup_(i2k_config_freep) struct i2k_config *cfg = i2k_xcalloc(1, sizeof(*cfg));
	cfg->files_read = i2k_xcalloc(1, sizeof(*cfg->files_read));
	cfg->files_read[0] = i2k_xstrdup(name);
	cfg->n_files_read = 1;
	struct i2k_cctx c = {.file = cfg->files_read[0], .label = false, .err = err};

	struct i2k_cnode root;
	bool empty;
	if (i2k_cnode_from_yaml(c.file, data, len, &root, &empty, err) < 0)
		return -1;
	struct i2k_pos trust_pos = {0};
	int r = empty ? 0 : parse_root(&c, &root, cfg, &trust_pos);
	i2k_cnode_clear(&root);
	if (r < 0)
		return -1;
	if (i2k_config_emit(cfg, &cfg->yaml, NULL, err) < 0)
		return -1;
	if (cfg->trust_given)
		i2k_warn("%s:%u:%u: trust is not supported and is ignored", trust_pos.file,
			 trust_pos.line, trust_pos.col);
	*out = I2K_STEAL(cfg);
	return 0;
}
