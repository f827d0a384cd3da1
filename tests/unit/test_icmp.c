/*
 * test_icmp: the synthesized ICMP errors and TCP RSTs, compared byte for
 * byte with packets assembled here field by field, checksums recomputed
 * with a checksum routine of this file (itself checked against a known
 * answer), and fed back through packet_parse. Also: packets that must
 * never be answered, short buffers, inconsistent packet_info, the RFC quote
 * limits, and random corruption.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/icmp.h"
#include "dataplane/packet.h"
#include "util/bytes.h"

#define A4 0x64400001u /* 100.64.0.1 */
#define B4 0x64400002u /* 100.64.0.2 */

static const uint8_t A6[16] = { 0x02, 0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 1 };
static const uint8_t B6[16] = { 0x02, 0xbb, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 2 };

/* The test's own RFC 1071 sum, written independently of icmp.c: 64-bit
 * accumulator, folded once at the end. */
static uint64_t sum_bytes(uint64_t s, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? b[i] : (uint64_t)b[i] << 8;
	return s;
}

static uint16_t fold_inv(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint16_t csum(const uint8_t *b, size_t n)
{
	return fold_inv(sum_bytes(0, b, n));
}

/* L4 checksum with the pseudo-header of the IP packet at ip. */
static uint16_t csum_l4(const uint8_t *ip, uint8_t proto, const uint8_t *l4, size_t n)
{
	uint64_t s = 0;

	if ((ip[0] >> 4) == 4) {
		if (proto != 1) {
			s = sum_bytes(s, ip + 12, 8);
			s += proto + n;
		}
	} else {
		s = sum_bytes(s, ip + 8, 32);
		s += n + proto;
	}
	return fold_inv(sum_bytes(s, l4, n));
}

static size_t mk4(uint8_t *b, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
		  size_t n, uint16_t frag)
{
	memset(b, 0, 20);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)(20 + n));
	be16_put(b + 4, 0x1234);
	be16_put(b + 6, frag);
	b[8] = 33;
	b[9] = proto;
	be32_put(b + 12, src);
	be32_put(b + 16, dst);
	be16_put(b + 10, csum(b, 20));
	memcpy(b + 20, l4, n);
	return 20 + n;
}

static size_t mk6(uint8_t *b, const uint8_t *src, const uint8_t *dst, uint8_t nh, const uint8_t *l4,
		  size_t n)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	be16_put(b + 4, (uint16_t)n);
	b[6] = nh;
	b[7] = 50;
	memcpy(b + 8, src, 16);
	memcpy(b + 24, dst, 16);
	memcpy(b + 40, l4, n);
	return 40 + n;
}

static size_t mk_udp(uint8_t *b, uint16_t sp, uint16_t dp, size_t data)
{
	be16_put(b, sp);
	be16_put(b + 2, dp);
	be16_put(b + 4, (uint16_t)(8 + data));
	be16_put(b + 6, 0);
	for (size_t i = 0; i < data; i++)
		b[8 + i] = (uint8_t)(i * 7 + 1);
	return 8 + data;
}

static size_t mk_tcp(uint8_t *b, uint16_t sp, uint16_t dp, uint8_t flags, uint32_t seq,
		     uint32_t ack, size_t data)
{
	memset(b, 0, 20 + data);
	be16_put(b, sp);
	be16_put(b + 2, dp);
	be32_put(b + 4, seq);
	be32_put(b + 8, ack);
	b[12] = 5 << 4;
	b[13] = flags;
	be16_put(b + 14, 65535);
	for (size_t i = 0; i < data; i++)
		b[20 + i] = (uint8_t)i;
	return 20 + data;
}

static size_t mk_icmp(uint8_t *b, uint8_t type, uint16_t id)
{
	memset(b, 0, 16);
	b[0] = type;
	be16_put(b + 4, id);
	return 16;
}

static void parse_ok(const uint8_t *b, size_t n, struct packet_info *pi)
{
	assert_int_equal(packet_parse(b, n, pi), 0);
}

