/* test_service.c — service manifests and environments (provision/service.c),
 * port specs, command splitting, instance types, and the LinuxKit YAML of
 * provision/template.c (parsed back by builder/config). */
#include "test.h"

#include "builder/config/config.h"
#include "provision/service.h"
#include "initrd/init/datadisk.h"
#include "provision/template.h"

static int svc(const char *yaml, struct i2k_service **m, struct i2k_error **e)
{
	return i2k_service_parse("s.yml", yaml, strlen(yaml), m, e);
}

static int env(const char *yaml, struct i2k_environment **m, struct i2k_error **e)
{
	return i2k_environment_parse("e.yml", yaml, strlen(yaml), m, e);
}

/* The error message of parsing a bad manifest (a new string). */
static char *svc_err(const char *yaml)
{
	struct i2k_service *m = NULL;
	struct i2k_error *e = NULL;
	if (svc(yaml, &m, &e) == 0) {
		i2k_service_free(m);
		return strdup("(parsed)");
	}
	char *s = strdup(e->code == I2K_ERR_CONFIG ? e->msg : "(not a config error)");
	i2k_error_free(e);
	return s;
}

static char *env_err(const char *yaml)
{
	struct i2k_environment *m = NULL;
	struct i2k_error *e = NULL;
	if (env(yaml, &m, &e) == 0) {
		i2k_environment_free(m);
		return strdup("(parsed)");
	}
	char *s = strdup(e->msg);
	i2k_error_free(e);
	return s;
}

#define SVC_ERR(yaml, want)                                                                        \
	do {                                                                                       \
		char *_m = svc_err(yaml);                                                          \
		CHECK_STR(_m, want);                                                               \
		free(_m);                                                                          \
	} while (0)
#define ENV_ERR(yaml, want)                                                                        \
	do {                                                                                       \
		char *_m = env_err(yaml);                                                          \
		CHECK_STR(_m, want);                                                               \
		free(_m);                                                                          \
	} while (0)

TEST(parses_full_manifest)
{
	const char *y = "name: web\n"
			"replicas: 3\n"
			"public: yes\n"
			"instance_type: t3.micro\n"
			"kernel: {image: k:1, cmdline: console=ttyS0 quiet}\n"
			"init: [i:1, i:2]\n"
			"containers:\n"
			"  web:\n"
			"    image: fixtures/web:latest\n"
			"    command: sh -c 'echo \"a b\"; exec httpd' x\\ y\n"
			"    environment: [A=1, B=]\n"
			"    ports: [\"80\", \"https:443:http:8080:arn:aws:acm:x\"]\n"
			"    healthcheck: {path: /health, interval: 1500ms, timeout: 1}\n"
			"  side:\n"
			"    image: busybox\n"
			"    command: [sleep, \"10\"]\n";
	struct i2k_service *m = NULL;
	OK(svc(y, &m, &_e));
	if (!m)
		return;
	CHECK_STR(m->name, "web");
	CHECK_INT(m->replicas, 3);
	CHECK(m->public_);
	CHECK(!m->stateful);
	CHECK_STR(m->instance_type, "t3.micro");
	CHECK_STR(m->kernel.image, "k:1");
	CHECK_STR(m->kernel.cmdline, "console=ttyS0 quiet");
	CHECK_INT(m->ninit, 2);
	CHECK_INT(m->ncontainers, 2);
	struct i2k_container *c = &m->containers[0];
	CHECK_STR(c->name, "web");
	CHECK_INT(c->ncommand, 4);
	CHECK_STR(c->command[0], "sh");
	CHECK_STR(c->command[2], "echo \"a b\"; exec httpd");
	CHECK_STR(c->command[3], "x y");
	CHECK(c->command[4] == NULL);
	CHECK_INT(c->nenv, 2);
	CHECK_STR(c->env[1], "B=");
	CHECK_INT(c->nports, 2);
	CHECK_INT(c->ports[0].proto, I2K_PROTO_TCP);
	CHECK_INT(c->ports[0].port, 80);
	CHECK_INT(c->ports[0].inst_port, 80);
	CHECK_INT(c->ports[1].proto, I2K_PROTO_HTTPS);
	CHECK_INT(c->ports[1].inst_proto, I2K_PROTO_HTTP);
	CHECK_INT(c->ports[1].inst_port, 8080);
	CHECK_STR(c->ports[1].cert, "arn:aws:acm:x");
	CHECK_STR(c->health.path, "/health");
	CHECK_INT(c->health.interval_ms, 1500);
	CHECK_INT(c->health.timeout_ms, 1000);
	CHECK_INT(c->line, 8);
	CHECK_INT(c->col, 3);
	c = &m->containers[1];
	CHECK_STR(c->name, "side");
	CHECK_INT(c->ncommand, 2);
	CHECK(c->health.path == NULL);
	CHECK_INT(c->health.interval_ms, I2K_HEALTH_DEFAULT_INTERVAL_MS);
	i2k_service_free(m);
}

