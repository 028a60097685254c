#!/bin/bash
# 43-examples.sh — the user's path end to end with the packaged init
# (i2kit/init:VERSION from `make`): examples/run.sh builds examples/web.yml
# offline from imported archives, boots it with `i2kit run qemu --publish`
# and gets the page; examples/minimal.yml boots, prints and powers off by
# itself with exit status 0; a failing onboot container makes `i2kit run`
# exit 1 (the guest's status through isa-debug-exit) while the boot goes on;
# an onshutdown container runs on Ctrl-C.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
W=$(t_tmpdir)
export I2KIT_CACHE=$W/cache

# ---- examples/run.sh: the README's main job ---------------------------------
rc=0
(cd "$REPO" && I2KIT_CACHE=$W/example-cache examples/run.sh "$W/example") >"$W/run.log" 2>&1 || rc=$?
assert_eq example-run-exit 0 "$rc"
assert_contains example-page "$(cat "$W/run.log")" "→ i2kit fixture web page"
assert_contains example-onboot "$(cat "$W/run.log")" "hello from onboot"
assert_contains example-poweroff "$(cat "$W/run.log")" "i2kit run exit status 0"
assert_eq example-no-qemu-left "" "$(pgrep -f "$W/example/web-kernel" || true)"

# ---- minimal: boots, prints, powers off by itself, exit 0 --------------------
"$I2KIT" cache import "$REPO/build/init/i2kit-init-$I2K_VERSION.tar" >/dev/null 2>&1
sed "s|fixtures/|$REG_PLAIN/fixtures/|" "$REPO/examples/minimal.yml" >"$W/minimal.yml"
assert_exit minimal-build 0 "$I2KIT" build --dir "$W/m" --name minimal "$W/minimal.yml"
assert_exit minimal-run-exit-0 0 "$I2KIT" run qemu --mem 512 --timeout 90 --state "$W/m/run" "$W/m/minimal"
assert_contains minimal-prints "$T_OUT" "hello from i2kit"
assert_contains minimal-powers-off "$T_OUT" "no services: powering off"

# ---- a failing onboot container: boot goes on, exit status 1 -----------------
cat >"$W/fail.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - i2kit/init:$I2K_VERSION
onboot:
  - name: crash
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "echo crashing; exit 3"]
  - name: after
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "still booting"]
YML
assert_exit fail-build 0 "$I2KIT" build --dir "$W/f" --name fail "$W/fail.yml"
assert_exit fail-run-exit-1 1 "$I2KIT" run qemu --mem 512 --timeout 90 --state "$W/f/run" "$W/f/fail"
assert_contains fail-crash-shown "$T_OUT" "crashing"
assert_contains fail-boot-goes-on "$T_OUT" "still booting"

# ---- onshutdown runs when i2kit run gets Ctrl-C ------------------------------
cat >"$W/shut.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - i2kit/init:$I2K_VERSION
onshutdown:
  - name: goodbye
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "onshutdown says goodbye"]
services:
  - name: idle
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "echo service up; exec sleep 1000"]
YML
assert_exit shut-build 0 "$I2KIT" build --dir "$W/s" --name shut "$W/shut.yml"
bg_start "$W/shut.log" "$I2KIT" run qemu --mem 512 --timeout 120 --state "$W/s/run" "$W/s/shut"
wait_line "$W/shut.log" "service up" 90 "$BG_PID" || true
kill -INT "$BG_PID"
bg_wait "$BG_PID"
assert_eq shut-exit-0 0 "$BG_RC"
assert_contains shut-onshutdown-ran "$(cat "$W/shut.log")" "onshutdown says goodbye"
t_done
