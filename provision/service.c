/* service.c — see service.h. The YAML goes through builder/config's node
 * layer (cnode.h), which keeps positions and rejects duplicate keys. */
#include "provision/service.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/cnode.h"

#define MAX_REPLICAS 64

struct itype {
	const char *size;
	unsigned mem, cpus;
};

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

const char *i2k_proto_name(enum i2k_proto p)
{
	switch (p) {
	case I2K_PROTO_HTTP:
		return "http";
	case I2K_PROTO_HTTPS:
		return "https";
	case I2K_PROTO_TCP:
		return "tcp";
	case I2K_PROTO_SSL:
		return "ssl";
	}
	return "?";
}

static int proto_of(const char *s, size_t len, enum i2k_proto *out)
{
	static const struct {
		const char *name;
		enum i2k_proto p;
	} t[] = {{"http", I2K_PROTO_HTTP},
		 {"https", I2K_PROTO_HTTPS},
		 {"tcp", I2K_PROTO_TCP},
		 {"ssl", I2K_PROTO_SSL}};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(t); i++)
		if (strlen(t[i].name) == len && strncmp(s, t[i].name, len) == 0) {
			*out = t[i].p;
			return 0;
		}
	return -1;
}

static int port_of(const char *s, size_t len, uint16_t *out)
{
	if (len == 0 || len > 5)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int i2k_port_parse(const char *spec, struct i2k_port *out, char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	const char *f[5];
	size_t fl[5], nf = 0;
	const char *s = spec;
	for (;;) {
		const char *c = strchr(s, ':');
		if (nf == 4) { /* the certificate (an ARN) may contain ':' */
			f[nf] = s;
			fl[nf++] = strlen(s);
			break;
		}
		f[nf] = s;
		fl[nf++] = c ? (size_t)(c - s) : strlen(s);
		if (!c)
			break;
		s = c + 1;
	}
	if (nf == 1) {
		if (port_of(f[0], fl[0], &out->port) < 0) {
			*why = i2k_xasprintf("\"%s\": expected a port 1..65535 or "
					     "PROTO:PORT:INSTPROTO:INSTPORT[:CERT]",
					     spec);
			return -1;
		}
		out->inst_port = out->port;
		out->proto = out->inst_proto = I2K_PROTO_TCP;
		return 0;
	}
	if (nf < 4) {
		*why = i2k_xasprintf(
		    "\"%s\": expected PROTO:PORT:INSTPROTO:INSTPORT[:CERT] or PORT", spec);
		return -1;
	}
	if (proto_of(f[0], fl[0], &out->proto) < 0 || proto_of(f[2], fl[2], &out->inst_proto) < 0) {
		*why = i2k_xasprintf("\"%s\": protocols are http, https, tcp or ssl", spec);
		return -1;
	}
	if (port_of(f[1], fl[1], &out->port) < 0 || port_of(f[3], fl[3], &out->inst_port) < 0) {
		*why = i2k_xasprintf("\"%s\": ports must be numbers in 1..65535", spec);
		return -1;
	}
	bool ok;
	const char *allowed;
	switch (out->proto) {
	case I2K_PROTO_HTTP:
		ok = out->inst_proto == I2K_PROTO_HTTP, allowed = "http";
		break;
	case I2K_PROTO_HTTPS:
		ok = out->inst_proto == I2K_PROTO_HTTPS || out->inst_proto == I2K_PROTO_HTTP;
		allowed = "https or http";
		break;
	case I2K_PROTO_TCP:
		ok = out->inst_proto == I2K_PROTO_TCP, allowed = "tcp";
		break;
	default:
		ok = out->inst_proto == I2K_PROTO_SSL || out->inst_proto == I2K_PROTO_TCP;
		allowed = "ssl or tcp";
		break;
	}
	if (!ok) {
		*why = i2k_xasprintf("\"%s\": %s must map to %s", spec, i2k_proto_name(out->proto),
				     allowed);
		return -1;
	}
	if (nf == 5) {
		if (out->proto != I2K_PROTO_HTTPS && out->proto != I2K_PROTO_SSL) {
			*why = i2k_xasprintf("\"%s\": a certificate only goes with https or ssl",
					     spec);
			return -1;
		}
		if (fl[4] == 0) {
			*why = i2k_xasprintf("\"%s\": empty certificate", spec);
			return -1;
		}
		out->cert = i2k_xstrdup(f[4]);
	}
	return 0;
}

char **i2k_shell_split(const char *s, size_t *n, const char **why)
{
	char **v = NULL;
	size_t nv = 0, cap = 0;
	struct i2k_buf w = {0};
	bool in_word = false;
	*why = NULL;
	for (const char *p = s;; p++) {
		char c = *p;
		if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
			if (in_word) {
				i2k_xgrow((void **)&v, &cap, nv + 2, sizeof(*v));
				v[nv++] = w.data ? w.data : i2k_xstrdup("");
				w = (struct i2k_buf){0};
				in_word = false;
			}
			if (c == '\0')
				break;
			continue;
		}
		in_word = true;
		if (c == '\'') {
			const char *e = strchr(p + 1, '\'');
			if (!e) {
				*why = "unterminated single quote";
				goto fail;
			}
			i2k_buf_append(&w, p + 1, (size_t)(e - p - 1), NULL);
			p = e;
		} else if (c == '"') {
			for (p++;; p++) {
				if (*p == '\0') {
					*why = "unterminated double quote";
					goto fail;
				}
				if (*p == '"')
					break;
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				i2k_buf_append(&w, p, 1, NULL);
			}
		} else if (c == '\\') {
			if (p[1] == '\0') {
				*why = "trailing backslash";
				goto fail;
			}
			p++;
			i2k_buf_append(&w, p, 1, NULL);
		} else {
			i2k_buf_append(&w, p, 1, NULL);
		}
	}
	if (nv == 0) {
		*why = "empty command";
		goto fail;
	}
	v[nv] = NULL;
	*n = nv;
	return v;
fail:
	i2k_buf_free(&w);
	strv_free(v, nv);
	return NULL;
}

