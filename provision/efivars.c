/* efivars.c — an OVMF variable store with one boot entry (see efivars.h). */
#include "provision/efivars.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

/* FFF12B8D-7696-4C8B-A985-2747075B4F50, as stored */
static const uint8_t nvdata_fv[16] = {0x8D, 0x2B, 0xF1, 0xFF, 0x96, 0x76, 0x8B, 0x4C,
				      0xA9, 0x85, 0x27, 0x47, 0x07, 0x5B, 0x4F, 0x50};
/* AAF32C78-947B-439A-A180-2E144EC37792 */
static const uint8_t auth_store[16] = {0x78, 0x2C, 0xF3, 0xAA, 0x7B, 0x94, 0x9A, 0x43,
				       0xA1, 0x80, 0x2E, 0x14, 0x4E, 0xC3, 0x77, 0x92};
/* 8BE4DF61-93CA-11D2-AA0D-00E098032B8C (EFI_GLOBAL_VARIABLE) */
static const uint8_t global_vendor[16] = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
					  0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};

#define STORE_HEADER 28
#define VAR_HEADER 60
#define VAR_START_ID 0x55AAu
#define VAR_ADDED 0x3Fu
#define VAR_REPLACED 0x3Cu /* VAR_ADDED & VAR_DELETED & VAR_IN_DELETED_TRANSITION */
#define VAR_ATTRS 0x7u	   /* NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS */
#define LOAD_OPTION_ACTIVE 0x1u

static void put_ucs2(struct i2k_buf *b, const char *s, bool nul)
{
	for (const char *p = s;; p++) {
		if (*p == '\0' && !nul)
			break;
		uint8_t c[2] = {(uint8_t)*p, 0};
		i2k_buf_append(b, c, 2, NULL);
		if (*p == '\0')
			break;
	}
}

static void put_node(struct i2k_buf *b, uint8_t type, uint8_t sub, const uint8_t *body, size_t len)
{
	uint8_t h[4] = {type, sub};
	i2k_put_le16(h + 2, (uint16_t)(4 + len));
	i2k_buf_append(b, h, 4, NULL);
	if (len)
		i2k_buf_append(b, body, len, NULL);
}

uint8_t *i2k_efivars_load_option(const struct i2k_esp *esp, const char *loader,
				 const char *description, const char *options, size_t *len)
{
	struct i2k_buf path = {0};
	uint8_t hd[38];
	i2k_put_le32(hd, esp->number);
	i2k_put_le64(hd + 4, esp->first_lba);
	i2k_put_le64(hd + 12, esp->sectors);
	memcpy(hd + 20, esp->unique, 16);
	hd[36] = 0x02; /* partition format: GPT */
	hd[37] = 0x02; /* signature type: GUID */
	put_node(&path, 0x04, 0x01, hd, sizeof(hd));
	struct i2k_buf name = {0};
	put_ucs2(&name, loader, true);
	put_node(&path, 0x04, 0x04, (const uint8_t *)name.data, name.len);
	put_node(&path, 0x7F, 0xFF, NULL, 0);
	struct i2k_buf b = {0};
	uint8_t h[6];
	i2k_put_le32(h, LOAD_OPTION_ACTIVE);
	i2k_put_le16(h + 4, (uint16_t)path.len);
	i2k_buf_append(&b, h, sizeof(h), NULL);
	put_ucs2(&b, description, true);
	i2k_buf_append(&b, path.data, path.len, NULL);
	put_ucs2(&b, options, false);
	i2k_buf_free(&path);
	i2k_buf_free(&name);
	*len = b.len;
	return (uint8_t *)b.data;
}

/* ---- the store ----------------------------------------------------------------- */

struct store {
	size_t start, end; /* the variables' area: [start, end) */
};

static int not_store(struct i2k_error **err, const char *why)
{
	return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "not an OVMF variable store: %s", why);
}

