#!/bin/bash
# 25-signatures.sh — cosign-style signatures against the plain fixture
# registry: `i2kit sign` (ECDSA P-256 and Ed25519 keys from
# fixtures/signing.sh) writes the sha256-DIGEST.sig manifest and payload;
# `build --verify-key` accepts signed images and refuses an unsigned image,
# a wrong key, a payload for another digest and a tampered payload, each
# with one error line naming the image; i2kit-verify: in the YAML gives
# per-image keys; a multi-platform tag is verified through its signed
# index; an offline build after a verified pull verifies from the cache
# (no socket), and fails there with the wrong key. Every image lives in a
# repository of its own (sigNNN/...) so other tests never see these tags.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)
PY=/usr/bin/python3
R=$REG_PLAIN/sig$$-$RANDOM
K=$W/keys

copy() { # SRC-REF (in the OCI layout) DEST-NAME [--all]
	skopeo copy -q ${3:-} --dest-tls-verify=false "oci:$I2K_OCI:$1" "docker://$R/$2" >&2
}
reg_digest() { # the registry's digest for REPO:TAG (what cosign signs)
	skopeo inspect --tls-verify=false --raw "docker://$R/$1" | sha256sum | cut -c1-64
}
sig_field() { # REPO DIGEST-HEX FIELD → from the signature manifest and payload
	"$PY" - "$REG_PLAIN" "${R#"$REG_PLAIN"/}/$1" "$2" "$3" <<'PY'
import json, sys, urllib.request
reg, repo, hexd, field = sys.argv[1:]
def get(path, accept=None):
    req = urllib.request.Request("http://%s/v2/%s/%s" % (reg, repo, path))
    if accept:
        req.add_header("Accept", accept)
    return urllib.request.urlopen(req).read()
m = json.loads(get("manifests/sha256-%s.sig" % hexd, "application/vnd.oci.image.manifest.v1+json"))
l = m["layers"][-1]
p = json.loads(get("blobs/" + l["digest"]))
print({"mediaType": l["mediaType"],
       "annotation": "yes" if l.get("annotations", {}).get("dev.cosignproject.cosign/signature") else "no",
       "type": p["critical"]["type"],
       "digest": p["critical"]["image"]["docker-manifest-digest"],
       "identity": p["critical"]["identity"]["docker-reference"],
       "layers": str(len(m["layers"]))}[field])
PY
}
yml() { # FILE IMAGE... → a config with each image as an onboot entry
	local f=$1 i=0
	shift
	echo "onboot:" >"$f"
	for img in "$@"; do
		i=$((i + 1))
		printf '  - name: s%d\n    image: %s\n    command: ["/bin/true"]\n' "$i" "$img" >>"$f"
	done
}
build() { # NAME YML ARGS... → i2kit build --format tar into $W/out-NAME
	local name=$1 y=$2
	shift 2
	"$I2KIT" build --format tar --dir "$W/out-$name" --name img "$@" "$y"
}

# ---- keys, images ---------------------------------------------------------------
assert_exit keys 0 bash "$REPO/fixtures/signing.sh" keys "$K"
assert_contains keys-ecdsa "$(openssl pkey -pubin -in "$K/ecdsa.pub" -text -noout 2>&1)" "prime256v1"
assert_contains keys-ed25519 "$(openssl pkey -pubin -in "$K/ed25519.pub" -text -noout 2>&1)" "ED25519"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/other.pem" 2>/dev/null
openssl pkey -in "$W/other.pem" -pubout -out "$W/other.pub"
copy busybox:latest busybox:latest
copy web:latest web:latest
copy busybox:latest unsigned:latest
copy web:latest victim:latest
copy web:latest tamper:latest
copy busybox:multi multi:latest --all
BB=$(reg_digest busybox:latest)
WEB=$(reg_digest web:latest)
MULTI=$(reg_digest multi:latest)

