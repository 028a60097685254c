/* fuzz_rawinitrd.c — fuzzes provision/rawinitrd: the input as an initrd
 * file (gzip members or zstd frames, zero bytes between, a newc head),
 * decompressed into a file with a 4 MiB limit. Contract: success leaves
 * exactly info.out_bytes (≤ the limit) of a newc archive at the output; a
 * refusal leaves no output and no temporary file. The codecs themselves
 * are zlib's and zstd's and are not fuzzed here.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_rawinitrd.c \
 *       build/libi2k-asan.a $(pkg-config --libs ...)
 * or replay files with -DI2K_FUZZ_MAIN (tests/fuzz/replay.sh does).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/base/error.h"
#include "provision/rawinitrd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT (4u << 20)

static char dir[64], in[96], out[96], tmp[128];

static void cleanup(void)
{
	unlink(in);
	unlink(out);
	rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/tmp/i2k-fuzz-rawinitrd.%d", (int)getpid());
		if (mkdir(dir, 0700) < 0)
			abort();
		snprintf(in, sizeof(in), "%s/in", dir);
		snprintf(out, sizeof(out), "%s/out", dir);
		snprintf(tmp, sizeof(tmp), "%s.tmp-%d", out, (int)getpid());
		atexit(cleanup);
	}
	FILE *f = fopen(in, "wb");
	if (f == NULL || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
		abort();
	unlink(out);
	struct i2k_error *e = NULL;
	struct i2k_rawinitrd_info info;
	int rc = i2k_rawinitrd_write(in, out, LIMIT, &info, &e);
	struct stat st;
	if (rc == 0) {
		char head[6];
		FILE *o = fopen(out, "rb");
		if (o == NULL || stat(out, &st) < 0 || (uint64_t)st.st_size != info.out_bytes ||
		    info.out_bytes > LIMIT || fread(head, 1, 6, o) != 6 ||
		    (memcmp(head, "070701", 6) != 0 && memcmp(head, "070702", 6) != 0))
			abort(); /* contract: a whole newc archive within the limit */
		fclose(o);
	} else if (e == NULL || stat(out, &st) == 0) {
		abort(); /* contract: a reason, and no output */
	}
	if (stat(tmp, &st) == 0)
		abort(); /* contract: no temporary left */
	i2k_error_free(e);
	return 0;
}

#include "tests/fuzz/replay_main.h"
