/* caps.h — capabilities for the guest init's container runner, with raw
 * syscalls only (capset, prctl PR_CAPBSET_DROP / PR_CAP_AMBIENT): no
 * libcap. Names are the kernel's ("CAP_NET_ADMIN"), numbers as in
 * <linux/capability.h>. Failures return -1 with a one-line reason.
 */
#ifndef I2K_INITRD_INIT_CAPS_H
#define I2K_INITRD_INIT_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jnode;

/* The five sets of OCI process.capabilities as bit masks (bit n = cap n). */
struct caps_sets {
	uint64_t bounding, effective, permitted, inheritable, ambient;
};

/* Number of a capability name ("CAP_SYS_ADMIN", exact case; the "CAP_"
 * prefix is required), or -1 if unknown. */
int i2ki_caps_from_name(const char *name);
/* Name of a capability number, NULL if unknown. */
const char *i2ki_caps_name(int cap);

/* Parses an OCI process.capabilities object (absent sets are empty).
 * Unknown names are an error; capabilities the running kernel does not
 * know (above /proc/sys/kernel/cap_last_cap) are silently left out. */
int i2ki_caps_parse(const struct jnode *caps, struct caps_sets *out, char *errbuf, size_t errlen);

/* Drops every capability not in keep from the bounding set (needs
 * CAP_SETPCAP: call while still privileged). */
int i2ki_caps_drop_bounding(uint64_t keep, char *errbuf, size_t errlen);

/* Sets effective/permitted/inheritable with capset(2), then the ambient
 * set (cleared, then each raised). Call after the uid switch. */
int i2ki_caps_apply(const struct caps_sets *s, char *errbuf, size_t errlen);

/* The highest capability the kernel knows (cap_last_cap, 40 if unreadable). */
int i2ki_caps_last(void);

#endif
