/* sbom.h — what an SBOM says about a build: every image with its digest and
 * the packages its package databases list.
 *
 * The assembler (builder/assemble) adds each image it fetched once, with
 * the tree it flattened from the image's layers (NULL when the image was
 * not flattened, e.g. a `format: oci` volume). The databases are read from
 * that final tree — whiteouts and later layers already applied, so the
 * content that counts is the one the image ends up with — out of the
 * tree's spool, where the layer data was just written: no layer is read or
 * decompressed again. Looked for in each tree (paths of pkgdb.h):
 *   lib/apk/db/installed, var/lib/dpkg/status, var/lib/dpkg/status.d/ *
 *   (regular files only; status.d's "*.md5sums" files are skipped).
 * The SPDX document is written from this by formats/spdx.h.
 */
#ifndef I2K_BUILDER_SBOM_SBOM_H
#define I2K_BUILDER_SBOM_SBOM_H

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/fstree/fstree.h"
#include "builder/sbom/pkgdb.h"

struct i2k_sbom_image {
	char *ref;     /* as written in the config */
	char *refname; /* canonical reference (REGISTRY/REPO:TAG[@DIGEST]) */
	char digest[I2K_DIGEST_LEN + 1];
	char *os, *arch; /* from the image config; NULL when unset */
	bool scanned;	 /* false: its tree was not looked at (not flattened) */
	struct i2k_pkg_list pkgs;
};

struct i2k_sbom {
	struct i2k_sbom_image *images;
	size_t n, cap;
};

/* An empty SBOM (caller frees). */
struct i2k_sbom *i2k_sbom_new(void);
void i2k_sbom_free(struct i2k_sbom *s);
void i2k_sbom_freep(struct i2k_sbom **s);

struct i2k_sbom_image_info {
	const char *ref, *refname, *digest; /* required */
	const char *os, *arch;		    /* optional */
};

/* Adds an image (strings copied) and, when tree != NULL, the packages of
 * its databases. Errors: a database over I2K_PKGDB_MAX_BYTES
 * (I2K_ERR_HOSTILE "PATH: N bytes, over the SBOM's limit of M"), a read
 * failure of the spool. */
int i2k_sbom_add_image(struct i2k_sbom *s, const struct i2k_sbom_image_info *info,
		       struct i2k_fstree *tree, struct i2k_error **err);

/* i2k_sbom_add_image() of a tree scanned earlier with i2k_sbom_scan_tree()
 * (for a tree that is gone by the time the SBOM is made): the packages are
 * taken from *pkgs, which is left empty. */
void i2k_sbom_add_scanned(struct i2k_sbom *s, const struct i2k_sbom_image_info *info,
			  struct i2k_pkg_list *pkgs);

/* Parses the databases found in tree into out (appended). Exposed for
 * tests; i2k_sbom_add_image uses it. */
int i2k_sbom_scan_tree(struct i2k_fstree *tree, struct i2k_pkg_list *out, struct i2k_error **err);

#endif
