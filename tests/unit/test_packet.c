/*
 * test_packet: packet_parse on valid IPv4/IPv6 TCP, UDP and ICMP packets,
 * extension header chains and fragments, and on malformed input: every
 * truncation, bad header lengths, lengths beyond the buffer, extension
 * header chains that are too long or out of order, tiny and overlapping
 * fragments, and random corruption.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/packet.h"
#include "util/bytes.h"

#define BUF 2048

static size_t mk_udp(uint8_t *b, uint16_t sport, uint16_t dport, size_t data)
{
	be16_put(b, sport);
	be16_put(b + 2, dport);
	be16_put(b + 4, (uint16_t)(8 + data));
	be16_put(b + 6, 0);
	memset(b + 8, 0xab, data);
	return 8 + data;
}

static size_t mk_tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint8_t flags, size_t opts)
{
	memset(b, 0, 20 + opts);
	be16_put(b, sport);
	be16_put(b + 2, dport);
	b[12] = (uint8_t)(((20 + opts) / 4) << 4);
	b[13] = flags;
	return 20 + opts;
}

static size_t mk_echo(uint8_t *b, uint8_t type, uint16_t id)
{
	memset(b, 0, 16);
	b[0] = type;
	be16_put(b + 4, id);
	be16_put(b + 6, 1);
	return 16;
}

/* IPv4 header in front of b[20..20+l4len) already written by the caller. */
static size_t mk_v4(uint8_t *b, uint8_t proto, size_t l4len, uint16_t frag)
{
	size_t total = 20 + l4len;

	b[0] = 0x45;
	b[1] = 0;
	be16_put(b + 2, (uint16_t)total);
	be16_put(b + 4, 0x1234);
	be16_put(b + 6, frag);
	b[8] = 64;
	b[9] = proto;
	be16_put(b + 10, 0);
	b[12] = 100;
	b[13] = 64;
	b[14] = 1;
	b[15] = 2;
	b[16] = 100;
	b[17] = 64;
	b[18] = 9;
	b[19] = 9;
	return total;
}

static size_t mk_v6(uint8_t *b, uint8_t nh, size_t plen)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	be16_put(b + 4, (uint16_t)plen);
	b[6] = nh;
	b[7] = 63;
	b[8] = 0x02;
	b[23] = 0x01; /* 200::1 */
	b[24] = 0x02;
	b[25] = 0x55;
	b[39] = 0x09;
	return 40 + plen;
}

/* Extension header of 8*(units+1) bytes at p. */
static size_t mk_ext(uint8_t *p, uint8_t next, uint8_t units)
{
	size_t n = ((size_t)units + 1) * 8;

	memset(p, 0, n);
	p[0] = next;
	p[1] = units;
	return n;
}

static size_t mk_frag6(uint8_t *p, uint8_t next, uint16_t offset, int more)
{
	memset(p, 0, 8);
	p[0] = next;
	be16_put(p + 2, (uint16_t)(offset | (more ? 1 : 0)));
	p[7] = 0x42;
	return 8;
}

/* Every strict prefix of a valid packet must be refused. */
static void assert_truncations_fail(const uint8_t *b, size_t len)
{
	struct packet_info pi;

	for (size_t n = 0; n < len; n++) {
		uint8_t *copy = malloc(n ? n : 1);

		assert_non_null(copy);
		memcpy(copy, b, n);
		assert_int_equal(packet_parse(copy, n, &pi), -EINVAL);
		free(copy);
	}
}

static void test_v4_udp(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t len = mk_v4(b, 17, mk_udp(b + 20, 40000, 9999, 12), 0x4000);

	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.version, 4);
	assert_int_equal(pi.proto, 17);
	assert_int_equal(pi.ttl, 64);
	assert_int_equal(pi.hdr_len, 20);
	assert_int_equal(pi.total_len, len);
	assert_int_equal(pi.src.v4, 0x64400102);
	assert_int_equal(pi.dst.v4, 0x64400909);
	assert_true(pi.flags & PACKET_F_PORTS);
	assert_true(pi.flags & PACKET_F_DONT_FRAG);
	assert_false(pi.flags & PACKET_F_FRAGMENT);
	assert_int_equal(pi.src_port, 40000);
	assert_int_equal(pi.dst_port, 9999);
	assert_truncations_fail(b, len);
}

