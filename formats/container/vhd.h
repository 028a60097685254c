/* vhd.h — VHD (Virtual PC / Hyper-V / Azure) container writers: fixed and
 * dynamic.
 *
 * Disk size. A VHD's size is stated twice: current_size in the footer and a
 * CHS geometry computed from it with the algorithm of the VHD specification
 * (appendix "CHS calculation"), which usually covers a little less than the
 * size. Readers disagree on which one counts (Virtual PC, and QEMU up to
 * at least 7.2 — Debian 12's — for images from creators it does not know,
 * use CHS; Hyper-V, Azure and QEMU since its Dec 2024 change use
 * current_size), and Azure wants sizes that are whole MiB. So
 * disks written here must have a size that satisfies both: a multiple of
 * 1 MiB whose CHS geometry covers it exactly (C*H*S*512 == size), or a size
 * beyond the largest CHS geometry (65535*16*255 sectors, ~127.5 GiB; such
 * disks get that maximum geometry, which every reader takes as "use
 * current_size"). i2k_vhd_round_size() gives the smallest such size >= a
 * request; the disk layout must size the raw disk with it. The overhead is
 * at most 254 MiB of (sparse) virtual size, e.g. 1..17 MiB → 17 MiB,
 * 18..155 MiB → 155 MiB, 1 GiB → 1071 MiB, 10 GiB → 10269 MiB.
 *
 * Footer (512 bytes, big-endian): cookie "conectix", features 2, version
 * 1.0, data offset (~0 fixed, 512 dynamic), timestamp = SOURCE_DATE_EPOCH
 * as seconds since 2000-01-01 (clamped to 0..2^32-1), creator application
 * "i2k " version 1.0, creator host OS "Wi2k" (what QEMU and Windows tools
 * write; the format has no Linux value), original = current size, CHS
 * geometry, disk type 2 (fixed) or 3 (dynamic), checksum (ones' complement
 * of the byte sum), unique id, saved state 0.
 *
 * Unique id: the first 16 bytes of SHA-256 over a tag, uuid_seed (when
 * given, e.g. the root tree's digest), the size and the disk type —
 * or, without a seed, over the size, the type and every non-zero 64 KiB unit
 * of the disk with its offset (content-derived; costs hashing the data);
 * RFC 4122 version-4/variant bits set. Never random.
 *
 * Fixed: the disk bytes (sparse: zero units stay holes) + the footer.
 * Dynamic: footer copy at 0, dynamic disk header ("cxsparse") at 512, the
 * block allocation table at 1536 (big-endian uint32 sector numbers,
 * 0xFFFFFFFF = unallocated, padded with 0xFF to a sector), then, in disk
 * order, for every 2 MiB block holding any non-zero data: a 512-byte sector
 * bitmap (all ones) + the 2 MiB of data (zero units inside stay holes),
 * then the footer. Memory: the BAT (4 bytes per 2 MiB, at most 4 MiB) plus
 * the scanner's 1 MiB. The raw disk is read once.
 */
#ifndef I2K_FORMATS_CONTAINER_VHD_H
#define I2K_FORMATS_CONTAINER_VHD_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"

#define I2K_VHD_MAX_SIZE (2040ull << 30) /* the format's limit (BAT of 32-bit sectors) */
#define I2K_VHD_BLOCK_SIZE (2u << 20)

/* Smallest size >= size (and >= 1 MiB) that a VHD disk can have (see
 * above). Idempotent. */
uint64_t i2k_vhd_round_size(uint64_t size);

/* CHS geometry of a disk of `size` bytes by the VHD specification's
 * algorithm (sectors = size / 512, capped at 65535*16*255). */
void i2k_vhd_geometry(uint64_t size, uint16_t *cylinders, uint8_t *heads,
		      uint8_t *sectors_per_track);

/* Writes bytes [base, base+size) of raw_fd as a fixed (dynamic = false) or
 * dynamic VHD into out (an empty block sink; both borrowed). Fixed: data in
 * increasing order, zero runs through i2k_sink_zero, then the footer;
 * dynamic: blocks in order, then the footer, BAT and headers at the front.
 * uuid_seed: 32 bytes or NULL (see above). Errors: I2K_ERR_USAGE "VHD disk
 * size N is not a valid VHD size (use i2k_vhd_round_size: M)" when
 * size != i2k_vhd_round_size(size); I2K_ERR_UNSUPPORTED "VHD disk size N
 * exceeds the format's limit of 2040 GiB"; read/write errno errors;
 * I2K_ERR_INTERRUPTED. */
int i2k_vhd_write(int raw_fd, uint64_t base, uint64_t size, bool dynamic, const uint8_t *uuid_seed,
		  struct i2k_sink *out, struct i2k_error **err);

#endif
