/* pvh.c — a bzImage's vmlinux for QEMU's PVH boot (contract in pvh.h). */
#include "provision/pvh.h"

#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "kernel/kernel.h"

#define OFF_PAYLOAD_OFFSET 0x248
#define OFF_PAYLOAD_LENGTH 0x24C
#define OFF_INIT_SIZE 0x260
#define HEADER_NEEDS 0x264

#define LZ4_LEGACY_MAGIC 0x184C2102u
#define LZ4_LEGACY_BLOCK (8u << 20) /* largest uncompressed block */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define PT_LOAD 1
#define PT_NOTE 4
#define EM_386 3
#define EM_X86_64 62
#define PHNUM_MAX 256
#define NOTES_MAX (1u << 20) /* bytes of one PT_NOTE segment read */

const char *i2k_pvh_codec_name(enum i2k_pvh_codec c)
{
	static const char *const names[] = {
	    [I2K_PVH_GZIP] = "gzip", [I2K_PVH_LZ4] = "lz4",	   [I2K_PVH_ZSTD] = "zstd",
	    [I2K_PVH_XZ] = "xz",     [I2K_PVH_BZIP2] = "bzip2",	   [I2K_PVH_LZMA] = "lzma",
	    [I2K_PVH_LZO] = "lzo",   [I2K_PVH_UNKNOWN] = "unknown"};
	return (unsigned)c < I2K_ARRAY_SIZE(names) ? names[c] : "unknown";
}

static enum i2k_pvh_codec codec_of(const uint8_t *p, size_t len)
{
	static const struct {
		const char *magic;
		size_t len;
		enum i2k_pvh_codec c;
	} t[] = {
	    {"\x1f\x8b", 2, I2K_PVH_GZIP},
	    {"\x02\x21\x4c\x18", 4, I2K_PVH_LZ4},
	    {"\x28\xb5\x2f\xfd", 4, I2K_PVH_ZSTD},
	    {"\xfd"
	     "7zXZ\x00",
	     6, I2K_PVH_XZ},
	    {"BZh", 3, I2K_PVH_BZIP2},
	    {"\x5d\x00\x00", 3, I2K_PVH_LZMA},
	    {"\x89LZO", 4, I2K_PVH_LZO},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(t); i++)
		if (len >= t[i].len && memcmp(p, t[i].magic, t[i].len) == 0)
			return t[i].c;
	return I2K_PVH_UNKNOWN;
}

int i2k_pvh_payload_find(const void *buf, size_t len, struct i2k_pvh_payload *out,
			 struct i2k_error **err)
{
	const uint8_t *p = buf;
	memset(out, 0, sizeof(*out));
	struct i2k_kernel_info info;
	if (i2k_kernel_info_buf(buf, len, &info, err) < 0)
		return -1;
	if (info.protocol < 0x0208 || len < HEADER_NEEDS)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "boot protocol %u.%02u has no payload fields (2.08 or later "
				     "needed)",
				     info.protocol >> 8, info.protocol & 0xff);
	uint64_t start = ((uint64_t)info.setup_sects + 1) * 512;
	uint64_t off = start + i2k_get_le32(p + OFF_PAYLOAD_OFFSET);
	uint64_t plen = i2k_get_le32(p + OFF_PAYLOAD_LENGTH);
	out->init_size = i2k_get_le32(p + OFF_INIT_SIZE);
	if (plen == 0)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "no payload (payload_length is 0)");
	if (off > len || plen > len - off)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "payload (offset %llu, length %llu) lies outside the %zu-byte "
				     "image",
				     (unsigned long long)off, (unsigned long long)plen, len);
	out->offset = (size_t)off;
	out->length = (size_t)plen;
	out->codec = codec_of(p + off, (size_t)plen);
	return 0;
}

/* ---- decompressors ----------------------------------------------------------- */

/* One LZ4 block (the block format: sequences of token, literals, 16-bit
 * offset, match) from in[0..n) to out[*o..cap); matches may reach back to
 * out[0]. */
