/* artifacts.c — one build's intermediates, each made once (see
 * artifacts.h): initrds, seeds, squashfs root, ESP/UKI, raw disks. */
#include "formats/artifacts.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "formats/disk/gpt.h"
#include "formats/disk/isoboot.h"
#include "formats/disk/part.h"
#include "formats/fs/ext4.h"
#include "formats/fs/fat.h"
#include "formats/fs/squashfs.h"
#include "initrd/cpio.h"
#include "kernel/uki.h"

#define NMODES I2K_ROOT_MODES
#define MAX_DISKS 8

struct disk {
	enum i2k_boot_method boot;
	enum i2k_root_mode mode;
	uint64_t size;
	struct i2k_sink *sink;
	bool claimed; /* an output has become this very file */
};

/* What a disk of one (boot, mode) is made of, before its size is known. */
struct plan {
	bool ready;
	uint64_t need;		  /* smallest disk */
	struct i2k_isoboot *iso;  /* BIOS hybrid, EFI ISO */
	struct i2k_sink *fat;	  /* EFI ISO: the El Torito FAT image */
	struct i2k_part parts[2]; /* EFI GPT */
	size_t nparts;
};

struct i2k_artifacts {
	struct i2k_fstree *root;
	struct i2k_spool *spool;
	const struct i2k_format_opts *o;
	bool have_boot;
	struct i2k_boot_files boot;

	bool have_seed[NMODES];
	uint8_t seed[NMODES][32];
	int initrd_fd[2]; /* [0] initramfs: the whole root; [1] disk roots: the first stage */
	uint64_t initrd_size[2];
	struct i2k_fstree *rootfs;
	struct i2k_sink *sqfs;
	uint64_t sqfs_bytes;
	struct i2k_fstree *esp[NMODES];
	struct plan plans[5][NMODES]; /* [boot method][root mode] */
	struct disk disks[MAX_DISKS];
	size_t ndisks;
	struct i2k_artifacts_stats stats;
};

int i2k_artifacts_new(struct i2k_fstree *root, const struct i2k_format_opts *o,
		      struct i2k_artifacts **out, struct i2k_error **err)
{
	if (o->name == NULL || o->name[0] == '\0' || strchr(o->name, '/') != NULL)
		return i2k_error_set(err, I2K_ERR_USAGE, "invalid output name \"%s\"",
				     o->name ? o->name : "");
	if (o->size % I2K_SECTOR)
		return i2k_error_set(err, I2K_ERR_USAGE, "--size must be a multiple of 512 bytes");
	struct i2k_artifacts *a = i2k_xcalloc(1, sizeof(*a));
	a->root = root;
	a->spool = i2k_fstree_spool(root);
	a->o = o;
	a->initrd_fd[0] = a->initrd_fd[1] = -1;
	*out = a;
	return 0;
}

void i2k_artifacts_free(struct i2k_artifacts *a)
{
	if (a == NULL)
		return;
	free(a->boot.cmdline);
	for (int i = 0; i < 2; i++)
		if (a->initrd_fd[i] >= 0)
			close(a->initrd_fd[i]);
	for (int m = 0; m < NMODES; m++)
		i2k_fstree_free(a->esp[m]);
	for (size_t b = 0; b < 5; b++)
		for (int m = 0; m < NMODES; m++) {
			i2k_isoboot_free(a->plans[b][m].iso);
			i2k_sink_free(a->plans[b][m].fat);
		}
	for (size_t i = 0; i < a->ndisks; i++)
		i2k_sink_free(a->disks[i].sink);
	i2k_sink_free(a->sqfs);
	i2k_fstree_free(a->rootfs);
	free(a);
}

void i2k_artifacts_freep(struct i2k_artifacts **a)
{
	i2k_artifacts_free(*a);
	*a = NULL;
}

const struct i2k_format_opts *i2k_artifacts_opts(const struct i2k_artifacts *a)
{
	return a->o;
}

struct i2k_fstree *i2k_artifacts_root(const struct i2k_artifacts *a)
{
	return a->root;
}

void i2k_artifacts_stats(const struct i2k_artifacts *a, struct i2k_artifacts_stats *out)
{
	*out = a->stats;
}

