/* stack_template.c — see stack_template.h. The templates are jansson trees
 * built bottom-up and dumped once with sorted keys. Allocation failures
 * abort (as i2k_xasprintf does): a half-built template is never returned. */
#include "provision/aws/stack_template.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

static json_t *must(json_t *j)
{
	if (!j)
		abort();
	return j;
}

#define PACK(...) must(json_pack(__VA_ARGS__))

static void put(json_t *obj, const char *key, json_t *val)
{
	if (json_object_set_new(obj, key, must(val)) < 0)
		abort();
}

static void push(json_t *arr, json_t *val)
{
	if (json_array_append_new(arr, must(val)) < 0)
		abort();
}

static json_t *ref(const char *name)
{
	return PACK("{s:s}", "Ref", name);
}

static json_t *getatt(const char *res, const char *attr)
{
	return PACK("{s:[s,s]}", "Fn::GetAtt", res, attr);
}

static json_t *resource(const char *type, json_t *props)
{
	return PACK("{s:s,s:o}", "Type", type, "Properties", props);
}

static json_t *strings(const char *const *v, size_t n)
{
	json_t *a = must(json_array());
	for (size_t i = 0; i < n; i++)
		push(a, json_string(v[i]));
	return a;
}

static json_t *joined(json_t *list)
{
	return PACK("{s:[s,o]}", "Fn::Join", ",", list);
}

/* [{Key, Value}...] for the environment and (when svc) the service; with
 * propagate, the ASG's form with PropagateAtLaunch. */
static json_t *tags(const struct i2k_service *svc, const struct i2k_environment *env,
		    bool propagate)
{
	json_t *a = must(json_array());
	json_t *t = PACK("{s:s,s:s}", "Key", I2K_STACK_TAG_ENVIRONMENT, "Value", env->name);
	if (propagate)
		put(t, "PropagateAtLaunch", json_true());
	push(a, t);
	if (svc) {
		t = PACK("{s:s,s:s}", "Key", I2K_STACK_TAG_SERVICE, "Value", svc->name);
		if (propagate)
			put(t, "PropagateAtLaunch", json_true());
		push(a, t);
	}
	return a;
}

static char *dump(json_t *root)
{
	char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
	if (!s)
		abort();
	char *out = i2k_xasprintf("%s\n", s);
	free(s);
	return out;
}

static json_t *template_root(const char *description)
{
	return PACK("{s:s,s:s,s:{},s:{}}", "AWSTemplateFormatVersion", "2010-09-09", "Description",
		    description, "Resources", "Outputs");
}

static void output(json_t *root, const char *name, const char *description, json_t *value)
{
	put(json_object_get(root, "Outputs"), name,
	    PACK("{s:s,s:o}", "Description", description, "Value", value));
}

static void add_resource(json_t *root, const char *name, json_t *res)
{
	put(json_object_get(root, "Resources"), name, res);
}

/* A Parameter named name of the given type (created once), returned as a
 * Ref to it. */
static json_t *parameter(json_t *root, const char *name, const char *type, const char *description)
{
	json_t *params = json_object_get(root, "Parameters");
	if (!params) {
		params = must(json_object());
		put(root, "Parameters", params);
	}
	if (!json_object_get(params, name))
		put(params, name, PACK("{s:s,s:s}", "Type", type, "Description", description));
	return ref(name);
}

static int check_network(const struct i2k_environment *env, struct i2k_error **err)
{
	const struct i2k_provider_spec *p = &env->provider;
	if (!p->vpc != (p->nsubnets == 0))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: provider: vpc and subnets go together (give both or "
				     "neither: without them i2kit creates the network)",
				     env->file);
	return 0;
}

char *i2k_stack_env_name(const struct i2k_environment *env)
{
	return i2k_xstrdup(env->name);
}

char *i2k_stack_service_name(const struct i2k_service *svc, const struct i2k_environment *env)
{
	return i2k_xasprintf("%s-%s", svc->name, env->name);
}

/* ---- environment stack ---- */

