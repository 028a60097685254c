/* test_sbom.c — builder/sbom (apk and dpkg database parsers, scanning a
 * tree) and formats/spdx (the SPDX 2.3 writer: determinism, order, ids,
 * purls, license expressions). The written document is also validated
 * against the official SPDX 2.3 JSON schema by
 * tests/integration/tools/spdxcheck.py (python3 jsonschema). Fixtures:
 * tests/data/sbom/ (README there). */
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/sbom/pkgdb.h"
#include "builder/sbom/sbom.h"
#include "formats/spdx.h"
#include "test.h"
#include "treeutil.h"

static char *slurp(const char *rel, size_t *len)
{
	char *data = NULL;
	struct i2k_error *err = NULL;
	if (i2k_read_file(test_data(rel), 1 << 20, &data, len, &err) < 0) {
		fprintf(stderr, "  cannot read %s: %s\n", rel, err->msg);
		exit(1);
	}
	return data;
}

static const struct i2k_pkg *find(const struct i2k_pkg_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

#define STR0(s) ((s) ? (s) : "(null)")

TEST(apk_parse)
{
	size_t len;
	_cleanup_free_ char *db = slurp("sbom/apk-installed", &len);
	struct i2k_pkg_list l = {0};
	i2k_pkgdb_parse_apk(db, len, &l);
	CHECK_INT(l.n, 5); /* the stanza without P: is skipped */
	const struct i2k_pkg *m = find(&l, "musl");
	CHECK(m != NULL);
	if (m) {
		CHECK(m->kind == I2K_PKG_APK);
		CHECK_STR(STR0(m->version), "1.2.4-r2");
		CHECK_STR(STR0(m->arch), "x86_64");
		CHECK_STR(STR0(m->license), "MIT");
		CHECK_STR(STR0(m->source), "musl");
		CHECK_STR(STR0(m->homepage), "https://musl.libc.org/");
	}
	const struct i2k_pkg *b = find(&l, "busybox-binsh");
	CHECK(b != NULL && strcmp(STR0(b->source), "busybox") == 0);
	CHECK(find(&l, "ignored-second-name") == NULL); /* the first P: counts */
	const struct i2k_pkg *n = find(&l, "nolicense");
	CHECK(n != NULL && n->license == NULL && n->arch == NULL && n->source == NULL);
	const struct i2k_pkg *s = find(&l, "SSL_Client"); /* last stanza, no blank line after */
	CHECK(s != NULL && strcmp(STR0(s->version), "3.1.4-r0") == 0);
	i2k_pkg_list_clear(&l);
	CHECK(l.n == 0 && l.v == NULL);
	/* empty and junk input */
	i2k_pkgdb_parse_apk("", 0, &l);
	static const char junk[] = "\n\n:\nP\nP:\n\n";
	i2k_pkgdb_parse_apk(junk, sizeof(junk) - 1, &l);
	CHECK_INT(l.n, 0);
	/* a NUL inside a value drops the value, not the parser */
	static const char nul[] = "P:a\0b\nV:1\n\nP:c\nV:2\n";
	i2k_pkgdb_parse_apk(nul, sizeof(nul) - 1, &l);
	CHECK_INT(l.n, 1);
	CHECK(l.n == 1 && strcmp(l.v[0].name, "c") == 0);
	i2k_pkg_list_clear(&l);
}

TEST(dpkg_parse)
{
	size_t len;
	_cleanup_free_ char *db = slurp("sbom/dpkg-status", &len);
	struct i2k_pkg_list l = {0};
	i2k_pkgdb_parse_dpkg(db, len, &l);
	CHECK_INT(l.n, 3); /* libc6, bsdutils, noversion */
	const struct i2k_pkg *c = find(&l, "libc6");
	CHECK(c != NULL);
	if (c) {
		CHECK(c->kind == I2K_PKG_DEB);
		CHECK_STR(STR0(c->version), "2.36-9+deb12u4"); /* not the Description's */
		CHECK_STR(STR0(c->arch), "amd64");
		CHECK_STR(STR0(c->source), "glibc");
		CHECK_STR(STR0(c->homepage), "https://www.gnu.org/software/libc/libc.html");
		CHECK(c->license == NULL);
	}
	CHECK(find(&l, "not-a-package") == NULL);	/* a continuation line */
	CHECK(find(&l, "oldpkg") == NULL);		/* deinstall ok config-files */
	CHECK(find(&l, "halfpkg") == NULL);		/* half-installed */
	const struct i2k_pkg *u = find(&l, "bsdutils"); /* lower/upper-case field names */
	CHECK(u != NULL && strcmp(STR0(u->version), "1:2.38.1-5+b1") == 0 &&
	      strcmp(STR0(u->source), "util-linux") == 0);
	const struct i2k_pkg *nv = find(&l, "noversion");
	CHECK(nv != NULL && nv->version == NULL && nv->arch == NULL);
	i2k_pkg_list_clear(&l);

	/* distroless status.d: CRLF, no Status (counts as installed) */
	_cleanup_free_ char *bf = slurp("sbom/status.d/base-files", &len);
	i2k_pkgdb_parse_dpkg(bf, len, &l);
	CHECK_INT(l.n, 1);
	CHECK(l.n == 1 && strcmp(STR0(l.v[0].version), "12.4+deb12u5") == 0 &&
	      strcmp(STR0(l.v[0].arch), "amd64") == 0);
	i2k_pkg_list_clear(&l);
}

/* Oracle: this machine's dpkg database, parsed by us and listed by
 * dpkg-query, gives the same installed (name, version, arch) set. */
TEST(dpkg_matches_dpkg_query)
{
	size_t len;
	char *db = NULL;
	struct i2k_error *e = NULL;
	if (i2k_read_file("/var/lib/dpkg/status", I2K_PKGDB_MAX_BYTES, &db, &len, &e) < 0) {
		fprintf(stderr, "  cannot run: %s\n", e->msg);
		i2k_error_free(e);
		t_failed_checks++;
		return;
	}
	struct i2k_pkg_list l = {0};
	i2k_pkgdb_parse_dpkg(db, len, &l);
	free(db);
	struct i2k_buf ours = {.max = 0};
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_free_ char *line = i2k_xasprintf("%s %s %s\n", l.v[i].name,
							  STR0(l.v[i].version), STR0(l.v[i].arch));
		i2k_buf_append(&ours, line, strlen(line), NULL);
	}
	i2k_pkg_list_clear(&l);
	FILE *p = popen("dpkg-query -W -f='${db:Status-Status} ${Package} ${Version} "
			"${Architecture}\\n' | awk '$1 == \"installed\" {print $2, $3, $4}'",
			"r");
	CHECK(p != NULL);
	if (p == NULL)
		return;
	struct i2k_buf theirs = {.max = 0};
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
		i2k_buf_append(&theirs, buf, n, NULL);
	CHECK_INT(pclose(p), 0);
	CHECK(theirs.len > 1000); /* a Debian machine has hundreds of packages */
	/* same lines, in the same order (both follow the status file) */
	CHECK(ours.len == theirs.len && memcmp(ours.data, theirs.data, ours.len) == 0);
	i2k_buf_free(&ours);
	i2k_buf_free(&theirs);
}

