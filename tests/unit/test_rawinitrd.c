/* test_rawinitrd.c — provision/rawinitrd: the initrd given to QEMU
 * decompressed. Inputs are made by the gzip and zstd programs (independent
 * writers of the formats) from newc-looking archives written here: one
 * member, several members with zero bytes between and after them, zstd
 * frames with a skippable frame; the output must be the original bytes.
 * Refused: plain cpio, other data after the compressed data, content that
 * is no newc cpio, more bytes than the caller allows; corrupt and
 * truncated streams; in every refusal no
 * output file and no temporary file is left. */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/rawinitrd.h"
#include "tests/unit/test.h"

static char tmp[256];

static char *tpath(const char *name)
{
	return i2k_xasprintf("%s/%s", tmp, name);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	if (i2k_write_file_atomic(path, p, n, 0644, NULL) < 0)
		abort();
}

static void sh(const char *cmd)
{
	_cleanup_free_ char *c = i2k_xasprintf("( %s ) >/dev/null 2>&1", cmd);
	if (system(c) != 0) {
		fprintf(stderr, "  command failed: %s\n", cmd);
		abort();
	}
}

/* n bytes that start like a newc archive, varied enough to compress. */
static char *archive(size_t n, unsigned seed)
{
	char *p = i2k_xmalloc(n);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (char)('a' + (x >> 16) % 7);
	}
	memcpy(p, "070701", n < 6 ? n : 6);
	return p;
}

/* archive(n, seed), also written to tmp/name (*path, the caller's). */
static char *archive_file(const char *name, size_t n, unsigned seed, char **path)
{
	char *p = archive(n, seed);
	*path = tpath(name);
	write_bytes(*path, p, n);
	return p;
}

/* Only the expected files are in tmp: no temporary left behind. */
static size_t tmp_leftovers(void)
{
	DIR *d = opendir(tmp);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += strstr(de->d_name, ".tmp-") != NULL;
	if (d)
		closedir(d);
	return n;
}

static void same_file(const char *path, const char *want, size_t wlen)
{
	_cleanup_free_ char *got = NULL;
	size_t glen = 0;
	OK(i2k_read_file(path, 64u << 20, &got, &glen, &_e));
	CHECK_INT(glen, wlen);
	CHECK(got && glen == wlen && memcmp(got, want, wlen) == 0);
}

/* The file at path holds a[0..na) then b[0..nb). */
static void same_file2(const char *path, const char *a, size_t na, const char *b, size_t nb)
{
	_cleanup_free_ char *ab = i2k_xmalloc(na + nb);
	memcpy(ab, a, na);
	memcpy(ab + na, b, nb);
	same_file(path, ab, na + nb);
}

TEST(gzip_members)
{
	size_t n1 = 300000, n2 = 70000;
	_cleanup_free_ char *pa = NULL, *pb = NULL;
	_cleanup_free_ char *a = archive_file("a.cpio", n1, 1, &pa);
	_cleanup_free_ char *b = archive_file("b.cpio", n2, 2, &pb);
	_cleanup_free_ char *one = tpath("one.gz"), *out = tpath("out.cpio");
	_cleanup_free_ char *c1 = i2k_xasprintf("gzip -6 -n -c %s >%s", pa, one);
	sh(c1);
	struct i2k_rawinitrd_info info;
	OK(i2k_rawinitrd_write(one, out, UINT64_MAX, &info, &_e));
	same_file(out, a, n1);
	CHECK_STR(info.codec, "gzip");
	CHECK_INT(info.out_bytes, n1);
	struct stat st;
	CHECK(stat(one, &st) == 0 && info.in_bytes == (uint64_t)st.st_size);
	/* two members, zero bytes between and after (as the kernel allows) */
	_cleanup_free_ char *two = tpath("two.gz");
	_cleanup_free_ char *c2 = i2k_xasprintf(
	    "gzip -1 -n -c %s >%s && head -c 7 /dev/zero >>%s && gzip -9 -n -c %s >>%s && "
	    "head -c 512 /dev/zero >>%s",
	    pa, two, two, pb, two, two);
	sh(c2);
	OK(i2k_rawinitrd_write(two, out, UINT64_MAX, &info, &_e));
	same_file2(out, a, n1, b, n2);
	CHECK_INT(info.out_bytes, n1 + n2);
	CHECK_INT(tmp_leftovers(), 0);
}