static void env_network(json_t *root, const struct i2k_environment *env,
			const struct i2k_stack_env_inputs *in, json_t *subnet_refs)
{
	json_t *vpc_tags = tags(NULL, env, false);
	add_resource(root, "Vpc",
		     resource("AWS::EC2::VPC", PACK("{s:s,s:b,s:b,s:o}", "CidrBlock",
						    I2K_STACK_VPC_CIDR, "EnableDnsSupport", 1,
						    "EnableDnsHostnames", 1, "Tags", vpc_tags)));
	add_resource(
	    root, "InternetGateway",
	    resource("AWS::EC2::InternetGateway", PACK("{s:o}", "Tags", tags(NULL, env, false))));
	add_resource(root, "GatewayAttachment",
		     resource("AWS::EC2::VPCGatewayAttachment",
			      PACK("{s:o,s:o}", "VpcId", ref("Vpc"), "InternetGatewayId",
				   ref("InternetGateway"))));
	add_resource(root, "RouteTable",
		     resource("AWS::EC2::RouteTable", PACK("{s:o,s:o}", "VpcId", ref("Vpc"), "Tags",
							   tags(NULL, env, false))));
	json_t *route =
	    resource("AWS::EC2::Route", PACK("{s:o,s:s,s:o}", "RouteTableId", ref("RouteTable"),
					     "DestinationCidrBlock", "0.0.0.0/0", "GatewayId",
					     ref("InternetGateway")));
	put(route, "DependsOn", json_string("GatewayAttachment"));
	add_resource(root, "DefaultRoute", route);

	size_t n = in && in->nazs ? in->nazs : 2;
	for (size_t i = 0; i < n; i++) {
		json_t *az = in && in->nazs
				 ? json_string(in->azs[i])
				 : PACK("{s:[i,{s:s}]}", "Fn::Select", (int)i, "Fn::GetAZs", "");
		_cleanup_free_ char *cidr = i2k_xasprintf("10.192.%zu.0/24", i);
		_cleanup_free_ char *name = i2k_xasprintf("Subnet%zu", i);
		_cleanup_free_ char *assoc = i2k_xasprintf("Subnet%zuRouteTableAssociation", i);
		add_resource(
		    root, name,
		    resource("AWS::EC2::Subnet",
			     PACK("{s:o,s:s,s:o,s:b,s:o}", "VpcId", ref("Vpc"), "CidrBlock", cidr,
				  "AvailabilityZone", must(az), "MapPublicIpOnLaunch", 1, "Tags",
				  tags(NULL, env, false))));
		add_resource(root, assoc,
			     resource("AWS::EC2::SubnetRouteTableAssociation",
				      PACK("{s:o,s:o}", "SubnetId", ref(name), "RouteTableId",
					   ref("RouteTable"))));
		push(subnet_refs, ref(name));
	}
}

int i2k_stack_env_template(const struct i2k_environment *env, const struct i2k_stack_env_inputs *in,
			   char **json, struct i2k_error **err)
{
	*json = NULL;
	if (!env)
		return i2k_error_set(err, I2K_ERR_USAGE, "an environment is needed for its stack");
	if (check_network(env, err) < 0)
		return -1;
	if (in && in->nazs > I2K_STACK_MAX_AZS)
		return i2k_error_set(err, I2K_ERR_USAGE, "%zu availability zones (at most %u)",
				     in->nazs, I2K_STACK_MAX_AZS);
	const struct i2k_provider_spec *p = &env->provider;
	_cleanup_free_ char *desc =
	    i2k_xasprintf("i2kit environment %s: network and internal security group", env->name);
	json_t *root = template_root(desc);

	json_t *vpc, *subnets;
	if (p->vpc) {
		vpc = json_string(p->vpc);
		subnets = joined(strings((const char *const *)p->subnets, p->nsubnets));
	} else {
		json_t *refs = must(json_array());
		env_network(root, env, in, refs);
		vpc = ref("Vpc");
		subnets = joined(refs);
	}
	_cleanup_free_ char *sgdesc =
	    i2k_xasprintf("i2kit %s: traffic between services", env->name);
	add_resource(root, "InternalSecurityGroup",
		     resource("AWS::EC2::SecurityGroup",
			      PACK("{s:s,s:O,s:o}", "GroupDescription", sgdesc, "VpcId", must(vpc),
				   "Tags", tags(NULL, env, false))));
	add_resource(
	    root, "InternalSecurityGroupIngress",
	    resource("AWS::EC2::SecurityGroupIngress",
		     PACK("{s:o,s:s,s:o,s:s}", "GroupId", ref("InternalSecurityGroup"),
			  "IpProtocol", "-1", "SourceSecurityGroupId", ref("InternalSecurityGroup"),
			  "Description", "all traffic between members")));
	output(root, "VpcId", "the VPC", vpc);
	output(root, "SubnetIds", "the public subnets, comma-separated", subnets);
	output(root, "InternalSecurityGroupId", "the security group every service instance joins",
	       ref("InternalSecurityGroup"));
	*json = dump(root);
	json_decref(root);
	return 0;
}

