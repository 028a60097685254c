/* rawinitrd.c — the initrd given to QEMU decompressed (see rawinitrd.h). */
#include "provision/rawinitrd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define CHUNK (256u << 10)

/* Where the decompressed bytes go: the file, counted, its head checked. */
struct sink {
	int fd;
	uint64_t n, max;
	char head[6];
};

static int emit(struct sink *s, const uint8_t *p, size_t len, struct i2k_error **err)
{
	if (len > s->max - s->n)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "more than %llu bytes uncompressed",
				     (unsigned long long)s->max);
	for (size_t i = 0; i < len && s->n + i < sizeof(s->head); i++)
		s->head[s->n + i] = (char)p[i];
	s->n += len;
	return i2k_write_all(s->fd, p, len, err);
}

/* The offset of the next non-zero byte of in[pos..len), len when none. */
static size_t skip_zeros(const uint8_t *in, size_t len, size_t pos)
{
	while (pos < len && in[pos] == 0)
		pos++;
	return pos;
}

static bool is_gzip(const uint8_t *p, size_t n)
{
	return n >= 2 && p[0] == 0x1F && p[1] == 0x8B;
}

static bool is_zstd(const uint8_t *p, size_t n)
{
	return n >= 4 && p[0] == 0x28 && p[1] == 0xB5 && p[2] == 0x2F && p[3] == 0xFD;
}

/* One or more gzip members, zero bytes allowed between and after them. */
static int gunzip_members(const uint8_t *in, size_t len, struct sink *s, struct i2k_error **err)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "gzip: inflateInit2 failed");
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(CHUNK);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)len; /* len ≤ I2K_RAWINITRD_IN_MAX < 4 GiB */
	int rc = -1;
	for (;;) {
		z.next_out = buf;
		z.avail_out = CHUNK;
		int r = inflate(&z, Z_NO_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
			i2k_error_set(err, I2K_ERR_INTEGRITY, "corrupt gzip data at byte %zu",
				      len - z.avail_in);
			break;
		}
		size_t got = CHUNK - z.avail_out;
		if (emit(s, buf, got, err) < 0)
			break;
		if (r == Z_BUF_ERROR || (r == Z_OK && got == 0 && z.avail_in == 0)) {
			i2k_error_set(err, I2K_ERR_INTEGRITY, "truncated gzip data");
			break;
		}
		if (r != Z_STREAM_END)
			continue;
		size_t pos = skip_zeros(in, len, len - z.avail_in);
		if (pos == len) {
			rc = 0;
			break;
		}
		if (!is_gzip(in + pos, len - pos)) {
			i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				      "not gzip data after the gzip data at byte %zu", pos);
			break;
		}
		inflateReset(&z);
		z.next_in = (Bytef *)(uintptr_t)(in + pos);
		z.avail_in = (uInt)(len - pos);
	}
	inflateEnd(&z);
	return rc;
}

/* One or more zstd frames (skippable ones too), zero bytes allowed between
 * and after them. */
static int unzstd_frames(const uint8_t *in, size_t len, struct sink *s, struct i2k_error **err)
{
	ZSTD_DCtx *z = ZSTD_createDCtx();
	if (z == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "zstd: no context");
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(CHUNK);
	int rc = 0;
	size_t pos = 0;
	while (rc == 0 && (pos = skip_zeros(in, len, pos)) < len) {
		size_t fsz = ZSTD_findFrameCompressedSize(in + pos, len - pos);
		if (ZSTD_isError(fsz)) {
			rc = is_zstd(in + pos, len - pos) || pos == 0
				 ? i2k_error_set(err, I2K_ERR_INTEGRITY,
						 "truncated or corrupt zstd data at byte %zu", pos)
				 : i2k_error_set(err, I2K_ERR_UNSUPPORTED,
						 "not zstd data after the zstd data at byte %zu",
						 pos);
			break;
		}
		ZSTD_inBuffer ib = {in + pos, fsz, 0};
		size_t r = 1;
		while (rc == 0 && r != 0) {
			ZSTD_outBuffer ob = {buf, CHUNK, 0};
			r = ZSTD_decompressStream(z, &ob, &ib);
			if (ZSTD_isError(r))
				rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "corrupt zstd data: %s",
						   ZSTD_getErrorName(r));
			else if (emit(s, buf, ob.pos, err) < 0)
				rc = -1;
			else if (r != 0 && ob.pos == 0 && ib.pos == ib.size)
				rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "truncated zstd data");
		}
		pos += fsz;
	}
	ZSTD_freeDCtx(z);
	return rc;
}

int i2k_rawinitrd_write(const char *initrd, const char *out, uint64_t max_out,
			struct i2k_rawinitrd_info *info, struct i2k_error **err)
{
	memset(info, 0, sizeof(*info));
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (i2k_read_file(initrd, I2K_RAWINITRD_IN_MAX, &data, &len, err) < 0)
		return -1;
	const uint8_t *in = (const uint8_t *)data;
	bool gz = is_gzip(in, len);
	if (!gz && !is_zstd(in, len))
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s: not gzip or zstd", initrd);
	_cleanup_free_ char *tmp = i2k_xasprintf("%s.tmp-%d", out, (int)getpid());
	struct sink s = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600),
			 .max = max_out < I2K_RAWINITRD_OUT_MAX ? max_out : I2K_RAWINITRD_OUT_MAX};
	if (s.fd < 0)
		return i2k_error_set(err, I2K_ERR_IO, "%s: %s", tmp, strerror(errno));
	int rc = gz ? gunzip_members(in, len, &s, err) : unzstd_frames(in, len, &s, err);
	if (rc == 0 && (s.n < sizeof(s.head) ||
			(memcmp(s.head, "070701", 6) != 0 && memcmp(s.head, "070702", 6) != 0)))
		rc = i2k_error_set(err, I2K_ERR_UNSUPPORTED, "its content is no newc cpio archive");
	if (close(s.fd) < 0 && rc == 0)
		rc = i2k_error_set(err, I2K_ERR_IO, "%s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, out) < 0)
		rc = i2k_error_set(err, I2K_ERR_IO, "%s: %s", out, strerror(errno));
	if (rc < 0) {
		unlink(tmp);
		return i2k_error_wrap(err, "%s", initrd);
	}
	info->codec = gz ? "gzip" : "zstd";
	info->in_bytes = len;
	info->out_bytes = s.n;
	return 0;
}
