/* test_signature.c — cosign-style signatures: payloads, signature
 * manifests, keys (ECDSA P-256, Ed25519) and the evidence check
 * (builder/registry/sigpayload.c, sigkey.c, sigverify.c). Keys are made
 * in-process with OpenSSL for each run. */
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/registry/auth.h"
#include "builder/registry/manifest.h"
#include "builder/registry/sigkey.h"
#include "builder/registry/sigpayload.h"
#include "builder/registry/sigverify.h"
#include "tests/unit/test.h"

/* ---- keys ---- */

static char *pem_of(EVP_PKEY *pk, bool priv)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (priv)
		PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL);
	else
		PEM_write_bio_PUBKEY(bio, pk);
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	char *res = i2k_xstrndup(p, (size_t)n);
	BIO_free(bio);
	return res;
}

struct pair {
	struct i2k_sigkey *priv, *pub;
};

static struct pair make_pair(bool ed25519, const char *name)
{
	EVP_PKEY *pk = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
			       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	_cleanup_free_ char *a = pem_of(pk, true), *b = pem_of(pk, false);
	EVP_PKEY_free(pk);
	struct pair p = {0};
	struct i2k_error *e = NULL;
	if (i2k_sigkey_parse(a, strlen(a), true, name, &p.priv, &e) < 0 ||
	    i2k_sigkey_parse(b, strlen(b), false, name, &p.pub, &e) < 0) {
		fprintf(stderr, "  key: %s\n", e->msg);
		abort();
	}
	return p;
}

static void pair_free(struct pair *p)
{
	i2k_sigkey_free(p->priv);
	i2k_sigkey_free(p->pub);
}

TEST(keys_parse_and_reject)
{
	struct pair ec = make_pair(false, "ec.pem"), ed = make_pair(true, "ed.pem");
	CHECK_INT(i2k_sigkey_kind(ec.pub), I2K_SIGKEY_ECDSA_P256);
	CHECK_INT(i2k_sigkey_kind(ed.pub), I2K_SIGKEY_ED25519);
	_cleanup_free_ char *pub = i2k_sigkey_public_pem(ed.priv);
	CHECK_CONTAINS(pub, "-----BEGIN PUBLIC KEY-----");
	struct i2k_sigkey *k = NULL;
	FAILS(i2k_sigkey_parse("garbage", 7, false, "x.pub", &k, &_e), I2K_ERR_CONFIG,
	      "x.pub: not a PEM public key");
	/* a public key is not a private key */
	FAILS(i2k_sigkey_parse(pub, strlen(pub), true, "x.pem", &k, &_e), I2K_ERR_CONFIG,
	      "x.pem: not a PEM private key");
	const char *enc = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n";
	FAILS(i2k_sigkey_parse(enc, strlen(enc), true, "c.key", &k, &_e), I2K_ERR_UNSUPPORTED,
	      "c.key: encrypted private keys are not supported (use an unencrypted PEM key, "
	      "e.g. from `openssl genpkey`)");
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	_cleanup_free_ char *rp = pem_of(rsa, false);
	EVP_PKEY_free(rsa);
	FAILS(i2k_sigkey_parse(rp, strlen(rp), false, "r.pub", &k, &_e), I2K_ERR_UNSUPPORTED,
	      "r.pub: RSA keys are not supported (ECDSA P-256 or Ed25519)");
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	_cleanup_free_ char *pp = pem_of(p384, false);
	EVP_PKEY_free(p384);
	FAILS(i2k_sigkey_parse(pp, strlen(pp), false, "p.pub", &k, &_e), I2K_ERR_UNSUPPORTED,
	      "p.pub: EC curve secp384r1 is not supported (ECDSA P-256 or Ed25519)");
	/* signing needs the private half */
	unsigned char *sig = NULL;
	size_t siglen = 0;
	FAILS(i2k_sigkey_sign(ec.pub, "m", 1, &sig, &siglen, &_e), I2K_ERR_USAGE,
	      "ec.pem: signing needs a private key");
	pair_free(&ec);
	pair_free(&ed);
}

