/* progress.h — progress events from the library's stages to whoever shows
 * them (the CLI). Libraries never print: a stage that may run long reports
 * BEGIN, UPDATEs while bytes move, and END through a caller-supplied
 * callback; with no callback nothing is reported.
 *
 * Events of one step share (stage, what). The callback may be called from
 * worker threads (fetch) and must be thread-safe; it must not call back into
 * the library. Strings in an event are borrowed for the call only.
 */
#ifndef I2K_BUILDER_BASE_PROGRESS_H
#define I2K_BUILDER_BASE_PROGRESS_H

#include <stdint.h>

enum i2k_stage {
	I2K_STAGE_FETCH = 1, /* what: image ref; detail: blob digest (NULL: the image) */
	I2K_STAGE_UNPACK,    /* what: image ref; done: bytes of files unpacked */
	I2K_STAGE_COMPRESS,  /* what: "initrd"; detail: compression; done/total: bytes
			      * in (total: the root's data, an estimate); out: bytes out */
	I2K_STAGE_FS,	     /* what: "squashfs", "disk", ...; done: bytes written */
	I2K_STAGE_WRITE,     /* what: format name; done: bytes of its files written */
};

enum i2k_step {
	I2K_STEP_BEGIN,
	I2K_STEP_UPDATE,
	I2K_STEP_END,	 /* finished; done (and out) are the final sizes */
	I2K_STEP_CACHED, /* FETCH: nothing to transfer */
};

struct i2k_stage_event {
	enum i2k_stage stage;
	enum i2k_step step;
	const char *what;
	const char *detail;   /* may be NULL */
	uint64_t done, total; /* bytes; total 0 = unknown */
	uint64_t out;	      /* COMPRESS: bytes produced so far; else 0 */
};

typedef void (*i2k_stage_fn)(const struct i2k_stage_event *ev, void *ctx);

struct i2k_stage_cb {
	i2k_stage_fn fn; /* NULL: no reports */
	void *ctx;
};

/* Calls cb->fn when cb and cb->fn are set. */
void i2k_stage_report(const struct i2k_stage_cb *cb, const struct i2k_stage_event *ev);

/* One step's counters: BEGIN on i2k_meter_begin, an UPDATE whenever done
 * has grown by I2K_METER_STEP bytes since the last one (so a fast loop of
 * small writes costs a compare), END on i2k_meter_end. Not thread-safe. A
 * meter with cb NULL (or cb->fn NULL) reports nothing. what/detail are
 * borrowed and must outlive the meter. */
#define I2K_METER_STEP (1u << 20)
struct i2k_meter {
	const struct i2k_stage_cb *cb;
	enum i2k_stage stage;
	const char *what, *detail;
	uint64_t done, total, out, reported;
};
void i2k_meter_begin(struct i2k_meter *m, const struct i2k_stage_cb *cb, enum i2k_stage stage,
		     const char *what, const char *detail, uint64_t total);
void i2k_meter_add(struct i2k_meter *m, uint64_t n);
/* Sets done (and out, when not 0) and reports like i2k_meter_add. */
void i2k_meter_set(struct i2k_meter *m, uint64_t done, uint64_t out);
void i2k_meter_end(struct i2k_meter *m);

#endif
