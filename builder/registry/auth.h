/* auth.h — registry authentication pieces that need no network: the
 * WWW-Authenticate challenge parser, Docker's config.json credential lookup,
 * token-response parsing and base64. Private to builder/registry (the
 * network side — fetching a token — lives in registry.c).
 */
#ifndef I2K_BUILDER_REGISTRY_AUTH_H
#define I2K_BUILDER_REGISTRY_AUTH_H

#include <stddef.h>

#include "builder/base/error.h"

#define I2K_AUTH_CHALLENGE_MAX 4096  /* longest WWW-Authenticate value we parse */
#define I2K_AUTH_TOKEN_MAX (1 << 20) /* token server response */

enum i2k_auth_scheme { I2K_AUTH_NONE, I2K_AUTH_BASIC, I2K_AUTH_BEARER };

struct i2k_challenge {
	enum i2k_auth_scheme scheme;
	char *realm;   /* NULL if absent */
	char *service; /* NULL if absent */
	char *scope;   /* NULL if absent */
};

/* Parses the first challenge of a WWW-Authenticate header value, e.g.
 * `Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"`.
 * Scheme names are case-insensitive; parameter values are tokens or quoted
 * strings (with \-escapes); unknown parameters are ignored. Errors
 * (I2K_ERR_REGISTRY "malformed WWW-Authenticate challenge: why"): unknown
 * scheme, syntax error, longer than I2K_AUTH_CHALLENGE_MAX, Bearer without
 * realm. Caller clears *out with i2k_challenge_clear (also after failure). */
int i2k_challenge_parse(const char *header, struct i2k_challenge *out, struct i2k_error **err);
void i2k_challenge_clear(struct i2k_challenge *c);

/* Extracts "token" (or "access_token") and "expires_in" (seconds; 60 when
 * absent or < 60, per the distribution spec) from a token server reply.
 * *token is the caller's. Errors: I2K_ERR_REGISTRY "invalid token response:
 * why". */
int i2k_auth_token_parse(const char *json, size_t len, char **token, long *expires_in,
			 struct i2k_error **err);

/* Standard base64 (RFC 4648, with padding). Encode never fails (caller
 * frees). Decode accepts missing padding, rejects other bad input with -1;
 * *out is NUL-terminated and the caller's. */
char *i2k_base64_encode(const void *data, size_t len);
int i2k_base64_decode(const char *s, size_t slen, char **out, size_t *outlen);

/* "Basic base64(user:pass)" — the Authorization header value. Caller frees. */
char *i2k_auth_basic_header(const char *user, const char *pass);

#endif
