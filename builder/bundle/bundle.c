/* bundle.c — config.json and runtime.json of one container, as LinuxKit's
 * ConfigToOCI (src/cmd/linuxkit/moby/config.go) computes them and as
 * outputImage (src/cmd/linuxkit/moby/build/build.go) writes them
 * (json.MarshalIndent with 4 spaces). Field by field:
 *
 *   args        YAML command > label command > image Entrypoint ++ Cmd
 *   env         YAML env > label env > image Env (replaced, never merged)
 *   cwd         YAML cwd > label cwd > image WorkingDir > "/" (empty = unset)
 *   readonly    YAML > label > false
 *   mounts      see mounts.h
 *   namespaces  net/ipc/uts/user: YAML > label > "root"; "host"/"root" →
 *               shared, "new" (and for net also "none") → new, anything else
 *               a path to join. pid: same but default new. Then mount and
 *               cgroup, always new. Order: network, ipc, uts, pid, user,
 *               mount, cgroup.
 *   caps        YAML capabilities > label capabilities ++ YAML
 *               capabilities.add (no default: none); see caps.h
 *   rlimits     "NAME,SOFT,HARD", NAME with or without RLIMIT_, any case,
 *               SOFT/HARD a number or "unlimited"
 *   uid/gid     see ids.h (LinuxKit ignores the image's User)
 *   devices     {path,type,major,minor,mode}: mode octal → fileMode; each
 *               adds an allow rule (rwm) to resources.devices; path "all"
 *               adds only a rule for the type
 *   the rest    YAML > label, passed through (hostname, annotations, sysctl,
 *               resources, cgroupsPath, rootfsPropagation, maskedPaths,
 *               readonlyPaths, uid/gidMappings, noNewPrivileges,
 *               oomScoreAdj, runtime.*)
 */
#include "builder/bundle/bundle.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/bundle/caps.h"
#include "builder/bundle/gojson.h"
#include "builder/bundle/ids.h"
#include "builder/bundle/mounts.h"
#include "builder/bundle/volumes.h"

/* The runtime-spec release LinuxKit's vendored specs-go is based on
 * (go.mod: github.com/opencontainers/runtime-spec v1.0.3-0.2021..., i.e.
 * after v1.0.2). */
#define OCI_VERSION "1.0.2"
#define LABEL_KEY "org.mobyproject.config"

static const char *const section_names[] = {"onboot", "onshutdown", "services"};

/* A list of borrowed strings. */
struct strs {
	char **v;
	size_t n;
};

struct ctx {
	const struct i2k_bundle_input *in;
	const struct i2k_imgopts *y; /* YAML */
	struct i2k_imgopts label;    /* from the image label (all unset if none) */
};

static void strs_push(struct strs *s, char *str)
{
	s->v = i2k_xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = str;
}

static void strs_pushv(struct strs *s, char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strs_push(s, v[i]);
}

