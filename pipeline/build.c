/* build.c — i2k_build_run: config → fetch → root → modules → formats
 * (contract in build.h). */
#include "pipeline/build.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builder/assemble/assemble.h"
#include "builder/assemble/check.h"
#include "builder/assemble/initimg.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/config.h"
#include "builder/fstree/spool.h"
#include "builder/registry/sigverify.h"
#include "builder/store/store.h"
#include "formats/disk/isohybrid.h"
#include "formats/format.h"
#include "formats/writers.h"
#include "initrd/blockmemo.h"
#include "kernel/uki.h"
#include "pipeline/sbom.h"

void i2k_build_result_free(struct i2k_build_result *r)
{
	if (r == NULL)
		return;
	i2k_output_result_free(&r->out);
	for (size_t i = 0; i < r->nimages; i++)
		free(r->images[i].ref);
	free(r->images);
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

static void add_image(struct i2k_build_result *res, const char *ref)
{
	if (ref == NULL || *ref == '\0')
		return;
	for (size_t i = 0; i < res->nimages; i++)
		if (strcmp(res->images[i].ref, ref) == 0)
			return;
	res->images = i2k_xrealloc(res->images, (res->nimages + 1) * sizeof(*res->images));
	res->images[res->nimages++] = (struct i2k_build_image){.ref = i2k_xstrdup(ref)};
}

/* The digest each image of the config resolved to: asked again from the
 * cache only (offline, no re-resolving), where assembly has just put them.
 * An image no longer there (removed concurrently) keeps digest "". */
static int resolve_images(const struct i2k_config *c, struct i2k_store *store,
			  const struct i2k_fetch_opts *fo, struct i2k_build_result *res,
			  struct i2k_error **err)
{
	add_image(res, c->kernel.image);
	for (size_t i = 0; i < c->n_init; i++)
		add_image(res, c->init[i].image);
	for (size_t i = 0; i < c->n_onboot; i++)
		add_image(res, c->onboot[i].image);
	for (size_t i = 0; i < c->n_onshutdown; i++)
		add_image(res, c->onshutdown[i].image);
	for (size_t i = 0; i < c->n_services; i++)
		add_image(res, c->services[i].image);
	if (res->nimages == 0)
		return 0;
	struct i2k_fetch_opts cache_only = *fo;
	cache_only.offline = true;
	cache_only.pull_always = false;
	cache_only.registry.progress = NULL;
	_cleanup_(i2k_fetcher_freep) struct i2k_fetcher *f = NULL;
	const char **refs = i2k_xcalloc(res->nimages, sizeof(*refs));
	char(*digests)[I2K_DIGEST_LEN + 1] = i2k_xcalloc(res->nimages, sizeof(*digests));
	for (size_t i = 0; i < res->nimages; i++)
		refs[i] = res->images[i].ref;
	int r = i2k_fetcher_new(store, &cache_only, &f, err);
	struct i2k_error *miss = NULL;
	if (r == 0 && i2k_fetch_images(f, refs, res->nimages, digests, &miss) == 0) {
		for (size_t i = 0; i < res->nimages; i++)
			memcpy(res->images[i].digest, digests[i], sizeof(digests[i]));
	} else if (r == 0) {
		/* A concurrent `cache rm` may have dropped a ref since assembly:
		 * that image's digest stays unknown (""), the build goes on. */
		for (size_t i = 0; i < res->nimages; i++) {
			i2k_error_free(miss);
			miss = NULL;
			if (i2k_fetch_image(f, refs[i], digests[i], &miss) == 0)
				memcpy(res->images[i].digest, digests[i], sizeof(digests[i]));
		}
	}
	i2k_error_free(miss);
	free(refs);
	free(digests);
	return r;
}

/* The boot loader files the formats will read (EFI stub; isolinux.bin,
 * isohdpfx.bin, ldlinux.c32), checked before anything is fetched: a
 * missing one is reported once, with its path and the variable that
 * names it. */
static int check_boot_files(const char *const *formats, size_t n, const struct i2k_boot_data *b,
			    struct i2k_error **err)
{
	bool efi = false, bios = false;
	for (size_t i = 0; i < n; i++) {
		const struct i2k_format *f = i2k_format_find(formats[i]);
		efi |= f && (f->boot == I2K_BOOT_EFI_GPT || f->boot == I2K_BOOT_EFI_ISO);
		bios |= f && f->boot == I2K_BOOT_BIOS_HYBRID;
	}
	if (efi && access(i2k_uki_stub_path(b->efi_stub), R_OK) != 0)
		return i2k_error_errno(err, errno, I2K_ERR_NOTFOUND,
				       "EFI stub %s (install systemd-boot-efi or set "
				       "$I2KIT_EFI_STUB)",
				       i2k_uki_stub_path(b->efi_stub));
	if (!bios)
		return 0;
	const char *dir = b->isolinux_dir ? b->isolinux_dir : I2K_ISOLINUX_DIR_DEFAULT;
	static const char *const names[] = {"isolinux.bin", "isohdpfx.bin"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *path = i2k_xasprintf("%s/%s", dir, names[i]);
		if (access(path, R_OK) != 0)
			return i2k_error_errno(err, errno, I2K_ERR_NOTFOUND,
					       "%s (install isolinux or set $I2KIT_ISOLINUX_DIR)",
					       path);
	}
	const char *ld = b->ldlinux_c32 ? b->ldlinux_c32 : I2K_LDLINUX_C32_DEFAULT;
	if (access(ld, R_OK) != 0)
		return i2k_error_errno(err, errno, I2K_ERR_NOTFOUND,
				       "%s (install syslinux-common or set $I2KIT_LDLINUX_C32)",
				       ld);
	return 0;
}

int i2k_build_run(const struct i2k_build_request *rq, struct i2k_build_result *res,
		  struct i2k_error **err)
{
	static const char *const default_format[] = {"kernel+initrd"};
	const char *const *formats = rq->nformats ? rq->formats : default_format;
	size_t nformats = rq->nformats ? rq->nformats : 1;
	if (rq->nfiles == 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "no configuration file given");
	if (i2k_format_check(formats, nformats, rq->out.root_given, rq->out.root, err) < 0 ||
	    check_boot_files(formats, nformats, &rq->out.boot, err) < 0)
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
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *sbom = rq->no_sbom ? NULL : i2k_sbom_new();
	_cleanup_free_ char *sbom_doc = NULL;
	size_t sbom_len = 0;
	_cleanup_free_ char *cache_dir =
	    rq->cache_dir ? i2k_xstrdup(rq->cache_dir) : i2k_store_default_dir();
	if (i2k_config_load(rq->files, rq->nfiles, &cfg, err) < 0 ||
	    i2k_assemble_check(cfg, NULL, err) < 0)
		return -1;
	struct i2k_fetch_opts fo = *rq->fetch;
	if (rq->progress.fn) {
		fo.registry.progress = i2k_registry_progress_stage;
		fo.registry.progress_ctx = (void *)&rq->progress;
		o.progress = rq->progress;
	}
	/* Signature keys: loaded before anything is fetched. */
	_cleanup_(i2k_sig_policy_freep) struct i2k_sig_policy *policy = NULL;
	if (rq->n_verify_keys > 0 || cfg->n_verify > 0) {
		i2k_sig_policy_new(&policy);
		i2k_sig_policy_exempt(policy, i2k_init_own_ref_prefix());
		for (size_t i = 0; i < rq->n_verify_keys; i++)
			if (i2k_sig_policy_add_default(policy, rq->verify_keys[i], err) < 0)
				return i2k_error_wrap(err, "--verify-key");
		for (size_t i = 0; i < cfg->n_verify; i++)
			if (i2k_sig_policy_add_image(policy, cfg->verify[i].image,
						     cfg->verify[i].key, err) < 0)
				return i2k_error_wrap(
				    err, "%s:%u:%u: i2kit-verify", cfg->verify[i].pos.file,
				    cfg->verify[i].pos.line, cfg->verify[i].pos.col);
		fo.verify = policy;
	}
	if (i2k_store_open(cache_dir, &store, err) < 0 ||
	    i2k_fetcher_new(store, &fo, &fetcher, err) < 0 || i2k_spool_new(NULL, &spool, err) < 0)
		return -1;
	/* compressed initrd blocks of earlier builds: best effort */
	_cleanup_free_ char *blocks = i2k_xasprintf("%s/" I2K_BUILD_BLOCK_DIR, cache_dir);
	struct i2k_error *berr = NULL;
	if (i2k_mkdir_p(blocks, 0755, &berr) == 0)
		o.block_cache = blocks;
	i2k_error_free(berr);
	struct i2k_assemble_opts ao = {.store = store,
				       .fetcher = fetcher,
				       .spool = spool,
				       .max_root_size = rq->max_root_size,
				       .keep_init = rq->keep_init,
				       .progress = rq->progress,
				       .sbom = sbom};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (i2k_assemble_root(cfg, &ao, &root, err) < 0 ||
	    resolve_images(cfg, store, &fo, res, err) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	note(rq, "root assembled from %zu image%s in %.1f s", res->nimages,
	     res->nimages == 1 ? "" : "s",
	     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (sbom && i2k_build_sbom_root(sbom, root, &sbom_doc, &sbom_len, err) < 0)
		return -1;
	if (i2k_modules_prune(root, &cfg->kernel, &res->modules, err) < 0)
		return -1;
	if (res->modules.pruned > 0)
		note(rq, "kernel modules: kept %zu of %zu (%.1f of %.1f MB)", res->modules.kept,
		     res->modules.total, res->modules.kept_bytes / 1e6,
		     res->modules.total_bytes / 1e6);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (i2k_build_write_formats(root, &o, formats, nformats, &res->out, &res->artifacts, err) <
	    0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (o.block_cache)
		i2k_blockmemo_trim(o.block_cache, rq->block_cache_max ? rq->block_cache_max
								      : I2K_BLOCKMEMO_DEFAULT_CAP);
	note(rq, "%zu file%s written in %.1f s", res->out.nfiles, res->out.nfiles == 1 ? "" : "s",
	     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	/* last, so a failed format leaves no SBOM of outputs that do not exist */
	if (sbom_doc && i2k_build_sbom_file(o.dir, res->name, sbom_doc, sbom_len, o.digests,
					    &res->out, err) < 0)
		return -1;
	return 0;
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