static void put(struct i2k_fstree *t, const char *path, const char *rel)
{
	size_t len;
	_cleanup_free_ char *d = slurp(rel, &len);
	struct i2k_fattr a = attr(S_IFREG | 0644);
	add_bytes(t, path, &a, d, len, NULL);
}

/* A tree with all three databases, as an image would carry them. */
static struct i2k_fstree *db_tree(void)
{
	struct i2k_fstree *t = i2k_fstree_new(spool);
	put(t, "lib/apk/db/installed", "sbom/apk-installed");
	put(t, "var/lib/dpkg/status", "sbom/dpkg-status");
	put(t, "var/lib/dpkg/status.d/base-files", "sbom/status.d/base-files");
	put(t, "var/lib/dpkg/status.d/tzdata", "sbom/status.d/tzdata");
	put(t, "var/lib/dpkg/status.d/tzdata.md5sums", "sbom/status.d/tzdata.md5sums");
	return t;
}

TEST(scan_tree)
{
	struct i2k_fstree *t = db_tree();
	struct i2k_pkg_list l = {0};
	OK(i2k_sbom_scan_tree(t, &l, &_e));
	CHECK_INT(l.n, 5 + 3 + 1 + 2); /* apk, status, base-files, tzdata (2); md5sums ignored */
	CHECK(find(&l, "tzdata") && find(&l, "libssl3") && find(&l, "base-files"));
	i2k_pkg_list_clear(&l);

	/* a later layer's whiteout removes the database: the final tree counts */
	i2k_fstree_begin_layer(t);
	OK(i2k_fstree_whiteout(t, "var/lib/dpkg/status.d", false, &_e));
	OK(i2k_fstree_whiteout(t, "lib/apk/db/installed", false, &_e));
	OK(i2k_sbom_scan_tree(t, &l, &_e));
	CHECK_INT(l.n, 3); /* var/lib/dpkg/status only */
	CHECK(find(&l, "libc6") != NULL && find(&l, "musl") == NULL && find(&l, "tzdata") == NULL);
	i2k_pkg_list_clear(&l);

	/* a database that is not a regular file, and an empty tree */
	struct i2k_fstree *e = i2k_fstree_new(spool);
	struct i2k_fattr d = attr(S_IFDIR | 0755);
	add_bytes(e, "lib/apk/db/installed", &d, NULL, 0, NULL);
	OK(i2k_sbom_scan_tree(e, &l, &_e));
	CHECK_INT(l.n, 0);
	i2k_fstree_free(e);
	i2k_fstree_free(t);
}

