/* test_stack_template.c — the CloudFormation templates of
 * provision/aws/stack_template.c, parsed back with jansson: which resources
 * exist for which manifest, and the properties real AWS reads (balancer type,
 * listeners and certificates, health checks, security group rules, the
 * stateful variant, IMDSv2, tags), determinism, and the errors. */
#include "test.h"

#include <jansson.h>
#include <stdbool.h>

#include "builder/base/cleanup.h"
#include "provision/aws/stack_template.h"
#include "provision/service.h"

static const char *const subnets2[] = {"subnet-a", "subnet-b"};
static const struct i2k_stack_service_inputs inputs = {
    .region = "eu-west-1",
    .ami_id = "ami-0123",
    .user_data = "{\"service\":\"web\"}",
    .vpc_id = "vpc-1",
    .subnets = subnets2,
    .nsubnets = 2,
    .internal_sg = "sg-internal",
};

#define ENV_AWS                                                                                    \
	"name: prod\n"                                                                             \
	"provider: {type: aws, region: eu-west-1, keypair: key1, hosted_zone: example.com}\n"

static struct i2k_service *svc(const char *yaml)
{
	struct i2k_service *m = NULL;
	struct i2k_error *e = NULL;
	if (i2k_service_parse("s.yml", yaml, strlen(yaml), &m, &e) < 0) {
		fprintf(stderr, "  service: %s\n", e->msg);
		i2k_error_free(e);
		abort();
	}
	return m;
}

static struct i2k_environment *env(const char *yaml)
{
	struct i2k_environment *m = NULL;
	struct i2k_error *e = NULL;
	if (i2k_environment_parse("e.yml", yaml, strlen(yaml), &m, &e) < 0) {
		fprintf(stderr, "  environment: %s\n", e->msg);
		i2k_error_free(e);
		abort();
	}
	return m;
}

/* The service stack's template for two YAML texts, parsed (NULL on error,
 * printed). */
static json_t *service_json(const char *svc_yaml, const char *env_yaml,
			    const struct i2k_stack_service_inputs *in)
{
	struct i2k_service *s = svc(svc_yaml);
	struct i2k_environment *e = env(env_yaml);
	char *text = NULL;
	struct i2k_error *err = NULL;
	json_t *j = NULL;
	if (i2k_stack_service_template(s, e, in, &text, &err) < 0) {
		fprintf(stderr, "  template: %s\n", err->msg);
		i2k_error_free(err);
	} else {
		json_error_t je;
		j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
		if (!j)
			fprintf(stderr, "  not JSON: %s\n", je.text);
	}
	free(text);
	i2k_service_free(s);
	i2k_environment_free(e);
	return j;
}

static json_t *env_json(const char *env_yaml, const struct i2k_stack_env_inputs *in)
{
	struct i2k_environment *e = env(env_yaml);
	char *text = NULL;
	struct i2k_error *err = NULL;
	json_t *j = NULL;
	if (i2k_stack_env_template(e, in, &text, &err) < 0) {
		fprintf(stderr, "  template: %s\n", err->msg);
		i2k_error_free(err);
	} else {
		j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	}
	free(text);
	i2k_environment_free(e);
	return j;
}

/* The error of a service template that must fail: "CODE MESSAGE" (a new
 * string) or "(made)". */
static char *service_err(const char *svc_yaml, const char *env_yaml,
			 const struct i2k_stack_service_inputs *in)
{
	struct i2k_service *s = svc(svc_yaml);
	struct i2k_environment *e = env(env_yaml);
	char *text = NULL, *out;
	struct i2k_error *err = NULL;
	if (i2k_stack_service_template(s, e, in, &text, &err) == 0) {
		out = strdup("(made)");
	} else {
		size_t n = strlen(err->msg) + 16;
		out = malloc(n);
		snprintf(out, n, "%d %s", (int)err->code, err->msg);
		CHECK(text == NULL);
	}
	i2k_error_free(err);
	free(text);
	i2k_service_free(s);
	i2k_environment_free(e);
	return out;
}

#define SERVICE_ERR(s, e, in, want)                                                                \
	do {                                                                                       \
		char *_m = service_err(s, e, in);                                                  \
		CHECK_STR(_m, want);                                                               \
		free(_m);                                                                          \
	} while (0)

/* Walks "A.B.0.C" (numbers index arrays). NULL when absent. */
static json_t *at(json_t *j, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	for (char *k = strtok_r(copy, ".", &save); k && j; k = strtok_r(NULL, ".", &save)) {
		if (json_is_array(j))
			j = json_array_get(j, strtoul(k, NULL, 10));
		else
			j = json_object_get(j, k);
	}
	free(copy);
	return j;
}

/* PREFIX KEY joined (a static buffer: one use per expression). */
static const char *cat(const char *prefix, const char *key)
{
	static char buf[256];
	snprintf(buf, sizeof(buf), "%s%s", prefix, key);
	return buf;
}

static const char *str_at(json_t *j, const char *path)
{
	return json_string_value(at(j, path));
}

