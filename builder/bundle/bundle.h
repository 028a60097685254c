/* bundle.h — the OCI runtime bundle LinuxKit writes for each onboot,
 * onshutdown and service container: config.json (OCI runtime spec) and
 * runtime.json (LinuxKit's extra runtime actions), plus the per-image rootfs
 * fix-ups LinuxKit applies.
 *
 * Semantics are those of LinuxKit's ConfigToOCI (src/cmd/linuxkit/moby/
 * config.go); see builder/bundle/bundle.c and tests/data/bundle/README.md
 * for the details and sources. In short:
 * Precedence of every field: YAML > the image's org.mobyproject.config label
 * > the image config (Env, Entrypoint+Cmd, WorkingDir only — LinuxKit
 * ignores the image's User). Lists replace, they do not merge, except the
 * `.add` fields: capabilities = YAML capabilities, else label capabilities +
 * YAML capabilities.add; binds likewise with binds.add. Defaults follow
 * LinuxKit: writable root (readonly: false), no capabilities, new pid,
 * mount and cgroup namespaces and host net/ipc/uts/user, the default mounts
 * (/proc, /dev, /dev/pts, /sys, /sys/fs/cgroup), rlimits/sysctl/devices/
 * resources passed through.
 * Named uid/gid: "root" → 0; a container name → its id from the shared
 * struct i2k_idmap (LinuxKit: every onboot, onshutdown, service container
 * gets 100, 101, ... in that order — fill it with i2k_idmap_add_config);
 * otherwise (i2kit extension) the image's /etc/passwd or /etc/group; else
 * an error.
 */
#ifndef I2K_BUILDER_BUNDLE_BUNDLE_H
#define I2K_BUILDER_BUNDLE_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/config/config.h"
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"

enum i2k_bundle_kind { I2K_BUNDLE_ONBOOT, I2K_BUNDLE_ONSHUTDOWN, I2K_BUNDLE_SERVICE };

/* Name → id allocations shared by every bundle of one build. */
struct i2k_idmap;
/* An empty map; the next id allocated is 100. Caller frees. */
struct i2k_idmap *i2k_idmap_new(void);
void i2k_idmap_free(struct i2k_idmap *m);
void i2k_idmap_freep(struct i2k_idmap **m);
/* Allocates the next id to name and returns it (a name added again gets
 * the new id, as a Go map assignment would). */
uint32_t i2k_idmap_add(struct i2k_idmap *m, const char *name);
/* Adds every onboot, then onshutdown, then service name, in order — what
 * `linuxkit build` does before building anything. Call once per build. */
void i2k_idmap_add_config(struct i2k_idmap *m, const struct i2k_config *cfg);
/* True (and *id) when name is in the map. m may be NULL. */
bool i2k_idmap_lookup(const struct i2k_idmap *m, const char *name, uint32_t *id);

struct i2k_bundle_input {
	enum i2k_bundle_kind kind;
	const struct i2k_image_entry *entry;	  /* YAML entry (name, image, opts) */
	const struct i2k_image_config *image_cfg; /* the image's config */
	struct i2k_fstree *rootfs;		  /* the flattened image (read for
						     /etc/passwd, /etc/group) */
	struct i2k_idmap *ids;			  /* may be NULL: no container names */
	const struct i2k_volume_entry *volumes;	  /* the config's volumes: binds and
						     mounts naming one are rewritten
						     (volumes.h); may be NULL */
	size_t n_volumes;
};

struct i2k_bundle {
	char *config_json;  /* OCI runtime config.json, deterministic, owned */
	char *runtime_json; /* LinuxKit runtime.json, owned — WITHOUT the rootfs
			       mounts LinuxKit prepends in ImageBundle (bind of
			       rootfs, or tmpfs + overlay): only the caller knows
			       the bundle path and where a shared image lives */
	bool readonly;	    /* rootfs read-only → image goes in rootfs/; else
			       lower/ + tmp/ + rootfs/ (overlay) */
};

/* Computes both JSON documents, formatted byte for byte as LinuxKit's
 * json.MarshalIndent(v, "", "    "). Errors (I2K_ERR_CONFIG) read
 * "FILE:LINE:COL: SECTION[NAME]: WHY" (position omitted when the entry has
 * none): unknown capability names, bad rlimit strings, bad bind/tmpfs
 * syntax, unknown uid/gid names, an invalid label, ... On error *out is
 * left zeroed. Caller frees with i2k_bundle_clear. */
int i2k_bundle_make(const struct i2k_bundle_input *in, struct i2k_bundle *out,
		    struct i2k_error **err);
void i2k_bundle_clear(struct i2k_bundle *b);

/* LinuxKit's fix-ups on an image rootfs before it is placed in the root:
 * creates missing dev/, etc/, etc/resolv.conf, etc/hosts, etc/mtab →
 * /proc/mounts, ... exactly as LinuxKit does (see the .c for the list and
 * the source). Generated entries use i2k_source_date_epoch(). */
int i2k_bundle_fixup_rootfs(struct i2k_fstree *rootfs, struct i2k_error **err);

#endif
