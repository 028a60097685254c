/* isohybrid.c — hybrid MBR for El Torito ISO images (see isohybrid.h). */
#include "formats/disk/isohybrid.h"
#include "builder/base/bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

#define BLK 2048u
#define MBR_CODE 432u
#define HEADS 64u
#define SECTORS 32u

static const char *sname(const struct i2k_sink *s)
{
	return s->name ? s->name : "image";
}

/* CHS triple (head, sector|cyl-high, cyl-low) for 64×32 geometry. */
static void chs(uint8_t *p, uint64_t lba)
{
	uint64_t cyl = lba / (HEADS * SECTORS);
	if (cyl > 1023) {
		p[0] = 0xfe;
		p[1] = 0xff;
		p[2] = 0xff;
		return;
	}
	p[0] = (uint8_t)((lba / SECTORS) % HEADS);
	p[1] = (uint8_t)((lba % SECTORS) + 1 + ((cyl & 0x300) >> 2));
	p[2] = (uint8_t)(cyl & 0xff);
}

struct catalog_info {
	uint32_t bios_lba;
	bool has_efi;
	uint32_t efi_lba;
};

static int read_catalog(struct i2k_sink *iso, struct catalog_info *ci, struct i2k_error **err)
{
	uint8_t b[BLK];
	if (i2k_sink_read_at(iso, 16ull * BLK, b, BLK, err) < 0)
		return -1;
	if (b[0] != 1 || memcmp(b + 1, "CD001", 5) != 0)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: not an ISO 9660 image (no primary volume descriptor at "
				     "block 16)",
				     sname(iso));
	if (i2k_sink_read_at(iso, 17ull * BLK, b, BLK, err) < 0)
		return -1;
	if (b[0] != 0 || memcmp(b + 1, "CD001", 5) != 0 ||
	    memcmp(b + 7, "EL TORITO SPECIFICATION", 23) != 0)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: no El Torito boot record at block 17", sname(iso));
	uint64_t cat = i2k_get_le32(b + 71);
	if ((cat + 1) * BLK > iso->size)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: invalid El Torito boot catalog (block %llu is outside "
				     "the image)",
				     sname(iso), (unsigned long long)cat);
	if (i2k_sink_read_at(iso, cat * BLK, b, BLK, err) < 0)
		return -1;
	uint16_t sum = 0;
	for (int i = 0; i < 32; i += 2)
		sum = (uint16_t)(sum + i2k_get_le16(b + i));
	if (b[0] != 1 || b[30] != 0x55 || b[31] != 0xaa || sum != 0)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: invalid El Torito boot catalog (bad validation entry)",
				     sname(iso));
	memset(ci, 0, sizeof(*ci));
	/* default entry, then sections */
	if (b[1] == 0x00 && b[32] == 0x88 && b[33] == 0)
		ci->bios_lba = i2k_get_le32(b + 40);
	else if (b[1] == 0xef && b[32] == 0x88) {
		ci->has_efi = true;
		ci->efi_lba = i2k_get_le32(b + 40);
	}
	for (size_t off = 64; off + 64 <= BLK && !ci->has_efi;) {
		uint8_t hdr = b[off];
		if (hdr != 0x90 && hdr != 0x91)
			break;
		uint16_t n = i2k_get_le16(b + off + 2);
		if (b[off + 1] == 0xef && n > 0 && b[off + 32] == 0x88) {
			ci->has_efi = true;
			ci->efi_lba = i2k_get_le32(b + off + 32 + 8);
		}
		off += 32 + 32 * (size_t)n;
		if (hdr == 0x91)
			break;
	}
	return 0;
}

static int read_template(const char *path, uint8_t *mbr, struct i2k_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (i2k_read_file(path, 1 << 20, &data, &len, err) < 0)
		return i2k_error_wrap(err, "reading MBR code %s", path);
	if (len != MBR_CODE)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: %zu bytes, expected %u", path,
				     len, MBR_CODE);
	memcpy(mbr, data, MBR_CODE);
	return 0;
}

/* Disk id from the image's metadata blocks (16 .. catalog). */
static int derive_id(struct i2k_sink *iso, uint32_t *id, struct i2k_error **err)
{
	uint8_t b[BLK];
	if (i2k_sink_read_at(iso, 17ull * BLK, b, BLK, err) < 0)
		return -1;
	uint64_t last = i2k_get_le32(b + 71);
	if (last < 17 || (last + 1) * BLK > iso->size)
		last = 17;
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	for (uint64_t blk = 16; blk <= last; blk++) {
		if (i2k_sink_read_at(iso, blk * BLK, b, BLK, err) < 0)
			return -1;
		i2k_sha256_update(h, b, BLK);
	}
	uint8_t d[32];
	i2k_sha256_final_raw(h, d);
	*id = i2k_get_le32(d);
	if (*id == 0)
		*id = 1;
	return 0;
}

