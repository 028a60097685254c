/* test_dedupe.c — builder/assemble/dedupe.c: identical files of different
 * image trees become one inode; anything that differs, or lies outside the
 * trees, stays as it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/assemble/dedupe.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "tests/unit/test.h"

static const char *const roots[] = {"c/a/lower", "c/b/rootfs", "c/v/lower"};

/* Adds a regular file with data (len bytes) and the given mode/mtime. */
static void put(struct i2k_fstree *t, const char *path, const void *data, size_t len, uint32_t mode,
		int64_t mtime)
{
	struct i2k_error *e = NULL;
	uint64_t off = 0;
	if (len && i2k_spool_append(i2k_fstree_spool(t), data, len, &off, &e) < 0)
		abort();
	struct i2k_fattr a = {.mode = S_IFREG | mode, .mtime = mtime};
	if (i2k_fstree_add(t, path, &a, NULL, off, len, I2K_FSTREE_MKPARENTS | I2K_FSTREE_REPLACE,
			   NULL, &e) < 0) {
		fprintf(stderr, "put %s: %s\n", path, e->msg);
		abort();
	}
}

static bool same(struct i2k_fstree *t, const char *p, const char *q)
{
	struct i2k_inode *a = i2k_fstree_lookup(t, p), *b = i2k_fstree_lookup(t, q);
	return a && b && a == b;
}

/* The tree every test starts from; big[] is 10,000 bytes, so that its
 * variants differ only after the 4 KiB sample. */
static struct i2k_fstree *sample_tree(struct i2k_spool *sp)
{
	static char big[10000], big2[10000];
	memset(big, 'x', sizeof(big));
	memcpy(big2, big, sizeof(big2));
	big2[9000] = 'y';
	struct i2k_fstree *t = i2k_fstree_new(sp);
	put(t, "c/a/lower/bin/busybox", big, sizeof(big), 0755, 100);
	put(t, "c/b/rootfs/bin/busybox", big, sizeof(big), 0755, 100);
	put(t, "c/v/lower/opt/bb", big, sizeof(big), 0755, 100);
	/* same size, differs after the sample */
	put(t, "c/b/rootfs/bin/other", big2, sizeof(big2), 0755, 100);
	/* same content, other mode or mtime: a link would change them */
	put(t, "c/a/lower/etc/conf", "abc\n", 4, 0644, 100);
	put(t, "c/b/rootfs/etc/conf", "abc\n", 4, 0600, 100);
	put(t, "c/a/lower/etc/motd", "hi\n", 3, 0644, 100);
	put(t, "c/b/rootfs/etc/motd", "hi\n", 3, 0644, 200);
	/* the same file outside the image trees: never linked */
	put(t, "etc/motd", "hi\n", 3, 0644, 100);
	put(t, "c/a/config.json", "{}\n", 3, 0644, 100);
	put(t, "c/b/config.json", "{}\n", 3, 0644, 100);
	/* empty files are left alone */
	put(t, "c/a/lower/empty", "", 0, 0644, 100);
	put(t, "c/b/rootfs/empty", "", 0, 0644, 100);
	/* duplicates inside one tree only: not candidates */
	put(t, "c/a/lower/one", "12345", 5, 0644, 100);
	put(t, "c/a/lower/two", "12345", 5, 0644, 100);
	return t;
}

TEST(dedupe_links_identical_files_of_different_images)
{
	struct i2k_spool *sp = NULL;
	OK(i2k_spool_new(NULL, &sp, &_e));
	struct i2k_fstree *t = sample_tree(sp);
	/* a second name of b's busybox: both names move to the kept inode */
	OK(i2k_fstree_link(t, "c/b/rootfs/bin/sh", "c/b/rootfs/bin/busybox", 0, &_e));
	uint64_t saved = 1;
	OK(i2k_dedupe_images(t, roots, 3, &saved, &_e));
	CHECK(same(t, "c/a/lower/bin/busybox", "c/b/rootfs/bin/busybox"));
	CHECK(same(t, "c/a/lower/bin/busybox", "c/b/rootfs/bin/sh"));
	CHECK(same(t, "c/a/lower/bin/busybox", "c/v/lower/opt/bb"));
	CHECK(!same(t, "c/a/lower/bin/busybox", "c/b/rootfs/bin/other"));
	CHECK(!same(t, "c/a/lower/etc/conf", "c/b/rootfs/etc/conf"));
	CHECK(!same(t, "c/a/lower/etc/motd", "c/b/rootfs/etc/motd"));
	CHECK(!same(t, "etc/motd", "c/a/lower/etc/motd"));
	CHECK(!same(t, "c/a/config.json", "c/b/config.json"));
	CHECK(!same(t, "c/a/lower/empty", "c/b/rootfs/empty"));
	CHECK(!same(t, "c/a/lower/one", "c/a/lower/two"));
	/* two copies of busybox are gone */
	CHECK_INT(saved, 20000);
	/* every name still reads its own data */
	char buf[16] = {0};
	struct i2k_inode *in = i2k_fstree_lookup(t, "c/b/rootfs/etc/conf");
	OK(i2k_fstree_read(t, in, 0, buf, 4, &_e));
	CHECK_STR(buf, "abc\n");
	in = i2k_fstree_lookup(t, "c/b/rootfs/bin/other");
	OK(i2k_fstree_read(t, in, 8999, buf, 2, &_e));
	CHECK(buf[0] == 'x' && buf[1] == 'y');
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

/* The inode kept is the first in walk order, whatever the roots' order,
 * and two runs write the same tree. */
TEST(dedupe_is_deterministic)
{
	struct i2k_spool *sp = NULL;
	OK(i2k_spool_new(NULL, &sp, &_e));
	char *lists[2] = {NULL, NULL};
	for (int run = 0; run < 2; run++) {
		struct i2k_fstree *t = sample_tree(sp);
		const char *rev[] = {roots[2], roots[1], roots[0]};
		struct i2k_inode *first = i2k_fstree_lookup(t, "c/a/lower/bin/busybox");
		OK(i2k_dedupe_images(t, run ? rev : roots, 3, NULL, &_e));
		CHECK(i2k_fstree_lookup(t, "c/v/lower/opt/bb") == first);
		i2k_fstree_finalize(t);
		size_t len = 0;
		FILE *f = open_memstream(&lists[run], &len);
		OK(i2k_fstree_list(t, f, &_e));
		fclose(f);
		i2k_fstree_free(t);
	}
	CHECK_STR(lists[0], lists[1]);
	CHECK_CONTAINS(lists[0], "/c/b/rootfs/bin/busybox h 0755 0 0 /c/a/lower/bin/busybox");
	free(lists[0]);
	free(lists[1]);
	i2k_spool_free(sp);
}

/* Roots that are missing or hold nothing in common change nothing. */
TEST(dedupe_nothing_to_do)
{
	struct i2k_spool *sp = NULL;
	OK(i2k_spool_new(NULL, &sp, &_e));
	struct i2k_fstree *t = sample_tree(sp);
	const char *none[] = {"c/a/lower", "no/such/dir"};
	uint64_t saved = 1;
	OK(i2k_dedupe_images(t, none, 2, &saved, &_e));
	CHECK_INT(saved, 0);
	CHECK(!same(t, "c/a/lower/one", "c/a/lower/two"));
	OK(i2k_dedupe_images(t, roots, 0, &saved, &_e));
	CHECK_INT(saved, 0);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

int main(void)
{
	t_prog = "test_dedupe";
	RUN(dedupe_links_identical_files_of_different_images);
	RUN(dedupe_is_deterministic);
	RUN(dedupe_nothing_to_do);
	return TEST_DONE();
}
