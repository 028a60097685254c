/* test_base.c — builder/base: the error contract and exit codes, digests,
 * bounded buffers, atomic output files, SOURCE_DATE_EPOCH, mkdir/rm. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "test.h"
#include "testutil.h"

TEST(error_set_wrap_first_wins)
{
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_error_set(&e, I2K_ERR_CONFIG, "bad %s", "thing"), -1);
	CHECK_INT(i2k_error_set(&e, I2K_ERR_IO, "second"), -1); /* dropped */
	CHECK_INT(i2k_error_wrap(&e, "loading %s", "a.yml"), -1);
	CHECK_STR(e->msg, "loading a.yml: bad thing");
	CHECK_INT(e->code, I2K_ERR_CONFIG);
	i2k_error_free(e);
	CHECK_INT(i2k_error_wrap(NULL, "x"), -1); /* NULL-safe */
	i2k_error_free(NULL);
}

TEST(error_errno_and_disk_full)
{
	struct i2k_error *e = NULL;
	i2k_error_errno(&e, ENOENT, I2K_ERR_NOTFOUND, "open %s", "f");
	CHECK_STR(e->msg, "open f: No such file or directory");
	CHECK_INT(e->errnum, ENOENT);
	i2k_error_free(e);
	e = NULL;
	i2k_error_errno(&e, ENOSPC, I2K_ERR_IO, "write out.tar");
	CHECK_STR(e->msg, "write out.tar: no space left on device");
	i2k_error_free(e);
}

TEST(exit_codes)
{
	struct i2k_error e = {0};
	struct {
		enum i2k_errc c;
		int want;
	} cases[] = {{I2K_ERR_USAGE, 2},     {I2K_ERR_CONFIG, 1},	 {I2K_ERR_NOTFOUND, 1},
		     {I2K_ERR_NETWORK, 3},   {I2K_ERR_REGISTRY, 3},	 {I2K_ERR_AUTH, 3},
		     {I2K_ERR_INTEGRITY, 1}, {I2K_ERR_HOSTILE, 1},	 {I2K_ERR_OFFLINE, 1},
		     {I2K_ERR_IO, 1},	     {I2K_ERR_INTERRUPTED, 130}, {I2K_ERR_UNSUPPORTED, 1},
		     {I2K_ERR_INTERNAL, 4}};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(cases); i++) {
		e.code = cases[i].c;
		CHECK_INT(i2k_error_exit_code(&e), cases[i].want);
		CHECK(strcmp(i2k_errc_name(cases[i].c), "unknown") != 0);
	}
	CHECK_INT(i2k_error_exit_code(NULL), 0);
	struct i2k_error *dst = NULL, *src = NULL;
	i2k_error_set(&src, I2K_ERR_IO, "x");
	i2k_error_propagate(&dst, &src);
	CHECK(src == NULL && dst && dst->code == I2K_ERR_IO);
	i2k_error_free(dst);
}

TEST(digests)
{
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest("abc", 3, d);
	CHECK_STR(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(i2k_digest_valid(d));
	CHECK(!i2k_digest_valid(
	    "sha256:BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(!i2k_digest_valid("sha256:../../etc/passwd"));
	CHECK(!i2k_digest_valid(
	    "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	CHECK(!i2k_digest_valid(NULL));
	struct i2k_sha256 *h = i2k_sha256_new();
	i2k_sha256_update(h, "a", 1);
	i2k_sha256_update(h, "bc", 2);
	char d2[I2K_DIGEST_LEN + 1];
	i2k_sha256_final(h, d2);
	i2k_sha256_free(h);
	CHECK_STR(d2, d);
}

TEST(bounded_buffer)
{
	struct i2k_buf b = {.max = 8};
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_buf_append(&b, "12345", 5, &e), 0);
	CHECK_INT(i2k_buf_append(&b, "678", 3, &e), 0);
	CHECK_STR(b.data, "12345678");
	CHECK_INT(i2k_buf_append(&b, "9", 1, &e), -1);
	CHECK(e && e->code == I2K_ERR_INTEGRITY);
	CHECK_CONTAINS(e ? e->msg : NULL, "exceeds 8 bytes");
	i2k_error_free(e);
	i2k_buf_free(&b);
	CHECK_INT(b.max, 8);
}

TEST(atomic_file_commit_and_abort)
{
	char path[512], other[600];
	snprintf(path, sizeof(path), "%s/out.bin", tmpdir);
	struct i2k_atomic_file af;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_atomic_open(&af, path, 0640, &e), 0);
	CHECK_INT(i2k_write_all(af.fd, "hello", 5, &e), 0);
	CHECK(access(path, F_OK) != 0); /* nothing under the final name yet */
	CHECK_INT(i2k_atomic_commit(&af, &e), 0);
	char *s = read_text(path);
	CHECK_STR(s, "hello");
	free(s);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);

	snprintf(other, sizeof(other), "%s/aborted.bin", tmpdir);
	CHECK_INT(i2k_atomic_open(&af, other, 0644, &e), 0);
	CHECK_INT(i2k_write_all(af.fd, "x", 1, &e), 0);
	i2k_atomic_abort(&af);
	i2k_atomic_abort(&af); /* twice is fine */
	CHECK(access(other, F_OK) != 0);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s | grep -v '^out.bin$')\"", tmpdir);
	CHECK_INT(run(cmd), 0); /* no temp file left */

	snprintf(other, sizeof(other), "%s/no/such/dir/f", tmpdir);
	CHECK_INT(i2k_atomic_open(&af, other, 0644, &e), -1);
	CHECK(e && e->code == I2K_ERR_IO);
	i2k_error_free(e);
}

