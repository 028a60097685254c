/* deploy.h — the aws provider's deploy, destroy and ps: a service manifest
 * → an AMI → CloudFormation stacks (templates from stack_template.h).
 *
 * Deploy (i2k_aws_deploy):
 *  1. the AMI: its name is "SERVICE-ENV-HASH", HASH the local provider's
 *     content hash of the generated LinuxKit YAML and the digests of the
 *     images it names (local/deploy.h), so an unchanged service finds its
 *     AMI (DescribeImages by name) and nothing is built or pushed. Else
 *     `EXE build --format aws --push aws --name NAME --json` runs (the
 *     build's cache and `--push aws` path: no local disk file), and the
 *     AMI and its snapshot are tagged i2kit:service and i2kit:environment.
 *  2. the environment stack "ENV" is created, or updated ("No updates are
 *     to be performed" is success), over the region's available zones
 *     (DescribeAvailabilityZones); its outputs give the VPC, subnets and
 *     internal security group.
 *  3. the service stack "SERVICE-ENV" is created or updated with the AMI,
 *     stack tags i2kit:service and i2kit:environment, user data
 *     {"i2kit":{"environment":ENV,"service":SERVICE}}; a stateful
 *     service's data volume starts from its empty-ext4 snapshot
 *     (datasnap.h, made once, reused). A stateful service
 *     whose instance runs another AMI is updated in two steps, first with
 *     the data volume detached (stack_template.h). While an operation
 *     runs its events are passed to on_stack_event as they come. A stack
 *     found busy is waited for first; one in ROLLBACK_COMPLETE (a create
 *     that failed earlier: it can only be deleted) is deleted and created
 *     again.
 *  4. after the stack completes: the health wait, bounded by
 *     health_timeout_s — every target group of TargetGroupArns has
 *     `replicas` healthy targets (a stateful service: its instance is
 *     running); a timeout is an error that says how many were healthy.
 *  5. the result: endpoint URLs from the Endpoint (or DnsName) output and
 *     the manifest's ports.
 * Failures: the error names the failing resource and its reason (from the
 * operation's events, else the stack's reason). What this deploy created
 * is removed again: a stack whose creation failed is deleted (and waited
 * for), and an AMI pushed by this deploy is deregistered and its snapshot
 * deleted when the service stack was not created or updated with it (a
 * refused CreateStack/UpdateStack, a failed operation, a failed
 * environment stack). An update that fails is rolled back by
 * CloudFormation to the previous version, which keeps running. When the
 * outcome is unknown (a stack wait that timed out or was interrupted on
 * an update) the AMI is kept, since the stack may still use it; an
 * interrupted create is deleted like a failed one. The environment stack
 * stays (shared by the environment's services; `destroy
 * --all` removes it).
 *
 * Destroy (i2k_aws_destroy): DeleteStack of SERVICE-ENV, waiting for
 * DELETE_COMPLETE with its events; then every AMI tagged i2kit:service =
 * SERVICE and i2kit:environment = ENV is deregistered and its snapshots
 * deleted, and the data volume's initial snapshot too (the snapshot
 * CloudFormation takes of the data volume itself is kept). With all:
 * every service stack of the environment (stack tag i2kit:environment)
 * the same way, then the environment stack.
 *
 * Ps (i2k_aws_ps): the service stacks (stack tag i2kit:service) of one
 * environment or of all, as JSON: [{service, environment, stack, status,
 * endpoint, dns_name, desired, instances: [{id, lifecycle, health,
 * state, zone, image, private_ip, public_ip, target_health}]}].
 */
#ifndef I2K_PROVISION_AWS_DEPLOY_H
#define I2K_PROVISION_AWS_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "builder/base/error.h"
#include "provision/aws/client.h"
#include "provision/aws/cloudformation.h"
#include "provision/local/deploy.h"
#include "provision/service.h"

#define I2K_AWS_DEPLOY_STACK_TIMEOUT 3600u
#define I2K_AWS_DEPLOY_HEALTH_TIMEOUT 600u

struct i2k_aws_deploy_opts {
	const struct i2k_aws *aws;
	/* the build: exe, build_args, fetch, cache_dir (the rest unused);
	 * its on_event/ctx get the progress lines of the whole deploy */
	struct i2k_local_deploy_opts build;
	const char *const *aws_args; /* for the child build (--region R ...) */
	size_t naws_args;
	unsigned stack_timeout_s;	 /* 0 → I2K_AWS_DEPLOY_STACK_TIMEOUT */
	unsigned health_timeout_s;	 /* 0 → I2K_AWS_DEPLOY_HEALTH_TIMEOUT */
	unsigned poll_ms;		 /* first stack poll; 0 → 1000 */
	i2k_cfn_event_fn on_stack_event; /* called with build.ctx */
};

/* The requests of the aws provider's ops (provision/provider.h). */
struct i2k_aws_deploy_request {
	const struct i2k_service *service;
	const struct i2k_environment *env;
	const struct i2k_aws_deploy_opts *opts;
};

struct i2k_aws_deploy_result {
	char *stack, *stack_id, *status, *ami, *endpoint, *dns_name;
	bool ami_built; /* false: an AMI with this content existed */
	bool created;	/* the stack was created (else updated) */
	bool no_changes;
	unsigned healthy, wanted;
	char **urls;
	size_t nurls;
};
void i2k_aws_deploy_result_clear(struct i2k_aws_deploy_result *r);
json_t *i2k_aws_deploy_result_json(const struct i2k_aws_deploy_result *r);

int i2k_aws_deploy(const struct i2k_service *m, const struct i2k_environment *env,
		   const struct i2k_aws_deploy_opts *o, struct i2k_aws_deploy_result *res,
		   struct i2k_error **err);

struct i2k_aws_destroy_request {
	const struct i2k_aws *aws;
	const char *service; /* NULL: only with all */
	const char *env;     /* environment name (required) */
	bool all;	     /* every service of env, then the environment stack */
	unsigned timeout_s;  /* per stack; 0 → I2K_AWS_DEPLOY_STACK_TIMEOUT */
	unsigned poll_ms;
	void (*on_event)(void *ctx, const char *msg);
	i2k_cfn_event_fn on_stack_event;
	void *ctx;
};
/* *out: what was removed, one line each ("stack web-test deleted", "AMI
 * ami-... deregistered", "snapshot snap-... deleted"), JSON array of
 * strings (caller decrefs). */
int i2k_aws_destroy(const struct i2k_aws_destroy_request *rq, json_t **out, struct i2k_error **err);

struct i2k_aws_ps_request {
	const struct i2k_aws *aws;
	const char *env; /* NULL: all environments */
};
int i2k_aws_ps(const struct i2k_aws_ps_request *rq, json_t **out, struct i2k_error **err);

#endif
