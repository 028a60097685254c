#!/usr/bin/env python3
"""awscheck.py - checks for tests/integration/60-aws-push.sh.

Prints one line per check: "ok NAME" or "bad NAME: WHY" (the shell turns them
into PASS/FAIL lines). Needs boto3 for the read-back checks (moto's python).

  awscheck.py sent LOG RAW RESULT_JSON BOOT_MODE NAME [ARCH]
      What i2kit SENT (the awsproxy.py log) against the raw disk RAW: the
      successful PutSnapshotBlock requests are exactly the non-zero 512 KiB
      blocks of RAW, each with the right x-amz-Checksum (base64 SHA-256 of
      the zero-padded block), algorithm, data length and body; one
      StartSnapshot (VolumeSize, ClientToken, Description, Timeout, tags);
      one CompleteSnapshot (ChangedBlocksCount, LINEAR aggregate); every
      RegisterImage parameter; the CreateTags tags.
  awscheck.py readback URL KEY SECRET SNAPSHOT RAW
      Reads the snapshot back (ListSnapshotBlocks + GetSnapshotBlock) and
      compares it with RAW block by block.
  awscheck.py exists URL KEY SECRET snapshot|image ID
      Prints 1 if the account owns that snapshot or image, else 0.
  awscheck.py count URL KEY SECRET KIND [NAME]
      Prints the number of snapshots (KIND=snapshots) or images named NAME
      (KIND=images) owned by the account.
"""
import base64
import hashlib
import json
import sys

B = 524288


def blocks_of(raw):
    out = {}
    with open(raw, "rb") as f:
        i = 0
        while True:
            b = f.read(B)
            if not b:
                break
            if b.count(0) != len(b):
                out[i] = b + b"\0" * (B - len(b))
            i += 1
    return out


def check(name, cond, why=""):
    if cond:
        print("ok " + name)
    else:
        print("bad %s: %s" % (name, why))


def sent(log, raw, result, boot, name, arch="x86_64"):
    recs = [json.loads(l) for l in open(log)]
    res = json.load(open(result))
    want = blocks_of(raw)
    import os
    size = os.path.getsize(raw)
    puts = [r for r in recs if r["op"] == "PutSnapshotBlock" and r.get("status") == 201]
    got = {}
    bad = []
    for r in puts:
        idx = int(r["path"].rsplit("/", 1)[1])
        h = r["headers"]
        if idx in got:
            bad.append("block %d sent twice" % idx)
        got[idx] = r
        blk = want.get(idx)
        if blk is None:
            bad.append("block %d is all zeros but was sent" % idx)
            continue
        d = hashlib.sha256(blk).digest()
        if h.get("x-amz-checksum") != base64.b64encode(d).decode():
            bad.append("block %d checksum %s" % (idx, h.get("x-amz-checksum")))
        if h.get("x-amz-checksum-algorithm") != "SHA256":
            bad.append("block %d algorithm" % idx)
        if h.get("x-amz-data-length") != str(B):
            bad.append("block %d data length %s" % (idx, h.get("x-amz-data-length")))
        if r["body_sha256"] != d.hex() or r["body_len"] != B:
            bad.append("block %d body differs" % idx)
    missing = sorted(set(want) - set(got))
    check("blocks-sent-are-nonzero-blocks", not missing and not bad,
          "missing %s; %s" % (missing[:10], bad[:5]))
    check("result-counts", res["blocks_sent"] == len(want) and
          res["blocks_skipped"] == (size + B - 1) // B - len(want) and
          res["bytes_sent"] == len(want) * B and res["size"] == size,
          "result %s, want %d sent" % (res, len(want)))
    starts = [r for r in recs if r["op"] == "StartSnapshot" and r.get("status") == 200]
    check("one-start-snapshot", len(starts) == 1, "%d" % len(starts))
    if starts:
        j = starts[0].get("json", {})
        tags = {t["Key"]: t["Value"] for t in j.get("Tags", [])}
        check("start-snapshot-params",
              j.get("VolumeSize") == (size + (1 << 30) - 1) >> 30 and
              len(j.get("ClientToken", "")) == 64 and j.get("Description") and
              j.get("Timeout") == 60 and tags.get("i2kit:name") == name,
              json.dumps(j))
    comps = [r for r in recs if r["op"] == "CompleteSnapshot" and r.get("status") == 202]
    check("one-complete-snapshot", len(comps) == 1, "%d" % len(comps))
    if comps:
        h = comps[0]["headers"]
        agg = hashlib.sha256(b"".join(hashlib.sha256(want[i]).digest()
                                      for i in sorted(want))).digest()
        check("complete-changed-blocks", h.get("x-amz-changedblockscount") == str(len(want)),
              h.get("x-amz-changedblockscount"))
        check("complete-linear-aggregate",
              h.get("x-amz-checksum") == base64.b64encode(agg).decode() and
              h.get("x-amz-checksum-algorithm") == "SHA256" and
              h.get("x-amz-checksum-aggregation-method") == "LINEAR", json.dumps(h))
    regs = [r for r in recs if r["op"] == "RegisterImage" and r.get("status") == 200]
    check("one-register-image", len(regs) == 1, "%d" % len(regs))
    if regs:
        f = regs[0]["form"]
        exp = {
            "Name": name, "Architecture": arch, "RootDeviceName": "/dev/xvda",
            "BlockDeviceMapping.1.DeviceName": "/dev/xvda",
            "BlockDeviceMapping.1.Ebs.SnapshotId": res["snapshot"],
            "BlockDeviceMapping.1.Ebs.VolumeType": "gp3",
            "BlockDeviceMapping.1.Ebs.DeleteOnTermination": "true",
            "BlockDeviceMapping.1.Ebs.VolumeSize": str((size + (1 << 30) - 1) >> 30),
            "VirtualizationType": "hvm", "EnaSupport": "true", "BootMode": boot,
            "ImdsSupport": "v2.0",
        }
        diff = {k: (v, f.get(k)) for k, v in exp.items() if f.get(k) != v}
        check("register-image-params", not diff, json.dumps(diff))
    tags = [r for r in recs if r["op"] == "CreateTags" and r.get("status") == 200]
    ok = False
    for r in tags:
        f = r["form"]
        kv = {f[k]: f.get(k[:-3] + "Value") for k in f if k.startswith("Tag.") and k.endswith(".Key")}
        res_ids = {v for k, v in f.items() if k.startswith("ResourceId.")}
        if kv.get("i2kit:name") == name and kv.get("i2kit:digest") == res["digest"] and \
                res_ids == {res["ami"], res["snapshot"]}:
            ok = True
    check("tags-on-image-and-snapshot", ok, json.dumps([t["form"] for t in tags]))


