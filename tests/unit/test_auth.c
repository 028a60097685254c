/* test_auth.c — WWW-Authenticate challenges, token responses and base64
 * (builder/registry/auth.c), and the plain-HTTP policy
 * (builder/registry/http.c). Docker config.json credentials: test_creds.c. */
#include "builder/registry/auth.h"
#include "builder/registry/http.h"
#include "tests/unit/test.h"

#include <stdlib.h>

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
	RUN(token_response);
	RUN(plain_http_policy);
	return TEST_DONE();
}
