/* test_efivars.c — provision/esp and provision/efivars: the UKI command
 * line read from a disk's ESP, and the OVMF variable store with a boot
 * entry for it.
 *
 * ESP: disks made here with the standard tools (sgdisk, mkfs.vfat, mmd and
 * mcopy: the FAT12, FAT16 and FAT32 that they write, not ours), holding a
 * small PE file with a .cmdline section written by the test; also through
 * a qcow2 and a VHD (formats/container's writers); and disks without a
 * GPT, an ESP, the loader or the section. The store: Debian's
 * OVMF_VARS_4M.fd (the ovmf package) with the entry added, read back by
 * a walk written here; entries replaced; a full, a damaged and a foreign
 * store; the packed store of a booted one. The boot that reads them is
 * tests/integration/50-uefi-boot's. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/container/container.h"
#include "formats/container/vhd.h"
#include "provision/efivars.h"
#include "provision/esp.h"
#include "tests/unit/test.h"

static char tmp[256];

static char *tpath(const char *name)
{
	return i2k_xasprintf("%s/%s", tmp, name);
}

static int sh(const char *cmd)
{
	_cleanup_free_ char *full =
	    i2k_xasprintf("set -e; cd '%s'; ( %s ) >/dev/null 2>&1", tmp, cmd);
	int rc = system(full);
	if (rc != 0)
		fprintf(stderr, "  failed: %s\n", cmd);
	return rc;
}

/* ---- the ESP ----------------------------------------------------------------- */

/* A PE file of size bytes: MZ, PE header, one optional header of 240 bytes,
 * sections .text and (with cmdline) .cmdline holding it and a NUL. */
static void write_pe(const char *path, const char *cmdline, size_t size)
{
	_cleanup_free_ uint8_t *b = i2k_xcalloc(1, size);
	b[0] = 'M';
	b[1] = 'Z';
	i2k_put_le32(b + 0x3C, 0x80);
	memcpy(b + 0x80, "PE\0\0", 4);
	uint16_t nsec = cmdline ? 2 : 1;
	i2k_put_le16(b + 0x80 + 6, nsec);
	i2k_put_le16(b + 0x80 + 20, 240);
	uint8_t *t = b + 0x80 + 24 + 240;
	memcpy(t, ".text\0\0\0", 8);
	i2k_put_le32(t + 8, 0x200);
	i2k_put_le32(t + 16, 0x200);
	i2k_put_le32(t + 20, 0x400);
	if (cmdline) {
		uint8_t *c = t + 40;
		size_t n = strlen(cmdline) + 1;
		uint32_t at = (uint32_t)(size - 0x1000); /* far into the file: several clusters */
		memcpy(c, ".cmdline", 8);
		i2k_put_le32(c + 8, (uint32_t)n);
		i2k_put_le32(c + 16, 0x200);
		i2k_put_le32(c + 20, at);
		memcpy(b + at, cmdline, n);
	}
	struct i2k_error *e = NULL;
	if (i2k_write_file_atomic(path, b, size, 0644, &e) < 0)
		abort();
}

/* NAME: a GPT with a Linux partition (1) and then the ESP (2, at LBA 4096,
 * with a unique GUID of the test's) of mb MiB, a FAT of the given bits
 * made by mkfs.vfat, with \EFI\BOOT\BOOTX64.EFI = the file loader (NULL:
 * the directories only). */
static int make_disk(const char *name, int bits, unsigned mb, const char *loader)
{
	_cleanup_free_ char *copy =
	    loader ? i2k_xasprintf("; mcopy -i %s@@2M %s ::/EFI/BOOT/BOOTX64.EFI", name, loader)
		   : i2k_xstrdup("");
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("rm -f %s; truncate -s %uM %s; "
			  "sgdisk -n 1:2048:+1M -t 1:8300 -n 2:4096:+%uM -t 2:EF00 "
			  "-u 2:0FC63DAF-8483-4772-8E79-3D69D8477DE4 %s; "
			  "mkfs.vfat -F %d %s --offset 4096 %s %u; "
			  "mmd -i %s@@2M ::/EFI ::/EFI/BOOT%s",
			  name, mb + 4, name, mb, name, bits, bits == 32 ? "-s 1" : "", name,
			  mb * 1024, name, copy);
	return sh(cmd);
}

