/* supervise.h — the guest init's container orchestration: onboot
 * containers one at a time in name order (waiting for each; a failure is
 * logged and boot goes on), then every service at once, supervised with a
 * restart policy, then on shutdown the onshutdown containers in order and
 * SIGTERM → (10 s) → SIGKILL for the services.
 *
 * Bundles are the directories of /containers/onboot, /containers/services
 * and /containers/onshutdown (at most SUP_MAX containers in all). A name
 * "NNN-x" is shown as "x". Each container's stdout+stderr is a pipe the
 * init copies to the console (each line prefixed "NAME: ") and to
 * /var/log/NAME.log (raw).
 *
 * Restart policy: config.json annotation "org.i2kit.restart" = "no"
 * (default, as LinuxKit) | "on-failure" (non-zero exit or killed by a
 * signal) | "always"; the delay starts at 1 s and doubles up to 60 s,
 * back to 1 s after a run of at least 10 s. Only services restart.
 *
 * Power triggers, all handled in the same poll loop:
 *   SIGTERM, SIGUSR2, SIGUSR1 → poweroff;  SIGINT (ctrl-alt-del) → reboot;
 *   KEY_POWER from any /dev/input/event* (the ACPI power button, QEMU's
 *   system_powerdown) → poweroff;
 *   a file named poweroff, halt or reboot created in /run/i2kit (inotify):
 *   a container gets this by binding /run/i2kit into itself, e.g.
 *   `binds: [/run/i2kit:/run/i2kit]` then `touch /run/i2kit/poweroff`
 *   (busybox `poweroff` inside a container signals the init of ITS pid
 *   namespace, not this one, unless the container uses the host's pid
 *   namespace). halt is treated as poweroff: a halted VM only hangs. */
#ifndef I2K_INITRD_INIT_SUPERVISE_H
#define I2K_INITRD_INIT_SUPERVISE_H

#define SUP_MAX 128

enum sup_action { SUP_NONE, SUP_POWEROFF, SUP_REBOOT };

/* Blocks the handled signals into a signalfd, watches /run/i2kit and
 * /dev/input, opens /dev/null. Call before anything else starts. */
void i2ki_sup_init(void);
/* (Re)opens the /dev/input/event* devices (after modules are loaded). */
void i2ki_sup_scan_input(void);

/* Runs /containers/onboot/{*} in order; returns how many failed (non-zero
 * exit, killed, or could not start). Stops early when a power trigger
 * arrives (i2ki_sup_pending() says which). */
int i2ki_sup_run_onboot(void);
/* Starts /containers/services/{*}; returns how many bundles there are. */
int i2ki_sup_start_services(void);
/* Serves until a power trigger; returns it. Never returns SUP_NONE. */
enum sup_action i2ki_sup_serve(void);
/* The trigger seen so far (SUP_NONE if none). */
enum sup_action i2ki_sup_pending(void);

/* Shutdown, in this order: onshutdown containers (each at most 30 s),
 * then SIGTERM to services (SIGKILL at once for a pid-namespace init that
 * does not catch SIGTERM: the kernel would drop it), SIGKILL after
 * timeout_ms, i2ki_runner_cleanup for each. */
void i2ki_sup_run_onshutdown(void);
void i2ki_sup_stop_services(int timeout_ms);

/* Container name shown for a bundle directory name ("000-hello" → "hello"). */
const char *i2ki_sup_display_name(const char *dir);

#endif