static void strs_clear(struct strs *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* assignStrings(v1 label, v2 yaml) / assignStrings3(image, label, yaml). */
static struct strs pick(const struct i2k_strv *label, const struct i2k_strv *yaml)
{
	struct strs s = {0};
	const struct i2k_strv *c = yaml->set ? yaml : label->set ? label : NULL;
	if (c)
		strs_pushv(&s, c->v, c->n);
	return s;
}

/* assignStrings(mergeStrings(label.X, yaml.XAdd), yaml.X). mergeStrings'
 * de-duplication never triggers in LinuxKit (its map is never filled), so
 * this is a plain concatenation. */
static struct strs pick_add(const struct i2k_strv *label, const struct i2k_strv *yaml,
			    const struct i2k_strv *yaml_add)
{
	struct strs s = {0};
	if (yaml->set) {
		strs_pushv(&s, yaml->v, yaml->n);
		return s;
	}
	if (label->set)
		strs_pushv(&s, label->v, label->n);
	if (yaml_add->set)
		strs_pushv(&s, yaml_add->v, yaml_add->n);
	return s;
}

/* assignStringEmpty: the first non-empty of yaml, label, else def. */
static const char *pick_str(const char *label, const char *yaml, const char *def)
{
	if (yaml && yaml[0])
		return yaml;
	if (label && label[0])
		return label;
	return def;
}

/* assignString: pointer semantics, set even when empty. */
static const char *pick_ptr(const char *label, const char *yaml)
{
	return yaml ? yaml : label;
}

static const json_t *pick_json(const json_t *label, const json_t *yaml)
{
	return yaml ? yaml : label;
}

/* ---- rlimits ---------------------------------------------------------------- */

struct rlimit {
	char name[32];
	uint64_t soft, hard;
};

static const char *const rlimit_names[] = {
    "RLIMIT_CPU",      "RLIMIT_FSIZE", "RLIMIT_DATA",	"RLIMIT_STACK",
    "RLIMIT_CORE",     "RLIMIT_RSS",   "RLIMIT_NPROC",	"RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",  "RLIMIT_AS",    "RLIMIT_LOCKS",	"RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE", "RLIMIT_NICE",  "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
};

/* strings.TrimSpace for ASCII: returns the trimmed span of [s, s+len). */
static const char *trim(const char *s, size_t *len)
{
	while (*len && isspace((unsigned char)s[0]))
		s++, (*len)--;
	while (*len && isspace((unsigned char)s[*len - 1]))
		(*len)--;
	return s;
}

/* "unlimited" (any case) or strconv.ParseUint(s, 10, 64). */
static int parse_limit_value(const char *s, size_t len, const char *whole, uint64_t *out,
			     struct i2k_error **err)
{
	s = trim(s, &len);
	if (len == 9 && strncasecmp(s, "unlimited", 9) == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	uint64_t v = 0;
	if (len == 0)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			goto bad;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
bad:
	return i2k_error_set(err, I2K_ERR_CONFIG,
			     "rlimit \"%s\": cannot parse \"%.*s\" as a 64-bit unsigned number "
			     "or \"unlimited\"",
			     whole, (int)len, s);
}

static int parse_rlimit(const char *s, struct rlimit *rl, struct i2k_error **err)
{
	const char *c1 = strchr(s, ',');
	const char *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	if (c2 == NULL)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "cannot parse rlimit \"%s\": expected NAME,SOFT,HARD", s);
	size_t nlen = (size_t)(c1 - s);
	const char *name = trim(s, &nlen);
	char buf[sizeof(rl->name)];
	size_t off = 0;
	if (nlen < 7 || strncasecmp(name, "RLIMIT_", 7) != 0) {
		memcpy(buf, "RLIMIT_", 7);
		off = 7;
	}
	if (off + nlen >= sizeof(buf))
		goto unknown;
	for (size_t i = 0; i < nlen; i++)
		buf[off + i] = (char)toupper((unsigned char)name[i]);
	buf[off + nlen] = '\0';
	bool known = false;
	for (size_t i = 0; i < I2K_ARRAY_SIZE(rlimit_names); i++)
		known = known || strcmp(buf, rlimit_names[i]) == 0;
	if (!known)
		goto unknown;
	memcpy(rl->name, buf, sizeof(buf));
	if (parse_limit_value(c1 + 1, (size_t)(c2 - c1 - 1), s, &rl->soft, err) < 0 ||
	    parse_limit_value(c2 + 1, strlen(c2 + 1), s, &rl->hard, err) < 0)
		return -1;
	return 0;
unknown:
	return i2k_error_set(err, I2K_ERR_CONFIG, "rlimit \"%s\": unknown limit \"%.*s\"", s,
			     (int)nlen, name);
}

/* ---- namespaces ------------------------------------------------------------- */

struct ns {
	const char *type;
	const char *path; /* "" = new */
};

/* Appends the namespace unless it stays shared with the host ("host"/"root"). */
static void add_ns(struct ns *v, size_t *n, const char *type, const char *val, bool none_is_new)
{
	if (strcmp(val, "host") == 0 || strcmp(val, "root") == 0)
		return;
	if (strcmp(val, "new") == 0 || (none_is_new && strcmp(val, "none") == 0))
		val = "";
	v[*n].type = type;
	v[(*n)++].path = val;
}

/* ---- devices ---------------------------------------------------------------- */

/* strconv.ParseInt(s, 8, 32) then uint32(os.FileMode(...)). */
static bool parse_octal_mode(const char *s, uint32_t *out)
{
	bool neg = false;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (*s == '\0')
		return false;
	int64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '7')
			return false;
		v = v * 8 + (*s - '0');
		if (v > (int64_t)INT32_MAX + 1)
			return false;
	}
	if (neg)
		v = -v;
	if (v > INT32_MAX || v < INT32_MIN)
		return false;
	*out = (uint32_t)v;
	return true;
}

