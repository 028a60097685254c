/* creds.h — registry credentials as Docker finds them: DIR/config.json
 * (dir NULL → $DOCKER_CONFIG, else $HOME/.docker), then, in Docker's order:
 *
 *   1. "credHelpers": {"REGISTRY": "NAME"}  → run docker-credential-NAME get
 *   2. "credsStore": "NAME"                  → run docker-credential-NAME get
 *   3. "auths": {"REGISTRY": {"auth": base64("user:password")} or
 *                           {"username", "password"} and/or
 *                           {"identitytoken": OAuth2 refresh token}}
 *
 * A helper (1, 2) decides alone, as with Docker: "credentials not found" from
 * it means anonymous access, whatever `auths` holds. Registry keys may be
 * "host", "https://host", "http://host/v1/" etc.; for docker.io also
 * "index.docker.io", "https://index.docker.io/v1/" and
 * "registry-1.docker.io". An exact key wins over an equivalent form.
 *
 * A helper is run as `docker-credential-NAME get` (found on $PATH; NAME may
 * hold only [A-Za-z0-9._-]) with the server URL on stdin ("host[:port]", for
 * docker.io "https://index.docker.io/v1/"); it prints
 * {"ServerURL","Username","Secret"} (Username "<token>": Secret is an identity
 * token). Its output is bounded (I2K_CREDS_HELPER_OUT_MAX) and it must finish
 * within $I2KIT_CREDENTIAL_HELPER_TIMEOUT seconds (default
 * I2K_CREDS_HELPER_TIMEOUT_S), else it is killed. It inherits the
 * environment, the process group and the terminal (to ask for a
 * passphrase). Secrets never appear in error
 * messages; a failing helper's message (exit status and the first line it
 * printed, never after a successful exit) does.
 */
#ifndef I2K_BUILDER_REGISTRY_CREDS_H
#define I2K_BUILDER_REGISTRY_CREDS_H

#include <stdbool.h>
#include <stddef.h>

#include "builder/base/error.h"

#define I2K_CREDS_CONFIG_MAX (1 << 20)	     /* config.json */
#define I2K_CREDS_HELPER_OUT_MAX (64u << 10) /* a helper's stdout / stderr */
#define I2K_CREDS_HELPER_TIMEOUT_S 120	     /* a helper may prompt for a passphrase */

struct i2k_creds {
	char *user;	     /* NULL when only an identity token is known */
	char *secret;	     /* the password, or the identity token */
	bool identity_token; /* secret is an OAuth2 refresh token */
	char *source;	     /* where they came from, for messages:
			      * "PATH/config.json" or "docker-credential-NAME" */
};
void i2k_creds_clear(struct i2k_creds *c);

/* Where to look, from a config.json already read. */
enum i2k_creds_how { I2K_CREDS_NONE, I2K_CREDS_FOUND, I2K_CREDS_HELPER };

/* Decides from config.json text (path is for messages only). Returns
 * I2K_CREDS_FOUND with *out filled from `auths`; I2K_CREDS_HELPER with
 * *helper = "NAME" (caller frees) and *key_kind = "credHelpers" or
 * "credsStore" (static); I2K_CREDS_NONE; -1 on a malformed file
 * (I2K_ERR_CONFIG "PATH: ..."). *out is the caller's to clear in every
 * case. */
int i2k_creds_parse(const char *json, size_t len, const char *path, const char *registry,
		    struct i2k_creds *out, char **helper, const char **key_kind,
		    struct i2k_error **err);

/* The whole lookup (file, then helper when the file says so). Returns 1 with
 * *out filled, 0 when there are no credentials (no file, no entry, helper
 * says not found), -1 on error: malformed file (I2K_ERR_CONFIG), helper
 * missing, failing, timing out or printing nonsense (I2K_ERR_AUTH
 * "credential helper docker-credential-NAME (credsStore in PATH): why").
 * *out is the caller's to clear in every case. */
int i2k_creds_lookup(const char *dir, const char *registry, struct i2k_creds *out,
		     struct i2k_error **err);

/* What Docker hands a helper for `registry`. Caller frees. */
char *i2k_creds_server_url(const char *registry);

/* Runs docker-credential-NAME get for server_url. Returns 1 with *out, 0 when
 * the helper says the credentials are not found, -1 on error (I2K_ERR_AUTH
 * "docker-credential-NAME: why"). */
int i2k_creds_helper_get(const char *name, const char *server_url, struct i2k_creds *out,
			 struct i2k_error **err);

/* Parses a helper's `get` output. Returns 0 with *out, -1 (I2K_ERR_AUTH
 * "docker-credential-NAME: invalid output: why", never quoting it). */
int i2k_creds_helper_parse(const char *name, const char *json, size_t len, struct i2k_creds *out,
			   struct i2k_error **err);

#endif
