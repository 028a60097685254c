/* deploy.c — the aws provider's deploy, destroy and ps (see deploy.h). */
#include "provision/aws/deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "provision/aws/datasnap.h"
#include "provision/aws/ec2.h"
#include "provision/aws/fleet.h"
#include "provision/aws/stack_template.h"
#include "provision/child.h"
#include "provision/template.h"

static void note(void (*fn)(void *, const char *), void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(void (*fn)(void *, const char *), void *ctx, const char *fmt, ...)
{
	if (!fn)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) >= 0) {
		fn(ctx, msg);
		free(msg);
	}
	va_end(ap);
}
#define dnote(o, ...) note((o)->build.on_event, (o)->build.ctx, __VA_ARGS__)

void i2k_aws_deploy_result_clear(struct i2k_aws_deploy_result *r)
{
	if (!r)
		return;
	free(r->stack);
	free(r->stack_id);
	free(r->status);
	free(r->ami);
	free(r->endpoint);
	free(r->dns_name);
	for (size_t i = 0; i < r->nurls; i++)
		free(r->urls[i]);
	free(r->urls);
	memset(r, 0, sizeof(*r));
}

json_t *i2k_aws_deploy_result_json(const struct i2k_aws_deploy_result *r)
{
	json_t *urls = json_array();
	for (size_t i = 0; i < r->nurls; i++)
		json_array_append_new(urls, json_string(r->urls[i]));
	json_t *o = json_pack("{s:s?,s:s?,s:s?,s:s?,s:b,s:b,s:b,s:i,s:i,s:s?,s:s?,s:o}", "stack",
			      r->stack, "stack_id", r->stack_id, "status", r->status, "ami", r->ami,
			      "ami_built", r->ami_built, "created", r->created, "no_changes",
			      r->no_changes, "healthy", (int)r->healthy, "wanted", (int)r->wanted,
			      "endpoint", r->endpoint, "dns_name", r->dns_name, "urls", urls);
	return o;
}

/* --- helpers ------------------------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* "a,b,c" → vector (empty items dropped). */
static char **split_commas(const char *s, size_t *n)
{
	*n = 0;
	char **v = NULL;
	size_t cap = 0;
	while (s && *s) {
		const char *e = strchr(s, ',');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		if (l > 0) {
			i2k_xgrow((void **)&v, &cap, *n + 1, sizeof(char *));
			v[(*n)++] = i2k_xstrndup(s, l);
		}
		s += l + (e ? 1 : 0);
	}
	return v;
}

/* Deregisters ami and deletes its snapshots (uninterruptible: a clean-up).
 * Appends what it did to done (may be NULL). */
static int remove_ami(const struct i2k_aws *a, const char *ami, const char *root_snap, json_t *done,
		      struct i2k_error **err)
{
	i2k_aws_set_uninterruptible(true);
	char **snaps = NULL;
	size_t ns = 0;
	int rc = i2k_ec2_image_snapshots(a, NULL, ami, root_snap, &snaps, &ns, err);
	if (rc == 0)
		rc = i2k_ec2_deregister_image(a, NULL, ami, err);
	if (rc == 0 && done)
		json_array_append_new(done, json_sprintf("AMI %s deregistered", ami));
	for (size_t i = 0; rc == 0 && i < ns; i++) {
		rc = i2k_ec2_delete_snapshot(a, NULL, snaps[i], err);
		if (rc == 0 && done)
			json_array_append_new(done, json_sprintf("snapshot %s deleted", snaps[i]));
	}
	strv_free(snaps, ns);
	i2k_aws_set_uninterruptible(false);
	return rc;
}

/* --- the AMI ------------------------------------------------------------------- */

