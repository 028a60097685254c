/* assemble.c — i2k_assemble_root: fetch every image, then lay out the root as
 * `linuxkit build` does (see assemble.h for the layout). */
#include "builder/assemble/assemble.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/assemble/dedupe.h"
#include "builder/assemble/files.h"
#include "builder/assemble/initimg.h"
#include "builder/bundle/bundle.h"
#include "builder/image/image.h"
#include "builder/image/layercache.h"
#include "builder/registry/ref.h"

/* Init images see /etc/resolv.conf as a link into /run, which is writable
 * at run time (LinuxKit's resolvconfSymlink). */
#define INIT_RESOLV_LINK "/run/resolvconf/resolv.conf"

/* One fetched image: loaded once, flattened at most once, stored in the
 * root at most once (dup_root remembers where). */
struct image_slot {
	char *image;   /* as written in the YAML */
	char *refname; /* canonical reference (dedup key, as LinuxKit's ref.String()) */
	char digest[I2K_DIGEST_LEN + 1];
	struct i2k_image *img;
	struct i2k_fstree *tree;
	char *dup_root; /* "containers/services/web/rootfs" once placed */
	/* Entries that still need tree (the kernel's and an oci volume's use is
	 * never done): the last one moves the tree into the root instead of
	 * copying it, and the tree is freed (see place_tree). */
	size_t uses;
	bool scanned;		  /* pkgs holds tree's SBOM packages, scanned before */
	struct i2k_pkg_list pkgs; /* it was moved or freed */
};

struct assembly {
	const struct i2k_config *cfg;
	const struct i2k_assemble_opts *opts;
	struct i2k_fstree *root;
	struct image_slot *slots;
	size_t n_slots;
	struct i2k_idmap *ids;
	int64_t epoch;
	uint64_t max_root;	      /* expansion limit */
	uint64_t expanded;	      /* bytes unpacked so far (every image + kernel.tar) */
	struct i2k_init_entry *inits; /* the init: list as built (initimg.h) */
	size_t n_inits;
	char **image_roots; /* where container and volume images were placed (dedupe.h) */
	size_t n_image_roots;
};

static struct i2k_fattr dir_attr(int64_t epoch, uint32_t perm)
{
	return (struct i2k_fattr){.mode = S_IFDIR | perm, .mtime = epoch};
}

/* Writes bytes as a regular file (parents created 0755). */
static int put_bytes(struct assembly *a, const char *path, const void *data, size_t len,
		     uint32_t perm, uint32_t uid, uint32_t gid, struct i2k_error **err)
{
	uint64_t off = 0;
	if (len && i2k_spool_append(a->opts->spool, data, len, &off, err) < 0)
		return -1;
	struct i2k_fattr at = {.mode = S_IFREG | perm, .uid = uid, .gid = gid, .mtime = a->epoch};
	return i2k_fstree_add(a->root, path, &at, NULL, off, len,
			      I2K_FSTREE_REPLACE | I2K_FSTREE_MKPARENTS, NULL, err);
}

/* LinuxKit's tarPrefix: every component of prefix as a 0755 directory. */
static int prefix_dirs(struct assembly *a, const char *prefix, struct i2k_error **err)
{
	_cleanup_free_ char *p = i2k_xstrdup(prefix);
	struct i2k_fattr at = dir_attr(a->epoch, 0755);
	for (char *s = p;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (i2k_fstree_add(a->root, p, &at, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL,
					   err) < 0)
				return -1;
			if (c == '\0')
				break;
			*s = c;
		}
	}
	return 0;
}

static struct image_slot *slot_for(struct assembly *a, const char *image)
{
	for (size_t i = 0; i < a->n_slots; i++)
		if (strcmp(a->slots[i].image, image) == 0)
			return &a->slots[i];
	return NULL;
}

