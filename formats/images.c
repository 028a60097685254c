/* images.c — the disk formats by name (recipes; see images.h). */
#include "formats/images.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "formats/container/container.h"
#include "formats/disk/gpt.h"
#include "formats/disk/isoboot.h"
#include "formats/disk/part.h"
#include "formats/fs/ext4.h"
#include "formats/fs/fat.h"
#include "formats/fs/squashfs.h"
#include "formats/roots.h"
#include "formats/sink.h"
#include "kernel/uki.h"

enum boot { BOOT_BIOS_HYBRID, BOOT_EFI_GPT, BOOT_EFI_ISO, BOOT_KERNEL_SQUASHFS };

struct recipe {
	const char *name;
	const char *suffix; /* NAME + suffix */
	enum boot boot;
	enum i2k_container_kind container;
};

static const struct recipe recipes[] = {
	{"raw-bios", "-bios.img", BOOT_BIOS_HYBRID, I2K_CONTAINER_RAW},
	{"iso-bios", ".iso", BOOT_BIOS_HYBRID, I2K_CONTAINER_RAW},
	{"qcow2-bios", ".qcow2", BOOT_BIOS_HYBRID, I2K_CONTAINER_QCOW2},
	{"vhd", ".vhd", BOOT_BIOS_HYBRID, I2K_CONTAINER_VHD_FIXED},
	{"dynamic-vhd", ".vhd", BOOT_BIOS_HYBRID, I2K_CONTAINER_VHD_DYNAMIC},
	{"raw-efi", "-efi.img", BOOT_EFI_GPT, I2K_CONTAINER_RAW},
	{"qcow2-efi", "-efi.qcow2", BOOT_EFI_GPT, I2K_CONTAINER_QCOW2},
	{"aws", ".raw", BOOT_EFI_GPT, I2K_CONTAINER_RAW},
	{"iso-efi", "-efi.iso", BOOT_EFI_ISO, I2K_CONTAINER_RAW},
	{"kernel+squashfs", NULL, BOOT_KERNEL_SQUASHFS, I2K_CONTAINER_RAW},
};

static const struct recipe *find(const char *name)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(recipes); i++)
		if (strcmp(recipes[i].name, name) == 0)
			return &recipes[i];
	return NULL;
}

bool i2k_image_format_known(const char *format)
{
	return find(format) != NULL;
}

/* What every recipe starts from. */
struct job {
	const struct recipe *r;
	struct i2k_fstree *root;
	const struct i2k_output_opts *o;
	struct i2k_spool *spool;
	struct i2k_inode *kernel;
	char *cmdline;         /* the config's */
	uint8_t seed[32];      /* content-derived: GUIDs, UUIDs, serials */
	struct i2k_fstree *rootfs; /* disk roots: the root without boot/ */
};

static char *out_path(const struct job *j, const char *suffix)
{
	return i2k_xasprintf("%s/%s%s", j->o->dir ? j->o->dir : ".", j->o->name, suffix);
}

static const char *fs_type(enum i2k_root_mode m)
{
	return m == I2K_ROOT_EXT4 ? "ext4" : "squashfs";
}

/* Hash of what the image is made of, without reading file data twice:
 * kernel bytes, command line, root mode and every entry's metadata. */
struct seed_ctx {
	struct i2k_sha256 *h;
};

static int seed_entry(const struct i2k_walk_entry *e, void *ctx)
{
	struct seed_ctx *c = ctx;
	const struct i2k_inode *in = e->inode;
	char line[160];
	int n = snprintf(line, sizeof(line), "|%o %u %u %llu %lld|", in->mode, in->uid, in->gid,
			 (unsigned long long)in->size, (long long)in->mtime);
	i2k_sha256_update(c->h, e->path, strlen(e->path));
	i2k_sha256_update(c->h, line, (size_t)n);
	if (in->target)
		i2k_sha256_update(c->h, in->target, strlen(in->target));
	return 0;
}

static int make_seed(struct job *j, struct i2k_error **err)
{
	struct seed_ctx c = {.h = i2k_sha256_new()};
	char buf[65536];
	uint64_t off = 0;
	int r = 0;
	while (off < j->kernel->size && r == 0) {
		size_t n = j->kernel->size - off < sizeof(buf) ? (size_t)(j->kernel->size - off)
							       : sizeof(buf);
		r = i2k_fstree_read(j->root, j->kernel, off, buf, n, err);
		i2k_sha256_update(c.h, buf, n);
		off += n;
	}
	i2k_sha256_update(c.h, j->cmdline, strlen(j->cmdline));
	const char *mode = i2k_root_mode_name(j->o->root);
	i2k_sha256_update(c.h, mode, strlen(mode));
	if (r == 0)
		i2k_fstree_walk(j->root, true, seed_entry, &c);
	i2k_sha256_final_raw(c.h, j->seed);
	i2k_sha256_free(c.h);
	return r;
}

