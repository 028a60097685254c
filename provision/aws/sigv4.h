/* sigv4.h — AWS Signature Version 4 (HMAC-SHA256, header signing).
 *
 * Pure functions, no I/O: canonical request, string to sign, signature and
 * the Authorization header value, as the SigV4 specification and its test
 * suite (../shared/aws-sigv4-testsuite) define them:
 *   - path: normalised (empty and "." segments dropped, ".." pops, a
 *     trailing slash kept) then URI-encoded once per segment (everything but
 *     A-Z a-z 0-9 - . _ ~ is %XX, upper-case hex); S3-style callers can turn
 *     normalisation off. The path is taken literally (not percent-decoded).
 *   - query: split on '&', each key and value percent-decoded then
 *     re-encoded strictly, sorted by key then value; "k" reads as "k=".
 *   - headers: every header given is signed; names lower-cased, values
 *     trimmed with inner runs of white space (including folded lines)
 *     collapsed to one space, repeated names joined with ',' in the order
 *     given, sorted by name.
 *   - payload: hex SHA-256 of the body, or the caller's precomputed value
 *     (e.g. the block digest it already has, or "UNSIGNED-PAYLOAD").
 * A session token is just one more header (X-Amz-Security-Token) the caller
 * adds before signing. Nothing here logs or keeps the secret.
 */
#ifndef I2K_PROVISION_AWS_SIGV4_H
#define I2K_PROVISION_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

struct i2k_sigv4_header {
	const char *name;
	const char *value;
};

struct i2k_sigv4_req {
	const char *method;			/* "GET", "POST", ... */
	const char *path;			/* "/snapshots/snap-1/blocks/3"; NULL → "/" */
	const char *query;			/* raw query string after '?', or NULL */
	const struct i2k_sigv4_header *headers; /* must include Host and X-Amz-Date */
	size_t n_headers;
	const char *payload_hash; /* lower-case hex, or NULL → SHA-256 of body */
	const void *body;
	size_t body_len;
	const char *region;	/* "us-east-1" */
	const char *service;	/* "ec2", "ebs", "sts", ... */
	const char *amz_date;	/* "20150830T123600Z" (same as the X-Amz-Date header) */
	bool no_normalize_path; /* S3 only */
};

/* What a signature was made of; all owned by the struct (i2k_sigv4_out_clear). */
struct i2k_sigv4_out {
	char *canonical_request;
	char *string_to_sign;
	char *authorization; /* "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
				SignedHeaders=..., Signature=..." */
};
void i2k_sigv4_out_clear(struct i2k_sigv4_out *o);

/* Signs r with the key pair. Fails with I2K_ERR_INTERNAL on a malformed
 * request (no method/region/service/date, amz_date not 16 characters). */
int i2k_sigv4_sign(const struct i2k_sigv4_req *r, const char *access_key_id,
		   const char *secret_access_key, struct i2k_sigv4_out *out,
		   struct i2k_error **err);

/* URI-encodes s[0..n) strictly (unreserved characters kept; '/' kept when
 * keep_slash). Caller frees. */
char *i2k_aws_uri_encode(const char *s, size_t n, bool keep_slash);
/* "20150830T123600Z" for t (UTC) into out[17]. */
void i2k_aws_amz_date(int64_t t, char out[17]);
/* Lower-case hex SHA-256 of data into out[65]. */
void i2k_aws_sha256_hex(const void *data, size_t len, char out[65]);
/* Hex / base64 of 32 raw digest bytes. */
void i2k_aws_hex32(const uint8_t d[32], char out[65]);
void i2k_aws_base64_32(const uint8_t d[32], char out[45]);

#endif
