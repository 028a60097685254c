/* fuzz_challenge.c — fuzzes the WWW-Authenticate challenge parser and the
 * token-response, docker config.json and credential-helper output parsers
 * (builder/registry/auth.c, creds.c).
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. $(pkg-config --cflags jansson) \
 *       tests/fuzz/fuzz_challenge.c builder/registry/auth.c builder/registry/creds.c \
 *       builder/base/[a-z]*.c \
 *       $(pkg-config --libs jansson libcrypto)
 * or, to replay files without libFuzzer: add -DI2K_FUZZ_MAIN (and drop
 * "fuzzer," from -fsanitize) and run `./a.out FILE...`.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/error.h"
#include "builder/registry/auth.h"
#include "builder/registry/creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	struct i2k_challenge c;
	struct i2k_error *e = NULL;
	if (i2k_challenge_parse(s, &c, &e) == 0) {
		if (c.scheme == I2K_AUTH_BEARER && c.realm == NULL)
			abort(); /* contract: a Bearer challenge always has a realm */
	}
	i2k_challenge_clear(&c);
	i2k_error_free(e);
	e = NULL;
	char *tok = NULL;
	long exp = 0;
	if (i2k_auth_token_parse(s, size, &tok, &exp, &e) == 0 && (tok == NULL || exp < 60))
		abort();
	free(tok);
	i2k_error_free(e);
	e = NULL;
	struct i2k_creds cr;
	char *helper = NULL;
	const char *kind = NULL;
	int how = i2k_creds_parse(s, size, "fuzz", "docker.io", &cr, &helper, &kind, &e);
	if ((how == I2K_CREDS_FOUND && cr.secret == NULL) ||
	    (how == I2K_CREDS_HELPER && (helper == NULL || kind == NULL)))
		abort(); /* contract: found means a secret, helper means a name */
	free(helper);
	i2k_creds_clear(&cr);
	i2k_error_free(e);
	e = NULL;
	if (i2k_creds_helper_parse("fuzz", s, size, &cr, &e) == 0 &&
	    (cr.secret == NULL || (cr.user == NULL && !cr.identity_token)))
		abort();
	i2k_creds_clear(&cr);
	i2k_error_free(e);
	char *d = NULL;
	size_t dl = 0;
	if (i2k_base64_decode(s, size, &d, &dl) == 0)
		free(d);
	free(s);
	return 0;
}

#include "tests/fuzz/replay_main.h"
