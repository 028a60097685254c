/* esp.c — the ESP of a disk image and its UKI's command line (see esp.h). */
#include "provision/esp.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/utf.h"
#include "builder/base/util.h"

#define SECTOR 512u

/* C12A7328-F81F-11D2-BA4B-00A0C93EC93B, as a GPT stores it */
static const uint8_t esp_type[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
				     0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};

int i2k_esp_find(struct i2k_disk_reader *r, struct i2k_esp *out, struct i2k_error **err)
{
	uint64_t size = i2k_disk_reader_size(r);
	if (size < 34 * SECTOR)
		return 0;
	uint8_t h[SECTOR];
	if (i2k_disk_reader_read(r, SECTOR, h, sizeof(h), err) < 0)
		return -1;
	if (memcmp(h, "EFI PART", 8) != 0)
		return 0;
	uint64_t lba = i2k_get_le64(h + 72);
	uint32_t n = i2k_get_le32(h + 80), esz = i2k_get_le32(h + 84);
	if (n > I2K_ESP_GPT_ENTRIES || esz < 128 || esz > 4096 || esz % 8 || lba > size / SECTOR ||
	    (uint64_t)n * esz > size - lba * SECTOR)
		return 0;
	_cleanup_free_ uint8_t *t = i2k_xmalloc((size_t)n * esz + 1);
	if (i2k_disk_reader_read(r, lba * SECTOR, t, (size_t)n * esz, err) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = t + (size_t)i * esz;
		if (memcmp(e, esp_type, 16) != 0)
			continue;
		uint64_t first = i2k_get_le64(e + 32), last = i2k_get_le64(e + 40);
		if (first == 0 || last < first || last >= size / SECTOR)
			return 0;
		out->number = i + 1;
		out->first_lba = first;
		out->sectors = last - first + 1;
		memcpy(out->unique, e + 16, 16);
		return 1;
	}
	return 0;
}

/* ---- FAT ------------------------------------------------------------------------ */

struct fat {
	struct i2k_disk_reader *r;
	uint64_t base;	       /* byte offset of the partition */
	uint32_t cluster;      /* bytes per cluster */
	uint32_t clusters;     /* data clusters: valid numbers are 2..clusters+1 */
	uint64_t data;	       /* byte offset of cluster 2, from base */
	uint64_t root;	       /* FAT12/16: byte offset of the root directory */
	uint32_t root_len;     /* its length in bytes (0: FAT32) */
	uint32_t root_cluster; /* FAT32 */
	int bits;	       /* 12, 16 or 32 */
	uint8_t *table;	       /* the first FAT */
	size_t table_len;
};

static int bad(struct i2k_error **err, const char *what)
{
	return i2k_error_set(err, I2K_ERR_INTEGRITY, "ESP: %s", what);
}

static int fat_open(struct fat *f, struct i2k_disk_reader *r, const struct i2k_esp *p,
		    struct i2k_error **err)
{
	memset(f, 0, sizeof(*f));
	f->r = r;
	f->base = p->first_lba * SECTOR;
	uint64_t part = p->sectors * SECTOR;
	uint8_t b[SECTOR];
	if (i2k_disk_reader_read(r, f->base, b, sizeof(b), err) < 0)
		return -1;
	uint32_t bps = i2k_get_le16(b + 11), spc = b[13], reserved = i2k_get_le16(b + 14);
	uint32_t nfats = b[16], root_entries = i2k_get_le16(b + 17);
	uint64_t total = i2k_get_le16(b + 19) ? i2k_get_le16(b + 19) : i2k_get_le32(b + 32);
	uint64_t fatsz = i2k_get_le16(b + 22) ? i2k_get_le16(b + 22) : i2k_get_le32(b + 36);
	if (b[510] != 0x55 || b[511] != 0xAA ||
	    (bps != 512 && bps != 1024 && bps != 2048 && bps != 4096) || spc == 0 ||
	    (spc & (spc - 1)) || reserved == 0 || nfats == 0 || fatsz == 0)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "ESP: not a FAT file system");
	uint64_t root_sectors = ((uint64_t)root_entries * 32 + bps - 1) / bps;
	uint64_t first_data = reserved + nfats * fatsz + root_sectors;
	if (total * bps > part || first_data >= total)
		return bad(err, "file system larger than its partition");
	uint64_t clusters = (total - first_data) / spc;
	f->bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
	if ((f->bits == 32) != (root_entries == 0))
		return bad(err, "root directory does not match the FAT type");
	f->cluster = bps * spc;
	f->clusters = (uint32_t)clusters;
	f->data = first_data * bps;
	f->root = (reserved + nfats * fatsz) * bps;
	f->root_len = root_entries * 32;
	f->root_cluster = f->bits == 32 ? i2k_get_le32(b + 44) : 0;
	uint64_t need = f->bits == 12 ? (clusters + 2) * 3 / 2 + 1 : (clusters + 2) * (f->bits / 8);
	if (need > fatsz * bps)
		return bad(err, "FAT smaller than its clusters");
	if (need > I2K_ESP_FAT_MAX)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "ESP: FAT of %llu bytes is too large",
				     (unsigned long long)need);
	f->table_len = (size_t)need;
	f->table = i2k_xmalloc(f->table_len);
	return i2k_disk_reader_read(r, f->base + (uint64_t)reserved * bps, f->table, f->table_len,
				    err);
}