static void test_v4_tcp_options(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t l4, len;

	/* IHL 6: one word of IP options before the TCP header */
	l4 = mk_tcp(b + 24, 22, 51000, 0x12, 12);
	len = mk_v4(b, 6, l4 + 4, 0);
	b[0] = 0x46;
	memset(b + 20, 1, 4); /* NOP options */
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.hdr_len, 24);
	assert_int_equal(pi.proto, 6);
	assert_int_equal(pi.src_port, 22);
	assert_int_equal(pi.dst_port, 51000);
	assert_int_equal(pi.tcp_flags, 0x12);
	assert_truncations_fail(b, len);

	/* trailing bytes beyond the total length are not part of the packet */
	assert_int_equal(packet_parse(b, len + 100, &pi), 0);
	assert_int_equal(pi.total_len, len);
}

static void test_v4_icmp(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t len = mk_v4(b, 1, mk_echo(b + 20, 8, 0xbeef), 0);

	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_true(pi.flags & PACKET_F_ICMP);
	assert_true(pi.flags & PACKET_F_ICMP_ECHO);
	assert_false(pi.flags & PACKET_F_PORTS);
	assert_int_equal(pi.icmp_type, 8);
	assert_int_equal(pi.icmp_id, 0xbeef);
	assert_truncations_fail(b, len);

	/* destination unreachable: type/code only, no echo id */
	b[20] = 3;
	b[21] = 4;
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.icmp_type, 3);
	assert_int_equal(pi.icmp_code, 4);
	assert_false(pi.flags & PACKET_F_ICMP_ECHO);

	/* an echo too short for its identifier */
	len = mk_v4(b, 1, 6, 0);
	b[20] = 0;
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	/* not even type/code/checksum */
	len = mk_v4(b, 1, 3, 0);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
}

static void test_v4_bad_headers(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t len = mk_v4(b, 17, mk_udp(b + 20, 1, 2, 4), 0);

	assert_int_equal(packet_parse(NULL, 0, &pi), -EINVAL);
	for (int ihl = 0; ihl < 5; ihl++) {
		b[0] = (uint8_t)(0x40 | ihl);
		assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	}
	/* IHL larger than the total length */
	b[0] = 0x4f;
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	b[0] = 0x45;
	/* total length beyond the buffer, and below the header */
	be16_put(b + 2, (uint16_t)(len + 1));
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	be16_put(b + 2, 0xffff);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	be16_put(b + 2, 19);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	be16_put(b + 2, (uint16_t)len);
	/* UDP length past the IP payload, and below the UDP header */
	be16_put(b + 24, 100);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	be16_put(b + 24, 7);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	be16_put(b + 24, 12);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	/* other versions */
	for (int v = 0; v < 16; v++) {
		if (v == 4 || v == 6)
			continue;
		b[0] = (uint8_t)(v << 4 | 5);
		assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	}
}

static void test_v4_tcp_bad(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t len = mk_v4(b, 6, mk_tcp(b + 20, 1, 2, 0x02, 0), 0);

	assert_int_equal(packet_parse(b, len, &pi), 0);
	/* data offset below 5 words, and beyond the segment */
	b[32] = 0x40;
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	b[32] = 0xf0;
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
}

static void test_v4_fragments(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t len;

	/* first fragment (MF, offset 0): ports present */
	len = mk_v4(b, 17, mk_udp(b + 20, 5, 6, 100), 0x2000);
	be16_put(b + 24, 3000); /* UDP length of the whole datagram */
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_true(pi.flags & PACKET_F_FRAGMENT);
	assert_true(pi.flags & PACKET_F_MORE_FRAGS);
	assert_true(pi.flags & PACKET_F_PORTS);
	assert_int_equal(pi.frag_offset, 0);

	/* later fragment: no L4 header, offset in bytes */
	len = mk_v4(b, 17, 64, 0x2000 | 185);
	memset(b + 20, 0xee, 64);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_true(pi.flags & PACKET_F_FRAGMENT);
	assert_false(pi.flags & PACKET_F_PORTS);
	assert_int_equal(pi.frag_offset, 1480);

	/* last fragment (no MF, offset > 0) */
	len = mk_v4(b, 17, 64, 185);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_true(pi.flags & PACKET_F_FRAGMENT);
	assert_false(pi.flags & PACKET_F_MORE_FRAGS);

	/* reassembly past 64 KiB (ping of death) */
	len = mk_v4(b, 1, 64, 0x1fff);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);

	/* tiny first fragment hiding the TCP flags */
	len = mk_v4(b, 6, 8, 0x2000);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	/* TCP fragment at offset 8 overwriting the flags */
	len = mk_v4(b, 6, 16, 0x0001);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	/* the same offset is harmless for UDP */
	len = mk_v4(b, 17, 16, 0x0001);
	assert_int_equal(packet_parse(b, len, &pi), 0);
}

