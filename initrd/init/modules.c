/* modules.c — kernel module loading for the guest init (see modules.h). */
#include "modules.h"

#include "cmdline.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MODULES_MAX_FILE (16u << 20)
#define MODULE_INIT_COMPRESSED_FILE_FLAG 4

void i2ki_kmods_normalise(const char *name, char *out, size_t outlen)
{
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	size_t n = strcspn(base, " \t\n:");
	const char *ko = NULL;
	for (const char *p = base; p + 3 <= base + n; p++)
		if (memcmp(p, ".ko", 3) == 0 && (p + 3 == base + n || p[3] == '.'))
			ko = p;
	if (ko)
		n = (size_t)(ko - base);
	if (outlen == 0)
		return;
	if (n >= outlen)
		n = outlen - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = base[i] == '-' ? '_' : base[i];
	out[n] = 0;
}

static int cmp_mod(const void *a, const void *b)
{
	return strcmp(((const struct kmod *)a)->name, ((const struct kmod *)b)->name);
}

/* Returns the next line of *cursor (NUL-terminated in place), NULL at the end. */
static char *next_line(char **cursor)
{
	char *p = *cursor;
	if (!p || !*p)
		return NULL;
	char *nl = strchr(p, '\n');
	if (nl) {
		*nl = 0;
		*cursor = nl + 1;
	} else {
		*cursor = p + strlen(p);
	}
	return p;
}

static size_t count_lines(const char *t)
{
	size_t n = 1;
	for (; t && *t; t++)
		n += *t == '\n';
	return n;
}

int i2ki_kmods_parse(struct kmods *km, char *dep_text, char *alias_text, char *builtin_text)
{
	km->dep_text = dep_text;
	km->alias_text = alias_text;
	km->builtin_text = builtin_text;
	km->mods = NULL;
	km->aliases = NULL;
	km->nmods = km->naliases = 0;
	if (dep_text) {
		size_t cap = count_lines(dep_text);
		km->mods = calloc(cap, sizeof(*km->mods));
		if (!km->mods)
			goto oom;
		char *cur = dep_text, *line;
		while ((line = next_line(&cur)) && km->nmods < cap) {
			char *colon = strchr(line, ':');
			if (!colon || line[0] == '#')
				continue;
			*colon = 0;
			struct kmod *m = &km->mods[km->nmods];
			m->path = line;
			m->deps = colon + 1;
			/* the name is written over nothing: normalise into a copy */
			char name[128];
			i2ki_kmods_normalise(line, name, sizeof(name));
			m->name = strdup(name);
			if (!m->name)
				goto oom;
			km->nmods++;
		}
		qsort(km->mods, km->nmods, sizeof(*km->mods), cmp_mod);
	}
	if (alias_text) {
		size_t cap = count_lines(alias_text);
		km->aliases = calloc(cap, sizeof(*km->aliases));
		if (!km->aliases)
			goto oom;
		char *cur = alias_text, *line;
		while ((line = next_line(&cur)) && km->naliases < cap) {
			if (strncmp(line, "alias ", 6) != 0)
				continue;
			char *pat = line + 6;
			pat += strspn(pat, " \t");
			char *sp = pat + strcspn(pat, " \t");
			if (!*sp)
				continue;
			*sp++ = 0;
			sp += strspn(sp, " \t");
			char *end = sp + strcspn(sp, " \t\r");
			*end = 0;
			if (!*sp || !*pat)
				continue;
			struct kalias *a = &km->aliases[km->naliases++];
			a->pattern = pat;
			a->module = sp;
			a->prefix = strcspn(pat, "*?[\\");
		}
	}
	return 0;
oom:
	i2ki_log_warn("modules: out of memory reading the module tables");
	i2ki_kmods_free(km);
	return -1;
}

void i2ki_kmods_free(struct kmods *km)
{
	for (size_t i = 0; km->mods && i < km->nmods; i++)
		free(km->mods[i].name);
	free(km->mods);
	free(km->aliases);
	free(km->dep_text);
	free(km->alias_text);
	free(km->builtin_text);
	km->mods = NULL;
	km->aliases = NULL;
	km->dep_text = km->alias_text = km->builtin_text = NULL;
	km->nmods = km->naliases = 0;
}

static char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size > (off_t)MODULES_MAX_FILE) {
		close(fd);
		errno = EFBIG;
		return NULL;
	}
	size_t cap = (size_t)st.st_size, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = 0;
	return buf;
}