/* The data is in an unnamed file until commit (where the file system has
 * O_TMPFILE, as the test's tmpfs/ext4 has): the directory shows nothing
 * while it is written, so a SIGKILL cannot leave a temp file. */
TEST(atomic_file_unnamed_until_commit)
{
	char dir[512], path[600], cmd[800];
	snprintf(dir, sizeof(dir), "%s/unnamed", tmpdir);
	CHECK_INT(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/img.raw", dir);
	struct i2k_atomic_file af;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_atomic_open(&af, path, 0644, &e), 0);
	CHECK(af.tmp_path == NULL);
	CHECK_INT(i2k_write_all(af.fd, "data", 4, &e), 0);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\"", dir);
	CHECK_INT(run(cmd), 0);
	CHECK_INT(i2k_atomic_commit(&af, &e), 0);
	snprintf(cmd, sizeof(cmd), "test \"$(ls -A %s)\" = img.raw", dir);
	CHECK_INT(run(cmd), 0);
	/* replacing an existing output works too */
	CHECK_INT(i2k_atomic_open(&af, path, 0644, &e), 0);
	CHECK_INT(i2k_write_all(af.fd, "new", 3, &e), 0);
	CHECK_INT(i2k_atomic_commit(&af, &e), 0);
	char *s = read_text(path);
	CHECK_STR(s, "new");
	free(s);
	CHECK_INT(run(cmd), 0);
	i2k_error_free(e);
}

static int touch(const char *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	return fd < 0 ? -1 : close(fd);
}

/* Temp files of dead writers are swept by the next open in the directory;
 * those of live writers and foreign names are left alone. */
TEST(atomic_sweep_dead_writers)
{
	char dir[512], p[700], cmd[900];
	snprintf(dir, sizeof(dir), "%s/sweep", tmpdir);
	CHECK_INT(mkdir(dir, 0755), 0);
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	CHECK_INT(waitpid(child, NULL, 0), child);
	snprintf(p, sizeof(p), "%s/.out.tar.tmp-%ld-abc123", dir, (long)child);
	CHECK_INT(touch(p), 0);
	snprintf(p, sizeof(p), "%s/.out.tar.tmp-%ld-abc123", dir, (long)getppid());
	CHECK_INT(touch(p), 0);
	snprintf(p, sizeof(p), "%s/.out.tar.tmp-XyZ123", dir);
	CHECK_INT(touch(p), 0);
	snprintf(p, sizeof(p), "%s/out.tar.tmp-%ld-abc123", dir, (long)child);
	CHECK_INT(touch(p), 0);
	snprintf(p, sizeof(p), "%s/new.tar", dir);
	struct i2k_atomic_file af;
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_atomic_open(&af, p, 0644, &e), 0);
	i2k_atomic_abort(&af);
	snprintf(cmd, sizeof(cmd),
		 "test \"$(ls -A %s | sort | tr '\\n' ' ')\" = \".out.tar.tmp-%ld-abc123 "
		 ".out.tar.tmp-XyZ123 out.tar.tmp-%ld-abc123 \"",
		 dir, (long)getppid(), (long)child);
	CHECK_INT(run(cmd), 0);
	i2k_error_free(e);
}

