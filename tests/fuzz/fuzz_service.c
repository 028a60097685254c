/* fuzz_service.c — fuzz harness for provision/service.c (service.yml and
 * environment.yml) with provision/template.c as an oracle: every manifest
 * that parses must template to LinuxKit YAML that builder/config accepts,
 * with as many services as the manifest has containers. Failures must be
 * config errors with a message.
 *
 * libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     -DI2K_VERSION='"0"' tests/fuzz/fuzz_service.c build/libi2k.a \
 *     $(pkg-config --libs yaml-0.1 jansson ...) -o build/fuzz_service
 * Replay: make build/fuzz/fuzz_service && build/fuzz/fuzz_service FILE...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/util.h"
#include "builder/config/config.h"
#include "provision/service.h"
#include "provision/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(const char *msg, void *ctx)
{
	(void)msg;
	(void)ctx;
}

static void must_be_config_error(struct i2k_error *err)
{
	if (err == NULL || err->code != I2K_ERR_CONFIG || err->msg == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	i2k_set_warn_handler(quiet, NULL);
	struct i2k_service *m = NULL;
	struct i2k_environment *env = NULL;
	struct i2k_error *err = NULL;
	if (i2k_environment_parse("fuzz.yml", (const char *)data, size, &env, &err) < 0) {
		must_be_config_error(err);
		i2k_error_free(err);
		err = NULL;
	}
	if (i2k_service_parse("fuzz.yml", (const char *)data, size, &m, &err) == 0) {
		char *yaml = NULL;
		struct i2k_config *c = NULL;
		if (i2k_template_linuxkit_yaml(m, env, &yaml, &err) < 0 ||
		    i2k_config_parse("t.yml", yaml, strlen(yaml), &c, &err) < 0) {
			fprintf(stderr, "template rejected: %s\n--- yaml:\n%s\n",
				err ? err->msg : "?", yaml ? yaml : "");
			abort();
		}
		if (c->n_services != m->ncontainers)
			abort();
		i2k_config_free(c);
		free(yaml);
	} else {
		must_be_config_error(err);
	}
	i2k_error_free(err);
	i2k_service_free(m);
	i2k_environment_free(env);
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
