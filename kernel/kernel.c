/* kernel.c — bzImage setup-header parsing (contract in kernel.h). */
#include "kernel/kernel.h"
#include "builder/base/bytes.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define OFF_SETUP_SECTS 0x1F1
#define OFF_BOOT_FLAG 0x1FE
#define OFF_HEADER 0x202
#define OFF_VERSION 0x206
#define OFF_KERNEL_VERSION 0x20E
#define OFF_LOADFLAGS 0x211
#define MIN_LEN 0x250
#define LOADED_HIGH 0x01

int i2k_kernel_info_buf(const void *buf, size_t len, struct i2k_kernel_info *info,
			struct i2k_error **err)
{
	const unsigned char *p = buf;
	memset(info, 0, sizeof(*info));
	if (len < MIN_LEN)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "not a bzImage: only %zu bytes (a boot header needs %d)", len,
				     MIN_LEN);
	if (memcmp(p + OFF_HEADER, "HdrS", 4) != 0)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "not a bzImage: no \"HdrS\" magic at offset 0x202");
	if (i2k_get_le16(p + OFF_BOOT_FLAG) != 0xAA55)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "not a bzImage: boot flag is 0x%04x, not 0xaa55",
				     i2k_get_le16(p + OFF_BOOT_FLAG));
	info->protocol = i2k_get_le16(p + OFF_VERSION);
	if (info->protocol < 0x0200)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "not a bzImage: boot protocol %u.%02u is older than 2.00",
				     info->protocol >> 8, info->protocol & 0xff);
	if ((p[OFF_LOADFLAGS] & LOADED_HIGH) == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "not a bzImage: a zImage (loaded low; LOADED_HIGH not set)");
	info->setup_sects = p[OFF_SETUP_SECTS] ? p[OFF_SETUP_SECTS] : 4;
	info->is_bzimage = true;
	uint16_t kv = i2k_get_le16(p + OFF_KERNEL_VERSION);
	if (kv != 0 && (size_t)kv + 0x200 < len) {
		size_t start = (size_t)kv + 0x200, n = 0;
		while (start + n < len && p[start + n] != '\0' && n < I2K_KERNEL_VERSION_MAX - 1) {
			unsigned char ch = p[start + n];
			info->version[n] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
			n++;
		}
		info->version[n] = '\0';
		size_t r = strcspn(info->version, " ");
		memcpy(info->release, info->version, r);
		info->release[r] = '\0';
	}
	return 0;
}

int i2k_kernel_info_fd(int fd, uint64_t off, struct i2k_kernel_info *info, struct i2k_error **err)
{
	_cleanup_free_ unsigned char *buf = i2k_xmalloc(I2K_KERNEL_HEAD_MAX);
	size_t got = 0;
	while (got < I2K_KERNEL_HEAD_MAX) {
		ssize_t n = pread(fd, buf + got, I2K_KERNEL_HEAD_MAX - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return i2k_error_errno(err, errno, I2K_ERR_IO, "reading kernel image");
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return i2k_kernel_info_buf(buf, got, info, err);
}
