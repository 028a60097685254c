/* http.h — the one libcurl boundary of builder/registry: a blocking HTTP
 * client handle (one per thread), the plain-HTTP/TLS policy, manual redirect
 * following, bounded bodies and the CURLcode → i2k_error adapter.
 *
 * Policy: https everywhere, certificates verified (peer and host). Plain
 * http only for localhost, 127.0.0.1 and [::1] (any port) and for hosts in
 * the insecure list ("host" matches any port, "host:port" that port), both
 * for the first URL and for redirect targets. (registry.c tries https first
 * on those hosts and uses http only when the server does not speak TLS.) The extra CA bundle
 * (policy.ca_file, else $I2KIT_CA_FILE) is added to the system bundle.
 * Redirects (301/302/303/307/308, at most 10) are followed by this file;
 * the Authorization header is only sent to the host:port of the original
 * URL, never to a redirect target elsewhere.
 *
 * Slow peers: a transfer must move at least low_speed_limit bytes per
 * low_speed_time_s window (a tumbling window measured from the start of the
 * request, so a server that never answers, or drips a body at 2 B/s, is cut
 * off after one window), and must finish within its overall deadline:
 * deadline_s + expect_bytes / deadline_rate seconds. Both failures are
 * I2K_ERR_NETWORK, retryable (a blob then resumes with a Range request),
 * and say which limit was hit and which variable changes it.
 */
#ifndef I2K_BUILDER_REGISTRY_HTTP_H
#define I2K_BUILDER_REGISTRY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/util.h"

#define I2K_HTTP_ERROR_BODY_MAX (64u << 10)

struct i2k_http_policy {
	const char *const *insecure_hosts;
	size_t n_insecure_hosts;
	const char *ca_file;	/* NULL → $I2KIT_CA_FILE → none */
	long low_speed_time_s;	/* the throughput window, seconds; 0 → 30 */
	long low_speed_limit;	/* bytes per second over a window; 0 → 1024 */
	long deadline_s;	/* overall deadline base, seconds; 0 → 600 */
	long deadline_rate;	/* + 1 s per this many expected bytes; 0 → 32768 */
	long connect_timeout_s; /* 0 → 30 */
};

/* Must be called once before any thread uses curl (idempotent, thread-safe). */
void i2k_http_global_init(void);

/* True when host[:port] may be contacted over plain HTTP under p. */
bool i2k_http_plain_allowed(const struct i2k_http_policy *p, const char *hostport);
/* "http://HOST" or "https://HOST" per the policy. Caller frees. */
char *i2k_http_base_url(const struct i2k_http_policy *p, const char *hostport);

struct i2k_http_resp {
	long status;		/* final status after redirects */
	char *content_type;	/* NULL when absent */
	char *www_authenticate; /* first WWW-Authenticate header */
	char *docker_content_digest;
	char *content_range;
	char *location;		/* Location header (as sent; may be relative) */
	long retry_after_s;	/* -1 when absent or not delta-seconds */
	int64_t content_length; /* -1 when unknown */
	/* 2xx without on_data: the body (at most req.max_body). Other
	 * statuses: the first I2K_HTTP_ERROR_BODY_MAX bytes of the body. */
	struct i2k_buf body;
	bool retryable;		   /* set on transport failure: worth retrying */
	bool tls_handshake_failed; /* transport failure in the TLS handshake itself
				    * (e.g. the server speaks plain HTTP) — not a
				    * certificate verification failure */
	bool resolve_failed;	   /* transport failure: the host name did not resolve */
};
void i2k_http_resp_clear(struct i2k_http_resp *r);

struct i2k_http_req {
	const char *url;
	bool head;	    /* HEAD instead of GET */
	const char *form;   /* POST this application/x-www-form-urlencoded body */
	const char *method; /* "POST", "PUT" (with body): NULL → GET/HEAD */
	const void *body;   /* request body for method (may be NULL: empty) */
	size_t body_len;
	const char *content_type;  /* Content-Type of body, or NULL */
	const char *accept;	   /* Accept header value or NULL */
	const char *authorization; /* Authorization header value, original host only */
	uint64_t range_from;	   /* > 0 → "Range: bytes=N-" */
	size_t max_body;	   /* limit for a buffered 2xx body */
	uint64_t expect_bytes;	   /* body bytes expected (scales the deadline); 0: unknown */
	/* Called once the final 2xx response's headers are in, before any body
	 * byte; < 0 aborts the transfer (with *err set). */
	int (*on_headers)(const struct i2k_http_resp *resp, void *ctx, struct i2k_error **err);
	/* Streams the 2xx body; < 0 aborts (with *err set). NULL → buffer. */
	int (*on_data)(const void *data, size_t len, void *ctx, struct i2k_error **err);
	/* Progress poll; return < 0 (with *err set) to abort. May be NULL. */
	int (*on_poll)(void *ctx, struct i2k_error **err);
	void *ctx;
};

struct i2k_http;

int i2k_http_new(const struct i2k_http_policy *p, struct i2k_http **out, struct i2k_error **err);
void i2k_http_free(struct i2k_http *h);
void i2k_http_freep(struct i2k_http **h);

/* Performs req. Returns 0 when an HTTP response arrived (any status; see
 * resp->status), -1 on a transport failure (I2K_ERR_NETWORK "HOST: curl's
 * message", resp->retryable tells whether a retry may help), on a callback
 * abort (the callback's error), on a refused redirect, or on SIGINT
 * (I2K_ERR_INTERRUPTED). resp is reset first; the caller clears it. */
int i2k_http_do(struct i2k_http *h, const struct i2k_http_req *req, struct i2k_http_resp *resp,
		struct i2k_error **err);

/* "host[:port]" of an absolute URL (caller frees), NULL if unparsable. */
char *i2k_http_url_authority(const char *url);

#endif
