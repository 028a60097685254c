#!/bin/bash
# 60-aws-push.sh — `i2kit push aws` and `i2kit aws images|rmi` against moto
# with IAM authentication on (every SigV4 signature checked), through
# fixtures/awsproxy.py, which records what i2kit SENT and injects faults:
#  - raw (BIOS), GPT+ESP raw (UEFI), qcow2, fixed and dynamic VHD: the blocks
#    sent are exactly the image's non-zero 512 KiB blocks with their
#    checksums, ChangedBlocksCount and the LINEAR aggregate, every
#    StartSnapshot/RegisterImage parameter, the tags; the snapshot read back
#    with ListSnapshotBlocks/GetSnapshotBlock equals the image;
#  - an existing name is an error (nothing uploaded); --replace swaps it;
#  - 503, ThrottlingException, connection resets and slow answers: the push
#    completes with identical blocks; a block that keeps failing fails the
#    push (exit 3) and leaves no snapshot;
#  - a wrong secret: exit 3, AuthFailure, no snapshot, the secret never
#    printed (also not with --debug);
#  - credentials from a profile file and from role_arn + source_profile
#    (STS AssumeRole at moto), and from IMDSv2 (a tiny metadata server);
#  - aws images lists what i2kit registered, aws rmi removes image+snapshot.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
. "$REPO/fixtures/moto.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
PY=$(moto_python)
CHECK="$REPO/tests/integration/tools/awscheck.py"
W=$(t_tmpdir)

if ! moto_start "$W/moto" 2>"$W/moto-start.err"; then
	t_skip_is_fail moto-start "$(cat "$W/moto-start.err")"
	t_done
	exit 1
fi
on_exit "moto_stop '$W/moto'"
pass_lines() { # turn awscheck.py output into PASS/FAIL lines with a prefix
	local prefix=$1 line
	while IFS= read -r line; do
		case "$line" in
		ok\ *) t_pass "$prefix-${line#ok }" ;;
		bad\ *) line=${line#bad }; t_fail "$prefix-${line%%:*}" "${line#*: }" ;;
		*) t_fail "$prefix-checker" "$line" ;;
		esac
	done
}

proxy_start() { # LOG [awsproxy options] → sets PX_URL PX_PID
	local log=$1 d i
	shift
	d=$(mktemp -d "$W/px.XXXX")
	"$PY" "$REPO/fixtures/awsproxy.py" --upstream "$MOTO_URL" --port-file "$d/port" \
		--log "$log" "$@" >/dev/null 2>"$d/err" &
	PX_PID=$!
	on_exit "kill $PX_PID"
	for i in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.1; done
	PX_URL=http://127.0.0.1:$(cat "$d/port")
}
proxy_stop() { kill "$PX_PID" 2>/dev/null || true; wait "$PX_PID" 2>/dev/null || true; }

export HOME=$W/home AWS_CONFIG_FILE=$W/none AWS_SHARED_CREDENTIALS_FILE=$W/none
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
mkdir -p "$HOME"
creds_env() { env AWS_ACCESS_KEY_ID="$MOTO_KEY_ID" AWS_SECRET_ACCESS_KEY="$MOTO_SECRET" "$@"; }
nsnap() { "$PY" "$CHECK" count "$MOTO_URL" "$MOTO_KEY_ID" "$MOTO_SECRET" snapshots; }
exists() { "$PY" "$CHECK" exists "$MOTO_URL" "$MOTO_KEY_ID" "$MOTO_SECRET" "$@"; }
nimg() { "$PY" "$CHECK" count "$MOTO_URL" "$MOTO_KEY_ID" "$MOTO_SECRET" images "$1"; }

# --- images: synthetic, sparse, with a short last block ---------------------
"$PY" - "$W" <<'PY'
import os, random, sys
w = sys.argv[1]
r = random.Random(7)
size = 40 * 1048576 + 12345  # not a multiple of 512 KiB
with open(w + "/bios.raw", "wb") as f:
    f.truncate(size)
    f.seek(0); f.write(b"\x55" * 446 + b"\0" * 64 + b"\x55\xaa")           # MBR-ish
    for off, n in [(600000, 5), (3 * 1048576 - 10, 20), (9 * 1048576, 1048576 + 7),
                   (20 * 1048576 + 100, 300000), (size - 1000, 1000)]:
        f.seek(off); f.write(bytes(r.getrandbits(8) for _ in range(n)))
    f.seek(30 * 1048576); f.write(b"\0" * 1048576)                         # written zeros
