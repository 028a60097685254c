/* raw.c — sparse raw copy (see raw.h). */
#include "formats/container/raw.h"

#include <errno.h>
#include <unistd.h>

#include "builder/base/util.h"
#include "formats/container/scan.h"

int i2k_raw_write(int raw_fd, uint64_t base, uint64_t size, int out_fd, struct i2k_error **err)
{
	if (ftruncate(out_fd, (off_t)size) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "resize");
	struct i2k_scan s;
	if (i2k_scan_init(&s, raw_fd, base, size, err) < 0)
		return -1;
	int r;
	uint64_t off;
	const uint8_t *data;
	while ((r = i2k_scan_next(&s, &off, &data, err)) > 0) {
		uint64_t len = size - off < I2K_SCAN_UNIT ? size - off : I2K_SCAN_UNIT;
		if (i2k_pwrite_all(out_fd, data, (size_t)len, (off_t)off, err) < 0) {
			r = -1;
			break;
		}
	}
	i2k_scan_release(&s);
	return r < 0 ? -1 : 0;
}
