/* client.h — the signed-request client for AWS services: endpoints,
 * SigV4 signing, retries, AWS error → one-line i2k_error, and the Query
 * (EC2/STS/CloudFormation, XML via libxml2) and REST-JSON (EBS) shapes.
 *
 * One struct i2k_aws holds the resolved settings (creds.h fills it); it is
 * read-only while requests run, so any number of threads may call through
 * it, each with its own struct i2k_aws_conn (one libcurl handle, which keeps
 * its connection alive between requests).
 *
 * Retries: a request is tried up to max_attempts times (AWS_MAX_ATTEMPTS,
 * default 10) when the transport fails (connection refused/reset, nothing
 * received, timeout), on HTTP 429 and 5xx, and on throttling or transient
 * error codes (ThrottlingException, RequestThrottledException, Throttling,
 * RequestLimitExceeded, TooManyRequestsException, SlowDown, ...). The wait
 * before try n+1 is "full jitter": uniform in [0, min(cap, base * 2^n)]
 * (base 100 ms, cap 10 s unless set). Every try is signed afresh.
 *
 * Errors: a non-2xx answer becomes "SERVICE OPERATION: CODE: MESSAGE
 * (request id RID)" — I2K_ERR_AUTH for refused credentials (AuthFailure,
 * SignatureDoesNotMatch, InvalidClientTokenId, UnauthorizedOperation,
 * AccessDenied*, ExpiredToken, ...), I2K_ERR_REGISTRY for every other
 * service error, I2K_ERR_NETWORK for transport failures; all exit 3.
 * Secrets (secret key, session token, Authorization) never appear in
 * messages or in debug lines.
 */
#ifndef I2K_PROVISION_AWS_CLIENT_H
#define I2K_PROVISION_AWS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "builder/base/error.h"
#include "builder/base/util.h"
#include "provision/aws/sigv4.h"

enum i2k_aws_svc {
	I2K_AWS_EC2,
	I2K_AWS_EBS,
	I2K_AWS_STS,
	I2K_AWS_CLOUDFORMATION,
	I2K_AWS_ELBV2,
	I2K_AWS_AUTOSCALING,
	I2K_AWS_NSVC,
};
/* "ec2", "ebs", "sts", "cloudformation", "elasticloadbalancing",
 * "autoscaling" (signing name and host prefix). */
const char *i2k_aws_svc_name(enum i2k_aws_svc s);

struct i2k_aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL for long-term keys */
	char *source;	     /* "environment", "profile NAME", "assume-role ARN", "imds" */
};
void i2k_aws_creds_clear(struct i2k_aws_creds *c); /* wipes and frees */

typedef void (*i2k_aws_log_fn)(const char *line, void *ctx);

struct i2k_aws {
	struct i2k_aws_creds creds;
	char *region;
	char *endpoint[I2K_AWS_NSVC]; /* base URL ("https://ec2.eu-west-1.amazonaws.com") */
	int max_attempts;	      /* 0 → 10 */
	unsigned backoff_base_ms;     /* 0 → 100 */
	unsigned backoff_cap_ms;      /* 0 → 10000 */
	long timeout_s;		      /* per request; 0 → 120 */
	const char *ca_file;	      /* extra CA bundle or NULL */
	i2k_aws_log_fn debug;	      /* --debug lines (no secrets) or NULL */
	void *debug_ctx;
	int64_t fixed_time; /* tests: signing time; 0 → wall clock */
};
void i2k_aws_clear(struct i2k_aws *a); /* frees everything it owns */
void i2k_aws_debugf(const struct i2k_aws *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct i2k_aws_conn;
struct i2k_aws_conn *i2k_aws_conn_new(void); /* aborts on OOM */
void i2k_aws_conn_free(struct i2k_aws_conn *c);
void i2k_aws_conn_freep(struct i2k_aws_conn **c);

struct i2k_aws_req {
	enum i2k_aws_svc svc;
	const char *op;	    /* operation name, for messages ("PutSnapshotBlock") */
	const char *method; /* "GET", "POST", "PUT", "DELETE" */
	const char *path;   /* appended to the endpoint's path; NULL → "/" */
	const char *query;  /* encoded query string or NULL */
	const char *content_type;
	const struct i2k_sigv4_header *headers; /* extra headers, all signed */
	size_t n_headers;
	const void *body;
	size_t body_len;
	const char *payload_hash; /* hex SHA-256 of body if known */
	size_t max_body;	  /* answer limit; 0 → 8 MiB */
};

struct i2k_aws_resp {
	long status;
	struct i2k_buf body;
	char *request_id;
	char *error_code; /* set on an AWS error answer (also when the call failed) */
	int attempts;
};
void i2k_aws_resp_clear(struct i2k_aws_resp *r);

/* Signs and sends r (with retries, see above). 0 on a 2xx answer; else -1
 * with the error described above and resp->error_code/status filled. c may
 * be NULL (a temporary connection). */
int i2k_aws_call(const struct i2k_aws *a, struct i2k_aws_conn *c, const struct i2k_aws_req *r,
		 struct i2k_aws_resp *resp, struct i2k_error **err);

/* Query API parameters (owned copies). */
struct i2k_aws_params {
	char **k, **v;
	size_t n, cap;
};
void i2k_aws_params_add(struct i2k_aws_params *p, const char *k, const char *v);
void i2k_aws_params_addf(struct i2k_aws_params *p, const char *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void i2k_aws_params_clear(struct i2k_aws_params *p);

/* A Query API call (EC2 2016-11-15, STS 2011-06-15, CloudFormation
 * 2010-05-15, ELBv2 2015-12-01, Auto Scaling 2011-01-01): POSTs Action, Version and p form-encoded;
 * *doc (caller frees with xmlFreeDoc) is the parsed answer. code_out (optional): the AWS error code
 * on failure (caller frees). */
int i2k_aws_query(const struct i2k_aws *a, struct i2k_aws_conn *c, enum i2k_aws_svc svc,
		  const char *action, const struct i2k_aws_params *p, xmlDoc **doc, char **code_out,
		  struct i2k_error **err);

/* Parses an XML document (no network, no entity expansion, ≤ 8 MiB). */
int i2k_aws_xml_parse(const char *data, size_t len, xmlDoc **doc, struct i2k_error **err);
/* First element child of n with this local name (namespace ignored), or NULL. */
xmlNode *i2k_xml_child(xmlNode *n, const char *name);
/* Follows "a/b/c" from n through i2k_xml_child. */
xmlNode *i2k_xml_path(xmlNode *n, const char *path);
/* Text of i2k_xml_path(n, path) (caller frees) or NULL. */
char *i2k_xml_text(xmlNode *n, const char *path);
/* Next element sibling with the same local name as n, or NULL. */
xmlNode *i2k_xml_next(xmlNode *n);

/* While on (per thread), SIGINT does not abort requests or retry waits:
 * for the clean-up calls after a failure or Ctrl-C (deleting the snapshot). */
void i2k_aws_set_uninterruptible(bool on);

/* Wall clock (or a->fixed_time) in seconds. */
int64_t i2k_aws_now(const struct i2k_aws *a);
/* Sleeps ms milliseconds, waking early on SIGINT (then I2K_ERR_INTERRUPTED). */
int i2k_aws_sleep_ms(unsigned ms, struct i2k_error **err);
/* Backoff delay for retry number n (0-based) with full jitter. */
unsigned i2k_aws_backoff_ms(const struct i2k_aws *a, int n);

#endif
