/* archive.c — OCI archives (a tar of an OCI image layout) for air-gapped
 * transfer. See store.h.
 *
 * Export writes its own ustar stream so the bytes depend only on content:
 * entries in byte order of their names (blobs/, blobs/sha256/, the blobs,
 * index.json, oci-layout), mtime 0, uid/gid 0, no owner names, mode 0755
 * for directories and 0644 for files, sizes of 8 GiB and more in the GNU
 * base-256 form. Every blob is re-hashed while it is copied, so a corrupt
 * cache never leaves in an archive.
 *
 * Import reads with libarchive and accepts only "oci-layout", "index.json",
 * the directories "blobs" and "blobs/sha256" (a leading "./" and "." itself
 * are tolerated, as tar tools write them) and regular files
 * "blobs/sha256/<64 hex>". Each blob streams through the blob writer, so it
 * is verified before it is committed. If anything fails, the blobs this
 * import committed that no ref reaches are removed again.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/store/internal.h"
#include "builder/store/store.h"

#define TAR_BLOCK 512
#define COPY_CHUNK (1u << 16)

/* ---- ustar writer ---------------------------------------------------------- */

/* width-1 zero-padded octal digits and a NUL. */
static void octal(char *field, size_t width, uint64_t v)
{
	field[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0;) {
		field[i] = (char)('0' + (v & 7));
		v >>= 3;
	}
}

static int tar_header(int fd, const char *name, char type, unsigned mode, uint64_t size,
		      struct i2k_error **err)
{
	unsigned char h[TAR_BLOCK] = {0};
	size_t nl = strlen(name);
	if (nl >= 100)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "tar name too long: %s", name);
	memcpy(h, name, nl);
	octal((char *)h + 100, 8, mode);
	octal((char *)h + 108, 8, 0); /* uid */
	octal((char *)h + 116, 8, 0); /* gid */
	if (size < (1ull << 33)) {
		octal((char *)h + 124, 12, size);
	} else { /* GNU base-256 */
		h[124] = 0x80;
		for (int i = 11; i >= 4; i--) {
			h[124 + i] = (unsigned char)(size & 0xff);
			size >>= 8;
		}
	}
	octal((char *)h + 136, 12, 0); /* mtime */
	memset(h + 148, ' ', 8);
	h[156] = (unsigned char)type;
	memcpy(h + 257, "ustar", 6); /* magic with NUL */
	memcpy(h + 263, "00", 2);
	octal((char *)h + 329, 8, 0); /* devmajor */
	octal((char *)h + 337, 8, 0); /* devminor */
	unsigned sum = 0;
	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += h[i];
	octal((char *)h + 148, 7, sum); /* 6 digits, NUL, then the space kept */
	return i2k_write_all(fd, h, sizeof(h), err);
}

static int tar_pad(int fd, uint64_t size, struct i2k_error **err)
{
	static const char zeros[TAR_BLOCK];
	size_t pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
	return i2k_write_all(fd, zeros, pad, err);
}

static int tar_file(int fd, const char *name, const char *data, size_t len, struct i2k_error **err)
{
	if (tar_header(fd, name, '0', 0644, len, err) < 0 || i2k_write_all(fd, data, len, err) < 0)
		return -1;
	return tar_pad(fd, len, err);
}

/* Copies a blob into the tar, re-hashing it. */
static int tar_blob(struct i2k_store *s, int out, const char *digest, struct i2k_error **err)
{
	_cleanup_close_ int fd = -1;
	uint64_t size = 0;
	if (i2k_store_open_blob(s, digest, &fd, &size, err) < 0)
		return -1;
	_cleanup_free_ char *name = i2k_xasprintf("blobs/sha256/%s", digest + 7);
	if (tar_header(out, name, '0', 0644, size, err) < 0)
		return -1;
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	_cleanup_free_ char *buf = i2k_xmalloc(COPY_CHUNK);
	uint64_t done = 0;
	while (done < size) {
		size_t want = size - done < COPY_CHUNK ? (size_t)(size - done) : COPY_CHUNK;
		ssize_t n = read(fd, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "reading blob %s", digest);
		if (n == 0)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "cache blob %s shrank while exporting", digest);
		i2k_sha256_update(h, buf, (size_t)n);
		if (i2k_write_all(out, buf, (size_t)n, err) < 0)
			return -1;
		done += (uint64_t)n;
		if (i2k_check_interrupt(err) < 0)
			return -1;
	}
	char got[I2K_DIGEST_LEN + 1];
	i2k_sha256_final(h, got);
	if (strcmp(got, digest) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "cache blob %s is corrupt (content has digest %s); run `i2kit "
				     "cache clean`",
				     digest, got);
	return tar_pad(out, size, err);
}

