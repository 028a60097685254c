/* switchroot.c — the initramfs root onto a pivotable mount (see switchroot.h). */
#include "switchroot.h"

#include "log.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define NEWROOT "/.i2kit-newroot"
#define RAMFS_MAGIC_V 0x858458f6
#define TMPFS_MAGIC_V 0x01021994

int i2ki_switchroot_needed(int argc, char **argv)
{
	struct statfs sf;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], SWITCHROOT_MARKER) == 0)
			return 0;
	if (statfs("/", &sf) < 0)
		return 0;
	return (uint32_t)sf.f_type == RAMFS_MAGIC_V || (uint32_t)sf.f_type == TMPFS_MAGIC_V;
}

void i2ki_switchroot_run(int argc, char **argv)
{
	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST) {
		i2ki_log_errno("switchroot: mkdir %s", NEWROOT);
		return;
	}
	/* not MS_REC: the devtmpfs that the console came from stays behind on
	 * rootfs; mounts.h mounts /dev afresh after the exec */
	if (mount("/", NEWROOT, NULL, MS_BIND, NULL) < 0) {
		i2ki_log_errno("switchroot: bind / on %s", NEWROOT);
		(void)rmdir(NEWROOT);
		return;
	}
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0) {
		i2ki_log_errno("switchroot: move %s onto /", NEWROOT);
		(void)chdir("/");
		(void)umount2(NEWROOT, MNT_DETACH);
		(void)rmdir(NEWROOT);
		return;
	}
	if (chroot(".") < 0 || chdir("/") < 0) {
		i2ki_log_errno("switchroot: chroot into the new root");
		return;
	}
	/* the bind mount's own copy of the (now empty) mount point */
	(void)rmdir(NEWROOT);
	if (mount(NULL, "/", NULL, MS_REMOUNT, "size=90%") < 0)
		i2ki_log_errno("switchroot: remount / with size=90%%");
	char *nargv[64];
	int n = 0;
	for (int i = 0; i < argc && n < 62; i++)
		nargv[n++] = argv[i];
	nargv[n++] = (char *)SWITCHROOT_MARKER;
	nargv[n] = NULL;
	extern char **environ;
	const char *self = argc > 0 && argv[0][0] == '/' ? argv[0] : "/init";
	execve(self, nargv, environ);
	i2ki_log_errno("switchroot: exec %s on the new root", self);
}
