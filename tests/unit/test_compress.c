/* test_compress.c — initrd/compress: streams, fd writer, gzip/zstd/none. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "initrd/blockmemo.h"
#include "initrd/compress.h"
#include "test.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

/* Deterministic, moderately compressible data. */
static unsigned char *make_data(size_t n)
{
	unsigned char *d = malloc(n);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		/* words from a small alphabet with occasional noise */
		d[i] = (x >> 16) % 7 == 0 ? (unsigned char)(x >> 8)
					  : (unsigned char)("abcdefgh \n"[(x >> 20) % 10]);
	}
	return d;
}

static int compress_buf(enum i2k_compression kind, int level, int threads, const unsigned char *in,
			size_t n, size_t step, struct membuf *out)
{
	struct i2k_error *err = NULL;
	struct i2k_compressor *c = NULL;
	struct i2k_compressor_opts o = {.kind = kind, .level = level, .threads = threads};
	memset(out, 0, sizeof(*out));
	if (i2k_compressor_new(&o, mem_stream(out), &c, &err) < 0) {
		fprintf(stderr, "  compressor_new: %s\n", err->msg);
		i2k_error_free(err);
		return -1;
	}
	for (size_t off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;
		if (i2k_compressor_write(c, in + off, k, &err) < 0)
			goto fail;
	}
	if (i2k_compressor_finish(c, &err) < 0)
		goto fail;
	if (i2k_compressor_bytes_in(c) != n || i2k_compressor_bytes_out(c) != out->len) {
		fprintf(stderr, "  byte counters wrong\n");
		i2k_compressor_free(c);
		return -1;
	}
	i2k_compressor_free(c);
	return 0;
fail:
	fprintf(stderr, "  compress: %s\n", err->msg);
	i2k_error_free(err);
	i2k_compressor_free(c);
	return -1;
}

static unsigned char *gunzip(const unsigned char *in, size_t n, size_t *outlen)
{
	z_stream z = {0};
	if (inflateInit2(&z, 31) != Z_OK)
		return NULL;
	size_t cap = n * 8 + 1024, len = 0;
	unsigned char *out = malloc(cap);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)n;
	int r;
	do {
		if (len == cap) {
			cap *= 2;
			out = realloc(out, cap);
		}
		z.next_out = out + len;
		z.avail_out = (uInt)(cap - len);
		r = inflate(&z, Z_NO_FLUSH);
		len = cap - z.avail_out;
	} while (r == Z_OK);
	bool ok = r == Z_STREAM_END && z.avail_in == 0;
	inflateEnd(&z);
	if (!ok) {
		free(out);
		return NULL;
	}
	*outlen = len;
	return out;
}

static unsigned char *unzstd(const unsigned char *in, size_t n, size_t *outlen)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	size_t cap = n * 8 + 1024, len = 0;
	unsigned char *out = malloc(cap);
	ZSTD_inBuffer ib = {in, n, 0};
	size_t r = 1;
	while (ib.pos < ib.size) {
		if (len == cap) {
			cap *= 2;
			out = realloc(out, cap);
		}
		ZSTD_outBuffer ob = {out + len, cap - len, 0};
		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r))
			break;
		len += ob.pos;
	}
	ZSTD_freeDStream(d);
	if (ZSTD_isError(r) || r != 0) {
		free(out);
		return NULL;
	}
	*outlen = len;
	return out;
}

/* ---- tests --------------------------------------------------------------- */

TEST(gzip_roundtrip_and_header)
{
	size_t n = 3 << 20;
	unsigned char *in = make_data(n);
	struct membuf out;
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 0, 0, in, n, 100000, &out) == 0);
	CHECK(out.len > 18 && out.len < n);
	/* RFC 1952 header: ID1 ID2 CM=8 FLG=0 MTIME=0 XFL OS=3 */
	static const unsigned char want[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0};
	CHECK(memcmp(out.data, want, sizeof(want)) == 0);
	CHECK_INT(out.data[9], 3);
	size_t dlen = 0;
	unsigned char *d = gunzip(out.data, out.len, &dlen);
	CHECK(d != NULL);
	CHECK_INT(dlen, n);
	CHECK(d && memcmp(d, in, n) == 0);
	char path[512], cmd[700];
	CHECK(save("a.gz", &out, path, sizeof(path)) == 0);
	snprintf(cmd, sizeof(cmd), "gzip -t %s", path);
	CHECK_INT(run(cmd), 0);
	free(d);
	free(out.data);
	free(in);
}