static int lz4_block(const uint8_t *in, size_t n, uint8_t *out, size_t *o, size_t cap)
{
	size_t i = 0, w = *o;
	while (i < n) {
		unsigned token = in[i++];
		size_t lit = token >> 4;
		if (lit == 15) {
			unsigned b;
			do {
				if (i >= n)
					return -1;
				b = in[i++];
				lit += b;
			} while (b == 255);
		}
		if (lit > n - i || lit > cap - w)
			return -1;
		memcpy(out + w, in + i, lit);
		i += lit;
		w += lit;
		if (i == n)
			break; /* the last sequence has literals only */
		if (n - i < 2)
			return -1;
		size_t dist = i2k_get_le16(in + i);
		i += 2;
		if (dist == 0 || dist > w)
			return -1;
		size_t mlen = token & 15;
		if (mlen == 15) {
			unsigned b;
			do {
				if (i >= n)
					return -1;
				b = in[i++];
				mlen += b;
			} while (b == 255);
		}
		mlen += 4;
		if (mlen > cap - w)
			return -1;
		uint8_t *d = out + w;
		const uint8_t *s = d - dist;
		if (dist >= mlen) {
			memcpy(d, s, mlen);
		} else {
			for (size_t k = 0; k < mlen; k++)
				d[k] = s[k];
		}
		w += mlen;
	}
	*o = w;
	return 0;
}

/* The legacy frame in[0..n): magic, then (LE32 size, block) until the
 * data ends; a repeated magic starts another concatenated frame. */
static int lz4_legacy(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen,
		      struct i2k_error **err)
{
	size_t i = 4, w = 0;
	while (i < n) {
		if (n - i < 4)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "lz4 payload: truncated block header");
		uint32_t sz = i2k_get_le32(in + i);
		i += 4;
		if (sz == LZ4_LEGACY_MAGIC)
			continue;
		if (sz > n - i)
			return i2k_error_set(
			    err, I2K_ERR_INTEGRITY,
			    "lz4 payload: block of %u bytes at %zu runs past the end", sz, i - 4);
		size_t before = w;
		if (lz4_block(in + i, sz, out, &w, cap) < 0 || w - before > LZ4_LEGACY_BLOCK)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "lz4 payload: corrupt block at %zu", i - 4);
		i += sz;
	}
	*outlen = w;
	return 0;
}

static int gunzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen,
		  struct i2k_error **err)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "gzip payload: inflateInit2 failed");
	int rc = Z_OK;
	size_t done_in = 0, done_out = 0;
	while (rc == Z_OK) {
		size_t ci = n - done_in, co = cap - done_out;
		z.next_in = (Bytef *)(uintptr_t)(in + done_in);
		z.avail_in = ci > (1u << 30) ? (1u << 30) : (uInt)ci;
		z.next_out = out + done_out;
		z.avail_out = co > (1u << 30) ? (1u << 30) : (uInt)co;
		uInt ai = z.avail_in, ao = z.avail_out;
		rc = inflate(&z, Z_NO_FLUSH);
		done_in += ai - z.avail_in;
		done_out += ao - z.avail_out;
		if (rc == Z_OK && ai == z.avail_in && ao == z.avail_out)
			rc = Z_BUF_ERROR; /* no progress: truncated or too big */
	}
	inflateEnd(&z);
	if (rc != Z_STREAM_END)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "gzip payload: %s",
				     rc == Z_BUF_ERROR ? "truncated or larger than stated"
						       : "corrupt deflate data");
	*outlen = done_out;
	return 0;
}

static int unzstd(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen,
		  struct i2k_error **err)
{
	ZSTD_DCtx *z = ZSTD_createDCtx();
	if (z == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "zstd payload: no context");
	size_t r = ZSTD_decompressDCtx(z, out, cap, in, n);
	ZSTD_freeDCtx(z);
	if (ZSTD_isError(r))
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "zstd payload: %s",
				     ZSTD_getErrorName(r));
	*outlen = r;
	return 0;
}

static int unxz(const uint8_t *in, size_t n, uint8_t *out, size_t cap, size_t *outlen,
		struct i2k_error **err)
{
	uint64_t memlimit = 256u << 20;
	size_t ip = 0, op = 0;
	lzma_ret r = lzma_stream_buffer_decode(&memlimit, 0, NULL, in, &ip, n, out, &op, cap);
	if (r != LZMA_OK)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "xz payload: %s",
				     r == LZMA_DATA_ERROR  ? "corrupt data"
				     : r == LZMA_BUF_ERROR ? "truncated or larger than stated"
							   : "cannot decode");
	*outlen = op;
	return 0;
}