/* Compressed initrd of tree in a temporary file, positioned at 0. */
static int make_initrd(struct job *j, struct i2k_fstree *tree, int *fd, uint64_t *size,
		       struct i2k_error **err)
{
	_cleanup_close_ int tfd = i2k_tmpfile(NULL, "initrd", err);
	if (tfd < 0)
		return -1;
	if (i2k_output_initrd_fd(tree, j->o, tfd, size, err) < 0)
		return -1;
	if (lseek(tfd, 0, SEEK_SET) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "initrd");
	*fd = I2K_TAKE_FD(tfd);
	return 0;
}

/* The initrd a recipe boots: the whole root (initramfs mode) or the first
 * stage (disk roots). */
static int boot_initrd(struct job *j, int *fd, uint64_t *size, struct i2k_error **err)
{
	if (j->o->root == I2K_ROOT_INITRAMFS)
		return make_initrd(j, j->root, fd, size, err);
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *s1 = NULL;
	if (i2k_roots_stage1(j->root, &s1, err) < 0)
		return -1;
	return make_initrd(j, s1, fd, size, err);
}

/* A squashfs of the root without boot/ in a sparse temporary sink. */
static int make_squashfs(struct job *j, struct i2k_sink **out, uint64_t *bytes,
			 struct i2k_error **err)
{
	/* Every file's data is in the spool: that bounds the image. */
	uint64_t cap = i2k_spool_size(j->spool) + (256ull << 20);
	if (i2k_sink_tmpfile_new(cap, "squashfs root", out, NULL, err) < 0)
		return -1;
	struct i2k_squashfs_opts so = {.mtime = i2k_source_date_epoch()};
	if (i2k_squashfs_write(j->rootfs, &so, *out, bytes, err) < 0) {
		i2k_sink_freep(out);
		return -1;
	}
	return 0;
}

/* The command line of a disk-root image. */
static char *root_cmdline(const struct job *j, const char *spec)
{
	return i2k_xasprintf("%s%si2kit.root=%s i2kit.rootfstype=%s", j->cmdline,
			     j->cmdline[0] ? " " : "", spec, fs_type(j->o->root));
}

static int too_small(const struct job *j, uint64_t need, struct i2k_error **err)
{
	return i2k_error_set(err, I2K_ERR_CONFIG,
			     "--size %llu is too small: the %s image needs at least %llu bytes "
			     "(%llu MiB)",
			     (unsigned long long)j->o->size, j->r->name, (unsigned long long)need,
			     (unsigned long long)((need + (1 << 20) - 1) >> 20));
}

/* ---- BIOS: isohybrid ISO9660 ------------------------------------------- */

static int bios_image(struct job *j, struct i2k_sink **disk, struct i2k_error **err)
{
	if (j->o->root != I2K_ROOT_INITRAMFS)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "%s boots with the root in the initramfs only; --root %s needs "
				     "raw-efi, qcow2-efi, aws or kernel+squashfs",
				     j->r->name, i2k_root_mode_name(j->o->root));
	_cleanup_close_ int kfd = -1, ifd = -1;
	uint64_t isize;
	if (i2k_spool_extent_fd(j->spool, j->kernel->data_off, j->kernel->size, &kfd, err) < 0 ||
	    make_initrd(j, j->root, &ifd, &isize, err) < 0)
		return -1;
	struct i2k_isoboot_opts io = {.cmdline = j->cmdline, .bios = true, .hybrid = true};
	_cleanup_(i2k_isoboot_freep) struct i2k_isoboot *b = NULL;
	if (i2k_isoboot_new(kfd, ifd, &io, &b, err) < 0)
		return -1;
	uint64_t need = i2k_isoboot_size(b);
	if (j->o->size && j->o->size < need)
		return too_small(j, need, err);
	uint64_t size = i2k_container_round_size(j->r->container, j->o->size ? j->o->size : need);
	if (i2k_sink_tmpfile_new(size, "disk", disk, NULL, err) < 0)
		return -1;
	if (i2k_isoboot_write(b, *disk, err) < 0) {
		i2k_sink_freep(disk);
		return -1;
	}
	return 0;
}

/* ---- EFI: the UKI and the ESP -------------------------------------------- */

