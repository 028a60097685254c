/* sigverify.c — see sigverify.h. */
#include "builder/registry/sigverify.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/auth.h"
#include "builder/registry/manifest.h"
#include "builder/registry/session.h"
#include "builder/registry/sigpayload.h"

/* The bundle's config: an empty OCI image config (as cosign gives its
 * signature manifests), so `skopeo inspect` and umoci read the ref. */
#define BUNDLE_CONFIG                                                                              \
	"{\"architecture\":\"\",\"config\":{},\"os\":\"\",\"rootfs\":{\"diff_ids\":[],\"type\":"   \
	"\"layers\"}}"
#define MT_IMAGE_CONFIG "application/vnd.oci.image.config.v1+json"
#define BUNDLE_TYPE "application/vnd.i2kit.signature-bundle.v1"
#define ROLE_KEY "dev.i2kit.signature.role"

/* ---- policy ------------------------------------------------------------------ */

struct keyset {
	char *canonical; /* NULL for the defaults */
	struct i2k_sigkey **keys;
	size_t n, cap;
};

struct i2k_sig_policy {
	char **exempt;
	size_t n_exempt;
	struct keyset def;
	struct keyset *images;
	size_t n, cap;
};

int i2k_sig_policy_new(struct i2k_sig_policy **out)
{
	*out = i2k_xcalloc(1, sizeof(**out));
	return 0;
}

static void keyset_clear(struct keyset *k)
{
	for (size_t i = 0; i < k->n; i++)
		i2k_sigkey_free(k->keys[i]);
	free(k->keys);
	free(k->canonical);
}

void i2k_sig_policy_free(struct i2k_sig_policy *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n_exempt; i++)
		free(p->exempt[i]);
	free(p->exempt);
	keyset_clear(&p->def);
	for (size_t i = 0; i < p->n; i++)
		keyset_clear(&p->images[i]);
	free(p->images);
	free(p);
}

void i2k_sig_policy_freep(struct i2k_sig_policy **p)
{
	i2k_sig_policy_free(*p);
	*p = NULL;
}

static int keyset_add(struct keyset *ks, const char *path, struct i2k_error **err)
{
	struct i2k_sigkey *k = NULL;
	if (i2k_sigkey_load(path, false, &k, err) < 0)
		return -1;
	i2k_xgrow((void **)&ks->keys, &ks->cap, ks->n + 1, sizeof(*ks->keys));
	ks->keys[ks->n++] = k;
	return 0;
}

int i2k_sig_policy_add_default(struct i2k_sig_policy *p, const char *path, struct i2k_error **err)
{
	return keyset_add(&p->def, path, err);
}

