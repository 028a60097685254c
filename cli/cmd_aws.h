/* cmd_aws.h — `i2kit aws images | rmi AMI...`, and the AWS options every
 * AWS subcommand shares (--region, --profile, --endpoint-url, --debug). */
#ifndef I2K_CLI_CMD_AWS_H
#define I2K_CLI_CMD_AWS_H

#include <stdbool.h>

#include "builder/base/error.h"
#include "provision/aws/creds.h"

int i2k_cmd_aws(int argc, char **argv);

/* Tries to consume argv[*i] as a shared AWS option: 1 consumed, 0 not one
 * of them, -1 (with *err, usage) a missing value. */
int i2k_cli_aws_opt(struct i2k_aws_opts *o, bool *debug, int argc, char **argv, int *i,
		    struct i2k_error **err);
/* Resolves credentials for o (installing the --debug printer when debug). */
int i2k_cli_aws_resolve(struct i2k_aws_opts *o, bool debug, struct i2k_aws *a,
			struct i2k_error **err);
#define I2K_CLI_AWS_HELP                                                                           \
	"  --region R              AWS region (else AWS_REGION, AWS_DEFAULT_REGION, profile)\n"    \
	"  --profile P             profile in ~/.aws/config and ~/.aws/credentials\n"              \
	"  --endpoint-url URL      endpoint for every AWS service called (else\n"                  \
	"                          AWS_ENDPOINT_URL_EC2/_EBS/_STS, AWS_ENDPOINT_URL)\n"            \
	"  --debug                 log AWS requests, retries and waits (never secrets)\n"

#endif