static long long int_at(json_t *j, const char *path)
{
	json_t *v = at(j, path);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* Whether JSON text equals the value at path. */
static bool eq_at(json_t *j, const char *path, const char *want)
{
	json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
	bool r = w && json_equal(at(j, path), w);
	if (!r) {
		char *got = at(j, path) ? json_dumps(at(j, path), JSON_ENCODE_ANY) : NULL;
		fprintf(stderr, "  %s: %s, want %s\n", path, got ? got : "(absent)", want);
		free(got);
	}
	json_decref(w);
	return r;
}

#define R "Resources."

static const char *web_https =
    "name: web\nreplicas: 3\npublic: true\ninstance_type: t3.small\n"
    "containers:\n"
    "  app:\n"
    "    image: x\n"
    "    ports: [\"http:80:http:8080\", \"https:443:http:8080:arn:aws:acm:eu-west-1:1:"
    "certificate/port\"]\n"
    "    healthcheck: {path: /health, interval: 10s, timeout: 3s}\n";

TEST(alb_for_http_ports)
{
	json_t *j = service_json(web_https, ENV_AWS, &inputs);
	CHECK(j != NULL);
	CHECK_STR(str_at(j, R "LoadBalancer.Type"), "AWS::ElasticLoadBalancingV2::LoadBalancer");
	CHECK_STR(str_at(j, R "LoadBalancer.Properties.Type"), "application");
	CHECK_STR(str_at(j, R "LoadBalancer.Properties.Scheme"), "internet-facing");
	CHECK(eq_at(j, R "LoadBalancer.Properties.Subnets", "[\"subnet-a\",\"subnet-b\"]"));
	CHECK(eq_at(j, R "LoadBalancer.Properties.SecurityGroups",
		    "[{\"Ref\":\"BalancerSecurityGroup\"}]"));
	CHECK_STR(str_at(j, R "Listener80.Properties.Protocol"), "HTTP");
	CHECK(at(j, R "Listener80.Properties.Certificates") == NULL);
	CHECK(eq_at(j, R "Listener80.Properties.DefaultActions",
		    "[{\"Type\":\"forward\",\"TargetGroupArn\":{\"Ref\":\"TargetGroup80\"}}]"));
	CHECK_STR(str_at(j, R "TargetGroup80.Properties.Protocol"), "HTTP");
	CHECK_INT(int_at(j, R "TargetGroup80.Properties.Port"), 8080);
	CHECK_STR(str_at(j, R "TargetGroup80.Properties.VpcId"), "vpc-1");
	CHECK_STR(str_at(j, R "TargetGroup80.Properties.TargetType"), "instance");
	/* the ASG: replicas, ELB checks, one at a time */
	const char *asg = R "AutoScalingGroup.Properties.";
	CHECK_STR(str_at(j, cat(asg, "MinSize")), "3");
	CHECK_STR(str_at(j, cat(asg, "MaxSize")), "3");
	CHECK_STR(str_at(j, cat(asg, "DesiredCapacity")), "3");
	CHECK_STR(str_at(j, cat(asg, "HealthCheckType")), "ELB");
	CHECK(eq_at(j, cat(asg, "TargetGroupARNs"),
		    "[{\"Ref\":\"TargetGroup80\"},{\"Ref\":\"TargetGroup443\"}]"));
	CHECK(eq_at(j, cat(asg, "VPCZoneIdentifier"), "[\"subnet-a\",\"subnet-b\"]"));
	CHECK(eq_at(j, R "AutoScalingGroup.UpdatePolicy",
		    "{\"AutoScalingRollingUpdate\":{\"MaxBatchSize\":1,"
		    "\"MinInstancesInService\":2,\"PauseTime\":\"PT1M\"}}"));
	CHECK(eq_at(j, R "AutoScalingGroup.DependsOn", "[\"Listener80\",\"Listener443\"]"));
	/* the outputs deploy reads */
	CHECK(
	    eq_at(j, "Outputs.Endpoint.Value", "{\"Fn::GetAtt\":[\"LoadBalancer\",\"DNSName\"]}"));
	CHECK(eq_at(j, "Outputs.AutoScalingGroupName.Value", "{\"Ref\":\"AutoScalingGroup\"}"));
	CHECK(eq_at(
	    j, "Outputs.TargetGroupArns.Value",
	    "{\"Fn::Join\":[\",\",[{\"Ref\":\"TargetGroup80\"},{\"Ref\":\"TargetGroup443\"}]]}"));
	CHECK_STR(str_at(j, "Outputs.DnsName.Value"), "web.prod.example.com");
	CHECK(at(j, "Outputs.InstanceId") == NULL);
	CHECK(at(j, "Parameters") == NULL); /* every input given */
	CHECK(at(j, R "Instance") == NULL);
	json_decref(j);
}

TEST(launch_template_imdsv2_and_user_data)
{
	json_t *j = service_json(web_https, ENV_AWS, &inputs);
	const char *d = R "LaunchTemplate.Properties.LaunchTemplateData.";
	CHECK_STR(str_at(j, cat(d, "ImageId")), "ami-0123");
	CHECK_STR(str_at(j, cat(d, "InstanceType")), "t3.small");
	CHECK_STR(str_at(j, cat(d, "KeyName")), "key1");
	CHECK_STR(str_at(j, cat(d, "MetadataOptions.HttpTokens")), "required");
	CHECK_STR(str_at(j, cat(d, "MetadataOptions.HttpEndpoint")), "enabled");
	CHECK(eq_at(j, cat(d, "UserData"), "{\"Fn::Base64\":\"{\\\"service\\\":\\\"web\\\"}\"}"));
	CHECK(eq_at(j, cat(d, "SecurityGroupIds"),
		    "[\"sg-internal\",{\"Ref\":\"InstanceSecurityGroup\"}]"));
	CHECK(eq_at(j, R "AutoScalingGroup.Properties.LaunchTemplate",
		    "{\"LaunchTemplateId\":{\"Ref\":\"LaunchTemplate\"},"
		    "\"Version\":{\"Fn::GetAtt\":[\"LaunchTemplate\",\"LatestVersionNumber\"]}}"));
	json_decref(j);

	/* instance type: the environment's, else the default; the
	 * environment's security group joins; no key pair without one */
	const char *plain =
	    "name: api\ncontainers: {c: {image: x, ports: [\"http:80:http:80\"]}}\n";
	j = service_json(plain,
			 "name: prod\nprovider: {type: aws, instance_type: m5.large, "
			 "security_group: sg-extra}\n",
			 &inputs);
	CHECK_STR(str_at(j, cat(d, "InstanceType")), "m5.large");
	CHECK(eq_at(j, cat(d, "SecurityGroupIds"),
		    "[\"sg-internal\",\"sg-extra\",{\"Ref\":\"InstanceSecurityGroup\"}]"));
	CHECK(at(j, cat(d, "KeyName")) == NULL);
	json_decref(j);
	j = service_json(plain, "name: prod\nprovider: {type: aws}\n", &inputs);
	CHECK_STR(str_at(j, cat(d, "InstanceType")), I2K_STACK_DEFAULT_INSTANCE_TYPE);
	CHECK_STR(str_at(j, cat(d, "InstanceType")), "t3.micro");
	json_decref(j);
}

TEST(https_listener_certificate)
{
	/* the port's certificate wins over the environment's */
	json_t *j = service_json(
	    web_https, "name: prod\nprovider: {type: aws, certificate: arn:env-cert}\n", &inputs);
	CHECK_STR(str_at(j, R "Listener443.Properties.Protocol"), "HTTPS");
	CHECK(eq_at(j, R "Listener443.Properties.Certificates",
		    "[{\"CertificateArn\":\"arn:aws:acm:eu-west-1:1:certificate/port\"}]"));
	CHECK_STR(str_at(j, R "Listener443.Properties.SslPolicy"), I2K_STACK_SSL_POLICY);
	/* https:443:http:8080 — the balancer terminates TLS, HTTP behind it */
	CHECK_STR(str_at(j, R "TargetGroup443.Properties.Protocol"), "HTTP");
	CHECK_INT(int_at(j, R "TargetGroup443.Properties.Port"), 8080);
	json_decref(j);

	const char *envcert = "name: web\ncontainers: {c: {image: x, ports: "
			      "[\"https:443:https:8443\"]}}\n";
	j = service_json(envcert, "name: prod\nprovider: {type: aws, certificate: arn:env-cert}\n",
			 &inputs);
	CHECK(eq_at(j, R "Listener443.Properties.Certificates",
		    "[{\"CertificateArn\":\"arn:env-cert\"}]"));
	CHECK_STR(str_at(j, R "TargetGroup443.Properties.Protocol"), "HTTPS");
	CHECK_STR(str_at(j, R "TargetGroup443.Properties.HealthCheckProtocol"), "HTTPS");
	json_decref(j);

	SERVICE_ERR(envcert, "name: prod\nprovider: {type: aws}\n", &inputs,
		    "2 s.yml: containers.c.ports: https port 443 needs a certificate (an ARN "
		    "after the port spec, or provider.certificate in e.yml)");
}

TEST(health_checks_from_manifest)
{
	json_t *j = service_json(web_https, ENV_AWS, &inputs);
	const char *tg = R "TargetGroup80.Properties.";
#define TG(k) cat(tg, k)
	CHECK_STR(str_at(j, TG("HealthCheckProtocol")), "HTTP");
	CHECK_STR(str_at(j, TG("HealthCheckPath")), "/health");
	CHECK_INT(int_at(j, TG("HealthCheckIntervalSeconds")), 10);
	CHECK_INT(int_at(j, TG("HealthCheckTimeoutSeconds")), 3);
	CHECK_INT(int_at(j, TG("HealthyThresholdCount")), 2);
	CHECK(eq_at(j, TG("Matcher"), "{\"HttpCode\":\"200-399\"}"));
	json_decref(j);

	/* ALB without a path: GET / accepting any HTTP answer; the default
	 * interval (5 s) and timeout (2 s) */
	j = service_json("name: web\ncontainers: {c: {image: x, ports: [\"http:80:http:80\"]}}\n",
			 ENV_AWS, &inputs);
	CHECK_STR(str_at(j, TG("HealthCheckProtocol")), "HTTP");
	CHECK_STR(str_at(j, TG("HealthCheckPath")), "/");
	CHECK(eq_at(j, TG("Matcher"), "{\"HttpCode\":\"200-499\"}"));
	CHECK_INT(int_at(j, TG("HealthCheckIntervalSeconds")), 5);
	CHECK_INT(int_at(j, TG("HealthCheckTimeoutSeconds")), 2);
	json_decref(j);

	/* NLB without a path: TCP; sub-second values rounded up and clamped,
	 * the timeout kept below the interval */
	j = service_json("name: db\ncontainers: {c: {image: x, ports: [\"5432\"], "
			 "healthcheck: {interval: 500ms, timeout: 30s}}}\n",
			 ENV_AWS, &inputs);
	tg = R "TargetGroup5432.Properties.";
	CHECK_STR(str_at(j, TG("HealthCheckProtocol")), "TCP");
	CHECK(at(j, TG("HealthCheckPath")) == NULL);
	CHECK(at(j, TG("Matcher")) == NULL);
	CHECK_INT(int_at(j, TG("HealthCheckIntervalSeconds")), 5);
	CHECK_INT(int_at(j, TG("HealthCheckTimeoutSeconds")), 4);
#undef TG
	json_decref(j);
}

TEST(nlb_for_tcp_and_ssl)
{
	json_t *j = service_json(
	    "name: db\npublic: true\ncontainers:\n"
	    "  pg: {image: x, ports: [\"tcp:5432:tcp:5432\", \"ssl:6432:tcp:5432\"]}\n",
	    "name: prod\nprovider: {type: aws, certificate: arn:env-cert}\n", &inputs);
	CHECK_STR(str_at(j, R "LoadBalancer.Properties.Type"), "network");
	CHECK_STR(str_at(j, R "Listener5432.Properties.Protocol"), "TCP");
	CHECK(at(j, R "Listener5432.Properties.Certificates") == NULL);
	CHECK_STR(str_at(j, R "Listener6432.Properties.Protocol"), "TLS");
	CHECK(eq_at(j, R "Listener6432.Properties.Certificates",
		    "[{\"CertificateArn\":\"arn:env-cert\"}]"));
	CHECK_STR(str_at(j, R "TargetGroup6432.Properties.Protocol"), "TCP");
	CHECK_INT(int_at(j, R "TargetGroup6432.Properties.Port"), 5432);
	/* the NLB has a security group, and the instances admit only it (the
	 * shared instance port once) */
	CHECK(eq_at(j, R "LoadBalancer.Properties.SecurityGroups",
		    "[{\"Ref\":\"BalancerSecurityGroup\"}]"));
	CHECK(eq_at(j, R "InstanceSecurityGroup.Properties.SecurityGroupIngress",
		    "[{\"IpProtocol\":\"tcp\",\"FromPort\":5432,\"ToPort\":5432,"
		    "\"SourceSecurityGroupId\":{\"Ref\":\"BalancerSecurityGroup\"},"
		    "\"Description\":\"the load balancer\"}]"));
	json_decref(j);
}

TEST(security_groups)
{
	/* public: the balancer open to the world on the listener ports, the
	 * instances on the instance port from the balancer only */
	json_t *j = service_json(web_https, ENV_AWS, &inputs);
	CHECK(eq_at(
	    j, R "BalancerSecurityGroup.Properties.SecurityGroupIngress",
	    "[{\"IpProtocol\":\"tcp\",\"FromPort\":80,\"ToPort\":80,\"CidrIp\":\"0.0.0.0/0\","
	    "\"Description\":\"clients\"},"
	    "{\"IpProtocol\":\"tcp\",\"FromPort\":443,\"ToPort\":443,\"CidrIp\":\"0.0.0.0/0\","
	    "\"Description\":\"clients\"}]"));
	CHECK(eq_at(j, R "InstanceSecurityGroup.Properties.SecurityGroupIngress",
		    "[{\"IpProtocol\":\"tcp\",\"FromPort\":8080,\"ToPort\":8080,"
		    "\"SourceSecurityGroupId\":{\"Ref\":\"BalancerSecurityGroup\"},"
		    "\"Description\":\"the load balancer\"}]"));
	CHECK_STR(str_at(j, R "InstanceSecurityGroup.Properties.VpcId"), "vpc-1");
	json_decref(j);

	/* not public: an internal balancer reachable from the environment's
	 * services only */
	j = service_json("name: api\ncontainers: {c: {image: x, ports: [\"http:80:http:80\"]}}\n",
			 ENV_AWS, &inputs);
	CHECK_STR(str_at(j, R "LoadBalancer.Properties.Scheme"), "internal");
	CHECK(eq_at(j, R "BalancerSecurityGroup.Properties.SecurityGroupIngress",
		    "[{\"IpProtocol\":\"tcp\",\"FromPort\":80,\"ToPort\":80,"
		    "\"SourceSecurityGroupId\":\"sg-internal\","
		    "\"Description\":\"services of the environment\"}]"));
	json_decref(j);
}

static const char *db_stateful = "name: db\nstateful: true\npublic: true\n"
				 "containers: {pg: {image: x, ports: [\"5432\"]}}\n";

TEST(stateful_instance_eip_volume)
{
	struct i2k_stack_service_inputs in = inputs;
	in.data_volume_gib = 50;
	json_t *j = service_json(db_stateful, ENV_AWS, &in);
	CHECK(at(j, R "AutoScalingGroup") == NULL);
	CHECK(at(j, R "LoadBalancer") == NULL);
	CHECK(at(j, R "LaunchTemplate") == NULL);
	CHECK(at(j, R "BalancerSecurityGroup") == NULL);
	const char *i = R "Instance.Properties.";
#define I(k) cat(i, k)
	CHECK_STR(str_at(j, R "Instance.Type"), "AWS::EC2::Instance");
	CHECK_STR(str_at(j, I("ImageId")), "ami-0123");
	CHECK_STR(str_at(j, I("SubnetId")), "subnet-a");
	CHECK_STR(str_at(j, I("KeyName")), "key1");
	CHECK_STR(str_at(j, I("MetadataOptions.HttpTokens")), "required");
	CHECK(eq_at(j, I("UserData"), "{\"Fn::Base64\":\"{\\\"service\\\":\\\"web\\\"}\"}"));
#undef I
	CHECK_STR(str_at(j, R "ElasticIp.Type"), "AWS::EC2::EIP");
	CHECK_STR(str_at(j, R "ElasticIp.Properties.Domain"), "vpc");
	CHECK(eq_at(j, R "ElasticIp.Properties.InstanceId", "{\"Ref\":\"Instance\"}"));
	CHECK_STR(str_at(j, R "DataVolume.Type"), "AWS::EC2::Volume");
	CHECK_INT(int_at(j, R "DataVolume.Properties.Size"), 50);
	CHECK(eq_at(j, R "DataVolume.Properties.AvailabilityZone",
		    "{\"Fn::GetAtt\":[\"Instance\",\"AvailabilityZone\"]}"));
	CHECK_STR(str_at(j, R "DataVolume.DeletionPolicy"), "Snapshot");
	CHECK(at(j, R "DataVolume.Properties.SnapshotId") == NULL);
	CHECK(eq_at(j, R "DataVolumeAttachment.Properties",
		    "{\"InstanceId\":{\"Ref\":\"Instance\"},\"VolumeId\":{\"Ref\":\"DataVolume\"},"
		    "\"Device\":\"/dev/xvdf\"}"));
	/* public: the instance port open to the world */
	CHECK(eq_at(j, R "InstanceSecurityGroup.Properties.SecurityGroupIngress",
		    "[{\"IpProtocol\":\"tcp\",\"FromPort\":5432,\"ToPort\":5432,"
		    "\"CidrIp\":\"0.0.0.0/0\",\"Description\":\"clients\"}]"));
	CHECK(eq_at(j, "Outputs.Endpoint.Value", "{\"Ref\":\"ElasticIp\"}"));
	CHECK(eq_at(j, "Outputs.InstanceId.Value", "{\"Ref\":\"Instance\"}"));
	CHECK(at(j, "Outputs.AutoScalingGroupName") == NULL);
	CHECK(at(j, "Outputs.TargetGroupArns") == NULL);
	/* DNS: a plain A record on the Elastic IP */
	CHECK_STR(str_at(j, R "DnsRecord.Properties.Type"), "A");
	CHECK(eq_at(j, R "DnsRecord.Properties.ResourceRecords", "[{\"Ref\":\"ElasticIp\"}]"));
	CHECK(at(j, R "DnsRecord.Properties.AliasTarget") == NULL);
	json_decref(j);

	/* the first step of an update that replaces the instance */
	in.detach_data_volume = true;
	in.data_volume_gib = 0;
	in.data_snapshot_id = "snap-0a1";
	j = service_json(db_stateful, ENV_AWS, &in);
	CHECK(at(j, R "DataVolumeAttachment") == NULL);
	CHECK(at(j, R "DataVolume") != NULL);
	CHECK_INT(int_at(j, R "DataVolume.Properties.Size"), I2K_STACK_DEFAULT_DATA_GIB);
	CHECK_STR(str_at(j, R "DataVolume.Properties.SnapshotId"), "snap-0a1");
	json_decref(j);

	SERVICE_ERR("name: db\nstateful: true\ncontainers: {pg: {image: x, ports: "
		    "[\"ssl:5432:tcp:5432:arn:c\"]}}\n",
		    ENV_AWS, &inputs,
		    "2 s.yml: containers.pg.ports: ssl port 5432: a stateful service has no "
		    "balancer to terminate TLS (use tcp:5432:tcp:5432)");
	SERVICE_ERR("name: db\nstateful: true\ncontainers: {pg: {image: x, ports: "
		    "[\"tcp:15432:tcp:5432\"]}}\n",
		    ENV_AWS, &inputs,
		    "2 s.yml: containers.pg.ports: port 15432 maps to instance port 5432, but a "
		    "stateful service has no balancer to map ports");
}

TEST(dns_alias_record)
{
	json_t *j = service_json(web_https, ENV_AWS, &inputs);
	CHECK(
	    eq_at(j, R "DnsRecord.Properties",
		  "{\"HostedZoneName\":\"example.com.\",\"Name\":\"web.prod.example.com.\","
		  "\"Type\":\"A\",\"AliasTarget\":{"
		  "\"DNSName\":{\"Fn::GetAtt\":[\"LoadBalancer\",\"DNSName\"]},"
		  "\"HostedZoneId\":{\"Fn::GetAtt\":[\"LoadBalancer\",\"CanonicalHostedZoneID\"]},"
		  "\"EvaluateTargetHealth\":false}}"));
	CHECK_STR(str_at(j, R "DnsRecord.Type"), "AWS::Route53::RecordSet");
	json_decref(j);

	/* a trailing dot in the zone name is not doubled */
	j = service_json(web_https, "name: prod\nprovider: {type: aws, hosted_zone: a.example.}\n",
			 &inputs);
	CHECK_STR(str_at(j, R "DnsRecord.Properties.HostedZoneName"), "a.example.");
	CHECK_STR(str_at(j, "Outputs.DnsName.Value"), "web.prod.a.example");
	json_decref(j);

	SERVICE_ERR(web_https, "name: prod\nprovider: {type: aws, hosted_zone: .}\n", &inputs,
		    "2 e.yml: provider.hosted_zone \".\" is not a domain name");
	/* no zone, no record */
	j = service_json(web_https, "name: prod\nprovider: {type: aws}\n", &inputs);
	CHECK(at(j, R "DnsRecord") == NULL);
	CHECK(at(j, "Outputs.DnsName") == NULL);
	json_decref(j);
}

/* Resource types that CloudFormation can tag, and how. */
static const char *const taggable[] = {
    "AWS::EC2::VPC",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::RouteTable",
    "AWS::EC2::Subnet",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Instance",
    "AWS::EC2::EIP",
    "AWS::EC2::Volume",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
};
static const char *const untaggable[] = {
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::VolumeAttachment",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::Route53::RecordSet",
};

static bool in_list(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, v[i]) == 0)
			return true;
	return false;
}

