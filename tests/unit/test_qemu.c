/* test_qemu.c — provision/qemu (publish specs, hostfwd, kernel cmdline,
 * exit mapping, image lookup, argv, the run loop against a fake QEMU
 * script), provision/kvm (error path) and cli/cmd_run's option parsing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "cli/cmd_run.h"
#include "provision/console.h"
#include "provision/kvm.h"
#include "provision/qemu_disk.h"
#include "provision/qemu.h"
#include "tests/unit/test.h"

static char tmp[256];

static void write_file(const char *path, const char *s, mode_t mode)
{
	struct i2k_error *e = NULL;
	if (i2k_write_file_atomic(path, s, strlen(s), mode, &e) < 0) {
		fprintf(stderr, "write %s: %s\n", path, e->msg);
		abort();
	}
}

static char *read_all(const char *path)
{
	char *s = NULL;
	size_t len;
	if (i2k_read_file(path, 1 << 20, &s, &len, NULL) < 0)
		return i2k_xstrdup("<missing>");
	return s;
}

static char *tpath(const char *name)
{
	return i2k_xasprintf("%s/%s", tmp, name);
}

/* ---- pure helpers ------------------------------------------------------- */

TEST(publish_specs)
{
	struct i2k_qemu_publish p;
	OK(i2k_qemu_parse_publish("8080:80", &p, &_e));
	CHECK(p.host == 8080 && p.guest == 80 && !p.udp);
	OK(i2k_qemu_parse_publish("5353:53/udp", &p, &_e));
	CHECK(p.host == 5353 && p.guest == 53 && p.udp);
	OK(i2k_qemu_parse_publish("1:65535/tcp", &p, &_e));
	CHECK(p.host == 1 && p.guest == 65535 && !p.udp);
	const char *bad[] = {"8080",	  "8080:",  ":80",   "a:80",	  "80:b",     "80:80/sctp",
			     "80/tcp:80", "80:80/", "-1:80", "123456:80", "80:80:80", ""};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bad); i++) {
		char want[128];
		snprintf(want, sizeof(want), "--publish \"%s\": expected HOST:GUEST[/tcp|udp]",
			 bad[i]);
		FAILS(i2k_qemu_parse_publish(bad[i], &p, &_e), I2K_ERR_USAGE, want);
	}
	FAILS(i2k_qemu_parse_publish("0:80", &p, &_e), I2K_ERR_USAGE,
	      "--publish \"0:80\": port 0 out of range 1..65535");
	FAILS(i2k_qemu_parse_publish("80:65536", &p, &_e), I2K_ERR_USAGE,
	      "--publish \"80:65536\": port 65536 out of range 1..65535");
}

TEST(hostfwd_strings)
{
	_cleanup_free_ char *none = i2k_qemu_netdev_arg(NULL, 0);
	CHECK_STR(none, "user,id=net0");
	struct i2k_qemu_publish p[] = {{8080, 80, false}, {5353, 53, true}};
	_cleanup_free_ char *two = i2k_qemu_netdev_arg(p, 2);
	CHECK_STR(two, "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,"
		       "hostfwd=udp:127.0.0.1:5353-:53");
}

TEST(kernel_cmdlines)
{
	char *s;
	s = i2k_qemu_kernel_cmdline("console=ttyS0 console=tty0\n", NULL);
	CHECK_STR(s, "console=ttyS0 console=tty0 console=ttyS0 i2kit.exitcode=isa-debug-exit");
	free(s);
	s = i2k_qemu_kernel_cmdline("console=tty0 console=ttyS0,115200", "  quiet ");
	CHECK_STR(s, "console=tty0 console=ttyS0,115200 quiet i2kit.exitcode=isa-debug-exit");
	free(s);
	s = i2k_qemu_kernel_cmdline("", "");
	CHECK_STR(s, "console=ttyS0 i2kit.exitcode=isa-debug-exit");
	free(s);
	s = i2k_qemu_kernel_cmdline(NULL, "console=ttyS0 i2kit.modules=a,b");
	CHECK_STR(s, "console=ttyS0 i2kit.modules=a,b i2kit.exitcode=isa-debug-exit");
	free(s);
	s = i2k_qemu_kernel_cmdline("quiet", "console=hvc0");
	CHECK_STR(s, "quiet console=hvc0 console=ttyS0 i2kit.exitcode=isa-debug-exit");
	free(s);
}

TEST(exit_mapping)
{
	/* plain poweroff: QEMU exits 0 */
	CHECK_INT(i2k_qemu_guest_status(0 << 8, true), 0);
	CHECK_INT(i2k_qemu_guest_status(0 << 8, false), 0);
	/* isa-debug-exit V → (V << 1) | 1 */
	CHECK_INT(i2k_qemu_guest_status(1 << 8, true), 0);
	CHECK_INT(i2k_qemu_guest_status(3 << 8, true), 1);
	CHECK_INT(i2k_qemu_guest_status(7 << 8, true), 3);
	CHECK_INT(i2k_qemu_guest_status(255 << 8, true), 127);
	/* QEMU's own failure: 1 before any console output, or an even code */
	CHECK_INT(i2k_qemu_guest_status(1 << 8, false), -1);
	CHECK_INT(i2k_qemu_guest_status(2 << 8, true), -1);
	/* killed by a signal */
	CHECK_INT(i2k_qemu_guest_status(SIGKILL, true), -1);
}

TEST(image_lookup)
{
	_cleanup_free_ char *k = tpath("web-kernel"), *i = tpath("web-initrd.img"),
			    *c = tpath("web-cmdline"), *prefix = tpath("web"),
			    *k2 = tpath("nocmd-kernel"), *i2 = tpath("nocmd-initrd.img"),
			    *k3 = tpath("noinitrd-kernel"), *p3 = tpath("noinitrd"),
			    *p4 = tpath("absent");
	write_file(k, "kernel", 0644);
	write_file(i, "initrd", 0644);
	write_file(c, "console=ttyS0 quiet\n", 0644);
	write_file(k2, "kernel", 0644);
	write_file(i2, "initrd", 0644);
	write_file(k3, "kernel", 0644);
	struct i2k_qemu_image img;
	OK(i2k_qemu_image_resolve(prefix, &img, &_e));
	CHECK_STR(img.kernel, k);
	CHECK_STR(img.initrd, i);
	CHECK_STR(img.cmdline, "console=ttyS0 quiet\n");
	CHECK_STR(img.name, "web");
	i2k_qemu_image_clear(&img);
	OK(i2k_qemu_image_resolve(k, &img, &_e)); /* the -kernel file itself */
	CHECK_STR(img.kernel, k);
	CHECK_STR(img.name, "web");
	i2k_qemu_image_clear(&img);
	OK(i2k_qemu_image_resolve(k2, &img, &_e));
	CHECK_STR(img.cmdline, "");
	CHECK_STR(img.name, "nocmd");
	i2k_qemu_image_clear(&img);
	char want[512];
	snprintf(want, sizeof(want), "%s: no kernel (%s-kernel does not exist)", p4, p4);
	FAILS(i2k_qemu_image_resolve(p4, &img, &_e), I2K_ERR_NOTFOUND, want);
	snprintf(want, sizeof(want), "%s: no initrd (%s-initrd.img does not exist)", p3, p3);
	FAILS(i2k_qemu_image_resolve(p3, &img, &_e), I2K_ERR_NOTFOUND, want);
}

