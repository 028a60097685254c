/* gcp.h — the Google Compute Engine image container: a gzip-compressed tar
 * holding one file, "disk.raw", the whole raw disk, as `gcloud compute
 * images create --source-uri gs://.../NAME.img.tar.gz` takes it (LinuxKit's
 * gcp output writes the same NAME.img.tar.gz). GCE wants the disk's size to
 * be a whole number of GiB: i2k_gcp_round_size().
 *
 * The tar entry is a plain regular file (mode 0644, uid/gid 0, mtime
 * SOURCE_DATE_EPOCH), so zero regions are stored as zeros — gzip shrinks
 * them to almost nothing. The gzip stream is made on all cores with output
 * independent of the thread count (initrd/compress.h). Written strictly
 * front to back into the sink; deterministic.
 */
#ifndef I2K_FORMATS_CONTAINER_GCP_H
#define I2K_FORMATS_CONTAINER_GCP_H

#include <stdint.h>

#include "builder/base/error.h"
#include "formats/sink.h"

#define I2K_GCP_ALIGN (1ull << 30)

/* The smallest multiple of 1 GiB >= size. */
uint64_t i2k_gcp_round_size(uint64_t size);

/* Writes bytes [base, base+size) of raw_fd as NAME.img.tar.gz content into
 * out. Errors: read/sink errors, I2K_ERR_INTERRUPTED. */
int i2k_gcp_write(int raw_fd, uint64_t base, uint64_t size, struct i2k_sink *out,
		  struct i2k_error **err);

#endif
