/* mounts.c — see mounts.h. */
#include "builder/bundle/mounts.h"

#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

static void mount_free(struct i2k_bmount *m)
{
	free(m->dst);
	free(m->type);
	free(m->src);
	for (size_t i = 0; i < m->nopts; i++)
		free(m->opts[i]);
	free(m->opts);
	memset(m, 0, sizeof(*m));
}

void i2k_bmounts_clear(struct i2k_bmounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		mount_free(&m->v[i]);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static void push_opt(struct i2k_bmount *m, const char *s, size_t len)
{
	m->opts = i2k_xrealloc(m->opts, (m->nopts + 1) * sizeof(*m->opts));
	m->opts[m->nopts++] = i2k_xstrndup(s, len);
}

/* Go's strings.Split(s, ","): "" gives one empty element. */
static void push_split(struct i2k_bmount *m, const char *s, size_t len)
{
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == ',') {
			push_opt(m, s + start, i - start);
			start = i + 1;
		}
	}
}

/* Takes ownership of *nm; replaces a mount with the same destination. */
static void add_mount(struct i2k_bmounts *ms, struct i2k_bmount *nm)
{
	for (size_t i = 0; i < ms->n; i++) {
		if (strcmp(ms->v[i].dst, nm->dst) == 0) {
			mount_free(&ms->v[i]);
			ms->v[i] = *nm;
			memset(nm, 0, sizeof(*nm));
			return;
		}
	}
	i2k_xgrow((void **)&ms->v, &ms->cap, ms->n + 1, sizeof(*ms->v));
	ms->v[ms->n++] = *nm;
	memset(nm, 0, sizeof(*nm));
}

static void add_simple(struct i2k_bmounts *ms, const char *dst, const char *type, const char *src,
		       const char *const *opts, bool ro)
{
	struct i2k_bmount m = {
	    .dst = i2k_xstrdup(dst), .type = i2k_xstrdup(type), .src = i2k_xstrdup(src)};
	for (size_t i = 0; opts[i]; i++)
		push_opt(&m, opts[i], strlen(opts[i]));
	if (ro)
		push_opt(&m, "ro", 2);
	add_mount(ms, &m);
}

static size_t count_char(const char *s, char c)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

static const char *default_mountpoint(const char *type)
{
	static const char *const map[][2] = {
	    {"proc", "/proc"},	       {"devpts", "/dev/pts"},
	    {"sysfs", "/sys"},	       {"cgroup", "/sys/fs/cgroup"},
	    {"mqueue", "/dev/mqueue"},
	};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(map); i++)
		if (strcmp(type, map[i][0]) == 0)
			return map[i][1];
	return "";
}

static int str_member(const json_t *obj, const char *key, const char **out, size_t idx,
		      struct i2k_error **err)
{
	json_t *v = i2k_gj_get(obj, key);
	*out = "";
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return i2k_error_set(err, I2K_ERR_CONFIG, "mounts[%zu].%s: expected a string", idx,
				     key);
	*out = json_string_value(v);
	return 0;
}

static int add_oci_mount(struct i2k_bmounts *ms, const json_t *jm, size_t idx,
			 struct i2k_error **err)
{
	if (!json_is_object(jm))
		return i2k_error_set(err, I2K_ERR_CONFIG, "mounts[%zu]: expected an object", idx);
	const char *type, *src, *dst;
	if (str_member(jm, "type", &type, idx, err) < 0 ||
	    str_member(jm, "source", &src, idx, err) < 0 ||
	    str_member(jm, "destination", &dst, idx, err) < 0)
		return -1;
	if (type[0] == '\0') {
		static const char *const guess[] = {"mqueue", "devpts", "proc", "sysfs", "cgroup"};
		for (size_t i = 0; i < I2K_ARRAY_SIZE(guess); i++)
			if (strcmp(src, guess[i]) == 0)
				type = src;
	}
	if (type[0] == '\0' && strcmp(dst, "/dev") == 0)
		type = "tmpfs";
	if (type[0] == '\0')
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "mount for destination \"%s\" is missing type", dst);
	if (src[0] == '\0')
		src = type;
	if (dst[0] == '\0')
		dst = default_mountpoint(type);
	if (dst[0] == '\0')
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "mount type \"%s\" is missing destination", type);
	struct i2k_bmount m = {
	    .dst = i2k_xstrdup(dst), .type = i2k_xstrdup(type), .src = i2k_xstrdup(src)};
	json_t *opts = i2k_gj_get(jm, "options");
	if (opts && !json_is_null(opts)) {
		if (!json_is_array(opts)) {
			mount_free(&m);
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "mounts[%zu].options: expected an array", idx);
		}
		for (size_t i = 0; i < json_array_size(opts); i++) {
			json_t *o = json_array_get(opts, i);
			if (!json_is_string(o)) {
				mount_free(&m);
				return i2k_error_set(err, I2K_ERR_CONFIG,
						     "mounts[%zu].options[%zu]: expected a string",
						     idx, i);
			}
			push_opt(&m, json_string_value(o), json_string_length(o));
		}
	}
	add_mount(ms, &m);
	return 0;
}

