/* nodemem.c — see nodemem.h.
 *
 * Small blocks (up to SMALL_MAX) are carved from CHUNK-sized mappings:
 * 16-byte classes up to 1 KiB, then powers of two. A freed block goes on
 * its class's free list (the link lives in the block). Bigger blocks get a
 * mapping each, whose file range is punched out when freed.
 */
#include "builder/fstree/nodemem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "builder/base/util.h"

#define CHUNK (4u << 20)
#define SMALL_MAX (1u << 20)
#define FINE_MAX 1024u		     /* 16-byte classes up to here */
#define FINE_CLASSES (FINE_MAX / 16) /* 16, 32, ..., 1024 */
#define NCLASSES (FINE_CLASSES + 10) /* then 2 KiB ... 1 MiB */
#define CHECK_EVERY 256		     /* ops between two looks at statm */

struct mapping {
	char *base;
	size_t size;
	int64_t off; /* file offset, -1 for anonymous memory */
};

static struct {
	pthread_mutex_t mu;
	int fd;	      /* the file; -1 none (yet), -2 cannot be made */
	int statm;    /* /proc/self/statm; -1 not open (yet), -2 unavailable */
	uint64_t end; /* the file's size */
	char *cur;    /* bump pointer in the newest chunk */
	size_t left;  /* bytes left there */
	bool reused;  /* that chunk held blocks before a free_all: not zero */
	void *free_list[NCLASSES];
	struct mapping *chunks, *bigs;
	size_t nchunks, nbigs, cap_chunks, cap_bigs;
	size_t in_use, trims;
	size_t ops;	    /* allocations and touches since the last look (atomic) */
	size_t mapped_base; /* file-backed resident bytes after the last trim */
} nm = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .statm = -1};

static size_t class_of(size_t size, size_t *csize)
{
	if (size <= FINE_MAX) {
		size_t c = size ? (size - 1) / 16 : 0;
		*csize = (c + 1) * 16;
		return c;
	}
	size_t c = FINE_CLASSES, s = 2 * FINE_MAX;
	while (s < size) {
		s *= 2;
		c++;
	}
	*csize = s;
	return c;
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (n + pg - 1) / pg * pg;
}

/* A new mapping of size bytes (a multiple of the page size): a range of
 * the file when it can be made and grown, else anonymous memory. */
static struct mapping map_new(size_t size)
{
	if (nm.fd == -1) {
		nm.fd = i2k_tmpfile(NULL, "tree metadata", NULL);
		if (nm.fd < 0)
			nm.fd = -2;
	}
	if (nm.fd >= 0 && posix_fallocate(nm.fd, (off_t)nm.end, (off_t)size) == 0) {
		void *p =
		    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, nm.fd, (off_t)nm.end);
		if (p != MAP_FAILED) {
			struct mapping m = {.base = p, .size = size, .off = (int64_t)nm.end};
			nm.end += size;
			return m;
		}
	}
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		abort();
	return (struct mapping){.base = p, .size = size, .off = -1};
}

static void list_add(struct mapping **v, size_t *n, size_t *cap, struct mapping m)
{
	i2k_xgrow((void **)v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = m;
}

/* Called with nm.mu held. */
static void *alloc_locked(size_t size)
{
	size_t csize;
	if (size > SMALL_MAX) {
		struct mapping m = map_new(page_round(size));
		list_add(&nm.bigs, &nm.nbigs, &nm.cap_bigs, m);
		nm.in_use += m.size;
		return m.base; /* fresh file range or anonymous memory: zero */
	}
	size_t c = class_of(size, &csize);
	nm.in_use += csize;
	void *p = nm.free_list[c];
	if (p != NULL) {
		memcpy(&nm.free_list[c], p, sizeof(void *));
		memset(p, 0, csize);
		return p;
	}
	if (nm.left < csize) {
		struct mapping m = map_new(CHUNK);
		list_add(&nm.chunks, &nm.nchunks, &nm.cap_chunks, m);
		nm.cur = m.base;
		nm.left = m.size;
		nm.reused = false;
	}
	p = nm.cur; /* never handed out before: zero, unless reused */
	if (nm.reused)
		memset(p, 0, csize);
	nm.cur += csize;
	nm.left -= csize;
	return p;
}

/* Called with nm.mu held. */
static void free_locked(void *p, size_t size)
{
	size_t csize;
	if (size > SMALL_MAX) {
		for (size_t i = 0; i < nm.nbigs; i++) {
			struct mapping m = nm.bigs[i];
			if (m.base != p)
				continue;
			munmap(m.base, m.size);
			if (m.off >= 0)
				fallocate(nm.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  (off_t)m.off, (off_t)m.size);
			nm.bigs[i] = nm.bigs[--nm.nbigs];
			nm.in_use -= m.size;
			return;
		}
		abort(); /* not a block of ours: a bug */
	}
	size_t c = class_of(size, &csize);
	memcpy(p, &nm.free_list[c], sizeof(void *));
	nm.free_list[c] = p;
	nm.in_use -= csize;
}

/* Resident file-backed bytes of this process (statm's third field); 0
 * when /proc is not there. */
static size_t mapped_file_bytes(void)
{
	if (nm.statm == -1) {
		nm.statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
		if (nm.statm < 0)
			nm.statm = -2;
	}
	if (nm.statm < 0)
		return 0;
	char buf[128];
	ssize_t n = pread(nm.statm, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	unsigned long size, resident, shared;
	if (sscanf(buf, "%lu %lu %lu", &size, &resident, &shared) != 3)
		return 0;
	return (size_t)shared * (size_t)sysconf(_SC_PAGESIZE);
}

static void trim_locked(void)
{
	for (size_t i = 0; i < nm.nchunks; i++)
		if (nm.chunks[i].off >= 0)
			madvise(nm.chunks[i].base, nm.chunks[i].size, MADV_DONTNEED);
	for (size_t i = 0; i < nm.nbigs; i++)
		if (nm.bigs[i].off >= 0)
			madvise(nm.bigs[i].base, nm.bigs[i].size, MADV_DONTNEED);
	nm.trims++;
	nm.mapped_base = mapped_file_bytes();
}

/* Every CHECK_EVERY ops: trims when the mapped file pages grew past the
 * budget. Without /proc, every 16th look trims. Called with nm.mu held. */
static void look_locked(void)
{
	static unsigned blind;
	if (nm.end == 0)
		return;
	size_t now = mapped_file_bytes();
	if (now == 0 ? ++blind % 16 == 0 : now > nm.mapped_base + I2K_NODEMEM_BUDGET)
		trim_locked();
	else if (now != 0 && now < nm.mapped_base)
		nm.mapped_base = now; /* something else unmapped: follow it down */
}

void *i2k_nodemem_alloc(size_t size)
{
	pthread_mutex_lock(&nm.mu);
	void *p = alloc_locked(size);
	pthread_mutex_unlock(&nm.mu);
	i2k_nodemem_touch(1);
	return p;
}

void i2k_nodemem_free(void *p, size_t size)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&nm.mu);
	free_locked(p, size);
	pthread_mutex_unlock(&nm.mu);
}

