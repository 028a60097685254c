/* fetch.c — see fetch.h. */
#include "builder/registry/fetch.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/manifest.h"
#include "builder/registry/ref.h"
#include "builder/registry/sigverify.h"

#define FETCH_PARALLEL_IMAGES 4

struct i2k_fetcher {
	struct i2k_store *s;
	const struct i2k_fetch_opts *o;
	pthread_mutex_t mu; /* lazy registry creation */
	struct i2k_registry *reg;
};

int i2k_fetcher_new(struct i2k_store *s, const struct i2k_fetch_opts *o, struct i2k_fetcher **out,
		    struct i2k_error **err)
{
	if (s == NULL || o == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "i2k_fetcher_new: no store or options");
	struct i2k_fetcher *f = i2k_xcalloc(1, sizeof(*f));
	f->s = s;
	f->o = o;
	pthread_mutex_init(&f->mu, NULL);
	*out = f;
	return 0;
}

void i2k_fetcher_free(struct i2k_fetcher *f)
{
	if (f == NULL)
		return;
	i2k_registry_free(f->reg);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

void i2k_fetcher_freep(struct i2k_fetcher **f)
{
	i2k_fetcher_free(*f);
	*f = NULL;
}

static const struct i2k_platform *platform_of(const struct i2k_fetcher *f)
{
	static const struct i2k_platform def = {.os = "linux", .arch = "amd64"};
	const struct i2k_platform *p = &f->o->platform;
	return p->os && p->arch ? p : &def;
}

/* 1 when `name` is in the store with every blob present and a config for
 * the requested platform (digest in out), 0 when not (or unreadable). When
 * it is there whole but for another platform, *other names that platform
 * (caller frees). */
static int cached(struct i2k_fetcher *f, const char *name, char out[I2K_DIGEST_LEN + 1],
		  char **other)
{
	*other = NULL;
	struct i2k_store_ref sr = {0};
	struct i2k_error *e = NULL;
	int found = i2k_store_ref_get(f->s, name, &sr, &e);
	if (found <= 0) {
		i2k_error_free(e);
		return 0;
	}
	int ret = 0;
	_cleanup_free_ char *mdata = NULL, *cdata = NULL;
	_cleanup_free_ char *os = NULL, *arch = NULL, *variant = NULL;
	size_t mlen = 0, clen = 0;
	struct i2k_manifest m = {0};
	if (!i2k_digest_valid(sr.desc.digest) ||
	    i2k_store_read_blob(f->s, sr.desc.digest, I2K_MANIFEST_MAX, &mdata, &mlen, &e) < 0 ||
	    i2k_manifest_parse(mdata, mlen, &m, &e) < 0)
		goto out;
	for (size_t i = 0; i < m.n_layers; i++)
		if (!i2k_store_has_blob(f->s, m.layers[i].digest))
			goto out;
	if (i2k_store_read_blob(f->s, m.config.digest, I2K_CONFIG_MAX, &cdata, &clen, &e) < 0 ||
	    i2k_config_platform(cdata, clen, &os, &arch, &variant, &e) < 0)
		goto out;
	if (!i2k_platform_matches(platform_of(f), os, arch, variant)) {
		struct i2k_platform have = {.os = os, .arch = arch, .variant = variant};
		*other = i2k_platform_string(&have);
		goto out;
	}
	memcpy(out, sr.desc.digest, I2K_DIGEST_LEN + 1);
	ret = 1;
out:
	i2k_error_free(e);
	i2k_manifest_clear(&m);
	i2k_store_ref_clear(&sr);
	return ret;
}

static void report(struct i2k_fetcher *f, const char *name, int kind)
{
	const struct i2k_registry_opts *ro = &f->o->registry;
	if (ro->progress == NULL)
		return;
	struct i2k_progress p = {.ref = name, .kind = kind};
	ro->progress(&p, ro->progress_ctx);
}

static struct i2k_registry *registry(struct i2k_fetcher *f, struct i2k_error **err)
{
	pthread_mutex_lock(&f->mu);
	if (f->reg == NULL && i2k_registry_new(&f->o->registry, &f->reg, err) < 0)
		f->reg = NULL;
	struct i2k_registry *r = f->reg;
	pthread_mutex_unlock(&f->mu);
	return r;
}

/* The signature check for a fetched image (sigverify.h); no-op without a
 * key for it. Errors name the image as written. */
static int verify_image(struct i2k_fetcher *f, const char *image, const struct i2k_ref *ref,
			const char *name, const char *digest, struct i2k_error **err)
{
	size_t nkeys = 0;
	const struct i2k_sigkey *const *keys = i2k_sig_policy_keys(f->o->verify, name, &nkeys);
	if (nkeys == 0)
		return 0;
	if (!f->o->pull_always || f->o->offline) {
		struct i2k_error *e = NULL;
		int c = i2k_sig_check_cached(f->s, ref, digest, keys, nkeys, &e);
		if (c == 1)
			return 0;
		if (f->o->offline) {
			if (c < 0) {
				i2k_error_propagate(err, &e);
				return i2k_error_wrap(err, "%s", image);
			}
			return i2k_error_set(err, I2K_ERR_OFFLINE,
					     "%s: signature: not in the cache and --offline was "
					     "given",
					     image);
		}
		i2k_error_free(e); /* stale evidence: fetch it again */
	}
	struct i2k_registry *r = registry(f, err);
	if (r == NULL ||
	    i2k_sig_fetch_and_check(r, f->s, ref, platform_of(f), digest, keys, nkeys, err) < 0)
		return i2k_error_wrap(err, "%s", image);
	return 0;
}

int i2k_fetch_image(struct i2k_fetcher *f, const char *image,
		    char manifest_digest[I2K_DIGEST_LEN + 1], struct i2k_error **err)
{
	struct i2k_ref ref;
	if (i2k_ref_parse(image, &ref, err) < 0)
		return -1;
	_cleanup_free_ char *name = i2k_ref_string(&ref);
	char digest[I2K_DIGEST_LEN + 1];
	_cleanup_free_ char *other = NULL;
	bool have = cached(f, name, digest, &other);
	/* --pull refreshes tags; a digest-pinned image never changes. */
	bool refresh = f->o->pull_always && ref.digest == NULL && !f->o->offline;
	if (have && !refresh) {
		report(f, name, I2K_PROGRESS_CACHED);
		int vr = verify_image(f, image, &ref, name, digest, err);
		i2k_ref_clear(&ref);
		if (vr < 0)
			return -1;
		memcpy(manifest_digest, digest, sizeof(digest));
		return 0;
	}
	if (f->o->offline) {
		i2k_ref_clear(&ref);
		if (other) {
			_cleanup_free_ char *want = i2k_platform_string(platform_of(f));
			return i2k_error_set(err, I2K_ERR_OFFLINE,
					     "%s: cached only for %s, not %s, and --offline was "
					     "given (pull it for %s without --offline, or build "
					     "for %s with --platform)",
					     image, other, want, want, other);
		}
		return i2k_error_set(err, I2K_ERR_OFFLINE,
				     "%s: not in the cache and --offline was given (run once "
				     "without --offline, or 'i2kit cache import' an archive of it)",
				     image);
	}
	struct i2k_registry *r = registry(f, err);
	if (r == NULL) {
		i2k_ref_clear(&ref);
		return -1;
	}
	struct i2k_descriptor d;
	int rc = i2k_registry_pull(r, f->s, &ref, platform_of(f), &d, err);
	if (rc == 0 && verify_image(f, image, &ref, name, d.digest, err) < 0) {
		free(d.media_type);
		rc = -1;
	}
	i2k_ref_clear(&ref);
	if (rc < 0) {
		/* unreachable, but cached for another platform: say so */
		if (other && err && *err && (*err)->code == I2K_ERR_NETWORK) {
			char *msg = i2k_xasprintf("%s (the cache has %s only for %s)", (*err)->msg,
						  image, other);
			free((*err)->msg);
			(*err)->msg = msg;
		}
		return -1;
	}
	memcpy(manifest_digest, d.digest, sizeof(d.digest));
	free(d.media_type);
	return 0;
}

struct batch {
	struct i2k_fetcher *f;
	const char *const *images;
	size_t n, next;
	char (*digests)[I2K_DIGEST_LEN + 1];
	pthread_mutex_t mu;
	struct i2k_error *err;
	size_t err_index;
};

static void *batch_worker(void *arg)
{
	struct batch *b = arg;
	for (;;) {
		pthread_mutex_lock(&b->mu);
		size_t i = b->next;
		bool stop = b->err != NULL || i >= b->n;
		if (!stop)
			b->next++;
		pthread_mutex_unlock(&b->mu);
		if (stop)
			break;
		struct i2k_error *e = NULL;
		if (i2k_fetch_image(b->f, b->images[i], b->digests[i], &e) < 0) {
			pthread_mutex_lock(&b->mu);
			/* report the earliest failing image for a stable message */
			if (b->err == NULL || i < b->err_index) {
				i2k_error_free(b->err);
				b->err = e;
				b->err_index = i;
				e = NULL;
			}
			pthread_mutex_unlock(&b->mu);
			i2k_error_free(e);
		}
	}
	return NULL;
}

int i2k_fetch_images(struct i2k_fetcher *f, const char *const *images, size_t n,
		     char (*digests)[I2K_DIGEST_LEN + 1], struct i2k_error **err)
{
	/* Cache hits and offline runs stay single-threaded and socket-free;
	 * misses are fetched a few at a time (each pull parallelises its
	 * layers too). Duplicated names are harmless: the store dedups. */
	struct batch b = {.f = f, .images = images, .n = n, .digests = digests};
	pthread_mutex_init(&b.mu, NULL);
	size_t nt = n < FETCH_PARALLEL_IMAGES ? n : FETCH_PARALLEL_IMAGES;
	if (f->o->offline || nt <= 1) {
		batch_worker(&b);
	} else {
		pthread_t t[FETCH_PARALLEL_IMAGES];
		size_t started = 0;
		for (; started < nt; started++)
			if (pthread_create(&t[started], NULL, batch_worker, &b) != 0)
				break;
		if (started == 0)
			batch_worker(&b);
		for (size_t i = 0; i < started; i++)
			pthread_join(t[i], NULL);
	}
	pthread_mutex_destroy(&b.mu);
	if (b.err) {
		i2k_error_propagate(err, &b.err);
		return -1;
	}
	return 0;
}
