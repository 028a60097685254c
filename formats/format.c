/* format.c — the table of named formats and the checks that read it
 * (contract in format.h). */
#include "formats/format.h"

#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/writers.h"

#define ROOT_INITRAMFS I2K_ROOT_BIT(I2K_ROOT_INITRAMFS)
#define ROOT_ANY                                                                                   \
	(I2K_ROOT_BIT(I2K_ROOT_INITRAMFS) | I2K_ROOT_BIT(I2K_ROOT_SQUASHFS) |                      \
	 I2K_ROOT_BIT(I2K_ROOT_EXT4))

static const struct i2k_format table[] = {
    {.name = "kernel+initrd",
     .help = "NAME-kernel, NAME-initrd.img and NAME-cmdline (the default)",
     .files = {"-kernel", "-initrd.img", "-cmdline"},
     .boot = I2K_BOOT_KERNEL,
     .roots = ROOT_INITRAMFS,
     .firmware = I2K_FIRMWARE_KERNEL,
     .write = i2k_write_kernel_initrd},
    {.name = "tar",
     .help = "NAME.tar: the whole root file system",
     .files = {".tar"},
     .boot = I2K_BOOT_NONE,
     .roots = ROOT_INITRAMFS,
     .write = i2k_write_tar},
    {.name = "tar-kernel-initrd",
     .help = "NAME-initrd.tar holding kernel, initrd.img and cmdline",
     .files = {"-initrd.tar"},
     .boot = I2K_BOOT_KERNEL,
     .roots = ROOT_INITRAMFS,
     .write = i2k_write_tar_kernel_initrd},
    {.name = "kernel+squashfs",
     .help = "NAME-kernel, NAME-initrd.img, NAME-squashfs.img, NAME-cmdline",
     .files = {"-kernel", "-initrd.img", "-squashfs.img", "-cmdline"},
     .boot = I2K_BOOT_KERNEL,
     .roots = I2K_ROOT_BIT(I2K_ROOT_SQUASHFS),
     .root = I2K_ROOT_SQUASHFS,
     .firmware = I2K_FIRMWARE_KERNEL,
     .write = i2k_write_kernel_squashfs},
    {.name = "kernel+erofs",
     .help = "NAME-kernel, NAME-initrd.img, NAME-erofs.img (the root), NAME-cmdline",
     .files = {"-kernel", "-initrd.img", "-erofs.img", "-cmdline"},
     .boot = I2K_BOOT_KERNEL,
     .roots = I2K_ROOT_BIT(I2K_ROOT_EROFS),
     .root = I2K_ROOT_EROFS,
     .firmware = I2K_FIRMWARE_KERNEL,
     .write = i2k_write_kernel_erofs},
    {.name = "kernel+iso",
     .help = "NAME-kernel, NAME-initrd.img, NAME.iso (the root), NAME-cmdline",
     .files = {"-kernel", "-initrd.img", ".iso", "-cmdline"},
     .boot = I2K_BOOT_KERNEL,
     .roots = I2K_ROOT_BIT(I2K_ROOT_ISO9660),
     .root = I2K_ROOT_ISO9660,
     .firmware = I2K_FIRMWARE_KERNEL,
     .write = i2k_write_kernel_iso},
    {.name = "raw-bios",
     .help = "NAME-bios.img: BIOS-bootable raw disk",
     .files = {"-bios.img"},
     .boot = I2K_BOOT_BIOS_HYBRID,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_RAW,
     .firmware = I2K_FIRMWARE_BIOS,
     .write = i2k_write_disk},
    {.name = "raw-efi",
     .help = "NAME-efi.img: UEFI-bootable raw disk",
     .files = {"-efi.img"},
     .boot = I2K_BOOT_EFI_GPT,
     .roots = ROOT_ANY,
     .container = I2K_CONTAINER_RAW,
     .firmware = I2K_FIRMWARE_UEFI,
     .write = i2k_write_disk},
    {.name = "qcow2-bios",
     .help = "NAME.qcow2: BIOS-bootable qcow2 disk",
     .files = {".qcow2"},
     .boot = I2K_BOOT_BIOS_HYBRID,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_QCOW2,
     .firmware = I2K_FIRMWARE_BIOS,
     .write = i2k_write_disk},
    {.name = "qcow2-efi",
     .help = "NAME-efi.qcow2: UEFI-bootable qcow2 disk",
     .files = {"-efi.qcow2"},
     .boot = I2K_BOOT_EFI_GPT,
     .roots = ROOT_ANY,
     .container = I2K_CONTAINER_QCOW2,
     .firmware = I2K_FIRMWARE_UEFI,
     .write = i2k_write_disk},
    {.name = "vhd",
     .help = "NAME.vhd: fixed VHD disk (BIOS)",
     .files = {".vhd"},
     .boot = I2K_BOOT_BIOS_HYBRID,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_VHD_FIXED,
     .firmware = I2K_FIRMWARE_BIOS,
     .write = i2k_write_disk},
    {.name = "dynamic-vhd",
     .help = "NAME.vhd: dynamic VHD disk (BIOS)",
     .files = {".vhd"},
     .boot = I2K_BOOT_BIOS_HYBRID,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_VHD_DYNAMIC,
     .firmware = I2K_FIRMWARE_BIOS,
     .write = i2k_write_disk},
    {.name = "vmdk",
     .help = "NAME.vmdk: streamOptimized VMDK disk (BIOS; VMware, OVA)",
     .files = {".vmdk"},
     .boot = I2K_BOOT_BIOS_HYBRID,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_VMDK,
     .firmware = I2K_FIRMWARE_BIOS,
     .write = i2k_write_disk},
    {.name = "gcp",
     .help = "NAME.img.tar.gz: disk.raw for a Google Compute Engine image (BIOS)",
     .files = {".img.tar.gz"},
     .boot = I2K_BOOT_BIOS_HYBRID,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_GCP,
     .write = i2k_write_disk},
    {.name = "aws",
     .help = "NAME.raw: UEFI raw disk for an AWS AMI (NVMe root, ENA kept)",
     .files = {".raw"},
     .boot = I2K_BOOT_EFI_GPT,
     .roots = ROOT_ANY,
     .container = I2K_CONTAINER_RAW,
     .firmware = I2K_FIRMWARE_UEFI,
     .write = i2k_write_disk},
    {.name = "iso-bios",
     .help = "NAME.iso: BIOS-bootable ISO (also boots as a disk)",
     .files = {".iso"},
     .boot = I2K_BOOT_BIOS_HYBRID,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_RAW,
     .firmware = I2K_FIRMWARE_BIOS,
     .cdrom = true,
     .write = i2k_write_disk},
    {.name = "iso-efi",
     .help = "NAME-efi.iso: UEFI-bootable ISO",
     .files = {"-efi.iso"},
     .boot = I2K_BOOT_EFI_ISO,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_RAW,
     .firmware = I2K_FIRMWARE_UEFI,
     .cdrom = true,
     .write = i2k_write_disk},
    {.name = "iso-efi-initrd",
     .help = "NAME-efi-initrd.iso: UEFI-bootable ISO, kernel + initrd in a UKI",
     .files = {"-efi-initrd.iso"},
     .boot = I2K_BOOT_EFI_ISO,
     .roots = ROOT_INITRAMFS,
     .container = I2K_CONTAINER_RAW,
     .firmware = I2K_FIRMWARE_UEFI,
     .cdrom = true,
     .write = i2k_write_disk},
};

