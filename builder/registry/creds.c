/* creds.c — see creds.h. */
#include "builder/registry/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/auth.h"

extern char **environ;

#define DOCKER_HUB_SERVER "https://index.docker.io/v1/"
#define HELPER_PREFIX "docker-credential-"

/* Wipes a secret before freeing it. */
static void free_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

void i2k_creds_clear(struct i2k_creds *c)
{
	if (c == NULL)
		return;
	free(c->user);
	free_secret(c->secret);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

char *i2k_creds_server_url(const char *registry)
{
	if (strcmp(registry, "docker.io") == 0)
		return i2k_xstrdup(DOCKER_HUB_SERVER);
	return i2k_xstrdup(registry);
}

/* ---- config.json ---------------------------------------------------------- */

/* Reduces a registry key to its host part: strips "scheme://" and any path. */
static char *key_host(const char *key)
{
	const char *p = strstr(key, "://");
	p = p ? p + 3 : key;
	size_t n = strcspn(p, "/");
	return i2k_xstrndup(p, n);
}

static bool key_matches(const char *key, const char *registry)
{
	_cleanup_free_ char *h = key_host(key);
	if (strcmp(h, registry) == 0)
		return true;
	if (strcmp(registry, "docker.io") == 0)
		return strcmp(h, "index.docker.io") == 0 || strcmp(h, "registry-1.docker.io") == 0;
	return false;
}

/* The value of `obj` for registry: the exact key first, then an equivalent
 * form; NULL when none. want_object: the value must be an object, else a
 * string. */
static json_t *registry_entry(json_t *obj, const char *registry, bool want_object)
{
	json_t *v = json_object_get(obj, registry);
	if (want_object ? json_is_object(v) : json_is_string(v))
		return v;
	const char *k;
	json_object_foreach(obj, k, v)
	{
		if ((want_object ? json_is_object(v) : json_is_string(v)) &&
		    key_matches(k, registry))
			return v;
	}
	return NULL;
}

static bool helper_name_ok(const char *n)
{
	if (*n == '\0' || *n == '-' || *n == '.' || strlen(n) > 64)
		return false;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '.' || *n == '_' || *n == '-'))
			return false;
	return true;
}

/* Fills out from an `auths` entry. 1 found, 0 no credentials, -1 error. */
static int parse_entry(json_t *entry, const char *path, const char *registry, struct i2k_creds *out,
		       struct i2k_error **err)
{
	json_t *a = json_object_get(entry, "auth");
	if (json_is_string(a) && json_string_length(a) > 0) {
		char *dec = NULL;
		size_t dlen = 0;
		if (i2k_base64_decode(json_string_value(a), json_string_length(a), &dec, &dlen) < 0)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "%s: auths.\"%s\".auth is not valid base64", path,
					     registry);
		char *colon = memchr(dec, ':', dlen);
		if (colon == NULL || memchr(dec, '\0', dlen) != NULL) {
			explicit_bzero(dec, dlen);
			free(dec);
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "%s: auths.\"%s\".auth does not decode to "
					     "user:password",
					     path, registry);
		}
		*colon = '\0';
		out->user = i2k_xstrdup(dec);
		out->secret = i2k_xstrdup(colon + 1);
		explicit_bzero(dec, dlen);
		free(dec);
	} else {
		json_t *u = json_object_get(entry, "username"),
		       *pw = json_object_get(entry, "password");
		if (json_is_string(u) && json_is_string(pw)) {
			out->user = i2k_xstrdup(json_string_value(u));
			out->secret = i2k_xstrdup(json_string_value(pw));
		}
	}
	/* Docker: an identity token replaces the password (the user name stays
	 * for the messages and a GET fallback). */
	json_t *it = json_object_get(entry, "identitytoken");
	if (json_is_string(it) && json_string_length(it) > 0) {
		free_secret(out->secret);
		out->secret = i2k_xstrdup(json_string_value(it));
		out->identity_token = true;
	}
	if (out->secret == NULL) {
		free(out->user);
		out->user = NULL;
		return 0;
	}
	out->source = i2k_xstrdup(path);
	return 1;
}

