/* cgroup.c — cgroup v2 groups and limits for containers. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctmounts.h"
#include "json.h"
#include "util.h"

#define CG_PATH_MAX 256

bool i2ki_cgroup_v2(void)
{
	return access(CGROUP_ROOT "/cgroup.controllers", F_OK) == 0;
}

int i2ki_cgroup_check_path(const char *path, char *errbuf, size_t errlen)
{
	size_t l = path ? strlen(path) : 0;
	if (l < 2 || path[0] != '/' || l > CG_PATH_MAX)
		return i2ki_fail(errbuf, errlen, "bad cgroup path %.64s", path ? path : "(null)");
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		if ((e - p == 1 && p[0] == '.') || (e - p == 2 && p[0] == '.' && p[1] == '.'))
			return i2ki_fail(errbuf, errlen, "bad cgroup path %.64s", path);
		p = e;
	}
	return 0;
}

int i2ki_cgroup_write(const char *path, const char *file, const char *value, char *errbuf,
		      size_t errlen)
{
	char f[CG_PATH_MAX + 128];
	if (strchr(file, '/') || strcmp(file, "..") == 0)
		return i2ki_fail(errbuf, errlen, "bad cgroup file name %.64s", file);
	if (snprintf(f, sizeof(f), CGROUP_ROOT "%s/%s", strcmp(path, "/") ? path : "", file) >=
	    (int)sizeof(f))
		return i2ki_fail(errbuf, errlen, "cgroup file path too long");
	int fd = open(f, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return i2ki_fail(errbuf, errlen, "cgroup %s: %s: %s", path, file, strerror(errno));
	size_t l = strlen(value);
	ssize_t n = write(fd, value, l);
	int e = errno;
	close(fd);
	if (n != (ssize_t)l)
		return i2ki_fail(errbuf, errlen, "cgroup %s: %s = %s: %s", path, file, value,
				 n < 0 ? strerror(e) : "short write");
	return 0;
}

static void enable_controllers(const char *parent)
{
	static const char *const ctl[] = {"+cpu", "+cpuset", "+io", "+memory", "+pids"};
	char e[8];
	for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++)
		(void)i2ki_cgroup_write(parent, "cgroup.subtree_control", ctl[i], e, sizeof(e));
}

static bool has_num(const struct jnode *o, const char *k)
{
	const struct jnode *n = i2ki_json_get(o, k);
	return n && n->type == J_NUM;
}

bool i2ki_cgroup_has_limits(const struct jnode *res)
{
	const struct jnode *m = i2ki_json_get(res, "memory"), *c = i2ki_json_get(res, "cpu"),
			   *p = i2ki_json_get(res, "pids"), *u = i2ki_json_get(res, "unified");
	return has_num(m, "limit") || has_num(m, "reservation") || has_num(m, "swap") ||
	       has_num(c, "shares") || has_num(c, "quota") || i2ki_json_get(c, "cpus") ||
	       i2ki_json_get(c, "mems") || has_num(p, "limit") || (u && u->n > 0);
}

/* A signed OCI value: < 0 (or the 2^64-1 "unlimited") is "max". */
static void fmt_limit(const struct jnode *n, char *buf, size_t len)
{
	if (n->num < 0 || n->dbl >= 9.2e18)
		snprintf(buf, len, "max");
	else
		snprintf(buf, len, "%lld", n->num);
}

static int write_memory(const char *path, const struct jnode *m, char *errbuf, size_t errlen)
{
	char v[32], sw[32] = "";
	const struct jnode *lim = i2ki_json_get(m, "limit"), *swap = i2ki_json_get(m, "swap"),
			   *res = i2ki_json_get(m, "reservation");
	bool has_lim = lim && lim->type == J_NUM;
	if (swap && swap->type == J_NUM) {
		/* OCI's swap is memory+swap; v2's swap.max is swap alone */
		if (swap->num < 0 || swap->dbl >= 9.2e18)
			snprintf(sw, sizeof(sw), "max");
		else if (!has_lim || lim->num < 0 || lim->dbl >= 9.2e18)
			return i2ki_fail(errbuf, errlen, "memory.swap needs a memory.limit");
		else if (swap->num < lim->num)
			return i2ki_fail(errbuf, errlen,
					 "memory.swap %lld is below memory.limit %lld", swap->num,
					 lim->num);
		else
			snprintf(sw, sizeof(sw), "%lld", swap->num - lim->num);
	}
	if (has_lim) {
		fmt_limit(lim, v, sizeof(v));
		if (i2ki_cgroup_write(path, "memory.max", v, errbuf, errlen) < 0)
			return -1;
	}
	if (res && res->type == J_NUM) {
		fmt_limit(res, v, sizeof(v));
		if (i2ki_cgroup_write(path, "memory.low", v, errbuf, errlen) < 0)
			return -1;
	}
	if (sw[0] && i2ki_cgroup_write(path, "memory.swap.max", sw, errbuf, errlen) < 0)
		return -1;
	return 0;
}

