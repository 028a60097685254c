/* acpi.c — ACPI events over generic netlink (see acpi.h). The few netlink
 * definitions are spelled out here: musl ships no kernel headers. */
#include "acpi.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif
#define NETLINK_GENERIC_PROTO 16
#define SOL_NETLINK_LEVEL 270
#define NETLINK_ADD_MEMBERSHIP_OPT 1
#define GENL_ID_CTRL_V 0x10
#define CTRL_CMD_GETFAMILY_V 3
#define CTRL_ATTR_FAMILY_ID_V 1
#define CTRL_ATTR_FAMILY_NAME_V 2
#define CTRL_ATTR_MCAST_GROUPS_V 7
#define CTRL_ATTR_MCAST_GRP_NAME_V 1
#define CTRL_ATTR_MCAST_GRP_ID_V 2
#define NLM_F_REQUEST_V 1
#define NLMSG_ERROR_V 2
#define ACPI_GENL_ATTR_EVENT_V 1

struct nl_hdr {
	uint32_t len;
	uint16_t type, flags;
	uint32_t seq, pid;
};
struct genl_hdr {
	uint8_t cmd, version;
	uint16_t reserved;
};
struct nl_attr {
	uint16_t len, type;
};
struct sockaddr_netlink {
	unsigned short family, pad;
	uint32_t pid, groups;
};
/* include/acpi/acpi_bus.h: struct acpi_genl_event */
struct acpi_genl_ev {
	char device_class[20];
	char bus_id[15];
	uint32_t type;
	uint32_t data;
};

#define ALIGN4(x) (((x) + 3u) & ~3u)

static unsigned family_id;

/* Walks the attributes in [p, p+len): calls back through out pointers. */
static const struct nl_attr *find_attr(const unsigned char *p, size_t len, unsigned type)
{
	while (len >= sizeof(struct nl_attr)) {
		const struct nl_attr *a = (const struct nl_attr *)p;
		if (a->len < sizeof(*a) || a->len > len)
			return NULL;
		if ((a->type & 0x3fff) == type)
			return a;
		size_t step = ALIGN4(a->len);
		if (step >= len)
			return NULL;
		p += step;
		len -= step;
	}
	return NULL;
}

static int mcast_group(const struct nl_attr *groups)
{
	const unsigned char *p = (const unsigned char *)(groups + 1);
	size_t len = groups->len - sizeof(*groups);
	while (len >= sizeof(struct nl_attr)) {
		const struct nl_attr *g = (const struct nl_attr *)p;
		if (g->len < sizeof(*g) || g->len > len)
			return -1;
		const unsigned char *gp = (const unsigned char *)(g + 1);
		size_t gl = g->len - sizeof(*g);
		const struct nl_attr *name = find_attr(gp, gl, CTRL_ATTR_MCAST_GRP_NAME_V);
		const struct nl_attr *id = find_attr(gp, gl, CTRL_ATTR_MCAST_GRP_ID_V);
		if (name && id && id->len >= sizeof(*id) + 4 &&
		    strncmp((const char *)(name + 1), "acpi_mc_group", name->len - sizeof(*name)) ==
			0) {
			uint32_t v;
			memcpy(&v, id + 1, 4);
			return (int)v;
		}
		size_t step = ALIGN4(g->len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return -1;
}

int i2ki_acpi_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC_PROTO);
	if (fd < 0) {
		i2ki_log_debug("acpi: netlink: %s", strerror(errno));
		return -1;
	}
	struct sockaddr_netlink sa = {.family = AF_NETLINK};
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	struct {
		struct nl_hdr nh;
		struct genl_hdr gh;
		struct nl_attr at;
		char name[12];
	} req;
	memset(&req, 0, sizeof(req));
	req.nh.len = sizeof(req);
	req.nh.type = GENL_ID_CTRL_V;
	req.nh.flags = NLM_F_REQUEST_V;
	req.nh.seq = 1;
	req.gh.cmd = CTRL_CMD_GETFAMILY_V;
	req.gh.version = 1;
	req.at.len = sizeof(req.at) + sizeof("acpi_event");
	req.at.type = CTRL_ATTR_FAMILY_NAME_V;
	memcpy(req.name, "acpi_event", sizeof("acpi_event"));
	struct sockaddr_netlink kernel = {.family = AF_NETLINK};
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		goto fail;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, 1000) <= 0)
		goto fail;
	unsigned char buf[8192] __attribute__((aligned(4)));
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	if (n < (ssize_t)(sizeof(struct nl_hdr) + sizeof(struct genl_hdr)))
		goto fail;
	const struct nl_hdr *nh = (const struct nl_hdr *)buf;
	if (nh->type == NLMSG_ERROR_V || nh->len > (size_t)n) {
		i2ki_log_debug("acpi: no acpi_event netlink family");
		goto out;
	}
	const unsigned char *attrs = buf + sizeof(*nh) + sizeof(struct genl_hdr);
	size_t alen = nh->len - sizeof(*nh) - sizeof(struct genl_hdr);
	const struct nl_attr *fid = find_attr(attrs, alen, CTRL_ATTR_FAMILY_ID_V);
	const struct nl_attr *groups = find_attr(attrs, alen, CTRL_ATTR_MCAST_GROUPS_V);
	if (!fid || !groups)
		goto fail;
	uint16_t id16;
	memcpy(&id16, fid + 1, 2);
	int grp = mcast_group(groups);
	if (grp < 0)
		goto fail;
	if (setsockopt(fd, SOL_NETLINK_LEVEL, NETLINK_ADD_MEMBERSHIP_OPT, &grp, sizeof(grp)) < 0)
		goto fail;
	family_id = id16;
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	return fd;
fail:
	i2ki_log_debug("acpi: cannot subscribe to ACPI events: %s", strerror(errno));
out:
	close(fd);
	return -1;
}

int i2ki_acpi_parse_event(const unsigned char *buf, size_t len, unsigned fam)
{
	int power = 0;
	while (len >= sizeof(struct nl_hdr)) {
		struct nl_hdr nh;
		memcpy(&nh, buf, sizeof(nh));
		if (nh.len < sizeof(nh) || nh.len > len)
			break;
		if (nh.type == fam && nh.len >= sizeof(nh) + sizeof(struct genl_hdr)) {
			const unsigned char *attrs = buf + sizeof(nh) + sizeof(struct genl_hdr);
			size_t alen = nh.len - sizeof(nh) - sizeof(struct genl_hdr);
			const struct nl_attr *a = find_attr(attrs, alen, ACPI_GENL_ATTR_EVENT_V);
			if (a && a->len >= sizeof(*a) + sizeof(struct acpi_genl_ev)) {
				struct acpi_genl_ev ev;
				memcpy(&ev, a + 1, sizeof(ev));
				ev.device_class[sizeof(ev.device_class) - 1] = 0;
				i2ki_log_debug("acpi: event %s %.15s %u %u", ev.device_class,
					       ev.bus_id, ev.type, ev.data);
				if (strncmp(ev.device_class, "button/power", 12) == 0)
					power = 1;
			}
		}
		size_t step = ALIGN4(nh.len);
		if (step >= len)
			break;
		buf += step;
		len -= step;
	}
	return power;
}

int i2ki_acpi_read(int fd)
{
	unsigned char buf[4096] __attribute__((aligned(4)));
	int power = 0;
	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		power |= i2ki_acpi_parse_event(buf, (size_t)n, family_id);
	}
	return power;
}
