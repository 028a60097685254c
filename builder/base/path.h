/* path.h — lexical normalisation of '/'-separated relative paths inside a
 * root (tar entry names, fstree paths), one copy for every caller.
 *
 * Purely lexical: nothing is looked up, symlinks are not followed, ".."
 * is reported, never resolved (callers refuse it: a path that needs ".."
 * to stay inside the root is as suspect as one that climbs out). */
#ifndef I2K_BUILDER_BASE_PATH_H
#define I2K_BUILDER_BASE_PATH_H

#include <stdbool.h>
#include <stddef.h>

struct i2k_path_info {
	size_t ncomp;	 /* components written to out */
	bool dot;	 /* a "." component was seen (and dropped) */
	bool dotdot;	 /* a ".." component was seen (kept in out) */
	bool escapes;	 /* some ".." climbs above the root, counting from it */
	const char *bad; /* first "." or ".." component in path (NULL if none) */
	size_t badlen;	 /* its length (1 or 2) */
};

/* Writes path's components to out joined by single '/': no leading,
 * trailing or repeated '/', "." components dropped, ".." kept as they are;
 * "" for the root ("", "/", "./"). out must hold strlen(path) + 1 bytes and
 * may not overlap path. info (required) says what was seen. */
void i2k_path_normalise(const char *path, char *out, struct i2k_path_info *info);

#endif
