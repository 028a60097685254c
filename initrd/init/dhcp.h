/* dhcp.h — DHCPv4 messages for the guest init's client (RFC 2131/2132):
 * building DISCOVER/REQUEST, parsing OFFER/ACK/NAK, and the IPv4+UDP
 * headers around them (the client sends and receives through an AF_PACKET
 * SOCK_DGRAM socket because eth0 has no address yet). Pure functions, no
 * I/O: unit-testable. Addresses are in network byte order. */
#ifndef I2K_INITRD_INIT_DHCP_H
#define I2K_INITRD_INIT_DHCP_H

#include <stddef.h>
#include <stdint.h>

enum { DHCP_DISCOVER = 1, DHCP_OFFER = 2, DHCP_REQUEST = 3, DHCP_ACK = 5, DHCP_NAK = 6 };

#define DHCP_MAX_DNS 3
#define DHCP_MSG_MAX 576

struct dhcp_lease {
	uint32_t addr, mask, router, server;
	uint32_t dns[DHCP_MAX_DNS];
	int ndns;
	uint32_t lease_secs;
	uint16_t mtu;
	char domain[128]; /* option 15, sanitised (printable, no blanks) */
};

/* Builds a client message (DISCOVER, or REQUEST with requested address and
 * server id when non-zero) with the broadcast flag set. Returns its length
 * or 0 when cap is too small (< DHCP_MSG_MAX). */
size_t i2ki_dhcp_build(uint8_t *buf, size_t cap, int type, uint32_t xid, const uint8_t mac[6],
		       uint32_t req_addr, uint32_t server_id);

/* Parses a server reply: checks op=2, xid, chaddr = mac and the magic
 * cookie; fills *type (option 53) and *l. Returns 0, or -1 with a short
 * reason in *why (static string). Options of the wrong length are
 * ignored; a truncated option, an address that is not a unicast host
 * address (0/8, 127/8, 224/3) or the subnet's network/broadcast address,
 * or a non-contiguous subnet mask reject the reply. Without a mask the
 * classful one is used. A router that is not a unicast address or is the
 * offered address is dropped (router 0); DNS servers that are not unicast
 * addresses are skipped. */
int i2ki_dhcp_parse(const uint8_t *msg, size_t len, uint32_t xid, const uint8_t mac[6], int *type,
		    struct dhcp_lease *l, const char **why);

/* Wraps a payload in IPv4 + UDP, 0.0.0.0:68 → 255.255.255.255:67 (IP
 * header checksum set, UDP checksum computed). Returns the frame length or
 * 0 if cap is too small. */
size_t i2ki_dhcp_wrap(uint8_t *frame, size_t cap, const uint8_t *payload, size_t len);

/* Returns the UDP payload of an IPv4 frame addressed to port 68 (checks the
 * lengths and the header checksum), or NULL. */
const uint8_t *i2ki_dhcp_unwrap(const uint8_t *frame, size_t len, size_t *payload_len);

/* Formats resolv.conf text for the lease ("nameserver A.B.C.D" lines and
 * "search DOMAIN"). Returns the length (0 when nothing to write). */
size_t i2ki_dhcp_resolv_conf(const struct dhcp_lease *l, char *out, size_t cap);

#endif