def client(svc, url, key, secret):
    import boto3
    return boto3.client(svc, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)


def auth(url, on):
    """moto's signature check rejects boto3's own EBS GET requests (a moto
    bug), so authentication is switched off for the read-back only."""
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(
        url + "/moto-api/reset-auth", data=b"0" if on else b"1000000000", method="POST",
        headers={"Content-Type": "text/plain"})).read()


def readback(url, key, secret, snap, raw):
    auth(url, False)
    try:
        readback_noauth(url, key, secret, snap, raw)
    finally:
        auth(url, True)


def readback_noauth(url, key, secret, snap, raw):
    ebs = client("ebs", url, key, secret)
    want = blocks_of(raw)
    got = {}
    token = None
    while True:
        kw = {"SnapshotId": snap}
        if token:
            kw["NextToken"] = token
        r = ebs.list_snapshot_blocks(**kw)
        for b in r.get("Blocks", []):
            idx = b["BlockIndex"]
            g = ebs.get_snapshot_block(SnapshotId=snap, BlockIndex=idx,
                                       BlockToken=b.get("BlockToken", "x"))
            got[idx] = g["BlockData"].read()
        token = r.get("NextToken")
        if not token:
            break
    diff = [i for i in set(want) | set(got) if want.get(i) != got.get(i)]
    check("readback-matches-image", not diff and len(got) == len(want),
          "blocks differ: %s (got %d, want %d)" % (sorted(diff)[:10], len(got), len(want)))


def exists(url, key, secret, kind, ident):
    ec2 = client("ec2", url, key, secret)
    if kind == "snapshot":
        ids = [x["SnapshotId"] for x in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]
    else:
        ids = [x["ImageId"] for x in ec2.describe_images(Owners=["self"])["Images"]]
    print(1 if ident in ids else 0)


def count(url, key, secret, kind, name=None):
    ec2 = client("ec2", url, key, secret)
    if kind == "snapshots":
        print(len(ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]))
    else:
        f = [{"Name": "name", "Values": [name]}] if name else []
        print(len(ec2.describe_images(Owners=["self"], Filters=f)["Images"]))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"sent": sent, "readback": readback, "count": count, "exists": exists}[cmd](*args)
