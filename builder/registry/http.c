/* http.c — see http.h. */
#include "builder/registry/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "builder/base/cleanup.h"

#define CA_BUNDLE_MAX (16u << 20)
#define MAX_REDIRECTS 10

struct i2k_http {
	CURL *easy;
	struct i2k_http_policy policy;
	char *ca_data; /* system bundle + extra CA, or NULL */
	size_t ca_len;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void i2k_http_global_init(void)
{
	pthread_once(&global_once, global_init_once);
}

/* ---- policy ----------------------------------------------------------------- */

/* Splits "host[:port]" / "[v6]:port" into host length. */
static size_t host_len(const char *hp)
{
	if (hp[0] == '[') {
		const char *e = strchr(hp, ']');
		return e ? (size_t)(e - hp + 1) : strlen(hp);
	}
	const char *c = strchr(hp, ':');
	return c ? (size_t)(c - hp) : strlen(hp);
}

bool i2k_http_plain_allowed(const struct i2k_http_policy *p, const char *hostport)
{
	size_t hl = host_len(hostport);
	static const char *const local[] = {"localhost", "127.0.0.1", "[::1]"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(local); i++)
		if (strlen(local[i]) == hl && strncasecmp(hostport, local[i], hl) == 0)
			return true;
	for (size_t i = 0; p && i < p->n_insecure_hosts; i++) {
		const char *h = p->insecure_hosts[i];
		if (h == NULL)
			continue;
		if (strcasecmp(h, hostport) == 0)
			return true;
		/* "host" without a port allows every port of that host */
		if (host_len(h) == strlen(h) && strlen(h) == hl &&
		    strncasecmp(h, hostport, hl) == 0)
			return true;
	}
	return false;
}

char *i2k_http_base_url(const struct i2k_http_policy *p, const char *hostport)
{
	return i2k_xasprintf("%s://%s", i2k_http_plain_allowed(p, hostport) ? "http" : "https",
			     hostport);
}

char *i2k_http_url_authority(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *res = NULL;
	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && port)
			res = i2k_xasprintf("%s:%s", host, port);
		else
			res = i2k_xstrdup(host);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return res;
}

/* "http" / "https" of an absolute URL, NULL if unparsable. */
static char *url_scheme(const char *url)
{
	CURLU *u = curl_url();
	char *s = NULL, *res = NULL;
	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK)
		res = i2k_xstrdup(s);
	curl_free(s);
	curl_url_cleanup(u);
	return res;
}

/* ---- handle ------------------------------------------------------------------ */

int i2k_http_new(const struct i2k_http_policy *p, struct i2k_http **out, struct i2k_error **err)
{
	i2k_http_global_init();
	struct i2k_http *h = i2k_xcalloc(1, sizeof(*h));
	h->policy = *p;
	if (h->policy.low_speed_time_s <= 0)
		h->policy.low_speed_time_s = 30;
	if (h->policy.low_speed_limit <= 0)
		h->policy.low_speed_limit = 1024;
	if (h->policy.deadline_s <= 0)
		h->policy.deadline_s = 600;
	if (h->policy.deadline_rate <= 0)
		h->policy.deadline_rate = 32768;
	if (h->policy.connect_timeout_s <= 0)
		h->policy.connect_timeout_s = 30;
	h->easy = curl_easy_init();
	if (h->easy == NULL) {
		free(h);
		return i2k_error_set(err, I2K_ERR_INTERNAL, "curl_easy_init failed");
	}
	const char *ca = p->ca_file;
	if (ca == NULL || *ca == '\0')
		ca = getenv("I2KIT_CA_FILE");
	if (ca && *ca) {
		struct i2k_buf b = {.max = CA_BUNDLE_MAX};
		char *sys = NULL;
		_cleanup_free_ char *extra = NULL, *sysdata = NULL;
		size_t elen = 0, slen = 0;
		if (i2k_read_file(ca, CA_BUNDLE_MAX / 2, &extra, &elen, err) < 0) {
			i2k_http_free(h);
			return i2k_error_wrap(err, "CA file");
		}
		if (curl_easy_getinfo(h->easy, CURLINFO_CAINFO, &sys) == CURLE_OK && sys &&
		    i2k_read_file(sys, CA_BUNDLE_MAX / 2, &sysdata, &slen, NULL) == 0) {
			i2k_buf_append(&b, sysdata, slen, NULL);
			i2k_buf_append(&b, "\n", 1, NULL);
		}
		i2k_buf_append(&b, extra, elen, NULL);
		h->ca_data = b.data;
		h->ca_len = b.len;
	}
	*out = h;
	return 0;
}

