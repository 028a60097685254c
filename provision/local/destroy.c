/* destroy.c — see destroy.h. */
#include "provision/local/destroy.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/local/state.h"

/* Alive and not a zombie. */
static bool alive(pid_t pid)
{
	if (pid <= 1 || (kill(pid, 0) < 0 && errno != EPERM))
		return false;
	_cleanup_free_ char *path = i2k_xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *st = NULL;
	if (i2k_read_file(path, 4096, &st, NULL, NULL) < 0)
		return false;
	const char *p = strrchr(st, ')');
	return !(p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'));
}

static bool exe_starts(pid_t pid, const char *prefix)
{
	_cleanup_free_ char *link = i2k_xasprintf("/proc/%d/exe", (int)pid);
	char exe[4096];
	ssize_t n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	const char *b = strrchr(exe, '/');
	return strncmp(b ? b + 1 : exe, prefix, strlen(prefix)) == 0;
}

static void kill_if(pid_t pid, const char *prefix)
{
	if (alive(pid) && exe_starts(pid, prefix))
		kill(pid, SIGKILL);
}

static void kill_leftovers(const char *dir)
{
	json_t *st = i2k_local_status_load(dir);
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(st, "replicas"), i, r)
	    kill_if((pid_t)json_integer_value(json_object_get(r, "pid")), "i2kit");
	json_decref(st);
	_cleanup_free_ char *reps = i2k_xasprintf("%s/replicas", dir);
	DIR *d = opendir(reps);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		_cleanup_free_ char *pf = i2k_xasprintf("%s/%s/pid", reps, e->d_name);
		_cleanup_free_ char *text = NULL;
		if (i2k_read_file(pf, 64, &text, NULL, NULL) == 0)
			kill_if((pid_t)strtol(text, NULL, 10), "qemu");
	}
	closedir(d);
}

int i2k_local_destroy(const char *dir, bool volumes, bool *stopped, struct i2k_error **err)
{
	*stopped = false;
	struct stat sb;
	if (stat(dir, &sb) < 0)
		return i2k_error_set(err, I2K_ERR_NOTFOUND, "not deployed (no %s)", dir);
	pid_t sup = i2k_local_supervisor_pid(dir);
	if (sup > 0) {
		*stopped = true;
		kill(sup, SIGTERM);
		for (int i = 0; i < I2K_LOCAL_DESTROY_WAIT_S * 10 && alive(sup); i++) {
			struct timespec ts = {.tv_nsec = 100 * 1000000L};
			nanosleep(&ts, NULL);
		}
		if (alive(sup))
			kill(sup, SIGKILL);
	}
	kill_leftovers(dir);
	_cleanup_free_ char *data = i2k_xasprintf("%s/data.img", dir);
	if (volumes || stat(data, &sb) < 0)
		return i2k_rm_rf(dir, err);
	DIR *d = opendir(dir);
	if (!d)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", dir);
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, "data.img"))
			continue;
		_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, e->d_name);
		if (i2k_rm_rf(p, err) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}
