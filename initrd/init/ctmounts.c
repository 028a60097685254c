/* ctmounts.c — container mounts: options, in-root path resolution, the
 * config.json mounts, devices, pivot_root, masked/readonly paths. */
#include "ctmounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

static const char *jstr_of(const struct jnode *n)
{
	return n && n->type == J_STR ? n->str : NULL;
}

static unsigned long locked_flags(const char *path);

/* ---- options ----------------------------------------------------------- */

struct opt_word {
	const char *name;
	unsigned long flag;
	unsigned char kind; /* 0 set flag, 1 clear flag, 2 propagation, 3 ignore */
};

static const struct opt_word opt_words[] = {
    {"async", MS_SYNCHRONOUS, 1},
    {"atime", MS_NOATIME, 1},
    {"bind", MS_BIND, 0},
    {"defaults", 0, 0},
    {"dev", MS_NODEV, 1},
    {"diratime", MS_NODIRATIME, 1},
    {"dirsync", MS_DIRSYNC, 0},
    {"exec", MS_NOEXEC, 1},
    {"mand", MS_MANDLOCK, 0},
    {"noatime", MS_NOATIME, 0},
    {"nodev", MS_NODEV, 0},
    {"nodiratime", MS_NODIRATIME, 0},
    {"noexec", MS_NOEXEC, 0},
    {"nomand", MS_MANDLOCK, 1},
    {"norelatime", MS_RELATIME, 1},
    {"nostrictatime", MS_STRICTATIME, 1},
    {"nosuid", MS_NOSUID, 0},
    {"notmpcopyup", 0, 3},
    {"private", MS_PRIVATE, 2},
    {"rbind", MS_BIND | MS_REC, 0},
    {"relatime", MS_RELATIME, 0},
    {"remount", MS_REMOUNT, 0},
    {"ro", MS_RDONLY, 0},
    {"rprivate", MS_PRIVATE | MS_REC, 2},
    {"rshared", MS_SHARED | MS_REC, 2},
    {"rslave", MS_SLAVE | MS_REC, 2},
    {"runbindable", MS_UNBINDABLE | MS_REC, 2},
    {"rw", MS_RDONLY, 1},
    {"shared", MS_SHARED, 2},
    {"slave", MS_SLAVE, 2},
    {"strictatime", MS_STRICTATIME, 0},
    {"suid", MS_NOSUID, 1},
    {"sync", MS_SYNCHRONOUS, 0},
    {"tmpcopyup", 0, 3},
    {"unbindable", MS_UNBINDABLE, 2},
};

int i2ki_ctm_parse_options(const struct jnode *options, const char *type, struct ctm_opts *o,
			   char *errbuf, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	size_t dlen = 0;
	if (type && strcmp(type, "bind") == 0)
		o->bind = true;
	if (options && options->type != J_ARR)
		return i2ki_fail(errbuf, errlen, "mount options are not an array");
	for (const struct jnode *w = options ? options->kids : NULL; w; w = w->next) {
		const char *s = jstr_of(w);
		if (!s)
			return i2ki_fail(errbuf, errlen, "mount option is not a string");
		const struct opt_word *hit = NULL;
		for (size_t i = 0; i < sizeof(opt_words) / sizeof(opt_words[0]); i++)
			if (strcmp(opt_words[i].name, s) == 0)
				hit = &opt_words[i];
		if (hit) {
			if (hit->kind == 0)
				o->flags |= hit->flag;
			else if (hit->kind == 1)
				o->flags &= ~hit->flag;
			else if (hit->kind == 2)
				o->propagation = hit->flag;
			if (hit->flag & MS_BIND)
				o->bind = true;
			continue;
		}
		size_t l = strlen(s);
		if (dlen + l + 2 > sizeof(o->data))
			return i2ki_fail(errbuf, errlen, "mount options longer than %zu bytes",
					 sizeof(o->data) - 1);
		if (dlen)
			o->data[dlen++] = ',';
		memcpy(o->data + dlen, s, l + 1);
		dlen += l;
	}
	return 0;
}

