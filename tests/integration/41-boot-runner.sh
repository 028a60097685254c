#!/bin/bash
# 41-boot-runner.sh — the guest init's container runner, end to end: builds
# a LinuxKit-style YAML with `i2kit build` (kernel+initrd), appends the init
# binary to the initrd as a second gzip'd newc cpio (/init; later archives
# win), boots it under QEMU TCG and checks what the containers print on the
# console: capabilities (CAP_NET_ADMIN or not), a readonly root, a writable
# (overlay) root, PID 1 in a new pid namespace (onboot and service), a
# memory limit that OOM-kills a hog while the VM carries on, LinuxKit fields
# (binds, env, command, cwd, uid/gid, hostname+uts, rlimits, sysctl), and
# runtime.json (veth interfaces, bindNS, a namespace joined by path,
# mkdir), masked/readonly paths, a ro bind, devices, devpts, a user
# namespace with id maps, plus the runner's one-line errors for a bad
# command, a hostname without a uts namespace and a namespace path that
# does not exist.
#
# The init defaults to build/init/init (`make init`); I2K_TEST_INIT=PATH
# boots another binary (e.g. a test driver of the runner alone).
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}

if ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null; then
	t_skip_is_fail boot-runner "qemu-system-x86_64 or cpio missing"
	t_done
	exit 1
fi
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
W=$(t_tmpdir)

INIT=${I2K_TEST_INIT:-}
if [ -z "$INIT" ]; then
	make -s -C "$REPO" init >&2 || true
	INIT=$REPO/build/init/init
fi
assert_file init-binary "$INIT"

# '@REG@' is replaced below; everything else is literal (the $ signs are
# for the containers' shells).
cat >"$W/runner.yml.in" <<'YML'
kernel:
  image: @REG@/fixtures/kernel:6.1
  # loglevel=1: the kernel's own lines (its OOM report, pr_err) would share
  # the serial line with the containers' output and can split a MARK line
  cmdline: "console=ttyS0 panic=-1 quiet loglevel=1"
init:
  - @REG@/fixtures/busybox:latest