int i2k_pvh_decompress(enum i2k_pvh_codec c, const void *in_, size_t inlen, size_t max,
		       uint8_t **out, size_t *outlen, struct i2k_error **err)
{
	const uint8_t *in = in_;
	*out = NULL;
	*outlen = 0;
	if (c != I2K_PVH_GZIP && c != I2K_PVH_LZ4 && c != I2K_PVH_ZSTD && c != I2K_PVH_XZ)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s payload: not supported",
				     i2k_pvh_codec_name(c));
	if (inlen < 8)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s payload: only %zu bytes",
				     i2k_pvh_codec_name(c), inlen);
	/* gzip's trailer holds the size (mod 2^32); the others have it appended */
	size_t stated = i2k_get_le32(in + inlen - 4);
	size_t data = c == I2K_PVH_GZIP ? inlen : inlen - 4;
	if (stated == 0 || stated > max)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "%s payload: stated size %zu is 0 or over %zu",
				     i2k_pvh_codec_name(c), stated, max);
	_cleanup_free_ uint8_t *buf = malloc(stated);
	if (buf == NULL)
		return i2k_error_errno(err, ENOMEM, I2K_ERR_IO, "%s payload: %zu bytes",
				       i2k_pvh_codec_name(c), stated);
	size_t got = 0;
	int rc;
	switch (c) {
	case I2K_PVH_GZIP:
		rc = gunzip(in, data, buf, stated, &got, err);
		break;
	case I2K_PVH_LZ4:
		rc = lz4_legacy(in, data, buf, stated, &got, err);
		break;
	case I2K_PVH_ZSTD:
		rc = unzstd(in, data, buf, stated, &got, err);
		break;
	default:
		rc = unxz(in, data, buf, stated, &got, err);
		break;
	}
	if (rc < 0)
		return -1;
	if (got != stated)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "%s payload: %zu bytes decompressed, %zu stated",
				     i2k_pvh_codec_name(c), got, stated);
	*out = I2K_STEAL(buf);
	*outlen = got;
	return 0;
}

/* ---- the ELF and its note --------------------------------------------------- */

/* Reads len bytes at off of the ELF (a buffer or a file). */
struct elf_src {
	const uint8_t *buf; /* or */
	int fd;
	uint64_t size;
};

static int src_read(const struct elf_src *s, uint64_t off, void *dst, size_t len,
		    struct i2k_error **err)
{
	if (off > s->size || len > s->size - off)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "not a complete ELF: %zu bytes at %llu lie outside the file",
				     len, (unsigned long long)off);
	if (s->buf) {
		memcpy(dst, s->buf + off, len);
		return 0;
	}
	return i2k_pread_all(s->fd, dst, len, (off_t)off, err);
}

static bool range_ok(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Walks the notes in n[0..len); *found when the PVH entry note is there. */
static void scan_notes(const uint8_t *n, size_t len, bool *found, uint64_t *entry)
{
	size_t i = 0;
	while (len - i >= 12) {
		uint32_t namesz = i2k_get_le32(n + i), descsz = i2k_get_le32(n + i + 4);
		uint32_t type = i2k_get_le32(n + i + 8);
		i += 12;
		size_t nameal = ((size_t)namesz + 3) & ~(size_t)3;
		size_t descal = ((size_t)descsz + 3) & ~(size_t)3;
		if (nameal > len - i || descal > len - i - nameal)
			return;
		const uint8_t *name = n + i, *desc = n + i + nameal;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(name, "Xen", 4) == 0 && (descsz == 4 || descsz == 8)) {
			*found = true;
			*entry = descsz == 4 ? i2k_get_le32(desc) : i2k_get_le64(desc);
			return;
		}
		i += nameal + descal;
	}
}

