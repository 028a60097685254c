/* vmdk.h — the VMDK container, streamOptimized (what VMware, vSphere's OVA
 * import and `qemu-img convert -O vmdk -o subformat=streamOptimized` use):
 * one file written strictly front to back, so it can be streamed.
 *
 * Layout (little-endian, 512-byte sectors):
 *   sector 0       SparseExtentHeader: "KDMV", version 3, flags valid-newline
 *                  | compressed grains | markers, capacity (sectors), grain
 *                  128 sectors (64 KiB), descriptor at sector 1, 512 GTEs
 *                  per grain table, gdOffset = GD_AT_END (the footer has the
 *                  real one), overHead 128, compression 1 (deflate)
 *   sector 1..     the text descriptor (createType "streamOptimized", one
 *                  SPARSE extent, geometry heads 16 / sectors 63, CID from
 *                  the content seed or the data), zero-padded to sector 128
 *   then           for each non-zero 64 KiB grain, in order: a grain marker
 *                  (lba u64, size u32) + its zlib-compressed bytes, padded to
 *                  a sector; after the last grain of each 32 MiB span that
 *                  has any, a grain-table marker (type 1) + the table (512
 *                  entries: the sector of each grain's marker, 0 = zero)
 *   end            grain-directory marker (type 2) + the directory (one u32
 *                  per table: its sector, 0 = no grains in that span), footer
 *                  marker (type 3) + the header again with the real gdOffset,
 *                  end-of-stream marker (type 0).
 * All-zero grains are never stored (they read as zeros). Deterministic:
 * the same disk (and seed) gives the same bytes. Memory: one grain table.
 */
#ifndef I2K_FORMATS_CONTAINER_VMDK_H
#define I2K_FORMATS_CONTAINER_VMDK_H

#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"

#define I2K_VMDK_MAX_SIZE (2ull << 40) /* 2 TiB: 32-bit grain directory sectors suffice */

/* Writes bytes [base, base+size) of raw_fd (size a multiple of 512) as a
 * streamOptimized VMDK into out, strictly in increasing offsets. seed: 32
 * bytes for the descriptor's CID, or NULL (then derived from the data).
 * Errors: I2K_ERR_USAGE for a size that is 0 or not a multiple of 512,
 * I2K_ERR_UNSUPPORTED over I2K_VMDK_MAX_SIZE, read/sink errors,
 * I2K_ERR_INTERRUPTED. */
int i2k_vmdk_write(int raw_fd, uint64_t base, uint64_t size, const uint8_t *seed,
		   struct i2k_sink *out, struct i2k_error **err);

#endif
