#!/bin/bash
# 22-faults.sh — pulls through fixtures/faultproxy.py: a corrupted blob is
# rejected and nothing is committed; 503 and 429 are retried; a connection
# cut mid-blob and a stalled transfer resume with an HTTP Range request;
# the registry killed in the middle of a pull: the next pull resumes the
# partial blob; a body dripping at 2 B/s and a transfer past its deadline
# are cut off with a clear error; a garbage partial file never fails the
# next pull (restart from byte 0 once); blobs over a size limit (descriptor,
# Content-Length) are refused before they are committed. `i2kit cache
# verify` runs after every case. The plain registry is restarted before the
# script ends.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
B=$REG_PLAIN/fixtures

i2kit_verify() { # NAME → `i2kit cache verify` must find nothing wrong
	assert_exit "$1-cache-verify" 0 "$I2KIT" cache verify
}
blob_sizes() { # REF → config and layer sizes of the registry's manifest
	skopeo inspect --tls-verify=false --raw "docker://$1" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
print(" ".join(str(d["size"]) for d in [m["config"]] + m["layers"]))'
}
blob_digests() { # REF → config and layer digests (hex) of the registry's manifest
	skopeo inspect --tls-verify=false --raw "docker://$1" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
print(" ".join(d["digest"].split(":")[1] for d in [m["config"]] + m["layers"]))'
}
big_layer=$(blob_digests "$B/big:latest" | cut -d' ' -f2)

# ---- corrupt blob → integrity error, nothing committed ----------------------------------
assert_exit warm-web 0 "$I2KIT" cache pull "$B/web:latest"
faultproxy_start "http://$REG_PLAIN" --corrupt
P=$FP_ADDR/fixtures
assert_exit corrupt 1 "$I2KIT" cache pull "$P/busybox:latest"
assert_contains corrupt-msg "$T_OUT" "$P/busybox:latest: blob sha256:"
assert_contains corrupt-msg-digest "$T_OUT" "content has digest sha256:"
assert_contains corrupt-log "$(cat "$FP_LOG")" "fault=corrupt"
left=
for d in $(blob_digests "$B/busybox:latest"); do
	[ -e "$I2KIT_CACHE/blobs/sha256/$d" ] && ! [ -e "$I2KIT_CACHE/blobs/sha256/.partial-$d" ] &&
		! grep -q "$d" <<<"$(blob_digests "$B/web:latest")" && left="$left $d"
	[ -e "$I2KIT_CACHE/blobs/sha256/.partial-$d" ] && left="$left .partial-$d"
done
assert_eq corrupt-nothing-committed "" "$left"
assert_eq corrupt-no-ref "" "$(grep -o "$P/busybox:latest" "$I2KIT_CACHE/index.json" || true)"
assert_exit corrupt-cache-still-readable 0 skopeo inspect "oci:$I2KIT_CACHE:$B/web:latest"
assert_cache_ok corrupt-cache-verified
i2kit_verify corrupt
faultproxy_stop

# ---- 503 twice, then success ----------------------------------------------------------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --status 503 --times 2
P=$FP_ADDR/fixtures
assert_exit retry-503 0 "$I2KIT" cache pull "$P/busybox:latest"
assert_eq retry-503-count 2 "$(grep -c 'status=503' "$FP_LOG" || true)"
assert_contains retry-503-then-200 "$(grep '/blobs/' "$FP_LOG" | sed -n 3p)" "status=200"
i2kit_verify retry-503
faultproxy_stop