static int dev_str(const json_t *d, const char *key, size_t i, const char **out,
		   struct i2k_error **err)
{
	json_t *v = i2k_gj_get(d, key);
	*out = "";
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return i2k_error_set(err, I2K_ERR_CONFIG, "devices[%zu].%s: expected a string", i,
				     key);
	*out = json_string_value(v);
	return 0;
}

static int dev_int(const json_t *d, const char *key, size_t i, json_int_t *out,
		   struct i2k_error **err)
{
	json_t *v = i2k_gj_get(d, key);
	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return i2k_error_set(err, I2K_ERR_CONFIG, "devices[%zu].%s: expected an integer", i,
				     key);
	*out = json_integer_value(v);
	return 0;
}

/* Emits linux.devices (if any) and appends the cgroup rules to rules. */
struct device {
	const char *path, *type;
	json_int_t major, minor;
	uint32_t mode;
};

static int collect_devices(const json_t *devs, struct device **out, size_t *n, json_t *rules,
			   struct i2k_error **err)
{
	*out = NULL;
	*n = 0;
	if (devs == NULL || json_is_null(devs))
		return 0;
	if (!json_is_array(devs))
		return i2k_error_set(err, I2K_ERR_CONFIG, "devices: expected an array");
	struct device *v = i2k_xcalloc(json_array_size(devs) + 1, sizeof(*v));
	for (size_t i = 0; i < json_array_size(devs); i++) {
		const json_t *d = json_array_get(devs, i);
		struct device dv = {0};
		if (!json_is_object(d)) {
			i2k_error_set(err, I2K_ERR_CONFIG, "devices[%zu]: expected an object", i);
			goto fail;
		}
		if (dev_str(d, "path", i, &dv.path, err) < 0 ||
		    dev_str(d, "type", i, &dv.type, err) < 0 ||
		    dev_int(d, "major", i, &dv.major, err) < 0 ||
		    dev_int(d, "minor", i, &dv.minor, err) < 0)
			goto fail;
		json_t *rule = json_object();
		json_object_set_new(rule, "allow", json_true());
		json_object_set_new(rule, "type", json_string(dv.type));
		if (strcmp(dv.path, "all") != 0) {
			/* builder/config hands the mode over already parsed (a JSON
			 * integer); a string is parsed as LinuxKit does. */
			json_t *mode = i2k_gj_get(d, "mode");
			bool ok = false;
			if (json_is_integer(mode)) {
				dv.mode = (uint32_t)json_integer_value(mode);
				ok = true;
			} else if (json_is_string(mode)) {
				ok = parse_octal_mode(json_string_value(mode), &dv.mode);
			}
			if (!ok) {
				json_decref(rule);
				i2k_error_set(err, I2K_ERR_CONFIG,
					      "devices[%zu] (%s): cannot parse mode %s as an octal "
					      "value",
					      i, dv.path,
					      json_is_string(mode) ? json_string_value(mode)
								   : "(missing)");
				goto fail;
			}
			json_object_set_new(rule, "major", json_integer(dv.major));
			json_object_set_new(rule, "minor", json_integer(dv.minor));
			v[(*n)++] = dv;
		}
		json_object_set_new(rule, "access", json_string("rwm"));
		json_array_append_new(rules, rule);
	}
	*out = v;
	return 0;
fail:
	free(v);
	*n = 0;
	return -1;
}