TEST(gzip_deterministic_and_level)
{
	size_t n = 1 << 20;
	unsigned char *in = make_data(n);
	struct membuf a, b, c;
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 6, 1, in, n, 4096, &a) == 0);
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 0, 2, in, n, 77777, &b) == 0); /* 0 = 6 */
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 1, 0, in, n, n, &c) == 0);
	CHECK(c.len != a.len || memcmp(c.data, a.data, a.len) != 0);
	CHECK_INT(c.data[8], 4); /* XFL: fastest */
	free(a.data);
	free(b.data);
	free(c.data);
	free(in);
}

TEST(gzip_same_bytes_for_any_thread_count)
{
	/* 2.5 MiB + a bit: many blocks and a short last one. */
	size_t n = (5 << 19) + 777;
	unsigned char *in = make_data(n);
	struct membuf a, b, c;
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 6, 1, in, n, 1 << 20, &a) == 0);
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 6, 2, in, n, 4000, &b) == 0);
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 6, 3, in, n, 99999, &c) == 0);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	CHECK(a.len == c.len && memcmp(a.data, c.data, a.len) == 0);
	size_t dlen = 0;
	unsigned char *d = gunzip(b.data, b.len, &dlen);
	CHECK(d && dlen == n && memcmp(d, in, n) == 0);
	free(d);
	/* the block split costs little: within 2% of one zlib stream */
	uLongf zlen = compressBound(n);
	unsigned char *z = malloc(zlen);
	CHECK(compress2(z, &zlen, in, n, 6) == Z_OK);
	CHECK(a.len < zlen + zlen / 50 + 64);
	free(z);
	free(a.data);
	free(b.data);
	free(c.data);
	free(in);
}

/* gzip with memo_dir; the block counts from the compressor. */
static int gzip_memo(const char *dir, int threads, const unsigned char *in, size_t n,
		     struct membuf *out, uint64_t *blocks, uint64_t *reused)
{
	struct i2k_error *err = NULL;
	struct i2k_compressor *c = NULL;
	struct i2k_compressor_opts o = {
	    .kind = I2K_COMPRESS_GZIP, .level = 6, .threads = threads, .memo_dir = dir};
	memset(out, 0, sizeof(*out));
	int r = i2k_compressor_new(&o, mem_stream(out), &c, &err);
	for (size_t off = 0; r == 0 && off < n; off += 70000)
		r = i2k_compressor_write(c, in + off, n - off < 70000 ? n - off : 70000, &err);
	if (r == 0)
		r = i2k_compressor_finish(c, &err);
	if (r == 0)
		i2k_compressor_blocks(c, blocks, reused);
	if (err)
		fprintf(stderr, "  gzip_memo: %s\n", err->msg);
	i2k_error_free(err);
	i2k_compressor_free(c);
	return r;
}

