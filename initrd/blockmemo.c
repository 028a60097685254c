/* blockmemo.c — compressed gzip blocks remembered across builds, one pack
 * file per build (see blockmemo.h). */
#include "initrd/blockmemo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

#define ENTRY_SIZE 48 /* key 32, offset 8, length 4, CRC-32 4 */
#define FOOTER_SIZE 16
#define PACK_VERSION 1
#define PACK_SUFFIX ".pack"
#define MAX_BLOCK (8u << 20)   /* a longer block is not stored */
#define MAX_ENTRIES (1u << 22) /* a pack claiming more is damaged */

/* One stored block. The table is open-addressed on the key's first bytes
 * (a sha256: uniform). */
struct slot {
	uint8_t key[32];
	uint64_t off;
	uint32_t len, crc;
	uint32_t pack; /* index into packs */
	bool full;
};

struct pack {
	char *path; /* NULL for the pack being written */
	int fd;	    /* -1 until the first hit opens it */
	bool open_failed, hit;
};

struct i2k_blockmemo {
	char *dir;
	pthread_mutex_t mu;
	struct slot *slots;
	size_t cap, n; /* cap: a power of two, at least 2n */
	struct pack *packs;
	size_t npacks, packs_cap;
	/* the new pack: packs[own] once the first put made its file */
	size_t own;
	bool have_own, closed; /* closed: no more puts (committed, or a write failed) */
	uint64_t own_end;
	uint8_t *index; /* its entries so far, in the pack's format */
	size_t index_n, index_cap;
};

static bool is_hex64(const char *s)
{
	return strspn(s, "0123456789abcdef") == 64;
}

/* A pack's name: 64 hex digits and the suffix. */
static bool is_pack_name(const char *name)
{
	return strlen(name) == 64 + strlen(PACK_SUFFIX) && is_hex64(name) &&
	       strcmp(name + 64, PACK_SUFFIX) == 0;
}

/* A block file of the earlier layout: 64 hex digits. */
static bool is_old_block_name(const char *name)
{
	return strlen(name) == 64 && is_hex64(name);
}

/* ---- the table ------------------------------------------------------------ */

static struct slot *find(struct i2k_blockmemo *m, const uint8_t key[32])
{
	if (m->cap == 0)
		return NULL;
	for (size_t i = i2k_get_le64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].full)
			return NULL;
		if (memcmp(m->slots[i].key, key, 32) == 0)
			return &m->slots[i];
	}
}

static void place(struct slot *slots, size_t cap, const struct slot *s)
{
	size_t i = i2k_get_le64(s->key) & (cap - 1);
	while (slots[i].full)
		i = (i + 1) & (cap - 1);
	slots[i] = *s;
}

/* Adds s unless its key is there already (the same key means the same
 * bytes, so the first copy serves). */
static void insert(struct i2k_blockmemo *m, const struct slot *s)
{
	if (find(m, s->key))
		return;
	if (2 * (m->n + 1) > m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 1024;
		struct slot *grown = i2k_xcalloc(cap, sizeof(*grown));
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].full)
				place(grown, cap, &m->slots[i]);
		free(m->slots);
		m->slots = grown;
		m->cap = cap;
	}
	place(m->slots, m->cap, s);
	m->n++;
}

static size_t add_pack(struct i2k_blockmemo *m, char *path, int fd)
{
	i2k_xgrow((void **)&m->packs, &m->packs_cap, m->npacks + 1, sizeof(*m->packs));
	m->packs[m->npacks] = (struct pack){.path = path, .fd = fd};
	return m->npacks++;
}

/* ---- reading packs -------------------------------------------------------- */

/* The entry count of the pack open as fd (size bytes) and its index, read
 * into *index (malloc'd); false if the footer or the index fails its
 * checks. */
static bool read_index(int fd, uint64_t size, uint32_t *count, uint8_t **index)
{
	uint8_t f[FOOTER_SIZE];
	struct i2k_error *e = NULL;
	if (size < FOOTER_SIZE ||
	    i2k_pread_all(fd, f, sizeof(f), (off_t)(size - FOOTER_SIZE), &e) < 0) {
		i2k_error_free(e);
		return false;
	}
	uint32_t n = i2k_get_le32(f);
	if (memcmp(f + 12, "i2kp", 4) != 0 || i2k_get_le32(f + 8) != PACK_VERSION ||
	    n > MAX_ENTRIES || (uint64_t)n * ENTRY_SIZE > size - FOOTER_SIZE)
		return false;
	*count = n;
	size_t isz = (size_t)n * ENTRY_SIZE;
	uint8_t *idx = i2k_xmalloc(isz ? isz : 1);
	if (i2k_pread_all(fd, idx, isz, (off_t)(size - FOOTER_SIZE - isz), &e) < 0 ||
	    (uint32_t)crc32_z(0, idx, isz) != i2k_get_le32(f + 4)) {
		i2k_error_free(e);
		free(idx);
		return false;
	}
	*index = idx;
	return true;
}

