/* gc.c — reachability, garbage collection and clean. See store.h.
 *
 * Roots are every manifests[] entry of index.json (named or not). A root is
 * parsed as a manifest or an index: an index's manifests are followed
 * (nested up to I2K_STORE_WALK_DEPTH), a manifest's config and layers are
 * leaves (never parsed). gc and clean hold the exclusive lock while they
 * delete, and ref_set checks its blobs under the same lock, so a ref never
 * ends up naming a blob gc removed. (A blob committed by a pull that has not
 * yet set its ref can still be collected by a concurrent gc; the pull's
 * ref_set then fails cleanly with "not in cache" rather than dangling.)
 * Partial files are removed only when their flock can be taken without
 * waiting, i.e. when no writer is using them.
 *
 * Builds: every open store handle holds a shared flock on DIR/.users; gc
 * and clean first take it exclusively, i.e. they wait until no other
 * process has the cache open, so a build never loses a blob between its
 * fetch and its reads ("blob not in cache").
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/store/internal.h"
#include "builder/store/store.h"
#include "builder/store/unpacked.h"

bool i2k_digest_set_has(const struct i2k_digest_set *set, const char *digest)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i], digest) == 0)
			return true;
	return false;
}

bool i2k_digest_set_add(struct i2k_digest_set *set, const char *digest)
{
	if (i2k_digest_set_has(set, digest))
		return false;
	i2k_xgrow((void **)&set->v, &set->cap, set->n + 1, sizeof(*set->v));
	snprintf(set->v[set->n++], sizeof(*set->v), "%s", digest);
	return true;
}

void i2k_digest_set_free(struct i2k_digest_set *set)
{
	free(set->v);
	memset(set, 0, sizeof(*set));
}

static int child_digest(json_t *desc, const char *parent, const char *what, size_t i,
			const char **out, struct i2k_error **err)
{
	const char *d = json_string_value(json_object_get(desc, "digest"));
	if (!i2k_digest_valid(d))
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "manifest %s: %s[%zu]: invalid digest",
				     parent, what, i);
	*out = d;
	return 0;
}

static int missing(bool require, const char *digest, const char *role, const char *parent,
		   struct i2k_error **err)
{
	if (!require)
		return 0;
	if (parent)
		return i2k_error_set(err, I2K_ERR_NOTFOUND,
				     "blob %s (%s of %s) is not in the cache", digest, role,
				     parent);
	return i2k_error_set(err, I2K_ERR_NOTFOUND, "blob %s is not in the cache", digest);
}

static int reach(struct i2k_store *s, const char *digest, int depth, bool require,
		 struct i2k_digest_set *set, struct i2k_error **err)
{
	if (!i2k_digest_set_add(set, digest))
		return 0;
	if (!i2k_store_has_blob(s, digest))
		return missing(require, digest, "manifest", NULL, err);
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (i2k_store_read_blob(s, digest, I2K_STORE_MANIFEST_MAX, &data, &len, err) < 0)
		return -1;
	json_t *m = json_loadb(data, len, 0, NULL);
	if (!json_is_object(m)) {
		json_decref(m);
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "blob %s is not a JSON manifest or index", digest);
	}
	int rc = 0;
	json_t *ms = json_object_get(m, "manifests");
	for (size_t i = 0; rc == 0 && i < json_array_size(ms); i++) {
		const char *c = NULL;
		rc = child_digest(json_array_get(ms, i), digest, "manifests", i, &c, err);
		if (rc == 0 && depth >= I2K_STORE_WALK_DEPTH)
			rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
					   "index %s: indexes nested too deeply", digest);
		if (rc == 0)
			rc = reach(s, c, depth + 1, require, set, err);
	}
	json_t *cfg = json_object_get(m, "config");
	if (rc == 0 && cfg) {
		const char *c = NULL;
		rc = child_digest(cfg, digest, "config", 0, &c, err);
		if (rc == 0 && i2k_digest_set_add(set, c) && !i2k_store_has_blob(s, c))
			rc = missing(require, c, "config", digest, err);
	}
	json_t *ls = json_object_get(m, "layers");
	for (size_t i = 0; rc == 0 && i < json_array_size(ls); i++) {
		const char *c = NULL;
		rc = child_digest(json_array_get(ls, i), digest, "layers", i, &c, err);
		if (rc == 0 && i2k_digest_set_add(set, c) && !i2k_store_has_blob(s, c))
			rc = missing(require, c, "layer", digest, err);
	}
	json_decref(m);
	return rc < 0 ? -1 : 0;
}

int i2k_store_reach(struct i2k_store *s, const char *digest, bool require,
		    struct i2k_digest_set *set, struct i2k_error **err)
{
	if (!i2k_digest_valid(digest))
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "invalid digest \"%.80s\"", digest);
	return reach(s, digest, 0, require, set, err);
}

bool i2k_store_hex64(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

int i2k_store_list_dir(const char *dir, char ***names, size_t *n, struct i2k_error **err)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		*names = NULL;
		*n = 0;
		return errno == ENOENT ? 0 : i2k_error_errno(err, errno, I2K_ERR_IO, "%s", dir);
	}
	char **v = NULL;
	size_t k = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		i2k_xgrow((void **)&v, &cap, k + 1, sizeof(*v));
		v[k++] = i2k_xstrdup(de->d_name);
	}
	closedir(d);
	*names = v;
	*n = k;
	return 0;
}

void i2k_store_free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Removes a partial file if no writer holds its lock; adds its size. */
static void drop_partial(const char *path, uint64_t *freed)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return; /* a writer is busy with it */
	struct stat a, b;
	if (fstat(fd, &a) < 0 || lstat(path, &b) < 0 || a.st_ino != b.st_ino)
		return;
	if (unlink(path) == 0)
		*freed += (uint64_t)a.st_size;
}

