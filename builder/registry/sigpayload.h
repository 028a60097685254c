/* sigpayload.h — cosign's signature formats (its SIGNATURE_SPEC), pure
 * functions over bytes:
 *
 *   tag        the signatures of manifest sha256:HEX live in the same
 *              repository under the tag "sha256-HEX.sig";
 *   manifest   an OCI image manifest whose layers are payload blobs of media
 *              type application/vnd.dev.cosign.simplesigning.v1+json, each
 *              descriptor carrying the base64 signature over the payload's
 *              bytes in the annotation "dev.cosignproject.cosign/signature";
 *   payload    "simple signing" JSON:
 *              {"critical":{"identity":{"docker-reference":REPO},
 *                           "image":{"docker-manifest-digest":DIGEST},
 *                           "type":"cosign container image signature"},
 *               "optional":null}
 *              The signed digest is the manifest (or index) digest the
 *              reference resolves to. docker-reference is ignored when
 *              verifying (as the spec says).
 */
#ifndef I2K_BUILDER_REGISTRY_SIGPAYLOAD_H
#define I2K_BUILDER_REGISTRY_SIGPAYLOAD_H

#include <stddef.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/store/store.h"

#define I2K_SIG_PAYLOAD_MT "application/vnd.dev.cosign.simplesigning.v1+json"
#define I2K_SIG_ANNOTATION "dev.cosignproject.cosign/signature"
#define I2K_SIG_TYPE "cosign container image signature"
#define I2K_SIG_PAYLOAD_MAX (64u << 10)
#define I2K_SIG_MAX_LAYERS 256

/* "sha256-HEX.sig" for digest "sha256:HEX". Caller frees. */
char *i2k_sig_tag(const char *digest);

/* The payload for digest, identity docker_reference (a repository, e.g.
 * "127.0.0.1:5000/fixtures/web"). Deterministic; caller frees. */
char *i2k_sig_payload_build(const char *docker_reference, const char *digest, size_t *len);
/* Checks critical.type and reads critical.image.docker-manifest-digest (the
 * key is matched case-insensitively, as cosign's Go decoder does). Errors:
 * I2K_ERR_INTEGRITY "signature payload: why". */
int i2k_sig_payload_parse(const char *data, size_t len, char digest[I2K_DIGEST_LEN + 1],
			  struct i2k_error **err);

/* One signature of a signature manifest. */
struct i2k_sig_layer {
	struct i2k_descriptor payload; /* media_type owned */
	char *signature;	       /* base64, owned; NULL when the layer has none */
};
struct i2k_sig_manifest {
	struct i2k_descriptor config; /* media_type owned */
	struct i2k_sig_layer *layers; /* only simple-signing layers */
	size_t n;
};
/* Parses a signature manifest; layers of other media types are skipped.
 * Errors: I2K_ERR_INTEGRITY "signature manifest: why". */
int i2k_sig_manifest_parse(const char *data, size_t len, struct i2k_sig_manifest *out,
			   struct i2k_error **err);
void i2k_sig_manifest_clear(struct i2k_sig_manifest *m);
/* Serialises m as an OCI image manifest (config as given; each layer with
 * its signature annotation). Deterministic; caller frees. */
char *i2k_sig_manifest_build(const struct i2k_sig_manifest *m, size_t *len);
/* The config blob i2kit pushes with a signature manifest (an OCI image
 * config whose rootfs lists the payload digests). Caller frees. */
char *i2k_sig_config_build(const struct i2k_sig_manifest *m, size_t *len);

#endif
