/* config.c — see config.h: ownership (free), merge and load. Parsing is in
 * parse.c, the per-image schema in imgopts.c, the YAML writer in emit.c. */
#include "builder/config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/cnode.h"
#include "builder/config/emit.h"
#include "builder/config/imgopts.h"
#include "builder/config/parse.h"

const char *i2k_pos_prefix(const struct i2k_pos *p, char *buf, size_t n)
{
	if (p->file && p->line)
		snprintf(buf, n, "%s:%u:%u: ", p->file, p->line, p->col);
	else if (n > 0)
		buf[0] = '\0';
	return buf;
}

char *i2k_file_source_path(const struct i2k_file_entry *f, const char *home)
{
	if (f->source == NULL)
		return NULL;
	if (strncmp(f->source, "~/", 2) == 0 && strlen(f->source) > 2) {
		const char *h = home ? home : getenv("HOME");
		return i2k_xasprintf("%s%s", h ? h : "", f->source + 1);
	}
	return i2k_xstrdup(f->source);
}

void i2k_strv_clear(struct i2k_strv *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void i2k_strv_push(struct i2k_strv *s, const char *str)
{
	s->v = i2k_xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
	s->v[s->n++] = i2k_xstrdup(str);
	s->v[s->n] = NULL;
	s->set = true;
}

static void image_entries_free(struct i2k_image_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].name);
		free(e[i].image);
		i2k_imgopts_clear(&e[i].opts);
	}
	free(e);
}

static void kernel_clear(struct i2k_kernel_cfg *k)
{
	free(k->image);
	free(k->cmdline);
	free(k->binary);
	free(k->tar);
	free(k->ucode);
	i2k_strv_clear(&k->module_names);
	memset(k, 0, sizeof(*k));
}

void i2k_config_free(struct i2k_config *c)
{
	if (c == NULL)
		return;
	kernel_clear(&c->kernel);
	for (size_t i = 0; i < c->n_init; i++)
		free(c->init[i].image);
	free(c->init);
	image_entries_free(c->onboot, c->n_onboot);
	image_entries_free(c->onshutdown, c->n_onshutdown);
	image_entries_free(c->services, c->n_services);
	for (size_t i = 0; i < c->n_files; i++) {
		struct i2k_file_entry *f = &c->files[i];
		free(f->path);
		free(f->symlink);
		free(f->contents);
		free(f->source);
		free(f->metadata);
		i2k_optid_clear(&f->uid);
		i2k_optid_clear(&f->gid);
	}
	free(c->files);
	for (size_t i = 0; i < c->n_volumes; i++) {
		free(c->volumes[i].name);
		free(c->volumes[i].image);
		free(c->volumes[i].format);
		i2k_strv_clear(&c->volumes[i].platforms);
	}
	free(c->volumes);
	for (size_t i = 0; i < c->n_verify; i++) {
		free(c->verify[i].image);
		free(c->verify[i].key);
	}
	free(c->verify);
	for (size_t i = 0; i < c->n_files_read; i++)
		free(c->files_read[i]);
	free(c->files_read);
	free(c->yaml);
	free(c);
}

void i2k_config_freep(struct i2k_config **c)
{
	if (c) {
		i2k_config_free(*c);
		*c = NULL;
	}
}

/* Moves the n elements of *src (element size sz) to the end of *dst. */
static void append(void **dst, size_t *dn, void **src, size_t *sn, size_t sz)
{
	if (*sn == 0)
		return;
	*dst = i2k_xrealloc(*dst, (*dn + *sn) * sz);
	memcpy((char *)*dst + *dn * sz, *src, *sn * sz);
	*dn += *sn;
	free(*src);
	*src = NULL;
	*sn = 0;
}

static void take_str(char **dst, char **src)
{
	if (*src == NULL)
		return;
	free(*dst);
	*dst = I2K_STEAL(*src);
}