PY
cp --sparse=always "$W/bios.raw" "$W/efi.raw"
truncate -s 64M "$W/efi.raw"
sgdisk -Z "$W/efi.raw" >/dev/null
sgdisk -o -n 1:2048:+8M -t 1:ef00 -n 2:0:0 -t 2:8300 "$W/efi.raw" >/dev/null
qemu-img convert -f raw -O qcow2 "$W/bios.raw" "$W/disk.qcow2"
qemu-img convert -f raw -O vpc -o subformat=fixed,force_size=on "$W/efi.raw" "$W/fixed.vhd"
qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on "$W/efi.raw" "$W/dyn.vhd"
for f in disk.qcow2 fixed.vhd dyn.vhd; do # the oracle's view of each container
	qemu-img convert -O raw "$W/$f" "$W/$f.raw"
done
# QEMU 7.2 counts a fixed VHD's 512-byte footer as disk data; the disk is 64 MiB
truncate -s 64M "$W/fixed.vhd.raw"

push_check() { # NAME IMAGE RAW BOOT [push options]
	local name=$1 img=$2 raw=$3 boot=$4 rc=0
	shift 4
	local log=$W/$name.log
	rm -f "$log"
	proxy_start "$log"
	creds_env "$I2KIT" push aws --endpoint-url "$PX_URL" --name "$name" --jobs 8 --json \
		"$@" "$img" >"$W/$name.json" 2>"$W/$name.err" || rc=$?
	proxy_stop
	if [ $rc -ne 0 ]; then
		t_fail "$name-push" "exit $rc: $(tail -c 600 "$W/$name.err")"
		return
	fi
	t_pass "$name-push"
	"$PY" "$CHECK" sent "$log" "$raw" "$W/$name.json" "$boot" "$name" | pass_lines "$name"
	local snap
	snap=$(jq -r .snapshot "$W/$name.json")
	"$PY" "$CHECK" readback "$MOTO_URL" "$MOTO_KEY_ID" "$MOTO_SECRET" "$snap" "$raw" |
		pass_lines "$name"
}

push_check raw-bios "$W/bios.raw" "$W/bios.raw" legacy-bios
push_check raw-efi "$W/efi.raw" "$W/efi.raw" uefi --description "EFI test disk" --tag team=infra
push_check qcow2 "$W/disk.qcow2" "$W/disk.qcow2.raw" legacy-bios
push_check vhd-fixed "$W/fixed.vhd" "$W/fixed.vhd.raw" uefi
push_check vhd-dynamic "$W/dyn.vhd" "$W/dyn.vhd.raw" uefi --boot-mode uefi
assert_eq efi-description "EFI test disk" "$(jq -r '.[0].form.Description' <(jq -s '[.[] | select(.op=="RegisterImage")]' "$W/raw-efi.log"))"
assert_contains efi-user-tag "$(jq -c 'select(.op=="CreateTags") | .form' "$W/raw-efi.log")" '"Tag.3.Key":"team","Tag.3.Value":"infra"'
assert_eq same-digest-any-container "$(jq -r .digest "$W/vhd-fixed.json")" "$(jq -r .digest "$W/vhd-dynamic.json")"
assert_contains client-token-from-content \
	"$(jq -r 'select(.op=="StartSnapshot") | .json.ClientToken' "$W/raw-bios.log")" ""

# --- an existing name, --replace -------------------------------------------
n0=$(nsnap)
proxy_start "$W/dup.log"
assert_exit duplicate-name-exit-3 3 creds_env "$I2KIT" push aws --endpoint-url "$PX_URL" --name raw-bios "$W/bios.raw"
proxy_stop
assert_contains duplicate-name-message "$T_OUT" 'an AMI named "raw-bios" already exists'
assert_eq duplicate-name-uploads-nothing 0 "$(grep -c '"StartSnapshot"' "$W/dup.log" || true)"
old_ami=$(jq -r .ami "$W/raw-bios.json")
old_snap=$(jq -r .snapshot "$W/raw-bios.json")
push_check raw-bios "$W/efi.raw" "$W/efi.raw" uefi --replace
assert_eq replace-one-image 1 "$(nimg raw-bios)"
assert_ne replace-new-ami "$old_ami" "$(jq -r .ami "$W/raw-bios.json")"
assert_eq replace-old-image-gone 0 "$(exists image "$old_ami")"
assert_eq replace-old-snapshot-deleted 0 "$(exists snapshot "$old_snap")"
assert_eq replace-new-snapshot-kept 1 "$(exists snapshot "$(jq -r .snapshot "$W/raw-bios.json")")"

