/* test_auth.c — WWW-Authenticate challenges, docker config.json credential
 * lookup, token responses and base64 (builder/registry/auth.c), and the
 * plain-HTTP policy (builder/registry/http.c). */
#include "builder/registry/auth.h"
#include "builder/registry/http.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/util.h"

TEST(bearer_challenge)
{
	struct i2k_challenge c;
	struct i2k_error *e = NULL;
	CHECK(i2k_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service="
				  "\"registry.docker.io\",scope=\"repository:library/alpine:pull\"",
				  &c, &e) == 0);
	CHECK_INT(c.scheme, I2K_AUTH_BEARER);
	CHECK_STR(c.realm, "https://auth.docker.io/token");
	CHECK_STR(c.service, "registry.docker.io");
	CHECK_STR(c.scope, "repository:library/alpine:pull");
	i2k_challenge_clear(&c);

	/* case-insensitive names, spaces, unquoted values, escapes, unknown params */
	CHECK(i2k_challenge_parse("  bEaReR   Realm = \"http://127.0.0.1:1/t?a=b\" , "
				  "SERVICE=svc, error=\"invalid_token\", scope=\"a\\\"b\"",
				  &c, &e) == 0);
	CHECK_STR(c.realm, "http://127.0.0.1:1/t?a=b");
	CHECK_STR(c.service, "svc");
	CHECK_STR(c.scope, "a\"b");
	i2k_challenge_clear(&c);

	/* no service, no scope */
	CHECK(i2k_challenge_parse("Bearer realm=\"https://r/t\"", &c, &e) == 0);
	CHECK(c.service == NULL && c.scope == NULL);
	i2k_challenge_clear(&c);
	CHECK(e == NULL);
}

TEST(basic_challenge)
{
	struct i2k_challenge c;
	struct i2k_error *e = NULL;
	CHECK(i2k_challenge_parse("Basic realm=\"Registry Realm\"", &c, &e) == 0);
	CHECK_INT(c.scheme, I2K_AUTH_BASIC);
	CHECK_STR(c.realm, "Registry Realm");
	i2k_challenge_clear(&c);
	CHECK(i2k_challenge_parse("basic", &c, &e) == 0);
	CHECK_INT(c.scheme, I2K_AUTH_BASIC);
	CHECK(c.realm == NULL);
	i2k_challenge_clear(&c);
	/* a second challenge after the first one is ignored */
	CHECK(i2k_challenge_parse("Basic realm=\"x\", Bearer realm=\"y\"", &c, &e) == 0);
	CHECK_INT(c.scheme, I2K_AUTH_BASIC);
	CHECK_STR(c.realm, "x");
	i2k_challenge_clear(&c);
	CHECK(e == NULL);
}

static void challenge_rejects(const char *h, const char *why, int line)
{
	struct i2k_challenge c;
	struct i2k_error *e = NULL;
	int rc = i2k_challenge_parse(h, &c, &e);
	i2k_challenge_clear(&c);
	if (rc == 0) {
		fprintf(stderr, "  line %d: accepted \"%s\"\n", line, h);
		t_failed_checks++;
		return;
	}
	if (e == NULL || e->code != I2K_ERR_REGISTRY ||
	    strstr(e->msg, "malformed WWW-Authenticate challenge: ") == NULL ||
	    strstr(e->msg, why) == NULL) {
		fprintf(stderr, "  line %d: \"%s\" lacks \"%s\"\n", line, e ? e->msg : "", why);
		t_failed_checks++;
	}
	i2k_error_free(e);
}

