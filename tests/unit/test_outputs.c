/* test_outputs.c — formats/outputs: tar, kernel+initrd, tar-kernel-initrd,
 * the format table, errors, atomicity and determinism. Oracles: GNU tar,
 * gzip, zstd, cpio, sha256sum. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "formats/format.h"
#include "pipeline/build.h"
#include "formats/unchanged.h"
#include "initrd/cpio.h"
#include "test.h"
#include "testutil.h"

static char *read_all(const char *path, size_t *len)
{
	char *s = NULL;
	size_t l = 0;
	struct i2k_error *err = NULL;
	if (i2k_read_file(path, 64 << 20, &s, &l, &err) < 0) {
		i2k_error_free(err);
		return NULL;
	}
	if (len)
		*len = l;
	return s;
}

static void add(struct i2k_fstree *t, const char *path, uint32_t mode, const void *data,
		size_t size)
{
	struct i2k_error *err = NULL;
	uint64_t off = 0;
	if (size && i2k_spool_append(i2k_fstree_spool(t), data, size, &off, &err) < 0)
		goto fail;
	struct i2k_fattr a = {.mode = mode, .mtime = 1600000000};
	if (i2k_fstree_add(t, path, &a, NULL, off, size, I2K_FSTREE_MKPARENTS, NULL, &err) < 0)
		goto fail;
	return;
fail:
	fprintf(stderr, "  add %s: %s\n", path, err->msg);
	exit(1);
}

static void add_str(struct i2k_fstree *t, const char *path, const char *s)
{
	add(t, path, S_IFREG | 0644, s, strlen(s));
}

/* A synthetic bzImage: setup header + version string + filler. */
static unsigned char kernel_img[8192];
static void make_kernel(void)
{
	unsigned char *b = kernel_img;
	memset(b, 0x90, sizeof(kernel_img));
	memset(b, 0, 0x400);
	b[0x1FE] = 0x55;
	b[0x1FF] = 0xAA;
	memcpy(b + 0x202, "HdrS", 4);
	b[0x206] = 0x0f;
	b[0x207] = 0x02;
	b[0x20E] = 0x00; /* version at 0x200 + 0x100 */
	b[0x20F] = 0x01;
	b[0x211] = 0x01;
	const char *v = "6.6.6-i2k (test@example) #1 SMP";
	memcpy(b + 0x300, v, strlen(v) + 1);
}

/* An early-microcode cpio built with our own writer from a scratch tree. */
static struct membuf make_ucode(struct i2k_spool *sp)
{
	struct membuf m = {0};
	struct i2k_fstree *u = i2k_fstree_new(sp);
	add_str(u, "kernel/x86/microcode/GenuineIntel.bin", "UCODE-BLOB");
	struct i2k_error *err = NULL;
	struct i2k_ostream s = {.write = mem_write, .ctx = &m};
	if (i2k_cpio_write_tree(u, NULL, s, &err) < 0) {
		fprintf(stderr, "  ucode: %s\n", err->msg);
		exit(1);
	}
	i2k_fstree_free(u);
	return m;
}

static struct membuf ucode;

static struct i2k_fstree *make_root(struct i2k_spool *sp, bool with_kernel, bool with_ucode,
				    const char *cmdline)
{
	struct i2k_fstree *t = i2k_fstree_new(sp);
	add_str(t, "etc/hostname", "i2kit\n");
	add_str(t, "etc/issue", "Welcome\n");
	add(t, "sbin/init", S_IFREG | 0755, "#!/bin/sh\n", 10);
	add(t, "containers/services/web/rootfs/index.html", S_IFREG | 0644, "<h1>hi</h1>", 11);
	add(t, "boot", S_IFDIR | 0755, NULL, 0);
	if (with_kernel)
		add(t, "boot/kernel", S_IFREG | 0644, kernel_img, sizeof(kernel_img));
	if (cmdline)
		add_str(t, "boot/cmdline", cmdline);
	if (with_ucode)
		add(t, "boot/ucode.cpio", S_IFREG | 0644, ucode.data, ucode.len);
	add_str(t, "boot/System.map", "dropped from the initrd");
	return t;
}

/* One format through the pipeline's formats stage. */
static int output_write(const char *fmt, struct i2k_fstree *t, const struct i2k_format_opts *o,
			struct i2k_output_result *res, struct i2k_error **err)
{
	return i2k_build_write_formats(t, o, &fmt, 1, res, NULL, err);
}