static void expect_cmdline(const char *disk, const char *want)
{
	struct i2k_esp esp = {0};
	_cleanup_free_ char *cmd = NULL;
	OK(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e));
	CHECK_STR(cmd, want);
	CHECK_INT(esp.number, 2);
	CHECK_INT(esp.first_lba, 4096);
	static const uint8_t guid[16] = {0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47,
					 0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4};
	CHECK(memcmp(esp.unique, guid, 16) == 0);
}

TEST(esp_fat12_16_32)
{
	_cleanup_free_ char *pe = tpath("uki.efi");
	write_pe(pe, "console=ttyS0 root=/dev/vda2 quiet \n", 64 << 10);
	static const struct {
		int bits;
		unsigned mb;
	} fs[] = {{12, 4}, {16, 20}, {32, 40}};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(fs); i++) {
		_cleanup_free_ char *disk = tpath("disk.img");
		CHECK(make_disk("disk.img", fs[i].bits, fs[i].mb, pe) == 0);
		_cleanup_free_ char *fsck = i2k_xasprintf(
		    "dd if=disk.img of=esp.img bs=1M skip=2 count=%u; fsck.fat -n esp.img",
		    fs[i].mb);
		CHECK(sh(fsck) == 0);
		expect_cmdline(disk, "console=ttyS0 root=/dev/vda2 quiet");
	}
	/* the size: last LBA - first LBA + 1 */
	struct i2k_esp esp = {0};
	_cleanup_free_ char *cmd = NULL, *disk = tpath("disk.img");
	OK(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e));
	CHECK_INT(esp.sectors, 40u * 2048);
}

TEST(esp_through_containers)
{
	_cleanup_free_ char *pe = tpath("uki.efi"), *raw = tpath("disk.img");
	write_pe(pe, "console=ttyS0", 40 << 10);
	CHECK(make_disk("disk.img", 16, 20, pe) == 0);
	struct stat st;
	CHECK(stat(raw, &st) == 0);
	/* a VHD's size is whole MiB with its CHS geometry: the raw disk grows
	 * to it (its backup GPT is then not at the end; only the primary is read) */
	uint64_t size = i2k_vhd_round_size((uint64_t)st.st_size);
	CHECK(truncate(raw, (off_t)size) == 0);
	static const enum i2k_container_kind kinds[] = {I2K_CONTAINER_QCOW2,
							I2K_CONTAINER_VHD_DYNAMIC};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(kinds); i++) {
		_cleanup_free_ char *out = tpath(i ? "disk.vhd" : "disk.qcow2");
		int fd = open(raw, O_RDONLY);
		CHECK(fd >= 0);
		OK(i2k_container_write_file(kinds[i], fd, 0, size, out, NULL, &_e));
		close(fd);
		expect_cmdline(out, "console=ttyS0");
	}
}

TEST(esp_missing_parts)
{
	_cleanup_free_ char *pe = tpath("nocmd.efi"), *disk = tpath("disk.img");
	struct i2k_esp esp;
	char *cmd = NULL;
	/* no .cmdline: a plain EFI program */
	write_pe(pe, NULL, 16 << 10);
	CHECK(make_disk("disk.img", 16, 20, pe) == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_UNSUPPORTED,
	      "BOOTX64.EFI: no .cmdline section (not a unified kernel image)");
	/* no loader */
	CHECK(make_disk("disk.img", 16, 20, NULL) == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_UNSUPPORTED,
	      "ESP: no \\EFI\\BOOT\\BOOTX64.EFI");
	/* not FAT */
	CHECK(sh("dd if=/dev/zero of=disk.img bs=1M seek=2 count=1 conv=notrunc") == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_UNSUPPORTED,
	      "ESP: not a FAT file system");
	/* no ESP: the partition's type changed to Linux */
	CHECK(sh("sgdisk -t 2:8300 disk.img") == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_UNSUPPORTED,
	      "no EFI system partition");
	/* no GPT at all */
	CHECK(sh("rm -f disk.img; truncate -s 8M disk.img") == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_UNSUPPORTED,
	      "no EFI system partition");
	/* a command line that is not ASCII */
	write_pe(pe, "console=ttyS0 caf\xc3\xa9", 16 << 10);
	CHECK(make_disk("disk.img", 16, 20, pe) == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_UNSUPPORTED,
	      "BOOTX64.EFI: .cmdline: not printable ASCII");
	CHECK(cmd == NULL);
}

