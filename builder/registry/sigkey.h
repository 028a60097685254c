/* sigkey.h — signing keys for image signatures: the OpenSSL boundary.
 *
 * Keys are PEM files: a public key ("PUBLIC KEY", SubjectPublicKeyInfo, as
 * `openssl pkey -pubout` and `cosign public-key` write) or an unencrypted
 * private key ("PRIVATE KEY" PKCS#8 or "EC PRIVATE KEY"). Two schemes:
 *   ECDSA P-256 — signatures are DER (ASN.1) over SHA-256 of the message,
 *                 as cosign makes them;
 *   Ed25519     — pure Ed25519 over the message.
 * Any other key type or curve is I2K_ERR_UNSUPPORTED naming the file;
 * encrypted keys (including cosign's "ENCRYPTED SIGSTORE PRIVATE KEY") are
 * refused (never prompted for). Keys hold no global state; a loaded key may
 * be used by several threads (each call makes its own EVP context).
 */
#ifndef I2K_BUILDER_REGISTRY_SIGKEY_H
#define I2K_BUILDER_REGISTRY_SIGKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"

enum i2k_sigkey_kind { I2K_SIGKEY_ECDSA_P256 = 1, I2K_SIGKEY_ED25519 };

struct i2k_sigkey;

/* Parses PEM text; name is used in messages (the file name). private_key
 * selects which kind of PEM is expected. Caller owns *out. Errors:
 * I2K_ERR_CONFIG "NAME: not a PEM public key" / "...private key ...",
 * I2K_ERR_UNSUPPORTED "NAME: RSA keys are not supported (ECDSA P-256 or Ed25519)". */
int i2k_sigkey_parse(const char *pem, size_t len, bool private_key, const char *name,
		     struct i2k_sigkey **out, struct i2k_error **err);
/* Reads (at most 64 KiB) and parses the file at path. */
int i2k_sigkey_load(const char *path, bool private_key, struct i2k_sigkey **out,
		    struct i2k_error **err);
void i2k_sigkey_free(struct i2k_sigkey *k);
void i2k_sigkey_freep(struct i2k_sigkey **k);

const char *i2k_sigkey_name(const struct i2k_sigkey *k); /* borrowed */
enum i2k_sigkey_kind i2k_sigkey_kind(const struct i2k_sigkey *k);

/* True when sig is a valid signature of msg under k (a private key
 * verifies with its public half). Never an error: a malformed signature is
 * simply false. */
bool i2k_sigkey_verify(const struct i2k_sigkey *k, const void *msg, size_t len, const void *sig,
		       size_t siglen);
/* Signs msg with a private key. Caller frees *sig. */
int i2k_sigkey_sign(const struct i2k_sigkey *k, const void *msg, size_t len, unsigned char **sig,
		    size_t *siglen, struct i2k_error **err);
/* The public half as PEM ("-----BEGIN PUBLIC KEY-----..."). Caller frees. */
char *i2k_sigkey_public_pem(const struct i2k_sigkey *k);

#endif
