#!/bin/bash
# 24-regauth.sh — registry parity with Docker: credential helpers (credsStore,
# credHelpers) through a fake docker-credential-test first on $PATH,
# identity tokens (OAuth2 refresh_token grant at the fixture token server),
# mirrors (a second local registry holding copies: tried first, passed over
# when down or missing the image, a digest error when it serves bad data),
# the hint messages, and that no secret is ever printed or written.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
# the token server logs the grant type of OAuth2 POSTs (same port, same keys)
reg_restart tokensrv >&2
fresh_cache
unset I2KIT_CA_FILE I2KIT_MIRRORS_FILE
P=$REG_PLAIN/fixtures
K=$REG_TOKEN/fixtures
T=$REG_TLS/fixtures
TLOG=$REG_STATE/tokensrv.requests.log
DC=$(t_tmpdir)
export DOCKER_CONFIG=$DC
export PATH="$REPO/tests/integration/tools/credhelper:$PATH"
export CRED_TEST_LOG
CRED_TEST_LOG=$(t_tmpdir)/helper.log
ALL=$(t_tmpdir)/all-output # every i2kit output, searched for secrets at the end
b64() { printf '%s' "$1" | base64 -w0; }
conf() { printf '%s\n' "$1" >"$DC/config.json"; }
run() { # run NAME CODE ARGS...: assert_exit on i2kit -v, output kept for the secret scan
	local name=$1 code=$2
	shift 2
	assert_exit "$name" "$code" "$I2KIT" "$@"
	printf '%s\n' "$T_OUT" >>"$ALL"
}
tlog_mark() { TMARK=$(wc -l <"$TLOG" 2>/dev/null || echo 0); }
tlog_new() { tail -n +"$((TMARK + 1))" "$TLOG" 2>/dev/null || true; }
WRONG_RT=wrong-refresh-Zq81x

# ---- credential helpers ----------------------------------------------------------------
conf '{"credsStore":"test"}'
export CRED_TEST_MODE=user CRED_TEST_USER=$TOKEN_USER CRED_TEST_SECRET=$TOKEN_PASS
tlog_mark
run helper-store-pull 0 cache pull -v "$K/busybox:latest"
assert_eq helper-store-stdin "get | $REG_TOKEN" "$(cat "$CRED_TEST_LOG")"
assert_contains helper-store-token-user "$(tlog_new)" "GET /token?"
assert_contains helper-store-token-user2 "$(tlog_new)" "user=$TOKEN_USER status=200"

# several images of one registry at once: the helper runs once
fresh_cache
: >"$CRED_TEST_LOG"
run helper-once-per-registry 0 cache pull "$K/busybox:latest" "$K/web:latest" "$K/layers:latest"
assert_eq helper-once-per-registry-runs 1 "$(wc -l <"$CRED_TEST_LOG")"

# credHelpers (for this registry) wins over credsStore, which wins over auths
fresh_cache
conf "{\"credsStore\":\"i2k-absent\",\"credHelpers\":{\"$REG_TOKEN\":\"test\"}}"
run helper-per-registry 0 cache pull "$K/busybox:latest"
fresh_cache
conf "{\"auths\":{\"$REG_TOKEN\":{\"auth\":\"$(b64 "$TOKEN_USER:wrong")\"}},\"credsStore\":\"test\"}"
run helper-over-auths 0 cache pull "$K/busybox:latest"

# basic auth (TLS registry) from a helper; Docker Hub's server URL is not asked for
fresh_cache
: >"$CRED_TEST_LOG"
conf "{\"credHelpers\":{\"$REG_TLS\":\"test\"}}"
CRED_TEST_USER=$REG_USER CRED_TEST_SECRET=$REG_PASS run helper-basic 0 cache pull --ca-file "$REG_CA" "$T/busybox:latest"
assert_eq helper-basic-stdin "get | $REG_TLS" "$(cat "$CRED_TEST_LOG")"

