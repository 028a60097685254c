/* imgopts.c — see imgopts.h. The key lists follow LinuxKit's schema
 * (src/cmd/linuxkit/moby/schema.go) and the OCI runtime spec's JSON names
 * for the pass-through structures. */
#include "builder/config/imgopts.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

/* ---- schemas ---------------------------------------------------------------- */

#define FIELDS(a) .fields = (a), .nfields = I2K_ARRAY_SIZE(a)

static const struct i2k_jschema js_str = {.t = I2K_J_STR}, js_int = {.t = I2K_J_INT},
				js_uint = {.t = I2K_J_UINT}, js_bool = {.t = I2K_J_BOOL},
				js_mode = {.t = I2K_J_MODE};
static const struct i2k_jschema js_strs = {.t = I2K_J_ARR, .elem = &js_str};
const struct i2k_jschema i2k_js_strmap = {.t = I2K_J_STRMAP};

static const struct i2k_jfield idmap_f[] = {
    {"containerID", &js_uint},
    {"hostID", &js_uint},
    {"size", &js_uint},
};
static const struct i2k_jschema js_idmap = {.t = I2K_J_OBJ, FIELDS(idmap_f)};
const struct i2k_jschema i2k_js_idmaps = {.t = I2K_J_ARR, .elem = &js_idmap};

static const struct i2k_jfield mount_f[] = {
    {"destination", &js_str},
    {"type", &js_str},
    {"source", &js_str},
    {"options", &js_strs},
    {"uidMappings", &i2k_js_idmaps},
    {"gidMappings", &i2k_js_idmaps},
};
static const struct i2k_jschema js_mount = {.t = I2K_J_OBJ, FIELDS(mount_f)};
const struct i2k_jschema i2k_js_mounts = {.t = I2K_J_ARR, .elem = &js_mount};

static const struct i2k_jfield device_f[] = {
    {"path", &js_str},	{"type", &js_str},  {"major", &js_int},
    {"minor", &js_int}, {"mode", &js_mode},
};
static const struct i2k_jschema js_device = {.t = I2K_J_OBJ, FIELDS(device_f)};
const struct i2k_jschema i2k_js_devices = {.t = I2K_J_ARR, .elem = &js_device};

static const struct i2k_jfield devcg_f[] = {
    {"allow", &js_bool}, {"type", &js_str},   {"major", &js_int},
    {"minor", &js_int},	 {"access", &js_str},
};
static const struct i2k_jschema js_devcg = {.t = I2K_J_OBJ, FIELDS(devcg_f)};
static const struct i2k_jschema js_devcgs = {.t = I2K_J_ARR, .elem = &js_devcg};

static const struct i2k_jfield memory_f[] = {
    {"limit", &js_int},
    {"reservation", &js_int},
    {"swap", &js_int},
    {"kernel", &js_int},
    {"kernelTCP", &js_int},
    {"swappiness", &js_uint},
    {"disableOOMKiller", &js_bool},
    {"useHierarchy", &js_bool},
    {"checkBeforeUpdate", &js_bool},
};
static const struct i2k_jschema js_memory = {.t = I2K_J_OBJ, FIELDS(memory_f)};

static const struct i2k_jfield cpu_f[] = {
    {"shares", &js_uint},
    {"quota", &js_int},
    {"burst", &js_uint},
    {"period", &js_uint},
    {"realtimeRuntime", &js_int},
    {"realtimePeriod", &js_uint},
    {"cpus", &js_str},
    {"mems", &js_str},
    {"idle", &js_int},
};
static const struct i2k_jschema js_cpu = {.t = I2K_J_OBJ, FIELDS(cpu_f)};

static const struct i2k_jfield pids_f[] = {{"limit", &js_int}};
static const struct i2k_jschema js_pids = {.t = I2K_J_OBJ, FIELDS(pids_f)};

