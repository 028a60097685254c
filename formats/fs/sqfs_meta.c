/* sqfs_meta.c — squashfs metadata streams and lookup tables (see sqfs_meta.h). */
#include "formats/fs/sqfs_meta.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"

void i2k_sqfs_meta_init(struct i2k_sqfs_meta *m, struct i2k_sqfs_comp *comp, const char *what,
			uint64_t max)
{
	memset(m, 0, offsetof(struct i2k_sqfs_meta, cur));
	m->comp = comp;
	m->what = what;
	m->max = max;
	m->cur_len = 0;
	m->ubytes = 0;
	m->tmp = i2k_xmalloc(2 + i2k_sqfs_comp_bound(I2K_SQFS_META_SIZE));
}

void i2k_sqfs_meta_release(struct i2k_sqfs_meta *m)
{
	i2k_buf_free(&m->out);
	free(m->tmp);
	m->tmp = NULL;
}

int i2k_sqfs_meta_encode(struct i2k_sqfs_comp *comp, const void *src, size_t len, uint8_t *dst,
			 size_t *out_len, struct i2k_error **err)
{
	size_t n = 0;
	if (i2k_sqfs_comp_block(comp, src, len, dst + 2, i2k_sqfs_comp_bound(len), &n, err) < 0)
		return -1;
	if (n == 0) {
		memcpy(dst + 2, src, len);
		i2k_sqfs_put16(dst, (uint16_t)(len | I2K_SQFS_META_UNCOMPRESSED));
		n = len;
	} else {
		i2k_sqfs_put16(dst, (uint16_t)n);
	}
	*out_len = n + 2;
	return 0;
}

static int flush_block(struct i2k_sqfs_meta *m, struct i2k_error **err)
{
	size_t n = 0;
	if (i2k_sqfs_meta_encode(m->comp, m->cur, m->cur_len, m->tmp, &n, err) < 0)
		return -1;
	if (m->max && m->out.len + n > m->max)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s larger than %" PRIu64 " bytes",
				     m->what, m->max);
	if (i2k_buf_append(&m->out, m->tmp, n, err) < 0)
		return -1;
	m->cur_len = 0;
	return 0;
}

int i2k_sqfs_meta_add(struct i2k_sqfs_meta *m, const void *p, size_t len, struct i2k_error **err)
{
	const uint8_t *s = p;
	m->ubytes += len;
	while (len > 0) {
		size_t n = I2K_SQFS_META_SIZE - m->cur_len;
		if (n > len)
			n = len;
		memcpy(m->cur + m->cur_len, s, n);
		m->cur_len += n;
		s += n;
		len -= n;
		if (m->cur_len == I2K_SQFS_META_SIZE && flush_block(m, err) < 0)
			return -1;
	}
	return 0;
}

int i2k_sqfs_meta_flush(struct i2k_sqfs_meta *m, struct i2k_error **err)
{
	return m->cur_len > 0 ? flush_block(m, err) : 0;
}

int i2k_sqfs_meta_write_blocks(struct i2k_sink *out, struct i2k_sqfs_comp *comp, uint64_t *pos,
			       const void *data, size_t len, uint64_t **locs, size_t *nlocs,
			       struct i2k_error **err)
{
	size_t nb = (len + I2K_SQFS_META_SIZE - 1) / I2K_SQFS_META_SIZE;
	_cleanup_free_ uint64_t *l = i2k_xcalloc(nb ? nb : 1, sizeof(*l));
	_cleanup_free_ uint8_t *tmp = i2k_xmalloc(2 + i2k_sqfs_comp_bound(I2K_SQFS_META_SIZE));
	const uint8_t *s = data;
	for (size_t i = 0; i < nb; i++) {
		size_t chunk = len - i * I2K_SQFS_META_SIZE;
		if (chunk > I2K_SQFS_META_SIZE)
			chunk = I2K_SQFS_META_SIZE;
		size_t n = 0;
		if (i2k_sqfs_meta_encode(comp, s + i * I2K_SQFS_META_SIZE, chunk, tmp, &n, err) < 0)
			return -1;
		if (i2k_sink_write_at(out, *pos, tmp, n, err) < 0)
			return -1;
		l[i] = *pos;
		*pos += n;
	}
	*locs = I2K_STEAL(l);
	*nlocs = nb;
	return 0;
}

int i2k_sqfs_meta_write_table(struct i2k_sink *out, struct i2k_sqfs_comp *comp, uint64_t *pos,
			      const void *data, size_t len, uint64_t *list_pos,
			      struct i2k_error **err)
{
	_cleanup_free_ uint64_t *locs = NULL;
	size_t n = 0;
	if (i2k_sqfs_meta_write_blocks(out, comp, pos, data, len, &locs, &n, err) < 0)
		return -1;
	_cleanup_free_ uint8_t *list = i2k_xmalloc(n * 8 + 1);
	for (size_t i = 0; i < n; i++)
		i2k_sqfs_put64(list + 8 * i, locs[i]);
	*list_pos = *pos;
	if (n > 0 && i2k_sink_write_at(out, *pos, list, n * 8, err) < 0)
		return -1;
	*pos += n * 8;
	return 0;
}
