/* ovmf.h — OVMF (UEFI firmware for QEMU) trimmed for `run qemu`: without
 * its TPM probe, without the drivers for what `run qemu` never attaches and
 * without the UEFI shell.
 *
 * Why the TPM probe goes: OVMF's PEI phase runs Tcg2ConfigPei, which looks
 * for a TPM at the TIS/PTP address 0xFED40000. With no TPM device there,
 * QEMU reads that memory as zeroes, which the presence check takes for a
 * TPM; three waits of 750 ms each (TPM 1.2 access request, its burst
 * count, the TPM 2 access request) then run out before OVMF decides there
 * is none. Under TCG that is 2.25 s of a UEFI boot that takes 3 s to
 * reach the boot manager. `run qemu` attaches no TPM, so the PEIM can only
 * ever find none.
 *
 * Why the drivers go: a UEFI disk boot under TCG gets its own variable
 * store, writable, with a boot entry carrying the kernel's TCG words
 * (qemu.h: i2k_qemu_ovmf_vars). On first boot IScsiDxe writes eight
 * iSCSI "Attempt" variables of 1 KiB each through the emulated flash,
 * which made that boot 0.9 s slower to reach the boot manager; with the
 * network stack gone it is as quick as with a read-only store. The rest
 * (TPM DXE drivers, USB, display, NVMe, PS/2 keyboard, virtio-fs) drive
 * devices `run qemu` never gives the guest (-vga none, i8042=off, no USB,
 * the NIC without a boot index or option ROM) and only cost loading; so do
 * the boot logo, the graphics console and the setup screens' forms
 * (Secure Boot, RAM disk, driver health) — the setup browser itself and
 * the boot manager menu (UiApp) stay.
 *
 * Why the files' bytes go too, and the shell: before PEI runs, SEC
 * decompresses the whole LZMA volume, 13.5 MB in Debian's build, at TCG
 * speed. A file that is only made undispatchable is still decompressed on
 * every boot; one whose body is the erase byte compresses to almost
 * nothing. With the bodies blanked and the UEFI shell (0.9 MB; OVMF's
 * fallback boot option, which `run qemu` never uses) gone as well, the
 * compressed volume of Debian's OVMF_CODE_4M.fd is 0.72 MB instead of
 * 1.51 MB, and the web example's UEFI disk reached the boot manager
 * ≈0.1 s and the kernel ≈0.15 s sooner (raw QEMU, TCG, interleaved pairs).
 *
 * The firmware file (OVMF_CODE*.fd) starts with firmware volumes (UEFI PI
 * spec vol. 3): FVMAIN_COMPACT holds one FFS file of type FV_IMAGE whose
 * last section is GUID-defined, LZMA-compressed (EDK2's LZMA section GUID;
 * 13-byte header: properties, dictionary size, LE64 uncompressed size),
 * and that decompresses into the PEI and DXE volumes as FV image sections.
 * The copy:
 *   1. decompresses that section (at most I2K_OVMF_VOLUME_MAX bytes);
 *   2. in every volume found there, changes each PEIM (type 0x06) whose
 *      UI section names it Tcg2ConfigPei or Tcg12ConfigPei, each DXE
 *      driver (type 0x07) and each application (0x09, the shell) of the
 *      lists in ovmf.c, into a FREEFORM file (0x02), which neither PEI nor
 *      DXE dispatches, holding one RAW section of erase bytes in place of
 *      its sections (its name GUID, size and place kept; its checksums
 *      made right); nothing that waits for the PPI the PEIM would
 *      have installed (Tcg2Pei, TcgPei) runs either, and DXE, which reads
 *      the TPM instance it would have set, finds none;
 *   3. compresses the result again (LZMA, preset 6, with the size in the
 *      header and no end marker, as EDK2's own LzmaCompress), checks that
 *      it decompresses to the same bytes, and puts it back in place: the
 *      section and file sizes and the file's checksums follow, and the
 *      volume's free space (its erase-polarity byte) fills up to where the
 *      old file ended. The volume keeps its length, so every other volume
 *      (SECFV with the reset vector) stays at the same offset.
 * Output depends only on the input (LZMA encoding is deterministic).
 */
#ifndef I2K_PROVISION_OVMF_H
#define I2K_PROVISION_OVMF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

