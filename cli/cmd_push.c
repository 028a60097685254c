/* cmd_push.c — `i2kit push aws [OPTIONS] IMAGE`: parses, shows progress,
 * prints the result; the work is provision/aws/push.c's. */
#include "cli/cmd_push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/cmd_aws.h"
#include "cli/common.h"
#include "provision/aws/push.h"
#include "provision/provider.h"

static void help(void)
{
	printf("Usage: i2kit push aws [OPTIONS] IMAGE\n\n"
	       "Uploads a disk image (raw, qcow2, VHD — read through its container) block\n"
	       "by block into an EBS snapshot with the EBS direct APIs (all-zero 512 KiB\n"
	       "blocks are skipped) and registers it as an AMI. No S3 bucket, no vmimport.\n\n"
	       "Options:\n"
	       "  --name N                AMI name (default: IMAGE's file name without\n"
	       "                          extension); an existing name is an error\n"
	       "  --replace               deregister the AMI of that name (and delete its\n"
	       "                          snapshot) once the new one is registered\n"
	       "  --description D         AMI and snapshot description\n"
	       "  --tag K=V               tag for the AMI and snapshot (repeatable)\n"
	       "  --boot-mode uefi|legacy-bios\n"
	       "                          default: uefi for a GPT disk with an EFI system\n"
	       "                          partition, else legacy-bios\n"
	       "  --arch x86_64|arm64     AMI architecture (default x86_64)\n"
	       "  --jobs N                parallel block uploads (default %u)\n"
	       "  --no-wait               do not wait for the AMI to become available\n"
	       "  --json                  print the result as JSON on stdout\n" I2K_CLI_AWS_HELP
	       "\nCredentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,\n"
	       "AWS_PROFILE and ~/.aws (role_arn + source_profile supported), EC2 instance\n"
	       "metadata (IMDSv2). AWS_MAX_ATTEMPTS sets the retries per request (10).\n"
	       "Exit status: 0 ok, 1 bad image, 2 usage, 3 AWS refused or unreachable.\n",
	       I2K_EBS_DEFAULT_JOBS);
}

struct prog {
	bool tty, quiet;
	int last_pct;
	const char *last_phase;
};

static void fmt_bytes(double b, char *out, size_t n)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(out, n, "%.1f %s", b, u[i]);
}

static void on_progress(const struct i2k_ebs_progress *p, void *ctx)
{
	struct prog *g = ctx;
	if (g->quiet)
		return;
	int pct = p->size ? (int)(p->written * 100 / p->size) : 100;
	if (strcmp(p->phase, "upload") == 0) {
		char done[32], sent[32];
		fmt_bytes((double)p->written, done, sizeof(done));
		fmt_bytes((double)p->bytes_sent, sent, sizeof(sent));
		double rate = p->seconds > 0 ? (double)p->written / p->seconds : 0;
		double eta = rate > 0 ? (double)(p->size - p->written) / rate : 0;
		if (g->tty) {
			fprintf(stderr,
				"\r\033[Kuploading %3d%% %s of disk, %s sent, %llu blocks sent, "
				"%llu zero skipped, %.1f MB/s, ETA %.0f s",
				pct, done, sent, (unsigned long long)p->blocks_sent,
				(unsigned long long)p->blocks_zero, rate / 1e6, eta);
		} else if (pct / 10 != g->last_pct / 10) {
			fprintf(stderr,
				"uploading: %d%% (%s of disk, %llu blocks sent, %llu zero "
				"skipped, %.1f MB/s)\n",
				pct, done, (unsigned long long)p->blocks_sent,
				(unsigned long long)p->blocks_zero, rate / 1e6);
		}
		g->last_pct = pct;
		return;
	}
	if (g->last_phase && strcmp(g->last_phase, p->phase) == 0)
		return;
	g->last_phase = p->phase;
	if (g->tty)
		fprintf(stderr, "\r\033[K");
	if (strcmp(p->phase, "complete") == 0)
		fprintf(stderr, "completing snapshot (%llu blocks sent, %llu zero skipped)\n",
			(unsigned long long)p->blocks_sent,
			(unsigned long long)(p->blocks_total - p->blocks_sent));
	else if (strcmp(p->phase, "wait") == 0)
		fprintf(stderr, "waiting for AWS\n");
	else if (strcmp(p->phase, "register") == 0)
		fprintf(stderr, "registering the AMI\n");
}

static int parse_jobs(const char *s, unsigned *out, struct i2k_error **err)
{
	char *end = NULL;
	unsigned long v = 0;
	if (*s >= '0' && *s <= '9')
		v = strtoul(s, &end, 10);
	if (end == NULL || *end || v < 1 || v > I2K_EBS_MAX_JOBS)
		return i2k_error_set(err, I2K_ERR_USAGE, "--jobs: \"%s\" is not a number in 1..%u",
				     s, I2K_EBS_MAX_JOBS);
	*out = (unsigned)v;
	return 0;
}