# the helper has nothing: anonymous (refused here), with the hint
fresh_cache
conf '{"credsStore":"test"}'
CRED_TEST_MODE=notfound run helper-notfound 3 cache pull "$K/busybox:latest"
assert_contains helper-notfound-msg "$T_OUT" "token server 127.0.0.1:"
assert_contains helper-notfound-msg2 "$T_OUT" "refused anonymous access; no credentials for $REG_TOKEN in the docker config.json: run 'docker login $REG_TOKEN'"
# failing, missing, talking nonsense: errors that name the helper, never the secret
CRED_TEST_MODE=fail run helper-fails 3 cache pull "$K/busybox:latest"
assert_contains helper-fails-msg "$T_OUT" "$K/busybox:latest: credential helper (credsStore in $DC/config.json): docker-credential-test get failed (exit status 4): keyring is locked"
CRED_TEST_MODE=garbage run helper-garbage 3 cache pull "$K/busybox:latest"
assert_contains helper-garbage-msg "$T_OUT" "docker-credential-test: invalid output: not a JSON object"
conf '{"credsStore":"i2k-absent"}'
run helper-missing 3 cache pull "$K/busybox:latest"
assert_contains helper-missing-msg "$T_OUT" "credential helper (credsStore in $DC/config.json): docker-credential-i2k-absent is not installed (not found in \$PATH)"
# ... but a registry that asks for nothing never runs it
run helper-missing-anonymous-ok 0 cache pull "$P/busybox:latest"
assert_eq helper-failures-leave-no-ref 1 "$("$I2KIT" cache ls --json | grep -c '"ref"' || true)"

# ---- identity tokens (OAuth2 refresh_token grant) -------------------------------------
fresh_cache
conf '{"credsStore":"test"}'
tlog_mark
CRED_TEST_MODE=token CRED_TEST_SECRET=i2kit-fixture-refresh run helper-idtoken 0 cache pull -v "$K/busybox:latest"
assert_contains helper-idtoken-post "$(tlog_new)" "POST /token user=$TOKEN_USER status=200 scope=repository:fixtures/busybox:pull grant=refresh_token"
assert_not_contains helper-idtoken-no-get "$(tlog_new)" "GET /token"

fresh_cache
conf "{\"auths\":{\"$REG_TOKEN\":{\"identitytoken\":\"i2kit-fixture-refresh\"}}}"
tlog_mark
run auths-idtoken 0 cache pull -v "$K/busybox:latest" "$K/web:latest"
assert_contains auths-idtoken-post "$(tlog_new)" "POST /token user=$TOKEN_USER status=200 scope=repository:fixtures/web:pull grant=refresh_token"
assert_eq auths-idtoken-one-per-scope 2 "$(tlog_new | grep -c 'grant=refresh_token' || true)"
# "auth" and "identitytoken" (as docker login writes them): the token is used
fresh_cache
conf "{\"auths\":{\"$REG_TOKEN\":{\"auth\":\"$(b64 "$TOKEN_USER:wrong")\",\"identitytoken\":\"i2kit-fixture-refresh\"}}}"
tlog_mark
run auths-idtoken-over-auth 0 cache pull "$K/busybox:latest"
assert_contains auths-idtoken-over-auth-post "$(tlog_new)" "grant=refresh_token"
# a token server without OAuth2 (POST → 404): GET with the token, as the spec says
fresh_cache
conf "{\"auths\":{\"$REG_TOKEN\":{\"identitytoken\":\"i2kit-fixture-refresh-get-only\"}}}"
tlog_mark
run idtoken-get-fallback 0 cache pull "$K/busybox:latest"
assert_contains idtoken-get-fallback-post "$(tlog_new)" "POST /token user=- status=404 scope=repository:fixtures/busybox:pull grant=refresh_token"
assert_eq idtoken-get-fallback-get 1 "$(tlog_new | grep -c "^GET /token?.* user=$TOKEN_USER status=200 scope=repository:fixtures/busybox:pull\$" || true)"
# a refused refresh token: named by where it came from, never quoted
fresh_cache
conf "{\"auths\":{\"$REG_TOKEN\":{\"identitytoken\":\"$WRONG_RT\"}}}"
run auths-idtoken-refused 3 cache pull "$K/busybox:latest"
assert_contains auths-idtoken-refused-msg "$T_OUT" "$K/busybox:latest: authentication required: token server 127.0.0.1:"
assert_contains auths-idtoken-refused-msg2 "$T_OUT" "refused the identity token from $DC/config.json"

