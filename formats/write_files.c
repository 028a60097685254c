/* write_files.c — the formats made of plain files: tar, kernel+initrd,
 * tar-kernel-initrd, kernel+squashfs, kernel+iso, kernel+erofs (contents in
 * writers.h). */
#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/fs/erofs.h"
#include "formats/fs/iso9660.h"
#include "formats/tar.h"
#include "formats/writers.h"

static const char *out_dir(const struct i2k_artifacts *a)
{
	return i2k_artifacts_opts(a)->dir ? i2k_artifacts_opts(a)->dir : ".";
}

static int open_files(const struct i2k_format *f, struct i2k_artifacts *a,
		      struct i2k_output_group **g, struct i2k_error **err)
{
	size_t n = 0;
	while (f->files[n])
		n++;
	const struct i2k_format_opts *o = i2k_artifacts_opts(a);
	if (i2k_output_group_open(out_dir(a), o->name, f->files, n, o->digests, g, err) < 0)
		return -1;
	i2k_output_group_progress(*g, &i2k_artifacts_opts(a)->progress, f->name, 0);
	return 0;
}

static int copy_inode(struct i2k_artifacts *a, const struct i2k_inode *in, struct i2k_ostream s,
		      struct i2k_error **err)
{
	uint64_t at;
	int fd = i2k_spool_fd_at(i2k_fstree_spool(i2k_artifacts_root(a)), in->data_off, &at);
	return i2k_ostream_copy_fd(s, fd, at, in->size, err);
}

/* After success: record the kernel release (the first one wins). */
static void set_release(struct i2k_output_result *res, const struct i2k_boot_files *b)
{
	if (b->release[0] && res->kernel_release == NULL)
		res->kernel_release = i2k_xstrdup(b->release);
}

int i2k_write_tar(const struct i2k_format *f, struct i2k_artifacts *a,
		  struct i2k_output_result *res, struct i2k_error **err)
{
	_cleanup_(i2k_output_group_freep) struct i2k_output_group *g = NULL;
	if (open_files(f, a, &g, err) < 0 ||
	    i2k_tar_write_tree(i2k_artifacts_root(a), NULL, i2k_output_stream(g, 0), err) < 0)
		return -1;
	return i2k_output_group_commit(g, f->name, res, err);
}

