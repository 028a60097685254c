/* util.c — the guest init's general helpers (see util.h). */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int i2ki_fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
	int saved = errno; /* callers may look at errno after a failure */
	if (errbuf && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	errno = saved;
	return -1;
}

int i2ki_mkdir_p(const char *path, mode_t mode, char *errbuf, size_t errlen)
{
	char p[I2KI_PATH_MAX];
	size_t l = strlen(path);
	if (l == 0 || l >= sizeof(p)) {
		errno = l ? ENAMETOOLONG : ENOENT;
		return i2ki_fail(errbuf, errlen, "bad path length for %.64s", path);
	}
	memcpy(p, path, l + 1);
	for (size_t i = 1; i <= l; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return i2ki_fail(errbuf, errlen, "mkdir %s: %s", p, strerror(errno));
		p[i] = c;
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return i2ki_fail(errbuf, errlen, "mkdir %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return i2ki_fail(errbuf, errlen, "mkdir %s: not a directory", path);
	}
	return 0;
}

int i2ki_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int i2ki_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = i2ki_write_all(fd, text, strlen(text));
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int i2ki_read_line(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}
