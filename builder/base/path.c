/* path.c — see path.h. */
#include "builder/base/path.h"

#include <string.h>

void i2k_path_normalise(const char *path, char *out, struct i2k_path_info *info)
{
	memset(info, 0, sizeof(*info));
	size_t o = 0;
	long depth = 0;
	for (const char *s = path; *s;) {
		while (*s == '/')
			s++;
		if (!*s)
			break;
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		bool dot = n == 1 && s[0] == '.', dotdot = n == 2 && s[0] == '.' && s[1] == '.';
		if ((dot || dotdot) && !info->bad) {
			info->bad = s;
			info->badlen = n;
		}
		if (dot) {
			info->dot = true;
			s += n;
			continue;
		}
		if (dotdot) {
			info->dotdot = true;
			if (--depth < 0)
				info->escapes = true;
		} else {
			depth++;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, s, n);
		o += n;
		info->ncomp++;
		s += n;
	}
	out[o] = '\0';
}
