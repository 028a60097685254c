#!/bin/bash
# 70-deploy-local.sh — service manifests end to end with the local provider
# (QEMU/TCG, the fixture images from the local registry):
#   * manifest errors come out as FILE:LINE:COL; `i2kit template` output of
#     a two-container service is accepted by `i2kit build` as is;
#   * `deploy --detach` of 2 replicas of a two-container web service (the
#     page names the replica, read from i2kit.replica=N on /proc/cmdline):
#     both replicas answer on the balanced port, the sidecar runs too;
#   * ps and logs show the truth (pids alive, consoles of the right replica);
#   * kill -9 of one replica's QEMU during a request loop: zero failed
#     requests, the replica is replaced and healthy again;
#   * a redeploy with an unchanged manifest does not rebuild;
#   * a rolling update that changes the page during a request loop: zero
#     failed requests, then only the new page;
#   * destroy leaves no process, no listening port and no state directory;
#   * stateful, in the foreground: one replica with an ext4 data disk
#     (e2fsck-clean), sized by instance_type, a port change refused while it
#     runs, Ctrl-C powering it off and closing its port; the disk kept by
#     destroy, removed by destroy --volumes; its images come from the TLS +
#     htpasswd registry with environment.yml's docker credentials (and fail
#     with "authentication required" without them).
# Prints "# number: ..." lines for the closing note (deploy time, replacement
# time, rolling-update time).
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
fixtures_ready
fresh_cache
W=$(t_tmpdir)
export XDG_STATE_HOME=$W/state
MEM=${I2K_DEPLOY_MEM:-256}
STATE=$XDG_STATE_HOME/i2kit/local
on_exit "'$I2KIT' destroy --all --volumes"
for tool in curl jq e2fsck; do
	command -v $tool >/dev/null || t_skip_is_fail "tool-$tool" "$tool is not installed"
done

cat >"$W/env.yml" <<YML
name: test
provider: {type: local}
kernel: {image: "$REG_PLAIN/fixtures/kernel:6.1", cmdline: "console=ttyS0"}
init: ["$REG_PLAIN/i2kit/init:$I2K_VERSION"]
YML
# web: the page says its version and replica; side: a second container
write_service() { # FILE PAGE
	cat >"$1" <<YML
name: web
replicas: 2
containers:
  web:
    image: $REG_PLAIN/fixtures/web:latest
    command:
      - /bin/sh
      - -c
      - >-
        echo "page \$PAGE replica \$(sed -n 's/.*i2kit.replica=\\([0-9]*\\).*/\\1/p' /proc/cmdline)"
        > /www/index.html; exec /bin/httpd -f -p 80 -h /www
    environment: [PAGE=$2]
    ports: ["http:8080:http:80"]
    healthcheck: {path: /, interval: 1s, timeout: 1s}
  side:
    image: $REG_PLAIN/fixtures/busybox:latest
    command: sh -c 'echo "sidecar up on \$(hostname)"; exec sleep 100000'
YML
}
write_service "$W/web.yml" v1
write_service "$W/web2.yml" v2
FETCH=(--insecure-registry "$REG_PLAIN")

# ---- manifest errors ----------------------------------------------------------
printf 'name: web\ncontainers:\n  web:\n    image: x\n    ports: ["http:80:tcp:80"]\n' >"$W/bad.yml"
assert_exit error-exit 1 "$I2KIT" template -s "$W/bad.yml"
assert_contains error-position "$T_OUT" "$W/bad.yml:5:13: containers.web.ports[0]: \"http:80:tcp:80\": http must map to http"
printf 'name: web\nreplicas: 2\nstateful: true\ncontainers: {c: {image: x}}\n' >"$W/bad2.yml"
assert_exit error2-exit 1 "$I2KIT" deploy -s "$W/bad2.yml"
assert_contains error2-position "$T_OUT" "bad2.yml:2:11: replicas: a stateful service has exactly 1 replica"

# ---- template → build as is -----------------------------------------------------
assert_exit template-exit 0 "$I2KIT" template -s "$W/web.yml" -e "$W/env.yml"
printf '%s\n' "$T_OUT" >"$W/web-template.yml"
assert_not_contains template-no-all-caps "$T_OUT" '"all"'
assert_contains template-restart "$T_OUT" 'org.i2kit.restart: "always"'
assert_exit template-builds 0 "$I2KIT" build "${FETCH[@]}" --dir "$W/tb" --name tb "$W/web-template.yml"
assert_file template-kernel "$W/tb/tb-kernel"
# i2kit build -s: the same image, named after the service, in the provider's format
assert_exit build-s-exit 0 "$I2KIT" build "${FETCH[@]}" -s "$W/web.yml" -e "$W/env.yml" --dir "$W/bs"
assert_file build-s-named-after-service "$W/bs/web-initrd.img"
assert_exit build-s-same-initrd 0 cmp "$W/tb/tb-initrd.img" "$W/bs/web-initrd.img"
assert_exit build-s-with-files-usage 2 "$I2KIT" build -s "$W/web.yml" "$W/web-template.yml"

