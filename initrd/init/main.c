/* main.c — i2kit's guest init, PID 1.
 *
 *   1. if / is the initramfs: with i2kit.root=, mount that disk root and exec
 *      its /init (stage1.h); else bind it onto itself (a mount that can be
 *      pivoted away) and re-exec (switchroot.h)
 *   2. early mounts + console (mounts.h), kernel cmdline (cmdline.h)
 *   3. kernel modules (modules.h), the config's volumes (volumes.h), the
 *      stateful data disk (datadisk.h), then lo,
 *      hostname, RNG seed, DHCP (net.h),
 *      metadata from `i2kit run qemu --data` into /run/config (metadata.h)
 *   4. onboot containers in order, then services (supervise.h)
 *   5. no services and no i2kit.idle=1: power off; else serve until a power
 *      trigger (signal, ACPI power button, /run/i2kit/poweroff)
 *   6. onshutdown containers, stop services, unmount, reboot(2) (shutdown.h)
 *
 * It never exits: every failure is logged ("i2kit-init: ...") and survived.
 * Run as any other pid (for a quick look) it only prints what it would do. */
#include "cmdline.h"
#include "datadisk.h"
#include "log.h"
#include "metadata.h"
#include "modules.h"
#include "mounts.h"
#include "net.h"
#include "shutdown.h"
#include "stage1.h"
#include "supervise.h"
#include "switchroot.h"
#include "volumes.h"

#include <stdio.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#ifndef I2K_VERSION
#define I2K_VERSION "dev"
#endif

static double uptime_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (getpid() != 1) {
		fprintf(stderr,
			"i2kit-init %s: this is the guest's PID 1; it only runs as "
			"init inside an i2kit VM\n",
			I2K_VERSION);
		return 2;
	}
	/* i2kit.root=...: find the root on a disk and exec its /init (stage1.h) */
	if (i2ki_switchroot_needed(argc, argv) && i2ki_stage1_run(argc, argv) == 0) {
		i2ki_mounts_console();
		i2ki_switchroot_run(argc, argv); /* returns only when it failed */
	}
	i2ki_mounts_early();
	i2ki_log_open_consoles();
	i2ki_cmdline_load();
	i2ki_log_verbose = i2ki_cmdline_flag("i2kit.debug", 0);
	i2ki_log_info("i2kit-init %s starting (%.2fs since boot)", I2K_VERSION, uptime_s());
	/* ctrl-alt-del becomes SIGINT to us instead of an immediate reboot */
	if (reboot(RB_DISABLE_CAD) < 0)
		i2ki_log_errno("reboot(RB_DISABLE_CAD)");
	i2ki_sup_init();
	i2ki_modules_boot();
	i2ki_volumes_mount("/containers/volumes");
	i2ki_datadisk_mount("/sys", "/dev", I2KI_DATA_LABEL, I2KI_DATA_DIR);
	i2ki_sup_scan_input();
	i2ki_net_boot();
	i2ki_metadata_fetch();

	int failed = i2ki_sup_run_onboot();
	enum sup_action action = i2ki_sup_pending();
	int services = 0;
	if (action == SUP_NONE)
		services = i2ki_sup_start_services();
	i2ki_log_info("boot finished in %.2fs: %d onboot failure%s, %d service%s", uptime_s(),
		      failed, failed == 1 ? "" : "s", services, services == 1 ? "" : "s");
	action = i2ki_sup_pending();
	if (action == SUP_NONE) {
		if (services == 0 && !i2ki_cmdline_flag("i2kit.idle", 0)) {
			i2ki_log_info("no services: powering off (i2kit.idle=1 keeps the VM up)");
			action = SUP_POWEROFF;
		} else {
			action = i2ki_sup_serve();
		}
	}
	i2ki_sup_run_onshutdown();
	i2ki_sup_stop_services(10000);
	i2ki_shutdown_system(action, failed ? 1 : 0);
}