static int elf_check(const struct elf_src *s, uint64_t *entry, struct i2k_error **err)
{
	uint8_t eh[64];
	if (s->size < 52 || src_read(s, 0, eh, s->size < 64 ? 52 : 64, NULL) < 0 ||
	    memcmp(eh,
		   "\x7f"
		   "ELF",
		   4) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "not an ELF file");
	bool is64 = eh[4] == 2;
	if ((eh[4] != 1 && eh[4] != 2) || eh[5] != 1 || (is64 && s->size < 64))
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "not a little-endian ELF32/ELF64 file");
	uint16_t machine = i2k_get_le16(eh + 18);
	if (machine != EM_X86_64 && machine != EM_386)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "ELF for machine %u, not x86",
				     machine);
	uint64_t phoff = is64 ? i2k_get_le64(eh + 32) : i2k_get_le32(eh + 28);
	uint16_t phentsize = i2k_get_le16(eh + (is64 ? 54 : 42));
	uint16_t phnum = i2k_get_le16(eh + (is64 ? 56 : 44));
	size_t want = is64 ? 56 : 32;
	if (phnum == 0 || phnum > PHNUM_MAX || phentsize < want ||
	    !range_ok(phoff, (uint64_t)phentsize * phnum, s->size))
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "ELF program headers (%u at %llu) outside the file", phnum,
				     (unsigned long long)phoff);
	_cleanup_free_ uint8_t *ph = i2k_xmalloc((size_t)phentsize * phnum);
	if (src_read(s, phoff, ph, (size_t)phentsize * phnum, err) < 0)
		return -1;
	bool found = false;
	uint64_t at = 0;
	for (unsigned k = 0; k < phnum; k++) {
		const uint8_t *h = ph + (size_t)k * phentsize;
		uint32_t type = i2k_get_le32(h);
		uint64_t off = is64 ? i2k_get_le64(h + 8) : i2k_get_le32(h + 4);
		uint64_t filesz = is64 ? i2k_get_le64(h + 32) : i2k_get_le32(h + 16);
		if ((type == PT_LOAD || type == PT_NOTE) && !range_ok(off, filesz, s->size))
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "ELF segment %u (%llu bytes at %llu) outside the "
					     "%llu-byte file",
					     k, (unsigned long long)filesz, (unsigned long long)off,
					     (unsigned long long)s->size);
		if (type != PT_NOTE || found || filesz == 0)
			continue;
		size_t nlen = filesz > NOTES_MAX ? NOTES_MAX : (size_t)filesz;
		_cleanup_free_ uint8_t *notes = i2k_xmalloc(nlen);
		if (src_read(s, off, notes, nlen, err) < 0)
			return -1;
		scan_notes(notes, nlen, &found, &at);
	}
	if (!found)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	if (entry)
		*entry = at;
	return 0;
}

int i2k_pvh_elf_check(const void *elf, size_t len, uint64_t *entry, struct i2k_error **err)
{
	struct elf_src s = {.buf = elf, .fd = -1, .size = len};
	return elf_check(&s, entry, err);
}

int i2k_pvh_elf_check_file(const char *path, uint64_t *entry, struct i2k_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", path);
	struct elf_src s = {.buf = NULL, .fd = fd, .size = (uint64_t)st.st_size};
	if (elf_check(&s, entry, err) < 0)
		return i2k_error_wrap(err, "%s", path);
	return 0;
}

/* ---- the cache ------------------------------------------------------------------ */

/* Extracts the ELF of the bzImage in buf (I2K_ERR_IO only for resource
 * failures: every other error is a property of the content). */
static int extract(const uint8_t *buf, size_t len, uint8_t **elf, size_t *elflen,
		   struct i2k_error **err)
{
	struct i2k_pvh_payload pl;
	if (i2k_pvh_payload_find(buf, len, &pl, err) < 0)
		return -1;
	if (i2k_pvh_decompress(pl.codec, buf + pl.offset, pl.length, I2K_PVH_ELF_MAX, elf, elflen,
			       err) < 0)
		return -1;
	if (i2k_pvh_elf_check(*elf, *elflen, NULL, err) < 0) {
		free(*elf);
		*elf = NULL;
		return -1;
	}
	return 0;
}

/* What the cache holds for the content digest hex: 1 with *elf_path (a
 * sound ELF), 2 with the remembered reason in err (a "no"), 0 nothing
 * usable (a damaged ELF is removed). */
static int lookup(const char *dir, const char *hex, char **elf_path, struct i2k_error **err)
{
	_cleanup_free_ char *path = i2k_xasprintf("%s/%s.elf", dir, hex);
	struct stat st;
	if (stat(path, &st) == 0) {
		if (i2k_pvh_elf_check_file(path, NULL, NULL) == 0) {
			*elf_path = I2K_STEAL(path);
			return 1;
		}
		unlink(path); /* damaged: extract again */
	}
	_cleanup_free_ char *nopath = i2k_xasprintf("%s/%s.no", dir, hex);
	_cleanup_free_ char *why = NULL;
	size_t wlen = 0;
	if (i2k_read_file(nopath, 4096, &why, &wlen, NULL) == 0) {
		why[strcspn(why, "\n")] = '\0';
		i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s", why);
		return 2;
	}
	return 0;
}

