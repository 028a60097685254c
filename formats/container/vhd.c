/* vhd.c — fixed and dynamic VHD writers (see vhd.h). */
#include "formats/container/vhd.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "formats/container/scan.h"

#define MIB (1ull << 20)
#define SECTOR 512u
#define MAX_CHS_SECTORS (65535ull * 16 * 255)
#define VHD_EPOCH 946684800 /* 2000-01-01T00:00:00Z */
#define TYPE_FIXED 2
#define TYPE_DYNAMIC 3
#define DYN_HEADER_LEN 1024
#define BAT_OFFSET (SECTOR + DYN_HEADER_LEN)

_Static_assert(I2K_VHD_BLOCK_SIZE % I2K_SCAN_UNIT == 0, "units never straddle blocks");

void i2k_vhd_geometry(uint64_t size, uint16_t *cylinders, uint8_t *heads,
		      uint8_t *sectors_per_track)
{
	uint64_t total = size / SECTOR;
	if (total > MAX_CHS_SECTORS)
		total = MAX_CHS_SECTORS;
	uint64_t spt, h, cth;
	if (total >= 65535ull * 16 * 63) {
		spt = 255;
		h = 16;
		cth = total / spt;
	} else {
		spt = 17;
		cth = total / spt;
		h = (cth + 1023) / 1024;
		if (h < 4)
			h = 4;
		if (cth >= h * 1024 || h > 16) {
			spt = 31;
			h = 16;
			cth = total / spt;
		}
		if (cth >= h * 1024) {
			spt = 63;
			h = 16;
			cth = total / spt;
		}
	}
	*cylinders = (uint16_t)(cth / h);
	*heads = (uint8_t)h;
	*sectors_per_track = (uint8_t)spt;
}

static bool size_ok(uint64_t size)
{
	if (size % MIB)
		return false;
	if (size / SECTOR >= MAX_CHS_SECTORS)
		return true;
	uint16_t c;
	uint8_t h, s;
	i2k_vhd_geometry(size, &c, &h, &s);
	return (uint64_t)c * h * s * SECTOR == size;
}

uint64_t i2k_vhd_round_size(uint64_t size)
{
	if (size > I2K_VHD_MAX_SIZE)
		return size > UINT64_MAX - MIB ? size : (size + MIB - 1) / MIB * MIB;
	uint64_t s = size ? (size + MIB - 1) / MIB * MIB : MIB;
	while (!size_ok(s)) /* at most 254 steps (checked by the tests) */
		s += MIB;
	return s;
}

static uint32_t checksum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return ~sum;
}

static void make_footer(uint8_t f[SECTOR], uint64_t size, bool dynamic, const uint8_t uuid[16])
{
	memset(f, 0, SECTOR);
	memcpy(f, "conectix", 8);
	i2k_put_be32(f + 8, 2);		  /* features: reserved bit, always set */
	i2k_put_be32(f + 12, 0x00010000); /* file format version 1.0 */
	i2k_put_be64(f + 16, dynamic ? SECTOR : UINT64_MAX);
	int64_t t = i2k_source_date_epoch() - VHD_EPOCH;
	i2k_put_be32(f + 24, t < 0 ? 0 : t > UINT32_MAX ? UINT32_MAX : (uint32_t)t);
	memcpy(f + 28, "i2k ", 4);
	i2k_put_be32(f + 32, 0x00010000); /* creator version 1.0 */
	memcpy(f + 36, "Wi2k", 4);
	i2k_put_be64(f + 40, size); /* original size */
	i2k_put_be64(f + 48, size); /* current size */
	uint16_t c;
	uint8_t h, s;
	i2k_vhd_geometry(size, &c, &h, &s);
	i2k_put_be16(f + 56, c);
	f[58] = h;
	f[59] = s;
	i2k_put_be32(f + 60, dynamic ? TYPE_DYNAMIC : TYPE_FIXED);
	memcpy(f + 68, uuid, 16);
	/* 84: saved state 0; 85..511: reserved zeros */
	i2k_put_be32(f + 64, checksum(f, SECTOR));
}

static void make_dyn_header(uint8_t d[DYN_HEADER_LEN], uint32_t entries)
{
	memset(d, 0, DYN_HEADER_LEN);
	memcpy(d, "cxsparse", 8);
	i2k_put_be64(d + 8, UINT64_MAX); /* no further header */
	i2k_put_be64(d + 16, BAT_OFFSET);
	i2k_put_be32(d + 24, 0x00010000); /* header version 1.0 */
	i2k_put_be32(d + 28, entries);
	i2k_put_be32(d + 32, I2K_VHD_BLOCK_SIZE);
	/* no parent: unique id, timestamp, name and locators stay zero */
	i2k_put_be32(d + 36, checksum(d, DYN_HEADER_LEN));
}

static void hash_start(struct i2k_sha256 *h, const char *tag, uint64_t size, bool dynamic)
{
	uint8_t b[9];
	i2k_sha256_update(h, tag, strlen(tag) + 1);
	i2k_put_be64(b, size);
	b[8] = dynamic ? TYPE_DYNAMIC : TYPE_FIXED;
	i2k_sha256_update(h, b, sizeof(b));
}