TEST(manifest_defaults)
{
	struct i2k_service *m = NULL;
	OK(svc("name: a1\ncontainers:\n  c: {image: x}\n", &m, &_e));
	if (!m)
		return;
	CHECK_INT(m->replicas, 1);
	CHECK(!m->stateful && !m->public_);
	CHECK(m->instance_type == NULL && m->kernel.image == NULL && m->init == NULL);
	CHECK(m->containers[0].command == NULL && m->containers[0].nports == 0);
	i2k_service_free(m);
}

TEST(manifest_errors_have_positions)
{
	SVC_ERR("name: web\nfoo: 1\ncontainers: {c: {image: x}}\n",
		"s.yml:2:1: unknown top-level key \"foo\"");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    bogus: 1\n",
		"s.yml:5:5: unknown key \"bogus\" in containers.c");
	SVC_ERR("name: web\nreplicas: two\ncontainers: {c: {image: x}}\n",
		"s.yml:2:11: replicas: expected an integer");
	SVC_ERR("name: web\nreplicas: 0\ncontainers: {c: {image: x}}\n",
		"s.yml:2:11: replicas: must be between 1 and 64");
	SVC_ERR("name: web\nstateful: maybe\ncontainers: {c: {image: x}}\n",
		"s.yml:2:11: stateful: expected a boolean (true or false)");
	SVC_ERR("name: web\nstateful: true\nreplicas: 2\ncontainers: {c: {image: x}}\n",
		"s.yml:3:11: replicas: a stateful service has exactly 1 replica");
	SVC_ERR("name: we-b\ncontainers: {c: {image: x}}\n",
		"s.yml:1:7: name: \"we-b\": must be alphanumeric (at most 63)");
	SVC_ERR("replicas: 1\ncontainers: {c: {image: x}}\n",
		"s.yml:1:1: missing required field \"name\"");
	SVC_ERR("name: web\n", "s.yml:1:1: missing required field \"containers\"");
	SVC_ERR("name: web\ncontainers: {}\n",
		"s.yml:2:13: containers: expected at least one container");
	SVC_ERR("name: web\ncontainers: [a]\n", "s.yml:2:13: containers: expected a mapping");
	SVC_ERR("name: web\ncontainers:\n  c:\n    command: [ls]\n",
		"s.yml:4:5: containers.c: missing required field \"image\"");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: [x]\n",
		"s.yml:4:12: containers.c.image: expected a string");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    command: {a: b}\n",
		"s.yml:5:14: containers.c.command: expected a string or a list of strings");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    command: \"sh -c 'x\"\n",
		"s.yml:5:14: containers.c.command: unterminated single quote");
	SVC_ERR(
	    "name: web\ncontainers:\n  c:\n    image: x\n    environment: [A=1, B]\n",
	    "s.yml:5:24: containers.c.environment[1]: \"B\": expected KEY=VALUE with exactly one "
	    "'='");
	SVC_ERR(
	    "name: web\ncontainers:\n  c:\n    image: x\n    environment: [\"A=1=2\"]\n",
	    "s.yml:5:19: containers.c.environment[0]: \"A=1=2\": expected KEY=VALUE with exactly "
	    "one '='");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    environment: A=1\n",
		"s.yml:5:18: containers.c.environment: expected a list of strings");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    ports: [\"http:80:tcp:80\"]\n",
		"s.yml:5:13: containers.c.ports[0]: \"http:80:tcp:80\": http must map to http");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    ports: [80, 80]\n",
		"s.yml:3:3: containers.c: port 80 is declared twice");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    healthcheck: {path: health}\n",
		"s.yml:5:25: containers.c.healthcheck.path: must start with '/' and contain no "
		"blanks");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    healthcheck: {interval: 5 s}\n",
		"s.yml:5:29: containers.c.healthcheck.interval: expected a duration such as "
		"\"500ms\", \"2s\", \"1m\" or seconds");
	SVC_ERR("name: web\ncontainers:\n  c:\n    image: x\n    healthcheck: {retries: 3}\n",
		"s.yml:5:19: unknown key \"retries\" in containers.c.healthcheck");
	SVC_ERR(
	    "name: web\ncontainers:\n  -c:\n    image: x\n",
	    "s.yml:3:3: containers: invalid container name \"-c\": letters, digits and _.- (not "
	    "first), at most 63");
	SVC_ERR("name: web\nkernel: {cmdline: x}\ncontainers: {c: {image: x}}\n",
		"s.yml:2:9: kernel: missing required field \"image\"");
	SVC_ERR("name: web\ninit: []\ncontainers: {c: {image: x}}\n",
		"s.yml:2:7: init: expected at least one image");
	SVC_ERR("name: web\nname: x\n",
		"s.yml:2:1: duplicate key \"name\" (first at line 1, column 1)");
}

