/* supervisor.c — see supervisor.h. */
#include "provision/local/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/local/balancer.h"
#include "provision/local/evloop.h"
#include "provision/local/health.h"
#include "provision/local/state.h"

volatile sig_atomic_t i2k_local_reload;

#define TICK_MS 200
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_MS 60000
#define DRAIN_MAX_MS 10000
#define UNHEALTHY_MIN_MS 10000
#define DEFAULT_BOOT_GRACE_S 300
#define DEFAULT_RUN_GRACE_S 10
#define MAX_SLOTS 64
#define BOOT_LINE "i2kit-init: boot finished"
#define TCP_GATE_MS 30000

/* ---- spec <-> JSON ---------------------------------------------------------------- */

char *i2k_local_spec_dump(const struct i2k_local_spec *s)
{
	json_t *ports = json_array(), *checks = json_array();
	for (size_t i = 0; i < s->nports; i++)
		json_array_append_new(ports, json_pack("{s:i,s:i,s:b}", "guest", s->ports[i].guest,
						       "listen", s->ports[i].listen, "forced",
						       s->ports[i].listen_forced));
	for (size_t i = 0; i < s->nchecks; i++) {
		json_t *c =
		    json_pack("{s:i,s:i,s:i}", "guest", s->checks[i].guest, "interval_ms",
			      s->checks[i].interval_ms, "timeout_ms", s->checks[i].timeout_ms);
		if (s->checks[i].path)
			json_object_set_new(c, "path", json_string(s->checks[i].path));
		json_array_append_new(checks, c);
	}
	json_t *j =
	    json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:i,s:o,s:o}", "service", s->service, "image",
		      s->image, "hash", s->hash, "accel", s->accel, "replicas", s->replicas,
		      "mem_mb", s->mem_mb, "cpus", s->cpus, "ports", ports, "checks", checks);
	if (s->data_disk)
		json_object_set_new(j, "data_disk", json_string(s->data_disk));
	char *out = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(j);
	if (!out)
		abort();
	return out;
}

void i2k_local_spec_clear(struct i2k_local_spec *s)
{
	free(s->service);
	free(s->image);
	free(s->hash);
	free(s->accel);
	free(s->data_disk);
	free(s->ports);
	for (size_t i = 0; i < s->nchecks; i++)
		free(s->checks[i].path);
	free(s->checks);
	memset(s, 0, sizeof(*s));
}

static bool port_ok(json_int_t v, bool zero_ok)
{
	return v <= 65535 && (v >= 1 || (zero_ok && v == 0));
}

