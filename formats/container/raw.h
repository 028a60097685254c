/* raw.h — the raw container: a byte-for-byte copy of the disk that keeps it
 * sparse.
 *
 * The output is first extended to the disk size with ftruncate (a hole), then
 * only the non-zero 64 KiB units of the disk are written at their offsets
 * (formats/container/scan.h), so holes and all-zero blocks of the input stay
 * holes in the output. Reads the input once; memory: the scanner's 1 MiB.
 * Normally called through i2k_container_write (container.h), which owns the
 * atomic output file.
 */
#ifndef I2K_FORMATS_CONTAINER_RAW_H
#define I2K_FORMATS_CONTAINER_RAW_H

#include <stdint.h>

#include "builder/base/error.h"

/* Copies bytes [base, base+size) of raw_fd to out_fd (an empty, writable,
 * seekable file; both borrowed). Errors: read/write errno errors
 * ("write: no space left on device"), I2K_ERR_INTERRUPTED. */
int i2k_raw_write(int raw_fd, uint64_t base, uint64_t size, int out_fd, struct i2k_error **err);

#endif