# ---- deploy 2 replicas, detached -------------------------------------------------------
t0=$(date +%s.%N)
assert_exit deploy-exit 0 "$I2KIT" deploy -s "$W/web.yml" -e "$W/env.yml" "${FETCH[@]}" \
	--publish 0:8080 --mem "$MEM" --accel tcg --detach --wait 400
port=$(jq -r '.ports[0].port' "$STATE/web/status.json" 2>/dev/null || echo 0)
page=$(curl -fsS -m 10 "http://127.0.0.1:$port/" 2>&1 || true)
t1=$(date +%s.%N)
echo "# number: deploy of 2 replicas (build included) to the first answer: $(echo "$t1 - $t0" | bc) s" >&2
assert_contains first-answer "$page" "page v1 replica"
seen=""
for _ in $(seq 1 8); do seen="$seen $(curl -fsS -m 10 "http://127.0.0.1:$port/" 2>&1 || true)"; done
assert_contains replica-1-serves "$seen" "page v1 replica 1"
assert_contains replica-2-serves "$seen" "page v1 replica 2"
assert_eq balancer-port-listens 1 "$(ss -ltnH "sport = :$port" | wc -l)"

# ---- ps and logs ------------------------------------------------------------------------
assert_exit ps-exit 0 "$I2KIT" ps
assert_contains ps-service "$T_OUT" "web        running  127.0.0.1:$port→80"
assert_eq ps-two-healthy 2 "$(printf '%s\n' "$T_OUT" | grep -c ' up  *healthy ')"
alive=0
for p in $(jq -r '.replicas[].pid' "$STATE/web/status.json"); do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
assert_eq ps-pids-alive 2 "$alive"
assert_exit logs-exit 0 "$I2KIT" logs web --replica 2
assert_contains logs-replica-2 "$T_OUT" "i2kit.replica=2"
assert_not_contains logs-not-replica-1 "$T_OUT" "i2kit.replica=1"
assert_contains logs-sidecar "$T_OUT" "sidecar up"
assert_exit logs-all 0 "$I2KIT" logs web
assert_contains logs-all-prefixed "$T_OUT" "[1] "
assert_exit logs-unknown 1 "$I2KIT" logs nosuch
assert_exit logs-follow 124 timeout 3 "$I2KIT" logs web --replica 1 -f
assert_contains logs-follow-shows "$T_OUT" "i2kit.replica=1"

# request loop: N requests, prints "ok=N fail=M" and keeps the bodies
request_loop() { # FILE STOPFILE
	local ok=0 fail=0 body
	: >"$1"
	while [ ! -f "$2" ]; do
		if body=$(curl -fsS -m 10 "http://127.0.0.1:$port/" 2>/dev/null); then
			ok=$((ok + 1))
			echo "$body" >>"$1"
		else
			fail=$((fail + 1))
		fi
		sleep 0.05
	done
	echo "ok=$ok fail=$fail" >"$1.result"
}

# ---- kill -9 of one replica's QEMU ------------------------------------------------
old_id=$(jq -r '.replicas[] | select(.slot == 1) | .id' "$STATE/web/status.json")
qemu=$(cat "$STATE/web/replicas/$old_id/pid")
request_loop "$W/kill.bodies" "$W/kill.stop" &
loop=$!
sleep 2
tk=$(date +%s.%N)
kill -9 "$qemu"
back=""
for _ in $(seq 1 300); do
	back=$(jq -r '.replicas[] | select(.slot == 1 and .current and .healthy and .state == "up") | .id' \
		"$STATE/web/status.json" 2>/dev/null || true)
	[ -n "$back" ] && [ "$back" != "$old_id" ] && break
	sleep 0.5
