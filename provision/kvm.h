/* kvm.h — does hardware virtualisation really work here?
 *
 * /dev/kvm existing is not enough: under nested virtualisation it can open
 * and create VMs yet fail (or hang) when a vCPU runs. The probe therefore
 * runs a real guest through the KVM ioctl API: KVM_CREATE_VM, one 2 MiB
 * memory region, KVM_CREATE_VCPU with 64-bit long-mode registers and identity-mapped page tables,
 * code that writes 256 KiB of guest memory and halts, KVM_RUN — usable only if the vCPU exits with
 * KVM_EXIT_HLT, the memory holds what the guest wrote, and that took less than 50 ms (about 1 ms on
 * working KVM; about 300 ms on these machines, where /dev/kvm works but every guest page fault goes
 * through the outer hypervisor and a kernel never gets past decompressing
 * itself). The run happens in a child process killed after a timeout, so a
 * hanging KVM_RUN cannot hang i2kit.
 */
#ifndef I2K_PROVISION_KVM_H
#define I2K_PROVISION_KVM_H

#include <stdbool.h>
#include <stddef.h>

/* Probes dev (NULL → "/dev/kvm") with at most timeout_ms for the test
 * guest. Returns true when KVM is usable; otherwise false with a short
 * reason in why (e.g. "KVM_RUN: Invalid argument", "open /dev/kvm: No such
 * file or directory", "vcpu exited with reason 9 (FAIL_ENTRY), not HLT",
 * "no answer within 3000 ms", "too slow: the test guest needed 312 ms to
 * write 256 KiB (limit 50 ms; nested virtualisation?)"). Never prints. */
bool i2k_kvm_usable(const char *dev, int timeout_ms, char *why, size_t whylen);

/* The identity of "this machine and kernel" for the probe's cache, one
 * line: the running kernel (uname release and version), dev's identity
 * (st_rdev, inode, mtime and ctime in ns — a reloaded kvm module or a
 * changed mode makes a new one) and the CPU model (the first "model name"
 * in cpuinfo; NULL → "/proc/cpuinfo"). Returns false (key "") when dev
 * cannot be stat'ed. */
bool i2k_kvm_probe_key(const char *dev, const char *cpuinfo, char *key, size_t keylen);

/* i2k_kvm_usable behind a cache file (NULL cache → no cache): when the
 * file's first line is this machine's i2k_kvm_probe_key, its second line
 * ("ok" or "no REASON") is the answer and nothing is probed (*hit = true,
 * a few stat/read calls). Otherwise the probe runs and its answer,
 * including a timeout or "too slow", is written atomically to cache
 * (errors writing it are ignored: the cache only saves time). The cheap
 * access() check always runs first and is never cached. Delete the file
 * to force a new probe. hit may be NULL. */
bool i2k_kvm_usable_cached(const char *dev, const char *cache, int timeout_ms, char *why,
			   size_t whylen, bool *hit);

#endif
