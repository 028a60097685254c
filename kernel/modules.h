/* modules.h — kernel module pruning: keep only the modules a VM needs.
 *
 * The kernel image's kernel.tar brings every module of the kernel (92 MB for
 * Debian's cloud kernel) into the root at lib/modules/VER/. i2k_modules_prune
 * removes the module files (*.ko, *.ko.xz, *.ko.zst, *.ko.gz) that are not in
 * the wanted set's dependency closure, as kernel.modules asks:
 *
 *   all     no pruning (the tree is left untouched).
 *   [names] exactly those modules plus their dependencies (modules.dep) and
 *           soft dependencies (modules.softdep, when they resolve to a
 *           module). A name may also be an alias (fnmatch against the
 *           patterns of modules.alias, as modprobe does, e.g. "fs-overlay").
 *           A name that is built in (modules.builtin) is accepted and keeps
 *           nothing. An unknown name → I2K_ERR_CONFIG
 *           "kernel.modules: no module \"x\" in VER".
 *   auto    (default) I2K_MODULES_AUTO_DEFAULT below (each only if it is a
 *           module of that kernel; missing or built-in ones are skipped),
 *           plus the names listed in the tree's etc/modules,
 *           etc/modules-load.d/ *.conf, run/modules-load.d/ *.conf,
 *           usr/lib/modules-load.d/ *.conf and lib/modules-load.d/ *.conf
 *           (one name per line, '#'/';' comments, the first word of a line),
 *           plus `i2kit.modules=a,b` in the tree's boot/cmdline. Unknown
 *           names there are warned about (i2k_warn), not fatal.
 * Module names compare with '-' and '_' equal ("virtio-rng" == "virtio_rng").
 *
 * Every lib/modules/VER and usr/lib/modules/VER directory is handled on its
 * own. One with module files but no modules.dep (a kernel.tar made from a
 * distribution package: depmod runs at install time) first gets
 * modules.dep, modules.alias, modules.softdep and modules.devname computed
 * from the modules' .modinfo (kernel/depmod.h), in every mode including
 * ALL, so the guest init can load modules. When some module file has no
 * readable .modinfo, its dependencies are unknown: AUTO keeps every module
 * of that directory with a warning, LIST is I2K_ERR_CONFIG ("... cannot
 * select modules"). One without module files and without
 * modules.dep is left untouched (in LIST mode that is I2K_ERR_CONFIG: the
 * names cannot be checked).
 *
 * Metadata after pruning (deterministic: the original line order is kept):
 *   modules.dep, modules.order, modules.alias, modules.symbols,
 *   modules.softdep, modules.devname   rewritten to mention kept modules only
 *   modules.builtin, modules.builtin.*  kept as they are
 *   modules.dep.bin, modules.alias.bin, modules.symbols.bin   removed (kmod's
 *           binary indexes would name deleted files; kmod falls back to
 *           nothing for them, busybox modprobe and the i2kit init read the
 *           text files; run `depmod` in the guest to rebuild them)
 * Directories left empty by the pruning are removed too.
 */
#ifndef I2K_KERNEL_MODULES_H
#define I2K_KERNEL_MODULES_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/config/config.h"
#include "builder/fstree/fstree.h"

/* The AUTO set (also used by tests): virtio transports and devices, the
 * file systems of i2kit roots, the ENA/NVMe/Xen drivers of EC2, the ACPI
 * power button (for a clean powerdown), fw_cfg (the metadata of
 * `i2kit run qemu --data`) and packet sockets (DHCP). NULL-terminated. */
extern const char *const I2K_MODULES_AUTO_DEFAULT[];

/* Largest metadata file read (modules.dep etc.): 32 MiB. */
#define I2K_MODULES_FILE_MAX (32u << 20)

/* Totals over every lib/modules/VER directory. */
struct i2k_modules_report {
	unsigned versions;    /* VER directories found (with or without modules.dep) */
	size_t total;	      /* module files found */
	size_t kept;	      /* module files left in the tree */
	uint64_t total_bytes; /* their sizes */
	uint64_t kept_bytes;
	unsigned pruned; /* VER directories actually pruned (0 for ALL) */
};

/* Prunes root in place as k->modules says (k->module_names for LIST). rep
 * may be NULL; otherwise it is zeroed and filled. A tree without
 * lib/modules is not an error (rep->versions == 0). Errors: I2K_ERR_CONFIG
 * for unknown LIST names, I2K_ERR_INTEGRITY for a metadata file over
 * I2K_MODULES_FILE_MAX, I2K_ERR_IO from the spool. On error the tree may be
 * partly pruned (the build fails anyway). */
int i2k_modules_prune(struct i2k_fstree *root, const struct i2k_kernel_cfg *k,
		      struct i2k_modules_report *rep, struct i2k_error **err);

/* Normalises a module name or file name in place to the name the kernel
 * uses: the base name without ".ko[.xz|.zst|.gz]", with '-' turned into
 * '_'. Returns s. */
char *i2k_modules_normalize(char *s);

#endif
