/* client.c — signed AWS requests over libcurl with retries (see client.h). */
#include "provision/aws/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "builder/base/cleanup.h"

#define DEFAULT_MAX_BODY (8u << 20)
#define ERROR_BODY_MAX (64u << 10)

static const char *const svc_names[I2K_AWS_NSVC] = {
    [I2K_AWS_EC2] = "ec2",
    [I2K_AWS_EBS] = "ebs",
    [I2K_AWS_STS] = "sts",
    [I2K_AWS_CLOUDFORMATION] = "cloudformation",
    [I2K_AWS_ELBV2] = "elasticloadbalancing",
    [I2K_AWS_AUTOSCALING] = "autoscaling",
};
static const char *const svc_versions[I2K_AWS_NSVC] = {
    [I2K_AWS_EC2] = "2016-11-15",
    [I2K_AWS_STS] = "2011-06-15",
    [I2K_AWS_CLOUDFORMATION] = "2010-05-15",
    [I2K_AWS_ELBV2] = "2015-12-01",
    [I2K_AWS_AUTOSCALING] = "2011-01-01",
};

const char *i2k_aws_svc_name(enum i2k_aws_svc s)
{
	return (unsigned)s < I2K_AWS_NSVC ? svc_names[s] : "?";
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void i2k_aws_creds_clear(struct i2k_aws_creds *c)
{
	if (c == NULL)
		return;
	free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

void i2k_aws_clear(struct i2k_aws *a)
{
	if (a == NULL)
		return;
	i2k_aws_creds_clear(&a->creds);
	free(a->region);
	for (int i = 0; i < I2K_AWS_NSVC; i++)
		free(a->endpoint[i]);
	memset(a, 0, sizeof(*a));
}

void i2k_aws_debugf(const struct i2k_aws *a, const char *fmt, ...)
{
	if (a == NULL || a->debug == NULL)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	a->debug(line, a->debug_ctx);
}

struct i2k_aws_conn {
	CURL *curl;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
	json_object_seed(0); /* before upload threads use jansson */
}

struct i2k_aws_conn *i2k_aws_conn_new(void)
{
	pthread_once(&curl_once, curl_init_once);
	struct i2k_aws_conn *c = i2k_xcalloc(1, sizeof(*c));
	c->curl = curl_easy_init();
	if (c->curl == NULL)
		abort();
	return c;
}

void i2k_aws_conn_free(struct i2k_aws_conn *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

void i2k_aws_conn_freep(struct i2k_aws_conn **c)
{
	i2k_aws_conn_free(*c);
	*c = NULL;
}

void i2k_aws_resp_clear(struct i2k_aws_resp *r)
{
	if (r == NULL)
		return;
	i2k_buf_free(&r->body);
	free(r->request_id);
	free(r->error_code);
	memset(r, 0, sizeof(*r));
}

static __thread bool uninterruptible;

void i2k_aws_set_uninterruptible(bool on)
{
	uninterruptible = on;
}

int64_t i2k_aws_now(const struct i2k_aws *a)
{
	return a && a->fixed_time ? a->fixed_time : (int64_t)time(NULL);
}

int i2k_aws_sleep_ms(unsigned ms, struct i2k_error **err)
{
	while (ms > 0) {
		unsigned step = ms > 100 ? 100 : ms;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			if (i2k_interrupted && !uninterruptible)
				break;
		if (!uninterruptible && i2k_check_interrupt(err) < 0)
			return -1;
		ms -= step;
	}
	return 0;
}

unsigned i2k_aws_backoff_ms(const struct i2k_aws *a, int n)
{
	uint64_t base = a->backoff_base_ms ? a->backoff_base_ms : 100;
	uint64_t cap = a->backoff_cap_ms ? a->backoff_cap_ms : 10000;
	uint64_t d = n >= 20 ? cap : base << n;
	if (d > cap)
		d = cap;
	uint32_t r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)clock();
	return (unsigned)((uint64_t)r % (d + 1));
}

/* --- transfer ----------------------------------------------------------- */

struct xfer {
	struct i2k_aws_resp *resp;
	size_t max;
	bool overflow;
	char *error_type;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = sz * n;
	if (x->resp->body.len + len > x->max) {
		x->overflow = true;
		return 0;
	}
	if (i2k_buf_append(&x->resp->body, p, len, NULL) < 0)
		return 0;
	return len;
}

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1, *e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
		e--;
	return i2k_xstrndup(v, (size_t)(e - v));
}

static size_t on_header(char *p, size_t sz, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = sz * n;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (100, redirects) */
		free(x->resp->request_id);
		x->resp->request_id = NULL;
		free(x->error_type);
		x->error_type = NULL;
	}
	char *v;
	if ((v = header_value(p, len, "x-amzn-RequestId")) ||
	    (v = header_value(p, len, "x-amz-request-id"))) {
		free(x->resp->request_id);
		x->resp->request_id = v;
	} else if ((v = header_value(p, len, "x-amzn-ErrorType"))) {
		free(x->error_type);
		x->error_type = v;
	}
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	return i2k_interrupted && !uninterruptible ? 1 : 0;
}

