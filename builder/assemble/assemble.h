/* assemble.h — root assembly: a typed config in, the final root tree out.
 *
 * i2k_assemble_root fetches every image the config names (through the
 * fetcher: cache first, registry on a miss, never the network when offline),
 * then assembles the root exactly as `linuxkit build` lays it out:
 *   boot/kernel, boot/cmdline, boot/ucode.cpio   from the kernel image
 *   kernel.tar unpacked at /                      (lib/modules/...)
 *   init images flattened at /                    (etc/resolv.conf → /run/resolvconf/resolv.conf;
 *                                                  the list as initimg.h resolves it)
 *   containers/volumes/NAME/                      lower/, tmp/ (read-write only), merged/
 *   containers/onboot/NNN-NAME/                   config.json, runtime.json,
 *                                                 rootfs/ or lower/+tmp/+rootfs/
 *   containers/onshutdown/NNN-NAME/
 *   containers/services/NAME/
 *   files:                                        LinuxKit's defaults (0600 files,
 *                                                 0700 dirs)
 * An image used by several containers is stored once; the later bundles
 * mount it from the first one's location (as LinuxKit's dupMap does).
 * Output writers (formats/) take the tree from here.
 */
#ifndef I2K_BUILDER_ASSEMBLE_ASSEMBLE_H
#define I2K_BUILDER_ASSEMBLE_ASSEMBLE_H

#include <stdbool.h>

#include "builder/base/error.h"
#include "builder/base/progress.h"
#include "builder/config/config.h"
#include "builder/fstree/fstree.h"
#include "builder/registry/fetch.h"
#include "builder/sbom/sbom.h"
#include "builder/store/store.h"

struct i2k_assemble_opts {
	struct i2k_store *store;     /* borrowed */
	struct i2k_fetcher *fetcher; /* borrowed */
	struct i2k_spool *spool;     /* borrowed; must outlive the returned tree */
	const char *home;	     /* for files: source "~/..." (NULL → $HOME) */
	/* Expansion limit of the root: the files of every image and of
	 * kernel.tar, as unpacked (a sparse file counts its full size). 0 →
	 * I2K_ASSEMBLE_MAX_ROOT_DEFAULT. Over it: I2K_ERR_HOSTILE naming the
	 * image and entry, before the data is read. */
	uint64_t max_root_size;
	bool keep_init;		  /* keep linuxkit/init, runc, containerd (initimg.h) */
	const char *init_archive; /* i2kit's init archive; NULL → i2k_init_archive_path() */
	/* Borrowed, may be NULL: on success every image fetched (in config
	 * order: kernel, init, volumes' and containers' images) is added to it
	 * with the packages of the tree it was flattened to (builder/sbom). */
	struct i2k_sbom *sbom;
	/* Optional: UNPACK progress, one step per image flattened (what: the
	 * image as the config names it; done: bytes of files unpacked) and one
	 * for the kernel's tar (what: its name, e.g. "kernel.tar"). */
	struct i2k_stage_cb progress;
};

#define I2K_ASSEMBLE_MAX_ROOT_DEFAULT (4ull << 30)

/* Builds the root. A config with nothing in it (no kernel, init, onboot,
 * onshutdown, services or files, e.g. an empty YAML) is I2K_ERR_CONFIG
 * "FILE: nothing to build: ...", never an empty root. On success *out is a
 * new tree (caller frees; it references opts->spool). Errors name the
 * config position of the entry that failed ("FILE:LINE:COL: services[web]:
 * ..."). A config with a kernel whose init images (with files:) put nothing
 * at /init is I2K_ERR_CONFIG: the kernel would not find an init to run. */
int i2k_assemble_root(const struct i2k_config *cfg, const struct i2k_assemble_opts *opts,
		      struct i2k_fstree **out, struct i2k_error **err);

#endif
