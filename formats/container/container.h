/* container.h — the front door of the image container writers: turns a raw
 * disk image (a sparse file, normally the disk layout's temp file) into the
 * final output file as raw, qcow2, fixed VHD or dynamic VHD.
 *
 * The raw disk is read once, sequentially: holes are skipped with
 * SEEK_DATA/SEEK_HOLE and all-zero 64 KiB blocks inside data are detected,
 * so outputs are sparse (raw and VHD keep holes; qcow2 leaves zero clusters
 * unallocated). Memory does not grow with the disk beyond small tables:
 * qcow2 keeps one bit per 64 KiB cluster (2 MiB per TiB), dynamic VHD 4
 * bytes per 2 MiB block (at most 4 MiB); see raw.h, qcow2.h and vhd.h for
 * the formats' details.
 *
 * The writers write into a block sink (formats/sink.h): an output file
 * (formats/output.h: atomic, hashed while written) or a sink that streams
 * the blocks elsewhere (an EBS snapshot); zero runs reach the sink as
 * i2k_sink_zero calls, never as written zeros. i2k_check_interrupt is
 * checked for every MiB read. Output is deterministic: the same disk bytes
 * (and opts) give the same output bytes.
 */
#ifndef I2K_FORMATS_CONTAINER_CONTAINER_H
#define I2K_FORMATS_CONTAINER_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"

enum i2k_container_kind {
	I2K_CONTAINER_RAW,
	I2K_CONTAINER_QCOW2,
	I2K_CONTAINER_VHD_FIXED,
	I2K_CONTAINER_VHD_DYNAMIC,
	I2K_CONTAINER_VMDK, /* streamOptimized (vmdk.h) */
	I2K_CONTAINER_GCP,  /* disk.raw in a tar.gz (gcp.h) */
};

struct i2k_container_opts {
	/* VHD unique id seed (e.g. the SHA-256 of the root tree); without it
	 * the id is derived from the disk content, which costs hashing the
	 * data. Ignored by raw and qcow2. */
	bool has_uuid_seed;
	uint8_t uuid_seed[32];
};

/* "raw", "qcow2", "vhd" (fixed), "dynamic-vhd", "vmdk" and "gcp" → *out.
 * Anything else (or NULL): I2K_ERR_USAGE "unknown disk container "X"
 * (expected raw, qcow2, vhd, dynamic-vhd, vmdk or gcp)". */
int i2k_container_kind_from_name(const char *name, enum i2k_container_kind *out,
				 struct i2k_error **err);
/* The name above for a kind ("?" for an invalid value). Static string. */
const char *i2k_container_kind_name(enum i2k_container_kind kind);
/* The size the raw disk must have for this container when the layout wants
 * at least `size` bytes: VHD kinds → i2k_vhd_round_size (whole MiB with an
 * exact CHS geometry); gcp → whole GiB; raw, qcow2 and vmdk → rounded up
 * to 512 bytes. */
uint64_t i2k_container_round_size(enum i2k_container_kind kind, uint64_t size);

/* Writes the disk in raw (a file or tmpfile sink, i2k_sink_fd; its base
 * offset is honoured; finished; only read) into out as `kind`: the seam
 * between a disk and where it goes (an output file, an upload). o may be
 * NULL (defaults). Errors:
 *   I2K_ERR_USAGE "empty disk" (raw size 0), "disk size N is not a multiple
 *     of 512 bytes" (qcow2, VHD), "VHD disk size N is not a valid VHD size
 *     (use i2k_vhd_round_size: M)", an unknown kind;
 *   I2K_ERR_UNSUPPORTED over a format's size limit (qcow2 64 TiB, VHD
 *     2040 GiB);
 *   I2K_ERR_INTERNAL "SINK is not a file sink", "raw disk is shorter than
 *     its size (...)";
 *   the out sink's errors (disk full reads "no space left on device"),
 *     "raw disk: read: WHY"; I2K_ERR_INTERRUPTED "interrupted". */
int i2k_container_write(enum i2k_container_kind kind, struct i2k_sink *raw, struct i2k_sink *out,
			const struct i2k_container_opts *o, struct i2k_error **err);
/* The same from bytes [base, base+size) of raw_fd (borrowed; read with
 * pread). */
int i2k_container_write_fd(enum i2k_container_kind kind, int raw_fd, uint64_t base, uint64_t size,
			   struct i2k_sink *out, const struct i2k_container_opts *o,
			   struct i2k_error **err);
/* The same into the file out_path, atomically (formats/output.h: nothing
 * under out_path until complete; an existing file survives a failure),
 * errors prefixed with "writing OUT_PATH: ". */
int i2k_container_write_file(enum i2k_container_kind kind, int raw_fd, uint64_t base, uint64_t size,
			     const char *out_path, const struct i2k_container_opts *o,
			     struct i2k_error **err);

#endif