/* ---- service stack ---- */

struct port_use {
	const struct i2k_port *p;
	const struct i2k_container *c;
	const char *cert; /* https/ssl: the port's or the environment's */
};

struct svc_ctx {
	const struct i2k_service *svc;
	const struct i2k_environment *env;
	const struct i2k_stack_service_inputs *in;
	json_t *root;
	struct port_use *ports; /* sorted by balancer port */
	size_t nports;
	bool alb; /* http/https ports (else tcp/ssl) */
	char *stack;
};

static int cmp_port(const void *a, const void *b)
{
	const struct port_use *x = a, *y = b;
	return (int)x->p->port - (int)y->p->port;
}

/* Collects and checks the ports of every container. */
static int collect_ports(struct svc_ctx *x, struct i2k_error **err)
{
	const struct i2k_service *s = x->svc;
	size_t n = 0;
	for (size_t i = 0; i < s->ncontainers; i++)
		n += s->containers[i].nports;
	x->ports = calloc(n ? n : 1, sizeof(*x->ports));
	if (!x->ports)
		abort();
	bool web = false, tcp = false;
	for (size_t i = 0; i < s->ncontainers; i++) {
		const struct i2k_container *c = &s->containers[i];
		for (size_t j = 0; j < c->nports; j++) {
			const struct i2k_port *p = &c->ports[j];
			for (size_t k = 0; k < x->nports; k++)
				if (x->ports[k].p->port == p->port)
					return i2k_error_set(
					    err, I2K_ERR_CONFIG,
					    "%s: containers.%s.ports: port %u is already used by "
					    "container %s",
					    s->file, c->name, p->port, x->ports[k].c->name);
			bool tls = p->proto == I2K_PROTO_HTTPS || p->proto == I2K_PROTO_SSL;
			const char *cert =
			    tls ? (p->cert ? p->cert : x->env->provider.certificate) : NULL;
			if (tls && !s->stateful && !cert)
				return i2k_error_set(
				    err, I2K_ERR_CONFIG,
				    "%s: containers.%s.ports: %s port %u needs a certificate (an "
				    "ARN after the port spec, or provider.certificate in %s)",
				    s->file, c->name, i2k_proto_name(p->proto), p->port,
				    x->env->file ? x->env->file : "environment.yml");
			if (s->stateful && tls)
				return i2k_error_set(
				    err, I2K_ERR_CONFIG,
				    "%s: containers.%s.ports: %s port %u: a stateful service has "
				    "no "
				    "balancer to terminate TLS (use tcp:%u:tcp:%u)",
				    s->file, c->name, i2k_proto_name(p->proto), p->port,
				    p->inst_port, p->inst_port);
			if (s->stateful && p->port != p->inst_port)
				return i2k_error_set(
				    err, I2K_ERR_CONFIG,
				    "%s: containers.%s.ports: port %u maps to instance port %u, "
				    "but a "
				    "stateful service has no balancer to map ports",
				    s->file, c->name, p->port, p->inst_port);
			web |= p->proto == I2K_PROTO_HTTP || p->proto == I2K_PROTO_HTTPS;
			tcp |= p->proto == I2K_PROTO_TCP || p->proto == I2K_PROTO_SSL;
			x->ports[x->nports++] = (struct port_use){p, c, cert};
		}
	}
	if (web && tcp && !s->stateful)
		return i2k_error_set(
		    err, I2K_ERR_CONFIG,
		    "%s: ports mix http/https (an application load balancer) with "
		    "tcp/ssl (a network load balancer); a service has one balancer",
		    s->file);
	x->alb = web;
	qsort(x->ports, x->nports, sizeof(*x->ports), cmp_port);
	return 0;
}

