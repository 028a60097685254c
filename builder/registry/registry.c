/* registry.c — see registry.h. Pull orchestration: manifest/index
 * resolution, authentication (bearer tokens cached per host+scope, basic),
 * retries with backoff, and parallel, resumable blob downloads into the
 * store. HTTP mechanics live in http.c, parsing in manifest.c and auth.c.
 *
 * Environment (when the matching option is 0): $I2KIT_LOW_SPEED_TIMEOUT,
 * $I2KIT_LOW_SPEED_LIMIT, $I2KIT_TRANSFER_TIMEOUT, $I2KIT_TRANSFER_RATE,
 * $I2KIT_MAX_LAYER_SIZE (see registry.h).
 */
#include "builder/registry/registry.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/registry/auth.h"
#include "builder/registry/creds.h"
#include "builder/registry/http.h"
#include "builder/registry/manifest.h"
#include "builder/registry/mirror.h"
#include "builder/registry/session.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_CAP_MS 3200
#define RETRY_AFTER_CAP_MS 10000
#define PROGRESS_STEP (512u << 10)

struct token {
	char *host, *scope, *value; /* value: full Authorization header value */
	time_t expires;
};

struct creds {
	char *key;	    /* registry name, or a mirror's host[:port] */
	struct i2k_creds c; /* secret NULL when none configured */
};

struct i2k_registry {
	struct i2k_registry_opts o;
	char **insecure;
	char *ca_file, *docker_config_dir;
	struct i2k_http_policy policy;
	struct i2k_mirror_list mirrors;

	pthread_mutex_t mu; /* tokens, creds, basic_hosts */
	struct token *tokens;
	size_t n_tokens, cap_tokens;
	struct creds *creds;
	size_t n_creds, cap_creds;
	char **basic_hosts;
	size_t n_basic, cap_basic;
	char **plain_hosts; /* plain-allowed hosts found not to speak TLS */
	size_t n_plain, cap_plain;
	char **tls_hosts; /* plain-allowed hosts found to speak TLS */
	size_t n_tls, cap_tls;
	char **probing; /* hosts a thread is probing now (resolve_base) */
	size_t n_probing, cap_probing;
	pthread_cond_t probe_cv; /* (with mu) a probe ended */

	pthread_mutex_t progress_mu;
};

/* A positive decimal from the environment, else def. */
static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *e = getenv(name);
	uint64_t v = 0;
	for (; e && *e >= '0' && *e <= '9' && v < (1ull << 56); e++)
		v = v * 10 + (uint64_t)(*e - '0');
	return e && *e == '\0' && v > 0 ? v : def;
}

static long env_long(const char *name, long def)
{
	uint64_t v = env_u64(name, (uint64_t)def);
	return v > 100000000 ? 100000000 : (long)v;
}

/* Copies o's mirrors and those of the mirrors file; checks the plain-HTTP
 * policy for each (the mirror list's strings are owned by r). */
static int add_mirrors(struct i2k_registry *r, const struct i2k_registry_opts *o,
		       struct i2k_error **err)
{
	for (size_t i = 0; i < o->n_mirrors; i++) {
		_cleanup_free_ char *spec =
		    i2k_xasprintf("%s=%s", o->mirrors[i].registry, o->mirrors[i].url);
		if (i2k_mirror_list_add(&r->mirrors, spec, err) < 0)
			return -1;
	}
	const char *file = o->mirrors_file;
	if (file == NULL)
		file = getenv("I2KIT_MIRRORS_FILE");
	if (file && *file && i2k_mirror_list_load(&r->mirrors, file, err) < 0)
		return -1;
	for (size_t i = 0; i < r->mirrors.n; i++) {
		const struct i2k_mirror *m = &r->mirrors.v[i];
		_cleanup_free_ char *host = i2k_http_url_authority(m->url);
		if (i2k_str_has_prefix(m->url, "http://") &&
		    !i2k_http_plain_allowed(&r->policy, host))
			return i2k_error_set(err, I2K_ERR_USAGE,
					     "mirror %s for %s is plain HTTP: allow it with "
					     "--insecure-registry %s, or use https://",
					     m->url, m->registry, host);
	}
	return 0;
}

int i2k_registry_new(const struct i2k_registry_opts *o, struct i2k_registry **out,
		     struct i2k_error **err)
{
	static const struct i2k_registry_opts none = {0};
	if (o == NULL)
		o = &none;
	i2k_http_global_init();
	struct i2k_registry *r = i2k_xcalloc(1, sizeof(*r));
	r->o = *o;
	r->insecure = i2k_xcalloc(o->n_insecure_hosts + 1, sizeof(char *));
	for (size_t i = 0; i < o->n_insecure_hosts; i++)
		r->insecure[i] = i2k_xstrdup(o->insecure_hosts[i]);
	r->o.insecure_hosts = (const char *const *)r->insecure;
	r->ca_file = i2k_xstrdup(o->ca_file);
	r->o.ca_file = r->ca_file;
	r->docker_config_dir = i2k_xstrdup(o->docker_config_dir);
	r->o.docker_config_dir = r->docker_config_dir;
	r->o.mirrors = NULL;
	r->o.n_mirrors = 0;
	r->o.mirrors_file = NULL;
	if (r->o.parallel <= 0)
		r->o.parallel = 4;
	if (r->o.parallel > 32)
		r->o.parallel = 32;
	if (r->o.max_retries <= 0)
		r->o.max_retries = 5;
	if (r->o.low_speed_timeout_s <= 0)
		r->o.low_speed_timeout_s = env_long("I2KIT_LOW_SPEED_TIMEOUT", 30);
	if (r->o.low_speed_limit <= 0)
		r->o.low_speed_limit = env_long("I2KIT_LOW_SPEED_LIMIT", 1024);
	if (r->o.transfer_timeout_s <= 0)
		r->o.transfer_timeout_s = env_long("I2KIT_TRANSFER_TIMEOUT", 600);
	if (r->o.transfer_rate <= 0)
		r->o.transfer_rate = env_long("I2KIT_TRANSFER_RATE", 32768);
	if (r->o.max_layer_size == 0)
		r->o.max_layer_size = env_u64("I2KIT_MAX_LAYER_SIZE", 64ull << 30);
	r->policy = (struct i2k_http_policy){
	    .insecure_hosts = r->o.insecure_hosts,
	    .n_insecure_hosts = r->o.n_insecure_hosts,
	    .ca_file = r->ca_file,
	    .low_speed_time_s = r->o.low_speed_timeout_s,
	    .low_speed_limit = r->o.low_speed_limit,
	    .deadline_s = r->o.transfer_timeout_s,
	    .deadline_rate = r->o.transfer_rate,
	};
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->probe_cv, NULL);
	pthread_mutex_init(&r->progress_mu, NULL);
	/* Fail early on an unreadable CA file, a bad mirror or mirrors file. */
	struct i2k_http *probe = NULL;
	if (i2k_http_new(&r->policy, &probe, err) < 0 || add_mirrors(r, o, err) < 0) {
		i2k_registry_free(r);
		return -1;
	}
	i2k_http_free(probe);
	*out = r;
	return 0;
}

