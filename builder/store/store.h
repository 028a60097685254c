/* store.h — the content-addressed image cache, an OCI image layout.
 *
 * Layout (readable by `skopeo inspect oci:DIR:REF` and umoci):
 *   DIR/oci-layout          {"imageLayoutVersion":"1.0.0"}
 *   DIR/index.json          manifests[] with annotation
 *                           org.opencontainers.image.ref.name = canonical ref
 *                           (e.g. "docker.io/library/alpine:3.19",
 *                            "127.0.0.1:5000/fixtures/busybox@sha256:…")
 *   DIR/blobs/sha256/HEX    verified blobs only
 *   DIR/blobs/sha256/.partial-HEX   an interrupted download (resumable)
 *   DIR/.lock               flock(): exclusive for writers of index.json
 *   DIR/unpacked/           big layers kept decompressed (unpacked.h)
 *   DIR/compressed/         packs of gzip initrd blocks kept for rebuilds
 *                           (initrd/blockmemo.h; cleared by clean)
 *   DIR/pvh/                kernels' vmlinux ELFs for PVH boots
 *                           (provision/pvh.h; cleared by clean)
 *   DIR/ovmf/               OVMF copies trimmed for `run qemu`, packed variable stores
 *                           (provision/ovmf.h; cleared by clean)
 *   DIR/.users              flock(): shared by every open handle (a build,
 *                           a pull); gc and clean take it exclusively, so
 *                           they wait for builds using the cache to end
 *
 * Only the platform a build asked for is stored: refs point at an image
 * manifest, never at an index.
 *
 * Blobs are written verify-then-commit: data streams into a partial file
 * while its sha256 is computed; commit checks digest and size, fsyncs and
 * renames into place. A blob that fails verification is deleted, never
 * committed. A partial file left by an interrupted pull is reopened by the
 * next writer of the same digest (rehashing what is there) so the download
 * can resume with an HTTP Range request.
 *
 * Concurrency: several processes may share one store. Blob commits are
 * atomic renames (idempotent); index.json updates take the exclusive lock
 * and re-read the index before rewriting it (atomically). Two writers of the
 * same partial blob are serialised by an flock on the partial file.
 * A store handle is immutable after open: it may be shared by threads (each
 * operation opens its own descriptors) but must outlive its blob writers.
 * (Its queue of deferred writes, i2k_store_defer, has its own lock.)
 * Every digest is checked with i2k_digest_valid and every ref name with
 * i2k_store_ref_name_valid before it is used.
 */
#ifndef I2K_BUILDER_STORE_STORE_H
#define I2K_BUILDER_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"

struct i2k_store;

/* The default cache directory: $I2KIT_CACHE, else $XDG_CACHE_HOME/i2kit, else
 * ~/.cache/i2kit. Caller frees. */
char *i2k_store_default_dir(void);

/* Opens (creating if needed) the layout at dir. Caller owns the store. */
int i2k_store_open(const char *dir, struct i2k_store **out, struct i2k_error **err);
void i2k_store_free(struct i2k_store *s);
void i2k_store_freep(struct i2k_store **s);
const char *i2k_store_dir(const struct i2k_store *s);

/* Runs fn(arg) on the store's background thread (builder/store/
 * background.h: in the order queued, fn owns arg), for writes a build need
 * not wait for; key names the entry it writes, for i2k_store_wait_deferred.
 * i2k_store_free waits for every job before it frees the store, so a job
 * may use s but nothing the caller frees before the store. */
void i2k_store_defer(struct i2k_store *s, const char *key, void (*fn)(void *arg), void *arg);
/* Waits until no deferred job under key (NULL: none at all) is left. */
void i2k_store_wait_deferred(struct i2k_store *s, const char *key);

/* ---- blobs ----------------------------------------------------------------- */
bool i2k_store_has_blob(struct i2k_store *s, const char *digest);
/* Opens a committed blob read-only. *fd is the caller's. The content is not
 * re-hashed (layers are big); *size is the file's size, which callers
 * compare with their descriptor. Missing → I2K_ERR_NOTFOUND. */
