/* sqfs_comp.h — one squashfs block compressor (zlib or zstd), used for data,
 * fragment and metadata blocks alike.
 *
 * squashfs compresses every block on its own: "gzip" (compressor id 1) is a
 * zlib stream (RFC 1950: header, deflate, adler32; made by libdeflate, about
 * twice as fast as zlib at the same level), "zstd" (id 6) one zstd
 * frame with its content size. A block whose compressed form would not be
 * smaller than its input is stored as is: i2k_sqfs_comp_block then reports
 * *out_len = 0 and the caller sets the format's "uncompressed" bit. Kind
 * I2K_COMPRESS_NONE always reports 0 (everything stored uncompressed).
 *
 * A context is not thread-safe: the data writer keeps one per worker.
 * Output depends only on (kind, level, input), never on the context's
 * history, so parallel compression is deterministic.
 */
#ifndef I2K_FORMATS_FS_SQFS_COMP_H
#define I2K_FORMATS_FS_SQFS_COMP_H

#include <stddef.h>

#include "builder/base/error.h"
#include "initrd/compress.h"

#define I2K_SQFS_GZIP_DEFAULT_LEVEL 9 /* what a missing options block means */
#define I2K_SQFS_ZSTD_DEFAULT_LEVEL 15

struct i2k_sqfs_comp {
	enum i2k_compression kind;
	int level;
	void *zs; /* struct libdeflate_compressor (gzip) */
	void *zc; /* ZSTD_CCtx (zstd) */
};

/* Validates kind and level (0 = default above); gzip 1..9, zstd
 * 1..ZSTD_maxCLevel(). Errors: I2K_ERR_USAGE "unknown compression N",
 * "gzip level N out of range 1..9", "zstd level N out of range 1..M".
 * *level_out gets the effective level. */
int i2k_sqfs_comp_check(enum i2k_compression kind, int level, int *level_out,
			struct i2k_error **err);
/* Sets up c for (kind, level) (already checked). Release with
 * i2k_sqfs_comp_release (also after a failed init). */
int i2k_sqfs_comp_init(struct i2k_sqfs_comp *c, enum i2k_compression kind, int level,
		       struct i2k_error **err);
void i2k_sqfs_comp_release(struct i2k_sqfs_comp *c);
/* Size a destination buffer must have for an input of len bytes. */
size_t i2k_sqfs_comp_bound(size_t len);
/* Compresses len (> 0) bytes of src into dst (dst_cap >= bound(len)).
 * *out_len: the compressed size when it is < len, else 0 (store src). */
int i2k_sqfs_comp_block(struct i2k_sqfs_comp *c, const void *src, size_t len, void *dst,
			size_t dst_cap, size_t *out_len, struct i2k_error **err);

#endif
