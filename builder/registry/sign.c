/* sign.c — see sign.h. */
#include "builder/registry/sign.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/auth.h"
#include "builder/registry/manifest.h"
#include "builder/registry/push.h"
#include "builder/registry/ref.h"
#include "builder/registry/session.h"
#include "builder/registry/sigpayload.h"

static int sign_ref(struct i2k_registry_session *ss, const struct i2k_ref *ref,
		    const struct i2k_sigkey *key, char d[I2K_DIGEST_LEN + 1],
		    struct i2k_error **err)
{
	_cleanup_free_ char *doc = NULL;
	size_t len = 0;
	if (i2k_registry_session_get_manifest(ss, ref->digest ? ref->digest : ref->tag, ref->digest,
					      &doc, &len, d, err) < 0)
		return -1;
	_cleanup_free_ char *identity = i2k_xasprintf("%s/%s", ref->registry, ref->repository);
	size_t plen = 0;
	_cleanup_free_ char *payload = i2k_sig_payload_build(identity, d, &plen);
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	if (i2k_sigkey_sign(key, payload, plen, &raw, &rawlen, err) < 0)
		return -1;
	_cleanup_free_ char *b64 = i2k_base64_encode(raw, rawlen);
	free(raw);
	char pd[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(payload, plen, pd);

	/* The existing signature manifest, if any: keep its signatures. */
	_cleanup_free_ char *tag = i2k_sig_tag(d);
	_cleanup_free_ char *old = NULL;
	size_t olen = 0;
	char od[I2K_DIGEST_LEN + 1];
	struct i2k_sig_manifest m = {0};
	struct i2k_error *e = NULL;
	if (i2k_registry_session_get_manifest(ss, tag, NULL, &old, &olen, od, &e) == 0) {
		if (i2k_sig_manifest_parse(old, olen, &m, err) < 0)
			return i2k_error_wrap(err, "%s", tag);
	} else if (e->code != I2K_ERR_NOTFOUND) {
		i2k_error_propagate(err, &e);
		return -1;
	}
	i2k_error_free(e);
	bool dup = false;
	for (size_t i = 0; i < m.n && !dup; i++)
		dup = strcmp(m.layers[i].payload.digest, pd) == 0 && m.layers[i].signature &&
		      strcmp(m.layers[i].signature, b64) == 0;
	if (!dup) {
		m.layers = i2k_xrealloc(m.layers, (m.n + 1) * sizeof(*m.layers));
		struct i2k_sig_layer *l = &m.layers[m.n++];
		*l = (struct i2k_sig_layer){
		    .payload = {.media_type = i2k_xstrdup(I2K_SIG_PAYLOAD_MT),
				.size = (int64_t)plen},
		    .signature = i2k_xstrdup(b64)};
		memcpy(l->payload.digest, pd, sizeof(pd));
	}
	size_t clen = 0, mlen = 0;
	_cleanup_free_ char *cfg = i2k_sig_config_build(&m, &clen);
	free(m.config.media_type);
	m.config.media_type = i2k_xstrdup("application/vnd.oci.image.config.v1+json");
	m.config.size = (int64_t)clen;
	i2k_sha256_digest(cfg, clen, m.config.digest);
	_cleanup_free_ char *manifest = i2k_sig_manifest_build(&m, &mlen);
	int rc = i2k_push_blob(ss, pd, payload, plen, err);
	if (rc == 0)
		rc = i2k_push_blob(ss, m.config.digest, cfg, clen, err);
	if (rc == 0)
		rc = i2k_push_manifest(ss, tag, I2K_MT_OCI_MANIFEST, manifest, mlen, err);
	i2k_sig_manifest_clear(&m);
	return rc;
}

int i2k_sign_image(struct i2k_registry *r, const char *image, const struct i2k_sigkey *key,
		   char signed_digest[I2K_DIGEST_LEN + 1], struct i2k_error **err)
{
	struct i2k_ref ref;
	if (i2k_ref_parse(image, &ref, err) < 0)
		return -1;
	_cleanup_(i2k_registry_session_freep) struct i2k_registry_session *ss = NULL;
	int rc = i2k_registry_session_open(r, &ref, true, &ss, err);
	if (rc == 0)
		rc = sign_ref(ss, &ref, key, signed_digest, err);
	i2k_registry_session_free(I2K_STEAL(ss));
	i2k_ref_clear(&ref);
	if (rc < 0 && *err && !i2k_str_has_prefix((*err)->msg, image))
		return i2k_error_wrap(err, "%s", image);
	return rc;
}
