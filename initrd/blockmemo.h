/* blockmemo.h — compressed gzip blocks remembered across builds.
 *
 * The gzip compressor (compress.h) cuts its input into content-defined
 * blocks, each compressed alone with the previous 32 KiB as dictionary, so
 * a block's compressed bytes depend only on (level, last or not, dictionary,
 * block). A rebuild whose initrd differs from the last one in a few files
 * finds most blocks here under that key instead of compressing them again.
 *
 * The blocks one build stores go into one pack file, DIR/HEX.pack (HEX: the
 * sha256 of the pack's index), not a file each: a new file costs an inode,
 * and on ext4 without a journal finding a free inode among recently
 * deleted ones cost a build of the reference 0.1-0.4 s of system time for
 * its ≈700 blocks. A pack is
 *
 *     block bytes ... | index: N × (key[32], offset u64, length u32,
 *                       CRC-32 of the block u32) | N u32, CRC-32 of the
 *                       index u32, version u32 (1), "i2kp"   (all LE)
 *
 * made unnamed (O_TMPFILE) and linked into place whole by
 * i2k_blockmemo_commit. A pack whose footer or index fails its checks is
 * ignored; a block whose CRC-32 fails is a miss. A commit refreshes the
 * mtime of every pack that served a hit, and i2k_blockmemo_trim deletes the
 * least recently used packs past a size cap (and past I2K_BLOCKMEMO_MAX_PACKS
 * packs, which small rebuilds would otherwise pile up). Files of the
 * earlier layout (one 64-hex file per block) are never read and trim
 * deletes them.
 *
 * Everything here is best effort: an unreadable directory or pack only
 * means misses, an unwritable one that nothing is stored. Several builds
 * may use one directory at once: each writes its own pack, and a pack
 * deleted under a reader is a miss.
 */
#ifndef I2K_INITRD_BLOCKMEMO_H
#define I2K_INITRD_BLOCKMEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default cap of a block directory (I2KIT_BLOCK_CACHE_MAX overrides, in
 * bytes, at the CLI). */
#define I2K_BLOCKMEMO_DEFAULT_CAP (1ull << 30)
/* Packs kept at most; a trim past it leaves 3/4 of it. */
#define I2K_BLOCKMEMO_MAX_PACKS 256

struct i2k_blockmemo;

/* The memo of dir, with the index of every pack there read in. Never
 * fails (see above); the caller frees it with i2k_blockmemo_close. */
struct i2k_blockmemo *i2k_blockmemo_open(const char *dir);
/* The compressed block stored under key into *out (malloc'd, the caller's)
 * and *len; false on a miss. Thread-safe. */
bool i2k_blockmemo_get(struct i2k_blockmemo *m, const uint8_t key[32], unsigned char **out,
		       size_t *len);
/* Stores data under key in this memo's new pack (best effort); a later get
 * of the same memo finds it. Thread-safe. */
void i2k_blockmemo_put(struct i2k_blockmemo *m, const uint8_t key[32], const void *data,
		       size_t len);
/* Links the new pack into the directory (when a put stored anything) and
 * marks the packs that served hits as recently used. Later puts are
 * dropped. Not concurrent with get/put. */
void i2k_blockmemo_commit(struct i2k_blockmemo *m);
/* Frees m; blocks put since the last commit are dropped. NULL is a no-op. */
void i2k_blockmemo_close(struct i2k_blockmemo *m);

/* Deletes files of the old layout, then the least recently used packs
 * until the directory holds at most 3/4 of cap bytes, when it holds more
 * than cap, and at most 3/4 of I2K_BLOCKMEMO_MAX_PACKS packs, when it holds
 * more than that. */
void i2k_blockmemo_trim(const char *dir, uint64_t cap);
/* The blocks stored in dir's packs and the bytes the packs take. */
void i2k_blockmemo_usage(const char *dir, size_t *blocks, uint64_t *bytes);

#endif