TEST(esp_damaged)
{
	_cleanup_free_ char *pe = tpath("uki.efi"), *disk = tpath("disk.img");
	struct i2k_esp esp;
	char *cmd = NULL;
	write_pe(pe, "console=ttyS0", 64 << 10);
	CHECK(make_disk("disk.img", 16, 20, pe) == 0);
	/* FAT16 entries from cluster 5 on zeroed: the directories (clusters 2
	 * and 3) hold, the loader's chain (from cluster 4) is cut */
	CHECK(sh("dd if=/dev/zero of=disk.img bs=1 seek=$(((4096 + 4) * 512 + 10)) count=4000 "
		 "conv=notrunc") == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_INTEGRITY,
	      "ESP: cluster chain ends before the file does");
	/* ... and from cluster 3 on: the BOOT directory's chain is cut */
	CHECK(sh("dd if=/dev/zero of=disk.img bs=1 seek=$(((4096 + 4) * 512 + 6)) count=4 "
		 "conv=notrunc") == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_INTEGRITY,
	      "ESP: directory's cluster chain is broken");
	/* a file system larger than its partition */
	CHECK(make_disk("disk.img", 16, 20, pe) == 0);
	CHECK(sh("printf '\\377\\377\\377\\000' | dd of=disk.img bs=1 seek=$((2097152 + 32)) "
		 "conv=notrunc && printf '\\000\\000' | dd of=disk.img bs=1 "
		 "seek=$((2097152 + 19)) conv=notrunc") == 0);
	FAILS(i2k_esp_uki_cmdline(disk, &esp, &cmd, &_e), I2K_ERR_INTEGRITY,
	      "ESP: file system larger than its partition");
	CHECK(cmd == NULL);
}

/* ---- the variable store ------------------------------------------------------ */

#define DEBIAN_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define STORE_START 0x64 /* Debian's: FV header 0x48 + store header 28 */

struct var {
	size_t off, len;
	uint8_t state;
	char name[64];
	const uint8_t *data;
	size_t dlen;
};

/* The variables of a store laid out as Debian's (an independent walk). */
static size_t walk(const uint8_t *st, size_t len, struct var *v, size_t max)
{
	size_t n = 0, pos = STORE_START;
	while (n < max && pos + 60 < len && st[pos] == 0xAA && st[pos + 1] == 0x55) {
		uint32_t ns = i2k_get_le32(st + pos + 36), ds = i2k_get_le32(st + pos + 40);
		struct var *x = &v[n++];
		x->off = pos;
		x->state = st[pos + 2];
		size_t k = 0;
		for (; k < ns / 2 && k + 1 < sizeof(x->name); k++)
			x->name[k] = (char)st[pos + 60 + 2 * k];
		x->name[k] = '\0';
		x->data = st + pos + 60 + ns;
		x->dlen = ds;
		x->len = 60 + ns + ds;
		pos = (pos + x->len + 3) & ~(size_t)3;
	}
	return n;
}

static uint8_t *debian_vars(size_t *len)
{
	char *b = NULL;
	struct i2k_error *e = NULL;
	if (i2k_read_file(DEBIAN_VARS, I2K_EFIVARS_FILE_MAX, &b, len, &e) < 0) {
		fprintf(stderr, "  %s: %s (the ovmf package: make deps installs it)\n", DEBIAN_VARS,
			e->msg);
		i2k_error_free(e);
		return NULL;
	}
	return (uint8_t *)b;
}

static const struct i2k_esp test_esp = {.number = 1,
					.first_lba = 2048,
					.sectors = 67584,
					.unique = {0x7E, 0xD3, 0x12, 0x28, 0xA5, 0x4E, 0x32, 0x4A,
						   0x90, 0x1C, 0x45, 0x21, 0xB1, 0x7C, 0xEB, 0x59}};

