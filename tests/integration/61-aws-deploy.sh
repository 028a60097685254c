#!/bin/bash
# 61-aws-deploy.sh — `i2kit deploy|ps|destroy --provider aws` against moto with
# IAM authentication on (every SigV4 signature checked), through
# fixtures/awsproxy.py, which records what i2kit SENT:
#  - create: the AMI is built and pushed (tagged i2kit:service/environment),
#    the environment stack "test" and the service stack "web-test" are
#    created; the service template's resources and properties are asserted
#    from the CreateStack request actually sent (AMI, IMDSv2, ASG sizes and
#    rolling update, ALB, listener, target group health check, security
#    groups, tags); stack events are printed; the endpoint URL comes out
#    (--json too); the health wait asks DescribeTargetHealth;
#  - an unchanged redeploy builds and pushes nothing (the AMI is found by
#    its content-derived name);
#  - update: a changed manifest → a new AMI → UpdateStack whose template has
#    the new ImageId; ps shows the instances on it;
#  - failures: a CreateStack refused at once (the AMI pushed for it is
#    deregistered, its snapshot deleted); an update that fails and rolls
#    back (the error names the resource and its reason; the AMI pushed for
#    it is removed); a stack in ROLLBACK_COMPLETE is deleted and created
#    again; unhealthy targets end the bounded health wait with an error;
#    a wrong secret (exit 3, AuthFailure, nothing created);
#  - destroy: the service stack is gone, every AMI of the service
#    deregistered and its snapshots deleted; the environment stack stays
#    until destroy --all.
#
# moto (5.x) gaps and how this test works around them — never in i2kit:
#  - a failed stack operation cannot be produced (moto either refuses the
#    call at once or completes it), and its events are stack-level only:
#    the failed update and the ROLLBACK_COMPLETE stack are canned answers
#    to DescribeStacks/DescribeStackEvents from awsproxy.py --reply (the
#    shape AWS documents), while every other call reaches moto;
#  - operations finish before the first poll, so events cannot be seen
#    arriving over time; the canned failure events are streamed instead;
#  - a refused CreateStack leaves a stack record stuck in
#    CREATE_IN_PROGRESS (real AWS creates nothing), after which moto answers
#    DescribeStacks without a name with HTTP 500: that case runs last;
#  - instances registered by the ASG are reported healthy at once, so the
#    health wait's timeout is exercised with a canned unhealthy
#    DescribeTargetHealth answer;
#  - DeleteStack leaves the target group behind, and the network interfaces
#    of terminated instances, and deletes an environment stack's VPC before
#    its route table (DependencyViolation): before destroy --all the test
#    removes those leftovers itself (aws_py moto-vpc-leftovers);
#  - an update does not replace the group's instances (no rolling update):
#    the new AMI is checked in the group's launch template instead;
#  - RegisterImage auto-creates a second snapshot ("Auto-created snapshot
#    for AMI") that DeregisterImage leaves: snapshots are checked by the id
#    i2kit registered, never by counting;
#  - Fn::GetAtt LB.CanonicalHostedZoneID is not resolved: no hosted zone
#    here (the DnsRecord is the template's concern, tested in its unit tests).
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
. "$REPO/fixtures/moto.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
PY=$(moto_python)
W=$(t_tmpdir)

command -v jq >/dev/null || t_skip_is_fail tool-jq "jq is not installed"
if ! moto_start "$W/moto" 2>"$W/moto-start.err"; then
	t_skip_is_fail moto-start "$(cat "$W/moto-start.err")"
	t_done
	exit 1
fi
on_exit "moto_stop '$W/moto'"

proxy_start() { # LOG [awsproxy options] → sets PX_URL PX_PID
	local log=$1 d
	shift
	d=$(mktemp -d "$W/px.XXXX")
	"$PY" "$REPO/fixtures/awsproxy.py" --upstream "$MOTO_URL" --port-file "$d/port" \
		--log "$log" "$@" >/dev/null 2>"$d/err" &
	PX_PID=$!
	on_exit "kill $PX_PID"
	for _ in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.1; done
	PX_URL=http://127.0.0.1:$(cat "$d/port")
}
proxy_stop() { kill "$PX_PID" 2>/dev/null || true; wait "$PX_PID" 2>/dev/null || true; }

export HOME=$W/home AWS_CONFIG_FILE=$W/none AWS_SHARED_CREDENTIALS_FILE=$W/none
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$MOTO_KEY_ID AWS_SECRET_ACCESS_KEY=$MOTO_SECRET
mkdir -p "$HOME"