static json_t *vpc_value(struct svc_ctx *x)
{
	const char *v = x->in->vpc_id ? x->in->vpc_id : x->env->provider.vpc;
	return v ? json_string(v)
		 : parameter(x->root, "VpcId", "AWS::EC2::VPC::Id",
			     "the environment stack's VpcId output");
}

static json_t *subnets_value(struct svc_ctx *x)
{
	if (x->in->nsubnets)
		return strings(x->in->subnets, x->in->nsubnets);
	if (x->env->provider.nsubnets)
		return strings((const char *const *)x->env->provider.subnets,
			       x->env->provider.nsubnets);
	return parameter(x->root, "SubnetIds", "List<AWS::EC2::Subnet::Id>",
			 "the environment stack's SubnetIds output");
}

static size_t known_subnets(const struct svc_ctx *x)
{
	return x->in->nsubnets ? x->in->nsubnets : x->env->provider.nsubnets;
}

static json_t *first_subnet(struct svc_ctx *x)
{
	if (known_subnets(x)) {
		json_t *l = subnets_value(x);
		json_t *first = json_incref(json_array_get(l, 0));
		json_decref(l);
		return first;
	}
	return PACK("{s:[i,o]}", "Fn::Select", 0, subnets_value(x));
}

static json_t *internal_sg_value(struct svc_ctx *x)
{
	return x->in->internal_sg
		   ? json_string(x->in->internal_sg)
		   : parameter(x->root, "InternalSecurityGroupId", "AWS::EC2::SecurityGroup::Id",
			       "the environment stack's InternalSecurityGroupId output");
}

static json_t *ami_value(struct svc_ctx *x)
{
	return x->in->ami_id ? json_string(x->in->ami_id)
			     : parameter(x->root, "ImageId", "AWS::EC2::Image::Id",
					 "the service's AMI (i2kit push aws)");
}

static const char *instance_type(const struct svc_ctx *x)
{
	if (x->svc->instance_type)
		return x->svc->instance_type;
	if (x->env->provider.instance_type)
		return x->env->provider.instance_type;
	return I2K_STACK_DEFAULT_INSTANCE_TYPE;
}

/* The instances' security groups: internal, the environment's, and the
 * service's own when it has ports. */
static json_t *instance_groups(struct svc_ctx *x)
{
	json_t *a = must(json_array());
	push(a, internal_sg_value(x));
	if (x->env->provider.security_group)
		push(a, json_string(x->env->provider.security_group));
	if (x->nports)
		push(a, ref("InstanceSecurityGroup"));
	return a;
}

/* What an instance and a launch template share. */
static void instance_props(struct svc_ctx *x, json_t *props)
{
	put(props, "ImageId", ami_value(x));
	put(props, "InstanceType", json_string(instance_type(x)));
	if (x->env->provider.keypair)
		put(props, "KeyName", json_string(x->env->provider.keypair));
	put(props, "SecurityGroupIds", instance_groups(x));
	put(props, "MetadataOptions",
	    PACK("{s:s,s:s,s:i}", "HttpTokens", "required", "HttpEndpoint", "enabled",
		 "HttpPutResponseHopLimit", 1));
	if (x->in->user_data)
		put(props, "UserData", PACK("{s:s}", "Fn::Base64", x->in->user_data));
}