/* ---- boot files ------------------------------------------------------------ */

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

int i2k_artifacts_boot(struct i2k_artifacts *a, const char *format,
		       const struct i2k_boot_files **out, struct i2k_error **err)
{
	if (a->have_boot) {
		*out = &a->boot;
		return 0;
	}
	struct i2k_boot_files *b = &a->boot;
	struct i2k_inode *k;
	if (boot_file(a->root, "boot/kernel", &k, err) < 0 ||
	    boot_file(a->root, "boot/cmdline", &b->cmdline_inode, err) < 0 ||
	    boot_file(a->root, "boot/ucode.cpio", &b->ucode, err) < 0)
		return -1;
	/* Checks the kernel and reads the command line (≤ 64 KiB). */
	if (i2k_roots_boot(a->root, format, &b->kernel, &b->cmdline, err) < 0)
		return -1;
	/* Not every kernel is a bzImage (arm64 Image): only record the release. */
	struct i2k_kernel_info ki;
	struct i2k_error *kerr = NULL;
	uint64_t kat;
	int kfd = i2k_spool_fd_at(a->spool, b->kernel->data_off, &kat);
	if (i2k_kernel_info_fd(kfd, kat, &ki, &kerr) == 0 && ki.release[0])
		memcpy(b->release, ki.release, sizeof(b->release));
	i2k_error_free(kerr);
	a->have_boot = true;
	*out = b;
	return 0;
}

/* ---- seed ------------------------------------------------------------------ */

static int seed_entry(const struct i2k_walk_entry *e, void *ctx)
{
	struct i2k_sha256 *h = ctx;
	const struct i2k_inode *in = e->inode;
	char line[160];
	int n = snprintf(line, sizeof(line), "|%o %u %u %llu %lld|", in->mode, in->uid, in->gid,
			 (unsigned long long)in->size, (long long)in->mtime);
	i2k_sha256_update(h, e->path, strlen(e->path));
	i2k_sha256_update(h, line, (size_t)n);
	if (in->target)
		i2k_sha256_update(h, in->target, strlen(in->target));
	return 0;
}

/* Hash of what the image is made of, without reading file data twice:
 * kernel bytes, command line, root mode and every entry's metadata. */
int i2k_artifacts_seed(struct i2k_artifacts *a, enum i2k_root_mode mode, uint8_t seed[32],
		       struct i2k_error **err)
{
	if (a->have_seed[mode]) {
		memcpy(seed, a->seed[mode], 32);
		return 0;
	}
	const struct i2k_boot_files *b;
	if (i2k_artifacts_boot(a, "disk", &b, err) < 0)
		return -1;
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	char buf[65536];
	for (uint64_t off = 0; off < b->kernel->size;) {
		size_t n = b->kernel->size - off < sizeof(buf) ? (size_t)(b->kernel->size - off)
							       : sizeof(buf);
		if (i2k_fstree_read(a->root, b->kernel, off, buf, n, err) < 0)
			return -1;
		i2k_sha256_update(h, buf, n);
		off += n;
	}
	i2k_sha256_update(h, b->cmdline, strlen(b->cmdline));
	const char *name = i2k_root_mode_name(mode);
	i2k_sha256_update(h, name, strlen(name));
	i2k_fstree_walk(a->root, true, seed_entry, h);
	i2k_sha256_final_raw(h, a->seed[mode]);
	a->have_seed[mode] = true;
	memcpy(seed, a->seed[mode], 32);
	return 0;
}

/* ---- initrds ------------------------------------------------------------------ */

/* Compressed cpio of t without boot/...; gzip output is zero-padded to 4
 * bytes like LinuxKit's (pad4.Writer). zstd output is not padded: `zstd -t`
 * rejects trailing zeros; the cpio inside is a multiple of 4. */
/* COMPRESS progress: the cpio bytes going into the compressor (the
 * compressor emits on this thread, so its output count is current). */
struct metered_compressor {
	struct i2k_compressor *c;
	struct i2k_meter meter;
};

