/* test_deflate_join.c — initrd/deflate_join: walking a raw deflate stream's
 * blocks and ending it as a non-final piece. zlib is the oracle: pieces
 * ended by i2k_deflate_unfinal and concatenated must inflate to their
 * inputs, and every malformed or cut stream must be refused, not misread. */
#include <libdeflate.h>
#include <stdbool.h>
#include <zlib.h>

#include "initrd/deflate_join.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------- */

enum kind { TEXT, RANDOM, ZEROS };

static uint8_t *make(enum kind k, size_t n, uint32_t seed)
{
	uint8_t *d = malloc(n ? n : 1);
	uint32_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		d[i] = k == ZEROS	    ? 0
		       : k == RANDOM	    ? (uint8_t)(x >> 16)
		       : (x >> 16) % 9 == 0 ? (uint8_t)(x >> 8)
					    : (uint8_t)("the quick brown fox\n"[(x >> 20) % 20]);
	}
	return d;
}

/* A complete raw deflate stream of in by libdeflate at level; the buffer
 * has room for i2k_deflate_unfinal. */
static uint8_t *ld_deflate(int level, const uint8_t *in, size_t n, size_t *out_len)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
	size_t cap = libdeflate_deflate_compress_bound(c, n) + I2K_DEFLATE_UNFINAL_EXTRA;
	uint8_t *out = malloc(cap);
	*out_len = libdeflate_deflate_compress(c, in, n, out, cap - I2K_DEFLATE_UNFINAL_EXTRA);
	libdeflate_free_compressor(c);
	return out;
}

/* A complete raw deflate stream by zlib (strategy Z_FIXED gives fixed
 * Huffman blocks, level 0 stored ones); with flushes > 0 the input is fed
 * in that many parts, each ended by a full flush (more blocks). */
static uint8_t *z_deflate(int level, int strategy, int flushes, const uint8_t *in, size_t n,
			  size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, level, Z_DEFLATED, -15, 8, strategy);
	size_t cap = deflateBound(&z, n) + 64 * (size_t)(flushes + 1) + I2K_DEFLATE_UNFINAL_EXTRA;
	uint8_t *out = malloc(cap);
	z.next_out = out;
	z.avail_out = (uInt)(cap - I2K_DEFLATE_UNFINAL_EXTRA);
	size_t part = flushes ? n / (size_t)(flushes + 1) : n;
	size_t off = 0;
	for (int i = 0; i < flushes; i++, off += part) {
		z.next_in = (Bytef *)in + off;
		z.avail_in = (uInt)part;
		deflate(&z, Z_FULL_FLUSH);
	}
	z.next_in = (Bytef *)in + off;
	z.avail_in = (uInt)(n - off);
	deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* Inflates the raw stream s[0..n); true when it ends (Z_STREAM_END) exactly
 * at n with want[0..want_len) as its output. */
static bool inflates_to(const uint8_t *s, size_t n, const uint8_t *want, size_t want_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	inflateInit2(&z, -15);
	uint8_t *out = malloc(want_len + 1);
	z.next_in = (Bytef *)s;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)want_len + 1;
	int r = inflate(&z, Z_FINISH);
	bool ok = r == Z_STREAM_END && z.avail_in == 0 && z.total_out == want_len &&
		  memcmp(out, want, want_len) == 0;
	inflateEnd(&z);
	free(out);
	return ok;
}

/* Cuts in into parts of the given sizes, deflates each with libdeflate at
 * level, ends all but the last with i2k_deflate_unfinal, and checks that
 * the concatenation inflates to in. */
static bool joined_roundtrip(int level, const uint8_t *in, const size_t *sizes, size_t nparts)
{
	size_t total = 0, cap = 0;
	for (size_t i = 0; i < nparts; i++)
		total += sizes[i];
	uint8_t *all = NULL;
	size_t len = 0, off = 0;
	bool ok = true;
	for (size_t i = 0; i < nparts && ok; off += sizes[i++]) {
		size_t n;
		uint8_t *piece = ld_deflate(level, in + off, sizes[i], &n);
		if (i + 1 < nparts) {
			ok = i2k_deflate_unfinal(piece, &n) == 0;
			/* byte-aligned, ended by an empty stored block */
			ok = ok && n >= 5 && memcmp(piece + n - 4, "\0\0\377\377", 4) == 0;
		}
		if (len + n > cap) {
			cap = 2 * (len + n);
			all = realloc(all, cap);
		}
		memcpy(all + len, piece, n);
		len += n;
		free(piece);
	}
	ok = ok && inflates_to(all, len, in, total);
	free(all);
	return ok;
}

