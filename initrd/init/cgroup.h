/* cgroup.h — cgroup v2 groups for the guest init's container runner:
 * one group per container (linux.cgroupsPath, default /i2kit/NAME) with
 * the limits of linux.resources, and the bare groups of runtime.json
 * "cgroups". Everything lives under CGROUP_ROOT (the unified hierarchy,
 * mounted by the init before any container starts).
 *
 * Mapping of OCI linux.resources (runc's conversions):
 *   memory.limit → memory.max, memory.reservation → memory.low,
 *   memory.swap (memory+swap) → memory.swap.max = swap - limit,
 *   cpu.shares → cpu.weight = 1 + (shares - 2) * 9999 / 262142,
 *   cpu.quota/period → cpu.max "QUOTA PERIOD" (period default 100000),
 *   cpu.cpus/mems → cpuset.cpus/mems, pids.limit → pids.max,
 *   unified {"file": "value"} written as is. -1 (or ≤ 0 for pids/quota)
 *   means "max". resources.devices (eBPF on v2) is not enforced.
 */
#ifndef I2K_INITRD_INIT_CGROUP_H
#define I2K_INITRD_INIT_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct jnode;

#define CGROUP_ROOT "/sys/fs/cgroup"

/* True when CGROUP_ROOT is a cgroup v2 hierarchy. */
bool i2ki_cgroup_v2(void);

/* True when resources (linux.resources, may be NULL) asks for any limit
 * this file would write. */
bool i2ki_cgroup_has_limits(const struct jnode *resources);

/* Checks a group path: absolute, no "." / ".." components, ≤ 256 bytes. */
int i2ki_cgroup_check_path(const char *path, char *errbuf, size_t errlen);

/* Creates path (e.g. "/i2kit/web") and its parents, enables the
 * controllers (cpu, cpuset, io, memory, pids) in every ancestor's
 * cgroup.subtree_control, then writes the limits of resources. */
int i2ki_cgroup_create(const char *path, const struct jnode *resources, char *errbuf,
		       size_t errlen);

/* Moves pid into the group (cgroup.procs). */
int i2ki_cgroup_enter(const char *path, pid_t pid, char *errbuf, size_t errlen);

/* Removes the (empty) leaf group; errors are ignored. */
void i2ki_cgroup_remove(const char *path);

/* cpu.shares (2..262144, clamped) → cpu.weight (1..10000), as runc. */
unsigned long long i2ki_cgroup_cpu_weight(unsigned long long shares);

/* Writes value to CGROUP_ROOT + path + "/" + file. */
int i2ki_cgroup_write(const char *path, const char *file, const char *value, char *errbuf,
		      size_t errlen);

#endif
