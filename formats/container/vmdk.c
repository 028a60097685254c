/* vmdk.c — streamOptimized VMDK writer (see vmdk.h). */
#include "formats/container/vmdk.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "formats/container/scan.h"

#define SECTOR 512u
#define GRAIN_SECTORS 128u /* 64 KiB: the scanner's unit */
#define GTES 512u	   /* entries per grain table: 32 MiB per table */
#define OVERHEAD 128u	   /* sectors before the first grain */
#define GD_AT_END UINT64_MAX

enum { MARKER_EOS = 0, MARKER_GT = 1, MARKER_GD = 2, MARKER_FOOTER = 3 };

_Static_assert(I2K_SCAN_UNIT == GRAIN_SECTORS * SECTOR, "one grain is one scan unit");

struct vmdk {
	struct i2k_sink *out;
	uint64_t at;	 /* next free byte of the output */
	uint64_t size;	 /* disk bytes */
	uint32_t *gt;	 /* the current table (GTES entries) */
	uint64_t gt_idx; /* which table gt is (UINT64_MAX: none yet) */
	uint32_t *gd;	 /* one entry per table */
	uint64_t ngd;
	uint8_t *zbuf; /* compressBound(64 KiB) + marker + padding */
	size_t zcap;
};

static void make_header(uint8_t h[SECTOR], uint64_t capacity, uint64_t desc_sectors,
			uint64_t gd_offset)
{
	memset(h, 0, SECTOR);
	memcpy(h, "KDMV", 4);
	i2k_put_le32(h + 4, 3);				   /* version: streamOptimized */
	i2k_put_le32(h + 8, 1u | (1u << 16) | (1u << 17)); /* newline test, compressed, markers */
	i2k_put_le64(h + 12, capacity);
	i2k_put_le64(h + 20, GRAIN_SECTORS);
	i2k_put_le64(h + 28, 1); /* descriptor at sector 1 */
	i2k_put_le64(h + 36, desc_sectors);
	i2k_put_le32(h + 44, GTES);
	i2k_put_le64(h + 48, 0); /* no redundant directory */
	i2k_put_le64(h + 56, gd_offset);
	i2k_put_le64(h + 64, OVERHEAD);
	h[72] = 0; /* clean */
	h[73] = '\n';
	h[74] = ' ';
	h[75] = '\r';
	h[76] = '\n';
	i2k_put_le16(h + 77, 1); /* deflate */
}

static int put(struct vmdk *v, const void *buf, size_t len, struct i2k_error **err)
{
	if (i2k_sink_write_at(v->out, v->at, buf, len, err) < 0)
		return -1;
	v->at += len;
	return 0;
}

/* A 512-byte marker sector: val, size 0, type. */
static int put_marker(struct vmdk *v, uint64_t val, uint32_t type, struct i2k_error **err)
{
	uint8_t m[SECTOR] = {0};
	i2k_put_le64(m, val);
	i2k_put_le32(m + 12, type);
	return put(v, m, sizeof(m), err);
}

/* Writes the current grain table (if any) and records it in the directory. */
static int flush_gt(struct vmdk *v, struct i2k_error **err)
{
	if (v->gt_idx == UINT64_MAX)
		return 0;
	uint64_t bytes = GTES * 4u;
	if (put_marker(v, bytes / SECTOR, MARKER_GT, err) < 0)
		return -1;
	v->gd[v->gt_idx] = (uint32_t)(v->at / SECTOR);
	uint8_t tbl[GTES * 4u];
	for (uint32_t i = 0; i < GTES; i++)
		i2k_put_le32(tbl + 4 * i, v->gt[i]);
	if (put(v, tbl, sizeof(tbl), err) < 0)
		return -1;
	v->gt_idx = UINT64_MAX;
	return 0;
}

static int put_grain(struct vmdk *v, uint64_t off, const uint8_t *data, struct i2k_error **err)
{
	uint64_t g = off / I2K_SCAN_UNIT, t = g / GTES;
	if (t != v->gt_idx) {
		if (flush_gt(v, err) < 0)
			return -1;
		v->gt_idx = t;
		memset(v->gt, 0, GTES * 4u);
	}
	/* A whole grain, also the last one (the scanner reads zeros past the
	 * disk's end): readers inflate grains to their full size. */
	uLongf zlen = (uLongf)(v->zcap - 12);
	if (compress2(v->zbuf + 12, &zlen, data, I2K_SCAN_UNIT, 6) != Z_OK)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "zlib compress failed");
	i2k_put_le64(v->zbuf, off / SECTOR);
	i2k_put_le32(v->zbuf + 8, (uint32_t)zlen);
	size_t total = (12 + zlen + SECTOR - 1) / SECTOR * SECTOR;
	memset(v->zbuf + 12 + zlen, 0, total - 12 - zlen);
	v->gt[g % GTES] = (uint32_t)(v->at / SECTOR);
	return put(v, v->zbuf, total, err);
}

/* The CID: 8 hex digits from the seed (or the data's hash). */
static uint32_t cid_of(const uint8_t *seed, struct i2k_sha256 *data_hash)
{
	uint8_t d[32];
	if (seed) {
		memcpy(d, seed, 32);
	} else {
		i2k_sha256_final_raw(data_hash, d);
	}
	uint32_t c = i2k_get_le32(d);
	return c == UINT32_MAX ? 1 : c; /* ffffffff means "no parent" */
}

