/* uki.c — see uki.h: systemd stub + sections → a unified kernel image. */
#include "kernel/uki.h"
#include "builder/base/bytes.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define PAGE 4096u
#define SEC_HDR 40u
#define SCN_DATA_READ 0x40000040u /* IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ */
#define CHUNK (1u << 20)

/* Offsets inside the PE32+ optional header. */
#define OPT_SIZE_OF_INIT_DATA 8
#define OPT_SECTION_ALIGN 32
#define OPT_FILE_ALIGN 36
#define OPT_SIZE_OF_IMAGE 56
#define OPT_SIZE_OF_HEADERS 60
#define OPT_CHECKSUM 64
#define OPT_NUM_RVA 108
#define OPT_DATA_DIRS 112
#define DIR_SECURITY 4

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

const char *i2k_uki_stub_path(const char *stub_path)
{
	return stub_path && *stub_path ? stub_path : I2K_UKI_DEFAULT_STUB;
}

/* What the stub's headers say. */
struct pe {
	uint32_t pe_off, opt_off, sect_off;
	uint16_t nsec;
	uint32_t sect_align, file_align, size_of_headers;
	uint32_t data_end;   /* end of the last section's raw data */
	uint32_t va_end;     /* end of the last section in memory */
	uint32_t first_data; /* lowest PointerToRawData of a section with data */
};

static int bad_pe(struct i2k_error **err, const char *path, const char *why)
{
	return i2k_error_set(err, I2K_ERR_CONFIG, "EFI stub %s: not a PE/COFF file: %s", path, why);
}

static int parse_pe(const uint8_t *d, size_t len, const char *path, struct pe *pe,
		    struct i2k_error **err)
{
	memset(pe, 0, sizeof(*pe));
	if (len < 0x40 || d[0] != 'M' || d[1] != 'Z')
		return bad_pe(err, path, "no MZ header");
	pe->pe_off = i2k_get_le32(d + 0x3c);
	if (pe->pe_off < 0x40 || (uint64_t)pe->pe_off + 24 > len)
		return bad_pe(err, path, "bad PE header offset");
	if (memcmp(d + pe->pe_off, "PE\0\0", 4) != 0)
		return bad_pe(err, path, "no PE signature");
	const uint8_t *coff = d + pe->pe_off + 4;
	pe->nsec = i2k_get_le16(coff + 2);
	uint16_t opt_size = i2k_get_le16(coff + 16);
	pe->opt_off = pe->pe_off + 24;
	if (opt_size < OPT_DATA_DIRS || (uint64_t)pe->opt_off + opt_size > len ||
	    i2k_get_le16(d + pe->opt_off) != 0x20b)
		return bad_pe(err, path, "not PE32+");
	const uint8_t *opt = d + pe->opt_off;
	pe->sect_off = pe->opt_off + opt_size;
	if ((uint64_t)pe->sect_off + (uint64_t)SEC_HDR * pe->nsec > len ||
	    pe->nsec > I2K_UKI_MAX_SECTIONS - 4)
		return bad_pe(err, path, "section table out of bounds");
	pe->sect_align = i2k_get_le32(opt + OPT_SECTION_ALIGN);
	pe->file_align = i2k_get_le32(opt + OPT_FILE_ALIGN);
	pe->size_of_headers = i2k_get_le32(opt + OPT_SIZE_OF_HEADERS);
	if (!pe->sect_align || !pe->file_align || (pe->sect_align & (pe->sect_align - 1)) ||
	    (pe->file_align & (pe->file_align - 1)) || pe->file_align > 65536 ||
	    pe->sect_align > (1u << 24))
		return bad_pe(err, path, "bad alignment");
	pe->data_end = pe->size_of_headers;
	pe->first_data = pe->size_of_headers;
	for (uint16_t i = 0; i < pe->nsec; i++) {
		const uint8_t *s = d + pe->sect_off + SEC_HDR * i;
		uint32_t vsize = i2k_get_le32(s + 8), va = i2k_get_le32(s + 12),
			 raw = i2k_get_le32(s + 16), ptr = i2k_get_le32(s + 20);
		if (raw && ((uint64_t)ptr + raw > len))
			return bad_pe(err, path, "section data out of bounds");
		if (raw && ptr + raw > pe->data_end)
			pe->data_end = ptr + raw;
		if (raw && ptr < pe->first_data)
			pe->first_data = ptr;
		uint64_t vend = (uint64_t)va + (vsize ? vsize : raw);
		if (vend > UINT32_MAX / 2)
			return bad_pe(err, path, "section data out of bounds");
		if (vend > pe->va_end)
			pe->va_end = (uint32_t)vend;
		if (memcmp(s, ".linux\0", 8) == 0)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "EFI stub %s already has a .linux section", path);
	}
	if (pe->data_end > len)
		return bad_pe(err, path, "section data out of bounds");
	return 0;
}

