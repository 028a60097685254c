/* qemu.c — `i2kit run qemu`: argument building, the QEMU child, console
 * tee, timeout, graceful powerdown over QMP (see qemu.h). */
#include "provision/qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/utf.h"
#include "builder/base/util.h"
#include "builder/store/store.h"
#include "formats/format.h"
#include "provision/child.h"
#include "provision/console.h"
#include "provision/efivars.h"
#include "provision/esp.h"
#include "provision/kvm.h"
#include "provision/ovmf.h"
#include "provision/pvh.h"
#include "provision/rawinitrd.h"
#include "provision/qemu_disk.h"

#define CMDLINE_MAX (64u << 10)
#define QMP_LINE_MAX (64u << 10)

/* ---- small pure helpers ---------------------------------------------------- */

static int parse_port(const char *s, size_t len, unsigned *out)
{
	if (len == 0 || len > 5)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int i2k_qemu_parse_publish(const char *spec, struct i2k_qemu_publish *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	const char *colon = strchr(spec, ':');
	const char *slash = strchr(spec, '/');
	const char *gend = slash ? slash : spec + strlen(spec);
	unsigned h, g;
	if (colon == NULL || (slash && slash < colon) ||
	    parse_port(spec, (size_t)(colon - spec), &h) < 0 ||
	    parse_port(colon + 1, (size_t)(gend - colon - 1), &g) < 0 ||
	    (slash && strcmp(slash, "/tcp") != 0 && strcmp(slash, "/udp") != 0))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "--publish \"%s\": expected HOST:GUEST[/tcp|udp]", spec);
	unsigned bad = h < 1 || h > 65535 ? h : g < 1 || g > 65535 ? g : 0;
	if (h < 1 || h > 65535 || g < 1 || g > 65535)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "--publish \"%s\": port %u out of range 1..65535", spec, bad);
	out->host = (uint16_t)h;
	out->guest = (uint16_t)g;
	out->udp = slash && strcmp(slash, "/udp") == 0;
	return 0;
}

char *i2k_qemu_netdev_arg(const struct i2k_qemu_publish *p, size_t n)
{
	struct i2k_buf b = {0};
	const char *head = "user,id=net0";
	i2k_buf_append(&b, head, strlen(head), NULL);
	for (size_t i = 0; i < n; i++) {
		char one[96];
		int len = snprintf(one, sizeof(one), ",hostfwd=%s:127.0.0.1:%u-:%u",
				   p[i].udp ? "udp" : "tcp", p[i].host, p[i].guest);
		i2k_buf_append(&b, one, (size_t)len, NULL);
	}
	return b.data;
}

int i2k_qemu_check_networking(const char *net, size_t npublish, struct i2k_error **err)
{
	if (net == NULL || strcmp(net, "user") == 0)
		return 0;
	bool ok = strcmp(net, "none") == 0 ||
		  (i2k_str_has_prefix(net, "tap:") && net[4] && !strpbrk(net + 4, ",=")) ||
		  (i2k_str_has_prefix(net, "bridge:") && net[7] && !strpbrk(net + 7, ",="));
	if (!ok)
		return i2k_error_set(
		    err, I2K_ERR_USAGE,
		    "--networking \"%s\": expected user, none, tap:IF or bridge:BR", net);
	if (npublish)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "--publish needs --networking user (QEMU forwards ports only "
				     "for user networking)");
	return 0;
}

/* The value of the last "console=" word of s (NULL if none), as a new
 * string. */
static char *last_console(const char *s)
{
	char *found = NULL;
	for (const char *p = s; p && *p;) {
		p += strspn(p, " \t\r\n");
		size_t w = strcspn(p, " \t\r\n");
		if (w > 8 && strncmp(p, "console=", 8) == 0) {
			free(found);
			found = i2k_xstrndup(p + 8, w - 8);
		}
		p += w;
	}
	return found;
}

static void append_word(struct i2k_buf *b, const char *s)
{
	size_t len = strlen(s);
	while (len > 0 && strchr(" \t\r\n", s[len - 1]))
		len--;
	while (len > 0 && strchr(" \t\r\n", *s)) {
		s++;
		len--;
	}
	if (len == 0)
		return;
	if (b->len > 0)
		i2k_buf_append(b, " ", 1, NULL);
	i2k_buf_append(b, s, len, NULL);
}

char *i2k_qemu_kernel_cmdline(const char *base, const char *append)
{
	struct i2k_buf b = {0};
	append_word(&b, base ? base : "");
	append_word(&b, append ? append : "");
	_cleanup_free_ char *con = last_console(b.data ? b.data : "");
	if (con == NULL || !i2k_str_has_prefix(con, "ttyS0"))
		append_word(&b, "console=ttyS0");
	append_word(&b, "i2kit.exitcode=isa-debug-exit");
	return b.data;
}

int i2k_qemu_guest_status(int wstatus, bool booted)
{
	if (!WIFEXITED(wstatus))
		return -1;
	int code = WEXITSTATUS(wstatus);
	if (code == 0)
		return 0;
	if ((code & 1) && booted)
		return code >> 1;
	return -1;
}

/* ---- image and state ------------------------------------------------------- */

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

void i2k_qemu_image_clear(struct i2k_qemu_image *img)
{
	free(img->kernel);
	free(img->initrd);
	free(img->cmdline);
	free(img->name);
	free(img->root_disk);
	free(img->disk);
	free(img->pvh_kernel);
	free(img->raw_initrd);
	free(img->bios);
	free(img->ovmf_code);
	free(img->ovmf_vars);
	free(img->ovmf_vars_warm);
	memset(img, 0, sizeof(*img));
}

char *i2k_qemu_qboot(const char *exe)
{
	const char *env = getenv("I2KIT_QBOOT");
	if (env && *env)
		return strcmp(env, "none") == 0 ? NULL : i2k_xstrdup(env);
	_cleanup_free_ char *real = exe ? realpath(exe, NULL) : NULL;
	if (real) {
		/* PREFIX/bin/qemu-system-x86_64 → PREFIX/share/qemu/qboot.rom */
		char *slash = strrchr(real, '/');
		if (slash)
			*slash = '\0';
		slash = strrchr(real, '/');
		if (slash) {
			*slash = '\0';
			char *p = i2k_xasprintf("%s/share/qemu/qboot.rom", real);
			if (is_file(p))
				return p;
			free(p);
		}
	}
	return is_file(I2K_QEMU_QBOOT_DEFAULT) ? i2k_xstrdup(I2K_QEMU_QBOOT_DEFAULT) : NULL;
}

const char *i2k_qemu_ovmf_code(void)
{
	const char *p = getenv("I2KIT_OVMF_CODE");
	return p && *p ? p : "/usr/share/OVMF/OVMF_CODE_4M.fd";
}

const char *i2k_qemu_ovmf_vars(void)
{
	const char *p = getenv("I2KIT_OVMF_VARS");
	return p && *p ? p : "/usr/share/OVMF/OVMF_VARS_4M.fd";
}

/* A disk image written as format f (firmware, container and CD-ROM from
 * the format table). */
