/* util.c — see util.h. */
#include "builder/base/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"

volatile sig_atomic_t i2k_interrupted;

void *i2k_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

void *i2k_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		abort();
	return p;
}

void *i2k_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

void i2k_xgrow(void **arr, size_t *cap, size_t need, size_t elsz)
{
	if (need <= *cap)
		return;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	*arr = i2k_xrealloc(*arr, ncap * elsz);
	*cap = ncap;
}

char *i2k_xstrdup(const char *s)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		abort();
	return d;
}

char *i2k_xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (d == NULL)
		abort();
	return d;
}

char *i2k_xasprintf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		abort();
	return s;
}

bool i2k_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool i2k_str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

int i2k_buf_append(struct i2k_buf *b, const void *data, size_t len, struct i2k_error **err)
{
	if (b->max && b->len + len > b->max)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "data exceeds %zu bytes", b->max);
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + len + 1)
			ncap *= 2;
		b->data = i2k_xrealloc(b->data, ncap);
		b->cap = ncap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void i2k_buf_free(struct i2k_buf *b)
{
	size_t max = b->max;
	free(b->data);
	memset(b, 0, sizeof(*b));
	b->max = max;
}

int i2k_read_fd(int fd, size_t max, char **out, size_t *len, struct i2k_error **err)
{
	struct i2k_buf b = {.max = max};
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			i2k_buf_free(&b);
			return i2k_error_errno(err, errno, I2K_ERR_IO, "read");
		}
		if (n == 0)
			break;
		if (i2k_buf_append(&b, chunk, (size_t)n, err) < 0) {
			i2k_buf_free(&b);
			return -1;
		}
	}
	if (b.data == NULL)
		b.data = i2k_xstrdup("");
	*out = b.data;
	if (len)
		*len = b.len;
	return 0;
}

int i2k_read_file(const char *path, size_t max, char **out, size_t *len, struct i2k_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return i2k_error_errno(err, errno, errno == ENOENT ? I2K_ERR_NOTFOUND : I2K_ERR_IO,
				       "%s", path);
	if (i2k_read_fd(fd, max, out, len, err) < 0)
		return i2k_error_wrap(err, "%s", path);
	return 0;
}

int i2k_write_all(int fd, const void *buf, size_t len, struct i2k_error **err)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return i2k_error_errno(err, errno, I2K_ERR_IO, "write");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int i2k_pwrite_all(int fd, const void *buf, size_t len, off_t off, struct i2k_error **err)
{
	const char *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return i2k_error_errno(err, errno, I2K_ERR_IO, "write");
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

void i2k_writeback_start(struct i2k_writeback *w)
{
	w->pending = 0;
	if (w->fd >= 0)
		(void)sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

void i2k_writeback_add(struct i2k_writeback *w, size_t n)
{
	w->pending += n;
	w->written += n;
	if (w->pending < I2K_WRITEBACK_STEP)
		return;
	i2k_writeback_start(w);
	if (w->fd >= 0 && w->written > (w->keep ? w->keep : I2K_WRITEBACK_KEEP))
		(void)posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
}

int i2k_pread_all(int fd, void *buf, size_t len, off_t off, struct i2k_error **err)
{
	char *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return i2k_error_errno(err, errno, I2K_ERR_IO, "read");
		}
		if (n == 0)
			return i2k_error_set(err, I2K_ERR_IO, "unexpected end of file");
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* errno values of a copy_file_range that this kernel or filesystem pair
 * cannot do, as opposed to an I/O error. */
static bool copy_unsupported(int e)
{
	return e == EXDEV || e == EINVAL || e == ENOSYS || e == EOPNOTSUPP || e == EBADF;
}

int i2k_copy_fd_range(int in, uint64_t in_off, int out, uint64_t out_off, uint64_t len,
		      struct i2k_error **err)
{
	enum { BY_HAND_CHUNK = 1u << 20, KERNEL_CHUNK = 1u << 30 };
	loff_t i = (loff_t)in_off, o = (loff_t)out_off;
	_cleanup_free_ uint8_t *buf = NULL;
	while (len > 0) {
		if (i2k_check_interrupt(err) < 0)
			return -1;
		if (buf == NULL) {
			size_t want = len > KERNEL_CHUNK ? KERNEL_CHUNK : (size_t)len;
			ssize_t n = copy_file_range(in, &i, out, &o, want, 0);
			if (n > 0) {
				len -= (uint64_t)n;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && !copy_unsupported(errno))
				return i2k_error_errno(err, errno, I2K_ERR_IO, "copy");
			/* not here, or in ended (n == 0): the reads below say which */
			buf = i2k_xmalloc(BY_HAND_CHUNK);
		}
		size_t k = len > BY_HAND_CHUNK ? BY_HAND_CHUNK : (size_t)len;
		if (i2k_pread_all(in, buf, k, i, err) < 0 ||
		    i2k_pwrite_all(out, buf, k, o, err) < 0)
			return -1;
		i += (loff_t)k;
		o += (loff_t)k;
		len -= k;
	}
	return 0;
}

int i2k_mkdir_p(const char *path, mode_t mode, struct i2k_error **err)
{
	_cleanup_free_ char *p = i2k_xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "mkdir %s", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "mkdir %s", p);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

void i2k_dir_usage(const char *dir, const char *suffix, size_t *count, uint64_t *bytes)
{
	*count = 0;
	*bytes = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	struct stat st;
	while ((e = readdir(d)) != NULL) {
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		*bytes += (uint64_t)st.st_blocks * 512;
		if (i2k_str_has_suffix(e->d_name, suffix))
			(*count)++;
	}
	closedir(d);
}

int i2k_rm_rf(const char *path, struct i2k_error **err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : i2k_error_errno(err, errno, I2K_ERR_IO, "%s", path);
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "removing %s", path);
	return 0;
}

int i2k_fsync_parent(const char *path, struct i2k_error **err)
{
	_cleanup_free_ char *dir = i2k_xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash == NULL) {
		free(dir);
		dir = i2k_xstrdup(".");
	} else if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "open %s", dir);
	if (fsync(fd) < 0 && errno != EINVAL)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "fsync %s", dir);
	return 0;
}