# moto's state, read with boto3 (the oracle)
aws_py() {
	"$PY" - "$MOTO_URL" "$@" <<'PY'
import sys, boto3
url, what, args = sys.argv[1], sys.argv[2], sys.argv[3:]
kw = dict(endpoint_url=url, region_name="us-east-1")
ec2 = boto3.client("ec2", **kw)
cf = boto3.client("cloudformation", **kw)
def tagged(svc, env):
    f = [{"Name": "tag:i2kit:service", "Values": [svc]}]
    if env:
        f.append({"Name": "tag:i2kit:environment", "Values": [env]})
    return ec2.describe_images(Owners=["self"], Filters=f)["Images"]
if what == "images":            # SERVICE [ENV] → number of AMIs tagged so
    print(len(tagged(args[0], args[1] if len(args) > 1 else None)))
elif what == "image-ids":
    print(" ".join(sorted(i["ImageId"] for i in tagged(args[0], args[1]))))
elif what == "image-exists":
    print(len(ec2.describe_images(Filters=[{"Name": "image-id", "Values": [args[0]]}])["Images"]))
elif what == "snapshot-exists":
    print(len([s for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] if s["SnapshotId"] == args[0]]))
elif what == "image-snapshot":
    im = ec2.describe_images(ImageIds=[args[0]])["Images"][0]
    print(im["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"])
elif what == "stack-status":
    try:
        print(cf.describe_stacks(StackName=args[0])["Stacks"][0]["StackStatus"])
    except Exception:
        print("none")
elif what == "lt-image":         # the ASG's launch template's latest version's AMI
    asg = boto3.client("autoscaling", **kw)
    out = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=args[0])["Stacks"][0]["Outputs"]}
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[out["AutoScalingGroupName"]])["AutoScalingGroups"][0]
    lt = g["LaunchTemplate"]["LaunchTemplateId"]
    v = ec2.describe_launch_template_versions(LaunchTemplateId=lt, Versions=["$Latest"])["LaunchTemplateVersions"][0]
    print(v["LaunchTemplateData"]["ImageId"])
elif what == "moto-vpc-leftovers":
    # moto deletes an environment stack's VPC before its route table (and
    # keeps a deleted service's target group and its terminated instances'
    # network interfaces): remove those first, as AWS's own ordering would
    elb = boto3.client("elbv2", **kw)
    out = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=args[0])["Stacks"][0]["Outputs"]}
    vpc = out["VpcId"]
    for e in ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkInterfaces"]:
        ec2.delete_network_interface(NetworkInterfaceId=e["NetworkInterfaceId"])
    for t in elb.describe_target_groups()["TargetGroups"]:
        if t.get("VpcId") == vpc:
            elb.delete_target_group(TargetGroupArn=t["TargetGroupArn"])
    for r in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]:
        if any(a.get("Main") for a in r["Associations"]):
            continue
        for a in r["Associations"]:
            ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=r["RouteTableId"])
elif what == "ext4-label":       # SNAP → the volume label of the ext4 in block 0
    # moto rejects boto3's own signed EBS GETs (as in awscheck.py readback):
    # authentication is off for this read only
    import urllib.request
    def auth(on):
        urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset-auth",
            data=b"0" if on else b"1000000000", method="POST", headers={"Content-Type": "text/plain"})).read()
    auth(False)
    try:
        ebs = boto3.client("ebs", **kw)
        blocks = ebs.list_snapshot_blocks(SnapshotId=args[0])["Blocks"]
        b0 = [b for b in blocks if b["BlockIndex"] == 0]
        data = ebs.get_snapshot_block(SnapshotId=args[0], BlockIndex=0, BlockToken=b0[0]["BlockToken"])["BlockData"].read() if b0 else b""
    finally:
        auth(True)
    sb = data[1024:2048]
    print(sb[120:136].rstrip(b"\0").decode() if len(sb) == 1024 and sb[56:58] == b"\x53\xef" else "not-ext4")
elif what == "data-snapshots":   # snapshots tagged i2kit:data=SERVICE-ENV
    f = [{"Name": "tag:i2kit:data", "Values": [args[0]]}]
    print(" ".join(s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=f)["Snapshots"]))
elif what == "stack-names":
    print(" ".join(sorted(s["StackName"] for s in cf.describe_stacks()["Stacks"])))
PY
}
# the TemplateBody of the last CreateStack/UpdateStack OP of STACK in LOG
sent_template() { # LOG OP STACK
	jq -c "select(.op==\"$2\" and .form.StackName==\"$3\") | .form.TemplateBody | fromjson" "$1" | tail -1
}

