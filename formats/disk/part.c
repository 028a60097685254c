/* part.c — see part.h: partition layout and GUID helpers. */
#include "formats/disk/part.h"

#include <stdio.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"

#define GPT_TAIL (33ull * I2K_SECTOR) /* backup entries (32 sectors) + backup header */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int i2k_part_layout(struct i2k_part *parts, size_t n, uint64_t disk_size, bool gpt,
		    uint64_t *disk_size_out, struct i2k_error **err)
{
	if (disk_size % I2K_SECTOR)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "disk size %llu is not a multiple of %u bytes",
				     (unsigned long long)disk_size, I2K_SECTOR);
	uint64_t tail = gpt ? GPT_TAIL : 0;
	uint64_t pos = I2K_PART_ALIGN;
	bool fill = false;
	for (size_t i = 0; i < n; i++) {
		parts[i].start = align_up(pos, I2K_PART_ALIGN);
		if (parts[i].size == 0) {
			if (i + 1 != n || disk_size == 0)
				return i2k_error_set(err, I2K_ERR_INTERNAL,
						     "partition %zu has size 0", i + 1);
			fill = true;
			pos = parts[i].start + 4096; /* at least one block */
			break;
		}
		parts[i].size = align_up(parts[i].size, I2K_SECTOR);
		pos = parts[i].start + parts[i].size;
	}
	uint64_t need = align_up(pos + tail, I2K_PART_ALIGN);
	if (disk_size == 0) {
		disk_size = need;
	} else if (pos + tail > disk_size) {
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "disk size %llu is too small: the partitions need %llu bytes",
				     (unsigned long long)disk_size, (unsigned long long)need);
	}
	if (fill) {
		struct i2k_part *last = &parts[n - 1];
		last->size = (disk_size - tail - last->start) / 4096 * 4096;
	}
	if (disk_size_out)
		*disk_size_out = disk_size;
	return 0;
}

void i2k_guid_derive(const uint8_t seed[32], const char *what, uint32_t index, uint8_t out[16])
{
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	uint8_t le[4] = {index & 0xff, (index >> 8) & 0xff, (index >> 16) & 0xff, index >> 24};
	uint8_t d[32];
	i2k_sha256_update(h, seed, 32);
	i2k_sha256_update(h, what, strlen(what));
	i2k_sha256_update(h, le, sizeof(le));
	i2k_sha256_final_raw(h, d);
	memcpy(out, d, 16);
	out[7] = (uint8_t)((out[7] & 0x0f) | 0x40); /* version 4 (time_hi is little-endian) */
	out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}

/* Text position of on-disk byte i: the first three fields are little-endian. */
static const unsigned guid_order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int i2k_guid_parse(const char *s, uint8_t out[16], struct i2k_error **err)
{
	uint8_t text[16];
	size_t k = 0, i = 0;
	if (strlen(s) != 36)
		return i2k_error_set(err, I2K_ERR_CONFIG, "bad GUID: %s", s);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return i2k_error_set(err, I2K_ERR_CONFIG, "bad GUID: %s", s);
			continue;
		}
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return i2k_error_set(err, I2K_ERR_CONFIG, "bad GUID: %s", s);
		text[k++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	for (i = 0; i < 16; i++)
		out[i] = text[guid_order[i]];
	return 0;
}

void i2k_guid_format(const uint8_t g[16], char out[37])
{
	uint8_t t[16];
	for (size_t i = 0; i < 16; i++)
		t[guid_order[i]] = g[i];
	snprintf(out, 37, "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12],
		 t[13], t[14], t[15]);
}
