/* ec2.h — the EC2 Query API calls i2kit needs for AMIs: RegisterImage,
 * DescribeImages, DeregisterImage, DescribeSnapshots (wait for completed),
 * DeleteSnapshot and CreateTags. Answers are parsed with libxml2 (the
 * parsers are exported for unit tests). Errors follow client.h.
 */
#ifndef I2K_PROVISION_AWS_EC2_H
#define I2K_PROVISION_AWS_EC2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "provision/aws/client.h"

#define I2K_EC2_TAG_NAME "i2kit:name"
#define I2K_EC2_TAG_DIGEST "i2kit:digest"
#define I2K_EC2_TAG_AMI "i2kit:ami" /* on a snapshot: the AMI registered from it */

struct i2k_ec2_tag {
	const char *key, *value;
};

struct i2k_ec2_image {
	char *id, *name, *state, *creation_date, *architecture, *boot_mode, *description;
	char *snapshot_id; /* root device's snapshot or NULL */
	char *tag_name;	   /* i2kit:name tag or NULL */
	char *tag_digest;  /* i2kit:digest tag or NULL */
};
void i2k_ec2_images_free(struct i2k_ec2_image *v, size_t n);

/* DescribeImages with Owner=self and, when given, Filter name=NAME; with
 * i2kit_only, Filter tag-key=i2kit:name. Sorted by name. *out owned by the
 * caller (i2k_ec2_images_free). */
int i2k_ec2_describe_images(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *name,
			    bool i2kit_only, struct i2k_ec2_image **out, size_t *n,
			    struct i2k_error **err);
/* The same, by image ids. */
int i2k_ec2_describe_image_ids(const struct i2k_aws *a, struct i2k_aws_conn *c,
			       const char *const *ids, size_t n_ids, struct i2k_ec2_image **out,
			       size_t *n, struct i2k_error **err);
/* Parses a DescribeImagesResponse (exported for tests). */
int i2k_ec2_parse_images(xmlDoc *doc, struct i2k_ec2_image **out, size_t *n,
			 struct i2k_error **err);

struct i2k_ec2_register {
	const char *name, *description;
	const char *architecture; /* "x86_64" | "arm64" */
	const char *boot_mode;	  /* "uefi" | "legacy-bios" */
	const char *snapshot_id;
	uint64_t volume_gib;
};
/* RegisterImage: RootDeviceName /dev/xvda, the snapshot as /dev/xvda (gp3,
 * DeleteOnTermination), hvm, EnaSupport, BootMode, ImdsSupport v2.0.
 * *ami is the caller's. code_out (optional): AWS error code on failure. */
int i2k_ec2_register_image(const struct i2k_aws *a, struct i2k_aws_conn *c,
			   const struct i2k_ec2_register *r, char **ami, char **code_out,
			   struct i2k_error **err);
int i2k_ec2_deregister_image(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *ami,
			     struct i2k_error **err);
int i2k_ec2_delete_snapshot(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
			    struct i2k_error **err);
int i2k_ec2_create_tags(const struct i2k_aws *a, struct i2k_aws_conn *c,
			const char *const *resources, size_t n_res, const struct i2k_ec2_tag *tags,
			size_t n_tags, struct i2k_error **err);
/* The ids of this account's snapshots tagged TAG=VALUE (DescribeSnapshots,
 * Owner self); skip_failed leaves out those in state "error". *out: caller
 * frees each and the array. */
int i2k_ec2_snapshots_by_tag(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *tag,
			     const char *value, bool skip_failed, char ***out, size_t *n,
			     struct i2k_error **err);
/* The snapshots to delete with image ami: those tagged i2kit:ami=AMI
 * (DescribeSnapshots, Owner self), or when there are none, fallback (the
 * image's root snapshot; may be NULL). *out: caller frees each and the
 * array. */
int i2k_ec2_image_snapshots(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *ami,
			    const char *fallback, char ***out, size_t *n, struct i2k_error **err);
/* DescribeSnapshots status ("pending", "completed", "error"); caller frees. */
int i2k_ec2_snapshot_state(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
			   char **state, struct i2k_error **err);
/* Polls until completed: waits 1 s, doubling up to 15 s, for at most
 * timeout_s (I2K_ERR_REGISTRY "snapshot S still STATE after N s"); state
 * "error" fails at once. */
int i2k_ec2_wait_snapshot(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *snap,
			  unsigned timeout_s, struct i2k_error **err);
/* Polls DescribeImages until the image is "available" (same backoff). */
int i2k_ec2_wait_image(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *ami,
		       unsigned timeout_s, struct i2k_error **err);

#endif
