/* sigv4.c — AWS Signature Version 4 (see sigv4.h). */
#include "provision/aws/sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

void i2k_sigv4_out_clear(struct i2k_sigv4_out *o)
{
	if (o == NULL)
		return;
	free(o->canonical_request);
	free(o->string_to_sign);
	free(o->authorization);
	memset(o, 0, sizeof(*o));
}

static bool unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

char *i2k_aws_uri_encode(const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = i2k_xmalloc(n * 3 + 1), *p = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c) || (keep_slash && c == '/')) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

void i2k_aws_amz_date(int64_t t, char out[17])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void i2k_aws_hex32(const uint8_t d[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

void i2k_aws_base64_32(const uint8_t d[32], char out[45])
{
	EVP_EncodeBlock((unsigned char *)out, d, 32);
}

void i2k_aws_sha256_hex(const void *data, size_t len, char out[65])
{
	uint8_t d[32];
	SHA256(data, len, d);
	i2k_aws_hex32(d, out);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..n) ('+' is kept literally, as AWS does). */
static char *pct_decode(const char *s, size_t n, size_t *outlen)
{
	char *out = i2k_xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
		    (l = hexval(s[i + 2])) >= 0) {
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* Normalised, encoded path. */
static char *canonical_path(const char *path, bool normalize)
{
	if (path == NULL || *path == '\0')
		path = "/";
	if (!normalize)
		return i2k_aws_uri_encode(path, strlen(path), true);
	size_t len = strlen(path), nseg = 0;
	_cleanup_free_ const char **seg = i2k_xcalloc(len + 1, sizeof(*seg));
	_cleanup_free_ size_t *seglen = i2k_xcalloc(len + 1, sizeof(*seglen));
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *s = p;
		while (*p && *p != '/')
			p++;
		size_t n = (size_t)(p - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (nseg)
				nseg--;
			continue;
		}
		seg[nseg] = s;
		seglen[nseg++] = n;
	}
	bool trailing = len > 1 && path[len - 1] == '/' && nseg > 0;
	struct i2k_buf b = {0};
	for (size_t i = 0; i < nseg; i++) {
		_cleanup_free_ char *e = i2k_aws_uri_encode(seg[i], seglen[i], false);
		i2k_buf_append(&b, "/", 1, NULL);
		i2k_buf_append(&b, e, strlen(e), NULL);
	}
	if (nseg == 0 || trailing)
		i2k_buf_append(&b, "/", 1, NULL);
	return b.data;
}

struct qparam {
	char *k, *v;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c = strcmp(x->k, y->k);
	return c ? c : strcmp(x->v, y->v);
}

static char *canonical_query(const char *q)
{
	if (q == NULL || *q == '\0')
		return i2k_xstrdup("");
	size_t cap = 1;
	for (const char *p = q; *p; p++)
		cap += *p == '&';
	struct qparam *ps = i2k_xcalloc(cap, sizeof(*ps));
	size_t n = 0;
	const char *p = q;
	while (*p) {
		const char *s = p;
		while (*p && *p != '&')
			p++;
		const char *e = p;
		if (*p == '&')
			p++;
		if (e == s)
			continue;
		const char *eq = memchr(s, '=', (size_t)(e - s));
		const char *ke = eq ? eq : e;
		size_t kl, vl;
		_cleanup_free_ char *k = pct_decode(s, (size_t)(ke - s), &kl);
		_cleanup_free_ char *v =
		    eq ? pct_decode(eq + 1, (size_t)(e - eq - 1), &vl) : i2k_xstrdup("");
		if (!eq)
			vl = 0;
		ps[n].k = i2k_aws_uri_encode(k, kl, false);
		ps[n].v = i2k_aws_uri_encode(v, vl, false);
		n++;
	}
	qsort(ps, n, sizeof(*ps), qparam_cmp);
	struct i2k_buf b = {0};
	i2k_buf_append(&b, "", 0, NULL);
	for (size_t i = 0; i < n; i++) {
		if (i)
			i2k_buf_append(&b, "&", 1, NULL);
		i2k_buf_append(&b, ps[i].k, strlen(ps[i].k), NULL);
		i2k_buf_append(&b, "=", 1, NULL);
		i2k_buf_append(&b, ps[i].v, strlen(ps[i].v), NULL);
		free(ps[i].k);
		free(ps[i].v);
	}
	free(ps);
	return b.data;
}

struct hdr {
	char *name;  /* lower-case */
	char *value; /* trimmed, collapsed */
	size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static char *canon_value(const char *v)
{
	size_t n = strlen(v);
	char *out = i2k_xmalloc(n + 1), *o = out;
	bool space = false;
	for (const char *p = v; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			space = o != out;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = false;
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

static void hmac(const void *key, size_t klen, const char *msg, uint8_t out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len);
}

int i2k_sigv4_sign(const struct i2k_sigv4_req *r, const char *access_key_id,
		   const char *secret_access_key, struct i2k_sigv4_out *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	if (r->method == NULL || r->region == NULL || r->service == NULL || r->amz_date == NULL ||
	    strlen(r->amz_date) != 16 || access_key_id == NULL || secret_access_key == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "sigv4: incomplete request");
	_cleanup_free_ char *path = canonical_path(r->path, !r->no_normalize_path);
	_cleanup_free_ char *query = canonical_query(r->query);

	struct hdr *hs = i2k_xcalloc(r->n_headers + 1, sizeof(*hs));
	for (size_t i = 0; i < r->n_headers; i++) {
		hs[i].name = i2k_xstrdup(r->headers[i].name);
		for (char *c = hs[i].name; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		hs[i].value = canon_value(r->headers[i].value ? r->headers[i].value : "");
		hs[i].order = i;
	}
	qsort(hs, r->n_headers, sizeof(*hs), hdr_cmp);
	struct i2k_buf ch = {0}, sh = {0};
	i2k_buf_append(&ch, "", 0, NULL);
	i2k_buf_append(&sh, "", 0, NULL);
	for (size_t i = 0; i < r->n_headers; i++) {
		bool dup = i > 0 && strcmp(hs[i].name, hs[i - 1].name) == 0;
		if (dup) {
			i2k_buf_append(&ch, ",", 1, NULL);
		} else {
			if (i)
				i2k_buf_append(&ch, "\n", 1, NULL);
			i2k_buf_append(&ch, hs[i].name, strlen(hs[i].name), NULL);
			i2k_buf_append(&ch, ":", 1, NULL);
			if (sh.len)
				i2k_buf_append(&sh, ";", 1, NULL);
			i2k_buf_append(&sh, hs[i].name, strlen(hs[i].name), NULL);
		}
		i2k_buf_append(&ch, hs[i].value, strlen(hs[i].value), NULL);
	}
	if (r->n_headers)
		i2k_buf_append(&ch, "\n", 1, NULL);
	for (size_t i = 0; i < r->n_headers; i++) {
		free(hs[i].name);
		free(hs[i].value);
	}
	free(hs);

	char body_hash[65];
	if (r->payload_hash)
		snprintf(body_hash, sizeof(body_hash), "%s", r->payload_hash);
	else
		i2k_aws_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, body_hash);
	out->canonical_request = i2k_xasprintf("%s\n%s\n%s\n%s\n%s\n%s", r->method, path, query,
					       ch.data, sh.data, body_hash);
	i2k_buf_free(&ch);

	char date[9];
	memcpy(date, r->amz_date, 8);
	date[8] = '\0';
	char creq_hash[65];
	i2k_aws_sha256_hex(out->canonical_request, strlen(out->canonical_request), creq_hash);
	out->string_to_sign = i2k_xasprintf("AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
					    r->amz_date, date, r->region, r->service, creq_hash);

	uint8_t k[32];
	_cleanup_free_ char *ksecret = i2k_xasprintf("AWS4%s", secret_access_key);
	hmac(ksecret, strlen(ksecret), date, k);
	explicit_bzero(ksecret, strlen(ksecret));
	hmac(k, 32, r->region, k);
	hmac(k, 32, r->service, k);
	hmac(k, 32, "aws4_request", k);
	uint8_t sig[32];
	hmac(k, 32, out->string_to_sign, sig);
	explicit_bzero(k, sizeof(k));
	char sighex[65];
	i2k_aws_hex32(sig, sighex);
	out->authorization =
	    i2k_xasprintf("AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, "
			  "Signature=%s",
			  access_key_id, date, r->region, r->service, sh.data, sighex);
	i2k_buf_free(&sh);
	return 0;
}