/* ---- atomic outputs ----------------------------------------------------------
 * Named temp files are ".NAME.tmp-PID-XXXXXX": the writer's pid lets a later
 * writer in the same directory sweep what a killed one left. */

/* The pid in a ".NAME.tmp-PID-XXXXXX" name, 0 when it is not one. */
static pid_t temp_owner(const char *name)
{
	if (name[0] != '.')
		return 0;
	const char *t = NULL;
	for (const char *p = strstr(name, ".tmp-"); p; p = strstr(p + 1, ".tmp-"))
		t = p;
	if (t == NULL)
		return 0;
	long pid = 0;
	const char *d = t + 5;
	for (; *d >= '0' && *d <= '9' && pid < 100000000; d++)
		pid = pid * 10 + (*d - '0');
	if (d == t + 5 || *d != '-' || strlen(d + 1) != 6 || pid <= 0)
		return 0;
	return (pid_t)pid;
}

void i2k_atomic_sweep(const char *dir)
{
	_cleanup_close_ int dfd = open(dir && *dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	DIR *d = fdopendir(dfd);
	if (d == NULL)
		return;
	dfd = -1; /* owned by d now */
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		pid_t pid = temp_owner(de->d_name);
		if (pid > 0 && pid != getpid() && kill(pid, 0) < 0 && errno == ESRCH)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

/* A fresh ".BASE.tmp-PID-XXXXXX" path beside final_path. */
static char *temp_name(const char *final_path)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	static unsigned counter;
	const char *slash = strrchr(final_path, '/');
	size_t dirlen = slash ? (size_t)(slash - final_path) + 1 : 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)ts.tv_sec ^
		     ((uint64_t)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) << 32);
	char sfx[7];
	for (int i = 0; i < 6; i++) {
		sfx[i] = chars[x % 36];
		x /= 36;
	}
	sfx[6] = '\0';
	return i2k_xasprintf("%.*s.%s.tmp-%ld-%s", (int)dirlen, final_path, final_path + dirlen,
			     (long)getpid(), sfx);
}

int i2k_atomic_open(struct i2k_atomic_file *af, const char *final_path, mode_t mode,
		    struct i2k_error **err)
{
	memset(af, 0, sizeof(*af));
	af->fd = -1;
	const char *slash = strrchr(final_path, '/');
	_cleanup_free_ char *dir =
	    slash ? i2k_xstrndup(final_path, (size_t)(slash - final_path) + 1) : i2k_xstrdup(".");
	i2k_atomic_sweep(dir);
	af->final_path = i2k_xstrdup(final_path);
	/* An unnamed file: a killed writer leaves nothing behind. */
	af->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (af->fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL &&
	    errno != ENOENT) {
		int e = errno;
		free(af->final_path);
		af->final_path = NULL;
		return i2k_error_errno(err, e, I2K_ERR_IO, "creating %s", final_path);
	}
	for (int tries = 0; af->fd < 0 && tries < 100; tries++) {
		free(af->tmp_path);
		af->tmp_path = temp_name(final_path);
		af->fd = open(af->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (af->fd < 0 && errno != EEXIST)
			break;
	}
	if (af->fd < 0) {
		int e = errno;
		free(af->tmp_path);
		free(af->final_path);
		af->tmp_path = af->final_path = NULL;
		return i2k_error_errno(err, e, I2K_ERR_IO, "creating %s", final_path);
	}
	if (fchmod(af->fd, mode) < 0) {
		int e = errno;
		i2k_atomic_abort(af);
		return i2k_error_errno(err, e, I2K_ERR_IO, "chmod %s", final_path);
	}
	return 0;
}

/* Gives the unnamed file of af a temp name (linkat), which commit then
 * renames over the final name. */
static int link_anonymous(struct i2k_atomic_file *af)
{
	for (int tries = 0; tries < 100; tries++) {
		char *tmp = temp_name(af->final_path);
		int r = linkat(af->fd, "", AT_FDCWD, tmp, AT_EMPTY_PATH);
		if (r < 0 && (errno == ENOENT || errno == EPERM || errno == EINVAL)) {
			char proc[64];
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", af->fd);
			r = linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW);
		}
		if (r == 0) {
			af->tmp_path = tmp;
			return 0;
		}
		int e = errno;
		free(tmp);
		if (e != EEXIST) {
			errno = e;
			return -1;
		}
	}
	errno = EEXIST;
	return -1;
}