TEST(state_dirs)
{
	char *home = i2k_xstrdup(getenv("HOME")), *xdg = i2k_xstrdup(getenv("XDG_STATE_HOME"));
	char *d = NULL;
	setenv("HOME", "/home/u", 1);
	unsetenv("XDG_STATE_HOME");
	OK(i2k_qemu_default_state_dir("web", &d, &_e));
	CHECK_STR(d, "/home/u/.local/state/i2kit/run/web");
	free(d);
	setenv("XDG_STATE_HOME", "/x/state", 1);
	OK(i2k_qemu_default_state_dir("web", &d, &_e));
	CHECK_STR(d, "/x/state/i2kit/run/web");
	free(d);
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
	FAILS(i2k_qemu_default_state_dir("web", &d, &_e), I2K_ERR_CONFIG,
	      "no state directory: $HOME is not set (use --state DIR)");
	if (home)
		setenv("HOME", home, 1);
	if (xdg)
		setenv("XDG_STATE_HOME", xdg, 1);
	free(home);
	free(xdg);
}

static bool argv_has(char **argv, const char *a, const char *b)
{
	for (size_t i = 0; argv[i]; i++)
		if (strcmp(argv[i], a) == 0 &&
		    (b == NULL || (argv[i + 1] && strcmp(argv[i + 1], b) == 0)))
			return true;
	return false;
}

/* Kernel+initrd boots get qboot (-bios) instead of SeaBIOS: from
 * $I2KIT_QBOOT ("none": SeaBIOS), else next to the QEMU binary; never with
 * UEFI or for a disk image. */
TEST(qboot_firmware)
{
	setenv("I2KIT_QBOOT", "/x/qboot.rom", 1);
	_cleanup_free_ char *q1 = i2k_qemu_qboot("q");
	CHECK_STR(q1, "/x/qboot.rom");
	setenv("I2KIT_QBOOT", "none", 1);
	CHECK(i2k_qemu_qboot("q") == NULL);
	unsetenv("I2KIT_QBOOT");
	/* PREFIX/bin/qemu → PREFIX/share/qemu/qboot.rom */
	_cleanup_free_ char *bin = tpath("qb/bin"), *share = tpath("qb/share/qemu");
	OK(i2k_mkdir_p(bin, 0755, &_e));
	OK(i2k_mkdir_p(share, 0755, &_e));
	_cleanup_free_ char *exe = tpath("qb/bin/qemu-x"), *rom = tpath("qb/share/qemu/qboot.rom");
	write_file(exe, "#!/bin/sh\n", 0755);
	write_file(rom, "rom", 0644);
	_cleanup_free_ char *q2 = i2k_qemu_qboot(exe);
	_cleanup_free_ char *want = realpath(rom, NULL);
	CHECK_STR(q2, want);

	struct i2k_qemu_image img = {.kernel = "/b/web-kernel",
				     .initrd = "/b/web-initrd.img",
				     .cmdline = "",
				     .name = "web",
				     .bios = "/fw/qboot.rom"};
	struct i2k_qemu_opts o = {.accel = I2K_QEMU_ACCEL_TCG};
	char **argv = NULL;
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-bios", "/fw/qboot.rom"));
	i2k_qemu_argv_free(argv);
	o.uefi = true; /* OVMF loads the kernel: no -bios */
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(!argv_has(argv, "-bios", NULL));
	i2k_qemu_argv_free(argv);
	o.uefi = false;
	img = (struct i2k_qemu_image){
	    .disk = "/b/web.img", .disk_fmt = "raw", .name = "web", .bios = "/fw/qboot.rom"};
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(!argv_has(argv, "-bios", NULL));
	i2k_qemu_argv_free(argv);
}

