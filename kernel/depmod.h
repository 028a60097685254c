/* depmod.h — modules.dep and friends computed in-process, for kernel.tar
 * files that come straight from a distribution package (depmod runs at
 * install time there, so the package ships no modules.dep/modules.alias).
 *
 * i2k_depmod_generate reads every module file (*.ko, *.ko.xz, *.ko.zst,
 * *.ko.gz) below a lib/modules/VER directory of the tree, decompresses it,
 * reads the ELF section ".modinfo" (NUL-separated key=value strings) and
 * writes, into that directory of the tree, what depmod(8) would:
 *   modules.dep      "PATH: DEP..." for every module: the whole dependency
 *                    closure (from "depends="), the dependencies a module
 *                    needs first listed last (modprobe loads the list from
 *                    the end); lines in modules.order order, then the
 *                    remaining modules in path order
 *   modules.alias    "alias PATTERN MODULE" for every "alias=" (with
 *                    depmod's header comment)
 *   modules.softdep  "softdep MODULE VALUE" for every "softdep="
 *   modules.devname  "MODULE DEVNAME TYPE MAJ:MIN" for modules with a
 *                    "devname:" alias and a char-major-/block-major- alias
 * Paths are relative to the directory; MODULE names are the file's
 * normalised base name ("virtio-rng.ko" → "virtio_rng"), as depmod's.
 * When two files give the same module name, the one under "updates/" wins,
 * else the first in path order (depmod's default search order); the other is
 * left out of the files (and pruned like a module nobody needs).
 * A dependency naming no module file (e.g. a built-in) is ignored. A module
 * file that cannot be decompressed or is not an ELF object with .modinfo is
 * listed without dependencies and reported in rep->unreadable (the caller
 * warns; depmod warns and goes on too). Generated files are 0644 root,
 * stamped with SOURCE_DATE_EPOCH; existing files of those names are replaced.
 * The output is deterministic: it depends only on the tree's contents.
 */
#ifndef I2K_KERNEL_DEPMOD_H
#define I2K_KERNEL_DEPMOD_H

#include <stddef.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"

/* Largest decompressed module accepted: 256 MiB. */
#define I2K_DEPMOD_MODULE_MAX (256u << 20)

/* The .modinfo strings that depmod uses. Every string is owned. */
struct i2k_modinfo {
	char **depends; /* module names, in order, empty ones dropped */
	size_t n_depends;
	char **aliases;
	size_t n_aliases;
	char **softdeps; /* the values of softdep= ("pre: a b post: c") */
	size_t n_softdeps;
};
void i2k_modinfo_clear(struct i2k_modinfo *mi);

/* Parses a relocatable ELF object (32/64-bit, either byte order) and fills
 * mi from its ".modinfo" section. I2K_ERR_INTEGRITY when data is not such
 * an object or has no .modinfo (mi is then empty). */
int i2k_depmod_modinfo(const void *data, size_t len, struct i2k_modinfo *mi,
		       struct i2k_error **err);

/* Decompresses a module file by its name's suffix (.xz, .zst, .gz; anything
 * else is copied). *out is malloc'd and owned by the caller. I2K_ERR_INTEGRITY
 * for corrupt data or more than max bytes of output. */
int i2k_depmod_decompress(const char *name, const void *in, size_t len, size_t max, void **out,
			  size_t *outlen, struct i2k_error **err);

struct i2k_depmod_report {
	size_t modules;	   /* module files read */
	size_t unreadable; /* of those, not decompressible or without .modinfo */
	char *first_bad;   /* "PATH: why" for the first unreadable one (owned; free it) */
};

/* Computes and writes the files above for dir ("lib/modules/VER"). rep may
 * be NULL; otherwise it is zeroed and filled (free rep->first_bad). Errors:
 * I2K_ERR_IO from the spool. */
int i2k_depmod_generate(struct i2k_fstree *t, const char *dir, struct i2k_depmod_report *rep,
			struct i2k_error **err);

#endif
