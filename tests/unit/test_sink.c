/* test_sink.c — formats/sink: bounds, windows, zeroing as holes, sparse copy. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/sink.h"
#include "test.h"

static uint64_t allocated(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

TEST(bounds_and_finish)
{
	struct i2k_sink *s = NULL;
	struct i2k_error *e = NULL;
	int fd;
	CHECK_INT(i2k_sink_tmpfile_new(4096, "ESP", &s, &fd, &e), 0);
	CHECK_INT(i2k_sink_write_at(s, 4090, "abcdef", 6, &e), 0);
	CHECK_INT(i2k_sink_write_at(s, 4091, "abcdef", 6, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "write past the end of ESP");
	i2k_error_free(e);
	e = NULL;
	char buf[6];
	CHECK_INT(i2k_sink_read_at(s, 4090, buf, 6, &e), 0);
	CHECK(memcmp(buf, "abcdef", 6) == 0);
	CHECK_INT(i2k_sink_finish(s, &e), 0);
	CHECK_INT(i2k_sink_write_at(s, 0, "x", 1, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "after finish");
	i2k_error_free(e);
	i2k_sink_free(s);
}

TEST(windows_and_fd)
{
	struct i2k_sink *disk = NULL, *part = NULL;
	struct i2k_error *e = NULL;
	int fd;
	CHECK_INT(i2k_sink_tmpfile_new(1 << 20, "disk", &disk, &fd, &e), 0);
	CHECK_INT(i2k_sink_window_new(disk, 65536, 4096, "root", &part, &e), 0);
	CHECK_INT(i2k_sink_write_at(part, 10, "hi", 2, &e), 0);
	char b[2];
	CHECK(pread(fd, b, 2, 65536 + 10) == 2 && memcmp(b, "hi", 2) == 0);
	uint64_t base = 0;
	CHECK_INT(i2k_sink_fd(part, &base), fd);
	CHECK_INT(base, 65536);
	CHECK_INT(i2k_sink_write_at(part, 4095, "xy", 2, &e), -1);
	CHECK_CONTAINS(e ? e->msg : NULL, "past the end of root");
	i2k_error_free(e);
	e = NULL;
	struct i2k_sink *bad = NULL;
	CHECK_INT(i2k_sink_window_new(disk, (1 << 20) - 10, 20, "big", &bad, &e), -1);
	i2k_error_free(e);
	i2k_sink_free(part);
	i2k_sink_free(disk);
}

TEST(zero_punches_and_copy_keeps_holes)
{
	struct i2k_sink *a = NULL, *b = NULL;
	struct i2k_error *e = NULL;
	int fa, fb;
	const uint64_t size = 64ull << 20;
	CHECK_INT(i2k_sink_tmpfile_new(size, "a", &a, &fa, &e), 0);
	CHECK_INT(i2k_sink_tmpfile_new(size + 4096, "b", &b, &fb, &e), 0);
	char *blk = malloc(1 << 20);
	memset(blk, 0x5a, 1 << 20);
	CHECK_INT(i2k_sink_write_at(a, 0, blk, 1 << 20, &e), 0);
	CHECK_INT(i2k_sink_write_at(a, size - (1 << 20), blk, 1 << 20, &e), 0);
	CHECK_INT(i2k_sink_zero(a, 0, 4096, &e), 0);
	char got[4096];
	CHECK_INT(i2k_sink_read_at(a, 0, got, sizeof(got), &e), 0);
	bool zero = true;
	for (size_t i = 0; i < sizeof(got); i++)
		zero &= got[i] == 0;
	CHECK(zero);
	CHECK_INT(i2k_sink_copy(b, 4096, a, 0, size, &e), 0);
	CHECK(allocated(fb) < 4ull << 20); /* 2 MiB of data, not 64 MiB */
	CHECK_INT(i2k_sink_read_at(b, 4096 + size - 10, got, 10, &e), 0);
	CHECK(got[0] == 0x5a && got[9] == 0x5a);
	CHECK_INT(i2k_sink_read_at(b, 4096 + 8192, got, 10, &e), 0);
	CHECK(got[0] == 0x5a);
	CHECK_INT(i2k_sink_read_at(b, 4096 + (32ull << 20), got, 10, &e), 0);
	CHECK(got[0] == 0);
	free(blk);
	i2k_sink_free(a);
	i2k_sink_free(b);
}

int main(void)
{
	t_prog = "test_sink";
	RUN(bounds_and_finish);
	RUN(windows_and_fd);
	RUN(zero_punches_and_copy_keeps_holes);
	return TEST_DONE();
}
