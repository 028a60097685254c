#!/bin/bash
# 22-faults.sh — pulls through fixtures/faultproxy.py: a corrupted blob is
# rejected and nothing is committed; 503 and 429 are retried; a connection
# cut mid-blob and a stalled transfer resume with an HTTP Range request;
# the registry killed in the middle of a pull: the next pull resumes the
# partial blob. The plain registry is restarted before the script ends.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
B=$REG_PLAIN/fixtures

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
faultproxy_stop

# ---- 503 twice, then success ----------------------------------------------------------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --status 503 --times 2
P=$FP_ADDR/fixtures
assert_exit retry-503 0 "$I2KIT" cache pull "$P/busybox:latest"
assert_eq retry-503-count 2 "$(grep -c 'status=503' "$FP_LOG" || true)"
assert_contains retry-503-then-200 "$(grep '/blobs/' "$FP_LOG" | sed -n 3p)" "status=200"
faultproxy_stop

# ---- 429 with Retry-After -----------------------------------------------------------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --status 429 --times 3
P=$FP_ADDR/fixtures
assert_exit retry-429 0 "$I2KIT" cache pull "$P/busybox:latest"
assert_eq retry-429-count 3 "$(grep -c 'status=429' "$FP_LOG" || true)"
assert_cache_ok retry-429-verified
faultproxy_stop
# more failures than retries: a clear registry error, exit 3
fresh_cache
faultproxy_start "http://$REG_PLAIN" --status 503 --times 0
P=$FP_ADDR/fixtures
assert_exit retry-exhausted 3 "$I2KIT" cache pull "$P/busybox:latest"
assert_contains retry-exhausted-msg "$T_OUT" "$P/busybox:latest: blob sha256:"
assert_eq retry-exhausted-attempts 6 "$(grep -c 'status=503' "$FP_LOG" || true)"
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
faultproxy_stop

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
faultproxy_stop
t_done