int i2k_sig_policy_add_image(struct i2k_sig_policy *p, const char *image, const char *path,
			     struct i2k_error **err)
{
	struct i2k_ref ref;
	if (i2k_ref_parse(image, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *canonical = i2k_ref_string(&ref);
	i2k_ref_clear(&ref);
	struct keyset *ks = NULL;
	for (size_t i = 0; i < p->n && !ks; i++)
		if (strcmp(p->images[i].canonical, canonical) == 0)
			ks = &p->images[i];
	if (ks == NULL) {
		i2k_xgrow((void **)&p->images, &p->cap, p->n + 1, sizeof(*p->images));
		ks = &p->images[p->n++];
		*ks = (struct keyset){.canonical = I2K_STEAL(canonical)};
	}
	return keyset_add(ks, path, err);
}

void i2k_sig_policy_exempt(struct i2k_sig_policy *p, const char *prefix)
{
	p->exempt = i2k_xrealloc(p->exempt, (p->n_exempt + 1) * sizeof(*p->exempt));
	p->exempt[p->n_exempt++] = i2k_xstrdup(prefix);
}

const struct i2k_sigkey *const *i2k_sig_policy_keys(const struct i2k_sig_policy *p,
						    const char *canonical, size_t *n)
{
	for (size_t i = 0; p && i < p->n_exempt; i++)
		if (i2k_str_has_prefix(canonical, p->exempt[i])) {
			*n = 0;
			return NULL;
		}
	for (size_t i = 0; p && i < p->n; i++)
		if (strcmp(p->images[i].canonical, canonical) == 0) {
			*n = p->images[i].n;
			return (const struct i2k_sigkey *const *)p->images[i].keys;
		}
	*n = p ? p->def.n : 0;
	return p ? (const struct i2k_sigkey *const *)p->def.keys : NULL;
}

/* ---- the check over bytes ------------------------------------------------------ */

/* True when doc (with digest doc_digest) is the image P: the same bytes, or
 * a Docker manifest whose OCI form (as the cache stores it) is P. */
static bool is_image(const char *doc, size_t len, const char *doc_digest, const char *p)
{
	if (strcmp(doc_digest, p) == 0)
		return true;
	const char *mt = NULL;
	if (i2k_manifest_classify(NULL, doc, len, &mt) != I2K_KIND_MANIFEST || mt == NULL ||
	    strcmp(mt, I2K_MT_DOCKER_MANIFEST) != 0)
		return false;
	_cleanup_free_ char *oci = NULL;
	size_t olen = 0;
	struct i2k_error *e = NULL;
	if (i2k_manifest_docker_to_oci(doc, len, &oci, &olen, &e) < 0) {
		i2k_error_free(e);
		return false;
	}
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(oci, olen, d);
	return strcmp(d, p) == 0;
}

/* The signed document D leads to P (see the header). */
static int check_chain(const struct i2k_sig_evidence *ev, const char *d, const char *p,
		       struct i2k_error **err)
{
	if (is_image(ev->signed_doc, ev->signed_len, d, p))
		return 0;
	const char *mt = NULL;
	if (i2k_manifest_classify(NULL, ev->signed_doc, ev->signed_len, &mt) == I2K_KIND_INDEX &&
	    ev->platform_doc) {
		char q[I2K_DIGEST_LEN + 1];
		i2k_sha256_digest(ev->platform_doc, ev->platform_len, q);
		struct i2k_manifest_index ix;
		if (i2k_manifest_index_parse(ev->signed_doc, ev->signed_len, &ix, err) < 0)
			return i2k_error_wrap(err, "signature");
		bool listed = false;
		for (size_t i = 0; i < ix.n && !listed; i++)
			listed = strcmp(ix.entries[i].desc.digest, q) == 0;
		i2k_manifest_index_clear(&ix);
		if (listed && is_image(ev->platform_doc, ev->platform_len, q, p))
			return 0;
	}
	return i2k_error_set(err, I2K_ERR_INTEGRITY,
			     "signature: the signed manifest %s does not lead to the image %s", d,
			     p);
}

int i2k_sig_verify_evidence(const struct i2k_sig_evidence *ev, const char *image_digest,
			    const struct i2k_sigkey *const *keys, size_t nkeys,
			    struct i2k_error **err)
{
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(ev->signed_doc, ev->signed_len, d);
	if (check_chain(ev, d, image_digest, err) < 0)
		return -1;
	struct i2k_sig_manifest m;
	if (i2k_sig_manifest_parse(ev->sig_manifest, ev->sig_manifest_len, &m, err) < 0)
		return i2k_error_wrap(err, "signature");
	_cleanup_free_ char *tag = i2k_sig_tag(d);
	size_t checked = 0, other = 0;
	char other_digest[I2K_DIGEST_LEN + 1] = "";
	bool ok = false;
	int rc = 0;
	for (size_t i = 0; i < m.n && !ok && rc == 0; i++) {
		const struct i2k_sig_layer *l = &m.layers[i];
		if (l->signature == NULL)
			continue;
		_cleanup_free_ char *data = NULL, *sig = NULL;
		size_t len = 0, siglen = 0;
		char pd[I2K_DIGEST_LEN + 1];
		if (l->payload.size > (int64_t)I2K_SIG_PAYLOAD_MAX) {
			rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
					   "signature: payload %s: %lld bytes exceeds the limit of "
					   "%u bytes",
					   l->payload.digest, (long long)l->payload.size,
					   I2K_SIG_PAYLOAD_MAX);
			break;
		}
		if (ev->payload(ev->ctx, &l->payload, &data, &len, err) < 0) {
			rc = i2k_error_wrap(err, "signature: payload %s", l->payload.digest);
			break;
		}
		if (i2k_sig_payload_parse(data, len, pd, err) < 0) {
			rc = i2k_error_wrap(err, "signature");
			break;
		}
		if (strcmp(pd, d) != 0) {
			if (other++ == 0)
				memcpy(other_digest, pd, sizeof(pd));
			continue;
		}
		if (i2k_base64_decode(l->signature, strlen(l->signature), &sig, &siglen) < 0)
			continue; /* not base64: a signature that cannot verify */
		checked++;
		for (size_t k = 0; k < nkeys && !ok; k++)
			ok = i2k_sigkey_verify(keys[k], data, len, sig, siglen);
	}
	size_t n = m.n;
	i2k_sig_manifest_clear(&m);
	if (rc < 0 || ok)
		return rc;
	if (n == 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "signature: %s holds no simple-signing payload", tag);
	if (checked == 0 && other > 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY,
				     "signature: the payload in %s signs %s, not %s", tag,
				     other_digest, d);
	struct i2k_buf names = {0};
	for (size_t k = 0; k < nkeys; k++) {
		const char *nm = i2k_sigkey_name(keys[k]);
		if (k)
			i2k_buf_append(&names, ", ", 2, NULL);
		i2k_buf_append(&names, nm, strlen(nm), NULL);
	}
	i2k_buf_append(&names, "", 1, NULL);
	rc = i2k_error_set(err, I2K_ERR_INTEGRITY,
			   "signature: no signature of %s verifies with %s (%zu checked)", d,
			   nkeys ? names.data : "no key", checked);
	i2k_buf_free(&names);
	return rc;
}

/* ---- the cached bundle ---------------------------------------------------------- */

char *i2k_sig_bundle_name(const struct i2k_ref *ref, const char *image_digest)
{
	_cleanup_free_ char *tag = i2k_sig_tag(image_digest); /* sha256-HEX.sig */
	size_t n = strlen(tag) - 4;
	return i2k_xasprintf("%s/%s:%.*s%s", ref->registry, ref->repository, (int)n, tag,
			     I2K_SIG_BUNDLE_SUFFIX);
}

static int store_payload(void *ctx, const struct i2k_descriptor *d, char **data, size_t *len,
			 struct i2k_error **err)
{
	struct i2k_store *s = ctx;
	if (i2k_store_read_blob(s, d->digest, I2K_SIG_PAYLOAD_MAX, data, len, err) < 0)
		return -1;
	if ((int64_t)*len != d->size) {
		free(*data);
		*data = NULL;
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "%zu bytes, the descriptor says %lld",
				     *len, (long long)d->size);
	}
	return 0;
}

