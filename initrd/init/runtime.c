/* runtime.c — runtime.json actions: mounts, mkdir, cgroups, interfaces
 * (rtnetlink, no libraries), bindNS. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "ctmounts.h"
#include "json.h"
#include "util.h"

/* ---- paths ----------------------------------------------------------- */

/* Absolute paths are in the root; relative ones in BUNDLE/rootfs. */
static int rt_path(const char *bundle, const char *p, char *out, size_t len, char *errbuf,
		   size_t errlen)
{
	int n = p[0] == '/' ? snprintf(out, len, "%s", p)
			    : snprintf(out, len, "%s/rootfs/%s", bundle, p);
	if (n < 0 || (size_t)n >= len)
		return i2ki_fail(errbuf, errlen, "path too long: %.64s", p);
	return 0;
}

static int rt_mount(const struct jnode *m, const char *bundle, char *errbuf, size_t errlen)
{
	const char *dest = i2ki_json_str(m, "destination", NULL);
	const char *type = i2ki_json_str(m, "type", NULL);
	const char *src = i2ki_json_str(m, "source", NULL);
	char dst[CTM_PATH_MAX];
	struct ctm_opts o;
	if (!dest || !dest[0])
		return i2ki_fail(errbuf, errlen, "runtime mount without a destination");
	if (rt_path(bundle, dest, dst, sizeof(dst), errbuf, errlen) < 0 ||
	    i2ki_ctm_parse_options(i2ki_json_get(m, "options"), type, &o, errbuf, errlen) < 0)
		return -1;
	if (i2ki_mkdir_p(dst, 0755, errbuf, errlen) < 0)
		return -1;
	for (const struct jnode *w = i2ki_json_first(m, "options"); w; w = w->next) {
		if (w->type != J_STR)
			continue;
		const char *v = NULL;
		if (strncmp(w->str, "upperdir=", 9) == 0)
			v = w->str + 9;
		else if (strncmp(w->str, "workdir=", 8) == 0)
			v = w->str + 8;
		if (v && i2ki_mkdir_p(v, 0755, errbuf, errlen) < 0)
			return -1;
	}
	return i2ki_ctm_mount(src, dst, type, &o, errbuf, errlen);
}

int i2ki_runtime_prepare(const struct jnode *rt, const char *bundle, char *errbuf, size_t errlen)
{
	if (!rt)
		return 0;
	if (rt->type != J_OBJ)
		return i2ki_fail(errbuf, errlen, "runtime.json is not an object");
	for (const struct jnode *m = i2ki_json_first(rt, "mounts"); m; m = m->next)
		if (rt_mount(m, bundle, errbuf, errlen) < 0)
			return -1;
	for (const struct jnode *d = i2ki_json_first(rt, "mkdir"); d; d = d->next) {
		char p[CTM_PATH_MAX];
		if (d->type != J_STR || !d->str[0])
			return i2ki_fail(errbuf, errlen, "runtime mkdir entry is not a path");
		if (rt_path(bundle, d->str, p, sizeof(p), errbuf, errlen) < 0 ||
		    i2ki_mkdir_p(p, 0755, errbuf, errlen) < 0)
			return -1;
	}
	const struct jnode *cg = i2ki_json_first(rt, "cgroups");
	if (cg && !i2ki_cgroup_v2())
		return i2ki_fail(errbuf, errlen, "runtime cgroups: no cgroup v2 at " CGROUP_ROOT);
	for (; cg; cg = cg->next) {
		char p[300];
		if (cg->type != J_STR || snprintf(p, sizeof(p), "/%s", cg->str) >= (int)sizeof(p))
			return i2ki_fail(errbuf, errlen, "runtime cgroups entry is not a name");
		if (i2ki_cgroup_create(p, NULL, errbuf, errlen) < 0)
			return -1;
	}
	return 0;
}

