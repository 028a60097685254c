/* qemu_disk.h — `i2kit run qemu --disk SPEC` and the firmware sniffing of
 * disk images given under a name no format writes.
 *
 * SPEC is FILE (attached as is; format from the extension: .qcow2 → qcow2,
 * .vhd → vpc, else raw) or comma-separated key=value pairs as linuxkit's
 * -disk: file=F, size=S (bytes, or with a K/M/G/T suffix, powers of 1024),
 * format=qcow2|raw. With size= a missing file is created (qcow2 through
 * formats/container's qcow2 writer, raw as a sparse file; no qemu-img);
 * without file= it is STATE/disk0.FORMAT (format defaults to qcow2). An
 * existing file is attached as it is (its size is not changed).
 */
#ifndef I2K_PROVISION_QEMU_DISK_H
#define I2K_PROVISION_QEMU_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"

struct i2k_qemu_disk {
	char *file;	    /* NULL → STATE/disk0.FORMAT (set by i2k_qemu_disk_ensure) */
	uint64_t size;	    /* 0 → do not create */
	const char *format; /* "qcow2", "raw" or "vpc" (static) */
};

/* Parses SPEC. I2K_ERR_USAGE "--disk \"SPEC\": ..." for an unknown key, a
 * bad size or format, or key=value pairs without file= and size=. */
int i2k_qemu_disk_parse(const char *spec, struct i2k_qemu_disk *out, struct i2k_error **err);
/* Creates d->file (d->file NULL → STATE/disk0.FORMAT) when it does not
 * exist and d->size is set; I2K_ERR_NOTFOUND "--disk F: no such file (give
 * size= to create it)" when it does not exist and no size is given. */
int i2k_qemu_disk_ensure(struct i2k_qemu_disk *d, const char *state, bool *created,
			 struct i2k_error **err);
void i2k_qemu_disk_clear(struct i2k_qemu_disk *d);

/* "1G", "512M", "4096" → bytes; -1 for anything else (0, overflow). */
int i2k_qemu_parse_size(const char *s, uint64_t *out);

/* True when the file starts with a protective MBR whose boot code area
 * (bytes 0..439) is all zero and a GPT (LBA 1, 512-byte sectors) that holds
 * an EFI system partition inside the disk (provision/esp.h: i2k_esp_find):
 * a disk only UEFI can boot. */
bool i2k_qemu_disk_uefi_only(const char *path);

#endif
