/* test_utf.c — builder/base/utf.c: UTF-8 decoding with Go's rules and
 * UTF-8 → UTF-16, shared by the GPT, FAT and Go-JSON writers. */
#include "builder/base/utf.h"

#include "tests/unit/test.h"

static size_t dec(const char *s, uint32_t *cp)
{
	return i2k_utf8_decode((const unsigned char *)s, strlen(s), cp);
}

TEST(decode_valid)
{
	uint32_t cp = 0;
	CHECK_INT(dec("A", &cp), 1);
	CHECK_INT(cp, 'A');
	CHECK_INT(dec("\xc3\xa9", &cp), 2); /* é */
	CHECK_INT(cp, 0xe9);
	CHECK_INT(dec("\xe2\x82\xac", &cp), 3); /* € */
	CHECK_INT(cp, 0x20ac);
	CHECK_INT(dec("\xf0\x9f\x98\x80", &cp), 4); /* U+1F600 */
	CHECK_INT(cp, 0x1f600);
	CHECK_INT(dec("\xf4\x8f\xbf\xbf", &cp), 4); /* U+10FFFF, the last */
	CHECK_INT(cp, 0x10ffff);
	/* only the first sequence is read */
	CHECK_INT(dec("\xc3\xa9xyz", &cp), 2);
}

TEST(decode_invalid)
{
	uint32_t cp = 0;
	CHECK_INT(dec("\x80", &cp), 0);		    /* lone continuation */
	CHECK_INT(dec("\xc0\xaf", &cp), 0);	    /* overlong '/' */
	CHECK_INT(dec("\xe0\x80\xaf", &cp), 0);	    /* overlong, 3 bytes */
	CHECK_INT(dec("\xed\xa0\x80", &cp), 0);	    /* surrogate U+D800 */
	CHECK_INT(dec("\xf4\x90\x80\x80", &cp), 0); /* above U+10FFFF */
	CHECK_INT(dec("\xf8\x88\x80\x80\x80", &cp), 0);
	CHECK_INT(dec("\xe2\x82", &cp), 0); /* truncated by the end of input */
	CHECK_INT(i2k_utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp), 0);
	CHECK_INT(dec("\xe2(\xac", &cp), 0); /* bad continuation */
}

TEST(utf16_encode)
{
	uint16_t u[8];
	size_t n = 99;
	CHECK_INT(i2k_utf16_encode("", u, 8, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(i2k_utf16_encode("a\xc3\xa9\xe2\x82\xac", u, 8, &n), 0);
	CHECK_INT(n, 3);
	CHECK(u[0] == 'a' && u[1] == 0xe9 && u[2] == 0x20ac);
	/* above the BMP: a surrogate pair */
	CHECK_INT(i2k_utf16_encode("\xf0\x9f\x98\x80!", u, 8, &n), 0);
	CHECK_INT(n, 3);
	CHECK(u[0] == 0xd83d && u[1] == 0xde00 && u[2] == '!');
	/* exactly max units fits; one more does not; a pair never splits */
	CHECK_INT(i2k_utf16_encode("abcd", u, 4, &n), 0);
	CHECK_INT(n, 4);
	CHECK_INT(i2k_utf16_encode("abcde", u, 4, &n), I2K_UTF16_TOO_LONG);
	CHECK_INT(i2k_utf16_encode("abc\xf0\x9f\x98\x80", u, 4, &n), I2K_UTF16_TOO_LONG);
	/* invalid input, wherever it is */
	CHECK_INT(i2k_utf16_encode("ok\xff", u, 8, &n), I2K_UTF16_INVALID);
	CHECK_INT(i2k_utf16_encode("\xed\xa0\x80", u, 8, &n), I2K_UTF16_INVALID);
	CHECK_INT(i2k_utf16_encode("tail\xc3", u, 8, &n), I2K_UTF16_INVALID);
}

TEST(ascii_printable)
{
	CHECK(i2k_ascii_printable("console=ttyS0 a=~ b=\"x\"", 23));
	CHECK(i2k_ascii_printable("", 0));
	CHECK(i2k_ascii_printable("ab\tc", 2)); /* only n bytes count */
	CHECK(!i2k_ascii_printable("ab\tc", 4));
	CHECK(!i2k_ascii_printable("x\x7f", 2));
	CHECK(!i2k_ascii_printable("caf\xc3\xa9", 5)); /* UTF-8: not ASCII */
	CHECK(!i2k_ascii_printable("a\nb", 3));
}

int main(void)
{
	t_prog = "utf";
	RUN(decode_valid);
	RUN(decode_invalid);
	RUN(utf16_encode);
	RUN(ascii_printable);
	return TEST_DONE();
}