TEST(parses_environment)
{
	struct i2k_environment *e = NULL;
	OK(env("name: prod1\n"
	       "provider: {type: aws, region: eu-west-1, access_key: A, secret_key: S,\n"
	       "           subnets: [s1, s2], vpc: v, security_group: g, keypair: k,\n"
	       "           instance_type: t3.small, hosted_zone: z, certificate: c}\n"
	       "docker: {username: u, password: p}\n"
	       "kernel: {image: reg/kernel:6.1}\n"
	       "init: [reg/init:1]\n",
	       &e, &_e));
	if (!e)
		return;
	CHECK_STR(e->name, "prod1");
	CHECK_STR(e->provider.type, "aws");
	CHECK_STR(e->provider.region, "eu-west-1");
	CHECK_INT(e->provider.nsubnets, 2);
	CHECK_STR(e->provider.subnets[1], "s2");
	CHECK_STR(e->docker_password, "p");
	CHECK_STR(e->kernel.image, "reg/kernel:6.1");
	CHECK_STR(e->init[0], "reg/init:1");
	i2k_environment_free(e);
	OK(env("name: dev\n", &e, &_e));
	if (e)
		CHECK_STR(e->provider.type, "local");
	i2k_environment_free(e);
}

TEST(environment_errors_have_positions)
{
	ENV_ERR("name: 1dev\n", "e.yml:1:7: name: \"1dev\": must match ^[A-Za-z][A-Za-z0-9]+$");
	ENV_ERR("name: d\n", "e.yml:1:7: name: \"d\": must match ^[A-Za-z][A-Za-z0-9]+$");
	ENV_ERR("name: dev\nprovider: {type: gcp}\n",
		"e.yml:2:18: provider.type: \"gcp\": expected local or aws");
	ENV_ERR("name: dev\nprovider: {zone: x}\n", "e.yml:2:12: unknown key \"zone\" in provider");
	ENV_ERR("name: dev\nprovider: {profile: p, access_key: a, secret_key: s}\n",
		"e.yml:2:21: provider: give either profile or access_key + secret_key, not both");
	ENV_ERR("name: dev\nprovider: {access_key: a}\n",
		"e.yml:2:24: provider: access_key and secret_key go together");
	ENV_ERR("name: dev\nprovider: {subnets: s}\n",
		"e.yml:2:21: provider.subnets: expected a list of strings");
	ENV_ERR("name: dev\ndocker: {user: u}\n", "e.yml:2:10: unknown key \"user\" in docker");
	ENV_ERR("name: dev\nregion: x\n", "e.yml:2:1: unknown top-level key \"region\"");
	ENV_ERR("provider: {type: local}\n", "e.yml:1:1: missing required field \"name\"");
}

static char *port_err(const char *spec)
{
	struct i2k_port p;
	char *why = NULL;
	if (i2k_port_parse(spec, &p, &why) == 0) {
		free(p.cert);
		return strdup("(parsed)");
	}
	return why;
}

#define PORT_ERR(spec, want)                                                                       \
	do {                                                                                       \
		char *_m = port_err(spec);                                                         \
		CHECK_STR(_m, want);                                                               \
		free(_m);                                                                          \
	} while (0)

