/* mirror.c — see mirror.h. */
#include "builder/registry/mirror.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/http.h"

static bool registry_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == ':' ||
		      *s == '[' || *s == ']'))
			return false;
	return true;
}

int i2k_mirror_parse(const char *spec, char **registry, char **url, struct i2k_error **err)
{
	*registry = *url = NULL;
	const char *eq = strchr(spec, '=');
	if (eq == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "invalid mirror \"%.200s\": expected REGISTRY=URL", spec);
	_cleanup_free_ char *reg = i2k_xstrndup(spec, (size_t)(eq - spec));
	_cleanup_free_ char *u = i2k_xstrdup(eq + 1);
	if (!registry_name_ok(reg))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "invalid mirror \"%.200s\": \"%.200s\" is not a registry name",
				     spec, reg);
	if (!i2k_str_has_prefix(u, "http://") && !i2k_str_has_prefix(u, "https://"))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "invalid mirror \"%.200s\": the URL must start with http:// "
				     "or https://",
				     spec);
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#')
			return i2k_error_set(err, I2K_ERR_USAGE,
					     "invalid mirror \"%.200s\": the URL has a space, "
					     "control character, query or fragment",
					     spec);
	const char *hostpart = strstr(u, "://") + 3;
	if (memchr(hostpart, '@', strcspn(hostpart, "/")))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "invalid mirror \"%.200s\": user:password@ in the URL (a "
				     "mirror's credentials belong in the docker config.json)",
				     spec);
	_cleanup_free_ char *auth = i2k_http_url_authority(u);
	if (auth == NULL || *auth == '\0')
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "invalid mirror \"%.200s\": the URL has no host", spec);
	size_t n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		u[--n] = '\0';
	for (char *p = reg; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (strcmp(reg, "index.docker.io") == 0 || strcmp(reg, "registry-1.docker.io") == 0) {
		free(reg);
		reg = i2k_xstrdup("docker.io");
	}
	*registry = I2K_STEAL(reg);
	*url = I2K_STEAL(u);
	return 0;
}

int i2k_mirror_list_add(struct i2k_mirror_list *l, const char *spec, struct i2k_error **err)
{
	char *reg = NULL, *url = NULL;
	if (i2k_mirror_parse(spec, &reg, &url, err) < 0)
		return -1;
	if (l->n >= I2K_MIRRORS_MAX) {
		free(reg);
		free(url);
		return i2k_error_set(err, I2K_ERR_USAGE, "more than %d mirrors", I2K_MIRRORS_MAX);
	}
	i2k_xgrow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = (struct i2k_mirror){.registry = reg, .url = url};
	return 0;
}

int i2k_mirror_list_load(struct i2k_mirror_list *l, const char *path, struct i2k_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	if (i2k_read_file(path, I2K_MIRRORS_FILE_MAX, &data, &len, err) < 0)
		return i2k_error_wrap(err, "mirrors file");
	if (memchr(data, '\0', len))
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: not a text file", path);
	int lineno = 0;
	for (char *line = data, *next; line && *line; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* comments: whole lines, or after white space */
		for (char *p = line; *p; p++)
			if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
				*p = '\0';
				break;
			}
		while (*line == ' ' || *line == '\t')
			line++;
		size_t n = strlen(line);
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		struct i2k_error *e = NULL;
		if (i2k_mirror_list_add(l, line, &e) < 0) {
			i2k_error_set(err, I2K_ERR_CONFIG, "%s:%d: %s", path, lineno, e->msg);
			i2k_error_free(e);
			return -1;
		}
	}
	return 0;
}

void i2k_mirror_list_clear(struct i2k_mirror_list *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		free((char *)l->v[i].registry);
		free((char *)l->v[i].url);
	}
	if (l) {
		free(l->v);
		memset(l, 0, sizeof(*l));
	}
}