static void test_checksum_known_answer(void **state)
{
	/* RFC 1071 style worked example: a real IPv4 header whose checksum
	 * field (b861) is known */
	static const uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
				       0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	(void)state;
	assert_int_equal(csum(h, 20), 0xb861);
	assert_int_equal((uint16_t)~icmp_csum_fold(icmp_csum_add(0, h, 20)), 0xb861);
	/* odd length pads with a zero byte */
	assert_int_equal(icmp_csum_fold(icmp_csum_add(0, (const uint8_t *)"\x01\x02\x03", 3)),
			 0x0402);
}

/* Expected ICMPv4 error built here field by field. */
static size_t expect4(uint8_t *e, const uint8_t *orig, size_t qlen, uint8_t type, uint8_t code,
		      uint32_t word, uint32_t src, uint32_t dst)
{
	uint8_t *m = e + 20;

	memset(e, 0, 28);
	e[0] = 0x45;
	be16_put(e + 2, (uint16_t)(28 + qlen));
	e[8] = 64;
	e[9] = 1;
	be32_put(e + 12, src);
	be32_put(e + 16, dst);
	be16_put(e + 10, csum(e, 20));
	m[0] = type;
	m[1] = code;
	be32_put(m + 4, word);
	memcpy(m + 8, orig, qlen);
	be16_put(m + 2, csum(m, 8 + qlen));
	return 28 + qlen;
}

static size_t expect6(uint8_t *e, const uint8_t *orig, size_t qlen, uint8_t type, uint8_t code,
		      uint32_t word, const uint8_t *src, const uint8_t *dst)
{
	uint8_t *m = e + 40;

	memset(e, 0, 48);
	e[0] = 0x60;
	be16_put(e + 4, (uint16_t)(8 + qlen));
	e[6] = 58;
	e[7] = 64;
	memcpy(e + 8, src, 16);
	memcpy(e + 24, dst, 16);
	m[0] = type;
	m[1] = code;
	be32_put(m + 4, word);
	memcpy(m + 8, orig, qlen);
	be16_put(m + 2, csum_l4(e, 58, m, 8 + qlen));
	return 48 + qlen;
}

static void test_v4_port_unreach(void **state)
{
	uint8_t l4[64], pkt[128], out[ICMP_REPLY_BUF], exp[ICMP_REPLY_BUF];
	struct packet_info pi, rp;
	size_t n = mk4(pkt, A4, B4, 17, l4, mk_udp(l4, 5000, 53, 30), 0);
	size_t en;
	int rc;

	(void)state;
	parse_ok(pkt, n, &pi);
	rc = icmp_build_unreach(out, sizeof(out), pkt, n, &pi, ICMP4_PORT_UNREACH);
	en = expect4(exp, pkt, n, 3, 3, 0, B4, A4);
	assert_int_equal(rc, (int)en);
	assert_memory_equal(out, exp, en);
	/* checksums verify to zero over the finished packet */
	assert_int_equal(csum(out, 20), 0);
	assert_int_equal(csum(out + 20, en - 20), 0);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.proto, 1);
	assert_int_equal(rp.icmp_type, 3);
	assert_int_equal(rp.icmp_code, 3);
	assert_int_equal(rp.src.v4, B4);
	assert_int_equal(rp.dst.v4, A4);
	assert_int_equal(rp.ttl, 64);
	/* the reject dispatcher picks the same reply for UDP */
	memset(out, 0, sizeof(out));
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), (int)en);
	assert_memory_equal(out, exp, en);
}