/* ---- assembly --------------------------------------------------------------- */

static void emit_strv_field(struct i2k_gj *w, const char *key, char *const *v, size_t n)
{
	if (n == 0)
		return; /* omitempty */
	i2k_gj_key(w, key);
	i2k_gj_strv(w, v, n);
}

static void emit_caplist(struct i2k_gj *w, const char *key, const struct i2k_caplist *l)
{
	if (l->n == 0)
		return;
	i2k_gj_key(w, key);
	i2k_gj_arr_begin(w);
	for (size_t i = 0; i < l->n; i++)
		i2k_gj_str(w, l->v[i]);
	i2k_gj_arr_end(w);
}

/* An omitempty pass-through field. */
static void emit_passthrough(struct i2k_gj *w, const char *key, const json_t *v,
			     const struct i2k_gj_type *type)
{
	if (i2k_gj_is_empty(v, type))
		return;
	i2k_gj_key(w, key);
	i2k_gj_value_schema(w, v, type, key);
}

struct process_in {
	struct strs args, env;
	const char *cwd;
	uint32_t uid, gid;
	uint32_t *agids;
	size_t nagids;
	struct i2k_capsets caps;
	struct rlimit *rlimits;
	size_t nrlimits;
};

static int make_process(struct ctx *c, struct process_in *p, struct i2k_error **err)
{
	const struct i2k_imgopts *y = c->y, *l = &c->label;
	const struct i2k_image_config *ic = c->in->image_cfg;

	/* args, env, cwd */
	if (y->command.set || l->command.set) {
		p->args = pick(&l->command, &y->command);
	} else if (ic) {
		strs_pushv(&p->args, ic->entrypoint, ic->n_entrypoint);
		strs_pushv(&p->args, ic->cmd, ic->n_cmd);
	}
	if (y->env.set || l->env.set)
		p->env = pick(&l->env, &y->env);
	else if (ic)
		strs_pushv(&p->env, ic->env, ic->n_env);
	p->cwd = pick_str(l->cwd, y->cwd,
			  ic && ic->working_dir && ic->working_dir[0] ? ic->working_dir : "/");

	/* capabilities */
	struct strs caps = pick_add(&l->capabilities, &y->capabilities, &y->capabilities_add);
	struct strs amb = pick(&l->ambient, &y->ambient);
	int r = i2k_capsets_make(caps.v, caps.n, amb.v, amb.n, &p->caps, err);
	strs_clear(&caps);
	strs_clear(&amb);
	if (r < 0)
		return -1;

	/* rlimits */
	struct strs rl = pick(&l->rlimits, &y->rlimits);
	p->rlimits = i2k_xcalloc(rl.n + 1, sizeof(*p->rlimits));
	for (size_t i = 0; i < rl.n; i++) {
		if (parse_rlimit(rl.v[i], &p->rlimits[i], err) < 0) {
			strs_clear(&rl);
			return -1;
		}
		p->nrlimits++;
	}
	strs_clear(&rl);

	/* ids */
	struct i2k_ids_ctx ic2 = {.map = c->in->ids, .tree = c->in->rootfs};
	const struct i2k_optid *uid = y->uid.set ? &y->uid : &l->uid;
	const struct i2k_optid *gid = y->gid.set ? &y->gid : &l->gid;
	r = i2k_ids_resolve(&ic2, uid, false, "uid", &p->uid, err);
	if (r == 0)
		r = i2k_ids_resolve(&ic2, gid, true, "gid", &p->gid, err);
	const struct i2k_imgopts *ag = y->additional_gids_set	? y
				       : l->additional_gids_set ? l
								: NULL;
	if (ag && r == 0) {
		p->agids = i2k_xcalloc(ag->n_additional_gids + 1, sizeof(*p->agids));
		for (size_t i = 0; i < ag->n_additional_gids && r == 0; i++) {
			char what[48];
			snprintf(what, sizeof(what), "additionalGids[%zu]", i);
			r = i2k_ids_resolve(&ic2, &ag->additional_gids[i], true, what, &p->agids[i],
					    err);
			if (r == 0)
				p->nagids++;
		}
	}
	i2k_ids_ctx_clear(&ic2);
	return r;
}

