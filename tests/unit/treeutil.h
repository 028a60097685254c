/* treeutil.h — building fstrees in the file-system writer tests (squashfs,
 * erofs): one spool per test program, entries added with their parents,
 * hard links, deterministic incompressible bytes. Header-only (static
 * functions); a failed add exits the program (the test cannot go on). */
#ifndef I2K_TESTS_UNIT_TREEUTIL_H
#define I2K_TESTS_UNIT_TREEUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/fstree/fstree.h"

/* The program's spool (main creates it). */
static struct i2k_spool *spool;

/* mode with root ownership and mtime 1700000000. */
static inline struct i2k_fattr attr(uint32_t mode)
{
	return (struct i2k_fattr){.mode = mode, .mtime = 1700000000};
}

static inline struct i2k_inode *add_bytes(struct i2k_fstree *t, const char *path,
					  const struct i2k_fattr *a, const void *data, size_t len,
					  const char *target)
{
	struct i2k_error *err = NULL;
	uint64_t off = 0;
	struct i2k_inode *ino = NULL;
	if (len > 0 && i2k_spool_append(spool, data, len, &off, &err) < 0)
		goto fail;
	if (i2k_fstree_add(t, path, a, target, off, len, I2K_FSTREE_MKPARENTS, &ino, &err) < 0)
		goto fail;
	return ino;
fail:
	fprintf(stderr, "  add %s: %s\n", path, err->msg);
	exit(1);
}

/* A file holding the string data_or_target, a symlink to it, or (NULL) an
 * empty file or a directory. */
static inline struct i2k_inode *add(struct i2k_fstree *t, const char *path, uint32_t mode,
				    const char *data_or_target)
{
	struct i2k_fattr a = attr(mode);
	if (S_ISLNK(mode))
		return add_bytes(t, path, &a, NULL, 0, data_or_target);
	return add_bytes(t, path, &a, data_or_target, data_or_target ? strlen(data_or_target) : 0,
			 NULL);
}

static inline void link_to(struct i2k_fstree *t, const char *path, const char *existing)
{
	struct i2k_error *err = NULL;
	if (i2k_fstree_link(t, path, existing, I2K_FSTREE_MKPARENTS, &err) < 0) {
		fprintf(stderr, "  link %s: %s\n", path, err->msg);
		exit(1);
	}
}

/* Deterministic pseudo-random bytes (incompressible). */
static inline void fill_random(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

#endif
