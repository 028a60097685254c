/* isoboot.c — kernel + initrd → bootable ISO / hybrid disk (see isoboot.h). */
#include "formats/disk/isoboot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "formats/disk/isohybrid.h"
#include "formats/fs/iso9660.h"

#define MAX_CMDLINE 2047

struct i2k_isoboot {
	struct i2k_spool *spool;
	struct i2k_fstree *tree;
	struct i2k_iso_opts iso;
	struct i2k_isohybrid_opts hy;
	bool hybrid;
	uint64_t size;
	char *mbr_path;
};

void i2k_isoboot_free(struct i2k_isoboot *b)
{
	if (!b)
		return;
	i2k_fstree_free(b->tree);
	i2k_spool_free(b->spool);
	free(b->mbr_path);
	free(b);
}

void i2k_isoboot_freep(struct i2k_isoboot **b)
{
	i2k_isoboot_free(*b);
	*b = NULL;
}

static int add_dir(struct i2k_isoboot *b, const char *path, struct i2k_error **err)
{
	struct i2k_fattr a = {.mode = S_IFDIR | 0755, .mtime = i2k_source_date_epoch()};
	return i2k_fstree_add(b->tree, path, &a, NULL, 0, 0, 0, NULL, err);
}

static int add_data(struct i2k_isoboot *b, const char *path, uint32_t perm, const void *data,
		    size_t len, struct i2k_error **err)
{
	uint64_t off = 0;
	if (len && i2k_spool_append(b->spool, data, len, &off, err) < 0)
		return -1;
	struct i2k_fattr a = {.mode = S_IFREG | perm, .mtime = i2k_source_date_epoch()};
	return i2k_fstree_add(b->tree, path, &a, NULL, off, len, 0, NULL, err);
}

static int add_fd(struct i2k_isoboot *b, const char *path, uint32_t perm, int fd,
		  struct i2k_error **err)
{
	uint64_t off = 0, size = 0;
	if (i2k_spool_append_fd(b->spool, fd, &off, &size, err) < 0)
		return i2k_error_wrap(err, "reading %s", path);
	struct i2k_fattr a = {.mode = S_IFREG | perm, .mtime = i2k_source_date_epoch()};
	return i2k_fstree_add(b->tree, path, &a, NULL, off, size, 0, NULL, err);
}

static int add_file(struct i2k_isoboot *b, const char *path, const char *what, const char *src,
		    struct i2k_error **err)
{
	_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return i2k_error_errno(err, errno, errno == ENOENT ? I2K_ERR_NOTFOUND : I2K_ERR_IO,
				       "reading %s %s", what, src);
	return add_fd(b, path, 0444, fd, err);
}

static int check_cmdline(const char *c, struct i2k_error **err)
{
	if (strpbrk(c, "\r\n"))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "kernel command line: contains a line break");
	if (strlen(c) > MAX_CMDLINE)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "kernel command line: is longer than %d bytes", MAX_CMDLINE);
	return 0;
}

int i2k_isoboot_new(int kernel_fd, int initrd_fd, const struct i2k_isoboot_opts *o,
		    struct i2k_isoboot **out, struct i2k_error **err)
{
	const char *cmdline = o->cmdline ? o->cmdline : "";
	if (check_cmdline(cmdline, err) < 0)
		return -1;
	if (o->hybrid && !o->bios)
		return i2k_error_set(err, I2K_ERR_CONFIG, "a hybrid image needs bios");
	if (!o->bios && !o->efi)
		return i2k_error_set(err, I2K_ERR_CONFIG, "no boot entry: set bios or efi");

