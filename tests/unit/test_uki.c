/* test_uki.c — kernel/uki: a UKI from Debian's systemd stub, checked with
 * objdump -h/-p, its sections extracted with objcopy and compared with the
 * inputs, the layout compared with what `objcopy --add-section
 * --change-section-vma` produces; determinism; every error message. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "kernel/uki.h"
#include "test.h"
#include "testutil.h"

static char kpath[512], ipath[512];
static uint8_t *kdata, *idata;
static const size_t ksize = 3000001, isize = 777777;
static const char *cmdline = "console=ttyS0 i2kit.test=1";
static const char *osrel = "ID=i2kit\nNAME=\"i2kit test\"\n";

static int fd_write(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	return i2k_write_all(*(int *)ctx, buf, len, err);
}

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n);
	uint32_t x = seed;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
	return b;
}

static void save_bytes(const char *name, const void *d, size_t n, char *path, size_t plen)
{
	snprintf(path, plen, "%s/%s", tmpdir, name);
	struct i2k_error *e = NULL;
	if (i2k_write_file_atomic(path, d, n, 0644, &e) < 0) {
		fprintf(stderr, "save %s: %s\n", name, e->msg);
		exit(1);
	}
}

/* Builds a UKI into tmpdir/name; returns the build's result. */
static int build(const char *name, const char *stub, struct i2k_uki_layout *lay, char *out,
		 size_t outlen, struct i2k_error **err)
{
	snprintf(out, outlen, "%s/%s", tmpdir, name);
	_cleanup_close_ int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	_cleanup_close_ int kfd = open(kpath, O_RDONLY), ifd = open(ipath, O_RDONLY);
	struct i2k_uki_opts o = {.stub_path = stub,
				 .kernel = {kfd, 0, ksize},
				 .initrd = {ifd, 0, isize},
				 .cmdline = cmdline,
				 .osrel = osrel};
	return i2k_uki_build(&o, fd_write, &fd, lay, err);
}

/* "  8 .osrel        0000001a  000000000001a000 ..." → size and VMA. */
static bool objdump_section(const char *dump, const char *name, unsigned long *size,
			    unsigned long *vma, unsigned long *off)
{
	char key[32];
	snprintf(key, sizeof(key), " %s ", name);
	const char *p = dump ? strstr(dump, key) : NULL;
	if (!p)
		return false;
	unsigned long lma;
	return sscanf(p + strlen(key), " %lx %lx %lx %lx", size, vma, &lma, off) == 4;
}

static bool section_equals(const char *uki, const char *sec, const void *want, size_t n)
{
	char cmd[1500], out[600];
	snprintf(out, sizeof(out), "%s/sec.bin", tmpdir);
	snprintf(cmd, sizeof(cmd), "objcopy -O binary --only-section=%s %s %s", sec, uki, out);
	if (run(cmd) != 0)
		return false;
	char *got = NULL;
	size_t glen = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(out, 64 << 20, &got, &glen, &e) < 0) {
		i2k_error_free(e);
		return false;
	}
	/* objcopy writes SizeOfRawData bytes (padded with zeros) */
	bool ok = glen >= n && memcmp(got, want, n) == 0;
	for (size_t i = n; ok && i < glen; i++)
		ok = got[i] == 0;
	free(got);
	return ok;
}

