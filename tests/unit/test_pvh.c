/* test_pvh.c — provision/pvh: the bzImage payload fields, the four payload
 * codecs (gzip, LZ4 legacy, zstd, xz; LZ4 blocks written by hand, the
 * others by their libraries), the ELF PVH note, and the cache: extracted
 * once, answered from the cache afterwards, a new entry for a changed
 * kernel, a remembered "no" for a kernel without the note, and nothing
 * left behind that looks like an ELF for a truncated or corrupt bzImage.
 * Every image here is synthetic (built by the test); the real kernel's PVH
 * boot is tests/integration/13-run-qemu.sh's. */
#include <dirent.h>
#include <fcntl.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/pvh.h"
#include "tests/unit/test.h"

static char tmp[256];

static char *tpath(const char *name)
{
	return i2k_xasprintf("%s/%s", tmp, name);
}

/* ---- synthetic inputs ------------------------------------------------------ */

#define ENTRY 0x1000850u

/* An ELF64 x86-64 executable: one PT_LOAD of body_len bytes and a PT_NOTE
 * holding a GNU note and, when with_pvh, the Xen PHYS32_ENTRY note
 * (desc_len 4 or 8). Caller frees. */
static uint8_t *make_elf(bool with_pvh, unsigned desc_len, size_t body_len, size_t *len)
{
	size_t notes_off = 64 + 2 * 56, nlen = 0;
	uint8_t notes[128] = {0};
	/* GNU build-id-like note: namesz 4, descsz 4, type 3 */
	i2k_put_le32(notes, 4);
	i2k_put_le32(notes + 4, 4);
	i2k_put_le32(notes + 8, 3);
	memcpy(notes + 12, "GNU", 4);
	i2k_put_le32(notes + 16, 0xdeadbeef);
	nlen = 20;
	if (with_pvh) {
		i2k_put_le32(notes + nlen, 4);
		i2k_put_le32(notes + nlen + 4, desc_len);
		i2k_put_le32(notes + nlen + 8, 18);
		memcpy(notes + nlen + 12, "Xen", 4);
		if (desc_len == 8)
			i2k_put_le64(notes + nlen + 16, ENTRY);
		else
			i2k_put_le32(notes + nlen + 16, ENTRY);
		nlen += 16 + desc_len;
	}
	size_t body_off = notes_off + nlen;
	*len = body_off + body_len;
	uint8_t *e = i2k_xcalloc(1, *len);
	memcpy(e,
	       "\x7f"
	       "ELF",
	       4);
	e[4] = 2; /* ELFCLASS64 */
	e[5] = 1; /* little-endian */
	e[6] = 1;
	i2k_put_le16(e + 16, 2);  /* ET_EXEC */
	i2k_put_le16(e + 18, 62); /* EM_X86_64 */
	i2k_put_le32(e + 20, 1);
	i2k_put_le64(e + 24, 0x1000000);
	i2k_put_le64(e + 32, 64); /* e_phoff */
	i2k_put_le16(e + 52, 64);
	i2k_put_le16(e + 54, 56); /* e_phentsize */
	i2k_put_le16(e + 56, 2);  /* e_phnum */
	uint8_t *ph = e + 64;
	i2k_put_le32(ph, 1); /* PT_LOAD */
	i2k_put_le64(ph + 8, body_off);
	i2k_put_le64(ph + 24, 0x1000000);
	i2k_put_le64(ph + 32, body_len);
	i2k_put_le64(ph + 40, body_len);
	ph += 56;
	i2k_put_le32(ph, 4); /* PT_NOTE */
	i2k_put_le64(ph + 8, notes_off);
	i2k_put_le64(ph + 32, nlen);
	i2k_put_le64(ph + 40, nlen);
	memcpy(e + notes_off, notes, nlen);
	for (size_t i = 0; i < body_len; i++)
		e[body_off + i] = (uint8_t)("kernel text "[i % 12] ^ (i / 97));
	return e;
}

static void put_size(struct i2k_buf *b, size_t n)
{
	uint8_t s[4];
	i2k_put_le32(s, (uint32_t)n);
	i2k_buf_append(b, s, 4, NULL);
}

