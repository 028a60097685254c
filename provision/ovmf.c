/* ovmf.c — OVMF trimmed for `run qemu` (contract and why in ovmf.h). */
#include "provision/ovmf.h"

#include <dirent.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

/* Firmware volume header (PI spec vol. 3, EFI_FIRMWARE_VOLUME_HEADER) */
#define FV_LENGTH 32
#define FV_SIGNATURE 40
#define FV_ATTRIBUTES 44
#define FV_HEADER_LENGTH 48
#define FV_EXT_OFFSET 52
#define FV_MIN_HEADER 56
#define FV_EXT_SIZE 16 /* in the extended header, after the volume's GUID */
#define FVB2_ERASE_POLARITY 0x800u

/* FFS file header (EFI_FFS_FILE_HEADER): name, checksums, type, attributes,
 * 24-bit size, state; a large file has a 64-bit size after it. */
#define FFS_HEADER 24
#define FFS_CHECK_HEADER 16
#define FFS_CHECK_FILE 17
#define FFS_TYPE 18
#define FFS_ATTRS 19
#define FFS_SIZE 20
#define FFS_STATE 23
#define FFS_ATTRIB_LARGE_FILE 0x01u
#define FFS_ATTRIB_CHECKSUM 0x40u
#define FT_FREEFORM 0x02u
#define FT_PEIM 0x06u
#define FT_DRIVER 0x07u
#define FT_APPLICATION 0x09u
#define FT_FV_IMAGE 0x0Bu

/* Sections (EFI_COMMON_SECTION_HEADER, and …2 with a 32-bit size) */
#define SECT_GUID_DEFINED 0x02u
#define SECT_USER_INTERFACE 0x15u
#define SECT_FV_IMAGE 0x17u
#define SECT_RAW 0x19u
#define SECT_HEADER 4
#define GUIDED_HEADER 24 /* common header, GUID, DataOffset, Attributes */

/* EDK2's LZMA section: EE4E5898-3914-4259-9D6E-DC7BD79403CF */
static const uint8_t lzma_guid[16] = {0x98, 0x58, 0x4E, 0xEE, 0x14, 0x39, 0x59, 0x42,
				      0x9D, 0x6E, 0xDC, 0x7B, 0xD7, 0x94, 0x03, 0xCF};
#define LZMA_HEADER 13 /* properties, LE32 dictionary size, LE64 size */
#define LZMA_PRESET 6
#define DECODE_MEMLIMIT (256u << 20)
#define NEST_MAX 4

static const char *const tpm_peims[] = {"Tcg2ConfigPei", "Tcg12ConfigPei"};

/* DXE drivers for what `run qemu` never gives the guest (ovmf.h says why
 * they go): network boot (the NIC has no boot index and no option ROM),
 * a TPM, USB, a display (-vga none), NVMe, a PS/2 keyboard (i8042=off),
 * virtio-fs; and those that only serve the firmware's setup screens or
 * what needs one of the above. */
static const char *const unused_dxe[] = {
    /* network stack, network boot, iSCSI */
    "VirtioNetDxe", "SnpDxe", "MnpDxe", "VlanConfigDxe", "ArpDxe", "Ip4Dxe", "Ip6Dxe", "Udp4Dxe",
    "Udp6Dxe", "Dhcp4Dxe", "Dhcp6Dxe", "DnsDxe", "TcpDxe", "Mtftp4Dxe", "Mtftp6Dxe", "UefiPxeBcDxe",
    "HttpDxe", "HttpUtilitiesDxe", "HttpBootDxe", "TlsDxe", "TlsAuthConfigDxe", "IScsiDxe",
    "httpDynamicCommand", "tftpDynamicCommand",
    /* TPM */
    "Tcg2ConfigDxe", "Tcg2Dxe", "Tcg2PlatformDxe", "TcgDxe",
    /* USB */
    "UhciDxe", "EhciDxe", "XhciDxe", "UsbBusDxe", "UsbKbDxe", "UsbMassStorageDxe",
    /* display */
    "QemuVideoDxe", "QemuRamfbDxe", "VirtioGpuDxe",
    /* other devices */
    "NvmExpressDxe", "Ps2KeyboardDxe", "VirtioFsDxe",
    /* what only a display, the setup screens or the network stack use:
     * the boot logo and its ACPI table, a console on a graphics adapter,
     * the Secure Boot, RAM disk and driver health forms, EFI byte code
     * (option ROMs: none), the shell's initrd command, deferred procedure
     * calls (the network stack's) */
    "LogoDxe", "BootGraphicsResourceTableDxe", "GraphicsConsoleDxe", "SecureBootConfigDxe",
    "RamDiskDxe", "DriverHealthManagerDxe", "EbcDxe", "LinuxInitrdDynamicShellCommand", "DpcDxe"};

