#!/bin/bash
# 30-build.sh — `i2kit build` end to end against the local registry:
# the tar output compared entry by entry with the expected listing of the
# multi-layer fixture (whiteouts applied, modes, owners, links, xattrs),
# LinuxKit's root layout (kernel, modules, bundles, files), kernel+initrd
# byte-identical across builds, offline rebuild, concurrent builds on one
# cache, and errors that leave no output behind.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
TARLIST=$REPO/tests/integration/tools/tarlist.py
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)
KVER=$(ls /lib/modules | head -1)

cat >"$W/root.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0 quiet"
init:
  - $REG_PLAIN/fixtures/busybox:latest
onboot:
  - name: hello
    image: $REG_PLAIN/fixtures/busybox:latest
    command: ["/bin/echo", "hi"]
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    readonly: true
  - name: layers
    image: $REG_PLAIN/fixtures/layers:latest
  - name: rw
    image: $REG_PLAIN/fixtures/busybox:latest
    readonly: false
files:
  - path: etc/greeting
    contents: "hello\n"
  - path: /var/lib/app/dir
    directory: true
    mode: "0750"
  - path: etc/link
    symlink: /etc/greeting
  - path: etc/linuxkit.yml
    metadata: yaml
  # busybox as init: provides no /init, which a root with a kernel needs
  - path: init
    contents: "#!/bin/sh\nexec /bin/sh\n"
    mode: "0755"
YML

# ---- tar output ---------------------------------------------------------
assert_exit build-tar 0 "$I2KIT" build --format tar --dir "$W/out1" --name root "$W/root.yml"
assert_contains build-stage-assembled "$T_OUT" "root assembled from 4 images in "
assert_contains build-stage-written "$T_OUT" "1 file written in "
assert_contains build-wrote-size "$T_OUT" "wrote $W/out1/root.tar (tar, "
assert_file tar-written "$W/out1/root.tar"

# ---- -o - : the tar on stdout, byte-identical to the file; -o FILE ----------------------
mkdir -p "$W/otmp"
rc=0
TMPDIR=$W/otmp "$I2KIT" build -f tar -o - "$W/root.yml" >"$W/stdout.tar" 2>"$W/o.err" || rc=$?
assert_eq build-o-dash-exit 0 "$rc"
assert_eq build-o-dash-same-bytes "$(sha256sum <"$W/out1/root.tar")" "$(sha256sum <"$W/stdout.tar")"
assert_contains build-o-dash-msg "$(cat "$W/o.err")" "wrote stdout (tar, "
assert_exit build-o-file 0 env TMPDIR="$W/otmp" "$I2KIT" build -f tar -o "$W/named.tar" "$W/root.yml"
assert_eq build-o-file-same-bytes "$(sha256sum <"$W/out1/root.tar")" "$(sha256sum <"$W/named.tar")"
assert_eq build-o-no-temp-left "" "$(ls -A "$W/otmp")"
assert_exit build-o-needs-one-file-format 2 "$I2KIT" build -f kernel+initrd -o - "$W/root.yml"

# ---- --json: each file with its format, every image with its digest (provenance) ----
rc=0
"$I2KIT" build --json --format tar --dir "$W/outj" --name root "$W/root.yml" >"$W/j.json" 2>"$W/j.err" || rc=$?
assert_eq build-json-exit 0 "$rc"
assert_eq build-json-provenance "ok" "$(python3 - "$W/j.json" "$I2KIT_CACHE" "$REG_PLAIN" <<'PY' 2>&1
import json, os, re, sys
d = json.load(open(sys.argv[1]))
reg = sys.argv[3]
want = [reg + "/fixtures/" + n for n in ("kernel:6.1", "busybox:latest", "web:latest", "layers:latest")]
refs = [i["ref"] for i in d["images"]]
assert refs == want, refs
for i in d["images"]:
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", i["digest"]), i
    assert os.path.exists(sys.argv[2] + "/blobs/sha256/" + i["digest"][7:]), i
assert [f["format"] for f in d["files"]] == ["tar", "sbom"], d["files"]
print("ok")
PY
)"
python3 "$TARLIST" "$W/out1/root.tar" >"$W/all.list" || t_fail tarlist "could not list the tar"

