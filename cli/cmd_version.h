/* cmd_version.h — `i2kit version`. */
#ifndef I2K_CLI_CMD_VERSION_H
#define I2K_CLI_CMD_VERSION_H

int i2k_cmd_version(int argc, char **argv);

#endif
