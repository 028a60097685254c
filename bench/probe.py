#!/usr/bin/env python3
"""bench/probe.py — the boot rows' clock: when QEMU started and when the
guest's web service first answered.

    probe.py PORT LIMIT_S PIDFILE LOG  →  prints "T_QEMU T_ANSWER" (host epoch
                                          seconds, "nan" when not reached)

One process for the whole boot, started beside `i2kit run`:
  - T_QEMU: when PIDFILE (i2kit's state dir pid file) first exists, looked
    at every 10 ms;
  - T_ANSWER: an HTTP GET of http://127.0.0.1:PORT/ is started every 50 ms,
    each in its own thread with a 3 s timeout (one sent before the guest's
    network is up hangs in QEMU's user networking, so a new one must not
    wait for it); the earliest to complete with status 200 counts;
  - it gives up after LIMIT_S seconds, or when LOG shows the guest's
    "Kernel panic" or "Out of memory" (a boot that will never answer).

This replaced a curl started every 0.1 s from bash: each of those was a
process (a fork, an exec and libcurl's start, ≈10 ms of CPU) taken from the
two cores QEMU runs on. Threads of one process cost a fraction of that,
which lets the probes come twice as often. Load stays bounded: one
connection per 50 ms to 127.0.0.1 only, at most LIMIT_S seconds.
"""
import os
import socket
import sys
import threading
import time

INTERVAL = 0.05
TICK = 0.01


def main():
    port, limit, pidfile, log = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
    start = time.time()
    answered = []
    lock = threading.Lock()

    def attempt():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                data = b""
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    data += d
            status = data.split(b"\r\n", 1)[0].split()
            if len(status) >= 2 and status[0].startswith(b"HTTP/") and status[1] == b"200":
                t = time.time()
                with lock:
                    answered.append(t)
        except OSError:
            pass

    t_qemu = None
    next_probe = start
    next_log = start
    while time.time() - start < limit:
        now = time.time()
        if t_qemu is None and os.path.exists(pidfile) and os.path.getsize(pidfile) > 0:
            t_qemu = now
        if now >= next_probe:
            threading.Thread(target=attempt, daemon=True).start()
            next_probe += INTERVAL
        if now >= next_log:
            next_log += 0.1
            try:
                with open(log, "rb") as f:
                    text = f.read()
                if b"Kernel panic" in text or b"Out of memory" in text:
                    break
            except OSError:
                pass
        with lock:
            if answered:
                break
        time.sleep(TICK)
    with lock:
        t_answer = min(answered) if answered else None
    fmt = lambda t: "nan" if t is None else "%.6f" % t
    print(fmt(t_qemu), fmt(t_answer))
    sys.stdout.flush()
    os._exit(0)  # daemon threads still waiting on a hung connection


if __name__ == "__main__":
    main()
