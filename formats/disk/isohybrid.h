/* isohybrid.h — make an El Torito ISO image bootable as a hard disk too.
 *
 * The isohybrid layout (syslinux's utils/isohybrid, default mode): the first
 * 432 bytes of the image are isolinux's hybrid MBR code (isohdpfx.bin from
 * the isolinux package); bytes 432-435 hold the 512-byte sector of
 * isolinux.bin (its El Torito block × 4, little-endian), 436-439 zero,
 * 440-443 the disk id, then one MBR partition entry (entry 1, active 0x80,
 * type 0x17 by default, starting at sector 0 and covering the whole image,
 * CHS for 64 heads × 32 sectors, cylinders capped at 1024) and 0x55 0xAA.
 * The BIOS runs the MBR code, which loads isolinux.bin through its hybrid
 * entry point (offset 0x40, signature FB C0 78 70), which then reads the ISO
 * 9660 file system from the disk — so one ISO image serves raw-bios,
 * qcow2-bios and iso-bios (as a CD-ROM: El Torito).
 *
 * Optionally (efi_partition) MBR entry 2 covers the El Torito EFI image
 * (a FAT file system, its size read from its boot sector) with type 0xEF,
 * and entry 1 gets type 0x00 (as isohybrid --uefi does), so UEFI firmware
 * that reads MBR partitions finds the ESP on the disk.
 *
 * Data paths (read, never executed) come in the options; the defaults are
 * Debian's: I2K_ISOLINUX_DIR_DEFAULT (isolinux.bin, isohdpfx.bin) and
 * I2K_LDLINUX_C32_DEFAULT. The library reads no environment variable.
 * Image size: the image should be a multiple of 1 MiB (one 64×32 cylinder;
 * i2k_iso_opts.align = I2K_ISOHYBRID_ALIGN) so that the CHS end is exact;
 * other multiples of 2048 work with a rounded-up CHS end.
 */
#ifndef I2K_FORMATS_DISK_ISOHYBRID_H
#define I2K_FORMATS_DISK_ISOHYBRID_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"

#define I2K_ISOHYBRID_ALIGN (1u << 20)
#define I2K_ISOLINUX_DIR_DEFAULT "/usr/lib/ISOLINUX"
#define I2K_LDLINUX_C32_DEFAULT "/usr/lib/syslinux/modules/bios/ldlinux.c32"

struct i2k_isohybrid_opts {
	/* The 432-byte MBR code; NULL → I2K_ISOLINUX_DIR_DEFAULT/isohdpfx.bin. */
	const char *mbr_path;
	/* Disk id (MBR bytes 440-443); 0 → derived: the first 4 bytes of the
	 * SHA-256 of the image's blocks 16 up to and including the boot
	 * catalog (volume descriptors, path tables, directories — names,
	 * sizes, dates and places of every file). */
	uint32_t disk_id;
	/* Type of partition 1; 0 → 0x17 (as isohybrid). */
	uint8_t part_type;
	/* Add the EFI partition (entry 2, type 0xEF) over the El Torito EFI
	 * image; the catalog must have one (I2K_ERR_CONFIG otherwise). */
	bool efi_partition;
};

/* Writes the hybrid MBR into the first 512 bytes of iso, an ISO image
 * written by formats/fs/iso9660.h (or any El Torito image whose default
 * entry is a hybrid isolinux.bin). Reads the image back through the sink.
 * Errors (I2K_ERR_CONFIG unless said otherwise): "SINK: not an ISO 9660
 * image (no primary volume descriptor at block 16)", "... no El Torito boot
 * record at block 17", "... invalid El Torito boot catalog ...", "... the
 * default El Torito entry is not a BIOS no-emulation image", "... the BIOS
 * boot image is not a hybrid isolinux.bin (no signature at offset 0x40)",
 * "... no EFI El Torito entry" / "... the EFI image is not a FAT file
 * system", "SINK: N bytes: not a multiple of 2048"; I2K_ERR_NOTFOUND/IO
 * "reading MBR code PATH: ..."; I2K_ERR_INTEGRITY "PATH: N bytes, expected
 * 432" for a wrong template. */
int i2k_isohybrid_bios(struct i2k_sink *iso, const struct i2k_isohybrid_opts *o,
		       struct i2k_error **err);

#endif