static void add_slot(struct assembly *a, const char *image)
{
	if (image == NULL)
		return;
	struct image_slot *s = slot_for(a, image);
	if (s) {
		s->uses++;
		return;
	}
	a->slots = i2k_xrealloc(a->slots, (a->n_slots + 1) * sizeof(*a->slots));
	a->slots[a->n_slots++] = (struct image_slot){.image = i2k_xstrdup(image), .uses = 1};
}

/* Fetches every distinct image (in parallel where the fetcher can) and
 * loads its manifest and config. */
static int fetch_all(struct assembly *a, struct i2k_error **err)
{
	const struct i2k_config *c = a->cfg;
	add_slot(a, c->kernel.image);
	for (size_t i = 0; i < a->n_inits; i++)
		add_slot(a, a->inits[i].image);
	for (size_t i = 0; i < c->n_onboot; i++)
		add_slot(a, c->onboot[i].image);
	for (size_t i = 0; i < c->n_onshutdown; i++)
		add_slot(a, c->onshutdown[i].image);
	for (size_t i = 0; i < c->n_services; i++)
		add_slot(a, c->services[i].image);
	for (size_t i = 0; i < c->n_volumes; i++)
		add_slot(a, c->volumes[i].image);
	if (a->n_slots == 0)
		return 0;

	const char **images = i2k_xcalloc(a->n_slots, sizeof(*images));
	char(*digests)[I2K_DIGEST_LEN + 1] = i2k_xcalloc(a->n_slots, sizeof(*digests));
	for (size_t i = 0; i < a->n_slots; i++)
		images[i] = a->slots[i].image;
	int r = i2k_fetch_images(a->opts->fetcher, images, a->n_slots, digests, err);
	for (size_t i = 0; r == 0 && i < a->n_slots; i++) {
		struct image_slot *s = &a->slots[i];
		memcpy(s->digest, digests[i], sizeof(s->digest));
		struct i2k_ref ref;
		if (i2k_ref_parse(s->image, &ref, err) < 0) {
			r = -1;
			break;
		}
		s->refname = i2k_ref_string(&ref);
		i2k_ref_clear(&ref);
		if (i2k_image_load(a->opts->store, s->digest, &s->img, err) < 0) {
			r = i2k_error_wrap(err, "image %s", s->image);
			break;
		}
	}
	free(images);
	free(digests);
	return r;
}

/* The flattened tree of an image (flattened on first use). */
static int slot_tree(struct assembly *a, struct image_slot *s, struct i2k_fstree **out,
		     struct i2k_error **err)
{
	if (s->tree == NULL) {
		struct i2k_fstree *t = i2k_fstree_new(a->opts->spool);
		struct i2k_meter m;
		i2k_meter_begin(&m, &a->opts->progress, I2K_STAGE_UNPACK, s->image, NULL, 0);
		struct i2k_flatten_opts fo = {
		    .max_size = a->max_root, .used = &a->expanded, .meter = &m};
		if (i2k_image_flatten(s->img, a->opts->store, t, &fo, err) < 0) {
			i2k_fstree_free(t);
			return i2k_error_wrap(err, "image %s", s->image);
		}
		i2k_meter_end(&m);
		s->tree = t;
	}
	*out = s->tree;
	return 0;
}

/* With an SBOM, the packages of the slot's tree are read now, before the
 * tree goes: false when that failed (the tree is then kept, and add_sbom
 * reads it again and reports the error where it always did). */
static bool sbom_scanned(struct assembly *a, struct image_slot *s)
{
	if (a->opts->sbom == NULL || s->scanned)
		return true;
	struct i2k_error *e = NULL;
	if (i2k_sbom_scan_tree(s->tree, &s->pkgs, &e) < 0) {
		i2k_error_free(e);
		i2k_pkg_list_clear(&s->pkgs);
		return false;
	}
	s->scanned = true;
	return true;
}

/* Grafts the slot's tree at path in the root. For the image's last entry
 * its entries move there instead: the root and the image's tree are never
 * both in memory. */
