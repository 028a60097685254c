/* images.h — the disk formats by name: each is a recipe over the pieces in
 * formats/ (fs writers, partition tables, boot code, containers):
 *
 *   raw-bios     NAME-bios.img   isohybrid ISO9660 + isolinux (BIOS), as a raw disk
 *   iso-bios     NAME.iso        the same image, as an ISO (boots from CD or disk)
 *   qcow2-bios   NAME.qcow2      raw-bios in qcow2
 *   vhd          NAME.vhd        raw-bios in a fixed VHD
 *   dynamic-vhd  NAME.vhd        raw-bios in a dynamic VHD
 *   raw-efi      NAME-efi.img    GPT: FAT32 ESP with a UKI at \\EFI\\BOOT\\BOOTX64.EFI
 *                                [+ root partition with --root squashfs|ext4]
 *   qcow2-efi    NAME-efi.qcow2  raw-efi in qcow2
 *   aws          NAME.raw        raw-efi for EC2 (UEFI, NVMe root, ENA module kept)
 *   iso-efi      NAME-efi.iso    ISO9660 with an El Torito EFI entry (FAT image with the UKI)
 *   kernel+squashfs  NAME-kernel, NAME-initrd.img (first stage), NAME-squashfs.img,
 *                NAME-cmdline (root on the first virtio disk)
 *
 * Root modes (--root): initramfs (default: the whole root is the initrd, as
 * LinuxKit), squashfs (read-only root partition) or ext4 (writable root
 * partition, sized automatically with headroom or filling --size). With a
 * disk root the initrd is the first stage (formats/roots.h) and the
 * command line gains i2kit.root=PARTUUID=... i2kit.rootfstype=TYPE.
 * BIOS formats support the initramfs root only.
 *
 * Every output is written to a temporary name and renamed when complete;
 * --size too small fails before anything is written. GUIDs, volume ids
 * and serials are derived from the image's content: outputs are
 * byte-identical for the same inputs.
 */
#ifndef I2K_FORMATS_IMAGES_H
#define I2K_FORMATS_IMAGES_H

#include <stdbool.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "formats/outputs.h"

/* True for the names above. */
bool i2k_image_format_known(const char *format);
/* Writes one disk format (root already finalized by the caller or not:
 * this finalizes what it needs). Appends the files to res. */
int i2k_image_format_write(const char *format, struct i2k_fstree *root,
			   const struct i2k_output_opts *o, struct i2k_output_result *res,
			   struct i2k_error **err);

#endif
