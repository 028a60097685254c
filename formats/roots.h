/* roots.h — the trees a disk format is made of, derived from the built
 * root (they share its inodes and spool; the root is not modified):
 *
 *   i2k_roots_rootfs   the root without boot/ — what goes into a squashfs
 *                      or ext4 root partition (LinuxKit's kernel+squashfs
 *                      leaves boot/ out too); a read-only view that copies
 *                      nothing (i2k_fstree_view): the root must outlive it
 *                      and not change while it is used
 *   i2k_roots_stage1   the first-stage initramfs for disk roots: /init (the
 *                      same guest init), the mount-point directories, and
 *                      lib/modules/VER pruned to what finding and mounting
 *                      the root needs (virtio/SCSI/NVMe disks, squashfs,
 *                      erofs, isofs, overlay, loop) plus their dependencies
 *
 * The kernel command line for a disk root is the config's cmdline plus
 * "i2kit.root=SPEC i2kit.rootfstype=TYPE" (made by formats/artifacts.c for
 * the disk formats and formats/write_files.c for kernel+squashfs), which
 * the init's first stage reads (initrd/init/stage1.c).
 */
#ifndef I2K_FORMATS_ROOTS_H
#define I2K_FORMATS_ROOTS_H

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"

enum i2k_root_mode {
	I2K_ROOT_INITRAMFS,
	I2K_ROOT_SQUASHFS,
	I2K_ROOT_EXT4,
	I2K_ROOT_ISO9660, /* kernel+iso: the root on an ISO 9660 image */
	I2K_ROOT_EROFS,	  /* kernel+erofs: the root on an EROFS image */
};
#define I2K_ROOT_MODES 5

/* "initramfs" | "squashfs" | "ext4" | "iso9660" | "erofs" → mode; else I2K_ERR_USAGE. */
int i2k_root_mode_parse(const char *s, enum i2k_root_mode *out, struct i2k_error **err);
const char *i2k_root_mode_name(enum i2k_root_mode m);

/* New trees (caller frees; the first a view of root); see the top of this file. */
int i2k_roots_rootfs(struct i2k_fstree *root, struct i2k_fstree **out, struct i2k_error **err);
int i2k_roots_stage1(struct i2k_fstree *root, struct i2k_fstree **out, struct i2k_error **err);

/* The boot files of the root: kernel inode (required: I2K_ERR_CONFIG
 * "FORMAT output needs a kernel: section") and the command line (caller
 * frees; "" when absent). */
int i2k_roots_boot(struct i2k_fstree *root, const char *format, struct i2k_inode **kernel,
		   char **cmdline, struct i2k_error **err);

#endif
