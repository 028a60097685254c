/* supervise.c — onboot/services/onshutdown orchestration (see supervise.h). */
#include "supervise.h"

#include "acpi.h"
#include "json.h"
#include "log.h"
#include "runner.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_INPUT 16

/* from <linux/input.h> (musl ships no kernel headers) */
struct input_ev {
	struct timeval time;
	unsigned short type, code;
	int value;
};
#define EV_KEY_TYPE 0x01
#define KEY_POWER_CODE 116
#define KEY_MAX_CODE 0x2ff
#define EVIOCGBIT_REQ(ev, len) _IOC(_IOC_READ, 'E', 0x20 + (ev), len)
#define LINE_MAX_OUT 1024

enum kind { K_ONBOOT, K_SERVICE, K_ONSHUTDOWN };
enum restart { R_NO, R_ON_FAILURE, R_ALWAYS };

struct ctr {
	char dir[64];	  /* bundle directory name */
	char bundle[200]; /* absolute path */
	enum kind kind;
	enum restart restart;
	pid_t pid;   /* > 0 while running */
	int out;     /* pipe read end, -1 when closed */
	int log;     /* /var/log/NAME.log, -1 if unavailable */
	int status;  /* wait status of the last run */
	int exited;  /* the last run has ended */
	int cleaned; /* i2ki_runner_cleanup done for the last run */
	int backoff_ms;
	long long started_ms, restart_at_ms; /* restart_at_ms: 0 = none planned */
	size_t linelen;
	char line[LINE_MAX_OUT];
};

static struct ctr ctrs[SUP_MAX];
static int nctrs;
static int sigfd = -1, inofd = -1, devnull = -1, acpifd = -1;
static int input_fds[MAX_INPUT];
static int ninput;
static int wd_run = -1, wd_input = -1;
static enum sup_action pending;
static int shutting_down;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *i2ki_sup_display_name(const char *dir)
{
	const char *p = dir;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p != dir && *p == '-' && p[1])
		return p + 1;
	return dir;
}

static void set_pending(enum sup_action a, const char *why)
{
	if (pending != SUP_NONE)
		return;
	pending = a;
	i2ki_log_info("%s requested (%s)", a == SUP_REBOOT ? "reboot" : "poweroff", why);
}

enum sup_action i2ki_sup_pending(void)
{
	return pending;
}

void i2ki_sup_init(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPWR);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		i2ki_log_errno("sigprocmask");
	sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigfd < 0)
		i2ki_log_errno("signalfd");
	signal(SIGPIPE, SIG_IGN);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		i2ki_log_errno("open /dev/null");
	inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inofd < 0) {
		i2ki_log_errno("inotify");
	} else {
		(void)mkdir("/run/i2kit", 0755);
		wd_run = inotify_add_watch(inofd, "/run/i2kit", IN_CREATE | IN_MOVED_TO);
		if (wd_run < 0)
			i2ki_log_errno("inotify /run/i2kit");
	}
	for (int i = 0; i < MAX_INPUT; i++)
		input_fds[i] = -1;
	acpifd = i2ki_acpi_open();
}

static int has_key_power(int fd)
{
	unsigned long bits[(KEY_MAX_CODE + 1) / (8 * sizeof(unsigned long)) + 1];
	memset(bits, 0, sizeof(bits));
	if (ioctl(fd, EVIOCGBIT_REQ(EV_KEY_TYPE, sizeof(bits)), bits) < 0)
		return 1; /* cannot tell: keep it */
	size_t w = 8 * sizeof(unsigned long);
	return (bits[KEY_POWER_CODE / w] >> (KEY_POWER_CODE % w)) & 1;
}

void i2ki_sup_scan_input(void)
{
	for (int i = 0; i < ninput; i++)
		close(input_fds[i]);
	ninput = 0;
	if (inofd >= 0 && wd_input < 0)
		wd_input = inotify_add_watch(inofd, "/dev/input", IN_CREATE);
	DIR *d = opendir("/dev/input");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && ninput < MAX_INPUT) {
		if (strncmp(e->d_name, "event", 5) != 0)
			continue;
		char p[300];
		snprintf(p, sizeof(p), "/dev/input/%s", e->d_name);
		int fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!has_key_power(fd)) {
			close(fd);
			continue;
		}
		input_fds[ninput++] = fd;
		i2ki_log_debug("watching %s for the power button", p);
	}
	closedir(d);
}

