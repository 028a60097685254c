/* util.h — the guest init's general helpers: a one-line reason into the
 * caller's buffer, mkdir -p, writing and reading small files. libc only;
 * nothing here allocates, exits or prints (the init is PID 1). */
#ifndef I2K_INITRD_INIT_UTIL_H
#define I2K_INITRD_INIT_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Longest path the helpers below accept (bytes, with the NUL). */
#define I2KI_PATH_MAX 1024

/* Formats "fmt..." into errbuf (NULL or errlen 0: nothing) and returns -1
 * with errno unchanged, so callers can `return i2ki_fail(...)`. */
int i2ki_fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mkdir -p: creates path and each missing parent with mode; directories
 * that exist are fine. 0, or -1 with errno set (ENAMETOOLONG, ENOTDIR when
 * path exists but is not a directory, or mkdir's) and a one-line reason in
 * errbuf (may be NULL). */
int i2ki_mkdir_p(const char *path, mode_t mode, char *errbuf, size_t errlen);

/* Writes all len bytes of buf to fd, retrying on EINTR and short writes;
 * 0, or -1 (errno) on any other error. */
int i2ki_write_all(int fd, const void *buf, size_t len);

/* Writes text to an existing file (a sysfs, procfs or cgroup knob): 0, or
 * -1 (errno). */
int i2ki_write_file(const char *path, const char *text);

/* Reads the first line of a small file (a sysfs attribute) into buf:
 * NUL-terminated, without the newline, at most len - 1 bytes (len > 0).
 * 0 (an empty file gives ""), or -1 (errno) when it cannot be opened or
 * read. */
int i2ki_read_line(const char *path, char *buf, size_t len);

#endif
