/* store.c — opening the layout, blobs, and the verify-then-commit blob
 * writer. See store.h for the contract and internal.h for the file split. */
#include "builder/store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/store/internal.h"

/* ---- paths, lock, layout ------------------------------------------------ */

char *i2k_store_default_dir(void)
{
	const char *v = getenv("I2KIT_CACHE");
	if (v && *v)
		return i2k_xstrdup(v);
	v = getenv("XDG_CACHE_HOME");
	if (v && *v)
		return i2k_xasprintf("%s/i2kit", v);
	v = getenv("HOME");
	return i2k_xasprintf("%s/.cache/i2kit", v && *v ? v : ".");
}

char *i2k_store_blob_path(const struct i2k_store *s, const char *digest)
{
	return i2k_xasprintf("%s/%s", s->blobs, digest + 7);
}

char *i2k_store_path(const struct i2k_store *s, const char *name)
{
	return i2k_xasprintf("%s/%s", s->dir, name);
}

int i2k_store_lock(struct i2k_store *s, struct i2k_error **err)
{
	_cleanup_free_ char *p = i2k_store_path(s, ".lock");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "opening %s", p);
	while (flock(fd, LOCK_EX) < 0) {
		int e = errno;
		if (e == EINTR && !i2k_interrupted)
			continue;
		close(fd);
		if (e == EINTR)
			return i2k_check_interrupt(err);
		return i2k_error_errno(err, e, I2K_ERR_IO, "locking %s", p);
	}
	return fd;
}

static int flock_wait(int fd, int op, const char *p, struct i2k_error **err)
{
	while (flock(fd, op) < 0) {
		int e = errno;
		if (e == EINTR && !i2k_interrupted)
			continue;
		if (e == EINTR)
			return i2k_check_interrupt(err);
		return i2k_error_errno(err, e, I2K_ERR_IO, "locking %s", p);
	}
	return 0;
}

int i2k_store_users_lock(struct i2k_store *s, bool exclusive, struct i2k_error **err)
{
	_cleanup_free_ char *p = i2k_store_path(s, ".users");
	return flock_wait(s->users_fd, exclusive ? LOCK_EX : LOCK_SH, p, err);
}

static const char layout_json[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
static const char empty_index_json[] = "{\n  \"manifests\": [],\n"
				       "  \"mediaType\": \"" I2K_MT_OCI_INDEX "\",\n"
				       "  \"schemaVersion\": 2\n}\n";

int i2k_store_init_layout(struct i2k_store *s, bool reset, struct i2k_error **err)
{
	if (i2k_mkdir_p(s->blobs, 0755, err) < 0)
		return -1;
	_cleanup_free_ char *lp = i2k_store_path(s, "oci-layout");
	if (access(lp, F_OK) < 0 &&
	    i2k_write_file_atomic(lp, layout_json, strlen(layout_json), 0644, err) < 0)
		return -1;
	_cleanup_free_ char *ip = i2k_store_path(s, "index.json");
	if ((reset || access(ip, F_OK) < 0) &&
	    i2k_write_file_atomic(ip, empty_index_json, strlen(empty_index_json), 0644, err) < 0)
		return -1;
	return 0;
}

static int check_layout_file(struct i2k_store *s, struct i2k_error **err)
{
	_cleanup_free_ char *lp = i2k_store_path(s, "oci-layout");
	_cleanup_free_ char *data = NULL;
	if (i2k_read_file(lp, I2K_STORE_LAYOUT_MAX, &data, NULL, err) < 0)
		return -1;
	json_t *j = json_loads(data, 0, NULL);
	const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
	bool ok = v && strcmp(v, "1.0.0") == 0;
	json_decref(j);
	if (!ok)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "%s: not an OCI image layout version 1.0.0", lp);
	return 0;
}