#define I2K_OVMF_FILE_MAX (64u << 20)	 /* largest firmware file read */
#define I2K_OVMF_VOLUME_MAX (128u << 20) /* largest decompressed volume */
/* In the cached copy's name: what the copy leaves out changed with it
 * (1: the TPM probe; 2: the unused DXE drivers too; 3: their bytes, more
 * drivers, the shell). */
#define I2K_OVMF_TRIM_VERSION "3"

/* Where the compressed volume lies in a firmware file. */
struct i2k_ovmf_lzma {
	size_t fv_off, fv_end; /* the firmware volume holding it */
	size_t file_off;       /* its FFS file (a 24-byte header: never a large file) */
	size_t sect_off;       /* the GUID-defined section */
	size_t data_off;       /* the LZMA data (header included) */
	size_t data_len;       /* its length, to the end of the section */
	uint64_t raw_len;      /* uncompressed size from the LZMA header */
	uint8_t erase;	       /* the volume's free-space byte (0xFF or 0x00) */
};

/* Finds the LZMA-compressed volume in the firmware file fd[0..len): the
 * first FFS file of type FV_IMAGE, in the volumes from offset 0 on, whose
 * last section is GUID-defined with EDK2's LZMA GUID, and which is the last
 * file of its volume. I2K_ERR_UNSUPPORTED "no LZMA-compressed firmware
 * volume" when there is none (not OVMF, or built otherwise),
 * I2K_ERR_INTEGRITY "firmware volume at 0x…: WHY" for headers or sizes
 * that do not hold together (a bad header checksum included). */
int i2k_ovmf_find_lzma(const uint8_t *fd, size_t len, struct i2k_ovmf_lzma *out,
		       struct i2k_error **err);

/* In the decompressed volume vol[0..len) (a sequence of sections, FV image
 * sections holding firmware volumes; nested ones are searched too), turns
 * every file of the given type — 0x06 (PEIM), 0x07 (DXE driver) or 0x09
 * (application) — whose UI name is in names[0..n) into a FREEFORM file
 * of one RAW section of the volume's erase byte (step 2 above), fixing
 * its checksums. Returns how many were changed (0: none found, vol
 * unchanged), or < 0 with I2K_ERR_INTEGRITY for structure that does not
 * hold together (vol may then be partly changed). */
int i2k_ovmf_disable_files(uint8_t *vol, size_t len, uint8_t type, const char *const *names,
			   size_t n, struct i2k_error **err);

/* The whole transformation (steps 1–3 above) of fd[0..len): *out (the
 * caller's, *outlen == len) is the trimmed firmware.
 * I2K_ERR_UNSUPPORTED when there is nothing to do ("no LZMA-compressed
 * firmware volume", "no TPM-detection PEIM (Tcg2ConfigPei)") or no room
 * ("the recompressed volume does not fit"), I2K_ERR_INTEGRITY for a
 * corrupt file or compressed stream. */
int i2k_ovmf_trim(const uint8_t *fd, size_t len, uint8_t **out, size_t *outlen,
		  struct i2k_error **err);

/* The trimmed copy of the firmware file code, from
 * cache_dir/ovmf/<sha256 of code>.<I2K_OVMF_TRIM_VERSION>.fd, or made there
 * now (written atomically). A firmware that cannot be changed gets
 * cache_dir/ovmf/<sha256>.<version>.no (one line: why) so that later runs do not
 * decompress it again to find out; making a copy removes what other
 * versions of it left for that firmware (HEX.fd, HEX.no, HEX.V.*). Returns
 * 0 with *path (the caller's), or
 * < 0 with *path NULL and the reason in err: the caller then boots the
 * file as it is. *hit (may be NULL) says whether the cache answered. A
 * cached copy is used only when it has the original's size and its
 * compressed volume is where the parser finds one. */
int i2k_ovmf_trimmed(const char *code, const char *cache_dir, char **path, bool *hit,
		     struct i2k_error **err);

/* Disk use of cache_dir/ovmf/ for `cache ls`: *copies = firmware copies,
 * *stores = packed variable stores (efivars.h: .vars), *bytes = every
 * file there. An absent directory is 0, 0 and 0. */
void i2k_ovmf_usage(const char *cache_dir, size_t *copies, size_t *stores, uint64_t *bytes);
#endif