static void test_v4_frag_needed_truncates(void **state)
{
	uint8_t l4[1200], pkt[1300], out[ICMP_REPLY_BUF], exp[ICMP_REPLY_BUF];
	struct packet_info pi, rp;
	size_t n = mk4(pkt, A4, B4, 17, l4, mk_udp(l4, 1, 2, 1000), 0x4000);
	size_t en;
	int rc;

	(void)state;
	parse_ok(pkt, n, &pi);
	rc = icmp_build_too_big(out, sizeof(out), pkt, n, &pi, 1200);
	/* RFC 1812: the whole reply stays within 576 bytes */
	en = expect4(exp, pkt, 576 - 28, 3, 4, 1200, B4, A4);
	assert_int_equal(rc, 576);
	assert_int_equal(en, 576);
	assert_memory_equal(out, exp, en);
	assert_int_equal(be16_get(out + 20 + 6), 1200); /* next-hop MTU */
	assert_int_equal(be16_get(out + 20 + 4), 0);    /* unused */
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.icmp_code, 4);
	/* bad MTUs */
	assert_int_equal(icmp_build_too_big(out, sizeof(out), pkt, n, &pi, 67), -EINVAL);
	assert_int_equal(icmp_build_too_big(out, sizeof(out), pkt, n, &pi, 70000), -EINVAL);
	/* one byte short */
	assert_int_equal(icmp_build_too_big(out, 575, pkt, n, &pi, 1200), -ENOSPC);
}

static void test_v6_unreach_and_too_big(void **state)
{
	uint8_t l4[1400], pkt[1500], out[ICMP_REPLY_BUF], exp[ICMP_REPLY_BUF];
	struct packet_info pi, rp;
	size_t n = mk6(pkt, A6, B6, 17, l4, mk_udp(l4, 5353, 9999, 20));
	size_t en;
	int rc;

	(void)state;
	parse_ok(pkt, n, &pi);
	rc = icmp_build_unreach(out, sizeof(out), pkt, n, &pi, ICMP6_PORT_UNREACH);
	en = expect6(exp, pkt, n, 1, 4, 0, B6, A6);
	assert_int_equal(rc, (int)en);
	assert_memory_equal(out, exp, en);
	assert_int_equal(csum_l4(out, 58, out + 40, en - 40), 0);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.version, 6);
	assert_int_equal(rp.proto, 58);
	assert_int_equal(rp.icmp_type, 1);
	assert_int_equal(rp.icmp_code, 4);
	assert_memory_equal(rp.src.v6, B6, 16);
	assert_memory_equal(rp.dst.v6, A6, 16);

	/* a full 1280-byte packet: the quote shrinks so the reply is 1280 */
	n = mk6(pkt, A6, B6, 17, l4, mk_udp(l4, 1, 2, 1280 - 48));
	assert_int_equal(n, 1280);
	parse_ok(pkt, n, &pi);
	rc = icmp_build_too_big(out, sizeof(out), pkt, n, &pi, 1280);
	en = expect6(exp, pkt, 1280 - 48, 2, 0, 1280, B6, A6);
	assert_int_equal(rc, 1280);
	assert_memory_equal(out, exp, en);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.icmp_type, 2);
	/* IPv6 links are never below 1280 */
	assert_int_equal(icmp_build_too_big(out, sizeof(out), pkt, n, &pi, 1223), -EINVAL);
	assert_int_equal(icmp_build_too_big(out, 1279, pkt, n, &pi, 1280), -ENOSPC);
}

static void test_trailing_bytes_not_quoted(void **state)
{
	uint8_t l4[64], pkt[256], out[ICMP_REPLY_BUF];
	struct packet_info pi;
	size_t n = mk4(pkt, A4, B4, 17, l4, mk_udp(l4, 1, 2, 4), 0);
	int rc;

	(void)state;
	memset(pkt + n, 0xee, 100); /* junk after the packet in the buffer */
	parse_ok(pkt, n + 100, &pi);
	rc = icmp_build_unreach(out, sizeof(out), pkt, n + 100, &pi, 3);
	assert_int_equal(rc, (int)(28 + n));
}

