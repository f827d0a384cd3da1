/*
 * packet: bounds-checked parse of one IPv4 or IPv6 packet into a small
 * summary the data path and the firewall act on.
 *
 * Every packet read from the TUN or received from a peer goes through
 * packet_parse before anything else looks at it. The parser never reads past
 * `len`, walks IPv6 extension headers in a bounded loop, and refuses anything
 * inconsistent (lengths that disagree with the buffer, tiny or overlapping
 * first fragments, unknown versions) with -EINVAL. It does not verify the
 * IPv4 header checksum: the kernel does that when the packet enters the
 * stack through the TUN.
 *
 * Addresses: IPv4 addresses are host-order u32 (100.64.1.2 == 0x64400102),
 * the same key the peer table uses; IPv6 addresses are the 16 wire bytes.
 * Nothing is allocated; `struct packet_info` is filled in place and holds no
 * pointer into the buffer.
 *
 * The Internet checksum helpers (RFC 1071, RFC 1624) live here too, since
 * every module that builds or rewrites packets (icmp, offload) needs them.
 * Partial sums are plain numbers in network order (a sum of big-endian 16-bit
 * words), so they can be chained and compared against header fields.
 */
#ifndef RAYFISH_DATAPLANE_PACKET_H
#define RAYFISH_DATAPLANE_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* IP protocol numbers the data plane looks into (IANA). */
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

/* TCP header flags (RFC 9293). */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* A chain longer than this many IPv6 extension headers is refused. */
#define PACKET_MAX_EXT_HEADERS 8

/* packet_info.flags */
#define PACKET_F_FRAGMENT 0x01   /* part of a fragmented datagram (MF set or offset > 0) */
#define PACKET_F_MORE_FRAGS 0x02 /* MF bit */
#define PACKET_F_DONT_FRAG 0x04  /* IPv4 DF bit */
#define PACKET_F_PORTS 0x08      /* src_port/dst_port valid (TCP or UDP, first fragment) */
#define PACKET_F_ICMP 0x10       /* icmp_type/icmp_code valid (ICMP or ICMPv6, first fragment) */
#define PACKET_F_ICMP_ECHO 0x20  /* icmp_id valid: echo request or reply */

union packet_addr {
	uint32_t v4;    /* host order */
	uint8_t v6[16]; /* wire order */
};

struct packet_info {
	uint8_t version; /* 4 or 6 */
	uint8_t proto; /* L4 protocol: IPv4 protocol, or the IPv6 next header after the extension chain */
	uint8_t ttl;   /* IPv4 TTL or IPv6 hop limit */
	uint8_t flags; /* PACKET_F_* */
	uint16_t hdr_len; /* bytes before the L4 header: IPv4 header with options, or IPv6 header + extensions */
	uint16_t total_len; /* bytes of the IP packet; <= the buffer (trailing bytes beyond it are not part of it) */
	uint16_t frag_offset; /* fragment offset in bytes */
	uint16_t src_port;    /* host order, PACKET_F_PORTS */
	uint16_t dst_port;
	uint8_t tcp_flags; /* TCP header flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10), PACKET_F_PORTS and proto TCP */
	uint8_t icmp_type; /* PACKET_F_ICMP */
	uint8_t icmp_code;
	uint16_t icmp_id; /* host order, PACKET_F_ICMP_ECHO */
	union packet_addr src;
	union packet_addr dst;
};

/*
 * Parses the packet in buf[0..len). Returns 0 and fills *out, or -EINVAL when
 * the packet is malformed or neither IPv4 nor IPv6 (*out is then undefined).
 */
int packet_parse(const uint8_t *buf, size_t len, struct packet_info *out);

/*
 * Internet checksum (RFC 1071) of buf[0..len) added to the partial sum
 * `sum`; the result is folded to at most 0xffff and not inverted. An odd
 * length pads with a zero byte, so only the last buffer of a chain may be
 * odd. Word-at-a-time: fast enough to run over a whole 64 KiB super-packet.
 */
uint32_t packet_csum_add(uint32_t sum, const uint8_t *buf, size_t len);

/* Folds a partial sum to 16 bits (end-around carry), not inverted. */
uint16_t packet_csum_fold(uint32_t sum);

/*
 * Partial sum of the TCP/UDP pseudo-header of the IPv4 or IPv6 packet whose
 * header starts at `ip` (its addresses), for protocol `proto` and an upper
 * layer length of `l4len` bytes. The caller has checked the header is there.
 */
uint32_t packet_csum_pseudo(const uint8_t *ip, uint8_t proto, uint32_t l4len);

/*
 * Incremental update (RFC 1624, eqn. 3) of a stored, inverted checksum
 * `csum` when one 16-bit word of the covered data changes from `from` to
 * `to`: avoids summing the header again to change one field.
 */
uint16_t packet_csum_update16(uint16_t csum, uint16_t from, uint16_t to);

#endif
