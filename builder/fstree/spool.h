/* spool.h — append-only store of file contents: one unlinked temp file.
 *
 * The fstree never holds file data in memory: regular files are extents
 * (offset, size) of a spool. Included by fstree.h; see there for how trees
 * use it.
 *
 * Concurrency: i2k_spool_append / append_fd are thread-safe. A streamed
 * extent (begin ... write ... end) belongs to one writer: other appenders
 * block until that writer calls end (or abort). begin must always be
 * followed by end or abort on the same spool, even after a failed write,
 * and the streaming thread must not call append on the same spool in
 * between (it would wait for itself).
 */
#ifndef I2K_BUILDER_FSTREE_SPOOL_H
#define I2K_BUILDER_FSTREE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

struct i2k_spool;

/* Creates a spool in dir (NULL → $TMPDIR or /var/tmp). Caller owns it; it
 * must outlive every tree that references it. Thread-safe appends. The file
 * is unlinked at once (O_TMPFILE, or mkstemp + unlink), so it disappears
 * with the process whatever happens. */
int i2k_spool_new(const char *dir, struct i2k_spool **out, struct i2k_error **err);
void i2k_spool_free(struct i2k_spool *s);
void i2k_spool_freep(struct i2k_spool **s);
/* Appends len bytes; *off gets the extent's offset. */
int i2k_spool_append(struct i2k_spool *s, const void *data, size_t len, uint64_t *off,
		     struct i2k_error **err);
/* Streams an extent: begin reserves the current end, write appends (single
 * writer at a time between begin and end), end returns the size. Used to copy
 * a tar entry of unknown-in-advance length without buffering it. */
int i2k_spool_begin(struct i2k_spool *s, uint64_t *off, struct i2k_error **err);
int i2k_spool_write(struct i2k_spool *s, const void *data, size_t len, struct i2k_error **err);
/* Added: writes at offset rel within the current stream (sparse entries);
 * the stream's length becomes max(length, rel + len); skipped ranges are
 * holes that read as zeros. */
int i2k_spool_write_at(struct i2k_spool *s, uint64_t rel, const void *data, size_t len,
		       struct i2k_error **err);
/* Added: makes the current stream at least len bytes long (a trailing hole). */
void i2k_spool_extend(struct i2k_spool *s, uint64_t len);
int i2k_spool_end(struct i2k_spool *s, uint64_t *size, struct i2k_error **err);
/* Added: ends the current stream discarding it (its space is reused). */
void i2k_spool_abort(struct i2k_spool *s);
/* Appends the contents of an open fd (from its current offset to EOF). */
int i2k_spool_append_fd(struct i2k_spool *s, int fd, uint64_t *off, uint64_t *size,
			struct i2k_error **err);
/* Reads exactly len bytes at off (short read → I2K_ERR_IO). */
int i2k_spool_read(struct i2k_spool *s, uint64_t off, void *buf, size_t len,
		   struct i2k_error **err);
/* Maps a read-only file into the spool's offset space without copying it:
 * its byte x is at spool offset *base + x from now on (extents of trees can
 * point there, e.g. a cached unpacked layer). The spool keeps a duplicate
 * of fd; the file must not change while the spool lives. */
int i2k_spool_attach(struct i2k_spool *s, int fd, uint64_t size, uint64_t *base,
		     struct i2k_error **err);
/* The file descriptor holding spool offset off (the temp file or an attached
 * file) and, in *file_off, where off is in that file: for pread,
 * copy_file_range and SEEK_DATA by writers (read-only use; an extent never
 * spans two files). Owned by the spool; -1 for an offset in no file. */
int i2k_spool_fd_at(struct i2k_spool *s, uint64_t off, uint64_t *file_off);
/* Bytes of data the spool holds: its temp file's end plus every attached
 * file (a bound for writers sizing their output). */
uint64_t i2k_spool_size(struct i2k_spool *s);
/* Copies the extent [off, off+size) into a new anonymous temporary file
 * ($TMPDIR or /var/tmp) positioned at 0, for APIs that read a whole file
 * from a descriptor (a kernel.tar layer, a kernel for the ISO writer).
 * *out is the caller's. */
int i2k_spool_extent_fd(struct i2k_spool *s, uint64_t off, uint64_t size, int *out,
			struct i2k_error **err);

#endif