void i2ki_runtime_cleanup(const struct jnode *rt, const char *bundle)
{
	const struct jnode *m = i2ki_json_first(rt, "mounts");
	size_t n = 0;
	for (const struct jnode *k = m; k; k = k->next)
		n++;
	/* reverse order without allocating: walk to the i-th each time */
	for (size_t i = n; i-- > 0;) {
		const struct jnode *k = m;
		for (size_t j = 0; j < i; j++)
			k = k->next;
		struct ctm_opts o;
		char e[8], dst[CTM_PATH_MAX];
		const char *dest = i2ki_json_str(k, "destination", NULL);
		if (!dest ||
		    i2ki_ctm_parse_options(i2ki_json_get(k, "options"), NULL, &o, e, sizeof(e)) <
			0 ||
		    (o.flags & MS_REMOUNT) ||
		    rt_path(bundle, dest, dst, sizeof(dst), e, sizeof(e)) < 0)
			continue;
		(void)umount2(dst, MNT_DETACH);
	}
}

/* ---- rtnetlink ------------------------------------------------------ */
/* <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_link.h>, <linux/veth.h>
 * are not part of musl's headers: the few definitions needed. */

struct nl_hdr {
	uint32_t len;
	uint16_t type, flags;
	uint32_t seq, pid;
};
struct nl_ifinfo {
	unsigned char family, pad;
	unsigned short type;
	int index;
	unsigned flags, change;
};
struct nl_attr {
	unsigned short len, type;
};
struct nl_addr {
	sa_family_t family;
	unsigned short pad;
	uint32_t pid, groups;
};
struct nl_err {
	int error;
	struct nl_hdr msg;
};

enum {
	NL_ROUTE = 0,
	NL_ERROR = 2,
	NL_F_REQUEST = 1,
	NL_F_ACK = 4,
	NL_F_EXCL = 0x200,
	NL_F_CREATE = 0x400,
	RTM_NEWLINK_ = 16,
	IFLA_IFNAME_ = 3,
	IFLA_LINKINFO_ = 18,
	IFLA_NET_NS_PID_ = 19,
	IFLA_INFO_KIND_ = 1,
	IFLA_INFO_DATA_ = 2,
	VETH_INFO_PEER_ = 1,
};

#define NL_ALIGN(x) (((x) + 3u) & ~3u)

struct nl_msg {
	union {
		struct nl_hdr h;
		unsigned char buf[1024];
	} u;
	size_t len;
	bool overflow;
};

static void nl_put(struct nl_msg *m, const void *p, size_t n)
{
	if (m->overflow || m->len + NL_ALIGN(n) > sizeof(m->u.buf)) {
		m->overflow = true;
		return;
	}
	memcpy(m->u.buf + m->len, p, n);
	memset(m->u.buf + m->len + n, 0, NL_ALIGN(n) - n);
	m->len += NL_ALIGN(n);
}

/* Starts an attribute; returns its offset for nl_end (nested ones). */
static size_t nl_attr(struct nl_msg *m, unsigned short type, const void *p, size_t n)
{
	size_t off = m->len;
	struct nl_attr a = {.len = (unsigned short)(sizeof(a) + n), .type = type};
	nl_put(m, &a, sizeof(a));
	if (n)
		nl_put(m, p, n);
	return off;
}

static void nl_end(struct nl_msg *m, size_t off)
{
	if (m->overflow)
		return;
	struct nl_attr a;
	memcpy(&a, m->u.buf + off, sizeof(a));
	a.len = (unsigned short)(m->len - off);
	memcpy(m->u.buf + off, &a, sizeof(a));
}

static void nl_begin(struct nl_msg *m, unsigned short flags, int index)
{
	memset(m, 0, sizeof(*m));
	m->len = sizeof(struct nl_hdr);
	m->u.h.type = RTM_NEWLINK_;
	m->u.h.flags = NL_F_REQUEST | NL_F_ACK | flags;
	m->u.h.seq = 1;
	struct nl_ifinfo ifi = {.index = index};
	nl_put(m, &ifi, sizeof(ifi));
}

