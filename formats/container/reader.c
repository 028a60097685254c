/* reader.c — raw / qcow2 / VHD disk image reader (see reader.h). */
#include "formats/container/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define QCOW2_MAX_SIZE (64ull << 40)
#define VHD_MAX_SIZE (2040ull << 30)
#define QCOW_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW_COMPRESSED (1ull << 62)
#define QCOW_ZERO 1ull

struct i2k_disk_reader {
	int fd;
	char *path;
	enum i2k_disk_format fmt;
	uint64_t size; /* virtual */
	uint64_t file_size;
	/* qcow2 */
	unsigned cluster_bits;
	uint64_t *l1;
	uint64_t l1_size;
	uint64_t *l2; /* cached table */
	uint64_t l2_off;
	/* vhd dynamic */
	uint32_t *bat;
	uint64_t bat_n;
	uint64_t block_size, bitmap_bytes;
};

const char *i2k_disk_format_name(enum i2k_disk_format f)
{
	switch (f) {
	case I2K_DISK_RAW:
		return "raw";
	case I2K_DISK_QCOW2:
		return "qcow2";
	case I2K_DISK_VHD_FIXED:
		return "vhd";
	case I2K_DISK_VHD_DYNAMIC:
		return "dynamic-vhd";
	}
	return "?";
}

void i2k_disk_reader_free(struct i2k_disk_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r->l1);
	free(r->l2);
	free(r->bat);
	free(r);
}

void i2k_disk_reader_freep(struct i2k_disk_reader **r)
{
	i2k_disk_reader_free(*r);
	*r = NULL;
}

enum i2k_disk_format i2k_disk_reader_format(const struct i2k_disk_reader *r)
{
	return r->fmt;
}

uint64_t i2k_disk_reader_size(const struct i2k_disk_reader *r)
{
	return r->size;
}

static int bad(struct i2k_disk_reader *r, const char *fmt, const char *what, struct i2k_error **err)
{
	return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: %s: %s", r->path, fmt, what);
}

static int pread_in(struct i2k_disk_reader *r, void *buf, size_t len, uint64_t off,
		    struct i2k_error **err)
{
	if (off > r->file_size || len > r->file_size - off)
		return bad(r, i2k_disk_format_name(r->fmt), "reference past the end of the file",
			   err);
	if (i2k_pread_all(r->fd, buf, len, (off_t)off, err) < 0)
		return i2k_error_wrap(err, "%s", r->path);
	return 0;
}

/* --- qcow2 ---------------------------------------------------------------- */

static int qcow2_open(struct i2k_disk_reader *r, const uint8_t *h, struct i2k_error **err)
{
	uint32_t version = i2k_get_be32(h + 4);
	if (version != 2 && version != 3)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s: qcow2 version %u", r->path,
				     version);
	uint64_t backing = (uint64_t)i2k_get_be32(h + 8) << 32 | i2k_get_be32(h + 12);
	if (backing)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s: qcow2 with a backing file",
				     r->path);
	r->cluster_bits = i2k_get_be32(h + 20);
	if (r->cluster_bits < 9 || r->cluster_bits > 21)
		return bad(r, "qcow2", "cluster_bits out of range", err);
	r->size = (uint64_t)i2k_get_be32(h + 24) << 32 | i2k_get_be32(h + 28);
	if (r->size == 0 || r->size > QCOW2_MAX_SIZE)
		return bad(r, "qcow2", "virtual size out of range", err);
	if (i2k_get_be32(h + 32) != 0)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s: encrypted qcow2", r->path);
	if (version == 3) {
		uint64_t incompat = (uint64_t)i2k_get_be32(h + 72) << 32 | i2k_get_be32(h + 76);
		if (incompat & ~1ull) /* bit 0: dirty — data still readable */
			return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					     "%s: qcow2 incompatible features 0x%llx", r->path,
					     (unsigned long long)incompat);
	}
	uint64_t cluster = 1ull << r->cluster_bits;
	uint64_t l2_entries = cluster / 8;
	uint64_t need = (r->size + cluster * l2_entries - 1) / (cluster * l2_entries);
	r->l1_size = i2k_get_be32(h + 36);
	if (r->l1_size < need || r->l1_size > need + 1024)
		return bad(r, "qcow2", "L1 size does not match the virtual size", err);
	uint64_t l1_off = (uint64_t)i2k_get_be32(h + 40) << 32 | i2k_get_be32(h + 44);
	if (l1_off % cluster)
		return bad(r, "qcow2", "L1 table not cluster-aligned", err);
	/* the table must be in the file: that bounds what is allocated for it
	 * (a hostile header can claim 2^32 entries for a tiny file) */
	if (r->l1_size > r->file_size / 8 || l1_off > r->file_size - r->l1_size * 8)
		return bad(r, "qcow2", "L1 table beyond the end of the file", err);
	r->l1 = i2k_xcalloc(r->l1_size, 8);
	if (pread_in(r, r->l1, r->l1_size * 8, l1_off, err) < 0)
		return -1;
	for (uint64_t i = 0; i < r->l1_size; i++) {
		uint64_t e = i2k_get_be32((uint8_t *)&r->l1[i]);
		e = e << 32 | i2k_get_be32((uint8_t *)&r->l1[i] + 4);
		uint64_t off = e & QCOW_OFFSET_MASK;
		if (off && (off % cluster || off > r->file_size - cluster))
			return bad(r, "qcow2", "L2 table reference out of bounds", err);
		r->l1[i] = off;
	}
	r->l2 = i2k_xmalloc(cluster);
	r->l2_off = 0;
	r->fmt = I2K_DISK_QCOW2;
	return 0;
}

