/* fuzz_tar.c — fuzzes tar layer application (builder/image/layer.c) and the
 * fstree it builds (builder/fstree): bytes → memfd → i2k_layer_apply (gzip,
 * zstd or plain tar, sniffed) onto a tree that already holds a small lower
 * layer, then finalize + walk + listing, checking the tree's invariants.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_tar.c \
 *       builder/image/layer.c builder/fstree/[a-z]*.c builder/base/[a-z]*.c \
 *       $(pkg-config --cflags --libs libarchive jansson libcrypto) -pthread
 *   ./a.out tests/data/image/seeds
 * or, to replay files without libFuzzer: add -DI2K_FUZZ_MAIN (and drop
 * "fuzzer," from -fsanitize) and run `./a.out FILE...`.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/error.h"
#include "builder/fstree/fstree.h"
#include "builder/image/image.h"
#include "tests/fuzz/lower_tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk_stats {
	size_t n;
	uint64_t bytes; /* logical file sizes (sparse files can be huge) */
};

static int check_entry(const struct i2k_walk_entry *e, void *ctx)
{
	struct walk_stats *ws = ctx;
	ws->n++;
	if (S_ISREG(e->inode->mode) && e->first)
		ws->bytes += e->inode->size;
	if (e->depth == 0)
		return 0;
	const char *nm = e->name;
	/* no empty, ".", ".." or slash-containing names; no whiteout leftovers */
	if (nm[0] == '\0' || strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 || strchr(nm, '/') ||
	    strncmp(nm, ".wh.", 4) == 0)
		abort();
	if (e->first != (e->link_path == NULL))
		abort();
	if (!e->first && S_ISDIR(e->inode->mode))
		abort(); /* directories are never hard links */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct i2k_spool *sp = NULL;
	struct i2k_error *e = NULL;
	if (i2k_spool_new(NULL, &sp, &e) < 0) {
		i2k_error_free(e);
		return 0;
	}
	/* a lower layer for whiteouts, replacements and hard links to hit */
	struct i2k_fstree *t = lower_tree(sp);
	i2k_fstree_begin_layer(t);

	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd >= 0) {
		size_t done = 0;
		while (done < size) {
			ssize_t w = write(fd, data + done, size - done);
			if (w <= 0)
				break;
			done += (size_t)w;
		}
		lseek(fd, 0, SEEK_SET);
		/* odd sizes: devices refused and an expansion limit of 1 GiB */
		struct i2k_flatten_opts opts = {.reject_devices = size % 2 == 1,
						.max_size = size % 2 == 1 ? 1ull << 30 : 0};
		int r = i2k_layer_apply(fd, "", t, &opts, &e);
		if (r < 0 && (e == NULL || e->msg == NULL))
			abort(); /* contract: failures carry an error */
		if (r == 0 && e != NULL)
			abort();
		i2k_error_free(e);
		e = NULL;
		close(fd);
	}
	/* whatever happened, the tree stays consistent */
	i2k_fstree_finalize(t);
	struct walk_stats ws = {0};
	i2k_fstree_walk(t, true, check_entry, &ws);
	if (ws.n != i2k_fstree_count(t))
		abort();
	FILE *devnull = ws.bytes < (64u << 20) ? fopen("/dev/null", "w") : NULL;
	if (devnull) {
		if (i2k_fstree_list(t, devnull, &e) < 0)
			i2k_error_free(e);
		fclose(devnull);
	}
	i2k_fstree_free(t);
	i2k_spool_free(sp);
	return 0;
}

#include "tests/fuzz/replay_main.h"
