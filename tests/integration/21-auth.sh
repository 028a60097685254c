#!/bin/bash
# 21-auth.sh — TLS and authentication: the TLS + htpasswd registry (own CA,
# basic auth) and the token-auth registry (bearer tokens from the fixture
# token server), with credentials from a temporary DOCKER_CONFIG.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
unset I2KIT_CA_FILE
T=$REG_TLS/fixtures
K=$REG_TOKEN/fixtures
DC=$(t_tmpdir)
export DOCKER_CONFIG=$DC
b64() { printf '%s' "$1" | base64 -w0; }
set_auth() { # KEY USER PASS [fields]: config.json with one entry ("auth" form)
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$1" "$(b64 "$2:$3")" >"$DC/config.json"
}
set_userpass() {
	printf '{"auths":{"%s":{"username":"%s","password":"%s"}}}\n' "$1" "$2" "$3" >"$DC/config.json"
}

# ---- TLS + basic auth -------------------------------------------------------------
set_auth "$REG_TLS" "$REG_USER" "$REG_PASS"
assert_exit tls-untrusted 3 "$I2KIT" cache pull "$T/busybox:latest"
assert_contains tls-untrusted-msg "$T_OUT" "certificate"
assert_contains tls-untrusted-names-host "$T_OUT" "$REG_TLS"
assert_exit tls-ca-file 0 "$I2KIT" cache pull --ca-file "$REG_CA" "$T/busybox:latest"
assert_exit tls-skopeo-inspect 0 skopeo inspect "oci:$I2KIT_CACHE:$T/busybox:latest"
fresh_cache
assert_exit tls-ca-env 0 env I2KIT_CA_FILE="$REG_CA" "$I2KIT" cache pull "$T/web:latest"
assert_exit tls-ca-missing-file 1 "$I2KIT" cache pull --ca-file /nonexistent/ca.pem "$T/layers:latest"
assert_contains tls-ca-missing-file-msg "$T_OUT" "/nonexistent/ca.pem"

# key forms: https://HOST and username/password fields
fresh_cache
set_userpass "https://$REG_TLS" "$REG_USER" "$REG_PASS"
assert_exit tls-https-key 0 "$I2KIT" cache pull --ca-file "$REG_CA" "$T/busybox:latest"

fresh_cache
set_auth "$REG_TLS" "$REG_USER" wrong-password
assert_exit tls-wrong-creds 3 "$I2KIT" cache pull --ca-file "$REG_CA" "$T/busybox:latest"
assert_contains tls-wrong-creds-msg "$T_OUT" "$T/busybox:latest: authentication required: $REG_TLS refused the credentials of user \"$REG_USER\""
rm -f "$DC/config.json"
assert_exit tls-no-creds 3 "$I2KIT" cache pull --ca-file "$REG_CA" "$T/busybox:latest"
assert_contains tls-no-creds-msg "$T_OUT" "$T/busybox:latest: authentication required (no credentials for $REG_TLS"
echo '{"auths": [' >"$DC/config.json"
assert_exit tls-bad-config 1 "$I2KIT" cache pull --ca-file "$REG_CA" "$T/busybox:latest"
assert_contains tls-bad-config-msg "$T_OUT" "$DC/config.json"
# nothing partial was left by the failures
assert_eq tls-failures-leave-no-ref "" "$("$I2KIT" cache ls --json | grep '"ref"' || true)"

# ---- token auth ----------------------------------------------------------------------
TLOG=$REG_STATE/tokensrv.requests.log
rm -f "$DC/config.json"
fresh_cache
assert_exit token-anonymous 3 "$I2KIT" cache pull "$K/busybox:latest"
assert_contains token-anonymous-msg "$T_OUT" "$K/busybox:latest: authentication required"
assert_contains token-anonymous-msg-server "$T_OUT" "refused anonymous access"

set_userpass "$REG_TOKEN" "$TOKEN_USER" wrong
assert_exit token-wrong-creds 3 "$I2KIT" cache pull "$K/busybox:latest"
assert_contains token-wrong-creds-msg "$T_OUT" "refused the credentials of user \"$TOKEN_USER\""

set_auth "$REG_TOKEN" "$TOKEN_USER" "$TOKEN_PASS"
before=$(wc -l <"$TLOG" 2>/dev/null || echo 0)
assert_exit token-pull 0 "$I2KIT" cache pull "$K/busybox:latest" "$K/layers:latest"
assert_exit token-skopeo-inspect 0 skopeo inspect "oci:$I2KIT_CACHE:$K/layers:latest"
new=$(tail -n +"$((before + 1))" "$TLOG" 2>/dev/null || true)
assert_contains token-request-user "$new" "user=$TOKEN_USER"
assert_contains token-request-scope "$new" "scope=repository:fixtures/busybox:pull"
# one token per (host, scope): manifest + every blob of an image share it
assert_eq token-cached-per-scope 1 "$(printf '%s\n' "$new" | grep -c 'scope=repository:fixtures/layers:pull' || true)"
assert_eq token-cached-per-scope-busybox 1 "$(printf '%s\n' "$new" | grep -c 'scope=repository:fixtures/busybox:pull' || true)"
# a missing image behind token auth is still "not found", not an auth error
assert_exit token-missing-tag 1 "$I2KIT" cache pull "$K/busybox:nope"
assert_contains token-missing-tag-msg "$T_OUT" "$K/busybox:nope: manifest unknown"
t_done