static void test_v6_udp_tcp_icmp(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t len;
	static const uint8_t src[16] = { 0x02, [15] = 0x01 };

	len = mk_v6(b, 17, mk_udp(b + 40, 1234, 53, 20));
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.version, 6);
	assert_int_equal(pi.proto, 17);
	assert_int_equal(pi.ttl, 63);
	assert_int_equal(pi.hdr_len, 40);
	assert_int_equal(pi.total_len, len);
	assert_memory_equal(pi.src.v6, src, 16);
	assert_int_equal(pi.dst.v6[1], 0x55);
	assert_int_equal(pi.src_port, 1234);
	assert_int_equal(pi.dst_port, 53);
	assert_truncations_fail(b, len);

	len = mk_v6(b, 6, mk_tcp(b + 40, 443, 50000, 0x11, 0));
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.tcp_flags, 0x11);
	assert_truncations_fail(b, len);

	len = mk_v6(b, 58, mk_echo(b + 40, 128, 77));
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_true(pi.flags & PACKET_F_ICMP_ECHO);
	assert_int_equal(pi.icmp_type, 128);
	assert_int_equal(pi.icmp_id, 77);
	assert_truncations_fail(b, len);

	/* ICMPv4 inside IPv6 is just an unknown protocol */
	len = mk_v6(b, 1, mk_echo(b + 40, 8, 77));
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_false(pi.flags & PACKET_F_ICMP);

	/* payload length beyond the buffer; trailing bytes allowed */
	len = mk_v6(b, 17, mk_udp(b + 40, 1, 2, 0));
	be16_put(b + 4, 9);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	be16_put(b + 4, 8);
	assert_int_equal(packet_parse(b, len + 50, &pi), 0);
	assert_int_equal(pi.total_len, 48);
}

static void test_v6_ext_chain(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t off = 40, len;

	/* hop-by-hop, routing, destination options, AH, then TCP */
	off += mk_ext(b + off, 43, 0);
	off += mk_ext(b + off, 60, 1);
	off += mk_ext(b + off, 51, 0);
	b[off] = 6; /* AH: next header, length (2+2)*4 = 16 bytes */
	b[off + 1] = 2;
	memset(b + off + 2, 0, 14);
	off += 16;
	off += mk_tcp(b + off, 80, 8080, 0x02, 0);
	len = mk_v6(b, 0, off - 40);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.proto, 6);
	assert_int_equal(pi.hdr_len, 40 + 8 + 16 + 8 + 16);
	assert_int_equal(pi.dst_port, 8080);
	assert_truncations_fail(b, len);

	/* extension header claiming more than the packet holds */
	b[41] = 200;
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	b[41] = 0;

	/* hop-by-hop anywhere but first */
	b[40] = 0;
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);

	/* ESP ends the walk: the rest is opaque */
	off = 40 + mk_ext(b + 40, 50, 0);
	memset(b + off, 0x77, 32);
	len = mk_v6(b, 60, off + 32 - 40);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.proto, 50);
	assert_int_equal(pi.hdr_len, 48);

	/* no next header */
	len = mk_v6(b, 59, 0);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.proto, 59);
}

static size_t mk_dstopts_chain(uint8_t *b, int n)
{
	size_t off = 40;

	for (int i = 0; i < n; i++)
		off += mk_ext(b + off, i == n - 1 ? 17 : 60, 0);
	off += mk_udp(b + off, 1, 2, 0);
	return mk_v6(b, 60, off - 40);
}

static void test_v6_ext_limit(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t len;

	len = mk_dstopts_chain(b, PACKET_MAX_EXT_HEADERS);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.proto, 17);
	len = mk_dstopts_chain(b, PACKET_MAX_EXT_HEADERS + 1);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
	/* a chain filling a maximal packet stays refused, and cheap */
	len = mk_dstopts_chain(b, 200);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
}

