/* progress.c — see progress.h. */
#include "cli/progress.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define REDRAW_MS 100	/* at most 10 frames a second */
#define REFRESH_MS 1000 /* speed / ETA refresh of an idle area */
#define PLAIN_MS 5000	/* off a TTY: one progress line per 5 s at most */
#define STALL_MS 5000	/* no data for this long: "stalled" / "no data for" */
#define MAX_ITEMS 256
#define MAX_BLOBS 1024
#define MIB 1048576.0

struct blob {
	char *digest;
	uint64_t done, total;
};

struct item {
	enum i2k_stage stage;
	char *what, *detail;
	uint64_t done, total, out;
	int64_t start_ms, moved_ms;
	/* speed: bytes between two samples taken >= 1 s apart */
	int64_t s0_ms, s1_ms;
	uint64_t s0_done, s1_done;
	bool active;
	struct blob *blobs; /* FETCH: per blob, so resumed/retried bytes count once */
	size_t nblobs;
};

struct i2k_render {
	struct i2k_render_opts o;
	struct item *items;
	size_t nitems;
	size_t area; /* lines of the area on screen */
	bool stale, closed;
	int64_t drawn_ms, line_ms;
	struct i2k_buf b; /* the frame being composed (no maximum) */
};

/* ---- output buffer ------------------------------------------------------------ */

static void put(struct i2k_render *r, const char *s, size_t n)
{
	i2k_buf_append(&r->b, s, n, NULL); /* cannot fail: no maximum */
}

/* Drops what was composed after position len. */
static void put_back(struct i2k_render *r, size_t len)
{
	r->b.len = len;
	if (r->b.data)
		r->b.data[len] = '\0';
}

