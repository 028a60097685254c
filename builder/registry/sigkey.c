/* sigkey.c — see sigkey.h. The only file of builder/registry that calls
 * OpenSSL's EVP signature API. */
#include "builder/registry/sigkey.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define KEY_FILE_MAX (64u << 10)

struct i2k_sigkey {
	EVP_PKEY *pkey;
	enum i2k_sigkey_kind kind;
	bool private_key;
	char *name;
};

/* No prompts: an encrypted PEM fails instead of asking for a password. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int classify(struct i2k_sigkey *k, struct i2k_error **err)
{
	int id = EVP_PKEY_get_base_id(k->pkey);
	if (id == EVP_PKEY_ED25519) {
		k->kind = I2K_SIGKEY_ED25519;
		return 0;
	}
	if (id == EVP_PKEY_EC) {
		char group[64] = "";
		size_t glen = 0;
		if (EVP_PKEY_get_group_name(k->pkey, group, sizeof(group), &glen) == 1 &&
		    (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
			k->kind = I2K_SIGKEY_ECDSA_P256;
			return 0;
		}
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "%s: EC curve %s is not supported (ECDSA P-256 or Ed25519)",
				     k->name, group[0] ? group : "unknown");
	}
	const char *t = id == EVP_PKEY_RSA ? "RSA" : OBJ_nid2sn(id);
	return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
			     "%s: %s keys are not supported (ECDSA P-256 or Ed25519)", k->name,
			     t ? t : "these");
}

int i2k_sigkey_parse(const char *pem, size_t len, bool private_key, const char *name,
		     struct i2k_sigkey **out, struct i2k_error **err)
{
	*out = NULL;
	if (len > KEY_FILE_MAX || len > (size_t)INT32_MAX)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: not a PEM key (over 64 KiB)", name);
	if (memmem(pem, len, "ENCRYPTED", 9))
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED,
				     "%s: encrypted private keys are not supported (use an "
				     "unencrypted PEM key, e.g. from `openssl genpkey`)",
				     name);
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s: out of memory", name);
	EVP_PKEY *pk = private_key ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL)
				   : PEM_read_bio_PUBKEY(bio, NULL, no_password, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (pk == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: not a PEM %s key", name,
				     private_key ? "private" : "public");
	struct i2k_sigkey *k = i2k_xcalloc(1, sizeof(*k));
	k->pkey = pk;
	k->private_key = private_key;
	k->name = i2k_xstrdup(name);
	if (classify(k, err) < 0) {
		i2k_sigkey_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

int i2k_sigkey_load(const char *path, bool private_key, struct i2k_sigkey **out,
		    struct i2k_error **err)
{
	*out = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	if (i2k_read_file(path, KEY_FILE_MAX, &buf, &len, err) < 0)
		return -1;
	return i2k_sigkey_parse(buf, len, private_key, path, out, err);
}

void i2k_sigkey_free(struct i2k_sigkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->name);
	free(k);
}

void i2k_sigkey_freep(struct i2k_sigkey **k)
{
	i2k_sigkey_free(*k);
	*k = NULL;
}

const char *i2k_sigkey_name(const struct i2k_sigkey *k)
{
	return k->name;
}

enum i2k_sigkey_kind i2k_sigkey_kind(const struct i2k_sigkey *k)
{
	return k->kind;
}

/* ECDSA hashes with SHA-256; Ed25519 takes the message itself (NULL md). */
static const EVP_MD *md_of(const struct i2k_sigkey *k)
{
	return k->kind == I2K_SIGKEY_ECDSA_P256 ? EVP_sha256() : NULL;
}

bool i2k_sigkey_verify(const struct i2k_sigkey *k, const void *msg, size_t len, const void *sig,
		       size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return false;
	bool ok = EVP_DigestVerifyInit(ctx, NULL, md_of(k), NULL, k->pkey) == 1 &&
		  EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

int i2k_sigkey_sign(const struct i2k_sigkey *k, const void *msg, size_t len, unsigned char **sig,
		    size_t *siglen, struct i2k_error **err)
{
	*sig = NULL;
	*siglen = 0;
	if (!k->private_key)
		return i2k_error_set(err, I2K_ERR_USAGE, "%s: signing needs a private key",
				     k->name);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t n = 0;
	int rc = -1;
	if (ctx && EVP_DigestSignInit(ctx, NULL, md_of(k), NULL, k->pkey) == 1 &&
	    EVP_DigestSign(ctx, NULL, &n, msg, len) == 1) {
		unsigned char *buf = i2k_xmalloc(n ? n : 1);
		if (EVP_DigestSign(ctx, buf, &n, msg, len) == 1) {
			*sig = buf;
			*siglen = n;
			rc = 0;
		} else {
			free(buf);
		}
	}
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	if (rc < 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s: signing failed (OpenSSL)",
				     k->name);
	return 0;
}

char *i2k_sigkey_public_pem(const struct i2k_sigkey *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *res = NULL;
	if (bio && PEM_write_bio_PUBKEY(bio, k->pkey) == 1) {
		char *p = NULL;
		long n = BIO_get_mem_data(bio, &p);
		if (n > 0)
			res = i2k_xstrndup(p, (size_t)n);
	}
	BIO_free(bio);
	ERR_clear_error();
	return res ? res : i2k_xstrdup("");
}
