/* provider.c — the provider table (see provider.h). */
#include "provision/provider.h"

#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/aws/deploy.h"
#include "provision/aws/push.h"
#include "provision/local/destroy.h"
#include "provision/local/state.h"
#include "provision/local/supervisor.h"
#include "provision/qemu.h"

static int qemu_run(const void *request, void *result, struct i2k_error **err)
{
	return i2k_qemu_run(request, result, err);
}

static int aws_push(const void *request, void *result, struct i2k_error **err)
{
	const struct i2k_push_request *rq = request;
	return i2k_push_aws(rq->aws, rq->opts, result, err);
}

static int aws_deploy(const void *request, void *result, struct i2k_error **err)
{
	const struct i2k_aws_deploy_request *rq = request;
	return i2k_aws_deploy(rq->service, rq->env, rq->opts, result, err);
}

static int aws_destroy(const void *request, void *result, struct i2k_error **err)
{
	return i2k_aws_destroy(request, result, err);
}

static int aws_ps(const void *request, void *result, struct i2k_error **err)
{
	return i2k_aws_ps(request, result, err);
}

static int local_deploy(const void *request, void *result, struct i2k_error **err)
{
	(void)result;
	return i2k_local_supervise(request, err);
}

static int local_destroy(const void *request, void *result, struct i2k_error **err)
{
	const struct i2k_local_destroy_rq *rq = request;
	return i2k_local_destroy(rq->dir, rq->volumes, result, err);
}

static int local_ps(const void *request, void *result, struct i2k_error **err)
{
	(void)err;
	const char *dir = request;
	json_t **out = result;
	*out = i2k_local_supervisor_pid(dir) > 0 ? i2k_local_status_load(dir) : NULL;
	return 0;
}

static const struct i2k_provider table[] = {
    {.name = "qemu",
     .help = "boot an image on this machine under QEMU (KVM when usable, else TCG)",
     .run = qemu_run},
    {.name = "local",
     .help = "replicas on QEMU behind a load balancer on 127.0.0.1",
     .image_format = "kernel+initrd",
     .deploy = local_deploy,
     .destroy = local_destroy,
     .ps = local_ps},
    {.name = "aws",
     .help = "AMIs through the EBS direct APIs; services with CloudFormation",
     .image_format = "aws",
     .push = aws_push,
     .deploy = aws_deploy,
     .destroy = aws_destroy,
     .ps = aws_ps},
};

const struct i2k_provider *i2k_providers(size_t *n)
{
	*n = I2K_ARRAY_SIZE(table);
	return table;
}

const char *i2k_provider_verb_name(enum i2k_provider_verb verb)
{
	static const char *const names[] = {"run", "push", "deploy", "destroy", "ps"};
	return (size_t)verb < I2K_ARRAY_SIZE(names) ? names[verb] : "?";
}

static i2k_provider_op op_of(const struct i2k_provider *p, enum i2k_provider_verb verb)
{
	switch (verb) {
	case I2K_PROVIDER_RUN:
		return p->run;
	case I2K_PROVIDER_PUSH:
		return p->push;
	case I2K_PROVIDER_DEPLOY:
		return p->deploy;
	case I2K_PROVIDER_DESTROY:
		return p->destroy;
	case I2K_PROVIDER_PS:
		return p->ps;
	}
	return NULL;
}

int i2k_provider_get(const char *name, enum i2k_provider_verb verb, const struct i2k_provider **out,
		     i2k_provider_op *op, struct i2k_error **err)
{
	for (size_t i = 0; name && i < I2K_ARRAY_SIZE(table); i++) {
		const struct i2k_provider *p = &table[i];
		if (strcmp(p->name, name) != 0)
			continue;
		*op = op_of(p, verb);
		if (*op == NULL) {
			_cleanup_free_ char *can = i2k_xstrdup("");
			for (int v = I2K_PROVIDER_RUN; v <= I2K_PROVIDER_PS; v++) {
				if (op_of(p, (enum i2k_provider_verb)v) == NULL)
					continue;
				char *t = i2k_xasprintf(
				    "%s%s%s", can, can[0] ? ", " : "",
				    i2k_provider_verb_name((enum i2k_provider_verb)v));
				free(can);
				can = t;
			}
			return i2k_error_set(
			    err, I2K_ERR_USAGE, "the %s provider cannot %s (it can: %s)", p->name,
			    i2k_provider_verb_name(verb), can[0] ? can : "nothing yet");
		}
		*out = p;
		return 0;
	}
	return i2k_error_set(err, I2K_ERR_USAGE, "unknown provider \"%s\" (qemu, local or aws)",
			     name ? name : "");
}
