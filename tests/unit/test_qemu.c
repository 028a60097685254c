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
#include "provision/kvm.h"
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
	CHECK(argv_has(argv, "-append",
		       "console=tty0 quiet console=ttyS0 i2kit.exitcode=isa-debug-exit"));
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
	i2k_qemu_argv_free(argv);

	img.initrd = "/b/a,b-initrd.img";
	FAILS(i2k_qemu_argv(&o, &img, "q", "/s/qmp.sock", &argv, &_e), I2K_ERR_USAGE,
	      "/b/a,b-initrd.img: QEMU cannot take an initrd path with ','");
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
	CHECK_STR(a.qemu.data, "d.json");
	CHECK_STR(a.qemu.state_dir, "/s");
	CHECK_STR(a.qemu.cmdline_append, "quiet");
	CHECK(!a.help);
	i2k_run_args_clear(&a);

	OK(parse(&a, &_e, "run", "qemu", "img", NULL));
	CHECK_INT(a.qemu.accel, I2K_QEMU_ACCEL_AUTO);
	CHECK_INT(a.qemu.mem_mb, 0); /* default applied by provision/qemu */
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
	BAD("the aws provider cannot run (it can: push)", "aws", "img");
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
	CHECK_CONTAINS(args, "-append\nconsole=ttyS0 i2kit.exitcode=isa-debug-exit\n");
	CHECK_CONTAINS(args, "-fw_cfg\nname=opt/i2kit/data,file=");

	/* exit 1 after console output: the guest wrote 0 to isa-debug-exit */
	_cleanup_free_ char *q1 = fake_qemu("q-one", "echo booted\nexit 1");
	o = run_opts(q1, state);
	OK(i2k_qemu_run(&o, &res, &_e));
	CHECK_INT(res.guest_status, 0);
	/* plain exit 0 */
	_cleanup_free_ char *q0 = fake_qemu("q-zero", "exit 0");
	o = run_opts(q0, state);
	OK(i2k_qemu_run(&o, &res, &_e));
	CHECK_INT(res.guest_status, 0);
	CHECK(!res.booted);
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
	      "--data /nonexistent/data.json: no such file");
	o = run_opts(q, state);
	_cleanup_free_ char *noimg = tpath("nothing");
	o.image = noimg;
	char want[512];
	snprintf(want, sizeof(want), "%s: no kernel (%s-kernel does not exist)", noimg, noimg);
	FAILS(i2k_qemu_run(&o, &res, &_e), I2K_ERR_NOTFOUND, want);
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
	_cleanup_free_ char *q = fake_qemu("q-second", "exit 0");
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

int main(void)
{
	t_prog = "test_qemu";
	snprintf(tmp, sizeof(tmp), "%s/i2k-test-qemu.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmp) == NULL)
		abort();
	RUN(publish_specs);
	RUN(hostfwd_strings);
	RUN(kernel_cmdlines);
	RUN(exit_mapping);
	RUN(image_lookup);
	RUN(state_dirs);
	RUN(argv_building);
	RUN(kvm_probe_missing_device);
	RUN(run_options);
	RUN(run_option_errors);
	RUN(run_guest_status_and_console);
	RUN(run_qemu_failures);
	RUN(run_timeout_kills);
	RUN(run_interrupt_without_qmp);
	RUN(run_kernel_panic);
	RUN(run_refuses_second_instance);
	i2k_rm_rf(tmp, NULL);
	return TEST_DONE();
}
