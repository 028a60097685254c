/* parse.h — YAML → struct i2k_config (internal to builder/config).
 *
 * parse.c defines i2k_config_parse (declared in config.h): the top-level
 * keys (kernel, init, onboot, onshutdown, services, files, volumes, trust),
 * file and volume entries, and the checks that need a whole file (required
 * fields, unique names). Per-image keys are delegated to imgopts.c.
 *
 * Error messages (all I2K_ERR_CONFIG, position of the offending node):
 *   FILE:L:C: unknown top-level key "K"
 *   FILE:L:C: unknown key "K" in services[2]
 *   FILE:L:C: services[0].capabilities: expected a list of strings
 *   FILE:L:C: services[1]: missing required field "image"
 *   FILE:L:C: duplicate service name "getty" (first defined at FILE:L:C)
 *   FILE:L:C: duplicate key "image" (first at line L, column C)
 *   FILE:L:C: the top level must be a mapping
 *   FILE:L:C: <libyaml problem> ...
 */
#ifndef I2K_BUILDER_CONFIG_PARSE_H
#define I2K_BUILDER_CONFIG_PARSE_H

#include <stddef.h>

#include "builder/base/error.h"
#include "builder/config/config.h"

/* Checks that the names of the entries [from, n) differ from every other
 * entry's name in the list (the earlier ones are assumed unique among
 * themselves when from > 0). `what` is "service", "onboot", "onshutdown".
 * The error names the later entry's position and the first one's. */
int i2k_config_check_unique_images(const char *what, const struct i2k_image_entry *e, size_t n,
				   size_t from, struct i2k_error **err);
int i2k_config_check_unique_volumes(const struct i2k_volume_entry *v, size_t n, size_t from,
				    struct i2k_error **err);

#endif
