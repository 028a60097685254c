/* test_initstage1.c — the guest init's first stage for disk roots
 * (initrd/init/stage1.c, blkid.c, compiled in directly): i2kit.root*
 * parsing, GPT reading from synthetic disk images (built here, with an
 * independent CRC check value, and one made by sgdisk as the oracle),
 * partition lookup through a fake /sys/class/block and /dev, superblock
 * detection, the stateful data disk found by its ext4 label (datadisk.c)
 * and freeing a tree without crossing file systems. i2ki_stage1_run
 * itself needs a VM: tests/integration/52-disk-root.sh boots it. */
#include "initrd/init/util.c"
#include "initrd/init/blkid.c"
#include "initrd/init/cmdline.c"
#include "initrd/init/log.c"
#include "initrd/init/modules.c"
#include "initrd/init/mounts.c"
#include "initrd/init/stage1.c"
#include "initrd/init/datadisk.c"

#include "tests/unit/test.h"

#include <sys/wait.h>

static char tmpdir[256];

/* ---- log capture ---------------------------------------------------------- */

static char logged[8192];

static void log_start(void)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/log", tmpdir);
	i2ki_log_fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	logged[0] = 0;
}

static const char *log_text(void)
{
	ssize_t n = pread(i2ki_log_fd, logged, sizeof(logged) - 1, 0);
	logged[n > 0 ? n : 0] = 0;
	return logged;
}

static void log_stop(void)
{
	close(i2ki_log_fd);
	i2ki_log_fd = 2;
}

/* ---- files ---------------------------------------------------------------- */

static void put_file(const char *rel, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", tmpdir, rel);
	char *slash = strrchr(p, '/');
	*slash = 0;
	i2ki_mkdir_p(p, 0755, NULL, 0);
	*slash = '/';
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		if (text)
			i2ki_write_all(fd, text, strlen(text));
		close(fd);
	}
}

static void pwrite_all(int fd, const void *b, size_t n, off_t off)
{
	CHECK(pwrite(fd, b, n, off) == (ssize_t)n);
}