static int digest_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static const char layout_json[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

static int write_archive(struct i2k_store *s, int fd, json_t *entries, struct i2k_digest_set *set,
			 struct i2k_error **err)
{
	qsort(set->v, set->n, sizeof(*set->v), digest_cmp);
	if (tar_header(fd, "blobs/", '5', 0755, 0, err) < 0 ||
	    tar_header(fd, "blobs/sha256/", '5', 0755, 0, err) < 0)
		return -1;
	for (size_t i = 0; i < set->n; i++)
		if (tar_blob(s, fd, set->v[i], err) < 0)
			return -1;
	_cleanup_free_ char *index = i2k_index_dump(entries);
	if (tar_file(fd, "index.json", index, strlen(index), err) < 0 ||
	    tar_file(fd, "oci-layout", layout_json, strlen(layout_json), err) < 0)
		return -1;
	static const char end[2 * TAR_BLOCK];
	return i2k_write_all(fd, end, sizeof(end), err);
}

int i2k_store_export(struct i2k_store *s, const char *path, const char *const *refs, size_t n,
		     struct i2k_error **err)
{
	if (n == 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "export: no image refs given");
	json_t *ms = NULL;
	if (i2k_index_load(s, &ms, err) < 0)
		return i2k_error_wrap(err, "export");
	json_t *entries = json_array();
	struct i2k_digest_set set = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *found = NULL;
		for (size_t j = 0; j < json_array_size(ms) && !found; j++) {
			const char *name = i2k_index_entry_name(json_array_get(ms, j));
			if (name && strcmp(name, refs[i]) == 0)
				found = json_array_get(ms, j);
		}
		bool dup = false;
		for (size_t j = 0; j < json_array_size(entries); j++)
			dup |= json_array_get(entries, j) == found;
		if (!i2k_store_ref_name_valid(refs[i]))
			rc = i2k_error_set(err, I2K_ERR_USAGE, "invalid image ref name \"%.200s\"",
					   refs[i]);
		else if (found == NULL)
			rc = i2k_error_set(err, I2K_ERR_NOTFOUND, "%s is not in the cache %s",
					   refs[i], s->dir);
		else if (!dup) {
			json_array_append(entries, found);
			const char *d = json_string_value(json_object_get(found, "digest"));
			rc = i2k_store_reach(s, d, true, &set, err);
			if (rc < 0)
				i2k_error_wrap(err, "%s", refs[i]);
		}
	}
	struct i2k_atomic_file af = {.fd = -1};
	if (rc == 0)
		rc = i2k_atomic_open(&af, path, 0644, err);
	if (rc == 0) {
		rc = write_archive(s, af.fd, entries, &set, err);
		if (rc == 0)
			rc = i2k_atomic_commit(&af, err);
		else
			i2k_atomic_abort(&af);
	}
	json_decref(entries);
	json_decref(ms);
	i2k_digest_set_free(&set);
	return rc < 0 ? i2k_error_wrap(err, "export to %s", path) : 0;
}

/* ---- import ------------------------------------------------------------------ */

struct import {
	struct i2k_store *s;
	const char *path;
	struct archive *a;
	char *index; /* index.json text */
	size_t index_len;
	bool layout;
	struct i2k_digest_set added; /* blobs this import committed */
};

static int arc_error(struct import *im, const char *what, struct i2k_error **err)
{
	const char *msg = archive_error_string(im->a);
	int e = archive_errno(im->a);
	return i2k_error_set(err, e == ENOSPC ? I2K_ERR_IO : I2K_ERR_INTEGRITY, "%s: %s", what,
			     e == ENOSPC ? "no space left on device"
			     : msg	 ? msg
					 : "?");
}

/* Reads the current entry's data (at most max bytes). */
static int read_small(struct import *im, const char *name, size_t max, char **out, size_t *len,
		      struct i2k_error **err)
{
	struct i2k_buf b = {.max = max};
	char chunk[8192];
	for (;;) {
		la_ssize_t n = archive_read_data(im->a, chunk, sizeof(chunk));
		if (n < 0) {
			i2k_buf_free(&b);
			return arc_error(im, name, err);
		}
		if (n == 0)
			break;
		if (i2k_buf_append(&b, chunk, (size_t)n, err) < 0) {
			i2k_buf_free(&b);
			return i2k_error_wrap(err, "%s", name);
		}
	}
	*out = b.data ? b.data : i2k_xstrdup("");
	*len = b.len;
	return 0;
}