static int write_fmt(const char *fmt, struct i2k_fstree *t, const char *dir,
		     enum i2k_compression comp, struct i2k_output_result *res,
		     struct i2k_error **err)
{
	struct i2k_format_opts o = {.dir = dir, .name = "vm", .compression = comp, .digests = true};
	return output_write(fmt, t, &o, res, err);
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- tests --------------------------------------------------------------- */

TEST(format_table)
{
	CHECK(i2k_format_find("kernel+initrd"));
	CHECK(i2k_format_find("tar"));
	CHECK(i2k_format_find("qcow2-efi"));
	CHECK(!i2k_format_find("nonsense"));
	size_t n = 0;
	const struct i2k_format *f = i2k_formats(&n);
	CHECK_INT(n, 18); /* DESIGN.md's + vmdk, gcp, kernel+iso, kernel+erofs, iso-efi-initrd */
	CHECK_STR(f[0].name, "kernel+initrd");
	for (size_t i = 0; i < n; i++) {
		/* every row has a writer, help text, files and a valid boot mode */
		CHECK(f[i].write != NULL);
		CHECK(f[i].help && f[i].help[0]);
		CHECK(f[i].files[0] && f[i].files[0][0]);
		CHECK(strcmp(i2k_boot_method_name(f[i].boot), "?") != 0);
		CHECK(f[i].roots & I2K_ROOT_BIT(f[i].root)); /* the default is accepted */
		/* a disk boots with firmware, unless it only travels (gcp) */
		CHECK(f[i].boot == I2K_BOOT_KERNEL || f[i].boot == I2K_BOOT_NONE ||
		      f[i].firmware == I2K_FIRMWARE_BIOS || f[i].firmware == I2K_FIRMWARE_UEFI ||
		      f[i].container == I2K_CONTAINER_GCP);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(f[i].name, f[j].name) != 0);
	}
}