static void resolve_disk(const char *image, const struct i2k_format *f, const char *prefix,
			 struct i2k_qemu_image *out)
{
	out->disk = i2k_xstrdup(image);
	switch (f->container) {
	case I2K_CONTAINER_QCOW2:
		out->disk_fmt = "qcow2";
		break;
	case I2K_CONTAINER_VHD_FIXED:
	case I2K_CONTAINER_VHD_DYNAMIC:
		out->disk_fmt = "vpc";
		break;
	case I2K_CONTAINER_VMDK:
		out->disk_fmt = "vmdk";
		break;
	default:
		out->disk_fmt = "raw";
	}
	out->cdrom = f->cdrom;
	out->efi = f->firmware == I2K_FIRMWARE_UEFI;
	const char *slash = strrchr(prefix, '/');
	out->name = i2k_xstrdup(slash ? slash + 1 : prefix);
	out->cmdline = i2k_xstrdup("");
}

int i2k_qemu_image_resolve(const char *image, struct i2k_qemu_image *out, struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	_cleanup_free_ char *prefix = NULL;
	const struct i2k_format *f = i2k_format_from_path(image, &prefix);
	if (f && f->firmware == I2K_FIRMWARE_NONE && is_file(image))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "%s was written as %s, which QEMU cannot boot (build a disk "
				     "format or kernel+initrd)",
				     image, f->name);
	if (f && f->firmware != I2K_FIRMWARE_KERNEL && is_file(image)) {
		resolve_disk(image, f, prefix, out);
	} else if (f == NULL && is_file(image) && !i2k_str_has_suffix(image, "-initrd.img") &&
		   !i2k_str_has_suffix(image, "-squashfs.img")) {
		/* A disk under a name no format writes: a raw BIOS disk. */
		static const struct i2k_format any = {.container = I2K_CONTAINER_RAW,
						      .firmware = I2K_FIRMWARE_BIOS};
		const char *dot = strrchr(image, '.');
		const char *slash = strrchr(image, '/');
		_cleanup_free_ char *stem = dot && (!slash || dot > slash)
						? i2k_xstrndup(image, (size_t)(dot - image))
						: i2k_xstrdup(image);
		resolve_disk(image, &any, stem, out);
	} else {
		if (i2k_qemu_kernel_resolve(image, prefix ? prefix : image, out, err) < 0)
			return -1;
		/* kernel+squashfs / kernel+iso: the root image is the first disk */
		if (f && strcmp(f->name, "kernel+iso") == 0) {
			free(out->root_disk);
			out->root_disk = i2k_xasprintf("%s.iso", prefix);
		} else if (f && strcmp(f->name, "kernel+erofs") == 0) {
			free(out->root_disk);
			out->root_disk = i2k_xasprintf("%s-erofs.img", prefix);
		}
	}
	/* A GPT disk with an ESP and no BIOS boot code boots only with UEFI,
	 * whatever its name says. */
	if (out->disk && !out->efi && !out->cdrom && strcmp(out->disk_fmt, "raw") == 0 &&
	    i2k_qemu_disk_uefi_only(out->disk))
		out->efi = true;
	if (out->name[0] == '\0') {
		free(out->name);
		out->name = i2k_xstrdup("vm");
	}
	return 0;
}

/* A kernel+initrd (or kernel+squashfs) build under prefix. */
int i2k_qemu_kernel_resolve(const char *image, const char *prefix, struct i2k_qemu_image *out,
			    struct i2k_error **err)
{
	_cleanup_free_ char *sq = NULL;
	_cleanup_free_ char *cpath = NULL;
	out->kernel = i2k_xasprintf("%s-kernel", prefix);
	if (!is_file(out->kernel)) {
		i2k_error_set(err, I2K_ERR_NOTFOUND, "%s: no kernel (%s does not exist)", image,
			      out->kernel);
		goto fail;
	}
	out->initrd = i2k_xasprintf("%s-initrd.img", prefix);
	if (!is_file(out->initrd)) {
		i2k_error_set(err, I2K_ERR_NOTFOUND, "%s: no initrd (%s does not exist)", image,
			      out->initrd);
		goto fail;
	}
	cpath = i2k_xasprintf("%s-cmdline", prefix);
	if (is_file(cpath)) {
		size_t len;
		if (i2k_read_file(cpath, CMDLINE_MAX, &out->cmdline, &len, err) < 0) {
			i2k_error_wrap(err, "%s", cpath);
			goto fail;
		}
	} else {
		out->cmdline = i2k_xstrdup("");
	}
	sq = i2k_xasprintf("%s-squashfs.img", prefix);
	if (is_file(sq) && strstr(out->cmdline, "i2kit.rootfstype=squashfs"))
		out->root_disk = I2K_STEAL(sq);
	const char *slash = strrchr(prefix, '/');
	out->name = i2k_xstrdup(slash ? slash + 1 : prefix);
	return 0;
fail:
	i2k_qemu_image_clear(out);
	return -1;
}

int i2k_qemu_default_state_dir(const char *name, char **out, struct i2k_error **err)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg == '/')
		*out = i2k_xasprintf("%s/i2kit/run/%s", xdg, name);
	else if (home && *home)
		*out = i2k_xasprintf("%s/.local/state/i2kit/run/%s", home, name);
	else
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "no state directory: $HOME is not set (use --state DIR)");
	return 0;
}

/* ---- argv ------------------------------------------------------------------------ */

struct argv {
	char **v;
	size_t n, cap;
};

static void argv_add(struct argv *a, char *owned)
{
	i2k_xgrow((void **)&a->v, &a->cap, a->n + 2, sizeof(*a->v));
	a->v[a->n++] = owned;
	a->v[a->n] = NULL;
}

static void argv_addf(struct argv *a, const char *s)
{
	argv_add(a, i2k_xstrdup(s));
}

void i2k_qemu_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

/* QEMU's option syntax: ',' inside a value is written ",,". */
static char *opt_escape(const char *s)
{
	struct i2k_buf b = {0};
	for (const char *p = s; *p; p++) {
		i2k_buf_append(&b, p, 1, NULL);
		if (*p == ',')
			i2k_buf_append(&b, ",", 1, NULL);
	}
	return b.data ? b.data : i2k_xstrdup("");
}

/* What a kernel+initrd boot appends to its build's command line: under TCG
 * the I2K_QEMU_TCG_*CMDLINE words (qemu.h), then --cmdline-append, so the
 * user's words come last and win. Caller frees; NULL when nothing. */
static char *tcg_append(const struct i2k_qemu_opts *o)
{
	if (o->accel != I2K_QEMU_ACCEL_TCG)
		return o->cmdline_append ? i2k_xstrdup(o->cmdline_append) : NULL;
	struct i2k_buf b = {0};
	append_word(&b, I2K_QEMU_TCG_CMDLINE);
	if (!o->tracefs)
		append_word(&b, I2K_QEMU_TCG_NOTRACEFS);
	if (!o->cgroup_kmem)
		append_word(&b, I2K_QEMU_TCG_NOKMEM);
	if (o->cpus <= 1)
		append_word(&b, I2K_QEMU_TCG_1CPU_CMDLINE);
	append_word(&b, o->cmdline_append ? o->cmdline_append : "");
	return b.data;
}