/* Reads the index of dir/name into m's table. */
static void load_pack(struct i2k_blockmemo *m, int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	uint32_t n;
	uint8_t *idx = NULL;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !read_index(fd, (uint64_t)st.st_size, &n, &idx))
		return;
	uint64_t data_end = (uint64_t)st.st_size - FOOTER_SIZE - (uint64_t)n * ENTRY_SIZE;
	size_t p = add_pack(m, i2k_xasprintf("%s/%s", m->dir, name), -1);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = idx + (size_t)i * ENTRY_SIZE;
		struct slot s = {.off = i2k_get_le64(e + 32),
				 .len = i2k_get_le32(e + 40),
				 .crc = i2k_get_le32(e + 44),
				 .pack = (uint32_t)p,
				 .full = true};
		memcpy(s.key, e, 32);
		if (s.len <= MAX_BLOCK && s.off <= data_end && s.len <= data_end - s.off)
			insert(m, &s);
	}
	free(idx);
}

struct i2k_blockmemo *i2k_blockmemo_open(const char *dir)
{
	struct i2k_blockmemo *m = i2k_xcalloc(1, sizeof(*m));
	m->dir = i2k_xstrdup(dir);
	pthread_mutex_init(&m->mu, NULL);
	DIR *d = opendir(dir);
	if (d == NULL)
		return m;
	struct dirent *de;
	while ((de = readdir(d)) != NULL)
		if (is_pack_name(de->d_name))
			load_pack(m, dirfd(d), de->d_name);
	closedir(d);
	return m;
}

bool i2k_blockmemo_get(struct i2k_blockmemo *m, const uint8_t key[32], unsigned char **out,
		       size_t *len)
{
	pthread_mutex_lock(&m->mu);
	const struct slot *s = find(m, key);
	int fd = -1;
	struct slot copy;
	if (s) {
		copy = *s;
		struct pack *p = &m->packs[s->pack];
		if (p->fd < 0 && !p->open_failed) {
			p->fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			p->open_failed = p->fd < 0;
		}
		fd = p->fd;
		p->hit = fd >= 0;
	}
	pthread_mutex_unlock(&m->mu);
	if (fd < 0)
		return false;
	unsigned char *buf = i2k_xmalloc(copy.len ? copy.len : 1);
	struct i2k_error *e = NULL;
	if (i2k_pread_all(fd, buf, copy.len, (off_t)copy.off, &e) < 0 ||
	    (uint32_t)crc32_z(0, buf, copy.len) != copy.crc) {
		i2k_error_free(e);
		free(buf);
		return false;
	}
	*out = buf;
	*len = copy.len;
	return true;
}

/* ---- writing the new pack ------------------------------------------------- */

void i2k_blockmemo_put(struct i2k_blockmemo *m, const uint8_t key[32], const void *data, size_t len)
{
	if (len > MAX_BLOCK)
		return;
	uint32_t crc = (uint32_t)crc32_z(0, data, len);
	pthread_mutex_lock(&m->mu);
	if (m->closed || find(m, key)) {
		pthread_mutex_unlock(&m->mu);
		return;
	}
	if (!m->have_own) {
		struct i2k_error *e = NULL;
		int fd = i2k_tmpfile(m->dir, "blocks", &e);
		i2k_error_free(e);
		if (fd < 0) {
			m->closed = true;
			pthread_mutex_unlock(&m->mu);
			return;
		}
		(void)fchmod(fd, 0644);
		m->own = add_pack(m, NULL, fd);
		m->have_own = true;
	}
	int fd = m->packs[m->own].fd;
	uint64_t off = m->own_end;
	m->own_end += len;
	pthread_mutex_unlock(&m->mu);

	struct i2k_error *e = NULL;
	bool ok = i2k_pwrite_all(fd, data, len, (off_t)off, &e) == 0;
	i2k_error_free(e);

	pthread_mutex_lock(&m->mu);
	if (!ok) {
		m->closed = true;		  /* the pack has a hole: never link it */
	} else if (!m->closed && !find(m, key)) { /* (another thread may have won) */
		struct slot s = {.off = off,
				 .len = (uint32_t)len,
				 .crc = crc,
				 .pack = (uint32_t)m->own,
				 .full = true};
		memcpy(s.key, key, 32);
		insert(m, &s);
		i2k_xgrow((void **)&m->index, &m->index_cap, (m->index_n + 1) * ENTRY_SIZE, 1);
		uint8_t *ent = m->index + m->index_n * ENTRY_SIZE;
		memcpy(ent, key, 32);
		i2k_put_le64(ent + 32, off);
		i2k_put_le32(ent + 40, (uint32_t)len);
		i2k_put_le32(ent + 44, crc);
		m->index_n++;
	}
	pthread_mutex_unlock(&m->mu);
}