/* Host offset of the cluster holding virtual offset v: 0 = reads as zeros. */
static int qcow2_map(struct i2k_disk_reader *r, uint64_t v, uint64_t *host, struct i2k_error **err)
{
	uint64_t cluster = 1ull << r->cluster_bits, l2n = cluster / 8;
	uint64_t ci = v >> r->cluster_bits;
	uint64_t l1i = ci / l2n, l2i = ci % l2n;
	*host = 0;
	if (l1i >= r->l1_size || r->l1[l1i] == 0)
		return 0;
	if (r->l2_off != r->l1[l1i]) {
		if (pread_in(r, r->l2, cluster, r->l1[l1i], err) < 0)
			return -1;
		r->l2_off = r->l1[l1i];
	}
	uint64_t e = (uint64_t)i2k_get_be32((uint8_t *)&r->l2[l2i]) << 32 |
		     i2k_get_be32((uint8_t *)&r->l2[l2i] + 4);
	if (e & QCOW_COMPRESSED)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s: compressed qcow2 clusters",
				     r->path);
	if (e & QCOW_ZERO)
		return 0;
	uint64_t off = e & QCOW_OFFSET_MASK;
	if (off && (off % cluster || off > r->file_size - cluster))
		return bad(r, "qcow2", "data cluster out of bounds", err);
	*host = off;
	return 0;
}

/* --- VHD -------------------------------------------------------------------- */

static bool vhd_footer_ok(const uint8_t *f)
{
	if (memcmp(f, "conectix", 8) != 0)
		return false;
	uint32_t sum = 0;
	for (int i = 0; i < 512; i++)
		if (i < 64 || i >= 68)
			sum += f[i];
	return ~sum == i2k_get_be32(f + 64);
}

static int vhd_open(struct i2k_disk_reader *r, const uint8_t *f, struct i2k_error **err)
{
	uint32_t type = i2k_get_be32(f + 60);
	r->size = (uint64_t)i2k_get_be32(f + 48) << 32 | i2k_get_be32(f + 52);
	if (r->size == 0 || r->size > VHD_MAX_SIZE)
		return bad(r, "vhd", "disk size out of range", err);
	if (type == 2) {
		if (r->size > r->file_size - 512)
			return bad(r, "vhd", "fixed disk larger than the file", err);
		r->fmt = I2K_DISK_VHD_FIXED;
		return 0;
	}
	if (type == 4)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s: differencing VHD", r->path);
	if (type != 3)
		return bad(r, "vhd", "unknown disk type", err);
	r->fmt = I2K_DISK_VHD_DYNAMIC;
	uint64_t hoff = (uint64_t)i2k_get_be32(f + 16) << 32 | i2k_get_be32(f + 20);
	uint8_t h[1024];
	if (pread_in(r, h, sizeof(h), hoff, err) < 0)
		return -1;
	if (memcmp(h, "cxsparse", 8) != 0)
		return bad(r, "vhd", "no dynamic disk header", err);
	uint64_t bat_off = (uint64_t)i2k_get_be32(h + 16) << 32 | i2k_get_be32(h + 20);
	r->bat_n = i2k_get_be32(h + 28);
	r->block_size = i2k_get_be32(h + 32);
	if (r->block_size < 512 || r->block_size > (256u << 20) ||
	    (r->block_size & (r->block_size - 1)))
		return bad(r, "vhd", "block size out of range", err);
	if (r->bat_n < (r->size + r->block_size - 1) / r->block_size || r->bat_n > (1u << 24))
		return bad(r, "vhd", "block table does not cover the disk", err);
	r->bitmap_bytes = ((r->block_size / 512 + 7) / 8 + 511) / 512 * 512;
	r->bat = i2k_xcalloc(r->bat_n, 4);
	if (pread_in(r, r->bat, r->bat_n * 4, bat_off, err) < 0)
		return -1;
	for (uint64_t i = 0; i < r->bat_n; i++) {
		uint32_t s = i2k_get_be32((uint8_t *)&r->bat[i]);
		if (s != 0xffffffffu) {
			uint64_t start = (uint64_t)s * 512 + r->bitmap_bytes;
			if (start > r->file_size || r->block_size > r->file_size - start)
				return bad(r, "vhd", "block out of bounds", err);
		}
		r->bat[i] = s;
	}
	return 0;
}

/* --- common ------------------------------------------------------------------ */

