/* cmd_run.c — `i2kit run qemu`: options in, the guest's exit status out.
 * The provider comes from the provider table (provision/provider.h); the
 * accelerator choice and the work are provision/qemu.c's; this file parses
 * and prints. */
#include "cli/cmd_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/common.h"
#include "provision/provider.h"
#include "provision/qemu_disk.h"

static void help(void)
{
	printf("Usage: i2kit run qemu [OPTIONS] IMAGE\n\n"
	       "Boots a build under QEMU: a disk image (.img .raw .qcow2 .vhd .iso) or a\n"
	       "kernel+initrd / kernel+squashfs build, given by its path prefix\n"
	       "(build/web for build/web-kernel, build/web-initrd.img, build/web-cmdline)\n"
	       "or the -kernel file itself. The serial console goes to stdout.\n\n"
	       "Options:\n"
	       "  --mem MB                memory (default %u)\n"
	       "  --cpus N                virtual CPUs (default 1)\n"
	       "  --publish HOST:GUEST[/tcp|udp]\n"
	       "                          forward 127.0.0.1:HOST to the guest's port (repeatable)\n"
	       "  --accel auto|kvm|tcg    accelerator (default auto: kvm if a test guest runs\n"
	       "                          properly on /dev/kvm, else tcg)\n"
	       "  --console-file F        also write the console to F\n"
	       "  --timeout S             kill the VM after S seconds (exit status 124)\n"
	       "  --data STRING           metadata for the guest (fw_cfg opt/i2kit/data); the\n"
	       "                          guest sees it as /run/config/data and, when it is a\n"
	       "                          JSON object, one file per key under /run/config\n"
	       "                          (nested objects are directories), as LinuxKit's\n"
	       "                          metadata package. An existing file name is still\n"
	       "                          read as a file (with a warning: use --data-file)\n"
	       "  --data-file FILE        the same, from a file\n"
	       "  --state DIR             state directory: pid, console.log, qmp.sock\n"
	       "                          (default ~/.local/state/i2kit/run/NAME)\n"
	       "  --cmdline-append STR    append to the kernel command line (kernel+initrd;\n"
	       "                          a UEFI disk's unified kernel image: through a\n"
	       "                          boot entry, printable ASCII).\n"
	       "                          Under TCG, \"cryptomgr.notests\n"
	       "                          initcall_blacklist=crypto_kdf108_init\" (no crypto\n"
	       "                          self-tests at boot), \"no_timer_check\",\n"
	       "                          \"initcall_blacklist=tracer_init_tracefs\n"
	       "                          initcall_blacklist=ftrace_check_for_weak_functions\"\n"
	       "                          (see --tracefs), \"cgroup.memory=nokmem\" (see\n"
	       "                          --cgroup-kmem) and, with one vCPU, \"nolapic_timer\n"
	       "                          noreplace-smp\" come first (the build's NAME-cmdline\n"
	       "                          is not changed)\n"
	       "  --tracefs               under TCG (kernel+initrd, or a UEFI disk's unified\n"
	       "                          kernel image): keep the guest's tracefs; by\n"
	       "                          default it is not populated (no ftrace, no trace\n"
	       "                          events for perf or bpftrace), which saves about\n"
	       "                          9 MB of guest memory and 0.15 s of boot\n"
	       "  --cgroup-kmem           under TCG (as --tracefs): charge kernel memory to the\n"
	       "                          guest's memory cgroups; by default it is not\n"
	       "                          (cgroup.memory=nokmem: a container's memory limit\n"
	       "                          counts its pages, not the kernel objects it\n"
	       "                          causes), which saves about 4 MB of guest memory\n"
	       "  --no-pvh                boot the kernel+initrd build's bzImage as it is. By\n"
	       "                          default a kernel with a PVH entry (CONFIG_PVH) boots\n"
	       "                          its own vmlinux, extracted once from the bzImage\n"
	       "                          into the cache (CACHE/pvh/): no real-mode setup and\n"
	       "                          no decompressor run in the guest, which boots faster\n"
	       "  -v, --verbose           say how the kernel boots (PVH, or bzImage and why)\n"
	       "                          and with which firmware (qboot or SeaBIOS)\n"
	       "  --uefi                  boot with OVMF (automatic for the UEFI formats and\n"
	       "                          for a GPT disk with an EFI system partition and no\n"
	       "                          BIOS boot code)\n"
	       "  --disk [file=F,]size=S[,format=qcow2|raw]\n"
	       "                          attach one more virtio disk, created (sparse) when F\n"
	       "                          does not exist; without file=, STATE/disk0.FORMAT;\n"
	       "                          --disk F attaches an existing file as it is\n"
	       "  --networking user|none|tap:IF|bridge:BR\n"
	       "                          the guest's network (default user: QEMU's NAT)\n"
	       "  --detached              start the VM in the background and return: prints\n"
	       "                          the pid and the state dir (console in\n"
	       "                          STATE/console.log, QMP at STATE/qmp.sock)\n\n"
	       "Console: on a terminal the guest's serial console is interactive (keys go to\n"
	       "the guest, Ctrl-C included). Ctrl-A x stops the VM, Ctrl-A p asks the guest\n"
	       "to power off (ACPI), Ctrl-A h lists these keys, Ctrl-A Ctrl-A sends Ctrl-A.\n"
	       "The terminal is restored when the VM ends, whatever the reason.\n"
	       "Not on a terminal, the guest gets no input.\n\n"
	       "Ctrl-C (not on a terminal console), SIGTERM or Ctrl-A p ask the guest to\n"
	       "power off (ACPI) and wait up to %u s ($I2KIT_RUN_GRACE) before killing it.\n"
	       "$I2KIT_QEMU names the QEMU binary,\n"
	       "$I2KIT_OVMF_CODE and $I2KIT_OVMF_VARS the UEFI firmware.\n"
	       "Exit status: the guest's (0 = every onboot container succeeded), 124 on\n"
	       "timeout, 130 when killed after Ctrl-C, 1 when QEMU could not run or the\n"
	       "guest reset before its kernel started (e.g. too little memory).\n",
	       I2K_QEMU_DEFAULT_MEM, I2K_QEMU_DEFAULT_GRACE);
}