int i2ki_ctm_mount(const char *src, const char *dst, const char *type, const struct ctm_opts *o,
		   char *errbuf, size_t errlen)
{
	const char *data = o->data[0] ? o->data : NULL;
	if (o->bind) {
		unsigned long bf = MS_BIND | (o->flags & MS_REC);
		if (mount(src, dst, NULL, bf, NULL) < 0)
			return i2ki_fail(errbuf, errlen, "bind %s on %s: %s", src ? src : "", dst,
					 strerror(errno));
		unsigned long rest = o->flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
		/* in a user namespace the source's nosuid/nodev/noexec are
		 * locked: retry keeping them */
		if (rest && mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | rest, NULL) < 0 &&
		    (errno != EPERM ||
		     mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | rest | locked_flags(dst), NULL) <
			 0))
			return i2ki_fail(errbuf, errlen, "remount bind %s: %s", dst,
					 strerror(errno));
	} else if ((o->flags & ~MS_REMOUNT) || data || !(o->flags & MS_REMOUNT) ||
		   !o->propagation) {
		if (mount(src, dst, type, o->flags, data) < 0)
			return i2ki_fail(errbuf, errlen, "mount %s %s on %s: %s", type ? type : "-",
					 src ? src : "", dst, strerror(errno));
	}
	if (o->propagation && mount(NULL, dst, NULL, o->propagation, NULL) < 0)
		return i2ki_fail(errbuf, errlen, "set propagation of %s: %s", dst, strerror(errno));
	return 0;
}

/* ---- path resolution inside a root --------------------------------- */

int i2ki_ctm_resolve(const char *root, const char *path, char *out, size_t outlen, char *errbuf,
		     size_t errlen)
{
	char cur[CTM_PATH_MAX] = ""; /* resolved part, "" or "/a/b" */
	char rest[CTM_PATH_MAX];
	char full[CTM_PATH_MAX * 2];
	char link[CTM_PATH_MAX];
	size_t rootlen = strlen(root);
	while (rootlen > 1 && root[rootlen - 1] == '/')
		rootlen--;
	if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest))
		return i2ki_fail(errbuf, errlen, "path too long: %.64s", path);
	int hops = 0;
	size_t i = 0;
	while (rest[i]) {
		while (rest[i] == '/')
			i++;
		if (!rest[i])
			break;
		size_t s = i;
		while (rest[i] && rest[i] != '/')
			i++;
		size_t n = i - s;
		if (n == 1 && rest[s] == '.')
			continue;
		if (n == 2 && rest[s] == '.' && rest[s + 1] == '.') {
			char *sl = strrchr(cur, '/');
			if (sl)
				*sl = '\0';
			continue;
		}
		size_t cl = strlen(cur);
		if (cl + 1 + n >= sizeof(cur))
			return i2ki_fail(errbuf, errlen, "path too long: %.64s", path);
		cur[cl] = '/';
		memcpy(cur + cl + 1, rest + s, n);
		cur[cl + 1 + n] = '\0';
		snprintf(full, sizeof(full), "%.*s%s", (int)rootlen, root, cur);
		struct stat st;
		if (lstat(full, &st) < 0 || !S_ISLNK(st.st_mode))
			continue;
		if (++hops > 40)
			return i2ki_fail(errbuf, errlen, "too many symlinks in %.64s", path);
		ssize_t ll = readlink(full, link, sizeof(link) - 1);
		if (ll < 0)
			return i2ki_fail(errbuf, errlen, "readlink %s: %s", full, strerror(errno));
		link[ll] = '\0';
		cur[cl] = '\0'; /* the link itself is replaced by its target */
		if (link[0] == '/')
			cur[0] = '\0';
		char tmp[CTM_PATH_MAX];
		if (snprintf(tmp, sizeof(tmp), "%s/%s", link, rest + i) >= (int)sizeof(tmp))
			return i2ki_fail(errbuf, errlen, "path too long: %.64s", path);
		memcpy(rest, tmp, strlen(tmp) + 1);
		i = 0;
	}
	if (snprintf(out, outlen, "%.*s%s", (int)rootlen, root, cur[0] ? cur : "/") >= (int)outlen)
		return i2ki_fail(errbuf, errlen, "path too long: %.64s", path);
	return 0;
}