fixtures_ready
fresh_cache
export SOURCE_DATE_EPOCH=1700000000
FETCH=(--insecure-registry "$REG_PLAIN")
cat >"$W/env.yml" <<YML
name: test
provider: {type: aws, region: us-east-1, instance_type: t3.small}
kernel: {image: "$REG_PLAIN/fixtures/kernel:6.1", cmdline: "console=ttyS0"}
init: ["$REG_PLAIN/i2kit/init:$I2K_VERSION"]
YML
write_service() { # FILE PAGE
	cat >"$1" <<YML
name: web
replicas: 2
public: true
containers:
  web:
    image: $REG_PLAIN/fixtures/web:latest
    environment: [PAGE=$2]
    ports: ["http:80:http:80"]
    healthcheck: {path: /health, interval: 10s, timeout: 3s}
YML
}
write_service "$W/web.yml" v1
write_service "$W/web2.yml" v2
write_service "$W/web3.yml" v3
deploy() { # LOG OUT [args...]: deploy through a fresh proxy; sets rc
	local log=$1 out=$2
	shift 2
	rm -f "$log"
	proxy_start "$log" "${PROXY_ARGS[@]}"
	rc=0
	"$I2KIT" deploy --provider aws --endpoint-url "$PX_URL" "${FETCH[@]}" "$@" \
		>"$out" 2>"$out.err" || rc=$?
	proxy_stop
}
PROXY_ARGS=()

# ---- create ---------------------------------------------------------------------
deploy "$W/create.log" "$W/create.json" -s "$W/web.yml" -e "$W/env.yml" --json
assert_eq create-exit 0 "$rc"
[ "$rc" = 0 ] || echo "# create stderr: $(tail -c 1500 "$W/create.json.err")"
AMI1=$(jq -r .ami "$W/create.json")
assert_eq create-ami-built true "$(jq -r .ami_built "$W/create.json")"
assert_eq create-created true "$(jq -r .created "$W/create.json")"
assert_eq create-stack web-test "$(jq -r .stack "$W/create.json")"
assert_eq create-status CREATE_COMPLETE "$(jq -r .status "$W/create.json")"
assert_eq create-healthy "2/2" "$(jq -r '"\(.healthy)/\(.wanted)"' "$W/create.json")"
assert_contains create-url "$(jq -r '.urls[0]' "$W/create.json")" "http://"
assert_contains create-url-is-endpoint "$(jq -r '.urls[0]' "$W/create.json")" "$(jq -r .endpoint "$W/create.json")"
assert_eq create-pushed-once 1 "$(jq -r 'select(.op=="RegisterImage") | .n' "$W/create.log" | wc -l)"
assert_eq create-ami-tagged 1 "$(aws_py images web test)"
assert_eq create-env-stack-first "test web-test" \
	"$(jq -r 'select(.op=="CreateStack") | .form.StackName' "$W/create.log" | tr '\n' ' ' | sed 's/ $//')"
assert_eq create-describe-azs 1 "$(jq -r 'select(.op=="DescribeAvailabilityZones") | .n' "$W/create.log" | wc -l)"
assert_contains create-stack-tags "$(jq -c 'select(.op=="CreateStack" and .form.StackName=="web-test") | .form' "$W/create.log")" \
	'"Tags.member.1.Key":"i2kit:service","Tags.member.1.Value":"web","Tags.member.2.Key":"i2kit:environment","Tags.member.2.Value":"test"'
assert_contains create-events-streamed "$(cat "$W/create.json.err")" "web-test AWS::CloudFormation::Stack CREATE_COMPLETE"
assert_contains create-health-asked "$(jq -r .op "$W/create.log" | sort -u | tr '\n' ' ')" "DescribeTargetHealth"
# the service template, as sent
T=$(sent_template "$W/create.log" CreateStack web-test)
printf '%s\n' "$T" >"$W/web-test.template.json"
"$PY" - "$W/web-test.template.json" "$AMI1" <<'PY' | while IFS= read -r line; do
import json, sys
t = json.load(open(sys.argv[1])); ami = sys.argv[2]
R = t["Resources"]
def ok(name, cond, why=""):
    print(("ok %s" % name) if cond else ("bad %s: %s" % (name, why)))
types = {k: v["Type"] for k, v in R.items()}
def one(ty):
    ks = [k for k, v in types.items() if v == ty]
    return R[ks[0]] if len(ks) == 1 else None
lt = one("AWS::EC2::LaunchTemplate"); asg = one("AWS::AutoScaling::AutoScalingGroup")
lb = one("AWS::ElasticLoadBalancingV2::LoadBalancer"); tg = one("AWS::ElasticLoadBalancingV2::TargetGroup")
li = one("AWS::ElasticLoadBalancingV2::Listener")
ok("tpl-resources", lt and asg and lb and tg and li, sorted(types.values()))
if not (lt and asg and lb and tg and li):
    sys.exit(0)
