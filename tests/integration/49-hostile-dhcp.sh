#!/bin/bash
# 49-hostile-dhcp.sh — the guest init's DHCP client against a hostile DHCP
# server on the VM's network, without root: QEMU's
# `-netdev socket,udp=127.0.0.1:A,localaddr=127.0.0.1:B` carries the
# guest's Ethernet frames as UDP datagrams to tests/integration/tools/
# hostile_dhcp.py, which answers every DISCOVER/REQUEST with malformed
# replies (truncated and overlong options, pad runs, no end option, no
# message type, broadcast/loopback/multicast/network addresses, holey and
# zero masks, other xid/MAC, broken IPv4/UDP frames).
#   * good: after the garbage a NAK, then a lease of odd but valid shape
#     (wrong-length options, two routers, unusable DNS entries, infinite
#     lease, a domain with blanks and control characters): PID 1 survives,
#     logs each refusal (capped), retries after the NAK, configures eth0
#     (the server's ping is answered), writes a sanitised resolv.conf, runs
#     its service and powers off cleanly;
#   * garbage: nothing but garbage: PID 1 logs it, gives up after
#     i2kit.dhcp_timeout and boots on without a lease.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)

for tool in qemu-system-x86_64 musl-gcc; do
	command -v "$tool" >/dev/null || { t_skip_is_fail "tool-$tool" "$tool not installed"; t_done; exit 1; }
done
if ! make -s -C "$REPO" init >"$W/make.log" 2>&1 || [ ! -x "$REPO/build/init/init" ]; then
	t_fail build-init "$(tail -c 600 "$W/make.log")"
	t_done
	exit 1
fi

cat >"$W/dhcp.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $REG_PLAIN/fixtures/busybox:latest
services:
  - name: alive
    image: $REG_PLAIN/fixtures/busybox:latest
    binds:
      - /run:/hostrun
    command: ["/bin/sh", "-c", "sed 's/^/resolv: /' /hostrun/resolvconf/resolv.conf 2>/dev/null; while :; do echo still alive; sleep 2; done"]
files:
  # the init under test
  - path: init
    source: $REPO/build/init/init
    mode: "0755"
YML
if ! "$I2KIT" build --format kernel+initrd --dir "$W/out" --name dhcp "$W/dhcp.yml" >"$W/build.log" 2>&1; then
	t_fail build "$(tail -c 600 "$W/build.log")"
	t_done
	exit 1
fi
t_pass build

monitor() { # SOCKET COMMAND
	"$T_PY" - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(0.3)
s.sendall((sys.argv[2] + "\n").encode())
time.sleep(0.5)
s.close()
PY
}

# run MODE TIMEOUT_S: boots with the hostile server in MODE; console in
# $W/MODE.console, the server's log in $W/MODE.server. no_timer_check: on
# a loaded host TCG is too slow for the kernel's IO-APIC timer check
# ("Kernel panic - not syncing: IO-APIC + timer doesn't work!").
run() {
	local mode=$1 dt=$2 a b
	a=$(free_port)
	b=$(free_port)
	: >"$W/$mode.server"
	bg_start "$W/$mode.server.out" "$T_PY" "$REPO/tests/integration/tools/hostile_dhcp.py" \
		--listen "$a" --peer "$b" --mode "$mode" --log "$W/$mode.server" --seconds 400
	SERVER_PID=$BG_PID
	qemu_start "$W/$mode.console" 300 \
		-kernel "$W/out/dhcp-kernel" -initrd "$W/out/dhcp-initrd.img" \
		-append "console=ttyS0 no_timer_check i2kit.dhcp_timeout=$dt" \
		-monitor "unix:$W/$mode.mon,server,nowait" \
		-netdev "socket,id=n0,udp=127.0.0.1:$a,localaddr=127.0.0.1:$b" \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56
}

# ---- good: garbage, a NAK, then an odd but valid lease ---------------------
run good 60
if wait_line "$W/good.console" "still alive" 240 "$QEMU_PID"; then
	t_pass good-service-runs
else
	t_fail good-service-runs "no 'still alive' line: $(tail -c 800 "$W/good.console")"
fi
if wait_line "$W/good.server" "PING REPLY 10.0.9.15" 60 "$QEMU_PID"; then
	t_pass good-guest-answers-ping
else
	t_fail good-guest-answers-ping "server log: $(tr '\n' '|' <"$W/good.server" | tail -c 600)"
fi
monitor "$W/good.mon" system_powerdown
bg_wait "$QEMU_PID" 90
con=$(cat "$W/good.console")
srv=$(cat "$W/good.server")
assert_contains good-server-saw-discover "$srv" "DISCOVER"
assert_contains good-server-sent-garbage "$srv" "SENT 26 malformed"
assert_contains good-server-nak "$srv" "NAK"
assert_contains good-refusal-logged "$con" "i2kit-init: warning: dhcp: ignored a reply: offered address is not a unicast address"
assert_contains good-refusal-mask "$con" "dhcp: ignored a reply: bad subnet mask"
assert_contains good-refusal-cap "$con" "dhcp: ignored a reply: no address offered (no more such lines)"
assert_eq good-refusals-capped 8 "$(grep -c 'dhcp: ignored a reply' "$W/good.console" || true)"
assert_contains good-nak-retried "$con" "dhcp: server declined the request, retrying"
assert_contains good-lease "$con" "dhcp: eth0 10.0.9.15/255.255.255.0 router 10.0.9.1 lease 4294967295s"
assert_contains good-resolv-search "$con" "alive: resolv: search example.test"
assert_contains good-resolv-ns "$con" "alive: resolv: nameserver 10.0.9.1"
assert_not_contains good-resolv-no-zero "$con" "nameserver 0.0.0.0"
assert_not_contains good-resolv-no-bcast "$con" "nameserver 255.255.255.255"
assert_contains good-services-started "$con" "1 service started"
assert_contains good-clean-exit "$con" "i2kit-init: services stopped"
assert_contains good-powered-off "$con" "i2kit-init: powering off"
assert_not_contains good-no-kernel-panic "$con" "Kernel panic"
assert_not_contains good-init-alive "$con" "Attempted to kill init"
assert_eq good-qemu-exit 0 "$BG_RC"

# ---- garbage: nothing usable; boot goes on without a lease ----------------
run garbage 6
if wait_line "$W/garbage.console" "still alive" 240 "$QEMU_PID"; then
	t_pass garbage-service-runs
else
	t_fail garbage-service-runs "no 'still alive' line: $(tail -c 800 "$W/garbage.console")"
fi
monitor "$W/garbage.mon" system_powerdown
bg_wait "$QEMU_PID" 90
con=$(cat "$W/garbage.console")
srv=$(cat "$W/garbage.server")
assert_contains garbage-server-saw-discover "$srv" "DISCOVER"
assert_not_contains garbage-no-request "$srv" "REQUEST"
assert_contains garbage-refusal-logged "$con" "dhcp: ignored a reply: offered address is the subnet's network or broadcast address"
assert_contains garbage-no-lease "$con" "i2kit-init: warning: dhcp: no lease on eth0 within 6000 ms"
assert_contains garbage-services-started "$con" "1 service started"
assert_contains garbage-clean-exit "$con" "i2kit-init: powering off"
assert_not_contains garbage-no-kernel-panic "$con" "Kernel panic"
assert_not_contains garbage-init-alive "$con" "Attempted to kill init"
assert_eq garbage-qemu-exit 0 "$BG_RC"

t_done
