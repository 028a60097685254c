/* health.c — see health.h. */
#include "provision/local/health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "builder/base/util.h"

#define TCP_HOLD_MAX_MS 500u
#define STATUS_MAX 256

bool i2k_health_update(struct i2k_health_state *s, bool ok)
{
	bool was = s->healthy;
	s->checked = true;
	if (ok) {
		s->fails = 0;
		s->healthy = true;
	} else if (++s->fails >= I2K_HEALTH_FAILS_OUT) {
		s->healthy = false;
	}
	return was != s->healthy;
}

struct i2k_hc {
	struct i2k_ev *ev;
	struct i2k_ev_watch sock, timer, hold;
	char *path;
	bool connected, sent;
	unsigned timeout_ms;
	char buf[STATUS_MAX + 1];
	size_t len;
	i2k_hc_fn fn;
	void *ctx;
};

void i2k_hc_cancel(struct i2k_hc *hc)
{
	if (!hc)
		return;
	if (hc->sock.fd >= 0) {
		i2k_ev_del(hc->ev, &hc->sock);
		close(hc->sock.fd);
	}
	i2k_ev_timer_clear(hc->ev, &hc->timer);
	i2k_ev_timer_clear(hc->ev, &hc->hold);
	free(hc->path);
	free(hc);
}

static void finish(struct i2k_hc *hc, bool ok, const char *why)
{
	i2k_hc_fn fn = hc->fn;
	void *ctx = hc->ctx;
	i2k_hc_cancel(hc);
	fn(ctx, ok, why);
}

static void on_timeout(struct i2k_ev_watch *w, uint32_t events)
{
	finish(w->ctx, false, "timed out");
}

static void on_refused(struct i2k_ev_watch *w, uint32_t events)
{
	finish(w->ctx, false, "connection refused");
}

static void on_hold(struct i2k_ev_watch *w, uint32_t events)
{
	finish(w->ctx, true, NULL); /* TCP: still open after the hold time */
}

/* "HTTP/1.x NNN ..." → NNN, or -1. */
static int status_code(const char *line)
{
	if (strncmp(line, "HTTP/", 5) != 0)
		return -1;
	const char *sp = strchr(line, ' ');
	if (!sp || sp[1] < '1' || sp[1] > '5' || sp[2] < '0' || sp[2] > '9' || sp[3] < '0' ||
	    sp[3] > '9')
		return -1;
	return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

static void on_sock(struct i2k_ev_watch *w, uint32_t events)
{
	struct i2k_hc *hc = w->ctx;
	if (!hc->connected) {
		int e = 0;
		socklen_t l = sizeof(e);
		getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e) {
			finish(hc, false, e == ECONNREFUSED ? "connection refused" : strerror(e));
			return;
		}
		hc->connected = true;
		if (!hc->path) {
			unsigned hold = hc->timeout_ms / 2;
			if (hold > TCP_HOLD_MAX_MS)
				hold = TCP_HOLD_MAX_MS;
			if (i2k_ev_timer_start(hc->ev, &hc->hold, hold ? hold : 1, on_hold, hc,
					       NULL) < 0) {
				finish(hc, false, "timer");
				return;
			}
			i2k_ev_set(hc->ev, w, EPOLLIN | EPOLLRDHUP);
			return;
		}
		char req[1024];
		int n = snprintf(req, sizeof(req),
				 "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: "
				 "i2kit-health\r\nConnection: close\r\n\r\n",
				 hc->path);
		if (n < 0 || (size_t)n >= sizeof(req) ||
		    send(w->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
			finish(hc, false, "send failed");
			return;
		}
		i2k_ev_set(hc->ev, w, EPOLLIN);
		return;
	}
	if (!hc->path) { /* anything but silence during the hold is a failure */
		char c;
		ssize_t n = recv(w->fd, &c, 1, MSG_PEEK);
		if (n > 0) { /* the service talks first (SSH, SMTP): alive */
			finish(hc, true, NULL);
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		finish(hc, false, "closed");
		return;
	}
	ssize_t n = recv(w->fd, hc->buf + hc->len, STATUS_MAX - hc->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		hc->len += (size_t)n;
	hc->buf[hc->len] = '\0';
	char *eol = strstr(hc->buf, "\r\n");
	if (!eol && n > 0 && hc->len < STATUS_MAX)
		return;
	if (eol)
		*eol = '\0';
	int code = status_code(hc->buf);
	if (code >= 200 && code < 400) {
		finish(hc, true, NULL);
		return;
	}
	char why[64];
	if (code > 0)
		snprintf(why, sizeof(why), "HTTP %d", code);
	else
		snprintf(why, sizeof(why), "%s", hc->len ? "not an HTTP response" : "closed");
	finish(hc, false, why);
}

int i2k_hc_start(struct i2k_ev *ev, uint16_t port, const char *path, unsigned timeout_ms,
		 i2k_hc_fn fn, void *ctx, struct i2k_hc **out, struct i2k_error **err)
{
	struct i2k_hc *hc = i2k_xcalloc(1, sizeof(*hc));
	hc->ev = ev;
	hc->fn = fn;
	hc->ctx = ctx;
	hc->path = i2k_xstrdup(path);
	hc->timeout_ms = timeout_ms;
	hc->sock.fd = hc->timer.fd = hc->hold.fd = -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		i2k_hc_cancel(hc);
		return i2k_error_errno(err, errno, I2K_ERR_IO, "socket");
	}
	hc->sock = (struct i2k_ev_watch){.fn = on_sock, .fd = fd, .ctx = hc};
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
		/* refused at once: report through the callback like any failure */
		close(fd);
		hc->sock.fd = -1;
		if (i2k_ev_timer_start(ev, &hc->timer, 1, on_refused, hc, err) < 0) {
			i2k_hc_cancel(hc);
			return -1;
		}
		if (out)
			*out = hc;
		return 0;
	}
	if (i2k_ev_add(ev, &hc->sock, EPOLLOUT, err) < 0 ||
	    i2k_ev_timer_start(ev, &hc->timer, timeout_ms, on_timeout, hc, err) < 0) {
		i2k_hc_cancel(hc);
		return -1;
	}
	if (out)
		*out = hc;
	return 0;
}
