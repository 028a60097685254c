/* cmd_validate.c — see cmd_validate.h. */
#include "cli/cmd_validate.h"

#include <stdio.h>
#include <string.h>

#include "builder/assemble/check.h"
#include "builder/base/cleanup.h"
#include "builder/config/config.h"
#include "cli/common.h"

static void usage(FILE *f)
{
	fputs("Usage: i2kit validate FILE.yml...\n"
	      "\n"
	      "Checks LinuxKit-style YAML configs (merged in order, as for a build)\n"
	      "without fetching any image: every check a build makes before it\n"
	      "fetches (image references, capabilities, files: sources).\n"
	      "\"-\" reads standard input.\n",
	      f);
}

int i2k_cmd_validate(int argc, char **argv)
{
	int first = 1;
	for (; first < argc; first++) {
		const char *a = argv[first];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(a, "--") == 0) {
			first++;
			break;
		}
		if (a[0] == '-' && a[1] != '\0')
			return i2k_cli_usage("validate", "unknown option %s", a);
		break;
	}
	if (first >= argc)
		return i2k_cli_usage("validate", "no configuration files given");
	struct i2k_error *err = NULL;
	_cleanup_(i2k_config_freep) struct i2k_config *c = NULL;
	if (i2k_config_load((const char *const *)(argv + first), (size_t)(argc - first), &c, &err) <
		0 ||
	    i2k_assemble_check(c, NULL, &err) < 0)
		return i2k_cli_fail(err);
	for (int i = first; i < argc; i++)
		printf("%s: ok\n", argv[i]);
	return fflush(stdout) == 0 ? 0 : 1;
}
