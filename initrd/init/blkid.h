/* blkid.h — what a block device holds, as the guest init's stage 1 needs
 * it, read directly (no udev, no libblkid):
 *
 *   GPT  the primary header at LBA 1 and its entry array, as the kernel
 *        reads them without the "gpt" boot option: a protective MBR (a
 *        type 0xEE entry, signature 55 AA) is required, the header and the
 *        entry array CRC32s must match, and there is no fall-back to the
 *        backup header (the kernel would not use it either, so a partition
 *        found there would have no /dev node).
 *        Partition N is the Nth entry (1-based), which is the kernel's
 *        partition number (vda2, nvme0n1p2).
 *   fs   the file system type from its superblock: squashfs ("hsqs" at 0,
 *        version 4), EROFS (magic E0F5E1E2 at 1024, little-endian), ext2/3/4 (0xEF53 at 1080,
 * reported as "ext4": the kernel's ext4 driver mounts all three), ISO9660 ("CD001" at 32769).
 *
 * Everything read is bounded: a header of at most one sector, at most
 * BLKID_GPT_MAX_ENTRIES entries of at most 4 KiB each and at most 1 MiB of
 * entry array (read into one malloc'd buffer, freed before returning). No
 * function prints. */
#ifndef I2K_INITRD_INIT_BLKID_H
#define I2K_INITRD_INIT_BLKID_H

#include <stddef.h>
#include <stdint.h>

#define BLKID_GPT_MAX_PARTS 128	       /* used entries kept */
#define BLKID_GPT_MAX_ENTRIES 4096     /* NumberOfPartitionEntries accepted */
#define BLKID_GPT_MAX_ARRAY (1u << 20) /* bytes of entry array accepted */

struct blkid_part {
	unsigned num;		      /* 1-based entry index = kernel partition number */
	uint64_t first_lba, last_lba; /* inclusive, in sectors of blkid_gpt.sector */
	char uuid[37];		      /* unique partition GUID, lower-case text */
	char type[37];		      /* partition type GUID, lower-case text */
	char label[112];	      /* the UTF-16LE name as UTF-8 (36 units at most) */
};

struct blkid_gpt {
	unsigned sector; /* logical sector size the header was found with */
	char disk_uuid[37];
	unsigned nentries; /* NumberOfPartitionEntries */
	size_t nparts;	   /* used entries (non-zero type GUID) in parts[] */
	size_t dropped;	   /* used entries beyond BLKID_GPT_MAX_PARTS (not kept) */
	struct blkid_part parts[BLKID_GPT_MAX_PARTS];
};

enum blkid_gpt_result {
	BLKID_GPT_OK = 0,
	BLKID_GPT_NONE = -1, /* no "EFI PART" signature: not a GPT disk */
	BLKID_GPT_BAD = -2,  /* a GPT the kernel refuses (CRC, sizes, no protective MBR) */
	BLKID_GPT_IO = -3,   /* read error or out of memory (errno kept) */
};

/* Reads the GPT of the disk open on fd (a block device or an image file)
 * into *g. sector: the logical sector size (BLKSSZGET), or 0 to try 512
 * then 4096. On anything but BLKID_GPT_OK, why (when non-NULL) gets a short
 * reason ("header CRC mismatch", "no protective MBR", ...). */
enum blkid_gpt_result i2ki_blkid_gpt_read(int fd, unsigned sector, struct blkid_gpt *g, char *why,
					  size_t whylen);

/* The partition whose unique GUID is uuid (text, any case), or NULL. */
const struct blkid_part *i2ki_blkid_gpt_find_uuid(const struct blkid_gpt *g, const char *uuid);
/* The first partition whose name is exactly label (UTF-8), or NULL. */
const struct blkid_part *i2ki_blkid_gpt_find_label(const struct blkid_gpt *g, const char *label);

/* "squashfs", "erofs", "ext4", "iso9660", or NULL when none of those superblocks is
 * there (or it cannot be read). */
const char *i2ki_blkid_fstype(int fd);

/* The volume name of the ext2/3/4 file system on fd (s_volume_name, 16
 * bytes, NUL-terminated into out): 0, or -1 when fd holds no ext superblock
 * or cannot be read. */
int i2ki_blkid_ext4_label(int fd, char out[17]);

/* GUID text of 16 on-disk bytes (first three fields little-endian, as in
 * GPT and EFI): "c12a7328-f81f-11d2-ba4b-00a0c93ec93b". */
void i2ki_blkid_guid_format(const uint8_t raw[16], char out[37]);
/* 1 when s is 8-4-4-4-12 hex digits (any case), else 0. */
int i2ki_blkid_guid_valid(const char *s);
/* CRC-32 (IEEE 802.3, reflected, as GPT and zlib use): crc = 0 to start. */
uint32_t i2ki_blkid_crc32(uint32_t crc, const void *buf, size_t len);

#endif