int i2k_local_spec_load(const char *path, struct i2k_local_spec *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: %s", path, je.text);
	const char *service, *image, *hash, *accel, *disk = NULL;
	json_int_t replicas, mem, cpus;
	json_t *ports, *checks;
	if (json_unpack_ex(j, &je, 0, "{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:o,s?s}", "service",
			   &service, "image", &image, "hash", &hash, "accel", &accel, "replicas",
			   &replicas, "mem_mb", &mem, "cpus", &cpus, "ports", &ports, "checks",
			   &checks, "data_disk", &disk) < 0 ||
	    !json_is_array(ports) || !json_is_array(checks) || replicas < 1 ||
	    replicas > MAX_SLOTS || mem < 16 || cpus < 1 || cpus > 256) {
		json_decref(j);
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: malformed deployment spec", path);
	}
	out->service = i2k_xstrdup(service);
	out->image = i2k_xstrdup(image);
	out->hash = i2k_xstrdup(hash);
	out->accel = i2k_xstrdup(accel);
	out->data_disk = i2k_xstrdup(disk);
	out->replicas = (unsigned)replicas;
	out->mem_mb = (unsigned)mem;
	out->cpus = (unsigned)cpus;
	out->ports = i2k_xcalloc(json_array_size(ports) + 1, sizeof(*out->ports));
	out->checks = i2k_xcalloc(json_array_size(checks) + 1, sizeof(*out->checks));
	size_t i;
	json_t *v;
	json_array_foreach(ports, i, v)
	{
		json_int_t g, l;
		int forced = 0;
		if (json_unpack(v, "{s:I,s:I,s?b}", "guest", &g, "listen", &l, "forced", &forced) <
			0 ||
		    !port_ok(g, false) || !port_ok(l, true))
			goto bad;
		out->ports[out->nports++] = (struct i2k_local_port){
		    .guest = (uint16_t)g, .listen = (uint16_t)l, .listen_forced = forced};
	}
	json_array_foreach(checks, i, v)
	{
		json_int_t g, iv, to;
		const char *p = NULL;
		if (json_unpack(v, "{s:I,s:I,s:I,s?s}", "guest", &g, "interval_ms", &iv,
				"timeout_ms", &to, "path", &p) < 0 ||
		    !port_ok(g, false) || iv < 1 || to < 1 || iv > 3600000 || to > 3600000)
			goto bad;
		out->checks[out->nchecks++] = (struct i2k_local_check){.guest = (uint16_t)g,
								       .path = i2k_xstrdup(p),
								       .interval_ms = (unsigned)iv,
								       .timeout_ms = (unsigned)to};
	}
	json_decref(j);
	return 0;
bad:
	json_decref(j);
	i2k_local_spec_clear(out);
	return i2k_error_set(err, I2K_ERR_CONFIG, "%s: malformed deployment spec", path);
}

/* ---- replicas ---------------------------------------------------------------------- */

enum rstate { R_STARTING, R_UP, R_DRAINING, R_STOPPING };
static const char *const rstate_name[] = {"starting", "up", "draining", "stopping"};

struct sup;

struct check {
	struct replica *r;
	size_t idx; /* into spec.checks */
	struct i2k_hc *hc;
	long long next_ms;
	struct i2k_health_state st;
};

struct replica {
	struct sup *s;
	int id, slot; /* slot: 0-based */
	pid_t pid;
	enum rstate state;
	char *dir, *hash;
	uint16_t *host; /* host port per spec.ports[i] */
	struct check *checks;
	size_t nchecks;
	bool healthy, ever_healthy, booted;
	long long started_ms, healthy_since_ms, unhealthy_since_ms, deadline_ms;
	time_t started_wall;
	unsigned restarts;
	struct replica *next;
};

struct slot {
	struct replica *cur, *next;
	long long restart_at_ms;
	unsigned backoff_ms, restarts;
};

struct sup {
	const struct i2k_local_sup_opts *o;
	struct i2k_ev ev;
	struct i2k_local_spec spec;
	struct i2k_lb **lbs; /* one per spec.ports at start */
	size_t nlbs;
	uint16_t *lb_guest; /* guest port of each balancer */
	struct replica *reps;
	struct slot slots[MAX_SLOTS];
	int next_id;
	bool dirty, updating;
	long long last_status_ms;
	unsigned grace_s, boot_grace_s;
};

#define event(s, ...) i2k_local_emit((s)->o->on_event, (s)->o->ctx, __VA_ARGS__)

static unsigned env_uint(const char *name, unsigned def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end = NULL;
	unsigned long x = strtoul(v, &end, 10);
	return *end == '\0' && x > 0 && x < 86400 ? (unsigned)x : def;
}

/* The host port a replica publishes guest port g on (0 if none). */
static uint16_t host_port(const struct replica *r, uint16_t g)
{
	for (size_t i = 0; i < r->s->spec.nports; i++)
		if (r->s->spec.ports[i].guest == g)
			return r->host[i];
	return 0;
}

static void lb_update(struct replica *r)
{
	struct sup *s = r->s;
	bool in = r->healthy && r->state == R_UP;
	for (size_t i = 0; i < s->nlbs; i++) {
		if (r->state == R_DRAINING || r->state == R_STOPPING) {
			i2k_lb_remove_backend(s->lbs[i], r->id);
			continue;
		}
		uint16_t hp = host_port(r, s->lb_guest[i]);
		if (hp)
			i2k_lb_set_backend(s->lbs[i], r->id, hp, in);
	}
}

