# tests/integration/lib/harness.sh - library sourced by i2kit's integration tests.
#
# CONVENTION
#   * A test is an executable bash script tests/integration/NN-name.sh:
#         #!/bin/bash
#         set -euo pipefail
#         . "$(dirname "$0")/lib/harness.sh"
#         fixtures_ready                       # fixtures built, registries up + seeded, env loaded
#         fresh_cache                          # $I2KIT_CACHE = a new empty dir
#         out=$("$I2KIT" cache pull "$REG_PLAIN/fixtures/busybox:latest" 2>&1) || true
#         assert_contains pull-busybox "$out" "sha256:"
#         t_done                               # exit 1 if any check failed
#   * It prints one line per check on stdout, exactly
#         PASS: NAME            or            FAIL: NAME: WHY
#     NAME is short, unique within the script, with no ': ' in it. Anything else it
#     prints is ignored by the counter (send noise to stderr anyway).
#   * A check that cannot run (missing tool, unsupported host) is a FAIL, never a
#     silent skip: use `t_skip_is_fail NAME WHY`.
#   * The top runner (tests/run.sh, `make test`) runs every NN-*.sh, counts the
#     PASS/FAIL lines, stops the registries at the end (`fixtures/registry.sh stop
#     $I2K_REG_STATE`) and prints `N passed, N failed`. A script should end with
#     t_done so that a non-zero exit always comes with at least one FAIL line.
#   * Registries are started and seeded once per run: fixtures_ready reuses
#     $I2K_REG_STATE when its env file exists and every service answers. Tests must
#     not stop the shared registries; a test that kills one (stop-one/start-one) must
#     restart it before it ends. Tests never leave processes behind: start helpers
#     here register their cleanup on EXIT.
#
# VARIABLES (all overridable from the environment)
#   REPO            repository root (derived from this file's location)
#   I2K_FIXTURES    fixture build dir           default $REPO/build/fixtures
#   I2K_OCI         the OCI layout              $I2K_FIXTURES/oci (set by fixtures_ready)
#   I2K_REG_STATE   registry state dir          default $REPO/build/registry
#   after reg_env:  REG_PLAIN REG_TLS REG_CA REG_CERT_DIR REG_USER REG_PASS REG_TOKEN
#                   TOKEN_URL TOKEN_USER TOKEN_PASS TOKEN_SERVICE REG_STATE and
#                   REG_PLAIN_PIDFILE REG_TLS_PIDFILE REG_TOKEN_PIDFILE TOKEN_PIDFILE
#   after fresh_cache: I2KIT_CACHE
#   after fixtures_ready: I2K_VERSION; the plain registry also holds
#                   i2kit/init:$I2K_VERSION (from build/init/, built by make)
#
# FUNCTIONS
#   fixtures_ready            build fixtures, start+seed registries (idempotent), reg_env
#   reg_env                   source $I2K_REG_STATE/env (exported)
#   reg_restart NAME          stop-one + start-one (plain|tls|token|tokensrv), same port
#   reg_stop                  stop all registries of $I2K_REG_STATE (runner's job)
#   t_pass NAME | t_fail NAME WHY | t_skip_is_fail NAME WHY | t_done
#   assert_eq NAME EXPECTED ACTUAL
#   assert_ne NAME UNEXPECTED ACTUAL
#   assert_contains NAME HAYSTACK NEEDLE | assert_not_contains NAME HAYSTACK NEEDLE
#   assert_file NAME PATH     (exists, regular, non-empty)
#   assert_exit NAME CODE CMD...   (runs CMD, checks its exit status; output in $T_OUT)
#   fresh_cache               new empty dir as $I2KIT_CACHE, removed on EXIT
#   t_tmpdir                  prints a new temp dir (all removed on EXIT)
#   faultproxy_start UPSTREAM_URL ARGS...   sets FP_PORT FP_ADDR FP_LOG FP_PID; killed on EXIT
#   faultproxy_stop
#   leftover_procs [SUBSTR..] lists live (non-zombie) registry/token/faultproxy processes
#   on_exit CMD...            register a cleanup command (run in reverse order on EXIT)
#   free_port                 prints a TCP port free on 127.0.0.1 (for --publish / hostfwd)
#   qemu_run LOG SECS ARGS..  QEMU (TCG, 512 MB, no display, no reboot) run to its end,
#                             killed after SECS; console in LOG; status in $QEMU_RC
#   qemu_start LOG SECS ARGS.. the same in the background: $QEMU_PID, killed on EXIT
#   bg_start LOG CMD...       any command in the background (e.g. i2kit run qemu): $BG_PID,
#                             output in LOG, killed on EXIT
#   bg_wait PID [SECS]        waits for a background PID (at most SECS, default forever);
#                             its exit status in $BG_RC ("timeout" if still running)
#   wait_line FILE TEXT SECS [PID]  waits until FILE holds the fixed string TEXT; gives up
#                             after SECS or when PID has ended; 0 when seen
#   fetch_published URL SECS [PID]  GETs URL (a --publish/hostfwd port) until it answers
#                             non-empty, every 0.5 s for SECS, or until PID ends; prints
#                             the body; 0 on success
#   cache_verify [DIR]        a cache ($I2KIT_CACHE) is a sound OCI layout: prints one line
#                             per problem (none when sound); 1 if any
#   assert_cache_ok NAME [DIR]  PASS when cache_verify finds nothing