TEST(sign_verify_both_kinds)
{
	for (int ed = 0; ed < 2; ed++) {
		struct pair a = make_pair(ed, "a"), b = make_pair(ed, "b");
		unsigned char *sig = NULL;
		size_t siglen = 0;
		OK(i2k_sigkey_sign(a.priv, "hello", 5, &sig, &siglen, &_e));
		CHECK(i2k_sigkey_verify(a.pub, "hello", 5, sig, siglen));
		CHECK(i2k_sigkey_verify(a.priv, "hello", 5, sig, siglen));
		CHECK(!i2k_sigkey_verify(b.pub, "hello", 5, sig, siglen));
		CHECK(!i2k_sigkey_verify(a.pub, "hellO", 5, sig, siglen));
		CHECK(!i2k_sigkey_verify(a.pub, "hello", 5, sig, siglen - 1));
		if (ed)
			CHECK_INT(siglen, 64);
		free(sig);
		pair_free(&a);
		pair_free(&b);
	}
}

/* ---- payloads and manifests ---- */

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

TEST(payload_round_trip)
{
	_cleanup_free_ char *tag = i2k_sig_tag(D1);
	CHECK_STR(tag,
		  "sha256-1111111111111111111111111111111111111111111111111111111111111111.sig");
	size_t len = 0;
	_cleanup_free_ char *p = i2k_sig_payload_build("127.0.0.1:5000/fixtures/web", D1, &len);
	CHECK_STR(p, "{\"critical\":{\"identity\":{\"docker-reference\":\"127.0.0.1:5000/fixtures/"
		     "web\"},\"image\":{\"docker-manifest-digest\":\"" D1
		     "\"},\"type\":\"cosign container image signature\"},\"optional\":null}");
	char d[I2K_DIGEST_LEN + 1];
	OK(i2k_sig_payload_parse(p, len, d, &_e));
	CHECK_STR(d, D1);
	/* the spec's own example spells the key Docker-manifest-digest */
	const char *cap = "{\"critical\":{\"identity\":{\"docker-reference\":\"x\"},\"image\":{"
			  "\"Docker-manifest-digest\":\"" D2 "\"},\"type\":\"cosign container "
			  "image signature\"},\"optional\":{\"creator\":\"Bob\"}}";
	OK(i2k_sig_payload_parse(cap, strlen(cap), d, &_e));
	CHECK_STR(d, D2);
	const char *wrong = "{\"critical\":{\"image\":{\"docker-manifest-digest\":\"" D1
			    "\"},\"type\":\"atomic container signature\"}}";
	FAILS(i2k_sig_payload_parse(wrong, strlen(wrong), d, &_e), I2K_ERR_INTEGRITY,
	      "signature payload: critical.type is not \"cosign container image signature\"");
	const char *nod = "{\"critical\":{\"image\":{\"docker-manifest-digest\":\"sha256:12\"},"
			  "\"type\":\"cosign container image signature\"}}";
	FAILS(i2k_sig_payload_parse(nod, strlen(nod), d, &_e), I2K_ERR_INTEGRITY,
	      "signature payload: no valid critical.image.docker-manifest-digest");
	FAILS(i2k_sig_payload_parse("[1]", 3, d, &_e), I2K_ERR_INTEGRITY,
	      "signature payload: not a simple-signing JSON document");
}

TEST(sig_manifest_round_trip)
{
	struct i2k_sig_layer l[2] = {
	    {.payload = {.media_type = I2K_SIG_PAYLOAD_MT, .digest = D1, .size = 10},
	     .signature = "c2ln"},
	    {.payload = {.media_type = I2K_SIG_PAYLOAD_MT, .digest = D2, .size = 20}}};
	struct i2k_sig_manifest m = {
	    .config = {.media_type = "application/vnd.oci.image.config.v1+json",
		       .digest = D2,
		       .size = 3},
	    .layers = l,
	    .n = 2};
	size_t len = 0;
	_cleanup_free_ char *doc = i2k_sig_manifest_build(&m, &len);
	CHECK_CONTAINS(doc, "\"dev.cosignproject.cosign/signature\":\"c2ln\"");
	struct i2k_sig_manifest back;
	OK(i2k_sig_manifest_parse(doc, len, &back, &_e));
	CHECK_INT(back.n, 2);
	CHECK_STR(back.layers[0].signature, "c2ln");
	CHECK(back.layers[1].signature == NULL);
	CHECK_STR(back.layers[1].payload.digest, D2);
	CHECK_INT(back.layers[1].payload.size, 20);
	i2k_sig_manifest_clear(&back);
	_cleanup_free_ char *cfg = i2k_sig_config_build(&m, &len);
	CHECK_CONTAINS(cfg, "\"diff_ids\":[\"" D1 "\",\"" D2 "\"]");
	FAILS(i2k_sig_manifest_parse("{}", 2, &back, &_e), I2K_ERR_INTEGRITY,
	      "signature manifest: not an image manifest with layers");
}