static struct ctr *find_pid(pid_t pid)
{
	for (int i = 0; i < nctrs; i++)
		if (ctrs[i].pid == pid)
			return &ctrs[i];
	return NULL;
}

static void put_console(struct ctr *c, const char *data, size_t n)
{
	/* "NAME: line\n" per line; a line longer than the buffer is cut */
	const char *name = i2ki_sup_display_name(c->dir);
	for (size_t i = 0; i < n; i++) {
		char ch = data[i];
		if (ch != '\n' && c->linelen < sizeof(c->line) - 1) {
			c->line[c->linelen++] = ch;
			continue;
		}
		char out[LINE_MAX_OUT + 80];
		int len = snprintf(out, sizeof(out), "%s: %.*s\n", name, (int)c->linelen, c->line);
		if (len > 0)
			i2ki_console_write(out,
					   (size_t)len < sizeof(out) ? (size_t)len : sizeof(out));
		c->linelen = 0;
		if (ch != '\n')
			c->line[c->linelen++] = ch;
	}
}

static void flush_line(struct ctr *c)
{
	if (c->linelen)
		put_console(c, "\n", 1);
}

/* Reads what is in c's pipe now (at most a few chunks, to stay fair). */
static void drain(struct ctr *c, int all)
{
	char buf[4096];
	for (int round = 0; c->out >= 0 && (all || round < 4); round++) {
		ssize_t n = read(c->out, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			flush_line(c);
			close(c->out);
			c->out = -1;
			return;
		}
		if (c->log >= 0 && i2ki_write_all(c->log, buf, (size_t)n) < 0) {
			i2ki_log_errno("%s: writing its log", i2ki_sup_display_name(c->dir));
			close(c->log);
			c->log = -1;
		}
		put_console(c, buf, (size_t)n);
	}
}

static void describe_exit(struct ctr *c, char *buf, size_t len)
{
	if (WIFEXITED(c->status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(c->status));
	else if (WIFSIGNALED(c->status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(c->status));
	else
		snprintf(buf, len, "ended (status 0x%x)", c->status);
}

static int failed_run(const struct ctr *c)
{
	return !WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0;
}

static void cleanup_run(struct ctr *c)
{
	if (c->cleaned)
		return;
	struct runner_opts o = {.name = i2ki_sup_display_name(c->dir),
				.bundle = c->bundle,
				.stdout_fd = -1,
				.stdin_fd = -1};
	i2ki_runner_cleanup(&o);
	c->cleaned = 1;
}

static void on_exit_ctr(struct ctr *c, int status)
{
	char how[64];
	c->status = status;
	c->exited = 1;
	c->pid = 0;
	drain(c, 0);
	describe_exit(c, how, sizeof(how));
	if (c->kind == K_SERVICE || failed_run(c))
		i2ki_log_info("%s %s", i2ki_sup_display_name(c->dir), how);
	else
		i2ki_log_debug("%s %s", i2ki_sup_display_name(c->dir), how);
	cleanup_run(c);
	if (c->kind != K_SERVICE || shutting_down)
		return;
	int again = c->restart == R_ALWAYS || (c->restart == R_ON_FAILURE && failed_run(c));
	if (!again)
		return;
	long long ran = now_ms() - c->started_ms;
	if (ran >= 10000 || c->backoff_ms == 0)
		c->backoff_ms = 1000;
	else if (c->backoff_ms < 60000)
		c->backoff_ms = c->backoff_ms * 2 > 60000 ? 60000 : c->backoff_ms * 2;
	c->restart_at_ms = now_ms() + c->backoff_ms;
	i2ki_log_info("%s: restarting in %d ms", i2ki_sup_display_name(c->dir), c->backoff_ms);
}

static void reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0)
			return;
		struct ctr *c = find_pid(pid);
		if (c)
			on_exit_ctr(c, status);
	}
}

static void handle_signals(void)
{
	struct signalfd_siginfo si;
	while (sigfd >= 0 && read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			break; /* reaped below */
		case SIGTERM:
			set_pending(SUP_POWEROFF, "SIGTERM");
			break;
		case SIGUSR2:
			set_pending(SUP_POWEROFF, "SIGUSR2");
			break;
		case SIGUSR1:
			set_pending(SUP_POWEROFF, "SIGUSR1 (halt)");
			break;
		case SIGPWR:
			set_pending(SUP_POWEROFF, "SIGPWR");
			break;
		case SIGINT:
			set_pending(SUP_REBOOT, "ctrl-alt-del");
			break;
		default:
			i2ki_log_debug("signal %u ignored", si.ssi_signo);
			break;
		}
	}
	reap();
}