/* A new section's content: a string or a file range. */
struct part {
	const char *name;
	const char *text;
	const struct i2k_uki_input *in;
	const char *what; /* for read errors */
	uint64_t size;
};

static int copy_input(const struct part *p, i2k_uki_write_fn write, void *ctx, uint8_t *buf,
		      struct i2k_error **err)
{
	uint64_t done = 0;
	while (done < p->size) {
		size_t n = p->size - done < CHUNK ? (size_t)(p->size - done) : CHUNK;
		if (i2k_check_interrupt(err) < 0)
			return -1;
		if (i2k_pread_all(p->in->fd, buf, n, (off_t)(p->in->off + done), err) < 0)
			return i2k_error_wrap(err, "reading the %s", p->what);
		if (write(ctx, buf, n, err) < 0)
			return -1;
		done += n;
	}
	return 0;
}

static int write_zeros(i2k_uki_write_fn write, void *ctx, uint64_t n, struct i2k_error **err)
{
	static const uint8_t z[4096];
	while (n) {
		size_t k = n < sizeof(z) ? (size_t)n : sizeof(z);
		if (write(ctx, z, k, err) < 0)
			return -1;
		n -= k;
	}
	return 0;
}

int i2k_uki_build(const struct i2k_uki_opts *o, i2k_uki_write_fn write, void *ctx,
		  struct i2k_uki_layout *layout, struct i2k_error **err)
{
	const char *path = i2k_uki_stub_path(o->stub_path);
	_cleanup_free_ char *stub = NULL;
	size_t len = 0;
	if (i2k_read_file(path, I2K_UKI_STUB_MAX, &stub, &len, err) < 0) {
		if (*err && (*err)->code != I2K_ERR_INTEGRITY)
			(*err)->code = I2K_ERR_NOTFOUND;
		return i2k_error_wrap(err, "EFI stub %s", path);
	}
	uint8_t *d = (uint8_t *)stub;
	struct pe pe;
	if (parse_pe(d, len, path, &pe, err) < 0)
		return -1;
	if (o->kernel.size == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "UKI: the kernel is empty");

	struct part parts[4];
	size_t np = 0;
	if (o->osrel)
		parts[np++] = (struct part){".osrel", o->osrel, NULL, NULL, strlen(o->osrel)};
	if (o->cmdline && *o->cmdline)
		parts[np++] = (struct part){".cmdline", o->cmdline, NULL, NULL, strlen(o->cmdline)};
	if (o->initrd.size)
		parts[np++] = (struct part){".initrd", NULL, &o->initrd, "initrd", o->initrd.size};
	parts[np++] = (struct part){".linux", NULL, &o->kernel, "kernel", o->kernel.size};

