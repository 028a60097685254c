/* test_ovmf.c — provision/ovmf: OVMF trimmed for `run qemu`. Synthetic
 * firmware files (volumes, FFS files and sections written here, the
 * compressed volume by liblzma) check what is changed and what is not:
 * only the named PEIMs, DXE drivers and applications become FREEFORM
 * files of one RAW section of erase bytes (with right header and file
 * checksums, name, size and place kept), a driver named as a TPM PEIM,
 * other PEIMs, applications and the DXE core stay, nested volumes are
 * searched, the following volume keeps its bytes and offset; and the
 * errors for files that are not OVMF or are damaged. Debian's own
 * OVMF_CODE_4M.fd (the ovmf package, installed by `make deps`) checks the
 * real layout: walked file by file, its decompressed volume differs only
 * inside Tcg2ConfigPei, the 49 unused DXE drivers and the shell, each
 * blanked so.
 * The boot itself is tests/integration's. */
#include <fcntl.h>
#include <lzma.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "provision/ovmf.h"
#include "tests/unit/test.h"

static char tmp[256];

static char *tpath(const char *name)
{
	return i2k_xasprintf("%s/%s", tmp, name);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	struct i2k_error *e = NULL;
	if (i2k_write_file_atomic(path, p, n, 0644, &e) < 0)
		abort();
}

/* ---- a byte vector and the PI structures --------------------------------- */

struct vec {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct vec *v, const void *p, size_t n)
{
	if (v->len + n > v->cap) {
		v->cap = (v->len + n) * 2;
		v->p = realloc(v->p, v->cap);
		if (v->p == NULL)
			abort();
	}
	memcpy(v->p + v->len, p, n);
	v->len += n;
}

static void fill(struct vec *v, uint8_t b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(v, &b, 1);
}

static void align(struct vec *v, size_t base, size_t a, uint8_t b)
{
	while ((v->len - base) % a)
		put(v, &b, 1);
}

/* A section: 4-byte aligned from base, 24-bit size and type. */
static void section(struct vec *v, size_t base, uint8_t type, const void *body, size_t n)
{
	align(v, base, 4, 0);
	uint8_t h[4];
	h[0] = (uint8_t)(n + 4);
	h[1] = (uint8_t)((n + 4) >> 8);
	h[2] = (uint8_t)((n + 4) >> 16);
	h[3] = type;
	put(v, h, 4);
	put(v, body, n);
}

static void ui_section(struct vec *v, size_t base, const char *name)
{
	uint8_t u[128] = {0};
	size_t n = strlen(name);
	for (size_t i = 0; i < n; i++)
		u[2 * i] = (uint8_t)name[i];
	section(v, base, 0x15, u, 2 * n + 2);
}

/* A module file's sections: a PE32 body (0x10) and the UI name. */
static struct vec module_body(const char *name)
{
	struct vec b = {0};
	uint8_t pe[40];
	memset(pe, 0xC3, sizeof(pe));
	pe[0] = 'M';
	pe[1] = 'Z';
	section(&b, 0, 0x10, pe, sizeof(pe));
	ui_section(&b, 0, name);
	return b;
}

static bool header_ok(const uint8_t *h)
{
	unsigned s = 0;
	for (size_t i = 0; i < 24; i++)
		if (i != 17 && i != 23)
			s += h[i];
	return (uint8_t)s == 0;
}

/* An FFS file (8-byte aligned from the volume at fvbase) with attributes
 * attrs (0x40: its data checksum is kept): returns the offset of its
 * header in v. */
static size_t ffs_file_attrs(struct vec *v, size_t fvbase, uint8_t name, uint8_t type,
			     uint8_t attrs, const struct vec *body)
{
	align(v, fvbase, 8, 0xFF);
	size_t at = v->len;
	uint8_t h[24];
	memset(h, name, 16);
	h[16] = 0;
	h[17] = 0xAA;
	h[18] = type;
	h[19] = attrs;
	if (attrs & 0x40) {
		unsigned d = 0;
		for (size_t i = 0; i < body->len; i++)
			d += body->p[i];
		h[17] = (uint8_t)(0x100 - (d & 0xFF));
	}
	size_t size = 24 + body->len;
	h[20] = (uint8_t)size;
	h[21] = (uint8_t)(size >> 8);
	h[22] = (uint8_t)(size >> 16);
	h[23] = 0xF8;
	unsigned s = 0;
	for (size_t i = 0; i < 24; i++)
		if (i != 17 && i != 23)
			s += h[i];
	h[16] = (uint8_t)(0x100 - (uint8_t)s);
	put(v, h, 24);
	put(v, body->p, body->len);
	return at;
}