static bool same(const struct membuf *a, const struct membuf *b)
{
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Blocks from memo_dir: the same bytes as without it; an insertion early in
 * the input leaves the later blocks reusable (content-defined cuts). */
TEST(gzip_memo_reuses_blocks_and_changes_nothing)
{
	_cleanup_free_ char *dir = i2k_xasprintf("%s/memo", tmpdir);
	CHECK(mkdir(dir, 0755) == 0);
	size_t n = (6 << 20) + 12345;
	unsigned char *in = make_data(n);
	struct membuf plain, first, again;
	uint64_t blocks = 0, reused = 0;
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 6, 2, in, n, 1 << 20, &plain) == 0);
	CHECK(gzip_memo(dir, 2, in, n, &first, &blocks, &reused) == 0);
	CHECK(same(&plain, &first));
	CHECK(reused == 0 && blocks >= 6 * 4 && blocks <= 6 * 16); /* 64..256 KiB each */
	CHECK(gzip_memo(dir, 1, in, n, &again, &blocks, &reused) == 0);
	CHECK(same(&plain, &again));
	CHECK_INT(reused, blocks);
	size_t files = 0;
	uint64_t bytes = 0;
	i2k_blockmemo_usage(dir, &files, &bytes);
	CHECK_INT(files, blocks);
	char cmd[600];

	/* 100 bytes inserted at 300 KiB: only the blocks around it are new */
	unsigned char *ins = malloc(n + 100);
	memcpy(ins, in, 300 << 10);
	memset(ins + (300 << 10), 'Q', 100);
	memcpy(ins + (300 << 10) + 100, in + (300 << 10), n - (300 << 10));
	struct membuf ip, im;
	CHECK(compress_buf(I2K_COMPRESS_GZIP, 6, 2, ins, n + 100, 1 << 20, &ip) == 0);
	CHECK(gzip_memo(dir, 2, ins, n + 100, &im, &blocks, &reused) == 0);
	CHECK(same(&ip, &im));
	CHECK(blocks - reused <= 3);
	size_t dlen = 0;
	unsigned char *d = gunzip(im.data, im.len, &dlen);
	CHECK(d && dlen == n + 100 && memcmp(d, ins, n + 100) == 0);
	free(d);

	/* one pack per build that stored anything: the first and the insertion */
	snprintf(cmd, sizeof(cmd), "test $(ls %s | grep -c '\\.pack$') = 2", dir);
	CHECK(run(cmd) == 0);

	/* damaged packs give misses, never wrong bytes (blockmemo's own tests
	 * damage each part; here a byte of the first block of each pack) */
	snprintf(cmd, sizeof(cmd),
		 "for f in %s/*; do printf Z | dd of=$f bs=1 seek=5 conv=notrunc 2>/dev/null; "
		 "done",
		 dir);
	CHECK(run(cmd) == 0);
	struct membuf bad;
	CHECK(gzip_memo(dir, 2, in, n, &bad, &blocks, &reused) == 0);
	CHECK(same(&plain, &bad));
	CHECK(reused < blocks);

	/* an unwritable directory only means misses */
	struct membuf nowhere;
	CHECK(gzip_memo("/nonexistent-i2k-memo", 2, in, n, &nowhere, &blocks, &reused) == 0);
	CHECK(same(&plain, &nowhere) && reused == 0);
	free(plain.data);
	free(first.data);
	free(again.data);
	free(ip.data);
	free(im.data);
	free(bad.data);
	free(nowhere.data);
	free(ins);
	free(in);
}

TEST(empty_and_block_sized_inputs)
{
	static const enum i2k_compression kinds[] = {I2K_COMPRESS_GZIP, I2K_COMPRESS_ZSTD};
	size_t sizes[] = {0, 1, 128 << 10, 2 * (128 << 10), (128 << 10) + 1};
	unsigned char *in = make_data(2 * (128 << 10) + 1);
	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct membuf out, out2;
			CHECK(compress_buf(kinds[k], 0, 2, in, sizes[i], 65536, &out) == 0);
			CHECK(compress_buf(kinds[k], 0, 1, in, sizes[i], 1000, &out2) == 0);
			CHECK(out.len == out2.len && memcmp(out.data, out2.data, out.len) == 0);
			size_t dlen = 99;
			unsigned char *d = kinds[k] == I2K_COMPRESS_GZIP
					       ? gunzip(out.data, out.len, &dlen)
					       : unzstd(out.data, out.len, &dlen);
			CHECK(d != NULL);
			CHECK_INT(dlen, sizes[i]);
			CHECK(d && memcmp(d, in, sizes[i]) == 0);
			free(d);
			free(out.data);
			free(out2.data);
		}
	}
	free(in);
}

TEST(gzip_threads_sink_failure)
{
	struct membuf out = {0};
	out.fail_after = 3;
	struct i2k_error *err = NULL;
	struct i2k_compressor *c = NULL;
	struct i2k_compressor_opts o = {.kind = I2K_COMPRESS_GZIP, .threads = 2};
	CHECK(i2k_compressor_new(&o, mem_stream(&out), &c, &err) == 0);
	size_t n = 4 << 20;
	unsigned char *in = make_data(n);
	int r = 0;
	for (size_t off = 0; off < n && r == 0; off += 100000)
		r = i2k_compressor_write(c, in + off, n - off < 100000 ? n - off : 100000, &err);
	if (r == 0)
		r = i2k_compressor_finish(c, &err);
	CHECK(r < 0);
	CHECK_STR(err ? err->msg : NULL, "sink full");
	i2k_error_free(err);
	i2k_compressor_free(c); /* joins the workers with jobs still queued */
	free(out.data);
	free(in);
}

