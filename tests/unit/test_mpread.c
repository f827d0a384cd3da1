/*
 * Unit tests for src/util/mpread: typed reads at every width, caps, counts
 * that lie, truncation at every byte, the depth limit at its edge, and a
 * cursor that does not move when a read fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/mpread.h"

static void test_uint_widths(void **state)
{
	static const uint8_t b[] = { 0x7f, 0xcc, 0xff, 0xcd, 0x12, 0x34, 0xce, 0,
				     0,    1,    0,    0xcf, 1,    2,    3,    4,
				     5,    6,    7,    8,    0xd0, 1,    0xe0 };
	struct mp_reader r;
	uint64_t v;

	(void)state;
	mp_reader_init(&r, b, sizeof(b));
	assert_int_equal(mp_read_uint(&r, &v), 0);
	assert_int_equal(v, 0x7f);
	assert_int_equal(mp_read_uint(&r, &v), 0);
	assert_int_equal(v, 0xff);
	assert_int_equal(mp_read_uint(&r, &v), 0);
	assert_int_equal(v, 0x1234);
	assert_int_equal(mp_read_uint(&r, &v), 0);
	assert_int_equal(v, 0x100);
	assert_int_equal(mp_read_uint(&r, &v), 0);
	assert_true(v == 0x0102030405060708ull);
	/* signed forms (int8, negative fixint) are refused, cursor kept */
	assert_int_equal(mp_read_uint(&r, &v), -EBADMSG);
	assert_int_equal(mp_reader_left(&r), 3);
}

/* Every read of a truncated item fails and leaves the cursor at the start. */
static void test_truncated_everywhere(void **state)
{
	static const uint8_t items[][8] = {
		{ 0xcf, 1, 2, 3, 4, 5, 6, 7 },  /* uint64, one byte short */
		{ 0xc5, 0x00, 0x05, 'a', 'b' }, /* bin16 of 5, 2 there */
		{ 0xda, 0x00, 0x04, 'x' },      /* str16 of 4, 1 there */
		{ 0xdc, 0x00, 0x09, 1, 2 },     /* array16 of 9, 2 there */
		{ 0xde, 0x00, 0x02, 1, 2 },     /* map16 of 2 pairs, 1 there */
	};
	static const size_t lens[] = { 8, 5, 4, 5, 5 };

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (size_t cut = 0; cut <= lens[i]; cut++) {
			struct mp_reader r;
			const uint8_t *d;
			uint64_t v;
			size_t n;

			mp_reader_init(&r, items[i], cut);
			assert_true(mp_read_uint(&r, &v) < 0 || i != 0);
			assert_true(mp_read_bin(&r, SIZE_MAX, &d, &n) < 0);
			assert_true(mp_read_str(&r, SIZE_MAX, &d, &n) < 0);
			assert_true(mp_read_array(&r, SIZE_MAX, &n) < 0);
			assert_true(mp_read_map(&r, SIZE_MAX, &n) < 0);
			assert_true(mp_skip(&r, 8) < 0);
			assert_int_equal(r.pos, 0);
		}
	}
}

