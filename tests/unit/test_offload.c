/*
 * test_offload: the TUN offload packet logic. Checksum helpers against the
 * textbook loop; vnet header byte layout; split of TCPv4/TCPv6/UDPv4/UDPv6
 * super-packets with every segment's lengths, IDs, sequence numbers, flags
 * and checksums checked; partial checksum finishing; coalesce of the split
 * output back into the byte-identical super-packet and header; what must
 * not merge (out of order, gaps, retransmissions, flag, ACK, window, option,
 * TTL, TOS, DF, flow label changes, bad checksums, IPv4 options, fragments,
 * IPv6 extension headers, padding, pure ACKs, SYN/RST/URG); interleaved
 * flows beyond the open-flow limit; the segment, size, batch and buffer
 * limits; and hostile vnet headers: every bounds case, every truncation
 * (on exact-size heap copies, so ASan sees any overread) and random
 * corruption.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/offload.h"
#include "dataplane/packet.h"
#include "../fuzz/offload_verify.h"
#include "util/bytes.h"

#define TCP 6
#define UDP 17
#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10
#define URG 0x20
#define ECE 0x40
#define CWR 0x80

#define SEG_CAP 65600

static uint8_t segbuf[OFFLOAD_MAX_SEGS + 8][SEG_CAP];
static struct offload_seg segs[OFFLOAD_MAX_SEGS + 8];
static struct offload_coalescer co;
static uint8_t arena[4 * 65536];

static void reset_segs(void)
{
	for (unsigned i = 0; i < OFFLOAD_MAX_SEGS + 8; i++)
		segs[i] = (struct offload_seg){ segbuf[i], SEG_CAP, 0 };
}

/* What a super-packet looks like. */
struct spec {
	int version;
	uint8_t proto;
	size_t payload;
	uint16_t mss;
	uint8_t flags; /* TCP */
	size_t opts;   /* TCP option bytes, a multiple of 4 */
	int df;
	uint16_t id;
	uint32_t seq;
	int ecn; /* VIRTIO_NET_HDR_GSO_ECN */
	uint16_t sport;
};

static const struct spec tcp4 = { 4, TCP, 10000, 1240, ACK | PSH, 12, 1, 0x1234, 1000, 0, 40000 };
static const struct spec tcp6 = { 6, TCP, 10000, 1220, ACK | PSH, 12, 0, 0, 0xfffff000u, 0, 40000 };
static const struct spec udp4 = { 4, UDP, 9000, 1252, 0, 0, 0, 7, 0, 0, 5353 };
static const struct spec udp6 = { 6, UDP, 9000, 1232, 0, 0, 0, 0, 0, 0, 5353 };

static size_t l3len(int version)
{
	return version == 4 ? 20 : 40;
}

static size_t l4hdr(const struct spec *s)
{
	return s->proto == TCP ? 20 + s->opts : 8;
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 131 + (i >> 8) * 7 + 3);
}

/* IP header for an L4 part of l4len bytes. */
static void put_ip(uint8_t *b, const struct spec *s, size_t l4len)
{
	if (s->version == 4) {
		memset(b, 0, 20);
		b[0] = 0x45;
		be16_put(b + 2, (uint16_t)(20 + l4len));
		be16_put(b + 4, s->id);
		be16_put(b + 6, s->df ? 0x4000 : 0);
		b[8] = 64;
		b[9] = s->proto;
		b[12] = 100;
		b[13] = 64;
		b[14] = 1;
		b[15] = 2;
		b[16] = 100;
		b[17] = 64;
		b[18] = 9;
		b[19] = 9;
		be16_put(b + 10, (uint16_t)~ov_sum(0, b, 20));
		return;
	}
	memset(b, 0, 40);
	b[0] = 0x60;
	b[1] = 0x0a; /* flow label 0xa1234 */
	b[2] = 0x12;
	b[3] = 0x34;
	be16_put(b + 4, (uint16_t)l4len);
	b[6] = s->proto;
	b[7] = 64;
	b[8] = 0x02;
	b[9] = 0x01;
	b[23] = 0x01;
	b[24] = 0x02;
	b[25] = 0x01;
	b[39] = 0x09;
}

/*
 * A super-packet as the kernel hands it to the TUN reader: valid IPv4
 * header checksum, the pseudo-header sum (full length) in the L4 checksum
 * field, the whole L4 length in the UDP length field; *vh to match.
 */
static size_t mk_gso(uint8_t *b, const struct spec *s, struct virtio_net_hdr *vh)
{
	size_t l3 = l3len(s->version), hl = l4hdr(s), l4len = hl + s->payload;
	uint8_t *l4 = b + l3;

	put_ip(b, s, l4len);
	memset(l4, 0, hl);
	be16_put(l4, s->sport);
	be16_put(l4 + 2, 443);
	if (s->proto == TCP) {
		be32_put(l4 + 4, s->seq);
		be32_put(l4 + 8, 0xa0a0a0a0u);
		l4[12] = (uint8_t)((hl / 4) << 4);
		l4[13] = s->flags;
		be16_put(l4 + 14, 502);
		for (size_t i = 0; i + 4 <= s->opts; i += 4) {
			/* NOP NOP then a 2-byte kind the receiver ignores, its bytes fixed */
			l4[20 + i] = 1;
			l4[21 + i] = 1;
			l4[22 + i] = (uint8_t)(0x10 + i);
			l4[23 + i] = (uint8_t)(0x20 + i);
		}
		be16_put(l4 + 16, ov_pseudo(b, TCP, l4len));
	} else {
		be16_put(l4 + 4, (uint16_t)l4len);
		be16_put(l4 + 6, ov_pseudo(b, UDP, l4len));
	}
	for (size_t i = 0; i < s->payload; i++)
		l4[hl + i] = pattern(i);
	memset(vh, 0, sizeof(*vh));
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	if (s->proto == TCP)
		vh->gso_type =
			s->version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
	else
		vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	if (s->ecn)
		vh->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	vh->gso_size = s->mss;
	vh->hdr_len = (uint16_t)(l3 + hl);
	vh->csum_start = (uint16_t)l3;
	vh->csum_offset = s->proto == TCP ? 16 : 6;
	return l3 + l4len;
}

/* Recomputes the IPv4 header and L4 checksums after a test edited a packet. */
static void fix_csums(uint8_t *p, size_t len)
{
	size_t l3 = (p[0] >> 4) == 4 ? (size_t)(p[0] & 15) * 4 : 40;
	uint8_t proto = (p[0] >> 4) == 4 ? p[9] : p[6];
	size_t at = l3 + (proto == TCP ? 16 : 6);
	uint16_t c;

	if ((p[0] >> 4) == 4) {
		be16_put(p + 10, 0);
		be16_put(p + 10, (uint16_t)~ov_sum(0, p, l3));
	}
	be16_put(p + at, 0);
	c = (uint16_t)~ov_sum(ov_pseudo(p, proto, len - l3), p + l3, len - l3);
	be16_put(p + at, c ? c : 0xffff);
}

