/* caps.c — see caps.h. */
#include "builder/bundle/caps.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/base/capnames.h"
#include "builder/base/util.h"

/* The names come from builder/base/capnames.h (shared with the guest init). */
const char *const *const i2k_caps_known = i2k_cap_names;
const size_t i2k_caps_nknown = I2K_CAP_COUNT;

bool i2k_caps_is_known(const char *name)
{
	for (size_t i = 0; i < i2k_caps_nknown; i++)
		if (strcmp(name, i2k_caps_known[i]) == 0)
			return true;
	return false;
}

/* Expands a one-element "all"/"none" and checks every name. */
static int expand(char *const *v, size_t n, struct i2k_caplist *out, struct i2k_error **err)
{
	out->v = NULL;
	out->n = 0;
	if (n == 1 && strcasecmp(v[0], "none") == 0)
		return 0;
	if (n == 1 && strcasecmp(v[0], "all") == 0) {
		out->v = i2k_xcalloc(i2k_caps_nknown, sizeof(*out->v));
		for (size_t i = 0; i < i2k_caps_nknown; i++)
			out->v[i] = i2k_caps_known[i];
		out->n = i2k_caps_nknown;
		return 0;
	}
	out->v = i2k_xcalloc(n ? n : 1, sizeof(*out->v));
	for (size_t i = 0; i < n; i++) {
		if (!i2k_caps_is_known(v[i])) {
			free(out->v);
			out->v = NULL;
			return i2k_error_set(err, I2K_ERR_CONFIG, "unknown capability \"%s\"",
					     v[i]);
		}
		out->v[out->n++] = v[i];
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int i2k_capsets_make(char *const *caps, size_t ncaps, char *const *ambient, size_t nambient,
		     struct i2k_capsets *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	if (expand(caps, ncaps, &out->effective, err) < 0 ||
	    expand(ambient, nambient, &out->ambient, err) < 0) {
		i2k_capsets_clear(out);
		return -1;
	}
	size_t total = out->effective.n + out->ambient.n;
	out->bounding.v = i2k_xcalloc(total ? total : 1, sizeof(*out->bounding.v));
	for (size_t i = 0; i < out->effective.n; i++)
		out->bounding.v[out->bounding.n++] = out->effective.v[i];
	for (size_t i = 0; i < out->ambient.n; i++)
		out->bounding.v[out->bounding.n++] = out->ambient.v[i];
	qsort(out->bounding.v, out->bounding.n, sizeof(*out->bounding.v), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < out->bounding.n; i++)
		if (u == 0 || strcmp(out->bounding.v[u - 1], out->bounding.v[i]) != 0)
			out->bounding.v[u++] = out->bounding.v[i];
	out->bounding.n = u;
	return 0;
}

void i2k_capsets_clear(struct i2k_capsets *s)
{
	free(s->effective.v);
	free(s->ambient.v);
	free(s->bounding.v);
	memset(s, 0, sizeof(*s));
}