static const struct i2k_jfield weightdev_f[] = {
    {"major", &js_int},
    {"minor", &js_int},
    {"weight", &js_uint},
    {"leafWeight", &js_uint},
};
static const struct i2k_jschema js_weightdev = {.t = I2K_J_OBJ, FIELDS(weightdev_f)};
static const struct i2k_jschema js_weightdevs = {.t = I2K_J_ARR, .elem = &js_weightdev};
static const struct i2k_jfield throttledev_f[] = {
    {"major", &js_int},
    {"minor", &js_int},
    {"rate", &js_uint},
};
static const struct i2k_jschema js_throttledev = {.t = I2K_J_OBJ, FIELDS(throttledev_f)};
static const struct i2k_jschema js_throttledevs = {.t = I2K_J_ARR, .elem = &js_throttledev};
static const struct i2k_jfield blockio_f[] = {
    {"weight", &js_uint},
    {"leafWeight", &js_uint},
    {"weightDevice", &js_weightdevs},
    {"throttleReadBpsDevice", &js_throttledevs},
    {"throttleWriteBpsDevice", &js_throttledevs},
    {"throttleReadIOPSDevice", &js_throttledevs},
    {"throttleWriteIOPSDevice", &js_throttledevs},
};
static const struct i2k_jschema js_blockio = {.t = I2K_J_OBJ, FIELDS(blockio_f)};

static const struct i2k_jfield hugepage_f[] = {{"pageSize", &js_str}, {"limit", &js_uint}};
static const struct i2k_jschema js_hugepage = {.t = I2K_J_OBJ, FIELDS(hugepage_f)};
static const struct i2k_jschema js_hugepages = {.t = I2K_J_ARR, .elem = &js_hugepage};

static const struct i2k_jfield prio_f[] = {{"name", &js_str}, {"priority", &js_uint}};
static const struct i2k_jschema js_prio = {.t = I2K_J_OBJ, FIELDS(prio_f)};
static const struct i2k_jschema js_prios = {.t = I2K_J_ARR, .elem = &js_prio};
static const struct i2k_jfield network_f[] = {{"classID", &js_uint}, {"priorities", &js_prios}};
static const struct i2k_jschema js_network = {.t = I2K_J_OBJ, FIELDS(network_f)};

static const struct i2k_jfield rdma_f[] = {{"hcaHandles", &js_uint}, {"hcaObjects", &js_uint}};
static const struct i2k_jschema js_rdma_one = {.t = I2K_J_OBJ, FIELDS(rdma_f)};
static const struct i2k_jschema js_rdma = {.t = I2K_J_MAP, .elem = &js_rdma_one};

static const struct i2k_jfield resources_f[] = {
    {"devices", &js_devcgs},  {"memory", &js_memory},	{"cpu", &js_cpu},
    {"pids", &js_pids},	      {"blockIO", &js_blockio}, {"hugepageLimits", &js_hugepages},
    {"network", &js_network}, {"rdma", &js_rdma},	{"unified", &i2k_js_strmap},
};
const struct i2k_jschema i2k_js_resources = {.t = I2K_J_OBJ, FIELDS(resources_f)};

static const struct i2k_jfield iface_f[] = {
    {"name", &js_str},
    {"add", &js_str},
    {"peer", &js_str},
    {"createInRoot", &js_bool},
};
static const struct i2k_jschema js_iface = {.t = I2K_J_OBJ, FIELDS(iface_f)};
const struct i2k_jschema i2k_js_interfaces = {.t = I2K_J_ARR, .elem = &js_iface};

/* ---- jschema → json ----------------------------------------------------------- */

static const char *type_word(const struct i2k_jschema *s)
{
	switch (s->t) {
	case I2K_J_ARR:
		switch (s->elem->t) {
		case I2K_J_STR:
			return "expected a list of strings";
		case I2K_J_OBJ:
			return "expected a list of mappings";
		default:
			return "expected a list";
		}
	case I2K_J_STRMAP:
		return "expected a mapping of strings";
	default:
		return "expected a mapping";
	}
}

