/* sink.h — the one block-data interface of formats/: where filesystem,
 * partition and container writers put their bytes.
 *
 * A sink is a random-access byte target of a fixed size (a disk image, a
 * partition inside one, a temporary file holding a filesystem image).
 * write_at past the size is an error (I2K_ERR_INTERNAL "write past the end
 * of SINK"); regions never written read back as zeros and, for file sinks,
 * stay holes (sparse). The pipeline for disk formats is:
 *
 *   fstree ─► fs writer (squashfs/ext4/fat/iso) ─► file sink (temp, sparse)
 *          ─► disk layout copies each fs image to its partition offset in a
 *             raw disk sink (temp, sparse) and adds MBR/GPT + boot code
 *          ─► container writer (raw/qcow2/vhd) streams the raw disk to the
 *             output, skipping holes and zero blocks; the first raw output
 *             of a build is the raw disk's temp file itself, made beside
 *             the outputs and named at commit (no copy).
 *
 * Sinks are not thread-safe; one writer at a time.
 */
#ifndef I2K_FORMATS_SINK_H
#define I2K_FORMATS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/progress.h"

struct i2k_sink;

struct i2k_sink_ops {
	int (*write_at)(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
			struct i2k_error **err);
	int (*read_at)(struct i2k_sink *s, uint64_t off, void *buf, size_t len,
		       struct i2k_error **err);
	/* Optional: [off, off+len) is zeros (a hole). Without it
	 * i2k_sink_zero punches a hole in a file sink or writes zeros. */
	int (*zero)(struct i2k_sink *s, uint64_t off, uint64_t len, struct i2k_error **err);
	/* Flushes; after finish no more writes are accepted. */
	int (*finish)(struct i2k_sink *s, struct i2k_error **err);
	void (*destroy)(struct i2k_sink *s);
};

struct i2k_sink {
	const struct i2k_sink_ops *ops;
	uint64_t size;	  /* fixed capacity in bytes */
	const char *name; /* for messages ("ESP", "root partition", ...) */
	bool finished;
	/* Optional (borrowed): i2k_sink_write_at adds the bytes written to
	 * this sink (and through windows of it) to the meter (progress). */
	struct i2k_meter *meter;
};

/* Bounds-checked calls through ops. */
int i2k_sink_write_at(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
		      struct i2k_error **err);
int i2k_sink_read_at(struct i2k_sink *s, uint64_t off, void *buf, size_t len,
		     struct i2k_error **err);
/* Makes [off, off+len) read as zeros: the sink's zero op when it has one
 * (a hole for output and upload sinks), else a punched hole in a file
 * sink, else written zeros. Container writers call it for every run of
 * zero blocks they skip, so a sink sees the whole disk. */
int i2k_sink_zero(struct i2k_sink *s, uint64_t off, uint64_t len, struct i2k_error **err);
int i2k_sink_finish(struct i2k_sink *s, struct i2k_error **err);
void i2k_sink_free(struct i2k_sink *s); /* NULL-safe; does not finish */
void i2k_sink_freep(struct i2k_sink **s);

/* A sink over an open file: bytes [base, base+size) of fd. The fd is
 * borrowed (must outlive the sink). The file is extended to base+size with
 * ftruncate (sparse) by i2k_sink_file_new. */
int i2k_sink_file_new(int fd, uint64_t base, uint64_t size, const char *name, struct i2k_sink **out,
		      struct i2k_error **err);
/* A new anonymous sparse temporary file of `size` bytes (O_TMPFILE in
 * $TMPDIR or /var/tmp); *fd_out (optional) borrows its descriptor, owned by
 * the sink. */
int i2k_sink_tmpfile_new(uint64_t size, const char *name, struct i2k_sink **out, int *fd_out,
			 struct i2k_error **err);
/* The same in directory dir (NULL: as above), e.g. beside the outputs, so
 * that the file can become one (formats/output.h, i2k_output_adopt). */
int i2k_sink_tmpfile_new_in(const char *dir, uint64_t size, const char *name, struct i2k_sink **out,
			    int *fd_out, struct i2k_error **err);
/* From now on, starts the write-out of a file/tmpfile sink's data as it is
 * written (struct i2k_writeback, builder/base/util.h: every
 * I2K_WRITEBACK_STEP bytes), for a temporary file that is to become an
 * output, whose commit fsyncs it (formats/output.h, i2k_output_adopt).
 * Nothing for other sinks. */
void i2k_sink_write_early(struct i2k_sink *s);
/* The file descriptor and base offset behind a file/tmpfile sink (for
 * copy_file_range, SEEK_DATA/SEEK_HOLE, or libraries that need a path:
 * "/proc/self/fd/N"); -1 for other sinks. */
int i2k_sink_fd(const struct i2k_sink *s, uint64_t *base);
/* A window [off, off+size) of parent (a partition); parent must outlive it;
 * finish of a window does nothing to the parent. */
int i2k_sink_window_new(struct i2k_sink *parent, uint64_t off, uint64_t size, const char *name,
			struct i2k_sink **out, struct i2k_error **err);
/* Copies len bytes of src starting at src_off to dst at dst_off, keeping
 * holes (SEEK_DATA/SEEK_HOLE when both are file sinks). */
int i2k_sink_copy(struct i2k_sink *dst, uint64_t dst_off, struct i2k_sink *src, uint64_t src_off,
		  uint64_t len, struct i2k_error **err);

#endif
