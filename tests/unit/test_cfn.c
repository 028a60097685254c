/* test_cfn.c — provision/aws/cloudformation.c and fleet.c answer parsers:
 * DescribeStacks (outputs, tags, NextToken), DescribeStackEvents (order,
 * the failure cause), status classes, CreateStack ids, and the ELBv2 /
 * Auto Scaling / EC2 answers ps and the health wait read. The XML is the
 * shape the AWS API reference documents (and moto answers). */
#include "tests/unit/test.h"

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/aws/cloudformation.h"
#include "provision/aws/fleet.h"

static xmlDoc *parse(const char *xml)
{
	xmlDoc *d = NULL;
	struct i2k_error *e = NULL;
	if (i2k_aws_xml_parse(xml, strlen(xml), &d, &e) < 0) {
		fprintf(stderr, "  parse: %s\n", e->msg);
		i2k_error_free(e);
	}
	return d;
}

static const char stacks_xml[] =
    "<DescribeStacksResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">"
    "<DescribeStacksResult><Stacks><member>"
    "<StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/web-test/abc</StackId>"
    "<StackName>web-test</StackName><CreationTime>2026-12-02T23:56:54Z</CreationTime>"
    "<StackStatus>UPDATE_ROLLBACK_COMPLETE</StackStatus>"
    "<StackStatusReason>The following resource(s) failed to update: [LaunchTemplate]"
    "</StackStatusReason>"
    "<Outputs><member><OutputKey>Endpoint</OutputKey>"
    "<OutputValue>web-test-LB-1.us-east-1.elb.amazonaws.com</OutputValue></member>"
    "<member><OutputKey>TargetGroupArns</OutputKey><OutputValue>arn:a,arn:b</OutputValue>"
    "</member></Outputs>"
    "<Tags><member><Key>i2kit:service</Key><Value>web</Value></member>"
    "<member><Key>i2kit:environment</Key><Value>test</Value></member></Tags>"
    "</member><member><StackId>id2</StackId><StackName>test</StackName>"
    "<StackStatus>CREATE_COMPLETE</StackStatus></member></Stacks>"
    "<NextToken>tok/2</NextToken></DescribeStacksResult>"
    "<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeStacksResponse>";

TEST(parses_stacks)
{
	xmlDoc *d = parse(stacks_xml);
	struct i2k_cfn_stack *v = NULL;
	size_t n = 0;
	_cleanup_free_ char *next = NULL;
	CHECK(i2k_cfn_parse_stacks(d, &v, &n, &next, NULL) == 0);
	CHECK_INT(n, 2);
	CHECK_STR(v[0].name, "web-test");
	CHECK_STR(v[0].status, "UPDATE_ROLLBACK_COMPLETE");
	CHECK_CONTAINS(v[0].reason, "[LaunchTemplate]");
	CHECK_INT(v[0].noutputs, 2);
	CHECK_STR(i2k_cfn_output(&v[0], "Endpoint"), "web-test-LB-1.us-east-1.elb.amazonaws.com");
	CHECK_STR(i2k_cfn_output(&v[0], "TargetGroupArns"), "arn:a,arn:b");
	CHECK(i2k_cfn_output(&v[0], "DnsName") == NULL);
	CHECK_STR(i2k_cfn_tag(&v[0], "i2kit:environment"), "test");
	CHECK(v[1].reason == NULL);
	CHECK_INT(v[1].noutputs, 0);
	CHECK_STR(next, "tok/2");
	i2k_cfn_stacks_free(v, n);
	xmlFreeDoc(d);
}

