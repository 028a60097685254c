/* util.h — memory, strings, files and time helpers shared by every stage.
 *
 * Allocation: i2k_x* functions abort on out-of-memory (the builder treats OOM
 * as fatal; the guest init never uses this file).
 */
#ifndef I2K_BUILDER_BASE_UTIL_H
#define I2K_BUILDER_BASE_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "builder/base/error.h"

void *i2k_xmalloc(size_t n);
void *i2k_xcalloc(size_t n, size_t size);
void *i2k_xrealloc(void *p, size_t n);
/* Grows *arr (element size elsz) so that it holds at least need elements;
 * *cap is updated. */
void i2k_xgrow(void **arr, size_t *cap, size_t need, size_t elsz);
char *i2k_xstrdup(const char *s); /* NULL → NULL */
char *i2k_xstrndup(const char *s, size_t n);
char *i2k_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

bool i2k_str_has_prefix(const char *s, const char *prefix);
bool i2k_str_has_suffix(const char *s, const char *suffix);

/* Growable byte buffer with a hard maximum (0 = unlimited). Data is always
 * NUL-terminated (not counted in len). */
struct i2k_buf {
	char *data;
	size_t len, cap, max;
};
/* Appends; returns -1 with I2K_ERR_INTEGRITY "... exceeds N bytes" when max
 * would be exceeded. */
int i2k_buf_append(struct i2k_buf *b, const void *data, size_t len, struct i2k_error **err);
void i2k_buf_free(struct i2k_buf *b); /* frees data, zeroes the struct but keeps max */

/* Reads a whole file (at most max bytes, else I2K_ERR_INTEGRITY). *out is
 * NUL-terminated and owned by the caller. */
int i2k_read_file(const char *path, size_t max, char **out, size_t *len, struct i2k_error **err);
int i2k_read_fd(int fd, size_t max, char **out, size_t *len, struct i2k_error **err);
/* Writes all of buf, retrying on EINTR / short writes. */
int i2k_write_all(int fd, const void *buf, size_t len, struct i2k_error **err);
int i2k_pwrite_all(int fd, const void *buf, size_t len, off_t off, struct i2k_error **err);
/* pread exactly len bytes (short read → I2K_ERR_IO "unexpected end of file"). */
int i2k_pread_all(int fd, void *buf, size_t len, off_t off, struct i2k_error **err);
/* Copies len bytes of in, from in_off, to out at out_off; neither file
 * offset moves. copy_file_range (a reflink or an in-kernel copy where the
 * filesystem allows); where the kernel cannot (EXDEV, EINVAL, ENOSYS,
 * EOPNOTSUPP, EBADF) or in ends early, the rest goes through a buffer
 * (pread/pwrite), so a short in is I2K_ERR_IO "unexpected end of file".
 * Checks i2k_check_interrupt() between chunks. */
int i2k_copy_fd_range(int in, uint64_t in_off, int out, uint64_t out_off, uint64_t len,
		      struct i2k_error **err);
/* mkdir -p with mode for created dirs. */
int i2k_mkdir_p(const char *path, mode_t mode, struct i2k_error **err);
/* rm -rf (does not follow symlinks). Missing path is not an error. */
int i2k_rm_rf(const char *path, struct i2k_error **err);
/* Disk use (allocated blocks) of the regular files directly in dir into
 * *bytes, and how many of them end in suffix into *count. A missing or
 * unreadable dir is 0 and 0. */
void i2k_dir_usage(const char *dir, const char *suffix, size_t *count, uint64_t *bytes);
/* fsync the directory containing path. */
int i2k_fsync_parent(const char *path, struct i2k_error **err);

/* Early write-out of a file that will be fsynced (an output before its
 * commit): i2k_writeback_add counts the bytes written to it and, every
 * I2K_WRITEBACK_STEP of them, starts the write-out of all of its dirty
 * pages (sync_file_range SYNC_FILE_RANGE_WRITE, which does not wait for the
 * disk); i2k_writeback_start does that at once. The disk then works while
 * the build computes, and the fsync finds most of the data written. Once
 * more than `keep` bytes (0: I2K_WRITEBACK_KEEP) were written, each step
 * also drops the file's pages that are already on disk from the page cache
 * (POSIX_FADV_DONTNEED, which leaves dirty pages and pages still being
 * written alone): a big image then holds about one step of the page cache
 * plus what is being written, instead of its size, and the pages freed are
 * the next ones written. Reading such a file back (a qcow2 made from a raw
 * disk) reads the disk. Only hints: errors surface at the fsync. fd -1
 * only counts. */
