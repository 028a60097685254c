/* output.c — a format's output files: temp names, hashing while writing,
 * early write-out, unchanged streams left alone, commit together (contract
 * in output.h). */
#include "formats/output.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "formats/unchanged.h"

#define SINK_CAPACITY (1ull << 62)

void i2k_output_result_free(struct i2k_output_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	free(r->kernel_release);
	memset(r, 0, sizeof(*r));
}

void i2k_output_result_add(struct i2k_output_result *r, const char *path, const char *format,
			   uint64_t size, const char *sha256)
{
	r->files = i2k_xrealloc(r->files, (r->nfiles + 1) * sizeof(*r->files));
	struct i2k_output_file *f = &r->files[r->nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = i2k_xstrdup(path);
	f->format = format;
	f->size = size;
	snprintf(f->sha256, sizeof(f->sha256), "%s", sha256);
}

char *i2k_output_path(const char *dir, const char *name, const char *suffix)
{
	return i2k_xasprintf("%s/%s%s", dir ? dir : ".", name, suffix);
}

/* Early write-out (struct i2k_writeback, builder/base/util.h): the commit
 * fsyncs every file. Starting the write-out of what was written every
 * I2K_WRITEBACK_STEP bytes, and of every file of the group before the
 * first fsync, lets the disk work while the build computes and while the
 * other files are flushed: the fsyncs then mostly find their data written
 * (a warm kernel+initrd rebuild: the 14 MB kernel is on disk by the time
 * the initrd is compressed). */

/* ---- the hashing sink over one output file ------------------------------- */

struct out_sink {
	struct i2k_sink base;
	int fd;			  /* borrowed from the atomic file */
	struct i2k_sha256 *sha;	  /* borrowed; NULL = not hashed */
	uint64_t hashed;	  /* bytes [0, hashed) are in sha */
	uint64_t length;	  /* end of the last byte written or zeroed */
	bool backwards;		  /* a write went before `hashed`: rehash at commit */
	struct i2k_meter *meter;  /* the group's (WRITE progress) */
	struct i2k_writeback *wb; /* the file's */
};

static void hash_zeros(struct i2k_sha256 *sha, uint64_t n)
{
	static const uint8_t zeros[65536];
	while (n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		i2k_sha256_update(sha, zeros, k);
		n -= k;
	}
}

/* Brings the running hash up to off with zeros; false when off is behind
 * or the file is not hashed. */
static bool hash_to(struct out_sink *o, uint64_t off)
{
	if (o->sha == NULL)
		return false;
	if (o->backwards || off < o->hashed) {
		o->backwards = true;
		return false;
	}
	hash_zeros(o->sha, off - o->hashed);
	o->hashed = off;
	return true;
}

static void grow(struct out_sink *o, uint64_t end)
{
	if (end > o->length)
		o->length = end;
}

static int osink_write(struct i2k_sink *s, uint64_t off, const void *buf, size_t len,
		       struct i2k_error **err)
{
	struct out_sink *o = (struct out_sink *)s;
	if (i2k_pwrite_all(o->fd, buf, len, (off_t)off, err) < 0)
		return -1;
	i2k_meter_add(o->meter, len);
	i2k_writeback_add(o->wb, len);
	if (hash_to(o, off)) {
		i2k_sha256_update(o->sha, buf, len);
		o->hashed += len;
	}
	grow(o, off + len);
	return 0;
}

static int osink_zero(struct i2k_sink *s, uint64_t off, uint64_t len, struct i2k_error **err)
{
	struct out_sink *o = (struct out_sink *)s;
	if (off < o->length) {
		/* Zeroing bytes already written: punch them (rare). */
		uint64_t n = o->length - off < len ? o->length - off : len;
		if (fallocate(o->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			      (off_t)n) < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "punching a hole");
	}
	if (hash_to(o, off)) {
		hash_zeros(o->sha, len);
		o->hashed += len;
	}
	grow(o, off + len);
	return 0;
}

static int osink_read(struct i2k_sink *s, uint64_t off, void *buf, size_t len,
		      struct i2k_error **err)
{
	struct out_sink *o = (struct out_sink *)s;
	memset(buf, 0, len);
	if (off >= o->length)
		return 0;
	size_t n = o->length - off < len ? (size_t)(o->length - off) : len;
	ssize_t got = pread(o->fd, buf, n, (off_t)off);
	if (got < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "reading back %s", s->name);
	return 0; /* past the file's end (a trailing hole) reads as zeros */
}

/* Sets the file's length (trailing holes) and completes the hash. */
static int osink_finish(struct i2k_sink *s, struct i2k_error **err)
{
	struct out_sink *o = (struct out_sink *)s;
	struct stat st;
	if (fstat(o->fd, &st) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", s->name);
	if ((uint64_t)st.st_size < o->length && ftruncate(o->fd, (off_t)o->length) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", s->name);
	if (!o->backwards)
		hash_to(o, o->length);
	return 0;
}

static void osink_destroy(struct i2k_sink *s)
{
	(void)s; /* embedded in the group */
}

static const struct i2k_sink_ops out_sink_ops = {.write_at = osink_write,
						 .read_at = osink_read,
						 .zero = osink_zero,
						 .finish = osink_finish,
						 .destroy = osink_destroy};

/* ---- the group ------------------------------------------------------------ */

struct out_file {
	struct i2k_atomic_file af;
	struct i2k_fd_writer fw; /* stream mode */
	struct i2k_sha256 *sha;	 /* NULL = not hashed */
	struct out_sink sink;	 /* sink mode */
	struct i2k_writeback wb;
	bool sink_used;
	/* stream mode: compared with the old file until the first difference
	 * (started at the first write, or at the commit of an empty stream) */
	struct i2k_unchanged same;
	bool same_started;
	bool adopted; /* the file is a temp file made elsewhere (i2k_output_adopt) */
	uint64_t adopted_size;
	struct i2k_meter *meter; /* the group's */
};

struct i2k_output_group {
	size_t n;
	struct out_file f[I2K_OUTPUT_MAX_FILES];
	struct i2k_meter meter; /* WRITE progress (no callback: silent) */
};

int i2k_output_group_open(const char *dir, const char *name, const char *const *suffixes, size_t n,
			  bool hash, struct i2k_output_group **out, struct i2k_error **err)
{
	if (n == 0 || n > I2K_OUTPUT_MAX_FILES)
		return i2k_error_set(err, I2K_ERR_INTERNAL, "output group of %zu files", n);
	struct i2k_output_group *g = i2k_xcalloc(1, sizeof(*g));
	for (size_t i = 0; i < n; i++)
		g->f[i].af.fd = g->f[i].same.fd = -1; /* (-1: not comparing) */
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = i2k_output_path(dir, name, suffixes[i]);
		struct out_file *f = &g->f[i];
		if (i2k_atomic_open(&f->af, path, 0644, err) < 0) {
			i2k_output_group_free(g);
			return -1;
		}
		g->n = i + 1;
		f->sha = hash ? i2k_sha256_new() : NULL;
		i2k_fd_writer_init(&f->fw, f->af.fd, f->sha);
		f->sink.base = (struct i2k_sink){
		    .ops = &out_sink_ops, .size = SINK_CAPACITY, .name = f->af.final_path};
		f->sink.fd = f->af.fd;
		f->sink.sha = f->sha;
		f->sink.meter = &g->meter;
		f->sink.wb = &f->wb;
		f->wb.fd = f->af.fd;
		f->meter = &g->meter;
	}
	*out = g;
	return 0;
}

void i2k_output_group_progress(struct i2k_output_group *g, const struct i2k_stage_cb *cb,
			       const char *what, uint64_t total)
{
	i2k_meter_begin(&g->meter, cb, I2K_STAGE_WRITE, what, NULL, total);
}

static void same_start(struct out_file *f)
{
	if (!f->same_started)
		i2k_unchanged_open(&f->same, f->af.final_path);
	f->same_started = true;
}

/* The new bytes differ from the old file's: the equal prefix goes into the
 * temp file, which the fd writer then goes on from. */
static int same_end(struct out_file *f, struct i2k_error **err)
{
	if (!i2k_unchanged_active(&f->same))
		return 0;
	if (i2k_unchanged_materialize(&f->same, f->af.fd, err) < 0)
		return i2k_error_wrap(err, "writing %s", f->af.final_path);
	f->fw.bytes = f->same.len;
	i2k_writeback_add(&f->wb, f->same.len);
	return 0;
}

/* The stream of one file: compared with the old file while they are the
 * same (hashed here then), else through its fd writer; counted by the
 * group's meter. */
static int metered_write(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	struct out_file *f = ctx;
	same_start(f);
	i2k_meter_add(f->meter, len);
	if (i2k_unchanged_active(&f->same)) {
		if (i2k_unchanged_feed(&f->same, buf, len)) {
			if (f->sha)
				i2k_sha256_update(f->sha, buf, len);
			return 0;
		}
		if (same_end(f, err) < 0)
			return -1;
	}
	if (i2k_ostream_write(i2k_fd_writer_stream(&f->fw), buf, len, err) < 0)
		return -1;
	i2k_writeback_add(&f->wb, len);
	return 0;
}

struct i2k_ostream i2k_output_stream(struct i2k_output_group *g, size_t i)
{
	return (struct i2k_ostream){.write = metered_write, .ctx = &g->f[i]};
}

struct i2k_sink *i2k_output_sink(struct i2k_output_group *g, size_t i)
{
	g->f[i].sink_used = true;
	return &g->f[i].sink.base;
}

int i2k_output_adopt(struct i2k_output_group *g, size_t i, int fd, uint64_t size,
		     struct i2k_error **err)
{
	struct out_file *f = &g->f[i];
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > size || i2k_atomic_adopt(&f->af, fd) < 0)
		return 0;
	f->adopted = true;
	f->adopted_size = size;
	f->fw.fd = f->sink.fd = f->wb.fd = f->af.fd;
	if (((uint64_t)st.st_size < size && ftruncate(f->af.fd, (off_t)size) < 0) ||
	    fchmod(f->af.fd, 0644) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", f->af.final_path);
	i2k_writeback_start(&f->wb);
	return 1;
}

/* The digest of f's file as it is on disk, size bytes: for a file not
 * written in order (an adopted disk, a sink that went backwards). */
static int rehash(struct out_file *f, uint64_t size, char digest[I2K_DIGEST_LEN + 1],
		  struct i2k_error **err)
{
	_cleanup_(i2k_sha256_freep) struct i2k_sha256 *h = i2k_sha256_new();
	if (i2k_sha256_update_fd(h, f->af.fd, 0, size, err) < 0)
		return i2k_error_wrap(err, "%s", f->af.final_path);
	i2k_sha256_final(h, digest);
	return 0;
}

/* Flushes file f and takes its size and digest. */
static int close_one(struct out_file *f, uint64_t *size, char digest[I2K_DIGEST_LEN + 1],
		     struct i2k_error **err)
{
	if (f->adopted) {
		*size = f->adopted_size;
		return f->sha ? rehash(f, *size, digest, err) : 0;
	}
	if (!f->sink_used) {
		same_start(f);
		/* a prefix of the old file is not the old file */
		if (f->same.len != f->same.old_size && same_end(f, err) < 0)
			return -1;
		if (i2k_fd_writer_flush(&f->fw, err) < 0)
			return i2k_error_wrap(err, "writing %s", f->af.final_path);
		*size = i2k_unchanged_active(&f->same) ? f->same.len : f->fw.bytes;
		if (f->sha)
			i2k_sha256_final(f->sha, digest);
		return 0;
	}
	if (i2k_sink_finish(&f->sink.base, err) < 0)
		return i2k_error_wrap(err, "writing %s", f->af.final_path);
	*size = f->sink.length;
	if (f->sha == NULL)
		return 0;
	if (f->sink.backwards)
		return rehash(f, *size, digest, err);
	i2k_sha256_final(f->sha, digest);
	return 0;
}

int i2k_output_group_commit(struct i2k_output_group *g, const char *format,
			    struct i2k_output_result *res, struct i2k_error **err)
{
	uint64_t sizes[I2K_OUTPUT_MAX_FILES];
	char digests[I2K_OUTPUT_MAX_FILES][I2K_DIGEST_LEN + 1] = {{0}};
	char *paths[I2K_OUTPUT_MAX_FILES] = {0};
	for (size_t i = 0; i < g->n; i++)
		if (close_one(&g->f[i], &sizes[i], digests[i], err) < 0)
			return -1;
	for (size_t i = 0; i < g->n; i++) {
		i2k_writeback_start(&g->f[i].wb);
		paths[i] = i2k_xstrdup(g->f[i].af.final_path);
	}
	int r = 0;
	size_t done = 0;
	bool kept[I2K_OUTPUT_MAX_FILES] = {0};
	for (; done < g->n; done++) {
		struct out_file *f = &g->f[done];
		if (i2k_check_interrupt(err) < 0) {
			r = -1;
			break;
		}
		/* The old file holds these very bytes: it stays, the temp file goes. */
		if (i2k_unchanged_active(&f->same) && i2k_unchanged_kept(&f->same, paths[done])) {
			kept[done] = true;
			i2k_atomic_abort(&f->af);
			continue;
		}
		/* On failure i2k_atomic_commit removes its temp file itself. */
		if (same_end(f, err) < 0 || i2k_atomic_commit(&f->af, err) < 0) {
			r = -1;
			break;
		}
	}
	if (r < 0)
		for (size_t j = 0; j < done; j++)
			if (!kept[j])
				unlink(paths[j]);
	for (size_t i = 0; r == 0 && i < g->n; i++)
		i2k_output_result_add(res, paths[i], format, sizes[i], digests[i]);
	if (r == 0) {
		uint64_t total = 0;
		for (size_t i = 0; i < g->n; i++)
			total += sizes[i];
		i2k_meter_set(&g->meter, total, 0);
		i2k_meter_end(&g->meter);
	}
	for (size_t i = 0; i < g->n; i++)
		free(paths[i]);
	return r;
}

void i2k_output_group_free(struct i2k_output_group *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n; i++) {
		i2k_atomic_abort(&g->f[i].af); /* no-op after commit */
		i2k_unchanged_close(&g->f[i].same);
		i2k_fd_writer_release(&g->f[i].fw);
		i2k_sha256_free(g->f[i].sha);
	}
	free(g);
}

void i2k_output_group_freep(struct i2k_output_group **g)
{
	i2k_output_group_free(*g);
	*g = NULL;
}
