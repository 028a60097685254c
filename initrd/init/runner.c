/* runner.c — starts one OCI bundle (runc-like): runtime.json actions, a
 * clone with the namespaces of config.json, a sync pipe pair so the
 * parent can write id maps, place the process in its cgroup and attach
 * interfaces before the child continues, and the child's setup (mounts,
 * pivot_root, sysctl, rlimits, user, capabilities) before execve.
 *
 * Sync protocol: pipe "go" (parent → child): the child blocks until it
 * reads one byte (EOF = the parent gave up: exit quietly). Pipe "rep"
 * (child → parent, close-on-exec): EOF means execve succeeded; otherwise
 * the child wrote a one-line reason and exits 127.
 */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "cgroup.h"
#include "ctmounts.h"
#include "json.h"
#include "runtime.h"
#include "util.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define RUN_MAX_ARGS 4096
#define RUN_ERR 512

static const struct {
	const char *type;
	int flag;
} ns_types[] = {
    {"user", CLONE_NEWUSER},	 {"pid", CLONE_NEWPID}, {"network", CLONE_NEWNET},
    {"ipc", CLONE_NEWIPC},	 {"uts", CLONE_NEWUTS}, {"mount", CLONE_NEWNS},
    {"cgroup", CLONE_NEWCGROUP},
};
#define N_NS (sizeof(ns_types) / sizeof(ns_types[0]))

struct run {
	const struct runner_opts *o;
	struct jnode *cfg, *rt;
	char rootfs[CTM_PATH_MAX];
	char cgpath[300];
	bool cg;	   /* a cgroup was created for the container */
	int new_flags;	   /* namespaces created by clone (cgroup excluded) */
	bool new_cgroup;   /* unshared by the child once it is in its cgroup */
	bool has_ns[N_NS]; /* listed in config.json */
	const char *ns_path[N_NS];
	int go[2], rep[2];
};

/* ---- config checks in the parent ---------------------------------------- */

static int parse_namespaces(struct run *r, char *e, size_t el)
{
	const struct jnode *lin = i2ki_json_get(r->cfg, "linux");
	const struct jnode *nss = i2ki_json_get(lin, "namespaces");
	if (nss && nss->type != J_ARR)
		return i2ki_fail(e, el, "linux.namespaces is not an array");
	for (const struct jnode *n = nss ? nss->kids : NULL; n; n = n->next) {
		const char *t = i2ki_json_str(n, "type", "");
		const char *p = i2ki_json_str(n, "path", "");
		size_t i = 0;
		while (i < N_NS && strcmp(ns_types[i].type, t) != 0)
			i++;
		if (i == N_NS)
			return i2ki_fail(e, el, "unknown namespace type %.32s", t);
		if (r->has_ns[i])
			return i2ki_fail(e, el, "namespace %s listed twice", t);
		r->has_ns[i] = true;
		if (p[0]) {
			r->ns_path[i] = p;
		} else if (ns_types[i].flag == CLONE_NEWCGROUP) {
			r->new_cgroup = true;
		} else {
			r->new_flags |= ns_types[i].flag;
		}
	}
	if (!(r->new_flags & CLONE_NEWNS))
		return i2ki_fail(e, el, "config.json needs a new mount namespace");
	const char *host = i2ki_json_str(r->cfg, "hostname", "");
	bool uts = false;
	for (size_t i = 0; i < N_NS; i++)
		if (ns_types[i].flag == CLONE_NEWUTS)
			uts = r->has_ns[i];
	if (host[0] && !uts)
		return i2ki_fail(e, el, "hostname %.64s needs a uts namespace", host);
	return 0;
}

static bool any_ns_path(const struct run *r)
{
	for (size_t i = 0; i < N_NS; i++)
		if (r->ns_path[i])
			return true;
	return false;
}

/* ---- the child ------------------------------------------------------------ */

static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	for (int s = 1; s < 65; s++)
		(void)sigaction(s, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int write_file(const char *path, const char *v, char *e, size_t el)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return i2ki_fail(e, el, "open %s: %s", path, strerror(errno));
	size_t l = strlen(v);
	ssize_t n = write(fd, v, l);
	int err = errno;
	close(fd);
	if (n != (ssize_t)l)
		return i2ki_fail(e, el, "write %s: %s", path,
				 n < 0 ? strerror(err) : "short write");
	return 0;
}

