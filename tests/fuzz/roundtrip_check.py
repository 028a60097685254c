#!/usr/bin/env python3
"""Oracle of tests/fuzz/fuzz_roundtrip.c: reads an image back with the real
tool of its format and compares the listing with what was put in.

  roundtrip_check.py FORMAT IMAGE EXPECTED
  roundtrip_check.py --serve     (the same for each "FORMAT IMAGE EXPECTED"
                                  line on stdin; answers "0"/"1" lines)

EXPECTED has one "path type perm size target" line per entry (type d, f,
l = symlink, h = hard link to the file named by target). What is compared,
per format (what the format holds):
  cpio      cpio -itv: names, types, permissions, sizes (a hard link's
            other names may show size 0: newc stores the data once),
            symlink targets
  squashfs  unsquashfs -lln: names, types, permissions, sizes, targets
  ext4      e2fsck -fn must pass; debugfs "ls -p" of every directory:
            names, types, permissions, sizes (a symlink's = its length)
  fat       fsck.fat -n must pass; mdir -/: names (case-insensitively),
            directories, sizes (symlinks and hard links were written as
            plain files)
  iso       xorriso -find / -exec lsdl (Rock Ridge): names, types,
            permissions, sizes (a symlink's: 0), targets (less a trailing
            "/", which the writer drops as libisofs does)
Exit 0 when equal; else prints the differences and exits 1.
"""
import os
import re
import stat
import subprocess
import sys

ENV = dict(os.environ, LC_ALL="C", TZ="UTC")


def run(cmd, ok=(0,)):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    if p.returncode not in ok:
        sys.stderr.write("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode,
                                                  p.stdout.decode(errors="replace")[-2000:],
                                                  p.stderr.decode(errors="replace")[-2000:]))
        sys.exit(1)
    return p.stdout.decode(errors="replace")


def perm_of(modestr):
    """Permission bits of an ls-style mode string (drwsr-xr-t)."""
    bits = 0
    for i, (c, on) in enumerate(zip(modestr[1:10], "rwxrwxrwx")):
        shift = 8 - i
        if c in (on, "s", "t"):
            bits |= 1 << shift
    special = {(3, "s"): 0o4000, (3, "S"): 0o4000, (6, "s"): 0o2000, (6, "S"): 0o2000,
               (9, "t"): 0o1000, (9, "T"): 0o1000}
    for i in (3, 6, 9):
        bits |= special.get((i, modestr[i]), 0)
    return bits


TYPES = {"d": "d", "-": "f", "l": "l"}


def expected(path, fmt):
    want = {}
    for line in open(path):
        p, t, perm, size, target = line.rstrip("\n").split(" ", 4)
        perm, size = int(perm, 8), int(size)
        if t == "h":
            t = "f"
        if fmt == "fat":
            if t == "l":
                t = "f"
            want[p.lower()] = (t, None, size if t == "f" else 0, None)
            continue
        want[p] = (t, perm, size if t != "d" else 0, target if t == "l" else None)
    return want


def ls_lines(text, nfields):
    """(modestr, size, name, target) from ls -l style lines whose name is
    field number nfields (0-based) onwards."""
    out = []
    for line in text.splitlines():
        f = line.split(None, nfields)
        if len(f) <= nfields or not re.match(r"^[dl\-cbps][rwxsStT\-]{9}$", f[0]):
            continue
        name, target = f[nfields], None
        if f[0][0] == "l" and " -> " in name:
            name, target = name.split(" -> ", 1)
        out.append((f[0], f, name, target))
    return out


def got_cpio(img):
    got, nlinks = {}, {}
    for mode, f, name, target in ls_lines(run(["cpio", "-itv", "--quiet", "-F", img]), 8):
        got[name] = (TYPES.get(mode[0], "?"), perm_of(mode), int(f[4]) if mode[0] != "d" else 0,
                     target)
        nlinks[name] = int(f[1])
    return got, nlinks


def got_squashfs(img):
    got = {}
    for mode, f, name, target in ls_lines(run(["unsquashfs", "-lln", img]), 5):
        if name == "squashfs-root":
            continue
        name = name[len("squashfs-root/"):]
        got[name] = (TYPES.get(mode[0], "?"), perm_of(mode),
                     int(f[2]) if mode[0] != "d" else 0, target)
    return got