# ---- 429 with Retry-After -----------------------------------------------------------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --status 429 --times 3
P=$FP_ADDR/fixtures
assert_exit retry-429 0 "$I2KIT" cache pull "$P/busybox:latest"
assert_eq retry-429-count 3 "$(grep -c 'status=429' "$FP_LOG" || true)"
assert_cache_ok retry-429-verified
i2kit_verify retry-429
faultproxy_stop
# more failures than retries: a clear registry error, exit 3
fresh_cache
faultproxy_start "http://$REG_PLAIN" --status 503 --times 0
P=$FP_ADDR/fixtures
assert_exit retry-exhausted 3 "$I2KIT" cache pull "$P/busybox:latest"
assert_contains retry-exhausted-msg "$T_OUT" "$P/busybox:latest: blob sha256:"
assert_eq retry-exhausted-attempts 6 "$(grep -c 'status=503' "$FP_LOG" || true)"
i2kit_verify retry-exhausted
faultproxy_stop

# ---- connection cut mid-blob → resumed with Range ---------------------------------------
# blob GETs: #1 the config, #2 the 64 MiB layer (cut after 1 MiB), #3 its resume
fresh_cache
faultproxy_start "http://$REG_PLAIN" --cut-after 1048576 --times 2
P=$FP_ADDR/fixtures
assert_exit cut-resume 0 "$I2KIT" cache pull "$P/big:latest"
assert_contains cut-happened "$(grep "$big_layer" "$FP_LOG" | head -1)" "fault=cut"
assert_contains cut-resumed-with-range "$(grep "$big_layer" "$FP_LOG" | sed -n 2p)" "Range: bytes=1048576- | status=206"
assert_eq cut-two-requests 2 "$(grep -c "$big_layer" "$FP_LOG" || true)"
assert_cache_ok cut-verified
assert_exit cut-skopeo-inspect 0 skopeo inspect "oci:$I2KIT_CACHE:$P/big:latest"
i2kit_verify cut
faultproxy_stop

# ---- a stalled transfer times out (low-speed limit) and resumes --------------------------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --stall 30 --stall-after 2097152 --times 2
P=$FP_ADDR/fixtures
start=$SECONDS
assert_exit stall-resume 0 env I2KIT_LOW_SPEED_TIMEOUT=2 "$I2KIT" cache pull "$P/big:latest"
assert_contains stall-resumed-with-range "$(grep "$big_layer" "$FP_LOG" | sed -n 2p)" "Range: bytes=2097152-"
if [ $((SECONDS - start)) -lt 25 ]; then t_pass stall-did-not-wait-for-stall; else
	t_fail stall-did-not-wait-for-stall "took $((SECONDS - start)) s"; fi
assert_cache_ok stall-verified
i2kit_verify stall
faultproxy_stop

# ---- a body dripping at 2 B/s: cut off after one throughput window ----------------------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --drip 2
P=$FP_ADDR/fixtures
start=$SECONDS
assert_exit drip-fails 3 env I2KIT_LOW_SPEED_TIMEOUT=2 "$I2KIT" cache pull "$P/busybox:latest"
assert_contains drip-msg "$T_OUT" "i2kit: error: $P/busybox:latest: blob sha256:"
assert_contains drip-msg-why "$T_OUT" "$FP_ADDR: transfer too slow:"
assert_contains drip-msg-knob "$T_OUT" "I2KIT_LOW_SPEED_LIMIT"
assert_eq drip-retried 6 "$(grep -c 'fault=drip' "$FP_LOG" || true)"
if [ $((SECONDS - start)) -lt 60 ]; then t_pass drip-bounded; else
	t_fail drip-bounded "took $((SECONDS - start)) s"; fi
assert_eq drip-no-ref "" "$(grep -o "$P/busybox:latest" "$I2KIT_CACHE/index.json" || true)"
i2kit_verify drip
faultproxy_stop

# ---- fast enough for the window, but past the overall deadline ----------------------------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --drip 20000
P=$FP_ADDR/fixtures
start=$SECONDS
assert_exit deadline-fails 3 env I2KIT_LOW_SPEED_TIMEOUT=30 I2KIT_TRANSFER_TIMEOUT=2 \
	I2KIT_TRANSFER_RATE=1000000000 "$I2KIT" cache pull "$P/big:latest"
