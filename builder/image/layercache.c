/* layercache.c — big tars applied through the cache's unpacked entries
 * (see layercache.h). */
#include "builder/image/layercache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/store/unpacked.h"

#define COPY_CHUNK (1u << 20)

void i2k_layercache_key(const char *digest, const char *path, char key[65])
{
	_cleanup_free_ char *name = i2k_xasprintf("i2kit tar in image\n%s\n%s", digest, path);
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(name, strlen(name), d);
	snprintf(key, 65, "%s", d + strlen("sha256:"));
}

int i2k_layercache_replay(struct i2k_store *s, const char *key, struct i2k_fstree *tree,
			  const struct i2k_flatten_opts *opts, bool *hit, struct i2k_error **err)
{
	*hit = false;
	i2k_store_wait_deferred(s, key); /* this build may be storing it still */
	struct i2k_unpacked u;
	struct i2k_error *e = NULL;
	if (i2k_unpacked_open(s, key, &u, &e) < 0) {
		i2k_error_free(e);
		return 0;
	}
	/* The log is checked whole before the tree is touched: a bad one is a
	 * miss, not an error. */
	if (i2k_layer_log_replay_fd(u.index_fd, u.ops_off, u.ops_len, 0, NULL, NULL, NULL, NULL,
				    &e) < 0) {
		i2k_error_free(e);
		i2k_unpacked_clear(&u);
		return 0;
	}
	uint64_t base = 0;
	int r = i2k_spool_attach(i2k_fstree_spool(tree), u.data_fd, u.data_size, &base, err);
	if (r == 0)
		r = i2k_layer_log_apply_fd(u.index_fd, u.ops_off, u.ops_len, base, tree, opts, err);
	i2k_unpacked_clear(&u);
	*hit = r == 0;
	return r;
}

/* Copies the data extents the log points at from the spool's file (fd,
 * where every extent lies at its spool offset) into a new data file,
 * hashing them, and rewrites the log's offsets to the file's. */
static int save(struct i2k_store *s, const char *key, const char *source, struct i2k_layer_log *log,
		int fd, struct i2k_error **err)
{
	_cleanup_close_ int out = -1;
	if (i2k_unpacked_tmp_data(s, &out, err) < 0)
		return -1;
	_cleanup_free_ char *buf = i2k_xmalloc(COPY_CHUNK);
	struct i2k_sha256 *h = i2k_sha256_new();
	uint64_t pos = 0;
	int r = 0;
	for (size_t i = 0; r == 0 && i < log->ndata; i++) {
		uint8_t *f = (uint8_t *)log->ops.data + log->data_at[i];
		uint64_t off = i2k_get_le64(f), size = i2k_get_le64(f + 8);
		for (uint64_t done = 0; r == 0 && done < size;) {
			size_t n = size - done < COPY_CHUNK ? (size_t)(size - done) : COPY_CHUNK;
			r = i2k_pread_all(fd, buf, n, (off_t)(off + done), err);
			if (r < 0)
				break;
			i2k_sha256_update(h, buf, n);
			r = i2k_write_all(out, buf, n, err);
			if (r == 0)
				r = i2k_check_interrupt(err);
			done += n;
		}
		i2k_put_le64(f, pos);
		pos += size;
	}
	char digest[I2K_DIGEST_LEN + 1];
	i2k_sha256_final(h, digest);
	i2k_sha256_free(h);
	if (r < 0)
		return -1;
	return i2k_unpacked_commit(s, key, source, out, pos, digest, log->ops.data, log->ops.len,
				   err);
}

/* A save done on the store's background thread (i2k_store_defer) while the
 * build goes on. It owns all it reads: the log, and the spool's file
 * through a descriptor of its own, so the build may free its tree and spool
 * first. Best effort like the rest: a failed or interrupted save stores
 * nothing (the build sees an interruption itself). */
struct save_job {
	struct i2k_store *s;
	char key[65];
	char *source;
	struct i2k_layer_log log;
	int fd;
};

static void save_job_run(void *arg)
{
	struct save_job *j = arg;
	struct i2k_error *e = NULL;
	if (save(j->s, j->key, j->source, &j->log, j->fd, &e) < 0)
		i2k_error_free(e);
	close(j->fd);
	i2k_layer_log_clear(&j->log);
	free(j->source);
	free(j);
}

/* Queues the save of log's data (in sp) as entry key; the log is taken
 * (left empty). Nothing is kept when an extent lies outside the spool's own
 * file (an apply writes only there) or no descriptor is left. */
static void defer_save(struct i2k_store *s, const char *key, const char *source,
		       struct i2k_layer_log *log, struct i2k_spool *sp)
{
	uint64_t at;
	int file = i2k_spool_fd_at(sp, 0, &at);
	for (size_t i = 0; i < log->ndata; i++) {
		uint64_t off = i2k_get_le64((const uint8_t *)log->ops.data + log->data_at[i]);
		if (i2k_spool_fd_at(sp, off, &at) != file || at != off)
			return;
	}
	int fd = fcntl(file, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return;
	struct save_job *j = i2k_xcalloc(1, sizeof(*j));
	*j = (struct save_job){.s = s, .source = i2k_xstrdup(source), .log = *log, .fd = fd};
	snprintf(j->key, sizeof(j->key), "%s", key);
	memset(log, 0, sizeof(*log));
	i2k_store_defer(s, j->key, save_job_run, j);
}

int i2k_layercache_apply(struct i2k_store *s, const char *key, const char *source, int fd,
			 uint64_t off, uint64_t size, const char *media_type,
			 struct i2k_fstree *tree, const struct i2k_flatten_opts *opts,
			 struct i2k_error **err)
{
	struct i2k_flatten_opts o = {0};
	if (opts)
		o = *opts;
	struct i2k_layer_log log = {0};
	bool keep = size >= I2K_LAYERCACHE_MIN;
	o.log = keep ? &log : NULL;
	int r = i2k_layer_apply_range(fd, off, size, media_type, tree, &o, err);
	if (r == 0 && keep)
		defer_save(s, key, source, &log, i2k_fstree_spool(tree));
	i2k_layer_log_clear(&log);
	return r;
}