TEST(unknown_and_refused)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, true, false, "x");
	struct i2k_output_result res = {0};
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/unknown", tmpdir);
	struct i2k_format_opts bo = {
	    .dir = dir, .name = "vm", .root_given = true, .root = I2K_ROOT_SQUASHFS};
	CHECK(output_write("raw-bios", t, &bo, &res, &err) < 0);
	CHECK(err && err->code == I2K_ERR_USAGE);
	CHECK_STR(err ? err->msg : NULL,
		  "raw-bios boots with the root in the initramfs only; --root squashfs needs "
		  "kernel+squashfs, raw-efi, qcow2-efi or aws");
	i2k_error_free(err);
	err = NULL;
	CHECK(write_fmt("floppy", t, dir, I2K_COMPRESS_GZIP, &res, &err) < 0);
	CHECK(err && err->code == I2K_ERR_USAGE);
	CHECK_STR(err ? err->msg : NULL,
		  "unknown output format \"floppy\" (see i2kit build --help)");
	i2k_error_free(err);
	err = NULL;
	struct i2k_format_opts o = {.dir = dir, .name = "a/b"};
	CHECK(output_write("tar", t, &o, &res, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "invalid output name \"a/b\"");
	i2k_error_free(err);
	err = NULL;
	o.name = NULL;
	CHECK(output_write("tar", t, &o, &res, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "invalid output name \"\"");
	i2k_error_free(err);
	err = NULL;
	o.name = "vm";
	o.compression = I2K_COMPRESS_GZIP;
	o.level = 12;
	CHECK(output_write("kernel+initrd", t, &o, &res, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "gzip level 12 out of range 1..9");
	i2k_error_free(err);
	CHECK_INT(res.nfiles, 0);
	CHECK_INT(count_files(dir), 0); /* nothing left behind, not even temp files */
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

TEST(missing_kernel)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, false, false, "console=ttyS0");
	struct i2k_output_result res = {0};
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/nokernel", tmpdir);
	CHECK(write_fmt("kernel+initrd", t, dir, I2K_COMPRESS_GZIP, &res, &err) < 0);
	CHECK(err && err->code == I2K_ERR_CONFIG);
	CHECK_STR(err ? err->msg : NULL, "kernel+initrd output needs a kernel: section");
	i2k_error_free(err);
	err = NULL;
	CHECK(write_fmt("tar-kernel-initrd", t, dir, I2K_COMPRESS_GZIP, &res, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "tar-kernel-initrd output needs a kernel: section");
	i2k_error_free(err);
	err = NULL;
	CHECK_INT(count_files(dir), 0);
	/* a kernel that is a directory */
	add(t, "boot/kernel", S_IFDIR | 0755, NULL, 0);
	CHECK(write_fmt("kernel+initrd", t, dir, I2K_COMPRESS_GZIP, &res, &err) < 0);
	CHECK_STR(err ? err->msg : NULL, "boot/kernel is not a regular file");
	i2k_error_free(err);
	err = NULL;
	/* the tar format does not need a kernel */
	CHECK(write_fmt("tar", t, dir, I2K_COMPRESS_GZIP, &res, &err) == 0);
	CHECK_INT(res.nfiles, 1);
	CHECK(res.kernel_release == NULL);
	i2k_output_result_free(&res);
	CHECK(res.files == NULL && res.nfiles == 0);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

static void check_result_file(const struct i2k_output_file *f, const char *path)
{
	CHECK_STR(f->path, path);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_INT(st.st_size, f->size);
	CHECK_INT(st.st_mode & 0777, 0644);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "sha256sum %s | cut -d' ' -f1", path);
	char *sum = capture(cmd);
	char want[100];
	snprintf(want, sizeof(want), "sha256:%s", sum ? sum : "");
	if (sum)
		want[strlen(want) - 1] = 0; /* newline */
	CHECK_STR(f->sha256, want);
	free(sum);
}

static void kernel_initrd_case(enum i2k_compression comp, const char *sub, const char *decomp,
			       const char *tester)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, true, true, "console=ttyS0 quiet");
	struct i2k_output_result res = {0};
	char dir[512], p[700], cmd[3000];
	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, sub);
	CHECK(write_fmt("kernel+initrd", t, dir, comp, &res, &err) == 0);
	if (err)
		fprintf(stderr, "  %s\n", err->msg);
	CHECK_INT(res.nfiles, 3);
	CHECK_STR(res.kernel_release, "6.6.6-i2k");
	CHECK_INT(count_files(dir), 3);
	if (res.nfiles == 3) {
		snprintf(p, sizeof(p), "%s/vm-kernel", dir);
		check_result_file(&res.files[0], p);
		snprintf(p, sizeof(p), "%s/vm-initrd.img", dir);
		check_result_file(&res.files[1], p);
		snprintf(p, sizeof(p), "%s/vm-cmdline", dir);
		check_result_file(&res.files[2], p);
	}
	size_t len = 0;
	snprintf(p, sizeof(p), "%s/vm-kernel", dir);
	char *k = read_all(p, &len);
	CHECK(k && len == sizeof(kernel_img) && memcmp(k, kernel_img, len) == 0);
	free(k);
	snprintf(p, sizeof(p), "%s/vm-cmdline", dir);
	char *c = read_all(p, NULL);
	CHECK_STR(c, "console=ttyS0 quiet");
	free(c);
	/* initrd = ucode cpio (verbatim) + compressed part padded to 4 */
	snprintf(p, sizeof(p), "%s/vm-initrd.img", dir);
	char *img = read_all(p, &len);
	CHECK(img && len > ucode.len && memcmp(img, ucode.data, ucode.len) == 0);
	if (comp == I2K_COMPRESS_GZIP)
		CHECK_INT((len - ucode.len) % 4, 0);
	free(img);
	snprintf(cmd, sizeof(cmd), "tail -c +%zu %s > %s/rest && %s %s/rest", ucode.len + 1, p, dir,
		 tester, dir);
	CHECK_INT(run(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s < %s/rest | cpio -t --quiet", decomp, dir);
	char *list = capture(cmd);
	CHECK_STR(list, "boot\ncontainers\ncontainers/services\ncontainers/services/web\n"
			"containers/services/web/rootfs\n"
			"containers/services/web/rootfs/index.html\netc\netc/hostname\n"
			"etc/issue\nsbin\nsbin/init\n");
	free(list);
	/* the ucode part alone is a valid archive */
	snprintf(cmd, sizeof(cmd), "cpio -t --quiet < %s | head -1", p);
	list = capture(cmd);
	CHECK_STR(list, "kernel\n");
	free(list);
	/* same tree again → same bytes */
	struct i2k_output_result res2 = {0};
	char dir2[600];
	snprintf(dir2, sizeof(dir2), "%s-again", dir);
	CHECK(write_fmt("kernel+initrd", t, dir2, comp, &res2, &err) == 0);
	CHECK(res2.nfiles == 3 && res.nfiles == 3);
	for (size_t i = 0; i < res.nfiles && i < res2.nfiles; i++)
		CHECK_STR(res.files[i].sha256, res2.files[i].sha256);
	i2k_output_result_free(&res2);
	i2k_output_result_free(&res);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

TEST(kernel_initrd_gzip)
{
	kernel_initrd_case(I2K_COMPRESS_GZIP, "ki-gzip", "gzip -dc", "gzip -t");
}

TEST(kernel_initrd_zstd)
{
	kernel_initrd_case(I2K_COMPRESS_ZSTD, "ki-zstd", "zstd -dc -q", "zstd -q -t");
}

TEST(kernel_initrd_none_and_no_cmdline)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, true, false, NULL);
	struct i2k_output_result res = {0};
	char dir[512], p[700];
	snprintf(dir, sizeof(dir), "%s/ki-none", tmpdir);
	CHECK(write_fmt("kernel+initrd", t, dir, I2K_COMPRESS_NONE, &res, &err) == 0);
	CHECK_INT(res.nfiles, 3);
	snprintf(p, sizeof(p), "%s/vm-cmdline", dir);
	struct stat st;
	CHECK(stat(p, &st) == 0 && st.st_size == 0);
	snprintf(p, sizeof(p), "%s/vm-initrd.img", dir);
	size_t len = 0;
	char *img = read_all(p, &len);
	CHECK(img && len > 6 && memcmp(img, "070701", 6) == 0);
	CHECK_INT(len % 4, 0);
	free(img);
	i2k_output_result_free(&res);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

TEST(tar_output)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, true, true, "console=ttyS0");
	struct i2k_output_result res = {0};
	char dir[512], p[700], cmd[1500];
	snprintf(dir, sizeof(dir), "%s/tar", tmpdir);
	CHECK(write_fmt("tar", t, dir, I2K_COMPRESS_ZSTD, &res, &err) == 0);
	CHECK_INT(res.nfiles, 1);
	snprintf(p, sizeof(p), "%s/vm.tar", dir);
	if (res.nfiles == 1)
		check_result_file(&res.files[0], p);
	snprintf(cmd, sizeof(cmd), "tar -tf %s", p);
	char *list = capture(cmd);
	CHECK_STR(list, "boot/\nboot/System.map\nboot/cmdline\nboot/kernel\nboot/ucode.cpio\n"
			"containers/\ncontainers/services/\ncontainers/services/web/\n"
			"containers/services/web/rootfs/\n"
			"containers/services/web/rootfs/index.html\netc/\netc/hostname\n"
			"etc/issue\nsbin/\nsbin/init\n");
	free(list);
	snprintf(cmd, sizeof(cmd), "tar -xOf %s boot/kernel | cmp - %s/../ki-gzip/vm-kernel", p,
		 dir);
	CHECK_INT(run(cmd), 0);
	i2k_output_result_free(&res);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

