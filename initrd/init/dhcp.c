/* dhcp.c — DHCPv4 message building and parsing (see dhcp.h). */
#include "dhcp.h"
#include "builder/base/bytes.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define BOOTP_FIXED 236
#define MAGIC 0x63825363u

size_t i2ki_dhcp_build(uint8_t *buf, size_t cap, int type, uint32_t xid, const uint8_t mac[6],
		       uint32_t req_addr, uint32_t server_id)
{
	if (cap < DHCP_MSG_MAX)
		return 0;
	memset(buf, 0, DHCP_MSG_MAX);
	buf[0] = 1; /* BOOTREQUEST */
	buf[1] = 1; /* Ethernet */
	buf[2] = 6;
	i2k_put_be32(buf + 4, xid);
	buf[10] = 0x80; /* broadcast flag: we cannot receive unicast yet */
	memcpy(buf + 28, mac, 6);
	i2k_put_be32(buf + BOOTP_FIXED, MAGIC);
	uint8_t *o = buf + BOOTP_FIXED + 4;
	*o++ = 53;
	*o++ = 1;
	*o++ = (uint8_t)type;
	*o++ = 61; /* client id: hardware type + MAC */
	*o++ = 7;
	*o++ = 1;
	memcpy(o, mac, 6);
	o += 6;
	if (req_addr) {
		*o++ = 50;
		*o++ = 4;
		memcpy(o, &req_addr, 4);
		o += 4;
	}
	if (server_id) {
		*o++ = 54;
		*o++ = 4;
		memcpy(o, &server_id, 4);
		o += 4;
	}
	static const uint8_t params[] = {1, 3, 6, 15, 26, 51, 54};
	*o++ = 55;
	*o++ = sizeof(params);
	memcpy(o, params, sizeof(params));
	o += sizeof(params);
	*o++ = 57; /* max message size */
	*o++ = 2;
	*o++ = DHCP_MSG_MAX >> 8;
	*o++ = DHCP_MSG_MAX & 0xff;
	*o++ = 255;
	size_t len = (size_t)(o - buf);
	return len < 300 ? 300 : len; /* BOOTP minimum, zero padded */
}

/* A host address: not 0.0.0.0/8, loopback, multicast, class E or the
 * limited broadcast. a is in network byte order. */
static int unicast(uint32_t a)
{
	uint8_t first = ((const uint8_t *)&a)[0];
	return first != 0 && first != 127 && first < 224;
}

int i2ki_dhcp_parse(const uint8_t *msg, size_t len, uint32_t xid, const uint8_t mac[6], int *type,
		    struct dhcp_lease *l, const char **why)
{
	static const char *dummy;
	int mask_given = 0;
	if (!why)
		why = &dummy;
	memset(l, 0, sizeof(*l));
	*type = 0;
	if (len < BOOTP_FIXED + 4) {
		*why = "short message";
		return -1;
	}
	if (msg[0] != 2) {
		*why = "not a reply";
		return -1;
	}
	if (i2k_get_be32(msg + 4) != xid) {
		*why = "other transaction";
		return -1;
	}
	if (msg[1] != 1 || msg[2] != 6 || memcmp(msg + 28, mac, 6) != 0) {
		*why = "other client";
		return -1;
	}
	if (i2k_get_be32(msg + BOOTP_FIXED) != MAGIC) {
		*why = "no magic cookie";
		return -1;
	}
	memcpy(&l->addr, msg + 16, 4); /* yiaddr */
	const uint8_t *p = msg + BOOTP_FIXED + 4, *end = msg + len;
	while (p < end) {
		uint8_t code = *p++;
		if (code == 0)
			continue;
		if (code == 255)
			break;
		if (p >= end) {
			*why = "truncated option";
			return -1;
		}
		uint8_t olen = *p++;
		if ((size_t)(end - p) < olen) {
			*why = "truncated option";
			return -1;
		}
		const uint8_t *v = p;
		p += olen;
		switch (code) {
		case 53:
			if (olen == 1)
				*type = v[0];
			break;
		case 1:
			if (olen == 4) {
				memcpy(&l->mask, v, 4);
				mask_given = 1;
			}
			break;
		case 3:
			if (olen >= 4)
				memcpy(&l->router, v, 4);
			break;
		case 6:
			for (int i = 0; i + 4 <= olen && l->ndns < DHCP_MAX_DNS; i += 4) {
				uint32_t d;
				memcpy(&d, v + i, 4);
				if (unicast(d)) /* 0.0.0.0 or a broadcast is no server */
					l->dns[l->ndns++] = d;
			}
			break;
		case 15: {
			size_t n = 0;
			for (int i = 0; i < olen && n < sizeof(l->domain) - 1; i++)
				if (v[i] > 0x20 && v[i] < 0x7f)
					l->domain[n++] = (char)v[i];
			l->domain[n] = 0;
			break;
		}
		case 26:
			if (olen == 2)
				l->mtu = (uint16_t)(v[0] << 8 | v[1]);
			break;
		case 51:
			if (olen == 4)
				l->lease_secs = i2k_get_be32(v);
			break;
		case 54:
			if (olen == 4)
				memcpy(&l->server, v, 4);
			break;
		default:
			break;
		}
	}
	if (*type == 0) {
		*why = "no message type";
		return -1;
	}
	if ((*type == DHCP_OFFER || *type == DHCP_ACK) && l->addr == 0) {
		*why = "no address offered";
		return -1;
	}
	if (l->addr && !unicast(l->addr)) {
		*why = "offered address is not a unicast address";
		return -1;
	}
	uint32_t m = ntohl(l->mask);
	if (mask_given && (m == 0 || (m & (~m >> 1)) != 0)) {
		*why = "bad subnet mask";
		return -1;
	}
	if (!mask_given && l->addr) {
		/* classful default, as old servers expect */
		uint8_t a = ((const uint8_t *)&l->addr)[0];
		l->mask = htonl(a < 128 ? 0xff000000u : a < 192 ? 0xffff0000u : 0xffffff00u);
	}
	m = ntohl(l->mask);
	uint32_t host = ntohl(l->addr) & ~m;
	if (l->addr && m < 0xfffffffeu && (host == 0 || host == ~m)) {
		*why = "offered address is the subnet's network or broadcast address";
		return -1;
	}
	/* a router that is no usable next hop is dropped, not configured */
	if (l->router && (!unicast(l->router) || l->router == l->addr))
		l->router = 0;
	return 0;
}

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

