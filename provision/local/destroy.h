/* destroy.h — tearing down a locally deployed service.
 *
 * i2k_local_destroy(DIR): SIGTERM to the supervisor, which powers every
 * replica off over ACPI (QMP system_powerdown, then SIGKILL after the
 * grace period) and closes its balancers; after I2K_LOCAL_DESTROY_WAIT_S
 * the supervisor is killed. Then any process left from a replica (the
 * QEMU pids in replicas/ID/pid, the `run qemu` pids in status.json) is
 * killed, and DIR is removed — all of it with `volumes`, else everything
 * but data.img (DIR goes too when nothing else is left).
 */
#ifndef I2K_PROVISION_LOCAL_DESTROY_H
#define I2K_PROVISION_LOCAL_DESTROY_H

#include <stdbool.h>

#include "builder/base/error.h"

#define I2K_LOCAL_DESTROY_WAIT_S 60

/* *stopped: a supervisor was running. I2K_ERR_NOTFOUND when DIR does not
 * exist. */
int i2k_local_destroy(const char *dir, bool volumes, bool *stopped, struct i2k_error **err);

/* The request of the local provider's destroy op (provision/provider.h). */
struct i2k_local_destroy_rq {
	const char *dir;
	bool volumes;
};

#endif
