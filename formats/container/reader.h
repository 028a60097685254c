/* reader.h — reads a disk image file through its container, without
 * converting it: raw, qcow2 (v2/v3, no backing file, no encryption, no
 * compressed clusters) and VHD (fixed and dynamic), as i2kit writes them
 * (and as other tools commonly do).
 *
 * The file is untrusted: every header field is bounds-checked against the
 * file size and the format's limits before use (qcow2: cluster_bits 9..21,
 * L1/L2 entries inside the file and cluster-aligned, virtual size ≤ 64 TiB;
 * VHD: cookie and checksum of the footer, "cxsparse" header, BAT inside the
 * file, block size a power of two 512 B..256 MiB, size ≤ 2040 GiB).
 * Violations: I2K_ERR_INTEGRITY "FILE: qcow2: WHAT" etc.; valid but
 * unsupported features: I2K_ERR_UNSUPPORTED.
 *
 * Data extents are what the container says may hold data (raw: SEEK_DATA /
 * SEEK_HOLE; qcow2: allocated clusters; VHD dynamic: allocated blocks, whose
 * sector bitmaps are not consulted — all their sectors are read as data;
 * fixed VHD: holes of the file). Everything outside them reads as zeros.
 * Memory: the qcow2 L1 table or the VHD BAT plus one cached L2 table.
 */
#ifndef I2K_FORMATS_CONTAINER_READER_H
#define I2K_FORMATS_CONTAINER_READER_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

enum i2k_disk_format {
	I2K_DISK_RAW,
	I2K_DISK_QCOW2,
	I2K_DISK_VHD_FIXED,
	I2K_DISK_VHD_DYNAMIC,
};
const char *i2k_disk_format_name(enum i2k_disk_format f); /* "raw", "qcow2", "vhd", "dynamic-vhd" */

struct i2k_disk_reader;

/* Opens path and detects its format (qcow2 by magic, VHD by a valid
 * footer, else raw). *out is the caller's (i2k_disk_reader_free). */
int i2k_disk_reader_open(const char *path, struct i2k_disk_reader **out, struct i2k_error **err);
void i2k_disk_reader_free(struct i2k_disk_reader *r);
void i2k_disk_reader_freep(struct i2k_disk_reader **r);

enum i2k_disk_format i2k_disk_reader_format(const struct i2k_disk_reader *r);
uint64_t i2k_disk_reader_size(const struct i2k_disk_reader *r); /* virtual disk size */

/* The first data extent that ends after pos: returns 1 with [*off, *off +
 * *len) (clipped to start at pos or later), 0 when there is none. */
int i2k_disk_reader_next_extent(struct i2k_disk_reader *r, uint64_t pos, uint64_t *off,
				uint64_t *len, struct i2k_error **err);
/* Reads virtual bytes [off, off+len) (must be inside the disk); holes and
 * unallocated regions read as zeros. */
int i2k_disk_reader_read(struct i2k_disk_reader *r, uint64_t off, void *buf, size_t len,
			 struct i2k_error **err);

#endif
