/* test_blockmemo.c — initrd/blockmemo: packs of compressed blocks, their
 * checks, LRU trim and concurrent writers. */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "initrd/blockmemo.h"
#include "test.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static void key_of(unsigned i, uint8_t key[32])
{
	for (int b = 0; b < 32; b++)
		key[b] = (uint8_t)(i * 131u + (unsigned)b * 7u + (i >> 8) * 17u);
	key[0] = (uint8_t)i;
	key[1] = (uint8_t)(i >> 8);
}

/* Block i: len bytes that depend on i. */
static unsigned char *block_of(unsigned i, size_t len)
{
	unsigned char *b = malloc(len ? len : 1);
	for (size_t k = 0; k < len; k++)
		b[k] = (unsigned char)(i * 29u + k * 13u + (k >> 7));
	return b;
}

static size_t block_len(unsigned i)
{
	return 1000 + (i % 17) * 311;
}

/* Stores blocks [from, to) in a memo of dir and commits. */
static void store(const char *dir, unsigned from, unsigned to)
{
	struct i2k_blockmemo *m = i2k_blockmemo_open(dir);
	for (unsigned i = from; i < to; i++) {
		uint8_t k[32];
		key_of(i, k);
		unsigned char *b = block_of(i, block_len(i));
		i2k_blockmemo_put(m, k, b, block_len(i));
		free(b);
	}
	i2k_blockmemo_commit(m);
	i2k_blockmemo_close(m);
}

/* True when m serves block i with its right bytes. */
static bool has(struct i2k_blockmemo *m, unsigned i)
{
	uint8_t k[32];
	key_of(i, k);
	unsigned char *got = NULL;
	size_t n = 0;
	if (!i2k_blockmemo_get(m, k, &got, &n))
		return false;
	unsigned char *want = block_of(i, block_len(i));
	bool ok = n == block_len(i) && memcmp(got, want, n) == 0;
	free(got);
	free(want);
	return ok;
}

/* How many of blocks [from, to) a fresh memo of dir serves. */
static unsigned count_hits(const char *dir, unsigned from, unsigned to)
{
	struct i2k_blockmemo *m = i2k_blockmemo_open(dir);
	unsigned hits = 0;
	for (unsigned i = from; i < to; i++)
		hits += has(m, i);
	i2k_blockmemo_close(m);
	return hits;
}

static char *new_dir(const char *name)
{
	char *d = i2k_xasprintf("%s/%s", tmpdir, name);
	if (mkdir(d, 0755) != 0)
		perror(d);
	return d;
}

/* Number of lines `cmd` prints. */
static int count_lines(const char *cmd)
{
	char *out = capture(cmd);
	int n = 0;
	for (const char *p = out; p && *p; p++)
		n += *p == '\n';
	free(out);
	return out ? n : -1;
}

/* ---- tests --------------------------------------------------------------- */

TEST(put_get_commit_reopen)
{
	_cleanup_free_ char *dir = new_dir("basic");
	struct i2k_blockmemo *m = i2k_blockmemo_open(dir);
	CHECK(!has(m, 1));
	for (unsigned i = 0; i < 50; i++) {
		uint8_t k[32];
		key_of(i, k);
		unsigned char *b = block_of(i, block_len(i));
		i2k_blockmemo_put(m, k, b, block_len(i));
		i2k_blockmemo_put(m, k, b, block_len(i)); /* twice: stored once */
		free(b);
	}
	CHECK(has(m, 0) && has(m, 49)); /* the same memo sees its own puts */
	CHECK(!has(m, 50));
	_cleanup_free_ char *ls = i2k_xasprintf("ls -A %s", dir);
	CHECK_INT(count_lines(ls), 0); /* nothing named before the commit */
	i2k_blockmemo_commit(m);
	CHECK(has(m, 7));
	i2k_blockmemo_close(m);

	CHECK_INT(count_lines(ls), 1);
	_cleanup_free_ char *name = i2k_xasprintf("ls %s | grep -E '^[0-9a-f]{64}\\.pack$'", dir);
	CHECK_INT(count_lines(name), 1);
	CHECK_INT(count_hits(dir, 0, 60), 50);
	size_t blocks = 0;
	uint64_t bytes = 0;
	i2k_blockmemo_usage(dir, &blocks, &bytes);
	CHECK_INT(blocks, 50);
	CHECK(bytes >= 50 * 1000);

	/* a memo that stored nothing links nothing; one that is closed without
	 * a commit drops its blocks */
	store(dir, 0, 0);
	struct i2k_blockmemo *u = i2k_blockmemo_open(dir);
	uint8_t k[32];
	key_of(70, k);
	unsigned char *b = block_of(70, 10);
	i2k_blockmemo_put(u, k, b, 10);
	free(b);
	i2k_blockmemo_close(u);
	CHECK_INT(count_lines(ls), 1);
	CHECK_INT(count_hits(dir, 70, 71), 0);
	/* the same blocks again: all hits, so no new pack */
	store(dir, 0, 50);
	CHECK_INT(count_lines(ls), 1);
}