void i2k_registry_free(struct i2k_registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->o.n_insecure_hosts; i++)
		free(r->insecure[i]);
	free(r->insecure);
	free(r->ca_file);
	free(r->docker_config_dir);
	for (size_t i = 0; i < r->n_tokens; i++) {
		free(r->tokens[i].host);
		free(r->tokens[i].scope);
		free(r->tokens[i].value);
	}
	free(r->tokens);
	for (size_t i = 0; i < r->n_creds; i++) {
		free(r->creds[i].key);
		i2k_creds_clear(&r->creds[i].c);
	}
	free(r->creds);
	i2k_mirror_list_clear(&r->mirrors);
	for (size_t i = 0; i < r->n_basic; i++)
		free(r->basic_hosts[i]);
	free(r->basic_hosts);
	for (size_t i = 0; i < r->n_plain; i++)
		free(r->plain_hosts[i]);
	free(r->plain_hosts);
	for (size_t i = 0; i < r->n_tls; i++)
		free(r->tls_hosts[i]);
	free(r->tls_hosts);
	free(r->probing); /* empty: every probe ends with probe_done */
	pthread_cond_destroy(&r->probe_cv);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->progress_mu);
	free(r);
}

void i2k_registry_freep(struct i2k_registry **r)
{
	i2k_registry_free(*r);
	*r = NULL;
}

/* ---- one pull --------------------------------------------------------------- */

struct pull {
	struct i2k_registry *r;
	struct i2k_store *s;
	const struct i2k_ref *ref;
	char *name;  /* canonical ref, message prefix and index.json name */
	char *host;  /* API host[:port] */
	char *base;  /* SCHEME://HOST/v2/REPO */
	char *scope; /* repository:REPO:pull */
	/* The endpoint being tried: the registry, or mirror_url. */
	const char *mirror_url;
	/* Credentials for host (lazily, at the first challenge): user NULL
	 * with pass set means an identity token only. */
	bool creds_loaded, idtoken;
	char *user, *pass, *cred_source;

	pthread_mutex_t mu; /* jobs, cancel, err */
	struct i2k_descriptor *jobs;
	size_t n_jobs, next_job;
	const char *job_role; /* "config" or "layer": the batch being downloaded */
	uint64_t job_max;     /* its size limit */
	atomic_int cancel;    /* read by workers without the lock */
	struct i2k_error *err;
};

void i2k_registry_progress_stage(const struct i2k_progress *p, void *ctx)
{
	static const enum i2k_step steps[] = {[I2K_PROGRESS_START] = I2K_STEP_BEGIN,
					      [I2K_PROGRESS_DATA] = I2K_STEP_UPDATE,
					      [I2K_PROGRESS_DONE] = I2K_STEP_END,
					      [I2K_PROGRESS_CACHED] = I2K_STEP_CACHED};
	struct i2k_stage_event ev = {.stage = I2K_STAGE_FETCH,
				     .step = steps[p->kind],
				     .what = p->ref,
				     .detail = p->digest,
				     .done = p->done,
				     .total = p->total};
	i2k_stage_report(ctx, &ev);
}

static void progress(struct pull *pl, int kind, const char *digest, uint64_t done, uint64_t total)
{
	struct i2k_registry *r = pl->r;
	if (r->o.progress == NULL)
		return;
	struct i2k_progress p = {
	    .ref = pl->name, .digest = digest, .done = done, .total = total, .kind = kind};
	pthread_mutex_lock(&r->progress_mu);
	r->o.progress(&p, r->o.progress_ctx);
	pthread_mutex_unlock(&r->progress_mu);
}

/* Authorization header value for the next request to pl->host, or NULL. */
static char *current_auth(struct pull *pl)
{
	struct i2k_registry *r = pl->r;
	char *res = NULL;
	time_t now = time(NULL);
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_tokens && !res; i++) {
		struct token *t = &r->tokens[i];
		if (strcmp(t->host, pl->host) == 0 && strcmp(t->scope, pl->scope) == 0 &&
		    t->expires > now)
			res = i2k_xstrdup(t->value);
	}
	for (size_t i = 0; i < r->n_basic && !res; i++)
		if (strcmp(r->basic_hosts[i], pl->host) == 0 && pl->user && !pl->idtoken)
			res = i2k_auth_basic_header(pl->user, pl->pass);
	pthread_mutex_unlock(&r->mu);
	return res;
}

static void store_token(struct pull *pl, const char *token, long expires_in)
{
	struct i2k_registry *r = pl->r;
	pthread_mutex_lock(&r->mu);
	struct token *t = NULL;
	for (size_t i = 0; i < r->n_tokens && !t; i++)
		if (strcmp(r->tokens[i].host, pl->host) == 0 &&
		    strcmp(r->tokens[i].scope, pl->scope) == 0)
			t = &r->tokens[i];
	if (t == NULL) {
		i2k_xgrow((void **)&r->tokens, &r->cap_tokens, r->n_tokens + 1, sizeof(*r->tokens));
		t = &r->tokens[r->n_tokens++];
		t->host = i2k_xstrdup(pl->host);
		t->scope = i2k_xstrdup(pl->scope);
		t->value = NULL;
	}
	free(t->value);
	t->value = i2k_xasprintf("Bearer %s", token);
	t->expires = time(NULL) + (expires_in > 20 ? expires_in - 10 : expires_in);
	pthread_mutex_unlock(&r->mu);
}

static void mark_basic(struct pull *pl)
{
	struct i2k_registry *r = pl->r;
	pthread_mutex_lock(&r->mu);
	bool have = false;
	for (size_t i = 0; i < r->n_basic && !have; i++)
		have = strcmp(r->basic_hosts[i], pl->host) == 0;
	if (!have) {
		i2k_xgrow((void **)&r->basic_hosts, &r->cap_basic, r->n_basic + 1, sizeof(char *));
		r->basic_hosts[r->n_basic++] = i2k_xstrdup(pl->host);
	}
	pthread_mutex_unlock(&r->mu);
}

static void backoff(struct pull *pl, int attempt, long retry_after_s);

static bool has_host(char *const *list, size_t n, const char *host)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], host) == 0)
			return true;
	return false;
}

/* What is known of host: 1 plain HTTP, 0 TLS, or -1 unknown, and then
 * the caller must probe it and call probe_done. While another thread
 * probes host this waits for its answer: the pulls of one build start
 * together, and each probe of a plain-HTTP host is a TLS handshake that
 * first parses the CA bundle (≈25 ms of CPU). */
