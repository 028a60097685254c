/* fstree.h — the in-memory tree of a root file system.
 *
 * Every stage between "layers" and "output writer" talks through this:
 * builder/image applies layers into a tree, builder/assemble assembles the final
 * root from several trees, and the writers (tar, cpio, squashfs, ext4, ISO)
 * walk it in sorted order, which makes every output deterministic.
 *
 * Model: directory entries (names) point at inodes. An inode may be shared
 * by several entries (hard links) and even by several trees (grafting an
 * image twice stores its files once). File data is never held in memory:
 * it lives in a spool file (struct i2k_spool) as an extent (offset, size).
 * All trees that share inodes must share the same spool. The nodes
 * themselves (inodes, entries, names, directory tables, symlink targets,
 * xattrs) live in node memory (nodemem.h): a temporary file mapped in
 * pieces, so that the process keeps about the same memory for a tree of
 * 25,000 files as for one of a million.
 *
 * Paths are relative to the root, '/'-separated, without leading '/', e.g.
 * "usr/bin/env"; "" (or "/") names the root. Functions that take a path
 * normalise repeated and trailing slashes and reject "." and ".." components
 * with I2K_ERR_HOSTILE. Symlinks are never followed by this API: a path
 * component that is a symlink is an error (I2K_ERR_HOSTILE) — that is what
 * stops layers and files: from writing through a link out of the root.
 */
#ifndef I2K_BUILDER_FSTREE_FSTREE_H
#define I2K_BUILDER_FSTREE_FSTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "builder/base/error.h"

/* ---- spool: append-only store of file contents (see spool.h) -------- */
#include "builder/fstree/spool.h"

/* ---- inodes -------------------------------------------------------------- */
struct i2k_xattr {
	char *name;  /* e.g. "security.capability", "user.x" */
	void *value; /* binary, owned */
	size_t len;
};

struct i2k_inode {
	uint32_t mode; /* S_IF* type | permissions (incl. suid/sgid/sticky) */
	uint32_t uid, gid;
	uint32_t mark;			 /* internal: scratch of a walk (see i2k_fstree_walk) */
	int64_t mtime;			 /* seconds since epoch */
	uint32_t mtime_ns;		 /* nanoseconds (usually 0) */
	uint32_t rdev_major, rdev_minor; /* char/block devices */
	uint32_t nxattrs;		 /* (with the fields below: 96 bytes in all) */
	char *target;			 /* symlink target (owned), NULL otherwise */
	uint64_t size;			 /* regular file size */
	uint64_t data_off;		 /* spool offset of the data (regular files) */
	struct i2k_xattr *xattrs;	 /* nxattrs, sorted by name, owned */
	/* Set by i2k_fstree_finalize() for the tree being written; shared
	 * inodes carry the values of the last finalized tree. */
	uint64_t ino;	 /* 1-based, in walk order of first appearance */
	uint32_t nlink;	 /* entries in the finalized tree pointing here (dirs: 2 + subdirs) */
	uint32_t refcnt; /* internal */
	uint32_t fin;	 /* internal: the i2k_fstree_finalize() that numbered it */
};

struct i2k_fstree;
struct i2k_dentry; /* opaque directory entry */

/* New tree holding only a root directory (mode 0755, uid/gid 0, mtime from
 * i2k_source_date_epoch()). The spool is borrowed and must outlive the tree. */
struct i2k_fstree *i2k_fstree_new(struct i2k_spool *spool);
void i2k_fstree_free(struct i2k_fstree *t);
void i2k_fstree_freep(struct i2k_fstree **t);
struct i2k_spool *i2k_fstree_spool(struct i2k_fstree *t);

/* Attributes for adding an entry. mode must include the file type. */
struct i2k_fattr {
	uint32_t mode, uid, gid;
	int64_t mtime;
	uint32_t mtime_ns;
	uint32_t rdev_major, rdev_minor;
};

enum i2k_fstree_add_flags {
	I2K_FSTREE_MKPARENTS = 1 << 0, /* create missing parents (0755 root:root, tree mtime) */
	I2K_FSTREE_REPLACE = 1 << 1,   /* replace an existing entry (a dir is replaced only
					  by a dir, keeping its children, unless the new entry
					  is not a dir: then the old subtree is removed) */
};
/* Note on REPLACE of a dir by a dir: mode, uid, gid, mtime are the new
 * entry's and its xattrs are cleared (set the new entry's xattrs afterwards),
 * as when a tar layer re-declares a directory. */