static unsigned active_conns(const struct replica *r)
{
	unsigned n = 0;
	for (size_t i = 0; i < r->s->nlbs; i++)
		n += i2k_lb_active(r->s->lbs[i], r->id);
	return n;
}

static void replica_free(struct replica *r)
{
	struct sup *s = r->s;
	for (size_t i = 0; i < s->nlbs; i++)
		i2k_lb_remove_backend(s->lbs[i], r->id);
	for (size_t i = 0; i < r->nchecks; i++)
		i2k_hc_cancel(r->checks[i].hc);
	for (struct replica **p = &s->reps; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (s->slots[i].cur == r)
			s->slots[i].cur = NULL;
		if (s->slots[i].next == r)
			s->slots[i].next = NULL;
	}
	if (r->dir)
		i2k_rm_rf(r->dir, NULL);
	free(r->dir);
	free(r->hash);
	free(r->host);
	free(r->checks);
	free(r);
	s->dirty = true;
}

static struct replica *spawn(struct sup *s, int slot, struct i2k_error **err)
{
	const struct i2k_local_spec *sp = &s->spec;
	struct replica *r = i2k_xcalloc(1, sizeof(*r));
	r->s = s;
	r->id = ++s->next_id;
	r->slot = slot;
	r->hash = i2k_xstrdup(sp->hash);
	r->dir = i2k_xasprintf("%s/replicas/%d", s->o->dir, r->id);
	r->host = i2k_xcalloc(sp->nports + 1, sizeof(*r->host));
	r->checks = i2k_xcalloc(sp->nchecks + 1, sizeof(*r->checks));
	r->nchecks = sp->nchecks;
	for (size_t i = 0; i < sp->nchecks; i++)
		r->checks[i] = (struct check){.r = r, .idx = i};
	i2k_rm_rf(r->dir, NULL);
	if (i2k_mkdir_p(r->dir, 0755, err) < 0) {
		free(r->dir), free(r->hash), free(r->host), free(r->checks), free(r);
		return NULL;
	}
	/* argv */
	char **argv = i2k_xcalloc(32 + 2 * sp->nports, sizeof(char *));
	size_t n = 0;
	argv[n++] = i2k_xstrdup("i2kit");
	argv[n++] = i2k_xstrdup("run");
	argv[n++] = i2k_xstrdup("qemu");
	argv[n++] = i2k_xasprintf("--accel=%s", sp->accel);
	argv[n++] = i2k_xasprintf("--mem=%u", sp->mem_mb);
	argv[n++] = i2k_xasprintf("--cpus=%u", sp->cpus);
	argv[n++] = i2k_xasprintf("--state=%s", r->dir);
	argv[n++] = i2k_xasprintf("--cmdline-append=i2kit.service=%s i2kit.replica=%d", sp->service,
				  slot + 1);
	for (size_t i = 0; i < sp->nports; i++) {
		r->host[i] = i2k_local_free_port();
		argv[n++] = i2k_xasprintf("--publish=%u:%u", r->host[i], sp->ports[i].guest);
	}
	if (sp->data_disk)
		argv[n++] = i2k_xasprintf("--disk=%s", sp->data_disk);
	argv[n++] = i2k_xstrdup("--");
	argv[n++] = i2k_xstrdup(sp->image);
	argv[n] = NULL;
	_cleanup_free_ char *log = i2k_xasprintf("%s/run.log", r->dir);
	_cleanup_free_ char *grace = i2k_xasprintf("%u", s->grace_s);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		int lf = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
		}
		if (lf >= 0)
			dup2(lf, 2);
		setenv("I2KIT_RUN_GRACE", grace, 1);
		execv(s->o->exe, argv);
		_exit(127);
	}
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
	if (pid < 0) {
		i2k_error_errno(err, errno, I2K_ERR_IO, "fork");
		i2k_rm_rf(r->dir, NULL);
		free(r->dir), free(r->hash), free(r->host), free(r->checks), free(r);
		return NULL;
	}
	r->pid = pid;
	r->state = R_STARTING;
	r->started_ms = i2k_ev_now_ms();
	r->started_wall = time(NULL);
	r->next = s->reps;
	s->reps = r;
	/* first check after one interval: the VM needs that long anyway */
	for (size_t i = 0; i < r->nchecks; i++)
		r->checks[i].next_ms = r->started_ms + sp->checks[i].interval_ms;
	if (r->nchecks == 0) { /* nothing to check: up once running */
		r->healthy = r->ever_healthy = true;
		r->healthy_since_ms = r->started_ms;
		r->state = R_UP;
	}
	lb_update(r);
	s->dirty = true;
	return r;
}