static void le32w(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64w(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* GUID text → on-disk bytes (mixed endian) */
static void guid_raw(const char *s, uint8_t out[16])
{
	static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
	int k = 0;
	for (const char *p = s; *p && k < 16; p++) {
		if (*p == '-')
			continue;
		unsigned v;
		sscanf(p, "%2x", &v);
		out[order[k++]] = (uint8_t)v;
		p++;
	}
}

struct gpt_part {
	const char *type, *uuid;
	uint64_t first, last;
	const uint16_t *name; /* UTF-16 units, 0-terminated */
};

enum corrupt { C_NONE, C_HDR_CRC, C_ENTRY_CRC, C_NO_PMBR, C_ESIZE, C_NUM, C_MYLBA };

static const uint16_t N_BOOT[] = {'b', 'o', 'o', 't', 0};
static const uint16_t N_ROOT[] = {'r', 'o', 'o', 't', '-', 0xE4, 0xD83D, 0xDE00, 0};
static const uint16_t N_EXTRA[] = {'e', 'x', 't', 'r', 'a', 0};
#define U_ROOT "1b4e28ba-2fa1-11d2-883f-b9a761bde3fb"
#define U_BOOT "0fc63daf-8483-4772-8e79-3d69d8477de4"
#define U_EXTRA "5a0e6b3c-0000-4000-8000-00000000abcd"
#define T_LINUX "0fc63daf-8483-4772-8e79-3d69d8477de4"
#define T_ESP "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"

/* Writes a 1 MiB (ss 512) or 8 MiB (ss 4096) GPT disk with parts at path. */
static void make_gpt(const char *path, unsigned ss, const struct gpt_part *parts, int nparts,
		     enum corrupt c)
{
	uint64_t sectors = (ss == 512 ? (1u << 20) : (8u << 20)) / ss;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)(sectors * ss)) == 0);
	uint8_t mbr[512] = {0};
	if (c != C_NO_PMBR) {
		mbr[446 + 4] = 0xEE;
		le32w(mbr + 446 + 8, 1);
		le32w(mbr + 446 + 12, (uint32_t)(sectors - 1));
		mbr[510] = 0x55;
		mbr[511] = 0xAA;
	}
	pwrite_all(fd, mbr, sizeof(mbr), 0);
	uint32_t n = 128, esz = 128;
	uint8_t ents[128 * 128] = {0};
	for (int i = 0; i < nparts; i++) {
		uint8_t *e = ents + 128 * i;
		guid_raw(parts[i].type, e);
		guid_raw(parts[i].uuid, e + 16);
		le64w(e + 32, parts[i].first);
		le64w(e + 40, parts[i].last);
		for (int k = 0; parts[i].name[k] && k < 36; k++) {
			e[56 + 2 * k] = (uint8_t)parts[i].name[k];
			e[56 + 2 * k + 1] = (uint8_t)(parts[i].name[k] >> 8);
		}
	}
	uint8_t hdr[512] = {0};
	memcpy(hdr, "EFI PART", 8);
	le32w(hdr + 8, 0x00010000);
	le32w(hdr + 12, 92);
	le64w(hdr + 24, c == C_MYLBA ? 5 : 1);
	le64w(hdr + 32, sectors - 1);
	le64w(hdr + 40, 2 + (n * esz) / ss);
	le64w(hdr + 48, sectors - 2 - (n * esz) / ss);
	guid_raw("11111111-2222-3333-4444-555555555555", hdr + 56);
	le64w(hdr + 72, 2);
	le32w(hdr + 80, c == C_NUM ? 100000 : n);
	le32w(hdr + 84, c == C_ESIZE ? 64 : esz);
	le32w(hdr + 88, i2ki_blkid_crc32(0, ents, sizeof(ents)));
	le32w(hdr + 16, i2ki_blkid_crc32(0, hdr, 92) ^ (c == C_HDR_CRC ? 1u : 0u));
	if (c == C_ENTRY_CRC)
		ents[128 + 60] ^= 0x20; /* a name byte of entry 2 */
	pwrite_all(fd, hdr, sizeof(hdr), ss);
	pwrite_all(fd, ents, sizeof(ents), 2 * (off_t)ss);
	close(fd);
}

static const struct gpt_part PARTS[] = {
    {T_ESP, U_BOOT, 34, 99, N_BOOT},
    {T_LINUX, U_ROOT, 100, 1900, N_ROOT},
    {T_LINUX, U_EXTRA, 1901, 2000, N_EXTRA},
};

/* ---- tests ---------------------------------------------------------------- */

