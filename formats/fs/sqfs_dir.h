/* sqfs_dir.h — squashfs directory listings (the directory table).
 *
 * A directory's listing is a sequence of runs: a header {count - 1, inode
 * table block of the entries' inodes, base inode number} followed by at most
 * 256 entries {offset of the inode in that block, inode number - base (s16),
 * basic inode type, name length - 1, name}. Entries come sorted by name
 * (strcmp, the order the kernel's lookup relies on). A new run starts when
 * the inode block changes, the inode number difference leaves the s16 range,
 * 256 entries are reached, or the listing crosses into a new 8 KiB metadata
 * block; each run that starts in a new metadata block also gets a directory
 * index entry {offset of its header in the listing, directory table block,
 * name length - 1, first name} for extended directory inodes (the kernel
 * starts a lookup at the last index entry whose name is <= the wanted one).
 */
#ifndef I2K_FORMATS_FS_SQFS_DIR_H
#define I2K_FORMATS_FS_SQFS_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/util.h"
#include "formats/fs/sqfs_meta.h"

#define I2K_SQFS_DIR_MAX_RUN 256
#define I2K_SQFS_NAME_MAX 256

struct i2k_sqfs_dirent {
	const char *name;   /* 1..256 bytes, borrowed */
	uint64_t inode_ref; /* inode table block << 16 | offset */
	uint32_t ino;
	uint16_t type; /* basic inode type, 1..7 */
};

struct i2k_sqfs_dirinfo {
	uint32_t block;	      /* directory table block of the listing (relative) */
	uint16_t offset;      /* offset in that block */
	uint32_t size;	      /* listing bytes + 3 (the inode's file_size) */
	uint32_t index_count; /* directory index entries in index (<= 65535) */
	struct i2k_buf index; /* encoded index entries (owned: i2k_buf_free) */
};

/* Appends the listing of n entries (sorted by name) to the directory table
 * dt and describes it in *info (zeroed first). n == 0 writes nothing
 * (size 3). Errors: I2K_ERR_UNSUPPORTED when a name is longer than 256
 * bytes or the table grows past its maximum. */
int i2k_sqfs_dir_write(struct i2k_sqfs_meta *dt, const struct i2k_sqfs_dirent *e, size_t n,
		       struct i2k_sqfs_dirinfo *info, struct i2k_error **err);

#endif
