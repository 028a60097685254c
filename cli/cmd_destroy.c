/* cmd_destroy.c — see cmd_destroy.h. */
#include "cli/cmd_destroy.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/cmd_template.h"
#include "cli/aws_deploy.h"
#include "cli/common.h"
#include "provision/local/destroy.h"
#include "provision/local/state.h"
#include "provision/provider.h"

static int destroy_one(const char *name, bool volumes)
{
	struct i2k_error *err = NULL;
	_cleanup_free_ char *dir = NULL;
	bool stopped = false;
	const struct i2k_provider *p;
	i2k_provider_op destroy;
	if (i2k_provider_get("local", I2K_PROVIDER_DESTROY, &p, &destroy, &err) < 0 ||
	    i2k_local_service_dir(name, &dir, &err) < 0)
		return i2k_cli_fail(err);
	struct i2k_local_destroy_rq rq = {.dir = dir, .volumes = volumes};
	if (destroy(&rq, &stopped, &err) < 0)
		return i2k_cli_fail(err);
	printf("%s: %s\n", name, stopped ? "stopped and removed" : "removed (was not running)");
	return 0;
}

int i2k_cmd_destroy(int argc, char **argv)
{
	if (i2k_cli_wants_aws(argc, argv))
		return i2k_cli_destroy_aws(argc, argv);
	static const char *const names[] = {"-s", "--service", "-e", "--environment"};
	const char *svc = NULL, *envf = NULL;
	bool volumes = false, all = false;
	const char **services = i2k_xcalloc((size_t)argc + 1, sizeof(char *));
	size_t nsvc = 0;
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			printf("Usage: i2kit destroy -s SERVICE.yml [-e ENV.yml] [--volumes]\n"
			       "       i2kit destroy SERVICE... | --all\n\n"
			       "Powers a deployed service's VMs off (ACPI, then killed after a\n"
			       "timeout), closes its ports and removes its state. A stateful\n"
			       "service's data disk is kept unless --volumes.\n"
			       "(AWS: i2kit destroy --provider aws --help)\n");
			free(services);
			return 0;
		}
		if (strcmp(a, "--volumes") == 0) {
			volumes = true;
			continue;
		}
		if (strcmp(a, "--all") == 0) {
			all = true;
			continue;
		}
		struct i2k_error *err = NULL;
		int w = i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &v, &err);
		if (w == -2) {
			i2k_cli_usage("destroy", "%s", err->msg);
			i2k_error_free(err);
			free(services);
			return 2;
		}
		if (w == 0 || w == 1)
			svc = v;
		else if (w >= 2)
			envf = v;
		else if (a[0] == '-') {
			free(services);
			return i2k_cli_usage("destroy", "unknown option %s", a);
		} else
			services[nsvc++] = a;
	}
	if (!svc && !nsvc && !all) {
		free(services);
		return i2k_cli_usage("destroy", "give -s SERVICE.yml, SERVICE names or --all");
	}
	if (svc) {
		struct i2k_error *err = NULL;
		struct i2k_service *m = NULL;
		struct i2k_environment *env = NULL;
		if (i2k_cli_load_service(svc, envf, &m, &env, &err) < 0) {
			free(services);
			return i2k_cli_fail(err);
		}
		int r = destroy_one(m->name, volumes);
		if (r)
			rc = r;
		i2k_service_free(m);
		i2k_environment_free(env);
	}
	for (size_t i = 0; i < nsvc; i++) {
		int r = destroy_one(services[i], volumes);
		if (r)
			rc = r;
	}
	if (all) {
		struct i2k_error *err = NULL;
		_cleanup_free_ char *root = NULL;
		if (i2k_local_root(&root, &err) < 0) {
			free(services);
			return i2k_cli_fail(err);
		}
		DIR *d = opendir(root);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			int r = destroy_one(e->d_name, volumes);
			if (r)
				rc = r;
		}
		if (d)
			closedir(d);
	}
	free(services);
	return rc;
}