# the layers fixture, flattened, is the (writable, so overlay) service's lower dir
python3 "$TARLIST" "$W/out1/root.tar" containers/services/layers/lower | LC_ALL=C sort >"$W/layers.got"
LC_ALL=C sort "$REPO/fixtures/expected/layers.list" >"$W/layers.want"
# LinuxKit's per-image fix-ups: etc/hostname excluded; dev/pts, dev/shm, proc,
# sys, etc/mtab, etc/hosts, etc/resolv.conf created when missing.
grep -v '^/etc/hostname ' "$W/layers.want" >"$W/layers.want2"
extra=$(LC_ALL=C comm -13 "$W/layers.want2" "$W/layers.got" | awk '{print $1}' | tr '\n' ' ')
missing=$(LC_ALL=C comm -23 "$W/layers.want2" "$W/layers.got" | head -20)
assert_eq layers-nothing-missing "" "$missing"
assert_eq layers-only-fixups-added "/dev/pts /dev/shm /etc/hosts /etc/mtab /etc/resolv.conf /proc /sys " "$extra"

# kernel, cmdline, modules
kline=$(grep '^/boot/kernel ' "$W/all.list" || true)
ksha=$(sha256sum /boot/vmlinuz-"$KVER" | cut -d' ' -f1)
assert_contains boot-kernel "$kline" "$ksha"
assert_contains boot-cmdline "$(tar -xOf "$W/out1/root.tar" boot/cmdline)" "console=ttyS0 quiet"
assert_contains modules-dep "$(grep "^/lib/modules/$KVER/modules.dep " "$W/all.list" || true)" " f 0644 "
# init flattened at /, resolv.conf pointing into /run
assert_contains init-busybox "$(grep '^/bin/busybox ' "$W/all.list" || true)" " f 0755 "
assert_contains init-resolv "$(grep '^/etc/resolv.conf ' "$W/all.list" || true)" " l 0777 0 0 /run/resolvconf/resolv.conf"
# bundles
cfg=$(tar -xOf "$W/out1/root.tar" containers/onboot/000-hello/config.json)
assert_contains onboot-args "$cfg" '"/bin/echo"'
rt=$(tar -xOf "$W/out1/root.tar" containers/services/rw/runtime.json)
# rw uses the busybox image already stored for onboot hello (LinuxKit's dupMap)
assert_contains rw-overlay "$rt" '"lowerdir=/containers/onboot/000-hello/lower"'
assert_contains rw-upper "$rt" '"upperdir=/containers/services/rw/tmp/upper"'
assert_contains rw-has-lower "$(grep '^/containers/onboot/000-hello/lower/bin/busybox ' "$W/all.list" || true)" "/bin/busybox"
assert_contains ro-bind "$(tar -xOf "$W/out1/root.tar" containers/services/web/runtime.json)" '"bind"'
# the same image used twice (onboot hello and the rw service) is stored once
n_busybox=$(grep -cE '^/containers/(onboot/000-hello|services/rw)/(lower|rootfs)/bin/busybox ' "$W/all.list" || true)
assert_eq image-stored-once 1 "$n_busybox"
# files:
assert_contains files-contents "$(grep '^/etc/greeting ' "$W/all.list")" "/etc/greeting f 0600 0 0 6 "
assert_contains files-dir "$(grep '^/var/lib/app/dir ' "$W/all.list")" " d 0750 0 0 -"
# missing parents get the entry's mode with x bits; existing ones are kept
assert_contains files-parent-mode "$(grep '^/var/lib/app ' "$W/all.list")" " d 0750 0 0 -"
assert_contains files-parent-kept "$(grep '^/etc ' "$W/all.list")" " d 0755 0 0 -"
assert_contains files-symlink "$(grep '^/etc/link ' "$W/all.list")" " l 0600 0 0 /etc/greeting"
assert_contains files-metadata "$(tar -xOf "$W/out1/root.tar" etc/linuxkit.yml)" "fixtures/web:latest"