/* "scheme://host[:port]" + optional base path → host header value (default
 * ports dropped) and the base path. */
static int split_endpoint(const char *ep, char **host, char **base_path, struct i2k_error **err)
{
	const char *p = strstr(ep, "://");
	if (p == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE, "endpoint URL \"%s\" has no scheme", ep);
	bool https = strncasecmp(ep, "https", 5) == 0;
	p += 3;
	const char *slash = strchr(p, '/');
	size_t alen = slash ? (size_t)(slash - p) : strlen(p);
	if (alen == 0)
		return i2k_error_set(err, I2K_ERR_USAGE, "endpoint URL \"%s\" has no host", ep);
	char *h = i2k_xstrndup(p, alen);
	char *colon = strrchr(h, ':');
	if (colon && !strchr(colon, ']') &&
	    ((https && strcmp(colon, ":443") == 0) || (!https && strcmp(colon, ":80") == 0)))
		*colon = '\0';
	*host = h;
	const char *bp = slash ? slash : "";
	size_t bl = strlen(bp);
	while (bl > 0 && bp[bl - 1] == '/')
		bl--;
	*base_path = i2k_xstrndup(bp, bl);
	return 0;
}

static bool code_is_auth(const char *code)
{
	static const char *const codes[] = {
	    "AuthFailure",
	    "SignatureDoesNotMatch",
	    "InvalidClientTokenId",
	    "UnauthorizedOperation",
	    "UnrecognizedClientException",
	    "ExpiredToken",
	    "ExpiredTokenException",
	    "InvalidAccessKeyId",
	    "MissingAuthenticationToken",
	    "IncompleteSignature",
	    "InvalidSignatureException",
	    "OptInRequired",
	    "Blocked",
	};
	if (code == NULL)
		return false;
	if (strncmp(code, "AccessDenied", 12) == 0)
		return true;
	for (size_t i = 0; i < I2K_ARRAY_SIZE(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

static bool code_is_transient(const char *code)
{
	static const char *const codes[] = {
	    "Throttling",
	    "ThrottlingException",
	    "ThrottledException",
	    "RequestThrottledException",
	    "TooManyRequestsException",
	    "ProvisionedThroughputExceededException",
	    "TransactionInProgressException",
	    "RequestLimitExceeded",
	    "BandwidthLimitExceeded",
	    "RequestThrottled",
	    "SlowDown",
	    "PriorRequestNotComplete",
	    "EC2ThrottledException",
	    "RequestTimeout",
	    "RequestTimeoutException",
	    "InternalError",
	    "InternalFailure",
	    "InternalServerError",
	    "InternalServerException",
	    "ServiceUnavailable",
	    "ServiceUnavailableException",
	    "IDPCommunicationError",
	};
	if (code == NULL)
		return false;
	for (size_t i = 0; i < I2K_ARRAY_SIZE(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/* Extracts code + message from an error body (XML or JSON) and headers. */
static void parse_error(struct i2k_aws_resp *resp, const char *error_type, char **code,
			char **message)
{
	*code = NULL;
	*message = NULL;
	const char *b = resp->body.data ? resp->body.data : "";
	while (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')
		b++;
	if (*b == '<') {
		xmlDoc *doc = NULL;
		if (i2k_aws_xml_parse(b, strlen(b), &doc, NULL) == 0) {
			xmlNode *root = xmlDocGetRootElement(doc);
			xmlNode *e = i2k_xml_path(root, "Errors/Error");
			if (e == NULL)
				e = i2k_xml_child(root, "Error");
			if (e == NULL && root && xmlStrcmp(root->name, BAD_CAST "Error") == 0)
				e = root;
			if (e) {
				*code = i2k_xml_text(e, "Code");
				*message = i2k_xml_text(e, "Message");
			}
			if (resp->request_id == NULL) {
				resp->request_id = i2k_xml_text(root, "RequestID");
				if (resp->request_id == NULL)
					resp->request_id = i2k_xml_text(root, "RequestId");
			}
			xmlFreeDoc(doc);
		}
	} else if (*b == '{') {
		/* minimal JSON: "message"/"Message" and "__type"/"code" */
		const char *keys[] = {"\"message\"", "\"Message\""};
		for (size_t i = 0; i < 2 && *message == NULL; i++) {
			const char *k = strstr(b, keys[i]);
			if (!k)
				continue;
			k = strchr(k + strlen(keys[i]), '"');
			if (!k)
				continue;
			const char *e = k + 1;
			while (*e && *e != '"')
				e += (*e == '\\' && e[1]) ? 2 : 1;
			*message = i2k_xstrndup(k + 1, (size_t)(e - k - 1));
		}
		const char *t = strstr(b, "\"__type\"");
		if (t && error_type == NULL && (t = strchr(t + 8, '"'))) {
			const char *e = strchr(t + 1, '"');
			if (e)
				*code = i2k_xstrndup(t + 1, (size_t)(e - t - 1));
		}
	}
	if (*code == NULL && error_type)
		*code = i2k_xstrdup(error_type);
	if (*code) { /* "Code:http://..." or "ns#Code" */
		char *c = strchr(*code, ':');
		if (c)
			*c = '\0';
		c = strrchr(*code, '#');
		if (c)
			memmove(*code, c + 1, strlen(c));
	}
	if (*code == NULL && resp->status == 429)
		*code = i2k_xstrdup("TooManyRequests");
}

static bool curl_transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
}

/* One signed attempt. Returns 0 when an answer arrived (any status), -1 on
 * transport failure (*transient says whether to retry). */
static int attempt(const struct i2k_aws *a, CURL *h, const struct i2k_aws_req *r, const char *host,
		   const char *url, const char *path, struct i2k_aws_resp *resp, char **error_type,
		   bool *transient, struct i2k_error **err)
{
	char date[17];
	i2k_aws_amz_date(i2k_aws_now(a), date);
	size_t n = r->n_headers + 5;
	_cleanup_free_ struct i2k_sigv4_header *hs = i2k_xcalloc(n, sizeof(*hs));
	char body_hash[65];
	if (r->payload_hash)
		snprintf(body_hash, sizeof(body_hash), "%s", r->payload_hash);
	else
		i2k_aws_sha256_hex(r->body ? r->body : "", r->body_len, body_hash);
	size_t k = 0;
	hs[k++] = (struct i2k_sigv4_header){"Host", host};
	hs[k++] = (struct i2k_sigv4_header){"X-Amz-Date", date};
	if (r->content_type)
		hs[k++] = (struct i2k_sigv4_header){"Content-Type", r->content_type};
	if (a->creds.session_token)
		hs[k++] = (struct i2k_sigv4_header){"X-Amz-Security-Token", a->creds.session_token};
	for (size_t i = 0; i < r->n_headers; i++)
		hs[k++] = r->headers[i];
	/* signed, so that a verifier that only sees signed headers (moto) hashes
	 * the same payload value */
	hs[k++] = (struct i2k_sigv4_header){"X-Amz-Content-Sha256", body_hash};
	struct i2k_sigv4_req sr = {
	    .method = r->method,
	    .path = path,
	    .query = r->query,
	    .headers = hs,
	    .n_headers = k,
	    .payload_hash = body_hash,
	    .region = a->region,
	    .service = svc_names[r->svc],
	    .amz_date = date,
	};
	struct i2k_sigv4_out so;
	if (i2k_sigv4_sign(&sr, a->creds.access_key_id, a->creds.secret_access_key, &so, err) < 0)
		return -1;
	struct curl_slist *sl = NULL;
	for (size_t i = 0; i < k; i++) {
		_cleanup_free_ char *line = i2k_xasprintf("%s: %s", hs[i].name, hs[i].value);
		sl = curl_slist_append(sl, line);
	}
	_cleanup_free_ char *auth = i2k_xasprintf("Authorization: %s", so.authorization);
	i2k_sigv4_out_clear(&so);
	sl = curl_slist_append(sl, auth);
	explicit_bzero(auth, strlen(auth));
	sl = curl_slist_append(sl, "Expect:");
	if (!r->content_type)
		sl = curl_slist_append(sl, "Content-Type:");
	sl = curl_slist_append(sl, "Accept:");

	curl_easy_reset(h);
	struct xfer x = {.resp = resp, .max = r->max_body ? r->max_body : DEFAULT_MAX_BODY};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "i2kit/" I2K_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, a->timeout_s > 0 ? a->timeout_s : 120L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (a->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, a->ca_file);
	if (strcmp(r->method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(r->method, "POST") == 0 || r->body_len) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		if (strcmp(r->method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	i2k_buf_free(&resp->body);
	free(resp->request_id);
	resp->request_id = NULL;
	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(sl);
	*error_type = x.error_type;
	if (rc != CURLE_OK) {
		if (rc == CURLE_ABORTED_BY_CALLBACK && i2k_interrupted && !uninterruptible)
			return i2k_error_set(err, I2K_ERR_INTERRUPTED, "interrupted");
		if (rc == CURLE_WRITE_ERROR && x.overflow)
			return i2k_error_set(err, I2K_ERR_INTEGRITY, "answer exceeds %zu bytes",
					     x.max);
		*transient = curl_transient(rc);
		return i2k_error_set(err, I2K_ERR_NETWORK, "%s: %s", host, curl_easy_strerror(rc));
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	return 0;
}

int i2k_aws_call(const struct i2k_aws *a, struct i2k_aws_conn *c, const struct i2k_aws_req *r,
		 struct i2k_aws_resp *resp, struct i2k_error **err)
{
	memset(resp, 0, sizeof(*resp));
	_cleanup_(i2k_aws_conn_freep) struct i2k_aws_conn *tmp = NULL;
	if (c == NULL)
		c = tmp = i2k_aws_conn_new();
	const char *svc = svc_names[r->svc];
	const char *op = r->op ? r->op : r->method;
	if (a->creds.access_key_id == NULL || a->creds.secret_access_key == NULL)
		return i2k_error_set(err, I2K_ERR_AUTH, "%s %s: no AWS credentials", svc, op);
	if (a->region == NULL || a->endpoint[r->svc] == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE, "%s %s: no region or endpoint", svc, op);
	_cleanup_free_ char *host = NULL, *base = NULL;
	if (split_endpoint(a->endpoint[r->svc], &host, &base, err) < 0)
		return -1;
	_cleanup_free_ char *path = i2k_xasprintf("%s%s", base, r->path ? r->path : "/");
	_cleanup_free_ char *epath = i2k_aws_uri_encode(path, strlen(path), true);
	const char *slash = strstr(a->endpoint[r->svc], "://");
	slash = strchr(slash + 3, '/');
	size_t prefix = slash ? (size_t)(slash - a->endpoint[r->svc]) : strlen(a->endpoint[r->svc]);
	_cleanup_free_ char *url =
	    i2k_xasprintf("%.*s%s%s%s", (int)prefix, a->endpoint[r->svc], epath,
			  r->query ? "?" : "", r->query ? r->query : "");
	int max = a->max_attempts > 0 ? a->max_attempts : 10;
	for (int n = 0;; n++) {
		resp->attempts = n + 1;
		struct i2k_error *e = NULL;
		char *etype = NULL;
		bool transient = false;
		int rc = attempt(a, c->curl, r, host, url, path, resp, &etype, &transient, &e);
		char *why = NULL;
		if (rc == 0 && resp->status >= 200 && resp->status < 300) {
			free(etype);
			return 0;
		}
		if (rc == 0) {
			char *code = NULL, *msg = NULL;
			parse_error(resp, etype, &code, &msg);
			transient =
			    resp->status == 429 || resp->status >= 500 || code_is_transient(code);
			free(resp->error_code);
			resp->error_code = i2k_xstrdup(code ? code : "");
			why =
			    i2k_xasprintf("%s: %s (HTTP %ld, request id %s)", code ? code : "error",
					  msg && *msg ? msg : "no message", resp->status,
					  resp->request_id ? resp->request_id : "none");
			if (!transient || n + 1 >= max) {
				enum i2k_errc ec = code_is_auth(code) || resp->status == 401
						       ? I2K_ERR_AUTH
						       : I2K_ERR_REGISTRY;
				i2k_error_set(err, ec, "%s %s: %s", svc, op, why);
				if (n + 1 >= max && transient)
					i2k_error_wrap(err, "giving up after %d attempts", max);
				free(code);
				free(msg);
				free(why);
				free(etype);
				return -1;
			}
			free(code);
			free(msg);
		} else {
			if (!transient || n + 1 >= max || e->code == I2K_ERR_INTERRUPTED) {
				i2k_error_propagate(err, &e);
				i2k_error_wrap(err, "%s %s", svc, op);
				if (transient && n + 1 >= max)
					i2k_error_wrap(err, "giving up after %d attempts", max);
				free(etype);
				return -1;
			}
			why = i2k_xstrdup(e->msg);
			i2k_error_free(e);
		}
		free(etype);
		unsigned ms = i2k_aws_backoff_ms(a, n);
		i2k_aws_debugf(a, "aws: %s %s attempt %d/%d failed (%s); retrying in %u ms", svc,
			       op, n + 1, max, why, ms);
		free(why);
		if (i2k_aws_sleep_ms(ms, err) < 0)
			return -1;
	}
}

/* --- Query API ------------------------------------------------------------ */

void i2k_aws_params_add(struct i2k_aws_params *p, const char *k, const char *v)
{
	if (p->n == p->cap) {
		size_t cap = p->cap;
		i2k_xgrow((void **)&p->k, &cap, p->n + 1, sizeof(char *));
		i2k_xgrow((void **)&p->v, &p->cap, p->n + 1, sizeof(char *));
	}
	p->k[p->n] = i2k_xstrdup(k);
	p->v[p->n++] = i2k_xstrdup(v);
}

void i2k_aws_params_addf(struct i2k_aws_params *p, const char *k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *v = NULL;
	if (vasprintf(&v, fmt, ap) < 0)
		abort();
	va_end(ap);
	i2k_aws_params_add(p, k, v);
	free(v);
}

void i2k_aws_params_clear(struct i2k_aws_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->k[i]);
		wipe_free(p->v[i]);
	}
	free(p->k);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static void form_add(struct i2k_buf *b, const char *k, const char *v)
{
	_cleanup_free_ char *ek = i2k_aws_uri_encode(k, strlen(k), false);
	_cleanup_free_ char *ev = i2k_aws_uri_encode(v, strlen(v), false);
	if (b->len)
		i2k_buf_append(b, "&", 1, NULL);
	i2k_buf_append(b, ek, strlen(ek), NULL);
	i2k_buf_append(b, "=", 1, NULL);
	i2k_buf_append(b, ev, strlen(ev), NULL);
}

int i2k_aws_query(const struct i2k_aws *a, struct i2k_aws_conn *c, enum i2k_aws_svc svc,
		  const char *action, const struct i2k_aws_params *p, xmlDoc **doc, char **code_out,
		  struct i2k_error **err)
{
	*doc = NULL;
	if (code_out)
		*code_out = NULL;
	struct i2k_buf body = {0};
	form_add(&body, "Action", action);
	form_add(&body, "Version", svc_versions[svc] ? svc_versions[svc] : "");
	for (size_t i = 0; p && i < p->n; i++)
		form_add(&body, p->k[i], p->v[i]);
	struct i2k_aws_req r = {
	    .svc = svc,
	    .op = action,
	    .method = "POST",
	    .path = "/",
	    .content_type = "application/x-www-form-urlencoded; charset=utf-8",
	    .body = body.data,
	    .body_len = body.len,
	};
	struct i2k_aws_resp resp;
	int rc = i2k_aws_call(a, c, &r, &resp, err);
	explicit_bzero(body.data, body.len);
	i2k_buf_free(&body);
	if (rc < 0) {
		if (code_out && resp.error_code)
			*code_out = I2K_STEAL(resp.error_code);
		i2k_aws_resp_clear(&resp);
		return -1;
	}
	rc = i2k_aws_xml_parse(resp.body.data ? resp.body.data : "", resp.body.len, doc, err);
	if (rc < 0)
		i2k_error_wrap(err, "%s %s", svc_names[svc], action);
	i2k_aws_resp_clear(&resp);
	return rc;
}

/* --- XML ------------------------------------------------------------------ */

int i2k_aws_xml_parse(const char *data, size_t len, xmlDoc **doc, struct i2k_error **err)
{
	pthread_once(&curl_once, curl_init_once);
	*doc = NULL;
	if (len > DEFAULT_MAX_BODY)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "XML answer exceeds %u bytes",
				     DEFAULT_MAX_BODY);
	xmlDoc *d = xmlReadMemory(data, (int)len, "aws.xml", NULL,
				  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				      XML_PARSE_NOBLANKS);
	if (d == NULL || xmlDocGetRootElement(d) == NULL) {
		xmlFreeDoc(d);
		return i2k_error_set(err, I2K_ERR_REGISTRY, "answer is not XML");
	}
	*doc = d;
	return 0;
}

xmlNode *i2k_xml_child(xmlNode *n, const char *name)
{
	if (n == NULL)
		return NULL;
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST name) == 0)
			return c;
	return NULL;
}

xmlNode *i2k_xml_path(xmlNode *n, const char *path)
{
	char part[128];
	const char *p = path;
	while (n && *p) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l >= sizeof(part))
			return NULL;
		memcpy(part, p, l);
		part[l] = '\0';
		n = i2k_xml_child(n, part);
		p += l + (e ? 1 : 0);
	}
	return n;
}

char *i2k_xml_text(xmlNode *n, const char *path)
{
	xmlNode *t = i2k_xml_path(n, path);
	if (t == NULL)
		return NULL;
	xmlChar *s = xmlNodeGetContent(t);
	char *r = i2k_xstrdup(s ? (const char *)s : "");
	xmlFree(s);
	return r;
}

xmlNode *i2k_xml_next(xmlNode *n)
{
	if (n == NULL)
		return NULL;
	for (xmlNode *c = n->next; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, n->name) == 0)
			return c;
	return NULL;
}