/* Whether a Tags array holds KEY=VALUE (with PropagateAtLaunch when asked). */
static bool has_tag(json_t *tags_, const char *key, const char *value, bool propagate)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags_, i, t)
	{
		const char *k = json_string_value(json_object_get(t, "Key"));
		if (!k || strcmp(k, key) != 0)
			continue;
		return json_is_string(json_object_get(t, "Value")) &&
		       strcmp(json_string_value(json_object_get(t, "Value")), value) == 0 &&
		       (!propagate || json_is_true(json_object_get(t, "PropagateAtLaunch")));
	}
	return false;
}

static void check_tags(json_t *j, const char *service)
{
	const char *name;
	json_t *r;
	json_object_foreach(json_object_get(j, "Resources"), name, r)
	{
		const char *type = json_string_value(json_object_get(r, "Type"));
		json_t *props = json_object_get(r, "Properties");
		json_t *tg = NULL;
		bool prop = false;
		if (in_list(type, taggable, I2K_ARRAY_SIZE(taggable))) {
			tg = json_object_get(props, "Tags");
		} else if (strcmp(type, "AWS::AutoScaling::AutoScalingGroup") == 0) {
			tg = json_object_get(props, "Tags");
			prop = true;
		} else if (strcmp(type, "AWS::EC2::LaunchTemplate") == 0) {
			tg = at(props, "TagSpecifications.0.Tags");
			CHECK_STR(str_at(props, "TagSpecifications.0.ResourceType"),
				  "launch-template");
			CHECK_STR(str_at(props, "LaunchTemplateData.TagSpecifications.0."
						"ResourceType"),
				  "volume");
			json_t *vt = at(props, "LaunchTemplateData.TagSpecifications.0.Tags");
			CHECK(has_tag(vt, I2K_STACK_TAG_ENVIRONMENT, "prod", false));
			CHECK(has_tag(vt, I2K_STACK_TAG_SERVICE, service, false));
		} else {
			if (!in_list(type, untaggable, I2K_ARRAY_SIZE(untaggable)))
				fprintf(stderr, "  %s: type %s is in neither list\n", name, type);
			CHECK(in_list(type, untaggable, I2K_ARRAY_SIZE(untaggable)));
			continue;
		}
		if (!has_tag(tg, I2K_STACK_TAG_ENVIRONMENT, "prod", prop))
			fprintf(stderr, "  %s: no i2kit:environment tag\n", name);
		CHECK(has_tag(tg, I2K_STACK_TAG_ENVIRONMENT, "prod", prop));
		if (service) {
			if (!has_tag(tg, I2K_STACK_TAG_SERVICE, service, prop))
				fprintf(stderr, "  %s: no i2kit:service tag\n", name);
			CHECK(has_tag(tg, I2K_STACK_TAG_SERVICE, service, prop));
		}
	}
}

