/* erofs.h — writes an fstree as an uncompressed EROFS image (what the
 * kernel mounts for `kernel+erofs`), in-process: no mkfs.erofs.
 *
 * Layout (4 KiB blocks; the format of Linux 5.4+, no incompat feature bits
 * set, so every kernel with EROFS mounts it):
 *   block 0    zeros, the superblock at byte 1024 (128 bytes), then the
 *              inodes from byte 1152 on (meta_blkaddr = 0, so the root's nid
 *              is 36);
 *   metadata   every inode, 32-byte aligned, each followed by its inline
 *              xattrs and, when it fits, its inline tail (the last partial
 *              block of its data: FLAT_INLINE); an inode's metadata never
 *              crosses a block boundary unless it alone is larger than a
 *              block (huge xattrs: it then starts a block). Inodes are
 *              placed in walk order, each in the first of the last 16
 *              partly filled metadata blocks it fits in (first fit), else
 *              in a new block;
 *   data       after the metadata, the full blocks of every file, directory
 *              and symlink, in walk order (FLAT_PLAIN, or the head of a
 *              FLAT_INLINE inode). All-zero blocks are not written: on a
 *              file sink they stay holes.
 * Inodes are compact (32 bytes) unless they need the extended form (64
 * bytes): uid or gid > 65535, more than 65535 links, size >= 4 GiB, or an
 * mtime other than the superblock's build time (opts.mtime, 0 ns) — compact
 * inodes carry no time of their own, so every mtime is kept exactly.
 * Directories: "." and ".." plus the children, all sorted bytewise across
 * the whole directory (the kernel's lookup binary-searches blocks, then
 * names), packed into 4 KiB directory blocks; directory sizes are exact.
 * Hard links share one inode (nid). Devices use the kernel's new dev_t
 * encoding. xattrs are inline per inode (no shared xattrs): user.,
 * trusted., security. and system.posix_acl_{access,default}; others (and
 * values over 65535 bytes) are skipped with a warning (i2k_warn). Names of
 * more than 255 bytes are an error.
 *
 * Deterministic: the tree is walked in sorted order (i2k_fstree_finalize is
 * called here), the only times are the inodes' mtimes and opts.mtime, and
 * the UUID derives from opts.uuid_seed (SHA-256, tagged). Same tree and
 * options → the same bytes. No superblock checksum (optional in EROFS).
 */
#ifndef I2K_FORMATS_FS_EROFS_H
#define I2K_FORMATS_FS_EROFS_H

#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "formats/sink.h"

#define I2K_EROFS_BLOCK_SIZE 4096u

struct i2k_erofs_opts {
	/* Superblock build time, also the mtime of every compact inode:
	 * pass i2k_source_date_epoch(). Negative → I2K_ERR_USAGE. */
	int64_t mtime;
	/* The volume UUID (RFC 4122 version 4 layout) derives from these
	 * bytes; callers hash the build's content into it. */
	uint8_t uuid_seed[32];
	/* Volume name, at most 16 bytes (longer → I2K_ERR_USAGE); NULL → none. */
	const char *label;
};

/* Writes the image of tree to out from offset 0 and sets *bytes to its
 * size (a multiple of 4096, = the superblock's block count * 4096). out
 * must be at least that large (i2k_erofs_size tells it; a sparse tmpfile
 * sink of generous size is fine), else I2K_ERR_IO "erofs: image of N bytes
 * does not fit in SINK (M bytes)" before anything is written. out is not
 * finished here; the caller owns it. Assigns the
 * tree's inode numbers (i2k_fstree_finalize). o == NULL means all defaults
 * (mtime 0, zero seed, no label).
 * Errors: I2K_ERR_USAGE for bad options ("erofs: label \"L\" is longer than
 * 16 bytes", "erofs: negative build time -1"); I2K_ERR_UNSUPPORTED for trees
 * EROFS cannot hold ("erofs: /PATH: name of N bytes (EROFS allows at most
 * 255)", "erofs: /PATH: xattrs of N bytes do not fit in an inode", "erofs: /PATH:
 * device MAJOR:MINOR does not fit (major < 4096, minor < 1048576)",
 * "erofs: image of N blocks is too large"); the spool's or sink's errors;
 * every message starts with "erofs: ". */
int i2k_erofs_write(struct i2k_fstree *tree, const struct i2k_erofs_opts *o, struct i2k_sink *out,
		    uint64_t *bytes, struct i2k_error **err);

/* The exact size i2k_erofs_write would produce for tree and o, without
 * writing anything (same errors, warnings included). Assigns the tree's
 * inode numbers. */
int i2k_erofs_size(struct i2k_fstree *tree, const struct i2k_erofs_opts *o, uint64_t *bytes,
		   struct i2k_error **err);

#endif
