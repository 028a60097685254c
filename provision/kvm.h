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

#endif
