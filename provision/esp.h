/* esp.h — the EFI system partition of a disk image, and the kernel command
 * line of the unified kernel image it boots.
 *
 * `aws push` asks whether a disk boots with UEFI (it has an ESP);
 * `run qemu` reads the command line of \EFI\BOOT\BOOTX64.EFI to give the
 * firmware a boot entry with that line and its TCG words (efivars.h).
 *
 * The disk is read through formats/container/reader.h (raw, qcow2, VHD),
 * and is untrusted: every offset and size is checked against the disk,
 * the partition and the file before use.
 *   GPT: the header at LBA 1 (512-byte sectors), at most
 *        I2K_ESP_GPT_ENTRIES entries of 128..4096 bytes; the ESP is the
 *        first entry with type C12A7328-F81F-11D2-BA4B-00A0C93EC93B.
 *   FAT: FAT12/16/32 by cluster count (Microsoft's FAT specification),
 *        512..4096-byte sectors, the first FAT read whole (at most
 *        I2K_ESP_FAT_MAX bytes); directories searched by their 8.3 names
 *        (long-name entries skipped); cluster chains followed with a bound
 *        on their length.
 *   PE:  the section table of the loader; .cmdline is systemd-stub's
 *        section for the kernel command line (at most I2K_ESP_CMDLINE_MAX
 *        bytes; it ends at its first NUL; trailing white space dropped).
 */
#ifndef I2K_PROVISION_ESP_H
#define I2K_PROVISION_ESP_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "formats/container/reader.h"

#define I2K_ESP_GPT_ENTRIES 1024u
#define I2K_ESP_FAT_MAX (16u << 20)
#define I2K_ESP_CMDLINE_MAX 4096u
#define I2K_ESP_LOADER "\\EFI\\BOOT\\BOOTX64.EFI"

/* A GPT partition. */
struct i2k_esp {
	uint32_t number;    /* 1-based, as the GPT entry's index + 1 */
	uint64_t first_lba; /* in 512-byte sectors */
	uint64_t sectors;   /* last LBA - first LBA + 1 */
	uint8_t unique[16]; /* the unique partition GUID, as stored (mixed endian) */
};

/* The disk's first EFI system partition: 1 with *out, 0 when the disk has
 * no GPT that holds together (bad signature, entries outside the disk,
 * entry size or count out of bounds) or no ESP in it; < 0 for a read
 * error. */
int i2k_esp_find(struct i2k_disk_reader *r, struct i2k_esp *out, struct i2k_error **err);

/* The ESP of the disk image at path and the command line of its
 * I2K_ESP_LOADER: 0 with *esp and *cmdline (the caller's, ASCII). Errors:
 * I2K_ERR_UNSUPPORTED "no EFI system partition" / "ESP: not a FAT file
 * system" / "ESP: no \EFI\BOOT\BOOTX64.EFI" / "BOOTX64.EFI: no .cmdline
 * section (not a unified kernel image)" / "BOOTX64.EFI: .cmdline: not
 * printable ASCII"; I2K_ERR_INTEGRITY "ESP: WHAT" for a file system or
 * loader whose sizes and links do not hold together; the reader's own
 * errors. */
int i2k_esp_uki_cmdline(const char *path, struct i2k_esp *esp, char **cmdline,
			struct i2k_error **err);

#endif
