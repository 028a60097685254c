/* sqfs_meta.h — squashfs metadata streams and lookup tables.
 *
 * Metadata (inodes, directory listings, xattr key/values, lookup tables) is
 * one continuous stream of records cut into 8 KiB blocks; each block is
 * compressed on its own and stored behind a 16-bit header holding its
 * on-disk size, with bit 15 set when it is stored uncompressed. Records may
 * straddle blocks. A record is addressed by a reference
 * (block location relative to the table start) << 16 | offset in the
 * uncompressed block.
 *
 * struct i2k_sqfs_meta builds such a stream in memory (the tables are small
 * next to the data and are written after it, once their positions are
 * known); i2k_sqfs_meta_write_table writes a lookup table (fixed-size
 * entries) straight to a sink as blocks plus its list of block locations.
 * Little-endian encoders for the on-disk structures live here too.
 */
#ifndef I2K_FORMATS_FS_SQFS_META_H
#define I2K_FORMATS_FS_SQFS_META_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/util.h"
#include "formats/fs/sqfs_comp.h"
#include "formats/sink.h"

#define I2K_SQFS_META_SIZE 8192u
#define I2K_SQFS_META_UNCOMPRESSED 0x8000u

static inline void i2k_sqfs_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void i2k_sqfs_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void i2k_sqfs_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

struct i2k_sqfs_meta {
	struct i2k_sqfs_comp *comp; /* borrowed */
	struct i2k_buf out;	    /* finished blocks, headers included */
	uint64_t max;		    /* maximum size of out (0 = none) */
	const char *what;	    /* table name for messages */
	uint8_t cur[I2K_SQFS_META_SIZE];
	size_t cur_len;
	uint64_t ubytes; /* uncompressed bytes added so far */
	uint8_t *tmp;	 /* compression scratch */
};

/* Sets up an empty stream compressing with comp (borrowed, must outlive m).
 * max bounds the finished stream (references hold 32-bit block locations in
 * some places): exceeding it is I2K_ERR_UNSUPPORTED "WHAT larger than N
 * bytes". */
void i2k_sqfs_meta_init(struct i2k_sqfs_meta *m, struct i2k_sqfs_comp *comp, const char *what,
			uint64_t max);
void i2k_sqfs_meta_release(struct i2k_sqfs_meta *m);
int i2k_sqfs_meta_add(struct i2k_sqfs_meta *m, const void *p, size_t len, struct i2k_error **err);
/* Location (relative) of the block the next byte goes to, and its offset. */
static inline uint64_t i2k_sqfs_meta_block(const struct i2k_sqfs_meta *m)
{
	return m->out.len;
}
static inline uint64_t i2k_sqfs_meta_ref(const struct i2k_sqfs_meta *m)
{
	return ((uint64_t)m->out.len << 16) | m->cur_len;
}
/* Ends the stream (writes the last, partial block). */
int i2k_sqfs_meta_flush(struct i2k_sqfs_meta *m, struct i2k_error **err);

/* Compresses one metadata block (len <= 8 KiB) into dst (header included,
 * dst has room for 2 + i2k_sqfs_comp_bound(len)); *out_len = bytes. */
int i2k_sqfs_meta_encode(struct i2k_sqfs_comp *comp, const void *src, size_t len, uint8_t *dst,
			 size_t *out_len, struct i2k_error **err);

/* Writes a lookup table: data (len bytes of fixed-size entries) as metadata
 * blocks at *pos, then the u64 list of their absolute locations. *list_pos
 * gets the position of that list; *pos moves past everything written. */
int i2k_sqfs_meta_write_table(struct i2k_sink *out, struct i2k_sqfs_comp *comp, uint64_t *pos,
			      const void *data, size_t len, uint64_t *list_pos,
			      struct i2k_error **err);
/* Only the blocks: *locs (caller frees) and *nlocs give their locations,
 * for tables whose list carries a header (the xattr id table). */
int i2k_sqfs_meta_write_blocks(struct i2k_sink *out, struct i2k_sqfs_comp *comp, uint64_t *pos,
			       const void *data, size_t len, uint64_t **locs, size_t *nlocs,
			       struct i2k_error **err);

#endif
