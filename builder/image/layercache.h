/* layercache.h — applying layer tars through the cache's unpacked entries
 * (builder/store/unpacked.h), so an unchanged layer is inflated once: the
 * first build records the layer's tree operations (a layer log, image.h)
 * and copies its file data into the entry — on the store's background
 * thread (i2k_store_defer), while the build goes on; later builds attach
 * that data file to the tree's spool and replay the log — no
 * decompression, no copy. A replay of an entry this build is still storing
 * waits for it (or, when its copy has not started, makes it at once).
 *
 * Used for every image layer of at least I2K_LAYERCACHE_MIN compressed
 * bytes (key: the layer's digest) and for tars inside images that builds
 * unpack again, such as a kernel image's kernel.tar (key: a hash of the
 * image digest and the tar's path, i2k_layercache_key).
 */
#ifndef I2K_BUILDER_IMAGE_LAYERCACHE_H
#define I2K_BUILDER_IMAGE_LAYERCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"
#include "builder/store/store.h"

/* Below this many compressed bytes a layer is inflated on every build:
 * replaying it would save less than a millisecond. Above it, even a small
 * layer is worth keeping: a busybox layer (1 MiB) costs 5-10 ms to inflate
 * and copy into the spool, and a warm rebuild of the web example applies it
 * twice (the onboot image and the service built on it). */
#define I2K_LAYERCACHE_MIN (64u << 10)

/* The key of a tar at path inside the image whose manifest is digest. */
void i2k_layercache_key(const char *digest, const char *path, char key[65]);

/* Replays entry key into tree when the cache holds a sound one (*hit set).
 * A missing or unsound entry is a miss: 0 with *hit false, tree untouched.
 * Errors are those applying the layer would give (a hard link to a missing
 * target, a device node with reject_devices, the size limit). */
int i2k_layercache_replay(struct i2k_store *s, const char *key, struct i2k_fstree *tree,
			  const struct i2k_flatten_opts *opts, bool *hit, struct i2k_error **err);

/* i2k_layer_apply_range of the tar that is the size bytes at off in fd,
 * which then, when the tar is at least I2K_LAYERCACHE_MIN bytes, is stored
 * as entry key made from blob source: queued on the store's background
 * thread, which copies the data from the spool's file through a descriptor
 * of its own (the tree and spool may be freed before it ends; the store
 * may not). Storing is best effort: a full disk or an interrupted copy
 * leaves no entry and is not an error of the build. */
int i2k_layercache_apply(struct i2k_store *s, const char *key, const char *source, int fd,
			 uint64_t off, uint64_t size, const char *media_type,
			 struct i2k_fstree *tree, const struct i2k_flatten_opts *opts,
			 struct i2k_error **err);

#endif
