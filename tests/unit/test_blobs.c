/*
 * Unit tests for what bounds roster churn (each rename is a roster version
 * every member fetches and stores): the coordinator's per-member rename
 * bucket in src/daemon/roster.c. The blob GC rules are in test_store.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "daemon/network.h"
#include "daemon/roster.h"

/* A new member may rename ROSTER_RENAME_BURST times at once, then waits. */
static void test_rename_burst(void **state)
{
	struct rename_bucket b;
	uint64_t wait = 0;

	(void)state;
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < ROSTER_RENAME_BURST; i++)
		assert_true(roster_rename_take(&b, 5000, &wait));
	assert_false(roster_rename_take(&b, 5000, &wait));
	assert_int_equal(wait, ROSTER_RENAME_EVERY_MS);
	assert_false(roster_rename_take(&b, 5000 + ROSTER_RENAME_EVERY_MS / 2, &wait));
	assert_int_equal(wait, ROSTER_RENAME_EVERY_MS / 2);
}

/* Then one per ROSTER_RENAME_EVERY_MS, however often it asks. */
static void test_rename_rate(void **state)
{
	struct rename_bucket b;
	uint64_t wait = 0, t;
	int ok = 0;

	(void)state;
	memset(&b, 0, sizeof(b));
	/* 60 s of asking every 3 ms (a loop): 3 + 6, not one more */
	for (t = 1000; t <= 1000 + 60000; t += 3)
		ok += roster_rename_take(&b, t, &wait);
	assert_int_equal(ok, ROSTER_RENAME_BURST + 60000 / ROSTER_RENAME_EVERY_MS);
}

/* Quiet time refills the burst but never beyond it. */
static void test_rename_refill_capped(void **state)
{
	struct rename_bucket b;
	uint64_t wait = 0;
	int ok = 0;

	(void)state;
	memset(&b, 0, sizeof(b));
	while (roster_rename_take(&b, 1000, &wait))
		ok++;
	assert_int_equal(ok, ROSTER_RENAME_BURST);
	ok = 0;
	while (roster_rename_take(&b, 1000 + 3600 * 1000, &wait))
		ok++;
	assert_int_equal(ok, ROSTER_RENAME_BURST);
	/* a clock that steps back takes nothing and grants nothing */
	assert_false(roster_rename_take(&b, 10, &wait));
	assert_true(wait > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rename_burst),
		cmocka_unit_test(test_rename_rate),
		cmocka_unit_test(test_rename_refill_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
