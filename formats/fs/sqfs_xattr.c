/* sqfs_xattr.c — squashfs xattr tables (see sqfs_xattr.h). */
#include "formats/fs/sqfs_xattr.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define VALUE_MAX 65536 /* XATTR_SIZE_MAX: what the kernel can return */

struct set {
	uint64_t hash;
	size_t off, len; /* in sets */
	uint32_t idx;
};

struct i2k_sqfs_xattrs {
	struct i2k_sqfs_comp *comp;
	struct i2k_sqfs_meta kv;
	struct i2k_buf ids;  /* 16-byte id table entries */
	struct i2k_buf sets; /* every distinct encoded set, for deduplication */
	struct set *slots;   /* open addressing, nslots a power of two */
	size_t nslots, nsets;
	uint32_t count;
};

static const char *const prefixes[] = {"user.", "trusted.", "security."};

struct i2k_sqfs_xattrs *i2k_sqfs_xattrs_new(struct i2k_sqfs_comp *comp)
{
	struct i2k_sqfs_xattrs *x = i2k_xcalloc(1, sizeof(*x));
	x->comp = comp;
	i2k_sqfs_meta_init(&x->kv, comp, "xattr table", UINT32_MAX);
	x->nslots = 64;
	x->slots = i2k_xcalloc(x->nslots, sizeof(*x->slots));
	return x;
}

void i2k_sqfs_xattrs_free(struct i2k_sqfs_xattrs *x)
{
	if (x == NULL)
		return;
	i2k_sqfs_meta_release(&x->kv);
	i2k_buf_free(&x->ids);
	i2k_buf_free(&x->sets);
	free(x->slots);
	free(x);
}

void i2k_sqfs_xattrs_freep(struct i2k_sqfs_xattrs **x)
{
	i2k_sqfs_xattrs_free(*x);
	*x = NULL;
}

uint32_t i2k_sqfs_xattrs_count(const struct i2k_sqfs_xattrs *x)
{
	return x->count;
}

static uint64_t fnv1a(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h | 1; /* 0 marks an empty slot */
}

static void grow_slots(struct i2k_sqfs_xattrs *x)
{
	size_t n = x->nslots * 2;
	struct set *s = i2k_xcalloc(n, sizeof(*s));
	for (size_t i = 0; i < x->nslots; i++) {
		if (x->slots[i].hash == 0)
			continue;
		size_t j = x->slots[i].hash & (n - 1);
		while (s[j].hash != 0)
			j = (j + 1) & (n - 1);
		s[j] = x->slots[i];
	}
	free(x->slots);
	x->slots = s;
	x->nslots = n;
}

int i2k_sqfs_xattrs_add(struct i2k_sqfs_xattrs *x, const struct i2k_xattr *xs, size_t n,
			const char *path, uint32_t *idx, struct i2k_error **err)
{
	*idx = I2K_SQFS_NO_XATTR;
	struct i2k_buf enc = {0};
	uint32_t pairs = 0;
	int r = -1;
	for (size_t i = 0; i < n; i++) {
		int type = -1;
		size_t plen = 0;
		for (size_t p = 0; p < I2K_ARRAY_SIZE(prefixes); p++) {
			plen = strlen(prefixes[p]);
			if (strncmp(xs[i].name, prefixes[p], plen) == 0) {
				type = (int)p;
				break;
			}
		}
		size_t nl = strlen(xs[i].name);
		if (type < 0 || nl == plen || nl - plen > UINT16_MAX) {
			i2k_warn("squashfs: /%s: extended attribute %s skipped (squashfs stores "
				 "only user., trusted. and security. attributes)",
				 path, xs[i].name);
			continue;
		}
		if (xs[i].len > VALUE_MAX) {
			i2k_warn("squashfs: /%s: extended attribute %s skipped (value of %zu "
				 "bytes, at most %d)",
				 path, xs[i].name, xs[i].len, VALUE_MAX);
			continue;
		}
		uint8_t k[4], v[4];
		i2k_sqfs_put16(k, (uint16_t)type);
		i2k_sqfs_put16(k + 2, (uint16_t)(nl - plen));
		i2k_sqfs_put32(v, (uint32_t)xs[i].len);
		if (i2k_buf_append(&enc, k, 4, err) < 0 ||
		    i2k_buf_append(&enc, xs[i].name + plen, nl - plen, err) < 0 ||
		    i2k_buf_append(&enc, v, 4, err) < 0 ||
		    i2k_buf_append(&enc, xs[i].value, xs[i].len, err) < 0)
			goto out;
		pairs++;
	}
	if (pairs == 0) {
		r = 0;
		goto out;
	}
	uint64_t h = fnv1a(enc.data, enc.len);
	size_t j = h & (x->nslots - 1);
	for (; x->slots[j].hash != 0; j = (j + 1) & (x->nslots - 1)) {
		struct set *s = &x->slots[j];
		if (s->hash == h && s->len == enc.len &&
		    memcmp(x->sets.data + s->off, enc.data, enc.len) == 0) {
			*idx = s->idx;
			r = 0;
			goto out;
		}
	}
	if (x->count == UINT32_MAX - 1) {
		i2k_error_set(err, I2K_ERR_UNSUPPORTED, "too many distinct xattr sets");
		goto out;
	}
	uint8_t e[16] = {0};
	i2k_sqfs_put64(e, i2k_sqfs_meta_ref(&x->kv));
	i2k_sqfs_put32(e + 8, pairs);
	i2k_sqfs_put32(e + 12, (uint32_t)enc.len);
	if (enc.len > UINT32_MAX || i2k_sqfs_meta_add(&x->kv, enc.data, enc.len, err) < 0 ||
	    i2k_buf_append(&x->ids, e, sizeof(e), err) < 0)
		goto out;
	x->slots[j] = (struct set){.hash = h, .off = x->sets.len, .len = enc.len, .idx = x->count};
	if (i2k_buf_append(&x->sets, enc.data, enc.len, err) < 0)
		goto out;
	*idx = x->count++;
	if (++x->nsets * 2 > x->nslots)
		grow_slots(x);
	r = 0;
out:
	i2k_buf_free(&enc);
	return r;
}

int i2k_sqfs_xattrs_write(struct i2k_sqfs_xattrs *x, struct i2k_sink *out, uint64_t *pos,
			  uint64_t *table_start, struct i2k_error **err)
{
	if (i2k_sqfs_meta_flush(&x->kv, err) < 0)
		return -1;
	uint64_t kv_start = *pos;
	if (i2k_sink_write_at(out, *pos, x->kv.out.data, x->kv.out.len, err) < 0)
		return -1;
	*pos += x->kv.out.len;
	_cleanup_free_ uint64_t *locs = NULL;
	size_t n = 0;
	if (i2k_sqfs_meta_write_blocks(out, x->comp, pos, x->ids.data, x->ids.len, &locs, &n, err) <
	    0)
		return -1;
	_cleanup_free_ uint8_t *t = i2k_xcalloc(16 + 8 * n, 1);
	i2k_sqfs_put64(t, kv_start);
	i2k_sqfs_put32(t + 8, x->count);
	for (size_t i = 0; i < n; i++)
		i2k_sqfs_put64(t + 16 + 8 * i, locs[i]);
	*table_start = *pos;
	if (i2k_sink_write_at(out, *pos, t, 16 + 8 * n, err) < 0)
		return -1;
	*pos += 16 + 8 * n;
	return 0;
}