static void stop(struct replica *r, const char *why)
{
	if (r->state == R_STOPPING)
		return;
	event(r->s, "replica %d (id %d): stopping (%s)", r->slot + 1, r->id, why);
	r->state = R_STOPPING;
	lb_update(r);
	for (size_t i = 0; i < r->nchecks; i++) {
		i2k_hc_cancel(r->checks[i].hc);
		r->checks[i].hc = NULL;
	}
	kill(r->pid, SIGTERM);
	r->deadline_ms = i2k_ev_now_ms() + (long long)(r->s->grace_s + 5) * 1000;
	r->s->dirty = true;
}

static void detach_from_slot(struct replica *r, bool crashed)
{
	struct slot *sl = &r->s->slots[r->slot];
	if (sl->cur != r && sl->next != r)
		return;
	if (sl->cur == r)
		sl->cur = NULL;
	else
		sl->next = NULL;
	if (!crashed)
		return;
	long long now = i2k_ev_now_ms();
	if (r->ever_healthy && now - r->healthy_since_ms > BACKOFF_RESET_MS && r->healthy)
		sl->backoff_ms = 0;
	sl->backoff_ms = sl->backoff_ms ? sl->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (sl->backoff_ms > BACKOFF_MAX_MS)
		sl->backoff_ms = BACKOFF_MAX_MS;
	sl->restart_at_ms = now + sl->backoff_ms;
	sl->restarts++;
}

/* ---- health ------------------------------------------------------------------------- */

static void set_healthy(struct replica *r, bool h)
{
	long long now = i2k_ev_now_ms();
	if (h == r->healthy)
		return;
	r->healthy = h;
	if (h) {
		r->healthy_since_ms = now;
		r->unhealthy_since_ms = 0;
		if (!r->ever_healthy)
			event(r->s, "replica %d (id %d): healthy after %.1f s", r->slot + 1, r->id,
			      (double)(now - r->started_ms) / 1000.0);
		else
			event(r->s, "replica %d (id %d): healthy again", r->slot + 1, r->id);
		r->ever_healthy = true;
		if (r->state == R_STARTING)
			r->state = R_UP;
	} else {
		r->unhealthy_since_ms = now;
		event(r->s, "replica %d (id %d): unhealthy", r->slot + 1, r->id);
	}
	lb_update(r);
	r->s->dirty = true;
}

static void on_check(void *ctx, bool ok, const char *why)
{
	struct check *c = ctx;
	struct replica *r = c->r;
	c->hc = NULL;
	i2k_health_update(&c->st, ok);
	bool all = true;
	for (size_t i = 0; i < r->nchecks; i++)
		all &= r->checks[i].st.healthy;
	if (r->state == R_STARTING || r->state == R_UP)
		set_healthy(r, all);
}

