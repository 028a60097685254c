/* datasnap.h — the initial content of a stateful service's data volume on
 * AWS: an EBS snapshot holding the empty ext4 file system labelled
 * "i2kit-data" that provision/local/datadisk.h writes (the guest init
 * mounts only that label). The stack's DataVolume is made from it
 * (stack_template.h, data_snapshot_id).
 *
 * One per service and environment, made once and reused: the volume's
 * SnapshotId must not change between deploys (that would replace the
 * volume). Found by the tag i2kit:data = SERVICE-ENV (status completed);
 * else the file system is written to a sparse temporary file of `gib` GiB,
 * its non-zero 512 KiB blocks are uploaded with the EBS direct APIs
 * (StartSnapshot with the tags i2kit:data, i2kit:service,
 * i2kit:environment; PutSnapshotBlock; CompleteSnapshot with the LINEAR
 * aggregate checksum), and the snapshot is waited for. A failure deletes
 * the snapshot it started.
 */
#ifndef I2K_PROVISION_AWS_DATASNAP_H
#define I2K_PROVISION_AWS_DATASNAP_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"
#include "provision/aws/client.h"

#define I2K_AWS_TAG_DATA "i2kit:data"

/* *snap (caller frees) is the snapshot id; *made says it was created now. */
int i2k_aws_data_snapshot(const struct i2k_aws *a, const char *service, const char *env,
			  unsigned gib, char **snap, bool *made, struct i2k_error **err);
/* The data snapshots of service/env (tag i2kit:data); *out: caller frees
 * each and the array. */
int i2k_aws_data_snapshots(const struct i2k_aws *a, const char *service, const char *env,
			   char ***out, size_t *n, struct i2k_error **err);

#endif
