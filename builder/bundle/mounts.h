/* mounts.h — the mounts of a bundle's config.json (internal to
 * builder/bundle).
 *
 * As LinuxKit's ConfigToOCI (src/cmd/linuxkit/moby/config.go) builds them:
 * the defaults /proc, /dev (tmpfs, "ro" added when the root is read-only),
 * /dev/pts, /sys ("ro" when read-only), /sys/fs/cgroup; then `tmpfs`
 * entries ("DST[:opt,opt]"), then binds ("SRC:DST" → options
 * rw,rbind,rshared; "SRC:DST:opts" → opts + rbind), then `mounts` (OCI
 * mounts; a missing type is guessed from the source or /dev, a missing
 * source is the type, a missing destination is the type's usual place).
 * A later entry with the same destination replaces an earlier one; the
 * result is sorted by destination (bytewise).
 */
#ifndef I2K_BUILDER_BUNDLE_MOUNTS_H
#define I2K_BUILDER_BUNDLE_MOUNTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"
#include "builder/bundle/gojson.h"

struct i2k_bmount {
	char *dst, *type, *src; /* "" = absent (omitted in JSON) */
	char **opts;
	size_t nopts;
};

struct i2k_bmounts {
	struct i2k_bmount *v;
	size_t n, cap;
};

struct i2k_bmount_input {
	bool readonly;
	char *const *tmpfs; /* chosen tmpfs list */
	size_t ntmpfs;
	char *const *binds; /* chosen binds list (binds.add already merged) */
	size_t nbinds;
	const json_t *mounts; /* chosen OCI mounts array or NULL */
};

/* Errors (I2K_ERR_CONFIG, without position): bad tmpfs/bind syntax, a
 * mount without type or destination, wrong JSON types. */
int i2k_bmounts_build(const struct i2k_bmount_input *in, struct i2k_bmounts *out,
		      struct i2k_error **err);
void i2k_bmounts_clear(struct i2k_bmounts *m);
/* Writes the array of OCI mounts. */
void i2k_bmounts_emit(struct i2k_gj *w, const struct i2k_bmounts *m);

#endif
