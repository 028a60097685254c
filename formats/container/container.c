/* container.c — dispatch to the raw/qcow2/VHD writers around an atomic
 * output file (see container.h). */
#include "formats/container/container.h"

#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/output.h"
#include "formats/container/qcow2.h"
#include "formats/container/raw.h"
#include "formats/container/gcp.h"
#include "formats/container/vhd.h"
#include "formats/container/vmdk.h"

static const char *const names[] = {
    [I2K_CONTAINER_RAW] = "raw",       [I2K_CONTAINER_QCOW2] = "qcow2",
    [I2K_CONTAINER_VHD_FIXED] = "vhd", [I2K_CONTAINER_VHD_DYNAMIC] = "dynamic-vhd",
    [I2K_CONTAINER_VMDK] = "vmdk",     [I2K_CONTAINER_GCP] = "gcp",
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
	    "unknown disk container \"%s\" (expected raw, qcow2, vhd, dynamic-vhd, vmdk or gcp)",
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
	if (kind == I2K_CONTAINER_GCP)
		return i2k_gcp_round_size(size);
	return (size + 511) / 512 * 512;
}

int i2k_container_write(enum i2k_container_kind kind, struct i2k_sink *raw, struct i2k_sink *out,
			const struct i2k_container_opts *o, struct i2k_error **err)
{
	uint64_t base = 0;
	int raw_fd = i2k_sink_fd(raw, &base);
	if (raw_fd < 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s is not a file sink",
				     raw->name ? raw->name : "sink");
	return i2k_container_write_fd(kind, raw_fd, base, raw->size, out, o, err);
}

int i2k_container_write_fd(enum i2k_container_kind kind, int raw_fd, uint64_t base, uint64_t size,
			   struct i2k_sink *out, const struct i2k_container_opts *o,
			   struct i2k_error **err)
{
	if (size == 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "empty disk");
	const uint8_t *seed = o && o->has_uuid_seed ? o->uuid_seed : NULL;
	switch (kind) {
	case I2K_CONTAINER_RAW:
		return i2k_raw_write(raw_fd, base, size, out, err);
	case I2K_CONTAINER_QCOW2:
		return i2k_qcow2_write(raw_fd, base, size, out, err);
	case I2K_CONTAINER_VHD_FIXED:
	case I2K_CONTAINER_VHD_DYNAMIC:
		if (size % 512)
			return i2k_error_set(err, I2K_ERR_USAGE,
					     "disk size %llu is not a multiple of 512 bytes",
					     (unsigned long long)size);
		return i2k_vhd_write(raw_fd, base, size, kind == I2K_CONTAINER_VHD_DYNAMIC, seed,
				     out, err);
	case I2K_CONTAINER_VMDK:
		return i2k_vmdk_write(raw_fd, base, size, seed, out, err);
	case I2K_CONTAINER_GCP:
		return i2k_gcp_write(raw_fd, base, size, out, err);
	}
	return i2k_error_set(err, I2K_ERR_USAGE, "unknown disk container kind %d", (int)kind);
}

int i2k_container_write_file(enum i2k_container_kind kind, int raw_fd, uint64_t base, uint64_t size,
			     const char *out_path, const struct i2k_container_opts *o,
			     struct i2k_error **err)
{
	_cleanup_free_ char *copy = i2k_xstrdup(out_path);
	char *slash = strrchr(copy, '/');
	const char *dir = ".", *name = copy;
	if (slash) {
		*slash = '\0';
		dir = copy[0] ? copy : "/";
		name = slash + 1;
	}
	static const char *const none[] = {""};
	_cleanup_(i2k_output_group_freep) struct i2k_output_group *g = NULL;
	struct i2k_output_result res = {0};
	int r = i2k_output_group_open(dir, name, none, 1, false, &g, err);
	if (r == 0)
		r = i2k_container_write_fd(kind, raw_fd, base, size, i2k_output_sink(g, 0), o, err);
	if (r == 0)
		r = i2k_output_group_commit(g, i2k_container_kind_name(kind), &res, err);
	i2k_output_result_free(&res);
	if (r < 0)
		return i2k_error_wrap(err, "writing %s", out_path);
	return 0;
}