TEST(crc32_and_guids)
{
	CHECK_INT(i2ki_blkid_crc32(0, "123456789", 9), 0xCBF43926u);
	CHECK_INT(i2ki_blkid_crc32(i2ki_blkid_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
	CHECK_INT(i2ki_blkid_crc32(0, "", 0), 0);
	static const uint8_t esp[16] = {0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11,
					0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B};
	char s[37];
	i2ki_blkid_guid_format(esp, s);
	CHECK_STR(s, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
	CHECK(i2ki_blkid_guid_valid("C12A7328-F81F-11D2-BA4B-00A0C93EC93B"));
	CHECK(i2ki_blkid_guid_valid(s));
	CHECK(!i2ki_blkid_guid_valid("c12a7328-f81f-11d2-ba4b-00a0c93ec93"));
	CHECK(!i2ki_blkid_guid_valid("c12a7328-f81f-11d2-ba4b-00a0c93ec93bb"));
	CHECK(!i2ki_blkid_guid_valid("c12a7328f81f-11d2-ba4b-00a0c93ec93b0"));
	CHECK(!i2ki_blkid_guid_valid("g12a7328-f81f-11d2-ba4b-00a0c93ec93b"));
	CHECK(!i2ki_blkid_guid_valid(""));
}

TEST(gpt_reads_synthetic_disk)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/disk.img", tmpdir);
	make_gpt(p, 512, PARTS, 3, C_NONE);
	int fd = open(p, O_RDONLY);
	static struct blkid_gpt g;
	char why[64] = "";
	CHECK_INT(i2ki_blkid_gpt_read(fd, 0, &g, why, sizeof(why)), BLKID_GPT_OK);
	CHECK_INT(g.sector, 512);
	CHECK_INT(g.nentries, 128);
	CHECK_INT(g.nparts, 3);
	CHECK_STR(g.disk_uuid, "11111111-2222-3333-4444-555555555555");
	CHECK_INT(g.parts[0].num, 1);
	CHECK_STR(g.parts[0].uuid, U_BOOT);
	CHECK_STR(g.parts[0].type, T_ESP);
	CHECK_STR(g.parts[0].label, "boot");
	CHECK_INT(g.parts[0].first_lba, 34);
	CHECK_INT(g.parts[0].last_lba, 99);
	CHECK_INT(g.parts[1].num, 2);
	/* U+00E4 and U+1F600 (a surrogate pair) as UTF-8 */
	CHECK_STR(g.parts[1].label, "root-\xC3\xA4\xF0\x9F\x98\x80");
	const struct blkid_part *r =
	    i2ki_blkid_gpt_find_uuid(&g, "1B4E28BA-2FA1-11D2-883F-B9A761BDE3FB");
	CHECK(r && r->num == 2);
	r = i2ki_blkid_gpt_find_uuid(&g, U_ROOT);
	CHECK(r && r->num == 2);
	CHECK(i2ki_blkid_gpt_find_uuid(&g, "1b4e28ba-2fa1-11d2-883f-b9a761bde3fc") == NULL);
	r = i2ki_blkid_gpt_find_label(&g, "extra");
	CHECK(r && r->num == 3);
	CHECK(i2ki_blkid_gpt_find_label(&g, "EXTRA") == NULL);
	CHECK(i2ki_blkid_gpt_find_label(&g, "boo") == NULL);
	/* the sector size given explicitly */
	CHECK_INT(i2ki_blkid_gpt_read(fd, 512, &g, why, sizeof(why)), BLKID_GPT_OK);
	CHECK_INT(i2ki_blkid_gpt_read(fd, 4096, &g, why, sizeof(why)), BLKID_GPT_NONE);
	CHECK_STR(why, "no GPT");
	CHECK_INT(i2ki_blkid_gpt_read(fd, 1000, &g, why, sizeof(why)), BLKID_GPT_BAD);
	CHECK_STR(why, "unsupported sector size");
	close(fd);

	/* 4096-byte sectors, probed */
	make_gpt(p, 4096, PARTS, 2, C_NONE);
	fd = open(p, O_RDONLY);
	CHECK_INT(i2ki_blkid_gpt_read(fd, 0, &g, why, sizeof(why)), BLKID_GPT_OK);
	CHECK_INT(g.sector, 4096);
	CHECK_INT(g.nparts, 2);
	close(fd);
}

TEST(gpt_rejects_what_the_kernel_rejects)
{
	static const struct {
		enum corrupt c;
		enum blkid_gpt_result r;
		const char *why;
	} cases[] = {
	    {C_HDR_CRC, BLKID_GPT_BAD, "header CRC mismatch"},
	    {C_ENTRY_CRC, BLKID_GPT_BAD, "partition entry CRC mismatch"},
	    {C_NO_PMBR, BLKID_GPT_BAD, "no protective MBR"},
	    {C_ESIZE, BLKID_GPT_BAD, "bad partition entry size"},
	    {C_NUM, BLKID_GPT_BAD, "too many partition entries"},
	    {C_MYLBA, BLKID_GPT_BAD, "header is not at LBA 1"},
	};
	char p[300];
	static struct blkid_gpt g;
	snprintf(p, sizeof(p), "%s/bad.img", tmpdir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_gpt(p, 512, PARTS, 2, cases[i].c);
		int fd = open(p, O_RDONLY);
		char why[64] = "";
		CHECK_INT(i2ki_blkid_gpt_read(fd, 0, &g, why, sizeof(why)), cases[i].r);
		CHECK_STR(why, cases[i].why);
		CHECK_INT(g.nparts, 0);
		close(fd);
	}
	/* no GPT at all; a file shorter than one sector */
	int fd = open(p, O_RDWR | O_TRUNC);
	CHECK(ftruncate(fd, 65536) == 0);
	char why[64] = "";
	CHECK_INT(i2ki_blkid_gpt_read(fd, 0, &g, why, sizeof(why)), BLKID_GPT_NONE);
	CHECK_STR(why, "no GPT");
	CHECK(ftruncate(fd, 100) == 0);
	CHECK_INT(i2ki_blkid_gpt_read(fd, 0, &g, why, sizeof(why)), BLKID_GPT_IO);
	CHECK_STR(why, "cannot read sector 0");
	close(fd);
}

TEST(gpt_reads_sgdisk_oracle)
{
	char p[300], cmd[1024];
	snprintf(p, sizeof(p), "%s/sgdisk.img", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "truncate -s 4M %s && sgdisk -o -n 1:2048:+1M -c 1:esp -t 1:ef00 "
		 "-n 2:0:0 -c 2:rootfs -u 2:0FDA6B1C-1DE4-4A4B-9A3C-2C5B8E7A9D01 %s "
		 ">/dev/null 2>&1",
		 p, p);
	int rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "  sgdisk not usable (status %d): this test cannot run\n", rc);
		CHECK(rc == 0);
		return;
	}
	int fd = open(p, O_RDONLY);
	static struct blkid_gpt g;
	char why[64] = "";
	CHECK_INT(i2ki_blkid_gpt_read(fd, 0, &g, why, sizeof(why)), BLKID_GPT_OK);
	CHECK_INT(g.nparts, 2);
	const struct blkid_part *r =
	    i2ki_blkid_gpt_find_uuid(&g, "0fda6b1c-1de4-4a4b-9a3c-2c5b8e7a9d01");
	CHECK(r && r->num == 2 && r->first_lba == 4096);
	r = i2ki_blkid_gpt_find_label(&g, "esp");
	CHECK(r && r->num == 1 && r->first_lba == 2048 && r->last_lba == 4095);
	CHECK_STR(r ? r->type : NULL, T_ESP);
	r = i2ki_blkid_gpt_find_label(&g, "rootfs");
	CHECK(r && r->num == 2);
	close(fd);
}

