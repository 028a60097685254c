#!/bin/bash
# 48-run-pvh.sh — `i2kit run qemu` boots a kernel+initrd build through the
# kernel's PVH entry (provision/pvh.h): the web example (fixture kernel with
# CONFIG_PVH, i2kit's init, busybox httpd) serves through --publish with the
# vmlinux extracted into $I2KIT_CACHE/pvh/ on the first run and taken from
# there on the second; the console shows no real-mode setup ("Probing EDD",
# printed by the bzImage's setup code only); --no-pvh boots the bzImage and
# serves too, and so does --uefi (OVMF takes the bzImage); a damaged cached
# ELF is replaced, never booted; with 128 MB or more the initrd goes to
# QEMU decompressed (provision/rawinitrd.h), with less as it is. TCG, generous
# timeouts (a boot takes 3-5 s on an idle machine).
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
W=$(t_tmpdir)

"$I2KIT" cache import "$REPO/build/init/i2kit-init-$I2K_VERSION.tar" >/dev/null 2>&1
sed "s|fixtures/|$REG_PLAIN/fixtures/|; s|i2kit/init:0.1.0|i2kit/init:$I2K_VERSION|" \
	"$REPO/examples/web.yml" >"$W/web.yml"
assert_exit web-build 0 "$I2KIT" build --dir "$W/b" --name web --format kernel+initrd "$W/web.yml"

# serve NAME ARGS... — boots $W/b/web with ARGS, GETs the page, stops the VM
# (Ctrl-C); stderr in $W/NAME.err, console in $W/NAME.con
serve() {
	local name=$1 port page
	shift
	port=$(free_port)
	bg_start "$W/$name.err" "$I2KIT" run qemu --accel tcg --publish "$port:80" --timeout 150 \
		--state "$W/st-$name" --console-file "$W/$name.con" "$@" "$W/b/web"
	page=$(fetch_published "http://127.0.0.1:$port/" 120 "$BG_PID" || true)
	assert_contains "$name-serves" "$page" "i2kit fixture web page"
	kill -INT "$BG_PID" 2>/dev/null || true
	bg_wait "$BG_PID" 60
	assert_eq "$name-stopped" 0 "$BG_RC"
}

