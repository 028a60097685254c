/* fixup.h — LinuxKit's fix-ups of an image root before it is placed in the
 * final root (internal to builder/bundle; the entry point
 * i2k_bundle_fixup_rootfs is declared in bundle.h).
 *
 * From LinuxKit's ImageTar (src/cmd/linuxkit/moby/build/image.go), which
 * filters the image's tar stream:
 *   exclude  .dockerenv, Dockerfile, dev/console, etc/hostname, and
 *            dev/pts, dev/shm when they are not directories (LinuxKit drops
 *            the tar entries with exactly these names; a directory's entry
 *            is "dev/pts/" and so is kept);
 *   replace  etc/hosts (localhost lines) and etc/resolv.conf
 *            ("\n# no resolv.conf configured\n"): LinuxKit rewrites them
 *            when present and, since the replaced entries do not count as
 *            found, writes them again from `touch` — so whatever the image
 *            had, they end up regular files 0644 root:root with that text;
 *   touch    dev/, dev/pts/, dev/shm/, etc/, etc/hosts, etc/mtab
 *            (→ /proc/mounts), etc/resolv.conf, proc/, sys/: an existing
 *            entry gets the fixed mtime, a missing one is created (dirs
 *            0755, files 0644 with the replace contents, the symlink 0755,
 *            all root:root); a non-directory where a directory is needed is
 *            replaced by the directory (as extracting the tar would).
 * The fixed mtime is i2k_source_date_epoch() (LinuxKit: defaultModTime).
 */
#ifndef I2K_BUILDER_BUNDLE_FIXUP_H
#define I2K_BUILDER_BUNDLE_FIXUP_H

extern const char i2k_fixup_hosts[];
extern const char i2k_fixup_resolv[];

#endif