static uint8_t *gzip_of(const uint8_t *in, size_t n, size_t *len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	size_t cap = deflateBound(&z, (uLong)n);
	uint8_t *out = i2k_xmalloc(cap);
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END)
		abort();
	*len = z.total_out;
	deflateEnd(&z);
	return out;
}

static uint8_t *zstd_of(const uint8_t *in, size_t n, size_t *len)
{
	size_t cap = ZSTD_compressBound(n) + 4;
	uint8_t *out = i2k_xmalloc(cap);
	size_t r = ZSTD_compress(out, cap, in, n, 3);
	if (ZSTD_isError(r))
		abort();
	i2k_put_le32(out + r, (uint32_t)n);
	*len = r + 4;
	return out;
}

static uint8_t *xz_of(const uint8_t *in, size_t n, size_t *len)
{
	size_t cap = lzma_stream_buffer_bound(n) + 4, pos = 0;
	uint8_t *out = i2k_xmalloc(cap);
	if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, n, out, &pos, cap) != LZMA_OK)
		abort();
	i2k_put_le32(out + pos, (uint32_t)n);
	*len = pos + 4;
	return out;
}

/* LZ4 legacy frame by hand: every 64 bytes of input become one block of
 * two sequences — 8 literals + a match of 40 bytes at distance 3
 * (overlapping) when the input repeats that way, else literals only. The
 * blocks are independent. */
static uint8_t *lz4_of(const uint8_t *in, size_t n, size_t *len)
{
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "\x02\x21\x4c\x18", 4, NULL);
	for (size_t at = 0; at < n; at += 64) {
		size_t chunk = n - at < 64 ? n - at : 64;
		const uint8_t *c = in + at;
		bool rep = chunk == 64;
		for (size_t k = 8; rep && k < 48; k++)
			rep = c[k] == c[k - 3];
		uint8_t blk[128];
		size_t bl = 0;
		if (rep) {
			blk[bl++] = (uint8_t)(8 << 4 | 15); /* 8 literals, match 15+ */
			memcpy(blk + bl, c, 8);
			bl += 8;
			i2k_put_le16(blk + bl, 3);
			bl += 2;
			blk[bl++] = 40 - 4 - 15;	/* match length 40 */
			blk[bl++] = (uint8_t)(15 << 4); /* the last 16 as literals */
			blk[bl++] = 16 - 15;
			memcpy(blk + bl, c + 48, 16);
			bl += 16;
		} else {
			size_t lit = chunk;
			if (lit >= 15) {
				blk[bl++] = 15 << 4;
				blk[bl++] = (uint8_t)(lit - 15);
			} else {
				blk[bl++] = (uint8_t)(lit << 4);
			}
			memcpy(blk + bl, c, lit);
			bl += lit;
		}
		put_size(&b, bl);
		i2k_buf_append(&b, blk, bl, NULL);
	}
	put_size(&b, n);
	*len = b.len;
	return (uint8_t *)b.data;
}

/* A bzImage around payload: setup_sects 1 (code at 1024), the payload 100
 * bytes into the code, 32 bytes of padding after it. */
static uint8_t *make_bzimage(const uint8_t *payload, size_t plen, uint16_t protocol, size_t *len)
{
	size_t code = 2 * 512, poff = 100;
	*len = code + poff + plen + 32;
	uint8_t *k = i2k_xcalloc(1, *len);
	k[0x1F1] = 1;
	i2k_put_le16(k + 0x1FE, 0xAA55);
	memcpy(k + 0x202, "HdrS", 4);
	i2k_put_le16(k + 0x206, protocol);
	k[0x211] = 1; /* LOADED_HIGH */
	i2k_put_le32(k + 0x248, (uint32_t)poff);
	i2k_put_le32(k + 0x24C, (uint32_t)plen);
	i2k_put_le32(k + 0x260, 0x3000000);
	memcpy(k + code + poff, payload, plen);
	return k;
}

/* An ELF whose body repeats with period 3 in places (LZ4 matches). */
static uint8_t *sample_elf(bool pvh, size_t *len)
{
	uint8_t *e = make_elf(pvh, 8, 5000, len);
	for (size_t i = 400; i + 64 <= 2000; i++)
		e[i] = (uint8_t)("abc"[i % 3]);
	return e;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	if (i2k_write_file_atomic(path, p, n, 0644, NULL) < 0)
		abort();
}