TEST(tar_kernel_initrd_output)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, true, true, "console=ttyS0 quiet");
	setenv("SOURCE_DATE_EPOCH", "1234567890", 1); /* after the tree: only the tar's mtimes */
	struct i2k_output_result res = {0};
	char dir[512], p[700], cmd[4000];
	snprintf(dir, sizeof(dir), "%s/tki", tmpdir);
	CHECK(write_fmt("tar-kernel-initrd", t, dir, I2K_COMPRESS_GZIP, &res, &err) == 0);
	CHECK_INT(res.nfiles, 1);
	CHECK_INT(count_files(dir), 1); /* the scratch initrd is gone */
	snprintf(p, sizeof(p), "%s/vm-initrd.tar", dir);
	if (res.nfiles == 1)
		check_result_file(&res.files[0], p);
	snprintf(cmd, sizeof(cmd),
		 "tar --numeric-owner --full-time -tvf %s | awk '{print $1, $2, $4, $5, $6}'", p);
	char *list = capture(cmd);
	char want[1000];
	snprintf(want, sizeof(want),
		 "-rw-r--r-- 0/0 2009-02-13 23:31:30 kernel\n"
		 "-rw-r--r-- 0/0 2009-02-13 23:31:30 initrd.img\n"
		 "-rw-r--r-- 0/0 2009-02-13 23:31:30 cmdline\n"
		 "-rw-r--r-- 0/0 2009-02-13 23:31:30 ucode.cpio\n");
	CHECK_STR(list, want);
	free(list);
	/* the initrd inside equals kernel+initrd's compressed part (no ucode) */
	snprintf(cmd, sizeof(cmd),
		 "TZ=UTC tar -xOf %s initrd.img | cmp - %s/../ki-gzip/rest && "
		 "tar -xOf %s cmdline | grep -qx 'console=ttyS0 quiet' && "
		 "tar -xOf %s kernel | cmp - %s/../ki-gzip/vm-kernel",
		 p, dir, p, p, dir);
	CHECK_INT(run(cmd), 0);
	unsetenv("SOURCE_DATE_EPOCH");
	i2k_output_result_free(&res);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

