#!/bin/bash
# 56-sbom.sh — the SPDX SBOM of a build: NAME.spdx.json beside the outputs
# and /sbom.spdx.json in the root (LinuxKit's path), the same bytes; valid
# against the official SPDX 2.3 JSON schema (tools/spdxcheck.py, python3
# jsonschema); every image of the config listed with the digest the build
# resolved (checked against `build --json`); the packages of an image's
# final tree (fixtures/pushimage.py pkgdb: a later layer replaces the apk
# database and whites out a status.d file); byte-identical across two
# builds; created = SOURCE_DATE_EPOCH, else 1970-01-01; --no-sbom writes
# neither; `build --json` lists the file (format "sbom").
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
CHECK=$REPO/tests/integration/tools/spdxcheck.py
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)

assert_exit pkgdb-image-pushed 0 "$T_PY" "$REPO/fixtures/pushimage.py" "$REG_PLAIN" sbom/pkgdb:latest pkgdb 0

cat >"$W/sb.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $REG_PLAIN/fixtures/busybox:latest
onboot:
  - name: hello
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "hi"]
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
  - name: pkgdb
    image: $REG_PLAIN/sbom/pkgdb:latest
files:
  - path: init
    contents: "#!/bin/sh\nexec /bin/sh\n"
    mode: "0755"
YML

# ---- beside the outputs and in the root --------------------------------------
assert_exit build 0 "$I2KIT" build --format tar --dir "$W/o1" --name sb "$W/sb.yml"
assert_file sbom-beside-outputs "$W/o1/sb.spdx.json"
assert_contains build-says-sbom "$T_OUT" "wrote $W/o1/sb.spdx.json (sbom, "
tar -xOf "$W/o1/sb.tar" sbom.spdx.json >"$W/root.spdx.json" 2>/dev/null || true
assert_exit sbom-in-root-same-bytes 0 cmp "$W/o1/sb.spdx.json" "$W/root.spdx.json"
assert_contains sbom-in-root-mode "$(tar -tvf "$W/o1/sb.tar" sbom.spdx.json)" "-rw-r--r-- 0/0"

# ---- the official SPDX 2.3 JSON schema + the spec's rules -----------------------
assert_eq schema-valid ok "$("$T_PY" "$CHECK" "$W/o1/sb.spdx.json" 2>&1)"

# ---- --json: the files (with the SBOM) and the images with their digests -----------
rc=0
env -u SOURCE_DATE_EPOCH "$I2KIT" build --json --format tar --dir "$W/oj" --name sb "$W/sb.yml" \
	>"$W/j.json" 2>"$W/j.err" || rc=$?
assert_eq json-build-exit 0 "$rc"
assert_eq json-lists-sbom ok "$("$T_PY" - "$W/j.json" "$W/oj" <<'PY' 2>&1
import hashlib, json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["files"] if x["format"] == "sbom"]
assert len(f) == 1, d["files"]
assert f[0]["path"] == sys.argv[2] + "/sb.spdx.json", f
data = open(f[0]["path"], "rb").read()
assert f[0]["size"] == len(data), f
assert f[0]["sha256"] == "sha256:" + hashlib.sha256(data).hexdigest(), f
assert [x["format"] for x in d["files"]] == ["tar", "sbom"], d["files"]
print("ok")
PY
)"

# every image of the config, with the digest the build resolved; the pkgdb
# image's packages are those of its final tree
assert_eq sbom-images-and-packages ok "$("$T_PY" - "$W/o1/sb.spdx.json" "$W/j.json" "$REG_PLAIN" <<'PY' 2>&1
import json, sys
doc = json.load(open(sys.argv[1]))
built = json.load(open(sys.argv[2]))
reg = sys.argv[3]
pk = {p["SPDXID"]: p for p in doc["packages"]}
contains = {}
for r in doc["relationships"]:
    if r["relationshipType"] == "CONTAINS":
        contains.setdefault(r["spdxElementId"], []).append(r["relatedSpdxElement"])
