#!/usr/bin/env python3
"""tests/fuzz/mkseeds_pvh.py — writes the seeds of tests/fuzz/fuzz_pvh.c into
tests/data/fuzz/pvh/: a small ELF64 x86-64 with and without the Xen PVH entry
note, bzImages around it with LZ4 (legacy frame, literal-only blocks), gzip
and xz payloads, and a truncated bzImage. Deterministic output."""
import gzip, lzma, os, struct, sys

out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/fuzz/pvh"
os.makedirs(out, exist_ok=True)

def elf(pvh):
    notes = struct.pack("<III4sI", 4, 4, 3, b"GNU\0", 0xDEADBEEF)
    if pvh:
        notes += struct.pack("<III4sQ", 4, 8, 18, b"Xen\0", 0x1000850)
    body = bytes((i * 7) & 0xFF for i in range(256))
    notes_off = 64 + 2 * 56
    body_off = notes_off + len(notes)
    eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x1000000, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 5, body_off, 0x1000000, 0x1000000, len(body), len(body), 0x1000)
    ph += struct.pack("<IIQQQQQQ", 4, 4, notes_off, 0, 0, len(notes), len(notes), 4)
    return eh + ph + notes + body

def lz4(data):
    o = b"\x02\x21\x4c\x18"
    for i in range(0, len(data), 64):
        c = data[i:i + 64]
        blk = (bytes([0xF0, len(c) - 15]) if len(c) >= 15 else bytes([len(c) << 4])) + c
        o += struct.pack("<I", len(blk)) + blk
    return o + struct.pack("<I", len(data))

def bz(payload):
    k = bytearray(1024 + 100 + len(payload) + 32)
    k[0x1F1] = 1
    struct.pack_into("<H", k, 0x1FE, 0xAA55)
    k[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", k, 0x206, 0x020F)
    k[0x211] = 1
    struct.pack_into("<II", k, 0x248, 100, len(payload))
    struct.pack_into("<I", k, 0x260, 0x3000000)
    k[1124:1124 + len(payload)] = payload
    return bytes(k)

e = elf(True)
seeds = {
    "01-bz-lz4": bz(lz4(e)),
    "02-bz-gzip": bz(gzip.compress(e, mtime=0)),
    "03-bz-xz": bz(lzma.compress(e, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32) + struct.pack("<I", len(e))),
    "04-elf-pvh": e,
    "05-elf-nonote": elf(False),
    "06-bz-truncated": bz(lz4(e))[:-200],
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