TEST(superblocks)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/fs.img", tmpdir);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(ftruncate(fd, 65536) == 0);
	CHECK(i2ki_blkid_fstype(fd) == NULL);
	uint8_t sq[32] = {'h', 's', 'q', 's'};
	sq[28] = 4;
	pwrite_all(fd, sq, sizeof(sq), 0);
	CHECK_STR(i2ki_blkid_fstype(fd), "squashfs");
	sq[28] = 3; /* squashfs 3: the kernel cannot mount it */
	pwrite_all(fd, sq, sizeof(sq), 0);
	CHECK(i2ki_blkid_fstype(fd) == NULL);
	memset(sq, 0, sizeof(sq));
	pwrite_all(fd, sq, sizeof(sq), 0);
	pwrite_all(fd, "\xE2\xE1\xF5\xE0", 4, 1024); /* EROFS */
	CHECK_STR(i2ki_blkid_fstype(fd), "erofs");
	pwrite_all(fd, sq, 4, 1024);
	pwrite_all(fd, "\x53\xEF", 2, 1080);
	CHECK_STR(i2ki_blkid_fstype(fd), "ext4");
	pwrite_all(fd,
		   "\x01"
		   "CD001",
		   6, 32768);
	CHECK_STR(i2ki_blkid_fstype(fd), "iso9660");
	CHECK(ftruncate(fd, 1000) == 0); /* too short for any superblock */
	CHECK(i2ki_blkid_fstype(fd) == NULL);
	close(fd);
	/* the real thing: mkfs.ext4 */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -f %s && mkfs.ext4 -q %s 2M >/dev/null 2>&1", p, p);
	int rc = system(cmd);
	CHECK(rc == 0);
	fd = open(p, O_RDONLY);
	CHECK_STR(i2ki_blkid_fstype(fd), "ext4");
	char label[17] = "x";
	CHECK_INT(i2ki_blkid_ext4_label(fd, label), 0);
	CHECK_STR(label, "");
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "rm -f %s && mkfs.ext4 -q -L i2kit-data-label %s 2M >/dev/null 2>&1", p, p);
	CHECK(system(cmd) == 0);
	fd = open(p, O_RDONLY);
	CHECK_INT(i2ki_blkid_ext4_label(fd, label), 0);
	CHECK_STR(label, "i2kit-data-label"); /* 16 bytes, no NUL on disk */
	close(fd);
	fd = open(p, O_RDWR);
	pwrite_all(fd, "\0\0", 2, 1080); /* no ext magic: no label */
	CHECK_INT(i2ki_blkid_ext4_label(fd, label), -1);
	close(fd);
}