static int cmp_dst(const void *a, const void *b)
{
	return strcmp(((const struct i2k_bmount *)a)->dst, ((const struct i2k_bmount *)b)->dst);
}

int i2k_bmounts_build(const struct i2k_bmount_input *in, struct i2k_bmounts *out,
		      struct i2k_error **err)
{
	static const char *const proc_opts[] = {"nosuid", "nodev", "noexec", "relatime", NULL};
	static const char *const dev_opts[] = {"nosuid", "strictatime", "mode=755", "size=65536k",
					       NULL};
	static const char *const pts_opts[] = {"nosuid",	"noexec",    "newinstance",
					       "ptmxmode=0666", "mode=0620", NULL};
	static const char *const sys_opts[] = {"nosuid", "noexec", "nodev", NULL};
	static const char *const cg_opts[] = {"nosuid", "noexec", "nodev", "relatime", "ro", NULL};

	memset(out, 0, sizeof(*out));
	add_simple(out, "/proc", "proc", "proc", proc_opts, false);
	add_simple(out, "/dev", "tmpfs", "tmpfs", dev_opts, in->readonly);
	add_simple(out, "/dev/pts", "devpts", "devpts", pts_opts, false);
	add_simple(out, "/sys", "sysfs", "sysfs", sys_opts, in->readonly);
	add_simple(out, "/sys/fs/cgroup", "cgroup", "cgroup", cg_opts, false);

	for (size_t i = 0; i < in->ntmpfs; i++) {
		const char *t = in->tmpfs[i];
		if (count_char(t, ':') > 1) {
			i2k_bmounts_clear(out);
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "cannot parse tmpfs \"%s\": too many ':'", t);
		}
		const char *colon = strchr(t, ':');
		struct i2k_bmount m = {.type = i2k_xstrdup("tmpfs"), .src = i2k_xstrdup("tmpfs")};
		m.dst = colon ? i2k_xstrndup(t, (size_t)(colon - t)) : i2k_xstrdup(t);
		if (colon)
			push_split(&m, colon + 1, strlen(colon + 1));
		add_mount(out, &m);
	}

	for (size_t i = 0; i < in->nbinds; i++) {
		const char *b = in->binds[i];
		size_t colons = count_char(b, ':');
		if (colons < 1 || colons > 2) {
			i2k_bmounts_clear(out);
			return i2k_error_set(err, I2K_ERR_CONFIG, "cannot parse bind \"%s\": %s", b,
					     colons < 1 ? "missing ':'" : "too many ':'");
		}
		const char *c1 = strchr(b, ':');
		const char *c2 = strchr(c1 + 1, ':');
		struct i2k_bmount m = {.type = i2k_xstrdup("bind")};
		m.src = i2k_xstrndup(b, (size_t)(c1 - b));
		m.dst = c2 ? i2k_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1)) : i2k_xstrdup(c1 + 1);
		if (c2) {
			push_split(&m, c2 + 1, strlen(c2 + 1));
			push_opt(&m, "rbind", 5);
		} else {
			push_opt(&m, "rw", 2);
			push_opt(&m, "rbind", 5);
			push_opt(&m, "rshared", 7);
		}
		add_mount(out, &m);
	}

	if (in->mounts && !json_is_null(in->mounts)) {
		if (!json_is_array(in->mounts)) {
			i2k_bmounts_clear(out);
			return i2k_error_set(err, I2K_ERR_CONFIG, "mounts: expected an array");
		}
		for (size_t i = 0; i < json_array_size(in->mounts); i++) {
			if (add_oci_mount(out, json_array_get(in->mounts, i), i, err) < 0) {
				i2k_bmounts_clear(out);
				return -1;
			}
		}
	}
	qsort(out->v, out->n, sizeof(*out->v), cmp_dst);
	return 0;
}

void i2k_bmounts_emit(struct i2k_gj *w, const struct i2k_bmounts *m)
{
	i2k_gj_arr_begin(w);
	for (size_t i = 0; i < m->n; i++) {
		const struct i2k_bmount *e = &m->v[i];
		i2k_gj_obj_begin(w);
		i2k_gj_key(w, "destination");
		i2k_gj_str(w, e->dst);
		if (e->type[0]) {
			i2k_gj_key(w, "type");
			i2k_gj_str(w, e->type);
		}
		if (e->src[0]) {
			i2k_gj_key(w, "source");
			i2k_gj_str(w, e->src);
		}
		if (e->nopts) {
			i2k_gj_key(w, "options");
			i2k_gj_strv(w, e->opts, e->nopts);
		}
		i2k_gj_obj_end(w);
	}
	i2k_gj_arr_end(w);
}