static void test_v6_fragments(void **state)
{
	uint8_t b[BUF];
	struct packet_info pi;
	size_t off, len;

	/* first fragment carries the UDP header */
	off = 40 + mk_frag6(b + 40, 17, 0, 1);
	off += mk_udp(b + off, 7, 8, 40);
	be16_put(b + 48 + 4, 5000);
	len = mk_v6(b, 44, off - 40);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_true(pi.flags & PACKET_F_FRAGMENT);
	assert_true(pi.flags & PACKET_F_MORE_FRAGS);
	assert_true(pi.flags & PACKET_F_PORTS);
	assert_int_equal(pi.hdr_len, 48);
	assert_int_equal(pi.proto, 17);

	/* later fragment: payload is not parsed as headers */
	off = 40 + mk_frag6(b + 40, 17, 1232, 0);
	memset(b + off, 60, 40); /* looks like an ext chain; must be ignored */
	len = mk_v6(b, 44, off + 40 - 40);
	assert_int_equal(packet_parse(b, len, &pi), 0);
	assert_int_equal(pi.frag_offset, 1232);
	assert_int_equal(pi.proto, 17);
	assert_false(pi.flags & PACKET_F_PORTS);
	assert_false(pi.flags & PACKET_F_MORE_FRAGS);

	/* two fragment headers */
	off = 40 + mk_frag6(b + 40, 44, 0, 1);
	off += mk_frag6(b + off, 17, 0, 1);
	off += mk_udp(b + off, 1, 2, 0);
	len = mk_v6(b, 44, off - 40);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);

	/* first fragment cut inside the TCP header (RFC 7112) */
	off = 40 + mk_frag6(b + 40, 6, 0, 1);
	memset(b + off, 0, 12);
	len = mk_v6(b, 44, off + 12 - 40);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);

	/* TCP at offset 8 */
	off = 40 + mk_frag6(b + 40, 6, 8, 1);
	len = mk_v6(b, 44, off + 16 - 40);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);

	/* reassembly beyond 64 KiB */
	off = 40 + mk_frag6(b + 40, 17, 0xfff8, 0);
	len = mk_v6(b, 44, off + 64 - 40);
	assert_int_equal(packet_parse(b, len, &pi), -EINVAL);
}

/* Random corruption of valid packets: the parser must never read out of
 * bounds (ASan) and must answer 0 or -EINVAL. */
static void test_corruption(void **state)
{
	uint8_t base[4][BUF], b[BUF];
	size_t lens[4];
	struct packet_info pi;
	unsigned seed = 12345;

	lens[0] = mk_v4(base[0], 6, mk_tcp(base[0] + 20, 1, 2, 2, 8), 0);
	lens[1] = mk_v4(base[1], 17, mk_udp(base[1] + 20, 1, 2, 30), 0);
	lens[2] = mk_v6(base[2], 58, mk_echo(base[2] + 40, 129, 3));
	lens[3] = mk_dstopts_chain(base[3], 3);
	for (int i = 0; i < 200000; i++) {
		int k = i % 4;
		uint8_t *heap;
		int rc;

		memcpy(b, base[k], lens[k]);
		for (int f = 0; f < 3; f++) {
			seed = seed * 1103515245 + 12345;
			b[(seed >> 8) % lens[k]] ^= (uint8_t)(seed >> 20);
		}
		heap = malloc(lens[k]);
		assert_non_null(heap);
		memcpy(heap, b, lens[k]);
		rc = packet_parse(heap, lens[k], &pi);
		assert_true(rc == 0 || rc == -EINVAL);
		if (rc == 0)
			assert_true(pi.total_len <= lens[k] && pi.hdr_len <= pi.total_len);
		free(heap);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_udp),          cmocka_unit_test(test_v4_tcp_options),
		cmocka_unit_test(test_v4_icmp),         cmocka_unit_test(test_v4_bad_headers),
		cmocka_unit_test(test_v4_tcp_bad),      cmocka_unit_test(test_v4_fragments),
		cmocka_unit_test(test_v6_udp_tcp_icmp), cmocka_unit_test(test_v6_ext_chain),
		cmocka_unit_test(test_v6_ext_limit),    cmocka_unit_test(test_v6_fragments),
		cmocka_unit_test(test_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
