/*
 * test_pcp: the PCP MAP codec. A request's bytes against RFC 6887's
 * layout; a valid response parsed; and every way a response can be wrong
 * (truncated, version, opcode, R bit, someone else's nonce, protocol or
 * port, error result codes, lifetimes, addresses that are not IPv4-mapped
 * or not usable, options that overrun the datagram) refused with the
 * errno pcp.h promises.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "transport/pcp.h"

static const uint8_t nonce[PCP_NONCE_LEN] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
					      0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98 };

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static void map_req(struct pcp_map *req, uint32_t lifetime)
{
	memset(req, 0, sizeof(*req));
	memcpy(req->nonce, nonce, sizeof(nonce));
	req->protocol = PCP_PROTO_UDP;
	req->internal_port = 41383;
	req->external_port = 41383;
	req->lifetime_s = lifetime;
}

/* A server's SUCCESS answer to map_req: 203.0.113.7:50000 for lifetime. */
static size_t map_resp(uint8_t *b, uint32_t lifetime)
{
	memset(b, 0, PCP_MAP_LEN);
	b[0] = 2;
	b[1] = 0x80 | 1;
	b[4] = (uint8_t)(lifetime >> 24);
	b[5] = (uint8_t)(lifetime >> 16);
	b[6] = (uint8_t)(lifetime >> 8);
	b[7] = (uint8_t)lifetime;
	b[11] = 42; /* epoch */
	memcpy(b + 24, nonce, sizeof(nonce));
	b[36] = 17;
	b[40] = 41383 >> 8;
	b[41] = 41383 & 0xff;
	b[42] = 50000 >> 8;
	b[43] = 50000 & 0xff;
	b[54] = 0xff;
	b[55] = 0xff;
	b[56] = 203;
	b[58] = 113;
	b[59] = 7;
	return PCP_MAP_LEN;
}

static void test_encode(void **state)
{
	static const uint8_t want[PCP_MAP_LEN] = {
		2,    1,    0,    0,    0,    0,    0x1c, 0x20, /* MAP, 7200 s */
		0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0xff, 0xff, 10, 0, 0, 2,
		0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 17, 0, 0, 0,
		0xa1, 0xa7, 0xa1, 0xa7, /* udp 41383 41383 */
		0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0xff, 0xff, 0,  0, 0, 0,
	};
	uint8_t buf[PCP_MAP_LEN + 8];
	struct pcp_map req;

	map_req(&req, 7200);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(pcp_map_encode(buf, sizeof(buf), ip4("10.0.0.2"), &req), PCP_MAP_LEN);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[PCP_MAP_LEN], 0xee);

	/* A renewal suggests the address it holds; a delete asks 0 s. */
	req.external = ip4("203.0.113.7");
	req.lifetime_s = 0;
	assert_int_equal(pcp_map_encode(buf, sizeof(buf), ip4("10.0.0.2"), &req), PCP_MAP_LEN);
	assert_memory_equal(buf + 4, "\0\0\0\0", 4);
	assert_memory_equal(buf + 54, "\xff\xff\xcb\x00\x71\x07", 6);
}

static void test_encode_invalid(void **state)
{
	uint8_t buf[PCP_MAP_LEN];
	struct pcp_map req;

	map_req(&req, 7200);
	assert_int_equal(pcp_map_encode(buf, PCP_MAP_LEN - 1, ip4("10.0.0.2"), &req), -ENOSPC);
	assert_int_equal(pcp_map_encode(buf, sizeof(buf), ip4("0.0.0.0"), &req), -EINVAL);
	req.lifetime_s = PCP_LIFETIME_MAX + 1;
	assert_int_equal(pcp_map_encode(buf, sizeof(buf), ip4("10.0.0.2"), &req), -EINVAL);
	map_req(&req, 7200);
	req.internal_port = 0;
	assert_int_equal(pcp_map_encode(buf, sizeof(buf), ip4("10.0.0.2"), &req), -EINVAL);
}

