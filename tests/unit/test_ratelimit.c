/*
 * test_ratelimit: a full bucket lets its burst through and then one event
 * per interval, whatever the caller's rate; partial intervals are not lost; an idle bucket refills only to
 * its burst; a clock that goes back does not mint tokens; an uninitialised
 * bucket lets nothing through.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "util/ratelimit.h"

static void test_burst_then_rate(void **state)
{
	struct ratelimit rl;
	int passed = 0;

	(void)state;
	ratelimit_init(&rl, 5, 1000);
	/* a flood of 100 000 events over 10 s: 5 at once, then one a second */
	for (uint64_t i = 0; i < 100000; i++)
		passed += ratelimit_take(&rl, 1000 + i / 10);
	assert_int_equal(passed, 5 + 9);
}

static void test_partial_intervals_kept(void **state)
{
	struct ratelimit rl;
	int passed = 0;

	(void)state;
	ratelimit_init(&rl, 1, 100);
	assert_true(ratelimit_take(&rl, 0));
	/* asked every 60 ms: a token every 100 ms still arrives */
	for (uint64_t t = 60; t <= 6000; t += 60)
		passed += ratelimit_take(&rl, t);
	assert_int_equal(passed, 60);
}

static void test_idle_refills_to_burst(void **state)
{
	struct ratelimit rl;
	int passed = 0;

	(void)state;
	ratelimit_init(&rl, 3, 10);
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_take(&rl, 5));
	assert_false(ratelimit_take(&rl, 5));
	/* an hour idle buys the burst, not 360 000 events */
	for (int i = 0; i < 100; i++)
		passed += ratelimit_take(&rl, 3600 * 1000);
	assert_int_equal(passed, 3);
}

static void test_clock_back(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 1, 1000);
	assert_true(ratelimit_take(&rl, 1000000));
	assert_false(ratelimit_take(&rl, 5));
	assert_false(ratelimit_take(&rl, 500));
	assert_true(ratelimit_take(&rl, 1005));
	assert_false(ratelimit_take(&rl, 1006));
}

static void test_uninitialised(void **state)
{
	struct ratelimit rl;

	(void)state;
	memset(&rl, 0, sizeof(rl));
	assert_false(ratelimit_take(&rl, 0));
	assert_false(ratelimit_take(&rl, 1000000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_partial_intervals_kept),
		cmocka_unit_test(test_idle_refills_to_burst),
		cmocka_unit_test(test_clock_back),
		cmocka_unit_test(test_uninitialised),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