TEST(port_syntax)
{
	struct i2k_port p;
	char *why = NULL;
	static const char *const ok[] = {"http:80:http:8080",
					 "https:443:https:443",
					 "https:443:http:80",
					 "tcp:5432:tcp:5432",
					 "ssl:993:ssl:993",
					 "ssl:993:tcp:143",
					 "65535",
					 "https:443:http:80:arn:a:b:c"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int r = i2k_port_parse(ok[i], &p, &why);
		CHECK(r == 0);
		if (r == 0)
			free(p.cert);
		else
			fprintf(stderr, "  %s: %s\n", ok[i], why), free(why);
	}
	CHECK(i2k_port_parse("8080", &p, &why) == 0);
	CHECK(p.proto == I2K_PROTO_TCP && p.inst_proto == I2K_PROTO_TCP && p.port == 8080 &&
	      p.inst_port == 8080 && p.cert == NULL);
	PORT_ERR("0", "\"0\": expected a port 1..65535 or PROTO:PORT:INSTPROTO:INSTPORT[:CERT]");
	PORT_ERR("65536", "\"65536\": expected a port 1..65535 or "
			  "PROTO:PORT:INSTPROTO:INSTPORT[:CERT]");
	PORT_ERR("http:80", "\"http:80\": expected PROTO:PORT:INSTPROTO:INSTPORT[:CERT] or PORT");
	PORT_ERR("udp:53:udp:53", "\"udp:53:udp:53\": protocols are http, https, tcp or ssl");
	PORT_ERR("tcp:x:tcp:1", "\"tcp:x:tcp:1\": ports must be numbers in 1..65535");
	PORT_ERR("tcp:80:http:80", "\"tcp:80:http:80\": tcp must map to tcp");
	PORT_ERR("http:80:https:443", "\"http:80:https:443\": http must map to http");
	PORT_ERR("https:443:tcp:80", "\"https:443:tcp:80\": https must map to https or http");
	PORT_ERR("ssl:1:http:1", "\"ssl:1:http:1\": ssl must map to ssl or tcp");
	PORT_ERR("http:80:http:80:cert", "\"http:80:http:80:cert\": a certificate only goes with "
					 "https or ssl");
	PORT_ERR("https:443:https:443:", "\"https:443:https:443:\": empty certificate");
}

TEST(shell_split)
{
	size_t n = 0;
	const char *why = NULL;
	char **v = i2k_shell_split("  a 'b c'\"d\\\"e\" f\\ g '' ", &n, &why);
	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_INT(n, 4);
	CHECK_STR(v[0], "a");
	CHECK_STR(v[1], "b cd\"e");
	CHECK_STR(v[2], "f g");
	CHECK_STR(v[3], "");
	CHECK(v[4] == NULL);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	CHECK(i2k_shell_split("a \"b", &n, &why) == NULL);
	CHECK_STR(why, "unterminated double quote");
	CHECK(i2k_shell_split("a\\", &n, &why) == NULL);
	CHECK_STR(why, "trailing backslash");
	CHECK(i2k_shell_split("   ", &n, &why) == NULL);
	CHECK_STR(why, "empty command");
}

TEST(instance_types)
{
	unsigned mem = 0, cpus = 0;
	CHECK(i2k_instance_type_lookup("t3.micro", &mem, &cpus));
	CHECK(mem == 1024 && cpus == 2);
	CHECK(i2k_instance_type_lookup("t2.micro", &mem, &cpus));
	CHECK(mem == 1024 && cpus == 1);
	CHECK(i2k_instance_type_lookup("t3.nano", &mem, &cpus));
	CHECK(mem == 512 && cpus == 2);
	CHECK(i2k_instance_type_lookup("m5.large", &mem, &cpus));
	CHECK(mem == 8192 && cpus == 2);
	CHECK(i2k_instance_type_lookup("c5.xlarge", &mem, &cpus));
	CHECK(mem == 8192 && cpus == 4);
	CHECK(!i2k_instance_type_lookup("t3.huge", &mem, &cpus));
	CHECK(!i2k_instance_type_lookup("x9.large", &mem, &cpus));
	CHECK(!i2k_instance_type_lookup("large", &mem, &cpus));
}

