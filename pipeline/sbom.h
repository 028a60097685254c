/* sbom.h — the build's SBOM: made once from what assembly collected
 * (builder/sbom), put into the root where LinuxKit puts its own
 * (/sbom.spdx.json, formats/spdx.h) and written beside the outputs as
 * DIR/NAME.spdx.json. `build --no-sbom` does neither.
 *
 * The document is formats/spdx.h's: deterministic, created =
 * $SOURCE_DATE_EPOCH or 0 (i2k_source_date_epoch), so two builds of the
 * same inputs give the same bytes in the root and beside it.
 */
#ifndef I2K_PIPELINE_SBOM_H
#define I2K_PIPELINE_SBOM_H

#include <stddef.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "builder/sbom/sbom.h"
#include "formats/output.h"

/* The document's name (and its root package's). Not the output name: the
 * root's content must not depend on --name (build -s and a build of the
 * same template with another name give the same image). */
#define I2K_BUILD_SBOM_NAME "i2kit-root"

/* Serialises s and adds it to root as sbom.spdx.json (0644, root:root,
 * mtime SOURCE_DATE_EPOCH), replacing a file an image put there. *doc
 * (*len bytes) is the caller's. */
int i2k_build_sbom_root(const struct i2k_sbom *s, struct i2k_fstree *root, char **doc, size_t *len,
			struct i2k_error **err);

/* Writes doc as DIR/NAME.spdx.json (an output group of its own: temp
 * name, fsync, rename) and appends it to res with the format name "sbom"
 * (with its sha256 when hash). */
int i2k_build_sbom_file(const char *dir, const char *name, const char *doc, size_t len, bool hash,
			struct i2k_output_result *res, struct i2k_error **err);

#endif