static int await_probe(struct i2k_registry *r, const char *host)
{
	pthread_mutex_lock(&r->mu);
	int known;
	for (;;) {
		if (has_host(r->plain_hosts, r->n_plain, host)) {
			known = 1;
			break;
		}
		if (has_host(r->tls_hosts, r->n_tls, host)) {
			known = 0;
			break;
		}
		if (!has_host(r->probing, r->n_probing, host)) {
			i2k_xgrow((void **)&r->probing, &r->cap_probing, r->n_probing + 1,
				  sizeof(char *));
			r->probing[r->n_probing++] = (char *)host;
			known = -1;
			break;
		}
		pthread_cond_wait(&r->probe_cv, &r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return known;
}

/* Ends this thread's probe of host with its answer: 1 plain HTTP, 0 TLS,
 * -1 none (the probe failed: the question is left to the next caller). */
static void probe_done(struct i2k_registry *r, const char *host, int answer)
{
	pthread_mutex_lock(&r->mu);
	if (answer >= 0) {
		char ***list = answer ? &r->plain_hosts : &r->tls_hosts;
		size_t *n = answer ? &r->n_plain : &r->n_tls;
		size_t *cap = answer ? &r->cap_plain : &r->cap_tls;
		i2k_xgrow((void **)list, cap, *n + 1, sizeof(char *));
		(*list)[(*n)++] = i2k_xstrdup(host);
	}
	for (size_t i = 0; i < r->n_probing; i++)
		if (r->probing[i] == host) {
			r->probing[i] = r->probing[--r->n_probing];
			break;
		}
	pthread_cond_broadcast(&r->probe_cv);
	pthread_mutex_unlock(&r->mu);
}

/* Sets pl->base. Hosts that may use plain HTTP (localhost, 127.0.0.1,
 * --insecure-registry) are probed with https first, like Docker does: if
 * the TLS handshake itself fails (the server speaks plain HTTP), http is
 * used; any HTTP answer, or a certificate error, keeps https (so a TLS
 * registry on 127.0.0.1 is still verified). The answer is cached per host,
 * and one thread probes a host at a time (await_probe). */
static int resolve_base(struct pull *pl, struct i2k_http *h, struct i2k_error **err)
{
	struct i2k_registry *r = pl->r;
	bool plain = false;
	if (i2k_http_plain_allowed(&r->policy, pl->host)) {
		int known = await_probe(r, pl->host);
		plain = known == 1;
		if (known < 0) {
			_cleanup_free_ char *url = i2k_xasprintf("https://%s/v2/", pl->host);
			struct i2k_http_req req = {.url = url};
			struct i2k_http_resp resp = {0};
			struct i2k_error *e = NULL;
			for (int attempt = 0;; attempt++) {
				i2k_error_free(e);
				e = NULL;
				if (i2k_http_do(h, &req, &resp, &e) == 0 || !resp.retryable ||
				    attempt >= r->o.max_retries)
					break;
				backoff(pl, attempt, -1);
			}
			plain = e && resp.tls_handshake_failed;
			probe_done(r, pl->host, plain ? 1 : e ? -1 : 0);
			i2k_http_resp_clear(&resp);
			if (e && !plain) {
				i2k_error_propagate(err, &e);
				return i2k_error_wrap(err, "%s", pl->name);
			}
			i2k_error_free(e);
		}
	}
	pl->base =
	    i2k_xasprintf("%s://%s/v2/%s", plain ? "http" : "https", pl->host, pl->ref->repository);
	return 0;
}

/* Loads (once per registry client and key) the credentials for the
 * endpoint: the registry's name, or a mirror's host[:port]. A failing
 * credential helper is an error every time it is asked. */
static int load_creds(struct pull *pl, struct i2k_error **err)
{
	struct i2k_registry *r = pl->r;
	const char *key = pl->mirror_url ? pl->host : pl->ref->registry;
	pl->creds_loaded = true;
	int ret = 0;
	pthread_mutex_lock(&r->mu);
	struct creds *c = NULL;
	for (size_t i = 0; i < r->n_creds && !c; i++)
		if (strcmp(r->creds[i].key, key) == 0)
			c = &r->creds[i];
	if (c == NULL) {
		struct i2k_creds found;
		if (i2k_creds_lookup(r->docker_config_dir, key, &found, err) < 0) {
			i2k_creds_clear(&found);
			ret = i2k_error_wrap(err, "%s", pl->name);
		} else {
			i2k_xgrow((void **)&r->creds, &r->cap_creds, r->n_creds + 1,
				  sizeof(*r->creds));
			c = &r->creds[r->n_creds++];
			*c = (struct creds){.key = i2k_xstrdup(key), .c = found};
		}
	}
	if (c && c->c.secret) {
		pl->user = i2k_xstrdup(c->c.user);
		pl->pass = i2k_xstrdup(c->c.secret);
		pl->idtoken = c->c.identity_token;
		pl->cred_source = i2k_xstrdup(c->c.source);
	}
	pthread_mutex_unlock(&r->mu);
	return ret;
}

/* Forgets the endpoint's credentials (wiping the secret). */
static void drop_creds(struct pull *pl)
{
	free(pl->user);
	if (pl->pass)
		explicit_bzero(pl->pass, strlen(pl->pass));
	free(pl->pass);
	free(pl->cred_source);
	pl->user = pl->pass = pl->cred_source = NULL;
	pl->creds_loaded = pl->idtoken = false;
}

/* "the credentials of user \"U\" (from SOURCE)" / "the identity token
 * from SOURCE", for messages. Caller frees. */
static char *creds_phrase(const struct pull *pl)
{
	if (pl->idtoken)
		return i2k_xasprintf("the identity token from %s", pl->cred_source);
	return i2k_xasprintf("the credentials of user \"%s\" (from %s)", pl->user, pl->cred_source);
}

/* The hint for an endpoint without credentials. Caller frees. */
static char *no_creds_phrase(const struct pull *pl)
{
	const char *key = pl->mirror_url ? pl->host : pl->ref->registry;
	return i2k_xasprintf("no credentials for %s in the docker config.json: run 'docker "
			     "login %s', or point DOCKER_CONFIG at a config.json that has them",
			     key, key);
}

/* Sleeps for the backoff of `attempt` (0-based), honouring Retry-After. */
static void backoff(struct pull *pl, int attempt, long retry_after_s)
{
	long ms = BACKOFF_FIRST_MS;
	for (int i = 0; i < attempt && ms < BACKOFF_CAP_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_CAP_MS)
		ms = BACKOFF_CAP_MS;
	if (retry_after_s >= 0) {
		long ra = retry_after_s * 1000;
		if (ra > ms)
			ms = ra;
		if (ms > RETRY_AFTER_CAP_MS)
			ms = RETRY_AFTER_CAP_MS;
	}
	while (ms > 0 && !i2k_interrupted && !pl->cancel) {
		long step = ms < 50 ? ms : 50;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Turns a non-2xx response into an error: the registry's error JSON when
 * there is one, else the HTTP status. */
static int status_error(struct pull *pl, const char *what, const struct i2k_http_resp *resp,
			struct i2k_error **err)
{
	enum i2k_errc code = I2K_ERR_REGISTRY;
	if (resp->status == 404)
		code = I2K_ERR_NOTFOUND;
	else if (resp->status == 401 || resp->status == 403)
		code = I2K_ERR_AUTH;
	_cleanup_free_ char *msg = NULL;
	json_t *root = resp->body.len ? json_loadb(resp->body.data, resp->body.len, 0, NULL) : NULL;
	json_t *errs = json_is_object(root) ? json_object_get(root, "errors") : NULL;
	json_t *e0 = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
	if (json_is_object(e0)) {
		json_t *c = json_object_get(e0, "code"), *m = json_object_get(e0, "message");
		const char *cs = json_is_string(c) ? json_string_value(c) : "";
		if (strcmp(cs, "MANIFEST_UNKNOWN") == 0 || strcmp(cs, "NAME_UNKNOWN") == 0 ||
		    strcmp(cs, "BLOB_UNKNOWN") == 0 || strcmp(cs, "MANIFEST_BLOB_UNKNOWN") == 0)
			code = I2K_ERR_NOTFOUND;
		else if (strcmp(cs, "UNAUTHORIZED") == 0 || strcmp(cs, "DENIED") == 0)
			code = I2K_ERR_AUTH;
		const char *src =
		    json_is_string(m) && json_string_length(m) ? json_string_value(m) : cs;
		if (*src) {
			size_t n = strnlen(src, 200);
			msg = i2k_xstrndup(src, n);
			for (char *p = msg; *p; p++) {
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = ' ';
				if (src == cs && *p == '_')
					*p = ' ';
				if (src == cs && *p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			}
		}
	}
	if (root)
		json_decref(root);
	if (msg == NULL) {
		if (resp->status == 404)
			msg = i2k_xstrdup("not found (HTTP 404)");
		else if (code == I2K_ERR_AUTH)
			msg = i2k_xasprintf("access denied (HTTP %ld)", resp->status);
		else
			msg = i2k_xasprintf("registry answered HTTP %ld", resp->status);
	}
	return i2k_error_set(err, code, "%s: %s%s%s", pl->name, what ? what : "", what ? ": " : "",
			     msg);
}

/* Percent-encodes a query value. Caller frees. */
static char *query_escape(const char *s)
{
	struct i2k_buf b = {0};
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			i2k_buf_append(&b, s, 1, NULL);
		} else {
			char t[4];
			snprintf(t, sizeof(t), "%%%02X", c);
			i2k_buf_append(&b, t, 3, NULL);
		}
	}
	if (b.data == NULL)
		return i2k_xstrdup("");
	return b.data;
}

/* Appends " (HINT)" to the message of *err. Returns -1. */
static int add_hint(struct i2k_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int add_hint(struct i2k_error **err, const char *fmt, ...)
{
	if (err == NULL || *err == NULL)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	char *hint = NULL;
	if (vasprintf(&hint, fmt, ap) < 0)
		hint = NULL;
	va_end(ap);
	if (hint) {
		char *msg = i2k_xasprintf("%s (%s)", (*err)->msg ? (*err)->msg : "", hint);
		free((*err)->msg);
		(*err)->msg = msg;
		free(hint);
	}
	return -1;
}

/* A host name that does not resolve: offline, or a typo in the registry
 * part of the image name. */
static int resolve_hint(struct pull *pl, struct i2k_error **err)
{
	if (pl->mirror_url)
		return add_hint(err, "mirror %s: unknown host", pl->mirror_url);
	if (strcmp(pl->ref->registry, "docker.io") == 0)
		return add_hint(err, "offline? images already in the cache build with --offline; "
				     "'i2kit cache ls' lists them");
	return add_hint(err,
			"unknown registry host \"%s\": the first part of an image name names "
			"the registry when it has a '.' or ':'; offline? images already in the "
			"cache build with --offline",
			pl->ref->registry);
}

/* Hooks for do_request around each attempt. */
struct attempt_ops {
	/* before every attempt (e.g. set the Range offset) */
	int (*prepare)(struct i2k_http_req *req, void *ctx, struct i2k_error **err);
	/* after a 2xx: 0 done, 1 retry (e.g. short body), < 0 error */
	int (*after_ok)(const struct i2k_http_resp *resp, void *ctx, struct i2k_error **err);
	void *ctx;
	const char *what; /* e.g. "blob sha256:…", for transport errors */
};

static int fetch_token(struct pull *pl, struct i2k_http *h, const struct i2k_challenge *ch,
		       struct i2k_error **err);

/* 401 handling: obtains a token or switches to basic auth. had_auth: the
 * refused request carried credentials already. */
static int handle_challenge(struct pull *pl, struct i2k_http *h, const struct i2k_http_resp *resp,
			    bool had_auth, struct i2k_error **err)
{
	if (!pl->creds_loaded && load_creds(pl, err) < 0)
		return -1;
	if (had_auth) {
		if (pl->pass) {
			_cleanup_free_ char *who = creds_phrase(pl);
			return i2k_error_set(err, I2K_ERR_AUTH,
					     "%s: authentication required: %s refused %s", pl->name,
					     pl->host, who);
		}
		/* an anonymous token that does not open the repository
		 * (Docker Hub's answer for a private or missing one) */
		_cleanup_free_ char *hint = no_creds_phrase(pl);
		return i2k_error_set(err, I2K_ERR_AUTH,
				     "%s: authentication required: the repository does not exist "
				     "or needs credentials (%s)",
				     pl->name, hint);
	}
	if (resp->www_authenticate == NULL)
		return status_error(pl, NULL, resp, err);
	struct i2k_challenge ch;
	if (i2k_challenge_parse(resp->www_authenticate, &ch, err) < 0) {
		i2k_challenge_clear(&ch);
		return i2k_error_wrap(err, "%s", pl->name);
	}
	int ret = 0;
	if (ch.scheme == I2K_AUTH_BEARER) {
		ret = fetch_token(pl, h, &ch, err);
	} else if (pl->pass == NULL) {
		_cleanup_free_ char *hint = no_creds_phrase(pl);
		ret = i2k_error_set(err, I2K_ERR_AUTH, "%s: authentication required (%s)", pl->name,
				    hint);
	} else if (pl->idtoken) {
		ret = i2k_error_set(err, I2K_ERR_AUTH,
				    "%s: %s asks for basic authentication, but %s has only an "
				    "identity token for it",
				    pl->name, pl->host, pl->cred_source);
	} else {
		mark_basic(pl);
	}
	i2k_challenge_clear(&ch);
	return ret;
}

/* Performs req with retries (transport errors, 408, 429, 5xx) and, when
 * with_auth, the registry's auth (401 → challenge → one more try; the
 * Authorization header comes from the token/basic cache). Without
 * with_auth, req->authorization is sent as given. Returns
 * 0 with the final response in resp (any status the caller must check),
 * -1 with *err. */
static int do_request(struct pull *pl, struct i2k_http *h, struct i2k_http_req *req, bool with_auth,
		      const struct attempt_ops *ops, struct i2k_http_resp *resp,
		      struct i2k_error **err)
{
	int attempt = 0, auth_rounds = 0;
	for (;;) {
		if (pl->cancel)
			return i2k_error_set(err, I2K_ERR_INTERRUPTED, "cancelled");
		if (ops && ops->prepare && ops->prepare(req, ops->ctx, err) < 0)
			return -1;
		_cleanup_free_ char *authz = with_auth ? current_auth(pl) : NULL;
		const char *fixed = req->authorization;
		if (with_auth)
			req->authorization = authz;
		struct i2k_error *e = NULL;
		int rc = i2k_http_do(h, req, resp, &e);
		req->authorization = fixed;
		if (rc < 0) {
			if (resp->retryable && attempt < pl->r->o.max_retries && !pl->cancel) {
				i2k_error_free(e);
				backoff(pl, attempt++, -1);
				continue;
			}
			i2k_error_propagate(err, &e);
			/* transport errors name the host only: add the image */
			if ((*err)->code == I2K_ERR_NETWORK) {
				if (ops && ops->what)
					i2k_error_wrap(err, "%s: %s", pl->name, ops->what);
				else
					i2k_error_wrap(err, "%s", pl->name);
				if (resp->resolve_failed)
					resolve_hint(pl, err);
			}
			return -1;
		}
		long st = resp->status;
		if (st == 401 && with_auth && auth_rounds < 2) {
			/* The first 401 may just mean "no token yet" or "token
			 * expired": authenticate afresh. A 401 right after that
			 * means the credentials (or token) are refused. */
			bool refused = authz != NULL && auth_rounds > 0;
			if (handle_challenge(pl, h, resp, refused, err) < 0)
				return -1;
			auth_rounds++;
			continue;
		}
		if ((st == 429 || st == 408 || st >= 500) && attempt < pl->r->o.max_retries) {
			backoff(pl, attempt++, resp->retry_after_s);
			continue;
		}
		if (st >= 200 && st < 300 && ops && ops->after_ok) {
			int a = ops->after_ok(resp, ops->ctx, err);
			if (a < 0)
				return -1;
			if (a > 0) {
				if (attempt >= pl->r->o.max_retries)
					return i2k_error_set(err, I2K_ERR_NETWORK,
							     "%s: transfer from %s stopped early",
							     pl->name, pl->host);
				backoff(pl, attempt++, -1);
				continue;
			}
		}
		return 0;
	}
}

/* One token request: OAuth2 POST (grant_type=refresh_token, for an identity
 * token) or GET with basic credentials (or anonymous). 0 with the response
 * in resp, -1 on a transport error. */
static int token_request(struct pull *pl, struct i2k_http *h, const struct i2k_challenge *ch,
			 bool oauth, struct i2k_http_resp *resp, struct i2k_error **err)
{
	_cleanup_free_ char *svc = query_escape(ch->service ? ch->service : "");
	_cleanup_free_ char *scope = query_escape(pl->scope);
	_cleanup_free_ char *url = NULL, *form = NULL, *basic = NULL;
	if (oauth) {
		_cleanup_free_ char *rt = query_escape(pl->pass);
		url = i2k_xstrdup(ch->realm);
		form = i2k_xasprintf("grant_type=refresh_token&refresh_token=%s&service=%s&"
				     "scope=%s&client_id=i2kit",
				     rt, svc, scope);
		explicit_bzero(rt, strlen(rt));
	} else {
		url = i2k_xasprintf("%s%cservice=%s&scope=%s", ch->realm,
				    strchr(ch->realm, '?') ? '&' : '?', svc, scope);
		/* an identity token on GET (the OAuth2 fallback): as the
		 * password of its user, "<token>" when none is known */
		if (pl->pass)
			basic = i2k_auth_basic_header(pl->user ? pl->user : "<token>", pl->pass);
	}
	/* The token server gets the basic credentials, never a registry token. */
	struct i2k_http_req req = {
	    .url = url, .max_body = I2K_AUTH_TOKEN_MAX, .authorization = basic, .form = form};
	struct attempt_ops ops = {.what = "fetching a token"};
	int rc = do_request(pl, h, &req, false, &ops, resp, err);
	if (form)
		explicit_bzero(form, strlen(form));
	if (basic)
		explicit_bzero(basic, strlen(basic));
	return rc;
}

static int fetch_token(struct pull *pl, struct i2k_http *h, const struct i2k_challenge *ch,
		       struct i2k_error **err)
{
	_cleanup_free_ char *scheme_host = i2k_http_url_authority(ch->realm);
	bool https = i2k_str_has_prefix(ch->realm, "https://");
	bool http = i2k_str_has_prefix(ch->realm, "http://");
	if (scheme_host == NULL || (!https && !http))
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: invalid token realm \"%.200s\"",
				     pl->name, ch->realm);
	if (http && !i2k_http_plain_allowed(&pl->r->policy, scheme_host))
		return i2k_error_set(err, I2K_ERR_NETWORK,
				     "%s: refusing to fetch a token over plain HTTP from %s",
				     pl->name, scheme_host);
	struct i2k_http_resp resp = {0};
	int rc = token_request(pl, h, ch, pl->idtoken, &resp, err);
	/* distribution's OAuth2 spec: a token server without OAuth2 answers
	 * the POST with 404; use GET then (405: likewise, as containerd does) */
	if (rc == 0 && pl->idtoken && (resp.status == 404 || resp.status == 405)) {
		i2k_http_resp_clear(&resp);
		rc = token_request(pl, h, ch, false, &resp, err);
	}
	if (rc < 0) {
		i2k_http_resp_clear(&resp);
		if ((*err)->code == I2K_ERR_NETWORK)
			return -1; /* do_request named the image and the step */
		return i2k_error_wrap(err, "%s: fetching a token", pl->name);
	}
	if (resp.status == 401 || resp.status == 403 || (pl->idtoken && resp.status == 400)) {
		/* (RFC 6749: a refused refresh token is 400 invalid_grant) */
		if (pl->pass) {
			_cleanup_free_ char *who = creds_phrase(pl);
			rc =
			    i2k_error_set(err, I2K_ERR_AUTH,
					  "%s: authentication required: token server %s refused %s",
					  pl->name, scheme_host, who);
		} else {
			_cleanup_free_ char *hint = no_creds_phrase(pl);
			rc = i2k_error_set(err, I2K_ERR_AUTH,
					   "%s: authentication required (token server %s refused "
					   "anonymous access; %s)",
					   pl->name, scheme_host, hint);
		}
		i2k_http_resp_clear(&resp);
		return rc;
	}
	if (resp.status != 200) {
		rc = i2k_error_set(err, I2K_ERR_REGISTRY, "%s: token server %s answered HTTP %ld",
				   pl->name, scheme_host, resp.status);
		i2k_http_resp_clear(&resp);
		return rc;
	}
	_cleanup_free_ char *token = NULL;
	long expires = 60;
	rc = i2k_auth_token_parse(resp.body.data ? resp.body.data : "", resp.body.len, &token,
				  &expires, err);
	if (resp.body.data)
		explicit_bzero(resp.body.data, resp.body.len);
	i2k_http_resp_clear(&resp);
	if (rc < 0)
		return i2k_error_wrap(err, "%s: %s", pl->name, scheme_host);
	store_token(pl, token, expires);
	explicit_bzero(token, strlen(token));
	return 0;
}

/* ---- manifests ------------------------------------------------------------------ */

struct fetched {
	char *data;
	size_t len;
	const char *media_type; /* static */
	enum i2k_manifest_kind kind;
	char digest[I2K_DIGEST_LEN + 1];
};

static void fetched_clear(struct fetched *f)
{
	free(f->data);
	memset(f, 0, sizeof(*f));
}

/* GETs manifests/REFERENCE, classifies it and computes its digest. When
 * want_digest is set, the bytes must have that digest. */
static int get_manifest(struct pull *pl, struct i2k_http *h, const char *reference,
			const char *want_digest, struct fetched *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_free_ char *url = i2k_xasprintf("%s/manifests/%s", pl->base, reference);
	struct i2k_http_req req = {
	    .url = url, .accept = I2K_MANIFEST_ACCEPT, .max_body = I2K_MANIFEST_MAX};
	struct i2k_http_resp resp = {0};
	if (do_request(pl, h, &req, true, NULL, &resp, err) < 0) {
		i2k_http_resp_clear(&resp);
		if ((*err)->code == I2K_ERR_INTEGRITY)
			return i2k_error_wrap(err, "%s: manifest", pl->name);
		return -1;
	}
	if (resp.status != 200) {
		int rc = status_error(pl, NULL, &resp, err);
		i2k_http_resp_clear(&resp);
		return rc;
	}
	out->len = resp.body.len;
	out->data = resp.body.data ? I2K_STEAL(resp.body.data) : i2k_xstrdup("");
	i2k_sha256_digest(out->data, out->len, out->digest);
	int rc = 0;
	if (want_digest && strcmp(out->digest, want_digest) != 0) {
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: manifest %s has digest %s",
				   pl->name, want_digest, out->digest);
	} else if (resp.docker_content_digest &&
		   i2k_str_has_prefix(resp.docker_content_digest, "sha256:") &&
		   strcmp(resp.docker_content_digest, out->digest) != 0) {
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
				   "%s: manifest has digest %s but the registry announced %.80s",
				   pl->name, out->digest, resp.docker_content_digest);
	} else {
		out->kind =
		    i2k_manifest_classify(resp.content_type, out->data, out->len, &out->media_type);
		if (out->kind == I2K_KIND_UNSUPPORTED)
			rc = i2k_error_set(err, I2K_ERR_UNSUPPORTED,
					   "%s: unsupported manifest type \"%.100s\"", pl->name,
					   resp.content_type ? resp.content_type : "");
	}
	i2k_http_resp_clear(&resp);
	if (rc < 0)
		fetched_clear(out);
	return rc;
}

/* ---- blobs ---------------------------------------------------------------------- */

struct blob_dl {
	struct pull *pl;
	const struct i2k_descriptor *d;
	struct i2k_blob_writer *w;
	uint64_t last_progress;
	bool resumed; /* bytes from an earlier attempt or run are in the partial */
};

static int blob_prepare(struct i2k_http_req *req, void *ctx, struct i2k_error **err)
{
	struct blob_dl *b = ctx;
	req->range_from = i2k_blob_writer_offset(b->w);
	req->expect_bytes = (uint64_t)b->d->size - req->range_from;
	return 0;
}

static int blob_headers(const struct i2k_http_resp *resp, void *ctx, struct i2k_error **err)
{
	struct blob_dl *b = ctx;
	uint64_t off = i2k_blob_writer_offset(b->w);
	/* A body longer than the descriptor is refused before a byte of it
	 * is written (blob_data also stops at the descriptor's size). */
	uint64_t want = (uint64_t)b->d->size - (resp->status == 206 ? off : 0);
	if (resp->content_length >= 0 && (uint64_t)resp->content_length > want)
		return i2k_error_set(
		    err, I2K_ERR_INTEGRITY,
		    "%s: blob %s: the registry announced %lld bytes, the manifest "
		    "says %lld",
		    b->pl->name, b->d->digest,
		    (long long)(resp->content_length + (resp->status == 206 ? (int64_t)off : 0)),
		    (long long)b->d->size);
	if (resp->status == 206) {
		b->resumed = true;
		unsigned long long start = 0;
		const char *cr = resp->content_range;
		bool ok = cr && i2k_str_has_prefix(cr, "bytes ");
		if (ok) {
			const char *p = cr + 6;
			if (*p < '0' || *p > '9')
				ok = false;
			for (; ok && *p >= '0' && *p <= '9' && start < (1ull << 60); p++)
				start = start * 10 + (unsigned)(*p - '0');
			ok = ok && *p == '-';
		}
		if (!ok || start != off)
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "%s: blob %s: partial response for the wrong range "
					     "(Content-Range: %.80s, wanted bytes %llu-)",
					     b->pl->name, b->d->digest, cr ? cr : "none",
					     (unsigned long long)off);
		return 0;
	}
	if (off > 0) /* the server ignored Range: start over */
		return i2k_blob_writer_truncate(b->w, 0, err);
	return 0;
}

