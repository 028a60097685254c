/* test.h — the unit-test harness: one test program per module.
 *
 *   TEST(parses_tag) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(parses_tag); return TEST_DONE(); }
 *
 * Each RUN prints "PASS: <program>/<test>" or "FAIL: <program>/<test>" after
 * the failing expressions with file:line; tests/run.sh counts those lines.
 * TEST_DATA(path) resolves a file under tests/data/ from the repo root.
 */
#ifndef I2K_TESTS_UNIT_TEST_H
#define I2K_TESTS_UNIT_TEST_H

#include "builder/base/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_checks;
static int t_failed_tests;
static int t_passed_tests;
static const char *t_prog = "test";

#define TEST(name) static void name(void)

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #expr); \
			t_failed_checks++;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_INT(a, b)                                                                            \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__,      \
				__LINE__, #a, #b, _a, _b);                                         \
			t_failed_checks++;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0) {                             \
			fprintf(stderr, "  %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__,  \
				__LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");         \
			t_failed_checks++;                                                         \
		}                                                                                  \
	} while (0)

#define CHECK_CONTAINS(hay, needle)                                                                \
	do {                                                                                       \
		const char *_h = (hay), *_n = (needle);                                            \
		if (_h == NULL || strstr(_h, _n) == NULL) {                                        \
			fprintf(stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,     \
				__LINE__, _h ? _h : "(null)", _n);                                 \
			t_failed_checks++;                                                         \
		}                                                                                  \
	} while (0)

/* OK(f(..., &_e)): the call must succeed (its error is printed if not).
 * FAILS(f(..., &_e), CODE, "message"): it must fail with that category and
 * exactly that message. Inside the call, pass &_e as the error argument. */
#define OK(call)                                                                                   \
	do {                                                                                       \
		struct i2k_error *_e = NULL;                                                       \
		int _r = (call);                                                                   \
		if (_r < 0) {                                                                      \
			fprintf(stderr, "  %s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,     \
				_e ? _e->msg : "?");                                               \
			t_failed_checks++;                                                         \
		}                                                                                  \
		i2k_error_free(_e);                                                                \
	} while (0)

#define FAILS(call, code_, msg_)                                                                   \
	do {                                                                                       \
		struct i2k_error *_e = NULL;                                                       \
		int _r = (call);                                                                   \
		CHECK(_r < 0);                                                                     \
		CHECK(_e != NULL);                                                                 \
		if (_e) {                                                                          \
			CHECK_INT(_e->code, code_);                                                \
			CHECK_STR(_e->msg, msg_);                                                  \
		}                                                                                  \
		i2k_error_free(_e);                                                                \
	} while (0)

#define RUN(name)                                                                                  \
	do {                                                                                       \
		int _before = t_failed_checks;                                                     \
		name();                                                                            \
		if (t_failed_checks == _before) {                                                  \
			printf("PASS: %s/%s\n", t_prog, #name);                                    \
			t_passed_tests++;                                                          \
		} else {                                                                           \
			printf("FAIL: %s/%s\n", t_prog, #name);                                    \
			t_failed_tests++;                                                          \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

#define TEST_DONE() (t_failed_tests ? 1 : 0)

/* Absolute path of tests/data/<rel>; the runner sets I2K_TEST_DATA. */
static inline const char *test_data(const char *rel)
{
	static char buf[4096];
	const char *root = getenv("I2K_TEST_DATA");
	snprintf(buf, sizeof(buf), "%s/%s", root ? root : "tests/data", rel);
	return buf;
}

#endif