TEST(zstd_roundtrip_and_cli_check)
{
	size_t n = 3 << 20;
	unsigned char *in = make_data(n);
	struct membuf out;
	CHECK(compress_buf(I2K_COMPRESS_ZSTD, 0, 0, in, n, 65536, &out) == 0);
	static const unsigned char magic[] = {0x28, 0xb5, 0x2f, 0xfd};
	CHECK(memcmp(out.data, magic, 4) == 0);
	size_t dlen = 0;
	unsigned char *d = unzstd(out.data, out.len, &dlen);
	CHECK(d != NULL);
	CHECK_INT(dlen, n);
	CHECK(d && memcmp(d, in, n) == 0);
	char path[512], cmd[700];
	CHECK(save("a.zst", &out, path, sizeof(path)) == 0);
	snprintf(cmd, sizeof(cmd), "zstd -q -t %s", path);
	CHECK_INT(run(cmd), 0);
	free(d);
	free(out.data);
	free(in);
}

TEST(zstd_same_bytes_for_1_and_2_workers)
{
	/* Large enough for several zstd jobs (level 3: jobs of a few MiB). */
	size_t n = 24 << 20;
	unsigned char *in = make_data(n);
	struct membuf a, b;
	CHECK(compress_buf(I2K_COMPRESS_ZSTD, 3, 1, in, n, 1 << 20, &a) == 0);
	CHECK(compress_buf(I2K_COMPRESS_ZSTD, 3, 2, in, n, 12345, &b) == 0);
	CHECK_INT(a.len, b.len);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	struct membuf c;
	CHECK(compress_buf(I2K_COMPRESS_ZSTD, 3, 4, in, n, 3 << 20, &c) == 0);
	CHECK(a.len == c.len && memcmp(a.data, c.data, a.len) == 0);
	free(a.data);
	free(b.data);
	free(c.data);
	free(in);
}

/* A sink slower than the workers: the job that ends exactly at the end of
 * the input (24 MiB = 12 jobs of 2 MiB) must not move between the last
 * write and finish (it did: 3 bytes of empty last block, depending on
 * timing). */
static int slow_write(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	usleep(2000);
	return mem_write(ctx, buf, len, err);
}

TEST(zstd_same_bytes_with_a_slow_sink)
{
	size_t n = 24 << 20;
	unsigned char *in = make_data(n);
	struct membuf fast, slow = {0};
	CHECK(compress_buf(I2K_COMPRESS_ZSTD, 3, 1, in, n, 1 << 20, &fast) == 0);
	struct i2k_error *err = NULL;
	struct i2k_compressor *c = NULL;
	struct i2k_compressor_opts o = {.kind = I2K_COMPRESS_ZSTD, .level = 3, .threads = 4};
	struct i2k_ostream st = {.write = slow_write, .ctx = &slow};
	CHECK(i2k_compressor_new(&o, st, &c, &err) == 0);
	int r = 0;
	for (size_t off = 0; c && off < n && r == 0; off += 3 << 20)
		r = i2k_compressor_write(c, in + off, 3 << 20, &err);
	CHECK(c && r == 0 && i2k_compressor_finish(c, &err) == 0);
	CHECK_INT(slow.len, fast.len);
	CHECK(slow.len == fast.len && memcmp(slow.data, fast.data, fast.len) == 0);
	i2k_error_free(err);
	i2k_compressor_free(c);
	free(fast.data);
	free(slow.data);
	free(in);
}

TEST(none_passes_through)
{
	unsigned char in[1000];
	for (int i = 0; i < 1000; i++)
		in[i] = (unsigned char)i;
	struct membuf out;
	CHECK(compress_buf(I2K_COMPRESS_NONE, 0, 0, in, sizeof(in), 333, &out) == 0);
	CHECK_INT(out.len, sizeof(in));
	CHECK(memcmp(out.data, in, sizeof(in)) == 0);
	free(out.data);
}

