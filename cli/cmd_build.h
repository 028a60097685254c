/* cmd_build.h — `i2kit build` (also `i2kit-build`). */
#ifndef I2K_CLI_CMD_BUILD_H
#define I2K_CLI_CMD_BUILD_H

int i2k_cmd_build(int argc, char **argv);

#endif
