#!/bin/bash
# 44-run-console.sh — `i2kit run qemu` at a terminal, driven in tmux as a
# person would: the interactive serial console (type into the guest's shell,
# read the answer with capture-pane; Ctrl-C reaches the guest; Ctrl-A x
# stops the VM), the terminal restored (`stty -a` before/after) after
# Ctrl-A x, SIGTERM and a QEMU that dies; --data JSON expanded into
# /run/config by the guest init's metadata code; --disk size= created and
# attached; --detached; a guest that resets before its kernel prints (too
# little memory) is an error with a hint. Fixture kernel + a hand-made
# busybox initrd (TCG), no registry.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
W=$(t_tmpdir)

VMLINUZ=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | tail -1 || true)
KVER=${VMLINUZ#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER/kernel
missing=
[ -n "$VMLINUZ" ] && [ -d "$MODDIR" ] || missing="fixture kernel (linux-image-cloud-amd64)"
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || missing="$missing busybox-static"
for c in qemu-system-x86_64 musl-gcc cpio tmux; do
	command -v $c >/dev/null || missing="$missing $c"
done
if [ -n "$missing" ]; then
	t_skip_is_fail run-console-prereqs "missing: $missing"
	t_done
	exit 1
fi

R=$W/root
mkdir -p "$R/bin" "$R/lib/modules"
cp /bin/busybox "$R/bin/busybox"
MODS="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
drivers/firmware/qemu_fw_cfg"
for m in $MODS; do cp "$MODDIR/$m.ko" "$R/lib/modules/"; done
cat >"$W/metafetch.c" <<'C'
#include "metadata.h"
int main(void)
{
	i2ki_metadata_fetch();
	return 0;
}
C
musl-gcc -static -Os -std=gnu11 -D_GNU_SOURCE -I"$REPO/initrd/init" -o "$R/bin/metafetch" \
	"$W/metafetch.c" "$REPO/initrd/init/metadata.c" "$REPO/initrd/init/json.c" \
	"$REPO/initrd/init/log.c" "$REPO/initrd/init/util.c"
cat >"$R/init" <<'SH'
#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /run /tmp
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
$B mount -t tmpfs run /run
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk \
	qemu_fw_cfg; do
	$B insmod /lib/modules/$m.ko 2>/dev/null
done
/bin/metafetch 2>/dev/null
echo "UX-READY"
# a shell with the console as its controlling terminal (Ctrl-C works)
PS1='guest# ' $B sh -c "exec $B setsid -c $B sh"
$B poweroff -f
SH
chmod 755 "$R/init"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc 2>/dev/null) | gzip -1 >"$W/vm-initrd.img"
cp "$VMLINUZ" "$W/vm-kernel"
printf 'quiet\n' >"$W/vm-cmdline"

S=i2k-ux-$$
tmux -L "$S" new-session -d -s t -x 160 -y 50 "bash --norc --noprofile"
on_exit "tmux -L '$S' kill-server 2>/dev/null || true"
tx() { tmux -L "$S" send-keys -t t "$@"; }
screen() { tmux -L "$S" capture-pane -p -t t -S -200; }
wait_screen() { # PATTERN SECONDS: wait until the screen matches (grep -E)
	local i
	for ((i = 0; i < $2 * 2; i++)); do
		screen | grep -Eq "$1" && return 0
		sleep 0.5
	done
	return 1
}
# an empty screen and history, so that a wait_screen never matches what an
# earlier step left on it (a "guest#" prompt of the previous VM)
fresh_screen() {
	local i
	tx "clear" Enter
	for ((i = 0; i < 40; i++)); do
		tmux -L "$S" clear-history -t t
		screen | grep -q 'guest#' || return 0
		sleep 0.25
	done
	t_fail fresh-screen "the screen still shows an old prompt: $(screen | tail -3)"
}
# run CMD in the tmux shell with stty -a around it; EXIT=N afterwards
run_tty() { # TAG CMD
	fresh_screen
	tx "clear; stty -a >'$W/$1.before'; $2; echo EXIT-$1=\$?; stty -a >'$W/$1.after'" Enter
}
qemu_left() { pgrep -f "qemu-system.*$1" || true; }

# ---- 1: interactive console, metadata, created disk, Ctrl-C, Ctrl-A x ----------
run_tty a "'$I2KIT' run qemu --accel tcg --state '$W/sa' --disk size=64M \
--data '{\"greeting\":\"hi-there\",\"app\":{\"mode\":\"prod\"}}' '$W/vm'"
if wait_screen 'guest#' 240; then t_pass console-prompt; else t_fail console-prompt "$(screen | tail -20)"; fi
tx 'echo typed-$((6*7)); cat /run/config/greeting; echo; cat /run/config/app/mode; echo; ls /sys/block' Enter
if wait_screen 'typed-42' 60; then t_pass console-typed-answer; else t_fail console-typed-answer "$(screen | tail -20)"; fi
wait_screen 'vda' 20 || true
out=$(screen)
assert_contains metadata-json-file "$out" "hi-there"
assert_contains metadata-json-dir "$out" "prod"
assert_contains disk-attached "$out" "vda"
assert_eq disk-created-qcow2 yes "$([ -s "$W/sa/disk0.qcow2" ] && echo yes || echo no)"
# Ctrl-C goes to the guest's shell, not to i2kit
tx 'sleep 300' Enter
sleep 2
tx C-c
tx 'echo after-ctrl-c' Enter
if wait_screen '^after-ctrl-c' 60; then t_pass console-ctrl-c-to-guest; else t_fail console-ctrl-c-to-guest "$(screen | tail -10)"; fi
tx C-a x
if wait_screen 'EXIT-a=[0-9]' 60; then t_pass ctrl-a-x-stops; else t_fail ctrl-a-x-stops "$(screen | tail -10)"; fi
sleep 1
assert_contains ctrl-a-x-message "$(screen)" "i2kit: qemu: stopped (Ctrl-A x)"
assert_contains ctrl-a-x-exit-0 "$(screen)" "EXIT-a=0"
assert_contains disk-created-message "$(screen)" "i2kit: qemu: created $W/sa/disk0.qcow2"
assert_eq tty-restored-after-ctrl-a-x "$(cat "$W/a.before")" "$(cat "$W/a.after" 2>/dev/null)"
assert_eq no-qemu-left-a "" "$(qemu_left "$W/sa")"