TEST(tags_on_everything_taggable)
{
	json_t *j = service_json(web_https, ENV_AWS, &inputs);
	check_tags(j, "web");
	json_decref(j);
	j = service_json(db_stateful, ENV_AWS, &inputs);
	check_tags(j, "db");
	json_decref(j);
	j = env_json(ENV_AWS, NULL);
	check_tags(j, NULL);
	json_decref(j);
}

/* EC2's character sets: group descriptions a-zA-Z0-9, spaces and
 * ._-:/()#,@[]+=&;{}!$*; rule descriptions the same without '&'. */
static bool ec2_text(const char *s, bool rule)
{
	if (!s || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(" ._-:/()#,@[]+=;{}!$*", *s) ||
		      (!rule && *s == '&')))
			return false;
	return true;
}

static void check_descriptions(json_t *j)
{
	const char *name;
	json_t *r;
	json_object_foreach(json_object_get(j, "Resources"), name, r)
	{
		const char *type = json_string_value(json_object_get(r, "Type"));
		json_t *props = json_object_get(r, "Properties"), *rule;
		size_t i;
		if (strcmp(type, "AWS::EC2::SecurityGroupIngress") == 0)
			CHECK(ec2_text(str_at(props, "Description"), true));
		if (strcmp(type, "AWS::EC2::SecurityGroup") != 0)
			continue;
		CHECK(ec2_text(str_at(props, "GroupDescription"), false));
		json_array_foreach(json_object_get(props, "SecurityGroupIngress"), i, rule)
		{
			if (!ec2_text(str_at(rule, "Description"), true))
				fprintf(stderr, "  %s: rule description \"%s\"\n", name,
					str_at(rule, "Description"));
			CHECK(ec2_text(str_at(rule, "Description"), true));
		}
	}
}

