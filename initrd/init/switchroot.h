/* switchroot.h — puts the initramfs root on a mount that can be pivoted away.
 *
 * The kernel unpacks the initrd into "rootfs", the root of the initial
 * mount namespace. It can be neither unmounted nor pivot_root'ed away, so a
 * container runner that pivot_root()s into a bundle's rootfs (even inside a
 * new mount namespace) fails with EINVAL while / is rootfs. LinuxKit's init
 * copies the whole tree into a fresh tmpfs for this. PID 1 here binds / onto
 * a directory of itself instead, MS_MOVEs that bind mount onto /, chroots
 * into it and re-executes /init with the marker argument SWITCHROOT_MARKER:
 * the same files, now on a mount whose parent is rootfs, so pivot_root()
 * works under it. Nothing is copied (the copy took ≈0.1 s of boot under TCG
 * for the web example's 7 MB).
 *
 * / is then remounted with size=90% (rootfs, a tmpfs, is created with
 * 50% of memory); on a kernel whose rootfs is ramfs (no CONFIG_TMPFS) that
 * remount fails, is logged, and / stays unbounded. */
#ifndef I2K_INITRD_INIT_SWITCHROOT_H
#define I2K_INITRD_INIT_SWITCHROOT_H

#define SWITCHROOT_MARKER "--i2kit-switched-root"

/* True when / is the initramfs (ramfs or tmpfs) and argv has no marker. */
int i2ki_switchroot_needed(int argc, char **argv);

/* Does the bind, move and chroot and execs /init; returns only on failure
 * (logged). The caller continues then, on the old root when the bind or the
 * move failed: containers will not start there (their pivot_root fails). */
void i2ki_switchroot_run(int argc, char **argv);

#endif
