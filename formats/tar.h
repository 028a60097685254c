/* tar.h — deterministic POSIX (ustar + pax) tar writer.
 *
 * Written by hand (not libarchive) so every byte is fixed. The layout
 * follows Go's archive/tar, which writes LinuxKit's own tar outputs:
 *
 * Header block (512 bytes, ustar):
 *   name[100] mode[8] uid[8] gid[8] size[12] mtime[12] chksum[8] typeflag
 *   linkname[100] "ustar\0" "00" uname[32] gname[32] devmajor[8]
 *   devminor[8] prefix[155], rest zero.
 *   Numeric fields: zero-padded octal filling the field but the last byte,
 *   which is NUL ("0000644\0", "00000000012\0"); chksum: 6 octal digits,
 *   NUL, space. uname/gname empty (owners are numeric only). mode holds the
 *   permission bits incl. suid/sgid/sticky (07777), not the file type.
 *   devmajor/devminor hold the device numbers for '3'/'4' entries, 0 else.
 * Names: relative, no "./" prefix; directories end with '/'; the root
 *   directory is not written. A name longer than 100 bytes is split at a
 *   '/' into prefix (<= 155) and name (<= 100) when possible; otherwise it
 *   goes into a pax "path" record and the ustar name field holds its first
 *   100 bytes.
 * Types: '0' file, '1' hard link (linkname = the path of the first name
 *   of the inode written to this archive, size 0), '2' symlink, '3' char,
 *   '4' block, '5' dir, '6' fifo. Sockets cannot be stored in tar and are
 *   skipped with a warning (as GNU tar does).
 * Pax extended header ('x'), written only when needed, immediately before
 *   its entry: records "LEN KEY=VALUE\n" sorted by key, for
 *     path      name does not fit ustar (see above)
 *     linkpath  link target longer than 100 bytes
 *     size      size > 8 GiB - 1 (ustar field then 0)
 *     uid, gid  > 2097151 (ustar field then 0)
 *     mtime     when mtime_ns != 0 ("SECONDS.NANOS", trailing zeros
 *               trimmed) or mtime outside 0..8^11-1 (ustar field then 0)
 *     SCHILY.xattr.NAME  one per xattr, raw value bytes (as GNU tar and Go)
 *   The 'x' header itself: name "DIR/PaxHeaders.0/BASE" (cut to 100 bytes),
 *   mode 0, uid/gid 0, mtime 0, size = length of the records.
 * Sparse files (GNU tar's PAX format 1.0, read by GNU tar, bsdtar/libarchive
 *   and Python's tarfile): a regular file whose zero runs of at least
 *   I2K_TAR_HOLE_MIN bytes (4 KiB blocks, counted from the file's start)
 *   add up to I2K_TAR_SPARSE_MIN bytes or more is written with records
 *   GNU.sparse.major=1, GNU.sparse.minor=0, GNU.sparse.name=PATH,
 *   GNU.sparse.realsize=SIZE, the ustar name "DIR/GNUSparseFile.0/BASE",
 *   and data = the map ("COUNT\n" then "OFFSET\nLENGTH\n" per data run, a
 *   final "SIZE\n0\n" run when the file ends in a hole; zero-padded to a
 *   block) followed by the data runs. Holes are found from the content
 *   (the spool's own holes only make that faster), so the output does not
 *   depend on the file system. A 5 GiB sparse file stays a few blocks.
 * End: two zero blocks, no padding to a 10240-byte record (Go's behaviour).
 */
#ifndef I2K_FORMATS_TAR_H
#define I2K_FORMATS_TAR_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "initrd/compress.h"

#define I2K_TAR_HOLE_MIN (64u << 10)  /* shortest zero run kept as a hole */
#define I2K_TAR_SPARSE_MIN (1u << 20) /* hole bytes that make a file sparse */

/* A data run of a sparse file (offset within the file). */
struct i2k_tar_run {
	uint64_t off, len;
};

/* One entry for the low-level writer. */
struct i2k_tar_entry {
	const char *path; /* relative, no leading '/'; a trailing '/' is added to dirs */
	uint32_t mode;	  /* type | perms; ignored for hard links */
	uint32_t uid, gid;
	int64_t mtime;
	uint32_t mtime_ns;
	uint32_t rdev_major, rdev_minor;
	uint64_t size;	      /* regular files: data bytes that must follow */
	const char *target;   /* symlink target (S_IFLNK) */
	const char *hardlink; /* non-NULL: write a '1' entry linking to this path */
	const struct i2k_xattr *xattrs;
	size_t nxattrs; /* written as SCHILY.xattr records sorted by name */
	/* Regular files: non-NULL → a sparse entry of realsize `size` whose
	 * data runs (sorted, disjoint) are then written, in order, through
	 * _data/_data_fd (their total length, not `size`). */
	const struct i2k_tar_run *runs;
	size_t nruns;
};

struct i2k_tar_writer;

/* Begin: caller owns *w (i2k_tar_writer_free); out must outlive it. */
int i2k_tar_writer_new(struct i2k_ostream out, struct i2k_tar_writer **w, struct i2k_error **err);
/* Adds a header (and pax header when needed). Regular files must then get
 * exactly e->size bytes through _data/_data_fd before the next add/finish.
 * Errors: empty or absolute path, unsupported file type, xattr name with
 * '=' or NUL → I2K_ERR_INTERNAL / I2K_ERR_UNSUPPORTED with the path. */
int i2k_tar_writer_add(struct i2k_tar_writer *w, const struct i2k_tar_entry *e,
		       struct i2k_error **err);
int i2k_tar_writer_data(struct i2k_tar_writer *w, const void *buf, size_t len,
			struct i2k_error **err);
int i2k_tar_writer_data_fd(struct i2k_tar_writer *w, int fd, uint64_t off, uint64_t len,
			   struct i2k_error **err);
/* Writes the two zero end blocks; no call is accepted afterwards. */
int i2k_tar_writer_finish(struct i2k_tar_writer *w, struct i2k_error **err);
uint64_t i2k_tar_writer_bytes(const struct i2k_tar_writer *w);
void i2k_tar_writer_free(struct i2k_tar_writer *w);
void i2k_tar_writer_freep(struct i2k_tar_writer **w);

/* Return true to write the entry (path relative, inode of the entry). */
typedef bool (*i2k_tar_filter_fn)(const char *path, const struct i2k_inode *ino, void *ctx);

struct i2k_tar_opts {
	i2k_tar_filter_fn filter; /* NULL = everything; true = write the entry */
	void *filter_ctx;
};

/* Finalizes the tree and writes every entry (sorted walk order, root not
 * written, filter applied) followed by the end blocks. A hard link whose
 * first name was filtered out is written in full at its first written name.
 * Checks i2k_check_interrupt per entry and while copying data. opts may be
 * NULL. */
int i2k_tar_write_tree(struct i2k_fstree *tree, const struct i2k_tar_opts *opts,
		       struct i2k_ostream out, struct i2k_error **err);

#endif