static int blob_data(const void *data, size_t len, void *ctx, struct i2k_error **err)
{
	struct blob_dl *b = ctx;
	uint64_t off = i2k_blob_writer_offset(b->w);
	if (off + len > (uint64_t)b->d->size)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "%s: blob %s: the registry sent more than the %lld bytes in "
				     "the manifest",
				     b->pl->name, b->d->digest, (long long)b->d->size);
	if (i2k_blob_writer_write(b->w, data, len, err) < 0)
		return -1;
	off += len;
	if (off - b->last_progress >= PROGRESS_STEP || off == (uint64_t)b->d->size) {
		b->last_progress = off;
		progress(b->pl, I2K_PROGRESS_DATA, b->d->digest, off, (uint64_t)b->d->size);
	}
	return 0;
}

static int blob_poll(void *ctx, struct i2k_error **err)
{
	struct blob_dl *b = ctx;
	if (b->pl->cancel)
		return i2k_error_set(err, I2K_ERR_INTERRUPTED, "cancelled");
	return 0;
}

static int blob_after_ok(const struct i2k_http_resp *resp, void *ctx, struct i2k_error **err)
{
	struct blob_dl *b = ctx;
	return i2k_blob_writer_offset(b->w) < (uint64_t)b->d->size ? 1 : 0;
}