int i2k_qemu_argv(const struct i2k_qemu_opts *o, const struct i2k_qemu_image *img, const char *qemu,
		  const char *qmp_path, char ***out, struct i2k_error **err)
{
	*out = NULL;
	/* a UEFI disk takes it through its boot entry (choose_efivars) */
	if (img->disk && o->cmdline_append && img->ovmf_vars == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "--cmdline-append works with kernel+initrd builds and UEFI "
				     "disks only: a BIOS disk or an ISO image carries its own "
				     "command line");
	/* -kernel/-initrd take a plain file name but QEMU splits -initrd at ','
	 * (several initrds) in recent versions: refuse rather than guess. */
	if (img->initrd && strchr(img->initrd, ','))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "%s: QEMU cannot take an initrd path with ','", img->initrd);
	struct argv a = {0};
	argv_addf(&a, qemu);
	argv_addf(&a, "-name");
	argv_addf(&a, img->name);
	argv_addf(&a, "-nographic");
	argv_addf(&a, "-vga");
	argv_addf(&a, "none");
	argv_addf(&a, "-no-reboot");
	/* q35, except for CD-ROMs: I2K_QEMU_MACHINE in qemu.h says why. No
	 * PS/2 controller (nothing can type on it under -nographic, the
	 * console is the serial port): OVMF's boot manager no longer waits on
	 * the keyboard's reset, and the kernel probes no i8042. */
	argv_addf(&a, "-machine");
	argv_addf(&a, img->cdrom ? I2K_QEMU_MACHINE_CDROM : I2K_QEMU_MACHINE);
	argv_addf(&a, "-accel");
	if (o->accel == I2K_QEMU_ACCEL_KVM) {
		argv_addf(&a, "kvm");
		argv_addf(&a, "-cpu");
		argv_addf(&a, "host");
	} else {
		argv_addf(&a, "tcg");
	}
	argv_addf(&a, "-m");
	argv_add(&a, i2k_xasprintf("%u", o->mem_mb ? o->mem_mb : I2K_QEMU_DEFAULT_MEM));
	argv_addf(&a, "-smp");
	argv_add(&a, i2k_xasprintf("%u", o->cpus ? o->cpus : 1));
	if (img->efi || o->uefi) {
		/* The variable store read-only too: OVMF then keeps its variables
		 * in RAM (nothing outlives the VM either way) instead of writing
		 * its first-boot variables through the emulated flash, which
		 * costs seconds under TCG. */
		_cleanup_free_ char *code =
		    opt_escape(img->ovmf_code ? img->ovmf_code : i2k_qemu_ovmf_code());
		_cleanup_free_ char *vars =
		    opt_escape(img->ovmf_vars ? img->ovmf_vars : i2k_qemu_ovmf_vars());
		argv_addf(&a, "-drive");
		argv_add(&a, i2k_xasprintf("if=pflash,format=raw,readonly=on,file=%s", code));
		/* ... except the run's own store with its boot entry
		 * (choose_efivars), which OVMF reads only from writable flash */
		argv_addf(&a, "-drive");
		argv_add(&a, i2k_xasprintf("if=pflash,format=raw,%sfile=%s",
					   img->ovmf_vars ? "" : "readonly=on,", vars));
	}
	if (img->disk) {
		/* bootindex: the firmware gets a boot order naming this disk only
		 * (OVMF then connects just that device and tries no empty CD-ROM
		 * first). */
		_cleanup_free_ char *d = opt_escape(img->disk);
		argv_addf(&a, "-drive");
		if (img->cdrom)
			argv_add(
			    &a,
			    i2k_xasprintf(
				"file=%s,format=raw,media=cdrom,readonly=on,if=none,id=disk0", d));
		else
			argv_add(&a, i2k_xasprintf("file=%s,format=%s,if=none,id=disk0", d,
						   img->disk_fmt));
		argv_addf(&a, "-device");
		argv_addf(&a, img->cdrom ? "ide-cd,drive=disk0,bootindex=0"
					 : "virtio-blk-pci,drive=disk0,bootindex=0");
	} else {
		if (img->bios && !(img->efi || o->uefi)) {
			argv_addf(&a, "-bios");
			argv_addf(&a, img->bios);
		}
		argv_addf(&a, "-kernel");
		argv_addf(&a, img->pvh_kernel ? img->pvh_kernel : img->kernel);
		argv_addf(&a, "-initrd");
		argv_addf(&a, img->raw_initrd ? img->raw_initrd : img->initrd);
		argv_addf(&a, "-append");
		_cleanup_free_ char *append = tcg_append(o);
		argv_add(&a, i2k_qemu_kernel_cmdline(img->cmdline, append));
		if (img->root_disk) {
			_cleanup_free_ char *d = opt_escape(img->root_disk);
			argv_addf(&a, "-drive");
			argv_add(&a, i2k_xasprintf("file=%s,format=raw,if=virtio,readonly=on", d));
		}
	}
	if (o->extra_disk) {
		_cleanup_free_ char *d = opt_escape(o->extra_disk);
		const char *fmt = o->extra_disk_fmt				? o->extra_disk_fmt
				  : i2k_str_has_suffix(o->extra_disk, ".qcow2") ? "qcow2"
				  : i2k_str_has_suffix(o->extra_disk, ".vhd")	? "vpc"
										: "raw";
		argv_addf(&a, "-drive");
		argv_add(&a, i2k_xasprintf("file=%s,format=%s,if=virtio", d, fmt));
	}
	argv_addf(&a, "-chardev");
	argv_addf(&a, "stdio,id=con0,signal=off");
	argv_addf(&a, "-serial");
	argv_addf(&a, "chardev:con0");
	_cleanup_free_ char *qmp = opt_escape(qmp_path);
	argv_addf(&a, "-chardev");
	argv_add(&a, i2k_xasprintf("socket,id=qmp0,path=%s,server=on,wait=off", qmp));
	argv_addf(&a, "-mon");
	argv_addf(&a, "chardev=qmp0,mode=control");
	argv_addf(&a, "-device");
	argv_addf(&a, "isa-debug-exit,iobase=0xf4,iosize=0x04");
	const char *net = o->networking ? o->networking : "user";
	if (strcmp(net, "none") == 0) {
		argv_addf(&a, "-nic");
		argv_addf(&a, "none");
	} else {
		argv_addf(&a, "-netdev");
		if (i2k_str_has_prefix(net, "tap:"))
			argv_add(&a, i2k_xasprintf("tap,id=net0,ifname=%s,script=no,downscript=no",
						   net + 4));
		else if (i2k_str_has_prefix(net, "bridge:"))
			argv_add(&a, i2k_xasprintf("bridge,id=net0,br=%s", net + 7));
		else
			argv_add(&a, i2k_qemu_netdev_arg(o->publish, o->npublish));
		/* romfile= : no iPXE option ROM (its banner and delay are of no
		 * use with -kernel). */
		argv_addf(&a, "-device");
		argv_addf(&a, "virtio-net-pci,netdev=net0,romfile=");
	}
	argv_addf(&a, "-device");
	argv_addf(&a, "virtio-rng-pci");
	if (o->data) {
		_cleanup_free_ char *d = opt_escape(o->data);
		argv_addf(&a, "-fw_cfg");
		argv_add(&a, i2k_xasprintf("name=opt/i2kit/data,file=%s", d));
	}
	*out = a.v;
	return 0;
}

