/* blkid.c — GPT and superblock probing for the guest init (see blkid.h). */
#include "blkid.h"
#include "builder/base/bytes.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

uint32_t i2ki_blkid_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* Reads exactly len bytes at off; 0, or -1 (errno; EIO for a short read). */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

void i2ki_blkid_guid_format(const uint8_t r[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 r[3], r[2], r[1], r[0], r[5], r[4], r[7], r[6], r[8], r[9], r[10], r[11], r[12],
		 r[13], r[14], r[15]);
}

int i2ki_blkid_guid_valid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return s[36] == 0;
}

/* UTF-16LE (n units, NUL-terminated early or not) → UTF-8 in out. */
static void utf16_to_utf8(const uint8_t *in, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = i2k_get_le16(in + 2 * i);
		if (c == 0)
			break;
		if (c >= 0xD800 && c < 0xDC00 && i + 1 < n) {
			uint32_t lo = i2k_get_le16(in + 2 * (i + 1));
			if (lo >= 0xDC00 && lo < 0xE000) {
				c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
				i++;
			} else {
				c = '?';
			}
		} else if (c >= 0xD800 && c < 0xE000) {
			c = '?';
		}
		char b[4];
		size_t bl;
		if (c < 0x80) {
			b[0] = (char)c;
			bl = 1;
		} else if (c < 0x800) {
			b[0] = (char)(0xC0 | c >> 6);
			b[1] = (char)(0x80 | (c & 0x3F));
			bl = 2;
		} else if (c < 0x10000) {
			b[0] = (char)(0xE0 | c >> 12);
			b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
			b[2] = (char)(0x80 | (c & 0x3F));
			bl = 3;
		} else {
			b[0] = (char)(0xF0 | c >> 18);
			b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
			b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
			b[3] = (char)(0x80 | (c & 0x3F));
			bl = 4;
		}
		if (o + bl >= outlen)
			break;
		memcpy(out + o, b, bl);
		o += bl;
	}
	out[o] = 0;
}

static enum blkid_gpt_result fail(enum blkid_gpt_result r, char *why, size_t whylen,
				  const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return r;
}

static int has_protective_mbr(const uint8_t *mbr)
{
	if (mbr[510] != 0x55 || mbr[511] != 0xAA)
		return 0;
	for (int i = 0; i < 4; i++)
		if (mbr[446 + 16 * i + 4] == 0xEE)
			return 1;
	return 0;
}

/* Checks the header in hdr (one sector of size ss, read from LBA 1). */
static enum blkid_gpt_result check_header(uint8_t *hdr, unsigned ss, char *why, size_t whylen)
{
	uint32_t hsize = i2k_get_le32(hdr + 12);
	if (hsize < 92 || hsize > ss)
		return fail(BLKID_GPT_BAD, why, whylen, "bad header size");
	uint32_t want = i2k_get_le32(hdr + 16);
	uint8_t saved[4];
	memcpy(saved, hdr + 16, 4);
	memset(hdr + 16, 0, 4);
	uint32_t got = i2ki_blkid_crc32(0, hdr, hsize);
	memcpy(hdr + 16, saved, 4);
	if (got != want)
		return fail(BLKID_GPT_BAD, why, whylen, "header CRC mismatch");
	if (i2k_get_le64(hdr + 24) != 1)
		return fail(BLKID_GPT_BAD, why, whylen, "header is not at LBA 1");
	if (i2k_get_le64(hdr + 40) > i2k_get_le64(hdr + 48))
		return fail(BLKID_GPT_BAD, why, whylen, "bad usable LBA range");
	uint32_t n = i2k_get_le32(hdr + 80), esz = i2k_get_le32(hdr + 84);
	if (esz < 128 || esz > 4096 || esz % 8)
		return fail(BLKID_GPT_BAD, why, whylen, "bad partition entry size");
	if (n > BLKID_GPT_MAX_ENTRIES || (uint64_t)n * esz > BLKID_GPT_MAX_ARRAY)
		return fail(BLKID_GPT_BAD, why, whylen, "too many partition entries");
	if (i2k_get_le64(hdr + 72) < 2)
		return fail(BLKID_GPT_BAD, why, whylen, "bad partition entry LBA");
	return BLKID_GPT_OK;
}

