/* test_progress.c — cli/progress (the renderer) and builder/base/progress
 * (meters): events in with a fake clock and a fixed width, the exact bytes
 * out — the live area's redraws (cursor up, erase), its 100 ms rate limit,
 * cut lines, the clear before an error, and off a TTY the 5 s lines. */
#include <stdio.h>
#include <stdlib.h>

#include "builder/base/progress.h"
#include "cli/progress.h"
#include "test.h"

#define MiB (1024ull * 1024)
#define REF "reg/busybox:latest"
#define BLOB "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define UP1 "\r\x1b[1A\x1b[J"

/* A renderer writing into memory; take() returns what was written since
 * the last take (static buffer). */
static FILE *mem;
static char *mem_buf;
static size_t mem_len, mem_seen;
static char taken[8192];

static struct i2k_render *new_render(bool tty, int width, int verbosity)
{
	mem_seen = 0;
	mem = open_memstream(&mem_buf, &mem_len);
	struct i2k_render_opts o = {.out = mem, .tty = tty, .width = width, .verbosity = verbosity};
	return i2k_render_new(&o);
}

static const char *take(void)
{
	fflush(mem);
	size_t n = mem_len - mem_seen;
	if (n >= sizeof(taken))
		n = sizeof(taken) - 1;
	memcpy(taken, mem_buf + mem_seen, n);
	taken[n] = '\0';
	mem_seen = mem_len;
	return taken;
}

static void done_render(struct i2k_render *r)
{
	i2k_render_free(r);
	fclose(mem);
	free(mem_buf);
	mem_buf = NULL;
}

static void ev(struct i2k_render *r, int64_t now, enum i2k_stage stage, enum i2k_step step,
	       const char *what, const char *detail, uint64_t done, uint64_t total, uint64_t out)
{
	struct i2k_stage_event e = {.stage = stage,
				    .step = step,
				    .what = what,
				    .detail = detail,
				    .done = done,
				    .total = total,
				    .out = out};
	i2k_render_event(r, &e, now);
}

TEST(tty_area_redraws)
{
	struct i2k_render *r = new_render(true, 80, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, NULL, 0, 0, 0);
	CHECK_STR(take(), "pull " REF "  0.0 MiB\n");
	/* within 100 ms of the last frame: nothing drawn */
	ev(r, 50, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, BLOB, 0, 2 * MiB, 0);
	ev(r, 60, I2K_STAGE_FETCH, I2K_STEP_UPDATE, REF, BLOB, MiB / 2, 2 * MiB, 0);
	CHECK_STR(take(), "");
	/* the tick draws the stale area: back up one line, erase, redraw */
	i2k_render_tick(r, 100);
	CHECK_STR(take(), UP1 "pull " REF "  0.5/2.0 MiB\n");
	/* 1 s later: speed over the last second and the ETA */
	ev(r, 1000, I2K_STAGE_FETCH, I2K_STEP_UPDATE, REF, BLOB, MiB, 2 * MiB, 0);
	CHECK_STR(take(), UP1 "pull " REF "  1.0/2.0 MiB  1.0 MiB/s  ETA 1s\n");
	/* a second step: two lines */
	ev(r, 1100, I2K_STAGE_UNPACK, I2K_STEP_BEGIN, "reg/web:1", NULL, 0, 0, 0);
	CHECK_STR(take(), UP1 "pull " REF "  1.0/2.0 MiB  0.9 MiB/s  ETA 1s\n"
			      "unpack reg/web:1  0.0 MiB\n");
	/* an idle area is refreshed once a second, not more */
	i2k_render_tick(r, 1500);
	CHECK_STR(take(), "");
	/* a finished step: erased, its line printed, the area drawn again */
	ev(r, 2000, I2K_STAGE_FETCH, I2K_STEP_END, REF, BLOB, 2 * MiB, 2 * MiB, 0);
	ev(r, 2000, I2K_STAGE_FETCH, I2K_STEP_END, REF, NULL, 0, 0, 0);
	CHECK_STR(take(), "\r\x1b[2A\x1b[J"
			  "pull " REF "  2.0/2.0 MiB  1.0 MiB/s\n"
			  "unpack reg/web:1  0.0 MiB\n"
			  "\r\x1b[2A\x1b[J"
			  "pulled  " REF " (2.0 MiB in 2.0 s)\n");
	i2k_render_tick(r, 2100);
	CHECK_STR(take(), "unpack reg/web:1  0.0 MiB\n");
	/* no data for 5 s: "stalled" instead of a speed */
	i2k_render_tick(r, 6100);
	CHECK_STR(take(), UP1 "unpack reg/web:1  0.0 MiB  stalled 5s\n");
	ev(r, 6200, I2K_STAGE_UNPACK, I2K_STEP_END, "reg/web:1", NULL, 3 * MiB, 0, 0);
	CHECK_STR(take(), UP1 "unpacked reg/web:1 (3.0 MiB in 5.1 s)\n");
	i2k_render_tick(r, 6300);
	CHECK_STR(take(), ""); /* nothing under way: an empty area */
	CHECK_INT(i2k_render_active(r), 0);
	done_render(r);
}