onboot:
  - name: nocap
    image: @REG@/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "if ip link set lo down 2>/dev/null && ip link set lo up 2>/dev/null; then echo MARK nocap=changed; else echo MARK nocap=denied; fi; echo MARK nocap-$(grep CapEff /proc/self/status | tr -d ' \\t')"]
  - name: netadmin
    image: @REG@/fixtures/busybox:latest
    net: new
    capabilities: [CAP_NET_ADMIN]
    sysctl:
      net.ipv4.ip_forward: "1"
    command: ["/bin/sh", "-c", "if ip link set lo down && ip link set lo up; then echo MARK netadmin=changed; else echo MARK netadmin=denied; fi; echo MARK netadmin-$(grep CapEff /proc/self/status | tr -d ' \\t'); echo MARK fwd=$(cat /proc/sys/net/ipv4/ip_forward)"]
  - name: ro
    image: @REG@/fixtures/busybox:latest
    readonly: true
    command: ["/bin/sh", "-c", "if touch /x 2>/dev/null; then echo MARK ro=writable; else echo MARK ro=denied; fi"]
  - name: rw
    image: @REG@/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "touch /x && echo MARK rw=writable"]
  - name: pidns
    image: @REG@/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "echo MARK pid=$$"]
  - name: oom
    image: @REG@/fixtures/busybox:latest
    resources:
      memory:
        limit: 33554432
      cpu:
        shares: 1024
      pids:
        limit: 50
    command: ["/bin/sh", "-c", "echo MARK memmax=$(cat /sys/fs/cgroup/memory.max); echo MARK cgroup-weight=$(cat /sys/fs/cgroup/cpu.weight) pids=$(cat /sys/fs/cgroup/pids.max); head -c 300000000 /dev/zero | sh -c 'echo 1000 >/proc/self/oom_score_adj; exec tail' >/dev/null; echo MARK oom-exit=$?"]
  - name: fields
    image: @REG@/fixtures/busybox:latest
    binds: ["/etc/runner-bind:/etc/bound:ro"]
    env: ["FOO=bar baz", "PATH=/bin"]
    cwd: /tmp
    uid: 1234
    gid: 4321
    uts: new
    hostname: fieldhost
    rlimits: ["nofile,100,200"]
    capabilities: [CAP_NET_BIND_SERVICE]
    ambient: [CAP_NET_BIND_SERVICE]
    noNewPrivileges: true
    oomScoreAdj: -500
    command: ["/bin/sh", "-c", "echo \"MARK env=$FOO\"; echo MARK pwd=$(pwd); echo MARK id=$(id -u):$(id -g); echo MARK bind=$(cat /etc/bound); echo MARK host=$(hostname); echo MARK nofile=$(ulimit -n); echo MARK fields-$(grep CapEff /proc/self/status | tr -d ' \\t'); echo MARK nnp=$(grep NoNewPrivs /proc/self/status | tr -d ' \\t'); echo MARK oomadj=$(cat /proc/self/oom_score_adj)"]
  - name: paths
    image: @REG@/fixtures/busybox:latest
    maskedPaths: [/etc/passwd, /root]
    readonlyPaths: [/tmp]
    binds: ["/etc/runner-bind:/etc/bound:ro"]
    devices:
      - path: /dev/fuse
        type: c
        major: 10
        minor: 229
        mode: "0640"
    command: ["/bin/sh", "-c", "echo MARK masked-file=$(wc -c </etc/passwd) masked-dir=$(ls -A /root | wc -l); if touch /tmp/x 2>/dev/null; then echo MARK rotmp=writable; else echo MARK rotmp=denied; fi; touch /x && echo MARK root-still-rw; if echo x 2>/dev/null >>/etc/bound; then echo MARK robind=writable; else echo MARK robind=denied; fi; echo MARK dev=$(stat -c '%A %t:%T' /dev/fuse) null=$(stat -c '%F' /dev/null); echo MARK mounts=$(grep -c devpts /proc/mounts)"]
  - name: userns
    image: @REG@/fixtures/busybox:latest
    userns: new
    uidMappings:
      - {containerID: 0, hostID: 100000, size: 65536}
    gidMappings:
      - {containerID: 0, hostID: 100000, size: 65536}
    command: ["/bin/sh", "-c", "echo MARK uidmap=$(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //') id=$(id -u)"]
  - name: vethmod
    image: @REG@/fixtures/busybox:latest
    capabilities: [CAP_SYS_MODULE]
    binds: ["/lib/veth.ko:/veth.ko:ro"]
    command: ["/bin/insmod", "/veth.ko"]
  - name: vnet
    image: @REG@/fixtures/busybox:latest
    net: new
    binds: ["/var/lib/rtdir:/rt"]
    runtime:
      mkdir: [/var/lib/rtdir]
      interfaces:
        - name: vt0
          add: veth
          peer: vt1
      bindNS:
        net: /run/netns/vt
    command: ["/bin/sh", "-c", "ip link show vt0 >/dev/null && echo MARK vnet=has-vt0; [ -d /rt ] && echo MARK mkdir=ok"]
  - name: vjoin
    image: @REG@/fixtures/busybox:latest
    net: /run/netns/vt
    command: ["/bin/sh", "-c", "if ip link show vt0 >/dev/null 2>&1; then echo MARK vjoin=sees-vt0; else echo MARK vjoin=missing; fi"]
  - name: vroot
    image: @REG@/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "ip link show vt1 >/dev/null && echo MARK vroot=has-vt1"]
  - name: badcmd
    image: @REG@/fixtures/busybox:latest
    command: ["/nonexistent-cmd"]
  - name: badhost
    image: @REG@/fixtures/busybox:latest
    hostname: nouts
    command: ["/bin/echo", "MARK badhost=ran"]
  - name: badjoin
    image: @REG@/fixtures/busybox:latest
    net: /run/netns/i2k-missing
    command: ["/bin/echo", "MARK badjoin=ran"]
  - name: last
    image: @REG@/fixtures/busybox:latest
    command: ["/bin/echo", "MARK all-done"]
services:
  - name: svc
    image: @REG@/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "echo MARK svc-pid=$$"]
files:
  - path: etc/runner-bind
    contents: "bound-ok\n"
    mode: "0644"
  - path: lib/veth.ko
    source: "@VETH@"
  # the init under test (also appended below as a cpio): the root must
  # provide /init, which busybox does not
  - path: init
    source: "@INIT@"
    mode: "0755"