static int nl_talk(struct nl_msg *m, const char *what, char *errbuf, size_t errlen)
{
	if (m->overflow)
		return i2ki_fail(errbuf, errlen, "%s: netlink message too long", what);
	m->u.h.len = (uint32_t)m->len;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NL_ROUTE);
	if (fd < 0)
		return i2ki_fail(errbuf, errlen, "%s: netlink socket: %s", what, strerror(errno));
	struct nl_addr sa = {.family = AF_NETLINK};
	if (sendto(fd, m->u.buf, m->len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return i2ki_fail(errbuf, errlen, "%s: netlink send: %s", what, strerror(e));
	}
	union {
		struct nl_hdr h;
		unsigned char b[4096];
	} r;
	ssize_t n = recv(fd, r.b, sizeof(r.b), 0);
	int e = errno;
	close(fd);
	if (n < 0)
		return i2ki_fail(errbuf, errlen, "%s: netlink receive: %s", what, strerror(e));
	if ((size_t)n < sizeof(struct nl_hdr) + sizeof(int) || r.h.type != NL_ERROR)
		return i2ki_fail(errbuf, errlen, "%s: unexpected netlink reply", what);
	struct nl_err ne;
	memcpy(&ne, r.b + sizeof(struct nl_hdr), sizeof(int));
	if (ne.error != 0)
		return i2ki_fail(errbuf, errlen, "%s: %s", what, strerror(-ne.error));
	return 0;
}

static int check_ifname(const char *name, char *errbuf, size_t errlen)
{
	size_t l = name ? strlen(name) : 0;
	if (l == 0 || l >= IF_NAMESIZE || strchr(name, '/'))
		return i2ki_fail(errbuf, errlen, "bad interface name %.32s", name ? name : "");
	return 0;
}

int i2ki_runtime_veth_add(const char *name, const char *peer, char *errbuf, size_t errlen)
{
	char what[80];
	snprintf(what, sizeof(what), "create veth %s/%s", name ? name : "", peer ? peer : "");
	if (check_ifname(name, errbuf, errlen) < 0 || check_ifname(peer, errbuf, errlen) < 0)
		return -1;
	struct nl_msg m;
	nl_begin(&m, NL_F_CREATE | NL_F_EXCL, 0);
	nl_attr(&m, IFLA_IFNAME_, name, strlen(name) + 1);
	size_t li = nl_attr(&m, IFLA_LINKINFO_, NULL, 0);
	nl_attr(&m, IFLA_INFO_KIND_, "veth", 5);
	size_t data = nl_attr(&m, IFLA_INFO_DATA_, NULL, 0);
	size_t pe = nl_attr(&m, VETH_INFO_PEER_, NULL, 0);
	struct nl_ifinfo ifi = {0};
	nl_put(&m, &ifi, sizeof(ifi));
	nl_attr(&m, IFLA_IFNAME_, peer, strlen(peer) + 1);
	nl_end(&m, pe);
	nl_end(&m, data);
	nl_end(&m, li);
	return nl_talk(&m, what, errbuf, errlen);
}

int i2ki_runtime_link_add(const char *name, const char *kind, pid_t pid, char *errbuf,
			  size_t errlen)
{
	char what[80];
	snprintf(what, sizeof(what), "create %s %s", kind ? kind : "", name ? name : "");
	if (check_ifname(name, errbuf, errlen) < 0)
		return -1;
	if (!kind || !kind[0] || strlen(kind) > 32)
		return i2ki_fail(errbuf, errlen, "%s: bad link kind", what);
	struct nl_msg m;
	nl_begin(&m, NL_F_CREATE | NL_F_EXCL, 0);
	nl_attr(&m, IFLA_IFNAME_, name, strlen(name) + 1);
	if (pid > 0) {
		uint32_t p = (uint32_t)pid;
		nl_attr(&m, IFLA_NET_NS_PID_, &p, sizeof(p));
	}
	size_t li = nl_attr(&m, IFLA_LINKINFO_, NULL, 0);
	nl_attr(&m, IFLA_INFO_KIND_, kind, strlen(kind) + 1);
	nl_end(&m, li);
	return nl_talk(&m, what, errbuf, errlen);
}