static char *descriptor(uint64_t capacity, uint32_t cid)
{
	uint64_t cyl = capacity / (16 * 63);
	if (cyl > 16383)
		cyl = 16383;
	return i2k_xasprintf("# Disk DescriptorFile\n"
			     "version=1\n"
			     "CID=%08x\n"
			     "parentCID=ffffffff\n"
			     "createType=\"streamOptimized\"\n"
			     "\n"
			     "# Extent description\n"
			     "RW %llu SPARSE \"disk.vmdk\"\n"
			     "\n"
			     "# The Disk Data Base\n"
			     "#DDB\n"
			     "\n"
			     "ddb.virtualHWVersion = \"4\"\n"
			     "ddb.geometry.cylinders = \"%llu\"\n"
			     "ddb.geometry.heads = \"16\"\n"
			     "ddb.geometry.sectors = \"63\"\n"
			     "ddb.adapterType = \"ide\"\n"
			     "ddb.toolsVersion = \"2147483647\"\n",
			     cid, (unsigned long long)capacity, (unsigned long long)cyl);
}

/* The data hash for a CID without a seed needs a first pass over the data. */
static int hash_data(int raw_fd, uint64_t base, uint64_t size, struct i2k_sha256 *h,
		     struct i2k_error **err)
{
	struct i2k_scan s;
	if (i2k_scan_init(&s, raw_fd, base, size, err) < 0)
		return -1;
	int r;
	uint64_t off;
	const uint8_t *data;
	while ((r = i2k_scan_next(&s, &off, &data, err)) > 0) {
		uint8_t le[8];
		i2k_put_le64(le, off);
		i2k_sha256_update(h, le, sizeof(le));
		i2k_sha256_update(h, data, I2K_SCAN_UNIT);
	}
	i2k_scan_release(&s);
	return r < 0 ? -1 : 0;
}

int i2k_vmdk_write(int raw_fd, uint64_t base, uint64_t size, const uint8_t *seed,
		   struct i2k_sink *out, struct i2k_error **err)
{
	if (size == 0 || size % SECTOR)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "disk size %llu is not a multiple of 512 bytes",
				     (unsigned long long)size);
	if (size > I2K_VMDK_MAX_SIZE)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "disk size %llu exceeds the VMDK writer's limit of 2 TiB",
				     (unsigned long long)size);
	uint64_t capacity = size / SECTOR;
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	if (!seed && hash_data(raw_fd, base, size, h, err) < 0)
		return -1;
	_cleanup_free_ char *desc = descriptor(capacity, cid_of(seed, h));
	uint64_t desc_sectors = (strlen(desc) + SECTOR - 1) / SECTOR;
	if (1 + desc_sectors > OVERHEAD)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "VMDK descriptor too long");

	struct vmdk v = {.out = out, .size = size, .gt_idx = UINT64_MAX};
	uint64_t grains = (size + I2K_SCAN_UNIT - 1) / I2K_SCAN_UNIT;
	v.ngd = (grains + GTES - 1) / GTES;
	_cleanup_free_ uint32_t *gt = v.gt = i2k_xcalloc(GTES, 4);
	_cleanup_free_ uint32_t *gd = v.gd = i2k_xcalloc(v.ngd, 4);
	v.zcap = 12 + compressBound(I2K_SCAN_UNIT) + SECTOR;
	_cleanup_free_ uint8_t *zbuf = v.zbuf = i2k_xmalloc(v.zcap);

	/* header, descriptor, zero padding up to the first grain */
	uint8_t hdr[SECTOR];
	make_header(hdr, capacity, desc_sectors, GD_AT_END);
	_cleanup_free_ uint8_t *front = i2k_xcalloc(OVERHEAD - 1, SECTOR);
	memcpy(front, desc, strlen(desc));
	if (put(&v, hdr, SECTOR, err) < 0 || put(&v, front, (OVERHEAD - 1) * SECTOR, err) < 0)
		return -1;

	struct i2k_scan s;
	if (i2k_scan_init(&s, raw_fd, base, size, err) < 0)
		return -1;
	int r;
	uint64_t off;
	const uint8_t *data;
	while ((r = i2k_scan_next(&s, &off, &data, err)) > 0)
		if (put_grain(&v, off, data, err) < 0) {
			r = -1;
			break;
		}
	i2k_scan_release(&s);
	if (r < 0 || flush_gt(&v, err) < 0)
		return -1;

	/* directory, footer, end of stream */
	uint64_t gd_bytes = (v.ngd * 4 + SECTOR - 1) / SECTOR * SECTOR;
	if (put_marker(&v, gd_bytes / SECTOR, MARKER_GD, err) < 0)
		return -1;
	uint64_t gd_sector = v.at / SECTOR;
	_cleanup_free_ uint8_t *gdb = i2k_xcalloc(1, gd_bytes);
	for (uint64_t i = 0; i < v.ngd; i++)
		i2k_put_le32(gdb + 4 * i, v.gd[i]);
	if (put(&v, gdb, gd_bytes, err) < 0 || put_marker(&v, 1, MARKER_FOOTER, err) < 0)
		return -1;
	make_header(hdr, capacity, desc_sectors, gd_sector);
	if (put(&v, hdr, SECTOR, err) < 0 || put_marker(&v, 0, MARKER_EOS, err) < 0)
		return -1;
	return 0;
}