# ---- 2: SIGTERM while the console is raw: powerdown, then kill; tty restored ----
run_tty b "I2KIT_RUN_GRACE=2 '$I2KIT' run qemu --accel tcg --state '$W/sb' '$W/vm'"
wait_screen 'guest#' 240 || t_fail sigterm-boot "$(screen | tail -10)"
pkill -TERM -f "i2kit run qemu --accel tcg --state $W/sb" || true
if wait_screen 'EXIT-b=[0-9]' 60; then t_pass sigterm-ends; else t_fail sigterm-ends "$(screen | tail -10)"; fi
sleep 1
assert_contains sigterm-exit-130 "$(screen)" "EXIT-b=130"
assert_eq tty-restored-after-sigterm "$(cat "$W/b.before")" "$(cat "$W/b.after" 2>/dev/null)"

# ---- 3: QEMU dies under the console (a crash): tty restored ----------------------
# (inside script(1), which records what reaches the terminal)
fresh_screen
tx "clear; script -q -e -c \"stty -a >'$W/c.before'; I2KIT_QBOOT=none '$I2KIT' run qemu --accel tcg --state '$W/sc' '$W/vm'; echo EXIT-c=\\\$?; stty -a >'$W/c.after'\" '$W/c.typescript'" Enter
wait_screen 'guest#' 240 || t_fail crash-boot "$(screen | tail -10)"
kill -KILL "$(cat "$W/sc/pid")"
if wait_screen 'EXIT-c=[0-9]' 60; then t_pass crash-ends; else t_fail crash-ends "$(screen | tail -10)"; fi
sleep 1
assert_contains crash-message "$(screen)" "QEMU was killed by signal 9"
assert_eq tty-restored-after-crash "$(cat "$W/c.before")" "$(cat "$W/c.after" 2>/dev/null)"
# line wrapping is back on after SeaBIOS turned it off (I2KIT_QBOOT=none above:
# qboot, the default firmware of a kernel+initrd boot, prints nothing)
assert_eq wrap-reenabled '[?7h' "$(grep -ao '\[?7[hl]' "$W/c.typescript" | tail -1)"
assert_contains seabios-had-disabled-wrap "$(grep -ao '\[?7[hl]' "$W/c.typescript" | head -1)" '[?7l'

# ---- 4: --detached ------------------------------------------------------------------
rc=0
"$I2KIT" run qemu --accel tcg --detached --state "$W/sd" "$W/vm" >"$W/od" 2>"$W/ed" || rc=$?
assert_eq detached-exit-0 0 "$rc"
pid=$(cut -d' ' -f1 "$W/od")
assert_eq detached-prints-pid-and-state "$(cat "$W/sd/pid" 2>/dev/null) $W/sd" "$(cat "$W/od")"
assert_eq detached-running yes "$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)"
assert_eq detached-qmp-socket yes "$([ -S "$W/sd/qmp.sock" ] && echo yes || echo no)"
for i in $(seq 1 240); do grep -q UX-READY "$W/sd/console.log" 2>/dev/null && break; sleep 1; done
assert_contains detached-console-log "$(cat "$W/sd/console.log")" "UX-READY"
kill "$pid" 2>/dev/null || true
for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
assert_eq detached-stopped "" "$(qemu_left "$W/sd")"

# ---- 5: too little memory: an error with a hint ------------------------------------
# The bzImage's decompressor resets the guest before the kernel prints; the
# kernel booted through PVH gets further and panics out of memory — with its
# tracefs and kernel memory accounting (--tracefs --cgroup-kmem): without
# them, this small guest gets to its shell in 64 MB.
assert_exit too-little-memory 1 "$I2KIT" run qemu --accel tcg --mem 64 --no-pvh --timeout 120 \
	--state "$W/se" "$W/vm"
assert_contains too-little-memory-hint "$T_OUT" \
	"the guest reset before its kernel printed anything (with 64 MB of memory: too little memory? try --mem 256 or more)"
assert_exit too-little-memory-pvh 1 "$I2KIT" run qemu --accel tcg --mem 64 --tracefs --cgroup-kmem \
	--timeout 120 \
	--state "$W/sf" "$W/vm"
assert_contains too-little-memory-pvh-hint "$T_OUT" \
	"(with 64 MB of memory: too little memory? try --mem 256 or more)"

t_done
