/* sqfs_dir.c — squashfs directory listings (see sqfs_dir.h). */
#include "formats/fs/sqfs_dir.h"

#include <inttypes.h>
#include <string.h>

#include "builder/base/cleanup.h"

#define HEADER_SIZE 12u
#define ENTRY_SIZE 8u

/* A run starts at entry `first` (the header's offset in the listing). */
struct split {
	size_t first;
	uint32_t off; /* header offset in the listing */
	bool indexed; /* starts in a new metadata block: gets an index entry */
};

int i2k_sqfs_dir_write(struct i2k_sqfs_meta *dt, const struct i2k_sqfs_dirent *e, size_t n,
		       struct i2k_sqfs_dirinfo *info, struct i2k_error **err)
{
	memset(info, 0, sizeof(*info));
	uint64_t block = i2k_sqfs_meta_block(dt);
	if (block > UINT32_MAX)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "directory table larger than 4 GiB");
	info->block = (uint32_t)block;
	info->offset = (uint16_t)dt->cur_len;
	info->size = 3;
	if (n == 0)
		return 0;

	/* Pass 1: cut into runs, encode the listing in memory. The metadata
	 * block of a listing byte follows from uncompressed positions, as
	 * every block but the last holds exactly 8 KiB. */
	uint64_t u0 = dt->ubytes;
	_cleanup_free_ struct split *runs = NULL;
	size_t nruns = 0, rcap = 0;
	struct i2k_buf list = {0};
	uint32_t hdr_block = 0, hdr_ino = 0, count = 0;
	uint64_t hdr_meta = 0;
	size_t hdr_at = 0; /* listing offset of the open header */
	int r = -1;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(e[i].name);
		if (nl == 0 || nl > I2K_SQFS_NAME_MAX) {
			i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				      "%s: name of %zu bytes (squashfs allows 1..%d)", e[i].name,
				      nl, I2K_SQFS_NAME_MAX);
			goto out;
		}
		uint32_t iblock = (uint32_t)(e[i].inode_ref >> 16);
		int64_t diff = (int64_t)e[i].ino - (int64_t)hdr_ino;
		uint64_t meta = (u0 + list.len) / I2K_SQFS_META_SIZE;
		bool fresh = nruns == 0 || count == I2K_SQFS_DIR_MAX_RUN || iblock != hdr_block ||
			     diff < INT16_MIN || diff > INT16_MAX || meta != hdr_meta;
		if (fresh) {
			if (nruns > 0) {
				uint8_t c[4];
				i2k_sqfs_put32(c, count - 1);
				memcpy(list.data + hdr_at, c, 4);
			}
			i2k_xgrow((void **)&runs, &rcap, nruns + 1, sizeof(*runs));
			runs[nruns] = (struct split){.first = i,
						     .off = (uint32_t)list.len,
						     .indexed = nruns > 0 && meta != hdr_meta};
			nruns++;
			hdr_block = iblock;
			hdr_ino = e[i].ino;
			hdr_meta = meta;
			hdr_at = list.len;
			count = 0;
			diff = 0;
			uint8_t h[HEADER_SIZE];
			i2k_sqfs_put32(h, 0);
			i2k_sqfs_put32(h + 4, iblock);
			i2k_sqfs_put32(h + 8, e[i].ino);
			if (i2k_buf_append(&list, h, sizeof(h), err) < 0)
				goto out;
		}
		uint8_t d[ENTRY_SIZE];
		i2k_sqfs_put16(d, (uint16_t)(e[i].inode_ref & 0xffff));
		i2k_sqfs_put16(d + 2, (uint16_t)(int16_t)diff);
		i2k_sqfs_put16(d + 4, e[i].type);
		i2k_sqfs_put16(d + 6, (uint16_t)(nl - 1));
		if (i2k_buf_append(&list, d, sizeof(d), err) < 0 ||
		    i2k_buf_append(&list, e[i].name, nl, err) < 0)
			goto out;
		count++;
	}
	uint8_t c[4];
	i2k_sqfs_put32(c, count - 1);
	memcpy(list.data + hdr_at, c, 4);
	if (list.len > UINT32_MAX - 3) {
		i2k_error_set(err, I2K_ERR_UNSUPPORTED, "directory listing larger than 4 GiB");
		goto out;
	}
	info->size = (uint32_t)list.len + 3;

	/* Pass 2: stream it into the table; an indexed run's header is the
	 * first byte added after the split, so the current block is its own. */
	size_t done = 0;
	for (size_t k = 0; k < nruns; k++) {
		if (!runs[k].indexed)
			continue;
		if (i2k_sqfs_meta_add(dt, list.data + done, runs[k].off - done, err) < 0)
			goto out;
		done = runs[k].off;
		if (info->index_count == UINT16_MAX)
			continue; /* a partial index is still a valid index */
		const char *name = e[runs[k].first].name;
		size_t nl = strlen(name);
		uint8_t x[12];
		i2k_sqfs_put32(x, runs[k].off);
		i2k_sqfs_put32(x + 4, (uint32_t)i2k_sqfs_meta_block(dt));
		i2k_sqfs_put32(x + 8, (uint32_t)(nl - 1));
		if (i2k_buf_append(&info->index, x, sizeof(x), err) < 0 ||
		    i2k_buf_append(&info->index, name, nl, err) < 0)
			goto out;
		info->index_count++;
	}
	if (i2k_sqfs_meta_add(dt, list.data + done, list.len - done, err) < 0)
		goto out;
	r = 0;
out:
	i2k_buf_free(&list);
	if (r < 0)
		i2k_buf_free(&info->index);
	return r;
}