/* Names in dir but the stat-* index files (sorted, ' '-separated; ""
 * when empty or missing). */
static char *listing(const char *dir)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "", 0, NULL);
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") != 0 && strcmp(ents[i]->d_name, "..") != 0 &&
		    !i2k_str_has_prefix(ents[i]->d_name, "stat-")) {
			if (b.len)
				i2k_buf_append(&b, " ", 1, NULL);
			i2k_buf_append(&b, ents[i]->d_name, strlen(ents[i]->d_name), NULL);
		}
		free(ents[i]);
	}
	free(ents);
	return b.data ? b.data : i2k_xstrdup("");
}

/* ---- the header -------------------------------------------------------------- */

TEST(payload_fields)
{
	size_t elen, glen, klen;
	_cleanup_free_ uint8_t *elf = sample_elf(true, &elen);
	_cleanup_free_ uint8_t *gz = gzip_of(elf, elen, &glen);
	_cleanup_free_ uint8_t *k = make_bzimage(gz, glen, 0x020F, &klen);
	struct i2k_pvh_payload p;
	OK(i2k_pvh_payload_find(k, klen, &p, &_e));
	CHECK_INT(p.offset, 1024 + 100);
	CHECK_INT(p.length, glen);
	CHECK_INT(p.codec, I2K_PVH_GZIP);
	CHECK_INT(p.init_size, 0x3000000);
	CHECK_STR(i2k_pvh_codec_name(p.codec), "gzip");
	/* protocol 2.07 has no payload fields */
	k[0x206] = 0x07;
	FAILS(i2k_pvh_payload_find(k, klen, &p, &_e), I2K_ERR_UNSUPPORTED,
	      "boot protocol 2.07 has no payload fields (2.08 or later needed)");
	k[0x206] = 0x0F;
	/* cut inside the payload: it lies outside the image */
	_cleanup_free_ char *want = i2k_xasprintf(
	    "payload (offset 1124, length %zu) lies outside the %zu-byte image", glen, klen - 40);
	FAILS(i2k_pvh_payload_find(k, klen - 40, &p, &_e), I2K_ERR_INTEGRITY, want);
	i2k_put_le32(k + 0x24C, 0);
	FAILS(i2k_pvh_payload_find(k, klen, &p, &_e), I2K_ERR_UNSUPPORTED,
	      "no payload (payload_length is 0)");
	/* not a bzImage at all */
	uint8_t junk[0x300] = {0};
	FAILS(i2k_pvh_payload_find(junk, sizeof(junk), &p, &_e), I2K_ERR_CONFIG,
	      "not a bzImage: no \"HdrS\" magic at offset 0x202");
	/* the codec comes from the payload's magic */
	static const struct {
		const char *magic;
		enum i2k_pvh_codec c;
	} magics[] = {{"\x02\x21\x4c\x18", I2K_PVH_LZ4},
		      {"\x28\xb5\x2f\xfd", I2K_PVH_ZSTD},
		      {"\xfd"
		       "7zXZ",
		       I2K_PVH_XZ},
		      {"BZh9", I2K_PVH_BZIP2},
		      {"\x5d\x00\x00\x80", I2K_PVH_LZMA},
		      {"\x89LZO", I2K_PVH_LZO},
		      {"ELF!", I2K_PVH_UNKNOWN}};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(magics); i++) {
		uint8_t pl[16] = {0};
		memcpy(pl, magics[i].magic,
		       strlen(magics[i].magic) < 4 ? 4 : strlen(magics[i].magic));
		size_t l2;
		_cleanup_free_ uint8_t *k2 = make_bzimage(pl, sizeof(pl), 0x020F, &l2);
		OK(i2k_pvh_payload_find(k2, l2, &p, &_e));
		CHECK_INT(p.codec, magics[i].c);
	}
}

/* ---- the codecs ----------------------------------------------------------------- */

