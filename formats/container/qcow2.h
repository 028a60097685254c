/* qcow2.h — the qcow2 (version 3) container writer.
 *
 * Layout (64 KiB clusters, 16-bit refcounts, no extensions, no backing file,
 * no compression), every cluster used exactly once so all refcounts are 1:
 *
 *   cluster 0            header (104 bytes + the end-of-extensions marker)
 *   1 .. D               the disk's non-zero clusters, in disk order
 *   then                 one L2 table per 512 MiB range that holds data,
 *                        the L1 table, the refcount table, the refcount
 *                        blocks.
 *
 * Zero clusters (holes and all-zero data) are left unallocated. The raw disk
 * is read once, sequentially (formats/container/scan.h); data clusters are
 * appended as they are found and the metadata is derived at the end from a
 * bitmap of the allocated guest clusters, so placing metadata after the data
 * costs no second pass. The header is written last (offset 0).
 *
 * Memory: the bitmap, size / 512 KiB bytes (2 MiB for a 1 TiB disk), plus
 * 64 KiB and the scanner's 1 MiB; disks over I2K_QCOW2_MAX_SIZE are refused.
 * Output is deterministic: same disk content → same bytes.
 */
#ifndef I2K_FORMATS_CONTAINER_QCOW2_H
#define I2K_FORMATS_CONTAINER_QCOW2_H

#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"

#define I2K_QCOW2_CLUSTER_BITS 16
#define I2K_QCOW2_MAX_SIZE (64ull << 40) /* 64 TiB: a 128 MiB bitmap */

/* Writes bytes [base, base+size) of raw_fd as a qcow2 image into out (an
 * empty block sink; both borrowed): data clusters in order, then the
 * tables, the header (at offset 0) last. size must be a non-zero
 * multiple of 512 (I2K_ERR_USAGE "disk size N is not a multiple of 512
 * bytes") and at most I2K_QCOW2_MAX_SIZE (I2K_ERR_UNSUPPORTED "disk size N
 * exceeds the qcow2 writer's limit of 64 TiB"). Other errors: read/write
 * errno errors, I2K_ERR_INTERRUPTED. */
int i2k_qcow2_write(int raw_fd, uint64_t base, uint64_t size, struct i2k_sink *out,
		    struct i2k_error **err);

#endif
