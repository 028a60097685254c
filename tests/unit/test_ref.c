/* test_ref.c — image references (builder/registry/ref.c) and the pure
 * manifest/index/platform logic (builder/registry/manifest.c, which has no
 * test program of its own). */
#include "builder/registry/manifest.h"
#include "builder/registry/ref.h"
#include "tests/unit/test.h"

#include "builder/base/util.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define D4 "sha256:4444444444444444444444444444444444444444444444444444444444444444"

/* parse + canonical string; "" expected means "must fail" */
static void parses_to(const char *in, const char *canon, int line)
{
	struct i2k_ref r;
	struct i2k_error *e = NULL;
	int rc = i2k_ref_parse(in, &r, &e);
	if (rc < 0) {
		fprintf(stderr, "  line %d: %s: %s\n", line, in, e ? e->msg : "?");
		t_failed_checks++;
		i2k_error_free(e);
		return;
	}
	char *s = i2k_ref_string(&r);
	if (strcmp(s, canon) != 0) {
		fprintf(stderr, "  line %d: %s → %s, want %s\n", line, in, s, canon);
		t_failed_checks++;
	}
	free(s);
	i2k_ref_clear(&r);
}
#define PARSES(in, canon) parses_to(in, canon, __LINE__)

static void rejects(const char *in, const char *why, int line)
{
	struct i2k_ref r;
	struct i2k_error *e = NULL;
	int rc = i2k_ref_parse(in, &r, &e);
	if (rc == 0) {
		fprintf(stderr, "  line %d: \"%s\" was accepted\n", line, in);
		t_failed_checks++;
		i2k_ref_clear(&r);
		return;
	}
	if (e == NULL || e->code != I2K_ERR_CONFIG || strstr(e->msg, why) == NULL ||
	    strstr(e->msg, "invalid image reference") == NULL) {
		fprintf(stderr, "  line %d: \"%s\": message \"%s\" lacks \"%s\"\n", line, in,
			e ? e->msg : "(none)", why);
		t_failed_checks++;
	}
	i2k_error_free(e);
}
#define REJECTS(in, why) rejects(in, why, __LINE__)

TEST(docker_hub_normalisation)
{
	PARSES("alpine", "docker.io/library/alpine:latest");
	PARSES("alpine:3.19", "docker.io/library/alpine:3.19");
	PARSES("user/app", "docker.io/user/app:latest");
	PARSES("docker.io/alpine", "docker.io/library/alpine:latest");
	PARSES("index.docker.io/library/alpine:1", "docker.io/library/alpine:1");
	PARSES("docker.io/library/alpine:3.19@" D1, "docker.io/library/alpine:3.19@" D1);
	PARSES("a/b/c/d", "docker.io/a/b/c/d:latest");
}

TEST(registry_hosts)
{
	PARSES("127.0.0.1:5000/fixtures/web:latest", "127.0.0.1:5000/fixtures/web:latest");
	PARSES("localhost/foo", "localhost/foo:latest");
	PARSES("localhost:5000/foo", "localhost:5000/foo:latest");
	PARSES("ghcr.io/x/y:v1.2-rc_3", "ghcr.io/x/y:v1.2-rc_3");
	PARSES("quay.io/a", "quay.io/a:latest"); /* no library/ outside docker.io */
	PARSES("[::1]:5000/a", "[::1]:5000/a:latest");
	PARSES("Registry.Example/a", "Registry.Example/a:latest"); /* upper case → host */
}

TEST(digests_and_tags)
{
	PARSES("user/app@" D1, "docker.io/user/app@" D1);
	PARSES("h.io/a:t@" D2, "h.io/a:t@" D2);
	PARSES("a:_x", "docker.io/library/a:_x");
	PARSES("x/a.b_c__d-e--f", "docker.io/x/a.b_c__d-e--f:latest");
	REJECTS("a.b_c/g", "invalid registry host"); /* "." makes it a host */

	struct i2k_ref r;
	struct i2k_error *e = NULL;
	CHECK(i2k_ref_parse("h.io/a@" D1, &r, &e) == 0);
	CHECK(r.tag == NULL);
	CHECK_STR(r.digest, D1);
	CHECK_STR(r.registry, "h.io");
	CHECK_STR(r.repository, "a");
	CHECK_STR(i2k_ref_api_host(&r), "h.io");
	i2k_ref_clear(&r);
	CHECK(i2k_ref_parse("busybox", &r, &e) == 0);
	CHECK_STR(i2k_ref_api_host(&r), "registry-1.docker.io");
	CHECK_STR(r.tag, "latest");
	CHECK(r.digest == NULL);
	i2k_ref_clear(&r);
	i2k_ref_clear(&r); /* idempotent */
}