/* Every segment of a split of s: complete, numbered and flagged right. */
static void check_split(const struct spec *s, const uint8_t *orig, int n)
{
	size_t l3 = l3len(s->version), hl = l4hdr(s), off = 0;
	unsigned want = s->payload > s->mss ? (unsigned)((s->payload + s->mss - 1) / s->mss) : 1;
	struct packet_info pi;

	assert_int_equal(n, (int)want);
	for (int i = 0; i < n; i++) {
		const uint8_t *g = segs[i].data, *l4 = g + l3;
		size_t plen = s->payload - off < s->mss ? s->payload - off : s->mss;

		assert_int_equal(segs[i].len, l3 + hl + plen);
		assert_int_equal(ov_segment(g, segs[i].len, &pi), 0);
		assert_int_equal(pi.version, s->version);
		if (s->version == 4) {
			assert_int_equal(ov_rd16(g + 4), (uint16_t)(s->id + i));
			assert_int_equal(ov_rd16(g + 6), s->df ? 0x4000 : 0);
			assert_memory_equal(g + 8, orig + 8, 2);
			assert_memory_equal(g + 12, orig + 12, 8);
		} else {
			assert_memory_equal(g, orig, 4);
			assert_memory_equal(g + 6, orig + 6, 34);
		}
		if (s->proto == TCP) {
			uint8_t fl = s->flags;

			assert_int_equal(ov_rd32(l4 + 4), (uint32_t)(s->seq + off));
			if (i + 1 < n)
				fl &= (uint8_t) ~(FIN | PSH);
			if (i > 0)
				fl &= (uint8_t)~CWR;
			assert_int_equal(l4[13], fl);
			assert_memory_equal(l4 + 8, orig + l3 + 8, 5);
			assert_memory_equal(l4 + 14, orig + l3 + 14, 2);
			assert_memory_equal(l4 + 18, orig + l3 + 18, hl - 18);
		} else {
			assert_int_equal(ov_rd16(l4 + 4), 8 + plen);
		}
		assert_memory_equal(l4, orig + l3, 4);
		assert_memory_equal(g + l3 + hl, orig + l3 + hl + off, plen);
		off += plen;
	}
	assert_int_equal(off, s->payload);
}

static int split(const struct virtio_net_hdr *vh, const uint8_t *p, size_t len)
{
	reset_segs();
	return offload_split(vh, p, len, segs, OFFLOAD_MAX_SEGS);
}

/* Splits s, checks the segments, coalesces them and checks that the one
 * output is the original super-packet, header and all. */
static void round_trip(const struct spec *s)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET];
	struct offload_in in[OFFLOAD_MAX_SEGS];
	struct offload_out out[OFFLOAD_MAX_SEGS];
	struct virtio_net_hdr vh;
	size_t len = mk_gso(pkt, s, &vh);
	int n = split(&vh, pkt, len), m;

	check_split(s, pkt, n);
	for (int i = 0; i < n; i++)
		in[i] = (struct offload_in){ segs[i].data, segs[i].len };
	m = offload_coalesce(&co, in, (unsigned)n, arena, sizeof(arena), out);
	assert_int_equal(ov_coalesce(in, (unsigned)n, out, m), 0);
	if (n == 1) {
		assert_int_equal(m, 1);
		assert_int_equal(out[0].vh.gso_type, 0);
		assert_ptr_equal(out[0].data, segs[0].data);
		return;
	}
	assert_int_equal(m, 1);
	assert_int_equal(out[0].packets, n);
	assert_int_equal(out[0].len, len);
	assert_memory_equal(out[0].data, pkt, len);
	assert_int_equal(out[0].vh.flags, vh.flags);
	assert_int_equal(out[0].vh.gso_type, vh.gso_type);
	assert_int_equal(out[0].vh.gso_size, vh.gso_size);
	assert_int_equal(out[0].vh.hdr_len, vh.hdr_len);
	assert_int_equal(out[0].vh.csum_start, vh.csum_start);
	assert_int_equal(out[0].vh.csum_offset, vh.csum_offset);
}

/* ---- checksum helpers ---- */

static void test_csum_helpers(void **state)
{
	static const uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				       0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
	uint8_t b[600];
	uint32_t seed = 12345;

	(void)state;
	assert_int_equal((uint16_t)~packet_csum_fold(packet_csum_add(0, h, 20)), 0xb861);
	assert_int_equal(packet_csum_add(0, (const uint8_t *)"\x01\x02\x03", 3), 0x0402);
	assert_int_equal(packet_csum_add(0, b, 0), 0);
	assert_int_equal(packet_csum_fold(0x1fffe), 0xffff);
	assert_int_equal(packet_csum_fold(0xffffffffu), 0xffff);
	for (int round = 0; round < 2000; round++) {
		size_t n, cut;
		uint32_t start;

		seed = seed * 1103515245 + 12345;
		n = (seed >> 8) % sizeof(b);
		start = seed % 3 ? (seed >> 4) & 0xffff : 0xffffffffu;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			b[i] = round % 7 ? (uint8_t)(seed >> 16) : 0xff;
		}
		/* any start offset: the fast loop must not depend on alignment */
		cut = n ? (seed >> 20) % n : 0;
		assert_int_equal(packet_csum_fold(packet_csum_add(start, b + cut, n - cut)),
				 ov_sum(packet_csum_fold(start), b + cut, n - cut));
		/* chained over an even split point */
		cut &= ~(size_t)1;
		assert_int_equal(packet_csum_fold(packet_csum_add(packet_csum_add(start, b, cut),
								  b + cut, n - cut)),
				 ov_sum(packet_csum_fold(start), b, n));
	}
	/* RFC 1624 update == recompute, for every word position of a header */
	for (int round = 0; round < 500; round++) {
		uint8_t hh[20];
		uint16_t c, from, to;
		int w;

		memcpy(hh, h, 20);
		seed = seed * 1103515245 + 12345;
		hh[4] = (uint8_t)seed;
		hh[5] = (uint8_t)(seed >> 8);
		be16_put(hh + 10, (uint16_t)~ov_sum(0, hh, 20));
		c = ov_rd16(hh + 10);
		w = (int)((seed >> 16) % 10);
		if (w == 5)
			continue; /* the checksum word itself */
		from = ov_rd16(hh + 2 * w);
		to = round % 5 ? (uint16_t)(seed >> 3) : (uint16_t)~from;
		be16_put(hh + 2 * w, to);
		assert_int_equal(ov_sum(0, hh, 10) + 0, ov_sum(0, hh, 10));
		be16_put(hh + 10, packet_csum_update16(c, from, to));
		assert_int_equal(ov_sum(0, hh, 20), 0xffff);
	}
	/* pseudo-header, both versions */
	{
		uint8_t v6[40] = { 0x60 };

		for (int i = 8; i < 40; i++)
			v6[i] = (uint8_t)(i * 9);
		assert_int_equal(packet_csum_fold(packet_csum_pseudo(h, 17, 95)),
				 ov_pseudo(h, 17, 95));
		assert_int_equal(packet_csum_fold(packet_csum_pseudo(v6, 6, 70000)),
				 ov_pseudo(v6, 6, 70000));
	}
}

static void test_vnet_rw(void **state)
{
	static const uint8_t wire[10] = { 1, 0x81, 0x34, 0x00, 0xd8, 0x04, 0x14, 0x00, 0x10, 0x00 };
	struct virtio_net_hdr vh, back;
	uint8_t buf[10];

	(void)state;
	assert_int_equal(offload_vnet_read(wire, 9, &vh), -EINVAL);
	assert_int_equal(offload_vnet_read(wire, 10, &vh), 0);
	assert_int_equal(vh.flags, 1);
	assert_int_equal(vh.gso_type, 0x81);
	assert_int_equal(vh.hdr_len, 0x34);
	assert_int_equal(vh.gso_size, 1240);
	assert_int_equal(vh.csum_start, 20);
	assert_int_equal(vh.csum_offset, 16);
	offload_vnet_write(buf, &vh);
	assert_memory_equal(buf, wire, 10);
	assert_int_equal(offload_vnet_read(buf, sizeof(buf), &back), 0);
	assert_memory_equal(&back, &vh, sizeof(vh));
}

