/* state.c — see state.h. */
#include "provision/local/state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

int i2k_local_root(char **out, struct i2k_error **err)
{
	const char *x = getenv("XDG_STATE_HOME");
	if (x && *x == '/') {
		*out = i2k_xasprintf("%s/i2kit/local", x);
		return 0;
	}
	const char *h = getenv("HOME");
	if (h && *h) {
		*out = i2k_xasprintf("%s/.local/state/i2kit/local", h);
		return 0;
	}
	return i2k_error_set(err, I2K_ERR_CONFIG, "no state directory: set XDG_STATE_HOME or HOME");
}

int i2k_local_service_dir(const char *name, char **out, struct i2k_error **err)
{
	if (!*name || strchr(name, '/') || name[0] == '.')
		return i2k_error_set(err, I2K_ERR_USAGE, "invalid service name \"%s\"", name);
	_cleanup_free_ char *root = NULL;
	if (i2k_local_root(&root, err) < 0)
		return -1;
	*out = i2k_xasprintf("%s/%s", root, name);
	return 0;
}

pid_t i2k_local_supervisor_pid(const char *dir)
{
	_cleanup_free_ char *path = i2k_xasprintf("%s/supervisor.pid", dir);
	_cleanup_free_ char *text = NULL;
	if (i2k_read_file(path, 64, &text, NULL, NULL) < 0)
		return 0;
	char *end = NULL;
	long pid = strtol(text, &end, 10);
	if (pid <= 1 || (end && *end != '\n' && *end != '\0'))
		return 0;
	if (kill((pid_t)pid, 0) < 0 && errno != EPERM)
		return 0;
	/* a recycled pid is some other program */
	_cleanup_free_ char *exe_link = i2k_xasprintf("/proc/%ld/exe", pid);
	char exe[4096];
	ssize_t n = readlink(exe_link, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		const char *base = strrchr(exe, '/');
		base = base ? base + 1 : exe;
		if (strncmp(base, "i2kit", 5) != 0)
			return 0;
	}
	return (pid_t)pid;
}

json_t *i2k_local_status_load(const char *dir)
{
	_cleanup_free_ char *path = i2k_xasprintf("%s/status.json", dir);
	return json_load_file(path, 0, NULL);
}

uint16_t i2k_local_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	uint16_t port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

void i2k_local_emit(void (*fn)(void *ctx, const char *msg), void *ctx, const char *fmt, ...)
{
	if (!fn)
		return;
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg)
		fn(ctx, msg);
	free(msg);
}