/* Expected RST, built field by field. */
static size_t expect_rst(uint8_t *e, int v6, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
			 uint8_t flags)
{
	size_t ip = v6 ? 40 : 20;
	uint8_t *t = e + ip;

	memset(e, 0, ip + 20);
	if (v6) {
		e[0] = 0x60;
		be16_put(e + 4, 20);
		e[6] = 6;
		e[7] = 64;
		memcpy(e + 8, B6, 16);
		memcpy(e + 24, A6, 16);
	} else {
		e[0] = 0x45;
		be16_put(e + 2, 40);
		be16_put(e + 6, 0x4000);
		e[8] = 64;
		e[9] = 6;
		be32_put(e + 12, B4);
		be32_put(e + 16, A4);
		be16_put(e + 10, csum(e, 20));
	}
	be16_put(t, sp);
	be16_put(t + 2, dp);
	be32_put(t + 4, seq);
	be32_put(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	be16_put(t + 16, csum_l4(e, 6, t, 20));
	return ip + 20;
}

static void test_rst_v4_syn(void **state)
{
	uint8_t l4[64], pkt[128], out[ICMP_REPLY_BUF], exp[128];
	struct packet_info pi, rp;
	size_t n = mk4(pkt, A4, B4, 6, l4, mk_tcp(l4, 40000, 22, 0x02, 0x11223344, 0, 0), 0x4000);
	size_t en;
	int rc;

	(void)state;
	parse_ok(pkt, n, &pi);
	rc = icmp_build_tcp_rst(out, sizeof(out), pkt, n, &pi);
	en = expect_rst(exp, 0, 22, 40000, 0, 0x11223345, 0x14);
	assert_int_equal(rc, (int)en);
	assert_memory_equal(out, exp, en);
	assert_int_equal(csum(out, 20), 0);
	assert_int_equal(csum_l4(out, 6, out + 20, 20), 0);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.proto, 6);
	assert_int_equal(rp.tcp_flags, 0x14);
	assert_int_equal(rp.src_port, 22);
	assert_int_equal(rp.dst_port, 40000);
	assert_int_equal(rp.src.v4, B4);
	/* reject picks the RST for TCP */
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), (int)en);
	assert_memory_equal(out, exp, en);
	assert_int_equal(icmp_build_tcp_rst(out, 39, pkt, n, &pi), -ENOSPC);
}

static void test_rst_v6_ack_and_payload(void **state)
{
	uint8_t l4[64], pkt[128], out[ICMP_REPLY_BUF], exp[128];
	struct packet_info pi, rp;
	size_t n, en;
	int rc;

	(void)state;
	/* a segment with ACK: RST takes its seq from their ack, no ACK flag */
	n = mk6(pkt, A6, B6, 6, l4, mk_tcp(l4, 1111, 443, 0x18, 5, 0xdeadbeef, 7));
	parse_ok(pkt, n, &pi);
	rc = icmp_build_tcp_rst(out, sizeof(out), pkt, n, &pi);
	en = expect_rst(exp, 1, 443, 1111, 0xdeadbeef, 0, 0x04);
	assert_int_equal(rc, (int)en);
	assert_memory_equal(out, exp, en);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.tcp_flags, 0x04);

	/* SYN with data and FIN (TFO): ack = seq + 1 + data + 1, wrapping */
	n = mk6(pkt, A6, B6, 6, l4, mk_tcp(l4, 1111, 443, 0x03, 0xfffffffe, 0, 10));
	parse_ok(pkt, n, &pi);
	rc = icmp_build_tcp_rst(out, sizeof(out), pkt, n, &pi);
	en = expect_rst(exp, 1, 443, 1111, 0, 0xfffffffeu + 12u, 0x14);
	assert_int_equal(rc, (int)en);
	assert_memory_equal(out, exp, en);
}

