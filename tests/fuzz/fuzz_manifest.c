/* fuzz_manifest.c — fuzzes manifest / index JSON handling
 * (builder/registry/manifest.c): classification, index parsing and platform
 * selection, manifest parsing, Docker → OCI conversion, config platform.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. $(pkg-config --cflags jansson) \
 *       tests/fuzz/fuzz_manifest.c builder/registry/manifest.c builder/base/[a-z]*.c \
 *       LIBS...   (see tests/fuzz/fuzz_challenge.c; -DI2K_FUZZ_MAIN replays files)
 * manifest.c's i2k_manifest_stored_size needs the store; link the whole
 * library (build/libi2k-asan.a) instead of single files if the linker asks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/registry/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *mt = NULL;
	i2k_manifest_classify(NULL, s, size, &mt);
	struct i2k_error *e = NULL;
	struct i2k_manifest_index ix;
	if (i2k_manifest_index_parse(s, size, &ix, &e) == 0) {
		static const struct i2k_platform ps[] = {{"linux", "amd64", NULL},
							 {"linux", "arm64", NULL},
							 {"linux", "arm", "v7"},
							 {"linux", "arm64", "v8"}};
		for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
			const struct i2k_platform_entry *pe =
			    i2k_manifest_index_select(&ix, &ps[i]);
			if (pe && !i2k_digest_valid(pe->desc.digest))
				abort();
		}
		i2k_manifest_index_clear(&ix);
	}
	i2k_error_free(e);
	e = NULL;
	struct i2k_manifest m;
	if (i2k_manifest_parse(s, size, &m, &e) == 0) {
		if (!i2k_digest_valid(m.config.digest))
			abort();
		for (size_t i = 0; i < m.n_layers; i++)
			if (!i2k_digest_valid(m.layers[i].digest) || m.layers[i].size < 0)
				abort();
		i2k_manifest_clear(&m);
	}
	i2k_error_free(e);
	e = NULL;
	char *out = NULL;
	size_t olen = 0;
	if (i2k_manifest_docker_to_oci(s, size, &out, &olen, &e) == 0) {
		/* the conversion's output is itself a valid manifest iff the input was */
		struct i2k_manifest m2;
		struct i2k_error *e2 = NULL;
		if (i2k_manifest_parse(out, olen, &m2, &e2) == 0)
			i2k_manifest_clear(&m2);
		i2k_error_free(e2);
		free(out);
	}
	i2k_error_free(e);
	e = NULL;
	char *os, *arch, *variant;
	if (i2k_config_platform(s, size, &os, &arch, &variant, &e) == 0) {
		free(os);
		free(arch);
		free(variant);
	}
	i2k_error_free(e);
	return 0;
}

#include "tests/fuzz/replay_main.h"