void *i2k_nodemem_realloc(void *p, size_t old_size, size_t new_size)
{
	if (p == NULL)
		return i2k_nodemem_alloc(new_size);
	size_t oc, nc;
	if (old_size <= SMALL_MAX && new_size <= SMALL_MAX &&
	    class_of(old_size, &oc) == class_of(new_size, &nc)) {
		if (new_size > old_size)
			memset((char *)p + old_size, 0, new_size - old_size);
		return p;
	}
	void *q = i2k_nodemem_alloc(new_size);
	memcpy(q, p, old_size < new_size ? old_size : new_size);
	i2k_nodemem_free(p, old_size);
	return q;
}

char *i2k_nodemem_strdup(const char *s)
{
	return s ? i2k_nodemem_memdup(s, strlen(s) + 1) : NULL;
}

void *i2k_nodemem_memdup(const void *p, size_t n)
{
	void *q = i2k_nodemem_alloc(n);
	if (n)
		memcpy(q, p, n);
	return q;
}

/* Keeps the first chunk when it starts the file (the next trees reuse it:
 * a process that makes and frees small trees does not map and unmap a
 * chunk each time); everything else is unmapped and the file cut short. */
void i2k_nodemem_free_all(void)
{
	pthread_mutex_lock(&nm.mu);
	bool keep = nm.nchunks > 0 && nm.chunks[0].off <= 0;
	for (size_t i = keep ? 1 : 0; i < nm.nchunks; i++)
		munmap(nm.chunks[i].base, nm.chunks[i].size);
	for (size_t i = 0; i < nm.nbigs; i++)
		munmap(nm.bigs[i].base, nm.bigs[i].size);
	nm.nchunks = keep ? 1 : 0;
	nm.nbigs = 0;
	uint64_t end = keep && nm.chunks[0].off == 0 ? nm.chunks[0].size : 0;
	if (nm.fd >= 0 && ftruncate(nm.fd, (off_t)end) == 0)
		nm.end = end;
	nm.cur = keep ? nm.chunks[0].base : NULL;
	nm.left = keep ? nm.chunks[0].size : 0;
	nm.reused = keep;
	if (keep) /* its pages go (anonymous ones too): the next blocks are zeroed anyway */
		madvise(nm.chunks[0].base, nm.chunks[0].size, MADV_DONTNEED);
	memset(nm.free_list, 0, sizeof(nm.free_list));
	nm.in_use = 0;
	nm.mapped_base = mapped_file_bytes();
	pthread_mutex_unlock(&nm.mu);
}

void i2k_nodemem_touch(size_t nodes)
{
	if (__atomic_add_fetch(&nm.ops, nodes, __ATOMIC_RELAXED) < CHECK_EVERY)
		return;
	pthread_mutex_lock(&nm.mu);
	if (nm.ops >= CHECK_EVERY) { /* not taken by another thread meanwhile */
		__atomic_store_n(&nm.ops, 0, __ATOMIC_RELAXED);
		look_locked();
	}
	pthread_mutex_unlock(&nm.mu);
}

void i2k_nodemem_trim(void)
{
	pthread_mutex_lock(&nm.mu);
	trim_locked();
	pthread_mutex_unlock(&nm.mu);
}

void i2k_nodemem_stats(struct i2k_nodemem_stats *st)
{
	pthread_mutex_lock(&nm.mu);
	memset(st, 0, sizeof(*st));
	for (size_t k = 0; k < 2; k++) {
		const struct mapping *v = k ? nm.bigs : nm.chunks;
		size_t n = k ? nm.nbigs : nm.nchunks;
		for (size_t i = 0; i < n; i++) {
			if (v[i].off >= 0) {
				st->file_chunks++;
				st->file_bytes += v[i].size;
			} else {
				st->anon_chunks++;
				st->anon_bytes += v[i].size;
			}
		}
	}
	st->in_use = nm.in_use;
	st->trims = nm.trims;
	pthread_mutex_unlock(&nm.mu);
}
