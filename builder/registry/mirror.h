/* mirror.h — registry mirrors: "REGISTRY=URL" as given to --mirror or
 * written one per line in a mirrors file.
 *
 *   docker.io=http://127.0.0.1:5001
 *   ghcr.io=https://mirror.lan/ghcr      # a path prefix before /v2/ is kept
 *
 * REGISTRY is a registry name as in an image reference ("docker.io",
 * "ghcr.io", "127.0.0.1:5000"; "index.docker.io" and
 * "registry-1.docker.io" mean docker.io). URL is http:// or https:// with a
 * host and an optional path; a trailing '/' is dropped. In a file, blank
 * lines and lines starting with '#' are ignored, and "#" after white space
 * starts a comment. The registry client (registry.h) tries a registry's
 * mirrors in the order given, then the registry itself.
 */
#ifndef I2K_BUILDER_REGISTRY_MIRROR_H
#define I2K_BUILDER_REGISTRY_MIRROR_H

#include <stddef.h>

#include "builder/base/error.h"

#define I2K_MIRRORS_FILE_MAX (1 << 20)
#define I2K_MIRRORS_MAX 256

struct i2k_mirror {
	const char *registry; /* normalised registry name */
	const char *url;      /* "http[s]://host[:port][/path]", no trailing '/' */
};

/* Parses one "REGISTRY=URL". *registry and *url are the caller's (free).
 * Errors: I2K_ERR_USAGE "invalid mirror \"SPEC\": why". */
int i2k_mirror_parse(const char *spec, char **registry, char **url, struct i2k_error **err);

/* A growable list of mirrors owning its strings. */
struct i2k_mirror_list {
	struct i2k_mirror *v;
	size_t n, cap;
};
/* Adds "REGISTRY=URL" (errors as i2k_mirror_parse). */
int i2k_mirror_list_add(struct i2k_mirror_list *l, const char *spec, struct i2k_error **err);
/* Adds every line of a mirrors file. Errors: I2K_ERR_CONFIG "PATH:LINE:
 * why", or the read error (I2K_ERR_IO / NOTFOUND naming PATH). */
int i2k_mirror_list_load(struct i2k_mirror_list *l, const char *path, struct i2k_error **err);
void i2k_mirror_list_clear(struct i2k_mirror_list *l);

#endif
