/* rawinitrd.h — the initrd given to QEMU decompressed, under TCG.
 *
 * Why: a kernel+initrd boot's initrd is a gzip (or zstd) cpio archive, and
 * the guest kernel inflates it before init runs — under TCG at emulated
 * speed, in lib/zlib_inflate. The same archive uncompressed costs the host
 * a few milliseconds to make and the guest nothing to inflate: the web
 * example's 1.9 MB gzip initrd (5.3 MB of cpio) reached `Run /init`
 * ≈0.06–0.1 s sooner as plain cpio (raw QEMU, TCG, interleaved pairs in the
 * machine's fast mode). The kernel takes either the same way (an initramfs
 * may be any mix of compressed and plain cpio).
 *
 * The cost is guest memory while it boots: the plain archive is loaded
 * whole and freed only once unpacked, so `run qemu` does this only when
 * the VM has at least I2K_RAWINITRD_MIN_MEM MB (below that, memory is what
 * the user is saving) and the archive is at most an eighth of it
 * (I2K_RAWINITRD_MEM_SHARE; a `modules: all` initrd of 95 MB boots as it
 * is in 512 MB), only under TCG (KVM inflates at native speed), and
 * writes the file into the VM's state directory (replaced by each run, no
 * cache to grow).
 *
 * What is decompressed: a file that is one or more gzip members, or one or
 * more zstd frames, back to back (zero bytes between and after them are
 * allowed, as the kernel skips them), whose content starts with a newc
 * cpio header ("070701" or "070702"). Anything else — an uncompressed or
 * mixed initrd, another codec, content that is no newc cpio — is given to
 * QEMU as it is. */
#ifndef I2K_PROVISION_RAWINITRD_H
#define I2K_PROVISION_RAWINITRD_H

#include <stdint.h>

#include "builder/base/error.h"

#define I2K_RAWINITRD_MIN_MEM 128u	      /* MB of guest memory */
#define I2K_RAWINITRD_MEM_SHARE 8u	      /* the archive: at most 1/8 of it */
#define I2K_RAWINITRD_IN_MAX (512u << 20)     /* largest initrd file read */
#define I2K_RAWINITRD_OUT_MAX (2048ull << 20) /* largest archive written */

struct i2k_rawinitrd_info {
	const char *codec; /* "gzip" or "zstd" */
	uint64_t in_bytes, out_bytes;
};

/* Decompresses the initrd file `initrd` into `out`, at most max_out bytes
 * (and never more than I2K_RAWINITRD_OUT_MAX) (written under a
 * temporary name beside it and renamed, so `out` is whole or absent; not
 * synced: it is the run's scratch copy). Returns 0 with *info filled, or
 * < 0 with a message that starts with the initrd's path:
 * I2K_ERR_UNSUPPORTED "not gzip or zstd" / "… after the gzip data at
 * byte N" / "its content is no newc cpio archive" (boot the file as it is),
 * or "more than N bytes uncompressed" (N: the limit),
 * I2K_ERR_INTEGRITY "corrupt gzip data" / "truncated zstd data" / …,
 * I2K_ERR_IO for reading or writing. */
int i2k_rawinitrd_write(const char *initrd, const char *out, uint64_t max_out,
			struct i2k_rawinitrd_info *info, struct i2k_error **err);

#endif
