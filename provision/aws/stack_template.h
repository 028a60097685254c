/* stack_template.h — the CloudFormation templates i2kit deploys, made
 * in-process as JSON: one stack per environment ("ENV") and one per service
 * ("SERVICE-ENV"). Pure functions of their arguments: no I/O, no clock, no
 * randomness; the JSON is printed with sorted keys and a 2-space indent, so
 * two calls with the same arguments give byte-identical text.
 *
 * Every taggable resource carries i2kit:environment = ENV, and in the
 * service stack also i2kit:service = SERVICE (the ASG propagates both to
 * its instances; the launch template tags instances and volumes).
 *
 * Environment stack (i2k_stack_env_template)
 *   Without provider.vpc/subnets in environment.yml: a VPC 10.192.0.0/16
 *   (DNS support + hostnames), an internet gateway and its attachment, one
 *   route table with 0.0.0.0/0 → the gateway, and one public /24 subnet per
 *   availability zone (10.192.I.0/24, MapPublicIpOnLaunch) associated with
 *   that table. The zones are in->azs; when nazs is 0 the template spreads
 *   over the region's first two zones with Fn::GetAZs (what `i2kit template`
 *   prints, since it asks AWS nothing).
 *   With provider.vpc and provider.subnets (both or neither, else an
 *   I2K_ERR_CONFIG error): no network resources; the outputs echo them.
 *   Always: InternalSecurityGroup, which admits all traffic from its own
 *   members: every service instance joins it, so services reach each other
 *   and non-public balancers admit only them.
 *   Outputs:
 *     VpcId                    the VPC id
 *     SubnetIds                the subnet ids, comma-joined, in AZ order
 *     InternalSecurityGroupId  the internal security group's id
 *
 * Service stack (i2k_stack_service_template), by kind of service:
 *   Common: the instances' ports are every container's ports; two ports
 *   with the same (balancer) port are an I2K_ERR_CONFIG error. Instance
 *   type: service instance_type > provider.instance_type >
 *   I2K_STACK_DEFAULT_INSTANCE_TYPE. Key pair: provider.keypair (none when
 *   absent). Instances are in the internal security group, in
 *   provider.security_group when set, and (with ports) in InstanceSecurityGroup.
 *   IMDSv2 is required (MetadataOptions HttpTokens "required", hop limit 1).
 *   User data: in->user_data through Fn::Base64 (omitted when NULL); more
 *   than I2K_STACK_USER_DATA_MAX bytes, or text that is not UTF-8, is an
 *   I2K_ERR_CONFIG error.
 *
 *   Replicated (not stateful):
 *     LaunchTemplate          AMI, type, key, groups, IMDSv2, user data,
 *                             tags for the instance and its volumes
 *     AutoScalingGroup        Min = Max = Desired = replicas, the launch
 *                             template's latest version, the subnets;
 *                             HealthCheckType ELB (EC2 when there is no
 *                             balancer), grace 120 s; UpdatePolicy
 *                             AutoScalingRollingUpdate MaxBatchSize 1,
 *                             MinInstancesInService replicas - 1 (0 for one
 *                             replica: the update cannot keep it while Max =
 *                             replicas), PauseTime PT1M
 *     LoadBalancer            only when there are ports. "application" when
 *                             every port is http/https, "network" when every
 *                             port is tcp/ssl; mixing the two is an
 *                             I2K_ERR_CONFIG error (one balancer, one DNS
 *                             name per service). Scheme internet-facing when
 *                             public, else internal. An ALB needs two or more
 *                             subnets (checked when they are known).
 *     Listener<PORT>          HTTP/HTTPS (ALB) or TCP/TLS (NLB); HTTPS and TLS
 *                             take the port's certificate, else
 *                             provider.certificate, else I2K_ERR_CONFIG; TLS
 *                             policy I2K_STACK_SSL_POLICY
 *     TargetGroup<PORT>       instance port and protocol (HTTP/HTTPS, or
 *                             TCP/TLS), target type instance, 30 s
 *                             deregistration delay. Health check from the
 *                             container's healthcheck: with a path, HTTP(S) GET
 *                             of it, codes 200-399; without, TCP on an NLB,
 *                             and on an ALB (which has no TCP checks) GET / with
 *                             codes 200-499 ("it answers HTTP"). Interval and
 *                             timeout rounded up to seconds, interval clamped to
 *                             5..300, timeout to 2..120 and below the interval;
 *                             2 healthy / 2 unhealthy.
 *     BalancerSecurityGroup   ingress TCP on each listener port from
 *                             0.0.0.0/0 when public, else from the internal
 *                             group only.
 *     InstanceSecurityGroup   ingress TCP on each instance port from the
 *                             balancer's group only — for the NLB too: NLBs
 *                             take security groups (set at creation), and a
 *                             rule naming the NLB's group admits its traffic
 *                             and health checks even with client IP
 *                             preservation on, while clients cannot reach the
 *                             instances directly (a VPC-CIDR rule would admit
 *                             every host in the VPC, and with given subnets the
 *                             CIDR is unknown here).
 *     DnsRecord               with provider.hosted_zone: an A alias
 *                             SERVICE.ENV.ZONE. → the balancer (GetAtt DNSName
 *                             and CanonicalHostedZoneID). provider.hosted_zone
 *                             is the zone's domain name (HostedZoneName; a
 *                             trailing dot is optional), not its id: the record
 *                             name is made from it.
 *   Stateful (replicas is 1):
 *     Instance                AWS::EC2::Instance in the first subnet with the
 *                             same AMI, type, key, groups, IMDSv2, user data
 *     ElasticIp               AWS::EC2::EIP (domain vpc) on the instance
 *     DataVolume              AWS::EC2::Volume gp3 of in->data_volume_gib
 *                             (0 → I2K_STACK_DEFAULT_DATA_GIB) in the
 *                             instance's zone, from in->data_snapshot_id when
 *                             set; DeletionPolicy and UpdateReplacePolicy
 *                             Snapshot, so its data outlives the stack. The
 *                             guest init mounts only an ext4 labelled
 *                             "i2kit-data" (initrd/init/datadisk.h), so deploy
 *                             should pass a snapshot holding one (the empty
 *                             file system provision/local/datadisk.h writes,
 *                             pushed with the EBS direct APIs); a blank volume
 *                             is attached but never mounted.
 *     DataVolumeAttachment    as I2K_STACK_DATA_DEVICE
 *     InstanceSecurityGroup   (with ports) ingress TCP on each instance port
 *                             from 0.0.0.0/0 when public, else from the
 *                             internal group. No balancer terminates TLS, so
 *                             https/ssl ports, and ports whose public and
 *                             instance numbers differ, are I2K_ERR_CONFIG errors.
 *     DnsRecord               with a hosted zone: A record → the Elastic IP
 *                             (TTL 60).
 *   Stateful updates: a new AMI replaces the instance, and CloudFormation
 *   creates the replacement (and its new attachment) before it deletes the
 *   old one, while the volume is still attached there (VolumeInUse). So
 *   deploy updates a stateful stack in two steps: once with
 *   detach_data_volume (the old instance lets go of the volume), then
 *   without it (the new instance gets it). The volume and its zone stay.
 *   A replicated service without ports has no balancer and no DnsRecord.
 *   Outputs:
 *     Endpoint                balancer DNS name, or the Elastic IP (stateful);
 *                             absent for a replicated service without ports
 *     DnsName                 SERVICE.ENV.ZONE (no trailing dot), with a zone
 *     AutoScalingGroupName    replicated only
 *     TargetGroupArns         comma-joined in listener-port order; only with a
 *                             balancer
 *     LoadBalancerArn         only with a balancer
 *     InstanceId              stateful only
 *
 * Placeholders: an input left NULL (ami_id, vpc_id, internal_sg, or subnets
 * with nsubnets 0) becomes a CloudFormation Parameter the template Refs —
 * ImageId (AWS::EC2::Image::Id), VpcId (AWS::EC2::VPC::Id), SubnetIds
 * (List<AWS::EC2::Subnet::Id>), InternalSecurityGroupId
 * (AWS::EC2::SecurityGroup::Id) — so what `i2kit template --cloudformation`
 * prints deploys with `aws cloudformation deploy --parameter-overrides`.
 * i2kit's own deploy passes every input, and its templates have no
 * Parameters. provider.vpc/subnets from environment.yml fill vpc_id/subnets
 * when those inputs are NULL.
 *
 * Errors: I2K_ERR_CONFIG (with the manifest's file name) for what the
 * manifest or environment asks that the template cannot express;
 * I2K_ERR_USAGE for missing required arguments.
 */
