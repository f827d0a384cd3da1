/*
 * Unit tests of the growable buffer (util/buf.c): it grows with what is
 * appended, never past its cap, and a refused append changes nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/buf.h"

static void test_buf_grows_to_cap(void **state)
{
	uint8_t chunk[100];
	struct buf b;

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	buf_init(&b, 1000);
	assert_null(b.data);
	for (int i = 0; i < 10; i++)
		assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
	assert_int_equal(b.len, 1000);
	assert_int_equal(b.cap, 1000); /* doubling stops at the cap */
	assert_int_equal(buf_append(&b, chunk, 1), -EMSGSIZE);
	assert_int_equal(b.len, 1000);
	assert_int_equal(b.data[999], 'a');
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.max, 1000);
}

/* A cap below the first allocation: never more than the cap. */
static void test_buf_small_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_true(b.cap <= 16);
	assert_int_equal(buf_append(&b, "0123456789", 10), -EMSGSIZE);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_reserve(&b, 6), 0);
	assert_int_equal(buf_reserve(&b, 7), -EMSGSIZE);
	assert_int_equal(buf_reserve(&b, SIZE_MAX), -EMSGSIZE);
	buf_free(&b);
}

static void test_buf_consume_and_reset(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append(&b, "headbody", 8), 0);
	buf_consume(&b, 4);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "body", 4);
	buf_consume(&b, 99);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append(&b, "x", 1), 0);
	buf_reset(&b, 4096); /* small: kept */
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_reserve(&b, 100000), 0);
	buf_reset(&b, 4096); /* grown: let go */
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
	assert_int_equal(buf_append(&b, NULL, 0), 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_grows_to_cap),
		cmocka_unit_test(test_buf_small_cap),
		cmocka_unit_test(test_buf_consume_and_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