int i2k_jschema_parse(const struct i2k_cctx *c, const struct i2k_cnode *n,
		      const struct i2k_cpath *p, const struct i2k_jschema *s, json_t **out)
{
	*out = NULL;
	switch (s->t) {
	case I2K_J_STR: {
		_cleanup_free_ char *v = NULL;
		if (i2k_cnode_str(c, n, p, false, &v, NULL) < 0)
			return -1;
		*out = json_string(v);
		break;
	}
	case I2K_J_INT:
	case I2K_J_UINT: {
		int64_t v;
		if (i2k_cnode_int(c, n, p, &v) < 0)
			return -1;
		if (s->t == I2K_J_UINT && v < 0)
			return i2k_cctx_fail(c, n, p, "expected a non-negative integer");
		*out = json_integer((json_int_t)v);
		break;
	}
	case I2K_J_BOOL: {
		bool v;
		if (i2k_cnode_bool(c, n, p, &v) < 0)
			return -1;
		*out = json_boolean(v);
		break;
	}
	case I2K_J_MODE: {
		uint32_t v;
		if (i2k_cnode_mode(c, n, p, &v) < 0)
			return -1;
		*out = json_integer((json_int_t)v);
		break;
	}
	case I2K_J_ARR: {
		if (n->kind != I2K_CN_SEQ)
			return i2k_cctx_fail(c, n, p, "%s", type_word(s));
		json_t *a = json_array();
		for (size_t i = 0; i < n->n; i++) {
			struct i2k_cpath ip = I2K_CPATH_IDX(p, i);
			json_t *v;
			if (i2k_jschema_parse(c, &n->kids[i], &ip, s->elem, &v) < 0) {
				json_decref(a);
				return -1;
			}
			json_array_append_new(a, v);
		}
		*out = a;
		break;
	}
	case I2K_J_OBJ:
	case I2K_J_STRMAP:
	case I2K_J_MAP: {
		if (n->kind != I2K_CN_MAP)
			return i2k_cctx_fail(c, n, p, "%s", type_word(s));
		json_t *o = json_object();
		for (size_t i = 0; i + 1 < n->n; i += 2) {
			const struct i2k_cnode *k = &n->kids[i], *v = &n->kids[i + 1];
			const struct i2k_jschema *vs = NULL;
			const char *name = k->text;
			if (s->t == I2K_J_OBJ) {
				for (size_t f = 0; f < s->nfields; f++)
					if (i2k_cctx_key_is(c, k, s->fields[f].key, true)) {
						vs = s->fields[f].s;
						name = s->fields[f].key;
					}
				if (vs == NULL) {
					if (i2k_cctx_unknown_key(c, k, p) < 0) {
						json_decref(o);
						return -1;
					}
					continue;
				}
			} else {
				vs = s->t == I2K_J_STRMAP ? &js_str : s->elem;
			}
			if (c->label && i2k_cnode_is_null(v))
				continue;
			struct i2k_cpath kp = I2K_CPATH_KEY(p, name);
			if (json_object_get(o, name)) {
				json_decref(o);
				return i2k_cctx_fail(c, k, &kp, "duplicate key");
			}
			json_t *jv;
			if (i2k_jschema_parse(c, v, &kp, vs, &jv) < 0) {
				json_decref(o);
				return -1;
			}
			json_object_set_new(o, name, jv);
		}
		*out = o;
		break;
	}
	}
	if (*out == NULL) /* jansson refuses invalid UTF-8; libyaml already checked */
		return i2k_cctx_fail(c, n, p, "invalid value");
	return 0;
}

/* ---- per-image fields ----------------------------------------------------------- */

#define F(k, t, m)                                                                                 \
	{                                                                                          \
		k, I2K_IOF_##t, offsetof(struct i2k_imgopts, m), NULL                              \
	}
#define FJ(k, m, s)                                                                                \
	{                                                                                          \
		k, I2K_IOF_JSON, offsetof(struct i2k_imgopts, m), &(s)                             \
	}

const struct i2k_imgopt_field i2k_imgopt_fields[] = {
    F("capabilities", STRV, capabilities),
    F("capabilities.add", STRV, capabilities_add),
    F("ambient", STRV, ambient),
    FJ("mounts", mounts, i2k_js_mounts),
    F("binds", STRV, binds),
    F("binds.add", STRV, binds_add),
    F("tmpfs", STRV, tmpfs),
    FJ("devices", devices, i2k_js_devices),
    F("command", STRV, command),
    F("env", ENV, env),
    F("cwd", STR, cwd),
    F("net", STR, net),
    F("pid", STR, pid),
    F("ipc", STR, ipc),
    F("uts", STR, uts),
    F("userns", STR, userns),
    F("hostname", STR, hostname),
    F("readonly", BOOL, readonly),
    F("maskedPaths", STRV, masked_paths),
    F("readonlyPaths", STRV, readonly_paths),
    F("uid", ID, uid),
    F("gid", ID, gid),
    F("additionalGids", IDV, additional_gids),
    F("noNewPrivileges", BOOL, no_new_privileges),
    F("oomScoreAdj", INT, oom_score_adj),
    F("rootfsPropagation", STR, rootfs_propagation),
    F("cgroupsPath", STR, cgroups_path),
    FJ("resources", resources, i2k_js_resources),
    FJ("sysctl", sysctl, i2k_js_strmap),
    F("rlimits", STRV, rlimits),
    FJ("uidMappings", uid_mappings, i2k_js_idmaps),
    FJ("gidMappings", gid_mappings, i2k_js_idmaps),
    FJ("annotations", annotations, i2k_js_strmap),
    F("runtime", RUNTIME, runtime),
};
const size_t i2k_imgopt_nfields = I2K_ARRAY_SIZE(i2k_imgopt_fields);