/* ---- tests ----------------------------------------------------------------- */

TEST(pieces_join_into_one_stream)
{
	static const int levels[] = {1, 6, 9, 12};
	static const enum kind kinds[] = {TEXT, RANDOM, ZEROS};
	/* sizes like the gzip compressor's blocks, and edge cases: an empty
	 * piece, one byte, a piece larger than libdeflate's own blocks */
	static const size_t sizes[] = {131072, 65536, 0, 1, 262144, 200000, 7, 131072};
	size_t total = 0;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	for (size_t k = 0; k < 3; k++) {
		uint8_t *in = make(kinds[k], total, 7 + (uint32_t)k);
		for (size_t l = 0; l < 4; l++) {
			bool ok = joined_roundtrip(levels[l], in, sizes,
						   sizeof(sizes) / sizeof(sizes[0]));
			if (!ok)
				fprintf(stderr, "  kind %zu level %d\n", k, levels[l]);
			CHECK(ok);
		}
		free(in);
	}
}

TEST(a_piece_alone_is_not_final)
{
	uint8_t *in = make(TEXT, 100000, 3);
	size_t n;
	uint8_t *s = ld_deflate(6, in, 100000, &n);
	CHECK(inflates_to(s, n, in, 100000));
	CHECK(i2k_deflate_unfinal(s, &n) == 0);
	/* all its data comes out, and the stream has not ended */
	z_stream z;
	memset(&z, 0, sizeof(z));
	inflateInit2(&z, -15);
	uint8_t *out = malloc(100001);
	z.next_in = s;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = 100001;
	CHECK_INT(inflate(&z, Z_SYNC_FLUSH), Z_OK);
	CHECK_INT(z.total_out, 100000);
	CHECK_INT(z.avail_in, 0);
	CHECK(memcmp(out, in, 100000) == 0);
	inflateEnd(&z);
	free(out);
	free(s);
	free(in);
}

TEST(scan_finds_the_last_block_of_every_block_type)
{
	uint8_t *in = make(TEXT, 300000, 11);
	struct {
		int level, strategy, flushes;
	} cases[] = {
	    {6, Z_DEFAULT_STRATEGY, 0}, /* dynamic */
	    {6, Z_FIXED, 0},		/* fixed */
	    {0, Z_DEFAULT_STRATEGY, 0}, /* stored (several: 64 KiB at most each) */
	    {6, Z_DEFAULT_STRATEGY, 3}, /* dynamic, with stored empty blocks between */
	    {1, Z_FIXED, 5},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n;
		uint8_t *s =
		    z_deflate(cases[i].level, cases[i].strategy, cases[i].flushes, in, 300000, &n);
		uint64_t last = 0, end = 0;
		CHECK(i2k_deflate_scan(s, n, &last, &end) == 0);
		/* zlib's stream ends in its last byte; the final block starts
		 * with BFINAL set */
		CHECK(end <= (uint64_t)n * 8 && end > (uint64_t)(n - 1) * 8);
		CHECK(last < end && (s[last / 8] >> (last % 8) & 1) == 1);
		/* and the rewritten stream joins with another */
		CHECK(i2k_deflate_unfinal(s, &n) == 0);
		size_t m;
		uint8_t *tail = ld_deflate(6, in, 1000, &m);
		uint8_t *both = malloc(n + m);
		memcpy(both, s, n);
		memcpy(both + n, tail, m);
		uint8_t *want = malloc(301000);
		memcpy(want, in, 300000);
		memcpy(want + 300000, in, 1000);
		CHECK(inflates_to(both, n + m, want, 301000));
		free(want);
		free(both);
		free(tail);
		free(s);
	}
	free(in);
}

