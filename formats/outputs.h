/* outputs.h — the table of named output formats and the function that
 * writes one of them from a finished root tree.
 *
 * The root tree is LinuxKit's build tree: the kernel: section put the
 * kernel at boot/kernel, the command line at boot/cmdline and an optional
 * early microcode archive at boot/ucode.cpio. Formats implemented (names,
 * file names and contents as LinuxKit's src/cmd/linuxkit/moby/build/output.go):
 *
 *   tar               DIR/NAME.tar: the whole root, uncompressed (formats/tar.h),
 *                     boot/ included.
 *   kernel+initrd     DIR/NAME-kernel     copy of boot/kernel
 *                     DIR/NAME-initrd.img [boot/ucode.cpio, verbatim, uncompressed]
 *                                         + compressed newc cpio of the root
 *                                         without boot/... entries
 *                                         (i2k_cpio_filter_linuxkit); gzip
 *                                         output zero-padded to a multiple of
 *                                         4 bytes (LinuxKit's pad4; the kernel
 *                                         skips zeros between archives); zstd
 *                                         output unpadded (zstd -t rejects
 *                                         trailing zeros)
 *                     DIR/NAME-cmdline    contents of boot/cmdline (written even
 *                                         when empty, so no stale file survives;
 *                                         LinuxKit skips an empty one)
 *   tar-kernel-initrd DIR/NAME-initrd.tar: a tar (formats/tar.h) of the regular
 *                     files "kernel", "initrd.img" (the compressed cpio, no
 *                     ucode), "cmdline" (only if non-empty) and "ucode.cpio"
 *                     (only if present), in that order, mode 0644, uid/gid 0,
 *                     mtime i2k_source_date_epoch().
 * Both kernel formats need boot/kernel: without it they fail with
 * I2K_ERR_CONFIG "FORMAT output needs a kernel: section".
 *
 * The disk formats (kernel+squashfs, raw-bios, raw-efi, qcow2-bios,
 * qcow2-efi, vhd, dynamic-vhd, aws, iso-bios, iso-efi) are recipes in
 * formats/images.h; they use o->size and o->root. Any other name is
 * I2K_ERR_USAGE "unknown output format X".
 *
 * Every file is written through i2k_atomic_open/commit: nothing appears
 * under its final name until all files of the format are complete (they are
 * committed together at the end), and a failure or interruption
 * (i2k_check_interrupt, checked per entry and per data chunk) leaves no
 * file that looks complete. Output files are mode 0644.
 */
#ifndef I2K_FORMATS_OUTPUTS_H
#define I2K_FORMATS_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/fstree/fstree.h"
#include "formats/roots.h"
#include "initrd/compress.h"

struct i2k_output_opts {
	const char *dir;		  /* output directory, created if missing; NULL = "." */
	const char *name;		  /* base name of the files (no '/'); required */
	enum i2k_compression compression; /* initrd compression; 0 = gzip */
	int level;			  /* 0 = the compressor's default */
	int threads; /* compressor threads, 0 = all CPUs (output does not depend on it) */
	uint64_t size;		 /* disk formats: --size in bytes (0 = as small as fits) */
	enum i2k_root_mode root; /* disk formats: where the root lives (--root) */
};

struct i2k_output_file {
	char *path; /* DIR/FILE as built from opts */
	uint64_t size;
	char sha256[I2K_DIGEST_LEN + 1]; /* "sha256:<hex>" */
};

struct i2k_output_result {
	struct i2k_output_file *files;
	size_t nfiles;
	/* Kernel release ("6.1.0-9-cloud-amd64") when the kernel is a bzImage
	 * with a version string, else NULL. Owned. */
	char *kernel_release;
};
void i2k_output_result_free(struct i2k_output_result *r); /* frees contents, zeroes */

struct i2k_output_format {
	const char *name;
	const char *description; /* one line for --help */
	bool implemented;
};
/* The whole table (implemented and planned), in display order; *n entries. */
const struct i2k_output_format *i2k_output_formats(size_t *n);
/* True for an implemented format name. */
bool i2k_output_known(const char *format);

/* Writes one format from root (finalized here) and appends the files written
 * to *res (zero-initialise it before the first call; free with
 * i2k_output_result_free). On failure nothing is appended and no file of the
 * format is left under its final name. */
int i2k_output_write(const char *format, struct i2k_fstree *root, const struct i2k_output_opts *o,
		     struct i2k_output_result *res, struct i2k_error **err);

/* The initrd of kernel+initrd (compressed newc cpio of t without boot/,
 * as o->compression says, no ucode) written to fd from its current offset;
 * *size gets the bytes written. Used by the disk formats. */
int i2k_output_initrd_fd(struct i2k_fstree *t, const struct i2k_output_opts *o, int fd,
			 uint64_t *size, struct i2k_error **err);

#endif