TEST(argv_building)
{
	struct i2k_qemu_image img = {.kernel = "/b/web-kernel",
				     .initrd = "/b/web-initrd.img",
				     .cmdline = "console=tty0",
				     .name = "web"};
	struct i2k_qemu_publish p[] = {{8080, 80, false}};
	struct i2k_qemu_opts o = {.accel = I2K_QEMU_ACCEL_TCG,
				  .publish = p,
				  .npublish = 1,
				  .data = "/d/meta,data.json",
				  .cmdline_append = "quiet"};
	char **argv = NULL;
	OK(i2k_qemu_argv(&o, &img, "/usr/bin/qemu", "/s/a,b/qmp.sock", &argv, &_e));
	CHECK_STR(argv[0], "/usr/bin/qemu");
	CHECK(argv_has(argv, "-nographic", NULL));
	CHECK(argv_has(argv, "-no-reboot", NULL));
	CHECK(argv_has(argv, "-accel", "tcg"));
	CHECK(!argv_has(argv, "-cpu", "host"));
	CHECK(argv_has(argv, "-m", "1024"));
	CHECK(argv_has(argv, "-smp", "1"));
	CHECK(argv_has(argv, "-kernel", "/b/web-kernel"));
	CHECK(argv_has(argv, "-initrd", "/b/web-initrd.img"));
	CHECK(argv_has(argv, "-vga", "none"));
	/* TCG: no boot-time crypto self-tests, no tracefs, no kernel memory
	 * accounting, no LAPIC timer with one vCPU; the user's words last */
	CHECK(argv_has(
	    argv, "-append",
	    "console=tty0 cryptomgr.notests initcall_blacklist=crypto_kdf108_init no_timer_check "
	    "initcall_blacklist=tracer_init_tracefs "
	    "initcall_blacklist=ftrace_check_for_weak_functions cgroup.memory=nokmem "
	    "nolapic_timer noreplace-smp quiet console=ttyS0 i2kit.exitcode=isa-debug-exit"));
	CHECK(argv_has(argv, "-serial", "chardev:con0"));
	CHECK(argv_has(argv, "-chardev", "stdio,id=con0,signal=off"));
	CHECK(
	    argv_has(argv, "-chardev", "socket,id=qmp0,path=/s/a,,b/qmp.sock,server=on,wait=off"));
	CHECK(argv_has(argv, "-mon", "chardev=qmp0,mode=control"));
	CHECK(argv_has(argv, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"));
	CHECK(argv_has(argv, "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80"));
	CHECK(argv_has(argv, "-device", "virtio-net-pci,netdev=net0,romfile="));
	CHECK(argv_has(argv, "-device", "virtio-rng-pci"));
	CHECK(argv_has(argv, "-fw_cfg", "name=opt/i2kit/data,file=/d/meta,,data.json"));
	i2k_qemu_argv_free(argv);

	o = (struct i2k_qemu_opts){.accel = I2K_QEMU_ACCEL_KVM, .mem_mb = 256, .cpus = 2};
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-accel", "kvm"));
	CHECK(argv_has(argv, "-cpu", "host"));
	CHECK(argv_has(argv, "-m", "256"));
	CHECK(argv_has(argv, "-smp", "2"));
	CHECK(argv_has(argv, "-netdev", "user,id=net0"));
	CHECK(!argv_has(argv, "-fw_cfg", NULL));
	/* KVM: no TCG-only additions to the command line */
	CHECK(
	    argv_has(argv, "-append", "console=tty0 console=ttyS0 i2kit.exitcode=isa-debug-exit"));
	i2k_qemu_argv_free(argv);
	/* TCG with two vCPUs keeps the LAPIC timer */
	o = (struct i2k_qemu_opts){.accel = I2K_QEMU_ACCEL_TCG, .cpus = 2};
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-append",
		       "console=tty0 cryptomgr.notests initcall_blacklist=crypto_kdf108_init "
		       "no_timer_check initcall_blacklist=tracer_init_tracefs "
		       "initcall_blacklist=ftrace_check_for_weak_functions cgroup.memory=nokmem "
		       "console=ttyS0 i2kit.exitcode=isa-debug-exit"));
	i2k_qemu_argv_free(argv);
	/* --tracefs keeps tracefs, and only that */
	o = (struct i2k_qemu_opts){.accel = I2K_QEMU_ACCEL_TCG, .cpus = 1, .tracefs = true};
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-append",
		       "console=tty0 cryptomgr.notests initcall_blacklist=crypto_kdf108_init "
		       "no_timer_check cgroup.memory=nokmem nolapic_timer noreplace-smp "
		       "console=ttyS0 i2kit.exitcode=isa-debug-exit"));
	i2k_qemu_argv_free(argv);
	/* --cgroup-kmem keeps kernel memory accounting, and only that */
	o = (struct i2k_qemu_opts){.accel = I2K_QEMU_ACCEL_TCG, .cpus = 1, .cgroup_kmem = true};
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-append",
		       "console=tty0 cryptomgr.notests initcall_blacklist=crypto_kdf108_init "
		       "no_timer_check initcall_blacklist=tracer_init_tracefs "
		       "initcall_blacklist=ftrace_check_for_weak_functions nolapic_timer "
		       "noreplace-smp console=ttyS0 i2kit.exitcode=isa-debug-exit"));
	i2k_qemu_argv_free(argv);

	/* a PVH ELF, when chosen, is what -kernel gets */
	img.pvh_kernel = "/c/pvh/abc.elf";
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-kernel", "/c/pvh/abc.elf"));
	CHECK(argv_has(argv, "-initrd", "/b/web-initrd.img"));
	i2k_qemu_argv_free(argv);
	img.pvh_kernel = NULL;

	img.initrd = "/b/a,b-initrd.img";
	FAILS(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e), I2K_ERR_USAGE,
	      "/b/a,b-initrd.img: QEMU cannot take an initrd path with ','");
}

/* Disk images: the disk is the firmware's only boot device (bootindex), OVMF
 * gets its code and variable store read-only (variables in RAM). */
TEST(disk_argv)
{
	setenv("I2KIT_OVMF_CODE", "/fw/code,1.fd", 1);
	setenv("I2KIT_OVMF_VARS", "/fw/vars.fd", 1);
	struct i2k_qemu_image img = {
	    .disk = "/b/web,1-efi.img", .disk_fmt = "raw", .efi = true, .name = "web"};
	struct i2k_qemu_opts o = {.accel = I2K_QEMU_ACCEL_TCG};
	char **argv = NULL;
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-drive", "if=pflash,format=raw,readonly=on,file=/fw/code,,1.fd"));
	CHECK(argv_has(argv, "-drive", "if=pflash,format=raw,readonly=on,file=/fw/vars.fd"));
	CHECK(!argv_has(argv, "-drive", "if=pflash,format=raw,file=/fw/vars.fd"));
	CHECK(argv_has(argv, "-drive", "file=/b/web,,1-efi.img,format=raw,if=none,id=disk0"));
	CHECK(argv_has(argv, "-device", "virtio-blk-pci,drive=disk0,bootindex=0"));
	CHECK(argv_has(argv, "-machine", "q35,i8042=off"));
	CHECK(!argv_has(argv, "-kernel", NULL));
	CHECK(!argv_has(argv, "-boot", NULL));
	i2k_qemu_argv_free(argv);

	/* --uefi on a disk named like a BIOS one */
	img = (struct i2k_qemu_image){.disk = "/b/web.qcow2", .disk_fmt = "qcow2", .name = "web"};
	o.uefi = true;
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-drive", "if=pflash,format=raw,readonly=on,file=/fw/vars.fd"));
	CHECK(argv_has(argv, "-drive", "file=/b/web.qcow2,format=qcow2,if=none,id=disk0"));
	i2k_qemu_argv_free(argv);

	o.uefi = false; /* SeaBIOS: no pflash */
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	for (size_t i = 0; argv[i]; i++)
		CHECK(strstr(argv[i], "pflash") == NULL);
	CHECK(argv_has(argv, "-device", "virtio-blk-pci,drive=disk0,bootindex=0"));
	i2k_qemu_argv_free(argv);

	img = (struct i2k_qemu_image){
	    .disk = "/b/web.iso", .disk_fmt = "raw", .cdrom = true, .name = "web"};
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-drive",
		       "file=/b/web.iso,format=raw,media=cdrom,readonly=on,if=none,id=disk0"));
	CHECK(argv_has(argv, "-device", "ide-cd,drive=disk0,bootindex=0"));
	CHECK(argv_has(argv, "-machine", "pc,i8042=off")); /* IDE, not AHCI */
	CHECK(!argv_has(argv, "-device", "virtio-blk-pci,drive=disk0,bootindex=0"));
	i2k_qemu_argv_free(argv);

	/* --cmdline-append: a disk takes it only through a boot entry in its
	 * own variable store (set up before, by i2k_qemu_run); never -append */
	o.cmdline_append = "quiet";
	FAILS(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e), I2K_ERR_USAGE,
	      "--cmdline-append works with kernel+initrd builds and UEFI disks only: a BIOS "
	      "disk or an ISO image carries its own command line");
	img = (struct i2k_qemu_image){.disk = "/b/web-efi.img",
				      .disk_fmt = "raw",
				      .efi = true,
				      .name = "web",
				      .ovmf_vars = "/s/ovmf-vars.fd"};
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	CHECK(argv_has(argv, "-drive", "if=pflash,format=raw,file=/s/ovmf-vars.fd"));
	CHECK(!argv_has(argv, "-append", NULL));
	i2k_qemu_argv_free(argv);
	img.ovmf_vars = NULL;
	FAILS(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e), I2K_ERR_USAGE,
	      "--cmdline-append works with kernel+initrd builds and UEFI disks only: a BIOS "
	      "disk or an ISO image carries its own command line");
	o.cmdline_append = NULL;

	/* a kernel+initrd build has no boot disk and no bootindex (and no PS/2
	 * controller either) */
	img =
	    (struct i2k_qemu_image){.kernel = "/b/k", .initrd = "/b/i", .cmdline = "", .name = "n"};
	OK(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e));
	for (size_t i = 0; argv[i]; i++)
		CHECK(strstr(argv[i], "bootindex") == NULL && strstr(argv[i], "disk0") == NULL);
	CHECK(argv_has(argv, "-machine", "q35,i8042=off"));
	i2k_qemu_argv_free(argv);
	unsetenv("I2KIT_OVMF_CODE");
	unsetenv("I2KIT_OVMF_VARS");
}

