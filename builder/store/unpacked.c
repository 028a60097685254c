/* unpacked.c — the cache's unpacked entries (see unpacked.h). */
#include "builder/store/unpacked.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/store/internal.h"

#define MAGIC "i2kit-unpacked 1\n"
#define HEADER_MAX 512
#define INDEX_MAX (256ull << 20)

bool i2k_unpacked_key_valid(const char *key)
{
	return i2k_store_hex64(key);
}

void i2k_unpacked_clear(struct i2k_unpacked *u)
{
	if (u->index_fd >= 0)
		close(u->index_fd);
	if (u->data_fd >= 0)
		close(u->data_fd);
	memset(u, 0, sizeof(*u));
	u->index_fd = u->data_fd = -1;
}

static char *dir_path(struct i2k_store *s)
{
	return i2k_xasprintf("%s/unpacked", s->dir);
}

static char *entry_path(struct i2k_store *s, const char *key, const char *ext)
{
	return i2k_xasprintf("%s/unpacked/%s.%s", s->dir, key, ext);
}

/* True when the index in fd (len bytes) ends with the sha256 of what comes
 * before; read in chunks, never whole. */
static bool index_digest_ok(int fd, uint64_t len)
{
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	if (i2k_sha256_update_fd(h, fd, 0, len - 32, NULL) < 0)
		return false;
	uint8_t want[32], have[32];
	i2k_sha256_final_raw(h, want);
	return i2k_pread_all(fd, have, 32, (off_t)(len - 32), NULL) == 0 &&
	       memcmp(want, have, 32) == 0;
}

/* Checks and parses the index in u->index_fd (len bytes) into u: false
 * when malformed. */
static bool parse_index(uint64_t len, struct i2k_unpacked *u)
{
	if (len < 32 + strlen(MAGIC) || len > INDEX_MAX || !index_digest_ok(u->index_fd, len))
		return false;
	char head[HEADER_MAX + 1];
	size_t hl = len - 32 < HEADER_MAX ? (size_t)(len - 32) : HEADER_MAX;
	if (i2k_pread_all(u->index_fd, head, hl, 0, NULL) < 0)
		return false;
	head[hl] = '\0';
	if (memcmp(head, MAGIC, strlen(MAGIC)) != 0)
		return false;
	char *end = strstr(head, "\n\n");
	if (end == NULL)
		return false;
	end[1] = '\0';
	unsigned long long dsize = 0, olen = 0;
	char src[I2K_DIGEST_LEN + 1], dd[I2K_DIGEST_LEN + 1];
	int consumed = 0;
	if (sscanf(head + strlen(MAGIC), "source %71s\ndata %llu %71s\nops %llu\n%n", src, &dsize,
		   dd, &olen, &consumed) != 4 ||
	    (size_t)consumed != strlen(head + strlen(MAGIC)) || !i2k_digest_valid(src) ||
	    !i2k_digest_valid(dd))
		return false;
	size_t ops_off = (size_t)(end - head) + 2;
	if (olen != len - 32 - ops_off)
		return false;
	memcpy(u->source, src, sizeof(u->source));
	memcpy(u->data_digest, dd, sizeof(u->data_digest));
	u->data_size = dsize;
	u->ops_off = ops_off;
	u->ops_len = olen;
	return true;
}

