/* unchanged.c — comparing a stream output with the old file under its
 * final name (see unchanged.h). */
#include "formats/unchanged.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/util.h"

#define CMP_CHUNK (256u << 10)

void i2k_unchanged_open(struct i2k_unchanged *u, const char *path)
{
	memset(u, 0, sizeof(*u));
	u->fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (u->fd < 0)
		return;
	struct stat st;
	if (fstat(u->fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0644) {
		i2k_unchanged_close(u);
		return;
	}
	u->old_size = (uint64_t)st.st_size;
	u->dev = st.st_dev;
	u->ino = st.st_ino;
	u->buf = i2k_xmalloc(CMP_CHUNK);
}

bool i2k_unchanged_active(const struct i2k_unchanged *u)
{
	return u->fd >= 0;
}

bool i2k_unchanged_feed(struct i2k_unchanged *u, const void *buf, size_t len)
{
	if (len > u->old_size - u->len)
		return false;
	const char *p = buf;
	for (size_t done = 0; done < len;) {
		size_t k = len - done < CMP_CHUNK ? len - done : CMP_CHUNK;
		ssize_t n = pread(u->fd, u->buf, k, (off_t)(u->len + done));
		if (n != (ssize_t)k || memcmp(u->buf, p + done, k) != 0)
			return false;
		done += k;
	}
	u->len += len;
	return true;
}

int i2k_unchanged_materialize(struct i2k_unchanged *u, int fd, struct i2k_error **err)
{
	if (i2k_copy_fd_range(u->fd, 0, fd, 0, u->len, err) < 0)
		return i2k_error_wrap(err, "copying the unchanged part");
	if (lseek(fd, (off_t)u->len, SEEK_SET) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "copying the unchanged part");
	i2k_unchanged_close(u);
	return 0;
}

bool i2k_unchanged_kept(struct i2k_unchanged *u, const char *path)
{
	if (u->fd < 0 || u->len != u->old_size)
		return false;
	struct stat st;
	if (lstat(path, &st) < 0 || st.st_dev != u->dev || st.st_ino != u->ino ||
	    (uint64_t)st.st_size != u->old_size)
		return false;
	return fsync(u->fd) == 0;
}

void i2k_unchanged_close(struct i2k_unchanged *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	free(u->buf);
	u->buf = NULL;
}
