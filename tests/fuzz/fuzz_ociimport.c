/* fuzz_ociimport.c — fuzzes `i2kit cache import` (builder/store/archive.c):
 * an OCI archive (tar of oci-layout, index.json, blobs/sha256/...) read
 * with libarchive, the entry-name checks, oci-layout and index.json
 * parsing (builder/store/index.c), the closure check of every named ref,
 * the config-size limit, and the rollback of a failed import; then each
 * imported image is loaded (manifest + image config parsing).
 *
 * Input: byte 0 is a flag byte.
 *   bit 0 set: the rest IS the archive (tar, maybe compressed);
 *   else the rest is split at "@@@@" into index.json, oci-layout and up to
 *        4 blobs, and the harness writes the tar itself, naming each blob by
 *        its sha256 (bit 1: the first blob gets a wrong name; bit 2: an
 *        extra "./" prefix on every name), so the fuzzer reaches the JSON
 *        and closure logic instead of fighting digests.
 * Oracles: after a successful import, `i2k_store_verify` of the store finds
 * no problem (every ref's closure present, every blob's digest right) and
 * every imported name is a ref, and `cache export` of those refs imports
 * again into a fresh store with the same names; after a failed import the
 * store holds no ref and verify still finds no problem. index.json alone also goes through
 * i2k_index_parse.
 *
 * Each run uses a fresh store in a temporary directory (TMPDIR, /dev/shm
 * when it exists). make build/fuzzer/fuzz_ociimport, or build/fuzz/... with
 * -DI2K_FUZZ_MAIN to replay files (tests/fuzz/replay.sh). */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/image/image.h"
#include "builder/store/internal.h"
#include "builder/store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static const char *tmp_base(void)
{
	const char *t = getenv("TMPDIR");
	if (t && t[0])
		return t;
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void add_file(struct archive *a, const char *name, const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	if (archive_write_header(a, e) == ARCHIVE_OK && len)
		archive_write_data(a, data, len);
	archive_entry_free(e);
}

/* Writes the tar built from the split input into fd. */
static void write_tar(int fd, uint8_t flags, const uint8_t *d, size_t n)
{
	const uint8_t *part[6];
	size_t plen[6], np = 0;
	while (np < 6) {
		const uint8_t *sep = np < 5 ? memmem(d, n, "@@@@", 4) : NULL;
		size_t l = sep ? (size_t)(sep - d) : n;
		part[np] = d;
		plen[np++] = l;
		if (!sep)
			break;
		d += l + 4;
		n -= l + 4;
	}
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open_fd(a, fd);
	const char *pre = (flags & 4) ? "./" : "";
	char name[128];
	snprintf(name, sizeof(name), "%soci-layout", pre);
	if (np > 1)
		add_file(a, name, part[1], plen[1]);
	for (size_t i = 2; i < np; i++) {
		char dg[I2K_DIGEST_LEN + 1];
		i2k_sha256_digest(part[i], plen[i], dg);
		if (i == 2 && (flags & 2))
			dg[7] = dg[7] == 'a' ? 'b' : 'a';
		snprintf(name, sizeof(name), "%sblobs/sha256/%s", pre, dg + 7);
		add_file(a, name, part[i], plen[i]);
	}
	snprintf(name, sizeof(name), "%sindex.json", pre);
	add_file(a, name, part[0], plen[0]);
	archive_write_close(a);
	archive_write_free(a);
}

static void check_store(struct i2k_store *s, char **names, size_t n, int imported)
{
	struct i2k_store_verify_report r = {0};
	struct i2k_error *e = NULL;
	if (i2k_store_verify(s, false, &r, &e) < 0) {
		fprintf(stderr, "verify could not run: %s\n", e ? e->msg : "?");
		abort();
	}
	if (r.n_problems) {
		fprintf(stderr, "the cache is inconsistent after a%s import:\n",
			imported ? " successful" : " failed");
		for (size_t i = 0; i < r.n_problems; i++)
			fprintf(stderr, "  %s\n", r.problems[i]);
		abort();
	}
	if (!imported && r.refs != 0)
		abort(); /* a failed import adds no ref */
	i2k_store_verify_report_clear(&r);
	for (size_t i = 0; i < n; i++) {
		struct i2k_store_ref ref = {0};
		if (i2k_store_ref_get(s, names[i], &ref, &e) != 1)
			abort();
		struct i2k_image *img = NULL;
		if (i2k_image_load(s, ref.desc.digest, &img, &e) == 0)
			i2k_image_free(img);
		i2k_error_free(e);
		e = NULL;
		i2k_store_ref_clear(&ref);
	}
}

/* What was imported exports (the ustar writer of builder/store/archive.c)
 * and imports again into a fresh store, consistent and with the same
 * names. */
static void reexport(struct i2k_store *s, const char *dir, char **names, size_t n)
{
	char out[300], cache2[300];
	snprintf(out, sizeof(out), "%s/out.tar", dir);
	snprintf(cache2, sizeof(cache2), "%s/cache2", dir);
	struct i2k_error *e = NULL;
	if (i2k_store_export(s, out, (const char *const *)names, n, &e) < 0) {
		fprintf(stderr, "export of an imported image failed: %s\n", e ? e->msg : "?");
		abort();
	}
	struct i2k_store *s2 = NULL;
	if (i2k_store_open(cache2, &s2, &e) < 0)
		abort();
	char **names2 = NULL;
	size_t n2 = 0;
	if (i2k_store_import(s2, out, &names2, &n2, &e) < 0) {
		fprintf(stderr, "what export wrote does not import: %s\n", e ? e->msg : "?");
		abort();
	}
	check_store(s2, names2, n2, 1);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < n2; j++)
			found = found || strcmp(names[i], names2[j]) == 0;
		if (!found)
			abort();
	}
	for (size_t j = 0; j < n2; j++)
		free(names2[j]);
	free(names2);
	i2k_store_free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	data++;
	size--;
	struct i2k_error *e = NULL;
	if (!(flags & 1)) {
		const uint8_t *sep = memmem(data, size, "@@@@", 4);
		size_t ilen = sep ? (size_t)(sep - data) : size;
		json_t *ms = NULL;
		if (i2k_index_parse((const char *)data, ilen, "index.json", &ms, &e) == 0) {
			if (!json_is_array(ms))
				abort();
			json_decref(ms);
		}
		i2k_error_free(e);
		e = NULL;
	}
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/i2k-fuzz-import-XXXXXX", tmp_base());
	if (!mkdtemp(dir))
		abort();
	char arc[300], cache[300];
	snprintf(arc, sizeof(arc), "%s/in.tar", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	int fd = open(arc, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	if (flags & 1) {
		if (write(fd, data, size) != (ssize_t)size)
			abort();
	} else {
		write_tar(fd, flags, data, size);
	}
	close(fd);
	struct i2k_store *s = NULL;
	if (i2k_store_open(cache, &s, &e) < 0) {
		fprintf(stderr, "store: %s\n", e ? e->msg : "?");
		abort();
	}
	char **names = NULL;
	size_t n = 0;
	int rc = i2k_store_import(s, arc, &names, &n, &e);
	if (rc < 0 && (!e || !e->msg))
		abort();
	if (getenv("I2K_FUZZ_DEBUG"))
		fprintf(stderr, "import: %s (%zu names)\n", rc == 0 ? "ok" : e->msg, n);
	if (rc == 0 && n == 0)
		abort(); /* success means at least one named image */
	check_store(s, names, n, rc == 0);
	if (rc == 0)
		reexport(s, dir, names, n);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	i2k_error_free(e);
	i2k_store_free(s);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

#include "tests/fuzz/replay_main.h"