void i2k_http_free(struct i2k_http *h)
{
	if (h == NULL)
		return;
	if (h->easy)
		curl_easy_cleanup(h->easy);
	free(h->ca_data);
	free(h);
}

void i2k_http_freep(struct i2k_http **h)
{
	i2k_http_free(*h);
	*h = NULL;
}

void i2k_http_resp_clear(struct i2k_http_resp *r)
{
	if (r == NULL)
		return;
	free(r->content_type);
	free(r->www_authenticate);
	free(r->docker_content_digest);
	free(r->content_range);
	free(r->location);
	i2k_buf_free(&r->body);
	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
	r->content_length = -1;
}

/* ---- one transfer ---------------------------------------------------------- */

struct xfer {
	const struct i2k_http_req *req;
	struct i2k_http_resp *resp;
	const struct i2k_http_policy *policy;
	const char *url;
	bool headers_called;
	bool too_slow; /* a speed limit or the deadline cut the transfer off */
	double start, deadline;
	double win_start; /* the current throughput window */
	curl_off_t win_bytes;
	struct i2k_error *cb_err;
};

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The throughput window and the overall deadline (see http.h). */
static int check_speed(struct xfer *x, curl_off_t dn)
{
	const struct i2k_http_policy *p = x->policy;
	double now = mono_now();
	_cleanup_free_ char *auth = i2k_http_url_authority(x->url);
	const char *who = auth ? auth : x->url;
	if (now > x->deadline) {
		x->too_slow = true;
		i2k_error_set(&x->cb_err, I2K_ERR_NETWORK,
			      "%s: transfer did not finish within its deadline of %.0f s "
			      "(%lld bytes received; I2KIT_TRANSFER_TIMEOUT, I2KIT_TRANSFER_RATE)",
			      who, x->deadline - x->start, (long long)dn);
		return -1;
	}
	double win = (double)p->low_speed_time_s;
	if (now - x->win_start < win)
		return 0;
	curl_off_t moved = dn - x->win_bytes;
	if ((double)moved < (double)p->low_speed_limit * win) {
		x->too_slow = true;
		i2k_error_set(&x->cb_err, I2K_ERR_NETWORK,
			      "%s: transfer too slow: %lld bytes in the last %ld s, less than "
			      "%ld bytes/s (I2KIT_LOW_SPEED_LIMIT, I2KIT_LOW_SPEED_TIMEOUT)",
			      who, (long long)moved, p->low_speed_time_s, p->low_speed_limit);
		return -1;
	}
	x->win_start = now;
	x->win_bytes = dn;
	return 0;
}