static int run_build(const struct i2k_aws_deploy_opts *o, const char *dir, const char *yml,
		     const char *name, const char *out_json, const char *docker_dir,
		     struct i2k_error **err)
{
	const struct i2k_local_deploy_opts *b = &o->build;
	size_t n = 0;
	const char **argv = i2k_xcalloc(16 + b->nbuild_args + o->naws_args, sizeof(char *));
	_cleanup_free_ char *d = i2k_xasprintf("--dir=%s", dir);
	_cleanup_free_ char *nm = i2k_xasprintf("--name=%s", name);
	argv[n++] = "i2kit";
	argv[n++] = "build";
	argv[n++] = "--format=aws";
	argv[n++] = "--push=aws";
	argv[n++] = "--json";
	argv[n++] = d;
	argv[n++] = nm;
	for (size_t i = 0; i < o->naws_args; i++)
		argv[n++] = o->aws_args[i];
	for (size_t i = 0; i < b->nbuild_args; i++)
		argv[n++] = b->build_args[i];
	argv[n++] = yml;
	argv[n] = NULL;
	int fd = open(out_json, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(argv);
		return i2k_error_errno(err, errno, I2K_ERR_IO, "%s", out_json);
	}
	fflush(NULL);
	_cleanup_child_ struct i2k_child c = I2K_CHILD_NONE;
	c.pid = fork();
	if (c.pid == 0) {
		dup2(fd, 1);
		if (docker_dir)
			setenv("DOCKER_CONFIG", docker_dir, 1);
		execv(b->exe, (char *const *)argv);
		_exit(127);
	}
	close(fd);
	free(argv);
	if (c.pid < 0)
		return i2k_error_errno(err, errno, I2K_ERR_IO, "fork");
	int st = 0;
	while (waitpid(c.pid, &st, 0) < 0)
		if (errno != EINTR)
			return i2k_error_errno(err, errno, I2K_ERR_INTERNAL, "waitpid");
	i2k_child_forget(&c);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st))
		return i2k_error_set(err,
				     WEXITSTATUS(st) == 3     ? I2K_ERR_REGISTRY
				     : WEXITSTATUS(st) == 130 ? I2K_ERR_INTERRUPTED
							      : I2K_ERR_CONFIG,
				     "building and pushing %s failed (i2kit build exit status %d)",
				     name, WEXITSTATUS(st));
	return i2k_error_set(err, I2K_ERR_INTERRUPTED, "building %s: killed by signal %d", name,
			     WTERMSIG(st));
}

/* The service's AMI: found by name, else built and pushed. *built says
 * which; *ami and *snap (NULL when unknown) are the caller's. */
static int ensure_ami(const struct i2k_service *m, const struct i2k_environment *env,
		      const struct i2k_aws_deploy_opts *o, char **ami, char **snap, bool *built,
		      struct i2k_error **err)
{
	const struct i2k_aws *a = o->aws;
	_cleanup_free_ char *yaml = NULL;
	if (i2k_template_linuxkit_yaml(m, env, &yaml, err) < 0)
		return -1;
	const char *tdir = getenv("TMPDIR");
	_cleanup_free_ char *tmp =
	    i2k_xasprintf("%s/i2kit-deploy-XXXXXX", tdir && *tdir ? tdir : "/tmp");
	if (!mkdtemp(tmp))
		return i2k_error_errno(err, errno, I2K_ERR_IO, "mkdtemp %s", tmp);
	int rc = -1;
	_cleanup_free_ char *docker_dir =
	    env->docker_username ? i2k_xasprintf("%s/docker", tmp) : NULL;
	char hash[17];
	_cleanup_free_ char *name = NULL, *yml = NULL, *outj = NULL, *text = NULL;
	struct i2k_ec2_image *imgs = NULL;
	size_t nimg = 0;
	json_t *root = NULL;
	if (i2k_local_content_hash(yaml, &o->build, env, docker_dir, hash, err) < 0)
		goto out;
	name = i2k_xasprintf("%s-%s-%s", m->name, env->name, hash);
	if (i2k_ec2_describe_images(a, NULL, name, false, &imgs, &nimg, err) < 0)
		goto out;
	for (size_t i = 0; i < nimg; i++) {
		if (!imgs[i].state || strcmp(imgs[i].state, "available") == 0 ||
		    strcmp(imgs[i].state, "pending") == 0) {
			dnote(o, "AMI %s (%s) is up to date: not rebuilt", imgs[i].id, name);
			if (strcmp(imgs[i].state ? imgs[i].state : "", "pending") == 0 &&
			    i2k_ec2_wait_image(a, NULL, imgs[i].id, 3600, err) < 0)
				goto out;
			*ami = i2k_xstrdup(imgs[i].id);
			*snap = imgs[i].snapshot_id ? i2k_xstrdup(imgs[i].snapshot_id) : NULL;
			*built = false;
			rc = 0;
			goto out;
		}
	}
	yml = i2k_xasprintf("%s/%s.yml", tmp, m->name);
	outj = i2k_xasprintf("%s/build.json", tmp);
	if (i2k_write_file_atomic(yml, yaml, strlen(yaml), 0644, err) < 0)
		goto out;
	dnote(o, "building and pushing AMI %s", name);
	if (run_build(o, tmp, yml, name, outj, docker_dir, err) < 0 ||
	    i2k_read_file(outj, 1u << 20, &text, NULL, err) < 0)
		goto out;
	root = json_loads(text, 0, NULL);
	const char *id = json_string_value(json_object_get(json_object_get(root, "aws"), "ami"));
	const char *sn =
	    json_string_value(json_object_get(json_object_get(root, "aws"), "snapshot"));
	if (!id) {
		i2k_error_set(err, I2K_ERR_INTERNAL, "i2kit build --push aws printed no AMI id");
		goto out;
	}
	*ami = i2k_xstrdup(id);
	*snap = sn ? i2k_xstrdup(sn) : NULL;
	*built = true;
	const struct i2k_ec2_tag tags[] = {{I2K_AWS_TAG_SERVICE, m->name},
					   {I2K_AWS_TAG_ENVIRONMENT, env->name}};
	const char *res[] = {*ami, *snap};
	if (i2k_ec2_create_tags(a, NULL, res, *snap ? 2 : 1, tags, 2, err) < 0) {
		remove_ami(a, *ami, *snap, NULL, NULL);
		free(*ami);
		free(*snap);
		*ami = *snap = NULL;
		goto out;
	}
	dnote(o, "pushed AMI %s (%s)", *ami, name);
	rc = 0;
out:
	json_decref(root);
	i2k_ec2_images_free(imgs, nimg);
	i2k_rm_rf(tmp, NULL);
	return rc;
}

