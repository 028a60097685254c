/* cmd_deploy.h — `i2kit deploy -s SERVICE.yml [-e ENV.yml] [--detach]`: the
 * local provider (provision/local/): build when the inputs changed, then
 * run the supervisor in the foreground (events on stderr, a live status
 * table on a terminal; Ctrl-C stops every replica), or in the background
 * with --detach (pid file and log in the service's state directory; the
 * command returns once every replica is healthy and prints the status).
 * With a supervisor already running for the service, deploy writes the new
 * desired state, sends it SIGHUP (rolling update) and waits for it to
 * settle.
 *
 * Exit status: 0; 1 config/build/health errors; 2 usage; 130 interrupted.
 */
#ifndef I2K_CLI_CMD_DEPLOY_H
#define I2K_CLI_CMD_DEPLOY_H

int i2k_cmd_deploy(int argc, char **argv);

#endif
