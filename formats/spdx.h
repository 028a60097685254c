/* spdx.h — an SBOM (builder/sbom) as an SPDX 2.3 JSON document.
 *
 * Deterministic: the same SBOM and options give the same bytes.
 *   - no random document id: documentNamespace is
 *     "https://spdx.org/spdxdocs/i2kit-HEX", HEX the SHA-256 of the name,
 *     creation time, creator and the serialised packages and relationships;
 *   - creationInfo.created is opts->created (the pipeline passes
 *     $SOURCE_DATE_EPOCH, else 0 = 1970-01-01T00:00:00Z, as every other
 *     timestamp of a build; LinuxKit uses a fixed date too unless
 *     --sbom-current-time);
 *   - SPDXIDs are derived from content (a hash of the image reference and
 *     the package's kind, name, version and arch), never from counters;
 *   - packages are sorted: the root package first, then the images by
 *     name (the reference as written) and id, then the OS packages by name,
 *     version, arch, kind and id; relationships by (element, type, related);
 *     objects keep one fixed key order; 2-space indentation, final newline.
 *
 * Content:
 *   SPDXRef-DOCUMENT DESCRIBES SPDXRef-Root (name = opts->name, purpose
 *     OPERATING_SYSTEM: the root file system i2kit built);
 *   SPDXRef-Root CONTAINS every image: name = reference as written,
 *     versionInfo = manifest digest, checksum SHA256, purpose CONTAINER,
 *     purl pkg:oci/NAME@sha256:HEX?arch=..&repository_url=REGISTRY/REPO&tag=..;
 *   each image CONTAINS the packages of its databases:
 *     pkg:apk/alpine/NAME@VERSION?arch=ARCH&upstream=ORIGIN
 *     pkg:deb/debian/NAME@VERSION?arch=ARCH&upstream=SOURCE
 *     (upstream only when it differs from the name; names lower-cased,
 *     components percent-encoded, ':' kept in versions),
 *     licenseDeclared = apk's L: when it parses as an SPDX license
 *     expression (syntax only: ids are not checked against the SPDX
 *     license list), else NOASSERTION with the raw text in licenseComments;
 *     duplicates (same kind, name, version, arch in one image) once.
 * Strings that are not valid UTF-8 have their bad bytes replaced by U+FFFD.
 */
#ifndef I2K_FORMATS_SPDX_H
#define I2K_FORMATS_SPDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/sbom/sbom.h"

/* Where `linuxkit build` puts its SBOM in the root (moby/build/sbom.go,
 * default --sbom-output); i2kit puts its document there too. */
#define I2K_SPDX_ROOT_PATH "sbom.spdx.json"
/* Suffix of the file written beside the outputs: DIR/NAME.spdx.json. */
#define I2K_SPDX_SUFFIX ".spdx.json"

struct i2k_spdx_opts {
	const char *name;    /* document and root package name (required) */
	int64_t created;     /* seconds since the epoch, >= 0 */
	const char *creator; /* "Tool: i2kit-VERSION" (NULL → that, with I2K_VERSION) */
};

/* Serialises s. *out (NUL-terminated, *len bytes without the NUL) is the
 * caller's. Errors: I2K_ERR_INTERNAL when serialisation fails. */
int i2k_spdx_write(const struct i2k_sbom *s, const struct i2k_spdx_opts *o, char **out, size_t *len,
		   struct i2k_error **err);

/* True when expr is a syntactically valid SPDX license expression
 * (Annex D: ids, "+", AND, OR, WITH, parentheses). Exposed for tests. */
bool i2k_spdx_license_valid(const char *expr);

/* A package URL component, percent-encoded as purl asks (keep: letters,
 * digits, ".-_~" and the bytes of keep). Caller frees. Exposed for tests. */
char *i2k_spdx_purl_encode(const char *s, const char *keep);

#endif