d = lt["Properties"]["LaunchTemplateData"]
ok("tpl-image-id", d.get("ImageId") == ami, d.get("ImageId"))
ok("tpl-instance-type", d.get("InstanceType") == "t3.small", d.get("InstanceType"))
ok("tpl-imdsv2", d.get("MetadataOptions", {}).get("HttpTokens") == "required", d.get("MetadataOptions"))
ud = json.dumps(d.get("UserData"))
ok("tpl-user-data", "i2kit" in ud and "web" in ud, ud[:200])
p = asg["Properties"]
ok("tpl-asg-sizes", [str(p.get(k)) for k in ("MinSize", "MaxSize", "DesiredCapacity")] == ["2", "2", "2"], p)
ok("tpl-asg-elb-health", p.get("HealthCheckType") == "ELB", p.get("HealthCheckType"))
ru = asg.get("UpdatePolicy", {}).get("AutoScalingRollingUpdate", {})
ok("tpl-rolling-one-at-a-time", str(ru.get("MaxBatchSize")) == "1", ru)
ok("tpl-alb", lb["Properties"].get("Type") == "application", lb["Properties"].get("Type"))
ok("tpl-public", lb["Properties"].get("Scheme") == "internet-facing", lb["Properties"].get("Scheme"))
ok("tpl-listener-80", str(li["Properties"].get("Port")) == "80" and li["Properties"].get("Protocol") == "HTTP", li["Properties"])
tp = tg["Properties"]
ok("tpl-tg-health-path", tp.get("HealthCheckPath") == "/health", tp)
ok("tpl-tg-port", str(tp.get("Port")) == "80", tp.get("Port"))
sgs = [v for v in R.values() if v["Type"] == "AWS::EC2::SecurityGroup"]
ingress = json.dumps([s["Properties"].get("SecurityGroupIngress") for s in sgs])
ok("tpl-balancer-open-to-world", "0.0.0.0/0" in ingress, ingress[:300])
tags = json.dumps(p.get("Tags"))
ok("tpl-asg-tags", "i2kit:service" in tags and "i2kit:environment" in tags, tags[:300])
ok("tpl-outputs", {"Endpoint", "AutoScalingGroupName", "TargetGroupArns"} <= set(t.get("Outputs", {})), list(t.get("Outputs", {})))
PY
	case "$line" in
	ok\ *) t_pass "create-${line#ok }" ;;
	bad\ *) line=${line#bad }; t_fail "create-${line%%:*}" "${line#*: }" ;;
	*) t_fail create-template-check "$line" ;;
	esac
done

# the environment template, as sent: a VPC and one subnet per available zone
ET=$(sent_template "$W/create.log" CreateStack test)
assert_eq env-tpl-vpc-cidr 10.192.0.0/16 "$(jq -r '.Resources[] | select(.Type=="AWS::EC2::VPC") | .Properties.CidrBlock' <<<"$ET")"
nazs=$("$PY" -c "import boto3; print(len([z for z in boto3.client('ec2',endpoint_url='$MOTO_URL',region_name='us-east-1').describe_availability_zones()['AvailabilityZones'] if z['State']=='available']))")
assert_eq env-tpl-subnet-per-az "$nazs" "$(jq -r '[.Resources[] | select(.Type=="AWS::EC2::Subnet")] | length' <<<"$ET")"
assert_eq env-tpl-internal-sg 1 "$(jq -r '[.Resources[] | select(.Type=="AWS::EC2::SecurityGroup")] | length' <<<"$ET")"

# plain output: the URL on stdout
assert_exit plain-ps-before 0 "$I2KIT" ps --provider aws -e "$W/env.yml" --endpoint-url "$MOTO_URL"
assert_contains ps-lists-web "$T_OUT" "web"

# ---- unchanged redeploy: nothing built or pushed ------------------------------------
# (moto updates a stack even when nothing changed; AWS answers this, canned:)
cat >"$W/noupdates.xml" <<XML
<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>
<Code>ValidationError</Code><Message>No updates are to be performed.</Message></Error>
<RequestId>canned</RequestId></ErrorResponse>
XML
PROXY_ARGS=(--reply "UpdateStack:web-test=$W/noupdates.xml")
deploy "$W/same.log" "$W/same.out" -s "$W/web.yml" -e "$W/env.yml"
PROXY_ARGS=()
assert_contains same-no-updates-is-success "$(cat "$W/same.out.err")" "stack web-test: no updates are to be performed"
assert_eq same-exit 0 "$rc"
assert_eq same-nothing-pushed 0 "$(jq -r 'select(.op=="StartSnapshot" or .op=="RegisterImage") | .n' "$W/same.log" | wc -l)"
assert_contains same-ami-reused "$(cat "$W/same.out.err")" "$AMI1"
assert_contains same-prints-url "$(cat "$W/same.out")" "http://"
assert_eq same-no-create 0 "$(jq -r 'select(.op=="CreateStack") | .n' "$W/same.log" | wc -l)"

