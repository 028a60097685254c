#!/usr/bin/env python3
"""A hostile DHCP server on a QEMU guest's network, without root.

QEMU's `-netdev socket,id=n0,udp=127.0.0.1:LISTEN,localaddr=127.0.0.1:PEER`
sends every Ethernet frame the guest transmits as one UDP datagram to
LISTEN and delivers every datagram it receives on PEER to the guest as a
frame. This script sits on LISTEN and speaks Ethernet: it answers the
guest's DHCP DISCOVER/REQUEST with a burst of malformed replies (right xid
and MAC, so they reach the option parser; broken IPv4/UDP frames too), and
in mode "good" then with a real lease of odd but valid shape; it answers
ARP for the server address and pings the leased address, so the test can
tell the guest's network really came up.

  hostile_dhcp.py --listen PORT --peer PORT --mode garbage|good --log FILE

The log gets one line per event: "DISCOVER xid=...", "REQUEST ...",
"SENT N malformed", "OFFER 10.0.9.15", "NAK", "ACK 10.0.9.15",
"PING REPLY 10.0.9.15". Also imported by tests/fuzz/mkseeds_dhcp.py for
the fuzz seeds (replies(), malformed(), ipv4_udp()).
"""
import argparse
import select
import socket
import struct
import sys
import time

DISCOVER, OFFER, REQUEST, ACK, NAK = 1, 2, 3, 5, 6
SERVER_IP = bytes([10, 0, 9, 1])
CLIENT_IP = bytes([10, 0, 9, 15])
SERVER_MAC = bytes.fromhex("525400aabbcc")
MAGIC = b"\x63\x82\x53\x63"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(payload, src, dst, proto, frag=0, ttl=64):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, frag, ttl, proto, 0,
                      src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv4_udp(msg, src, dst=b"\xff\xff\xff\xff", sport=67, dport=68):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(msg), 0) + msg
    pseudo = src + dst + struct.pack("!BBH", 0, 17, len(udp))
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return ipv4(udp, src, dst, 17)


def ether(dst, payload, etype=0x0800):
    return dst + SERVER_MAC + struct.pack("!H", etype) + payload


def bootp(xid, mac, yiaddr, options, op=2, cookie=MAGIC):
    m = bytearray(236)
    m[0], m[1], m[2] = op, 1, 6
    m[4:8] = struct.pack("!I", xid)
    m[16:20] = yiaddr
    m[20:24] = SERVER_IP
    m[28:34] = mac
    return bytes(m) + cookie + options


def opt(code, value):
    return bytes([code, len(value)]) + value


def lease_opts(t, mask=b"\xff\xff\xff\x00"):
    return (opt(53, bytes([t])) + opt(54, SERVER_IP) + opt(51, struct.pack("!I", 3600)) +
            opt(1, mask) + opt(3, SERVER_IP) + opt(6, SERVER_IP))


def replies(xid, mac, t):
    """Well-formed replies (a plain one, and the odd-but-valid final one)."""
    plain = bootp(xid, mac, CLIENT_IP, lease_opts(t) + b"\xff")
    odd = (opt(53, bytes([t])) + b"\0" * 40 +  # a pad run
           opt(1, b"\xff\xff\xff") +  # subnet mask of the wrong length: ignored
           opt(1, b"\xff\xff\xff\x00") +
           opt(3, SERVER_IP + bytes([10, 0, 9, 2])) +  # two routers: the first
           opt(6, b"\0\0\0\0" + b"\xff\xff\xff\xff" + SERVER_IP + b"\x0a\x00") +  # DNS: 1 usable, 2 stray bytes
           opt(26, b"\x00\x40\x00") +  # MTU of the wrong length: ignored
           opt(51, b"\xff\xff\xff\xff") +  # infinite lease
           opt(15, b"ex ample\x01.test\n") +  # domain with blanks and controls
           opt(54, SERVER_IP) + opt(200, bytes(range(255))) + b"\0\0\0" + b"\xff" +
           b"trailing garbage after the end option")
    return [("plain", plain), ("odd", bootp(xid, mac, CLIENT_IP, odd))]