static void test_counts_and_caps(void **state)
{
	/* array32 claiming 4 billion elements, with 3 bytes behind it */
	static const uint8_t liar[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2, 3 };
	static const uint8_t arr[] = { 0x93, 1, 2, 3 };
	static const uint8_t map[] = { 0x82, 1, 2, 3, 4 };
	static const uint8_t bin[] = { 0xc4, 3, 'a', 'b', 'c' };
	struct mp_reader r;
	const uint8_t *d;
	size_t n;

	(void)state;
	mp_reader_init(&r, liar, sizeof(liar));
	assert_int_equal(mp_read_array(&r, SIZE_MAX, &n), -EBADMSG);
	assert_int_equal(mp_skip(&r, 4), -EBADMSG);
	assert_int_equal(mp_check(liar, sizeof(liar), 4), -EINVAL);

	mp_reader_init(&r, arr, sizeof(arr));
	assert_int_equal(mp_read_array(&r, 2, &n), -EBADMSG); /* over the cap */
	assert_int_equal(mp_read_map(&r, 9, &n), -EBADMSG);   /* not a map */
	assert_int_equal(mp_read_array(&r, 3, &n), 0);
	assert_int_equal(n, 3);

	/* a map of 2 pairs needs 4 bytes at least */
	mp_reader_init(&r, map, sizeof(map) - 1);
	assert_int_equal(mp_read_map(&r, SIZE_MAX, &n), -EBADMSG);
	mp_reader_init(&r, map, sizeof(map));
	assert_int_equal(mp_read_map(&r, SIZE_MAX, &n), 0);
	assert_int_equal(n, 2);

	mp_reader_init(&r, bin, sizeof(bin));
	assert_int_equal(mp_read_str(&r, SIZE_MAX, &d, &n), -EBADMSG); /* bin is no str */
	assert_int_equal(mp_read_bin(&r, 2, &d, &n), -EBADMSG);
	assert_int_equal(mp_read_bin(&r, 3, &d, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(d, "abc", 3);
	assert_int_equal(mp_reader_left(&r), 0);
	assert_int_equal(mp_read_nil(&r), -EBADMSG);
}

static void test_bool_nil(void **state)
{
	static const uint8_t b[] = { 0xc3, 0xc2, 0xc0, 0x01 };
	struct mp_reader r;
	bool v;

	(void)state;
	mp_reader_init(&r, b, sizeof(b));
	assert_int_equal(mp_read_bool(&r, &v), 0);
	assert_true(v);
	assert_int_equal(mp_read_bool(&r, &v), 0);
	assert_false(v);
	assert_int_equal(mp_read_bool(&r, &v), -EBADMSG);
	assert_int_equal(mp_read_nil(&r), 1);
	assert_int_equal(mp_read_nil(&r), 0);
	assert_int_equal(mp_reader_left(&r), 1);
}

/* n nested one-element arrays around a 0. */
static size_t nested(uint8_t *b, int n)
{
	for (int i = 0; i < n; i++)
		b[i] = 0x91;
	b[n] = 0;
	return (size_t)n + 1;
}

static void test_depth_edge(void **state)
{
	uint8_t b[MP_MAX_DEPTH + 8];
	struct mp_reader r;
	size_t len;

	(void)state;
	len = nested(b, 5);
	assert_int_equal(mp_check(b, len, 5), 0);
	assert_int_equal(mp_check(b, len, 4), -EINVAL);
	/* an empty container at the limit does not count as a level */
	b[4] = 0x90;
	assert_int_equal(mp_check(b, 5, 4), 0);
	len = nested(b, MP_MAX_DEPTH);
	assert_int_equal(mp_check(b, len, MP_MAX_DEPTH), 0);
	len = nested(b, MP_MAX_DEPTH + 1);
	assert_int_equal(mp_check(b, len, MP_MAX_DEPTH), -EINVAL);
	assert_int_equal(mp_check(b, len, MP_MAX_DEPTH + 1), -EINVAL); /* out of range */
	assert_int_equal(mp_check(b, len, 0), -EINVAL);
	mp_reader_init(&r, b, len);
	assert_int_equal(mp_skip(&r, MP_MAX_DEPTH), -EBADMSG);
	assert_int_equal(r.pos, 0);
}

/* Every type byte: skip steps over exactly the object, and 0xc1 never is. */
static void test_skip_all_types(void **state)
{
	static const struct {
		uint8_t b[12];
		size_t len;
	} ok[] = {
		{ { 0xc0 }, 1 },
		{ { 0xca, 0, 0, 0, 0 }, 5 },
		{ { 0xcb, 0, 0, 0, 0, 0, 0, 0, 0 }, 9 },
		{ { 0xd3, 0, 0, 0, 0, 0, 0, 0, 0 }, 9 },
		{ { 0xd4, 1, 2 }, 3 },
		{ { 0xd8, 1, 0, 0, 0, 0, 0, 0, 0, 0 }, 0 }, /* fixext16: short */
		{ { 0xc7, 2, 9, 'a', 'b' }, 5 },
		{ { 0xc8, 0, 1, 9, 'a' }, 5 },
		{ { 0xd9, 2, 'h', 'i' }, 4 },
		{ { 0x81, 0xa1, 'k', 0x90 }, 4 },
		{ { 0xde, 0, 1, 1, 0xff }, 5 },
		{ { 0xdf, 0, 0, 0, 1, 1, 0xff }, 7 },
		{ { 0xdc, 0, 2, 1, 2 }, 5 },
		{ { 0xdd, 0, 0, 0, 2, 1, 2 }, 7 },
		{ { 0xff }, 1 },
	};
	static const uint8_t bad[] = { 0xc1 };
	static const uint8_t trailing[] = { 1, 2 };
	size_t used;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t want = ok[i].len;

		if (want == 0) { /* given with fewer bytes than it needs */
			assert_int_equal(mp_check(ok[i].b, 10, 4), -EINVAL);
			continue;
		}
		assert_int_equal(mp_check_prefix(ok[i].b, sizeof(ok[i].b), 4, &used), 0);
		assert_int_equal(used, want);
		assert_int_equal(mp_check(ok[i].b, want, 4), 0);
		assert_int_equal(mp_check(ok[i].b, want - 1, 4), -EINVAL);
	}
	assert_int_equal(mp_check(bad, 1, 4), -EINVAL);
	assert_int_equal(mp_check(trailing, 2, 4), -EINVAL);
	assert_int_equal(mp_check_prefix(trailing, 2, 4, &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(mp_check(NULL, 0, 4), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uint_widths),     cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_counts_and_caps), cmocka_unit_test(test_bool_nil),
		cmocka_unit_test(test_depth_edge),      cmocka_unit_test(test_skip_all_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