static int metered_write(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	struct metered_compressor *m = ctx;
	if (i2k_compressor_write(m->c, buf, len, err) < 0)
		return -1;
	i2k_meter_set(&m->meter, m->meter.done + len, i2k_compressor_bytes_out(m->c));
	return 0;
}

/* The file data the initrd will hold (what the filter keeps). */
static int sum_data(const struct i2k_walk_entry *e, void *ctx)
{
	if (e->first && S_ISREG(e->inode->mode) &&
	    i2k_cpio_filter_linuxkit(e->path, e->inode, NULL))
		*(uint64_t *)ctx += e->inode->size;
	return 0;
}

static int write_initrd(struct i2k_fstree *t, const struct i2k_format_opts *o, struct i2k_ostream s,
			struct i2k_error **err)
{
	struct i2k_compressor_opts co = {.kind = o->compression,
					 .level = o->level,
					 .threads = o->threads,
					 .memo_dir = o->block_cache};
	struct metered_compressor m = {0};
	_cleanup_(i2k_compressor_freep) struct i2k_compressor *c = NULL;
	if (i2k_compressor_new(&co, s, &c, err) < 0)
		return -1;
	m.c = c;
	uint64_t total = 0; /* file data: the cpio is slightly larger */
	if (o->progress.fn)
		i2k_fstree_walk(t, true, sum_data, &total);
	i2k_meter_begin(&m.meter, &o->progress, I2K_STAGE_COMPRESS, "initrd",
			i2k_compression_name(o->compression), total);
	struct i2k_cpio_tree_opts copts = {.filter = i2k_cpio_filter_linuxkit};
	if (i2k_cpio_write_tree(t, &copts, (struct i2k_ostream){.write = metered_write, .ctx = &m},
				err) < 0 ||
	    i2k_compressor_finish(c, err) < 0)
		return -1;
	uint64_t out = i2k_compressor_bytes_out(c);
	uint64_t pad = o->compression == I2K_COMPRESS_GZIP ? (4 - (out & 3)) & 3 : 0;
	if (pad && i2k_ostream_zeros(s, (size_t)pad, err) < 0)
		return -1;
	m.meter.total = m.meter.done;
	m.meter.out = out + pad;
	i2k_meter_end(&m.meter);
	return 0;
}

int i2k_artifacts_initrd(struct i2k_artifacts *a, enum i2k_root_mode mode, int *fd, uint64_t *size,
			 struct i2k_error **err)
{
	int slot = mode == I2K_ROOT_INITRAMFS ? 0 : 1; /* every disk root boots one first stage */
	if (a->initrd_fd[slot] < 0) {
		_cleanup_(i2k_fstree_freep) struct i2k_fstree *s1 = NULL;
		if (slot == 1 && i2k_roots_stage1(a->root, &s1, err) < 0)
			return -1;
		struct i2k_fstree *t = s1 ? s1 : a->root;
		i2k_fstree_finalize(t);
		_cleanup_close_ int tfd = i2k_tmpfile(NULL, "initrd", err);
		if (tfd < 0)
			return -1;
		struct i2k_fd_writer w;
		i2k_fd_writer_init(&w, tfd, NULL);
		int r = write_initrd(t, a->o, i2k_fd_writer_stream(&w), err);
		if (r == 0)
			r = i2k_fd_writer_flush(&w, err);
		a->initrd_size[slot] = w.bytes;
		i2k_fd_writer_release(&w);
		if (r < 0)
			return -1;
		a->initrd_fd[slot] = I2K_TAKE_FD(tfd);
		a->stats.initrds++;
	}
	*fd = a->initrd_fd[slot];
	*size = a->initrd_size[slot];
	return 0;
}

/* ---- roots ---------------------------------------------------------------------- */

static int rootfs(struct i2k_artifacts *a, struct i2k_error **err)
{
	if (a->rootfs == NULL && i2k_roots_rootfs(a->root, &a->rootfs, err) < 0)
		return -1;
	return 0;
}

int i2k_artifacts_rootfs(struct i2k_artifacts *a, struct i2k_fstree **out, struct i2k_error **err)
{
	if (rootfs(a, err) < 0)
		return -1;
	*out = a->rootfs;
	return 0;
}