TEST(kvm_probe_missing_device)
{
	char why[256];
	CHECK(!i2k_kvm_usable("/nonexistent/kvm", 1000, why, sizeof(why)));
	CHECK_STR(why, "/nonexistent/kvm: No such file or directory");
}

/* ---- cli/cmd_run option parsing -------------------------------------------- */

static int parse(struct i2k_run_args *a, struct i2k_error **e, const char *first, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s && argc < 31; s = va_arg(ap, const char *))
		argv[argc++] = (char *)s;
	va_end(ap);
	argv[argc] = NULL;
	return i2k_run_parse(argc, argv, a, e);
}

TEST(run_options)
{
	struct i2k_run_args a;
	OK(parse(&a, &_e, "run", "qemu", "--mem", "512", "--cpus=2", "--publish", "8080:80",
		 "--publish=53:53/udp", "--accel", "tcg", "--console-file", "c.log", "--timeout",
		 "30", "--data", "d.json", "--state", "/s", "--cmdline-append", "quiet",
		 "build/web", NULL));
	CHECK_STR(a.qemu.image, "build/web");
	CHECK_INT(a.qemu.mem_mb, 512);
	CHECK_INT(a.qemu.cpus, 2);
	CHECK_INT(a.qemu.npublish, 2);
	CHECK(a.qemu.publish && a.qemu.publish[1].udp && a.qemu.publish[1].host == 53);
	CHECK_INT(a.qemu.accel, I2K_QEMU_ACCEL_TCG);
	CHECK_STR(a.qemu.console_file, "c.log");
	CHECK_INT(a.qemu.timeout_s, 30);
	CHECK(a.qemu.data == NULL);
	CHECK_STR(a.qemu.data_string, "d.json"); /* no such file: a string */
	CHECK_STR(a.qemu.state_dir, "/s");
	CHECK_STR(a.qemu.cmdline_append, "quiet");
	CHECK(!a.help);
	i2k_run_args_clear(&a);

	OK(parse(&a, &_e, "run", "qemu", "img", NULL));
	CHECK_INT(a.qemu.accel, I2K_QEMU_ACCEL_AUTO);
	CHECK_INT(a.qemu.mem_mb, 0); /* default applied by provision/qemu */
	CHECK(!a.qemu.no_pvh && !a.verbose && !a.qemu.tracefs);
	i2k_run_args_clear(&a);
	OK(parse(&a, &_e, "run", "qemu", "--no-pvh", "-v", "--tracefs", "img", NULL));
	CHECK(a.qemu.no_pvh && a.verbose && a.qemu.tracefs);
	i2k_run_args_clear(&a);
	OK(parse(&a, &_e, "run", "qemu", "--accel", "kvm", "--", "-odd-name", NULL));
	CHECK_STR(a.qemu.image, "-odd-name");
	CHECK_INT(a.qemu.accel, I2K_QEMU_ACCEL_KVM);
	i2k_run_args_clear(&a);
	OK(parse(&a, &_e, "run", "--help", NULL));
	CHECK(a.help);
	i2k_run_args_clear(&a);
	OK(parse(&a, &_e, "run", "qemu", "--help", NULL));
	CHECK(a.help);
	i2k_run_args_clear(&a);
}

TEST(run_option_errors)
{
	struct i2k_run_args a;
#define BAD(msg, ...)                                                                              \
	do {                                                                                       \
		FAILS(parse(&a, &_e, "run", __VA_ARGS__, NULL), I2K_ERR_USAGE, msg);               \
		i2k_run_args_clear(&a);                                                            \
	} while (0)
	FAILS(parse(&a, &_e, "run", NULL), I2K_ERR_USAGE,
	      "no provider given (i2kit run qemu IMAGE)");
	i2k_run_args_clear(&a);
	BAD("the aws provider cannot run (it can: push, deploy, destroy, ps)", "aws", "img");
	BAD("unknown provider \"vbox\" (qemu, local or aws)", "vbox", "img");
	BAD("no IMAGE given", "qemu");
	BAD("no IMAGE given", "qemu", "--mem", "64");
	BAD("more than one IMAGE (\"a\", \"b\")", "qemu", "a", "b");
	BAD("unknown option --memory", "qemu", "--memory", "5", "img");
	BAD("--mem needs a value", "qemu", "img", "--mem");
	BAD("--mem: \"12x\" is not a number in 16..1048576", "qemu", "--mem", "12x", "img");
	BAD("--mem: \"8\" is not a number in 16..1048576", "qemu", "--mem", "8", "img");
	BAD("--mem: \"-5\" is not a number in 16..1048576", "qemu", "--mem=-5", "img");
	BAD("--cpus: \"0\" is not a number in 1..256", "qemu", "--cpus", "0", "img");
	BAD("--timeout: \"\" is not a number in 1..31536000", "qemu", "--timeout=", "img");
	BAD("--accel: \"hvf\" is not auto, kvm or tcg", "qemu", "--accel", "hvf", "img");
	BAD("--publish \"80\": expected HOST:GUEST[/tcp|udp]", "qemu", "--publish", "80", "img");
	BAD("--state needs a directory", "qemu", "--state=", "img");
#undef BAD
}

/* ---- the run loop against a fake QEMU -------------------------------------- */

/* A shell script standing in for QEMU: records its pid and arguments,
 * then runs BODY. */
static char *fake_qemu(const char *name, const char *body)
{
	char *path = tpath(name);
	_cleanup_free_ char *script =
	    i2k_xasprintf("#!/bin/sh\necho $$ > \"%s.pid\"\nfor a in \"$@\"; do echo \"$a\"; done "
			  "> \"%s.args\"\n%s\n",
			  path, path, body);
	write_file(path, script, 0755);
	return path;
}