const struct i2k_format *i2k_formats(size_t *n)
{
	*n = I2K_ARRAY_SIZE(table);
	return table;
}

const struct i2k_format *i2k_format_find(const char *name)
{
	for (size_t i = 0; name && i < I2K_ARRAY_SIZE(table); i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

enum i2k_root_mode i2k_format_root(const struct i2k_format *f, bool root_given,
				   enum i2k_root_mode root)
{
	return root_given ? root : f->root;
}

const char *i2k_boot_method_name(enum i2k_boot_method b)
{
	switch (b) {
	case I2K_BOOT_NONE:
		return "none";
	case I2K_BOOT_KERNEL:
		return "kernel";
	case I2K_BOOT_BIOS_HYBRID:
		return "bios-hybrid";
	case I2K_BOOT_EFI_GPT:
		return "efi-gpt";
	case I2K_BOOT_EFI_ISO:
		return "efi-iso";
	}
	return "?";
}

/* "raw-efi, qcow2-efi, aws or kernel+squashfs": the formats taking mode. */
static char *formats_taking(enum i2k_root_mode mode)
{
	const char *names[I2K_ARRAY_SIZE(table)];
	size_t n = 0;
	for (size_t i = 0; i < I2K_ARRAY_SIZE(table); i++)
		if (table[i].roots & I2K_ROOT_BIT(mode))
			names[n++] = table[i].name;
	char *s = i2k_xstrdup("");
	for (size_t i = 0; i < n; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		char *t = i2k_xasprintf("%s%s%s", s, sep, names[i]);
		free(s);
		s = t;
	}
	return s;
}

int i2k_format_check(const char *const *names, size_t n, bool root_given, enum i2k_root_mode root,
		     struct i2k_error **err)
{
	for (size_t i = 0; i < n; i++) {
		const struct i2k_format *f = i2k_format_find(names[i]);
		if (f == NULL)
			return i2k_error_set(
			    err, I2K_ERR_USAGE,
			    "unknown output format \"%s\" (see i2kit build --help)", names[i]);
		if (root_given && !(f->roots & I2K_ROOT_BIT(root))) {
			_cleanup_free_ char *others = formats_taking(root);
			if (f->roots == ROOT_INITRAMFS)
				return i2k_error_set(
				    err, I2K_ERR_USAGE,
				    "%s boots with the root in the initramfs only; "
				    "--root %s needs %s",
				    f->name, i2k_root_mode_name(root), others);
			return i2k_error_set(err, I2K_ERR_USAGE,
					     "%s cannot take --root %s (%s can)", f->name,
					     i2k_root_mode_name(root), others);
		}
		for (size_t j = 0; j < i; j++) {
			const struct i2k_format *g = i2k_format_find(names[j]);
			if (g == f)
				break; /* listed twice: built once */
			for (size_t a = 0; f->files[a]; a++)
				for (size_t b = 0; g->files[b]; b++)
					if (strcmp(f->files[a], g->files[b]) == 0)
						return i2k_error_set(
						    err, I2K_ERR_USAGE,
						    "%s and %s both write NAME%s: build them with "
						    "different --name",
						    g->name, f->name, f->files[a]);
		}
	}
	return 0;
}

static bool ends_with(const char *s, const char *suffix, size_t *stem)
{
	size_t n = strlen(s), k = strlen(suffix);
	if (k >= n || strcmp(s + n - k, suffix) != 0)
		return false;
	*stem = n - k;
	return true;
}

static bool file_exists(const char *prefix, const char *suffix)
{
	_cleanup_free_ char *p = i2k_xasprintf("%s%s", prefix, suffix);
	return access(p, F_OK) == 0;
}

/* True when PREFIX-cmdline says the root is a TYPE image. */
static bool cmdline_root(const char *prefix, const char *type)
{
	_cleanup_free_ char *path = i2k_xasprintf("%s-cmdline", prefix);
	_cleanup_free_ char *text = NULL;
	size_t len;
	if (i2k_read_file(path, 65536, &text, &len, NULL) < 0)
		return false;
	_cleanup_free_ char *want = i2k_xasprintf("i2kit.rootfstype=%s", type);
	return strstr(text, want) != NULL;
}

/* kernel+squashfs or kernel+iso when the root image exists and the command
 * line boots from it, else kernel+initrd. */
static const struct i2k_format *kernel_format(const char *prefix)
{
	if (file_exists(prefix, "-squashfs.img") && cmdline_root(prefix, "squashfs"))
		return i2k_format_find("kernel+squashfs");
	if (file_exists(prefix, ".iso") && cmdline_root(prefix, "iso9660"))
		return i2k_format_find("kernel+iso");
	if (file_exists(prefix, "-erofs.img") && cmdline_root(prefix, "erofs"))
		return i2k_format_find("kernel+erofs");
	return i2k_format_find("kernel+initrd");
}

const struct i2k_format *i2k_format_from_path(const char *path, char **prefix)
{
	*prefix = NULL;
	const struct i2k_format *best = NULL;
	size_t best_len = 0, stem = 0;
	for (size_t i = 0; i < I2K_ARRAY_SIZE(table); i++) {
		const struct i2k_format *f = &table[i];
		size_t st;
		if (f->boot == I2K_BOOT_KERNEL)
			continue;
		if (ends_with(path, f->files[0], &st) && strlen(f->files[0]) > best_len) {
			best = f;
			best_len = strlen(f->files[0]);
			stem = st;
		}
	}
	if (best) {
		*prefix = i2k_xstrndup(path, stem);
		return best;
	}
	if (ends_with(path, "-kernel", &stem)) {
		*prefix = i2k_xstrndup(path, stem);
		return kernel_format(*prefix);
	}
	if (file_exists(path, "-kernel")) {
		*prefix = i2k_xstrdup(path);
		return kernel_format(path);
	}
	return NULL;
}