# ---- update: a new AMI rolls ---------------------------------------------------------
deploy "$W/update.log" "$W/update.json" -s "$W/web2.yml" -e "$W/env.yml" --json
assert_eq update-exit 0 "$rc"
[ "$rc" = 0 ] || echo "# update stderr: $(tail -c 1500 "$W/update.json.err")"
AMI2=$(jq -r .ami "$W/update.json")
assert_ne update-new-ami "$AMI1" "$AMI2"
assert_eq update-not-created false "$(jq -r .created "$W/update.json")"
assert_eq update-status UPDATE_COMPLETE "$(jq -r .status "$W/update.json")"
assert_eq update-image-id-sent "$AMI2" \
	"$(sent_template "$W/update.log" UpdateStack web-test | jq -r '.Resources[] | select(.Type=="AWS::EC2::LaunchTemplate") | .Properties.LaunchTemplateData.ImageId')"
assert_eq update-no-createstack 0 "$(jq -r 'select(.op=="CreateStack") | .n' "$W/update.log" | wc -l)"

# ---- ps --------------------------------------------------------------------------------
assert_exit ps-json 0 "$I2KIT" ps --provider aws -e "$W/env.yml" --endpoint-url "$MOTO_URL" --json
printf '%s\n' "$T_OUT" >"$W/ps.json"
assert_eq ps-one-service "web test" "$(jq -r '.[] | "\(.service) \(.environment)"' "$W/ps.json")"
assert_eq ps-two-instances 2 "$(jq -r '.[0].instances | length' "$W/ps.json")"
# moto does not replace the group's instances on an update (no rolling
# update): they keep AMI1; the group's launch template is on AMI2
assert_eq ps-instances-images "$AMI1 $AMI1" "$(jq -r '[.[0].instances[].image] | join(" ")' "$W/ps.json")"
assert_eq update-launch-template-on-new-ami "$AMI2" "$(aws_py lt-image web-test)"
assert_eq ps-healthy "healthy healthy" "$(jq -r '[.[0].instances[].target_health] | join(" ")' "$W/ps.json")"
assert_eq ps-endpoint "$(jq -r .endpoint "$W/update.json")" "$(jq -r '.[0].endpoint' "$W/ps.json")"

# ---- stateful: one instance + Elastic IP + data volume; an update detaches first ------
write_db() { # FILE MODE
	cat >"$1" <<YML
name: db
stateful: true
containers:
  db:
    image: $REG_PLAIN/fixtures/busybox:latest
    command: sh -c 'exec nc -lk -p 5432 -e echo $2'
    ports: ["tcp:5432:tcp:5432"]
YML
}
write_db "$W/db.yml" v1
write_db "$W/db2.yml" v2
deploy "$W/db.log" "$W/db.json" -s "$W/db.yml" -e "$W/env.yml" --json
assert_eq stateful-create-exit 0 "$rc"
[ "$rc" = 0 ] || echo "# db stderr: $(tail -c 1500 "$W/db.json.err")"
DT=$(sent_template "$W/db.log" CreateStack db-test)
assert_eq stateful-resources "AWS::EC2::EIP AWS::EC2::Instance AWS::EC2::SecurityGroup AWS::EC2::Volume AWS::EC2::VolumeAttachment" \
	"$(jq -r '[.Resources[].Type] | sort | join(" ")' <<<"$DT")"
DSNAP=$(jq -r '.Resources.DataVolume.Properties.SnapshotId' <<<"$DT")
assert_contains stateful-data-snapshot-sent "$DSNAP" "snap-"
assert_eq stateful-data-snapshot-tagged "$DSNAP" "$(aws_py data-snapshots db-test)"
assert_eq stateful-data-snapshot-started "10 db-test" \
	"$(jq -r 'select(.op=="StartSnapshot") | select(any(.json.Tags[]?; .Key=="i2kit:data")) | "\(.json.VolumeSize) \(.json.Tags[] | select(.Key=="i2kit:data") | .Value)"' "$W/db.log")"
assert_eq stateful-data-snapshot-is-ext4-i2kit-data i2kit-data "$(aws_py ext4-label "$DSNAP")"
assert_eq stateful-no-health-wait 0 "$(jq -r 'select(.op=="DescribeTargetHealth") | .n' "$W/db.log" | wc -l)"
assert_contains stateful-endpoint "$(jq -r '.urls[0]' "$W/db.json")" ":5432"
deploy "$W/db2.log" "$W/db2.json" -s "$W/db2.yml" -e "$W/env.yml" --json
assert_eq stateful-update-exit 0 "$rc"
[ "$rc" = 0 ] || echo "# db2 stderr: $(tail -c 1500 "$W/db2.json.err")"
DB2AMI=$(jq -r .ami "$W/db2.json")
assert_eq stateful-update-two-steps 2 "$(jq -r 'select(.op=="UpdateStack" and .form.StackName=="db-test") | .n' "$W/db2.log" | wc -l)"
assert_eq stateful-update-step1-detached "false $DB2AMI" \
	"$(jq -c 'select(.op=="UpdateStack" and .form.StackName=="db-test") | .form.TemplateBody | fromjson' "$W/db2.log" | head -1 |
		jq -r '"\(.Resources | has("DataVolumeAttachment")) \(.Resources.Instance.Properties.ImageId)"')"
