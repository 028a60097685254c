/* error.c — see error.h. */
#include "builder/base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int i2k_error_setv(struct i2k_error **err, enum i2k_errc code, const char *fmt, va_list ap)
{
	if (err == NULL || *err != NULL)
		return -1;
	struct i2k_error *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -1;
	e->code = code;
	if (vasprintf(&e->msg, fmt, ap) < 0)
		e->msg = NULL;
	*err = e;
	return -1;
}

int i2k_error_set(struct i2k_error **err, enum i2k_errc code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	i2k_error_setv(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

int i2k_error_errno(struct i2k_error **err, int errnum, enum i2k_errc code, const char *fmt, ...)
{
	if (err == NULL || *err != NULL)
		return -1;
	char *what = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	const char *why = strerror(errnum);
	if (errnum == ENOSPC || errnum == EDQUOT)
		why = "no space left on device";
	i2k_error_set(err, code, "%s: %s", what ? what : "?", why);
	free(what);
	if (*err)
		(*err)->errnum = errnum;
	return -1;
}

int i2k_error_wrap(struct i2k_error **err, const char *fmt, ...)
{
	if (err == NULL || *err == NULL)
		return -1;
	char *ctx = NULL, *joined = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&ctx, fmt, ap) < 0)
		ctx = NULL;
	va_end(ap);
	if (ctx && asprintf(&joined, "%s: %s", ctx, (*err)->msg ? (*err)->msg : "?") >= 0) {
		free((*err)->msg);
		(*err)->msg = joined;
	}
	free(ctx);
	return -1;
}

void i2k_error_propagate(struct i2k_error **dst, struct i2k_error **src)
{
	if (src == NULL || *src == NULL)
		return;
	if (dst && *dst == NULL) {
		*dst = *src;
	} else {
		i2k_error_free(*src);
	}
	*src = NULL;
}

void i2k_error_free(struct i2k_error *e)
{
	if (e == NULL)
		return;
	free(e->msg);
	free(e);
}

void i2k_error_freep(struct i2k_error **e)
{
	if (e) {
		i2k_error_free(*e);
		*e = NULL;
	}
}

int i2k_error_exit_code(const struct i2k_error *e)
{
	if (e == NULL)
		return 0;
	switch (e->code) {
	case I2K_ERR_USAGE:
		return 2;
	case I2K_ERR_NETWORK:
	case I2K_ERR_REGISTRY:
	case I2K_ERR_AUTH:
		return 3;
	case I2K_ERR_INTERNAL:
		return 4;
	case I2K_ERR_INTERRUPTED:
		return 130; /* as a shell reports SIGINT */
	default:
		return 1;
	}
}

const char *i2k_errc_name(enum i2k_errc code)
{
	static const char *const names[] = {
	    [I2K_ERR_USAGE] = "usage",
	    [I2K_ERR_CONFIG] = "config",
	    [I2K_ERR_NOTFOUND] = "notfound",
	    [I2K_ERR_NETWORK] = "network",
	    [I2K_ERR_REGISTRY] = "registry",
	    [I2K_ERR_AUTH] = "auth",
	    [I2K_ERR_INTEGRITY] = "integrity",
	    [I2K_ERR_HOSTILE] = "hostile",
	    [I2K_ERR_OFFLINE] = "offline",
	    [I2K_ERR_IO] = "io",
	    [I2K_ERR_INTERRUPTED] = "interrupted",
	    [I2K_ERR_UNSUPPORTED] = "unsupported",
	    [I2K_ERR_INTERNAL] = "internal",
	};
	if ((unsigned)code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "unknown";
}
