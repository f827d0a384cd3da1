/*
 * icmp: see icmp.h. Replies are written field by field in network byte
 * order; checksums are computed over the finished bytes.
 */
#include "dataplane/icmp.h"
#include "util/bytes.h"

#include <errno.h>
#include <string.h>

#define V4_HDR 20
#define V6_HDR 40
#define ICMP_HDR 8
#define TCP_HDR 20
#define TTL 64

static bool addr_ok(const struct packet_info *pi)
{
	static const uint8_t zero[16];

	if (pi->version == 4) {
		uint32_t s = pi->src.v4, d = pi->dst.v4;

		if (s == 0 || s == 0xffffffffu || d == 0xffffffffu)
			return false;
		return (s >> 28) != 0xe && (d >> 28) != 0xe;
	}
	if (memcmp(pi->src.v6, zero, 16) == 0)
		return false;
	return pi->src.v6[0] != 0xff && pi->dst.v6[0] != 0xff;
}

/* RFC 1122 3.2.2 / RFC 4443 2.4(e): never answer a later fragment, an ICMP
 * error (only echo requests of all ICMP), or a non-unicast address. */
static bool may_answer(const struct packet_info *pi)
{
	uint8_t icmp = pi->version == 4 ? PROTO_ICMP : PROTO_ICMPV6;

	if (pi->version != 4 && pi->version != 6)
		return false;
	if (pi->frag_offset || !addr_ok(pi))
		return false;
	if (pi->proto == icmp)
		return (pi->flags & PACKET_F_ICMP) && pi->icmp_type == (pi->version == 4 ? 8 : 128);
	return true;
}

bool icmp_rejectable(const struct packet_info *pi)
{
	if (!may_answer(pi))
		return false;
	if (pi->proto == PROTO_TCP)
		return (pi->flags & PACKET_F_PORTS) && !(pi->tcp_flags & TCP_RST);
	return true;
}

/* pkt must hold the packet pi describes. */
static bool consistent(const uint8_t *pkt, size_t len, const struct packet_info *pi)
{
	if (!pkt || len < 1 || pi->total_len > len || pi->hdr_len > pi->total_len)
		return false;
	if ((pkt[0] >> 4) != pi->version)
		return false;
	return pi->hdr_len >= (pi->version == 4 ? V4_HDR : V6_HDR);
}

/* The reply's IP header for `payload` bytes of `proto`, addresses swapped. */
static void put_ip(uint8_t *out, const struct packet_info *pi, uint8_t proto, size_t payload,
		   uint16_t frag)
{
	if (pi->version == 4) {
		memset(out, 0, V4_HDR);
		out[0] = 0x45;
		be16_put(out + 2, (uint16_t)(V4_HDR + payload));
		be16_put(out + 6, frag);
		out[8] = TTL;
		out[9] = proto;
		be32_put(out + 12, pi->dst.v4);
		be32_put(out + 16, pi->src.v4);
		be16_put(out + 10, (uint16_t)~icmp_csum_fold(icmp_csum_add(0, out, V4_HDR)));
		return;
	}
	memset(out, 0, V6_HDR);
	out[0] = 0x60;
	be16_put(out + 4, (uint16_t)payload);
	out[6] = proto;
	out[7] = TTL;
	memcpy(out + 8, pi->dst.v6, 16);
	memcpy(out + 24, pi->src.v6, 16);
}

/* Checksum of an upper-layer message that follows the header in `ip`;
 * IPv4 ICMP has no pseudo-header, TCP and ICMPv6 do. */
static uint16_t l4_csum(const uint8_t *ip, uint8_t version, uint8_t proto, const uint8_t *l4,
			size_t l4len)
{
	uint8_t tail[4];
	uint32_t sum = 0;

	if (version == 4 && proto != PROTO_ICMP) {
		sum = icmp_csum_add(sum, ip + 12, 8);
		sum += proto;
		sum += (uint32_t)l4len;
	} else if (version == 6) {
		sum = icmp_csum_add(sum, ip + 8, 32);
		be32_put(tail, (uint32_t)l4len);
		sum = icmp_csum_add(sum, tail, 4);
		sum += proto;
	}
	sum = icmp_csum_add(sum, l4, l4len);
	return (uint16_t)~icmp_csum_fold(sum);
}

