/* test_initdhcp.c — the guest init's DHCP messages (initrd/init/dhcp.c),
 * ACPI netlink event parsing (acpi.c) and the root switch's marker
 * (switchroot.c; the switch itself is booted by every boot test), compiled
 * in directly. The DHCP replies are built here
 * the way QEMU's user-mode (slirp) server answers: 10.0.2.15/24, router
 * 10.0.2.2, DNS 10.0.2.3. */
#include "initrd/init/util.c"
#include "initrd/init/acpi.c"
#include "initrd/init/dhcp.c"
#include "initrd/init/log.c"
#include "initrd/init/switchroot.c"

#include "tests/unit/test.h"

#include <sys/sysmacros.h>

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

static uint32_t ip4(int a, int b, int c, int d)
{
	uint8_t v[4] = {(uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d};
	uint32_t r;
	memcpy(&r, v, 4);
	return r;
}

/* A server reply as slirp sends it; extra options appended verbatim. */
static size_t reply(uint8_t *m, int type, uint32_t xid, const uint8_t *extra, size_t elen)
{
	memset(m, 0, DHCP_MSG_MAX);
	m[0] = 2;
	m[1] = 1;
	m[2] = 6;
	i2k_put_be32(m + 4, xid);
	uint32_t yi = ip4(10, 0, 2, 15);
	memcpy(m + 16, &yi, 4);
	memcpy(m + 28, MAC, 6);
	i2k_put_be32(m + 236, 0x63825363u);
	uint8_t *o = m + 240;
	const uint8_t opts[] = {
	    53,	 1,   (uint8_t)type, 54, 4, 10, 0,  2, 2, 51, 4, 0, 1,	0x51, 0x80, 1, 4,
	    255, 255, 255,	     0,	 3, 4,	10, 0, 2, 2,  6, 4, 10, 0,    2,    3};
	memcpy(o, opts, sizeof(opts));
	o += sizeof(opts);
	if (elen)
		memcpy(o, extra, elen);
	o += elen;
	*o++ = 255;
	return (size_t)(o - m);
}

static int has_option(const uint8_t *m, size_t len, uint8_t code, const uint8_t *val, uint8_t vlen)
{
	for (size_t i = 240; i < len && m[i] != 255;) {
		if (m[i] == 0) {
			i++;
			continue;
		}
		if (m[i] == code && m[i + 1] == vlen && memcmp(m + i + 2, val, vlen) == 0)
			return 1;
		i += 2 + m[i + 1];
	}
	return 0;
}

TEST(build_discover_and_request)
{
	uint8_t m[DHCP_MSG_MAX];
	size_t n = i2ki_dhcp_build(m, sizeof(m), DHCP_DISCOVER, 0x11223344, MAC, 0, 0);
	CHECK_INT(n, 300);
	CHECK_INT(m[0], 1);
	CHECK_INT(i2k_get_be32(m + 4), 0x11223344);
	CHECK_INT(m[10], 0x80); /* broadcast flag */
	CHECK(memcmp(m + 28, MAC, 6) == 0);
	CHECK_INT(i2k_get_be32(m + 236), 0x63825363u);
	const uint8_t disc = DHCP_DISCOVER;
	CHECK(has_option(m, n, 53, &disc, 1));
	uint32_t a = ip4(10, 0, 2, 15), s = ip4(10, 0, 2, 2);
	CHECK(!has_option(m, n, 50, (const uint8_t *)&a, 4));
	n = i2ki_dhcp_build(m, sizeof(m), DHCP_REQUEST, 0x11223344, MAC, a, s);
	const uint8_t req = DHCP_REQUEST;
	CHECK(has_option(m, n, 53, &req, 1));
	CHECK(has_option(m, n, 50, (const uint8_t *)&a, 4));
	CHECK(has_option(m, n, 54, (const uint8_t *)&s, 4));
	CHECK_INT(i2ki_dhcp_build(m, 100, DHCP_DISCOVER, 1, MAC, 0, 0), 0);
}

TEST(parse_ack)
{
	uint8_t m[DHCP_MSG_MAX];
	const uint8_t extra[] = {0,   15,  9,	'e', 'x', 'a', 'm',  'p',
				 'l', 'e', ' ', 'x', 26,  2,   0x23, 0x29};
	size_t n = reply(m, DHCP_ACK, 42, extra, sizeof(extra));
	struct dhcp_lease l;
	int type;
	const char *why = NULL;
	CHECK_INT(i2ki_dhcp_parse(m, n, 42, MAC, &type, &l, &why), 0);
	CHECK_INT(type, DHCP_ACK);
	CHECK(l.addr == ip4(10, 0, 2, 15));
	CHECK(l.mask == ip4(255, 255, 255, 0));
	CHECK(l.router == ip4(10, 0, 2, 2));
	CHECK(l.server == ip4(10, 0, 2, 2));
	CHECK_INT(l.ndns, 1);
	CHECK(l.dns[0] == ip4(10, 0, 2, 3));
	CHECK_INT(l.lease_secs, 86400);
	CHECK_INT(l.mtu, 9001);
	CHECK_STR(l.domain, "examplex"); /* blanks dropped */
	char rc[256];
	size_t rl = i2ki_dhcp_resolv_conf(&l, rc, sizeof(rc));
	CHECK_STR(rc, "search examplex\nnameserver 10.0.2.3\n");
	CHECK_INT(rl, strlen(rc));
	CHECK_INT(i2ki_dhcp_resolv_conf(&l, rc, 10), 0);
	l.ndns = 0;
	CHECK_INT(i2ki_dhcp_resolv_conf(&l, rc, sizeof(rc)), 0);
}

static void bad(const uint8_t *m, size_t n, uint32_t xid, const char *want)
{
	struct dhcp_lease l;
	int type;
	const char *why = NULL;
	CHECK_INT(i2ki_dhcp_parse(m, n, xid, MAC, &type, &l, &why), -1);
	CHECK_STR(why, want);
}

TEST(parse_rejects)
{
	uint8_t m[DHCP_MSG_MAX];
	size_t n = reply(m, DHCP_OFFER, 7, NULL, 0);
	bad(m, 100, 7, "short message");
	bad(m, n, 8, "other transaction");
	m[0] = 1;
	bad(m, n, 7, "not a reply");
	n = reply(m, DHCP_OFFER, 7, NULL, 0);
	m[33] ^= 1;
	bad(m, n, 7, "other client");
	n = reply(m, DHCP_OFFER, 7, NULL, 0);
	m[236] = 0;
	bad(m, n, 7, "no magic cookie");
	const uint8_t trunc[] = {12, 50, 'x'};
	n = reply(m, DHCP_OFFER, 7, trunc, sizeof(trunc));
	bad(m, n - 1, 7, "truncated option"); /* without the end option */
	n = reply(m, DHCP_OFFER, 7, NULL, 0);
	memset(m + 16, 0, 4);
	bad(m, n, 7, "no address offered");
	n = reply(m, DHCP_OFFER, 7, NULL, 0);
	m[242] = 0; /* option 53 → pad bytes shift: type lost */
	m[240] = 0;
	m[241] = 0;
	bad(m, n, 7, "no message type");
	/* NAK without an address is fine; no mask → classful */
	const uint8_t nak[] = {53, 1, DHCP_NAK, 255};
	memset(m, 0, sizeof(m));
	m[0] = 2;
	m[1] = 1;
	m[2] = 6;
	i2k_put_be32(m + 4, 9);
	memcpy(m + 28, MAC, 6);
	i2k_put_be32(m + 236, 0x63825363u);
	memcpy(m + 240, nak, sizeof(nak));
	struct dhcp_lease l;
	int type;
	CHECK_INT(i2ki_dhcp_parse(m, 244, 9, MAC, &type, &l, NULL), 0);
	CHECK_INT(type, DHCP_NAK);
}

/* What a hostile server may offer (found by tests/fuzz/fuzz_initdhcp.c's
 * invariants; seeds in tests/data/fuzz/initdhcp): addresses that are no
 * host address, a mask with holes, a router or DNS server that cannot be
 * one. */
TEST(parse_rejects_hostile_values)
{
	uint8_t m[DHCP_MSG_MAX];
	static const uint8_t bad_addr[][4] = {
	    {255, 255, 255, 255}, {127, 0, 0, 1}, {224, 0, 0, 5}, {0, 1, 2, 3}, {240, 1, 1, 1}};
	for (size_t i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
		size_t n = reply(m, DHCP_OFFER, 7, NULL, 0);
		memcpy(m + 16, bad_addr[i], 4);
		bad(m, n, 7, "offered address is not a unicast address");
	}
	/* 10.0.2.0/24 and 10.0.2.255/24 */
	size_t n = reply(m, DHCP_OFFER, 7, NULL, 0);
	m[19] = 0;
	bad(m, n, 7, "offered address is the subnet's network or broadcast address");
	m[19] = 255;
	bad(m, n, 7, "offered address is the subnet's network or broadcast address");
	/* the mask option comes after its code 1, length 4 in reply() */
	const uint8_t holes[] = {1, 4, 255, 0, 255, 0};
	n = reply(m, DHCP_OFFER, 7, holes, sizeof(holes));
	bad(m, n, 7, "bad subnet mask");
	const uint8_t zero[] = {1, 4, 0, 0, 0, 0};
	n = reply(m, DHCP_OFFER, 7, zero, sizeof(zero));
	bad(m, n, 7, "bad subnet mask");
	/* a /32 lease is fine (cloud networks hand them out) */
	const uint8_t host[] = {1, 4, 255, 255, 255, 255};
	n = reply(m, DHCP_ACK, 7, host, sizeof(host));
	struct dhcp_lease l;
	int type;
	CHECK_INT(i2ki_dhcp_parse(m, n, 7, MAC, &type, &l, NULL), 0);
	CHECK(l.mask == ip4(255, 255, 255, 255));
	/* a broadcast router is dropped; unusable DNS servers are skipped */
	const uint8_t odd[] = {3, 4,   255, 255, 255, 255, 6, 14, 0, 0,	 0,
			       0, 255, 255, 255, 255, 10,  0, 2,  9, 10, 0};
	n = reply(m, DHCP_ACK, 7, odd, sizeof(odd));
	CHECK_INT(i2ki_dhcp_parse(m, n, 7, MAC, &type, &l, NULL), 0);
	CHECK(l.router == 0);
	CHECK_INT(l.ndns, 2); /* 10.0.2.3 from reply(), then 10.0.2.9 */
	CHECK(l.dns[1] == ip4(10, 0, 2, 9));
	/* a router that is the offered address itself is dropped too */
	const uint8_t self[] = {3, 4, 10, 0, 2, 15};
	n = reply(m, DHCP_ACK, 7, self, sizeof(self));
	CHECK_INT(i2ki_dhcp_parse(m, n, 7, MAC, &type, &l, NULL), 0);
	CHECK(l.router == 0);
}

TEST(udp_wrap_roundtrip)
{
	uint8_t payload[300], frame[400];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	size_t n = i2ki_dhcp_wrap(frame, sizeof(frame), payload, sizeof(payload));
	CHECK_INT(n, 328);
	CHECK_INT(frame[0], 0x45);
	CHECK_INT(csum(0, frame, 20), 0); /* header checksum verifies */
	/* UDP checksum verifies over the pseudo header */
	CHECK_INT(csum(0xffff + 0xffff + 17 + 308, frame + 20, 308), 0);
	CHECK_INT(i2ki_dhcp_wrap(frame, 100, payload, sizeof(payload)), 0);
	/* as a reply: to port 68 */
	frame[21] = 67;
	frame[23] = 68;
	size_t plen = 0;
	const uint8_t *p = i2ki_dhcp_unwrap(frame, n, &plen);
	CHECK(p == frame + 28);
	CHECK_INT(plen, 300);
	CHECK(i2ki_dhcp_unwrap(frame, 20, &plen) == NULL); /* short */
	frame[23] = 69;
	CHECK(i2ki_dhcp_unwrap(frame, n, &plen) == NULL); /* other port */
	frame[23] = 68;
	frame[9] = 6;
	CHECK(i2ki_dhcp_unwrap(frame, n, &plen) == NULL); /* not UDP */
	frame[9] = 17;
	frame[12] ^= 1;
	CHECK(i2ki_dhcp_unwrap(frame, n, &plen) == NULL); /* bad checksum */
	frame[12] ^= 1;
	CHECK(i2ki_dhcp_unwrap(frame, n - 10, &plen) == NULL); /* total > frame */
}

static size_t acpi_msg(uint8_t *b, uint16_t fam, const char *cls)
{
	struct acpi_genl_ev ev;
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.device_class, sizeof(ev.device_class), "%s", cls);
	memcpy(ev.bus_id, "LNXPWRBN:00", 12);
	ev.type = 0x80;
	ev.data = 1;
	struct nl_hdr nh = {.type = fam};
	struct genl_hdr gh = {.cmd = 1, .version = 1};
	struct nl_attr at = {.len = (uint16_t)(sizeof(at) + sizeof(ev)), .type = 1};
	size_t len = sizeof(nh) + sizeof(gh) + sizeof(at) + sizeof(ev);
	nh.len = (uint32_t)len;
	memcpy(b, &nh, sizeof(nh));
	memcpy(b + sizeof(nh), &gh, sizeof(gh));
	memcpy(b + sizeof(nh) + sizeof(gh), &at, sizeof(at));
	memcpy(b + sizeof(nh) + sizeof(gh) + sizeof(at), &ev, sizeof(ev));
	return ALIGN4(len);
}