/* i2kit's init printed that the boot is done (read once it has). */
static bool booted(struct replica *r)
{
	if (r->booted)
		return true;
	_cleanup_free_ char *path = i2k_xasprintf("%s/console.log", r->dir);
	_cleanup_free_ char *text = NULL;
	if (i2k_read_file(path, 16u << 20, &text, NULL, NULL) < 0)
		return false;
	r->booted = strstr(text, BOOT_LINE) != NULL;
	return r->booted;
}

static void run_checks(struct sup *s, long long now)
{
	for (struct replica *r = s->reps; r; r = r->next) {
		if (r->state != R_STARTING && r->state != R_UP)
			continue;
		/* QEMU accepts forwarded connections before the guest runs: a
		 * TCP check means something only once the guest has booted
		 * (i2kit's init says so on the console; other inits: after
		 * TCP_GATE_MS). HTTP checks need an answer and are not gated. */
		bool tcp_ok = r->state == R_UP || now - r->started_ms > TCP_GATE_MS || booted(r);
		for (size_t i = 0; i < r->nchecks; i++) {
			struct check *c = &r->checks[i];
			const struct i2k_local_check *sc = &s->spec.checks[c->idx];
			if (c->hc || now < c->next_ms || (!sc->path && !tcp_ok))
				continue;
			c->next_ms = now + sc->interval_ms;
			uint16_t hp = host_port(r, sc->guest);
			if (!hp)
				continue;
			if (i2k_hc_start(&s->ev, hp, sc->path, sc->timeout_ms, on_check, c, &c->hc,
					 NULL) < 0)
				c->hc = NULL;
		}
	}
}

/* ---- status ------------------------------------------------------------------------ */

static void write_status(struct sup *s, const char *state)
{
	json_t *ports = json_array(), *reps = json_array();
	for (size_t i = 0; i < s->nlbs; i++)
		json_array_append_new(ports, json_pack("{s:i,s:i}", "guest", s->lb_guest[i], "port",
						       i2k_lb_port(s->lbs[i])));
	for (int k = 0; k < MAX_SLOTS; k++)
		for (struct replica *r = s->reps; r; r = r->next) {
			if (r->slot != k)
				continue;
			json_t *hp = json_array();
			for (size_t i = 0; i < s->spec.nports; i++)
				json_array_append_new(hp, json_integer(r->host[i]));
			bool current = s->slots[k].cur == r;
			json_array_append_new(
			    reps, json_pack("{s:i,s:i,s:i,s:s,s:b,s:b,s:I,s:i,s:s,s:o,s:s}", "slot",
					    r->slot + 1, "id", r->id, "pid", (int)r->pid, "state",
					    rstate_name[r->state], "healthy", r->healthy, "current",
					    current, "started", (json_int_t)r->started_wall,
					    "restarts", s->slots[k].restarts, "hash", r->hash,
					    "ports", hp, "dir", r->dir));
		}
	json_t *j =
	    json_pack("{s:s,s:i,s:s,s:s,s:i,s:o,s:o}", "service", s->spec.service, "pid",
		      (int)getpid(), "hash", s->spec.hash, "state", state, "replicas_wanted",
		      s->spec.replicas, "ports", ports, "replicas", reps);
	char *text = json_dumps(j, JSON_INDENT(2));
	if (text) {
		_cleanup_free_ char *path = i2k_xasprintf("%s/status.json", s->o->dir);
		i2k_write_file_atomic(path, text, strlen(text), 0644, NULL);
		free(text);
	}
	if (s->o->on_status)
		s->o->on_status(s->o->ctx, j);
	json_decref(j);
	s->dirty = false;
	s->last_status_ms = i2k_ev_now_ms();
}

/* ---- the loop ------------------------------------------------------------------------ */

static struct replica *by_pid(struct sup *s, pid_t pid)
{
	for (struct replica *r = s->reps; r; r = r->next)
		if (r->pid == pid)
			return r;
	return NULL;
}