static void test_reject_dispatch(void **state)
{
	uint8_t l4[64], pkt[128], out[ICMP_REPLY_BUF];
	struct packet_info pi, rp;
	size_t n;
	int rc;

	(void)state;
	/* echo request: administratively prohibited */
	n = mk4(pkt, A4, B4, 1, l4, mk_icmp(l4, 8, 77), 0);
	parse_ok(pkt, n, &pi);
	rc = icmp_build_reject(out, sizeof(out), pkt, n, &pi);
	assert_true(rc > 0);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.icmp_type, 3);
	assert_int_equal(rp.icmp_code, ICMP4_ADMIN_PROHIB);
	n = mk6(pkt, A6, B6, 58, l4, mk_icmp(l4, 128, 77));
	parse_ok(pkt, n, &pi);
	rc = icmp_build_reject(out, sizeof(out), pkt, n, &pi);
	assert_true(rc > 0);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.icmp_type, 1);
	assert_int_equal(rp.icmp_code, ICMP6_ADMIN_PROHIB);
	/* another protocol (GRE) */
	memset(l4, 0, 8);
	n = mk4(pkt, A4, B4, 47, l4, 8, 0);
	parse_ok(pkt, n, &pi);
	rc = icmp_build_reject(out, sizeof(out), pkt, n, &pi);
	assert_true(rc > 0);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.icmp_code, ICMP4_ADMIN_PROHIB);
	/* TCP first fragment cannot be RST (segment length unknown): port unreachable */
	n = mk4(pkt, A4, B4, 6, l4, mk_tcp(l4, 1, 2, 0x02, 0, 0, 8), 0x2000);
	parse_ok(pkt, n, &pi);
	rc = icmp_build_reject(out, sizeof(out), pkt, n, &pi);
	assert_true(rc > 0);
	parse_ok(out, (size_t)rc, &rp);
	assert_int_equal(rp.icmp_code, ICMP4_PORT_UNREACH);
	assert_int_equal(icmp_build_tcp_rst(out, sizeof(out), pkt, n, &pi), -EINVAL);
}

static void test_never_answered(void **state)
{
	uint8_t l4[64], pkt[128], out[ICMP_REPLY_BUF];
	struct packet_info pi;
	size_t n;

	(void)state;
	/* an ICMP error */
	n = mk4(pkt, A4, B4, 1, l4, mk_icmp(l4, 3, 0), 0);
	parse_ok(pkt, n, &pi);
	assert_false(icmp_rejectable(&pi));
	assert_int_equal(icmp_build_unreach(out, sizeof(out), pkt, n, &pi, 3), -EINVAL);
	assert_int_equal(icmp_build_too_big(out, sizeof(out), pkt, n, &pi, 1000), -EINVAL);
	/* an echo reply, ICMPv6 packet too big */
	n = mk4(pkt, A4, B4, 1, l4, mk_icmp(l4, 0, 1), 0);
	parse_ok(pkt, n, &pi);
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
	n = mk6(pkt, A6, B6, 58, l4, mk_icmp(l4, 2, 0));
	parse_ok(pkt, n, &pi);
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
	/* a TCP RST */
	n = mk4(pkt, A4, B4, 6, l4, mk_tcp(l4, 1, 2, 0x04, 0, 0, 0), 0);
	parse_ok(pkt, n, &pi);
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
	assert_int_equal(icmp_build_tcp_rst(out, sizeof(out), pkt, n, &pi), -EINVAL);
	/* a later fragment */
	memset(l4, 0, 16);
	n = mk4(pkt, A4, B4, 17, l4, 16, 0x0004);
	parse_ok(pkt, n, &pi);
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
	/* multicast destination, broadcast, unspecified source */
	n = mk4(pkt, A4, 0xe0000001u, 17, l4, mk_udp(l4, 1, 2, 0), 0);
	parse_ok(pkt, n, &pi);
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
	n = mk4(pkt, A4, 0xffffffffu, 17, l4, mk_udp(l4, 1, 2, 0), 0);
	parse_ok(pkt, n, &pi);
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
	n = mk4(pkt, 0, B4, 17, l4, mk_udp(l4, 1, 2, 0), 0);
	parse_ok(pkt, n, &pi);
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
	{
		uint8_t mc[16] = { 0xff, 0x02 };
		uint8_t zero[16] = { 0 };

		mc[15] = 1;
		n = mk6(pkt, A6, mc, 17, l4, mk_udp(l4, 1, 2, 0));
		parse_ok(pkt, n, &pi);
		assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
		n = mk6(pkt, zero, B6, 17, l4, mk_udp(l4, 1, 2, 0));
		parse_ok(pkt, n, &pi);
		assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &pi), -EINVAL);
	}
}