def malformed(xid, mac):
    """Replies the client must refuse (name, DHCP message)."""
    good = lease_opts(OFFER) + b"\xff"
    m = []
    # values first: the client logs only its first 8 refusals per run
    m.append(("broadcast-address", bootp(xid, mac, b"\xff\xff\xff\xff", good)))
    m.append(("loopback-address", bootp(xid, mac, bytes([127, 0, 0, 1]), good)))
    m.append(("multicast-address", bootp(xid, mac, bytes([224, 0, 0, 5]), good)))
    m.append(("noncontiguous-mask", bootp(xid, mac, CLIENT_IP,
                                          lease_opts(OFFER, b"\xff\x00\xff\x00") + b"\xff")))
    m.append(("zero-mask", bootp(xid, mac, CLIENT_IP, lease_opts(OFFER, b"\0\0\0\0") + b"\xff")))
    m.append(("network-address", bootp(xid, mac, bytes([10, 0, 9, 0]), good)))
    m.append(("subnet-broadcast", bootp(xid, mac, bytes([10, 0, 9, 255]), good)))
    m.append(("no-address", bootp(xid, mac, b"\0\0\0\0", good)))
    m.append(("short", bootp(xid, mac, CLIENT_IP, good)[:200]))
    m.append(("no-cookie", bootp(xid, mac, CLIENT_IP, good, cookie=b"\x63\x82\x53\x64")))
    m.append(("truncated-option", bootp(xid, mac, CLIENT_IP, lease_opts(OFFER) + b"\x0f")))
    m.append(("overlong-length", bootp(xid, mac, CLIENT_IP, lease_opts(OFFER) + b"\x0f\xc8abc")))
    m.append(("pad-run-only", bootp(xid, mac, CLIENT_IP, b"\0" * 300)))
    m.append(("no-end-no-type", bootp(xid, mac, CLIENT_IP, opt(1, b"\xff\xff\xff\x00"))))
    m.append(("type-length-2", bootp(xid, mac, CLIENT_IP, opt(53, b"\x02\x02") + b"\xff")))
    m.append(("other-xid", bootp(xid ^ 1, mac, CLIENT_IP, good)))
    m.append(("other-mac", bootp(xid, b"\x02" + mac[1:], CLIENT_IP, good)))
    m.append(("not-a-reply", bootp(xid, mac, CLIENT_IP, good, op=1)))
    return m


def bad_frames(msg, mac):
    """Broken IPv4/UDP/Ethernet around a valid OFFER."""
    f = []
    ip = ipv4_udp(msg, SERVER_IP)
    f.append(ether(mac, ip)[:10])  # runt frame
    f.append(ether(mac, ip[:10] + b"\0\0" + ip[12:]))  # bad IP header checksum
    f.append(ether(mac, ip[:2] + struct.pack("!H", len(ip) + 100) + ip[4:]))  # total > frame
    bad = bytearray(ip)
    bad[0] = 0x4F  # IHL 15 (60 bytes of header)
    f.append(ether(mac, bytes(bad[:40])))
    u = bytearray(ip)
    u[24:26] = b"\x00\x03"  # UDP length 3
    f.append(ether(mac, bytes(u)))
    fr = bytearray(ip)
    fr[6:8] = b"\x20\x00"  # more fragments
    f.append(ether(mac, bytes(fr)))
    f.append(ether(mac, ip, 0x86DD))  # not IPv4
    f.append(ether(b"\xff" * 6, bytes((i * 7) & 0xFF for i in range(1500))))
    return f