static void reap(struct sup *s)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct replica *r = by_pid(s, pid);
		if (!r)
			continue;
		if (r->state == R_STOPPING) {
			event(s, "replica %d (id %d): powered off", r->slot + 1, r->id);
			replica_free(r);
			continue;
		}
		char how[64];
		if (WIFEXITED(st))
			snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(st));
		else
			snprintf(how, sizeof(how), "signal %d", WTERMSIG(st));
		detach_from_slot(r, true);
		event(s, "replica %d (id %d): VM ended (%s); restarting in %.1f s", r->slot + 1,
		      r->id, how, (double)s->slots[r->slot].backoff_ms / 1000.0);
		replica_free(r);
	}
}

static void remove_unused_images(struct sup *s)
{
	_cleanup_free_ char *dir = i2k_xasprintf("%s/images", s->o->dir);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, s->spec.hash) == 0)
			continue;
		bool used = false;
		for (struct replica *r = s->reps; r; r = r->next)
			used |= strcmp(r->hash, e->d_name) == 0;
		if (used)
			continue;
		_cleanup_free_ char *p = i2k_xasprintf("%s/%s", dir, e->d_name);
		i2k_rm_rf(p, NULL);
	}
	closedir(d);
}

static void manage(struct sup *s, long long now)
{
	const struct i2k_local_spec *sp = &s->spec;
	/* replicas that stay unhealthy are replaced */
	for (struct replica *r = s->reps, *nx; r; r = nx) {
		nx = r->next;
		if (r->state == R_UP && !r->healthy && r->unhealthy_since_ms) {
			long long lim = 0;
			for (size_t i = 0; i < sp->nchecks; i++)
				if ((long long)sp->checks[i].interval_ms * 3 > lim)
					lim = (long long)sp->checks[i].interval_ms * 3;
			if (lim < UNHEALTHY_MIN_MS)
				lim = UNHEALTHY_MIN_MS;
			if (now - r->unhealthy_since_ms > lim) {
				detach_from_slot(r, true);
				stop(r, "unhealthy");
			}
		} else if (r->state == R_STARTING &&
			   now - r->started_ms > (long long)s->boot_grace_s * 1000) {
			detach_from_slot(r, true);
			stop(r, "never became healthy");
		}
	}
	/* slots */
	bool any_updating = false;
	for (unsigned k = 0; k < sp->replicas; k++) {
		struct slot *sl = &s->slots[k];
		if (sl->next || (sl->cur && strcmp(sl->cur->hash, sp->hash) != 0))
			any_updating = true;
	}
	bool update_busy = false;
	for (unsigned k = 0; k < sp->replicas; k++)
		update_busy |= s->slots[k].next != NULL;
	for (unsigned k = 0; k < sp->replicas; k++) {
		struct slot *sl = &s->slots[k];
		struct i2k_error *e = NULL;
		if (!sl->cur && !sl->next && now >= sl->restart_at_ms) {
			sl->cur = spawn(s, (int)k, &e);
			if (sl->cur)
				event(s, "replica %d (id %d): booting", k + 1, sl->cur->id);
		} else if (sl->cur && !sl->next && !update_busy &&
			   strcmp(sl->cur->hash, sp->hash) != 0) {
			sl->next = spawn(s, (int)k, &e);
			update_busy = sl->next != NULL;
			if (sl->next)
				event(
				    s,
				    "replica %d (id %d): booting the new version to replace id %d",
				    k + 1, sl->next->id, sl->cur->id);
		} else if (sl->next && sl->next->healthy && sl->next->state == R_UP) {
			struct replica *old = sl->cur;
			sl->cur = sl->next;
			sl->next = NULL;
			if (old) {
				old->state = R_DRAINING;
				old->deadline_ms = now + DRAIN_MAX_MS;
				lb_update(old);
				event(s, "replica %d (id %d): draining, replaced by id %d", k + 1,
				      old->id, sl->cur->id);
			}
			s->dirty = true;
		} else if (sl->next && !sl->cur) { /* the old one died meanwhile */
			sl->cur = sl->next;
			sl->next = NULL;
		}
		if (e) {
			event(s, "replica %d: cannot start: %s", k + 1, e->msg);
			i2k_error_free(e);
			sl->restart_at_ms = now + BACKOFF_MAX_MS;
		}
	}
	/* slots beyond the wanted count (scaled down) */
	for (unsigned k = sp->replicas; k < MAX_SLOTS; k++) {
		struct slot *sl = &s->slots[k];
		struct replica *rs[2] = {sl->cur, sl->next};
		sl->cur = sl->next = NULL;
		for (int i = 0; i < 2; i++)
			if (rs[i] && rs[i]->state != R_STOPPING) {
				rs[i]->state = R_DRAINING;
				rs[i]->deadline_ms = now + DRAIN_MAX_MS;
				lb_update(rs[i]);
			}
	}
	/* draining → stopping; stopping past its deadline → killed */
	for (struct replica *r = s->reps; r; r = r->next) {
		if (r->state == R_DRAINING && (active_conns(r) == 0 || now > r->deadline_ms))
			stop(r, "drained");
		else if (r->state == R_STOPPING && now > r->deadline_ms && r->pid > 0) {
			event(s, "replica %d (id %d): did not power off: killed", r->slot + 1,
			      r->id);
			kill(-r->pid, SIGKILL);
			kill(r->pid, SIGKILL);
			r->deadline_ms = now + 60000;
		}
	}
	if (s->updating && !any_updating) {
		bool old_left = false;
		for (struct replica *r = s->reps; r; r = r->next)
			old_left |= strcmp(r->hash, sp->hash) != 0;
		if (!old_left) {
			s->updating = false;
			event(s, "update to %.19s done", sp->hash);
			remove_unused_images(s);
			s->dirty = true;
		}
	}
}