unsigned long long i2ki_cgroup_cpu_weight(unsigned long long shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int write_cpu(const char *path, const struct jnode *c, char *errbuf, size_t errlen)
{
	char v[64];
	long long shares, quota, period = 100000;
	if (i2ki_json_int(c, "shares", &shares) == 0 && shares > 0) {
		snprintf(v, sizeof(v), "%llu", i2ki_cgroup_cpu_weight((unsigned long long)shares));
		if (i2ki_cgroup_write(path, "cpu.weight", v, errbuf, errlen) < 0)
			return -1;
	}
	bool has_period = i2ki_json_int(c, "period", &period) == 0 && period > 0;
	if (!has_period)
		period = 100000;
	if (i2ki_json_int(c, "quota", &quota) == 0) {
		if (quota > 0)
			snprintf(v, sizeof(v), "%lld %lld", quota, period);
		else
			snprintf(v, sizeof(v), "max %lld", period);
		if (i2ki_cgroup_write(path, "cpu.max", v, errbuf, errlen) < 0)
			return -1;
	} else if (has_period) {
		snprintf(v, sizeof(v), "max %lld", period);
		if (i2ki_cgroup_write(path, "cpu.max", v, errbuf, errlen) < 0)
			return -1;
	}
	const char *cpus = i2ki_json_str(c, "cpus", NULL), *mems = i2ki_json_str(c, "mems", NULL);
	if (cpus && cpus[0] && i2ki_cgroup_write(path, "cpuset.cpus", cpus, errbuf, errlen) < 0)
		return -1;
	if (mems && mems[0] && i2ki_cgroup_write(path, "cpuset.mems", mems, errbuf, errlen) < 0)
		return -1;
	return 0;
}

int i2ki_cgroup_create(const char *path, const struct jnode *res, char *errbuf, size_t errlen)
{
	if (i2ki_cgroup_check_path(path, errbuf, errlen) < 0)
		return -1;
	char dir[CG_PATH_MAX + 32], parent[CG_PATH_MAX + 32] = "/";
	size_t rl = strlen(CGROUP_ROOT);
	snprintf(dir, sizeof(dir), CGROUP_ROOT "%s", path);
	/* each ancestor: enable controllers for its children, then mkdir */
	for (size_t i = rl + 1; i <= strlen(dir); i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		if (dir[i - 1] == '/')
			continue;
		enable_controllers(parent);
		char c = dir[i];
		dir[i] = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return i2ki_fail(errbuf, errlen, "mkdir %s: %s", dir, strerror(errno));
		snprintf(parent, sizeof(parent), "%s", dir + rl);
		dir[i] = c;
	}
	if (!res)
		return 0;
	if (write_memory(path, i2ki_json_get(res, "memory"), errbuf, errlen) < 0 ||
	    write_cpu(path, i2ki_json_get(res, "cpu"), errbuf, errlen) < 0)
		return -1;
	const struct jnode *p = i2ki_json_get(res, "pids");
	const struct jnode *pl = i2ki_json_get(p, "limit");
	if (pl && pl->type == J_NUM) {
		char v[32];
		if (pl->num > 0 && pl->dbl < 9.2e18)
			snprintf(v, sizeof(v), "%lld", pl->num);
		else
			snprintf(v, sizeof(v), "max");
		if (i2ki_cgroup_write(path, "pids.max", v, errbuf, errlen) < 0)
			return -1;
	}
	const struct jnode *u = i2ki_json_get(res, "unified");
	for (const struct jnode *k = u && u->type == J_OBJ ? u->kids : NULL; k; k = k->next) {
		if (k->type != J_STR)
			return i2ki_fail(errbuf, errlen, "resources.unified.%s is not a string",
					 k->key);
		if (i2ki_cgroup_write(path, k->key, k->str, errbuf, errlen) < 0)
			return -1;
	}
	return 0;
}

int i2ki_cgroup_enter(const char *path, pid_t pid, char *errbuf, size_t errlen)
{
	char v[24];
	snprintf(v, sizeof(v), "%d", (int)pid);
	return i2ki_cgroup_write(path, "cgroup.procs", v, errbuf, errlen);
}

void i2ki_cgroup_remove(const char *path)
{
	char dir[CG_PATH_MAX + 32];
	char e[8];
	if (i2ki_cgroup_check_path(path, e, sizeof(e)) < 0)
		return;
	snprintf(dir, sizeof(dir), CGROUP_ROOT "%s", path);
	(void)rmdir(dir);
}