/* One pass over blob d: begin (resuming a partial), request until the body
 * is complete, commit. *resumed tells whether unverified earlier bytes were
 * used (so a digest mismatch may be their fault). */
static int download_pass(struct pull *pl, struct i2k_http *h, const struct i2k_descriptor *d,
			 bool *resumed, struct i2k_error **err)
{
	struct blob_dl b = {.pl = pl, .d = d};
	uint64_t resume = 0;
	if (i2k_store_blob_begin(pl->s, d->digest, d->size, &b.w, &resume, err) < 0)
		return i2k_error_wrap(err, "%s", pl->name);
	b.resumed = resume > 0;
	b.last_progress = resume;
	progress(pl, I2K_PROGRESS_START, d->digest, resume, (uint64_t)d->size);
	_cleanup_free_ char *url = i2k_xasprintf("%s/blobs/%s", pl->base, d->digest);
	_cleanup_free_ char *what = i2k_xasprintf("blob %s", d->digest);
	struct i2k_http_req req = {.url = url,
				   .on_headers = blob_headers,
				   .on_data = blob_data,
				   .on_poll = blob_poll,
				   .ctx = &b};
	struct attempt_ops ops = {
	    .prepare = blob_prepare, .after_ok = blob_after_ok, .ctx = &b, .what = what};
	struct i2k_http_resp resp = {0};
	for (int restarts = 0;; restarts++) {
		if (i2k_blob_writer_offset(b.w) == (uint64_t)d->size && d->size > 0)
			break; /* a complete partial: just verify */
		if (do_request(pl, h, &req, true, &ops, &resp, err) < 0) {
			bool keep =
			    (*err)->code == I2K_ERR_NETWORK || (*err)->code == I2K_ERR_INTERRUPTED;
			i2k_blob_writer_abort(b.w, keep);
			i2k_http_resp_clear(&resp);
			return -1;
		}
		if (resp.status >= 200 && resp.status < 300)
			break;
		if (resp.status == 416 && restarts < 2) {
			/* our partial is bogus for this server: start over */
			b.resumed = false;
			if (i2k_blob_writer_truncate(b.w, 0, err) < 0) {
				i2k_blob_writer_abort(b.w, false);
				i2k_http_resp_clear(&resp);
				return -1;
			}
			continue;
		}
		status_error(pl, what, &resp, err);
		i2k_blob_writer_abort(b.w, true);
		i2k_http_resp_clear(&resp);
		return -1;
	}
	i2k_http_resp_clear(&resp);
	*resumed = b.resumed;
	if (i2k_blob_writer_commit(b.w, err) < 0)
		return i2k_error_wrap(err, "%s", pl->name);
	return 0;
}