/* ---- config.json mounts --------------------------------------------- */

/* A "ro" tmpfs on /dev: mounted rw, remounted ro by i2ki_ctm_finish_rootfs. */
static bool dev_ro_tmpfs(const struct jnode *m)
{
	if (strcmp(i2ki_json_str(m, "destination", ""), "/dev") != 0 ||
	    strcmp(i2ki_json_str(m, "type", ""), "tmpfs") != 0)
		return false;
	for (const struct jnode *w = i2ki_json_first(m, "options"); w; w = w->next)
		if (w->type == J_STR && strcmp(w->str, "ro") == 0)
			return true;
	return false;
}

/* Creates the mount point dst: a directory, or an empty file when the
 * bind source is not a directory. */
static int make_mountpoint(const char *dst, bool file, char *errbuf, size_t errlen)
{
	struct stat st;
	if (stat(dst, &st) == 0)
		return 0;
	if (!file)
		return i2ki_mkdir_p(dst, 0755, errbuf, errlen);
	char dir[CTM_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", dst);
	char *sl = strrchr(dir, '/');
	if (sl && sl != dir) {
		*sl = '\0';
		if (i2ki_mkdir_p(dir, 0755, errbuf, errlen) < 0)
			return -1;
	}
	int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return i2ki_fail(errbuf, errlen, "create mount point %s: %s", dst, strerror(errno));
	close(fd);
	return 0;
}

static int mount_entry(const struct jnode *m, const char *bundle, const char *rootfs, char *errbuf,
		       size_t errlen)
{
	const char *dest = i2ki_json_str(m, "destination", NULL);
	const char *type = i2ki_json_str(m, "type", NULL);
	const char *src = i2ki_json_str(m, "source", NULL);
	if (!dest || dest[0] != '/')
		return i2ki_fail(errbuf, errlen, "mount destination %s is not absolute",
				 dest ? dest : "(missing)");
	struct ctm_opts o;
	if (i2ki_ctm_parse_options(i2ki_json_get(m, "options"), type, &o, errbuf, errlen) < 0)
		return -1;
	char dst[CTM_PATH_MAX], srcbuf[CTM_PATH_MAX];
	if (i2ki_ctm_resolve(rootfs, dest, dst, sizeof(dst), errbuf, errlen) < 0)
		return -1;
	if (o.bind && src && src[0] != '/') {
		snprintf(srcbuf, sizeof(srcbuf), "%s/%s", bundle, src);
		src = srcbuf;
	}
	bool file = false;
	if (o.bind) {
		struct stat st;
		if (!src || stat(src, &st) < 0)
			return i2ki_fail(errbuf, errlen, "bind source %s: %s",
					 src ? src : "(missing)",
					 src ? strerror(errno) : "no source");
		file = !S_ISDIR(st.st_mode);
	}
	if (make_mountpoint(dst, file, errbuf, errlen) < 0)
		return -1;
	if (type && strcmp(type, "cgroup") == 0 && !o.bind) {
		/* cgroup v2: one unified hierarchy whatever the config says;
		 * bind the host's when the kernel refuses (user namespace). */
		if (i2ki_ctm_mount("cgroup2", dst, "cgroup2", &o, errbuf, errlen) == 0)
			return 0;
		struct ctm_opts b = o;
		b.bind = true;
		b.flags |= MS_REC;
		b.data[0] = '\0';
		return i2ki_ctm_mount("/sys/fs/cgroup", dst, NULL, &b, errbuf, errlen);
	}
	if (dev_ro_tmpfs(m))
		o.flags &= ~MS_RDONLY; /* devices go in first; ro at the end */
	if (i2ki_ctm_mount(src, dst, type, &o, errbuf, errlen) == 0)
		return 0;
	if (type && strcmp(type, "sysfs") == 0 && errno == EPERM) {
		/* as runc: sysfs of a network namespace we do not own → rbind */
		struct ctm_opts b = o;
		b.bind = true;
		b.flags |= MS_REC;
		b.data[0] = '\0';
		return i2ki_ctm_mount("/sys", dst, NULL, &b, errbuf, errlen);
	}
	return -1;
}

/* ---- devices ---------------------------------------------------------- */

struct dev_spec {
	const char *path;
	char type;
	unsigned major, minor;
	mode_t mode;
	uid_t uid;
	gid_t gid;
};

static const struct dev_spec default_devs[] = {
    {"/dev/null", 'c', 1, 3, 0666, 0, 0},    {"/dev/zero", 'c', 1, 5, 0666, 0, 0},
    {"/dev/full", 'c', 1, 7, 0666, 0, 0},    {"/dev/random", 'c', 1, 8, 0666, 0, 0},
    {"/dev/urandom", 'c', 1, 9, 0666, 0, 0}, {"/dev/tty", 'c', 5, 0, 0666, 0, 0},
};

static int make_device(const char *rootfs, const struct dev_spec *d, char *errbuf, size_t errlen)
{
	char dst[CTM_PATH_MAX];
	if (!d->path || d->path[0] != '/')
		return i2ki_fail(errbuf, errlen, "device path %s is not absolute",
				 d->path ? d->path : "(missing)");
	if (i2ki_ctm_resolve(rootfs, d->path, dst, sizeof(dst), errbuf, errlen) < 0)
		return -1;
	mode_t fmt;
	switch (d->type) {
	case 'c':
	case 'u':
		fmt = S_IFCHR;
		break;
	case 'b':
		fmt = S_IFBLK;
		break;
	case 'p':
		fmt = S_IFIFO;
		break;
	default:
		return i2ki_fail(errbuf, errlen, "device %s: unknown type '%c'", d->path, d->type);
	}
	char dir[CTM_PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", dst);
	char *sl = strrchr(dir, '/');
	if (sl && sl != dir) {
		*sl = '\0';
		if (i2ki_mkdir_p(dir, 0755, errbuf, errlen) < 0)
			return -1;
	}
	unlink(dst);
	if (mknod(dst, fmt | (d->mode & 07777), makedev(d->major, d->minor)) == 0) {
		if (chown(dst, d->uid, d->gid) < 0)
			return i2ki_fail(errbuf, errlen, "chown %s: %s", d->path, strerror(errno));
		if (chmod(dst, d->mode & 07777) < 0)
			return i2ki_fail(errbuf, errlen, "chmod %s: %s", d->path, strerror(errno));
		return 0;
	}
	if (errno != EPERM)
		return i2ki_fail(errbuf, errlen, "mknod %s: %s", d->path, strerror(errno));
	/* in a user namespace: bind the host's node instead */
	struct ctm_opts b = {.bind = true};
	if (make_mountpoint(dst, true, errbuf, errlen) < 0)
		return -1;
	return i2ki_ctm_mount(d->path, dst, NULL, &b, errbuf, errlen);
}

static int make_symlink(const char *rootfs, const char *target, const char *path, char *errbuf,
			size_t errlen)
{
	char dst[CTM_PATH_MAX];
	if (snprintf(dst, sizeof(dst), "%s%s", rootfs, path) >= (int)sizeof(dst))
		return i2ki_fail(errbuf, errlen, "path too long: %s", path);
	if (symlink(target, dst) < 0 && errno != EEXIST)
		return i2ki_fail(errbuf, errlen, "symlink %s: %s", path, strerror(errno));
	return 0;
}

static int setup_devices(const struct jnode *cfg, const char *rootfs, bool dev_tmpfs, bool have_pts,
			 char *errbuf, size_t errlen)
{
	if (dev_tmpfs) {
		for (size_t i = 0; i < sizeof(default_devs) / sizeof(default_devs[0]); i++)
			if (make_device(rootfs, &default_devs[i], errbuf, errlen) < 0)
				return -1;
		static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"},
						       {"/proc/self/fd/0", "/dev/stdin"},
						       {"/proc/self/fd/1", "/dev/stdout"},
						       {"/proc/self/fd/2", "/dev/stderr"}};
		for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
			if (make_symlink(rootfs, links[i][0], links[i][1], errbuf, errlen) < 0)
				return -1;
		if (have_pts) {
			char p[CTM_PATH_MAX];
			snprintf(p, sizeof(p), "%s/dev/ptmx", rootfs);
			unlink(p);
			if (make_symlink(rootfs, "pts/ptmx", "/dev/ptmx", errbuf, errlen) < 0)
				return -1;
		}
	}
	const struct jnode *lin = i2ki_json_get(cfg, "linux");
	for (const struct jnode *d = i2ki_json_first(lin, "devices"); d; d = d->next) {
		long long v;
		const char *t = i2ki_json_str(d, "type", "");
		struct dev_spec s = {
		    .path = i2ki_json_str(d, "path", NULL), .type = t[0], .mode = 0666};
		if (i2ki_json_int(d, "major", &v) == 0)
			s.major = (unsigned)v;
		if (i2ki_json_int(d, "minor", &v) == 0)
			s.minor = (unsigned)v;
		if (i2ki_json_int(d, "fileMode", &v) == 0)
			s.mode = (mode_t)v;
		if (i2ki_json_int(d, "uid", &v) == 0)
			s.uid = (uid_t)v;
		if (i2ki_json_int(d, "gid", &v) == 0)
			s.gid = (gid_t)v;
		if (make_device(rootfs, &s, errbuf, errlen) < 0)
			return -1;
	}
	return 0;
}

/* ---- pivot ------------------------------------------------------------ */

static int do_pivot(const char *rootfs, char *errbuf, size_t errlen)
{
	int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		return i2ki_fail(errbuf, errlen, "open /: %s", strerror(errno));
	int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0) {
		close(oldroot);
		return i2ki_fail(errbuf, errlen, "open %s: %s", rootfs, strerror(errno));
	}
	int r = -1;
	if (fchdir(newroot) < 0) {
		i2ki_fail(errbuf, errlen, "chdir %s: %s", rootfs, strerror(errno));
		goto out;
	}
	if (syscall(SYS_pivot_root, ".", ".") == 0) {
		/* the old root is stacked under the new one: detach it */
		if (fchdir(oldroot) < 0 || mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
		    umount2(".", MNT_DETACH) < 0) {
			i2ki_fail(errbuf, errlen, "detach old root: %s", strerror(errno));
			goto out;
		}
	} else {
		/* No move + chroot fallback: from a chroot on the initramfs a
		 * process with CAP_SYS_CHROOT can climb back out. EINVAL here
		 * means / is still rootfs (switchroot.h failed, and said so). */
		i2ki_fail(errbuf, errlen, "pivot_root %s: %s", rootfs, strerror(errno));
		goto out;
	}
	if (chdir("/") < 0) {
		i2ki_fail(errbuf, errlen, "chdir /: %s", strerror(errno));
		goto out;
	}
	r = 0;
out:
	close(oldroot);
	close(newroot);
	return r;
}

