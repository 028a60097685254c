/* log.c — console logging for the guest init (see log.h). */
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int i2ki_log_verbose;
int i2ki_log_fd = 2;

#define MAX_CONSOLES 4
static int consoles[MAX_CONSOLES];
static int nconsoles;

void i2ki_log_open_consoles(void)
{
	char buf[1024];
	int fd = open("/proc/consoles", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (char *line = buf, *next; line && *line && nconsoles < MAX_CONSOLES; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		size_t len = strcspn(line, " \t");
		char path[64];
		if (len == 0 || len > 32 || memchr(line, '/', len))
			continue;
		snprintf(path, sizeof(path), "/dev/%.*s", (int)len, line);
		int c = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (c >= 0)
			consoles[nconsoles++] = c;
	}
}

void i2ki_console_write(const void *buf, unsigned long len)
{
	if (nconsoles == 0) {
		(void)i2ki_write_all(i2ki_log_fd, buf, len);
		return;
	}
	for (int i = 0; i < nconsoles; i++)
		(void)i2ki_write_all(consoles[i], buf, len);
}

static void vlog(const char *level, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	char line[1024];
	size_t len = 0;
	int n;
	if (i2ki_log_verbose) {
		/* seconds since boot, as the kernel's own lines: what a step costs */
		struct timespec ts;
		clock_gettime(CLOCK_BOOTTIME, &ts);
		n = snprintf(line, sizeof(line), "i2kit-init: [%5lld.%06ld] %s",
			     (long long)ts.tv_sec, ts.tv_nsec / 1000, level);
	} else {
		n = snprintf(line, sizeof(line), "i2kit-init: %s", level);
	}
	if (n > 0)
		len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	if (with_errno) {
		n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(saved));
		if (n > 0)
			len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	}
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	i2ki_console_write(line, len);
	errno = saved;
}

void i2ki_log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("", 0, fmt, ap);
	va_end(ap);
}

void i2ki_log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", 0, fmt, ap);
	va_end(ap);
}

void i2ki_log_errno(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog("warning: ", 1, fmt, ap);
	va_end(ap);
}

void i2ki_log_debug(const char *fmt, ...)
{
	va_list ap;
	if (!i2ki_log_verbose)
		return;
	va_start(ap, fmt);
	vlog("debug: ", 0, fmt, ap);
	va_end(ap);
}