TEST(zstd_frames)
{
	size_t n1 = 200000, n2 = 5000;
	_cleanup_free_ char *pa = NULL, *pb = NULL;
	_cleanup_free_ char *a = archive_file("za.cpio", n1, 3, &pa);
	_cleanup_free_ char *b = archive_file("zb.cpio", n2, 4, &pb);
	/* a skippable frame (magic 0x184D2A50, 4 bytes of content) between */
	_cleanup_free_ char *skip = tpath("skip.bin");
	const uint8_t skippable[12] = {0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 'a', 'b', 'c', 'd'};
	write_bytes(skip, skippable, sizeof(skippable));
	_cleanup_free_ char *z = tpath("two.zst"), *out = tpath("zout.cpio");
	_cleanup_free_ char *c =
	    i2k_xasprintf("zstd -q -3 -c %s >%s && cat %s >>%s && zstd -q -19 -c %s >>%s && "
			  "head -c 3 /dev/zero >>%s",
			  pa, z, skip, z, pb, z, z);
	sh(c);
	struct i2k_rawinitrd_info info;
	OK(i2k_rawinitrd_write(z, out, UINT64_MAX, &info, &_e));
	same_file2(out, a, n1, b, n2);
	CHECK_STR(info.codec, "zstd");
	CHECK_INT(tmp_leftovers(), 0);
}

TEST(refused)
{
	struct i2k_rawinitrd_info info;
	size_t n = 100000;
	_cleanup_free_ char *plain = NULL, *out = tpath("r.cpio");
	_cleanup_free_ char *a = archive_file("plain.cpio", n, 5, &plain);
	_cleanup_free_ char *m1 = i2k_xasprintf("%s: not gzip or zstd", plain);
	FAILS(i2k_rawinitrd_write(plain, out, UINT64_MAX, &info, &_e), I2K_ERR_UNSUPPORTED, m1);
	CHECK(access(out, F_OK) != 0);
	/* gzip, then a plain archive appended (a mixed initrd) */
	_cleanup_free_ char *mixed = tpath("mixed.gz");
	_cleanup_free_ char *c1 =
	    i2k_xasprintf("gzip -n -c %s >%s && cat %s >>%s", plain, mixed, plain, mixed);
	sh(c1);
	struct stat st;
	CHECK(stat(mixed, &st) == 0);
	_cleanup_free_ char *m2 =
	    i2k_xasprintf("%s: not gzip data after the gzip data at byte %lld", mixed,
			  (long long)st.st_size - (long long)n);
	FAILS(i2k_rawinitrd_write(mixed, out, UINT64_MAX, &info, &_e), I2K_ERR_UNSUPPORTED, m2);
	CHECK(access(out, F_OK) != 0);
	/* zstd, then gzip */
	_cleanup_free_ char *zg = tpath("zg.bin");
	_cleanup_free_ char *c2 =
	    i2k_xasprintf("zstd -q -c %s >%s && gzip -n -c %s >>%s", plain, zg, plain, zg);
	sh(c2);
	_cleanup_free_ char *zgz = NULL;
	size_t zl = 0;
	OK(i2k_read_file(zg, 1 << 20, &zgz, &zl, &_e));
	/* the zstd frame's length: where the gzip magic follows it */
	size_t at = 0;
	for (size_t i = 4; zgz && i + 1 < zl; i++)
		if ((uint8_t)zgz[i] == 0x1F && (uint8_t)zgz[i + 1] == 0x8B && at == 0)
			at = i;
	_cleanup_free_ char *m3 =
	    i2k_xasprintf("%s: not zstd data after the zstd data at byte %zu", zg, at);
	FAILS(i2k_rawinitrd_write(zg, out, UINT64_MAX, &info, &_e), I2K_ERR_UNSUPPORTED, m3);
	/* content that is no newc archive */
	_cleanup_free_ char *txt = tpath("hello.gz");
	_cleanup_free_ char *c3 = i2k_xasprintf("echo hello, world | gzip -n >%s", txt);
	sh(c3);
	_cleanup_free_ char *m4 = i2k_xasprintf("%s: its content is no newc cpio archive", txt);
	FAILS(i2k_rawinitrd_write(txt, out, UINT64_MAX, &info, &_e), I2K_ERR_UNSUPPORTED, m4);
	CHECK(access(out, F_OK) != 0);
	/* larger than the caller allows: refused, nothing left */
	_cleanup_free_ char *big = tpath("big.gz");
	_cleanup_free_ char *c4 = i2k_xasprintf("gzip -n -c %s >%s", plain, big);
	sh(c4);
	_cleanup_free_ char *m5 = i2k_xasprintf("%s: more than %zu bytes uncompressed", big, n - 1);
	FAILS(i2k_rawinitrd_write(big, out, n - 1, &info, &_e), I2K_ERR_UNSUPPORTED, m5);
	CHECK(access(out, F_OK) != 0);
	OK(i2k_rawinitrd_write(big, out, n, &info, &_e)); /* exactly the limit */
	CHECK_INT(info.out_bytes, n);
	unlink(out);
	/* a missing file */
	_cleanup_free_ char *none = tpath("none.gz");
	struct i2k_error *e = NULL;
	CHECK(i2k_rawinitrd_write(none, out, UINT64_MAX, &info, &e) < 0);
	CHECK(e && strstr(e->msg, "No such file"));
	i2k_error_free(e);
	CHECK_INT(tmp_leftovers(), 0);
}