enum blkid_gpt_result i2ki_blkid_gpt_read(int fd, unsigned sector, struct blkid_gpt *g, char *why,
					  size_t whylen)
{
	uint8_t mbr[512], hdr[4096];
	unsigned sizes[2] = {sector, 0};
	unsigned ss = 0;
	memset(g, 0, sizeof(*g));
	if (sector == 0) {
		sizes[0] = 512;
		sizes[1] = 4096;
	} else if (sector < 512 || sector > 4096 || (sector & (sector - 1))) {
		return fail(BLKID_GPT_BAD, why, whylen, "unsupported sector size");
	}
	if (read_at(fd, mbr, sizeof(mbr), 0) < 0)
		return fail(BLKID_GPT_IO, why, whylen, "cannot read sector 0");
	for (int i = 0; i < 2 && sizes[i]; i++) {
		if (read_at(fd, hdr, sizes[i], sizes[i]) < 0)
			continue; /* too small for this sector size */
		if (memcmp(hdr, "EFI PART", 8) == 0) {
			ss = sizes[i];
			break;
		}
	}
	if (!ss)
		return fail(BLKID_GPT_NONE, why, whylen, "no GPT");
	if (!has_protective_mbr(mbr))
		return fail(BLKID_GPT_BAD, why, whylen, "no protective MBR");
	enum blkid_gpt_result r = check_header(hdr, ss, why, whylen);
	if (r != BLKID_GPT_OK)
		return r;

	uint32_t n = i2k_get_le32(hdr + 80), esz = i2k_get_le32(hdr + 84);
	size_t total = (size_t)n * esz;
	uint8_t *arr = malloc(total ? total : 1);
	if (!arr) {
		errno = ENOMEM;
		return fail(BLKID_GPT_IO, why, whylen, "out of memory");
	}
	if (total && read_at(fd, arr, total, i2k_get_le64(hdr + 72) * ss) < 0) {
		int e = errno;
		free(arr);
		errno = e;
		return fail(BLKID_GPT_IO, why, whylen, "cannot read the partition entries");
	}
	if (i2ki_blkid_crc32(0, arr, total) != i2k_get_le32(hdr + 88)) {
		free(arr);
		return fail(BLKID_GPT_BAD, why, whylen, "partition entry CRC mismatch");
	}
	static const uint8_t zero[16];
	g->sector = ss;
	g->nentries = n;
	i2ki_blkid_guid_format(hdr + 56, g->disk_uuid);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = arr + (size_t)i * esz;
		if (memcmp(e, zero, 16) == 0)
			continue;
		if (g->nparts >= BLKID_GPT_MAX_PARTS) {
			g->dropped++;
			continue;
		}
		struct blkid_part *p = &g->parts[g->nparts++];
		p->num = i + 1;
		i2ki_blkid_guid_format(e, p->type);
		i2ki_blkid_guid_format(e + 16, p->uuid);
		p->first_lba = i2k_get_le64(e + 32);
		p->last_lba = i2k_get_le64(e + 40);
		utf16_to_utf8(e + 56, 36, p->label, sizeof(p->label));
	}
	free(arr);
	return BLKID_GPT_OK;
}

const struct blkid_part *i2ki_blkid_gpt_find_uuid(const struct blkid_gpt *g, const char *uuid)
{
	for (size_t i = 0; i < g->nparts; i++)
		if (strcasecmp(g->parts[i].uuid, uuid) == 0)
			return &g->parts[i];
	return NULL;
}

const struct blkid_part *i2ki_blkid_gpt_find_label(const struct blkid_gpt *g, const char *label)
{
	for (size_t i = 0; i < g->nparts; i++)
		if (strcmp(g->parts[i].label, label) == 0)
			return &g->parts[i];
	return NULL;
}

const char *i2ki_blkid_fstype(int fd)
{
	uint8_t b[32];
	if (read_at(fd, b, 32, 0) == 0 && memcmp(b, "hsqs", 4) == 0 && i2k_get_le16(b + 28) == 4)
		return "squashfs";
	if (read_at(fd, b, 4, 1024) == 0 && i2k_get_le32(b) == 0xE0F5E1E2u)
		return "erofs";
	if (read_at(fd, b, 5, 32769) == 0 && memcmp(b, "CD001", 5) == 0)
		return "iso9660";
	if (read_at(fd, b, 2, 1080) == 0 && i2k_get_le16(b) == 0xEF53)
		return "ext4";
	return NULL;
}

int i2ki_blkid_ext4_label(int fd, char out[17])
{
	uint8_t b[16];
	uint8_t magic[2];
	if (read_at(fd, magic, 2, 1080) < 0 || i2k_get_le16(magic) != 0xEF53 ||
	    read_at(fd, b, sizeof(b), 1024 + 0x78) < 0)
		return -1;
	memcpy(out, b, 16);
	out[16] = 0;
	return 0;
}
