/* outputs.c — named output formats: tar, kernel+initrd, tar-kernel-initrd
 * (contract in outputs.h). */
#include "formats/outputs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/images.h"
#include "formats/tar.h"
#include "initrd/cpio.h"
#include "kernel/kernel.h"

static const struct i2k_output_format formats[] = {
    {"kernel+initrd", "NAME-kernel, NAME-initrd.img and NAME-cmdline (the default)", true},
    {"tar", "NAME.tar: the whole root file system", true},
    {"tar-kernel-initrd", "NAME-initrd.tar holding kernel, initrd.img and cmdline", true},
    {"kernel+squashfs", "NAME-kernel, NAME-initrd.img, NAME-squashfs.img, NAME-cmdline", true},
    {"raw-bios", "NAME-bios.img: BIOS-bootable raw disk", true},
    {"raw-efi", "NAME-efi.img: UEFI-bootable raw disk", true},
    {"qcow2-bios", "NAME.qcow2: BIOS-bootable qcow2 disk", true},
    {"qcow2-efi", "NAME-efi.qcow2: UEFI-bootable qcow2 disk", true},
    {"vhd", "NAME.vhd: fixed VHD disk", true},
    {"dynamic-vhd", "NAME.vhd: dynamic VHD disk", true},
    {"aws", "NAME.raw: raw disk for an AWS AMI", true},
    {"iso-bios", "NAME.iso: BIOS-bootable ISO", true},
    {"iso-efi", "NAME-efi.iso: UEFI-bootable ISO", true},
};

const struct i2k_output_format *i2k_output_formats(size_t *n)
{
	*n = I2K_ARRAY_SIZE(formats);
	return formats;
}

static const struct i2k_output_format *find_format(const char *name)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(formats); i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	return NULL;
}

bool i2k_output_known(const char *format)
{
	const struct i2k_output_format *f = find_format(format);
	return f != NULL && f->implemented;
}

void i2k_output_result_free(struct i2k_output_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	free(r->kernel_release);
	memset(r, 0, sizeof(*r));
}

/* ---- one output file: atomic temp + buffered, hashing writer ------------- */

struct out_file {
	struct i2k_atomic_file af;
	struct i2k_fd_writer fw;
	struct i2k_sha256 *sha;
	char *path;
	char digest[I2K_DIGEST_LEN + 1];
};

static int out_open(struct out_file *f, const char *path, struct i2k_error **err)
{
	memset(f, 0, sizeof(*f));
	f->af.fd = -1;
	if (i2k_atomic_open(&f->af, path, 0644, err) < 0)
		return -1;
	f->sha = i2k_sha256_new();
	i2k_fd_writer_init(&f->fw, f->af.fd, f->sha);
	f->path = i2k_xstrdup(path);
	return 0;
}

static struct i2k_ostream out_stream(struct out_file *f)
{
	return i2k_fd_writer_stream(&f->fw);
}

/* Flushes the data and takes the digest; the file stays under its temp name. */
static int out_close(struct out_file *f, struct i2k_error **err)
{
	if (i2k_fd_writer_flush(&f->fw, err) < 0)
		return i2k_error_wrap(err, "writing %s", f->path);
	i2k_sha256_final(f->sha, f->digest);
	return 0;
}

static void out_abort(struct out_file *f)
{
	i2k_atomic_abort(&f->af); /* no-op after commit (fd -1, paths NULL) */
	i2k_fd_writer_release(&f->fw);
	i2k_sha256_free(f->sha);
	free(f->path);
	memset(f, 0, sizeof(*f));
	f->af.fd = -1;
}

/* Commits files[0..n) (all were out_close()d) and appends them to res. If
 * a commit fails, the files already renamed are removed again. */
static int commit_all(struct out_file *files, size_t n, struct i2k_output_result *res,
		      struct i2k_error **err)
{
	for (size_t i = 0; i < n; i++) {
		/* On failure i2k_atomic_commit removes its temp file itself. */
		if (i2k_check_interrupt(err) < 0 || i2k_atomic_commit(&files[i].af, err) < 0) {
			for (size_t j = 0; j < i; j++)
				unlink(files[j].path);
			return -1;
		}
	}
	size_t base = res->nfiles;
	res->files = i2k_xrealloc(res->files, (base + n) * sizeof(*res->files));
	for (size_t i = 0; i < n; i++) {
		struct i2k_output_file *o = &res->files[base + i];
		o->path = I2K_STEAL(files[i].path);
		o->size = files[i].fw.bytes;
		memcpy(o->sha256, files[i].digest, sizeof(o->sha256));
	}
	res->nfiles = base + n;
	return 0;
}

/* ---- pieces -------------------------------------------------------------- */

static int copy_inode(struct i2k_fstree *t, const struct i2k_inode *in, struct i2k_ostream s,
		      struct i2k_error **err)
{
	return i2k_ostream_copy_fd(s, i2k_spool_fd(i2k_fstree_spool(t)), in->data_off, in->size,
				   err);
}