static void roundtrip(enum i2k_pvh_codec c, const uint8_t *comp, size_t clen, const uint8_t *orig,
		      size_t olen)
{
	_cleanup_free_ uint8_t *out = NULL;
	size_t outlen = 0;
	OK(i2k_pvh_decompress(c, comp, clen, 1 << 20, &out, &outlen, &_e));
	CHECK_INT(outlen, olen);
	CHECK(out && memcmp(out, orig, olen) == 0);
}

TEST(codecs_roundtrip)
{
	size_t elen, len;
	_cleanup_free_ uint8_t *elf = sample_elf(true, &elen);
	_cleanup_free_ uint8_t *gz = gzip_of(elf, elen, &len);
	roundtrip(I2K_PVH_GZIP, gz, len, elf, elen);
	_cleanup_free_ uint8_t *zs = zstd_of(elf, elen, &len);
	roundtrip(I2K_PVH_ZSTD, zs, len, elf, elen);
	_cleanup_free_ uint8_t *xz = xz_of(elf, elen, &len);
	roundtrip(I2K_PVH_XZ, xz, len, elf, elen);
	_cleanup_free_ uint8_t *l4 = lz4_of(elf, elen, &len);
	roundtrip(I2K_PVH_LZ4, l4, len, elf, elen);
	/* the LZ4 writer above really used matches */
	CHECK(len < elen);
}

TEST(codecs_reject_damage)
{
	size_t elen, len;
	_cleanup_free_ uint8_t *elf = sample_elf(true, &elen);
	uint8_t *out = NULL;
	size_t outlen = 0;
	/* truncated: every codec notices */
	_cleanup_free_ uint8_t *gz = gzip_of(elf, elen, &len);
	memmove(gz + len / 2, gz + len - 4, 4); /* keep the size trailer */
	FAILS(i2k_pvh_decompress(I2K_PVH_GZIP, gz, len / 2 + 4, 1 << 20, &out, &outlen, &_e),
	      I2K_ERR_INTEGRITY, "gzip payload: truncated or larger than stated");
	_cleanup_free_ uint8_t *zs = zstd_of(elf, elen, &len);
	memmove(zs + len / 2, zs + len - 4, 4); /* keep the size trailer */
	{
		struct i2k_error *e = NULL;
		CHECK(i2k_pvh_decompress(I2K_PVH_ZSTD, zs, len / 2 + 4, 1 << 20, &out, &outlen,
					 &e) < 0);
		CHECK(e && e->code == I2K_ERR_INTEGRITY && strstr(e->msg, "zstd payload: "));
		i2k_error_free(e);
	}
	_cleanup_free_ uint8_t *xz = xz_of(elf, elen, &len);
	memmove(xz + len / 2, xz + len - 4, 4);
	FAILS(i2k_pvh_decompress(I2K_PVH_XZ, xz, len / 2 + 4, 1 << 20, &out, &outlen, &_e),
	      I2K_ERR_INTEGRITY, "xz payload: truncated or larger than stated");
	_cleanup_free_ uint8_t *l4 = lz4_of(elf, elen, &len);
	/* drop the last block's tail but keep the trailer: a block runs past the end */
	memmove(l4 + len - 14, l4 + len - 4, 4);
	FAILS(i2k_pvh_decompress(I2K_PVH_LZ4, l4, len - 10, 1 << 20, &out, &outlen, &_e),
	      I2K_ERR_INTEGRITY, "lz4 payload: block of 38 bytes at 4846 runs past the end");
	CHECK(out == NULL);
}

