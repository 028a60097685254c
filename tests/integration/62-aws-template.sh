#!/bin/bash
# 62-aws-template.sh — `i2kit template --provider aws --cloudformation`
# from the command line, no AWS needed:
#   * the service stack (ALB with https, NLB with ssl, stateful) and the
#     environment stack (created network, given network) print as JSON that
#     jq parses, with the expected resources;
#   * every template passes cfn-lint (AWS's own linter, with its bundled
#     resource schemas: property names and types as real CloudFormation
#     reads them) without errors or warnings — cfn-lint missing is a FAIL;
#   * two runs print the same bytes;
#   * usage errors exit 2, a https port without a certificate exits 1 with
#     its reason.
set -euo pipefail
. "$(dirname "$0")/lib/harness.sh"
I2KIT=${I2KIT:-$REPO/i2kit}
W=$(t_tmpdir)
for tool in jq cfn-lint; do
	command -v $tool >/dev/null || t_skip_is_fail "tool-$tool" "$tool is not installed"
done

cat >"$W/env.yml" <<'YML'
name: prod
provider:
  type: aws
  region: eu-west-1
  keypair: deploy
  hosted_zone: example.com
  certificate: arn:aws:acm:eu-west-1:123456789012:certificate/0000-1111
YML
cat >"$W/env-vpc.yml" <<'YML'
name: stage
provider: {type: aws, vpc: vpc-0a1b2c3d, subnets: [subnet-0a1b2c3d, subnet-1a2b3c4d]}
YML
cat >"$W/env-nocert.yml" <<'YML'
name: prod
provider: {type: aws}
YML
cat >"$W/web.yml" <<'YML'
name: web
replicas: 3
public: true
containers:
  app:
    image: example/web:1
    ports: ["http:80:http:8080", "https:443:http:8080"]
    healthcheck: {path: /health, interval: 10s, timeout: 2s}
YML
cat >"$W/db.yml" <<'YML'
name: db
replicas: 2
containers:
  pg:
    image: example/pg:16
    ports: ["tcp:5432:tcp:5432", "ssl:6432:tcp:5432"]
YML
cat >"$W/store.yml" <<'YML'
name: store
stateful: true
public: true
instance_type: t3.small
containers:
  s: {image: example/store:1, ports: ["9000"]}
YML

# cfn_check NAME ARGS...: the template prints and parses (linted below,
# all in one cfn-lint run: it takes seconds to load its schemas).
LINT=()
cfn_check() {
	local name=$1
	shift
	if ! "$I2KIT" template --provider aws --cloudformation "$@" >"$W/$name.json" 2>"$W/$name.err"; then
		t_fail "$name-prints" "exit $?: $(head -c 300 "$W/$name.err")"
		return
	fi
	if jq -e '.AWSTemplateFormatVersion == "2010-09-09"' "$W/$name.json" >/dev/null; then
		t_pass "$name-json"
	else
		t_fail "$name-json" "not a template: $(head -c 200 "$W/$name.json")"
	fi
	LINT+=("$name")
}

cfn_check web -s "$W/web.yml" -e "$W/env.yml"
cfn_check db -s "$W/db.yml" -e "$W/env.yml"
cfn_check store -s "$W/store.yml" -e "$W/env.yml"
cfn_check store-vpc -s "$W/store.yml" -e "$W/env-vpc.yml"
cfn_check envstack --environment-stack -e "$W/env.yml"
cfn_check envstack-vpc --environment-stack -e "$W/env-vpc.yml"
# a template with two mistakes, so that a linter that finds nothing fails here
jq '.Resources.LaunchTemplate.Properties.LaunchTemplateData.MetadataOptions.HttpTokens = "bogus"
	| .Resources.LoadBalancer.Properties.Typo = 1' "$W/web.json" >"$W/broken.json"
