/* stage1.c — the init as the first stage of a disk root (see stage1.h). */
#include "stage1.h"

#include "blkid.h"
#include "cmdline.h"
#include "log.h"
#include "modules.h"
#include "mounts.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define RAMFS_MAGIC_S1 0x858458f6u
#define TMPFS_MAGIC_S1 0x01021994u
#define MAX_DEPTH 128
#define MAX_DISKS 64

/* ---- options ------------------------------------------------------------ */

static void appendf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	if (!buf || len == 0)
		return;
	size_t used = strnlen(buf, len);
	if (used >= len - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

int i2ki_stage1_parse_flags(const char *flags, unsigned long *mflags, int *rw_given, char *data,
			    size_t datalen)
{
	static const struct {
		const char *word;
		unsigned long set;
	} words[] = {
	    {"ro", MS_RDONLY},	       {"rw", 0},
	    {"noatime", MS_NOATIME},   {"nodiratime", MS_NODIRATIME},
	    {"relatime", MS_RELATIME}, {"strictatime", MS_STRICTATIME},
	    {"nodev", MS_NODEV},       {"nosuid", MS_NOSUID},
	    {"noexec", MS_NOEXEC},     {"sync", MS_SYNCHRONOUS},
	    {"dirsync", MS_DIRSYNC},   {"lazytime", MS_LAZYTIME},
	};
	*mflags = 0;
	*rw_given = 0;
	if (datalen == 0)
		return -1;
	data[0] = 0;
	size_t used = 0;
	const char *p = flags ? flags : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		int known = 0;
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			if (strlen(words[i].word) == n && strncmp(p, words[i].word, n) == 0) {
				known = 1;
				if (n == 2 && p[0] == 'r' && p[1] == 'w') {
					*mflags &= ~(unsigned long)MS_RDONLY;
					*rw_given = 1;
				} else {
					*mflags |= words[i].set;
					if (words[i].set == MS_RDONLY)
						*rw_given = 0;
				}
			}
		}
		if (!known && n > 0) {
			if (used + (used ? 1 : 0) + n >= datalen) {
				data[0] = 0;
				return -1;
			}
			if (used)
				data[used++] = ',';
			memcpy(data + used, p, n);
			used += n;
			data[used] = 0;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int i2ki_stage1_parse(struct stage1_opts *o, char *why, size_t whylen)
{
	char v[256];
	memset(o, 0, sizeof(*o));
	if (why && whylen)
		why[0] = 0;
	if (!i2ki_cmdline_get("i2kit.root", v, sizeof(v)))
		return 0;
	size_t vlen = strlen(v);
	if (vlen >= sizeof(v) - 1 || vlen >= sizeof(o->spec)) {
		appendf(why, whylen, "i2kit.root=%.40s...: too long", v);
		return -1;
	}
	memcpy(o->spec, v, vlen + 1);
	if (strncmp(v, "PARTUUID=", 9) == 0) {
		o->kind = STAGE1_PARTUUID;
		if (!i2ki_blkid_guid_valid(v + 9)) {
			appendf(why, whylen, "i2kit.root=%s: not a GUID (8-4-4-4-12 hex digits)",
				v);
			return -1;
		}
		for (size_t i = 0; v[9 + i]; i++)
			o->value[i] = (char)tolower((unsigned char)v[9 + i]);
	} else if (strncmp(v, "PARTLABEL=", 10) == 0) {
		o->kind = STAGE1_PARTLABEL;
		size_t n = strlen(v + 10);
		if (n == 0 || n > 108) {
			appendf(why, whylen, "i2kit.root=%s: a GPT name is 1 to 36 characters", v);
			return -1;
		}
		memcpy(o->value, v + 10, n + 1);
	} else if (strncmp(v, "/dev/", 5) == 0 && v[5] && !strchr(v + 5, '/') &&
		   strcmp(v + 5, ".") != 0 && strcmp(v + 5, "..") != 0 &&
		   strlen(v) < sizeof(o->value)) {
		o->kind = STAGE1_PATH;
		memcpy(o->value, v, strlen(v) + 1);
	} else {
		appendf(why, whylen,
			"i2kit.root=%s: expected PARTUUID=<guid>, PARTLABEL=<name> or /dev/NAME",
			v);
		return -1;
	}

	snprintf(o->fstype, sizeof(o->fstype), "auto");
	if (i2ki_cmdline_get("i2kit.rootfstype", v, sizeof(v))) {
		static const char *const types[] = {"squashfs", "erofs", "ext4", "iso9660", "auto"};
		size_t i = 0;
		while (i < 5 && strcmp(v, types[i]) != 0)
			i++;
		if (i < 5)
			snprintf(o->fstype, sizeof(o->fstype), "%s", types[i]);
		else
			i2ki_log_warn(
			    "i2kit.rootfstype=%s: not squashfs, erofs, ext4, iso9660 or auto; "
			    "using auto",
			    v);
	}

	o->rootwait = STAGE1_ROOTWAIT_DEFAULT;
	if (i2ki_cmdline_get("i2kit.rootwait", v, sizeof(v))) {
		char *end = NULL;
		errno = 0;
		long s = strtol(v, &end, 10);
		if (!v[0] || !isdigit((unsigned char)v[0]) || *end || errno || s < 0 ||
		    s > STAGE1_ROOTWAIT_MAX)
			i2ki_log_warn("i2kit.rootwait=%s: not a number of seconds (0-%d); using %d",
				      v, STAGE1_ROOTWAIT_MAX, STAGE1_ROOTWAIT_DEFAULT);
		else
			o->rootwait = (int)s;
	}

	if (i2ki_cmdline_get("i2kit.rootflags", v, sizeof(v)) &&
	    (strlen(v) >= sizeof(v) - 1 ||
	     i2ki_stage1_parse_flags(v, &o->mflags, &o->rw_given, o->mdata, sizeof(o->mdata)) <
		 0)) {
		i2ki_log_warn("i2kit.rootflags=%s: too long; ignored", v);
		o->mflags = 0;
		o->rw_given = 0;
		o->mdata[0] = 0;
	}
	return 1;
}

/* ---- finding the device ------------------------------------------------- */

/* devdir/NAME, made from sysfs/class/block/NAME/dev when missing; 0 or -1. */
static int ensure_node(const char *sysfs, const char *name, const char *devdir, char *out,
		       size_t outlen)
{
	char p[512], dev[32];
	struct stat st;
	if ((size_t)snprintf(out, outlen, "%s/%s", devdir, name) >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (stat(out, &st) == 0)
		return S_ISBLK(st.st_mode) || S_ISREG(st.st_mode) ? 0 : (errno = ENOTBLK, -1);
	snprintf(p, sizeof(p), "%s/class/block/%s/dev", sysfs, name);
	unsigned maj, min;
	if (i2ki_read_line(p, dev, sizeof(dev)) < 0)
		return -1;
	if (sscanf(dev, "%u:%u", &maj, &min) != 2) {
		errno = EINVAL;
		return -1;
	}
	if (mknod(out, S_IFBLK | 0600, makedev(maj, min)) < 0 && errno != EEXIST)
		return -1;
	i2ki_log_debug("stage 1: made %s (%u:%u)", out, maj, min);
	return 0;
}

/* The sysfs name of partition num of disk (a child directory of
 * sysfs/class/block/DISK with that "partition" number); 0 or -1. */
static int partition_name(const char *sysfs, const char *disk, unsigned num, char *name,
			  size_t namelen)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/class/block/%s", sysfs, disk);
	DIR *d = opendir(p);
	if (!d)
		return -1;
	struct dirent *e;
	int r = -1;
	while ((e = readdir(d))) {
		char pp[600], v[32];
		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(pp, sizeof(pp), "%s/%s/partition", p, e->d_name) >= sizeof(pp))
			continue;
		if (i2ki_read_line(pp, v, sizeof(v)) == 0 && strtoul(v, NULL, 10) == num &&
		    strlen(e->d_name) < namelen) {
			memcpy(name, e->d_name, strlen(e->d_name) + 1);
			r = 0;
			break;
		}
	}
	closedir(d);
	return r;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Whole disks of sysfs/class/block (no "partition" file), sorted. */
static size_t list_disks(const char *sysfs, char names[][64], size_t max)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/class/block", sysfs);
	DIR *d = opendir(p);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		char pp[600];
		if (e->d_name[0] == '.' || strlen(e->d_name) >= 64)
			continue;
		if ((size_t)snprintf(pp, sizeof(pp), "%s/%s/partition", p, e->d_name) >= sizeof(pp))
			continue;
		if (access(pp, F_OK) == 0)
			continue;
		memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_name);
	return n;
}