images = {pk[i]["name"]: pk[i] for i in contains["SPDXRef-Root"]}
want = {i["ref"]: i["digest"] for i in built["images"]}
assert len(want) == 4, want  # kernel, busybox (init + onboot), web, pkgdb
for ref, digest in want.items():
    assert ref in images, (ref, sorted(images))
    p = images[ref]
    assert p["versionInfo"] == digest, (ref, p["versionInfo"], digest)
    assert p["checksums"] == [{"algorithm": "SHA256", "checksumValue": digest[7:]}], p
    purl = p["externalRefs"][0]["referenceLocator"]
    assert purl.startswith("pkg:oci/") and "@" + digest + "?" in purl, purl
    assert "repository_url=" + ref.rsplit(":", 1)[0] in purl, purl
assert set(images) == set(want), (sorted(images), sorted(want))
pkgdb = images[reg + "/sbom/pkgdb:latest"]
got = sorted((pk[i]["name"], pk[i].get("versionInfo"),
              pk[i]["externalRefs"][0]["referenceLocator"].split("/")[0])
             for i in contains.get(pkgdb["SPDXID"], []))
assert got == [("base-files", "12.4+deb12u5", "pkg:deb"), ("bsdutils", "1:2.38.1-5+b1", "pkg:deb"),
               ("busybox", "1.36.1-r5", "pkg:apk"), ("libc6", "2.36-9+deb12u4", "pkg:deb"),
               ("musl", "1.2.4-r2", "pkg:apk"), ("noversion", None, "pkg:deb")], got
# the fixture images carry no package database: they contain nothing
for ref, p in images.items():
    if ref != reg + "/sbom/pkgdb:latest":
        assert p["SPDXID"] not in contains, ref
assert doc["creationInfo"]["created"] == "2023-11-14T22:13:20Z", doc["creationInfo"]
print("ok")
PY
)"
assert_contains sbom-no-stale-apk-db "$(cat "$W/o1/sb.spdx.json")" '"name": "musl"'
assert_not_contains sbom-whited-out-gone "$(cat "$W/o1/sb.spdx.json")" "gone-pkg"
assert_not_contains sbom-replaced-apk-db "$(cat "$W/o1/sb.spdx.json")" "stale-apk"
assert_not_contains sbom-not-installed "$(cat "$W/o1/sb.spdx.json")" "oldpkg"
assert_contains sbom-no-epoch-created "$(cat "$W/oj/sb.spdx.json")" '"created": "1970-01-01T00:00:00Z"'

# ---- reproducible: a second build (cache warm), another --name ---------------------
assert_exit build-again 0 "$I2KIT" build --format tar --dir "$W/o2" --name other "$W/sb.yml"
assert_exit sbom-identical-across-builds 0 cmp "$W/o1/sb.spdx.json" "$W/o2/other.spdx.json"
assert_exit tar-identical-across-builds 0 cmp "$W/o1/sb.tar" "$W/o2/other.tar"

# ---- --no-sbom: neither beside nor in the root --------------------------------------
assert_exit build-no-sbom 0 "$I2KIT" build --no-sbom --format tar --dir "$W/o3" --name sb "$W/sb.yml"
assert_eq no-sbom-only-the-tar "sb.tar" "$(ls -A "$W/o3")"
assert_eq no-sbom-not-in-root "" "$(tar -tf "$W/o3/sb.tar" | grep -x 'sbom.spdx.json' || true)"
assert_not_contains no-sbom-not-said "$T_OUT" "spdx"

# ---- a failed build leaves no SBOM ---------------------------------------------------
sed "s|sbom/pkgdb:latest|sbom/missing:latest|" "$W/sb.yml" >"$W/bad.yml"
rc=0
"$I2KIT" build --format tar --dir "$W/o4" --name sb "$W/bad.yml" >/dev/null 2>&1 || rc=$?
assert_ne failed-build-fails 0 "$rc"
assert_eq failed-build-no-sbom "" "$(ls -A "$W/o4" 2>/dev/null || true)"

t_done