# ---- kernel+initrd, reproducible ------------------------------------------
assert_exit build-kernel-initrd 0 "$I2KIT" build --dir "$W/k1" --name root "$W/root.yml"
assert_exit build-kernel-initrd-again 0 "$I2KIT" build --dir "$W/k2" --name root "$W/root.yml"
for f in root-kernel root-initrd.img root-cmdline; do
	assert_file "k-$f" "$W/k1/$f"
done
assert_eq initrd-reproducible "$(sha256sum <"$W/k1/root-initrd.img")" "$(sha256sum <"$W/k2/root-initrd.img")"
assert_eq kernel-is-vmlinuz "$ksha" "$(sha256sum <"$W/k1/root-kernel" | cut -d' ' -f1)"
assert_eq cmdline-file "console=ttyS0 quiet" "$(cat "$W/k1/root-cmdline")"
listing=$(zcat "$W/k1/root-initrd.img" | cpio -it 2>/dev/null || true)
assert_contains initrd-has-bundle "$listing" "containers/services/web/config.json"
assert_not_contains initrd-no-kernel "$listing" "boot/kernel"
assert_exit build-tar-reproducible 0 "$I2KIT" build --format tar --dir "$W/out2" --name root "$W/root.yml"
assert_eq tar-reproducible "$(sha256sum <"$W/out1/root.tar")" "$(sha256sum <"$W/out2/root.tar")"
assert_exit build-zstd 0 "$I2KIT" build --compress zstd --dir "$W/z" --name root "$W/root.yml"
assert_exit zstd-valid 0 zstd -t "$W/z/root-initrd.img"
assert_exit build-tki 0 "$I2KIT" build --format tar-kernel-initrd --dir "$W/tki" --name root "$W/root.yml"
assert_contains tki-content "$(tar -tf "$W/tki/root-initrd.tar" 2>&1)" "initrd.img"
assert_exit i2kit-build-alias 0 "$REPO/i2kit-build" --format tar --dir "$W/alias" --name root "$W/root.yml"
assert_eq alias-same-output "$(sha256sum <"$W/out1/root.tar")" "$(sha256sum <"$W/alias/root.tar")"

# ---- offline from the warm cache, registry stopped ---------------------------
bash "$REPO/fixtures/registry.sh" stop-one "$I2K_REG_STATE" plain >/dev/null 2>&1
on_exit "bash '$REPO/fixtures/registry.sh' start-one '$I2K_REG_STATE' plain"
assert_exit build-offline 0 "$I2KIT" build --offline --format tar --dir "$W/off" --name root "$W/root.yml"
assert_eq offline-same-output "$(sha256sum <"$W/out1/root.tar")" "$(sha256sum <"$W/off/root.tar" 2>/dev/null)"
bash "$REPO/fixtures/registry.sh" start-one "$I2K_REG_STATE" plain >/dev/null 2>&1

# ---- libcurl is loaded on first use (builder/base/curlload.h) ------------------
# an offline build never loads it; a pull does; one that cannot be loaded
# ends the command as the dynamic loader would (127, "error while loading")
LD_DEBUG=files "$I2KIT" build --offline --format tar --dir "$W/off2" --name root "$W/root.yml" >/dev/null 2>"$W/ld-off.err" || true
assert_file curl-offline-built "$W/off2/root.tar"
assert_not_contains curl-not-loaded-offline "$(cat "$W/ld-off.err")" "file=libcurl.so.4"
LD_DEBUG=files "$I2KIT" cache pull --pull "$REG_PLAIN/fixtures/busybox:latest" >/dev/null 2>"$W/ld-pull.err" || true
assert_contains curl-loaded-by-pull "$(cat "$W/ld-pull.err")" "file=libcurl.so.4"
# (awk reads to the end: an early exit would kill ldconfig with SIGPIPE,
# which pipefail and set -e turn into this script's end)
libcurl=$(ldconfig -p | awk '$1 == "libcurl.so.4" && /x86-64/ && !found {print $NF; found = 1}')
rc=0
unshare -m sh -c "mount --bind /dev/null '$libcurl' && exec '$I2KIT' cache pull --pull '$REG_PLAIN/fixtures/busybox:latest'" >/dev/null 2>"$W/nocurl.err" || rc=$?
assert_eq curl-missing-exit 127 "$rc"
assert_contains curl-missing-msg "$(cat "$W/nocurl.err")" "i2kit: error while loading shared libraries: "
assert_exit curl-missing-offline-still-builds 0 unshare -m sh -c "mount --bind /dev/null '$libcurl' && exec '$I2KIT' build --offline --format tar --dir '$W/off3' --name root '$W/root.yml'"

