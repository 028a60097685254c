/* cmd_sign.c — `i2kit sign --key KEY.pem IMAGE...`: parses and prints; the
 * work is builder/registry/sign.c's. */
#include "cli/cmd_sign.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/registry/sign.h"
#include "builder/registry/sigkey.h"
#include "cli/common.h"

static void help(void)
{
	printf(
	    "Usage: i2kit sign --key KEY.pem [OPTIONS] IMAGE...\n\n"
	    "Signs images in their registry the way cosign does: the digest each\n"
	    "reference resolves to (a multi-platform tag: its index) gets a simple-\n"
	    "signing payload, signed with the private key and pushed with its\n"
	    "signature manifest under the tag sha256-HEX.sig in the same repository.\n"
	    "Existing signatures there are kept. `i2kit build --verify-key KEY.pub` and\n"
	    "`cosign verify --key KEY.pub` check them.\n\n"
	    "Options:\n"
	    "  --key KEY.pem           unencrypted PEM private key: ECDSA P-256 or\n"
	    "                          Ed25519 (e.g. `openssl genpkey -algorithm ed25519`)\n"
	    "  --insecure-registry H   allow plain HTTP for host H (repeatable)\n"
	    "  --ca-file PEM           extra CA certificates for registries\n"
	    "  --json                  print [{\"image\",\"digest\",\"signature_tag\"}] on stdout\n"
	    "  -q                      print nothing on success\n\n"
	    "Credentials for pushing come from the Docker config.json, as for pulls.\n"
	    "Exit status: 0 ok, 1 bad key or image, 2 usage, 3 registry refused or unreachable.\n");
}

int i2k_cmd_sign(int argc, char **argv)
{
	struct i2k_cli_fetch c;
	i2k_cli_fetch_init(&c);
	const char *key_path = NULL;
	_cleanup_free_ const char **images = i2k_xcalloc((size_t)argc + 1, sizeof(*images));
	size_t n = 0;
	int status = 0;
	for (int i = 1; i < argc && status == 0; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help();
			i2k_cli_fetch_clear(&c);
			return 0;
		}
		static const char *const names[] = {"--key"};
		const char *v = NULL;
		struct i2k_error *e = NULL;
		int which = i2k_cli_match_opt(names, 1, argc, argv, &i, &v, &e);
		if (which == 0) {
			key_path = v;
			continue;
		}
		if (which == -2) {
			status = i2k_cli_usage("sign", "%s", e->msg);
			i2k_error_free(e);
			break;
		}
		int r = i2k_cli_fetch_opt(&c, "sign", argc, argv, &i);
		if (r < 0)
			status = 2;
		else if (r == 0 && a[0] == '-' && a[1] != '\0')
			status = i2k_cli_usage("sign", "unknown option %s", a);
		else if (r == 0)
			images[n++] = a;
	}
	if (status == 0 && (c.n_verify_keys > 0 || c.fetch.offline))
		status = i2k_cli_usage("sign", "%s does not apply to sign",
				       c.n_verify_keys ? "--verify-key" : "--offline");
	if (status == 0 && key_path == NULL)
		status = i2k_cli_usage("sign", "--key KEY.pem is required");
	if (status == 0 && n == 0)
		status = i2k_cli_usage("sign", "no image given");
	if (status != 0) {
		i2k_cli_fetch_clear(&c);
		return status;
	}
	struct i2k_error *err = NULL;
	_cleanup_(i2k_sigkey_freep) struct i2k_sigkey *key = NULL;
	_cleanup_(i2k_registry_freep) struct i2k_registry *reg = NULL;
	if (i2k_sigkey_load(key_path, true, &key, &err) < 0 ||
	    i2k_registry_new(&c.fetch.registry, &reg, &err) < 0) {
		i2k_cli_fetch_clear(&c);
		return i2k_cli_fail(err);
	}
	json_t *arr = c.json ? json_array() : NULL;
	for (size_t i = 0; i < n && err == NULL; i++) {
		char d[I2K_DIGEST_LEN + 1];
		if (i2k_sign_image(reg, images[i], key, d, &err) < 0)
			break;
		_cleanup_free_ char *tag = i2k_xasprintf("sha256-%s.sig", d + 7);
		if (arr)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "image", images[i],
							     "digest", d, "signature_tag", tag));
		else if (i2k_cli_verbosity >= 0)
			printf("signed %s %s\n", images[i], d);
	}
	if (arr && err == NULL) {
		char *out = json_dumps(arr, JSON_COMPACT);
		printf("%s\n", out ? out : "[]");
		free(out);
	}
	json_decref(arr);
	i2k_cli_fetch_clear(&c);
	if (err)
		return i2k_cli_fail(err);
	return 0;
}
