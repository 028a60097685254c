#!/usr/bin/python3
"""lkrewrite.py REGISTRY IN.yml OUT.yml — points a LinuxKit config's images at
the fixture registry (see tests/data/linuxkit/README.md), line by line so the
rest of the file stays exactly as written:

  linuxkit/kernel:*                      -> REGISTRY/fixtures/kernel:6.1
  linuxkit/init, linuxkit/runc, linuxkit/containerd (in init:)  unchanged
  other init: entries                    -> REGISTRY/fixtures/busybox:latest
  nginx:*, and images of volumes:        -> REGISTRY/fixtures/web:latest
  any other image:                       -> REGISTRY/fixtures/busybox:latest
"""
import re
import sys

reg, src, dst = sys.argv[1:4]
KEEP = ("linuxkit/init:", "linuxkit/runc:", "linuxkit/containerd:")
out = []
section = None
for line in open(src, encoding="utf-8").read().split("\n"):
    top = re.match(r"^([a-z]+):", line)
    if top:
        section = top.group(1)
    m = re.match(r"^(\s*(?:-\s+)?image:\s*)(\S+)(.*)$", line)
    item = re.match(r"^(\s*-\s+)(\S+)(\s*(?:#.*)?)$", line)
    if m:
        image = m.group(2)
        if image.startswith("linuxkit/kernel:"):
            new = reg + "/fixtures/kernel:6.1"
        elif section == "volumes" or image.startswith("nginx:"):
            new = reg + "/fixtures/web:latest"
        else:
            new = reg + "/fixtures/busybox:latest"
        line = m.group(1) + new + m.group(3)
    elif section == "init" and item and not item.group(2).startswith(KEEP):
        line = item.group(1) + reg + "/fixtures/busybox:latest" + item.group(3)
    out.append(line)
open(dst, "w", encoding="utf-8").write("\n".join(out))