# ---- i2kit sign -------------------------------------------------------------------
assert_exit sign-ecdsa 0 "$I2KIT" sign --key "$K/ecdsa.pem" "$R/busybox:latest" "$R/tamper:latest"
assert_contains sign-ecdsa-out "$T_OUT" "signed $R/busybox:latest sha256:$BB"
assert_exit sign-ed25519 0 bash "$REPO/fixtures/signing.sh" sign "$I2KIT" "$K/ed25519.pem" "$R/web:latest"
assert_exit sign-json 0 "$I2KIT" sign --json --key "$K/ecdsa.pem" "$R/multi:latest"
assert_contains sign-json-out "$T_OUT" "\"signature_tag\":\"sha256-$MULTI.sig\""
assert_eq sig-media-type "application/vnd.dev.cosign.simplesigning.v1+json" "$(sig_field busybox "$BB" mediaType)"
assert_eq sig-annotation yes "$(sig_field busybox "$BB" annotation)"
assert_eq sig-type "cosign container image signature" "$(sig_field busybox "$BB" type)"
assert_eq sig-digest "sha256:$BB" "$(sig_field busybox "$BB" digest)"
assert_eq sig-identity "$R/busybox" "$(sig_field busybox "$BB" identity)"
assert_eq sig-index-digest "sha256:$MULTI" "$(sig_field multi "$MULTI" digest)"
# signing again keeps the first signature (ECDSA signatures differ each time)
assert_exit sign-again 0 "$I2KIT" sign -q --key "$K/ecdsa.pem" "$R/busybox:latest"
assert_eq sign-again-appends 2 "$(sig_field busybox "$BB" layers)"
# signing with a public key, an unknown image
assert_exit sign-public-key 1 "$I2KIT" sign --key "$K/ecdsa.pub" "$R/busybox:latest"
assert_contains sign-public-key-msg "$T_OUT" "i2kit: error: $K/ecdsa.pub: not a PEM private key"
assert_exit sign-missing-image 1 "$I2KIT" sign --key "$K/ecdsa.pem" "$R/nothere:latest"
assert_contains sign-missing-image-msg "$T_OUT" "i2kit: error: $R/nothere:latest"
assert_exit sign-no-key 2 "$I2KIT" sign "$R/busybox:latest"
assert_exit sign-verify-key-usage 2 "$I2KIT" sign --key "$K/ecdsa.pem" --verify-key "$K/ecdsa.pub" "$R/busybox:latest"
# the signatures verify with openssl over the payload bytes (the independent
# oracle: cosign is not installed here): Ed25519 over the bytes, ECDSA P-256 as
# DER over their SHA-256
extract() { # REPO DIGEST-HEX → $W/REPO.payload, $W/REPO.sig (first layer)
	"$PY" - "$REG_PLAIN" "${R#"$REG_PLAIN"/}/$1" "$2" "$W/$1" <<'PY'
import base64, json, sys, urllib.request
reg, repo, hexd, out = sys.argv[1:]
def get(path, accept=None):
    req = urllib.request.Request("http://%s/v2/%s/%s" % (reg, repo, path))
    if accept:
        req.add_header("Accept", accept)
    return urllib.request.urlopen(req).read()
m = json.loads(get("manifests/sha256-%s.sig" % hexd, "application/vnd.oci.image.manifest.v1+json"))
l = m["layers"][0]
open(out + ".payload", "wb").write(get("blobs/" + l["digest"]))
open(out + ".sig", "wb").write(base64.b64decode(l["annotations"]["dev.cosignproject.cosign/signature"]))
PY
}
extract web "$WEB"
extract busybox "$BB"
assert_exit openssl-verifies-ed25519 0 openssl pkeyutl -verify -pubin -inkey "$K/ed25519.pub" \
	-rawin -in "$W/web.payload" -sigfile "$W/web.sig"
assert_exit openssl-verifies-ecdsa 0 openssl dgst -sha256 -verify "$K/ecdsa.pub" \
	-signature "$W/busybox.sig" "$W/busybox.payload"
assert_exit openssl-rejects-other-key 1 openssl dgst -sha256 -verify "$W/other.pub" \
	-signature "$W/busybox.sig" "$W/busybox.payload"

