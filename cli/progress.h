/* progress.h — the progress display: stage events (builder/base/progress.h)
 * and notes in, bytes for a terminal or a log out. Pure: the caller gives
 * the clock (milliseconds, monotonic), the width and the stream, and owns
 * the locking, so tests can feed events and compare the exact bytes.
 *
 * On a TTY (opts.tty) the steps under way form a live area at the bottom:
 * one line per step ("pull REF  1.2/3.4 MiB  0.5 MiB/s  ETA 5s", "compress
 * initrd (gzip)  ...", "write raw-efi  ..."), each cut to width-1 columns
 * (never wrapped), redrawn at most every 100 ms (events in between mark it
 * stale; i2k_render_tick draws it, and refreshes speed and ETA every
 * second). A redraw is one write: "\r" ESC[nA ESC[J (back to the area's
 * first line, erase to the end of the screen) then the lines, each ending
 * in "\n". Finished steps and notes are printed above the area as
 * permanent lines.
 *
 * Not on a TTY: "pulling REF" when a pull starts, a line per finished step,
 * and during long steps at most one progress line per 5 s ("pulling REF:
 * 1.2 of 3.4 MiB, 0.5 MiB/s", "..., no data for 6 s" in a stall), 5 s after
 * the last line printed; none for a step that ends within 5 s.
 *
 * verbosity < 0 prints nothing; > 0 adds a line per blob of a pull.
 * i2k_render_clear erases the area for good: after it no area is drawn
 * and events print nothing (the caller prints its error on a clean line);
 * notes (warnings) still print as plain lines.
 */
#ifndef I2K_CLI_PROGRESS_H
#define I2K_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "builder/base/progress.h"

struct i2k_render_opts {
	FILE *out; /* borrowed; flushed after every frame and line */
	bool tty;
	int width; /* columns; <= 0 → 80 */
	int verbosity;
};

struct i2k_render;

struct i2k_render *i2k_render_new(const struct i2k_render_opts *o); /* caller frees */
void i2k_render_free(struct i2k_render *r);			    /* NULL-safe */
void i2k_render_set_width(struct i2k_render *r, int width);
void i2k_render_event(struct i2k_render *r, const struct i2k_stage_event *ev, int64_t now_ms);
/* A permanent line (no newline in text). */
void i2k_render_note(struct i2k_render *r, const char *text, int64_t now_ms);
/* Called periodically (the CLI: every 100 ms): stale area, speed refresh,
 * the 5 s progress line off a TTY. */
void i2k_render_tick(struct i2k_render *r, int64_t now_ms);
/* Erases the area; nothing is drawn afterwards. */
void i2k_render_clear(struct i2k_render *r);
/* Steps under way (for tests and the CLI's ticker). */
size_t i2k_render_active(const struct i2k_render *r);

#endif
