/* cmd_template.c — see cmd_template.h. */
#include "cli/cmd_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/common.h"
#include "provision/aws/stack_template.h"
#include "provision/template.h"

static void usage(FILE *f)
{
	fputs(
	    "Usage: i2kit template -s SERVICE.yml [-e ENVIRONMENT.yml]\n"
	    "       i2kit template --provider aws --cloudformation -s SERVICE.yml -e ENV.yml\n"
	    "       i2kit template --provider aws --cloudformation --environment-stack -e ENV.yml\n"
	    "\n"
	    "Prints the LinuxKit YAML that i2kit builds for a service manifest: the\n"
	    "kernel, i2kit's init, one service per container sharing the VM's network,\n"
	    "Docker's default capabilities, restart always. `i2kit build` accepts it.\n"
	    "\n"
	    "  --provider P          local or aws (the YAML is the same for both)\n"
	    "  --cloudformation      print instead the CloudFormation template (JSON) of\n"
	    "                        the service's stack SERVICE-ENV, as `i2kit deploy\n"
	    "                        --provider aws` makes it (needs -e and --provider aws)\n"
	    "  --environment-stack   with --cloudformation: the environment's stack ENV\n"
	    "                        (VPC, subnets, internal security group) instead\n"
	    "\n"
	    "What only a deploy knows (the AMI, and the environment stack's VpcId,\n"
	    "SubnetIds and InternalSecurityGroupId outputs unless environment.yml gives\n"
	    "vpc and subnets) appears as CloudFormation Parameters (ImageId, VpcId,\n"
	    "SubnetIds, InternalSecurityGroupId), so the template deploys with\n"
	    "`aws cloudformation deploy --parameter-overrides`. The service's metadata\n"
	    "(user data) is left out; the environment stack spreads over the region's\n"
	    "first two availability zones.\n",
	    f);
}

int i2k_cli_load_service(const char *svc_path, const char *env_path, struct i2k_service **m,
			 struct i2k_environment **env, struct i2k_error **err)
{
	*m = NULL;
	*env = NULL;
	if (i2k_service_load(svc_path, m, err) < 0)
		return -1;
	if (env_path && i2k_environment_load(env_path, env, err) < 0) {
		i2k_service_free(*m);
		*m = NULL;
		return -1;
	}
	return 0;
}

/* The CloudFormation template of the service's or the environment's stack. */
static int cloudformation(const struct i2k_service *m, const struct i2k_environment *env,
			  bool env_stack, char **json, struct i2k_error **err)
{
	if (env_stack)
		return i2k_stack_env_template(env, NULL, json, err);
	return i2k_stack_service_template(m, env, NULL, json, err);
}

int i2k_cmd_template(int argc, char **argv)
{
	static const char *const names[] = {"-s", "--service", "-e", "--environment", "--provider"};
	const char *svc = NULL, *envf = NULL, *provider = NULL;
	bool cfn = false, env_stack = false;
	struct i2k_error *err = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--cloudformation") == 0) {
			cfn = true;
			continue;
		}
		if (strcmp(argv[i], "--environment-stack") == 0) {
			env_stack = true;
			continue;
		}
		const char *val = NULL;
		int w = i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &val, &err);
		if (w == -2) {
			i2k_cli_usage("template", "%s", err->msg);
			i2k_error_free(err);
			return 2;
		}
		if (w < 0)
			return i2k_cli_usage("template", "unknown argument %s", argv[i]);
		if (w < 2)
			svc = val;
		else if (w < 4)
			envf = val;
		else
			provider = val;
	}
	if (provider && strcmp(provider, "aws") != 0 && strcmp(provider, "local") != 0)
		return i2k_cli_usage("template", "unknown provider \"%s\" (local or aws)",
				     provider);
	if (cfn && (!provider || strcmp(provider, "aws") != 0))
		return i2k_cli_usage("template", "--cloudformation goes with --provider aws");
	if (env_stack && !cfn)
		return i2k_cli_usage("template", "--environment-stack goes with --cloudformation");
	if (cfn && !envf)
		return i2k_cli_usage("template", "a CloudFormation template needs an environment "
						 "(-e ENVIRONMENT.yml)");
	if (!svc && !env_stack)
		return i2k_cli_usage("template", "no service manifest given (-s SERVICE.yml)");
	_cleanup_(i2k_service_freep) struct i2k_service *m = NULL;
	_cleanup_(i2k_environment_freep) struct i2k_environment *env = NULL;
	if (svc && i2k_cli_load_service(svc, envf, &m, &env, &err) < 0)
		return i2k_cli_fail(err);
	if (!svc && i2k_environment_load(envf, &env, &err) < 0)
		return i2k_cli_fail(err);
	_cleanup_free_ char *out = NULL;
	int rc = cfn ? cloudformation(m, env, env_stack, &out, &err)
		     : i2k_template_linuxkit_yaml(m, env, &out, &err);
	if (rc < 0)
		return i2k_cli_fail(err);
	fputs(out, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}
