/* balancer.h — a TCP load balancer on 127.0.0.1 for the local provider.
 *
 * One balancer per published port. Backends are 127.0.0.1 ports (a
 * replica's QEMU host forward), identified by the caller's replica id.
 * New connections go round robin to backends "in rotation" (healthy); when
 * none is, to any backend. A connect failure, or a backend that closes or
 * resets before sending its first byte, is retried on the next backend with
 * the client's bytes replayed — the client sees nothing of it — as long as
 * those bytes fit in the retained buffer (I2K_LB_BUF). QEMU's user network
 * accepts a forwarded connection before the guest does, so "closed before
 * the first byte" is how a dead guest service looks from here.
 *
 * Everything is non-blocking on the caller's event loop; each direction of
 * a connection has one buffer of I2K_LB_BUF bytes (a full buffer stops
 * reading from that side). A removed backend's open connections continue
 * (drain); i2k_lb_active counts them.
 */
#ifndef I2K_PROVISION_LOCAL_BALANCER_H
#define I2K_PROVISION_LOCAL_BALANCER_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "provision/local/evloop.h"

#define I2K_LB_BUF (64u << 10)
#define I2K_LB_MAX_BACKENDS 128
#define I2K_LB_MAX_TRIES 8

struct i2k_lb;

struct i2k_lb_stats {
	uint64_t accepted;  /* client connections */
	uint64_t retried;   /* backend attempts that failed and were retried */
	uint64_t failed;    /* client connections closed because no backend served */
	uint64_t completed; /* client connections that got a response byte */
};

/* Listens on 127.0.0.1:port (0 → a free port). When the port is taken and
 * any_if_taken is set, a free port is used instead; else I2K_ERR_IO
 * "127.0.0.1:PORT: Address already in use". *out is new (i2k_lb_free). */
int i2k_lb_open(struct i2k_ev *ev, uint16_t port, bool any_if_taken, struct i2k_lb **out,
		struct i2k_error **err);
uint16_t i2k_lb_port(const struct i2k_lb *lb);

/* Adds or updates backend `id` (≥ 0): its port and whether it takes new
 * connections. More than I2K_LB_MAX_BACKENDS → -1. */
int i2k_lb_set_backend(struct i2k_lb *lb, int id, uint16_t port, bool in_rotation);
/* Stops sending new connections to `id`; its open connections go on. */
void i2k_lb_remove_backend(struct i2k_lb *lb, int id);
/* Open connections whose current backend is `id`. */
unsigned i2k_lb_active(const struct i2k_lb *lb, int id);
void i2k_lb_get_stats(const struct i2k_lb *lb, struct i2k_lb_stats *out);

/* Closes the listener and every connection. NULL accepted. */
void i2k_lb_free(struct i2k_lb *lb);

#endif