/* ---- helpers over cnode ------------------------------------------------------ */

static int str_field(const struct i2k_cctx *c, const struct i2k_cnode *v, const struct i2k_cpath *p,
		     char **dst)
{
	free(*dst);
	*dst = NULL;
	if (i2k_cnode_str(c, v, p, false, dst, NULL) < 0)
		return -1;
	if (**dst == '\0')
		return i2k_cctx_fail(c, v, p, "must not be empty");
	return 0;
}

static int strlist(const struct i2k_cctx *c, const struct i2k_cnode *v, const struct i2k_cpath *p,
		   char ***out, size_t *n)
{
	if (v->kind != I2K_CN_SEQ)
		return i2k_cctx_fail(c, v, p, "expected a list of strings");
	strv_free(*out, *n);
	*out = i2k_xcalloc(v->n + 1, sizeof(char *));
	*n = 0;
	for (size_t i = 0; i < v->n; i++) {
		struct i2k_cpath ip = I2K_CPATH_IDX(p, i);
		if (i2k_cnode_str(c, &v->kids[i], &ip, false, &(*out)[*n], NULL) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

static int parse_duration(const struct i2k_cctx *c, const struct i2k_cnode *v,
			  const struct i2k_cpath *p, unsigned *ms)
{
	const char *bad = "expected a duration such as \"500ms\", \"2s\", \"1m\" or seconds";
	if (v->kind != I2K_CN_SCALAR || i2k_cnode_is_null(v))
		return i2k_cctx_fail(c, v, p, "%s", bad);
	const char *s = v->text;
	char *end = NULL;
	if (!isdigit((unsigned char)*s))
		return i2k_cctx_fail(c, v, p, "%s", bad);
	unsigned long long x = strtoull(s, &end, 10);
	unsigned long long mul;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else
		return i2k_cctx_fail(c, v, p, "%s", bad);
	if (x == 0 || x > 3600000 || x * mul > 3600000ull)
		return i2k_cctx_fail(c, v, p, "must be between 1ms and 1h");
	*ms = (unsigned)(x * mul);
	return 0;
}

static bool name_ok(const char *s, bool first_alpha, bool punct)
{
	if (*s == '\0' || strlen(s) > 63)
		return false;
	if (first_alpha && !isalpha((unsigned char)*s))
		return false;
	for (const char *p = s; *p; p++) {
		if (isalnum((unsigned char)*p))
			continue;
		if (punct && p != s && strchr("_.-", *p))
			continue;
		return false;
	}
	return true;
}

static int parse_kernel(const struct i2k_cctx *c, const struct i2k_cnode *v,
			const struct i2k_cpath *p, struct i2k_kernel_spec *k)
{
	if (i2k_cnode_want_map(c, v, p) < 0)
		return -1;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct i2k_cnode *key = &v->kids[i], *val = &v->kids[i + 1];
		struct i2k_cpath kp = I2K_CPATH_KEY(p, key->text);
		if (strcmp(key->text, "image") == 0) {
			if (str_field(c, val, &kp, &k->image) < 0)
				return -1;
		} else if (strcmp(key->text, "cmdline") == 0) {
			free(k->cmdline);
			k->cmdline = NULL;
			if (i2k_cnode_str(c, val, &kp, false, &k->cmdline, NULL) < 0)
				return -1;
		} else {
			return i2k_cctx_unknown_key(c, key, p);
		}
	}
	if (!k->image)
		return i2k_cctx_fail(c, v, p, "missing required field \"image\"");
	return 0;
}

static int parse_init(const struct i2k_cctx *c, const struct i2k_cnode *v,
		      const struct i2k_cpath *p, char ***init, size_t *ninit)
{
	if (strlist(c, v, p, init, ninit) < 0)
		return -1;
	for (size_t i = 0; i < *ninit; i++)
		if ((*init)[i][0] == '\0') {
			struct i2k_cpath ip = I2K_CPATH_IDX(p, i);
			return i2k_cctx_fail(c, &v->kids[i], &ip, "image must not be empty");
		}
	if (*ninit == 0)
		return i2k_cctx_fail(c, v, p, "expected at least one image");
	return 0;
}

/* ---- service.yml ------------------------------------------------------------- */

static int parse_health(const struct i2k_cctx *c, const struct i2k_cnode *v,
			const struct i2k_cpath *p, struct i2k_healthcheck *h)
{
	if (i2k_cnode_want_map(c, v, p) < 0)
		return -1;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct i2k_cnode *key = &v->kids[i], *val = &v->kids[i + 1];
		struct i2k_cpath kp = I2K_CPATH_KEY(p, key->text);
		if (strcmp(key->text, "path") == 0) {
			if (str_field(c, val, &kp, &h->path) < 0)
				return -1;
			if (h->path[0] != '/' || strpbrk(h->path, " \r\n\t"))
				return i2k_cctx_fail(c, val, &kp,
						     "must start with '/' and contain no blanks");
		} else if (strcmp(key->text, "interval") == 0) {
			if (parse_duration(c, val, &kp, &h->interval_ms) < 0)
				return -1;
		} else if (strcmp(key->text, "timeout") == 0) {
			if (parse_duration(c, val, &kp, &h->timeout_ms) < 0)
				return -1;
		} else {
			return i2k_cctx_unknown_key(c, key, p);
		}
	}
	return 0;
}

static int parse_container(const struct i2k_cctx *c, const struct i2k_cnode *key,
			   const struct i2k_cnode *v, const struct i2k_cpath *cp,
			   struct i2k_container *ct)
{
	struct i2k_cpath p = I2K_CPATH_KEY(cp, key->text);
	ct->line = key->line, ct->col = key->col;
	ct->health.interval_ms = I2K_HEALTH_DEFAULT_INTERVAL_MS;
	ct->health.timeout_ms = I2K_HEALTH_DEFAULT_TIMEOUT_MS;
	if (i2k_cnode_str(c, key, cp, false, &ct->name, NULL) < 0)
		return -1;
	if (!name_ok(ct->name, false, true))
		return i2k_cctx_fail(c, key, cp,
				     "invalid container name \"%.64s\": letters, digits and _.- "
				     "(not first), at most 63",
				     ct->name);
	if (i2k_cnode_want_map(c, v, &p) < 0)
		return -1;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct i2k_cnode *k = &v->kids[i], *val = &v->kids[i + 1];
		struct i2k_cpath kp = I2K_CPATH_KEY(&p, k->text);
		if (strcmp(k->text, "image") == 0) {
			if (str_field(c, val, &kp, &ct->image) < 0)
				return -1;
		} else if (strcmp(k->text, "command") == 0) {
			if (val->kind == I2K_CN_SCALAR && !i2k_cnode_is_null(val)) {
				const char *why = NULL;
				strv_free(ct->command, ct->ncommand);
				ct->command = i2k_shell_split(val->text, &ct->ncommand, &why);
				if (!ct->command)
					return i2k_cctx_fail(c, val, &kp, "%s", why);
			} else if (val->kind == I2K_CN_SEQ) {
				if (strlist(c, val, &kp, &ct->command, &ct->ncommand) < 0)
					return -1;
				if (ct->ncommand == 0)
					return i2k_cctx_fail(c, val, &kp, "empty command");
			} else {
				return i2k_cctx_fail(c, val, &kp,
						     "expected a string or a list of strings");
			}
		} else if (strcmp(k->text, "environment") == 0) {
			if (strlist(c, val, &kp, &ct->env, &ct->nenv) < 0)
				return -1;
			for (size_t j = 0; j < ct->nenv; j++) {
				const char *eq = strchr(ct->env[j], '=');
				struct i2k_cpath ip = I2K_CPATH_IDX(&kp, j);
				if (!eq || eq == ct->env[j] || strchr(eq + 1, '='))
					return i2k_cctx_fail(c, &val->kids[j], &ip,
							     "\"%.64s\": expected KEY=VALUE with "
							     "exactly one '='",
							     ct->env[j]);
			}
		} else if (strcmp(k->text, "ports") == 0) {
			if (val->kind != I2K_CN_SEQ)
				return i2k_cctx_fail(c, val, &kp, "expected a list of port specs");
			ct->ports = i2k_xcalloc(val->n + 1, sizeof(*ct->ports));
			for (size_t j = 0; j < val->n; j++) {
				struct i2k_cpath ip = I2K_CPATH_IDX(&kp, j);
				_cleanup_free_ char *s = NULL, *why = NULL;
				if (i2k_cnode_str(c, &val->kids[j], &ip, false, &s, NULL) < 0)
					return -1;
				if (i2k_port_parse(s, &ct->ports[ct->nports], &why) < 0)
					return i2k_cctx_fail(c, &val->kids[j], &ip, "%s", why);
				ct->nports++;
			}
		} else if (strcmp(k->text, "healthcheck") == 0) {
			if (parse_health(c, val, &kp, &ct->health) < 0)
				return -1;
		} else {
			return i2k_cctx_unknown_key(c, k, &p);
		}
	}
	if (!ct->image)
		return i2k_cctx_fail(c, v, &p, "missing required field \"image\"");
	return 0;
}

