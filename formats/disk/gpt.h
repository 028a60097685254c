/* gpt.h — GUID partition table (UEFI spec, chapter 5) with protective MBR.
 *
 * Written on a disk of N sectors (512 bytes each):
 *   LBA 0        protective MBR: one entry, type 0xEE, LBA 1, min(N-1, 2^32-1) sectors
 *   LBA 1        primary header ("EFI PART", revision 1.0, 92 bytes, CRC32s)
 *   LBA 2..33    128 entries of 128 bytes (type GUID, unique GUID, first and
 *                last LBA, attributes, name in UTF-16LE)
 *   LBA N-33..N-2  backup entries;  LBA N-1  backup header
 * First usable LBA 34, last usable N-34. The disk GUID and each partition's
 * unique GUID come from i2k_guid_derive(seed, "disk", 0) and
 * i2k_guid_derive(seed, "partition", i) — the same seed gives the same disk.
 */
#ifndef I2K_FORMATS_DISK_GPT_H
#define I2K_FORMATS_DISK_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "formats/disk/part.h"
#include "formats/sink.h"

#define I2K_GPT_ENTRIES 128
#define I2K_GPT_NAME_MAX 36 /* UTF-16 code units */

/* Writes protective MBR, both headers and both entry arrays to disk (whose
 * size must be a multiple of 512 and at least 68 sectors + 1). Entries are
 * in parts order. Errors (I2K_ERR_CONFIG unless noted):
 *   "GPT holds at most 128 partitions"
 *   "disk of N bytes is too small for a GPT" / "... not a multiple of 512"
 *   "partition I is not sector-aligned or empty" (I2K_ERR_INTERNAL)
 *   "partition I lies outside the usable area (LBA 34..L)"
 *   "partitions I and J overlap"
 *   "partition I: name is longer than 36 UTF-16 units" / "...: name is not valid UTF-8" */
int i2k_gpt_write(struct i2k_sink *disk, const struct i2k_part *parts, size_t n,
		  const uint8_t seed[32], struct i2k_error **err);

#endif