# shellcheck shell=bash

if [ -z "${REPO:-}" ]; then
    REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
fi
export REPO
export I2K_FIXTURES=${I2K_FIXTURES:-$REPO/build/fixtures}
export I2K_REG_STATE=${I2K_REG_STATE:-$REPO/build/registry}
T_PY=/usr/bin/python3

_T_PASSED=0
_T_FAILED=0
_T_CLEANUP=()

_t_run_cleanup() {
    local i
    for ((i = ${#_T_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${_T_CLEANUP[$i]}" >/dev/null 2>&1 || true
    done
    _T_CLEANUP=()
}
trap _t_run_cleanup EXIT

# every temp dir of this script lives under one root, removed on EXIT
# (set I2K_KEEP_TMP=1 to keep it for a post-mortem)
_T_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/i2k-test.XXXXXX")
if [ "${I2K_KEEP_TMP:-0}" != 1 ]; then
    _T_CLEANUP+=("rm -rf '$_T_ROOT'")
else
    echo "harness: keeping temp files in $_T_ROOT" >&2
fi

# on_exit CMD... : run CMD (a shell string) when the test script exits
on_exit() { _T_CLEANUP+=("$*"); }

t_pass() { _T_PASSED=$((_T_PASSED + 1)); echo "PASS: $1"; }
t_fail() {
    local why=${2:-failed}
    why=${why//$'\n'/ }
    _T_FAILED=$((_T_FAILED + 1))
    echo "FAIL: $1: ${why:0:2000}"
}
t_skip_is_fail() { t_fail "$1" "cannot run (counts as failed): ${2:-no reason given}"; }
# t_done: call last; exits 1 if any check failed, 0 otherwise
t_done() {
    echo "# $(basename "$0"): $_T_PASSED passed, $_T_FAILED failed" >&2
    [ "$_T_FAILED" -eq 0 ]
}

assert_eq() {
    if [ "$2" == "$3" ]; then t_pass "$1"; else t_fail "$1" "expected '$2', got '$3'"; fi
}
assert_ne() {
    if [ "$2" != "$3" ]; then t_pass "$1"; else t_fail "$1" "did not expect '$2'"; fi
}
assert_contains() {
    case "$2" in
        *"$3"*) t_pass "$1" ;;
        *) t_fail "$1" "'$3' not found in: $(printf '%s' "$2" | head -c 400)" ;;
    esac
}
assert_not_contains() {
    case "$2" in
        *"$3"*) t_fail "$1" "'$3' unexpectedly found in: $(printf '%s' "$2" | head -c 400)" ;;
        *) t_pass "$1" ;;
    esac
}
assert_file() {
    if [ -f "$2" ] && [ -s "$2" ]; then t_pass "$1"; else t_fail "$1" "missing or empty file $2"; fi
}
# assert_exit NAME CODE CMD... ; the command's stdout+stderr are left in $T_OUT
assert_exit() {
    local name=$1 want=$2 rc=0
    shift 2
    T_OUT=$("$@" 2>&1) || rc=$?
    if [ "$rc" -eq "$want" ]; then
        t_pass "$name"
    else
        t_fail "$name" "exit $rc, wanted $want: $(printf '%s' "$T_OUT" | tail -c 400)"
    fi
}

# t_tmpdir: prints a new empty dir (safe inside $(...): removal is by the common root)
t_tmpdir() { mktemp -d "$_T_ROOT/tmp.XXXXXX"; }

fresh_cache() {
    I2KIT_CACHE=$(mktemp -d "$_T_ROOT/cache.XXXXXX")
    export I2KIT_CACHE
}

