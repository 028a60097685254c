#!/bin/bash
# 45-cli-habits.sh — habits users bring from docker/linuxkit, checked without
# a registry: every subcommand and cache verb has --help (exit 0, stdout);
# build --dry-run prints the merged YAML (and it validates again); -f and
# --format a,b (each name checked before any work); export - refuses a
# terminal; run qemu --help documents the console keys.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
W=$(t_tmpdir)

for c in build validate cache run version; do
	assert_exit "help-$c" 0 "$I2KIT" $c --help
	assert_contains "help-$c-usage" "$T_OUT" "Usage: i2kit $c"
done
for v in ls pull rm clean export import; do
	assert_exit "help-cache-$v" 0 "$I2KIT" cache $v --help
	assert_contains "help-cache-$v-usage" "$T_OUT" "Usage: i2kit cache [OPTIONS] $v"
done
assert_contains help-run-console-keys "$("$I2KIT" run qemu --help)" "Ctrl-A x stops the VM"

cat >"$W/a.yml" <<'Y'
kernel:
  image: example.test/kernel:1
  cmdline: console=ttyS0
init:
  - example.test/init:1
onboot:
  - name: one
    image: example.test/busybox:1
    command: ["/bin/true"]
Y
cat >"$W/b.yml" <<'Y'
services:
  - name: web
    image: example.test/web:1
Y
rc=0
"$I2KIT" build --dry-run --offline "$W/a.yml" "$W/b.yml" >"$W/merged.yml" 2>"$W/dry.err" || rc=$?
assert_eq dry-run-exit-0 0 "$rc"
merged=$(cat "$W/merged.yml")
assert_contains dry-run-first-file "$merged" "image: example.test/busybox:1"
assert_contains dry-run-second-file "$merged" "image: example.test/web:1"
assert_eq dry-run-writes-nothing "" "$(ls "$W" | grep -v '\.yml$\|dry.err' || true)"
assert_exit dry-run-output-validates 0 "$I2KIT" validate "$W/merged.yml"
assert_exit format-list-ok 0 "$I2KIT" build --dry-run -f tar,kernel+initrd --format=raw-bios "$W/a.yml"
assert_exit format-list-bad 2 "$I2KIT" build -f tar,nosuch "$W/a.yml"
assert_contains format-list-bad-msg "$T_OUT" 'unknown output format "nosuch"'
# options after the files too, and before the subcommand
assert_exit options-after-files 0 "$I2KIT" build "$W/a.yml" --dry-run -f tar
assert_exit options-before-subcommand 0 "$I2KIT" --offline -f tar build --dry-run "$W/a.yml"
assert_contains options-before-subcommand-output "$T_OUT" "image: example.test/busybox:1"
assert_exit options-before-cache-verb 0 "$I2KIT" --cache "$W/c2" cache ls
assert_exit unknown-leading-option 2 "$I2KIT" --bogus

# export - onto a terminal is refused (script(1) gives it one)
rc=0
script -q -e -c "'$I2KIT' cache --cache '$W/cache' export - example.test/x:1" "$W/ts" >/dev/null || rc=$?
assert_ne export-dash-tty-fails 0 "$rc"
assert_contains export-dash-tty-msg "$(cat "$W/ts")" "export -: refusing to write an archive to a terminal"

# ---- missing boot loader files are reported before anything is fetched -----------------
# (the images live at a closed port: fetching first would be a network error)
sed 's#example.test/#127.0.0.1:9/#' "$W/a.yml" >"$W/net.yml"
assert_exit missing-stub-first 1 env I2KIT_EFI_STUB="$W/no/stub.efi" "$I2KIT" build \
	--cache "$W/cache" --dir "$W/out" -f raw-efi "$W/net.yml"
assert_contains missing-stub-msg "$T_OUT" "EFI stub $W/no/stub.efi (install systemd-boot-efi or set \$I2KIT_EFI_STUB)"
assert_eq missing-stub-path-once 1 "$(printf '%s' "$T_OUT" | grep -o "$W/no/stub.efi" | wc -l)"
assert_exit missing-isolinux-first 1 env I2KIT_ISOLINUX_DIR="$W/no" "$I2KIT" build \
	--cache "$W/cache" --dir "$W/out" -f raw-bios "$W/net.yml"
assert_contains missing-isolinux-msg "$T_OUT" "$W/no/isolinux.bin (install isolinux or set \$I2KIT_ISOLINUX_DIR)"
assert_eq nothing-written "no" "$([ -e "$W/out" ] && echo yes || echo no)"

# ---- --json: an error is one JSON object on stderr ------------------------------------
rc=0
"$I2KIT" build --json --offline --cache "$W/cache" "$W/a.yml" >"$W/j.out" 2>"$W/j.err" || rc=$?
assert_eq json-error-exit 1 "$rc"
assert_eq json-error-object 'offline 1 True' "$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; print(e["category"], e["exit_code"], "not in the cache" in e["message"])' "$W/j.err" 2>&1)"
assert_eq json-error-stdout-empty "" "$(cat "$W/j.out")"
rc=0
"$I2KIT" build --json -f nosuch "$W/a.yml" 2>"$W/j2.err" || rc=$?
assert_eq json-usage-exit 2 "$rc"
assert_eq json-usage-object 'usage 2' "$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["error"]; print(e["category"], e["exit_code"])' "$W/j2.err" 2>&1)"
t_done