static void hash_unit(struct i2k_sha256 *h, uint64_t off, const uint8_t *data)
{
	uint8_t b[8];
	i2k_put_be64(b, off);
	i2k_sha256_update(h, b, sizeof(b));
	i2k_sha256_update(h, data, I2K_SCAN_UNIT);
}

static void hash_uuid(struct i2k_sha256 *h, uint8_t uuid[16])
{
	uint8_t d[32];
	i2k_sha256_final_raw(h, d);
	memcpy(uuid, d, 16);
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

/* Dynamic state: the BAT and where the next block goes. */
struct dyn {
	uint32_t *bat; /* big-endian entries */
	uint32_t entries;
	size_t bat_bytes; /* entries * 4 rounded up to a sector */
	uint64_t next;	  /* file offset of the next block */
	uint64_t block;	  /* current block index, UINT64_MAX = none */
	uint64_t block_at;
};

static int dyn_put(struct i2k_sink *fd, struct dyn *d, uint64_t off, const uint8_t *data,
		   struct i2k_error **err)
{
	uint64_t b = off / I2K_VHD_BLOCK_SIZE;
	if (b != d->block) {
		uint8_t bitmap[SECTOR];
		memset(bitmap, 0xff, sizeof(bitmap)); /* every sector present */
		uint32_t sector = (uint32_t)(d->next / SECTOR);
		i2k_put_be32((uint8_t *)&d->bat[b], sector);
		if (i2k_sink_write_at(fd, d->next, bitmap, sizeof(bitmap), err) < 0)
			return -1;
		d->block = b;
		d->block_at = d->next + SECTOR;
		d->next += SECTOR + I2K_VHD_BLOCK_SIZE;
	}
	uint64_t at = d->block_at + off % I2K_VHD_BLOCK_SIZE;
	return i2k_sink_write_at(fd, at, data, I2K_SCAN_UNIT, err);
}

int i2k_vhd_write(int raw_fd, uint64_t base, uint64_t size, bool dynamic, const uint8_t *uuid_seed,
		  struct i2k_sink *out_fd, struct i2k_error **err)
{
	if (size > I2K_VHD_MAX_SIZE)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "VHD disk size %llu exceeds the format's limit of 2040 GiB",
				     (unsigned long long)size);
	if (size != i2k_vhd_round_size(size))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "VHD disk size %llu is not a valid VHD size (use "
				     "i2k_vhd_round_size: %llu)",
				     (unsigned long long)size,
				     (unsigned long long)i2k_vhd_round_size(size));
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	if (uuid_seed) {
		hash_start(h, "i2kit vhd unique id from seed", size, dynamic);
		i2k_sha256_update(h, uuid_seed, 32);
	} else {
		hash_start(h, "i2kit vhd unique id from content", size, dynamic);
	}
	struct dyn d = {.block = UINT64_MAX};
	_cleanup_free_ uint32_t *bat = NULL;
	if (dynamic) {
		d.entries = (uint32_t)((size + I2K_VHD_BLOCK_SIZE - 1) / I2K_VHD_BLOCK_SIZE);
		d.bat_bytes = ((size_t)d.entries * 4 + SECTOR - 1) / SECTOR * SECTOR;
		bat = d.bat = i2k_xmalloc(d.bat_bytes);
		memset(bat, 0xff, d.bat_bytes);
		d.next = BAT_OFFSET + d.bat_bytes;
	}
	struct i2k_scan s;
	if (i2k_scan_init(&s, raw_fd, base, size, err) < 0)
		return -1;
	int r;
	uint64_t off;
	const uint8_t *data;
	uint64_t at = 0; /* fixed: everything before is written or zeroed */
	while ((r = i2k_scan_next(&s, &off, &data, err)) > 0) {
		if (!uuid_seed)
			hash_unit(h, off, data);
		if (dynamic) {
			r = dyn_put(out_fd, &d, off, data, err);
		} else {
			if (off > at)
				r = i2k_sink_zero(out_fd, at, off - at, err);
			if (r >= 0)
				r = i2k_sink_write_at(out_fd, off, data, I2K_SCAN_UNIT, err);
			at = off + I2K_SCAN_UNIT;
		}
		if (r < 0)
			break;
	}
	i2k_scan_release(&s);
	if (r < 0)
		return -1;
	if (!dynamic && size > at && i2k_sink_zero(out_fd, at, size - at, err) < 0)
		return -1;
	uint8_t uuid[16], footer[SECTOR];
	hash_uuid(h, uuid);
	make_footer(footer, size, dynamic, uuid);
	if (!dynamic)
		return i2k_sink_write_at(out_fd, size, footer, SECTOR, err);
	uint8_t dh[DYN_HEADER_LEN];
	make_dyn_header(dh, d.entries);
	if (i2k_sink_write_at(out_fd, d.next, footer, SECTOR, err) < 0 ||
	    i2k_sink_write_at(out_fd, BAT_OFFSET, bat, d.bat_bytes, err) < 0 ||
	    i2k_sink_write_at(out_fd, SECTOR, dh, sizeof(dh), err) < 0 ||
	    i2k_sink_write_at(out_fd, 0, footer, SECTOR, err) < 0)
		return -1;
	return 0;
}
