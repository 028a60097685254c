/* isoboot.h — a bootable ISO 9660 image (iso-bios, iso-efi, raw-bios,
 * qcow2-bios) from a kernel and an initrd.
 *
 * The image holds:
 *   /boot/kernel, /boot/initrd.img                  the given files
 *   /isolinux/isolinux.bin, ldlinux.c32,            with bios: isolinux
 *   /isolinux/isolinux.cfg, /isolinux/boot.cat      (El Torito BIOS entry,
 *                                                    boot info table)
 *   /boot/efiboot.img (+ /boot/boot.cat alone)      with efi: the given FAT
 *                                                    image (El Torito EFI
 *                                                    entry; it must hold
 *                                                    \EFI\BOOT\BOOTX64.EFI)
 * and, with hybrid, isolinux's hybrid MBR (formats/disk/isohybrid.h) so that
 * the same bytes boot as a BIOS hard disk: that is raw-bios (and qcow2-bios
 * once wrapped). isolinux.cfg, written here:
 *
 *   SERIAL 0 115200
 *   DEFAULT linux
 *   PROMPT 0
 *   TIMEOUT 0
 *   LABEL linux
 *     LINUX /boot/kernel
 *     INITRD /boot/initrd.img
 *     APPEND <cmdline>
 *
 * isolinux.bin comes from I2K_ISOLINUX_DIR_DEFAULT and ldlinux.c32 from
 * I2K_LDLINUX_C32_DEFAULT (formats/disk/isohybrid.h) unless the options
 * name them. All entries are
 * root:root, files 0644 (0444 for the boot files), directories 0755, mtime
 * i2k_source_date_epoch(); the image is a multiple of 1 MiB; same inputs →
 * same bytes.
 *
 * Use:
 *   struct i2k_isoboot *b; uint64_t size;
 *   i2k_isoboot_new(kernel_fd, initrd_fd, &opts, &b, &err);
 *   size = i2k_isoboot_size(b);               // make a sink of that size
 *   i2k_isoboot_write(b, sink, &err);         // (or bigger: the disk)
 *   i2k_isoboot_free(b);
 * or i2k_isoboot_write_fd() for a whole file at once.
 */
#ifndef I2K_FORMATS_DISK_ISOBOOT_H
#define I2K_FORMATS_DISK_ISOBOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"

struct i2k_isoboot_opts {
	const char *cmdline;	  /* kernel command line; NULL → "" (no line breaks, < 2048) */
	const char *volume_id;	  /* NULL → "I2KIT" (see iso9660.h) */
	bool bios;		  /* isolinux + El Torito BIOS entry */
	bool hybrid;		  /* also the hybrid MBR (requires bios) */
	bool efi;		  /* El Torito EFI entry for the FAT image read from efi_fd */
	int efi_fd;		  /* with efi: FAT image, read from its current offset */
	bool efi_partition;	  /* with hybrid and efi: MBR entry 2 (0xEF) over the FAT image */
	uint64_t min_size;	  /* image at least this big (e.g. --size); 0 = as needed */
	const char *isolinux_bin; /* NULL → I2K_ISOLINUX_DIR_DEFAULT/isolinux.bin */
	const char *ldlinux_c32;  /* NULL → I2K_LDLINUX_C32_DEFAULT */
	const char *mbr_path;	  /* NULL → I2K_ISOLINUX_DIR_DEFAULT/isohdpfx.bin */
};

struct i2k_isoboot;

/* Reads the kernel and the initrd (each from its current offset to EOF; the
 * fds are not kept), the boot files, and plans the image. Errors:
 * I2K_ERR_CONFIG "kernel command line: contains a line break" / "... is
 * longer than 2047 bytes" / "a hybrid image needs bios" / "no boot entry:
 * set bios or efi"; the read errors of the files (I2K_ERR_NOTFOUND "reading
 * isolinux.bin PATH: ..."); the ISO writer's errors. Caller owns *out. */
int i2k_isoboot_new(int kernel_fd, int initrd_fd, const struct i2k_isoboot_opts *o,
		    struct i2k_isoboot **out, struct i2k_error **err);
/* Bytes of the image (a multiple of 1 MiB). */
uint64_t i2k_isoboot_size(const struct i2k_isoboot *b);
/* Writes the image at offset 0 of out (out->size ≥ i2k_isoboot_size), then
 * the hybrid MBR when asked. Does not finish the sink. */
int i2k_isoboot_write(struct i2k_isoboot *b, struct i2k_sink *out, struct i2k_error **err);
void i2k_isoboot_free(struct i2k_isoboot *b);
void i2k_isoboot_freep(struct i2k_isoboot **b);

/* All of the above into out_fd (truncated to the image size, sparse),
 * then fsync. *size (optional) gets the size. */
int i2k_isoboot_write_fd(int kernel_fd, int initrd_fd, const struct i2k_isoboot_opts *o, int out_fd,
			 uint64_t *size, struct i2k_error **err);

#endif