TEST(security_group_descriptions_are_ec2_text)
{
	const char *svcs[] = {web_https, db_stateful,
			      "name: api\ncontainers: {c: {image: x, ports: [\"80\"]}}\n"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(svcs); i++) {
		json_t *j = service_json(svcs[i], ENV_AWS, &inputs);
		CHECK(j != NULL);
		check_descriptions(j);
		json_decref(j);
	}
	json_t *j = env_json(ENV_AWS, NULL);
	check_descriptions(j);
	json_decref(j);
	CHECK(!ec2_text("the environment's services", true)); /* the checker checks */
}

TEST(deterministic)
{
	struct i2k_service *s = svc(web_https);
	struct i2k_environment *e = env(ENV_AWS);
	char *a = NULL, *b = NULL;
	OK(i2k_stack_service_template(s, e, &inputs, &a, &_e));
	OK(i2k_stack_service_template(s, e, &inputs, &b, &_e));
	CHECK(a && b && strcmp(a, b) == 0);
	CHECK(a && a[strlen(a) - 1] == '\n');
	free(a);
	free(b);
	static const char *const azs[] = {"eu-west-1a", "eu-west-1b", "eu-west-1c"};
	struct i2k_stack_env_inputs ein = {.region = "eu-west-1", .azs = azs, .nazs = 3};
	OK(i2k_stack_env_template(e, &ein, &a, &_e));
	OK(i2k_stack_env_template(e, &ein, &b, &_e));
	CHECK(a && b && strcmp(a, b) == 0);
	free(a);
	free(b);
	i2k_service_free(s);
	i2k_environment_free(e);
}