static int find_path(const struct stage1_opts *o, const char *sysfs, const char *devdir,
		     char *devpath, size_t devlen, char *seen, size_t seenlen)
{
	const char *name = o->value + 5;
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/class/block/%s", sysfs, name);
	if (stat(p, &st) == 0 && ensure_node(sysfs, name, devdir, devpath, devlen) == 0)
		return 1;
	/* not a block device the kernel knows: an existing node still counts */
	if ((size_t)snprintf(devpath, devlen, "%s/%s", devdir, name) < devlen &&
	    stat(devpath, &st) == 0 && (S_ISBLK(st.st_mode) || S_ISREG(st.st_mode)))
		return 1;
	char disks[MAX_DISKS][64];
	size_t n = list_disks(sysfs, disks, MAX_DISKS);
	appendf(seen, seenlen, "no %s; disks:", o->value);
	for (size_t i = 0; i < n; i++)
		appendf(seen, seenlen, " %s", disks[i]);
	if (n == 0)
		appendf(seen, seenlen, " none");
	return 0;
}

int i2ki_stage1_find(const struct stage1_opts *o, const char *sysfs, const char *devdir,
		     char *devpath, size_t devlen, char *seen, size_t seenlen)
{
	if (seen && seenlen)
		seen[0] = 0;
	if (o->kind == STAGE1_PATH)
		return find_path(o, sysfs, devdir, devpath, devlen, seen, seenlen);

	char disks[MAX_DISKS][64];
	size_t n = list_disks(sysfs, disks, MAX_DISKS);
	struct blkid_gpt *g = malloc(sizeof(*g));
	if (!g) {
		appendf(seen, seenlen, "out of memory");
		return 0;
	}
	int found = 0, listed = 0;
	for (size_t i = 0; i < n && !found; i++) {
		const char *disk = disks[i];
		char p[512], size[32], node[512], why[64] = "";
		snprintf(p, sizeof(p), "%s/class/block/%s/size", sysfs, disk);
		int empty = i2ki_read_line(p, size, sizeof(size)) == 0 && strcmp(size, "0") == 0;
		if (empty && (strncmp(disk, "loop", 4) == 0 || strncmp(disk, "ram", 3) == 0 ||
			      strncmp(disk, "nbd", 3) == 0))
			continue; /* unused loop/ram/nbd devices: not worth listing */
		appendf(seen, seenlen, "%s%s", listed++ ? ", " : "", disk);
		if (empty) {
			appendf(seen, seenlen, " (empty)");
			continue;
		}
		if (ensure_node(sysfs, disk, devdir, node, sizeof(node)) < 0) {
			appendf(seen, seenlen, " (no node: %s)", strerror(errno));
			continue;
		}
		int fd = open(node, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			appendf(seen, seenlen, " (%s)", strerror(errno));
			continue;
		}
		int ss = 0;
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKSSZGET, &ss) < 0)
			ss = 0;
		enum blkid_gpt_result r =
		    i2ki_blkid_gpt_read(fd, ss > 0 ? (unsigned)ss : 0, g, why, sizeof(why));
		close(fd);
		if (r == BLKID_GPT_NONE) {
			appendf(seen, seenlen, " (no GPT)");
			continue;
		}
		if (r != BLKID_GPT_OK) {
			appendf(seen, seenlen, " (GPT unusable: %s)", why);
			continue;
		}
		appendf(seen, seenlen, " (GPT: %zu partition%s)", g->nparts + g->dropped,
			g->nparts + g->dropped == 1 ? "" : "s");
		const struct blkid_part *part = o->kind == STAGE1_PARTUUID
						    ? i2ki_blkid_gpt_find_uuid(g, o->value)
						    : i2ki_blkid_gpt_find_label(g, o->value);
		if (!part)
			continue;
		char pname[64];
		if (partition_name(sysfs, disk, part->num, pname, sizeof(pname)) < 0) {
			appendf(seen, seenlen,
				" [partition %u matches but the kernel shows no device for it]",
				part->num);
			continue;
		}
		if (ensure_node(sysfs, pname, devdir, devpath, devlen) < 0) {
			appendf(seen, seenlen, " [partition %u matches: %s/%s: %s]", part->num,
				devdir, pname, strerror(errno));
			continue;
		}
		found = 1;
	}
	free(g);
	if (!listed)
		appendf(seen, seenlen, "none");
	return found;
}

