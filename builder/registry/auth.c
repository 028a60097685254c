/* auth.c — see auth.h. */
#include "builder/registry/auth.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

/* ---- challenge ------------------------------------------------------------ */

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~/:", c));
}

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

static int malformed(struct i2k_error **err, const char *why)
{
	return i2k_error_set(err, I2K_ERR_REGISTRY, "malformed WWW-Authenticate challenge: %s",
			     why);
}

void i2k_challenge_clear(struct i2k_challenge *c)
{
	if (c == NULL)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

int i2k_challenge_parse(const char *header, struct i2k_challenge *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	if (header == NULL)
		return malformed(err, "empty");
	if (strlen(header) > I2K_AUTH_CHALLENGE_MAX)
		return malformed(err, "longer than 4096 bytes");
	const char *p = header;
	skip_ws(&p);
	const char *scheme = p;
	while (*p && *p != ' ' && *p != '\t' && *p != ',')
		p++;
	size_t slen = (size_t)(p - scheme);
	if (slen == 0)
		return malformed(err, "empty");
	if (slen == 6 && strncasecmp(scheme, "bearer", 6) == 0)
		out->scheme = I2K_AUTH_BEARER;
	else if (slen == 5 && strncasecmp(scheme, "basic", 5) == 0)
		out->scheme = I2K_AUTH_BASIC;
	else
		return malformed(err, "unsupported scheme");

	struct i2k_buf val = {0};
	for (;;) {
		skip_ws(&p);
		while (*p == ',') {
			p++;
			skip_ws(&p);
		}
		if (*p == '\0')
			break;
		const char *name = p;
		while (is_tchar(*p) && *p != '/' && *p != ':')
			p++;
		size_t nlen = (size_t)(p - name);
		if (nlen == 0)
			return malformed(err, "expected a parameter name");
		skip_ws(&p);
		if (*p != '=') {
			/* "token68" form or the start of a second challenge: stop. */
			if (out->scheme == I2K_AUTH_BEARER && out->realm == NULL)
				return malformed(err, "expected '=' after a parameter name");
			break;
		}
		p++;
		skip_ws(&p);
		i2k_buf_free(&val);
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\') {
					p++;
					if (*p == '\0')
						break;
				}
				if (i2k_buf_append(&val, p, 1, NULL) < 0)
					return malformed(err, "value too long");
				p++;
			}
			if (*p != '"') {
				i2k_buf_free(&val);
				return malformed(err, "unterminated quoted string");
			}
			p++;
		} else {
			const char *v = p;
			while (is_tchar(*p) || *p == '=')
				p++;
			if (p == v)
				return malformed(err, "expected a parameter value");
			i2k_buf_append(&val, v, (size_t)(p - v), NULL);
		}
		char **slot = NULL;
		if (nlen == 5 && strncasecmp(name, "realm", 5) == 0)
			slot = &out->realm;
		else if (nlen == 7 && strncasecmp(name, "service", 7) == 0)
			slot = &out->service;
		else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0)
			slot = &out->scope;
		if (slot) {
			free(*slot);
			*slot = i2k_xstrdup(val.data ? val.data : "");
		}
		i2k_buf_free(&val);
		skip_ws(&p);
		if (*p != ',' && *p != '\0')
			return malformed(err, "expected ',' between parameters");
	}
	i2k_buf_free(&val);
	if (out->scheme == I2K_AUTH_BEARER && (out->realm == NULL || out->realm[0] == '\0'))
		return malformed(err, "Bearer challenge without realm");
	return 0;
}

/* ---- base64 --------------------------------------------------------------- */

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *i2k_base64_encode(const void *data, size_t len)
{
	const unsigned char *d = data;
	char *out = i2k_xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)d[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)d[i + 1] << 8;
		if (i + 2 < len)
			v |= d[i + 2];
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;
	return p ? (int)(p - b64chars) : -1;
}

int i2k_base64_decode(const char *s, size_t slen, char **out, size_t *outlen)
{
	while (slen > 0 && s[slen - 1] == '=')
		slen--;
	if (slen % 4 == 1)
		return -1;
	char *buf = i2k_xmalloc(slen / 4 * 3 + 3 + 1);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < slen; i++) {
		int v = b64val(s[i]);
		if (v < 0) {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	buf[o] = '\0';
	*out = buf;
	if (outlen)
		*outlen = o;
	return 0;
}

char *i2k_auth_basic_header(const char *user, const char *pass)
{
	_cleanup_free_ char *up = i2k_xasprintf("%s:%s", user, pass);
	_cleanup_free_ char *b = i2k_base64_encode(up, strlen(up));
	return i2k_xasprintf("Basic %s", b);
}

/* ---- token response --------------------------------------------------------- */

int i2k_auth_token_parse(const char *json, size_t len, char **token, long *expires_in,
			 struct i2k_error **err)
{
	*token = NULL;
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	if (root == NULL)
		return i2k_error_set(err, I2K_ERR_REGISTRY, "invalid token response: %s",
				     jerr.text);
	json_t *t = json_is_object(root) ? json_object_get(root, "token") : NULL;
	if (!json_is_string(t) || json_string_length(t) == 0)
		t = json_is_object(root) ? json_object_get(root, "access_token") : NULL;
	if (!json_is_string(t) || json_string_length(t) == 0) {
		json_decref(root);
		return i2k_error_set(err, I2K_ERR_REGISTRY,
				     "invalid token response: no \"token\" or \"access_token\"");
	}
	const char *tv = json_string_value(t);
	for (const char *c = tv; *c; c++)
		if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e) {
			json_decref(root);
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "invalid token response: token has control or "
					     "non-ASCII characters");
		}
	long exp = 60;
	json_t *e = json_object_get(root, "expires_in");
	if (json_is_integer(e) && json_integer_value(e) > 60 && json_integer_value(e) < 86400 * 365)
		exp = (long)json_integer_value(e);
	*token = i2k_xstrdup(tv);
	if (expires_in)
		*expires_in = exp;
	json_decref(root);
	return 0;
}