int i2k_store_open_blob(struct i2k_store *s, const char *digest, int *fd, uint64_t *size,
			struct i2k_error **err);
/* Reads a whole (small) blob, e.g. a manifest: at most max bytes. The blob's
 * sha256 is re-checked: a corrupt file is I2K_ERR_INTEGRITY "cache blob
 * DIGEST is corrupt ...; run `i2kit cache clean`". Caller frees *data
 * (NUL-terminated). */
int i2k_store_read_blob(struct i2k_store *s, const char *digest, size_t max, char **data,
			size_t *len, struct i2k_error **err);
/* Stores a small in-memory blob (verify + commit). */
int i2k_store_put_blob(struct i2k_store *s, const char *digest, const void *data, size_t len,
		       struct i2k_error **err);

struct i2k_blob_writer;
/* Starts writing blob `digest` of expected `size` (-1 if unknown). If a
 * partial file exists it is reused: *resume_from is set to the bytes already
 * there (hashed), and the caller continues from that offset; otherwise 0.
 * Errors if the digest is malformed.
 *
 * Two writers of one digest (threads or processes) are serialised: the
 * second blocks in begin until the first commits or aborts. If the blob is
 * (by then) already committed, begin succeeds with
 * i2k_blob_writer_present(w) true and *resume_from = the committed size:
 * write/truncate are refused, commit only checks the size against `size`
 * and succeeds. A partial file longer than `size` is discarded (resume 0).
 * A failed write (e.g. I2K_ERR_IO "...: no space left on device") deletes
 * the partial file at once; the writer then only accepts abort/commit
 * (commit fails). A write past `size` fails with I2K_ERR_INTEGRITY. */
int i2k_store_blob_begin(struct i2k_store *s, const char *digest, int64_t size,
			 struct i2k_blob_writer **out, uint64_t *resume_from,
			 struct i2k_error **err);
int i2k_blob_writer_write(struct i2k_blob_writer *w, const void *data, size_t len,
			  struct i2k_error **err);
/* Drops what was written since begin... back to offset (for a server that
 * ignored Range and restarted at 0: truncate to 0 and rehash). */
int i2k_blob_writer_truncate(struct i2k_blob_writer *w, uint64_t offset, struct i2k_error **err);
uint64_t i2k_blob_writer_offset(const struct i2k_blob_writer *w);
/* True when begin found the blob already committed (nothing to write). */
bool i2k_blob_writer_present(const struct i2k_blob_writer *w);
/* Verifies sha256 and size; on mismatch deletes the partial file and fails
 * with I2K_ERR_INTEGRITY "blob DIGEST: content has digest X (N bytes)" (or
 * "... content has N bytes, the descriptor says M"); on success the blob is
 * fsynced, renamed into place and the directory fsynced. Frees w either
 * way. */
int i2k_blob_writer_commit(struct i2k_blob_writer *w, struct i2k_error **err);
/* Stops writing: keep=true leaves the partial file for a later resume,
 * false deletes it. Frees w. NULL-safe. */
void i2k_blob_writer_abort(struct i2k_blob_writer *w, bool keep);

/* ---- refs (index.json) ------------------------------------------------------- */
/* The OCI image-layout ref.name grammar: components of [A-Za-z0-9]+ joined
 * by one of -._:@+ (or "--"), components separated by '/'; at most 1024
 * characters. Functions taking a name fail with I2K_ERR_USAGE otherwise. */
bool i2k_store_ref_name_valid(const char *name);

struct i2k_descriptor {
	char *media_type;
	char digest[I2K_DIGEST_LEN + 1];
	int64_t size;
};

struct i2k_store_ref {
	char *name; /* org.opencontainers.image.ref.name */
	struct i2k_descriptor desc;
};

/* Looks up a ref by canonical name. Returns 1 and fills *out (caller frees
 * out->name/out->desc.media_type with i2k_store_ref_clear) if found, 0 if
 * not, -1 on error. */
int i2k_store_ref_get(struct i2k_store *s, const char *name, struct i2k_store_ref *out,
		      struct i2k_error **err);
