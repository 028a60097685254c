#!/bin/bash
# 24-progress.sh — the progress display of `i2kit build` (cli/progress.h):
# on a TTY (a pty from `script`) one live area with the image names, bytes,
# speed and the build stages, cut to the terminal's width and erased at the
# end; Ctrl-C and a failing pull erase it and print the error on its own
# line; to a pipe, during a registry that stalls for 9 s
# (fixtures/faultproxy.py), no escape codes, a line per finished step and a
# progress line at least once in the stall but never more than one per 5 s;
# -q prints nothing. (The pull-only cases — plain lines, -q, -v, a TTY
# pull — are in 23-cache.)
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
TTYLOG=$REPO/tests/integration/tools/ttylog.py
fixtures_ready
B=$REG_PLAIN/fixtures
W=$(t_tmpdir)
command -v script >/dev/null || t_fail tools-script "script (util-linux) not installed"

# the 64 MiB image through a proxy that stalls its layer after 8 MiB
stall_config() { # SECONDS FILE
	faultproxy_start "http://$REG_PLAIN" --stall "$1" --stall-after 8388608 --times 2
	cat >"$2" <<YML
kernel:
  image: $B/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $B/busybox:latest
services:
  - name: big
    image: $FP_ADDR/fixtures/big:latest
files:
  - path: init
    contents: "#!/bin/sh\nexec /bin/sh\n"
    mode: "0755"
YML
}

# ---- a TTY: the live area ------------------------------------------------------------
fresh_cache
stall_config 2 "$W/tty.yml"
rc=0
TERM=xterm timeout 300 script -qfec "stty cols 60; '$I2KIT' build --format kernel+initrd,tar --dir '$W/tty' '$W/tty.yml'" \
	"$W/tty.log" </dev/null >/dev/null || rc=$?
faultproxy_stop
assert_eq tty-build-exit 0 "$rc"
LOG=$(cat -v "$W/tty.log")
assert_contains tty-image-name "$LOG" "pull $FP_ADDR/fixtures/big:latest  "
assert_contains tty-bytes "$LOG" "/64.0 MiB"
assert_contains tty-speed "$LOG" " MiB/s"
assert_contains tty-eta "$LOG" "  ETA "
assert_contains tty-pulled "$LOG" "pulled  $FP_ADDR/fixtures/big:latest (64.0 MiB in "
assert_contains tty-unpacked "$LOG" "unpacked $B/kernel:6.1 ("
assert_contains tty-compress-live "$LOG" "compress initrd (gzip)  "
assert_contains tty-compressed "$LOG" "compressed initrd (gzip): "
assert_contains tty-written-kernel-initrd "$LOG" "written kernel+initrd ("
assert_contains tty-written-tar "$LOG" "written tar ("
assert_contains tty-redraw "$LOG" '^M^[[1A^[[J'
if tail=$("$T_PY" "$TTYLOG" area "$W/tty.log" 60 2>"$W/area.err"); then
	t_pass tty-area-width-and-clean-end
else
	t_fail tty-area-width-and-clean-end "$(cat "$W/area.err")"
fi
assert_contains tty-summary-last "$tail" "wrote $W/tty/tty.tar (tar, "

# ---- a TTY and Ctrl-C: the area erased, the error on its own line ---------------------
fresh_cache
stall_config 60 "$W/int.yml"
start=$SECONDS
rc=0
{
	wait_line "$W/int.log" "pull $FP_ADDR/fixtures/big:latest  " 60 || true
	sleep 1
	printf '\003' # the terminal's Ctrl-C: SIGINT to the build, "^C" echoed
	wait_line "$W/int.log" "Script done" 60 || true
} | TERM=xterm timeout 120 script -qfec "stty cols 80; '$I2KIT' build --format kernel+initrd --dir '$W/int' '$W/int.yml'" \
	"$W/int.log" >/dev/null || rc=$?
faultproxy_stop
assert_eq ctrl-c-exit 130 "$rc"
if [ $((SECONDS - start)) -lt 40 ]; then t_pass ctrl-c-did-not-wait-for-stall; else
	t_fail ctrl-c-did-not-wait-for-stall "took $((SECONDS - start)) s"; fi
assert_contains ctrl-c-area-was-drawn "$(cat -v "$W/int.log")" "pull $FP_ADDR/fixtures/big:latest  "
if tail=$("$T_PY" "$TTYLOG" area "$W/int.log" 80 2>"$W/area.err"); then
	t_pass ctrl-c-area-erased
