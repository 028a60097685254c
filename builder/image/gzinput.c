/* gzinput.c — layer bytes for libarchive, gzip inflated by ISA-L (see
 * gzinput.h). */
#include "builder/image/gzinput.h"

#include <archive.h>
#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/util.h"

#define IN_BLOCK (256u << 10)
/* archive_set_error's code for errors that are no errno */
#define NOT_ERRNO (-1)

enum mode { SNIFF, RAW, GZIP, DONE };

struct i2k_gzinput {
	int fd;
	bool ranged; /* pread at pos, up to end; else read */
	uint64_t pos, end;
	enum mode mode;
	bool in_eof;
	uint8_t *in, *out;
	size_t out_cap;
	size_t have; /* SNIFF / RAW: bytes at in */
	struct inflate_state st;
};

struct i2k_gzinput *i2k_gzinput_new(int fd, size_t out_block)
{
	struct i2k_gzinput *g = i2k_xcalloc(1, sizeof(*g));
	g->fd = fd;
	g->in = i2k_xmalloc(IN_BLOCK);
	g->out_cap = out_block;
	g->out = i2k_xmalloc(out_block);
	return g;
}

void i2k_gzinput_free(struct i2k_gzinput *g)
{
	if (g == NULL)
		return;
	free(g->in);
	free(g->out);
	free(g);
}

void i2k_gzinput_freep(struct i2k_gzinput **g)
{
	i2k_gzinput_free(*g);
	*g = NULL;
}

struct i2k_gzinput *i2k_gzinput_new_range(int fd, uint64_t off, uint64_t len, size_t out_block)
{
	struct i2k_gzinput *g = i2k_gzinput_new(fd, out_block);
	g->ranged = true;
	g->pos = off;
	g->end = off + len;
	return g;
}

/* Reads up to len bytes of the input into buf: the count, 0 at its end, −1
 * with the archive's error set. */
static ssize_t read_some(struct archive *a, struct i2k_gzinput *g, uint8_t *buf, size_t len)
{
	if (g->ranged && g->end - g->pos < len)
		len = (size_t)(g->end - g->pos);
	if (len == 0)
		return 0;
	for (;;) {
		ssize_t n =
		    g->ranged ? pread(g->fd, buf, len, (off_t)g->pos) : read(g->fd, buf, len);
		if (n > 0 && g->ranged)
			g->pos += (uint64_t)n;
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
}

/* Makes at least n bytes of the not yet inflated input available at
 * st.next_in (moving the rest to the buffer's start), unless the file ends
 * first. 0, or −1 on a read error. */
static int want_input(struct archive *a, struct i2k_gzinput *g, uint32_t n)
{
	struct inflate_state *st = &g->st;
	if (st->avail_in >= n || g->in_eof)
		return 0;
	if (st->avail_in > 0)
		memmove(g->in, st->next_in, st->avail_in);
	st->next_in = g->in;
	while (st->avail_in < n && !g->in_eof) {
		ssize_t r = read_some(a, g, g->in + st->avail_in, IN_BLOCK - st->avail_in);
		if (r < 0)
			return -1;
		if (r == 0)
			g->in_eof = true;
		st->avail_in += (uint32_t)r;
	}
	return 0;
}

static const char *isal_reason(int r)
{
	switch (r) {
	case ISAL_INVALID_BLOCK:
		return "invalid block";
	case ISAL_INVALID_SYMBOL:
		return "invalid symbol";
	case ISAL_INVALID_LOOKBACK:
		return "invalid distance";
	case ISAL_INVALID_WRAPPER:
		return "bad header";
	case ISAL_UNSUPPORTED_METHOD:
		return "not deflate";
	case ISAL_INCORRECT_CHECKSUM:
		return "CRC-32 mismatch";
	default:
		return "unexpected state";
	}
}

static bool gzip_magic(const uint8_t *p)
{
	return p[0] == 0x1f && p[1] == 0x8b;
}

/* A fresh inflater for the member at next_in; the buffers stay as they are
 * (isal_inflate_init clears them). */
static void start_member(struct i2k_gzinput *g)
{
	struct inflate_state *st = &g->st;
	uint8_t *in = st->next_in, *out = st->next_out;
	uint32_t in_len = st->avail_in, out_len = st->avail_out;
	isal_inflate_init(st);
	st->crc_flag = ISAL_GZIP;
	st->next_in = in;
	st->avail_in = in_len;
	st->next_out = out;
	st->avail_out = out_len;
}

/* The next chunk of inflated data: its size, 0 at the end of the stream, −1
 * with the archive's error set. */
static ssize_t inflate_chunk(struct archive *a, struct i2k_gzinput *g)
{
	struct inflate_state *st = &g->st;
	st->next_out = g->out;
	st->avail_out = (uint32_t)g->out_cap;
	while (st->avail_out == g->out_cap) {
		if (st->block_state == ISAL_BLOCK_FINISH) {
			/* a member ended: another one, or the end */
			if (want_input(a, g, 2) < 0)
				return -1;
			if (st->avail_in < 2 || !gzip_magic(st->next_in)) {
				g->mode = DONE;
				break;
			}
			start_member(g);
		}
		if (want_input(a, g, 1) < 0)
			return -1;
		uint32_t in0 = st->avail_in, out0 = st->avail_out;
		int r = isal_inflate(st);
		if (r < 0) {
			archive_set_error(a, NOT_ERRNO, "gzip: corrupt data (%s)", isal_reason(r));
			return -1;
		}
		if (st->avail_in == in0 && st->avail_out == out0 &&
		    st->block_state != ISAL_BLOCK_FINISH) {
			/* nothing moved: more input, if the file has more */
			if (g->in_eof) {
				archive_set_error(a, NOT_ERRNO, "gzip: truncated input");
				return -1;
			}
			if (in0 == IN_BLOCK) {
				archive_set_error(a, NOT_ERRNO, "gzip: corrupt data (no progress)");
				return -1;
			}
			if (want_input(a, g, in0 + 1) < 0)
				return -1;
		}
	}
	return (ssize_t)(g->out_cap - st->avail_out);
}

static la_ssize_t read_cb(struct archive *a, void *data, const void **buf)
{
	struct i2k_gzinput *g = data;
	ssize_t r;
	switch (g->mode) {
	case SNIFF:
		/* the first two bytes decide */
		while (g->have < 2) {
			r = read_some(a, g, g->in + g->have, IN_BLOCK - g->have);
			if (r < 0)
				return -1;
			if (r == 0)
				break;
			g->have += (size_t)r;
		}
		if (g->have < 2 || !gzip_magic(g->in)) {
			g->mode = RAW;
			*buf = g->in;
			return (la_ssize_t)g->have;
		}
		g->mode = GZIP;
		g->st.next_in = g->in;
		g->st.avail_in = (uint32_t)g->have;
		start_member(g);
		/* the first chunk, as the GZIP case gives the next ones */
		__attribute__((fallthrough));
	case GZIP:
		*buf = g->out;
		return inflate_chunk(a, g);
	case RAW:
		r = read_some(a, g, g->in, IN_BLOCK);
		*buf = g->in;
		return r;
	case DONE:
		break;
	}
	return 0;
}

int i2k_gzinput_open(struct archive *a, struct i2k_gzinput *g)
{
	return archive_read_open2(a, g, NULL, read_cb, NULL, NULL);
}

int i2k_gzinput_drain(struct archive *a, struct i2k_gzinput *g)
{
	while (g->mode == GZIP) {
		ssize_t r = inflate_chunk(a, g);
		if (r < 0)
			return -1;
	}
	return 0;
}
