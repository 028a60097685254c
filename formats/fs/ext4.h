/* ext4.h — ext4 file system writer, populated in-process through libext2fs
 * (no mke2fs, no loop device, no mount).
 *
 * The file system fills a sink from offset 0 (for a partition, pass a window
 * of the disk sink). libext2fs reaches the sink through a small io_manager of
 * our own ("i2k-sink", no cache: every block read or write is a
 * read_at/write_at of the sink), so file, tmpfile and window sinks all work
 * and nothing needs a path.
 *
 * Layout and features: those of mke2fs's "ext4" type — has_journal,
 * ext_attr, resize_inode, dir_index, filetype, extent, 64bit, flex_bg (16
 * groups), sparse_super, large_file, huge_file, dir_nlink, extra_isize,
 * metadata_csum (crc32c) — with no reserved blocks (-m 0) and one inode per
 * 16 KiB (at least the tree's inodes plus 20%; plus only 64 when the size is
 * tight). No orphan_file,
 * inline_data or metadata_csum_seed, so every kernel since 3.18 mounts it
 * read-write.
 *
 * Contents: the tree is walked in sorted order and inodes are allocated in
 * that order (root 2, lost+found 11, then first appearances). Regular files
 * get their data from the spool; all-zero blocks are left unmapped (holes),
 * so files stay sparse: data blocks are mapped with ext2fs_fallocate() and
 * the data is copied from the spool straight into the sink. Directory blocks
 * are built here from the sorted entries (linear directories with checksum
 * tails, no htree index: lookups in very large directories are linear scans
 * until `e2fsck -fD` indexes them). Symlinks are fast (< 60 bytes, in the
 * inode) or one block. Devices use the kernel's old/new dev_t encoding. Hard links
 * share one inode with the tree's link count. Owners (32-bit uid/gid), full
 * modes (suid/sgid/sticky), xattrs (user.*, trusted.*, security.*, POSIX
 * ACLs in their Linux xattr form are converted to ext4's) and timestamps
 * (atime = ctime = mtime = crtime = the tree's mtime, with nanoseconds and
 * ext4's epoch bits) come from the tree. A root-level "lost+found" of the
 * tree is used as lost+found; otherwise one (0700, 16 KiB) is added.
 *
 * Reproducible: no wall clock and no randomness reach the image. The fs UUID
 * and the directory hash seed derive from opts->uuid_seed (SHA-256, tagged);
 * s_mkfs_time, s_lastcheck and s_wtime are opts->epoch (libext2fs reads
 * 0 as "now", so an epoch of 0 is written as 1 s); the special inodes'
 * (resize, journal) times are opts->epoch; i_generation is 0. The journal's
 * blocks are not zeroed (the sink reads zeros) and inode tables are not
 * written but flagged zeroed, for the same reason. Same tree, options and
 * size → the same bytes.
 *
 * Sinks: regions never written must read as zeros (sink.h guarantees it).
 * The writer does not call i2k_sink_finish: the caller does. On failure the
 * sink holds a partial file system; the caller discards it (outputs are
 * written to a temporary name and renamed only on success).
 */
#ifndef I2K_FORMATS_FS_EXT4_H
#define I2K_FORMATS_FS_EXT4_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "formats/sink.h"

#define I2K_EXT4_DEFAULT_LABEL "i2kit-root"
/* Automatic sizes are at least this big (and multiples of 1 MiB). */
#define I2K_EXT4_MIN_AUTO_SIZE (32ull << 20)

struct i2k_ext4_opts {
	/* Bytes of the sink the file system spans (rounded down to the block
	 * size); 0 → the whole sink. Larger than the sink → I2K_ERR_INTERNAL. */
	uint64_t size;
	/* Volume label, at most 16 bytes; NULL → I2K_EXT4_DEFAULT_LABEL.
	 * Longer → I2K_ERR_CONFIG "ext4 label \"L\" is longer than 16 bytes". */
	const char *label;
	/* The fs UUID (RFC 4122 version 4 layout) and the htree hash seed are
	 * derived from these bytes; callers hash the build's content into it. */
	uint8_t uuid_seed[32];
	/* Superblock times (mkfs, last check, last write) and the special
	 * inodes' times: callers pass i2k_source_date_epoch(). */
	int64_t epoch;
	/* 0 → 4096; else 1024, 2048 or 4096 (else I2K_ERR_USAGE). */
	uint32_t block_size;
	/* 0 → 256; else 256, 512 or 1024, at most block_size (else
	 * I2K_ERR_USAGE). */
	uint32_t inode_size;
	/* No journal (has_journal off): smaller, but not crash-safe when
	 * mounted read-write. */
	bool no_journal;
};

/* Writes the tree as ext4 into out (see the top of the file). Finalizes the
 * tree (i2k_fstree_finalize). If the file system is too small for the tree
 * — checked against the estimate before anything is written — fails with
 * I2K_ERR_CONFIG "--size S is too small: the root needs at least M" (S and M
 * as "N MiB" or "N bytes"; M is i2k_ext4_min_size(); should an allocation
 * still fail later, the same message names the larger of the automatic size
 * and S + 20%). Inodes: one per 16 KiB, at least the tree's + 20% (only the
 * tree's + 64 when the size is tight). Entries ext4
 * cannot hold fail with I2K_ERR_UNSUPPORTED "PATH: ..." (names over 255
 * bytes, symlink targets of a block or more, more than 65000 links to a
 * file, xattrs that do not fit in one block). A failing sink write comes
 * back as the sink's error wrapped in "ext4: ". */
int i2k_ext4_write(struct i2k_fstree *tree, const struct i2k_ext4_opts *o, struct i2k_sink *out,
		   struct i2k_error **err);

/* The automatic size for the tree with these options: an estimate of data
 * blocks (holes counted as data), directory, symlink, xattr and extent
 * blocks, inode tables, journal, bitmaps and group descriptors, plus 20%
 * free space and inodes; rounded up to 1 MiB, at least
 * I2K_EXT4_MIN_AUTO_SIZE. o->size is ignored. Finalizes the tree. */
int i2k_ext4_size_for(struct i2k_fstree *tree, const struct i2k_ext4_opts *o, uint64_t *bytes,
		      struct i2k_error **err);

/* The smallest size the writer accepts for the tree (the same estimate
 * with no free space; rounded up to 1 MiB). Finalizes the tree. */
int i2k_ext4_min_size(struct i2k_fstree *tree, const struct i2k_ext4_opts *o, uint64_t *bytes,
		      struct i2k_error **err);

#endif
