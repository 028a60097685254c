/* roots.c — see roots.h. */
#include "formats/roots.h"

#include <string.h>
#include <sys/stat.h>

#include "builder/base/cleanup.h"
#include "builder/base/util.h"
#include "builder/config/config.h"
#include "kernel/modules.h"

int i2k_root_mode_parse(const char *s, enum i2k_root_mode *out, struct i2k_error **err)
{
	static const char *const names[] = {"initramfs", "squashfs", "ext4", "iso9660", "erofs"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum i2k_root_mode)i;
			return 0;
		}
	}
	return i2k_error_set(
	    err, I2K_ERR_USAGE,
	    "--root must be initramfs, squashfs, ext4, iso9660 or erofs, not \"%s\"", s);
}

const char *i2k_root_mode_name(enum i2k_root_mode m)
{
	switch (m) {
	case I2K_ROOT_SQUASHFS:
		return "squashfs";
	case I2K_ROOT_EXT4:
		return "ext4";
	case I2K_ROOT_ISO9660:
		return "iso9660";
	case I2K_ROOT_EROFS:
		return "erofs";
	default:
		return "initramfs";
	}
}

/* A copy of root's entries that keep() wants (inodes shared). */
static int clone(struct i2k_fstree *root, i2k_graft_keep_fn keep, struct i2k_fstree **out,
		 struct i2k_error **err)
{
	struct i2k_fstree *t = i2k_fstree_new(i2k_fstree_spool(root));
	if (i2k_fstree_graft_some(t, "", root, keep, NULL, err) < 0) {
		i2k_fstree_free(t);
		return -1;
	}
	*out = t;
	return 0;
}

static bool not_boot(const char *path, const struct i2k_inode *ino, void *ctx)
{
	return strcmp(path, "boot") != 0;
}

int i2k_roots_rootfs(struct i2k_fstree *root, struct i2k_fstree **out, struct i2k_error **err)
{
	*out = i2k_fstree_view(root, not_boot, NULL);
	return 0;
}

/* Top-level entries the first stage keeps (mount points and the init). */
static const char *const stage1_keep[] = {"init", "dev", "proc", "sys", "run",
					  "tmp",  "var", "etc",	 "root"};

/* An entry is copied when this holds for it (its parents were copied:
 * what is below an unwanted entry is never asked about). */
static bool stage1_wanted(const char *p, const struct i2k_inode *ino, void *ctx)
{
	for (size_t i = 0; i < I2K_ARRAY_SIZE(stage1_keep); i++) {
		if (strcmp(p, stage1_keep[i]) == 0)
			return true; /* the entry itself, not what is below it */
	}
	/* the modules, and the directories leading to them */
	static const char *const mods[] = {"lib/modules", "usr/lib/modules"};
	for (size_t i = 0; i < I2K_ARRAY_SIZE(mods); i++) {
		size_t n = strlen(mods[i]), pl = strlen(p);
		if (strncmp(p, mods[i], n) == 0 && (p[n] == '\0' || p[n] == '/'))
			return true;
		if (pl < n && strncmp(mods[i], p, pl) == 0 && mods[i][pl] == '/')
			return true;
	}
	return false;
}

int i2k_roots_stage1(struct i2k_fstree *root, struct i2k_fstree **out, struct i2k_error **err)
{
	struct i2k_inode *init = i2k_fstree_lookup(root, "init");
	if (init == NULL || !S_ISREG(init->mode))
		return i2k_error_set(err, I2K_ERR_CONFIG,
				     "a disk root needs i2kit's init at /init in the image "
				     "(init: [i2kit/init:VERSION])");
	/* Only what the first stage keeps is copied: the rest of the root
	 * (all of the services' files) never costs memory here. */
	struct i2k_fstree *t;
	if (clone(root, stage1_wanted, &t, err) < 0)
		return -1;
	/* kernel.modules auto: virtio, SCSI/NVMe, squashfs, erofs, overlay, ... */
	struct i2k_kernel_cfg k = {.modules = I2K_MODULES_AUTO};
	struct i2k_modules_report rep;
	if (i2k_modules_prune(t, &k, &rep, err) < 0) {
		i2k_fstree_free(t);
		return i2k_error_wrap(err, "first-stage initrd");
	}
	*out = t;
	return 0;
}

int i2k_roots_boot(struct i2k_fstree *root, const char *format, struct i2k_inode **kernel,
		   char **cmdline, struct i2k_error **err)
{
	struct i2k_inode *k = i2k_fstree_lookup(root, "boot/kernel");
	if (k == NULL || !S_ISREG(k->mode) || k->size == 0)
		return i2k_error_set(err, I2K_ERR_CONFIG, "%s output needs a kernel: section",
				     format);
	*kernel = k;
	struct i2k_inode *c = i2k_fstree_lookup(root, "boot/cmdline");
	if (c == NULL || !S_ISREG(c->mode) || c->size == 0) {
		*cmdline = i2k_xstrdup("");
		return 0;
	}
	if (c->size > 65536)
		return i2k_error_set(err, I2K_ERR_CONFIG, "boot/cmdline is larger than 64 KiB");
	char *s = i2k_xmalloc(c->size + 1);
	if (i2k_fstree_read(root, c, 0, s, c->size, err) < 0) {
		free(s);
		return -1;
	}
	s[c->size] = '\0';
	*cmdline = s;
	return 0;
}