static int parse_manifest(const struct i2k_cctx *c, const struct i2k_cnode *root,
			  struct i2k_service *m)
{
	if (root->kind != I2K_CN_MAP)
		return i2k_cctx_fail(c, root, NULL, "the top level must be a mapping");
	m->replicas = 1;
	const struct i2k_cnode *replicas_node = NULL, *containers_node = NULL;
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct i2k_cnode *key = &root->kids[i], *v = &root->kids[i + 1];
		const char *k = key->text;
		struct i2k_cpath p = I2K_CPATH_KEY(NULL, k);
		if (strcmp(k, "name") == 0) {
			if (str_field(c, v, &p, &m->name) < 0)
				return -1;
			if (!name_ok(m->name, false, false))
				return i2k_cctx_fail(c, v, &p,
						     "\"%.64s\": must be alphanumeric (at most 63)",
						     m->name);
		} else if (strcmp(k, "replicas") == 0) {
			int64_t r;
			if (i2k_cnode_int(c, v, &p, &r) < 0)
				return -1;
			if (r < 1 || r > MAX_REPLICAS)
				return i2k_cctx_fail(c, v, &p, "must be between 1 and %d",
						     MAX_REPLICAS);
			m->replicas = (unsigned)r;
			replicas_node = v;
		} else if (strcmp(k, "stateful") == 0) {
			if (i2k_cnode_bool(c, v, &p, &m->stateful) < 0)
				return -1;
		} else if (strcmp(k, "public") == 0) {
			if (i2k_cnode_bool(c, v, &p, &m->public_) < 0)
				return -1;
		} else if (strcmp(k, "instance_type") == 0) {
			if (str_field(c, v, &p, &m->instance_type) < 0)
				return -1;
		} else if (strcmp(k, "kernel") == 0) {
			if (parse_kernel(c, v, &p, &m->kernel) < 0)
				return -1;
		} else if (strcmp(k, "init") == 0) {
			if (parse_init(c, v, &p, &m->init, &m->ninit) < 0)
				return -1;
		} else if (strcmp(k, "containers") == 0) {
			if (i2k_cnode_want_map(c, v, &p) < 0)
				return -1;
			containers_node = v;
			m->containers = i2k_xcalloc(v->n / 2 + 1, sizeof(*m->containers));
			for (size_t j = 0; j + 1 < v->n; j += 2) {
				if (parse_container(c, &v->kids[j], &v->kids[j + 1], &p,
						    &m->containers[m->ncontainers++]) < 0)
					return -1;
			}
		} else {
			return i2k_cctx_unknown_key(c, key, NULL);
		}
	}
	if (!m->name)
		return i2k_cctx_fail(c, root, NULL, "missing required field \"name\"");
	if (!containers_node)
		return i2k_cctx_fail(c, root, NULL, "missing required field \"containers\"");
	if (m->ncontainers == 0)
		return i2k_cctx_fail(c, containers_node, &I2K_CPATH_KEY(NULL, "containers"),
				     "expected at least one container");
	if (m->stateful && m->replicas != 1)
		return i2k_cctx_fail(c, replicas_node, &I2K_CPATH_KEY(NULL, "replicas"),
				     "a stateful service has exactly 1 replica");
	/* two containers of one pod share the VM's network: one port each */
	for (size_t a = 0; a < m->ncontainers; a++)
		for (size_t i = 0; i < m->containers[a].nports; i++)
			for (size_t b = 0; b <= a; b++)
				for (size_t j = 0; j < (b == a ? i : m->containers[b].nports); j++)
					if (m->containers[a].ports[i].port ==
					    m->containers[b].ports[j].port) {
						struct i2k_container *ct = &m->containers[a];
						const struct i2k_cnode key = {.line = ct->line,
									      .col = ct->col};
						return i2k_cctx_fail(
						    c, &key,
						    &I2K_CPATH_KEY(
							&I2K_CPATH_KEY(NULL, "containers"),
							ct->name),
						    "port %u is declared twice", ct->ports[i].port);
					}
	return 0;
}