/* Removes index.json temp files left by a crashed writer (caller holds the
 * lock, so no live writer owns one). */
static void drop_index_temps(struct i2k_store *s)
{
	char **v = NULL;
	size_t n = 0;
	if (i2k_store_list_dir(s->dir, &v, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (i2k_str_has_prefix(v[i], ".index.json.tmp-") ||
		    i2k_str_has_prefix(v[i], ".oci-layout.tmp-")) {
			_cleanup_free_ char *p = i2k_store_path(s, v[i]);
			unlink(p);
		}
	}
	i2k_store_free_names(v, n);
}

static int gc_locked(struct i2k_store *s, uint64_t *freed, struct i2k_error **err);

int i2k_store_gc(struct i2k_store *s, uint64_t *freed, struct i2k_error **err)
{
	uint64_t total = 0;
	if (freed)
		*freed = 0;
	if (i2k_store_users_lock(s, true, err) < 0)
		return -1;
	int rc = gc_locked(s, &total, err);
	if (freed)
		*freed = total;
	i2k_store_users_lock(s, false, NULL);
	return rc;
}

static int gc_locked(struct i2k_store *s, uint64_t *freed, struct i2k_error **err)
{
	uint64_t total = 0;
	_cleanup_close_ int lock = i2k_store_lock(s, err);
	if (lock < 0)
		return -1;
	json_t *ms = NULL;
	if (i2k_index_load(s, &ms, err) < 0)
		return i2k_error_wrap(err, "gc");
	struct i2k_digest_set keep = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < json_array_size(ms); i++) {
		const char *d = json_string_value(json_object_get(json_array_get(ms, i), "digest"));
		rc = reach(s, d, 0, false, &keep, err);
	}
	json_decref(ms);
	char **names = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = i2k_store_list_dir(s->blobs, &names, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		_cleanup_free_ char *p = i2k_xasprintf("%s/%s", s->blobs, names[i]);
		if (i2k_str_has_prefix(names[i], ".partial-")) {
			drop_partial(p, &total);
			continue;
		}
		if (!i2k_store_hex64(names[i]))
			continue; /* not ours: leave it alone */
		_cleanup_free_ char *dg = i2k_xasprintf("sha256:%s", names[i]);
		if (i2k_digest_set_has(&keep, dg))
			continue;
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		if (unlink(p) < 0)
			rc = i2k_error_errno(err, errno, I2K_ERR_IO, "removing %s", p);
		else
			total += (uint64_t)st.st_size;
	}
	i2k_store_free_names(names, n);
	if (rc == 0) /* unpacked entries of the blobs that went */
		i2k_unpacked_gc(s, &keep, &total);
	i2k_digest_set_free(&keep);
	if (rc == 0)
		drop_index_temps(s);
	*freed = total;
	return rc < 0 ? i2k_error_wrap(err, "gc") : 0;
}

int i2k_store_clean(struct i2k_store *s, struct i2k_error **err)
{
	if (i2k_store_users_lock(s, true, err) < 0)
		return -1;
	int rc = 0;
	{
		_cleanup_close_ int lock = i2k_store_lock(s, err);
		_cleanup_free_ char *blobs = i2k_xasprintf("%s/blobs", s->dir);
		_cleanup_free_ char *unpacked = i2k_xasprintf("%s/unpacked", s->dir);
		_cleanup_free_ char *blocks = i2k_xasprintf("%s/compressed", s->dir);
		_cleanup_free_ char *pvh = i2k_xasprintf("%s/pvh", s->dir);
		_cleanup_free_ char *ovmf = i2k_xasprintf("%s/ovmf", s->dir);
		if (lock < 0)
			rc = -1;
		else if (i2k_rm_rf(blobs, err) < 0 || i2k_rm_rf(unpacked, err) < 0 ||
			 i2k_rm_rf(blocks, err) < 0 || i2k_rm_rf(pvh, err) < 0 ||
			 i2k_rm_rf(ovmf, err) < 0 || i2k_store_init_layout(s, true, err) < 0)
			rc = i2k_error_wrap(err, "cleaning cache %s", s->dir);
		else
			drop_index_temps(s);
	}
	i2k_store_users_lock(s, false, NULL);
	return rc;
}