static int default_insmod(struct kmods *km, const char *path)
{
	char full[512];
	int flags = 0;
	size_t n = strlen(path);
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", km->dir, path) >= sizeof(full))
		return -ENAMETOOLONG;
	if (n > 3 && strcmp(path + n - 3, ".ko") != 0)
		flags = MODULE_INIT_COMPRESSED_FILE_FLAG;
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	long r = syscall(SYS_finit_module, fd, "", flags);
	int e = errno;
	close(fd);
	return r == 0 ? 0 : -e;
}

static int default_present(struct kmods *km, const char *name)
{
	char p[300];
	snprintf(p, sizeof(p), "/sys/module/%s", name);
	return access(p, F_OK) == 0;
}

int i2ki_kmods_open(struct kmods *km, const char *dir)
{
	char p[512];
	memset(km, 0, sizeof(*km));
	snprintf(km->dir, sizeof(km->dir), "%s", dir);
	km->insmod = default_insmod;
	km->present = default_present;
	snprintf(p, sizeof(p), "%s/modules.dep", dir);
	char *dep = slurp(p);
	if (!dep)
		return -1;
	snprintf(p, sizeof(p), "%s/modules.alias", dir);
	char *alias = slurp(p);
	snprintf(p, sizeof(p), "%s/modules.builtin", dir);
	char *builtin = slurp(p);
	return i2ki_kmods_parse(km, dep, alias, builtin);
}

struct kmod *i2ki_kmods_find(struct kmods *km, const char *name)
{
	char n[128];
	i2ki_kmods_normalise(name, n, sizeof(n));
	struct kmod key = {.name = n};
	if (!km->mods)
		return NULL;
	return bsearch(&key, km->mods, km->nmods, sizeof(*km->mods), cmp_mod);
}