static void process_clear(struct process_in *p)
{
	strs_clear(&p->args);
	strs_clear(&p->env);
	free(p->agids);
	free(p->rlimits);
	i2k_capsets_clear(&p->caps);
}

static void emit_process(struct i2k_gj *w, struct ctx *c, const struct process_in *p)
{
	const struct i2k_imgopts *y = c->y, *l = &c->label;
	i2k_gj_key(w, "process");
	i2k_gj_obj_begin(w);
	i2k_gj_key(w, "user");
	i2k_gj_obj_begin(w);
	i2k_gj_key(w, "uid");
	i2k_gj_u64(w, p->uid);
	i2k_gj_key(w, "gid");
	i2k_gj_u64(w, p->gid);
	if (p->nagids) {
		i2k_gj_key(w, "additionalGids");
		i2k_gj_arr_begin(w);
		for (size_t i = 0; i < p->nagids; i++)
			i2k_gj_u64(w, p->agids[i]);
		i2k_gj_arr_end(w);
	}
	i2k_gj_obj_end(w);
	emit_strv_field(w, "args", p->args.v, p->args.n);
	emit_strv_field(w, "env", p->env.v, p->env.n);
	i2k_gj_key(w, "cwd");
	i2k_gj_str(w, p->cwd);
	i2k_gj_key(w, "capabilities");
	i2k_gj_obj_begin(w);
	emit_caplist(w, "bounding", &p->caps.bounding);
	emit_caplist(w, "effective", &p->caps.effective);
	emit_caplist(w, "inheritable", &p->caps.bounding);
	emit_caplist(w, "permitted", &p->caps.bounding);
	emit_caplist(w, "ambient", &p->caps.ambient);
	i2k_gj_obj_end(w);
	if (p->nrlimits) {
		i2k_gj_key(w, "rlimits");
		i2k_gj_arr_begin(w);
		for (size_t i = 0; i < p->nrlimits; i++) {
			i2k_gj_obj_begin(w);
			i2k_gj_key(w, "type");
			i2k_gj_str(w, p->rlimits[i].name);
			i2k_gj_key(w, "hard");
			i2k_gj_u64(w, p->rlimits[i].hard);
			i2k_gj_key(w, "soft");
			i2k_gj_u64(w, p->rlimits[i].soft);
			i2k_gj_obj_end(w);
		}
		i2k_gj_arr_end(w);
	}
	const struct i2k_optbool *nnp =
	    y->no_new_privileges.set ? &y->no_new_privileges : &l->no_new_privileges;
	if (nnp->set && nnp->value) {
		i2k_gj_key(w, "noNewPrivileges");
		i2k_gj_bool(w, true);
	}
	const struct i2k_optint *oom = y->oom_score_adj.set ? &y->oom_score_adj : &l->oom_score_adj;
	if (oom->set) {
		i2k_gj_key(w, "oomScoreAdj");
		i2k_gj_i64(w, oom->value);
	}
	i2k_gj_obj_end(w);
}