TEST(rejects_bad_references)
{
	REJECTS("", "empty");
	REJECTS("Alpine", "lower-case");
	REJECTS("a//b", "lower-case");
	REJECTS("a/", "lower-case");
	REJECTS("-a", "lower-case");
	REJECTS("a_", "lower-case");
	REJECTS("a..b", "lower-case");
	REJECTS("a___b", "lower-case");
	REJECTS("a:", "invalid tag");
	REJECTS("a:-x", "invalid tag");
	REJECTS("a:x!y", "invalid tag");
	REJECTS(
	    "a:"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	    "invalid tag");
	REJECTS("a@sha256:abc", "digest");
	REJECTS("a@sha512:" D1, "digest");
	REJECTS("a@SHA256:1111111111111111111111111111111111111111111111111111111111111111",
		"digest");
	REJECTS("a b", "whitespace");
	REJECTS("a\nb", "whitespace");
	REJECTS("host:port/a", "invalid registry host");
	REJECTS("-h.io/a", "invalid registry host");
	REJECTS("h.io:/a", "invalid registry host");
	REJECTS(":tag", "missing repository");
	REJECTS("@" D1, "missing repository");
	REJECTS("h.io/../etc", "lower-case");
	char big[700];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	struct i2k_ref r;
	struct i2k_error *e = NULL;
	CHECK(i2k_ref_parse(big, &r, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "longer than 512");
	i2k_error_free(e);
	e = NULL;
	char name[300];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK(i2k_ref_parse(name, &r, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "longer than 255");
	i2k_error_free(e);
}

/* ---- manifest.c ---------------------------------------------------------- */

static const char index_json[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" I2K_MT_OCI_INDEX "\",\"manifests\":["
    "{\"mediaType\":\"" I2K_MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":10,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"" I2K_MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":20,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"" I2K_MT_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":30,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"" I2K_MT_OCI_MANIFEST "\",\"digest\":\"" D4 "\",\"size\":40,"
    "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}]}";

static const char *select_digest(const struct i2k_manifest_index *ix, const char *os,
				 const char *arch, const char *variant)
{
	struct i2k_platform p = {.os = os, .arch = arch, .variant = variant};
	const struct i2k_platform_entry *e = i2k_manifest_index_select(ix, &p);
	return e ? e->desc.digest : "none";
}

TEST(index_platform_selection)
{
	struct i2k_manifest_index ix;
	struct i2k_error *e = NULL;
	CHECK(i2k_manifest_index_parse(index_json, strlen(index_json), &ix, &e) == 0);
	CHECK_INT(ix.n, 4);
	CHECK_STR(select_digest(&ix, "linux", "amd64", NULL), D1);
	CHECK_STR(select_digest(&ix, "linux", "arm64", NULL), D3);
	CHECK_STR(select_digest(&ix, "linux", "arm64", "v8"), D3);
	CHECK_STR(select_digest(&ix, "linux", "arm", "v7"), D2);
	CHECK_STR(select_digest(&ix, "linux", "arm", NULL), D2);
	CHECK_STR(select_digest(&ix, "linux", "arm", "v6"), "none");
	CHECK_STR(select_digest(&ix, "linux", "s390x", NULL), "none");
	CHECK_STR(select_digest(&ix, "windows", "amd64", NULL), "none");
	CHECK_INT(ix.entries[1].desc.size, 20);
	CHECK_STR(ix.entries[1].variant, "v7");
	i2k_manifest_index_clear(&ix);

	/* arm64 without variant in the index matches a v8 request */
	static const char novar[] =
	    "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D2 "\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}}]}";
	CHECK(i2k_manifest_index_parse(novar, strlen(novar), &ix, &e) == 0);
	CHECK_STR(select_digest(&ix, "linux", "arm64", "v8"), D2);
	CHECK_STR(select_digest(&ix, "linux", "arm64", NULL), D2);
	i2k_manifest_index_clear(&ix);
	/* amd64: an entry without variant wins over a v3 one listed first */
	static const char v3[] =
	    "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D1 "\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\",\"variant\":\"v3\"}},"
	    "{\"digest\":\"" D2 "\",\"size\":1,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	CHECK(i2k_manifest_index_parse(v3, strlen(v3), &ix, &e) == 0);
	CHECK_STR(select_digest(&ix, "linux", "amd64", NULL), D2);
	CHECK_STR(select_digest(&ix, "linux", "amd64", "v3"), D1);
	i2k_manifest_index_clear(&ix);
	CHECK(e == NULL);
}

