/* blockmemo.c — compressed gzip blocks remembered across builds (see
 * blockmemo.h). */
#include "initrd/blockmemo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define TRAILER 12
#define MAX_BLOCK_FILE (8u << 20)

static char *block_path(const char *dir, const uint8_t key[32])
{
	static const char hex[] = "0123456789abcdef";
	char h[65];
	for (int i = 0; i < 32; i++) {
		h[2 * i] = hex[key[i] >> 4];
		h[2 * i + 1] = hex[key[i] & 15];
	}
	h[64] = '\0';
	return i2k_xasprintf("%s/%s", dir, h);
}

bool i2k_blockmemo_get(const char *dir, const uint8_t key[32], unsigned char **out, size_t *len)
{
	_cleanup_free_ char *p = block_path(dir, key);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < TRAILER ||
	    st.st_size > MAX_BLOCK_FILE)
		return false;
	size_t n = (size_t)st.st_size;
	unsigned char *buf = i2k_xmalloc(n);
	struct i2k_error *e = NULL;
	if (i2k_pread_all(fd, buf, n, 0, &e) < 0) {
		i2k_error_free(e);
		free(buf);
		return false;
	}
	const unsigned char *t = buf + n - TRAILER;
	size_t body = n - TRAILER;
	if (i2k_get_le32(t) != body || memcmp(t + 8, "i2kb", 4) != 0 ||
	    i2k_get_le32(t + 4) != (uint32_t)crc32_z(0, buf, body)) {
		free(buf);
		return false;
	}
	(void)futimens(fd, NULL); /* recently used */
	*out = buf;
	*len = body;
	return true;
}

void i2k_blockmemo_put(const char *dir, const uint8_t key[32], const void *data, size_t len)
{
	if (len + TRAILER > MAX_BLOCK_FILE)
		return;
	struct i2k_error *e = NULL;
	_cleanup_close_ int fd = i2k_tmpfile(dir, "block", &e);
	if (fd < 0) {
		i2k_error_free(e);
		return;
	}
	(void)fchmod(fd, 0644);
	unsigned char t[TRAILER];
	i2k_put_le32(t, (uint32_t)len);
	i2k_put_le32(t + 4, (uint32_t)crc32_z(0, data, len));
	memcpy(t + 8, "i2kb", 4);
	if (i2k_write_all(fd, data, len, &e) < 0 || i2k_write_all(fd, t, sizeof(t), &e) < 0) {
		i2k_error_free(e);
		return;
	}
	_cleanup_free_ char *p = block_path(dir, key);
	if (i2k_tmpfile_link(fd, p, false, &e) < 0)
		i2k_error_free(e);
}

struct blockfile {
	char *name;
	int64_t mtime;
	uint64_t bytes;
};

static int by_age(const void *a, const void *b)
{
	const struct blockfile *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The block files of dir (64-hex names only). */
static size_t list_blocks(const char *dir, struct blockfile **out, uint64_t *total)
{
	*out = NULL;
	*total = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		i2k_xgrow((void **)out, &cap, n + 1, sizeof(**out));
		(*out)[n++] = (struct blockfile){.name = i2k_xstrdup(de->d_name),
						 .mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 +
							  st.st_mtim.tv_nsec,
						 .bytes = (uint64_t)st.st_blocks * 512};
		*total += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return n;
}

static void free_blocks(struct blockfile *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void i2k_blockmemo_trim(const char *dir, uint64_t cap)
{
	struct blockfile *v;
	uint64_t total;
	size_t n = list_blocks(dir, &v, &total);
	if (total > cap) {
		qsort(v, n, sizeof(*v), by_age);
		for (size_t i = 0; i < n && total > cap / 4 * 3; i++) {
			_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, v[i].name);
			if (unlink(p) == 0)
				total -= v[i].bytes;
		}
	}
	free_blocks(v, n);
}

void i2k_blockmemo_usage(const char *dir, size_t *files, uint64_t *bytes)
{
	struct blockfile *v;
	*files = list_blocks(dir, &v, bytes);
	free_blocks(v, *files);
}