TEST(damaged)
{
	struct i2k_rawinitrd_info info;
	size_t n = 400000;
	_cleanup_free_ char *pa = NULL, *gz = tpath("d.gz"), *zs = tpath("d.zst");
	_cleanup_free_ char *out = tpath("d.out");
	_cleanup_free_ char *a = archive_file("d.cpio", n, 6, &pa);
	_cleanup_free_ char *c =
	    i2k_xasprintf("gzip -n -c %s >%s && zstd -q -c %s >%s", pa, gz, pa, zs);
	sh(c);
	_cleanup_free_ char *g = NULL, *z = NULL;
	size_t gl = 0, zl = 0;
	OK(i2k_read_file(gz, 1 << 20, &g, &gl, &_e));
	OK(i2k_read_file(zs, 1 << 20, &z, &zl, &_e));
	if (g == NULL || z == NULL)
		return;
	/* cut in the middle */
	_cleanup_free_ char *cut = tpath("cut.gz");
	write_bytes(cut, g, gl / 2);
	_cleanup_free_ char *m1 = i2k_xasprintf("%s: truncated gzip data", cut);
	FAILS(i2k_rawinitrd_write(cut, out, UINT64_MAX, &info, &_e), I2K_ERR_INTEGRITY, m1);
	_cleanup_free_ char *zcut = tpath("cut.zst");
	write_bytes(zcut, z, zl / 2);
	_cleanup_free_ char *m2 =
	    i2k_xasprintf("%s: truncated or corrupt zstd data at byte 0", zcut);
	FAILS(i2k_rawinitrd_write(zcut, out, UINT64_MAX, &info, &_e), I2K_ERR_INTEGRITY, m2);
	/* bytes changed inside the deflate data: an error, whichever zlib finds */
	for (size_t i = 40; i < 60; i++)
		g[i] = (char)~g[i];
	_cleanup_free_ char *bad = tpath("bad.gz");
	write_bytes(bad, g, gl);
	struct i2k_error *e = NULL;
	CHECK(i2k_rawinitrd_write(bad, out, UINT64_MAX, &info, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	i2k_error_free(e);
	CHECK(access(out, F_OK) != 0);
	CHECK_INT(tmp_leftovers(), 0);
}

int main(void)
{
	t_prog = "test_rawinitrd";
	snprintf(tmp, sizeof(tmp), "%s/i2k-test-rawinitrd.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		abort();
	RUN(gzip_members);
	RUN(zstd_frames);
	RUN(refused);
	RUN(damaged);
	i2k_rm_rf(tmp, NULL);
	return TEST_DONE();
}