/* ---- running ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Full path of an executable: name as is when it has a '/', else $PATH. */
static char *find_exe(const char *name)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? i2k_xstrdup(name) : NULL;
	const char *path = getenv("PATH");
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t len = strcspn(p, ":");
		_cleanup_free_ char *cand = i2k_xasprintf("%.*s/%s", (int)len, len ? p : ".", name);
		if (access(cand, X_OK) == 0 && is_file(cand))
			return I2K_STEAL(cand);
		p += len;
		if (*p == ':')
			p++;
	}
	return NULL;
}

/* Is the process of STATE/pid still a QEMU of this state dir? */
static pid_t running_pid(const char *pidfile, const char *qmp_path)
{
	_cleanup_free_ char *s = NULL;
	size_t len;
	if (i2k_read_file(pidfile, 64, &s, &len, NULL) < 0)
		return 0;
	long pid = strtol(s, NULL, 10);
	if (pid <= 1 || kill((pid_t)pid, 0) != 0)
		return 0;
	_cleanup_free_ char *procp = i2k_xasprintf("/proc/%ld/cmdline", pid);
	_cleanup_free_ char *cmd = NULL;
	if (i2k_read_file(procp, 1u << 20, &cmd, &len, NULL) < 0)
		return 0;
	return memmem(cmd, len, qmp_path, strlen(qmp_path)) ? (pid_t)pid : 0;
}

/* Reads one line (up to '\n') from a blocking socket with a receive timeout. */
static int read_line(int fd, struct i2k_buf *b)
{
	b->len = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			return 0;
		if (i2k_buf_append(b, &c, 1, NULL) < 0)
			return -1;
	}
}

/* Reads lines until one that answers a command ("return" or "error");
 * asynchronous events are skipped. */
static int qmp_answer(int fd, struct i2k_buf *b)
{
	for (int i = 0; i < 32; i++) {
		if (read_line(fd, b) < 0)
			return -1;
		if (b->data && strstr(b->data, "\"return\""))
			return 0;
		if (b->data && strstr(b->data, "\"error\""))
			return -1;
	}
	return -1;
}

/* system_powerdown over QMP: greeting, qmp_capabilities, the command. */
static int qmp_powerdown(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	struct i2k_buf b = {.max = QMP_LINE_MAX};
	static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
	static const char down[] = "{\"execute\":\"system_powerdown\"}\n";
	int r = -1;
	if (read_line(fd, &b) == 0 && b.data && strstr(b.data, "\"QMP\"") &&
	    i2k_write_all(fd, caps, sizeof(caps) - 1, NULL) == 0 && qmp_answer(fd, &b) == 0 &&
	    i2k_write_all(fd, down, sizeof(down) - 1, NULL) == 0 && qmp_answer(fd, &b) == 0)
		r = 0;
	i2k_buf_free(&b);
	return r;
}

static int open_out(const char *path, struct i2k_error **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		i2k_error_errno(err, errno, I2K_ERR_IO, "%s", path);
	return fd;
}

/* Copies a console chunk to every sink; a sink that fails is dropped
 * (its fd set to -1) so that a closed stdout does not stop the VM. */
static void console_tee(int *fds, size_t n, const char *buf, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		if (i2k_write_all(fds[i], buf, len, NULL) < 0)
			fds[i] = -1;
	}
}

/* The kernel's last panic line. A panicked guest never powers off (and
 * with -no-reboot a panic=N reboot would look like a clean exit 0), so the
 * console is watched for it. */
#define PANIC_END "---[ end Kernel panic"

/* A string looked for in the console stream across chunk boundaries (the
 * serial console arrives a few bytes at a time): tail keeps the last bytes
 * of the previous chunks. Needles of at most 31 bytes. */
struct stream_match {
	const char *needle;
	char tail[64];
	size_t tail_len;
};

static bool stream_seen(struct stream_match *m, const char *buf, size_t len)
{
	const size_t keep = strlen(m->needle);
	size_t head = len < keep ? len : keep;
	memcpy(m->tail + m->tail_len, buf, head);
	if (memmem(m->tail, m->tail_len + head, m->needle, keep) ||
	    memmem(buf, len, m->needle, keep))
		return true;
	/* keep the last `keep` bytes of tail + buf */
	if (len >= keep) {
		memcpy(m->tail, buf + len - keep, keep);
		m->tail_len = keep;
	} else {
		size_t total = m->tail_len + len;
		size_t drop = total > keep ? total - keep : 0;
		memmove(m->tail, m->tail + drop, total - drop);
		m->tail_len = total - drop;
	}
	return false;
}

/* Firmware (SeaBIOS, OVMF with -nographic) writes terminal control
 * sequences and banners; a guest kernel or init writes text lines. A line
 * with 4 or more printable characters that is not a firmware banner counts
 * as the guest. Lines are gathered across reads in line (at most
 * sizeof(line->buf) bytes of each are looked at). */
struct con_line {
	char buf[160];
	size_t len;
};

static bool line_is_guest(const struct con_line *l)
{
	static const char *const firmware[] = {"SeaBIOS", "iPXE",      "Booting from",
					       "BdsDxe",  "Press ESC", "Machine UUID"};
	size_t printable = 0;
	bool esc = false;
	for (size_t j = 0; j < l->len; j++) {
		unsigned char c = (unsigned char)l->buf[j];
		if (c == 0x1b)
			esc = true;
		else if (esc && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			esc = false;
		else if (!esc && c > ' ' && c < 0x7f)
			printable++;
	}
	for (size_t f = 0; f < I2K_ARRAY_SIZE(firmware); f++)
		if (memmem(l->buf, l->len, firmware[f], strlen(firmware[f])))
			return false;
	return printable >= 4;
}

static bool kernel_output(struct con_line *l, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			if (line_is_guest(l))
				return true;
			l->len = 0;
		} else if (l->len < sizeof(l->buf)) {
			l->buf[l->len++] = buf[i];
		}
	}
	return false;
}

/* The child: its own process group, dies with i2kit, console on stdout
 * (out_w), stdin from in_r (-1: /dev/null). Detached: its own session,
 * outlives i2kit, stdout and stderr on out_w (the console log). */
static void __attribute__((noreturn)) exec_child(const char *exe, char **argv, int in_r, int out_w,
						 int err_w, pid_t parent, bool detached)
{
	if (detached) {
		setsid();
	} else {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
	}
	int in = in_r >= 0 ? in_r : open("/dev/null", O_RDONLY);
	if (in >= 0 && in != STDIN_FILENO) {
		dup2(in, STDIN_FILENO);
		close(in);
	}
	if (out_w != STDOUT_FILENO)
		dup2(out_w, STDOUT_FILENO);
	if (detached)
		dup2(out_w, STDERR_FILENO);
	if (out_w != STDOUT_FILENO && out_w != STDERR_FILENO)
		close(out_w);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, detached ? SIG_IGN : SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(exe, argv);
	int e = errno;
	ssize_t w = write(err_w, &e, sizeof(e));
	(void)w;
	_exit(127);
}