/* The two images of the samples */
static const struct i2k_sbom_image_info info_web = {
    .ref = "127.0.0.1:5000/fixtures/web:latest",
    .refname = "127.0.0.1:5000/fixtures/web:latest",
    .digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    .os = "linux",
    .arch = "amd64"};
static const struct i2k_sbom_image_info info_alpine = {
    .ref = "alpine:3.19",
    .refname = "docker.io/library/alpine:3.19",
    .digest = "sha256:2222222222222222222222222222222222222222222222222222222222222222",
    .arch = "amd64"};

/* Two images: one with every database, one without. */
static struct i2k_sbom *sample(bool reverse)
{
	struct i2k_sbom *s = i2k_sbom_new();
	struct i2k_fstree *t = db_tree();
	struct i2k_fstree *empty = i2k_fstree_new(spool);
	struct i2k_sbom_image_info a = info_web, b = info_alpine;
	struct i2k_error *err = NULL;
	if (i2k_sbom_add_image(s, reverse ? &b : &a, reverse ? t : empty, &err) < 0 ||
	    i2k_sbom_add_image(s, reverse ? &a : &b, reverse ? empty : t, &err) < 0) {
		fprintf(stderr, "  sample: %s\n", err->msg);
		exit(1);
	}
	i2k_fstree_free(t);
	i2k_fstree_free(empty);
	return s;
}

static char *doc_of(const struct i2k_sbom *s, int64_t created)
{
	struct i2k_spdx_opts o = {.name = "web", .created = created, .creator = "Tool: i2kit-test"};
	char *out = NULL;
	size_t len = 0;
	struct i2k_error *err = NULL;
	if (i2k_spdx_write(s, &o, &out, &len, &err) < 0) {
		fprintf(stderr, "  spdx: %s\n", err->msg);
		exit(1);
	}
	if (strlen(out) != len || len == 0 || out[len - 1] != '\n')
		fprintf(stderr, "  spdx: bad length\n");
	return out;
}

