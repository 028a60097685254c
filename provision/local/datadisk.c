/* datadisk.c — see datadisk.h. */
#include "provision/local/datadisk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "formats/fs/ext4.h"
#include "formats/sink.h"

int i2k_local_data_disk(const char *path, uint64_t size_mb, struct i2k_error **err)
{
	_cleanup_free_ char *tmp = i2k_xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", tmp);
	struct i2k_fstree *tree = i2k_fstree_new(NULL);
	struct i2k_sink *sink = NULL;
	struct i2k_ext4_opts o = {.label = I2K_LOCAL_DATA_LABEL, .epoch = i2k_source_date_epoch()};
	/* a distinct file system UUID per disk path */
	struct i2k_sha256 *h = i2k_sha256_new();
	i2k_sha256_update(h, path, strlen(path));
	i2k_sha256_final_raw(h, o.uuid_seed);
	i2k_sha256_free(h);
	int rc = -1;
	if (i2k_sink_file_new(fd, 0, size_mb << 20, tmp, &sink, err) < 0 ||
	    i2k_ext4_write(tree, &o, sink, err) < 0 || i2k_sink_finish(sink, err) < 0)
		goto out;
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		i2k_error_errno(err, errno, I2K_ERR_IO, "%s", path);
		goto out;
	}
	rc = 0;
out:
	i2k_sink_free(sink);
	i2k_fstree_free(tree);
	if (rc < 0)
		unlink(tmp);
	return rc;
}