static int load_text(const char *path, char **data, size_t *len, struct i2k_error **err)
{
	if (i2k_read_file(path, I2K_CONFIG_MAX_INPUT, data, len, err) < 0)
		return i2k_error_wrap(err, "%s", path);
	return 0;
}

static int parse_root(const char *file, const char *data, size_t len, struct i2k_cnode *root,
		      struct i2k_error **err)
{
	bool empty = false;
	if (i2k_cnode_from_yaml(file, data, len, root, &empty, err) < 0)
		return -1;
	if (empty)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s: empty file", file);
	return 0;
}

int i2k_service_parse(const char *file, const char *data, size_t len, struct i2k_service **out,
		      struct i2k_error **err)
{
	struct i2k_cnode root = {0};
	if (parse_root(file, data, len, &root, err) < 0)
		return -1;
	struct i2k_service *m = i2k_xcalloc(1, sizeof(*m));
	m->file = i2k_xstrdup(file);
	struct i2k_cctx c = {.file = file, .err = err};
	int r = parse_manifest(&c, &root, m);
	i2k_cnode_clear(&root);
	if (r < 0) {
		i2k_service_free(m);
		return -1;
	}
	*out = m;
	return 0;
}

int i2k_service_load(const char *path, struct i2k_service **out, struct i2k_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (load_text(path, &data, &len, err) < 0)
		return -1;
	return i2k_service_parse(path, data, len, out, err);
}

