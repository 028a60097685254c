#!/bin/bash
# 40-boot-init.sh — the guest init (initrd/init, build/init/init) booted for
# real under QEMU TCG: images built by `i2kit build` from the fixture
# registry, with the init appended to the initrd as a second cpio (the
# kernel unpacks concatenated archives in order; later files win).
#   * minimal: onboot output on the console, a crashing onboot container
#     does not stop boot, no services → the VM powers off by itself, the
#     onshutdown container runs, isa-debug-exit reports the onboot failure
#   * web: the service answers through QEMU's user-net port forward (DHCP
#     configured eth0), a service with org.i2kit.restart=on-failure is
#     restarted, ACPI system_powerdown from the QEMU monitor runs the
#     onshutdown container and powers off with status 0
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)

for tool in qemu-system-x86_64 cpio gzip curl musl-gcc; do
	command -v "$tool" >/dev/null || { t_skip_is_fail "tool-$tool" "$tool not installed"; t_done; exit 1; }
done
if ! make -s -C "$REPO" init >"$W/make.log" 2>&1 || [ ! -x "$REPO/build/init/init" ]; then
	t_fail build-init "$(tail -c 600 "$W/make.log")"
	t_done
	exit 1
fi
t_pass build-init
size=$(stat -c %s "$REPO/build/init/init")
if [ "$size" -le $((300 * 1024)) ]; then t_pass init-size; else t_fail init-size "$size bytes > 300 KiB"; fi
echo "# init binary: $size bytes" >&2

mkdir -p "$W/initcpio"
cp "$REPO/build/init/init" "$W/initcpio/init"
(cd "$W/initcpio" && echo init | cpio -o -H newc --quiet | gzip) >"$W/init.cpio.gz"

# build NAME YAML: i2kit build → $W/NAME-kernel, $W/NAME-initrd.img (+ init)
build() {
	local name=$1 yml=$2
	if ! "$I2KIT" build --format kernel+initrd --dir "$W/out" --name "$name" "$yml" >"$W/$name.build.log" 2>&1; then
		t_fail "build-$name" "$(tail -c 600 "$W/$name.build.log")"
		return 1
	fi
	cat "$W/out/$name-initrd.img" "$W/init.cpio.gz" >"$W/$name-initrd.img"
	t_pass "build-$name"
}

# boot NAME EXTRA_APPEND QEMU_ARGS... : starts QEMU in the background
# ($QEMU_PID), console in $W/NAME.console
boot() {
	local name=$1 append=$2
	shift 2
	qemu_start "$W/$name.console" 90 \
		-kernel "$W/out/$name-kernel" -initrd "$W/$name-initrd.img" \
		-append "console=ttyS0 i2kit.exitcode=isa-debug-exit $append" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-monitor "unix:$W/$name.mon,server,nowait" "$@"
}

# wait_rc SECONDS: waits for the last QEMU started to end; rc is its exit
# status (or "timeout")
wait_rc() {
	bg_wait "$QEMU_PID" "$1"
	rc=$BG_RC
}

monitor() { # NAME COMMAND
	"$T_PY" - "$W/$1.mon" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(0.3)
s.sendall((sys.argv[2] + "\n").encode())
time.sleep(0.5)
s.close()
PY
}

# ---- minimal: onboot only, one of them crashing; powers off by itself ----
cat >"$W/minimal.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $REG_PLAIN/fixtures/busybox:latest
onboot:
  - name: hello
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "hello from i2kit"]
  - name: crash
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "echo about to crash; exit 3"]
  - name: after
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "echo still booting after the crash"]
onshutdown:
  - name: bye
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "goodbye from onshutdown"]
files:
  # the init under test: the root must provide /init (busybox does not)
  - path: init
    source: $REPO/build/init/init
    mode: "0755"
YML

if build minimal "$W/minimal.yml"; then
	start=$SECONDS
	boot minimal "" -nic none
	wait_rc 80
	con=$(cat "$W/minimal.console")
	assert_contains minimal-init-started "$con" "i2kit-init: i2kit-init"
	assert_contains minimal-onboot-output "$con" "hello: hello from i2kit"
	assert_contains minimal-crash-output "$con" "crash: about to crash"
	assert_contains minimal-crash-logged "$con" "onboot crash failed (exited with status 3)"
	assert_contains minimal-boot-continues "$con" "after: still booting after the crash"
	assert_contains minimal-overlay-loaded "$con" "modules:"
	assert_contains minimal-no-services-poweroff "$con" "no services: powering off"
	assert_contains minimal-onshutdown-output "$con" "bye: goodbye from onshutdown"
	assert_not_contains minimal-no-kernel-panic "$con" "Kernel panic"
	# isa-debug-exit: status 1 (an onboot container failed) → QEMU exits (1<<1)|1
	assert_eq minimal-exit-status 3 "$rc"
	echo "# minimal: boot to poweroff in $((SECONDS - start)) s" >&2
	order=$(grep -o -E 'hello: hello from i2kit|after: still booting|no services: powering off|bye: goodbye' "$W/minimal.console" | tr '\n' '|')
	assert_eq minimal-order "hello: hello from i2kit|after: still booting|no services: powering off|bye: goodbye|" "$order"
