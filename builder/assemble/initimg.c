/* initimg.c — i2kit's own init in init: lists (see initimg.h). */
#include "builder/assemble/initimg.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/ref.h"

#ifndef I2K_VERSION
#define I2K_VERSION "dev"
#endif

#define INIT_REPO "i2kit/init"
#define ARCHIVE_NAME "i2kit-init-" I2K_VERSION ".tar"
#define CANONICAL "docker.io/" INIT_REPO ":" I2K_VERSION

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

char *i2k_init_archive_path(struct i2k_error **err)
{
	const char *env = getenv("I2KIT_INIT_ARCHIVE");
	if (env && *env) {
		if (is_file(env))
			return i2k_xstrdup(env);
		i2k_error_set(err, I2K_ERR_NOTFOUND,
			      "i2kit's init: $I2KIT_INIT_ARCHIVE names %s, which is not a file",
			      env);
		return NULL;
	}
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		i2k_error_errno(err, errno, I2K_ERR_NOTFOUND,
				"i2kit's init: cannot find the program's directory");
		return NULL;
	}
	exe[n] = '\0';
	const char *dir = dirname(exe);
	char *share = i2k_xasprintf("%s/../share/i2kit/" ARCHIVE_NAME, dir);
	if (is_file(share))
		return share;
	char *tree = i2k_xasprintf("%s/build/init/" ARCHIVE_NAME, dir);
	if (is_file(tree)) {
		free(share);
		return tree;
	}
	i2k_error_set(err, I2K_ERR_NOTFOUND,
		      "i2kit's init (" INIT_REPO ":" I2K_VERSION ") is not installed: no %s or %s "
		      "(reinstall with `make install`, or set $I2KIT_INIT_ARCHIVE)",
		      share, tree);
	free(share);
	free(tree);
	return NULL;
}

void i2k_init_list_free(struct i2k_init_entry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].image);
	free(v);
}

enum kind { OTHER, OWN, LINUXKIT };

static int classify(const struct i2k_init_entry *e, enum kind *k, struct i2k_error **err)
{
	struct i2k_ref r;
	*k = OTHER;
	if (i2k_ref_parse(e->image, &r, err) < 0) {
		char pb[512];
		return i2k_error_wrap(err, "%sinit", i2k_pos_prefix(&e->pos, pb, sizeof(pb)));
	}
	int rc = 0;
	if (strcmp(r.registry, "docker.io") == 0) {
		if (strcmp(r.repository, INIT_REPO) == 0) {
			*k = OWN;
			bool tag_ok = r.tag == NULL || strcmp(r.tag, I2K_VERSION) == 0 ||
				      strcmp(r.tag, "v" I2K_VERSION) == 0 ||
				      strcmp(r.tag, "latest") == 0;
			if (!tag_ok || r.digest) {
				char pb[512];
				rc = i2k_error_set(err, I2K_ERR_CONFIG,
						   "%sinit: %s: this i2kit ships its own init as "
						   "i2kit/init:" I2K_VERSION
						   " (write that, or i2kit/init without a tag)",
						   i2k_pos_prefix(&e->pos, pb, sizeof(pb)),
						   e->image);
			}
		} else if (strcmp(r.repository, "linuxkit/init") == 0 ||
			   strcmp(r.repository, "linuxkit/runc") == 0 ||
			   strcmp(r.repository, "linuxkit/containerd") == 0) {
			*k = LINUXKIT;
		}
	}
	i2k_ref_clear(&r);
	return rc;
}

const char *i2k_init_own_ref_prefix(void)
{
	return CANONICAL "@";
}

/* Imports the bundled archive and returns "docker.io/i2kit/init:V@DIGEST". */
static char *own_init(struct i2k_store *store, const struct i2k_init_opts *opts,
		      struct i2k_error **err)
{
	_cleanup_free_ char *found = opts->archive ? NULL : i2k_init_archive_path(err);
	const char *archive = opts->archive ? opts->archive : found;
	if (archive == NULL)
		return NULL;
	char **names = NULL;
	size_t n = 0;
	if (i2k_store_import(store, archive, &names, &n, err) < 0) {
		i2k_error_wrap(err, "i2kit's init (%s)", archive);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	struct i2k_store_ref ref = {0};
	int got = i2k_store_ref_get(store, CANONICAL, &ref, err);
	if (got <= 0) {
		if (got == 0)
			i2k_error_set(err, I2K_ERR_INTEGRITY, "i2kit's init: %s does not hold %s",
				      archive, CANONICAL);
		return NULL;
	}
	/* the pinned name is what the fetcher looks up (and never re-resolves) */
	char *pinned = i2k_xasprintf(CANONICAL "@%s", ref.desc.digest);
	int r = i2k_store_ref_set(store, pinned, &ref.desc, err);
	i2k_store_ref_clear(&ref);
	if (r < 0) {
		free(pinned);
		return NULL;
	}
	return pinned;
}

int i2k_init_resolve(const struct i2k_config *cfg, struct i2k_store *store,
		     const struct i2k_init_opts *opts, struct i2k_init_entry **out, size_t *n,
		     struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	struct i2k_init_entry *v = i2k_xcalloc(cfg->n_init + 1, sizeof(*v));
	size_t nv = 0;
	bool own_used = false;
	struct i2k_buf replaced = {.max = 0};
	_cleanup_free_ char *pinned = NULL;
	for (size_t i = 0; i < cfg->n_init; i++) {
		const struct i2k_init_entry *e = &cfg->init[i];
		enum kind k;
		if (classify(e, &k, err) < 0)
			goto fail;
		if (k == LINUXKIT && opts->keep_init)
			k = OTHER;
		if (k == LINUXKIT) {
			i2k_buf_append(&replaced, replaced.len ? ", " : "", replaced.len ? 2 : 0,
				       NULL);
			i2k_buf_append(&replaced, e->image, strlen(e->image), NULL);
		}
		if (k == OTHER) {
			v[nv++] =
			    (struct i2k_init_entry){.image = i2k_xstrdup(e->image), .pos = e->pos};
			continue;
		}
		if (own_used)
			continue; /* once is enough */
		if (pinned == NULL && (pinned = own_init(store, opts, err)) == NULL)
			goto fail;
		v[nv++] = (struct i2k_init_entry){.image = i2k_xstrdup(pinned), .pos = e->pos};
		own_used = true;
	}
	if (cfg->n_init == 0 && cfg->kernel.image) {
		if ((pinned = own_init(store, opts, err)) == NULL)
			goto fail;
		v[nv++] =
		    (struct i2k_init_entry){.image = i2k_xstrdup(pinned), .pos = cfg->kernel.pos};
	}
	if (replaced.len)
		i2k_warn("init: %s replaced by i2kit's own init (i2kit/init:" I2K_VERSION
			 "), which does their work; --keep-init keeps them",
			 replaced.data);
	i2k_buf_free(&replaced);
	*out = v;
	*n = nv;
	return 0;
fail:
	i2k_buf_free(&replaced);
	i2k_init_list_free(v, nv);
	return -1;
}
