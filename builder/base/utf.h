/* utf.h — UTF-8 decoding and UTF-8 → UTF-16 encoding, one copy for every
 * writer that needs them (GPT partition names, FAT long names, Go-style
 * JSON escaping), and the printable-ASCII test for text that must be
 * exactly one UCS-2 unit per byte (UEFI load options). No allocation, no
 * errors beyond the return values.
 *
 * Valid UTF-8 here is what Go's utf8.DecodeRune and the Unicode standard
 * accept: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
 * U+10FFFF, no truncated sequence. */
#ifndef I2K_BUILDER_BASE_UTF_H
#define I2K_BUILDER_BASE_UTF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether s[0..n) is printable ASCII only (0x20..0x7E). */
bool i2k_ascii_printable(const char *s, size_t n);

/* Decodes the UTF-8 sequence at s (n bytes available, n > 0) into *cp;
 * returns its length (1..4), or 0 if it is not valid UTF-8 (*cp unset). */
size_t i2k_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

#define I2K_UTF16_INVALID (-1)	/* s is not valid UTF-8 */
#define I2K_UTF16_TOO_LONG (-2) /* more than max UTF-16 code units */

/* Encodes the NUL-terminated UTF-8 string s as UTF-16 code units (host
 * order; characters above U+FFFF as surrogate pairs) into out, which holds
 * max units; *len is the number written. 0, or I2K_UTF16_INVALID /
 * I2K_UTF16_TOO_LONG (out then holds a prefix, *len unset). */
int i2k_utf16_encode(const char *s, uint16_t *out, size_t max, size_t *len);

#endif
