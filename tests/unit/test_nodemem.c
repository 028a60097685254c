/* test_nodemem.c — builder/fstree/nodemem.c: the tree's file-backed node
 * memory. Blocks are zeroed, aligned and reused by size class; their
 * contents survive trims (the pages go back to the page cache, not away);
 * the mapped size stays near the budget however much is allocated or
 * read; a file that cannot grow gives anonymous memory instead. */
#include "builder/fstree/nodemem.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "tests/unit/test.h"

/* This process's resident file-backed bytes (/proc/self/statm). */
static size_t mapped_file(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long a = 0, b = 0, c = 0;
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &a, &b, &c) != 3)
			c = 0;
		fclose(f);
	}
	return (size_t)c * (size_t)sysconf(_SC_PAGESIZE);
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 131 + i * 7);
}

static bool filled(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)(seed * 131 + i * 7))
			return false;
	return true;
}

static bool zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

TEST(zeroed_aligned_reused)
{
	static const size_t sizes[] = {0,    1,	   15,	 16,   17,    88,
				       1000, 1024, 1025, 4096, 70000, 1 << 20};
	void *p[I2K_ARRAY_SIZE(sizes)];
	for (size_t i = 0; i < I2K_ARRAY_SIZE(sizes); i++) {
		p[i] = i2k_nodemem_alloc(sizes[i]);
		CHECK(((uintptr_t)p[i] & 15) == 0);
		CHECK(zero(p[i], sizes[i]));
		fill(p[i], sizes[i], (unsigned)i);
	}
	for (size_t i = 0; i < I2K_ARRAY_SIZE(sizes); i++)
		CHECK(filled(p[i], sizes[i], (unsigned)i));
	/* a freed block is the next one of its class, zeroed again */
	i2k_nodemem_free(p[5], sizes[5]);
	void *q = i2k_nodemem_alloc(90); /* same 96-byte class as 88 */
	CHECK(q == p[5]);
	CHECK(zero(q, 90));
	p[5] = q;
	struct i2k_nodemem_stats st;
	i2k_nodemem_stats(&st);
	CHECK(st.in_use > 0);
	size_t before = st.in_use;
	i2k_nodemem_free(p[5], 90);
	i2k_nodemem_stats(&st);
	CHECK_INT(st.in_use, before - 96);
	for (size_t i = 0; i < I2K_ARRAY_SIZE(sizes); i++)
		if (i != 5)
			i2k_nodemem_free(p[i], sizes[i]);
	i2k_nodemem_stats(&st);
	CHECK_INT(st.in_use, 0);
	CHECK(st.file_chunks > 0); /* $TMPDIR is writable here */
}

TEST(big_blocks)
{
	size_t n = (3u << 20) + 5; /* past the chunk classes: a mapping of its own */
	unsigned char *p = i2k_nodemem_alloc(n);
	CHECK(zero(p, n));
	fill(p, n, 9);
	unsigned char *q = i2k_nodemem_realloc(p, n, 2 * n); /* moves, keeps the bytes */
	CHECK(filled(q, n, 9));
	CHECK(zero(q + n, n));
	struct i2k_nodemem_stats st;
	i2k_nodemem_stats(&st);
	CHECK(st.in_use >= 2 * n);
	i2k_nodemem_free(q, 2 * n);
	i2k_nodemem_stats(&st);
	CHECK_INT(st.in_use, 0);
}

TEST(realloc_keeps_prefix)
{
	char *p = i2k_nodemem_realloc(NULL, 0, 10);
	CHECK(zero(p, 10));
	memcpy(p, "abcdefghij", 10);
	char *q = i2k_nodemem_realloc(p, 10, 12); /* same class: in place, tail zeroed */
	CHECK(q == p);
	CHECK(memcmp(q, "abcdefghij\0\0", 12) == 0);
	q = i2k_nodemem_realloc(q, 12, 5); /* shrink in place */
	CHECK(memcmp(q, "abcde", 5) == 0);
	q = i2k_nodemem_realloc(q, 5, 12); /* what was past 5 reads as zero */
	CHECK(memcmp(q, "abcde\0\0\0\0\0\0\0", 12) == 0);
	char *r = i2k_nodemem_realloc(q, 12, 5000); /* another class */
	CHECK(memcmp(r, "abcde", 5) == 0);
	CHECK(zero(r + 5, 4995));
	i2k_nodemem_free(r, 5000);
	char *s = i2k_nodemem_strdup("node");
	CHECK_STR(s, "node");
	i2k_nodemem_free(s, 5);
	CHECK(i2k_nodemem_strdup(NULL) == NULL);
	i2k_nodemem_free(NULL, 7); /* ignored */
}

#define NBLOCKS 120000 /* 120,000 blocks of 200 bytes: 24 MB, 6x the budget */