static void putf(struct i2k_render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct i2k_render *r, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	put(r, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void flush(struct i2k_render *r)
{
	if (r->b.len)
		fwrite(r->b.data, 1, r->b.len, r->o.out);
	fflush(r->o.out);
	put_back(r, 0);
}

/* Appends s cut to at most cols columns (a UTF-8 continuation byte takes
 * none); control characters become '?'. */
static void put_cut(struct i2k_render *r, const char *s, size_t cols)
{
	size_t used = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool cont = (*p & 0xc0) == 0x80;
		if (!cont && used == cols)
			break;
		char c = *p < 0x20 || *p == 0x7f ? '?' : (char)*p;
		put(r, &c, 1);
		used += !cont;
	}
}

/* ---- items -------------------------------------------------------------------- */

static struct item *item_of(struct i2k_render *r, enum i2k_stage stage, const char *what)
{
	for (size_t i = 0; i < r->nitems; i++)
		if (r->items[i].stage == stage && strcmp(r->items[i].what, what) == 0)
			return &r->items[i];
	if (r->nitems == MAX_ITEMS)
		return NULL;
	r->items = i2k_xrealloc(r->items, (r->nitems + 1) * sizeof(*r->items));
	struct item *it = &r->items[r->nitems++];
	*it = (struct item){.stage = stage, .what = i2k_xstrdup(what)};
	return it;
}

static void item_start(struct item *it, const struct i2k_stage_event *ev, int64_t now)
{
	for (size_t i = 0; i < it->nblobs; i++)
		free(it->blobs[i].digest);
	free(it->blobs);
	free(it->detail);
	it->blobs = NULL;
	it->nblobs = 0;
	it->detail = ev->detail && it->stage != I2K_STAGE_FETCH ? i2k_xstrdup(ev->detail) : NULL;
	it->done = ev->done;
	it->total = ev->total;
	it->out = ev->out;
	it->start_ms = it->moved_ms = it->s0_ms = it->s1_ms = now;
	it->s0_done = it->s1_done = ev->done;
	it->active = true;
}

static struct blob *blob_of(struct item *it, const char *digest)
{
	for (size_t i = 0; i < it->nblobs; i++)
		if (strcmp(it->blobs[i].digest, digest) == 0)
			return &it->blobs[i];
	if (it->nblobs == MAX_BLOBS)
		return NULL;
	it->blobs = i2k_xrealloc(it->blobs, (it->nblobs + 1) * sizeof(*it->blobs));
	struct blob *b = &it->blobs[it->nblobs++];
	*b = (struct blob){.digest = i2k_xstrdup(digest)};
	return b;
}

static void item_moved(struct item *it, uint64_t done, int64_t now)
{
	if (done > it->done)
		it->moved_ms = now;
	it->done = done;
}

/* Bytes per second over the last 1-2 s (0: not known yet). */
static double item_speed(struct item *it, int64_t now)
{
	if (now - it->s1_ms >= 1000) {
		it->s0_ms = it->s1_ms;
		it->s0_done = it->s1_done;
		it->s1_ms = now;
		it->s1_done = it->done;
	}
	int64_t dt = now - it->s0_ms;
	if (now - it->start_ms < 1000 || dt < 200 || it->done < it->s0_done)
		return 0; /* not yet meaningful: no wild ETA in the first second */
	return (double)(it->done - it->s0_done) * 1000.0 / (double)dt;
}

/* Per stage: the area's label, the progress line's verb. */
static const struct {
	const char *label, *doing;
} names[] = {
    [I2K_STAGE_FETCH] = {"pull", "pulling"},
    [I2K_STAGE_UNPACK] = {"unpack", "unpacking"},
    [I2K_STAGE_COMPRESS] = {"compress", "compressing"},
    [I2K_STAGE_FS] = {"make", "making"},
    [I2K_STAGE_WRITE] = {"write", "writing"},
};

static const char *label(enum i2k_stage s)
{
	return (size_t)s < I2K_ARRAY_SIZE(names) && names[s].label ? names[s].label : "?";
}

static const char *gerund(enum i2k_stage s)
{
	return (size_t)s < I2K_ARRAY_SIZE(names) && names[s].doing ? names[s].doing : "?";
}

static void put_eta(struct i2k_render *r, double secs)
{
	long s = (long)(secs + 0.5);
	if (s < 60)
		putf(r, "%lds", s);
	else if (s < 3600)
		putf(r, "%ldm%02lds", s / 60, s % 60);
	else
		putf(r, "%ldh%02ldm", s / 3600, (s / 60) % 60);
}

/* "1.2/3.4 MiB", "1.2 MiB", "1.2/3.4 MiB -> 0.5 MiB" (sep: "/" or " of ");
 * a total passed (an estimate) is not shown. */
static void put_sizes(struct i2k_render *r, const struct item *it, const char *sep)
{
	if (it->total && it->done <= it->total)
		putf(r, "%.1f%s%.1f MiB", (double)it->done / MIB, sep, (double)it->total / MIB);
	else
		putf(r, "%.1f MiB", (double)it->done / MIB);
	if (it->out)
		putf(r, " -> %.1f MiB", (double)it->out / MIB);
}

/* ---- TTY: the area ------------------------------------------------------------ */

static void area_erase(struct i2k_render *r)
{
	if (r->area)
		putf(r, "\r\x1b[%zuA\x1b[J", r->area);
	r->area = 0;
}

/* Columns of s (a UTF-8 continuation byte takes none). */
static size_t cols_of(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p & 0xc0) != 0x80;
	return n;
}

/* The end of s that fits in cols columns (starts on a character). */
static const char *cut_front(const char *s, size_t cols)
{
	size_t n = cols_of(s);
	const unsigned char *p = (const unsigned char *)s;
	while (*p && n > cols) {
		p++;
		while ((*p & 0xc0) == 0x80)
			p++;
		n--;
	}
	return (const char *)p;
}

/* "LABEL NAME  SIZES  SPEED  ETA ETA", cut to width-1 columns: a long name
 * loses its start ("...fixtures/big:latest") so the numbers stay; on a
 * very narrow terminal the whole line is cut at the end. */
static void area_line(struct i2k_render *r, struct item *it, int64_t now)
{
	size_t cols = (size_t)(r->o.width > 1 ? r->o.width - 1 : 79);
	/* the numbers first, into the buffer's tail */
	size_t nums = r->b.len;
	put(r, "  ", 2);
	put_sizes(r, it, "/");
	double speed = item_speed(it, now);
	if (now - it->moved_ms >= STALL_MS) {
		putf(r, "  stalled %llds", (long long)((now - it->moved_ms) / 1000));
	} else if (speed > 0) {
		putf(r, "  %.1f MiB/s", speed / MIB);
		if (it->total > it->done) {
			put(r, "  ETA ", 6);
			put_eta(r, (double)(it->total - it->done) / speed);
		}
	}
	char *tail = i2k_xstrdup(r->b.data + nums);
	put_back(r, nums);
	char *name =
	    it->detail ? i2k_xasprintf("%s (%s)", it->what, it->detail) : i2k_xstrdup(it->what);
	const char *lab = label(it->stage);
	size_t fixed = strlen(lab) + 1 + cols_of(tail);
	char *line;
	if (fixed + cols_of(name) > cols && fixed + 10 <= cols)
		line = i2k_xasprintf("%s ...%s%s", lab, cut_front(name, cols - fixed - 3), tail);
	else
		line = i2k_xasprintf("%s %s%s", lab, name, tail);
	put_cut(r, line, cols);
	put(r, "\n", 1);
	free(line);
	free(name);
	free(tail);
	r->area++;
}