/* ---- freeing the initramfs ---------------------------------------------- */

static int free_dir(int dir, dev_t dev, int depth)
{
	int failures = 0;
	/* a new open file description: a dup() would share dir's offset */
	int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		struct stat st;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (fstatat(dir, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			failures++;
			continue;
		}
		if (st.st_dev != dev)
			continue; /* a mount point: not ours to empty */
		if (S_ISDIR(st.st_mode)) {
			int sub =
			    depth < MAX_DEPTH
				? openat(dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				: -1;
			if (sub < 0) {
				failures++;
				continue;
			}
			failures += free_dir(sub, dev, depth + 1);
			close(sub);
			if (unlinkat(dir, n, AT_REMOVEDIR) < 0)
				failures++;
		} else if (unlinkat(dir, n, 0) < 0) {
			failures++;
		}
	}
	closedir(d);
	return failures;
}

int i2ki_stage1_free_tree(int dir, dev_t dev)
{
	return free_dir(dir, dev, 0);
}

/* ---- the stage ---------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned count_entries(const char *dir)
{
	unsigned n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Devices on every bus plus block devices: changes when a driver found more. */
static unsigned device_count(void)
{
	unsigned n = count_entries("/sys/class/block");
	DIR *d = opendir("/sys/bus");
	if (!d)
		return n;
	struct dirent *e;
	while ((e = readdir(d))) {
		char p[300];
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/bus/%s/devices", e->d_name);
		n += count_entries(p);
	}
	closedir(d);
	return n;
}

static int load_modules(struct kmods *km, const struct stage1_opts *o)
{
	struct utsname u;
	char dir[300];
	if (uname(&u) < 0) {
		i2ki_log_errno("stage 1: uname");
		return -1;
	}
	snprintf(dir, sizeof(dir), "/lib/modules/%s", u.release);
	if (i2ki_kmods_open(km, dir) < 0) {
		i2ki_log_info("stage 1: no %s/modules.dep: relying on built-in drivers", dir);
		return -1;
	}
	static const char *const always[] = {"overlay", "loop"};
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		i2ki_kmods_load(km, always[i], 1);
	if (!strcmp(o->fstype, "auto")) {
		static const char *const fs[] = {"squashfs", "erofs", "isofs", "ext4"};
		for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
			i2ki_kmods_load(km, fs[i], 1);
	} else {
		i2ki_kmods_load(km, !strcmp(o->fstype, "iso9660") ? "isofs" : o->fstype, 0);
	}
	char list[1024];
	if (i2ki_cmdline_get("i2kit.modules", list, sizeof(list))) {
		char *save = NULL;
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (*t)
				i2ki_kmods_load(km, t, 0);
	}
	i2ki_kmods_coldplug(km, "/sys");
	return 0;
}

/* Moves /NAME into the new root, or unmounts it when that cannot be. */
static void move_into_newroot(const char *name)
{
	char src[32], dst[64];
	struct stat st;
	snprintf(src, sizeof(src), "/%s", name);
	snprintf(dst, sizeof(dst), "%s/%s", STAGE1_NEWROOT, name);
	if (stat(dst, &st) < 0 || !S_ISDIR(st.st_mode)) {
		i2ki_log_warn("stage 1: the root has no /%s directory: unmounting it (the init "
			      "cannot mount it there either)",
			      name);
	} else if (mount(src, dst, NULL, MS_MOVE, NULL) == 0) {
		return;
	} else {
		i2ki_log_errno("stage 1: move %s to %s", src, dst);
	}
	if (umount2(src, MNT_DETACH) < 0)
		i2ki_log_errno("stage 1: unmount %s", src);
}

static void exec_init(int argc, char **argv)
{
	char *nargv[64];
	int n = 0;
	nargv[n++] = (char *)"/init";
	for (int i = 1; i < argc && n < 63; i++)
		nargv[n++] = argv[i];
	nargv[n] = NULL;
	extern char **environ;
	execve("/init", nargv, environ);
	i2ki_log_errno("stage 1: exec /init on the new root");
	/* the running binary is an init too: a fresh copy of it boots on */
	execve("/proc/self/exe", nargv, environ);
	i2ki_log_errno("stage 1: exec /proc/self/exe; booting on in this process");
}

/* Past the point of no return: the initramfs is deleted. Returns 1. */
static int switch_root(int argc, char **argv)
{
	static const char *const moved[] = {"dev", "proc", "sys"};
	for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++)
		move_into_newroot(moved[i]);
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	struct statfs sf;
	if (root < 0 || fstat(root, &st) < 0 || statfs("/", &sf) < 0) {
		i2ki_log_errno("stage 1: open /");
	} else if ((uint32_t)sf.f_type != RAMFS_MAGIC_S1 && (uint32_t)sf.f_type != TMPFS_MAGIC_S1) {
		i2ki_log_warn("stage 1: / is not the initramfs: not deleting it");
	} else {
		int failures = i2ki_stage1_free_tree(root, st.st_dev);
		if (failures)
			i2ki_log_warn("stage 1: %d entries of the initramfs could not be removed",
				      failures);
	}
	if (root >= 0)
		close(root);
	if (chdir(STAGE1_NEWROOT) < 0) {
		i2ki_log_errno("stage 1: chdir %s", STAGE1_NEWROOT);
		return 1;
	}
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
		i2ki_log_errno("stage 1: move %s to /", STAGE1_NEWROOT);
	if (chroot(".") < 0 || chdir("/") < 0) {
		i2ki_log_errno("stage 1: chroot %s", STAGE1_NEWROOT);
		return 1;
	}
	exec_init(argc, argv);
	return 1;
}

