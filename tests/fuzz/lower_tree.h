/* lower_tree.h — the small lower layer the layer harnesses (fuzz_tar,
 * fuzz_layerlog) apply onto, so whiteouts, replacements and hard links have
 * something to hit: etc/passwd, a/b/c (files), lnk -> /etc. Header-only. */
#ifndef I2K_TESTS_FUZZ_LOWER_TREE_H
#define I2K_TESTS_FUZZ_LOWER_TREE_H

#include <sys/stat.h>

#include "builder/fstree/fstree.h"

static struct i2k_fstree *lower_tree(struct i2k_spool *sp)
{
	struct i2k_fstree *t = i2k_fstree_new(sp);
	struct i2k_fattr d = {.mode = S_IFDIR | 0755}, f = {.mode = S_IFREG | 0644},
			 l = {.mode = S_IFLNK | 0777};
	uint64_t off = 0;
	i2k_spool_append(sp, "lower", 5, &off, NULL);
	const unsigned fl = I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE;
	i2k_fstree_add(t, "etc", &d, NULL, 0, 0, fl, NULL, NULL);
	i2k_fstree_add(t, "etc/passwd", &f, NULL, off, 5, fl, NULL, NULL);
	i2k_fstree_add(t, "a/b/c", &f, NULL, off, 5, fl, NULL, NULL);
	i2k_fstree_add(t, "lnk", &l, "/etc", 0, 0, fl, NULL, NULL);
	return t;
}

#endif
