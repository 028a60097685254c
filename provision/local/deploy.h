/* deploy.h — `i2kit deploy` for the local provider, before the supervisor
 * runs: service manifest → image (built only when its inputs changed) →
 * ROOT/SERVICE/desired.json (see state.h, supervisor.h).
 *
 * The content hash is SHA-256 over the generated LinuxKit YAML and the
 * resolved manifest digest of every image it names (kernel, init,
 * containers), resolved through the cache like a build does (a cached tag
 * is not re-resolved unless fetch->pull_always). The build is
 * `EXE build --format kernel+initrd --dir ROOT/SERVICE/images/HASH.tmp
 * --name SERVICE [build_args...] SERVICE.yml`, renamed to images/HASH when
 * it succeeds; an existing images/HASH is used as is.
 *
 * Memory and CPUs: the options, else instance_type (the manifest's, else
 * the environment's provider.instance_type) through EC2's sizes, else
 * I2K_LOCAL_DEFAULT_MEM MB and 1 CPU.
 * Ports: each container port PROTO:PORT:INSTPROTO:INSTPORT gets a balancer
 * on 127.0.0.1:PORT (a free port when taken) forwarding to INSTPORT in
 * every replica; --publish LISTEN:PORT picks LISTEN (0 = any free port) and
 * makes a taken port an error. https→http and ssl→tcp need TLS termination,
 * which the local provider does not do (I2K_ERR_UNSUPPORTED); https→https,
 * ssl→ssl, http and tcp are forwarded as TCP.
 * Health checks: a container with healthcheck.path gets an HTTP check on
 * its first port; otherwise each of its ports gets a TCP check.
 * Private registries: with docker.username/password in the environment,
 * ROOT/SERVICE/docker/config.json (0600) holds them for every registry the
 * images name; the digest resolution and the build use it (DOCKER_CONFIG).
 * Stateful services get ROOT/SERVICE/data.img (an empty ext4 file system of
 * I2K_LOCAL_DATA_DISK_MB MiB, written in-process) on their first deploy,
 * attached to the replica as its second disk.
 */
#ifndef I2K_PROVISION_LOCAL_DEPLOY_H
#define I2K_PROVISION_LOCAL_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/base/error.h"
#include "builder/registry/fetch.h"
#include "provision/local/supervisor.h"
#include "provision/service.h"

#define I2K_LOCAL_DEFAULT_MEM 512u
#define I2K_LOCAL_DATA_DISK_MB 1024u

struct i2k_local_publish {
	uint16_t listen; /* 0 → any free port */
	uint16_t port;	 /* the manifest's PORT */
};

struct i2k_local_deploy_opts {
	const char *exe;	       /* the i2kit binary */
	const char *const *build_args; /* passed to `build` (--cache, --offline...) */
	size_t nbuild_args;
	const struct i2k_fetch_opts *fetch; /* to resolve image digests */
	const char *cache_dir;		    /* NULL → i2k_store_default_dir() */
	unsigned mem_mb, cpus;		    /* 0 → see above */
	const char *accel;		    /* "kvm" or "tcg" */
	const struct i2k_local_publish *publish;
	size_t npublish;
	void (*on_event)(void *ctx, const char *msg); /* progress; may be NULL */
	void *ctx;
};

/* Builds if needed and writes desired.json. While the service's supervisor
 * runs, its ports and health checks cannot change (I2K_ERR_CONFIG "NAME is
 * running with other ports or health checks: ...").  *dir (ROOT/SERVICE) is the
 * caller's; *spec is filled (i2k_local_spec_clear). */
int i2k_local_prepare(const struct i2k_service *m, const struct i2k_environment *env,
		      const struct i2k_local_deploy_opts *o, char **dir,
		      struct i2k_local_spec *spec, struct i2k_error **err);

/* The content hash above (16 hex digits) of a generated LinuxKit YAML: the
 * images it names are resolved through o->fetch and o->cache_dir. With
 * docker_dir, env's docker credentials are written there first and used.
 * Also names the aws provider's AMIs. */
int i2k_local_content_hash(const char *yaml, const struct i2k_local_deploy_opts *o,
			   const struct i2k_environment *env, const char *docker_dir, char out[17],
			   struct i2k_error **err);

/* The spec's ports and checks from a manifest (no I/O). */
int i2k_local_spec_ports(const struct i2k_service *m, const struct i2k_local_publish *publish,
			 size_t npublish, struct i2k_local_spec *spec, struct i2k_error **err);

#endif
