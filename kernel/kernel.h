/* kernel.h — x86 bzImage header parsing (Linux boot protocol).
 *
 * Reads the real-mode setup header (Documentation/arch/x86/boot.rst):
 *   0x1F1 u8  setup_sects   (0 means 4)
 *   0x1FE u16 boot_flag     must be 0xAA55
 *   0x202 u32 header        must be "HdrS"
 *   0x206 u16 version       boot protocol, e.g. 0x020F = 2.15
 *   0x20E u16 kernel_version  if non-zero: offset - 0x200 of a NUL-terminated
 *                             version string ("6.1.0-9-amd64 (debian-kernel@...) #1 SMP ...")
 *   0x211 u8  loadflags     bit 0 LOADED_HIGH: kernel loaded at 0x100000 (bzImage)
 * A bzImage is: boot_flag + "HdrS" + protocol >= 2.00 + LOADED_HIGH.
 * Anything else (an arm64 Image, a zImage, an ELF vmlinux, garbage) is
 * rejected with I2K_ERR_CONFIG "not a bzImage: WHY".
 */
#ifndef I2K_KERNEL_KERNEL_H
#define I2K_KERNEL_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

#define I2K_KERNEL_VERSION_MAX 256 /* bytes kept of the version string, incl. NUL */

struct i2k_kernel_info {
	bool is_bzimage;
	uint16_t protocol;   /* e.g. 0x020F */
	uint8_t setup_sects; /* as found (0 is reported as 4) */
	/* Version string as in the image (cut at I2K_KERNEL_VERSION_MAX - 1
	 * bytes, non-printable bytes replaced by '?'); "" when kernel_version
	 * is 0 or points outside the image. */
	char version[I2K_KERNEL_VERSION_MAX];
	/* The release: version up to the first space ("6.1.0-9-amd64"), i.e.
	 * what `uname -r` prints and the name of /lib/modules/RELEASE. */
	char release[I2K_KERNEL_VERSION_MAX];
};

/* Parses the first len bytes of an image (at least 0x250 bytes are needed
 * for the header; the version string must lie inside the buffer, so pass
 * up to I2K_KERNEL_HEAD_MAX bytes). Fills *info or fails with
 * I2K_ERR_CONFIG "not a bzImage: ...". */
int i2k_kernel_info_buf(const void *buf, size_t len, struct i2k_kernel_info *info,
			struct i2k_error **err);

/* Bytes from the start of an image that can hold the header and the version
 * string (the kernel_version pointer is 16-bit). */
#define I2K_KERNEL_HEAD_MAX (0x200 + 0x10000 + I2K_KERNEL_VERSION_MAX)

/* Same, reading the head of an open file with pread at offset off (the fd's
 * position is not changed). I2K_ERR_IO for read errors. */
int i2k_kernel_info_fd(int fd, uint64_t off, struct i2k_kernel_info *info, struct i2k_error **err);

#endif