static int make_config(struct ctx *c, bool readonly, char **out, struct i2k_error **err)
{
	const struct i2k_imgopts *y = c->y, *l = &c->label;
	struct process_in p = {0};
	struct i2k_bmounts mounts = {0};
	struct device *devs = NULL;
	size_t ndevs = 0;
	json_t *resources = NULL;
	struct i2k_gj w;
	i2k_gj_init(&w);
	int r = make_process(c, &p, err);

	if (r == 0) {
		/* volume names in the YAML's binds and mounts (volumes.h) */
		const struct i2k_bundle_input *in = c->in;
		struct i2k_strv yb = {0}, yba = {0};
		json_t *ym = NULL;
		r = i2k_volumes_rewrite_binds(&y->binds, "binds", in->volumes, in->n_volumes, &yb,
					      err);
		if (r == 0)
			r = i2k_volumes_rewrite_binds(&y->binds_add, "binds.add", in->volumes,
						      in->n_volumes, &yba, err);
		if (r == 0)
			r = i2k_volumes_rewrite_mounts(y->mounts, in->volumes, in->n_volumes, &ym,
						       err);
		if (r == 0) {
			struct strs tmpfs = pick(&l->tmpfs, &y->tmpfs);
			struct strs binds = pick_add(&l->binds, &yb, &yba);
			struct i2k_bmount_input mi = {.readonly = readonly,
						      .tmpfs = tmpfs.v,
						      .ntmpfs = tmpfs.n,
						      .binds = binds.v,
						      .nbinds = binds.n,
						      .mounts = pick_json(l->mounts, ym)};
			r = i2k_bmounts_build(&mi, &mounts, err);
			strs_clear(&tmpfs);
			strs_clear(&binds);
		}
		i2k_strv_clear(&yb);
		i2k_strv_clear(&yba);
		json_decref(ym);
	}

	if (r == 0) {
		const json_t *res = pick_json(l->resources, y->resources);
		if (res && !json_is_null(res) && !json_is_object(res)) {
			r = i2k_error_set(err, I2K_ERR_CONFIG, "resources: expected an object");
		} else {
			resources =
			    res && json_is_object(res) ? json_deep_copy(res) : json_object();
			json_t *rules = i2k_gj_get(resources, "devices");
			if (rules == NULL || json_is_null(rules)) {
				rules = json_array();
				json_object_set_new(resources, "devices", rules);
			}
			if (!json_is_array(rules))
				r = i2k_error_set(err, I2K_ERR_CONFIG,
						  "resources.devices: expected an array");
			else
				r = collect_devices(pick_json(l->devices, y->devices), &devs,
						    &ndevs, rules, err);
		}
	}
	if (r < 0)
		goto out;

	i2k_gj_obj_begin(&w);
	i2k_gj_key(&w, "ociVersion");
	i2k_gj_str(&w, OCI_VERSION);
	emit_process(&w, c, &p);

	i2k_gj_key(&w, "root");
	i2k_gj_obj_begin(&w);
	i2k_gj_key(&w, "path");
	i2k_gj_str(&w, "rootfs");
	if (readonly) {
		i2k_gj_key(&w, "readonly");
		i2k_gj_bool(&w, true);
	}
	i2k_gj_obj_end(&w);

	const char *hostname = pick_str(l->hostname, y->hostname, "");
	if (hostname[0]) {
		i2k_gj_key(&w, "hostname");
		i2k_gj_str(&w, hostname);
	}
	i2k_gj_key(&w, "mounts");
	i2k_bmounts_emit(&w, &mounts);
	emit_passthrough(&w, "annotations", pick_json(l->annotations, y->annotations),
			 &i2k_gj_t_strmap);

	i2k_gj_key(&w, "linux");
	i2k_gj_obj_begin(&w);
	emit_passthrough(&w, "uidMappings", pick_json(l->uid_mappings, y->uid_mappings),
			 &i2k_gj_t_idmappings);
	emit_passthrough(&w, "gidMappings", pick_json(l->gid_mappings, y->gid_mappings),
			 &i2k_gj_t_idmappings);
	emit_passthrough(&w, "sysctl", pick_json(l->sysctl, y->sysctl), &i2k_gj_t_strmap);
	i2k_gj_key(&w, "resources");
	i2k_gj_value_schema(&w, resources, &i2k_gj_t_resources, "resources");
	const char *cgp = pick_ptr(l->cgroups_path, y->cgroups_path);
	if (cgp && cgp[0]) {
		i2k_gj_key(&w, "cgroupsPath");
		i2k_gj_str(&w, cgp);
	}

	struct ns ns[7];
	size_t nns = 0;
	add_ns(ns, &nns, "network", pick_str(l->net, y->net, "root"), true);
	add_ns(ns, &nns, "ipc", pick_str(l->ipc, y->ipc, "root"), false);
	add_ns(ns, &nns, "uts", pick_str(l->uts, y->uts, "root"), false);
	add_ns(ns, &nns, "pid", pick_str(l->pid, y->pid, ""), false);
	add_ns(ns, &nns, "user", pick_str(l->userns, y->userns, "root"), false);
	add_ns(ns, &nns, "mount", "", false);
	add_ns(ns, &nns, "cgroup", "", false);
	i2k_gj_key(&w, "namespaces");
	i2k_gj_arr_begin(&w);
	for (size_t i = 0; i < nns; i++) {
		i2k_gj_obj_begin(&w);
		i2k_gj_key(&w, "type");
		i2k_gj_str(&w, ns[i].type);
		if (ns[i].path[0]) {
			i2k_gj_key(&w, "path");
			i2k_gj_str(&w, ns[i].path);
		}
		i2k_gj_obj_end(&w);
	}
	i2k_gj_arr_end(&w);

	if (ndevs) {
		i2k_gj_key(&w, "devices");
		i2k_gj_arr_begin(&w);
		for (size_t i = 0; i < ndevs; i++) {
			i2k_gj_obj_begin(&w);
			i2k_gj_key(&w, "path");
			i2k_gj_str(&w, devs[i].path);
			i2k_gj_key(&w, "type");
			i2k_gj_str(&w, devs[i].type);
			i2k_gj_key(&w, "major");
			i2k_gj_i64(&w, devs[i].major);
			i2k_gj_key(&w, "minor");
			i2k_gj_i64(&w, devs[i].minor);
			i2k_gj_key(&w, "fileMode");
			i2k_gj_u64(&w, devs[i].mode);
			i2k_gj_obj_end(&w);
		}
		i2k_gj_arr_end(&w);
	}
	const char *prop = pick_ptr(l->rootfs_propagation, y->rootfs_propagation);
	if (prop && prop[0]) {
		i2k_gj_key(&w, "rootfsPropagation");
		i2k_gj_str(&w, prop);
	}
	struct strs masked = pick(&l->masked_paths, &y->masked_paths);
	struct strs ropaths = pick(&l->readonly_paths, &y->readonly_paths);
	emit_strv_field(&w, "maskedPaths", masked.v, masked.n);
	emit_strv_field(&w, "readonlyPaths", ropaths.v, ropaths.n);
	strs_clear(&masked);
	strs_clear(&ropaths);
	i2k_gj_obj_end(&w); /* linux */
	i2k_gj_obj_end(&w);
	r = i2k_gj_finish(&w, out, err);
out:
	i2k_gj_clear(&w);
	json_decref(resources);
	free(devs);
	i2k_bmounts_clear(&mounts);
	process_clear(&p);
	return r;
}