static void area_draw(struct i2k_render *r, int64_t now)
{
	area_erase(r);
	for (size_t i = 0; i < r->nitems; i++)
		if (r->items[i].active)
			area_line(r, &r->items[i], now);
	r->drawn_ms = now;
	r->stale = false;
}

/* ---- lines ---------------------------------------------------------------------- */

static void line(struct i2k_render *r, int64_t now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(struct i2k_render *r, int64_t now, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (r->o.tty) {
		area_erase(r);
		r->stale = true;
	}
	put_cut(r, tmp, sizeof(tmp));
	put(r, "\n", 1);
	r->line_ms = now;
}

/* Draws the area if it is stale and the last frame is 100 ms old. */
static void maybe_draw(struct i2k_render *r, int64_t now)
{
	if (r->o.tty && r->stale && now - r->drawn_ms >= REDRAW_MS)
		area_draw(r, now);
}

static void finished(struct i2k_render *r, struct item *it, int64_t now)
{
	double secs = (double)(now - it->start_ms) / 1000.0;
	double mib = (double)it->done / MIB;
	switch (it->stage) {
	case I2K_STAGE_FETCH:
		line(r, now, "pulled  %s (%.1f MiB in %.1f s)", it->what, mib, secs);
		break;
	case I2K_STAGE_UNPACK:
		line(r, now, "unpacked %s (%.1f MiB in %.1f s)", it->what, mib, secs);
		break;
	case I2K_STAGE_COMPRESS:
		line(r, now, "compressed %s%s%s%s: %.1f MiB -> %.1f MiB in %.1f s", it->what,
		     it->detail ? " (" : "", it->detail ? it->detail : "", it->detail ? ")" : "",
		     mib, (double)it->out / MIB, secs);
		break;
	case I2K_STAGE_FS:
		line(r, now, "made    %s (%.1f MiB in %.1f s)", it->what, mib, secs);
		break;
	case I2K_STAGE_WRITE:
		line(r, now, "written %s (%.1f MiB in %.1f s)", it->what, mib, secs);
		break;
	}
}

static void fetch_event(struct i2k_render *r, struct item *it, const struct i2k_stage_event *ev,
			int64_t now)
{
	if (ev->detail == NULL) { /* the whole image */
		switch (ev->step) {
		case I2K_STEP_BEGIN:
			item_start(it, ev, now);
			if (!r->o.tty)
				line(r, now, "pulling %s", it->what);
			break;
		case I2K_STEP_CACHED:
			it->active = false;
			line(r, now, "cached  %s", it->what);
			break;
		case I2K_STEP_END:
			it->active = false;
			finished(r, it, now);
			break;
		case I2K_STEP_UPDATE:
			break;
		}
		return;
	}
	if (!it->active) /* blob events of an image not announced: start it */
		item_start(it, &(struct i2k_stage_event){.stage = ev->stage, .what = ev->what},
			   now);
	struct blob *b = blob_of(it, ev->detail);
	if (b == NULL)
		return;
	uint64_t done = it->done;
	switch (ev->step) {
	case I2K_STEP_BEGIN:
		if (b->total == 0) {
			b->total = ev->total;
			b->done = ev->done;
			it->total += ev->total;
			done += ev->done;
		}
		break;
	case I2K_STEP_UPDATE:
		if (ev->done >= b->done) {
			done += ev->done - b->done;
			b->done = ev->done;
		}
		break;
	case I2K_STEP_END:
		if (b->total > b->done) {
			done += b->total - b->done;
			b->done = b->total;
		}
		if (r->o.verbosity > 0)
			line(r, now, "  %.19s done (%llu KiB)", ev->detail,
			     (unsigned long long)(ev->done / 1024));
		break;
	case I2K_STEP_CACHED:
		if (r->o.verbosity > 0)
			line(r, now, "  %.19s cached (%llu KiB)", ev->detail,
			     (unsigned long long)(ev->total / 1024));
		break;
	}
	item_moved(it, done, now);
}

/* Off a TTY: the one progress line of the last 5 s, about the oldest step
 * under way. */
static void plain_progress(struct i2k_render *r, int64_t now)
{
	struct item *first = NULL;
	size_t n = 0;
	for (size_t i = 0; i < r->nitems; i++) {
		if (!r->items[i].active)
			continue;
		if (first == NULL || r->items[i].start_ms < first->start_ms)
			first = &r->items[i];
		n++;
	}
	/* due 5 s after the last line, once the oldest step has run 5 s */
	if (first == NULL || now - r->line_ms < PLAIN_MS || now - first->start_ms < PLAIN_MS)
		return;
	putf(r, "%s %s", gerund(first->stage), first->what);
	if (first->detail)
		putf(r, " (%s)", first->detail);
	put(r, ": ", 2);
	put_sizes(r, first, " of ");
	double speed = item_speed(first, now);
	if (now - first->moved_ms >= STALL_MS)
		putf(r, ", no data for %lld s", (long long)((now - first->moved_ms) / 1000));
	else if (speed > 0)
		putf(r, ", %.1f MiB/s", speed / MIB);
	if (n > 1)
		putf(r, " (and %zu more)", n - 1);
	put(r, "\n", 1);
	r->line_ms = now;
}

/* ---- API ------------------------------------------------------------------------ */

struct i2k_render *i2k_render_new(const struct i2k_render_opts *o)
{
	struct i2k_render *r = i2k_xcalloc(1, sizeof(*r));
	r->o = *o;
	if (r->o.width <= 0)
		r->o.width = 80;
	r->drawn_ms = INT64_MIN / 2;
	return r;
}

void i2k_render_free(struct i2k_render *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nitems; i++) {
		struct item *it = &r->items[i];
		for (size_t j = 0; j < it->nblobs; j++)
			free(it->blobs[j].digest);
		free(it->blobs);
		free(it->what);
		free(it->detail);
	}
	free(r->items);
	i2k_buf_free(&r->b);
	free(r);
}

