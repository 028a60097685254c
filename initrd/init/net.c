/* net.c — loopback, hostname, RNG seed and DHCP for the guest init (see net.h). */
#include "net.h"

#include "cmdline.h"
#include "dhcp.h"
#include "log.h"
#include "mounts.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/route.h>
#include <netpacket/packet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void i2ki_net_hostname(void)
{
	char name[65] = "";
	if (!i2ki_cmdline_get("i2kit.hostname", name, sizeof(name)) || !name[0]) {
		int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ssize_t n = read(fd, name, sizeof(name) - 1);
			close(fd);
			name[n > 0 ? n : 0] = 0;
			name[strcspn(name, " \t\r\n")] = 0;
		}
	}
	if (!name[0])
		memcpy(name, "i2kit", 6);
	if (sethostname(name, strlen(name)) < 0)
		i2ki_log_errno("sethostname %s", name);
}

static void mix_file(int out, const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0)
		(void)i2ki_write_all(out, buf, (unsigned long)n);
}

void i2ki_net_seed_rng(void)
{
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		i2ki_log_errno("open /dev/urandom");
		return;
	}
	struct timespec ts[4];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	clock_gettime(CLOCK_MONOTONIC, &ts[1]);
	clock_gettime(CLOCK_BOOTTIME, &ts[2]);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts[3]);
	(void)i2ki_write_all(fd, ts, sizeof(ts));
	const void *at_random = (const void *)getauxval(AT_RANDOM);
	if (at_random)
		(void)i2ki_write_all(fd, at_random, 16);
	mix_file(fd, "/proc/interrupts");
	mix_file(fd, "/proc/stat");
	mix_file(fd, "/proc/meminfo");
	mix_file(fd, "/proc/self/stat");
	mix_file(fd, "/sys/class/net/eth0/address");
	clock_gettime(CLOCK_MONOTONIC, &ts[1]);
	(void)i2ki_write_all(fd, &ts[1], sizeof(ts[1]));
	close(fd);
}

static int if_up(int s, const char *ifname)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

void i2ki_net_loopback(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		i2ki_log_errno("socket");
		return;
	}
	if (if_up(s, "lo") < 0)
		i2ki_log_errno("bring up lo");
	close(s);
}

static void set_in(struct sockaddr *sa, uint32_t a)
{
	struct sockaddr_in *in = (struct sockaddr_in *)sa;
	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = a;
}

static const char *ip(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN) ? buf : "?";
}

