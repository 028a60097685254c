/* cmd_aws.c — `i2kit aws images` (the AMIs i2kit registered: tag
 * i2kit:name) and `i2kit aws rmi AMI...` (deregister + delete snapshot),
 * plus the AWS options shared with `push aws`. */
#include "cli/cmd_aws.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/common.h"
#include "provision/aws/ec2.h"

static void debug_line(const char *line, void *ctx)
{
	fprintf(stderr, "%s\n", line);
}

int i2k_cli_aws_opt(struct i2k_aws_opts *o, bool *debug, int argc, char **argv, int *i,
		    struct i2k_error **err)
{
	static const char *const names[] = {"--region", "--profile", "--endpoint-url"};
	if (strcmp(argv[*i], "--debug") == 0) {
		*debug = true;
		return 1;
	}
	const char *val = NULL;
	int which = i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, i, &val, err);
	if (which == -2)
		return -1;
	if (which == -1)
		return 0;
	if (which == 0)
		o->region = val;
	else if (which == 1)
		o->profile = val;
	else
		o->endpoint_url = val;
	return 1;
}

int i2k_cli_aws_resolve(struct i2k_aws_opts *o, bool debug, struct i2k_aws *a,
			struct i2k_error **err)
{
	if (debug) {
		o->debug = debug_line;
		o->debug_ctx = NULL;
	}
	return i2k_aws_resolve(o, a, err);
}

static void help(void)
{
	printf("Usage: i2kit aws images [OPTIONS]\n"
	       "       i2kit aws rmi [OPTIONS] AMI...\n\n"
	       "images lists the AMIs i2kit registered in the region (tag i2kit:name);\n"
	       "rmi deregisters AMIs and deletes their snapshots.\n\n"
	       "Options:\n" I2K_CLI_AWS_HELP "  --json                  machine-readable output\n");
}

static int images(struct i2k_aws *a, bool json, struct i2k_error **err)
{
	struct i2k_ec2_image *im = NULL;
	size_t n = 0;
	if (i2k_ec2_describe_images(a, NULL, NULL, true, &im, &n, err) < 0)
		return -1;
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
			    arr,
			    json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?}", "ami", im[i].id,
				      "name", im[i].name, "state", im[i].state, "created",
				      im[i].creation_date, "snapshot", im[i].snapshot_id,
				      "boot_mode", im[i].boot_mode, "digest", im[i].tag_digest));
		char *s = json_dumps(arr, JSON_INDENT(2));
		printf("%s\n", s);
		free(s);
		json_decref(arr);
	} else {
		printf("%-22s %-32s %-10s %-24s %s\n", "AMI", "NAME", "STATE", "CREATED",
		       "SNAPSHOT");
		for (size_t i = 0; i < n; i++)
			printf("%-22s %-32s %-10s %-24s %s\n", im[i].id,
			       im[i].name ? im[i].name : "-", im[i].state ? im[i].state : "-",
			       im[i].creation_date ? im[i].creation_date : "-",
			       im[i].snapshot_id ? im[i].snapshot_id : "-");
	}
	i2k_ec2_images_free(im, n);
	return 0;
}

static int rmi(struct i2k_aws *a, char **ids, size_t n_ids, struct i2k_error **err)
{
	struct i2k_ec2_image *im = NULL;
	size_t n = 0;
	if (i2k_ec2_describe_image_ids(a, NULL, (const char *const *)ids, n_ids, &im, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t k = 0; k < n_ids && rc == 0; k++) {
		const struct i2k_ec2_image *m = NULL;
		for (size_t i = 0; i < n; i++)
			if (strcmp(im[i].id, ids[k]) == 0)
				m = &im[i];
		if (m == NULL) {
			rc = i2k_error_set(err, I2K_ERR_NOTFOUND, "AMI %s not found in %s", ids[k],
					   a->region);
			break;
		}
		char **snaps = NULL;
		size_t ns = 0;
		if (i2k_ec2_image_snapshots(a, NULL, m->id, m->snapshot_id, &snaps, &ns, err) < 0 ||
		    i2k_ec2_deregister_image(a, NULL, m->id, err) < 0)
			rc = -1;
		if (rc == 0)
			printf("deregistered %s\n", m->id);
		for (size_t s = 0; s < ns; s++) {
			if (rc == 0 && i2k_ec2_delete_snapshot(a, NULL, snaps[s], err) < 0)
				rc = -1;
			else if (rc == 0)
				printf("deleted %s\n", snaps[s]);
			free(snaps[s]);
		}
		free(snaps);
	}
	i2k_ec2_images_free(im, n);
	return rc;
}

int i2k_cmd_aws(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help();
		return argc < 2 ? 2 : 0;
	}
	const char *verb = argv[1];
	if (strcmp(verb, "images") != 0 && strcmp(verb, "rmi") != 0)
		return i2k_cli_usage("aws", "unknown aws command \"%s\" (images, rmi)", verb);
	struct i2k_aws_opts o = {0};
	bool debug = false, json = false;
	_cleanup_free_ char **ids = i2k_xcalloc((size_t)argc, sizeof(char *));
	size_t n_ids = 0;
	for (int i = 2; i < argc; i++) {
		struct i2k_error *e = NULL;
		int r = i2k_cli_aws_opt(&o, &debug, argc, argv, &i, &e);
		if (r < 0) {
			int st = i2k_cli_usage("aws", "%s", e->msg);
			i2k_error_free(e);
			return st;
		}
		if (r == 1)
			continue;
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			help();
			return 0;
		} else if (argv[i][0] == '-')
			return i2k_cli_usage("aws", "unknown option %s", argv[i]);
		else
			ids[n_ids++] = argv[i];
	}
	if (strcmp(verb, "rmi") == 0 && n_ids == 0)
		return i2k_cli_usage("aws", "rmi needs at least one AMI id");
	if (strcmp(verb, "images") == 0 && n_ids > 0)
		return i2k_cli_usage("aws", "images takes no arguments");
	struct i2k_aws a;
	struct i2k_error *err = NULL;
	if (i2k_cli_aws_resolve(&o, debug, &a, &err) < 0)
		return i2k_cli_fail(err);
	int rc = strcmp(verb, "images") == 0 ? images(&a, json, &err) : rmi(&a, ids, n_ids, &err);
	i2k_aws_clear(&a);
	return rc < 0 ? i2k_cli_fail(err) : 0;
}
