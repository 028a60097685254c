/* shutdown.h — the guest init's last steps, after the containers are
 * stopped (supervise.h): SIGTERM then SIGKILL to every remaining process,
 * sync, unmount everything in reverse mount order (lazily; / is remounted
 * read-only), optionally report the run's status through QEMU's
 * isa-debug-exit device, then reboot(2). Never returns: if reboot fails it
 * logs and sleeps forever (PID 1 must not exit). */
#ifndef I2K_INITRD_INIT_SHUTDOWN_H
#define I2K_INITRD_INIT_SHUTDOWN_H

#include "supervise.h"

/* status: 0 when every onboot container succeeded, else 1. With
 * i2kit.exitcode=isa-debug-exit on the kernel cmdline and a poweroff, the
 * byte is written to I/O port 0xf4 (QEMU then exits with (status<<1)|1). */
void i2ki_shutdown_system(enum sup_action action, int status) __attribute__((noreturn));

/* Unmounts what /proc/self/mounts lists, last first; returns how many
 * unmounts failed. Exposed for reuse. */
int i2ki_shutdown_unmount_all(void);

#endif