int i2k_artifacts_squashfs(struct i2k_artifacts *a, struct i2k_sink **sqfs, uint64_t *bytes,
			   struct i2k_error **err)
{
	if (a->sqfs == NULL) {
		if (rootfs(a, err) < 0)
			return -1;
		/* Every file's data is in the spool: that bounds the image. */
		uint64_t cap = i2k_spool_size(a->spool) + (256ull << 20);
		_cleanup_(i2k_sink_freep) struct i2k_sink *s = NULL;
		if (i2k_sink_tmpfile_new(cap, "squashfs root", &s, NULL, err) < 0)
			return -1;
		struct i2k_squashfs_opts so = {.mtime = i2k_source_date_epoch()};
		struct i2k_meter m;
		i2k_meter_begin(&m, &a->o->progress, I2K_STAGE_FS, "squashfs", NULL, 0);
		s->meter = &m;
		if (i2k_squashfs_write(a->rootfs, &so, s, &a->sqfs_bytes, err) < 0)
			return -1;
		s->meter = NULL;
		i2k_meter_set(&m, a->sqfs_bytes, 0);
		i2k_meter_end(&m);
		a->sqfs = I2K_STEAL(s);
		a->stats.squashfs++;
	}
	*sqfs = a->sqfs;
	*bytes = a->sqfs_bytes;
	return 0;
}

/* ---- the ESP: a UKI of kernel + initrd + command line ----------------------------- */

/* The command line a root mode boots with: the config's, plus for disk
 * roots "i2kit.root=PARTUUID=... i2kit.rootfstype=TYPE" (the root
 * partition's GUID is derived from the seed, as i2k_gpt_write derives it). */
static int mode_cmdline(struct i2k_artifacts *a, enum i2k_root_mode mode, char **out,
			struct i2k_error **err)
{
	const struct i2k_boot_files *b;
	if (i2k_artifacts_boot(a, "disk", &b, err) < 0)
		return -1;
	if (mode == I2K_ROOT_INITRAMFS) {
		*out = i2k_xstrdup(b->cmdline);
		return 0;
	}
	uint8_t seed[32], guid[16];
	char gs[37];
	if (i2k_artifacts_seed(a, mode, seed, err) < 0)
		return -1;
	i2k_guid_derive(seed, "partition", 1, guid);
	i2k_guid_format(guid, gs);
	*out = i2k_xasprintf("%s%si2kit.root=PARTUUID=%s i2kit.rootfstype=%s", b->cmdline,
			     b->cmdline[0] ? " " : "", gs, i2k_root_mode_name(mode));
	return 0;
}

/* EFI/BOOT/BOOTX64.EFI = the UKI; the tree is borrowed from a. */
static int esp_tree(struct i2k_artifacts *a, enum i2k_root_mode mode, struct i2k_fstree **out,
		    struct i2k_error **err)
{
	if (a->esp[mode]) {
		*out = a->esp[mode];
		return 0;
	}
	const struct i2k_boot_files *b;
	_cleanup_free_ char *cmdline = NULL;
	int ifd;
	uint64_t isize;
	if (i2k_artifacts_boot(a, "disk", &b, err) < 0 ||
	    mode_cmdline(a, mode, &cmdline, err) < 0 ||
	    i2k_artifacts_initrd(a, mode, &ifd, &isize, err) < 0)
		return -1;
	uint64_t kat;
	int kfd = i2k_spool_fd_at(a->spool, b->kernel->data_off, &kat);
	struct i2k_uki_opts uo = {
	    .stub_path = a->o->boot.efi_stub,
	    .kernel = {.fd = kfd, .off = kat, .size = b->kernel->size},
	    .initrd = {.fd = ifd, .off = 0, .size = isize},
	    .cmdline = cmdline,
	    .osrel = "NAME=i2kit\nID=i2kit\n",
	};
	uint64_t off, size;
	if (i2k_uki_build_spool(&uo, a->spool, &off, &size, err) < 0)
		return -1;
	_cleanup_(i2k_fstree_freep) struct i2k_fstree *t = i2k_fstree_new(a->spool);
	int64_t epoch = i2k_source_date_epoch();
	struct i2k_fattr d = {.mode = S_IFDIR | 0755, .mtime = epoch};
	struct i2k_fattr f = {.mode = S_IFREG | 0644, .mtime = epoch};
	if (i2k_fstree_add(t, "EFI", &d, NULL, 0, 0, 0, NULL, err) < 0 ||
	    i2k_fstree_add(t, "EFI/BOOT", &d, NULL, 0, 0, 0, NULL, err) < 0 ||
	    i2k_fstree_add(t, "EFI/BOOT/BOOTX64.EFI", &f, NULL, off, size, 0, NULL, err) < 0)
		return -1;
	a->esp[mode] = *out = I2K_STEAL(t);
	a->stats.esps++;
	return 0;
}

