/* spool.c — see spool.h. */
#include "builder/fstree/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

/* Attached read-only files: segment k (k >= 1) spans offsets
 * [k << SEG_SHIFT, (k << SEG_SHIFT) + size); segment 0 is the temp file. */
#define SEG_SHIFT 48
#define MAX_SEGS 4096

struct segment {
	int fd;
	uint64_t size;
};

struct i2k_spool {
	int fd;
	struct segment *segs; /* segs[k - 1] is segment k */
	size_t nsegs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t end;	    /* next free offset */
	uint64_t file_size; /* bytes the file really has (>= every written byte) */
	bool streaming;
	pthread_t writer;
	uint64_t stream_off; /* start of the current stream */
	uint64_t stream_len; /* its length so far */
};

int i2k_spool_new(const char *dir, struct i2k_spool **out, struct i2k_error **err)
{
	int fd = i2k_tmpfile(dir, "spool", err);
	if (fd < 0)
		return -1;
	struct i2k_spool *s = i2k_xcalloc(1, sizeof(*s));
	s->fd = fd;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	*out = s;
	return 0;
}

void i2k_spool_free(struct i2k_spool *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	for (size_t i = 0; i < s->nsegs; i++)
		close(s->segs[i].fd);
	free(s->segs);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

void i2k_spool_freep(struct i2k_spool **s)
{
	i2k_spool_free(*s);
	*s = NULL;
}

int i2k_spool_attach(struct i2k_spool *s, int fd, uint64_t size, uint64_t *base,
		     struct i2k_error **err)
{
	if (size >= (1ull << SEG_SHIFT))
		return i2k_error_set(err, I2K_ERR_IO, "spool: attached file too large");
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "spool: dup");
	pthread_mutex_lock(&s->mu);
	if (s->nsegs + 1 >= MAX_SEGS) {
		pthread_mutex_unlock(&s->mu);
		close(d);
		return i2k_error_set(err, I2K_ERR_IO, "spool: too many attached files");
	}
	s->segs = i2k_xrealloc(s->segs, (s->nsegs + 1) * sizeof(*s->segs));
	s->segs[s->nsegs++] = (struct segment){.fd = d, .size = size};
	*base = (uint64_t)s->nsegs << SEG_SHIFT;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Attached segments are never removed, so a segment's entry, once seen,
 * stays valid; the array itself may move (realloc), hence the lock. */
int i2k_spool_fd_at(struct i2k_spool *s, uint64_t off, uint64_t *file_off)
{
	uint64_t k = off >> SEG_SHIFT;
	*file_off = off & ((1ull << SEG_SHIFT) - 1);
	if (k == 0)
		return s->fd;
	pthread_mutex_lock(&s->mu);
	int fd = k <= s->nsegs ? s->segs[k - 1].fd : -1;
	pthread_mutex_unlock(&s->mu);
	return fd;
}

uint64_t i2k_spool_size(struct i2k_spool *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t r = s->end;
	for (size_t i = 0; i < s->nsegs; i++)
		r += s->segs[i].size;
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* Waits until no stream is open; called with mu held. */
static void wait_idle(struct i2k_spool *s)
{
	while (s->streaming)
		pthread_cond_wait(&s->cv, &s->mu);
}

static int pwrite_at(struct i2k_spool *s, const void *data, size_t len, uint64_t off,
		     struct i2k_error **err)
{
	if (off > INT64_MAX - len)
		return i2k_error_set(err, I2K_ERR_IO, "spool: offset overflow");
	if (i2k_pwrite_all(s->fd, data, len, (off_t)off, err) < 0)
		return i2k_error_wrap(err, "spool");
	return 0;
}

int i2k_spool_append(struct i2k_spool *s, const void *data, size_t len, uint64_t *off,
		     struct i2k_error **err)
{
	pthread_mutex_lock(&s->mu);
	wait_idle(s);
	uint64_t at = s->end;
	/* Reserve the range, then write it without holding the lock. */
	s->end += len;
	if (s->end > s->file_size)
		s->file_size = s->end;
	pthread_mutex_unlock(&s->mu);
	if (len && pwrite_at(s, data, len, at, err) < 0)
		return -1;
	if (off)
		*off = at;
	return 0;
}

int i2k_spool_append_fd(struct i2k_spool *s, int fd, uint64_t *off, uint64_t *size,
			struct i2k_error **err)
{
	uint64_t at;
	if (i2k_spool_begin(s, &at, err) < 0)
		return -1;
	_cleanup_free_ char *buf = i2k_xmalloc(1 << 20);
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			i2k_spool_abort(s);
			return i2k_error_errno(err, errno, I2K_ERR_IO, "spool: read");
		}
		if (n == 0)
			break;
		if (i2k_spool_write(s, buf, (size_t)n, err) < 0) {
			i2k_spool_abort(s);
			return -1;
		}
	}
	uint64_t len;
	if (i2k_spool_end(s, &len, err) < 0)
		return -1;
	if (off)
		*off = at;
	if (size)
		*size = len;
	return 0;
}