static int parse_uint(const char *opt, const char *s, unsigned lo, unsigned hi, unsigned *out,
		      struct i2k_error **err)
{
	char *end = NULL;
	unsigned long v = 0;
	if (*s >= '0' && *s <= '9')
		v = strtoul(s, &end, 10);
	if (end == NULL || *end != '\0' || v < lo || v > hi)
		return i2k_error_set(err, I2K_ERR_USAGE, "%s: \"%s\" is not a number in %u..%u",
				     opt, s, lo, hi);
	*out = (unsigned)v;
	return 0;
}

static bool is_regular(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

void i2k_run_args_clear(struct i2k_run_args *a)
{
	free(a->publish);
	memset(a, 0, sizeof(*a));
}

int i2k_run_parse(int argc, char **argv, struct i2k_run_args *a, struct i2k_error **err)
{
	memset(a, 0, sizeof(*a));
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		a->help = true;
		return 0;
	}
	if (argc < 2)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "no provider given (i2kit run qemu IMAGE)");
	const struct i2k_provider *provider;
	if (i2k_provider_get(argv[1], I2K_PROVIDER_RUN, &provider, &a->run, err) < 0)
		return -1;
	struct i2k_qemu_opts *o = &a->qemu;
	static const char *const names[] = {
	    "--mem",  "--cpus",	 "--publish",	     "--accel", "--console-file", "--timeout",
	    "--data", "--state", "--cmdline-append", "--disk",	"--data-file",	  "--networking"};
	bool opts_done = false;
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		if (!opts_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
			a->help = true;
			return 0;
		}
		if (!opts_done && strcmp(arg, "--uefi") == 0) {
			o->uefi = true;
			continue;
		}
		if (!opts_done && strcmp(arg, "--no-pvh") == 0) {
			o->no_pvh = true;
			continue;
		}
		if (!opts_done && strcmp(arg, "--tracefs") == 0) {
			o->tracefs = true;
			continue;
		}
		if (!opts_done && strcmp(arg, "--cgroup-kmem") == 0) {
			o->cgroup_kmem = true;
			continue;
		}
		if (!opts_done && (strcmp(arg, "-v") == 0 || strcmp(arg, "--verbose") == 0)) {
			a->verbose = true;
			continue;
		}
		if (!opts_done && strcmp(arg, "--detached") == 0) {
			o->detached = true;
			continue;
		}
		if (!opts_done && strcmp(arg, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (opts_done || arg[0] != '-' || arg[1] == '\0') {
			if (o->image)
				return i2k_error_set(err, I2K_ERR_USAGE,
						     "more than one IMAGE (\"%s\", \"%s\")",
						     o->image, arg);
			o->image = arg;
			continue;
		}
		const char *val = NULL;
		int which =
		    i2k_cli_match_opt(names, I2K_ARRAY_SIZE(names), argc, argv, &i, &val, err);
		if (which == -2)
			return -1;
		if (which == -1)
			return i2k_error_set(err, I2K_ERR_USAGE, "unknown option %s", arg);
		switch (which) {
		case 0:
			if (parse_uint("--mem", val, 16, 1u << 20, &o->mem_mb, err) < 0)
				return -1;
			break;
		case 1:
			if (parse_uint("--cpus", val, 1, 256, &o->cpus, err) < 0)
				return -1;
			break;
		case 2: {
			struct i2k_qemu_publish p;
			if (i2k_qemu_parse_publish(val, &p, err) < 0)
				return -1;
			a->publish = i2k_xrealloc(a->publish, (o->npublish + 1) * sizeof(p));
			a->publish[o->npublish++] = p;
			o->publish = a->publish;
			break;
		}
		case 3:
			if (strcmp(val, "auto") == 0)
				o->accel = I2K_QEMU_ACCEL_AUTO;
			else if (strcmp(val, "kvm") == 0)
				o->accel = I2K_QEMU_ACCEL_KVM;
			else if (strcmp(val, "tcg") == 0)
				o->accel = I2K_QEMU_ACCEL_TCG;
			else
				return i2k_error_set(err, I2K_ERR_USAGE,
						     "--accel: \"%s\" is not auto, kvm or tcg",
						     val);
			break;
		case 4:
			o->console_file = val;
			break;
		case 5:
			if (parse_uint("--timeout", val, 1, 365u * 86400, &o->timeout_s, err) < 0)
				return -1;
			break;
		case 6:
			/* --data used to take a file: an existing file is
			 * still read, with a warning */
			if (val[0] != '{' && val[0] != '[' && is_regular(val)) {
				fprintf(
				    stderr,
				    "i2kit: warning: --data %s: reading the file (--data takes a "
				    "string; use --data-file FILE)\n",
				    val);
				o->data = val;
				o->data_string = NULL;
			} else {
				o->data_string = val;
				o->data = NULL;
			}
			break;
		case 7:
			if (*val == '\0')
				return i2k_error_set(err, I2K_ERR_USAGE,
						     "--state needs a directory");
			o->state_dir = val;
			break;
		case 8:
			o->cmdline_append = val;
			break;
		case 9: {
			struct i2k_qemu_disk d;
			if (i2k_qemu_disk_parse(val, &d, err) < 0)
				return -1;
			i2k_qemu_disk_clear(&d);
			o->extra_disk = val;
			break;
		}
		case 10:
			o->data = val;
			o->data_string = NULL;
			break;
		case 11:
			o->networking = val;
			break;
		}
	}
	if (o->image == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE, "no IMAGE given");
	if (i2k_qemu_check_networking(o->networking, o->npublish, err) < 0)
		return -1;
	if (o->detached && o->console_file)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "--detached writes the console to STATE/console.log only "
				     "(no --console-file)");
	if (o->detached && o->timeout_s)
		return i2k_error_set(err, I2K_ERR_USAGE, "--detached cannot take --timeout");
	return 0;
}

