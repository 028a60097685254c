/* volumes.h — volume names in a container's binds and mounts (internal to
 * builder/bundle), as LinuxKit's updateMountsAndBindsFromVolumes
 * (src/cmd/linuxkit/moby/build/volume.go).
 *
 * A YAML bind "SRC:DST[:OPTS]" (binds and binds.add) or a YAML mount of
 * type "bind" whose source does not start with '/' names a volume of the
 * config's volumes: section; the source becomes the volume's merged
 * directory I2K_VOLUME_DIR "/NAME/merged" (the guest init mounts it there).
 * Errors (I2K_ERR_CONFIG):
 *   "volume \"X\" not found (binds[N])"      no volume of that name
 *   "volume \"X\" is read-only, but attempting to write into container
 *    read-write"                              a readonly volume whose bind
 *      does not end in ":ro" exactly, or whose mount options do not say "ro"
 *      before any "rw"
 * Binds and mounts from the image label are not rewritten (as LinuxKit).
 */
#ifndef I2K_BUILDER_BUNDLE_VOLUMES_H
#define I2K_BUILDER_BUNDLE_VOLUMES_H

#include <jansson.h>
#include <stddef.h>

#include "builder/base/error.h"
#include "builder/config/config.h"

/* Where volumes live in the root (LinuxKit's allVolumesBaseDir). */
#define I2K_VOLUME_DIR "/containers/volumes"

/* Copies in into out (out->set = in->set) with volume sources rewritten.
 * what names the list in errors ("binds", "binds.add"). On error out is
 * cleared. */
int i2k_volumes_rewrite_binds(const struct i2k_strv *in, const char *what,
			      const struct i2k_volume_entry *vols, size_t nvols,
			      struct i2k_strv *out, struct i2k_error **err);

/* A deep copy of the OCI mounts array with volume sources rewritten (NULL
 * for NULL); the caller decrefs. On error *out is NULL. */
int i2k_volumes_rewrite_mounts(const json_t *mounts, const struct i2k_volume_entry *vols,
			       size_t nvols, json_t **out, struct i2k_error **err);

#endif