assert_contains deadline-msg "$T_OUT" "i2kit: error: $P/big:latest: blob sha256:$big_layer: $FP_ADDR: transfer did not finish within its deadline of"
assert_contains deadline-msg-knob "$T_OUT" "I2KIT_TRANSFER_TIMEOUT"
# every retry resumed where the last one stopped
assert_contains deadline-resumed "$(grep "$big_layer" "$FP_LOG" | sed -n 2p)" "Range: bytes="
if [ $((SECONDS - start)) -lt 60 ]; then t_pass deadline-bounded; else
	t_fail deadline-bounded "took $((SECONDS - start)) s"; fi
i2kit_verify deadline
faultproxy_stop

# ---- garbage partial files: the next pull restarts the blob from byte 0, once -------------
read -r _ bb_layer <<<"$(blob_digests "$B/busybox:latest")"
read -r _ bb_size <<<"$(blob_sizes "$B/busybox:latest")"
fresh_cache
mkdir -p "$I2KIT_CACHE/blobs/sha256"
head -c $((bb_size / 2)) /dev/urandom >"$I2KIT_CACHE/blobs/sha256/.partial-$bb_layer"
faultproxy_start "http://$REG_PLAIN" --times 0
P=$FP_ADDR/fixtures
assert_exit partial-garbage-short 0 "$I2KIT" cache pull "$P/busybox:latest"
assert_contains partial-garbage-short-range "$(grep "$bb_layer" "$FP_LOG" | sed -n 1p)" "Range: bytes=$((bb_size / 2))- | status=206"
assert_contains partial-garbage-short-restart "$(grep "$bb_layer" "$FP_LOG" | sed -n 2p)" "Range: - | status=200"
assert_eq partial-garbage-short-requests 2 "$(grep -c "$bb_layer" "$FP_LOG" || true)"
assert_cache_ok partial-garbage-short-verified
i2kit_verify partial-garbage-short
faultproxy_stop
fresh_cache
mkdir -p "$I2KIT_CACHE/blobs/sha256"
head -c "$bb_size" /dev/urandom >"$I2KIT_CACHE/blobs/sha256/.partial-$bb_layer"
faultproxy_start "http://$REG_PLAIN" --times 0
P=$FP_ADDR/fixtures
assert_exit partial-garbage-full 0 "$I2KIT" cache pull "$P/busybox:latest"
assert_eq partial-garbage-full-requests 1 "$(grep -c "$bb_layer" "$FP_LOG" || true)"
assert_contains partial-garbage-full-from-0 "$(grep "$bb_layer" "$FP_LOG")" "Range: - | status=200"
i2kit_verify partial-garbage-full
faultproxy_stop

# ---- size limits: checked before and while streaming, nothing over a limit committed -----
fresh_cache
faultproxy_start "http://$REG_PLAIN" --times 0
P=$FP_ADDR/fixtures
assert_exit limit-layer 1 env I2KIT_MAX_LAYER_SIZE=1000 "$I2KIT" cache pull "$P/busybox:latest"
assert_contains limit-layer-msg "$T_OUT" "$P/busybox:latest: layer sha256:$bb_layer: $bb_size bytes exceeds the limit of 1000 bytes"
assert_eq limit-layer-not-requested 0 "$(grep -c "$bb_layer" "$FP_LOG" || true)"
assert_eq limit-layer-not-committed "" "$(ls -A "$I2KIT_CACHE/blobs/sha256/" | grep "$bb_layer" || true)"
i2kit_verify limit-layer
faultproxy_stop
fresh_cache
faultproxy_start "http://$REG_PLAIN" --pad 4096
P=$FP_ADDR/fixtures
assert_exit limit-content-length 1 "$I2KIT" cache pull "$P/busybox:latest"
assert_contains limit-content-length-msg "$T_OUT" "$P/busybox:latest: blob sha256:"
assert_contains limit-content-length-why "$T_OUT" "bytes, the manifest says"
assert_eq limit-content-length-nothing "" "$(ls -A "$I2KIT_CACHE/blobs/sha256/" 2>/dev/null || true)"
i2kit_verify limit-content-length
faultproxy_stop
# a config blob of 17 MiB (the limit is 16 MiB): refused before a byte is fetched
# (pushed with the distribution API directly: skopeo itself refuses configs > 4 MiB)
assert_exit bigconfig-push 0 "$T_PY" "$REPO/fixtures/pushimage.py" "$REG_PLAIN" faults/bigconfig:latest bigconfig 17
fresh_cache
faultproxy_start "http://$REG_PLAIN" --times 0
P=$FP_ADDR/faults
assert_exit limit-config 1 "$I2KIT" cache pull "$P/bigconfig:latest"
assert_contains limit-config-msg "$T_OUT" "$P/bigconfig:latest: config sha256:"
assert_contains limit-config-why "$T_OUT" "exceeds the limit of 16777216 bytes"
assert_eq limit-config-not-requested 0 "$(grep -c '/blobs/' "$FP_LOG" || true)"
assert_eq limit-config-nothing "" "$(ls -A "$I2KIT_CACHE/blobs/sha256/" 2>/dev/null || true)"
i2kit_verify limit-config
faultproxy_stop

