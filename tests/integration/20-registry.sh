#!/bin/bash
# 20-registry.sh — `i2kit cache pull` against the plain fixture registry:
# tags, digests, Docker schema 2, index → platform (amd64, arm64, arm/v7),
# the cache read back by skopeo and umoci, cache hits without a socket,
# --pull refreshing a retagged image, error messages and exit codes; then a
# scripted fake registry for what the real one never does (wrong manifest
# digests, oversized manifests, cross-host redirects that must not carry
# the Authorization header, bare HTTP errors).
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
B=$REG_PLAIN/fixtures
PY=/usr/bin/python3

# index.json digest of REF in $I2KIT_CACHE ("" when absent)
ref_digest() {
	"$PY" - "$I2KIT_CACHE" "$1" <<'EOF'
import json, sys
for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]:
        print(m["digest"])
EOF
}
# every committed blob's sha256 equals its name, no partial left behind
verify_cache() {
	local bad=0 f
	for f in "$I2KIT_CACHE"/blobs/sha256/*; do
		[ -f "$f" ] || continue
		[ "$(sha256sum <"$f" | cut -c1-64)" = "$(basename "$f")" ] || bad=$((bad + 1))
	done
	echo "$bad"
}
registry_digest() { # digest of the registry's manifest (or index) for REF
	skopeo inspect --tls-verify=false --raw "docker://$1" | sha256sum | cut -c1-64
}
# prints the content of /platform in the image REF of the cache (or "none");
# the fixture index's images say amd64, arm64 and armv7 there
platform_file() {
	"$PY" - "$I2KIT_CACHE" "$1" <<'EOF'
import json, sys, tarfile
d, ref = sys.argv[1], sys.argv[2]
def blob(dg): return d + "/blobs/sha256/" + dg.split(":")[1]
for m in json.load(open(d + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref:
        man = json.load(open(blob(m["digest"])))
        for l in man["layers"]:
            with tarfile.open(blob(l["digest"])) as t:
                for ti in t:
                    if ti.name.lstrip("./") == "platform":
                        print(t.extractfile(ti).read().decode().strip()); sys.exit(0)
print("none")
EOF
}

# ---- tags ---------------------------------------------------------------------
assert_exit pull-tag 0 "$I2KIT" cache pull "$B/busybox:latest"
want=$(registry_digest "$B/busybox:latest")
assert_contains pull-tag-prints-digest "$T_OUT" "$B/busybox:latest sha256:$want"
assert_eq pull-tag-index-json "sha256:$want" "$(ref_digest "$B/busybox:latest")"
assert_exit skopeo-inspect-tag 0 skopeo inspect "oci:$I2KIT_CACHE:$B/busybox:latest"
assert_contains skopeo-inspect-digest "$T_OUT" "sha256:$want"

assert_exit pull-layers 0 "$I2KIT" cache pull "$B/layers:latest" "$B/kernel:6.1" "$B/web:latest"
assert_eq pull-layers-digest "sha256:$(registry_digest "$B/layers:latest")" \
	"$(ref_digest "$B/layers:latest")"
assert_eq pull-kernel-digest "sha256:$(registry_digest "$B/kernel:6.1")" \
	"$(ref_digest "$B/kernel:6.1")"

# ---- digests ------------------------------------------------------------------
wd=$(registry_digest "$B/web:latest")
assert_exit pull-digest 0 "$I2KIT" cache pull "$B/web@sha256:$wd"
assert_contains pull-digest-output "$T_OUT" "$B/web@sha256:$wd sha256:$wd"
assert_exit skopeo-inspect-digest-ref 0 skopeo inspect "oci:$I2KIT_CACHE:$B/web@sha256:$wd"

# ---- Docker v2 schema 2 (stored in its OCI form, layers untouched) -----------------
assert_exit pull-v2s2 0 "$I2KIT" cache pull "$B/busybox:v2s2"
assert_exit skopeo-inspect-v2s2 0 skopeo inspect "oci:$I2KIT_CACHE:$B/busybox:v2s2"
reg_layers=$(skopeo inspect --tls-verify=false --raw "docker://$B/busybox:v2s2" |
	"$PY" -c 'import json,sys; m=json.load(sys.stdin); print(m["mediaType"], *[l["digest"] for l in m["layers"]])')
got_layers=$(skopeo inspect --raw "oci:$I2KIT_CACHE:$B/busybox:v2s2" |
	"$PY" -c 'import json,sys; m=json.load(sys.stdin); print(m["mediaType"], *[l["digest"] for l in m["layers"]])')
assert_contains v2s2-registry-is-docker "$reg_layers" "application/vnd.docker.distribution.manifest.v2+json"
assert_eq v2s2-stored-as-oci-same-layers "application/vnd.oci.image.manifest.v1+json ${reg_layers#* }" "$got_layers"

# ---- index → platform ------------------------------------------------------------
idx=$(skopeo inspect --tls-verify=false --raw "docker://$B/busybox:multi")
plat_digest() { # ARCH [VARIANT] → digest of that entry in the index
	printf '%s' "$idx" | "$PY" -c '
import json, sys
for m in json.load(sys.stdin)["manifests"]:
    p = m["platform"]
    if p["architecture"] == sys.argv[1] and p.get("variant", "") == (sys.argv[2] if len(sys.argv) > 2 else ""):
        print(m["digest"])' "$@"
}
assert_exit pull-index-amd64 0 "$I2KIT" cache pull "$B/busybox:multi"
assert_eq index-amd64-manifest "$(plat_digest amd64)" "$(ref_digest "$B/busybox:multi")"
assert_eq index-amd64-platform-file amd64 "$(platform_file "$B/busybox:multi")"
assert_exit pull-index-arm64 0 "$I2KIT" cache pull --platform linux/arm64 "$B/busybox:multi"
assert_eq index-arm64-manifest "$(plat_digest arm64)" "$(ref_digest "$B/busybox:multi")"
assert_eq index-arm64-platform-file arm64 "$(platform_file "$B/busybox:multi")"
assert_exit pull-index-arm64-v8 0 "$I2KIT" cache pull --platform linux/arm64/v8 --arch arm64 "$B/busybox:multi"
assert_exit pull-index-armv7 0 "$I2KIT" cache pull --platform linux/arm/v7 "$B/busybox:multi"
assert_eq index-armv7-manifest "$(plat_digest arm v7)" "$(ref_digest "$B/busybox:multi")"
assert_eq index-armv7-platform-file armv7 "$(platform_file "$B/busybox:multi")"
assert_exit skopeo-inspect-armv7 0 skopeo inspect "oci:$I2KIT_CACHE:$B/busybox:multi"
assert_contains skopeo-inspect-armv7-arch "$T_OUT" '"Architecture": "arm"'
# a digest-pinned index resolves to the platform manifest too
mi=$(printf '%s' "$idx" | sha256sum | cut -c1-64)
assert_exit pull-index-by-digest 0 "$I2KIT" cache pull --arch arm64 "$B/busybox@sha256:$mi"
assert_eq index-by-digest-manifest "$(plat_digest arm64)" "$(ref_digest "$B/busybox@sha256:$mi")"
idx_blob=$I2KIT_CACHE/blobs/sha256/$mi
if [ -e "$idx_blob" ]; then t_fail index-not-stored "the index blob $mi is in the cache"; else t_pass index-not-stored; fi
only_manifests=$("$PY" - "$I2KIT_CACHE" <<'EOF'
import json, sys
d = sys.argv[1]
for m in json.load(open(d + "/index.json"))["manifests"]:
    body = json.load(open(d + "/blobs/sha256/" + m["digest"].split(":")[1]))
    if "manifests" in body or m["mediaType"] != "application/vnd.oci.image.manifest.v1+json":
        print("index entry", m["digest"], "is not an image manifest")
EOF
)
assert_eq index-json-only-platform-manifests "" "$only_manifests"
assert_exit no-such-platform 1 "$I2KIT" cache pull --platform linux/s390x "$B/busybox:multi"
assert_contains no-such-platform-msg "$T_OUT" "$B/busybox:multi: no image for platform linux/s390x"
assert_exit wrong-arch-single 1 "$I2KIT" cache pull --arch arm64 "$B/web:latest"
assert_contains wrong-arch-single-msg "$T_OUT" "image is for linux/amd64, not linux/arm64"

# ---- the cache, read by others ----------------------------------------------------
assert_exit umoci-ls 0 umoci ls --layout "$I2KIT_CACHE"
assert_contains umoci-ls-busybox "$T_OUT" "$B/busybox:latest"
assert_contains umoci-ls-web-digest "$T_OUT" "$B/web@sha256:$wd"
assert_eq cache-blobs-verified 0 "$(verify_cache)"
assert_exit cache-ls 0 "$I2KIT" cache ls
assert_contains cache-ls-row "$(printf '%s\n' "$T_OUT" | grep "^$B/busybox:latest " | tr -s ' ')" "$B/busybox:latest ${want:0:12} 1.0 MiB"
assert_exit cache-ls-json 0 "$I2KIT" cache ls --json
sz=$(printf '%s' "$T_OUT" | "$PY" -c '
import json, sys
for r in json.load(sys.stdin):
    if r["ref"] == sys.argv[1]: print(r["size"], r["complete"])' "$B/busybox:latest")
want_sz=$(skopeo inspect --tls-verify=false --raw "docker://$B/busybox:latest" | "$PY" -c '
import json, sys
raw = sys.stdin.buffer.read(); m = json.loads(raw)
print(len(raw) + m["config"]["size"] + sum(l["size"] for l in m["layers"]), True)')
assert_eq cache-ls-json-size "$want_sz" "$sz"

# ---- cache hits open no socket ----------------------------------------------------
if command -v strace >/dev/null; then
	tr=$(t_tmpdir)/strace
	assert_exit cached-pull 0 strace -f -qq -e trace=socket,connect -o "$tr" \
		"$I2KIT" cache pull "$B/busybox:latest" "$B/layers:latest"
	assert_contains cached-pull-says-cached "$T_OUT" "cached  $B/busybox:latest"
	assert_eq cached-pull-no-inet-socket 0 "$(grep -c 'AF_INET' "$tr" || true)"
else
	t_skip_is_fail cached-pull-no-inet-socket "strace not installed"
fi

# ---- a plain-HTTP registry is probed for TLS once, however many pulls start together --
# (each probe is a TLS handshake: a ClientHello, record type 22 = octal 26)
if command -v strace >/dev/null; then
	tr=$(t_tmpdir)/strace-probe
	assert_exit probe-once-pull 0 strace -f -qq -e trace=sendto,write -o "$tr" \
		"$I2KIT" cache pull --cache "$(t_tmpdir)/probe-cache" "$B/busybox:latest" "$B/web:latest" \
		"$B/layers:latest" "$B/busybox:multi"
	assert_eq probe-once-hellos 1 "$(grep -c '"\\26\\3\\1' "$tr" || true)"
else
	t_skip_is_fail probe-once-hellos "strace not installed"
fi

# ---- errors -----------------------------------------------------------------------
assert_exit missing-tag 1 "$I2KIT" cache pull "$B/busybox:nope"
assert_contains missing-tag-msg "$T_OUT" "i2kit: error: $B/busybox:nope: manifest unknown"
assert_exit missing-repo 1 "$I2KIT" cache pull "$B/nope:latest"
assert_contains missing-repo-msg "$T_OUT" "i2kit: error: $B/nope:latest: "
assert_exit missing-digest 1 "$I2KIT" cache pull "$B/busybox@sha256:$(printf x | sha256sum | cut -c1-64)"
assert_contains missing-digest-msg "$T_OUT" "manifest unknown"
assert_exit bad-ref 1 "$I2KIT" cache pull "$B/BusyBox:latest"
assert_contains bad-ref-msg "$T_OUT" "invalid image reference"
assert_exit refused 3 "$I2KIT" cache pull 127.0.0.1:1/fixtures/busybox:latest
assert_contains refused-msg "$T_OUT" "cannot connect to 127.0.0.1:1: Connection refused"
assert_exit usage-no-verb 2 "$I2KIT" cache
assert_exit usage-bad-verb 2 "$I2KIT" cache frobnicate
assert_contains usage-bad-verb-msg "$T_OUT" 'unknown verb "frobnicate"'
assert_exit usage-pull-no-ref 2 "$I2KIT" cache pull
assert_exit usage-bad-option 2 "$I2KIT" cache ls --bogus
assert_exit help 0 "$I2KIT" cache --help
assert_contains help-text "$T_OUT" "export FILE REF..."

# ---- --pull refreshes a retagged image ------------------------------------------------
repo=$B/retag-$$
skopeo copy -q --dest-tls-verify=false --src-tls-verify=false \
	"docker://$B/busybox:latest" "docker://$repo:t" >/dev/null
assert_exit retag-first 0 "$I2KIT" cache pull "$repo:t"
first=$(ref_digest "$repo:t")
skopeo copy -q --dest-tls-verify=false --src-tls-verify=false \
	"docker://$B/web:latest" "docker://$repo:t" >/dev/null
assert_exit retag-cached 0 "$I2KIT" cache pull "$repo:t"
assert_eq retag-cached-keeps-old "$first" "$(ref_digest "$repo:t")"
assert_exit retag-pull 0 "$I2KIT" cache pull --pull "$repo:t"
assert_eq retag-pull-refreshes "sha256:$(registry_digest "$B/web:latest")" "$(ref_digest "$repo:t")"
assert_exit retag-offline-pull 0 "$I2KIT" cache pull --offline --pull "$repo:t"

# ---- a scripted registry: what the real one never does -------------------------------
W=$(t_tmpdir)
cat >"$W/fake.py" <<'EOF'
import hashlib, json, sys, base64, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
log = open(sys.argv[1], "a", buffering=1)
cfg = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
layer = b"not really a tar but the digest is right"
def dg(b): return "sha256:" + hashlib.sha256(b).hexdigest()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dg(cfg), "size": len(cfg)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": dg(layer), "size": len(layer)}]}).encode()
AUTH = "Basic " + base64.b64encode(b"u:p").decode()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body=b"", ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        p, host = self.path, self.headers.get("Host", "")
        log.write("%s %s auth=%s\n" % (host, p, self.headers.get("Authorization", "-")))
        mt = ("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        if p == "/v2/":
            return self.send(200, b"{}")
        if p.startswith("/v2/wrongpin/manifests/"):
            return self.send(200, man, mt[1])
        if p == "/v2/baddcd/manifests/latest":
            return self.send(200, man, mt[1], [("Docker-Content-Digest", dg(b"other"))])
        if p == "/v2/huge/manifests/latest":
            return self.send(200, b" " * (5 << 20), mt[1])
        if p == "/v2/bare404/manifests/latest":
            return self.send(404, b"", "text/plain")
        if p == "/v2/err500/manifests/latest":
            return self.send(500, b'{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}')
        if p == "/v2/denied/manifests/latest":
            return self.send(403, b'{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}')
        if p == "/v2/schema1/manifests/latest":
            return self.send(200, b'{"schemaVersion":1,"fsLayers":[]}', "application/vnd.docker.distribution.manifest.v1+prettyjws")
        if p.startswith("/v2/redir/"):
            if self.headers.get("Authorization") != AUTH:
                return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                                 extra=[("WWW-Authenticate", 'Basic realm="fake"')])
            if "/manifests/" in p:
                return self.send(200, man, mt[1])
            d = p.rsplit("/", 1)[1]
            # to the same server under another name: another authority
            return self.send(307, b"", extra=[("Location", "http://localhost:%d/storage/%s" % (self.server.server_port, d))])
        if p.startswith("/storage/"):
            d = p.rsplit("/", 1)[1]
            body = cfg if d == dg(cfg) else layer
            return self.send(200, body, "application/octet-stream")
        return self.send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}')
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2] + ".tmp", "w").write(str(srv.server_port))
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
EOF
"$PY" "$W/fake.py" "$W/fake.log" "$W/port" 2>"$W/fake.err" &
FAKE_PID=$!
on_exit "kill $FAKE_PID"
for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
F=127.0.0.1:$(cat "$W/port" 2>/dev/null || echo 0)
pin=sha256:$(printf 'something else' | sha256sum | cut -c1-64)
assert_exit fake-wrong-pinned-digest 1 "$I2KIT" cache pull "$F/wrongpin@$pin"
assert_contains fake-wrong-pinned-digest-msg "$T_OUT" "$F/wrongpin@$pin: manifest $pin has digest sha256:"
assert_exit fake-bad-docker-content-digest 1 "$I2KIT" cache pull "$F/baddcd:latest"
assert_contains fake-bad-dcd-msg "$T_OUT" "but the registry announced sha256:"
assert_exit fake-huge-manifest 1 "$I2KIT" cache pull "$F/huge:latest"
assert_contains fake-huge-manifest-msg "$T_OUT" "$F/huge:latest: manifest: data exceeds 4194304 bytes"
assert_exit fake-bare-404 1 "$I2KIT" cache pull "$F/bare404:latest"
assert_contains fake-bare-404-msg "$T_OUT" "$F/bare404:latest: not found (HTTP 404)"
assert_exit fake-500-after-retries 3 "$I2KIT" cache pull "$F/err500:latest"
assert_contains fake-500-msg "$T_OUT" "$F/err500:latest: disk on fire"
assert_eq fake-500-retried 6 "$(grep -c '/v2/err500/manifests' "$W/fake.log" || true)"
assert_exit fake-denied 3 "$I2KIT" cache pull "$F/denied:latest"
assert_contains fake-denied-msg "$T_OUT" "requested access to the resource is denied"
assert_exit fake-schema1 1 "$I2KIT" cache pull "$F/schema1:latest"
assert_contains fake-schema1-msg "$T_OUT" "unsupported manifest type"
assert_exit fake-name-unknown 1 "$I2KIT" cache pull "$F/whatever:latest"
assert_contains fake-name-unknown-msg "$T_OUT" "repository name not known to registry"
# basic auth + redirect to another authority
assert_exit fake-redirect-no-creds 3 "$I2KIT" cache pull "$F/redir:latest"
assert_contains fake-redirect-no-creds-msg "$T_OUT" "authentication required"
DC=$(t_tmpdir)
printf '{"auths":{"%s":{"auth":"%s"}}}' "$F" "$(printf u:p | base64)" >"$DC/config.json"
: >"$W/fake.log"
assert_exit fake-redirect 0 env DOCKER_CONFIG="$DC" "$I2KIT" cache pull "$F/redir:latest"
assert_contains fake-redirect-followed "$(cat "$W/fake.log")" "/storage/sha256:"
assert_eq fake-redirect-no-auth-to-other-host "" "$(grep '/storage/' "$W/fake.log" | grep -v 'auth=-' || true)"
assert_contains fake-redirect-auth-to-registry "$(grep '/v2/redir/blobs/' "$W/fake.log")" "auth=Basic "
assert_eq fake-cache-verified 0 "$(verify_cache)"
t_done
