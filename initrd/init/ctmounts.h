/* ctmounts.h — mounts for the guest init's container runner (runner.c):
 * fstab-style option parsing shared with runtime.json (runtime.c), path
 * resolution inside a container rootfs, the OCI config.json mounts,
 * devices, pivot_root, masked/readonly paths and the readonly root.
 *
 * Every function returns 0, or -1 with a one-line reason in errbuf
 * (never exits, never prints). Paths are bounded by CTM_PATH_MAX.
 */
#ifndef I2K_INITRD_INIT_CTMOUNTS_H
#define I2K_INITRD_INIT_CTMOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct jnode;

#define CTM_PATH_MAX 1024
#define CTM_DATA_MAX 3072

/* A mount's options split into mount(2) flags, propagation flags and the
 * filesystem data string ("mode=755,size=65536k"). */
struct ctm_opts {
	unsigned long flags;	   /* MS_RDONLY, MS_NOSUID, MS_REMOUNT, MS_BIND, MS_REC ... */
	unsigned long propagation; /* MS_PRIVATE/SHARED/SLAVE/UNBINDABLE (| MS_REC) or 0 */
	bool bind;		   /* "bind"/"rbind" given or type "bind" */
	char data[CTM_DATA_MAX];
};

/* Parses an OCI "options" array (NULL = none) for a mount of type (may be
 * NULL). Unknown words become filesystem data. */
int i2ki_ctm_parse_options(const struct jnode *options, const char *type, struct ctm_opts *o,
			   char *errbuf, size_t errlen);

/* Mounts src on dst with the parsed options, the way runc does: a bind
 * first then a remount for its flags, then the propagation change
 * separately; a bare "remount,private" only changes propagation. */
int i2ki_ctm_mount(const char *src, const char *dst, const char *type, const struct ctm_opts *o,
		   char *errbuf, size_t errlen);

/* Resolves path (absolute, inside the container) under root, following
 * symlinks as if root were "/" (absolute targets restart at root, ".."
 * never climbs above it; at most 40 links). Missing components are kept
 * as they are. Writes root + resolved path to out. */
int i2ki_ctm_resolve(const char *root, const char *path, char *out, size_t outlen, char *errbuf,
		     size_t errlen);

/* In the container's new mount namespace, before pivot: applies
 * linux.rootfsPropagation (default rslave) to "/", makes rootfs a mount
 * point (rbind on itself), performs config.json "mounts" in order under
 * rootfs (bind sources relative to bundle when not absolute), creates
 * linux.devices plus runc's default devices and /dev symlinks, then
 * pivot_root's into rootfs. "/" must not be rootfs itself, which
 * pivot_root refuses (switchroot.h sees to that): there is no MS_MOVE +
 * chroot fallback, which a process with CAP_SYS_CHROOT could escape. */
int i2ki_ctm_setup_rootfs(const struct jnode *cfg, const char *bundle, const char *rootfs,
			  char *errbuf, size_t errlen);

/* After pivot (and sysctl): readonlyPaths, maskedPaths, a /dev mounted
 * "ro" remounted read-only, root.readonly remounted read-only. */
int i2ki_ctm_finish_rootfs(const struct jnode *cfg, char *errbuf, size_t errlen);

#endif
