/* fuzz_roundtrip.c — round trips of the file-system writers: a random tree
 * derived from the input (directories, files of 0..64 KiB, symlinks, hard
 * links; names, permission bits incl. setuid/sticky) is written as cpio
 * (initrd/cpio.c), squashfs, ext4, FAT and ISO 9660 + Rock Ridge
 * (formats/fs/) and read back with the real tools by
 * tests/fuzz/roundtrip_check.py: cpio -itv, unsquashfs -lln, e2fsck -fn +
 * debugfs ls -p, fsck.fat -n + mdir -/, xorriso -find -exec lsdl. The
 * listing (names, types, permissions, sizes, symlink targets — what each
 * format can hold) must equal what was put in; a writer error other than
 * "cannot hold" aborts too.
 *
 * Slow (five tools per input): `make fuzz` runs it apart from the parser
 * harnesses for ROUNDTRIP_TIME s; CI for ROUNDTRIP_RUNS=30 inputs. One
 * checker process serves the whole run (python starts slowly).
 *
 * Input: records of 6 bytes + payload until the input or 48 entries end:
 *   kind (% 4: dir, file, symlink, hard link), parent (index among the
 *   directories so far), name length (1 + n % 24) + name bytes (mapped to
 *   [a-z0-9._-]), perm (2 bytes, & 07777), then for a file its size (2
 *   bytes, data is a pattern), for a symlink a target length (1 + n % 80)
 *   + bytes (mapped to [a-z0-9._/-]), for a hard link the file it names.
 * Temporary files go to TMPDIR (default /dev/shm when writable).
 *
 * make build/fuzzer/fuzz_roundtrip (libFuzzer) or build/fuzz/fuzz_roundtrip
 * (-DI2K_FUZZ_MAIN: replays files, tests/fuzz/replay.sh). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/error.h"
#include "builder/base/util.h"
#include "builder/fstree/fstree.h"
#include "builder/fstree/spool.h"
#include "formats/fs/ext4.h"
#include "formats/fs/fat.h"
#include "formats/fs/iso9660.h"
#include "formats/fs/squashfs.h"
#include "formats/sink.h"
#include "initrd/compress.h"
#include "initrd/cpio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTS 48
#define MAX_DATA (1u << 20)

struct ent {
	char path[512];
	int kind; /* 0 dir, 1 file, 2 symlink, 3 hard link */
	uint32_t perm;
	uint32_t size;
	char target[96];
	int link_to; /* hard link: index of the file */
};

struct spec {
	struct ent e[MAX_ENTS];
	int n;
};

static const char name_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789._-";
static const char target_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789._/-";

static void parse(const uint8_t *d, size_t n, struct spec *s)
{
	size_t p = 0;
	int dirs[MAX_ENTS + 1], ndirs = 1, files[MAX_ENTS], nfiles = 0;
	uint32_t data = 0;
	dirs[0] = -1; /* the root */
	s->n = 0;
	while (p + 6 <= n && s->n < MAX_ENTS) {
		struct ent *e = &s->e[s->n];
		memset(e, 0, sizeof(*e));
		e->kind = d[p] % 4;
		int parent = dirs[d[p + 1] % ndirs];
		size_t nl = 1 + d[p + 2] % 24;
		e->perm = (uint32_t)(d[p + 3] | d[p + 4] << 8) & 07777;
		uint8_t extra = d[p + 5];
		p += 6;
		char name[32];
		for (size_t i = 0; i < nl; i++)
			name[i] = name_chars[(p < n ? d[p++] : i) % (sizeof(name_chars) - 1)];
		name[nl] = 0;
		if (strspn(name, ".") == nl)
			name[0] = 'x'; /* never "." or ".." */
		snprintf(e->path, sizeof(e->path), "%s%s%s", parent < 0 ? "" : s->e[parent].path,
			 parent < 0 ? "" : "/", name);
		bool dup = false;
		for (int i = 0; i < s->n; i++)
			if (strcasecmp(s->e[i].path, e->path) == 0) /* FAT folds case */
				dup = true;
		if (dup || strlen(e->path) > 200)
			continue;
		if (e->kind == 3 && nfiles == 0)
			e->kind = 1;
		if (e->kind == 1) {
			e->size = (uint32_t)extra << 8 | (p < n ? d[p++] : 0);
			if (data + e->size > MAX_DATA)
				e->size = 0;
			data += e->size;
		} else if (e->kind == 2) {
			size_t tl = 1 + extra % 80;
			for (size_t i = 0; i < tl; i++)
				e->target[i] =
				    target_chars[(p < n ? d[p++] : i) % (sizeof(target_chars) - 1)];
		} else if (e->kind == 3) {
			e->link_to = files[extra % nfiles];
		}
		if (e->kind == 0)
			dirs[ndirs++] = s->n;
		if (e->kind == 1)
			files[nfiles++] = s->n;
		s->n++;
	}
}

