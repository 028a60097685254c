/* sqfs_data.h — squashfs file data: data blocks and fragment blocks.
 *
 * Regular files are added in walk order; each is cut into block_size
 * blocks, compressed separately and stored back to back from the file's
 * blocks_start. A block that does not shrink is stored raw (size | 1 << 24
 * in the inode's block list); an all-zero block is stored as nothing (size
 * 0: the kernel reads it as a hole). The tail (size % block_size, or the
 * whole of a file smaller than a block) goes into the current fragment
 * block unless fragments are off: fragment blocks pack tails of several
 * files, are compressed like data blocks when full, and are described by the
 * fragment table (16-byte entries {start, size | 1 << 24 if raw, 0}).
 *
 * Compression runs on `threads` threads in batches: blocks are queued in
 * order, a batch is compressed in parallel, then written in queue order, so
 * the output is the same for any thread count.
 */
#ifndef I2K_FORMATS_FS_SQFS_DATA_H
#define I2K_FORMATS_FS_SQFS_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "formats/sink.h"
#include "initrd/compress.h"

#define I2K_SQFS_BLOCK_RAW (1u << 24)
#define I2K_SQFS_NO_FRAGMENT 0xffffffffu

struct i2k_sqfs_data_opts {
	enum i2k_compression kind;
	int level;	     /* effective level (checked by i2k_sqfs_comp_check) */
	uint32_t block_size; /* power of two, 4 KiB .. 1 MiB */
	bool no_fragments;
	int threads; /* >= 1 */
};

/* Where a file's data ended up. */
struct i2k_sqfs_file {
	uint64_t start; /* blocks_start (0 when the file has no blocks) */
	uint64_t size;
	uint64_t sparse;   /* bytes in all-zero blocks (not stored) */
	uint32_t frag_idx; /* I2K_SQFS_NO_FRAGMENT or fragment table index */
	uint32_t frag_off; /* offset of the tail in the fragment block */
	uint32_t nblocks;
	uint32_t *blocks; /* on-disk sizes (owned by the data writer) */
};

struct i2k_sqfs_data;

/* Data goes to out from offset start on. out is borrowed and must outlive
 * the writer. Caller owns *d (i2k_sqfs_data_free). */
int i2k_sqfs_data_new(const struct i2k_sqfs_data_opts *o, struct i2k_sink *out, uint64_t start,
		      struct i2k_sqfs_data **d, struct i2k_error **err);
/* Queues a regular file's data (read from the tree's spool). *id names the
 * file for i2k_sqfs_data_file (valid after finish). */
int i2k_sqfs_data_add(struct i2k_sqfs_data *d, struct i2k_fstree *t, const struct i2k_inode *ino,
		      uint32_t *id, struct i2k_error **err);
/* Writes everything still queued, including the last fragment block;
 * *end = first byte after the data area. */
int i2k_sqfs_data_finish(struct i2k_sqfs_data *d, uint64_t *end, struct i2k_error **err);
const struct i2k_sqfs_file *i2k_sqfs_data_file(const struct i2k_sqfs_data *d, uint32_t id);
/* The fragment table's entries (count * 16 bytes, borrowed) after finish. */
const uint8_t *i2k_sqfs_data_fragments(const struct i2k_sqfs_data *d, uint32_t *count);
void i2k_sqfs_data_free(struct i2k_sqfs_data *d);
void i2k_sqfs_data_freep(struct i2k_sqfs_data **d);

#endif