/* ---- disk plans ------------------------------------------------------------------ */

static int kernel_fd(struct i2k_artifacts *a, int *fd, struct i2k_error **err)
{
	const struct i2k_boot_files *b;
	if (i2k_artifacts_boot(a, "disk", &b, err) < 0)
		return -1;
	return i2k_spool_extent_fd(a->spool, b->kernel->data_off, b->kernel->size, fd, err);
}

/* A descriptor of the cached initrd at offset 0 (isoboot reads to EOF). */
static int initrd_dup(struct i2k_artifacts *a, enum i2k_root_mode mode, int *out,
		      struct i2k_error **err)
{
	int fd;
	uint64_t size;
	if (i2k_artifacts_initrd(a, mode, &fd, &size, err) < 0)
		return -1;
	_cleanup_free_ char *p = i2k_xasprintf("/proc/self/fd/%d", fd);
	*out = open(p, O_RDONLY | O_CLOEXEC);
	if (*out < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "reopening the initrd");
	return 0;
}

static int plan_bios(struct i2k_artifacts *a, struct plan *p, struct i2k_error **err)
{
	const struct i2k_boot_files *b;
	_cleanup_close_ int kfd = -1, ifd = -1;
	if (i2k_artifacts_boot(a, "disk", &b, err) < 0 || kernel_fd(a, &kfd, err) < 0 ||
	    initrd_dup(a, I2K_ROOT_INITRAMFS, &ifd, err) < 0)
		return -1;
	const char *dir = a->o->boot.isolinux_dir;
	_cleanup_free_ char *bin = dir ? i2k_xasprintf("%s/isolinux.bin", dir) : NULL;
	_cleanup_free_ char *mbr = dir ? i2k_xasprintf("%s/isohdpfx.bin", dir) : NULL;
	struct i2k_isoboot_opts io = {.cmdline = b->cmdline,
				      .bios = true,
				      .hybrid = true,
				      .isolinux_bin = bin,
				      .mbr_path = mbr,
				      .ldlinux_c32 = a->o->boot.ldlinux_c32};
	if (i2k_isoboot_new(kfd, ifd, &io, &p->iso, err) < 0)
		return -1;
	p->need = i2k_isoboot_size(p->iso);
	return 0;
}

static int plan_efi_iso(struct i2k_artifacts *a, struct plan *p, struct i2k_error **err)
{
	const struct i2k_boot_files *b;
	struct i2k_fstree *esp;
	uint64_t fat_size;
	int fat_fd;
	if (i2k_artifacts_boot(a, "disk", &b, err) < 0 ||
	    esp_tree(a, I2K_ROOT_INITRAMFS, &esp, err) < 0 ||
	    i2k_fat_min_size(esp, &fat_size, err) < 0)
		return -1;
	struct i2k_fat_opts fo = {.label = "EFI"};
	if (i2k_sink_tmpfile_new(fat_size, "efiboot.img", &p->fat, &fat_fd, err) < 0 ||
	    i2k_fat_write(esp, &fo, p->fat, err) < 0 || i2k_sink_finish(p->fat, err) < 0)
		return -1;
	_cleanup_close_ int kfd = -1, ifd = -1;
	if (kernel_fd(a, &kfd, err) < 0 || initrd_dup(a, I2K_ROOT_INITRAMFS, &ifd, err) < 0)
		return -1;
	if (lseek(fat_fd, 0, SEEK_SET) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "efiboot.img");
	struct i2k_isoboot_opts io = {.cmdline = b->cmdline, .efi = true, .efi_fd = fat_fd};
	if (i2k_isoboot_new(kfd, ifd, &io, &p->iso, err) < 0)
		return -1;
	p->need = i2k_isoboot_size(p->iso);
	return 0;
}

