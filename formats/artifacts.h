/* artifacts.h — the intermediates of one build, made once however many
 * formats ask for them: the compressed initrd (whole root or first stage),
 * the content seed, the root without boot/, the squashfs root, the ESP with
 * its UKI, and the finished raw disks. raw-efi, qcow2-efi and aws are the
 * same disk in other containers; raw-bios, qcow2-bios and iso-bios share
 * the isohybrid image; so each disk is laid out once per (boot method,
 * root mode, size) and every container writer reads that one disk.
 *
 * Everything is kept in anonymous temporary files (sparse) or the root's
 * spool, released by i2k_artifacts_free. The artifacts borrow the root
 * tree (finalized here) and the options: both must outlive them.
 */
#ifndef I2K_FORMATS_ARTIFACTS_H
#define I2K_FORMATS_ARTIFACTS_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/progress.h"
#include "builder/fstree/fstree.h"
#include "formats/format.h"
#include "formats/sink.h"
#include "initrd/compress.h"
#include "kernel/kernel.h"

/* Boot loader data files read (never executed) by the disk formats. NULL →
 * the Debian packages' paths (systemd-boot-efi, isolinux, syslinux-common).
 * The CLI fills them from flags or I2KIT_EFI_STUB, I2KIT_ISOLINUX_DIR,
 * I2KIT_LDLINUX_C32. */
struct i2k_boot_data {
	const char *efi_stub;
	const char *isolinux_dir;
	const char *ldlinux_c32;
};

/* A destination for a disk format's one file other than DIR/NAME+SUFFIX (an
 * upload: `build --push aws`). open is asked for every disk format, with
 * the output name and the finished raw disk (a file sink, readable): it sets
 * *out to a sink of its own (owned by the destination) to take the
 * container's bytes, or leaves it NULL to let the file be written as usual;
 * close is called after the container was written into it and the sink
 * finished (ok) or after a failure (!ok; it must then drop what it started)
 * and may append to res. */
struct i2k_disk_dest {
	int (*open)(void *ctx, const struct i2k_format *f, const char *name, struct i2k_sink *disk,
		    struct i2k_sink **out, struct i2k_error **err);
	int (*close)(void *ctx, const struct i2k_format *f, struct i2k_sink *out, bool ok,
		     struct i2k_output_result *res, struct i2k_error **err);
	void *ctx;
};

struct i2k_format_opts {
	const char *dir;		  /* output directory (must exist); NULL = "." */
	const char *name;		  /* base name of the files (no '/'); required */
	enum i2k_compression compression; /* initrd compression; 0 = gzip */
	int level;			  /* 0 = the compressor's default */
	int threads; /* compressor threads, 0 = all CPUs (output does not depend on it) */
	/* gzip initrds: a directory of compressed blocks from earlier builds
	 * (initrd/blockmemo.h), NULL for none; output does not depend on it */
	const char *block_cache;
	uint64_t size;		 /* disk formats: --size in bytes (0 = as small as fits) */
	bool root_given;	 /* --root was given: */
	enum i2k_root_mode root; /* ... this mode; else each format's default */
	struct i2k_boot_data boot;
	const struct i2k_disk_dest *disk_dest; /* NULL → files */
	bool digests;			       /* the result's files carry their sha256 (else "") */
	/* Optional: COMPRESS (initrd), FS (squashfs, disks) and WRITE (each
	 * format's files) progress; see builder/base/progress.h. */
	struct i2k_stage_cb progress;
};

struct i2k_artifacts;

/* Kernel, command line and microcode of the root (boot/...). */
struct i2k_boot_files {
	struct i2k_inode *kernel;		 /* boot/kernel, non-empty */
	struct i2k_inode *cmdline_inode, *ucode; /* NULL when absent */
	char *cmdline;				 /* contents of boot/cmdline ("" when absent) */
	char release[I2K_KERNEL_VERSION_MAX];	 /* "" unless a bzImage with a version */
};

/* New artifacts for root (finalized here); *out is the caller's. */
int i2k_artifacts_new(struct i2k_fstree *root, const struct i2k_format_opts *o,
		      struct i2k_artifacts **out, struct i2k_error **err);
void i2k_artifacts_free(struct i2k_artifacts *a); /* NULL-safe */
void i2k_artifacts_freep(struct i2k_artifacts **a);

const struct i2k_format_opts *i2k_artifacts_opts(const struct i2k_artifacts *a);
struct i2k_fstree *i2k_artifacts_root(const struct i2k_artifacts *a);

/* The boot files (borrowed from a). Without boot/kernel: I2K_ERR_CONFIG
 * "FORMAT output needs a kernel: section". */
int i2k_artifacts_boot(struct i2k_artifacts *a, const char *format,
		       const struct i2k_boot_files **out, struct i2k_error **err);
/* The compressed newc cpio that a root mode boots: the whole root without
 * boot/ (initramfs) or the first stage (squashfs, ext4); gzip output is
 * zero-padded to 4 bytes like LinuxKit's. *fd is borrowed (read it with
 * pread; its offset is not meaningful). */
int i2k_artifacts_initrd(struct i2k_artifacts *a, enum i2k_root_mode mode, int *fd, uint64_t *size,
			 struct i2k_error **err);
/* The root without boot/ (borrowed; what a disk root holds). */
int i2k_artifacts_rootfs(struct i2k_artifacts *a, struct i2k_fstree **out, struct i2k_error **err);
/* The root without boot/ in a squashfs (borrowed file sink), *bytes used. */
int i2k_artifacts_squashfs(struct i2k_artifacts *a, struct i2k_sink **sqfs, uint64_t *bytes,
			   struct i2k_error **err);
/* The finished raw disk of disk format f (boot method, root mode, --size
 * rounded for f's container); borrowed. --size too small: I2K_ERR_CONFIG
 * "--size N is too small: the F image needs at least M bytes (K MiB)". */
int i2k_artifacts_disk(struct i2k_artifacts *a, const struct i2k_format *f, struct i2k_sink **disk,
		       struct i2k_error **err);
/* True the first time it is asked for disk (one of the build's disks): the
 * caller may then make it an output file (a raw container holds exactly
 * the disk's bytes, i2k_output_adopt). Later formats still read it. */
bool i2k_artifacts_disk_claim(struct i2k_artifacts *a, struct i2k_sink *disk);
/* The content seed of root mode (GUIDs, UUIDs, serials derive from it). */
int i2k_artifacts_seed(struct i2k_artifacts *a, enum i2k_root_mode mode, uint8_t seed[32],
		       struct i2k_error **err);

/* Counters for tests and benchmarks: how often each artifact was made. */
struct i2k_artifacts_stats {
	unsigned initrds, squashfs, esps, disks;
};
void i2k_artifacts_stats(const struct i2k_artifacts *a, struct i2k_artifacts_stats *out);

#endif
