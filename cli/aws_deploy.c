/* aws_deploy.c — see aws_deploy.h. */
#include "cli/aws_deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/cmd_aws.h"
#include "cli/cmd_template.h"
#include "cli/common.h"
#include "provision/aws/deploy.h"
#include "provision/provider.h"

static void print_event(const struct i2k_cfn_event *e, void *ctx)
{
	(void)ctx;
	const char *t = e->timestamp && strlen(e->timestamp) >= 19 ? e->timestamp + 11 : "--:--:--";
	fprintf(stderr, "%.8s %s %s %s%s%s\n", t, e->logical_id, e->type, e->status,
		e->reason && *e->reason ? " " : "", e->reason ? e->reason : "");
	fflush(stderr);
}

static void print_note(void *ctx, const char *msg)
{
	fprintf(stderr, "i2kit: %s: %s\n", (const char *)ctx, msg);
	fflush(stderr);
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", s ? s : "null");
	free(s);
}

/* The environment's provider settings where the command line gave none. */
static int resolve(struct i2k_aws_opts *ao, bool debug, const struct i2k_environment *env,
		   struct i2k_aws *a, struct i2k_error **err)
{
	if (env && !ao->region)
		ao->region = env->provider.region;
	if (env && !ao->profile)
		ao->profile = env->provider.profile;
	if (env && env->provider.access_key && env->provider.secret_key) {
		setenv("AWS_ACCESS_KEY_ID", env->provider.access_key, 1);
		setenv("AWS_SECRET_ACCESS_KEY", env->provider.secret_key, 1);
		unsetenv("AWS_SESSION_TOKEN");
	}
	return i2k_cli_aws_resolve(ao, debug, a, err);
}

int i2k_cli_deploy_aws(const struct i2k_service *m, const struct i2k_environment *env,
		       struct i2k_aws_opts *ao, bool debug,
		       const struct i2k_local_deploy_opts *build, unsigned wait_s, bool json)
{
	struct i2k_error *err = NULL;
	const struct i2k_provider *p;
	i2k_provider_op op;
	if (!env)
		return i2k_cli_usage("deploy", "the aws provider needs an environment (-e "
					       "ENV.yml): its name names the stacks");
	if (i2k_provider_get("aws", I2K_PROVIDER_DEPLOY, &p, &op, &err) < 0)
		return i2k_cli_fail(err);
	struct i2k_aws a;
	if (resolve(ao, debug, env, &a, &err) < 0)
		return i2k_cli_fail(err);
	/* the child build resolves the same way; the region is passed as resolved */
	_cleanup_free_ char *region = i2k_xasprintf("--region=%s", a.region);
	_cleanup_free_ char *profile =
	    ao->profile ? i2k_xasprintf("--profile=%s", ao->profile) : NULL;
	_cleanup_free_ char *ep =
	    ao->endpoint_url ? i2k_xasprintf("--endpoint-url=%s", ao->endpoint_url) : NULL;
	const char *args[4];
	size_t nargs = 0;
	args[nargs++] = region;
	if (profile)
		args[nargs++] = profile;
	if (ep)
		args[nargs++] = ep;
	if (debug)
		args[nargs++] = "--debug";
	struct i2k_aws_deploy_opts o = {.aws = &a,
					.build = *build,
					.aws_args = args,
					.naws_args = nargs,
					.health_timeout_s = wait_s,
					.on_stack_event = print_event};
	o.build.on_event = print_note;
	o.build.ctx = (void *)"deploy";
	struct i2k_aws_deploy_request rq = {.service = m, .env = env, .opts = &o};
	struct i2k_aws_deploy_result res;
	int rc = 0;
	if (op(&rq, &res, &err) < 0) {
		rc = i2k_cli_fail(err);
	} else if (json) {
		json_t *j = i2k_aws_deploy_result_json(&res);
		print_json(j);
		json_decref(j);
	} else {
		fprintf(stderr, "i2kit: deploy: %s is %s with AMI %s (%u of %u healthy)\n",
			res.stack, res.status, res.ami, res.healthy, res.wanted);
		for (size_t i = 0; i < res.nurls; i++)
			printf("%s\n", res.urls[i]);
		if (res.nurls == 0 && res.endpoint)
			printf("%s\n", res.endpoint);
	}
	i2k_aws_deploy_result_clear(&res);
	i2k_aws_clear(&a);
	return rc;
}

bool i2k_cli_wants_aws(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--provider=aws") == 0)
			return true;
		if (strcmp(argv[i], "--provider") == 0 && i + 1 < argc &&
		    strcmp(argv[i + 1], "aws") == 0)
			return true;
	}
	return false;
}

struct common {
	const char *svc, *envf;
	bool all, json, debug;
	struct i2k_aws_opts ao;
};

/* -1 usage (printed), 1 help wanted, 0 parsed. */
static int parse_common(const char *cmd, int argc, char **argv, struct common *c)
{
	static const char *const names[] = {"-s", "--service", "-e", "--environment", "--provider"};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return 1;
		if (strcmp(a, "--all") == 0) {
			c->all = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			c->json = true;
			continue;
		}
		struct i2k_error *err = NULL;
		int r = i2k_cli_aws_opt(&c->ao, &c->debug, argc, argv, &i, &err);
		int w = r == 0 ? i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &v,
						   &err)
			       : -1;
		if (r < 0 || w == -2) {
			i2k_cli_usage(cmd, "%s", err->msg);
			i2k_error_free(err);
			return -1;
		}
		if (r == 1)
			continue;
		if (w == 0 || w == 1)
			c->svc = v;
		else if (w == 2 || w == 3)
			c->envf = v;
		else if (w != 4) {
			i2k_cli_usage(cmd, "unknown argument %s (with --provider aws)", a);
			return -1;
		}
	}
	return 0;
}