TEST(environment_stack)
{
	static const char *const azs[] = {"eu-west-1a", "eu-west-1b", "eu-west-1c"};
	struct i2k_stack_env_inputs ein = {.region = "eu-west-1", .azs = azs, .nazs = 3};
	json_t *j = env_json(ENV_AWS, &ein);
	CHECK_STR(str_at(j, R "Vpc.Type"), "AWS::EC2::VPC");
	CHECK_STR(str_at(j, R "Vpc.Properties.CidrBlock"), "10.192.0.0/16");
	CHECK(json_is_true(at(j, R "Vpc.Properties.EnableDnsHostnames")));
	CHECK_STR(str_at(j, R "InternetGateway.Type"), "AWS::EC2::InternetGateway");
	CHECK(eq_at(
	    j, R "GatewayAttachment.Properties",
	    "{\"VpcId\":{\"Ref\":\"Vpc\"},\"InternetGatewayId\":{\"Ref\":\"InternetGateway\"}}"));
	CHECK(eq_at(j, R "DefaultRoute.Properties",
		    "{\"RouteTableId\":{\"Ref\":\"RouteTable\"},\"DestinationCidrBlock\":"
		    "\"0.0.0.0/0\",\"GatewayId\":{\"Ref\":\"InternetGateway\"}}"));
	CHECK_STR(str_at(j, R "DefaultRoute.DependsOn"), "GatewayAttachment");
	for (int i = 0; i < 3; i++) {
		char p[96], want[32];
		snprintf(p, sizeof(p), R "Subnet%d.Properties.CidrBlock", i);
		snprintf(want, sizeof(want), "10.192.%d.0/24", i);
		CHECK_STR(str_at(j, p), want);
		snprintf(p, sizeof(p), R "Subnet%d.Properties.AvailabilityZone", i);
		CHECK_STR(str_at(j, p), azs[i]);
		snprintf(p, sizeof(p), R "Subnet%d.Properties.MapPublicIpOnLaunch", i);
		CHECK(json_is_true(at(j, p)));
		snprintf(p, sizeof(p), R "Subnet%dRouteTableAssociation.Properties.RouteTableId",
			 i);
		CHECK(eq_at(j, p, "{\"Ref\":\"RouteTable\"}"));
	}
	CHECK(at(j, R "Subnet3") == NULL);
	CHECK(eq_at(j, R "InternalSecurityGroupIngress.Properties",
		    "{\"GroupId\":{\"Ref\":\"InternalSecurityGroup\"},\"IpProtocol\":\"-1\","
		    "\"SourceSecurityGroupId\":{\"Ref\":\"InternalSecurityGroup\"},"
		    "\"Description\":\"all traffic between members\"}"));
	CHECK(eq_at(j, "Outputs.VpcId.Value", "{\"Ref\":\"Vpc\"}"));
	CHECK(eq_at(j, "Outputs.SubnetIds.Value",
		    "{\"Fn::Join\":[\",\",[{\"Ref\":\"Subnet0\"},{\"Ref\":\"Subnet1\"},"
		    "{\"Ref\":\"Subnet2\"}]]}"));
	CHECK(eq_at(j, "Outputs.InternalSecurityGroupId.Value",
		    "{\"Ref\":\"InternalSecurityGroup\"}"));
	json_decref(j);

	/* no zones known: the region's first two */
	j = env_json(ENV_AWS, NULL);
	CHECK(eq_at(j, R "Subnet1.Properties.AvailabilityZone",
		    "{\"Fn::Select\":[1,{\"Fn::GetAZs\":\"\"}]}"));
	CHECK(at(j, R "Subnet2") == NULL);
	json_decref(j);

	/* a given network: no VPC, the outputs echo it */
	j = env_json("name: prod\nprovider: {type: aws, vpc: vpc-9, subnets: [s-1, s-2]}\n", &ein);
	CHECK(at(j, R "Vpc") == NULL);
	CHECK(at(j, R "Subnet0") == NULL);
	CHECK_STR(str_at(j, R "InternalSecurityGroup.Properties.VpcId"), "vpc-9");
	CHECK_STR(str_at(j, "Outputs.VpcId.Value"), "vpc-9");
	CHECK(eq_at(j, "Outputs.SubnetIds.Value", "{\"Fn::Join\":[\",\",[\"s-1\",\"s-2\"]]}"));
	json_decref(j);

	struct i2k_environment *e = env("name: prod\nprovider: {type: aws, vpc: vpc-9}\n");
	char *t = NULL;
	FAILS(i2k_stack_env_template(e, &ein, &t, &_e), I2K_ERR_CONFIG,
	      "e.yml: provider: vpc and subnets go together (give both or neither: without them "
	      "i2kit creates the network)");
	CHECK(t == NULL);
	i2k_environment_free(e);
}