/* Regular file at path, or NULL (absent). A non-regular entry is an error. */
static int boot_file(struct i2k_fstree *t, const char *path, struct i2k_inode **out,
		     struct i2k_error **err)
{
	struct i2k_inode *in = i2k_fstree_lookup(t, path);
	*out = NULL;
	if (in == NULL)
		return 0;
	if ((in->mode & S_IFMT) != S_IFREG)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s is not a regular file", path);
	*out = in;
	return 0;
}

struct boot_files {
	struct i2k_inode *kernel, *cmdline, *ucode;
	char release[I2K_KERNEL_VERSION_MAX]; /* "" unless a bzImage with a version */
};

static int find_boot(const char *format, struct i2k_fstree *t, struct boot_files *b,
		     struct i2k_error **err)
{
	if (boot_file(t, "boot/kernel", &b->kernel, err) < 0 ||
	    boot_file(t, "boot/cmdline", &b->cmdline, err) < 0 ||
	    boot_file(t, "boot/ucode.cpio", &b->ucode, err) < 0)
		return -1;
	if (b->kernel == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s output needs a kernel: section",
				     format);
	if (b->kernel->size == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "boot/kernel is empty");
	/* Not every kernel is a bzImage (arm64 Image): only record the release. */
	struct i2k_kernel_info ki;
	struct i2k_error *kerr = NULL;
	if (i2k_kernel_info_fd(i2k_spool_fd(i2k_fstree_spool(t)), b->kernel->data_off, &ki,
			       &kerr) == 0 &&
	    ki.release[0])
		memcpy(b->release, ki.release, sizeof(b->release));
	i2k_error_free(kerr);
	return 0;
}

/* After success: record the kernel release (the first one wins). */
static void set_release(struct i2k_output_result *res, const struct boot_files *b)
{
	if (b->release[0] && res->kernel_release == NULL)
		res->kernel_release = i2k_xstrdup(b->release);
}

/* Compressed cpio of the root without boot/...; gzip output is zero-padded
 * to 4 bytes like LinuxKit's (pad4.Writer). zstd output is not padded:
 * `zstd -t` rejects trailing zeros; the cpio inside is a multiple of 4. */
static int write_initrd(struct i2k_fstree *t, const struct i2k_output_opts *o, struct i2k_ostream s,
			struct i2k_error **err)
{
	struct i2k_compressor_opts co = {
	    .kind = o->compression, .level = o->level, .threads = o->threads};
	_cleanup_(i2k_compressor_freep) struct i2k_compressor *c = NULL;
	if (i2k_compressor_new(&co, s, &c, err) < 0)
		return -1;
	struct i2k_cpio_tree_opts copts = {.filter = i2k_cpio_filter_linuxkit};
	if (i2k_cpio_write_tree(t, &copts, i2k_compressor_stream(c), err) < 0 ||
	    i2k_compressor_finish(c, err) < 0)
		return -1;
	if (o->compression != I2K_COMPRESS_GZIP)
		return 0;
	uint64_t out = i2k_compressor_bytes_out(c);
	return i2k_ostream_zeros(s, (size_t)((4 - (out & 3)) & 3), err);
}

int i2k_output_initrd_fd(struct i2k_fstree *t, const struct i2k_output_opts *o, int fd,
			 uint64_t *size, struct i2k_error **err)
{
	i2k_fstree_finalize(t);
	struct i2k_fd_writer w;
	i2k_fd_writer_init(&w, fd, NULL);
	int r = write_initrd(t, o, i2k_fd_writer_stream(&w), err);
	if (r == 0)
		r = i2k_fd_writer_flush(&w, err);
	*size = w.bytes;
	i2k_fd_writer_release(&w);
	return r;
}

static char *out_path(const struct i2k_output_opts *o, const char *suffix)
{
	return i2k_xasprintf("%s/%s%s", o->dir ? o->dir : ".", o->name, suffix);
}

/* ---- formats ------------------------------------------------------------- */

static int write_tar(struct i2k_fstree *t, const struct i2k_output_opts *o,
		     struct i2k_output_result *res, struct i2k_error **err)
{
	_cleanup_free_ char *path = out_path(o, ".tar");
	struct out_file f;
	if (out_open(&f, path, err) < 0)
		return -1;
	int r = i2k_tar_write_tree(t, NULL, out_stream(&f), err);
	if (r == 0)
		r = out_close(&f, err);
	if (r == 0)
		r = commit_all(&f, 1, res, err);
	out_abort(&f);
	return r;
}