def parse_client(frame):
    """(type, xid, mac) of a DHCP client message in an Ethernet frame, or None."""
    if len(frame) < 14 + 28 + 240 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 17:
        return None
    udp = ip[ihl:]
    if struct.unpack("!H", udp[2:4])[0] != 67:
        return None
    d = udp[8:]
    if d[0] != 1 or d[236:240] != MAGIC:
        return None
    xid = struct.unpack("!I", d[4:8])[0]
    mac = d[28:34]
    i, t = 240, 0
    while i < len(d) and d[i] != 255:
        if d[i] == 0:
            i += 1
            continue
        if i + 1 >= len(d):
            break
        if d[i] == 53 and d[i + 1] == 1:
            t = d[i + 2]
        i += 2 + d[i + 1]
    return t, xid, mac


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--peer", type=int, required=True)
    ap.add_argument("--mode", choices=("garbage", "good"), required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--seconds", type=float, default=300)
    a = ap.parse_args()
    log = open(a.log, "a", buffering=1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", a.listen))
    peer = ("127.0.0.1", a.peer)

    def send(frame):
        s.sendto(frame, peer)

    requests = 0
    guest_mac = None
    leased = False
    end = time.time() + a.seconds
    next_ping = 0
    seq = 0
    while time.time() < end:
        r, _, _ = select.select([s], [], [], 0.5)
        now = time.time()
        if leased and guest_mac and now >= next_ping:
            seq += 1
            icmp = struct.pack("!BBHHH", 8, 0, 0, 0x1234, seq) + b"i2kit hostile dhcp"
            icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
            send(ether(guest_mac, ipv4(icmp, SERVER_IP, CLIENT_IP, 1)))
            next_ping = now + 1
        if not r:
            continue
        frame, _ = s.recvfrom(65536)
        if len(frame) >= 42 and frame[12:14] == b"\x08\x06":  # ARP
            op = struct.unpack("!H", frame[20:22])[0]
            if op == 1 and frame[38:42] == SERVER_IP:
                arp = (struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + SERVER_MAC + SERVER_IP +
                       frame[22:28] + frame[28:32])
                send(ether(frame[6:12], arp, 0x0806))
            continue
        if len(frame) >= 34 and frame[12:14] == b"\x08\x00" and frame[23] == 1:
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            if ip[ihl] == 0 and ip[12:16] == CLIENT_IP:
                log.write("PING REPLY %s\n" % socket.inet_ntoa(CLIENT_IP))
                leased = False  # one is enough
            continue
        c = parse_client(frame)
        if not c:
            continue
        t, xid, mac = c
        guest_mac = mac
        name = {DISCOVER: "DISCOVER", REQUEST: "REQUEST"}.get(t, "TYPE%d" % t)
        log.write("%s xid=%08x\n" % (name, xid))
        bad = malformed(xid, mac)
        if t == REQUEST:  # the same garbage, dressed as ACKs
            bad = [(n, m.replace(b"\x35\x01\x02", b"\x35\x01\x05")) for n, m in bad]
        for _, m in bad:
            send(ether(mac, ipv4_udp(m, SERVER_IP)))
        frames = bad_frames(bootp(xid, mac, CLIENT_IP, lease_opts(OFFER) + b"\xff"), mac)
        for f in frames:
            send(f)
        log.write("SENT %d malformed\n" % (len(bad) + len(frames)))
        if a.mode != "good":
            continue
        if t == DISCOVER:
            send(ether(mac, ipv4_udp(replies(xid, mac, OFFER)[0][1], SERVER_IP)))
            log.write("OFFER %s\n" % socket.inet_ntoa(CLIENT_IP))
        elif t == REQUEST:
            requests += 1
            if requests == 1:
                nak = bootp(xid, mac, b"\0\0\0\0", opt(53, bytes([NAK])) + opt(54, SERVER_IP) +
                            b"\xff")
                send(ether(mac, ipv4_udp(nak, SERVER_IP)))
                log.write("NAK\n")
            else:
                send(ether(mac, ipv4_udp(replies(xid, mac, ACK)[1][1], SERVER_IP)))
                log.write("ACK %s\n" % socket.inet_ntoa(CLIENT_IP))
                leased = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