static size_t ffs_file(struct vec *v, size_t fvbase, uint8_t name, uint8_t type,
		       const struct vec *body)
{
	return ffs_file_attrs(v, fvbase, name, type, 0, body);
}

/* The 24-bit size of the file whose header is at h. */
static size_t file_size(const uint8_t *h)
{
	return (size_t)h[20] | (size_t)h[21] << 8 | (size_t)h[22] << 16;
}

/* Whether the file at off of now is orig's file there, blanked: same name
 * and size, FREEFORM, header checksum right, one RAW section spanning the
 * body and erase bytes after its header, the file checksum 0xAA or (with
 * attribute 0x40) right for the new body. */
static bool blanked(const uint8_t *orig, const uint8_t *now, size_t off, uint8_t erase)
{
	const uint8_t *h = now + off;
	size_t size = file_size(h), body = size - 24;
	if (memcmp(h, orig + off, 16) != 0 || size != file_size(orig + off) || h[18] != 0x02 ||
	    h[19] != orig[off + 19] || !header_ok(h) || size < 28)
		return false;
	if ((size_t)h[24] + ((size_t)h[25] << 8) + ((size_t)h[26] << 16) != body || h[27] != 0x19)
		return false;
	unsigned d = 0;
	for (size_t i = 24; i < size; i++) {
		d += h[i];
		if (i >= 28 && h[i] != erase)
			return false;
	}
	return (h[19] & 0x40) ? (uint8_t)(d + h[17]) == 0 : h[17] == 0xAA;
}

/* A firmware volume header of total length len (erase polarity 1). */
static void fv_header(struct vec *v, size_t len)
{
	uint8_t h[72] = {0};
	memset(h + 16, 0x78, 16); /* file system GUID: not looked at */
	i2k_put_le64(h + 32, len);
	memcpy(h + 40, "_FVH", 4);
	i2k_put_le32(h + 44, 0x4FEFF);
	i2k_put_le16(h + 48, 72);
	h[55] = 2;
	i2k_put_le32(h + 56, (uint32_t)(len / 4096 ? len / 4096 : 1));
	i2k_put_le32(h + 60, 4096);
	put(v, h, sizeof(h));
}

/* Ends the volume started at base: erase bytes up to len. */
static void fv_end(struct vec *v, size_t base, size_t len)
{
	if (v->len - base > len)
		abort();
	fill(v, 0xFF, len - (v->len - base));
}

/* ---- the synthetic firmware ------------------------------------------------- */

struct synth {
	struct vec raw;	    /* the decompressed volume */
	size_t tpm2, tpm12; /* headers of the two PEIMs to change, in raw */
	size_t keep_driver; /* a DXE driver named Tcg2ConfigPei, in raw */
	size_t net_driver;  /* VirtioNetDxe, a DXE driver to change, in raw */
	size_t shell;	    /* Shell, an application to change (file checksum kept), in raw */
	size_t keep_app;    /* UiApp, an application that stays, in raw */
};

/* The decompressed volume: an FV image section (PEI volume: PlatformPei,
 * Tcg2ConfigPei, a DXE driver also called Tcg2ConfigPei, and a nested
 * FV_IMAGE file whose volume holds Tcg12ConfigPei), then a second FV image
 * section (DXE volume: DxeCore, VirtioNetDxe, the applications Shell and
 * UiApp). with_tpm false: the TPM PEIMs are named otherwise. */
static struct synth make_raw(bool with_tpm)
{
	struct synth s = {0};
	struct vec *r = &s.raw;
	/* nested volume first (into its own vector) */
	struct vec inner = {0};
	fv_header(&inner, 4096);
	struct vec m = module_body(with_tpm ? "Tcg12ConfigPei" : "Tcg12Other");
	size_t t12 = ffs_file(&inner, 0, 0x31, 0x06, &m);
	free(m.p);
	fv_end(&inner, 0, 4096);
	struct vec nested = {0};
	section(&nested, 0, 0x17, inner.p, inner.len);

