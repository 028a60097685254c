/* qemu.h — `i2kit run qemu`: boot a kernel+initrd build under QEMU.
 *
 * IMAGE is the path prefix of a kernel+initrd build (build/example/web →
 * web-kernel, web-initrd.img, web-cmdline) or the PREFIX-kernel file itself.
 * QEMU always gets:
 *   -nographic -vga none -no-reboot, -m MB -smp N, -accel kvm (-cpu host) or tcg
 *       (no display adapter: the console is the serial line; nothing
 *       initialises or probes one — OVMF under TCG reached the kernel
 *       ≈0.1–0.2 s sooner in paired runs)
 *   -kernel/-initrd/-append: -kernel is the bzImage's own vmlinux when it has
 *       a PVH entry (provision/pvh.h: extracted once into the cache dir's
 *       pvh/; QEMU then starts the kernel without its decompressor), else
 *       (or with no_pvh or --uefi) the bzImage; the command line is the build's cmdline
 *       + (TCG only) the I2K_QEMU_TCG_*CMDLINE words below + --cmdline-append
 *       + "console=ttyS0" (unless the last console= already is ttyS0…)
 *       + "i2kit.exitcode=isa-debug-exit"
 *   a disk image instead: -drive ...,if=none,id=disk0 + -device
 *       virtio-blk-pci,drive=disk0,bootindex=0 (ide-cd for an ISO): the
 *       firmware's boot order names that disk only; a UEFI disk under TCG
 *       gets the TCG words through a boot entry (i2k_qemu_ovmf_code below)
 *   -machine I2K_QEMU_MACHINE (I2K_QEMU_MACHINE_CDROM for an ISO), with
 *       i8042=off (no PS/2 keyboard: the console is the serial line)
 *   UEFI (OVMF): code and variable store as two read-only pflash drives;
 *       OVMF keeps its variables in RAM (none outlive the VM)
 *   -chardev stdio + -serial: the serial console on QEMU's stdout, which is a
 *       pipe that i2k_qemu_run reads and copies to stdout, STATE/console.log
 *       and --console-file
 *   -chardev socket + -mon mode=control: QMP at STATE/qmp.sock
 *   -device isa-debug-exit,iobase=0xf4,iosize=0x04
 *   -netdev user,id=net0[,hostfwd=tcp:127.0.0.1:HOST-:GUEST]... +
 *       -device virtio-net-pci,netdev=net0;  -device virtio-rng-pci
 *   -fw_cfg name=opt/i2kit/data,file=F with --data-file F, or STATE/data
 *       holding --data STRING (the guest init copies it to /run/config/data
 *       and expands a JSON object there, see initrd/init/metadata.h)
 *   --networking none: -nic none; tap:IF / bridge:BR: -netdev tap|bridge
 *   --disk SPEC: one more virtio disk, created first if asked
 *       (provision/qemu_disk.h)
 * Interactive (o->interactive, a terminal on stdin): QEMU's stdin is a pipe
 * fed with the keys typed, the terminal in raw mode (provision/console.h)
 * until QEMU has ended. Otherwise QEMU's stdin is /dev/null. After a run
 * whose console reached a terminal, ESC[?7h turns line wrapping back on.
 * --detached: QEMU in its own session, stdout and stderr on
 * STATE/console.log, left running (pid file and QMP socket stay).
 * QEMU runs in its own process group (a terminal's Ctrl-C reaches i2kit
 * only) and dies with i2kit (PR_SET_PDEATHSIG): no QEMU is left behind.
 *
 * Exit status: QEMU exits 0 on a plain guest poweroff (guest status 0); a
 * write of V to the isa-debug-exit port makes it exit (V << 1) | 1 (guest
 * status V). QEMU's own errors are exit 1 too: a 1 before the guest printed
 * anything on its console is taken as a QEMU failure.
 */
#ifndef I2K_PROVISION_QEMU_H
#define I2K_PROVISION_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

enum i2k_qemu_accel { I2K_QEMU_ACCEL_AUTO, I2K_QEMU_ACCEL_KVM, I2K_QEMU_ACCEL_TCG };

/* --publish HOST:GUEST[/tcp|udp] */
struct i2k_qemu_publish {
	uint16_t host, guest;
	bool udp;
};

