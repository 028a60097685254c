/* raw.c — sparse raw copy (see raw.h). */
#include "formats/container/raw.h"

#include "builder/base/util.h"
#include "formats/container/scan.h"

int i2k_raw_write(int raw_fd, uint64_t base, uint64_t size, struct i2k_sink *out,
		  struct i2k_error **err)
{
	struct i2k_scan s;
	if (i2k_scan_init(&s, raw_fd, base, size, err) < 0)
		return -1;
	int r;
	uint64_t off;
	const uint8_t *data;
	uint64_t at = 0; /* everything before is written or zeroed */
	while ((r = i2k_scan_next(&s, &off, &data, err)) > 0) {
		uint64_t len = size - off < I2K_SCAN_UNIT ? size - off : I2K_SCAN_UNIT;
		if ((off > at && i2k_sink_zero(out, at, off - at, err) < 0) ||
		    i2k_sink_write_at(out, off, data, (size_t)len, err) < 0) {
			r = -1;
			break;
		}
		at = off + len;
	}
	i2k_scan_release(&s);
	if (r == 0 && size > at)
		r = i2k_sink_zero(out, at, size - at, err);
	return r < 0 ? -1 : 0;
}