TEST(names_and_parse)
{
	struct i2k_error *err = NULL;
	enum i2k_compression k;
	CHECK(i2k_compression_parse("zstd", &k, &err) == 0 && k == I2K_COMPRESS_ZSTD);
	CHECK(i2k_compression_parse("gzip", &k, &err) == 0 && k == I2K_COMPRESS_GZIP);
	CHECK(i2k_compression_parse("none", &k, &err) == 0 && k == I2K_COMPRESS_NONE);
	CHECK(i2k_compression_parse("xz", &k, &err) < 0);
	CHECK(err && err->code == I2K_ERR_USAGE);
	CHECK_STR(err ? err->msg : NULL, "unknown compression xz (use gzip, zstd or none)");
	i2k_error_free(err);
	CHECK_STR(i2k_compression_name(I2K_COMPRESS_ZSTD), "zstd");
	CHECK_STR(i2k_compression_name(I2K_COMPRESS_GZIP), "gzip");
	CHECK_STR(i2k_compression_name(I2K_COMPRESS_NONE), "none");
	CHECK_STR(i2k_compression_suffix(I2K_COMPRESS_GZIP), ".gz");
	CHECK_STR(i2k_compression_suffix(I2K_COMPRESS_ZSTD), ".zst");
	CHECK_STR(i2k_compression_suffix(I2K_COMPRESS_NONE), "");
	struct i2k_compressor_opts zero = {0};
	CHECK(zero.kind == I2K_COMPRESS_GZIP);
}

