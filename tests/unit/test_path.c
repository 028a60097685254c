/* test_path.c — builder/base/path.c: the lexical path normaliser shared by
 * the fstree and the layer reader. */
#include "builder/base/path.h"

#include "tests/unit/test.h"

static char out[256];
static struct i2k_path_info pi;

static const char *norm(const char *in)
{
	memset(out, 'X', sizeof(out));
	i2k_path_normalise(in, out, &pi);
	return out;
}

TEST(plain_paths)
{
	CHECK_STR(norm("usr/bin/env"), "usr/bin/env");
	CHECK_INT(pi.ncomp, 3);
	CHECK(!pi.dot && !pi.dotdot && !pi.escapes && pi.bad == NULL);
	CHECK_STR(norm("//usr///bin/env//"), "usr/bin/env");
	CHECK_INT(pi.ncomp, 3);
	CHECK_STR(norm("/etc"), "etc");
	CHECK_STR(norm("..."), "..."); /* a name, not a ".." */
	CHECK_STR(norm(".hidden/..x/x.."), ".hidden/..x/x..");
	CHECK(pi.bad == NULL);
}

TEST(the_root)
{
	const char *roots[] = {"", "/", "//", ".", "./", "/./."};
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		CHECK_STR(norm(roots[i]), "");
		CHECK_INT(pi.ncomp, 0);
		CHECK(!pi.dotdot && !pi.escapes);
	}
}

TEST(dot_is_dropped_and_reported)
{
	const char *in = "./a/./b/.";
	CHECK_STR(norm(in), "a/b");
	CHECK_INT(pi.ncomp, 2);
	CHECK(pi.dot && !pi.dotdot);
	CHECK(pi.bad == in && pi.badlen == 1);
}

TEST(dotdot_is_kept_and_reported)
{
	const char *in = "a/b/../c";
	CHECK_STR(norm(in), "a/b/../c");
	CHECK(pi.dotdot && !pi.escapes && !pi.dot);
	CHECK(pi.bad == in + 4 && pi.badlen == 2);
	CHECK_STR(norm("a/../.."), "a/../..");
	CHECK(pi.dotdot && pi.escapes);
	CHECK_STR(norm("../etc/passwd"), "../etc/passwd");
	CHECK(pi.escapes);
	/* "." does not count as a level: ./.. still climbs out */
	CHECK_STR(norm("./.."), "..");
	CHECK(pi.escapes && pi.dot);
	/* the first bad component is the one reported */
	in = "x/./../y";
	norm(in);
	CHECK(pi.bad == in + 2 && pi.badlen == 1);
}

int main(void)
{
	t_prog = "path";
	RUN(plain_paths);
	RUN(the_root);
	RUN(dot_is_dropped_and_reported);
	RUN(dotdot_is_kept_and_reported);
	return TEST_DONE();
}