TEST(interrupt_leaves_nothing)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, true, true, "x");
	struct i2k_output_result res = {0};
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/intr", tmpdir);
	const char *fmts[] = {"tar", "kernel+initrd", "tar-kernel-initrd"};
	for (size_t i = 0; i < 3; i++) {
		i2k_interrupted = 1;
		CHECK(write_fmt(fmts[i], t, dir, I2K_COMPRESS_GZIP, &res, &err) < 0);
		i2k_interrupted = 0;
		CHECK(err && err->code == I2K_ERR_INTERRUPTED);
		i2k_error_free(err);
		err = NULL;
		CHECK_INT(res.nfiles, 0);
		CHECK_INT(count_files(dir), 0);
	}
	/* an unwritable directory: I/O error, wrapped with the format */
	if (geteuid() != 0) {
		fprintf(stderr, "  (skipping the read-only directory check: not root)\n");
	}
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "touch %s/file-not-dir", tmpdir);
	CHECK_INT(run(cmd), 0);
	char bad[600];
	snprintf(bad, sizeof(bad), "%s/file-not-dir/sub", tmpdir);
	CHECK(write_fmt("tar", t, bad, I2K_COMPRESS_GZIP, &res, &err) < 0);
	CHECK(err && err->code == I2K_ERR_IO);
	CHECK_CONTAINS(err ? err->msg : NULL, "tar output: ");
	i2k_error_free(err);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

/* Uncompressed outputs of a fixed tree must keep their exact bytes: any
 * change to the tar/cpio byte format shows up here (update
 * tests/data/outputs/golden.txt deliberately, never to silence a diff). */
static ino_t inode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_ino : 0;
}

/* A rebuild leaves a stream output whose bytes did not change where it is
 * (same inode); one that changed, was damaged, grew, shrank, has another
 * mode or is a symlink is replaced by the right bytes. */