/* Mounts the found device on /newroot; 0 or -1 (logged). */
static int mount_root(const struct stage1_opts *o, const char *dev, char *type, size_t typelen,
		      int *ro)
{
	snprintf(type, typelen, "%s", o->fstype);
	if (!strcmp(type, "auto")) {
		int fd = open(dev, O_RDONLY | O_CLOEXEC);
		const char *t = fd >= 0 ? i2ki_blkid_fstype(fd) : NULL;
		if (fd < 0)
			i2ki_log_errno("root %s: open %s", o->spec, dev);
		else
			close(fd);
		if (!t) {
			if (fd >= 0)
				i2ki_log_warn("root %s: %s has no squashfs, EROFS, ext4 or ISO9660 "
					      "superblock",
					      o->spec, dev);
			return -1;
		}
		snprintf(type, typelen, "%s", t);
	}
	unsigned long flags = o->mflags;
	if (strcmp(type, "ext4") != 0) {
		if (o->rw_given)
			i2ki_log_warn("root %s: %s is read-only: rootflags rw ignored", o->spec,
				      type);
		flags |= MS_RDONLY;
	}
	*ro = (flags & MS_RDONLY) != 0;
	if (i2ki_mkdir_p(STAGE1_NEWROOT, 0755, NULL, 0) < 0) {
		i2ki_log_errno("stage 1: mkdir %s", STAGE1_NEWROOT);
		return -1;
	}
	if (mount(dev, STAGE1_NEWROOT, type, flags, o->mdata[0] ? o->mdata : NULL) < 0) {
		i2ki_log_errno("root %s: mount %s (%s%s%s) on %s", o->spec, dev, type,
			       o->mdata[0] ? ", " : "", o->mdata, STAGE1_NEWROOT);
		return -1;
	}
	struct stat st;
	if (stat(STAGE1_NEWROOT "/init", &st) < 0 || !S_ISREG(st.st_mode) ||
	    access(STAGE1_NEWROOT "/init", X_OK) < 0) {
		i2ki_log_warn("root %s: %s has no executable /init", o->spec, dev);
		if (umount2(STAGE1_NEWROOT, 0) < 0)
			i2ki_log_errno("stage 1: unmount %s", STAGE1_NEWROOT);
		return -1;
	}
	return 0;
}