/* --- stacks -------------------------------------------------------------------- */

struct stack_op {
	const struct i2k_aws *a;
	const char *name;
	const char *body;
	const struct i2k_cfn_kv *tags;
	size_t ntags;
	unsigned timeout_s, poll_ms;
	i2k_cfn_event_fn on_stack_event;
	void (*on_event)(void *, const char *);
	void *ctx;
};

static int wait_op(const struct stack_op *op, const char *stack, const char *since,
		   struct i2k_cfn_stack *final, struct i2k_error **err)
{
	struct i2k_cfn_wait w = {.stack = stack,
				 .since = since,
				 .timeout_s = op->timeout_s,
				 .poll_ms = op->poll_ms,
				 .on_event = op->on_stack_event,
				 .ctx = op->ctx};
	return i2k_cfn_wait_stack(op->a, NULL, &w, final, err);
}

/* DeleteStack + wait (streaming events). */
static int delete_and_wait(const struct stack_op *op, const char *id, struct i2k_error **err)
{
	_cleanup_free_ char *since = NULL;
	if (i2k_cfn_last_event(op->a, NULL, id, &since, err) < 0 ||
	    i2k_cfn_delete_stack(op->a, NULL, id, err) < 0)
		return -1;
	struct i2k_cfn_stack fin;
	int rc = wait_op(op, id, since, &fin, err);
	i2k_cfn_stack_clear(&fin);
	return rc;
}

/* Creates or updates op->name; *final its last description. *created:
 * the stack did not exist before (on failure it has been deleted again).
 * *no_changes for "No updates are to be performed". *live: the new
 * template is (or may still become) the stack's — false after a refused
 * call, a failed create that was deleted, or an update rolled back to
 * the previous template; true when the outcome is unknown (a timeout, an
 * interrupt, a failed clean-up). */
