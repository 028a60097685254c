/* fleet.c — read-only calls about a deployed service (see fleet.h). */
#include "provision/aws/fleet.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

static void xml_freep(xmlDoc **d)
{
	if (*d)
		xmlFreeDoc(*d);
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

int i2k_fleet_parse_zones(xmlDoc *doc, char ***out, size_t *n, struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	xmlNode *info = i2k_xml_child(xmlDocGetRootElement(doc), "availabilityZoneInfo");
	if (info == NULL)
		return i2k_error_set(
		    err, I2K_ERR_REGISTRY,
		    "DescribeAvailabilityZones: answer has no availabilityZoneInfo");
	size_t cap = 0;
	for (xmlNode *it = i2k_xml_child(info, "item"); it; it = i2k_xml_next(it)) {
		_cleanup_free_ char *state = i2k_xml_text(it, "zoneState");
		_cleanup_free_ char *type = i2k_xml_text(it, "zoneType");
		char *name = i2k_xml_text(it, "zoneName");
		if (!name || (state && strcmp(state, "available") != 0) ||
		    (type && strcmp(type, "availability-zone") != 0)) {
			free(name);
			continue;
		}
		i2k_xgrow((void **)out, &cap, *n + 1, sizeof(char *));
		(*out)[(*n)++] = name;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(char *), str_cmp);
	return 0;
}

int i2k_fleet_zones(const struct i2k_aws *a, struct i2k_aws_conn *c, char ***out, size_t *n,
		    struct i2k_error **err)
{
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	*out = NULL;
	*n = 0;
	if (i2k_aws_query(a, c, I2K_AWS_EC2, "DescribeAvailabilityZones", NULL, &doc, NULL, err) <
	    0)
		return -1;
	return i2k_fleet_parse_zones(doc, out, n, err);
}

void i2k_fleet_targets_free(struct i2k_fleet_target *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].state);
		free(v[i].reason);
	}
	free(v);
}

int i2k_fleet_parse_targets(xmlDoc *doc, struct i2k_fleet_target **out, size_t *n,
			    struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	xmlNode *res = i2k_xml_child(xmlDocGetRootElement(doc), "DescribeTargetHealthResult");
	if (res == NULL)
		return i2k_error_set(
		    err, I2K_ERR_REGISTRY,
		    "DescribeTargetHealth: answer has no DescribeTargetHealthResult");
	size_t cap = 0;
	for (xmlNode *m = i2k_xml_path(res, "TargetHealthDescriptions/member"); m;
	     m = i2k_xml_next(m)) {
		i2k_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
		struct i2k_fleet_target *t = &(*out)[(*n)++];
		memset(t, 0, sizeof(*t));
		t->id = i2k_xml_text(m, "Target/Id");
		t->state = i2k_xml_text(m, "TargetHealth/State");
		t->reason = i2k_xml_text(m, "TargetHealth/Reason");
		_cleanup_free_ char *port = i2k_xml_text(m, "Target/Port");
		unsigned long p = port ? strtoul(port, NULL, 10) : 0;
		t->port = p <= 65535 ? (unsigned)p : 0;
		if (!t->id)
			t->id = i2k_xstrdup("?");
		if (!t->state)
			t->state = i2k_xstrdup("unknown");
	}
	return 0;
}

int i2k_fleet_target_health(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *arn,
			    struct i2k_fleet_target **out, size_t *n, struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "TargetGroupArn", arn);
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_ELBV2, "DescribeTargetHealth", &p, &doc, NULL, err);
	i2k_aws_params_clear(&p);
	if (rc < 0)
		return -1;
	return i2k_fleet_parse_targets(doc, out, n, err);
}

void i2k_fleet_instances_free(struct i2k_fleet_instance *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].lifecycle);
		free(v[i].health);
		free(v[i].zone);
		free(v[i].type);
		free(v[i].image);
		free(v[i].state);
		free(v[i].private_ip);
		free(v[i].public_ip);
	}
	free(v);
}