TEST(unchanged_outputs)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, true, true, "console=ttyS0");
	char dir[512], k[700], c[700], i[700], ref[700], cmd[3000];
	snprintf(dir, sizeof(dir), "%s/unchanged", tmpdir);
	snprintf(k, sizeof(k), "%s/vm-kernel", dir);
	snprintf(c, sizeof(c), "%s/vm-cmdline", dir);
	snprintf(i, sizeof(i), "%s/vm-initrd.img", dir);
	snprintf(ref, sizeof(ref), "%s/unchanged-ref", tmpdir);
	struct i2k_output_result res = {0};
	CHECK(write_fmt("kernel+initrd", t, ref, I2K_COMPRESS_GZIP, &res, &err) == 0);
	i2k_output_result_free(&res);
	CHECK(write_fmt("kernel+initrd", t, dir, I2K_COMPRESS_GZIP, &res, &err) == 0);
	i2k_output_result_free(&res);
	ino_t ki = inode_of(k), ci = inode_of(c), ii = inode_of(i);
	CHECK(ki != 0 && ci != 0 && ii != 0);

	/* the same tree: nothing replaced; sizes and digests as written */
	CHECK(write_fmt("kernel+initrd", t, dir, I2K_COMPRESS_GZIP, &res, &err) == 0);
	CHECK(inode_of(k) == ki && inode_of(c) == ci && inode_of(i) == ii);
	CHECK_INT(res.nfiles, 3);
	if (res.nfiles == 3) {
		check_result_file(&res.files[0], k);
		check_result_file(&res.files[1], i);
		check_result_file(&res.files[2], c);
	}
	i2k_output_result_free(&res);

	/* damaged in the middle, one byte longer, one byte shorter, mode 0600,
	 * a symlink: each replaced with the right bytes */
	for (int d = 0; d < 5; d++) {
		ki = inode_of(k);
		if (d == 0)
			snprintf(cmd, sizeof(cmd),
				 "printf X | dd of=%s bs=1 seek=4000 conv=notrunc status=none", k);
		else if (d == 1)
			snprintf(cmd, sizeof(cmd), "printf X >> %s", k);
		else if (d == 2)
			snprintf(cmd, sizeof(cmd), "truncate -s -1 %s", k);
		else if (d == 3)
			snprintf(cmd, sizeof(cmd), "chmod 600 %s", k);
		else
			snprintf(cmd, sizeof(cmd), "mv %s %s.old && ln -s vm-kernel.old %s", k, k,
				 k);
		CHECK_INT(run(cmd), 0);
		CHECK(write_fmt("kernel+initrd", t, dir, I2K_COMPRESS_GZIP, &res, &err) == 0);
		i2k_output_result_free(&res);
		CHECK(inode_of(k) != ki);
		CHECK(inode_of(c) == ci && inode_of(i) == ii);
		snprintf(cmd, sizeof(cmd), "cmp -s %s %s/vm-kernel && test -f %s && ! test -L %s",
			 k, ref, k, k);
		CHECK_INT(run(cmd), 0);
		struct stat st;
		CHECK(stat(k, &st) == 0 && (st.st_mode & 07777) == 0644);
	}
	snprintf(cmd, sizeof(cmd), "cmp -s %s/vm-kernel %s.old", ref, k);
	CHECK_INT(run(cmd), 0); /* the symlink's target was not written through */

	/* another command line: only the cmdline file changes */
	ki = inode_of(k);
	i2k_fstree_free(t);
	t = make_root(sp, true, true, "console=ttyS0 quiet");
	CHECK(write_fmt("kernel+initrd", t, dir, I2K_COMPRESS_GZIP, &res, &err) == 0);
	i2k_output_result_free(&res);
	CHECK(inode_of(k) == ki && inode_of(c) != ci);
	char *s = read_all(c, NULL);
	CHECK_STR(s, "console=ttyS0 quiet");
	free(s);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

/* The comparison itself: fed in pieces, a difference in a later piece, the
 * equal prefix copied into the new file. */
TEST(unchanged_pieces)
{
	char old[512], neu[512];
	snprintf(old, sizeof(old), "%s/pieces-old", tmpdir);
	snprintf(neu, sizeof(neu), "%s/pieces-new", tmpdir);
	static char a[600000], b[600000];
	for (size_t j = 0; j < sizeof(a); j++)
		a[j] = b[j] = (char)(j * 7 + j / 1000);
	b[500000] ^= 1;
	FILE *fp = fopen(old, "w");
	CHECK(fp && fwrite(a, 1, sizeof(a), fp) == sizeof(a));
	fclose(fp);
	CHECK(chmod(old, 0644) == 0);
	struct i2k_unchanged u;
	i2k_unchanged_open(&u, old);
	CHECK(i2k_unchanged_active(&u));
	CHECK(i2k_unchanged_feed(&u, b, 300000));
	CHECK(i2k_unchanged_feed(&u, b + 300000, 100000));
	CHECK(!i2k_unchanged_feed(&u, b + 400000, 200000));
	CHECK_INT(u.len, 400000);
	int fd = open(neu, O_RDWR | O_CREAT | O_TRUNC, 0644);
	struct i2k_error *err = NULL;
	CHECK(fd >= 0 && i2k_unchanged_materialize(&u, fd, &err) == 0);
	CHECK(!i2k_unchanged_active(&u));
	CHECK(write(fd, b + 400000, 200000) == 200000);
	close(fd);
	size_t len = 0;
	char *got = read_all(neu, &len);
	CHECK(got && len == sizeof(b) && memcmp(got, b, len) == 0);
	free(got);
	/* all equal but the old file is longer: not kept */
	i2k_unchanged_open(&u, old);
	CHECK(i2k_unchanged_feed(&u, a, 100));
	CHECK(!i2k_unchanged_kept(&u, old));
	CHECK(i2k_unchanged_feed(&u, a + 100, sizeof(a) - 100));
	CHECK(i2k_unchanged_kept(&u, old));
	i2k_unchanged_close(&u);
	i2k_unchanged_close(&u);
	/* nothing there, or not 0644: inactive */
	i2k_unchanged_open(&u, neu);
	CHECK(i2k_unchanged_active(&u));
	i2k_unchanged_close(&u);
	CHECK(chmod(neu, 0755) == 0);
	i2k_unchanged_open(&u, neu);
	CHECK(!i2k_unchanged_active(&u));
	CHECK(unlink(neu) == 0);
	i2k_unchanged_open(&u, neu);
	CHECK(!i2k_unchanged_active(&u));

	/* a group whose files were never written (or were sinks) compares
	 * nothing and closes no descriptor of anyone else's (fd 0 once) */
	if (fcntl(0, F_GETFD) < 0)
		CHECK(open("/dev/null", O_RDONLY) == 0);
	static const char *const sfx[] = {".a", ".b"};
	struct i2k_output_group *g = NULL;
	CHECK(i2k_output_group_open(tmpdir, "never", sfx, 2, false, &g, &err) == 0);
	(void)i2k_output_sink(g, 1);
	i2k_output_group_free(g);
	CHECK(fcntl(0, F_GETFD) >= 0);
}