TEST(bad_levels_rejected)
{
	struct membuf out = {0};
	struct i2k_error *err = NULL;
	struct i2k_compressor *c = NULL;
	struct i2k_compressor_opts o = {.kind = I2K_COMPRESS_GZIP, .level = 10};
	CHECK(i2k_compressor_new(&o, mem_stream(&out), &c, &err) < 0);
	CHECK(c == NULL);
	CHECK_STR(err ? err->msg : NULL, "gzip level 10 out of range 1..9");
	CHECK(err && err->code == I2K_ERR_USAGE);
	i2k_error_free(err);
	err = NULL;
	o = (struct i2k_compressor_opts){.kind = I2K_COMPRESS_ZSTD, .level = 20};
	CHECK(i2k_compressor_new(&o, mem_stream(&out), &c, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "zstd level 20 out of range 1..19");
	i2k_error_free(err);
	err = NULL;
	o = (struct i2k_compressor_opts){.kind = I2K_COMPRESS_ZSTD, .level = -1};
	CHECK(i2k_compressor_new(&o, mem_stream(&out), &c, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "zstd level -1 out of range 1..19");
	i2k_error_free(err);
	err = NULL;
	o = (struct i2k_compressor_opts){.kind = (enum i2k_compression)42};
	CHECK(i2k_compressor_new(&o, mem_stream(&out), &c, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "unknown compression kind 42");
	i2k_error_free(err);
}

TEST(misuse_and_sink_failure)
{
	struct membuf out = {0};
	struct i2k_error *err = NULL;
	struct i2k_compressor *c = NULL;
	struct i2k_compressor_opts o = {.kind = I2K_COMPRESS_GZIP};
	CHECK(i2k_compressor_new(&o, mem_stream(&out), &c, &err) == 0);
	CHECK(i2k_compressor_write(c, "abc", 3, &err) == 0);
	CHECK(i2k_compressor_finish(c, &err) == 0);
	CHECK(i2k_compressor_write(c, "abc", 3, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "compressor: write after finish");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_compressor_finish(c, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "compressor: finish after finish");
	i2k_error_free(err);
	err = NULL;
	i2k_compressor_free(c);
	free(out.data);

	/* A failing sink: the error surfaces and the compressor refuses more. */
	memset(&out, 0, sizeof(out));
	out.fail_after = 1;
	o.kind = I2K_COMPRESS_ZSTD;
	CHECK(i2k_compressor_new(&o, mem_stream(&out), &c, &err) == 0);
	size_t n = 8 << 20;
	unsigned char *in = make_data(n);
	int r = 0;
	for (size_t off = 0; off < n && r == 0; off += 1 << 20)
		r = i2k_compressor_write(c, in + off, 1 << 20, &err);
	if (r == 0)
		r = i2k_compressor_finish(c, &err);
	CHECK(r < 0);
	CHECK_STR(err ? err->msg : NULL, "sink full");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_compressor_write(c, "x", 1, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "compressor: write after failure");
	i2k_error_free(err);
	i2k_compressor_free(c);
	i2k_compressor_free(NULL);
	free(out.data);
	free(in);
}

TEST(fd_writer_hashes_and_buffers)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/fdw", tmpdir);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	CHECK(fd >= 0);
	struct i2k_sha256 *h = i2k_sha256_new();
	struct i2k_fd_writer w;
	i2k_fd_writer_init(&w, fd, h);
	struct i2k_ostream s = i2k_fd_writer_stream(&w);
	struct i2k_error *err = NULL;
	size_t n = 3 << 20;
	unsigned char *in = make_data(n);
	CHECK(i2k_ostream_write(s, in, 10, &err) == 0);
	CHECK(i2k_ostream_write(s, in + 10, (2 << 20) - 10, &err) == 0); /* > buffer */
	CHECK(i2k_ostream_write(s, in + (2 << 20), n - (2 << 20), &err) == 0);
	CHECK(i2k_ostream_zeros(s, 5000, &err) == 0);
	CHECK(i2k_fd_writer_flush(&w, &err) == 0);
	CHECK_INT(w.bytes, n + 5000);
	char d1[I2K_DIGEST_LEN + 1], d2[I2K_DIGEST_LEN + 1];
	i2k_sha256_final(h, d1);
	i2k_sha256_free(h);
	i2k_fd_writer_release(&w);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && (size_t)st.st_size == n + 5000);
	lseek(fd, 0, SEEK_SET);
	uint64_t sz = 0;
	CHECK(i2k_sha256_fd(fd, d2, &sz, &err) == 0);
	CHECK_STR(d1, d2);
	close(fd);
	free(in);
}

TEST(copy_fd_errors)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/small", tmpdir);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, "hello world", 11) == 11);
	struct membuf out = {0};
	struct i2k_error *err = NULL;
	CHECK(i2k_ostream_copy_fd(mem_stream(&out), fd, 6, 5, &err) == 0);
	CHECK(out.len == 5 && memcmp(out.data, "world", 5) == 0);
	CHECK(i2k_ostream_copy_fd(mem_stream(&out), fd, 6, 50, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "reading file data: unexpected end of file");
	CHECK(err && err->code == I2K_ERR_IO);
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_ostream_copy_fd(mem_stream(&out), -1, 0, 5, &err) < 0);
	CHECK_CONTAINS(err ? err->msg : NULL, "reading file data: ");
	i2k_error_free(err);
	err = NULL;
	i2k_interrupted = 1;
	CHECK(i2k_ostream_copy_fd(mem_stream(&out), fd, 0, 5, &err) < 0);
	CHECK(err && err->code == I2K_ERR_INTERRUPTED);
	i2k_interrupted = 0;
	i2k_error_free(err);
	close(fd);
	free(out.data);
}

int main(void)
{
	t_prog = "test_compress";
	make_tmpdir();
	RUN(gzip_roundtrip_and_header);
	RUN(gzip_deterministic_and_level);
	RUN(gzip_same_bytes_for_any_thread_count);
	RUN(gzip_memo_reuses_blocks_and_changes_nothing);
	RUN(empty_and_block_sized_inputs);
	RUN(gzip_threads_sink_failure);
	RUN(zstd_roundtrip_and_cli_check);
	RUN(zstd_same_bytes_for_1_and_2_workers);
	RUN(zstd_same_bytes_with_a_slow_sink);
	RUN(none_passes_through);
	RUN(names_and_parse);
	RUN(bad_levels_rejected);
	RUN(misuse_and_sink_failure);
	RUN(fd_writer_hashes_and_buffers);
	RUN(copy_fd_errors);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