static void test_parse_ok(void **state)
{
	uint8_t b[PCP_MAX_LEN];
	struct pcp_reply rep;
	struct pcp_map req;
	char s[INET_ADDRSTRLEN];

	map_req(&req, 7200);
	assert_int_equal(pcp_map_parse(b, map_resp(b, 3600), &req, &rep), 0);
	assert_int_equal(rep.result, PCP_SUCCESS);
	assert_int_equal(rep.epoch, 42);
	assert_int_equal(rep.map.lifetime_s, 3600);
	assert_int_equal(rep.map.external_port, 50000);
	assert_int_equal(rep.map.internal_port, 41383);
	assert_int_equal(rep.map.protocol, 17);
	assert_memory_equal(rep.map.nonce, nonce, sizeof(nonce));
	inet_ntop(AF_INET, &rep.map.external, s, sizeof(s));
	assert_string_equal(s, "203.0.113.7");

	/* The whole 24 h is fine, and so is a longer lease than asked. */
	assert_int_equal(pcp_map_parse(b, map_resp(b, PCP_LIFETIME_MAX), &req, &rep), 0);
	assert_int_equal(rep.map.lifetime_s, PCP_LIFETIME_MAX);
}

static void test_parse_truncated(void **state)
{
	static const size_t lens[] = { 0, 1, 3, 4, 8, 23, 24, 56, 59 };
	uint8_t b[PCP_MAX_LEN + 8];
	struct pcp_reply rep;
	struct pcp_map req;
	size_t i;

	map_req(&req, 7200);
	map_resp(b, 7200);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_int_equal(pcp_map_parse(b, lens[i], &req, &rep), -EBADMSG);
	/* Not a multiple of 4, or past the 1100-byte maximum. */
	memset(b + PCP_MAP_LEN, 0, sizeof(b) - PCP_MAP_LEN);
	assert_int_equal(pcp_map_parse(b, PCP_MAP_LEN + 1, &req, &rep), -EBADMSG);
	assert_int_equal(pcp_map_parse(b, PCP_MAP_LEN + 3, &req, &rep), -EBADMSG);
	assert_int_equal(pcp_map_parse(b, PCP_MAX_LEN + 4, &req, &rep), -EBADMSG);
}

static void test_parse_options(void **state)
{
	uint8_t b[PCP_MAP_LEN + 28];
	struct pcp_reply rep;
	struct pcp_map req;

	map_req(&req, 7200);
	map_resp(b, 7200);
	memset(b + PCP_MAP_LEN, 0, sizeof(b) - PCP_MAP_LEN);
	/* THIRD_PARTY with its 16-byte address, then a 1-byte padded one. */
	b[60] = 1;
	b[63] = 16;
	b[80] = 0x80;
	b[83] = 1;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), 0);
	/* Zero-length options are just headers. */
	memset(b + PCP_MAP_LEN, 0, sizeof(b) - PCP_MAP_LEN);
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), 0);
	/* An option that claims more than the datagram holds. */
	b[63] = 17;
	assert_int_equal(pcp_map_parse(b, PCP_MAP_LEN + 20, &req, &rep), -EBADMSG);
	b[63] = 0;
	b[62] = 0xff;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -EBADMSG);
}