int i2k_unpacked_open(struct i2k_store *s, const char *key, struct i2k_unpacked *out,
		      struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	out->index_fd = out->data_fd = -1;
	if (!i2k_unpacked_key_valid(key))
		return i2k_error_set(err, I2K_ERR_USAGE, "unpacked cache: invalid key");
	_cleanup_free_ char *ip = entry_path(s, key, "index");
	_cleanup_free_ char *dp = entry_path(s, key, "data");
	out->index_fd = open(ip, O_RDONLY | O_CLOEXEC);
	struct stat ist;
	if (out->index_fd < 0 || fstat(out->index_fd, &ist) < 0) {
		bool missing = errno == ENOENT;
		i2k_unpacked_clear(out);
		return i2k_error_set(err, missing ? I2K_ERR_NOTFOUND : I2K_ERR_INTEGRITY, "%s: %s",
				     ip, missing ? "no such entry" : "unreadable");
	}
	if (!parse_index((uint64_t)ist.st_size, out)) {
		i2k_unpacked_clear(out);
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: malformed", ip);
	}
	out->data_fd = open(dp, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (out->data_fd < 0 || fstat(out->data_fd, &st) < 0 ||
	    (uint64_t)st.st_size != out->data_size) {
		i2k_unpacked_clear(out);
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: missing or truncated", dp);
	}
	return 0;
}

int i2k_unpacked_tmp_data(struct i2k_store *s, int *fd, struct i2k_error **err)
{
	_cleanup_free_ char *d = dir_path(s);
	if (i2k_mkdir_p(d, 0755, err) < 0)
		return -1;
	int f = i2k_tmpfile(d, "unpacked layer data", err);
	if (f < 0)
		return -1;
	(void)fchmod(f, 0644); /* as the blobs: readable by whoever reads the cache */
	*fd = f;
	return 0;
}

/* Gives the unnamed file fd the name path, replacing a file there (an old
 * entry, perhaps damaged). A file without a name to link (no O_TMPFILE
 * here) fails: the entry is then simply not kept. */
int i2k_unpacked_commit(struct i2k_store *s, const char *key, const char *source, int data_fd,
			uint64_t data_size, const char *data_digest, const void *ops,
			size_t ops_len, struct i2k_error **err)
{
	if (!i2k_unpacked_key_valid(key) || !i2k_digest_valid(source))
		return i2k_error_set(err, I2K_ERR_USAGE, "unpacked cache: invalid key");
	_cleanup_free_ char *head =
	    i2k_xasprintf(MAGIC "source %s\ndata %" PRIu64 " %s\nops %zu\n\n", source, data_size,
			  data_digest, ops_len);
	uint8_t sum[32];
	struct i2k_sha256 *h = i2k_sha256_new();
	i2k_sha256_update(h, head, strlen(head));
	i2k_sha256_update(h, ops, ops_len);
	i2k_sha256_final_raw(h, sum);
	i2k_sha256_free(h);
	_cleanup_free_ char *ip = entry_path(s, key, "index");
	_cleanup_free_ char *dp = entry_path(s, key, "data");
	_cleanup_close_ int f = -1;
	if (i2k_unpacked_tmp_data(s, &f, err) < 0)
		return -1;
	/* Neither file has a name until it is complete: an interrupted
	 * writer leaves nothing behind. Data first, so an index always finds
	 * its data. */
	if (i2k_write_all(f, head, strlen(head), err) < 0 ||
	    i2k_write_all(f, ops, ops_len, err) < 0 ||
	    i2k_write_all(f, sum, sizeof(sum), err) < 0 ||
	    i2k_tmpfile_link(data_fd, dp, true, err) < 0 || i2k_tmpfile_link(f, ip, true, err) < 0)
		return -1;
	return 0;
}

/* Calls fn for every name in DIR/unpacked. */
static void each_name(struct i2k_store *s, void (*fn)(void *ctx, const char *dir, const char *name),
		      void *ctx)
{
	_cleanup_free_ char *d = dir_path(s);
	char **names = NULL;
	size_t n = 0;
	if (i2k_store_list_dir(d, &names, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		fn(ctx, d, names[i]);
	i2k_store_free_names(names, n);
}
struct usage {
	size_t entries;
	uint64_t bytes;
};

static void usage_one(void *ctx, const char *dir, const char *name)
{
	struct usage *u = ctx;
	_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, name);
	struct stat st;
	if (lstat(p, &st) == 0 && S_ISREG(st.st_mode))
		u->bytes += (uint64_t)st.st_blocks * 512;
	u->entries += i2k_str_has_suffix(name, ".index") && name[0] != '.';
}

void i2k_unpacked_usage(struct i2k_store *s, size_t *entries, uint64_t *bytes)
{
	struct usage u = {0};
	each_name(s, usage_one, &u);
	*entries = u.entries;
	*bytes = u.bytes;
}

/* KEY of "KEY.index" / "KEY.data" into key (65 bytes); false for other names. */
static bool entry_key(const char *name, char key[65], bool *is_index)
{
	const char *dot = strchr(name, '.');
	if (dot == NULL || dot - name != 64)
		return false;
	memcpy(key, name, 64);
	key[64] = '\0';
	*is_index = strcmp(dot, ".index") == 0;
	return i2k_unpacked_key_valid(key) && (*is_index || strcmp(dot, ".data") == 0);
}

static void remove_counted(const char *path, uint64_t *freed)
{
	struct stat st;
	if (lstat(path, &st) == 0 && unlink(path) == 0 && freed)
		*freed += (uint64_t)st.st_size;
}

struct gc_ctx {
	struct i2k_store *s;
	const struct i2k_digest_set *keep;
	uint64_t *freed;
};

static void gc_one(void *ctx, const char *dir, const char *name)
{
	struct gc_ctx *g = ctx;
	_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, name);
	char key[65];
	bool is_index;
	if (!entry_key(name, key, &is_index))
		return; /* not ours */
	if (!is_index) {
		_cleanup_free_ char *ip = entry_path(g->s, key, "index");
		if (access(ip, F_OK) < 0)
			remove_counted(p, g->freed); /* data without index */
		return;
	}
	struct i2k_unpacked u;
	struct i2k_error *e = NULL;
	bool ok = i2k_unpacked_open(g->s, key, &u, &e) == 0;
	i2k_error_free(e);
	if (ok && i2k_digest_set_has(g->keep, u.source)) {
		i2k_unpacked_clear(&u);
		return;
	}
	if (ok)
		i2k_unpacked_clear(&u);
	_cleanup_free_ char *dp = entry_path(g->s, key, "data");
	remove_counted(p, g->freed);
	remove_counted(dp, g->freed);
}

void i2k_unpacked_gc(struct i2k_store *s, const struct i2k_digest_set *keep, uint64_t *freed)
{
	struct gc_ctx g = {.s = s, .keep = keep, .freed = freed};
	each_name(s, gc_one, &g);
}

struct verify_ctx {
	struct i2k_store *s;
	bool repair;
	void (*problem)(void *ctx, const char *path, const char *why);
	void *pctx;
	size_t bad;
};

static void verify_one(void *ctx, const char *dir, const char *name)
{
	struct verify_ctx *v = ctx;
	char key[65];
	bool is_index;
	_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, name);
	const char *why = NULL;
	if (!entry_key(name, key, &is_index)) {
		return;
	} else if (!is_index) {
		_cleanup_free_ char *ip = entry_path(v->s, key, "index");
		if (access(ip, F_OK) < 0)
			why = "data without an index";
	} else {
		struct i2k_unpacked u;
		struct i2k_error *e = NULL;
		char got[I2K_DIGEST_LEN + 1];
		if (i2k_unpacked_open(v->s, key, &u, &e) < 0)
			why = e->code == I2K_ERR_INTEGRITY ? "malformed, or its data is missing or "
							     "truncated"
							   : "unreadable";
		else if (i2k_store_hash_fd(u.data_fd, got, NULL) < 0 ||
			 strcmp(got, u.data_digest) != 0)
			why = "its data does not match its digest";
		i2k_error_free(e);
		i2k_unpacked_clear(&u);
	}
	if (why == NULL)
		return;
	v->bad++;
	v->problem(v->pctx, p, why);
	if (v->repair) {
		unlink(p);
		if (entry_key(name, key, &is_index) && is_index) {
			_cleanup_free_ char *dp = entry_path(v->s, key, "data");
			unlink(dp);
		}
	}
}

size_t i2k_unpacked_verify(struct i2k_store *s, bool repair,
			   void (*problem)(void *ctx, const char *path, const char *why), void *ctx)
{
	struct verify_ctx v = {.s = s, .repair = repair, .problem = problem, .pctx = ctx};
	each_name(s, verify_one, &v);
	return v.bad;
}