TEST(challenge_errors)
{
	challenge_rejects("", "empty", __LINE__);
	challenge_rejects("   ", "empty", __LINE__);
	challenge_rejects("Digest realm=\"x\"", "unsupported scheme", __LINE__);
	challenge_rejects("Negotiate", "unsupported scheme", __LINE__);
	challenge_rejects("Bearer", "Bearer challenge without realm", __LINE__);
	challenge_rejects("Bearer service=\"s\"", "Bearer challenge without realm", __LINE__);
	challenge_rejects("Bearer realm=\"\"", "Bearer challenge without realm", __LINE__);
	challenge_rejects("Bearer realm=\"https://x", "unterminated quoted string", __LINE__);
	challenge_rejects("Bearer realm=\"x\\", "unterminated quoted string", __LINE__);
	challenge_rejects("Bearer realm=", "expected a parameter value", __LINE__);
	challenge_rejects("Bearer realm=\"a\" junk", "expected ',' between parameters", __LINE__);
	challenge_rejects("Bearer abc", "expected '=' after a parameter name", __LINE__);
	challenge_rejects("Bearer =x", "expected a parameter name", __LINE__);
	char big[5000];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "Bearer realm=", 13);
	challenge_rejects(big, "longer than 4096 bytes", __LINE__);
	struct i2k_challenge c;
	struct i2k_error *e = NULL;
	CHECK(i2k_challenge_parse(NULL, &c, &e) < 0);
	i2k_error_free(e);
}

TEST(base64)
{
	char *s = i2k_base64_encode("user:pass", 9);
	CHECK_STR(s, "dXNlcjpwYXNz");
	free(s);
	s = i2k_base64_encode("a", 1);
	CHECK_STR(s, "YQ==");
	free(s);
	s = i2k_base64_encode("ab", 2);
	CHECK_STR(s, "YWI=");
	free(s);
	s = i2k_base64_encode("", 0);
	CHECK_STR(s, "");
	free(s);
	char *d = NULL;
	size_t n = 0;
	CHECK(i2k_base64_decode("dXNlcjpwYXNz", 12, &d, &n) == 0);
	CHECK_STR(d, "user:pass");
	CHECK_INT(n, 9);
	free(d);
	CHECK(i2k_base64_decode("YWI", 3, &d, &n) == 0); /* missing padding */
	CHECK_STR(d, "ab");
	free(d);
	CHECK(i2k_base64_decode("YQ==", 4, &d, &n) == 0);
	CHECK_STR(d, "a");
	free(d);
	CHECK(i2k_base64_decode("Y", 1, &d, &n) < 0);
	CHECK(i2k_base64_decode("a*bc", 4, &d, &n) < 0);
	CHECK(i2k_base64_decode("ab=c", 4, &d, &n) < 0);
	char *h = i2k_auth_basic_header("u", "p:w");
	CHECK_STR(h, "Basic dTpwOnc=");
	free(h);
}

static int lookup(const char *json, const char *registry, char **u, char **p, struct i2k_error **e)
{
	return i2k_auth_config_parse(json, strlen(json), "cfg.json", registry, u, p, e);
}

TEST(config_json_lookup)
{
	char *u = NULL, *p = NULL;
	struct i2k_error *e = NULL;
	/* base64 "auth" field, plain host key */
	const char *j1 = "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwYTpzcw==\"}}}";
	CHECK_INT(lookup(j1, "127.0.0.1:5000", &u, &p, &e), 1);
	CHECK_STR(u, "user");
	CHECK_STR(p, "pa:ss");
	free(u);
	free(p);
	CHECK_INT(lookup(j1, "127.0.0.1:5001", &u, &p, &e), 0);
	CHECK(u == NULL && p == NULL);
	/* https:// key with a path, username/password fields */
	const char *j2 = "{\"auths\":{\"https://reg.example:443/v2/\":"
			 "{\"username\":\"alice\",\"password\":\"s3cret\"}}}";
	CHECK_INT(lookup(j2, "reg.example:443", &u, &p, &e), 1);
	CHECK_STR(u, "alice");
	CHECK_STR(p, "s3cret");
	free(u);
	free(p);
	/* docker.io via Docker's legacy key */
	const char *j3 = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"YTpi\"}},"
			 "\"credsStore\":\"desktop\"}";
	CHECK_INT(lookup(j3, "docker.io", &u, &p, &e), 1);
	CHECK_STR(u, "a");
	CHECK_STR(p, "b");
	free(u);
	free(p);
	CHECK_INT(lookup(j3, "index.docker.io.evil", &u, &p, &e), 0);
	/* an exact key wins over an equivalent form */
	const char *j4 =
	    "{\"auths\":{\"https://h\":{\"auth\":\"eDp5\"},\"h\":{\"auth\":\"YTpi\"}}}";
	CHECK_INT(lookup(j4, "h", &u, &p, &e), 1);
	CHECK_STR(u, "a");
	free(u);
	free(p);
	/* entries without credentials, no auths at all */
	CHECK_INT(lookup("{\"auths\":{\"h\":{}}}", "h", &u, &p, &e), 0);
	CHECK_INT(lookup("{\"auths\":{\"h\":{\"auth\":\"\"}}}", "h", &u, &p, &e), 0);
	CHECK_INT(lookup("{}", "h", &u, &p, &e), 0);
	CHECK(e == NULL);
}

