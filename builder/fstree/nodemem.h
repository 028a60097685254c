/* nodemem.h — file-backed memory for the tree's nodes.
 *
 * The fstree keeps file data in a spool file; this keeps its metadata
 * (inodes, directory entries with their names, directory tables, symlink
 * targets, xattrs) in one too, so that an image of millions of files does
 * not need millions of files' worth of process memory. Blocks come from
 * chunks of an unlinked temporary file in $TMPDIR (or /var/tmp), mapped
 * shared: every write lands in the page cache, which the kernel can write
 * out to the file and drop like any other file data.
 *
 * The process keeps mapped only what it used lately: when the pages of
 * the file it has mapped grow past a budget (I2K_NODEMEM_BUDGET above
 * what was mapped after the last trim, read from /proc/self/statm), all
 * chunks are unmapped from the page tables with MADV_DONTNEED (contents
 * stay in the page cache; the next access maps them back). Callers that
 * read many nodes without allocating (walks) call i2k_nodemem_touch() so
 * the check also runs then.
 *
 * Where the file cannot be made or grown (no $TMPDIR, a full disk, a file
 * system without fallocate), chunks are anonymous memory instead: slower
 * to page, never lost, never an error. Blocks never move: pointers into
 * them stay valid until freed.
 *
 * Process-wide (like malloc) and thread-safe. Blocks are 16-byte aligned
 * and zeroed on allocation. Running out of address space aborts, as
 * i2k_xmalloc does.
 */
#ifndef I2K_BUILDER_FSTREE_NODEMEM_H
#define I2K_BUILDER_FSTREE_NODEMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of mapped node pages above the last trim that trigger a trim. */
#define I2K_NODEMEM_BUDGET (4u << 20)

/* A zeroed block of size bytes (size 0 gives a 16-byte block). */
void *i2k_nodemem_alloc(size_t size);
/* Frees a block; size must be the size it was allocated (or grown) with.
 * NULL is ignored. */
void i2k_nodemem_free(void *p, size_t size);
/* A block of new_size holding the first min(old, new) bytes of p (p is
 * freed); bytes past old_size are zero. p NULL allocates. */
void *i2k_nodemem_realloc(void *p, size_t old_size, size_t new_size);
/* A copy of the NUL-terminated s (free with strlen(s) + 1); NULL → NULL. */
char *i2k_nodemem_strdup(const char *s);
/* A copy of n bytes. */
void *i2k_nodemem_memdup(const void *p, size_t n);

/* Frees every block at once and gives the file's space back (all but
 * one chunk, kept for the next blocks). For the
 * owner of all blocks: the fstree calls it when its last tree is freed
 * (other users hold blocks only while they hold a tree). */
void i2k_nodemem_free_all(void);

/* Says that about `nodes` nodes were read; every so often this checks the
 * mapped size against the budget and trims. Cheap: one add per call. */
void i2k_nodemem_touch(size_t nodes);
/* Unmaps every file-backed chunk's pages from this process now. */
void i2k_nodemem_trim(void);

struct i2k_nodemem_stats {
	size_t file_chunks, anon_chunks; /* chunks of each kind */
	size_t file_bytes, anon_bytes;	 /* their sizes */
	size_t in_use;			 /* bytes in allocated blocks */
	size_t trims;			 /* trims done so far */
};
void i2k_nodemem_stats(struct i2k_nodemem_stats *st);

#endif
