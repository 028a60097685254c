/* mounts.h — the guest init's early mounts, as LinuxKit's rc.init does
 * them: proc, sysfs (+ securityfs, debugfs, configfs, bpf, fusectl when
 * available), devtmpfs on /dev (+ devpts with ptmxmode=0666, /dev/shm,
 * /dev/mqueue, the /dev/fd, stdin, stdout, stderr links), cgroup2 on
 * /sys/fs/cgroup with the cpu, memory, pids and io controllers enabled for
 * children, tmpfs on /run, /tmp and /var (with /var's usual directories and
 * /var/run → /run), and / made rshared. Each failure is logged; the rest
 * goes on. */
#ifndef I2K_INITRD_INIT_MOUNTS_H
#define I2K_INITRD_INIT_MOUNTS_H

/* Mounts devtmpfs on /dev if needed and makes /dev/console fds 0, 1, 2
 * (stdin read-write too). Safe to call twice. */
void i2ki_mounts_console(void);

/* Everything else above. */
void i2ki_mounts_early(void);

#endif
