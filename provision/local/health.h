/* health.h — health checks of the local provider's replicas.
 *
 * One check is one non-blocking attempt on 127.0.0.1:PORT within a
 * timeout, on the caller's event loop:
 *   HTTP (path set): "GET PATH HTTP/1.0"; healthy on a 2xx or 3xx status.
 *   TCP (no path): the connection must be accepted and stay open for
 *     min(timeout / 2, 500 ms). Through QEMU's user network a forwarded
 *     connection is accepted by QEMU itself and closed when the guest
 *     refuses it, so "still open" is the only signal available from the
 *     host; a guest that is still booting can pass it. Prefer HTTP checks.
 * The verdict rule is i2k_health_update: 2 consecutive failures take a
 * replica out, 1 success puts it (back) in; a new replica starts out.
 */
#ifndef I2K_PROVISION_LOCAL_HEALTH_H
#define I2K_PROVISION_LOCAL_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "provision/local/evloop.h"

#define I2K_HEALTH_FAILS_OUT 2

struct i2k_health_state {
	bool healthy;
	unsigned fails; /* consecutive failures */
	bool checked;	/* at least one check finished */
};
/* Applies one result; returns true when `healthy` changed. */
bool i2k_health_update(struct i2k_health_state *s, bool ok);

struct i2k_hc;
/* ok, and a short reason when not ok ("connection refused", "HTTP 500",
 * "timed out", "closed"). The check is freed right after the callback. */
typedef void (*i2k_hc_fn)(void *ctx, bool ok, const char *why);

/* Starts a check; *out (may be NULL) lets the caller cancel it before it
 * completes (the pointer is dead once fn has run). */
int i2k_hc_start(struct i2k_ev *ev, uint16_t port, const char *path, unsigned timeout_ms,
		 i2k_hc_fn fn, void *ctx, struct i2k_hc **out, struct i2k_error **err);
/* Cancels a running check without calling fn. */
void i2k_hc_cancel(struct i2k_hc *hc);

#endif