static int reload(struct sup *s)
{
	struct i2k_local_spec ns;
	struct i2k_error *e = NULL;
	_cleanup_free_ char *path = i2k_xasprintf("%s/desired.json", s->o->dir);
	if (i2k_local_spec_load(path, &ns, &e) < 0) {
		event(s, "reload: %s", e->msg);
		i2k_error_free(e);
		return -1;
	}
	bool ports_same = ns.nports == s->spec.nports;
	for (size_t i = 0; ports_same && i < ns.nports; i++)
		ports_same = ns.ports[i].guest == s->spec.ports[i].guest;
	if (!ports_same || ns.nchecks != s->spec.nchecks) {
		event(s, "reload: the ports or health checks changed: destroy and deploy again");
		i2k_local_spec_clear(&ns);
		return -1;
	}
	bool changed = strcmp(ns.hash, s->spec.hash) != 0 || ns.mem_mb != s->spec.mem_mb ||
		       ns.cpus != s->spec.cpus || strcmp(ns.accel, s->spec.accel) != 0;
	/* checks keep their index: only their settings may change */
	i2k_local_spec_clear(&s->spec);
	s->spec = ns;
	if (changed) {
		/* mem/cpu changes also need new VMs: mark every replica outdated */
		for (struct replica *r = s->reps; r; r = r->next)
			if (strcmp(r->hash, s->spec.hash) == 0 && r->state != R_STOPPING) {
				free(r->hash);
				r->hash = i2k_xstrdup("outdated");
			}
		s->updating = true;
		event(s, "rolling update to %.19s", s->spec.hash);
	} else {
		event(s, "reload: nothing changed (replicas %u)", s->spec.replicas);
	}
	s->dirty = true;
	return 0;
}