# ---- a PAX GNU sparse 1.0 bomb (5 GiB, 512 bytes of data): refused by the root size
# limit; allowed by --max-root-size, the tar output keeps the hole ---------------------------
assert_exit sparsebomb-push 0 "$T_PY" "$REPO/fixtures/pushimage.py" "$REG_PLAIN" faults/sparsebomb:latest sparsebomb 5
fresh_cache
W=$(t_tmpdir)
printf 'init:\n  - %s\n' "$REG_PLAIN/faults/sparsebomb:latest" >"$W/bomb.yml"
assert_exit sparsebomb-refused 1 "$I2KIT" build --format tar --dir "$W/out1" "$W/bomb.yml"
assert_contains sparsebomb-refused-msg "$T_OUT" 'entry "bomb.img": 5368709120 bytes would expand the root past its size limit of 4294967296 bytes'
assert_contains sparsebomb-refused-image "$T_OUT" "$REG_PLAIN/faults/sparsebomb:latest"
assert_eq sparsebomb-refused-no-output "" "$(ls -A "$W/out1" 2>/dev/null || true)"
assert_exit sparsebomb-allowed 0 "$I2KIT" build --format tar --max-root-size 8G --dir "$W/out2" "$W/bomb.yml"
bytes=$(stat -c %s "$W/out2/bomb.tar" 2>/dev/null || echo 0)
if [ "$bytes" -gt 0 ] && [ "$bytes" -lt 1048576 ]; then t_pass sparsebomb-tar-small; else
	t_fail sparsebomb-tar-small "bomb.tar is $bytes bytes"; fi
assert_contains sparsebomb-tar-lists "$(tar -tvf "$W/out2/bomb.tar" 2>&1)" "5368709120"
assert_eq sparsebomb-tar-sparse True "$("$T_PY" -c 'import sys, tarfile
print(tarfile.open(sys.argv[1]).getmember("bomb.img").issparse())' "$W/out2/bomb.tar" 2>&1)"
i2kit_verify sparsebomb

# ---- an empty YAML is an error, not an empty tar ---------------------------------------------
: >"$W/empty.yml"
assert_exit empty-yaml 1 "$I2KIT" build --format tar --dir "$W/out3" "$W/empty.yml"
assert_contains empty-yaml-msg "$T_OUT" "i2kit: error: $W/empty.yml: nothing to build"
assert_eq empty-yaml-no-output "" "$(ls -A "$W/out3" 2>/dev/null || true)"

# ---- kill -9 of builds at 10 points: never a temp file left in the output directory ---------
cat >"$W/kill.yml" <<YML
kernel:
  image: $B/kernel:6.1
init:
  - $B/busybox:latest
services:
  - name: big
    image: $B/big:latest