TEST(builds_like_objcopy)
{
	struct i2k_uki_layout lay;
	struct i2k_error *e = NULL;
	char uki[512], cmd[8192];
	CHECK_INT(build("a.efi", NULL, &lay, uki, sizeof(uki), &e), 0);
	if (e)
		fprintf(stderr, "  %s\n", e->msg);
	CHECK_INT(lay.n, 12);
	struct stat st;
	CHECK(stat(uki, &st) == 0 && (uint64_t)st.st_size == lay.size);

	snprintf(cmd, sizeof(cmd), "objdump -h %s", uki);
	char *dump = capture(cmd);
	CHECK_CONTAINS(dump, "file format pei-x86-64");
	const char *names[] = {".osrel", ".cmdline", ".initrd", ".linux"};
	size_t sizes[] = {strlen(osrel), strlen(cmdline), isize, ksize};
	unsigned long prev_end = 0x19134; /* .sdmagic of the Debian 12 stub ends here */
	for (size_t i = 0; i < 4; i++) {
		unsigned long size = 0, vma = 0, off = 0;
		CHECK(objdump_section(dump, names[i], &size, &vma, &off));
		CHECK_INT(size, sizes[i]);
		CHECK_INT(vma % 4096, 0);
		CHECK(vma >= prev_end && vma < prev_end + 4096 + 4096);
		CHECK_INT(off % 512, 0);
		const struct i2k_uki_section *s = &lay.s[8 + i];
		CHECK_STR(s->name, names[i]);
		CHECK_INT(s->rva, vma);
		CHECK_INT(s->file_off, off);
		prev_end = vma + size;
	}
	free(dump);

	snprintf(cmd, sizeof(cmd), "objdump -p %s", uki);
	char *p = capture(cmd);
	char want[64];
	snprintf(want, sizeof(want), "SizeOfImage\t\t%08x", lay.size_of_image);
	CHECK_CONTAINS(p, want);
	CHECK_CONTAINS(p, "CheckSum\t\t00000000");
	CHECK_CONTAINS(p, "Subsystem\t\t0000000a\t(EFI application)");
	CHECK_INT(lay.size_of_image % 512, 0);
	CHECK(lay.size_of_image >= lay.s[11].rva + ksize);
	free(p);

	CHECK(section_equals(uki, ".linux", kdata, ksize));
	CHECK(section_equals(uki, ".initrd", idata, isize));
	CHECK(section_equals(uki, ".cmdline", cmdline, strlen(cmdline)));
	CHECK(section_equals(uki, ".osrel", osrel, strlen(osrel)));

	/* objcopy's recipe with the same VMAs gives the same section table */
	char osf[512], cmf[512], ref[600];
	save_bytes("osrel.txt", osrel, strlen(osrel), osf, sizeof(osf));
	save_bytes("cmdline.txt", cmdline, strlen(cmdline), cmf, sizeof(cmf));
	snprintf(ref, sizeof(ref), "%s/objcopy.efi", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "objcopy --add-section .osrel=%s --change-section-vma .osrel=0x%x "
		 "--add-section .cmdline=%s --change-section-vma .cmdline=0x%x "
		 "--add-section .initrd=%s --change-section-vma .initrd=0x%x "
		 "--add-section .linux=%s --change-section-vma .linux=0x%x %s %s",
		 osf, lay.s[8].rva, cmf, lay.s[9].rva, ipath, lay.s[10].rva, kpath, lay.s[11].rva,
		 I2K_UKI_DEFAULT_STUB, ref);
	CHECK_INT(run(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "objdump -h %s | awk '/^ +[0-9]+ /{print $2, $3, $4}' > %s/ours.txt && "
		 "objdump -h %s | awk '/^ +[0-9]+ /{print $2, $3, $4}' > %s/theirs.txt && "
		 "cmp %s/ours.txt %s/theirs.txt",
		 uki, tmpdir, ref, tmpdir, tmpdir, tmpdir);
	CHECK_INT(run(cmd), 0);
	/* the stub's own bytes are unchanged after the headers */
	snprintf(cmd, sizeof(cmd), "cmp -s -i 1024:1024 -n 69632 %s %s", uki, I2K_UKI_DEFAULT_STUB);
	CHECK_INT(run(cmd), 0);

	/* deterministic, and $I2KIT_EFI_STUB is honoured */
	char again[512], stubcopy[512];
	_cleanup_free_ char *stub = NULL;
	size_t slen = 0;
	CHECK_INT(i2k_read_file(I2K_UKI_DEFAULT_STUB, 1 << 24, &stub, &slen, &e), 0);
	save_bytes("stub-copy.efi", stub, slen, stubcopy, sizeof(stubcopy));
	setenv("I2KIT_EFI_STUB", stubcopy, 1); /* the library reads no environment */
	CHECK_STR(i2k_uki_stub_path(NULL), I2K_UKI_DEFAULT_STUB);
	CHECK_STR(i2k_uki_stub_path("/x"), "/x");
	CHECK_INT(build("b.efi", NULL, NULL, again, sizeof(again), &e), 0);
	unsetenv("I2KIT_EFI_STUB");
	CHECK_STR(i2k_uki_stub_path(NULL), I2K_UKI_DEFAULT_STUB);
	snprintf(cmd, sizeof(cmd), "cmp -s %s %s", uki, again);
	CHECK_INT(run(cmd), 0);
	i2k_error_free(e);
}

TEST(optional_sections_and_spool)
{
	struct i2k_spool *sp = NULL;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_spool_new(tmpdir, &sp, &e), 0);
	_cleanup_close_ int kfd = open(kpath, O_RDONLY);
	uint8_t junk[100] = {1};
	uint64_t joff, off = 0, size = 0;
	CHECK_INT(i2k_spool_append(sp, junk, sizeof(junk), &joff, &e), 0);
	struct i2k_uki_opts o = {.kernel = {kfd, 1, ksize - 1}};
	CHECK_INT(i2k_uki_build_spool(&o, sp, &off, &size, &e), 0);
	CHECK_INT(off, 100);
	_cleanup_free_ uint8_t *img = i2k_xmalloc(size);
	CHECK_INT(i2k_spool_read(sp, off, img, size, &e), 0);
	char path[512], cmd[1024];
	save_bytes("kernel-only.efi", img, size, path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "objdump -h %s", path);
	char *dump = capture(cmd);
	CHECK_CONTAINS(dump, " .linux ");
	CHECK(strstr(dump ? dump : "", ".initrd") == NULL);
	CHECK(strstr(dump ? dump : "", ".cmdline") == NULL);
	CHECK(strstr(dump ? dump : "", ".osrel") == NULL);
	free(dump);
	CHECK(section_equals(path, ".linux", kdata + 1, ksize - 1));
	/* a failed build leaves the spool usable */
	o.stub_path = "/nonexistent/stub.efi";
	CHECK_INT(i2k_uki_build_spool(&o, sp, &off, &size, &e), -1);
	i2k_error_free(e);
	e = NULL;
	CHECK_INT(i2k_spool_append(sp, junk, sizeof(junk), &joff, &e), 0);
	i2k_spool_free(sp);
}

