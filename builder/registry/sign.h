/* sign.h — `i2kit sign`: cosign-compatible signatures pushed to a registry.
 *
 * For an image reference, the digest it resolves to in the registry (a tag
 * to an index signs the index, as cosign does; a digest-pinned reference
 * signs that digest) gets a simple-signing payload (sigpayload.h) whose
 * identity is REGISTRY/REPO, signed with the private key; the payload blob,
 * a config blob and the signature manifest are pushed to the same
 * repository under the tag sha256-HEX.sig. Existing signatures there are
 * kept (the new one is appended; an identical payload+signature is not
 * added twice); layers of other media types in an existing signature
 * manifest are not carried over.
 */
#ifndef I2K_BUILDER_REGISTRY_SIGN_H
#define I2K_BUILDER_REGISTRY_SIGN_H

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/registry/registry.h"
#include "builder/registry/sigkey.h"

/* Signs image (as written). signed_digest receives the digest signed.
 * Errors name the image. */
int i2k_sign_image(struct i2k_registry *r, const char *image, const struct i2k_sigkey *key,
		   char signed_digest[I2K_DIGEST_LEN + 1], struct i2k_error **err);

#endif