static void teardown(struct sup *s)
{
	for (struct replica *r = s->reps; r; r = r->next)
		if (r->state != R_STOPPING)
			stop(r, "shutting down");
	write_status(s, "stopping");
	while (s->reps) {
		long long now = i2k_ev_now_ms();
		for (struct replica *r = s->reps; r; r = r->next)
			if (now > r->deadline_ms) {
				kill(-r->pid, SIGKILL);
				kill(r->pid, SIGKILL);
			}
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid > 0) {
			struct replica *r = by_pid(s, pid);
			if (r) {
				event(s, "replica %d (id %d): powered off", r->slot + 1, r->id);
				replica_free(r);
			}
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			break;
		struct timespec ts = {.tv_nsec = 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
	while (s->reps)
		replica_free(s->reps);
}

int i2k_local_supervise(const struct i2k_local_sup_opts *o, struct i2k_error **err)
{
	struct sup *s = i2k_xcalloc(1, sizeof(*s));
	s->o = o;
	s->ev.epfd = -1;
	s->grace_s = env_uint("I2KIT_RUN_GRACE", DEFAULT_RUN_GRACE_S);
	s->boot_grace_s = env_uint("I2KIT_BOOT_GRACE", DEFAULT_BOOT_GRACE_S);
	int rc = -1;
	_cleanup_free_ char *desired = i2k_xasprintf("%s/desired.json", o->dir);
	_cleanup_free_ char *pidfile = i2k_xasprintf("%s/supervisor.pid", o->dir);
	_cleanup_free_ char *status = i2k_xasprintf("%s/status.json", o->dir);
	_cleanup_free_ char *repdir = i2k_xasprintf("%s/replicas", o->dir);
	_cleanup_free_ char *pidtext = i2k_xasprintf("%d\n", (int)getpid());
	if (i2k_local_spec_load(desired, &s->spec, err) < 0)
		goto out;
	pid_t other = i2k_local_supervisor_pid(o->dir);
	if (other > 0 && other != getpid()) {
		i2k_error_set(err, I2K_ERR_CONFIG, "%s is already deployed (supervisor pid %d)",
			      s->spec.service, (int)other);
		goto out;
	}
	if (i2k_write_file_atomic(pidfile, pidtext, strlen(pidtext), 0644, err) < 0)
		goto out;
	i2k_rm_rf(repdir, NULL);
	if (i2k_ev_init(&s->ev, err) < 0)
		goto out_pid;
	s->lbs = i2k_xcalloc(s->spec.nports + 1, sizeof(*s->lbs));
	s->lb_guest = i2k_xcalloc(s->spec.nports + 1, sizeof(*s->lb_guest));
	for (size_t i = 0; i < s->spec.nports; i++) {
		const struct i2k_local_port *p = &s->spec.ports[i];
		if (i2k_lb_open(&s->ev, p->listen, !p->listen_forced, &s->lbs[s->nlbs], err) < 0) {
			i2k_error_wrap(err, "balancer for guest port %u", p->guest);
			goto out_lbs;
		}
		s->lb_guest[s->nlbs++] = p->guest;
		event(s, "port %u: balancer on 127.0.0.1:%u", p->guest,
		      i2k_lb_port(s->lbs[s->nlbs - 1]));
	}
	write_status(s, "running");
	while (!i2k_interrupted) {
		if (i2k_local_reload) {
			i2k_local_reload = 0;
			reload(s);
		}
		long long now = i2k_ev_now_ms();
		reap(s);
		manage(s, now);
		run_checks(s, now);
		if (s->dirty || now - s->last_status_ms > 1000)
			write_status(s, s->updating ? "updating" : "running");
		i2k_ev_run_once(&s->ev, TICK_MS);
	}
	event(s, "stopping %s", s->spec.service);
	teardown(s);
	rc = 0;
out_lbs:
	for (size_t i = 0; i < s->nlbs; i++)
		i2k_lb_free(s->lbs[i]);
	free(s->lbs);
	free(s->lb_guest);
	i2k_ev_close(&s->ev);
	i2k_rm_rf(repdir, NULL);
	unlink(status);
out_pid:
	unlink(pidfile);
out:
	i2k_local_spec_clear(&s->spec);
	free(s);
	return rc;
}