static int place_tree(struct assembly *a, struct image_slot *s, const char *path,
		      struct i2k_error **err)
{
	if (s->uses == 1 && sbom_scanned(a, s))
		return i2k_fstree_graft_take(a->root, path, s->tree, err);
	return i2k_fstree_graft(a->root, path, s->tree, err);
}

/* Remembers where an image tree went: i2k_dedupe_images() looks there. */
static void note_image_root(struct assembly *a, const char *path)
{
	a->image_roots = i2k_xrealloc(a->image_roots, (a->n_image_roots + 1) * sizeof(char *));
	a->image_roots[a->n_image_roots++] = i2k_xstrdup(path);
}

/* One entry of the slot is placed; after its last the tree is freed. */
static void slot_done(struct assembly *a, struct image_slot *s)
{
	if (s->uses > 0 && --s->uses == 0 && s->tree && sbom_scanned(a, s))
		i2k_fstree_freep(&s->tree);
}

/* LinuxKit's kernel filter: the kernel binary becomes boot/kernel, the
 * command line boot/cmdline, ucode boot/ucode.cpio; kernel.tar is
 * unpacked at the root; everything else in the kernel image is dropped. */
static int add_kernel(struct assembly *a, struct i2k_error **err)
{
	const struct i2k_kernel_cfg *k = &a->cfg->kernel;
	char pb[512];
	struct image_slot *s = slot_for(a, k->image);
	struct i2k_fstree *kt;
	if (slot_tree(a, s, &kt, err) < 0)
		return i2k_error_wrap(err, "%skernel", i2k_pos_prefix(&k->pos, pb, sizeof(pb)));
	const char *binary = k->binary ? k->binary : "kernel";
	const char *tarname = k->tar ? k->tar : "kernel.tar";
	if (strcmp(tarname, "none") == 0)
		tarname = NULL;

	struct i2k_inode *kin = i2k_fstree_lookup(kt, binary);
	if (kin == NULL || !S_ISREG(kin->mode))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%skernel: image %s has no kernel file \"%s\"",
				     i2k_pos_prefix(&k->pos, pb, sizeof(pb)), k->image, binary);
	struct i2k_fattr boot = dir_attr(a->epoch, 0755);
	if (i2k_fstree_add(a->root, "boot", &boot, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL, err) < 0)
		return -1;
	const char *cmdline = k->cmdline ? k->cmdline : "";
	if (put_bytes(a, "boot/cmdline", cmdline, strlen(cmdline), 0644, 0, 0, err) < 0)
		return -1;
	struct i2k_fattr kat = {.mode = S_IFREG | (kin->mode & 07777), .mtime = a->epoch};
	if (i2k_fstree_add(a->root, "boot/kernel", &kat, NULL, kin->data_off, kin->size,
			   I2K_FSTREE_REPLACE, NULL, err) < 0)
		return -1;

	if (k->ucode) {
		struct i2k_inode *u = i2k_fstree_lookup(kt, k->ucode);
		if (u == NULL || !S_ISREG(u->mode))
			return i2k_error_set(
			    err, I2K_ERR_CONFIG, "%skernel: image %s has no ucode file \"%s\"",
			    i2k_pos_prefix(&k->pos, pb, sizeof(pb)), k->image, k->ucode);
		struct i2k_fattr uat = {.mode = S_IFREG | (u->mode & 07777), .mtime = a->epoch};
		if (i2k_fstree_add(a->root, "boot/ucode.cpio", &uat, NULL, u->data_off, u->size,
				   I2K_FSTREE_REPLACE, NULL, err) < 0)
			return -1;
	}
	if (tarname) {
		struct i2k_inode *t = i2k_fstree_lookup(kt, tarname);
		if (t == NULL || !S_ISREG(t->mode))
			return i2k_error_set(
			    err, I2K_ERR_CONFIG, "%skernel: image %s has no kernel tar \"%s\"",
			    i2k_pos_prefix(&k->pos, pb, sizeof(pb)), k->image, tarname);
		struct i2k_meter m; /* total: the tar's size, near enough */
		i2k_meter_begin(&m, &a->opts->progress, I2K_STAGE_UNPACK, tarname, NULL, t->size);
		struct i2k_flatten_opts fo = {
		    .max_size = a->max_root, .used = &a->expanded, .meter = &m};
		/* kept unpacked in the cache: an unchanged kernel is not unpacked again */
		char key[65];
		i2k_layercache_key(s->digest, tarname, key);
		bool hit = false;
		int r = i2k_layercache_replay(a->opts->store, key, a->root, &fo, &hit, err);
		if (r == 0 && !hit) {
			/* a miss reads the tar where it lies in the spool */
			uint64_t at = 0;
			int fd = t->size ? i2k_spool_fd_at(a->opts->spool, t->data_off, &at) : -1;
			r = t->size && fd < 0
				? i2k_error_set(err, I2K_ERR_INTERNAL, "not in the spool")
				: i2k_layercache_apply(a->opts->store, key, s->digest, fd, at,
						       t->size, NULL, a->root, &fo, err);
		}
		if (r < 0)
			return i2k_error_wrap(err, "%skernel: %s in %s",
					      i2k_pos_prefix(&k->pos, pb, sizeof(pb)), tarname,
					      k->image);
		i2k_meter_end(&m);
	}
	return 0;
}

