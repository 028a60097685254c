#!/usr/bin/env python3
"""tests/fuzz/mkseeds_ovmf.py — writes the seeds of tests/fuzz/fuzz_ovmf.c
into tests/data/fuzz/ovmf/: a small firmware file (a volume holding one
FV_IMAGE file with an LZMA GUID-defined section, then a second volume), the
decompressed volume it holds (an FV image section with PEIMs, one of them
Tcg2ConfigPei, and a nested volume), and a truncated firmware file.
Deterministic output."""
import lzma, os, struct, sys

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/fuzz/ovmf"
os.makedirs(out, exist_ok=True)
LZMA_GUID = bytes.fromhex("98584eee143959429d6edc7bd79403cf")

def pad(b, a, v=b"\0"):
    return b + v * (-len(b) % a)

def section(t, body):
    return struct.pack("<I", (len(body) + 4) | (t << 24)) + body

def sections(*ss):
    b = b""
    for s in ss:
        b = pad(b, 4) + s
    return b

def ffs(name, t, body):
    size = 24 + len(body)
    h = bytearray(bytes([name]) * 16 + bytes([0, 0xAA, t, 0]) + size.to_bytes(3, "little") + b"\xf8")
    s = sum(h) - h[17] - h[23]
    h[16] = (-s) & 0xFF
    return bytes(h) + body

def volume(length, files):
    h = bytes(16) + b"\x78" * 16 + struct.pack("<Q4sIHHHBB", length, b"_FVH", 0x4FEFF, 72, 0, 0, 0, 2)
    h += struct.pack("<IIII", max(length // 4096, 1), 4096, 0, 0)
    b = h
    for f in files:
        b = pad(b, 8, b"\xff") + f
    return b + b"\xff" * (length - len(b))

def module(name):
    ui = (name + "\0").encode("utf-16-le")
    return sections(section(0x10, b"MZ" + b"\xc3" * 30), section(0x15, ui))

nested = volume(1024, [ffs(0x31, 6, module("Tcg12ConfigPei"))])
pei = volume(4096, [ffs(0x11, 6, module("PlatformPei")), ffs(0x12, 6, module("Tcg2ConfigPei")),
                    ffs(0x13, 7, module("Tcg2ConfigPei")), ffs(0x14, 0x0B, section(0x17, nested))])
raw = section(0x17, pei)
comp = lzma.compress(raw, format=lzma.FORMAT_ALONE,
                     filters=[{"id": lzma.FILTER_LZMA1, "preset": 6, "dict_size": 1 << 16}])
comp = comp[:5] + struct.pack("<Q", len(raw)) + comp[13:]
guided = section(0x02, LZMA_GUID + struct.pack("<HH", 24, 1) + comp)
fd = volume(8192, [ffs(0x41, 0x0B, guided)]) + volume(4096, [ffs(0x51, 1, section(0x19, b"reset"))])
for name, data in (("01-firmware", fd), ("02-volume", raw), ("03-truncated", fd[:200])):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