int i2k_spool_begin(struct i2k_spool *s, uint64_t *off, struct i2k_error **err)
{
	pthread_mutex_lock(&s->mu);
	if (s->streaming && pthread_equal(s->writer, pthread_self())) {
		pthread_mutex_unlock(&s->mu);
		return i2k_error_set(err, I2K_ERR_INTERNAL, "spool: begin while a stream is open");
	}
	wait_idle(s);
	s->streaming = true;
	s->writer = pthread_self();
	s->stream_off = s->end;
	s->stream_len = 0;
	pthread_mutex_unlock(&s->mu);
	if (off)
		*off = s->stream_off;
	return 0;
}

/* The stream's fields are only touched by its writer between begin and
 * end; other threads wait for !streaming before reading them. */
int i2k_spool_write_at(struct i2k_spool *s, uint64_t rel, const void *data, size_t len,
		       struct i2k_error **err)
{
	if (!s->streaming)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "spool: write without begin");
	if (rel > UINT64_MAX - s->stream_off - len)
		return i2k_error_set(err, I2K_ERR_IO, "spool: offset overflow");
	if (len && pwrite_at(s, data, len, s->stream_off + rel, err) < 0)
		return -1;
	if (rel + len > s->stream_len)
		s->stream_len = rel + len;
	uint64_t written_end = s->stream_off + rel + len;
	pthread_mutex_lock(&s->mu);
	if (written_end > s->file_size)
		s->file_size = written_end;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

int i2k_spool_write(struct i2k_spool *s, const void *data, size_t len, struct i2k_error **err)
{
	return i2k_spool_write_at(s, s->stream_len, data, len, err);
}

void i2k_spool_extend(struct i2k_spool *s, uint64_t len)
{
	if (s->streaming && len > s->stream_len)
		s->stream_len = len;
}

int i2k_spool_end(struct i2k_spool *s, uint64_t *size, struct i2k_error **err)
{
	if (!s->streaming)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "spool: end without begin");
	int r = 0;
	pthread_mutex_lock(&s->mu);
	uint64_t new_end = s->stream_off + s->stream_len;
	if (new_end > s->file_size) {
		/* a trailing hole: make the file long enough to read it back */
		if (ftruncate(s->fd, (off_t)new_end) < 0)
			r = i2k_error_errno(err, errno, I2K_ERR_IO, "spool: extend");
		else
			s->file_size = new_end;
	}
	if (r == 0) {
		s->end = new_end;
		if (size)
			*size = s->stream_len;
	}
	s->streaming = false;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return r;
}

void i2k_spool_abort(struct i2k_spool *s)
{
	pthread_mutex_lock(&s->mu);
	s->streaming = false;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int i2k_spool_read(struct i2k_spool *s, uint64_t off, void *buf, size_t len, struct i2k_error **err)
{
	if (len == 0)
		return 0;
	uint64_t at;
	int fd = i2k_spool_fd_at(s, off, &at);
	if (fd < 0 || at > INT64_MAX - len)
		return i2k_error_set(err, I2K_ERR_IO, "spool: read offset out of range");
	if (i2k_pread_all(fd, buf, len, (off_t)at, err) < 0)
		return i2k_error_wrap(err, "spool");
	return 0;
}

int i2k_spool_extent_fd(struct i2k_spool *s, uint64_t off, uint64_t size, int *out,
			struct i2k_error **err)
{
	int fd = i2k_tmpfile(NULL, "temporary file", err);
	if (fd < 0)
		return -1;
	uint64_t at;
	int src = i2k_spool_fd_at(s, off, &at);
	if (src < 0) {
		close(fd);
		return i2k_error_set(err, I2K_ERR_IO, "spool: extent out of range");
	}
	/* the copy leaves fd's offset at 0, where the caller reads from */
	if (i2k_copy_fd_range(src, at, fd, 0, size, err) < 0) {
		close(fd);
		return -1;
	}
	*out = fd;
	return 0;
}