TEST(rejects_bad_stacks)
{
	xmlDoc *d = parse("<DescribeStacksResponse><DescribeStacksResult><Stacks><member>"
			  "<StackName>x</StackName></member></Stacks></DescribeStacksResult>"
			  "</DescribeStacksResponse>");
	struct i2k_cfn_stack *v = NULL;
	size_t n = 0;
	struct i2k_error *e = NULL;
	CHECK(i2k_cfn_parse_stacks(d, &v, &n, NULL, &e) < 0);
	CHECK(e && e->code == I2K_ERR_REGISTRY);
	CHECK(v == NULL && n == 0);
	i2k_error_free(e);
	xmlFreeDoc(d);
	d = parse("<ErrorResponse><Error><Code>X</Code></Error></ErrorResponse>");
	e = NULL;
	CHECK(i2k_cfn_parse_stacks(d, &v, &n, NULL, &e) < 0);
	CHECK_CONTAINS(e ? e->msg : NULL, "DescribeStacksResult");
	i2k_error_free(e);
	xmlFreeDoc(d);
	/* no stacks at all is not an error */
	d = parse("<DescribeStacksResponse><DescribeStacksResult><Stacks/></DescribeStacksResult>"
		  "</DescribeStacksResponse>");
	CHECK(i2k_cfn_parse_stacks(d, &v, &n, NULL, NULL) == 0);
	CHECK_INT(n, 0);
	free(v);
	xmlFreeDoc(d);
}

#define EV(id, ts, lid, type, st, reason)                                                          \
	"<member><EventId>" id "</EventId><StackName>web-test</StackName><LogicalResourceId>" lid  \
	"</LogicalResourceId><PhysicalResourceId>p</PhysicalResourceId><ResourceType>" type        \
	"</ResourceType><Timestamp>" ts "</Timestamp><ResourceStatus>" st                          \
	"</ResourceStatus>" reason "</member>"

static const char events_xml[] =
    "<DescribeStackEventsResponse><DescribeStackEventsResult><StackEvents>" EV(
	"e5", "2026-12-03T00:00:05Z", "web-test", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE",
	"") EV("e4", "2026-12-03T00:00:04Z", "TargetGroup80",
	       "AWS::ElasticLoadBalancingV2::TargetGroup", "CREATE_FAILED",
	       "<ResourceStatusReason>Resource creation cancelled</ResourceStatusReason>")
	EV("e3", "2026-12-03T00:00:03Z", "LoadBalancer",
	   "AWS::ElasticLoadBalancingV2::LoadBalancer", "CREATE_FAILED",
	   "<ResourceStatusReason>At least two subnets in two different Availability Zones must "
	   "be specified</ResourceStatusReason>")
	    EV("e2", "2026-12-03T00:00:02Z", "LoadBalancer",
	       "AWS::ElasticLoadBalancingV2::LoadBalancer", "CREATE_IN_PROGRESS", "")
		EV("e1", "2026-12-03T00:00:01Z", "web-test", "AWS::CloudFormation::Stack",
		   "CREATE_IN_PROGRESS",
		   "<ResourceStatusReason>User Initiated</ResourceStatusReason>") "</"
										  "StackEvents><"
										  "NextToken>n2</"
										  "NextToken></"
										  "DescribeStackEve"
										  "ntsResult>"
										  "</"
										  "DescribeStackEve"
										  "ntsResponse>";

TEST(parses_events_and_failure_cause)
{
	xmlDoc *d = parse(events_xml);
	struct i2k_cfn_event *v = NULL;
	size_t n = 0;
	_cleanup_free_ char *next = NULL;
	CHECK(i2k_cfn_parse_events(d, &v, &n, &next, NULL) == 0);
	CHECK_INT(n, 5);
	CHECK_STR(v[0].id, "e5");
	CHECK_STR(v[2].logical_id, "LoadBalancer");
	CHECK_STR(v[2].type, "AWS::ElasticLoadBalancingV2::LoadBalancer");
	CHECK_STR(v[2].timestamp, "2026-12-03T00:00:03Z");
	CHECK(v[1].reason != NULL);
	CHECK(v[3].reason == NULL);
	CHECK_STR(next, "n2");
	/* oldest first for the cause: the cancelled target group is not it */
	struct i2k_cfn_event rev[5];
	for (size_t i = 0; i < 5; i++)
		rev[i] = v[4 - i];
	_cleanup_free_ char *cause = i2k_cfn_failure_cause(rev, 5, "web-test");
	CHECK_STR(cause, "LoadBalancer (AWS::ElasticLoadBalancingV2::LoadBalancer) CREATE_FAILED: "
			 "At least two subnets in two different Availability Zones must be "
			 "specified");
	/* only stack-level events (what moto sends): no resource cause */
	struct i2k_cfn_event only[2] = {v[4], v[0]};
	CHECK(i2k_cfn_failure_cause(only, 2, "web-test") == NULL);
	i2k_cfn_events_free(v, n);
	xmlFreeDoc(d);
}

