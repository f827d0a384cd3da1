/*
 * test_address: pinned derivation vectors (computed once with an
 * independent Python FNV-1a and Debian's b3sum), collision indexes,
 * reserved host parts, and strict text parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "mesh/address.h"

#define ID_ZERO "0000000000000000000000000000000000000000000000000000000000000000"
#define ID_MIX "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
#define ID_FF "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
/* An id whose index-0 host part is 0 (found by brute force). */
#define ID_RESERVED "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa000000000014c579"

struct v4vec {
	const char *id;
	const char *addr[4]; /* collision index 0, 1, 2, 256 */
	const char *v6;
};

static const struct v4vec vecs[] = {
	{ ID_ZERO,
	  { "100.89.106.197", "100.82.144.130", "100.82.142.239", "100.80.23.172" },
	  "28e:b255:ea24:42bd:529c:41:6186:9f00" },
	{ ID_MIX,
	  { "100.78.109.51", "100.88.203.208", "100.88.208.137", "100.86.82.250" },
	  "27c:c24f:41b9:4815:ba2e:ce4f:1515:3261" },
	{ ID_FF,
	  { "100.102.174.197", "100.112.20.130", "100.112.18.239", "100.109.155.172" },
	  "204:939f:3b32:35be:ec46:ee58:5f98:7aa" },
};

static void test_vectors(void **state)
{
	static const uint32_t idx[4] = { 0, 1, 2, 256 };
	char text[ADDRESS_V6_STRLEN];
	uint8_t v6[16];
	uint32_t ip;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		for (j = 0; j < 4; j++) {
			ip = address_ipv4(vecs[i].id, idx[j]);
			assert_true(address_ipv4_in_mesh(ip));
			address_ipv4_format(ip, text);
			assert_string_equal(text, vecs[i].addr[j]);
		}
		address_ipv6(vecs[i].id, v6);
		assert_int_equal(v6[0], 0x02);
		assert_true(address_ipv6_in_mesh(v6));
		address_ipv6_format(v6, text);
		assert_string_equal(text, vecs[i].v6);
	}
}

static void test_reserved(void **state)
{
	uint32_t ip;

	(void)state;
	ip = address_ipv4(ID_RESERVED, 0);
	assert_int_equal(ip, 0x64400000u);
	assert_true(address_ipv4_is_reserved(ip));
	assert_false(address_ipv4_is_reserved(address_ipv4(ID_RESERVED, 1)));
	assert_true(address_ipv4_is_reserved(0x647fffffu)); /* 100.127.255.255 */
	assert_false(address_ipv4_is_reserved(0x64400001u));
	assert_false(address_ipv4_is_reserved(0x647ffffeu));
	/* Outside the mesh range nothing is "reserved", nothing is in mesh. */
	assert_false(address_ipv4_is_reserved(0x0a000000u));
	assert_false(address_ipv4_in_mesh(0x0a000001u));
	assert_false(address_ipv4_in_mesh(0x64800000u)); /* 100.128.0.0 */
	assert_false(address_ipv4_in_mesh(0x643fffffu)); /* 100.63.255.255 */
}

static void test_parse(void **state)
{
	uint8_t v6[16], want[16] = { 0x02, 0x8e, 0xb2, 0x55 };
	uint32_t ip;

	(void)state;
	assert_int_equal(address_ipv4_parse("100.64.0.1", &ip), 0);
	assert_int_equal(ip, 0x64400001u);
	assert_int_equal(address_ipv4_parse("100.64.0.256", &ip), -EINVAL);
	assert_int_equal(address_ipv4_parse("100.64.0", &ip), -EINVAL);
	assert_int_equal(address_ipv4_parse("100.64.0.1 ", &ip), -EINVAL);
	assert_int_equal(address_ipv4_parse("", &ip), -EINVAL);
	assert_int_equal(address_ipv4_parse(NULL, &ip), -EINVAL);
	assert_int_equal(address_ipv6_parse("28e:b255::", v6), 0);
	assert_memory_equal(v6, want, 16);
	assert_int_equal(address_ipv6_parse("28e:::1", v6), -EINVAL);
	assert_int_equal(address_ipv6_parse("100.64.0.1", v6), -EINVAL);
	assert_false(address_ipv6_in_mesh((const uint8_t[16]){ 0xfd }));
	assert_true(address_ipv6_in_mesh((const uint8_t[16]){ 0x03 }));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