/* Applications: the UEFI shell, which OVMF offers as a boot option after
 * the disk (`run qemu` boots the disk or fails; it never types into a
 * shell), 0.9 MB of what SEC decompresses on every boot. */
static const char *const unused_apps[] = {"Shell"};

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint32_t get_le24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static void put_le24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

/* ---- volumes, files, sections ---------------------------------------------- */

struct fv {
	size_t base, end; /* the volume: [base, end) of the buffer */
	size_t first;	  /* its first file */
	uint8_t erase;
};

/* The volume whose header is at b[base..], at most avail bytes long. */
static int fv_open(const uint8_t *b, size_t base, size_t avail, struct fv *fv,
		   struct i2k_error **err)
{
	if (avail < FV_MIN_HEADER || memcmp(b + base + FV_SIGNATURE, "_FVH", 4) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "firmware volume at 0x%zx: no _FVH signature", base);
	uint64_t flen = i2k_get_le64(b + base + FV_LENGTH);
	uint16_t hlen = i2k_get_le16(b + base + FV_HEADER_LENGTH);
	uint16_t ext = i2k_get_le16(b + base + FV_EXT_OFFSET);
	if (flen > avail || hlen < FV_MIN_HEADER || hlen > flen)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "firmware volume at 0x%zx: length %llu / header %u do not fit "
				     "in %zu bytes",
				     base, (unsigned long long)flen, hlen, avail);
	size_t first = hlen;
	if (ext != 0) {
		if ((size_t)ext + FV_EXT_SIZE + 4 > flen)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "firmware volume at 0x%zx: extended header outside it",
					     base);
		uint32_t esz = i2k_get_le32(b + base + ext + FV_EXT_SIZE);
		if (esz > flen - ext)
			return i2k_error_set(err, I2K_ERR_INTEGRITY,
					     "firmware volume at 0x%zx: extended header outside it",
					     base);
		first = ext + esz;
	}
	fv->base = base;
	fv->end = base + (size_t)flen;
	fv->first = base + align_up(first, 8);
	fv->erase = (i2k_get_le32(b + base + FV_ATTRIBUTES) & FVB2_ERASE_POLARITY) ? 0xFF : 0x00;
	return 0;
}

struct ffs {
	size_t off, hdr, size; /* header at off, hdr bytes long; size with it */
	uint8_t type, attrs;
};

/* The sum a file header must have: zero, counting neither its state nor
 * its file checksum. */
static uint8_t header_sum(const uint8_t *h, size_t hdr)
{
	unsigned s = 0;
	for (size_t i = 0; i < hdr; i++)
		if (i != FFS_STATE && i != FFS_CHECK_FILE)
			s += h[i];
	return (uint8_t)s;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* The file at *pos of fv (1), or the end of its files (0); *pos moves on. */
static int fv_next(const uint8_t *b, const struct fv *fv, size_t *pos, struct ffs *f,
		   struct i2k_error **err)
{
	size_t at = fv->base + align_up(*pos - fv->base, 8);
	if (at >= fv->end || fv->end - at < FFS_HEADER || all_bytes(b + at, FFS_HEADER, fv->erase))
		return 0;
	const uint8_t *h = b + at;
	f->off = at;
	f->type = h[FFS_TYPE];
	f->attrs = h[FFS_ATTRS];
	f->hdr = FFS_HEADER;
	uint64_t size = get_le24(h + FFS_SIZE);
	if (f->attrs & FFS_ATTRIB_LARGE_FILE) {
		if (fv->end - at < FFS_HEADER + 8)
			return i2k_error_set(err, I2K_ERR_INTEGRITY, "FFS file at 0x%zx: truncated",
					     at);
		size = i2k_get_le64(h + FFS_HEADER);
		f->hdr = FFS_HEADER + 8;
	}
	if (size < f->hdr || size > fv->end - at)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "FFS file at 0x%zx: size %llu outside its volume", at,
				     (unsigned long long)size);
	if (header_sum(h, f->hdr) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "FFS file at 0x%zx: bad header checksum", at);
	f->size = (size_t)size;
	*pos = at + f->size;
	return 1;
}

