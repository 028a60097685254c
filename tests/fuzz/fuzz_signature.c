/* fuzz_signature.c — fuzzes the parsers of signature data fetched from a
 * registry (builder/registry/sigpayload.c, sigverify.c): the simple-signing
 * payload, the signature manifest (parse → build → parse must agree), and
 * the evidence check with the input as signature manifest, payload and
 * signed document (no key: it must fail cleanly, never crash).
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. $(pkg-config --cflags jansson) \
 *       tests/fuzz/fuzz_signature.c build/libi2k-asan.a LIBS...
 *   (-DI2K_FUZZ_MAIN replays files; see tests/fuzz/replay.sh)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/error.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/registry/sigpayload.h"
#include "builder/registry/sigverify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const char *s;
	size_t n;
};

static int payload(void *ctx, const struct i2k_descriptor *d, char **out, size_t *len,
		   struct i2k_error **err)
{
	const struct input *in = ctx;
	char got[I2K_DIGEST_LEN + 1];
	i2k_sha256_digest(in->s, in->n, got);
	if (strcmp(got, d->digest) != 0)
		return i2k_error_set(err, I2K_ERR_INTEGRITY, "content has digest %s", got);
	*out = i2k_xstrndup(in->s, in->n);
	*len = in->n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char d[I2K_DIGEST_LEN + 1];
	struct i2k_error *e = NULL;
	if (i2k_sig_payload_parse(s, size, d, &e) == 0 && !i2k_digest_valid(d))
		abort();
	i2k_error_free(e);
	e = NULL;
	struct i2k_sig_manifest m;
	if (i2k_sig_manifest_parse(s, size, &m, &e) == 0) {
		size_t len = 0;
		char *again = i2k_sig_manifest_build(&m, &len);
		struct i2k_sig_manifest m2;
		struct i2k_error *e2 = NULL;
		if (i2k_sig_manifest_parse(again, len, &m2, &e2) < 0 || m2.n != m.n)
			abort();
		for (size_t i = 0; i < m.n; i++)
			if (strcmp(m.layers[i].payload.digest, m2.layers[i].payload.digest) != 0)
				abort();
		i2k_sig_manifest_clear(&m2);
		i2k_error_free(e2);
		free(again);
		i2k_sig_manifest_clear(&m);
	}
	i2k_error_free(e);
	e = NULL;
	struct input in = {s, size};
	struct i2k_sig_evidence ev = {.sig_manifest = s,
				      .sig_manifest_len = size,
				      .signed_doc = s,
				      .signed_len = size,
				      .platform_doc = s,
				      .platform_len = size,
				      .payload = payload,
				      .ctx = &in};
	i2k_sha256_digest(s, size, d);
	if (i2k_sig_verify_evidence(&ev, d, NULL, 0, &e) == 0)
		abort(); /* no key can verify anything */
	i2k_error_free(e);
	return 0;
}

#ifdef I2K_FUZZ_MAIN
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		static uint8_t buf[4 << 20];
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		printf("ok %s\n", argv[i]);
	}
	return 0;
}
#endif