TEST(read_file_limits)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/ten", tmpdir);
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_write_file_atomic(path, "0123456789", 10, 0644, &e), 0);
	char *s = NULL;
	size_t n = 0;
	CHECK_INT(i2k_read_file(path, 10, &s, &n, &e), 0);
	CHECK_INT(n, 10);
	free(s);
	CHECK_INT(i2k_read_file(path, 9, &s, &n, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "ten");
	i2k_error_free(e);
	e = NULL;
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	CHECK_INT(i2k_read_file(path, 10, &s, &n, &e), -1);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	i2k_error_free(e);
}

TEST(source_date_epoch)
{
	unsetenv("SOURCE_DATE_EPOCH");
	CHECK_INT(i2k_source_date_epoch(), 0);
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	CHECK_INT(i2k_source_date_epoch(), 1700000000);
	setenv("SOURCE_DATE_EPOCH", "12abc", 1);
	CHECK_INT(i2k_source_date_epoch(), 0);
	setenv("SOURCE_DATE_EPOCH", "-5", 1);
	CHECK_INT(i2k_source_date_epoch(), 0);
	unsetenv("SOURCE_DATE_EPOCH");
}

TEST(mkdir_p_and_rm_rf)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/a/b/c", tmpdir);
	struct i2k_error *e = NULL;
	CHECK_INT(i2k_mkdir_p(path, 0755, &e), 0);
	CHECK_INT(i2k_mkdir_p(path, 0755, &e), 0); /* exists: fine */
	snprintf(path, sizeof(path), "%s/a", tmpdir);
	CHECK_INT(i2k_rm_rf(path, &e), 0);
	CHECK(access(path, F_OK) != 0);
	CHECK_INT(i2k_rm_rf(path, &e), 0); /* missing: fine */
	i2k_interrupted = 1;
	CHECK_INT(i2k_check_interrupt(&e), -1);
	CHECK(e && e->code == I2K_ERR_INTERRUPTED);
	i2k_error_free(e);
	i2k_interrupted = 0;
}

/* A file in tmpdir holding n bytes of a pattern; returns an O_RDWR fd. */
static int pattern_file(const char *name, size_t n, int flags)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | flags, 0600);
	for (size_t i = 0; i < n; i++) {
		uint8_t b = (uint8_t)(i * 7 + i / 251);
		if (write(fd, &b, 1) != 1)
			return -1;
	}
	return fd;
}

TEST(copy_fd_range)
{
	size_t n = (3u << 20) + 12345; /* past the by-hand chunk */
	int in = pattern_file("copy-in", n, 0);
	CHECK(in >= 0);
	_cleanup_free_ uint8_t *want = malloc(n), *have = calloc(1, n + 100);
	CHECK(pread(in, want, n, 0) == (ssize_t)n);
	struct i2k_error *e = NULL;
	/* the kernel's copy, at offsets; neither file offset moves */
	int out = pattern_file("copy-out", 0, 0);
	CHECK(lseek(in, 5, SEEK_SET) == 5);
	CHECK_INT(i2k_copy_fd_range(in, 10, out, 100, n - 10, &e), 0);
	CHECK(lseek(in, 0, SEEK_CUR) == 5 && lseek(out, 0, SEEK_CUR) == 0);
	CHECK(pread(out, have, n + 100, 0) == (ssize_t)(n + 90));
	CHECK(memcmp(have + 100, want + 10, n - 10) == 0);
	close(out);
	/* an O_APPEND target: copy_file_range says EBADF, the copy goes by hand */
	out = pattern_file("copy-append", 0, O_APPEND);
	CHECK_INT(i2k_copy_fd_range(in, 0, out, 0, n, &e), 0);
	memset(have, 0, n);
	CHECK(pread(out, have, n + 100, 0) == (ssize_t)n);
	CHECK(memcmp(have, want, n) == 0);
	close(out);
	/* a source shorter than asked: an error, not a short copy */
	out = pattern_file("copy-short", 0, 0);
	CHECK_INT(i2k_copy_fd_range(in, 1000, out, 0, n, &e), -1);
	CHECK(e && e->code == I2K_ERR_IO);
	CHECK_CONTAINS(e ? e->msg : NULL, "unexpected end of file");
	i2k_error_free(e);
	e = NULL;
	close(out);
	/* Ctrl-C stops it */
	out = pattern_file("copy-int", 0, 0);
	i2k_interrupted = 1;
	CHECK_INT(i2k_copy_fd_range(in, 0, out, 0, n, &e), -1);
	CHECK(e && e->code == I2K_ERR_INTERRUPTED);
	i2k_interrupted = 0;
	i2k_error_free(e);
	e = NULL;
	close(out);

	/* a range's digest, read with pread */
	struct i2k_sha256 *h = i2k_sha256_new();
	CHECK_INT(i2k_sha256_update_fd(h, in, 77, n - 77, &e), 0);
	char d[I2K_DIGEST_LEN + 1], d2[I2K_DIGEST_LEN + 1];
	i2k_sha256_final(h, d);
	i2k_sha256_free(h);
	i2k_sha256_digest(want + 77, n - 77, d2);
	CHECK_STR(d, d2);
	CHECK(lseek(in, 0, SEEK_CUR) == 5);
	h = i2k_sha256_new();
	CHECK_INT(i2k_sha256_update_fd(h, in, 0, 0, &e), 0); /* empty range */
	i2k_sha256_final(h, d);
	i2k_sha256_free(h);
	i2k_sha256_digest("", 0, d2);
	CHECK_STR(d, d2);
	h = i2k_sha256_new();
	CHECK_INT(i2k_sha256_update_fd(h, in, n - 1, 2, &e), -1);
	CHECK(e && e->code == I2K_ERR_IO);
	i2k_sha256_free(h);
	i2k_error_free(e);
	close(in);
}

