#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_initdhcp (tests/data/fuzz/initdhcp/):
DHCP replies like QEMU's user-mode server sends (OFFER, ACK, NAK), in
raw and IPv4/UDP-framed form, and the malformed variants the hostile
DHCP server test (tests/integration/tools/hostile_dhcp.py) also sends."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration", "tools"))
import hostile_dhcp as h  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/fuzz/initdhcp"
os.makedirs(out, exist_ok=True)
mac = bytes.fromhex("525400123456")
xid = 0x12345678
n = 0
for name, msg in h.replies(xid, mac, h.OFFER) + h.malformed(xid, mac):
    for mode, body in ((1, msg), (3, h.ipv4_udp(msg, h.SERVER_IP))):
        with open(os.path.join(out, "%02d-%s-%d" % (n, name, mode)), "wb") as f:
            f.write(bytes([mode]) + body)
    n += 1
with open(os.path.join(out, "%02d-roundtrip" % n), "wb") as f:
    f.write(bytes([4 | 8]) + mac + struct.pack(">I", xid) + bytes([10, 0, 9, 15]))