static int apply_stack(const struct stack_op *op, struct i2k_cfn_stack *final, bool *created,
		       bool *no_changes, bool *live, struct i2k_error **err)
{
	*created = *no_changes = *live = false;
	struct i2k_cfn_params p = {
	    .name = op->name, .template_body = op->body, .tags = op->tags, .ntags = op->ntags};
	struct i2k_cfn_stack cur;
	int d = i2k_cfn_describe_stack(op->a, NULL, op->name, &cur, err);
	if (d < 0)
		return -1;
	if (d == 0 && i2k_cfn_status_class(cur.status) == I2K_CFN_BUSY) {
		note(op->on_event, op->ctx, "stack %s is %s: waiting for it first", op->name,
		     cur.status);
		_cleanup_free_ char *since = NULL;
		i2k_cfn_last_event(op->a, NULL, cur.id, &since, NULL);
		struct i2k_cfn_stack fin;
		struct i2k_error *e = NULL;
		int w = wait_op(op, cur.id, since, &fin, &e);
		i2k_error_free(e); /* a failed earlier operation is judged below */
		i2k_cfn_stack_clear(&cur);
		if (w < 0 && fin.status == NULL) {
			i2k_cfn_stack_clear(&fin);
			return i2k_error_set(err, I2K_ERR_REGISTRY,
					     "stack %s: could not wait for its operation",
					     op->name);
		}
		cur = fin;
		d = i2k_cfn_status_class(cur.status) == I2K_CFN_GONE ? 1 : 0;
	}
	if (d == 0 && strcmp(cur.status, "ROLLBACK_COMPLETE") == 0) {
		note(op->on_event, op->ctx,
		     "stack %s is ROLLBACK_COMPLETE (a failed create): deleting it to create it "
		     "again",
		     op->name);
		int r = delete_and_wait(op, cur.id, err);
		i2k_cfn_stack_clear(&cur);
		if (r < 0)
			return -1;
		d = 1;
	}
	_cleanup_free_ char *id = NULL, *since = NULL;
	if (d == 1) {
		note(op->on_event, op->ctx, "creating stack %s", op->name);
		if (i2k_cfn_create_stack(op->a, NULL, &p, &id, err) < 0)
			return -1;
		*created = true;
	} else {
		if (i2k_cfn_last_event(op->a, NULL, cur.id, &since, err) < 0) {
			i2k_cfn_stack_clear(&cur);
			return -1;
		}
		note(op->on_event, op->ctx, "updating stack %s (%s)", op->name, cur.status);
		int u = i2k_cfn_update_stack(op->a, NULL, &p, &id, err);
		if (u < 0) {
			i2k_cfn_stack_clear(&cur);
			return -1;
		}
		if (u == 1) {
			note(op->on_event, op->ctx, "stack %s: no updates are to be performed",
			     op->name);
			*no_changes = true;
			*final = cur;
			return 0;
		}
		i2k_cfn_stack_clear(&cur);
	}
	*live = true;
	if (wait_op(op, id, since, final, err) == 0)
		return 0;
	if (!*created) {
		*live = !final->status || strcmp(final->status, "UPDATE_ROLLBACK_COMPLETE") != 0;
		return -1;
	}
	if (i2k_cfn_status_class(final->status) == I2K_CFN_GONE) {
		*live = false;
		return -1;
	}
	/* a failed (or abandoned) create holds nothing useful: remove it */
	i2k_aws_set_uninterruptible(true);
	struct i2k_error *e = NULL;
	note(op->on_event, op->ctx, "deleting the failed stack %s", op->name);
	if (delete_and_wait(op, id, &e) < 0) {
		note(op->on_event, op->ctx, "deleting the failed stack %s failed too: %s", op->name,
		     e->msg);
		i2k_error_free(e);
	} else {
		*live = false;
	}
	i2k_aws_set_uninterruptible(false);
	return -1;
}

/* --- deploy -------------------------------------------------------------------- */

static char *user_data(const struct i2k_service *m, const struct i2k_environment *env)
{
	json_t *j =
	    json_pack("{s:{s:s,s:s}}", "i2kit", "environment", env->name, "service", m->name);
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	return s;
}

static void endpoint_urls(const struct i2k_service *m, const char *host,
			  struct i2k_aws_deploy_result *res)
{
	size_t cap = 0;
	for (size_t i = 0; host && i < m->ncontainers; i++)
		for (size_t j = 0; j < m->containers[i].nports; j++) {
			const struct i2k_port *p = &m->containers[i].ports[j];
			char *u;
			if (p->proto == I2K_PROTO_HTTP)
				u = p->port == 80 ? i2k_xasprintf("http://%s/", host)
						  : i2k_xasprintf("http://%s:%u/", host, p->port);
			else if (p->proto == I2K_PROTO_HTTPS)
				u = p->port == 443 ? i2k_xasprintf("https://%s/", host)
						   : i2k_xasprintf("https://%s:%u/", host, p->port);
			else
				u = i2k_xasprintf("%s:%u", host, p->port);
			i2k_xgrow((void **)&res->urls, &cap, res->nurls + 1, sizeof(char *));
			res->urls[res->nurls++] = u;
		}
}