TEST(spdx_deterministic)
{
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *s1 = sample(false);
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *s2 = sample(false);
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *s3 = sample(true); /* other order */
	_cleanup_free_ char *d1 = doc_of(s1, 1700000000);
	_cleanup_free_ char *d2 = doc_of(s2, 1700000000);
	_cleanup_free_ char *d3 = doc_of(s3, 1700000000);
	_cleanup_free_ char *d4 = doc_of(s1, 0);
	CHECK_STR(d1, d2);
	CHECK_STR(d1, d3); /* images added in another order: same bytes */
	CHECK(strcmp(d1, d4) != 0);
	CHECK_CONTAINS(d1, "\"created\": \"2023-11-14T22:13:20Z\"");
	CHECK_CONTAINS(d4, "\"created\": \"1970-01-01T00:00:00Z\"");
	/* the namespace is derived from the content: another time, another id */
	json_t *j1 = json_loads(d1, 0, NULL), *j4 = json_loads(d4, 0, NULL);
	CHECK(j1 && j4);
	const char *ns1 = json_string_value(json_object_get(j1, "documentNamespace"));
	const char *ns4 = json_string_value(json_object_get(j4, "documentNamespace"));
	CHECK(ns1 && ns4 && strcmp(ns1, ns4) != 0);
	CHECK(ns1 && i2k_str_has_prefix(ns1, "https://spdx.org/spdxdocs/i2kit-") &&
	      strlen(ns1) == strlen("https://spdx.org/spdxdocs/i2kit-") + 64);
	json_decref(j1);
	json_decref(j4);
}

/* A tree scanned before it goes (the assembler moves an image's tree into
 * the root at its last entry) gives the same document. */
TEST(add_scanned_is_add_image)
{
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *s1 = sample(false);
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *s2 = i2k_sbom_new();
	struct i2k_fstree *t = db_tree();
	struct i2k_fstree *empty = i2k_fstree_new(spool);
	struct i2k_sbom_image_info a = info_web, b = info_alpine;
	struct i2k_pkg_list pa = {0}, pb = {0};
	OK(i2k_sbom_scan_tree(empty, &pa, &_e));
	OK(i2k_sbom_scan_tree(t, &pb, &_e));
	i2k_fstree_free(t); /* gone before the SBOM is made */
	i2k_fstree_free(empty);
	i2k_sbom_add_scanned(s2, &a, &pa);
	i2k_sbom_add_scanned(s2, &b, &pb);
	CHECK(pa.n == 0 && pa.v == NULL && pb.n == 0 && pb.v == NULL); /* taken */
	CHECK_INT(s2->n, 2);
	CHECK(s2->images[0].scanned && s2->images[1].scanned);
	CHECK_INT(s2->images[1].pkgs.n, 11);
	_cleanup_free_ char *d1 = doc_of(s1, 1700000000);
	_cleanup_free_ char *d2 = doc_of(s2, 1700000000);
	CHECK_STR(d1, d2);
}