int i2k_disk_reader_open(const char *path, struct i2k_disk_reader **out, struct i2k_error **err)
{
	*out = NULL;
	struct i2k_disk_reader *r = i2k_xcalloc(1, sizeof(*r));
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	r->path = i2k_xstrdup(path);
	if (r->fd < 0) {
		i2k_error_errno(err, errno, errno == ENOENT ? I2K_ERR_NOTFOUND : I2K_ERR_IO, "%s",
				path);
		i2k_disk_reader_free(r);
		return -1;
	}
	struct stat st;
	if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		i2k_error_set(err, I2K_ERR_USAGE, "%s: not a regular file", path);
		i2k_disk_reader_free(r);
		return -1;
	}
	r->file_size = (uint64_t)st.st_size;
	r->fmt = I2K_DISK_RAW;
	r->size = r->file_size;
	uint8_t h[512] = {0};
	int rc = 0;
	if (r->file_size >= 512 && pread_in(r, h, 104, 0, err) < 0)
		rc = -1;
	else if (r->file_size >= 512 && memcmp(h, "QFI\xfb", 4) == 0)
		rc = qcow2_open(r, h, err);
	else if (r->file_size >= 1024) {
		if (pread_in(r, h, 512, r->file_size - 512, err) < 0)
			rc = -1;
		else if (vhd_footer_ok(h))
			rc = vhd_open(r, h, err);
	}
	if (rc == 0 && r->size == 0)
		rc = i2k_error_set(err, I2K_ERR_USAGE, "%s: empty disk image", path);
	if (rc < 0) {
		i2k_disk_reader_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

/* raw / fixed VHD: file holes via SEEK_DATA. */
static int file_extent(struct i2k_disk_reader *r, uint64_t pos, uint64_t end, uint64_t *off,
		       uint64_t *len)
{
	off_t d = lseek(r->fd, (off_t)pos, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO)
			return 0;
		*off = pos; /* no SEEK_DATA: all data */
		*len = end - pos;
		return 1;
	}
	if ((uint64_t)d >= end)
		return 0;
	off_t hole = lseek(r->fd, d, SEEK_HOLE);
	uint64_t e = hole < 0 || (uint64_t)hole > end ? end : (uint64_t)hole;
	*off = (uint64_t)d;
	*len = e - (uint64_t)d;
	return 1;
}

int i2k_disk_reader_next_extent(struct i2k_disk_reader *r, uint64_t pos, uint64_t *off,
				uint64_t *len, struct i2k_error **err)
{
	if (pos >= r->size)
		return 0;
	switch (r->fmt) {
	case I2K_DISK_RAW:
	case I2K_DISK_VHD_FIXED:
		return file_extent(r, pos, r->size, off, len);
	case I2K_DISK_QCOW2: {
		uint64_t cluster = 1ull << r->cluster_bits;
		uint64_t c = pos / cluster * cluster;
		for (; c < r->size; c += cluster) {
			uint64_t host;
			if (qcow2_map(r, c, &host, err) < 0)
				return -1;
			if (host == 0)
				continue;
			uint64_t e = c + cluster;
			for (; e < r->size; e += cluster) {
				if (qcow2_map(r, e, &host, err) < 0)
					return -1;
				if (host == 0)
					break;
			}
			*off = c < pos ? pos : c;
			*len = (e < r->size ? e : r->size) - *off;
			return 1;
		}
		return 0;
	}
	case I2K_DISK_VHD_DYNAMIC: {
		uint64_t b = pos / r->block_size;
		for (; b * r->block_size < r->size; b++) {
			if (r->bat[b] == 0xffffffffu)
				continue;
			uint64_t e = b + 1;
			while (e * r->block_size < r->size && r->bat[e] != 0xffffffffu)
				e++;
			uint64_t s = b * r->block_size;
			*off = s < pos ? pos : s;
			uint64_t end = e * r->block_size;
			*len = (end < r->size ? end : r->size) - *off;
			return 1;
		}
		return 0;
	}
	}
	return 0;
}

int i2k_disk_reader_read(struct i2k_disk_reader *r, uint64_t off, void *buf, size_t len,
			 struct i2k_error **err)
{
	if (off > r->size || len > r->size - off)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s: read past the end of the disk",
				     r->path);
	uint8_t *p = buf;
	while (len > 0) {
		uint64_t unit, host;
		switch (r->fmt) {
		case I2K_DISK_RAW:
		case I2K_DISK_VHD_FIXED:
			return pread_in(r, p, len, off, err);
		case I2K_DISK_QCOW2:
			unit = 1ull << r->cluster_bits;
			if (qcow2_map(r, off, &host, err) < 0)
				return -1;
			break;
		case I2K_DISK_VHD_DYNAMIC:
		default: {
			unit = r->block_size;
			uint32_t s = r->bat[off / unit];
			host = s == 0xffffffffu ? 0 : (uint64_t)s * 512 + r->bitmap_bytes;
			break;
		}
		}
		uint64_t in = off % unit;
		size_t n = unit - in < len ? (size_t)(unit - in) : len;
		if (host == 0)
			memset(p, 0, n);
		else if (pread_in(r, p, n, host + in, err) < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}