static int write_kernel_initrd(struct i2k_fstree *t, const struct i2k_output_opts *o,
			       struct i2k_output_result *res, struct i2k_error **err)
{
	struct boot_files b = {0};
	if (find_boot("kernel+initrd", t, &b, err) < 0)
		return -1;
	static const char *const suffix[3] = {"-kernel", "-initrd.img", "-cmdline"};
	struct out_file f[3];
	for (int i = 0; i < 3; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		f[i].af.fd = -1;
	}
	int r = 0;
	for (int i = 0; i < 3 && r == 0; i++) {
		_cleanup_free_ char *path = out_path(o, suffix[i]);
		r = out_open(&f[i], path, err);
	}
	if (r == 0)
		r = copy_inode(t, b.kernel, out_stream(&f[0]), err);
	if (r == 0 && b.ucode)
		r = copy_inode(t, b.ucode, out_stream(&f[1]), err);
	if (r == 0)
		r = write_initrd(t, o, out_stream(&f[1]), err);
	if (r == 0 && b.cmdline)
		r = copy_inode(t, b.cmdline, out_stream(&f[2]), err);
	for (int i = 0; i < 3 && r == 0; i++)
		r = out_close(&f[i], err);
	if (r == 0)
		r = commit_all(f, 3, res, err);
	for (int i = 0; i < 3; i++)
		out_abort(&f[i]);
	if (r == 0)
		set_release(res, &b);
	return r;
}

static int tar_add_file(struct i2k_tar_writer *w, const char *name, uint64_t size, int fd,
			uint64_t off, struct i2k_error **err)
{
	struct i2k_tar_entry e = {
	    .path = name,
	    .mode = S_IFREG | 0644,
	    .mtime = i2k_source_date_epoch(),
	    .size = size,
	};
	if (i2k_tar_writer_add(w, &e, err) < 0)
		return -1;
	return i2k_tar_writer_data_fd(w, fd, off, size, err);
}

static int write_tar_kernel_initrd(struct i2k_fstree *t, const struct i2k_output_opts *o,
				   struct i2k_output_result *res, struct i2k_error **err)
{
	struct boot_files b = {0};
	if (find_boot("tar-kernel-initrd", t, &b, err) < 0)
		return -1;
	/* The initrd's size must be known before its tar header: build it in
	 * a scratch file next to the output first. */
	_cleanup_close_ int scratch = i2k_tmpfile(o->dir ? o->dir : ".", "scratch file", err);
	if (scratch < 0)
		return -1;
	struct i2k_fd_writer sw;
	i2k_fd_writer_init(&sw, scratch, NULL);
	int r = write_initrd(t, o, i2k_fd_writer_stream(&sw), err);
	if (r == 0)
		r = i2k_fd_writer_flush(&sw, err);
	uint64_t initrd_size = sw.bytes;
	i2k_fd_writer_release(&sw);
	if (r < 0)
		return -1;

	_cleanup_free_ char *path = out_path(o, "-initrd.tar");
	struct out_file f;
	if (out_open(&f, path, err) < 0)
		return -1;
	int sfd = i2k_spool_fd(i2k_fstree_spool(t));
	_cleanup_(i2k_tar_writer_freep) struct i2k_tar_writer *w = NULL;
	r = i2k_tar_writer_new(out_stream(&f), &w, err);
	if (r == 0)
		r = tar_add_file(w, "kernel", b.kernel->size, sfd, b.kernel->data_off, err);
	if (r == 0)
		r = tar_add_file(w, "initrd.img", initrd_size, scratch, 0, err);
	if (r == 0 && b.cmdline && b.cmdline->size)
		r = tar_add_file(w, "cmdline", b.cmdline->size, sfd, b.cmdline->data_off, err);
	if (r == 0 && b.ucode)
		r = tar_add_file(w, "ucode.cpio", b.ucode->size, sfd, b.ucode->data_off, err);
	if (r == 0)
		r = i2k_tar_writer_finish(w, err);
	if (r == 0)
		r = out_close(&f, err);
	if (r == 0)
		r = commit_all(&f, 1, res, err);
	out_abort(&f);
	if (r == 0)
		set_release(res, &b);
	return r;
}

int i2k_output_write(const char *format, struct i2k_fstree *root, const struct i2k_output_opts *o,
		     struct i2k_output_result *res, struct i2k_error **err)
{
	const struct i2k_output_format *f = find_format(format);
	if (f == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "unknown output format %s (see i2kit build --help)", format);
	if (!f->implemented)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "format %s is not implemented yet",
				     format);
	if (o->name == NULL || o->name[0] == '\0' || strchr(o->name, '/') != NULL)
		return i2k_error_set(err, I2K_ERR_USAGE, "invalid output name \"%s\"",
				     o->name ? o->name : "");
	const char *dir = o->dir ? o->dir : ".";
	if (i2k_mkdir_p(dir, 0755, err) < 0)
		return i2k_error_wrap(err, "%s output", format);
	if (i2k_check_interrupt(err) < 0)
		return -1;
	i2k_fstree_finalize(root);
	int r;
	if (strcmp(format, "tar") == 0)
		r = write_tar(root, o, res, err);
	else if (strcmp(format, "kernel+initrd") == 0)
		r = write_kernel_initrd(root, o, res, err);
	else if (strcmp(format, "tar-kernel-initrd") == 0)
		r = write_tar_kernel_initrd(root, o, res, err);
	else
		r = i2k_image_format_write(format, root, o, res, err);
	if (r < 0 && err && *err && (*err)->code != I2K_ERR_CONFIG && (*err)->code != I2K_ERR_USAGE)
		return i2k_error_wrap(err, "writing %s output", format);
	return r;
}