TEST(acpi_events)
{
	uint8_t b[512];
	size_t n = acpi_msg(b, 0x17, "button/power");
	CHECK_INT(i2ki_acpi_parse_event(b, n, 0x17), 1);
	CHECK_INT(i2ki_acpi_parse_event(b, n, 0x18), 0);     /* other family */
	CHECK_INT(i2ki_acpi_parse_event(b, n - 8, 0x17), 0); /* truncated */
	n = acpi_msg(b, 0x17, "button/sleep");
	CHECK_INT(i2ki_acpi_parse_event(b, n, 0x17), 0);
	/* two messages in one datagram, the second one the power button */
	size_t m = acpi_msg(b + n, 0x17, "button/power");
	CHECK_INT(i2ki_acpi_parse_event(b, n + m, 0x17), 1);
}

TEST(switchroot_marker_stops_a_second_switch)
{
	char *argv[] = {(char *)"/init", (char *)SWITCHROOT_MARKER, NULL};
	CHECK_INT(i2ki_switchroot_needed(2, argv), 0);
}

int main(void)
{
	t_prog = "initdhcp";
	RUN(build_discover_and_request);
	RUN(parse_ack);
	RUN(parse_rejects);
	RUN(parse_rejects_hostile_values);
	RUN(udp_wrap_roundtrip);
	RUN(acpi_events);
	RUN(switchroot_marker_stops_a_second_switch);
	return TEST_DONE();
}
