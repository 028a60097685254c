/* shutdown.c — final shutdown of the guest (see shutdown.h). */
#include "shutdown.h"

#include "cmdline.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <sys/io.h>
#endif

#define MAX_MOUNTS 256

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reaps until no children are left or ms pass. */
static void reap_for(int ms)
{
	long long end = now_ms() + ms;
	while (now_ms() < end) {
		pid_t p = waitpid(-1, NULL, WNOHANG);
		if (p < 0 && errno == ECHILD)
			return;
		if (p <= 0)
			usleep(20 * 1000);
	}
}

/* Decodes the octal escapes of /proc/mounts ("\040" for a blank). */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
}

int i2ki_shutdown_unmount_all(void)
{
	static char buf[64 * 1024];
	char *mnts[MAX_MOUNTS];
	int n = 0, failures = 0;
	int fd = open("/proc/self/mounts", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		i2ki_log_errno("open /proc/self/mounts");
		return 1;
	}
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len >= sizeof(buf) - 1)
			break;
	}
	close(fd);
	buf[len] = 0;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		char *target = sp + 1;
		char *end = strchr(target, ' ');
		if (end)
			*end = 0;
		unescape(target);
		if (n < MAX_MOUNTS)
			mnts[n++] = target;
	}
	for (int i = n - 1; i >= 0; i--) {
		if (strcmp(mnts[i], "/") == 0)
			continue;
		if (umount2(mnts[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
			failures++;
			i2ki_log_errno("umount %s", mnts[i]);
		}
	}
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		i2ki_log_debug("remount / read-only: %s", strerror(errno));
	return failures;
}

static void debug_exit(int status)
{
#if defined(__x86_64__) || defined(__i386__)
	if (ioperm(0xf4, 1, 1) < 0) {
		i2ki_log_errno("isa-debug-exit: ioperm");
		return;
	}
	outb((unsigned char)status, 0xf4);
	/* QEMU has exited by now when the device exists */
#else
	(void)status;
	i2ki_log_warn("isa-debug-exit is only on x86");
#endif
}

void i2ki_shutdown_system(enum sup_action action, int status)
{
	i2ki_log_info("%s: stopping remaining processes",
		      action == SUP_REBOOT ? "reboot" : "poweroff");
	kill(-1, SIGTERM);
	reap_for(2000);
	kill(-1, SIGKILL);
	reap_for(1000);
	sync();
	int failures = i2ki_shutdown_unmount_all();
	sync();
	if (failures)
		i2ki_log_warn("%d filesystems could not be unmounted", failures);
	char how[32];
	if (action != SUP_REBOOT && i2ki_cmdline_get("i2kit.exitcode", how, sizeof(how)) &&
	    strcmp(how, "isa-debug-exit") == 0) {
		i2ki_log_info("exit status %d", status);
		debug_exit(status);
	}
	i2ki_log_info("%s", action == SUP_REBOOT ? "rebooting" : "powering off");
	reboot(action == SUP_REBOOT ? RB_AUTOBOOT : RB_POWER_OFF);
	i2ki_log_errno("reboot");
	for (;;) {
		(void)waitpid(-1, NULL, WNOHANG);
		sleep(10);
	}
}
