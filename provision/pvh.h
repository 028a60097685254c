/* pvh.h — boot a bzImage's own vmlinux through its PVH entry point.
 *
 * An x86 bzImage carries the kernel proper as a compressed ELF (the
 * "payload", located by the boot protocol header: setup_sects at 0x1F1,
 * payload_offset at 0x248 and payload_length at 0x24C, both relative to the
 * protected-mode code at (setup_sects + 1) * 512). When that ELF has a Xen
 * PVH entry note (owner "Xen", type XEN_ELFNOTE_PHYS32_ENTRY = 18, a 32- or
 * 64-bit physical address; CONFIG_PVH=y), QEMU can load it with -kernel and
 * jump straight to the kernel: no decompressor runs in the guest (faster
 * under TCG) and the guest needs no room for the decompressor's init_size.
 *
 * Payload codecs: gzip, LZ4 (legacy frame, magic 02 21 4C 18, blocks of
 * LE32 length + LZ4 block), zstd and xz; the kernel's build appends the
 * uncompressed size as LE32 to all but gzip (whose trailer has it), and
 * the output must have exactly that size. bzip2, LZMA and LZO payloads are
 * not supported (I2K_ERR_UNSUPPORTED).
 *
 * The extracted ELF is cached: DIR/pvh/<sha256 of the bzImage>.elf, written
 * atomically (builder/base/util.h i2k_write_file_atomic), so neither an
 * interrupted nor a failed extraction leaves a file that a later run takes
 * as complete; a kernel that has no usable PVH payload gets
 * DIR/pvh/<sha256>.no (one line: why) so that later runs do not decompress
 * it again to find out. A cached ELF is checked before use (ELF header,
 * program headers within the file, PVH note present). A changed kernel file
 * has another hash and so another entry; nothing is ever updated in place.
 * So that a run need not read and hash the kernel each time,
 * DIR/pvh/stat-<sha256 of the file's device, inode, size, mtime and ctime>
 * names the content digest last read from that very file (written only when
 * the file did not change while it was read): any write to the kernel or
 * its replacement changes ctime or inode, and so that name.
 */
#ifndef I2K_PROVISION_PVH_H
#define I2K_PROVISION_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

enum i2k_pvh_codec {
	I2K_PVH_GZIP,
	I2K_PVH_LZ4,
	I2K_PVH_ZSTD,
	I2K_PVH_XZ,
	I2K_PVH_BZIP2, /* recognised, not supported */
	I2K_PVH_LZMA,  /* recognised, not supported */
	I2K_PVH_LZO,   /* recognised, not supported */
	I2K_PVH_UNKNOWN,
};

/* Largest bzImage read (bytes) and largest vmlinux extracted. */
#define I2K_PVH_KERNEL_MAX (256u << 20)
#define I2K_PVH_ELF_MAX (1024u << 20)

struct i2k_pvh_payload {
	size_t offset, length;	  /* of the compressed payload, in the bzImage */
	enum i2k_pvh_codec codec; /* from the payload's magic */
	uint32_t init_size;	  /* the header's init_size (0x260), for diagnostics */
};

/* "gzip", "lz4", "zstd", "xz", "bzip2", "lzma", "lzo", "unknown". */
const char *i2k_pvh_codec_name(enum i2k_pvh_codec c);

/* Locates the payload of the bzImage in buf[0..len). I2K_ERR_CONFIG "not a
 * bzImage: ..." (kernel/kernel.h), I2K_ERR_UNSUPPORTED "boot protocol X.YY
 * has no payload fields (2.08 or later needed)" or "no payload
 * (payload_length is 0)", I2K_ERR_INTEGRITY "payload (offset O, length L)
 * lies outside the N-byte image". */
int i2k_pvh_payload_find(const void *buf, size_t len, struct i2k_pvh_payload *out,
			 struct i2k_error **err);

/* Decompresses a payload of codec c into a new buffer (*out, the caller's;
 * *outlen bytes). The result is at most max bytes and exactly the size the
 * payload's trailer states. I2K_ERR_UNSUPPORTED for bzip2/LZMA/LZO/unknown,
 * I2K_ERR_INTEGRITY "CODEC payload: WHY" for a corrupt or truncated one. */
int i2k_pvh_decompress(enum i2k_pvh_codec c, const void *in, size_t inlen, size_t max,
		       uint8_t **out, size_t *outlen, struct i2k_error **err);

/* Checks that elf[0..len) is an ELF32/ELF64 little-endian x86 executable
 * whose program headers lie inside it (PT_LOAD file ranges included) and
 * that one of its PT_NOTE segments holds the PVH entry note; *entry (may be
 * NULL) gets its address. I2K_ERR_UNSUPPORTED "no PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY)" when the ELF is fine but has none;
 * I2K_ERR_INTEGRITY "not an ELF…"/"…outside the file" otherwise. */
int i2k_pvh_elf_check(const void *elf, size_t len, uint64_t *entry, struct i2k_error **err);

/* Same for an ELF file, reading only its headers and notes (a few pread
 * calls): the check a cached file passes before it is used. */
int i2k_pvh_elf_check_file(const char *path, uint64_t *entry, struct i2k_error **err);

/* The PVH ELF for the bzImage at kernel, from cache_dir/pvh/ (created if
 * needed) or extracted there now. Returns 0 with *elf_path (the caller's)
 * set, or < 0 with *elf_path NULL and the reason in err when the kernel
 * cannot be booted that way (no payload, no note, unsupported codec,
 * corrupt payload, I/O error): the caller then boots the bzImage. *hit
 * (may be NULL) tells whether the cache answered (an ELF or a remembered
 * "no"). */
int i2k_pvh_kernel(const char *kernel, const char *cache_dir, char **elf_path, bool *hit,
		   struct i2k_error **err);

/* Disk use of cache_dir/pvh/ for `cache ls`: *kernels = extracted ELFs,
 * *bytes = every file there (ELFs, ".no" and stat- index files). An absent
 * directory is 0 and 0. */
void i2k_pvh_usage(const char *cache_dir, size_t *kernels, uint64_t *bytes);

#endif
