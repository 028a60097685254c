/* provider.h — the one table of providers: where an image runs or is
 * deployed. Each row says what the provider can do (its ops; NULL = not
 * supported) so that the CLI verbs (run, push, deploy, destroy, ps) find the
 * provider by name and refuse what it does not do with one clear error.
 *
 *   qemu   run: boot an image on this machine (provision/qemu.h)
 *   local  deploy/destroy/ps: replicas on QEMU behind a local balancer
 *   aws    push: an AMI through the EBS direct APIs; deploy/destroy/ps:
 *          CloudFormation (requests and results in provision/aws/deploy.h:
 *          i2k_aws_deploy_request → i2k_aws_deploy_result,
 *          i2k_aws_destroy_request → json_t *, i2k_aws_ps_request → json_t *)
 *
 * Adding a provider = one row here + its ops file + (for a new verb) one
 * row in the CLI's verb table. Ops take the provider's own request struct
 * (documented in its header) through a void pointer, so that the table
 * stays the same for every provider.
 */
#ifndef I2K_PROVISION_PROVIDER_H
#define I2K_PROVISION_PROVIDER_H

#include <stddef.h>

#include "builder/base/error.h"

typedef int (*i2k_provider_op)(const void *request, void *result, struct i2k_error **err);

struct i2k_provider {
	const char *name;
	const char *help;	  /* one line */
	const char *image_format; /* the format its images are built as (NULL: any) */
	i2k_provider_op run;	  /* qemu: struct i2k_qemu_opts → struct i2k_qemu_result */
	i2k_provider_op push;
	i2k_provider_op deploy;
	i2k_provider_op destroy;
	i2k_provider_op ps;
};

enum i2k_provider_verb {
	I2K_PROVIDER_RUN,
	I2K_PROVIDER_PUSH,
	I2K_PROVIDER_DEPLOY,
	I2K_PROVIDER_DESTROY,
	I2K_PROVIDER_PS,
};

const struct i2k_provider *i2k_providers(size_t *n);
/* The provider `name` if it supports `verb`: its op in *op. Errors
 * (I2K_ERR_USAGE): "unknown provider \"X\" (qemu, local or aws)", "the X
 * provider cannot VERB (it can: run)" — a provider whose op is not
 * implemented yet is one that cannot. */
int i2k_provider_get(const char *name, enum i2k_provider_verb verb, const struct i2k_provider **p,
		     i2k_provider_op *op, struct i2k_error **err);
const char *i2k_provider_verb_name(enum i2k_provider_verb verb);

#endif