int i2k_cli_destroy_aws(int argc, char **argv)
{
	struct common c = {0};
	int r = parse_common("destroy", argc, argv, &c);
	if (r < 0)
		return 2;
	if (r > 0) {
		printf(
		    "Usage: i2kit destroy --provider aws -s SERVICE.yml -e ENV.yml [--all]\n"
		    "       i2kit destroy --provider aws -e ENV.yml --all\n\n"
		    "Deletes the service's stack SERVICE-ENV (waiting for it, with its events),\n"
		    "then deregisters the service's AMIs in that environment and deletes their\n"
		    "snapshots (found by the tags i2kit:service and i2kit:environment). The\n"
		    "environment stack ENV stays unless --all, which also destroys every other\n"
		    "service of the environment first.\n\nOptions:\n" I2K_CLI_AWS_HELP
		    "  --json                  what was removed, as JSON\n");
		return 0;
	}
	if (!c.envf || (!c.svc && !c.all))
		return i2k_cli_usage("destroy", "--provider aws needs -e ENV.yml and -s "
						"SERVICE.yml or --all");
	struct i2k_error *err = NULL;
	_cleanup_(i2k_service_freep) struct i2k_service *m = NULL;
	_cleanup_(i2k_environment_freep) struct i2k_environment *env = NULL;
	if (c.svc) {
		if (i2k_cli_load_service(c.svc, c.envf, &m, &env, &err) < 0)
			return i2k_cli_fail(err);
	} else if (i2k_environment_load(c.envf, &env, &err) < 0) {
		return i2k_cli_fail(err);
	}
	const struct i2k_provider *p;
	i2k_provider_op op;
	struct i2k_aws a;
	if (i2k_provider_get("aws", I2K_PROVIDER_DESTROY, &p, &op, &err) < 0 ||
	    resolve(&c.ao, c.debug, env, &a, &err) < 0)
		return i2k_cli_fail(err);
	struct i2k_aws_destroy_request rq = {.aws = &a,
					     .service = m ? m->name : NULL,
					     .env = env->name,
					     .all = c.all,
					     .on_event = print_note,
					     .on_stack_event = print_event,
					     .ctx = (void *)"destroy"};
	json_t *done = NULL;
	int rc = 0;
	if (op(&rq, &done, &err) < 0) {
		rc = i2k_cli_fail(err);
	} else if (c.json) {
		print_json(done);
	} else {
		size_t i;
		json_t *s;
		json_array_foreach(done, i, s) printf("%s\n", json_string_value(s));
		if (json_array_size(done) == 0)
			printf("nothing to remove\n");
	}
	json_decref(done);
	i2k_aws_clear(&a);
	return rc;
}

static const char *js(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

int i2k_cli_ps_aws(int argc, char **argv)
{
	struct common c = {0};
	int r = parse_common("ps", argc, argv, &c);
	if (r < 0)
		return 2;
	if (r > 0) {
		printf("Usage: i2kit ps --provider aws [-e ENV.yml] [--json]\n\n"
		       "Lists the services deployed with the aws provider (stacks tagged\n"
		       "i2kit:service), of one environment or all: stack status, endpoint, and\n"
		       "per instance its lifecycle, target health, state and AMI.\n\n"
		       "Options:\n" I2K_CLI_AWS_HELP);
		return 0;
	}
	struct i2k_error *err = NULL;
	_cleanup_(i2k_environment_freep) struct i2k_environment *env = NULL;
	if (c.envf && i2k_environment_load(c.envf, &env, &err) < 0)
		return i2k_cli_fail(err);
	const struct i2k_provider *p;
	i2k_provider_op op;
	struct i2k_aws a;
	if (i2k_provider_get("aws", I2K_PROVIDER_PS, &p, &op, &err) < 0 ||
	    resolve(&c.ao, c.debug, env, &a, &err) < 0)
		return i2k_cli_fail(err);
	struct i2k_aws_ps_request rq = {.aws = &a, .env = env ? env->name : NULL};
	json_t *all = NULL;
	int rc = 0;
	if (op(&rq, &all, &err) < 0) {
		rc = i2k_cli_fail(err);
	} else if (c.json) {
		print_json(all);
	} else {
		size_t i, k;
		json_t *s, *in;
		json_array_foreach(all, i, s)
		{
			printf("%s%-10s %-8s %-20s %s\n", i ? "\n" : "", js(s, "service"),
			       js(s, "environment"), js(s, "status"), js(s, "endpoint"));
			printf("  %-20s %-10s %-10s %-9s %-22s %s\n", "INSTANCE", "LIFECYCLE",
			       "TARGET", "STATE", "AMI", "ZONE");
			json_array_foreach(json_object_get(s, "instances"), k, in)
			    printf("  %-20s %-10s %-10s %-9s %-22s %s\n", js(in, "id"),
				   js(in, "lifecycle"), js(in, "target_health"), js(in, "state"),
				   js(in, "image"), js(in, "zone"));
		}
		if (json_array_size(all) == 0)
			printf("no services deployed\n");
	}
	json_decref(all);
	i2k_aws_clear(&a);
	return rc;
}