# ---- first run: extracted into the cache, booted through PVH ------------------------
serve pvh1 -v --mem 512
assert_contains pvh1-extracted "$(cat "$W/pvh1.err")" "i2kit: qemu: kernel: PVH entry of $I2KIT_CACHE/pvh/"
assert_contains pvh1-extracted-now "$(cat "$W/pvh1.err")" ".elf (extracted now)"
# the firmware is qboot (qemu.h: i2k_qemu_qboot), not SeaBIOS
assert_contains pvh1-qboot "$(cat "$W/pvh1.err")" "i2kit: qemu: firmware: qboot ("
assert_not_contains pvh1-no-seabios "$(cat "$W/pvh1.con")" "SeaBIOS"
assert_not_contains pvh1-no-setup-code "$(cat "$W/pvh1.con")" "Probing EDD"
assert_contains pvh1-kernel-ran "$(cat "$W/pvh1.con")" "i2kit-init"
# what run adds to the command line under TCG (qemu.h) costs the kernel no
# warning: pci=noacpi, for one, made it print a WARNING with a stack trace
assert_contains pvh1-tcg-cmdline "$(cat "$W/pvh1.con")" "cryptomgr.notests initcall_blacklist=crypto_kdf108_init no_timer_check initcall_blacklist=tracer_init_tracefs initcall_blacklist=ftrace_check_for_weak_functions cgroup.memory=nokmem nolapic_timer noreplace-smp"
assert_not_contains pvh1-no-kernel-warning "$(cat "$W/pvh1.con")" "Call Trace"
# ... and the kernel knows every word (a misspelt one is "passed to user
# space")
assert_not_contains pvh1-words-known "$(cat "$W/pvh1.con")" "Unknown kernel command line"
elf=$(ls "$I2KIT_CACHE"/pvh/*.elf 2>/dev/null || true)
assert_eq pvh-one-elf 1 "$(echo "$elf" | grep -c '\.elf$' || true)"
# the ELF is the kernel's vmlinux, keyed by the bzImage's content
want=$(sha256sum "$W/b/web-kernel" | cut -d' ' -f1)
assert_eq pvh-keyed-by-content "$I2KIT_CACHE/pvh/$want.elf" "$elf"
assert_contains pvh-is-elf "$(head -c 4 "$elf" | od -An -c | tr -d ' ')" "177ELF"
elfsum=$(sha256sum "$elf" | cut -d' ' -f1)
# the initrd went to QEMU decompressed, the very bytes gzip gets out of it,
# and the copy is gone once the VM is
gz_bytes=$(stat -c %s "$W/b/web-initrd.img")
raw_bytes=$(gzip -dc "$W/b/web-initrd.img" | wc -c)
assert_contains pvh1-initrd-raw "$(cat "$W/pvh1.err")" \
	"i2kit: qemu: initrd: decompressed for the guest (gzip, $gz_bytes -> $raw_bytes bytes): $W/st-pvh1/initrd.cpio"
assert_eq pvh1-initrd-raw-removed no "$([ -e "$W/st-pvh1/initrd.cpio" ] && echo yes || echo no)"

# ---- second run: from the cache ----------------------------------------------------
# tracefs not populated (qemu.h): 76 MB serves now; before, 78 MB was the least
serve pvh2 -v --mem 76
assert_contains pvh2-cached "$(cat "$W/pvh2.err")" "$want.elf (cached)"
# below 128 MB the guest's memory counts more than its inflate time
assert_not_contains pvh2-initrd-as-is "$(cat "$W/pvh2.err")" "initrd: decompressed"

# ---- --no-pvh: the bzImage, with its setup code -----------------------------------
serve bz -v --no-pvh --mem 512
assert_contains bz-says-so "$(cat "$W/bz.err")" "i2kit: qemu: kernel: bzImage (--no-pvh)"
assert_contains bz-setup-code "$(cat "$W/bz.con")" "Probing EDD"

# ---- --uefi: OVMF loads bzImages only, so the bzImage boots ----------------------
serve uefi -v --uefi --mem 512
assert_contains uefi-bzimage "$(cat "$W/uefi.err")" "i2kit: qemu: kernel: bzImage (UEFI firmware)"
assert_contains uefi-ovmf-trimmed "$(cat "$W/uefi.err")" "trimmed (no TPM probe, no network stack, no shell): $I2KIT_CACHE/ovmf/"
# a kernel+initrd takes its words on -append: no variable store of its own
assert_not_contains uefi-no-boot-entry "$(cat "$W/uefi.err")" "boot entry"

# ---- a damaged cached ELF is extracted again, not booted ------------------------------
truncate -s 1M "$elf"
serve damaged -v --mem 512
assert_contains damaged-reextracted "$(cat "$W/damaged.err")" "$want.elf (extracted now)"
assert_eq damaged-whole "$elfsum" "$(sha256sum "$elf" | cut -d' ' -f1)"

# ---- cache ls shows the extracted kernels; clean drops them -------------------------
ls_out=$("$I2KIT" cache ls 2>&1)
assert_eq cache-ls-pvh 1 "$(echo "$ls_out" | grep -cE '^pvh: 1 kernel extracted for `run qemu`, [0-9]+\.[0-9] MiB \(dropped by clean\)$' || true)"
# the size shown is the directory's disk use: the ELF's, to 0.1 MiB
shown=$(echo "$ls_out" | sed -n 's/^pvh: .*, \([0-9.]*\) MiB.*/\1/p')
assert_eq cache-ls-pvh-size ok "$(awk -v s="$shown" -v b="$(stat -c %s "$elf")" \
	'BEGIN { d = s - b / 1048576; print (d >= -0.06 && d <= 0.11) ? "ok" : s " MiB for " b " bytes" }')"
assert_eq cache-ls-ovmf 1 "$(echo "$ls_out" | grep -cE '^ovmf: 1 UEFI firmware copy trimmed for `run qemu`, 3\.5 MiB \(dropped by clean\)$' || true)"
"$I2KIT" cache clean >/dev/null 2>&1
assert_eq cache-clean-pvh "" "$(ls -A "$I2KIT_CACHE/pvh" 2>/dev/null || true)"
assert_eq cache-clean-ovmf "" "$(ls -A "$I2KIT_CACHE/ovmf" 2>/dev/null || true)"
after=$("$I2KIT" cache ls 2>&1)
assert_not_contains cache-ls-after-clean "$after" "pvh:"
assert_not_contains cache-ls-after-clean-ovmf "$after" "ovmf:"

assert_eq no-qemu-left "" "$(pgrep -f "$W/b/web" || true)"
t_done
