/* cmd_template.h — `i2kit template -s SERVICE.yml [-e ENVIRONMENT.yml]`:
 * prints the LinuxKit YAML generated from a service manifest
 * (provision/template.h) on stdout; `i2kit build` accepts it as is.
 * With `--provider aws --cloudformation` (and -e) it prints the service
 * stack's CloudFormation template instead, with `--environment-stack` the
 * environment stack's (provision/aws/stack_template.h); what only a deploy
 * knows becomes template Parameters.
 *
 * Exit status: 0; 1 for a manifest error (one line with FILE:LINE:COL);
 * 2 for usage.
 */
#ifndef I2K_CLI_CMD_TEMPLATE_H
#define I2K_CLI_CMD_TEMPLATE_H

#include "builder/base/error.h"
#include "provision/service.h"

int i2k_cmd_template(int argc, char **argv);

/* Loads the manifest and, when env_path is not NULL, the environment
 * (shared by template, deploy and destroy). *env stays NULL without one. */
int i2k_cli_load_service(const char *svc_path, const char *env_path, struct i2k_service **m,
			 struct i2k_environment **env, struct i2k_error **err);

#endif