/* Waits until every target group has `want` healthy targets. */
static int wait_healthy(const struct i2k_aws_deploy_opts *o, const char *tgs, unsigned want,
			unsigned *healthy, struct i2k_error **err)
{
	const struct i2k_aws *a = o->aws;
	unsigned timeout =
	    o->health_timeout_s ? o->health_timeout_s : I2K_AWS_DEPLOY_HEALTH_TIMEOUT;
	int64_t end = i2k_aws_now(a) + timeout;
	size_t ntg = 0;
	char **tg = split_commas(tgs, &ntg);
	unsigned delay = 2000;
	int rc = -1;
	for (;;) {
		unsigned worst = want;
		char why[512] = "";
		for (size_t i = 0; i < ntg; i++) {
			struct i2k_fleet_target *t = NULL;
			size_t nt = 0;
			if (i2k_fleet_target_health(a, NULL, tg[i], &t, &nt, err) < 0)
				goto out;
			unsigned ok = 0;
			for (size_t k = 0; k < nt; k++) {
				if (strcmp(t[k].state, "healthy") == 0)
					ok++;
				else if (!why[0])
					snprintf(why, sizeof(why), "; %s is %s%s%s", t[k].id,
						 t[k].state, t[k].reason ? ": " : "",
						 t[k].reason ? t[k].reason : "");
			}
			i2k_fleet_targets_free(t, nt);
			if (ok < worst)
				worst = ok;
		}
		*healthy = worst;
		if (worst >= want) {
			rc = 0;
			goto out;
		}
		if (i2k_aws_now(a) >= end) {
			i2k_error_set(err, I2K_ERR_NETWORK,
				      "%u of %u targets healthy after %u s%s (the stack is "
				      "deployed; see i2kit ps --provider aws)",
				      worst, want, timeout, why);
			goto out;
		}
		dnote(o, "%u of %u targets healthy%s", worst, want, why);
		if (i2k_aws_sleep_ms(delay, err) < 0)
			goto out;
		delay = delay * 2 > 15000 ? 15000 : delay * 2;
	}
out:
	strv_free(tg, ntg);
	return rc;
}

/* A stateful service's stack exists and its instance runs another AMI (or
 * cannot be asked): the update must detach the data volume first. */
static bool stateful_needs_detach(const struct i2k_aws *a, const char *stack, const char *ami)
{
	struct i2k_cfn_stack st;
	if (i2k_cfn_describe_stack(a, NULL, stack, &st, NULL) != 0)
		return false; /* no stack: a create */
	enum i2k_cfn_class cl = i2k_cfn_status_class(st.status);
	bool live = cl == I2K_CFN_OK || strcmp(st.status, "UPDATE_ROLLBACK_COMPLETE") == 0;
	const char *iid = i2k_cfn_output(&st, "InstanceId");
	bool detach = live;
	if (live && iid) {
		struct i2k_fleet_instance in = {.id = i2k_xstrdup(iid)};
		if (i2k_fleet_describe_instances(a, NULL, &in, 1, NULL) == 0 && in.image)
			detach = strcmp(in.image, ami) != 0;
		free(in.id);
		free(in.image);
		free(in.state);
		free(in.private_ip);
		free(in.public_ip);
		free(in.type);
	}
	i2k_cfn_stack_clear(&st);
	return detach;
}