TEST(placeholders_become_parameters)
{
	json_t *j = service_json(web_https, ENV_AWS, NULL);
	CHECK_STR(str_at(j, "Parameters.ImageId.Type"), "AWS::EC2::Image::Id");
	CHECK_STR(str_at(j, "Parameters.VpcId.Type"), "AWS::EC2::VPC::Id");
	CHECK_STR(str_at(j, "Parameters.SubnetIds.Type"), "List<AWS::EC2::Subnet::Id>");
	CHECK_STR(str_at(j, "Parameters.InternalSecurityGroupId.Type"),
		  "AWS::EC2::SecurityGroup::Id");
	CHECK(eq_at(j, R "LaunchTemplate.Properties.LaunchTemplateData.ImageId",
		    "{\"Ref\":\"ImageId\"}"));
	CHECK(eq_at(j, R "LoadBalancer.Properties.Subnets", "{\"Ref\":\"SubnetIds\"}"));
	CHECK(at(j, R "LaunchTemplate.Properties.LaunchTemplateData.UserData") == NULL);
	json_decref(j);

	/* environment.yml's network fills vpc and subnets */
	j = service_json(db_stateful,
			 "name: prod\nprovider: {type: aws, vpc: vpc-9, subnets: [s-1, s-2]}\n",
			 NULL);
	CHECK(at(j, "Parameters.VpcId") == NULL);
	CHECK(at(j, "Parameters.SubnetIds") == NULL);
	CHECK_STR(str_at(j, R "Instance.Properties.SubnetId"), "s-1");
	CHECK_STR(str_at(j, R "InstanceSecurityGroup.Properties.VpcId"), "vpc-9");
	json_decref(j);

	/* stateful without known subnets: the first of the parameter */
	j = service_json(db_stateful, ENV_AWS, NULL);
	CHECK(eq_at(j, R "Instance.Properties.SubnetId",
		    "{\"Fn::Select\":[0,{\"Ref\":\"SubnetIds\"}]}"));
	json_decref(j);
}

