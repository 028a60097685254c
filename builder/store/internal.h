/* internal.h — what the store's files share (not for use outside builder/store).
 *
 *   store.c    open/free, paths, the DIR/.lock, blobs and the blob writer
 *   index.c    index.json: load/validate/write, refs, ref name grammar
 *   gc.c       reachability (refs → manifests/indexes → config, layers), gc, clean
 *   verify.c   cache verify [--repair]
 *   unpacked.c big layers kept decompressed (unpacked.h)
 *   archive.c  OCI archive export (own ustar writer) and import (libarchive)
 *   background.c  the thread that runs deferred writes (background.h)
 *
 * A struct i2k_store is immutable after i2k_store_open, so one store may be
 * used by several threads at once (each lock/blob operation opens its own
 * file descriptors; flock() serialises separate open file descriptions);
 * its queue of deferred writes (background.h) locks itself.
 */
#ifndef I2K_BUILDER_STORE_INTERNAL_H
#define I2K_BUILDER_STORE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/store/background.h"
#include "builder/store/store.h"

#define I2K_STORE_REF_ANNOTATION "org.opencontainers.image.ref.name"
#define I2K_STORE_INDEX_MAX (16u << 20)	  /* index.json */
#define I2K_STORE_MANIFEST_MAX (4u << 20) /* a manifest or index blob */
#define I2K_STORE_LAYOUT_MAX 4096u	  /* oci-layout */
#define I2K_STORE_CONFIG_MAX (16u << 20)  /* an image config (as the registry's I2K_CONFIG_MAX) */
#define I2K_STORE_REF_MAX 1024u		  /* a ref name */
#define I2K_STORE_WALK_DEPTH 4		  /* nested indexes followed */

#define I2K_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define I2K_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"

struct i2k_store {
	char *dir;		   /* as given */
	char *blobs;		   /* DIR/blobs/sha256 */
	int users_fd;		   /* DIR/.users, flock(LOCK_SH) while the handle is open */
	struct i2k_background *bg; /* deferred writes (i2k_store_defer) */
};

/* DIR/blobs/sha256/HEX for a digest that passed i2k_digest_valid. Caller frees. */
char *i2k_store_blob_path(const struct i2k_store *s, const char *digest);
/* DIR/NAME. Caller frees. */
char *i2k_store_path(const struct i2k_store *s, const char *name);

/* Takes the exclusive flock on DIR/.lock (blocking). Returns the fd (>= 0;
 * closing it releases the lock) or -1 with *err set. */
int i2k_store_lock(struct i2k_store *s, struct i2k_error **err);

/* Turns the handle's shared DIR/.users lock into an exclusive one
 * (exclusive=true: waits until no other store handle, i.e. no build or
 * pull in another process, has the cache open) or back to shared. gc and
 * clean hold it exclusively while they delete blobs. */
int i2k_store_users_lock(struct i2k_store *s, bool exclusive, struct i2k_error **err);

/* Writes the empty layout files (oci-layout, index.json, blobs/sha256/) that
 * are missing; with reset=true index.json is rewritten empty. Caller holds
 * the lock. */
int i2k_store_init_layout(struct i2k_store *s, bool reset, struct i2k_error **err);

/* ---- helpers shared by the store's files ---------------------------------- */
/* True for 64 lowercase hex digits (a sha256 in a file name). (gc.c) */
bool i2k_store_hex64(const char *s);
/* Names in dir (without . and ..); a missing dir has none. Caller frees
 * with i2k_store_free_names. (gc.c) */
int i2k_store_list_dir(const char *dir, char ***names, size_t *n, struct i2k_error **err);
void i2k_store_free_names(char **v, size_t n);
/* sha256 of an fd's content from offset 0 into got, its size into *size
 * (may be NULL); -1 when unreadable. (verify.c) */
int i2k_store_hash_fd(int fd, char got[I2K_DIGEST_LEN + 1], uint64_t *size);

/* ---- index.json (index.c) ------------------------------------------------ */
/* Loads DIR/index.json and returns its validated manifests array (a new
 * reference; caller json_decref()s). A missing file reads as empty. Named
 * entries are de-duplicated (last wins). */
int i2k_index_load(struct i2k_store *s, json_t **manifests, struct i2k_error **err);
/* Parses and validates an index document (path names it in errors);
 * returns its manifests array like i2k_index_load. */
int i2k_index_parse(const char *data, size_t len, const char *path, json_t **manifests,
		    struct i2k_error **err);
/* Checks that d's blob and everything it reaches are committed and that its
 * size matches; errors name the ref. Callers hold the lock, so gc cannot
 * remove blobs in between. */
int i2k_store_check_desc(struct i2k_store *s, const char *name, const struct i2k_descriptor *d,
			 struct i2k_error **err);
/* Sorts manifests (by ref name; unnamed entries first, by digest) and writes
 * index.json atomically. Caller holds the lock. */
int i2k_index_save(struct i2k_store *s, json_t *manifests, struct i2k_error **err);
/* The index.json text i2k_index_save writes (sorted, newline-terminated).
 * Caller frees. */
char *i2k_index_dump(json_t *manifests);
/* Locks, re-reads index.json, calls fn, and writes the result back if fn set
 * *changed. fn returns < 0 on error (nothing is written). */
typedef int (*i2k_index_edit_fn)(struct i2k_store *s, json_t *manifests, void *ctx, bool *changed,
				 struct i2k_error **err);
int i2k_index_edit(struct i2k_store *s, i2k_index_edit_fn fn, void *ctx, struct i2k_error **err);
/* The ref name of a manifests[] entry, or NULL. */
const char *i2k_index_entry_name(json_t *entry);
/* Fills a descriptor from a validated manifests[] entry. */
void i2k_index_entry_desc(json_t *entry, struct i2k_descriptor *d);
/* Adds/replaces the entry named name in manifests (no I/O, no checks). */
void i2k_index_put(json_t *manifests, const char *name, const struct i2k_descriptor *d);

/* ---- reachability (gc.c) ------------------------------------------------- */
/* A set of digests (small; linear search is fine for the hundreds of blobs
 * a cache holds per image). */
struct i2k_digest_set {
	char (*v)[I2K_DIGEST_LEN + 1];
	size_t n, cap;
};
bool i2k_digest_set_has(const struct i2k_digest_set *set, const char *digest);
bool i2k_digest_set_add(struct i2k_digest_set *set, const char *digest); /* true if new */
void i2k_digest_set_free(struct i2k_digest_set *set);
/* Adds digest and everything it reaches (an index → its manifests; a
 * manifest → config and layers) to set. With require=true a missing blob is
 * I2K_ERR_NOTFOUND; otherwise missing blobs are skipped. */
int i2k_store_reach(struct i2k_store *s, const char *digest, bool require,
		    struct i2k_digest_set *set, struct i2k_error **err);

#endif