static void expect_stub_error(const uint8_t *stub, size_t len, const char *msg, enum i2k_errc code)
{
	char path[512], out[512];
	save_bytes("bad-stub.efi", stub, len, path, sizeof(path));
	struct i2k_error *e = NULL;
	CHECK_INT(build("bad.efi", path, NULL, out, sizeof(out), &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, msg);
	CHECK_INT(e ? e->code : 0, code);
	i2k_error_free(e);
}

TEST(errors)
{
	struct i2k_error *e = NULL;
	char out[512];
	CHECK_INT(build("x.efi", "/nonexistent/stub.efi", NULL, out, sizeof(out), &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "EFI stub /nonexistent/stub.efi: ");
	CHECK_INT(e ? e->code : 0, I2K_ERR_NOTFOUND);
	i2k_error_free(e);
	e = NULL;

	_cleanup_free_ char *s = NULL;
	size_t len = 0;
	CHECK_INT(i2k_read_file(I2K_UKI_DEFAULT_STUB, 1 << 24, &s, &len, &e), 0);
	uint8_t *stub = (uint8_t *)s;
	_cleanup_free_ uint8_t *b = i2k_xmalloc(len);
	expect_stub_error((const uint8_t *)"hello world", 11, "not a PE/COFF file: no MZ header",
			  I2K_ERR_CONFIG);
	memcpy(b, stub, len);
	b[0x3c] = 0xff;
	b[0x3d] = 0xff;
	b[0x3e] = 0xff;
	expect_stub_error(b, len, "not a PE/COFF file: bad PE header offset", I2K_ERR_CONFIG);
	memcpy(b, stub, len);
	b[0x80] = 'X'; /* the PE signature of this stub is at 0x80 */
	expect_stub_error(b, len, "not a PE/COFF file: no PE signature", I2K_ERR_CONFIG);
	memcpy(b, stub, len);
	b[0x98] = 0x0b;
	b[0x99] = 0x01; /* PE32 magic */
	expect_stub_error(b, len, "not a PE/COFF file: not PE32+", I2K_ERR_CONFIG);
	memcpy(b, stub, len);
	b[0x86] = 0xff; /* NumberOfSections = 0x??ff */
	b[0x87] = 0x00;
	expect_stub_error(b, len, "not a PE/COFF file: section table out of bounds",
			  I2K_ERR_CONFIG);
	memcpy(b, stub, len);
	b[0x98 + 36] = 3; /* FileAlignment 3 */
	b[0x98 + 37] = 0;
	expect_stub_error(b, len, "not a PE/COFF file: bad alignment", I2K_ERR_CONFIG);
	expect_stub_error(stub, 0x11000, "not a PE/COFF file: section data out of bounds",
			  I2K_ERR_CONFIG);
	memcpy(b, stub, len);
	/* SizeOfHeaders = end of the section table + one header: no room for 4 */
	uint32_t tight = 0x2c8 + 40;
	b[0x98 + 60] = tight & 0xff;
	b[0x98 + 61] = (uint8_t)(tight >> 8);
	expect_stub_error(b, len, "no room for 4 more section headers", I2K_ERR_UNSUPPORTED);

	/* a UKI is not a stub */
	struct i2k_uki_layout lay;
	char uki[512];
	CHECK_INT(build("u.efi", NULL, &lay, uki, sizeof(uki), &e), 0);
	CHECK_INT(build("uu.efi", uki, NULL, out, sizeof(out), &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "already has a .linux section");
	i2k_error_free(e);
	e = NULL;

	/* empty kernel; short kernel file */
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int kfd = open(kpath, O_RDONLY);
	struct i2k_uki_opts o = {.kernel = {kfd, 0, 0}};
	CHECK_INT(i2k_uki_build(&o, fd_write, &fd, NULL, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "UKI: the kernel is empty");
	i2k_error_free(e);
	e = NULL;
	o.kernel.size = ksize + 10;
	CHECK_INT(i2k_uki_build(&o, fd_write, &fd, NULL, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "reading the kernel: ");
	CHECK_INT(e ? e->code : 0, I2K_ERR_IO);
	i2k_error_free(e);
	close(kfd);
	close(fd);
}

int main(void)
{
	t_prog = "test_uki";
	make_tmpdir();
	if (access(I2K_UKI_DEFAULT_STUB, R_OK) != 0 ||
	    run("command -v objdump objcopy >/dev/null") != 0) {
		printf("FAIL: test_uki/oracles: %s or binutils missing (counts as failed)\n",
		       I2K_UKI_DEFAULT_STUB);
		return 1;
	}
	kdata = pattern(ksize, 11);
	idata = pattern(isize, 22);
	save_bytes("kernel", kdata, ksize, kpath, sizeof(kpath));
	save_bytes("initrd", idata, isize, ipath, sizeof(ipath));
	RUN(builds_like_objcopy);
	RUN(optional_sections_and_spool);
	RUN(errors);
	free(kdata);
	free(idata);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