static int open_layout(struct i2k_store *s, struct i2k_error **err)
{
	if (i2k_mkdir_p(s->dir, 0755, err) < 0)
		return -1;
	_cleanup_free_ char *ip = i2k_store_path(s, "index.json");
	_cleanup_free_ char *lp = i2k_store_path(s, "oci-layout");
	struct stat st;
	if (access(ip, F_OK) < 0 || access(lp, F_OK) < 0 || stat(s->blobs, &st) < 0) {
		_cleanup_close_ int lock = i2k_store_lock(s, err);
		if (lock < 0 || i2k_store_init_layout(s, false, err) < 0)
			return -1;
	}
	return check_layout_file(s, err);
}

int i2k_store_open(const char *dir, struct i2k_store **out, struct i2k_error **err)
{
	if (dir == NULL || *dir == '\0')
		return i2k_error_set(err, I2K_ERR_USAGE, "empty cache directory name");
	struct i2k_store *s = i2k_xcalloc(1, sizeof(*s));
	s->dir = i2k_xstrdup(dir);
	size_t l = strlen(s->dir);
	while (l > 1 && s->dir[l - 1] == '/')
		s->dir[--l] = '\0';
	s->blobs = i2k_xasprintf("%s/blobs/sha256", s->dir);
	s->users_fd = -1;
	s->bg = i2k_background_new();
	if (open_layout(s, err) < 0) {
		i2k_store_free(s);
		return i2k_error_wrap(err, "opening cache %s", dir);
	}
	/* A shared lock for the handle's life: gc and clean wait for it, so
	 * blobs a build is about to read never vanish under it. */
	_cleanup_free_ char *up = i2k_store_path(s, ".users");
	s->users_fd = open(up, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->users_fd < 0) {
		i2k_error_errno(err, errno, I2K_ERR_IO, "opening %s", up);
		i2k_store_free(s);
		return i2k_error_wrap(err, "opening cache %s", dir);
	}
	if (flock_wait(s->users_fd, LOCK_SH, up, err) < 0) {
		i2k_store_free(s);
		return i2k_error_wrap(err, "opening cache %s", dir);
	}
	*out = s;
	return 0;
}

void i2k_store_free(struct i2k_store *s)
{
	if (s == NULL)
		return;
	i2k_background_free(s->bg); /* its jobs use s: they end first */
	if (s->users_fd >= 0)
		close(s->users_fd);
	free(s->dir);
	free(s->blobs);
	free(s);
}

void i2k_store_freep(struct i2k_store **s)
{
	i2k_store_free(*s);
	*s = NULL;
}

const char *i2k_store_dir(const struct i2k_store *s)
{
	return s->dir;
}

void i2k_store_defer(struct i2k_store *s, const char *key, void (*fn)(void *arg), void *arg)
{
	i2k_background_run(s->bg, key, fn, arg);
}

void i2k_store_wait_deferred(struct i2k_store *s, const char *key)
{
	i2k_background_wait_key(s->bg, key);
}

/* ---- committed blobs ------------------------------------------------------ */

static int bad_digest(struct i2k_error **err, const char *digest)
{
	return i2k_error_set(err, I2K_ERR_INTEGRITY, "invalid digest \"%.80s\"",
			     digest ? digest : "(null)");
}

bool i2k_store_has_blob(struct i2k_store *s, const char *digest)
{
	if (!i2k_digest_valid(digest))
		return false;
	_cleanup_free_ char *p = i2k_store_blob_path(s, digest);
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int i2k_store_open_blob(struct i2k_store *s, const char *digest, int *fd, uint64_t *size,
			struct i2k_error **err)
{
	if (!i2k_digest_valid(digest))
		return bad_digest(err, digest);
	_cleanup_free_ char *p = i2k_store_blob_path(s, digest);
	_cleanup_close_ int f = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0) {
		if (errno == ENOENT)
			return i2k_error_set(err, I2K_ERR_NOTFOUND, "blob %s: not in cache %s",
					     digest, s->dir);
		return i2k_error_errno(err, errno, I2K_ERR_IO, "opening blob %s", digest);
	}
	struct stat st;
	if (fstat(f, &st) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "blob %s", digest);
	if (!S_ISREG(st.st_mode))
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "cache blob %s is not a regular file; run `i2kit cache clean`",
				     digest);
	if (size)
		*size = (uint64_t)st.st_size;
	*fd = I2K_TAKE_FD(f);
	return 0;
}