reg_env() {
    [ -f "$I2K_REG_STATE/env" ] || { echo "harness: $I2K_REG_STATE/env missing (fixtures_ready not run?)" >&2; return 1; }
    set -a
    # shellcheck disable=SC1091
    . "$I2K_REG_STATE/env"
    set +a
}

# fixtures_ready: build fixtures (no-op when up to date), start the registries unless
# they already answer, seed them (no-op when seeded), load the env. Serialised by a
# lock so parallel test scripts are safe.
fixtures_ready() {
    mkdir -p "$I2K_FIXTURES" "$I2K_REG_STATE"
    (
        flock 8
        bash "$REPO/fixtures/build.sh" "$I2K_FIXTURES" >&2 || exit 1
        if ! bash "$REPO/fixtures/registry.sh" status "$I2K_REG_STATE" 2>/dev/null; then
            bash "$REPO/fixtures/registry.sh" start "$I2K_REG_STATE" >&2 || exit 1
        fi
        bash "$REPO/fixtures/registry.sh" seed "$I2K_REG_STATE" "$I2K_FIXTURES" >&2 || exit 1
        # the guest init image that `make` packages: i2kit/init:VERSION
        local version init_tar plain
        version=$(cat "$REPO/VERSION")
        init_tar=$REPO/build/init/i2kit-init-$version.tar
        plain=$(sed -n 's/^REG_PLAIN=//p' "$I2K_REG_STATE/env")
        if [ -f "$init_tar" ] && ! [ "$I2K_REG_STATE/.init-$version" -nt "$init_tar" ]; then
            skopeo copy -q --dest-tls-verify=false "oci-archive:$init_tar" \
                "docker://$plain/i2kit/init:$version" >&2 || exit 1
            touch "$I2K_REG_STATE/.init-$version"
        fi
    ) 8>"$I2K_REG_STATE.lock" || { echo "harness: fixtures_ready failed" >&2; return 1; }
    export I2K_VERSION
    I2K_VERSION=$(cat "$REPO/VERSION")
    export I2K_OCI=$I2K_FIXTURES/oci
    reg_env
}

reg_restart() {
    bash "$REPO/fixtures/registry.sh" stop-one "$I2K_REG_STATE" "$1" &&
        bash "$REPO/fixtures/registry.sh" start-one "$I2K_REG_STATE" "$1"
}

reg_stop() { bash "$REPO/fixtures/registry.sh" stop "$I2K_REG_STATE"; }

# faultproxy_start UPSTREAM_URL [faultproxy.py options...]
#   e.g. faultproxy_start "http://$REG_PLAIN" --cut-after 1048576 --times 1
#   sets FP_PORT, FP_ADDR (127.0.0.1:PORT), FP_LOG (request log), FP_PID
faultproxy_start() {
    local up=$1 d i
    shift
    d=$(t_tmpdir)
    FP_LOG=$d/faultproxy.log
    local extra=()
    case "$up" in https://*) extra=(--upstream-ca "${REG_CA:?reg_env first}") ;; esac
    "$T_PY" "$REPO/fixtures/faultproxy.py" --upstream "$up" "${extra[@]}" \
        --port-file "$d/port" --log "$FP_LOG" "$@" >/dev/null 2>"$d/stderr" &
    FP_PID=$!
    on_exit "kill $FP_PID; wait $FP_PID"
    for i in $(seq 1 50); do
        [ -s "$d/port" ] && break
        sleep 0.1
    done
    [ -s "$d/port" ] || { cat "$d/stderr" >&2; echo "harness: faultproxy did not start" >&2; return 1; }
    FP_PORT=$(cat "$d/port")
    FP_ADDR=127.0.0.1:$FP_PORT
    export FP_PORT FP_ADDR FP_LOG FP_PID
}

faultproxy_stop() {
    [ -n "${FP_PID:-}" ] || return 0
    kill "$FP_PID" 2>/dev/null || true
    wait "$FP_PID" 2>/dev/null || true
    FP_PID=
}

# leftover_procs [SUBSTR...]: live processes of the harness (docker-registry, token
# server, fault proxy) whose command line contains one of SUBSTR (any, if none given).
# Zombies are not counted (exited, merely not reaped yet). Prints them; returns 0
# when there are none.
leftover_procs() {
    local p st args s hit found=1
    for p in $(pgrep -f 'docker-registry|fixtures/tokenserver.py|fixtures/faultproxy.py' || true); do
        st=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || echo Z)
        [ "$st" = Z ] && continue
        args=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || continue
        hit=$(($# == 0))
        for s in "$@"; do
            case "$args" in *"$s"*) hit=1 ;; esac
        done
        [ "$hit" = 1 ] || continue
        echo "$p $args"
        found=0
    done
    [ $found -eq 1 ]
}

