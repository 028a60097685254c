/* metadata.c — copy fw_cfg opt/i2kit/data to /run/config/data and expand
 * a JSON object into /run/config (see metadata.h). libc only; never exits. */
#include "metadata.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdlib.h>

#include "json.h"
#include "log.h"
#include "util.h"

/* A name that stays inside its directory. */
static int safe_name(const char *k)
{
	return k && *k && strcmp(k, ".") != 0 && strcmp(k, "..") != 0 && !strchr(k, '/');
}

static int write_entry(const char *path, const char *text, unsigned long len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		i2ki_log_errno("metadata: %s", path);
		return -1;
	}
	int rc = i2ki_write_all(fd, text, len);
	if (rc < 0)
		i2ki_log_errno("metadata: writing %s", path);
	fchmod(fd, mode);
	close(fd);
	return rc;
}

static int expand_obj(const char *dir, const struct jnode *obj, int depth);

/* One member: a string → a file with it; {"content": S[, "perm": "0644"]}
 * → a file (mode 0600 unless perm, as LinuxKit); {"entries": {...}} or any
 * other object → a directory; a number or boolean → a file with its JSON
 * text; null and arrays are skipped. */
static int expand_one(const char *dir, const struct jnode *n, int depth)
{
	char path[4096];
	if (!safe_name(n->key)) {
		i2ki_log_warn("metadata: key \"%s\" is not a file name; skipped",
			      n->key ? n->key : "");
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, n->key) >= sizeof(path))
		return -1;
	char num[64];
	switch (n->type) {
	case J_STR:
		return write_entry(path, n->str, (unsigned long)strlen(n->str), 0644);
	case J_BOOL:
		return write_entry(path, n->b ? "true" : "false", n->b ? 4 : 5, 0644);
	case J_NUM:
		if ((double)n->num == n->dbl)
			snprintf(num, sizeof(num), "%lld", n->num);
		else
			snprintf(num, sizeof(num), "%.17g", n->dbl);
		return write_entry(path, num, (unsigned long)strlen(num), 0644);
	case J_OBJ: {
		const struct jnode *content = i2ki_json_get(n, "content");
		if (content && content->type == J_STR) {
			mode_t mode = 0600;
			const char *perm = i2ki_json_str(n, "perm", NULL);
			if (perm) {
				char *end = NULL;
				unsigned long m = strtoul(perm, &end, 8);
				if (*perm && *end == '\0' && m <= 07777)
					mode = (mode_t)m;
			}
			return write_entry(path, content->str, (unsigned long)strlen(content->str),
					   mode);
		}
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			i2ki_log_errno("metadata: mkdir %s", path);
			return -1;
		}
		const struct jnode *entries = i2ki_json_get(n, "entries");
		return expand_obj(path, entries && entries->type == J_OBJ ? entries : n, depth + 1);
	}
	default:
		return 0;
	}
}

static int expand_obj(const char *dir, const struct jnode *obj, int depth)
{
	if (depth > 16) {
		i2ki_log_warn("metadata: %s: nested too deep; skipped", dir);
		return -1;
	}
	int rc = 0;
	for (const struct jnode *k = obj->kids; k; k = k->next)
		if (expand_one(dir, k, depth) < 0)
			rc = -1;
	return rc;
}

int i2ki_metadata_expand(const char *file, const char *dir)
{
	char errbuf[256];
	struct jnode *root = i2ki_json_load(file, errbuf, sizeof(errbuf));
	if (root == NULL)
		return 1;
	int rc = 1;
	if (root->type == J_OBJ) {
		rc = expand_obj(dir, root, 0) < 0 ? -1 : 0;
		if (rc == 0)
			i2ki_log_info("metadata: %zu entries expanded into %s", root->n, dir);
	}
	i2ki_json_free(root);
	return rc;
}

int i2ki_metadata_copy(const char *src, const char *dir, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		if (errno == ENOENT)
			return 1;
		i2ki_log_errno("metadata: %s", src);
		return -1;
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		i2ki_log_errno("metadata: mkdir %s", dir);
		close(in);
		return -1;
	}
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= sizeof(tmp)) {
		i2ki_log_warn("metadata: %s: path too long", dst);
		close(in);
		return -1;
	}
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		i2ki_log_errno("metadata: %s", tmp);
		close(in);
		return -1;
	}
	char buf[16384];
	unsigned long total = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			i2ki_log_errno("metadata: reading %s", src);
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		total += (unsigned long)n;
		if (total > METADATA_MAX) {
			i2ki_log_warn("metadata: %s is larger than %u bytes; ignored", src,
				      METADATA_MAX);
			rc = -1;
			break;
		}
		if (i2ki_write_all(out, buf, (unsigned long)n) < 0) {
			i2ki_log_errno("metadata: writing %s", tmp);
			rc = -1;
			break;
		}
	}
	close(in);
	if (close(out) < 0 && rc == 0) {
		i2ki_log_errno("metadata: writing %s", tmp);
		rc = -1;
	}
	if (rc == 0 && rename(tmp, dst) < 0) {
		i2ki_log_errno("metadata: rename %s", dst);
		rc = -1;
	}
	if (rc < 0) {
		unlink(tmp);
		return -1;
	}
	i2ki_log_info("metadata: %lu bytes in %s", total, dst);
	return 0;
}

void i2ki_metadata_fetch(void)
{
	int r = i2ki_metadata_copy(METADATA_FW_CFG, METADATA_DIR, METADATA_FILE);
	if (r == 1)
		i2ki_log_debug("metadata: no fw_cfg opt/i2kit/data");
	else if (r == 0)
		i2ki_metadata_expand(METADATA_FILE, METADATA_DIR);
}