static void config_rejects(const char *json, const char *why, int line)
{
	char *u = NULL, *p = NULL;
	struct i2k_error *e = NULL;
	int rc = lookup(json, "h", &u, &p, &e);
	if (rc != -1 || e == NULL || e->code != I2K_ERR_CONFIG || !strstr(e->msg, why) ||
	    !strstr(e->msg, "cfg.json")) {
		fprintf(stderr, "  line %d: rc=%d msg=\"%s\" lacks \"%s\"\n", line, rc,
			e ? e->msg : "", why);
		t_failed_checks++;
	}
	free(u);
	free(p);
	i2k_error_free(e);
}

TEST(config_json_errors)
{
	config_rejects("{", "invalid JSON", __LINE__);
	config_rejects("[]", "not a JSON object", __LINE__);
	config_rejects("{\"auths\":[]}", "\"auths\" is not an object", __LINE__);
	config_rejects("{\"auths\":{\"h\":{\"auth\":\"!!!!\"}}}", "auth is not valid base64",
		       __LINE__);
	config_rejects("{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}",
		       "does not decode to user:password", __LINE__);
}

TEST(config_json_files)
{
	char dir[] = "/tmp/i2k-test-auth-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/config.json", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("{\"auths\":{\"127.0.0.1:5443\":{\"auth\":\"dTpw\"}}}", f);
		fclose(f);
	}
	char *u = NULL, *p = NULL;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_auth_config_lookup(dir, "127.0.0.1:5443", &u, &p, &e), 1);
	CHECK_STR(u, "u");
	CHECK_STR(p, "p");
	free(u);
	free(p);
	/* $DOCKER_CONFIG when no dir is given */
	setenv("DOCKER_CONFIG", dir, 1);
	CHECK_INT(i2k_auth_config_lookup(NULL, "127.0.0.1:5443", &u, &p, &e), 1);
	free(u);
	free(p);
	/* $HOME/.docker when neither is set */
	unsetenv("DOCKER_CONFIG");
	char home[300];
	snprintf(home, sizeof(home), "%s/home", dir);
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	CHECK_INT(i2k_auth_config_lookup(NULL, "127.0.0.1:5443", &u, &p, &e), 0);
	char hd[320], hp[340];
	snprintf(hd, sizeof(hd), "%s/.docker", home);
	mkdir(hd, 0700);
	snprintf(hp, sizeof(hp), "%s/config.json", hd);
	f = fopen(hp, "w");
	if (f) {
		fputs("{\"auths\":{\"https://127.0.0.1:5443\":{\"username\":\"x\",\"password\":"
		      "\"y\"}}}",
		      f);
		fclose(f);
	}
	CHECK_INT(i2k_auth_config_lookup(NULL, "127.0.0.1:5443", &u, &p, &e), 1);
	CHECK_STR(u, "x");
	free(u);
	free(p);
	/* missing file in an explicit dir → 0; malformed → -1 naming the file */
	CHECK_INT(i2k_auth_config_lookup("/nonexistent-i2k", "h", &u, &p, &e), 0);
	f = fopen(path, "w");
	if (f) {
		fputs("{not json", f);
		fclose(f);
	}
	CHECK_INT(i2k_auth_config_lookup(dir, "h", &u, &p, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, path);
	i2k_error_free(e);
	i2k_rm_rf(dir, NULL);
}

