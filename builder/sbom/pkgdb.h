/* pkgdb.h — the package databases of a container image, parsed for the SBOM.
 *
 * Two formats, both untrusted input (they come from the images):
 *
 *   apk  lib/apk/db/installed — one stanza per package, stanzas separated
 *        by a blank line, one "K:value" per line (P name, V version, A
 *        arch, L license, o origin, U url; repeated keys such as F:, R:,
 *        Z: list files and are ignored). The first of each key counts.
 *   dpkg var/lib/dpkg/status and every file of var/lib/dpkg/status.d/ (as
 *        distroless images ship them) — RFC 822 style stanzas: "Field:
 *        value", continuation lines start with a space or tab, field names
 *        are case-insensitive. Package, Version, Architecture, Source
 *        ("NAME" or "NAME (VERSION)": the name is kept), Homepage, Status.
 *        A stanza whose Status is present and whose third word is not
 *        "installed" ("deinstall ok config-files", "install ok
 *        half-installed", ...) is not a package of the image; a stanza
 *        without Status counts as installed (distroless status.d files
 *        have none).
 *
 * Lenient by design: malformed lines are skipped, a stanza without a name is
 * skipped, missing fields stay NULL. The parsers never fail on content;
 * the only limit is the caller's (I2K_PKGDB_MAX_BYTES per file). Bytes are
 * kept as they are (they may not be UTF-8; the SPDX writer repairs that). A
 * trailing '\r' on a line is dropped.
 */
#ifndef I2K_BUILDER_SBOM_PKGDB_H
#define I2K_BUILDER_SBOM_PKGDB_H

#include <stddef.h>

/* Largest database file read (per file); over it the scan fails. */
#define I2K_PKGDB_MAX_BYTES (64u << 20)

enum i2k_pkg_kind {
	I2K_PKG_APK,
	I2K_PKG_DEB,
};

struct i2k_pkg {
	enum i2k_pkg_kind kind;
	char *name;	/* never NULL */
	char *version;	/* NULL when missing */
	char *arch;	/* NULL when missing */
	char *license;	/* apk L:; NULL for dpkg or when missing */
	char *source;	/* apk o: / dpkg Source: name; NULL when missing */
	char *homepage; /* apk U: / dpkg Homepage:; NULL when missing */
};

struct i2k_pkg_list {
	struct i2k_pkg *v;
	size_t n, cap;
};

/* Append the packages of one database to out (never fail; see above). */
void i2k_pkgdb_parse_apk(const char *data, size_t len, struct i2k_pkg_list *out);
void i2k_pkgdb_parse_dpkg(const char *data, size_t len, struct i2k_pkg_list *out);

/* Frees every package and the array; zeroes the list. NULL-safe. */
void i2k_pkg_list_clear(struct i2k_pkg_list *l);
void i2k_pkg_clear(struct i2k_pkg *p);

#endif
