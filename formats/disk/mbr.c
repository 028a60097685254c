/* mbr.c — see mbr.h. */
#include "formats/disk/mbr.h"
#include "builder/base/bytes.h"

#include <string.h>

/* CHS address of an LBA in the 255/63 geometry; FE FF FF past cylinder 1023. */
static void chs(uint8_t out[3], uint32_t lba)
{
	uint32_t c = lba / (255 * 63), h = (lba / 63) % 255, s = lba % 63 + 1;
	if (c > 1023) {
		out[0] = 0xfe;
		out[1] = 0xff;
		out[2] = 0xff;
		return;
	}
	out[0] = (uint8_t)h;
	out[1] = (uint8_t)(s | ((c >> 2) & 0xc0));
	out[2] = (uint8_t)(c & 0xff);
}

void i2k_mbr_entry(uint8_t e[16], bool bootable, uint8_t type, uint32_t lba, uint32_t count)
{
	memset(e, 0, 16);
	e[0] = bootable ? 0x80 : 0x00;
	chs(e + 1, lba);
	e[4] = type;
	chs(e + 5, count ? lba + count - 1 : lba);
	i2k_put_le32(e + 8, lba);
	i2k_put_le32(e + 12, count);
}

int i2k_mbr_build(uint8_t out[512], const struct i2k_part *parts, size_t n, const uint8_t *bootcode,
		  size_t bootcode_len, uint32_t disk_sig, struct i2k_error **err)
{
	if (bootcode_len > I2K_MBR_BOOTCODE_MAX)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "MBR boot code is %zu bytes (at most %d)", bootcode_len,
				     I2K_MBR_BOOTCODE_MAX);
	memset(out, 0, 512);
	if (bootcode && bootcode_len)
		memcpy(out, bootcode, bootcode_len);
	i2k_put_le32(out + 440, disk_sig);
	size_t slot = 0;
	for (size_t i = 0; i < n; i++) {
		const struct i2k_part *p = &parts[i];
		if (p->mbr_type == 0)
			continue;
		if (slot == 4)
			return i2k_error_set(err, I2K_ERR_CONFIG, "MBR holds at most 4 partitions");
		if (p->start % I2K_SECTOR || p->size % I2K_SECTOR || p->size == 0)
			return i2k_error_set(err, I2K_ERR_INTERNAL,
					     "partition %zu is not sector-aligned or empty", i + 1);
		uint64_t lba = p->start / I2K_SECTOR, cnt = p->size / I2K_SECTOR;
		if (lba + cnt > UINT32_MAX)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "partition %zu does not fit an MBR (2 TiB limit)",
					     i + 1);
		i2k_mbr_entry(out + 446 + 16 * slot, p->bootable, p->mbr_type, (uint32_t)lba,
			      (uint32_t)cnt);
		slot++;
	}
	out[510] = 0x55;
	out[511] = 0xaa;
	return 0;
}

int i2k_mbr_write(struct i2k_sink *disk, const struct i2k_part *parts, size_t n,
		  const uint8_t *bootcode, size_t bootcode_len, uint32_t disk_sig,
		  struct i2k_error **err)
{
	uint8_t sec[512];
	for (size_t i = 0; i < n; i++)
		if (parts[i].mbr_type &&
		    (parts[i].start > disk->size || parts[i].size > disk->size - parts[i].start))
			return i2k_error_set(err, I2K_ERR_INTERNAL,
					     "partition %zu ends past the end of the disk", i + 1);
	if (i2k_mbr_build(sec, parts, n, bootcode, bootcode_len, disk_sig, err) < 0)
		return -1;
	return i2k_sink_write_at(disk, 0, sec, sizeof(sec), err);
}
