/* unpacked.h — the cache's unpacked entries: a big layer (or a tar inside
 * an image, such as a kernel image's kernel.tar) kept decompressed so an
 * unchanged one is never inflated again.
 *
 * Layout, beside the OCI layout (which tools ignore):
 *   DIR/unpacked/KEY.data    the file data of the entry, concatenated
 *   DIR/unpacked/KEY.index   what to do with it: a text header, then the
 *                            layer log (builder/image/image.h), then the raw
 *                            sha256 of everything before it:
 *       i2kit-unpacked 1\n
 *       source sha256:HEX\n        the blob the entry was made from
 *       data SIZE sha256:HEX\n     KEY.data's size and digest
 *       ops LEN\n\n                the log's length, then LEN bytes of log
 * KEY is 64 lowercase hex digits chosen by the caller (a layer's digest, or
 * a hash naming a tar inside an image).
 *
 * Writers make both files unnamed (O_TMPFILE) and link the data file, then
 * the index, into place, so a reader that opens an index finds its data
 * complete and a killed writer leaves nothing; two builds writing one entry
 * write the same bytes. A build
 * checks the index's own digest and the data file's size (re-hashing the
 * data on every build would cost what the cache saves); `cache verify`
 * re-hashes the data too. gc drops the entries whose source blob it removes,
 * clean drops them all, `cache ls` shows their count and disk use.
 */
#ifndef I2K_BUILDER_STORE_UNPACKED_H
#define I2K_BUILDER_STORE_UNPACKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/store/store.h"

struct i2k_unpacked {
	char source[I2K_DIGEST_LEN + 1];
	uint64_t data_size;
	char data_digest[I2K_DIGEST_LEN + 1];
	/* KEY.index, read-only (owned; -1 when closed); the log is ops_len
	 * bytes at ops_off in it, read from there (i2k_layer_log_replay_fd),
	 * never held whole: about 80 bytes per file, 8 MB for 100,000 */
	int index_fd;
	uint64_t ops_off, ops_len;
	int data_fd; /* KEY.data, read-only (owned; -1 when closed) */
};
void i2k_unpacked_clear(struct i2k_unpacked *u);

/* True for a valid KEY (64 lowercase hex digits). */
bool i2k_unpacked_key_valid(const char *key);

/* Opens entry key: I2K_ERR_NOTFOUND when there is none, I2K_ERR_INTEGRITY
 * when the index is malformed or fails its digest, or the data file is
 * missing or of another size (callers treat both as a miss and rebuild). */
int i2k_unpacked_open(struct i2k_store *s, const char *key, struct i2k_unpacked *out,
		      struct i2k_error **err);

/* A new unnamed data file in DIR/unpacked (O_TMPFILE): *fd to write, then
 * to pass to commit. The caller's. */
int i2k_unpacked_tmp_data(struct i2k_store *s, int *fd, struct i2k_error **err);
/* Stores entry key: data_fd (from i2k_unpacked_tmp_data) holds data_size
 * bytes whose sha256 is data_digest (hashed by the caller while writing);
 * it gets its name, then the index is written and named beside it. Files
 * get names only when complete, so a killed writer leaves nothing. */
int i2k_unpacked_commit(struct i2k_store *s, const char *key, const char *source, int data_fd,
			uint64_t data_size, const char *data_digest, const void *ops,
			size_t ops_len, struct i2k_error **err);

/* Entries and the bytes their two files take. */
void i2k_unpacked_usage(struct i2k_store *s, size_t *entries, uint64_t *bytes);

/* Removes the entries whose source is not in keep, unsound entries and data
 * files without an index; adds the bytes freed. Caller holds
 * the users lock exclusively. */
struct i2k_digest_set;
void i2k_unpacked_gc(struct i2k_store *s, const struct i2k_digest_set *keep, uint64_t *freed);

/* Checks every entry: index digest, data size and data sha256. Each bad
 * entry is reported through problem(ctx, path, why); repair removes it
 * (the next build makes it again). Returns the number of bad entries. */
size_t i2k_unpacked_verify(struct i2k_store *s, bool repair,
			   void (*problem)(void *ctx, const char *path, const char *why),
			   void *ctx);

#endif
