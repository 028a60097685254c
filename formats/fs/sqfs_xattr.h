/* sqfs_xattr.h — squashfs extended attributes: the key/value table and the
 * xattr id table.
 *
 * Each distinct set of attributes is written once to the key/value stream
 * (metadata blocks) as pairs {u16 prefix id (0 user., 1 trusted.,
 * 2 security.), u16 name length, name without prefix, u32 value length,
 * value}; the xattr id table (lookup table of 16-byte entries {u64 reference
 * of the set, u32 pair count, u32 set size}) gives each set an index that
 * inodes store. On disk, after the key/value blocks and the id table's
 * blocks: {u64 key/value table start, u32 id count, u32 0} then the u64
 * locations of the id table's blocks. The kernel knows only these three
 * prefixes: attributes with any other prefix (system.posix_acl_*, ...) are
 * skipped with a warning.
 */
#ifndef I2K_FORMATS_FS_SQFS_XATTR_H
#define I2K_FORMATS_FS_SQFS_XATTR_H

#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "formats/fs/sqfs_meta.h"
#include "formats/sink.h"

#define I2K_SQFS_NO_XATTR 0xffffffffu

struct i2k_sqfs_xattrs;

/* comp is borrowed and must outlive x. */
struct i2k_sqfs_xattrs *i2k_sqfs_xattrs_new(struct i2k_sqfs_comp *comp);
void i2k_sqfs_xattrs_free(struct i2k_sqfs_xattrs *x);
void i2k_sqfs_xattrs_freep(struct i2k_sqfs_xattrs **x);
/* Index of the set (n attributes sorted by name) for an inode at path (for
 * warnings); *idx = I2K_SQFS_NO_XATTR when nothing storable remains.
 * Identical sets share one index. */
int i2k_sqfs_xattrs_add(struct i2k_sqfs_xattrs *x, const struct i2k_xattr *xs, size_t n,
			const char *path, uint32_t *idx, struct i2k_error **err);
uint32_t i2k_sqfs_xattrs_count(const struct i2k_sqfs_xattrs *x);
/* Writes the tables at *pos (advanced); *table_start = the position the
 * superblock's xattr_id_table_start holds. Only when count > 0. */
int i2k_sqfs_xattrs_write(struct i2k_sqfs_xattrs *x, struct i2k_sink *out, uint64_t *pos,
			  uint64_t *table_start, struct i2k_error **err);

#endif