/* An image as LinuxKit's ImageTar lays out init and volume images: its
 * flattened tree after the fix-ups, /etc/resolv.conf a link into /run. */
static int init_like_tree(struct assembly *a, const char *image, struct i2k_fstree **out,
			  struct i2k_error **err)
{
	struct image_slot *s = slot_for(a, image);
	struct i2k_fstree *t;
	if (slot_tree(a, s, &t, err) < 0 || i2k_bundle_fixup_rootfs(t, err) < 0)
		return -1;
	struct i2k_fattr ln = {.mode = S_IFLNK | 0777, .mtime = a->epoch};
	if (i2k_fstree_add(t, "etc/resolv.conf", &ln, INIT_RESOLV_LINK, 0, 0,
			   I2K_FSTREE_REPLACE | I2K_FSTREE_MKPARENTS, NULL, err) < 0)
		return -1;
	*out = t;
	return 0;
}

/* Init images are flattened at the root, after LinuxKit's fix-ups. */
static int add_init(struct assembly *a, struct i2k_error **err)
{
	char pb[512];
	for (size_t i = 0; i < a->n_inits; i++) {
		const struct i2k_init_entry *e = &a->inits[i];
		struct i2k_fstree *t;
		struct image_slot *s = slot_for(a, e->image);
		if (init_like_tree(a, e->image, &t, err) < 0 || place_tree(a, s, "", err) < 0)
			return i2k_error_wrap(err, "%sinit[%zu]",
					      i2k_pos_prefix(&e->pos, pb, sizeof(pb)), i);
		slot_done(a, s);
	}
	return 0;
}

/* Adds a blob of the store as a 0644 file. */
static int put_blob(struct assembly *a, const char *path, const char *digest,
		    struct i2k_error **err)
{
	_cleanup_close_ int fd = -1;
	uint64_t size = 0, off = 0, got = 0;
	if (i2k_store_open_blob(a->opts->store, digest, &fd, &size, err) < 0 ||
	    i2k_spool_append_fd(a->opts->spool, fd, &off, &got, err) < 0)
		return -1;
	struct i2k_fattr at = {.mode = S_IFREG | 0644, .mtime = a->epoch};
	return i2k_fstree_add(a->root, path, &at, NULL, off, got,
			      I2K_FSTREE_REPLACE | I2K_FSTREE_MKPARENTS, NULL, err);
}

static const char *blob_hex(const char *digest)
{
	const char *colon = strchr(digest, ':');
	return colon ? colon + 1 : digest;
}

/* format: oci — the image as an OCI image layout (oci-layout, index.json
 * naming the manifest by its reference, blobs/sha256/...) under dir. Only
 * the platform that was fetched is in it. */
