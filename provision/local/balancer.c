/* balancer.c — see balancer.h. */
#include "provision/local/balancer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "builder/base/util.h"

struct backend {
	int id;
	uint16_t port;
	bool in_rotation, removed;
	unsigned active;
};

struct dirbuf {
	char *data;
	size_t len, sent;
	bool eof;  /* the reading side reached EOF */
	bool shut; /* shutdown(SHUT_WR) done on the writing side */
};

struct conn {
	struct i2k_lb *lb;
	struct i2k_ev_watch cw, bw;
	struct dirbuf up, down; /* up: client → backend; down: backend → client */
	int backend_id;		/* -1: none */
	bool connecting, responded, replay_ok;
	int tried[I2K_LB_MAX_TRIES];
	unsigned ntried;
	struct conn *prev, *next;
};

struct i2k_lb {
	struct i2k_ev *ev;
	struct i2k_ev_watch lw;
	uint16_t port;
	struct backend be[I2K_LB_MAX_BACKENDS];
	size_t nbe;
	size_t rr;
	struct conn *conns;
	struct i2k_lb_stats stats;
};

static struct backend *find_be(const struct i2k_lb *lb, int id)
{
	for (size_t i = 0; i < lb->nbe; i++)
		if (lb->be[i].id == id)
			return (struct backend *)&lb->be[i];
	return NULL;
}

int i2k_lb_set_backend(struct i2k_lb *lb, int id, uint16_t port, bool in_rotation)
{
	struct backend *b = find_be(lb, id);
	if (!b) {
		/* reuse the slot of a removed backend without connections */
		for (size_t i = 0; i < lb->nbe && !b; i++)
			if (lb->be[i].removed && lb->be[i].active == 0)
				b = &lb->be[i];
		if (!b) {
			if (lb->nbe == I2K_LB_MAX_BACKENDS)
				return -1;
			b = &lb->be[lb->nbe++];
		}
		memset(b, 0, sizeof(*b));
		b->id = id;
	}
	b->port = port;
	b->in_rotation = in_rotation;
	b->removed = false;
	return 0;
}

void i2k_lb_remove_backend(struct i2k_lb *lb, int id)
{
	struct backend *b = find_be(lb, id);
	if (b)
		b->removed = true, b->in_rotation = false;
}

unsigned i2k_lb_active(const struct i2k_lb *lb, int id)
{
	const struct backend *b = find_be(lb, id);
	return b ? b->active : 0;
}

void i2k_lb_get_stats(const struct i2k_lb *lb, struct i2k_lb_stats *out)
{
	*out = lb->stats;
}

uint16_t i2k_lb_port(const struct i2k_lb *lb)
{
	return lb->port;
}

/* ---- connections --------------------------------------------------------------- */

static void conn_free(struct conn *c)
{
	struct i2k_lb *lb = c->lb;
	if (c->backend_id >= 0) {
		struct backend *b = find_be(lb, c->backend_id);
		if (b && b->active)
			b->active--;
	}
	if (c->cw.fd >= 0) {
		i2k_ev_del(lb->ev, &c->cw);
		close(c->cw.fd);
	}
	if (c->bw.fd >= 0) {
		i2k_ev_del(lb->ev, &c->bw);
		close(c->bw.fd);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		lb->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->up.data);
	free(c->down.data);
	free(c);
}

static bool tried(const struct conn *c, int id)
{
	for (unsigned i = 0; i < c->ntried; i++)
		if (c->tried[i] == id)
			return true;
	return false;
}

/* The next backend for c: round robin over those in rotation (any live one
 * when none is), skipping the ones this connection already tried. */
static struct backend *pick(struct i2k_lb *lb, const struct conn *c)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < lb->nbe; k++) {
			struct backend *b = &lb->be[(lb->rr + k) % lb->nbe];
			if (b->removed || tried(c, b->id))
				continue;
			if (pass == 0 && !b->in_rotation)
				continue;
			lb->rr = (lb->rr + k + 1) % lb->nbe;
			return b;
		}
		/* fall back to backends out of rotation only if none is in */
		bool any_in = false;
		for (size_t k = 0; k < lb->nbe; k++)
			any_in |= lb->be[k].in_rotation && !lb->be[k].removed;
		if (any_in)
			break;
	}
	return NULL;
}

static void conn_update(struct conn *c);
static void on_backend(struct i2k_ev_watch *w, uint32_t events);

