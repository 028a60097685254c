/* sigverify.h — verifying cosign-style image signatures (`--verify-key`).
 *
 * What is checked, for an image whose cached platform manifest is P:
 *  1. the signed document: the manifest or index the reference resolves to
 *     in the registry (its digest D; cosign signs the digest the user
 *     referenced, so for a multi-platform tag D is the index). D must lead
 *     to P: D == P, or D is a Docker manifest whose OCI form is P, or D is
 *     an index listing the platform manifest whose bytes (or OCI form) are
 *     P. When the index itself carries no signature, a signature on the
 *     platform manifest (what `cosign sign --recursive` adds) is accepted
 *     instead.
 *  2. the signature manifest under the tag sha256-HEX(D).sig in the same
 *     repository (see sigpayload.h); each simple-signing payload blob is
 *     downloaded digest-verified;
 *  3. some payload names D in critical.image.docker-manifest-digest and its
 *     base64 signature verifies over the payload's bytes with one of the
 *     keys.
 * Failures are I2K_ERR_INTEGRITY (or the registry's error for a missing
 * signature: I2K_ERR_NOTFOUND), one line: "signature: no signature for
 * sha256:D (tag sha256-D.sig not found)", "signature: the payload signs
 * sha256:X, not sha256:D", "signature: no signature verifies with KEY (N
 * checked)". Callers prefix the image name.
 *
 * The cache: after a fetch, the evidence (signature manifest, payloads,
 * signed document, platform manifest) is stored as ordinary verified blobs,
 * held by a ref "REGISTRY/REPO:sha256-HEX(P).i2kit-sig" whose manifest
 * lists them as layers (so gc keeps them, `cache verify` checks them and
 * `cache export` can carry them). Verification always runs over those stored
 * blobs, online or offline, with the keys given now: nothing "verified" is
 * remembered, only the evidence.
 */
#ifndef I2K_BUILDER_REGISTRY_SIGVERIFY_H
#define I2K_BUILDER_REGISTRY_SIGVERIFY_H

#include <stddef.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/registry/ref.h"
#include "builder/registry/registry.h"
#include "builder/registry/sigkey.h"
#include "builder/store/store.h"

#define I2K_SIG_BUNDLE_SUFFIX ".i2kit-sig"

/* Which keys apply to which image: per-image keys (YAML) win over the
 * default keys (--verify-key, any of which may verify). */
struct i2k_sig_policy;
int i2k_sig_policy_new(struct i2k_sig_policy **out);
void i2k_sig_policy_free(struct i2k_sig_policy *p);
void i2k_sig_policy_freep(struct i2k_sig_policy **p);
/* Loads the public key at path as a default key. */
int i2k_sig_policy_add_default(struct i2k_sig_policy *p, const char *path, struct i2k_error **err);
/* Loads the public key at path for image (as written; compared by its
 * canonical name). Several keys for one image: any may verify. */
int i2k_sig_policy_add_image(struct i2k_sig_policy *p, const char *image, const char *path,
			     struct i2k_error **err);
/* Images whose canonical name starts with prefix are not checked (i2kit's
 * own bundled init). */
void i2k_sig_policy_exempt(struct i2k_sig_policy *p, const char *prefix);
/* The keys that apply to the canonical name (borrowed; n = 0: none). */
const struct i2k_sigkey *const *i2k_sig_policy_keys(const struct i2k_sig_policy *p,
						    const char *canonical, size_t *n);

/* The evidence as bytes, for the pure check (unit tests, and the store
 * path below). payload() returns a payload blob's bytes, digest-verified
 * (caller frees *data). platform_doc may be NULL when signed_doc is not an
 * index. */
struct i2k_sig_evidence {
	const char *sig_manifest;
	size_t sig_manifest_len;
	const char *signed_doc;
	size_t signed_len;
	const char *platform_doc;
	size_t platform_len;
	int (*payload)(void *ctx, const struct i2k_descriptor *d, char **data, size_t *len,
		       struct i2k_error **err);
	void *ctx;
};
/* Checks ev against image digest P and the keys (see the top). */
int i2k_sig_verify_evidence(const struct i2k_sig_evidence *ev, const char *image_digest,
			    const struct i2k_sigkey *const *keys, size_t nkeys,
			    struct i2k_error **err);

/* The bundle ref name for image digest P of ref. Caller frees. */
char *i2k_sig_bundle_name(const struct i2k_ref *ref, const char *image_digest);

/* Verifies from the cache only. Returns 1 verified, 0 when no evidence is
 * cached (no error set), -1 when the cached evidence fails (*err). */
int i2k_sig_check_cached(struct i2k_store *s, const struct i2k_ref *ref, const char *image_digest,
			 const struct i2k_sigkey *const *keys, size_t nkeys,
			 struct i2k_error **err);
/* Fetches the evidence for image digest P from the registry into the
 * cache (replacing an older bundle), then verifies it as above. p selects
 * the platform when the reference names an index. */
int i2k_sig_fetch_and_check(struct i2k_registry *r, struct i2k_store *s, const struct i2k_ref *ref,
			    const struct i2k_platform *p, const char *image_digest,
			    const struct i2k_sigkey *const *keys, size_t nkeys,
			    struct i2k_error **err);

#endif