static void pattern(uint8_t *b, uint32_t len, uint32_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)((i * 2654435761u + seed * 40503u) >> 11);
}

/* The tree of spec for a format: FAT has no symlinks (they become files of
 * the target's bytes) and no hard links (copies). */
static struct i2k_fstree *build(const struct spec *s, struct i2k_spool *sp, bool fat)
{
	struct i2k_fstree *t = i2k_fstree_new(sp);
	static uint8_t buf[1 << 16];
	for (int i = 0; i < s->n; i++) {
		const struct ent *e = &s->e[i];
		struct i2k_error *err = NULL;
		struct i2k_fattr a = {.mtime = 1700000000};
		int kind = e->kind;
		const struct ent *src = kind == 3 ? &s->e[e->link_to] : e;
		if (fat && kind == 3)
			kind = 1;
		if (kind == 3) {
			if (i2k_fstree_link(t, e->path, src->path, 0, &err) < 0)
				abort();
			continue;
		}
		uint64_t off = 0, len = 0;
		const char *target = NULL;
		if (kind == 0) {
			a.mode = S_IFDIR | e->perm;
		} else if (kind == 1) {
			a.mode = S_IFREG | src->perm;
			len = src->size;
			pattern(buf, (uint32_t)len, (uint32_t)(src - s->e));
		} else if (fat) {
			a.mode = S_IFREG | 0644;
			len = strlen(e->target);
			memcpy(buf, e->target, len);
		} else {
			a.mode = S_IFLNK | 0777;
			target = e->target;
		}
		if (len && i2k_spool_append(sp, buf, len, &off, &err) < 0)
			abort();
		if (i2k_fstree_add(t, e->path, &a, target, off, len, 0, NULL, &err) < 0) {
			fprintf(stderr, "add %s: %s\n", e->path, err->msg);
			abort();
		}
	}
	return t;
}

/* The expected listing: "path type perm size target" lines. */
static void write_expected(const struct spec *s, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	for (int i = 0; i < s->n; i++) {
		const struct ent *e = &s->e[i];
		const struct ent *src = e->kind == 3 ? &s->e[e->link_to] : e;
		static const char types[] = "dflh";
		fprintf(f, "%s %c %04o %u %s\n", e->path, types[e->kind],
			e->kind == 2 ? 0777 : src->perm,
			e->kind == 2 ? (unsigned)strlen(e->target) : src->size,
			e->kind == 2   ? e->target
			: e->kind == 3 ? src->path
				       : "-");
	}
	fclose(f);
}