/* ---- split ---- */

static void test_split_tcp4(void **state)
{
	struct spec s = tcp4;

	(void)state;
	round_trip(&s);
	s.payload = 1240 * 8; /* an exact multiple: the last one full */
	round_trip(&s);
	s.payload = 100; /* below gso_size: one segment */
	round_trip(&s);
	s.payload = 0; /* headers only */
	round_trip(&s);
	s = tcp4;
	s.flags = ACK | FIN | PSH | CWR | ECE;
	s.ecn = 1;
	round_trip(&s);
	s = tcp4;
	s.df = 0;
	s.id = 0xfffe; /* IDs wrap while counting up */
	round_trip(&s);
	s.opts = 40;                 /* the longest TCP header */
	s.payload = 65535 - 20 - 60; /* the largest IPv4 packet */
	round_trip(&s);
	s.opts = 0;
	s.mss = 1460;
	s.seq = 0xffffff00u; /* sequence numbers wrap */
	round_trip(&s);
}

static void test_split_tcp6(void **state)
{
	struct spec s = tcp6;

	(void)state;
	round_trip(&s);
	s.payload = 1;
	round_trip(&s);
	s.flags = ACK | FIN;
	s.payload = 1220 * 3 + 7;
	round_trip(&s);
	s.opts = 0;
	s.payload = 65535 - 20 - 40; /* the largest IPv6 packet we merge */
	s.mss = 1440;
	round_trip(&s);
}

static void test_split_udp(void **state)
{
	struct spec s = udp4;

	(void)state;
	round_trip(&s);
	s.payload = 1252 * 4;
	round_trip(&s);
	s.payload = 3;
	round_trip(&s);
	s.df = 1;
	s.payload = 65535 - 28;
	s.mss = 1472;
	round_trip(&s);
	s = udp6;
	round_trip(&s);
	s.payload = 1232 * 2 + 1;
	round_trip(&s);
	s.mss = 1; /* tiny segments up to the cap */
	s.payload = OFFLOAD_MAX_SEGS;
	round_trip(&s);
}

/* An IPv6 super-packet longer than 65535 bytes (payload length up to
 * 65535) splits, and merges back in two parts. */
static void test_split_v6_jumbo_edge(void **state)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET];
	struct offload_in in[OFFLOAD_MAX_SEGS];
	struct offload_out out[OFFLOAD_MAX_SEGS];
	struct virtio_net_hdr vh;
	struct spec s = tcp6;
	size_t len;
	int n, m;

	(void)state;
	s.opts = 0;
	s.payload = 65535 - 20;
	s.mss = 1440;
	len = mk_gso(pkt, &s, &vh);
	assert_int_equal(len, OFFLOAD_MAX_PACKET);
	n = split(&vh, pkt, len);
	check_split(&s, pkt, n);
	for (int i = 0; i < n; i++)
		in[i] = (struct offload_in){ segs[i].data, segs[i].len };
	m = offload_coalesce(&co, in, (unsigned)n, arena, sizeof(arena), out);
	assert_int_equal(m, 2);
	assert_int_equal(ov_coalesce(in, (unsigned)n, out, m), 0);
}

static void test_split_limits(void **state)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET];
	struct virtio_net_hdr vh;
	struct spec s = udp4;
	size_t len;

	(void)state;
	s.mss = 100;
	s.payload = 100 * OFFLOAD_MAX_SEGS;
	len = mk_gso(pkt, &s, &vh);
	reset_segs();
	assert_int_equal(offload_split(&vh, pkt, len, segs, OFFLOAD_MAX_SEGS), OFFLOAD_MAX_SEGS);
	assert_int_equal(offload_split(&vh, pkt, len, segs, OFFLOAD_MAX_SEGS - 1), -ENOSPC);
	s.payload++;
	len = mk_gso(pkt, &s, &vh);
	assert_int_equal(offload_split(&vh, pkt, len, segs, OFFLOAD_MAX_SEGS), -ENOSPC);
	assert_int_equal(offload_split(&vh, pkt, len, segs, OFFLOAD_MAX_SEGS + 1),
			 OFFLOAD_MAX_SEGS + 1);
	/* a segment buffer too small, first or last */
	s.payload = 250;
	len = mk_gso(pkt, &s, &vh);
	segs[0].cap = 127;
	assert_int_equal(offload_split(&vh, pkt, len, segs, 3), -ENOSPC);
	segs[0].cap = 128;
	segs[2].cap = 77;
	assert_int_equal(offload_split(&vh, pkt, len, segs, 3), -ENOSPC);
	segs[2].cap = 78;
	assert_int_equal(offload_split(&vh, pkt, len, segs, 3), 3);
	/* gso_size larger than the payload (up to 65535): one segment */
	s.mss = 65535;
	s.payload = 3000;
	len = mk_gso(pkt, &s, &vh);
	assert_int_equal(split(&vh, pkt, len), 1);
	check_split(&s, pkt, 1);
	/* a plain packet needs one buffer that holds it */
	memset(&vh, 0, sizeof(vh));
	reset_segs();
	assert_int_equal(offload_split(&vh, pkt, len, segs, 0), -ENOSPC);
	segs[0].cap = len - 1;
	assert_int_equal(offload_split(&vh, pkt, len, segs, 1), -ENOSPC);
}

/* A plain packet: no flags copies it as it is, NEEDS_CSUM finishes it. */
static void test_plain_csum(void **state)
{
	static uint8_t pkt[4096], copy[4096];
	struct virtio_net_hdr vh;
	struct packet_info pi;
	const struct spec *kinds[] = { &tcp4, &tcp6, &udp4, &udp6 };

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct spec s = *kinds[k];
		size_t len;

		s.payload = 777;
		len = mk_gso(pkt, &s, &vh);
		vh.gso_type = 0;
		vh.gso_size = 0;
		assert_int_equal(split(&vh, pkt, len), 1);
		assert_int_equal(segs[0].len, len);
		assert_int_equal(ov_segment(segs[0].data, len, &pi), 0);
		/* in place, the same bytes */
		memcpy(copy, pkt, len);
		assert_int_equal(offload_csum_finish(&vh, copy, len), (int)len);
		assert_memory_equal(copy, segs[0].data, len);
		/* a GSO header is split's job, not this one's */
		memcpy(copy, pkt, len);
		vh.gso_type = s.proto == TCP ? (s.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4
							       : VIRTIO_NET_HDR_GSO_TCPV6)
					     : VIRTIO_NET_HDR_GSO_UDP_L4;
		vh.gso_size = 100;
		assert_int_equal(offload_csum_finish(&vh, copy, len), -EINVAL);
		assert_memory_equal(copy, pkt, len);
		vh.gso_type = 0;
		vh.gso_size = 0;
		/* trailing bytes are not summed and not counted */
		memcpy(copy, pkt, len);
		copy[len] = 0x55;
		assert_int_equal(offload_csum_finish(&vh, copy, len + 1), (int)len);
		assert_memory_equal(copy, segs[0].data, len);
		/* no flags: untouched */
		vh.flags = 0;
		assert_int_equal(split(&vh, pkt, len), 1);
		assert_memory_equal(segs[0].data, pkt, len);
		assert_int_equal(offload_csum_finish(&vh, copy, 3), -EINVAL); /* hdr_len */
		vh.hdr_len = 0;
		assert_int_equal(offload_csum_finish(&vh, copy, 3), 3);
		/* DATA_VALID alone: nothing to do either */
		vh.flags = VIRTIO_NET_HDR_F_DATA_VALID;
		assert_int_equal(split(&vh, pkt, len), 1);
		assert_memory_equal(segs[0].data, pkt, len);
	}
}

