/* ids.c — see ids.h; also the public struct i2k_idmap of bundle.h. */
#include "builder/bundle/ids.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"

#define IDMAP_FIRST 100

struct i2k_idmap {
	char **names;
	uint32_t *ids;
	size_t n, cap;
	uint32_t next;
};

struct i2k_idmap *i2k_idmap_new(void)
{
	struct i2k_idmap *m = i2k_xcalloc(1, sizeof(*m));
	m->next = IDMAP_FIRST;
	return m;
}

void i2k_idmap_free(struct i2k_idmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->names[i]);
	free(m->names);
	free(m->ids);
	free(m);
}

void i2k_idmap_freep(struct i2k_idmap **m)
{
	i2k_idmap_free(*m);
	*m = NULL;
}

uint32_t i2k_idmap_add(struct i2k_idmap *m, const char *name)
{
	uint32_t id = m->next++;
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->names[i], name) == 0) {
			m->ids[i] = id; /* Go map assignment: the later entry wins */
			return id;
		}
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		m->names = i2k_xrealloc(m->names, cap * sizeof(*m->names));
		m->ids = i2k_xrealloc(m->ids, cap * sizeof(*m->ids));
		m->cap = cap;
	}
	m->names[m->n] = i2k_xstrdup(name);
	m->ids[m->n++] = id;
	return id;
}

void i2k_idmap_add_config(struct i2k_idmap *m, const struct i2k_config *cfg)
{
	for (size_t i = 0; i < cfg->n_onboot; i++)
		i2k_idmap_add(m, cfg->onboot[i].name ? cfg->onboot[i].name : "");
	for (size_t i = 0; i < cfg->n_onshutdown; i++)
		i2k_idmap_add(m, cfg->onshutdown[i].name ? cfg->onshutdown[i].name : "");
	for (size_t i = 0; i < cfg->n_services; i++)
		i2k_idmap_add(m, cfg->services[i].name ? cfg->services[i].name : "");
}

bool i2k_idmap_lookup(const struct i2k_idmap *m, const char *name, uint32_t *id)
{
	for (size_t i = 0; m && i < m->n; i++) {
		if (strcmp(m->names[i], name) == 0) {
			*id = m->ids[i];
			return true;
		}
	}
	return false;
}

bool i2k_ids_db_lookup(const char *db, const char *name, uint32_t *id)
{
	size_t nlen = strlen(name);
	for (const char *line = db; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t llen = end ? (size_t)(end - line) : strlen(line);
		if (llen > nlen && memcmp(line, name, nlen) == 0 && line[nlen] == ':') {
			/* skip the password field */
			const char *p = memchr(line + nlen + 1, ':', llen - nlen - 1);
			if (p) {
				p++;
				uint64_t v = 0;
				const char *q = p;
				while (q < line + llen && *q >= '0' && *q <= '9' && v <= UINT32_MAX)
					v = v * 10 + (uint64_t)(*q++ - '0');
				if (q > p && q <= line + llen && (q == line + llen || *q == ':') &&
				    v <= UINT32_MAX) {
					*id = (uint32_t)v;
					return true;
				}
			}
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

/* Reads a regular file of the tree (not through symlinks); absent → NULL. */
static int load_db(struct i2k_fstree *t, const char *path, char **out, struct i2k_error **err)
{
	*out = NULL;
	if (t == NULL)
		return 0;
	struct i2k_inode *ino = i2k_fstree_lookup(t, path);
	if (ino == NULL || !S_ISREG(ino->mode))
		return 0;
	if (ino->size > I2K_IDS_MAX_DB)
		return i2k_error_set(err, I2K_ERR_CONFIG, "image /%s is larger than %u bytes", path,
				     I2K_IDS_MAX_DB);
	char *buf = i2k_xmalloc((size_t)ino->size + 1);
	if (i2k_fstree_read(t, ino, 0, buf, (size_t)ino->size, err) < 0) {
		free(buf);
		return i2k_error_wrap(err, "reading image /%s", path);
	}
	buf[ino->size] = '\0';
	*out = buf;
	return 0;
}

int i2k_ids_resolve(struct i2k_ids_ctx *c, const struct i2k_optid *id, bool group, const char *what,
		    uint32_t *out, struct i2k_error **err)
{
	*out = 0;
	if (!id->set)
		return 0;
	if (!id->is_name) {
		*out = (uint32_t)id->id;
		return 0;
	}
	const char *name = id->name ? id->name : "";
	if (name[0] == '\0' || strcmp(name, "root") == 0)
		return 0;
	if (i2k_idmap_lookup(c->map, name, out))
		return 0;
	char **db = group ? &c->group : &c->passwd;
	bool *loaded = group ? &c->group_loaded : &c->passwd_loaded;
	if (!*loaded) {
		if (load_db(c->tree, group ? "etc/group" : "etc/passwd", db, err) < 0)
			return -1;
		*loaded = true;
	}
	if (*db && i2k_ids_db_lookup(*db, name, out))
		return 0;
	return i2k_error_set(err, I2K_ERR_CONFIG, "%s: cannot find id \"%s\"", what, name);
}

void i2k_ids_ctx_clear(struct i2k_ids_ctx *c)
{
	free(c->passwd);
	free(c->group);
	c->passwd = c->group = NULL;
	c->passwd_loaded = c->group_loaded = false;
}