static int plan_efi_gpt(struct i2k_artifacts *a, enum i2k_root_mode mode, struct plan *p,
			struct i2k_error **err)
{
	p->parts[0] = (struct i2k_part){.name = "ESP", .type_guid = I2K_GUID_ESP, .mbr_type = 0xEF};
	p->parts[1] = (struct i2k_part){
	    .name = "root", .type_guid = I2K_GUID_LINUX_ROOT_X86_64, .mbr_type = 0x83};
	p->nparts = mode == I2K_ROOT_INITRAMFS ? 1 : 2;
	if (mode == I2K_ROOT_SQUASHFS) {
		struct i2k_sink *sq;
		if (i2k_artifacts_squashfs(a, &sq, &p->parts[1].size, err) < 0)
			return -1;
	} else if (mode == I2K_ROOT_EXT4) {
		struct i2k_ext4_opts eo = {.epoch = i2k_source_date_epoch()};
		if (rootfs(a, err) < 0 ||
		    i2k_ext4_size_for(a->rootfs, &eo, &p->parts[1].size, err) < 0)
			return -1;
	}
	struct i2k_fstree *esp;
	if (esp_tree(a, mode, &esp, err) < 0 || i2k_fat_min_size(esp, &p->parts[0].size, err) < 0)
		return -1;
	return i2k_part_layout(p->parts, p->nparts, 0, true, &p->need, err);
}

static int get_plan(struct i2k_artifacts *a, enum i2k_boot_method boot, enum i2k_root_mode mode,
		    struct plan **out, struct i2k_error **err)
{
	struct plan *p = &a->plans[boot][mode];
	if (!p->ready) {
		int r;
		switch (boot) {
		case I2K_BOOT_BIOS_HYBRID:
			r = plan_bios(a, p, err);
			break;
		case I2K_BOOT_EFI_ISO:
			r = plan_efi_iso(a, p, err);
			break;
		case I2K_BOOT_EFI_GPT:
			r = plan_efi_gpt(a, mode, p, err);
			break;
		default:
			r = i2k_error_set(err, I2K_ERR_INTERNAL, "no disk for boot method %s",
					  i2k_boot_method_name(boot));
		}
		if (r < 0)
			return -1;
		p->ready = true;
	}
	*out = p;
	return 0;
}

/* ---- disks ---------------------------------------------------------------------- */

static int fill_efi_gpt(struct i2k_artifacts *a, enum i2k_root_mode mode, struct plan *p,
			struct i2k_sink *disk, struct i2k_error **err)
{
	struct i2k_part parts[2];
	memcpy(parts, p->parts, sizeof(parts));
	if (p->nparts == 2 && mode == I2K_ROOT_EXT4)
		parts[1].size = 0; /* a writable root takes the rest of the disk */
	if (i2k_part_layout(parts, p->nparts, disk->size, true, NULL, err) < 0)
		return -1;
	uint8_t seed[32];
	struct i2k_fstree *esp;
	if (i2k_artifacts_seed(a, mode, seed, err) < 0 || esp_tree(a, mode, &esp, err) < 0)
		return -1;
	_cleanup_(i2k_sink_freep) struct i2k_sink *w0 = NULL, *w1 = NULL;
	struct i2k_fat_opts fo = {.label = "EFI",
				  .hidden_sectors = (uint32_t)(parts[0].start / 512)};
	if (i2k_sink_window_new(disk, parts[0].start, parts[0].size, "ESP", &w0, err) < 0 ||
	    i2k_fat_write(esp, &fo, w0, err) < 0)
		return -1;
	if (p->nparts == 2) {
		if (i2k_sink_window_new(disk, parts[1].start, parts[1].size, "root partition", &w1,
					err) < 0)
			return -1;
		if (mode == I2K_ROOT_SQUASHFS) {
			struct i2k_sink *sq;
			uint64_t bytes;
			if (i2k_artifacts_squashfs(a, &sq, &bytes, err) < 0 ||
			    i2k_sink_copy(w1, 0, sq, 0, bytes, err) < 0)
				return -1;
		} else {
			struct i2k_ext4_opts eo = {.epoch = i2k_source_date_epoch()};
			memcpy(eo.uuid_seed, seed, sizeof(eo.uuid_seed));
			if (i2k_ext4_write(a->rootfs, &eo, w1, err) < 0)
				return -1;
		}
	}
	return i2k_gpt_write(disk, parts, p->nparts, seed, err);
}