/* Every part of a pack is checked: a bad block is a miss, a bad index,
 * footer or length loses the pack, never gives wrong bytes. */
TEST(damage_means_misses)
{
	static const struct {
		const char *what, *cmd; /* $P: the pack */
		unsigned hits;		/* of 20 */
	} cases[] = {
	    {"a byte of block 0", "printf Z | dd of=$P bs=1 seek=3 conv=notrunc 2>/dev/null", 19},
	    {"a byte of the index",
	     "printf Z | dd of=$P bs=1 seek=$(($(stat -c %s $P) - 16 - 48 + 35)) conv=notrunc "
	     "2>/dev/null",
	     0},
	    {"the magic",
	     "printf X | dd of=$P bs=1 seek=$(($(stat -c %s $P) - 1)) conv=notrunc 2>/dev/null", 0},
	    {"the version",
	     "printf '\\002' | dd of=$P bs=1 seek=$(($(stat -c %s $P) - 8)) conv=notrunc "
	     "2>/dev/null",
	     0},
	    {"the count",
	     "printf '\\377\\377\\377\\177' | dd of=$P bs=1 seek=$(($(stat -c %s $P) - 16)) "
	     "conv=notrunc 2>/dev/null",
	     0},
	    {"cut short", "truncate -s -1 $P", 0},
	    {"cut to nothing", "truncate -s 0 $P", 0},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		_cleanup_free_ char *dir = i2k_xasprintf("%s/damage%zu", tmpdir, c);
		CHECK(mkdir(dir, 0755) == 0);
		store(dir, 0, 20);
		CHECK_INT(count_hits(dir, 0, 20), 20);
		_cleanup_free_ char *ls = i2k_xasprintf("ls %s/*.pack | tr -d '\\n'", dir);
		_cleanup_free_ char *pack = capture(ls);
		CHECK(pack != NULL);
		char cmd[1200];
		snprintf(cmd, sizeof(cmd), "P=%s; %s", pack ? pack : "/dev/null", cases[c].cmd);
		CHECK(run(cmd) == 0);
		unsigned hits = count_hits(dir, 0, 20);
		if (hits != cases[c].hits)
			fprintf(stderr, "  %s: %u hits\n", cases[c].what, hits);
		CHECK_INT(hits, cases[c].hits);
		size_t blocks = 99;
		uint64_t bytes = 0;
		i2k_blockmemo_usage(dir, &blocks, &bytes);
		CHECK_INT(blocks, cases[c].hits ? 20 : 0); /* a lost pack counts no blocks */
	}
}

TEST(trim_by_bytes_least_recently_used)
{
	_cleanup_free_ char *dir = new_dir("trim");
	store(dir, 0, 40);   /* pack A */
	store(dir, 40, 80);  /* pack B */
	store(dir, 80, 120); /* pack C */
	_cleanup_free_ char *old = i2k_xasprintf("touch -d 2001-01-01 %s/*.pack", dir);
	CHECK(run(old) == 0);
	/* a hit on B refreshes it at the commit */
	struct i2k_blockmemo *m = i2k_blockmemo_open(dir);
	CHECK(has(m, 50));
	i2k_blockmemo_commit(m);
	i2k_blockmemo_close(m);
	_cleanup_free_ char *recent =
	    i2k_xasprintf("find %s -name '*.pack' -newermt 2002-01-01", dir);
	CHECK_INT(count_lines(recent), 1);

	size_t blocks;
	uint64_t bytes;
	i2k_blockmemo_usage(dir, &blocks, &bytes);
	CHECK_INT(blocks, 120);
	i2k_blockmemo_trim(dir, bytes); /* at the cap: nothing goes */
	CHECK_INT(count_hits(dir, 0, 120), 120);
	/* over: down to 3/4 of the cap, the old packs first (B stays) */
	uint64_t cap = bytes / 10 * 6;
	i2k_blockmemo_trim(dir, cap);
	uint64_t after;
	i2k_blockmemo_usage(dir, &blocks, &after);
	CHECK(after <= cap / 4 * 3);
	CHECK_INT(blocks, 40);
	CHECK_INT(count_hits(dir, 40, 80), 40);
}

