/* cmd_validate.h — `i2kit validate FILE...`: parses and merges the given
 * LinuxKit-style YAML files exactly as a build would (without fetching
 * anything), then prints "FILE: ok" for each file on stdout.
 *
 * Exit status: 0 valid; 1 invalid (one line "i2kit: error: FILE:LINE:COL:
 * ..." on stderr); 2 usage (no files, unknown option).
 */
#ifndef I2K_CLI_CMD_VALIDATE_H
#define I2K_CLI_CMD_VALIDATE_H

/* argv[0] is "validate". Returns the process exit status. */
int i2k_cmd_validate(int argc, char **argv);

#endif
