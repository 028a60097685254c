/* datadisk.h — the persistent data disk of a stateful local service: a
 * sparse raw file holding an empty ext4 file system (label "i2kit-data",
 * written in-process by formats/fs/ext4), attached to the replica as a
 * second virtio disk. Kept across deploys; `destroy --volumes` removes it.
 */
#ifndef I2K_PROVISION_LOCAL_DATADISK_H
#define I2K_PROVISION_LOCAL_DATADISK_H

#include <stdint.h>

#include "builder/base/error.h"

#define I2K_LOCAL_DATA_LABEL "i2kit-data"

/* Creates path (size_mb MiB) atomically: written to PATH.tmp, fsynced,
 * renamed. An existing file is replaced: callers check first. */
int i2k_local_data_disk(const char *path, uint64_t size_mb, struct i2k_error **err);

#endif