static int fd_write(void *ctx, const void *buf, size_t len, struct i2k_error **err)
{
	int fd = *(int *)ctx;
	if (write(fd, buf, len) != (ssize_t)len)
		return i2k_error_set(err, I2K_ERR_IO, "write: short");
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* Writes the image of format fmt into dir/img.FMT; 1 when written, 0 when
 * the writer refused the tree for a reason the format has ("cannot
 * hold", a name FAT or ISO cannot take), abort otherwise. */
static int write_image(const char *fmt, struct i2k_fstree *t, const char *img)
{
	struct i2k_error *err = NULL;
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		abort();
	struct i2k_sink *sink = NULL;
	int rc = 0;
	uint64_t size = 0;
	if (strcmp(fmt, "cpio") == 0) {
		struct i2k_ostream os = {.write = fd_write, .ctx = &fd};
		rc = i2k_cpio_write_tree(t, NULL, os, &err);
	} else if (strcmp(fmt, "squashfs") == 0) {
		struct i2k_squashfs_opts o = {.mtime = 1700000000, .threads = 1};
		rc = i2k_sink_file_new(fd, 0, 64u << 20, img, &sink, &err);
		uint64_t used = 0;
		if (rc == 0)
			rc = i2k_squashfs_write(t, &o, sink, &used, &err);
		if (rc == 0 && ftruncate(fd, (off_t)used) < 0)
			abort();
	} else if (strcmp(fmt, "ext4") == 0) {
		struct i2k_ext4_opts o = {.epoch = 1700000000, .no_journal = true};
		rc = i2k_ext4_size_for(t, &o, &size, &err);
		if (rc == 0)
			rc = i2k_sink_file_new(fd, 0, size, img, &sink, &err);
		if (rc == 0)
			rc = i2k_ext4_write(t, &o, sink, &err);
	} else if (strcmp(fmt, "fat") == 0) {
		size = i2k_fat_size_for(t);
		rc = i2k_sink_file_new(fd, 0, size, img, &sink, &err);
		if (rc == 0)
			rc = i2k_fat_write(t, NULL, sink, &err);
	} else {
		struct i2k_iso_opts o = {0};
		rc = i2k_iso_size_for(t, &o, &size, &err);
		if (rc == 0)
			rc = i2k_sink_file_new(fd, 0, size, img, &sink, &err);
		if (rc == 0)
			rc = i2k_iso_write(t, &o, sink, NULL, &err);
	}
	if (rc == 0 && sink)
		rc = i2k_sink_finish(sink, &err);
	i2k_sink_free(sink);
	close(fd);
	if (rc < 0) {
		const char *m = err && err->msg ? err->msg : "?";
		/* limits a format has, not bugs */
		bool refusal =
		    err && (err->code == I2K_ERR_UNSUPPORTED || strstr(m, "cannot hold") ||
			    strstr(m, "name") || strstr(m, "too deep"));
		if (!refusal || getenv("I2K_FUZZ_DEBUG"))
			fprintf(stderr, "%s writer: %s\n", fmt, m);
		if (!refusal)
			abort();
		i2k_error_free(err);
		return 0;
	}
	return 1;
}

/* Asks the checker (one python process for the whole run, started on
 * first use) to compare img with the expected listing; true when equal.
 * Raw reads and writes retried on EINTR: libFuzzer's timeout timer
 * (SIGALRM) interrupts them. */
static bool check(const char *checker, const char *fmt, const char *img, const char *expected)
{
	static int to = -1, from = -1;
	if (to < 0) {
		int in[2], out[2];
		if (pipe(in) < 0 || pipe(out) < 0)
			abort();
		pid_t pid = fork();
		if (pid < 0)
			abort();
		if (pid == 0) {
			dup2(in[0], 0);
			dup2(out[1], 1);
			close(in[0]);
			close(in[1]);
			close(out[0]);
			close(out[1]);
			execlp("python3", "python3", checker, "--serve", (char *)NULL);
			_exit(127);
		}
		close(in[0]);
		close(out[1]);
		to = in[1];
		from = out[0];
	}
	char req[1024];
	int n = snprintf(req, sizeof(req), "%s %s %s\n", fmt, img, expected);
	if (n < 0 || (size_t)n >= sizeof(req))
		abort();
	for (int done = 0; done < n;) {
		ssize_t w = write(to, req + done, (size_t)(n - done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto dead;
		done += (int)w;
	}
	char c = 0, first = 0;
	for (int i = 0; c != '\n';) {
		ssize_t r = read(from, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto dead;
		if (i++ == 0)
			first = c;
	}
	return first == '0';
dead:
	fprintf(stderr, "the round-trip checker %s is not running\n", checker);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spec s;
	parse(data, size, &s);
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !tmp[0])
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/i2k-fuzz-rt-XXXXXX", tmp);
	if (!mkdtemp(dir))
		abort();
	char expected[300], img[300];
	snprintf(expected, sizeof(expected), "%s/expected", dir);
	write_expected(&s, expected);
	static const char *const fmts[] = {"cpio", "squashfs", "ext4", "fat", "iso"};
	const char *checker = getenv("I2K_ROUNDTRIP_CHECK");
	if (!checker)
		checker = "tests/fuzz/roundtrip_check.py";
	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
		struct i2k_spool *sp = NULL;
		struct i2k_error *err = NULL;
		if (i2k_spool_new(NULL, &sp, &err) < 0)
			abort();
		struct i2k_fstree *t = build(&s, sp, strcmp(fmts[f], "fat") == 0);
		snprintf(img, sizeof(img), "%s/img.%s", dir, fmts[f]);
		int written = write_image(fmts[f], t, img);
		i2k_fstree_free(t);
		i2k_spool_free(sp);
		if (!written)
			continue;
		if (!check(checker, fmts[f], img, expected)) {
			fprintf(stderr, "%s round trip differs (files kept in %s)\n", fmts[f], dir);
			abort();
		}
		if (getenv("I2K_FUZZ_DEBUG"))
			fprintf(stderr, "%s: checked\n", fmts[f]);
	}
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

#include "tests/fuzz/replay_main.h"
