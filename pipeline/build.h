/* build.h — the build pipeline as one library call: configuration files in,
 * output files out. It runs the stages in order:
 *
 *   builder/config    YAML files → one merged, validated config
 *   formats/format    the format list checked (names, file clashes, --root)
 *                     before anything is fetched or written
 *   builder/store     the image cache (OCI layout)
 *   builder/registry  every image fetched (cache first; never the network
 *                     when offline)
 *   builder/assemble  the root tree, laid out as `linuxkit build` does
 *   kernel/modules    kernel modules pruned as kernel.modules asks
 *   pipeline/sbom     the SPDX SBOM of the images and their packages, into
 *                     the root (/sbom.spdx.json) unless no_sbom
 *   formats/          every format written from one set of artifacts, so
 *                     the initrd, UKI, ESP, roots and disks are made once;
 *                     then DIR/NAME.spdx.json (format "sbom") unless no_sbom
 *
 * Each error is wrapped once with the stage or format it came from
 * ("raw-efi output: ...", config errors keep their FILE:LINE:COL). The
 * library never prints: notes (module pruning) go to the request's note
 * callback; progress inside the stages goes to the request's progress
 * callback (builder/base/progress.h): FETCH per image and blob (instead of
 * fetch->registry.progress), UNPACK per image flattened, COMPRESS for the
 * initrd, FS for the squashfs root and each disk laid out, WRITE per
 * format. Without it, pull progress goes to fetch->registry.progress.
 */
#ifndef I2K_PIPELINE_BUILD_H
#define I2K_PIPELINE_BUILD_H

#include <stdarg.h>
#include <stddef.h>

#include "builder/base/error.h"
#include "builder/registry/fetch.h"
#include "formats/artifacts.h"
#include "formats/output.h"
#include "kernel/modules.h"

typedef void (*i2k_build_note_fn)(void *ctx, const char *fmt, va_list ap);

/* The cache's directory of compressed initrd blocks (initrd/blockmemo.h). */
#define I2K_BUILD_BLOCK_DIR "compressed"

struct i2k_build_request {
	const char *const *files; /* config files, merged in order ("-" = stdin) */
	size_t nfiles;
	const char *const *formats; /* names from the format table; none → kernel+initrd */
	size_t nformats;
	/* dir (created if missing; NULL = "."), name (NULL → the first file's
	 * base name without .yml/.yaml, "moby" for stdin), compression, size,
	 * root, boot loader data, disk destination. */
	struct i2k_format_opts out;
	const char *cache_dir; /* NULL → i2k_store_default_dir() */
	/* cap of CACHE/compressed, the gzip initrd blocks kept for rebuilds
	 * (initrd/blockmemo.h); 0 = I2K_BLOCKMEMO_DEFAULT_CAP */
	uint64_t block_cache_max;
	const struct i2k_fetch_opts *fetch; /* borrowed; required */
	/* --verify-key: public key files; every image must carry a signature
	 * that verifies with one of them, unless the config's i2kit-verify:
	 * names other keys for it (builder/registry/sigverify.h). */
	const char *const *verify_keys;
	size_t n_verify_keys;
	uint64_t max_root_size; /* unpacked root limit; 0 → builder/assemble's default */
	bool keep_init;		/* --keep-init (builder/assemble/initimg.h) */
	bool no_sbom;		/* --no-sbom: no SBOM in the root nor beside (pipeline/sbom.h) */
	i2k_build_note_fn note; /* optional */
	void *note_ctx;
	struct i2k_stage_cb progress; /* optional; called from worker threads too */
};

/* An image the config names, as written, and the platform manifest digest
 * it was built from (provenance). */
struct i2k_build_image {
	char *ref;
	char digest[I2K_DIGEST_LEN + 1];
};

struct i2k_build_result {
	struct i2k_output_result out;	/* the files written, in format order */
	struct i2k_build_image *images; /* every distinct image, in config order; owned */
	size_t nimages;
	char *name; /* the output base name used; owned */
	struct i2k_modules_report modules;
	struct i2k_artifacts_stats artifacts;
};
void i2k_build_result_free(struct i2k_build_result *r); /* frees contents, zeroes */

/* Runs the pipeline. On success *res holds every file written (zero it
 * first; free with i2k_build_result_free). On failure the formats written
 * before the failing one stay (each is complete on its own) and are listed
 * in res; the failing one leaves nothing. */
int i2k_build_run(const struct i2k_build_request *rq, struct i2k_build_result *res,
		  struct i2k_error **err);

/* The formats stage alone, from a finished root (what i2k_build_run does
 * after the root is assembled): checks the list, creates o->dir, writes
 * each format once from one set of artifacts, appends the files to res and
 * (optional) the artifact counters to stats. */
int i2k_build_write_formats(struct i2k_fstree *root, const struct i2k_format_opts *o,
			    const char *const *formats, size_t nformats,
			    struct i2k_output_result *res, struct i2k_artifacts_stats *stats,
			    struct i2k_error **err);

/* The default output name for a config file path (caller frees). */
char *i2k_build_default_name(const char *path);

#endif