struct bundle {
	char *sig, *signed_doc, *platform;
	size_t sig_len, signed_len, platform_len;
};

static void bundle_clear(struct bundle *b)
{
	free(b->sig);
	free(b->signed_doc);
	free(b->platform);
	memset(b, 0, sizeof(*b));
}

/* Loads the bundle's documents: 1 loaded, 0 none cached, -1 error. */
static int bundle_load(struct i2k_store *s, const char *name, struct bundle *b,
		       struct i2k_error **err)
{
	memset(b, 0, sizeof(*b));
	struct i2k_store_ref sr = {0};
	int found = i2k_store_ref_get(s, name, &sr, err);
	if (found <= 0)
		return found;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int rc = i2k_store_read_blob(s, sr.desc.digest, I2K_MANIFEST_MAX, &data, &len, err);
	i2k_store_ref_clear(&sr);
	if (rc < 0)
		return -1;
	json_t *root = json_loadb(data, len, 0, NULL);
	json_t *layers = json_object_get(root, "layers");
	for (size_t i = 0; rc == 0 && i < json_array_size(layers); i++) {
		json_t *l = json_array_get(layers, i);
		const char *role =
		    json_string_value(json_object_get(json_object_get(l, "annotations"), ROLE_KEY));
		const char *dg = json_string_value(json_object_get(l, "digest"));
		char **dst = NULL;
		size_t *dlen = NULL;
		if (role && strcmp(role, "signatures") == 0) {
			dst = &b->sig;
			dlen = &b->sig_len;
		} else if (role && strcmp(role, "signed") == 0) {
			dst = &b->signed_doc;
			dlen = &b->signed_len;
		} else if (role && strcmp(role, "platform") == 0) {
			dst = &b->platform;
			dlen = &b->platform_len;
		}
		if (dst && (*dst != NULL || !i2k_digest_valid(dg)))
			rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: invalid bundle", name);
		else if (dst)
			rc = i2k_store_read_blob(s, dg, I2K_MANIFEST_MAX, dst, dlen, err);
	}
	json_decref(root);
	if (rc == 0 && (b->sig == NULL || b->signed_doc == NULL))
		rc = i2k_error_set(err, I2K_ERR_INTEGRITY, "%s: invalid bundle", name);
	if (rc < 0) {
		bundle_clear(b);
		return -1;
	}
	return 1;
}

