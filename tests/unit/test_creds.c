/* test_creds.c — Docker config.json credentials (credHelpers, credsStore,
 * auths with auth / username+password / identitytoken), credential helpers
 * run as docker-credential-NAME (a fake one written by the test, first on
 * $PATH), and mirror specs and files (builder/registry/creds.c, mirror.c). */
#include "builder/registry/creds.h"
#include "builder/registry/mirror.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/util.h"

static int parse(const char *json, const char *registry, struct i2k_creds *c, char **helper,
		 const char **kind, struct i2k_error **e)
{
	return i2k_creds_parse(json, strlen(json), "cfg.json", registry, c, helper, kind, e);
}

/* Expects `auths` credentials user/secret (user NULL: identity token only). */
static void expect_found(const char *json, const char *registry, const char *user,
			 const char *secret, bool idtoken, int line)
{
	struct i2k_creds c;
	char *helper = NULL;
	const char *kind = NULL;
	struct i2k_error *e = NULL;
	int how = parse(json, registry, &c, &helper, &kind, &e);
	bool ok = how == I2K_CREDS_FOUND && helper == NULL && c.secret &&
		  strcmp(c.secret, secret) == 0 && c.identity_token == idtoken &&
		  (user ? c.user && strcmp(c.user, user) == 0 : c.user == NULL) && c.source &&
		  strcmp(c.source, "cfg.json") == 0;
	if (!ok) {
		fprintf(stderr, "  line %d: how=%d user=%s idtoken=%d err=%s\n", line, how,
			c.user ? c.user : "(null)", c.identity_token, e ? e->msg : "");
		t_failed_checks++;
	}
	free(helper);
	i2k_creds_clear(&c);
	i2k_error_free(e);
}

static void expect_none(const char *json, const char *registry, int line)
{
	struct i2k_creds c;
	char *helper = NULL;
	const char *kind = NULL;
	struct i2k_error *e = NULL;
	int how = parse(json, registry, &c, &helper, &kind, &e);
	if (how != I2K_CREDS_NONE || c.secret || c.user || helper || e) {
		fprintf(stderr, "  line %d: expected no credentials, how=%d\n", line, how);
		t_failed_checks++;
	}
	free(helper);
	i2k_creds_clear(&c);
	i2k_error_free(e);
}

static void expect_helper(const char *json, const char *registry, const char *name,
			  const char *want_kind, int line)
{
	struct i2k_creds c;
	char *helper = NULL;
	const char *kind = NULL;
	struct i2k_error *e = NULL;
	int how = parse(json, registry, &c, &helper, &kind, &e);
	if (how != I2K_CREDS_HELPER || helper == NULL || strcmp(helper, name) != 0 ||
	    kind == NULL || strcmp(kind, want_kind) != 0 || c.secret) {
		fprintf(stderr, "  line %d: how=%d helper=%s kind=%s\n", line, how,
			helper ? helper : "(null)", kind ? kind : "(null)");
		t_failed_checks++;
	}
	free(helper);
	i2k_creds_clear(&c);
	i2k_error_free(e);
}

TEST(auths_entries)
{
	/* base64 "auth" field (the password may hold ':'), plain host key */
	const char *j1 = "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwYTpzcw==\"}}}";
	expect_found(j1, "127.0.0.1:5000", "user", "pa:ss", false, __LINE__);
	expect_none(j1, "127.0.0.1:5001", __LINE__);
	/* https:// key with a path, username/password fields */
	expect_found("{\"auths\":{\"https://reg.example:443/v2/\":"
		     "{\"username\":\"alice\",\"password\":\"s3cret\"}}}",
		     "reg.example:443", "alice", "s3cret", false, __LINE__);
	/* docker.io through Docker's legacy key, never a look-alike host */
	const char *j3 = "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"YTpi\"}}}";
	expect_found(j3, "docker.io", "a", "b", false, __LINE__);
	expect_none(j3, "index.docker.io.evil", __LINE__);
	/* an exact key wins over an equivalent form */
	expect_found("{\"auths\":{\"https://h\":{\"auth\":\"eDp5\"},\"h\":{\"auth\":\"YTpi\"}}}",
		     "h", "a", "b", false, __LINE__);
	/* entries without credentials, no auths at all */
	expect_none("{\"auths\":{\"h\":{}}}", "h", __LINE__);
	expect_none("{\"auths\":{\"h\":{\"auth\":\"\"}}}", "h", __LINE__);
	expect_none("{\"auths\":{\"h\":{\"identitytoken\":\"\"}}}", "h", __LINE__);
	expect_none("{}", "h", __LINE__);
}

