/* acpi.h — ACPI power button events through generic netlink (the
 * "acpi_event" family, multicast group "acpi_mc_group", which acpid also
 * reads). The kernel's button driver reports a press there as well as on
 * an input device, so the init sees QEMU's system_powerdown even when the
 * image carries no evdev module. */
#ifndef I2K_INITRD_INIT_ACPI_H
#define I2K_INITRD_INIT_ACPI_H

#include <stddef.h>

/* Opens the netlink socket subscribed to ACPI events; -1 (logged at debug
 * level) when the kernel has no such family. Non-blocking, close-on-exec. */
int i2ki_acpi_open(void);

/* Reads what is pending on fd; returns 1 when it held a power button
 * press ("button/power"), else 0. */
int i2ki_acpi_read(int fd);

/* Parses one received buffer; exposed for tests. Returns 1 for a power
 * button event of family id fam. */
int i2ki_acpi_parse_event(const unsigned char *buf, size_t len, unsigned fam);

#endif
