/* part.h — the partition list shared by the MBR and GPT writers, GUID
 * helpers, and the layout helper that places partitions 1 MiB aligned.
 *
 * Units are bytes everywhere (multiples of the 512-byte sector). The GPT
 * type GUIDs below are in GPT's on-disk byte order (the first three fields
 * little-endian), ready to be used as `.type_guid = I2K_GUID_ESP`.
 *
 * Assembling a disk (see also gpt.h):
 *   struct i2k_part p[] = {{.name = "ESP", .type_guid = I2K_GUID_ESP,
 *                           .mbr_type = 0xEF, .size = esp_bytes}, ...};
 *   i2k_part_layout(p, n, 0, true, &disk_size, &err);   → p[i].start, disk_size
 *   sink over disk_size bytes; fill each p[i] through a window sink;
 *   i2k_gpt_write(disk, p, n, seed, &err)   (or i2k_mbr_write for MBR disks)
 */
#ifndef I2K_FORMATS_DISK_PART_H
#define I2K_FORMATS_DISK_PART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

#define I2K_SECTOR 512u
#define I2K_PART_ALIGN (1024u * 1024u)

/* C12A7328-F81F-11D2-BA4B-00A0C93EC93B: EFI System Partition */
#define I2K_GUID_ESP                                                                               \
	{                                                                                          \
		0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9,      \
		    0x3E, 0xC9, 0x3B                                                               \
	}
/* 0FC63DAF-8483-4772-8E79-3D69D8477DE4: Linux filesystem data */
#define I2K_GUID_LINUX_FS                                                                          \
	{                                                                                          \
		0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47, 0x8E, 0x79, 0x3D, 0x69, 0xD8,      \
		    0x47, 0x7D, 0xE4                                                               \
	}
/* 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709: Linux root (x86-64), discoverable partitions */
#define I2K_GUID_LINUX_ROOT_X86_64                                                                 \
	{                                                                                          \
		0xE3, 0xBC, 0x68, 0x4F, 0xCD, 0xE8, 0xB1, 0x4D, 0x96, 0xE7, 0xFB, 0xCA, 0xF9,      \
		    0x84, 0xB7, 0x09                                                               \
	}
/* 21686148-6449-6E6F-744E-656564454649: BIOS boot partition (GRUB core.img) */
#define I2K_GUID_BIOS_BOOT                                                                         \
	{                                                                                          \
		0x48, 0x61, 0x68, 0x21, 0x49, 0x64, 0x6F, 0x6E, 0x74, 0x4E, 0x65, 0x65, 0x64,      \
		    0x45, 0x46, 0x49                                                               \
	}

/* GPT attribute bits */
#define I2K_GPT_ATTR_REQUIRED (1ull << 0)
#define I2K_GPT_ATTR_NO_BLOCK_IO (1ull << 1)
#define I2K_GPT_ATTR_LEGACY_BOOT (1ull << 2) /* set by .bootable */

struct i2k_part {
	const char *name; /* GPT name, UTF-8, at most 36 UTF-16 units; NULL = "" (MBR ignores it) */
	uint8_t type_guid[16]; /* GPT type, on-disk byte order (I2K_GUID_*) */
	uint8_t mbr_type; /* MBR type byte: 0xEF ESP, 0x0C FAT32 LBA, 0x83 Linux, 0x00 = empty */
	uint64_t start, size; /* bytes, multiples of I2K_SECTOR (set by i2k_part_layout) */
	bool bootable;	      /* MBR active flag (0x80); GPT: adds I2K_GPT_ATTR_LEGACY_BOOT */
	uint64_t attrs;	      /* further GPT attribute bits */
};

/* Places parts[0..n) one after another, each start aligned to 1 MiB (the
 * first at 1 MiB), each size rounded up to a sector. Room is kept at the
 * end for the GPT backup (33 sectors) when gpt is true.
 *   disk_size == 0: the disk is as small as possible, rounded up to 1 MiB;
 *     every size must be > 0.
 *   disk_size > 0 (a multiple of 512): the disk has that size; a last
 *     partition with size 0 takes the rest (rounded down to 4 KiB); too
 *     small → I2K_ERR_CONFIG "disk size N is too small: the partitions need
 *     M bytes".
 * A size 0 anywhere else → I2K_ERR_INTERNAL "partition I has size 0".
 * *disk_size_out (optional) gets the disk size. */
int i2k_part_layout(struct i2k_part *parts, size_t n, uint64_t disk_size, bool gpt,
		    uint64_t *disk_size_out, struct i2k_error **err);

/* A GUID derived from content: sha256(seed || what || le32(index)) with
 * the RFC 4122 version 4 and variant bits set (byte order as on disk: the
 * version nibble is the high nibble of byte 7). The same inputs always
 * give the same GUID. */
void i2k_guid_derive(const uint8_t seed[32], const char *what, uint32_t index, uint8_t out[16]);

/* "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" ↔ on-disk bytes. parse fails with
 * I2K_ERR_CONFIG "bad GUID: S". out of format must hold 37 bytes. */
int i2k_guid_parse(const char *s, uint8_t out[16], struct i2k_error **err);
void i2k_guid_format(const uint8_t g[16], char out[37]);

#endif
