/* sink.c — see sink.h: file, temp-file and window sinks. */
#include "formats/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/util.h"

struct file_sink {
	struct i2k_sink base;
	int fd;
	bool own_fd;
	uint64_t off;		 /* base offset in the file */
	struct i2k_writeback wb; /* fd -1 unless i2k_sink_write_early */
};

struct window_sink {
	struct i2k_sink base;
	struct i2k_sink *parent;
	uint64_t off;
};

static int check_range(struct i2k_sink *s, uint64_t off, uint64_t len, const char *what,
		       struct i2k_error **err)
{
	if (off > s->size || len > s->size - off)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "%s past the end of %s (offset %llu + %llu > %llu)", what,
				     s->name ? s->name : "sink", (unsigned long long)off,
				     (unsigned long long)len, (unsigned long long)s->size);
	return 0;
}

int i2k_sink_write_at(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
		      struct i2k_error **err)
{
	if (s->finished)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "write to %s after finish",
				     s->name ? s->name : "sink");
	if (check_range(s, off, len, "write", err) < 0)
		return -1;
	if (len == 0)
		return 0;
	if (s->meter)
		i2k_meter_add(s->meter, len);
	return s->ops->write_at(s, off, buf, len, err);
}

int i2k_sink_read_at(struct i2k_sink *s, uint64_t off, void *buf, size_t len,
		     struct i2k_error **err)
{
	if (check_range(s, off, len, "read", err) < 0)
		return -1;
	return len ? s->ops->read_at(s, off, buf, len, err) : 0;
}

int i2k_sink_zero(struct i2k_sink *s, uint64_t off, uint64_t len, struct i2k_error **err)
{
	if (check_range(s, off, len, "zero", err) < 0)
		return -1;
	if (s->ops->zero)
		return len ? s->ops->zero(s, off, len, err) : 0;
	uint64_t base;
	int fd = i2k_sink_fd(s, &base);
	if (fd >= 0) {
		/* Holes read as zeros: punch instead of writing. */
		if (len && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     (off_t)(base + off), (off_t)len) == 0)
			return 0;
	}
	static const char zeros[65536];
	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		if (i2k_sink_write_at(s, off, zeros, n, err) < 0)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

int i2k_sink_finish(struct i2k_sink *s, struct i2k_error **err)
{
	if (s->finished)
		return 0;
	int r = s->ops->finish ? s->ops->finish(s, err) : 0;
	if (r == 0)
		s->finished = true;
	return r;
}

void i2k_sink_free(struct i2k_sink *s)
{
	if (s)
		s->ops->destroy(s);
}

void i2k_sink_freep(struct i2k_sink **s)
{
	i2k_sink_free(*s);
	*s = NULL;
}

/* ---- file sink ------------------------------------------------------------ */

static int file_write(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
		      struct i2k_error **err)
{
	struct file_sink *f = (struct file_sink *)s;
	if (i2k_pwrite_all(f->fd, buf, len, (off_t)(f->off + off), err) < 0)
		return i2k_error_wrap(err, "%s", s->name ? s->name : "sink");
	i2k_writeback_add(&f->wb, len);
	return 0;
}

static int file_read(struct i2k_sink *s, uint64_t off, void *buf, size_t len,
		     struct i2k_error **err)
{
	struct file_sink *f = (struct file_sink *)s;
	/* A sparse file may end early only if never extended: it always is. */
	if (i2k_pread_all(f->fd, buf, len, (off_t)(f->off + off), err) < 0)
		return i2k_error_wrap(err, "%s", s->name ? s->name : "sink");
	return 0;
}

static int file_finish(struct i2k_sink *s, struct i2k_error **err)
{
	(void)s;
	(void)err;
	return 0;
}

static void file_destroy(struct i2k_sink *s)
{
	struct file_sink *f = (struct file_sink *)s;
	if (f->own_fd && f->fd >= 0)
		close(f->fd);
	free((char *)s->name);
	free(f);
}

static const struct i2k_sink_ops file_ops = {
    .write_at = file_write, .read_at = file_read, .finish = file_finish, .destroy = file_destroy};

static int file_sink_new(int fd, bool own, uint64_t base, uint64_t size, const char *name,
			 struct i2k_sink **out, struct i2k_error **err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", name ? name : "sink");
	if ((uint64_t)st.st_size < base + size && ftruncate(fd, (off_t)(base + size)) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "sizing %s to %llu bytes",
				       name ? name : "sink", (unsigned long long)(base + size));
	struct file_sink *f = i2k_xcalloc(1, sizeof(*f));
	f->base.ops = &file_ops;
	f->base.size = size;
	f->base.name = i2k_xstrdup(name ? name : "sink");
	f->fd = fd;
	f->own_fd = own;
	f->off = base;
	f->wb.fd = -1;
	*out = &f->base;
	return 0;
}

int i2k_sink_file_new(int fd, uint64_t base, uint64_t size, const char *name, struct i2k_sink **out,
		      struct i2k_error **err)
{
	return file_sink_new(fd, false, base, size, name, out, err);
}

int i2k_sink_tmpfile_new(uint64_t size, const char *name, struct i2k_sink **out, int *fd_out,
			 struct i2k_error **err)
{
	return i2k_sink_tmpfile_new_in(NULL, size, name, out, fd_out, err);
}

