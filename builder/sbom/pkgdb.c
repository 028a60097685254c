/* pkgdb.c — apk and dpkg database parsers (contract in pkgdb.h). */
#include "builder/sbom/pkgdb.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/base/util.h"

void i2k_pkg_clear(struct i2k_pkg *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->version);
	free(p->arch);
	free(p->license);
	free(p->source);
	free(p->homepage);
	memset(p, 0, sizeof(*p));
}

void i2k_pkg_list_clear(struct i2k_pkg_list *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		i2k_pkg_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* One line of data: [*pos, end of line), without '\n' and a trailing '\r'.
 * Returns false at the end of the data. */
static bool next_line(const char *data, size_t len, size_t *pos, const char **line, size_t *n)
{
	if (*pos >= len)
		return false;
	const char *s = data + *pos;
	const char *nl = memchr(s, '\n', len - *pos);
	size_t l = nl ? (size_t)(nl - s) : len - *pos;
	*pos += l + (nl ? 1 : 0);
	if (l > 0 && s[l - 1] == '\r')
		l--;
	*line = s;
	*n = l;
	return true;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return false;
	return true;
}

/* Sets *field to a copy of s (trimmed) unless it is already set or empty. */
static void set_once(char **field, const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (*field == NULL && n > 0 && memchr(s, '\0', n) == NULL)
		*field = i2k_xstrndup(s, n);
}

/* Moves *p into out when it has a name (and keep says so); clears it. */
static void flush(struct i2k_pkg *p, bool keep, struct i2k_pkg_list *out)
{
	enum i2k_pkg_kind k = p->kind;
	if (keep && p->name) {
		i2k_xgrow((void **)&out->v, &out->cap, out->n + 1, sizeof(*out->v));
		out->v[out->n++] = *p;
		memset(p, 0, sizeof(*p));
	} else {
		i2k_pkg_clear(p);
	}
	p->kind = k;
}

void i2k_pkgdb_parse_apk(const char *data, size_t len, struct i2k_pkg_list *out)
{
	struct i2k_pkg p = {.kind = I2K_PKG_APK};
	size_t pos = 0, n;
	const char *s;
	while (next_line(data, len, &pos, &s, &n)) {
		if (blank(s, n)) {
			flush(&p, true, out);
			continue;
		}
		if (n < 2 || s[1] != ':')
			continue;
		char **field = NULL;
		switch (s[0]) {
		case 'P':
			field = &p.name;
			break;
		case 'V':
			field = &p.version;
			break;
		case 'A':
			field = &p.arch;
			break;
		case 'L':
			field = &p.license;
			break;
		case 'o':
			field = &p.source;
			break;
		case 'U':
			field = &p.homepage;
			break;
		default:
			break;
		}
		if (field)
			set_once(field, s + 2, n - 2);
	}
	flush(&p, true, out);
}

/* The name part of a Source: field ("glibc (2.36-9)" → "glibc"). */
static void set_source(char **field, const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	size_t w = 0;
	while (w < n && s[w] != ' ' && s[w] != '\t' && s[w] != '(')
		w++;
	set_once(field, s, w);
}

/* Status "want flag status": installed iff the third word is "installed". */
static bool status_installed(const char *status)
{
	const char *last = strrchr(status, ' ');
	last = last ? last + 1 : status;
	return strcmp(last, "installed") == 0;
}

void i2k_pkgdb_parse_dpkg(const char *data, size_t len, struct i2k_pkg_list *out)
{
	struct i2k_pkg p = {.kind = I2K_PKG_DEB};
	char *status = NULL;
	size_t pos = 0, n;
	const char *s;
	while (next_line(data, len, &pos, &s, &n)) {
		if (blank(s, n)) {
			flush(&p, status == NULL || status_installed(status), out);
			free(status);
			status = NULL;
			continue;
		}
		if (s[0] == ' ' || s[0] == '\t' || s[0] == '#')
			continue; /* continuation of a multi-line field, or a comment */
		const char *colon = memchr(s, ':', n);
		if (colon == NULL)
			continue;
		size_t kl = (size_t)(colon - s);
		const char *v = colon + 1;
		size_t vl = n - kl - 1;
#define IS(name) (kl == sizeof(name) - 1 && strncasecmp(s, name, kl) == 0)
		if (IS("Package"))
			set_once(&p.name, v, vl);
		else if (IS("Version"))
			set_once(&p.version, v, vl);
		else if (IS("Architecture"))
			set_once(&p.arch, v, vl);
		else if (IS("Source"))
			set_source(&p.source, v, vl);
		else if (IS("Homepage"))
			set_once(&p.homepage, v, vl);
		else if (IS("Status"))
			set_once(&status, v, vl);
#undef IS
	}
	flush(&p, status == NULL || status_installed(status), out);
	free(status);
}