/* The machine: q35 (PCIe). Its ACPI tables route PCI interrupts through
 * fixed GSI links, where the older i440fx "pc" machine evaluates a _PRT
 * built by an AML loop of 128 rounds for every PCI device the guest
 * enables: under TCG about 0.1 s per device (net, rng, disk), measured
 * init → service answer 0.3–0.5 s shorter on q35 with the fixture kernel.
 * CD-ROMs stay on "pc": q35 attaches ide-cd to its AHCI controller, and
 * kernels without AHCI (Debian's cloud kernel has only ata_piix) would not
 * see their own root. */
#define I2K_QEMU_MACHINE "q35,i8042=off"
#define I2K_QEMU_MACHINE_CDROM "pc,i8042=off"
#define I2K_QEMU_DEFAULT_MEM 1024u /* MB */
#define I2K_QEMU_DEFAULT_GRACE 20u /* s between system_powerdown and SIGKILL */
#define I2K_QEMU_DEFAULT_BINARY "qemu-system-x86_64"
#define I2K_QEMU_QBOOT_DEFAULT "/usr/share/qemu/qboot.rom" /* i2k_qemu_qboot */
/* Added to a kernel+initrd build's command line under TCG (never to
 * NAME-cmdline), each measured on the fixture kernel (Debian 6.1 cloud):
 *   I2K_QEMU_TCG_CMDLINE, every TCG boot:
 *     cryptomgr.notests — no self-tests of the built-in crypto algorithms
 *       at boot (≈0.2 s under TCG; FIPS mode ignores it and tests anyway);
 *     initcall_blacklist=crypto_kdf108_init — the one self-test notests
 *       does not cover, the SP800-108 KDF's (≈0.12 s); the KDF itself
 *       stays available;
 *     no_timer_check — the kernel does not wait ≈20 ms for timer ticks to
 *       prove that the emulated IO-APIC routes the timer (QEMU's does;
 *       KVM guests skip the same test on their own).
 *   I2K_QEMU_TCG_NOTRACEFS, every TCG boot without tracefs (opts):
 *     initcall_blacklist=tracer_init_tracefs — tracefs is not populated:
 *     no files for the kernel's ~2,000 trace events, whose inodes and
 *     dentries (≈9 MB of slab) made the smallest --mem that serves the web
 *     example 78 MB instead of ≈72, and took ≈0.1 s. The guest keeps
 *     /sys/kernel/tracing's mount point but has no ftrace or trace events
 *     (perf, bpftrace); --tracefs keeps them.
 *     initcall_blacklist=ftrace_check_for_weak_functions — no kallsyms
 *     lookup of each of the kernel's ~38,000 ftrace call sites (≈40 ms in a
 *     worker that takes the one vCPU). The check only keeps sites of
 *     overridden weak functions out of tracefs's list of traceable
 *     functions, and without tracefs there is no list.
 *   I2K_QEMU_TCG_NOKMEM, every TCG boot without cgroup_kmem (opts):
 *     cgroup.memory=nokmem — kernel memory (slab, stacks, per-CPU data) is
 *     not charged to memory cgroups. With it on, the kernel keeps one
 *     pointer per 4 bytes of every per-CPU chunk for that accounting: a
 *     4 MB array from the first boot seconds on, in a guest whose kernel
 *     leaves it ~20 MB at 64 MB. The smallest --mem that serves the web
 *     example went from 68 to 62–63 MB. A container's memory limit then
 *     counts its processes' pages and page cache, not the kernel objects
 *     they cause (as cgroup v1 without kmem limits); --cgroup-kmem keeps
 *     the accounting.
 *   (Not pci=noacpi or acpi=noirq, though ACPI's interrupt links cost
 *   ≈0.1 s per PCI device under TCG: without them this kernel has no MSI
 *   domain for PCI and prints a WARNING with a stack trace at every boot.)
 *   I2K_QEMU_TCG_1CPU_CMDLINE, with one vCPU:
 *     nolapic_timer — no LAPIC timer, so no 100 ms calibration of it (the
 *       HPET is the tick device, as good as the emulated LAPIC timer for
 *       one CPU);
 *     noreplace-smp — the kernel keeps the LOCK prefixes of its atomic
 *       instructions instead of rewriting each of them (≈9,000) for a
 *       uniprocessor through text_poke: under TCG each such write to code
 *       that has run throws away its translated blocks, ≈0.12 s of wall
 *       time for 11 ms of guest instructions. A single TCG vCPU runs
 *       LOCK-prefixed instructions as plain ones, so nothing is lost. */
#define I2K_QEMU_TCG_CMDLINE                                                                       \
	"cryptomgr.notests initcall_blacklist=crypto_kdf108_init no_timer_check"
