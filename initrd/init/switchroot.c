/* switchroot.c — moves the initramfs onto a tmpfs (see switchroot.h). */
#include "switchroot.h"

#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define NEWROOT "/.i2kit-newroot"
#define RAMFS_MAGIC_V 0x858458f6
#define TMPFS_MAGIC_V 0x01021994
#define MAX_DEPTH 128

/* inode → path (relative to the destination root) of its first copy, for
 * recreating hard links; a chained hash table, grown never. */
struct link_ent {
	struct link_ent *next;
	dev_t dev;
	ino_t ino;
	char path[];
};

struct copier {
	int root;  /* destination root dir fd (for linkat) */
	dev_t dev; /* source filesystem */
	int move;  /* unlink sources after copying */
	int failures;
	char path[4096]; /* current relative path */
	struct link_ent *links[1024];
};

int i2ki_switchroot_needed(int argc, char **argv)
{
	struct statfs sf;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], SWITCHROOT_MARKER) == 0)
			return 0;
	if (statfs("/", &sf) < 0)
		return 0;
	return (uint32_t)sf.f_type == RAMFS_MAGIC_V || (uint32_t)sf.f_type == TMPFS_MAGIC_V;
}

static void failed(struct copier *c, const char *what)
{
	c->failures++;
	if (c->failures <= 20)
		i2ki_log_errno("switchroot: %s /%s", what, c->path);
	else if (c->failures == 21)
		i2ki_log_warn("switchroot: more failures not shown");
}

static const char *link_find(struct copier *c, const struct stat *st)
{
	for (struct link_ent *e = c->links[st->st_ino % 1024]; e; e = e->next)
		if (e->ino == st->st_ino && e->dev == st->st_dev)
			return e->path;
	return NULL;
}

static void link_add(struct copier *c, const struct stat *st)
{
	size_t n = strlen(c->path) + 1;
	struct link_ent *e = malloc(sizeof(*e) + n);
	if (!e)
		return; /* the next link becomes a copy: wasteful, still correct */
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	memcpy(e->path, c->path, n);
	e->next = c->links[st->st_ino % 1024];
	c->links[st->st_ino % 1024] = e;
}

static void copy_xattrs(int sfd, int dfd)
{
	char names[4096], val[4096];
	ssize_t n = flistxattr(sfd, names, sizeof(names));
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
		ssize_t v = fgetxattr(sfd, names + i, val, sizeof(val));
		if (v >= 0)
			(void)fsetxattr(dfd, names + i, val, (size_t)v, 0);
	}
}

static int copy_data(int in, int out, off_t size)
{
	off_t done = 0;
	while (done < size) {
		ssize_t n = sendfile(out, in, NULL,
				     (size_t)(size - done > (1 << 30) ? (1 << 30) : size - done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
			char buf[65536];
			for (;;) {
				ssize_t r = read(in, buf, sizeof(buf));
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0)
					return -1;
				if (r == 0)
					return 0;
				if (i2ki_write_all(out, buf, (unsigned long)r) < 0)
					return -1;
			}
		}
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += n;
	}
	return 0;
}

static void set_meta(int dfd, const char *name, const struct stat *st, int is_link)
{
	int fl = is_link ? AT_SYMLINK_NOFOLLOW : 0;
	(void)fchownat(dfd, name, st->st_uid, st->st_gid, fl);
	if (!is_link)
		(void)fchmodat(dfd, name, st->st_mode & 07777, 0);
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	(void)utimensat(dfd, name, ts, fl);
}

static void copy_dir(struct copier *c, int src, int dst, int depth);