static void handle_inotify(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	while ((n = read(inofd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->len == 0)
				continue;
			if (ev->wd == wd_input) {
				if (!strncmp(ev->name, "event", 5))
					i2ki_sup_scan_input();
				continue;
			}
			if (ev->wd != wd_run)
				continue;
			char path[300];
			snprintf(path, sizeof(path), "/run/i2kit/%s", ev->name);
			if (!strcmp(ev->name, "poweroff") || !strcmp(ev->name, "halt")) {
				set_pending(SUP_POWEROFF, path);
				(void)unlink(path);
			} else if (!strcmp(ev->name, "reboot")) {
				set_pending(SUP_REBOOT, path);
				(void)unlink(path);
			}
		}
	}
}

static void handle_input(int fd)
{
	struct input_ev ev[16];
	ssize_t n = read(fd, ev, sizeof(ev));
	for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(ev[0]); i++)
		if (ev[i].type == EV_KEY_TYPE && ev[i].code == KEY_POWER_CODE && ev[i].value == 1)
			set_pending(SUP_POWEROFF, "power button");
}

static int start(struct ctr *c);

/* One round of the event loop: waits at most timeout_ms (-1: until
 * something happens; shortened by planned restarts). */
static void loop_once(int timeout_ms)
{
	struct pollfd pfd[4 + MAX_INPUT + SUP_MAX];
	struct ctr *owner[4 + MAX_INPUT + SUP_MAX];
	int n = 0;
	long long now = now_ms();
	for (int i = 0; i < nctrs; i++) {
		struct ctr *c = &ctrs[i];
		if (c->restart_at_ms && !shutting_down && pending == SUP_NONE) {
			long long left = c->restart_at_ms - now;
			if (left <= 0) {
				c->restart_at_ms = 0;
				(void)start(c);
				continue;
			}
			if (timeout_ms < 0 || left < timeout_ms)
				timeout_ms = (int)left;
		}
	}
	if (sigfd >= 0) {
		pfd[n] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		owner[n++] = NULL;
	}
	if (inofd >= 0) {
		pfd[n] = (struct pollfd){.fd = inofd, .events = POLLIN};
		owner[n++] = NULL;
	}
	if (acpifd >= 0) {
		pfd[n] = (struct pollfd){.fd = acpifd, .events = POLLIN};
		owner[n++] = NULL;
	}
	for (int i = 0; i < ninput; i++) {
		pfd[n] = (struct pollfd){.fd = input_fds[i], .events = POLLIN};
		owner[n++] = NULL;
	}
	for (int i = 0; i < nctrs; i++) {
		if (ctrs[i].out < 0)
			continue;
		pfd[n] = (struct pollfd){.fd = ctrs[i].out, .events = POLLIN};
		owner[n++] = &ctrs[i];
	}
	int r = poll(pfd, (nfds_t)n, timeout_ms);
	if (r < 0) {
		if (errno != EINTR) {
			i2ki_log_errno("poll");
			usleep(100 * 1000); /* never spin */
		}
		return;
	}
	for (int i = 0; i < n && r > 0; i++) {
		if (!pfd[i].revents)
			continue;
		if (owner[i])
			drain(owner[i], 0);
		else if (pfd[i].fd == sigfd)
			handle_signals();
		else if (pfd[i].fd == inofd)
			handle_inotify();
		else if (pfd[i].fd == acpifd) {
			if (i2ki_acpi_read(acpifd))
				set_pending(SUP_POWEROFF, "ACPI power button");
		} else
			handle_input(pfd[i].fd);
	}
	/* a SIGCHLD may be merged with others: reaping is cheap, always do it */
	reap();
}

static enum restart parse_restart(const struct ctr *c)
{
	char path[256], err[200];
	snprintf(path, sizeof(path), "%s/config.json", c->bundle);
	struct jnode *root = i2ki_json_load(path, err, sizeof(err));
	if (!root)
		return R_NO; /* i2ki_runner_start reports the problem */
	const char *v =
	    i2ki_json_str(i2ki_json_get(root, "annotations"), "org.i2kit.restart", "no");
	enum restart r = R_NO;
	if (!strcmp(v, "always"))
		r = R_ALWAYS;
	else if (!strcmp(v, "on-failure"))
		r = R_ON_FAILURE;
	else if (strcmp(v, "no") != 0)
		i2ki_log_warn("%s: unknown org.i2kit.restart \"%s\", using \"no\"",
			      i2ki_sup_display_name(c->dir), v);
	i2ki_json_free(root);
	return r;
}