#define I2K_QEMU_TCG_NOTRACEFS                                                                     \
	"initcall_blacklist=tracer_init_tracefs "                                                  \
	"initcall_blacklist=ftrace_check_for_weak_functions"
#define I2K_QEMU_TCG_NOKMEM "cgroup.memory=nokmem"
#define I2K_QEMU_TCG_1CPU_CMDLINE "nolapic_timer noreplace-smp"

struct i2k_qemu_opts {
	const char *image; /* required */
	unsigned mem_mb;   /* 0 → I2K_QEMU_DEFAULT_MEM */
	unsigned cpus;	   /* 0 → 1 */
	const struct i2k_qemu_publish *publish;
	size_t npublish;
	enum i2k_qemu_accel accel;  /* i2k_qemu_run needs KVM or TCG (AUTO → TCG) */
	const char *console_file;   /* NULL → none */
	unsigned timeout_s;	    /* 0 → no timeout */
	const char *data;	    /* NULL → no fw_cfg data */
	const char *state_dir;	    /* NULL → i2k_qemu_default_state_dir(name) */
	const char *cmdline_append; /* NULL → nothing */
	const char *qemu;	    /* NULL → $I2KIT_QEMU, else I2K_QEMU_DEFAULT_BINARY */
	unsigned grace_s;	    /* 0 → $I2KIT_RUN_GRACE, else I2K_QEMU_DEFAULT_GRACE */
	bool quiet;		    /* do not copy the console to stdout */
	bool uefi;		    /* boot with OVMF even if the image name does not say -efi */
	const char *extra_disk;	    /* --disk SPEC: one more virtio disk (provision/qemu_disk.h) */
	const char *data_string; /* --data STRING: written to STATE/data, passed as --data-file */
	const char *networking;	 /* NULL/"user", "none", "tap:IF", "bridge:BR" */
	bool detached;		 /* start QEMU in the background and return (no console) */
	bool interactive;	 /* on a terminal: stdin goes to the guest's console (raw mode;
				    Ctrl-A escapes, provision/console.h) */
	const char *extra_disk_fmt; /* set by i2k_qemu_run: extra_disk is then a file name */
	bool no_pvh;		    /* always boot the bzImage itself (no PVH ELF) */
	bool tracefs;	  /* under TCG, keep the guest's tracefs (no I2K_QEMU_TCG_NOTRACEFS) */
	bool cgroup_kmem; /* under TCG, keep kernel memory accounting (no I2K_QEMU_TCG_NOKMEM) */
	/* Called (when set) with one line on how a kernel+initrd build's kernel
	 * boots: "kernel: PVH entry of PATH (cached)" / "(extracted now)",
	 * "kernel: bzImage (no PVH boot: WHY)", "kernel: bzImage (--no-pvh)" or
	 * "kernel: bzImage (UEFI firmware)". */
	void (*notice)(const char *msg, void *ctx);
	void *notice_ctx;
};

/* Parses "HOST:GUEST[/tcp|udp]" (ports 1..65535). I2K_ERR_USAGE
 * "--publish \"SPEC\": expected HOST:GUEST[/tcp|udp]" or
 * "--publish \"SPEC\": port N out of range 1..65535". */
int i2k_qemu_parse_publish(const char *spec, struct i2k_qemu_publish *out, struct i2k_error **err);

/* "user,id=net0[,hostfwd=tcp:127.0.0.1:8080-:80]..." (caller frees). */
char *i2k_qemu_netdev_arg(const struct i2k_qemu_publish *p, size_t n);
/* Checks --networking: NULL, "user", "none", "tap:IF", "bridge:BR"
 * (I2K_ERR_USAGE otherwise; --publish needs user networking). */
int i2k_qemu_check_networking(const char *net, size_t npublish, struct i2k_error **err);

/* The kernel command line passed to QEMU (caller frees): base (trailing
 * whitespace dropped), then append, then "console=ttyS0" unless the last
 * console= of base+append names ttyS0, then "i2kit.exitcode=isa-debug-exit";
 * single spaces between the parts. */
char *i2k_qemu_kernel_cmdline(const char *base, const char *append);

/* What to boot: a kernel+initrd build (kernel set), or a disk image (disk
 * set). A kernel+squashfs build is a kernel+initrd build with
 * root_disk = PREFIX-squashfs.img attached as the first virtio disk. */