struct sect {
	size_t off, hdr, size;
	uint8_t type;
};

/* The section at *pos of [start, end) (1), or the end (0); sections are
 * 4-byte aligned from start. */
static int sect_next(const uint8_t *b, size_t start, size_t end, size_t *pos, struct sect *s,
		     struct i2k_error **err)
{
	size_t at = start + align_up(*pos - start, 4);
	if (at >= end || end - at < 4)
		return 0;
	s->off = at;
	s->type = b[at + 3];
	s->hdr = 4;
	size_t size = get_le24(b + at);
	if (size == 0xFFFFFF) {
		if (end - at < 8)
			return i2k_error_set(err, I2K_ERR_INTEGRITY, "section at 0x%zx: truncated",
					     at);
		size = i2k_get_le32(b + at + 4);
		s->hdr = 8;
	}
	if (size < s->hdr || size > end - at)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "section at 0x%zx: size %zu outside its file", at, size);
	s->size = size;
	*pos = at + size;
	return 1;
}

/* ---- finding the compressed volume ------------------------------------------- */

/* The file f of fv when its last section is EDK2's LZMA section (1). */
static int lzma_file(const uint8_t *b, const struct fv *fv, const struct ffs *f,
		     struct i2k_ovmf_lzma *out, struct i2k_error **err)
{
	size_t pos = f->off + f->hdr, start = pos, end = f->off + f->size;
	struct sect s, last = {0};
	int r;
	bool any = false;
	while ((r = sect_next(b, start, end, &pos, &s, err)) == 1) {
		last = s;
		any = true;
	}
	if (r < 0)
		return -1;
	if (!any || last.type != SECT_GUID_DEFINED || last.hdr != 4 || last.size < GUIDED_HEADER ||
	    memcmp(b + last.off + 4, lzma_guid, 16) != 0)
		return 0;
	size_t data = i2k_get_le16(b + last.off + 20);
	if (data < GUIDED_HEADER || data > last.size || last.size - data < LZMA_HEADER)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "LZMA section at 0x%zx: data offset %zu outside it", last.off,
				     data);
	if (f->attrs & FFS_ATTRIB_LARGE_FILE)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "LZMA volume in a large FFS file (0x%zx)", f->off);
	out->fv_off = fv->base;
	out->fv_end = fv->end;
	out->file_off = f->off;
	out->sect_off = last.off;
	out->data_off = last.off + data;
	out->data_len = last.size - data;
	out->raw_len = i2k_get_le64(b + out->data_off + 5);
	out->erase = fv->erase;
	return 1;
}

