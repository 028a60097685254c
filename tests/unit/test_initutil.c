/* test_initutil.c — the guest init's general helpers (initrd/init/util.c),
 * json.c's member readers and log.c's line format, compiled in directly:
 * initrd/init is not part of the library. */
#include "initrd/init/util.c"
#include "initrd/init/json.c"
#include "initrd/init/log.c"

#include <limits.h>
#include <signal.h>

#include "tests/unit/test.h"

static char tmpdir[] = "/tmp/i2k-initutil-XXXXXX";
static char path[512];

static const char *at(const char *rel)
{
	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

TEST(fail_formats_and_keeps_errno)
{
	char err[16];
	errno = EACCES;
	CHECK_INT(i2ki_fail(err, sizeof(err), "open %s: %d", "/x", 42), -1);
	CHECK_STR(err, "open /x: 42");
	CHECK_INT(errno, EACCES);
	/* truncated to the buffer, never overflowing it */
	CHECK_INT(i2ki_fail(err, sizeof(err), "%s", "a reason longer than sixteen bytes"), -1);
	CHECK_INT(strlen(err), sizeof(err) - 1);
	/* no buffer: still -1, nothing written */
	CHECK_INT(i2ki_fail(NULL, 0, "ignored %d", 1), -1);
	CHECK_INT(errno, EACCES);
}

TEST(mkdir_p)
{
	char err[256] = "";
	struct stat st;
	CHECK_INT(i2ki_mkdir_p(at("a/b/c"), 0750, err, sizeof(err)), 0);
	CHECK(stat(at("a/b/c"), &st) == 0 && S_ISDIR(st.st_mode));
	/* existing directories (and a trailing slash) are fine */
	CHECK_INT(i2ki_mkdir_p(at("a/b/"), 0750, err, sizeof(err)), 0);
	CHECK_INT(i2ki_mkdir_p(tmpdir, 0750, NULL, 0), 0);
	/* a file in the way */
	int fd = open(at("a/file"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	close(fd);
	errno = 0;
	CHECK_INT(i2ki_mkdir_p(at("a/file"), 0755, err, sizeof(err)), -1);
	CHECK_INT(errno, ENOTDIR);
	CHECK_CONTAINS(err, "a/file: not a directory");
	CHECK_INT(i2ki_mkdir_p(at("a/file/sub"), 0755, err, sizeof(err)), -1);
	CHECK_INT(errno, ENOTDIR);
	CHECK_CONTAINS(err, "mkdir ");
	/* too long, empty */
	char lng[I2KI_PATH_MAX + 8];
	memset(lng, 'x', sizeof(lng) - 1);
	lng[0] = '/';
	lng[sizeof(lng) - 1] = 0;
	CHECK_INT(i2ki_mkdir_p(lng, 0755, err, sizeof(err)), -1);
	CHECK_INT(errno, ENAMETOOLONG);
	CHECK_CONTAINS(err, "bad path length for /xxx");
	CHECK_INT(i2ki_mkdir_p("", 0755, NULL, 0), -1);
}

TEST(write_and_read_files)
{
	char buf[8];
	int fd = open(at("knob"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	close(fd);
	/* i2ki_write_file writes into an existing file, never creates one */
	CHECK_INT(i2ki_write_file(at("knob"), "first line\nsecond\n"), 0);
	CHECK_INT(i2ki_read_line(at("knob"), buf, sizeof(buf)), 0);
	CHECK_STR(buf, "first l"); /* at most len - 1 bytes */
	char big[64];
	CHECK_INT(i2ki_read_line(at("knob"), big, sizeof(big)), 0);
	CHECK_STR(big, "first line");
	errno = 0;
	CHECK_INT(i2ki_write_file(at("missing"), "x"), -1);
	CHECK_INT(errno, ENOENT);
	CHECK_INT(i2ki_read_line(at("missing"), buf, sizeof(buf)), -1);
	CHECK_INT(errno, ENOENT);
	/* an empty file reads as "" */
	fd = open(at("empty"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	close(fd);
	buf[0] = 'z';
	CHECK_INT(i2ki_read_line(at("empty"), buf, sizeof(buf)), 0);
	CHECK_STR(buf, "");
}

TEST(write_all_to_a_pipe)
{
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK_INT(i2ki_write_all(p[1], "0123456789", 10), 0);
	char buf[16] = "";
	CHECK_INT(read(p[0], buf, sizeof(buf) - 1), 10);
	CHECK_STR(buf, "0123456789");
	close(p[0]);
	/* reader gone: EPIPE (SIGPIPE ignored here), -1 */
	signal(SIGPIPE, SIG_IGN);
	CHECK_INT(i2ki_write_all(p[1], "x", 1), -1);
	CHECK_INT(errno, EPIPE);
	close(p[1]);
	CHECK_INT(i2ki_write_all(-1, "x", 1), -1);
}

TEST(json_member_readers)
{
	char err[128];
	const char *doc = "{\"a\":[1,2],\"e\":[],\"t\":true,\"n\":-7,\"s\":\"x\","
			  "\"big\":18446744073709551615}";
	struct jnode *root = i2ki_json_parse(doc, strlen(doc), err, sizeof(err));
	CHECK(root != NULL);
	if (!root)
		return;
	const struct jnode *f = i2ki_json_first(root, "a");
	CHECK(f && f->type == J_NUM && f->num == 1 && f->next && f->next->num == 2);
	CHECK(i2ki_json_first(root, "e") == NULL);
	CHECK(i2ki_json_first(root, "s") == NULL);
	CHECK(i2ki_json_first(root, "nope") == NULL);
	CHECK(i2ki_json_bool(root, "t", false) == true);
	CHECK(i2ki_json_bool(root, "s", false) == false);
	CHECK(i2ki_json_bool(root, "nope", true) == true);
	long long v = 0;
	CHECK_INT(i2ki_json_int(root, "n", &v), 0);
	CHECK_INT(v, -7);
	CHECK_INT(i2ki_json_int(root, "s", &v), -1);
	CHECK(i2ki_json_u64(i2ki_json_get(root, "big")) == ULLONG_MAX);
	CHECK(i2ki_json_u64(i2ki_json_get(root, "n")) == 0);
	i2ki_json_free(root);
}

/* What one log call writes (no consoles opened: the lines go to i2ki_log_fd). */
static void logged(int verbose, char *out, size_t outlen)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int saved = i2ki_log_fd;
	i2ki_log_fd = p[1];
	i2ki_log_verbose = verbose;
	i2ki_log_info("hello %d", 7);
	i2ki_log_debug("step %s", "x");
	i2ki_log_fd = saved;
	i2ki_log_verbose = 0;
	close(p[1]);
	ssize_t n = read(p[0], out, outlen - 1);
	out[n > 0 ? n : 0] = 0;
	close(p[0]);
}

TEST(log_lines_and_debug_timestamps)
{
	char out[512];
	logged(0, out, sizeof(out));
	CHECK_STR(out, "i2kit-init: hello 7\n"); /* no debug line, no time */
	logged(1, out, sizeof(out));
	/* i2kit.debug=1: every line has the seconds since boot, debug lines too */
	unsigned long s1, s2;
	long u1, u2;
	char m1[32], m2[32];
	CHECK_INT(
	    sscanf(out,
		   "i2kit-init: [%lu.%6ld] hello %31[0-9]\ni2kit-init: [%lu.%6ld] debug: step %31s",
		   &s1, &u1, m1, &s2, &u2, m2),
	    6);
	CHECK_STR(m1, "7");
	CHECK_STR(m2, "x");
	CHECK(s2 > s1 || (s2 == s1 && u2 >= u1));
	CHECK(strstr(out, "] hello 7\n") != NULL);
}

int main(void)
{
	t_prog = "initutil";
	if (!mkdtemp(tmpdir)) {
		printf("FAIL: initutil/setup: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	RUN(fail_formats_and_keeps_errno);
	RUN(mkdir_p);
	RUN(write_and_read_files);
	RUN(write_all_to_a_pipe);
	RUN(json_member_readers);
	RUN(log_lines_and_debug_timestamps);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return TEST_DONE();
}