static void copy_entry(struct copier *c, int src, int dst, const char *name, int depth)
{
	struct stat st;
	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		failed(c, "stat");
		return;
	}
	if (st.st_dev != c->dev) {
		/* a mount point: recreate the directory, not what is mounted */
		if (S_ISDIR(st.st_mode) && mkdirat(dst, name, st.st_mode & 07777) < 0 &&
		    errno != EEXIST)
			failed(c, "mkdir");
		return;
	}
	const char *first = st.st_nlink > 1 || c->move ? link_find(c, &st) : NULL;
	if (first && !S_ISDIR(st.st_mode)) {
		if (linkat(c->root, first, dst, name, 0) < 0)
			failed(c, "link");
		else if (c->move)
			(void)unlinkat(src, name, 0);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (depth >= MAX_DEPTH) {
			errno = ELOOP;
			failed(c, "descend");
			return;
		}
		if (mkdirat(dst, name, 0700) < 0 && errno != EEXIST) {
			failed(c, "mkdir");
			return;
		}
		int s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int d = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0 || d < 0) {
			failed(c, "open directory");
		} else {
			copy_dir(c, s, d, depth + 1);
			copy_xattrs(s, d);
		}
		if (s >= 0)
			close(s);
		if (d >= 0)
			close(d);
		set_meta(dst, name, &st, 0);
		if (c->move)
			(void)unlinkat(src, name, AT_REMOVEDIR);
		return;
	}
	if (S_ISREG(st.st_mode)) {
		int in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		int out =
		    openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (in < 0 || out < 0 || copy_data(in, out, st.st_size) < 0) {
			failed(c, "copy");
		} else {
			copy_xattrs(in, out);
		}
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		if (out < 0)
			return;
		set_meta(dst, name, &st, 0);
	} else if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);
		if (n < 0) {
			failed(c, "readlink");
			return;
		}
		target[n] = 0;
		if (symlinkat(target, dst, name) < 0) {
			failed(c, "symlink");
			return;
		}
		set_meta(dst, name, &st, 1);
	} else {
		if (mknodat(dst, name, st.st_mode, st.st_rdev) < 0) {
			failed(c, "mknod");
			return;
		}
		set_meta(dst, name, &st, 0);
	}
	if (st.st_nlink > 1)
		link_add(c, &st);
	if (c->move)
		(void)unlinkat(src, name, 0);
}

static void copy_dir(struct copier *c, int src, int dst, int depth)
{
	int fd = dup(src);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		failed(c, "read directory");
		return;
	}
	size_t base = strlen(c->path);
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		if (depth == 0 && !strcmp(n, NEWROOT + 1))
			continue;
		size_t nl = strlen(n);
		if (base + 1 + nl >= sizeof(c->path)) {
			errno = ENAMETOOLONG;
			failed(c, "path");
			continue;
		}
		if (base)
			c->path[base] = '/';
		memcpy(c->path + base + (base ? 1 : 0), n, nl + 1);
		copy_entry(c, src, dst, n, depth);
		c->path[base] = 0;
	}
	closedir(d);
}

int i2ki_switchroot_copy_tree(int src, int dst, int move)
{
	struct stat st;
	struct copier *c = calloc(1, sizeof(*c));
	if (!c) {
		i2ki_log_warn("switchroot: out of memory");
		return 1;
	}
	if (fstat(src, &st) < 0) {
		free(c);
		return 1;
	}
	c->root = dst;
	c->dev = st.st_dev;
	c->move = move;
	copy_dir(c, src, dst, 0);
	int failures = c->failures;
	for (size_t i = 0; i < 1024; i++) {
		while (c->links[i]) {
			struct link_ent *n = c->links[i]->next;
			free(c->links[i]);
			c->links[i] = n;
		}
	}
	free(c);
	return failures;
}

void i2ki_switchroot_run(int argc, char **argv)
{
	if (mkdir(NEWROOT, 0755) < 0 && errno != EEXIST) {
		i2ki_log_errno("switchroot: mkdir %s", NEWROOT);
		return;
	}
	if (mount("rootfs", NEWROOT, "tmpfs", 0, "mode=0755,size=90%") < 0) {
		i2ki_log_errno("switchroot: mount tmpfs on %s", NEWROOT);
		return;
	}
	int src = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int dst = open(NEWROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src < 0 || dst < 0) {
		i2ki_log_errno("switchroot: open");
		if (src >= 0)
			close(src);
		if (dst >= 0)
			close(dst);
		(void)umount2(NEWROOT, MNT_DETACH);
		return;
	}
	int failures = i2ki_switchroot_copy_tree(src, dst, 1);
	close(src);
	if (failures)
		i2ki_log_warn("switchroot: %d entries could not be moved", failures);
	if (fchdir(dst) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0) {
		i2ki_log_errno("switchroot: switching to the new root");
		close(dst);
		return;
	}
	close(dst);
	char *nargv[64];
	int n = 0;
	for (int i = 0; i < argc && n < 62; i++)
		nargv[n++] = argv[i];
	nargv[n++] = (char *)SWITCHROOT_MARKER;
	nargv[n] = NULL;
	extern char **environ;
	const char *self = argc > 0 && argv[0][0] == '/' ? argv[0] : "/init";
	execve(self, nargv, environ);
	i2ki_log_errno("switchroot: exec %s on the new root", self);
}