/* ---- the evidence check ---- */

#define MAX_PAYLOADS 4
struct blobs {
	char *data[MAX_PAYLOADS];
	size_t len[MAX_PAYLOADS];
	char digest[MAX_PAYLOADS][I2K_DIGEST_LEN + 1];
	size_t n;
};

static int get_payload(void *ctx, const struct i2k_descriptor *d, char **data, size_t *len,
		       struct i2k_error **err)
{
	struct blobs *b = ctx;
	for (size_t i = 0; i < b->n; i++)
		if (strcmp(b->digest[i], d->digest) == 0) {
			char got[I2K_DIGEST_LEN + 1];
			i2k_sha256_digest(b->data[i], b->len[i], got);
			if (strcmp(got, d->digest) != 0)
				return i2k_error_set(err, I2K_ERR_INTEGRITY,
						     "content has digest %s", got);
			*data = i2k_xstrndup(b->data[i], b->len[i]);
			*len = b->len[i];
			return 0;
		}
	return i2k_error_set(err, I2K_ERR_NOTFOUND, "not found");
}

/* A signature manifest over `payload` signed by k (NULL: no annotation). */
static char *sign_into(struct blobs *b, const char *payload, const struct i2k_sigkey *k,
		       size_t *mlen)
{
	size_t i = b->n++;
	b->data[i] = i2k_xstrdup(payload);
	b->len[i] = strlen(payload);
	i2k_sha256_digest(payload, b->len[i], b->digest[i]);
	_cleanup_free_ char *b64 = NULL;
	if (k) {
		unsigned char *sig = NULL;
		size_t siglen = 0;
		struct i2k_error *e = NULL;
		if (i2k_sigkey_sign(k, payload, b->len[i], &sig, &siglen, &e) < 0)
			abort();
		b64 = i2k_base64_encode(sig, siglen);
		free(sig);
	}
	struct i2k_sig_layer l = {
	    .payload = {.media_type = I2K_SIG_PAYLOAD_MT, .size = (int64_t)b->len[i]},
	    .signature = b64};
	memcpy(l.payload.digest, b->digest[i], sizeof(l.payload.digest));
	struct i2k_sig_manifest m = {
	    .config = {.media_type = "application/vnd.oci.image.config.v1+json", .digest = D1},
	    .layers = &l,
	    .n = 1};
	return i2k_sig_manifest_build(&m, mlen);
}

static void blobs_clear(struct blobs *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->data[i]);
	memset(b, 0, sizeof(*b));
}

static const char *image_doc =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image."
    "manifest.v1+json\",\"config\":{\"mediaType\":\"application/"
    "vnd.oci.image.config.v1+json\",\"digest\":\"" D1 "\",\"size\":3},\"layers\":[]}";

static int check(const char *sigm, size_t slen, struct blobs *b, const char *signed_doc,
		 const char *platform, const char *image, const struct i2k_sigkey *k,
		 struct i2k_error **err)
{
	struct i2k_sig_evidence ev = {.sig_manifest = sigm,
				      .sig_manifest_len = slen,
				      .signed_doc = signed_doc,
				      .signed_len = strlen(signed_doc),
				      .platform_doc = platform,
				      .platform_len = platform ? strlen(platform) : 0,
				      .payload = get_payload,
				      .ctx = b};
	return i2k_sig_verify_evidence(&ev, image, &k, 1, err);
}