TEST(load_option_layout)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *o =
	    i2k_efivars_load_option(&test_esp, I2K_ESP_LOADER, "i2kit", "console=ttyS0 q", &len);
	CHECK_INT(i2k_get_le32(o), 1); /* LOAD_OPTION_ACTIVE */
	size_t plen = i2k_get_le16(o + 4);
	/* HD 42 + File (4 + 2 * 22) + End 4 */
	CHECK_INT(plen, 42 + 48 + 4);
	static const uint8_t desc[] = {'i', 0, '2', 0, 'k', 0, 'i', 0, 't', 0, 0, 0};
	CHECK(memcmp(o + 6, desc, sizeof(desc)) == 0);
	const uint8_t *p = o + 6 + sizeof(desc);
	CHECK(p[0] == 4 && p[1] == 1 && i2k_get_le16(p + 2) == 42);
	CHECK_INT(i2k_get_le32(p + 4), 1);
	CHECK_INT(i2k_get_le64(p + 8), 2048);
	CHECK_INT(i2k_get_le64(p + 16), 67584);
	CHECK(memcmp(p + 24, test_esp.unique, 16) == 0);
	CHECK(p[40] == 2 && p[41] == 2);
	p += 42;
	CHECK(p[0] == 4 && p[1] == 4 && i2k_get_le16(p + 2) == 48);
	CHECK(p[4] == '\\' && p[5] == 0 && p[6] == 'E' && p[46] == 0 && p[47] == 0);
	p += 48;
	CHECK(p[0] == 0x7F && p[1] == 0xFF && i2k_get_le16(p + 2) == 4);
	p += 4;
	/* the options: UCS-2, no terminator */
	CHECK_INT(len, (size_t)(p - o) + 2 * 15);
	CHECK(p[0] == 'c' && p[1] == 0 && p[28] == 'q' && p[29] == 0);
}

TEST(store_add_boot)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *st = debian_vars(&len);
	CHECK(st != NULL);
	if (st == NULL)
		return;
	_cleanup_free_ uint8_t *orig = i2k_xmalloc(len);
	memcpy(orig, st, len);
	size_t olen = 0;
	_cleanup_free_ uint8_t *opt =
	    i2k_efivars_load_option(&test_esp, I2K_ESP_LOADER, "i2kit", "console=ttyS0", &olen);
	OK(i2k_efivars_add_boot(st, len, 0x80, opt, olen, &_e));
	struct var v[16];
	size_t n = walk(st, len, v, 16);
	CHECK_INT(n, 2);
	CHECK_STR(v[0].name, "Boot0080");
	CHECK_INT(v[0].state, 0x3F);
	CHECK_INT(i2k_get_le32(st + v[0].off + 4), 7);
	CHECK(v[0].dlen == olen && memcmp(v[0].data, opt, olen) == 0);
	CHECK_STR(v[1].name, "BootOrder");
	CHECK(v[1].dlen == 2 && v[1].data[0] == 0x80 && v[1].data[1] == 0);
	CHECK_INT(v[1].off % 4, 0);
	/* nothing else changed */
	CHECK(memcmp(st, orig, STORE_START) == 0);
	size_t end = v[1].off + v[1].len;
	CHECK(memcmp(st + end, orig + end, len - end) == 0);
	/* again: the first two are replaced, two more follow */
	OK(i2k_efivars_add_boot(st, len, 0x80, opt, olen, &_e));
	n = walk(st, len, v, 16);
	CHECK_INT(n, 4);
	CHECK(v[0].state == 0x3C && v[1].state == 0x3C);
	CHECK(v[2].state == 0x3F && v[3].state == 0x3F);
	CHECK_STR(v[3].name, "BootOrder");
	/* the file level */
	_cleanup_free_ char *out = tpath("vars.fd");
	OK(i2k_efivars_write(DEBIAN_VARS, out, 0x80, opt, olen, &_e));
	_cleanup_free_ char *back = NULL;
	size_t blen = 0;
	OK(i2k_read_file(out, I2K_EFIVARS_FILE_MAX, &back, &blen, &_e));
	CHECK_INT(blen, len);
	CHECK_INT(walk((uint8_t *)back, blen, v, 16), 2);
	struct stat sb;
	CHECK(stat(out, &sb) == 0 && (sb.st_mode & 0777) == 0600);
}

