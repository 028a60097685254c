#!/usr/bin/env python3
"""tarlist.py TAR [PREFIX] — lists a tar (an i2kit `tar` output) in the
format of fixtures/expected/*.list, so an output can be compared entry by entry
with an expected listing:

    /PATH TYPE MODE UID GID EXTRA [xattr:NAME=HEX ...]

TYPE f d l h c b p; MODE 4 octal digits; EXTRA is "SIZE SHA256" for files,
the target for symlinks and hard links (as /PATH), "MAJOR,MINOR" for devices
and "-" otherwise. Non-ASCII bytes in names are written as \\xNN. Only entries
under PREFIX are listed, with PREFIX removed (PREFIX itself is not listed).
"""
import hashlib
import sys
import tarfile


def esc(s):
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        out.append(chr(b) if 0x20 < b < 0x7F and b != 0x5C else "\\x%02x" % b)
    return "".join(out)


def main():
    path = sys.argv[1]
    prefix = sys.argv[2].strip("/") if len(sys.argv) > 2 else ""
    lines = []
    with tarfile.open(path, "r:*") as tf:
        for m in tf.getmembers():
            name = m.name.strip("/")
            if prefix:
                if not name.startswith(prefix + "/"):
                    continue
                name = name[len(prefix):]
            else:
                name = "/" + name
            if m.isreg():
                t = "f"
                data = tf.extractfile(m).read()
                extra = "%d %s" % (len(data), hashlib.sha256(data).hexdigest())
            elif m.isdir():
                t, extra = "d", "-"
            elif m.issym():
                t, extra = "l", esc(m.linkname)
            elif m.islnk():
                tgt = m.linkname.strip("/")
                if prefix:
                    tgt = tgt[len(prefix):] if tgt.startswith(prefix + "/") else "OUTSIDE:" + tgt
                else:
                    tgt = "/" + tgt
                t, extra = "h", esc(tgt)
            elif m.ischr():
                t, extra = "c", "%d,%d" % (m.devmajor, m.devminor)
            elif m.isblk():
                t, extra = "b", "%d,%d" % (m.devmajor, m.devminor)
            elif m.isfifo():
                t, extra = "p", "-"
            else:
                t, extra = "?", "-"
            line = "%s %s %04o %d %d %s" % (esc(name), t, m.mode & 0o7777, m.uid, m.gid, extra)
            xattrs = sorted(
                (k[len("SCHILY.xattr."):], v)
                for k, v in m.pax_headers.items()
                if k.startswith("SCHILY.xattr.")
            )
            for k, v in xattrs:
                raw = v.encode("utf-8", "surrogateescape")
                line += " xattr:%s=%s" % (k, raw.hex())
            lines.append(line)
    lines.sort(key=lambda l: l.split(" ", 1)[0].encode())
    sys.stdout.write("".join(l + "\n" for l in lines))


if __name__ == "__main__":
    main()