/* The FAT entry of cluster c (a valid cluster number). */
static uint32_t fat_next(const struct fat *f, uint32_t c)
{
	if (f->bits == 12) {
		uint32_t v = i2k_get_le16(f->table + c + c / 2);
		return c & 1 ? v >> 4 : v & 0xFFF;
	}
	if (f->bits == 16)
		return i2k_get_le16(f->table + (size_t)c * 2);
	return i2k_get_le32(f->table + (size_t)c * 4) & 0x0FFFFFFF;
}

static bool fat_eoc(const struct fat *f, uint32_t v)
{
	return v >= (f->bits == 12 ? 0xFF8u : f->bits == 16 ? 0xFFF8u : 0x0FFFFFF8u);
}

static bool fat_valid(const struct fat *f, uint32_t c)
{
	return c >= 2 && c - 2 < f->clusters;
}

/* Reads [off, off+len) of the cluster chain from first; bytes past its
 * end are an error. */
static int fat_read(const struct fat *f, uint32_t first, uint64_t off, uint8_t *buf, size_t len,
		    struct i2k_error **err)
{
	uint32_t c = first;
	uint64_t skip = off / f->cluster, steps = 0;
	for (uint64_t i = 0; i < skip; i++) {
		if (!fat_valid(f, c))
			return bad(err, "cluster chain ends before the file does");
		c = fat_next(f, c);
	}
	size_t in = (size_t)(off % f->cluster);
	while (len > 0) {
		if (!fat_valid(f, c) || ++steps > f->clusters)
			return bad(err, "cluster chain ends before the file does");
		size_t n = f->cluster - in < len ? f->cluster - in : len;
		uint64_t at = f->base + f->data + (uint64_t)(c - 2) * f->cluster + in;
		if (i2k_disk_reader_read(f->r, at, buf, n, err) < 0)
			return -1;
		buf += n;
		len -= n;
		in = 0;
		if (len > 0) {
			uint32_t next = fat_next(f, c);
			if (fat_eoc(f, next))
				return bad(err, "cluster chain ends before the file does");
			c = next;
		}
	}
	return 0;
}

/* A directory's bytes: the FAT12/16 root region (first == 0) or a cluster
 * chain (at most 1 MiB of it). Caller frees *out. */
static int dir_load(const struct fat *f, uint32_t first, uint8_t **out, size_t *len,
		    struct i2k_error **err)
{
	*out = NULL;
	*len = 0;
	if (first == 0) {
		*out = i2k_xmalloc(f->root_len);
		*len = f->root_len;
		return i2k_disk_reader_read(f->r, f->base + f->root, *out, *len, err);
	}
	size_t max = 1u << 20, n = 0;
	for (uint32_t c = first; !fat_eoc(f, c); c = fat_next(f, c)) {
		if (!fat_valid(f, c) || n / f->cluster >= f->clusters)
			return bad(err, "directory's cluster chain is broken");
		if (n + f->cluster > max)
			break;
		n += f->cluster;
	}
	*out = i2k_xmalloc(n ? n : 1);
	*len = n;
	return fat_read(f, first, 0, *out, n, err);
}

