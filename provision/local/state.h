/* state.h — where the local provider keeps its state, and the files that
 * connect `i2kit deploy`, its supervisor, `ps`, `logs` and `destroy`.
 *
 *   ROOT = $XDG_STATE_HOME/i2kit/local, else $HOME/.local/state/i2kit/local
 *   ROOT/SERVICE/                 one directory per service
 *     desired.json                what deploy asks for (i2k_local_spec)
 *     supervisor.pid              the supervisor's pid while it runs
 *     supervisor.log              its log (--detach)
 *     status.json                 what runs now (written by the supervisor)
 *     images/HASH/                a kernel+initrd build (SERVICE-kernel ...)
 *                                 and the LinuxKit YAML it was built from
 *     replicas/ID/                one replica VM: `i2kit run qemu --state`
 *                                 (pid, console.log, qmp.sock) + run.log
 *     data.img                    stateful services: the data disk (ext4)
 *
 * status.json: {"service", "pid", "hash", "state": "running"|"updating"|
 *   "stopping", "ports": [{"guest", "port"}], "replicas": [{"slot", "id",
 *   "pid", "state", "healthy", "started" (unix s), "restarts", "hash",
 *   "ports": [host ports]}]}
 */
#ifndef I2K_PROVISION_LOCAL_STATE_H
#define I2K_PROVISION_LOCAL_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "builder/base/error.h"

/* ROOT (caller frees). I2K_ERR_CONFIG when neither variable is set. */
int i2k_local_root(char **out, struct i2k_error **err);
/* ROOT/NAME (caller frees); NAME must be a valid service name. */
int i2k_local_service_dir(const char *name, char **out, struct i2k_error **err);

/* The supervisor's pid from DIR/supervisor.pid when that process is alive
 * and is an i2kit; 0 otherwise. */
pid_t i2k_local_supervisor_pid(const char *dir);

/* Reads DIR/status.json (NULL when absent or unreadable). */
json_t *i2k_local_status_load(const char *dir);

/* Formats a message and hands it to fn(ctx, msg) — how the local
 * provider reports progress without printing. fn NULL: nothing. */
void i2k_local_emit(void (*fn)(void *ctx, const char *msg), void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A free TCP port on 127.0.0.1 (0 on failure). */
uint16_t i2k_local_free_port(void);

#endif