static int put_oci_layout(struct assembly *a, const char *dir, struct image_slot *s,
			  struct i2k_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	_cleanup_free_ char *lp = i2k_xasprintf("%s/oci-layout", dir);
	if (put_bytes(a, lp, layout, sizeof(layout) - 1, 0644, 0, 0, err) < 0)
		return -1;
	_cleanup_close_ int mfd = -1;
	uint64_t msize = 0;
	if (i2k_store_open_blob(a->opts->store, s->digest, &mfd, &msize, err) < 0)
		return -1;
	const char *mt = s->img->manifest_media_type ? s->img->manifest_media_type
						     : "application/vnd.oci.image.manifest.v1+json";
	json_t *index =
	    json_pack("{s:i, s:[{s:s, s:s, s:I, s:{s:s}}]}", "schemaVersion", 2, "manifests",
		      "mediaType", mt, "digest", s->digest, "size", (json_int_t)msize,
		      "annotations", "org.opencontainers.image.ref.name", s->refname);
	_cleanup_free_ char *ij = json_dumps(index, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(index);
	_cleanup_free_ char *ip = i2k_xasprintf("%s/index.json", dir);
	if (ij == NULL)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "%s: cannot serialise", ip);
	if (put_bytes(a, ip, ij, strlen(ij), 0644, 0, 0, err) < 0)
		return -1;
	_cleanup_free_ char *bsd = i2k_xasprintf("%s/blobs/sha256", dir);
	if (prefix_dirs(a, bsd, err) < 0)
		return -1;
	for (size_t i = 0; i < 2 + s->img->n_layers; i++) {
		const char *dg = i == 0	  ? s->digest
				 : i == 1 ? s->img->config_digest
					  : s->img->layers[i - 2].digest;
		_cleanup_free_ char *bp = i2k_xasprintf("%s/%s", bsd, blob_hex(dg));
		if (put_blob(a, bp, dg, err) < 0)
			return -1;
	}
	return 0;
}

/* volumes: as LinuxKit lays them out, containers/volumes/NAME/
 *   lower/   empty (no image), the image's tree (format filesystem, the
 *            default), or its OCI image layout (format oci)
 *   tmp/     only for read-write volumes: the guest init mounts a tmpfs
 *            there for the overlay's upper and work directories
 *   merged/  where the guest init mounts the volume (overlay of lower, or a
 *            read-only bind of lower) and where binds point (bundle/volumes.h)
 */
static int add_volumes(struct assembly *a, struct i2k_error **err)
{
	char pb[512];
	struct i2k_fattr d = dir_attr(a->epoch, 0755);
	for (size_t i = 0; i < a->cfg->n_volumes; i++) {
		const struct i2k_volume_entry *v = &a->cfg->volumes[i];
		_cleanup_free_ char *base = i2k_xasprintf("containers/volumes/%s", v->name);
		_cleanup_free_ char *lower = i2k_xasprintf("%s/lower", base);
		_cleanup_free_ char *tmp = i2k_xasprintf("%s/tmp", base);
		_cleanup_free_ char *merged = i2k_xasprintf("%s/merged", base);
		bool oci = v->format && strcmp(v->format, "oci") == 0;
		int r = prefix_dirs(a, lower, err);
		if (r == 0 && v->image && oci) {
			r = put_oci_layout(a, lower, slot_for(a, v->image), err);
		} else if (r == 0 && v->image) {
			struct i2k_fstree *t;
			struct image_slot *s = slot_for(a, v->image);
			r = init_like_tree(a, v->image, &t, err);
			if (r == 0)
				r = place_tree(a, s, lower, err);
			if (r == 0) {
				note_image_root(a, lower);
				slot_done(a, s);
			}
		}
		if (r == 0 && !v->readonly)
			r = i2k_fstree_add(a->root, tmp, &d, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL,
					   err);
		if (r == 0)
			r = i2k_fstree_add(a->root, merged, &d, NULL, 0, 0, I2K_FSTREE_REPLACE,
					   NULL, err);
		if (r < 0)
			return i2k_error_wrap(err, "%svolumes[%s]",
					      i2k_pos_prefix(&v->pos, pb, sizeof(pb)), v->name);
	}
	return 0;
}

