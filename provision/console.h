/* console.h — the interactive serial console of `i2kit run qemu` on a
 * terminal, as QEMU's own -nographic console behaves.
 *
 * i2k_console_begin puts the terminal on fd in raw mode (no echo, no line
 * editing, no signals from keys: Ctrl-C goes to the guest; output
 * processing kept) and arranges that the saved mode is restored on every
 * way out: i2k_console_end, exit() (atexit), and SIGINT/SIGTERM/SIGHUP/
 * SIGQUIT (the handler restores, sets i2k_interrupted, and a second signal
 * ends the process) as well as SIGSEGV/SIGBUS/SIGABRT/SIGFPE (restore, then
 * the default action). i2k_console_end also re-enables line wrapping
 * (ESC[?7h: SeaBIOS turns it off) on fd.
 *
 * Keys typed go through i2k_console_filter: Ctrl-A is the escape key as
 * in QEMU — Ctrl-A x stops the VM, Ctrl-A p asks the guest to power off
 * (ACPI), Ctrl-A h prints this list, Ctrl-A Ctrl-A sends one Ctrl-A; any
 * other key after Ctrl-A is sent as is.
 */
#ifndef I2K_PROVISION_CONSOLE_H
#define I2K_PROVISION_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>

#define I2K_CONSOLE_ESCAPE 0x01 /* Ctrl-A */
#define I2K_CONSOLE_HELP                                                                           \
	"\r\nCtrl-A x  stop the VM\r\nCtrl-A p  power the guest off (ACPI)\r\n"                    \
	"Ctrl-A h  this help\r\nCtrl-A Ctrl-A  send Ctrl-A\r\n"

enum i2k_console_action {
	I2K_CONSOLE_NONE,
	I2K_CONSOLE_QUIT,
	I2K_CONSOLE_POWERDOWN,
	I2K_CONSOLE_SHOW_HELP
};

/* Raw mode on fd (a terminal); 0, or -1 when fd is not a terminal. */
int i2k_console_begin(int fd);
/* Restores the saved mode and line wrapping; idempotent. */
void i2k_console_end(void);
bool i2k_console_active(void);

/* Escape-key state across reads. */
struct i2k_console_keys {
	bool escape; /* the previous key was Ctrl-A */
};
/* Copies the keys of in[0..len) that go to the guest into out (room for
 * len bytes) and sets *outlen; stops at the first escape command and
 * returns it (the keys after it are dropped). */
enum i2k_console_action i2k_console_filter(struct i2k_console_keys *k, const char *in, size_t len,
					   char *out, size_t *outlen);

#endif