else
	t_fail ctrl-c-area-erased "$(cat "$W/area.err")"
fi
# what is left below the erased area: the error alone, from column 0
assert_eq ctrl-c-error-own-line "i2kit: error: interrupted" "$(printf '%s' "$tail" | tr -d '\r' | head -1)"
assert_contains ctrl-c-echo-erased "$(cat -v "$W/int.log")" '^C^M^[['
[ -e "$W/int/int-initrd.img" ] && t_fail ctrl-c-no-output "initrd written" || t_pass ctrl-c-no-output

# ---- a TTY and an error (a corrupt blob): the area erased, the error on its own line -------
fresh_cache
faultproxy_start "http://$REG_PLAIN" --corrupt
cat >"$W/bad.yml" <<YML
services:
  - name: web
    image: $FP_ADDR/fixtures/web:latest
YML
rc=0
TERM=xterm timeout 120 script -qfec "stty cols 80; '$I2KIT' build --format tar --dir '$W/bad' '$W/bad.yml'" \
	"$W/bad.log" </dev/null >/dev/null || rc=$?
faultproxy_stop
assert_eq error-exit 1 "$rc"
if tail=$("$T_PY" "$TTYLOG" area "$W/bad.log" 80 2>"$W/area.err"); then
	t_pass error-area-erased
else
	t_fail error-area-erased "$(cat "$W/area.err")"
fi
assert_contains error-own-line "$(printf '%s' "$tail" | tr -d '\r' | head -1)" "i2kit: error: $FP_ADDR/fixtures/web:latest: blob sha256:"

# ---- a pipe during a 14 s stall: a line at least once in it, at most one per 5 s --------
# (kernel and busybox cached first: the stall starts right after the last line)
fresh_cache
assert_exit pipe-warm 0 "$I2KIT" cache pull "$B/kernel:6.1" "$B/busybox:latest"
stall_config 14 "$W/pipe.yml"
rc=0
set +o pipefail
{ "$I2KIT" build --format kernel+initrd --dir "$W/pipe" "$W/pipe.yml" 2>&1 >/dev/null || echo "exit $?"; } |
	"$T_PY" "$TTYLOG" stamp >"$W/pipe.log"
set -o pipefail
faultproxy_stop
assert_not_contains pipe-build-ok "$(cat "$W/pipe.log")" "exit "
assert_contains pipe-pulling "$(cat "$W/pipe.log")" "pulling $FP_ADDR/fixtures/big:latest"
stall_line=$(grep "pulling $FP_ADDR/fixtures/big:latest: " "$W/pipe.log" || true)
assert_contains pipe-stall-line "$stall_line" " of 64.0 MiB, no data for "
assert_contains pipe-pulled "$(cat "$W/pipe.log")" "pulled  $FP_ADDR/fixtures/big:latest (64.0 MiB in "
assert_contains pipe-compressed "$(cat "$W/pipe.log")" "compressed initrd (gzip): "
assert_contains pipe-written "$(cat "$W/pipe.log")" "written kernel+initrd ("
assert_not_contains pipe-no-escapes "$(cat "$W/pipe.log")" $'\x1b'
assert_not_contains pipe-no-cr "$(cat "$W/pipe.log")" $'\r'
if gaps=$("$T_PY" "$TTYLOG" gaps "$W/pipe.log" '^(pulling|unpacking|compressing|making|writing) [^ ]+: ' 4.8 2>&1); then
	t_pass pipe-at-most-one-per-5s
else
	t_fail pipe-at-most-one-per-5s "$gaps"
fi
# the stall (14 s: room for a loaded machine) gets a line 5 s after the last one
n=$(grep -c ", no data for " "$W/pipe.log" || true)
[ "$n" -ge 1 ] && t_pass pipe-line-in-the-stall || t_fail pipe-line-in-the-stall "$n lines"

# ---- -q: nothing at all, even in a stall --------------------------------------------------
fresh_cache
stall_config 6 "$W/quiet.yml"
rc=0
"$I2KIT" build -q --format kernel+initrd --dir "$W/quiet" "$W/quiet.yml" >/dev/null 2>"$W/quiet.err" || rc=$?
faultproxy_stop
assert_eq quiet-exit 0 "$rc"
assert_eq quiet-silent "" "$(cat "$W/quiet.err")"
t_done
