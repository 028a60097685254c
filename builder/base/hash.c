/* hash.c — SHA-256 through OpenSSL's EVP interface. */
#include "builder/base/hash.h"
#include "builder/base/util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct i2k_sha256 {
	EVP_MD_CTX *ctx;
};

struct i2k_sha256 *i2k_sha256_new(void)
{
	struct i2k_sha256 *h = calloc(1, sizeof(*h));
	if (h == NULL)
		abort();
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort();
	return h;
}

void i2k_sha256_update(struct i2k_sha256 *h, const void *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(h->ctx, data, len);
}

void i2k_sha256_final_raw(struct i2k_sha256 *h, uint8_t out[32])
{
	unsigned int n = 32;
	EVP_DigestFinal_ex(h->ctx, out, &n);
}

void i2k_sha256_final(struct i2k_sha256 *h, char out[I2K_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[32];
	i2k_sha256_final_raw(h, raw);
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[raw[i] >> 4];
		out[8 + 2 * i] = hex[raw[i] & 15];
	}
	out[I2K_DIGEST_LEN] = '\0';
}

void i2k_sha256_free(struct i2k_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

void i2k_sha256_freep(struct i2k_sha256 **h)
{
	i2k_sha256_free(*h);
	*h = NULL;
}

void i2k_sha256_digest(const void *data, size_t len, char out[I2K_DIGEST_LEN + 1])
{
	struct i2k_sha256 *h = i2k_sha256_new();
	i2k_sha256_update(h, data, len);
	i2k_sha256_final(h, out);
	i2k_sha256_free(h);
}

int i2k_sha256_fd(int fd, char out[I2K_DIGEST_LEN + 1], uint64_t *size_out, struct i2k_error **err)
{
	struct i2k_sha256 *h = i2k_sha256_new();
	static __thread char buf[1 << 16];
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			i2k_sha256_free(h);
			return i2k_error_errno(err, errno, I2K_ERR_IO, "reading for digest");
		}
		if (n == 0)
			break;
		i2k_sha256_update(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	i2k_sha256_final(h, out);
	i2k_sha256_free(h);
	if (size_out)
		*size_out = total;
	return 0;
}

int i2k_sha256_update_fd(struct i2k_sha256 *h, int fd, uint64_t off, uint64_t len,
			 struct i2k_error **err)
{
	enum { CHUNK = 256u << 10 };
	uint8_t *buf = i2k_xmalloc(len < CHUNK ? (size_t)len + 1 : CHUNK);
	int r = 0;
	for (uint64_t done = 0; r == 0 && done < len;) {
		size_t k = len - done < CHUNK ? (size_t)(len - done) : CHUNK;
		r = i2k_pread_all(fd, buf, k, (off_t)(off + done), err);
		if (r == 0)
			i2k_sha256_update(h, buf, k);
		done += k;
	}
	free(buf);
	return r;
}

bool i2k_digest_valid(const char *s)
{
	if (s == NULL || strncmp(s, "sha256:", 7) != 0 || strlen(s) != I2K_DIGEST_LEN)
		return false;
	for (const char *p = s + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}
