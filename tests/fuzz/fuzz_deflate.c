/* fuzz_deflate.c — fuzzes initrd/deflate_join: the block walk over
 * arbitrary bytes (it reads streams the gzip compressor got from
 * libdeflate, but must never read past its buffer or loop on any input),
 * and i2k_deflate_unfinal on whatever the walk accepts: the rewritten
 * piece, followed by a final empty block, must walk again, ending there.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_deflate.c \
 *       build/libi2k-asan.a ...
 * or replay files with -DI2K_FUZZ_MAIN (tests/fuzz/replay.sh does).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "initrd/deflate_join.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t last, end;
	if (i2k_deflate_scan(data, size, &last, &end) < 0)
		return 0;
	if (end > (uint64_t)size * 8 || last >= end)
		abort();
	/* the piece, then a final fixed-Huffman block holding only its end
	 * code (bits 1, 01, 0000000: bytes 03 00) */
	uint8_t *p = malloc(size + I2K_DEFLATE_UNFINAL_EXTRA + 2);
	memcpy(p, data, size);
	size_t n = size;
	if (i2k_deflate_unfinal(p, &n) < 0 || n > size + I2K_DEFLATE_UNFINAL_EXTRA ||
	    memcmp(p + n - 4, "\0\0\377\377", 4) != 0)
		abort();
	p[n] = 0x03;
	p[n + 1] = 0x00;
	uint64_t last2, end2;
	if (i2k_deflate_scan(p, n + 2, &last2, &end2) < 0 || last2 != (uint64_t)n * 8 ||
	    end2 != (uint64_t)n * 8 + 10)
		abort();
	free(p);
	return 0;
}

#include "tests/fuzz/replay_main.h"
