/* template.h — a service manifest (+ environment) → the LinuxKit YAML that
 * `i2kit build` turns into the service's VM image (one VM per pod).
 *
 * The YAML holds:
 *   kernel:   manifest kernel > environment kernel > I2K_TEMPLATE_KERNEL
 *             (cmdline default "console=ttyS0")
 *   init:     manifest init > environment init > i2kit/init:VERSION (i2kit's
 *             own PID 1, DHCP built in)
 *   services: one per container, in manifest order, each with
 *             net: host (the containers of a pod share the VM's network),
 *             Docker's default capability set (never "all"), command and
 *             env when given, and the annotations org.i2kit.restart: always
 *             (read by the guest init's supervisor), org.i2kit.service and
 *             org.i2kit.container; for a stateful service also the bind
 *             I2K_TEMPLATE_DATA_BIND: the data disk the guest init mounts
 *             (initrd/init/datadisk.h) appears at /data in every container
 *             of the pod.
 *   files:    etc/i2kit/service (the service name, for the guest) and
 *             etc/linuxkit.yml (metadata: yaml).
 * Every string is written as a JSON (= YAML double-quoted) scalar, so image
 * names, commands and values are never reinterpreted. The output is
 * deterministic for a given manifest and environment.
 */
#ifndef I2K_PROVISION_TEMPLATE_H
#define I2K_PROVISION_TEMPLATE_H

#include <stddef.h>

#include "builder/base/error.h"
#include "provision/service.h"

#define I2K_TEMPLATE_KERNEL "linuxkit/kernel:6.6.71"
#define I2K_TEMPLATE_CMDLINE "console=ttyS0"
/* The guest init mounts the data disk at I2KI_DATA_DIR (initrd/init/datadisk.h;
 * test_service checks the two agree). */
#define I2K_TEMPLATE_DATA_BIND "/var/lib/i2kit/data:/data"

/* Docker's default capability set (moby's oci/caps DefaultCapabilities). */
extern const char *const i2k_template_default_caps[];
extern const size_t i2k_template_ndefault_caps;

/* env may be NULL. *out is a new NUL-terminated string (caller frees). */
int i2k_template_linuxkit_yaml(const struct i2k_service *m, const struct i2k_environment *env,
			       char **out, struct i2k_error **err);

#endif