static struct i2k_qemu_opts run_opts(const char *qemu, const char *state)
{
	static char *image;
	if (image == NULL) {
		image = tpath("vm");
		_cleanup_free_ char *k = tpath("vm-kernel"), *i = tpath("vm-initrd.img");
		write_file(k, "k", 0644);
		write_file(i, "i", 0644);
	}
	struct i2k_qemu_opts o = {.image = image,
				  .accel = I2K_QEMU_ACCEL_TCG,
				  .qemu = qemu,
				  .state_dir = state,
				  .quiet = true};
	return o;
}

static bool pid_gone(const char *pidfile)
{
	_cleanup_free_ char *s = read_all(pidfile);
	long pid = strtol(s, NULL, 10);
	return pid > 1 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

TEST(run_guest_status_and_console)
{
	_cleanup_free_ char *q = fake_qemu("q-status", "echo 'guest says hi'\nexit 7");
	_cleanup_free_ char *state = tpath("state1"), *con = tpath("console1.txt");
	struct i2k_qemu_opts o = run_opts(q, state);
	o.console_file = con;
	o.data = q; /* any existing file */
	struct i2k_qemu_result res;
	OK(i2k_qemu_run(&o, &res, &_e));
	CHECK_INT(res.guest_status, 3);
	CHECK(res.booted && !res.timed_out && !res.killed && !res.interrupted);
	_cleanup_free_ char *c = read_all(con);
	CHECK_STR(c, "guest says hi\n");
	_cleanup_free_ char *logp = i2k_xasprintf("%s/console.log", state);
	_cleanup_free_ char *log = read_all(logp);
	CHECK_STR(log, "guest says hi\n");
	_cleanup_free_ char *pidp = i2k_xasprintf("%s/pid", state);
	CHECK(access(pidp, F_OK) != 0); /* removed after the run */
	_cleanup_free_ char *argsp = i2k_xasprintf("%s.args", q);
	_cleanup_free_ char *args = read_all(argsp);
	CHECK_CONTAINS(args, "-append\ncryptomgr.notests initcall_blacklist=crypto_kdf108_init "
			     "no_timer_check initcall_blacklist=tracer_init_tracefs "
			     "initcall_blacklist=ftrace_check_for_weak_functions "
			     "cgroup.memory=nokmem nolapic_timer noreplace-smp console=ttyS0 "
			     "i2kit.exitcode=isa-debug-exit\n");
	CHECK_CONTAINS(args, "-fw_cfg\nname=opt/i2kit/data,file=");
	/* "k" is no bzImage: the kernel file itself boots, silently */
	_cleanup_free_ char *karg = i2k_xasprintf("-kernel\n%s/vm-kernel\n", tmp);
	CHECK_CONTAINS(args, karg);
	CHECK(!res.pvh);

	/* exit 1 after console output: the guest wrote 0 to isa-debug-exit */
	_cleanup_free_ char *q1 = fake_qemu("q-one", "echo booted\nexit 1");
	o = run_opts(q1, state);
	OK(i2k_qemu_run(&o, &res, &_e));
	CHECK_INT(res.guest_status, 0);
	/* plain exit 0 with nothing but firmware on the console: the guest
	 * reset before its kernel started (too little memory) */
	_cleanup_free_ char *q0 =
	    fake_qemu("q-zero", "printf '\\033c\\033[?7lSeaBIOS (version 1.16)\\r\\nBooting from "
				"ROM...\\r\\n'\nexit 0");
	o = run_opts(q0, state);
	o.mem_mb = 64;
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_IO,
	      "the guest reset before its kernel printed anything (with 64 MB of memory: too "
	      "little memory? try --mem 256 or more)");
	CHECK_INT(res.guest_status, 0);
	CHECK(res.booted && !res.kernel_seen);
	/* a guest line split across reads still counts as the guest */
	_cleanup_free_ char *q0b =
	    fake_qemu("q-zero-b", "printf 'SeaBIOS\\r\\nhel'\nsleep 0.3\nprintf 'lo\\n'\nexit 0");
	o = run_opts(q0b, state);
	OK(i2k_qemu_run(&o, &res, &_e));
	CHECK(res.kernel_seen);
}

TEST(run_qemu_failures)
{
	_cleanup_free_ char *state = tpath("state2");
	_cleanup_free_ char *q = fake_qemu("q-fail", "echo 'qemu: bad option' >&2\nexit 1");
	struct i2k_qemu_opts o = run_opts(q, state);
	struct i2k_qemu_result res;
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_IO,
	      "QEMU exited with status 1 before the guest started");
	_cleanup_free_ char *q2 = fake_qemu("q-even", "echo x\nexit 2");
	o = run_opts(q2, state);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_IO, "QEMU exited with status 2");
	_cleanup_free_ char *q3 = fake_qemu("q-sig", "kill -SEGV $$");
	o = run_opts(q3, state);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_IO, "QEMU was killed by signal 11");

	o = run_opts("/nonexistent/qemu-system-x86_64", state);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_NOTFOUND,
	      "/nonexistent/qemu-system-x86_64: not found (install the qemu-system-x86 "
	      "package, or set $I2KIT_QEMU to a QEMU binary)");
	/* $I2KIT_QEMU is the fallback */
	setenv("I2KIT_QEMU", "no-such-qemu-binary", 1);
	o = run_opts(NULL, state);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_NOTFOUND,
	      "no-such-qemu-binary: not found (install the qemu-system-x86 package, or set "
	      "$I2KIT_QEMU to a QEMU binary)");
	unsetenv("I2KIT_QEMU");

	o = run_opts(q, state);
	o.data = "/nonexistent/data.json";
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_NOTFOUND,
	      "--data-file /nonexistent/data.json: no such file");
	o = run_opts(q, state);
	_cleanup_free_ char *noimg = tpath("nothing");
	o.image = noimg;
	char want[512];
	snprintf(want, sizeof(want), "%s: no kernel (%s-kernel does not exist)", noimg, noimg);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_NOTFOUND, want);
}

