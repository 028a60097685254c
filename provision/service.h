/* service.h — i2kit service manifests (service.yml) and environments
 * (environment.yml), the schema of the original i2kit plus health checks and
 * kernel/init overrides.
 *
 * service.yml:
 *   name: web                      required, [A-Za-z0-9]+
 *   replicas: 2                    default 1, 1..64
 *   stateful: false                true requires replicas = 1
 *   public: false
 *   instance_type: t3.micro        see i2k_instance_type_lookup
 *   kernel: {image, cmdline}       overrides the environment's / built-in default
 *   init: [IMAGE...]               idem
 *   containers:                    required, at least one
 *     NAME:                        [A-Za-z0-9][A-Za-z0-9_.-]*
 *       image: REF                 required
 *       command: STRING | [ARG...] a string is split like a shell would (quotes,
 *                                  backslash), without expansions
 *       environment: [K=V...]      exactly one '=' each, K not empty
 *       ports: [SPEC...]           see i2k_port_parse
 *       healthcheck: {path, interval, timeout}
 *                                  path: HTTP GET (must start with '/');
 *                                  without it a TCP connect to each port.
 *                                  interval/timeout: "500ms", "2s", "1m" or
 *                                  an integer of seconds
 * environment.yml:
 *   name: prod                     required, ^[A-Za-z][A-Za-z0-9]+$
 *   provider: {type: local|aws, region, profile, access_key, secret_key, vpc,
 *              subnets: [..], security_group, keypair, instance_type,
 *              hosted_zone, certificate}   (profile excludes access_key/secret_key;
 *                                           access_key and secret_key go together)
 *   docker: {username, password}
 *   kernel: {image, cmdline}       defaults for every service
 *   init: [IMAGE...]
 *
 * Errors (I2K_ERR_CONFIG, builder/config's format, position of the node):
 *   FILE:L:C: unknown top-level key "K" / unknown key "K" in containers.web
 *   FILE:L:C: replicas: expected an integer
 *   FILE:L:C: containers.web.ports[0]: "http:80:tcp:80": http must map to http
 *   FILE:L:C: missing required field "name"
 *
 * Ownership: everything in a parsed struct is owned by it; free with
 * i2k_service_free / i2k_environment_free (NULL accepted).
 */
#ifndef I2K_PROVISION_SERVICE_H
#define I2K_PROVISION_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"

enum i2k_proto { I2K_PROTO_HTTP, I2K_PROTO_HTTPS, I2K_PROTO_TCP, I2K_PROTO_SSL };
const char *i2k_proto_name(enum i2k_proto p);

/* PROTO:PORT:INSTPROTO:INSTPORT[:CERT] with the pairs http→http,
 * https→https|http, tcp→tcp, ssl→ssl|tcp (CERT only for https/ssl), or
 * "PORT" for tcp:PORT:tcp:PORT. Ports 1..65535. */
struct i2k_port {
	enum i2k_proto proto, inst_proto;
	uint16_t port, inst_port;
	char *cert; /* NULL when absent */
};
/* Returns 0, or -1 with a new message in *why (caller frees) such as
 * "expected PROTO:PORT:INSTPROTO:INSTPORT[:CERT] or PORT". */
int i2k_port_parse(const char *spec, struct i2k_port *out, char **why);

#define I2K_HEALTH_DEFAULT_INTERVAL_MS 5000u
#define I2K_HEALTH_DEFAULT_TIMEOUT_MS 2000u

struct i2k_healthcheck {
	char *path;	      /* NULL → TCP connect */
	unsigned interval_ms; /* always set (default above) */
	unsigned timeout_ms;
};

struct i2k_container {
	char *name;
	char *image;
	char **command; /* NULL-terminated argv, NULL when absent */
	size_t ncommand;
	char **env; /* "K=V" */
	size_t nenv;
	struct i2k_port *ports;
	size_t nports;
	struct i2k_healthcheck health;
	unsigned line, col; /* position of the container's key */
};

struct i2k_kernel_spec {
	char *image, *cmdline; /* NULL when absent */
};

struct i2k_service {
	char *file;
	char *name;
	unsigned replicas;
	bool stateful, public_;
	char *instance_type; /* NULL when absent */
	struct i2k_kernel_spec kernel;
	char **init; /* NULL when absent */
	size_t ninit;
	struct i2k_container *containers; /* in file order */
	size_t ncontainers;
};

struct i2k_provider_spec {
	char *type; /* "local" (default) or "aws" */
	char *region, *profile, *access_key, *secret_key, *vpc, *security_group, *keypair,
	    *instance_type, *hosted_zone, *certificate;
	char **subnets;
	size_t nsubnets;
};

struct i2k_environment {
	char *file;
	char *name;
	struct i2k_provider_spec provider;
	char *docker_username, *docker_password;
	struct i2k_kernel_spec kernel;
	char **init;
	size_t ninit;
};

/* Parse YAML text; `file` names it in errors. *out is new (caller frees). */
int i2k_service_parse(const char *file, const char *data, size_t len, struct i2k_service **out,
		      struct i2k_error **err);
int i2k_service_load(const char *path, struct i2k_service **out, struct i2k_error **err);
void i2k_service_free(struct i2k_service *m);
void i2k_service_freep(struct i2k_service **m);

int i2k_environment_parse(const char *file, const char *data, size_t len,
			  struct i2k_environment **out, struct i2k_error **err);
int i2k_environment_load(const char *path, struct i2k_environment **out, struct i2k_error **err);
void i2k_environment_free(struct i2k_environment *e);
void i2k_environment_freep(struct i2k_environment **e);

/* Splits a command string like a POSIX shell's word splitting: blanks
 * separate words, '...' is literal, "..." allows \" \\ \$ \`, a backslash
 * outside quotes escapes the next character. No expansions. Returns a
 * NULL-terminated vector (caller frees each and the vector) or NULL with
 * *why set ("unterminated quote"). */
char **i2k_shell_split(const char *s, size_t *n, const char **why);

/* EC2 instance sizes: memory in MB and vCPUs for a type ("t3.micro" →
 * 1024, 2). Returns false for an unknown type. */
bool i2k_instance_type_lookup(const char *type, unsigned *mem_mb, unsigned *cpus);

#endif
