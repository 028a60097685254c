/* build.c — i2k_build_run: config → fetch → root → modules → formats
 * (contract in build.h). */
#include "pipeline/build.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "builder/assemble/assemble.h"
#include "builder/assemble/check.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/config.h"
#include "builder/fstree/spool.h"
#include "builder/store/store.h"
#include "formats/format.h"
#include "formats/writers.h"

void i2k_build_result_free(struct i2k_build_result *r)
{
	if (r == NULL)
		return;
	i2k_output_result_free(&r->out);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

char *i2k_build_default_name(const char *path)
{
	if (strcmp(path, "-") == 0)
		return i2k_xstrdup("moby");
	_cleanup_free_ char *copy = i2k_xstrdup(path);
	char *base = i2k_xstrdup(basename(copy));
	char *dot = strrchr(base, '.');
	if (dot && (strcmp(dot, ".yml") == 0 || strcmp(dot, ".yaml") == 0))
		*dot = '\0';
	return base;
}

static void note(const struct i2k_build_request *rq, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const struct i2k_build_request *rq, const char *fmt, ...)
{
	if (rq->note == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	rq->note(rq->note_ctx, fmt, ap);
	va_end(ap);
}

/* Usage errors and config errors are complete sentences: not wrapped. */
static int wrap_format(struct i2k_error **err, const char *format)
{
	if (err && *err && (*err)->code != I2K_ERR_CONFIG && (*err)->code != I2K_ERR_USAGE &&
	    (*err)->code != I2K_ERR_INTERRUPTED)
		return i2k_error_wrap(err, "%s output", format);
	return -1;
}

int i2k_build_run(const struct i2k_build_request *rq, struct i2k_build_result *res,
		  struct i2k_error **err)
{
	static const char *const default_format[] = {"kernel+initrd"};
	const char *const *formats = rq->nformats ? rq->formats : default_format;
	size_t nformats = rq->nformats ? rq->nformats : 1;
	if (rq->nfiles == 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "no configuration file given");
	if (i2k_format_check(formats, nformats, rq->out.root_given, rq->out.root, err) < 0)
		return -1;

	struct i2k_format_opts o = rq->out;
	res->name = o.name ? i2k_xstrdup(o.name) : i2k_build_default_name(rq->files[0]);
	o.name = res->name;
	if (o.dir == NULL)
		o.dir = ".";

	_cleanup_(i2k_config_freep) struct i2k_config *cfg = NULL;
	_cleanup_(i2k_store_freep) struct i2k_store *store = NULL;
	_cleanup_(i2k_fetcher_freep) struct i2k_fetcher *fetcher = NULL;
	_cleanup_(i2k_spool_freep) struct i2k_spool *spool = NULL;
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *root = NULL;
	_cleanup_free_ char *cache_dir =
	    rq->cache_dir ? i2k_xstrdup(rq->cache_dir) : i2k_store_default_dir();
	if (i2k_config_load(rq->files, rq->nfiles, &cfg, err) < 0 ||
	    i2k_assemble_check(cfg, NULL, err) < 0)
		return -1;
	if (i2k_store_open(cache_dir, &store, err) < 0 ||
	    i2k_fetcher_new(store, rq->fetch, &fetcher, err) < 0 ||
	    i2k_spool_new(NULL, &spool, err) < 0)
		return -1;
	struct i2k_assemble_opts ao = {.store = store,
				       .fetcher = fetcher,
				       .spool = spool,
				       .max_root_size = rq->max_root_size,
				       .keep_init = rq->keep_init};
	if (i2k_assemble_root(cfg, &ao, &root, err) < 0)
		return -1;
	if (i2k_modules_prune(root, &cfg->kernel, &res->modules, err) < 0)
		return -1;
	if (res->modules.pruned > 0)
		note(rq, "kernel modules: kept %zu of %zu (%.1f of %.1f MB)", res->modules.kept,
		     res->modules.total, res->modules.kept_bytes / 1e6,
		     res->modules.total_bytes / 1e6);
	return i2k_build_write_formats(root, &o, formats, nformats, &res->out, &res->artifacts,
				       err);
}

int i2k_build_write_formats(struct i2k_fstree *root, const struct i2k_format_opts *o,
			    const char *const *formats, size_t nformats,
			    struct i2k_output_result *res, struct i2k_artifacts_stats *stats,
			    struct i2k_error **err)
{
	if (i2k_format_check(formats, nformats, o->root_given, o->root, err) < 0)
		return -1;
	const char *dir = o->dir ? o->dir : ".";
	if (i2k_mkdir_p(dir, 0755, err) < 0)
		return wrap_format(err, formats[0]);
	_cleanup_(i2k_artifacts_freep) struct i2k_artifacts *art = NULL;
	if (i2k_artifacts_new(root, o, &art, err) < 0)
		return -1;
	for (size_t i = 0; i < nformats; i++) {
		bool again = false;
		for (size_t j = 0; j < i; j++)
			again |= strcmp(formats[i], formats[j]) == 0;
		if (again)
			continue;
		if (i2k_format_write(formats[i], art, res, err) < 0)
			return wrap_format(err, formats[i]);
	}
	if (stats)
		i2k_artifacts_stats(art, stats);
	return 0;
}
