/* evloop.c — see evloop.h. */
#include "provision/local/evloop.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int i2k_ev_init(struct i2k_ev *ev, struct i2k_error **err)
{
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "epoll_create1");
	return 0;
}

void i2k_ev_close(struct i2k_ev *ev)
{
	if (ev->epfd >= 0)
		close(ev->epfd);
	ev->epfd = -1;
}

int i2k_ev_add(struct i2k_ev *ev, struct i2k_ev_watch *w, uint32_t events, struct i2k_error **err)
{
	struct epoll_event e = {.events = events, .data.ptr = w};
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, w->fd, &e) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "epoll_ctl add");
	w->events = events;
	return 0;
}

void i2k_ev_set(struct i2k_ev *ev, struct i2k_ev_watch *w, uint32_t events)
{
	if (w->fd < 0 || w->events == events)
		return;
	struct epoll_event e = {.events = events, .data.ptr = w};
	if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, w->fd, &e) == 0)
		w->events = events;
}

void i2k_ev_del(struct i2k_ev *ev, struct i2k_ev_watch *w)
{
	if (w->fd >= 0)
		epoll_ctl(ev->epfd, EPOLL_CTL_DEL, w->fd, NULL);
}

int i2k_ev_run_once(struct i2k_ev *ev, int timeout_ms)
{
	int n = 0;
	for (; n < 256; n++) {
		struct epoll_event e;
		int r = epoll_wait(ev->epfd, &e, 1, n == 0 ? timeout_ms : 0);
		if (r < 0)
			return errno == EINTR && n == 0 ? -1 : n;
		if (r == 0)
			break;
		struct i2k_ev_watch *w = e.data.ptr;
		w->fn(w, e.events);
	}
	return n;
}

int i2k_ev_timer_start(struct i2k_ev *ev, struct i2k_ev_watch *w, unsigned ms, i2k_ev_fn fn,
		       void *ctx, struct i2k_error **err)
{
	w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "timerfd_create");
	struct itimerspec its = {
	    .it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L + 1}};
	w->fn = fn;
	w->ctx = ctx;
	if (timerfd_settime(w->fd, 0, &its, NULL) < 0 || i2k_ev_add(ev, w, EPOLLIN, err) < 0) {
		i2k_error_errno(err, errno, I2K_ERR_IO, "timerfd");
		close(w->fd);
		w->fd = -1;
		return -1;
	}
	return 0;
}

void i2k_ev_timer_clear(struct i2k_ev *ev, struct i2k_ev_watch *w)
{
	if (w->fd < 0)
		return;
	i2k_ev_del(ev, w);
	close(w->fd);
	w->fd = -1;
}

long long i2k_ev_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
