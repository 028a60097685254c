/* cmd_push.h — `i2kit push aws IMAGE`: a disk image to an AMI through the
 * EBS direct APIs (provision/aws/push.h). */
#ifndef I2K_CLI_CMD_PUSH_H
#define I2K_CLI_CMD_PUSH_H

int i2k_cmd_push(int argc, char **argv);

#endif
