#!/usr/bin/python3
"""ttylog.py - checks what i2kit's progress display left in a terminal log.

  ttylog.py area LOG WIDTH      (LOG: a `script -qf` log of one command)
      every live-area line (one starting "pull ", "unpack ", "compress ",
      "make " or "write ") is at most WIDTH-1 columns; the area was redrawn
      with "\\r ESC[nA ESC[J" at least once; and after the last erase no
      area line is left on the screen (the area ends clean).
      Prints the text after the last erase (the screen's last lines).
  ttylog.py stamp
      copies stdin to stdout, each line prefixed with the seconds since
      start ("12.34 "), as lines arrive (for a pipe's timing).
  ttylog.py gaps STAMPED REGEX MIN
      the times between consecutive lines of STAMPED (from stamp) matching
      REGEX; fails if one is below MIN seconds. Prints the count and gaps.
Exit status 0 when the check holds, 1 (with the reason on stderr) if not.
"""
import re
import sys
import time

ERASE = re.compile(rb"\r\x1b\[(\d+)A\x1b\[J")
AREA = ("pull ", "unpack ", "compress ", "make ", "write ")


def body(raw):
    # script's own header and footer lines
    if raw.startswith(b"Script started"):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    i = raw.rfind(b"\nScript done")
    if i >= 0:
        raw = raw[: i + 1]
    return raw


def columns(line):
    return len(line.decode("utf-8", "replace"))


def area(path, width):
    raw = body(open(path, "rb").read())
    erases = list(ERASE.finditer(raw))
    if not erases:
        sys.exit("no redraw (ESC[nA ESC[J) in the log")
    bad = []
    for line in ERASE.sub(b"\n", raw).replace(b"\r\n", b"\n").split(b"\n"):
        text = line.decode("utf-8", "replace")
        if text.startswith(AREA) and columns(line) > width - 1:
            bad.append(text)
    if bad:
        sys.exit("area lines wider than %d columns: %r" % (width - 1, bad[:3]))
    tail = raw[erases[-1].end():].replace(b"\r\n", b"\n").decode("utf-8", "replace")
    left = [l for l in tail.split("\n") if l.startswith(AREA)]
    if left:
        sys.exit("area lines left on the screen at the end: %r" % left)
    sys.stdout.write(tail)


def stamp():
    t0 = time.monotonic()
    for line in iter(sys.stdin.readline, ""):
        sys.stdout.write("%.2f %s" % (time.monotonic() - t0, line))
        sys.stdout.flush()


def gaps(path, regex, minimum):
    rx = re.compile(regex)
    times = []
    for line in open(path, encoding="utf-8", errors="replace"):
        t, _, text = line.partition(" ")
        if rx.search(text):
            times.append(float(t))
    d = [round(b - a, 2) for a, b in zip(times, times[1:])]
    print(len(times), d)
    if any(x < minimum for x in d):
        sys.exit("lines closer than %.1f s: %r" % (minimum, d))


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["area"] and len(a) == 3:
        area(a[1], int(a[2]))
    elif a == ["stamp"]:
        stamp()
    elif a[:1] == ["gaps"] and len(a) == 4:
        gaps(a[1], a[2], float(a[3]))
    else:
        sys.exit(__doc__)