/* A TCP rule for port from source: a CIDR (when cidr) or a security group.
 * EC2 allows only a-zA-Z0-9, spaces and ._-:/()#,@[]+=;{}!$* in rule
 * descriptions (no apostrophe). */
static json_t *ingress(unsigned port, json_t *source, bool cidr, const char *description)
{
	json_t *r = PACK("{s:s,s:i,s:i,s:s}", "IpProtocol", "tcp", "FromPort", (int)port, "ToPort",
			 (int)port, "Description", description);
	put(r, cidr ? "CidrIp" : "SourceSecurityGroupId", source);
	return r;
}

/* The source of outside traffic: the world when public, else the
 * environment's services (its internal group). */
static json_t *outside_source(struct svc_ctx *x)
{
	return x->svc->public_ ? json_string("0.0.0.0/0") : internal_sg_value(x);
}

static void security_group(struct svc_ctx *x, const char *name, const char *what, json_t *rules)
{
	_cleanup_free_ char *desc = i2k_xasprintf("i2kit %s: %s", x->stack, what);
	add_resource(
	    x->root, name,
	    resource("AWS::EC2::SecurityGroup",
		     PACK("{s:s,s:o,s:o,s:o}", "GroupDescription", desc, "VpcId", vpc_value(x),
			  "SecurityGroupIngress", rules, "Tags", tags(x->svc, x->env, false))));
}

static bool seen_inst_port(const struct svc_ctx *x, size_t upto)
{
	for (size_t k = 0; k < upto; k++)
		if (x->ports[k].p->inst_port == x->ports[upto].p->inst_port)
			return true;
	return false;
}

/* Rules for the instance ports (each once) from source. */
static json_t *instance_rules(struct svc_ctx *x, json_t *source, bool cidr, const char *description)
{
	json_t *rules = must(json_array());
	for (size_t i = 0; i < x->nports; i++)
		if (!seen_inst_port(x, i))
			push(rules, ingress(x->ports[i].p->inst_port, json_deep_copy(source), cidr,
					    description));
	json_decref(source);
	return rules;
}

static unsigned seconds_up(unsigned ms)
{
	return (ms + 999) / 1000;
}