int i2k_store_read_blob(struct i2k_store *s, const char *digest, size_t max, char **data,
			size_t *len, struct i2k_error **err)
{
	_cleanup_close_ int fd = -1;
	uint64_t size = 0;
	if (i2k_store_open_blob(s, digest, &fd, &size, err) < 0)
		return -1;
	if (size > max)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "blob %s: %llu bytes exceeds the limit of %zu bytes", digest,
				     (unsigned long long)size, max);
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;
	if (i2k_read_fd(fd, max, &buf, &n, err) < 0)
		return i2k_error_wrap(err, "reading blob %s", digest);
	char got[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(buf, n, got);
	if (strcmp(got, digest) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "cache blob %s is corrupt (content has digest %s, %zu bytes); "
				     "run `i2kit cache clean`",
				     digest, got, n);
	*data = I2K_STEAL(buf);
	if (len)
		*len = n;
	return 0;
}

int i2k_store_put_blob(struct i2k_store *s, const char *digest, const void *data, size_t len,
		       struct i2k_error **err)
{
	if (!i2k_digest_valid(digest))
		return bad_digest(err, digest);
	char got[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(data, len, got);
	if (strcmp(got, digest) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "blob %s: content has digest %s (%zu bytes)", digest, got,
				     len);
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 0;
	if (i2k_store_blob_begin(s, digest, (int64_t)len, &w, &from, err) < 0)
		return -1;
	if (!i2k_blob_writer_present(w)) {
		if (from != 0 && i2k_blob_writer_truncate(w, 0, err) < 0) {
			i2k_blob_writer_abort(w, false);
			return -1;
		}
		if (i2k_blob_writer_write(w, data, len, err) < 0) {
			i2k_blob_writer_abort(w, false);
			return -1;
		}
	}
	return i2k_blob_writer_commit(w, err);
}

/* ---- the blob writer --------------------------------------------------------- */

struct i2k_blob_writer {
	struct i2k_store *s;
	char digest[I2K_DIGEST_LEN + 1];
	char *partial; /* DIR/blobs/sha256/.partial-HEX */
	char *final;   /* DIR/blobs/sha256/HEX */
	int fd;	       /* the locked partial file; -1 when present or failed */
	int64_t size;  /* expected, -1 unknown */
	uint64_t offset;
	uint64_t present_size; /* size of the committed blob when present */
	struct i2k_sha256 *h;
	/* the commit fsyncs the blob: its write-out starts as it arrives, so
	 * that fsync finds most of it written (the 36 MB kernel layer of the
	 * reference: the fsync after its last byte took 56-62 ms, now 36-41
	 * ms, on a cold build's way); never dropped from the page cache (keep),
	 * since the build reads it next */
	struct i2k_writeback wb;
	bool present; /* already committed: nothing to write */
	bool failed;  /* a write failed; the partial file is gone */
};

static void writer_free(struct i2k_blob_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	i2k_sha256_free(w->h);
	free(w->partial);
	free(w->final);
	free(w);
}

/* Hashes the first `upto` bytes of the partial file into a fresh context. */
static int rehash(struct i2k_blob_writer *w, uint64_t upto, struct i2k_error **err)
{
	i2k_sha256_free(w->h);
	w->h = i2k_sha256_new();
	if (i2k_sha256_update_fd(w->h, w->fd, 0, upto, err) < 0)
		return i2k_error_wrap(err, "blob %s: reading %s", w->digest, w->partial);
	w->offset = upto;
	return 0;
}

static bool regular_at(const char *path, uint64_t *size)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (size)
		*size = (uint64_t)st.st_size;
	return true;
}

