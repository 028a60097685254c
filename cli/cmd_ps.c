/* cmd_ps.c — see cmd_ps.h. */
#include "cli/cmd_ps.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/aws_deploy.h"
#include "cli/common.h"
#include "provision/local/state.h"
#include "provision/provider.h"

static void uptime(char *buf, size_t n, json_int_t started)
{
	long long s = (long long)time(NULL) - started;
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, n, "%llds", s);
	else if (s < 3600)
		snprintf(buf, n, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, n, "%lldh%02lldm", s / 3600, (s / 60) % 60);
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

int i2k_cli_print_status(FILE *f, const json_t *st, bool live)
{
	int lines = 0;
	char ports[512] = "";
	size_t i, used = 0;
	json_t *p, *r;
	json_array_foreach(json_object_get(st, "ports"), i, p)
	{
		int n = snprintf(ports + used, sizeof(ports) - used, "%s127.0.0.1:%lld→%lld",
				 i ? " " : "",
				 (long long)json_integer_value(json_object_get(p, "port")),
				 (long long)json_integer_value(json_object_get(p, "guest")));
		if (n < 0 || (size_t)n >= sizeof(ports) - used)
			break;
		used += (size_t)n;
	}
	if (live)
		fprintf(f, "%-10s %-8s %s\n", str(st, "service"), str(st, "state"), ports);
	else
		fprintf(f, "%-10s %-8s %s  supervisor pid %lld\n", str(st, "service"),
			str(st, "state"), ports,
			(long long)json_integer_value(json_object_get(st, "pid")));
	fprintf(f, "  %-8s %-5s %-9s %-10s %-8s %-9s %s\n", "REPLICA", "ID", "STATE", "HEALTH",
		"UPTIME", "RESTARTS", "PID");
	lines += 2;
	json_array_foreach(json_object_get(st, "replicas"), i, r)
	{
		char up[32];
		uptime(up, sizeof(up), json_integer_value(json_object_get(r, "started")));
		fprintf(f, "  %-8lld %-5lld %-9s %-10s %-8s %-9lld %lld%s\n",
			(long long)json_integer_value(json_object_get(r, "slot")),
			(long long)json_integer_value(json_object_get(r, "id")), str(r, "state"),
			json_is_true(json_object_get(r, "healthy")) ? "healthy" : "unhealthy", up,
			(long long)json_integer_value(json_object_get(r, "restarts")),
			(long long)json_integer_value(json_object_get(r, "pid")),
			json_is_true(json_object_get(r, "current")) ? "" : "  (outgoing/incoming)");
		lines++;
	}
	return lines;
}

int i2k_cmd_ps(int argc, char **argv)
{
	if (i2k_cli_wants_aws(argc, argv))
		return i2k_cli_ps_aws(argc, argv);
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("Usage: i2kit ps [--json]\n\nLists the services deployed with the "
			       "local provider and their replicas.\n(AWS: i2kit ps --provider aws "
			       "--help)\n");
			return 0;
		}
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else
			return i2k_cli_usage("ps", "unknown argument %s", argv[i]);
	}
	struct i2k_error *err = NULL;
	_cleanup_free_ char *root = NULL;
	const struct i2k_provider *p;
	i2k_provider_op ps;
	if (i2k_provider_get("local", I2K_PROVIDER_PS, &p, &ps, &err) < 0 ||
	    i2k_local_root(&root, &err) < 0)
		return i2k_cli_fail(err);
	json_t *all = json_array();
	DIR *d = opendir(root);
	struct dirent **names = NULL;
	int n = d ? scandir(root, &names, NULL, alphasort) : 0;
	if (d)
		closedir(d);
	bool any = false;
	for (int k = 0; k < n; k++) {
		const char *name = names[k]->d_name;
		if (name[0] == '.') {
			free(names[k]);
			continue;
		}
		_cleanup_free_ char *dir = i2k_xasprintf("%s/%s", root, name);
		json_t *st = NULL;
		ps(dir, &st, &err);
		bool sup = st != NULL;
		if (!st)
			st = json_pack("{s:s,s:s,s:[],s:[]}", "service", name, "state", "stopped",
				       "ports", "replicas");
		if (json) {
			json_array_append(all, st);
		} else {
			if (any)
				putchar('\n');
			if (sup)
				i2k_cli_print_status(stdout, st, false);
			else
				printf("%-10s not running (state kept in %s)\n", name, dir);
		}
		any = true;
		json_decref(st);
		free(names[k]);
	}
	free(names);
	if (json) {
		char *out = json_dumps(all, JSON_INDENT(2));
		printf("%s\n", out ? out : "[]");
		free(out);
	} else if (!any) {
		printf("no services deployed\n");
	}
	json_decref(all);
	return fflush(stdout) == 0 ? 0 : 1;
}