TEST(token_response)
{
	char *t = NULL;
	long exp = 0;
	struct i2k_error *e = NULL;
	const char *j = "{\"token\":\"abc.def\",\"expires_in\":300}";
	CHECK(i2k_auth_token_parse(j, strlen(j), &t, &exp, &e) == 0);
	CHECK_STR(t, "abc.def");
	CHECK_INT(exp, 300);
	free(t);
	j = "{\"access_token\":\"xyz\"}";
	CHECK(i2k_auth_token_parse(j, strlen(j), &t, &exp, &e) == 0);
	CHECK_STR(t, "xyz");
	CHECK_INT(exp, 60);
	free(t);
	j = "{\"token\":\"\",\"access_token\":\"q\",\"expires_in\":5}";
	CHECK(i2k_auth_token_parse(j, strlen(j), &t, &exp, &e) == 0);
	CHECK_STR(t, "q");
	CHECK_INT(exp, 60);
	free(t);
	static const char *const bad[][2] = {
	    {"nope", "invalid token response"},
	    {"{\"expires_in\":1}", "no \"token\" or \"access_token\""},
	    {"{\"token\":5}", "no \"token\" or \"access_token\""},
	    {"{\"token\":\"a\\r\\nX-Evil: 1\"}", "control or non-ASCII"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = NULL;
		CHECK(i2k_auth_token_parse(bad[i][0], strlen(bad[i][0]), &t, &exp, &e) < 0);
		CHECK(e && e->code == I2K_ERR_REGISTRY);
		CHECK_CONTAINS(e ? e->msg : NULL, bad[i][1]);
		i2k_error_free(e);
	}
}

TEST(plain_http_policy)
{
	const char *insecure[] = {"reg.lan", "other.lan:5000"};
	struct i2k_http_policy p = {.insecure_hosts = insecure, .n_insecure_hosts = 2};
	CHECK(i2k_http_plain_allowed(&p, "localhost:5000"));
	CHECK(i2k_http_plain_allowed(&p, "127.0.0.1:41234"));
	CHECK(i2k_http_plain_allowed(&p, "127.0.0.1"));
	CHECK(i2k_http_plain_allowed(&p, "[::1]:5000"));
	CHECK(i2k_http_plain_allowed(&p, "reg.lan:1234"));
	CHECK(i2k_http_plain_allowed(&p, "reg.lan"));
	CHECK(i2k_http_plain_allowed(&p, "other.lan:5000"));
	CHECK(!i2k_http_plain_allowed(&p, "other.lan:5001"));
	CHECK(!i2k_http_plain_allowed(&p, "other.lan"));
	CHECK(!i2k_http_plain_allowed(&p, "127.0.0.2:5000"));
	CHECK(!i2k_http_plain_allowed(&p, "localhost.evil.com"));
	CHECK(!i2k_http_plain_allowed(&p, "registry-1.docker.io"));
	char *u = i2k_http_base_url(&p, "127.0.0.1:5000");
	CHECK_STR(u, "http://127.0.0.1:5000");
	free(u);
	u = i2k_http_base_url(&p, "ghcr.io");
	CHECK_STR(u, "https://ghcr.io");
	free(u);
	u = i2k_http_url_authority("https://Example.com:8443/v2/x?y=z");
	CHECK(u != NULL);
	if (u)
		CHECK(strcasecmp(u, "example.com:8443") == 0);
	free(u);
	u = i2k_http_url_authority("http://127.0.0.1/t");
	CHECK_STR(u, "127.0.0.1");
	free(u);
	CHECK(i2k_http_url_authority("not a url") == NULL);
}

int main(void)
{
	t_prog = "test_auth";
	RUN(bearer_challenge);
	RUN(basic_challenge);
	RUN(challenge_errors);
	RUN(base64);
	RUN(config_json_lookup);
	RUN(config_json_errors);
	RUN(config_json_files);
	RUN(token_response);
	RUN(plain_http_policy);
	return TEST_DONE();
}
