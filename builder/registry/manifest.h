/* manifest.h — image manifest and index JSON (OCI and Docker v2 schema 2),
 * platform selection, and reading a stored image's manifest/config back from
 * the store. Pure parsing: no network. Used by registry.c, fetch.c and the
 * `cache ls` command.
 */
#ifndef I2K_BUILDER_REGISTRY_MANIFEST_H
#define I2K_BUILDER_REGISTRY_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/registry/registry.h"
#include "builder/store/store.h"

#define I2K_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define I2K_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define I2K_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define I2K_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
/* The Accept header for manifest requests: all four types above. */
#define I2K_MANIFEST_ACCEPT                                                                        \
	I2K_MT_OCI_MANIFEST ", " I2K_MT_OCI_INDEX ", " I2K_MT_DOCKER_MANIFEST                      \
			    ", " I2K_MT_DOCKER_LIST

#define I2K_MANIFEST_MAX (4u << 20) /* manifest / index bytes */
#define I2K_CONFIG_MAX (16u << 20)  /* image config bytes */
#define I2K_MANIFEST_MAX_ENTRIES 4096

enum i2k_manifest_kind { I2K_KIND_UNSUPPORTED, I2K_KIND_MANIFEST, I2K_KIND_INDEX };

/* Decides what a manifest response is: from content_type (may be NULL or
 * carry parameters) first, else the JSON's "mediaType", else by shape
 * ("manifests" → index, "layers" → manifest). *media_type gets the canonical
 * type (static string, NULL for unsupported, e.g. schema 1). */
enum i2k_manifest_kind i2k_manifest_classify(const char *content_type, const char *json, size_t len,
					     const char **media_type);

struct i2k_platform_entry {
	struct i2k_descriptor desc; /* desc.media_type owned */
	char *os, *arch, *variant;  /* NULL when absent */
};

struct i2k_manifest_index {
	struct i2k_platform_entry *entries;
	size_t n;
};

/* Parses an image index / manifest list. Every entry's digest must satisfy
 * i2k_digest_valid and its size be >= 0. Errors: I2K_ERR_REGISTRY
 * "invalid image index: why". Caller frees with i2k_manifest_index_clear. */
int i2k_manifest_index_parse(const char *json, size_t len, struct i2k_manifest_index *out,
			     struct i2k_error **err);
void i2k_manifest_index_clear(struct i2k_manifest_index *ix);

/* Picks the entry for p: os and architecture must match; a requested variant
 * must match (arm64: "v8" and none are the same); without a requested
 * variant an entry with no variant (or "v8" on arm64) is preferred, else the
 * first one of that os/arch. Returns the entry or NULL. */
const struct i2k_platform_entry *i2k_manifest_index_select(const struct i2k_manifest_index *ix,
							   const struct i2k_platform *p);

/* True when an image's os/arch/variant (any may be NULL = unknown, which
 * matches) satisfies p. */
bool i2k_platform_matches(const struct i2k_platform *p, const char *os, const char *arch,
			  const char *variant);
/* "linux/arm64/v8" or "linux/amd64". Caller frees. */
char *i2k_platform_string(const struct i2k_platform *p);

struct i2k_manifest {
	struct i2k_descriptor config;
	struct i2k_descriptor *layers;
	size_t n_layers;
};

/* Parses an image manifest (schemaVersion 2). Digests validated, sizes >= 0.
 * Errors: I2K_ERR_REGISTRY "invalid image manifest: why". Caller frees with
 * i2k_manifest_clear. */
int i2k_manifest_parse(const char *json, size_t len, struct i2k_manifest *out,
		       struct i2k_error **err);
void i2k_manifest_clear(struct i2k_manifest *m);

/* Rewrites a Docker v2 schema 2 image manifest as an OCI image manifest
 * (what `skopeo copy` to an OCI layout does): the manifest, config and
 * layer media types become their OCI equivalents; everything else (digests,
 * sizes, urls, annotations) is kept. Deterministic. *out is the caller's.
 * Errors: I2K_ERR_REGISTRY "invalid image manifest: ...", I2K_ERR_UNSUPPORTED
 * for a layer media type with no OCI equivalent. */
int i2k_manifest_docker_to_oci(const char *json, size_t len, char **out, size_t *out_len,
			       struct i2k_error **err);

/* os/architecture/variant of an image config JSON. Fields absent → NULL.
 * Caller frees the strings. Errors: I2K_ERR_REGISTRY "invalid image config". */
int i2k_config_platform(const char *json, size_t len, char **os, char **arch, char **variant,
			struct i2k_error **err);

/* For a manifest stored in s (desc): total bytes of manifest + config +
 * layers (from the descriptors), and whether all of those blobs are present.
 * Reads only the manifest blob. */
int i2k_manifest_stored_size(struct i2k_store *s, const struct i2k_descriptor *desc,
			     uint64_t *total, bool *complete, struct i2k_error **err);

#endif