static unsigned clamp(unsigned v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* ELBv2's name for a protocol: TLS for ssl. */
static const char *elb_protocol(enum i2k_proto proto)
{
	switch (proto) {
	case I2K_PROTO_HTTP:
		return "HTTP";
	case I2K_PROTO_HTTPS:
		return "HTTPS";
	case I2K_PROTO_SSL:
		return "TLS";
	case I2K_PROTO_TCP:
		break;
	}
	return "TCP";
}

static void health_check(const struct port_use *u, bool alb, json_t *tg)
{
	const struct i2k_healthcheck *h = &u->c->health;
	bool tls_target = u->p->inst_proto == I2K_PROTO_HTTPS || u->p->inst_proto == I2K_PROTO_SSL;
	unsigned interval = clamp(seconds_up(h->interval_ms), 5, 300);
	unsigned timeout = clamp(seconds_up(h->timeout_ms), 2, 120);
	if (timeout >= interval)
		timeout = interval - 1;
	put(tg, "HealthCheckEnabled", json_true());
	put(tg, "HealthCheckIntervalSeconds", json_integer(interval));
	put(tg, "HealthCheckTimeoutSeconds", json_integer(timeout));
	put(tg, "HealthyThresholdCount", json_integer(2));
	put(tg, "UnhealthyThresholdCount", json_integer(2));
	if (h->path || alb) {
		put(tg, "HealthCheckProtocol", json_string(tls_target ? "HTTPS" : "HTTP"));
		put(tg, "HealthCheckPath", json_string(h->path ? h->path : "/"));
		put(tg, "Matcher", PACK("{s:s}", "HttpCode", h->path ? "200-399" : "200-499"));
	} else {
		put(tg, "HealthCheckProtocol", json_string("TCP"));
	}
}

static void balancer(struct svc_ctx *x, json_t *listeners, json_t *target_groups)
{
	json_t *lb_rules = must(json_array());
	json_t *src = outside_source(x);
	for (size_t i = 0; i < x->nports; i++)
		push(lb_rules,
		     ingress(x->ports[i].p->port, json_deep_copy(src), x->svc->public_,
			     x->svc->public_ ? "clients" : "services of the environment"));
	json_decref(src);
	security_group(x, "BalancerSecurityGroup", "load balancer", lb_rules);
	security_group(x, "InstanceSecurityGroup", "instances, reachable from the balancer only",
		       instance_rules(x, ref("BalancerSecurityGroup"), false, "the load balancer"));

	json_t *sgs = PACK("[o]", ref("BalancerSecurityGroup"));
	add_resource(
	    x->root, "LoadBalancer",
	    resource("AWS::ElasticLoadBalancingV2::LoadBalancer",
		     PACK("{s:s,s:s,s:s,s:o,s:o,s:o}", "Type", x->alb ? "application" : "network",
			  "Scheme", x->svc->public_ ? "internet-facing" : "internal",
			  "IpAddressType", "ipv4", "Subnets", subnets_value(x), "SecurityGroups",
			  sgs, "Tags", tags(x->svc, x->env, false))));

	for (size_t i = 0; i < x->nports; i++) {
		const struct port_use *u = &x->ports[i];
		_cleanup_free_ char *tgname = i2k_xasprintf("TargetGroup%u", u->p->port);
		_cleanup_free_ char *lname = i2k_xasprintf("Listener%u", u->p->port);
		json_t *tg = PACK(
		    "{s:i,s:s,s:o,s:s,s:[{s:s,s:s}],s:o}", "Port", (int)u->p->inst_port, "Protocol",
		    elb_protocol(u->p->inst_proto), "VpcId", vpc_value(x), "TargetType", "instance",
		    "TargetGroupAttributes", "Key", "deregistration_delay.timeout_seconds", "Value",
		    "30", "Tags", tags(x->svc, x->env, false));
		health_check(u, x->alb, tg);
		add_resource(x->root, tgname,
			     resource("AWS::ElasticLoadBalancingV2::TargetGroup", tg));

		json_t *l =
		    PACK("{s:o,s:i,s:s,s:[{s:s,s:o}]}", "LoadBalancerArn", ref("LoadBalancer"),
			 "Port", (int)u->p->port, "Protocol", elb_protocol(u->p->proto),
			 "DefaultActions", "Type", "forward", "TargetGroupArn", ref(tgname));
		if (u->cert) {
			put(l, "Certificates", PACK("[{s:s}]", "CertificateArn", u->cert));
			put(l, "SslPolicy", json_string(I2K_STACK_SSL_POLICY));
		}
		add_resource(x->root, lname, resource("AWS::ElasticLoadBalancingV2::Listener", l));
		push(listeners, json_string(lname));
		push(target_groups, ref(tgname));
	}
}

static void replicated(struct svc_ctx *x)
{
	json_t *listeners = must(json_array()), *tgs = must(json_array());
	if (x->nports)
		balancer(x, listeners, tgs);

	json_t *data = must(json_object());
	instance_props(x, data);
	put(data, "TagSpecifications",
	    PACK("[{s:s,s:o}]", "ResourceType", "volume", "Tags", tags(x->svc, x->env, false)));
	add_resource(
	    x->root, "LaunchTemplate",
	    resource("AWS::EC2::LaunchTemplate",
		     PACK("{s:o,s:[{s:s,s:o}]}", "LaunchTemplateData", data, "TagSpecifications",
			  "ResourceType", "launch-template", "Tags", tags(x->svc, x->env, false))));

	_cleanup_free_ char *n = i2k_xasprintf("%u", x->svc->replicas);
	json_t *props =
	    PACK("{s:{s:o,s:o},s:s,s:s,s:s,s:o,s:s,s:i,s:o}", "LaunchTemplate", "LaunchTemplateId",
		 ref("LaunchTemplate"), "Version", getatt("LaunchTemplate", "LatestVersionNumber"),
		 "MinSize", n, "MaxSize", n, "DesiredCapacity", n, "VPCZoneIdentifier",
		 subnets_value(x), "HealthCheckType", x->nports ? "ELB" : "EC2",
		 "HealthCheckGracePeriod", 120, "Tags", tags(x->svc, x->env, true));
	if (x->nports)
		put(props, "TargetGroupARNs", json_deep_copy(tgs));
	json_t *asg = resource("AWS::AutoScaling::AutoScalingGroup", props);
	put(asg, "UpdatePolicy",
	    PACK("{s:{s:i,s:i,s:s}}", "AutoScalingRollingUpdate", "MaxBatchSize", 1,
		 "MinInstancesInService", (int)x->svc->replicas - 1, "PauseTime", "PT1M"));
	if (x->nports)
		put(asg, "DependsOn", json_incref(listeners));
	add_resource(x->root, "AutoScalingGroup", asg);

	output(x->root, "AutoScalingGroupName", "the Auto Scaling group", ref("AutoScalingGroup"));
	if (x->nports) {
		output(x->root, "Endpoint", "the load balancer's DNS name",
		       getatt("LoadBalancer", "DNSName"));
		output(x->root, "LoadBalancerArn", "the load balancer", ref("LoadBalancer"));
		output(x->root, "TargetGroupArns", "the target groups, comma-separated, by port",
		       joined(json_incref(tgs)));
	}
	json_decref(listeners);
	json_decref(tgs);
}

static void stateful(struct svc_ctx *x)
{
	if (x->nports)
		security_group(
		    x, "InstanceSecurityGroup",
		    x->svc->public_ ? "instance, open to clients" : "instance, for the services",
		    instance_rules(x, outside_source(x), x->svc->public_,
				   x->svc->public_ ? "clients" : "services of the environment"));
	json_t *props = must(json_object());
	instance_props(x, props);
	put(props, "SubnetId", first_subnet(x));
	put(props, "PropagateTagsToVolumeOnCreation", json_true());
	put(props, "Tags", tags(x->svc, x->env, false));
	add_resource(x->root, "Instance", resource("AWS::EC2::Instance", props));

	add_resource(
	    x->root, "ElasticIp",
	    resource("AWS::EC2::EIP", PACK("{s:s,s:o,s:o}", "Domain", "vpc", "InstanceId",
					   ref("Instance"), "Tags", tags(x->svc, x->env, false))));
	unsigned gib = x->in->data_volume_gib ? x->in->data_volume_gib : I2K_STACK_DEFAULT_DATA_GIB;
	json_t *vol = resource("AWS::EC2::Volume",
			       PACK("{s:o,s:i,s:s,s:o}", "AvailabilityZone",
				    getatt("Instance", "AvailabilityZone"), "Size", (int)gib,
				    "VolumeType", "gp3", "Tags", tags(x->svc, x->env, false)));
	if (x->in->data_snapshot_id)
		put(json_object_get(vol, "Properties"), "SnapshotId",
		    json_string(x->in->data_snapshot_id));
	put(vol, "DeletionPolicy", json_string("Snapshot"));
	put(vol, "UpdateReplacePolicy", json_string("Snapshot"));
	add_resource(x->root, "DataVolume", vol);
	if (!x->in->detach_data_volume)
		add_resource(
		    x->root, "DataVolumeAttachment",
		    resource("AWS::EC2::VolumeAttachment",
			     PACK("{s:o,s:o,s:s}", "InstanceId", ref("Instance"), "VolumeId",
				  ref("DataVolume"), "Device", I2K_STACK_DATA_DEVICE)));
	output(x->root, "Endpoint", "the instance's Elastic IP", ref("ElasticIp"));
	output(x->root, "InstanceId", "the instance", ref("Instance"));
}

/* SERVICE.ENV.ZONE → the balancer (alias) or the Elastic IP. */
static void dns_record(struct svc_ctx *x)
{
	const char *zone = x->env->provider.hosted_zone;
	if (!zone || (!x->svc->stateful && !x->nports))
		return;
	size_t zl = strlen(zone);
	if (zl && zone[zl - 1] == '.')
		zl--;
	_cleanup_free_ char *name =
	    i2k_xasprintf("%s.%s.%.*s", x->svc->name, x->env->name, (int)zl, zone);
	_cleanup_free_ char *fqdn = i2k_xasprintf("%s.", name);
	_cleanup_free_ char *zname = i2k_xasprintf("%.*s.", (int)zl, zone);
	json_t *rec = PACK("{s:s,s:s,s:s}", "HostedZoneName", zname, "Name", fqdn, "Type", "A");
	if (x->svc->stateful) {
		put(rec, "TTL", json_string("60"));
		put(rec, "ResourceRecords", PACK("[o]", ref("ElasticIp")));
	} else {
		put(rec, "AliasTarget",
		    PACK("{s:o,s:o,s:b}", "DNSName", getatt("LoadBalancer", "DNSName"),
			 "HostedZoneId", getatt("LoadBalancer", "CanonicalHostedZoneID"),
			 "EvaluateTargetHealth", 0));
	}
	add_resource(x->root, "DnsRecord", resource("AWS::Route53::RecordSet", rec));
	output(x->root, "DnsName", "the service's DNS name", json_string(name));
}

static int check_service(const struct svc_ctx *x, struct i2k_error **err)
{
	const struct i2k_service *s = x->svc;
	if (!((s->name[0] >= 'A' && s->name[0] <= 'Z') || (s->name[0] >= 'a' && s->name[0] <= 'z')))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: name \"%s\": a CloudFormation stack name starts with a "
				     "letter",
				     s->file, s->name);
	if (s->ncontainers == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: no containers", s->file);
	if (s->stateful && s->replicas != 1)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: stateful needs replicas: 1",
				     s->file);
	const char *zone = x->env->provider.hosted_zone;
	if (zone && (zone[0] == 0 || zone[0] == '.'))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: provider.hosted_zone \"%s\" is not a domain name",
				     x->env->file ? x->env->file : "environment", zone);
	json_t *utf8 = x->in->user_data ? json_string(x->in->user_data) : NULL;
	if (x->in->user_data && !utf8)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: the service's metadata is not UTF-8 text", s->file);
	json_decref(utf8);
	if (x->in->user_data && strlen(x->in->user_data) > I2K_STACK_USER_DATA_MAX)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: the service's metadata is %zu bytes, over EC2's user "
				     "data limit of %u",
				     s->file, strlen(x->in->user_data), I2K_STACK_USER_DATA_MAX);
	return 0;
}

