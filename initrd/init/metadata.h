/* metadata.h — the guest side of `i2kit run qemu --data FILE`.
 *
 * QEMU passes the file as fw_cfg item "opt/i2kit/data"; with the
 * qemu_fw_cfg module loaded and /sys mounted the kernel shows it as
 * /sys/firmware/qemu_fw_cfg/by_name/opt/i2kit/data/raw. i2ki_metadata_fetch
 * copies it to /run/config/data (mode 0644; /run/config is created 0755),
 * the place LinuxKit's metadata package uses, so containers can bind-mount
 * /run/config. At most 16 MiB are copied; the file appears whole or not at
 * all (written to a temporary name, then renamed).
 *
 * Call after /sys and /run are mounted and modules are loaded. Never fails
 * hard: no fw_cfg item is normal (one debug line), other problems are
 * logged as "i2kit-init: metadata: ..." and the boot goes on.
 */
#ifndef I2K_INITRD_INIT_METADATA_H
#define I2K_INITRD_INIT_METADATA_H

#define METADATA_FW_CFG "/sys/firmware/qemu_fw_cfg/by_name/opt/i2kit/data/raw"
#define METADATA_DIR "/run/config"
#define METADATA_FILE "/run/config/data"
#define METADATA_MAX (16u << 20)

void i2ki_metadata_fetch(void);

/* The same with explicit paths (src file, destination dir and file), for
 * tests. Returns 0 when copied, 1 when src does not exist, -1 on error
 * (logged). */
int i2ki_metadata_copy(const char *src, const char *dir, const char *dst);

#endif