lint_rc=0
lint=$(cd "$W" && cfn-lint --format parseable -- "${LINT[@]/%/.json}" broken.json 2>&1) || lint_rc=$?
for name in "${LINT[@]}"; do
	if grep -q "^$name.json:" <<<"$lint"; then
		t_fail "$name-cfn-lint" "$(grep "^$name.json:" <<<"$lint" | head -3 | tr '\n' ' ')"
	else
		t_pass "$name-cfn-lint"
	fi
done
assert_contains cfn-lint-sees-bogus "$lint" "'bogus' is not one of"
assert_contains cfn-lint-sees-typo "$lint" "'Typo' was unexpected"
assert_ne cfn-lint-rc 0 "$lint_rc"

types() { jq -r '[.Resources[].Type] | unique | join(" ")' "$1"; }
assert_contains web-alb "$(jq -r .Resources.LoadBalancer.Properties.Type "$W/web.json")" application
assert_eq web-https-cert "arn:aws:acm:eu-west-1:123456789012:certificate/0000-1111" \
	"$(jq -r '.Resources.Listener443.Properties.Certificates[0].CertificateArn' "$W/web.json")"
assert_eq web-imdsv2 required \
	"$(jq -r .Resources.LaunchTemplate.Properties.LaunchTemplateData.MetadataOptions.HttpTokens "$W/web.json")"
assert_eq web-params "ImageId InternalSecurityGroupId SubnetIds VpcId" \
	"$(jq -r '.Parameters | keys | join(" ")' "$W/web.json")"
assert_eq db-nlb-tls network/TLS \
	"$(jq -r '.Resources.LoadBalancer.Properties.Type + "/" + .Resources.Listener6432.Properties.Protocol' "$W/db.json")"
assert_eq store-types "AWS::EC2::EIP AWS::EC2::Instance AWS::EC2::SecurityGroup AWS::EC2::Volume AWS::EC2::VolumeAttachment AWS::Route53::RecordSet" \
	"$(types "$W/store.json")"
assert_eq store-vpc-no-network-params "ImageId InternalSecurityGroupId" \
	"$(jq -r '.Parameters | keys | join(" ")' "$W/store-vpc.json")"
assert_eq envstack-subnets "10.192.0.0/24 10.192.1.0/24" \
	"$(jq -r '[.Resources.Subnet0.Properties.CidrBlock, .Resources.Subnet1.Properties.CidrBlock] | join(" ")' "$W/envstack.json")"
assert_eq envstack-vpc-outputs "vpc-0a1b2c3d" "$(jq -r .Outputs.VpcId.Value "$W/envstack-vpc.json")"
assert_not_contains envstack-vpc-no-vpc "$(types "$W/envstack-vpc.json")" "AWS::EC2::VPC"

# the same bytes twice
"$I2KIT" template --provider aws --cloudformation -s "$W/web.yml" -e "$W/env.yml" >"$W/web2.json"
if cmp -s "$W/web.json" "$W/web2.json"; then t_pass deterministic; else t_fail deterministic "two runs differ"; fi

# errors
assert_exit usage-no-env 2 "$I2KIT" template --provider aws --cloudformation -s "$W/web.yml"
assert_contains usage-no-env-msg "$T_OUT" "needs an environment"
assert_exit usage-local 2 "$I2KIT" template --provider local --cloudformation -s "$W/web.yml" -e "$W/env.yml"
assert_exit usage-envstack-alone 2 "$I2KIT" template --environment-stack -e "$W/env.yml"
assert_exit no-cert 1 "$I2KIT" template --provider aws --cloudformation -s "$W/web.yml" -e "$W/env-nocert.yml"
assert_contains no-cert-msg "$T_OUT" "https port 443 needs a certificate"
assert_exit help 0 "$I2KIT" template --help
assert_contains help-flag "$T_OUT" "--environment-stack"
# the LinuxKit YAML is unchanged by --provider aws
"$I2KIT" template -s "$W/web.yml" >"$W/a.yml"
"$I2KIT" template --provider aws -s "$W/web.yml" >"$W/b.yml"
if cmp -s "$W/a.yml" "$W/b.yml"; then t_pass yaml-same; else t_fail yaml-same "differs with --provider aws"; fi
t_done
