/* files.h — the `files:` section, with LinuxKit's rules: paths relative to
 * the root; default mode 0600 (0700 for directories); missing parent
 * directories get the entry's owner and its mode with the matching x bits
 * added; exactly one of directory / symlink / contents / source / metadata;
 * source "~/..." is under the home directory; optional sources that cannot
 * be read are skipped; metadata: yaml|json writes the whole configuration. */
#ifndef I2K_BUILDER_ASSEMBLE_FILES_H
#define I2K_BUILDER_ASSEMBLE_FILES_H

#include "builder/base/error.h"
#include "builder/bundle/bundle.h"
#include "builder/config/config.h"
#include "builder/fstree/fstree.h"

/* Adds every files: entry of cfg to root. ids maps container names to
 * uid/gid (i2k_idmap_add_config). home NULL → $HOME. */
int i2k_build_files(const struct i2k_config *cfg, struct i2k_fstree *root, struct i2k_spool *spool,
		    struct i2k_idmap *ids, const char *home, struct i2k_error **err);

/* Converts a YAML document to indented JSON (plain scalars true/false →
 * booleans, integers → numbers, null/~ → null, everything else strings).
 * Caller frees *out. */
int i2k_yaml_to_json(const char *yaml, size_t len, char **out, struct i2k_error **err);

#endif