TEST(identity_token)
{
	/* alone: a refresh token and no user */
	expect_found("{\"auths\":{\"h\":{\"identitytoken\":\"rt-1\"}}}", "h", NULL, "rt-1", true,
		     __LINE__);
	/* with "auth" (as docker login writes it): the token replaces the
	 * password, the user name stays */
	expect_found("{\"auths\":{\"h\":{\"auth\":\"dTpw\",\"identitytoken\":\"rt-2\"}}}", "h", "u",
		     "rt-2", true, __LINE__);
}

TEST(precedence)
{
	/* credHelpers (for this registry) over credsStore over auths */
	const char *all = "{\"auths\":{\"h\":{\"auth\":\"dTpw\"},\"o\":{\"auth\":\"dTpw\"}},"
			  "\"credsStore\":\"store\",\"credHelpers\":{\"h\":\"per-reg\"}}";
	expect_helper(all, "h", "per-reg", "credHelpers", __LINE__);
	expect_helper(all, "o", "store", "credsStore", __LINE__);
	/* credHelpers keys match like auths keys (docker.io forms) */
	expect_helper("{\"credHelpers\":{\"https://index.docker.io/v1/\":\"hub\"}}", "docker.io",
		      "hub", "credHelpers", __LINE__);
	/* no store ("" means none, as for Docker): auths */
	expect_found("{\"auths\":{\"h\":{\"auth\":\"dTpw\"}},\"credsStore\":\"\"}", "h", "u", "p",
		     false, __LINE__);
	/* a credHelpers entry for another registry does not apply */
	expect_found("{\"auths\":{\"h\":{\"auth\":\"dTpw\"}},\"credHelpers\":{\"x\":\"y\"}}", "h",
		     "u", "p", false, __LINE__);
}

static void config_rejects(const char *json, const char *why, int line)
{
	struct i2k_creds c;
	char *helper = NULL;
	const char *kind = NULL;
	struct i2k_error *e = NULL;
	int rc = parse(json, "h", &c, &helper, &kind, &e);
	if (rc != -1 || e == NULL || e->code != I2K_ERR_CONFIG || !strstr(e->msg, why) ||
	    !strstr(e->msg, "cfg.json") || c.secret || helper) {
		fprintf(stderr, "  line %d: rc=%d msg=\"%s\" lacks \"%s\"\n", line, rc,
			e ? e->msg : "", why);
		t_failed_checks++;
	}
	free(helper);
	i2k_creds_clear(&c);
	i2k_error_free(e);
}