static int import_blob(struct import *im, const char *name, const char *digest,
		       struct archive_entry *e, struct i2k_error **err)
{
	int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 0;
	if (i2k_store_blob_begin(im->s, digest, size, &w, &from, err) < 0)
		return -1;
	if (i2k_blob_writer_present(w)) {
		if (archive_read_data_skip(im->a) != ARCHIVE_OK) {
			i2k_blob_writer_abort(w, true);
			return arc_error(im, name, err);
		}
		return i2k_blob_writer_commit(w, err);
	}
	/* a partial left by someone else: the tar stream starts at 0 */
	if (from && i2k_blob_writer_truncate(w, 0, err) < 0) {
		i2k_blob_writer_abort(w, false);
		return -1;
	}
	_cleanup_free_ char *buf = i2k_xmalloc(COPY_CHUNK);
	for (;;) {
		la_ssize_t n = archive_read_data(im->a, buf, COPY_CHUNK);
		if (n < 0) {
			i2k_blob_writer_abort(w, false);
			return arc_error(im, name, err);
		}
		if (n == 0)
			break;
		if (i2k_blob_writer_write(w, buf, (size_t)n, err) < 0 ||
		    i2k_check_interrupt(err) < 0) {
			i2k_blob_writer_abort(w, false);
			return -1;
		}
	}
	if (i2k_blob_writer_commit(w, err) < 0)
		return -1;
	i2k_digest_set_add(&im->added, digest);
	return 0;
}

static int hostile(struct i2k_error **err, const char *name, const char *why)
{
	return i2k_error_set(err, I2K_ERR_HOSTILE, "entry \"%.200s\": %s", name, why);
}

static int import_entry(struct import *im, struct archive_entry *e, struct i2k_error **err)
{
	const char *raw = archive_entry_pathname(e);
	if (raw == NULL)
		return i2k_error_set(err, I2K_ERR_HOSTILE, "entry without a name");
	const char *name = raw;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	size_t len = strlen(name);
	char norm[128];
	if (len >= sizeof(norm))
		return hostile(err, raw, "unexpected entry in an OCI archive");
	memcpy(norm, name, len + 1);
	if (len > 0 && norm[len - 1] == '/')
		norm[--len] = '\0';
	mode_t type = archive_entry_filetype(e);
	if (archive_entry_hardlink(e) || archive_entry_symlink(e))
		return hostile(err, raw, "links are not allowed in an OCI archive");
	if (len == 0 || strcmp(norm, ".") == 0 || strcmp(norm, "blobs") == 0 ||
	    strcmp(norm, "blobs/sha256") == 0) {
		if (type != AE_IFDIR)
			return hostile(err, raw, "expected a directory");
		return 0;
	}
	bool is_blob = i2k_str_has_prefix(norm, "blobs/sha256/");
	if (!is_blob && strcmp(norm, "oci-layout") != 0 && strcmp(norm, "index.json") != 0)
		return hostile(err, raw,
			       "unexpected entry (an OCI archive holds only oci-layout, "
			       "index.json and blobs/sha256/<digest>)");
	if (is_blob && !i2k_store_hex64(norm + strlen("blobs/sha256/")))
		return hostile(err, raw, "blob name is not a sha256 digest");
	if (type != AE_IFREG)
		return hostile(err, raw, "not a regular file");
	if (is_blob) {
		char digest[I2K_DIGEST_LEN + 1];
		memcpy(digest, "sha256:", 7);
		memcpy(digest + 7, norm + strlen("blobs/sha256/"), 65); /* 64 hex + NUL */
		if (import_blob(im, raw, digest, e, err) < 0)
			return i2k_error_wrap(err, "entry %s", raw);
		return 0;
	}
	if (strcmp(norm, "index.json") == 0) {
		free(im->index);
		im->index = NULL;
		return read_small(im, raw, I2K_STORE_INDEX_MAX, &im->index, &im->index_len, err);
	}
	_cleanup_free_ char *data = NULL;
	size_t n = 0;
	if (read_small(im, raw, I2K_STORE_LAYOUT_MAX, &data, &n, err) < 0)
		return -1;
	json_t *j = json_loadb(data, n, 0, NULL);
	const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
	bool ok = v && strcmp(v, "1.0.0") == 0;
	json_decref(j);
	if (!ok)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "oci-layout: not image layout version 1.0.0");
	im->layout = true;
	return 0;
}

struct refs_ctx {
	json_t *named; /* entries to add */
};

/* A manifest whose config is larger than a build accepts is refused here
 * (and its blobs rolled back), not left committed for every build to trip
 * over. Indexes are not followed: builds never read their configs. */