# --- faults: 503, throttling, resets, slow answers ---------------------------
log=$W/faults.log
proxy_start "$log" --fault 503 --fault throttle --fault reset --fault slow --fault-every 2 --slow 1
rc=0
creds_env AWS_MAX_ATTEMPTS=10 "$I2KIT" push aws --endpoint-url "$PX_URL" --name faults --jobs 4 --json \
	--debug "$W/bios.raw" >"$W/faults.json" 2>"$W/faults.err" || rc=$?
proxy_stop
assert_eq faults-push-exit 0 "$rc"
for k in 503 throttle reset slow; do
	n=$(jq -r "select(.fault==\"$k\") | .n" "$log" | wc -l)
	if [ "$n" -ge 1 ]; then t_pass "faults-injected-$k"; else t_fail "faults-injected-$k" "none"; fi
done
assert_contains faults-retries-logged "$(cat "$W/faults.err")" "retrying in"
if [ $rc -eq 0 ]; then
	"$PY" "$CHECK" sent "$log" "$W/bios.raw" "$W/faults.json" legacy-bios faults | pass_lines faults
	"$PY" "$CHECK" readback "$MOTO_URL" "$MOTO_KEY_ID" "$MOTO_SECRET" "$(jq -r .snapshot "$W/faults.json")" "$W/bios.raw" | pass_lines faults
fi
# EC2 and EBS control calls fail once each too
proxy_start "$W/faults2.log" --fault 503 --fault throttle --fault-every 1 --fault-times 6 \
	--fault-ops DescribeImages,StartSnapshot,CompleteSnapshot,DescribeSnapshots,RegisterImage,CreateTags
assert_exit faults-control-calls 0 creds_env "$I2KIT" push aws --endpoint-url "$PX_URL" --name faults2 "$W/bios.raw"
proxy_stop

# a block that keeps failing: exit 3, snapshot deleted
n0=$(nsnap)
proxy_start "$W/fail.log" --fault 503 --fault-every 1
assert_exit block-fails-exit-3 3 creds_env AWS_MAX_ATTEMPTS=2 "$I2KIT" push aws --endpoint-url "$PX_URL" --name fails "$W/bios.raw"
proxy_stop
assert_contains block-fails-message "$T_OUT" "giving up after 2 attempts"
assert_eq block-fails-no-snapshot-left "$n0" "$(nsnap)"
assert_eq block-fails-no-image "0" "$(nimg fails)"
assert_eq block-fails-deleted "1" "$(grep -c '"DeleteSnapshot"' "$W/fail.log" || true)"

# Ctrl-C (SIGINT) in the middle of the upload: exit 130, the snapshot deleted
n0=$(nsnap)
proxy_start "$W/int.log" --fault slow --fault-every 1 --slow 1
env AWS_ACCESS_KEY_ID="$MOTO_KEY_ID" AWS_SECRET_ACCESS_KEY="$MOTO_SECRET" \
	"$I2KIT" push aws --endpoint-url "$PX_URL" --name interrupted --jobs 2 "$W/bios.raw" \
	>"$W/int.out" 2>&1 &
pid=$!
for i in $(seq 1 100); do grep -q PutSnapshotBlock "$W/int.log" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
rc=0
wait $pid || rc=$?
proxy_stop
assert_eq interrupt-exit-130 130 "$rc"
assert_eq interrupt-no-snapshot-left "$n0" "$(nsnap)"
assert_eq interrupt-no-image 0 "$(nimg interrupted)"