/* Adds (or replaces) one entry. For regular files data_off/size come from
 * the spool (or size 0). For symlinks `target` is copied. Returns the new
 * inode (owned by the tree; valid until the entry is removed or the tree is
 * freed) through *out if out != NULL.
 * Without I2K_FSTREE_REPLACE an existing entry is an error (I2K_ERR_CONFIG
 * "PATH: already exists"). Layer application uses REPLACE|MKPARENTS, which
 * gives OCI semantics: a non-dir replaces anything; a dir over a dir merges
 * (the attributes are updated). */
int i2k_fstree_add(struct i2k_fstree *t, const char *path, const struct i2k_fattr *attr,
		   const char *target, uint64_t data_off, uint64_t size, unsigned flags,
		   struct i2k_inode **out, struct i2k_error **err);

/* Adds a hard link: `path` becomes another name for the inode at
 * `existing` (which must exist and must not be a directory). REPLACE/MKPARENTS
 * as above. */
int i2k_fstree_link(struct i2k_fstree *t, const char *path, const char *existing, unsigned flags,
		    struct i2k_error **err);

/* Removes path and everything under it. Missing → 0 when missing_ok. */
int i2k_fstree_remove(struct i2k_fstree *t, const char *path, bool missing_ok,
		      struct i2k_error **err);
/* Removes every child of a directory (opaque whiteout). */
int i2k_fstree_clear_dir(struct i2k_fstree *t, const char *path, struct i2k_error **err);

/* ---- layers (added): whiteouts hide lower layers only ------------------- *
 * Every entry remembers the generation that last added, replaced, linked or
 * merged it (a directory also takes the generation of anything added below
 * it). A layer calls i2k_fstree_begin_layer() first; its whiteouts then
 * remove only what earlier generations put there, so a layer's own entries
 * survive its whiteouts wherever the whiteout appears in the tar (OCI image
 * spec: "whiteouts apply to lower layers only"). */
void i2k_fstree_begin_layer(struct i2k_fstree *t);
/* opaque=false (".wh.NAME"): removes what earlier generations put at path —
 * the whole entry if the current generation did not touch it, else (a dir)
 * recursively the untouched parts below it. opaque=true (".wh..wh..opq" in
 * dir path): the same for every child of path; path itself stays. A missing
 * path, or one under a symlink or a non-directory, is a no-op (returns 0):
 * nothing of a lower layer is visible there. Invalid paths ("..") →
 * I2K_ERR_HOSTILE. */
int i2k_fstree_whiteout(struct i2k_fstree *t, const char *path, bool opaque,
			struct i2k_error **err);

/* Looks up path (no symlink following). NULL if absent or if a component
 * is not a directory. */
struct i2k_inode *i2k_fstree_lookup(struct i2k_fstree *t, const char *path);

/* Calls cb(name, inode, ctx) for each child of the directory at path, in
 * name order (no symlink following). A missing path or one that is not a
 * directory has no children: returns 0 without calling cb. A non-zero
 * return from cb stops the listing and is returned. cb must not modify t. */
typedef int (*i2k_readdir_fn)(const char *name, struct i2k_inode *ino, void *ctx);
int i2k_fstree_readdir(struct i2k_fstree *t, const char *path, i2k_readdir_fn cb, void *ctx);

/* Sets/replaces one xattr on an inode (value copied). */
void i2k_inode_set_xattr(struct i2k_inode *ino, const char *name, const void *value, size_t len);

/* Copies the whole of src (its root's children) under dst_path in dst,
 * creating dst_path as a directory (with src's root attributes) if absent,
 * merging into it if present. Inodes are shared, not copied: every regular
 * file in dst afterwards is a hard link of the one in src. Both trees must
 * use the same spool. src stays valid and unchanged. */
int i2k_fstree_graft(struct i2k_fstree *dst, const char *dst_path, struct i2k_fstree *src,
		     struct i2k_error **err);

/* i2k_fstree_graft() of only part of src: keep(path, inode, ctx) is asked
 * about every entry of src (path relative to src's root, e.g. "usr/lib",
 * parents before children); an entry it returns false for is left out with
 * everything below it. Copying a tree without some of its entries this way
 * costs only what is kept (a copy followed by removals holds both). */