static void drop_backend(struct conn *c)
{
	if (c->bw.fd >= 0) {
		i2k_ev_del(c->lb->ev, &c->bw);
		close(c->bw.fd);
		c->bw.fd = -1;
	}
	if (c->backend_id >= 0) {
		struct backend *b = find_be(c->lb, c->backend_id);
		if (b && b->active)
			b->active--;
		c->backend_id = -1;
	}
}

/* Connects c to the next backend. Returns -1 when none is left (c is then
 * freed). */
static int connect_next(struct conn *c)
{
	struct i2k_lb *lb = c->lb;
	drop_backend(c);
	while (c->ntried < I2K_LB_MAX_TRIES) {
		struct backend *b = pick(lb, c);
		if (!b)
			break;
		c->tried[c->ntried++] = b->id;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			break;
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons(b->port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int r = connect(fd, (struct sockaddr *)&a, sizeof(a));
		if (r < 0 && errno != EINPROGRESS) {
			close(fd);
			lb->stats.retried++;
			continue;
		}
		c->bw = (struct i2k_ev_watch){.fn = on_backend, .fd = fd, .ctx = c};
		c->connecting = r < 0;
		if (i2k_ev_add(lb->ev, &c->bw, EPOLLOUT, NULL) < 0) {
			close(fd);
			c->bw.fd = -1;
			break;
		}
		c->backend_id = b->id;
		b->active++;
		c->up.sent = 0; /* replay what the client sent so far */
		c->up.shut = false;
		conn_update(c);
		return 0;
	}
	lb->stats.failed++;
	conn_free(c);
	return -1;
}

/* The backend failed (connect error, reset, or EOF before any byte):
 * retry elsewhere when the client's bytes can be replayed. Returns -1 when
 * c was freed. */
static int backend_failed(struct conn *c)
{
	if (!c->responded && c->replay_ok) {
		c->lb->stats.retried++;
		return connect_next(c);
	}
	if (!c->responded)
		c->lb->stats.failed++;
	conn_free(c);
	return -1;
}

static void conn_update(struct conn *c)
{
	struct i2k_ev *ev = c->lb->ev;
	uint32_t ce = 0, be = 0;
	if (!c->up.eof && c->up.len < I2K_LB_BUF)
		ce |= EPOLLIN;
	if (c->down.sent < c->down.len)
		ce |= EPOLLOUT;
	if (c->bw.fd >= 0) {
		if (c->connecting) {
			be = EPOLLOUT;
		} else {
			if (!c->down.eof && c->down.len < I2K_LB_BUF)
				be |= EPOLLIN;
			if (c->up.sent < c->up.len)
				be |= EPOLLOUT;
		}
		i2k_ev_set(ev, &c->bw, be);
	}
	i2k_ev_set(ev, &c->cw, ce);
}

/* Reads from fd into b; 0 ok (maybe nothing), 1 EOF, -1 error. */
static int fill(int fd, struct dirbuf *b)
{
	if (!b->data)
		b->data = i2k_xmalloc(I2K_LB_BUF);
	if (b->len == I2K_LB_BUF)
		return 0; /* full: read again once the other side took some */
	ssize_t n = recv(fd, b->data + b->len, I2K_LB_BUF - b->len, 0);
	if (n > 0) {
		b->len += (size_t)n;
		return 0;
	}
	if (n == 0)
		return 1;
	return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

/* Writes the unsent part of b to fd; 0 ok, -1 error. */
static int flush(int fd, struct dirbuf *b)
{
	while (b->sent < b->len) {
		ssize_t n = send(fd, b->data + b->sent, b->len - b->sent, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		b->sent += (size_t)n;
	}
	return 0;
}

/* Frees buffer space: the downstream buffer always once flushed; the
 * upstream one only when it need not be replayed any more. */
static void compact(struct conn *c)
{
	if (c->down.sent == c->down.len)
		c->down.sent = c->down.len = 0;
	if (c->up.sent == c->up.len && c->up.len > 0) {
		if (c->responded || !c->replay_ok) {
			c->up.sent = c->up.len = 0;
		} else if (c->up.len == I2K_LB_BUF) {
			c->replay_ok = false; /* too much to keep: no more retries */
			c->up.sent = c->up.len = 0;
		}
	}
}

/* Half-closes what is finished; frees c when both directions are done.
 * Returns -1 when c was freed. */
static int settle(struct conn *c)
{
	compact(c);
	if (c->up.eof && !c->up.shut && c->up.sent == c->up.len && c->bw.fd >= 0 &&
	    !c->connecting) {
		shutdown(c->bw.fd, SHUT_WR);
		c->up.shut = true;
	}
	if (c->down.eof && !c->down.shut && c->down.sent == c->down.len) {
		shutdown(c->cw.fd, SHUT_WR);
		c->down.shut = true;
	}
	if (c->down.shut && (c->up.shut || c->up.eof)) {
		conn_free(c);
		return -1;
	}
	conn_update(c);
	return 0;
}

static void on_backend(struct i2k_ev_watch *w, uint32_t events)
{
	struct conn *c = w->ctx;
	if (c->connecting) {
		int e = 0;
		socklen_t l = sizeof(e);
		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e != 0 ||
		    (events & (EPOLLERR | EPOLLHUP))) {
			backend_failed(c);
			return;
		}
		c->connecting = false;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int r = fill(w->fd, &c->down);
		if (r < 0 || (r == 1 && !c->responded)) {
			backend_failed(c);
			return;
		}
		if (c->down.len > 0 && !c->responded) {
			c->responded = true;
			c->lb->stats.completed++;
		}
		if (r == 1)
			c->down.eof = true;
	}
	if (flush(w->fd, &c->up) < 0) {
		backend_failed(c);
		return;
	}
	if (flush(c->cw.fd, &c->down) < 0) {
		conn_free(c);
		return;
	}
	settle(c);
}

static void on_client(struct i2k_ev_watch *w, uint32_t events)
{
	struct conn *c = w->ctx;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		int r = fill(w->fd, &c->up);
		if (r < 0) {
			conn_free(c);
			return;
		}
		if (r == 1)
			c->up.eof = true;
	}
	if (flush(w->fd, &c->down) < 0) {
		conn_free(c);
		return;
	}
	if (c->bw.fd >= 0 && !c->connecting && flush(c->bw.fd, &c->up) < 0) {
		backend_failed(c);
		return;
	}
	settle(c);
}

static void on_accept(struct i2k_ev_watch *w, uint32_t events)
{
	struct i2k_lb *lb = w->ctx;
	for (int k = 0; k < 64; k++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		lb->stats.accepted++;
		struct conn *c = i2k_xcalloc(1, sizeof(*c));
		c->lb = lb;
		c->backend_id = -1;
		c->replay_ok = true;
		c->bw.fd = -1;
		c->cw = (struct i2k_ev_watch){.fn = on_client, .fd = fd, .ctx = c};
		if (i2k_ev_add(lb->ev, &c->cw, 0, NULL) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = lb->conns;
		if (lb->conns)
			lb->conns->prev = c;
		lb->conns = c;
		connect_next(c);
	}
}

static int listen_on(uint16_t port, uint16_t *bound, struct i2k_error **err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
		int e = errno;
		close(fd);
		return i2k_error_errno(err, e, I2K_ERR_IO, "127.0.0.1:%u", port);
	}
	*bound = ntohs(a.sin_port);
	return fd;
}

int i2k_lb_open(struct i2k_ev *ev, uint16_t port, bool any_if_taken, struct i2k_lb **out,
		struct i2k_error **err)
{
	uint16_t bound = 0;
	struct i2k_error *first = NULL;
	int fd = listen_on(port, &bound, &first);
	if (fd < 0 && port != 0 && any_if_taken)
		fd = listen_on(0, &bound, NULL);
	if (fd < 0) {
		i2k_error_propagate(err, &first);
		return -1;
	}
	i2k_error_free(first);
	struct i2k_lb *lb = i2k_xcalloc(1, sizeof(*lb));
	lb->ev = ev;
	lb->port = bound;
	lb->lw = (struct i2k_ev_watch){.fn = on_accept, .fd = fd, .ctx = lb};
	if (i2k_ev_add(ev, &lb->lw, EPOLLIN, err) < 0) {
		close(fd);
		free(lb);
		return -1;
	}
	*out = lb;
	return 0;
}

void i2k_lb_free(struct i2k_lb *lb)
{
	if (!lb)
		return;
	while (lb->conns)
		conn_free(lb->conns);
	i2k_ev_del(lb->ev, &lb->lw);
	close(lb->lw.fd);
	free(lb);
}