void i2k_optid_clear(struct i2k_optid *id)
{
	free(id->name);
	memset(id, 0, sizeof(*id));
}

int i2k_optid_parse(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		    struct i2k_optid *out)
{
	i2k_optid_clear(out);
	if (n->kind == I2K_CN_SCALAR && !i2k_cnode_is_null(n) && n->style != I2K_CS_JBOOL &&
	    n->style != I2K_CS_JREAL) {
		const char *s = n->text;
		bool digits = *s && strspn(s, "0123456789") == n->len;
		bool negative = s[0] == '-' && s[1] && strspn(s + 1, "0123456789") == n->len - 1;
		if (negative && (n->style == I2K_CS_JINT || n->style == I2K_CS_PLAIN))
			return i2k_cctx_fail(c, n, p, "expected a non-negative id or a name");
		if (digits) {
			errno = 0;
			unsigned long long v = strtoull(s, NULL, 10);
			if (errno || v > UINT32_MAX)
				return i2k_cctx_fail(c, n, p, "id %.32s is out of range", s);
			out->set = true;
			out->id = (int64_t)v;
			return 0;
		}
		char *name = NULL;
		if (i2k_cnode_str(c, n, p, false, &name, NULL) < 0)
			return -1;
		out->set = true;
		out->is_name = true;
		out->name = name;
		return 0;
	}
	return i2k_cctx_fail(c, n, p, "expected an id (integer) or a name");
}

int i2k_strv_parse(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		   struct i2k_strv *s)
{
	i2k_strv_clear(s);
	if (n->kind != I2K_CN_SEQ)
		return i2k_cctx_fail(c, n, p, "expected a list of strings");
	s->v = i2k_xcalloc(n->n + 1, sizeof(*s->v));
	s->set = true;
	for (size_t i = 0; i < n->n; i++) {
		struct i2k_cpath ip = I2K_CPATH_IDX(p, i);
		if (i2k_cnode_str(c, &n->kids[i], &ip, false, &s->v[i], NULL) < 0)
			return -1;
		s->n++;
	}
	return 0;
}

static int parse_env(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		     struct i2k_strv *s)
{
	if (i2k_strv_parse(c, n, p, s) < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		const char *eq = strchr(s->v[i], '=');
		if (eq == NULL || eq == s->v[i]) {
			struct i2k_cpath ip = I2K_CPATH_IDX(p, i);
			return i2k_cctx_fail(c, &n->kids[i], &ip,
					     "expected KEY=VALUE, got \"%.64s\"", s->v[i]);
		}
	}
	return 0;
}

static int parse_idv(const struct i2k_cctx *c, const struct i2k_cnode *n, const struct i2k_cpath *p,
		     struct i2k_imgopts *o)
{
	for (size_t i = 0; i < o->n_additional_gids; i++)
		i2k_optid_clear(&o->additional_gids[i]);
	free(o->additional_gids);
	o->additional_gids = NULL;
	o->n_additional_gids = 0;
	if (n->kind != I2K_CN_SEQ)
		return i2k_cctx_fail(c, n, p, "expected a list of ids or names");
	o->additional_gids_set = true;
	o->additional_gids = i2k_xcalloc(n->n + 1, sizeof(*o->additional_gids));
	for (size_t i = 0; i < n->n; i++) {
		struct i2k_cpath ip = I2K_CPATH_IDX(p, i);
		o->n_additional_gids++;
		if (i2k_optid_parse(c, &n->kids[i], &ip, &o->additional_gids[i]) < 0)
			return -1;
	}
	return 0;
}