static bool is_redirect(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

static void reset_headers(struct i2k_http_resp *r)
{
	free(r->content_type);
	free(r->www_authenticate);
	free(r->docker_content_digest);
	free(r->content_range);
	free(r->location);
	r->content_type = r->www_authenticate = r->docker_content_digest = r->content_range = NULL;
	r->location = NULL;
	r->retry_after_s = -1;
	r->content_length = -1;
}

static char *trimmed(const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return i2k_xstrndup(v, n);
}

static bool header_is(const char *line, size_t n, const char *name, const char **val, size_t *vlen)
{
	size_t nl = strlen(name);
	if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return false;
	*val = line + nl + 1;
	*vlen = n - nl - 1;
	return true;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	struct i2k_http_resp *r = x->resp;
	size_t n = size * nitems;
	const char *v;
	size_t vl;
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = memchr(line, ' ', n);
		long st = 0;
		if (sp)
			for (const char *c = sp + 1; c < line + n && *c >= '0' && *c <= '9'; c++)
				st = st * 10 + (*c - '0');
		r->status = st;
		reset_headers(r);
		return n;
	}
	if (header_is(line, n, "content-type", &v, &vl)) {
		free(r->content_type);
		r->content_type = trimmed(v, vl);
	} else if (header_is(line, n, "www-authenticate", &v, &vl)) {
		if (r->www_authenticate == NULL)
			r->www_authenticate = trimmed(v, vl);
	} else if (header_is(line, n, "docker-content-digest", &v, &vl)) {
		free(r->docker_content_digest);
		r->docker_content_digest = trimmed(v, vl);
	} else if (header_is(line, n, "content-range", &v, &vl)) {
		free(r->content_range);
		r->content_range = trimmed(v, vl);
	} else if (header_is(line, n, "location", &v, &vl)) {
		free(r->location);
		r->location = trimmed(v, vl);
	} else if (header_is(line, n, "retry-after", &v, &vl)) {
		_cleanup_free_ char *t = trimmed(v, vl);
		long s = 0;
		size_t i = 0;
		for (; t[i] >= '0' && t[i] <= '9' && i < 9; i++)
			s = s * 10 + (t[i] - '0');
		r->retry_after_s = (i > 0 && t[i] == '\0') ? s : -1;
	} else if (header_is(line, n, "content-length", &v, &vl)) {
		_cleanup_free_ char *t = trimmed(v, vl);
		int64_t s = 0;
		size_t i = 0;
		for (; t[i] >= '0' && t[i] <= '9' && i < 18; i++)
			s = s * 10 + (t[i] - '0');
		r->content_length = (i > 0 && t[i] == '\0') ? s : -1;
	}
	return n;
}

static int call_headers(struct xfer *x)
{
	if (x->headers_called)
		return 0;
	x->headers_called = true;
	if (x->req->on_headers)
		return x->req->on_headers(x->resp, x->req->ctx, &x->cb_err);
	return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	long st = x->resp->status;
	if (is_redirect(st))
		return n;
	if (st >= 200 && st < 300) {
		if (call_headers(x) < 0)
			return CURL_WRITEFUNC_ERROR;
		if (x->req->on_data) {
			if (x->req->on_data(data, n, x->req->ctx, &x->cb_err) < 0)
				return CURL_WRITEFUNC_ERROR;
			return n;
		}
		if (i2k_buf_append(&x->resp->body, data, n, &x->cb_err) < 0)
			return CURL_WRITEFUNC_ERROR;
		return n;
	}
	size_t room = I2K_HTTP_ERROR_BODY_MAX - x->resp->body.len;
	i2k_buf_append(&x->resp->body, data, n < room ? n : room, NULL);
	return n;
}

static int on_xferinfo(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = ud;
	if (i2k_interrupted) {
		i2k_error_set(&x->cb_err, I2K_ERR_INTERRUPTED, "interrupted");
		return 1;
	}
	if (check_speed(x, dn) < 0)
		return 1;
	if (x->req->on_poll && x->req->on_poll(x->req->ctx, &x->cb_err) < 0)
		return 1;
	return 0;
}