int i2k_creds_parse(const char *json, size_t len, const char *path, const char *registry,
		    struct i2k_creds *out, char **helper, const char **key_kind,
		    struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	*helper = NULL;
	*key_kind = NULL;
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	if (root == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s:%d: invalid JSON: %s", path,
				     jerr.line, jerr.text);
	int ret = I2K_CREDS_NONE;
	if (!json_is_object(root)) {
		ret = i2k_error_set(err, I2K_ERR_CONFIG, "%s: not a JSON object", path);
		goto out;
	}
	json_t *ch = json_object_get(root, "credHelpers");
	if (ch && !json_is_object(ch)) {
		ret = i2k_error_set(err, I2K_ERR_CONFIG, "%s: \"credHelpers\" is not an object",
				    path);
		goto out;
	}
	json_t *name = ch ? registry_entry(ch, registry, false) : NULL;
	*key_kind = "credHelpers";
	if (name == NULL) {
		name = json_object_get(root, "credsStore");
		*key_kind = "credsStore";
		if (name && !json_is_string(name)) {
			ret = i2k_error_set(err, I2K_ERR_CONFIG,
					    "%s: \"credsStore\" is not a string", path);
			goto out;
		}
		if (name && json_string_length(name) == 0)
			name = NULL; /* Docker: "" means no store */
	}
	if (name) {
		const char *n = json_string_value(name);
		if (!helper_name_ok(n)) {
			ret = i2k_error_set(err, I2K_ERR_CONFIG,
					    "%s: %s: invalid credential helper name \"%.64s\"",
					    path, *key_kind, n);
			goto out;
		}
		*helper = i2k_xstrdup(n);
		ret = I2K_CREDS_HELPER;
		goto out;
	}
	*key_kind = NULL;
	json_t *auths = json_object_get(root, "auths");
	if (auths == NULL)
		goto out;
	if (!json_is_object(auths)) {
		ret = i2k_error_set(err, I2K_ERR_CONFIG, "%s: \"auths\" is not an object", path);
		goto out;
	}
	json_t *entry = registry_entry(auths, registry, true);
	if (entry) {
		int r = parse_entry(entry, path, registry, out, err);
		ret = r < 0 ? -1 : r > 0 ? I2K_CREDS_FOUND : I2K_CREDS_NONE;
	}
out:
	json_decref(root);
	if (ret < 0)
		i2k_creds_clear(out);
	return ret;
}

int i2k_creds_lookup(const char *dir, const char *registry, struct i2k_creds *out,
		     struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_free_ char *path = NULL;
	if (dir == NULL)
		dir = getenv("DOCKER_CONFIG");
	if (dir && *dir) {
		path = i2k_xasprintf("%s/config.json", dir);
	} else {
		const char *home = getenv("HOME");
		if (home == NULL || *home == '\0')
			return 0;
		path = i2k_xasprintf("%s/.docker/config.json", home);
	}
	_cleanup_free_ char *data = NULL, *helper = NULL;
	size_t len = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, I2K_CREDS_CONFIG_MAX, &data, &len, &e) < 0) {
		if (e->errnum == ENOENT || e->errnum == ENOTDIR) {
			i2k_error_free(e);
			return 0;
		}
		i2k_error_propagate(err, &e);
		return -1;
	}
	const char *kind = NULL;
	int how = i2k_creds_parse(data, len, path, registry, out, &helper, &kind, err);
	explicit_bzero(data, len);
	if (how < 0)
		return -1;
	if (how != I2K_CREDS_HELPER)
		return how == I2K_CREDS_FOUND ? 1 : 0;
	_cleanup_free_ char *url = i2k_creds_server_url(registry);
	int r = i2k_creds_helper_get(helper, url, out, err);
	if (r < 0)
		return i2k_error_wrap(err, "credential helper (%s in %s)", kind, path);
	return r;
}

/* ---- helpers ------------------------------------------------------------------ */

int i2k_creds_helper_parse(const char *name, const char *json, size_t len, struct i2k_creds *out,
			   struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	const char *why = NULL;
	json_t *u = NULL, *s = NULL;
	if (root == NULL || !json_is_object(root)) {
		why = "not a JSON object";
	} else {
		u = json_object_get(root, "Username");
		s = json_object_get(root, "Secret");
		if (!json_is_string(s) || json_string_length(s) == 0)
			why = "no \"Secret\"";
		else if (u && !json_is_string(u))
			why = "\"Username\" is not a string";
	}
	if (why) {
		json_decref(root);
		return i2k_error_set(err, I2K_ERR_AUTH, "%s%s: invalid output: %s", HELPER_PREFIX,
				     name, why);
	}
	const char *uv = u ? json_string_value(u) : "";
	out->secret = i2k_xstrdup(json_string_value(s));
	if (strcmp(uv, "<token>") == 0)
		out->identity_token = true;
	else if (*uv)
		out->user = i2k_xstrdup(uv);
	else {
		/* a secret with no user name cannot be sent anywhere */
		i2k_creds_clear(out);
		json_decref(root);
		return i2k_error_set(err, I2K_ERR_AUTH,
				     "%s%s: invalid output: no \"Username\" for the secret",
				     HELPER_PREFIX, name);
	}
	out->source = i2k_xasprintf("%s%s", HELPER_PREFIX, name);
	json_decref(root);
	return 0;
}

