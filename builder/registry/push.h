/* push.h — the minimal upload side of the distribution API, for what i2kit
 * writes to a registry (signatures): a blob as one monolithic upload
 * (HEAD to skip one already there, POST /blobs/uploads/, PUT LOCATION
 * ?digest=...), and a manifest PUT under a tag. The session must have been
 * opened with push=true (token scope "pull,push"). Blobs are small and held
 * in memory; no chunked or cross-repository mounts.
 */
#ifndef I2K_BUILDER_REGISTRY_PUSH_H
#define I2K_BUILDER_REGISTRY_PUSH_H

#include <stddef.h>

#include "builder/base/error.h"
#include "builder/registry/session.h"

/* Uploads data (whose sha256 must be digest) unless the registry has it. */
int i2k_push_blob(struct i2k_registry_session *s, const char *digest, const void *data, size_t len,
		  struct i2k_error **err);
/* PUTs a manifest under tag (or digest) with media_type. */
int i2k_push_manifest(struct i2k_registry_session *s, const char *reference, const char *media_type,
		      const void *data, size_t len, struct i2k_error **err);

#endif