static void test_parse_version(void **state)
{
	/* What a NAT-PMP server sends back to a version 2 request. */
	static const uint8_t natpmp_unsupp[8] = { 0, 0x81, 0, 1, 0, 0, 1, 0 };
	static const uint8_t natpmp_other[8] = { 0, 0x81, 0, 2, 0, 0, 1, 0 };
	static const uint8_t natpmp_request[8] = { 0, 0x01, 0, 1, 0, 0, 1, 0 };
	uint8_t b[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct pcp_map req;

	map_req(&req, 7200);
	assert_int_equal(pcp_map_parse(natpmp_unsupp, 8, &req, &rep), -EPROTONOSUPPORT);
	assert_int_equal(rep.result, PCP_UNSUPP_VERSION);
	assert_int_equal(pcp_map_parse(natpmp_unsupp, 4, &req, &rep), -EPROTO);
	assert_int_equal(pcp_map_parse(natpmp_other, 8, &req, &rep), -EPROTO);
	assert_int_equal(pcp_map_parse(natpmp_request, 8, &req, &rep), -EPROTO);
	/* Versions 1 (the draft) and 3 are not ours. */
	map_resp(b, 7200);
	b[0] = 1;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -EPROTO);
	b[0] = 3;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -EPROTO);
	/* A PCP server's own UNSUPP_VERSION may be the bare header. */
	map_resp(b, 7200);
	b[3] = PCP_UNSUPP_VERSION;
	assert_int_equal(pcp_map_parse(b, PCP_HEADER_LEN, &req, &rep), -EPROTONOSUPPORT);
}

static void test_parse_opcode(void **state)
{
	static const uint8_t ops[] = { 0x80, 0x82, 0x83, 0xff, 0x81 & 0x7f };
	uint8_t b[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct pcp_map req;
	size_t i;

	map_req(&req, 7200);
	for (i = 0; i < sizeof(ops); i++) {
		map_resp(b, 7200);
		b[1] = ops[i];
		assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -EPROTO);
	}
}

/* An answer to another request: another nonce, protocol or port. */
static void test_parse_not_ours(void **state)
{
	uint8_t b[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct pcp_map req;

	map_req(&req, 7200);
	map_resp(b, 7200);
	b[35] ^= 1;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -ENOMSG);
	map_resp(b, 7200);
	b[24] ^= 0x80;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -ENOMSG);
	map_resp(b, 7200);
	b[36] = 6;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -ENOMSG);
	map_resp(b, 7200);
	b[41]++;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -ENOMSG);
	/* Also when it carries an error: not ours to act on. */
	map_resp(b, 7200);
	b[3] = PCP_NOT_AUTHORIZED;
	b[30] ^= 1;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -ENOMSG);
}

static void test_parse_results(void **state)
{
	static const struct {
		uint8_t code;
		int err;
		const char *name;
	} t[] = {
		{ PCP_NOT_AUTHORIZED, -EACCES, "NOT_AUTHORIZED" },
		{ PCP_MALFORMED_REQUEST, -EINVAL, "MALFORMED_REQUEST" },
		{ PCP_UNSUPP_OPCODE, -EOPNOTSUPP, "UNSUPP_OPCODE" },
		{ PCP_UNSUPP_OPTION, -EOPNOTSUPP, "UNSUPP_OPTION" },
		{ PCP_MALFORMED_OPTION, -EBADMSG, "MALFORMED_OPTION" },
		{ PCP_NETWORK_FAILURE, -ENETDOWN, "NETWORK_FAILURE" },
		{ PCP_NO_RESOURCES, -ENOSPC, "NO_RESOURCES" },
		{ PCP_UNSUPP_PROTOCOL, -ESOCKTNOSUPPORT, "UNSUPP_PROTOCOL" },
		{ PCP_USER_EX_QUOTA, -EDQUOT, "USER_EX_QUOTA" },
		{ PCP_CANNOT_PROVIDE_EXTERNAL, -EADDRNOTAVAIL, "CANNOT_PROVIDE_EXTERNAL" },
		{ PCP_ADDRESS_MISMATCH, -EREMCHG, "ADDRESS_MISMATCH" },
		{ PCP_EXCESSIVE_REMOTE_PEERS, -E2BIG, "EXCESSIVE_REMOTE_PEERS" },
		{ 14, -EPROTO, "unknown" },
		{ 255, -EPROTO, "unknown" },
	};
	uint8_t b[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct pcp_map req;
	size_t i;

	map_req(&req, 7200);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		map_resp(b, 1800); /* an error's lifetime: how long it holds */
		b[3] = t[i].code;
		assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), t[i].err);
		assert_int_equal(rep.result, t[i].code);
		assert_int_equal(rep.map.external_port, 0);
		assert_int_equal(pcp_result_errno(t[i].code), t[i].err);
		assert_string_equal(pcp_result_name(t[i].code), t[i].name);
	}
	assert_int_equal(pcp_result_errno(PCP_SUCCESS), 0);
	assert_int_equal(pcp_result_errno(PCP_UNSUPP_VERSION), -EPROTONOSUPPORT);
	assert_string_equal(pcp_result_name(PCP_SUCCESS), "SUCCESS");
}