static int download_blob(struct pull *pl, struct i2k_http *h, const struct i2k_descriptor *d,
			 struct i2k_error **err)
{
	if (!i2k_digest_valid(d->digest))
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: invalid blob digest", pl->name);
	if (d->size < 0 || (uint64_t)d->size > pl->job_max)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "%s: %s %s: %lld bytes exceeds the limit of %llu bytes",
				     pl->name, pl->job_role, d->digest, (long long)d->size,
				     (unsigned long long)pl->job_max);
	if (i2k_store_has_blob(pl->s, d->digest)) {
		progress(pl, I2K_PROGRESS_CACHED, d->digest, (uint64_t)d->size, (uint64_t)d->size);
		return 0;
	}
	for (int pass = 0;; pass++) {
		bool resumed = false;
		if (download_pass(pl, h, d, &resumed, err) == 0)
			break;
		/* The commit deleted the partial: once, fetch it all again. */
		if (pass > 0 || !resumed || (*err)->code != I2K_ERR_INTEGRITY)
			return -1;
		i2k_error_free(*err);
		*err = NULL;
	}
	progress(pl, I2K_PROGRESS_DONE, d->digest, (uint64_t)d->size, (uint64_t)d->size);
	return 0;
}

static void fail_pull(struct pull *pl, struct i2k_error *e)
{
	pthread_mutex_lock(&pl->mu);
	/* keep the first real error, not a "cancelled" caused by it */
	if (pl->err == NULL ||
	    (pl->err->code == I2K_ERR_INTERRUPTED && e && e->code != I2K_ERR_INTERRUPTED)) {
		struct i2k_error *old = pl->err;
		pl->err = e;
		e = old;
	}
	pl->cancel = 1;
	pthread_mutex_unlock(&pl->mu);
	i2k_error_free(e);
}

