#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_ociimport (tests/data/fuzz/ociimport/):
split inputs (flag byte, then index.json @@@@ oci-layout @@@@ blobs...) for
a one-image archive like `i2kit cache export` writes (manifest, config,
an uncompressed layer), a Docker-typed one, a nested index, and a few raw
tar archives (flag bit 0)."""
import hashlib
import io
import json
import os
import sys
import tarfile

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/fuzz/ociimport"
os.makedirs(out, exist_ok=True)
SEP = b"@@@@"


def dg(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def layer():
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = b"hello\n"
        ti = tarfile.TarInfo("etc/hello")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": []}}).encode()
lay = layer()


def manifest(mt_m, mt_c, mt_l):
    return json.dumps({"schemaVersion": 2, "mediaType": mt_m,
                       "config": {"mediaType": mt_c, "digest": dg(cfg), "size": len(cfg)},
                       "layers": [{"mediaType": mt_l, "digest": dg(lay), "size": len(lay)}]}).encode()


def index(entries):
    return json.dumps({"schemaVersion": 2, "manifests": entries}).encode()


def ent(mt, blob, name):
    e = {"mediaType": mt, "digest": dg(blob), "size": len(blob)}
    if name:
        e["annotations"] = {"org.opencontainers.image.ref.name": name}
    return e


OCI_M = "application/vnd.oci.image.manifest.v1+json"
m = manifest(OCI_M, "application/vnd.oci.image.config.v1+json",
             "application/vnd.oci.image.layer.v1.tar")
d = manifest("application/vnd.docker.distribution.manifest.v2+json",
             "application/vnd.docker.container.image.v1+json",
             "application/vnd.docker.image.rootfs.diff.tar.gzip")
ix = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [dict(ent(OCI_M, m, None),
                                    platform={"os": "linux", "architecture": "amd64"})]}).encode()
seeds = {
    "oci": (0, [index([ent(OCI_M, m, "docker.io/library/x:1")]), LAYOUT, m, cfg, lay]),
    "docker": (4, [index([ent("application/vnd.docker.distribution.manifest.v2+json", d,
                              "localhost/y:latest")]), LAYOUT, d, cfg, lay]),
    "nested-index": (0, [index([ent("application/vnd.oci.image.index.v1+json", ix,
                                    "localhost/z:2")]), LAYOUT, ix, m, cfg, lay][:6]),
    "missing-layer": (0, [index([ent(OCI_M, m, "localhost/w:1")]), LAYOUT, m, cfg]),
    "wrong-name": (2, [index([ent(OCI_M, m, "localhost/v:1")]), LAYOUT, m, cfg, lay]),
    "no-name": (0, [index([ent(OCI_M, m, None)]), LAYOUT, m, cfg, lay]),
    "bad-layout": (0, [index([ent(OCI_M, m, "localhost/u:1")]), b'{"imageLayoutVersion":"2"}', m, cfg, lay]),
}
for name, (flags, parts) in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([flags]) + SEP.join(parts))


def raw(name, members):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for n, data, kind in members:
            ti = tarfile.TarInfo(n)
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x01" + bio.getvalue())


good = [("oci-layout", LAYOUT, "f"), ("blobs", None, "dir"), ("blobs/sha256", None, "dir"),
        ("blobs/sha256/" + dg(m)[7:], m, "f"), ("blobs/sha256/" + dg(cfg)[7:], cfg, "f"),
        ("blobs/sha256/" + dg(lay)[7:], lay, "f"),
        ("index.json", index([ent(OCI_M, m, "localhost/raw:1")]), "f")]
raw("raw-good", good)
raw("raw-traversal", [("../escape", b"x", "f")] + good)
raw("raw-symlink", [("blobs/sha256/" + "0" * 64, "/etc/passwd", "sym")] + good)
