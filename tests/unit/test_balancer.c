/* test_balancer.c — the local provider's TCP balancer and health checks
 * (provision/local/) against TCP servers in threads on 127.0.0.1: round
 * robin, rotation, retry of refused and accept-then-close backends with the
 * client's bytes replayed, bounded buffers with large transfers both ways,
 * half-close, HTTP and TCP health checks and the 2-out/1-in rule. */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "provision/local/balancer.h"
#include "provision/local/health.h"

/* ---- test servers ------------------------------------------------------------------ */

enum mode {
	M_REPLY,   /* read the request (up to a blank line or EOF), reply "NAME\n" */
	M_CLOSE,   /* accept and close at once (QEMU user net, guest refuses) */
	M_BIG,	   /* read request, send 2 MiB */
	M_COUNT,   /* read to EOF, reply with the byte count */
	M_HTTP500, /* reply HTTP/1.0 500 */
	M_HOLD,	   /* accept and keep the connection open for a while */
};

struct server {
	int fd;
	uint16_t port;
	enum mode mode;
	const char *name;
	pthread_t th;
	atomic_int served;
};

static void read_request(int fd)
{
	char buf[4096];
	size_t got = 0;
	for (;;) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			return;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") || strchr(buf, '\n') || got == sizeof(buf) - 1)
			return;
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w, n -= (size_t)w;
	}
}

static void *serve(void *arg)
{
	struct server *s = arg;
	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		s->served++;
		switch (s->mode) {
		case M_REPLY: {
			read_request(c);
			char line[64];
			int n =
			    snprintf(line, sizeof(line), "HTTP/1.0 200 OK\r\n\r\n%s\n", s->name);
			send_all(c, line, (size_t)n);
			break;
		}
		case M_CLOSE:
			break;
		case M_BIG: {
			read_request(c);
			static char block[65536];
			memset(block, 'x', sizeof(block));
			for (int i = 0; i < 32; i++)
				send_all(c, block, sizeof(block));
			break;
		}
		case M_COUNT: {
			char buf[65536];
			size_t total = 0;
			ssize_t n;
			while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
				total += (size_t)n;
			char line[64];
			int l = snprintf(line, sizeof(line), "%zu\n", total);
			send_all(c, line, (size_t)l);
			break;
		}
		case M_HTTP500:
			read_request(c);
			send_all(c, "HTTP/1.0 500 Oops\r\n\r\n", 21);
			break;
		case M_HOLD: {
			struct pollfd p = {.fd = c, .events = POLLRDHUP};
			poll(&p, 1, 2000);
			break;
		}
		}
		close(c);
	}
}

static uint16_t free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	close(fd);
	return ntohs(a.sin_port);
}

static void server_start(struct server *s, enum mode m, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->mode = m;
	s->name = name;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	bind(s->fd, (struct sockaddr *)&a, sizeof(a));
	listen(s->fd, 64);
	getsockname(s->fd, (struct sockaddr *)&a, &l);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->th, NULL, serve, s);
}

static void server_stop(struct server *s)
{
	shutdown(s->fd, SHUT_RDWR);
	close(s->fd);
	pthread_join(s->th, NULL);
}

/* ---- the event loop in a thread ------------------------------------------------------ */

static struct i2k_ev ev;
static atomic_int loop_stop;
static pthread_t loop_th;

static void *loop(void *arg)
{
	while (!loop_stop)
		i2k_ev_run_once(&ev, 20);
	return NULL;
}
static void loop_start(void)
{
	loop_stop = 0;
	pthread_create(&loop_th, NULL, loop, NULL);
}
static void loop_end(void)
{
	loop_stop = 1;
	pthread_join(loop_th, NULL);
}

/* ---- a client ------------------------------------------------------------------------ */