TEST(tty_stages_with_sizes)
{
	struct i2k_render *r = new_render(true, 100, 0);
	ev(r, 0, I2K_STAGE_COMPRESS, I2K_STEP_BEGIN, "initrd", "gzip", 0, 8 * MiB, 0);
	CHECK_STR(take(), "compress initrd (gzip)  0.0/8.0 MiB\n");
	ev(r, 1000, I2K_STAGE_COMPRESS, I2K_STEP_UPDATE, "initrd", "gzip", 4 * MiB, 8 * MiB, MiB);
	CHECK_STR(take(),
		  UP1 "compress initrd (gzip)  4.0/8.0 MiB -> 1.0 MiB  4.0 MiB/s  ETA 1s\n");
	/* the total was an estimate: once passed, no "9.0/8.0" */
	ev(r, 1500, I2K_STAGE_COMPRESS, I2K_STEP_UPDATE, "initrd", "gzip", 9 * MiB, 8 * MiB,
	   2 * MiB);
	CHECK_STR(take(), UP1 "compress initrd (gzip)  9.0 MiB -> 2.0 MiB  6.0 MiB/s\n");
	ev(r, 2000, I2K_STAGE_COMPRESS, I2K_STEP_END, "initrd", "gzip", 8 * MiB, 8 * MiB, 2 * MiB);
	CHECK_STR(take(), UP1 "compressed initrd (gzip): 8.0 MiB -> 2.0 MiB in 2.0 s\n");
	ev(r, 2000, I2K_STAGE_FS, I2K_STEP_BEGIN, "disk", NULL, 0, 0, 0);
	ev(r, 2100, I2K_STAGE_WRITE, I2K_STEP_BEGIN, "raw-efi", NULL, 0, 0, 0);
	CHECK_STR(take(), "make disk  0.0 MiB\n"
			  "write raw-efi  0.0 MiB\n");
	ev(r, 2500, I2K_STAGE_FS, I2K_STEP_END, "disk", NULL, 5 * MiB, 0, 0);
	ev(r, 3000, I2K_STAGE_WRITE, I2K_STEP_END, "raw-efi", NULL, 6 * MiB, 0, 0);
	CHECK_STR(take(), "\r\x1b[2A\x1b[J"
			  "made    disk (5.0 MiB in 0.5 s)\n"
			  "write raw-efi  0.0 MiB\n" UP1 "written raw-efi (6.0 MiB in 0.9 s)\n");
	done_render(r);
}