TEST(config_errors)
{
	config_rejects("{", "invalid JSON", __LINE__);
	config_rejects("[]", "not a JSON object", __LINE__);
	config_rejects("{\"auths\":[]}", "\"auths\" is not an object", __LINE__);
	config_rejects("{\"auths\":{\"h\":{\"auth\":\"!!!!\"}}}", "auth is not valid base64",
		       __LINE__);
	config_rejects("{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}",
		       "does not decode to user:password", __LINE__);
	config_rejects("{\"credHelpers\":[]}", "\"credHelpers\" is not an object", __LINE__);
	config_rejects("{\"credsStore\":5}", "\"credsStore\" is not a string", __LINE__);
	config_rejects("{\"credsStore\":\"../../bin/sh\"}", "invalid credential helper name",
		       __LINE__);
	config_rejects("{\"credHelpers\":{\"h\":\"-x\"}}", "invalid credential helper name",
		       __LINE__);
	/* a bad base64 secret is never quoted */
	struct i2k_creds c;
	char *helper = NULL;
	const char *kind = NULL;
	struct i2k_error *e = NULL;
	CHECK(parse("{\"auths\":{\"h\":{\"auth\":\"c2VjcmV0LXZhbHVl\"}}}", "h", &c, &helper, &kind,
		    &e) < 0);
	CHECK(e && strstr(e->msg, "secret-value") == NULL);
	i2k_creds_clear(&c);
	i2k_error_free(e);
}

TEST(server_url)
{
	char *u = i2k_creds_server_url("docker.io");
	CHECK_STR(u, "https://index.docker.io/v1/");
	free(u);
	u = i2k_creds_server_url("127.0.0.1:5000");
	CHECK_STR(u, "127.0.0.1:5000");
	free(u);
}

TEST(helper_output)
{
	struct i2k_creds c;
	struct i2k_error *e = NULL;
	const char *j = "{\"ServerURL\":\"h\",\"Username\":\"bob\",\"Secret\":\"pw\"}";
	CHECK(i2k_creds_helper_parse("t", j, strlen(j), &c, &e) == 0);
	CHECK_STR(c.user, "bob");
	CHECK_STR(c.secret, "pw");
	CHECK(!c.identity_token);
	CHECK_STR(c.source, "docker-credential-t");
	i2k_creds_clear(&c);
	/* Username "<token>": the secret is an identity token */
	j = "{\"ServerURL\":\"h\",\"Username\":\"<token>\",\"Secret\":\"rt\"}";
	CHECK(i2k_creds_helper_parse("t", j, strlen(j), &c, &e) == 0);
	CHECK(c.user == NULL && c.identity_token);
	CHECK_STR(c.secret, "rt");
	i2k_creds_clear(&c);
	static const char *const bad[][2] = {
	    {"the-secret-itself", "not a JSON object"},
	    {"{\"Username\":\"u\"}", "no \"Secret\""},
	    {"{\"Username\":5,\"Secret\":\"the-secret-itself\"}", "\"Username\" is not a string"},
	    {"{\"Secret\":\"the-secret-itself\"}", "no \"Username\""},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = NULL;
		CHECK(i2k_creds_helper_parse("t", bad[i][0], strlen(bad[i][0]), &c, &e) < 0);
		CHECK(e && e->code == I2K_ERR_AUTH);
		CHECK_CONTAINS(e ? e->msg : NULL, "docker-credential-t: invalid output: ");
		CHECK_CONTAINS(e ? e->msg : NULL, bad[i][1]);
		CHECK(e && strstr(e->msg, "the-secret-itself") == NULL);
		CHECK(c.secret == NULL && c.user == NULL);
		i2k_error_free(e);
	}
}

static char tmpdir[] = "/tmp/i2k-test-creds-XXXXXX";

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(path, mode);
}

static char *read_text(const char *path)
{
	char *d = NULL;
	size_t n = 0;
	struct i2k_error *e = NULL;
	if (i2k_read_file(path, 1 << 20, &d, &n, &e) < 0) {
		i2k_error_free(e);
		return i2k_xstrdup("");
	}
	return d;
}

/* A fake helper: logs argv[1] and stdin to $UT_HELPER_LOG, answers by the
 * server URL it was given. */
