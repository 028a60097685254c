/* volumes.h — the config's volumes: section in the guest, as LinuxKit's
 * init (pkg/init/cmd/service/volumeinit.go) mounts them before any
 * container runs. i2kit build lays each volume out as
 * /containers/volumes/NAME/{lower,merged} plus tmp/ for a read-write one
 * (builder/assemble/assemble.c). For each NAME:
 *   tmp/ present   tmpfs on tmp, tmp/upper + tmp/work, overlay
 *                  lowerdir=lower,upperdir=tmp/upper,workdir=tmp/work on
 *                  merged: writes land in memory, every container that
 *                  binds the volume sees them
 *   no tmp/        lower bind-mounted read-only on merged
 * A volume without lower/ or merged/ is logged and skipped; every failure
 * is logged and survived. */
#ifndef I2K_INITRD_INIT_VOLUMES_H
#define I2K_INITRD_INIT_VOLUMES_H

/* Mounts every volume under dir ("/containers/volumes"); returns how many
 * were mounted. A missing dir is no volumes. */
int i2ki_volumes_mount(const char *dir);

#endif