static int set_sysctls(const struct jnode *cfg, char *e, size_t el)
{
	const struct jnode *s = i2ki_json_get(i2ki_json_get(cfg, "linux"), "sysctl");
	for (const struct jnode *k = s && s->type == J_OBJ ? s->kids : NULL; k; k = k->next) {
		char p[256];
		if (k->type != J_STR)
			return i2ki_fail(e, el, "sysctl %.64s: value is not a string", k->key);
		if (strstr(k->key, "..") || k->key[0] == '.' || k->key[0] == '/' ||
		    snprintf(p, sizeof(p), "/proc/sys/%s", k->key) >= (int)sizeof(p))
			return i2ki_fail(e, el, "bad sysctl name %.64s", k->key);
		for (char *c = p + 10; *c; c++)
			if (*c == '.')
				*c = '/';
		if (write_file(p, k->str, e, el) < 0)
			return -1;
	}
	return 0;
}

static const struct {
	const char *name;
	int res;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},		  {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},	  {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},	  {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},	  {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},	  {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},	  {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},	  {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static int set_rlimits(const struct jnode *proc, char *e, size_t el)
{
	for (const struct jnode *l = i2ki_json_first(proc, "rlimits"); l; l = l->next) {
		const char *t = i2ki_json_str(l, "type", "");
		size_t i = 0;
		while (i < sizeof(rlimit_names) / sizeof(rlimit_names[0]) &&
		       strcmp(rlimit_names[i].name, t) != 0)
			i++;
		if (i == sizeof(rlimit_names) / sizeof(rlimit_names[0]))
			return i2ki_fail(e, el, "unknown rlimit %.32s", t);
		struct rlimit rl = {.rlim_cur = i2ki_json_u64(i2ki_json_get(l, "soft")),
				    .rlim_max = i2ki_json_u64(i2ki_json_get(l, "hard"))};
		if (setrlimit(rlimit_names[i].res, &rl) < 0)
			return i2ki_fail(e, el, "setrlimit %s: %s", t, strerror(errno));
	}
	return 0;
}

/* NULL-terminated copy of a string array member (may be empty). */
static char **str_vec(const struct jnode *obj, const char *key, char *e, size_t el)
{
	const struct jnode *a = i2ki_json_get(obj, key);
	size_t n = a && a->type == J_ARR ? a->n : 0;
	if (n > RUN_MAX_ARGS) {
		i2ki_fail(e, el, "process.%s has more than %d entries", key, RUN_MAX_ARGS);
		return NULL;
	}
	char **v = calloc(n + 1, sizeof(*v));
	if (!v) {
		i2ki_fail(e, el, "out of memory");
		return NULL;
	}
	size_t i = 0;
	for (const struct jnode *k = n ? a->kids : NULL; k && i < n; k = k->next) {
		if (k->type != J_STR) {
			free(v);
			i2ki_fail(e, el, "process.%s holds a non-string", key);
			return NULL;
		}
		v[i++] = (char *)k->str;
	}
	return v;
}

static int exec_search(char **argv, char **envp, char *e, size_t el)
{
	const char *a0 = argv[0];
	if (strchr(a0, '/')) {
		execve(a0, argv, envp);
		return i2ki_fail(e, el, "exec %s: %s", a0, strerror(errno));
	}
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (char **v = envp; *v; v++)
		if (strncmp(*v, "PATH=", 5) == 0)
			path = *v + 5;
	int seen = ENOENT;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		char f[CTM_PATH_MAX];
		int n = end == p ? snprintf(f, sizeof(f), "%s", a0)
				 : snprintf(f, sizeof(f), "%.*s/%s", (int)(end - p), p, a0);
		if (n > 0 && (size_t)n < sizeof(f)) {
			execve(f, argv, envp);
			if (errno == EACCES)
				seen = EACCES;
			else if (errno != ENOENT && errno != ENOTDIR)
				return i2ki_fail(e, el, "exec %s: %s", f, strerror(errno));
		}
		if (!*end)
			break;
		p = end;
	}
	return i2ki_fail(e, el, "exec %s: %s", a0,
			 seen == ENOENT ? "not found in PATH" : strerror(seen));
}