struct i2k_qemu_image {
	char *kernel, *initrd;
	char *cmdline;	      /* contents of PREFIX-cmdline ("" when the file is absent) */
	char *name;	      /* base name of the prefix ("web") */
	char *root_disk;      /* kernel+squashfs: PREFIX-squashfs.img, else NULL */
	char *disk;	      /* a disk image file, else NULL */
	const char *disk_fmt; /* "raw", "qcow2" or "vpc" */
	bool cdrom;	      /* .iso: attached as a CD-ROM */
	bool efi;	      /* boot with OVMF (-efi in the name, .raw, or --uefi) */
	char *pvh_kernel;     /* set by i2k_qemu_run: the PVH ELF passed as -kernel, else NULL */
	char *raw_initrd;     /* set by i2k_qemu_run: the initrd decompressed into the state
			       * dir (rawinitrd.h), passed as -initrd, else NULL */
	char *bios;	      /* set by i2k_qemu_run: -bios (qboot) for a kernel, else NULL */
	char *ovmf_code;      /* set by i2k_qemu_run: OVMF trimmed (ovmf.h), else NULL */
	char *ovmf_vars;      /* set by i2k_qemu_run: the run's writable variable store
			       * with a boot entry (efivars.h), else NULL */
	char *ovmf_vars_warm; /* set by i2k_qemu_run: where to keep the run's store, packed,
			       * for the next runs; NULL when there is one */
};
/* IMAGE is a file written by a disk format — which one, and so the
 * firmware (OVMF for the UEFI formats), the QEMU block format and CD-ROM,
 * comes from the format table (formats/format.h: i2k_format_from_path); a
 * disk file under another name boots as a raw BIOS disk — or a
 * kernel+initrd build's PREFIX (or PREFIX-kernel). For a build:
 * I2K_ERR_NOTFOUND "IMAGE: no kernel (PREFIX-kernel does not exist)" /
 * "IMAGE: no initrd (PREFIX-initrd.img does not exist)"; PREFIX-cmdline
 * over 64 KiB → I2K_ERR_INTEGRITY. */
int i2k_qemu_image_resolve(const char *image, struct i2k_qemu_image *out, struct i2k_error **err);
/* The firmware of a kernel+initrd boot without UEFI: QEMU's qboot, a
 * minimal BIOS that loads the kernel from fw_cfg (bzImage or PVH ELF) and
 * jumps to it, in place of SeaBIOS, which initialises devices and runs
 * option ROMs for a kernel that needs none of it: the kernel's first line
 * came 0.08-0.18 s sooner under TCG, the web example's first answer
 * 0.17 s sooner (median of 4 pairs). The kernel assigns the PCI BARs
 * itself (qboot leaves them), as it does on hardware without a BIOS that
 * does. Disk images keep SeaBIOS or OVMF: qboot has no disk services.
 * $I2KIT_QBOOT names the file ("none": SeaBIOS); else qboot.rom in the
 * QEMU installation of exe (PREFIX/share/qemu for PREFIX/bin/qemu-...),
 * else Debian's /usr/share/qemu/qboot.rom; NULL when there is none, or
 * for "none" (QEMU then loads SeaBIOS, its default). Caller frees. */
char *i2k_qemu_qboot(const char *exe);
/* OVMF firmware: $I2KIT_OVMF_CODE / $I2KIT_OVMF_VARS, else Debian's ovmf
 * package (OVMF_CODE_4M.fd, OVMF_VARS_4M.fd). A UEFI boot runs a trimmed
 * copy of the code file (provision/ovmf.h says why: 2.25 s of waiting for
 * a TPM that `run qemu` never attaches; drivers for devices it never
 * attaches), made once into CACHE/ovmf/; $I2KIT_OVMF_AS_IS=1 runs the file
 * as it is, and so does a firmware the copy cannot be made of (`-v` says
 * why). The variable store is read-only (OVMF keeps its variables in RAM),
 * except for a UEFI disk under TCG on the trimmed copy: STATE/ovmf-vars.fd,
 * writable, with a boot entry carrying the TCG words (provision/efivars.h),
 * from the packed store of an earlier run when the cache has one. */
const char *i2k_qemu_ovmf_code(void);
/* The kernel+initrd part of i2k_qemu_image_resolve: PREFIX-kernel,
 * PREFIX-initrd.img, PREFIX-cmdline, PREFIX-squashfs.img. */
int i2k_qemu_kernel_resolve(const char *image, const char *prefix, struct i2k_qemu_image *out,
			    struct i2k_error **err);
