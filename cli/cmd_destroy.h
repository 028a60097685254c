/* cmd_destroy.h — `i2kit destroy -s SERVICE.yml [-e ENV.yml] [--volumes]`,
 * `i2kit destroy SERVICE...` or `i2kit destroy --all`: stops a locally
 * deployed service (provision/local/destroy.h) and removes its state
 * directory; a stateful service's data disk stays unless --volumes.
 */
#ifndef I2K_CLI_CMD_DESTROY_H
#define I2K_CLI_CMD_DESTROY_H

int i2k_cmd_destroy(int argc, char **argv);

#endif
