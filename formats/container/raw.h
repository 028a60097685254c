/* raw.h — the raw container: a byte-for-byte copy of the disk that keeps it
 * sparse.
 *
 * Only the non-zero 64 KiB units of the disk are written, at their offsets
 * and in increasing order (formats/container/scan.h); every run of zeros
 * between them, and up to the disk's end, is passed to i2k_sink_zero, so
 * holes and all-zero blocks of the input stay holes in the output and a
 * streaming sink (an EBS upload) sees the whole disk. Reads the input once;
 * memory: the scanner's 1 MiB. Normally called through i2k_container_write
 * (container.h).
 */
#ifndef I2K_FORMATS_CONTAINER_RAW_H
#define I2K_FORMATS_CONTAINER_RAW_H

#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"

/* Copies bytes [base, base+size) of raw_fd (borrowed) to out (borrowed,
 * empty, at least size bytes). Errors: read errors, the sink's write
 * errors ("no space left on device"), I2K_ERR_INTERRUPTED. */
int i2k_raw_write(int raw_fd, uint64_t base, uint64_t size, struct i2k_sink *out,
		  struct i2k_error **err);

#endif