/* Writes the index and footer after the blocks and links the pack in. */
static void link_own(struct i2k_blockmemo *m)
{
	int fd = m->packs[m->own].fd;
	size_t isz = m->index_n * ENTRY_SIZE;
	uint8_t f[FOOTER_SIZE];
	i2k_put_le32(f, (uint32_t)m->index_n);
	i2k_put_le32(f + 4, (uint32_t)crc32_z(0, m->index, isz));
	i2k_put_le32(f + 8, PACK_VERSION);
	memcpy(f + 12, "i2kp", 4);
	char digest[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(m->index, isz, digest);
	_cleanup_free_ char *path = i2k_xasprintf("%s/%s" PACK_SUFFIX, m->dir, digest + 7);
	struct i2k_error *e = NULL;
	if (i2k_pwrite_all(fd, m->index, isz, (off_t)m->own_end, &e) < 0 ||
	    i2k_pwrite_all(fd, f, sizeof(f), (off_t)(m->own_end + isz), &e) < 0 ||
	    i2k_tmpfile_link(fd, path, false, &e) < 0)
		i2k_error_free(e);
}

void i2k_blockmemo_commit(struct i2k_blockmemo *m)
{
	pthread_mutex_lock(&m->mu);
	if (m->have_own && !m->closed && m->index_n > 0)
		link_own(m);
	m->closed = true;
	for (size_t i = 0; i < m->npacks; i++)
		if (m->packs[i].hit && m->packs[i].path) {
			(void)utimensat(AT_FDCWD, m->packs[i].path, NULL, 0); /* recently used */
			m->packs[i].hit = false;
		}
	pthread_mutex_unlock(&m->mu);
}

void i2k_blockmemo_close(struct i2k_blockmemo *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->npacks; i++) {
		if (m->packs[i].fd >= 0)
			close(m->packs[i].fd);
		free(m->packs[i].path);
	}
	free(m->packs);
	free(m->slots);
	free(m->index);
	pthread_mutex_destroy(&m->mu);
	free(m->dir);
	free(m);
}

/* ---- the directory -------------------------------------------------------- */

struct packfile {
	char *name;
	int64_t mtime;
	uint64_t bytes;
};

static int by_age(const void *a, const void *b)
{
	const struct packfile *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The packs of dir into *out, with their total bytes; deletes files of the
 * old layout first when drop_old. */
static size_t list_packs(const char *dir, bool drop_old, struct packfile **out, uint64_t *total)
{
	*out = NULL;
	*total = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (drop_old && is_old_block_name(de->d_name)) {
			(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		struct stat st;
		if (!is_pack_name(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		i2k_xgrow((void **)out, &cap, n + 1, sizeof(**out));
		(*out)[n++] = (struct packfile){.name = i2k_xstrdup(de->d_name),
						.mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 +
							 st.st_mtim.tv_nsec,
						.bytes = (uint64_t)st.st_blocks * 512};
		*total += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	return n;
}

static void free_packs(struct packfile *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void i2k_blockmemo_trim(const char *dir, uint64_t cap)
{
	struct packfile *v;
	uint64_t total;
	size_t n = list_packs(dir, true, &v, &total);
	bool over_bytes = total > cap, over_count = n > I2K_BLOCKMEMO_MAX_PACKS;
	if (over_bytes || over_count) {
		qsort(v, n, sizeof(*v), by_age);
		size_t left = n;
		for (size_t i = 0; i < n; i++) {
			if (!(over_bytes && total > cap / 4 * 3) &&
			    !(over_count && left > I2K_BLOCKMEMO_MAX_PACKS / 4 * 3))
				break;
			_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, v[i].name);
			if (unlink(p) == 0) {
				total -= v[i].bytes;
				left--;
			}
		}
	}
	free_packs(v, n);
}

void i2k_blockmemo_usage(const char *dir, size_t *blocks, uint64_t *bytes)
{
	struct packfile *v;
	size_t n = list_packs(dir, false, &v, bytes);
	*blocks = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, v[i].name);
		_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		struct stat st;
		uint32_t count;
		_cleanup_free_ uint8_t *idx = NULL;
		if (fd >= 0 && fstat(fd, &st) == 0 &&
		    read_index(fd, (uint64_t)st.st_size, &count, &idx))
			*blocks += count;
	}
	free_packs(v, n);
}
