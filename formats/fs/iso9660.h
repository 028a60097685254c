/* iso9660.h — ISO 9660 writer with Rock Ridge and El Torito, from an fstree.
 *
 * Writes the whole tree of an i2k_fstree as an ISO 9660 image (2048-byte
 * logical blocks) into a sink, starting at byte 0 of the sink:
 *
 *   blocks 0-15   system area: left as zeros (formats/disk/isohybrid.h
 *                 puts an MBR there afterwards)
 *   16            primary volume descriptor
 *   17            El Torito boot record (only with a boot image)
 *   next          volume descriptor set terminator
 *   next          path tables (L then M), directories (path-table order),
 *                 Rock Ridge continuation areas, the boot catalog, then the
 *                 file data in sorted walk order, each file at a block start
 *
 * Names: ISO 9660 level 2 identifiers (upper-case A-Z 0-9 _, "NAME.EXT;1",
 * at most 30 characters of name + extension, directories 31; collisions
 * get a numeric tail) plus Rock Ridge (RRIP 1.10: SP/ER in the root, PX
 * mode/nlink/uid/gid, TF mtime, NM real name, SL symlink target, PN device
 * numbers, CE continuation areas for what does not fit in a record), so
 * Linux, xorriso and isolinux see the real lower-case names, modes, owners,
 * symlinks and devices. Hard links share one extent. No Joliet, no
 * directory relocation (trees deeper than 8 levels are written as they are;
 * Linux and xorriso read them).
 *
 * El Torito (no emulation): a BIOS entry (platform 0x00) for a boot image
 * such as isolinux.bin, optionally with isolinux's 56-byte boot info table
 * patched at offset 8 (PVD block 16, the image's block, its length, and the
 * 32-bit little-endian sum of its words from byte 64 on); and/or an EFI entry
 * (platform 0xEF) for a FAT image (efiboot.img) holding \EFI\BOOT\BOOTX64.EFI.
 * Its sector count is the image size in 512-byte sectors, or 0 when that
 * exceeds 65535 (firmware such as OVMF then uses the medium from the image's
 * block to the end, which a FAT file system larger than its El Torito count
 * needs). With both, the BIOS entry is the default entry and the EFI entry
 * follows in a final section (platform 0xEF); with only EFI, the validation
 * entry says platform 0xEF. The boot catalog is one block, optionally listed
 * in the tree under catalog_path.
 *
 * Reproducible: volume times from i2k_source_date_epoch(), file times from
 * the tree, sorted directories, no random values: same tree + options →
 * byte-identical image.
 *
 * Limits: regular files up to 4 GiB - 1 (no multi-extent files:
 * I2K_ERR_UNSUPPORTED "PATH: N bytes: ISO 9660 files are limited to
 * 4 GiB - 1"); the image up to 2^32 blocks.
 */
#ifndef I2K_FORMATS_FS_ISO9660_H
#define I2K_FORMATS_FS_ISO9660_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "formats/sink.h"

#define I2K_ISO_BLOCK 2048u

struct i2k_iso_opts {
	/* Volume identifier: up to 32 of A-Z a-z 0-9 _ and space (lower case
	 * is folded to upper case). NULL → "I2KIT". Anything else is
	 * I2K_ERR_CONFIG "volume id "X": ...". */
	const char *volume_id;
	/* Path in the tree of a regular file to boot from BIOS El Torito
	 * (no emulation), e.g. "isolinux/isolinux.bin"; NULL = none. */
	const char *bios_boot;
	/* Patch the boot info table into bios_boot's data on the image (the
	 * tree is not changed). isolinux needs it. The file must be 64 bytes
	 * to 4 MiB. */
	bool boot_info_table;
	/* 512-byte sectors the BIOS loads of bios_boot; 0 → 4 (isolinux). */
	uint16_t bios_load_sectors;
	/* Path in the tree of a FAT image for the EFI El Torito entry; NULL =
	 * none. */
	const char *efi_boot;
	/* Where the boot catalog appears in the tree (its parent directory
	 * must exist, the name must be free), e.g. "isolinux/boot.cat"; NULL
	 * → the catalog is on the image but not listed. Ignored without a
	 * boot image. */
	const char *catalog_path;
	/* The image size is rounded up to a multiple of align (a power of two
	 * ≥ 2048; 0 → 2048) and then raised to min_size (rounded up to align
	 * too) — the volume space covers the padding. */
	uint32_t align;
	uint64_t min_size;
	/* Plain ISO 9660 level 2 names only (no Rock Ridge). */
	bool no_rock_ridge;
};

/* Size in bytes of the image i2k_iso_write would write (validates the tree
 * and options exactly as i2k_iso_write does). Finalizes the tree
 * (i2k_fstree_finalize). */
int i2k_iso_size_for(struct i2k_fstree *tree, const struct i2k_iso_opts *o, uint64_t *size,
		     struct i2k_error **err);

/* Writes the image into out at offset 0. out->size must be at least the
 * image size (I2K_ERR_CONFIG "SINK: N bytes is too small for the ISO image
 * of M bytes"); bytes past the image are not touched. *bytes (optional)
 * gets the image size. The sink is not finished. Errors:
 *   I2K_ERR_CONFIG   bad volume id, align; a boot image or the catalog's
 *                    parent that is missing or of the wrong type; an empty
 *                    boot image; a boot info table file outside 64 B..4 MiB;
 *                    catalog_path already taken
 *   I2K_ERR_UNSUPPORTED  a file of 4 GiB or more; an image over 2^32 blocks
 *   plus the sink's and the spool's I/O errors and I2K_ERR_INTERRUPTED. */
int i2k_iso_write(struct i2k_fstree *tree, const struct i2k_iso_opts *o, struct i2k_sink *out,
		  uint64_t *bytes, struct i2k_error **err);

#endif
