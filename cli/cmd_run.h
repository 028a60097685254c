/* cmd_run.h — `i2kit run qemu [OPTIONS] IMAGE`: boot a kernel+initrd build
 * locally (provision/qemu.h does the work).
 *
 * Exit status: the guest's (0 when every onboot container succeeded, see
 * provision/qemu.h); 124 when --timeout expired; 130 when interrupted and
 * the guest did not power off within the grace period; 2 for usage errors;
 * 1 when QEMU could not run.
 */
#ifndef I2K_CLI_CMD_RUN_H
#define I2K_CLI_CMD_RUN_H

#include <stdbool.h>

#include "builder/base/error.h"
#include "provision/provider.h"
#include "provision/qemu.h"

struct i2k_run_args {
	struct i2k_qemu_opts qemu;	  /* publish points into publish below */
	struct i2k_qemu_publish *publish; /* owned */
	i2k_provider_op run;		  /* the provider's run op (provision/provider.h) */
	bool help;
	bool verbose; /* -v: say how the kernel boots (PVH or bzImage, and why) */
};

/* Parses argv (argv[0] = "run", argv[1] = provider). On success a->help
 * may be set (nothing else is checked then). Errors are I2K_ERR_USAGE with
 * the message to print (e.g. "--mem: \"x\" is not a number in 16..1048576",
 * "unknown provider \"aws\" (only qemu)", "no IMAGE given"). Free with
 * i2k_run_args_clear also after an error. */
int i2k_run_parse(int argc, char **argv, struct i2k_run_args *a, struct i2k_error **err);
void i2k_run_args_clear(struct i2k_run_args *a);

int i2k_cmd_run(int argc, char **argv);

#endif
