/* efivars.h — an OVMF variable store with one boot entry, so that `run
 * qemu` can boot a UEFI disk with words added to its kernel command line.
 *
 * Why: a unified kernel image carries its command line in its .cmdline
 * section, and `run qemu` cannot add the TCG words (qemu.h) to it as it
 * does for a kernel+initrd boot — 0.4 s of kernel time under TCG (tracefs'
 * eval maps, LAPIC timer calibration, crypto self-tests). systemd-stub
 * (Debian 12: systemd 252) boots with the load options the firmware passes
 * to the image in place of .cmdline when Secure Boot is off, and OVMF
 * passes a boot entry's optional data as load options; a disk the boot
 * manager finds by itself ("UEFI Misc Device") gets none. So the store
 * gets Boot0080, naming the disk's loader, whose optional data is the
 * disk's own command line and the words, and BootOrder 0080.
 *
 * The store file (OVMF_VARS*.fd, as EDK2 lays it out): a firmware volume
 * (EFI_FIRMWARE_VOLUME_HEADER; file system GUID gEfiSystemNvDataFvGuid
 * FFF12B8D-7696-4C8B-A985-2747075B4F50) whose data starts with a
 * VARIABLE_STORE_HEADER (gEfiAuthenticatedVariableGuid
 * AAF32C78-947B-439A-A180-2E144EC37792, LE32 size from the header's start,
 * format 0x5A, state 0xFE), then the variables, each an
 * AUTHENTICATED_VARIABLE_HEADER (60 bytes: LE16 start id 0x55AA, state,
 * reserved, LE32 attributes, LE64 monotonic count, EFI_TIME, LE32 public
 * key index, LE32 name size, LE32 data size, vendor GUID), the UCS-2 name
 * with its NUL, the data, and the next header at a 4-byte boundary; then
 * 0xFF to the store's end. A variable whose state is 0x3F is live; one
 * with 0x3C has been replaced.
 *
 * A boot entry (UEFI spec 3.1.3, EFI_LOAD_OPTION): LE32 attributes
 * (LOAD_OPTION_ACTIVE), LE16 device-path length, the UCS-2 description
 * with its NUL, the device path, the optional data. The device path is
 * the short form efibootmgr writes: HD(partition, GPT, unique GUID, first
 * LBA, sectors)/File(loader)/End, which the boot manager completes by
 * finding the partition with that GUID.
 */
#ifndef I2K_PROVISION_EFIVARS_H
#define I2K_PROVISION_EFIVARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "provision/esp.h"

#define I2K_EFIVARS_BOOT_NUM 0x0080u
#define I2K_EFIVARS_FILE_MAX (8u << 20) /* largest store file read */

/* The EFI_LOAD_OPTION for the loader (a path such as I2K_ESP_LOADER) on
 * the partition esp, described as description, with options (printable
 * ASCII) as its optional data in UCS-2 without a terminator. Caller frees;
 * *len is its length. */
uint8_t *i2k_efivars_load_option(const struct i2k_esp *esp, const char *loader,
				 const char *description, const char *options, size_t *len);

/* In the store file's bytes st[0..len): marks live variables of the global
 * vendor (8BE4DF61-93CA-11D2-AA0D-00E098032B8C) named Boot<num> (4 hex
 * digits, upper case) or BootOrder replaced, and appends Boot<num> with
 * the data opt[0..optlen) and BootOrder = { num }, both non-volatile,
 * boot-service and runtime. I2K_ERR_UNSUPPORTED "not an OVMF variable
 * store: WHY" for a file laid out otherwise (another volume, a store that
 * is not authenticated or not formatted and healthy); I2K_ERR_INTEGRITY
 * "variable store: WHY" for variables that run past the store;
 * I2K_ERR_UNSUPPORTED "variable store full" when the two do not fit. */
int i2k_efivars_add_boot(uint8_t *st, size_t len, uint16_t num, const uint8_t *opt, size_t optlen,
			 struct i2k_error **err);

/* A store to start the next runs from: the live variables (state 0x3F) of
 * run[0..len) — a store OVMF has booted with — but for the global
 * Boot<num> and BootOrder, packed from the store's start; everything else
 * (the volume header, the fault-tolerant-write areas after the store) is
 * template[0..len)'s, which must have the same layout. *out is the
 * caller's (len bytes). *booted: a live MemoryTypeInformation is among
 * them, which OVMF's boot manager writes just before it starts a boot
 * option — so the firmware got that far and wrote its first-boot
 * variables. Why: OVMF skips writing a variable whose value is unchanged,
 * and every write to the emulated flash costs QEMU a switch of the flash
 * out of and back into ROM mode; a fresh store gets about 60 writes on
 * its first boot (0.3-0.4 s to the boot manager under TCG), a store
 * packed from a booted one a handful. Errors as i2k_efivars_add_boot. */
int i2k_efivars_compact(const uint8_t *run, const uint8_t *template, size_t len, uint16_t num,
			uint8_t **out, bool *booted, struct i2k_error **err);

/* Where a packed store (above) for the trimmed firmware code_copy
 * (CACHE/ovmf/SHA.VERSION.fd, ovmf.h) and the store file template lives:
 * CACHE/ovmf/SHA.VERSION.<first 16 hex digits of template's SHA-256>.vars.
 * NULL when template cannot be read. Caller frees. */
char *i2k_efivars_warm_path(const char *code_copy, const char *template);

/* The run's store run_path packed (i2k_efivars_compact) into warm_path,
 * atomically, when the firmware booted with it; 1 when written, 0 when
 * not (not booted), < 0 on errors. */
int i2k_efivars_save_warm(const char *run_path, const char *template, const char *warm_path,
			  struct i2k_error **err);

/* Reads the store file template, adds the boot entry Boot<num> with
 * options to it (above) and writes the result to path (mode 0600,
 * atomically). */
int i2k_efivars_write(const char *template, const char *path, uint16_t num, const uint8_t *opt,
		      size_t optlen, struct i2k_error **err);

#endif
