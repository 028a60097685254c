/* modules.h — kernel module loading for the guest init, without kmod:
 * reads DIR/modules.dep, DIR/modules.alias and DIR/modules.builtin
 * (DIR = /lib/modules/$(uname -r)), loads a module after its modules.dep
 * dependencies with finit_module(2) (compressed .ko.xz/.ko.zst/.ko.gz with
 * MODULE_INIT_COMPRESSED_FILE, which needs CONFIG_MODULE_DECOMPRESS), and
 * matches device modaliases against the alias patterns (fnmatch) the way
 * udev's coldplug does.
 *
 * Each file is read whole (at most 16 MiB). Allocation failures are logged
 * and make the table smaller, never fatal. */
#ifndef I2K_INITRD_INIT_MODULES_H
#define I2K_INITRD_INIT_MODULES_H

#include <stddef.h>

enum kmod_state { KMOD_NEW, KMOD_LOADING, KMOD_LOADED, KMOD_FAILED };

struct kmod {
	char *name; /* normalised: basename without .ko*, '-' → '_' */
	char *path; /* relative to the module dir, as in modules.dep */
	char *deps; /* the rest of the modules.dep line (blank-separated paths) */
	enum kmod_state state;
};

struct kalias {
	char *pattern; /* fnmatch pattern, e.g. "pci:v00001AF4d*sv*sd*bc*sc*i*" */
	char *module;
	size_t prefix; /* length of the literal prefix before the first wildcard */
};

struct kmods {
	char dir[256];
	char *dep_text, *alias_text, *builtin_text; /* owned buffers the tables point into */
	struct kmod *mods;			    /* sorted by name */
	size_t nmods;
	struct kalias *aliases;
	size_t naliases;
	/* hooks (tests replace them): load one module file, return 0 or -errno;
	 * and "is NAME already in the kernel" (default: /sys/module/NAME). */
	int (*insmod)(struct kmods *km, const char *path);
	int (*present)(struct kmods *km, const char *name);
	void *ctx;
	int loaded; /* count of modules loaded by this table */
};

/* Parses the three texts (each may be NULL); takes ownership of the buffers
 * (malloc'd, NUL-terminated; freed by i2ki_kmods_free). Returns 0, or -1 when
 * out of memory (the tables are then empty). */
int i2ki_kmods_parse(struct kmods *km, char *dep_text, char *alias_text, char *builtin_text);
/* Reads DIR's files and parses them; -1 when modules.dep is unreadable. */
int i2ki_kmods_open(struct kmods *km, const char *dir);
void i2ki_kmods_free(struct kmods *km);

/* Normalises a module name into out ("virtio-pci.ko.xz" → "virtio_pci"). */
void i2ki_kmods_normalise(const char *name, char *out, size_t outlen);
/* Finds a module by (any spelling of) its name, NULL if not in modules.dep. */
struct kmod *i2ki_kmods_find(struct kmods *km, const char *name);
/* Is NAME built into the kernel (modules.builtin)? */
int i2ki_kmods_builtin(const struct kmods *km, const char *name);

/* Loads NAME (a module name or an alias pattern's target) and its
 * dependencies first. Returns 0 when loaded or already present or built
 * in; -ENOENT when unknown; else -errno of the failed load. quiet: log
 * failures only with i2kit.debug. */
int i2ki_kmods_load(struct kmods *km, const char *name, int quiet);
/* Loads every module whose alias pattern matches MODALIAS; returns how many
 * were newly loaded. */
int i2ki_kmods_load_modalias(struct kmods *km, const char *modalias);
/* Coldplug: reads /sys/bus/{*}/devices/{*}/modalias and
 * /sys/class/input/{*}/modalias, loads matches, repeats while new modules
 * appeared (they create new devices: virtio_pci → virtio bus), at most 8
 * passes. Returns the number of modules loaded. */
int i2ki_kmods_coldplug(struct kmods *km, const char *sysfs);

/* The init's step: /lib/modules/$(uname -r); loads overlay, button, evdev
 * (when they are modules), the modules named by i2kit.modules=a,b,
 * /etc/modules-load.d/{*}.conf and /etc/modules, then coldplugs. Logs and
 * survives every failure. */
void i2ki_modules_boot(void);

#endif