TEST(tty_lines_are_cut_to_the_width)
{
	struct i2k_render *r = new_render(true, 20, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, NULL, 0, 0, 0);
	CHECK_STR(take(), "pull reg/busybox:la\n"); /* 19 columns: never wraps */
	i2k_render_set_width(r, 12);
	i2k_render_tick(r, 100);
	CHECK_STR(take(), UP1 "pull reg/bu\n");
	/* control characters never reach the terminal; UTF-8 counts columns */
	ev(r, 200, I2K_STAGE_WRITE, I2K_STEP_BEGIN, "a\x1b[2Jb\xc3\xa9\xc3\xa9\xc3\xa9", NULL, 0, 0,
	   0);
	CHECK_STR(take(), UP1 "pull reg/bu\n"
			      "write a?[2J\n");
	i2k_render_set_width(r, 21);
	i2k_render_tick(r, 300);
	CHECK_STR(take(), "\r\x1b[2A\x1b[J"
			  "pull reg/busybox:lat\n"
			  "write a?[2Jb\xc3\xa9\xc3\xa9\xc3\xa9  0.0\n");
	done_render(r);

	/* room for the numbers: the name gives up its start, never the ETA */
	r = new_render(true, 50, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, BLOB, 0, 2 * MiB, 0);
	ev(r, 1000, I2K_STAGE_FETCH, I2K_STEP_UPDATE, REF, BLOB, MiB, 2 * MiB, 0);
	CHECK_STR(take(), "pull " REF "  0.0/2.0 MiB\n" UP1
			  "pull ...ox:latest  1.0/2.0 MiB  1.0 MiB/s  ETA 1s\n");
	/* a name of 36 two-byte characters and "xyz": columns, not bytes */
	char name[128], want[256];
	size_t n = 0, w = 0;
	for (int i = 0; i < 36; i++)
		n += (size_t)snprintf(name + n, sizeof(name) - n, "\xc3\xa9");
	snprintf(name + n, sizeof(name) - n, "xyz");
	w += (size_t)snprintf(want, sizeof(want),
			      UP1 "pull ...ox:latest  1.0/2.0 MiB  0.9 MiB/s  "
				  "ETA 1s\nwrite ...");
	for (int i = 0; i < 28; i++) /* 49 - 6 - 9 - 3 columns: 28 of them and xyz */
		w += (size_t)snprintf(want + w, sizeof(want) - w, "\xc3\xa9");
	snprintf(want + w, sizeof(want) - w, "xyz  0.0 MiB\n");
	ev(r, 1100, I2K_STAGE_WRITE, I2K_STEP_BEGIN, name, NULL, 0, 0, 0);
	CHECK_STR(take(), want);
	done_render(r);
}

TEST(tty_clear_before_an_error)
{
	struct i2k_render *r = new_render(true, 80, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, NULL, 0, 0, 0);
	ev(r, 100, I2K_STAGE_COMPRESS, I2K_STEP_BEGIN, "initrd", "zstd", 0, 0, 0);
	take();
	i2k_render_clear(r);
	CHECK_STR(take(), "\r\x1b[2A\x1b[J");
	/* the caller prints its error now, on a clean line; nothing follows */
	ev(r, 200, I2K_STAGE_FETCH, I2K_STEP_UPDATE, REF, BLOB, 1, 2, 0);
	ev(r, 300, I2K_STAGE_FETCH, I2K_STEP_END, REF, NULL, 0, 0, 0);
	i2k_render_tick(r, 5000);
	i2k_render_tick(r, 20000);
	i2k_render_clear(r);
	CHECK_STR(take(), "");
	i2k_render_note(r, "i2kit: warning: w", 20000); /* a plain line, no area */
	i2k_render_tick(r, 30000);
	CHECK_STR(take(), "i2kit: warning: w\n");
	done_render(r);
}

