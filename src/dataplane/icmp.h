/*
 * icmp: builds the small packets the data path answers with instead of
 * silently dropping: ICMP "fragmentation needed" / ICMPv6 "packet too big"
 * when a packet cannot fit a peer's path (so the sender's path-MTU discovery
 * shrinks its packets), and, for a firewall reject, an ICMP destination
 * unreachable or a TCP RST so a blocked connection fails at once.
 *
 * Every reply looks like it came from the original packet's destination
 * and goes to its source (addresses swapped), with TTL / hop limit 64 and
 * correct IP, ICMP and TCP checksums. ICMP errors quote the original packet:
 * ICMPv4 as much as keeps the reply within 576 bytes (RFC 1812 4.3.2.3; at
 * least the IP header + 8 bytes), ICMPv6 as much as keeps it within the
 * IPv6 minimum MTU of 1280 (RFC 4443 2.4). Only the packet's own bytes
 * (total_len) are quoted, never trailing buffer bytes.
 *
 * The builders trust nothing: they re-check that `pkt`/`len` hold what `pi`
 * describes (pi must come from packet_parse of the same bytes) and return
 * -EINVAL for packets that must not be answered (icmp_rejectable) and
 * -ENOSPC when `out` is too small. They never allocate; `out` must not
 * overlap `pkt`. Return value: the reply's length in bytes.
 */
#ifndef RAYFISH_DATAPLANE_ICMP_H
#define RAYFISH_DATAPLANE_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/packet.h"

#define ICMP_V4_MAX_REPLY 576
#define ICMP_V6_MAX_REPLY 1280
/* An out buffer this large fits every reply. */
#define ICMP_REPLY_BUF ICMP_V6_MAX_REPLY

/* ICMPv4 destination unreachable codes used here */
#define ICMP4_PORT_UNREACH 3
#define ICMP4_FRAG_NEEDED 4
#define ICMP4_ADMIN_PROHIB 13
/* ICMPv6 destination unreachable codes used here */
#define ICMP6_ADMIN_PROHIB 1
#define ICMP6_PORT_UNREACH 4

/*
 * Whether a packet may be answered with an error at all: not a non-first
 * fragment, not a TCP RST, not an ICMP error or other ICMP message except
 * an echo request (RFC 1122 3.2.2, RFC 4443 2.4(e)), and not from or to an
 * unspecified, multicast or broadcast address.
 */
bool icmp_rejectable(const struct packet_info *pi);

/* ICMPv4 type 3 code 4 with next-hop MTU, or ICMPv6 type 2 with MTU. */
int icmp_build_too_big(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		       const struct packet_info *pi, uint32_t mtu);
/* ICMPv4 type 3 or ICMPv6 type 1 with the given code. */
int icmp_build_unreach(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		       const struct packet_info *pi, uint8_t code);
/* TCP RST answering a TCP segment (RFC 9293 3.10.7.1): RST+ACK acking the
 * segment when it carried no ACK, else a bare RST with seq = its ack. */
int icmp_build_tcp_rst(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		       const struct packet_info *pi);
/* The firewall reject reply: TCP RST for TCP, port unreachable for UDP,
 * administratively prohibited for everything else. */
int icmp_build_reject(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		      const struct packet_info *pi);

/* Internet checksum (RFC 1071) of buf, folded, not inverted, starting from
 * the partial sum `sum`. The older names of packet_csum_add/_fold, kept for
 * the callers that use them. */
static inline uint32_t icmp_csum_add(uint32_t sum, const uint8_t *buf, size_t len)
{
	return packet_csum_add(sum, buf, len);
}

static inline uint16_t icmp_csum_fold(uint32_t sum)
{
	return packet_csum_fold(sum);
}

#endif