TEST(parse_root_options)
{
	struct stage1_opts o;
	char why[300];
	i2ki_cmdline_set("console=ttyS0 quiet");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 0);

	i2ki_cmdline_set("console=ttyS0 i2kit.root=PARTUUID=1B4E28BA-2FA1-11D2-883F-B9A761BDE3FB");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(o.kind, STAGE1_PARTUUID);
	CHECK_STR(o.value, U_ROOT);
	CHECK_STR(o.spec, "PARTUUID=1B4E28BA-2FA1-11D2-883F-B9A761BDE3FB");
	CHECK_STR(o.fstype, "auto");
	CHECK_INT(o.rootwait, 15);
	CHECK_INT(o.mflags, 0);
	CHECK_STR(o.mdata, "");

	i2ki_cmdline_set("i2kit.root=\"PARTLABEL=my root\" i2kit.rootfstype=ext4 i2kit.rootwait=0 "
			 "i2kit.rootflags=noatime,data=ordered,ro,commit=5");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(o.kind, STAGE1_PARTLABEL);
	CHECK_STR(o.value, "my root");
	CHECK_STR(o.fstype, "ext4");
	CHECK_INT(o.rootwait, 0);
	CHECK_INT(o.mflags, MS_NOATIME | MS_RDONLY);
	CHECK_STR(o.mdata, "data=ordered,commit=5");

	i2ki_cmdline_set("i2kit.root=/dev/vda2 i2kit.rootfstype=iso9660 i2kit.rootwait=30");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(o.kind, STAGE1_PATH);
	CHECK_STR(o.value, "/dev/vda2");
	CHECK_STR(o.fstype, "iso9660");
	CHECK_INT(o.rootwait, 30);
	i2ki_cmdline_set("i2kit.root=/dev/vda i2kit.rootfstype=erofs");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_STR(o.fstype, "erofs");

	static const struct {
		const char *cmdline, *why;
	} bad[] = {
	    {"i2kit.root=UUID=1234",
	     "i2kit.root=UUID=1234: expected PARTUUID=<guid>, PARTLABEL=<name> or /dev/NAME"},
	    {"i2kit.root=", "i2kit.root=: expected PARTUUID=<guid>, PARTLABEL=<name> or /dev/NAME"},
	    {"i2kit.root", "i2kit.root=: expected PARTUUID=<guid>, PARTLABEL=<name> or /dev/NAME"},
	    {"i2kit.root=/dev/", "i2kit.root=/dev/: expected PARTUUID=<guid>, PARTLABEL=<name> or "
				 "/dev/NAME"},
	    {"i2kit.root=/dev/disk/by-label/x", "i2kit.root=/dev/disk/by-label/x: expected "
						"PARTUUID=<guid>, PARTLABEL=<name> or /dev/NAME"},
	    {"i2kit.root=/dev/..", "i2kit.root=/dev/..: expected PARTUUID=<guid>, PARTLABEL=<name> "
				   "or /dev/NAME"},
	    {"i2kit.root=vda2", "i2kit.root=vda2: expected PARTUUID=<guid>, PARTLABEL=<name> or "
				"/dev/NAME"},
	    {"i2kit.root=PARTUUID=1b4e28ba-2fa1-11d2-883f",
	     "i2kit.root=PARTUUID=1b4e28ba-2fa1-11d2-883f: not a GUID (8-4-4-4-12 hex digits)"},
	    {"i2kit.root=PARTLABEL=", "i2kit.root=PARTLABEL=: a GPT name is 1 to 36 characters"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		i2ki_cmdline_set(bad[i].cmdline);
		CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), -1);
		CHECK_STR(why, bad[i].why);
	}
	char longv[400] = "i2kit.root=PARTLABEL=";
	memset(longv + strlen(longv), 'x', 120);
	i2ki_cmdline_set(longv);
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "a GPT name is 1 to 36 characters");
	char huge[600] = "i2kit.root=/dev/";
	memset(huge + strlen(huge), 'x', 400);
	i2ki_cmdline_set(huge);
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), -1);
	CHECK_CONTAINS(why, "...: too long");

	/* soft errors: logged, defaults used */
	log_start();
	i2ki_cmdline_set("i2kit.root=/dev/vda i2kit.rootfstype=xfs i2kit.rootwait=ten");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_STR(o.fstype, "auto");
	CHECK_INT(o.rootwait, 15);
	i2ki_cmdline_set("i2kit.root=/dev/vda i2kit.rootwait=3601");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(o.rootwait, 15);
	i2ki_cmdline_set("i2kit.root=/dev/vda i2kit.rootwait=-1");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	char flags[600] = "i2kit.root=/dev/vda i2kit.rootflags=";
	memset(flags + strlen(flags), 'o', 260);
	i2ki_cmdline_set(flags);
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_STR(o.mdata, "");
	const char *t = log_text();
	CHECK_CONTAINS(t, "i2kit-init: warning: i2kit.rootfstype=xfs: not squashfs, erofs, ext4, "
			  "iso9660 or auto; using auto\n");
	CHECK_CONTAINS(t, "i2kit-init: warning: i2kit.rootwait=ten: not a number of seconds "
			  "(0-3600); using 15\n");
	CHECK_CONTAINS(t, "i2kit.rootwait=3601: not a number");
	CHECK_CONTAINS(t, "i2kit.rootwait=-1: not a number");
	CHECK_CONTAINS(t, "ooo: too long; ignored\n");
	log_stop();
}