	_cleanup_(i2k_isoboot_freep) struct i2k_isoboot *b = i2k_xcalloc(1, sizeof(*b));
	if (i2k_spool_new(NULL, &b->spool, err) < 0)
		return -1;
	b->tree = i2k_fstree_new(b->spool);
	if (add_dir(b, "boot", err) < 0 || add_fd(b, "boot/kernel", 0644, kernel_fd, err) < 0 ||
	    add_fd(b, "boot/initrd.img", 0644, initrd_fd, err) < 0)
		return -1;
	b->iso.volume_id = o->volume_id;
	b->iso.align = I2K_ISOHYBRID_ALIGN;
	b->iso.min_size = o->min_size;
	if (o->bios) {
		_cleanup_free_ char *bin = NULL;
		const char *isolinux = o->isolinux_bin;
		if (!isolinux)
			isolinux = bin = i2k_xasprintf("%s/isolinux.bin", I2K_ISOLINUX_DIR_DEFAULT);
		const char *ldlinux = o->ldlinux_c32 ? o->ldlinux_c32 : I2K_LDLINUX_C32_DEFAULT;
		_cleanup_free_ char *cfg = i2k_xasprintf("SERIAL 0 115200\n"
							 "DEFAULT linux\n"
							 "PROMPT 0\n"
							 "TIMEOUT 0\n"
							 "LABEL linux\n"
							 "  LINUX /boot/kernel\n"
							 "  INITRD /boot/initrd.img\n"
							 "  APPEND %s\n",
							 cmdline);
		if (add_dir(b, "isolinux", err) < 0 ||
		    add_file(b, "isolinux/isolinux.bin", "isolinux.bin", isolinux, err) < 0 ||
		    add_file(b, "isolinux/ldlinux.c32", "ldlinux.c32", ldlinux, err) < 0 ||
		    add_data(b, "isolinux/isolinux.cfg", 0644, cfg, strlen(cfg), err) < 0)
			return -1;
		b->iso.bios_boot = "isolinux/isolinux.bin";
		b->iso.boot_info_table = true;
		b->iso.bios_load_sectors = 4;
		b->iso.catalog_path = "isolinux/boot.cat";
	}
	if (o->efi) {
		if (add_fd(b, "boot/efiboot.img", 0444, o->efi_fd, err) < 0)
			return -1;
		b->iso.efi_boot = "boot/efiboot.img";
		if (!o->bios)
			b->iso.catalog_path = "boot/boot.cat";
	}
	b->hybrid = o->hybrid;
	if (o->mbr_path)
		b->mbr_path = i2k_xstrdup(o->mbr_path);
	b->hy.mbr_path = b->mbr_path;
	b->hy.efi_partition = o->hybrid && o->efi && o->efi_partition;
	if (b->hybrid) {
		/* fail before any writing when the MBR code is missing */
		_cleanup_free_ char *def = NULL;
		const char *mbr = b->mbr_path;
		if (!mbr)
			mbr = def = i2k_xasprintf("%s/isohdpfx.bin", I2K_ISOLINUX_DIR_DEFAULT);
		if (access(mbr, R_OK) != 0)
			return i2k_error_errno(err, errno,
					       errno == ENOENT ? I2K_ERR_NOTFOUND : I2K_ERR_IO,
					       "reading MBR code %s", mbr);
	}
	if (i2k_iso_size_for(b->tree, &b->iso, &b->size, err) < 0)
		return -1;
	*out = I2K_STEAL(b);
	return 0;
}

uint64_t i2k_isoboot_size(const struct i2k_isoboot *b)
{
	return b->size;
}

int i2k_isoboot_write(struct i2k_isoboot *b, struct i2k_sink *out, struct i2k_error **err)
{
	if (i2k_iso_write(b->tree, &b->iso, out, NULL, err) < 0)
		return -1;
	if (!b->hybrid)
		return 0;
	/* the MBR describes the ISO part; a bigger sink (a disk) keeps the rest */
	_cleanup_(i2k_sink_freep) struct i2k_sink *win = NULL;
	struct i2k_sink *target = out;
	if (out->size != b->size) {
		if (i2k_sink_window_new(out, 0, b->size, out->name, &win, err) < 0)
			return -1;
		target = win;
	}
	if (i2k_isohybrid_bios(target, &b->hy, err) < 0)
		return i2k_error_wrap(err, "writing the hybrid MBR");
	return 0;
}

int i2k_isoboot_write_fd(int kernel_fd, int initrd_fd, const struct i2k_isoboot_opts *o, int out_fd,
			 uint64_t *size, struct i2k_error **err)
{
	_cleanup_(i2k_isoboot_freep) struct i2k_isoboot *b = NULL;
	if (i2k_isoboot_new(kernel_fd, initrd_fd, o, &b, err) < 0)
		return -1;
	if (ftruncate(out_fd, 0) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "truncating the image");
	_cleanup_(i2k_sink_freep) struct i2k_sink *s = NULL;
	if (i2k_sink_file_new(out_fd, 0, b->size, "ISO image", &s, err) < 0)
		return -1;
	if (i2k_isoboot_write(b, s, err) < 0 || i2k_sink_finish(s, err) < 0)
		return -1;
	if (fsync(out_fd) < 0 && errno != EINVAL)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "syncing the image");
	if (size)
		*size = b->size;
	return 0;
}