static int store_open(const uint8_t *st, size_t len, struct store *s, struct i2k_error **err)
{
	if (len < 56 || memcmp(st + 40, "_FVH", 4) != 0)
		return not_store(err, "no firmware volume header");
	if (memcmp(st + 16, nvdata_fv, 16) != 0)
		return not_store(err, "the volume is not an NV data volume");
	uint64_t fvlen = i2k_get_le64(st + 32);
	size_t hdr = i2k_get_le16(st + 48);
	if (fvlen > len || hdr < 56 || hdr + STORE_HEADER > fvlen)
		return not_store(err, "volume sizes do not fit the file");
	const uint8_t *v = st + hdr;
	if (memcmp(v, auth_store, 16) != 0)
		return not_store(err, "not an authenticated variable store");
	uint32_t size = i2k_get_le32(v + 16);
	if (v[20] != 0x5A || v[21] != 0xFE)
		return not_store(err, "not formatted and healthy");
	if (size < STORE_HEADER || size > fvlen - hdr)
		return not_store(err, "store size does not fit its volume");
	s->start = hdr + STORE_HEADER;
	s->end = hdr + size;
	return 0;
}

static size_t align4(size_t v)
{
	return (v + 3) & ~(size_t)3;
}

/* The UCS-2 name of the variable at h is the ASCII name want (with NUL). */
static bool var_named(const uint8_t *name, size_t nsize, const char *want)
{
	size_t n = strlen(want) + 1;
	if (nsize != n * 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[2 * i] != (uint8_t)want[i] || name[2 * i + 1] != 0)
			return false;
	return true;
}

static void put_var(uint8_t *at, const char *name, const uint8_t *data, size_t dlen)
{
	size_t nlen = (strlen(name) + 1) * 2;
	memset(at, 0, VAR_HEADER);
	i2k_put_le16(at, VAR_START_ID);
	at[2] = VAR_ADDED;
	i2k_put_le32(at + 4, VAR_ATTRS);
	i2k_put_le32(at + 36, (uint32_t)nlen);
	i2k_put_le32(at + 40, (uint32_t)dlen);
	memcpy(at + 44, global_vendor, 16);
	for (size_t i = 0; i < nlen / 2; i++) {
		at[VAR_HEADER + 2 * i] = (uint8_t)name[i];
		at[VAR_HEADER + 2 * i + 1] = 0;
	}
	memcpy(at + VAR_HEADER + nlen, data, dlen);
}

/* The variable at pos: its whole length (header, name, data), or 0 with
 * err when it runs past the store. */
static size_t var_len(const uint8_t *st, const struct store *s, size_t pos, struct i2k_error **err)
{
	uint64_t nsize = i2k_get_le32(st + pos + 36), dsize = i2k_get_le32(st + pos + 40);
	if (nsize + dsize > s->end - pos - VAR_HEADER) {
		i2k_error_set(err, I2K_ERR_INTEGRITY,
			      "variable store: variable at 0x%zx runs past the store", pos);
		return 0;
	}
	return VAR_HEADER + (size_t)nsize + (size_t)dsize;
}

static bool more_vars(const uint8_t *st, const struct store *s, size_t pos)
{
	return pos + VAR_HEADER <= s->end && i2k_get_le16(st + pos) == VAR_START_ID;
}

/* A live global Boot<num> or BootOrder. */
static bool is_boot_var(const uint8_t *h, const char *boot)
{
	size_t nsize = i2k_get_le32(h + 36);
	return h[2] == VAR_ADDED && memcmp(h + 44, global_vendor, 16) == 0 &&
	       (var_named(h + VAR_HEADER, nsize, boot) ||
		var_named(h + VAR_HEADER, nsize, "BootOrder"));
}

int i2k_efivars_add_boot(uint8_t *st, size_t len, uint16_t num, const uint8_t *opt, size_t optlen,
			 struct i2k_error **err)
{
	struct store s = {0};
	if (store_open(st, len, &s, err) < 0)
		return -1;
	char boot[9];
	snprintf(boot, sizeof(boot), "Boot%04X", num);
	size_t pos = s.start;
	while (more_vars(st, &s, pos)) {
		size_t vlen = var_len(st, &s, pos, err);
		if (vlen == 0)
			return -1;
		if (is_boot_var(st + pos, boot))
			st[pos + 2] = VAR_REPLACED;
		pos = align4(pos + vlen);
	}
	uint8_t order[2];
	i2k_put_le16(order, num);
	size_t boot_len = VAR_HEADER + (strlen(boot) + 1) * 2 + optlen;
	size_t order_len = VAR_HEADER + sizeof("BootOrder") * 2 + sizeof(order);
	size_t need = align4(boot_len) + order_len;
	if (pos > s.end || need > s.end - pos)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "variable store full");
	for (size_t i = pos; i < pos + need; i++)
		if (st[i] != 0xFF)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "variable store: bytes at 0x%zx after the last "
					     "variable are not free",
					     i);
	put_var(st + pos, boot, opt, optlen);
	memset(st + pos + boot_len, 0xFF, align4(boot_len) - boot_len);
	put_var(st + pos + align4(boot_len), "BootOrder", order, sizeof(order));
	return 0;
}