TEST(parse_mount_flags)
{
	unsigned long f;
	int rw;
	char d[16];
	CHECK_INT(i2ki_stage1_parse_flags("", &f, &rw, d, sizeof(d)), 0);
	CHECK_INT(f, 0);
	CHECK_STR(d, "");
	CHECK_INT(i2ki_stage1_parse_flags("ro,rw,,nodev,nosuid,noexec", &f, &rw, d, sizeof(d)), 0);
	CHECK_INT(f, MS_NODEV | MS_NOSUID | MS_NOEXEC);
	CHECK_INT(rw, 1);
	CHECK_INT(i2ki_stage1_parse_flags("rw,ro,sync,dirsync,lazytime", &f, &rw, d, sizeof(d)), 0);
	CHECK_INT(f, MS_RDONLY | MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME);
	CHECK_INT(rw, 0);
	CHECK_INT(i2ki_stage1_parse_flags("a=1,rox,b", &f, &rw, d, sizeof(d)), 0);
	CHECK_INT(f, 0);
	CHECK_STR(d, "a=1,rox,b");
	CHECK_INT(i2ki_stage1_parse_flags("0123456789,abcde", &f, &rw, d, sizeof(d)), -1);
	CHECK_STR(d, "");
	CHECK_INT(i2ki_stage1_parse_flags("0123456789,abcd", &f, &rw, d, sizeof(d)), 0);
	CHECK_STR(d, "0123456789,abcd");
}

/* A fake sysfs + dev: sr0 (no medium), loop0 (unused), vda (GPT, 3 entries,
 * the kernel showing vda1 and vda2), vdb (no GPT). */
