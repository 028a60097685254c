/* fuzz_config.c — fuzz harness for builder/config: the YAML config parser
 * (with the emitter round trip as an oracle: parse(emit(x)) must succeed
 * and re-emit identically) and the org.mobyproject.config label parser.
 *
 * CFG_SRCS="builder/config/cnode.c builder/config/config.c builder/config/emit.c
 *   builder/config/imgopts.c builder/config/parse.c"
 * libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz_config.c $CFG_SRCS builder/base/error.c \
 *     builder/base/util.c -lyaml -ljansson -o build/fuzz_config
 *   build/fuzz_config tests/data/config/fuzz
 * Replay (plain gcc):
 *   gcc -std=gnu11 -D_GNU_SOURCE -DI2K_FUZZ_MAIN -I. -fsanitize=address,undefined \
 *     tests/fuzz/fuzz_config.c $CFG_SRCS builder/base/error.c \
 *     builder/base/util.c -lyaml -ljansson -o build/fuzz_config_replay
 *   build/fuzz_config_replay FILE...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/util.h"
#include "builder/config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(const char *msg, void *ctx)
{
	(void)msg;
	(void)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	i2k_set_warn_handler(quiet, NULL);
	struct i2k_config *c = NULL;
	struct i2k_error *err = NULL;
	if (i2k_config_parse("fuzz.yml", (const char *)data, size, &c, &err) == 0) {
		struct i2k_config *c2 = NULL;
		if (i2k_config_parse("rt.yml", c->yaml, strlen(c->yaml), &c2, &err) != 0) {
			fprintf(stderr, "round trip failed: %s\n--- yaml:\n%s\n", err->msg,
				c->yaml);
			abort();
		}
		if (strcmp(c2->yaml, c->yaml) != 0) {
			fprintf(stderr, "not a fixed point:\n%s\n---\n%s\n", c->yaml, c2->yaml);
			abort();
		}
		i2k_config_free(c2);
	} else if (err == NULL || err->code != I2K_ERR_CONFIG || err->msg == NULL) {
		abort(); /* failures must be config errors with a message */
	}
	i2k_config_free(c);
	i2k_error_free(err);
	err = NULL;

	char *s = i2k_xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct i2k_imgopts o;
	if (i2k_imgopts_from_json(s, &o, &err) == 0)
		i2k_imgopts_clear(&o);
	else if (err == NULL || err->code != I2K_ERR_CONFIG)
		abort();
	i2k_error_free(err);
	free(s);
	return 0;
}

#ifdef I2K_FUZZ_MAIN
int main(int argc, char **argv)
{
	int bad = 0;
	for (int i = 1; i < argc; i++) {
		char *buf = NULL;
		size_t len = 0;
		struct i2k_error *err = NULL;
		if (i2k_read_file(argv[i], (size_t)64 << 20, &buf, &len, &err) < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], err->msg);
			i2k_error_free(err);
			bad = 1;
			continue;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
		free(buf);
		printf("ok %s\n", argv[i]);
	}
	return bad;
}
#endif