typedef bool (*i2k_graft_keep_fn)(const char *path, const struct i2k_inode *ino, void *ctx);
int i2k_fstree_graft_some(struct i2k_fstree *dst, const char *dst_path, struct i2k_fstree *src,
			  i2k_graft_keep_fn keep, void *ctx, struct i2k_error **err);

/* i2k_fstree_graft() that moves src's entries into dst instead of copying
 * them (the same result in dst, with one set of entries in memory): src is
 * left empty (its root only). For a tree that is not needed afterwards. */
int i2k_fstree_graft_take(struct i2k_fstree *dst, const char *dst_path, struct i2k_fstree *src,
			  struct i2k_error **err);

/* A read-only view of src without some of its top-level entries: a tree
 * whose root lists the top-level entries of src that keep(name, inode, ctx)
 * wants (all when keep is NULL) and shares everything below them with src:
 * nothing is copied. Its root directory has the attributes of a new tree's
 * root (as after i2k_fstree_graft() into a new tree). The caller owns the
 * view (i2k_fstree_free()); src must outlive it and must not change while
 * it is used. The view cannot be changed: add, link, remove, clear_dir,
 * whiteout and grafts into it fail (I2K_ERR_INTERNAL). Lookups, readdir,
 * walks, finalize, count and list work as on any tree. */
struct i2k_fstree *i2k_fstree_view(struct i2k_fstree *src, i2k_graft_keep_fn keep, void *ctx);

/* Assigns ino and nlink on every inode reachable from t, in sorted walk
 * order. Call before walking for output. Does nothing when t has not
 * changed since its last finalize and no other tree was finalized since
 * (the numbers are still t's). */
void i2k_fstree_finalize(struct i2k_fstree *t);

/* Sorted depth-first pre-order walk (children by strcmp of name). path is
 * "" for the root (visited first when include_root), then e.g. "bin",
 * "bin/sh". `first` is true the first time an inode is visited in this walk
 * (false for later hard links: writers emit those as links to the path
 * where it was first seen — see i2k_fstree_walk's link_path argument).
 * A non-zero return from cb stops the walk and is returned.
 * Memory: the walk keeps a path only for inodes with several names in t
 * (found by a first pass that marks inodes in their `mark` field, or, when
 * t's finalize numbers are still its own, from nlink), so walks of trees
 * that share inodes must not run at the same time in two threads (a walk
 * from inside another walk's callback is fine). */
struct i2k_walk_entry {
	const char *path; /* relative path, valid only during the callback */
	const char *name; /* last component ("" for root) */
	struct i2k_inode *inode;
	bool first;	       /* first visit of this inode in this walk */
	const char *link_path; /* when !first: path of the first visit */
	unsigned depth;	       /* 0 for root */
};
/* The callback must not modify the tree. */
typedef int (*i2k_walk_fn)(const struct i2k_walk_entry *e, void *ctx);
int i2k_fstree_walk(struct i2k_fstree *t, bool include_root, i2k_walk_fn cb, void *ctx);

/* Number of entries (including the root). */
size_t i2k_fstree_count(struct i2k_fstree *t);

/* Reads file data of a regular inode (off within the file). */
int i2k_fstree_read(struct i2k_fstree *t, const struct i2k_inode *ino, uint64_t off, void *buf,
		    size_t len, struct i2k_error **err);

/* Writes the listing format of fixtures/expected/ (fixtures/ocitool.py's
 * `listing`) to f — used by tests to compare a tree with an expected listing.
 * One line per entry except the root:
 *   PATH TYPE MODE UID GID EXTRA[ xattr:NAME=HEX]...
 * PATH is "/"-prefixed; every byte outside 0x21..0x7e, and '\\', is written
 * as \xNN (also in NAME and symlink targets). Lines are sorted by the
 * escaped PATH (bytewise). TYPE: f d l c b p s, or h for a regular file
 * whose inode was already listed on an earlier line. MODE: 4 octal digits
 * (permissions + suid/sgid/sticky). EXTRA: "SIZE SHA256HEX" for f, the
 * target for l, "MAJOR,MINOR" for c/b, the first line's PATH for h, "-"
 * otherwise. xattrs (not on h lines) are sorted by name, values in hex. */
int i2k_fstree_list(struct i2k_fstree *t, FILE *f, struct i2k_error **err);

#endif