/* Pages of f resident in the page cache (mincore over a mapping). */
static size_t resident_bytes(int fd, size_t len)
{
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return (size_t)-1;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg, in = 0;
	unsigned char *v = calloc(n, 1);
	if (v && mincore(m, len, v) == 0)
		for (size_t i = 0; i < n; i++)
			in += v[i] & 1;
	free(v);
	munmap(m, len);
	return in * pg;
}

/* i2k_writeback: a step starts the write-out (pending back to 0); past
 * `keep` bytes written, a step also drops what is on disk from the page
 * cache. Each chunk is made clean (fdatasync) before its step, so what a
 * step may drop is known. In /var/tmp (a disk; the builds' default
 * $TMPDIR): tmpfs pages cannot be dropped. */
TEST(writeback_drops_pages_on_disk)
{
	const size_t chunk = I2K_WRITEBACK_STEP, n = 6, len = chunk * n;
	char *buf = malloc(chunk);
	memset(buf, 0x5a, chunk);
	for (int drop = 0; drop <= 1; drop++) {
		int fd = open("/var/tmp", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
		CHECK(fd >= 0);
		if (fd < 0)
			break;
		/* keep: 2 chunks, or more than is written (nothing dropped) */
		struct i2k_writeback w = {.fd = fd, .keep = drop ? 2 * chunk : 4 * len};
		for (size_t i = 0; i < n; i++) {
			CHECK(pwrite(fd, buf, chunk, (off_t)(i * chunk)) == (ssize_t)chunk);
			CHECK(fdatasync(fd) == 0);
			i2k_writeback_add(&w, chunk / 2);
			CHECK(w.pending == chunk / 2);
			i2k_writeback_add(&w, chunk / 2);
			CHECK(w.pending == 0 && w.written == (i + 1) * chunk);
		}
		size_t in = resident_bytes(fd, len);
		if (drop)
			CHECK(in < chunk); /* all of it was clean at the last step */
		else
			CHECK(in == len); /* nothing dropped: every byte still cached */
		close(fd);
	}
	free(buf);
	/* fd -1: counts only */
	struct i2k_writeback none = {.fd = -1};
	i2k_writeback_add(&none, I2K_WRITEBACK_STEP);
	CHECK(none.pending == 0 && none.written == I2K_WRITEBACK_STEP);
}

int main(void)
{
	t_prog = "test_base";
	make_tmpdir();
	RUN(error_set_wrap_first_wins);
	RUN(error_errno_and_disk_full);
	RUN(exit_codes);
	RUN(digests);
	RUN(bounded_buffer);
	RUN(atomic_file_commit_and_abort);
	RUN(atomic_file_unnamed_until_commit);
	RUN(atomic_sweep_dead_writers);
	RUN(read_file_limits);
	RUN(source_date_epoch);
	RUN(mkdir_p_and_rm_rf);
	RUN(copy_fd_range);
	RUN(writeback_drops_pages_on_disk);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
