/* image.h — an OCI image in the store, and flattening its layers.
 *
 * i2k_image_load reads an image manifest (OCI or Docker v2 schema 2) and its
 * config from the store; i2k_image_flatten applies the layers in order to an
 * fstree: gzip, zstd and uncompressed tar layers; OCI whiteouts (.wh.NAME
 * deletes NAME, .wh..wh..opq empties the directory — LinuxKit ignores opaque
 * whiteouts, we don't); hard links, symlinks, devices, fifos, xattrs (PAX
 * SCHILY.xattr.*, security.capability kept), PAX long names, files > 4 GiB.
 * File data streams into the tree's spool: memory does not grow with layer
 * size. Entries that would escape the root ("..", writing through a symlink,
 * hard links to outside) make the layer fail with I2K_ERR_HOSTILE naming the
 * entry; a leading "/" or "./" in entry names is stripped, as tar does.
 */
#ifndef I2K_BUILDER_IMAGE_IMAGE_H
#define I2K_BUILDER_IMAGE_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/progress.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "builder/store/store.h"

/* The parts of the OCI image config ("config" object) that matter to us. */
struct i2k_image_config {
	char **env;
	size_t n_env;
	char **entrypoint;
	size_t n_entrypoint;
	bool entrypoint_set;
	char **cmd;
	size_t n_cmd;
	bool cmd_set;
	char *working_dir;		   /* NULL if unset */
	char *user;			   /* NULL if unset ("uid[:gid]" or names) */
	json_t *labels;			   /* object or NULL; owned */
	char *os, *architecture, *variant; /* from the top level */
};

struct i2k_layer {
	char digest[I2K_DIGEST_LEN + 1];
	char *media_type;
	int64_t size;
};

struct i2k_image {
	char manifest_digest[I2K_DIGEST_LEN + 1];
	char config_digest[I2K_DIGEST_LEN + 1];
	char *manifest_media_type;
	struct i2k_layer *layers;
	size_t n_layers;
	struct i2k_image_config config;
};

/* Reads and validates manifest + config from the store (both must be
 * present). Unknown layer media types → I2K_ERR_UNSUPPORTED. Caller owns
 * *out. */
int i2k_image_load(struct i2k_store *s, const char *manifest_digest, struct i2k_image **out,
		   struct i2k_error **err);
void i2k_image_free(struct i2k_image *img);
void i2k_image_freep(struct i2k_image **img);

/* Parses an OCI/Docker image config JSON (exposed for tests). */
int i2k_image_config_parse(const char *json, size_t len, struct i2k_image_config *out,
			   struct i2k_error **err);
void i2k_image_config_clear(struct i2k_image_config *c);

struct i2k_flatten_opts {
	bool reject_devices; /* device nodes are an error (I2K_ERR_HOSTILE) */
	/* Expansion limit (0: none): the sizes of the regular-file entries
	 * applied (a sparse entry counts its full size, an overwritten file
	 * counts again) may not exceed max_size bytes. Checked against each
	 * entry's declared size before its data is read, so a sparse or gzip
	 * bomb fails at once with I2K_ERR_HOSTILE `entry "NAME": N bytes would
	 * expand the root past its size limit of M bytes (--max-root-size)`. used (may be NULL:
	 * per call) accumulates across calls, e.g. every image of one root. */
	uint64_t max_size;
	uint64_t *used;
	/* Optional (borrowed): the data bytes of regular files are added to
	 * it as they are unpacked (UNPACK progress). */
	struct i2k_meter *meter;
	/* Optional (borrowed): i2k_layer_apply appends every tree operation
	 * the layer makes to it (see layerlog below). */
	struct i2k_layer_log *log;
};
/* Device nodes: LinuxKit images (e.g. the kernel/init ones) legitimately
 * carry /dev entries, so they are kept by default; reject_devices=true makes
 * them an error. */

