/* test_store.c — builder/store: blobs, the blob writer (resume, verify,
 * disk full), refs, gc, clean, OCI archive export/import, concurrency, and
 * the real oracles `skopeo inspect` and `umoci ls` on what the store writes.
 *
 * Every test works in its own temp directory under $TMPDIR (or /tmp). The
 * test image (config + one gzip layer + manifest) is built here with
 * libarchive, so no fixture files are needed.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/store/store.h"
#include "tests/unit/test.h"

/* ---- helpers ------------------------------------------------------------------- */

static char *tmpdir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *t = i2k_xasprintf("%s/i2k-store-XXXXXX", base && *base ? base : "/tmp");
	if (mkdtemp(t) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return t;
}

static void tmpdir_free(char **t)
{
	if (*t) {
		i2k_rm_rf(*t, NULL);
		free(*t);
	}
}
#define _cleanup_tmp_ _cleanup_(tmpdir_free)

static struct i2k_store *open_store(const char *dir)
{
	struct i2k_store *s = NULL;
	struct i2k_error *e = NULL;
	if (i2k_store_open(dir, &s, &e) < 0) {
		fprintf(stderr, "open %s: %s\n", dir, e->msg);
		abort();
	}
	return s;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static char *blob_path(const char *dir, const char *digest)
{
	return i2k_xasprintf("%s/blobs/sha256/%s", dir, digest + 7);
}

static char *partial_path(const char *dir, const char *digest)
{
	return i2k_xasprintf("%s/blobs/sha256/.partial-%s", dir, digest + 7);
}

static size_t count_dir(const char *dir)
{
	char *cmd = i2k_xasprintf("ls -A '%s' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	free(cmd);
	size_t n = 0;
	if (p) {
		if (fscanf(p, "%zu", &n) != 1)
			n = (size_t)-1;
		pclose(p);
	}
	return n;
}

static char *read_text(const char *path)
{
	char *d = NULL;
	size_t n = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, 64u << 20, &d, &n, &e) < 0) {
		i2k_error_free(e);
		return NULL;
	}
	return d;
}

static void write_text(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

/* Runs a shell command; returns its exit status and stdout+stderr in *out. */
static int run(const char *cmd, char **out)
{
	char *full = i2k_xasprintf("%s 2>&1", cmd);
	FILE *p = popen(full, "r");
	free(full);
	if (p == NULL)
		return -1;
	struct i2k_buf b = {0};
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		i2k_buf_append(&b, chunk, n, NULL);
	int st = pclose(p);
	if (out)
		*out = b.data ? b.data : i2k_xstrdup("");
	else
		free(b.data);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool have_tool(const char *name)
{
	char *cmd = i2k_xasprintf("command -v %s >/dev/null", name);
	int r = run(cmd, NULL);
	free(cmd);
	if (r != 0)
		fprintf(stderr, "  %s is not installed: this oracle test cannot run (FAIL)\n",
			name);
	return r == 0;
}

/* An in-memory tar (optionally gzip) with one file. */
static size_t make_tar(char *buf, size_t cap, const char *fname, const char *content, bool gz)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_ustar(a);
	if (gz) {
		archive_write_add_filter_gzip(a);
		/* no mtime in the gzip header: the same image twice, whatever the clock */
		archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
	} else {
		archive_write_add_filter_none(a);
	}
	archive_write_set_bytes_per_block(a, 0);
	size_t used = 0;
	if (archive_write_open_memory(a, buf, cap, &used) != ARCHIVE_OK)
		abort();
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, fname);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)strlen(content));
	archive_write_header(a, e);
	archive_write_data(a, content, strlen(content));
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	return used;
}

struct image {
	char manifest[I2K_DIGEST_LEN + 1];
	char config[I2K_DIGEST_LEN + 1];
	char layer[I2K_DIGEST_LEN + 1];
	int64_t manifest_size;
};

static void put(struct i2k_store *s, const void *data, size_t len, char *digest)
{
	i2k_sha256_digest(data, len, digest);
	struct i2k_error *e = NULL;
	if (i2k_store_put_blob(s, digest, data, len, &e) < 0) {
		fprintf(stderr, "put: %s\n", e->msg);
		abort();
	}
}

/* A real single-layer image: gzip layer holding /hello, config, manifest.
 * If name is not NULL the ref is set. */
static struct image make_image(struct i2k_store *s, const char *name, const char *text)
{
	struct image im;
	static char tar[16384], tgz[16384];
	size_t tlen = make_tar(tar, sizeof(tar), "hello", text, false);
	size_t zlen = make_tar(tgz, sizeof(tgz), "hello", text, true);
	char diff_id[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(tar, tlen, diff_id);
	put(s, tgz, zlen, im.layer);
	_cleanup_free_ char *cfg =
	    i2k_xasprintf("{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"/hello\"]},"
			  "\"created\":\"1970-01-01T00:00:00Z\",\"os\":\"linux\","
			  "\"rootfs\":{\"diff_ids\":[\"%s\"],\"type\":\"layers\"}}",
			  diff_id);
	put(s, cfg, strlen(cfg), im.config);
	_cleanup_free_ char *man = i2k_xasprintf(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":%zu},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
	    "\"digest\":\"%s\",\"size\":%zu}]}",
	    im.config, strlen(cfg), im.layer, zlen);
	put(s, man, strlen(man), im.manifest);
	im.manifest_size = (int64_t)strlen(man);
	if (name) {
		struct i2k_descriptor d = {.media_type =
					       "application/vnd.oci.image.manifest.v1+json",
					   .size = im.manifest_size};
		memcpy(d.digest, im.manifest, sizeof(d.digest));
		struct i2k_error *e = NULL;
		if (i2k_store_ref_set(s, name, &d, &e) < 0) {
			fprintf(stderr, "ref_set: %s\n", e->msg);
			abort();
		}
	}
	return im;
}

static bool blob_ok(struct i2k_store *s, const char *digest)
{
	char *d = NULL;
	size_t n = 0;
	struct i2k_error *e = NULL;
	int r = i2k_store_read_blob(s, digest, 64u << 20, &d, &n, &e);
	if (r < 0) {
		fprintf(stderr, "  read %s: %s\n", digest, e->msg);
		i2k_error_free(e);
	}
	free(d);
	return r == 0;
}

static void fill(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char)(seed >> 16);
	}
}

/* ---- default dir, open ------------------------------------------------------------ */

