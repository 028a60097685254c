/* scan.h — reads a raw disk image sequentially and yields only its non-zero
 * 64 KiB units: the shared front end of the container writers (raw, qcow2,
 * VHD).
 *
 * Holes are found with SEEK_DATA/SEEK_HOLE and never read; data regions are
 * read in chunks of at most I2K_SCAN_CHUNK bytes and every unit in them that
 * is all zeros is skipped too. On file systems without SEEK_DATA the whole
 * range is read. Memory: one chunk buffer, whatever the disk size.
 * i2k_check_interrupt() is called before every chunk read.
 */
#ifndef I2K_FORMATS_CONTAINER_SCAN_H
#define I2K_FORMATS_CONTAINER_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/bytes.h"
#include "builder/base/error.h"

#define I2K_SCAN_UNIT (64u * 1024u)
#define I2K_SCAN_CHUNK (1u << 20)

struct i2k_scan {
	int fd;		     /* borrowed */
	uint64_t base, size; /* the disk is bytes [base, base+size) of fd */
	uint64_t pos;	     /* next unit to look at (relative, multiple of UNIT) */
	uint64_t data_end;   /* end of the data extent pos lies in */
	bool no_seek;	     /* SEEK_DATA unsupported: all of it is data */
	uint8_t *buf;	     /* I2K_SCAN_CHUNK bytes */
	uint64_t buf_off;    /* relative offset of buf[0] */
	uint64_t buf_len;    /* valid bytes in buf, a multiple of UNIT */
	uint64_t bytes_read; /* statistics */
	uint64_t units;	     /* non-zero units returned */
};

/* Prepares a scan of bytes [base, base+size) of fd. Fails with
 * I2K_ERR_INTERNAL "raw disk is shorter than its size (N < M bytes)" when
 * the file does not reach base+size. Release with i2k_scan_release. */
int i2k_scan_init(struct i2k_scan *s, int fd, uint64_t base, uint64_t size, struct i2k_error **err);
/* The next non-zero unit, in increasing offset order: returns 1 and sets
 * *off (relative, a multiple of I2K_SCAN_UNIT) and *data (I2K_SCAN_UNIT
 * bytes, valid until the next call; bytes past the disk's end read as zero);
 * returns 0 at the end, < 0 on error (read errors, interruption). */
int i2k_scan_next(struct i2k_scan *s, uint64_t *off, const uint8_t **data, struct i2k_error **err);
void i2k_scan_release(struct i2k_scan *s);

/* True when all len bytes of p are zero. */
bool i2k_scan_is_zero(const uint8_t *p, size_t len);

/* Big-endian stores shared by the qcow2 and VHD writers. */

#endif