#define I2K_WRITEBACK_STEP (8u << 20)
#define I2K_WRITEBACK_KEEP (256u << 20)
struct i2k_writeback {
	int fd;
	uint64_t pending; /* bytes written since the last start */
	uint64_t written; /* bytes written in all */
	uint64_t keep;	  /* 0 → I2K_WRITEBACK_KEEP */
};
void i2k_writeback_start(struct i2k_writeback *w);
void i2k_writeback_add(struct i2k_writeback *w, size_t n);

/* Atomic output file. The data goes to an unnamed file in the
 * destination's directory (O_TMPFILE) where the file system supports it —
 * a writer killed (even by SIGKILL) before commit leaves nothing — else to
 * a hidden ".NAME.tmp-PID-XXXXXX" file. commit fsyncs, gives the unnamed
 * file that temp name (linkat), renames it over the final name and fsyncs
 * the directory; abort (or free without commit) drops the data. open first
 * sweeps the directory of ".*.tmp-PID-XXXXXX" files whose writer pid is no
 * longer alive (i2k_atomic_sweep). Use for every output so that no partial
 * file ever looks complete; a multi-file output opens all its files and
 * commits them together at the end. */
struct i2k_atomic_file {
	int fd;
	char *tmp_path; /* NULL while the file is unnamed */
	char *final_path;
};
int i2k_atomic_open(struct i2k_atomic_file *af, const char *final_path, mode_t mode,
		    struct i2k_error **err);
/* Makes af's file another complete unnamed file (fd: O_TMPFILE on the
 * final name's filesystem, duplicated here), named at once under a temp
 * name beside the final one; af's own file is dropped. -1 with errno and
 * af unchanged when fd cannot be named there (another filesystem, a file
 * that was not O_TMPFILE): the caller then writes af's file as usual. */
int i2k_atomic_adopt(struct i2k_atomic_file *af, int fd);
int i2k_atomic_commit(struct i2k_atomic_file *af, struct i2k_error **err);
/* Safe after commit, after a failed open, or twice; a struct that was never
 * opened must have fd = -1 and NULL paths (i2k_atomic_open sets that up). */
void i2k_atomic_abort(struct i2k_atomic_file *af);
/* Removes the ".*.tmp-PID-XXXXXX" files in dir whose writer is dead. */
void i2k_atomic_sweep(const char *dir);
/* Convenience: whole buffer → file atomically. */
int i2k_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
			  struct i2k_error **err);

/* A new anonymous temporary file for reading and writing, already unlinked
 * (O_TMPFILE; where the file system lacks it, mkostemp + unlink), in dir or,
 * for NULL/"", in $TMPDIR or /var/tmp. Returns the descriptor (the
 * caller's) or -1 with I2K_ERR_IO "WHAT in DIR: WHY" (what: e.g. "spool"). */
int i2k_tmpfile(const char *dir, const char *what, struct i2k_error **err);
/* Gives the file fd from i2k_tmpfile() the name path (linkat through
 * /proc/self/fd), so that it appears whole or not at all. An existing path
 * is replaced when replace; else it stays and that counts as success
 * (another writer stored the same content first). I2K_ERR_IO "storing PATH:
 * WHY" otherwise, also where i2k_tmpfile had to fall back to mkostemp (that
 * file has no name left to link). */
int i2k_tmpfile_link(int fd, const char *path, bool replace, struct i2k_error **err);

/* Timestamp used for every generated entry in outputs: $SOURCE_DATE_EPOCH if
 * set and valid, else 0 (1970-01-01) — never the wall clock. */
int64_t i2k_source_date_epoch(void);

/* Set to 1 by the CLI's SIGINT/SIGTERM handler. Long loops call
 * i2k_check_interrupt() and stop with I2K_ERR_INTERRUPTED. */
extern volatile sig_atomic_t i2k_interrupted;
int i2k_check_interrupt(struct i2k_error **err);

/* Warnings from library code (e.g. "trust: ignored") go through this hook;
 * the CLI installs a printer, the default writes "i2kit: warning: MSG\n" to
 * stderr. */
typedef void (*i2k_warn_fn)(const char *msg, void *ctx);
void i2k_set_warn_handler(i2k_warn_fn fn, void *ctx);
void i2k_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Number of online CPUs (>= 1). */
int i2k_ncpus(void);

#endif