TEST(store_errors)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *st = debian_vars(&len);
	if (st == NULL)
		return;
	uint8_t opt[8] = {1};
	_cleanup_free_ uint8_t *d = i2k_xmalloc(len);
	/* not a volume */
	memcpy(d, st, len);
	memcpy(d + 40, "_XXX", 4);
	FAILS(i2k_efivars_add_boot(d, len, 0x80, opt, 8, &_e), I2K_ERR_UNSUPPORTED,
	      "not an OVMF variable store: no firmware volume header");
	/* not an authenticated store */
	memcpy(d, st, len);
	d[0x48] ^= 0xFF;
	FAILS(i2k_efivars_add_boot(d, len, 0x80, opt, 8, &_e), I2K_ERR_UNSUPPORTED,
	      "not an OVMF variable store: not an authenticated variable store");
	/* not healthy */
	memcpy(d, st, len);
	d[0x48 + 21] = 0xFF;
	FAILS(i2k_efivars_add_boot(d, len, 0x80, opt, 8, &_e), I2K_ERR_UNSUPPORTED,
	      "not an OVMF variable store: not formatted and healthy");
	/* a store larger than its volume */
	memcpy(d, st, len);
	i2k_put_le32(d + 0x48 + 16, 0x7FFFFFFF);
	FAILS(i2k_efivars_add_boot(d, len, 0x80, opt, 8, &_e), I2K_ERR_UNSUPPORTED,
	      "not an OVMF variable store: store size does not fit its volume");
	/* a variable running past the store */
	memcpy(d, st, len);
	OK(i2k_efivars_add_boot(d, len, 0x80, opt, 8, &_e));
	i2k_put_le32(d + STORE_START + 40, 0x10000000);
	FAILS(i2k_efivars_add_boot(d, len, 0x80, opt, 8, &_e), I2K_ERR_INTEGRITY,
	      "variable store: variable at 0x64 runs past the store");
	/* full: a variable as large as the store leaves no room */
	memcpy(d, st, len);
	uint32_t size = i2k_get_le32(st + 0x48 + 16);
	_cleanup_free_ uint8_t *big = i2k_xcalloc(1, size - 28 - 60 - 18 - 40);
	FAILS(i2k_efivars_add_boot(d, len, 0x80, big, size - 28 - 60 - 18 - 40, &_e),
	      I2K_ERR_UNSUPPORTED, "variable store full");
	/* bytes after the last variable that are not free */
	memcpy(d, st, len);
	d[STORE_START + 100] = 0;
	FAILS(i2k_efivars_add_boot(d, len, 0x80, opt, 8, &_e), I2K_ERR_INTEGRITY,
	      "variable store: bytes at 0xc8 after the last variable are not free");
}

/* Appends a variable as OVMF would (state given) at *pos. */
static void put(uint8_t *st, size_t *pos, const char *name, uint8_t state, const char *data)
{
	uint8_t *h = st + *pos;
	size_t nl = (strlen(name) + 1) * 2, dl = strlen(data);
	memset(h, 0, 60);
	i2k_put_le16(h, 0x55AA);
	h[2] = state;
	i2k_put_le32(h + 4, 7);
	i2k_put_le32(h + 36, (uint32_t)nl);
	i2k_put_le32(h + 40, (uint32_t)dl);
	static const uint8_t global[16] = {0x61, 0xDF, 0xE4, 0x8B, 0xCA, 0x93, 0xD2, 0x11,
					   0xAA, 0x0D, 0x00, 0xE0, 0x98, 0x03, 0x2B, 0x8C};
	memcpy(h + 44, global, 16);
	for (size_t i = 0; i < nl / 2; i++) {
		h[60 + 2 * i] = (uint8_t)name[i];
		h[60 + 2 * i + 1] = 0;
	}
	memcpy(h + 60 + nl, data, dl);
	*pos = (*pos + 60 + nl + dl + 3) & ~(size_t)3;
}

