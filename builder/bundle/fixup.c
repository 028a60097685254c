/* fixup.c — see fixup.h. */
#include "builder/bundle/fixup.h"

#include <string.h>
#include <sys/stat.h>

#include "builder/base/util.h"
#include "builder/bundle/bundle.h"

const char i2k_fixup_hosts[] = "127.0.0.1       localhost\n"
			       "::1     localhost ip6-localhost ip6-loopback\n"
			       "fe00::0 ip6-localnet\n"
			       "ff00::0 ip6-mcastprefix\n"
			       "ff02::1 ip6-allnodes\n"
			       "ff02::2 ip6-allrouters\n";
const char i2k_fixup_resolv[] = "\n# no resolv.conf configured\n";

static int remove_if(struct i2k_fstree *t, const char *path, bool only_nondir,
		     struct i2k_error **err)
{
	struct i2k_inode *ino = i2k_fstree_lookup(t, path);
	if (ino == NULL || (only_nondir && S_ISDIR(ino->mode)))
		return 0;
	return i2k_fstree_remove(t, path, true, err);
}

static int write_file(struct i2k_fstree *t, const char *path, const char *data, uint32_t mode,
		      uint32_t uid, uint32_t gid, int64_t mtime, struct i2k_error **err)
{
	uint64_t off = 0;
	size_t len = strlen(data);
	if (i2k_spool_append(i2k_fstree_spool(t), data, len, &off, err) < 0)
		return -1;
	struct i2k_fattr a = {
	    .mode = S_IFREG | (mode & 07777), .uid = uid, .gid = gid, .mtime = mtime};
	return i2k_fstree_add(t, path, &a, NULL, off, len, I2K_FSTREE_REPLACE, NULL, err);
}

/* LinuxKit's `replace` rewrites etc/hosts and etc/resolv.conf when the image
 * has them, but does not count them as found for `touch`, which then writes
 * them again as 0644 root:root: the later tar entry is what gets extracted,
 * so the result is always that file. */
static int replace(struct i2k_fstree *t, const char *path, const char *data, int64_t epoch,
		   struct i2k_error **err)
{
	if (remove_if(t, path, false, err) < 0)
		return -1;
	return write_file(t, path, data, 0644, 0, 0, epoch, err);
}

struct touch {
	const char *path;
	enum { T_DIR, T_FILE, T_LINK } kind;
	const char *data; /* T_FILE contents, T_LINK target */
};

int i2k_bundle_fixup_rootfs(struct i2k_fstree *t, struct i2k_error **err)
{
	static const char *const exclude[] = {".dockerenv", "Dockerfile", "dev/console",
					      "etc/hostname"};
	/* sorted by their tar names ("dev/", "dev/pts/", ...), as LinuxKit walks them */
	static const struct touch touch[] = {
	    {"dev", T_DIR, NULL},
	    {"dev/pts", T_DIR, NULL},
	    {"dev/shm", T_DIR, NULL},
	    {"etc", T_DIR, NULL},
	    {"etc/hosts", T_FILE, i2k_fixup_hosts},
	    {"etc/mtab", T_LINK, "/proc/mounts"},
	    {"etc/resolv.conf", T_FILE, i2k_fixup_resolv},
	    {"proc", T_DIR, NULL},
	    {"sys", T_DIR, NULL},
	};
	int64_t epoch = i2k_source_date_epoch();

	for (size_t i = 0; i < sizeof(exclude) / sizeof(exclude[0]); i++)
		if (remove_if(t, exclude[i], false, err) < 0)
			goto fail;
	if (remove_if(t, "dev/pts", true, err) < 0 || remove_if(t, "dev/shm", true, err) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(touch) / sizeof(touch[0]); i++) {
		const struct touch *e = &touch[i];
		if (e->kind == T_FILE) {
			if (replace(t, e->path, e->data, epoch, err) < 0)
				goto fail;
			continue;
		}
		struct i2k_inode *ino = i2k_fstree_lookup(t, e->path);
		if (ino && (e->kind != T_DIR || S_ISDIR(ino->mode))) {
			ino->mtime = epoch;
			ino->mtime_ns = 0;
			continue;
		}
		int r = 0;
		if (ino) /* a non-directory where a directory belongs */
			r = i2k_fstree_remove(t, e->path, true, err);
		if (r == 0 && e->kind == T_DIR) {
			struct i2k_fattr a = {.mode = S_IFDIR | 0755, .mtime = epoch};
			r = i2k_fstree_add(t, e->path, &a, NULL, 0, 0, I2K_FSTREE_REPLACE, NULL,
					   err);
		} else if (r == 0) {
			struct i2k_fattr a = {.mode = S_IFLNK | 0755, .mtime = epoch};
			r = i2k_fstree_add(t, e->path, &a, e->data, 0, 0, I2K_FSTREE_REPLACE, NULL,
					   err);
		}
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	return i2k_error_wrap(err, "rootfs fix-ups");
}