static void kernel_clear(struct i2k_kernel_spec *k)
{
	free(k->image);
	free(k->cmdline);
}

void i2k_service_free(struct i2k_service *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ncontainers; i++) {
		struct i2k_container *ct = &m->containers[i];
		free(ct->name);
		free(ct->image);
		strv_free(ct->command, ct->ncommand);
		strv_free(ct->env, ct->nenv);
		for (size_t j = 0; j < ct->nports; j++)
			free(ct->ports[j].cert);
		free(ct->ports);
		free(ct->health.path);
	}
	free(m->containers);
	free(m->file);
	free(m->name);
	free(m->instance_type);
	kernel_clear(&m->kernel);
	strv_free(m->init, m->ninit);
	free(m);
}

void i2k_service_freep(struct i2k_service **m)
{
	i2k_service_free(*m);
}

/* ---- environment.yml -------------------------------------------------------- */

static int parse_provider(const struct i2k_cctx *c, const struct i2k_cnode *v,
			  const struct i2k_cpath *p, struct i2k_provider_spec *ps)
{
	if (i2k_cnode_want_map(c, v, p) < 0)
		return -1;
	const struct i2k_cnode *profile = NULL, *access = NULL, *secret = NULL;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const struct i2k_cnode *key = &v->kids[i], *val = &v->kids[i + 1];
		const char *k = key->text;
		struct i2k_cpath kp = I2K_CPATH_KEY(p, k);
		struct {
			const char *name;
			char **dst;
		} t[] = {{"type", &ps->type},
			 {"region", &ps->region},
			 {"profile", &ps->profile},
			 {"access_key", &ps->access_key},
			 {"secret_key", &ps->secret_key},
			 {"vpc", &ps->vpc},
			 {"security_group", &ps->security_group},
			 {"keypair", &ps->keypair},
			 {"instance_type", &ps->instance_type},
			 {"hosted_zone", &ps->hosted_zone},
			 {"certificate", &ps->certificate}};
		char **dst = NULL;
		for (size_t j = 0; j < I2K_ARRAY_SIZE(t); j++)
			if (strcmp(k, t[j].name) == 0)
				dst = t[j].dst;
		if (dst) {
			if (str_field(c, val, &kp, dst) < 0)
				return -1;
			if (dst == &ps->profile)
				profile = val;
			else if (dst == &ps->access_key)
				access = val;
			else if (dst == &ps->secret_key)
				secret = val;
			else if (dst == &ps->type && strcmp(ps->type, "local") != 0 &&
				 strcmp(ps->type, "aws") != 0)
				return i2k_cctx_fail(c, val, &kp,
						     "\"%.32s\": expected local or aws", ps->type);
		} else if (strcmp(k, "subnets") == 0) {
			if (strlist(c, val, &kp, &ps->subnets, &ps->nsubnets) < 0)
				return -1;
		} else {
			return i2k_cctx_unknown_key(c, key, p);
		}
	}
	if (profile && (access || secret))
		return i2k_cctx_fail(c, profile, p,
				     "give either profile or access_key + secret_key, not both");
	if (!access != !secret)
		return i2k_cctx_fail(c, access ? access : secret, p,
				     "access_key and secret_key go together");
	return 0;
}