static int check_config_size(struct i2k_store *s, const char *name, const char *digest,
			     struct i2k_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (i2k_store_read_blob(s, digest, I2K_STORE_MANIFEST_MAX, &data, &len, err) < 0)
		return i2k_error_wrap(err, "ref %s", name);
	json_t *m = json_loadb(data, len, 0, NULL);
	json_t *cfg = json_object_get(m, "config");
	json_int_t size = json_integer_value(json_object_get(cfg, "size"));
	const char *cd = json_string_value(json_object_get(cfg, "digest"));
	int rc = 0;
	if (size > (json_int_t)I2K_STORE_CONFIG_MAX)
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
				   "ref %s: config %s: %lld bytes exceeds the limit of %u bytes",
				   name, cd ? cd : "?", (long long)size, I2K_STORE_CONFIG_MAX);
	json_decref(m);
	return rc;
}

static int add_refs_fn(struct i2k_store *s, json_t *ms, void *ctx, bool *changed,
		       struct i2k_error **err)
{
	struct refs_ctx *c = ctx;
	for (size_t i = 0; i < json_array_size(c->named); i++) {
		json_t *e = json_array_get(c->named, i);
		const char *name = i2k_index_entry_name(e);
		struct i2k_descriptor d = {0};
		i2k_index_entry_desc(e, &d);
		int r = i2k_store_check_desc(s, name, &d, err);
		if (r == 0)
			r = check_config_size(s, name, d.digest, err);
		if (r == 0)
			i2k_index_put(ms, name, &d);
		free(d.media_type);
		if (r < 0)
			return -1;
	}
	*changed = json_array_size(c->named) > 0;
	return 0;
}

/* Removes the blobs this import committed that no ref reaches. */
static void rollback(struct import *im)
{
	if (im->added.n == 0)
		return;
	_cleanup_close_ int lock = i2k_store_lock(im->s, NULL);
	if (lock < 0)
		return;
	json_t *ms = NULL;
	if (i2k_index_load(im->s, &ms, NULL) < 0)
		return;
	struct i2k_digest_set keep = {0};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < json_array_size(ms); i++) {
		const char *d = json_string_value(json_object_get(json_array_get(ms, i), "digest"));
		rc = i2k_store_reach(im->s, d, false, &keep, NULL);
	}
	json_decref(ms);
	for (size_t i = 0; rc == 0 && i < im->added.n; i++) {
		if (i2k_digest_set_has(&keep, im->added.v[i]))
			continue;
		_cleanup_free_ char *p = i2k_store_blob_path(im->s, im->added.v[i]);
		unlink(p);
	}
	i2k_digest_set_free(&keep);
}

static int import_run(struct import *im, char ***names, size_t *n, struct i2k_error **err)
{
	im->a = archive_read_new();
	archive_read_support_format_tar(im->a);
	archive_read_support_filter_all(im->a);
	if (archive_read_open_filename(im->a, im->path, COPY_CHUNK) != ARCHIVE_OK) {
		int e = archive_errno(im->a);
		if (e == ENOENT)
			return i2k_error_set(err, I2K_ERR_NOTFOUND, "no such file");
		return arc_error(im, "opening", err);
	}
	for (;;) {
		struct archive_entry *e = NULL;
		int r = archive_read_next_header(im->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
			return arc_error(im, "not a readable tar archive", err);
		if (import_entry(im, e, err) < 0)
			return -1;
	}
	if (!im->layout || im->index == NULL)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "not an OCI archive (no %s)",
				     im->layout ? "index.json" : "oci-layout");
	json_t *ms = NULL;
	if (i2k_index_parse(im->index, im->index_len, "index.json", &ms, err) < 0)
		return -1;
	json_t *named = json_array();
	for (size_t i = 0; i < json_array_size(ms); i++)
		if (i2k_index_entry_name(json_array_get(ms, i)))
			json_array_append(named, json_array_get(ms, i));
	json_decref(ms);
	int rc = 0;
	if (json_array_size(named) == 0)
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
				   "index.json names no image (no " I2K_STORE_REF_ANNOTATION
				   " annotation)");
	struct refs_ctx c = {named};
	if (rc == 0)
		rc = i2k_index_edit(im->s, add_refs_fn, &c, err);
	if (rc == 0 && names) {
		size_t k = json_array_size(named);
		char **v = i2k_xcalloc(k + 1, sizeof(*v));
		for (size_t i = 0; i < k; i++)
			v[i] = i2k_xstrdup(i2k_index_entry_name(json_array_get(named, i)));
		*names = v;
		if (n)
			*n = k;
	}
	json_decref(named);
	return rc;
}

int i2k_store_import(struct i2k_store *s, const char *path, char ***names, size_t *n,
		     struct i2k_error **err)
{
	if (names)
		*names = NULL;
	if (n)
		*n = 0;
	struct import im = {.s = s, .path = path};
	int rc = import_run(&im, names, n, err);
	if (im.a)
		archive_read_free(im.a);
	if (rc < 0)
		rollback(&im);
	free(im.index);
	i2k_digest_set_free(&im.added);
	return rc < 0 ? i2k_error_wrap(err, "importing %s", path) : 0;
}