# ---- build --verify-key -------------------------------------------------------------
yml "$W/bb.yml" "$R/busybox:latest"
assert_exit build-signed-ecdsa 0 build bb1 "$W/bb.yml" --verify-key "$K/ecdsa.pub"
assert_file build-signed-ecdsa-out "$W/out-bb1/img.tar"
assert_contains cache-has-evidence "$(cat "$I2KIT_CACHE/index.json")" ":sha256-"
assert_contains cache-has-evidence-suffix "$(cat "$I2KIT_CACHE/index.json")" ".i2kit-sig"
assert_cache_ok cache-sound-after-verify
assert_exit cache-verify-cmd 0 "$I2KIT" cache verify
# any of several keys may verify
assert_exit build-any-key 0 build bb2 "$W/bb.yml" --verify-key "$W/other.pub" --verify-key "$K/ecdsa.pub"

# ---- offline after a verified pull: from the cache, no socket ------------------------
assert_exit offline-verified 0 strace -f -qq -e trace=socket -o "$W/strace1" \
	"$I2KIT" build --offline --format tar --dir "$W/out-off" --name img --verify-key "$K/ecdsa.pub" "$W/bb.yml"
assert_eq offline-verified-no-socket 0 "$(grep -c AF_INET "$W/strace1" || true)"
assert_exit offline-wrong-key 1 "$I2KIT" build --offline --format tar --dir "$W/out-off2" --name img \
	--verify-key "$W/other.pub" "$W/bb.yml"
assert_contains offline-wrong-key-msg "$T_OUT" "i2kit: error: $R/busybox:latest: signature: no signature of sha256:$BB verifies with $W/other.pub"
# offline, an image cached without its signature evidence
SAVED=$I2KIT_CACHE
fresh_cache
assert_exit pull-unverified 0 "$I2KIT" cache pull "$R/busybox:latest"
assert_exit offline-no-evidence 1 "$I2KIT" build --offline --format tar --dir "$W/out-off3" --name img \
	--verify-key "$K/ecdsa.pub" "$W/bb.yml"
assert_contains offline-no-evidence-msg "$T_OUT" "i2kit: error: $R/busybox:latest: signature: not in the cache and --offline was given"
# online, the cached image gets its evidence fetched
assert_exit cached-image-verified 0 build bb3 "$W/bb.yml" --verify-key "$K/ecdsa.pub"
I2KIT_CACHE=$SAVED

# ---- failures, each one line naming the image ---------------------------------------
fresh_cache
yml "$W/unsigned.yml" "$R/unsigned:latest"
assert_exit unsigned-fails 1 build uns "$W/unsigned.yml" --verify-key "$K/ecdsa.pub"
UNS=$(reg_digest unsigned:latest)
assert_contains unsigned-msg "$T_OUT" "i2kit: error: $R/unsigned:latest: signature: no signature for sha256:$UNS (tag sha256-$UNS.sig not found)"
assert_eq unsigned-one-line 1 "$(printf '%s\n' "$T_OUT" | grep -c 'i2kit: error:')"
[ ! -e "$W/out-uns/img.tar" ] && t_pass unsigned-no-output || t_fail unsigned-no-output "img.tar written"

assert_exit wrong-key-fails 1 build wrong "$W/bb.yml" --verify-key "$W/other.pub"
assert_contains wrong-key-msg "$T_OUT" "i2kit: error: $R/busybox:latest: signature: no signature of sha256:$BB verifies with $W/other.pub (2 checked)"
yml "$W/web.yml" "$R/web:latest"
assert_exit wrong-kind-fails 1 build wrongkind "$W/web.yml" --verify-key "$K/ecdsa.pub"
assert_contains wrong-kind-msg "$T_OUT" "signature: no signature of sha256:$WEB verifies with $K/ecdsa.pub (1 checked)"
assert_exit ed25519-ok 0 build ed "$W/web.yml" --verify-key "$K/ed25519.pub"

# a valid signature of another image copied under the victim's signature tag
VIC=$(reg_digest victim:latest)
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
	"docker://$R/busybox:sha256-$BB.sig" "docker://$R/victim:sha256-$VIC.sig" >&2
yml "$W/victim.yml" "$R/victim:latest"
assert_exit other-digest-fails 1 build vic "$W/victim.yml" --verify-key "$K/ecdsa.pub"
assert_contains other-digest-msg "$T_OUT" "i2kit: error: $R/victim:latest: signature: the payload in sha256-$VIC.sig signs sha256:$BB, not sha256:$VIC"