static void notice(const char *msg, void *ctx)
{
	(void)ctx;
	fprintf(stderr, "i2kit: qemu: %s\n", msg);
}

int i2k_cmd_run(int argc, char **argv)
{
	struct i2k_run_args a;
	struct i2k_error *err = NULL;
	if (i2k_run_parse(argc, argv, &a, &err) < 0) {
		i2k_cli_usage("run", "%s", err->msg);
		i2k_error_free(err);
		i2k_run_args_clear(&a);
		return 2;
	}
	if (a.help) {
		help();
		i2k_run_args_clear(&a);
		return 0;
	}
	char why[256] = "";
	enum i2k_qemu_accel want = a.qemu.accel;
	if (i2k_qemu_choose_accel(want, &a.qemu.accel, why, sizeof(why), &err) < 0) {
		i2k_run_args_clear(&a);
		return i2k_cli_fail(err);
	}
	if (a.qemu.accel == I2K_QEMU_ACCEL_KVM)
		fprintf(stderr, "i2kit: qemu: using kvm\n");
	else if (want == I2K_QEMU_ACCEL_TCG)
		fprintf(stderr, "i2kit: qemu: using tcg (--accel tcg)\n");
	else
		fprintf(stderr, "i2kit: qemu: using tcg (kvm unusable: %s)\n", why);
	if (a.verbose) {
		a.qemu.notice = notice;
		a.qemu.notice_ctx = NULL;
	}
	a.qemu.interactive =
	    !a.qemu.detached && !a.qemu.quiet && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	struct i2k_qemu_result res;
	int rc;
	int r = a.run(&a.qemu, &res, &err);
	if (r == 0 && res.disk_created[0])
		fprintf(stderr, "i2kit: qemu: created %s\n", res.disk_created);
	if (r < 0) {
		rc = i2k_cli_fail(err);
	} else if (a.qemu.detached) {
		printf("%d %s\n", res.detached_pid, res.state_dir);
		fprintf(stderr,
			"i2kit: qemu: running in the background (pid %d); console: "
			"%s/console.log, QMP: %s/qmp.sock\n",
			res.detached_pid, res.state_dir, res.state_dir);
		rc = 0;
	} else if (res.quit_by_key) {
		fprintf(stderr, "i2kit: qemu: stopped (Ctrl-A x)\n");
		rc = 0;
	} else if (res.timed_out) {
		fprintf(stderr, "i2kit: error: qemu: timed out after %u s; the VM was killed\n",
			a.qemu.timeout_s);
		rc = 124;
	} else if (res.killed) {
		if (res.powerdown_failed)
			fprintf(stderr, "i2kit: error: qemu: could not ask the guest to power off "
					"(QMP); the VM was stopped\n");
		else
			fprintf(stderr, "i2kit: error: qemu: the guest did not power off in time; "
					"the VM was killed\n");
		rc = 130;
	} else {
		rc = res.guest_status > 255 ? 255 : res.guest_status;
		if (res.interrupted)
			fprintf(stderr, "i2kit: qemu: the guest powered off (status %d)\n", rc);
	}
	i2k_run_args_clear(&a);
	return rc;
}
