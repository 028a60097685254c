/* common.c — see common.h. */
#include "cli/common.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

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

void i2k_cli_signals(void)
{
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
 * One record per image (ref) and per blob; called from the fetcher's worker
 * threads, hence the mutex. On a TTY the images being pulled form a live
 * area at the bottom of stderr (one line each: bytes/total, speed, ETA),
 * redrawn at most every 100 ms; lines for finished steps are printed above
 * it. Not on a TTY: a line per finished step, and at most one line per 5 s
 * per image during long transfers. */

int i2k_cli_verbosity;

#define PROG_REFS 128
#define PROG_BLOBS 1024

struct prog_ref {
	char *ref;
	uint64_t done, total;
	int64_t start_ms, last_ms;
	bool finished;
};
struct prog_blob {
	char digest[80];
	size_t ref;
	uint64_t done, total;
};
static struct {
	pthread_mutex_t mu;
	int tty;
	struct prog_ref refs[PROG_REFS];
	size_t nrefs;
	struct prog_blob blobs[PROG_BLOBS];
	size_t nblobs;
	size_t area; /* lines of the live area now on screen */
	int64_t drawn_ms;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .tty = -1};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void area_erase(void)
{
	if (P.area) {
		fprintf(stderr, "\x1b[%zuA\r\x1b[J", P.area);
		P.area = 0;
	}
}

static void area_draw(int64_t now)
{
	for (size_t i = 0; i < P.nrefs; i++) {
		struct prog_ref *r = &P.refs[i];
		if (r->finished)
			continue;
		double secs = (double)(now - r->start_ms) / 1000.0;
		double speed = secs > 0.2 ? (double)r->done / secs : 0;
		char eta[32] = "";
		if (speed > 0 && r->total > r->done)
			snprintf(eta, sizeof(eta), " ETA %.0fs",
				 (double)(r->total - r->done) / speed);
		fprintf(stderr, "%-40.40s %8.1f/%.1f MiB %7.1f MiB/s%s\x1b[K\n", r->ref,
			(double)r->done / 1048576.0, (double)r->total / 1048576.0,
			speed / 1048576.0, eta);
		P.area++;
	}
	P.drawn_ms = now;
}

/* A permanent line: above the live area on a TTY. */
static void prog_line(int64_t now, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void prog_line(int64_t now, const char *fmt, ...)
{
	if (P.tty)
		area_erase();
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (P.tty)
		area_draw(now);
}

static struct prog_ref *ref_of(const char *ref, int64_t now)
{
	for (size_t i = 0; i < P.nrefs; i++)
		if (strcmp(P.refs[i].ref, ref) == 0)
			return &P.refs[i];
	if (P.nrefs == PROG_REFS)
		return NULL;
	struct prog_ref *r = &P.refs[P.nrefs++];
	*r = (struct prog_ref){.ref = i2k_xstrdup(ref), .start_ms = now, .last_ms = now};
	return r;
}

static struct prog_blob *blob_of(const char *digest, size_t ref)
{
	for (size_t i = 0; i < P.nblobs; i++)
		if (P.blobs[i].ref == ref && strcmp(P.blobs[i].digest, digest) == 0)
			return &P.blobs[i];
	if (P.nblobs == PROG_BLOBS)
		return NULL;
	struct prog_blob *b = &P.blobs[P.nblobs++];
	memset(b, 0, sizeof(*b));
	snprintf(b->digest, sizeof(b->digest), "%s", digest);
	b->ref = ref;
	return b;
}

void i2k_cli_progress_clear(void)
{
	pthread_mutex_lock(&P.mu);
	if (P.tty > 0)
		area_erase();
	fflush(stderr);
	pthread_mutex_unlock(&P.mu);
}

void i2k_cli_progress(const struct i2k_progress *p, void *ctx)
{
	(void)ctx;
	if (i2k_cli_verbosity < 0)
		return;
	pthread_mutex_lock(&P.mu);
	if (P.tty < 0)
		P.tty = isatty(STDERR_FILENO) && getenv("TERM") && strcmp(getenv("TERM"), "dumb");
	int64_t now = mono_ms();
	struct prog_ref *r = ref_of(p->ref ? p->ref : "?", now);
	if (r == NULL)
		goto out;
	size_t ri = (size_t)(r - P.refs);
	double mib;
	switch (p->kind) {
	case I2K_PROGRESS_START:
		if (p->digest == NULL) {
			r->start_ms = r->last_ms = now;
			r->finished = false;
			if (!P.tty)
				prog_line(now, "pulling %s", r->ref);
		} else {
			struct prog_blob *b = blob_of(p->digest, ri);
			if (b && b->total == 0) {
				b->total = p->total;
				b->done = p->done;
				r->total += p->total;
				r->done += p->done;
			}
		}
		break;
	case I2K_PROGRESS_CACHED:
		if (p->digest == NULL) {
			r->finished = true;
			prog_line(now, "cached  %s", r->ref);
		} else if (i2k_cli_verbosity > 0) {
			prog_line(now, "  %.19s cached (%llu KiB)", p->digest,
				  (unsigned long long)(p->total / 1024));
		}
		break;
	case I2K_PROGRESS_DATA:
		if (p->digest) {
			struct prog_blob *b = blob_of(p->digest, ri);
			if (b && p->done >= b->done) {
				r->done += p->done - b->done;
				b->done = p->done;
			}
		}
		if (P.tty && now - P.drawn_ms >= 100) {
			area_erase();
			area_draw(now);
		} else if (!P.tty && now - r->last_ms >= 5000) {
			r->last_ms = now;
			prog_line(now, "pulling %s: %.1f of %.1f MiB", r->ref,
				  (double)r->done / 1048576.0, (double)r->total / 1048576.0);
		}
		break;
	case I2K_PROGRESS_DONE:
		if (p->digest) {
			struct prog_blob *b = blob_of(p->digest, ri);
			if (b && b->total > b->done) {
				r->done += b->total - b->done;
				b->done = b->total;
			}
			if (i2k_cli_verbosity > 0)
				prog_line(now, "  %.19s done (%llu KiB)", p->digest,
					  (unsigned long long)(p->done / 1024));
		} else {
			r->finished = true;
			mib = (double)r->done / 1048576.0;
			prog_line(now, "pulled  %s (%.1f MiB in %.1f s)", r->ref, mib,
				  (double)(now - r->start_ms) / 1000.0);
		}
		break;
	}
out:
	fflush(stderr);
	pthread_mutex_unlock(&P.mu);
}