int i2k_ovmf_find_lzma(const uint8_t *fd, size_t len, struct i2k_ovmf_lzma *out,
		       struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	for (size_t off = 0; off < len && len - off >= FV_MIN_HEADER &&
			     memcmp(fd + off + FV_SIGNATURE, "_FVH", 4) == 0;) {
		struct fv fv;
		if (fv_open(fd, off, len - off, &fv, err) < 0)
			return -1;
		size_t pos = fv.first;
		struct ffs f;
		int r;
		while ((r = fv_next(fd, &fv, &pos, &f, err)) == 1) {
			if (f.type != FT_FV_IMAGE)
				continue;
			int l = lzma_file(fd, &fv, &f, out, err);
			if (l < 0)
				return -1;
			if (l == 0)
				continue;
			/* it is rewritten with another length: nothing may follow */
			struct ffs after;
			int n = fv_next(fd, &fv, &pos, &after, err);
			if (n < 0)
				return -1;
			if (n > 0)
				return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
						     "LZMA volume at 0x%zx is not the last file of "
						     "its volume",
						     f.off);
			if (out->raw_len == 0 || out->raw_len > I2K_OVMF_VOLUME_MAX)
				return i2k_error_set(err, I2K_ERR_INTEGRITY,
						     "LZMA volume at 0x%zx: uncompressed size %llu "
						     "(at most %u)",
						     f.off, (unsigned long long)out->raw_len,
						     I2K_OVMF_VOLUME_MAX);
			return 0;
		}
		if (r < 0)
			return -1;
		off = fv.end;
	}
	return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "no LZMA-compressed firmware volume");
}

/* ---- PEIMs and drivers ----------------------------------------------------------------- */

/* The UI name of the file f, as ASCII (non-ASCII: '?'), in name[0..cap). */
static int ui_name(const uint8_t *b, const struct ffs *f, char *name, size_t cap,
		   struct i2k_error **err)
{
	size_t pos = f->off + f->hdr, start = pos, end = f->off + f->size;
	struct sect s;
	int r;
	name[0] = '\0';
	while ((r = sect_next(b, start, end, &pos, &s, err)) == 1) {
		if (s.type != SECT_USER_INTERFACE)
			continue;
		size_t n = 0;
		for (size_t i = s.off + s.hdr; i + 1 < s.off + s.size && n + 1 < cap; i += 2) {
			uint16_t c = i2k_get_le16(b + i);
			if (c == 0)
				break;
			name[n++] = c < 0x80 ? (char)c : '?';
		}
		name[n] = '\0';
		return 1;
	}
	return r;
}

/* File f of b becomes a FREEFORM file holding one RAW section of the
 * volume's erase byte: DXE dispatches nothing of it and it compresses to
 * almost nothing. Its size, place and name GUID stay; its checksums are
 * made right (the header's by the caller). */
static void blank_file(uint8_t *b, const struct ffs *f, uint8_t erase)
{
	size_t body = f->size - f->hdr;
	uint8_t *p = b + f->off + f->hdr;
	b[f->off + FFS_TYPE] = FT_FREEFORM;
	if (body < SECT_HEADER || body >= 0xFFFFFFu)
		return; /* no room for a section header, or too big for one: leave the body */
	memset(p, erase, body);
	put_le24(p, (uint32_t)body);
	p[3] = SECT_RAW;
	if (f->attrs & FFS_ATTRIB_CHECKSUM) {
		unsigned sum = 0;
		for (size_t i = 0; i < body; i++)
			sum += p[i];
		b[f->off + FFS_CHECK_FILE] = (uint8_t)(0x100 - (sum & 0xFF));
	}
}

