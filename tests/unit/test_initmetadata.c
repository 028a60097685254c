/* test_initmetadata.c — the guest init's metadata expansion
 * (initrd/init/metadata.c), compiled in directly: /run/config as
 * LinuxKit's metadata package lays it out. */
#include "initrd/init/json.c"
#include "initrd/init/log.c"
#include "initrd/init/metadata.c"
#include "initrd/init/util.c"

#include "tests/unit/test.h"

static char tmpdir[] = "/tmp/i2k-initmeta-XXXXXX";
static char path[512];

static const char *at(const char *rel)
{
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

static char *slurp(const char *rel)
{
	static char buf[256];
	FILE *f = fopen(at(rel), "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static mode_t mode_of(const char *rel)
{
	struct stat st;
	return stat(at(rel), &st) == 0 ? st.st_mode : 0;
}

TEST(json_object_expands_like_linuxkit)
{
	const char *json = "{\"hostname\": \"web1\", \"port\": 8080, \"on\": true, \"skip\": null,"
			   " \"ssh\": {\"entries\": {\"authorized_keys\": {\"perm\": \"0640\","
			   " \"content\": \"ssh-ed25519 AAA\"}}},"
			   " \"app\": {\"env\": {\"MODE\": \"prod\"}}, \"../evil\": \"x\"}";
	FILE *f = fopen(at("data"), "w");
	fputs(json, f);
	fclose(f);
	CHECK_INT(i2ki_metadata_expand(at("data"), tmpdir), -1); /* ../evil skipped */
	CHECK_STR(slurp("hostname"), "web1");
	CHECK_STR(slurp("port"), "8080");
	CHECK_STR(slurp("on"), "true");
	CHECK(slurp("skip") == NULL);
	CHECK_STR(slurp("ssh/authorized_keys"), "ssh-ed25519 AAA");
	CHECK_INT(mode_of("ssh/authorized_keys") & 07777, 0640);
	CHECK(S_ISDIR(mode_of("ssh")));
	CHECK_STR(slurp("app/env/MODE"), "prod");
	CHECK(slurp("../evil") == NULL);
	CHECK_STR(slurp("data"), json); /* the raw data stays */
}

TEST(content_entry_defaults_to_0600)
{
	FILE *f = fopen(at("d2"), "w");
	fputs("{\"secret\": {\"content\": \"s3\"}}", f);
	fclose(f);
	CHECK_INT(i2ki_metadata_expand(at("d2"), tmpdir), 0);
	CHECK_STR(slurp("secret"), "s3");
	CHECK_INT(mode_of("secret") & 07777, 0600);
}

TEST(non_object_is_left_alone)
{
	FILE *f = fopen(at("d3"), "w");
	fputs("plain text, not JSON", f);
	fclose(f);
	CHECK_INT(i2ki_metadata_expand(at("d3"), tmpdir), 1);
	f = fopen(at("d4"), "w");
	fputs("[1, 2]", f);
	fclose(f);
	CHECK_INT(i2ki_metadata_expand(at("d4"), tmpdir), 1);
}

int main(void)
{
	t_prog = "initmetadata";
	if (!mkdtemp(tmpdir)) {
		printf("FAIL: initmetadata/setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	RUN(json_object_expands_like_linuxkit);
	RUN(content_entry_defaults_to_0600);
	RUN(non_object_is_left_alone);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return TEST_DONE();
}