def got_iso(img):
    got = {}
    text = run(["xorriso", "-abort_on", "FAILURE", "-indev", "stdio:" + img, "-find", "/", "-exec",
                "lsdl", "--"])
    for mode, f, name, target in ls_lines(text, 8):
        name = name.strip("'")
        if target is not None:
            target = target.strip("'")
        if name == "/":
            continue
        got[name.lstrip("/")] = (TYPES.get(mode[0], "?"), perm_of(mode),
                                 int(f[4]) if mode[0] != "d" else 0, target)
    return got


def got_ext4(img, want):
    run(["e2fsck", "-fn", img])
    dirs = [""] + sorted(p for p, v in want.items() if v[0] == "d")
    cmds = "".join('ls -p "/%s"\n' % d for d in dirs)
    p = subprocess.run(["debugfs", "-f", "-", img], input=cmds.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    got = {}
    cur = None
    for line in p.stdout.decode(errors="replace").splitlines():
        m = re.match(r'^debugfs:\s+ls -p "/(.*)"$', line)
        if m:
            cur = m.group(1)
            continue
        f = line.split("/")
        if cur is None or len(f) < 7 or f[0] != "":
            continue
        name, mode = f[5], int(f[2], 8)
        if name in (".", "..", "lost+found") and (name != "lost+found" or cur == ""):
            continue
        t = "d" if stat.S_ISDIR(mode) else "l" if stat.S_ISLNK(mode) else \
            "f" if stat.S_ISREG(mode) else "?"
        size = int(f[6]) if f[6] and t != "d" else 0
        path = name if cur == "" else cur + "/" + name
        got[path] = (t, stat.S_IMODE(mode), size, None)
    return got


def got_fat(img):
    run(["fsck.fat", "-n", img])
    got = {}
    cur = None
    # mdir -/ exits 1 on an empty root ("File "::" not found"); the
    # listing comparison catches what is really missing
    for line in run(["mdir", "-/", "-a", "-i", img, "::"], ok=(0, 1)).splitlines():
        m = re.match(r"^Directory for ::/(.*)$", line)
        if m:
            cur = m.group(1).rstrip("/")
            continue
        tok = line.split()
        di = next((i for i, t in enumerate(tok) if re.match(r"^\d{4}-\d\d-\d\d$", t)), None)
        if cur is None or di is None or di < 2:
            continue
        size = tok[di - 1]
        if len(tok) > di + 2:
            name = " ".join(tok[di + 2:])
        else:
            name = tok[0] + ("." + tok[1] if di - 1 == 2 else "")
        if name in (".", ".."):
            continue
        path = (name if cur == "" else cur + "/" + name).lower()
        got[path] = ("d", None, 0, None) if size == "<DIR>" else ("f", None, int(size), None)
    return got


def check(fmt, img, exp):
    want = expected(exp, fmt)
    nlinks = {}
    if fmt == "cpio":
        got, nlinks = got_cpio(img)
    elif fmt == "squashfs":
        got = got_squashfs(img)
    elif fmt == "iso":
        got = got_iso(img)
        # a Rock Ridge symlink has no data: xorriso lists size 0; a
        # trailing "/" of a target is dropped (as libisofs does)
        want = {p: (v[0], v[1], 0 if v[0] == "l" else v[2],
                    v[3].rstrip("/") or "/" if v[3] else v[3]) for p, v in want.items()}
    elif fmt == "ext4":
        got = got_ext4(img, want)
        want = {p: (v[0], v[1], v[2], None) for p, v in want.items()}
    elif fmt == "fat":
        got = got_fat(img)
    else:
        sys.stderr.write("unknown format %s\n" % fmt)
        return 1
    bad = []
    for p in sorted(set(want) | set(got)):
        w, g = want.get(p), got.get(p)
        if w == g:
            continue
        if w and g and fmt == "cpio" and nlinks.get(p, 1) > 1 and g[2] == 0 and \
                (w[0], w[1], w[3]) == (g[0], g[1], g[3]):
            continue  # newc: data with one of the names only
        bad.append("%s: put in %s, read back %s" % (p, w, g))
    if bad:
        sys.stderr.write("%s: %d differences:\n  %s\n" % (fmt, len(bad), "\n  ".join(bad[:20])))
        return 1
    return 0


def main():
    if sys.argv[1:] != ["--serve"]:
        return check(*sys.argv[1:4])
    # one process for a whole fuzzing run (python's start-up costs more
    # than a check): "FORMAT IMAGE EXPECTED" lines in, "0"/"1" lines out
    for line in sys.stdin:
        fmt, img, exp = line.split()
        try:
            rc = check(fmt, img, exp)
        except SystemExit as e:  # a tool failed (run() exits)
            rc = 1 if e.code else 0
        sys.stdout.write("%d\n" % rc)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