/* The ESP's tree: EFI/BOOT/BOOTX64.EFI = a UKI of kernel + initrd + cmdline. */
static int esp_tree(struct job *j, const char *cmdline, struct i2k_fstree **out,
		    struct i2k_error **err)
{
	_cleanup_close_ int ifd = -1;
	uint64_t isize;
	if (boot_initrd(j, &ifd, &isize, err) < 0)
		return -1;
	struct i2k_uki_opts uo = {
		.kernel = {.fd = i2k_spool_fd(j->spool), .off = j->kernel->data_off,
			   .size = j->kernel->size},
		.initrd = {.fd = ifd, .off = 0, .size = isize},
		.cmdline = cmdline,
		.osrel = "NAME=i2kit\nID=i2kit\n",
	};
	uint64_t off, size;
	if (i2k_uki_build_spool(&uo, j->spool, &off, &size, err) < 0)
		return -1;
	struct i2k_fstree *t = i2k_fstree_new(j->spool);
	int64_t epoch = i2k_source_date_epoch();
	struct i2k_fattr d = {.mode = S_IFDIR | 0755, .mtime = epoch};
	struct i2k_fattr f = {.mode = S_IFREG | 0644, .mtime = epoch};
	if (i2k_fstree_add(t, "EFI", &d, NULL, 0, 0, 0, NULL, err) < 0 ||
	    i2k_fstree_add(t, "EFI/BOOT", &d, NULL, 0, 0, 0, NULL, err) < 0 ||
	    i2k_fstree_add(t, "EFI/BOOT/BOOTX64.EFI", &f, NULL, off, size, 0, NULL, err) < 0) {
		i2k_fstree_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

static int efi_gpt_image(struct job *j, struct i2k_sink **disk, struct i2k_error **err)
{
	enum i2k_root_mode mode = j->o->root;
	struct i2k_part parts[2] = {
		{.name = "ESP", .type_guid = I2K_GUID_ESP, .mbr_type = 0xEF},
		{.name = "root", .type_guid = I2K_GUID_LINUX_ROOT_X86_64, .mbr_type = 0x83},
	};
	size_t n = mode == I2K_ROOT_INITRAMFS ? 1 : 2;
	_cleanup_(i2k_sink_freep) struct i2k_sink *sqfs = NULL;
	uint64_t sqfs_bytes = 0, ext4_min = 0;
	_cleanup_free_ char *cmdline = NULL;
	if (mode != I2K_ROOT_INITRAMFS) {
		if (i2k_roots_rootfs(j->root, &j->rootfs, err) < 0)
			return -1;
		if (mode == I2K_ROOT_SQUASHFS) {
			if (make_squashfs(j, &sqfs, &sqfs_bytes, err) < 0)
				return -1;
			parts[1].size = sqfs_bytes;
		} else {
			struct i2k_ext4_opts eo = {.epoch = i2k_source_date_epoch()};
			if (i2k_ext4_size_for(j->rootfs, &eo, &ext4_min, err) < 0)
				return -1;
			parts[1].size = ext4_min;
		}
		/* The root partition's GUID goes into the UKI's command line. */
		uint8_t guid[16];
		char gs[37];
		i2k_guid_derive(j->seed, "partition", 1, guid);
		i2k_guid_format(guid, gs);
		_cleanup_free_ char *spec = i2k_xasprintf("PARTUUID=%s", gs);
		cmdline = root_cmdline(j, spec);
	} else {
		cmdline = i2k_xstrdup(j->cmdline);
	}
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *esp = NULL;
	if (esp_tree(j, cmdline, &esp, err) < 0 || i2k_fat_min_size(esp, &parts[0].size, err) < 0)
		return -1;
	uint64_t need;
	if (i2k_part_layout(parts, n, 0, true, &need, err) < 0)
		return -1;
	if (j->o->size && j->o->size < need)
		return too_small(j, need, err);
	uint64_t size = i2k_container_round_size(j->r->container, j->o->size ? j->o->size : need);
	size &= ~(uint64_t)(I2K_SECTOR - 1);
	if (n == 2 && mode == I2K_ROOT_EXT4)
		parts[1].size = 0; /* a writable root takes the rest of the disk */
	if (i2k_part_layout(parts, n, size, true, NULL, err) < 0)
		return -1;
	if (i2k_sink_tmpfile_new(size, "disk", disk, NULL, err) < 0)
		return -1;
	_cleanup_(i2k_sink_freep) struct i2k_sink *w0 = NULL, *w1 = NULL;
	struct i2k_fat_opts fo = {.label = "EFI", .hidden_sectors = (uint32_t)(parts[0].start / 512)};
	int r = i2k_sink_window_new(*disk, parts[0].start, parts[0].size, "ESP", &w0, err);
	if (r == 0)
		r = i2k_fat_write(esp, &fo, w0, err);
	if (r == 0 && n == 2)
		r = i2k_sink_window_new(*disk, parts[1].start, parts[1].size, "root partition", &w1,
					err);
	if (r == 0 && n == 2 && mode == I2K_ROOT_SQUASHFS)
		r = i2k_sink_copy(w1, 0, sqfs, 0, sqfs_bytes, err);
	if (r == 0 && n == 2 && mode == I2K_ROOT_EXT4) {
		struct i2k_ext4_opts eo = {.epoch = i2k_source_date_epoch()};
		memcpy(eo.uuid_seed, j->seed, sizeof(eo.uuid_seed));
		r = i2k_ext4_write(j->rootfs, &eo, w1, err);
	}
	if (r == 0)
		r = i2k_gpt_write(*disk, parts, n, j->seed, err);
	if (r < 0)
		i2k_sink_freep(disk);
	return r;
}

/* ---- EFI: ISO with an El Torito EFI entry -------------------------------- */

static int efi_iso_image(struct job *j, struct i2k_sink **disk, struct i2k_error **err)
{
	if (j->o->root != I2K_ROOT_INITRAMFS)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "iso-efi boots with the root in the initramfs only");
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *esp = NULL;
	uint64_t fat_size;
	if (esp_tree(j, j->cmdline, &esp, err) < 0 || i2k_fat_min_size(esp, &fat_size, err) < 0)
		return -1;
	_cleanup_(i2k_sink_freep) struct i2k_sink *fat = NULL;
	int fat_fd;
	struct i2k_fat_opts fo = {.label = "EFI"};
	if (i2k_sink_tmpfile_new(fat_size, "efiboot.img", &fat, &fat_fd, err) < 0 ||
	    i2k_fat_write(esp, &fo, fat, err) < 0 || i2k_sink_finish(fat, err) < 0)
		return -1;
	_cleanup_close_ int kfd = -1, ifd = -1;
	uint64_t isize;
	if (i2k_spool_extent_fd(j->spool, j->kernel->data_off, j->kernel->size, &kfd, err) < 0 ||
	    make_initrd(j, j->root, &ifd, &isize, err) < 0)
		return -1;
	if (lseek(fat_fd, 0, SEEK_SET) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "efiboot.img");
	struct i2k_isoboot_opts io = {.cmdline = j->cmdline, .efi = true, .efi_fd = fat_fd};
	_cleanup_(i2k_isoboot_freep) struct i2k_isoboot *b = NULL;
	if (i2k_isoboot_new(kfd, ifd, &io, &b, err) < 0)
		return -1;
	uint64_t need = i2k_isoboot_size(b);
	if (j->o->size && j->o->size < need)
		return too_small(j, need, err);
	if (i2k_sink_tmpfile_new(j->o->size ? j->o->size : need, "disk", disk, NULL, err) < 0)
		return -1;
	if (i2k_isoboot_write(b, *disk, err) < 0) {
		i2k_sink_freep(disk);
		return -1;
	}
	return 0;
}

/* ---- results ------------------------------------------------------------------ */

static int record(struct i2k_output_result *res, const char *path, struct i2k_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", path);
	struct i2k_output_file f = {.path = i2k_xstrdup(path)};
	if (i2k_sha256_fd(fd, f.sha256, &f.size, err) < 0) {
		free(f.path);
		return -1;
	}
	res->files = i2k_xrealloc(res->files, (res->nfiles + 1) * sizeof(*res->files));
	res->files[res->nfiles++] = f;
	return 0;
}

/* ---- kernel+squashfs: separate files ---------------------------------------- */

/* Writes data from a file descriptor range into path atomically. */
static int put_file(const char *path, int fd, uint64_t off, uint64_t size,
		    struct i2k_atomic_file *af, struct i2k_error **err)
{
	if (i2k_atomic_open(af, path, 0644, err) < 0)
		return -1;
	char *buf = i2k_xmalloc(1 << 20);
	int r = 0;
	while (size && r == 0) {
		size_t n = size < (1u << 20) ? (size_t)size : (1u << 20);
		r = i2k_pread_all(fd, buf, n, (off_t)off, err);
		if (r == 0)
			r = i2k_write_all(af->fd, buf, n, err);
		off += n;
		size -= n;
		if (r == 0)
			r = i2k_check_interrupt(err);
	}
	free(buf);
	if (r < 0)
		return i2k_error_wrap(err, "%s", path);
	return 0;
}

static int kernel_squashfs(struct job *j, struct i2k_output_result *res, struct i2k_error **err)
{
	if (j->o->root == I2K_ROOT_EXT4)
		return i2k_error_set(err, I2K_ERR_USAGE, "kernel+squashfs has a squashfs root");
	struct job jj = *j;
	struct i2k_output_opts o2 = *j->o;
	o2.root = I2K_ROOT_SQUASHFS;
	jj.o = &o2;
	if (i2k_roots_rootfs(jj.root, &jj.rootfs, err) < 0)
		return -1;
	_cleanup_(i2k_sink_freep) struct i2k_sink *sqfs = NULL;
	uint64_t sqfs_bytes, isize;
	_cleanup_close_ int ifd = -1;
	int r = make_squashfs(&jj, &sqfs, &sqfs_bytes, err);
	if (r == 0)
		r = boot_initrd(&jj, &ifd, &isize, err);
	_cleanup_free_ char *cmdline = root_cmdline(&jj, "/dev/vda");
	const char *suffixes[] = {"-kernel", "-initrd.img", "-squashfs.img", "-cmdline"};
	struct i2k_atomic_file af[4];
	char *paths[4] = {0};
	for (size_t i = 0; i < 4; i++) {
		af[i].fd = -1;
		af[i].tmp_path = af[i].final_path = NULL;
		paths[i] = out_path(j, suffixes[i]);
	}
	uint64_t sqbase = 0;
	int sqfd = r == 0 ? i2k_sink_fd(sqfs, &sqbase) : -1;
	if (r == 0)
		r = put_file(paths[0], i2k_spool_fd(j->spool), j->kernel->data_off,
			     j->kernel->size, &af[0], err);
	if (r == 0)
		r = put_file(paths[1], ifd, 0, isize, &af[1], err);
	if (r == 0)
		r = put_file(paths[2], sqfd, sqbase, sqfs_bytes, &af[2], err);
	if (r == 0 && i2k_atomic_open(&af[3], paths[3], 0644, err) < 0)
		r = -1;
	if (r == 0)
		r = i2k_write_all(af[3].fd, cmdline, strlen(cmdline), err);
	size_t committed = 0;
	for (; r == 0 && committed < 4; committed++)
		r = i2k_atomic_commit(&af[committed], err);
	if (r < 0)
		for (size_t i = 0; i < committed; i++)
			unlink(paths[i]);
	for (size_t i = 0; r == 0 && i < 4; i++)
		r = record(res, paths[i], err);
	for (size_t i = 0; i < 4; i++) {
		i2k_atomic_abort(&af[i]);
		free(paths[i]);
	}
	i2k_fstree_free(jj.rootfs);
	return r;
}

int i2k_image_format_write(const char *format, struct i2k_fstree *root,
			   const struct i2k_output_opts *o, struct i2k_output_result *res,
			   struct i2k_error **err)
{
	struct job j = {.r = find(format), .root = root, .o = o, .spool = i2k_fstree_spool(root)};
	if (j.r == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE, "unknown output format %s", format);
	if (o->size % I2K_SECTOR)
		return i2k_error_set(err, I2K_ERR_USAGE, "--size must be a multiple of 512 bytes");
	if (i2k_roots_boot(root, format, &j.kernel, &j.cmdline, err) < 0)
		return -1;
	int r = make_seed(&j, err);
	if (r == 0 && j.r->boot == BOOT_KERNEL_SQUASHFS) {
		r = kernel_squashfs(&j, res, err);
		free(j.cmdline);
		return r;
	}
	_cleanup_(i2k_sink_freep) struct i2k_sink *disk = NULL;
	if (r == 0) {
		switch (j.r->boot) {
		case BOOT_BIOS_HYBRID:
			r = bios_image(&j, &disk, err);
			break;
		case BOOT_EFI_GPT:
			r = efi_gpt_image(&j, &disk, err);
			break;
		default:
			r = efi_iso_image(&j, &disk, err);
			break;
		}
	}
	_cleanup_free_ char *path = out_path(&j, j.r->suffix);
	struct i2k_container_opts co = {.has_uuid_seed = true};
	memcpy(co.uuid_seed, j.seed, sizeof(co.uuid_seed));
	if (r == 0)
		r = i2k_sink_finish(disk, err);
	if (r == 0)
		r = i2k_container_write_sink(j.r->container, disk, path, &co, err);
	if (r == 0)
		r = record(res, path, err);
	i2k_fstree_free(j.rootfs);
	free(j.cmdline);
	return r;
}