/* An output can be a temp file made beside it (a raw disk): named at
 * commit, extended to its size, mode 0644, hashed from the file; a file
 * that cannot be named there, or is too long, is refused (0) and the
 * output is written as usual. */
TEST(adopted_output)
{
	struct i2k_error *err = NULL;
	char dir[512], p[700];
	snprintf(dir, sizeof(dir), "%s/adopt", tmpdir);
	CHECK(mkdir(dir, 0755) == 0);
	static const char *const sfx[] = {".img"};
	for (int hash = 0; hash < 2; hash++) {
		int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		CHECK(fd >= 0 && pwrite(fd, "disk", 4, 0) == 4);
		struct i2k_output_group *g = NULL;
		struct i2k_output_result res = {0};
		CHECK(i2k_output_group_open(dir, "a", sfx, 1, hash, &g, &err) == 0);
		CHECK_INT(i2k_output_adopt(g, 0, fd, 8192, &err), 1);
		CHECK(i2k_output_group_commit(g, "raw", &res, &err) == 0);
		i2k_output_group_free(g);
		close(fd); /* the output stays */
		snprintf(p, sizeof(p), "%s/a.img", dir);
		CHECK(res.nfiles == 1 && res.files[0].size == 8192);
		if (hash && res.nfiles == 1)
			check_result_file(&res.files[0], p);
		else if (res.nfiles == 1)
			CHECK_STR(res.files[0].sha256, "");
		struct stat st;
		CHECK(stat(p, &st) == 0 && st.st_size == 8192 && (st.st_mode & 07777) == 0644 &&
		      st.st_nlink == 1);
		size_t len = 0;
		char *s = read_all(p, &len);
		CHECK(s && len == 8192 && memcmp(s, "disk", 4) == 0 && s[4] == 0 && s[8191] == 0);
		free(s);
		i2k_output_result_free(&res);
	}
	/* a file already unlinked (no O_TMPFILE), and one longer than the output */
	char tmpl[700];
	snprintf(tmpl, sizeof(tmpl), "%s/x.XXXXXX", dir);
	int gone = mkstemp(tmpl);
	CHECK(gone >= 0 && unlink(tmpl) == 0 && write(gone, "old", 3) == 3);
	int big = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	CHECK(big >= 0 && ftruncate(big, 100000) == 0);
	int fds[] = {gone, big};
	for (int k = 0; k < 2; k++) {
		struct i2k_output_group *g = NULL;
		struct i2k_output_result res = {0};
		CHECK(i2k_output_group_open(dir, "b", sfx, 1, true, &g, &err) == 0);
		CHECK_INT(i2k_output_adopt(g, 0, fds[k], 8192, &err), 0);
		struct i2k_ostream os = i2k_output_stream(g, 0);
		CHECK(i2k_ostream_write(os, "written", 7, &err) == 0);
		CHECK(i2k_output_group_commit(g, "raw", &res, &err) == 0);
		i2k_output_group_free(g);
		snprintf(p, sizeof(p), "%s/b.img", dir);
		char *s = read_all(p, NULL);
		CHECK_STR(s, "written");
		free(s);
		i2k_output_result_free(&res);
		CHECK(unlink(p) == 0);
		close(fds[k]);
	}
}