	uint64_t table_end = pe.sect_off + (uint64_t)SEC_HDR * (pe.nsec + np);
	if (table_end > pe.size_of_headers || table_end > pe.first_data)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "%s: no room for %zu more section headers", path, np);

	/* Place the new sections. */
	uint64_t va_align = pe.sect_align > PAGE ? pe.sect_align : PAGE;
	uint64_t va = align_up(pe.va_end, va_align), fo = align_up(pe.data_end, pe.file_align);
	uint64_t init_data = 0;
	struct i2k_uki_section news[4];
	for (size_t i = 0; i < np; i++) {
		uint64_t raw = align_up(parts[i].size, pe.file_align);
		if (va + parts[i].size > UINT32_MAX || fo + raw > UINT32_MAX)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "UKI: %s makes the image larger than 4 GiB",
					     parts[i].name);
		news[i] = (struct i2k_uki_section){.rva = (uint32_t)va,
						   .vsize = (uint32_t)parts[i].size,
						   .file_off = (uint32_t)fo,
						   .raw_size = (uint32_t)raw};
		snprintf(news[i].name, sizeof(news[i].name), "%s", parts[i].name);
		uint8_t *h = d + pe.sect_off + SEC_HDR * (pe.nsec + i);
		memset(h, 0, SEC_HDR);
		memcpy(h, parts[i].name, strlen(parts[i].name));
		i2k_put_le32(h + 8, news[i].vsize);
		i2k_put_le32(h + 12, news[i].rva);
		i2k_put_le32(h + 16, news[i].raw_size);
		i2k_put_le32(h + 20, news[i].file_off);
		i2k_put_le32(h + 36, SCN_DATA_READ);
		init_data += raw;
		va = align_up(va + parts[i].size, va_align);
		fo += raw;
	}
	uint8_t *coff = d + pe.pe_off + 4, *opt = d + pe.opt_off;
	uint64_t last_end = news[np - 1].rva + (uint64_t)news[np - 1].vsize;
	uint32_t size_of_image = (uint32_t)align_up(last_end, pe.sect_align);
	i2k_put_le16(coff + 2, (uint16_t)(pe.nsec + np));
	i2k_put_le32(coff + 8, 0);  /* PointerToSymbolTable: the symbols are not copied */
	i2k_put_le32(coff + 12, 0); /* NumberOfSymbols */
	i2k_put_le32(opt + OPT_SIZE_OF_INIT_DATA,
		     (uint32_t)(i2k_get_le32(opt + OPT_SIZE_OF_INIT_DATA) + init_data));
	i2k_put_le32(opt + OPT_SIZE_OF_IMAGE, size_of_image);
	i2k_put_le32(opt + OPT_CHECKSUM, 0);
	uint32_t nrva = i2k_get_le32(opt + OPT_NUM_RVA);
	if (nrva > DIR_SECURITY &&
	    pe.opt_off + OPT_DATA_DIRS + 8 * (DIR_SECURITY + 1) <= pe.sect_off)
		memset(opt + OPT_DATA_DIRS + 8 * DIR_SECURITY, 0, 8);

	if (layout) {
		memset(layout, 0, sizeof(*layout));
		for (uint16_t i = 0; i < pe.nsec + np; i++) {
			const uint8_t *s = d + pe.sect_off + SEC_HDR * i;
			struct i2k_uki_section *ls = &layout->s[layout->n++];
			memcpy(ls->name, s, 8);
			ls->vsize = i2k_get_le32(s + 8);
			ls->rva = i2k_get_le32(s + 12);
			ls->raw_size = i2k_get_le32(s + 16);
			ls->file_off = i2k_get_le32(s + 20);
		}
		layout->size = fo;
		layout->size_of_image = size_of_image;
	}

	/* Stream: the patched stub, then each section padded to FileAlignment. */
	if (write(ctx, d, pe.data_end, err) < 0 ||
	    write_zeros(write, ctx, news[0].file_off - pe.data_end, err) < 0)
		return -1;
	_cleanup_free_ uint8_t *buf = i2k_xmalloc(CHUNK);
	for (size_t i = 0; i < np; i++) {
		const struct part *p = &parts[i];
		if (p->text ? write(ctx, p->text, p->size, err) < 0
			    : copy_input(p, write, ctx, buf, err) < 0)
			return -1;
		if (write_zeros(write, ctx, news[i].raw_size - p->size, err) < 0)
			return -1;
	}
	return 0;
}

static int spool_write(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	return i2k_spool_write(ctx, buf, len, err);
}

int i2k_uki_build_spool(const struct i2k_uki_opts *o, struct i2k_spool *spool, uint64_t *off,
			uint64_t *size, struct i2k_error **err)
{
	if (i2k_spool_begin(spool, off, err) < 0)
		return -1;
	if (i2k_uki_build(o, spool_write, spool, NULL, err) < 0) {
		i2k_spool_abort(spool);
		return -1;
	}
	return i2k_spool_end(spool, size, err);
}