/* A UEFI boot needs both OVMF files; nothing is copied into the state dir. */
TEST(run_ovmf_missing)
{
	_cleanup_free_ char *state = tpath("state-ovmf"), *disk = tpath("fw-efi.img"),
			    *code = tpath("code.fd"), *vars = tpath("vars-in-state.fd");
	_cleanup_free_ char *q = fake_qemu("q-ovmf", "exit 0");
	OK(i2k_write_file_atomic(disk, "x", 1, 0644, &_e));
	OK(i2k_write_file_atomic(code, "c", 1, 0644, &_e));
	struct i2k_qemu_opts o = run_opts(q, state);
	o.image = disk;
	struct i2k_qemu_result res;
	setenv("I2KIT_OVMF_CODE", "/nonexistent/code.fd", 1);
	FAILS(
	    i2k_qemu_run(&o, &res, &_e), I2K_ERR_NOTFOUND,
	    "UEFI firmware /nonexistent/code.fd not found (install ovmf or set $I2KIT_OVMF_CODE)");
	setenv("I2KIT_OVMF_CODE", code, 1);
	setenv("I2KIT_OVMF_VARS", "/nonexistent/vars.fd", 1);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_NOTFOUND,
	      "UEFI variable store /nonexistent/vars.fd not found (install ovmf or set "
	      "$I2KIT_OVMF_VARS)");
	unsetenv("I2KIT_OVMF_CODE");
	unsetenv("I2KIT_OVMF_VARS");
	_cleanup_free_ char *copy = i2k_xasprintf("%s/OVMF_VARS.fd", state);
	CHECK(access(copy, F_OK) != 0);
}

TEST(run_timeout_kills)
{
	_cleanup_free_ char *state = tpath("state3");
	_cleanup_free_ char *q = fake_qemu("q-sleep", "echo started\nexec sleep 30");
	struct i2k_qemu_opts o = run_opts(q, state);
	o.timeout_s = 1;
	struct i2k_qemu_result res;
	OK(i2k_qemu_run(&o, &res, &_e));
	CHECK(res.timed_out);
	CHECK(res.booted);
	_cleanup_free_ char *pidp = i2k_xasprintf("%s.pid", q);
	CHECK(pid_gone(pidp));
}

TEST(run_interrupt_without_qmp)
{
	/* The fake has no QMP socket: system_powerdown cannot be delivered, so
	 * QEMU gets SIGTERM at once. */
	_cleanup_free_ char *state = tpath("state4");
	_cleanup_free_ char *q = fake_qemu("q-int", "exec sleep 30");
	struct i2k_qemu_opts o = run_opts(q, state);
	o.grace_s = 1;
	struct i2k_qemu_result res;
	i2k_interrupted = 1;
	OK(i2k_qemu_run(&o, &res, &_e));
	i2k_interrupted = 0;
	CHECK(res.interrupted);
	CHECK(res.powerdown_failed);
	CHECK(res.killed);
	_cleanup_free_ char *pidp = i2k_xasprintf("%s.pid", q);
	CHECK(pid_gone(pidp));
}

TEST(run_kernel_panic)
{
	/* the panic line arrives in two chunks; the VM would hang forever */
	_cleanup_free_ char *state = tpath("state6");
	_cleanup_free_ char *q =
	    fake_qemu("q-panic", "printf 'Kernel panic - not syncing: VFS\\n---[ end Ker'\n"
				 "sleep 0.3\nprintf 'nel panic - not syncing: VFS ]---\\n'\n"
				 "exec sleep 30");
	struct i2k_qemu_opts o = run_opts(q, state);
	o.timeout_s = 20;
	struct i2k_qemu_result res;
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_IO,
	      "the guest kernel panicked (see the console)");
	CHECK(res.panicked);
	CHECK(!res.timed_out);
	_cleanup_free_ char *pidp = i2k_xasprintf("%s.pid", q);
	CHECK(pid_gone(pidp));
	_cleanup_free_ char *logp = i2k_xasprintf("%s/console.log", state);
	_cleanup_free_ char *log = read_all(logp);
	CHECK_STR(
	    log,
	    "Kernel panic - not syncing: VFS\n---[ end Kernel panic - not syncing: VFS ]---\n");
	/* "Kernel panic" alone (e.g. in a log message) is not the end marker */
	_cleanup_free_ char *q2 = fake_qemu("q-nopanic", "echo 'no Kernel panic here'\nexit 0");
	o = run_opts(q2, state);
	OK(i2k_qemu_run(&o, &res, &_e));
	CHECK(!res.panicked);
}

TEST(run_refuses_second_instance)
{
	_cleanup_free_ char *state = tpath("state5");
	_cleanup_free_ char *qmp = i2k_xasprintf("%s/qmp.sock", state);
	OK(i2k_mkdir_p(state, 0700, &_e));
	/* a process whose command line names this state dir's socket */
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", "sleep 30; :", qmp, (char *)NULL);
		_exit(127);
	}
	usleep(200 * 1000);
	_cleanup_free_ char *pidp = i2k_xasprintf("%s/pid", state);
	char buf[32];
	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	write_file(pidp, buf, 0644);
	_cleanup_free_ char *q = fake_qemu("q-second", "echo guest-line\nexit 0");
	struct i2k_qemu_opts o = run_opts(q, state);
	struct i2k_qemu_result res;
	char want[512];
	snprintf(want, sizeof(want), "%s: already running (pid %d)", state, (int)pid);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_CONFIG, want);
	CHECK(access(pidp, F_OK) == 0); /* the other instance's pid file stays */
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	/* a stale pid file (process gone) does not block */
	OK(i2k_qemu_run(&o, &res, &_e));
}

/* ---- ux: --disk, --networking, --data, console keys, detached, UEFI sniffing */

TEST(disk_specs)
{
	struct i2k_qemu_disk d;
	OK(i2k_qemu_disk_parse("data.qcow2", &d, &_e));
	CHECK_STR(d.file, "data.qcow2");
	CHECK_STR(d.format, "qcow2");
	CHECK(d.size == 0);
	i2k_qemu_disk_clear(&d);
	OK(i2k_qemu_disk_parse("size=1G", &d, &_e));
	CHECK(d.file == NULL && d.size == (1ull << 30));
	CHECK_STR(d.format, "qcow2");
	i2k_qemu_disk_clear(&d);
	OK(i2k_qemu_disk_parse("file=/x/d.img,size=512M,format=raw", &d, &_e));
	CHECK_STR(d.file, "/x/d.img");
	CHECK(d.size == (512ull << 20));
	CHECK_STR(d.format, "raw");
	i2k_qemu_disk_clear(&d);
	FAILS(i2k_qemu_disk_parse("size=1Q", &d, &_e), I2K_ERR_USAGE,
	      "--disk \"size=1Q\": size \"1Q\" is not a size (e.g. 4G, 512M; a multiple of 512 "
	      "bytes)");
	FAILS(i2k_qemu_disk_parse("size=1G,format=vdi", &d, &_e), I2K_ERR_USAGE,
	      "--disk \"size=1G,format=vdi\": format \"vdi\" is not qcow2 or raw");
	FAILS(i2k_qemu_disk_parse("bus=ide", &d, &_e), I2K_ERR_USAGE,
	      "--disk \"bus=ide\": expected FILE or [file=F,]size=S[,format=qcow2|raw]");
	uint64_t v = 0;
	CHECK(i2k_qemu_parse_size("4096", &v) == 0 && v == 4096);
	CHECK(i2k_qemu_parse_size("2GiB", &v) == 0 && v == (2ull << 30));
	CHECK(i2k_qemu_parse_size("0", &v) < 0);
	CHECK(i2k_qemu_parse_size("99999999999T", &v) < 0);
}