int i2k_cmd_push(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		help();
		return 0;
	}
	if (argc < 2)
		return i2k_cli_usage("push", "no provider given (i2kit push aws IMAGE)");
	const struct i2k_provider *provider;
	i2k_provider_op push;
	struct i2k_error *perr = NULL;
	if (i2k_provider_get(argv[1], I2K_PROVIDER_PUSH, &provider, &push, &perr) < 0) {
		int st = i2k_cli_usage("push", "%s", perr->msg);
		i2k_error_free(perr);
		return st;
	}
	static const char *const names[] = {"--name",	   "--description", "--tag",
					    "--boot-mode", "--arch",	    "--jobs"};
	struct i2k_aws_opts ao = {0};
	struct i2k_push_opts po = {0};
	bool debug = false, json = false;
	_cleanup_free_ struct i2k_ec2_tag *tags = i2k_xcalloc((size_t)argc, sizeof(*tags));
	_cleanup_free_ char *tagbuf = NULL;
	size_t n_tags = 0;
	/* tag strings are split in copies of argv kept in one array */
	char **tagcopies = i2k_xcalloc((size_t)argc, sizeof(char *));
	const char *image = NULL;
	int status = 0;
	struct i2k_error *err = NULL;
	for (int i = 2; i < argc && status == 0; i++) {
		const char *arg = argv[i], *val = NULL;
		int r = i2k_cli_aws_opt(&ao, &debug, argc, argv, &i, &err);
		if (r < 0)
			break;
		if (r == 1)
			continue;
		if (strcmp(arg, "--replace") == 0) {
			po.sink.replace = true;
			continue;
		}
		if (strcmp(arg, "--no-wait") == 0) {
			po.sink.no_wait = true;
			continue;
		}
		if (strcmp(arg, "--json") == 0) {
			json = true;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			help();
			status = -1;
			break;
		}
		int which =
		    i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &val, &err);
		if (which == -2)
			break;
		if (which == -1) {
			if (arg[0] == '-' && arg[1]) {
				i2k_error_set(&err, I2K_ERR_USAGE, "unknown option %s", arg);
				break;
			}
			if (image) {
				i2k_error_set(&err, I2K_ERR_USAGE, "more than one IMAGE given");
				break;
			}
			image = arg;
			continue;
		}
		switch (which) {
		case 0:
			po.sink.name = val;
			break;
		case 1:
			po.sink.description = val;
			break;
		case 2: {
			const char *eq = strchr(val, '=');
			if (eq == NULL || eq == val || strlen(val) > 512) {
				i2k_error_set(&err, I2K_ERR_USAGE, "--tag: \"%s\" is not KEY=VALUE",
					      val);
				break;
			}
			char *c = i2k_xstrdup(val);
			c[eq - val] = '\0';
			tagcopies[n_tags] = c;
			tags[n_tags].key = c;
			tags[n_tags].value = c + (eq - val) + 1;
			if (strncmp(c, "i2kit:", 6) == 0 || strncmp(c, "aws:", 4) == 0) {
				i2k_error_set(&err, I2K_ERR_USAGE,
					      "--tag: keys starting with i2kit: or aws: are "
					      "reserved");
			}
			n_tags++;
			break;
		}
		case 3:
			if (strcmp(val, "uefi") != 0 && strcmp(val, "legacy-bios") != 0)
				i2k_error_set(&err, I2K_ERR_USAGE,
					      "--boot-mode: \"%s\" (expected uefi or legacy-bios)",
					      val);
			po.boot_mode = val;
			break;
		case 4:
			if (strcmp(val, "amd64") == 0)
				val = "x86_64";
			else if (strcmp(val, "aarch64") == 0)
				val = "arm64";
			if (strcmp(val, "x86_64") != 0 && strcmp(val, "arm64") != 0)
				i2k_error_set(&err, I2K_ERR_USAGE,
					      "--arch: \"%s\" (expected x86_64 or arm64)", val);
			po.sink.architecture = val;
			break;
		case 5:
			parse_jobs(val, &po.sink.jobs, &err);
			break;
		}
		if (err)
			break;
	}
	(void)tagbuf;
	if (status == 0 && err == NULL && image == NULL)
		i2k_error_set(&err, I2K_ERR_USAGE, "no IMAGE given");
	if (status == 0 && err) {
		status = i2k_cli_usage("push", "%s", err->msg);
		i2k_error_free(err);
		err = NULL;
	} else if (status == -1) {
		status = 0;
		goto out;
	}
	if (status)
		goto out;

	struct i2k_aws a;
	if (i2k_cli_aws_resolve(&ao, debug, &a, &err) < 0) {
		status = i2k_cli_fail(err);
		goto out;
	}
	struct prog g = {.tty = isatty(STDERR_FILENO) == 1, .last_pct = -10};
	po.image = image;
	po.sink.tags = tags;
	po.sink.n_tags = n_tags;
	po.sink.progress = on_progress;
	po.sink.progress_ctx = &g;
	struct i2k_ebs_result res;
	struct i2k_push_request rq = {.aws = &a, .opts = &po};
	int rc = push(&rq, &res, &err);
	if (g.tty)
		fprintf(stderr, "\r\033[K");
	i2k_aws_clear(&a);
	if (rc < 0) {
		status = i2k_cli_fail(err);
		goto out;
	}
	if (json) {
		json_t *j =
		    json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:f}", "ami", res.ami, "snapshot",
			      res.snapshot, "region", res.region, "digest", res.digest, "size",
			      (json_int_t)res.size, "blocks_sent", (json_int_t)res.blocks_sent,
			      "blocks_skipped", (json_int_t)res.blocks_skipped, "bytes_sent",
			      (json_int_t)res.bytes_sent, "seconds", res.seconds);
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s);
		free(s);
		json_decref(j);
	} else {
		fprintf(stderr, "pushed %s: %llu blocks sent, %llu zero blocks skipped, %.1f s%s\n",
			image, (unsigned long long)res.blocks_sent,
			(unsigned long long)res.blocks_skipped, res.seconds,
			res.replaced ? " (replaced the previous AMI)" : "");
		printf("%s\n", res.ami);
	}
out:
	for (size_t k = 0; k < n_tags; k++)
		free(tagcopies[k]);
	free(tagcopies);
	return status;
}