/* Adds or replaces a ref (the blobs it names must already be committed:
 * the manifest (its size must equal desc->size), and its config and layers,
 * or an index's manifests — else I2K_ERR_NOTFOUND). media_type NULL → OCI
 * image manifest. */
int i2k_store_ref_set(struct i2k_store *s, const char *name, const struct i2k_descriptor *desc,
		      struct i2k_error **err);
/* Removes a ref; 0 if it was not there (with *removed=false). */
int i2k_store_ref_remove(struct i2k_store *s, const char *name, bool *removed,
			 struct i2k_error **err);
/* All refs, sorted by name. Caller frees with i2k_store_refs_free. */
int i2k_store_ref_list(struct i2k_store *s, struct i2k_store_ref **out, size_t *n,
		       struct i2k_error **err);
void i2k_store_ref_clear(struct i2k_store_ref *r);
void i2k_store_refs_free(struct i2k_store_ref *refs, size_t n);

/* Deletes every blob not reachable from a ref (manifest → config, layers;
 * an index → its manifests) and every partial file no writer is using.
 * Reports bytes freed. A corrupt manifest fails gc without deleting.
 * gc and clean first wait until no other store handle (another process's
 * build or pull) has the cache open: see DIR/.users above. */
int i2k_store_gc(struct i2k_store *s, uint64_t *freed, struct i2k_error **err);
/* Removes every ref and blob (an empty layout remains). */
int i2k_store_clean(struct i2k_store *s, struct i2k_error **err);

/* Checks the whole cache: every blob's sha256 against its name, every
 * ref's closure (manifest → config, layers; index → manifests) present with
 * the sizes its descriptors give, no stray partial file (not a regular
 * file, or of a blob already committed), no index temp file. Other partial
 * files no pull is using are resumable downloads: counted in r->partials,
 * kept (a resumed blob that fails its digest is fetched again from 0). Each problem is one line in
 * r->problems ("blob sha256:…: content has digest …", "ref NAME: blob … is not in the cache", ...).
 * repair=true deletes the broken blobs, stray partials and temp files and
 * drops the refs whose closure is broken (a later pull fetches them
 * again); fixed problems end with " (removed)" and count in r->repaired.
 * Holds the store lock throughout. Returns 0 when the check ran (whatever
 * it found), -1 when it could not (I/O, unreadable index.json). */
struct i2k_store_verify_report {
	size_t blobs, refs; /* checked */
	size_t partials;    /* resumable partial downloads kept */
	uint64_t bytes;	    /* in the blobs checked */
	char **problems;
	size_t n_problems;
	size_t repaired;
	size_t unpacked_bad; /* unpacked entries (unpacked.h) that failed */
};
int i2k_store_verify(struct i2k_store *s, bool repair, struct i2k_store_verify_report *r,
		     struct i2k_error **err);
void i2k_store_verify_report_clear(struct i2k_store_verify_report *r);

/* ---- air-gapped transfer -------------------------------------------------- */
/* Writes an OCI archive (a tar of an OCI image layout: oci-layout,
 * index.json with the given refs, and the blobs they reach) to path,
 * atomically. Byte-identical for the same store content and refs. */
int i2k_store_export(struct i2k_store *s, const char *path, const char *const *refs, size_t n,
		     struct i2k_error **err);
/* Imports an OCI archive written by export (or by `skopeo copy ...
 * oci-archive:`): every blob is verified before commit, then the refs are
 * added. Reports the imported ref names through names/n (a NULL-terminated
 * vector; caller frees each and the vector; names may be NULL).
 * Only oci-layout, index.json, blobs/ and blobs/sha256/<64 hex> regular
 * files are accepted (anything else, e.g. "../x" or a link: I2K_ERR_HOSTILE
 * naming the entry); a blob whose content does not match its name is
 * I2K_ERR_INTEGRITY; an index.json without any ref.name annotation is
 * I2K_ERR_INTEGRITY. On failure no ref is added and the blobs this import
 * committed are removed again (unless something else references them). */
int i2k_store_import(struct i2k_store *s, const char *path, char ***names, size_t *n,
		     struct i2k_error **err);

#endif
