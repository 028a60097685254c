/* fuzz_pvh.c — fuzzes provision/pvh's parsers of a kernel file: the input
 * as a bzImage (header → payload → decompressed with the payload's codec,
 * at most 16 MiB → ELF check), the input as an ELF (program headers and
 * notes), and the input as a payload of each codec.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_pvh.c \
 *       build/libi2k-asan.a $(pkg-config --libs ...)
 * or replay files with -DI2K_FUZZ_MAIN (tests/fuzz/replay.sh does).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "builder/base/error.h"
#include "provision/pvh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void elf(const uint8_t *data, size_t size)
{
	struct i2k_error *e = NULL;
	uint64_t entry = 0;
	(void)i2k_pvh_elf_check(data, size, &entry, &e);
	i2k_error_free(e);
}

static void payload(enum i2k_pvh_codec c, const uint8_t *data, size_t size)
{
	struct i2k_error *e = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;
	if (i2k_pvh_decompress(c, data, size, 16u << 20, &out, &outlen, &e) == 0) {
		if (out == NULL || outlen == 0 || outlen > (16u << 20))
			abort(); /* contract: a result of the stated size, within max */
		elf(out, outlen);
	}
	free(out);
	i2k_error_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct i2k_error *e = NULL;
	struct i2k_pvh_payload p;
	if (i2k_pvh_payload_find(data, size, &p, &e) == 0) {
		if (p.offset > size || p.length > size - p.offset)
			abort(); /* contract: the payload lies inside the image */
		payload(p.codec, data + p.offset, p.length);
	}
	i2k_error_free(e);
	elf(data, size);
	if (size > 0) /* the first byte picks a codec for the rest */
		payload((enum i2k_pvh_codec)(data[0] % 4), data + 1, size - 1);
	return 0;
}

#include "tests/fuzz/replay_main.h"
