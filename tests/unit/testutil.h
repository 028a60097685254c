/* testutil.h — helpers shared by the writer tests (tar, cpio, compress,
 * outputs): an in-memory byte sink, a scratch directory, running an oracle
 * command, saving and reading files. Header-only (static functions) so each
 * test program stays one file plus this. */
#ifndef I2K_TESTS_UNIT_TESTUTIL_H
#define I2K_TESTS_UNIT_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "builder/base/error.h"
#include "builder/base/util.h"
#include "initrd/compress.h"

/* Growable memory sink; fails with "sink full" after fail_after writes
 * when fail_after != 0. */
struct membuf {
	unsigned char *data;
	size_t len, cap;
	size_t calls;
	size_t fail_after;
};

static inline int mem_write(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	struct membuf *m = ctx;
	m->calls++;
	if (m->fail_after && m->calls > m->fail_after)
		return i2k_error_set(err, I2K_ERR_IO, "sink full");
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2 + 64;
		m->data = realloc(m->data, m->cap);
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

static inline struct i2k_ostream mem_stream(struct membuf *m)
{
	return (struct i2k_ostream){.write = mem_write, .ctx = m};
}

/* The test program's scratch directory (each program fills it in main). */
static char tmpdir[256];

/* Creates tmpdir (/tmp/i2k-test-XXXXXX); exits the program if it cannot. */
static inline void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/i2k-test-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
}

/* Runs a shell command; returns its exit status (-1 if it could not run). */
static inline int run(const char *cmd)
{
	int r = system(cmd);
	return r == -1 ? -1 : WEXITSTATUS(r);
}

/* Writes m to tmpdir/name; the full path goes to path. */
static inline int save(const char *name, const struct membuf *m, char *path, size_t n)
{
	snprintf(path, n, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(m->data, 1, m->len, f);
	fclose(f);
	return w == m->len ? 0 : -1;
}

/* Whole small file as a string (caller frees), NULL on error. */
static inline char *read_text(const char *path)
{
	char *s = NULL;
	size_t len = 0;
	struct i2k_error *err = NULL;
	if (i2k_read_file(path, 1 << 20, &s, &len, &err) < 0) {
		i2k_error_free(err);
		return NULL;
	}
	return s;
}

/* Runs cmd with stdout into tmpdir/capture.txt and returns that text
 * (caller frees), NULL if the command failed. */
static inline char *capture(const char *cmd)
{
	char full[4096], out[600];
	snprintf(out, sizeof(out), "%s/capture.txt", tmpdir);
	snprintf(full, sizeof(full), "%s > %s", cmd, out);
	if (run(full) != 0)
		return NULL;
	return read_text(out);
}

#endif