TEST(status_classes)
{
	CHECK_INT(i2k_cfn_status_class("CREATE_IN_PROGRESS"), I2K_CFN_BUSY);
	CHECK_INT(i2k_cfn_status_class("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), I2K_CFN_BUSY);
	CHECK_INT(i2k_cfn_status_class("UPDATE_ROLLBACK_IN_PROGRESS"), I2K_CFN_BUSY);
	CHECK_INT(i2k_cfn_status_class("CREATE_COMPLETE"), I2K_CFN_OK);
	CHECK_INT(i2k_cfn_status_class("UPDATE_COMPLETE"), I2K_CFN_OK);
	CHECK_INT(i2k_cfn_status_class("ROLLBACK_COMPLETE"), I2K_CFN_FAILED);
	CHECK_INT(i2k_cfn_status_class("UPDATE_ROLLBACK_COMPLETE"), I2K_CFN_FAILED);
	CHECK_INT(i2k_cfn_status_class("DELETE_FAILED"), I2K_CFN_FAILED);
	CHECK_INT(i2k_cfn_status_class("CREATE_FAILED"), I2K_CFN_FAILED);
	CHECK_INT(i2k_cfn_status_class("DELETE_COMPLETE"), I2K_CFN_GONE);
	CHECK_INT(i2k_cfn_status_class(NULL), I2K_CFN_GONE);
}

TEST(parses_stack_id)
{
	xmlDoc *d = parse("<CreateStackResponse><CreateStackResult><StackId>arn:x/y</StackId>"
			  "</CreateStackResult></CreateStackResponse>");
	_cleanup_free_ char *id = NULL;
	CHECK(i2k_cfn_parse_stack_id(d, &id, NULL) == 0);
	CHECK_STR(id, "arn:x/y");
	xmlFreeDoc(d);
	d = parse("<UpdateStackResponse><UpdateStackResult/></UpdateStackResponse>");
	struct i2k_error *e = NULL;
	char *none = NULL;
	CHECK(i2k_cfn_parse_stack_id(d, &none, &e) < 0);
	CHECK(none == NULL && e != NULL);
	i2k_error_free(e);
	xmlFreeDoc(d);
}

TEST(parses_fleet_answers)
{
	xmlDoc *d =
	    parse("<DescribeAvailabilityZonesResponse><availabilityZoneInfo>"
		  "<item><zoneName>us-east-1b</zoneName><zoneState>available</zoneState>"
		  "<zoneType>availability-zone</zoneType></item>"
		  "<item><zoneName>us-east-1a</zoneName><zoneState>available</zoneState></item>"
		  "<item><zoneName>us-east-1c</zoneName><zoneState>impaired</zoneState></item>"
		  "<item><zoneName>us-east-1-lz</zoneName><zoneState>available</zoneState>"
		  "<zoneType>local-zone</zoneType></item>"
		  "</availabilityZoneInfo></DescribeAvailabilityZonesResponse>");
	char **z = NULL;
	size_t nz = 0;
	CHECK(i2k_fleet_parse_zones(d, &z, &nz, NULL) == 0);
	CHECK_INT(nz, 2);
	if (nz == 2) {
		CHECK_STR(z[0], "us-east-1a");
		CHECK_STR(z[1], "us-east-1b");
	}
	for (size_t i = 0; i < nz; i++)
		free(z[i]);
	free(z);
	xmlFreeDoc(d);

	d = parse("<DescribeTargetHealthResponse><DescribeTargetHealthResult>"
		  "<TargetHealthDescriptions><member><Target><Id>i-1</Id><Port>80</Port></Target>"
		  "<TargetHealth><State>healthy</State></TargetHealth></member>"
		  "<member><Target><Id>i-2</Id><Port>80</Port></Target><TargetHealth>"
		  "<State>unhealthy</State><Reason>Target.FailedHealthChecks</Reason>"
		  "</TargetHealth></member></TargetHealthDescriptions>"
		  "</DescribeTargetHealthResult></DescribeTargetHealthResponse>");
	struct i2k_fleet_target *t = NULL;
	size_t nt = 0;
	CHECK(i2k_fleet_parse_targets(d, &t, &nt, NULL) == 0);
	CHECK_INT(nt, 2);
	CHECK_STR(t[0].state, "healthy");
	CHECK_INT(t[0].port, 80);
	CHECK_STR(t[1].reason, "Target.FailedHealthChecks");
	i2k_fleet_targets_free(t, nt);
	xmlFreeDoc(d);

	d = parse("<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
		  "<AutoScalingGroups><member><AutoScalingGroupName>g</AutoScalingGroupName>"
		  "<DesiredCapacity>2</DesiredCapacity><Instances>"
		  "<member><InstanceId>i-1</InstanceId><LifecycleState>InService</LifecycleState>"
		  "<HealthStatus>Healthy</HealthStatus><AvailabilityZone>us-east-1a"
		  "</AvailabilityZone></member>"
		  "<member><InstanceId>i-2</InstanceId><LifecycleState>Pending</LifecycleState>"
		  "</member></Instances></member></AutoScalingGroups>"
		  "</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>");
	struct i2k_fleet_instance *in = NULL;
	size_t ni = 0;
	unsigned desired = 0;
	CHECK(i2k_fleet_parse_group(d, &in, &ni, &desired, NULL) == 0);
	CHECK_INT(desired, 2);
	CHECK_INT(ni, 2);
	CHECK_STR(in[1].lifecycle, "Pending");
	xmlFreeDoc(d);
	d = parse("<DescribeInstancesResponse><reservationSet><item><instancesSet>"
		  "<item><instanceId>i-2</instanceId><imageId>ami-2</imageId>"
		  "<instanceState><name>running</name></instanceState>"
		  "<privateIpAddress>10.192.0.5</privateIpAddress></item>"
		  "</instancesSet></item></reservationSet></DescribeInstancesResponse>");
	CHECK(i2k_fleet_parse_instances(d, in, ni, NULL) == 0);
	CHECK(in[0].image == NULL);
	CHECK_STR(in[1].image, "ami-2");
	CHECK_STR(in[1].state, "running");
	CHECK_STR(in[1].private_ip, "10.192.0.5");
	i2k_fleet_instances_free(in, ni);
	xmlFreeDoc(d);

	d = parse("<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult>"
		  "<AutoScalingGroups/></DescribeAutoScalingGroupsResult>"
		  "</DescribeAutoScalingGroupsResponse>");
	struct i2k_error *e = NULL;
	CHECK(i2k_fleet_parse_group(d, &in, &ni, &desired, &e) < 0);
	CHECK(e && e->code == I2K_ERR_NOTFOUND);
	i2k_error_free(e);
	xmlFreeDoc(d);
}

int main(void)
{
	t_prog = "test_cfn";
	RUN(parses_stacks);
	RUN(rejects_bad_stacks);
	RUN(parses_events_and_failure_cause);
	RUN(status_classes);
	RUN(parses_stack_id);
	RUN(parses_fleet_answers);
	return TEST_DONE();
}