TEST(spdx_content_sorted)
{
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *s = sample(false);
	_cleanup_free_ char *d = doc_of(s, 1700000000);
	json_error_t je;
	json_t *j = json_loads(d, 0, &je);
	CHECK(j != NULL);
	if (j == NULL)
		return;
	CHECK_STR(json_string_value(json_object_get(j, "spdxVersion")), "SPDX-2.3");
	CHECK_STR(json_string_value(json_object_get(j, "name")), "web");
	json_t *pk = json_object_get(j, "packages");
	/* root + 2 images + 11 packages (musl..SSL_Client, libc6, bsdutils,
	 * noversion, base-files, tzdata, libssl3) */
	CHECK_INT(json_array_size(pk), 1 + 2 + 11);
	CHECK_STR(json_string_value(json_object_get(json_array_get(pk, 0), "SPDXID")),
		  "SPDXRef-Root");
	/* images by name, then packages by name */
	CHECK_STR(json_string_value(json_object_get(json_array_get(pk, 1), "name")),
		  "127.0.0.1:5000/fixtures/web:latest");
	CHECK_STR(json_string_value(json_object_get(json_array_get(pk, 2), "name")), "alpine:3.19");
	for (size_t i = 4; i < json_array_size(pk); i++) {
		const char *a =
		    json_string_value(json_object_get(json_array_get(pk, i - 1), "name"));
		const char *b = json_string_value(json_object_get(json_array_get(pk, i), "name"));
		CHECK(a && b && strcmp(a, b) <= 0);
	}
	/* image: digest, checksum, oci purl */
	json_t *img = json_array_get(pk, 2);
	CHECK_STR(json_string_value(json_object_get(img, "versionInfo")),
		  "sha256:2222222222222222222222222222222222222222222222222222222222222222");
	CHECK_STR(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(img, "externalRefs"), 0), "referenceLocator")),
	    "pkg:oci/alpine@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	    "?arch=amd64&repository_url=docker.io/library/alpine&tag=3.19");
	/* purls, license, sourceInfo */
	CHECK_CONTAINS(d, "\"pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64\"");
	CHECK_CONTAINS(d,
		       "\"pkg:apk/alpine/busybox-binsh@1.36.1-r5?arch=x86_64&upstream=busybox\"");
	CHECK_CONTAINS(d, "\"pkg:apk/alpine/ssl_client@3.1.4-r0?arch=x86_64\"");
	CHECK_CONTAINS(d, "\"pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&upstream=glibc\"");
	CHECK_CONTAINS(
	    d, "\"pkg:deb/debian/bsdutils@1:2.38.1-5%2Bb1?arch=amd64&upstream=util-linux\"");
	CHECK_CONTAINS(d, "\"pkg:deb/debian/noversion\"");
	CHECK_CONTAINS(d, "\"licenseDeclared\": \"Apache-2.0 WITH LLVM-exception OR (MIT AND "
			  "BSD-3-Clause)\"");
	CHECK_CONTAINS(d, "\"licenseComments\": \"apk license field: GPL2 or BSD\"");
	CHECK_CONTAINS(d, "\"sourceInfo\": \"Debian source package: glibc\"");
	/* relationships: DESCRIBES the root, root CONTAINS images, images
	 * CONTAIN their packages; sorted */
	json_t *rel = json_object_get(j, "relationships");
	CHECK_INT(json_array_size(rel), 1 + 2 + 11);
	size_t describes = 0;
	for (size_t i = 0; i < json_array_size(rel); i++) {
		json_t *r = json_array_get(rel, i);
		const char *a = json_string_value(json_object_get(r, "spdxElementId"));
		const char *t = json_string_value(json_object_get(r, "relationshipType"));
		describes += strcmp(t, "DESCRIBES") == 0;
		if (i > 0) {
			const char *p = json_string_value(
			    json_object_get(json_array_get(rel, i - 1), "spdxElementId"));
			CHECK(strcmp(p, a) <= 0);
		}
	}
	CHECK_INT(describes, 1);
	json_decref(j);
}

TEST(spdx_duplicates_and_bad_utf8)
{
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *s = i2k_sbom_new();
	struct i2k_sbom_image_info a = {
	    .ref = "x",
	    .refname = "docker.io/library/x:latest",
	    .digest = "sha256:3333333333333333333333333333333333333333333333333333333333333333"};
	OK(i2k_sbom_add_image(s, &a, NULL, &_e));
	/* the same package twice (e.g. in status and in status.d), a name
	 * with bytes that are not UTF-8 */
	static const char db[] = "Package: dup\nVersion: 1\n\nPackage: dup\nVersion: 1\n\n"
				 "Package: bad\xff\xfe name\nVersion: 1\n";
	i2k_pkgdb_parse_dpkg(db, sizeof(db) - 1, &s->images[0].pkgs);
	CHECK_INT(s->images[0].pkgs.n, 3);
	_cleanup_free_ char *d = doc_of(s, 0);
	json_t *j = json_loads(d, 0, NULL);
	CHECK(j != NULL);
	CHECK_INT(json_array_size(json_object_get(j, "packages")), 1 + 1 + 2);
	CHECK_CONTAINS(d, "bad\xef\xbf\xbd\xef\xbf\xbd name");
	CHECK_CONTAINS(d, "pkg:deb/debian/bad%FF%FE%20name@1");
	CHECK_CONTAINS(d, "package databases not read");
	json_decref(j);
}

