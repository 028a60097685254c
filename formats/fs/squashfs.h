/* squashfs.h — writes an fstree as a squashfs 4.0 image (what the kernel
 * mounts for `kernel+squashfs` and squashfs root partitions).
 *
 * Layout (the order the Linux kernel checks): superblock (96 bytes),
 * [compressor options], data and fragment blocks, inode table, directory
 * table, fragment table, id table, xattr tables; no export table (the
 * "exportable" flag stays clear). The image is padded with zeros to a
 * multiple of 4 KiB.
 *
 * Everything is deterministic: the tree is walked in sorted order, inode
 * numbers are the fstree's (i2k_fstree_finalize, called here), the only
 * time stamps are the inodes' mtimes and opts.mtime, and data blocks are
 * compressed in parallel but written in order. Supported: regular files
 * (blocks stored raw when compression does not help, all-zero blocks as
 * holes, tails packed into fragment blocks), directories (indexed when
 * large), symlinks, char/block devices, FIFOs, sockets, hard links, uid/gid
 * (at most 65535 distinct ids), user./trusted./security. xattrs (others are
 * skipped with a warning). Identical files are not deduplicated (hard links
 * are stored once).
 */
#ifndef I2K_FORMATS_FS_SQUASHFS_H
#define I2K_FORMATS_FS_SQUASHFS_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "formats/sink.h"
#include "initrd/compress.h"

#define I2K_SQUASHFS_DEFAULT_BLOCK_SIZE (128u * 1024)

struct i2k_squashfs_opts {
	enum i2k_compression compression; /* gzip (default), zstd; none = all blocks raw */
	int level;			  /* 0 = default: gzip 9, zstd 15 (mksquashfs's defaults) */
	uint32_t block_size;		  /* 0 = 128 KiB; a power of two in 4 KiB .. 1 MiB */
	bool no_fragments;		  /* tails as short last blocks instead of fragments */
	int64_t mtime;			  /* superblock time: pass i2k_source_date_epoch() */
	int threads; /* compression threads; 0 = i2k_ncpus(). Output does not depend on it */
};

/* Writes the image of tree to out from offset 0 and sets *bytes_used to its
 * size, padding included (a multiple of 4096; the superblock's bytes_used
 * field holds the unpadded size). out must be large enough (a sparse
 * tmpfile sink of generous size is fine): a write past its end fails with
 * the sink's error. out is not finished here; the caller owns it.
 * Assigns the tree's inode numbers (i2k_fstree_finalize). o == NULL means
 * all defaults.
 * Errors: I2K_ERR_USAGE for bad options ("squashfs: block size N is not a
 * power of two between 4096 and 1048576", "squashfs: gzip level N out of
 * range 1..9", ...); I2K_ERR_UNSUPPORTED for trees squashfs cannot hold
 * ("squashfs: more than 65535 distinct uids and gids", "squashfs: /PATH:
 * device MAJOR:MINOR does not fit", ...); the spool's or sink's errors,
 * prefixed with "squashfs: ". */
int i2k_squashfs_write(struct i2k_fstree *tree, const struct i2k_squashfs_opts *o,
		       struct i2k_sink *out, uint64_t *bytes_used, struct i2k_error **err);

#endif
