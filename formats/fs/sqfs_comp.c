/* sqfs_comp.c — squashfs block compression (see sqfs_comp.h). */
#include "formats/fs/sqfs_comp.h"

#include <libdeflate.h>
#include <zstd.h>

#include "builder/base/util.h"

int i2k_sqfs_comp_check(enum i2k_compression kind, int level, int *level_out,
			struct i2k_error **err)
{
	switch (kind) {
	case I2K_COMPRESS_GZIP:
		if (level == 0)
			level = I2K_SQFS_GZIP_DEFAULT_LEVEL;
		if (level < 1 || level > 9)
			return i2k_error_set(err, I2K_ERR_USAGE, "gzip level %d out of range 1..9",
					     level);
		break;
	case I2K_COMPRESS_ZSTD:
		if (level == 0)
			level = I2K_SQFS_ZSTD_DEFAULT_LEVEL;
		if (level < 1 || level > ZSTD_maxCLevel())
			return i2k_error_set(err, I2K_ERR_USAGE, "zstd level %d out of range 1..%d",
					     level, ZSTD_maxCLevel());
		break;
	case I2K_COMPRESS_NONE:
		level = 0;
		break;
	default:
		return i2k_error_set(err, I2K_ERR_USAGE, "unknown compression %d", (int)kind);
	}
	if (level_out)
		*level_out = level;
	return 0;
}

int i2k_sqfs_comp_init(struct i2k_sqfs_comp *c, enum i2k_compression kind, int level,
		       struct i2k_error **err)
{
	*c = (struct i2k_sqfs_comp){.kind = kind, .level = level};
	if (kind == I2K_COMPRESS_GZIP) {
		c->zs = libdeflate_alloc_compressor(level);
		if (c->zs == NULL)
			return i2k_error_set(err, I2K_ERR_INTERNAL, "gzip: out of memory");
	} else if (kind == I2K_COMPRESS_ZSTD) {
		c->zc = ZSTD_createCCtx();
		if (c->zc == NULL)
			return i2k_error_set(err, I2K_ERR_INTERNAL, "ZSTD_createCCtx failed");
	}
	return 0;
}

void i2k_sqfs_comp_release(struct i2k_sqfs_comp *c)
{
	if (c->zs) {
		libdeflate_free_compressor(c->zs);
		c->zs = NULL;
	}
	if (c->zc) {
		ZSTD_freeCCtx(c->zc);
		c->zc = NULL;
	}
}

size_t i2k_sqfs_comp_bound(size_t len)
{
	size_t a = libdeflate_zlib_compress_bound(NULL, len), b = ZSTD_compressBound(len);
	return (a > b ? a : b) + 64;
}

int i2k_sqfs_comp_block(struct i2k_sqfs_comp *c, const void *src, size_t len, void *dst,
			size_t dst_cap, size_t *out_len, struct i2k_error **err)
{
	size_t n = 0;
	*out_len = 0;
	if (c->kind == I2K_COMPRESS_GZIP) {
		/* one complete zlib stream per block, as squashfs's gzip
		 * compressor stores them (libdeflate: a whole buffer at once) */
		n = libdeflate_zlib_compress(c->zs, src, len, dst, dst_cap);
		if (n == 0)
			return i2k_error_set(err, I2K_ERR_INTERNAL,
					     "gzip: a block does not fit in %zu bytes", dst_cap);
	} else if (c->kind == I2K_COMPRESS_ZSTD) {
		n = ZSTD_compressCCtx(c->zc, dst, dst_cap, src, len, c->level);
		if (ZSTD_isError(n))
			return i2k_error_set(err, I2K_ERR_INTERNAL, "zstd: %s",
					     ZSTD_getErrorName(n));
	} else {
		return 0;
	}
	if (n < len)
		*out_len = n;
	return 0;
}
