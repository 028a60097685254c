#!/bin/bash
# 01-harness.sh — the shared helpers of tests/integration/lib/harness.sh that
# the boot and fault scripts rely on, checked on their own so that a helper
# that always passes (or never waits) is caught here and not mistaken for a
# working VM: free_port, qemu_run/qemu_start (with a stand-in QEMU that
# prints its arguments), bg_start/bg_wait, wait_line (seen, timeout, process
# ended), fetch_published (retries until a late server answers, gives up
# when the VM process ends) and cache_verify (a cache pulled by i2kit is
# sound; a flipped byte, a missing blob, a broken index.json are reported).
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
W=$(t_tmpdir)

# ---- free_port ------------------------------------------------------------------
p=$(free_port)
if [[ "$p" =~ ^[0-9]+$ ]] && "$T_PY" -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$p"; then
	t_pass free-port-bindable
else
	t_fail free-port-bindable "got '$p'"
fi

# ---- qemu_run / qemu_start with a stand-in QEMU -----------------------------------
cat >"$W/fakeqemu" <<'SH'
#!/bin/sh
echo "fake qemu: $*"
case "$*" in
*exit3*) exit 3 ;;
*sleep*) echo "booting"; exec sleep 30 ;;
esac
SH
chmod +x "$W/fakeqemu"
export I2K_TEST_QEMU=$W/fakeqemu
qemu_run "$W/q1.log" 20 -append exit3
assert_eq qemu-run-status 3 "$QEMU_RC"
assert_contains qemu-run-args "$(cat "$W/q1.log")" "fake qemu: -accel tcg -m 512 -nographic -no-reboot -append exit3"
start=$SECONDS
qemu_run "$W/q2.log" 1 -append sleep
assert_eq qemu-run-timeout 124 "$QEMU_RC"
[ $((SECONDS - start)) -le 8 ] && t_pass qemu-run-timeout-bounded || t_fail qemu-run-timeout-bounded "took $((SECONDS - start)) s"
qemu_start "$W/q3.log" 30 -append sleep
if wait_line "$W/q3.log" "booting" 10 "$QEMU_PID"; then t_pass wait-line-seen; else t_fail wait-line-seen "$(cat "$W/q3.log")"; fi
bg_wait "$QEMU_PID" 1
assert_eq bg-wait-timeout timeout "$BG_RC"
start=$SECONDS
if wait_line "$W/q3.log" "never printed" 1 "$QEMU_PID"; then t_fail wait-line-timeout "reported a line that is not there"; else t_pass wait-line-timeout; fi
[ $((SECONDS - start)) -le 4 ] && t_pass wait-line-timeout-bounded || t_fail wait-line-timeout-bounded "took $((SECONDS - start)) s"
kill "$QEMU_PID"
bg_wait "$QEMU_PID" 10
assert_ne qemu-start-killed timeout "$BG_RC"
unset I2K_TEST_QEMU

# ---- bg_start / bg_wait / wait_line on an ended process ----------------------------
bg_start "$W/b1.log" sh -c 'echo started; exit 5'
bg_wait "$BG_PID" 10
assert_eq bg-wait-status 5 "$BG_RC"
start=$SECONDS
if wait_line "$W/b1.log" "never printed" 30 "$BG_PID"; then t_fail wait-line-pid-ended "reported a line that is not there"; else t_pass wait-line-pid-ended; fi
[ $((SECONDS - start)) -le 3 ] && t_pass wait-line-pid-ended-fast || t_fail wait-line-pid-ended-fast "took $((SECONDS - start)) s"

# ---- fetch_published: a server that comes up late; one that never does -------------
port=$(free_port)
mkdir -p "$W/www"
echo "published page" >"$W/www/index.html"
bg_start "$W/http.log" sh -c "sleep 2; exec '$T_PY' -m http.server --bind 127.0.0.1 --directory '$W/www' $port"
if page=$(fetch_published "http://127.0.0.1:$port/" 30 "$BG_PID"); then
	assert_eq fetch-published-retries "published page" "$page"
else
	t_fail fetch-published-retries "no answer: $(cat "$W/http.log")"
fi
kill "$BG_PID"
port=$(free_port)
bg_start "$W/dead.log" sleep 1
start=$SECONDS
if fetch_published "http://127.0.0.1:$port/" 30 "$BG_PID" >/dev/null; then
	t_fail fetch-published-vm-ended "an answer from a port nobody listens on"
else
	t_pass fetch-published-vm-ended
fi
[ $((SECONDS - start)) -le 5 ] && t_pass fetch-published-gives-up-fast || t_fail fetch-published-gives-up-fast "took $((SECONDS - start)) s"

# ---- cache_verify -----------------------------------------------------------------
fresh_cache
assert_exit cache-pull 0 "$I2KIT" cache pull "$REG_PLAIN/fixtures/busybox:latest" "$REG_PLAIN/fixtures/web:latest"
assert_cache_ok cache-sound
C=$I2KIT_CACHE
layer=$("$T_PY" - "$C" <<'PY'
import json, sys
d = sys.argv[1]
m = json.load(open(d + "/index.json"))["manifests"][0]
man = json.load(open(d + "/blobs/sha256/" + m["digest"][7:]))
print(man["layers"][0]["digest"][7:], man["config"]["digest"][7:])
PY
)
cfg=${layer#* }
layer=${layer% *}
cp -a "$C" "$W/flip"
f=$W/flip/blobs/sha256/$layer
chmod u+w "$f"
printf '\xff' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
if out=$(cache_verify "$W/flip"); then t_fail cache-flipped-byte "not reported"; else
	assert_contains cache-flipped-byte "$out" "blob $layer: content has sha256"
fi
cp -a "$C" "$W/nocfg"
rm -f "$W/nocfg/blobs/sha256/$cfg"
if out=$(cache_verify "$W/nocfg"); then t_fail cache-missing-config "not reported"; else
	assert_contains cache-missing-config "$out" "config: blob sha256:$cfg missing"
	assert_contains cache-missing-config-skopeo "$out" "skopeo inspect oci:$W/nocfg:"
fi
cp -a "$C" "$W/badidx"
echo '{"schemaVersion": 2, "manifests": [' >"$W/badidx/index.json"
if out=$(cache_verify "$W/badidx"); then t_fail cache-bad-index "not reported"; else
	assert_contains cache-bad-index "$out" "index.json: "
fi
: >"$C/blobs/sha256/.partial-$layer"
assert_cache_ok cache-partial-ignored
t_done
