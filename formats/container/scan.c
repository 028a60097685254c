/* scan.c — sequential reader of a sparse raw disk that skips holes and zero
 * units (see scan.h). */
#include "formats/container/scan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/util.h"

bool i2k_scan_is_zero(const uint8_t *p, size_t len)
{
	if (len == 0)
		return true;
	return p[0] == 0 && memcmp(p, p + 1, len - 1) == 0;
}

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int i2k_scan_init(struct i2k_scan *s, int fd, uint64_t base, uint64_t size, struct i2k_error **err)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->base = base;
	s->size = size;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "raw disk: stat");
	if ((uint64_t)st.st_size < base + size)
		return i2k_error_set(
		    err, I2K_ERR_INTERNAL, "raw disk is shorter than its size (%llu < %llu bytes)",
		    (unsigned long long)st.st_size, (unsigned long long)(base + size));
	s->buf = i2k_xmalloc(I2K_SCAN_CHUNK);
	return 0;
}

void i2k_scan_release(struct i2k_scan *s)
{
	free(s->buf);
	s->buf = NULL;
}

/* Moves pos to the start (rounded down to a unit) of the next data extent
 * and sets data_end; returns 0 when there is no more data. */
static int seek_data(struct i2k_scan *s, struct i2k_error **err)
{
	off_t d = lseek(s->fd, (off_t)(s->base + s->pos), SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO)
			return 0;
		if (errno != EINVAL && errno != EOPNOTSUPP)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "raw disk: seek");
		s->no_seek = true;
		s->data_end = s->size;
		return 1;
	}
	uint64_t rel = (uint64_t)d - s->base;
	if (rel >= s->size)
		return 0;
	s->pos = rel / I2K_SCAN_UNIT * I2K_SCAN_UNIT;
	off_t h = lseek(s->fd, d, SEEK_HOLE);
	if (h < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "raw disk: seek");
	uint64_t end = (uint64_t)h - s->base;
	s->data_end = end < s->size ? end : s->size;
	return 1;
}

static int fill(struct i2k_scan *s, struct i2k_error **err)
{
	if (i2k_check_interrupt(err) < 0)
		return -1;
	if (!s->no_seek && s->pos >= s->data_end) {
		int r = seek_data(s, err);
		if (r <= 0) {
			if (r == 0)
				s->pos = s->size;
			return r;
		}
	}
	uint64_t end = round_up(s->data_end, I2K_SCAN_UNIT);
	if (end > s->pos + I2K_SCAN_CHUNK)
		end = s->pos + I2K_SCAN_CHUNK;
	if (end > s->size)
		end = s->size;
	size_t len = (size_t)(end - s->pos);
	if (i2k_pread_all(s->fd, s->buf, len, (off_t)(s->base + s->pos), err) < 0)
		return i2k_error_wrap(err, "raw disk");
	s->bytes_read += len;
	s->buf_off = s->pos;
	s->buf_len = round_up(len, I2K_SCAN_UNIT);
	memset(s->buf + len, 0, (size_t)(s->buf_len - len));
	return 1;
}

int i2k_scan_next(struct i2k_scan *s, uint64_t *off, const uint8_t **data, struct i2k_error **err)
{
	for (;;) {
		if (s->pos >= s->size)
			return 0;
		if (s->pos >= s->buf_off && s->pos < s->buf_off + s->buf_len) {
			const uint8_t *u = s->buf + (s->pos - s->buf_off);
			uint64_t at = s->pos;
			s->pos += I2K_SCAN_UNIT;
			if (!i2k_scan_is_zero(u, I2K_SCAN_UNIT)) {
				s->units++;
				*off = at;
				*data = u;
				return 1;
			}
			continue;
		}
		int r = fill(s, err);
		if (r <= 0)
			return r;
	}
}