static bool retryable_code(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static int transport_error(struct i2k_http *h, CURLcode c, const char *url,
			   struct i2k_http_resp *resp, struct i2k_error **err)
{
	_cleanup_free_ char *auth = i2k_http_url_authority(url);
	const char *who = auth ? auth : url;
	long oserr = 0;
	curl_easy_getinfo(h->easy, CURLINFO_OS_ERRNO, &oserr);
	const char *msg = h->errbuf[0] ? h->errbuf : curl_easy_strerror(c);
	resp->retryable = retryable_code(c);
	resp->tls_handshake_failed = c == CURLE_SSL_CONNECT_ERROR;
	resp->resolve_failed = c == CURLE_COULDNT_RESOLVE_HOST;
	if (c == CURLE_COULDNT_CONNECT && oserr)
		return i2k_error_set(err, I2K_ERR_NETWORK, "cannot connect to %s: %s", who,
				     strerror((int)oserr));
	if (c == CURLE_OPERATION_TIMEDOUT)
		return i2k_error_set(err, I2K_ERR_NETWORK, "%s: timed out: %s", who, msg);
	return i2k_error_set(err, I2K_ERR_NETWORK, "%s: %s", who, msg);
}

static int perform_one(struct i2k_http *h, const struct i2k_http_req *req, const char *url,
		       bool send_auth, struct i2k_http_resp *resp, struct i2k_error **err)
{
	CURL *e = h->easy;
	curl_easy_reset(e);
	h->errbuf[0] = '\0';
	i2k_http_resp_clear(resp);
	struct xfer x = {.req = req, .resp = resp, .policy = &h->policy, .url = url};
	x.start = x.win_start = mono_now();
	x.deadline = x.start + (double)h->policy.deadline_s +
		     (double)req->expect_bytes / (double)h->policy.deadline_rate;
	resp->body.max = 0; /* enforced by on_write */
	if (req->on_data == NULL)
		resp->body.max = req->max_body ? req->max_body : I2K_HTTP_ERROR_BODY_MAX;

	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *accept = NULL, *authz = NULL, *ctype = NULL;
	if (req->accept) {
		accept = i2k_xasprintf("Accept: %s", req->accept);
		hdrs = curl_slist_append(hdrs, accept);
	}
	if (req->form)
		hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
	if (send_auth && req->authorization) {
		authz = i2k_xasprintf("Authorization: %s", req->authorization);
		hdrs = curl_slist_append(hdrs, authz);
	}
	if (req->method) {
		ctype = i2k_xasprintf("Content-Type: %s", req->content_type
							      ? req->content_type
							      : "application/octet-stream");
		hdrs = curl_slist_append(hdrs, ctype);
	}
	char range[48];
	if (req->range_from > 0)
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)req->range_from);

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "i2kit/" I2K_VERSION);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_data) {
		struct curl_blob blob = {
		    .data = h->ca_data, .len = h->ca_len, .flags = CURL_BLOB_NOCOPY};
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, h->policy.connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, h->policy.low_speed_time_s);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, &x);
	if (hdrs)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	if (req->range_from > 0)
		curl_easy_setopt(e, CURLOPT_RANGE, range);
	if (req->head)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	if (req->form) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(req->form));
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->form);
	} else if (req->method) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	}

	CURLcode c = curl_easy_perform(e);
	curl_slist_free_all(hdrs);
	if (c == CURLE_OK && resp->status >= 200 && resp->status < 300 && call_headers(&x) < 0)
		c = CURLE_WRITE_ERROR;
	if (c != CURLE_OK) {
		if (x.cb_err) {
			resp->retryable = x.too_slow;
			i2k_error_propagate(err, &x.cb_err);
			return -1;
		}
		if (i2k_interrupted)
			return i2k_error_set(err, I2K_ERR_INTERRUPTED, "interrupted");
		return transport_error(h, c, url, resp, err);
	}
	i2k_error_free(x.cb_err);
	long st = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
	if (st)
		resp->status = st;
	return 0;
}

int i2k_http_do(struct i2k_http *h, const struct i2k_http_req *req, struct i2k_http_resp *resp,
		struct i2k_error **err)
{
	_cleanup_free_ char *url = i2k_xstrdup(req->url);
	_cleanup_free_ char *origin = i2k_http_url_authority(req->url);
	if (origin == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "invalid URL %s", req->url);
	for (int hop = 0;; hop++) {
		_cleanup_free_ char *here = i2k_http_url_authority(url);
		bool same = here && strcasecmp(here, origin) == 0;
		if (perform_one(h, req, url, same, resp, err) < 0)
			return -1;
		if (!is_redirect(resp->status))
			return 0;
		char *loc = NULL;
		if (curl_easy_getinfo(h->easy, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK || !loc)
			return 0; /* a redirect without Location: the caller sees the 3xx */
		if (hop >= MAX_REDIRECTS)
			return i2k_error_set(err, I2K_ERR_NETWORK, "%s: too many redirects",
					     origin);
		_cleanup_free_ char *next = i2k_xstrdup(loc);
		_cleanup_free_ char *scheme = url_scheme(next);
		_cleanup_free_ char *target = i2k_http_url_authority(next);
		if (scheme == NULL || target == NULL ||
		    (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0))
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "%s: redirect to an unsupported URL", origin);
		if (strcmp(scheme, "http") == 0 && !i2k_http_plain_allowed(&h->policy, target))
			return i2k_error_set(err, I2K_ERR_NETWORK,
					     "%s: refusing a redirect to plain-HTTP host %s",
					     origin, target);
		free(url);
		url = I2K_STEAL(next);
	}
}
