/* deploy.c — see deploy.h. */
#include "provision/local/deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/hash.h"
#include "builder/base/util.h"
#include "builder/config/config.h"
#include "builder/registry/ref.h"
#include "builder/store/store.h"
#include "provision/local/datadisk.h"
#include "provision/local/state.h"
#include "provision/template.h"

#define note(o, ...) i2k_local_emit((o)->on_event, (o)->ctx, __VA_ARGS__)

int i2k_local_spec_ports(const struct i2k_service *m, const struct i2k_local_publish *publish,
			 size_t npublish, struct i2k_local_spec *spec, struct i2k_error **err)
{
	size_t np = 0, nc = 0;
	for (size_t i = 0; i < m->ncontainers; i++)
		np += m->containers[i].nports;
	spec->ports = i2k_xcalloc(np + 1, sizeof(*spec->ports));
	spec->checks = i2k_xcalloc(np + m->ncontainers + 1, sizeof(*spec->checks));
	for (size_t k = 0; k < npublish; k++) {
		bool found = false;
		for (size_t i = 0; i < m->ncontainers; i++)
			for (size_t j = 0; j < m->containers[i].nports; j++)
				found |= m->containers[i].ports[j].port == publish[k].port;
		if (!found)
			return i2k_error_set(err, I2K_ERR_USAGE,
					     "--publish %u:%u: the service declares no port %u",
					     publish[k].listen, publish[k].port, publish[k].port);
	}
	for (size_t i = 0; i < m->ncontainers; i++) {
		const struct i2k_container *c = &m->containers[i];
		for (size_t j = 0; j < c->nports; j++) {
			const struct i2k_port *p = &c->ports[j];
			if ((p->proto == I2K_PROTO_HTTPS && p->inst_proto == I2K_PROTO_HTTP) ||
			    (p->proto == I2K_PROTO_SSL && p->inst_proto == I2K_PROTO_TCP))
				return i2k_error_set(
				    err, I2K_ERR_UNSUPPORTED,
				    "%s: containers.%s: port %s:%u:%s:%u needs TLS termination, "
				    "which the local provider does not do",
				    m->file, c->name, i2k_proto_name(p->proto), p->port,
				    i2k_proto_name(p->inst_proto), p->inst_port);
			struct i2k_local_port *lp = &spec->ports[spec->nports++];
			lp->guest = p->inst_port;
			lp->listen = p->port;
			for (size_t k = 0; k < npublish; k++)
				if (publish[k].port == p->port) {
					lp->listen = publish[k].listen;
					lp->listen_forced = publish[k].listen != 0;
				}
			if (!c->health.path)
				spec->checks[nc++] =
				    (struct i2k_local_check){.guest = p->inst_port,
							     .interval_ms = c->health.interval_ms,
							     .timeout_ms = c->health.timeout_ms};
		}
		if (c->health.path && c->nports > 0)
			spec->checks[nc++] =
			    (struct i2k_local_check){.guest = c->ports[0].inst_port,
						     .path = i2k_xstrdup(c->health.path),
						     .interval_ms = c->health.interval_ms,
						     .timeout_ms = c->health.timeout_ms};
	}
	spec->nchecks = nc;
	return 0;
}

/* DOCKER_DIR/config.json with the environment's docker credentials for
 * every registry named in imgs (read by builder/registry like Docker's). */
static int write_docker_config(const char *docker_dir, const struct i2k_environment *env,
			       const char *const *imgs, size_t n, struct i2k_error **err)
{
	json_t *auths = json_object();
	for (size_t i = 0; i < n; i++) {
		struct i2k_ref r;
		if (i2k_ref_parse(imgs[i], &r, NULL) < 0)
			continue;
		json_object_set_new(auths, r.registry,
				    json_pack("{s:s,s:s}", "username", env->docker_username,
					      "password",
					      env->docker_password ? env->docker_password : ""));
		i2k_ref_clear(&r);
	}
	json_t *root = json_pack("{s:o}", "auths", auths);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	_cleanup_free_ char *path = i2k_xasprintf("%s/config.json", docker_dir);
	int rc = -1;
	if (text && i2k_mkdir_p(docker_dir, 0700, err) == 0 &&
	    i2k_write_file_atomic(path, text, strlen(text), 0600, err) == 0)
		rc = 0;
	free(text);
	return rc;
}

