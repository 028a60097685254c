/* datadisk.c — see datadisk.h. */
#include "datadisk.h"

#include "blkid.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define MAX_DEVS 256

static int cmp_devname(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Whether dev/name carries an ext file system labelled label. */
static int has_label(const char *dev, const char *name, const char *label)
{
	char path[512], got[17];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dev, name) >= sizeof(path))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	int r = i2ki_blkid_ext4_label(fd, got) == 0 && strcmp(got, label) == 0;
	close(fd);
	return r;
}

int i2ki_datadisk_mount(const char *sysfs, const char *dev, const char *label, const char *dir)
{
	char err[256] = "";
	if (i2ki_mkdir_p(dir, 0755, err, sizeof(err)) < 0) {
		i2ki_log_warn("data disk: mkdir %s: %s", dir, err);
		return -1;
	}
	char p[512];
	snprintf(p, sizeof(p), "%s/class/block", sysfs);
	DIR *d = opendir(p);
	static char names[MAX_DEVS][64];
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) && n < MAX_DEVS)
		if (e->d_name[0] != '.' && strlen(e->d_name) < sizeof(names[0]))
			memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
	if (d)
		closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_devname);
	for (size_t i = 0; i < n; i++) {
		if (!has_label(dev, names[i], label))
			continue;
		char src[512];
		if ((size_t)snprintf(src, sizeof(src), "%s/%s", dev, names[i]) >= sizeof(src))
			continue;
		if (mount(src, dir, "ext4", MS_NOATIME | MS_NODEV | MS_NOSUID, NULL) < 0) {
			i2ki_log_errno("data disk: mount %s (label %s) on %s", src, label, dir);
			return -1;
		}
		i2ki_log_info("data disk: %s (label %s) mounted on %s", src, label, dir);
		return 1;
	}
	i2ki_log_debug("data disk: no disk labelled %s: %s is in memory", label, dir);
	return 0;
}