static void runtime_clear(struct i2k_runtime *r)
{
	i2k_strv_clear(&r->cgroups);
	i2k_strv_clear(&r->mkdir);
	json_decref(r->mounts);
	json_decref(r->interfaces);
	free(r->bindns.cgroup);
	free(r->bindns.ipc);
	free(r->bindns.mnt);
	free(r->bindns.net);
	free(r->bindns.pid);
	free(r->bindns.user);
	free(r->bindns.uts);
	free(r->namespace_);
	memset(r, 0, sizeof(*r));
}

static int parse_bindns(const struct i2k_cctx *c, const struct i2k_cnode *n,
			const struct i2k_cpath *p, struct i2k_bindns *b)
{
	if (i2k_cnode_want_map(c, n, p) < 0)
		return -1;
	struct {
		const char *key;
		char **dst;
	} ns[] = {
	    {"cgroup", &b->cgroup}, {"ipc", &b->ipc},	{"mnt", &b->mnt}, {"net", &b->net},
	    {"pid", &b->pid},	    {"user", &b->user}, {"uts", &b->uts},
	};
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct i2k_cnode *k = &n->kids[i], *v = &n->kids[i + 1];
		size_t j;
		for (j = 0; j < I2K_ARRAY_SIZE(ns); j++)
			if (i2k_cctx_key_is(c, k, ns[j].key, false))
				break;
		if (j == I2K_ARRAY_SIZE(ns)) {
			if (i2k_cctx_unknown_key(c, k, p) < 0)
				return -1;
			continue;
		}
		if (c->label && i2k_cnode_is_null(v))
			continue;
		struct i2k_cpath kp = I2K_CPATH_KEY(p, ns[j].key);
		free(*ns[j].dst);
		*ns[j].dst = NULL;
		if (i2k_cnode_str(c, v, &kp, false, ns[j].dst, NULL) < 0)
			return -1;
	}
	return 0;
}