static int set_user(const struct jnode *user, char *e, size_t el)
{
	long long uid = 0, gid = 0;
	(void)i2ki_json_int(user, "uid", &uid);
	(void)i2ki_json_int(user, "gid", &gid);
	gid_t groups[64];
	size_t ng = 0;
	for (const struct jnode *g = i2ki_json_first(user, "additionalGids"); g; g = g->next) {
		if (ng == sizeof(groups) / sizeof(groups[0]))
			return i2ki_fail(e, el, "more than 64 additionalGids");
		if (g->type != J_NUM)
			return i2ki_fail(e, el, "additionalGids holds a non-number");
		groups[ng++] = (gid_t)g->num;
	}
	if (uid < 0 || gid < 0 || uid > 0xfffffffeLL || gid > 0xfffffffeLL)
		return i2ki_fail(e, el, "bad uid/gid %lld:%lld", uid, gid);
	if (setgroups(ng, groups) < 0 && !(ng == 0 && errno == EPERM))
		return i2ki_fail(e, el, "setgroups: %s", strerror(errno));
	if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0)
		return i2ki_fail(e, el, "setgid %lld: %s", gid, strerror(errno));
	if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		return i2ki_fail(e, el, "setuid %lld: %s", uid, strerror(errno));
	return 0;
}

