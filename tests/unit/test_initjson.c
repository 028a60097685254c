/* test_initjson.c — the guest init's JSON reader (initrd/init/json.c),
 * compiled in directly: initrd/init is not part of the library. */
#include <limits.h>
#include "initrd/init/json.c"

#include "tests/unit/test.h"

static char err[256];

static struct jnode *parse(const char *s)
{
	err[0] = 0;
	return i2ki_json_parse(s, strlen(s), err, sizeof(err));
}

TEST(parses_bundle_shape)
{
	const char *doc = "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"/bin/httpd\",\"-f\"],"
			  "\"user\":{\"uid\":0,\"gid\":0},\"terminal\":false},"
			  "\"annotations\":{\"org.i2kit.restart\":\"always\"},\"x\":null}";
	struct jnode *root = parse(doc);
	CHECK(root != NULL);
	if (!root)
		return;
	CHECK_INT(root->type, J_OBJ);
	CHECK_INT(root->n, 4);
	CHECK_STR(i2ki_json_str(root, "ociVersion", NULL), "1.0.2");
	const struct jnode *proc = i2ki_json_get(root, "process");
	CHECK(proc && proc->type == J_OBJ);
	const struct jnode *args = i2ki_json_get(proc, "args");
	CHECK(args && args->type == J_ARR && args->n == 2);
	CHECK_STR(args->kids->str, "/bin/httpd");
	CHECK_STR(args->kids->next->str, "-f");
	CHECK(args->kids->next->next == NULL);
	CHECK_INT(i2ki_json_get(i2ki_json_get(proc, "user"), "uid")->num, 0);
	CHECK(i2ki_json_get(proc, "terminal")->type == J_BOOL &&
	      !i2ki_json_get(proc, "terminal")->b);
	CHECK_STR(i2ki_json_str(i2ki_json_get(root, "annotations"), "org.i2kit.restart", "no"),
		  "always");
	CHECK_INT(i2ki_json_get(root, "x")->type, J_NULL);
	CHECK(i2ki_json_get(root, "missing") == NULL);
	CHECK_STR(i2ki_json_str(root, "missing", "dflt"), "dflt");
	CHECK_STR(i2ki_json_str(root, "process", "notstr"), "notstr");
	CHECK(i2ki_json_get(args, "0") == NULL); /* not an object */
	CHECK(i2ki_json_get(NULL, "a") == NULL);
	i2ki_json_free(root);
	i2ki_json_free(NULL);
}

TEST(numbers)
{
	struct jnode *r = parse("[0, -12, 3.75, 1e3, -2.5E-1, 9223372036854775807, 1e300]");
	CHECK(r != NULL);
	if (!r)
		return;
	const struct jnode *k = r->kids;
	CHECK_INT(k->num, 0);
	k = k->next;
	CHECK_INT(k->num, -12);
	k = k->next;
	CHECK_INT(k->num, 3);
	CHECK(k->dbl == 3.75);
	k = k->next;
	CHECK_INT(k->num, 1000);
	k = k->next;
	CHECK(k->dbl == -0.25);
	CHECK_INT(k->num, 0);
	k = k->next;
	CHECK(k->num == INT64_MAX);
	k = k->next;
	CHECK(k->num == INT64_MAX);
	i2ki_json_free(r);
}

/* OCI writes an unlimited rlimit as 2^64-1: it must parse, saturating. */
TEST(huge_integers_saturate)
{
	char eb[128];
	struct jnode *r =
	    i2ki_json_parse("[18446744073709551615, -99999999999999999999]", 45, eb, sizeof(eb));
	CHECK(r != NULL);
	if (r) {
		CHECK(r->kids->num == LLONG_MAX);
		CHECK(r->kids->dbl > 1.8e19);
		CHECK(r->kids->next->num == LLONG_MIN);
		i2ki_json_free(r);
	}
}

TEST(strings_and_escapes)
{
	struct jnode *r =
	    parse("[\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\", \"\\u00e9\\u20ac\", "
		  "\"\\ud83d\\ude00\", \"\\ud800x\", \"\\udc00\", \"\\ud800\\u0041\", \"\"]");
	CHECK(r != NULL);
	if (!r)
		return;
	const struct jnode *k = r->kids;
	CHECK_STR(k->str, "a\"b\\c/d\n\t\r\b\f");
	k = k->next;
	CHECK_STR(k->str, "\xc3\xa9\xe2\x82\xac");
	k = k->next;
	CHECK_STR(k->str, "\xf0\x9f\x98\x80");
	k = k->next;
	CHECK_STR(k->str, "\xef\xbf\xbdx"); /* lone high surrogate → U+FFFD */
	k = k->next;
	CHECK_STR(k->str, "\xef\xbf\xbd");
	k = k->next;
	CHECK_STR(k->str, "\xef\xbf\xbd"
			  "A");
	k = k->next;
	CHECK_STR(k->str, "");
	i2ki_json_free(r);
}

