/* aws_deploy.h — the CLI side of `deploy`, `destroy` and `ps` with the aws
 * provider (provision/aws/deploy.h does the work): AWS options, the
 * environment's provider settings, the stack-event lines and the results.
 *
 * Stack events are printed to stderr as they come, one line each:
 *   HH:MM:SS LOGICAL-ID TYPE STATUS [REASON]     (time: the event's, UTC)
 * Progress lines ("i2kit: deploy: ...") go to stderr too; the results
 * (endpoint URLs, ps table, what destroy removed) to stdout, or one JSON
 * document with --json.
 *
 * AWS settings: --region/--profile/--endpoint-url/--debug win over the
 * environment's provider.region/profile; provider.access_key/secret_key
 * are used as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (also by the child
 * build that pushes the AMI).
 */
#ifndef I2K_CLI_AWS_DEPLOY_H
#define I2K_CLI_AWS_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>

#include "provision/aws/creds.h"
#include "provision/local/deploy.h"
#include "provision/service.h"

/* `i2kit deploy` after the manifest and environment are loaded; build
 * holds exe, build args, fetch options and cache dir. Returns the exit
 * status. */
int i2k_cli_deploy_aws(const struct i2k_service *m, const struct i2k_environment *env,
		       struct i2k_aws_opts *ao, bool debug,
		       const struct i2k_local_deploy_opts *build, unsigned wait_s, bool json);

/* True when argv asks for the aws provider (--provider aws / --provider=aws). */
bool i2k_cli_wants_aws(int argc, char **argv);
/* `i2kit destroy --provider aws ...` and `i2kit ps --provider aws ...`
 * (whole subcommands: they parse their own arguments). */
int i2k_cli_destroy_aws(int argc, char **argv);
int i2k_cli_ps_aws(int argc, char **argv);

#endif
