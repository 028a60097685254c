/* cmd_sign.h — `i2kit sign --key KEY.pem IMAGE...`. */
#ifndef I2K_CLI_CMD_SIGN_H
#define I2K_CLI_CMD_SIGN_H

int i2k_cmd_sign(int argc, char **argv);

#endif