# a tampered payload: edited (still valid JSON, same digest claim), re-pushed with
# its new digest in a new signature manifest that keeps the old signature
TAM=$(reg_digest tamper:latest)
yml "$W/tamper.yml" "$R/tamper:latest"
assert_exit tamper-before 0 build tam0 "$W/tamper.yml" --verify-key "$K/ecdsa.pub"
"$PY" - "$REG_PLAIN" "${R#"$REG_PLAIN"/}/tamper" "$TAM" <<'PY'
import hashlib, json, sys, urllib.request
reg, repo, hexd = sys.argv[1:]
base = "http://%s/v2/%s/" % (reg, repo)
mt = "application/vnd.oci.image.manifest.v1+json"
def req(method, path, data=None, headers={}):
    r = urllib.request.Request(path if path.startswith("http") else base + path, data=data, method=method)
    for k, v in headers.items():
        r.add_header(k, v)
    return urllib.request.urlopen(r)
m = json.loads(req("GET", "manifests/sha256-%s.sig" % hexd, headers={"Accept": mt}).read())
l = m["layers"][0]
p = json.loads(req("GET", "blobs/" + l["digest"]).read())
p["optional"] = {"creator": "mallory"}
data = json.dumps(p).encode()
dg = "sha256:" + hashlib.sha256(data).hexdigest()
loc = req("POST", "blobs/uploads/").headers["Location"]
if loc.startswith("/"):
    loc = "http://%s%s" % (reg, loc)
req("PUT", loc + ("&" if "?" in loc else "?") + "digest=" + dg, data,
    {"Content-Type": "application/octet-stream"})
l["digest"], l["size"] = dg, len(data)
req("PUT", "manifests/sha256-%s.sig" % hexd, json.dumps(m).encode(), {"Content-Type": mt})
PY
assert_exit tamper-fails 1 build tam1 "$W/tamper.yml" --verify-key "$K/ecdsa.pub" --pull
assert_contains tamper-msg "$T_OUT" "i2kit: error: $R/tamper:latest: signature: no signature of sha256:$TAM verifies with $K/ecdsa.pub (1 checked)"
fresh_cache
assert_exit tamper-fails-fresh 1 build tam2 "$W/tamper.yml" --verify-key "$K/ecdsa.pub"
assert_contains tamper-fresh-msg "$T_OUT" "verifies with $K/ecdsa.pub (1 checked)"

# ---- per-image keys in the YAML (i2kit-verify:) ----------------------------------------
fresh_cache
yml "$W/both.yml" "$R/busybox:latest" "$R/web:latest"
assert_exit cli-key-alone-fails 1 build both0 "$W/both.yml" --verify-key "$K/ecdsa.pub"
assert_contains cli-key-alone-msg "$T_OUT" "i2kit: error: $R/web:latest: signature:"
cat >>"$W/both.yml" <<YML
i2kit-verify:
  $R/web:latest: $K/ed25519.pub
YML
assert_exit yaml-key 0 build both1 "$W/both.yml" --verify-key "$K/ecdsa.pub"
assert_exit yaml-key-only 0 build both2 "$W/both.yml"
cat >"$W/wrongyaml.yml" <<YML
onboot:
  - name: b
    image: $R/busybox:latest
i2kit-verify:
  $R/busybox:latest: [$W/other.pub]
YML
assert_exit yaml-wrong-key 1 build wy "$W/wrongyaml.yml"
assert_contains yaml-wrong-key-msg "$T_OUT" "i2kit: error: $R/busybox:latest: signature: no signature of sha256:$BB verifies with $W/other.pub"
cat >"$W/badyaml.yml" <<YML
onboot:
  - name: b
    image: $R/busybox:latest
i2kit-verify: [x]
YML
assert_exit yaml-bad-shape 1 build by "$W/badyaml.yml"
assert_contains yaml-bad-shape-msg "$T_OUT" "expected a mapping of image to public key file"
assert_exit validate-accepts 0 "$I2KIT" validate "$W/both.yml"