static int dial(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request through the balancer; returns the body's last line (static). */
static const char *get(uint16_t port)
{
	static char buf[4096];
	buf[0] = '\0';
	int fd = dial(port);
	if (fd < 0)
		return "(connect failed)";
	send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	if (got == 0)
		return "(nothing)";
	char *body = strstr(buf, "\r\n\r\n");
	return body ? body + 4 : buf;
}

TEST(round_robin_and_rotation)
{
	struct server a, b;
	server_start(&a, M_REPLY, "A");
	server_start(&b, M_REPLY, "B");
	struct i2k_lb *lb = NULL;
	OK(i2k_lb_open(&ev, 0, false, &lb, &_e));
	if (!lb)
		return;
	CHECK(i2k_lb_set_backend(lb, 1, a.port, true) == 0);
	CHECK(i2k_lb_set_backend(lb, 2, b.port, true) == 0);
	loop_start();
	int na = 0, nb = 0;
	for (int i = 0; i < 6; i++) {
		const char *r = get(i2k_lb_port(lb));
		na += strcmp(r, "A\n") == 0;
		nb += strcmp(r, "B\n") == 0;
	}
	CHECK_INT(na, 3);
	CHECK_INT(nb, 3);
	loop_end();
	/* B out of rotation: all to A */
	i2k_lb_set_backend(lb, 2, b.port, false);
	loop_start();
	for (int i = 0; i < 4; i++)
		CHECK_STR(get(i2k_lb_port(lb)), "A\n");
	loop_end();
	/* none in rotation: any backend still serves */
	i2k_lb_set_backend(lb, 1, a.port, false);
	loop_start();
	for (int i = 0; i < 2; i++) {
		const char *r = get(i2k_lb_port(lb));
		CHECK(strcmp(r, "A\n") == 0 || strcmp(r, "B\n") == 0);
	}
	loop_end();
	/* removed: no more connections to it */
	i2k_lb_set_backend(lb, 1, a.port, true);
	i2k_lb_remove_backend(lb, 2);
	int before = b.served;
	loop_start();
	for (int i = 0; i < 3; i++)
		CHECK_STR(get(i2k_lb_port(lb)), "A\n");
	loop_end();
	CHECK_INT(b.served, before);
	CHECK_INT(i2k_lb_active(lb, 1), 0);
	struct i2k_lb_stats st;
	i2k_lb_get_stats(lb, &st);
	CHECK_INT(st.failed, 0);
	CHECK_INT(st.accepted, 15);
	i2k_lb_free(lb);
	server_stop(&a);
	server_stop(&b);
}

TEST(failed_backends_are_retried_invisibly)
{
	struct server a, dead;
	server_start(&a, M_REPLY, "A");
	server_start(&dead, M_CLOSE, "X");
	uint16_t refused = free_port();
	struct i2k_lb *lb = NULL;
	OK(i2k_lb_open(&ev, 0, false, &lb, &_e));
	if (!lb)
		return;
	i2k_lb_set_backend(lb, 1, refused, true);
	i2k_lb_set_backend(lb, 2, dead.port, true);
	i2k_lb_set_backend(lb, 3, a.port, true);
	loop_start();
	for (int i = 0; i < 12; i++)
		CHECK_STR(get(i2k_lb_port(lb)), "A\n");
	loop_end();
	struct i2k_lb_stats st;
	i2k_lb_get_stats(lb, &st);
	CHECK_INT(st.failed, 0);
	CHECK(st.retried >= 12);
	CHECK_INT(st.completed, 12);
	CHECK(dead.served >= 4);
	/* only dead backends: the client is closed without data */
	i2k_lb_remove_backend(lb, 3);
	loop_start();
	CHECK_STR(get(i2k_lb_port(lb)), "(nothing)");
	loop_end();
	i2k_lb_get_stats(lb, &st);
	CHECK_INT(st.failed, 1);
	i2k_lb_free(lb);
	server_stop(&a);
	server_stop(&dead);
}

TEST(large_transfers_and_half_close)
{
	struct server big, count;
	server_start(&big, M_BIG, "big");
	server_start(&count, M_COUNT, "count");
	struct i2k_lb *lb = NULL, *lb2 = NULL;
	OK(i2k_lb_open(&ev, 0, false, &lb, &_e));
	OK(i2k_lb_open(&ev, 0, false, &lb2, &_e));
	if (!lb || !lb2)
		return;
	i2k_lb_set_backend(lb, 1, big.port, true);
	i2k_lb_set_backend(lb2, 1, count.port, true);
	loop_start();
	/* 2 MiB down through a 64 KiB buffer */
	int fd = dial(i2k_lb_port(lb));
	send_all(fd, "go\n", 3);
	size_t total = 0;
	char buf[65536];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		total += (size_t)n;
	close(fd);
	CHECK_INT(total, 32 * 65536);
	/* 1 MiB up (more than the replay buffer), then half-close: the
	 * server sees EOF and still gets its answer out */
	fd = dial(i2k_lb_port(lb2));
	memset(buf, 'y', sizeof(buf));
	for (int i = 0; i < 16; i++)
		send_all(fd, buf, sizeof(buf));
	shutdown(fd, SHUT_WR);
	char line[64] = "";
	size_t got = 0;
	while (got < sizeof(line) - 1 && (n = recv(fd, line + got, sizeof(line) - 1 - got, 0)) > 0)
		got += (size_t)n;
	line[got] = '\0';
	close(fd);
	CHECK_STR(line, "1048576\n");
	loop_end();
	i2k_lb_free(lb);
	i2k_lb_free(lb2);
	server_stop(&big);
	server_stop(&count);
}

TEST(port_taken_falls_back_when_allowed)
{
	struct i2k_lb *lb = NULL, *lb2 = NULL;
	OK(i2k_lb_open(&ev, 0, false, &lb, &_e));
	if (!lb)
		return;
	uint16_t p = i2k_lb_port(lb);
	struct i2k_error *e = NULL;
	CHECK(i2k_lb_open(&ev, p, false, &lb2, &e) < 0);
	CHECK(e != NULL && strstr(e->msg, "Address already in use"));
	i2k_error_free(e);
	OK(i2k_lb_open(&ev, p, true, &lb2, &_e));
	if (lb2)
		CHECK(i2k_lb_port(lb2) != p && i2k_lb_port(lb2) != 0);
	i2k_lb_free(lb2);
	i2k_lb_free(lb);
}

/* ---- health ---------------------------------------------------------------------------- */

struct result {
	atomic_int done;
	bool ok;
	char why[64];
};

static void on_done(void *ctx, bool ok, const char *why)
{
	struct result *r = ctx;
	r->ok = ok;
	snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
	r->done = 1;
}

static struct result check(uint16_t port, const char *path, unsigned timeout_ms)
{
	struct result r = {0};
	OK(i2k_hc_start(&ev, port, path, timeout_ms, on_done, &r, NULL, &_e));
	long long end = i2k_ev_now_ms() + 5000;
	while (!r.done && i2k_ev_now_ms() < end)
		i2k_ev_run_once(&ev, 50);
	CHECK(r.done);
	return r;
}

TEST(health_checks)
{
	struct server ok, bad, dead, hold;
	server_start(&ok, M_REPLY, "A");
	server_start(&bad, M_HTTP500, "B");
	server_start(&dead, M_CLOSE, "X");
	server_start(&hold, M_HOLD, "H");
	struct result r = check(ok.port, "/health", 1000);
	CHECK(r.ok);
	r = check(bad.port, "/", 1000);
	CHECK(!r.ok);
	CHECK_STR(r.why, "HTTP 500");
	r = check(dead.port, "/", 1000);
	CHECK(!r.ok);
	CHECK_STR(r.why, "closed");
	r = check(free_port(), "/", 1000);
	CHECK(!r.ok);
	CHECK_STR(r.why, "connection refused");
	r = check(hold.port, "/", 300); /* HTTP: silence is a timeout */
	CHECK(!r.ok);
	CHECK_STR(r.why, "timed out");
	r = check(hold.port, NULL, 400); /* TCP: open for the hold time */
	CHECK(r.ok);
	r = check(dead.port, NULL, 1000);
	CHECK(!r.ok);
	CHECK_STR(r.why, "closed");
	r = check(free_port(), NULL, 1000);
	CHECK(!r.ok);
	/* a cancelled check never calls back */
	struct result c = {0};
	struct i2k_hc *hc = NULL;
	OK(i2k_hc_start(&ev, hold.port, NULL, 400, on_done, &c, &hc, &_e));
	i2k_hc_cancel(hc);
	for (int i = 0; i < 10; i++)
		i2k_ev_run_once(&ev, 60);
	CHECK(!c.done);
	server_stop(&ok);
	server_stop(&bad);
	server_stop(&dead);
	server_stop(&hold);
}

TEST(health_rule_two_out_one_in)
{
	struct i2k_health_state s = {0};
	CHECK(!s.healthy);
	CHECK(!i2k_health_update(&s, false));
	CHECK(i2k_health_update(&s, true)); /* 1 success → in */
	CHECK(s.healthy);
	CHECK(!i2k_health_update(&s, false)); /* 1 failure: still in */
	CHECK(s.healthy);
	CHECK(!i2k_health_update(&s, true)); /* a success resets the count */
	CHECK(!i2k_health_update(&s, false));
	CHECK(i2k_health_update(&s, false)); /* 2 in a row → out */
	CHECK(!s.healthy);
	CHECK(i2k_health_update(&s, true));
	CHECK(s.healthy);
}

int main(void)
{
	t_prog = "test_balancer";
	signal(SIGPIPE, SIG_IGN);
	struct i2k_error *e = NULL;
	if (i2k_ev_init(&ev, &e) < 0) {
		printf("FAIL: test_balancer/init: %s\n", e->msg);
		return 1;
	}
	RUN(round_robin_and_rotation);
	RUN(failed_backends_are_retried_invisibly);
	RUN(large_transfers_and_half_close);
	RUN(port_taken_falls_back_when_allowed);
	RUN(health_checks);
	RUN(health_rule_two_out_one_in);
	i2k_ev_close(&ev);
	return TEST_DONE();
}