static json_t *mount_json(const char *dst, const char *type, const char *src, json_t *options)
{
	json_t *m = json_object();
	json_object_set_new(m, "destination", json_string(dst));
	if (type)
		json_object_set_new(m, "type", json_string(type));
	if (src)
		json_object_set_new(m, "source", json_string(src));
	if (options)
		json_object_set_new(m, "options", options);
	return m;
}

/* runtime.json with the rootfs mounts LinuxKit prepends: a bind of the
 * image root (its own or the first copy's) for read-only images, or a
 * tmpfs + overlay for writable ones. */
static int runtime_with_rootfs(const char *runtime_json, const char *prefix, const char *root,
			       bool readonly, char **out, struct i2k_error **err)
{
	json_error_t je;
	json_t *rt = json_loads(runtime_json ? runtime_json : "{}", JSON_PRESERVE_ORDER, &je);
	if (rt == NULL || !json_is_object(rt)) {
		json_decref(rt);
		return i2k_error_set(err, I2K_ERR_INTERNAL, "bundle runtime.json: %s", je.text);
	}
	json_t *mounts = json_array();
	_cleanup_free_ char *rootfs = i2k_xasprintf("/%s/rootfs", prefix);
	if (readonly) {
		_cleanup_free_ char *src = i2k_xasprintf("/%s", root);
		json_array_append_new(mounts,
				      mount_json(rootfs, NULL, src, json_pack("[s]", "bind")));
	} else {
		_cleanup_free_ char *tmp = i2k_xasprintf("/%s/tmp", prefix);
		_cleanup_free_ char *lower = i2k_xasprintf("lowerdir=/%s", root);
		_cleanup_free_ char *upper = i2k_xasprintf("upperdir=/%s/tmp/upper", prefix);
		_cleanup_free_ char *work = i2k_xasprintf("workdir=/%s/tmp/work", prefix);
		json_array_append_new(mounts, mount_json(tmp, "tmpfs", "tmpfs", NULL));
		json_array_append_new(
		    mounts, mount_json(tmp, NULL, NULL, json_pack("[ss]", "remount", "private")));
		json_array_append_new(mounts, mount_json(rootfs, "overlay", "overlay",
							 json_pack("[sss]", lower, upper, work)));
	}
	json_t *user = json_object_get(rt, "mounts");
	if (json_is_array(user))
		json_array_extend(mounts, user);
	json_object_set_new(rt, "mounts", mounts);
	*out = json_dumps(rt, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(rt);
	return 0;
}

static const char *const section_names[] = {"onboot", "onshutdown", "services"};

/* Places one container: its image (once per image), config.json,
 * runtime.json and the rootfs mount points. */
static int place_bundle(struct assembly *a, enum i2k_bundle_kind kind, const char *prefix,
			const struct i2k_image_entry *e, struct i2k_error **err)
{
	struct image_slot *s = slot_for(a, e->image);
	struct i2k_fstree *t;
	if (slot_tree(a, s, &t, err) < 0)
		return -1;
	struct i2k_bundle_input in = {.kind = kind,
				      .entry = e,
				      .image_cfg = &s->img->config,
				      .rootfs = t,
				      .ids = a->ids,
				      .volumes = a->cfg->volumes,
				      .n_volumes = a->cfg->n_volumes};
	struct i2k_bundle b = {0};
	if (i2k_bundle_make(&in, &b, err) < 0)
		return -1;

	_cleanup_free_ char *cfgpath = i2k_xasprintf("%s/config.json", prefix);
	_cleanup_free_ char *tmpdir = i2k_xasprintf("%s/tmp", prefix);
	_cleanup_free_ char *rootfsdir = i2k_xasprintf("%s/rootfs", prefix);
	_cleanup_free_ char *rtpath = i2k_xasprintf("%s/runtime.json", prefix);
	_cleanup_free_ char *runtime = NULL;
	struct i2k_fattr d = dir_attr(a->epoch, 0755);
	int r = prefix_dirs(a, prefix, err);
	const char *root = s->dup_root;
	bool dup = root != NULL;
	if (r == 0 && !dup) {
		/* First use of this image: fix it up and store it. */
		s->dup_root = i2k_xasprintf("%s/%s", prefix, b.readonly ? "rootfs" : "lower");
		root = s->dup_root;
		r = i2k_bundle_fixup_rootfs(t, err);
		if (r == 0)
			r = place_tree(a, s, root, err);
		if (r == 0)
			note_image_root(a, root);
	}
	if (r == 0)
		r = put_bytes(a, cfgpath, b.config_json, strlen(b.config_json), 0644, 0, 0, err);
	if (r == 0 && !b.readonly)
		r = i2k_fstree_add(a->root, tmpdir, &d, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL, err);
	if (r == 0 && (!b.readonly || dup))
		r = i2k_fstree_add(a->root, rootfsdir, &d, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL,
				   err);
	if (r == 0)
		r = runtime_with_rootfs(b.runtime_json, prefix, root, b.readonly, &runtime, err);
	if (r == 0)
		r = put_bytes(a, rtpath, runtime, strlen(runtime), 0644, 0, 0, err);
	i2k_bundle_clear(&b);
	if (r == 0)
		slot_done(a, s);
	return r;
}

static int add_bundle(struct assembly *a, enum i2k_bundle_kind kind, size_t idx,
		      const struct i2k_image_entry *e, struct i2k_error **err)
{
	const char *section = section_names[kind];
	char pb[512];
	_cleanup_free_ char *prefix =
	    kind == I2K_BUNDLE_SERVICE
		? i2k_xasprintf("containers/%s/%s", section, e->name)
		: i2k_xasprintf("containers/%s/%03zu-%s", section, idx, e->name);
	if (place_bundle(a, kind, prefix, e, err) == 0)
		return 0;
	/* Messages that already start with this entry's position get only the
	 * section name. */
	i2k_pos_prefix(&e->pos, pb, sizeof(pb));
	if (pb[0] && err && *err && (*err)->msg && strncmp((*err)->msg, pb, strlen(pb)) == 0)
		return -1;
	return i2k_error_wrap(err, "%s%s[%s]", pb, section, e->name);
}

/* With a kernel, something must be at /init: the kernel runs it from the
 * initramfs (and i2kit's first stage from a disk root); without it the
 * boot ends in "VFS: Unable to mount root fs". */
static int check_init(struct assembly *a, struct i2k_error **err)
{
	const struct i2k_config *c = a->cfg;
	struct i2k_inode *ino = i2k_fstree_lookup(a->root, "init");
	if (c->kernel.image == NULL || (ino && !S_ISDIR(ino->mode)))
		return 0;
	struct i2k_buf names = {.max = 0};
	for (size_t i = 0; i < a->n_inits; i++) {
		if (i)
			i2k_buf_append(&names, ", ", 2, NULL);
		i2k_buf_append(&names, a->inits[i].image, strlen(a->inits[i].image), NULL);
	}
	char pb[512];
	const struct i2k_pos *pos = a->n_inits ? &a->inits[0].pos : &c->kernel.pos;
	i2k_error_set(err, I2K_ERR_CONFIG,
		      "%sinit: no image of the init list (%s) provides /init, so the kernel would "
		      "find no init to run (\"VFS: Unable to mount root fs\"); use i2kit/init, "
		      "i2kit's own init",
		      i2k_pos_prefix(pos, pb, sizeof(pb)), names.data ? names.data : "empty");
	i2k_buf_free(&names);
	return -1;
}

/* Every image with its digest and, when it was flattened, the packages of
 * its final tree (builder/sbom reads the databases from the spool). */
static int add_sbom(struct assembly *a, struct i2k_error **err)
{
	for (size_t i = 0; a->opts->sbom && i < a->n_slots; i++) {
		struct image_slot *s = &a->slots[i];
		struct i2k_sbom_image_info info = {.ref = s->image,
						   .refname = s->refname,
						   .digest = s->digest,
						   .os = s->img->config.os,
						   .arch = s->img->config.architecture};
		if (s->scanned)
			i2k_sbom_add_scanned(a->opts->sbom, &info, &s->pkgs);
		else if (i2k_sbom_add_image(a->opts->sbom, &info, s->tree, err) < 0)
			return -1;
	}
	return 0;
}

static void assembly_clear(struct assembly *a)
{
	for (size_t i = 0; i < a->n_slots; i++) {
		free(a->slots[i].image);
		free(a->slots[i].refname);
		free(a->slots[i].dup_root);
		i2k_image_free(a->slots[i].img);
		i2k_fstree_free(a->slots[i].tree);
		i2k_pkg_list_clear(&a->slots[i].pkgs);
	}
	free(a->slots);
	i2k_idmap_free(a->ids);
	i2k_init_list_free(a->inits, a->n_inits);
	for (size_t i = 0; i < a->n_image_roots; i++)
		free(a->image_roots[i]);
	free(a->image_roots);
}

int i2k_assemble_root(const struct i2k_config *cfg, const struct i2k_assemble_opts *opts,
		      struct i2k_fstree **out, struct i2k_error **err)
{
	if (cfg->kernel.image == NULL && cfg->n_init == 0 && cfg->n_onboot == 0 &&
	    cfg->n_onshutdown == 0 && cfg->n_services == 0 && cfg->n_files == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s%snothing to build: no kernel, init, onboot, onshutdown, "
				     "services or files",
				     cfg->n_files_read ? cfg->files_read[0] : "",
				     cfg->n_files_read ? ": " : "");
	struct assembly a = {.cfg = cfg, .opts = opts, .epoch = i2k_source_date_epoch()};
	a.max_root = opts->max_root_size ? opts->max_root_size : I2K_ASSEMBLE_MAX_ROOT_DEFAULT;
	a.ids = i2k_idmap_new();
	i2k_idmap_add_config(a.ids, cfg);
	struct i2k_init_opts io = {.keep_init = opts->keep_init, .archive = opts->init_archive};
	int r = i2k_init_resolve(cfg, opts->store, &io, &a.inits, &a.n_inits, err);
	if (r == 0)
		r = fetch_all(&a, err);
	if (r == 0)
		a.root = i2k_fstree_new(opts->spool);
	if (r == 0 && cfg->kernel.image)
		r = add_kernel(&a, err);
	if (r == 0)
		r = add_init(&a, err);
	if (r == 0)
		r = add_volumes(&a, err);
	for (size_t i = 0; r == 0 && i < cfg->n_onboot; i++)
		r = add_bundle(&a, I2K_BUNDLE_ONBOOT, i, &cfg->onboot[i], err);
	for (size_t i = 0; r == 0 && i < cfg->n_onshutdown; i++)
		r = add_bundle(&a, I2K_BUNDLE_ONSHUTDOWN, i, &cfg->onshutdown[i], err);
	for (size_t i = 0; r == 0 && i < cfg->n_services; i++)
		r = add_bundle(&a, I2K_BUNDLE_SERVICE, i, &cfg->services[i], err);
	if (r == 0)
		r = i2k_build_files(cfg, a.root, opts->spool, a.ids, opts->home, err);
	if (r == 0)
		r = i2k_dedupe_images(a.root, (const char *const *)a.image_roots, a.n_image_roots,
				      NULL, err);
	if (r == 0)
		r = check_init(&a, err);
	if (r == 0)
		r = add_sbom(&a, err);
	if (r == 0)
		r = i2k_check_interrupt(err);
	if (r == 0) {
		*out = I2K_STEAL(a.root);
	} else {
		i2k_fstree_free(a.root);
	}
	assembly_clear(&a);
	return r;
}
