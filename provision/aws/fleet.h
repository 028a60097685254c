/* fleet.h — the read-only calls that look at a deployed service: EC2
 * DescribeAvailabilityZones, DescribeInstances and DescribeImages by tag,
 * ELBv2 DescribeTargetHealth, Auto Scaling DescribeAutoScalingGroups. The
 * parsers are exported for unit tests. Errors follow client.h.
 */
#ifndef I2K_PROVISION_AWS_FLEET_H
#define I2K_PROVISION_AWS_FLEET_H

#include <stddef.h>

#include "builder/base/error.h"
#include "provision/aws/client.h"
#include "provision/aws/ec2.h"

#define I2K_AWS_TAG_SERVICE "i2kit:service"
#define I2K_AWS_TAG_ENVIRONMENT "i2kit:environment"

/* Names of the region's available zones (zoneState "available"), sorted;
 * *out: caller frees each and the array. */
int i2k_fleet_zones(const struct i2k_aws *a, struct i2k_aws_conn *c, char ***out, size_t *n,
		    struct i2k_error **err);
int i2k_fleet_parse_zones(xmlDoc *doc, char ***out, size_t *n, struct i2k_error **err);

struct i2k_fleet_target {
	char *id, *state, *reason; /* reason may be NULL */
	unsigned port;
};
void i2k_fleet_targets_free(struct i2k_fleet_target *v, size_t n);
/* DescribeTargetHealth TargetGroupArn=arn. */
int i2k_fleet_target_health(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *arn,
			    struct i2k_fleet_target **out, size_t *n, struct i2k_error **err);
int i2k_fleet_parse_targets(xmlDoc *doc, struct i2k_fleet_target **out, size_t *n,
			    struct i2k_error **err);

struct i2k_fleet_instance {
	char *id, *lifecycle, *health, *zone, *type;  /* from Auto Scaling */
	char *image, *state, *private_ip, *public_ip; /* from EC2 (may be NULL) */
};
void i2k_fleet_instances_free(struct i2k_fleet_instance *v, size_t n);
/* The group's instances (DescribeAutoScalingGroups), completed with
 * DescribeInstances (AMI, state, addresses); *desired its DesiredCapacity. */
int i2k_fleet_group(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *group,
		    struct i2k_fleet_instance **out, size_t *n, unsigned *desired,
		    struct i2k_error **err);
int i2k_fleet_parse_group(xmlDoc *doc, struct i2k_fleet_instance **out, size_t *n,
			  unsigned *desired, struct i2k_error **err);
/* DescribeInstances for ids: fills image/state/addresses of the matching
 * entries of v (and for a stateful service's single instance, v may come
 * from the caller with only id set). */
int i2k_fleet_describe_instances(const struct i2k_aws *a, struct i2k_aws_conn *c,
				 struct i2k_fleet_instance *v, size_t n, struct i2k_error **err);
int i2k_fleet_parse_instances(xmlDoc *doc, struct i2k_fleet_instance *v, size_t n,
			      struct i2k_error **err);

/* DescribeImages Owner=self with tags i2kit:service=service and, when
 * given, i2kit:environment=env; *out as ec2.h. */
int i2k_fleet_service_images(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *service,
			     const char *env, struct i2k_ec2_image **out, size_t *n,
			     struct i2k_error **err);

#endif