TEST(tty_notes_above_the_area)
{
	struct i2k_render *r = new_render(true, 80, 0);
	ev(r, 0, I2K_STAGE_WRITE, I2K_STEP_BEGIN, "tar", NULL, 0, 0, 0);
	take();
	i2k_render_note(r, "kernel modules: kept 1 of 2", 150);
	CHECK_STR(take(), UP1 "kernel modules: kept 1 of 2\n"
			      "write tar  0.0 MiB\n");
	i2k_render_note(r, "again", 160); /* within 100 ms: the area comes back on a tick */
	CHECK_STR(take(), UP1 "again\n");
	i2k_render_tick(r, 250);
	CHECK_STR(take(), "write tar  0.0 MiB\n");
	done_render(r);
}

TEST(plain_five_second_lines)
{
	struct i2k_render *r = new_render(false, 0, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, NULL, 0, 0, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, BLOB, 0, 4 * MiB, 0);
	CHECK_STR(take(), "pulling " REF "\n");
	ev(r, 1000, I2K_STAGE_FETCH, I2K_STEP_UPDATE, REF, BLOB, MiB, 4 * MiB, 0);
	for (int64_t t = 1100; t < 5000; t += 100)
		i2k_render_tick(r, t);
	CHECK_STR(take(), ""); /* never more than one line per 5 s */
	i2k_render_tick(r, 5000);
	CHECK_STR(take(), "pulling " REF ": 1.0 of 4.0 MiB, 0.2 MiB/s\n");
	for (int64_t t = 5100; t < 10000; t += 100)
		i2k_render_tick(r, t);
	CHECK_STR(take(), "");
	/* a stall still prints, every 5 s */
	i2k_render_tick(r, 10000);
	CHECK_STR(take(), "pulling " REF ": 1.0 of 4.0 MiB, no data for 9 s\n");
	ev(r, 10500, I2K_STAGE_FETCH, I2K_STEP_UPDATE, REF, BLOB, 4 * MiB, 4 * MiB, 0);
	ev(r, 10500, I2K_STAGE_FETCH, I2K_STEP_END, REF, BLOB, 4 * MiB, 4 * MiB, 0);
	ev(r, 10500, I2K_STAGE_FETCH, I2K_STEP_END, REF, NULL, 0, 0, 0);
	CHECK_STR(take(), "pulled  " REF " (4.0 MiB in 10.5 s)\n");
	/* a step shorter than 5 s: only its finished line, no escape codes */
	ev(r, 11000, I2K_STAGE_COMPRESS, I2K_STEP_BEGIN, "initrd", "gzip", 0, 3 * MiB, 0);
	for (int64_t t = 11100; t < 14000; t += 100)
		i2k_render_tick(r, t);
	ev(r, 14000, I2K_STAGE_COMPRESS, I2K_STEP_END, "initrd", "gzip", 3 * MiB, 3 * MiB, MiB);
	CHECK_STR(take(), "compressed initrd (gzip): 3.0 MiB -> 1.0 MiB in 3.0 s\n");
	/* a step that starts long after the last line waits its own 5 s */
	ev(r, 20000, I2K_STAGE_WRITE, I2K_STEP_BEGIN, "qcow2-efi", NULL, 0, 0, 0);
	ev(r, 21000, I2K_STAGE_WRITE, I2K_STEP_UPDATE, "qcow2-efi", NULL, MiB, 0, 0);
	ev(r, 21000, I2K_STAGE_FS, I2K_STEP_BEGIN, "disk", NULL, 0, 0, 0);
	i2k_render_tick(r, 24900);
	CHECK_STR(take(), "");
	i2k_render_tick(r, 25000);
	CHECK_STR(take(), "writing qcow2-efi: 1.0 MiB, 0.2 MiB/s (and 1 more)\n");
	done_render(r);
}