# ---- QEMU and published ports ---------------------------------------------------

# free_port: a TCP port that nothing listens on at 127.0.0.1 right now
free_port() {
    "$T_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# QEMU as every boot test starts it; the caller adds the machine (kernel,
# drives, network, firmware, ...). I2K_TEST_QEMU overrides the binary.
_t_qemu() {
    local to=$1
    shift
    timeout --kill-after=5 "$to" "${I2K_TEST_QEMU:-qemu-system-x86_64}" -accel tcg -m 512 \
        -nographic -no-reboot "$@"
}

# qemu_run LOG SECS QEMU_ARGS...: runs QEMU to its end (at most SECS, then
# 124); console (stdout+stderr) in LOG; exit status in QEMU_RC. Never fails
# itself, so it is safe under set -e.
qemu_run() {
    local log=$1 to=$2
    shift 2
    QEMU_RC=0
    _t_qemu "$to" "$@" >"$log" 2>&1 </dev/null || QEMU_RC=$?
}

# qemu_start LOG SECS QEMU_ARGS...: the same in the background; QEMU_PID is
# its pid (wait with bg_wait, watch LOG with wait_line); killed on EXIT.
qemu_start() {
    local log=$1 to=$2
    shift 2
    _t_qemu "$to" "$@" >"$log" 2>&1 </dev/null &
    QEMU_PID=$!
    on_exit "kill $QEMU_PID 2>/dev/null; wait $QEMU_PID 2>/dev/null"
}

# bg_start LOG CMD...: CMD in the background, stdout+stderr in LOG; BG_PID is
# its pid; killed (SIGKILL) on EXIT if still running.
bg_start() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 </dev/null &
    BG_PID=$!
    on_exit "kill -KILL $BG_PID 2>/dev/null; wait $BG_PID 2>/dev/null"
}

# bg_wait PID [SECS]: waits for a child of this shell; BG_RC is its exit
# status, or "timeout" when it is still running after SECS (not killed).
# Call it directly, not in $(...): a subshell cannot wait for the pid.
bg_wait() {
    local pid=$1 to=${2:-} deadline
    if [ -n "$to" ]; then
        deadline=$((SECONDS + to))
        while kill -0 "$pid" 2>/dev/null; do
            [ "$SECONDS" -ge "$deadline" ] && { BG_RC=timeout; return 0; }
            sleep 0.1
        done
    fi
    BG_RC=0
    wait "$pid" 2>/dev/null || BG_RC=$?
}