static unsigned env_grace(void)
{
	const char *s = getenv("I2KIT_RUN_GRACE");
	if (s && *s) {
		char *end;
		unsigned long v = strtoul(s, &end, 10);
		if (*end == '\0' && v > 0 && v <= 3600)
			return (unsigned)v;
	}
	return I2K_QEMU_DEFAULT_GRACE;
}

int i2k_qemu_choose_accel(enum i2k_qemu_accel want, enum i2k_qemu_accel *out, char *why,
			  size_t whylen, struct i2k_error **err)
{
	if (whylen)
		why[0] = '\0';
	if (want == I2K_QEMU_ACCEL_TCG) {
		*out = I2K_QEMU_ACCEL_TCG;
		return 0;
	}
	_cleanup_free_ char *dir = i2k_store_default_dir();
	_cleanup_free_ char *cache = i2k_xasprintf("%s/kvm-probe", dir);
	bool kvm = i2k_kvm_usable_cached(NULL, cache, I2K_QEMU_KVM_PROBE_MS, why, whylen, NULL);
	if (want == I2K_QEMU_ACCEL_KVM && !kvm)
		return i2k_error_set(err, I2K_ERR_UNSUPPORTED, "--accel kvm: kvm unusable: %s",
				     why);
	*out = kvm ? I2K_QEMU_ACCEL_KVM : I2K_QEMU_ACCEL_TCG;
	return 0;
}

/* A VM between prepare and the end of supervise. */
struct vm {
	struct i2k_qemu_image img;
	char *exe, *state, *qmp, *pidfile, *datafile;
	int log_fd, con_fd, out_r, in_w;
	struct i2k_qemu_disk disk;
	bool disk_created;
	char **argv;
	bool owns_state; /* pid file and socket are ours to remove */
	struct i2k_child child;
};

static void vm_clear(struct vm *vm)
{
	i2k_child_kill_reap(&vm->child); /* only on a failure before supervise reaped it */
	if (vm->owns_state) {
		unlink(vm->pidfile);
		unlink(vm->qmp);
		if (vm->img.raw_initrd) /* QEMU read it at start: 5 MB less left behind */
			unlink(vm->img.raw_initrd);
	}
	if (vm->log_fd >= 0)
		close(vm->log_fd);
	if (vm->con_fd >= 0)
		close(vm->con_fd);
	if (vm->out_r >= 0)
		close(vm->out_r);
	if (vm->in_w >= 0)
		close(vm->in_w);
	i2k_qemu_disk_clear(&vm->disk);
	free(vm->datafile);
	i2k_qemu_argv_free(vm->argv);
	i2k_qemu_image_clear(&vm->img);
	free(vm->exe);
	free(vm->state);
	free(vm->qmp);
	free(vm->pidfile);
}

/* OVMF's code and variable store (both read-only for QEMU) exist. */
static int ovmf_check(struct i2k_error **err)
{
	const char *code = i2k_qemu_ovmf_code(), *vars = i2k_qemu_ovmf_vars();
	if (!is_file(code))
		return i2k_error_set(err, I2K_ERR_NOTFOUND,
				     "UEFI firmware %s not found (install ovmf or set "
				     "$I2KIT_OVMF_CODE)",
				     code);
	if (!is_file(vars))
		return i2k_error_set(err, I2K_ERR_NOTFOUND,
				     "UEFI variable store %s not found (install ovmf or set "
				     "$I2KIT_OVMF_VARS)",
				     vars);
	return 0;
}

/* OVMF trimmed for `run qemu` when a copy can be made (provision/ovmf.h);
 * otherwise, or with $I2KIT_OVMF_AS_IS=1, the firmware file as it is. */
static void choose_ovmf(const struct i2k_qemu_opts *o, struct i2k_qemu_image *img)
{
	const char *code = i2k_qemu_ovmf_code();
	const char *as_is = getenv("I2KIT_OVMF_AS_IS");
	if (as_is && *as_is && strcmp(as_is, "0") != 0) {
		if (o->notice) {
			_cleanup_free_ char *msg =
			    i2k_xasprintf("firmware: OVMF %s as it is ($I2KIT_OVMF_AS_IS)", code);
			o->notice(msg, o->notice_ctx);
		}
		return;
	}
	_cleanup_free_ char *dir = i2k_store_default_dir();
	struct i2k_error *e = NULL;
	bool hit = false;
	int rc = i2k_ovmf_trimmed(code, dir, &img->ovmf_code, &hit, &e);
	if (o->notice) {
		_cleanup_free_ char *msg =
		    rc == 0 ? i2k_xasprintf("firmware: OVMF %s trimmed (no TPM probe, no network "
					    "stack, no shell): %s%s",
					    code, img->ovmf_code, hit ? " (cached)" : " (made now)")
			    : i2k_xasprintf("firmware: OVMF %s as it is (no trimmed copy: %s)",
					    code, e->msg);
		o->notice(msg, o->notice_ctx);
	}
	i2k_error_free(e);
}

/* A UEFI disk under TCG, on the trimmed OVMF: the run's own variable
 * store, STATE/ovmf-vars.fd, with a boot entry for the disk's loader whose
 * load options are the disk's command line and the TCG words
 * (provision/efivars.h says why). It starts from the store an earlier run
 * booted with, packed (efivars.h: i2k_efivars_compact), when the cache has
 * one; else from Debian's, and this run's is packed into the cache after
 * it (save_warm_efivars). Any reason not to — KVM, Debian's firmware as it
 * is (its first boot would write 9 KiB of iSCSI variables through the
 * emulated flash: 0.9 s), no UKI on the disk, a store laid out otherwise —
 * leaves the read-only store and the disk's own command line. */
