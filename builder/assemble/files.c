/* files.c — see files.h. The rules follow LinuxKit's filesystem() in
 * moby/build/build.go. */
#include "builder/assemble/files.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/bundle/bundle.h"

#define MAX_METADATA (16u << 20)

/* The set of paths this section has written (LinuxKit's addedFiles): an
 * open-addressing hash set, so n entries cost O(n) set operations whatever
 * their shape (as a list searched per parent, 60,000 entries in distinct
 * directories took 18 s). */
struct added {
	char **slots;  /* NULL = empty */
	size_t n, cap; /* cap: 0 or a power of two */
};

static uint64_t path_hash(const char *p)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ull;
	}
	return h;
}

/* The slot holding p, or the empty slot where it would go. */
static char **added_slot(const struct added *s, const char *p)
{
	size_t mask = s->cap - 1;
	for (size_t i = (size_t)path_hash(p) & mask;; i = (i + 1) & mask)
		if (s->slots[i] == NULL || strcmp(s->slots[i], p) == 0)
			return &s->slots[i];
}

static bool added_has(const struct added *s, const char *p)
{
	return s->cap && *added_slot(s, p) != NULL;
}

static void added_put(struct added *s, const char *p)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct added g = {.cap = s->cap ? s->cap * 2 : 64};
		g.slots = i2k_xcalloc(g.cap, sizeof(*g.slots));
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i])
				*added_slot(&g, s->slots[i]) = s->slots[i];
		g.n = s->n;
		free(s->slots);
		*s = g;
	}
	char **slot = added_slot(s, p);
	if (*slot == NULL) {
		*slot = i2k_xstrdup(p);
		s->n++;
	}
}

static void added_clear(struct added *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i]);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static uint32_t dir_mode_for(uint32_t mode)
{
	uint32_t d = mode;
	if (d & 0700)
		d |= 0100;
	if (d & 0070)
		d |= 0010;
	if (d & 0007)
		d |= 0001;
	return d;
}

/* LinuxKit's IDNumeric: unset → 0, a number → itself, a container name →
 * the id allocated to that container. */
static int resolve_id(struct i2k_idmap *ids, const struct i2k_optid *id, const char *where,
		      uint32_t *out, struct i2k_error **err)
{
	*out = 0;
	if (!id->set)
		return 0;
	if (!id->is_name) {
		if (id->id < 0 || id->id > 0xffffffffLL)
			return i2k_error_set(err, I2K_ERR_CONFIG, "%s: id %lld out of range", where,
					     (long long)id->id);
		*out = (uint32_t)id->id;
		return 0;
	}
	if (strcmp(id->name, "root") == 0)
		return 0;
	if (!i2k_idmap_lookup(ids, id->name, out))
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: unknown user or group \"%s\"", where,
				     id->name);
	return 0;
}

static int file_data(const struct i2k_config *cfg, const struct i2k_file_entry *f,
		     struct i2k_spool *spool, const char *home, bool *skip, uint64_t *off,
		     uint64_t *size, const char *where, struct i2k_error **err)
{
	*skip = false;
	*off = *size = 0;
	if (f->contents) {
		*size = f->contents_len;
		return f->contents_len
			   ? i2k_spool_append(spool, f->contents, f->contents_len, off, err)
			   : 0;
	}
	if (f->source) {
		_cleanup_free_ char *src = NULL;
		if (strncmp(f->source, "~/", 2) == 0 && strlen(f->source) > 2) {
			const char *h = home ? home : getenv("HOME");
			src = i2k_xasprintf("%s%s", h ? h : "", f->source + 1);
		} else {
			src = i2k_xstrdup(f->source);
		}
		_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (f->optional) {
				*skip = true;
				return 0;
			}
			return i2k_error_errno(err, errno,
					       errno == ENOENT ? I2K_ERR_NOTFOUND : I2K_ERR_IO,
					       "%s: source %s", where, src);
		}
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "%s: source %s is not a regular file", where, src);
		if (i2k_spool_append_fd(spool, fd, off, size, err) < 0)
			return i2k_error_wrap(err, "%s: source %s", where, src);
		return 0;
	}
	/* metadata */
	const char *yaml = cfg->yaml ? cfg->yaml : "";
	_cleanup_free_ char *json = NULL;
	const char *data = yaml;
	if (strcmp(f->metadata, "json") == 0) {
		if (i2k_yaml_to_json(yaml, strlen(yaml), &json, err) < 0)
			return i2k_error_wrap(err, "%s: metadata", where);
		data = json;
	} else if (strcmp(f->metadata, "yaml") != 0) {
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: unsupported metadata type \"%s\"",
				     where, f->metadata);
	}
	*size = strlen(data);
	return *size ? i2k_spool_append(spool, data, *size, off, err) : 0;
}

static int add_one(const struct i2k_config *cfg, size_t idx, struct i2k_fstree *root,
		   struct i2k_spool *spool, struct i2k_idmap *ids, const char *home,
		   struct added *added, int64_t epoch, struct i2k_error **err)
{
	const struct i2k_file_entry *f = &cfg->files[idx];
	char where[600];
	if (f->pos.file && f->pos.line)
		snprintf(where, sizeof(where), "%s:%u:%u: files[%zu] %s", f->pos.file, f->pos.line,
			 f->pos.col, idx, f->path ? f->path : "");
	else
		snprintf(where, sizeof(where), "files[%zu] %s", idx, f->path ? f->path : "");