int i2k_sig_check_cached(struct i2k_store *s, const struct i2k_ref *ref, const char *image_digest,
			 const struct i2k_sigkey *const *keys, size_t nkeys, struct i2k_error **err)
{
	_cleanup_free_ char *name = i2k_sig_bundle_name(ref, image_digest);
	struct bundle b;
	int found = bundle_load(s, name, &b, err);
	if (found <= 0)
		return found;
	struct i2k_sig_evidence ev = {.sig_manifest = b.sig,
				      .sig_manifest_len = b.sig_len,
				      .signed_doc = b.signed_doc,
				      .signed_len = b.signed_len,
				      .platform_doc = b.platform,
				      .platform_len = b.platform_len,
				      .payload = store_payload,
				      .ctx = s};
	int rc = i2k_sig_verify_evidence(&ev, image_digest, keys, nkeys, err);
	bundle_clear(&b);
	return rc < 0 ? -1 : 1;
}

static json_t *layer_json(const char *mt, const char *digest, size_t size, const char *role)
{
	json_t *l =
	    json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", digest, "size", (json_int_t)size);
	if (role)
		json_object_set_new(l, "annotations", json_pack("{s:s}", ROLE_KEY, role));
	return l;
}

static int put_doc(struct i2k_store *s, const char *doc, size_t len, const char *mt,
		   const char *role, json_t *layers, struct i2k_error **err)
{
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(doc, len, d);
	if (i2k_store_put_blob(s, d, doc, len, err) < 0)
		return -1;
	json_array_append_new(layers, layer_json(mt, d, len, role));
	return 0;
}

static const char *doc_type(const char *doc, size_t len)
{
	const char *mt = NULL;
	i2k_manifest_classify(NULL, doc, len, &mt);
	return mt ? mt : I2K_MT_OCI_MANIFEST;
}

/* Stores the evidence and the bundle ref. The payloads are in the store
 * already (the session downloaded them). */
