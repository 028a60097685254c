/* uki.h — unified kernel images: systemd's EFI stub + kernel + initrd +
 * command line in one PE/COFF file that UEFI firmware boots directly
 * (\EFI\BOOT\BOOTX64.EFI on an ESP).
 *
 * The stub (systemd-boot-efi: linuxx64.efi.stub) is read as data and
 * extended the way `objcopy --add-section` / ukify do it:
 *   - DOS header ("MZ", e_lfanew), "PE\0\0", COFF header, PE32+ optional
 *     header (magic 0x20B), section table are parsed and bounds-checked;
 *   - new sections, in this order: .osrel (if given), .cmdline (if given),
 *     .initrd (if non-empty), .linux — the kernel last, as ukify places it —
 *     each at the next 4 KiB-aligned (and SectionAlignment-aligned) RVA
 *     after the previous section, at a FileAlignment-aligned file offset,
 *     VirtualSize = the exact content size, SizeOfRawData rounded up to
 *     FileAlignment, characteristics 0x40000040 (initialized data, read);
 *   - the headers are patched: NumberOfSections, SizeOfImage,
 *     SizeOfInitializedData (+ the new raw sizes), CheckSum = 0, the COFF
 *     symbol table pointer/count = 0 and the certificate table = empty
 *     (whatever followed the stub's last section — symbols, a signature —
 *     is dropped: it would be invalid anyway).
 * The new section headers must fit in the stub's header area (before
 * SizeOfHeaders and the first section's data), else I2K_ERR_UNSUPPORTED
 * "STUB: no room for N more section headers".
 *
 * Errors: I2K_ERR_NOTFOUND "EFI stub STUB: ..." when it cannot be read;
 * I2K_ERR_CONFIG "EFI stub STUB: not a PE/COFF file: WHY" (WHY: "no MZ
 * header", "bad PE header offset", "no PE signature", "not PE32+",
 * "section table out of bounds", "section data out of bounds", "bad
 * alignment"); I2K_ERR_CONFIG "EFI stub STUB already has a .linux
 * section"; I2K_ERR_CONFIG "UKI: the kernel is empty"; read errors of the
 * inputs as I2K_ERR_IO (wrapped "reading the kernel" / "reading the
 * initrd"). Output is deterministic: same inputs → same bytes.
 */
#ifndef I2K_KERNEL_UKI_H
#define I2K_KERNEL_UKI_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/spool.h"

#define I2K_UKI_DEFAULT_STUB "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"
#define I2K_UKI_STUB_MAX (32u << 20) /* bytes read of a stub at most */
#define I2K_UKI_MAX_SECTIONS 96	     /* stub sections + ours */

/* A byte range of an open file (read with pread; the fd is borrowed). */
struct i2k_uki_input {
	int fd;
	uint64_t off, size;
};

struct i2k_uki_opts {
	/* NULL or "" → I2K_UKI_DEFAULT_STUB (the CLI reads $I2KIT_EFI_STUB). */
	const char *stub_path;
	struct i2k_uki_input kernel; /* bzImage, required (size > 0) */
	struct i2k_uki_input initrd; /* size 0 → no .initrd section */
	const char *cmdline;	     /* NULL or "" → no .cmdline section */
	const char *osrel;	     /* os-release text; NULL → no .osrel section */
};

/* One section of the result, as `objdump -h` lists it. */
struct i2k_uki_section {
	char name[9];
	uint32_t rva, vsize; /* objdump "VMA" (ImageBase 0) and "Size" */
	uint32_t file_off, raw_size;
};

struct i2k_uki_layout {
	size_t n; /* all sections, the stub's first */
	struct i2k_uki_section s[I2K_UKI_MAX_SECTIONS];
	uint64_t size; /* bytes of the UKI file */
	uint32_t size_of_image;
};

/* Same write contract as initrd/compress.h's i2k_write_fn (so an
 * i2k_ostream's write/ctx pair can be passed as is). */
typedef int (*i2k_uki_write_fn)(void *ctx, const void *buf, size_t len, struct i2k_error **err);

/* The stub path opts->stub_path resolves to (see above). */
const char *i2k_uki_stub_path(const char *stub_path);

/* Builds the UKI and streams it, in order, to write(ctx, ...). *layout
 * (optional) receives the section table of the result. Reads the kernel
 * and initrd once, in bounded chunks. */
int i2k_uki_build(const struct i2k_uki_opts *o, i2k_uki_write_fn write, void *ctx,
		  struct i2k_uki_layout *layout, struct i2k_error **err);

/* Convenience: builds the UKI as a new extent of spool (for an fstree
 * entry: i2k_fstree_add(tree, "EFI/BOOT/BOOTX64.EFI", ..., *off, *size)). */
int i2k_uki_build_spool(const struct i2k_uki_opts *o, struct i2k_spool *spool, uint64_t *off,
			uint64_t *size, struct i2k_error **err);

#endif
