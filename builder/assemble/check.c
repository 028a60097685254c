/* check.c — the build's pre-fetch checks, shared with `validate` (check.h). */
#include "builder/assemble/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/bundle/caps.h"
#include "builder/bundle/volumes.h"
#include "builder/registry/ref.h"

/* what: "services[web].image", "init[0]", "kernel.image" */
static int check_ref(const char *image, const struct i2k_pos *pos, const char *what,
		     struct i2k_error **err)
{
	char pb[512];
	if (image == NULL)
		return 0;
	if (strncmp(image, "@pkg", 4) == 0 && (image[4] == ':' || strncmp(image + 4, "s:", 2) == 0))
		return i2k_error_set(
		    err, I2K_ERR_UNSUPPORTED,
		    "%s%s: \"%s\" is a linuxkit pkg template, which i2kit does not "
		    "support: build the package (linuxkit pkg build) and name its "
		    "image instead",
		    i2k_pos_prefix(pos, pb, sizeof(pb)), what, image);
	struct i2k_ref ref;
	if (i2k_ref_parse(image, &ref, err) < 0)
		return i2k_error_wrap(err, "%s%s", i2k_pos_prefix(pos, pb, sizeof(pb)), what);
	i2k_ref_clear(&ref);
	return 0;
}

static int check_caps(const struct i2k_strv *v, const struct i2k_pos *pos, const char *what,
		      struct i2k_error **err)
{
	char pb[512];
	if (v->n == 1 && (strcasecmp(v->v[0], "all") == 0 || strcasecmp(v->v[0], "none") == 0))
		return 0;
	for (size_t i = 0; i < v->n; i++)
		if (!i2k_caps_is_known(v->v[i]))
			return i2k_error_set(err, I2K_ERR_CONFIG, "%s%s: unknown capability \"%s\"",
					     i2k_pos_prefix(pos, pb, sizeof(pb)), what, v->v[i]);
	return 0;
}

/* Volume names in the YAML binds and mounts (bundle/volumes.h): unknown
 * volumes and read-write use of read-only ones. */
static int check_volume_refs(const struct i2k_config *cfg, const struct i2k_image_entry *e,
			     const char *section, struct i2k_error **err)
{
	char pb[512];
	struct i2k_strv tmp;
	json_t *m = NULL;
	const struct i2k_imgopts *o = &e->opts;
	int r =
	    i2k_volumes_rewrite_binds(&o->binds, "binds", cfg->volumes, cfg->n_volumes, &tmp, err);
	i2k_strv_clear(&tmp);
	if (r == 0)
		r = i2k_volumes_rewrite_binds(&o->binds_add, "binds.add", cfg->volumes,
					      cfg->n_volumes, &tmp, err);
	i2k_strv_clear(&tmp);
	if (r == 0)
		r = i2k_volumes_rewrite_mounts(o->mounts, cfg->volumes, cfg->n_volumes, &m, err);
	json_decref(m);
	if (r < 0)
		return i2k_error_wrap(err, "%s%s[%s]", i2k_pos_prefix(&e->pos, pb, sizeof(pb)),
				      section, e->name);
	return 0;
}

static int check_entries(const struct i2k_config *cfg, const char *section,
			 const struct i2k_image_entry *e, size_t n, struct i2k_error **err)
{
	for (size_t i = 0; i < n; i++) {
		if (check_volume_refs(cfg, &e[i], section, err) < 0)
			return -1;
		_cleanup_free_ char *img = i2k_xasprintf("%s[%s].image", section, e[i].name);
		_cleanup_free_ char *caps =
		    i2k_xasprintf("%s[%s].capabilities", section, e[i].name);
		_cleanup_free_ char *add =
		    i2k_xasprintf("%s[%s].capabilities.add", section, e[i].name);
		_cleanup_free_ char *amb = i2k_xasprintf("%s[%s].ambient", section, e[i].name);
		if (check_ref(e[i].image, &e[i].pos, img, err) < 0 ||
		    check_caps(&e[i].opts.capabilities, &e[i].pos, caps, err) < 0 ||
		    check_caps(&e[i].opts.capabilities_add, &e[i].pos, add, err) < 0 ||
		    check_caps(&e[i].opts.ambient, &e[i].pos, amb, err) < 0)
			return -1;
	}
	return 0;
}

static int check_source(const struct i2k_file_entry *f, size_t idx, const char *home,
			struct i2k_error **err)
{
	if (f->source == NULL || f->optional)
		return 0;
	char pb[512];
	_cleanup_free_ char *src = i2k_file_source_path(f, home);
	struct stat st;
	if (stat(src, &st) < 0)
		return i2k_error_errno(err, errno, errno == ENOENT ? I2K_ERR_NOTFOUND : I2K_ERR_IO,
				       "%sfiles[%zu] %s: source %s",
				       i2k_pos_prefix(&f->pos, pb, sizeof(pb)), idx,
				       f->path ? f->path : "", src);
	if (!S_ISREG(st.st_mode))
		return i2k_error_set(
		    err, I2K_ERR_CONFIG, "%sfiles[%zu] %s: source %s is not a regular file",
		    i2k_pos_prefix(&f->pos, pb, sizeof(pb)), idx, f->path ? f->path : "", src);
	return 0;
}

int i2k_assemble_check(const struct i2k_config *cfg, const char *home, struct i2k_error **err)
{
	if (check_ref(cfg->kernel.image, &cfg->kernel.pos, "kernel.image", err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_init; i++) {
		char what[32];
		snprintf(what, sizeof(what), "init[%zu]", i);
		if (check_ref(cfg->init[i].image, &cfg->init[i].pos, what, err) < 0)
			return -1;
	}
	if (check_entries(cfg, "onboot", cfg->onboot, cfg->n_onboot, err) < 0 ||
	    check_entries(cfg, "onshutdown", cfg->onshutdown, cfg->n_onshutdown, err) < 0 ||
	    check_entries(cfg, "services", cfg->services, cfg->n_services, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_volumes; i++) {
		const struct i2k_volume_entry *v = &cfg->volumes[i];
		_cleanup_free_ char *what = i2k_xasprintf("volumes[%s].image", v->name);
		if (check_ref(v->image, &v->pos, what, err) < 0)
			return -1;
		if (v->image == NULL && v->format && strcmp(v->format, "oci") == 0) {
			char pb[512];
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "%svolumes[%s]: format oci needs an image",
					     i2k_pos_prefix(&v->pos, pb, sizeof(pb)), v->name);
		}
	}
	for (size_t i = 0; i < cfg->n_files; i++)
		if (check_source(&cfg->files[i], i, home, err) < 0)
			return -1;
	return 0;
}
