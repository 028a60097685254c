/* writers.h — the writer of each row of the format table (format.h). Each
 * takes the build's artifacts, writes the row's files (formats/output.h:
 * temp names, hashed while written, committed together) and appends them to
 * res; on failure nothing is appended and no file of the format is left.
 *
 *   write_files.c  tar, kernel+initrd, tar-kernel-initrd, kernel+squashfs,
 *                  kernel+iso
 *   write_disk.c   every disk format: the artifacts' raw disk in the row's
 *                  container (raw, qcow2, VHD, VMDK, GCP tar.gz), into a file
 *                  or the build's disk destination (an upload)
 *
 * File contents, as LinuxKit's src/cmd/linuxkit/moby/build/output.go:
 *   tar               NAME.tar: the whole root, boot/ included (formats/tar.h)
 *   kernel+initrd     NAME-kernel (boot/kernel), NAME-initrd.img ([boot/ucode.cpio
 *                     verbatim] + the compressed cpio of the root without boot/),
 *                     NAME-cmdline (boot/cmdline; written even when empty, so no
 *                     stale file survives)
 *   tar-kernel-initrd NAME-initrd.tar: regular files "kernel", "initrd.img" (the
 *                     compressed cpio, no ucode), "cmdline" (if non-empty) and
 *                     "ucode.cpio" (if present), mode 0644, uid/gid 0, mtime
 *                     i2k_source_date_epoch()
 *   kernel+squashfs   NAME-kernel, NAME-initrd.img (the first stage),
 *                     NAME-squashfs.img (the root without boot/), NAME-cmdline
 *                     (the config's + "i2kit.root=/dev/vda i2kit.rootfstype=squashfs")
 *   kernel+iso        the same with NAME.iso, the root without boot/ as ISO 9660
 *                     with Rock Ridge (LinuxKit's kernel+iso), rootfstype=iso9660
 *   kernel+erofs      the same with NAME-erofs.img, the root as uncompressed EROFS
 *                     (formats/fs/erofs.h), rootfstype=erofs
 * The kernel formats need boot/kernel: I2K_ERR_CONFIG "FORMAT output needs a
 * kernel: section".
 */
#ifndef I2K_FORMATS_WRITERS_H
#define I2K_FORMATS_WRITERS_H

#include "formats/artifacts.h"
#include "formats/format.h"

int i2k_write_tar(const struct i2k_format *f, struct i2k_artifacts *a,
		  struct i2k_output_result *res, struct i2k_error **err);
int i2k_write_kernel_initrd(const struct i2k_format *f, struct i2k_artifacts *a,
			    struct i2k_output_result *res, struct i2k_error **err);
int i2k_write_tar_kernel_initrd(const struct i2k_format *f, struct i2k_artifacts *a,
				struct i2k_output_result *res, struct i2k_error **err);
int i2k_write_kernel_squashfs(const struct i2k_format *f, struct i2k_artifacts *a,
			      struct i2k_output_result *res, struct i2k_error **err);
int i2k_write_kernel_erofs(const struct i2k_format *f, struct i2k_artifacts *a,
			   struct i2k_output_result *res, struct i2k_error **err);
int i2k_write_kernel_iso(const struct i2k_format *f, struct i2k_artifacts *a,
			 struct i2k_output_result *res, struct i2k_error **err);
int i2k_write_disk(const struct i2k_format *f, struct i2k_artifacts *a,
		   struct i2k_output_result *res, struct i2k_error **err);

/* Writes one format: checks the name and the output name, then runs the
 * row's writer. Errors are the writer's, not wrapped again. */
int i2k_format_write(const char *format, struct i2k_artifacts *a, struct i2k_output_result *res,
		     struct i2k_error **err);

#endif