const char *i2k_qemu_ovmf_vars(void);
void i2k_qemu_image_clear(struct i2k_qemu_image *img);

/* $XDG_STATE_HOME/i2kit/run/NAME, else $HOME/.local/state/i2kit/run/NAME
 * (caller frees). I2K_ERR_CONFIG when neither variable is set. */
int i2k_qemu_default_state_dir(const char *name, char **out, struct i2k_error **err);

/* The full QEMU argument vector (NULL-terminated; free with
 * i2k_qemu_argv_free). opts->accel must be KVM or TCG. I2K_ERR_USAGE for a
 * path that QEMU's option syntax cannot carry. */
int i2k_qemu_argv(const struct i2k_qemu_opts *o, const struct i2k_qemu_image *img, const char *qemu,
		  const char *qmp_path, char ***out, struct i2k_error **err);
void i2k_qemu_argv_free(char **argv);

/* Guest status from QEMU's wait status: 0 for exit 0, V for exit (V<<1)|1
 * when the guest had started (console output seen), -1 for anything else
 * (a QEMU failure, or killed by a signal). */
int i2k_qemu_guest_status(int wstatus, bool booted);

struct i2k_qemu_result {
	int guest_status;      /* i2k_qemu_guest_status(); meaningful when !timed_out && !killed */
	int wstatus;	       /* QEMU's raw wait status */
	bool booted;	       /* the guest printed something on its console */
	bool timed_out;	       /* --timeout expired: QEMU was killed */
	bool interrupted;      /* i2k_interrupted was set: system_powerdown was sent */
	bool killed;	       /* QEMU did not exit within the grace period: SIGKILL */
	bool powerdown_failed; /* QMP could not deliver system_powerdown (QEMU got SIGTERM) */
	bool panicked;	       /* the console showed a kernel panic: QEMU was killed */
	bool oom_seen;	       /* the console showed the kernel running out of memory */
	bool quit_by_key;      /* Ctrl-A x on the interactive console: QEMU was killed */
	bool kernel_seen;      /* the console showed more than firmware output */
	bool pvh;	       /* the kernel was booted through its PVH entry */
	int detached_pid;      /* --detached: QEMU's pid (it keeps running) */
	char state_dir[4096];  /* the state dir used ("" if none) */
	char disk_created[4096]; /* --disk size=: the file created by this run, else "" */
};

#define I2K_QEMU_KVM_PROBE_MS 5000

/* The accelerator to use: TCG for TCG; for KVM and AUTO, KVM when a test
 * guest really runs on /dev/kvm (provision/kvm.h; the answer cached in
 * i2k_store_default_dir()/kvm-probe, keyed by kernel, device and CPU, so
 * only the first run on a machine pays for the probe), else TCG with the reason
 * in why — or, for KVM, I2K_ERR_UNSUPPORTED "--accel kvm: kvm unusable:
 * WHY". */
int i2k_qemu_choose_accel(enum i2k_qemu_accel want, enum i2k_qemu_accel *out, char *why,
			  size_t whylen, struct i2k_error **err);

/* Boots the image and waits for QEMU to end, copying the console. Honours
 * i2k_interrupted (set by the CLI's signal handler): sends system_powerdown
 * over QMP, waits grace_s, then SIGKILLs QEMU. Writes STATE/pid while QEMU
 * runs (removed afterwards) and STATE/console.log. Returns 0 once QEMU has
 * ended (see *res for how); < 0 when QEMU could not be started or failed on
 * its own (I2K_ERR_NOTFOUND for a missing qemu binary, kernel, initrd or
 * --data file; I2K_ERR_CONFIG "STATE: already running (pid N)";
 * I2K_ERR_IO "QEMU exited with status N before the guest started";
 * I2K_ERR_IO "the guest reset before its kernel printed anything (with M MB
 * of memory: too little memory? try --mem 256 or more)" (or "; a disk that
 * needs UEFI? try --uefi" from 256 MB) — QEMU ended cleanly but the console
 * showed nothing but firmware output (-no-reboot turns a reset into an
 * exit); --detached: I2K_ERR_IO "QEMU exited at once (status N); see
 * STATE/console.log";
 * I2K_ERR_IO "the guest kernel panicked (see the console)" — the console
 * is watched for the kernel's "---[ end Kernel panic" line, since a
 * panicked guest would otherwise hang until --timeout). */
int i2k_qemu_run(const struct i2k_qemu_opts *o, struct i2k_qemu_result *res,
		 struct i2k_error **err);

#endif
