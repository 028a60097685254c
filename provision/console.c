/* console.c — raw mode with guaranteed restore, and the escape key (see
 * console.h). */
#include "provision/console.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "builder/base/util.h"

static struct termios saved;
static volatile sig_atomic_t active;
static int tty_fd = -1;
static bool atexit_done;

static const int soft_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static const int hard_sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE};
static struct sigaction old_soft[4], old_hard[4];

/* Async-signal-safe: tcsetattr and write only. */
static void restore_now(void)
{
	if (!active)
		return;
	active = 0;
	tcsetattr(tty_fd, TCSAFLUSH, &saved);
	static const char wrap[] = "\033[?7h";
	ssize_t w = write(tty_fd, wrap, sizeof(wrap) - 1);
	(void)w;
}

static void on_soft(int sig)
{
	if (i2k_interrupted) {
		restore_now();
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	i2k_interrupted = 1;
}

static void on_hard(int sig)
{
	restore_now();
	signal(sig, SIG_DFL);
	raise(sig);
}

bool i2k_console_active(void)
{
	return active != 0;
}

int i2k_console_begin(int fd)
{
	if (active || !isatty(fd) || tcgetattr(fd, &saved) < 0)
		return -1;
	struct termios t = saved;
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_oflag |= OPOST;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tty_fd = fd;
	for (size_t i = 0; i < 4; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sigemptyset(&sa.sa_mask);
		sa.sa_handler = on_soft;
		sigaction(soft_sigs[i], &sa, &old_soft[i]);
		sa.sa_handler = on_hard;
		sa.sa_flags = SA_RESETHAND;
		sigaction(hard_sigs[i], &sa, &old_hard[i]);
	}
	if (!atexit_done) {
		atexit(i2k_console_end);
		atexit_done = true;
	}
	if (tcsetattr(fd, TCSAFLUSH, &t) < 0) {
		i2k_console_end();
		return -1;
	}
	active = 1;
	return 0;
}

void i2k_console_end(void)
{
	if (tty_fd < 0)
		return;
	restore_now();
	for (size_t i = 0; i < 4; i++) {
		sigaction(soft_sigs[i], &old_soft[i], NULL);
		sigaction(hard_sigs[i], &old_hard[i], NULL);
	}
	tty_fd = -1;
}

enum i2k_console_action i2k_console_filter(struct i2k_console_keys *k, const char *in, size_t len,
					   char *out, size_t *outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (!k->escape) {
			if (c == I2K_CONSOLE_ESCAPE)
				k->escape = true;
			else
				out[n++] = c;
			continue;
		}
		k->escape = false;
		enum i2k_console_action a = I2K_CONSOLE_NONE;
		if (c == 'x' || c == 'X')
			a = I2K_CONSOLE_QUIT;
		else if (c == 'p' || c == 'P')
			a = I2K_CONSOLE_POWERDOWN;
		else if (c == 'h' || c == 'H' || c == '?')
			a = I2K_CONSOLE_SHOW_HELP;
		else
			out[n++] = c; /* Ctrl-A Ctrl-A, or any other key: sent as is */
		if (a != I2K_CONSOLE_NONE) {
			*outlen = n;
			return a;
		}
	}
	*outlen = n;
	return I2K_CONSOLE_NONE;
}
