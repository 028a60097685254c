/* cmd_template.c — see cmd_template.h. */
#include "cli/cmd_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/common.h"
#include "provision/template.h"

static void usage(FILE *f)
{
	fputs("Usage: i2kit template -s SERVICE.yml [-e ENVIRONMENT.yml]\n"
	      "\n"
	      "Prints the LinuxKit YAML that i2kit builds for a service manifest: the\n"
	      "kernel, i2kit's init, one service per container sharing the VM's network,\n"
	      "Docker's default capabilities, restart always. `i2kit build` accepts it.\n",
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

int i2k_cmd_template(int argc, char **argv)
{
	static const char *const names[] = {"-s", "--service", "-e", "--environment"};
	const char *svc = NULL, *envf = NULL;
	struct i2k_error *err = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
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
		else
			envf = val;
	}
	if (!svc)
		return i2k_cli_usage("template", "no service manifest given (-s SERVICE.yml)");
	_cleanup_(i2k_service_freep) struct i2k_service *m = NULL;
	_cleanup_(i2k_environment_freep) struct i2k_environment *env = NULL;
	if (i2k_cli_load_service(svc, envf, &m, &env, &err) < 0)
		return i2k_cli_fail(err);
	_cleanup_free_ char *yaml = NULL;
	if (i2k_template_linuxkit_yaml(m, env, &yaml, &err) < 0)
		return i2k_cli_fail(err);
	fputs(yaml, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}
