/* kvm.c — KVM usability probe: run one `hlt` in a throw-away VM (kvm.h). */
#include "provision/kvm.h"
#include "builder/base/bytes.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#if defined(__x86_64__) || defined(__i386__)
#include <linux/kvm.h>

/* On working KVM the test guest (64 first touches of guest pages) takes
 * about a millisecond; where nested paging is missing every fault is a
 * trip through the outer hypervisor (about 5 ms each on the machines this
 * was written on, 300 ms in all) — and a Linux kernel then needs minutes
 * just to decompress itself. */
#define SLOW_MS 50

static const char *exit_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_UNKNOWN:
		return "UNKNOWN";
	case KVM_EXIT_EXCEPTION:
		return "EXCEPTION";
	case KVM_EXIT_IO:
		return "IO";
	case KVM_EXIT_MMIO:
		return "MMIO";
	case KVM_EXIT_SHUTDOWN:
		return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY:
		return "FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR:
		return "INTERNAL_ERROR";
	default:
		return "other";
	}
}

/* Guest memory: 2 MiB identity-mapped with one 2 MiB page.
 *   0x1000 PML4, 0x2000 PDPT, 0x3000 PD, 0x10000 code, 0x100000 data. */
#define MEM_SIZE 0x200000u
#define CODE_ADDR 0x10000u
#define DATA_ADDR 0x100000u
#define DATA_DWORDS 0x10000u /* 256 KiB (64 pages) written by the guest */

/* 64-bit code: fill DATA with a countdown, then hlt.
 *   mov edi, DATA_ADDR; mov ecx, DATA_DWORDS
 *   1: mov [rdi], ecx; add rdi, 4; dec ecx; jnz 1b
 *   hlt */
static const uint8_t guest_code[] = {
    0xbf, 0x00, 0x00, 0x10, 0x00, /* mov edi, 0x100000 */
    0xb9, 0x00, 0x00, 0x01, 0x00, /* mov ecx, 0x10000 */
    0x89, 0x0f,			  /* mov [rdi], ecx */
    0x48, 0x83, 0xc7, 0x04,	  /* add rdi, 4 */
    0xff, 0xc9,			  /* dec ecx */
    0x75, 0xf6,			  /* jnz -10 */
    0xf4,			  /* hlt */
};

static void setup_memory(uint8_t *mem)
{
	i2k_put_le64(mem + 0x1000, 0x2000 | 3); /* PML4[0] → PDPT, present + rw */
	i2k_put_le64(mem + 0x2000, 0x3000 | 3); /* PDPT[0] → PD */
	i2k_put_le64(mem + 0x3000, 0x0 | 0x83); /* PD[0]: 2 MiB page at 0, present + rw + PS */
	memcpy(mem + CODE_ADDR, guest_code, sizeof(guest_code));
}

static void setup_long_mode(struct kvm_sregs *s)
{
	struct kvm_segment code = {.base = 0,
				   .limit = 0xffffffff,
				   .selector = 8,
				   .type = 11,
				   .present = 1,
				   .dpl = 0,
				   .db = 0,
				   .s = 1,
				   .l = 1,
				   .g = 1};
	struct kvm_segment data = code;
	data.type = 3;
	data.selector = 16;
	data.l = 0;
	data.db = 1;
	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->cr3 = 0x1000;
	s->cr4 = 1u << 5;		  /* PAE */
	s->cr0 = 0x80000001u | (1u << 4); /* PG | PE | ET */
	s->efer = (1u << 8) | (1u << 10); /* LME | LMA */
}