TEST(verify_good_wrong_other_tampered)
{
	char p[I2K_DIGEST_LEN + 1], msg[600];
	i2k_sha256_digest(image_doc, strlen(image_doc), p);
	for (int ed = 0; ed < 2; ed++) {
		struct pair k = make_pair(ed, "good.pub"), w = make_pair(ed, "wrong.pub");
		struct blobs b = {0};
		size_t len = 0, mlen = 0;
		_cleanup_free_ char *payload = i2k_sig_payload_build("r/x", p, &len);
		_cleanup_free_ char *sigm = sign_into(&b, payload, k.priv, &mlen);
		/* good */
		OK(check(sigm, mlen, &b, image_doc, NULL, p, k.pub, &_e));
		/* wrong key */
		snprintf(msg, sizeof(msg),
			 "signature: no signature of %s verifies with wrong.pub (1 checked)", p);
		FAILS(check(sigm, mlen, &b, image_doc, NULL, p, w.pub, &_e), I2K_ERR_INTEGRITY,
		      msg);
		/* a payload (validly signed) for another digest */
		struct blobs b2 = {0};
		_cleanup_free_ char *other = i2k_sig_payload_build("r/x", D2, &len);
		_cleanup_free_ char *sigo = sign_into(&b2, other, k.priv, &mlen);
		_cleanup_free_ char *tag = i2k_sig_tag(p);
		snprintf(msg, sizeof(msg), "signature: the payload in %s signs %s, not %s", tag, D2,
			 p);
		FAILS(check(sigo, mlen, &b2, image_doc, NULL, p, k.pub, &_e), I2K_ERR_INTEGRITY,
		      msg);
		/* tampered: the payload's bytes changed under the same descriptor */
		b.data[0][10] ^= 1;
		{
			struct i2k_error *e = NULL;
			CHECK(check(sigm, mlen, &b, image_doc, NULL, p, k.pub, &e) < 0);
			CHECK(e && e->code == I2K_ERR_INTEGRITY &&
			      strstr(e->msg, "signature: payload sha256:") == e->msg);
			i2k_error_free(e);
		}
		b.data[0][10] ^= 1;
		/* tampered: a re-pushed modified payload (new descriptor), old
		 * signature kept */
		struct blobs b3 = {0};
		_cleanup_free_ char *mod = i2k_xstrdup(payload);
		mod[strlen(mod) - 2] = 'X'; /* "optional":nulX */
		size_t mlen3 = 0;
		_cleanup_free_ char *sig3 = sign_into(&b3, mod, NULL, &mlen3);
		json_t *j = json_loadb(sig3, mlen3, 0, NULL);
		json_t *m0 = json_array_get(json_object_get(j, "layers"), 0);
		_cleanup_(i2k_freep) char *orig_sig = NULL;
		{
			struct i2k_sig_manifest om;
			OK(i2k_sig_manifest_parse(sigm, strlen(sigm), &om, &_e));
			orig_sig = i2k_xstrdup(om.layers[0].signature);
			i2k_sig_manifest_clear(&om);
		}
		json_object_set_new(m0, "annotations",
				    json_pack("{s:s}", I2K_SIG_ANNOTATION, orig_sig));
		_cleanup_free_ char *sig3b = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		/* the modified payload no longer parses ("optional":nulX) */
		struct i2k_error *e = NULL;
		CHECK(check(sig3b, strlen(sig3b), &b3, image_doc, NULL, p, k.pub, &e) < 0);
		CHECK(e && e->code == I2K_ERR_INTEGRITY);
		i2k_error_free(e);
		blobs_clear(&b);
		blobs_clear(&b2);
		blobs_clear(&b3);
		pair_free(&k);
		pair_free(&w);
	}
}

TEST(verify_tampered_payload_still_parses)
{
	/* A payload edited to keep valid JSON (extra optional claim) and
	 * re-pushed with its new digest: the old signature does not cover it. */
	char p[I2K_DIGEST_LEN + 1], msg[600];
	i2k_sha256_digest(image_doc, strlen(image_doc), p);
	struct pair k = make_pair(false, "k.pub");
	struct blobs b = {0}, b2 = {0};
	size_t len = 0, mlen = 0, mlen2 = 0;
	_cleanup_free_ char *payload = i2k_sig_payload_build("r/x", p, &len);
	_cleanup_free_ char *sigm = sign_into(&b, payload, k.priv, &mlen);
	struct i2k_sig_manifest om;
	OK(i2k_sig_manifest_parse(sigm, mlen, &om, &_e));
	_cleanup_free_ char *mod = i2k_xstrdup(payload);
	char *opt = strstr(mod, "\"optional\":null");
	memcpy(opt, "\"optional\":   0", 15);
	_cleanup_free_ char *sig2 = sign_into(&b2, mod, NULL, &mlen2);
	struct i2k_sig_manifest m2;
	OK(i2k_sig_manifest_parse(sig2, mlen2, &m2, &_e));
	m2.layers[0].signature = i2k_xstrdup(om.layers[0].signature);
	_cleanup_free_ char *sig2b = i2k_sig_manifest_build(&m2, &mlen2);
	snprintf(msg, sizeof(msg), "signature: no signature of %s verifies with k.pub (1 checked)",
		 p);
	FAILS(check(sig2b, mlen2, &b2, image_doc, NULL, p, k.pub, &_e), I2K_ERR_INTEGRITY, msg);
	/* and the byte-level tamper under the old descriptor */
	b.data[0][20] ^= 1;
	struct i2k_error *e = NULL;
	CHECK(check(sigm, mlen, &b, image_doc, NULL, p, k.pub, &e) < 0);
	CHECK(e && strstr(e->msg, "content has digest") != NULL);
	i2k_error_free(e);
	i2k_sig_manifest_clear(&om);
	i2k_sig_manifest_clear(&m2);
	blobs_clear(&b);
	blobs_clear(&b2);
	pair_free(&k);
}