static int bundle_save(struct i2k_store *s, const char *name, const struct bundle *b,
		       const struct i2k_sig_manifest *m, struct i2k_error **err)
{
	json_t *layers = json_array();
	int rc = put_doc(s, b->sig, b->sig_len, I2K_MT_OCI_MANIFEST, "signatures", layers, err);
	if (rc == 0)
		rc = put_doc(s, b->signed_doc, b->signed_len,
			     doc_type(b->signed_doc, b->signed_len), "signed", layers, err);
	if (rc == 0 && b->platform)
		rc = put_doc(s, b->platform, b->platform_len,
			     doc_type(b->platform, b->platform_len), "platform", layers, err);
	for (size_t i = 0; rc == 0 && i < m->n; i++)
		json_array_append_new(layers,
				      layer_json(I2K_SIG_PAYLOAD_MT, m->layers[i].payload.digest,
						 (size_t)m->layers[i].payload.size, "payload"));
	char cd[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(BUNDLE_CONFIG, strlen(BUNDLE_CONFIG), cd);
	if (rc == 0)
		rc = i2k_store_put_blob(s, cd, BUNDLE_CONFIG, strlen(BUNDLE_CONFIG), err);
	if (rc < 0) {
		json_decref(layers);
		return -1;
	}
	json_t *root = json_pack("{s:i,s:s,s:s,s:{s:s,s:s,s:i},s:o}", "schemaVersion", 2,
				 "mediaType", I2K_MT_OCI_MANIFEST, "artifactType", BUNDLE_TYPE,
				 "config", "mediaType", MT_IMAGE_CONFIG, "digest", cd, "size",
				 (int)strlen(BUNDLE_CONFIG), "layers", layers);
	_cleanup_free_ char *doc = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	if (doc == NULL)
		abort();
	size_t len = strlen(doc);
	struct i2k_descriptor desc = {.media_type = (char *)I2K_MT_OCI_MANIFEST,
				      .size = (int64_t)len};
	i2k_sha256_digest(doc, len, desc.digest);
	if (i2k_store_put_blob(s, desc.digest, doc, len, err) < 0)
		return -1;
	return i2k_store_ref_set(s, name, &desc, err);
}

/* GETs the signature manifest for digest d: 1 found, 0 not found. */
static int get_sigs(struct i2k_registry_session *ss, const char *d, char **data, size_t *len,
		    struct i2k_error **err)
{
	_cleanup_free_ char *tag = i2k_sig_tag(d);
	char got[I2K_DIGEST_LEN + 1];
	struct i2k_error *e = NULL;
	if (i2k_registry_session_get_manifest(ss, tag, NULL, data, len, got, &e) == 0)
		return 1;
	if (e->code == I2K_ERR_NOTFOUND) {
		i2k_error_free(e);
		return 0;
	}
	i2k_error_propagate(err, &e);
	return -1;
}

int i2k_sig_fetch_and_check(struct i2k_registry *r, struct i2k_store *s, const struct i2k_ref *ref,
			    const struct i2k_platform *p, const char *image_digest,
			    const struct i2k_sigkey *const *keys, size_t nkeys,
			    struct i2k_error **err)
{
	_cleanup_(i2k_registry_session_freep) struct i2k_registry_session *ss = NULL;
	if (i2k_registry_session_open(r, ref, false, &ss, err) < 0)
		return -1;
	struct bundle b = {0};
	struct i2k_sig_manifest m = {0};
	char d[I2K_DIGEST_LEN + 1];
	int rc =
	    i2k_registry_session_get_manifest(ss, ref->digest ? ref->digest : ref->tag, ref->digest,
					      &b.signed_doc, &b.signed_len, d, err);
	const char *mt = NULL;
	if (rc == 0 &&
	    i2k_manifest_classify(NULL, b.signed_doc, b.signed_len, &mt) == I2K_KIND_INDEX) {
		struct i2k_manifest_index ix;
		int parsed = i2k_manifest_index_parse(b.signed_doc, b.signed_len, &ix, err);
		rc = parsed;
		const struct i2k_platform_entry *e =
		    rc == 0 ? i2k_manifest_index_select(&ix, p) : NULL;
		if (rc == 0 && e == NULL)
			rc = i2k_error_set(err, I2K_ERR_NOTFOUND,
					   "signature: the index %s has no image for the platform",
					   d);
		char q[I2K_DIGEST_LEN + 1];
		if (rc == 0) {
			memcpy(q, e->desc.digest, sizeof(q));
			rc = i2k_registry_session_get_manifest(ss, q, q, &b.platform,
							       &b.platform_len, q, err);
		}
		if (parsed == 0)
			i2k_manifest_index_clear(&ix);
	}
	int found = rc == 0 ? get_sigs(ss, d, &b.sig, &b.sig_len, err) : -1;
	if (found == 0 && b.platform) {
		/* The index is unsigned: a signature on the platform manifest
		 * (cosign sign --recursive) is the signed document instead. */
		char q[I2K_DIGEST_LEN + 1];
		i2k_sha256_digest(b.platform, b.platform_len, q);
		found = get_sigs(ss, q, &b.sig, &b.sig_len, err);
		if (found == 1) {
			free(b.signed_doc);
			b.signed_doc = I2K_STEAL(b.platform);
			b.signed_len = b.platform_len;
		}
	}
	if (found == 0) {
		_cleanup_free_ char *tag = i2k_sig_tag(d);
		rc = i2k_error_set(err, I2K_ERR_NOTFOUND,
				   "signature: no signature for %s (tag %s not found)", d, tag);
	} else if (found < 0) {
		rc = -1;
	}
	if (rc == 0 && i2k_sig_manifest_parse(b.sig, b.sig_len, &m, err) < 0)
		rc = i2k_error_wrap(err, "signature");
	for (size_t i = 0; rc == 0 && i < m.n; i++)
		if (i2k_registry_session_get_blob(ss, s, &m.layers[i].payload, I2K_SIG_PAYLOAD_MAX,
						  err) < 0)
			rc = -1;
	_cleanup_free_ char *name = i2k_sig_bundle_name(ref, image_digest);
	if (rc == 0)
		rc = bundle_save(s, name, &b, &m, err);
	i2k_sig_manifest_clear(&m);
	bundle_clear(&b);
	if (rc < 0) {
		if (*err && !i2k_str_has_prefix((*err)->msg, "signature: "))
			i2k_error_wrap(err, "signature");
		return -1;
	}
	int v = i2k_sig_check_cached(s, ref, image_digest, keys, nkeys, err);
	if (v == 0)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s: bundle vanished", name);
	return v < 0 ? -1 : 0;
}
