/* evloop.h — the local provider's event loop: epoll with one callback per
 * watched fd, plus timerfd timers. Single-threaded.
 *
 * i2k_ev_run_once takes one event at a time from epoll (maxevents = 1), so
 * a callback may close and free any watch, its own included, without a
 * stale event for it being delivered later in the same batch.
 */
#ifndef I2K_PROVISION_LOCAL_EVLOOP_H
#define I2K_PROVISION_LOCAL_EVLOOP_H

#include <stdint.h>
#include <sys/epoll.h>

#include "builder/base/error.h"

struct i2k_ev {
	int epfd;
};

struct i2k_ev_watch;
typedef void (*i2k_ev_fn)(struct i2k_ev_watch *w, uint32_t events);
struct i2k_ev_watch {
	i2k_ev_fn fn;
	int fd;
	uint32_t events; /* the current interest (EPOLLIN | EPOLLOUT ...) */
	void *ctx;	 /* for the callback's owner */
};

int i2k_ev_init(struct i2k_ev *ev, struct i2k_error **err);
void i2k_ev_close(struct i2k_ev *ev);

/* Watches w->fd (set by the caller) for `events`; w must stay valid until
 * i2k_ev_del. i2k_ev_set changes the interest (no syscall when unchanged). */
int i2k_ev_add(struct i2k_ev *ev, struct i2k_ev_watch *w, uint32_t events, struct i2k_error **err);
void i2k_ev_set(struct i2k_ev *ev, struct i2k_ev_watch *w, uint32_t events);
void i2k_ev_del(struct i2k_ev *ev, struct i2k_ev_watch *w);

/* Waits up to timeout_ms (-1 = forever) for an event, then dispatches up to
 * 256 ready events. Returns the number dispatched, -1 on EINTR (not an
 * error: the caller checks its flags). */
int i2k_ev_run_once(struct i2k_ev *ev, int timeout_ms);

/* A one-shot timer: a timerfd watched for EPOLLIN; fn runs once when it
 * expires (the timer stays armed-but-spent until i2k_ev_timer_clear). */
int i2k_ev_timer_start(struct i2k_ev *ev, struct i2k_ev_watch *w, unsigned ms, i2k_ev_fn fn,
		       void *ctx, struct i2k_error **err);
void i2k_ev_timer_clear(struct i2k_ev *ev, struct i2k_ev_watch *w);

/* CLOCK_MONOTONIC in milliseconds. */
long long i2k_ev_now_ms(void);

#endif
