/* test_files.c — builder/assemble/files.c: the files: section at scale.
 *
 * 120,000 entries, each in its own directory, used to take 54 s because the
 * set of written paths was a list searched once per parent of every entry
 * (O(n²)). The bound here is generous (30 s with ASan on a loaded 2-core
 * machine; the quadratic version needed minutes under ASan) so the test
 * only fails on a complexity regression, not on a slow machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "builder/assemble/files.h"
#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/bundle/bundle.h"
#include "builder/config/config.h"
#include "builder/fstree/fstree.h"
#include "tests/unit/test.h"

#define N_ENTRIES 120000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TEST(files_120k_entries_linear)
{
	struct i2k_config cfg = {0};
	cfg.n_files = N_ENTRIES;
	cfg.files = i2k_xcalloc(N_ENTRIES, sizeof(*cfg.files));
	for (size_t i = 0; i < N_ENTRIES; i++) {
		cfg.files[i].path = i2k_xasprintf("/srv/d%zu/f", i);
		cfg.files[i].contents = i2k_xstrdup("x");
		cfg.files[i].contents_len = 1;
	}
	struct i2k_spool *sp = NULL;
	OK(i2k_spool_new(NULL, &sp, &_e));
	struct i2k_fstree *t = i2k_fstree_new(sp);
	struct i2k_idmap *ids = i2k_idmap_new();
	double t0 = now_s();
	OK(i2k_build_files(&cfg, t, sp, ids, "/nonexistent", &_e));
	double took = now_s() - t0;
	fprintf(stderr, "  files: %d entries in %.2f s\n", N_ENTRIES, took);
	CHECK(took < 30.0);
	/* root + srv + N dirs + N files */
	CHECK_INT(i2k_fstree_count(t), 2 + 2 * (long long)N_ENTRIES);
	struct i2k_inode *in = i2k_fstree_lookup(t, "srv/d119999/f");
	CHECK(in != NULL);
	if (in) {
		CHECK_INT(in->mode, S_IFREG | 0600);
		CHECK_INT(in->size, 1);
	}
	in = i2k_fstree_lookup(t, "srv/d7");
	CHECK(in != NULL && in->mode == (S_IFDIR | 0700));
	i2k_idmap_free(ids);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
	for (size_t i = 0; i < N_ENTRIES; i++) {
		free(cfg.files[i].path);
		free(cfg.files[i].contents);
	}
	free(cfg.files);
}

/* The same parent written by many entries is created once and keeps the
 * first entry's owner and mode (LinuxKit's addedFiles). */
TEST(files_shared_parent_once)
{
	struct i2k_file_entry fe[3] = {
	    {.path = "a/b/one", .contents = "1", .contents_len = 1, .mode_set = true, .mode = 0644},
	    {.path = "a/b/two", .contents = "2", .contents_len = 1},
	    {.path = "a/b", .directory = true, .mode_set = true, .mode = 0750},
	};
	struct i2k_config cfg = {.files = fe, .n_files = 3};
	struct i2k_spool *sp = NULL;
	OK(i2k_spool_new(NULL, &sp, &_e));
	struct i2k_fstree *t = i2k_fstree_new(sp);
	struct i2k_idmap *ids = i2k_idmap_new();
	OK(i2k_build_files(&cfg, t, sp, ids, "/nonexistent", &_e));
	struct i2k_inode *a = i2k_fstree_lookup(t, "a");
	CHECK(a != NULL && a->mode == (S_IFDIR | 0755));
	struct i2k_inode *b = i2k_fstree_lookup(t, "a/b");
	CHECK(b != NULL && b->mode == (S_IFDIR | 0750));
	CHECK_INT(i2k_fstree_count(t), 5);
	i2k_idmap_free(ids);
	i2k_fstree_free(t);
	i2k_spool_free(sp);
}

int main(void)
{
	t_prog = "test_files";
	RUN(files_120k_entries_linear);
	RUN(files_shared_parent_once);
	return TEST_DONE();
}