int i2k_atomic_adopt(struct i2k_atomic_file *af, int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d < 0)
		return -1;
	struct i2k_atomic_file na = {.fd = d, .final_path = af->final_path};
	if (link_anonymous(&na) < 0) {
		int e = errno;
		close(d);
		errno = e;
		return -1;
	}
	if (af->tmp_path)
		unlink(af->tmp_path);
	free(af->tmp_path);
	if (af->fd >= 0)
		close(af->fd);
	af->fd = d;
	af->tmp_path = na.tmp_path;
	return 0;
}

int i2k_atomic_commit(struct i2k_atomic_file *af, struct i2k_error **err)
{
	const char *what = NULL;
	int e = 0;
	if (fsync(af->fd) < 0) {
		e = errno;
		what = "fsync";
	} else if (af->tmp_path == NULL && link_anonymous(af) < 0) {
		e = errno;
		what = "linking";
	} else if (close(af->fd) < 0) {
		e = errno;
		what = "close";
		af->fd = -1;
	} else {
		af->fd = -1;
		if (rename(af->tmp_path, af->final_path) < 0) {
			e = errno;
			what = "rename to";
		}
	}
	if (what) {
		i2k_error_errno(err, e, I2K_ERR_IO, "%s %s", what, af->final_path);
		i2k_atomic_abort(af);
		return -1;
	}
	int r = i2k_fsync_parent(af->final_path, err);
	free(af->tmp_path);
	free(af->final_path);
	af->tmp_path = af->final_path = NULL;
	return r;
}

void i2k_atomic_abort(struct i2k_atomic_file *af)
{
	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	if (af->tmp_path)
		unlink(af->tmp_path);
	free(af->tmp_path);
	free(af->final_path);
	af->tmp_path = af->final_path = NULL;
}

int i2k_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			  struct i2k_error **err)
{
	struct i2k_atomic_file af;
	if (i2k_atomic_open(&af, path, mode, err) < 0)
		return -1;
	if (i2k_write_all(af.fd, data, len, err) < 0) {
		i2k_atomic_abort(&af);
		return i2k_error_wrap(err, "%s", path);
	}
	return i2k_atomic_commit(&af, err);
}

int i2k_tmpfile(const char *dir, const char *what, struct i2k_error **err)
{
	if (dir == NULL || dir[0] == '\0') {
		dir = getenv("TMPDIR");
		if (dir == NULL || dir[0] == '\0')
			dir = "/var/tmp";
	}
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s in %s", what, dir);
	_cleanup_free_ char *tmpl = i2k_xasprintf("%s/.i2kit-tmp.XXXXXX", dir);
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s in %s", what, dir);
	unlink(tmpl);
	return fd;
}

int i2k_tmpfile_link(int fd, const char *path, bool replace, struct i2k_error **err)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (int tries = 0; tries < 3; tries++) {
		if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			break;
		if (!replace)
			return 0;
		unlink(path);
	}
	return i2k_error_errno(err, errno, I2K_ERR_IO, "storing %s", path);
}

int64_t i2k_source_date_epoch(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	if (s == NULL || *s == '\0')
		return 0;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < 0)
		return 0;
	return (int64_t)v;
}

int i2k_check_interrupt(struct i2k_error **err)
{
	if (i2k_interrupted)
		return i2k_error_set(err, I2K_ERR_INTERRUPTED, "interrupted");
	return 0;
}

static void default_warn(const char *msg, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "i2kit: warning: %s\n", msg);
}

static i2k_warn_fn warn_fn = default_warn;
static void *warn_ctx;

void i2k_set_warn_handler(i2k_warn_fn fn, void *ctx)
{
	warn_fn = fn ? fn : default_warn;
	warn_ctx = ctx;
}

void i2k_warn(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	warn_fn(s, warn_ctx);
	free(s);
}

int i2k_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}