static void fake_tree(char *sysfs, char *dev, size_t len)
{
	snprintf(sysfs, len, "%s/sys", tmpdir);
	snprintf(dev, len, "%s/dev", tmpdir);
	put_file("sys/class/block/sr0/size", "0\n");
	put_file("sys/class/block/sr0/dev", "11:0\n");
	put_file("sys/class/block/loop0/size", "0\n");
	put_file("sys/class/block/vda/size", "2048\n");
	put_file("sys/class/block/vda/dev", "253:0\n");
	put_file("sys/class/block/vda/vda1/partition", "1\n");
	put_file("sys/class/block/vda/vda2/partition", "2\n");
	put_file("sys/class/block/vda/queue/logical_block_size", "512\n");
	put_file("sys/class/block/vda1/partition", "1\n");
	put_file("sys/class/block/vda1/dev", "253:1\n");
	put_file("sys/class/block/vda2/partition", "2\n");
	put_file("sys/class/block/vda2/dev", "253:2\n");
	put_file("sys/class/block/vdb/size", "128\n");
	put_file("sys/class/block/vdb/dev", "253:16\n");
	put_file("dev/vdb", NULL);
	char p[300];
	snprintf(p, sizeof(p), "%s/dev/vdb", tmpdir);
	CHECK(truncate(p, 65536) == 0);
	snprintf(p, sizeof(p), "%s/dev/vda", tmpdir);
	make_gpt(p, 512, PARTS, 3, C_NONE);
	put_file("dev/vda1", NULL);
	if (geteuid() != 0)
		put_file("dev/vda2", NULL); /* no mknod without root */
}

/* The data disk is the device whose ext4 label matches, whatever its name;
 * mounting a regular file fails (not a block device, or not root), which
 * is the "found but not mounted" answer. */
TEST(data_disk_found_by_label)
{
	char sysfs[300], dev[300], dir[400], cmd[1024];
	fake_tree(sysfs, dev, sizeof(sysfs));
	put_file("sys/class/block/vdc/dev", "253:32\n");
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -L i2kit-data %s/vdc 4M >/dev/null 2>&1", dev);
	CHECK(system(cmd) == 0);
	snprintf(dir, sizeof(dir), "%s/var/lib/i2kit/data", tmpdir);
	log_start();
	CHECK_INT(i2ki_datadisk_mount(sysfs, dev, "other", dir), 0);
	struct stat st;
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode)); /* made even without a disk */
	CHECK_INT(i2ki_datadisk_mount(sysfs, dev, "i2kit-data", dir), -1);
	const char *t = log_text();
	char want[1200];
	snprintf(want, sizeof(want), "data disk: mount %s/vdc (label i2kit-data) on %s", dev, dir);
	CHECK_CONTAINS(t, want);
	log_stop();
	snprintf(cmd, sizeof(cmd), "rm -rf %s/class/block/vdc %s/vdc", sysfs, dev);
	CHECK(system(cmd) == 0); /* the other tests see the tree without it */
}