/* The probe proper; runs in the child. Writes the reason into why. */
static int probe(const char *dev, char *why, size_t len)
{
	int kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		snprintf(why, len, "open %s: %s", dev, strerror(errno));
		return -1;
	}
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		snprintf(why, len, "KVM_GET_API_VERSION: %d, want %d", api, KVM_API_VERSION);
		return -1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0) {
		snprintf(why, len, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		snprintf(why, len, "mmap: %s", strerror(errno));
		return -1;
	}
	setup_memory(mem);
	struct kvm_userspace_memory_region region = {.slot = 0,
						     .guest_phys_addr = 0,
						     .memory_size = MEM_SIZE,
						     .userspace_addr = (uint64_t)(uintptr_t)mem};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		snprintf(why, len, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		return -1;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0) {
		snprintf(why, len, "KVM_CREATE_VCPU: %s", strerror(errno));
		return -1;
	}
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run)) {
		snprintf(why, len, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -1;
	}
	struct kvm_run *run =
	    mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		snprintf(why, len, "mmap vcpu: %s", strerror(errno));
		return -1;
	}
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(why, len, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	setup_long_mode(&sregs);
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) {
		snprintf(why, len, "KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	struct kvm_regs regs = {.rip = CODE_ADDR, .rflags = 0x2, .rsp = 0x8000};
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) {
		snprintf(why, len, "KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	int64_t t0 = now_ms();
	if (ioctl(vcpu, KVM_RUN, 0) < 0) {
		snprintf(why, len, "KVM_RUN: %s", strerror(errno));
		return -1;
	}
	int64_t took = now_ms() - t0;
	if (run->exit_reason != KVM_EXIT_HLT) {
		snprintf(why, len, "vcpu exited with reason %u (%s), not HLT", run->exit_reason,
			 exit_name(run->exit_reason));
		return -1;
	}
	uint32_t first, last;
	memcpy(&first, mem + DATA_ADDR, 4);
	memcpy(&last, mem + DATA_ADDR + DATA_DWORDS * 4 - 4, 4);
	if (first != DATA_DWORDS || last != 1) {
		snprintf(why, len, "guest loop wrote %#x..%#x, want %#x..0x1", first, last,
			 DATA_DWORDS);
		return -1;
	}
	if (took > SLOW_MS) {
		snprintf(why, len,
			 "too slow: the test guest needed %lld ms to write 256 KiB (limit %d ms; "
			 "nested virtualisation?)",
			 (long long)took, SLOW_MS);
		return -1;
	}
	return 0;
}
#else
static int probe(const char *dev, char *why, size_t len)
{
	snprintf(why, len, "the KVM probe supports x86 only");
	return -1;
}
#endif

bool i2k_kvm_usable(const char *dev, int timeout_ms, char *why, size_t whylen)
{
	if (dev == NULL)
		dev = "/dev/kvm";
	if (whylen > 0)
		why[0] = '\0';
	/* Cheap first check without forking. */
	if (access(dev, R_OK | W_OK) != 0) {
		snprintf(why, whylen, "%s: %s", dev, strerror(errno));
		return false;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return false;
	}
	if (pid == 0) {
		close(p[0]);
		char msg[256] = "";
		int r = probe(dev, msg, sizeof(msg));
		if (r == 0)
			snprintf(msg, sizeof(msg), "ok");
		ssize_t w = write(p[1], msg, strlen(msg));
		(void)w;
		_exit(r == 0 ? 0 : 1);
	}
	close(p[1]);
	char buf[256];
	size_t got = 0;
	int64_t deadline = now_ms() + timeout_ms;
	bool timed_out = false;
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			timed_out = n == 0;
			break;
		}
		ssize_t r = read(p[0], buf + got, sizeof(buf) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(buf) - 1)
			break;
	}
	buf[got] = '\0';
	close(p[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (timed_out) {
		snprintf(why, whylen, "no answer within %d ms", timeout_ms);
		return false;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return true;
	if (got > 0)
		snprintf(why, whylen, "%s", buf);
	else if (WIFSIGNALED(st))
		snprintf(why, whylen, "probe killed by signal %d", WTERMSIG(st));
	else
		snprintf(why, whylen, "probe failed");
	return false;
}

/* ---- the cache ------------------------------------------------------------ */

static void cpu_model(const char *cpuinfo, char *out, size_t len)
{
	snprintf(out, len, "unknown");
	FILE *f = fopen(cpuinfo ? cpuinfo : "/proc/cpuinfo", "re");
	if (f == NULL)
		return;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "model name", 10) != 0)
			continue;
		const char *v = strchr(line, ':');
		if (v == NULL)
			continue;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		snprintf(out, len, "%.*s", (int)strcspn(v, "\n"), v);
		break;
	}
	fclose(f);
}

bool i2k_kvm_probe_key(const char *dev, const char *cpuinfo, char *key, size_t keylen)
{
	if (dev == NULL)
		dev = "/dev/kvm";
	if (keylen)
		key[0] = '\0';
	struct stat st;
	if (stat(dev, &st) < 0)
		return false;
	struct utsname u;
	if (uname(&u) < 0)
		return false;
	char cpu[256];
	cpu_model(cpuinfo, cpu, sizeof(cpu));
	int n = snprintf(key, keylen,
			 "i2kit-kvm-probe-1 kernel=%s|%s dev=%s rdev=%llx ino=%llu "
			 "mtime=%lld.%09ld ctime=%lld.%09ld cpu=%s",
			 u.release, u.version, dev, (unsigned long long)st.st_rdev,
			 (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec, cpu);
	/* The key is one line: no newline may come from uname or cpuinfo. */
	for (char *p = key; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return n > 0 && (size_t)n < keylen;
}

bool i2k_kvm_usable_cached(const char *dev, const char *cache, int timeout_ms, char *why,
			   size_t whylen, bool *hit)
{
	if (dev == NULL)
		dev = "/dev/kvm";
	if (hit)
		*hit = false;
	if (whylen > 0)
		why[0] = '\0';
	if (access(dev, R_OK | W_OK) != 0) {
		snprintf(why, whylen, "%s: %s", dev, strerror(errno));
		return false;
	}
	char key[1024];
	if (cache == NULL || !i2k_kvm_probe_key(dev, NULL, key, sizeof(key)))
		return i2k_kvm_usable(dev, timeout_ms, why, whylen);
	_cleanup_free_ char *old = NULL;
	size_t len = 0;
	if (i2k_read_file(cache, 4096, &old, &len, NULL) == 0) {
		size_t kl = strlen(key);
		if (len > kl && memcmp(old, key, kl) == 0 && old[kl] == '\n') {
			char *ans = old + kl + 1;
			ans[strcspn(ans, "\n")] = '\0';
			if (strcmp(ans, "ok") == 0) {
				if (hit)
					*hit = true;
				return true;
			}
			if (strncmp(ans, "no ", 3) == 0) {
				if (hit)
					*hit = true;
				snprintf(why, whylen, "%s", ans + 3);
				return false;
			}
		}
	}
	bool ok = i2k_kvm_usable(dev, timeout_ms, why, whylen);
	char *slash = strrchr(cache, '/');
	if (slash && slash != cache) {
		_cleanup_free_ char *dir = i2k_xasprintf("%.*s", (int)(slash - cache), cache);
		i2k_mkdir_p(dir, 0700, NULL);
	}
	_cleanup_free_ char *rec =
	    ok ? i2k_xasprintf("%s\nok\n", key) : i2k_xasprintf("%s\nno %s\n", key, why);
	i2k_write_file_atomic(cache, rec, strlen(rec), 0600, NULL);
	return ok;
}