files:
  # busybox as init: provides no /init, which a root with a kernel needs
  - path: init
    contents: "#!/bin/sh\nexec /bin/sh\n"
    mode: "0755"
YML
assert_exit kill-warm 0 "$I2KIT" cache pull "$B/kernel:6.1" "$B/busybox:latest" "$B/big:latest"
left=
for i in 1 2 3 4 5 6 7 8 9 10; do
	"$I2KIT" build --format tar --format kernel+initrd --dir "$W/kill" --name k "$W/kill.yml" \
		>/dev/null 2>&1 &
	kpid=$!
	sleep "$(awk -v i="$i" 'BEGIN { print 0.3 * i }')"
	kill -9 "$kpid" 2>/dev/null || true
	wait "$kpid" 2>/dev/null || true
	stray=$(ls -A "$W/kill" 2>/dev/null | grep -v '^k\.tar$\|^k-kernel$\|^k-initrd\.img$\|^k-cmdline$\|^k\.spdx\.json$' || true)
	[ -z "$stray" ] || left="$left [$i: $stray]"
done
assert_eq kill9-nothing-left "" "$left"
# the loop must have killed real builds: the same build completes on its own
assert_exit kill9-config-builds 0 "$I2KIT" build --format tar --dir "$W/kill-ok" --name k "$W/kill.yml"
# a complete build afterwards: only the outputs, nothing else
assert_exit kill9-then-build 0 "$I2KIT" build --format tar --dir "$W/kill" --name k "$W/kill.yml"
assert_eq kill9-then-only-outputs "" "$(ls -A "$W/kill" | grep -v '^k\.tar$\|^k-kernel$\|^k-initrd\.img$\|^k-cmdline$\|^k\.spdx\.json$' || true)"
i2kit_verify kill9

# ---- registry killed mid-pull, restarted, pull again → resumes the partial --------------
fresh_cache
on_exit "bash '$REPO/fixtures/registry.sh' start-one '$I2K_REG_STATE' plain"
faultproxy_start "http://$REG_PLAIN" --stall 4 --stall-after 8388608 --times 2
P=$FP_ADDR/fixtures
out=$(t_tmpdir)/pull.out
"$I2KIT" cache pull "$P/big:latest" >"$out" 2>&1 &
pull_pid=$!
# wait until the layer transfer is under way, then kill the registry
for _ in $(seq 100); do grep -q "$big_layer" "$FP_LOG" 2>/dev/null && break; sleep 0.1; done
sleep 1
bash "$REPO/fixtures/registry.sh" stop-one "$I2K_REG_STATE" plain >&2
rc=0
wait "$pull_pid" || rc=$?
assert_eq killed-pull-fails 3 "$rc"
assert_contains killed-pull-msg "$(cat "$out")" "$P/big:latest"
partial=$(ls -a "$I2KIT_CACHE/blobs/sha256/" | grep -c "^\.partial-$big_layer" || true)
assert_eq killed-partial-kept 1 "$partial"
bash "$REPO/fixtures/registry.sh" start-one "$I2K_REG_STATE" plain >&2
: >"$FP_LOG"
assert_exit killed-then-resumed 0 "$I2KIT" cache pull "$P/big:latest"
rng=$(grep "$big_layer" "$FP_LOG" | head -1 | sed -n 's/.*Range: bytes=\([0-9]*\)-.*/\1/p')
if [ -n "$rng" ] && [ "$rng" -ge 8388608 ]; then t_pass killed-resume-range; else
	t_fail killed-resume-range "expected Range: bytes=N- with N >= 8 MiB: $(cat "$FP_LOG")"; fi
assert_contains killed-resume-206 "$(grep "$big_layer" "$FP_LOG" | head -1)" "status=206"
assert_cache_ok killed-verified
assert_eq killed-no-partial-left 0 "$(ls -a "$I2KIT_CACHE/blobs/sha256/" | grep -c '^\.partial-' || true)"
i2kit_verify killed
faultproxy_stop
t_done
