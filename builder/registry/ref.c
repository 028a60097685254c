/* ref.c — see ref.h. */
#include "builder/registry/ref.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"

#define REF_MAX 512	 /* whole reference as written */
#define NAME_MAX_LEN 255 /* registry + "/" + repository (Docker's limit) */
#define TAG_MAX_LEN 128

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* (Docker's grammar;
 * it allows runs of '-'). */
static bool component_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < n) {
		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			return true;
		/* separator */
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i == n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

/* host[:port] where host is a DNS name ([A-Za-z0-9-.]) or [IPv6]. */
static bool registry_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0)
		return false;
	if (s[0] == '[') {
		while (i < n && s[i] != ']') {
			char c = s[i];
			if (i > 0 && !(is_alnum(c) || c == ':' || c == '.'))
				return false;
			i++;
		}
		if (i == n)
			return false;
		i++;
	} else {
		if (!is_alnum(s[0]))
			return false;
		while (i < n && (is_alnum(s[i]) || s[i] == '-' || s[i] == '.'))
			i++;
		if (s[i - 1] == '-' || s[i - 1] == '.')
			return false;
	}
	if (i == n)
		return true;
	if (s[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool tag_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TAG_MAX_LEN)
		return false;
	if (!(is_alnum(s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(is_alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static int bad(struct i2k_error **err, const char *s, const char *why)
{
	return i2k_error_set(err, I2K_ERR_CONFIG, "invalid image reference \"%s\": %s", s, why);
}

int i2k_ref_parse(const char *s, struct i2k_ref *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL || *s == '\0')
		return i2k_error_set(err, I2K_ERR_CONFIG, "invalid image reference \"\": empty");
	if (strlen(s) > REF_MAX)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "invalid image reference: longer than %d characters", REF_MAX);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return bad(err, s, "contains whitespace or control characters");

	_cleanup_free_ char *work = i2k_xstrdup(s);
	_cleanup_free_ char *digest = NULL, *tag = NULL, *registry = NULL, *repo = NULL;

	char *at = strchr(work, '@');
	if (at) {
		*at = '\0';
		if (!i2k_digest_valid(at + 1))
			return bad(err, s,
				   "digest must be sha256: followed by 64 lower-case hex digits");
		digest = i2k_xstrdup(at + 1);
	}
	char *slash = strrchr(work, '/');
	char *colon = strrchr(slash ? slash : work, ':');
	if (colon) {
		*colon = '\0';
		if (!tag_valid(colon + 1))
			return bad(err, s, "invalid tag");
		tag = i2k_xstrdup(colon + 1);
	}
	if (*work == '\0')
		return bad(err, s, "missing repository name");

	/* Split off the registry host. */
	char *name = work;
	char *first = strchr(work, '/');
	if (first) {
		size_t n = (size_t)(first - work);
		bool is_host = memchr(work, '.', n) || memchr(work, ':', n) ||
			       (n == 9 && memcmp(work, "localhost", 9) == 0);
		for (size_t i = 0; i < n && !is_host; i++)
			if (work[i] >= 'A' && work[i] <= 'Z')
				is_host = true;
		if (is_host) {
			if (!registry_valid(work, n))
				return bad(err, s, "invalid registry host");
			registry = i2k_xstrndup(work, n);
			name = first + 1;
		}
	}
	if (registry == NULL || strcmp(registry, "index.docker.io") == 0) {
		free(registry);
		registry = i2k_xstrdup("docker.io");
	}

	/* Validate the repository components. */
	const char *p = name;
	size_t ncomp = 0;
	for (;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!component_valid(p, n))
			return bad(
			    err, s,
			    "repository name components must be lower-case letters, digits and "
			    "separators (., _, __, -)");
		ncomp++;
		if (!e)
			break;
		p = e + 1;
	}
	if (strcmp(registry, "docker.io") == 0 && ncomp == 1)
		repo = i2k_xasprintf("library/%s", name);
	else
		repo = i2k_xstrdup(name);
	if (strlen(registry) + 1 + strlen(repo) > NAME_MAX_LEN)
		return bad(err, s, "name longer than 255 characters");

	if (tag == NULL && digest == NULL)
		tag = i2k_xstrdup("latest");
	out->registry = I2K_STEAL(registry);
	out->repository = I2K_STEAL(repo);
	out->tag = I2K_STEAL(tag);
	out->digest = I2K_STEAL(digest);
	return 0;
}

char *i2k_ref_string(const struct i2k_ref *r)
{
	return i2k_xasprintf("%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "",
			     r->tag ? r->tag : "", r->digest ? "@" : "",
			     r->digest ? r->digest : "");
}

const char *i2k_ref_api_host(const struct i2k_ref *r)
{
	if (strcmp(r->registry, "docker.io") == 0)
		return "registry-1.docker.io";
	return r->registry;
}

void i2k_ref_clear(struct i2k_ref *r)
{
	if (r == NULL)
		return;
	free(r->registry);
	free(r->repository);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}