static int too_small(const struct i2k_artifacts *a, const struct i2k_format *f, uint64_t need,
		     struct i2k_error **err)
{
	return i2k_error_set(err, I2K_ERR_CONFIG,
			     "--size %llu is too small: the %s image needs at least %llu bytes "
			     "(%llu MiB)",
			     (unsigned long long)a->o->size, f->name, (unsigned long long)need,
			     (unsigned long long)((need + (1 << 20) - 1) >> 20));
}

int i2k_artifacts_disk(struct i2k_artifacts *a, const struct i2k_format *f, struct i2k_sink **out,
		       struct i2k_error **err)
{
	enum i2k_root_mode mode = i2k_format_root(f, a->o->root_given, a->o->root);
	struct plan *p;
	if (get_plan(a, f->boot, mode, &p, err) < 0)
		return -1;
	if (a->o->size && a->o->size < p->need)
		return too_small(a, f, p->need, err);
	uint64_t size = a->o->size ? a->o->size : p->need;
	if (f->boot != I2K_BOOT_EFI_ISO)
		size = i2k_container_round_size(f->container, size);
	if (f->boot == I2K_BOOT_EFI_GPT)
		size &= ~(uint64_t)(I2K_SECTOR - 1);
	for (size_t i = 0; i < a->ndisks; i++) {
		struct disk *d = &a->disks[i];
		if (d->boot == f->boot && d->mode == mode && d->size == size) {
			*out = d->sink;
			return 0;
		}
	}
	if (a->ndisks == MAX_DISKS)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "too many disk layouts in one build");
	/* Beside the outputs (when they are files), so that a raw output can be
	 * this file itself (i2k_artifacts_disk_claim). */
	_cleanup_(i2k_sink_freep) struct i2k_sink *disk = NULL;
	const char *dir = a->o->disk_dest ? NULL : a->o->dir ? a->o->dir : ".";
	if (i2k_sink_tmpfile_new_in(dir, size, "disk", &disk, NULL, err) < 0)
		return -1;
	/* A raw format asking first takes this very file as its output
	 * (formats/write_disk.c), which its commit fsyncs: its write-out starts
	 * while the disk is filled, as every output's does (formats/output.c). */
	if (dir && f->container == I2K_CONTAINER_RAW)
		i2k_sink_write_early(disk);
	struct i2k_meter m;
	i2k_meter_begin(&m, &a->o->progress, I2K_STAGE_FS,
			f->boot == I2K_BOOT_EFI_GPT   ? "EFI disk"
			: f->boot == I2K_BOOT_EFI_ISO ? "EFI ISO"
						      : "BIOS disk",
			NULL, 0);
	disk->meter = &m;
	int r = f->boot == I2K_BOOT_EFI_GPT ? fill_efi_gpt(a, mode, p, disk, err)
					    : i2k_isoboot_write(p->iso, disk, err);
	disk->meter = NULL;
	if (r < 0 || i2k_sink_finish(disk, err) < 0)
		return -1;
	i2k_meter_end(&m);
	a->disks[a->ndisks++] =
	    (struct disk){.boot = f->boot, .mode = mode, .size = size, .sink = I2K_STEAL(disk)};
	a->stats.disks++;
	*out = a->disks[a->ndisks - 1].sink;
	return 0;
}

bool i2k_artifacts_disk_claim(struct i2k_artifacts *a, struct i2k_sink *disk)
{
	for (size_t i = 0; i < a->ndisks; i++)
		if (a->disks[i].sink == disk) {
			bool first = !a->disks[i].claimed;
			a->disks[i].claimed = true;
			return first;
		}
	return false;
}