int i2ki_runtime_link_move(const char *name, pid_t pid, char *errbuf, size_t errlen)
{
	char what[80];
	snprintf(what, sizeof(what), "move interface %s to pid %d", name ? name : "", (int)pid);
	if (check_ifname(name, errbuf, errlen) < 0)
		return -1;
	unsigned idx = if_nametoindex(name);
	if (idx == 0)
		return i2ki_fail(errbuf, errlen, "%s: no such interface", what);
	struct nl_msg m;
	nl_begin(&m, 0, (int)idx);
	uint32_t p = (uint32_t)pid;
	nl_attr(&m, IFLA_NET_NS_PID_, &p, sizeof(p));
	return nl_talk(&m, what, errbuf, errlen);
}

static int rt_interface(const struct jnode *i, pid_t pid, char *errbuf, size_t errlen)
{
	const char *name = i2ki_json_str(i, "name", "");
	const char *add = i2ki_json_str(i, "add", "");
	const char *peer = i2ki_json_str(i, "peer", "");
	bool in_root = i2ki_json_bool(i, "createInRoot", false);
	if (!name[0])
		return i2ki_fail(errbuf, errlen, "interface requires a name");
	if (peer[0] && !add[0])
		add = "veth";
	if (strcmp(add, "veth") == 0) {
		if (!peer[0])
			return i2ki_fail(errbuf, errlen, "veth %s requires a peer", name);
		if (i2ki_runtime_veth_add(name, peer, errbuf, errlen) < 0)
			return -1;
		return i2ki_runtime_link_move(name, pid, errbuf, errlen);
	}
	if (add[0]) {
		if (i2ki_runtime_link_add(name, add, in_root ? 0 : pid, errbuf, errlen) < 0)
			return -1;
		return in_root ? i2ki_runtime_link_move(name, pid, errbuf, errlen) : 0;
	}
	return i2ki_runtime_link_move(name, pid, errbuf, errlen);
}

static int bind_ns(const char *ns, const char *path, pid_t pid, char *errbuf, size_t errlen)
{
	char dir[CTM_PATH_MAX], src[64];
	if (path[0] != '/')
		return i2ki_fail(errbuf, errlen, "bindNS %s path %.64s is not absolute", ns, path);
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return i2ki_fail(errbuf, errlen, "bindNS %s path too long", ns);
	char *sl = strrchr(dir, '/');
	if (sl != dir) {
		*sl = '\0';
		if (i2ki_mkdir_p(dir, 0755, errbuf, errlen) < 0)
			return -1;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return i2ki_fail(errbuf, errlen, "bindNS %s: create %s: %s", ns, path,
				 strerror(errno));
	close(fd);
	snprintf(src, sizeof(src), "/proc/%d/ns/%s", (int)pid, ns);
	if (mount(src, path, NULL, MS_BIND, NULL) < 0)
		return i2ki_fail(errbuf, errlen, "bindNS %s on %s: %s", ns, path, strerror(errno));
	return 0;
}

int i2ki_runtime_attach(const struct jnode *rt, pid_t pid, char *errbuf, size_t errlen)
{
	if (!rt)
		return 0;
	for (const struct jnode *i = i2ki_json_first(rt, "interfaces"); i; i = i->next)
		if (rt_interface(i, pid, errbuf, errlen) < 0)
			return -1;
	static const char *const nss[] = {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"};
	const struct jnode *b = i2ki_json_get(rt, "bindNS");
	for (size_t k = 0; k < sizeof(nss) / sizeof(nss[0]); k++) {
		const char *p = i2ki_json_str(b, nss[k], "");
		if (p[0] && bind_ns(nss[k], p, pid, errbuf, errlen) < 0)
			return -1;
	}
	return 0;
}
