/* main.c — the i2kit and i2kit-build entry point: a table of subcommands.
 * `i2kit-build ARGS` is `i2kit build ARGS`. All work happens in the
 * libraries; each subcommand lives in cli/cmd_NAME.c. */
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cmd_aws.h"
#include "cli/cmd_build.h"
#include "cli/cmd_cache.h"
#include "cli/cmd_deploy.h"
#include "cli/cmd_destroy.h"
#include "cli/cmd_logs.h"
#include "cli/cmd_ps.h"
#include "cli/cmd_push.h"
#include "cli/cmd_run.h"
#include "cli/cmd_sign.h"
#include "cli/cmd_template.h"
#include "cli/cmd_validate.h"
#include "cli/cmd_version.h"
#include "cli/common.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"build", i2k_cmd_build, "build images from LinuxKit-style YAML"},
    {"validate", i2k_cmd_validate, "check YAML files without building"},
    {"cache", i2k_cmd_cache, "list, pull, export, import and clean cached images"},
    {"run", i2k_cmd_run, "boot an image locally (qemu)"},
    {"template", i2k_cmd_template, "print a service's LinuxKit YAML or CloudFormation template"},
    {"deploy", i2k_cmd_deploy, "run a service's replicas behind a load balancer (local)"},
    {"ps", i2k_cmd_ps, "list deployed services and their replicas"},
    {"logs", i2k_cmd_logs, "show a deployed service's consoles"},
    {"destroy", i2k_cmd_destroy, "stop a deployed service and remove its state"},
    {"push", i2k_cmd_push, "upload a disk image as an AMI (push aws)"},
    {"sign", i2k_cmd_sign, "sign images in their registry (cosign-compatible)"},
    {"aws", i2k_cmd_aws, "list or remove the AMIs i2kit registered"},
    {"version", i2k_cmd_version, "print the version"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: i2kit COMMAND [OPTIONS]\n\n"
		   "i2kit turns container images into small immutable VMs.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'i2kit COMMAND --help' for a command's options.\n"
		   "Exit status: 0 ok, 1 user error, 2 usage, 3 network/registry, 4 internal.\n");
}

int main(int argc, char **argv)
{
	i2k_cli_signals();
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			i2k_cli_json_errors = true; /* errors as JSON on stderr */
	char *self = basename(argv[0]);
	if (strcmp(self, "i2kit-build") == 0) {
		argv[0] = "build";
		return i2k_cmd_build(argc, argv);
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	/* Options before the subcommand (`i2kit --cache D -q build F.yml`) are
	 * moved after it, as if given there. */
	if (argv[1][0] == '-' && strcmp(argv[1], "--help") != 0 && strcmp(argv[1], "-h") != 0 &&
	    strcmp(argv[1], "--version") != 0) {
		for (int c = 2; c < argc; c++) {
			bool is_cmd = false;
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				is_cmd |= strcmp(argv[c], commands[i].name) == 0;
			if (!is_cmd)
				continue;
			char *cmd = argv[c];
			memmove(argv + 2, argv + 1, (size_t)(c - 1) * sizeof(*argv));
			argv[1] = cmd;
			break;
		}
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return i2k_cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "i2kit: error: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
