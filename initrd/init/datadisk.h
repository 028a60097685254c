/* datadisk.h — the persistent data disk of a stateful i2kit service.
 *
 * `i2kit deploy` of a `stateful: true` service attaches a disk holding an
 * ext4 file system labelled "i2kit-data" (provision/local/datadisk.h).
 * After the kernel modules are loaded and before any container runs, the
 * init looks at every block device in /sys/class/block (whole disks and
 * partitions, in name order), and mounts the first ext2/3/4 file system
 * with that label read-write at I2KI_DATA_DIR. The services that
 * `i2kit template` generates for a stateful service bind that directory
 * at /data, so every container of the pod shares it.
 *
 * I2KI_DATA_DIR is always created: without a data disk it is a plain
 * directory of the root (memory, lost at power-off; said with
 * i2kit.debug=1), so a stateful image still boots under `i2kit run qemu`.
 * The init unmounts it at shutdown with everything else (shutdown.h).
 * Every failure is logged and survived. */
#ifndef I2K_INITRD_INIT_DATADISK_H
#define I2K_INITRD_INIT_DATADISK_H

#define I2KI_DATA_LABEL "i2kit-data"
#define I2KI_DATA_DIR "/var/lib/i2kit/data"

/* Mounts the disk labelled label at dir (sysfs: "/sys", dev: "/dev").
 * Returns 1 when a disk was mounted, 0 when none carries the label, -1
 * when one does but mounting it failed. */
int i2ki_datadisk_mount(const char *sysfs, const char *dev, const char *label, const char *dir);

#endif
