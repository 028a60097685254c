/* push.c — see push.h. */
#include "builder/registry/push.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

/* The absolute upload URL for a Location header (absolute, or a path on the
 * registry's origin). NULL when unusable. */
static char *upload_url(const char *base, const char *loc)
{
	if (i2k_str_has_prefix(loc, "https://") || i2k_str_has_prefix(loc, "http://"))
		return i2k_xstrdup(loc);
	if (loc[0] != '/')
		return NULL;
	const char *host = strstr(base, "://");
	const char *path = host ? strchr(host + 3, '/') : NULL;
	if (path == NULL)
		return NULL;
	return i2k_xasprintf("%.*s%s", (int)(path - base), base, loc);
}

static int expect(struct i2k_registry_session *s, const char *what, struct i2k_http_resp *resp,
		  long want, struct i2k_error **err)
{
	if (resp->status == want || (want == 201 && resp->status == 200))
		return 0;
	return i2k_registry_session_status_error(s, what, resp, err);
}

int i2k_push_blob(struct i2k_registry_session *s, const char *digest, const void *data, size_t len,
		  struct i2k_error **err)
{
	char got[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(data, len, got);
	if (strcmp(got, digest) != 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "push: blob %s has digest %s", digest,
				     got);
	const char *base = i2k_registry_session_base(s);
	_cleanup_free_ char *what = i2k_xasprintf("uploading blob %s", digest);
	_cleanup_free_ char *head_url = i2k_xasprintf("%s/blobs/%s", base, digest);
	struct i2k_http_req head = {.url = head_url, .head = true};
	struct i2k_http_resp resp = {0};
	int rc = i2k_registry_session_do(s, &head, what, &resp, err);
	bool have = rc == 0 && resp.status == 200;
	i2k_http_resp_clear(&resp);
	if (rc < 0)
		return -1;
	if (have)
		return 0;
	_cleanup_free_ char *post_url = i2k_xasprintf("%s/blobs/uploads/", base);
	struct i2k_http_req post = {.url = post_url, .method = "POST"};
	rc = i2k_registry_session_do(s, &post, what, &resp, err);
	if (rc == 0)
		rc = expect(s, what, &resp, 202, err);
	_cleanup_free_ char *loc =
	    rc == 0 && resp.location ? upload_url(base, resp.location) : NULL;
	i2k_http_resp_clear(&resp);
	if (rc < 0)
		return -1;
	if (loc == NULL)
		return i2k_error_set(err, I2K_ERR_REGISTRY, "%s: %s: no usable upload location",
				     i2k_registry_session_name(s), what);
	_cleanup_free_ char *put_url =
	    i2k_xasprintf("%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', digest);
	struct i2k_http_req put = {.url = put_url, .method = "PUT", .body = data, .body_len = len};
	rc = i2k_registry_session_do(s, &put, what, &resp, err);
	if (rc == 0)
		rc = expect(s, what, &resp, 201, err);
	i2k_http_resp_clear(&resp);
	return rc;
}

int i2k_push_manifest(struct i2k_registry_session *s, const char *reference, const char *media_type,
		      const void *data, size_t len, struct i2k_error **err)
{
	_cleanup_free_ char *url =
	    i2k_xasprintf("%s/manifests/%s", i2k_registry_session_base(s), reference);
	_cleanup_free_ char *what = i2k_xasprintf("pushing manifest %s", reference);
	struct i2k_http_req put = {
	    .url = url, .method = "PUT", .body = data, .body_len = len, .content_type = media_type};
	struct i2k_http_resp resp = {0};
	int rc = i2k_registry_session_do(s, &put, what, &resp, err);
	if (rc == 0)
		rc = expect(s, what, &resp, 201, err);
	i2k_http_resp_clear(&resp);
	return rc;
}