int i2ki_kmods_builtin(const struct kmods *km, const char *name)
{
	char want[128], have[128];
	i2ki_kmods_normalise(name, want, sizeof(want));
	for (const char *p = km->builtin_text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[256];
		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = 0;
			i2ki_kmods_normalise(line, have, sizeof(have));
			if (strcmp(have, want) == 0)
				return 1;
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

static int load_mod(struct kmods *km, struct kmod *m, int quiet, int depth)
{
	if (m->state == KMOD_LOADED)
		return 0;
	if (m->state == KMOD_FAILED)
		return -EIO;
	if (m->state == KMOD_LOADING || depth > 64)
		return 0; /* a dependency cycle: let the kernel decide */
	if (km->present(km, m->name)) {
		m->state = KMOD_LOADED;
		return 0;
	}
	m->state = KMOD_LOADING;
	/* dependencies first (each with its own line's dependencies) */
	char *p = m->deps;
	while (p && *p) {
		p += strspn(p, " \t");
		size_t len = strcspn(p, " \t");
		if (len == 0)
			break;
		char tok[256], dep[128];
		size_t tl = len < sizeof(tok) ? len : sizeof(tok) - 1;
		memcpy(tok, p, tl);
		tok[tl] = 0;
		i2ki_kmods_normalise(tok, dep, sizeof(dep));
		struct kmod *d = i2ki_kmods_find(km, dep);
		if (d && load_mod(km, d, quiet, depth + 1) < 0) {
			m->state = KMOD_FAILED;
			if (!quiet)
				i2ki_log_warn("modules: %s: dependency %s failed", m->name, dep);
			return -EIO;
		}
		p += len;
	}
	int r = km->insmod(km, m->path);
	if (r == 0 || r == -EEXIST) {
		m->state = KMOD_LOADED;
		if (r == 0) {
			km->loaded++;
			i2ki_log_debug("modules: loaded %s", m->name);
		}
		return 0;
	}
	m->state = KMOD_FAILED;
	if (quiet)
		i2ki_log_debug("modules: %s: %s", m->name, strerror(-r));
	else
		i2ki_log_warn("modules: %s: %s", m->name, strerror(-r));
	return r;
}

int i2ki_kmods_load(struct kmods *km, const char *name, int quiet)
{
	struct kmod *m = i2ki_kmods_find(km, name);
	if (m)
		return load_mod(km, m, quiet, 0);
	char n[128];
	i2ki_kmods_normalise(name, n, sizeof(n));
	if (i2ki_kmods_builtin(km, n) || km->present(km, n))
		return 0;
	/* an alias name ("fs-overlay", "net-pf-10") */
	int found = 0, r = -ENOENT;
	for (size_t i = 0; i < km->naliases; i++) {
		if (fnmatch(km->aliases[i].pattern, name, 0) != 0)
			continue;
		struct kmod *am = i2ki_kmods_find(km, km->aliases[i].module);
		if (!am)
			continue;
		found = 1;
		r = load_mod(km, am, quiet, 0);
		if (r == 0)
			break;
	}
	if (!found && !quiet)
		i2ki_log_warn("modules: %s: no such module", name);
	return found ? r : -ENOENT;
}

int i2ki_kmods_load_modalias(struct kmods *km, const char *modalias)
{
	int before = km->loaded;
	for (size_t i = 0; i < km->naliases; i++) {
		struct kalias *a = &km->aliases[i];
		if (strncmp(a->pattern, modalias, a->prefix) != 0)
			continue;
		if (fnmatch(a->pattern, modalias, 0) != 0)
			continue;
		struct kmod *m = i2ki_kmods_find(km, a->module);
		if (m && m->state == KMOD_NEW) {
			i2ki_log_debug("modules: %s matches %s", a->module, modalias);
			load_mod(km, m, 1, 0);
		}
	}
	return km->loaded - before;
}

/* Loads the matches of every DIR/{*}/modalias (DIR/{*} may be symlinks). */
static int scan_dir(struct kmods *km, const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[512], alias[1024];
		if ((size_t)snprintf(p, sizeof(p), "%s/%s/modalias", dir, e->d_name) >= sizeof(p))
			continue;
		if (i2ki_read_line(p, alias, sizeof(alias)) == 0 && alias[0])
			n += i2ki_kmods_load_modalias(km, alias);
	}
	closedir(d);
	return n;
}

int i2ki_kmods_coldplug(struct kmods *km, const char *sysfs)
{
	int total = 0;
	for (int pass = 0; pass < 8; pass++) {
		int n = 0;
		char p[512];
		snprintf(p, sizeof(p), "%s/bus", sysfs);
		DIR *d = opendir(p);
		if (d) {
			struct dirent *e;
			while ((e = readdir(d))) {
				if (e->d_name[0] == '.')
					continue;
				char dev[512];
				if ((size_t)snprintf(dev, sizeof(dev), "%s/bus/%s/devices", sysfs,
						     e->d_name) >= sizeof(dev))
					continue;
				n += scan_dir(km, dev);
			}
			closedir(d);
		}
		snprintf(p, sizeof(p), "%s/class/input", sysfs);
		n += scan_dir(km, p);
		total += n;
		if (n == 0)
			break;
	}
	return total;
}

/* Loads every module named in a modules-load.d style file: one per line,
 * '#' and ';' start comments. */
static void load_list_file(struct kmods *km, const char *path)
{
	char *text = slurp(path);
	if (!text)
		return;
	char *cur = text, *line;
	while ((line = next_line(&cur))) {
		line += strspn(line, " \t");
		line[strcspn(line, " \t\r#;")] = 0;
		if (*line)
			i2ki_kmods_load(km, line, 0);
	}
	free(text);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_conf_dir(struct kmods *km, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 256) {
		size_t l = strlen(e->d_name);
		if (l > 5 && strcmp(e->d_name + l - 5, ".conf") == 0) {
			names[n] = strdup(e->d_name);
			if (names[n])
				n++;
		}
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		load_list_file(km, p);
		free(names[i]);
	}
}

void i2ki_modules_boot(void)
{
	struct utsname u;
	struct kmods km;
	char dir[300];
	if (uname(&u) < 0) {
		i2ki_log_errno("modules: uname");
		return;
	}
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	if (i2ki_kmods_open(&km, dir) < 0) {
		if (errno == ENOENT)
			i2ki_log_info("modules: no %s/modules.dep, nothing to load", dir);
		else
			i2ki_log_errno("modules: %s/modules.dep", dir);
		return;
	}
	/* always wanted when they are modules: overlay for writable containers,
	 * button + evdev for the ACPI power button */
	static const char *const always[] = {"overlay", "button", "evdev"};
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		i2ki_kmods_load(&km, always[i], 1);
	char list[1024];
	if (i2ki_cmdline_get("i2kit.modules", list, sizeof(list))) {
		char *save = NULL;
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (*t)
				i2ki_kmods_load(&km, t, 0);
	}
	load_conf_dir(&km, "/etc/modules-load.d");
	load_list_file(&km, "/etc/modules");
	i2ki_kmods_coldplug(&km, "/sys");
	i2ki_log_info("modules: %d loaded from %s", km.loaded, dir);
	i2ki_kmods_free(&km);
}
