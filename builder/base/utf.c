/* utf.c — see utf.h. */
#include "builder/base/utf.h"

#include <string.h>

size_t i2k_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t v, min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		len = 2, v = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, v = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, v = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

int i2k_utf16_encode(const char *s, uint16_t *out, size_t max, size_t *len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), n = 0;
	while (left) {
		uint32_t c;
		size_t l = i2k_utf8_decode(p, left, &c);
		if (l == 0)
			return I2K_UTF16_INVALID;
		p += l;
		left -= l;
		if (n + (c >= 0x10000 ? 2 : 1) > max)
			return I2K_UTF16_TOO_LONG;
		if (c >= 0x10000) {
			c -= 0x10000;
			out[n++] = (uint16_t)(0xd800 | (c >> 10));
			out[n++] = (uint16_t)(0xdc00 | (c & 0x3ff));
		} else {
			out[n++] = (uint16_t)c;
		}
	}
	*len = n;
	return 0;
}

bool i2k_ascii_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7E)
			return false;
	return true;
}