int i2k_write_kernel_initrd(const struct i2k_format *f, struct i2k_artifacts *a,
			    struct i2k_output_result *res, struct i2k_error **err)
{
	const struct i2k_boot_files *b;
	int ifd;
	uint64_t isize;
	_cleanup_(i2k_output_group_freep) struct i2k_output_group *g = NULL;
	if (i2k_artifacts_boot(a, f->name, &b, err) < 0 ||
	    i2k_artifacts_initrd(a, I2K_ROOT_INITRAMFS, &ifd, &isize, err) < 0 ||
	    open_files(f, a, &g, err) < 0)
		return -1;
	if (copy_inode(a, b->kernel, i2k_output_stream(g, 0), err) < 0 ||
	    (b->ucode && copy_inode(a, b->ucode, i2k_output_stream(g, 1), err) < 0) ||
	    i2k_ostream_copy_fd(i2k_output_stream(g, 1), ifd, 0, isize, err) < 0 ||
	    (b->cmdline_inode && copy_inode(a, b->cmdline_inode, i2k_output_stream(g, 2), err) < 0))
		return -1;
	if (i2k_output_group_commit(g, f->name, res, err) < 0)
		return -1;
	set_release(res, b);
	return 0;
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

/* tar_add_file of a file of the tree (its data in the spool). */
static int tar_add_inode(struct i2k_tar_writer *w, const char *name, struct i2k_spool *sp,
			 const struct i2k_inode *in, struct i2k_error **err)
{
	uint64_t at;
	int fd = i2k_spool_fd_at(sp, in->data_off, &at);
	return tar_add_file(w, name, in->size, fd, at, err);
}

int i2k_write_tar_kernel_initrd(const struct i2k_format *f, struct i2k_artifacts *a,
				struct i2k_output_result *res, struct i2k_error **err)
{
	const struct i2k_boot_files *b;
	int ifd;
	uint64_t isize;
	_cleanup_(i2k_output_group_freep) struct i2k_output_group *g = NULL;
	_cleanup_(i2k_tar_writer_freep) struct i2k_tar_writer *w = NULL;
	if (i2k_artifacts_boot(a, f->name, &b, err) < 0 ||
	    i2k_artifacts_initrd(a, I2K_ROOT_INITRAMFS, &ifd, &isize, err) < 0 ||
	    open_files(f, a, &g, err) < 0 ||
	    i2k_tar_writer_new(i2k_output_stream(g, 0), &w, err) < 0)
		return -1;
	struct i2k_spool *sp = i2k_fstree_spool(i2k_artifacts_root(a));
	if (tar_add_inode(w, "kernel", sp, b->kernel, err) < 0 ||
	    tar_add_file(w, "initrd.img", isize, ifd, 0, err) < 0)
		return -1;
	if (b->cmdline_inode && b->cmdline_inode->size &&
	    tar_add_inode(w, "cmdline", sp, b->cmdline_inode, err) < 0)
		return -1;
	if (b->ucode && tar_add_inode(w, "ucode.cpio", sp, b->ucode, err) < 0)
		return -1;
	if (i2k_tar_writer_finish(w, err) < 0 || i2k_output_group_commit(g, f->name, res, err) < 0)
		return -1;
	set_release(res, b);
	return 0;
}

/* kernel+squashfs and kernel+iso: kernel, first-stage initrd, the root as
 * an image (booted as the first virtio disk), command line. */
static int write_kernel_root(const struct i2k_format *f, struct i2k_artifacts *a,
			     struct i2k_sink *img, uint64_t img_bytes, enum i2k_root_mode mode,
			     struct i2k_output_result *res, struct i2k_error **err)
{
	const struct i2k_boot_files *b;
	int ifd;
	uint64_t isize, base = 0;
	_cleanup_(i2k_output_group_freep) struct i2k_output_group *g = NULL;
	if (i2k_artifacts_boot(a, f->name, &b, err) < 0 ||
	    i2k_artifacts_initrd(a, mode, &ifd, &isize, err) < 0 || open_files(f, a, &g, err) < 0)
		return -1;
	int img_fd = i2k_sink_fd(img, &base);
	_cleanup_free_ char *cmdline =
	    i2k_xasprintf("%s%si2kit.root=/dev/vda i2kit.rootfstype=%s", b->cmdline,
			  b->cmdline[0] ? " " : "", i2k_root_mode_name(mode));
	if (copy_inode(a, b->kernel, i2k_output_stream(g, 0), err) < 0 ||
	    i2k_ostream_copy_fd(i2k_output_stream(g, 1), ifd, 0, isize, err) < 0 ||
	    i2k_ostream_copy_fd(i2k_output_stream(g, 2), img_fd, base, img_bytes, err) < 0 ||
	    i2k_ostream_write(i2k_output_stream(g, 3), cmdline, strlen(cmdline), err) < 0 ||
	    i2k_output_group_commit(g, f->name, res, err) < 0)
		return -1;
	set_release(res, b);
	return 0;
}

int i2k_write_kernel_squashfs(const struct i2k_format *f, struct i2k_artifacts *a,
			      struct i2k_output_result *res, struct i2k_error **err)
{
	struct i2k_sink *sq;
	uint64_t bytes;
	if (i2k_artifacts_squashfs(a, &sq, &bytes, err) < 0)
		return -1;
	return write_kernel_root(f, a, sq, bytes, I2K_ROOT_SQUASHFS, res, err);
}

int i2k_write_kernel_erofs(const struct i2k_format *f, struct i2k_artifacts *a,
			   struct i2k_output_result *res, struct i2k_error **err)
{
	struct i2k_fstree *rootfs;
	struct i2k_erofs_opts eo = {.mtime = i2k_source_date_epoch(), .label = "i2kit-root"};
	uint64_t size, bytes;
	_cleanup_(i2k_sink_freep) struct i2k_sink *img = NULL;
	if (i2k_artifacts_seed(a, I2K_ROOT_EROFS, eo.uuid_seed, err) < 0 ||
	    i2k_artifacts_rootfs(a, &rootfs, err) < 0 ||
	    i2k_erofs_size(rootfs, &eo, &size, err) < 0 ||
	    i2k_sink_tmpfile_new(size, "root EROFS", &img, NULL, err) < 0 ||
	    i2k_erofs_write(rootfs, &eo, img, &bytes, err) < 0 || i2k_sink_finish(img, err) < 0)
		return -1;
	return write_kernel_root(f, a, img, bytes, I2K_ROOT_EROFS, res, err);
}

int i2k_write_kernel_iso(const struct i2k_format *f, struct i2k_artifacts *a,
			 struct i2k_output_result *res, struct i2k_error **err)
{
	struct i2k_fstree *rootfs;
	struct i2k_iso_opts io = {.volume_id = "I2KIT_ROOT"};
	uint64_t size, bytes;
	_cleanup_(i2k_sink_freep) struct i2k_sink *iso = NULL;
	if (i2k_artifacts_rootfs(a, &rootfs, err) < 0 ||
	    i2k_iso_size_for(rootfs, &io, &size, err) < 0 ||
	    i2k_sink_tmpfile_new(size, "root ISO", &iso, NULL, err) < 0 ||
	    i2k_iso_write(rootfs, &io, iso, &bytes, err) < 0 || i2k_sink_finish(iso, err) < 0)
		return -1;
	return write_kernel_root(f, a, iso, bytes, I2K_ROOT_ISO9660, res, err);
}