static unsigned long propagation_of(const char *s, bool *ok)
{
	static const struct {
		const char *n;
		unsigned long f;
	} t[] = {{"private", MS_PRIVATE},	{"rprivate", MS_PRIVATE | MS_REC},
		 {"slave", MS_SLAVE},		{"rslave", MS_SLAVE | MS_REC},
		 {"shared", MS_SHARED},		{"rshared", MS_SHARED | MS_REC},
		 {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};
	*ok = true;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].n, s) == 0)
			return t[i].f;
	*ok = false;
	return 0;
}

int i2ki_ctm_setup_rootfs(const struct jnode *cfg, const char *bundle, const char *rootfs,
			  char *errbuf, size_t errlen)
{
	const struct jnode *lin = i2ki_json_get(cfg, "linux");
	const char *prop = i2ki_json_str(lin, "rootfsPropagation", "");
	unsigned long pflags = MS_SLAVE | MS_REC;
	bool shared_after = false;
	if (prop[0]) {
		bool ok;
		pflags = propagation_of(prop, &ok);
		if (!ok)
			return i2ki_fail(errbuf, errlen, "unknown rootfsPropagation %s", prop);
		if (pflags & MS_SHARED) {
			/* pivot_root refuses shared parents: share after it */
			shared_after = true;
			pflags = MS_SLAVE | MS_REC;
		}
	}
	if (mount(NULL, "/", NULL, pflags, NULL) < 0)
		return i2ki_fail(errbuf, errlen, "set propagation of /: %s", strerror(errno));
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return i2ki_fail(errbuf, errlen, "bind %s on itself: %s", rootfs, strerror(errno));

	bool dev_tmpfs = false, have_pts = false;
	for (const struct jnode *m = i2ki_json_first(cfg, "mounts"); m; m = m->next) {
		const char *dest = i2ki_json_str(m, "destination", "");
		const char *type = i2ki_json_str(m, "type", "");
		if (strcmp(dest, "/dev") == 0)
			dev_tmpfs = strcmp(type, "tmpfs") == 0;
		if (strcmp(dest, "/dev/pts") == 0)
			have_pts = true;
		if (mount_entry(m, bundle, rootfs, errbuf, errlen) < 0)
			return -1;
	}
	if (setup_devices(cfg, rootfs, dev_tmpfs, have_pts, errbuf, errlen) < 0)
		return -1;
	if (do_pivot(rootfs, errbuf, errlen) < 0)
		return -1;
	if (shared_after && mount(NULL, "/", NULL, MS_SHARED | MS_REC, NULL) < 0)
		return i2ki_fail(errbuf, errlen, "make / rshared: %s", strerror(errno));
	return 0;
}

