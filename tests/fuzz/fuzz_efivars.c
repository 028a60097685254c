/* fuzz_efivars.c — fuzzes provision/efivars' reading of an OVMF variable
 * store (firmware volume header → variable store header → variables): the
 * input as the store a boot entry is added to, and as a booted store that
 * is packed against itself as the template.
 *
 * Oracles: adding succeeds or fails cleanly; after a success the store
 * still parses and adding again succeeds or reports the store full (the
 * first entry is then replaced, not lost); packing succeeds or fails
 * cleanly and its result packs to itself (packing is idempotent).
 *
 * make build/fuzzer/fuzz_efivars (libFuzzer) or build/fuzz/fuzz_efivars
 * (-DI2K_FUZZ_MAIN: replays files, tests/fuzz/replay.sh). Seeds:
 * tests/fuzz/mkseeds_efivars.py. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/error.h"
#include "provision/efivars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size > (1u << 20))
		return 0;
	uint8_t *st = malloc(size);
	if (st == NULL)
		return 0;
	memcpy(st, data, size);
	static const uint8_t opt[] = {1, 0, 0, 0, 4, 0, 'x', 0, 0, 0, 0x7F, 0xFF, 4, 0};
	struct i2k_error *e = NULL;
	if (i2k_efivars_add_boot(st, size, 0x80, opt, sizeof(opt), &e) == 0) {
		if (i2k_efivars_add_boot(st, size, 0x80, opt, sizeof(opt), &e) < 0) {
			if (e == NULL ||
			    (e->code != I2K_ERR_UNSUPPORTED && e->code != I2K_ERR_INTEGRITY))
				abort();
		}
	} else if (e == NULL) {
		abort();
	}
	i2k_error_free(e);
	e = NULL;
	uint8_t *out = NULL, *again = NULL;
	bool booted = false, booted2 = false;
	if (i2k_efivars_compact(data, data, size, 0x80, &out, &booted, &e) == 0) {
		if (i2k_efivars_compact(out, data, size, 0x80, &again, &booted2, &e) < 0 ||
		    memcmp(out, again, size) != 0 || booted != booted2)
			abort();
	} else if (e == NULL || out != NULL) {
		abort();
	}
	free(out);
	free(again);
	i2k_error_free(e);
	free(st);
	return 0;
}

#include "tests/fuzz/replay_main.h"