TEST(disk_creation)
{
	_cleanup_free_ char *dir = tpath("disks");
	OK(i2k_mkdir_p(dir, 0755, &_e));
	struct i2k_qemu_disk d;
	bool created = false;
	/* qcow2 without file=: STATE/disk0.qcow2, written by our own writer */
	OK(i2k_qemu_disk_parse("size=1G", &d, &_e));
	OK(i2k_qemu_disk_ensure(&d, dir, &created, &_e));
	CHECK(created);
	_cleanup_free_ char *want = i2k_xasprintf("%s/disk0.qcow2", dir);
	CHECK_STR(d.file, want);
	_cleanup_free_ char *cmd =
	    i2k_xasprintf("qemu-img info --output=json '%s' > '%s/info.json' 2>&1", d.file, dir);
	CHECK_INT(system(cmd), 0);
	_cleanup_free_ char *infop = i2k_xasprintf("%s/info.json", dir);
	_cleanup_free_ char *info = read_all(infop);
	CHECK_CONTAINS(info, "\"virtual-size\": 1073741824");
	CHECK_CONTAINS(info, "\"format\": \"qcow2\"");
	_cleanup_free_ char *chk = i2k_xasprintf("qemu-img check -q '%s'", d.file);
	CHECK_INT(system(chk), 0);
	struct stat st;
	CHECK(stat(d.file, &st) == 0 && st.st_size < (1 << 20)); /* metadata only */
	/* an existing file is kept as it is */
	OK(i2k_qemu_disk_ensure(&d, dir, &created, &_e));
	CHECK(!created);
	i2k_qemu_disk_clear(&d);
	/* raw: a sparse file of the size */
	_cleanup_free_ char *spec = i2k_xasprintf("file=%s/r.img,size=64M,format=raw", dir);
	OK(i2k_qemu_disk_parse(spec, &d, &_e));
	OK(i2k_qemu_disk_ensure(&d, dir, &created, &_e));
	CHECK(created && stat(d.file, &st) == 0 && st.st_size == (64 << 20) && st.st_blocks == 0);
	i2k_qemu_disk_clear(&d);
	/* a missing file without size= */
	_cleanup_free_ char *missing = i2k_xasprintf("%s/none.img", dir);
	OK(i2k_qemu_disk_parse(missing, &d, &_e));
	_cleanup_free_ char *msg =
	    i2k_xasprintf("--disk %s: no such file (give size= to create it)", missing);
	FAILS(i2k_qemu_disk_ensure(&d, dir, &created, &_e), I2K_ERR_NOTFOUND, msg);
	i2k_qemu_disk_clear(&d);
}

/* A disk image: protective MBR (boot code zero or not), a GPT whose one
 * entry has type ESP or another type. */
static void make_gpt(const char *path, bool boot_code, bool esp)
{
	uint8_t img[64 * 512];
	memset(img, 0, sizeof(img));
	if (boot_code)
		img[0] = 0xeb;
	img[510] = 0x55;
	img[511] = 0xaa;
	memcpy(img + 512, "EFI PART", 8);
	img[512 + 72] = 2;   /* entries at LBA 2 */
	img[512 + 80] = 128; /* 128 entries */
	img[512 + 84] = 128; /* of 128 bytes */
	static const uint8_t esp_guid[16] = {0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
					     0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b};
	memcpy(img + 1024 + 128, esp_guid, 16); /* the second entry */
	img[1024 + 128 + 32] = 40;		/* first LBA */
	img[1024 + 128 + 40] = 63;		/* last LBA: inside the disk */
	if (!esp)
		img[1024 + 128] ^= 1;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, img, sizeof(img)) == (ssize_t)sizeof(img));
}

TEST(uefi_only_disks)
{
	_cleanup_free_ char *a = tpath("efi-renamed.img"), *b = tpath("hybrid.img"),
			    *c = tpath("gpt-noesp.img");
	make_gpt(a, false, true);
	make_gpt(b, true, true);
	make_gpt(c, false, false);
	CHECK(i2k_qemu_disk_uefi_only(a));
	CHECK(!i2k_qemu_disk_uefi_only(b));
	CHECK(!i2k_qemu_disk_uefi_only(c));
	struct i2k_qemu_image img;
	OK(i2k_qemu_image_resolve(a, &img, &_e));
	CHECK(img.disk && img.efi);
	i2k_qemu_image_clear(&img);
	OK(i2k_qemu_image_resolve(b, &img, &_e));
	CHECK(img.disk && !img.efi);
	i2k_qemu_image_clear(&img);
}

TEST(networking_modes)
{
	struct i2k_qemu_image img = {
	    .kernel = "/b/k", .initrd = "/b/i", .cmdline = "", .name = "n"};
	struct i2k_qemu_opts o = {.accel = I2K_QEMU_ACCEL_TCG, .networking = "none"};
	char **argv = NULL;
	OK(i2k_qemu_argv(&o, &img, "/q", "/s/qmp", &argv, &_e));
	CHECK(argv_has(argv, "-nic", "none"));
	CHECK(!argv_has(argv, "-device", "virtio-net-pci,netdev=net0,romfile="));
	i2k_qemu_argv_free(argv);
	o.networking = "tap:tap7";
	OK(i2k_qemu_argv(&o, &img, "/q", "/s/qmp", &argv, &_e));
	CHECK(argv_has(argv, "-netdev", "tap,id=net0,ifname=tap7,script=no,downscript=no"));
	CHECK(argv_has(argv, "-device", "virtio-net-pci,netdev=net0,romfile="));
	i2k_qemu_argv_free(argv);
	o.networking = "bridge:br0";
	OK(i2k_qemu_argv(&o, &img, "/q", "/s/qmp", &argv, &_e));
	CHECK(argv_has(argv, "-netdev", "bridge,id=net0,br=br0"));
	i2k_qemu_argv_free(argv);
	OK(i2k_qemu_check_networking("user", 1, &_e));
	FAILS(i2k_qemu_check_networking("vde", 0, &_e), I2K_ERR_USAGE,
	      "--networking \"vde\": expected user, none, tap:IF or bridge:BR");
	FAILS(i2k_qemu_check_networking("tap:", 0, &_e), I2K_ERR_USAGE,
	      "--networking \"tap:\": expected user, none, tap:IF or bridge:BR");
	FAILS(i2k_qemu_check_networking("none", 1, &_e), I2K_ERR_USAGE,
	      "--publish needs --networking user (QEMU forwards ports only for user networking)");
}