TEST(cut_streams_are_refused)
{
	uint8_t *in = make(TEXT, 50000, 5);
	size_t n;
	uint8_t *s = ld_deflate(6, in, 50000, &n);
	uint64_t last, end;
	CHECK(i2k_deflate_scan(s, n, &last, &end) == 0);
	/* every cut that drops a bit of the stream */
	size_t cuts = 0, refused = 0;
	for (size_t cut = 0; (uint64_t)cut * 8 < end; cut++) {
		uint64_t l2, e2;
		cuts++;
		refused += i2k_deflate_scan(s, cut, &l2, &e2) < 0;
	}
	CHECK(cuts > 1000);
	CHECK_INT(refused, cuts);
	/* a stream of non-final pieces only (zlib's sync flush, no finish) */
	z_stream z;
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
	uint8_t buf[70000];
	z.next_in = in;
	z.avail_in = 50000;
	z.next_out = buf;
	z.avail_out = sizeof(buf);
	deflate(&z, Z_SYNC_FLUSH);
	CHECK(i2k_deflate_scan(buf, z.total_out, &last, &end) < 0);
	deflateEnd(&z);
	free(s);
	free(in);
}

TEST(malformed_streams_are_refused)
{
	uint64_t last, end;
	CHECK(i2k_deflate_scan((const uint8_t *)"", 0, &last, &end) < 0);
	/* BFINAL=1, BTYPE=11 (reserved) */
	CHECK(i2k_deflate_scan((const uint8_t *)"\x07\0\0\0", 4, &last, &end) < 0);
	/* a final stored block whose NLEN is not LEN's complement */
	static const uint8_t bad_stored[] = {0x01, 0x03, 0x00, 0xfc, 0xfe, 'a', 'b', 'c'};
	CHECK(i2k_deflate_scan(bad_stored, sizeof(bad_stored), &last, &end) < 0);
	static const uint8_t good_stored[] = {0x01, 0x03, 0x00, 0xfc, 0xff, 'a', 'b', 'c'};
	CHECK(i2k_deflate_scan(good_stored, sizeof(good_stored), &last, &end) == 0);
	CHECK_INT(last, 0);
	CHECK_INT(end, 8 * 8);
	/* longer than the buffer holds */
	CHECK(i2k_deflate_scan(good_stored, sizeof(good_stored) - 1, &last, &end) < 0);
	/* a dynamic header with HLIT 287 (30 + 257; at most 286 allowed) */
	static const uint8_t big_hlit[] = {0x05 | (30 << 3), 0xff, 0xff, 0xff, 0xff, 0xff};
	CHECK(i2k_deflate_scan(big_hlit, sizeof(big_hlit), &last, &end) < 0);
	/* unfinal leaves what it refuses as it was */
	uint8_t copy[sizeof(bad_stored) + I2K_DEFLATE_UNFINAL_EXTRA];
	memcpy(copy, bad_stored, sizeof(bad_stored));
	size_t n = sizeof(bad_stored);
	CHECK(i2k_deflate_unfinal(copy, &n) < 0);
	CHECK_INT(n, sizeof(bad_stored));
	CHECK(memcmp(copy, bad_stored, sizeof(bad_stored)) == 0);
}

/* Flipped bits anywhere: the scan must refuse or accept without reading
 * past the buffer (ASan), and what it accepts must still be a stream zlib
 * can walk to the same end. */
TEST(flipped_bits_never_misread)
{
	uint8_t *in = make(TEXT, 20000, 9);
	size_t n;
	uint8_t *s = ld_deflate(6, in, 20000, &n);
	uint32_t x = 99;
	size_t accepted = 0;
	for (int i = 0; i < 3000; i++) {
		x = x * 1103515245u + 12345u;
		size_t bit = (x >> 8) % (n * 8);
		uint8_t *t = malloc(n);
		memcpy(t, s, n);
		t[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		uint64_t last, end;
		if (i2k_deflate_scan(t, n, &last, &end) == 0) {
			accepted++;
			CHECK(end <= (uint64_t)n * 8 && last < end);
		}
		free(t);
	}
	/* most flips land in Huffman data and leave the structure intact */
	CHECK(accepted > 0);
	free(s);
	free(in);
}

int main(void)
{
	t_prog = "test_deflate_join";
	RUN(pieces_join_into_one_stream);
	RUN(a_piece_alone_is_not_final);
	RUN(scan_finds_the_last_block_of_every_block_type);
	RUN(cut_streams_are_refused);
	RUN(malformed_streams_are_refused);
	RUN(flipped_bits_never_misread);
	return TEST_DONE();
}
