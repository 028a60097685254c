/* mbr.h — the classic MBR partition table (sector 0 of a disk).
 *
 * Layout written: bytes 0..439 boot code (caller's, else zero), 440..443 the
 * disk signature (little-endian), 444..445 zero, four 16-byte entries at
 * 446, 0x55 0xAA at 510. Each entry: status (0x80 bootable / 0x00), CHS of
 * the first sector, type, CHS of the last sector, LBA start (32-bit), sector
 * count (32-bit). CHS uses the 255-head, 63-sector geometry; sectors past
 * cylinder 1023 are written as FE FF FF, as fdisk does.
 */
#ifndef I2K_FORMATS_DISK_MBR_H
#define I2K_FORMATS_DISK_MBR_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "formats/disk/part.h"
#include "formats/sink.h"

#define I2K_MBR_BOOTCODE_MAX 440

/* Builds the 512-byte MBR sector in out (no I/O). parts[i] with mbr_type
 * 0 are left out; at most 4 remain (else I2K_ERR_CONFIG "MBR holds at most
 * 4 partitions"); each must start and end within 2^32 sectors (else
 * I2K_ERR_CONFIG "partition I does not fit an MBR (2 TiB limit)") and be
 * sector-aligned (I2K_ERR_INTERNAL). bootcode (bootcode_len <= 440, else
 * I2K_ERR_INTERNAL) is copied to the start of the sector — e.g. isolinux's
 * isohdpfx.bin (432 bytes) or GRUB's boot.img (first 440 bytes). */
int i2k_mbr_build(uint8_t out[512], const struct i2k_part *parts, size_t n, const uint8_t *bootcode,
		  size_t bootcode_len, uint32_t disk_sig, struct i2k_error **err);

/* i2k_mbr_build + write at offset 0 of disk. Partitions must lie inside the
 * disk (I2K_ERR_INTERNAL "partition I ends past the end of the disk"). */
int i2k_mbr_write(struct i2k_sink *disk, const struct i2k_part *parts, size_t n,
		  const uint8_t *bootcode, size_t bootcode_len, uint32_t disk_sig,
		  struct i2k_error **err);

/* One 16-byte entry (status, CHS, type, LBA) — also used for GPT's
 * protective MBR. lba and count are clamped to 32 bits by the caller. */
void i2k_mbr_entry(uint8_t e[16], bool bootable, uint8_t type, uint32_t lba, uint32_t count);

#endif