done
tb=$(date +%s.%N)
sleep 2
touch "$W/kill.stop"
wait "$loop"
echo "# number: replica replaced and healthy $(echo "$tb - $tk" | bc) s after kill -9 of its QEMU" >&2
assert_ne kill-replica-back "" "$back"
assert_ne kill-new-replica "$old_id" "$back"
assert_contains kill-zero-failures "$(cat "$W/kill.bodies.result")" "fail=0"
assert_ne kill-requests-made "0" "$(wc -l <"$W/kill.bodies")"
s=$(ps -o stat= -p "$qemu" 2>/dev/null || true)
case "$s" in "" | Z*) t_pass kill-old-qemu-gone ;; *) t_fail kill-old-qemu-gone "pid $qemu: $s" ;; esac
assert_exit kill-ps-restarts 0 "$I2KIT" ps
assert_contains kill-ps-shows-restart "$T_OUT" "  1        $back "

# ---- unchanged redeploy: no rebuild ------------------------------------------------
assert_exit same-deploy 0 "$I2KIT" deploy -s "$W/web.yml" -e "$W/env.yml" "${FETCH[@]}" \
	--publish 0:8080 --mem "$MEM" --accel tcg --wait 60
assert_contains same-not-rebuilt "$T_OUT" "is up to date: not rebuilt"
assert_eq same-one-image 1 "$(ls "$STATE/web/images" | wc -l)"

# ---- rolling update -----------------------------------------------------------------------
request_loop "$W/roll.bodies" "$W/roll.stop" &
loop=$!
sleep 2
tr0=$(date +%s.%N)
assert_exit roll-deploy 0 "$I2KIT" deploy -s "$W/web2.yml" -e "$W/env.yml" "${FETCH[@]}" \
	--publish 0:8080 --mem "$MEM" --accel tcg --wait 400
tr1=$(date +%s.%N)
sleep 2
touch "$W/roll.stop"
wait "$loop"
echo "# number: rolling update of 2 replicas (build included): $(echo "$tr1 - $tr0" | bc) s" >&2
assert_contains roll-zero-failures "$(cat "$W/roll.bodies.result")" "fail=0"
assert_contains roll-saw-old "$(cat "$W/roll.bodies")" "page v1"
assert_contains roll-saw-new "$(cat "$W/roll.bodies")" "page v2"
assert_eq roll-then-only-new "page v2" "$(tail -n 5 "$W/roll.bodies" | cut -d' ' -f1-2 | sort -u)"
after=""
for _ in $(seq 1 6); do after="$after $(curl -fsS -m 10 "http://127.0.0.1:$port/" 2>&1 || true)"; done
assert_not_contains roll-no-old-page "$after" "v1"
assert_contains roll-new-replica-1 "$after" "page v2 replica 1"
assert_contains roll-new-replica-2 "$after" "page v2 replica 2"
assert_eq roll-old-image-removed 1 "$(ls "$STATE/web/images" | wc -l)"

# ---- destroy ----------------------------------------------------------------------------------
sup=$(cat "$STATE/web/supervisor.pid")
pids=$(jq -r '.replicas[].pid' "$STATE/web/status.json")
assert_exit destroy-exit 0 "$I2KIT" destroy -s "$W/web2.yml" -e "$W/env.yml"
assert_contains destroy-says "$T_OUT" "web: stopped and removed"
left=""
for p in $sup $pids; do
	s=$(ps -o stat= -p "$p" 2>/dev/null || true)
	case "$s" in "" | Z*) ;; *) left="$left $p" ;; esac
done
assert_eq destroy-no-process "" "$left"
assert_eq destroy-no-qemu "" "$(pgrep -f "$STATE/web" || true)"
assert_eq destroy-no-port 0 "$(ss -ltnH "sport = :$port" | wc -l)"
assert_eq destroy-no-state no "$([ -e "$STATE/web" ] && echo yes || echo no)"
assert_exit ps-after-destroy 0 "$I2KIT" ps
assert_contains ps-empty "$T_OUT" "no services deployed"

# ---- stateful: a data disk kept across deploys, removed by --volumes; --------------------------
# ---- its image comes from the TLS + htpasswd registry with environment.yml's docker credentials
cat >"$W/env-priv.yml" <<YML
name: priv
kernel: {image: "$REG_TLS/fixtures/kernel:6.1"}
init: ["$REG_PLAIN/i2kit/init:$I2K_VERSION"]
docker: {username: "$REG_USER", password: "$REG_PASS"}
YML
grep -v '^docker:' "$W/env-priv.yml" >"$W/env-nocreds.yml"
cat >"$W/db.yml" <<YML
name: db
stateful: true
instance_type: t3.nano
containers:
  db:
    image: $REG_TLS/fixtures/busybox:latest
    command: ["/bin/sh", "-c", "echo booted >>/data/boots && exec /bin/httpd -f -p 5432 -h /data"]
    ports: ["5432"]