static void index_rejects(const char *json, const char *why, int line)
{
	struct i2k_manifest_index ix;
	struct i2k_error *e = NULL;
	if (i2k_manifest_index_parse(json, strlen(json), &ix, &e) == 0) {
		fprintf(stderr, "  line %d: index accepted\n", line);
		t_failed_checks++;
		i2k_manifest_index_clear(&ix);
		return;
	}
	if (e->code != I2K_ERR_REGISTRY || strstr(e->msg, "invalid image index") == NULL ||
	    strstr(e->msg, why) == NULL) {
		fprintf(stderr, "  line %d: \"%s\" lacks \"%s\"\n", line, e->msg, why);
		t_failed_checks++;
	}
	i2k_error_free(e);
}

TEST(index_rejects_bad_input)
{
	index_rejects("", "", __LINE__);
	index_rejects("[]", "not a JSON object", __LINE__);
	index_rejects("{\"schemaVersion\":1,\"manifests\":[]}", "schemaVersion is not 2", __LINE__);
	index_rejects("{\"schemaVersion\":2}", "no \"manifests\" array", __LINE__);
	index_rejects("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:../../etc\","
		      "\"size\":1}]}",
		      "invalid or unsupported digest", __LINE__);
	index_rejects("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D1 "\",\"size\":-1}]}",
		      "invalid size", __LINE__);
	index_rejects("{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D1
		      "\",\"size\":1,\"platform\":3}]}",
		      "platform is not an object", __LINE__);
	index_rejects("{\"schemaVersion\":2,\"schemaVersion\":2,\"manifests\":[]}", "duplicate",
		      __LINE__);
	index_rejects("{\"schemaVersion\":2,\"manifests\":[7]}", "not an object", __LINE__);
}

TEST(manifest_parse)
{
	static const char m[] =
	    "{\"schemaVersion\":2,\"mediaType\":\"" I2K_MT_DOCKER_MANIFEST "\","
	    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
	    "\"digest\":\"" D1 "\",\"size\":100},\"layers\":["
	    "{\"mediaType\":\"x\",\"digest\":\"" D2 "\",\"size\":2000},"
	    "{\"digest\":\"" D3 "\",\"size\":0}]}";
	struct i2k_manifest man;
	struct i2k_error *e = NULL;
	CHECK(i2k_manifest_parse(m, strlen(m), &man, &e) == 0);
	CHECK_STR(man.config.digest, D1);
	CHECK_INT(man.config.size, 100);
	CHECK_INT(man.n_layers, 2);
	CHECK_STR(man.layers[0].media_type, "x");
	CHECK_STR(man.layers[1].media_type, "");
	CHECK_INT(man.layers[0].size, 2000);
	i2k_manifest_clear(&man);

	static const char *const bad[][2] = {
	    {"{\"schemaVersion\":2,\"layers\":[]}", "config is not an object"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1}}",
	     "no \"layers\" array"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},"
	     "\"layers\":[{\"digest\":\"sha256:zz\",\"size\":1}]}",
	     "layer has an invalid or unsupported digest"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":\"1\"},"
	     "\"layers\":[]}",
	     "config has an invalid size"},
	    {"{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1,"
	     "\"mediaType\":5},\"layers\":[]}",
	     "invalid mediaType"},
	    {"{\"schemaVersion\":2,", "invalid image manifest"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = NULL;
		CHECK(i2k_manifest_parse(bad[i][0], strlen(bad[i][0]), &man, &e) < 0);
		CHECK_CONTAINS(e ? e->msg : NULL, bad[i][1]);
		CHECK_CONTAINS(e ? e->msg : NULL, "invalid image manifest");
		i2k_error_free(e);
	}
}

