/* cmd_build.c — `i2kit build` / `i2kit-build`: YAML files in, output files
 * out. Parses options, then runs the pipeline: config → fetch → root tree →
 * every requested format. All outputs share one fetch and one tree. */
#include "cli/cmd_build.h"

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/assemble/assemble.h"
#include "builder/config/config.h"
#include "builder/fstree/fstree.h"
#include "builder/registry/fetch.h"
#include "builder/store/store.h"
#include "cli/common.h"
#include "formats/outputs.h"
#include "kernel/modules.h"

static void help(void)
{
	size_t n;
	const struct i2k_output_format *f = i2k_output_formats(&n);
	printf("Usage: i2kit build [OPTIONS] FILE.yml...\n\n"
	       "Builds LinuxKit-style YAML files (merged in order) into images.\n\n"
	       "Options:\n"
	       "  --format F              output format (repeatable; default kernel+initrd)\n"
	       "  --dir DIR               output directory (default .)\n"
	       "  --name N                base name of the outputs (default: first file's name)\n"
	       "  --compress gzip|zstd|none   initrd compression (default gzip)\n"
	       "  --arch amd64|arm64      image architecture (default amd64)\n"
	       "  --platform OS/ARCH[/V]  full platform\n"
	       "  --size SIZE             disk size for disk formats (bytes, or with K, M, G;\n"
	       "                          default: as small as fits)\n"
	       "  --root initramfs|squashfs|ext4\n"
	       "                          disk formats: root in the initrd (default), on a\n"
	       "                          read-only squashfs or a writable ext4 partition\n"
	       "  --max-root-size SIZE    refuse images that unpack to more (default 4G)\n"
	       "  --offline               never use the network; fail if an image is not cached\n"
	       "  --pull                  re-resolve tags even when cached\n"
	       "  --cache DIR             image cache (default $I2KIT_CACHE or ~/.cache/i2kit)\n"
	       "  --insecure-registry H   allow plain HTTP for host H (repeatable)\n"
	       "  --ca-file PEM           extra CA certificates for registries\n"
	       "  --json                  print the files written as JSON on stdout\n\n"
	       "Formats:\n");
	for (size_t i = 0; i < n; i++)
		printf("  %-18s %s%s\n", f[i].name, f[i].description,
		       f[i].implemented ? "" : " (not implemented yet)");
}

/* Default output name: the first file's base name without .yml/.yaml. */
static char *default_name(const char *path)
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

static void print_json(const struct i2k_output_result *res)
{
	json_t *files = json_array();
	for (size_t i = 0; i < res->nfiles; i++)
		json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "path",
						       res->files[i].path, "size",
						       (json_int_t)res->files[i].size, "sha256",
						       res->files[i].sha256));
	json_t *o = json_pack("{s:o}", "files", files);
	if (res->kernel_release)
		json_object_set_new(o, "kernel_release", json_string(res->kernel_release));
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

struct build_args {
	struct i2k_cli_fetch fetch;
	const char **formats;
	size_t n_formats;
	const char **files;
	size_t n_files;
	const char *dir, *name;
	uint64_t size, max_root;
	enum i2k_root_mode root;
	enum i2k_compression compression;
};

static void args_clear(struct build_args *a)
{
	i2k_cli_fetch_clear(&a->fetch);
	free(a->formats);
	free(a->files);
}

/* "1073741824", "512M", "2G" → bytes; a multiple of 512. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	unsigned shift = 0;
	if (*end) {
		const char *units = "KMGT";
		const char *u = strchr(units, *end == 'k' ? 'K' : *end);
		if (u == NULL || *u == '\0' || (end[1] != '\0' && strcmp(end + 1, "iB") != 0 &&
						  strcmp(end + 1, "B") != 0))
			return -1;
		shift = 10u * (unsigned)(u - units + 1);
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	v <<= shift;
	if (v == 0 || v % 512)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(struct build_args *a, int argc, char **argv, bool *help_only)
{
	*help_only = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int r = i2k_cli_fetch_opt(&a->fetch, "build", argc, argv, &i);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			*help_only = true;
			return 0;
		}
		static const char *const names[] = {"--format",	      "--dir",	    "--name",
						    "--size",	      "--compress", "--root",
						    "--max-root-size"};
		const char *val = NULL;
		struct i2k_error *merr = NULL;
		int which = i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &val, &merr);
		if (which == -2) {
			i2k_cli_usage("build", "%s", merr->msg);
			i2k_error_free(merr);
			return -1;
		}
		if (which == -1) {
			if (arg[0] == '-' && arg[1] != '\0') {
				i2k_cli_usage("build", "unknown option %s", arg);
				return -1;
			}
			a->files = i2k_xrealloc(a->files, (a->n_files + 1) * sizeof(*a->files));
			a->files[a->n_files++] = arg;
			continue;
		}
		switch (which) {
		case 0: {
			size_t n;
			const struct i2k_output_format *f = i2k_output_formats(&n);
			bool listed = false;
			for (size_t k = 0; k < n; k++)
				listed |= strcmp(f[k].name, val) == 0;
			if (!listed) {
				i2k_cli_usage("build", "unknown output format \"%s\"", val);
				return -1;
			}
			a->formats = i2k_xrealloc(a->formats, (a->n_formats + 1) * sizeof(*a->formats));
			a->formats[a->n_formats++] = val;
			break;
		}
		case 1:
			a->dir = val;
			break;
		case 2:
			if (*val == '\0' || strchr(val, '/')) {
				i2k_cli_usage("build", "--name must be a plain file name, not \"%s\"", val);
				return -1;
			}
			a->name = val;
			break;
		case 3:
			if (parse_size(val, &a->size) < 0) {
				i2k_cli_usage("build",
					      "--size must be a number of bytes with an optional K, "
					      "M, G or T suffix (a multiple of 512), not \"%s\"",
					      val);
				return -1;
			}
			break;
		case 6: /* --max-root-size */
			if (parse_size(val, &a->max_root) < 0) {
				i2k_cli_usage("build",
					      "--max-root-size must be a size like 4G, not \"%s\"",
					      val);
				return -1;
			}
			break;
		case 5: {
			struct i2k_error *e = NULL;
			if (i2k_root_mode_parse(val, &a->root, &e) < 0) {
				i2k_cli_usage("build", "%s", e->msg);
				i2k_error_free(e);
				return -1;
			}
			break;
		}
		case 4: {
			struct i2k_error *e = NULL;
			if (i2k_compression_parse(val, &a->compression, &e) < 0) {
				i2k_cli_usage("build", "%s", e->msg);
				i2k_error_free(e);
				return -1;
			}
			break;
		}
		}
	}
	if (a->n_files == 0) {
		i2k_cli_usage("build", "no configuration file given");
		return -1;
	}
	return 0;
}

