/* log.h — the guest init's console logging. Every line goes to the console
 * (fd 2 of PID 1, set up by main.c) as "i2kit-init: MESSAGE\n", written
 * with one write() so lines from the init never interleave mid-line.
 * Never fails (a failed write is dropped). */
#ifndef I2K_INITRD_INIT_LOG_H
#define I2K_INITRD_INIT_LOG_H

#include <stdarg.h>

/* i2ki_log_info/i2ki_log_warn: one line; i2ki_log_errno appends ": strerror(errno)".
 * i2ki_log_debug prints only when i2ki_log_verbose is set (cmdline i2kit.debug=1);
 * then every line also carries the seconds since boot (CLOCK_BOOTTIME), as
 * "i2kit-init: [    1.234567] MESSAGE", to see what each boot step costs. */
void i2ki_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void i2ki_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void i2ki_log_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void i2ki_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int i2ki_log_verbose;
/* The fd log lines go to (default 2). */
extern int i2ki_log_fd;

/* Opens every console the kernel lists in /proc/consoles ("console=ttyS0
 * console=tty0" gives two), so the init's lines and container output reach
 * all of them like the kernel's own messages; /dev/console alone is only
 * the last one. Without any, output goes to i2ki_log_fd. */
void i2ki_log_open_consoles(void);
/* Writes buf to every console (or i2ki_log_fd). */
void i2ki_console_write(const void *buf, unsigned long len);

#endif