TEST(verify_index_chain)
{
	char p[I2K_DIGEST_LEN + 1], msg[600];
	i2k_sha256_digest(image_doc, strlen(image_doc), p);
	_cleanup_free_ char *index = i2k_xasprintf(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
	    "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	    "\"digest\":\"%s\",\"size\":%zu,\"platform\":{\"os\":\"linux\",\"architecture\":"
	    "\"amd64\"}}]}",
	    p, strlen(image_doc));
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(index, strlen(index), d);
	struct pair k = make_pair(true, "k.pub");
	struct blobs b = {0};
	size_t len = 0, mlen = 0;
	_cleanup_free_ char *payload = i2k_sig_payload_build("r/x", d, &len);
	_cleanup_free_ char *sigm = sign_into(&b, payload, k.priv, &mlen);
	OK(check(sigm, mlen, &b, index, image_doc, p, k.pub, &_e));
	/* the index does not list this image */
	const char *other_img = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":"
				"\"" D2 "\",\"size\":1},\"layers\":[]}";
	char o[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(other_img, strlen(other_img), o);
	snprintf(msg, sizeof(msg),
		 "signature: the signed manifest %s does not lead to the image %s", d, o);
	FAILS(check(sigm, mlen, &b, index, other_img, o, k.pub, &_e), I2K_ERR_INTEGRITY, msg);
	/* a signature of one image does not cover another */
	snprintf(msg, sizeof(msg),
		 "signature: the signed manifest %s does not lead to the image %s", p, o);
	FAILS(check(sigm, mlen, &b, image_doc, NULL, o, k.pub, &_e), I2K_ERR_INTEGRITY, msg);
	blobs_clear(&b);
	pair_free(&k);
}

TEST(verify_unsigned_layers)
{
	char p[I2K_DIGEST_LEN + 1], msg[600];
	i2k_sha256_digest(image_doc, strlen(image_doc), p);
	struct pair k = make_pair(false, "k.pub");
	struct blobs b = {0};
	size_t len = 0, mlen = 0;
	_cleanup_free_ char *payload = i2k_sig_payload_build("r/x", p, &len);
	_cleanup_free_ char *sigm = sign_into(&b, payload, NULL, &mlen);
	snprintf(msg, sizeof(msg), "signature: no signature of %s verifies with k.pub (0 checked)",
		 p);
	FAILS(check(sigm, mlen, &b, image_doc, NULL, p, k.pub, &_e), I2K_ERR_INTEGRITY, msg);
	const char *empty = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
			    "\",\"size\":1},\"layers\":[]}";
	_cleanup_free_ char *tag = i2k_sig_tag(p);
	snprintf(msg, sizeof(msg), "signature: %s holds no simple-signing payload", tag);
	FAILS(check(empty, strlen(empty), &b, image_doc, NULL, p, k.pub, &_e), I2K_ERR_INTEGRITY,
	      msg);
	blobs_clear(&b);
	pair_free(&k);
}

int main(void)
{
	t_prog = "signature";
	RUN(keys_parse_and_reject);
	RUN(sign_verify_both_kinds);
	RUN(payload_round_trip);
	RUN(sig_manifest_round_trip);
	RUN(verify_good_wrong_other_tampered);
	RUN(verify_tampered_payload_still_parses);
	RUN(verify_index_chain);
	RUN(verify_unsigned_layers);
	return TEST_DONE();
}