int i2k_sink_tmpfile_new_in(const char *dir, uint64_t size, const char *name, struct i2k_sink **out,
			    int *fd_out, struct i2k_error **err)
{
	int fd = i2k_tmpfile(dir, name ? name : "temporary file", err);
	if (fd < 0)
		return -1;
	if (file_sink_new(fd, true, 0, size, name, out, err) < 0) {
		close(fd);
		return -1;
	}
	if (fd_out)
		*fd_out = fd;
	return 0;
}

void i2k_sink_write_early(struct i2k_sink *s)
{
	if (s->ops == &file_ops) {
		struct file_sink *f = (struct file_sink *)s;
		f->wb.fd = f->fd;
	}
}

/* ---- window sink ------------------------------------------------------------ */

static int win_write(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
		     struct i2k_error **err)
{
	struct window_sink *w = (struct window_sink *)s;
	return i2k_sink_write_at(w->parent, w->off + off, buf, len, err);
}

static int win_read(struct i2k_sink *s, uint64_t off, void *buf, size_t len, struct i2k_error **err)
{
	struct window_sink *w = (struct window_sink *)s;
	return i2k_sink_read_at(w->parent, w->off + off, buf, len, err);
}

static void win_destroy(struct i2k_sink *s)
{
	free((char *)s->name);
	free(s);
}

static int win_zero(struct i2k_sink *s, uint64_t off, uint64_t len, struct i2k_error **err)
{
	struct window_sink *w = (struct window_sink *)s;
	return i2k_sink_zero(w->parent, w->off + off, len, err);
}

static const struct i2k_sink_ops window_ops = {.write_at = win_write,
					       .read_at = win_read,
					       .zero = win_zero,
					       .finish = NULL,
					       .destroy = win_destroy};

int i2k_sink_window_new(struct i2k_sink *parent, uint64_t off, uint64_t size, const char *name,
			struct i2k_sink **out, struct i2k_error **err)
{
	if (check_range(parent, off, size, "window", err) < 0)
		return -1;
	struct window_sink *w = i2k_xcalloc(1, sizeof(*w));
	w->base.ops = &window_ops;
	w->base.size = size;
	w->base.name = i2k_xstrdup(name ? name : "partition");
	w->parent = parent;
	w->off = off;
	*out = &w->base;
	return 0;
}

int i2k_sink_fd(const struct i2k_sink *s, uint64_t *base)
{
	uint64_t add = 0;
	/* Windows forward to their parent, adding their offset. */
	while (s && s->ops == &window_ops) {
		const struct window_sink *w = (const struct window_sink *)s;
		add += w->off;
		s = w->parent;
	}
	if (s == NULL || s->ops != &file_ops)
		return -1;
	const struct file_sink *f = (const struct file_sink *)s;
	if (base)
		*base = f->off + add;
	return f->fd;
}

/* ---- copy ---------------------------------------------------------------- */

static int copy_plain(struct i2k_sink *dst, uint64_t dst_off, struct i2k_sink *src,
		      uint64_t src_off, uint64_t len, struct i2k_error **err)
{
	char *buf = i2k_xmalloc(1 << 20);
	int r = 0;
	while (len && r == 0) {
		size_t n = len < (1u << 20) ? (size_t)len : (1u << 20);
		r = i2k_sink_read_at(src, src_off, buf, n, err);
		if (r == 0)
			r = i2k_sink_write_at(dst, dst_off, buf, n, err);
		src_off += n;
		dst_off += n;
		len -= n;
		if (r == 0)
			r = i2k_check_interrupt(err);
	}
	free(buf);
	return r;
}

int i2k_sink_copy(struct i2k_sink *dst, uint64_t dst_off, struct i2k_sink *src, uint64_t src_off,
		  uint64_t len, struct i2k_error **err)
{
	if (check_range(src, src_off, len, "copy from", err) < 0 ||
	    check_range(dst, dst_off, len, "copy to", err) < 0)
		return -1;
	uint64_t sbase = 0, dbase = 0;
	int sfd = i2k_sink_fd(src, &sbase), dfd = i2k_sink_fd(dst, &dbase);
	if (sfd < 0 || dfd < 0)
		return copy_plain(dst, dst_off, src, src_off, len, err);
	/* Walk the source's data extents; holes stay holes in the target
	 * (the target is a fresh sparse file or a zeroed region). */
	uint64_t pos = 0;
	while (pos < len) {
		off_t data = lseek(sfd, (off_t)(sbase + src_off + pos), SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole remains */
			return copy_plain(dst, dst_off + pos, src, src_off + pos, len - pos, err);
		}
		uint64_t dpos = (uint64_t)data - sbase - src_off;
		if (dpos >= len)
			break;
		off_t hole = lseek(sfd, data, SEEK_HOLE);
		uint64_t hpos = hole < 0 ? len : (uint64_t)hole - sbase - src_off;
		if (hpos > len)
			hpos = len;
		if (copy_plain(dst, dst_off + dpos, src, src_off + dpos, hpos - dpos, err) < 0)
			return -1;
		pos = hpos;
	}
	return 0;
}