/* Finds I2K_ESP_LOADER: 1 with its first cluster and size, 0 when absent. */
static int find_loader(const struct fat *f, uint32_t *first, uint32_t *size, struct i2k_error **err)
{
	/* its path's components as 8.3 directory entries name them */
	static const char path[][12] = {"EFI        ", "BOOT       ", "BOOTX64 EFI"};
	uint32_t dir = f->bits == 32 ? f->root_cluster : 0;
	for (size_t k = 0; k < I2K_ARRAY_SIZE(path); k++) {
		_cleanup_free_ uint8_t *d = NULL;
		size_t len = 0;
		if (dir_load(f, dir, &d, &len, err) < 0)
			return -1;
		bool last = k + 1 == I2K_ARRAY_SIZE(path), found = false;
		for (size_t i = 0; i + 32 <= len && d[i] != 0; i += 32) {
			const uint8_t *e = d + i;
			uint8_t attr = e[11];
			if (e[0] == 0xE5 || attr == 0x0F || (attr & 0x08) ||
			    memcmp(e, path[k], 11) != 0)
				continue;
			if (!!(attr & 0x10) == last)
				return 0; /* a file where a directory is wanted, or the reverse */
			uint32_t c = (f->bits == 32 ? (uint32_t)i2k_get_le16(e + 20) << 16 : 0) |
				     i2k_get_le16(e + 26);
			if (!fat_valid(f, c))
				return bad(err, "directory entry points outside the file system");
			dir = c;
			*size = i2k_get_le32(e + 28);
			found = true;
			break;
		}
		if (!found)
			return 0;
	}
	*first = dir;
	return 1;
}

/* ---- PE ----------------------------------------------------------------------- */

/* The .cmdline section of the PE file [first cluster, size). */
static int pe_cmdline(const struct fat *f, uint32_t first, uint32_t size, char **out,
		      struct i2k_error **err)
{
	uint8_t h[4096];
	size_t hlen = size < sizeof(h) ? size : sizeof(h);
	if (hlen < 64)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "BOOTX64.EFI: too short");
	if (fat_read(f, first, 0, h, hlen, err) < 0)
		return -1;
	uint32_t pe = i2k_get_le32(h + 0x3C);
	if (h[0] != 'M' || h[1] != 'Z' || pe > hlen - 24 || memcmp(h + pe, "PE\0\0", 4) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "BOOTX64.EFI: not a PE image");
	uint32_t nsec = i2k_get_le16(h + pe + 6), opt = i2k_get_le16(h + pe + 20);
	uint64_t tab = (uint64_t)pe + 24 + opt;
	if (tab + (uint64_t)nsec * 40 > hlen)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "BOOTX64.EFI: section table past its first %zu bytes", hlen);
	for (uint32_t i = 0; i < nsec; i++) {
		const uint8_t *s = h + tab + (size_t)i * 40;
		if (memcmp(s, ".cmdline", 8) != 0)
			continue;
		uint32_t vsize = i2k_get_le32(s + 8), raw = i2k_get_le32(s + 16);
		uint32_t ptr = i2k_get_le32(s + 20);
		uint32_t len = vsize && vsize < raw ? vsize : raw;
		if (len > I2K_ESP_CMDLINE_MAX)
			return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					     "BOOTX64.EFI: .cmdline of %u bytes", len);
		if ((uint64_t)ptr + len > size)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "BOOTX64.EFI: .cmdline past the end of the file");
		char *c = i2k_xmalloc((size_t)len + 1);
		if (fat_read(f, first, ptr, (uint8_t *)c, len, err) < 0) {
			free(c);
			return -1;
		}
		c[len] = '\0';
		size_t n = strlen(c);
		while (n > 0 && (c[n - 1] == ' ' || c[n - 1] == '\n' || c[n - 1] == '\t' ||
				 c[n - 1] == '\r'))
			c[--n] = '\0';
		if (!i2k_ascii_printable(c, n)) {
			free(c);
			return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					     "BOOTX64.EFI: .cmdline: not printable ASCII");
		}
		*out = c;
		return 0;
	}
	return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
			     "BOOTX64.EFI: no .cmdline section (not a unified kernel image)");
}

int i2k_esp_uki_cmdline(const char *path, struct i2k_esp *esp, char **cmdline,
			struct i2k_error **err)
{
	*cmdline = NULL;
	_cleanup_(i2k_disk_reader_freep) struct i2k_disk_reader *r = NULL;
	if (i2k_disk_reader_open(path, &r, err) < 0)
		return -1;
	int found = i2k_esp_find(r, esp, err);
	if (found < 0)
		return -1;
	if (found == 0)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "no EFI system partition");
	struct fat f;
	int rc = fat_open(&f, r, esp, err);
	if (rc == 0) {
		uint32_t first = 0, size = 0;
		rc = find_loader(&f, &first, &size, err);
		if (rc == 0)
			rc = i2k_error_set(err, I2K_ERR_UNSUPPORTED, "ESP: no %s", I2K_ESP_LOADER);
		else if (rc > 0)
			rc = pe_cmdline(&f, first, size, cmdline, err);
	}
	free(f.table);
	return rc < 0 ? -1 : 0;
}