TEST(template_round_trips_through_the_config_parser)
{
	const char *y = "name: web\n"
			"containers:\n"
			"  web:\n"
			"    image: fixtures/web:latest\n"
			"    command: sh -c 'echo \"yes\" > /tmp/x; exec httpd -f'\n"
			"    environment: [\"GREETING=true\", \"EMPTY=\", \"Q=a: b # c\"]\n"
			"  side:\n"
			"    image: \"true\"\n";
	struct i2k_service *m = NULL;
	OK(svc(y, &m, &_e));
	if (!m)
		return;
	char *out = NULL;
	OK(i2k_template_linuxkit_yaml(m, NULL, &out, &_e));
	struct i2k_config *c = NULL;
	if (out)
		OK(i2k_config_parse("t.yml", out, strlen(out), &c, &_e));
	if (c) {
		CHECK_STR(c->kernel.image, I2K_TEMPLATE_KERNEL);
		CHECK_STR(c->kernel.cmdline, I2K_TEMPLATE_CMDLINE);
		CHECK_INT(c->n_init, 1);
		CHECK_STR(c->init[0].image, "i2kit/init:" I2K_VERSION);
		CHECK_INT(c->n_onboot, 0);
		CHECK_INT(c->n_services, 2);
		struct i2k_image_entry *s = &c->services[0];
		CHECK_STR(s->name, "web");
		CHECK_STR(s->image, "fixtures/web:latest");
		CHECK_STR(s->opts.net, "host");
		CHECK_INT(s->opts.capabilities.n, i2k_template_ndefault_caps);
		for (size_t i = 0; i < s->opts.capabilities.n; i++)
			CHECK(strcmp(s->opts.capabilities.v[i], "all") != 0);
		CHECK_INT(s->opts.command.n, 3);
		CHECK_STR(s->opts.command.v[2], "echo \"yes\" > /tmp/x; exec httpd -f");
		CHECK_INT(s->opts.env.n, 3);
		CHECK_STR(s->opts.env.v[0], "GREETING=true");
		CHECK_STR(s->opts.env.v[2], "Q=a: b # c");
		CHECK(s->opts.annotations != NULL);
		CHECK_STR(
		    json_string_value(json_object_get(s->opts.annotations, "org.i2kit.restart")),
		    "always");
		CHECK_STR(c->services[1].image, "true");
		CHECK(!c->services[1].opts.command.set);
		CHECK_INT(c->n_files, 2);
	}
	CHECK_CONTAINS(out, "CAP_NET_BIND_SERVICE");
	i2k_config_free(c);
	/* the environment's defaults, then the manifest's own kernel */
	struct i2k_environment *e = NULL;
	OK(env("name: dev\nkernel: {image: \"r/k:1\"}\ninit: [r/init:2]\n", &e, &_e));
	free(out);
	out = NULL;
	OK(i2k_template_linuxkit_yaml(m, e, &out, &_e));
	CHECK_CONTAINS(out, "  image: \"r/k:1\"\n  cmdline: \"console=ttyS0\"\n");
	CHECK_CONTAINS(out, "init:\n  - \"r/init:2\"\n");
	CHECK_CONTAINS(out, ", environment dev\n");
	free(out);
	out = NULL;
	m->kernel.image = strdup("own/k:2");
	OK(i2k_template_linuxkit_yaml(m, e, &out, &_e));
	CHECK_CONTAINS(out, "  image: \"own/k:2\"\n");
	/* deterministic */
	char *again = NULL;
	OK(i2k_template_linuxkit_yaml(m, e, &again, &_e));
	CHECK_STR(out, again);
	free(again);
	free(out);
	i2k_environment_free(e);
	i2k_service_free(m);
}

/* a stateful service's containers bind the data disk the guest init mounts */
TEST(template_stateful_binds_the_data_disk)
{
	CHECK(strncmp(I2K_TEMPLATE_DATA_BIND, I2KI_DATA_DIR ":", strlen(I2KI_DATA_DIR) + 1) == 0);
	const char *y = "name: db\nstateful: true\n"
			"containers: {a: {image: x}, b: {image: y}}\n";
	struct i2k_service *m = NULL;
	OK(svc(y, &m, &_e));
	if (!m)
		return;
	char *out = NULL;
	struct i2k_config *c = NULL;
	OK(i2k_template_linuxkit_yaml(m, NULL, &out, &_e));
	if (out)
		OK(i2k_config_parse("t.yml", out, strlen(out), &c, &_e));
	if (c) {
		CHECK_INT(c->n_services, 2);
		for (size_t i = 0; i < c->n_services; i++) {
			CHECK_INT(c->services[i].opts.binds.n, 1);
			if (c->services[i].opts.binds.n == 1)
				CHECK_STR(c->services[i].opts.binds.v[0],
					  "/var/lib/i2kit/data:/data");
		}
	}
	i2k_config_free(c);
	free(out);
	out = NULL;
	/* a stateless one binds nothing */
	m->stateful = false;
	OK(i2k_template_linuxkit_yaml(m, NULL, &out, &_e));
	CHECK(out && !strstr(out, "binds"));
	free(out);
	i2k_service_free(m);
}

int main(void)
{
	t_prog = "test_service";
	RUN(parses_full_manifest);
	RUN(manifest_defaults);
	RUN(manifest_errors_have_positions);
	RUN(parses_environment);
	RUN(environment_errors_have_positions);
	RUN(port_syntax);
	RUN(shell_split);
	RUN(instance_types);
	RUN(template_round_trips_through_the_config_parser);
	RUN(template_stateful_binds_the_data_disk);
	return TEST_DONE();
}