static void test_inconsistent_info(void **state)
{
	uint8_t l4[64], pkt[128], out[ICMP_REPLY_BUF];
	struct packet_info pi, bad;
	size_t n = mk4(pkt, A4, B4, 6, l4, mk_tcp(l4, 1, 2, 0x02, 0, 0, 0), 0);

	(void)state;
	parse_ok(pkt, n, &pi);
	/* buffer shorter than the packet the info describes */
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n - 1, &pi), -EINVAL);
	assert_int_equal(icmp_build_unreach(out, sizeof(out), pkt, 0, &pi, 3), -EINVAL);
	assert_int_equal(icmp_build_unreach(out, sizeof(out), NULL, n, &pi, 3), -EINVAL);
	/* header longer than the packet */
	bad = pi;
	bad.hdr_len = (uint16_t)(n + 1);
	assert_int_equal(icmp_build_reject(out, sizeof(out), pkt, n, &bad), -EINVAL);
	/* version that disagrees with the bytes */
	bad = pi;
	bad.version = 6;
	assert_int_equal(icmp_build_unreach(out, sizeof(out), pkt, n, &bad, 3), -EINVAL);
	/* a TCP header cut short in a lying info */
	bad = pi;
	bad.total_len = 30;
	assert_int_equal(icmp_build_tcp_rst(out, sizeof(out), pkt, n, &bad), -EINVAL);
	/* data offset beyond the segment */
	pkt[20 + 12] = 0xf0;
	assert_int_equal(icmp_build_tcp_rst(out, sizeof(out), pkt, n, &pi), -EINVAL);
	/* no output buffer */
	pkt[20 + 12] = 0x50;
	assert_int_equal(icmp_build_tcp_rst(NULL, 0, pkt, n, &pi), -ENOSPC);
}

/* Random corruption: whatever parses is answered with a packet that
 * parses and whose checksums verify. */
static void test_random(void **state)
{
	uint8_t l4[256], base[2][512], pkt[512], out[ICMP_REPLY_BUF];
	size_t bn[2];
	unsigned seed = 12345;

	(void)state;
	bn[0] = mk4(base[0], A4, B4, 6, l4, mk_tcp(l4, 1, 2, 0x02, 9, 0, 40), 0);
	bn[1] = mk6(base[1], A6, B6, 17, l4, mk_udp(l4, 1, 2, 100));
	for (int it = 0; it < 20000; it++) {
		int which = it & 1;
		size_t n = bn[which];
		struct packet_info pi, rp;
		int rc;

		memcpy(pkt, base[which], n);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			pkt[(seed >> 8) % n] ^= (uint8_t)(seed >> 20);
		}
		seed = seed * 1103515245u + 12345u;
		if (seed & 0x100)
			n -= (seed >> 12) % n;
		if (packet_parse(pkt, n, &pi) < 0)
			continue;
		rc = icmp_build_reject(out, sizeof(out), pkt, n, &pi);
		if (rc < 0) {
			assert_true(rc == -EINVAL);
			continue;
		}
		assert_true(rc <= ICMP_REPLY_BUF);
		assert_int_equal(packet_parse(out, (size_t)rc, &rp), 0);
		if (rp.version == 4)
			assert_int_equal(csum(out, 20), 0);
		assert_int_equal(csum_l4(out, rp.proto, out + rp.hdr_len, (size_t)rc - rp.hdr_len),
				 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_known_answer),
		cmocka_unit_test(test_v4_port_unreach),
		cmocka_unit_test(test_v4_frag_needed_truncates),
		cmocka_unit_test(test_v6_unreach_and_too_big),
		cmocka_unit_test(test_trailing_bytes_not_quoted),
		cmocka_unit_test(test_rst_v4_syn),
		cmocka_unit_test(test_rst_v6_ack_and_payload),
		cmocka_unit_test(test_reject_dispatch),
		cmocka_unit_test(test_never_answered),
		cmocka_unit_test(test_inconsistent_info),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