/* A UDP sum that comes out 0 is sent as 0xffff: 0 would mean "none". */
static void test_plain_udp_zero(void **state)
{
	static uint8_t pkt[256];
	struct virtio_net_hdr vh;
	struct packet_info pi;
	struct spec s = udp4;
	size_t len;
	uint16_t c;

	(void)state;
	s.payload = 20;
	len = mk_gso(pkt, &s, &vh);
	vh.gso_type = 0;
	vh.gso_size = 0;
	/* make the data sum to 0xffff: put the would-be checksum in the payload */
	be16_put(pkt + 28, 0);
	assert_int_equal(split(&vh, pkt, len), 1);
	c = ov_rd16(segs[0].data + 26);
	be16_put(pkt + 28, c);
	assert_int_equal(split(&vh, pkt, len), 1);
	assert_int_equal(ov_rd16(segs[0].data + 26), 0xffff);
	assert_int_equal(ov_segment(segs[0].data, len, &pi), 0);
}

/* A checksum field somewhere else in the L4 data (a tunnel's outer UDP, say)
 * is finished generically. */
static void test_plain_generic(void **state)
{
	static uint8_t pkt[512];
	struct virtio_net_hdr vh;
	struct spec s = udp4;
	size_t len;

	(void)state;
	s.payload = 100;
	len = mk_gso(pkt, &s, &vh);
	memset(&vh, 0, sizeof(vh));
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.csum_start = 28 + 10; /* inside the payload */
	vh.csum_offset = 20;
	/* what the field held is the partial sum the kernel left there */
	assert_int_equal(split(&vh, pkt, len), 1);
	assert_int_equal(ov_sum(ov_rd16(pkt + 58), segs[0].data + 38, len - 38), 0xffff);
	assert_memory_equal(segs[0].data, pkt, 58);
	assert_memory_equal(segs[0].data + 60, pkt + 60, len - 60);
	vh.csum_offset = 21; /* odd: the sum would not line up */
	assert_int_equal(split(&vh, pkt, len), -EINVAL);
	vh.csum_offset = (uint16_t)(len - 38 - 2); /* the last two bytes */
	assert_int_equal(split(&vh, pkt, len), 1);
	vh.csum_offset += 2;
	assert_int_equal(split(&vh, pkt, len), -EINVAL);
}

/* ---- hostile headers ---- */

/* offload_split on an exact-size heap copy, so any overread trips ASan. */
static int split_heap(const struct virtio_net_hdr *vh, const uint8_t *p, size_t len)
{
	uint8_t *h = malloc(len ? len : 1);
	struct offload_info oi;
	int rc, rc2;

	assert_non_null(h);
	memcpy(h, p, len);
	rc = split(vh, h, len);
	rc2 = offload_check(vh, h, len, &oi);
	if (rc2 == 0 && rc < 0)
		assert_int_equal(rc, -ENOSPC);
	else
		assert_int_equal(rc < 0 ? rc : 0, rc2);
	if (rc > 0 && vh->gso_type)
		for (int i = 0; i < rc; i++) {
			struct packet_info pi;

			assert_int_equal(ov_segment(segs[i].data, segs[i].len, &pi), 0);
		}
	free(h);
	return rc;
}

static void test_hostile_vnet(void **state)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET];
	struct virtio_net_hdr good, vh;
	size_t len;

	(void)state;
	len = mk_gso(pkt, &tcp4, &good);
	assert_int_equal(split_heap(&good, pkt, len), 9);
#define TRY(field, value, want)                                      \
	do {                                                         \
		vh = good;                                           \
		vh.field = (value);                                  \
		assert_int_equal(split_heap(&vh, pkt, len), (want)); \
	} while (0)
	TRY(gso_size, 0, -EINVAL);
	TRY(gso_size, 65535, 1);
	TRY(gso_size, 1, -ENOSPC);      /* 10000 segments */
	TRY(hdr_len, (uint16_t)len, 9); /* a hint: anything within */
	TRY(hdr_len, 0, 9);
	TRY(hdr_len, (uint16_t)(len + 1), -EINVAL);
	TRY(hdr_len, 0xffff, -EINVAL);
	TRY(csum_start, 0, -EINVAL);
	TRY(csum_start, 19, -EINVAL);
	TRY(csum_start, 21, -EINVAL);
	TRY(csum_start, 0xffff, -EINVAL);
	TRY(csum_offset, 6, -EINVAL);
	TRY(csum_offset, 0xffff, -EINVAL);
	TRY(flags, 0, -EINVAL); /* GSO without NEEDS_CSUM */
	TRY(flags, VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID, 9);
	TRY(flags, VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_RSC_INFO, -EINVAL);
	TRY(flags, 0xff, -EINVAL);
	TRY(gso_type, VIRTIO_NET_HDR_GSO_TCPV6, -EINVAL);        /* IPv4 packet */
	TRY(gso_type, VIRTIO_NET_HDR_GSO_UDP_L4, -EINVAL);       /* a TCP packet */
	TRY(gso_type, VIRTIO_NET_HDR_GSO_UDP, -EPROTONOSUPPORT); /* UFO */
	TRY(gso_type, 2, -EPROTONOSUPPORT);
	TRY(gso_type, 0x21, -EPROTONOSUPPORT); /* tunnel bits */
	TRY(gso_type, 0x41, -EPROTONOSUPPORT);
	TRY(gso_type, VIRTIO_NET_HDR_GSO_ECN, -EINVAL); /* ECN on no GSO */
	TRY(gso_type, VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN, 9);
	/* wrong IP version for the type, other way round */
	len = mk_gso(pkt, &tcp6, &good);
	TRY(gso_type, VIRTIO_NET_HDR_GSO_TCPV4, -EINVAL);
	TRY(csum_start, 20, -EINVAL);
	/* UDP: TCP types and ECN refused, the TCP checksum offset too */
	len = mk_gso(pkt, &udp6, &good);
	assert_int_equal(split_heap(&good, pkt, len), 8);
	TRY(gso_type, VIRTIO_NET_HDR_GSO_TCPV6, -EINVAL);
	TRY(gso_type, VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN, -EINVAL);
	TRY(csum_offset, 16, -EINVAL);
	/* plain packets with a partial checksum */
	len = mk_gso(pkt, &tcp4, &good);
	good.gso_type = 0;
	good.gso_size = 0;
	assert_int_equal(split_heap(&good, pkt, len), 1);
	TRY(csum_start, 19, -EINVAL); /* inside the IP header */
	TRY(csum_start, (uint16_t)(len - 1), -EINVAL);
	TRY(csum_start, (uint16_t)(len - 2), -EINVAL); /* + offset 16 */
	TRY(csum_offset, (uint16_t)(len - 20 - 2), 1);
	TRY(csum_offset, (uint16_t)(len - 20 - 1), -EINVAL);
	TRY(csum_offset, 0xfffe, -EINVAL);
	TRY(gso_size, 1240, 1); /* ignored without a type */
#undef TRY
}

