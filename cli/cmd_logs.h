/* cmd_logs.h — `i2kit logs SERVICE [--replica N] [-f]`: the serial console
 * of a locally deployed service's current replicas (replicas/ID/console.log,
 * see provision/local/state.h), each line prefixed "[N] " when several are
 * shown. -f follows the files (and a restarted replica's new console) until
 * Ctrl-C. --supervisor shows the supervisor's log instead.
 */
#ifndef I2K_CLI_CMD_LOGS_H
#define I2K_CLI_CMD_LOGS_H

int i2k_cmd_logs(int argc, char **argv);

#endif