TEST(default_dir)
{
	char *old_c = i2k_xstrdup(getenv("I2KIT_CACHE"));
	char *old_x = i2k_xstrdup(getenv("XDG_CACHE_HOME"));
	char *old_h = i2k_xstrdup(getenv("HOME"));
	setenv("I2KIT_CACHE", "/c/x", 1);
	setenv("XDG_CACHE_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	char *d = i2k_store_default_dir();
	CHECK_STR(d, "/c/x");
	free(d);
	unsetenv("I2KIT_CACHE");
	d = i2k_store_default_dir();
	CHECK_STR(d, "/xdg/i2kit");
	free(d);
	unsetenv("XDG_CACHE_HOME");
	d = i2k_store_default_dir();
	CHECK_STR(d, "/home/u/.cache/i2kit");
	free(d);
	old_c ? setenv("I2KIT_CACHE", old_c, 1) : unsetenv("I2KIT_CACHE");
	old_x ? setenv("XDG_CACHE_HOME", old_x, 1) : unsetenv("XDG_CACHE_HOME");
	old_h ? setenv("HOME", old_h, 1) : unsetenv("HOME");
	free(old_c);
	free(old_x);
	free(old_h);
}

TEST(open_creates_layout)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_free_ char *dir = i2k_xasprintf("%s/a/b/cache/", t);
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(dir);
	_cleanup_free_ char *clean = i2k_xasprintf("%s/a/b/cache", t);
	CHECK_STR(i2k_store_dir(s), clean);
	_cleanup_free_ char *lp = i2k_xasprintf("%s/oci-layout", clean);
	_cleanup_free_ char *ip = i2k_xasprintf("%s/index.json", clean);
	_cleanup_free_ char *bp = i2k_xasprintf("%s/blobs/sha256", clean);
	_cleanup_free_ char *layout = read_text(lp);
	CHECK_STR(layout, "{\"imageLayoutVersion\":\"1.0.0\"}");
	_cleanup_free_ char *index = read_text(ip);
	json_t *j = json_loads(index ? index : "", 0, NULL);
	CHECK(json_integer_value(json_object_get(j, "schemaVersion")) == 2);
	CHECK_STR(json_string_value(json_object_get(j, "mediaType")),
		  "application/vnd.oci.image.index.v1+json");
	CHECK(json_is_array(json_object_get(j, "manifests")));
	json_decref(j);
	CHECK(exists(bp));
	/* reopening keeps what is there */
	make_image(s, "keep:1", "x");
	struct i2k_store *s2 = open_store(dir);
	struct i2k_store_ref r;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_store_ref_get(s2, "keep:1", &r, &e), 1);
	i2k_store_ref_clear(&r);
	i2k_store_free(s2);
	i2k_store_free(NULL);

	/* not a layout */
	_cleanup_free_ char *bad = i2k_xasprintf("%s/bad", t);
	mkdir(bad, 0755);
	_cleanup_free_ char *badl = i2k_xasprintf("%s/oci-layout", bad);
	write_text(badl, "{\"imageLayoutVersion\":\"2.0\"}", 28);
	struct i2k_store *x = NULL;
	CHECK(i2k_store_open(bad, &x, &e) < 0);
	CHECK(x == NULL);
	CHECK_CONTAINS(e ? e->msg : NULL, "not an OCI image layout version 1.0.0");
	CHECK_CONTAINS(e ? e->msg : NULL, "opening cache");
	i2k_error_freep(&e);
	CHECK(i2k_store_open("", &x, &e) < 0);
	CHECK(e && e->code == I2K_ERR_USAGE);
	i2k_error_freep(&e);
	/* a file where the directory should be */
	_cleanup_free_ char *file = i2k_xasprintf("%s/file", t);
	write_text(file, "x", 1);
	CHECK(i2k_store_open(file, &x, &e) < 0);
	CHECK(e && e->code == I2K_ERR_IO);
	i2k_error_freep(&e);
}

/* ---- blobs -------------------------------------------------------------------------- */