static void *blob_worker(void *arg)
{
	struct pull *pl = arg;
	struct i2k_http *h = NULL;
	struct i2k_error *e = NULL;
	if (i2k_http_new(&pl->r->policy, &h, &e) < 0) {
		fail_pull(pl, e);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&pl->mu);
		const struct i2k_descriptor *d = NULL;
		if (!pl->cancel && pl->next_job < pl->n_jobs)
			d = &pl->jobs[pl->next_job++];
		pthread_mutex_unlock(&pl->mu);
		if (d == NULL)
			break;
		if (download_blob(pl, h, d, &e) < 0) {
			fail_pull(pl, e);
			e = NULL;
			break;
		}
	}
	i2k_http_free(h);
	return NULL;
}

static int download_all(struct pull *pl, struct i2k_error **err)
{
	size_t nthreads = (size_t)pl->r->o.parallel;
	if (nthreads > pl->n_jobs)
		nthreads = pl->n_jobs;
	if (nthreads <= 1) {
		blob_worker(pl);
	} else {
		pthread_t *t = i2k_xcalloc(nthreads, sizeof(*t));
		size_t started = 0;
		for (; started < nthreads; started++)
			if (pthread_create(&t[started], NULL, blob_worker, pl) != 0)
				break;
		if (started == 0)
			blob_worker(pl);
		for (size_t i = 0; i < started; i++)
			pthread_join(t[i], NULL);
		free(t);
	}
	if (pl->err) {
		i2k_error_propagate(err, &pl->err);
		return -1;
	}
	return 0;
}

/* ---- orchestration -------------------------------------------------------------- */

static void pull_clear(struct pull *pl)
{
	free(pl->name);
	free(pl->host);
	free(pl->base);
	free(pl->scope);
	drop_creds(pl);
	free(pl->jobs);
	i2k_error_free(pl->err);
	pthread_mutex_destroy(&pl->mu);
}

/* Forgets the endpoint-specific state of pl before trying another one. */
static void pull_reset_endpoint(struct pull *pl)
{
	free(pl->host);
	free(pl->base);
	pl->host = pl->base = NULL;
	pl->mirror_url = NULL;
	drop_creds(pl);
	free(pl->jobs);
	pl->jobs = NULL;
	pl->n_jobs = pl->next_job = 0;
	pl->cancel = 0;
	i2k_error_free(pl->err);
	pl->err = NULL;
}

/* The first mirror of ref's registry at index >= *from (advanced past it),
 * or NULL. */
static const struct i2k_mirror *next_mirror(struct i2k_registry *r, const struct i2k_ref *ref,
					    size_t *from)
{
	for (; *from < r->mirrors.n; (*from)++)
		if (strcmp(r->mirrors.v[*from].registry, ref->registry) == 0)
			return &r->mirrors.v[(*from)++];
	return NULL;
}

/* A mirror that fails this way is passed over; bad data is not. */
static bool mirror_may_fall_back(const struct i2k_error *e)
{
	switch (e->code) {
	case I2K_ERR_NETWORK:
	case I2K_ERR_NOTFOUND:
	case I2K_ERR_AUTH:
	case I2K_ERR_REGISTRY:
	case I2K_ERR_UNSUPPORTED:
		return true;
	default:
		return false;
	}
}

static int check_config(struct pull *pl, const struct i2k_descriptor *cfg,
			const struct i2k_platform *p, struct i2k_error **err)
{
	_cleanup_free_ char *data = NULL, *os = NULL, *arch = NULL, *variant = NULL;
	size_t len = 0;
	if (i2k_store_read_blob(pl->s, cfg->digest, I2K_CONFIG_MAX, &data, &len, err) < 0)
		return i2k_error_wrap(err, "%s: config", pl->name);
	if (i2k_config_platform(data, len, &os, &arch, &variant, err) < 0)
		return i2k_error_wrap(err, "%s", pl->name);
	if (!i2k_platform_matches(p, os, arch, variant)) {
		_cleanup_free_ char *want = i2k_platform_string(p);
		struct i2k_platform have = {.os = os, .arch = arch, .variant = variant};
		_cleanup_free_ char *got = i2k_platform_string(&have);
		return i2k_error_set(err, I2K_ERR_NOTFOUND, "%s: image is for %s, not %s", pl->name,
				     got, want);
	}
	return 0;
}

static int pull_image(struct pull *pl, struct i2k_http *h, const struct i2k_platform *p,
		      struct i2k_descriptor *out, struct i2k_error **err)
{
	const struct i2k_ref *ref = pl->ref;
	struct fetched top = {0}, plat = {0};
	struct i2k_manifest m = {0};
	int rc = -1;

	if (get_manifest(pl, h, ref->digest ? ref->digest : ref->tag, ref->digest, &top, err) < 0)
		goto out;
	struct fetched *mf = &top;
	if (top.kind == I2K_KIND_INDEX) {
		struct i2k_manifest_index ix;
		if (i2k_manifest_index_parse(top.data, top.len, &ix, err) < 0) {
			i2k_error_wrap(err, "%s", pl->name);
			goto out;
		}
		const struct i2k_platform_entry *e = i2k_manifest_index_select(&ix, p);
		if (e == NULL) {
			_cleanup_free_ char *want = i2k_platform_string(p);
			i2k_error_set(err, I2K_ERR_NOTFOUND, "%s: no image for platform %s",
				      pl->name, want);
			i2k_manifest_index_clear(&ix);
			goto out;
		}
		char digest[I2K_DIGEST_LEN + 1];
		int64_t size = e->desc.size;
		memcpy(digest, e->desc.digest, sizeof(digest));
		i2k_manifest_index_clear(&ix);
		if (get_manifest(pl, h, digest, digest, &plat, err) < 0)
			goto out;
		if ((int64_t)plat.len != size) {
			i2k_error_set(err, I2K_ERR_INTEGRITY,
				      "%s: manifest %s has %zu bytes, the index says %lld",
				      pl->name, digest, plat.len, (long long)size);
			goto out;
		}
		if (plat.kind != I2K_KIND_MANIFEST) {
			i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				      "%s: the index entry for %s is not an image manifest",
				      pl->name, digest);
			goto out;
		}
		mf = &plat;
	}
	if (i2k_manifest_parse(mf->data, mf->len, &m, err) < 0) {
		i2k_error_wrap(err, "%s", pl->name);
		goto out;
	}

	/* The config alone first: a wrong platform fails before any layer is
	 * downloaded. Then the layers in parallel (duplicates once). */
	pl->jobs = i2k_xcalloc(m.n_layers + 1, sizeof(*pl->jobs));
	pl->jobs[pl->n_jobs++] = m.config;
	pl->job_role = "config";
	pl->job_max = I2K_CONFIG_MAX;
	if (download_all(pl, err) < 0 || check_config(pl, &m.config, p, err) < 0)
		goto out;
	pl->n_jobs = pl->next_job = 0;
	pl->job_role = "layer";
	pl->job_max = pl->r->o.max_layer_size;
	for (size_t i = 0; i < m.n_layers; i++) {
		bool dup = false;
		for (size_t j = 0; j < pl->n_jobs && !dup; j++)
			dup = strcmp(pl->jobs[j].digest, m.layers[i].digest) == 0;
		if (!dup)
			pl->jobs[pl->n_jobs++] = m.layers[i];
	}
	if (download_all(pl, err) < 0)
		goto out;
	/* The cache is an OCI layout: a Docker schema 2 manifest is stored in
	 * its OCI form (as `skopeo copy` does), which skopeo and umoci read. */
	if (strcmp(mf->media_type, I2K_MT_DOCKER_MANIFEST) == 0) {
		char *conv = NULL;
		size_t clen = 0;
		if (i2k_manifest_docker_to_oci(mf->data, mf->len, &conv, &clen, err) < 0) {
			i2k_error_wrap(err, "%s", pl->name);
			goto out;
		}
		free(mf->data);
		mf->data = conv;
		mf->len = clen;
		mf->media_type = I2K_MT_OCI_MANIFEST;
		i2k_sha256_digest(mf->data, mf->len, mf->digest);
	}
	if (i2k_store_put_blob(pl->s, mf->digest, mf->data, mf->len, err) < 0) {
		i2k_error_wrap(err, "%s: manifest", pl->name);
		goto out;
	}
	struct i2k_descriptor desc = {.media_type = (char *)mf->media_type,
				      .size = (int64_t)mf->len};
	memcpy(desc.digest, mf->digest, sizeof(desc.digest));
	if (i2k_store_ref_set(pl->s, pl->name, &desc, err) < 0)
		goto out; /* "ref NAME: ..." names the image already */
	if (out) {
		*out = desc;
		out->media_type = i2k_xstrdup(mf->media_type);
	}
	rc = 0;
