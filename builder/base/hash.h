/* hash.h — streaming SHA-256 and OCI digest strings ("sha256:<64 hex>"). */
#ifndef I2K_BUILDER_BASE_HASH_H
#define I2K_BUILDER_BASE_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

#define I2K_DIGEST_LEN 71 /* "sha256:" + 64 hex, without NUL */

struct i2k_sha256; /* opaque streaming context */

/* Returns a new context (caller frees with i2k_sha256_free); aborts on OOM. */
struct i2k_sha256 *i2k_sha256_new(void);
void i2k_sha256_update(struct i2k_sha256 *h, const void *data, size_t len);
/* Writes "sha256:<hex>" + NUL into out (at least I2K_DIGEST_LEN + 1 bytes).
 * The context may not be updated afterwards. */
void i2k_sha256_final(struct i2k_sha256 *h, char out[I2K_DIGEST_LEN + 1]);
/* Raw 32-byte result; same rule as i2k_sha256_final. */
void i2k_sha256_final_raw(struct i2k_sha256 *h, uint8_t out[32]);
void i2k_sha256_free(struct i2k_sha256 *h);
void i2k_sha256_freep(struct i2k_sha256 **h);

/* One-shot digest of a buffer as "sha256:<hex>". */
void i2k_sha256_digest(const void *data, size_t len, char out[I2K_DIGEST_LEN + 1]);
/* Digest of a whole file descriptor from its current offset to EOF. */
int i2k_sha256_fd(int fd, char out[I2K_DIGEST_LEN + 1], uint64_t *size_out, struct i2k_error **err);

/* Feeds len bytes of fd, from off, into h (pread: fd's offset does not
 * move). A file shorter than off + len is I2K_ERR_IO "unexpected end of
 * file"; h has then taken part of the range and is only good to free. */
int i2k_sha256_update_fd(struct i2k_sha256 *h, int fd, uint64_t off, uint64_t len,
			 struct i2k_error **err);

/* True when s is "sha256:" followed by exactly 64 lower-case hex digits.
 * Every digest taken from outside (manifests, refs, CLI) must pass this
 * before it is used to build a path. */
bool i2k_digest_valid(const char *s);

#endif
