/* fetch.h — "make this image available locally": the cache policy on top of
 * the store and the registry client. Used by `i2kit build` and
 * `i2kit cache pull`.
 *
 *   cached (ref in index.json, manifest's platform matches) and !pull_always
 *       → use it, no network at all;
 *   offline and not cached → I2K_ERR_OFFLINE
 *       "IMAGE: not in the cache and --offline was given" — no socket opened;
 *   otherwise → i2k_registry_pull (a tag is refreshed when pull_always).
 */
#ifndef I2K_BUILDER_REGISTRY_FETCH_H
#define I2K_BUILDER_REGISTRY_FETCH_H

#include <stdbool.h>

#include "builder/base/hash.h"
#include "builder/registry/registry.h"
#include "builder/store/store.h"

struct i2k_sig_policy;

struct i2k_fetch_opts {
	bool offline;
	bool pull_always; /* --pull: re-resolve tags even when cached */
	struct i2k_platform platform;
	struct i2k_registry_opts registry;
	/* Signature keys (sigverify.h), borrowed; NULL or no key for an image:
	 * not verified. An image a key applies to is returned only once its
	 * signature verified (from the cached evidence, else fetched; offline
	 * needs the evidence cached; --pull fetches it afresh). */
	const struct i2k_sig_policy *verify;
};

struct i2k_fetcher;

/* The fetcher borrows s and o (both must outlive it); the registry client is
 * created lazily, on the first cache miss, never when offline. */
int i2k_fetcher_new(struct i2k_store *s, const struct i2k_fetch_opts *o, struct i2k_fetcher **out,
		    struct i2k_error **err);
void i2k_fetcher_free(struct i2k_fetcher *f);
void i2k_fetcher_freep(struct i2k_fetcher **f);

/* Makes `image` (as written by the user) available; writes the platform
 * manifest digest to manifest_digest. */
int i2k_fetch_image(struct i2k_fetcher *f, const char *image,
		    char manifest_digest[I2K_DIGEST_LEN + 1], struct i2k_error **err);

/* Fetches several images, in parallel where useful; digests[i] matches
 * images[i]. Stops at the first error (reported with the image name). */
int i2k_fetch_images(struct i2k_fetcher *f, const char *const *images, size_t n,
		     char (*digests)[I2K_DIGEST_LEN + 1], struct i2k_error **err);

#endif
