/* unchanged.h — is a file being written as a stream the same, byte for byte,
 * as the file already under its final name? Then the output commit leaves
 * the old file where it is (same inode, same mtime) and the new bytes are
 * never written: a rebuild that did not change the kernel, the command line
 * or the SBOM writes and fsyncs only what changed.
 *
 *   struct i2k_unchanged u;
 *   i2k_unchanged_open(&u, final_path);     // nothing usable there: inactive
 *   while (bytes come) {
 *       if (i2k_unchanged_active(&u) && i2k_unchanged_feed(&u, buf, len))
 *           continue;                       // equal so far: nothing written
 *       if (i2k_unchanged_active(&u))       // the first difference:
 *           i2k_unchanged_materialize(&u, tmp_fd, &err); // equal prefix → tmp
 *       write(tmp_fd, buf, len);
 *   }
 *   if (i2k_unchanged_kept(&u, final_path)) → drop tmp, keep the old file
 *   else materialize (if still active) and commit tmp as usual
 *   i2k_unchanged_close(&u);
 *
 * Only a regular file of mode 0644 (what outputs are) is compared; a
 * symlink or anything else under the name is replaced as before.
 */
#ifndef I2K_FORMATS_UNCHANGED_H
#define I2K_FORMATS_UNCHANGED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "builder/base/error.h"

struct i2k_unchanged {
	int fd;		   /* the old file; -1 = inactive (none, or the bytes differ) */
	uint64_t len;	   /* bytes fed so far, all equal to the old file's */
	uint64_t old_size; /* the old file's size when opened */
	dev_t dev;
	ino_t ino;
	char *buf; /* read buffer (owned) */
};

/* Starts comparing with the file at path; inactive when there is none
 * usable (missing, not a regular 0644 file, unreadable). Never fails. */
void i2k_unchanged_open(struct i2k_unchanged *u, const char *path);
bool i2k_unchanged_active(const struct i2k_unchanged *u);
/* Compares the next len bytes (active only): true when they are the old
 * file's next bytes (then counted in len), false when they differ (u stays
 * active until materialized). */
bool i2k_unchanged_feed(struct i2k_unchanged *u, const void *buf, size_t len);
/* Copies the equal prefix [0, len) of the old file into fd at offset 0
 * (copy_file_range when it can), leaves fd's file offset at len and ends
 * the comparison (inactive). */
int i2k_unchanged_materialize(struct i2k_unchanged *u, int fd, struct i2k_error **err);
/* True when the whole old file was fed, is still the file under path, and
 * is on disk (fsynced: it may not have been written by i2kit). */
bool i2k_unchanged_kept(struct i2k_unchanged *u, const char *path);
void i2k_unchanged_close(struct i2k_unchanged *u); /* idempotent */

#endif