TEST(duplicate_keys_last_wins)
{
	struct jnode *r = parse("{\"a\":\"1\",\"a\":\"2\"}");
	CHECK(r != NULL);
	if (r)
		CHECK_STR(i2ki_json_str(r, "a", NULL), "2");
	i2ki_json_free(r);
}

TEST(empty_containers_and_whitespace)
{
	struct jnode *r = parse(" \n\t{ \"a\" : [ ] , \"b\" : { } }\r\n ");
	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_INT(i2ki_json_get(r, "a")->n, 0);
	CHECK(i2ki_json_get(r, "a")->kids == NULL);
	CHECK_INT(i2ki_json_get(r, "b")->type, J_OBJ);
	i2ki_json_free(r);
	r = parse("true");
	CHECK(r && r->type == J_BOOL && r->b);
	i2ki_json_free(r);
}

static void bad(const char *doc, const char *msg)
{
	struct jnode *r = parse(doc);
	CHECK(r == NULL);
	CHECK_CONTAINS(err, msg);
	i2ki_json_free(r);
}

TEST(errors)
{
	bad("", "unexpected end of input");
	bad("{\"a\":1,}", "expected a member name");
	bad("{\"a\" 1}", "expected ':'");
	bad("[1 2]", "expected ',' or ']'");
	bad("{\"a\":1", "expected ',' or '}'");
	bad("\"abc", "unterminated string");
	bad("\"a\\", "unterminated string");
	bad("\"a\\qb\"", "bad escape");
	bad("\"\\u12G4\"", "bad \\u escape");
	bad("\"\\u12\"", "truncated \\u escape");
	bad("\"\\u0000\"", "\\u0000 in string");
	bad("\"a\nb\"", "control character in string");
	bad("tru", "unexpected character 't'");
	bad("nul", "unexpected character 'n'");
	bad("@", "unexpected character '@'");
	bad("-", "bad number");
	bad("1.", "bad number");
	bad("1e+", "bad number");
	bad("01", "trailing data after the document");
	bad("{} {}", "trailing data after the document");
	bad("[\n\n  x]", "line 3 column 3");
	char big[200];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	bad(big, "number too long");
	char deep[200];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 99);
	deep[199] = 0;
	bad(deep, "nesting deeper than 64");
	/* 64 levels are fine */
	char ok[129];
	memset(ok, '[', 64);
	memset(ok + 64, ']', 64);
	ok[128] = 0;
	struct jnode *r = parse(ok);
	CHECK(r != NULL);
	i2ki_json_free(r);
	CHECK(i2ki_json_parse(NULL, 0, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "no input");
	CHECK(i2ki_json_parse("[]", (4u << 20) + 1, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "document larger than");
	/* a NULL or empty errbuf is allowed */
	CHECK(i2ki_json_parse("[", 1, NULL, 0) == NULL);
}

TEST(load_file)
{
	char dir[] = "/tmp/test_initjson.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[300];
	snprintf(path, sizeof(path), "%s/config.json", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"root\":{\"path\":\"rootfs\",\"readonly\":true}}\n", f);
	fclose(f);
	struct jnode *r = i2ki_json_load(path, err, sizeof(err));
	CHECK(r != NULL);
	CHECK_STR(i2ki_json_str(i2ki_json_get(r, "root"), "path", NULL), "rootfs");
	i2ki_json_free(r);
	f = fopen(path, "w");
	if (f) {
		fputs("{\"root\":", f);
		fclose(f);
	}
	CHECK(i2ki_json_load(path, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "config.json: line 1 column 9: unexpected end of input");
	unlink(path);
	CHECK(i2ki_json_load(path, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "No such file or directory");
	CHECK(i2ki_json_load(dir, err, sizeof(err)) == NULL);
	CHECK_CONTAINS(err, "not a regular file");
	rmdir(dir);
}

int main(void)
{
	t_prog = "initjson";
	RUN(parses_bundle_shape);
	RUN(numbers);
	RUN(huge_integers_saturate);
	RUN(strings_and_escapes);
	RUN(duplicate_keys_last_wins);
	RUN(empty_containers_and_whitespace);
	RUN(errors);
	RUN(load_file);
	return TEST_DONE();
}