static int deploy(const struct i2k_service *m, const struct i2k_environment *env,
		  const struct i2k_aws_deploy_opts *o, struct i2k_aws_deploy_result *res,
		  struct i2k_error **err)
{
	const struct i2k_aws *a = o->aws;
	_cleanup_free_ char *snap = NULL, *data_snap = NULL;
	bool data_made = false;
	if (ensure_ami(m, env, o, &res->ami, &snap, &res->ami_built, err) < 0)
		return i2k_error_wrap(err, "the AMI of %s", m->name);
	bool ami_in_use = !res->ami_built;
	int rc = -1;
	_cleanup_free_ char *env_name = i2k_stack_env_name(env);
	_cleanup_free_ char *svc_name = i2k_stack_service_name(m, env);
	_cleanup_free_ char *env_body = NULL, *svc_body = NULL, *ud = NULL;
	char **zones = NULL, **subnets = NULL;
	size_t nz = 0, nsub = 0;
	struct i2k_cfn_stack envst = {0}, svcst = {0};
	const struct i2k_cfn_kv env_tags[] = {{(char *)I2K_AWS_TAG_ENVIRONMENT, env->name}};
	const struct i2k_cfn_kv svc_tags[] = {{(char *)I2K_AWS_TAG_SERVICE, m->name},
					      {(char *)I2K_AWS_TAG_ENVIRONMENT, env->name}};
	struct stack_op op = {.a = a,
			      .timeout_s = o->stack_timeout_s ? o->stack_timeout_s
							      : I2K_AWS_DEPLOY_STACK_TIMEOUT,
			      .poll_ms = o->poll_ms,
			      .on_stack_event = o->on_stack_event,
			      .on_event = o->build.on_event,
			      .ctx = o->build.ctx};
	bool created = false, nochg = false;
	if (!(env->provider.vpc && env->provider.nsubnets > 0) &&
	    i2k_fleet_zones(a, NULL, &zones, &nz, err) < 0)
		goto out;
	if (nz > I2K_STACK_MAX_AZS)
		nz = I2K_STACK_MAX_AZS;
	struct i2k_stack_env_inputs ein = {
	    .region = a->region, .azs = (const char *const *)zones, .nazs = nz};
	if (i2k_stack_env_template(env, &ein, &env_body, err) < 0)
		goto out;
	op.name = env_name;
	op.body = env_body;
	op.tags = env_tags;
	op.ntags = 1;
	bool live = false;
	if (apply_stack(&op, &envst, &created, &nochg, &live, err) < 0) {
		i2k_error_wrap(err, "environment stack %s", env_name);
		goto out;
	}
	const char *vpc = i2k_cfn_output(&envst, "VpcId");
	const char *sg = i2k_cfn_output(&envst, "InternalSecurityGroupId");
	subnets = split_commas(i2k_cfn_output(&envst, "SubnetIds"), &nsub);
	if (!vpc || !sg || nsub == 0) {
		i2k_error_set(err, I2K_ERR_REGISTRY,
			      "environment stack %s lacks the outputs VpcId, SubnetIds and "
			      "InternalSecurityGroupId",
			      env_name);
		goto out;
	}
	ud = user_data(m, env);
	struct i2k_stack_service_inputs sin = {.region = a->region,
					       .ami_id = res->ami,
					       .user_data = ud,
					       .vpc_id = vpc,
					       .subnets = (const char *const *)subnets,
					       .nsubnets = nsub,
					       .internal_sg = sg};
	op.name = svc_name;
	op.tags = svc_tags;
	op.ntags = 2;
	res->stack = i2k_xstrdup(svc_name);
	if (m->stateful) {
		dnote(o, "the data volume's initial snapshot (empty ext4 \"i2kit-data\")");
		if (i2k_aws_data_snapshot(a, m->name, env->name, I2K_STACK_DEFAULT_DATA_GIB,
					  &data_snap, &data_made, err) < 0)
			goto out;
		sin.data_snapshot_id = data_snap;
	}
	if (m->stateful && stateful_needs_detach(a, svc_name, res->ami)) {
		/* step 1 of a stateful update (stack_template.h): the old
		 * instance lets go of the data volume before it is replaced */
		_cleanup_free_ char *body = NULL;
		struct i2k_cfn_stack st = {0};
		bool c1 = false, n1 = false;
		sin.detach_data_volume = true;
		dnote(o, "stateful update: detaching the data volume from the old instance first");
		if (i2k_stack_service_template(m, env, &sin, &body, err) < 0)
			goto out;
		op.body = body;
		int r = apply_stack(&op, &st, &c1, &n1, &live, err);
		i2k_cfn_stack_clear(&st);
		if (r < 0) {
			ami_in_use = live;
			goto out;
		}
		sin.detach_data_volume = false;
	}
	if (i2k_stack_service_template(m, env, &sin, &svc_body, err) < 0)
		goto out;
	op.body = svc_body;
	if (apply_stack(&op, &svcst, &res->created, &res->no_changes, &live, err) < 0) {
		ami_in_use = live;
		if (live && res->ami_built)
			dnote(o, "AMI %s is kept: the stack may still use it", res->ami);
		goto out;
	}
	ami_in_use = true;
	res->stack_id = i2k_xstrdup(svcst.id);
	res->status = i2k_xstrdup(svcst.status);
	const char *ep = i2k_cfn_output(&svcst, "Endpoint");
	const char *dns = i2k_cfn_output(&svcst, "DnsName");
	res->endpoint = ep ? i2k_xstrdup(ep) : NULL;
	res->dns_name = dns ? i2k_xstrdup(dns) : NULL;
	endpoint_urls(m, dns ? dns : ep, res);
	res->wanted = m->replicas;
	const char *tgs = i2k_cfn_output(&svcst, "TargetGroupArns");
	if (tgs && *tgs) {
		dnote(o, "waiting for %u healthy targets", m->replicas);
		if (wait_healthy(o, tgs, m->replicas, &res->healthy, err) < 0)
			goto out;
	} else {
		res->healthy = m->replicas; /* nothing to check through a balancer */
	}
	rc = 0;
out:
	if (rc < 0 && !ami_in_use && res->ami) {
		struct i2k_error *e = NULL;
		dnote(o, "deregistering AMI %s (pushed by this deploy, used by no stack)",
		      res->ami);
		if (remove_ami(a, res->ami, snap, NULL, &e) < 0) {
			dnote(o, "removing the unused AMI %s failed too: %s", res->ami, e->msg);
			i2k_error_free(e);
		}
	}
	if (rc < 0 && data_made && !ami_in_use) {
		/* made for a stack that never came to be */
		i2k_aws_set_uninterruptible(true);
		i2k_ec2_delete_snapshot(a, NULL, data_snap, NULL);
		i2k_aws_set_uninterruptible(false);
	}
	strv_free(zones, nz);
	strv_free(subnets, nsub);
	i2k_cfn_stack_clear(&envst);
	i2k_cfn_stack_clear(&svcst);
	return rc;
}