# wait_line FILE TEXT SECS [PID]: until FILE contains TEXT (a fixed string,
# e.g. a console line); returns 1 after SECS or once PID has ended without it
wait_line() {
    local file=$1 text=$2 deadline=$((SECONDS + $3)) pid=${4:-}
    while :; do
        grep -qaF -- "$text" "$file" 2>/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            grep -qaF -- "$text" "$file" 2>/dev/null
            return
        fi
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# fetch_published URL SECS [PID]: GETs URL through a published port until it
# answers 2xx with a non-empty body (a guest service takes a while to come
# up); prints the body; returns 1 after SECS or once PID (the VM) has ended.
fetch_published() {
    local url=$1 deadline=$((SECONDS + $2)) pid=${3:-} body
    while :; do
        body=$(curl -fsS -m 2 "$url" 2>/dev/null) && [ -n "$body" ] && {
            printf '%s\n' "$body"
            return 0
        }
        [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.5
    done
}

# ---- the image cache ---------------------------------------------------------------

# cache_verify [DIR]: DIR (default $I2KIT_CACHE) is an OCI image layout that
# others can read: oci-layout and index.json parse; every index.json entry's
# manifest, config and layers are present with the size and sha256 the
# descriptors give; every committed blob's sha256 is its name (.partial-*
# files are in-progress downloads and not checked); `skopeo inspect` reads
# every named ref. Prints one line per problem; returns 1 if there is any.
# (`i2kit cache verify` will do the first checks itself; skopeo stays as the
# independent reader.)
cache_verify() {
    local dir=${1:-${I2KIT_CACHE:?fresh_cache first}} out ref
    out=$("$T_PY" - "$dir" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
bad = []
def blob(desc, what):
    dg = desc.get("digest", "")
    if not dg.startswith("sha256:") or len(dg) != 71:
        bad.append("%s: bad digest %r" % (what, dg))
        return None
    p = os.path.join(d, "blobs", "sha256", dg[7:])
    if not os.path.isfile(p):
        bad.append("%s: blob %s missing" % (what, dg))
        return None
    data = open(p, "rb").read()
    if "size" in desc and desc["size"] != len(data):
        bad.append("%s: blob %s is %d bytes, descriptor says %d" % (what, dg, len(data), desc["size"]))
    return data
try:
    if json.load(open(os.path.join(d, "oci-layout"))).get("imageLayoutVersion") != "1.0.0":
        bad.append("oci-layout: imageLayoutVersion is not 1.0.0")
except Exception as e:
    bad.append("oci-layout: %s" % e)
try:
    index = json.load(open(os.path.join(d, "index.json")))
    entries = index["manifests"]
except Exception as e:
    bad.append("index.json: %s" % e)
    entries = []
for m in entries:
    ref = m.get("annotations", {}).get("org.opencontainers.image.ref.name", m.get("digest"))
    data = blob(m, "index.json entry %s" % ref)
    if data is None:
        continue
    try:
        man = json.loads(data)
    except ValueError as e:
        bad.append("%s: manifest is not JSON: %s" % (ref, e))
        continue
    for i, c in enumerate([man.get("config")] + man.get("layers", [])):
        if c is not None:
            blob(c, "%s: %s" % (ref, "config" if i == 0 else "layer %d" % (i - 1)))
bd = os.path.join(d, "blobs", "sha256")
for name in sorted(os.listdir(bd)) if os.path.isdir(bd) else []:
    p = os.path.join(bd, name)
    if name.startswith(".") or not os.path.isfile(p):
        continue
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != name:
        bad.append("blob %s: content has sha256 %s" % (name, h.hexdigest()))
for b in bad:
    print(b)
for m in entries:
    r = m.get("annotations", {}).get("org.opencontainers.image.ref.name")
    if r:
        print("REF " + r)
PY
    ) || out="cache_verify: the checker failed on $dir"
    local problems
    problems=$(printf '%s\n' "$out" | grep -v '^REF ' | sed '/^$/d' || true)
    while IFS= read -r ref; do
        [ -n "$ref" ] || continue
        skopeo inspect "oci:$dir:$ref" >/dev/null 2>&1 ||
            problems="$problems${problems:+$'\n'}skopeo inspect oci:$dir:$ref failed"
    done < <(printf '%s\n' "$out" | sed -n 's/^REF //p')
    [ -z "$problems" ] && return 0
    printf '%s\n' "$problems"
    return 1
}

# assert_cache_ok NAME [DIR]: PASS when cache_verify finds no problem
assert_cache_ok() {
    local out
    if out=$(cache_verify "${2:-}"); then t_pass "$1"; else t_fail "$1" "$out"; fi
}

# boot_test_setup TOOL... : the common start of a build-and-boot test: fixtures
# and registries ready, a fresh cache, SOURCE_DATE_EPOCH fixed, I2KIT set; a
# missing TOOL is a failure (the script exits). Sets W to a new temp dir.
boot_test_setup() {
    I2KIT=${I2KIT:-$REPO/i2kit}
    fixtures_ready
    fresh_cache
    export SOURCE_DATE_EPOCH=1700000000
    W=$(t_tmpdir)
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { t_skip_is_fail "tool-$tool" "$tool not installed"; t_done; exit 1; }
    done
}

# web_boot IMAGE CONSOLE CMD... : boots IMAGE with `CMD run qemu --publish
# PORT:80` in the background (console in CONSOLE, state in IMAGE.run) and
# waits up to 150 s for the guest's web page. Sets PAGE (empty if none came)
# and VM_PID; stop the VM with web_boot_stop, which sets VM_RC.
web_boot() {
    local image=$1 console=$2 port _
    shift 2
    port=$("$T_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$@" run qemu --mem 512 --publish "$port:80" --timeout 180 --state "$image.run" \
        --console-file "$console" "$image" >/dev/null 2>&1 &
    VM_PID=$!
    on_exit "kill -INT $VM_PID 2>/dev/null || true"
    PAGE=
    for _ in $(seq 1 150); do
        if PAGE=$(curl -fsS -m 2 "http://127.0.0.1:$port/" 2>/dev/null); then break; fi
        kill -0 "$VM_PID" 2>/dev/null || break
        sleep 1
    done
}
web_boot_stop() {
    kill -INT "$VM_PID" 2>/dev/null || true
    VM_RC=0
    wait "$VM_PID" || VM_RC=$?
}
