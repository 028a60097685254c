/* cmdline.c — kernel command line lookup for the guest init (see cmdline.h). */
#include "cmdline.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char cmdline_text[4096];

void i2ki_cmdline_set(const char *t)
{
	size_t n = strlen(t);
	if (n >= sizeof(cmdline_text))
		n = sizeof(cmdline_text) - 1;
	memcpy(cmdline_text, t, n);
	cmdline_text[n] = 0;
}

void i2ki_cmdline_load(void)
{
	char buf[sizeof(cmdline_text)];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return;
	buf[n] = 0;
	i2ki_cmdline_set(buf);
}

const char *i2ki_cmdline_get(const char *key, char *out, size_t outlen)
{
	const char *found = NULL;
	size_t klen = strlen(key);
	char tmp[sizeof(cmdline_text)];
	const char *p = cmdline_text;
	if (outlen == 0)
		return NULL;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		/* one word: copy with quotes removed */
		size_t n = 0;
		int quoted = 0;
		while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\n'))) {
			if (*p == '"')
				quoted = !quoted;
			else if (n < sizeof(tmp) - 1)
				tmp[n++] = *p;
			p++;
		}
		tmp[n] = 0;
		if (strncmp(tmp, key, klen) == 0 && (tmp[klen] == '=' || tmp[klen] == 0)) {
			const char *v = tmp[klen] == '=' ? tmp + klen + 1 : "";
			size_t vl = strlen(v);
			if (vl >= outlen)
				vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = 0;
			found = out;
		}
	}
	return found;
}

int i2ki_cmdline_flag(const char *key, int dflt)
{
	char v[16];
	if (!i2ki_cmdline_get(key, v, sizeof(v)))
		return dflt;
	if (!strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
		return 0;
	return 1;
}
