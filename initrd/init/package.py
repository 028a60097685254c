#!/usr/bin/python3
"""package.py INIT VERSION OUT.tar — packages the guest init as the OCI image
i2kit/init:VERSION, written as an OCI archive (a tar of an OCI image layout)
that `i2kit cache import` and `skopeo copy oci-archive:` read.

The image has one gzip layer: /init (the static PID 1, mode 0755) and the
empty mount points the init uses (dev proc sys run tmp var etc root). It is
byte-for-byte reproducible: every timestamp is $SOURCE_DATE_EPOCH (default
0), owners are 0, gzip headers carry no name or time, JSON keys are sorted.
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0") or 0)
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_INDEX = "application/vnd.oci.image.index.v1+json"


def jbytes(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def tar_bytes(entries):
    """entries: list of (name, mode, data-or-None for dirs)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, mode, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mode, ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = mode, EPOCH, 0, 0, "", ""
            if data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    init_path, version, out = sys.argv[1:]
    with open(init_path, "rb") as f:
        init = f.read()
    dirs = [("dev", 0o755), ("proc", 0o555), ("sys", 0o555), ("run", 0o755),
            ("tmp", 0o1777), ("var", 0o755), ("etc", 0o755), ("root", 0o700)]
    layer_tar = tar_bytes([(d, m, None) for d, m in dirs] + [("init", 0o755, init)])
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=9) as g:
        g.write(layer_tar)
    layer = gz.getvalue()
    created = "%s" % __import__("datetime").datetime.fromtimestamp(
        EPOCH, __import__("datetime").timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = jbytes({
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Entrypoint": ["/init"],
                   "Labels": {"org.opencontainers.image.title": "i2kit/init",
                              "org.opencontainers.image.version": version}},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]},
        "history": [{"created": created, "created_by": "i2kit initrd/init/package.py"}],
    })
    blobs = {}

    def put(data):
        d = hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return {"digest": "sha256:" + d, "size": len(data)}

    manifest = jbytes({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": dict(put(config), mediaType=MT_CONFIG),
        "layers": [dict(put(layer), mediaType=MT_LAYER)],
    })
    mdesc = dict(put(manifest), mediaType=MT_MANIFEST,
                 annotations={"org.opencontainers.image.ref.name":
                              "docker.io/i2kit/init:" + version})
    index = jbytes({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [mdesc]})
    files = [("oci-layout", jbytes({"imageLayoutVersion": "1.0.0"})), ("index.json", index)]
    files += [("blobs/sha256/" + d, blobs[d]) for d in sorted(blobs)]
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(tar_bytes([("blobs", 0o755, None), ("blobs/sha256", 0o755, None)] +
                          [(n, 0o644, data) for n, data in files]))
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
