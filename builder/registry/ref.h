/* ref.h — image references: "alpine", "alpine:3.19", "user/app@sha256:…",
 * "127.0.0.1:5000/fixtures/web:latest", "docker.io/library/alpine:3.19@sha256:…".
 *
 * Normalisation follows Docker's rules: no registry host (the first
 * component has no '.' or ':' and is not "localhost") → "docker.io"; a
 * single-component repository on docker.io gets "library/"; no tag and no
 * digest → tag "latest". Repository components are lower-case
 * [a-z0-9]+([._-]|__)[a-z0-9]+; tags [A-Za-z0-9_][A-Za-z0-9_.-]{0,127};
 * digests must satisfy i2k_digest_valid.
 */
#ifndef I2K_BUILDER_REGISTRY_REF_H
#define I2K_BUILDER_REGISTRY_REF_H

#include "builder/base/error.h"

struct i2k_ref {
	char *registry;	  /* "docker.io", "127.0.0.1:5000", "localhost:5000" */
	char *repository; /* "library/alpine", "fixtures/web" */
	char *tag;	  /* NULL when only a digest was given */
	char *digest;	  /* NULL when not pinned */
};

/* Parses and normalises s. Errors: I2K_ERR_CONFIG "invalid image reference
 * \"s\": why". Caller clears *out with i2k_ref_clear. */
int i2k_ref_parse(const char *s, struct i2k_ref *out, struct i2k_error **err);
/* Canonical name, used as the cache's ref name:
 * "REGISTRY/REPO:TAG", "REGISTRY/REPO@DIGEST" or "REGISTRY/REPO:TAG@DIGEST".
 * Caller frees. */
char *i2k_ref_string(const struct i2k_ref *r);
/* Host to contact: "registry-1.docker.io" for docker.io, else registry. */
const char *i2k_ref_api_host(const struct i2k_ref *r);
void i2k_ref_clear(struct i2k_ref *r);

#endif
