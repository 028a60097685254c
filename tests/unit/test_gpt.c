/* test_gpt.c — formats/disk/{part,gpt,mbr}: layout, GPT checked by
 * `sgdisk -v/-p/-i`, MBR checked by `sfdisk --dump`, GUIDs derived from a
 * seed, reproducibility, every error message. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/disk/gpt.h"
#include "formats/disk/mbr.h"
#include "formats/disk/part.h"
#include "formats/sink.h"
#include "test.h"
#include "testutil.h"

#define MiB (1024ull * 1024)

static const uint8_t seed_a[32] = {1, 2, 3};
static const uint8_t seed_b[32] = {9, 9, 9};

static struct i2k_sink *disk_file(const char *name, uint64_t size, char *path, size_t n, int *fd)
{
	snprintf(path, n, "%s/%s", tmpdir, name);
	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct i2k_sink *s = NULL;
	struct i2k_error *e = NULL;
	if (*fd < 0 || i2k_sink_file_new(*fd, 0, size, name, &s, &e) < 0) {
		fprintf(stderr, "  disk_file: %s\n", e ? e->msg : "open");
		exit(1);
	}
	return s;
}

static void two_parts(struct i2k_part p[2])
{
	p[0] = (struct i2k_part){
	    .name = "ESP", .type_guid = I2K_GUID_ESP, .mbr_type = 0xEF, .size = 40 * MiB};
	p[1] = (struct i2k_part){.name = "i2kit root \xc3\xa9",
				 .type_guid = I2K_GUID_LINUX_ROOT_X86_64,
				 .mbr_type = 0x83,
				 .size = 100 * MiB + 1,
				 .bootable = true};
}

TEST(layout)
{
	struct i2k_part p[2];
	two_parts(p);
	uint64_t disk = 0;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_part_layout(p, 2, 0, true, &disk, &e), 0);
	CHECK_INT(p[0].start, 1 * MiB);
	CHECK_INT(p[1].start, 41 * MiB);
	CHECK_INT(p[1].size, 100 * MiB + 512);
	CHECK_INT(disk, 142 * MiB); /* 141 MiB + 512 + GPT tail, rounded up */
	/* MBR only: no tail */
	two_parts(p);
	p[1].size = 100 * MiB;
	CHECK_INT(i2k_part_layout(p, 2, 0, false, &disk, &e), 0);
	CHECK_INT(disk, 141 * MiB);
	/* fixed disk size, the last partition takes the rest */
	two_parts(p);
	p[1].size = 0;
	CHECK_INT(i2k_part_layout(p, 2, 200 * MiB, true, &disk, &e), 0);
	CHECK_INT(disk, 200 * MiB);
	CHECK_INT(p[1].start, 41 * MiB);
	CHECK_INT(p[1].size, (200 * MiB - 33 * 512 - 41 * MiB) / 4096 * 4096);
	/* errors */
	two_parts(p);
	CHECK_INT(i2k_part_layout(p, 2, 100 * MiB, true, &disk, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL,
		       "disk size 104857600 is too small: the partitions need 148897792 bytes");
	CHECK_INT(e ? e->code : 0, I2K_ERR_CONFIG);
	i2k_error_free(e);
	e = NULL;
	CHECK_INT(i2k_part_layout(p, 2, 100 * MiB + 1, true, &disk, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "disk size 104857601 is not a multiple of 512 bytes");
	i2k_error_free(e);
	e = NULL;
	two_parts(p);
	p[0].size = 0;
	CHECK_INT(i2k_part_layout(p, 2, 0, true, &disk, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "partition 1 has size 0");
	i2k_error_free(e);
}

TEST(guids)
{
	uint8_t g[16], h[16];
	char s[37];
	struct i2k_error *e = NULL;
	static const uint8_t esp[16] = I2K_GUID_ESP;
	CHECK_INT(i2k_guid_parse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b", g, &e), 0);
	CHECK(memcmp(g, esp, 16) == 0);
	i2k_guid_format(g, s);
	CHECK_STR(s, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
	static const uint8_t root[16] = I2K_GUID_LINUX_ROOT_X86_64, fs[16] = I2K_GUID_LINUX_FS,
			     bios[16] = I2K_GUID_BIOS_BOOT;
	i2k_guid_format(root, s);
	CHECK_STR(s, "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709");
	i2k_guid_format(fs, s);
	CHECK_STR(s, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
	i2k_guid_format(bios, s);
	CHECK_STR(s, "21686148-6449-6E6F-744E-656564454649");
	CHECK_INT(i2k_guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93", g, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "bad GUID: C12A7328-F81F-11D2-BA4B-00A0C93EC93");
	i2k_error_free(e);
	e = NULL;
	CHECK_INT(i2k_guid_parse("C12A7328+F81F-11D2-BA4B-00A0C93EC93B", g, &e), -1);
	i2k_error_free(e);
	e = NULL;
	CHECK_INT(i2k_guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC9XB", g, &e), -1);
	i2k_error_free(e);
	i2k_guid_derive(seed_a, "partition", 0, g);
	i2k_guid_derive(seed_a, "partition", 0, h);
	CHECK(memcmp(g, h, 16) == 0);
	i2k_guid_format(g, s);
	CHECK(s[14] == '4');		      /* version 4 */
	CHECK(strchr("89AB", s[19]) != NULL); /* RFC 4122 variant */
	i2k_guid_derive(seed_a, "partition", 1, h);
	CHECK(memcmp(g, h, 16) != 0);
	i2k_guid_derive(seed_b, "partition", 0, h);
	CHECK(memcmp(g, h, 16) != 0);
}

static void write_gpt(const char *name, const uint8_t *seed, char *path, size_t n)
{
	struct i2k_part p[2];
	two_parts(p);
	uint64_t size = 0;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_part_layout(p, 2, 0, true, &size, &e), 0);
	int fd;
	struct i2k_sink *s = disk_file(name, size, path, n, &fd);
	CHECK_INT(i2k_gpt_write(s, p, 2, seed, &e), 0);
	if (e)
		fprintf(stderr, "  %s\n", e->msg);
	i2k_sink_free(s);
	close(fd);
}

TEST(gpt_sgdisk)
{
	char a[512], b[512], c[512], cmd[1200];
	write_gpt("a.img", seed_a, a, sizeof(a));
	write_gpt("b.img", seed_a, b, sizeof(b));
	write_gpt("c.img", seed_b, c, sizeof(c));
	snprintf(cmd, sizeof(cmd), "sgdisk -v %s 2>&1", a);
	char *v = capture(cmd);
	CHECK_CONTAINS(v, "No problems found.");
	free(v);
	snprintf(cmd, sizeof(cmd), "sgdisk -p %s 2>&1", a);
	char *pr = capture(cmd);
	CHECK_CONTAINS(pr, "Disk ");
	CHECK_CONTAINS(pr, "290816 sectors, 142.0 MiB");
	CHECK_CONTAINS(pr, "   1            2048           83967   40.0 MiB    EF00  ESP");
	CHECK_CONTAINS(
	    pr, "   2           83968          288768   100.0 MiB   8304  i2kit root \xc3\xa9");
	uint8_t g[16];
	char want[80], gs[37];
	i2k_guid_derive(seed_a, "disk", 0, g);
	i2k_guid_format(g, gs);
	snprintf(want, sizeof(want), "Disk identifier (GUID): %s", gs);
	CHECK_CONTAINS(pr, want);
	free(pr);
	snprintf(cmd, sizeof(cmd), "sgdisk -i 2 %s 2>&1", a);
	char *info = capture(cmd);
	i2k_guid_derive(seed_a, "partition", 1, g);
	i2k_guid_format(g, gs);
	snprintf(want, sizeof(want), "Partition unique GUID: %s", gs);
	CHECK_CONTAINS(info, want);
	CHECK_CONTAINS(info, "Attribute flags: 0000000000000004");
	free(info);
	/* the protective MBR as fdisk sees it */
	snprintf(cmd, sizeof(cmd), "sfdisk --dump %s 2>&1", a);
	char *dump = capture(cmd);
	CHECK_CONTAINS(dump, "label: gpt");
	free(dump);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a, b);
	CHECK_INT(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", a, c);
	CHECK_INT(run(cmd), 1);
}

static void expect_gpt_error(struct i2k_part *p, size_t n, uint64_t size, const char *msg)
{
	char path[512];
	int fd;
	struct i2k_sink *s = disk_file("bad.img", size, path, sizeof(path), &fd);
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_gpt_write(s, p, n, seed_a, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, msg);
	i2k_error_free(e);
	i2k_sink_free(s);
	close(fd);
}

TEST(gpt_errors)
{
	struct i2k_part p[2];
	two_parts(p);
	uint64_t size;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_part_layout(p, 2, 0, true, &size, &e), 0);
	struct i2k_part q[2];
	memcpy(q, p, sizeof(q));
	q[1].start = 40 * MiB;
	expect_gpt_error(q, 2, size, "partitions 1 and 2 overlap");
	memcpy(q, p, sizeof(q));
	q[1].size += MiB;
	expect_gpt_error(q, 2, size, "partition 2 lies outside the usable area (LBA 34..290782)");
	memcpy(q, p, sizeof(q));
	q[0].start = 0;
	expect_gpt_error(q, 2, size, "partition 1 lies outside the usable area");
	memcpy(q, p, sizeof(q));
	q[0].start += 1;
	expect_gpt_error(q, 2, size, "partition 1 is not sector-aligned or empty");
	memcpy(q, p, sizeof(q));
	q[0].name = "a name that is much longer than thirty-six units";
	expect_gpt_error(q, 2, size, "partition 1: name is longer than 36 UTF-16 units");
	memcpy(q, p, sizeof(q));
	q[1].name = "bad \xc0\xaf";
	expect_gpt_error(q, 2, size, "partition 2: name is not valid UTF-8");
	expect_gpt_error(p, 129, size, "GPT holds at most 128 partitions");
	expect_gpt_error(p, 0, 67 * 512, "disk of 34304 bytes is too small for a GPT");
	expect_gpt_error(p, 0, 1000 * 512 + 5, "disk of 512005 bytes is not a multiple of 512");
	/* a write through a too-small sink is wrapped */
	char path[512];
	int fd;
	struct i2k_sink *disk = disk_file("win.img", size, path, sizeof(path), &fd);
	struct i2k_sink *win = NULL;
	CHECK_INT(i2k_sink_window_new(disk, 0, size, "window", &win, &e), 0);
	CHECK_INT(i2k_sink_finish(win, &e), 0);
	CHECK_INT(i2k_gpt_write(win, p, 2, seed_a, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "writing the GPT: ");
	i2k_error_free(e);
	i2k_sink_free(win);
	i2k_sink_free(disk);
	close(fd);
}

TEST(mbr)
{
	struct i2k_part p[3] = {
	    {.mbr_type = 0x0C, .size = 40 * MiB, .bootable = true},
	    {.mbr_type = 0x00, .size = 1 * MiB}, /* left out of the table */
	    {.mbr_type = 0x83, .size = 100 * MiB},
	};
	uint64_t size;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_part_layout(p, 3, 0, false, &size, &e), 0);
	char path[512], cmd[1024];
	int fd;
	struct i2k_sink *s = disk_file("mbr.img", size, path, sizeof(path), &fd);
	uint8_t code[432];
	memset(code, 0xAB, sizeof(code));
	CHECK_INT(i2k_mbr_write(s, p, 3, code, sizeof(code), 0xdeadbeef, &e), 0);
	snprintf(cmd, sizeof(cmd), "sfdisk --dump %s 2>&1", path);
	char *dump = capture(cmd);
	CHECK_CONTAINS(dump, "label: dos");
	CHECK_CONTAINS(dump, "label-id: 0xdeadbeef");
	CHECK_CONTAINS(dump, "mbr.img1 : start=        2048, size=       81920, type=c, bootable");
	CHECK_CONTAINS(dump, "mbr.img2 : start=       86016, size=      204800, type=83");
	free(dump);
	snprintf(cmd, sizeof(cmd), "fdisk -l %s 2>&1", path);
	char *fl = capture(cmd);
	CHECK_CONTAINS(fl, "Disk identifier: 0xdeadbeef");
	free(fl);
	uint8_t sec[512];
	CHECK(pread(fd, sec, 512, 0) == 512);
	CHECK(sec[0] == 0xAB && sec[431] == 0xAB && sec[432] == 0);
	CHECK(sec[446] == 0x80 && sec[462] == 0x00);
	/* CHS of LBA 2048 in 255/63 geometry: c=0 h=32 s=33 */
	CHECK(sec[447] == 32 && sec[448] == 33 && sec[449] == 0);
	CHECK(sec[510] == 0x55 && sec[511] == 0xAA);
	/* big disks: CHS FE FF FF */
	uint8_t ent[16];
	i2k_mbr_entry(ent, false, 0x83, 20000000, 1000);
	CHECK(ent[1] == 0xfe && ent[2] == 0xff && ent[3] == 0xff && ent[5] == 0xfe);
	/* errors */
	struct i2k_part five[5];
	for (int i = 0; i < 5; i++)
		five[i] = (struct i2k_part){
		    .mbr_type = 0x83, .start = (uint64_t)(i + 1) * MiB, .size = MiB};
	CHECK_INT(i2k_mbr_build(sec, five, 5, NULL, 0, 0, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "MBR holds at most 4 partitions");
	i2k_error_free(e);
	e = NULL;
	struct i2k_part huge = {.mbr_type = 0x83, .start = MiB, .size = 3ull << 40};
	CHECK_INT(i2k_mbr_build(sec, &huge, 1, NULL, 0, 0, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "partition 1 does not fit an MBR (2 TiB limit)");
	i2k_error_free(e);
	e = NULL;
	CHECK_INT(i2k_mbr_build(sec, p, 1, code, 441, 0, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "MBR boot code is 441 bytes (at most 440)");
	i2k_error_free(e);
	e = NULL;
	struct i2k_part odd = {.mbr_type = 0x83, .start = MiB + 3, .size = MiB};
	CHECK_INT(i2k_mbr_build(sec, &odd, 1, NULL, 0, 0, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "partition 1 is not sector-aligned or empty");
	i2k_error_free(e);
	e = NULL;
	struct i2k_part past = {.mbr_type = 0x83, .start = size - MiB, .size = 2 * MiB};
	CHECK_INT(i2k_mbr_write(s, &past, 1, NULL, 0, 0, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "partition 1 ends past the end of the disk");
	i2k_error_free(e);
	i2k_sink_free(s);
	close(fd);
}

int main(void)
{
	t_prog = "test_gpt";
	make_tmpdir();
	if (run("command -v sgdisk sfdisk fdisk >/dev/null") != 0) {
		printf("FAIL: test_gpt/oracles: sgdisk or fdisk missing (counts as failed)\n");
		return 1;
	}
	RUN(layout);
	RUN(guids);
	RUN(gpt_sgdisk);
	RUN(gpt_errors);
	RUN(mbr);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
