/* mounts.c — early mounts of the guest init (see mounts.h). */
#include "mounts.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int is_mounted(const char *path)
{
	struct stat a, b;
	char parent[512];
	if (stat(path, &a) < 0)
		return 0;
	snprintf(parent, sizeof(parent), "%s/..", path);
	if (stat(parent, &b) < 0)
		return 0;
	return a.st_dev != b.st_dev;
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long flags,
		const char *data, int optional)
{
	if (i2ki_mkdir_p(dst, 0755, NULL, 0) < 0) {
		if (!optional)
			i2ki_log_errno("mount: mkdir %s", dst);
		return;
	}
	if (is_mounted(dst))
		return;
	if (mount(src, dst, type, flags, data) < 0 && !optional)
		i2ki_log_errno("mount %s on %s", type, dst);
}

void i2ki_mounts_console(void)
{
	mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC | MS_RELATIME, "mode=0755", 0);
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		/* devtmpfs missing: make the node ourselves */
		(void)mknod("/dev/console", S_IFCHR | 0600, makedev(5, 1));
		fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	}
	if (fd < 0)
		return; /* nowhere to log to; keep going blind */
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

static void link_if_missing(const char *target, const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return;
	if (symlink(target, path) < 0)
		i2ki_log_errno("symlink %s", path);
}

void i2ki_mounts_early(void)
{
	const unsigned long nse = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
	mnt("proc", "/proc", "proc", nse, NULL, 0);
	mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0);
	i2ki_mounts_console();
	mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=0620,ptmxmode=0666",
	    0);
	link_if_missing("pts/ptmx", "/dev/ptmx");
	mnt("shm", "/dev/shm", "tmpfs", nse, "mode=1777,size=10%", 0);
	(void)chmod("/dev/shm", 01777);
	mnt("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0);
	link_if_missing("/proc/self/fd", "/dev/fd");
	link_if_missing("/proc/self/fd/0", "/dev/stdin");
	link_if_missing("/proc/self/fd/1", "/dev/stdout");
	link_if_missing("/proc/self/fd/2", "/dev/stderr");
	link_if_missing("/proc/kcore", "/dev/core");

	mnt("tmpfs", "/run", "tmpfs", nse, "mode=0755,size=10%", 0);
	mnt("tmpfs", "/tmp", "tmpfs", nse, "mode=1777,size=10%", 0);
	(void)chmod("/tmp", 01777);
	mnt("tmpfs", "/var", "tmpfs", nse, "mode=0755,size=50%", 0);
	static const char *const vardirs[] = {"/var/cache", "/var/empty", "/var/lib",
					      "/var/local", "/var/lock",  "/var/log",
					      "/var/opt",   "/var/spool", "/var/tmp"};
	for (size_t i = 0; i < sizeof(vardirs) / sizeof(vardirs[0]); i++)
		if (mkdir(vardirs[i], 0755) < 0 && errno != EEXIST)
			i2ki_log_errno("mkdir %s", vardirs[i]);
	(void)chmod("/var/tmp", 01777);
	link_if_missing("/run", "/var/run");
	(void)i2ki_mkdir_p("/run/resolvconf", 0755, NULL, 0);
	(void)i2ki_mkdir_p("/run/i2kit", 0755, NULL, 0);

	mnt("securityfs", "/sys/kernel/security", "securityfs", nse, NULL, 1);
	mnt("debugfs", "/sys/kernel/debug", "debugfs", nse, NULL, 1);
	mnt("configfs", "/sys/kernel/config", "configfs", nse, NULL, 1);
	mnt("fusectl", "/sys/fs/fuse/connections", "fusectl", nse, NULL, 1);
	mnt("bpffs", "/sys/fs/bpf", "bpf", nse, "mode=0700", 1);
	if (access("/sys/firmware/efi/efivars", F_OK) == 0)
		mnt("efivarfs", "/sys/firmware/efi/efivars", "efivarfs", nse, NULL, 1);

	mnt("cgroup2", "/sys/fs/cgroup", "cgroup2", nse, "nsdelegate", 0);
	static const char *const ctrls[] = {"+cpu", "+memory", "+pids", "+io"};
	for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++)
		if (i2ki_write_file("/sys/fs/cgroup/cgroup.subtree_control", ctrls[i]) < 0)
			i2ki_log_errno("cgroup: enable %s", ctrls[i] + 1);

	/* as LinuxKit: mounts made under / propagate to namespaces that ask */
	if (mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL) < 0)
		i2ki_log_errno("mount --make-rshared /");
}
