/* datasnap.c — the data volume's initial snapshot (see datasnap.h). */
#include "provision/aws/datasnap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/aws/ebs.h"
#include "provision/aws/ec2.h"
#include "provision/aws/fleet.h"
#include "provision/local/datadisk.h"

int i2k_aws_data_snapshots(const struct i2k_aws *a, const char *service, const char *env,
			   char ***out, size_t *n, struct i2k_error **err)
{
	_cleanup_free_ char *key = i2k_xasprintf("%s-%s", service, env);
	return i2k_ec2_snapshots_by_tag(a, NULL, I2K_AWS_TAG_DATA, key, true, out, n, err);
}

static bool all_zero(const uint8_t *b, size_t n)
{
	return b[0] == 0 && memcmp(b, b + 1, n - 1) == 0;
}

/* Uploads the non-zero blocks of fd (size bytes) into snap; *changed and
 * the LINEAR aggregate for CompleteSnapshot. */
static int upload(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap, int fd,
		  uint64_t size, uint64_t *changed, uint8_t aggregate[32], struct i2k_error **err)
{
	EVP_MD_CTX *agg = EVP_MD_CTX_new();
	if (!agg || EVP_DigestInit_ex(agg, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(agg);
		return i2k_error_set(err, I2K_ERR_INTERNAL, "EVP_DigestInit_ex");
	}
	uint8_t *buf = i2k_xmalloc(I2K_EBS_BLOCK);
	int rc = 0;
	*changed = 0;
	for (uint64_t idx = 0; idx * I2K_EBS_BLOCK < size && rc == 0; idx++) {
		off_t off = (off_t)(idx * I2K_EBS_BLOCK);
		off_t data = lseek(fd, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* only a hole remains */
		if (data >= 0 && (uint64_t)data >= (idx + 1) * I2K_EBS_BLOCK) {
			idx = (uint64_t)data / I2K_EBS_BLOCK - 1; /* skip the hole */
			continue;
		}
		memset(buf, 0, I2K_EBS_BLOCK);
		ssize_t got = pread(fd, buf, I2K_EBS_BLOCK, off);
		if (got < 0) {
			rc = i2k_error_errno(err, errno, I2K_ERR_IO, "reading the data disk");
			break;
		}
		if (all_zero(buf, I2K_EBS_BLOCK))
			continue;
		uint8_t d[32];
		unsigned dl = 0;
		EVP_Digest(buf, I2K_EBS_BLOCK, d, &dl, EVP_sha256(), NULL);
		EVP_DigestUpdate(agg, d, sizeof(d));
		rc = i2k_ebs_put_block(a, c, snap, idx, buf, d, err);
		(*changed)++;
	}
	free(buf);
	unsigned al = 0;
	EVP_DigestFinal_ex(agg, aggregate, &al);
	EVP_MD_CTX_free(agg);
	return rc;
}

static int make_snapshot(const struct i2k_aws *a, const char *service, const char *env,
			 unsigned gib, char **snap_out, struct i2k_error **err)
{
	const char *tdir = getenv("TMPDIR");
	_cleanup_free_ char *dir =
	    i2k_xasprintf("%s/i2kit-data-XXXXXX", tdir && *tdir ? tdir : "/tmp");
	if (!mkdtemp(dir))
		return i2k_error_errno(err, errno, I2K_ERR_IO, "mkdtemp %s", dir);
	_cleanup_free_ char *path = i2k_xasprintf("%s/data.img", dir);
	_cleanup_free_ char *key = i2k_xasprintf("%s-%s", service, env);
	_cleanup_free_ char *desc = i2k_xasprintf("i2kit data volume of %s (empty ext4)", key);
	_cleanup_(i2k_aws_conn_freep) struct i2k_aws_conn *c = i2k_aws_conn_new();
	char *snap = NULL;
	int fd = -1, rc = -1;
	uint64_t size = (uint64_t)gib << 30, changed = 0;
	uint8_t aggregate[32];
	_cleanup_free_ char *status = NULL;
	const struct i2k_ec2_tag tags[] = {{I2K_AWS_TAG_DATA, key},
					   {I2K_AWS_TAG_SERVICE, service},
					   {I2K_AWS_TAG_ENVIRONMENT, env}};
	struct i2k_ebs_start st = {
	    .volume_gib = gib, .description = desc, .tags = tags, .n_tags = 3};
	uint32_t bs = 0;
	if (i2k_local_data_disk(path, (uint64_t)gib * 1024, err) < 0)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		i2k_error_errno(err, errno, I2K_ERR_IO, "%s", path);
		goto out;
	}
	if (i2k_ebs_start_snapshot(a, c, &st, &snap, &bs, err) < 0)
		goto out;
	if (upload(a, c, snap, fd, size, &changed, aggregate, err) < 0 ||
	    i2k_ebs_complete(a, c, snap, changed, aggregate, &status, err) < 0 ||
	    i2k_ec2_wait_snapshot(a, c, snap, 3600, err) < 0 ||
	    i2k_ec2_create_tags(a, c, (const char *const *)&snap, 1, tags, 3, err) < 0) {
		i2k_aws_set_uninterruptible(true);
		i2k_ec2_delete_snapshot(a, c, snap, NULL);
		i2k_aws_set_uninterruptible(false);
		goto out;
	}
	*snap_out = I2K_STEAL(snap);
	rc = 0;
out:
	free(snap);
	if (fd >= 0)
		close(fd);
	i2k_rm_rf(dir, NULL);
	return rc;
}

int i2k_aws_data_snapshot(const struct i2k_aws *a, const char *service, const char *env,
			  unsigned gib, char **snap, bool *made, struct i2k_error **err)
{
	*snap = NULL;
	*made = false;
	char **v = NULL;
	size_t n = 0;
	if (i2k_aws_data_snapshots(a, service, env, &v, &n, err) < 0)
		return -1;
	if (n > 0) {
		*snap = v[0];
		for (size_t i = 1; i < n; i++)
			free(v[i]);
		free(v);
		return 0;
	}
	free(v);
	if (make_snapshot(a, service, env, gib, snap, err) < 0)
		return i2k_error_wrap(err, "the data volume's snapshot");
	*made = true;
	return 0;
}