static void test_hostile_packets(void **state)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET];
	struct virtio_net_hdr vh, plain;
	size_t len;

	(void)state;
	/* IPv4 options: refused for GSO (and the lengths are right) */
	len = mk_gso(pkt, &tcp4, &vh);
	memmove(pkt + 24, pkt + 20, len - 20);
	pkt[0] = 0x46;
	memset(pkt + 20, 1, 4); /* NOP options */
	be16_put(pkt + 2, (uint16_t)(len + 4));
	vh.csum_start = 24;
	assert_int_equal(split_heap(&vh, pkt, len + 4), -EPROTONOSUPPORT);
	/* a plain one with options is finished fine: the offsets say where */
	plain = vh;
	plain.gso_type = 0;
	assert_int_equal(split_heap(&plain, pkt, len + 4), 1);
	/* IHL below 5, version 5, version 0 */
	len = mk_gso(pkt, &tcp4, &vh);
	pkt[0] = 0x44;
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	pkt[0] = 0x55;
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	pkt[0] = 0x05;
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	/* fragments: MF, an offset */
	len = mk_gso(pkt, &tcp4, &vh);
	be16_put(pkt + 6, 0x2000);
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	be16_put(pkt + 6, 0x0001);
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	be16_put(pkt + 6, 0x8000); /* the reserved bit is carried, not judged */
	assert_int_equal(split_heap(&vh, pkt, len), 9);
	/* a plain fragment with a partial checksum */
	plain = vh;
	plain.gso_type = 0;
	be16_put(pkt + 6, 0x2000);
	assert_int_equal(split_heap(&plain, pkt, len), -EINVAL);
	/* IPv4 total length longer or shorter than the bytes read */
	len = mk_gso(pkt, &tcp4, &vh);
	be16_put(pkt + 2, (uint16_t)(len - 1));
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	be16_put(pkt + 2, (uint16_t)(len + 1));
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	/* TCP data offset below 5 and beyond the packet */
	len = mk_gso(pkt, &tcp4, &vh);
	pkt[32] = 0x40;
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	pkt[32] = 0xf0;
	be16_put(pkt + 2, 60);
	assert_int_equal(split_heap(&vh, pkt, 20 + 40), -EINVAL);
	/* shorter than a TCP header, the lengths agreeing */
	len = mk_gso(pkt, &tcp4, &vh);
	be16_put(pkt + 2, 30);
	vh.hdr_len = 0;
	assert_int_equal(split_heap(&vh, pkt, 30), -EINVAL);
	/* IPv4 with a UDP protocol under a TCP type */
	len = mk_gso(pkt, &tcp4, &vh);
	pkt[9] = UDP;
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	/* IPv6: payload length off by one, extension headers, other protocols */
	len = mk_gso(pkt, &tcp6, &vh);
	be16_put(pkt + 4, (uint16_t)(len - 40 + 1));
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	be16_put(pkt + 4, (uint16_t)(len - 40 - 1));
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	len = mk_gso(pkt, &tcp6, &vh);
	{
		const uint8_t ext[] = { 0, 43, 44, 51, 60, 135, 139, 140 };

		for (size_t i = 0; i < sizeof(ext); i++) {
			pkt[6] = ext[i];
			assert_int_equal(split_heap(&vh, pkt, len), -EPROTONOSUPPORT);
		}
	}
	pkt[6] = 58; /* ICMPv6 */
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	pkt[6] = 0x3b; /* no next header */
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	/* a jumbogram's zero payload length */
	len = mk_gso(pkt, &tcp6, &vh);
	be16_put(pkt + 4, 0);
	assert_int_equal(split_heap(&vh, pkt, len), -EINVAL);
	/* NULL and empty */
	assert_int_equal(offload_split(&vh, NULL, 0, segs, 1), -EINVAL);
	assert_int_equal(split_heap(&vh, pkt, 0), -EINVAL);
}

/* Every prefix of every kind of packet, GSO and plain, on heap copies. */
static void test_truncations(void **state)
{
	static uint8_t pkt[8192];
	const struct spec *kinds[] = { &tcp4, &tcp6, &udp4, &udp6 };

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct spec s = *kinds[k];
		struct virtio_net_hdr vh, plain;
		size_t len;

		s.payload = 3000;
		len = mk_gso(pkt, &s, &vh);
		plain = vh;
		plain.gso_type = 0;
		plain.gso_size = 0;
		for (size_t cut = 0; cut < len; cut++) {
			struct virtio_net_hdr v = vh;

			v.hdr_len = 0;
			assert_true(split_heap(&v, pkt, cut) < 0);
			v = plain;
			v.hdr_len = 0;
			assert_true(split_heap(&v, pkt, cut) < 0);
		}
	}
}

/* Random corruption of header bytes and vnet fields: anything accepted
 * splits into valid packets, nothing reads out of bounds. */
static void test_corruption(void **state)
{
	static uint8_t base[4][4096], pkt[4096];
	struct virtio_net_hdr vhs[4];
	size_t lens[4];
	const struct spec *kinds[] = { &tcp4, &tcp6, &udp4, &udp6 };
	uint32_t seed = 99;
	int accepted = 0;

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct spec s = *kinds[k];

		s.payload = 2500;
		lens[k] = mk_gso(base[k], &s, &vhs[k]);
	}
	for (int i = 0; i < 30000; i++) {
		int k = i % 4;
		struct virtio_net_hdr vh = vhs[k];
		size_t len = lens[k];
		int rc;

		memcpy(pkt, base[k], len);
		for (int f = 0; f < 2; f++) {
			seed = seed * 1103515245 + 12345;
			pkt[(seed >> 8) % 80] ^= (uint8_t)(1u << ((seed >> 20) & 7));
		}
		seed = seed * 1103515245 + 12345;
		switch ((seed >> 8) % 8) {
		case 0:
			vh.gso_size = (uint16_t)(seed >> 16);
			break;
		case 1:
			vh.csum_start ^= (uint16_t)(1u << ((seed >> 16) % 16));
			break;
		case 2:
			vh.csum_offset ^= (uint16_t)(1u << ((seed >> 16) % 16));
			break;
		case 3:
			vh.gso_type ^= (uint8_t)(1u << ((seed >> 16) % 8));
			break;
		case 4:
			vh.flags ^= (uint8_t)(1u << ((seed >> 16) % 8));
			break;
		case 5:
			len -= (seed >> 16) % 64;
			break;
		default:
			break;
		}
		rc = split_heap(&vh, pkt, len);
		assert_true(rc > 0 || rc == -EINVAL || rc == -EPROTONOSUPPORT || rc == -ENOSPC);
		accepted += rc > 0;
	}
	assert_true(accepted > 1000);
}

/* ---- coalesce ---- */

static uint8_t stream[OFFLOAD_MAX_SEGS + 8][2048];
static size_t stream_len[OFFLOAD_MAX_SEGS + 8];

/* n in-order segments of s (mss-sized payloads), as a peer would send them. */
static int mk_stream(const struct spec *s)
{
	static uint8_t pkt[OFFLOAD_MAX_PACKET];
	struct virtio_net_hdr vh;
	size_t len = mk_gso(pkt, s, &vh);
	int n = split(&vh, pkt, len);

	assert_true(n > 0 && n <= OFFLOAD_MAX_SEGS + 8);
	for (int i = 0; i < n; i++) {
		assert_true(segs[i].len <= sizeof(stream[i]));
		memcpy(stream[i], segs[i].data, segs[i].len);
		stream_len[i] = segs[i].len;
	}
	return n;
}

