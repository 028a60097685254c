/* cpio.h — "newc" (SVR4, magic 070701) cpio writer for initramfs images.
 *
 * Byte format of one entry (all numbers are 8 upper-case hex digits):
 *   "070701" ino mode uid gid nlink mtime filesize devmajor devminor
 *   rdevmajor rdevminor namesize check
 *   name + NUL, zero-padded so that header+name is a multiple of 4;
 *   data (filesize bytes), zero-padded to a multiple of 4.
 * The archive ends with an entry named "TRAILER!!!" (all fields 0 except
 * nlink = 1, namesize = 11), padded to 4 bytes and no further (no 512-byte
 * blocking as GNU cpio does: the kernel does not need it and the stream is
 * usually compressed next). Field choices:
 *   name      relative path without "./" or trailing '/' ("bin/sh"); the root
 *             directory itself is not written (as LinuxKit's initrds).
 *   ino       inode->ino from i2k_fstree_finalize (1-based, walk order):
 *             deterministic, equal for all names of a hard-linked file.
 *   mode      inode->mode (type + permission bits incl. suid/sgid/sticky).
 *   nlink     number of names of the inode written to THIS archive (an
 *             entry left out by the filter does not count); directories
 *             keep inode->nlink.
 *   mtime     inode->mtime clamped to 0..0xffffffff (nanoseconds dropped).
 *   filesize  regular file: its size (> 0xffffffff → I2K_ERR_UNSUPPORTED
 *             "PATH: file too large for cpio (N bytes, max 4 GiB - 1)");
 *             symlink: length of the target (the data is the target, no NUL);
 *             others 0.
 *   devmajor/devminor 0; rdevmajor/rdevminor from the inode for char/block
 *             devices, else 0; check 0.
 * Hard links: the FIRST name written for an inode carries the data, later
 *   names have filesize 0. That is what the kernel's unpacker expects
 *   (init/initramfs.c maybe_link(): the first name with nlink >= 2 is
 *   created with its data and remembered by (ino, major, minor, mode); later
 *   names become link()s to it) and GNU `cpio -i` extracts it correctly
 *   (it defers the size-0 names and links them at the end). GNU cpio -o puts
 *   the data on the LAST name instead; the kernel copes with that too, but
 *   the first-name layout lets the writer stream without look-ahead.
 *   (LinuxKit converts hard links to symlinks; i2kit keeps them as links.)
 * Sockets are written (the kernel mknod()s them); xattrs cannot be carried
 *   by newc and are dropped: i2k_cpio_write_tree warns once per archive
 *   ("cpio: N extended attributes dropped ...").
 */
#ifndef I2K_INITRD_CPIO_H
#define I2K_INITRD_CPIO_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "initrd/compress.h"

/* One entry for the low-level writer. */
struct i2k_cpio_entry {
	const char *name; /* relative path, no leading '/' */
	uint32_t ino;
	uint32_t mode; /* type | perms */
	uint32_t uid, gid;
	uint32_t nlink;
	int64_t mtime; /* clamped to 0..0xffffffff */
	uint32_t rdev_major, rdev_minor;
	uint64_t size; /* data bytes that follow (file data or symlink target) */
};

struct i2k_cpio_writer;

/* Begin: a writer emitting to out (borrowed; must outlive the writer).
 * Caller owns *w (i2k_cpio_writer_free). */
int i2k_cpio_writer_new(struct i2k_ostream out, struct i2k_cpio_writer **w, struct i2k_error **err);
/* Adds a header; exactly e->size data bytes must follow through
 * i2k_cpio_writer_data / _data_fd before the next add or finish (else
 * I2K_ERR_INTERNAL "cpio: ..."). A name that is empty, starts with '/' or is
 * longer than 4095 bytes is I2K_ERR_INTERNAL. */
int i2k_cpio_writer_add(struct i2k_cpio_writer *w, const struct i2k_cpio_entry *e,
			struct i2k_error **err);
int i2k_cpio_writer_data(struct i2k_cpio_writer *w, const void *buf, size_t len,
			 struct i2k_error **err);
/* Data read from fd at off (pread; bounded chunks). */
int i2k_cpio_writer_data_fd(struct i2k_cpio_writer *w, int fd, uint64_t off, uint64_t len,
			    struct i2k_error **err);
/* Writes the TRAILER!!! entry. No call is accepted afterwards. */
int i2k_cpio_writer_finish(struct i2k_cpio_writer *w, struct i2k_error **err);
/* Bytes written to out so far. */
uint64_t i2k_cpio_writer_bytes(const struct i2k_cpio_writer *w);
void i2k_cpio_writer_free(struct i2k_cpio_writer *w);
void i2k_cpio_writer_freep(struct i2k_cpio_writer **w);

/* Filter for i2k_cpio_write_tree: return true to write the entry. Called
 * for every entry except the root, in walk order. Leaving a directory out
 * does not leave out its children (filter them too). */
typedef bool (*i2k_cpio_filter_fn)(const char *path, const struct i2k_inode *ino, void *ctx);

struct i2k_cpio_tree_opts {
	i2k_cpio_filter_fn filter; /* NULL = everything */
	void *filter_ctx;
};

/* Finalizes tree (i2k_fstree_finalize) and writes a complete archive of
 * its entries (sorted walk order, root excluded, filter applied) ending
 * with the trailer. Checks i2k_check_interrupt for every entry. A standalone
 * archive of a subset (e.g. kernel/x86/microcode/... for an early ucode
 * cpio) is this call with a filter. opts may be NULL. */
int i2k_cpio_write_tree(struct i2k_fstree *tree, const struct i2k_cpio_tree_opts *opts,
			struct i2k_ostream out, struct i2k_error **err);

/* The LinuxKit initrd rule (src/cmd/linuxkit/initrd/initrd.go,
 * CopySplitTar): every entry whose path starts with "boot/" is left out of
 * the initrd (boot/kernel, boot/cmdline and boot/ucode.cpio are written as
 * separate outputs; the rest of boot/ is dropped); the "boot" directory
 * itself stays. Usable as an i2k_cpio_filter_fn (ctx unused). */
bool i2k_cpio_filter_linuxkit(const char *path, const struct i2k_inode *ino, void *ctx);

#endif
