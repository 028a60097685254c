/* fuzz_initdhcp.c — fuzzes the guest init's DHCP client parsing
 * (initrd/init/dhcp.c, compiled in: the init is not part of the library):
 * the IPv4/UDP unwrap of a received frame and the OFFER/ACK/NAK parser
 * (options, pad runs, missing end option, overlong lengths, subnet /
 * router / DNS / lease / MTU / domain options), then the resolv.conf text
 * made from an accepted lease. No PID 1 code runs: dhcp.c is pure.
 *
 * Input: byte 0 selects the mode, the rest is the message.
 *   bit 0: take xid and chaddr from the message itself, so the header
 *          checks pass and the options are reached (else fixed values);
 *   bit 1: the rest is an IPv4 frame: unwrap it first;
 *   bit 2: also build a DISCOVER/REQUEST from bytes of the input and check
 *          that wrap → unwrap gives it back.
 * Invariants (abort): an accepted reply has a message type, an OFFER/ACK
 * a unicast address and a contiguous mask; at most DHCP_MAX_DNS servers;
 * the domain is printable without blanks; resolv.conf text is NUL-
 * terminated, fits, and has only "search"/"nameserver" lines; unwrap's
 * payload lies inside the frame.
 *
 * make build/fuzzer/fuzz_initdhcp (libFuzzer) or build/fuzz/fuzz_initdhcp
 * (-DI2K_FUZZ_MAIN: replays files, tests/fuzz/replay.sh). */
#include "initrd/init/dhcp.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lease(int type, const struct dhcp_lease *l)
{
	if (type == 0)
		abort();
	if (type == DHCP_OFFER || type == DHCP_ACK) {
		uint8_t a0 = ((const uint8_t *)&l->addr)[0];
		if (l->addr == 0 || a0 == 0 || a0 == 127 || a0 >= 224)
			abort();
		uint32_t m = ntohl(l->mask);
		if (m == 0 || (m & (~m >> 1)) != 0) /* leading ones only */
			abort();
	}
	if (l->ndns < 0 || l->ndns > DHCP_MAX_DNS)
		abort();
	size_t dl = strnlen(l->domain, sizeof(l->domain));
	if (dl == sizeof(l->domain))
		abort();
	for (size_t i = 0; i < dl; i++)
		if ((unsigned char)l->domain[i] <= 0x20 || (unsigned char)l->domain[i] >= 0x7f)
			abort();
	char text[512];
	memset(text, 'X', sizeof(text));
	size_t n = i2ki_dhcp_resolv_conf(l, text, sizeof(text));
	if (n >= sizeof(text) || (n > 0 && strlen(text) != n))
		abort();
	for (const char *p = text; n > 0 && *p;) {
		if (strncmp(p, "search ", 7) != 0 && strncmp(p, "nameserver ", 11) != 0)
			abort();
		const char *nl = strchr(p, '\n');
		if (!nl)
			abort();
		p = nl + 1;
	}
}

static void parse_one(const uint8_t *msg, size_t len, int own_ids)
{
	uint32_t xid = 0x12345678u;
	uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	if (own_ids && len >= 34) {
		xid = i2k_get_be32(msg + 4);
		memcpy(mac, msg + 28, 6);
	}
	int type = -1;
	struct dhcp_lease l;
	const char *why = NULL;
	if (i2ki_dhcp_parse(msg, len, xid, mac, &type, &l, &why) == 0)
		check_lease(type, &l);
	else if (why == NULL || why[0] == 0)
		abort();
}

static void roundtrip(const uint8_t *d, size_t size)
{
	if (size < 15)
		return;
	uint8_t mac[6];
	memcpy(mac, d + 1, 6);
	uint32_t xid = i2k_get_be32(d + 7), req, sid;
	memcpy(&req, d + 11, 4);
	sid = req ^ 0x01010101u;
	uint8_t msg[DHCP_MSG_MAX], frame[1600];
	size_t len = i2ki_dhcp_build(
	    msg, sizeof(msg), (d[0] >> 3) & 1 ? DHCP_REQUEST : DHCP_DISCOVER, xid, mac, req, sid);
	if (len < 300 || len > DHCP_MSG_MAX)
		abort();
	size_t flen = i2ki_dhcp_wrap(frame, sizeof(frame), msg, len);
	if (flen != 28 + len)
		abort();
	/* our own frame goes to port 67: turn it around as a server would */
	frame[21] = 67;
	frame[23] = 68;
	size_t plen = 0;
	const uint8_t *p = i2ki_dhcp_unwrap(frame, flen, &plen);
	if (!p || plen != len || memcmp(p, msg, len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *msg = data + 1;
	size_t len = size - 1;
	if (mode & 4)
		roundtrip(data, size);
	if (mode & 2) {
		size_t plen = (size_t)-1;
		const uint8_t *p = i2ki_dhcp_unwrap(msg, len, &plen);
		if (!p)
			return 0;
		if (p < msg + 28 || plen > len || p + plen > msg + len)
			abort();
		msg = p;
		len = plen;
	}
	/* the parser reads only len bytes: give it an exact-size copy so
	 * ASan sees any read past the end */
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, msg, len);
	parse_one(copy, len, mode & 1);
	free(copy);
	return 0;
}

#include "tests/fuzz/replay_main.h"