TEST(verbosity)
{
	struct i2k_render *r = new_render(false, 0, -1);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, NULL, 0, 0, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, BLOB, 0, 4 * MiB, 0);
	i2k_render_tick(r, 60000);
	ev(r, 60000, I2K_STAGE_FETCH, I2K_STEP_END, REF, NULL, 0, 0, 0);
	i2k_render_note(r, "note", 60000);
	CHECK_STR(take(), ""); /* -q: nothing */
	done_render(r);

	r = new_render(false, 0, 1);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, NULL, 0, 0, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, BLOB, 0, 4 * MiB, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_END, REF, BLOB, 4 * MiB, 4 * MiB, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_CACHED, REF, "sha256:bbbb", 0, 2048, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_END, REF, NULL, 0, 0, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_CACHED, "reg/x:1", NULL, 0, 0, 0);
	CHECK_STR(take(), "pulling " REF "\n"
			  "  sha256:aaaaaaaaaaaa done (4096 KiB)\n"
			  "  sha256:bbbb cached (2 KiB)\n"
			  "pulled  " REF " (4.0 MiB in 0.0 s)\n"
			  "cached  reg/x:1\n");
	done_render(r);
}

/* A resumed or retried blob counts its bytes once. */
TEST(fetch_bytes_count_once)
{
	struct i2k_render *r = new_render(false, 0, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, NULL, 0, 0, 0);
	ev(r, 0, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, BLOB, 0, 4 * MiB, 0);
	ev(r, 100, I2K_STAGE_FETCH, I2K_STEP_UPDATE, REF, BLOB, 2 * MiB, 4 * MiB, 0);
	ev(r, 200, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, BLOB, 2 * MiB, 4 * MiB, 0); /* resume */
	ev(r, 300, I2K_STAGE_FETCH, I2K_STEP_UPDATE, REF, BLOB, 3 * MiB, 4 * MiB, 0);
	ev(r, 400, I2K_STAGE_FETCH, I2K_STEP_BEGIN, REF, "sha256:cc", 0, MiB, 0);
	take();
	i2k_render_tick(r, 5000);
	CHECK_STR(take(), "pulling " REF ": 3.0 of 5.0 MiB, 0.6 MiB/s\n");
	done_render(r);
}

static struct i2k_stage_event seen[16];
static size_t nseen;
static void record(const struct i2k_stage_event *e, void *ctx)
{
	(void)ctx;
	if (nseen < 16)
		seen[nseen++] = *e;
}

TEST(meter_reports_every_mib)
{
	struct i2k_stage_cb cb = {.fn = record};
	struct i2k_meter m;
	nseen = 0;
	i2k_meter_begin(&m, &cb, I2K_STAGE_WRITE, "tar", NULL, 0);
	for (int i = 0; i < 40; i++)
		i2k_meter_add(&m, 64 * 1024); /* 2.5 MiB in 64 KiB writes */
	i2k_meter_end(&m);
	CHECK_INT(nseen, 4);
	CHECK_INT(seen[0].step, I2K_STEP_BEGIN);
	CHECK_INT(seen[1].step, I2K_STEP_UPDATE);
	CHECK_INT(seen[1].done, MiB);
	CHECK_INT(seen[2].done, 2 * MiB);
	CHECK_INT(seen[3].step, I2K_STEP_END);
	CHECK_INT(seen[3].done, 40 * 64 * 1024);
	CHECK_STR(seen[3].what, "tar");
	/* no callback: nothing, no crash */
	struct i2k_stage_cb none = {0};
	i2k_meter_begin(&m, &none, I2K_STAGE_WRITE, "tar", NULL, 0);
	i2k_meter_add(&m, 10 * MiB);
	i2k_meter_end(&m);
	i2k_meter_begin(&m, NULL, I2K_STAGE_WRITE, "tar", NULL, 0);
	i2k_meter_add(&m, 10 * MiB);
	i2k_meter_end(&m);
	CHECK_INT(nseen, 4);
}

int main(void)
{
	t_prog = "test_progress";
	RUN(tty_area_redraws);
	RUN(tty_stages_with_sizes);
	RUN(tty_lines_are_cut_to_the_width);
	RUN(tty_clear_before_an_error);
	RUN(tty_notes_above_the_area);
	RUN(plain_five_second_lines);
	RUN(verbosity);
	RUN(fetch_bytes_count_once);
	RUN(meter_reports_every_mib);
	return TEST_DONE();
}