size_t i2ki_dhcp_wrap(uint8_t *f, size_t cap, const uint8_t *payload, size_t len)
{
	size_t total = 20 + 8 + len;
	if (cap < total || total > 0xffff)
		return 0;
	memset(f, 0, 28);
	f[0] = 0x45;
	f[2] = (uint8_t)(total >> 8);
	f[3] = (uint8_t)total;
	f[8] = 64;		 /* TTL */
	f[9] = 17;		 /* UDP */
	memset(f + 16, 0xff, 4); /* dst 255.255.255.255, src 0.0.0.0 */
	uint16_t c = csum(0, f, 20);
	f[10] = (uint8_t)(c >> 8);
	f[11] = (uint8_t)c;
	uint8_t *u = f + 20;
	u[1] = 68;
	u[3] = 67;
	u[4] = (uint8_t)((8 + len) >> 8);
	u[5] = (uint8_t)(8 + len);
	memcpy(u + 8, payload, len);
	/* UDP checksum over the pseudo header (src 0, dst broadcast) */
	uint32_t pseudo = 0xffff + 0xffff + 17 + (uint32_t)(8 + len);
	c = csum(pseudo, u, 8 + len);
	if (c == 0)
		c = 0xffff;
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	return total;
}

const uint8_t *i2ki_dhcp_unwrap(const uint8_t *f, size_t len, size_t *plen)
{
	if (len < 28 || (f[0] >> 4) != 4)
		return NULL;
	size_t ihl = (size_t)(f[0] & 15) * 4;
	size_t total = (size_t)(f[2] << 8 | f[3]);
	if (ihl < 20 || total > len || total < ihl + 8 || f[9] != 17)
		return NULL;
	if ((f[6] & 0x3f) || f[7]) /* fragments */
		return NULL;
	if (csum(0, f, ihl) != 0)
		return NULL;
	const uint8_t *u = f + ihl;
	if (u[2] != 0 || u[3] != 68)
		return NULL;
	size_t ulen = (size_t)(u[4] << 8 | u[5]);
	if (ulen < 8 || ulen > total - ihl)
		return NULL;
	*plen = ulen - 8;
	return u + 8;
}

size_t i2ki_dhcp_resolv_conf(const struct dhcp_lease *l, char *out, size_t cap)
{
	size_t n = 0;
	if (cap == 0)
		return 0;
	out[0] = 0;
	if (l->domain[0]) {
		int r = snprintf(out + n, cap - n, "search %s\n", l->domain);
		if (r < 0 || (size_t)r >= cap - n)
			return 0;
		n += (size_t)r;
	}
	for (int i = 0; i < l->ndns; i++) {
		const uint8_t *a = (const uint8_t *)&l->dns[i];
		int r =
		    snprintf(out + n, cap - n, "nameserver %u.%u.%u.%u\n", a[0], a[1], a[2], a[3]);
		if (r < 0 || (size_t)r >= cap - n)
			return 0;
		n += (size_t)r;
	}
	return l->ndns ? n : 0;
}