static int choose_efivars(const struct i2k_qemu_opts *o, struct i2k_qemu_image *img,
			  const char *state, struct i2k_error **err)
{
	bool tcg = o->accel == I2K_QEMU_ACCEL_TCG, append = o->cmdline_append != NULL;
	/* the words: under TCG with the trimmed copy (a fresh store costs
	 * the untrimmed one 0.9 s, ovmf.h); --cmdline-append: always */
	if (!img->disk || img->cdrom || (!append && (!tcg || img->ovmf_code == NULL)))
		return 0;
	if (append && !i2k_ascii_printable(o->cmdline_append, strlen(o->cmdline_append)))
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "--cmdline-append: a UEFI disk's boot entry takes printable "
				     "ASCII only");
	const char *what = tcg && append ? "the TCG words and --cmdline-append"
			   : tcg	 ? "the TCG words"
					 : "--cmdline-append";
	struct i2k_esp esp;
	_cleanup_free_ char *cmdline = NULL, *words = tcg_append(o);
	_cleanup_free_ char *path = i2k_xasprintf("%s/ovmf-vars.fd", state);
	/* the packed store belongs to the trimmed copy (none with OVMF as it is) */
	_cleanup_free_ char *warm =
	    img->ovmf_code ? i2k_efivars_warm_path(img->ovmf_code, i2k_qemu_ovmf_vars()) : NULL;
	bool from_warm = warm && is_file(warm);
	struct i2k_error *e = NULL;
	int rc = i2k_esp_uki_cmdline(img->disk, &esp, &cmdline, &e);
	if (rc == 0) {
		_cleanup_free_ char *line =
		    i2k_xasprintf("%s%s%s", cmdline, *cmdline ? " " : "", words ? words : "");
		size_t optlen = 0;
		_cleanup_free_ uint8_t *opt =
		    i2k_efivars_load_option(&esp, I2K_ESP_LOADER, "i2kit", line, &optlen);
		rc = from_warm
			 ? i2k_efivars_write(warm, path, I2K_EFIVARS_BOOT_NUM, opt, optlen, &e)
			 : -1;
		if (rc < 0) { /* no packed store, or a damaged one */
			from_warm = false;
			i2k_error_free(e);
			e = NULL;
			rc = i2k_efivars_write(i2k_qemu_ovmf_vars(), path, I2K_EFIVARS_BOOT_NUM,
					       opt, optlen, &e);
		}
	}
	if (o->notice) {
		_cleanup_free_ char *msg =
		    rc == 0 ? i2k_xasprintf("firmware: boot entry Boot%04X for %s with %s: %s "
					    "(from %s)",
					    I2K_EFIVARS_BOOT_NUM, I2K_ESP_LOADER, what, path,
					    from_warm ? warm : i2k_qemu_ovmf_vars())
			    : i2k_xasprintf("firmware: no boot entry with %s (%s): the disk boots "
					    "with its own command line",
					    what, e->msg);
		o->notice(msg, o->notice_ctx);
	}
	if (rc < 0 && append) {
		i2k_error_set(err, I2K_ERR_USAGE,
			      "--cmdline-append: the command line of %s cannot be changed (%s); "
			      "kernel+initrd builds and UEFI disks whose loader is a unified "
			      "kernel image take it",
			      img->disk, e->msg);
		i2k_error_free(e);
		return -1;
	}
	i2k_error_free(e);
	if (rc == 0) {
		img->ovmf_vars = I2K_STEAL(path);
		if (!from_warm)
			img->ovmf_vars_warm = I2K_STEAL(warm);
	}
	return 0;
}

/* After the run: its store packed into the cache for the next runs
 * (choose_efivars), when there is none yet and the firmware booted. */
static void save_warm_efivars(const struct i2k_qemu_opts *o, const struct i2k_qemu_image *img)
{
	if (img->ovmf_vars == NULL || img->ovmf_vars_warm == NULL || is_file(img->ovmf_vars_warm))
		return;
	struct i2k_error *e = NULL;
	int rc =
	    i2k_efivars_save_warm(img->ovmf_vars, i2k_qemu_ovmf_vars(), img->ovmf_vars_warm, &e);
	if (o->notice) {
		_cleanup_free_ char *msg =
		    rc > 0    ? i2k_xasprintf("firmware: variable store kept for the next runs: %s",
					      img->ovmf_vars_warm)
		    : rc == 0 ? i2k_xasprintf("firmware: variable store not kept (the firmware "
					      "did not start the disk's loader)")
			      : i2k_xasprintf("firmware: variable store not kept: %s", e->msg);
		o->notice(msg, o->notice_ctx);
	}
	i2k_error_free(e);
}

/* The kernel's PVH ELF as -kernel when it has one; otherwise (any reason
 * at all) the bzImage boots as before. */
static void choose_pvh(const struct i2k_qemu_opts *o, struct i2k_qemu_image *img)
{
	_cleanup_free_ char *dir = i2k_store_default_dir();
	struct i2k_error *e = NULL;
	bool hit = false;
	int rc = i2k_pvh_kernel(img->kernel, dir, &img->pvh_kernel, &hit, &e);
	if (o->notice) {
		_cleanup_free_ char *msg =
		    rc == 0 ? i2k_xasprintf("kernel: PVH entry of %s%s", img->pvh_kernel,
					    hit ? " (cached)" : " (extracted now)")
			    : i2k_xasprintf("kernel: bzImage (no PVH boot: %s)", e->msg);
		o->notice(msg, o->notice_ctx);
	}
	i2k_error_free(e);
}

/* Under TCG with room for it, the initrd decompressed into the state dir
 * (rawinitrd.h); otherwise, or when it cannot be, the file as it is. */
static void choose_initrd(const struct i2k_qemu_opts *o, struct vm *vm)
{
	unsigned mem = o->mem_mb ? o->mem_mb : I2K_QEMU_DEFAULT_MEM;
	if (vm->img.initrd == NULL || o->accel != I2K_QEMU_ACCEL_TCG || mem < I2K_RAWINITRD_MIN_MEM)
		return;
	_cleanup_free_ char *out = i2k_xasprintf("%s/initrd.cpio", vm->state);
	struct i2k_rawinitrd_info info;
	struct i2k_error *e = NULL;
	int rc = i2k_rawinitrd_write(vm->img.initrd, out,
				     ((uint64_t)mem << 20) / I2K_RAWINITRD_MEM_SHARE, &info, &e);
	if (o->notice) {
		_cleanup_free_ char *msg =
		    rc == 0 ? i2k_xasprintf("initrd: decompressed for the guest (%s, %llu -> %llu "
					    "bytes): %s",
					    info.codec, (unsigned long long)info.in_bytes,
					    (unsigned long long)info.out_bytes, out)
			    : i2k_xasprintf("initrd: as it is (%s)", e->msg);
		o->notice(msg, o->notice_ctx);
	}
	i2k_error_free(e);
	if (rc == 0)
		vm->img.raw_initrd = I2K_STEAL(out);
	else
		unlink(out); /* a previous run's */
}

/* Everything before the fork: image, QEMU binary, state dir (not already in
 * use), console logs, firmware, argument vector. */