out:
	i2k_manifest_clear(&m);
	fetched_clear(&top);
	fetched_clear(&plat);
	return rc;
}

int i2k_registry_pull(struct i2k_registry *r, struct i2k_store *s, const struct i2k_ref *ref,
		      const struct i2k_platform *p, struct i2k_descriptor *out,
		      struct i2k_error **err)
{
	static const struct i2k_platform def = {.os = "linux", .arch = "amd64"};
	if (p == NULL || p->os == NULL || p->arch == NULL)
		p = &def;
	if (out)
		memset(out, 0, sizeof(*out));
	struct pull pl = {.r = r, .s = s, .ref = ref};
	pthread_mutex_init(&pl.mu, NULL);
	pl.name = i2k_ref_string(ref);
	pl.scope = i2k_xasprintf("repository:%s:pull", ref->repository);
	struct i2k_http *h = NULL;
	struct i2k_error *e = NULL; /* internal code inspects the error: never NULL */
	int rc = i2k_http_new(&r->policy, &h, &e);
	bool started = false;
	size_t from = 0;
	while (rc == 0) {
		/* this registry's mirrors in order, then the registry */
		const struct i2k_mirror *mi = next_mirror(r, ref, &from);
		pull_reset_endpoint(&pl);
		if (mi) {
			pl.mirror_url = mi->url;
			pl.host = i2k_http_url_authority(mi->url);
			pl.base = i2k_xasprintf("%s/v2/%s", mi->url, ref->repository);
		} else {
			pl.host = i2k_xstrdup(i2k_ref_api_host(ref));
			rc = resolve_base(&pl, h, &e);
		}
		if (rc == 0) {
			if (!started)
				progress(&pl, I2K_PROGRESS_START, NULL, 0, 0);
			started = true;
			rc = pull_image(&pl, h, p, out, &e);
		}
		if (rc == 0) {
			progress(&pl, I2K_PROGRESS_DONE, NULL, 0, 0);
			break;
		}
		if (mi == NULL || e == NULL)
			break;
		if (!mirror_may_fall_back(e)) {
			if (e->code == I2K_ERR_INTEGRITY)
				add_hint(&e, "served by mirror %s", mi->url);
			break;
		}
		const struct i2k_mirror *more = next_mirror(r, ref, &(size_t){from});
		i2k_warn("mirror %s failed: %s; trying %s", mi->url, e->msg,
			 more ? more->url : ref->registry);
		i2k_error_free(e);
		e = NULL;
		rc = 0;
	}
	i2k_http_free(h);
	pull_clear(&pl);
	if (rc < 0) {
		if (e == NULL)
			i2k_error_set(&e, I2K_ERR_INTERNAL, "pull failed without an error");
		i2k_error_propagate(err, &e);
		i2k_error_free(e);
		return -1;
	}
	return 0;
}

/* ---- sessions: one repository, for signatures and pushes (session.h) ------------ */

struct i2k_registry_session {
	struct pull pl;
	struct i2k_http *h;
};

void i2k_registry_session_free(struct i2k_registry_session *s)
{
	if (s == NULL)
		return;
	i2k_http_free(s->h);
	pull_clear(&s->pl);
	free(s);
}

void i2k_registry_session_freep(struct i2k_registry_session **s)
{
	i2k_registry_session_free(*s);
	*s = NULL;
}

int i2k_registry_session_open(struct i2k_registry *r, const struct i2k_ref *ref, bool push,
			      struct i2k_registry_session **out, struct i2k_error **err)
{
	struct i2k_registry_session *s = i2k_xcalloc(1, sizeof(*s));
	struct pull *pl = &s->pl;
	*pl = (struct pull){.r = r, .ref = ref};
	pthread_mutex_init(&pl->mu, NULL);
	pl->name = i2k_ref_string(ref);
	pl->host = i2k_xstrdup(i2k_ref_api_host(ref));
	pl->scope = i2k_xasprintf("repository:%s:%s", ref->repository, push ? "pull,push" : "pull");
	struct i2k_error *e = NULL; /* credentials load at the first challenge */
	int rc = i2k_http_new(&r->policy, &s->h, &e);
	if (rc == 0)
		rc = resolve_base(pl, s->h, &e);
	if (rc < 0) {
		if (e == NULL)
			i2k_error_set(&e, I2K_ERR_INTERNAL, "session failed without an error");
		i2k_error_propagate(err, &e);
		i2k_registry_session_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

const char *i2k_registry_session_base(const struct i2k_registry_session *s)
{
	return s->pl.base;
}

const char *i2k_registry_session_name(const struct i2k_registry_session *s)
{
	return s->pl.name;
}

int i2k_registry_session_do(struct i2k_registry_session *s, struct i2k_http_req *req,
			    const char *what, struct i2k_http_resp *resp, struct i2k_error **err)
{
	struct attempt_ops ops = {.what = what};
	return do_request(&s->pl, s->h, req, true, &ops, resp, err);
}

int i2k_registry_session_status_error(struct i2k_registry_session *s, const char *what,
				      const struct i2k_http_resp *resp, struct i2k_error **err)
{
	return status_error(&s->pl, what, resp, err);
}

int i2k_registry_session_get_manifest(struct i2k_registry_session *s, const char *reference,
				      const char *want_digest, char **data, size_t *len,
				      char digest[I2K_DIGEST_LEN + 1], struct i2k_error **err)
{
	struct fetched f = {0};
	if (get_manifest(&s->pl, s->h, reference, want_digest, &f, err) < 0)
		return -1;
	*data = I2K_STEAL(f.data);
	*len = f.len;
	memcpy(digest, f.digest, sizeof(f.digest));
	fetched_clear(&f);
	return 0;
}

int i2k_registry_session_get_blob(struct i2k_registry_session *s, struct i2k_store *st,
				  const struct i2k_descriptor *d, uint64_t max,
				  struct i2k_error **err)
{
	s->pl.s = st;
	s->pl.job_role = "blob";
	s->pl.job_max = max;
	return download_blob(&s->pl, s->h, d, err);
}