assert_eq stateful-update-step2-attached "true $DB2AMI" \
	"$(jq -c 'select(.op=="UpdateStack" and .form.StackName=="db-test") | .form.TemplateBody | fromjson' "$W/db2.log" | tail -1 |
		jq -r '"\(.Resources | has("DataVolumeAttachment")) \(.Resources.Instance.Properties.ImageId)"')"
assert_eq stateful-update-same-data-snapshot "$DSNAP $DSNAP" \
	"$(jq -c 'select(.op=="UpdateStack" and .form.StackName=="db-test") | .form.TemplateBody | fromjson' "$W/db2.log" |
		jq -r '.Resources.DataVolume.Properties.SnapshotId' | tr '\n' ' ' | sed 's/ $//')"
assert_exit stateful-destroy 0 "$I2KIT" destroy --provider aws -s "$W/db.yml" -e "$W/env.yml" --endpoint-url "$MOTO_URL"
assert_eq stateful-destroy-stack-gone none "$(aws_py stack-status db-test)"
assert_eq stateful-destroy-amis-gone 0 "$(aws_py images db test)"
assert_eq stateful-destroy-data-snapshot-gone 0 "$(aws_py snapshot-exists "$DSNAP")"

# ---- a failing update (canned: moto cannot fail one) -------------------------------------
STACK_ID=$("$PY" -c "import boto3,sys; print(boto3.client('cloudformation',endpoint_url='$MOTO_URL',region_name='us-east-1').describe_stacks(StackName='web-test')['Stacks'][0]['StackId'])")
cat >"$W/failed-stacks.xml" <<XML
<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>
<StackId>$STACK_ID</StackId><StackName>web-test</StackName><StackStatus>UPDATE_ROLLBACK_COMPLETE</StackStatus>
<StackStatusReason>The following resource(s) failed to update: [LaunchTemplate]</StackStatusReason>
</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>canned</RequestId></ResponseMetadata></DescribeStacksResponse>
XML
ev() { # ID TIME LOGICAL TYPE STATUS REASON
	printf '<member><EventId>%s</EventId><StackId>%s</StackId><StackName>web-test</StackName><LogicalResourceId>%s</LogicalResourceId><PhysicalResourceId>x</PhysicalResourceId><ResourceType>%s</ResourceType><Timestamp>2026-01-01T10:00:%s.000Z</Timestamp><ResourceStatus>%s</ResourceStatus><ResourceStatusReason>%s</ResourceStatusReason></member>' \
		"$1" "$STACK_ID" "$3" "$4" "$2" "$5" "$6"
}
{
	echo '<DescribeStackEventsResponse><DescribeStackEventsResult><StackEvents>'
	ev c5 05 web-test AWS::CloudFormation::Stack UPDATE_ROLLBACK_COMPLETE ""
	ev c4 04 web-test AWS::CloudFormation::Stack UPDATE_ROLLBACK_IN_PROGRESS "The following resource(s) failed to update: [LaunchTemplate]"
	ev c3 03 LaunchTemplate AWS::EC2::LaunchTemplate UPDATE_FAILED "The image id '[ami-0123]' does not exist (Service: Ec2, Status Code: 400)"
	ev c2 02 LaunchTemplate AWS::EC2::LaunchTemplate UPDATE_IN_PROGRESS ""
	ev c1 01 web-test AWS::CloudFormation::Stack UPDATE_IN_PROGRESS "User Initiated"
	echo '</StackEvents></DescribeStackEventsResult></DescribeStackEventsResponse>'
} >"$W/failed-events.xml"
PROXY_ARGS=(--reply "DescribeStacks:web-test=-" --reply "DescribeStacks:web-test=$W/failed-stacks.xml"
	--reply "DescribeStackEvents:web-test=-" --reply "DescribeStackEvents:web-test=$W/failed-events.xml")
deploy "$W/fail.log" "$W/fail.out" -s "$W/web3.yml" -e "$W/env.yml"
PROXY_ARGS=()
assert_eq fail-exit-3 3 "$rc"
assert_contains fail-names-resource "$(cat "$W/fail.out.err")" \
	"stack web-test: UPDATE_ROLLBACK_COMPLETE: LaunchTemplate (AWS::EC2::LaunchTemplate) UPDATE_FAILED: The image id '[ami-0123]' does not exist"
