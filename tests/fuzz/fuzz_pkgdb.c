/* fuzz_pkgdb.c — fuzz harness for builder/sbom/pkgdb.c (apk and dpkg
 * databases, read from images) with formats/spdx.c as the oracle: the
 * packages found, written as an SPDX document, must give JSON that jansson
 * reads back (valid UTF-8 whatever the input bytes), with one package per
 * distinct (kind, name, version, arch) plus the root and the image, and
 * the same bytes when written twice.
 *
 * The first input byte chooses the parser (even: apk, odd: dpkg); the rest
 * is the database.
 *
 * libFuzzer:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     -DI2K_VERSION='"0"' tests/fuzz/fuzz_pkgdb.c build/libi2k.a \
 *     $(pkg-config --libs jansson ...) -o build/fuzz_pkgdb
 * Replay: make build/fuzz/fuzz_pkgdb && build/fuzz/fuzz_pkgdb FILE...
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/util.h"
#include "builder/sbom/pkgdb.h"
#include "builder/sbom/sbom.h"
#include "formats/spdx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static char *write_doc(const struct i2k_sbom *s)
{
	struct i2k_spdx_opts o = {.name = "fuzz", .created = 0, .creator = "Tool: fuzz"};
	char *out = NULL;
	size_t len = 0;
	struct i2k_error *err = NULL;
	if (i2k_spdx_write(s, &o, &out, &len, &err) < 0 || strlen(out) != len)
		abort();
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	struct i2k_sbom *s = i2k_sbom_new();
	struct i2k_sbom_image_info info = {
	    .ref = "fuzz/image:latest",
	    .refname = "docker.io/fuzz/image:latest",
	    .digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"};
	struct i2k_error *err = NULL;
	if (i2k_sbom_add_image(s, &info, NULL, &err) < 0)
		abort();
	struct i2k_pkg_list *l = &s->images[0].pkgs;
	if (data[0] & 1)
		i2k_pkgdb_parse_dpkg((const char *)data + 1, size - 1, l);
	else
		i2k_pkgdb_parse_apk((const char *)data + 1, size - 1, l);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].name == NULL || l->v[i].name[0] == '\0')
			abort();
	char *a = write_doc(s), *b = write_doc(s);
	if (strcmp(a, b) != 0)
		abort();
	json_error_t je;
	json_t *j = json_loads(a, 0, &je);
	if (j == NULL) {
		fprintf(stderr, "not JSON: %s\n", je.text);
		abort();
	}
	size_t distinct = 0;
	for (size_t i = 0; i < l->n; i++) {
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = l->v[k].kind == l->v[i].kind && same(l->v[k].name, l->v[i].name) &&
			       same(l->v[k].version, l->v[i].version) &&
			       same(l->v[k].arch, l->v[i].arch);
		distinct += !seen;
	}
	if (json_array_size(json_object_get(j, "packages")) != 2 + distinct)
		abort();
	json_decref(j);
	free(a);
	free(b);
	i2k_sbom_free(s);
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