static bool listed(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

struct wanted {
	uint8_t type; /* FT_PEIM, FT_DRIVER or FT_APPLICATION */
	const char *const *names;
	size_t n;
};

static int walk_sections(uint8_t *b, size_t start, size_t end, const struct wanted *w, int depth,
			 struct i2k_error **err);

/* The files of the volume in the FV image section s. */
static int walk_volume(uint8_t *b, const struct sect *s, const struct wanted *w, int depth,
		       struct i2k_error **err)
{
	struct fv fv;
	if (fv_open(b, s->off + s->hdr, s->size - s->hdr, &fv, err) < 0)
		return -1;
	int changed = 0, r;
	size_t pos = fv.first;
	struct ffs f;
	while ((r = fv_next(b, &fv, &pos, &f, err)) == 1) {
		if (f.type == FT_FV_IMAGE) {
			int c = walk_sections(b, f.off + f.hdr, f.off + f.size, w, depth + 1, err);
			if (c < 0)
				return -1;
			changed += c;
			continue;
		}
		if (f.type != w->type)
			continue;
		char name[64];
		int u = ui_name(b, &f, name, sizeof(name), err);
		if (u < 0)
			return -1;
		if (u == 0 || !listed(name, w->names, w->n))
			continue;
		blank_file(b, &f, fv.erase);
		b[f.off + FFS_CHECK_HEADER] = 0;
		b[f.off + FFS_CHECK_HEADER] = (uint8_t)(0x100 - header_sum(b + f.off, f.hdr));
		changed++;
	}
	return r < 0 ? -1 : changed;
}

static int walk_sections(uint8_t *b, size_t start, size_t end, const struct wanted *w, int depth,
			 struct i2k_error **err)
{
	if (depth > NEST_MAX)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "firmware volumes nested more than %d deep", NEST_MAX);
	int changed = 0, r;
	size_t pos = start;
	struct sect s;
	while ((r = sect_next(b, start, end, &pos, &s, err)) == 1) {
		if (s.type != SECT_FV_IMAGE)
			continue;
		int c = walk_volume(b, &s, w, depth, err);
		if (c < 0)
			return -1;
		changed += c;
	}
	return r < 0 ? -1 : changed;
}

int i2k_ovmf_disable_files(uint8_t *vol, size_t len, uint8_t type, const char *const *names,
			   size_t n, struct i2k_error **err)
{
	if (type != FT_PEIM && type != FT_DRIVER && type != FT_APPLICATION)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "file type 0x%02x is no PEIM, driver or application", type);
	struct wanted w = {type, names, n};
	return walk_sections(vol, 0, len, &w, 0, err);
}

/* ---- LZMA ------------------------------------------------------------------------ */

/* in[0..inlen) (the 13-byte header first) into out[0..outlen), which must
 * be exactly the stream's size. */
static int unlzma(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen,
		  struct i2k_error **err)
{
	lzma_stream z = LZMA_STREAM_INIT;
	if (lzma_alone_decoder(&z, DECODE_MEMLIMIT) != LZMA_OK)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "LZMA decoder: cannot start");
	z.next_in = in;
	z.avail_in = inlen;
	z.next_out = out;
	z.avail_out = outlen;
	lzma_ret r = lzma_code(&z, LZMA_FINISH);
	size_t got = outlen - z.avail_out;
	lzma_end(&z);
	if (r != LZMA_STREAM_END || got != outlen)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "LZMA volume: %s",
				     r == LZMA_DATA_ERROR ? "corrupt data"
				     : r == LZMA_OK || r == LZMA_BUF_ERROR
					 ? "truncated or longer than stated"
				     : r == LZMA_MEMLIMIT_ERROR ? "dictionary too large"
								: "cannot decode");
	return 0;
}

/* raw[0..len) compressed as EDK2 does (header with the size, no end
 * marker) into out[0..cap): its length, or 0 when it does not fit. */