# ---- two concurrent builds on one empty cache --------------------------------
fresh_cache
"$I2KIT" build --format tar --dir "$W/c1" --name root "$W/root.yml" >"$W/c1.log" 2>&1 &
p1=$!
"$I2KIT" build --format tar --dir "$W/c2" --name root "$W/root.yml" >"$W/c2.log" 2>&1 &
p2=$!
r1=0 r2=0
wait $p1 || r1=$?
wait $p2 || r2=$?
assert_eq concurrent-builds-ok "0 0" "$r1 $r2"
assert_eq concurrent-same-output "$(sha256sum <"$W/out1/root.tar")" "$(sha256sum <"$W/c2/root.tar" 2>/dev/null)"
bad=0
for b in "$I2KIT_CACHE"/blobs/sha256/*; do
	[ "$(sha256sum <"$b" | cut -d' ' -f1)" = "$(basename "$b")" ] || bad=$((bad + 1))
done
assert_eq concurrent-cache-verifies 0 "$bad"
assert_exit concurrent-index-valid 0 python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$I2KIT_CACHE/index.json"

# ---- errors: one clear line, exit status, no output left ---------------------
printf 'kernel:\n  image: x\n  cmdlin: y\n' >"$W/bad.yml"
assert_exit unknown-key-exit 1 "$I2KIT" build --dir "$W/e1" "$W/bad.yml"
assert_contains unknown-key-pos "$T_OUT" "bad.yml:3:3"
assert_eq unknown-key-one-line 1 "$(printf '%s\n' "$T_OUT" | grep -c 'i2kit: error:')"
cat >"$W/missing.yml" <<YML
services:
  - name: nope
    image: $REG_PLAIN/fixtures/does-not-exist:latest
YML
assert_exit missing-image-exit 1 "$I2KIT" build --format tar --dir "$W/e2" "$W/missing.yml"
assert_contains missing-image-msg "$T_OUT" "does-not-exist"
assert_eq missing-image-no-output "" "$(ls -A "$W/e2" 2>/dev/null)"
cat >"$W/hostile.yml" <<YML
services:
  - name: evil
    image: $REG_PLAIN/fixtures/hostile:latest
YML
assert_exit hostile-exit 1 "$I2KIT" build --format tar --dir "$W/e3" "$W/hostile.yml"
assert_contains hostile-msg "$T_OUT" "escape"
assert_eq hostile-no-output "" "$(ls -A "$W/e3" 2>/dev/null)"
assert_exit bad-format-usage 2 "$I2KIT" build --format nope "$W/root.yml"
assert_exit no-file-usage 2 "$I2KIT" build
assert_exit offline-miss 1 "$I2KIT" build --offline --cache "$(t_tmpdir)" --dir "$W/e4" "$W/root.yml"
assert_contains offline-miss-msg "$T_OUT" "offline"

# ---- Ctrl-C while a layer is downloading: exit 130, nothing left behind ------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --stall 20 --times 5
cat >"$W/big.yml" <<YML
services:
  - name: big
    image: $FP_ADDR/fixtures/big:latest
YML
"$I2KIT" build --format tar --dir "$W/int" --name big "$W/big.yml" >"$W/int.log" 2>&1 &
pid=$!
sleep 1.5
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
assert_eq ctrl-c-exit 130 "$rc"
assert_contains ctrl-c-msg "$(cat "$W/int.log")" "i2kit: error: interrupted"
assert_eq ctrl-c-no-output "" "$(ls -A "$W/int" 2>/dev/null)"
assert_eq ctrl-c-no-ref "" "$("$I2KIT" cache ls 2>/dev/null | grep big || true)"
faultproxy_stop
t_done
