/* common.c — see common.h. */
#include "cli/common.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/progress.h"

bool i2k_cli_json_errors;

const char *i2k_cli_errc_name(int code)
{
	static const char *const names[] = {[I2K_ERR_USAGE] = "usage",
					    [I2K_ERR_CONFIG] = "config",
					    [I2K_ERR_NOTFOUND] = "notfound",
					    [I2K_ERR_NETWORK] = "network",
					    [I2K_ERR_REGISTRY] = "registry",
					    [I2K_ERR_AUTH] = "auth",
					    [I2K_ERR_INTEGRITY] = "integrity",
					    [I2K_ERR_HOSTILE] = "hostile",
					    [I2K_ERR_OFFLINE] = "offline",
					    [I2K_ERR_IO] = "io",
					    [I2K_ERR_INTERRUPTED] = "interrupted",
					    [I2K_ERR_UNSUPPORTED] = "unsupported",
					    [I2K_ERR_INTERNAL] = "internal"};
	if (code > 0 && (size_t)code < I2K_ARRAY_SIZE(names) && names[code])
		return names[code];
	return "internal";
}

/* {"error": {"category": C, "message": M, "exit_code": N}} on stderr. */
static void json_error(int category, const char *msg, int exit_code)
{
	json_t *o = json_pack("{s:{s:s, s:s, s:i}}", "error", "category",
			      i2k_cli_errc_name(category), "message", msg, "exit_code", exit_code);
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	fprintf(stderr, "%s\n", s ? s : "{\"error\":{\"category\":\"internal\"}}");
	free(s);
	json_decref(o);
}

int i2k_cli_fail(struct i2k_error *err)
{
	int code = err ? i2k_error_exit_code(err) : 4;
	const char *msg = err && err->msg ? err->msg : "unknown error";
	i2k_cli_progress_clear();
	if (i2k_cli_json_errors)
		json_error(err ? (int)err->code : I2K_ERR_INTERNAL, msg, code);
	else
		fprintf(stderr, "i2kit: error: %s\n", msg);
	i2k_error_free(err);
	return code;
}

int i2k_cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	i2k_cli_progress_clear();
	va_start(ap, fmt);
	if (i2k_cli_json_errors) {
		_cleanup_free_ char *msg = NULL;
		if (vasprintf(&msg, fmt, ap) < 0)
			msg = NULL;
		va_end(ap);
		json_error(I2K_ERR_USAGE, msg ? msg : "usage error", 2);
		return 2;
	}
	fputs("i2kit: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'i2kit %s --help'.\n", cmd);
	return 2;
}

static void on_signal(int sig)
{
	if (i2k_interrupted) {
		signal(sig, SIG_DFL);
		_exit(130);
	}
	i2k_interrupted = 1;
}

static void cli_warn(const char *msg, void *ctx);