TEST(put_read_open_blob)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct i2k_error *e = NULL;
	const char *txt = "{\"hello\":1}";
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(txt, strlen(txt), d);
	CHECK(!i2k_store_has_blob(s, d));
	CHECK_INT(i2k_store_put_blob(s, d, txt, strlen(txt), &e), 0);
	CHECK(i2k_store_has_blob(s, d));
	/* idempotent */
	CHECK_INT(i2k_store_put_blob(s, d, txt, strlen(txt), &e), 0);
	char *data = NULL;
	size_t len = 0;
	CHECK_INT(i2k_store_read_blob(s, d, 100, &data, &len, &e), 0);
	CHECK_STR(data, txt);
	CHECK_INT(len, strlen(txt));
	free(data);
	int fd = -1;
	uint64_t size = 0;
	CHECK_INT(i2k_store_open_blob(s, d, &fd, &size, &e), 0);
	CHECK_INT(size, strlen(txt));
	CHECK(fd >= 0);
	close(fd);

	/* too big for max */
	CHECK(i2k_store_read_blob(s, d, 4, &data, &len, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "exceeds the limit of 4 bytes");
	i2k_error_freep(&e);

	/* wrong content for the digest: nothing stored */
	char d2[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest("other", 5, d2);
	CHECK(i2k_store_put_blob(s, d2, txt, strlen(txt), &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	_cleanup_free_ char *want =
	    i2k_xasprintf("blob %s: content has digest %s (11 bytes)", d2, d);
	CHECK_CONTAINS(e ? e->msg : NULL, want);
	i2k_error_freep(&e);
	CHECK(!i2k_store_has_blob(s, d2));

	/* malformed digests never become paths */
	const char *bad[] = {
	    "sha256:../../../etc/passwd", "sha256:ABCDEF", "md5:abc", "",
	    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeF"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++) {
		CHECK(!i2k_store_has_blob(s, bad[i]));
		CHECK(i2k_store_put_blob(s, bad[i], "x", 1, &e) < 0);
		CHECK_CONTAINS(e ? e->msg : NULL, "invalid digest");
		i2k_error_freep(&e);
		CHECK(i2k_store_open_blob(s, bad[i], &fd, &size, &e) < 0);
		CHECK(e && e->code == I2K_ERR_INTEGRITY);
		i2k_error_freep(&e);
		CHECK(i2k_store_read_blob(s, bad[i], 10, &data, &len, &e) < 0);
		i2k_error_freep(&e);
		struct i2k_blob_writer *w = NULL;
		uint64_t from = 0;
		CHECK(i2k_store_blob_begin(s, bad[i], 1, &w, &from, &e) < 0);
		CHECK_CONTAINS(e ? e->msg : NULL, "invalid digest");
		i2k_error_freep(&e);
	}

	/* missing */
	CHECK(i2k_store_read_blob(s, d2, 10, &data, &len, &e) < 0);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	CHECK_CONTAINS(e ? e->msg : NULL, "not in cache");
	i2k_error_freep(&e);
	CHECK(i2k_store_open_blob(s, d2, &fd, &size, &e) < 0);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	i2k_error_freep(&e);

	/* corruption of a committed blob: read_blob notices, open_blob does not */
	_cleanup_free_ char *p = blob_path(t, d);
	write_text(p, "{\"hello\":2}", 11);
	CHECK(i2k_store_read_blob(s, d, 100, &data, &len, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	_cleanup_free_ char *cw = i2k_xasprintf("cache blob %s is corrupt", d);
	CHECK_CONTAINS(e ? e->msg : NULL, cw);
	CHECK_CONTAINS(e ? e->msg : NULL, "run `i2kit cache clean`");
	i2k_error_freep(&e);
	CHECK_INT(i2k_store_open_blob(s, d, &fd, &size, &e), 0);
	close(fd);
}

TEST(writer_resume)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct i2k_error *e = NULL;
	size_t n = 300000, half = 123457;
	_cleanup_free_ char *buf = i2k_xmalloc(n);
	fill(buf, n, 7);
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(buf, n, d);
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 99;
	CHECK_INT(i2k_store_blob_begin(s, d, (int64_t)n, &w, &from, &e), 0);
	CHECK_INT(from, 0);
	CHECK(!i2k_blob_writer_present(w));
	CHECK_INT(i2k_blob_writer_write(w, buf, 1000, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, buf + 1000, half - 1000, &e), 0);
	CHECK_INT(i2k_blob_writer_offset(w), half);
	i2k_blob_writer_abort(w, true);
	i2k_blob_writer_abort(NULL, true);
	_cleanup_free_ char *pp = partial_path(t, d);
	_cleanup_free_ char *fp = blob_path(t, d);
	CHECK(exists(pp));
	CHECK(!exists(fp));
	CHECK(!i2k_store_has_blob(s, d));

	/* resumes where it stopped, with the hash of what is there */
	CHECK_INT(i2k_store_blob_begin(s, d, (int64_t)n, &w, &from, &e), 0);
	CHECK_INT(from, half);
	CHECK_INT(i2k_blob_writer_offset(w), half);
	CHECK_INT(i2k_blob_writer_write(w, buf + half, n - half, &e), 0);
	CHECK_INT(i2k_blob_writer_commit(w, &e), 0);
	CHECK(e == NULL);
	CHECK(!exists(pp));
	CHECK(i2k_store_has_blob(s, d));
	CHECK(blob_ok(s, d));

	/* unknown size works too */
	char d2[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(buf, 5000, d2);
	CHECK_INT(i2k_store_blob_begin(s, d2, -1, &w, &from, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, buf, 5000, &e), 0);
	CHECK_INT(i2k_blob_writer_commit(w, &e), 0);
	CHECK(blob_ok(s, d2));

	/* abort without keep removes the partial */
	char d3[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(buf, 7000, d3);
	_cleanup_free_ char *pp3 = partial_path(t, d3);
	CHECK_INT(i2k_store_blob_begin(s, d3, 7000, &w, &from, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, buf, 100, &e), 0);
	CHECK(exists(pp3));
	i2k_blob_writer_abort(w, false);
	CHECK(!exists(pp3));

	/* a partial longer than the blob can be is discarded */
	write_text(pp3, buf, 8000);
	CHECK_INT(i2k_store_blob_begin(s, d3, 7000, &w, &from, &e), 0);
	CHECK_INT(from, 0);
	CHECK_INT(i2k_blob_writer_write(w, buf, 7000, &e), 0);
	CHECK_INT(i2k_blob_writer_commit(w, &e), 0);
	CHECK(blob_ok(s, d3));
}

TEST(writer_corrupt)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct i2k_error *e = NULL;
	char good[4096], bad[4096];
	fill(good, sizeof(good), 1);
	fill(bad, sizeof(bad), 2);
	char d[I2K_DIGEST_LEN + 1], dbad[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(good, sizeof(good), d);
	i2k_sha256_digest(bad, sizeof(bad), dbad);
	_cleanup_free_ char *pp = partial_path(t, d);
	_cleanup_free_ char *fp = blob_path(t, d);

	/* wrong bytes of the right size */
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 0;
	CHECK_INT(i2k_store_blob_begin(s, d, sizeof(bad), &w, &from, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, bad, sizeof(bad), &e), 0);
	CHECK(i2k_blob_writer_commit(w, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	_cleanup_free_ char *m1 =
	    i2k_xasprintf("blob %s: content has digest %s (4096 bytes)", d, dbad);
	CHECK_STR(e ? e->msg : NULL, m1);
	i2k_error_freep(&e);
	CHECK(!exists(pp));
	CHECK(!exists(fp));

	/* truncated download */
	char dhalf[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(good, 100, dhalf);
	CHECK_INT(i2k_store_blob_begin(s, d, sizeof(good), &w, &from, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, good, 100, &e), 0);
	CHECK(i2k_blob_writer_commit(w, &e) < 0);
	_cleanup_free_ char *m2 =
	    i2k_xasprintf("blob %s: content has digest %s (100 bytes, expected 4096)", d, dhalf);
	CHECK_STR(e ? e->msg : NULL, m2);
	i2k_error_freep(&e);
	CHECK(!exists(pp));
	CHECK(!exists(fp));

	/* right digest, wrong descriptor size */
	CHECK_INT(i2k_store_blob_begin(s, d, sizeof(good) + 1, &w, &from, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, good, sizeof(good), &e), 0);
	CHECK(i2k_blob_writer_commit(w, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "content has 4096 bytes, the descriptor says 4097");
	i2k_error_freep(&e);
	CHECK(!exists(pp));
	CHECK(!exists(fp));

	/* more data than announced is refused at once */
	CHECK_INT(i2k_store_blob_begin(s, d, 10, &w, &from, &e), 0);
	CHECK(i2k_blob_writer_write(w, good, 11, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "more data than the expected 10 bytes");
	i2k_error_freep(&e);
	i2k_blob_writer_abort(w, false);
	CHECK(!exists(pp));
	_cleanup_free_ char *bdir = i2k_xasprintf("%s/blobs/sha256", t);
	CHECK_INT(count_dir(bdir), 0);
}

TEST(writer_truncate)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct i2k_error *e = NULL;
	char good[20000], junk[3000];
	fill(good, sizeof(good), 3);
	fill(junk, sizeof(junk), 4);
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(good, sizeof(good), d);
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 0;
	/* a server that ignored Range: start over from 0 */
	CHECK_INT(i2k_store_blob_begin(s, d, sizeof(good), &w, &from, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, junk, sizeof(junk), &e), 0);
	CHECK_INT(i2k_blob_writer_truncate(w, 0, &e), 0);
	CHECK_INT(i2k_blob_writer_offset(w), 0);
	/* back to the middle: the hash is rebuilt from the file */
	CHECK_INT(i2k_blob_writer_write(w, good, 7000, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, junk, 500, &e), 0);
	CHECK_INT(i2k_blob_writer_truncate(w, 7000, &e), 0);
	CHECK_INT(i2k_blob_writer_truncate(w, 7000, &e), 0); /* no-op */
	CHECK(i2k_blob_writer_truncate(w, 7001, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTERNAL);
	CHECK_CONTAINS(e ? e->msg : NULL, "cannot truncate to 7001, only 7000 bytes written");
	i2k_error_freep(&e);
	CHECK_INT(i2k_blob_writer_write(w, good + 7000, sizeof(good) - 7000, &e), 0);
	CHECK_INT(i2k_blob_writer_commit(w, &e), 0);
	CHECK(blob_ok(s, d));
}

TEST(writer_present)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct i2k_error *e = NULL;
	char d[I2K_DIGEST_LEN + 1];
	put(s, "abcdef", 6, d);
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 0;
	CHECK_INT(i2k_store_blob_begin(s, d, 6, &w, &from, &e), 0);
	CHECK(i2k_blob_writer_present(w));
	CHECK_INT(from, 6);
	CHECK(i2k_blob_writer_write(w, "x", 1, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "already in the cache; nothing to write");
	i2k_error_freep(&e);
	CHECK(i2k_blob_writer_truncate(w, 0, &e) < 0);
	i2k_error_freep(&e);
	CHECK_INT(i2k_blob_writer_commit(w, &e), 0);
	/* present, but not the size the caller expects */
	CHECK_INT(i2k_store_blob_begin(s, d, 7, &w, &from, &e), 0);
	CHECK(i2k_blob_writer_present(w));
	CHECK(i2k_blob_writer_commit(w, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "the cached blob has 6 bytes, expected 7");
	i2k_error_freep(&e);
	/* a stale partial next to a committed blob is ignored and left to gc */
	_cleanup_free_ char *pp = partial_path(t, d);
	write_text(pp, "abc", 3);
	CHECK_INT(i2k_store_blob_begin(s, d, 6, &w, &from, &e), 0);
	CHECK(i2k_blob_writer_present(w));
	i2k_blob_writer_abort(w, true);
	CHECK(blob_ok(s, d));
}

/* A second writer of the same blob waits for the first; after the first
 * commits, it finds the blob present. */
TEST(writer_serialised)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct i2k_error *e = NULL;
	char buf[10000];
	fill(buf, sizeof(buf), 9);
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(buf, sizeof(buf), d);
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 0;
	CHECK_INT(i2k_store_blob_begin(s, d, sizeof(buf), &w, &from, &e), 0);
	CHECK_INT(i2k_blob_writer_write(w, buf, 5000, &e), 0);
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* drop the inherited descriptor of the parent's locked partial file
		 * (it shares the parent's flock and would keep it held) */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != pfd[1])
				close(fd);
		struct i2k_store *cs = open_store(t);
		struct i2k_blob_writer *cw = NULL;
		uint64_t cf = 0;
		struct i2k_error *ce = NULL;
		if (i2k_store_blob_begin(cs, d, sizeof(buf), &cw, &cf, &ce) < 0)
			_exit(10);
		char r = i2k_blob_writer_present(cw) && cf == sizeof(buf) ? 'P' : 'N';
		if (write(pfd[1], &r, 1) != 1)
			_exit(11);
		_exit(i2k_blob_writer_commit(cw, &ce) < 0 ? 12 : 0);
	}
	close(pfd[1]);
	usleep(200000); /* the child is now blocked on the partial's lock */
	CHECK_INT(i2k_blob_writer_write(w, buf + 5000, 5000, &e), 0);
	CHECK_INT(i2k_blob_writer_commit(w, &e), 0);
	char r = 0;
	CHECK(read(pfd[0], &r, 1) == 1);
	CHECK(r == 'P');
	close(pfd[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(blob_ok(s, d));
}

/* Disk full: a tmpfs of 1 MiB if we may mount one, else RLIMIT_FSIZE. */
static void check_enospc_in(const char *dir, const char *want)
{
	struct i2k_store *s = open_store(dir);
	struct i2k_error *e = NULL;
	size_t n = 3u << 20;
	char *buf = i2k_xmalloc(n);
	fill(buf, n, 5);
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(buf, n, d);
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 0;
	CHECK_INT(i2k_store_blob_begin(s, d, (int64_t)n, &w, &from, &e), 0);
	int r = 0;
	for (size_t off = 0; r == 0 && off < n; off += 65536)
		r = i2k_blob_writer_write(w, buf + off, 65536, &e);
	CHECK(r < 0);
	CHECK(e && e->code == I2K_ERR_IO);
	_cleanup_free_ char *m = i2k_xasprintf("blob %s: write: %s", d, want);
	CHECK_STR(e ? e->msg : NULL, m);
	i2k_error_freep(&e);
	_cleanup_free_ char *pp = partial_path(dir, d);
	_cleanup_free_ char *fp = blob_path(dir, d);
	CHECK(!exists(pp)); /* removed at once, not kept for resume */
	CHECK(i2k_blob_writer_write(w, buf, 1, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "writer failed earlier");
	i2k_error_freep(&e);
	CHECK(i2k_blob_writer_commit(w, &e) < 0);
	i2k_error_freep(&e);
	CHECK(!exists(pp));
	CHECK(!exists(fp));
	CHECK(!i2k_store_has_blob(s, d));
	free(buf);
	i2k_store_free(s);
}

TEST(writer_disk_full)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	bool mounted = mount("tmpfs", t, "tmpfs", 0, "size=1m") == 0;
	if (mounted) {
		check_enospc_in(t, "no space left on device");
		CHECK(umount(t) == 0);
	} else {
		fprintf(stderr, "  note: cannot mount tmpfs (%s); RLIMIT_FSIZE only\n",
			strerror(errno));
	}
	/* RLIMIT_FSIZE with SIGXFSZ ignored: EFBIG, in a child */
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = {1u << 20, 1u << 20};
		setrlimit(RLIMIT_FSIZE, &rl);
		int before = t_failed_checks;
		check_enospc_in(t, "File too large");
		_exit(t_failed_checks == before ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- refs -------------------------------------------------------------------------- */

TEST(ref_names)
{
	const char *good[] = {
	    "latest",
	    "docker.io/library/alpine:3.19",
	    "127.0.0.1:5000/fixtures/busybox@sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "a--b",
	    "A+b.c-d_e",
	};
	const char *bad[] = {"",    "../x", "a/../b", "/a", "a/",    "a//b", "-a", "a-",    "a..b",
			     "a b", "a\nb", "a__b",   ".",  "a/./b", "a:",   "@a", "a---b", "a+_b"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(good); i++)
		if (!i2k_store_ref_name_valid(good[i])) {
			fprintf(stderr, "  rejected good name \"%s\"\n", good[i]);
			CHECK(!"valid name rejected");
		}
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++)
		if (i2k_store_ref_name_valid(bad[i])) {
			fprintf(stderr, "  accepted bad name \"%s\"\n", bad[i]);
			CHECK(!"invalid name accepted");
		}
	CHECK(!i2k_store_ref_name_valid(NULL));
	char longname[1100];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(!i2k_store_ref_name_valid(longname));
	longname[1024] = '\0';
	CHECK(i2k_store_ref_name_valid(longname));
}

TEST(refs_set_get_remove_list)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct i2k_error *e = NULL;
	struct image a = make_image(s, NULL, "a");
	struct image b = make_image(s, NULL, "b");
	struct i2k_descriptor da = {.media_type = NULL, .size = a.manifest_size};
	memcpy(da.digest, a.manifest, sizeof(da.digest));
	struct i2k_descriptor db = {.media_type = "application/vnd.oci.image.manifest.v1+json",
				    .size = b.manifest_size};
	memcpy(db.digest, b.manifest, sizeof(db.digest));

	CHECK_INT(i2k_store_ref_set(s, "zeta:1", &da, &e), 0);
	CHECK_INT(i2k_store_ref_set(s, "alpha:1", &db, &e), 0);
	CHECK_INT(i2k_store_ref_set(s, "mid/x:2", &da, &e), 0);
	struct i2k_store_ref r;
	CHECK_INT(i2k_store_ref_get(s, "zeta:1", &r, &e), 1);
	CHECK_STR(r.name, "zeta:1");
	CHECK_STR(r.desc.digest, a.manifest);
	CHECK_STR(r.desc.media_type, "application/vnd.oci.image.manifest.v1+json");
	CHECK_INT(r.desc.size, a.manifest_size);
	i2k_store_ref_clear(&r);
	CHECK_INT(i2k_store_ref_get(s, "nope:1", &r, &e), 0);

	/* replace */
	CHECK_INT(i2k_store_ref_set(s, "zeta:1", &db, &e), 0);
	CHECK_INT(i2k_store_ref_get(s, "zeta:1", &r, &e), 1);
	CHECK_STR(r.desc.digest, b.manifest);
	i2k_store_ref_clear(&r);

	struct i2k_store_ref *v = NULL;
	size_t n = 0;
	CHECK_INT(i2k_store_ref_list(s, &v, &n, &e), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(v[0].name, "alpha:1");
		CHECK_STR(v[1].name, "mid/x:2");
		CHECK_STR(v[2].name, "zeta:1");
		CHECK_STR(v[1].desc.digest, a.manifest);
	}
	i2k_store_refs_free(v, n);

	/* index.json: sorted, one entry per name, the annotation umoci/skopeo read */
	_cleanup_free_ char *ip = i2k_xasprintf("%s/index.json", t);
	_cleanup_free_ char *text = read_text(ip);
	json_t *j = json_loads(text ? text : "", 0, NULL);
	json_t *ms = json_object_get(j, "manifests");
	CHECK_INT(json_array_size(ms), 3);
	CHECK_STR(
	    json_string_value(json_object_get(json_object_get(json_array_get(ms, 0), "annotations"),
					      "org.opencontainers.image.ref.name")),
	    "alpha:1");
	json_decref(j);

	bool removed = false;
	CHECK_INT(i2k_store_ref_remove(s, "mid/x:2", &removed, &e), 0);
	CHECK(removed);
	CHECK_INT(i2k_store_ref_remove(s, "mid/x:2", &removed, &e), 0);
	CHECK(!removed);
	CHECK_INT(i2k_store_ref_list(s, &v, &n, &e), 0);
	CHECK_INT(n, 2);
	i2k_store_refs_free(v, n);

	/* errors */
	CHECK(i2k_store_ref_set(s, "../etc", &da, &e) < 0);
	CHECK(e && e->code == I2K_ERR_USAGE);
	CHECK_CONTAINS(e ? e->msg : NULL, "invalid image ref name \"../etc\"");
	i2k_error_freep(&e);
	CHECK(i2k_store_ref_get(s, "", &r, &e) < 0);
	i2k_error_freep(&e);
	CHECK(i2k_store_ref_remove(s, "a//b", &removed, &e) < 0);
	i2k_error_freep(&e);
	struct i2k_descriptor dx = da;
	dx.size = da.size + 1;
	CHECK(i2k_store_ref_set(s, "x:1", &dx, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "ref x:1: descriptor says");
	i2k_error_freep(&e);
	snprintf(dx.digest, sizeof(dx.digest), "sha256:%064d", 0);
	dx.size = 1;
	CHECK(i2k_store_ref_set(s, "x:1", &dx, &e) < 0);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	CHECK_CONTAINS(e ? e->msg : NULL, "ref x:1: blob sha256:0000");
	i2k_error_freep(&e);
	snprintf(dx.digest, sizeof(dx.digest), "sha256:xyz");
	CHECK(i2k_store_ref_set(s, "x:1", &dx, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "invalid digest");
	i2k_error_freep(&e);
	/* a manifest whose layer is missing cannot be referenced */
	_cleanup_free_ char *lp = blob_path(t, a.layer);
	unlink(lp);
	CHECK(i2k_store_ref_set(s, "x:1", &da, &e) < 0);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	_cleanup_free_ char *want = i2k_xasprintf(
	    "ref x:1: blob %s (layer of %s) is not in the cache", a.layer, a.manifest);
	CHECK_STR(e ? e->msg : NULL, want);
	i2k_error_freep(&e);
	CHECK_INT(i2k_store_ref_get(s, "x:1", &r, &e), 0);
	/* a blob that is not a manifest */
	struct i2k_descriptor dl = {.size = 2};
	put(s, "xx", 2, dl.digest);
	CHECK(i2k_store_ref_set(s, "x:1", &dl, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "is not a JSON manifest or index");
	i2k_error_freep(&e);
}

TEST(index_deterministic_and_foreign)
{
	_cleanup_tmp_ char *t1 = tmpdir_new();
	_cleanup_tmp_ char *t2 = tmpdir_new();
	struct i2k_store *s1 = open_store(t1), *s2 = open_store(t2);
	make_image(s1, "b:1", "one");
	make_image(s1, "a:1", "two");
	make_image(s2, "a:1", "two");
	make_image(s2, "b:1", "one");
	_cleanup_free_ char *p1 = i2k_xasprintf("%s/index.json", t1);
	_cleanup_free_ char *p2 = i2k_xasprintf("%s/index.json", t2);
	_cleanup_free_ char *x1 = read_text(p1);
	_cleanup_free_ char *x2 = read_text(p2);
	CHECK_STR(x1, x2);
	CHECK(x1 && x1[strlen(x1) - 1] == '\n');

	/* entries other tools wrote without a name are kept (and are gc roots) */
	struct i2k_error *e = NULL;
	struct image c = make_image(s1, NULL, "three");
	json_t *j = json_loads(x1 ? x1 : "", 0, NULL);
	json_t *ent =
	    json_pack("{s:s,s:s,s:I}", "mediaType", "application/vnd.oci.image.manifest.v1+json",
		      "digest", c.manifest, "size", (json_int_t)c.manifest_size);
	json_array_append_new(json_object_get(j, "manifests"), ent);
	char *doc = json_dumps(j, 0);
	json_decref(j);
	write_text(p1, doc, strlen(doc));
	free(doc);
	struct image d = make_image(s1, "d:1", "four");
	(void)d;
	uint64_t freed = 0;
	CHECK_INT(i2k_store_gc(s1, &freed, &e), 0);
	CHECK(blob_ok(s1, c.layer));
	_cleanup_free_ char *x3 = read_text(p1);
	CHECK_CONTAINS(x3, c.manifest);
	struct i2k_store_ref *v = NULL;
	size_t n = 0;
	CHECK_INT(i2k_store_ref_list(s1, &v, &n, &e), 0);
	CHECK_INT(n, 3);
	i2k_store_refs_free(v, n);

	/* a broken index.json is reported, not overwritten */
	write_text(p2, "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:zz\"}]}", 56);
	CHECK(i2k_store_ref_list(s2, &v, &n, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "index.json: manifests[0]: no mediaType");
	i2k_error_freep(&e);
	write_text(p2, "not json", 8);
	bool removed;
	CHECK(i2k_store_ref_remove(s2, "a:1", &removed, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "index.json:1:");
	i2k_error_freep(&e);
	_cleanup_free_ char *x4 = read_text(p2);
	CHECK_STR(x4, "not json");
	write_text(p2, "{\"schemaVersion\":1}", 19);
	CHECK(i2k_store_ref_get(s2, "a:1", NULL, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "not an OCI index (schemaVersion 2)");
	i2k_error_freep(&e);
	i2k_store_free(s1);
	i2k_store_free(s2);
}

/* ---- gc / clean -------------------------------------------------------------------- */

TEST(gc_and_clean)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct i2k_error *e = NULL;
	struct image a = make_image(s, "a:1", "a");
	struct image b = make_image(s, "b:1", "bb");
	struct image c = make_image(s, NULL, "ccc");
	/* an index pointing at c's manifest keeps c alive */
	_cleanup_free_ char *idx = i2k_xasprintf(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
	    "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"digest\":\"%s\",\"size\":%lld,\"platform\":{\"architecture\":\"amd64\","
	    "\"os\":\"linux\"}}]}",
	    c.manifest, (long long)c.manifest_size);
	struct i2k_descriptor di = {.media_type = "application/vnd.oci.image.index.v1+json",
				    .size = (int64_t)strlen(idx)};
	put(s, idx, strlen(idx), di.digest);
	CHECK_INT(i2k_store_ref_set(s, "c:idx", &di, &e), 0);
	/* a stray blob, an abandoned partial, a busy partial, a foreign file */
	char stray[I2K_DIGEST_LEN + 1];
	put(s, "stray-bytes", 11, stray);
	char pd[I2K_DIGEST_LEN + 1], busy[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest("p", 1, pd);
	i2k_sha256_digest("q", 1, busy);
	_cleanup_free_ char *pp = partial_path(t, pd);
	write_text(pp, "12345", 5);
	struct i2k_blob_writer *w = NULL;
	uint64_t from = 0;
	CHECK_INT(i2k_store_blob_begin(s, busy, 1, &w, &from, &e), 0);
	_cleanup_free_ char *bp = partial_path(t, busy);
	_cleanup_free_ char *foreign = i2k_xasprintf("%s/blobs/sha256/README", t);
	write_text(foreign, "x", 1);
	_cleanup_free_ char *tmpidx = i2k_xasprintf("%s/.index.json.tmp-abcdef", t);
	write_text(tmpidx, "{", 1);

	bool removed = false;
	CHECK_INT(i2k_store_ref_remove(s, "b:1", &removed, &e), 0);
	uint64_t freed = 0;
	CHECK_INT(i2k_store_gc(s, &freed, &e), 0);
	CHECK(e == NULL);
	struct stat st;
	uint64_t bsz = 0;
	/* b's three blobs + the stray + the abandoned partial */
	_cleanup_free_ char *bm = blob_path(t, b.manifest);
	CHECK(!exists(bm));
	_cleanup_free_ char *bl = blob_path(t, b.layer);
	CHECK(!exists(bl));
	_cleanup_free_ char *bc = blob_path(t, b.config);
	CHECK(!exists(bc));
	_cleanup_free_ char *sp = blob_path(t, stray);
	CHECK(!exists(sp));
	CHECK(!exists(pp));
	CHECK(!exists(tmpidx));
	CHECK(exists(bp)); /* in use by w */
	CHECK(exists(foreign));
	(void)st;
	(void)bsz;
	CHECK(freed >= 11 + 5 + (uint64_t)b.manifest_size);
	CHECK(blob_ok(s, a.manifest) && blob_ok(s, a.config) && blob_ok(s, a.layer));
	CHECK(blob_ok(s, c.manifest) && blob_ok(s, c.config) && blob_ok(s, c.layer));
	CHECK(blob_ok(s, di.digest));
	i2k_blob_writer_abort(w, true);
	CHECK_INT(i2k_store_gc(s, &freed, &e), 0);
	CHECK(!exists(bp));
	CHECK_INT(freed, 0);

	/* a corrupt manifest stops gc before it deletes anything */
	char stray2[I2K_DIGEST_LEN + 1];
	put(s, "stray2", 6, stray2);
	_cleanup_free_ char *am = blob_path(t, a.manifest);
	_cleanup_free_ char *orig = read_text(am);
	write_text(am, "{}", 2);
	CHECK(i2k_store_gc(s, &freed, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "gc: cache blob");
	CHECK_CONTAINS(e ? e->msg : NULL, "is corrupt");
	i2k_error_freep(&e);
	CHECK(i2k_store_has_blob(s, stray2));
	write_text(am, orig, strlen(orig));

	/* clean */
	CHECK_INT(i2k_store_clean(s, &e), 0);
	struct i2k_store_ref *v = NULL;
	size_t n = 9;
	CHECK_INT(i2k_store_ref_list(s, &v, &n, &e), 0);
	CHECK_INT(n, 0);
	i2k_store_refs_free(v, n);
	_cleanup_free_ char *bdir = i2k_xasprintf("%s/blobs/sha256", t);
	CHECK_INT(count_dir(bdir), 0);
	CHECK(!i2k_store_has_blob(s, a.layer));
	/* and usable again */
	struct image a2 = make_image(s, "a:1", "a");
	CHECK_STR(a2.manifest, a.manifest);
	CHECK(blob_ok(s, a2.layer));
}

/* ---- oracles: skopeo and umoci -------------------------------------------------------- */

TEST(skopeo_umoci_read_the_layout)
{
	if (!have_tool("skopeo") || !have_tool("umoci")) {
		CHECK(!"skopeo/umoci missing");
		return;
	}
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct image a = make_image(s, "docker.io/library/hello:1.0", "hello from i2kit\n");
	make_image(s, "127.0.0.1:5000/fixtures/other:latest", "other");
	char *out = NULL;
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("skopeo inspect oci:%s:docker.io/library/hello:1.0", t);
	int rc = run(cmd, &out);
	CHECK_INT(rc, 0);
	json_t *j = json_loads(out ? out : "", 0, NULL);
	if (j == NULL)
		fprintf(stderr, "  skopeo said: %s\n", out);
	CHECK_STR(json_string_value(json_object_get(j, "Digest")), a.manifest);
	CHECK_STR(json_string_value(json_object_get(j, "Architecture")), "amd64");
	CHECK_STR(json_string_value(json_array_get(json_object_get(j, "Layers"), 0)), a.layer);
	json_decref(j);
	free(out);

	_cleanup_free_ char *cmd2 = i2k_xasprintf("umoci ls --layout %s", t);
	rc = run(cmd2, &out);
	CHECK_INT(rc, 0);
	CHECK_CONTAINS(out, "docker.io/library/hello:1.0");
	CHECK_CONTAINS(out, "127.0.0.1:5000/fixtures/other:latest");
	free(out);
	/* umoci stat parses the manifest and config too */
	_cleanup_free_ char *cmd3 =
	    i2k_xasprintf("umoci stat --image %s:127.0.0.1:5000/fixtures/other:latest", t);
	rc = run(cmd3, &out);
	CHECK_INT(rc, 0);
	if (rc != 0)
		fprintf(stderr, "  umoci stat said: %s\n", out);
	free(out);
}

/* ---- export / import ---------------------------------------------------------------- */

static bool files_equal(const char *a, const char *b)
{
	_cleanup_free_ char *cmd = i2k_xasprintf("cmp -s '%s' '%s'", a, b);
	return run(cmd, NULL) == 0;
}

TEST(export_deterministic)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_free_ char *d1 = i2k_xasprintf("%s/s1", t);
	_cleanup_free_ char *d2 = i2k_xasprintf("%s/s2", t);
	struct i2k_store *s1 = open_store(d1), *s2 = open_store(d2);
	struct i2k_error *e = NULL;
	struct image a = make_image(s1, "x/a:1", "aaa");
	make_image(s1, "x/b:1", "bbb");
	make_image(s1, "x/c:1", "not exported");
	/* same content, built in another order */
	make_image(s2, "x/b:1", "bbb");
	make_image(s2, "x/a:1", "aaa");
	_cleanup_free_ char *o1 = i2k_xasprintf("%s/one.tar", t);
	_cleanup_free_ char *o2 = i2k_xasprintf("%s/two.tar", t);
	_cleanup_free_ char *o3 = i2k_xasprintf("%s/three.tar", t);
	const char *refs[] = {"x/b:1", "x/a:1"};
	const char *refs_rev[] = {"x/a:1", "x/b:1", "x/a:1"};
	CHECK_INT(i2k_store_export(s1, o1, refs, 2, &e), 0);
	CHECK_INT(i2k_store_export(s1, o2, refs_rev, 3, &e), 0);
	CHECK_INT(i2k_store_export(s2, o3, refs, 2, &e), 0);
	CHECK(e == NULL);
	CHECK(files_equal(o1, o2));
	CHECK(files_equal(o1, o3));

	/* what is inside: sorted names, zero times and owners, the right modes */
	struct archive *ar = archive_read_new();
	archive_read_support_format_tar(ar);
	CHECK(archive_read_open_filename(ar, o1, 10240) == ARCHIVE_OK);
	struct archive_entry *ent;
	char prev[256] = "";
	int nfiles = 0;
	bool saw_c = false;
	while (archive_read_next_header(ar, &ent) == ARCHIVE_OK) {
		const char *nm = archive_entry_pathname(ent);
		CHECK(strcmp(prev, nm) < 0);
		snprintf(prev, sizeof(prev), "%s", nm);
		CHECK(archive_entry_mtime(ent) == 0);
		CHECK(archive_entry_uid(ent) == 0 && archive_entry_gid(ent) == 0);
		CHECK(archive_entry_uname(ent) == NULL || *archive_entry_uname(ent) == '\0');
		unsigned perm = archive_entry_perm(ent);
		CHECK(perm == (archive_entry_filetype(ent) == AE_IFDIR ? 0755u : 0644u));
		if (archive_entry_filetype(ent) == AE_IFREG)
			nfiles++;
		if (strcmp(nm, "index.json") == 0) {
			char buf[8192] = {0};
			archive_read_data(ar, buf, sizeof(buf) - 1);
			saw_c = strstr(buf, "x/c:1") != NULL;
			CHECK_CONTAINS(buf, "x/a:1");
		}
	}
	archive_read_free(ar);
	CHECK_INT(nfiles, 2 + 6); /* oci-layout, index.json, 2 × (manifest, config, layer) */
	CHECK(!saw_c);

	/* skopeo reads it */
	if (have_tool("skopeo")) {
		char *out = NULL;
		_cleanup_free_ char *cmd = i2k_xasprintf("skopeo inspect oci-archive:%s:x/a:1", o1);
		CHECK_INT(run(cmd, &out), 0);
		CHECK_CONTAINS(out, a.manifest);
		CHECK_CONTAINS(out, a.layer);
		free(out);
	} else {
		CHECK(!"skopeo missing");
	}

	/* errors: unknown ref, missing blob, corrupt blob; no output left behind */
	_cleanup_free_ char *o4 = i2k_xasprintf("%s/four.tar", t);
	const char *unknown[] = {"x/a:1", "x/zz:1"};
	CHECK(i2k_store_export(s1, o4, unknown, 2, &e) < 0);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	CHECK_CONTAINS(e ? e->msg : NULL, "x/zz:1 is not in the cache");
	i2k_error_freep(&e);
	CHECK(i2k_store_export(s1, o4, refs, 0, &e) < 0);
	CHECK(e && e->code == I2K_ERR_USAGE);
	i2k_error_freep(&e);
	_cleanup_free_ char *lp = blob_path(d2, a.layer);
	_cleanup_free_ char *layer = read_text(lp);
	write_text(lp, "garbage", 7);
	CHECK(i2k_store_export(s2, o4, refs, 2, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "is corrupt");
	i2k_error_freep(&e);
	unlink(lp);
	CHECK(i2k_store_export(s2, o4, refs, 2, &e) < 0);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	CHECK_CONTAINS(e ? e->msg : NULL, "is not in the cache");
	i2k_error_freep(&e);
	CHECK(!exists(o4));
	CHECK_INT(count_dir(t), 5); /* s1 s2 one two three: no temp files */
	i2k_store_free(s1);
	i2k_store_free(s2);
}

TEST(import_own_export)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_free_ char *d1 = i2k_xasprintf("%s/s1", t);
	_cleanup_free_ char *d2 = i2k_xasprintf("%s/s2", t);
	struct i2k_store *s1 = open_store(d1), *s2 = open_store(d2);
	struct i2k_error *e = NULL;
	struct image a = make_image(s1, "reg.example:5000/x/a:1", "aaa");
	struct image b =
	    make_image(s1,
		       "x/b@sha256:"
		       "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		       "bbb");
	_cleanup_free_ char *o = i2k_xasprintf("%s/out.tar", t);
	const char *refs[] = {"reg.example:5000/x/a:1",
			      "x/b@sha256:"
			      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
	CHECK_INT(i2k_store_export(s1, o, refs, 2, &e), 0);
	char **names = NULL;
	size_t n = 0;
	CHECK_INT(i2k_store_import(s2, o, &names, &n, &e), 0);
	if (e)
		fprintf(stderr, "  import: %s\n", e->msg);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(names[0], refs[0]);
		CHECK_STR(names[1], refs[1]);
		CHECK(names[2] == NULL);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	struct i2k_store_ref r;
	CHECK_INT(i2k_store_ref_get(s2, refs[0], &r, &e), 1);
	CHECK_STR(r.desc.digest, a.manifest);
	i2k_store_ref_clear(&r);
	CHECK_INT(i2k_store_ref_get(s2, refs[1], &r, &e), 1);
	CHECK_STR(r.desc.digest, b.manifest);
	i2k_store_ref_clear(&r);
	CHECK(blob_ok(s2, a.layer) && blob_ok(s2, b.config));
	/* importing again is a no-op (blobs present), names may be NULL */
	CHECK_INT(i2k_store_import(s2, o, NULL, NULL, &e), 0);
	/* the same export from the importing store is byte-identical */
	_cleanup_free_ char *o2 = i2k_xasprintf("%s/out2.tar", t);
	CHECK_INT(i2k_store_export(s2, o2, refs, 2, &e), 0);
	CHECK(files_equal(o, o2));
	/* missing archive */
	_cleanup_free_ char *none = i2k_xasprintf("%s/none.tar", t);
	CHECK(i2k_store_import(s2, none, NULL, NULL, &e) < 0);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	CHECK_CONTAINS(e ? e->msg : NULL, "none.tar: no such file");
	i2k_error_freep(&e);
	i2k_store_free(s1);
	i2k_store_free(s2);
}

TEST(import_skopeo_archive)
{
	if (!have_tool("skopeo")) {
		CHECK(!"skopeo missing");
		return;
	}
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_free_ char *d1 = i2k_xasprintf("%s/s1", t);
	_cleanup_free_ char *d2 = i2k_xasprintf("%s/s2", t);
	struct i2k_store *s1 = open_store(d1), *s2 = open_store(d2);
	struct i2k_error *e = NULL;
	struct image a = make_image(s1, "docker.io/library/hello:1.0", "hello\n");
	_cleanup_free_ char *o = i2k_xasprintf("%s/sk.tar", t);
	_cleanup_free_ char *cmd = i2k_xasprintf(
	    "skopeo copy oci:%s:docker.io/library/hello:1.0 oci-archive:%s:imported/hello:2", d1,
	    o);
	char *out = NULL;
	int rc = run(cmd, &out);
	CHECK_INT(rc, 0);
	if (rc)
		fprintf(stderr, "  skopeo said: %s\n", out);
	free(out);
	char **names = NULL;
	size_t n = 0;
	CHECK_INT(i2k_store_import(s2, o, &names, &n, &e), 0);
	if (e)
		fprintf(stderr, "  import: %s\n", e->msg);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(names[0], "imported/hello:2");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	struct i2k_store_ref r = {0};
	CHECK_INT(i2k_store_ref_get(s2, "imported/hello:2", &r, &e), 1);
	CHECK_STR(r.desc.digest, a.manifest); /* oci → oci-archive keeps the manifest */
	i2k_store_ref_clear(&r);
	CHECK(blob_ok(s2, a.layer) && blob_ok(s2, a.config) && blob_ok(s2, a.manifest));
	i2k_store_free(s1);
	i2k_store_free(s2);
}

struct tent {
	const char *name;
	int type; /* AE_IFREG, AE_IFDIR, AE_IFLNK */
	const char *data;
};

static void write_tar(const char *path, const struct tent *ents, size_t n)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open_filename(a, path);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_filetype(e, (unsigned)ents[i].type);
		archive_entry_set_perm(e, 0644);
		if (ents[i].type == AE_IFLNK)
			archive_entry_set_symlink(e, ents[i].data);
		size_t len = ents[i].type == AE_IFREG ? strlen(ents[i].data) : 0;
		archive_entry_set_size(e, (la_int64_t)len);
		archive_write_header(a, e);
		if (len)
			archive_write_data(a, ents[i].data, len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static void check_hostile(const char *dir, struct i2k_store *s, const struct tent *ents, size_t n,
			  enum i2k_errc code, const char *want)
{
	_cleanup_free_ char *p = i2k_xasprintf("%s/hostile.tar", dir);
	write_tar(p, ents, n);
	struct i2k_error *e = NULL;
	char **names = (char **)1;
	CHECK(i2k_store_import(s, p, &names, NULL, &e) < 0);
	CHECK(names == NULL);
	CHECK(e != NULL);
	if (e && e->code != code)
		fprintf(stderr, "  code %s, want %s\n", i2k_errc_name(e->code),
			i2k_errc_name(code));
	CHECK(e && e->code == code);
	CHECK_CONTAINS(e ? e->msg : NULL, want);
	CHECK_CONTAINS(e ? e->msg : NULL, "importing ");
	i2k_error_free(e);
	/* nothing committed */
	_cleanup_free_ char *bdir = i2k_xasprintf("%s/store/blobs/sha256", dir);
	CHECK_INT(count_dir(bdir), 0);
	struct i2k_store_ref *v = NULL;
	size_t nr = 9;
	CHECK_INT(i2k_store_ref_list(s, &v, &nr, &e), 0);
	CHECK_INT(nr, 0);
	i2k_store_refs_free(v, nr);
	unlink(p);
}

/* A manifest whose config descriptor is over the limit a build accepts is
 * refused at import, and nothing stays committed. */
TEST(import_config_over_limit)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_free_ char *sd = i2k_xasprintf("%s/store", t);
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(sd);
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	const char *cfg = "{}";
	char cd[I2K_DIGEST_LEN + 1], md[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(cfg, strlen(cfg), cd);
	_cleanup_free_ char *man = i2k_xasprintf(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
	    "\"digest\":\"%s\",\"size\":104857600},\"layers\":[]}",
	    cd);
	i2k_sha256_digest(man, strlen(man), md);
	_cleanup_free_ char *cname = i2k_xasprintf("blobs/sha256/%s", cd + 7);
	_cleanup_free_ char *mname = i2k_xasprintf("blobs/sha256/%s", md + 7);
	_cleanup_free_ char *index =
	    i2k_xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
			  "vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
			  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"big:1\"}}]}",
			  md, strlen(man));
	struct tent ents[] = {{"oci-layout", AE_IFREG, layout},
			      {cname, AE_IFREG, cfg},
			      {mname, AE_IFREG, man},
			      {"index.json", AE_IFREG, index}};
	_cleanup_free_ char *want = i2k_xasprintf(
	    "ref big:1: config %s: 104857600 bytes exceeds the limit of %u bytes", cd, 16u << 20);
	check_hostile(t, s, ents, 4, I2K_ERR_INTEGRITY, want);
}

TEST(import_hostile)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_free_ char *sd = i2k_xasprintf("%s/store", t);
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(sd);
	const char *layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
	const char *blob = "{\"some\":\"blob\"}";
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(blob, strlen(blob), d);
	_cleanup_free_ char *bname = i2k_xasprintf("blobs/sha256/%s", d + 7);
	char other[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest("other", 5, other);
	_cleanup_free_ char *oname = i2k_xasprintf("blobs/sha256/%s", other + 7);
	_cleanup_free_ char *index =
	    i2k_xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
			  "vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
			  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"evil:1\"}}]}",
			  d, strlen(blob));

	struct tent trav[] = {{"oci-layout", AE_IFREG, layout}, {"../evil", AE_IFREG, "x"}};
	check_hostile(t, s, trav, 2, I2K_ERR_HOSTILE, "entry \"../evil\": unexpected entry");
	struct tent trav2[] = {{"blobs/sha256/../../../x", AE_IFREG, "x"}};
	check_hostile(t, s, trav2, 1, I2K_ERR_HOSTILE, "blob name is not a sha256 digest");
	struct tent abs[] = {{"/etc/passwd", AE_IFREG, "x"}};
	check_hostile(t, s, abs, 1, I2K_ERR_HOSTILE, "\"/etc/passwd\": unexpected entry");
	struct tent badname[] = {{"blobs/sha256/xyz", AE_IFREG, "x"}};
	check_hostile(t, s, badname, 1, I2K_ERR_HOSTILE,
		      "entry \"blobs/sha256/xyz\": blob name is not a sha256 digest");
	struct tent link[] = {{bname, AE_IFLNK, "/etc/passwd"}};
	check_hostile(t, s, link, 1, I2K_ERR_HOSTILE, "links are not allowed");
	struct tent dirblob[] = {{"blobs", AE_IFREG, "x"}};
	check_hostile(t, s, dirblob, 1, I2K_ERR_HOSTILE, "expected a directory");
	/* a good blob, then one whose content does not match its name: the good
	 * one is rolled back too */
	struct tent mismatch[] = {{"oci-layout", AE_IFREG, layout},
				  {bname, AE_IFREG, blob},
				  {oname, AE_IFREG, "not other"}};
	_cleanup_free_ char *mm =
	    i2k_xasprintf("entry %s: blob %s: content has digest", oname, other);
	check_hostile(t, s, mismatch, 3, I2K_ERR_INTEGRITY, mm);
	/* blobs fine, but the index names a blob that is not there */
	struct tent missing[] = {{"oci-layout", AE_IFREG, layout},
				 {oname, AE_IFREG, "other"},
				 {"index.json", AE_IFREG, index}};
	check_hostile(t, s, missing, 3, I2K_ERR_NOTFOUND, "ref evil:1: blob");
	/* no oci-layout / no index.json / unnamed index */
	struct tent nolayout[] = {{bname, AE_IFREG, blob}, {"index.json", AE_IFREG, index}};
	check_hostile(t, s, nolayout, 2, I2K_ERR_INTEGRITY, "not an OCI archive (no oci-layout)");
	struct tent noindex[] = {{"./oci-layout", AE_IFREG, layout}, {"./", AE_IFDIR, ""}};
	check_hostile(t, s, noindex, 2, I2K_ERR_INTEGRITY, "not an OCI archive (no index.json)");
	const char *unnamed = "{\"schemaVersion\":2,\"manifests\":[]}";
	struct tent nonames[] = {{"oci-layout", AE_IFREG, layout},
				 {"index.json", AE_IFREG, unnamed}};
	check_hostile(t, s, nonames, 2, I2K_ERR_INTEGRITY, "index.json names no image");
	_cleanup_free_ char *badref = i2k_xasprintf(
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"%s\","
	    "\"size\":1,\"annotations\":{\"org.opencontainers.image.ref.name\":\"../x\"}}]}",
	    d);
	struct tent badrefs[] = {{"oci-layout", AE_IFREG, layout},
				 {"index.json", AE_IFREG, badref}};
	check_hostile(t, s, badrefs, 2, I2K_ERR_INTEGRITY,
		      "index.json: manifests[0]: invalid org.opencontainers.image.ref.name");
	struct tent badlayout[] = {{"oci-layout", AE_IFREG, "{\"imageLayoutVersion\":\"9\"}"}};
	check_hostile(t, s, badlayout, 1, I2K_ERR_UNSUPPORTED, "oci-layout: not image layout");
	/* not a tar at all */
	_cleanup_free_ char *junk = i2k_xasprintf("%s/junk.tar", t);
	write_text(junk, "this is not a tar archive, not at all.....", 42);
	struct i2k_error *e = NULL;
	CHECK(i2k_store_import(s, junk, NULL, NULL, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "junk.tar:");
	i2k_error_freep(&e);
}

/* ---- concurrency ------------------------------------------------------------------- */

static int child_loop(const char *dir, int k, const struct image *img, int iters)
{
	struct i2k_store *s = open_store(dir);
	struct i2k_error *e = NULL;
	for (int i = 0; i < iters; i++) {
		/* both children write the same manifest blob i, in two pieces */
		_cleanup_free_ char *man = i2k_xasprintf(
		    "{\"schemaVersion\":2,\"mediaType\":\"application/"
		    "vnd.oci.image.manifest.v1+json\",\"annotations\":{\"n\":\"%d\"},"
		    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		    "\"digest\":\"%s\",\"size\":1},\"layers\":[]}",
		    i, img->config);
		size_t len = strlen(man);
		struct i2k_descriptor d = {.size = (int64_t)len};
		i2k_sha256_digest(man, len, d.digest);
		struct i2k_blob_writer *w = NULL;
		uint64_t from = 0;
		if (i2k_store_blob_begin(s, d.digest, (int64_t)len, &w, &from, &e) < 0)
			goto fail;
		if (!i2k_blob_writer_present(w)) {
			if ((from && i2k_blob_writer_truncate(w, 0, &e) < 0) ||
			    i2k_blob_writer_write(w, man, len / 2, &e) < 0 ||
			    i2k_blob_writer_write(w, man + len / 2, len - len / 2, &e) < 0) {
				i2k_blob_writer_abort(w, false);
				goto fail;
			}
		}
		if (i2k_blob_writer_commit(w, &e) < 0)
			goto fail;
		char name[64];
		snprintf(name, sizeof(name), "child%d:t%d", k, i);
		if (i2k_store_ref_set(s, name, &d, &e) < 0)
			goto fail;
		snprintf(name, sizeof(name), "child%d:latest", k);
		if (i2k_store_ref_set(s, name, &d, &e) < 0)
			goto fail;
	}
	i2k_store_free(s);
	return 0;
fail:
	fprintf(stderr, "  child %d: %s\n", k, e ? e->msg : "?");
	return 1;
}

TEST(concurrent_writers)
{
	_cleanup_tmp_ char *t = tmpdir_new();
	_cleanup_(i2k_store_freep) struct i2k_store *s = open_store(t);
	struct image img = make_image(s, NULL, "shared");
	/* the manifests below claim config size 1: give them a 1-byte config */
	char cfg[I2K_DIGEST_LEN + 1];
	put(s, "{", 1, cfg);
	memcpy(img.config, cfg, sizeof(cfg));
	const int iters = 200;
	pid_t pids[2];
	for (int k = 0; k < 2; k++) {
		pids[k] = fork();
		if (pids[k] == 0)
			_exit(child_loop(t, k, &img, iters));
	}
	for (int k = 0; k < 2; k++) {
		int st = 0;
		waitpid(pids[k], &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	_cleanup_free_ char *ip = i2k_xasprintf("%s/index.json", t);
	_cleanup_free_ char *text = read_text(ip);
	json_error_t je;
	json_t *j = json_loads(text ? text : "", 0, &je);
	CHECK(j != NULL);
	CHECK_INT(json_array_size(json_object_get(j, "manifests")), 2 * iters + 2);
	json_decref(j);
	struct i2k_store_ref r = {0};
	struct i2k_error *e = NULL;
	for (int k = 0; k < 2; k++) {
		char name[64];
		snprintf(name, sizeof(name), "child%d:latest", k);
		CHECK_INT(i2k_store_ref_get(s, name, &r, &e), 1);
		CHECK(blob_ok(s, r.desc.digest));
		i2k_store_ref_clear(&r);
		snprintf(name, sizeof(name), "child%d:t%d", k, iters / 2);
		CHECK_INT(i2k_store_ref_get(s, name, &r, &e), 1);
		CHECK(blob_ok(s, r.desc.digest));
		i2k_store_ref_clear(&r);
	}
	/* no partial files and no index temp files remain */
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("find %s -name '.partial-*' -o -name '*.tmp-*' | wc -l", t);
	char *out = NULL;
	run(cmd, &out);
	CHECK_STR(out, "0\n");
	free(out);
}

int main(void)
{
	t_prog = "test_store";
	RUN(default_dir);
	RUN(open_creates_layout);
	RUN(put_read_open_blob);
	RUN(writer_resume);
	RUN(writer_corrupt);
	RUN(writer_truncate);
	RUN(writer_present);
	RUN(writer_serialised);
	RUN(writer_disk_full);
	RUN(ref_names);
	RUN(refs_set_get_remove_list);
	RUN(index_deterministic_and_foreign);
	RUN(gc_and_clean);
	RUN(skopeo_umoci_read_the_layout);
	RUN(export_deterministic);
	RUN(import_own_export);
	RUN(import_skopeo_archive);
	RUN(import_hostile);
	RUN(import_config_over_limit);
	RUN(concurrent_writers);
	return TEST_DONE();
}
