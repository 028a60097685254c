/* sbom.c — images and their package databases (contract in sbom.h). */
#include "builder/sbom/sbom.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define APK_DB "lib/apk/db/installed"
#define DPKG_DB "var/lib/dpkg/status"
#define DPKG_DIR "var/lib/dpkg/status.d"

struct i2k_sbom *i2k_sbom_new(void)
{
	return i2k_xcalloc(1, sizeof(struct i2k_sbom));
}

void i2k_sbom_free(struct i2k_sbom *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct i2k_sbom_image *im = &s->images[i];
		free(im->ref);
		free(im->refname);
		free(im->os);
		free(im->arch);
		i2k_pkg_list_clear(&im->pkgs);
	}
	free(s->images);
	free(s);
}

void i2k_sbom_freep(struct i2k_sbom **s)
{
	i2k_sbom_free(*s);
	*s = NULL;
}

typedef void (*parse_fn)(const char *, size_t, struct i2k_pkg_list *);

/* Reads the regular file ino (path for messages) and parses it. */
static int parse_file(struct i2k_fstree *tree, const char *path, const struct i2k_inode *ino,
		      parse_fn parse, struct i2k_pkg_list *out, struct i2k_error **err)
{
	if (ino == NULL || !S_ISREG(ino->mode) || ino->size == 0)
		return 0;
	if (ino->size > I2K_PKGDB_MAX_BYTES)
		return i2k_error_set(err, I2K_ERR_HOSTILE,
				     "%s: %llu bytes, over the SBOM's limit of %u", path,
				     (unsigned long long)ino->size, I2K_PKGDB_MAX_BYTES);
	_cleanup_free_ char *buf = i2k_xmalloc((size_t)ino->size);
	if (i2k_fstree_read(tree, ino, 0, buf, (size_t)ino->size, err) < 0)
		return i2k_error_wrap(err, "%s", path);
	parse(buf, (size_t)ino->size, out);
	return 0;
}

struct dir_scan {
	struct i2k_fstree *tree;
	struct i2k_pkg_list *out;
	struct i2k_error **err;
};

static int status_d_entry(const char *name, struct i2k_inode *ino, void *ctx)
{
	struct dir_scan *d = ctx;
	if (i2k_str_has_suffix(name, ".md5sums"))
		return 0;
	_cleanup_free_ char *path = i2k_xasprintf(DPKG_DIR "/%s", name);
	return parse_file(d->tree, path, ino, i2k_pkgdb_parse_dpkg, d->out, d->err) < 0 ? -1 : 0;
}

int i2k_sbom_scan_tree(struct i2k_fstree *tree, struct i2k_pkg_list *out, struct i2k_error **err)
{
	if (parse_file(tree, APK_DB, i2k_fstree_lookup(tree, APK_DB), i2k_pkgdb_parse_apk, out,
		       err) < 0 ||
	    parse_file(tree, DPKG_DB, i2k_fstree_lookup(tree, DPKG_DB), i2k_pkgdb_parse_dpkg, out,
		       err) < 0)
		return -1;
	struct dir_scan d = {.tree = tree, .out = out, .err = err};
	return i2k_fstree_readdir(tree, DPKG_DIR, status_d_entry, &d) != 0 ? -1 : 0;
}

static void add_image(struct i2k_sbom *s, const struct i2k_sbom_image_info *info, bool scanned,
		      struct i2k_pkg_list *pkgs)
{
	struct i2k_sbom_image im = {.ref = i2k_xstrdup(info->ref),
				    .refname = i2k_xstrdup(info->refname),
				    .os = i2k_xstrdup(info->os),
				    .arch = i2k_xstrdup(info->arch),
				    .scanned = scanned};
	snprintf(im.digest, sizeof(im.digest), "%s", info->digest);
	if (pkgs) {
		im.pkgs = *pkgs;
		*pkgs = (struct i2k_pkg_list){0};
	}
	i2k_xgrow((void **)&s->images, &s->cap, s->n + 1, sizeof(*s->images));
	s->images[s->n++] = im;
}

int i2k_sbom_add_image(struct i2k_sbom *s, const struct i2k_sbom_image_info *info,
		       struct i2k_fstree *tree, struct i2k_error **err)
{
	struct i2k_pkg_list pkgs = {0};
	if (tree && i2k_sbom_scan_tree(tree, &pkgs, err) < 0) {
		i2k_pkg_list_clear(&pkgs);
		return i2k_error_wrap(err, "SBOM of image %s", info->ref);
	}
	add_image(s, info, tree != NULL, &pkgs);
	return 0;
}

void i2k_sbom_add_scanned(struct i2k_sbom *s, const struct i2k_sbom_image_info *info,
			  struct i2k_pkg_list *pkgs)
{
	add_image(s, info, true, pkgs);
}
