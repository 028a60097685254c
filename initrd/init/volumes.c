/* volumes.c — mounting the config's volumes (see volumes.h). */
#include "volumes.h"

#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

static int is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Mounts one volume; 0 or -1 (logged). */
static int mount_one(const char *dir, const char *name)
{
	char lower[512], merged[512], tmp[512], upper[530], work[530], opts[1700];
	if ((size_t)snprintf(lower, sizeof(lower), "%s/%s/lower", dir, name) >= sizeof(lower) ||
	    (size_t)snprintf(merged, sizeof(merged), "%s/%s/merged", dir, name) >= sizeof(merged) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/%s/tmp", dir, name) >= sizeof(tmp)) {
		i2ki_log_warn("volumes: %s: name too long", name);
		return -1;
	}
	if (!is_dir(lower) || !is_dir(merged)) {
		i2ki_log_warn("volumes: %s has no %s directory", name,
			      is_dir(lower) ? "merged" : "lower");
		return -1;
	}
	if (!is_dir(tmp)) {
		if (mount(lower, merged, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    mount(NULL, merged, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
			i2ki_log_errno("volumes: %s: read-only bind of %s", name, lower);
			return -1;
		}
		i2ki_log_info("volumes: %s mounted read-only", name);
		return 0;
	}
	snprintf(upper, sizeof(upper), "%s/upper", tmp);
	snprintf(work, sizeof(work), "%s/work", tmp);
	if (mount("tmpfs", tmp, "tmpfs", MS_RELATIME, "mode=0755") < 0) {
		i2ki_log_errno("volumes: %s: tmpfs on %s", name, tmp);
		return -1;
	}
	if ((mkdir(upper, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(work, 0755) < 0 && errno != EEXIST)) {
		i2ki_log_errno("volumes: %s: mkdir in %s", name, tmp);
		return -1;
	}
	snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
	if (mount("overlay", merged, "overlay", MS_RELATIME, opts) < 0) {
		i2ki_log_errno("volumes: %s: overlay on %s", name, merged);
		return -1;
	}
	i2ki_log_info("volumes: %s mounted read-write", name);
	return 0;
}

int i2ki_volumes_mount(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			i2ki_log_errno("volumes: %s", dir);
		return 0;
	}
	/* sorted, so the log is stable */
	char names[64][256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(names[0]))
			continue;
		size_t at = n++;
		while (at > 0 && strcmp(names[at - 1], e->d_name) > 0) {
			memcpy(names[at], names[at - 1], sizeof(names[0]));
			at--;
		}
		snprintf(names[at], sizeof(names[at]), "%s", e->d_name);
	}
	if (e)
		i2ki_log_warn("volumes: more than 64 in %s; the rest are not mounted", dir);
	closedir(d);
	int mounted = 0;
	for (size_t i = 0; i < n; i++)
		mounted += mount_one(dir, names[i]) == 0;
	return mounted;
}