/* Sectors of the FAT file system at byte offset off (its boot sector). */
static int fat_sectors(struct i2k_sink *iso, uint64_t off, uint64_t *sectors,
		       struct i2k_error **err)
{
	uint8_t bs[512];
	if (off + sizeof(bs) > iso->size)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: the EFI image is outside the image",
				     sname(iso));
	if (i2k_sink_read_at(iso, off, bs, sizeof(bs), err) < 0)
		return -1;
	uint16_t bps = i2k_get_le16(bs + 11);
	uint64_t total = i2k_get_le16(bs + 19);
	if (total == 0)
		total = i2k_get_le32(bs + 32);
	if (bs[510] != 0x55 || bs[511] != 0xaa ||
	    (bps != 512 && bps != 1024 && bps != 2048 && bps != 4096) || total == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: the EFI image is not a FAT file system", sname(iso));
	*sectors = total * (bps / 512);
	return 0;
}

int i2k_isohybrid_bios(struct i2k_sink *iso, const struct i2k_isohybrid_opts *o,
		       struct i2k_error **err)
{
	static const struct i2k_isohybrid_opts defaults = {0};
	if (!o)
		o = &defaults;
	if (iso->size % BLK != 0 || iso->size < 18ull * BLK)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: %llu bytes: not a multiple of 2048",
				     sname(iso), (unsigned long long)iso->size);
	struct catalog_info ci;
	if (read_catalog(iso, &ci, err) < 0)
		return -1;
	if (!ci.bios_lba)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: the default El Torito entry is not a BIOS no-emulation "
				     "image",
				     sname(iso));
	uint8_t sig[4];
	if ((uint64_t)ci.bios_lba * BLK + 0x44 > iso->size)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: the BIOS boot image is outside the image", sname(iso));
	if (i2k_sink_read_at(iso, (uint64_t)ci.bios_lba * BLK + 0x40, sig, 4, err) < 0)
		return -1;
	if (memcmp(sig, "\xfb\xc0\x78\x70", 4) != 0)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: the BIOS boot image is not a hybrid isolinux.bin (no "
				     "signature at offset 0x40)",
				     sname(iso));
	uint64_t efi_start = 0, efi_len = 0;
	if (o->efi_partition) {
		if (!ci.has_efi || !ci.efi_lba)
			return i2k_error_set(err, I2K_ERR_CONFIG, "%s: no EFI El Torito entry",
					     sname(iso));
		if (fat_sectors(iso, (uint64_t)ci.efi_lba * BLK, &efi_len, err) < 0)
			return -1;
		efi_start = (uint64_t)ci.efi_lba * 4;
	}

	uint8_t mbr[512];
	memset(mbr, 0, sizeof(mbr));
	_cleanup_free_ char *def = NULL;
	const char *path = o->mbr_path;
	if (!path)
		path = def = i2k_xasprintf("%s/isohdpfx.bin", I2K_ISOLINUX_DIR_DEFAULT);
	if (read_template(path, mbr, err) < 0)
		return -1;
	i2k_put_le32(mbr + 432, ci.bios_lba * 4);
	i2k_put_le32(mbr + 436, 0);
	uint32_t id = o->disk_id;
	if (!id && derive_id(iso, &id, err) < 0)
		return -1;
	i2k_put_le32(mbr + 440, id);

	uint64_t sectors = iso->size / 512;
	uint64_t cyls = (sectors + HEADS * SECTORS - 1) / (HEADS * SECTORS);
	uint64_t cc = cyls > 1024 ? 1024 : cyls;
	uint8_t *p = mbr + 446;
	p[0] = 0x80;
	p[1] = 0; /* head 0, sector 1, cylinder 0 */
	p[2] = 1;
	p[3] = 0;
	p[4] = o->efi_partition ? 0x00 : (o->part_type ? o->part_type : 0x17);
	p[5] = HEADS - 1;
	p[6] = (uint8_t)(SECTORS + (((cc - 1) & 0x300) >> 2));
	p[7] = (uint8_t)((cc - 1) & 0xff);
	i2k_put_le32(p + 8, 0);
	i2k_put_le32(p + 12, sectors > UINT32_MAX ? UINT32_MAX : (uint32_t)sectors);
	if (o->efi_partition) {
		p += 16;
		p[0] = 0;
		chs(p + 1, efi_start);
		p[4] = 0xef;
		chs(p + 5, efi_start + efi_len - 1);
		i2k_put_le32(p + 8, (uint32_t)efi_start);
		i2k_put_le32(p + 12, (uint32_t)efi_len);
	}
	mbr[510] = 0x55;
	mbr[511] = 0xaa;
	return i2k_sink_write_at(iso, 0, mbr, sizeof(mbr), err);
}