	struct vec pei = {0};
	fv_header(&pei, 16384);
	m = module_body("PlatformPei");
	ffs_file(&pei, 0, 0x11, 0x06, &m);
	free(m.p);
	m = module_body(with_tpm ? "Tcg2ConfigPei" : "Tcg2Other");
	size_t t2 = ffs_file(&pei, 0, 0x12, 0x06, &m);
	free(m.p);
	m = module_body("Tcg2ConfigPei");
	size_t drv = ffs_file(&pei, 0, 0x13, 0x07, &m);
	free(m.p);
	size_t nf = ffs_file(&pei, 0, 0x14, 0x0B, &nested);
	fv_end(&pei, 0, 16384);

	section(r, 0, 0x17, pei.p, pei.len);
	s.tpm2 = 4 + t2;
	s.keep_driver = 4 + drv;
	/* nested: file header 24, section header 4 */
	s.tpm12 = 4 + nf + 24 + 4 + t12;
	struct vec dxe = {0};
	fv_header(&dxe, 8192);
	m = module_body("DxeCore");
	ffs_file(&dxe, 0, 0x21, 0x05, &m);
	free(m.p);
	m = module_body("VirtioNetDxe");
	size_t net = ffs_file(&dxe, 0, 0x22, 0x07, &m);
	free(m.p);
	m = module_body("Shell");
	size_t shell = ffs_file_attrs(&dxe, 0, 0x23, 0x09, 0x40, &m);
	free(m.p);
	m = module_body("UiApp");
	size_t ui = ffs_file(&dxe, 0, 0x24, 0x09, &m);
	free(m.p);
	fv_end(&dxe, 0, 8192);
	s.net_driver = r->len + 4 + net;
	s.shell = r->len + 4 + shell;
	s.keep_app = r->len + 4 + ui;
	section(r, 0, 0x17, dxe.p, dxe.len);
	free(inner.p);
	free(nested.p);
	free(pei.p);
	free(dxe.p);
	return s;
}