# ---- hints -------------------------------------------------------------------------------
rm -f "$DC/config.json"
run hint-no-creds 3 cache pull --ca-file "$REG_CA" "$T/busybox:latest"
assert_contains hint-no-creds-msg "$T_OUT" "$T/busybox:latest: authentication required (no credentials for $REG_TLS in the docker config.json: run 'docker login $REG_TLS', or point DOCKER_CONFIG at a config.json that has them)"
# an anonymous token that does not open the repository (Docker Hub's way of
# saying private or missing)
run hint-anon-denied 3 cache pull "$K/anon-denied:latest"
assert_contains hint-anon-denied-msg "$T_OUT" "$K/anon-denied:latest: authentication required: the repository does not exist or needs credentials (no credentials for $REG_TOKEN in the docker config.json: run 'docker login $REG_TOKEN'"
run hint-404 1 cache pull "$P/busybox:no-such-tag"
assert_contains hint-404-msg "$T_OUT" "$P/busybox:no-such-tag: manifest unknown"
# no network at all (a new network namespace): DNS fails
if unshare -n true 2>/dev/null; then
	assert_exit hint-offline-docker-io 3 unshare -n "$I2KIT" cache pull alpine:3.19
	assert_contains hint-offline-docker-io-msg "$T_OUT" "docker.io/library/alpine:3.19: registry-1.docker.io: Could not resolve host"
	assert_contains hint-offline-docker-io-hint "$T_OUT" "(offline? images already in the cache build with --offline; 'i2kit cache ls' lists them)"
	assert_exit hint-unknown-host 3 unshare -n "$I2KIT" cache pull regstry.invalid/fixtures/busybox:latest
	assert_contains hint-unknown-host-msg "$T_OUT" "unknown registry host \"regstry.invalid\": the first part of an image name names the registry when it has a '.' or ':'"
else
	t_skip_is_fail hint-offline-docker-io "unshare -n is not permitted here"
fi

# ---- mirrors -------------------------------------------------------------------------------
# a second registry (plain, anonymous) holding copies, one tag only there
MD=$(t_tmpdir)
MPORT=$(free_port)
cat >"$MD/config.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $MD/data
http:
  addr: 127.0.0.1:$MPORT
  secret: i2kit-mirror-test
health:
  storagedriver:
    enabled: false
EOF
mapfile -t unset_reg < <(env | sed -n 's/^\(REGISTRY_[A-Za-z0-9_]*\)=.*/-u\n\1/p')
bg_start "$MD/log" env "${unset_reg[@]}" docker-registry serve "$MD/config.yml"
MIRROR_PID=$BG_PID
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/v2/" || true)" = 200 ] && break
	sleep 0.1
done
M=http://127.0.0.1:$MPORT
for tag in latest mirror-only; do
	skopeo --insecure-policy copy -q --preserve-digests --dest-tls-verify=false \
		"oci:$I2K_OCI:busybox:latest" "docker://127.0.0.1:$MPORT/fixtures/busybox:$tag" >&2
done
assert_eq mirror-seeded 200 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$M/v2/fixtures/busybox/manifests/mirror-only")"

