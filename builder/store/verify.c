/* verify.c — `i2kit cache verify [--repair]`: the whole cache checked
 * against its own rules. See store.h (i2k_store_verify).
 *
 * Holds the exclusive DIR/.lock throughout, so gc, clean and ref updates
 * wait; pulls keep streaming (their partial files are locked by them and
 * are not reported). Blobs are re-hashed in full.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/store/internal.h"
#include "builder/store/store.h"
#include "builder/store/unpacked.h"

#define HASH_CHUNK (1u << 20)

static void problem(struct i2k_store_verify_report *r, bool fixed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(struct i2k_store_verify_report *r, bool fixed, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *m = NULL;
	if (vasprintf(&m, fmt, ap) < 0)
		abort();
	va_end(ap);
	char *line = i2k_xasprintf("%s%s", m, fixed ? " (removed)" : "");
	free(m);
	r->problems = i2k_xrealloc(r->problems, (r->n_problems + 1) * sizeof(char *));
	r->problems[r->n_problems++] = line;
	if (fixed)
		r->repaired++;
}

struct up_ctx {
	struct i2k_store_verify_report *r;
	bool repair;
};

static void unpacked_problem(void *ctx, const char *path, const char *why)
{
	struct up_ctx *u = ctx;
	problem(u->r, u->repair, "%s: %s", path, why);
}

void i2k_store_verify_report_clear(struct i2k_store_verify_report *r)
{
	for (size_t i = 0; i < r->n_problems; i++)
		free(r->problems[i]);
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

/* sha256 of the regular file at path into got; -1 when unreadable. */
static int hash_file(const char *path, char got[I2K_DIGEST_LEN + 1], uint64_t *size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	return i2k_store_hash_fd(fd, got, size);
}

int i2k_store_hash_fd(int fd, char got[I2K_DIGEST_LEN + 1], uint64_t *size)
{
	struct i2k_sha256 *h = i2k_sha256_new();
	_cleanup_free_ char *buf = i2k_xmalloc(HASH_CHUNK);
	uint64_t total = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, HASH_CHUNK, (off_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			i2k_sha256_free(h);
			return -1;
		}
		if (n == 0)
			break;
		i2k_sha256_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	i2k_sha256_final(h, got);
	i2k_sha256_free(h);
	if (size)
		*size = total;
	return 0;
}

/* A partial file is a problem only when it cannot serve a resume: not a
 * regular file, or its blob is committed already. Other partials that no
 * pull holds are kept and counted: the next pull of that blob resumes from
 * them, and if their bytes were bad it downloads the blob once more from
 * byte 0 (registry.c), so they cannot make a pull fail. */
static void check_partial(const char *path, const char *hex, struct i2k_store *s, bool repair,
			  struct i2k_store_verify_report *r)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (!S_ISREG(st.st_mode)) {
		if (repair)
			unlink(path);
		problem(r, repair, "%s: not a regular file", path);
		return;
	}
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		return; /* a pull is writing it */
	_cleanup_free_ char *dg = i2k_xasprintf("sha256:%s", hex);
	if (i2k_store_hex64(hex) && i2k_store_has_blob(s, dg)) {
		if (repair)
			unlink(path);
		problem(r, repair, "%s: partial download of a blob already in the cache", path);
		return;
	}
	r->partials++;
}