TEST(lz4_corrupt_blocks)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	/* a match 5 bytes back after only 2 bytes of output */
	static const uint8_t back[] = {0x02, 0x21, 0x4c, 0x18, 5, 0, 0, 0, 0x20,
				       'a',  'b',  5,	 0,    8, 0, 0, 0};
	FAILS(i2k_pvh_decompress(I2K_PVH_LZ4, back, sizeof(back), 1 << 20, &out, &outlen, &_e),
	      I2K_ERR_INTEGRITY, "lz4 payload: corrupt block at 4");
	/* 12 literals announced, 2 present */
	static const uint8_t lit[] = {0x02, 0x21, 0x4c, 0x18, 3, 0, 0, 0,
				      0xc0, 'a',  'b',	12,   0, 0, 0};
	FAILS(i2k_pvh_decompress(I2K_PVH_LZ4, lit, sizeof(lit), 1 << 20, &out, &outlen, &_e),
	      I2K_ERR_INTEGRITY, "lz4 payload: corrupt block at 4");
	/* fine data, wrong stated size */
	static const uint8_t sz[] = {0x02, 0x21, 0x4c, 0x18, 3, 0, 0, 0,
				     0x20, 'a',	 'b',  9,    0, 0, 0};
	FAILS(i2k_pvh_decompress(I2K_PVH_LZ4, sz, sizeof(sz), 1 << 20, &out, &outlen, &_e),
	      I2K_ERR_INTEGRITY, "lz4 payload: 2 bytes decompressed, 9 stated");
	/* more output than stated: the buffer ends first */
	static const uint8_t big[] = {0x02, 0x21, 0x4c, 0x18, 3, 0, 0, 0,
				      0x20, 'a',  'b',	1,    0, 0, 0};
	FAILS(i2k_pvh_decompress(I2K_PVH_LZ4, big, sizeof(big), 1 << 20, &out, &outlen, &_e),
	      I2K_ERR_INTEGRITY, "lz4 payload: corrupt block at 4");
	/* over the caller's maximum */
	FAILS(i2k_pvh_decompress(I2K_PVH_LZ4, sz, sizeof(sz), 8, &out, &outlen, &_e),
	      I2K_ERR_INTEGRITY, "lz4 payload: stated size 9 is 0 or over 8");
	FAILS(i2k_pvh_decompress(I2K_PVH_BZIP2, sz, sizeof(sz), 1 << 20, &out, &outlen, &_e),
	      I2K_ERR_UNSUPPORTED, "bzip2 payload: not supported");
	CHECK(out == NULL);
}

/* ---- the ELF note -------------------------------------------------------------- */