/* Without digests nothing is hashed (sha256 ""), and the bytes are the same. */
TEST(no_digests)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	struct i2k_fstree *t = make_root(sp, true, true, "console=ttyS0");
	const char *fmts[] = {"kernel+initrd", "tar"};
	for (size_t k = 0; k < 2; k++) {
		struct i2k_output_result with = {0}, without = {0};
		char d1[512], d2[512];
		snprintf(d1, sizeof(d1), "%s/nd-%zu-with", tmpdir, k);
		snprintf(d2, sizeof(d2), "%s/nd-%zu-without", tmpdir, k);
		CHECK(mkdir(d1, 0755) == 0 && mkdir(d2, 0755) == 0);
		struct i2k_format_opts o = {.dir = d1, .name = "n", .digests = true};
		CHECK(output_write(fmts[k], t, &o, &with, &err) == 0);
		o.dir = d2;
		o.digests = false;
		CHECK(output_write(fmts[k], t, &o, &without, &err) == 0);
		CHECK(with.nfiles > 0 && with.nfiles == without.nfiles);
		for (size_t i = 0; i < with.nfiles && i < without.nfiles; i++) {
			check_result_file(&with.files[i], with.files[i].path);
			CHECK_STR(without.files[i].sha256, "");
			CHECK_INT(without.files[i].size, with.files[i].size);
			char cmd[1200];
			snprintf(cmd, sizeof(cmd), "cmp -s %s %s", with.files[i].path,
				 without.files[i].path);
			CHECK_INT(run(cmd), 0);
		}
		i2k_output_result_free(&with);
		i2k_output_result_free(&without);
	}
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

TEST(golden_hashes)
{
	struct i2k_error *err = NULL;
	struct i2k_spool *sp = NULL;
	CHECK(i2k_spool_new(tmpdir, &sp, &err) == 0);
	setenv("SOURCE_DATE_EPOCH", "0", 1);
	struct i2k_fstree *t = make_root(sp, true, true, "console=ttyS0");
	struct i2k_output_result res = {0};
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/golden", tmpdir);
	struct i2k_format_opts o = {
	    .dir = dir, .name = "g", .compression = I2K_COMPRESS_NONE, .digests = true};
	CHECK(output_write("tar", t, &o, &res, &err) == 0);
	CHECK(output_write("kernel+initrd", t, &o, &res, &err) == 0);
	CHECK(output_write("tar-kernel-initrd", t, &o, &res, &err) == 0);
	unsetenv("SOURCE_DATE_EPOCH");
	char actual[4096] = "";
	size_t off = 0;
	for (size_t i = 0; i < res.nfiles; i++) {
		const char *base = strrchr(res.files[i].path, '/') + 1;
		off += (size_t)snprintf(actual + off, sizeof(actual) - off, "%s %llu %s\n", base,
					(unsigned long long)res.files[i].size, res.files[i].sha256);
	}
	char *golden = read_all(test_data("outputs/golden.txt"), NULL);
	if (golden == NULL)
		fprintf(stderr, "  %s missing; actual:\n%s", test_data("outputs/golden.txt"),
			actual);
	/* skip the comment lines of the golden file */
	const char *g = golden;
	while (g && *g == '#') {
		const char *nl = strchr(g, '\n');
		g = nl ? nl + 1 : "";
	}
	CHECK_STR(g, actual);
	free(golden);
	i2k_output_result_free(&res);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

int main(void)
{
	t_prog = "test_outputs";
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/i2k-test-outputs-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	make_kernel();
	struct i2k_spool *sp = NULL;
	struct i2k_error *err = NULL;
	if (i2k_spool_new(tmpdir, &sp, &err) < 0)
		return 1;
	ucode = make_ucode(sp);
	RUN(format_table);
	RUN(unknown_and_refused);
	RUN(missing_kernel);
	RUN(kernel_initrd_gzip);
	RUN(kernel_initrd_zstd);
	RUN(kernel_initrd_none_and_no_cmdline);
	RUN(tar_output);
	RUN(tar_kernel_initrd_output);
	RUN(interrupt_leaves_nothing);
	RUN(unchanged_outputs);
	RUN(unchanged_pieces);
	RUN(adopted_output);
	RUN(no_digests);
	RUN(golden_hashes);
	i2k_spool_free(sp);
	free(ucode.data);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