static int start(struct ctr *c)
{
	const char *name = i2ki_sup_display_name(c->dir);
	int p[2];
	char err[256] = "";
	c->exited = 0;
	c->cleaned = 0;
	c->status = 0;
	if (c->out >= 0) { /* output of a previous run still open */
		drain(c, 1);
		if (c->out >= 0) {
			close(c->out);
			c->out = -1;
		}
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		i2ki_log_errno("%s: pipe", name);
		c->exited = 1;
		c->status = 127 << 8;
		return -1;
	}
	if (c->log < 0) {
		char lp[300];
		snprintf(lp, sizeof(lp), "/var/log/%s.log", name);
		c->log = open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (c->log < 0)
			i2ki_log_errno("%s: open %s", name, lp);
	}
	struct runner_opts o = {
	    .name = name, .bundle = c->bundle, .stdout_fd = p[1], .stdin_fd = devnull};
	c->started_ms = now_ms();
	pid_t pid = i2ki_runner_start(&o, err, sizeof(err));
	close(p[1]);
	if (pid <= 0) {
		i2ki_log_warn("%s: cannot start: %s", name, err[0] ? err : "unknown error");
		close(p[0]);
		c->exited = 1;
		c->status = 127 << 8;
		i2ki_runner_cleanup(&o);
		c->cleaned = 1;
		if (c->kind == K_SERVICE && c->restart != R_NO && !shutting_down) {
			c->backoff_ms =
			    c->backoff_ms ? (c->backoff_ms * 2 > 60000 ? 60000 : c->backoff_ms * 2)
					  : 1000;
			c->restart_at_ms = now_ms() + c->backoff_ms;
		}
		return -1;
	}
	(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
	c->out = p[0];
	c->pid = pid;
	i2ki_log_debug("%s: started, pid %d", name, (int)pid);
	return 0;
}

static int cmp_dir(const void *a, const void *b)
{
	return strcmp(((const struct ctr *)a)->dir, ((const struct ctr *)b)->dir);
}

/* Adds the bundles under /containers/SUB in name order; returns how many. */
static int load_kind(const char *sub, enum kind k)
{
	char base[64];
	snprintf(base, sizeof(base), "/containers/%s", sub);
	DIR *d = opendir(base);
	if (!d) {
		if (errno != ENOENT)
			i2ki_log_errno("%s", base);
		return 0;
	}
	int first = nctrs;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (nctrs >= SUP_MAX) {
			i2ki_log_warn("more than %d containers: %s/%s ignored", SUP_MAX, base,
				      e->d_name);
			continue;
		}
		struct ctr *c = &ctrs[nctrs];
		memset(c, 0, sizeof(*c));
		if ((size_t)snprintf(c->dir, sizeof(c->dir), "%s", e->d_name) >= sizeof(c->dir) ||
		    (size_t)snprintf(c->bundle, sizeof(c->bundle), "%s/%s", base, e->d_name) >=
			sizeof(c->bundle)) {
			i2ki_log_warn("%s/%s: name too long, ignored", base, e->d_name);
			continue;
		}
		struct stat st;
		if (stat(c->bundle, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		c->kind = k;
		c->out = c->log = -1;
		nctrs++;
	}
	closedir(d);
	qsort(ctrs + first, (size_t)(nctrs - first), sizeof(ctrs[0]), cmp_dir);
	return nctrs - first;
}

/* Runs one container to its end (or until a limit), keeping the loop
 * going. limit_ms < 0: no limit. Returns 1 if it failed. */
static int run_to_end(struct ctr *c, int limit_ms)
{
	if (start(c) < 0)
		return 1;
	long long deadline = limit_ms >= 0 ? now_ms() + limit_ms : -1;
	int killed = 0;
	while (!c->exited) {
		int t = -1;
		if (deadline < 0 && pending != SUP_NONE && c->kind == K_ONBOOT) {
			/* shutting down: an onboot container gets 10 s more */
			deadline = now_ms() + 10000;
			limit_ms = 10000;
		}
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0 && !killed) {
				i2ki_log_warn("%s: still running after %d ms, killing it",
					      i2ki_sup_display_name(c->dir), limit_ms);
				kill(c->pid, SIGKILL);
				killed = 1;
				deadline = now_ms() + 5000;
				continue;
			}
			if (left <= 0)
				break; /* unkillable: give up waiting */
			t = (int)left;
		}
		loop_once(t);
	}
	drain(c, 1);
	return c->exited ? failed_run(c) : 1;
}

