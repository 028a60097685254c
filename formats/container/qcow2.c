/* qcow2.c — qcow2 v3 writer: data first, metadata derived from a bitmap at
 * the end (see qcow2.h). */
#include "formats/container/qcow2.h"

#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/container/scan.h"

#define CLUSTER (1ull << I2K_QCOW2_CLUSTER_BITS)
#define L2_ENTRIES (CLUSTER / 8)  /* 8192: one L2 table maps 512 MiB */
#define RB_ENTRIES (CLUSTER / 2)  /* 32768 16-bit refcounts per block */
#define OFLAG_COPIED (1ull << 63) /* refcount is exactly one */
#define HEADER_LEN 104

_Static_assert(I2K_SCAN_UNIT == CLUSTER, "the scanner's unit is one cluster");

static uint64_t div_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

static bool bit_get(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

/* True if any bit in [from, to) is set. */
static bool bits_any(const uint64_t *bm, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to;) {
		if (i % 64 == 0 && i + 64 <= to) {
			if (bm[i / 64])
				return true;
			i += 64;
			continue;
		}
		if (bit_get(bm, i))
			return true;
		i++;
	}
	return false;
}

struct layout {
	uint64_t clusters; /* guest clusters */
	uint64_t data;	   /* allocated data clusters (host clusters 1..data) */
	uint64_t l1_size;  /* L1 entries */
	uint64_t l2_count; /* L2 tables (L1 entries that point somewhere) */
	uint64_t l2_start, l1_start, rt_start, rb_start; /* host cluster indexes */
	uint64_t rt_clusters, rb_count;
	uint64_t total; /* host clusters in the file */
};

static void plan(struct layout *l, const uint64_t *bm)
{
	l->l1_size = div_up(l->clusters, L2_ENTRIES);
	l->l2_count = 0;
	for (uint64_t i = 0; i < l->l1_size; i++) {
		uint64_t to = (i + 1) * L2_ENTRIES;
		if (bits_any(bm, i * L2_ENTRIES, to < l->clusters ? to : l->clusters))
			l->l2_count++;
	}
	uint64_t l1_clusters = div_up(l->l1_size * 8, CLUSTER);
	l->l2_start = 1 + l->data;
	l->l1_start = l->l2_start + l->l2_count;
	l->rt_start = l->l1_start + l1_clusters;
	/* The refcount structures count themselves: grow until stable. */
	l->rb_count = 1;
	l->rt_clusters = 1;
	for (;;) {
		uint64_t total = l->rt_start + l->rt_clusters + l->rb_count;
		uint64_t rb = div_up(total, RB_ENTRIES);
		uint64_t rt = div_up(rb * 8, CLUSTER);
		if (rb == l->rb_count && rt == l->rt_clusters) {
			l->total = total;
			break;
		}
		l->rb_count = rb > l->rb_count ? rb : l->rb_count;
		l->rt_clusters = rt > l->rt_clusters ? rt : l->rt_clusters;
	}
	l->rb_start = l->rt_start + l->rt_clusters;
}

static int put_cluster(struct i2k_sink *out, const uint8_t *buf, uint64_t index,
		       struct i2k_error **err)
{
	return i2k_sink_write_at(out, index * CLUSTER, buf, CLUSTER, err);
}

static int write_l2_tables(struct i2k_sink *fd, const struct layout *l, const uint64_t *bm,
			   uint8_t *buf, struct i2k_error **err)
{
	uint64_t rank = 0, table = 0;
	for (uint64_t i = 0; i < l->l1_size; i++) {
		uint64_t from = i * L2_ENTRIES, to = from + L2_ENTRIES;
		if (to > l->clusters)
			to = l->clusters;
		if (!bits_any(bm, from, to))
			continue;
		memset(buf, 0, CLUSTER);
		for (uint64_t g = from; g < to; g++) {
			if (!bit_get(bm, g))
				continue;
			uint64_t host = (1 + rank++) * CLUSTER;
			i2k_put_be64(buf + (g - from) * 8, host | OFLAG_COPIED);
		}
		if (put_cluster(fd, buf, l->l2_start + table++, err) < 0)
			return -1;
		if (i2k_check_interrupt(err) < 0)
			return -1;
	}
	return 0;
}