static int vm_prepare(const struct i2k_qemu_opts *o, struct vm *vm, struct i2k_error **err)
{
	if (i2k_qemu_image_resolve(o->image, &vm->img, err) < 0)
		return -1;
	/* OVMF loads a bzImage (EFI stub) only: no PVH with --uefi */
	bool uefi = vm->img.efi || o->uefi;
	if (vm->img.kernel && !o->no_pvh && !uefi)
		choose_pvh(o, &vm->img);
	else if (vm->img.kernel && o->notice)
		o->notice(uefi ? "kernel: bzImage (UEFI firmware)" : "kernel: bzImage (--no-pvh)",
			  o->notice_ctx);
	const char *qname = o->qemu ? o->qemu : getenv("I2KIT_QEMU");
	if (qname == NULL || *qname == '\0')
		qname = I2K_QEMU_DEFAULT_BINARY;
	vm->exe = find_exe(qname);
	if (vm->exe == NULL)
		return i2k_error_set(err, I2K_ERR_NOTFOUND,
				     "%s: not found (install the qemu-system-x86 package, or set "
				     "$I2KIT_QEMU to a QEMU binary)",
				     qname);
	if (vm->img.kernel && !uefi) {
		vm->img.bios = i2k_qemu_qboot(vm->exe);
		if (o->notice) {
			_cleanup_free_ char *msg =
			    vm->img.bios ? i2k_xasprintf("firmware: qboot (%s)", vm->img.bios)
					 : i2k_xstrdup("firmware: SeaBIOS (no qboot.rom)");
			o->notice(msg, o->notice_ctx);
		}
	}
	if (o->data && !is_file(o->data))
		return i2k_error_set(err, I2K_ERR_NOTFOUND, "--data-file %s: no such file",
				     o->data);
	if (i2k_qemu_check_networking(o->networking, o->npublish, err) < 0)
		return -1;
	if (o->extra_disk && i2k_qemu_disk_parse(o->extra_disk, &vm->disk, err) < 0)
		return -1;
	if (o->state_dir)
		vm->state = i2k_xstrdup(o->state_dir);
	else if (i2k_qemu_default_state_dir(vm->img.name, &vm->state, err) < 0)
		return -1;
	if (i2k_mkdir_p(vm->state, 0700, err) < 0)
		return -1;
	vm->qmp = i2k_xasprintf("%s/qmp.sock", vm->state);
	if (strlen(vm->qmp) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return i2k_error_set(
		    err, I2K_ERR_CONFIG,
		    "%s: too long for a unix socket path (use a shorter --state DIR)", vm->qmp);
	vm->pidfile = i2k_xasprintf("%s/pid", vm->state);
	pid_t other = running_pid(vm->pidfile, vm->qmp);
	if (other > 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: already running (pid %d)", vm->state,
				     (int)other);
	vm->owns_state = true;
	unlink(vm->qmp);
	_cleanup_free_ char *logpath = i2k_xasprintf("%s/console.log", vm->state);
	if ((vm->log_fd = open_out(logpath, err)) < 0)
		return -1;
	if (o->console_file && (vm->con_fd = open_out(o->console_file, err)) < 0)
		return -1;
	struct i2k_qemu_opts eff = *o;
	if (o->data_string) {
		vm->datafile = i2k_xasprintf("%s/data", vm->state);
		if (i2k_write_file_atomic(vm->datafile, o->data_string, strlen(o->data_string),
					  0600, err) < 0)
			return -1;
		eff.data = vm->datafile;
	}
	if (o->extra_disk) {
		if (i2k_qemu_disk_ensure(&vm->disk, vm->state, &vm->disk_created, err) < 0)
			return -1;
		eff.extra_disk = vm->disk.file;
		eff.extra_disk_fmt = vm->disk.format;
	}
	eff.accel = o->accel == I2K_QEMU_ACCEL_KVM ? I2K_QEMU_ACCEL_KVM : I2K_QEMU_ACCEL_TCG;
	choose_initrd(&eff, vm);
	if (vm->img.efi || o->uefi) {
		if (ovmf_check(err) < 0)
			return -1;
		choose_ovmf(o, &vm->img);
		if (choose_efivars(&eff, &vm->img, vm->state, err) < 0)
			return -1;
	}
	return i2k_qemu_argv(&eff, &vm->img, vm->exe, vm->qmp, &vm->argv, err);
}

/* Forks and execs QEMU (its console on a pipe, vm->out_r) and writes the
 * pid file. An exec failure is reported through a second pipe. */
static int vm_spawn(struct vm *vm, const struct i2k_qemu_opts *o, struct i2k_error **err)
{
	int p[2], e[2];
	_cleanup_close_ int in_r = -1;
	if (o->interactive && !o->detached) {
		int q[2];
		if (pipe2(q, O_CLOEXEC) < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "pipe");
		in_r = q[0];
		vm->in_w = q[1];
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "pipe");
	if (pipe2(e, O_CLOEXEC) < 0) {
		close(p[0]);
		close(p[1]);
		return i2k_error_errno(err, errno, I2K_ERR_IO, "pipe");
	}
	vm->out_r = p[0];
	_cleanup_close_ int out_w = p[1], err_r = e[0], err_w = e[1];
	pid_t self = getpid();
	fflush(NULL);
	vm->child.pid = fork();
	if (vm->child.pid < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "fork");
	if (vm->child.pid == 0)
		exec_child(vm->exe, vm->argv, in_r, o->detached ? vm->log_fd : out_w, err_w, self,
			   o->detached);
	close(I2K_TAKE_FD(out_w));
	close(I2K_TAKE_FD(err_w));
	int child_errno = 0;
	ssize_t got;
	do
		got = read(err_r, &child_errno, sizeof(child_errno));
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)sizeof(child_errno)) {
		i2k_child_kill_reap(&vm->child);
		return i2k_error_errno(err, child_errno, I2K_ERR_IO, "exec %s", vm->exe);
	}
	char pidbuf[32];
	int n = snprintf(pidbuf, sizeof(pidbuf), "%d\n", (int)vm->child.pid);
	if (i2k_write_file_atomic(vm->pidfile, pidbuf, (size_t)n, 0644, NULL) < 0)
		i2k_warn("%s: cannot write the pid file", vm->pidfile);
	return 0;
}

/* Copies the console until QEMU has ended and its pipe is drained; kills
 * QEMU on --timeout and on a kernel panic, powers the guest off over QMP
 * on i2k_interrupted (SIGKILL after the grace period). Reaps the child. */
