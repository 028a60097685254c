#!/usr/bin/env python3
"""tests/fuzz/mkseeds_efivars.py — writes fuzz_efivars' seeds into
tests/data/fuzz/efivars: small OVMF variable stores laid out as EDK2 does
(firmware volume with gEfiSystemNvDataFvGuid, authenticated variable store
header, 60-byte variable headers, UCS-2 names, 4-byte aligned), written
from the UEFI/EDK2 layout independently of provision/efivars.c."""
import os
import struct
import uuid

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "fuzz", "efivars")
NVDATA = uuid.UUID("FFF12B8D-7696-4C8B-A985-2747075B4F50").bytes_le
AUTH = uuid.UUID("AAF32C78-947B-439A-A180-2E144EC37792").bytes_le
GLOBAL = uuid.UUID("8BE4DF61-93CA-11D2-AA0D-00E098032B8C").bytes_le
MEMTYPE = uuid.UUID("4C19049F-4137-4DD3-9C10-8B97A83FFDFA").bytes_le


def volume(store_size, variables, total):
    fv = bytearray(b"\0" * 16 + NVDATA + struct.pack("<Q", total) + b"_FVH" +
                   struct.pack("<IHHHBB", 0x4FEFF, 72, 0, 0, 0, 2) +
                   struct.pack("<II", total // 4096, 4096) + b"\0" * 8)
    assert len(fv) == 72
    fv += AUTH + struct.pack("<IBBHI", store_size, 0x5A, 0xFE, 0, 0)
    for state, name, vendor, data in variables:
        n = (name + "\0").encode("utf-16-le")
        fv += struct.pack("<HBBIQ16sIII16s", 0x55AA, state, 0, 7, 0, b"\0" * 16, 0,
                          len(n), len(data), vendor) + n + data
        fv += b"\xff" * (-len(fv) % 4)
    fv += b"\xff" * (72 + store_size - len(fv))
    fv += b"\xff" * (total - len(fv))
    return bytes(fv)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "01-empty": volume(2048, [], 4096),
        "02-booted": volume(2048, [
            (0x3F, "ConOut", GLOBAL, b"\x02\x01\x0c\x00"),
            (0x3C, "BootOrder", GLOBAL, b"\x80\x00"),
            (0x3F, "Boot0080", GLOBAL, b"\x01\x00\x00\x00\x04\x00x\x00\x00\x00"),
            (0x3F, "BootOrder", GLOBAL, b"\x80\x00\x01\x00"),
            (0x7F, "Lang", GLOBAL, b"eng"),
            (0x3F, "MemoryTypeInformation", MEMTYPE, b"\x0a\x00\x00\x00\x80\x00\x00\x00"),
        ], 4096),
        "03-nearly-full": volume(512, [
            (0x3F, "Big", GLOBAL, b"\x00" * 300),
        ], 1024),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