static int parse_runtime(const struct i2k_cctx *c, const struct i2k_cnode *n,
			 const struct i2k_cpath *p, struct i2k_runtime *r)
{
	runtime_clear(r);
	if (i2k_cnode_want_map(c, n, p) < 0)
		return -1;
	r->set = true;
	for (size_t i = 0; i + 1 < n->n; i += 2) {
		const struct i2k_cnode *k = &n->kids[i], *v = &n->kids[i + 1];
		if (c->label && i2k_cnode_is_null(v))
			continue;
		int rc;
		if (i2k_cctx_key_is(c, k, "cgroups", false)) {
			struct i2k_cpath kp = I2K_CPATH_KEY(p, "cgroups");
			rc = i2k_strv_parse(c, v, &kp, &r->cgroups);
		} else if (i2k_cctx_key_is(c, k, "mkdir", false)) {
			struct i2k_cpath kp = I2K_CPATH_KEY(p, "mkdir");
			rc = i2k_strv_parse(c, v, &kp, &r->mkdir);
		} else if (i2k_cctx_key_is(c, k, "mounts", false)) {
			struct i2k_cpath kp = I2K_CPATH_KEY(p, "mounts");
			json_decref(r->mounts);
			rc = i2k_jschema_parse(c, v, &kp, &i2k_js_mounts, &r->mounts);
		} else if (i2k_cctx_key_is(c, k, "interfaces", false)) {
			struct i2k_cpath kp = I2K_CPATH_KEY(p, "interfaces");
			json_decref(r->interfaces);
			rc = i2k_jschema_parse(c, v, &kp, &i2k_js_interfaces, &r->interfaces);
		} else if (i2k_cctx_key_is(c, k, "bindNS", false)) {
			struct i2k_cpath kp = I2K_CPATH_KEY(p, "bindNS");
			rc = parse_bindns(c, v, &kp, &r->bindns);
		} else if (i2k_cctx_key_is(c, k, "namespace", false)) {
			struct i2k_cpath kp = I2K_CPATH_KEY(p, "namespace");
			free(r->namespace_);
			r->namespace_ = NULL;
			rc = i2k_cnode_str(c, v, &kp, false, &r->namespace_, NULL);
		} else {
			rc = i2k_cctx_unknown_key(c, k, p);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

int i2k_imgopts_parse_key(const struct i2k_cctx *c, const struct i2k_cnode *key,
			  const struct i2k_cnode *val, const struct i2k_cpath *entry_path,
			  struct i2k_imgopts *opts)
{
	const struct i2k_imgopt_field *f = NULL;
	for (size_t i = 0; i < i2k_imgopt_nfields && f == NULL; i++)
		if (i2k_cctx_key_is(c, key, i2k_imgopt_fields[i].key, false))
			f = &i2k_imgopt_fields[i];
	if (f == NULL)
		return 0;
	if (c->label && i2k_cnode_is_null(val))
		return 1;
	struct i2k_cpath p = I2K_CPATH_KEY(entry_path, f->key);
	void *dst = (char *)opts + f->off;
	int r = 0;
	switch (f->type) {
	case I2K_IOF_STRV:
		r = i2k_strv_parse(c, val, &p, dst);
		break;
	case I2K_IOF_ENV:
		r = parse_env(c, val, &p, dst);
		break;
	case I2K_IOF_STR: {
		char **s = dst;
		free(*s);
		*s = NULL;
		r = i2k_cnode_str(c, val, &p, false, s, NULL);
		break;
	}
	case I2K_IOF_BOOL: {
		struct i2k_optbool *b = dst;
		r = i2k_cnode_bool(c, val, &p, &b->value);
		b->set = r == 0;
		break;
	}
	case I2K_IOF_INT: {
		struct i2k_optint *v = dst;
		r = i2k_cnode_int(c, val, &p, &v->value);
		v->set = r == 0;
		if (r == 0 && (v->value < -1000 || v->value > 1000))
			r = i2k_cctx_fail(c, val, &p, "must be between -1000 and 1000");
		break;
	}
	case I2K_IOF_ID:
		r = i2k_optid_parse(c, val, &p, dst);
		break;
	case I2K_IOF_IDV:
		r = parse_idv(c, val, &p, opts);
		break;
	case I2K_IOF_JSON: {
		json_t **j = dst;
		json_decref(*j);
		*j = NULL;
		r = i2k_jschema_parse(c, val, &p, f->schema, j);
		break;
	}
	case I2K_IOF_RUNTIME:
		r = parse_runtime(c, val, &p, dst);
		break;
	}
	return r < 0 ? -1 : 1;
}

void i2k_imgopts_clear(struct i2k_imgopts *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < i2k_imgopt_nfields; i++) {
		const struct i2k_imgopt_field *f = &i2k_imgopt_fields[i];
		void *dst = (char *)o + f->off;
		switch (f->type) {
		case I2K_IOF_STRV:
		case I2K_IOF_ENV:
			i2k_strv_clear(dst);
			break;
		case I2K_IOF_STR:
			free(*(char **)dst);
			break;
		case I2K_IOF_ID:
			i2k_optid_clear(dst);
			break;
		case I2K_IOF_IDV:
			for (size_t j = 0; j < o->n_additional_gids; j++)
				i2k_optid_clear(&o->additional_gids[j]);
			free(o->additional_gids);
			break;
		case I2K_IOF_JSON:
			json_decref(*(json_t **)dst);
			break;
		case I2K_IOF_RUNTIME:
			runtime_clear(dst);
			break;
		case I2K_IOF_BOOL:
		case I2K_IOF_INT:
			break;
		}
	}
	memset(o, 0, sizeof(*o));
}

int i2k_imgopts_from_json(const char *json, struct i2k_imgopts *opts, struct i2k_error **err)
{
	memset(opts, 0, sizeof(*opts));
	struct i2k_cnode root;
	if (i2k_cnode_from_json(json, strlen(json), &root, err) < 0)
		return -1;
	struct i2k_cctx c = {.file = NULL, .label = true, .err = err};
	int r = 0;
	if (root.kind != I2K_CN_MAP) {
		r = i2k_cctx_fail(&c, &root, NULL, "expected a JSON object");
	} else {
		for (size_t i = 0; i + 1 < root.n && r == 0; i += 2)
			if (i2k_imgopts_parse_key(&c, &root.kids[i], &root.kids[i + 1], NULL,
						  opts) < 0)
				r = -1;
	}
	i2k_cnode_clear(&root);
	if (r < 0)
		i2k_imgopts_clear(opts);
	return r;
}