void i2k_cli_signals(void)
{
	i2k_set_warn_handler(cli_warn, NULL);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void i2k_cli_fetch_init(struct i2k_cli_fetch *c)
{
	memset(c, 0, sizeof(*c));
	c->fetch.platform.os = "linux";
	c->fetch.platform.arch = "amd64";
	c->fetch.registry.progress = i2k_cli_progress;
}

int i2k_cli_match_opt(const char *const *names, size_t n, int argc, char **argv, int *i,
		      const char **val, struct i2k_error **err)
{
	const char *a = argv[*i];
	for (size_t k = 0; k < n; k++) {
		size_t len = strlen(names[k]);
		if (strncmp(a, names[k], len) != 0 || (a[len] != '\0' && a[len] != '='))
			continue;
		if (a[len] == '=') {
			*val = a + len + 1;
		} else if (*i + 1 < argc) {
			*val = argv[++*i];
		} else {
			i2k_error_set(err, I2K_ERR_USAGE, "%s needs a value", names[k]);
			return -2;
		}
		return (int)k;
	}
	return -1;
}

int i2k_cli_fetch_opt(struct i2k_cli_fetch *c, const char *cmd, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v = NULL;
	if (strcmp(a, "--offline") == 0) {
		c->fetch.offline = true;
		return 1;
	}
	if (strcmp(a, "--pull") == 0) {
		c->fetch.pull_always = true;
		return 1;
	}
	if (strcmp(a, "--json") == 0) {
		c->json = true;
		return 1;
	}
	if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
		i2k_cli_verbosity = -1;
		return 1;
	}
	if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		i2k_cli_verbosity = 1;
		return 1;
	}
	static const char *const names[] = {"--cache",	      "--insecure-registry", "--ca-file",
					    "--arch",	      "--platform",	     "--mirror",
					    "--mirrors-file", "--verify-key"};
	struct i2k_error *e = NULL;
	int which = i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, i, &v, &e);
	if (which == -1)
		return 0;
	if (which == -2) {
		i2k_cli_usage(cmd, "%s", e->msg);
		i2k_error_free(e);
		return -1;
	}
	switch (which) {
	case 0:
		free(c->cache_dir);
		c->cache_dir = i2k_xstrdup(v);
		break;
	case 1:
		c->insecure = i2k_xrealloc(c->insecure, (c->n_insecure + 1) * sizeof(*c->insecure));
		c->insecure[c->n_insecure++] = v;
		c->fetch.registry.insecure_hosts = c->insecure;
		c->fetch.registry.n_insecure_hosts = c->n_insecure;
		break;
	case 2:
		c->fetch.registry.ca_file = v;
		break;
	case 5:
		if (i2k_mirror_list_add(&c->mirrors, v, &e) < 0) {
			i2k_cli_usage(cmd, "%s", e->msg);
			i2k_error_free(e);
			return -1;
		}
		c->fetch.registry.mirrors = c->mirrors.v;
		c->fetch.registry.n_mirrors = c->mirrors.n;
		break;
	case 6:
		c->fetch.registry.mirrors_file = v;
		break;
	case 3:
		if (strcmp(v, "amd64") != 0 && strcmp(v, "arm64") != 0) {
			i2k_cli_usage(cmd, "--arch must be amd64 or arm64, not \"%s\"", v);
			return -1;
		}
		c->fetch.platform.arch = v;
		break;
	case 7:
		c->verify_keys =
		    i2k_xrealloc(c->verify_keys, (c->n_verify_keys + 1) * sizeof(*c->verify_keys));
		c->verify_keys[c->n_verify_keys++] = v;
		break;
	default: {
		free(c->platform_buf);
		c->platform_buf = i2k_xstrdup(v);
		char *arch = strchr(c->platform_buf, '/');
		if (arch == NULL || arch[1] == '\0') {
			i2k_cli_usage(cmd, "--platform must be OS/ARCH[/VARIANT], not \"%s\"", v);
			return -1;
		}
		*arch++ = '\0';
		char *variant = strchr(arch, '/');
		if (variant)
			*variant++ = '\0';
		c->fetch.platform.os = c->platform_buf;
		c->fetch.platform.arch = arch;
		c->fetch.platform.variant = variant;
		break;
	}
	}
	return 1;
}

void i2k_cli_fetch_clear(struct i2k_cli_fetch *c)
{
	free(c->cache_dir);
	free(c->insecure);
	i2k_mirror_list_clear(&c->mirrors);
	free(c->platform_buf);
	free(c->verify_keys);
	memset(c, 0, sizeof(*c));
}

/* ---- progress ------------------------------------------------------------------
 * One renderer (cli/progress.h) behind a mutex: fed by the library's
 * callbacks (from worker threads too) and by a ticker thread every 100 ms
 * (redraws of a stale area, speed/ETA refresh, the 5 s line off a TTY, and
 * erasing the area as soon as Ctrl-C is seen). */

int i2k_cli_verbosity;

