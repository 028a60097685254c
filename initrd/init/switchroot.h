/* switchroot.h — moves the initramfs root onto a real mount.
 *
 * The kernel unpacks the initrd into "rootfs", the root of the initial
 * mount namespace. It can be neither unmounted nor pivot_root'ed away, so a
 * container runner that pivot_root()s into a bundle's rootfs (even inside a
 * new mount namespace) fails with EINVAL while / is rootfs. As LinuxKit's
 * init does, PID 1 therefore moves the whole tree into a fresh tmpfs
 * (file by file: each file is copied, then unlinked from rootfs, so memory
 * use stays about flat; hard links, symlinks, devices, owners, modes,
 * times and xattrs are kept), MS_MOVEs that tmpfs onto /, chroots into it
 * and re-executes /init with the marker argument SWITCHROOT_MARKER.
 *
 * The tmpfs is mounted with size=90% (the initramfs itself was unbounded).
 * A file that cannot be copied is logged and left behind; the switch
 * still happens. */
#ifndef I2K_INITRD_INIT_SWITCHROOT_H
#define I2K_INITRD_INIT_SWITCHROOT_H

#define SWITCHROOT_MARKER "--i2kit-switched-root"

/* True when / is the initramfs (ramfs or tmpfs) and argv has no marker. */
int i2ki_switchroot_needed(int argc, char **argv);

/* Does the move and execs /init; returns only on failure (logged), with /
 * unchanged if the copy never started. The caller continues on the old
 * root then. */
void i2ki_switchroot_run(int argc, char **argv);

/* Copies (and, when move is set, unlinks) the tree under the directory fd
 * src into the directory fd dst, staying on src's filesystem. Returns the
 * number of entries that failed (each logged). Exposed for tests. */
int i2ki_switchroot_copy_tree(int src, int dst, int move);

#endif
