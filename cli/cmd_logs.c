/* cmd_logs.c — see cmd_logs.h. */
#include "cli/cmd_logs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/common.h"
#include "provision/local/state.h"

#define MAX_FOLLOW 64

struct src {
	long long slot;
	char *path;
	off_t off;
	bool at_bol;
};

/* Copies what path has beyond s->off to stdout, prefixed per line. */
static void pump(struct src *s, bool prefix)
{
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[65536];
	ssize_t n;
	while ((n = pread(fd, buf, sizeof(buf), s->off)) > 0) {
		s->off += n;
		for (ssize_t i = 0; i < n; i++) {
			if (prefix && s->at_bol)
				printf("[%lld] ", s->slot);
			putchar(buf[i]);
			s->at_bol = buf[i] == '\n';
		}
	}
	close(fd);
	fflush(stdout);
}

/* The current replicas' consoles (slot == 0: all). */
static size_t sources(const char *dir, long long slot, struct src *out, size_t max)
{
	json_t *st = i2k_local_status_load(dir);
	size_t n = 0, i;
	json_t *r;
	json_array_foreach(json_object_get(st, "replicas"), i, r)
	{
		long long sl = json_integer_value(json_object_get(r, "slot"));
		const char *d = json_string_value(json_object_get(r, "dir"));
		if (!d || !json_is_true(json_object_get(r, "current")) || (slot && sl != slot) ||
		    n == max)
			continue;
		out[n++] = (struct src){
		    .slot = sl, .path = i2k_xasprintf("%s/console.log", d), .at_bol = true};
	}
	json_decref(st);
	return n;
}

int i2k_cmd_logs(int argc, char **argv)
{
	static const char *const names[] = {"--replica", "-r"};
	const char *service = NULL;
	long long slot = 0;
	bool follow = false, supervisor = false;
	struct i2k_error *err = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			printf("Usage: i2kit logs SERVICE [--replica N] [-f] [--supervisor]\n\n"
			       "Prints the serial console of a deployed service's replicas.\n");
			return 0;
		}
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			follow = true;
			continue;
		}
		if (strcmp(a, "--supervisor") == 0) {
			supervisor = true;
			continue;
		}
		int w = i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &v, &err);
		if (w == -2) {
			i2k_cli_usage("logs", "%s", err->msg);
			i2k_error_free(err);
			return 2;
		}
		if (w >= 0) {
			char *end = NULL;
			slot = strtoll(v, &end, 10);
			if (*v < '1' || *v > '9' || *end || slot < 1 || slot > 64)
				return i2k_cli_usage("logs", "--replica: \"%s\" is not 1..64", v);
			continue;
		}
		if (a[0] == '-' || service)
			return i2k_cli_usage("logs", "unexpected argument %s", a);
		service = a;
	}
	if (!service)
		return i2k_cli_usage("logs", "no SERVICE given");
	_cleanup_free_ char *dir = NULL;
	if (i2k_local_service_dir(service, &dir, &err) < 0)
		return i2k_cli_fail(err);
	if (supervisor) {
		struct src s = {.path = i2k_xasprintf("%s/supervisor.log", dir)};
		do {
			pump(&s, false);
			if (follow)
				usleep(200000);
		} while (follow && !i2k_interrupted);
		free(s.path);
		return 0;
	}
	if (!i2k_local_supervisor_pid(dir)) {
		i2k_error_set(&err, I2K_ERR_NOTFOUND, "%s is not running (see i2kit ps)", service);
		return i2k_cli_fail(err);
	}
	struct src src[MAX_FOLLOW];
	size_t n = sources(dir, slot, src, MAX_FOLLOW);
	if (n == 0) {
		i2k_error_set(&err, I2K_ERR_NOTFOUND, "%s: no replica %lld", service, slot);
		return i2k_cli_fail(err);
	}
	bool prefix = slot == 0;
	for (;;) {
		for (size_t i = 0; i < n; i++)
			pump(&src[i], prefix);
		if (!follow || i2k_interrupted)
			break;
		usleep(200000);
		/* a replaced replica: follow its successor's console */
		struct src now[MAX_FOLLOW];
		size_t m = sources(dir, slot, now, MAX_FOLLOW);
		for (size_t i = 0; i < m; i++) {
			bool known = false;
			for (size_t k = 0; k < n && !known; k++)
				known = strcmp(src[k].path, now[i].path) == 0;
			if (known || n == MAX_FOLLOW) {
				free(now[i].path);
				continue;
			}
			src[n++] = now[i];
		}
		if (!i2k_local_supervisor_pid(dir))
			break;
	}
	for (size_t i = 0; i < n; i++)
		free(src[i].path);
	return 0;
}