TEST(no_ports_no_balancer)
{
	json_t *j = service_json("name: worker\nreplicas: 2\ncontainers: {w: {image: x}}\n",
				 ENV_AWS, &inputs);
	CHECK(at(j, R "LoadBalancer") == NULL);
	CHECK(at(j, R "InstanceSecurityGroup") == NULL);
	CHECK(at(j, R "DnsRecord") == NULL);
	CHECK_STR(str_at(j, R "AutoScalingGroup.Properties.HealthCheckType"), "EC2");
	CHECK(at(j, R "AutoScalingGroup.Properties.TargetGroupARNs") == NULL);
	CHECK(at(j, R "AutoScalingGroup.DependsOn") == NULL);
	CHECK(eq_at(j, R "LaunchTemplate.Properties.LaunchTemplateData.SecurityGroupIds",
		    "[\"sg-internal\"]"));
	CHECK(at(j, "Outputs.Endpoint") == NULL);
	CHECK(at(j, "Outputs.AutoScalingGroupName") != NULL);
	json_decref(j);
}

TEST(errors)
{
	SERVICE_ERR("name: web\ncontainers: {c: {image: x, ports: [\"http:80:http:80\", "
		    "\"8080\"]}}\n",
		    ENV_AWS, &inputs,
		    "2 s.yml: ports mix http/https (an application load balancer) with tcp/ssl "
		    "(a network load balancer); a service has one balancer");
	/* the parser rejects a port declared twice; the template checks it
	 * too, since a second listener would overwrite the first */
	struct i2k_service *dup = svc("name: web\ncontainers:\n  a: {image: x, ports: [\"80\"]}\n"
				      "  b: {image: y, ports: [\"tcp:81:tcp:81\"]}\n");
	struct i2k_environment *denv = env(ENV_AWS);
	dup->containers[1].ports[0].port = 80;
	char *dt = NULL;
	FAILS(i2k_stack_service_template(dup, denv, &inputs, &dt, &_e), I2K_ERR_CONFIG,
	      "s.yml: containers.b.ports: port 80 is already used by container a");
	CHECK(dt == NULL);
	i2k_service_free(dup);
	i2k_environment_free(denv);
	SERVICE_ERR("name: 1web\ncontainers: {c: {image: x}}\n", ENV_AWS, &inputs,
		    "2 s.yml: name \"1web\": a CloudFormation stack name starts with a letter");
	struct i2k_stack_service_inputs one = inputs;
	one.nsubnets = 1;
	SERVICE_ERR("name: web\ncontainers: {c: {image: x, ports: [\"http:80:http:80\"]}}\n",
		    ENV_AWS, &one,
		    "2 e.yml: an application load balancer needs subnets in two or more "
		    "availability zones (one given)");
	/* an NLB is fine with one subnet */
	SERVICE_ERR("name: web\ncontainers: {c: {image: x, ports: [\"80\"]}}\n", ENV_AWS, &one,
		    "(made)");
	char *big = malloc(I2K_STACK_USER_DATA_MAX + 2);
	memset(big, 'a', I2K_STACK_USER_DATA_MAX + 1);
	big[I2K_STACK_USER_DATA_MAX + 1] = 0;
	struct i2k_stack_service_inputs fat = inputs;
	fat.user_data = big;
	SERVICE_ERR("name: web\ncontainers: {c: {image: x}}\n", ENV_AWS, &fat,
		    "2 s.yml: the service's metadata is 16385 bytes, over EC2's user data limit "
		    "of 16384");
	big[I2K_STACK_USER_DATA_MAX] = 0;
	SERVICE_ERR("name: web\ncontainers: {c: {image: x}}\n", ENV_AWS, &fat, "(made)");
	big[0] = (char)0xff;
	SERVICE_ERR("name: web\ncontainers: {c: {image: x}}\n", ENV_AWS, &fat,
		    "2 s.yml: the service's metadata is not UTF-8 text");
	free(big);
	SERVICE_ERR("name: web\ncontainers: {c: {image: x}}\n",
		    "name: prod\nprovider: {type: aws, subnets: [s-1]}\n", &inputs,
		    "2 e.yml: provider: vpc and subnets go together (give both or neither: "
		    "without them i2kit creates the network)");

	struct i2k_service *s = svc("name: web\ncontainers: {c: {image: x}}\n");
	char *t = NULL;
	FAILS(i2k_stack_service_template(s, NULL, &inputs, &t, &_e), I2K_ERR_USAGE,
	      "a service stack needs a service and an environment");
	i2k_service_free(s);
	static const char *const many[I2K_STACK_MAX_AZS + 1] = {0};
	struct i2k_stack_env_inputs ein = {.azs = many, .nazs = I2K_STACK_MAX_AZS + 1};
	struct i2k_environment *e = env(ENV_AWS);
	FAILS(i2k_stack_env_template(e, &ein, &t, &_e), I2K_ERR_USAGE,
	      "17 availability zones (at most 16)");
	i2k_environment_free(e);
}

TEST(stack_names)
{
	struct i2k_service *s = svc("name: web\ncontainers: {c: {image: x}}\n");
	struct i2k_environment *e = env(ENV_AWS);
	char *a = i2k_stack_env_name(e), *b = i2k_stack_service_name(s, e);
	CHECK_STR(a, "prod");
	CHECK_STR(b, "web-prod");
	free(a);
	free(b);
	i2k_service_free(s);
	i2k_environment_free(e);
}

int main(void)
{
	t_prog = "test_stack_template";
	RUN(alb_for_http_ports);
	RUN(launch_template_imdsv2_and_user_data);
	RUN(https_listener_certificate);
	RUN(health_checks_from_manifest);
	RUN(nlb_for_tcp_and_ssl);
	RUN(security_groups);
	RUN(stateful_instance_eip_volume);
	RUN(dns_alias_record);
	RUN(tags_on_everything_taggable);
	RUN(security_group_descriptions_are_ec2_text);
	RUN(deterministic);
	RUN(environment_stack);
	RUN(placeholders_become_parameters);
	RUN(no_ports_no_balancer);
	RUN(errors);
	RUN(stack_names);
	return TEST_DONE();
}