static size_t enlzma(const uint8_t *raw, size_t len, uint8_t *out, size_t cap,
		     struct i2k_error **err)
{
	lzma_options_lzma opt;
	if (cap < LZMA_HEADER || lzma_lzma_preset(&opt, LZMA_PRESET))
		return 0;
	/* a dictionary larger than the data compresses no better */
	while (opt.dict_size / 2 >= len && opt.dict_size / 2 >= LZMA_DICT_SIZE_MIN)
		opt.dict_size /= 2;
	opt.ext_flags = 0;
	opt.ext_size_low = (uint32_t)len;
	opt.ext_size_high = (uint32_t)((uint64_t)len >> 32);
	lzma_filter filters[] = {{LZMA_FILTER_LZMA1EXT, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
	size_t pos = LZMA_HEADER;
	lzma_ret r = lzma_raw_buffer_encode(filters, NULL, raw, len, out, &pos, cap);
	if (r == LZMA_BUF_ERROR)
		return 0;
	if (r != LZMA_OK) {
		i2k_error_set(err, I2K_ERR_INTERNAL, "LZMA encoder: error %d", (int)r);
		return 0;
	}
	out[0] = (uint8_t)((opt.pb * 5 + opt.lp) * 9 + opt.lc);
	i2k_put_le32(out + 1, opt.dict_size);
	i2k_put_le64(out + 5, len);
	return pos;
}

int i2k_ovmf_trim(const uint8_t *fd, size_t len, uint8_t **out, size_t *outlen,
		  struct i2k_error **err)
{
	*out = NULL;
	*outlen = 0;
	struct i2k_ovmf_lzma z;
	if (i2k_ovmf_find_lzma(fd, len, &z, err) < 0)
		return -1;
	_cleanup_free_ uint8_t *raw = i2k_xmalloc((size_t)z.raw_len);
	if (unlzma(fd + z.data_off, z.data_len, raw, (size_t)z.raw_len, err) < 0)
		return -1;
	int n = i2k_ovmf_disable_files(raw, (size_t)z.raw_len, FT_PEIM, tpm_peims,
				       I2K_ARRAY_SIZE(tpm_peims), err);
	if (n < 0)
		return i2k_error_wrap(err, "LZMA volume");
	if (n == 0)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "no TPM-detection PEIM (Tcg2ConfigPei)");
	if (i2k_ovmf_disable_files(raw, (size_t)z.raw_len, FT_DRIVER, unused_dxe,
				   I2K_ARRAY_SIZE(unused_dxe), err) < 0 ||
	    i2k_ovmf_disable_files(raw, (size_t)z.raw_len, FT_APPLICATION, unused_apps,
				   I2K_ARRAY_SIZE(unused_apps), err) < 0)
		return i2k_error_wrap(err, "LZMA volume");
	_cleanup_free_ uint8_t *img = i2k_xmalloc(len);
	memcpy(img, fd, len);
	/* the new data may use the volume's free space up to its end, within
	 * the 24-bit sizes of the section and the file */
	size_t cap = z.fv_end - z.data_off;
	size_t limit = 0xFFFFFFu - (z.data_off - z.file_off);
	if (cap > limit)
		cap = limit;
	struct i2k_error *e = NULL;
	size_t clen = enlzma(raw, (size_t)z.raw_len, img + z.data_off, cap, &e);
	if (clen == 0) {
		if (e) {
			i2k_error_propagate(err, &e);
			return -1;
		}
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "the recompressed volume does not fit (%zu bytes of room)",
				     cap);
	}
	/* what SEC will decompress is what was meant */
	_cleanup_free_ uint8_t *check = i2k_xmalloc((size_t)z.raw_len);
	if (unlzma(img + z.data_off, clen, check, (size_t)z.raw_len, err) < 0)
		return i2k_error_wrap(err, "recompressed volume");
	if (memcmp(check, raw, (size_t)z.raw_len) != 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL,
				     "recompressed volume decompresses to other bytes");
	size_t old_end = z.file_off + get_le24(fd + z.file_off + FFS_SIZE);
	size_t new_end = z.data_off + clen;
	put_le24(img + z.sect_off, (uint32_t)(new_end - z.sect_off));
	put_le24(img + z.file_off + FFS_SIZE, (uint32_t)(new_end - z.file_off));
	size_t fill_to = z.fv_off + align_up(old_end - z.fv_off, 8);
	if (fill_to > z.fv_end)
		fill_to = z.fv_end;
	if (fill_to > new_end)
		memset(img + new_end, z.erase, fill_to - new_end);
	uint8_t *h = img + z.file_off;
	if (h[FFS_ATTRS] & FFS_ATTRIB_CHECKSUM) {
		unsigned s = 0;
		for (size_t i = z.file_off + FFS_HEADER; i < new_end; i++)
			s += img[i];
		h[FFS_CHECK_FILE] = (uint8_t)(0x100 - (uint8_t)s);
	}
	h[FFS_CHECK_HEADER] = 0;
	h[FFS_CHECK_HEADER] = (uint8_t)(0x100 - header_sum(h, FFS_HEADER));
	*out = I2K_STEAL(img);
	*outlen = len;
	return 0;
}

/* ---- the cache ------------------------------------------------------------------- */