int i2k_aws_deploy(const struct i2k_service *m, const struct i2k_environment *env,
		   const struct i2k_aws_deploy_opts *o, struct i2k_aws_deploy_result *res,
		   struct i2k_error **err)
{
	memset(res, 0, sizeof(*res));
	if (env == NULL)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "the aws provider needs an environment (-e ENV.yml): its "
				     "name names the stacks");
	if (deploy(m, env, o, res, err) < 0)
		return -1;
	return 0;
}

/* --- destroy ------------------------------------------------------------------- */

static int destroy_service(const struct i2k_aws_destroy_request *rq, const char *service,
			   json_t *done, struct i2k_error **err)
{
	struct stack_op op = {.a = rq->aws,
			      .timeout_s =
				  rq->timeout_s ? rq->timeout_s : I2K_AWS_DEPLOY_STACK_TIMEOUT,
			      .poll_ms = rq->poll_ms,
			      .on_stack_event = rq->on_stack_event,
			      .on_event = rq->on_event,
			      .ctx = rq->ctx};
	_cleanup_free_ char *name = i2k_xasprintf("%s-%s", service, rq->env);
	struct i2k_cfn_stack st;
	int d = i2k_cfn_describe_stack(rq->aws, NULL, name, &st, err);
	if (d < 0)
		return -1;
	if (d == 0) {
		note(rq->on_event, rq->ctx, "deleting stack %s", name);
		int r = delete_and_wait(&op, st.id, err);
		i2k_cfn_stack_clear(&st);
		if (r < 0)
			return -1;
		json_array_append_new(done, json_sprintf("stack %s deleted", name));
	} else {
		note(rq->on_event, rq->ctx, "stack %s does not exist", name);
	}
	struct i2k_ec2_image *imgs = NULL;
	size_t n = 0;
	if (i2k_fleet_service_images(rq->aws, NULL, service, rq->env, &imgs, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = remove_ami(rq->aws, imgs[i].id, imgs[i].snapshot_id, done, err);
	i2k_ec2_images_free(imgs, n);
	char **ds = NULL;
	size_t nds = 0;
	if (rc == 0)
		rc = i2k_aws_data_snapshots(rq->aws, service, rq->env, &ds, &nds, err);
	for (size_t i = 0; rc == 0 && i < nds; i++) {
		rc = i2k_ec2_delete_snapshot(rq->aws, NULL, ds[i], err);
		if (rc == 0)
			json_array_append_new(
			    done,
			    json_sprintf("snapshot %s deleted (the data volume's initial one)",
					 ds[i]));
	}
	strv_free(ds, nds);
	return rc;
}

int i2k_aws_destroy(const struct i2k_aws_destroy_request *rq, json_t **out, struct i2k_error **err)
{
	*out = NULL;
	if (!rq->env)
		return i2k_error_set(err, I2K_ERR_USAGE,
				     "destroy --provider aws needs the environment (-e ENV.yml)");
	json_t *done = json_array();
	int rc = 0;
	if (rq->service)
		rc = destroy_service(rq, rq->service, done, err);
	if (rc == 0 && rq->all) {
		struct i2k_cfn_stack *v = NULL;
		size_t n = 0;
		rc = i2k_cfn_list_stacks(rq->aws, NULL, &v, &n, err);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			const char *svc = i2k_cfn_tag(&v[i], I2K_AWS_TAG_SERVICE);
			const char *e = i2k_cfn_tag(&v[i], I2K_AWS_TAG_ENVIRONMENT);
			if (svc && e && strcmp(e, rq->env) == 0 &&
			    (!rq->service || strcmp(svc, rq->service) != 0))
				rc = destroy_service(rq, svc, done, err);
		}
		i2k_cfn_stacks_free(v, n);
		struct i2k_cfn_stack st;
		int d = rc == 0 ? i2k_cfn_describe_stack(rq->aws, NULL, rq->env, &st, err) : -1;
		if (d == 0) {
			struct stack_op op = {.a = rq->aws,
					      .timeout_s = rq->timeout_s
							       ? rq->timeout_s
							       : I2K_AWS_DEPLOY_STACK_TIMEOUT,
					      .poll_ms = rq->poll_ms,
					      .on_stack_event = rq->on_stack_event,
					      .on_event = rq->on_event,
					      .ctx = rq->ctx};
			note(rq->on_event, rq->ctx, "deleting environment stack %s", rq->env);
			rc = delete_and_wait(&op, st.id, err);
			if (rc == 0)
				json_array_append_new(done,
						      json_sprintf("stack %s deleted", rq->env));
			i2k_cfn_stack_clear(&st);
		} else if (d < 0) {
			rc = -1;
		}
	}
	if (rc < 0) {
		json_decref(done);
		return -1;
	}
	*out = done;
	return 0;
}

/* --- ps ------------------------------------------------------------------------ */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int ps_stack(const struct i2k_aws *a, const struct i2k_cfn_stack *s, json_t *arr,
		    struct i2k_error **err)
{
	json_t *o = json_pack(
	    "{s:s,s:s,s:s,s:o,s:o,s:o}", "service", i2k_cfn_tag(s, I2K_AWS_TAG_SERVICE),
	    "environment", i2k_cfn_tag(s, I2K_AWS_TAG_ENVIRONMENT), "stack", s->name, "status",
	    str_or_null(s->status), "endpoint", str_or_null(i2k_cfn_output(s, "Endpoint")),
	    "dns_name", str_or_null(i2k_cfn_output(s, "DnsName")));
	json_array_append_new(arr, o);
	json_t *insts = json_array();
	json_object_set_new(o, "instances", insts);
	struct i2k_fleet_instance *v = NULL;
	size_t n = 0;
	unsigned desired = 0;
	const char *group = i2k_cfn_output(s, "AutoScalingGroupName");
	const char *single = i2k_cfn_output(s, "InstanceId");
	if (group) {
		if (i2k_fleet_group(a, NULL, group, &v, &n, &desired, err) < 0)
			return -1;
	} else if (single) {
		v = i2k_xcalloc(1, sizeof(*v));
		v[0].id = i2k_xstrdup(single);
		n = desired = 1;
		if (i2k_fleet_describe_instances(a, NULL, v, n, err) < 0) {
			i2k_fleet_instances_free(v, n);
			return -1;
		}
	}
	json_object_set_new(o, "desired", json_integer(desired));
	/* target health per instance (the first group that knows it) */
	size_t ntg = 0;
	char **tg = split_commas(i2k_cfn_output(s, "TargetGroupArns"), &ntg);
	struct i2k_fleet_target *t = NULL;
	size_t nt = 0;
	for (size_t i = 0; i < ntg; i++) {
		struct i2k_fleet_target *tt = NULL;
		size_t k = 0;
		if (i2k_fleet_target_health(a, NULL, tg[i], &tt, &k, err) < 0) {
			strv_free(tg, ntg);
			i2k_fleet_targets_free(t, nt);
			i2k_fleet_instances_free(v, n);
			return -1;
		}
		if (!t) {
			t = tt;
			nt = k;
		} else {
			i2k_fleet_targets_free(tt, k);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *th = NULL;
		for (size_t k = 0; k < nt; k++)
			if (strcmp(t[k].id, v[i].id) == 0)
				th = t[k].state;
		json_array_append_new(
		    insts,
		    json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", v[i].id, "lifecycle",
			      str_or_null(v[i].lifecycle), "health", str_or_null(v[i].health),
			      "state", str_or_null(v[i].state), "zone", str_or_null(v[i].zone),
			      "image", str_or_null(v[i].image), "private_ip",
			      str_or_null(v[i].private_ip), "public_ip",
			      str_or_null(v[i].public_ip), "target_health", str_or_null(th)));
	}
	strv_free(tg, ntg);
	i2k_fleet_targets_free(t, nt);
	i2k_fleet_instances_free(v, n);
	return 0;
}

int i2k_aws_ps(const struct i2k_aws_ps_request *rq, json_t **out, struct i2k_error **err)
{
	*out = NULL;
	struct i2k_cfn_stack *v = NULL;
	size_t n = 0;
	if (i2k_cfn_list_stacks(rq->aws, NULL, &v, &n, err) < 0)
		return -1;
	json_t *arr = json_array();
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *svc = i2k_cfn_tag(&v[i], I2K_AWS_TAG_SERVICE);
		const char *e = i2k_cfn_tag(&v[i], I2K_AWS_TAG_ENVIRONMENT);
		if (!svc || !e || (rq->env && strcmp(e, rq->env) != 0))
			continue;
		rc = ps_stack(rq->aws, &v[i], arr, err);
	}
	i2k_cfn_stacks_free(v, n);
	if (rc < 0) {
		json_decref(arr);
		return -1;
	}
	*out = arr;
	return 0;
}
