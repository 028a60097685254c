/* dedupe.h — a file that several container images hold is stored once.
 *
 * Two containers whose images carry the same file (busybox in two images,
 * two services built FROM the same base under different layer digests) put
 * two copies of it into the root: a kernel+initrd boot unpacks both into
 * guest memory, and a disk image stores both. i2k_dedupe_images() makes such
 * files one inode with several names (hard links), so every format writes
 * the data once: the web example's initramfs unpacks 1.9 MB less.
 *
 * Scope: only the image trees named (a container's rootfs/ or lower/, a
 * volume's lower/). The guest never writes into those: a container sees its
 * image through an overlay (writes go to its own upper directory) or through
 * a read-only bind, so a link between two images shows only in st_nlink.
 * Files elsewhere in the root (the init's /etc, files:) may be rewritten in
 * place at run time, which a link would carry into another file: they are
 * never touched.
 *
 * Files become one only when everything a hard link shares is equal: size,
 * content (SHA-256), mode, uid, gid, mtime and xattrs. Empty files are left
 * alone (they cost no data). The cost is bounded by what can match: only
 * files whose size occurs in two or more of the trees are read, and a
 * digest of their first 4 KiB sorts out most of those before any whole file
 * is hashed.
 *
 * Deterministic: the name kept for a group is the first in the tree's
 * sorted walk; every other inode of the group is replaced under all its
 * names. */
#ifndef I2K_BUILDER_ASSEMBLE_DEDUPE_H
#define I2K_BUILDER_ASSEMBLE_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"

/* Links identical regular files under the directories roots[0..n) of t
 * (paths as in fstree.h, e.g. "containers/services/web/lower"); a root that
 * does not exist is skipped. *saved (may be NULL) receives the bytes of
 * file data no longer stored. Errors: reading file data from the spool. */
int i2k_dedupe_images(struct i2k_fstree *t, const char *const *roots, size_t n, uint64_t *saved,
		      struct i2k_error **err);

#endif