fi

# ---- web: a service behind a port forward, restarts, ACPI powerdown -------
cat >"$W/web.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $REG_PLAIN/fixtures/busybox:latest
onboot:
  - name: hello
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "hello from onboot"]
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    capabilities.add:
      - CAP_NET_BIND_SERVICE
  - name: flaky
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "echo flaky run; exit 1"]
    annotations:
      org.i2kit.restart: on-failure
onshutdown:
  - name: bye
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "goodbye from onshutdown"]
  - name: logs
    image: $REG_PLAIN/fixtures/busybox:latest
    binds:
      - /var/log:/var/log
    command: ["/bin/sh", "-c", "echo flaky.log has \$(grep -c 'flaky run' /var/log/flaky.log) lines"]
files:
  # the init under test: the root must provide /init (busybox does not)
  - path: init
    source: $REPO/build/init/init
    mode: "0755"
YML

if build web "$W/web.yml"; then
	port=$(free_port)
	start=$SECONDS
	boot web "" -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:80" -device virtio-net-pci,netdev=n0
	body=$(fetch_published "http://127.0.0.1:$port/" 85 "$QEMU_PID") || true
	served=$((SECONDS - start))
	assert_contains web-answers "$body" "i2kit fixture web page"
	echo "# web: QEMU start to first HTTP answer: ${served} s" >&2
	con=$(cat "$W/web.console")
	assert_contains web-dhcp "$con" "dhcp: eth0 10.0.2.15/255.255.255.0 router 10.0.2.2"
	assert_contains web-onboot-output "$con" "hello: hello from onboot"
	assert_contains web-services-started "$con" "2 services started"
	# flaky exits 1 with restart on-failure: it runs again after 1 s
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c 'flaky: flaky run' "$W/web.console")" -ge 2 ] && break
		sleep 0.1
	done
	assert_eq web-restart-on-failure 2 "$(grep -c 'flaky: flaky run' "$W/web.console" | awk '{print ($1>=2)?2:$1}')"
	assert_contains web-restart-logged "$(cat "$W/web.console")" "flaky: restarting in 1000 ms"
	monitor web system_powerdown
	wait_rc 60
	con=$(cat "$W/web.console")
	assert_contains web-powerdown-seen "$con" "poweroff requested (ACPI power button)"
	assert_contains web-onshutdown-output "$con" "bye: goodbye from onshutdown"
	assert_contains web-services-stopped "$con" "i2kit-init: services stopped"
	assert_contains web-exit-reported "$con" "i2kit-init: exit status 0"
	assert_contains web-var-log "$con" "logs: flaky.log has 2 lines"
	assert_not_contains web-no-kernel-panic "$con" "Kernel panic"
	assert_eq web-exit-status 1 "$rc"
fi

# ---- poweroff from inside a container: /run/i2kit/poweroff; hostname ----
cat >"$W/stop.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $REG_PLAIN/fixtures/busybox:latest
services:
  - name: stopper
    image: $REG_PLAIN/fixtures/busybox:latest
    binds:
      - /run/i2kit:/run/i2kit
    command: ["/bin/sh", "-c", "echo host is \$(hostname); sleep 1; touch /run/i2kit/poweroff; sleep 600"]
files:
  # the init under test: the root must provide /init (busybox does not)
  - path: init
    source: $REPO/build/init/init
    mode: "0755"
YML

if build stop "$W/stop.yml"; then
	boot stop "i2kit.hostname=testhost" -nic none
	wait_rc 80
	con=$(cat "$W/stop.console")
	assert_contains stop-hostname "$con" "stopper: host is testhost"
	assert_contains stop-file-trigger "$con" "poweroff requested (/run/i2kit/poweroff)"
	assert_contains stop-service-stopped "$con" "i2kit-init: services stopped"
	assert_eq stop-exit-status 1 "$rc"
fi

t_done
