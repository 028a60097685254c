/* stage1.h — the guest init as the first stage of a disk root.
 *
 * With `i2kit.root=SPEC` on the kernel command line and / still the
 * initramfs, the init does not boot from the initramfs: it finds the real
 * root on a disk, mounts it and hands over to the /init found there.
 *
 *   i2kit.root=PARTUUID=<guid>   GPT unique partition GUID (any case)
 *   i2kit.root=PARTLABEL=<name>  GPT partition name (exact, UTF-8)
 *   i2kit.root=/dev/NAME         a device node (made from /sys/class/block
 *                                /NAME/dev when devtmpfs lacks it)
 *   i2kit.rootfstype=squashfs|erofs|ext4|iso9660|auto   (default auto: from the
 *                                superblock, see blkid.h)
 *   i2kit.rootflags=a,b          mount options: the flag words (ro, rw,
 *                                noatime, nodiratime, relatime, strictatime,
 *                                nodev, nosuid, noexec, sync, dirsync,
 *                                lazytime) become mount flags, the rest the
 *                                file system's data string
 *   i2kit.rootwait=S             seconds to wait for the device (default 15,
 *                                0 = look once, at most 3600)
 *
 * Steps (i2ki_stage1_run): mount /proc (unmounted again when there is no
 * i2kit.root), /sys and devtmpfs on /dev; load from /lib/modules/$(uname -r)
 * overlay, loop, the file system's module (auto: squashfs, erofs, isofs,
 * ext4),
 * the i2kit.modules=a,b list, then every module matching a device
 * modalias (modules.h coldplug: virtio_pci → virtio_blk/virtio_scsi →
 * sd_mod); poll /sys/class/block every 100 ms until the root shows up,
 * coldplugging again whenever the set of devices changed; for PARTUUID and
 * PARTLABEL read the GPT of every whole disk (blkid.h); mount it on
 * /newroot (squashfs, erofs and iso9660 read-only, ext4 read-write unless
 * rootflags say ro); require an executable /newroot/init; move /dev, /proc
 * and /sys into /newroot (unmounted when the directory is missing there);
 * delete the initramfs contents (staying on its file system); move
 * /newroot onto /, chroot into it and exec /init there with the same
 * arguments. The new /init is the full init: / is no longer the
 * initramfs, so its own switchroot step is skipped.
 *
 * Failures before the initramfs is deleted are logged ("i2kit-init: root
 * PARTUUID=... not found after 15 s: disks seen: vda (GPT: 2 partitions)")
 * and the boot goes on from the initramfs as without i2kit.root (nothing
 * is left mounted but /dev). Stage 1 logs to /dev/console only (the last
 * console= of the command line): i2ki_log_open_consoles() is left to the full
 * init, which may run on in this same process.
 *
 * The root on the disk needs the directories /dev, /proc, /sys (moved
 * there), /run, /tmp, /var (tmpfs mounted there by mounts.h) and an
 * executable /init. */
#ifndef I2K_INITRD_INIT_STAGE1_H
#define I2K_INITRD_INIT_STAGE1_H

#include <stddef.h>
#include <sys/types.h>

#define STAGE1_NEWROOT "/newroot"
#define STAGE1_ROOTWAIT_DEFAULT 15
#define STAGE1_ROOTWAIT_MAX 3600

enum stage1_kind { STAGE1_PARTUUID, STAGE1_PARTLABEL, STAGE1_PATH };

struct stage1_opts {
	enum stage1_kind kind;
	char spec[160];	      /* i2kit.root as given, for messages */
	char value[128];      /* GUID (lower-case), label, or /dev/ path */
	char fstype[16];      /* squashfs, erofs, ext4, iso9660 or auto */
	int rootwait;	      /* seconds */
	unsigned long mflags; /* from i2kit.rootflags (MS_RDONLY only when "ro") */
	int rw_given;	      /* rootflags said "rw" */
	char mdata[256];      /* the rest of i2kit.rootflags */
};

/* Reads the i2kit.root* options from the command line (cmdline.h).
 * Returns 1 with *o filled when i2kit.root is there and valid, 0 when it is
 * absent, -1 when it is invalid (why says what, e.g.
 * "i2kit.root=UUID=x: expected PARTUUID=, PARTLABEL= or /dev/NAME"). A bad
 * rootfstype or rootwait is logged (i2ki_log_warn) and replaced by the default. */
int i2ki_stage1_parse(struct stage1_opts *o, char *why, size_t whylen);

/* Splits mount options into flags and data ("noatime,data=ordered" →
 * MS_NOATIME, "data=ordered"). Returns 0, or -1 when data does not fit. */
int i2ki_stage1_parse_flags(const char *flags, unsigned long *mflags, int *rw_given, char *data,
			    size_t datalen);

/* Looks for the root device once. sysfs: "/sys"; devdir: "/dev" (tests use
 * other trees; for a /dev/NAME spec the node looked at is devdir/NAME).
 * Returns 1 with its node in devpath (created with mknod when missing),
 * 0 when not (yet) there. seen (when non-NULL) gets the disks looked at,
 * "vda (GPT: 2 partitions), vdb (no GPT)", or why the spec's node is
 * unusable. */
int i2ki_stage1_find(const struct stage1_opts *o, const char *sysfs, const char *devdir,
		     char *devpath, size_t devlen, char *seen, size_t seenlen);

/* Deletes everything under the directory fd dir that is on file system
 * dev, without crossing into other mounts (a mount point is left as it
 * is). Returns the number of entries that could not be removed. */
int i2ki_stage1_free_tree(int dir, dev_t dev);

/* The whole stage (see above). Returns 0 when the boot should go on from
 * the initramfs (no i2kit.root, or a failure, logged), 1 when / is now the
 * disk's root but exec of its /init failed (logged): the caller then boots
 * on in this process. On success it does not return. */
int i2ki_stage1_run(int argc, char **argv);

#endif
