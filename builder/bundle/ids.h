/* ids.h — resolving uid/gid/additionalGids of a bundle (internal to
 * builder/bundle; struct i2k_idmap itself is public, in bundle.h).
 *
 * LinuxKit (src/cmd/linuxkit/moby/config.go idNumeric; build.go Build)
 * gives every onboot, onshutdown and service container an id from 100
 * upwards, in that order, keyed by container name; a uid/gid written as a
 * name must be "root" or "" (→ 0) or one of those names, else the build
 * fails ("Cannot find id"). i2kit keeps that and, as an extension, also
 * looks a name up in the image's /etc/passwd (uid) or /etc/group (gid) when
 * it is not a container name — a name LinuxKit would reject. A number is
 * used as is (truncated to 32 bits, as Go's uint32() conversion).
 */
#ifndef I2K_BUILDER_BUNDLE_IDS_H
#define I2K_BUILDER_BUNDLE_IDS_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/bundle/bundle.h"

#define I2K_IDS_MAX_DB (4u << 20) /* largest /etc/passwd or /etc/group read */

struct i2k_ids_ctx {
	const struct i2k_idmap *map; /* may be NULL */
	struct i2k_fstree *tree;     /* may be NULL */
	char *passwd, *group;	     /* loaded lazily, owned */
	bool passwd_loaded, group_loaded;
};

/* Resolves one optional id; unset → 0. `what` names the field in errors
 * ("uid", "gid", "additionalGids[1]"): I2K_ERR_CONFIG
 * "WHAT: cannot find id \"NAME\"". */
int i2k_ids_resolve(struct i2k_ids_ctx *c, const struct i2k_optid *id, bool group, const char *what,
		    uint32_t *out, struct i2k_error **err);
void i2k_ids_ctx_clear(struct i2k_ids_ctx *c);

/* Looks `name` up in a passwd/group text (field 0 = name, field 2 = id). */
bool i2k_ids_db_lookup(const char *db, const char *name, uint32_t *id);

#endif