# --- a wrong secret ------------------------------------------------------------
n0=$(nsnap)
assert_exit wrong-secret-exit-3 3 env AWS_ACCESS_KEY_ID="$MOTO_KEY_ID" AWS_SECRET_ACCESS_KEY=not-the-secret-xyz \
	"$I2KIT" push aws --debug --endpoint-url "$MOTO_URL" --name wrong "$W/bios.raw"
assert_contains wrong-secret-message "$T_OUT" "AuthFailure"
assert_not_contains wrong-secret-not-printed "$T_OUT" "not-the-secret-xyz"
assert_eq wrong-secret-no-snapshot "$n0" "$(nsnap)"
assert_not_contains secret-not-in-debug "$(cat "$W/faults.err")" "$MOTO_SECRET"

# --- credentials: profile, assume-role, IMDSv2 ----------------------------------
cat >"$W/credentials" <<INI
[builder]
aws_access_key_id = $MOTO_KEY_ID
aws_secret_access_key = $MOTO_SECRET
INI
cat >"$W/config" <<INI
[profile builder]
region = us-east-1

[profile deployer]
role_arn = $MOTO_ROLE_ARN
source_profile = builder
role_session_name = i2kit-test
INI
proxy_start "$W/profile.log"
assert_exit profile-images 0 env -u AWS_REGION AWS_CONFIG_FILE="$W/config" AWS_SHARED_CREDENTIALS_FILE="$W/credentials" \
	"$I2KIT" aws images --profile builder --endpoint-url "$PX_URL"
assert_contains profile-lists-pushed "$T_OUT" "raw-efi"
assert_exit assume-role-push 0 env AWS_CONFIG_FILE="$W/config" AWS_SHARED_CREDENTIALS_FILE="$W/credentials" \
	AWS_PROFILE=deployer AWS_ENDPOINT_URL="$PX_URL" "$I2KIT" push aws --name assumed "$W/bios.raw"
proxy_stop
assert_contains assume-role-called-with-source-key "$(jq -r 'select(.op=="AssumeRole") | .credential' "$W/profile.log")" "$MOTO_KEY_ID/"
assert_contains assume-role-session-name "$(jq -r 'select(.op=="AssumeRole") | .form.RoleSessionName' "$W/profile.log")" "i2kit-test"
assert_not_contains assume-role-push-uses-temporary-key "$(jq -r 'select(.op=="StartSnapshot") | .credential' "$W/profile.log")" "$MOTO_KEY_ID/"
assert_eq assume-role-token-sent true "$(jq -r 'select(.op=="StartSnapshot") | .security_token' "$W/profile.log")"
assert_eq assume-role-only-assumerole-without-token false "$(jq -r 'select(.op=="AssumeRole") | .security_token' "$W/profile.log")"