/* Opens and locks the partial file, making sure the locked inode is still
 * the one at the partial path (a writer that held the lock before us may
 * have renamed it to the final name or deleted it). Sets w->present when the
 * final blob exists. */
static int writer_acquire(struct i2k_blob_writer *w, struct i2k_error **err)
{
	for (int tries = 0; tries < 1000; tries++) {
		if (regular_at(w->final, &w->present_size)) {
			w->present = true;
			return 0;
		}
		_cleanup_close_ int fd =
		    open(w->partial, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "blob %s: opening %s",
					       w->digest, w->partial);
		while (flock(fd, LOCK_EX) < 0) {
			if (errno == EINTR && i2k_interrupted)
				return i2k_check_interrupt(err);
			if (errno != EINTR)
				return i2k_error_errno(err, errno, I2K_ERR_IO,
						       "blob %s: locking %s", w->digest,
						       w->partial);
		}
		struct stat a, b;
		if (fstat(fd, &a) < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "blob %s", w->digest);
		if (stat(w->partial, &b) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			continue; /* renamed or removed meanwhile: look again */
		if (!S_ISREG(a.st_mode))
			return i2k_error_set(err, I2K_ERR_IO, "blob %s: %s is not a regular file",
					     w->digest, w->partial);
		if (regular_at(w->final, &w->present_size)) {
			/* committed through another partial inode: ours is stale */
			unlink(w->partial);
			w->present = true;
			return 0;
		}
		w->fd = I2K_TAKE_FD(fd);
		return 0;
	}
	return i2k_error_set(err, I2K_ERR_IO, "blob %s: %s keeps changing", w->digest, w->partial);
}

int i2k_store_blob_begin(struct i2k_store *s, const char *digest, int64_t size,
			 struct i2k_blob_writer **out, uint64_t *resume_from,
			 struct i2k_error **err)
{
	if (!i2k_digest_valid(digest))
		return bad_digest(err, digest);
	struct i2k_blob_writer *w = i2k_xcalloc(1, sizeof(*w));
	w->s = s;
	w->fd = -1;
	w->size = size < 0 ? -1 : size;
	memcpy(w->digest, digest, I2K_DIGEST_LEN + 1);
	w->final = i2k_store_blob_path(s, digest);
	w->partial = i2k_xasprintf("%s/.partial-%s", s->blobs, digest + 7);
	w->h = i2k_sha256_new();
	if (writer_acquire(w, err) < 0) {
		writer_free(w);
		return -1;
	}
	w->wb = (struct i2k_writeback){.fd = w->fd, .keep = UINT64_MAX};
	if (w->present) {
		w->offset = w->present_size;
	} else {
		struct stat st;
		if (fstat(w->fd, &st) < 0) {
			i2k_error_errno(err, errno, I2K_ERR_IO, "blob %s", digest);
			i2k_blob_writer_abort(w, true);
			return -1;
		}
		uint64_t have = (uint64_t)st.st_size;
		if (w->size >= 0 && have > (uint64_t)w->size) {
			/* longer than the blob can be: garbage, start over */
			if (ftruncate(w->fd, 0) < 0) {
				i2k_error_errno(err, errno, I2K_ERR_IO, "blob %s: truncating",
						digest);
				i2k_blob_writer_abort(w, false);
				return -1;
			}
			have = 0;
		}
		if (rehash(w, have, err) < 0) {
			i2k_blob_writer_abort(w, false);
			return -1;
		}
	}
	if (resume_from)
		*resume_from = w->offset;
	*out = w;
	return 0;
}

bool i2k_blob_writer_present(const struct i2k_blob_writer *w)
{
	return w->present;
}

static void writer_fail(struct i2k_blob_writer *w)
{
	if (w->fd >= 0) {
		unlink(w->partial);
		close(w->fd);
		w->fd = w->wb.fd = -1;
	}
	w->failed = true;
}

static int writer_usable(struct i2k_blob_writer *w, struct i2k_error **err)
{
	if (w->present)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "blob %s: already in the cache; nothing to write", w->digest);
	if (w->failed)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "blob %s: writer failed earlier",
				     w->digest);
	return 0;
}