TEST(store_compact)
{
	size_t len = 0;
	_cleanup_free_ uint8_t *tmpl = debian_vars(&len);
	if (tmpl == NULL)
		return;
	_cleanup_free_ uint8_t *run = i2k_xmalloc(len);
	memcpy(run, tmpl, len);
	size_t pos = STORE_START;
	put(run, &pos, "Boot0080", 0x3F, "old entry");
	put(run, &pos, "BootOrder", 0x3C, "\x80");
	put(run, &pos, "ConOut", 0x3C, "first");
	put(run, &pos, "ConOut", 0x3F, "second");
	put(run, &pos, "BootOrder", 0x3F, "\x80\x00\x01");
	put(run, &pos, "Boot0001", 0x3F, "misc device");
	put(run, &pos, "Lang", 0x7F, "torn"); /* header only: not live */
	/* the fault-tolerant-write area after the store differs in the run */
	run[len - 100] ^= 0x55;
	_cleanup_free_ uint8_t *out = NULL;
	bool booted = true;
	OK(i2k_efivars_compact(run, tmpl, len, 0x80, &out, &booted, &_e));
	CHECK(!booted);
	if (out == NULL)
		return;
	struct var v[16];
	size_t n = walk(out, len, v, 16);
	CHECK_INT(n, 2);
	CHECK_STR(v[0].name, "ConOut");
	CHECK(v[0].dlen == 6 && memcmp(v[0].data, "second", 6) == 0);
	CHECK_STR(v[1].name, "Boot0001");
	CHECK(memcmp(out + len - 100, tmpl + len - 100, 100) == 0);
	size_t end = v[1].off + v[1].len;
	bool erased = true;
	for (size_t i = end; i < STORE_START + 0x3FFB8 - 28; i++)
		erased = erased && out[i] == 0xFF;
	CHECK(erased);
	/* with the boot manager's MemoryTypeInformation: booted */
	put(run, &pos, "MemoryTypeInformation", 0x3F, "bins");
	free(out);
	out = NULL;
	OK(i2k_efivars_compact(run, tmpl, len, 0x80, &out, &booted, &_e));
	CHECK(booted);
	/* save_warm: written only when booted */
	_cleanup_free_ char *rp = tpath("run.fd"), *warm = tpath("warm.vars");
	struct i2k_error *e = NULL;
	CHECK(i2k_write_file_atomic(rp, run, len, 0600, &e) == 0);
	int rc = -1;
	OK((rc = i2k_efivars_save_warm(rp, DEBIAN_VARS, warm, &_e)));
	CHECK_INT(rc, 1);
	_cleanup_free_ char *w = NULL;
	size_t wlen = 0;
	OK(i2k_read_file(warm, I2K_EFIVARS_FILE_MAX, &w, &wlen, &_e));
	CHECK(w && wlen == len && out && memcmp(w, out, len) == 0);
	/* and the next run starts from it */
	uint8_t opt[4] = {1, 2, 3, 4};
	_cleanup_free_ char *next = tpath("next.fd");
	OK(i2k_efivars_write(warm, next, 0x80, opt, 4, &_e));
	_cleanup_free_ char *nb = NULL;
	OK(i2k_read_file(next, I2K_EFIVARS_FILE_MAX, &nb, &wlen, &_e));
	CHECK_INT(walk((uint8_t *)nb, wlen, v, 16), 5);
	CHECK_STR(v[3].name, "Boot0080");
	/* not booted: nothing written */
	memcpy(run, tmpl, len);
	CHECK(i2k_write_file_atomic(rp, run, len, 0600, &e) == 0);
	_cleanup_free_ char *warm2 = tpath("warm2.vars");
	OK((rc = i2k_efivars_save_warm(rp, DEBIAN_VARS, warm2, &_e)));
	CHECK_INT(rc, 0);
	CHECK(access(warm2, F_OK) != 0);
	/* the warm store's name: the firmware copy's and the template's digest */
	_cleanup_free_ char *wp = i2k_efivars_warm_path("/c/ovmf/abc.2.fd", DEBIAN_VARS);
	CHECK(wp && i2k_str_has_prefix(wp, "/c/ovmf/abc.2.") && i2k_str_has_suffix(wp, ".vars") &&
	      strlen(wp) == strlen("/c/ovmf/abc.2.") + 16 + 5);
	CHECK(i2k_efivars_warm_path("/c/ovmf/abc.2.fd", "/nonexistent") == NULL);
}

int main(void)
{
	t_prog = "test_efivars";
	snprintf(tmp, sizeof(tmp), "%s/i2k-test-efivars.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		abort();
	RUN(esp_fat12_16_32);
	RUN(esp_through_containers);
	RUN(esp_missing_parts);
	RUN(esp_damaged);
	RUN(load_option_layout);
	RUN(store_add_boot);
	RUN(store_errors);
	RUN(store_compact);
	i2k_rm_rf(tmp, NULL);
	return TEST_DONE();
}