fresh_cache
run mirror-only-tag-needs-mirror 1 cache pull "$P/busybox:mirror-only"
run mirror-only-tag 0 cache pull --mirror "$REG_PLAIN=$M" "$P/busybox:mirror-only"
# tried first: the origin is not asked for what the mirror has
fresh_cache
before=$(grep -c 'fixtures/busybox/manifests/latest' "$REG_STATE/plain.log" || true)
run mirror-first 0 cache pull --mirror "$REG_PLAIN=$M" "$P/busybox:latest"
assert_contains mirror-first-asked "$(cat "$MD/log")" "/v2/fixtures/busybox/manifests/latest"
assert_eq mirror-first-origin-untouched "$before" "$(grep -c 'fixtures/busybox/manifests/latest' "$REG_STATE/plain.log" || true)"
assert_exit mirror-first-skopeo 0 skopeo inspect "oci:$I2KIT_CACHE:$P/busybox:latest"
# not on the mirror: passed over for the origin, with a warning
run mirror-miss-falls-back 0 cache pull --mirror "$REG_PLAIN=$M" "$P/web:latest"
assert_contains mirror-miss-warning "$T_OUT" "warning: mirror $M failed: $P/web:latest:"
assert_contains mirror-miss-warning2 "$T_OUT" "; trying $REG_PLAIN"
# a mirrors file, given or from $I2KIT_MIRRORS_FILE
MF=$MD/mirrors
printf '# test mirrors\n%s=%s/   # the copy\n' "$REG_PLAIN" "$M" >"$MF"
fresh_cache
run mirrors-file 0 cache pull --mirrors-file "$MF" "$P/busybox:mirror-only"
fresh_cache
I2KIT_MIRRORS_FILE=$MF run mirrors-file-env 0 cache pull "$P/busybox:mirror-only"
printf 'docker.io\n' >"$MD/bad-mirrors"
run mirrors-file-bad 1 cache pull --mirrors-file "$MD/bad-mirrors" "$P/web:latest"
assert_contains mirrors-file-bad-msg "$T_OUT" "$MD/bad-mirrors:1: invalid mirror \"docker.io\": expected REGISTRY=URL"
run mirror-plain-http-refused 2 cache pull --mirror docker.io=http://mirror.invalid "$P/web:latest"
assert_contains mirror-plain-http-refused-msg "$T_OUT" "mirror http://mirror.invalid for docker.io is plain HTTP: allow it with --insecure-registry mirror.invalid"
run mirror-bad-spec 2 cache pull --mirror "$M" "$P/web:latest"
assert_contains mirror-bad-spec-msg "$T_OUT" "expected REGISTRY=URL"

# a mirror serving bad blobs: a digest error naming the mirror, nothing cached
faultproxy_start "$M" --corrupt
fresh_cache
run mirror-corrupt 1 cache pull --mirror "$REG_PLAIN=http://$FP_ADDR" "$P/busybox:latest"
assert_contains mirror-corrupt-msg "$T_OUT" "(served by mirror http://$FP_ADDR)"
assert_contains mirror-corrupt-digest "$T_OUT" "sha256:"
assert_eq mirror-corrupt-no-ref "" "$("$I2KIT" cache ls --json | grep '"ref"' || true)"
assert_cache_ok mirror-corrupt-cache-ok
faultproxy_stop

# cached for one platform, the registry unreachable for another: the error says so
fresh_cache
run cached-other-arch-pull 0 cache pull "127.0.0.1:$MPORT/fixtures/busybox:latest"
# (not reaped here: the harness reaps it at exit, so its pid cannot be reused)
kill "$MIRROR_PID"
for _ in $(seq 1 50); do
	curl -s -o /dev/null --max-time 1 "$M/v2/" || break
	sleep 0.1
done
run cached-other-arch-unreachable 3 cache pull --arch arm64 "127.0.0.1:$MPORT/fixtures/busybox:latest"
assert_contains cached-other-arch-msg "$T_OUT" "127.0.0.1:$MPORT/fixtures/busybox:latest: cannot connect to 127.0.0.1:$MPORT"
assert_contains cached-other-arch-hint "$T_OUT" "(the cache has 127.0.0.1:$MPORT/fixtures/busybox:latest only for linux/amd64)"

# the mirror down (since the step above): the origin serves, with a warning
fresh_cache
run mirror-down-falls-back 0 cache pull --mirror "$REG_PLAIN=$M" "$P/busybox:latest"
assert_contains mirror-down-warning "$T_OUT" "warning: mirror $M failed: $P/busybox:latest: cannot connect to 127.0.0.1:$MPORT"
assert_exit mirror-down-skopeo 0 skopeo inspect "oci:$I2KIT_CACHE:$P/busybox:latest"

# ---- no secret anywhere: outputs (-v), the cache ------------------------------------------
for s in "$TOKEN_PASS" "$(b64 "$TOKEN_USER:$TOKEN_PASS")" "$REG_PASS" "$(b64 "$REG_USER:$REG_PASS")" \
	i2kit-fixture-refresh "$WRONG_RT" "$(b64 "<token>:i2kit-fixture-refresh-get-only")"; do
	assert_eq "no-secret-in-output-${s:0:6}" 0 "$(grep -cF -- "$s" "$ALL" || true)"
done
assert_eq no-secret-in-cache 0 "$(grep -rlF -e "$TOKEN_PASS" -e i2kit-fixture-refresh -e "$REG_PASS" "$I2KIT_CACHE" | wc -l)"
t_done