/* runtime.json: LinuxKit's Runtime after assignRuntime(label, yaml); every
 * field is a non-nil pointer there, so all are always written. */
static int make_runtime(struct ctx *c, char **out, struct i2k_error **err)
{
	const struct i2k_runtime *y = &c->y->runtime, *l = &c->label.runtime;
	struct i2k_gj w;
	i2k_gj_init(&w);
	i2k_gj_obj_begin(&w);
	struct strs cg = pick(&l->cgroups, &y->cgroups);
	i2k_gj_key(&w, "cgroups");
	i2k_gj_strv(&w, cg.v, cg.n);
	strs_clear(&cg);
	i2k_gj_key(&w, "mounts");
	i2k_gj_array_schema(&w, pick_json(l->mounts, y->mounts), &i2k_gj_t_mount, "runtime.mounts");
	struct strs mk = pick(&l->mkdir, &y->mkdir);
	i2k_gj_key(&w, "mkdir");
	i2k_gj_strv(&w, mk.v, mk.n);
	strs_clear(&mk);
	i2k_gj_key(&w, "interfaces");
	i2k_gj_array_schema(&w, pick_json(l->interfaces, y->interfaces), &i2k_gj_t_interface,
			    "runtime.interfaces");
	i2k_gj_key(&w, "bindNS");
	i2k_gj_obj_begin(&w);
	const struct {
		const char *key, *yv, *lv;
	} bns[] = {
	    {"cgroup", y->bindns.cgroup, l->bindns.cgroup},
	    {"ipc", y->bindns.ipc, l->bindns.ipc},
	    {"mnt", y->bindns.mnt, l->bindns.mnt},
	    {"net", y->bindns.net, l->bindns.net},
	    {"pid", y->bindns.pid, l->bindns.pid},
	    {"user", y->bindns.user, l->bindns.user},
	    {"uts", y->bindns.uts, l->bindns.uts},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(bns); i++) {
		const char *v = pick_ptr(bns[i].lv, bns[i].yv);
		i2k_gj_key(&w, bns[i].key);
		i2k_gj_str(&w, v ? v : "");
	}
	i2k_gj_obj_end(&w);
	const char *ns = pick_ptr(l->namespace_, y->namespace_);
	i2k_gj_key(&w, "namespace");
	i2k_gj_str(&w, ns ? ns : "");
	i2k_gj_obj_end(&w);
	return i2k_gj_finish(&w, out, err);
}

