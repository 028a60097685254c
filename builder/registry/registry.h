/* registry.h — an OCI distribution API client (libcurl).
 *
 * Speaks Docker v2 schema 2 and OCI manifests and indexes; picks the
 * platform from an index by os/architecture (and variant when given);
 * authenticates anonymously, with a bearer-token challenge
 * (realm/service/scope), with basic auth, or with an OAuth2 refresh token
 * (Docker's "identitytoken": POST grant_type=refresh_token to the realm,
 * falling back to GET when that answers 404 or 405, as the distribution
 * spec says), using credentials found as Docker finds them (creds.h:
 * credHelpers, credsStore, auths of ~/.docker/config.json or
 * $DOCKER_CONFIG/config.json) — looked up only when a registry asks for
 * authentication, once per registry host. Secrets are never put in an
 * error message. Mirrors (mirror.h) of a registry are tried first, in order;
 * a mirror that cannot be reached, lacks the image or refuses access is
 * passed over for the next one and finally the registry itself (a warning
 * through i2k_warn says so), while a mirror serving bad data (digest or
 * size mismatch) fails the pull. TLS is
 * verified; plain HTTP only for localhost/127.0.0.1 and hosts listed as
 * insecure. Every blob's sha256 is checked while it streams into the store;
 * 429/5xx/timeouts are retried with backoff; an interrupted blob resumes with
 * an HTTP Range request; a resumed blob whose digest does not match (the
 * partial bytes were bad) is downloaded once more from byte 0; size limits
 * are checked before a byte is requested and while streaming, so a blob
 * over a limit is never committed; layers download in parallel. Errors name
 * the image ("REF: blob sha256:...: HOST: ...").
 */
#ifndef I2K_BUILDER_REGISTRY_REGISTRY_H
#define I2K_BUILDER_REGISTRY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/progress.h"
#include "builder/registry/mirror.h"
#include "builder/registry/ref.h"
#include "builder/store/store.h"

struct i2k_platform {
	const char *os;	     /* "linux" */
	const char *arch;    /* "amd64", "arm64" */
	const char *variant; /* NULL = any (for arm64 prefer "v8" or none) */
};

/* Progress events for the CLI's display (called from the pulling thread). */
struct i2k_progress {
	const char *ref;
	const char *digest; /* blob being transferred, NULL for a whole-image event */
	uint64_t done, total;
	enum { I2K_PROGRESS_START, I2K_PROGRESS_DATA, I2K_PROGRESS_DONE, I2K_PROGRESS_CACHED } kind;
};
typedef void (*i2k_progress_fn)(const struct i2k_progress *p, void *ctx);
/* An i2k_progress_fn that passes each event on as an I2K_STAGE_FETCH
 * stage event (START → BEGIN, DATA → UPDATE, DONE → END, CACHED → CACHED;
 * ref → what, digest → detail) to the struct i2k_stage_cb given as ctx. */
void i2k_registry_progress_stage(const struct i2k_progress *p, void *ctx);

struct i2k_registry_opts {
	const char *const *insecure_hosts; /* "host[:port]" allowed over plain HTTP */
	size_t n_insecure_hosts;
	const char *ca_file; /* extra CA bundle (PEM); NULL → $I2KIT_CA_FILE or system */
	const char *docker_config_dir; /* NULL → $DOCKER_CONFIG or ~/.docker */
	/* Mirrors (copied), then those of mirrors_file (NULL →
	 * $I2KIT_MIRRORS_FILE when set); i2k_registry_new fails on a bad file
	 * or on an http:// mirror that the plain-HTTP policy refuses. */
	const struct i2k_mirror *mirrors;
	size_t n_mirrors;
	const char *mirrors_file;
	int parallel;	 /* concurrent blob downloads, 0 → 4 */
	int max_retries; /* 0 → 5 */
	/* Slow peers (see http.h): a transfer moving less than low_speed_limit
	 * bytes/s over a window of low_speed_timeout_s seconds, or running past
	 * transfer_timeout_s + blob size / transfer_rate seconds, is cut off
	 * (and retried, resuming). 0 → $I2KIT_LOW_SPEED_TIMEOUT (30),
	 * $I2KIT_LOW_SPEED_LIMIT (1024), $I2KIT_TRANSFER_TIMEOUT (600),
	 * $I2KIT_TRANSFER_RATE (32768). */
	long low_speed_timeout_s;
	long low_speed_limit;
	long transfer_timeout_s;
	long transfer_rate;
	/* Largest layer blob accepted, checked against the descriptor before
	 * the download, against Content-Length, and while streaming; a config
	 * blob is limited to I2K_CONFIG_MAX. 0 → $I2KIT_MAX_LAYER_SIZE bytes,
	 * else 64 GiB. */
	uint64_t max_layer_size;
	i2k_progress_fn progress;
	void *progress_ctx;
};

struct i2k_registry;

int i2k_registry_new(const struct i2k_registry_opts *o, struct i2k_registry **out,
		     struct i2k_error **err);
void i2k_registry_free(struct i2k_registry *r);
void i2k_registry_freep(struct i2k_registry **r);

/* Resolves ref (tag or digest) to the manifest for platform p, downloads the
 * manifest, config and every layer not yet in the store, and records the
 * ref in the store's index.json under i2k_ref_string(ref). *out describes
 * the platform manifest (caller frees out->media_type). A digest-pinned ref
 * that names an index is still resolved to the platform's manifest.
 * Errors: I2K_ERR_NOTFOUND (no such image/tag/platform), I2K_ERR_AUTH,
 * I2K_ERR_NETWORK, I2K_ERR_REGISTRY, I2K_ERR_INTEGRITY. */
int i2k_registry_pull(struct i2k_registry *r, struct i2k_store *s, const struct i2k_ref *ref,
		      const struct i2k_platform *p, struct i2k_descriptor *out,
		      struct i2k_error **err);

#endif
