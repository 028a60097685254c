/* compress.h — byte streams and streaming compressors (gzip, zstd, none).
 *
 * Every archive writer in i2kit (cpio, tar) emits bytes through one
 * interface, struct i2k_ostream: a write callback plus its context. A
 * compressor is itself an ostream (i2k_compressor_stream) that compresses
 * and forwards to another ostream, so writers can be stacked:
 *
 *     cpio writer ─► compressor (gzip|zstd|none) ─► fd writer (file + sha256)
 *
 * Output bytes are deterministic: the same input bytes, kind and level give
 * the same output bytes on every run and for every thread count.
 *
 * gzip (RFC 1952), one member: header 1f 8b 08 00, MTIME 0, XFL (2 for
 *   level 9, 4 for level 1, else 0), OS 3 (Unix); no name or comment.
 *   Default level 6. The deflate stream is made pigz-style so that all
 *   threads help: the input is cut into blocks, each compressed on its own
 *   by libdeflate (no dictionary) and, but for the last, ended as zlib's
 *   Z_SYNC_FLUSH ends a block (deflate_join.h); CRC-32 and ISIZE close the
 *   member. Blocks are content-defined (64-256 KiB, about 128 KiB
 *   on average): a block ends where a rolling hash of the last 64 bytes
 *   (gear hash, fixed table) has its top 16 bits zero, so an insertion
 *   early in the input moves the cuts after it with the content and leaves
 *   the later blocks the same — which lets memo_dir serve them. Every
 *   block's bytes depend only on its input, the level and the libdeflate
 *   version, so the output is identical for 1 or N threads, with or
 *   without memo_dir. (One member, not several: the Linux initramfs
 *   unpacker treats every gzip member as a separate archive that must end
 *   with its own TRAILER!!! — init/initramfs.c "junk at the end of
 *   compressed archive".)
 * zstd (RFC 8878), one frame, content checksum on, no content size (the
 *   input length is not known in advance). Default level 3. Compressed with
 *   ZSTD_c_nbWorkers = max(1, threads): libzstd's multithreaded mode cuts the
 *   input into jobs of a fixed size (2 MiB here, which bounds memory), so
 *   the frame is identical for any nbWorkers >= 1 (tests check 1, 2 and 4
 *   workers); the last input byte is held back until finish so that the
 *   final job does not depend on timing (tests check a slow sink).
 *   nbWorkers = 0 (libzstd's single-threaded mode) would give different
 *   bytes, so it is never used; a libzstd built without threads is rejected
 *   (I2K_ERR_UNSUPPORTED) rather than silently producing other output.
 * none: bytes pass through unchanged.
 */
#ifndef I2K_INITRD_COMPRESS_H
#define I2K_INITRD_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

/* ---- byte streams -------------------------------------------------------- */

/* A sink for a byte stream. write must consume all len bytes or fail
 * (returning < 0 and setting *err). */
typedef int (*i2k_write_fn)(void *ctx, const void *buf, size_t len, struct i2k_error **err);
struct i2k_ostream {
	i2k_write_fn write;
	void *ctx;
};

/* Convenience: s.write(s.ctx, buf, len, err). */
int i2k_ostream_write(struct i2k_ostream s, const void *buf, size_t len, struct i2k_error **err);
/* Writes n zero bytes. */
int i2k_ostream_zeros(struct i2k_ostream s, size_t n, struct i2k_error **err);
/* Copies len bytes read (pread) from fd at off into s, in bounded chunks
 * (never the whole range in memory), checking i2k_check_interrupt between
 * chunks. A short file is I2K_ERR_IO "unexpected end of file". */
int i2k_ostream_copy_fd(struct i2k_ostream s, int fd, uint64_t off, uint64_t len,
			struct i2k_error **err);

/* A buffered writer to a file descriptor that also counts bytes and,
 * optionally, hashes them (sha256 != NULL; borrowed, must outlive the
 * writer). Init with i2k_fd_writer_init, write through i2k_fd_writer_stream,
 * then i2k_fd_writer_flush (required: unflushed bytes are lost) and
 * i2k_fd_writer_release (frees the buffer; does not close fd). */
struct i2k_fd_writer {
	int fd;
	uint64_t bytes; /* bytes accepted so far */
	struct i2k_sha256 *sha256;
	char *buf;
	size_t len;
};
void i2k_fd_writer_init(struct i2k_fd_writer *w, int fd, struct i2k_sha256 *sha256);
struct i2k_ostream i2k_fd_writer_stream(struct i2k_fd_writer *w);
int i2k_fd_writer_flush(struct i2k_fd_writer *w, struct i2k_error **err);
void i2k_fd_writer_release(struct i2k_fd_writer *w);

/* ---- compressors --------------------------------------------------------- */

/* gzip is 0 so that a zeroed options struct means LinuxKit's default. */
enum i2k_compression {
	I2K_COMPRESS_GZIP = 0,
	I2K_COMPRESS_ZSTD,
	I2K_COMPRESS_NONE,
};

/* "none", "gzip", "zstd" → kind; anything else is I2K_ERR_USAGE
 * "unknown compression X (use gzip, zstd or none)". */
int i2k_compression_parse(const char *name, enum i2k_compression *out, struct i2k_error **err);
const char *i2k_compression_name(enum i2k_compression kind);
/* File-name suffix ("", ".gz", ".zst"). */
const char *i2k_compression_suffix(enum i2k_compression kind);

#define I2K_COMPRESS_MAX_THREADS 64 /* more requested threads are capped */

struct i2k_compressor_opts {
	enum i2k_compression kind;
	int level;   /* 0 = default (gzip 6, zstd 3); gzip 1..9, zstd 1..19
			(higher is I2K_ERR_USAGE "... level N out of range 1..M") */
	int threads; /* worker threads; 0 = i2k_ncpus(). Output does not depend on it. */
	/* gzip: a directory of compressed blocks from earlier runs
	 * (blockmemo.h), NULL for none. Output does not depend on it. */
	const char *memo_dir;
};

struct i2k_compressor;

/* Creates a compressor writing to out (borrowed; out.ctx must outlive the
 * compressor). Caller owns *c and frees it with i2k_compressor_free. */
int i2k_compressor_new(const struct i2k_compressor_opts *opts, struct i2k_ostream out,
		       struct i2k_compressor **c, struct i2k_error **err);
/* Feeds len bytes. Fails with I2K_ERR_INTERNAL after finish or after an
 * earlier failure. */
int i2k_compressor_write(struct i2k_compressor *c, const void *buf, size_t len,
			 struct i2k_error **err);
/* The compressor as an ostream (ctx = c). */
struct i2k_ostream i2k_compressor_stream(struct i2k_compressor *c);
/* Ends the stream (gzip trailer, zstd epilogue) and pushes every remaining
 * byte to out. Call exactly once; nothing may be written afterwards. */
int i2k_compressor_finish(struct i2k_compressor *c, struct i2k_error **err);
uint64_t i2k_compressor_bytes_in(const struct i2k_compressor *c);
uint64_t i2k_compressor_bytes_out(const struct i2k_compressor *c);
/* gzip: blocks emitted so far, and how many of them came from memo_dir. */
void i2k_compressor_blocks(const struct i2k_compressor *c, uint64_t *blocks, uint64_t *reused);
void i2k_compressor_free(struct i2k_compressor *c);
void i2k_compressor_freep(struct i2k_compressor **c);

#endif
