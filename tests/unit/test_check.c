/* test_check.c — builder/assemble/check: the checks `build` makes before it
 * fetches, which `validate` runs too (image references, @pkg: templates,
 * capability names, files: sources). */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/assemble/check.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/config.h"
#include "cli/cmd_validate.h"
#include "tests/unit/test.h"

static struct i2k_config *parse(const char *yaml)
{
	struct i2k_config *c = NULL;
	struct i2k_error *err = NULL;
	if (i2k_config_parse("t.yml", yaml, strlen(yaml), &c, &err) < 0) {
		fprintf(stderr, "  unexpected parse error: %s\n", err->msg);
		i2k_error_free(err);
		t_failed_checks++;
		return NULL;
	}
	return c;
}

static void expect(int line, const char *yaml, const char *home, int code, const char *msg)
{
	_cleanup_(i2k_config_freep) struct i2k_config *c = parse(yaml);
	if (c == NULL)
		return;
	struct i2k_error *err = NULL;
	int r = i2k_assemble_check(c, home, &err);
	if (msg == NULL) {
		if (r < 0) {
			fprintf(stderr, "  line %d: unexpected error: %s\n", line, err->msg);
			t_failed_checks++;
		}
	} else if (r == 0 || err == NULL || (int)err->code != code || strcmp(err->msg, msg) != 0) {
		fprintf(stderr, "  line %d: wanted error %d \"%s\", got %d %d \"%s\"\n", line, code,
			msg, r, err ? (int)err->code : 0, err ? err->msg : "(none)");
		t_failed_checks++;
	}
	i2k_error_free(err);
}
#define EXPECT_OK(yaml) expect(__LINE__, yaml, NULL, 0, NULL)
#define EXPECT_FAIL(yaml, code, msg) expect(__LINE__, yaml, NULL, code, msg)

TEST(image_references)
{
	EXPECT_OK("kernel:\n  image: linuxkit/kernel:6.6.71\ninit:\n  - linuxkit/init:v1.0\n"
		  "onboot:\n  - {name: a, image: \"127.0.0.1:5000/x/y@sha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}\n"
		  "volumes:\n  - {name: v}\n  - {name: w, image: alpine:3.19}\n");
	EXPECT_FAIL("kernel:\n  image: Linuxkit/Kernel\n", I2K_ERR_CONFIG,
		    "t.yml:2:3: kernel.image: invalid image reference \"Linuxkit/Kernel\": "
		    "repository name components must be lower-case letters, digits and separators "
		    "(., _, __, -)");
	EXPECT_FAIL("init:\n  - linuxkit/init:v1\n  - \"a:b:c:d\"\n", I2K_ERR_CONFIG,
		    "t.yml:3:5: init[1]: invalid image reference \"a:b:c:d\": repository name "
		    "components must be lower-case letters, digits and separators (., _, __, -)");
	EXPECT_FAIL("services:\n  - name: web\n    image: \"nginx:bad tag\"\n", I2K_ERR_CONFIG,
		    "t.yml:2:5: services[web].image: invalid image reference \"nginx:bad tag\": "
		    "contains whitespace or control characters");
	EXPECT_FAIL("volumes:\n  - name: v\n    image: \"UPPER\"\n", I2K_ERR_CONFIG,
		    "t.yml:2:5: volumes[v].image: invalid image reference \"UPPER\": "
		    "repository name components must be lower-case letters, digits and separators "
		    "(., _, __, -)");
}

TEST(pkg_templates_not_supported)
{
	EXPECT_FAIL("onboot:\n  - name: x\n    image: \"@pkg:../../pkg/init\"\n",
		    I2K_ERR_UNSUPPORTED,
		    "t.yml:2:5: onboot[x].image: \"@pkg:../../pkg/init\" is a linuxkit pkg "
		    "template, which i2kit does not support: build the package (linuxkit pkg "
		    "build) and name its image instead");
	EXPECT_FAIL("init:\n  - \"@pkg:./pkg/init\"\n", I2K_ERR_UNSUPPORTED,
		    "t.yml:2:5: init[0]: \"@pkg:./pkg/init\" is a linuxkit pkg template, which "
		    "i2kit does not support: build the package (linuxkit pkg build) and name its "
		    "image instead");
}

