/* fuzz_layerlog.c — fuzzes layer logs (builder/image/layer.c), what the
 * layer cache replays instead of a layer (builder/image/layercache.h).
 *
 * The input is used twice:
 *   - as a tar layer: applied onto a small lower tree while its log is
 *     recorded, then the log is replayed onto a copy of the lower tree.
 *     Oracle: both trees list the same (paths, modes, owners, links,
 *     xattrs, data digests) — replaying does what applying did;
 *   - as a raw log: decoded, then replayed onto a lower tree. Oracle: no
 *     crash, and a log refused by the decoder leaves the tree unchanged;
 *     read from a file (i2k_layer_log_replay_fd, as the layer cache reads
 *     its index), it gets the same verdict and the same tree; a log the
 *     decoder accepted, applied from the file without a second check
 *     (i2k_layer_log_apply_fd, as the layer cache applies), too.
 *
 * make build/fuzzer/fuzz_layerlog (libFuzzer) or build/fuzz/fuzz_layerlog
 * (-DI2K_FUZZ_MAIN: replays files, tests/fuzz/replay.sh). Seeds: the tar
 * layers of tests/data/image/seeds. */
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

static char *listing(struct i2k_fstree *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		abort();
	struct i2k_error *e = NULL;
	if (i2k_fstree_list(t, f, &e) < 0)
		abort(); /* a tree the API built must list */
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct i2k_spool *sp = NULL;
	struct i2k_error *e = NULL;
	if (i2k_spool_new(NULL, &sp, &e) < 0) {
		i2k_error_free(e);
		return 0;
	}
	/* as a tar layer: apply + record, replay, compare */
	int fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (fd >= 0 && (size == 0 || write(fd, data, size) == (ssize_t)size) &&
	    lseek(fd, 0, SEEK_SET) == 0) {
		struct i2k_fstree *a = lower_tree(sp), *b = lower_tree(sp);
		struct i2k_layer_log log = {0};
		struct i2k_flatten_opts o = {.max_size = 1u << 30, .log = &log};
		if (i2k_layer_apply(fd, NULL, a, &o, &e) == 0) {
			if (i2k_layer_log_replay(log.ops.data, log.ops.len, 0, b, NULL, NULL, NULL,
						 &e) < 0) {
				fprintf(stderr, "replay of a recorded log failed: %s\n", e->msg);
				abort();
			}
			char *la = listing(a), *lb = listing(b);
			if (strcmp(la, lb) != 0) {
				fprintf(stderr, "applied:\n%s\nreplayed:\n%s\n", la, lb);
				abort();
			}
			free(la);
			free(lb);
		}
		i2k_error_free(e);
		e = NULL;
		i2k_layer_log_clear(&log);
		i2k_fstree_free(a);
		i2k_fstree_free(b);
	}
	if (fd >= 0)
		close(fd);
	/* as a raw log */
	struct i2k_fstree *c = lower_tree(sp), *d = lower_tree(sp);
	char *before = listing(c);
	int lfd = memfd_create("log", MFD_CLOEXEC);
	if (lfd < 0 || write(lfd, "x", 1) != 1 || (size && write(lfd, data, size) != (ssize_t)size))
		abort();
	struct i2k_flatten_opts lim = {.max_size = 1u << 30};
	struct i2k_error *fe = NULL;
	int frc = i2k_layer_log_replay_fd(lfd, 1, size, 0, d, &lim, NULL, NULL, &fe);
	if (i2k_layer_log_replay(data, size, 0, NULL, NULL, NULL, NULL, &e) < 0) {
		i2k_error_free(e);
		e = NULL;
		if (i2k_layer_log_replay(data, size, 0, c, NULL, NULL, NULL, &e) == 0)
			abort(); /* the decoder's verdict does not depend on the tree */
		char *after = listing(c);
		if (strcmp(before, after) != 0)
			abort(); /* refused before the tree changed */
		free(after);
	} else {
		(void)i2k_layer_log_replay(data, size, 0, c, &lim, NULL, NULL, &e);
		/* a checked log applied without a second check: the same result */
		struct i2k_fstree *g = lower_tree(sp);
		struct i2k_error *ge = NULL;
		int grc = i2k_layer_log_apply_fd(lfd, 1, size, 0, g, &lim, &ge);
		char *lcv = listing(c), *lg = listing(g);
		if (grc != (e ? -1 : 0) || strcmp(lcv, lg) != 0 ||
		    (ge && e && strcmp(ge->msg, e->msg) != 0))
			abort();
		free(lcv);
		free(lg);
		i2k_error_free(ge);
		i2k_fstree_free(g);
	}
	/* from a file: the same verdict, the same tree */
	int mrc = e ? -1 : 0;
	char *lc = listing(c), *ld = listing(d);
	if (frc != mrc || strcmp(lc, ld) != 0 || (fe && e && strcmp(fe->msg, e->msg) != 0)) {
		fprintf(stderr, "memory %d %s / file %d %s\n", mrc, e ? e->msg : "", frc,
			fe ? fe->msg : "");
		abort();
	}
	free(lc);
	free(ld);
	close(lfd);
	i2k_error_free(fe);
	i2k_fstree_free(d);
	i2k_error_free(e);
	free(before);
	i2k_fstree_free(c);
	i2k_spool_free(sp);
	return 0;
}

#include "tests/fuzz/replay_main.h"