static const char fake_helper[] =
    "#!/bin/sh\n"
    "read -r url\n"
    "printf '%s %s\\n' \"$1\" \"$url\" >>\"$UT_HELPER_LOG\"\n"
    "case \"$url\" in\n"
    "  127.0.0.1:5000) echo '{\"ServerURL\":\"127.0.0.1:5000\",\"Username\":\"hu\","
    "\"Secret\":\"helper-secret\"}' ;;\n"
    "  https://index.docker.io/v1/) echo '{\"Username\":\"<token>\",\"Secret\":\"rt-hub\"}' "
    ";;\n"
    "  garbage.example) echo 'helper-secret-not-json' ;;\n"
    "  fail.example) echo 'boom: keyring locked' >&2; exit 3 ;;\n"
    "  hang.example) exec sleep 30 ;;\n"
    "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
    "esac\n";

TEST(helper_run)
{
	char bin[128], log[128], helper[160];
	snprintf(bin, sizeof(bin), "%s/bin", tmpdir);
	snprintf(log, sizeof(log), "%s/helper.log", tmpdir);
	snprintf(helper, sizeof(helper), "%s/docker-credential-ut", bin);
	mkdir(bin, 0755);
	write_text(helper, fake_helper, 0755);
	const char *old = getenv("PATH");
	char *path = i2k_xasprintf("%s:%s", bin, old ? old : "/usr/bin:/bin");
	setenv("PATH", path, 1);
	free(path);
	setenv("UT_HELPER_LOG", log, 1);

	struct i2k_creds c;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_creds_helper_get("ut", "127.0.0.1:5000", &c, &e), 1);
	CHECK_STR(c.user, "hu");
	CHECK_STR(c.secret, "helper-secret");
	CHECK_STR(c.source, "docker-credential-ut");
	i2k_creds_clear(&c);
	char *l = read_text(log);
	CHECK_STR(l, "get 127.0.0.1:5000\n");
	free(l);
	/* not found: no credentials, no error */
	CHECK_INT(i2k_creds_helper_get("ut", "other.example", &c, &e), 0);
	CHECK(e == NULL && c.secret == NULL);
	/* failing: exit status and its message, named */
	CHECK_INT(i2k_creds_helper_get("ut", "fail.example", &c, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL,
		       "docker-credential-ut get failed (exit status 3): boom: keyring locked");
	CHECK(e && e->code == I2K_ERR_AUTH);
	i2k_error_free(e);
	e = NULL;
	/* nonsense after exit 0: never quoted */
	CHECK_INT(i2k_creds_helper_get("ut", "garbage.example", &c, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "docker-credential-ut: invalid output");
	CHECK(e && strstr(e->msg, "helper-secret") == NULL);
	i2k_error_free(e);
	e = NULL;
	/* hanging: killed after $I2KIT_CREDENTIAL_HELPER_TIMEOUT seconds */
	setenv("I2KIT_CREDENTIAL_HELPER_TIMEOUT", "1", 1);
	time_t t0 = time(NULL);
	CHECK_INT(i2k_creds_helper_get("ut", "hang.example", &c, &e), -1);
	CHECK(time(NULL) - t0 < 10);
	CHECK_CONTAINS(e ? e->msg : NULL, "docker-credential-ut get did not finish within 1 s "
					  "($I2KIT_CREDENTIAL_HELPER_TIMEOUT)");
	i2k_error_free(e);
	e = NULL;
	unsetenv("I2KIT_CREDENTIAL_HELPER_TIMEOUT");
	/* not installed */
	CHECK_INT(i2k_creds_helper_get("i2k-no-such-helper", "h", &c, &e), -1);
	CHECK_CONTAINS(
	    e ? e->msg : NULL,
	    "docker-credential-i2k-no-such-helper is not installed (not found in $PATH)");
	i2k_error_free(e);
	e = NULL;

	/* the whole lookup: credsStore, credHelpers, Docker Hub's server URL */
	char cfg[160];
	snprintf(cfg, sizeof(cfg), "%s/config.json", tmpdir);
	write_text(cfg,
		   "{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"dTpw\"}},\"credsStore\":\"ut\","
		   "\"credHelpers\":{\"fail.example\":\"ut\",\"gone.example\":\"i2k-gone\"}}",
		   0600);
	unlink(log);
	CHECK_INT(i2k_creds_lookup(tmpdir, "127.0.0.1:5000", &c, &e), 1);
	CHECK_STR(c.user, "hu"); /* the store wins over auths */
	CHECK_STR(c.secret, "helper-secret");
	i2k_creds_clear(&c);
	CHECK_INT(i2k_creds_lookup(tmpdir, "docker.io", &c, &e), 1);
	CHECK(c.identity_token && c.user == NULL);
	CHECK_STR(c.secret, "rt-hub");
	i2k_creds_clear(&c);
	l = read_text(log);
	CHECK_STR(l, "get 127.0.0.1:5000\nget https://index.docker.io/v1/\n");
	free(l);
	/* the store has nothing: anonymous, whatever auths says */
	CHECK_INT(i2k_creds_lookup(tmpdir, "nothing.example", &c, &e), 0);
	CHECK(e == NULL);
	CHECK_INT(i2k_creds_lookup(tmpdir, "fail.example", &c, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "credential helper (credHelpers in ");
	CHECK_CONTAINS(e ? e->msg : NULL, "docker-credential-ut get failed");
	i2k_error_free(e);
	e = NULL;
	CHECK_INT(i2k_creds_lookup(tmpdir, "gone.example", &c, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "docker-credential-i2k-gone is not installed");
	CHECK_CONTAINS(e ? e->msg : NULL, cfg);
	i2k_error_free(e);
}

TEST(config_files)
{
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/files", tmpdir);
	mkdir(dir, 0700);
	char path[256];
	snprintf(path, sizeof(path), "%s/config.json", dir);
	write_text(path, "{\"auths\":{\"127.0.0.1:5443\":{\"auth\":\"dTpw\"}}}", 0600);
	struct i2k_creds c;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_creds_lookup(dir, "127.0.0.1:5443", &c, &e), 1);
	CHECK_STR(c.user, "u");
	CHECK_STR(c.secret, "p");
	CHECK_STR(c.source, path);
	i2k_creds_clear(&c);
	/* $DOCKER_CONFIG when no dir is given */
	setenv("DOCKER_CONFIG", dir, 1);
	CHECK_INT(i2k_creds_lookup(NULL, "127.0.0.1:5443", &c, &e), 1);
	i2k_creds_clear(&c);
	/* $HOME/.docker when neither is set */
	unsetenv("DOCKER_CONFIG");
	char home[300], hd[320], hp[340];
	snprintf(home, sizeof(home), "%s/home", dir);
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	CHECK_INT(i2k_creds_lookup(NULL, "127.0.0.1:5443", &c, &e), 0);
	snprintf(hd, sizeof(hd), "%s/.docker", home);
	mkdir(hd, 0700);
	snprintf(hp, sizeof(hp), "%s/config.json", hd);
	write_text(hp,
		   "{\"auths\":{\"https://127.0.0.1:5443\":{\"username\":\"x\",\"password\":"
		   "\"y\"}}}",
		   0600);
	CHECK_INT(i2k_creds_lookup(NULL, "127.0.0.1:5443", &c, &e), 1);
	CHECK_STR(c.user, "x");
	i2k_creds_clear(&c);
	/* missing file in an explicit dir → 0; malformed → -1 naming the file */
	CHECK_INT(i2k_creds_lookup("/nonexistent-i2k", "h", &c, &e), 0);
	write_text(path, "{not json", 0600);
	CHECK_INT(i2k_creds_lookup(dir, "h", &c, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, path);
	i2k_error_free(e);
}

TEST(mirror_specs)
{
	char *r = NULL, *u = NULL;
	struct i2k_error *e = NULL;
	CHECK(i2k_mirror_parse("docker.io=http://127.0.0.1:5001", &r, &u, &e) == 0);
	CHECK_STR(r, "docker.io");
	CHECK_STR(u, "http://127.0.0.1:5001");
	free(r);
	free(u);
	/* docker.io's other names, upper case, trailing '/', a path prefix */
	CHECK(i2k_mirror_parse("Index.Docker.IO=https://m.lan/hub/", &r, &u, &e) == 0);
	CHECK_STR(r, "docker.io");
	CHECK_STR(u, "https://m.lan/hub");
	free(r);
	free(u);
	CHECK(i2k_mirror_parse("127.0.0.1:5000=https://m.lan", &r, &u, &e) == 0);
	CHECK_STR(r, "127.0.0.1:5000");
	free(r);
	free(u);
	static const char *const bad[][2] = {
	    {"docker.io", "expected REGISTRY=URL"},
	    {"=http://m", "is not a registry name"},
	    {"a/b=http://m", "is not a registry name"},
	    {"docker.io=ftp://m", "must start with http:// or https://"},
	    {"docker.io=m.lan", "must start with http:// or https://"},
	    {"docker.io=http://", "has no host"},
	    {"docker.io=https://u:p@m.lan", "user:password@ in the URL"},
	    {"docker.io=https://m.lan/a b", "space, control character"},
	    {"docker.io=https://m.lan/?x=1", "query or fragment"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e = NULL;
		CHECK(i2k_mirror_parse(bad[i][0], &r, &u, &e) < 0);
		CHECK(e && e->code == I2K_ERR_USAGE && r == NULL && u == NULL);
		CHECK_CONTAINS(e ? e->msg : NULL, bad[i][1]);
		i2k_error_free(e);
	}
}

TEST(mirror_files)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/mirrors", tmpdir);
	write_text(path,
		   "# mirrors for the lab\n\n"
		   "docker.io=http://127.0.0.1:5001   # first\n"
		   "  docker.io=https://m2.lan/  \r\n"
		   "ghcr.io=https://m3.lan#not-a-comment\n",
		   0644);
	struct i2k_mirror_list l = {0};
	struct i2k_error *e = NULL;
	CHECK(i2k_mirror_list_load(&l, path, &e) < 0); /* '#' in the URL: a fragment */
	CHECK_CONTAINS(e ? e->msg : NULL, ":5: invalid mirror");
	CHECK(e && e->code == I2K_ERR_CONFIG);
	i2k_error_free(e);
	e = NULL;
	i2k_mirror_list_clear(&l);
	write_text(path,
		   "# mirrors for the lab\n\n"
		   "docker.io=http://127.0.0.1:5001   # first\n"
		   "  docker.io=https://m2.lan/  \r\n"
		   "ghcr.io=https://m3.lan",
		   0644);
	CHECK(i2k_mirror_list_load(&l, path, &e) == 0);
	CHECK_INT(l.n, 3);
	if (l.n == 3) {
		CHECK_STR(l.v[0].url, "http://127.0.0.1:5001");
		CHECK_STR(l.v[1].registry, "docker.io");
		CHECK_STR(l.v[1].url, "https://m2.lan");
		CHECK_STR(l.v[2].registry, "ghcr.io");
	}
	i2k_mirror_list_clear(&l);
	CHECK(i2k_mirror_list_load(&l, "/nonexistent-i2k/mirrors", &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "mirrors file");
	CHECK_CONTAINS(e ? e->msg : NULL, "/nonexistent-i2k/mirrors");
	i2k_error_free(e);
	i2k_mirror_list_clear(&l);
}

int main(void)
{
	t_prog = "test_creds";
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(auths_entries);
	RUN(identity_token);
	RUN(precedence);
	RUN(config_errors);
	RUN(server_url);
	RUN(helper_output);
	RUN(helper_run);
	RUN(config_files);
	RUN(mirror_specs);
	RUN(mirror_files);
	i2k_rm_rf(tmpdir, NULL);
	return TEST_DONE();
}
