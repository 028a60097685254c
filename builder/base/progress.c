/* progress.c — see progress.h. */
#include "builder/base/progress.h"

#include <stddef.h>

void i2k_stage_report(const struct i2k_stage_cb *cb, const struct i2k_stage_event *ev)
{
	if (cb && cb->fn)
		cb->fn(ev, cb->ctx);
}

static void meter_report(struct i2k_meter *m, enum i2k_step step)
{
	struct i2k_stage_event ev = {.stage = m->stage,
				     .step = step,
				     .what = m->what,
				     .detail = m->detail,
				     .done = m->done,
				     .total = m->total,
				     .out = m->out};
	m->reported = m->done;
	i2k_stage_report(m->cb, &ev);
}

void i2k_meter_begin(struct i2k_meter *m, const struct i2k_stage_cb *cb, enum i2k_stage stage,
		     const char *what, const char *detail, uint64_t total)
{
	*m = (struct i2k_meter){
	    .cb = cb, .stage = stage, .what = what, .detail = detail, .total = total};
	if (cb && cb->fn)
		meter_report(m, I2K_STEP_BEGIN);
}

void i2k_meter_add(struct i2k_meter *m, uint64_t n)
{
	m->done += n;
	if (m->cb && m->cb->fn && m->done - m->reported >= I2K_METER_STEP)
		meter_report(m, I2K_STEP_UPDATE);
}

void i2k_meter_set(struct i2k_meter *m, uint64_t done, uint64_t out)
{
	if (out)
		m->out = out;
	if (done < m->done)
		m->reported = done;
	m->done = done;
	if (m->cb && m->cb->fn && m->done - m->reported >= I2K_METER_STEP)
		meter_report(m, I2K_STEP_UPDATE);
}

void i2k_meter_end(struct i2k_meter *m)
{
	if (m->cb && m->cb->fn)
		meter_report(m, I2K_STEP_END);
	m->cb = NULL;
}