static int parse_environment(const struct i2k_cctx *c, const struct i2k_cnode *root,
			     struct i2k_environment *e)
{
	if (root->kind != I2K_CN_MAP)
		return i2k_cctx_fail(c, root, NULL, "the top level must be a mapping");
	for (size_t i = 0; i + 1 < root->n; i += 2) {
		const struct i2k_cnode *key = &root->kids[i], *v = &root->kids[i + 1];
		const char *k = key->text;
		struct i2k_cpath p = I2K_CPATH_KEY(NULL, k);
		if (strcmp(k, "name") == 0) {
			if (str_field(c, v, &p, &e->name) < 0)
				return -1;
			if (!name_ok(e->name, true, false) || strlen(e->name) < 2)
				return i2k_cctx_fail(c, v, &p,
						     "\"%.64s\": must match ^[A-Za-z][A-Za-z0-9]+$",
						     e->name);
		} else if (strcmp(k, "provider") == 0) {
			if (parse_provider(c, v, &p, &e->provider) < 0)
				return -1;
		} else if (strcmp(k, "docker") == 0) {
			if (i2k_cnode_want_map(c, v, &p) < 0)
				return -1;
			for (size_t j = 0; j + 1 < v->n; j += 2) {
				const struct i2k_cnode *dk = &v->kids[j];
				struct i2k_cpath kp = I2K_CPATH_KEY(&p, dk->text);
				char **dst = strcmp(dk->text, "username") == 0 ? &e->docker_username
					     : strcmp(dk->text, "password") == 0
						 ? &e->docker_password
						 : NULL;
				if (!dst)
					return i2k_cctx_unknown_key(c, dk, &p);
				if (str_field(c, &v->kids[j + 1], &kp, dst) < 0)
					return -1;
			}
		} else if (strcmp(k, "kernel") == 0) {
			if (parse_kernel(c, v, &p, &e->kernel) < 0)
				return -1;
		} else if (strcmp(k, "init") == 0) {
			if (parse_init(c, v, &p, &e->init, &e->ninit) < 0)
				return -1;
		} else {
			return i2k_cctx_unknown_key(c, key, NULL);
		}
	}
	if (!e->name)
		return i2k_cctx_fail(c, root, NULL, "missing required field \"name\"");
	if (!e->provider.type)
		e->provider.type = i2k_xstrdup("local");
	return 0;
}