/* Applies every layer of img, in order, into tree (normally empty). Layer
 * blobs must have the sizes the manifest gives (else I2K_ERR_INTEGRITY).
 * On failure the tree holds a partial result: discard it. */
int i2k_image_flatten(struct i2k_image *img, struct i2k_store *s, struct i2k_fstree *tree,
		      const struct i2k_flatten_opts *opts, struct i2k_error **err);
/* ---- layer logs ------------------------------------------------------------
 * A layer log is the list of tree operations one applied layer made, after
 * its names were checked: whiteouts, hard links and added entries (attributes,
 * symlink target, xattrs, data extent). Replaying it into a tree does what
 * applying the layer again would do, without reading the tar: the layer
 * cache (layercache.h) keeps logs with the data they point at. Encoded
 * little-endian, so a log's bytes are its on-disk form. */
struct i2k_layer_log {
	struct i2k_buf ops;
	uint64_t nops;
	size_t *data_at; /* positions in ops of each added file's 8-byte data offset */
	size_t ndata, cap;
};
void i2k_layer_log_clear(struct i2k_layer_log *l);
/* Replays ops (as recorded in i2k_layer_log.ops) into tree as a new layer,
 * data offsets shifted by base (a spool offset). Checks as i2k_layer_apply
 * does what depends on the tree or opts (hard link targets, device nodes,
 * the size limit); the encoding is checked whole before the tree is
 * touched (malformed → I2K_ERR_INTEGRITY, tree unchanged). tree NULL: only
 * that check. For every added file with data, visit(ctx, off, size) is called
 * when non-NULL (before base is added). */
int i2k_layer_log_replay(const void *ops, size_t len, uint64_t base, struct i2k_fstree *tree,
			 const struct i2k_flatten_opts *opts,
			 int (*visit)(void *ctx, uint64_t off, uint64_t size,
				      struct i2k_error **err),
			 void *ctx, struct i2k_error **err);
/* The same for a log of len bytes at off in fd (a layer cache index), read
 * through a small window: never held whole. */
int i2k_layer_log_replay_fd(int fd, uint64_t off, uint64_t len, uint64_t base,
			    struct i2k_fstree *tree, const struct i2k_flatten_opts *opts,
			    int (*visit)(void *ctx, uint64_t off, uint64_t size,
					 struct i2k_error **err),
			    void *ctx, struct i2k_error **err);
/* i2k_layer_log_replay_fd into tree without the whole-log check first: for
 * a log that i2k_layer_log_replay_fd with tree NULL has just accepted (the
 * layer cache checks before it attaches the data; the check is not done
 * twice). A log that is malformed after all (changed since) is
 * I2K_ERR_INTEGRITY with the tree partly changed. */
int i2k_layer_log_apply_fd(int fd, uint64_t off, uint64_t len, uint64_t base,
			   struct i2k_fstree *tree, const struct i2k_flatten_opts *opts,
			   struct i2k_error **err);

/* Applies one layer read from fd (compressed per media_type; "" or NULL →
 * detect gzip/zstd/plain from magic bytes). Compression is always sniffed
 * from the data; an unknown media type is I2K_ERR_UNSUPPORTED. Errors about
 * one entry read `entry "NAME": WHY` (see builder/image/layer.h for the
 * rules). fd is read from its current offset and not closed. */
int i2k_layer_apply(int fd, const char *media_type, struct i2k_fstree *tree,
		    const struct i2k_flatten_opts *opts, struct i2k_error **err);
/* The same for the layer that is the len bytes at off in fd (pread; fd's
 * offset is not used): nothing past them is read, so a tar stored inside a
 * bigger file (a spool) is applied where it lies, without a copy. */
int i2k_layer_apply_range(int fd, uint64_t off, uint64_t len, const char *media_type,
			  struct i2k_fstree *tree, const struct i2k_flatten_opts *opts,
			  struct i2k_error **err);

#endif
