/* supervisor.h — the local provider's supervisor: one process per service
 * that keeps `replicas` VMs running behind one balancer per port.
 *
 * Each replica is a child `EXE run qemu` (EXE is i2kit itself) in its own
 * process group, publishing every guest port on a free 127.0.0.1 port,
 * with --state ROOT/SERVICE/replicas/ID and the kernel command line
 * "i2kit.service=NAME i2kit.replica=SLOT" appended (SLOT is 1-based; a
 * service in the guest can read it from /proc/cmdline). The child gets
 * PR_SET_PDEATHSIG=SIGTERM: if the supervisor dies, the VMs power off.
 *
 * The loop (every 200 ms and on every socket event):
 *   - health checks per replica every interval (health.h); a replica takes
 *     new connections once healthy. TCP checks of a booting replica wait
 *     for i2kit's init to print "i2kit-init: boot finished" on the console
 *     (at most 30 s), since QEMU accepts forwarded connections before the
 *     guest can;
 *   - a replica whose process exits is replaced after a backoff (1 s,
 *     doubling up to 30 s; reset after 60 s healthy); one that stays
 *     unhealthy (3 intervals and at least 10 s after having been healthy,
 *     or $I2KIT_BOOT_GRACE s — default 300 — without ever being healthy)
 *     is stopped and replaced;
 *   - rolling update: when desired.json names another image (reread on
 *     i2k_local_reload), one slot at a time a new replica boots; once it is
 *     healthy it takes the old one's place in the balancer, the old one is
 *     drained (no open connections, at most 10 s) and powered off;
 *   - stopping a replica: SIGTERM to its `run qemu` (ACPI power-off), then
 *     SIGKILL after grace + 5 s (grace: $I2KIT_RUN_GRACE, default 10 s).
 * On i2k_interrupted everything is stopped that way, the balancers closed,
 * and replicas/, status.json and supervisor.pid removed (images and the
 * data disk stay for the next deploy; `destroy` removes them).
 */
#ifndef I2K_PROVISION_LOCAL_SUPERVISOR_H
#define I2K_PROVISION_LOCAL_SUPERVISOR_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

/* A published port: guest port → balancer on 127.0.0.1:listen (0 → free;
 * when taken, a free one unless listen_forced). */
struct i2k_local_port {
	uint16_t guest, listen;
	bool listen_forced;
};

/* A health check of one guest port (path NULL → TCP). */
struct i2k_local_check {
	uint16_t guest;
	char *path;
	unsigned interval_ms, timeout_ms;
};

/* What a deploy asks for: stored as DIR/desired.json. */
struct i2k_local_spec {
	char *service;
	char *image;	 /* kernel+initrd build prefix */
	char *hash;	 /* content hash of the build inputs */
	char *accel;	 /* "kvm" or "tcg" */
	char *data_disk; /* NULL, or a disk image attached to the (single) replica */
	unsigned replicas, mem_mb, cpus;
	struct i2k_local_port *ports;
	size_t nports;
	struct i2k_local_check *checks;
	size_t nchecks;
};

/* JSON text of a spec (caller frees). */
char *i2k_local_spec_dump(const struct i2k_local_spec *s);
/* Reads a spec from path; I2K_ERR_CONFIG for a malformed file. */
int i2k_local_spec_load(const char *path, struct i2k_local_spec *out, struct i2k_error **err);
void i2k_local_spec_clear(struct i2k_local_spec *s);

/* Set by the caller's SIGHUP handler: reread desired.json. */
extern volatile sig_atomic_t i2k_local_reload;

struct i2k_local_sup_opts {
	const char *dir; /* ROOT/SERVICE, holding desired.json */
	const char *exe; /* the i2kit binary to run replicas with */
	/* Called for each event ("replica 1 (id 3) healthy after 4.2 s");
	 * may be NULL. */
	void (*on_event)(void *ctx, const char *msg);
	/* Called whenever status.json is rewritten; may be NULL. */
	void (*on_status)(void *ctx, const json_t *status);
	void *ctx;
};

/* Runs until i2k_interrupted; writes supervisor.pid (I2K_ERR_CONFIG
 * "SERVICE is already deployed (supervisor pid N)" if another runs).
 * Returns 0 after a clean teardown. */
int i2k_local_supervise(const struct i2k_local_sup_opts *o, struct i2k_error **err);

#endif
