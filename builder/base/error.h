/* error.h — the error contract every i2kit function follows.
 *
 * A fallible function takes `struct i2k_error **err` as its last argument and
 * returns a negative value on failure, after filling *err with a newly
 * allocated error (the caller owns it and frees it with i2k_error_free).
 * Callers add context with i2k_error_wrap() instead of printing; only the CLI
 * prints, once: "i2kit: error: WHAT: WHY".
 *
 * The category (enum i2k_errc) is stable and maps to the exit status:
 *   usage → 2; network, registry, auth → 3; internal → 4; interrupted → 130;
 *   everything else → 1.
 */
#ifndef I2K_BUILDER_BASE_ERROR_H
#define I2K_BUILDER_BASE_ERROR_H

#include <stdarg.h>

enum i2k_errc {
	I2K_ERR_USAGE = 1,   /* bad command line */
	I2K_ERR_CONFIG,	     /* bad YAML / manifest content */
	I2K_ERR_NOTFOUND,    /* image, file or ref does not exist */
	I2K_ERR_NETWORK,     /* connection, DNS, TLS, timeout */
	I2K_ERR_REGISTRY,    /* registry answered with an error */
	I2K_ERR_AUTH,	     /* credentials refused */
	I2K_ERR_INTEGRITY,   /* digest/size mismatch, corrupt data */
	I2K_ERR_HOSTILE,     /* layer tries to escape the root etc. */
	I2K_ERR_OFFLINE,     /* --offline and the data is not cached */
	I2K_ERR_IO,	     /* local file system error (disk full, ...) */
	I2K_ERR_INTERRUPTED, /* SIGINT/SIGTERM */
	I2K_ERR_UNSUPPORTED, /* valid but not implemented (media type, ...) */
	I2K_ERR_INTERNAL,    /* bug */
};

struct i2k_error {
	enum i2k_errc code;
	int errnum; /* errno at the origin, 0 if none */
	char *msg;  /* "context: context: cause" */
};

/* Sets *err (if err != NULL and *err == NULL) to a new error and returns -1.
 * If *err is already set, the new message is dropped (first error wins). */
int i2k_error_set(struct i2k_error **err, enum i2k_errc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int i2k_error_setv(struct i2k_error **err, enum i2k_errc code, const char *fmt, va_list ap);

/* Like i2k_error_set, appending ": strerror(errnum)"; ENOSPC/EDQUOT read as
 * "no space left on device" and keep code I2K_ERR_IO. Returns -1. */
int i2k_error_errno(struct i2k_error **err, int errnum, enum i2k_errc code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefixes "CONTEXT: " to the message of *err. Returns -1 so callers can write
 * `return i2k_error_wrap(err, "pulling %s", ref);`. No-op (still -1) if
 * err or *err is NULL. */
int i2k_error_wrap(struct i2k_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Moves *src into *dst (if *dst is empty), leaving *src NULL. */
void i2k_error_propagate(struct i2k_error **dst, struct i2k_error **src);

void i2k_error_free(struct i2k_error *e);
void i2k_error_freep(struct i2k_error **e);

/* Exit status for an error category (see top of file). */
int i2k_error_exit_code(const struct i2k_error *e);
const char *i2k_errc_name(enum i2k_errc code);

#endif