static int check_blobs(struct i2k_store *s, bool repair, struct i2k_store_verify_report *r,
		       struct i2k_digest_set *bad, struct i2k_error **err)
{
	char **names = NULL;
	size_t n = 0;
	if (i2k_store_list_dir(s->blobs, &names, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *p = i2k_xasprintf("%s/%s", s->blobs, names[i]);
		if (rc == 0 && i2k_interrupted)
			rc = i2k_check_interrupt(err);
		if (rc < 0)
			break;
		if (i2k_str_has_prefix(names[i], ".partial-")) {
			check_partial(p, names[i] + 9, s, repair, r);
			continue;
		}
		if (!i2k_store_hex64(names[i]))
			continue; /* not ours: left alone, as gc does */
		char got[I2K_DIGEST_LEN + 1];
		uint64_t size = 0;
		r->blobs++;
		_cleanup_free_ char *dg = i2k_xasprintf("sha256:%s", names[i]);
		if (hash_file(p, got, &size) < 0) {
			i2k_digest_set_add(bad, dg);
			if (repair)
				unlink(p);
			problem(r, repair, "blob sha256:%s: unreadable or not a regular file",
				names[i]);
			continue;
		}
		r->bytes += size;
		if (strcmp(got + 7, names[i]) != 0) {
			i2k_digest_set_add(bad, dg);
			if (repair)
				unlink(p);
			problem(r, repair, "blob sha256:%s: content has digest %s (%llu bytes)",
				names[i], got, (unsigned long long)size);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* The first corrupt blob d reaches, or NULL. */
static const char *reaches_bad(struct i2k_store *s, const char *digest,
			       const struct i2k_digest_set *bad)
{
	if (bad->n == 0)
		return NULL;
	struct i2k_digest_set set = {0};
	struct i2k_error *e = NULL;
	const char *hit = NULL;
	if (i2k_store_reach(s, digest, false, &set, &e) == 0)
		for (size_t i = 0; i < set.n && !hit; i++)
			for (size_t j = 0; j < bad->n && !hit; j++)
				if (strcmp(set.v[i], bad->v[j]) == 0)
					hit = bad->v[j];
	i2k_error_free(e);
	i2k_digest_set_free(&set);
	return hit;
}

static int check_refs(struct i2k_store *s, bool repair, struct i2k_store_verify_report *r,
		      const struct i2k_digest_set *bad, struct i2k_error **err)
{
	json_t *ms = NULL;
	if (i2k_index_load(s, &ms, err) < 0)
		return -1; /* an unreadable index.json: nothing to repair safely */
	json_t *keep = json_array();
	for (size_t i = 0; i < json_array_size(ms); i++) {
		json_t *e = json_array_get(ms, i);
		const char *name = i2k_index_entry_name(e);
		struct i2k_descriptor d = {0};
		i2k_index_entry_desc(e, &d);
		struct i2k_error *e2 = NULL;
		r->refs++;
		const char *corrupt = reaches_bad(s, d.digest, bad);
		if (corrupt) {
			problem(r, repair, "ref %s: blob %s is corrupt", name ? name : d.digest,
				corrupt);
			if (!repair)
				json_array_append(keep, e);
		} else if (i2k_store_check_desc(s, name ? name : d.digest, &d, &e2) < 0) {
			problem(r, repair, "%s", e2->msg); /* names the ref */
			i2k_error_free(e2);
			if (!repair)
				json_array_append(keep, e);
		} else {
			json_array_append(keep, e);
		}
		free(d.media_type);
	}
	int rc = 0;
	if (repair && json_array_size(keep) != json_array_size(ms))
		rc = i2k_index_save(s, keep, err);
	json_decref(keep);
	json_decref(ms);
	return rc;
}

int i2k_store_verify(struct i2k_store *s, bool repair, struct i2k_store_verify_report *r,
		     struct i2k_error **err)
{
	memset(r, 0, sizeof(*r));
	_cleanup_close_ int lock = i2k_store_lock(s, err);
	if (lock < 0)
		return -1;
	struct i2k_digest_set bad = {0};
	int rc = check_blobs(s, repair, r, &bad, err);
	if (rc == 0)
		rc = check_refs(s, repair, r, &bad, err);
	i2k_digest_set_free(&bad);
	if (rc < 0)
		return i2k_error_wrap(err, "verifying cache %s", s->dir);
	r->unpacked_bad =
	    i2k_unpacked_verify(s, repair, unpacked_problem, &(struct up_ctx){r, repair});
	/* temp files of a crashed index writer */
	DIR *d = opendir(s->dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (!i2k_str_has_prefix(de->d_name, ".index.json.tmp-") &&
		    !i2k_str_has_prefix(de->d_name, ".oci-layout.tmp-"))
			continue;
		_cleanup_free_ char *p = i2k_store_path(s, de->d_name);
		if (repair)
			unlink(p);
		problem(r, repair, "%s: left by an interrupted index update", p);
	}
	if (d)
		closedir(d);
	return 0;
}
