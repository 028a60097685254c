/* emit.h — struct i2k_config → YAML (libyaml emitter).
 *
 * The output is deterministic: top-level keys in LinuxKit's order (kernel,
 * init, onboot, onshutdown, services, files, volumes, trust), entry keys in
 * schema order (name, image, then imgopts.c's field table), OCI structures
 * in their schema order, string maps sorted by key. Only what was given is
 * written ("set" flags), so parsing the output gives an equal config; it is
 * what goes into the image at /etc/linuxkit.yml. Strings that YAML would
 * read as another type ("true", "0644", "") are double-quoted; multi-line
 * strings use the literal block style when possible.
 */
#ifndef I2K_BUILDER_CONFIG_EMIT_H
#define I2K_BUILDER_CONFIG_EMIT_H

#include <stddef.h>

#include "builder/base/error.h"
#include "builder/config/config.h"

/* *out is a new NUL-terminated string owned by the caller; len may be NULL.
 * Errors: I2K_ERR_INTERNAL if libyaml refuses an event. */
int i2k_config_emit(const struct i2k_config *c, char **out, size_t *len, struct i2k_error **err);

#endif