TEST(find_root_device)
{
	char sysfs[300], dev[300], path[512], seen[1024], want[600];
	struct stage1_opts o;
	char why[300];
	fake_tree(sysfs, dev, sizeof(sysfs));

	/* PARTUUID → vda2: the node is made from sys/class/block/vda2/dev */
	i2ki_cmdline_set("i2kit.root=PARTUUID=1B4E28BA-2FA1-11D2-883F-B9A761BDE3FB");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), seen, sizeof(seen)), 1);
	snprintf(want, sizeof(want), "%s/vda2", dev);
	CHECK_STR(path, want);
	CHECK_STR(seen, "sr0 (empty), vda (GPT: 3 partitions)");
	struct stat st;
	CHECK(stat(want, &st) == 0);
	if (geteuid() == 0) {
		CHECK(S_ISBLK(st.st_mode));
		CHECK(st.st_rdev == makedev(253, 2));
	}

	/* PARTLABEL → vda1 (the node exists) */
	i2ki_cmdline_set("i2kit.root=PARTLABEL=boot");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), seen, sizeof(seen)), 1);
	snprintf(want, sizeof(want), "%s/vda1", dev);
	CHECK_STR(path, want);

	/* not there: every disk is reported */
	i2ki_cmdline_set("i2kit.root=PARTUUID=00000000-0000-0000-0000-000000000000");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), seen, sizeof(seen)), 0);
	CHECK_STR(seen, "sr0 (empty), vda (GPT: 3 partitions), vdb (no GPT)");

	/* in the GPT, but the kernel shows no vda3 */
	i2ki_cmdline_set("i2kit.root=PARTLABEL=extra");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), seen, sizeof(seen)), 0);
	CHECK_STR(seen, "sr0 (empty), vda (GPT: 3 partitions) [partition 3 matches but the "
			"kernel shows no device for it], vdb (no GPT)");

	/* a device path: known to sysfs, or an existing node */
	i2ki_cmdline_set("i2kit.root=/dev/vdb");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), seen, sizeof(seen)), 1);
	snprintf(want, sizeof(want), "%s/vdb", dev);
	CHECK_STR(path, want);
	i2ki_cmdline_set("i2kit.root=/dev/vdc");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), seen, sizeof(seen)), 0);
	CHECK_STR(seen, "no /dev/vdc; disks: loop0 sr0 vda vdb");

	/* a damaged GPT is named */
	snprintf(want, sizeof(want), "%s/vda", dev);
	make_gpt(want, 512, PARTS, 3, C_HDR_CRC);
	i2ki_cmdline_set("i2kit.root=PARTLABEL=boot");
	CHECK_INT(i2ki_stage1_parse(&o, why, sizeof(why)), 1);
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), seen, sizeof(seen)), 0);
	CHECK_STR(seen, "sr0 (empty), vda (GPT unusable: header CRC mismatch), vdb (no GPT)");

	/* no sysfs at all */
	CHECK_INT(i2ki_stage1_find(&o, "/nonexistent", dev, path, sizeof(path), seen, sizeof(seen)),
		  0);
	CHECK_STR(seen, "none");
	/* a disk whose node cannot be made (no dev file in sysfs) */
	put_file("sys/class/block/vdz/size", "8\n");
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), seen, sizeof(seen)), 0);
	CHECK_CONTAINS(seen, "vdz (no node: No such file or directory)");
	/* the report is bounded */
	char small[24];
	CHECK_INT(i2ki_stage1_find(&o, sysfs, dev, path, sizeof(path), small, sizeof(small)), 0);
	CHECK_INT(strlen(small), sizeof(small) - 1);
}

TEST(free_tree_stays_on_its_fs)
{
	char root[300];
	snprintf(root, sizeof(root), "%s/tree", tmpdir);
	put_file("tree/a/b/c/file", "x");
	put_file("tree/top", "y");
	put_file("tree/a/other", "z");
	char p[400];
	snprintf(p, sizeof(p), "%s/a/link", root);
	CHECK(symlink("/etc/passwd", p) == 0);
	snprintf(p, sizeof(p), "%s/a/fifo", root);
	CHECK(mkfifo(p, 0600) == 0);
	snprintf(p, sizeof(p), "%s/empty", root);
	CHECK(mkdir(p, 0755) == 0);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	/* another file system's entries (here: all of them) are not touched */
	CHECK_INT(i2ki_stage1_free_tree(fd, st.st_dev + 1), 0);
	snprintf(p, sizeof(p), "%s/a/b/c/file", root);
	CHECK(access(p, F_OK) == 0);
	CHECK_INT(i2ki_stage1_free_tree(fd, st.st_dev), 0);
	CHECK_INT(count_entries(root), 0);
	CHECK(access("/etc/passwd", F_OK) == 0); /* the symlink, not its target */
	close(fd);
}

int main(void)
{
	t_prog = "initstage1";
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_initstage1.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(crc32_and_guids);
	RUN(gpt_reads_synthetic_disk);
	RUN(gpt_rejects_what_the_kernel_rejects);
	RUN(gpt_reads_sgdisk_oracle);
	RUN(superblocks);
	RUN(data_disk_found_by_label);
	RUN(parse_root_options);
	RUN(parse_mount_flags);
	RUN(find_root_device);
	RUN(free_tree_stays_on_its_fs);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return TEST_DONE();
}