/* A cached copy of orig_len bytes that still parses (1); 0 otherwise. */
static int copy_sound(const char *path, size_t orig_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	if (i2k_read_file(path, I2K_OVMF_FILE_MAX, &buf, &len, NULL) < 0 || len != orig_len)
		return 0;
	struct i2k_ovmf_lzma z;
	struct i2k_error *e = NULL;
	int r = i2k_ovmf_find_lzma((const uint8_t *)buf, len, &z, &e);
	i2k_error_free(e);
	return r == 0;
}

/* Removes what earlier versions of the copy left for the firmware hex in
 * dir: HEX.fd and HEX.no (version 1), HEX.V.* for another version V (its
 * copy, its "no" and its packed variable stores). */
static void drop_old_versions(const char *dir, const char *hex)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	size_t hl = strlen(hex), vl = strlen(I2K_OVMF_TRIM_VERSION);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		if (strncmp(n, hex, hl) != 0 || n[hl] != '.')
			continue;
		/* the current version's names go on "HEX.VERSION."; version 1's
		 * ("HEX.fd", "HEX.no") and any other do not */
		const char *rest = n + hl + 1;
		if (strncmp(rest, I2K_OVMF_TRIM_VERSION, vl) != 0 || rest[vl] != '.') {
			_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, n);
			unlink(p);
		}
	}
	closedir(d);
}

int i2k_ovmf_trimmed(const char *code, const char *cache_dir, char **path, bool *hit,
		     struct i2k_error **err)
{
	*path = NULL;
	if (hit)
		*hit = false;
	_cleanup_free_ char *fw = NULL;
	size_t len = 0;
	if (i2k_read_file(code, I2K_OVMF_FILE_MAX, &fw, &len, err) < 0)
		return -1;
	char digest[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(fw, len, digest);
	const char *hex = digest + 7;
	_cleanup_free_ char *dir = i2k_xasprintf("%s/ovmf", cache_dir);
	_cleanup_free_ char *copy = i2k_xasprintf("%s/%s.%s.fd", dir, hex, I2K_OVMF_TRIM_VERSION);
	_cleanup_free_ char *nopath = i2k_xasprintf("%s/%s.%s.no", dir, hex, I2K_OVMF_TRIM_VERSION);
	if (copy_sound(copy, len)) {
		if (hit)
			*hit = true;
		*path = I2K_STEAL(copy);
		return 0;
	}
	unlink(copy); /* absent or damaged: made again */
	_cleanup_free_ char *why = NULL;
	size_t wlen = 0;
	if (i2k_read_file(nopath, 4096, &why, &wlen, NULL) == 0) {
		why[strcspn(why, "\n")] = '\0';
		if (hit)
			*hit = true;
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "%s", why);
	}
	_cleanup_free_ uint8_t *out = NULL;
	size_t outlen = 0;
	struct i2k_error *e = NULL;
	if (i2k_ovmf_trim((const uint8_t *)fw, len, &out, &outlen, &e) < 0) {
		if ((e->code == I2K_ERR_UNSUPPORTED || e->code == I2K_ERR_INTEGRITY) &&
		    i2k_mkdir_p(dir, 0700, NULL) == 0) {
			_cleanup_free_ char *line = i2k_xasprintf("%s\n", e->msg);
			i2k_write_file_atomic(nopath, line, strlen(line), 0600, NULL);
		}
		i2k_error_propagate(err, &e);
		return -1;
	}
	if (i2k_mkdir_p(dir, 0700, err) < 0 ||
	    i2k_write_file_atomic(copy, out, outlen, 0644, err) < 0)
		return -1;
	drop_old_versions(dir, hex);
	*path = I2K_STEAL(copy);
	return 0;
}

void i2k_ovmf_usage(const char *cache_dir, size_t *copies, size_t *stores, uint64_t *bytes)
{
	_cleanup_free_ char *dir = i2k_xasprintf("%s/ovmf", cache_dir);
	uint64_t ignored = 0;
	i2k_dir_usage(dir, ".vars", stores, &ignored);
	i2k_dir_usage(dir, ".fd", copies, bytes);
}