/* Everything between the parent's "go" and execve. Returns only on error. */
static int child_setup(struct run *r, char *e, size_t el)
{
	const struct jnode *proc = i2ki_json_get(r->cfg, "process");
	const struct jnode *user = i2ki_json_get(proc, "user");
	const struct jnode *capsj = i2ki_json_get(proc, "capabilities");
	struct caps_sets caps;
	long long v;

	if ((r->new_flags & CLONE_NEWUSER) && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		return i2ki_fail(e, el, "become root in the user namespace: %s", strerror(errno));
	if (r->new_cgroup && unshare(CLONE_NEWCGROUP) < 0)
		return i2ki_fail(e, el, "unshare cgroup namespace: %s", strerror(errno));
	if (setsid() < 0)
		return i2ki_fail(e, el, "setsid: %s", strerror(errno));
	if (i2ki_ctm_setup_rootfs(r->cfg, r->o->bundle, r->rootfs, e, el) < 0)
		return -1;
	const char *host = i2ki_json_str(r->cfg, "hostname", "");
	if (host[0] && sethostname(host, strlen(host)) < 0)
		return i2ki_fail(e, el, "sethostname %.64s: %s", host, strerror(errno));
	if (set_sysctls(r->cfg, e, el) < 0 || i2ki_ctm_finish_rootfs(r->cfg, e, el) < 0 ||
	    set_rlimits(proc, e, el) < 0)
		return -1;
	umask(i2ki_json_int(user, "umask", &v) == 0 ? (mode_t)v & 0777 : 022);
	if (capsj && i2ki_caps_parse(capsj, &caps, e, el) < 0)
		return -1;

	char **argv = str_vec(proc, "args", e, el);
	if (!argv)
		return -1;
	if (!argv[0])
		return i2ki_fail(e, el, "process.args is empty");
	char **envp = str_vec(proc, "env", e, el);
	if (!envp)
		return -1;
	const char *cwd = i2ki_json_str(proc, "cwd", "/");
	bool cwd_done = chdir(cwd) == 0;

	if (capsj && i2ki_caps_drop_bounding(caps.bounding, e, el) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return i2ki_fail(e, el, "keep capabilities: %s", strerror(errno));
	if (set_user(user, e, el) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return i2ki_fail(e, el, "clear keep capabilities: %s", strerror(errno));
	if (capsj && i2ki_caps_apply(&caps, e, el) < 0)
		return -1;
	if (!cwd_done && chdir(cwd) < 0)
		return i2ki_fail(e, el, "chdir %.64s: %s", cwd, strerror(errno));
	if (i2ki_json_bool(proc, "noNewPrivileges", false) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return i2ki_fail(e, el, "no_new_privs: %s", strerror(errno));
	return exec_search(argv, envp, e, el);
}

static void child_fail(struct run *r, const char *msg)
{
	ssize_t n = write(r->rep[1], msg, strlen(msg));
	(void)n;
	_exit(127);
}

static __attribute__((noreturn)) void child_main(struct run *r)
{
	char e[RUN_ERR];
	char c;
	ssize_t n;
	close(r->go[1]);
	close(r->rep[0]);
	reset_signals();
	do
		n = read(r->go[0], &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(127); /* the parent gave up and said why */
	close(r->go[0]);
	/* stdio, then every other inherited descriptor closes on exec */
	if (dup2(r->o->stdin_fd, 0) < 0 || dup2(r->o->stdout_fd, 1) < 0 ||
	    dup2(r->o->stdout_fd, 2) < 0) {
		i2ki_fail(e, sizeof(e), "stdio: %s", strerror(errno));
		child_fail(r, e);
	}
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 1024; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	child_setup(r, e, sizeof(e));
	child_fail(r, e);
	_exit(127);
}

static pid_t raw_clone(int flags)
{
	return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

/* Namespaces given by path: an intermediate process joins them (user
 * first), clones the container process into them and reports its pid;
 * the container process is then reparented to PID 1 (us). */
static pid_t spawn_joined(struct run *r, char *e, size_t el)
{
	int pp[2];
	if (pipe2(pp, O_CLOEXEC) < 0)
		return i2ki_fail(e, el, "pipe: %s", strerror(errno));
	pid_t mid = fork();
	if (mid < 0) {
		close(pp[0]);
		close(pp[1]);
		return i2ki_fail(e, el, "fork: %s", strerror(errno));
	}
	if (mid == 0) {
		char me[RUN_ERR];
		close(pp[0]);
		for (size_t i = 0; i < N_NS; i++) {
			if (!r->ns_path[i])
				continue;
			int fd = open(r->ns_path[i], O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, ns_types[i].flag) < 0) {
				i2ki_fail(me, sizeof(me), "join %s namespace %.128s: %s",
					  ns_types[i].type, r->ns_path[i], strerror(errno));
				child_fail(r, me);
			}
			close(fd);
		}
		pid_t c = raw_clone(r->new_flags);
		if (c == 0) {
			close(pp[1]);
			child_main(r);
		}
		if (c < 0) {
			i2ki_fail(me, sizeof(me), "clone: %s", strerror(errno));
			child_fail(r, me);
		}
		ssize_t n = write(pp[1], &c, sizeof(c));
		_exit(n == (ssize_t)sizeof(c) ? 0 : 127);
	}
	close(pp[1]);
	pid_t c = -1;
	ssize_t n;
	do
		n = read(pp[0], &c, sizeof(c));
	while (n < 0 && errno == EINTR);
	close(pp[0]);
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	return n == (ssize_t)sizeof(c) ? c : 0; /* 0: the reason is in rep */
}

/* ---- the parent ------------------------------------------------------------ */

static int write_idmap(pid_t pid, const struct jnode *lin, const char *key, const char *file,
		       char *e, size_t el)
{
	char buf[1024], path[64];
	size_t len = 0;
	for (const struct jnode *m = i2ki_json_first(lin, key); m; m = m->next) {
		long long c, h, s;
		if (i2ki_json_int(m, "containerID", &c) < 0 || i2ki_json_int(m, "hostID", &h) < 0 ||
		    i2ki_json_int(m, "size", &s) < 0)
			return i2ki_fail(e, el, "linux.%s: entry without containerID/hostID/size",
					 key);
		int n = snprintf(buf + len, sizeof(buf) - len, "%lld %lld %lld\n", c, h, s);
		if (n < 0 || (size_t)n >= sizeof(buf) - len)
			return i2ki_fail(e, el, "linux.%s: too many entries", key);
		len += (size_t)n;
	}
	if (len == 0)
		return i2ki_fail(e, el, "user namespace without linux.%s", key);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return write_file(path, buf, e, el);
}

static int parent_setup(struct run *r, pid_t pid, char *e, size_t el)
{
	const struct jnode *lin = i2ki_json_get(r->cfg, "linux");
	if (r->new_flags & CLONE_NEWUSER) {
		if (write_idmap(pid, lin, "uidMappings", "uid_map", e, el) < 0 ||
		    write_idmap(pid, lin, "gidMappings", "gid_map", e, el) < 0)
			return -1;
	}
	if (r->cg && i2ki_cgroup_enter(r->cgpath, pid, e, el) < 0)
		return -1;
	long long adj;
	if (i2ki_json_int(i2ki_json_get(r->cfg, "process"), "oomScoreAdj", &adj) == 0) {
		char p[64], v[24];
		snprintf(p, sizeof(p), "/proc/%d/oom_score_adj", (int)pid);
		snprintf(v, sizeof(v), "%lld", adj);
		if (write_file(p, v, e, el) < 0)
			return -1;
	}
	return i2ki_runtime_attach(r->rt, pid, e, el);
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Reads the child's report: 0 on EOF (exec'd), -1 with its reason. */
static int read_report(int fd, char *e, size_t el)
{
	size_t len = 0;
	char tmp[RUN_ERR];
	for (;;) {
		ssize_t n = read(fd, tmp + len, sizeof(tmp) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(tmp) - 1)
			break;
	}
	if (len == 0)
		return 0;
	tmp[len] = '\0';
	return i2ki_fail(e, el, "%s", tmp);
}

static int cgroup_path_of(struct run *r, char *e, size_t el)
{
	const char *cp = i2ki_json_str(i2ki_json_get(r->cfg, "linux"), "cgroupsPath", "");
	int n = cp[0] ? snprintf(r->cgpath, sizeof(r->cgpath), "%s%s", cp[0] == '/' ? "" : "/", cp)
		      : snprintf(r->cgpath, sizeof(r->cgpath), "/i2kit/%s", r->o->name);
	if (n < 0 || (size_t)n >= sizeof(r->cgpath))
		return i2ki_fail(e, el, "cgroup path too long");
	return i2ki_cgroup_check_path(r->cgpath, e, el);
}

static int load_bundle(struct run *r, char *e, size_t el)
{
	char p[CTM_PATH_MAX], je[RUN_ERR];
	const char *b = r->o->bundle;
	if (!b || b[0] != '/' || !r->o->name || !r->o->name[0] || strchr(r->o->name, '/'))
		return i2ki_fail(e, el, "bad bundle %.64s or name", b ? b : "(null)");
	snprintf(p, sizeof(p), "%s/config.json", b);
	r->cfg = i2ki_json_load(p, je, sizeof(je));
	if (!r->cfg)
		return i2ki_fail(e, el, "%s", je); /* names the file */
	if (r->cfg->type != J_OBJ)
		return i2ki_fail(e, el, "%s: not an object", p);
	snprintf(p, sizeof(p), "%s/runtime.json", b);
	if (access(p, F_OK) == 0) {
		r->rt = i2ki_json_load(p, je, sizeof(je));
		if (!r->rt)
			return i2ki_fail(e, el, "%s", je);
	}
	const char *root = i2ki_json_str(i2ki_json_get(r->cfg, "root"), "path", "rootfs");
	int n = root[0] == '/' ? snprintf(r->rootfs, sizeof(r->rootfs), "%s", root)
			       : snprintf(r->rootfs, sizeof(r->rootfs), "%s/%s", b, root);
	if (n < 0 || (size_t)n >= sizeof(r->rootfs))
		return i2ki_fail(e, el, "root.path too long");
	const struct jnode *args = i2ki_json_get(i2ki_json_get(r->cfg, "process"), "args");
	if (!args || args->type != J_ARR || args->n == 0)
		return i2ki_fail(e, el, "config.json: process.args is empty");
	return 0;
}

static void undo(struct run *r)
{
	i2ki_runtime_cleanup(r->rt, r->o->bundle);
	if (r->cg)
		i2ki_cgroup_remove(r->cgpath);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

pid_t i2ki_runner_start(const struct runner_opts *o, char *errbuf, size_t errlen)
{
	struct run r = {.o = o, .go = {-1, -1}, .rep = {-1, -1}};
	char e[RUN_ERR] = "";
	pid_t pid = -1;
	bool prepared = false;

	if (load_bundle(&r, e, sizeof(e)) < 0 || parse_namespaces(&r, e, sizeof(e)) < 0 ||
	    cgroup_path_of(&r, e, sizeof(e)) < 0)
		goto fail;
	const struct jnode *res = i2ki_json_get(i2ki_json_get(r.cfg, "linux"), "resources");
	if (i2ki_cgroup_v2()) {
		if (i2ki_cgroup_create(r.cgpath, res, e, sizeof(e)) < 0) {
			i2ki_cgroup_remove(r.cgpath);
			goto fail;
		}
		r.cg = true;
	} else if (i2ki_cgroup_has_limits(res)) {
		i2ki_fail(e, sizeof(e), "linux.resources: no cgroup v2 at " CGROUP_ROOT);
		goto fail;
	}
	prepared = true;
	if (i2ki_runtime_prepare(r.rt, o->bundle, e, sizeof(e)) < 0)
		goto fail;
	if (pipe2(r.go, O_CLOEXEC) < 0 || pipe2(r.rep, O_CLOEXEC) < 0) {
		i2ki_fail(e, sizeof(e), "pipe: %s", strerror(errno));
		goto fail;
	}
	if (any_ns_path(&r)) {
		pid = spawn_joined(&r, e, sizeof(e));
	} else {
		pid = raw_clone(r.new_flags);
		if (pid == 0)
			child_main(&r);
		if (pid < 0)
			i2ki_fail(e, sizeof(e), "clone: %s", strerror(errno));
	}
	close_fd(&r.go[0]);
	close_fd(&r.rep[1]);
	if (pid == 0) { /* the intermediate failed and said why */
		close_fd(&r.go[1]);
		if (read_report(r.rep[0], e, sizeof(e)) == 0)
			i2ki_fail(e, sizeof(e), "joining namespaces failed");
		pid = -1;
		goto fail;
	}
	if (pid < 0)
		goto fail;
	if (parent_setup(&r, pid, e, sizeof(e)) < 0) {
		close_fd(&r.go[1]);
		kill(pid, SIGKILL);
		reap(pid);
		pid = -1;
		goto fail;
	}
	ssize_t n = write(r.go[1], "g", 1);
	close_fd(&r.go[1]);
	if (n != 1) {
		i2ki_fail(e, sizeof(e), "start: %s", strerror(errno));
		kill(pid, SIGKILL);
		reap(pid);
		pid = -1;
		goto fail;
	}
	if (read_report(r.rep[0], e, sizeof(e)) < 0) {
		reap(pid);
		pid = -1;
		goto fail;
	}
	close_fd(&r.rep[0]);
	i2ki_json_free(r.cfg);
	i2ki_json_free(r.rt);
	return pid;

fail:
	if (prepared)
		undo(&r);
	close_fd(&r.go[0]);
	close_fd(&r.go[1]);
	close_fd(&r.rep[0]);
	close_fd(&r.rep[1]);
	i2ki_json_free(r.cfg);
	i2ki_json_free(r.rt);
	i2ki_fail(errbuf, errlen, "%s", e[0] ? e : "failed");
	return -1;
}

void i2ki_runner_cleanup(const struct runner_opts *o)
{
	struct run r = {.o = o};
	char e[RUN_ERR];
	if (load_bundle(&r, e, sizeof(e)) == 0 || r.cfg) {
		i2ki_runtime_cleanup(r.rt, o->bundle);
		if (r.cfg && cgroup_path_of(&r, e, sizeof(e)) == 0 && i2ki_cgroup_v2()) {
			/* leftovers of a container without its own pid namespace
			 * (as runc: kill what remains in the cgroup) */
			(void)i2ki_cgroup_write(r.cgpath, "cgroup.kill", "1", e, sizeof(e));
			char d[400];
			snprintf(d, sizeof(d), CGROUP_ROOT "%s", r.cgpath);
			for (int i = 0; i < 20 && rmdir(d) < 0 && errno == EBUSY; i++) {
				struct timespec ts = {0, 10 * 1000 * 1000};
				nanosleep(&ts, NULL);
			}
		}
	}
	i2ki_json_free(r.cfg);
	i2ki_json_free(r.rt);
}