/* EDK2's LZMA layout: header with the size, no end marker. */
static struct vec lzma_of(const struct vec *raw)
{
	lzma_options_lzma opt;
	if (lzma_lzma_preset(&opt, 9))
		abort();
	opt.ext_flags = 0;
	opt.ext_size_low = (uint32_t)raw->len;
	opt.ext_size_high = 0;
	lzma_filter f[] = {{LZMA_FILTER_LZMA1EXT, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
	struct vec out = {0};
	size_t cap = raw->len + 4096, pos = 13;
	out.p = malloc(cap);
	out.cap = cap;
	if (lzma_raw_buffer_encode(f, NULL, raw->p, raw->len, out.p, &pos, cap) != LZMA_OK)
		abort();
	out.p[0] = (uint8_t)((opt.pb * 5 + opt.lp) * 9 + opt.lc);
	i2k_put_le32(out.p + 1, opt.dict_size);
	i2k_put_le64(out.p + 5, raw->len);
	out.len = pos;
	return out;
}

static const uint8_t lzma_guid[16] = {0x98, 0x58, 0x4E, 0xEE, 0x14, 0x39, 0x59, 0x42,
				      0x9D, 0x6E, 0xDC, 0x7B, 0xD7, 0x94, 0x03, 0xCF};

#define FV0_LEN 65536
#define FV1_LEN 4096

/* The firmware file: FV0 (one FV_IMAGE file: the LZMA section of raw,
 * then free space; with extra, a RAW file after it), FV1 (a RAW file). */
static struct vec make_fd(const struct vec *raw, bool extra)
{
	struct vec comp = lzma_of(raw);
	struct vec guided = {0};
	uint8_t gh[20];
	memcpy(gh, lzma_guid, 16);
	i2k_put_le16(gh + 16, 24);
	i2k_put_le16(gh + 18, 1);
	put(&guided, gh, sizeof(gh));
	put(&guided, comp.p, comp.len);
	struct vec body = {0};
	section(&body, 0, 0x02, guided.p, guided.len);
	struct vec fd = {0};
	fv_header(&fd, FV0_LEN);
	ffs_file(&fd, 0, 0x41, 0x0B, &body);
	if (extra) {
		struct vec rb = {0};
		section(&rb, 0, 0x19, "raw!", 4);
		ffs_file(&fd, 0, 0x42, 0x01, &rb);
		free(rb.p);
	}
	fv_end(&fd, 0, FV0_LEN);
	fv_header(&fd, FV1_LEN);
	struct vec sec = {0};
	section(&sec, 0, 0x19, "reset vector here", 17);
	ffs_file(&fd, FV0_LEN, 0x51, 0x01, &sec);
	fv_end(&fd, FV0_LEN, FV1_LEN);
	free(comp.p);
	free(guided.p);
	free(body.p);
	free(sec.p);
	return fd;
}

/* The decompressed volume of a firmware file (NULL when it does not decode). */
static uint8_t *unpack(const uint8_t *fd, size_t len, size_t *rawlen)
{
	struct i2k_ovmf_lzma z;
	struct i2k_error *e = NULL;
	if (i2k_ovmf_find_lzma(fd, len, &z, &e) < 0) {
		i2k_error_free(e);
		return NULL;
	}
	uint8_t *raw = malloc(z.raw_len);
	lzma_stream s = LZMA_STREAM_INIT;
	if (lzma_alone_decoder(&s, 1u << 30) != LZMA_OK)
		abort();
	s.next_in = fd + z.data_off;
	s.avail_in = z.data_len;
	s.next_out = raw;
	s.avail_out = z.raw_len;
	lzma_ret r = lzma_code(&s, LZMA_FINISH);
	lzma_end(&s);
	if (r != LZMA_STREAM_END || s.avail_out != 0) {
		free(raw);
		return NULL;
	}
	*rawlen = z.raw_len;
	return raw;
}

/* ---- tests --------------------------------------------------------------------- */

TEST(strips_the_named_files_only)
{
	struct synth s = make_raw(true);
	struct vec fd = make_fd(&s.raw, false);
	_cleanup_free_ uint8_t *out = NULL;
	size_t outlen = 0;
	OK(i2k_ovmf_trim(fd.p, fd.len, &out, &outlen, &_e));
	CHECK_INT(outlen, fd.len);
	if (out == NULL)
		return;
	/* the next volume: same bytes, same place */
	CHECK(memcmp(out + FV0_LEN, fd.p + FV0_LEN, FV1_LEN) == 0);
	/* FV0's header unchanged; its file's header checksum right */
	CHECK(memcmp(out, fd.p, 72) == 0);
	CHECK(header_ok(out + 72));
	CHECK_INT(out[72 + 17], 0xAA);
	/* after the new file, free space to the end of FV0 */
	size_t fsize =
	    (size_t)out[72 + 20] | (size_t)out[72 + 21] << 8 | (size_t)out[72 + 22] << 16;
	bool erased = true;
	for (size_t i = 72 + fsize; i < FV0_LEN; i++)
		erased = erased && out[i] == 0xFF;
	CHECK(erased);
	/* what SEC decompresses: the same volume but for two PEIMs, one
	 * driver and one application, blanked */
	size_t rawlen = 0;
	_cleanup_free_ uint8_t *raw = unpack(out, outlen, &rawlen);
	CHECK(raw != NULL);
	if (raw == NULL)
		return;
	CHECK_INT(rawlen, s.raw.len);
	const size_t changed[] = {s.tpm2, s.tpm12, s.net_driver, s.shell};
	size_t diffs = 0, outside = 0;
	for (size_t i = 0; i < rawlen && rawlen == s.raw.len; i++) {
		if (raw[i] == s.raw.p[i])
			continue;
		diffs++;
		bool inside = false;
		for (size_t k = 0; k < I2K_ARRAY_SIZE(changed); k++)
			inside = inside || (i >= changed[k] &&
					    i < changed[k] + file_size(s.raw.p + changed[k]));
		outside += !inside;
	}
	CHECK(diffs > 0);
	CHECK_INT(outside, 0);
	for (size_t k = 0; k < I2K_ARRAY_SIZE(changed); k++)
		CHECK(blanked(s.raw.p, raw, changed[k], 0xFF));
	CHECK_INT(raw[s.shell + 19], 0x40); /* its data checksum: made right */
	CHECK_INT(raw[s.keep_driver + 18], 0x07);
	CHECK_INT(raw[s.keep_app + 18], 0x09);
	/* the same input gives the same bytes */
	_cleanup_free_ uint8_t *again = NULL;
	size_t againlen = 0;
	OK(i2k_ovmf_trim(fd.p, fd.len, &again, &againlen, &_e));
	CHECK(again && againlen == outlen && memcmp(again, out, outlen) == 0);
	/* and a stripped firmware has nothing left to strip */
	uint8_t *o3 = NULL;
	size_t l3 = 0;
	FAILS(i2k_ovmf_trim(out, outlen, &o3, &l3, &_e), I2K_ERR_UNSUPPORTED,
	      "no TPM-detection PEIM (Tcg2ConfigPei)");
	CHECK(o3 == NULL);
	free(s.raw.p);
	free(fd.p);
}

TEST(disable_files_counts)
{
	struct synth s = make_raw(true);
	const char *names[] = {"PlatformPei"};
	int n = 0;
	OK((n = i2k_ovmf_disable_files(s.raw.p, s.raw.len, 0x06, names, 1, &_e)));
	CHECK_INT(n, 1);
	const char *none[] = {"DxeCore"}; /* a DXE core is no PEIM, no driver */
	OK((n = i2k_ovmf_disable_files(s.raw.p, s.raw.len, 0x06, none, 1, &_e)));
	CHECK_INT(n, 0);
	OK((n = i2k_ovmf_disable_files(s.raw.p, s.raw.len, 0x07, none, 1, &_e)));
	CHECK_INT(n, 0);
	/* the type decides: Tcg2ConfigPei is a PEIM once and a driver once */
	const char *tcg[] = {"Tcg2ConfigPei"};
	OK((n = i2k_ovmf_disable_files(s.raw.p, s.raw.len, 0x07, tcg, 1, &_e)));
	CHECK_INT(n, 1);
	CHECK_INT(s.raw.p[s.keep_driver + 18], 0x02);
	CHECK_INT(s.raw.p[s.tpm2 + 18], 0x06);
	FAILS(i2k_ovmf_disable_files(s.raw.p, s.raw.len, 0x05, tcg, 1, &_e), I2K_ERR_INTERNAL,
	      "file type 0x05 is no PEIM, driver or application");
	/* an application is looked for among applications only */
	const char *shell[] = {"Shell"};
	OK((n = i2k_ovmf_disable_files(s.raw.p, s.raw.len, 0x07, shell, 1, &_e)));
	CHECK_INT(n, 0);
	OK((n = i2k_ovmf_disable_files(s.raw.p, s.raw.len, 0x09, shell, 1, &_e)));
	CHECK_INT(n, 1);
	CHECK_INT(s.raw.p[s.keep_app + 18], 0x09);
	free(s.raw.p);
}

TEST(not_ovmf_or_nothing_to_do)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	uint8_t junk[4096];
	memset(junk, 0x5A, sizeof(junk));
	FAILS(i2k_ovmf_trim(junk, sizeof(junk), &out, &outlen, &_e), I2K_ERR_UNSUPPORTED,
	      "no LZMA-compressed firmware volume");
	struct synth s = make_raw(false);
	struct vec fd = make_fd(&s.raw, false);
	FAILS(i2k_ovmf_trim(fd.p, fd.len, &out, &outlen, &_e), I2K_ERR_UNSUPPORTED,
	      "no TPM-detection PEIM (Tcg2ConfigPei)");
	free(fd.p);
	free(s.raw.p);
	/* a file after the compressed one: its size cannot change */
	s = make_raw(true);
	fd = make_fd(&s.raw, true);
	FAILS(i2k_ovmf_trim(fd.p, fd.len, &out, &outlen, &_e), I2K_ERR_UNSUPPORTED,
	      "LZMA volume at 0x48 is not the last file of its volume");
	CHECK(out == NULL);
	free(fd.p);
	free(s.raw.p);
}

TEST(damaged_firmware)
{
	struct synth s = make_raw(true);
	struct vec fd = make_fd(&s.raw, false);
	uint8_t *out = NULL;
	size_t outlen = 0;
	/* the file's header checksum */
	_cleanup_free_ uint8_t *d1 = malloc(fd.len);
	memcpy(d1, fd.p, fd.len);
	d1[72 + 16] ^= 1;
	FAILS(i2k_ovmf_trim(d1, fd.len, &out, &outlen, &_e), I2K_ERR_INTEGRITY,
	      "FFS file at 0x48: bad header checksum");
	/* a file larger than its volume (checksum kept right) */
	memcpy(d1, fd.p, fd.len);
	d1[72 + 22] = 0x7F;
	d1[72 + 16] = (uint8_t)(d1[72 + 16] - (0x7F - fd.p[72 + 22]));
	_cleanup_free_ char *big =
	    i2k_xasprintf("FFS file at 0x48: size %u outside its volume",
			  0x7Fu << 16 | (unsigned)fd.p[72 + 21] << 8 | fd.p[72 + 20]);
	FAILS(i2k_ovmf_trim(d1, fd.len, &out, &outlen, &_e), I2K_ERR_INTEGRITY, big);
	/* a volume longer than the file */
	memcpy(d1, fd.p, fd.len);
	i2k_put_le64(d1 + 32, fd.len * 2);
	FAILS(i2k_ovmf_trim(d1, fd.len, &out, &outlen, &_e), I2K_ERR_INTEGRITY,
	      "firmware volume at 0x0: length 139264 / header 72 do not fit in 69632 bytes");
	/* the compressed data */
	memcpy(d1, fd.p, fd.len);
	for (size_t i = 72 + 24 + 24 + 13 + 20; i < 72 + 24 + 24 + 13 + 60; i++)
		d1[i] ^= 0xA5;
	struct i2k_error *e = NULL;
	CHECK(i2k_ovmf_trim(d1, fd.len, &out, &outlen, &e) < 0);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK(e && i2k_str_has_prefix(e->msg, "LZMA volume"));
	i2k_error_free(e);
	/* a stated size beyond the limit */
	memcpy(d1, fd.p, fd.len);
	i2k_put_le64(d1 + 72 + 24 + 24 + 5, (uint64_t)I2K_OVMF_VOLUME_MAX + 1);
	FAILS(i2k_ovmf_trim(d1, fd.len, &out, &outlen, &_e), I2K_ERR_INTEGRITY,
	      "LZMA volume at 0x48: uncompressed size 134217729 (at most 134217728)");
	/* a truncated file */
	FAILS(i2k_ovmf_trim(fd.p, 40, &out, &outlen, &_e), I2K_ERR_UNSUPPORTED,
	      "no LZMA-compressed firmware volume");
	FAILS(i2k_ovmf_trim(fd.p, 60, &out, &outlen, &_e), I2K_ERR_INTEGRITY,
	      "firmware volume at 0x0: length 65536 / header 72 do not fit in 60 bytes");
	FAILS(i2k_ovmf_trim(fd.p, 4096, &out, &outlen, &_e), I2K_ERR_INTEGRITY,
	      "firmware volume at 0x0: length 65536 / header 72 do not fit in 4096 bytes");
	CHECK(out == NULL);
	free(fd.p);
	free(s.raw.p);
}

TEST(cache_makes_once)
{
	_cleanup_free_ char *cache = tpath("c1");
	_cleanup_free_ char *code = tpath("OVMF_CODE.fd");
	struct synth s = make_raw(true);
	struct vec fd = make_fd(&s.raw, false);
	write_bytes(code, fd.p, fd.len);
	_cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL;
	/* what an older version left: its copy, and another version's store */
	char digest[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(fd.p, fd.len, digest);
	_cleanup_free_ char *dir = i2k_xasprintf("%s/ovmf", cache);
	_cleanup_free_ char *v1 = i2k_xasprintf("%s/%s.fd", dir, digest + 7);
	_cleanup_free_ char *v9 = i2k_xasprintf("%s/%s.9.0123456789abcdef.vars", dir, digest + 7);
	_cleanup_free_ char *other = i2k_xasprintf("%s/0000.fd", dir);
	CHECK(i2k_mkdir_p(dir, 0700, NULL) == 0);
	write_bytes(v1, "old", 3);
	write_bytes(v9, "old", 3);
	write_bytes(other, "another firmware's", 18);
	bool hit = true;
	OK(i2k_ovmf_trimmed(code, cache, &p1, &hit, &_e));
	CHECK(!hit);
	CHECK(access(v1, F_OK) != 0 && access(v9, F_OK) != 0);
	CHECK(access(other, F_OK) == 0);
	CHECK(unlink(other) == 0);
	CHECK(p1 && i2k_str_has_prefix(p1, cache) && i2k_str_has_suffix(p1, ".fd"));
	_cleanup_free_ uint8_t *want = NULL;
	size_t wlen = 0;
	OK(i2k_ovmf_trim(fd.p, fd.len, &want, &wlen, &_e));
	_cleanup_free_ char *got = NULL;
	size_t glen = 0;
	OK(i2k_read_file(p1, 1 << 20, &got, &glen, &_e));
	CHECK(got && want && glen == wlen && memcmp(got, want, wlen) == 0);
	OK(i2k_ovmf_trimmed(code, cache, &p2, &hit, &_e));
	CHECK(hit);
	CHECK_STR(p2, p1);
	/* a damaged copy is made again */
	if (p1)
		CHECK(truncate(p1, 1000) == 0);
	OK(i2k_ovmf_trimmed(code, cache, &p3, &hit, &_e));
	CHECK(!hit);
	CHECK_STR(p3, p1);
	size_t copies = 0, stores = 9;
	uint64_t bytes = 0;
	i2k_ovmf_usage(cache, &copies, &stores, &bytes);
	CHECK_INT(copies, 1);
	CHECK_INT(stores, 0);
	/* a packed variable store beside it (efivars.h) counts as one */
	_cleanup_free_ char *vars = i2k_xasprintf("%s/ovmf/x.2.0123456789abcdef.vars", cache);
	write_bytes(vars, "store", 5);
	uint64_t before = bytes;
	i2k_ovmf_usage(cache, &copies, &stores, &bytes);
	CHECK_INT(copies, 1);
	CHECK_INT(stores, 1);
	CHECK(bytes > before);
	CHECK(bytes >= fd.len);
	free(fd.p);
	free(s.raw.p);
}

TEST(cache_remembers_no)
{
	_cleanup_free_ char *cache = tpath("c2");
	_cleanup_free_ char *code = tpath("not-ovmf.fd");
	write_bytes(code, "just some bytes, no firmware volume here at all, not one", 57);
	char *p = NULL;
	bool hit = true;
	FAILS(i2k_ovmf_trimmed(code, cache, &p, &hit, &_e), I2K_ERR_UNSUPPORTED,
	      "no LZMA-compressed firmware volume");
	CHECK(!hit);
	CHECK(p == NULL);
	FAILS(i2k_ovmf_trimmed(code, cache, &p, &hit, &_e), I2K_ERR_UNSUPPORTED,
	      "no LZMA-compressed firmware volume");
	CHECK(hit);
	size_t copies = 9, stores = 9;
	uint64_t bytes = 0;
	i2k_ovmf_usage(cache, &copies, &stores, &bytes);
	CHECK_INT(stores, 0);
	CHECK_INT(copies, 0);
	CHECK(bytes > 0);
	_cleanup_free_ char *missing = tpath("nope.fd");
	struct i2k_error *e = NULL;
	CHECK(i2k_ovmf_trimmed(missing, cache, &p, &hit, &e) < 0);
	CHECK(e && strstr(e->msg, "No such file"));
	i2k_error_free(e);
}

/* An independent walk of a decompressed volume (sections; FV image
 * sections hold volumes, whose FV_IMAGE files hold sections again) that
 * finds the files the trimmed copy changed: each must be a PEIM, driver or
 * application blanked as blanked() says; their bytes are marked in mask. */
struct walked {
	const uint8_t *orig, *now;
	size_t len;
	uint8_t *mask;
	size_t peims, drivers, apps, bad;
};

static void walk_sections(struct walked *w, size_t start, size_t end, int depth);

static void walk_fv(struct walked *w, size_t base, size_t end, int depth)
{
	const uint8_t *o = w->orig;
	if (end - base < 56 || memcmp(o + base + 40, "_FVH", 4) != 0) {
		w->bad++;
		return;
	}
	uint8_t erase = (i2k_get_le32(o + base + 44) & 0x800) ? 0xFF : 0x00;
	size_t flen = (size_t)i2k_get_le64(o + base + 32), at = base + i2k_get_le16(o + base + 48);
	if (i2k_get_le16(o + base + 52))
		at = base + i2k_get_le16(o + base + 52) +
		     i2k_get_le32(o + base + i2k_get_le16(o + base + 52) + 16);
	if (flen > end - base) {
		w->bad++;
		return;
	}
	for (end = base + flen;;) {
		at = base + ((at - base + 7) & ~(size_t)7);
		if (at + 24 > end)
			break;
		bool empty = true;
		for (size_t i = 0; i < 24; i++)
			empty = empty && o[at + i] == erase;
		size_t size = file_size(o + at);
		if (empty || (o[at + 19] & 0x01) || size < 24 || size > end - at)
			break; /* the end (Debian's volumes have no large files) */
		uint8_t was = o[at + 18], is = w->now[at + 18];
		if (was != is) {
			if (!blanked(o, w->now, at, erase) ||
			    (was != 0x06 && was != 0x07 && was != 0x09))
				w->bad++;
			w->peims += was == 0x06;
			w->drivers += was == 0x07;
			w->apps += was == 0x09;
			memset(w->mask + at, 1, size);
		} else if (was == 0x0B) {
			walk_sections(w, at + 24, at + size, depth + 1);
		}
		at += size;
	}
}

static void walk_sections(struct walked *w, size_t start, size_t end, int depth)
{
	if (depth > 4) {
		w->bad++;
		return;
	}
	for (size_t at = start; at + 4 <= end;) {
		const uint8_t *h = w->orig + at;
		size_t size = (size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16;
		if (size < 4 || size > end - at) {
			w->bad++;
			return;
		}
		if (w->orig[at + 3] == 0x17)
			walk_fv(w, at + 4, at + size, depth);
		at = start + ((at + size - start + 3) & ~(size_t)3);
	}
}

/* Debian's firmware: the layout this was written for. */
TEST(debian_ovmf)
{
	const char *code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
	_cleanup_free_ char *fw = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(code, I2K_OVMF_FILE_MAX, &fw, &len, &e) < 0) {
		fprintf(stderr, "  %s: %s (the ovmf package: make deps installs it)\n", code,
			e->msg);
		i2k_error_free(e);
		CHECK(!"Debian's OVMF is installed");
		return;
	}
	_cleanup_free_ uint8_t *out = NULL;
	size_t outlen = 0;
	OK(i2k_ovmf_trim((uint8_t *)fw, len, &out, &outlen, &_e));
	if (out == NULL)
		return;
	struct i2k_ovmf_lzma a, b;
	OK(i2k_ovmf_find_lzma((uint8_t *)fw, len, &a, &_e));
	OK(i2k_ovmf_find_lzma(out, outlen, &b, &_e));
	CHECK_INT(a.file_off, b.file_off);
	CHECK_INT(a.fv_end, b.fv_end);
	CHECK(memcmp(out + a.fv_end, fw + a.fv_end, len - a.fv_end) == 0);
	CHECK(memcmp(out, fw, a.data_off) != 0); /* the sizes changed */
	size_t l1 = 0, l2 = 0;
	_cleanup_free_ uint8_t *r1 = unpack((uint8_t *)fw, len, &l1);
	_cleanup_free_ uint8_t *r2 = unpack(out, outlen, &l2);
	CHECK(r1 && r2 && l1 == l2);
	struct walked w = {.orig = r1, .now = r2, .len = l1};
	if (r1 && r2 && l1 == l2) {
		w.mask = calloc(1, l1);
		walk_sections(&w, 0, l1, 0);
		size_t outside = 0;
		for (size_t i = 0; i < l1; i++)
			outside += !w.mask[i] && r1[i] != r2[i];
		CHECK_INT(outside, 0);
		free(w.mask);
	}
	CHECK_INT(w.bad, 0);
	CHECK_INT(w.peims, 1);
	CHECK_INT(w.drivers, 49);
	CHECK_INT(w.apps, 1);
}

int main(void)
{
	t_prog = "test_ovmf";
	snprintf(tmp, sizeof(tmp), "%s/i2k-test-ovmf.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		abort();
	RUN(strips_the_named_files_only);
	RUN(disable_files_counts);
	RUN(not_ovmf_or_nothing_to_do);
	RUN(damaged_firmware);
	RUN(cache_makes_once);
	RUN(cache_remembers_no);
	RUN(debian_ovmf);
	i2k_rm_rf(tmp, NULL);
	return TEST_DONE();
}