static int load_label(struct ctx *c, struct i2k_error **err)
{
	const struct i2k_image_config *ic = c->in->image_cfg;
	if (ic == NULL || ic->labels == NULL)
		return 0;
	json_t *v = json_object_get(ic->labels, LABEL_KEY);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return i2k_error_set(err, I2K_ERR_CONFIG, "image label %s is not a string",
				     LABEL_KEY);
	const char *s = json_string_value(v);
	if (s[0] == '\0')
		return 0;
	return i2k_imgopts_from_json(s, &c->label, err);
}

int i2k_bundle_make(const struct i2k_bundle_input *in, struct i2k_bundle *out,
		    struct i2k_error **err)
{
	memset(out, 0, sizeof(*out));
	const struct i2k_image_entry *e = in->entry;
	struct ctx c = {.in = in, .y = &e->opts};
	struct i2k_error *cause = NULL;
	char *cfg = NULL, *rt = NULL;
	bool readonly = false;

	int r = load_label(&c, &cause);
	if (r < 0)
		i2k_error_wrap(&cause, "image %s", e->image ? e->image : "?");
	if (r == 0) {
		readonly = c.y->readonly.set	  ? c.y->readonly.value
			   : c.label.readonly.set ? c.label.readonly.value
						  : false;
		r = make_config(&c, readonly, &cfg, &cause);
	}
	if (r == 0)
		r = make_runtime(&c, &rt, &cause);
	i2k_imgopts_clear(&c.label);
	if (r < 0) {
		free(cfg);
		free(rt);
		const char *section = (unsigned)in->kind < I2K_ARRAY_SIZE(section_names)
					  ? section_names[in->kind]
					  : "?";
		if (e->pos.file && e->pos.line)
			i2k_error_wrap(&cause, "%s:%u:%u: %s[%s]", e->pos.file, e->pos.line,
				       e->pos.col, section, e->name ? e->name : "");
		else
			i2k_error_wrap(&cause, "%s[%s]", section, e->name ? e->name : "");
		i2k_error_propagate(err, &cause);
		return -1;
	}
	out->config_json = cfg;
	out->runtime_json = rt;
	out->readonly = readonly;
	return 0;
}

void i2k_bundle_clear(struct i2k_bundle *b)
{
	if (b == NULL)
		return;
	free(b->config_json);
	free(b->runtime_json);
	memset(b, 0, sizeof(*b));
}