TEST(license_expressions)
{
	static const char *const good[] = {"MIT",
					   "GPL-2.0-only",
					   "GPL-2.0+",
					   "MIT AND BSD-3-Clause",
					   "(MIT OR Apache-2.0) AND Zlib",
					   "GPL-2.0-or-later WITH Classpath-exception-2.0",
					   "LicenseRef-custom",
					   "DocumentRef-x:LicenseRef-y",
					   "((MIT))"};
	static const char *const bad[] = {"",	   "MIT BSD", "GPL2 or BSD", "MIT AND",	     "(MIT",
					  "MIT)",  "AND MIT", "MIT WITH",    "custom:x",     "+",
					  "MIT++", "a/b",     "MIT WITH X+", "MIT OR OR BSD"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(good); i++)
		if (!i2k_spdx_license_valid(good[i])) {
			fprintf(stderr, "  should be valid: %s\n", good[i]);
			t_failed_checks++;
		}
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++)
		if (i2k_spdx_license_valid(bad[i])) {
			fprintf(stderr, "  should be invalid: %s\n", bad[i]);
			t_failed_checks++;
		}
	/* deep nesting is refused, not a stack overflow */
	char deep[2100];
	memset(deep, '(', 1000);
	memcpy(deep + 1000, "MIT", 3);
	memset(deep + 1003, ')', 1000);
	deep[2003] = '\0';
	CHECK(!i2k_spdx_license_valid(deep));
}

TEST(purl_encode)
{
	_cleanup_free_ char *a = i2k_spdx_purl_encode("1:2.3+b1~x y/z", ":");
	CHECK_STR(a, "1:2.3%2Bb1~x%20y%2Fz");
	_cleanup_free_ char *b = i2k_spdx_purl_encode("a:b", NULL);
	CHECK_STR(b, "a%3Ab");
}

/* The sample document against the official SPDX 2.3 JSON schema (and the
 * spec rules the schema leaves out) with tests/integration/tools/spdxcheck.py. */
TEST(spdx_schema)
{
	_cleanup_(i2k_sbom_freep) struct i2k_sbom *s = sample(false);
	_cleanup_free_ char *d = doc_of(s, 1700000000);
	char path[] = "/tmp/test_sbom-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	OK(i2k_write_all(fd, d, strlen(d), &_e));
	close(fd);
	_cleanup_free_ char *cmd = i2k_xasprintf(
	    "/usr/bin/python3 %s %s", test_data("../integration/tools/spdxcheck.py"), path);
	int rc = system(cmd);
	CHECK_INT(rc, 0);
	unlink(path);
}

int main(void)
{
	t_prog = "test_sbom";
	struct i2k_error *err = NULL;
	if (i2k_spool_new(NULL, &spool, &err) < 0) {
		fprintf(stderr, "spool: %s\n", err->msg);
		return 1;
	}
	RUN(apk_parse);
	RUN(dpkg_parse);
	RUN(dpkg_matches_dpkg_query);
	RUN(scan_tree);
	RUN(spdx_deterministic);
	RUN(add_scanned_is_add_image);
	RUN(spdx_content_sorted);
	RUN(spdx_duplicates_and_bad_utf8);
	RUN(license_expressions);
	RUN(purl_encode);
	RUN(spdx_schema);
	i2k_spool_free(spool);
	return TEST_DONE();
}