# IMDSv2: token first, then the role's credentials
"$PY" - "$W/imds.port" "$MOTO_KEY_ID" "$MOTO_SECRET" "$W/imds.log" <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
portf, kid, sec, logf = sys.argv[1:5]
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, body):
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_PUT(self):
        open(logf, "a").write("PUT %s ttl=%s\n" % (self.path, self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")))
        self.reply(200, b"tok123") if self.path == "/latest/api/token" else self.reply(404, b"")
    def do_GET(self):
        tok = self.headers.get("X-aws-ec2-metadata-token")
        open(logf, "a").write("GET %s token=%s\n" % (self.path, tok))
        if tok != "tok123": return self.reply(401, b"")
        if self.path == "/latest/meta-data/iam/security-credentials/":
            return self.reply(200, b"build-role")
        if self.path == "/latest/meta-data/iam/security-credentials/build-role":
            return self.reply(200, json.dumps({"Code": "Success", "AccessKeyId": kid, "SecretAccessKey": sec, "Token": "", "Expiration": "2099-01-01T00:00:00Z"}).encode())
        self.reply(404, b"")
s = HTTPServer(("127.0.0.1", 0), H)
open(portf + ".tmp", "w").write(str(s.server_address[1])); import os; os.rename(portf + ".tmp", portf)
s.serve_forever()
PY
IMDS_PID=$!
on_exit "kill $IMDS_PID"
for i in $(seq 1 50); do [ -s "$W/imds.port" ] && break; sleep 0.1; done
assert_exit imds-images 0 env AWS_EC2_METADATA_DISABLED=false \
	AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$(cat "$W/imds.port")" \
	"$I2KIT" aws images --endpoint-url "$MOTO_URL"
assert_contains imds-token-first "$(head -1 "$W/imds.log")" "PUT /latest/api/token ttl=21600"
assert_contains imds-role-with-token "$(cat "$W/imds.log")" "GET /latest/meta-data/iam/security-credentials/build-role token=tok123"
assert_exit no-credentials-exit-3 3 "$I2KIT" aws images --endpoint-url "$MOTO_URL"
assert_contains no-credentials-message "$T_OUT" "no AWS credentials found"

# --- aws images / rmi ----------------------------------------------------------
assert_exit images-json 0 creds_env "$I2KIT" aws images --json --endpoint-url "$MOTO_URL"
assert_eq images-lists-i2kit-amis "assumed faults faults2 qcow2 raw-bios raw-efi vhd-dynamic vhd-fixed" \
	"$(printf '%s' "$T_OUT" | jq -r '[.[].name] | sort | join(" ")')"
ami=$(jq -r .ami "$W/qcow2.json")
snap=$(jq -r .snapshot "$W/qcow2.json")
assert_exit rmi 0 creds_env "$I2KIT" aws rmi --endpoint-url "$MOTO_URL" "$ami"
assert_contains rmi-says-deleted "$T_OUT" "deleted $snap"
assert_eq rmi-image-gone 0 "$(nimg qcow2)"
assert_eq rmi-snapshot-gone 0 "$(exists snapshot "$snap")"
assert_exit rmi-unknown-exit-3 3 creds_env "$I2KIT" aws rmi --endpoint-url "$MOTO_URL" ami-00000000000000000
assert_contains rmi-unknown-message "$T_OUT" "InvalidAMIID.NotFound"

# --- i2kit build --format aws --push aws: the build's disk straight into EBS ---
# The same build without --push writes NAME.raw locally: the blocks sent must
# be exactly its non-zero blocks, and no local NAME.raw may appear.
fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
"$I2KIT" cache import "$REPO/build/init/i2kit-init-$I2K_VERSION.tar" >/dev/null 2>&1
cat >"$W/web.yml" <<YML
kernel:
  image: $REG_PLAIN/fixtures/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - i2kit/init:$I2K_VERSION
services:
  - name: web
    image: $REG_PLAIN/fixtures/web:latest
    net: host
YML
assert_exit build-aws-local 0 "$I2KIT" build --format aws --dir "$W/bl" --name built "$W/web.yml"
proxy_start "$W/built.log"
rc=0
creds_env "$I2KIT" build --format aws --format kernel+initrd --push aws --endpoint-url "$PX_URL" \
	--dir "$W/bp" --name built --json "$W/web.yml" >"$W/built-build.json" 2>"$W/built-build.err" || rc=$?
proxy_stop
assert_eq build-push-exit 0 "$rc"
assert_eq build-push-no-local-raw "" "$(ls "$W/bp" | grep '\.raw' || true)"
assert_file build-push-other-formats-written "$W/bp/built-kernel"
jq .aws "$W/built-build.json" >"$W/built.json"
"$PY" "$CHECK" sent "$W/built.log" "$W/bl/built.raw" "$W/built.json" uefi built | pass_lines build-push
"$PY" "$CHECK" readback "$MOTO_URL" "$MOTO_KEY_ID" "$MOTO_SECRET" "$(jq -r .snapshot "$W/built.json")" \
	"$W/bl/built.raw" | pass_lines build-push
assert_exit build-push-needs-aws-format 2 "$I2KIT" build --format raw-efi --push aws "$W/web.yml"
# without --json: the upload is the aws format's write step in the progress lines
rc=0
creds_env "$I2KIT" build --format aws --push aws --endpoint-url "$MOTO_URL" --dir "$W/bq" \
	--name built-plain "$W/web.yml" >"$W/bq.out" 2>"$W/bq.err" || rc=$?
assert_eq build-push-plain-exit 0 "$rc"
assert_contains build-push-progress-written "$(cat "$W/bq.err")" "written aws (EBS) ("
assert_contains build-push-progress-register "$(cat "$W/bq.err")" "registering the AMI"
assert_contains build-push-prints-ami "$(cat "$W/bq.out")" "ami-"

t_done