static struct offload_out outs[OFFLOAD_BATCH_MAX];

/* Coalesces the packets given by index into `stream` and checks the
 * contract; returns the number of outputs. */
static int coalesce_idx(const int *idx, int n)
{
	struct offload_in in[OFFLOAD_BATCH_MAX];
	int m;

	for (int i = 0; i < n; i++)
		in[i] = (struct offload_in){ stream[idx[i]], stream_len[idx[i]] };
	m = offload_coalesce(&co, in, (unsigned)n, arena, sizeof(arena), outs);
	assert_true(m > 0);
	assert_int_equal(ov_coalesce(in, (unsigned)n, outs, m), 0);
	return m;
}

/* outs[o] carries exactly `packets` inputs, merged or not. */
static void expect(int o, unsigned packets)
{
	assert_int_equal(outs[o].packets, packets);
	assert_int_equal(outs[o].vh.gso_type != 0, packets > 1);
}

static void test_coalesce_order(void **state)
{
	struct spec s = tcp4;
	const int ooo[] = { 0, 2, 1, 3 }, gap[] = { 0, 1, 3, 4 };
	const int retrans[] = { 0, 1, 2, 1, 3 }, dup[] = { 0, 1, 1, 2 };
	const int rev[] = { 3, 2, 1, 0 };

	(void)state;
	s.payload = 1240 * 6;
	mk_stream(&s);
	assert_int_equal(coalesce_idx(ooo, 4), 4);
	for (int i = 0; i < 4; i++) {
		expect(i, 1);
		assert_ptr_equal(outs[i].data, stream[ooo[i]]);
	}
	assert_int_equal(coalesce_idx(gap, 4), 2);
	expect(0, 2);
	expect(1, 2);
	assert_int_equal(coalesce_idx(retrans, 5), 3);
	expect(0, 3);
	expect(1, 1);
	expect(2, 1);
	assert_int_equal(coalesce_idx(dup, 4), 2);
	expect(0, 2);
	expect(1, 2);
	assert_int_equal(coalesce_idx(rev, 4), 4);
}

/* Edits segment i of the stream and fixes its checksums. */
typedef void (*edit_fn)(uint8_t *p, size_t l3);

static void ed_psh(uint8_t *p, size_t l3)
{
	p[l3 + 13] |= PSH;
}
static void ed_fin(uint8_t *p, size_t l3)
{
	p[l3 + 13] |= FIN;
}
static void ed_syn(uint8_t *p, size_t l3)
{
	p[l3 + 13] |= SYN;
}
static void ed_rst(uint8_t *p, size_t l3)
{
	p[l3 + 13] |= RST;
}
static void ed_urg(uint8_t *p, size_t l3)
{
	p[l3 + 13] |= URG;
}
static void ed_ece(uint8_t *p, size_t l3)
{
	p[l3 + 13] |= ECE;
}
static void ed_cwr(uint8_t *p, size_t l3)
{
	p[l3 + 13] |= CWR;
}
static void ed_ack(uint8_t *p, size_t l3)
{
	p[l3 + 11]++;
}
static void ed_win(uint8_t *p, size_t l3)
{
	p[l3 + 15]++;
}
static void ed_opt(uint8_t *p, size_t l3)
{
	p[l3 + 23]++;
}
static void ed_ae(uint8_t *p, size_t l3)
{
	p[l3 + 12] |= 1;
}
static void ed_urgptr(uint8_t *p, size_t l3)
{
	p[l3 + 19] = 9;
}
static void ed_ttl(uint8_t *p, size_t l3)
{
	p[l3 == 20 ? 8 : 7]--;
}
static void ed_tos(uint8_t *p, size_t l3)
{
	p[1] ^= l3 == 20 ? 0x01 : 0x10;
}
static void ed_df(uint8_t *p, size_t l3)
{
	if (l3 == 20)
		p[6] ^= 0x40;
	else
		p[3] ^= 1;
}
static void ed_id(uint8_t *p, size_t l3)
{
	if (l3 == 20)
		p[5] += 7;
}

struct edit_case {
	edit_fn fn;
	int at;         /* which of 4 segments */
	int outputs;    /* expected */
	unsigned first; /* packets in the first output */
};

static void run_edits(const struct spec *base, const struct edit_case *cases, size_t n)
{
	const int idx[] = { 0, 1, 2, 3 };

	for (size_t c = 0; c < n; c++) {
		struct spec s = *base;
		size_t l3 = l3len(s.version);

		s.payload = (size_t)s.mss * 4;
		mk_stream(&s);
		cases[c].fn(stream[cases[c].at], l3);
		fix_csums(stream[cases[c].at], stream_len[cases[c].at]);
		assert_int_equal(coalesce_idx(idx, 4), cases[c].outputs);
		expect(0, cases[c].first);
	}
}

static void test_coalesce_flags(void **state)
{
	/* a changed packet in the middle ends the run before it, and the one
	 * after it cannot join it either */
	static const struct edit_case tcp_cases[] = {
		{ ed_psh, 1, 2, 2 }, /* PSH ends a run, after joining it */
		{ ed_fin, 2, 2, 3 },
		{ ed_psh, 0, 2, 1 }, /* a first packet with PSH stays alone */
		{ ed_psh, 3, 1, 4 },
		{ ed_syn, 1, 3, 1 }, /* never merged, and it splits the flow */
		{ ed_rst, 2, 3, 2 },
		{ ed_urg, 0, 2, 1 },
		{ ed_ece, 1, 3, 1 }, /* other flags differ */
		{ ed_cwr, 0, 1, 4 }, /* CWR may start a run (ECN header) */
		{ ed_cwr, 2, 2, 2 }, /* not join one */
		{ ed_ack, 3, 2, 3 },
		{ ed_win, 1, 3, 1 },
		{ ed_opt, 2, 3, 2 },
		{ ed_ae, 1, 3, 1 },
		{ ed_urgptr, 1, 3, 1 },
		{ ed_ttl, 2, 3, 2 },
		{ ed_tos, 1, 3, 1 }, /* ECN bits too */
		{ ed_df, 3, 2, 3 },  /* DF, or the IPv6 flow label */
		{ ed_id, 2, 1, 4 },  /* IDs do not matter with DF set */
	};
	struct spec s = tcp4;

	(void)state;
	run_edits(&s, tcp_cases, sizeof(tcp_cases) / sizeof(tcp_cases[0]));
	s = tcp6;
	run_edits(&s, tcp_cases, sizeof(tcp_cases) / sizeof(tcp_cases[0]));
	/* ECN: CWR on the first sets GSO_ECN, and the round trip holds */
	s = tcp4;
	s.flags = ACK | CWR;
	s.ecn = 1;
	round_trip(&s);
}

/* IPv4 without DF: IDs must count up by one. */
static void test_coalesce_ids(void **state)
{
	static const struct edit_case cases[] = {
		{ ed_id, 2, 3, 2 },
		{ ed_ttl, 0, 2, 1 },
	};
	struct spec s = udp4;
	const int idx[] = { 0, 1, 2, 3 };

	(void)state;
	run_edits(&s, cases, 2);
	s = tcp4;
	s.df = 0;
	run_edits(&s, cases, 2);
	/* the same ID twice */
	s.payload = (size_t)s.mss * 4;
	mk_stream(&s);
	be16_put(stream[1] + 4, s.id);
	fix_csums(stream[1], stream_len[1]);
	assert_int_equal(coalesce_idx(idx, 4), 3);
}