int i2k_local_content_hash(const char *yaml, const struct i2k_local_deploy_opts *o,
			   const struct i2k_environment *env, const char *docker_dir, char out[17],
			   struct i2k_error **err)
{
	struct i2k_config *cfg = NULL;
	if (i2k_config_parse("<template>", yaml, strlen(yaml), &cfg, err) < 0)
		return i2k_error_wrap(err, "generated YAML");
	size_t n = 0;
	const char **imgs = i2k_xcalloc(2 + cfg->n_init + cfg->n_services, sizeof(char *));
	if (cfg->kernel.image)
		imgs[n++] = cfg->kernel.image;
	for (size_t i = 0; i < cfg->n_init; i++)
		imgs[n++] = cfg->init[i].image;
	for (size_t i = 0; i < cfg->n_services; i++)
		imgs[n++] = cfg->services[i].image;
	char(*digests)[I2K_DIGEST_LEN + 1] = i2k_xcalloc(n + 1, sizeof(*digests));
	_cleanup_free_ char *cache =
	    o->cache_dir ? i2k_xstrdup(o->cache_dir) : i2k_store_default_dir();
	struct i2k_store *store = NULL;
	struct i2k_fetcher *f = NULL;
	struct i2k_fetch_opts fo = *o->fetch;
	int rc = -1;
	if (docker_dir) {
		if (write_docker_config(docker_dir, env, imgs, n, err) < 0)
			goto out;
		fo.registry.docker_config_dir = docker_dir;
	}
	if (i2k_store_open(cache, &store, err) < 0 || i2k_fetcher_new(store, &fo, &f, err) < 0 ||
	    i2k_fetch_images(f, imgs, n, digests, err) < 0)
		goto out;
	struct i2k_sha256 *h = i2k_sha256_new();
	i2k_sha256_update(h, yaml, strlen(yaml));
	for (size_t i = 0; i < n; i++) {
		i2k_sha256_update(h, imgs[i], strlen(imgs[i]));
		i2k_sha256_update(h, " ", 1);
		i2k_sha256_update(h, digests[i], strlen(digests[i]));
		i2k_sha256_update(h, "\n", 1);
	}
	char d[I2K_DIGEST_LEN + 1];
	i2k_sha256_final(h, d);
	i2k_sha256_free(h);
	memcpy(out, d + 7, 16);
	out[16] = '\0';
	rc = 0;
out:
	i2k_fetcher_free(f);
	i2k_store_free(store);
	free(digests);
	free(imgs);
	i2k_config_free(cfg);
	return rc;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int run_build(const struct i2k_local_deploy_opts *o, const char *outdir, const char *name,
		     const char *yml, const char *docker_dir, struct i2k_error **err)
{
	size_t n = 0;
	const char **argv = i2k_xcalloc(12 + o->nbuild_args, sizeof(char *));
	argv[n++] = "i2kit";
	argv[n++] = "build";
	argv[n++] = "--format=kernel+initrd";
	_cleanup_free_ char *d = i2k_xasprintf("--dir=%s", outdir);
	_cleanup_free_ char *nm = i2k_xasprintf("--name=%s", name);
	argv[n++] = d;
	argv[n++] = nm;
	for (size_t i = 0; i < o->nbuild_args; i++)
		argv[n++] = o->build_args[i];
	argv[n++] = yml;
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(2, 1); /* build's results are progress here */
		if (docker_dir)
			setenv("DOCKER_CONFIG", docker_dir, 1);
		execv(o->exe, (char *const *)argv);
		_exit(127);
	}
	free(argv);
	if (pid < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "fork");
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return i2k_error_errno(err, errno, I2K_ERR_INTERNAL, "waitpid");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return i2k_error_set(err, WEXITSTATUS(st) == 3 ? I2K_ERR_REGISTRY : I2K_ERR_CONFIG,
				     "building %s failed (i2kit build exit status %d)", yml,
				     WEXITSTATUS(st));
	return i2k_error_set(err, I2K_ERR_INTERRUPTED, "building %s: killed by signal %d", yml,
			     WTERMSIG(st));
}

static void pick_size(const struct i2k_service *m, const struct i2k_environment *env,
		      const struct i2k_local_deploy_opts *o, unsigned *mem, unsigned *cpus,
		      struct i2k_error **err)
{
	*mem = I2K_LOCAL_DEFAULT_MEM;
	*cpus = 1;
	const char *it = m->instance_type ? m->instance_type
			 : env		  ? env->provider.instance_type
					  : NULL;
	if (it && !i2k_instance_type_lookup(it, mem, cpus))
		note(o, "instance type %s is not in the local size table: %u MB, %u CPU", it, *mem,
		     *cpus);
	if (o->mem_mb)
		*mem = o->mem_mb;
	if (o->cpus)
		*cpus = o->cpus;
}