/* The first line of a helper's message, printable and at most 200 bytes. */
static char *first_line(const struct i2k_buf *b)
{
	if (b->data == NULL)
		return i2k_xstrdup("");
	size_t n = 0;
	while (n < b->len && n < 200 && b->data[n] != '\n')
		n++;
	char *s = i2k_xstrndup(b->data, n);
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

/* $I2KIT_CREDENTIAL_HELPER_TIMEOUT (seconds, 1..3600), else the default. */
static long helper_timeout(void)
{
	const char *e = getenv("I2KIT_CREDENTIAL_HELPER_TIMEOUT");
	long v = 0;
	for (; e && *e >= '0' && *e <= '9' && v <= 3600; e++)
		v = v * 10 + (*e - '0');
	return e && *e == '\0' && v >= 1 && v <= 3600 ? v : I2K_CREDS_HELPER_TIMEOUT_S;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Collects fd out and fd errfd until both close or the deadline passes
 * (-1 then, *timed_out; -1 also on SIGINT). */
static int collect(int out, int errfd, long timeout_s, struct i2k_buf *ob, struct i2k_buf *eb,
		   bool *timed_out)
{
	double deadline = now_s() + (double)timeout_s;
	int fds[2] = {out, errfd};
	struct i2k_buf *bufs[2] = {ob, eb};
	while (fds[0] >= 0 || fds[1] >= 0) {
		double left = deadline - now_s();
		if (left <= 0 || i2k_interrupted) {
			*timed_out = left <= 0;
			break;
		}
		struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN},
				      {.fd = fds[1], .events = POLLIN}};
		int r = poll(p, 2, left > 0.2 ? 200 : (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			break;
		for (int i = 0; r > 0 && i < 2; i++) {
			if (fds[i] < 0 || p[i].revents == 0)
				continue;
			char buf[4096];
			ssize_t n = read(fds[i], buf, sizeof(buf));
			if (n > 0) {
				if (bufs[i]->len + (size_t)n <= I2K_CREDS_HELPER_OUT_MAX)
					i2k_buf_append(bufs[i], buf, (size_t)n, NULL);
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			close(fds[i]);
			fds[i] = -1;
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return *timed_out || i2k_interrupted ? -1 : 0;
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

int i2k_creds_helper_get(const char *name, const char *server_url, struct i2k_creds *out,
			 struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	if (!helper_name_ok(name))
		return i2k_error_set(err, I2K_ERR_AUTH, "invalid credential helper name \"%.64s\"",
				     name);
	_cleanup_free_ char *prog = i2k_xasprintf("%s%s", HELPER_PREFIX, name);
	/* The server URL is written into the pipe before the helper starts
	 * (it is far below the pipe's capacity): no SIGPIPE if it never reads. */
	_cleanup_free_ char *input = i2k_xasprintf("%s\n", server_url);
	if (strlen(input) > 4096)
		return i2k_error_set(err, I2K_ERR_AUTH, "%s: server URL too long", prog);
	int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		int e = errno;
		close_pair(pin);
		close_pair(pout);
		close_pair(perr);
		return i2k_error_errno(err, e, I2K_ERR_IO, "%s: pipe", prog);
	}
	struct i2k_error *we = NULL;
	if (i2k_write_all(pin[1], input, strlen(input), &we) < 0) {
		close_pair(pin);
		close_pair(pout);
		close_pair(perr);
		i2k_error_propagate(err, &we);
		return i2k_error_wrap(err, "%s", prog);
	}
	close(pin[1]);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	char *argv[] = {prog, (char *)"get", NULL};
	pid_t pid = -1;
	/* in our process group, as Docker runs it: a helper may ask for a
	 * passphrase on the terminal */
	int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (rc != 0) {
		close(pout[0]);
		close(perr[0]);
		if (rc == ENOENT)
			return i2k_error_set(err, I2K_ERR_AUTH,
					     "%s is not installed (not found in $PATH)", prog);
		return i2k_error_errno(err, rc, I2K_ERR_AUTH, "cannot run %s", prog);
	}
	struct i2k_buf ob = {0}, eb = {0};
	bool timed_out = false;
	long timeout_s = helper_timeout();
	int xr = collect(pout[0], perr[0], timeout_s, &ob, &eb, &timed_out);
	if (xr < 0)
		kill(pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	int ret = -1;
	if (xr < 0) {
		if (timed_out)
			i2k_error_set(err, I2K_ERR_AUTH,
				      "%s get did not finish within %ld s "
				      "($I2KIT_CREDENTIAL_HELPER_TIMEOUT)",
				      prog, timeout_s);
		else
			i2k_error_set(err, I2K_ERR_INTERRUPTED, "%s: interrupted", prog);
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		ret = i2k_creds_helper_parse(name, ob.data ? ob.data : "", ob.len, out, err) < 0
			  ? -1
			  : 1;
	} else {
		/* docker-credential-helpers print "credentials not found in
		 * native keychain" on stdout and exit 1 */
		_cleanup_free_ char *o1 = first_line(&ob), *e1 = first_line(&eb);
		if (strstr(o1, "credentials not found") || strstr(e1, "credentials not found"))
			ret = 0;
		else if (WIFEXITED(st))
			i2k_error_set(err, I2K_ERR_AUTH, "%s get failed (exit status %d)%s%s", prog,
				      WEXITSTATUS(st), *e1 || *o1 ? ": " : "", *e1 ? e1 : o1);
		else
			i2k_error_set(err, I2K_ERR_AUTH, "%s get was killed by signal %d", prog,
				      WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	}
	if (ob.data)
		explicit_bzero(ob.data, ob.len);
	i2k_buf_free(&ob);
	i2k_buf_free(&eb);
	return ret;
}