static int add_route(int s, const char *ifname, uint32_t dst, uint32_t mask, uint32_t gw)
{
	struct rtentry rt;
	memset(&rt, 0, sizeof(rt));
	set_in(&rt.rt_dst, dst);
	set_in(&rt.rt_genmask, mask);
	set_in(&rt.rt_gateway, gw);
	rt.rt_flags = RTF_UP | (gw ? RTF_GATEWAY : 0) | (mask == 0xffffffffu ? RTF_HOST : 0);
	rt.rt_dev = (char *)ifname;
	if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void configure(const char *ifname, const struct dhcp_lease *l)
{
	char a[INET_ADDRSTRLEN], m[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN];
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		i2ki_log_errno("dhcp: socket");
		return;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	set_in(&ifr.ifr_addr, l->addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		i2ki_log_errno("dhcp: set address on %s", ifname);
	set_in(&ifr.ifr_netmask, l->mask);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		i2ki_log_errno("dhcp: set netmask on %s", ifname);
	set_in(&ifr.ifr_broadaddr, l->addr | ~l->mask);
	if (ioctl(s, SIOCSIFBRDADDR, &ifr) < 0)
		i2ki_log_errno("dhcp: set broadcast on %s", ifname);
	if (l->mtu >= 576) {
		ifr.ifr_mtu = l->mtu;
		if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
			i2ki_log_errno("dhcp: set mtu %u on %s", l->mtu, ifname);
	}
	if (l->router) {
		/* a router outside the subnet (/32 leases) needs a host route first */
		if ((l->router & l->mask) != (l->addr & l->mask) &&
		    add_route(s, ifname, l->router, 0xffffffffu, 0) < 0)
			i2ki_log_errno("dhcp: route to %s", ip(l->router, g));
		if (add_route(s, ifname, 0, 0, l->router) < 0)
			i2ki_log_errno("dhcp: default route via %s", ip(l->router, g));
	}
	close(s);
	i2ki_log_info("dhcp: %s %s/%s router %s lease %us", ifname, ip(l->addr, a), ip(l->mask, m),
		      l->router ? ip(l->router, g) : "none", l->lease_secs);

	char text[512];
	size_t n = i2ki_dhcp_resolv_conf(l, text, sizeof(text));
	if (n == 0)
		return;
	static const char *const paths[] = {"/run/resolvconf/resolv.conf", "/etc/resolv.conf"};
	(void)i2ki_mkdir_p("/run/resolvconf", 0755, NULL, 0);
	for (size_t i = 0; i < 2; i++) {
		struct stat st;
		/* /etc/resolv.conf only when it is a regular file (or absent):
		 * usually it is a symlink to the first one */
		if (i == 1 && lstat(paths[i], &st) == 0 && !S_ISREG(st.st_mode))
			continue;
		int fd =
		    open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 || i2ki_write_all(fd, text, n) < 0)
			i2ki_log_errno("dhcp: write %s", paths[i]);
		if (fd >= 0)
			close(fd);
	}
}

/* At most this many "ignored a reply" lines per DHCP run: a hostile or
 * broken server may send thousands. */
#define DHCP_LOG_IGNORED 8

/* Sends msg, then waits until deadline for a reply of one of the wanted
 * types; resends every second. Replies for this client that are refused
 * are logged with the reason (at most DHCP_LOG_IGNORED lines per run,
 * counted in *ignored). Returns the type, or 0 on timeout. */
static int exchange(int ps, int ifindex, const uint8_t *msg, size_t len, uint32_t xid,
		    const uint8_t mac[6], int want1, int want2, long long deadline,
		    struct dhcp_lease *l, int *ignored)
{
	uint8_t frame[1600];
	size_t flen = i2ki_dhcp_wrap(frame, sizeof(frame), msg, len);
	struct sockaddr_ll to;
	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_protocol = htons(ETH_P_IP);
	to.sll_ifindex = ifindex;
	to.sll_halen = 6;
	memset(to.sll_addr, 0xff, 6);
	long long next_send = 0;
	for (;;) {
		long long now = now_ms();
		if (now >= deadline)
			return 0;
		if (now >= next_send) {
			if (sendto(ps, frame, flen, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
				i2ki_log_errno("dhcp: send");
			next_send = now + 1000;
		}
		long long wait = (next_send < deadline ? next_send : deadline) - now;
		struct pollfd pfd = {.fd = ps, .events = POLLIN};
		int r = poll(&pfd, 1, (int)wait);
		if (r <= 0)
			continue;
		uint8_t in[2048];
		ssize_t n = recv(ps, in, sizeof(in), 0);
		if (n <= 0)
			continue;
		size_t plen;
		const uint8_t *p = i2ki_dhcp_unwrap(in, (size_t)n, &plen);
		int type;
		const char *why = NULL;
		if (!p)
			continue;
		if (i2ki_dhcp_parse(p, plen, xid, mac, &type, l, &why) < 0) {
			/* other clients' and other transactions' replies are normal */
			if (strcmp(why, "not a reply") != 0 && strcmp(why, "other client") != 0 &&
			    strcmp(why, "other transaction") != 0 && ++*ignored <= DHCP_LOG_IGNORED)
				i2ki_log_warn("dhcp: ignored a reply: %s%s", why,
					      *ignored == DHCP_LOG_IGNORED ? " (no more such lines)"
									   : "");
			continue;
		}
		if (type == want1 || type == want2)
			return type;
	}
}

int i2ki_net_dhcp(const char *ifname, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		i2ki_log_errno("dhcp: socket");
		return -1;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	if (if_up(s, ifname) < 0 || ioctl(s, SIOCGIFHWADDR, &ifr) < 0) {
		i2ki_log_errno("dhcp: %s", ifname);
		close(s);
		return -1;
	}
	uint8_t mac[6];
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
	int ifindex = (int)if_nametoindex(ifname);
	int ps = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_IP));
	if (ps < 0) {
		i2ki_log_errno("dhcp: packet socket");
		return -1;
	}
	struct sockaddr_ll me;
	memset(&me, 0, sizeof(me));
	me.sll_family = AF_PACKET;
	me.sll_protocol = htons(ETH_P_IP);
	me.sll_ifindex = ifindex;
	if (bind(ps, (struct sockaddr *)&me, sizeof(me)) < 0) {
		i2ki_log_errno("dhcp: bind %s", ifname);
		close(ps);
		return -1;
	}
	uint32_t xid = 0;
	const uint8_t *r = (const uint8_t *)getauxval(AT_RANDOM);
	if (r)
		memcpy(&xid, r, 4);
	xid ^= (uint32_t)now_ms() ^ (uint32_t)(mac[4] << 8 | mac[5]);
	uint8_t msg[DHCP_MSG_MAX];
	struct dhcp_lease offer, ack;
	int result = -1, ignored = 0;
	for (int attempt = 0; attempt < 3 && now_ms() < deadline; attempt++) {
		size_t len = i2ki_dhcp_build(msg, sizeof(msg), DHCP_DISCOVER, xid, mac, 0, 0);
		if (!exchange(ps, ifindex, msg, len, xid, mac, DHCP_OFFER, DHCP_OFFER, deadline,
			      &offer, &ignored))
			break;
		len = i2ki_dhcp_build(msg, sizeof(msg), DHCP_REQUEST, xid, mac, offer.addr,
				      offer.server);
		int t = exchange(ps, ifindex, msg, len, xid, mac, DHCP_ACK, DHCP_NAK, deadline,
				 &ack, &ignored);
		if (t == DHCP_ACK) {
			if (ack.server == 0)
				ack.server = offer.server;
			configure(ifname, &ack);
			result = 0;
			break;
		}
		if (t == 0)
			break;
		i2ki_log_warn("dhcp: server declined the request, retrying");
		xid++;
	}
	close(ps);
	if (result < 0)
		i2ki_log_warn("dhcp: no lease on %s within %d ms", ifname, timeout_ms);
	return result;
}

void i2ki_net_boot(void)
{
	i2ki_net_seed_rng();
	i2ki_net_loopback();
	i2ki_net_hostname();
	if (!i2ki_cmdline_flag("i2kit.dhcp", 1))
		return;
	/* eth0 appears when virtio_net (loaded by the modules step) binds */
	for (int i = 0; i < 10 && access("/sys/class/net/eth0", F_OK) < 0; i++)
		usleep(50 * 1000);
	if (access("/sys/class/net/eth0", F_OK) < 0) {
		i2ki_log_info("dhcp: no eth0, skipped");
		return;
	}
	char t[16];
	int timeout = 5000;
	if (i2ki_cmdline_get("i2kit.dhcp_timeout", t, sizeof(t))) {
		long v = strtol(t, NULL, 10);
		if (v > 0 && v < 600)
			timeout = (int)v * 1000;
	}
	(void)i2ki_net_dhcp("eth0", timeout);
}
