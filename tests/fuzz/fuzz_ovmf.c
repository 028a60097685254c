/* fuzz_ovmf.c — fuzzes provision/ovmf's parsers of a firmware file: the
 * input as a firmware file (volumes → FFS files → sections → the LZMA
 * section's place), and the input as a decompressed volume (FV image
 * sections, nested volumes, PEIMs and their UI names), which is changed
 * in place. The LZMA codec itself is liblzma's and is not fuzzed here.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_ovmf.c \
 *       build/libi2k-asan.a $(pkg-config --libs ...)
 * or replay files with -DI2K_FUZZ_MAIN (tests/fuzz/replay.sh does).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/error.h"
#include "provision/ovmf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct i2k_error *e = NULL;
	struct i2k_ovmf_lzma z;
	if (i2k_ovmf_find_lzma(data, size, &z, &e) == 0) {
		/* contract: everything found lies inside the file, in order */
		if (z.fv_end > size || z.fv_off > z.file_off || z.file_off >= z.sect_off ||
		    z.sect_off >= z.data_off || z.data_off + z.data_len > z.fv_end ||
		    z.data_len < 13 || z.raw_len == 0 || z.raw_len > I2K_OVMF_VOLUME_MAX)
			abort();
	}
	i2k_error_free(e);
	e = NULL;
	uint8_t *vol = malloc(size ? size : 1);
	if (vol == NULL)
		abort();
	if (size)
		memcpy(vol, data, size);
	static const char *const names[] = {"Tcg2ConfigPei", "Tcg12ConfigPei", "IScsiDxe", "Shell"};
	static const uint8_t types[] = {0x06, 0x07, 0x09}; /* PEIM, driver, application */
	for (size_t t = 0; t < sizeof(types); t++) {
		int n = i2k_ovmf_disable_files(vol, size, types[t], names, 4, &e);
		if (n == 0 && size && memcmp(vol, data, size) != 0)
			abort(); /* contract: nothing found, nothing changed */
		i2k_error_free(e);
		e = NULL;
		if (n != 0)
			break;
	}
	free(vol);
	i2k_error_free(e);
	return 0;
}

#include "tests/fuzz/replay_main.h"
