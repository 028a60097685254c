/* treeutil.h — building fstrees in the file-system writer tests (squashfs,
 * erofs): one spool per test program, entries added with their parents,
 * hard links, deterministic incompressible bytes, the fixture images
 * (build/fixtures/oci) flattened into trees. Header-only (static
 * functions); a failed add exits the program (the test cannot go on). */
#ifndef I2K_TESTS_UNIT_TREEUTIL_H
#define I2K_TESTS_UNIT_TREEUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <unistd.h>

#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"
#include "builder/store/store.h"

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

/* $I2K_FIXTURES/REL, else $I2K_REPO/build/fixtures/REL (caller frees). */
static inline char *fixture_path(const char *rel)
{
	const char *fx = getenv("I2K_FIXTURES");
	if (fx && *fx)
		return i2k_xasprintf("%s/%s", fx, rel);
	const char *repo = getenv("I2K_REPO");
	return i2k_xasprintf("%s/build/fixtures/%s", repo ? repo : ".", rel);
}

/* Opens the fixture store into *st: 1 when it is there; 0 when it is not
 * (prints a NOTE: the fixture tests do not run); -1 when it is not but
 * I2K_REQUIRE_FIXTURES=1 (prints "FAIL: PROG/fixtures: ..."). */
static inline int fixture_store_open(const char *prog, struct i2k_store **st)
{
	char *oci = fixture_path("oci");
	char *complete = fixture_path("oci/.complete");
	struct i2k_error *e = NULL;
	int r = 1;
	if (access(complete, F_OK) != 0 || i2k_store_open(oci, st, &e) < 0) {
		const char *req = getenv("I2K_REQUIRE_FIXTURES");
		r = req && strcmp(req, "1") == 0 ? -1 : 0;
		if (r < 0)
			printf("FAIL: %s/fixtures: %s missing (%s); run `make fixtures`\n", prog,
			       oci, e ? e->msg : "no .complete");
		else
			printf("NOTE: fixture missing (%s): fixture test not run\n", oci);
	}
	i2k_error_free(e);
	free(oci);
	free(complete);
	return r;
}

/* The fixture image ref (e.g. "layers:latest") flattened into a new tree
 * on the program's spool (caller frees); NULL with a message on stderr. */
static inline struct i2k_fstree *fixture_tree(struct i2k_store *st, const char *ref)
{
	struct i2k_store_ref r = {0};
	struct i2k_error *e = NULL;
	struct i2k_image *img = NULL;
	struct i2k_fstree *t = NULL;
	if (i2k_store_ref_get(st, ref, &r, &e) == 1 &&
	    i2k_image_load(st, r.desc.digest, &img, &e) == 0) {
		t = i2k_fstree_new(spool);
		if (i2k_image_flatten(img, st, t, NULL, &e) < 0) {
			i2k_fstree_free(t);
			t = NULL;
		}
	}
	if (t == NULL)
		fprintf(stderr, "  fixture %s: %s\n", ref, e ? e->msg : "not found");
	i2k_error_free(e);
	i2k_image_free(img);
	i2k_store_ref_clear(&r);
	return t;
}

#endif
