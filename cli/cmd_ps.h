/* cmd_ps.h — `i2kit ps [--json]`: the locally deployed services and their
 * replicas, from each service's status.json (provision/local/state.h) and
 * whether its supervisor is alive.
 *
 *   web      running  127.0.0.1:8080→80  supervisor pid 123
 *     REPLICA  ID  STATE     HEALTH     UPTIME  RESTARTS  VM PID
 *     1        3   up        healthy    1m04s   0         456
 */
#ifndef I2K_CLI_CMD_PS_H
#define I2K_CLI_CMD_PS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

int i2k_cmd_ps(int argc, char **argv);

/* Prints one service's status (the status.json object) as above; `live`
 * omits the header line's supervisor column. Returns the lines printed. */
int i2k_cli_print_status(FILE *f, const json_t *st, bool live);

#endif