YML
# veth is not among the fixture kernel's modules: the host's copy of the
# same kernel's goes in as a file that a container insmod's (CAP_SYS_MODULE)
KVER=$(for d in /lib/modules/*; do [ -e "/boot/vmlinuz-${d##*/}" ] && echo "${d##*/}"; done | sort -V | tail -n 1)
VETH=/lib/modules/$KVER/kernel/drivers/net/veth.ko
[ -f "$VETH" ] || t_skip_is_fail veth-module "$VETH missing: the veth checks below will fail"
sed -e "s|@REG@|$REG_PLAIN|g" -e "s|@VETH@|$VETH|g" -e "s|@INIT@|$INIT|g" "$W/runner.yml.in" >"$W/runner.yml"

assert_exit build 0 "$I2KIT" build --format kernel+initrd --dir "$W/out" --name runner "$W/runner.yml"
K=$W/out/runner-kernel
I=$W/out/runner-initrd.img
CMDLINE=$(cat "$W/out/runner-cmdline" 2>/dev/null || echo "console=ttyS0 panic=-1")

# the init goes in as /init in a second archive appended to the initrd
mkdir -p "$W/initcpio"
cp "$INIT" "$W/initcpio/init"
chmod 0755 "$W/initcpio/init"
(cd "$W/initcpio" && echo init | cpio -o -H newc --quiet | gzip) >>"$I"

LOG=$W/console.log
qemu_start "$LOG" 60 -kernel "$K" -initrd "$I" -append "$CMDLINE"
# wait for the last onboot marker and the service's, or QEMU's end
wait_line "$LOG" "MARK all-done" 60 "$QEMU_PID" &&
	wait_line "$LOG" "MARK svc-pid=" 60 "$QEMU_PID" && sleep 1
kill "$QEMU_PID" 2>/dev/null || true
bg_wait "$QEMU_PID"
out=$(tr -d '\r' <"$LOG")
if [ "${I2K_TEST_VERBOSE:-0}" = 1 ]; then printf '%s\n' "$out" >&2; fi

assert_contains booted "$out" "MARK all-done"
# capabilities: no CAP_NET_ADMIN → denied; with it (own net ns) → allowed
assert_contains nocap-denied "$out" "MARK nocap=denied"
assert_contains nocap-capeff "$out" "MARK nocap-CapEff:0000000000000000"
assert_contains netadmin-changed "$out" "MARK netadmin=changed"
assert_contains netadmin-capeff "$out" "MARK netadmin-CapEff:0000000000001000"
assert_contains sysctl-in-netns "$out" "MARK fwd=1"
# roots
assert_contains readonly-root "$out" "MARK ro=denied"
assert_contains writable-root "$out" "MARK rw=writable"
# pid namespace: the process is PID 1 in it (onboot and service)
assert_contains onboot-pid1 "$out" "MARK pid=1"
assert_contains service-pid1 "$out" "MARK svc-pid=1"
# memory limit: memory.max written, the hog killed, the shell and VM carry on
# (the hog raises its own oom_score_adj, so the cgroup's OOM killer cannot
# pick the shell instead: once in many runs it did)
assert_contains memory-max "$out" "MARK memmax=33554432"
assert_contains oom-killed "$out" "MARK oom-exit=137"
case "$out" in
*"MARK oom-exit=137"*) ;;
*) printf 'oom-killed: the console around the OOM test:\n%s\n' \
	"$(printf '%s\n' "$out" | grep -a -A12 'MARK memmax=')" >&2 ;;
esac
# LinuxKit fields
assert_contains env "$out" "MARK env=bar baz"
assert_contains cwd "$out" "MARK pwd=/tmp"
assert_contains uid-gid "$out" "MARK id=1234:4321"
assert_contains bind "$out" "MARK bind=bound-ok"
assert_contains hostname "$out" "MARK host=fieldhost"
assert_contains rlimit "$out" "MARK nofile=100"
assert_contains ambient-caps "$out" "MARK fields-CapEff:0000000000000400"
assert_contains no-new-privs "$out" "MARK nnp=NoNewPrivs:1"
assert_contains oom-score-adj "$out" "MARK oomadj=-500"
assert_contains cpu-pids "$out" "MARK cgroup-weight=39 pids=50"
# masked / readonly paths, devices, devpts
assert_contains masked "$out" "MARK masked-file=0 masked-dir=0"
assert_contains readonly-path "$out" "MARK rotmp=denied"
assert_contains root-rw-besides "$out" "MARK root-still-rw"
assert_contains readonly-bind "$out" "MARK robind=denied"
assert_contains device "$out" "MARK dev=crw-r----- a:e5 null=character special file"
assert_contains devpts "$out" "MARK mounts=1"
# user namespace with id maps written by the parent
assert_contains userns "$out" "MARK uidmap=0 100000 65536 id=0"
# runtime.json
assert_contains veth-in-container "$out" "MARK vnet=has-vt0"
assert_contains runtime-mkdir "$out" "MARK mkdir=ok"
assert_contains join-netns-by-path "$out" "MARK vjoin=sees-vt0"
assert_contains veth-peer-in-root "$out" "MARK vroot=has-vt1"
# errors come back as one line from the runner, and the init carries on
assert_contains error-exec "$out" "exec /nonexistent-cmd: No such file or directory"
assert_contains error-hostname "$out" "hostname nouts needs a uts namespace"
assert_not_contains badhost-not-run "$out" "MARK badhost=ran"
assert_contains error-join "$out" "join network namespace /run/netns/i2k-missing: No such file or directory"
assert_not_contains badjoin-not-run "$out" "MARK badjoin=ran"
assert_not_contains no-panic "$out" "Kernel panic"
if [ "$_T_FAILED" -gt 0 ]; then
	echo "--- console (tail) ---" >&2
	tail -n 60 "$LOG" >&2
fi
t_done