# ---- a multi-platform tag: the signed index leads to the amd64 manifest ---------------
yml "$W/multi.yml" "$R/multi:latest"
assert_exit index-signed 0 build multi "$W/multi.yml" --verify-key "$K/ecdsa.pub"
assert_exit index-offline 0 "$I2KIT" build --offline --format tar --dir "$W/out-multi2" --name img \
	--verify-key "$K/ecdsa.pub" "$W/multi.yml"
assert_exit index-pull-verify 0 "$I2KIT" cache pull --verify-key "$K/ecdsa.pub" "$R/multi:latest"
assert_exit pull-verify-unsigned 1 "$I2KIT" cache pull --verify-key "$K/ecdsa.pub" "$R/unsigned:latest"

# ---- a bootable build: kernel and busybox signed, i2kit's own init (from the
# installation, not a registry) is not asked for a signature ----------------------
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
	"docker://$REG_PLAIN/fixtures/kernel:6.1" "docker://$R/kernel:6.1" >&2
assert_exit kernel-sign 0 "$I2KIT" sign -q --key "$K/ecdsa.pem" "$R/kernel:6.1"
cat >"$W/vm.yml" <<YML
kernel:
  image: $R/kernel:6.1
  cmdline: "console=ttyS0"
onboot:
  - name: hello
    image: $R/busybox:latest
    command: ["/bin/echo", "hi"]
YML
assert_exit vm-verified 0 "$I2KIT" build --dir "$W/out-vm" --name vm --verify-key "$K/ecdsa.pub" "$W/vm.yml"
assert_file vm-initrd "$W/out-vm/vm-initrd.img"
assert_exit vm-wrong-key 1 "$I2KIT" build --dir "$W/out-vm2" --name vm --verify-key "$W/other.pub" "$W/vm.yml"
assert_contains vm-wrong-key-msg "$T_OUT" "i2kit: error: $R/kernel:6.1: signature: no signature of"

# ---- Docker schema 2: signed in its registry form, cached in its OCI form ---------------
skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
	"docker://$REG_PLAIN/fixtures/busybox:v2s2" "docker://$R/v2s2:latest" >&2
assert_contains v2s2-is-docker "$(skopeo inspect --tls-verify=false --raw "docker://$R/v2s2:latest")" \
	"application/vnd.docker.distribution.manifest.v2+json"
assert_exit v2s2-sign 0 "$I2KIT" sign -q --key "$K/ed25519.pem" "$R/v2s2:latest"
yml "$W/v2s2.yml" "$R/v2s2:latest"
assert_exit v2s2-verified 0 build v2s2 "$W/v2s2.yml" --verify-key "$K/ed25519.pub"
assert_exit v2s2-offline 0 "$I2KIT" build --offline --format tar --dir "$W/out-v2s2b" --name img \
	--verify-key "$K/ed25519.pub" "$W/v2s2.yml"

# ---- a token-auth registry: sign asks for a pull,push token with the Docker config's user --
DC=$(t_tmpdir)
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG_TOKEN" "$(printf '%s' "$TOKEN_USER:$TOKEN_PASS" | base64 -w0)" >"$DC/config.json"
T=$REG_TOKEN/sig$$-$RANDOM
skopeo copy -q --dest-tls-verify=false --dest-creds "$TOKEN_USER:$TOKEN_PASS" \
	"oci:$I2K_OCI:busybox:latest" "docker://$T/busybox:latest" >&2
assert_exit token-sign 0 env DOCKER_CONFIG="$DC" "$I2KIT" sign -q --key "$K/ecdsa.pem" "$T/busybox:latest"
assert_contains token-push-scope "$(cat "$REG_STATE/tokensrv.requests.log")" "repository:${T#"$REG_TOKEN"/}/busybox:pull,push"
yml "$W/token.yml" "$T/busybox:latest"
assert_exit token-verified 0 env DOCKER_CONFIG="$DC" "$I2KIT" build --format tar --dir "$W/out-token" \
	--name img --verify-key "$K/ecdsa.pub" "$W/token.yml"
assert_exit token-no-creds 3 env DOCKER_CONFIG="$(t_tmpdir)" "$I2KIT" sign -q --key "$K/ecdsa.pem" "$T/busybox:latest"
assert_contains token-no-creds-msg "$T_OUT" "i2kit: error: $T/busybox:latest: authentication required"

assert_cache_ok cache-sound-end
t_done