int i2k_efivars_compact(const uint8_t *run, const uint8_t *template, size_t len, uint16_t num,
			uint8_t **out, bool *booted, struct i2k_error **err)
{
	*out = NULL;
	*booted = false;
	struct store s = {0}, t = {0};
	if (store_open(run, len, &s, err) < 0 || store_open(template, len, &t, err) < 0)
		return -1;
	if (s.start != t.start || s.end != t.end)
		return not_store(err, "its layout differs from the template's");
	char boot[9];
	snprintf(boot, sizeof(boot), "Boot%04X", num);
	_cleanup_free_ uint8_t *o = i2k_xmalloc(len);
	memcpy(o, template, len);
	memset(o + s.start, 0xFF, s.end - s.start);
	size_t pos = s.start, at = s.start;
	while (more_vars(run, &s, pos)) {
		size_t vlen = var_len(run, &s, pos, err);
		if (vlen == 0)
			return -1;
		const uint8_t *h = run + pos;
		if (h[2] == VAR_ADDED && !is_boot_var(h, boot)) {
			memcpy(o + at, h, vlen); /* at <= pos: it fits */
			at = align4(at + vlen);
			if (var_named(h + VAR_HEADER, i2k_get_le32(h + 36),
				      "MemoryTypeInformation"))
				*booted = true;
		}
		pos = align4(pos + vlen);
	}
	if (at > s.end)
		at = s.end;
	memset(o + at, 0xFF, s.end - at); /* the alignment bytes of the last one */
	*out = I2K_STEAL(o);
	return 0;
}

char *i2k_efivars_warm_path(const char *code_copy, const char *template)
{
	_cleanup_free_ char *st = NULL;
	size_t len = 0;
	if (i2k_read_file(template, I2K_EFIVARS_FILE_MAX, &st, &len, NULL) < 0)
		return NULL;
	char digest[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(st, len, digest);
	size_t base = strlen(code_copy);
	if (i2k_str_has_suffix(code_copy, ".fd"))
		base -= 3;
	return i2k_xasprintf("%.*s.%.16s.vars", (int)base, code_copy, digest + 7);
}

int i2k_efivars_save_warm(const char *run_path, const char *template, const char *warm_path,
			  struct i2k_error **err)
{
	_cleanup_free_ char *run = NULL, *tmpl = NULL;
	size_t rlen = 0, tlen = 0;
	if (i2k_read_file(run_path, I2K_EFIVARS_FILE_MAX, &run, &rlen, err) < 0 ||
	    i2k_read_file(template, I2K_EFIVARS_FILE_MAX, &tmpl, &tlen, err) < 0)
		return -1;
	if (rlen != tlen)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: %zu bytes, the template %zu",
				     run_path, rlen, tlen);
	_cleanup_free_ uint8_t *packed = NULL;
	bool booted = false;
	if (i2k_efivars_compact((const uint8_t *)run, (const uint8_t *)tmpl, rlen,
				I2K_EFIVARS_BOOT_NUM, &packed, &booted, err) < 0)
		return i2k_error_wrap(err, "%s", run_path);
	if (!booted)
		return 0;
	if (i2k_write_file_atomic(warm_path, packed, rlen, 0644, err) < 0)
		return -1;
	return 1;
}

int i2k_efivars_write(const char *template, const char *path, uint16_t num, const uint8_t *opt,
		      size_t optlen, struct i2k_error **err)
{
	_cleanup_free_ char *st = NULL;
	size_t len = 0;
	if (i2k_read_file(template, I2K_EFIVARS_FILE_MAX, &st, &len, err) < 0)
		return -1;
	if (i2k_efivars_add_boot((uint8_t *)st, len, num, opt, optlen, err) < 0)
		return i2k_error_wrap(err, "%s", template);
	return i2k_write_file_atomic(path, st, len, 0600, err);
}