static int write_l1_table(struct i2k_sink *fd, const struct layout *l, const uint64_t *bm,
			  uint8_t *buf, struct i2k_error **err)
{
	uint64_t table = 0, n = div_up(l->l1_size * 8, CLUSTER);
	for (uint64_t c = 0; c < n; c++) {
		memset(buf, 0, CLUSTER);
		for (uint64_t e = 0; e < L2_ENTRIES; e++) {
			uint64_t i = c * L2_ENTRIES + e;
			if (i >= l->l1_size)
				break;
			uint64_t from = i * L2_ENTRIES, to = from + L2_ENTRIES;
			if (!bits_any(bm, from, to < l->clusters ? to : l->clusters))
				continue;
			uint64_t off = (l->l2_start + table++) * CLUSTER;
			i2k_put_be64(buf + e * 8, off | OFLAG_COPIED);
		}
		if (put_cluster(fd, buf, l->l1_start + c, err) < 0)
			return -1;
	}
	return 0;
}

static int write_refcounts(struct i2k_sink *fd, const struct layout *l, uint8_t *buf,
			   struct i2k_error **err)
{
	for (uint64_t c = 0; c < l->rt_clusters; c++) {
		memset(buf, 0, CLUSTER);
		for (uint64_t e = 0; e < CLUSTER / 8; e++) {
			uint64_t j = c * (CLUSTER / 8) + e;
			if (j >= l->rb_count)
				break;
			i2k_put_be64(buf + e * 8, (l->rb_start + j) * CLUSTER);
		}
		if (put_cluster(fd, buf, l->rt_start + c, err) < 0)
			return -1;
	}
	for (uint64_t j = 0; j < l->rb_count; j++) {
		memset(buf, 0, CLUSTER);
		for (uint64_t e = 0; e < RB_ENTRIES; e++) {
			if (j * RB_ENTRIES + e >= l->total)
				break;
			i2k_put_be16(buf + e * 2, 1);
		}
		if (put_cluster(fd, buf, l->rb_start + j, err) < 0)
			return -1;
	}
	return 0;
}

static int write_header(struct i2k_sink *fd, uint64_t size, const struct layout *l,
			struct i2k_error **err)
{
	uint8_t h[HEADER_LEN + 8] = {0}; /* + end-of-extensions marker (type 0, length 0) */
	memcpy(h, "QFI\xfb", 4);
	i2k_put_be32(h + 4, 3);			      /* version */
	i2k_put_be32(h + 20, I2K_QCOW2_CLUSTER_BITS); /* no backing file: 8..19 stay 0 */
	i2k_put_be64(h + 24, size);
	i2k_put_be32(h + 32, 0); /* no encryption */
	i2k_put_be32(h + 36, (uint32_t)l->l1_size);
	i2k_put_be64(h + 40, l->l1_start * CLUSTER);
	i2k_put_be64(h + 48, l->rt_start * CLUSTER);
	i2k_put_be32(h + 56, (uint32_t)l->rt_clusters);
	/* 60..71: no snapshots; 72..95: no feature bits */
	i2k_put_be32(h + 96, 4); /* refcount_order: 16-bit refcounts */
	i2k_put_be32(h + 100, HEADER_LEN);
	return i2k_sink_write_at(fd, 0, h, sizeof(h), err);
}

int i2k_qcow2_write(int raw_fd, uint64_t base, uint64_t size, struct i2k_sink *out_fd,
		    struct i2k_error **err)
{
	if (size == 0 || size % 512)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "disk size %llu is not a multiple of 512 bytes",
				     (unsigned long long)size);
	if (size > I2K_QCOW2_MAX_SIZE)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "disk size %llu exceeds the qcow2 writer's limit of 64 TiB",
				     (unsigned long long)size);
	struct layout l = {.clusters = div_up(size, CLUSTER)};
	_cleanup_free_ uint64_t *bm = i2k_xcalloc(div_up(l.clusters, 64), sizeof(uint64_t));
	struct i2k_scan s;
	if (i2k_scan_init(&s, raw_fd, base, size, err) < 0)
		return -1;
	int r;
	uint64_t off;
	const uint8_t *data;
	while ((r = i2k_scan_next(&s, &off, &data, err)) > 0) {
		uint64_t g = off / CLUSTER;
		bm[g / 64] |= 1ull << (g % 64);
		if (put_cluster(out_fd, data, 1 + l.data, err) < 0) {
			r = -1;
			break;
		}
		l.data++;
	}
	i2k_scan_release(&s);
	if (r < 0)
		return -1;
	plan(&l, bm);
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(CLUSTER);
	if (write_l2_tables(out_fd, &l, bm, buf, err) < 0 ||
	    write_l1_table(out_fd, &l, bm, buf, err) < 0 ||
	    write_refcounts(out_fd, &l, buf, err) < 0 || write_header(out_fd, size, &l, err) < 0)
		return -1;
	return 0;
}
