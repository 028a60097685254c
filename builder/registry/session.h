/* session.h — an authenticated conversation with one repository, for what
 * is not a pull: signatures (sigverify.c, sign.c) and pushes (push.c).
 * Implemented in registry.c (it shares the pull's authentication, token
 * cache, retries, plain-HTTP probing and error wording).
 *
 * A session talks to the image's registry itself, never to a mirror
 * (signatures are read and pushed where the image lives). Credentials
 * come from the Docker config / credential helpers at the first challenge,
 * as for a pull. A session is used by one thread at a time. The ref passed to open must
 * outlive the session. push=true asks the token server for the
 * "pull,push" scope.
 */
#ifndef I2K_BUILDER_REGISTRY_SESSION_H
#define I2K_BUILDER_REGISTRY_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/registry/http.h"
#include "builder/registry/ref.h"
#include "builder/registry/registry.h"
#include "builder/store/store.h"

struct i2k_registry_session;

/* Caller owns *out (free with i2k_registry_session_free). Errors name the
 * image (i2k_ref_string(ref)). */
int i2k_registry_session_open(struct i2k_registry *r, const struct i2k_ref *ref, bool push,
			      struct i2k_registry_session **out, struct i2k_error **err);
void i2k_registry_session_free(struct i2k_registry_session *s);
void i2k_registry_session_freep(struct i2k_registry_session **s);

/* "SCHEME://HOST/v2/REPO" (borrowed) and the canonical image name. */
const char *i2k_registry_session_base(const struct i2k_registry_session *s);
const char *i2k_registry_session_name(const struct i2k_registry_session *s);

/* One request with the registry's auth and retries: 0 with any status in
 * resp (the caller checks and clears it), -1 with *err on transport
 * failure (what names the step in that error). */
int i2k_registry_session_do(struct i2k_registry_session *s, struct i2k_http_req *req,
			    const char *what, struct i2k_http_resp *resp, struct i2k_error **err);
/* A non-2xx resp as an error: I2K_ERR_NOTFOUND for 404 / *_UNKNOWN,
 * I2K_ERR_AUTH for 401/403, else I2K_ERR_REGISTRY; returns -1. */
int i2k_registry_session_status_error(struct i2k_registry_session *s, const char *what,
				      const struct i2k_http_resp *resp, struct i2k_error **err);

/* GETs manifests/REFERENCE (tag or digest): the bytes (caller frees *data)
 * and their sha256. want_digest (or NULL) must match. A 404 is
 * I2K_ERR_NOTFOUND. */
int i2k_registry_session_get_manifest(struct i2k_registry_session *s, const char *reference,
				      const char *want_digest, char **data, size_t *len,
				      char digest[I2K_DIGEST_LEN + 1], struct i2k_error **err);
/* Downloads blob d into st (digest-verified, resumable) unless present;
 * refused before any byte when d->size exceeds max. */
int i2k_registry_session_get_blob(struct i2k_registry_session *s, struct i2k_store *st,
				  const struct i2k_descriptor *d, uint64_t max,
				  struct i2k_error **err);

#endif