YML
assert_exit db-no-creds 3 "$I2KIT" deploy -s "$W/db.yml" -e "$W/env-nocreds.yml" "${FETCH[@]}" \
	--ca-file "$REG_CA" --publish 0:5432 --mem "$MEM" --accel tcg --detach --wait 400
assert_contains db-no-creds-says "$T_OUT" "authentication required"
# the foreground way: the status table and events on stderr, Ctrl-C stops it all
"$I2KIT" deploy -s "$W/db.yml" -e "$W/env-priv.yml" "${FETCH[@]}" --ca-file "$REG_CA" \
	--publish 0:5432 --mem "$MEM" --accel tcg >"$W/db.out" 2>"$W/db.err" &
fg=$!
up=""
for _ in $(seq 1 400); do
	up=$(jq -r '.replicas[] | select(.healthy and .state == "up") | .pid' "$STATE/db/status.json" 2>/dev/null || true)
	[ -n "$up" ] && break
	kill -0 "$fg" 2>/dev/null || break
	sleep 0.5
done
assert_ne db-foreground-up "" "$up"
assert_eq db-creds-private "600" "$(stat -c %a "$STATE/db/docker/config.json" 2>/dev/null)"
assert_file db-data-disk "$STATE/db/data.img"
assert_exit db-data-fsck 0 e2fsck -fn "$STATE/db/data.img"
assert_eq db-one-replica 1 "$(jq '.replicas | length' "$STATE/db/status.json")"
assert_contains db-disk-attached "$(cat "$STATE/db/desired.json")" "data.img"
assert_contains db-size-from-instance-type "$(ps -o args= -p "$up")" "--cpus=2"
dbport=$(jq -r '.ports[0].port' "$STATE/db/status.json")
# the guest init mounts the data disk and the template binds it at /data
assert_eq db-data-written "booted" "$(fetch_published "http://127.0.0.1:$dbport/boots" 60 "$up" || true)"
assert_contains db-data-disk-mounted "$(cat "$STATE"/db/replicas/*/console.log 2>/dev/null)" \
	"(label i2kit-data) mounted on /var/lib/i2kit/data"
# a redeploy may not change the ports of a running service
sed 's/ports: \["5432"\]/ports: ["5433"]/' "$W/db.yml" >"$W/db-port.yml"
assert_exit db-port-change-refused 1 "$I2KIT" deploy -s "$W/db-port.yml" -e "$W/env-priv.yml" \
	"${FETCH[@]}" --ca-file "$REG_CA" --accel tcg
assert_contains db-port-change-says "$T_OUT" "db is running with other ports"
kill -INT "$fg"
rc=0
wait "$fg" || rc=$?
assert_eq db-ctrl-c-exit 0 "$rc"
assert_contains db-ctrl-c-powered-off "$(cat "$W/db.err")" "powered off"
s=$(ps -o stat= -p "$up" 2>/dev/null || true)
case "$s" in "" | Z*) t_pass db-ctrl-c-no-replica ;; *) t_fail db-ctrl-c-no-replica "pid $up: $s" ;; esac
assert_eq db-ctrl-c-no-port 0 "$(ss -ltnH "sport = :$dbport" | wc -l)"
assert_eq db-ctrl-c-no-replicas-dir no "$([ -e "$STATE/db/replicas" ] && echo yes || echo no)"
# a second deploy finds what the first wrote on the kept disk
assert_exit db-redeploy 0 "$I2KIT" deploy -s "$W/db.yml" -e "$W/env-priv.yml" "${FETCH[@]}" \
	--ca-file "$REG_CA" --publish 0:5432 --mem "$MEM" --accel tcg --detach --wait 400
dbport=$(jq -r '.ports[0].port' "$STATE/db/status.json")
assert_eq db-data-kept "$(printf 'booted\nbooted')" \
	"$(fetch_published "http://127.0.0.1:$dbport/boots" 60 || true)"
assert_exit db-destroy 0 "$I2KIT" destroy db
assert_file db-disk-kept "$STATE/db/data.img"
assert_exit db-data-fsck-after 0 e2fsck -fn "$STATE/db/data.img"
assert_eq db-data-on-disk "$(printf 'booted\nbooted')" "$(debugfs -R 'cat /boots' "$STATE/db/data.img" 2>/dev/null)"
assert_eq db-only-disk-left "data.img" "$(ls "$STATE/db")"
assert_exit db-destroy-volumes 0 "$I2KIT" destroy db --volumes
assert_eq db-gone no "$([ -e "$STATE/db" ] && echo yes || echo no)"
assert_exit destroy-unknown 1 "$I2KIT" destroy db
assert_contains destroy-unknown-says "$T_OUT" "not deployed"
t_done
