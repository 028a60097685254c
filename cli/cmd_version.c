/* cmd_version.c — `i2kit version [--json|--help]`. */
#include "cli/cmd_version.h"

#include <stdio.h>
#include <string.h>

#ifndef I2K_VERSION
#define I2K_VERSION "0.0.0"
#endif

int i2k_cmd_version(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: i2kit version [--json]\n\n"
		       "Prints the version (--json: {\"version\": \"X.Y.Z\"}).\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--json") == 0) {
		printf("{\"version\":\"%s\"}\n", I2K_VERSION);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "i2kit: error: version takes no arguments but --json\n");
		return 2;
	}
	printf("i2kit %s\n", I2K_VERSION);
	return 0;
}
