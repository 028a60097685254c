/* sbom.c — the build's SBOM in the root and beside the outputs (contract
 * in sbom.h). */
#include "pipeline/sbom.h"

#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/spdx.h"

int i2k_build_sbom_root(const struct i2k_sbom *s, struct i2k_fstree *root, char **doc, size_t *len,
			struct i2k_error **err)
{
	struct i2k_spdx_opts so = {.name = I2K_BUILD_SBOM_NAME, .created = i2k_source_date_epoch()};
	_cleanup_free_ char *text = NULL;
	size_t n = 0;
	uint64_t off = 0;
	if (i2k_spdx_write(s, &so, &text, &n, err) < 0 ||
	    i2k_spool_append(i2k_fstree_spool(root), text, n, &off, err) < 0)
		return i2k_error_wrap(err, "SBOM");
	struct i2k_fattr at = {.mode = S_IFREG | 0644, .mtime = so.created};
	if (i2k_fstree_add(root, I2K_SPDX_ROOT_PATH, &at, NULL, off, n, I2K_FSTREE_REPLACE, NULL,
			   err) < 0)
		return i2k_error_wrap(err, "SBOM");
	*doc = I2K_STEAL(text);
	*len = n;
	return 0;
}

int i2k_build_sbom_file(const char *dir, const char *name, const char *doc, size_t len, bool hash,
			struct i2k_output_result *res, struct i2k_error **err)
{
	static const char *const suffix[] = {I2K_SPDX_SUFFIX};
	_cleanup_(i2k_output_group_freep) struct i2k_output_group *g = NULL;
	if (i2k_output_group_open(dir ? dir : ".", name, suffix, 1, hash, &g, err) < 0)
		return i2k_error_wrap(err, "SBOM");
	struct i2k_ostream os = i2k_output_stream(g, 0);
	if (i2k_ostream_write(os, doc, len, err) < 0 ||
	    i2k_output_group_commit(g, "sbom", res, err) < 0)
		return i2k_error_wrap(err, "SBOM");
	return 0;
}