TEST(capability_names)
{
	EXPECT_OK("services:\n  - name: a\n    image: b\n    capabilities: [CAP_NET_ADMIN, "
		  "CAP_SYS_ADMIN]\n    capabilities.add: [CAP_CHECKPOINT_RESTORE]\n"
		  "    ambient: [ALL]\n  - name: c\n    image: b\n    capabilities: [none]\n");
	EXPECT_FAIL("onshutdown:\n  - name: a\n    image: b\n    capabilities: [CAP_NET_ADMIN, "
		    "cap_sys_admin]\n",
		    I2K_ERR_CONFIG,
		    "t.yml:2:5: onshutdown[a].capabilities: unknown capability \"cap_sys_admin\"");
	EXPECT_FAIL("onboot:\n  - name: a\n    image: b\n    capabilities.add: [CAP_BOGUS]\n",
		    I2K_ERR_CONFIG,
		    "t.yml:2:5: onboot[a].capabilities.add: unknown capability \"CAP_BOGUS\"");
	/* "all" is only special alone, as in LinuxKit */
	EXPECT_FAIL("services:\n  - name: a\n    image: b\n    ambient: [all, CAP_CHOWN]\n",
		    I2K_ERR_CONFIG, "t.yml:2:5: services[a].ambient: unknown capability \"all\"");
}

TEST(volume_references)
{
	EXPECT_OK("volumes:\n  - {name: data}\n  - {name: ro, readonly: true}\n"
		  "onboot:\n  - name: w\n    image: b\n    binds: [\"data:/d\", \"ro:/r:ro\"]\n");
	EXPECT_FAIL("volumes:\n  - {name: ro, readonly: true}\nonshutdown:\n  - name: w\n"
		    "    image: b\n    binds.add: [\"ro:/r\"]\n",
		    I2K_ERR_CONFIG,
		    "t.yml:4:5: onshutdown[w]: volume \"ro\" is read-only, but attempting to write "
		    "into container read-write");
	EXPECT_FAIL("services:\n  - name: s\n    image: b\n    mounts: [{type: bind, source: v, "
		    "destination: /v}]\n",
		    I2K_ERR_CONFIG, "t.yml:2:5: services[s]: volume \"v\" not found (mounts[0])");
	EXPECT_FAIL("volumes:\n  - name: o\n    format: oci\n", I2K_ERR_CONFIG,
		    "t.yml:2:5: volumes[o]: format oci needs an image");
}

TEST(file_sources)
{
	char dir[] = "/tmp/i2k-check-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	_cleanup_free_ char *f = i2k_xasprintf("%s/key.pub", dir);
	FILE *fp = fopen(f, "w");
	CHECK(fp != NULL);
	if (fp)
		fclose(fp);
	_cleanup_free_ char *ok = i2k_xasprintf("files:\n  - path: etc/a\n    source: %s\n"
						"  - path: etc/b\n    source: ~/key.pub\n"
						"  - path: etc/c\n    source: /nonexistent/x\n"
						"    optional: true\n",
						f);
	expect(__LINE__, ok, dir, 0, NULL);
	_cleanup_free_ char *home_missing = i2k_xasprintf("%s/nohome", dir);
	_cleanup_free_ char *msg =
	    i2k_xasprintf("t.yml:4:5: files[1] etc/b: source %s/key.pub: No such file or directory",
			  home_missing);
	expect(__LINE__, ok, home_missing, I2K_ERR_NOTFOUND, msg);
	_cleanup_free_ char *isdir =
	    i2k_xasprintf("files:\n  - path: etc/d\n    source: %s\n", dir);
	_cleanup_free_ char *msg2 =
	    i2k_xasprintf("t.yml:2:5: files[0] etc/d: source %s is not a regular file", dir);
	expect(__LINE__, isdir, NULL, I2K_ERR_CONFIG, msg2);
	unlink(f);
	rmdir(dir);
}

/* `i2kit validate` runs the same checks (in a child: it prints). */
TEST(validate_runs_the_checks)
{
	char path[] = "/tmp/i2k-check-XXXXXX";
	int fd = mkstemp(path);
	static const char yml[] = "services:\n  - name: a\n    image: \"@pkg:./pkg/a\"\n";
	CHECK(fd >= 0 && write(fd, yml, sizeof(yml) - 1) == (ssize_t)(sizeof(yml) - 1));
	close(fd);
	char errp[] = "/tmp/i2k-check-err-XXXXXX";
	int fe = mkstemp(errp);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fe, 2);
		char *argv[] = {"validate", path, NULL};
		int rc = i2k_cmd_validate(2, argv);
		fflush(stderr);
		_exit(rc);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	char *eo = NULL;
	i2k_read_file(errp, 1 << 20, &eo, NULL, NULL);
	CHECK_CONTAINS(eo, "services[a].image: \"@pkg:./pkg/a\" is a linuxkit pkg template");
	free(eo);
	close(fe);
	unlink(errp);
	unlink(path);
}

int main(void)
{
	t_prog = "test_check";
	RUN(image_references);
	RUN(pkg_templates_not_supported);
	RUN(capability_names);
	RUN(volume_references);
	RUN(file_sources);
	RUN(validate_runs_the_checks);
	return TEST_DONE();
}
