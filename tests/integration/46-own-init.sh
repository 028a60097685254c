#!/bin/bash
# 46-own-init.sh — the guest init ships with i2kit (builder/assemble/initimg.h):
#   * `make install` into an empty prefix, an empty HOME and an empty cache:
#     examples/web.yml (init: [i2kit/init:VERSION]) builds offline from the
#     fixture archives alone — no registry, no import of the init — and boots
#     to the web page; no init: at all and a bare i2kit/init work too
#   * LinuxKit's init list (linuxkit/init, runc, containerd + another image)
#     builds offline: the three are replaced by i2kit's init with one notice;
#     --keep-init keeps them (and so needs them: an offline cache miss)
#   * an init list that provides no /init is a build error saying so; an
#     i2kit/init tag other than the version is an error naming the version
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
boot_test_setup qemu-system-x86_64 curl skopeo

PREFIX=$W/prefix
mkdir -p "$PREFIX" "$W/home"
if make -s -C "$REPO" install PREFIX="$PREFIX" >"$W/install.log" 2>&1; then
	t_pass make-install
else
	t_fail make-install "$(tail -c 600 "$W/install.log")"
fi
assert_file installed-init-archive "$PREFIX/share/i2kit/i2kit-init-$I2K_VERSION.tar"
BIN=$PREFIX/bin/i2kit
# an empty HOME, no I2KIT_CACHE: the cache is HOME's
run_i2kit() { env -u I2KIT_CACHE -u I2KIT_INIT_ARCHIVE HOME="$W/home" "$BIN" "$@"; }

for ref in kernel:6.1 busybox:latest web:latest; do
	skopeo copy -q "oci:$I2K_OCI:$ref" "oci-archive:$W/${ref%%:*}.tar:docker.io/fixtures/$ref" 2>"$W/skopeo.log" ||
		t_fail "archive-$ref" "$(cat "$W/skopeo.log")"
	run_i2kit cache import "$W/${ref%%:*}.tar" >/dev/null 2>&1 || t_fail "import-$ref" "cache import failed"
done
case "$(run_i2kit cache ls 2>&1)" in
*i2kit/init*) t_fail cache-has-no-init "the init was imported before the build" ;;
*) t_pass cache-has-no-init ;;
esac

# ---- the example, installed program, offline --------------------------------
assert_exit example-build 0 run_i2kit build --offline --format kernel+initrd --dir "$W/ex" --name web "$REPO/examples/web.yml"
web_boot "$W/ex/web" "$W/ex.console" run_i2kit
assert_eq example-boots-to-web-page "i2kit fixture web page" "$PAGE"
web_boot_stop

# ---- variants of init: -----------------------------------------------------------
body='onboot:
  - name: hello
    image: fixtures/busybox:latest
    command: ["/bin/echo", "hello"]'
kernel='kernel:
  image: fixtures/kernel:6.1
  cmdline: "console=ttyS0"'
printf '%s\n%s\n' "$kernel" "$body" >"$W/noinit.yml"
printf '%s\ninit:\n  - i2kit/init\n%s\n' "$kernel" "$body" >"$W/bare.yml"
printf '%s\ninit:\n  - linuxkit/init:v1.2.0\n  - linuxkit/runc:v1.1.0\n  - linuxkit/containerd:v2.0.4\n  - fixtures/busybox:latest\n%s\n' \
	"$kernel" "$body" >"$W/lk.yml"
printf '%s\ninit:\n  - fixtures/busybox:latest\n%s\n' "$kernel" "$body" >"$W/noslashinit.yml"
printf '%s\ninit:\n  - i2kit/init:9.9.9\n%s\n' "$kernel" "$body" >"$W/badtag.yml"

inits() { tar -tf "$1" | grep -cx 'init' || true; }
assert_exit no-init-section-build 0 run_i2kit build --offline --format tar --dir "$W/o1" "$W/noinit.yml"
assert_eq no-init-section-has-init 1 "$(inits "$W/o1/noinit.tar")"
assert_exit bare-name-build 0 run_i2kit build --offline --format tar --dir "$W/o2" "$W/bare.yml"
assert_eq bare-name-same-root "$(sha256sum <"$W/o1/noinit.tar")" "$(sha256sum <"$W/o2/bare.tar")"

assert_exit linuxkit-init-replaced 0 run_i2kit build --offline --format tar --dir "$W/o3" "$W/lk.yml"
notice=$(printf '%s\n' "$T_OUT" | grep -c 'replaced by i2kit' || true)
assert_eq linuxkit-one-notice 1 "$notice"
assert_contains linuxkit-notice-names "$T_OUT" "linuxkit/init:v1.2.0, linuxkit/runc:v1.1.0, linuxkit/containerd:v2.0.4 replaced by i2kit's own init (i2kit/init:$I2K_VERSION)"
assert_eq linuxkit-root-has-init 1 "$(inits "$W/o3/lk.tar")"
assert_contains linuxkit-other-init-kept "$(tar -tf "$W/o3/lk.tar")" "bin/busybox"
assert_exit keep-init-pulls-them 1 run_i2kit build --offline --keep-init --format tar --dir "$W/o4" "$W/lk.yml"
assert_contains keep-init-names-image "$T_OUT" "linuxkit/init:v1.2.0: not in the cache and --offline was given"

assert_exit no-slash-init-refused 1 run_i2kit build --offline --format tar --dir "$W/o5" "$W/noslashinit.yml"
assert_contains no-slash-init-message "$T_OUT" "no image of the init list (fixtures/busybox:latest) provides /init"
assert_exit bad-tag-refused 1 run_i2kit build --offline --format tar --dir "$W/o6" "$W/badtag.yml"
assert_contains bad-tag-message "$T_OUT" "this i2kit ships its own init as i2kit/init:$I2K_VERSION"
t_done