int i2ki_sup_run_onboot(void)
{
	int first = nctrs;
	int n = load_kind("onboot", K_ONBOOT);
	int failures = 0;
	for (int i = first; i < first + n; i++) {
		if (pending != SUP_NONE) {
			i2ki_log_info("skipping the remaining onboot containers");
			break;
		}
		if (run_to_end(&ctrs[i], -1)) {
			char how[64];
			describe_exit(&ctrs[i], how, sizeof(how));
			i2ki_log_warn("onboot %s failed (%s); boot continues",
				      i2ki_sup_display_name(ctrs[i].dir), how);
			failures++;
		}
	}
	return failures;
}

int i2ki_sup_start_services(void)
{
	int first = nctrs;
	int n = load_kind("services", K_SERVICE);
	for (int i = first; i < first + n; i++) {
		if (pending != SUP_NONE)
			break;
		ctrs[i].restart = parse_restart(&ctrs[i]);
		(void)start(&ctrs[i]);
	}
	if (n)
		i2ki_log_info("%d service%s started", n, n == 1 ? "" : "s");
	return n;
}

enum sup_action i2ki_sup_serve(void)
{
	while (pending == SUP_NONE)
		loop_once(-1);
	return pending;
}

void i2ki_sup_run_onshutdown(void)
{
	shutting_down = 1;
	int first = nctrs;
	int n = load_kind("onshutdown", K_ONSHUTDOWN);
	for (int i = first; i < first + n; i++)
		(void)run_to_end(&ctrs[i], 30000);
}

/* Is pid a pid-namespace init that does not catch SIGTERM? Then the
 * kernel drops a SIGTERM from us. */
static int ignores_sigterm(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	const char *ns = strstr(buf, "\nNSpid:");
	const char *cgt = strstr(buf, "\nSigCgt:");
	if (!ns || !cgt)
		return 0;
	/* NSpid: <ours> ... <innermost>; a namespace init ends in "\t1\n" */
	const char *eol = strchr(ns + 1, '\n');
	if (!eol || eol - ns < 3 || eol[-1] != '1' || (eol[-2] != '\t' && eol[-2] != ' '))
		return 0;
	unsigned long long mask = strtoull(cgt + 8, NULL, 16);
	return !((mask >> (SIGTERM - 1)) & 1);
}

void i2ki_sup_stop_services(int timeout_ms)
{
	shutting_down = 1;
	int running = 0;
	for (int i = 0; i < nctrs; i++) {
		struct ctr *c = &ctrs[i];
		c->restart_at_ms = 0;
		if (c->pid <= 0)
			continue;
		running++;
		if (ignores_sigterm(c->pid)) {
			i2ki_log_debug("%s: namespace init without a SIGTERM handler: SIGKILL",
				       i2ki_sup_display_name(c->dir));
			kill(c->pid, SIGKILL);
		} else {
			kill(c->pid, SIGTERM);
		}
	}
	long long deadline = now_ms() + timeout_ms;
	int killed = 0;
	for (;;) {
		int left = 0;
		for (int i = 0; i < nctrs; i++)
			left += ctrs[i].pid > 0;
		if (!left)
			break;
		long long t = deadline - now_ms();
		if (t <= 0) {
			if (killed)
				break; /* unkillable (D state): give up */
			for (int i = 0; i < nctrs; i++) {
				if (ctrs[i].pid <= 0)
					continue;
				i2ki_log_warn("%s did not stop in %d ms: SIGKILL",
					      i2ki_sup_display_name(ctrs[i].dir), timeout_ms);
				kill(ctrs[i].pid, SIGKILL);
			}
			killed = 1;
			deadline = now_ms() + 3000;
			continue;
		}
		loop_once((int)t);
	}
	for (int i = 0; i < nctrs; i++) {
		drain(&ctrs[i], 1);
		if (ctrs[i].exited)
			cleanup_run(&ctrs[i]);
	}
	if (running)
		i2ki_log_info("services stopped");
}