assert_contains fail-events-streamed "$(cat "$W/fail.out.err")" "10:00:03 LaunchTemplate AWS::EC2::LaunchTemplate UPDATE_FAILED"
AMI3=$(jq -r 'select(.op=="RegisterImage" and .status==200) | .n' "$W/fail.log" | wc -l)
assert_eq fail-ami-was-pushed 1 "$AMI3"
assert_eq fail-ami-removed 1 "$(jq -r 'select(.op=="DeregisterImage") | .n' "$W/fail.log" | wc -l)"
assert_eq fail-tagged-amis-back-to-two 2 "$(aws_py images web test)"
snap3=$(jq -r 'select(.op=="RegisterImage") | .form["BlockDeviceMapping.1.Ebs.SnapshotId"]' "$W/fail.log")
assert_eq fail-snapshot-delete-sent "$snap3" "$(jq -r 'select(.op=="DeleteSnapshot" and .status==200) | .form.SnapshotId' "$W/fail.log")"
assert_eq fail-snapshot-deleted 0 "$(aws_py snapshot-exists "$snap3")"

# ---- a stack in ROLLBACK_COMPLETE is deleted and created again (canned status) ------------
sed 's/UPDATE_ROLLBACK_COMPLETE/ROLLBACK_COMPLETE/' "$W/failed-stacks.xml" >"$W/rollback-stacks.xml"
PROXY_ARGS=(--reply "DescribeStacks:web-test=$W/rollback-stacks.xml" --reply "DescribeStacks:web-test=-")
deploy "$W/rb.log" "$W/rb.out" -s "$W/web2.yml" -e "$W/env.yml"
PROXY_ARGS=()
assert_eq rollback-complete-exit 0 "$rc"
[ "$rc" = 0 ] || echo "# rollback stderr: $(tail -c 1500 "$W/rb.out.err")"
assert_contains rollback-complete-said "$(cat "$W/rb.out.err")" "ROLLBACK_COMPLETE (a failed create): deleting it"
assert_eq rollback-complete-delete-then-create "DeleteStack CreateStack" \
	"$(jq -r 'select((.op=="DeleteStack" or .op=="CreateStack") and (.form.StackName|test("web-test"))) | .op' "$W/rb.log" | tr '\n' ' ' | sed 's/ $//')"
assert_eq rollback-complete-recreated CREATE_COMPLETE "$(aws_py stack-status web-test)"

# ---- unhealthy targets: the bounded health wait ends with an error (canned) -------------
cat >"$W/unhealthy.xml" <<XML
<DescribeTargetHealthResponse><DescribeTargetHealthResult><TargetHealthDescriptions>
<member><Target><Id>i-1</Id><Port>80</Port></Target><TargetHealth><State>healthy</State></TargetHealth></member>
<member><Target><Id>i-2</Id><Port>80</Port></Target><TargetHealth><State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason></TargetHealth></member>
</TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>
XML
PROXY_ARGS=(--reply "DescribeTargetHealth=$W/unhealthy.xml")
deploy "$W/uh.log" "$W/uh.out" -s "$W/web2.yml" -e "$W/env.yml" --wait 3
PROXY_ARGS=()
assert_eq unhealthy-exit-3 3 "$rc"
assert_contains unhealthy-message "$(cat "$W/uh.out.err")" "1 of 2 targets healthy after 3 s; i-2 is unhealthy: Target.FailedHealthChecks"

# ---- Ctrl-C while a create runs: the stack is deleted, the AMI removed, exit 130 ----------
# (canned: moto's creates finish at once, so the stack is kept CREATE_IN_PROGRESS
# for two polls; the first DescribeStacks — does it exist? — and the ones of the
# deletion reach moto)
sed 's/<StackStatus>UPDATE_ROLLBACK_COMPLETE</<StackStatus>CREATE_IN_PROGRESS</; s/web-test/api-test/g' \
	"$W/failed-stacks.xml" >"$W/busy-stacks.xml"
sed 's/^name: web$/name: api/' "$W/web.yml" >"$W/api.yml"
rm -f "$W/int.log"
proxy_start "$W/int.log" --reply "DescribeStacks:api-test=-" --reply "DescribeStacks:api-test=$W/busy-stacks.xml" \
	--reply "DescribeStacks:api-test=$W/busy-stacks.xml" --reply "DescribeStacks:api-test=-"
"$I2KIT" deploy --provider aws --endpoint-url "$PX_URL" "${FETCH[@]}" -s "$W/api.yml" -e "$W/env.yml" \
	>"$W/int.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
	[ "$(jq -r 'select(.fault=="reply") | .n' "$W/int.log" 2>/dev/null | wc -l)" -ge 2 ] && break
	sleep 0.1