int i2ki_stage1_run(int argc, char **argv)
{
	struct stage1_opts o;
	char why[300];
	int proc_mounted =
	    i2ki_mkdir_p("/proc", 0555, NULL, 0) == 0 &&
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0;
	i2ki_cmdline_load();
	int r = i2ki_stage1_parse(&o, why, sizeof(why));
	if (r <= 0) {
		if (r < 0) {
			i2ki_mounts_console();
			i2ki_log_warn("%s: booting from the initramfs", why);
		}
		if (proc_mounted && umount2("/proc", MNT_DETACH) < 0)
			i2ki_log_errno("stage 1: unmount /proc");
		return 0;
	}
	i2ki_log_verbose = i2ki_cmdline_flag("i2kit.debug", 0);
	int sys_mounted =
	    i2ki_mkdir_p("/sys", 0555, NULL, 0) == 0 &&
	    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0;
	i2ki_mounts_console();
	if (!sys_mounted)
		i2ki_log_errno("stage 1: mount sysfs");
	i2ki_log_info("stage 1: root %s (%s), waiting up to %d s", o.spec, o.fstype, o.rootwait);

	struct kmods km;
	int have_km = load_modules(&km, &o) == 0;
	char dev[512], seen[1024];
	long start = now_ms();
	unsigned devs = device_count();
	int found;
	for (;;) {
		found = i2ki_stage1_find(&o, "/sys", "/dev", dev, sizeof(dev), seen, sizeof(seen));
		if (found || now_ms() - start >= (long)o.rootwait * 1000)
			break;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
		unsigned now = device_count();
		if (now != devs && have_km) {
			devs = now;
			i2ki_kmods_coldplug(&km, "/sys");
		}
	}
	if (have_km) {
		i2ki_log_debug("stage 1: %d modules loaded", km.loaded);
		i2ki_kmods_free(&km);
	}
	char type[16];
	int ro = 0;
	if (!found)
		i2ki_log_warn("root %s not found after %d s: disks seen: %s", o.spec, o.rootwait,
			      seen);
	else if (mount_root(&o, dev, type, sizeof(type), &ro) == 0) {
		i2ki_log_info("root %s: %s (%s, %s) mounted, switching", o.spec, dev, type,
			      ro ? "read-only" : "read-write");
		return switch_root(argc, argv);
	}
	i2ki_log_warn("stage 1 failed: booting from the initramfs");
	(void)rmdir(STAGE1_NEWROOT);
	if (sys_mounted && umount2("/sys", MNT_DETACH) < 0)
		i2ki_log_errno("stage 1: unmount /sys");
	if (proc_mounted && umount2("/proc", MNT_DETACH) < 0)
		i2ki_log_errno("stage 1: unmount /proc");
	return 0;
}