TEST(trim_by_pack_count_and_old_layout)
{
	_cleanup_free_ char *dir = new_dir("count");
	unsigned n = I2K_BLOCKMEMO_MAX_PACKS + 10;
	for (unsigned i = 0; i < n; i++)
		store(dir, i, i + 1);
	/* the first ten are the oldest */
	_cleanup_free_ char *age = i2k_xasprintf(
	    "cd %s && for f in $(ls -tr *.pack | head -10); do touch -d 2001-01-01 $f; done", dir);
	CHECK(run(age) == 0);
	/* files of the earlier layout: one block each, never read, deleted */
	_cleanup_free_ char *legacy =
	    i2k_xasprintf("cd %s && head -c 100 /dev/urandom > %064d && head -c 100 /dev/urandom > "
			  "%063d1",
			  dir, 0, 0);
	CHECK(run(legacy) == 0);
	size_t blocks;
	uint64_t bytes;
	i2k_blockmemo_usage(dir, &blocks, &bytes);
	CHECK_INT(blocks, n);
	i2k_blockmemo_trim(dir, 1ull << 40);
	i2k_blockmemo_usage(dir, &blocks, &bytes);
	CHECK_INT(blocks, I2K_BLOCKMEMO_MAX_PACKS / 4 * 3);
	_cleanup_free_ char *ls = i2k_xasprintf("ls %s", dir);
	CHECK_INT(count_lines(ls), I2K_BLOCKMEMO_MAX_PACKS / 4 * 3);
	/* the newest stayed */
	CHECK_INT(count_hits(dir, n - 10, n), 10);
}

TEST(missing_or_unwritable_directory)
{
	struct i2k_blockmemo *m = i2k_blockmemo_open("/nonexistent-i2k-memo");
	uint8_t k[32];
	key_of(1, k);
	i2k_blockmemo_put(m, k, "abc", 3);
	CHECK(!has(m, 1));
	i2k_blockmemo_commit(m);
	i2k_blockmemo_close(m);
	i2k_blockmemo_close(NULL);
	size_t blocks = 9;
	uint64_t bytes = 9;
	i2k_blockmemo_usage("/nonexistent-i2k-memo", &blocks, &bytes);
	CHECK(blocks == 0 && bytes == 0);
	i2k_blockmemo_trim("/nonexistent-i2k-memo", 0);
}

struct writer {
	struct i2k_blockmemo *m;
	unsigned from, to;
};

static void *put_range(void *arg)
{
	struct writer *w = arg;
	for (unsigned i = w->from; i < w->to; i++) {
		uint8_t k[32];
		key_of(i % 300, k); /* the threads overlap on 0..299 */
		unsigned char *b = block_of(i % 300, block_len(i % 300));
		i2k_blockmemo_put(w->m, k, b, block_len(i % 300));
		free(b);
		(void)has(w->m, (i * 7) % 300);
	}
	return NULL;
}

/* Four threads on one memo, two memos on one directory. */
TEST(concurrent_puts_and_two_writers)
{
	_cleanup_free_ char *dir = new_dir("threads");
	struct i2k_blockmemo *a = i2k_blockmemo_open(dir), *b = i2k_blockmemo_open(dir);
	struct writer w[4] = {{a, 0, 200}, {a, 100, 300}, {a, 150, 450}, {b, 500, 520}};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, put_range, &w[i]) == 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* w[3] stored i % 300 for i in 500..519: blocks 200..219 */
	i2k_blockmemo_commit(a);
	i2k_blockmemo_commit(b);
	i2k_blockmemo_close(a);
	i2k_blockmemo_close(b);
	CHECK_INT(count_hits(dir, 0, 300), 300);
	size_t blocks;
	uint64_t bytes;
	i2k_blockmemo_usage(dir, &blocks, &bytes);
	CHECK_INT(blocks, 320); /* 300 in a's pack, 20 in b's */
	_cleanup_free_ char *ls = i2k_xasprintf("ls %s", dir);
	CHECK_INT(count_lines(ls), 2);
}

int main(void)
{
	t_prog = "test_blockmemo";
	make_tmpdir();
	RUN(put_get_commit_reopen);
	RUN(damage_means_misses);
	RUN(trim_by_bytes_least_recently_used);
	RUN(trim_by_pack_count_and_old_layout);
	RUN(missing_or_unwritable_directory);
	RUN(concurrent_puts_and_two_writers);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	run(cmd);
	return TEST_DONE();
}
