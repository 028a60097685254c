/* gpt.c — see gpt.h. */
#include "formats/disk/gpt.h"
#include "builder/base/bytes.h"

#include <string.h>
#include <zlib.h>

#include "builder/base/cleanup.h"
#include "builder/base/utf.h"
#include "builder/base/util.h"
#include "formats/disk/mbr.h"

#define ENTRY_SIZE 128
#define ENTRIES_BYTES (I2K_GPT_ENTRIES * ENTRY_SIZE) /* 16 KiB = 32 sectors */
#define ENTRIES_SECTORS (ENTRIES_BYTES / I2K_SECTOR)
#define HEADER_SIZE 92

/* UTF-8 → UTF-16LE into out (max units); -1 invalid, -2 too long. */
static int utf16le(const char *s, uint8_t *out, size_t max)
{
	uint16_t u[I2K_GPT_NAME_MAX];
	size_t n = 0;
	int r = i2k_utf16_encode(s, u, max < I2K_GPT_NAME_MAX ? max : I2K_GPT_NAME_MAX, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		i2k_put_le16(out + 2 * i, u[i]);
	return r;
}

static int check_parts(const struct i2k_part *parts, size_t n, uint64_t first, uint64_t last,
		       struct i2k_error **err)
{
	for (size_t i = 0; i < n; i++) {
		const struct i2k_part *p = &parts[i];
		if (p->start % I2K_SECTOR || p->size % I2K_SECTOR || p->size == 0)
			return i2k_error_set(err, I2K_ERR_INTERNAL,
					     "partition %zu is not sector-aligned or empty", i + 1);
		uint64_t a = p->start / I2K_SECTOR, b = a + p->size / I2K_SECTOR - 1;
		if (a < first || b > last || b < a)
			return i2k_error_set(
			    err, I2K_ERR_CONFIG,
			    "partition %zu lies outside the usable area (LBA %llu..%llu)", i + 1,
			    (unsigned long long)first, (unsigned long long)last);
		for (size_t j = 0; j < i; j++) {
			const struct i2k_part *q = &parts[j];
			if (p->start < q->start + q->size && q->start < p->start + p->size)
				return i2k_error_set(err, I2K_ERR_CONFIG,
						     "partitions %zu and %zu overlap", j + 1,
						     i + 1);
		}
	}
	return 0;
}

static void header(uint8_t h[512], uint64_t my_lba, uint64_t alt_lba, uint64_t first, uint64_t last,
		   const uint8_t disk_guid[16], uint64_t entries_lba, uint32_t entries_crc)
{
	memset(h, 0, 512);
	memcpy(h, "EFI PART", 8);
	i2k_put_le32(h + 8, 0x00010000);
	i2k_put_le32(h + 12, HEADER_SIZE);
	i2k_put_le64(h + 24, my_lba);
	i2k_put_le64(h + 32, alt_lba);
	i2k_put_le64(h + 40, first);
	i2k_put_le64(h + 48, last);
	memcpy(h + 56, disk_guid, 16);
	i2k_put_le64(h + 72, entries_lba);
	i2k_put_le32(h + 80, I2K_GPT_ENTRIES);
	i2k_put_le32(h + 84, ENTRY_SIZE);
	i2k_put_le32(h + 88, entries_crc);
	i2k_put_le32(h + 16, (uint32_t)crc32(0, h, HEADER_SIZE));
}

int i2k_gpt_write(struct i2k_sink *disk, const struct i2k_part *parts, size_t n,
		  const uint8_t seed[32], struct i2k_error **err)
{
	if (n > I2K_GPT_ENTRIES)
		return i2k_error_set(err, I2K_ERR_CONFIG, "GPT holds at most %d partitions",
				     I2K_GPT_ENTRIES);
	if (disk->size % I2K_SECTOR)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "disk of %llu bytes is not a multiple of %u bytes",
				     (unsigned long long)disk->size, I2K_SECTOR);
	uint64_t total = disk->size / I2K_SECTOR;
	uint64_t first = 2 + ENTRIES_SECTORS; /* 34 */
	if (total < 2 * first + 1)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "disk of %llu bytes is too small for a GPT",
				     (unsigned long long)disk->size);
	uint64_t last = total - 1 - ENTRIES_SECTORS - 1; /* N-34 */
	if (check_parts(parts, n, first, last, err) < 0)
		return -1;

	_cleanup_free_ uint8_t *ent = i2k_xcalloc(1, ENTRIES_BYTES);
	for (size_t i = 0; i < n; i++) {
		const struct i2k_part *p = &parts[i];
		uint8_t *e = ent + i * ENTRY_SIZE;
		memcpy(e, p->type_guid, 16);
		i2k_guid_derive(seed, "partition", (uint32_t)i, e + 16);
		i2k_put_le64(e + 32, p->start / I2K_SECTOR);
		i2k_put_le64(e + 40, (p->start + p->size) / I2K_SECTOR - 1);
		i2k_put_le64(e + 48, p->attrs | (p->bootable ? I2K_GPT_ATTR_LEGACY_BOOT : 0));
		int r = utf16le(p->name ? p->name : "", e + 56, I2K_GPT_NAME_MAX);
		if (r == -1)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "partition %zu: name is not valid UTF-8", i + 1);
		if (r == -2)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "partition %zu: name is longer than %d UTF-16 units",
					     i + 1, I2K_GPT_NAME_MAX);
	}
	uint32_t ecrc = (uint32_t)crc32(0, ent, ENTRIES_BYTES);
	uint8_t disk_guid[16];
	i2k_guid_derive(seed, "disk", 0, disk_guid);

	uint8_t mbr[512] = {0};
	uint64_t pcount = total - 1 > UINT32_MAX ? UINT32_MAX : total - 1;
	i2k_mbr_entry(mbr + 446, false, 0xee, 1, (uint32_t)pcount);
	mbr[510] = 0x55;
	mbr[511] = 0xaa;

	uint8_t prim[512], back[512];
	uint64_t back_entries = total - 1 - ENTRIES_SECTORS;
	header(prim, 1, total - 1, first, last, disk_guid, 2, ecrc);
	header(back, total - 1, 1, first, last, disk_guid, back_entries, ecrc);

	if (i2k_sink_write_at(disk, 0, mbr, 512, err) < 0 ||
	    i2k_sink_write_at(disk, I2K_SECTOR, prim, 512, err) < 0 ||
	    i2k_sink_write_at(disk, 2 * I2K_SECTOR, ent, ENTRIES_BYTES, err) < 0 ||
	    i2k_sink_write_at(disk, back_entries * I2K_SECTOR, ent, ENTRIES_BYTES, err) < 0 ||
	    i2k_sink_write_at(disk, (total - 1) * I2K_SECTOR, back, 512, err) < 0)
		return i2k_error_wrap(err, "writing the GPT");
	return 0;
}