static int build_error(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		       const struct packet_info *pi, uint8_t type, uint8_t code, uint32_t word)
{
	size_t ip = pi->version == 4 ? V4_HDR : V6_HDR;
	size_t max = pi->version == 4 ? ICMP_V4_MAX_REPLY : ICMP_V6_MAX_REPLY;
	size_t quote, total;
	uint8_t *m;

	if (!consistent(pkt, len, pi) || !may_answer(pi))
		return -EINVAL;
	quote = pi->total_len;
	if (quote > max - ip - ICMP_HDR)
		quote = max - ip - ICMP_HDR;
	total = ip + ICMP_HDR + quote;
	if (!out || cap < total)
		return -ENOSPC;
	put_ip(out, pi, pi->version == 4 ? PROTO_ICMP : PROTO_ICMPV6, ICMP_HDR + quote, 0);
	m = out + ip;
	m[0] = type;
	m[1] = code;
	be16_put(m + 2, 0);
	be32_put(m + 4, word);
	memcpy(m + ICMP_HDR, pkt, quote);
	be16_put(m + 2, l4_csum(out, pi->version, pi->version == 4 ? PROTO_ICMP : PROTO_ICMPV6, m,
				ICMP_HDR + quote));
	return (int)total;
}

int icmp_build_too_big(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		       const struct packet_info *pi, uint32_t mtu)
{
	if (pi->version == 4) {
		/* RFC 791: every IPv4 link carries 68 bytes */
		if (mtu < 68 || mtu > 0xffff)
			return -EINVAL;
		return build_error(out, cap, pkt, len, pi, 3, ICMP4_FRAG_NEEDED, mtu);
	}
	/* RFC 8200 5: no IPv6 link is smaller than 1280 */
	if (mtu < 1280)
		return -EINVAL;
	return build_error(out, cap, pkt, len, pi, 2, 0, mtu);
}

int icmp_build_unreach(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		       const struct packet_info *pi, uint8_t code)
{
	return build_error(out, cap, pkt, len, pi, pi->version == 4 ? 3 : 1, code, 0);
}

int icmp_build_tcp_rst(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		       const struct packet_info *pi)
{
	size_t ip = pi->version == 4 ? V4_HDR : V6_HDR;
	const uint8_t *th;
	size_t doff, seglen;
	uint8_t *t;

	if (!consistent(pkt, len, pi) || !icmp_rejectable(pi) || pi->proto != PROTO_TCP ||
	    (pi->flags & PACKET_F_FRAGMENT))
		return -EINVAL;
	if (pi->total_len - pi->hdr_len < TCP_HDR)
		return -EINVAL;
	th = pkt + pi->hdr_len;
	doff = (size_t)(th[12] >> 4) * 4;
	if (doff < TCP_HDR || doff > (size_t)(pi->total_len - pi->hdr_len))
		return -EINVAL;
	if (!out || cap < ip + TCP_HDR)
		return -ENOSPC;
	seglen = pi->total_len - pi->hdr_len - doff;
	if (th[13] & TCP_SYN)
		seglen++;
	if (th[13] & TCP_FIN)
		seglen++;

	put_ip(out, pi, PROTO_TCP, TCP_HDR, pi->version == 4 ? 0x4000 : 0);
	t = out + ip;
	memset(t, 0, TCP_HDR);
	be16_put(t, pi->dst_port);
	be16_put(t + 2, pi->src_port);
	if (th[13] & TCP_ACK) {
		memcpy(t + 4, th + 8, 4); /* seq = their ack */
		t[13] = TCP_RST;
	} else {
		be32_put(t + 8, be32_get(th + 4) + (uint32_t)seglen);
		t[13] = TCP_RST | TCP_ACK;
	}
	t[12] = (TCP_HDR / 4) << 4;
	be16_put(t + 16, l4_csum(out, pi->version, PROTO_TCP, t, TCP_HDR));
	return (int)(ip + TCP_HDR);
}

int icmp_build_reject(uint8_t *out, size_t cap, const uint8_t *pkt, size_t len,
		      const struct packet_info *pi)
{
	if (!icmp_rejectable(pi))
		return -EINVAL;
	if (pi->proto == PROTO_TCP && !(pi->flags & PACKET_F_FRAGMENT))
		return icmp_build_tcp_rst(out, cap, pkt, len, pi);
	/* port unreachable turns into "connection refused" in the sender's
	 * socket, for UDP and for a TCP first fragment we cannot RST */
	if (pi->proto == PROTO_UDP || pi->proto == PROTO_TCP)
		return icmp_build_unreach(out, cap, pkt, len, pi,
					  pi->version == 4 ? ICMP4_PORT_UNREACH
							   : ICMP6_PORT_UNREACH);
	return icmp_build_unreach(out, cap, pkt, len, pi,
				  pi->version == 4 ? ICMP4_ADMIN_PROHIB : ICMP6_ADMIN_PROHIB);
}