int i2k_blob_writer_write(struct i2k_blob_writer *w, const void *data, size_t len,
			  struct i2k_error **err)
{
	if (writer_usable(w, err) < 0)
		return -1;
	if (w->size >= 0 && w->offset + len > (uint64_t)w->size)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "blob %s: more data than the expected %lld bytes", w->digest,
				     (long long)w->size);
	if (i2k_pwrite_all(w->fd, data, len, (off_t)w->offset, err) < 0) {
		writer_fail(w);
		return i2k_error_wrap(err, "blob %s", w->digest);
	}
	i2k_sha256_update(w->h, data, len);
	w->offset += len;
	i2k_writeback_add(&w->wb, len);
	return 0;
}

int i2k_blob_writer_truncate(struct i2k_blob_writer *w, uint64_t offset, struct i2k_error **err)
{
	if (writer_usable(w, err) < 0)
		return -1;
	if (offset > w->offset)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "blob %s: cannot truncate to %llu, only %llu bytes written",
				     w->digest, (unsigned long long)offset,
				     (unsigned long long)w->offset);
	if (offset == w->offset)
		return 0;
	if (ftruncate(w->fd, (off_t)offset) < 0) {
		int e = errno;
		writer_fail(w);
		return i2k_error_errno(err, e, I2K_ERR_IO, "blob %s: truncating", w->digest);
	}
	if (rehash(w, offset, err) < 0) {
		writer_fail(w);
		return -1;
	}
	return 0;
}

uint64_t i2k_blob_writer_offset(const struct i2k_blob_writer *w)
{
	return w->offset;
}

static int writer_commit(struct i2k_blob_writer *w, struct i2k_error **err)
{
	if (w->failed)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "blob %s: writer failed earlier",
				     w->digest);
	if (w->present) {
		if (w->size >= 0 && w->present_size != (uint64_t)w->size)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "blob %s: the cached blob has %llu bytes, expected "
					     "%lld",
					     w->digest, (unsigned long long)w->present_size,
					     (long long)w->size);
		return 0;
	}
	char got[I2K_DIGEST_LEN + 1];
	i2k_sha256_final(w->h, got);
	i2k_sha256_free(w->h);
	w->h = NULL;
	if (strcmp(got, w->digest) != 0) {
		writer_fail(w);
		if (w->size >= 0 && w->offset != (uint64_t)w->size)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "blob %s: content has digest %s (%llu bytes, expected "
					     "%lld)",
					     w->digest, got, (unsigned long long)w->offset,
					     (long long)w->size);
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "blob %s: content has digest %s (%llu bytes)", w->digest, got,
				     (unsigned long long)w->offset);
	}
	if (w->size >= 0 && w->offset != (uint64_t)w->size) {
		writer_fail(w);
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "blob %s: content has %llu bytes, the descriptor says %lld",
				     w->digest, (unsigned long long)w->offset, (long long)w->size);
	}
	if (fsync(w->fd) < 0) {
		int e = errno;
		writer_fail(w);
		return i2k_error_errno(err, e, I2K_ERR_IO, "blob %s: fsync", w->digest);
	}
	if (rename(w->partial, w->final) < 0) {
		int e = errno;
		writer_fail(w);
		return i2k_error_errno(err, e, I2K_ERR_IO, "blob %s: committing", w->digest);
	}
	/* the lock is released only after the rename (in writer_free), so a
	 * waiting writer finds the final blob */
	return i2k_fsync_parent(w->final, err);
}

int i2k_blob_writer_commit(struct i2k_blob_writer *w, struct i2k_error **err)
{
	int r = writer_commit(w, err);
	writer_free(w);
	return r;
}

void i2k_blob_writer_abort(struct i2k_blob_writer *w, bool keep)
{
	if (w == NULL)
		return;
	if (!keep && w->fd >= 0)
		unlink(w->partial);
	writer_free(w);
}
