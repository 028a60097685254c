/* runner.h — the guest init's container runner: starts one OCI bundle as
 * the builder wrote it (builder/bundle: config.json + runtime.json) and
 * returns the pid of the container's process. PID 1 (main.c) decides when
 * to run what and reaps the children.
 *
 * The bundle directory holds config.json (OCI runtime spec: process, root,
 * mounts, linux.namespaces, capabilities, rlimits, sysctl, resources,
 * maskedPaths, readonlyPaths, uidMappings, ...) and runtime.json
 * (LinuxKit's: mounts (done in the init's mount namespace BEFORE the
 * container starts: the rootfs bind or tmpfs+overlay), mkdir, cgroups,
 * interfaces, bindNS, namespace). root.path is relative to the bundle.
 *
 * Static, musl, no allocation-failure aborts: every failure is returned and
 * logged, never fatal to PID 1.
 */
#ifndef I2K_INITRD_INIT_RUNNER_H
#define I2K_INITRD_INIT_RUNNER_H

#include <sys/types.h>

struct runner_opts {
	const char *name;   /* container name ("web", "000-dhcpcd" → "dhcpcd") */
	const char *bundle; /* absolute bundle directory */
	int stdout_fd;	    /* where the process's stdout/stderr go (console+log tee pipe) */
	int stdin_fd;	    /* usually /dev/null */
};

/* Prepares the runtime.json actions, then clones the container process
 * with the namespaces of config.json and returns its pid in the init's pid
 * namespace (> 0), or -1 with a one-line reason in errbuf. The process
 * exec's config.json process.args inside the container. */
pid_t i2ki_runner_start(const struct runner_opts *o, char *errbuf, size_t errlen);

/* Undoes what i2ki_runner_start set up outside the container (runtime mounts,
 * cgroup directory) after the process has exited. Never fails hard. */
void i2ki_runner_cleanup(const struct runner_opts *o);

#endif