/* DIR/stat-<sha256 of the file's identity>: device, inode, size, mtime and
 * ctime, so any write to the kernel file or its replacement makes another
 * name. Holds the content digest (64 hex digits) of what was read. */
static char *stat_index(const char *dir, const struct stat *st)
{
	char key[256], d[I2K_DIGEST_LEN + 1];
	snprintf(key, sizeof(key),
		 "i2kit-pvh-1 dev=%llx ino=%llu size=%lld mtime=%lld.%09ld ctime=%lld.%09ld",
		 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		 (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
	i2k_sha256_digest(key, strlen(key), d);
	return i2k_xasprintf("%s/stat-%s", dir, d + 7);
}

static bool is_hex64(const char *s, size_t len)
{
	if (len < 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return len == 64 || s[64] == '\n';
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

int i2k_pvh_kernel(const char *kernel, const char *cache_dir, char **elf_path, bool *hit,
		   struct i2k_error **err)
{
	*elf_path = NULL;
	if (hit)
		*hit = false;
	_cleanup_free_ char *dir = i2k_xasprintf("%s/pvh", cache_dir);
	_cleanup_close_ int fd = open(kernel, O_RDONLY | O_CLOEXEC);
	struct stat st, st2;
	if (fd < 0 || fstat(fd, &st) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", kernel);
	/* the fast path: this very file was looked at before */
	_cleanup_free_ char *idx = stat_index(dir, &st);
	_cleanup_free_ char *known = NULL;
	size_t klen = 0;
	if (i2k_read_file(idx, 128, &known, &klen, NULL) == 0 && is_hex64(known, klen)) {
		known[64] = '\0';
		int r = lookup(dir, known, elf_path, err);
		if (r && hit)
			*hit = true;
		if (r)
			return r == 1 ? 0 : -1;
	}
	_cleanup_free_ char *img = NULL;
	size_t len = 0;
	if (i2k_read_fd(fd, I2K_PVH_KERNEL_MAX, &img, &len, err) < 0)
		return i2k_error_wrap(err, "%s", kernel);
	/* remember the identity only when the file did not change meanwhile */
	bool stable = fstat(fd, &st2) == 0 && same_file(&st, &st2);
	char digest[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(img, len, digest);
	const char *hex = digest + 7;
	_cleanup_free_ char *line = i2k_xasprintf("%s\n", hex);
	int r = lookup(dir, hex, elf_path, err);
	if (r) {
		if (hit)
			*hit = true;
		if (stable)
			i2k_write_file_atomic(idx, line, strlen(line), 0600, NULL);
		return r == 1 ? 0 : -1;
	}
	_cleanup_free_ uint8_t *elf = NULL;
	size_t elflen = 0;
	struct i2k_error *e = NULL;
	if (extract((const uint8_t *)img, len, &elf, &elflen, &e) < 0) {
		if (e->code != I2K_ERR_IO && e->code != I2K_ERR_INTERNAL &&
		    i2k_mkdir_p(dir, 0700, NULL) == 0) {
			_cleanup_free_ char *nopath = i2k_xasprintf("%s/%s.no", dir, hex);
			_cleanup_free_ char *why = i2k_xasprintf("%s\n", e->msg);
			if (i2k_write_file_atomic(nopath, why, strlen(why), 0600, NULL) == 0 &&
			    stable)
				i2k_write_file_atomic(idx, line, strlen(line), 0600, NULL);
		}
		i2k_error_propagate(err, &e);
		return -1;
	}
	_cleanup_free_ char *path = i2k_xasprintf("%s/%s.elf", dir, hex);
	if (i2k_mkdir_p(dir, 0700, err) < 0 ||
	    i2k_write_file_atomic(path, elf, elflen, 0644, err) < 0)
		return -1;
	if (stable)
		i2k_write_file_atomic(idx, line, strlen(line), 0600, NULL);
	*elf_path = I2K_STEAL(path);
	return 0;
}

void i2k_pvh_usage(const char *cache_dir, size_t *kernels, uint64_t *bytes)
{
	_cleanup_free_ char *dir = i2k_xasprintf("%s/pvh", cache_dir);
	i2k_dir_usage(dir, ".elf", kernels, bytes);
}