static void test_parse_lifetime(void **state)
{
	static const uint32_t bad[] = { 0, PCP_LIFETIME_MAX + 1, 0x80000000u, UINT32_MAX };
	uint8_t b[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct pcp_map req;
	size_t i;

	map_req(&req, 7200);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pcp_map_parse(b, map_resp(b, bad[i]), &req, &rep), -EPROTO);
	assert_int_equal(pcp_map_parse(b, map_resp(b, 1), &req, &rep), 0);

	/* A delete is confirmed by lifetime 0, whatever the address says. */
	map_req(&req, 0);
	map_resp(b, 0);
	memset(b + 42, 0, 18);
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), 0);
	assert_int_equal(rep.map.lifetime_s, 0);
	assert_int_equal(pcp_map_parse(b, map_resp(b, 60), &req, &rep), -EPROTO);
}

static void set_ext(uint8_t *b, const char *v6)
{
	assert_int_equal(inet_pton(AF_INET6, v6, b + 44), 1);
}

static void test_parse_address(void **state)
{
	static const char *bad[] = {
		"2001:db8::1",         "::203.0.113.7",          "::",
		"::ffff:0.0.0.0",      "::ffff:255.255.255.255", "::ffff:224.0.0.1",
		"::ffff:239.1.2.3",    "64:ff9b::203.0.113.7",   "::fffe:203.0.113.7",
		"::1:ffff:203.0.113.7"
	};
	uint8_t b[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct pcp_map req;
	char s[INET_ADDRSTRLEN];
	size_t i;

	map_req(&req, 7200);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		map_resp(b, 7200);
		set_ext(b, bad[i]);
		if (pcp_map_parse(b, sizeof(b), &req, &rep) != -EPROTO)
			fail_msg("external address %s accepted", bad[i]);
	}
	map_resp(b, 7200);
	set_ext(b, "::ffff:198.51.100.1");
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), 0);
	inet_ntop(AF_INET, &rep.map.external, s, sizeof(s));
	assert_string_equal(s, "198.51.100.1");
	/* A private one is reported as is: portmap flags it (double NAT). */
	set_ext(b, "::ffff:10.1.2.3");
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), 0);
	/* Port 0 is no mapping. */
	map_resp(b, 7200);
	b[42] = b[43] = 0;
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -EPROTO);
}

/* The request we send, answered by its own bytes, is not an answer. */
static void test_parse_own_request(void **state)
{
	uint8_t b[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct pcp_map req;

	map_req(&req, 7200);
	assert_int_equal(pcp_map_encode(b, sizeof(b), ip4("10.0.0.2"), &req), PCP_MAP_LEN);
	assert_int_equal(pcp_map_parse(b, sizeof(b), &req, &rep), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),        cmocka_unit_test(test_encode_invalid),
		cmocka_unit_test(test_parse_ok),      cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_options), cmocka_unit_test(test_parse_version),
		cmocka_unit_test(test_parse_opcode),  cmocka_unit_test(test_parse_not_ours),
		cmocka_unit_test(test_parse_results), cmocka_unit_test(test_parse_lifetime),
		cmocka_unit_test(test_parse_address), cmocka_unit_test(test_parse_own_request),
	};

	return cmocka_run_group_tests_name("pcp", tests, NULL, NULL);
}