/* The running deployment (desired.json) has the same ports and checks. */
static bool same_ports(const char *desired, const struct i2k_local_spec *spec)
{
	struct i2k_local_spec old;
	if (i2k_local_spec_load(desired, &old, NULL) < 0)
		return true; /* nothing to compare with: the supervisor says */
	bool same = old.nports == spec->nports && old.nchecks == spec->nchecks;
	for (size_t i = 0; same && i < old.nports; i++)
		same = old.ports[i].guest == spec->ports[i].guest &&
		       old.ports[i].listen == spec->ports[i].listen;
	for (size_t i = 0; same && i < old.nchecks; i++)
		same = old.checks[i].guest == spec->checks[i].guest &&
		       !old.checks[i].path == !spec->checks[i].path;
	i2k_local_spec_clear(&old);
	return same;
}

static int prepare(const struct i2k_service *m, const struct i2k_environment *env,
		   const struct i2k_local_deploy_opts *o, char **dir_out,
		   struct i2k_local_spec *spec, struct i2k_error **err)
{
	_cleanup_free_ char *dir = NULL, *yaml = NULL;
	if (i2k_local_service_dir(m->name, &dir, err) < 0)
		return -1;
	if (i2k_local_spec_ports(m, o->publish, o->npublish, spec, err) < 0)
		return -1;
	if (i2k_template_linuxkit_yaml(m, env, &yaml, err) < 0)
		return -1;
	char hash[17];
	_cleanup_free_ char *docker_dir =
	    env && env->docker_username ? i2k_xasprintf("%s/docker", dir) : NULL;
	if (i2k_local_content_hash(yaml, o, env, docker_dir, hash, err) < 0)
		return -1;
	_cleanup_free_ char *imgdir = i2k_xasprintf("%s/images/%s", dir, hash);
	_cleanup_free_ char *prefix = i2k_xasprintf("%s/%s", imgdir, m->name);
	_cleanup_free_ char *kernel = i2k_xasprintf("%s-kernel", prefix);
	_cleanup_free_ char *initrd = i2k_xasprintf("%s-initrd.img", prefix);
	if (exists(kernel) && exists(initrd)) {
		note(o, "image %s is up to date: not rebuilt", hash);
	} else {
		_cleanup_free_ char *tmp = i2k_xasprintf("%s.tmp", imgdir);
		_cleanup_free_ char *yml = i2k_xasprintf("%s/%s.yml", tmp, m->name);
		i2k_rm_rf(tmp, NULL);
		i2k_rm_rf(imgdir, NULL);
		if (i2k_mkdir_p(tmp, 0755, err) < 0 ||
		    i2k_write_file_atomic(yml, yaml, strlen(yaml), 0644, err) < 0)
			return -1;
		note(o, "building image %s", hash);
		if (run_build(o, tmp, m->name, yml, docker_dir, err) < 0) {
			i2k_rm_rf(tmp, NULL);
			return -1;
		}
		if (rename(tmp, imgdir) < 0)
			return i2k_error_errno(err, errno, I2K_ERR_IO, "rename %s", tmp);
	}
	spec->service = i2k_xstrdup(m->name);
	spec->image = I2K_STEAL(prefix);
	spec->hash = i2k_xstrdup(hash);
	spec->accel = i2k_xstrdup(o->accel ? o->accel : "tcg");
	spec->replicas = m->replicas;
	pick_size(m, env, o, &spec->mem_mb, &spec->cpus, err);
	if (m->stateful) {
		spec->data_disk = i2k_xasprintf("%s/data.img", dir);
		if (!exists(spec->data_disk) &&
		    i2k_local_data_disk(spec->data_disk, I2K_LOCAL_DATA_DISK_MB, err) < 0)
			return -1;
	}
	_cleanup_free_ char *text = i2k_local_spec_dump(spec);
	_cleanup_free_ char *desired = i2k_xasprintf("%s/desired.json", dir);
	if (i2k_local_supervisor_pid(dir) > 0 && !same_ports(desired, spec))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s is running with other ports or health checks: a rolling "
				     "update cannot change them (i2kit destroy %s, then deploy)",
				     m->name, m->name);
	if (i2k_write_file_atomic(desired, text, strlen(text), 0644, err) < 0)
		return -1;
	*dir_out = I2K_STEAL(dir);
	return 0;
}

int i2k_local_prepare(const struct i2k_service *m, const struct i2k_environment *env,
		      const struct i2k_local_deploy_opts *o, char **dir_out,
		      struct i2k_local_spec *spec, struct i2k_error **err)
{
	memset(spec, 0, sizeof(*spec));
	if (prepare(m, env, o, dir_out, spec, err) < 0) {
		i2k_local_spec_clear(spec);
		return -1;
	}
	return 0;
}