static void vm_supervise(struct vm *vm, const struct i2k_qemu_opts *o, struct i2k_qemu_result *res)
{
	pid_t pid = vm->child.pid;
	int sinks[3] = {o->quiet ? -1 : STDOUT_FILENO, vm->log_fd, vm->con_fd};
	unsigned grace = o->grace_s ? o->grace_s : env_grace();
	int64_t deadline = o->timeout_s ? now_ms() + (int64_t)o->timeout_s * 1000 : 0;
	int64_t grace_deadline = 0, panic_kill = 0;
	bool exited = false, pipe_open = true;
	int wst = 0;
	char buf[65536];
	struct stream_match panic = {.needle = PANIC_END},
			    oom1 = {.needle = "deadlocked on memory"},
			    oom2 = {.needle = "Out of memory"};
	bool keys_open = vm->in_w >= 0;
	struct con_line line = {.len = 0};
	struct i2k_console_keys keys = {0};
	while (!exited || pipe_open) {
		if (keys_open && !exited) {
			struct pollfd kfd = {.fd = STDIN_FILENO, .events = POLLIN};
			if (poll(&kfd, 1, 0) > 0) {
				char in[4096], fwd[4096];
				ssize_t r = read(STDIN_FILENO, in, sizeof(in));
				size_t nf = 0;
				enum i2k_console_action act = I2K_CONSOLE_NONE;
				if (r > 0)
					act = i2k_console_filter(&keys, in, (size_t)r, fwd, &nf);
				else if (r == 0 || (errno != EINTR && errno != EAGAIN))
					keys_open = false;
				if (nf && i2k_write_all(vm->in_w, fwd, nf, NULL) < 0)
					keys_open = false;
				if (act == I2K_CONSOLE_QUIT) {
					res->quit_by_key = true;
					kill(pid, SIGKILL);
				} else if (act == I2K_CONSOLE_POWERDOWN) {
					i2k_interrupted = 1;
				} else if (act == I2K_CONSOLE_SHOW_HELP) {
					i2k_write_all(STDOUT_FILENO, I2K_CONSOLE_HELP,
						      sizeof(I2K_CONSOLE_HELP) - 1, NULL);
				}
			}
		}
		if (pipe_open) {
			struct pollfd pfd = {.fd = vm->out_r, .events = POLLIN};
			int n = poll(&pfd, 1, exited ? 0 : keys_open ? 20 : 100);
			if (n > 0) {
				ssize_t r = read(vm->out_r, buf, sizeof(buf));
				if (r > 0) {
					res->booted = true;
					if (!res->kernel_seen)
						res->kernel_seen =
						    kernel_output(&line, buf, (size_t)r);
					console_tee(sinks, 3, buf, (size_t)r);
					/* the kernel's out-of-memory ends */
					if (!res->oom_seen && (stream_seen(&oom1, buf, (size_t)r) |
							       stream_seen(&oom2, buf, (size_t)r)))
						res->oom_seen = true;
					if (!res->panicked && stream_seen(&panic, buf, (size_t)r)) {
						/* let the rest of the panic
						 * message through first */
						res->panicked = true;
						panic_kill = now_ms() + 500;
					}
				} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
					pipe_open = false;
				}
			} else if (n == 0 && exited) {
				pipe_open = false; /* QEMU is gone; nothing more is coming */
			}
		} else {
			poll(NULL, 0, 100);
		}
		if (exited)
			continue;
		if (waitpid(pid, &wst, WNOHANG) == pid) {
			exited = true;
			i2k_child_forget(&vm->child);
			continue;
		}
		int64_t now = now_ms();
		if (panic_kill && now >= panic_kill) {
			kill(pid, SIGKILL);
			panic_kill = 0;
		}
		if (deadline && now >= deadline && !res->timed_out) {
			kill(pid, SIGKILL);
			res->timed_out = true;
		}
		if (i2k_interrupted && !res->interrupted) {
			res->interrupted = true;
			grace_deadline = now + (int64_t)grace * 1000;
			if (qmp_powerdown(vm->qmp) < 0) {
				res->powerdown_failed = true;
				res->killed = true;
				kill(pid, SIGTERM);
			}
		}
		if (grace_deadline && now >= grace_deadline) {
			kill(pid, SIGKILL);
			res->killed = true;
			grace_deadline = 0;
		}
	}
	if (!res->kernel_seen)
		res->kernel_seen = line_is_guest(&line);
	res->wstatus = wst;
	res->guest_status = i2k_qemu_guest_status(wst, res->booted);
}

/* How QEMU's end reads as an error, if it is one. */
static int vm_verdict(const struct i2k_qemu_result *res, const struct i2k_qemu_opts *o,
		      struct i2k_error **err)
{
	int wst = res->wstatus;
	unsigned mem = o->mem_mb ? o->mem_mb : I2K_QEMU_DEFAULT_MEM;
	if (res->panicked && res->oom_seen)
		return i2k_error_set(
		    err, I2K_ERR_IO,
		    "the guest kernel panicked out of memory (with %u MB of memory%s)", mem,
		    mem < 256 ? ": too little memory? try --mem 256 or more" : "");
	if (res->panicked)
		return i2k_error_set(err, I2K_ERR_IO,
				     "the guest kernel panicked (see the console)");
	if (res->timed_out || res->killed || res->quit_by_key || res->interrupted)
		return 0;
	/* A reset (QEMU exits 0 with -no-reboot) before any guest line: the
	 * kernel never ran. An isa-debug-exit write (QEMU exits with an odd
	 * status) comes from a running guest, even a quiet one whose last line
	 * was still in the UART when it wrote the port. */
	if (res->guest_status == 0 && !res->kernel_seen && WIFEXITED(wst) &&
	    WEXITSTATUS(wst) == 0) {
		return i2k_error_set(
		    err, I2K_ERR_IO,
		    "the guest reset before its kernel printed anything (with %u MB of memory%s)",
		    mem,
		    mem < 256 ? ": too little memory? try --mem 256 or more"
			      : "; a disk that needs UEFI? try --uefi");
	}
	if (res->guest_status >= 0)
		return 0;
	if (WIFEXITED(wst))
		return i2k_error_set(err, I2K_ERR_IO, "QEMU exited with status %d%s",
				     WEXITSTATUS(wst),
				     res->booted ? "" : " before the guest started");
	return i2k_error_set(err, I2K_ERR_IO, "QEMU was killed by signal %d", WTERMSIG(wst));
}

/* --detached: QEMU has started when it is still there a moment later;
 * the pid file and QMP socket stay for `kill`/QMP clients. */
static int vm_detach(struct vm *vm, struct i2k_qemu_result *res, struct i2k_error **err)
{
	pid_t pid = vm->child.pid;
	int wst = 0;
	for (int i = 0; i < 10; i++) {
		poll(NULL, 0, 50);
		if (waitpid(pid, &wst, WNOHANG) == pid) {
			i2k_child_forget(&vm->child);
			return i2k_error_set(
			    err, I2K_ERR_IO, "QEMU exited at once (status %d); see %s/console.log",
			    WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst), vm->state);
		}
	}
	i2k_child_forget(&vm->child);
	vm->owns_state = false;
	res->detached_pid = (int)pid;
	return 0;
}

int i2k_qemu_run(const struct i2k_qemu_opts *o, struct i2k_qemu_result *res, struct i2k_error **err)
{
	memset(res, 0, sizeof(*res));
	res->guest_status = -1;
	struct vm vm = {
	    .log_fd = -1, .con_fd = -1, .out_r = -1, .in_w = -1, .child = I2K_CHILD_NONE};
	int rc = -1;
	if (vm_prepare(o, &vm, err) == 0) {
		snprintf(res->state_dir, sizeof(res->state_dir), "%s", vm.state);
		res->pvh = vm.img.pvh_kernel != NULL;
		if (vm.disk_created)
			snprintf(res->disk_created, sizeof(res->disk_created), "%s", vm.disk.file);
		if (o->detached) {
			if (vm_spawn(&vm, o, err) == 0)
				rc = vm_detach(&vm, res, err);
		} else {
			bool raw = o->interactive && i2k_console_begin(STDIN_FILENO) == 0;
			struct i2k_qemu_opts eff = *o;
			eff.interactive = raw;
			if (vm_spawn(&vm, &eff, err) == 0) {
				vm_supervise(&vm, o, res);
				save_warm_efivars(o, &vm.img);
				rc = vm_verdict(res, o, err) < 0 ? -1 : 0;
			}
			if (raw)
				i2k_console_end();
			else if (!o->quiet && isatty(STDOUT_FILENO))
				i2k_write_all(STDOUT_FILENO, "\033[?7h", 5, NULL);
		}
	}
	vm_clear(&vm);
	return rc;
}