int i2k_environment_parse(const char *file, const char *data, size_t len,
			  struct i2k_environment **out, struct i2k_error **err)
{
	struct i2k_cnode root = {0};
	if (parse_root(file, data, len, &root, err) < 0)
		return -1;
	struct i2k_environment *e = i2k_xcalloc(1, sizeof(*e));
	e->file = i2k_xstrdup(file);
	struct i2k_cctx c = {.file = file, .err = err};
	int r = parse_environment(&c, &root, e);
	i2k_cnode_clear(&root);
	if (r < 0) {
		i2k_environment_free(e);
		return -1;
	}
	*out = e;
	return 0;
}

int i2k_environment_load(const char *path, struct i2k_environment **out, struct i2k_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (load_text(path, &data, &len, err) < 0)
		return -1;
	return i2k_environment_parse(path, data, len, out, err);
}

void i2k_environment_free(struct i2k_environment *e)
{
	if (!e)
		return;
	struct i2k_provider_spec *p = &e->provider;
	char *strs[] = {
	    p->type,	    p->region,	       p->profile, p->access_key,      p->secret_key,
	    p->vpc,	    p->security_group, p->keypair, p->instance_type,   p->hosted_zone,
	    p->certificate, e->file,	       e->name,	   e->docker_username, e->docker_password};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(strs); i++)
		free(strs[i]);
	strv_free(p->subnets, p->nsubnets);
	kernel_clear(&e->kernel);
	strv_free(e->init, e->ninit);
	free(e);
}

void i2k_environment_freep(struct i2k_environment **e)
{
	i2k_environment_free(*e);
}

/* ---- instance types ------------------------------------------------------------ */

bool i2k_instance_type_lookup(const char *type, unsigned *mem_mb, unsigned *cpus)
{
	/* EC2's published sizes (memory GiB → MiB, vCPUs) for the families a
	 * small service uses; t2/t3/t3a/t4g share the burstable sizes. */
	static const struct itype burst[] = {{"nano", 512, 2},	   {"micro", 1024, 2},
					     {"small", 2048, 2},   {"medium", 4096, 2},
					     {"large", 8192, 2},   {"xlarge", 16384, 4},
					     {"2xlarge", 32768, 8}},
				  general[] = {{"large", 8192, 2},
					       {"xlarge", 16384, 4},
					       {"2xlarge", 32768, 8},
					       {"4xlarge", 65536, 16}},
				  compute[] = {{"large", 4096, 2},
					       {"xlarge", 8192, 4},
					       {"2xlarge", 16384, 8}};
	const char *dot = strchr(type, '.');
	if (!dot)
		return false;
	size_t fl = (size_t)(dot - type);
	const char *size = dot + 1;
	const struct itype *t = NULL;
	size_t n = 0;
#define FAM(name) (fl == strlen(name) && strncmp(type, name, fl) == 0)
	if (FAM("t3") || FAM("t3a") || FAM("t4g")) {
		t = burst, n = I2K_ARRAY_SIZE(burst);
	} else if (FAM("t2")) {
		/* t2: 1 vCPU up to small, 2 up to large */
		static const struct itype t2[] = {{"nano", 512, 1},	{"micro", 1024, 1},
						  {"small", 2048, 1},	{"medium", 4096, 2},
						  {"large", 8192, 2},	{"xlarge", 16384, 4},
						  {"2xlarge", 32768, 8}};
		for (size_t i = 0; i < I2K_ARRAY_SIZE(t2); i++)
			if (strcmp(size, t2[i].size) == 0) {
				*mem_mb = t2[i].mem, *cpus = t2[i].cpus;
				return true;
			}
		return false;
	} else if (FAM("m5") || FAM("m6i") || FAM("m7i") || FAM("m6g") || FAM("m7g") ||
		   FAM("m5a")) {
		t = general, n = I2K_ARRAY_SIZE(general);
	} else if (FAM("c5") || FAM("c6i") || FAM("c7i") || FAM("c6g") || FAM("c7g")) {
		t = compute, n = I2K_ARRAY_SIZE(compute);
	}
#undef FAM
	for (size_t i = 0; i < n; i++)
		if (strcmp(size, t[i].size) == 0) {
			*mem_mb = t[i].mem, *cpus = t[i].cpus;
			return true;
		}
	return false;
}