int i2k_fleet_parse_group(xmlDoc *doc, struct i2k_fleet_instance **out, size_t *n,
			  unsigned *desired, struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	*desired = 0;
	xmlNode *res = i2k_xml_child(xmlDocGetRootElement(doc), "DescribeAutoScalingGroupsResult");
	if (res == NULL)
		return i2k_error_set(
		    err, I2K_ERR_REGISTRY,
		    "DescribeAutoScalingGroups: answer has no DescribeAutoScalingGroupsResult");
	xmlNode *g = i2k_xml_path(res, "AutoScalingGroups/member");
	if (g == NULL)
		return i2k_error_set(err, I2K_ERR_NOTFOUND,
				     "DescribeAutoScalingGroups: no such group");
	_cleanup_free_ char *d = i2k_xml_text(g, "DesiredCapacity");
	unsigned long dv = d ? strtoul(d, NULL, 10) : 0;
	*desired = dv < 100000 ? (unsigned)dv : 0;
	size_t cap = 0;
	for (xmlNode *m = i2k_xml_path(g, "Instances/member"); m; m = i2k_xml_next(m)) {
		i2k_xgrow((void **)out, &cap, *n + 1, sizeof(**out));
		struct i2k_fleet_instance *in = &(*out)[(*n)++];
		memset(in, 0, sizeof(*in));
		in->id = i2k_xml_text(m, "InstanceId");
		in->lifecycle = i2k_xml_text(m, "LifecycleState");
		in->health = i2k_xml_text(m, "HealthStatus");
		in->zone = i2k_xml_text(m, "AvailabilityZone");
		in->type = i2k_xml_text(m, "InstanceType");
		if (!in->id)
			in->id = i2k_xstrdup("?");
	}
	return 0;
}

int i2k_fleet_parse_instances(xmlDoc *doc, struct i2k_fleet_instance *v, size_t n,
			      struct i2k_error **err)
{
	xmlNode *set = i2k_xml_child(xmlDocGetRootElement(doc), "reservationSet");
	if (set == NULL)
		return i2k_error_set(err, I2K_ERR_REGISTRY,
				     "DescribeInstances: answer has no reservationSet");
	for (xmlNode *r = i2k_xml_child(set, "item"); r; r = i2k_xml_next(r))
		for (xmlNode *it = i2k_xml_path(r, "instancesSet/item"); it;
		     it = i2k_xml_next(it)) {
			_cleanup_free_ char *id = i2k_xml_text(it, "instanceId");
			for (size_t i = 0; id && i < n; i++) {
				if (strcmp(v[i].id, id) != 0)
					continue;
				free(v[i].image);
				free(v[i].state);
				free(v[i].private_ip);
				free(v[i].public_ip);
				v[i].image = i2k_xml_text(it, "imageId");
				v[i].state = i2k_xml_text(it, "instanceState/name");
				v[i].private_ip = i2k_xml_text(it, "privateIpAddress");
				v[i].public_ip = i2k_xml_text(it, "ipAddress");
				if (!v[i].type)
					v[i].type = i2k_xml_text(it, "instanceType");
			}
		}
	return 0;
}

int i2k_fleet_describe_instances(const struct i2k_aws *a, struct i2k_aws_conn *c,
				 struct i2k_fleet_instance *v, size_t n, struct i2k_error **err)
{
	if (n == 0)
		return 0;
	struct i2k_aws_params p = {0};
	for (size_t i = 0; i < n; i++) {
		char k[32];
		snprintf(k, sizeof(k), "InstanceId.%zu", i + 1);
		i2k_aws_params_add(&p, k, v[i].id);
	}
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_EC2, "DescribeInstances", &p, &doc, NULL, err);
	i2k_aws_params_clear(&p);
	if (rc < 0)
		return -1;
	return i2k_fleet_parse_instances(doc, v, n, err);
}

int i2k_fleet_group(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *group,
		    struct i2k_fleet_instance **out, size_t *n, unsigned *desired,
		    struct i2k_error **err)
{
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "AutoScalingGroupNames.member.1", group);
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_AUTOSCALING, "DescribeAutoScalingGroups", &p, &doc,
			       NULL, err);
	i2k_aws_params_clear(&p);
	if (rc < 0 || i2k_fleet_parse_group(doc, out, n, desired, err) < 0)
		return -1;
	if (i2k_fleet_describe_instances(a, c, *out, *n, err) < 0) {
		i2k_fleet_instances_free(*out, *n);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

int i2k_fleet_service_images(const struct i2k_aws *a, struct i2k_aws_conn *c, const char *service,
			     const char *env, struct i2k_ec2_image **out, size_t *n,
			     struct i2k_error **err)
{
	struct i2k_aws_params p = {0};
	i2k_aws_params_add(&p, "Owner.1", "self");
	i2k_aws_params_add(&p, "Filter.1.Name", "tag:" I2K_AWS_TAG_SERVICE);
	i2k_aws_params_add(&p, "Filter.1.Value.1", service);
	if (env) {
		i2k_aws_params_add(&p, "Filter.2.Name", "tag:" I2K_AWS_TAG_ENVIRONMENT);
		i2k_aws_params_add(&p, "Filter.2.Value.1", env);
	}
	_cleanup_(xml_freep) xmlDoc *doc = NULL;
	int rc = i2k_aws_query(a, c, I2K_AWS_EC2, "DescribeImages", &p, &doc, NULL, err);
	i2k_aws_params_clear(&p);
	if (rc < 0)
		return -1;
	return i2k_ec2_parse_images(doc, out, n, err);
}