int i2k_config_merge(struct i2k_config *dst, struct i2k_config *src, struct i2k_error **err)
{
	_cleanup_(i2k_config_freep) struct i2k_config *s = src;
	struct i2k_kernel_cfg *dk = &dst->kernel, *sk = &s->kernel;
	if (sk->image) {
		take_str(&dk->image, &sk->image);
		dk->pos = sk->pos;
	} else if (dk->pos.line == 0) {
		dk->pos = sk->pos;
	}
	take_str(&dk->cmdline, &sk->cmdline);
	take_str(&dk->binary, &sk->binary);
	take_str(&dk->tar, &sk->tar);
	take_str(&dk->ucode, &sk->ucode);
	if (sk->modules_set) {
		i2k_strv_clear(&dk->module_names);
		dk->modules = sk->modules;
		dk->modules_set = true;
		dk->module_names = sk->module_names;
		memset(&sk->module_names, 0, sizeof(sk->module_names));
	}

	size_t from_services = dst->n_services, from_volumes = dst->n_volumes;
	append((void **)&dst->init, &dst->n_init, (void **)&s->init, &s->n_init, sizeof(*s->init));
	append((void **)&dst->onboot, &dst->n_onboot, (void **)&s->onboot, &s->n_onboot,
	       sizeof(*s->onboot));
	append((void **)&dst->onshutdown, &dst->n_onshutdown, (void **)&s->onshutdown,
	       &s->n_onshutdown, sizeof(*s->onshutdown));
	append((void **)&dst->services, &dst->n_services, (void **)&s->services, &s->n_services,
	       sizeof(*s->services));
	append((void **)&dst->files, &dst->n_files, (void **)&s->files, &s->n_files,
	       sizeof(*s->files));
	append((void **)&dst->volumes, &dst->n_volumes, (void **)&s->volumes, &s->n_volumes,
	       sizeof(*s->volumes));
	append((void **)&dst->verify, &dst->n_verify, (void **)&s->verify, &s->n_verify,
	       sizeof(*s->verify));
	/* The positions point at the file names: move them too. */
	append((void **)&dst->files_read, &dst->n_files_read, (void **)&s->files_read,
	       &s->n_files_read, sizeof(*s->files_read));
	dst->trust_given = dst->trust_given || s->trust_given;

	if (i2k_config_check_unique_images("service", dst->services, dst->n_services, from_services,
					   err) < 0 ||
	    i2k_config_check_unique_volumes(dst->volumes, dst->n_volumes, from_volumes, err) < 0)
		return -1;
	char *yaml = NULL;
	if (i2k_config_emit(dst, &yaml, NULL, err) < 0)
		return -1;
	free(dst->yaml);
	dst->yaml = yaml;
	return 0;
}

int i2k_config_load(const char *const *paths, size_t n, struct i2k_config **out,
		    struct i2k_error **err)
{
	*out = NULL;
	_cleanup_(i2k_config_freep) struct i2k_config *all = NULL;
	if (n == 0)
		return i2k_config_parse("<empty>", "", 0, out, err);
	for (size_t i = 0; i < n; i++) {
		bool is_stdin = strcmp(paths[i], "-") == 0;
		const char *name = is_stdin ? "<stdin>" : paths[i];
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		int r = is_stdin ? i2k_read_fd(STDIN_FILENO, I2K_CONFIG_MAX_INPUT, &data, &len, err)
				 : i2k_read_file(paths[i], I2K_CONFIG_MAX_INPUT, &data, &len, err);
		if (r < 0) {
			if (is_stdin)
				i2k_error_wrap(err, "%s", name);
			return -1;
		}
		struct i2k_config *c = NULL;
		if (i2k_config_parse(name, data, len, &c, err) < 0)
			return -1;
		if (all == NULL)
			all = c;
		else if (i2k_config_merge(all, c, err) < 0)
			return -1;
	}
	const struct i2k_kernel_cfg *k = &all->kernel;
	bool kernel_given = k->cmdline || k->binary || k->tar || k->ucode || k->modules_set;
	if (k->image == NULL && kernel_given)
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "%s:%u:%u: kernel: missing required field \"image\"",
				     k->pos.file ? k->pos.file : "?", k->pos.line, k->pos.col);
	*out = I2K_STEAL(all);
	return 0;
}
