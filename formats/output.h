/* output.h — the files one format writes: DIR/NAME+SUFFIX each, written
 * under a hidden temporary name, hashed (SHA-256) while they are written
 * when the caller asks for digests, and committed together.
 *
 *   struct i2k_output_group *g;
 *   i2k_output_group_open(dir, name, suffixes, n, hash, &g, &err);
 *   ... write file i through i2k_output_stream(g, i)   (sequential bytes)
 *       or through i2k_output_sink(g, i)               (a block sink: container
 *                                                       writers, any offset)
 *   i2k_output_group_commit(g, "raw-efi", &result, &err);
 *   i2k_output_group_free(g);   // removes every file not committed
 *
 * Nothing appears under a final name until every file of the group is
 * complete and fsynced; a failure or interruption (i2k_check_interrupt is
 * checked before the commit) leaves no file that looks complete, and a
 * commit that fails half-way removes the files it had already renamed. An
 * existing file under a final name is replaced only by a successful commit.
 * Files are mode 0644.
 *
 * Unchanged streams: a file written through i2k_output_stream whose bytes
 * are those of the file already under its final name (formats/unchanged.h)
 * is never written: the commit leaves the old file in place, inode and
 * mtime included, and fsyncs it. Sinks are always written.
 *
 * Hashing costs what the file is long (a sparse disk's holes are hashed as
 * zeros: about 0.6 ms per MiB here), so it is done only when asked for
 * (`build --json` reports the digests); without it sha256 is "".
 * A stream is hashed as it goes. A sink hashes the bytes written in
 * increasing offset order, regions skipped with i2k_sink_zero and gaps as
 * zeros, so a sparse disk is hashed without reading it back; only when a
 * writer goes back to an earlier offset (a header written last) is the file
 * read once more at commit to hash it.
 */
#ifndef I2K_FORMATS_OUTPUT_H
#define I2K_FORMATS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/base/progress.h"
#include "formats/sink.h"
#include "initrd/compress.h"

#define I2K_OUTPUT_MAX_FILES 4

struct i2k_output_file {
	char *path;	    /* DIR/NAME+SUFFIX; owned */
	const char *format; /* the format's name (static) */
	uint64_t size;
	char sha256[I2K_DIGEST_LEN + 1]; /* "sha256:<hex>"; "" when not hashed */
};

struct i2k_output_result {
	struct i2k_output_file *files;
	size_t nfiles;
	/* Kernel release ("6.1.0-9-cloud-amd64") when the kernel is a bzImage
	 * with a version string, else NULL. Owned. */
	char *kernel_release;
};
void i2k_output_result_free(struct i2k_output_result *r); /* frees contents, zeroes */
/* Appends a file record (path copied). */
void i2k_output_result_add(struct i2k_output_result *r, const char *path, const char *format,
			   uint64_t size, const char *sha256);

/* "DIR/NAME+SUFFIX" (dir NULL → "."); caller frees. */
char *i2k_output_path(const char *dir, const char *name, const char *suffix);

struct i2k_output_group;

/* Opens n (1..I2K_OUTPUT_MAX_FILES) temporary files for
 * DIR/NAME+suffixes[i]; dir must exist. hash: compute each file's sha256
 * for the result (else it is ""). *out is the caller's. */
int i2k_output_group_open(const char *dir, const char *name, const char *const *suffixes, size_t n,
			  bool hash, struct i2k_output_group **out, struct i2k_error **err);
/* Reports WRITE progress (what: e.g. the format's name, borrowed; total
 * 0 = unknown) to cb (borrowed; may be NULL): BEGIN now, the bytes written
 * to every file of the group (streams and sinks; zeroed holes do not
 * count) as they go, END at a successful commit. */
void i2k_output_group_progress(struct i2k_output_group *g, const struct i2k_stage_cb *cb,
			       const char *what, uint64_t total);
/* Buffered, hashing writer for file i (borrowed from the group). */
struct i2k_ostream i2k_output_stream(struct i2k_output_group *g, size_t i);
/* A block sink over file i (borrowed; its capacity is unbounded, the
 * file's length is the end of the last byte written or zeroed). Do not mix
 * with i2k_output_stream for the same file. */
struct i2k_sink *i2k_output_sink(struct i2k_output_group *g, size_t i);
/* Makes file i the file behind fd instead of writing it: fd is a complete
 * unnamed temp file in the output directory that nothing writes any more
 * (a raw disk this build made, i2k_sink_tmpfile_new_in), whose first size
 * bytes are the file (it is extended with a hole when shorter). The bytes
 * are then never copied. 1 when adopted, 0 when fd cannot become the file
 * (another filesystem, not O_TMPFILE, longer than size): write it as usual,
 * -1 on error. Do not also write file i. */
int i2k_output_adopt(struct i2k_output_group *g, size_t i, int fd, uint64_t size,
		     struct i2k_error **err);
/* Flushes, hashes (when asked) and commits every file, then appends them
 * to res (in suffix order, with the format name). */
int i2k_output_group_commit(struct i2k_output_group *g, const char *format,
			    struct i2k_output_result *res, struct i2k_error **err);
/* NULL-safe; removes the temporary files of an uncommitted group. */
void i2k_output_group_free(struct i2k_output_group *g);
void i2k_output_group_freep(struct i2k_output_group **g);

#endif