void i2k_render_set_width(struct i2k_render *r, int width)
{
	if (width > 0 && width != r->o.width) {
		r->o.width = width;
		r->stale = true;
	}
}

size_t i2k_render_active(const struct i2k_render *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->nitems; i++)
		n += r->items[i].active;
	return n;
}

void i2k_render_event(struct i2k_render *r, const struct i2k_stage_event *ev, int64_t now)
{
	if (r->closed || r->o.verbosity < 0 || ev->what == NULL)
		return;
	struct item *it = item_of(r, ev->stage, ev->what);
	if (it == NULL)
		return;
	bool was_active = it->active;
	if (ev->stage == I2K_STAGE_FETCH) {
		fetch_event(r, it, ev, now);
	} else {
		switch (ev->step) {
		case I2K_STEP_BEGIN:
			item_start(it, ev, now);
			break;
		case I2K_STEP_UPDATE:
			if (!it->active)
				item_start(it, ev, now);
			it->total = ev->total;
			it->out = ev->out;
			item_moved(it, ev->done, now);
			break;
		case I2K_STEP_END:
		case I2K_STEP_CACHED:
			if (!it->active)
				item_start(it, ev, now);
			it->total = ev->total;
			it->out = ev->out;
			item_moved(it, ev->done, now);
			it->active = false;
			finished(r, it, now);
			break;
		}
	}
	if (r->o.tty) {
		if (it->active || was_active)
			r->stale = true;
		maybe_draw(r, now);
	} else {
		plain_progress(r, now);
	}
	flush(r);
}

void i2k_render_note(struct i2k_render *r, const char *text, int64_t now)
{
	if (r->o.verbosity < 0)
		return;
	if (r->closed) { /* a plain line: the area is gone for good */
		put_cut(r, text, 1023);
		put(r, "\n", 1);
	} else {
		line(r, now, "%s", text);
		maybe_draw(r, now);
	}
	flush(r);
}

void i2k_render_tick(struct i2k_render *r, int64_t now)
{
	if (r->closed || r->o.verbosity < 0)
		return;
	if (r->o.tty) {
		if (!r->stale && i2k_render_active(r) && now - r->drawn_ms >= REFRESH_MS)
			r->stale = true;
		maybe_draw(r, now);
	} else {
		plain_progress(r, now);
	}
	flush(r);
}

void i2k_render_clear(struct i2k_render *r)
{
	if (r->closed)
		return;
	area_erase(r);
	r->closed = true;
	flush(r);
}
