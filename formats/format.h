/* format.h — the one table of named output formats. Every place that needs
 * to know about a format reads its row: `build --help`, the build
 * (i2k_format_write), the checks made before any work (i2k_format_check:
 * unknown names, output files that two formats would both write, root modes
 * a format cannot take), and `run qemu` (i2k_format_from_path: how to boot
 * a file that was written as this format).
 *
 * A row: name, help text, the files it writes (NAME + suffix; the first is
 * the one `run qemu` is given), how it boots, the root modes it takes
 * (--root), the disk container, the firmware `run qemu` boots it with, and
 * its writer (formats/write_*.c). Adding a container format = one row + one
 * container writer.
 *
 * The writers share one struct i2k_artifacts (formats/artifacts.h) per
 * build, so the initrd, UKI, ESP, squashfs/ext4 root and disk are made once
 * however many formats ask for them.
 */
#ifndef I2K_FORMATS_FORMAT_H
#define I2K_FORMATS_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"
#include "formats/container/container.h"
#include "formats/output.h"
#include "formats/roots.h"

#define I2K_FORMAT_MAX_FILES I2K_OUTPUT_MAX_FILES

enum i2k_boot_method {
	I2K_BOOT_NONE,	      /* no boot files (tar) */
	I2K_BOOT_KERNEL,      /* kernel + initrd files for a boot loader or -kernel */
	I2K_BOOT_BIOS_HYBRID, /* isohybrid ISO9660 + isolinux: a BIOS disk or CD */
	I2K_BOOT_EFI_GPT,     /* GPT disk, FAT32 ESP with a UKI */
	I2K_BOOT_EFI_ISO,     /* ISO9660 with an El Torito EFI image */
};

/* How `run qemu` boots a file written as the format. */
enum i2k_firmware {
	I2K_FIRMWARE_NONE,   /* not bootable (tar) */
	I2K_FIRMWARE_KERNEL, /* QEMU -kernel/-initrd/-append */
	I2K_FIRMWARE_BIOS,   /* SeaBIOS */
	I2K_FIRMWARE_UEFI,   /* OVMF */
};

#define I2K_ROOT_BIT(m) (1u << (m))

struct i2k_format;
struct i2k_artifacts;

/* Writes format f from the build's artifacts; appends the files to res.
 * On failure nothing is appended and no file of f is left. */
typedef int (*i2k_format_write_fn)(const struct i2k_format *f, struct i2k_artifacts *a,
				   struct i2k_output_result *res, struct i2k_error **err);

struct i2k_format {
	const char *name;
	const char *help;			     /* one line for --help */
	const char *files[I2K_FORMAT_MAX_FILES + 1]; /* suffixes after NAME, NULL-terminated */
	enum i2k_boot_method boot;
	unsigned roots;			   /* accepted --root modes: I2K_ROOT_BIT(...) | ... */
	enum i2k_root_mode root;	   /* the root mode used when --root is not given */
	enum i2k_container_kind container; /* disk formats */
	enum i2k_firmware firmware;
	bool cdrom; /* run qemu: attach as a CD-ROM */
	i2k_format_write_fn write;
};

/* The whole table, in --help order; *n rows. */
const struct i2k_format *i2k_formats(size_t *n);
/* The row for a name, or NULL. */
const struct i2k_format *i2k_format_find(const char *name);

/* Checks a build's format list before any work: an unknown name
 * (I2K_ERR_USAGE "unknown output format \"X\" (see i2kit build --help)"),
 * two formats writing the same file ("vhd and dynamic-vhd both write
 * NAME.vhd: build them with different --name"), and, when root_given, a
 * root mode a format does not take ("raw-bios boots with the root in the
 * initramfs only: --root ext4 needs raw-efi, qcow2-efi, aws or
 * kernel+squashfs"). A name listed twice is built once (not an error). */
int i2k_format_check(const char *const *names, size_t n, bool root_given, enum i2k_root_mode root,
		     struct i2k_error **err);
/* The root mode format f is built with. */
enum i2k_root_mode i2k_format_root(const struct i2k_format *f, bool root_given,
				   enum i2k_root_mode root);

/* Which format wrote `path`, from the table's file suffixes (the longest
 * matching suffix wins; only a row's first file is matched — rows that
 * cannot boot (firmware NONE: tar, gcp) too, so callers can say so —, plus "-kernel"
 * and a bare PREFIX of the kernel formats when PREFIX-kernel exists).
 * *prefix (caller frees) is the path without the suffix. Returns NULL when
 * no row matches. kernel+squashfs and kernel+iso are told from
 * kernel+initrd by their root image (PREFIX-squashfs.img, PREFIX.iso) and a
 * PREFIX-cmdline that boots from it. */
const struct i2k_format *i2k_format_from_path(const char *path, char **prefix);

const char *i2k_boot_method_name(enum i2k_boot_method b);

#endif