#ifndef I2K_PROVISION_AWS_STACK_TEMPLATE_H
#define I2K_PROVISION_AWS_STACK_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"
#include "provision/service.h"

#define I2K_STACK_DEFAULT_INSTANCE_TYPE "t3.micro"
#define I2K_STACK_DEFAULT_DATA_GIB 10u
#define I2K_STACK_DATA_DEVICE "/dev/xvdf"
#define I2K_STACK_SSL_POLICY "ELBSecurityPolicy-TLS13-1-2-2021-06"
#define I2K_STACK_VPC_CIDR "10.192.0.0/16"
#define I2K_STACK_USER_DATA_MAX 16384u /* EC2's limit on raw user data */
#define I2K_STACK_MAX_AZS 16u

#define I2K_STACK_TAG_SERVICE "i2kit:service"
#define I2K_STACK_TAG_ENVIRONMENT "i2kit:environment"

/* What deploy learned before making the template. */
struct i2k_stack_env_inputs {
	const char *region; /* informational; templates use AWS::Region */
	const char *const *azs;
	size_t nazs; /* availability zones to spread subnets over (used when env
			gives no vpc/subnets); 0 → the region's first two */
};

struct i2k_stack_service_inputs {
	const char *region;    /* informational */
	const char *ami_id;    /* the pushed AMI; NULL → Parameter ImageId */
	const char *user_data; /* the service's metadata (plain text; the template
				  base64-encodes it); NULL → none */
	const char *vpc_id;    /* from the environment stack's outputs or
				  environment.yml; NULL → Parameter VpcId */
	const char *const *subnets;
	size_t nsubnets;	      /* 0 → Parameter SubnetIds */
	const char *internal_sg;      /* environment stack's internal security group;
					 NULL → Parameter InternalSecurityGroupId */
	unsigned data_volume_gib;     /* stateful; 0 → I2K_STACK_DEFAULT_DATA_GIB */
	const char *data_snapshot_id; /* stateful: the data volume's initial
					 content (SnapshotId); NULL → blank */
	bool detach_data_volume;      /* stateful: leave DataVolumeAttachment out (see
					 "Stateful updates" above) */
};

/* Stack names: environment stack "ENV", service stack "SERVICE-ENV". Caller
 * frees. */
char *i2k_stack_env_name(const struct i2k_environment *env);
char *i2k_stack_service_name(const struct i2k_service *svc, const struct i2k_environment *env);

/* Deterministic JSON (sorted keys, no timestamps); *json is malloc'd
 * (caller frees) and NUL-terminated, ending in a newline. */
int i2k_stack_env_template(const struct i2k_environment *env, const struct i2k_stack_env_inputs *in,
			   char **json, struct i2k_error **err);
int i2k_stack_service_template(const struct i2k_service *svc, const struct i2k_environment *env,
			       const struct i2k_stack_service_inputs *in, char **json,
			       struct i2k_error **err);

#endif