/* ---- after pivot -------------------------------------------------------- */

/* Flags a remount must keep (the kernel refuses to clear locked ones). */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID)
		f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

static int remount_ro(const char *path, bool bind_first, char *errbuf, size_t errlen)
{
	if (bind_first && mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return i2ki_fail(errbuf, errlen, "bind %s: %s", path, strerror(errno));
	unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(path);
	if (mount(NULL, path, NULL, f, NULL) < 0)
		return i2ki_fail(errbuf, errlen, "remount %s read-only: %s", path, strerror(errno));
	return 0;
}

int i2ki_ctm_finish_rootfs(const struct jnode *cfg, char *errbuf, size_t errlen)
{
	const struct jnode *lin = i2ki_json_get(cfg, "linux");
	for (const struct jnode *p = i2ki_json_first(lin, "readonlyPaths"); p; p = p->next) {
		const char *s = jstr_of(p);
		struct stat st;
		if (!s || stat(s, &st) < 0)
			continue;
		if (remount_ro(s, true, errbuf, errlen) < 0)
			return -1;
	}
	for (const struct jnode *p = i2ki_json_first(lin, "maskedPaths"); p; p = p->next) {
		const char *s = jstr_of(p);
		struct stat st;
		if (!s || stat(s, &st) < 0)
			continue;
		int r = S_ISDIR(st.st_mode) ? mount("tmpfs", s, "tmpfs", MS_RDONLY, NULL)
					    : mount("/dev/null", s, NULL, MS_BIND, NULL);
		if (r < 0)
			return i2ki_fail(errbuf, errlen, "mask %s: %s", s, strerror(errno));
	}
	for (const struct jnode *m = i2ki_json_first(cfg, "mounts"); m; m = m->next)
		if (dev_ro_tmpfs(m) && remount_ro("/dev", false, errbuf, errlen) < 0)
			return -1;
	if (i2ki_json_bool(i2ki_json_get(cfg, "root"), "readonly", false) &&
	    remount_ro("/", false, errbuf, errlen) < 0)
		return -1;
	return 0;
}
