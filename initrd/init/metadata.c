/* metadata.c — copy fw_cfg opt/i2kit/data to /run/config/data (see
 * metadata.h). libc only; never exits. */
#include "metadata.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int i2ki_metadata_copy(const char *src, const char *dir, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		if (errno == ENOENT)
			return 1;
		i2ki_log_errno("metadata: %s", src);
		return -1;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		i2ki_log_errno("metadata: mkdir %s", dir);
		close(in);
		return -1;
	}
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= sizeof(tmp)) {
		i2ki_log_warn("metadata: %s: path too long", dst);
		close(in);
		return -1;
	}
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		i2ki_log_errno("metadata: %s", tmp);
		close(in);
		return -1;
	}
	char buf[16384];
	unsigned long total = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			i2ki_log_errno("metadata: reading %s", src);
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		total += (unsigned long)n;
		if (total > METADATA_MAX) {
			i2ki_log_warn("metadata: %s is larger than %u bytes; ignored", src,
				      METADATA_MAX);
			rc = -1;
			break;
		}
		if (i2ki_write_all(out, buf, (unsigned long)n) < 0) {
			i2ki_log_errno("metadata: writing %s", tmp);
			rc = -1;
			break;
		}
	}
	close(in);
	if (close(out) < 0 && rc == 0) {
		i2ki_log_errno("metadata: writing %s", tmp);
		rc = -1;
	}
	if (rc == 0 && rename(tmp, dst) < 0) {
		i2ki_log_errno("metadata: rename %s", dst);
		rc = -1;
	}
	if (rc < 0) {
		unlink(tmp);
		return -1;
	}
	i2ki_log_info("metadata: %lu bytes in %s", total, dst);
	return 0;
}

void i2ki_metadata_fetch(void)
{
	if (i2ki_metadata_copy(METADATA_FW_CFG, METADATA_DIR, METADATA_FILE) == 1)
		i2ki_log_debug("metadata: no fw_cfg opt/i2kit/data");
}
