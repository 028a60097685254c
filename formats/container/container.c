/* container.c — dispatch to the raw/qcow2/VHD writers around an atomic
 * output file (see container.h). */
#include "formats/container/container.h"

#include <string.h>

#include "builder/base/util.h"
#include "formats/container/qcow2.h"
#include "formats/container/raw.h"
#include "formats/container/vhd.h"

static const char *const names[] = {
    [I2K_CONTAINER_RAW] = "raw",
    [I2K_CONTAINER_QCOW2] = "qcow2",
    [I2K_CONTAINER_VHD_FIXED] = "vhd",
    [I2K_CONTAINER_VHD_DYNAMIC] = "dynamic-vhd",
};

int i2k_container_kind_from_name(const char *name, enum i2k_container_kind *out,
				 struct i2k_error **err)
{
	for (size_t i = 0; name && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum i2k_container_kind)i;
			return 0;
		}
	}
	return i2k_error_set(
	    err, I2K_ERR_USAGE,
	    "unknown disk container \"%s\" (expected raw, qcow2, vhd or dynamic-vhd)",
	    name ? name : "(null)");
}

const char *i2k_container_kind_name(enum i2k_container_kind kind)
{
	if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[kind];
}

uint64_t i2k_container_round_size(enum i2k_container_kind kind, uint64_t size)
{
	if (kind == I2K_CONTAINER_VHD_FIXED || kind == I2K_CONTAINER_VHD_DYNAMIC)
		return i2k_vhd_round_size(size);
	return (size + 511) / 512 * 512;
}

static int write_kind(enum i2k_container_kind kind, int raw_fd, uint64_t base, uint64_t size,
		      int out_fd, const struct i2k_container_opts *o, struct i2k_error **err)
{
	if (size == 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "empty disk");
	const uint8_t *seed = o && o->has_uuid_seed ? o->uuid_seed : NULL;
	switch (kind) {
	case I2K_CONTAINER_RAW:
		return i2k_raw_write(raw_fd, base, size, out_fd, err);
	case I2K_CONTAINER_QCOW2:
		return i2k_qcow2_write(raw_fd, base, size, out_fd, err);
	case I2K_CONTAINER_VHD_FIXED:
	case I2K_CONTAINER_VHD_DYNAMIC:
		if (size % 512)
			return i2k_error_set(err, I2K_ERR_USAGE,
					     "disk size %llu is not a multiple of 512 bytes",
					     (unsigned long long)size);
		return i2k_vhd_write(raw_fd, base, size, kind == I2K_CONTAINER_VHD_DYNAMIC, seed,
				     out_fd, err);
	}
	return i2k_error_set(err, I2K_ERR_USAGE, "unknown disk container kind %d", (int)kind);
}

static int write_at(enum i2k_container_kind kind, int raw_fd, uint64_t base, uint64_t size,
		    const char *out_path, const struct i2k_container_opts *o,
		    struct i2k_error **err)
{
	struct i2k_atomic_file af;
	if (i2k_atomic_open(&af, out_path, 0644, err) < 0)
		return -1;
	if (write_kind(kind, raw_fd, base, size, af.fd, o, err) < 0) {
		i2k_atomic_abort(&af);
		return i2k_error_wrap(err, "writing %s", out_path);
	}
	if (i2k_atomic_commit(&af, err) < 0)
		return i2k_error_wrap(err, "writing %s", out_path);
	return 0;
}

int i2k_container_write(enum i2k_container_kind kind, int raw_fd, uint64_t raw_size,
			const char *out_path, const struct i2k_container_opts *o,
			struct i2k_error **err)
{
	return write_at(kind, raw_fd, 0, raw_size, out_path, o, err);
}

int i2k_container_write_sink(enum i2k_container_kind kind, struct i2k_sink *raw,
			     const char *out_path, const struct i2k_container_opts *o,
			     struct i2k_error **err)
{
	uint64_t base = 0;
	int fd = i2k_sink_fd(raw, &base);
	if (fd < 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s is not a file sink",
				     raw->name ? raw->name : "sink");
	return write_at(kind, fd, base, raw->size, out_path, o, err);
}