TEST(elf_note)
{
	size_t len;
	uint64_t entry = 0;
	_cleanup_free_ uint8_t *e8 = make_elf(true, 8, 100, &len);
	OK(i2k_pvh_elf_check(e8, len, &entry, &_e));
	CHECK_INT(entry, ENTRY);
	_cleanup_free_ uint8_t *e4 = make_elf(true, 4, 100, &len);
	entry = 0;
	OK(i2k_pvh_elf_check(e4, len, &entry, &_e));
	CHECK_INT(entry, ENTRY);
	_cleanup_free_ uint8_t *no = make_elf(false, 8, 100, &len);
	FAILS(i2k_pvh_elf_check(no, len, &entry, &_e), I2K_ERR_UNSUPPORTED,
	      "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	/* the Xen note's type under another owner does not count */
	_cleanup_free_ uint8_t *own = make_elf(true, 8, 100, &len);
	memcpy(own + 64 + 2 * 56 + 20 + 12, "Xyz", 4);
	FAILS(i2k_pvh_elf_check(own, len, &entry, &_e), I2K_ERR_UNSUPPORTED,
	      "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	/* a truncated file: the PT_LOAD runs past its end */
	_cleanup_free_ uint8_t *cut = make_elf(true, 8, 100, &len);
	FAILS(i2k_pvh_elf_check(cut, len - 1, &entry, &_e), I2K_ERR_INTEGRITY,
	      "ELF segment 0 (100 bytes at 220) outside the 319-byte file");
	FAILS(i2k_pvh_elf_check(cut, 100, &entry, &_e), I2K_ERR_INTEGRITY,
	      "ELF program headers (2 at 64) outside the file");
	FAILS(i2k_pvh_elf_check("MZ", 2, &entry, &_e), I2K_ERR_INTEGRITY, "not an ELF file");
	cut[18] = 40; /* EM_ARM */
	FAILS(i2k_pvh_elf_check(cut, len, &entry, &_e), I2K_ERR_INTEGRITY,
	      "ELF for machine 40, not x86");
}

/* ---- the cache ------------------------------------------------------------------ */

static uint8_t *bz_of(bool pvh, enum i2k_pvh_codec c, size_t *klen, uint8_t **elf, size_t *elen)
{
	*elf = sample_elf(pvh, elen);
	size_t plen = 0;
	_cleanup_free_ uint8_t *pl = c == I2K_PVH_LZ4	 ? lz4_of(*elf, *elen, &plen)
				     : c == I2K_PVH_ZSTD ? zstd_of(*elf, *elen, &plen)
							 : gzip_of(*elf, *elen, &plen);
	return make_bzimage(pl, plen, 0x020F, klen);
}

TEST(cache_extracts_once)
{
	_cleanup_free_ char *cache = tpath("c1");
	_cleanup_free_ char *kpath = tpath("vmlinuz-a");
	size_t klen, elen;
	_cleanup_free_ uint8_t *elf = NULL;
	_cleanup_free_ uint8_t *k = bz_of(true, I2K_PVH_LZ4, &klen, &elf, &elen);
	write_bytes(kpath, k, klen);
	_cleanup_free_ char *p1 = NULL;
	bool hit = true;
	OK(i2k_pvh_kernel(kpath, cache, &p1, &hit, &_e));
	CHECK(!hit);
	CHECK(p1 && i2k_str_has_prefix(p1, cache) && i2k_str_has_suffix(p1, ".elf"));
	_cleanup_free_ char *got = NULL;
	size_t glen = 0;
	OK(i2k_read_file(p1, 1 << 20, &got, &glen, &_e));
	CHECK_INT(glen, elen);
	CHECK(got && memcmp(got, elf, elen) == 0);
	uint64_t entry = 0;
	OK(i2k_pvh_elf_check_file(p1, &entry, &_e));
	CHECK_INT(entry, ENTRY);
	/* again: from the cache */
	_cleanup_free_ char *p2 = NULL;
	OK(i2k_pvh_kernel(kpath, cache, &p2, &hit, &_e));
	CHECK(hit);
	CHECK_STR(p2, p1);
	/* the kernel file changes (zstd payload now, other content): a new entry */
	size_t klen2, elen2;
	_cleanup_free_ uint8_t *elf2 = NULL;
	_cleanup_free_ uint8_t *k2 = bz_of(true, I2K_PVH_ZSTD, &klen2, &elf2, &elen2);
	k2[klen2 - 1] = 'x'; /* padding differs: another file, the same ELF */
	write_bytes(kpath, k2, klen2);
	_cleanup_free_ char *p3 = NULL;
	OK(i2k_pvh_kernel(kpath, cache, &p3, &hit, &_e));
	CHECK(!hit);
	CHECK(p3 && strcmp(p3, p1) != 0);
	/* a damaged cached ELF is not used: it is extracted again */
	CHECK(truncate(p3, 200) == 0);
	_cleanup_free_ char *p4 = NULL;
	OK(i2k_pvh_kernel(kpath, cache, &p4, &hit, &_e));
	CHECK(!hit);
	CHECK_STR(p4, p3);
	OK(i2k_pvh_elf_check_file(p4, NULL, &_e));
	/* the same kernel file changed in place, size and mtime kept: its
	 * ctime tells, so the content is read and hashed again */
	struct stat before;
	CHECK(stat(kpath, &before) == 0);
	_cleanup_free_ uint8_t *elf3 = NULL;
	size_t klen3, elen3;
	_cleanup_free_ uint8_t *k3 = bz_of(true, I2K_PVH_ZSTD, &klen3, &elf3, &elen3);
	CHECK_INT(klen3, klen2);
	k3[klen3 - 1] = 'y';
	FILE *f = fopen(kpath, "r+");
	CHECK(f && fwrite(k3, 1, klen3, f) == klen3);
	if (f)
		fclose(f);
	struct timespec ts[2] = {before.st_atim, before.st_mtim};
	CHECK(utimensat(AT_FDCWD, kpath, ts, 0) == 0);
	_cleanup_free_ char *p5 = NULL;
	OK(i2k_pvh_kernel(kpath, cache, &p5, &hit, &_e));
	CHECK(!hit);
	CHECK(p5 && strcmp(p5, p3) != 0);
	_cleanup_free_ char *p6 = NULL;
	OK(i2k_pvh_kernel(kpath, cache, &p6, &hit, &_e));
	CHECK(hit);
	CHECK_STR(p6, p5);
	_cleanup_free_ char *dir = i2k_xasprintf("%s/pvh", cache);
	_cleanup_free_ char *ls = listing(dir);
	CHECK_INT(strlen(ls), 3 * (64 + 4) + 2); /* three ELFs, no stray file */
}

TEST(cache_no_note_is_remembered)
{
	_cleanup_free_ char *cache = tpath("c2");
	_cleanup_free_ char *kpath = tpath("vmlinuz-b");
	size_t klen, elen;
	_cleanup_free_ uint8_t *elf = NULL;
	_cleanup_free_ uint8_t *k = bz_of(false, I2K_PVH_GZIP, &klen, &elf, &elen);
	write_bytes(kpath, k, klen);
	char *p = NULL;
	bool hit = true;
	FAILS(i2k_pvh_kernel(kpath, cache, &p, &hit, &_e), I2K_ERR_UNSUPPORTED,
	      "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	CHECK(p == NULL && !hit);
	FAILS(i2k_pvh_kernel(kpath, cache, &p, &hit, &_e), I2K_ERR_UNSUPPORTED,
	      "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	CHECK(p == NULL && hit);
	_cleanup_free_ char *dir = i2k_xasprintf("%s/pvh", cache);
	_cleanup_free_ char *ls = listing(dir);
	CHECK(i2k_str_has_suffix(ls, ".no") && strchr(ls, ' ') == NULL);
}

TEST(cache_truncated_or_corrupt_kernel_leaves_no_elf)
{
	size_t klen, elen;
	_cleanup_free_ uint8_t *elf = NULL;
	_cleanup_free_ uint8_t *k = bz_of(true, I2K_PVH_LZ4, &klen, &elf, &elen);
	char *p = NULL;
	bool hit = true;
	/* truncated in the payload */
	_cleanup_free_ char *c3 = tpath("c3");
	_cleanup_free_ char *kt = tpath("vmlinuz-cut");
	write_bytes(kt, k, klen - 100);
	_cleanup_free_ char *want =
	    i2k_xasprintf("payload (offset 1124, length %zu) lies outside the %zu-byte image",
			  klen - 1124 - 32, klen - 100);
	FAILS(i2k_pvh_kernel(kt, c3, &p, &hit, &_e), I2K_ERR_INTEGRITY, want);
	CHECK(p == NULL);
	/* corrupt inside the payload (a block's length) */
	_cleanup_free_ char *c4 = tpath("c4");
	_cleanup_free_ char *kc = tpath("vmlinuz-bad");
	i2k_put_le32(k + 1124 + 4, 0x7fffffff);
	write_bytes(kc, k, klen);
	FAILS(i2k_pvh_kernel(kc, c4, &p, &hit, &_e), I2K_ERR_INTEGRITY,
	      "lz4 payload: block of 2147483647 bytes at 4 runs past the end");
	CHECK(p == NULL);
	/* neither left anything that a later run could take for an ELF */
	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *dir = i2k_xasprintf("%s/pvh", i ? c4 : c3);
		_cleanup_free_ char *ls = listing(dir);
		CHECK(strstr(ls, ".elf") == NULL && strstr(ls, "tmp") == NULL);
	}
	/* a missing kernel: an error, nothing cached */
	_cleanup_free_ char *c5 = tpath("c5");
	_cleanup_free_ char *missing = tpath("nope");
	struct i2k_error *e = NULL;
	CHECK(i2k_pvh_kernel(missing, c5, &p, &hit, &e) < 0);
	CHECK(e && strstr(e->msg, "No such file"));
	i2k_error_free(e);
	CHECK(access(c5, F_OK) != 0);
}

int main(void)
{
	t_prog = "test_pvh";
	snprintf(tmp, sizeof(tmp), "%s/i2k-test-pvh.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		abort();
	RUN(payload_fields);
	RUN(codecs_roundtrip);
	RUN(codecs_reject_damage);
	RUN(lz4_corrupt_blocks);
	RUN(elf_note);
	RUN(cache_extracts_once);
	RUN(cache_no_note_is_remembered);
	RUN(cache_truncated_or_corrupt_kernel_leaves_no_elf);
	i2k_rm_rf(tmp, NULL);
	return TEST_DONE();
}
