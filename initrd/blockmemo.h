/* blockmemo.h — compressed gzip blocks remembered across builds.
 *
 * The gzip compressor (compress.h) cuts its input into content-defined
 * blocks, each compressed alone with the previous 32 KiB as dictionary, so
 * a block's compressed bytes depend only on (level, last or not, dictionary,
 * block). A rebuild whose initrd differs from the last one in a few files
 * finds most blocks here under that key instead of compressing them again.
 *
 * One file per block, DIR/HEX (HEX: the sha256 key): the compressed bytes,
 * then their length (u32 LE), their CRC-32 (u32 LE) and "i2kb". A file that
 * fails these checks is a miss. Files are made unnamed (O_TMPFILE) and
 * linked into place when complete; a hit refreshes the file's mtime, and
 * i2k_blockmemo_trim deletes the least recently used files past a size cap.
 * Everything here is best effort: an unwritable directory only means
 * misses.
 */
#ifndef I2K_INITRD_BLOCKMEMO_H
#define I2K_INITRD_BLOCKMEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default cap of a block directory (I2KIT_BLOCK_CACHE_MAX overrides, in
 * bytes, at the CLI). */
#define I2K_BLOCKMEMO_DEFAULT_CAP (1ull << 30)

/* The compressed block stored under key into *out (malloc'd, the caller's)
 * and *len; false on a miss. */
bool i2k_blockmemo_get(const char *dir, const uint8_t key[32], unsigned char **out, size_t *len);
/* Stores data under key (best effort). */
void i2k_blockmemo_put(const char *dir, const uint8_t key[32], const void *data, size_t len);
/* Deletes the least recently used block files until the directory holds at
 * most 3/4 of cap bytes, when it holds more than cap. */
void i2k_blockmemo_trim(const char *dir, uint64_t cap);
/* Block files and the bytes they take. */
void i2k_blockmemo_usage(const char *dir, size_t *files, uint64_t *bytes);

#endif