int i2k_cmd_build(int argc, char **argv)
{
	struct build_args a = {0};
	i2k_cli_fetch_init(&a.fetch);
	bool help_only;
	if (parse_args(&a, argc, argv, &help_only) < 0) {
		args_clear(&a);
		return 2;
	}
	if (help_only) {
		help();
		args_clear(&a);
		return 0;
	}
	if (a.n_formats == 0) {
		static const char *def = "kernel+initrd";
		a.formats = i2k_xrealloc(a.formats, sizeof(*a.formats));
		a.formats[a.n_formats++] = def;
	}

	struct i2k_error *err = NULL;
	_cleanup_(i2k_config_freep) struct i2k_config *cfg = NULL;
	_cleanup_(i2k_store_freep) struct i2k_store *store = NULL;
	_cleanup_(i2k_fetcher_freep) struct i2k_fetcher *fetcher = NULL;
	_cleanup_(i2k_spool_freep) struct i2k_spool *spool = NULL;
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *root = NULL;
	_cleanup_free_ char *cache_dir = NULL;
	_cleanup_free_ char *name = a.name ? i2k_xstrdup(a.name) : default_name(a.files[0]);
	struct i2k_output_result res = {0};
	int rc = 0;

	/* vhd and dynamic-vhd both write NAME.vhd (as in LinuxKit). */
	bool vhd = false, dvhd = false;
	for (size_t i = 0; i < a.n_formats; i++) {
		vhd |= strcmp(a.formats[i], "vhd") == 0;
		dvhd |= strcmp(a.formats[i], "dynamic-vhd") == 0;
	}
	if (vhd && dvhd) {
		rc = i2k_cli_usage("build", "vhd and dynamic-vhd both write NAME.vhd: build them "
					    "with different --name");
		goto done;
	}
	/* Check every format before doing any work. */
	for (size_t i = 0; i < a.n_formats; i++) {
		if (!i2k_output_known(a.formats[i])) {
			i2k_error_set(&err, I2K_ERR_UNSUPPORTED, "format %s is not implemented yet",
				      a.formats[i]);
			goto fail;
		}
	}
	if (a.fetch.json)
		a.fetch.fetch.registry.progress = NULL;
	if (i2k_config_load(a.files, a.n_files, &cfg, &err) < 0)
		goto fail;
	cache_dir = a.fetch.cache_dir ? i2k_xstrdup(a.fetch.cache_dir) : i2k_store_default_dir();
	if (i2k_store_open(cache_dir, &store, &err) < 0 ||
	    i2k_fetcher_new(store, &a.fetch.fetch, &fetcher, &err) < 0 ||
	    i2k_spool_new(NULL, &spool, &err) < 0)
		goto fail;
	struct i2k_assemble_opts bo = {
	    .store = store, .fetcher = fetcher, .spool = spool, .max_root_size = a.max_root};
	if (i2k_assemble_root(cfg, &bo, &root, &err) < 0)
		goto fail;
	struct i2k_modules_report mrep;
	if (i2k_modules_prune(root, &cfg->kernel, &mrep, &err) < 0)
		goto fail;
	if (mrep.pruned > 0 && !a.fetch.json)
		fprintf(stderr, "kernel modules: kept %zu of %zu (%.1f of %.1f MB)\n", mrep.kept,
			mrep.total, mrep.kept_bytes / 1e6, mrep.total_bytes / 1e6);
	struct i2k_output_opts oo = {.dir = a.dir ? a.dir : ".",
				     .name = name,
				     .compression = a.compression,
				     .size = a.size,
				     .root = a.root};
	for (size_t i = 0; i < a.n_formats; i++) {
		if (i2k_output_write(a.formats[i], root, &oo, &res, &err) < 0) {
			/* Earlier formats of this run stay: each is complete on its own. */
			i2k_error_wrap(&err, "%s output", a.formats[i]);
			goto fail;
		}
	}
	if (a.fetch.json) {
		print_json(&res);
	} else {
		for (size_t i = 0; i < res.nfiles; i++)
			fprintf(stderr, "wrote %s\n", res.files[i].path);
	}
	goto done;
fail:
	rc = i2k_cli_fail(err);
done:
	i2k_output_result_free(&res);
	args_clear(&a);
	return rc;
}