	if (f->path == NULL || f->path[0] == '\0')
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: did not specify path for file",
				     where);
	const char *path = f->path[0] == '/' ? f->path + 1 : f->path;
	uint32_t mode = f->directory ? 0700 : 0600;
	if (f->mode_set)
		mode = f->mode & 07777;
	uint32_t dmode = dir_mode_for(mode);
	uint32_t uid, gid;
	if (resolve_id(ids, &f->uid, where, &uid, err) < 0 ||
	    resolve_id(ids, &f->gid, where, &gid, err) < 0)
		return -1;

	bool is_data = !f->directory && f->symlink == NULL;
	if (is_data && f->contents == NULL) {
		if (f->source == NULL && f->metadata == NULL)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "%s: contents of file not specified", where);
		if (f->source && f->metadata)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "%s: specified source and metadata", where);
	} else {
		if (f->metadata)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "%s: specified contents and metadata", where);
		if (f->source)
			return i2k_error_set(err, I2K_ERR_CONFIG,
					     "%s: specified contents and source", where);
	}
	if (f->directory && f->contents)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: directory with contents not allowed",
				     where);

	uint64_t off = 0, size = 0;
	if (is_data) {
		bool skip;
		if (file_data(cfg, f, spool, home, &skip, &off, &size, where, err) < 0)
			return -1;
		if (skip)
			return 0;
	}

	/* Leading directories, each written once by this section. */
	_cleanup_free_ char *p = i2k_xstrdup(path);
	struct i2k_fattr dat = {.mode = S_IFDIR | dmode, .uid = uid, .gid = gid, .mtime = epoch};
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		/* LinuxKit writes a header for each parent; unpacked as an
		 * initramfs, a directory that already exists keeps its mode
		 * (the kernel does not chmod it), so existing parents such as
		 * /etc are left as they are and only missing ones are made. */
		if (*p && !added_has(added, p)) {
			if (i2k_fstree_lookup(root, p) == NULL &&
			    i2k_fstree_add(root, p, &dat, NULL, 0, 0, 0, NULL, err) < 0)
				return i2k_error_wrap(err, "%s", where);
			added_put(added, p);
		}
		*s = '/';
	}
	added_put(added, path);

	struct i2k_fattr at = {.uid = uid, .gid = gid, .mtime = epoch};
	const char *target = NULL;
	if (f->directory) {
		at.mode = S_IFDIR | mode;
	} else if (f->symlink) {
		at.mode = S_IFLNK | mode;
		target = f->symlink;
	} else {
		at.mode = S_IFREG | mode;
	}
	if (i2k_fstree_add(root, path, &at, target, off, size,
			   I2K_FSTREE_REPLACE | I2K_FSTREE_MKPARENTS, NULL, err) < 0)
		return i2k_error_wrap(err, "%s", where);
	return 0;
}

int i2k_build_files(const struct i2k_config *cfg, struct i2k_fstree *root, struct i2k_spool *spool,
		    struct i2k_idmap *ids, const char *home, struct i2k_error **err)
{
	struct added added = {0};
	int64_t epoch = i2k_source_date_epoch();
	int r = 0;
	for (size_t i = 0; r == 0 && i < cfg->n_files; i++)
		r = add_one(cfg, i, root, spool, ids, home, &added, epoch, err);
	added_clear(&added);
	return r;
}

/* ---- YAML → JSON for `metadata: json` ---------------------------------- */

static json_t *scalar_json(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (strcmp(v, "true") == 0)
			return json_true();
		if (strcmp(v, "false") == 0)
			return json_false();
		if (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || v[0] == '\0')
			return json_null();
		char *end = NULL;
		errno = 0;
		long long x = strtoll(v, &end, 10);
		if (errno == 0 && end && *end == '\0' && end != v)
			return json_integer(x);
	}
	return json_stringn(v, n->data.scalar.length);
}

static json_t *node_json(yaml_document_t *d, yaml_node_t *n, int depth)
{
	if (n == NULL || depth > 64)
		return json_null();
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar_json(n);
	case YAML_SEQUENCE_NODE: {
		json_t *a = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++)
			json_array_append_new(
			    a, node_json(d, yaml_document_get_node(d, *it), depth + 1));
		return a;
	}
	case YAML_MAPPING_NODE: {
		json_t *o = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(d, p->key);
			if (k == NULL || k->type != YAML_SCALAR_NODE)
				continue;
			json_object_set_new(
			    o, (const char *)k->data.scalar.value,
			    node_json(d, yaml_document_get_node(d, p->value), depth + 1));
		}
		return o;
	}
	default:
		return json_null();
	}
}

int i2k_yaml_to_json(const char *yaml, size_t len, char **out, struct i2k_error **err)
{
	if (len > MAX_METADATA)
		return i2k_error_set(err, I2K_ERR_CONFIG, "metadata larger than %u bytes",
				     MAX_METADATA);
	yaml_parser_t p;
	yaml_document_t d;
	if (!yaml_parser_initialize(&p))
		return i2k_error_set(err, I2K_ERR_INTERNAL, "yaml parser init failed");
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&p, &d)) {
		int r = i2k_error_set(err, I2K_ERR_CONFIG, "metadata: %s",
				      p.problem ? p.problem : "invalid YAML");
		yaml_parser_delete(&p);
		return r;
	}
	json_t *j = node_json(&d, yaml_document_get_root_node(&d), 0);
	if (json_is_null(j)) {
		json_decref(j);
		j = json_object();
	}
	*out = json_dumps(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(j);
	yaml_document_delete(&d);
	yaml_parser_delete(&p);
	return *out ? 0 : i2k_error_set(err, I2K_ERR_INTERNAL, "json encoding failed");
}
