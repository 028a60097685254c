#!/bin/bash
# 23-cache.sh — the cache commands: offline use of a warm cache with the
# registry stopped (and no socket opened), offline misses, export → import
# into an empty cache, rm + gc, clean, and two concurrent pulls into one
# cache. The plain registry is restarted before the script ends.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
B=$REG_PLAIN/fixtures
W=$(t_tmpdir)

verify_cache() { # DIR → number of blobs whose sha256 is not their name
	local bad=0 f
	for f in "$1"/blobs/sha256/*; do
		[ -f "$f" ] || continue
		[ "$(sha256sum <"$f" | cut -c1-64)" = "$(basename "$f")" ] || bad=$((bad + 1))
	done
	echo "$bad"
}
ref_count() { # DIR REF → how many index.json entries carry REF
	/usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys
print(sum(1 for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]
          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == sys.argv[2]))
EOF
}
no_inet() { # TRACEFILE → number of AF_INET/AF_INET6 sockets opened
	grep -c 'AF_INET' "$1" || true
}

# ---- warm cache, registry stopped --------------------------------------------------
assert_exit warm 0 "$I2KIT" cache pull "$B/busybox:latest" "$B/kernel:6.1" "$B/web:latest"
on_exit "bash '$REPO/fixtures/registry.sh' start-one '$I2K_REG_STATE' plain"
bash "$REPO/fixtures/registry.sh" stop-one "$I2K_REG_STATE" plain >&2
assert_exit offline-hit 0 strace -f -qq -e trace=socket,connect -o "$W/t1" \
	"$I2KIT" cache pull --offline "$B/busybox:latest" "$B/kernel:6.1" "$B/web:latest"
assert_contains offline-hit-digest "$T_OUT" "$B/kernel:6.1 sha256:"
assert_eq offline-hit-no-socket 0 "$(no_inet "$W/t1")"
assert_exit registry-down-cached 0 "$I2KIT" cache pull "$B/busybox:latest"
assert_contains registry-down-cached-msg "$T_OUT" "cached  $B/busybox:latest"
assert_exit offline-miss 1 strace -f -qq -e trace=socket,connect -o "$W/t2" \
	"$I2KIT" cache pull --offline "$B/layers:latest"
assert_contains offline-miss-msg "$T_OUT" "i2kit: error: $B/layers:latest: not in the cache and --offline was given"
assert_eq offline-miss-no-socket 0 "$(no_inet "$W/t2")"
assert_exit offline-miss-dead-host 1 "$I2KIT" cache pull --offline 127.0.0.1:1/x/y:z
assert_contains offline-miss-dead-host-msg "$T_OUT" "127.0.0.1:1/x/y:z: not in the cache and --offline was given"
assert_exit offline-wrong-platform 1 "$I2KIT" cache pull --offline --arch arm64 "$B/busybox:latest"
assert_contains offline-wrong-platform-msg "$T_OUT" "$B/busybox:latest: cached only for linux/amd64, not linux/arm64, and --offline was given"
assert_exit registry-down-miss 3 "$I2KIT" cache pull "$B/layers:latest"
assert_contains registry-down-miss-msg "$T_OUT" "cannot connect to $REG_PLAIN"
bash "$REPO/fixtures/registry.sh" start-one "$I2K_REG_STATE" plain >&2

# ---- progress: a line per finished step off a TTY; -q silent; -v per blob; a TTY ------
SAVED=$I2KIT_CACHE
fresh_cache
assert_exit progress-plain 0 "$I2KIT" cache pull "$B/web:latest"
assert_contains progress-plain-pulling "$T_OUT" "pulling $B/web:latest"
assert_contains progress-plain-pulled "$T_OUT" "pulled  $B/web:latest ("
assert_not_contains progress-plain-no-cr "$T_OUT" $'\r'
assert_exit progress-verbose 0 "$I2KIT" cache pull -v --pull "$B/web:latest"
assert_contains progress-verbose-blob "$T_OUT" "  sha256:"
fresh_cache
rc=0
"$I2KIT" cache pull -q "$B/web:latest" >/dev/null 2>"$W/q.err" || rc=$?
assert_eq progress-quiet-exit 0 "$rc"
assert_eq progress-quiet-silent "" "$(cat "$W/q.err")"
fresh_cache
rc=0
TERM=xterm script -q -e -c "'$I2KIT' cache pull '$B/busybox:latest' '$B/web:latest'" "$W/tty.log" >/dev/null || rc=$?
assert_eq progress-tty-exit 0 "$rc"
assert_contains progress-tty-web "$(cat "$W/tty.log")" "pulled  $B/web:latest ("
assert_contains progress-tty-busybox "$(cat "$W/tty.log")" "pulled  $B/busybox:latest ("
I2KIT_CACHE=$SAVED

# ---- ls ------------------------------------------------------------------------------
assert_exit ls 0 "$I2KIT" cache ls
assert_contains ls-kernel "$T_OUT" "$B/kernel:6.1"
assert_exit ls-json 0 "$I2KIT" cache ls --json
assert_eq ls-json-count 3 "$(printf '%s' "$T_OUT" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

# ---- export → import into an empty cache --------------------------------------------
ARCH=$W/images.tar
assert_exit export 0 "$I2KIT" cache export "$ARCH" "$B/busybox:latest" "$B/web:latest"
assert_file export-file "$ARCH"
assert_exit export-skopeo 0 skopeo inspect "oci-archive:$ARCH:$B/web:latest"
assert_exit export-missing-ref 1 "$I2KIT" cache export "$W/x.tar" "$B/layers:latest"
assert_contains export-missing-ref-msg "$T_OUT" "$B/layers:latest: not in the cache"
[ -e "$W/x.tar" ] && t_fail export-missing-no-file "$W/x.tar exists" || t_pass export-missing-no-file
OLD=$I2KIT_CACHE
fresh_cache
assert_exit import 0 "$I2KIT" cache import "$ARCH"
assert_contains import-lists-refs "$T_OUT" "$B/web:latest"
assert_exit import-offline-pull 0 "$I2KIT" cache pull --offline "$B/busybox:latest" "$B/web:latest"
assert_exit import-offline-miss 1 "$I2KIT" cache pull --offline "$B/kernel:6.1"
assert_eq import-verified 0 "$(verify_cache "$I2KIT_CACHE")"
assert_exit import-skopeo 0 skopeo inspect "oci:$I2KIT_CACHE:$B/busybox:latest"
printf 'not a tar' >"$W/garbage.tar"
assert_exit import-garbage 1 "$I2KIT" cache import "$W/garbage.tar"
assert_contains import-garbage-msg "$T_OUT" "i2kit: error: "

# ---- "-" is stdout for export and stdin for import ------------------------------------
SRC=$I2KIT_CACHE
fresh_cache
rc=0
I2KIT_CACHE=$SRC "$I2KIT" cache export - "$B/web:latest" 2>"$W/pipe-exp.err" |
	"$I2KIT" cache import - >"$W/pipe-imp.out" 2>"$W/pipe-imp.err" || rc=$?
assert_eq export-import-pipe 0 "$rc"
assert_contains export-to-stdout-msg "$(cat "$W/pipe-exp.err")" "exported 1 image to stdout"
assert_contains import-from-stdin-msg "$(cat "$W/pipe-imp.err")" "imported 1 image from stdin"
assert_contains import-from-stdin-refs "$(cat "$W/pipe-imp.out")" "$B/web:latest"
assert_eq import-from-stdin-verified 0 "$(verify_cache "$I2KIT_CACHE")"
assert_exit verb-help 0 "$I2KIT" cache export --help
assert_contains verb-help-text "$T_OUT" "Usage: i2kit cache [OPTIONS] export FILE|- REF..."

# ---- rm + gc, clean ----------------------------------------------------------------------
I2KIT_CACHE=$OLD
I2KIT_CACHE=$OLD
kernel_layers=$(skopeo inspect --raw "oci:$OLD:$B/kernel:6.1" | /usr/bin/python3 -c '
import json, sys; print(" ".join(l["digest"].split(":")[1] for l in json.load(sys.stdin)["layers"]))')
assert_exit rm 0 "$I2KIT" cache rm "$B/kernel:6.1"
assert_contains rm-msg "$T_OUT" "removed $B/kernel:6.1"
assert_eq rm-ref-gone 0 "$(ref_count "$OLD" "$B/kernel:6.1")"
gone=yes
for d in $kernel_layers; do [ -e "$OLD/blobs/sha256/$d" ] && gone=no; done
assert_eq rm-gc-deleted-layers yes "$gone"
assert_exit rm-others-intact 0 skopeo inspect "oci:$OLD:$B/web:latest"
assert_exit rm-others-offline 0 "$I2KIT" cache pull --offline "$B/web:latest" "$B/busybox:latest"
assert_exit rm-missing 1 "$I2KIT" cache rm "$B/kernel:6.1"
assert_contains rm-missing-msg "$T_OUT" "not in the cache"
assert_exit clean 0 "$I2KIT" cache clean
assert_exit clean-ls 0 "$I2KIT" cache ls --json
assert_eq clean-empty "[]" "$(printf '%s' "$T_OUT" | tr -d ' \n')"
assert_eq clean-no-blobs 0 "$(find "$OLD/blobs" -type f | wc -l)"
assert_exit clean-offline-miss 1 "$I2KIT" cache pull --offline "$B/web:latest"

# ---- --cache DIR and $I2KIT_CACHE -----------------------------------------------------------
D=$W/explicit
assert_exit cache-option 0 "$I2KIT" cache --cache "$D" pull "$B/busybox:latest"
assert_eq cache-option-used 1 "$(ref_count "$D" "$B/busybox:latest")"

# ---- two concurrent pulls into one cache ---------------------------------------------------
fresh_cache
refs=("$B/big:latest" "$B/layers:latest" "$B/busybox:latest" "$B/kernel:6.1")
"$I2KIT" cache pull "${refs[@]}" >"$W/c1" 2>&1 &
p1=$!
"$I2KIT" cache pull "${refs[@]}" >"$W/c2" 2>&1 &
p2=$!
r1=0 r2=0
wait $p1 || r1=$?
wait $p2 || r2=$?
assert_eq concurrent-1 0 "$r1"
assert_eq concurrent-2 0 "$r2"
[ "$r1" = 0 ] || cat "$W/c1" >&2
[ "$r2" = 0 ] || cat "$W/c2" >&2
assert_eq concurrent-verified 0 "$(verify_cache "$I2KIT_CACHE")"
dups=
for r in "${refs[@]}"; do [ "$(ref_count "$I2KIT_CACHE" "$r")" = 1 ] || dups="$dups $r"; done
assert_eq concurrent-one-entry-per-ref "" "$dups"
assert_eq concurrent-no-partials 0 "$(ls -a "$I2KIT_CACHE/blobs/sha256/" | grep -c '^\.partial-' || true)"
assert_exit concurrent-skopeo 0 skopeo inspect "oci:$I2KIT_CACHE:$B/big:latest"
assert_exit concurrent-umoci 0 umoci ls --layout "$I2KIT_CACHE"
assert_exit concurrent-cache-verify 0 "$I2KIT" cache verify

# ---- cache clean / rm racing builds: a build in progress never fails -------------------------
# (builds hold a shared lock on DIR/.users; clean and gc wait for it)
cat >"$W/race.yml" <<YML
init:
  - $B/busybox:latest
services:
  - name: web
    image: $B/web:latest
  - name: layers
    image: $B/layers:latest
YML
fresh_cache
bad=
for i in 1 2 3 4 5 6 7 8 9 10; do
	"$I2KIT" cache pull "$B/busybox:latest" "$B/web:latest" "$B/layers:latest" >/dev/null 2>&1
	"$I2KIT" build --format tar --dir "$W/race" --name r$i "$W/race.yml" >"$W/race$i.log" 2>&1 &
	bpid=$!
	sleep "$(awk -v i="$i" 'BEGIN { print 0.05 * (i % 5) }')"
	if [ $((i % 2)) = 0 ]; then
		"$I2KIT" cache clean >/dev/null 2>&1 || bad="$bad [clean $i failed]"
	else
		"$I2KIT" cache rm "$B/web:latest" >/dev/null 2>&1 || bad="$bad [rm $i failed]"
	fi
	rc=0
	wait "$bpid" || rc=$?
	[ "$rc" = 0 ] || bad="$bad [build $i: exit $rc: $(tail -1 "$W/race$i.log")]"
done
assert_eq race-clean-rm-builds-ok "" "$bad"
assert_exit race-cache-verify 0 "$I2KIT" cache verify

# ---- cache verify finds corruption; --repair drops it ----------------------------------------
fresh_cache
assert_exit verify-warm 0 "$I2KIT" cache pull "$B/busybox:latest" "$B/web:latest"
assert_exit verify-clean 0 "$I2KIT" cache verify
web_layer=$(skopeo inspect --raw "oci:$I2KIT_CACHE:$B/web:latest" | /usr/bin/python3 -c '
import json, sys; print(json.load(sys.stdin)["layers"][-1]["digest"].split(":")[1])')
printf 'x' >>"$I2KIT_CACHE/blobs/sha256/$web_layer"
printf 'junk' >"$I2KIT_CACHE/blobs/sha256/.partial-$web_layer"
assert_exit verify-finds 1 "$I2KIT" cache verify
assert_contains verify-finds-blob "$T_OUT" "blob sha256:$web_layer: content has digest"
assert_contains verify-finds-ref "$T_OUT" "$B/web:latest"
assert_contains verify-finds-partial "$T_OUT" ".partial-$web_layer: partial download of a blob already in the cache"
assert_contains verify-error "$T_OUT" "i2kit: error: cache $I2KIT_CACHE: 3 problems (run \`i2kit cache verify --repair\`)"
assert_exit verify-repair 0 "$I2KIT" cache verify --repair
assert_contains verify-repair-removed "$T_OUT" "(removed)"
assert_exit verify-after-repair 0 "$I2KIT" cache verify
assert_eq verify-web-ref-dropped 0 "$(ref_count "$I2KIT_CACHE" "$B/web:latest")"
assert_eq verify-busybox-kept 1 "$(ref_count "$I2KIT_CACHE" "$B/busybox:latest")"
assert_exit verify-repulled 0 "$I2KIT" cache pull "$B/web:latest"
assert_exit verify-final 0 "$I2KIT" cache verify
assert_exit verify-repair-only-for-verify 2 "$I2KIT" cache ls --repair
# ---- unpacked layers: layers of 64 KiB or more and kernel.tar kept decompressed ------------------------
# The first build keeps them (and the gzip initrd's blocks); a rebuild
# replays them (no inflation, blocks reused) and writes the same bytes as a
# build whose cache has none; rm, clean and verify see them.
fresh_cache
cat >"$W/kernel.yml" <<YML
kernel:
  image: $B/kernel:6.1
  cmdline: "console=ttyS0"
  modules: auto
init:
  - $REG_PLAIN/i2kit/init:$I2K_VERSION
onboot:
  - name: hello
    image: $B/busybox:latest
    command: ["/bin/echo", "hi"]
YML
export SOURCE_DATE_EPOCH=1700000000
assert_exit unpacked-first 0 "$I2KIT" build --name k --dir "$W/u1" --format kernel+initrd --format tar "$W/kernel.yml"
# the kernel's layer, its kernel.tar, busybox's layer, init's layer
assert_eq unpacked-kept 4 "$(find "$I2KIT_CACHE/unpacked" -name '*.index' | wc -l)"
assert_exit unpacked-ls 0 "$I2KIT" cache ls
assert_contains unpacked-ls-line "$T_OUT" "unpacked: 4 layers kept decompressed"
assert_contains blocks-ls-line "$T_OUT" "initrd blocks kept for rebuilds"
# the blocks one build stores are one pack file (initrd/blockmemo.h)
assert_eq blocks-one-pack 1 "$(find "$I2KIT_CACHE/compressed" -type f | wc -l)"
assert_eq blocks-pack-name 1 "$(find "$I2KIT_CACHE/compressed" -type f | grep -cE '/[0-9a-f]{64}\.pack$')"
assert_exit unpacked-verify 0 "$I2KIT" cache verify
assert_exit unpacked-second 0 "$I2KIT" build -v --offline --name k --dir "$W/u2" --format kernel+initrd --format tar "$W/kernel.yml"
for f in k-kernel k-initrd.img k.tar; do
	assert_exit "unpacked-same-$f" 0 cmp "$W/u1/$f" "$W/u2/$f"
done
# every block reused: no second pack
assert_eq blocks-still-one-pack 1 "$(find "$I2KIT_CACHE/compressed" -type f | wc -l)"
# a damaged entry is a miss (rebuilt), never a wrong output
# (the biggest: one of the kernel image's two entries)
data=$(ls -S "$I2KIT_CACHE"/unpacked/*.data | head -1)
truncate -s -1 "$data"
assert_exit unpacked-truncated-build 0 "$I2KIT" build --offline --name k --dir "$W/u3" --format kernel+initrd --format tar "$W/kernel.yml"
assert_exit unpacked-truncated-same 0 cmp "$W/u1/k.tar" "$W/u3/k.tar"
assert_exit unpacked-rebuilt-verify 0 "$I2KIT" cache verify
printf 'X' | dd of="$data" bs=1 seek=100 conv=notrunc 2>/dev/null
assert_exit unpacked-verify-finds 1 "$I2KIT" cache verify
assert_contains unpacked-verify-msg "$T_OUT" "its data does not match its digest"
assert_exit unpacked-verify-repair 0 "$I2KIT" cache verify --repair
assert_eq unpacked-repair-dropped 3 "$(find "$I2KIT_CACHE/unpacked" -name '*.index' | wc -l)"
assert_exit unpacked-rm 0 "$I2KIT" cache rm "$B/kernel:6.1"
# busybox's and init's entries stay with their images
assert_eq unpacked-rm-dropped 2 "$(find "$I2KIT_CACHE/unpacked" -name '*.index' | wc -l)"
assert_eq unpacked-rm-dropped-data 2 "$(find "$I2KIT_CACHE/unpacked" -name '*.data' | wc -l)"
assert_exit unpacked-third 0 "$I2KIT" build --name k --dir "$W/u4" --format kernel+initrd --format tar "$W/kernel.yml"
assert_exit unpacked-clean 0 "$I2KIT" cache clean
assert_eq unpacked-clean-dropped 0 "$(find "$I2KIT_CACHE" -path '*unpacked*' | wc -l)"
assert_eq blocks-clean-dropped 0 "$(find "$I2KIT_CACHE" -path '*compressed*' | wc -l)"
unset SOURCE_DATE_EPOCH
t_done
