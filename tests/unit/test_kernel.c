/* test_kernel.c — kernel/kernel: bzImage header parsing. */
#include <fcntl.h>
#include <glob.h>
#include <stdint.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "test.h"

/* A minimal synthetic bzImage head: boot flag, HdrS, protocol, loadflags
 * and a version string at 0x200 + kv. */
static void make_head(unsigned char *b, size_t len, uint16_t proto, uint8_t loadflags, uint16_t kv,
		      const char *version)
{
	memset(b, 0, len);
	b[0x1F1] = 0; /* setup_sects 0 → 4 */
	b[0x1FE] = 0x55;
	b[0x1FF] = 0xAA;
	memcpy(b + 0x202, "HdrS", 4);
	b[0x206] = (unsigned char)(proto & 0xff);
	b[0x207] = (unsigned char)(proto >> 8);
	b[0x20E] = (unsigned char)(kv & 0xff);
	b[0x20F] = (unsigned char)(kv >> 8);
	b[0x211] = loadflags;
	if (version)
		memcpy(b + 0x200 + kv, version, strlen(version) + 1);
}

TEST(synthetic_bzimage)
{
	unsigned char b[0x800];
	make_head(b, sizeof(b), 0x020f, 0x01, 0x300, "6.1.0-99-test (me@example) #1 SMP");
	b[0x1F1] = 27;
	struct i2k_kernel_info ki;
	struct i2k_error *err = NULL;
	CHECK(i2k_kernel_info_buf(b, sizeof(b), &ki, &err) == 0);
	CHECK(ki.is_bzimage);
	CHECK_INT(ki.protocol, 0x020f);
	CHECK_INT(ki.setup_sects, 27);
	CHECK_STR(ki.version, "6.1.0-99-test (me@example) #1 SMP");
	CHECK_STR(ki.release, "6.1.0-99-test");
	i2k_error_free(err);
}

TEST(version_edge_cases)
{
	unsigned char b[0x800];
	struct i2k_kernel_info ki;
	struct i2k_error *err = NULL;
	/* kernel_version = 0: no string */
	make_head(b, sizeof(b), 0x0200, 0x01, 0, NULL);
	CHECK(i2k_kernel_info_buf(b, sizeof(b), &ki, &err) == 0);
	CHECK_STR(ki.version, "");
	CHECK_STR(ki.release, "");
	CHECK_INT(ki.setup_sects, 4);
	/* pointer beyond the buffer: no string, no overread (ASan checks) */
	make_head(b, sizeof(b), 0x020f, 0x01, 0xF000, NULL);
	CHECK(i2k_kernel_info_buf(b, sizeof(b), &ki, &err) == 0);
	CHECK_STR(ki.version, "");
	/* unterminated at the end of the buffer, control bytes replaced */
	make_head(b, sizeof(b), 0x020f, 0x01, 0x5f0, NULL);
	memcpy(b + 0x7f0, "5.10\x01x abcdefgh", 16);
	CHECK(i2k_kernel_info_buf(b, sizeof(b), &ki, &err) == 0);
	CHECK_STR(ki.version, "5.10?x abcdefgh");
	CHECK_STR(ki.release, "5.10?x");
	/* overlong: cut to I2K_KERNEL_VERSION_MAX - 1 */
	make_head(b, sizeof(b), 0x020f, 0x01, 0x100, NULL);
	memset(b + 0x300, 'v', 0x400);
	b[0x700] = 0;
	CHECK(i2k_kernel_info_buf(b, sizeof(b), &ki, &err) == 0);
	CHECK_INT(strlen(ki.version), I2K_KERNEL_VERSION_MAX - 1);
	CHECK(err == NULL);
}

static void expect_reject(const unsigned char *b, size_t len, const char *msg)
{
	struct i2k_kernel_info ki;
	struct i2k_error *err = NULL;
	CHECK(i2k_kernel_info_buf(b, len, &ki, &err) < 0);
	CHECK(err && err->code == I2K_ERR_CONFIG);
	CHECK_STR(err ? err->msg : NULL, msg);
	CHECK(!ki.is_bzimage);
	i2k_error_free(err);
}