static int service_template(struct svc_ctx *x, char **json, struct i2k_error **err)
{
	if (check_network(x->env, err) < 0 || check_service(x, err) < 0 ||
	    collect_ports(x, err) < 0)
		return -1;
	if (x->alb && !x->svc->stateful && known_subnets(x) == 1)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s: an application load balancer needs subnets in two or "
				     "more availability zones (one given)",
				     x->env->file ? x->env->file : "environment");
	x->stack = i2k_stack_service_name(x->svc, x->env);
	_cleanup_free_ char *desc =
	    i2k_xasprintf("i2kit service %s in environment %s", x->svc->name, x->env->name);
	x->root = template_root(desc);
	if (x->svc->stateful)
		stateful(x);
	else
		replicated(x);
	dns_record(x);
	*json = dump(x->root);
	return 0;
}

int i2k_stack_service_template(const struct i2k_service *svc, const struct i2k_environment *env,
			       const struct i2k_stack_service_inputs *in, char **json,
			       struct i2k_error **err)
{
	*json = NULL;
	if (!svc || !env)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "a service stack needs a service and an environment");
	static const struct i2k_stack_service_inputs none = {0};
	struct svc_ctx x = {.svc = svc, .env = env, .in = in ? in : &none};
	int rc = service_template(&x, json, err);
	json_decref(x.root);
	free(x.ports);
	free(x.stack);
	return rc;
}