done
kill -INT $pid
rc=0
wait $pid || rc=$?
proxy_stop
assert_eq interrupt-exit-130 130 "$rc"
assert_contains interrupt-deletes-stack "$(cat "$W/int.out")" "deleting the failed stack api-test"
assert_eq interrupt-stack-gone none "$(aws_py stack-status api-test)"
assert_eq interrupt-ami-pushed 1 "$(jq -r 'select(.op=="RegisterImage" and .status==200) | .n' "$W/int.log" | wc -l)"
assert_eq interrupt-ami-removed 0 "$(aws_py images api test)"

# ---- a wrong secret ----------------------------------------------------------------------------
stacks0=$(aws_py stack-names)
assert_exit wrong-secret-exit-3 3 env AWS_SECRET_ACCESS_KEY=not-the-secret-xyz \
	"$I2KIT" deploy --provider aws --endpoint-url "$MOTO_URL" "${FETCH[@]}" -s "$W/web.yml" -e "$W/env.yml"
assert_contains wrong-secret-message "$T_OUT" "AuthFailure"
assert_not_contains wrong-secret-not-printed "$T_OUT" "not-the-secret-xyz"
assert_eq wrong-secret-nothing-created "$stacks0" "$(aws_py stack-names)"

# ---- destroy ---------------------------------------------------------------------------------
amis=$(aws_py image-ids web test)
# the snapshots i2kit registered its AMIs from (moto adds its own per AMI)
snaps=$(cat "$W/create.log" "$W/update.log" | jq -r 'select(.op=="RegisterImage") | .form["BlockDeviceMapping.1.Ebs.SnapshotId"]')
proxy_start "$W/destroy.log"
assert_exit destroy-exit 0 "$I2KIT" destroy --provider aws -s "$W/web.yml" -e "$W/env.yml" --endpoint-url "$PX_URL"
proxy_stop
assert_contains destroy-says-stack "$T_OUT" "stack web-test deleted"
assert_eq destroy-stack-gone none "$(aws_py stack-status web-test)"
assert_eq destroy-amis-deregistered 0 "$(aws_py images web test)"
for a in $amis; do assert_eq "destroy-ami-$a-gone" 0 "$(aws_py image-exists "$a")"; done
for s in $snaps; do assert_eq "destroy-snapshot-$s-deleted" 0 "$(aws_py snapshot-exists "$s")"; done
assert_contains destroy-env-stack-stays "$(aws_py stack-status test)" "_COMPLETE"
assert_eq destroy-deletes-by-id 1 "$(jq -r 'select(.op=="DeleteStack") | .form.StackName' "$W/destroy.log" | grep -c ':stack/web-test/')"
aws_py moto-vpc-leftovers test
assert_exit destroy-all 0 "$I2KIT" destroy --provider aws -e "$W/env.yml" --all --endpoint-url "$MOTO_URL"
assert_eq destroy-all-env-stack-gone none "$(aws_py stack-status test)"
assert_exit destroy-needs-env 2 "$I2KIT" destroy --provider aws -s "$W/web.yml"
assert_exit deploy-local-options-refused 2 "$I2KIT" deploy --provider aws --detach -s "$W/web.yml" -e "$W/env.yml"
assert_exit deploy-aws-needs-env 2 "$I2KIT" deploy --provider aws --endpoint-url "$MOTO_URL" "${FETCH[@]}" -s "$W/web.yml"
assert_contains deploy-aws-needs-env-message "$T_OUT" "needs an environment"

# ---- a CreateStack refused at once: the AMI pushed for it is removed (last:
# moto's stuck record of the refused stack breaks its DescribeStacks listing)
cat >"$W/other.yml" <<YML
name: other
provider: {type: aws, region: us-east-1, vpc: vpc-0000000000000dead, subnets: [subnet-000000000000dead1, subnet-000000000000dead2]}
kernel: {image: "$REG_PLAIN/fixtures/kernel:6.1", cmdline: "console=ttyS0"}
init: ["$REG_PLAIN/i2kit/init:$I2K_VERSION"]
YML
deploy "$W/refused.log" "$W/refused.out" -s "$W/web.yml" -e "$W/other.yml"
assert_eq refused-exit-3 3 "$rc"
assert_contains refused-message "$(cat "$W/refused.out.err")" "vpc-0000000000000dead"
assert_eq refused-ami-pushed 1 "$(jq -r 'select(.op=="RegisterImage" and .status==200) | .n' "$W/refused.log" | wc -l)"
assert_eq refused-ami-removed 0 "$(aws_py images web other)"
snapr=$(jq -r 'select(.op=="RegisterImage") | .form["BlockDeviceMapping.1.Ebs.SnapshotId"]' "$W/refused.log")
assert_eq refused-snapshot-delete-sent "$snapr" "$(jq -r 'select(.op=="DeleteSnapshot" and .status==200) | .form.SnapshotId' "$W/refused.log")"
assert_eq refused-snapshot-deleted 0 "$(aws_py snapshot-exists "$snapr")"

t_done