static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake; /* signalled by progress_end: the ticker stops at once */
	struct i2k_render *r;
	bool tty, ticking, stop;
	pthread_t ticker;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int term_width(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void *ticker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&P.mu);
	for (;;) {
		struct timespec ts; /* the condvar's clock: CLOCK_REALTIME */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!P.stop && pthread_cond_timedwait(&P.wake, &P.mu, &ts) == 0)
			;
		if (P.stop) {
			pthread_mutex_unlock(&P.mu);
			return NULL;
		}
		if (i2k_interrupted) {
			i2k_render_clear(P.r);
		} else {
			if (P.tty)
				i2k_render_set_width(P.r, term_width());
			i2k_render_tick(P.r, mono_ms());
		}
	}
}

/* fork() with the ticker running: the child has no ticker, and P.mu must
 * not be left locked by a thread that does not exist there. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&P.mu);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&P.mu);
}

static void fork_child(void)
{
	P.ticking = false;
	pthread_mutex_unlock(&P.mu);
}

/* The renderer, made on first use (P.mu held); NULL with -q. */
static struct i2k_render *renderer(void)
{
	if (P.r || i2k_cli_verbosity < 0)
		return P.r;
	const char *term = getenv("TERM");
	P.tty = isatty(STDERR_FILENO) && term && strcmp(term, "dumb") != 0;
	struct i2k_render_opts o = {.out = stderr,
				    .tty = P.tty,
				    .width = P.tty ? term_width() : 0,
				    .verbosity = i2k_cli_verbosity};
	P.r = i2k_render_new(&o);
	static bool atfork;
	if (!atfork)
		atfork = pthread_atfork(fork_prepare, fork_parent, fork_child) == 0;
	/* The ticker never takes SIGINT/SIGTERM: they interrupt the main
	 * thread's system calls. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	P.ticking = pthread_create(&P.ticker, NULL, ticker, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return P.r;
}

void i2k_cli_stage(const struct i2k_stage_event *ev, void *ctx)
{
	(void)ctx;
	if (i2k_cli_verbosity < 0)
		return;
	pthread_mutex_lock(&P.mu);
	struct i2k_render *r = renderer();
	if (r && i2k_interrupted)
		i2k_render_clear(r);
	else if (r)
		i2k_render_event(r, ev, mono_ms());
	pthread_mutex_unlock(&P.mu);
}

void i2k_cli_progress(const struct i2k_progress *p, void *ctx)
{
	(void)ctx;
	static const struct i2k_stage_cb cb = {.fn = i2k_cli_stage};
	i2k_registry_progress_stage(p, (void *)&cb);
}

void i2k_cli_note(const char *fmt, ...)
{
	if (i2k_cli_verbosity < 0)
		return;
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&P.mu);
	struct i2k_render *r = renderer();
	if (r)
		i2k_render_note(r, text, mono_ms());
	pthread_mutex_unlock(&P.mu);
}

/* Library warnings: above the live area while there is one (even with
 * -q a warning is printed). */
static void cli_warn(const char *msg, void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&P.mu);
	if (P.r && !i2k_interrupted) {
		char text[1024];
		snprintf(text, sizeof(text), "i2kit: warning: %s", msg);
		i2k_render_note(P.r, text, mono_ms());
	} else {
		fprintf(stderr, "i2kit: warning: %s\n", msg);
	}
	pthread_mutex_unlock(&P.mu);
}

void i2k_cli_progress_clear(void)
{
	pthread_mutex_lock(&P.mu);
	if (P.r)
		i2k_render_clear(P.r);
	fflush(stderr);
	pthread_mutex_unlock(&P.mu);
}

void i2k_cli_progress_end(void)
{
	pthread_mutex_lock(&P.mu);
	P.stop = true;
	pthread_cond_signal(&P.wake);
	bool join = P.ticking;
	P.ticking = false;
	pthread_mutex_unlock(&P.mu);
	if (join)
		pthread_join(P.ticker, NULL);
	pthread_mutex_lock(&P.mu);
	if (P.r)
		i2k_render_clear(P.r);
	i2k_render_free(P.r);
	P.r = NULL;
	P.stop = false;
	fflush(stderr);
	pthread_mutex_unlock(&P.mu);
}
