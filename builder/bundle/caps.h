/* caps.h — capability names and the capability sets of a bundle (internal
 * to builder/bundle).
 *
 * LinuxKit (src/cmd/linuxkit/moby/config.go, ConfigToOCI) accepts exactly
 * the names "CAP_<NAME>" of moby/sys/capability's ListKnown() (case
 * sensitive, prefix required), plus a one-element list "all" or "none"
 * (case-insensitive). The bounding, permitted and inheritable sets are the
 * sorted union of the capabilities and ambient lists; effective is the
 * capabilities list as given (duplicates kept, "all" in kernel order).
 */
#ifndef I2K_BUILDER_BUNDLE_CAPS_H
#define I2K_BUILDER_BUNDLE_CAPS_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"

/* The known capabilities in kernel numbering order (CAP_CHOWN = 0 ...
 * CAP_CHECKPOINT_RESTORE = 40). */
extern const char *const *const i2k_caps_known;
extern const size_t i2k_caps_nknown;

bool i2k_caps_is_known(const char *name);

/* A list of capability names (borrowed strings). */
struct i2k_caplist {
	const char **v;
	size_t n;
};

struct i2k_capsets {
	struct i2k_caplist effective; /* capabilities after all/none expansion */
	struct i2k_caplist ambient;
	struct i2k_caplist bounding; /* sorted, unique: also permitted, inheritable */
};

/* Computes the sets from the chosen capabilities and ambient lists (the
 * strings must outlive *out). Unknown names → I2K_ERR_CONFIG
 * "unknown capability \"NAME\"" (no position: the caller adds it). */
int i2k_capsets_make(char *const *caps, size_t ncaps, char *const *ambient, size_t nambient,
		     struct i2k_capsets *out, struct i2k_error **err);
void i2k_capsets_clear(struct i2k_capsets *s);

#endif