TEST(classify)
{
	const char *mt;
	CHECK(i2k_manifest_classify(I2K_MT_DOCKER_LIST, "", 0, &mt) == I2K_KIND_INDEX);
	CHECK_STR(mt, I2K_MT_DOCKER_LIST);
	CHECK(i2k_manifest_classify("application/vnd.oci.image.manifest.v1+json; charset=x", "", 0,
				    &mt) == I2K_KIND_MANIFEST);
	CHECK_STR(mt, I2K_MT_OCI_MANIFEST);
	const char j1[] = "{\"schemaVersion\":2,\"mediaType\":\"" I2K_MT_DOCKER_MANIFEST "\"}";
	CHECK(i2k_manifest_classify("application/octet-stream", j1, strlen(j1), &mt) ==
	      I2K_KIND_MANIFEST);
	CHECK_STR(mt, I2K_MT_DOCKER_MANIFEST);
	const char j2[] = "{\"schemaVersion\":2,\"manifests\":[]}";
	CHECK(i2k_manifest_classify(NULL, j2, strlen(j2), &mt) == I2K_KIND_INDEX);
	CHECK_STR(mt, I2K_MT_OCI_INDEX);
	const char j3[] = "{\"schemaVersion\":2,\"layers\":[]}";
	CHECK(i2k_manifest_classify(NULL, j3, strlen(j3), &mt) == I2K_KIND_MANIFEST);
	const char s1[] = "{\"schemaVersion\":1,\"fsLayers\":[]}";
	CHECK(i2k_manifest_classify("application/vnd.docker.distribution.manifest.v1+prettyjws", s1,
				    strlen(s1), &mt) == I2K_KIND_UNSUPPORTED);
	CHECK(mt == NULL);
	CHECK(i2k_manifest_classify(NULL, "garbage", 7, &mt) == I2K_KIND_UNSUPPORTED);
	CHECK_CONTAINS(I2K_MANIFEST_ACCEPT, I2K_MT_DOCKER_LIST);
	CHECK_CONTAINS(I2K_MANIFEST_ACCEPT, I2K_MT_OCI_INDEX);
}

TEST(config_platform_match)
{
	const char c[] = "{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}";
	char *os, *arch, *variant;
	struct i2k_error *e = NULL;
	CHECK(i2k_config_platform(c, strlen(c), &os, &arch, &variant, &e) == 0);
	CHECK_STR(os, "linux");
	CHECK_STR(arch, "arm64");
	struct i2k_platform want = {.os = "linux", .arch = "arm64"};
	CHECK(i2k_platform_matches(&want, os, arch, variant));
	want.variant = "v8";
	CHECK(i2k_platform_matches(&want, os, arch, NULL));
	want.arch = "amd64";
	want.variant = NULL;
	CHECK(!i2k_platform_matches(&want, os, arch, variant));
	CHECK(i2k_platform_matches(&want, NULL, NULL, NULL));
	struct i2k_platform arm = {.os = "linux", .arch = "arm", .variant = "v7"};
	CHECK(!i2k_platform_matches(&arm, "linux", "arm", "v6"));
	char *ps = i2k_platform_string(&arm);
	CHECK_STR(ps, "linux/arm/v7");
	free(ps);
	free(os);
	free(arch);
	free(variant);
	CHECK(i2k_config_platform("[1]", 3, &os, &arch, &variant, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "invalid image config");
	i2k_error_free(e);
}

int main(void)
{
	t_prog = "test_ref";
	RUN(docker_hub_normalisation);
	RUN(registry_hosts);
	RUN(digests_and_tags);
	RUN(rejects_bad_references);
	RUN(index_platform_selection);
	RUN(index_rejects_bad_input);
	RUN(manifest_parse);
	RUN(classify);
	RUN(config_platform_match);
	return TEST_DONE();
}