static void test_coalesce_sizes(void **state)
{
	struct spec s = tcp4;
	const int idx[] = { 0, 1, 2, 3, 4 };
	const int short_mid[] = { 0, 4, 1 }, short_first[] = { 4, 0 };

	(void)state;
	s.payload = 1240 * 4 + 100;
	mk_stream(&s);
	/* the short last one joins */
	assert_int_equal(coalesce_idx(idx, 5), 1);
	assert_int_equal(outs[0].vh.gso_size, 1240);
	/* UDP: equal sizes, then one shorter */
	s = udp6;
	s.payload = 1232 * 4 + 100;
	mk_stream(&s);
	assert_int_equal(coalesce_idx(idx, 5), 1);
	/* a short one ends the run; a longer one cannot follow a short head */
	assert_int_equal(coalesce_idx(short_mid, 3), 2);
	expect(0, 2);
	assert_int_equal(coalesce_idx(short_first, 2), 2);
}

static void test_coalesce_interleaved(void **state)
{
	static uint8_t flows[20][6][2048];
	static size_t flens[20][6];
	struct offload_in in[OFFLOAD_BATCH_MAX];
	uint8_t icmp[28] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1 };
	int n = 0, m, merged = 0;

	(void)state;
	/* 20 flows (more than OFFLOAD_MAX_OPEN) of 6 segments, round robin */
	for (int f = 0; f < 20; f++) {
		struct spec s = f % 4 == 0 ? tcp4 : f % 4 == 1 ? tcp6 : f % 4 == 2 ? udp4 : udp6;
		int k;

		s.sport = (uint16_t)(1000 + f);
		s.payload = (size_t)s.mss * 6;
		s.flags = ACK; /* a PSH on the last would not open a run */
		k = mk_stream(&s);
		assert_int_equal(k, 6);
		for (int i = 0; i < 6; i++) {
			memcpy(flows[f][i], stream[i], stream_len[i]);
			flens[f][i] = stream_len[i];
		}
	}
	be16_put(icmp + 10, (uint16_t)~ov_sum(0, icmp, 20));
	for (int i = 0; i < 6; i++) {
		for (int f = 0; f < 20; f++)
			in[n++] = (struct offload_in){ flows[f][i], flens[f][i] };
		in[n++] = (struct offload_in){ icmp, sizeof(icmp) };
	}
	m = offload_coalesce(&co, in, (unsigned)n, arena, sizeof(arena), outs);
	assert_int_equal(ov_coalesce(in, (unsigned)n, outs, m), 0);
	for (int o = 0; o < m; o++)
		merged += outs[o].packets > 1;
	/* 20 flows but 16 open: round robin evicts before a second packet
	 * comes, so nothing merges; with 16 flows all of them merge */
	assert_int_equal(merged, 0);
	n = 0;
	for (int i = 0; i < 6; i++) {
		for (int f = 0; f < 16; f++)
			in[n++] = (struct offload_in){ flows[f][i], flens[f][i] };
		in[n++] = (struct offload_in){ icmp, sizeof(icmp) };
	}
	m = offload_coalesce(&co, in, (unsigned)n, arena, sizeof(arena), outs);
	assert_int_equal(ov_coalesce(in, (unsigned)n, outs, m), 0);
	assert_int_equal(m, 16 + 6);
	for (int o = 0; o < 16; o++)
		expect(o, 6);
	assert_ptr_equal(outs[16].data, icmp);
	/* two flows interleaved: both merge, outputs in order of first packet */
	n = 0;
	for (int i = 0; i < 6; i++) {
		in[n++] = (struct offload_in){ flows[1][i], flens[1][i] };
		in[n++] = (struct offload_in){ flows[2][i], flens[2][i] };
	}
	m = offload_coalesce(&co, in, (unsigned)n, arena, sizeof(arena), outs);
	assert_int_equal(m, 2);
	assert_int_equal(ov_coalesce(in, (unsigned)n, outs, m), 0);
	assert_int_equal(outs[0].vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(outs[1].vh.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
}

/* A packet of the flow that cannot merge (pure ACK, bad checksum) still
 * keeps its place. */
static void test_coalesce_breakers(void **state)
{
	struct spec s = tcp4;
	const int idx[] = { 0, 1, 2, 3 };
	const int with_ack[] = { 0, 1, 5, 2, 3 };
	uint8_t *p;

	(void)state;
	s.payload = 1240 * 4;
	mk_stream(&s);
	/* stream[5]: a pure ACK of the same flow */
	memcpy(stream[5], stream[0], 20 + 32);
	stream_len[5] = 52;
	be16_put(stream[5] + 2, 52);
	fix_csums(stream[5], 52);
	assert_int_equal(coalesce_idx(with_ack, 5), 3);
	expect(0, 2);
	expect(1, 1);
	expect(2, 2);
	/* a corrupt L4 checksum in the middle, then at the head */
	stream[2][60] ^= 0xff;
	assert_int_equal(coalesce_idx(idx, 4), 3);
	expect(0, 2);
	expect(1, 1);
	assert_ptr_equal(outs[1].data, stream[2]);
	stream[2][60] ^= 0xff;
	stream[0][60] ^= 0xff;
	assert_int_equal(coalesce_idx(idx, 4), 2);
	expect(0, 1);
	expect(1, 3);
	stream[0][60] ^= 0xff;
	/* a corrupt IPv4 header checksum */
	stream[1][10] ^= 1;
	assert_int_equal(coalesce_idx(idx, 4), 3);
	stream[1][10] ^= 1;
	/* IPv4 options */
	p = stream[1];
	memmove(p + 24, p + 20, stream_len[1] - 20);
	p[0] = 0x46;
	memset(p + 20, 1, 4);
	stream_len[1] += 4;
	be16_put(p + 2, (uint16_t)stream_len[1]);
	fix_csums(p, stream_len[1]);
	assert_int_equal(coalesce_idx(idx, 4), 3);
	expect(0, 1);
	expect(1, 1);
	expect(2, 2);
	mk_stream(&s);
	/* padding after the IP packet */
	stream_len[2]++;
	assert_int_equal(coalesce_idx(idx, 4), 3);
	stream_len[2]--;
	/* a fragment (MF) with the same addresses: no flow, passes, no break */
	be16_put(stream[2] + 6, 0x2000);
	fix_csums(stream[2], stream_len[2]);
	assert_int_equal(coalesce_idx(idx, 4), 3);
	mk_stream(&s);
	/* a UDP datagram without checksum */
	s = udp4;
	s.payload = 1252 * 4;
	mk_stream(&s);
	be16_put(stream[1] + 26, 0);
	assert_int_equal(coalesce_idx(idx, 4), 3);
	/* an IPv6 extension header: rebuilt as a hop-by-hop + UDP packet */
	s = udp6;
	s.payload = 1232 * 4;
	mk_stream(&s);
	p = stream[3];
	memmove(p + 48, p + 40, stream_len[3] - 40);
	memset(p + 40, 0, 8);
	p[40] = UDP;
	p[42] = 1; /* PadN filling the header */
	p[43] = 4;
	p[6] = 0;
	stream_len[3] += 8;
	be16_put(p + 4, (uint16_t)(stream_len[3] - 40));
	{
		/* L4 checksum over the UDP part behind the extension */
		uint16_t c;

		be16_put(p + 48 + 6, 0);
		c = (uint16_t)~ov_sum(ov_pseudo(p, UDP, stream_len[3] - 48), p + 48,
				      stream_len[3] - 48);
		be16_put(p + 48 + 6, c ? c : 0xffff);
	}
	assert_int_equal(coalesce_idx(idx, 4), 2);
	expect(0, 3);
	expect(1, 1);
	/* garbage and empty packets pass through */
	stream_len[3] = 0;
	assert_int_equal(coalesce_idx(idx, 4), 2);
	stream[3][0] = 0x99;
	stream_len[3] = 1;
	assert_int_equal(coalesce_idx(idx, 4), 2);
}

static void test_coalesce_limits(void **state)
{
	struct offload_in in[OFFLOAD_BATCH_MAX + 1];
	struct spec s = udp4;
	int idx[OFFLOAD_MAX_SEGS + 8], n, m;

	(void)state;
	/* 70 segments: 64 merge, the rest merge on their own */
	s.mss = 100;
	s.payload = 100 * 70;
	reset_segs();
	for (int i = 0; i < OFFLOAD_MAX_SEGS + 8; i++)
		idx[i] = i;
	{
		static uint8_t pkt[OFFLOAD_MAX_PACKET];
		struct virtio_net_hdr vh;
		size_t len = mk_gso(pkt, &s, &vh);

		n = offload_split(&vh, pkt, len, segs, OFFLOAD_MAX_SEGS + 8);
		assert_int_equal(n, 70);
		for (int i = 0; i < n; i++) {
			memcpy(stream[i], segs[i].data, segs[i].len);
			stream_len[i] = segs[i].len;
		}
	}
	assert_int_equal(coalesce_idx(idx, 70), 2);
	expect(0, OFFLOAD_MAX_SEGS);
	expect(1, 6);
	/* 64 KiB: 1400-byte segments stop at 46 (20 + 20 + 46 * 1400 = 64440);
	 * 50 of them come from two super-packets, one continuing the other */
	s = tcp4;
	s.opts = 0;
	s.mss = 1400;
	s.flags = ACK;
	s.payload = 1400 * 25;
	for (int half = 0; half < 2; half++) {
		static uint8_t pkt[OFFLOAD_MAX_PACKET];
		struct virtio_net_hdr vh;
		size_t len = mk_gso(pkt, &s, &vh);

		assert_int_equal(split(&vh, pkt, len), 25);
		for (int i = 0; i < 25; i++) {
			memcpy(stream[25 * half + i], segs[i].data, segs[i].len);
			stream_len[25 * half + i] = segs[i].len;
		}
		s.seq += 1400 * 25;
		s.id += 25;
	}
	assert_int_equal(coalesce_idx(idx, 50), 2);
	expect(0, 46);
	assert_int_equal(outs[0].len, 64440);
	expect(1, 4);
	/* a merge buffer too small for a run sends it unmerged */
	for (int i = 0; i < 8; i++)
		in[i] = (struct offload_in){ stream[i], stream_len[i] };
	m = offload_coalesce(&co, in, 8, arena, 40 + 8 * 1400 - 1, outs);
	assert_int_equal(m, 8);
	assert_int_equal(ov_coalesce(in, 8, outs, m), 0);
	m = offload_coalesce(&co, in, 8, NULL, 0, outs);
	assert_int_equal(m, 8);
	assert_int_equal(ov_coalesce(in, 8, outs, m), 0);
	m = offload_coalesce(&co, in, 8, arena, 40 + 8 * 1400, outs);
	assert_int_equal(m, 1);
	/* one that holds only the first of two runs: 0-3, then 1-4 again */
	for (int i = 0; i < 4; i++) {
		in[i] = (struct offload_in){ stream[i], stream_len[i] };
		in[4 + i] = (struct offload_in){ stream[1 + i], stream_len[1 + i] };
	}
	m = offload_coalesce(&co, in, 8, arena, 40 + 4 * 1400 + 100, outs);
	assert_int_equal(ov_coalesce(in, 8, outs, m), 0);
	assert_int_equal(m, 5);
	expect(0, 4);
	for (int o = 1; o < 5; o++)
		expect(o, 1);
	/* batch limits */
	assert_int_equal(offload_coalesce(&co, in, 0, arena, sizeof(arena), outs), 0);
	for (int i = 0; i < OFFLOAD_BATCH_MAX + 1; i++)
		in[i] = (struct offload_in){ stream[0], stream_len[0] };
	assert_int_equal(offload_coalesce(&co, in, OFFLOAD_BATCH_MAX + 1, arena, sizeof(arena),
					  outs),
			 -E2BIG);
	m = offload_coalesce(&co, in, OFFLOAD_BATCH_MAX, arena, sizeof(arena), outs);
	assert_int_equal(m, OFFLOAD_BATCH_MAX);
	assert_int_equal(ov_coalesce(in, OFFLOAD_BATCH_MAX, outs, m), 0);
}

/* Merged outputs split back into exactly the packets that went in. */
static void test_coalesce_resplit(void **state)
{
	const struct spec *kinds[] = { &tcp4, &tcp6, &udp4, &udp6 };
	int idx[16];

	(void)state;
	for (int i = 0; i < 16; i++)
		idx[i] = i;
	for (int k = 0; k < 4; k++) {
		struct spec s = *kinds[k];
		int n;

		s.payload = (size_t)s.mss * 9 + 11;
		n = mk_stream(&s);
		assert_int_equal(coalesce_idx(idx, n), 1);
		assert_int_equal(split(&outs[0].vh, outs[0].data, outs[0].len), n);
		for (int i = 0; i < n; i++) {
			assert_int_equal(segs[i].len, stream_len[i]);
			assert_memory_equal(segs[i].data, stream[i], stream_len[i]);
		}
	}
}

/* Random edits to the header bytes of a batch: the contract holds. */
static void test_coalesce_corruption(void **state)
{
	struct spec s = tcp4;
	int idx[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	uint32_t seed = 7;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		int n;

		s = round % 2 ? tcp4 : udp6;
		s.payload = (size_t)s.mss * 8;
		n = mk_stream(&s);
		for (int f = 0; f < 3; f++) {
			int which;

			seed = seed * 1103515245 + 12345;
			which = (int)((seed >> 8) % (unsigned)n);
			stream[which][(seed >> 12) % 72] ^= (uint8_t)(1u << ((seed >> 24) & 7));
			if (seed & 1)
				fix_csums(stream[which], stream_len[which]);
		}
		coalesce_idx(idx, n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csum_helpers),
		cmocka_unit_test(test_vnet_rw),
		cmocka_unit_test(test_split_tcp4),
		cmocka_unit_test(test_split_tcp6),
		cmocka_unit_test(test_split_udp),
		cmocka_unit_test(test_split_v6_jumbo_edge),
		cmocka_unit_test(test_split_limits),
		cmocka_unit_test(test_plain_csum),
		cmocka_unit_test(test_plain_udp_zero),
		cmocka_unit_test(test_plain_generic),
		cmocka_unit_test(test_hostile_vnet),
		cmocka_unit_test(test_hostile_packets),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_corruption),
		cmocka_unit_test(test_coalesce_order),
		cmocka_unit_test(test_coalesce_flags),
		cmocka_unit_test(test_coalesce_ids),
		cmocka_unit_test(test_coalesce_sizes),
		cmocka_unit_test(test_coalesce_interleaved),
		cmocka_unit_test(test_coalesce_breakers),
		cmocka_unit_test(test_coalesce_limits),
		cmocka_unit_test(test_coalesce_resplit),
		cmocka_unit_test(test_coalesce_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