TEST(budget_bounds_the_mapping)
{
	i2k_nodemem_trim();
	size_t base = mapped_file(), worst = 0;
	unsigned char **v = calloc(NBLOCKS, sizeof(*v));
	for (size_t i = 0; i < NBLOCKS; i++) {
		v[i] = i2k_nodemem_alloc(200);
		fill(v[i], 200, (unsigned)i);
		if (i % 1000 == 0 && mapped_file() > base + worst)
			worst = mapped_file() - base;
	}
	/* the budget, plus what 256 allocations between two looks can map */
	CHECK(worst <= I2K_NODEMEM_BUDGET + (1u << 20));
	if (worst > I2K_NODEMEM_BUDGET + (1u << 20))
		fprintf(stderr, "allocating: %zu KiB mapped above the start\n", worst >> 10);
	struct i2k_nodemem_stats st;
	i2k_nodemem_stats(&st);
	CHECK(st.trims >= 4);
	CHECK(st.file_bytes >= (size_t)NBLOCKS * 208);
	/* a reading pass that says what it reads stays bounded too */
	worst = 0;
	bool all = true;
	for (size_t i = 0; i < NBLOCKS; i++) {
		i2k_nodemem_touch(1);
		all = all && filled(v[i], 200, (unsigned)i);
		if (i % 1000 == 0 && mapped_file() > base + worst)
			worst = mapped_file() - base;
	}
	CHECK(all);
	CHECK(worst <= I2K_NODEMEM_BUDGET + (1u << 20));
	/* an explicit trim unmaps; the contents come back from the page cache */
	size_t before = mapped_file();
	i2k_nodemem_trim();
	CHECK(mapped_file() < before);
	all = true;
	for (size_t i = 0; i < NBLOCKS; i += 97)
		all = all && filled(v[i], 200, (unsigned)i);
	CHECK(all);
	for (size_t i = 0; i < NBLOCKS; i++)
		i2k_nodemem_free(v[i], 200);
	free(v);
}

TEST(free_all)
{
	for (int i = 0; i < 1000; i++)
		fill(i2k_nodemem_alloc(300), 300, 1);
	i2k_nodemem_free_all();
	struct i2k_nodemem_stats st;
	i2k_nodemem_stats(&st);
	CHECK_INT(st.in_use, 0);
	CHECK_INT(st.file_chunks + st.anon_chunks, 1); /* one chunk kept for reuse */
	CHECK(st.file_bytes <= (4u << 20));
	/* blocks from the kept chunk are zero again, and so are later ones */
	bool all = true;
	for (int i = 0; i < 20000; i++) {
		char *p = i2k_nodemem_alloc(300);
		all = all && zero(p, 300);
		fill(p, 300, 2);
	}
	CHECK(all);
	i2k_nodemem_free_all();
}

/* With the file unable to grow (as on a full disk), blocks come from
 * anonymous memory, and a trim leaves them alone. */
TEST(full_disk_gives_anonymous_memory)
{
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct i2k_nodemem_stats st;
		i2k_nodemem_stats(&st);
		struct rlimit rl = {.rlim_cur = st.file_bytes, .rlim_max = RLIM_INFINITY};
		setrlimit(RLIMIT_FSIZE, &rl);
		enum { N = 40000 };
		static unsigned char *v[N];
		for (size_t i = 0; i < N; i++) {
			v[i] = i2k_nodemem_alloc(200);
			fill(v[i], 200, (unsigned)i);
		}
		i2k_nodemem_trim();
		i2k_nodemem_stats(&st);
		int bad = st.anon_chunks == 0;
		for (size_t i = 0; i < N; i++)
			bad |= !filled(v[i], 200, (unsigned)i);
		_exit(bad);
	}
	int status = -1;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void *hammer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	unsigned char *v[512] = {0};
	size_t sz[512];
	uintptr_t bad = 0;
	for (unsigned r = 0; r < 40000; r++) {
		unsigned k = (seed * 2654435761u + r * 40503u) % 512;
		if (v[k]) {
			bad |= !filled(v[k], sz[k], seed + k);
			i2k_nodemem_free(v[k], sz[k]);
		}
		sz[k] = 16 + (r * 37 + seed) % 3000;
		v[k] = i2k_nodemem_alloc(sz[k]);
		fill(v[k], sz[k], seed + k);
		i2k_nodemem_touch(3);
	}
	for (unsigned k = 0; k < 512; k++)
		if (v[k]) {
			bad |= !filled(v[k], sz[k], seed + k);
			i2k_nodemem_free(v[k], sz[k]);
		}
	return (void *)bad;
}

TEST(threads)
{
	pthread_t th[4];
	for (uintptr_t i = 0; i < 4; i++)
		CHECK(pthread_create(&th[i], NULL, hammer, (void *)(i + 1)) == 0);
	for (int i = 0; i < 4; i++) {
		void *bad = (void *)1;
		pthread_join(th[i], &bad);
		CHECK(bad == NULL);
	}
	struct i2k_nodemem_stats st;
	i2k_nodemem_stats(&st);
	CHECK_INT(st.in_use, 0);
}

int main(void)
{
	t_prog = "nodemem";
	RUN(zeroed_aligned_reused);
	RUN(big_blocks);
	RUN(realloc_keeps_prefix);
	RUN(budget_bounds_the_mapping);
	RUN(free_all);
	RUN(full_disk_gives_anonymous_memory);
	RUN(threads);
	return TEST_DONE();
}