TEST(rejects_non_bzimages)
{
	unsigned char b[0x800];
	make_head(b, sizeof(b), 0x020f, 0x01, 0x300, "x");
	expect_reject(b, 0x100, "not a bzImage: only 256 bytes (a boot header needs 592)");
	make_head(b, sizeof(b), 0x020f, 0x01, 0x300, "x");
	memcpy(b + 0x202, "HdrT", 4);
	expect_reject(b, sizeof(b), "not a bzImage: no \"HdrS\" magic at offset 0x202");
	make_head(b, sizeof(b), 0x020f, 0x01, 0x300, "x");
	b[0x1FE] = 0;
	expect_reject(b, sizeof(b), "not a bzImage: boot flag is 0xaa00, not 0xaa55");
	make_head(b, sizeof(b), 0x0104, 0x01, 0x300, "x");
	expect_reject(b, sizeof(b), "not a bzImage: boot protocol 1.04 is older than 2.00");
	make_head(b, sizeof(b), 0x0204, 0x00, 0x300, "x");
	expect_reject(b, sizeof(b), "not a bzImage: a zImage (loaded low; LOADED_HIGH not set)");
	/* an arm64 Image: "ARM\x64" at 0x38, nothing at 0x202 */
	memset(b, 0, sizeof(b));
	memcpy(b + 0x38, "ARM\x64", 4);
	expect_reject(b, sizeof(b), "not a bzImage: no \"HdrS\" magic at offset 0x202");
	/* an ELF vmlinux */
	memset(b, 0, sizeof(b));
	memcpy(b,
	       "\x7f"
	       "ELF",
	       4);
	expect_reject(b, sizeof(b), "not a bzImage: no \"HdrS\" magic at offset 0x202");
}

TEST(real_debian_kernel)
{
	glob_t g;
	int r = glob("/boot/vmlinuz-*-cloud-amd64", 0, NULL, &g);
	if (r != 0 || g.gl_pathc == 0) {
		fprintf(stderr, "  /boot/vmlinuz-*-cloud-amd64 not found: install "
				"linux-image-cloud-amd64 (this test cannot run without it)\n");
		CHECK(!"real kernel image present");
		return;
	}
	const char *path = g.gl_pathv[0];
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	struct i2k_kernel_info ki;
	struct i2k_error *err = NULL;
	CHECK(i2k_kernel_info_fd(fd, 0, &ki, &err) == 0);
	if (err)
		fprintf(stderr, "  %s: %s\n", path, err->msg);
	CHECK(ki.is_bzimage);
	CHECK(ki.protocol >= 0x020c);
	/* release = the part of the file name after "vmlinuz-" */
	CHECK_STR(ki.release, path + strlen("/boot/vmlinuz-"));
	CHECK_CONTAINS(ki.version, "#1 SMP");
	/* the same image at an offset inside a bigger file (spool extents) */
	char tmp[] = "/tmp/i2k-test-kernel-XXXXXX";
	int t = mkstemp(tmp);
	CHECK(t >= 0);
	unlink(tmp);
	char pad[777] = {0};
	CHECK(write(t, pad, sizeof(pad)) == (ssize_t)sizeof(pad));
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		CHECK(write(t, buf, (size_t)n) == n);
	struct i2k_kernel_info k2;
	CHECK(i2k_kernel_info_fd(t, sizeof(pad), &k2, &err) == 0);
	CHECK_STR(k2.version, ki.version);
	/* a non-kernel file */
	CHECK(i2k_kernel_info_fd(t, 0, &k2, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "not a bzImage: no \"HdrS\" magic at offset 0x202");
	i2k_error_free(err);
	err = NULL;
	CHECK(i2k_kernel_info_fd(-1, 0, &k2, &err) < 0);
	CHECK(err && err->code == I2K_ERR_IO);
	CHECK_CONTAINS(err ? err->msg : NULL, "reading kernel image: ");
	i2k_error_free(err);
	close(t);
	close(fd);
	globfree(&g);
}

int main(void)
{
	t_prog = "test_kernel";
	RUN(synthetic_bzimage);
	RUN(version_edge_cases);
	RUN(rejects_non_bzimages);
	RUN(real_debian_kernel);
	return TEST_DONE();
}