TEST(ux_run_options)
{
	struct i2k_run_args a;
	_cleanup_free_ char *f = tpath("meta.json");
	write_file(f, "{}", 0644);
	OK(parse(&a, &_e, "run", "qemu", "--data", "{\"a\":1}", "--networking", "none", "--disk",
		 "size=2G", "--detached", "img", NULL));
	CHECK_STR(a.qemu.data_string, "{\"a\":1}");
	CHECK(a.qemu.data == NULL);
	CHECK_STR(a.qemu.networking, "none");
	CHECK_STR(a.qemu.extra_disk, "size=2G");
	CHECK(a.qemu.detached);
	i2k_run_args_clear(&a);
	/* --data FILE still reads the file (old meaning); --data-file says so */
	OK(parse(&a, &_e, "run", "qemu", "--data", f, "img", NULL));
	CHECK_STR(a.qemu.data, f);
	CHECK(a.qemu.data_string == NULL);
	i2k_run_args_clear(&a);
	OK(parse(&a, &_e, "run", "qemu", "--data-file", f, "img", NULL));
	CHECK_STR(a.qemu.data, f);
	i2k_run_args_clear(&a);
	FAILS(parse(&a, &_e, "run", "qemu", "--disk", "size=x", "img", NULL), I2K_ERR_USAGE,
	      "--disk \"size=x\": size \"x\" is not a size (e.g. 4G, 512M; a multiple of 512 "
	      "bytes)");
	i2k_run_args_clear(&a);
	FAILS(parse(&a, &_e, "run", "qemu", "--networking", "none", "--publish", "80:80", "img",
		    NULL),
	      I2K_ERR_USAGE,
	      "--publish needs --networking user (QEMU forwards ports only for user networking)");
	i2k_run_args_clear(&a);
	FAILS(parse(&a, &_e, "run", "qemu", "--detached", "--timeout", "5", "img", NULL),
	      I2K_ERR_USAGE, "--detached cannot take --timeout");
	i2k_run_args_clear(&a);
}

TEST(console_keys)
{
	struct i2k_console_keys k = {0};
	char out[64];
	size_t n = 0;
	CHECK_INT(i2k_console_filter(&k, "ls\r", 3, out, &n), I2K_CONSOLE_NONE);
	CHECK(n == 3 && memcmp(out, "ls\r", 3) == 0);
	/* Ctrl-C goes to the guest */
	CHECK_INT(i2k_console_filter(&k, "\003", 1, out, &n), I2K_CONSOLE_NONE);
	CHECK(n == 1 && out[0] == 3);
	/* Ctrl-A x, also split across reads */
	CHECK_INT(i2k_console_filter(&k, "ab\001", 3, out, &n), I2K_CONSOLE_NONE);
	CHECK(n == 2 && k.escape);
	CHECK_INT(i2k_console_filter(&k, "xyz", 3, out, &n), I2K_CONSOLE_QUIT);
	CHECK(n == 0);
	CHECK_INT(i2k_console_filter(&k, "\001p", 2, out, &n), I2K_CONSOLE_POWERDOWN);
	CHECK_INT(i2k_console_filter(&k, "\001h", 2, out, &n), I2K_CONSOLE_SHOW_HELP);
	/* Ctrl-A Ctrl-A sends one Ctrl-A */
	CHECK_INT(i2k_console_filter(&k, "\001\001z", 3, out, &n), I2K_CONSOLE_NONE);
	CHECK(n == 2 && out[0] == 1 && out[1] == 'z');
	/* not a terminal: no raw mode */
	CHECK(i2k_console_begin(-1) < 0 && !i2k_console_active());
}

TEST(run_detached)
{
	_cleanup_free_ char *q = fake_qemu("q-bg", "echo bg-console\nsleep 30");
	_cleanup_free_ char *state = tpath("state-bg");
	struct i2k_qemu_opts o = run_opts(q, state);
	o.quiet = false;
	o.detached = true;
	o.data_string = "{\"k\":\"v\"}";
	struct i2k_qemu_result res;
	OK(i2k_qemu_run(&o, &res, &_e));
	CHECK(res.detached_pid > 1 && kill(res.detached_pid, 0) == 0);
	CHECK_STR(res.state_dir, state);
	_cleanup_free_ char *pidp = i2k_xasprintf("%s/pid", state);
	_cleanup_free_ char *pid = read_all(pidp);
	CHECK_INT(strtol(pid, NULL, 10), res.detached_pid);
	_cleanup_free_ char *datap = i2k_xasprintf("%s/data", state);
	_cleanup_free_ char *data = read_all(datap);
	CHECK_STR(data, "{\"k\":\"v\"}");
	_cleanup_free_ char *logp = i2k_xasprintf("%s/console.log", state);
	_cleanup_free_ char *log = read_all(logp);
	CHECK_STR(log, "bg-console\n");
	/* a second run on the same state is refused while it runs */
	_cleanup_free_ char *msg =
	    i2k_xasprintf("%s: already running (pid %d)", state, res.detached_pid);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_CONFIG, msg);
	kill(-(pid_t)strtol(pid, NULL, 10), SIGKILL); /* its own session and group */
	/* a QEMU that exits at once is an error */
	_cleanup_free_ char *q2 = fake_qemu("q-bg-fail", "exit 1");
	_cleanup_free_ char *state2 = tpath("state-bg2");
	o = run_opts(q2, state2);
	o.detached = true;
	_cleanup_free_ char *msg2 =
	    i2k_xasprintf("QEMU exited at once (status 1); see %s/console.log", state2);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_IO, msg2);
}

int main(void)
{
	t_prog = "test_qemu";
	snprintf(tmp, sizeof(tmp), "%s/i2k-test-qemu.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		abort();
	/* runs look for a kernel's PVH ELF in the cache: keep it in tmp */
	_cleanup_free_ char *cache = tpath("cache");
	setenv("I2KIT_CACHE", cache, 1);
	RUN(publish_specs);
	RUN(hostfwd_strings);
	RUN(kernel_cmdlines);
	RUN(exit_mapping);
	RUN(image_lookup);
	RUN(state_dirs);
	RUN(argv_building);
	RUN(qboot_firmware);
	RUN(disk_argv);
	RUN(kvm_probe_missing_device);
	RUN(run_options);
	RUN(run_option_errors);
	RUN(run_guest_status_and_console);
	RUN(run_qemu_failures);
	RUN(run_ovmf_missing);
	RUN(run_timeout_kills);
	RUN(run_interrupt_without_qmp);
	RUN(run_kernel_panic);
	RUN(run_refuses_second_instance);
	RUN(disk_specs);
	RUN(disk_creation);
	RUN(uefi_only_disks);
	RUN(networking_modes);
	RUN(ux_run_options);
	RUN(console_keys);
	RUN(run_detached);
	i2k_rm_rf(tmp, NULL);
	return TEST_DONE();
}
