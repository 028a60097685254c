/* fat.h — FAT32 file system writer (EFI system partitions).
 *
 * Writes the whole of an fstree into a sink as FAT32 (Microsoft FAT
 * specification 1.03): 512-byte sectors; cluster size chosen from the size
 * as mkfs.fat does (≤ 260 MiB: 512 B, ≤ 8 GiB: 4 KiB, ≤ 16 GiB: 8 KiB,
 * ≤ 32 GiB: 16 KiB, else 32 KiB; halved while that leaves fewer than 65525
 * clusters, the FAT32 minimum); 32+ reserved sectors (the data area starts
 * on a cluster boundary), boot sector at 0 with FSInfo at 1 and their
 * backups at 6 and 7, two FATs, root directory at cluster 2.
 *
 * Directories hold VFAT long names (UTF-16) plus a unique 8.3 short name:
 * a name that already is an upper-case 8.3 name gets no long entry; one that
 * differs only in case keeps its upper-case short name; any other gets the
 * Windows-style basis name with a "~N" tail (N = 1, 2, ... in sorted order,
 * so the result is deterministic). Clusters are allocated contiguously in
 * the tree's sorted walk order: each directory's clusters, then its files'.
 * Timestamps are each inode's mtime, clamped to FAT's 1980..2107 range (the
 * volume label entry uses i2k_source_date_epoch()). Hard links become
 * separate copies.
 *
 * Only what was written is touched: unused clusters are never written (the
 * sink is expected to read zeros there; file sinks stay sparse). The same
 * tree, options and sink size give the same bytes.
 *
 * Entries FAT cannot represent are errors (I2K_ERR_UNSUPPORTED):
 *   "PATH: FAT cannot hold symlinks" / "...: FAT cannot hold special files"
 *   "PATH: FAT cannot hold files of 4 GiB or more"
 *   "PATH: character 'c' is not allowed in FAT names" (control chars and "*\/:<>?\|)
 *   "PATH: FAT names cannot end with '.' or ' '"
 *   "PATH: name is not valid UTF-8" / "PATH: name is longer than 255 UTF-16 units"
 *   "PATH: another name in the directory differs only in case"
 *   "PATH: too many entries for a FAT directory"
 */
#ifndef I2K_FORMATS_FS_FAT_H
#define I2K_FORMATS_FS_FAT_H

#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "formats/sink.h"

/* FAT32 needs at least 65525 clusters; with 512-byte clusters that is a
 * file system of about 33 MiB. */
#define I2K_FAT_MIN_CLUSTERS 65525u

struct i2k_fat_opts {
	/* Volume label: at most 11 characters, letters, digits, space and
	 * !#$%&'()-@^_`{}~; lower case is upper-cased. NULL or "" → none
	 * ("NO NAME" in the boot sector, no label entry). Else I2K_ERR_CONFIG
	 * "bad FAT volume label 'L'". */
	const char *label;
	/* Volume serial number; 0 → derived from the content: the CRC-32 of
	 * the geometry, every directory and all file data (a checksum, not a
	 * SHA-256: this is 4 bytes of a name, and the ESP's UKI is 38 MB that a
	 * SHA-256 took 30 ms to read, a tenth of the time after compression). */
	uint32_t volume_id;
	/* OEM name in the boot sector (at most 8 characters, else cut); NULL →
	 * "I2KIT". */
	const char *oem;
	/* BPB hidden sectors: the partition's first LBA on its disk (0 for a
	 * bare file system image). */
	uint32_t hidden_sectors;
};

/* Writes tree as a FAT32 file system filling out (its size, rounded down
 * to 512 bytes, is the file system size; at most 2 TiB). opts may be NULL
 * (all defaults). The tree is finalized by the caller or not at all (only
 * names, modes, sizes, mtimes and data are read). Too small a sink →
 * I2K_ERR_CONFIG "FAT file system of N bytes is too small: the files need
 * at least M bytes" (M as i2k_fat_min_size gives). Nothing is owned
 * afterwards; out is not finished. */
int i2k_fat_write(struct i2k_fstree *tree, const struct i2k_fat_opts *opts, struct i2k_sink *out,
		  struct i2k_error **err);

/* The smallest size (a multiple of 1 MiB) of a FAT32 file system that
 * holds tree; fails with the same errors as i2k_fat_write for entries FAT
 * cannot represent. */
int i2k_fat_min_size(struct i2k_fstree *tree, uint64_t *size, struct i2k_error **err);

/* Same, without the error: 0 when the tree cannot be written as FAT (call
 * i2k_fat_write or i2k_fat_min_size to learn why). */
uint64_t i2k_fat_size_for(struct i2k_fstree *tree);

#endif
