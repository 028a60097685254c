/* cmdline.h — the kernel command line as the guest init reads it
 * (/proc/cmdline, at most 4 KiB): "key=value" words separated by blanks, a
 * value may be double-quoted. The init's own options are i2kit.*:
 *   i2kit.modules=a,b   i2kit.hostname=NAME   i2kit.dhcp=0|1   i2kit.idle=1
 *   i2kit.exitcode=isa-debug-exit            i2kit.debug=1
 */
#ifndef I2K_INITRD_INIT_CMDLINE_H
#define I2K_INITRD_INIT_CMDLINE_H

#include <stddef.h>

/* Reads /proc/cmdline (keeps the previous text on failure). */
void i2ki_cmdline_load(void);
/* Replaces the text (tests, or a cmdline that did not come from /proc). */
void i2ki_cmdline_set(const char *text);
/* Copies the value of the LAST "key=value" into out (truncated to outlen-1)
 * and returns out; a bare "key" gives ""; NULL when absent. */
const char *i2ki_cmdline_get(const char *key, char *out, size_t outlen);
/* Boolean option: absent → dflt; "0", "no", "false", "off" → 0; else 1. */
int i2ki_cmdline_flag(const char *key, int dflt);

#endif
