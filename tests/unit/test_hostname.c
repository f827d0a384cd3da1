/*
 * test_hostname: validity rules, sanitising hostile input (case, symbols,
 * UTF-8, overlong names, nothing usable) and clash suffixes that stay
 * within 63 characters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "mesh/hostname.h"

static void test_valid(void **state)
{
	char s[80];

	(void)state;
	assert_true(hostname_valid("a"));
	assert_true(hostname_valid("alice"));
	assert_true(hostname_valid("web-01"));
	assert_true(hostname_valid("0"));
	assert_false(hostname_valid(""));
	assert_false(hostname_valid(NULL));
	assert_false(hostname_valid("-a"));
	assert_false(hostname_valid("a-"));
	assert_false(hostname_valid("Alice"));
	assert_false(hostname_valid("a.b"));
	assert_false(hostname_valid("a_b"));
	assert_false(hostname_valid("a b"));
	assert_false(hostname_valid("caf\xc3\xa9"));
	memset(s, 'a', 63);
	s[63] = '\0';
	assert_true(hostname_valid(s));
	s[63] = 'a';
	s[64] = '\0';
	assert_false(hostname_valid(s));
}

static void test_sanitize(void **state)
{
	char out[HOSTNAME_BUF], in[200];

	(void)state;
	assert_int_equal(hostname_sanitize("Alice", out), 0);
	assert_string_equal(out, "alice");
	assert_int_equal(hostname_sanitize("Bob's MacBook Pro", out), 0);
	assert_string_equal(out, "bob-s-macbook-pro");
	assert_int_equal(hostname_sanitize("--web_01.local--", out), 0);
	assert_string_equal(out, "web-01-local");
	assert_int_equal(hostname_sanitize("caf\xc3\xa9 bar", out), 0);
	assert_string_equal(out, "caf-bar");
	/* Overlong: cut to 63, never ending in '-'. */
	memset(in, 'x', sizeof(in));
	in[62] = '.';
	in[sizeof(in) - 1] = '\0';
	assert_int_equal(hostname_sanitize(in, out), 0);
	assert_int_equal(strlen(out), 62);
	assert_true(hostname_valid(out));
	/* Nothing usable: a random words name. */
	assert_int_equal(hostname_sanitize("!!!", out), 0);
	assert_true(hostname_valid(out));
	assert_non_null(strchr(out, '-'));
	assert_int_equal(hostname_sanitize("", out), 0);
	assert_true(hostname_valid(out));
	assert_int_equal(hostname_sanitize(NULL, out), 0);
	assert_true(hostname_valid(out));
}

static void test_clash(void **state)
{
	const char *taken[] = { "alice", "alice-1", "alice-3", "bob" };
	char out[HOSTNAME_BUF], longname[HOSTNAME_BUF], want[HOSTNAME_BUF];
	const char *taken_long[2];

	(void)state;
	assert_int_equal(hostname_resolve_clash_list("carol", taken, 4, out), 0);
	assert_string_equal(out, "carol");
	assert_int_equal(hostname_resolve_clash_list("alice", taken, 4, out), 0);
	assert_string_equal(out, "alice-2");
	assert_int_equal(hostname_resolve_clash_list("bob", taken, 4, out), 0);
	assert_string_equal(out, "bob-1");
	/* A 63-character name is shortened to make room for the suffix. */
	memset(longname, 'a', 63);
	longname[63] = '\0';
	taken_long[0] = longname;
	assert_int_equal(hostname_resolve_clash_list(longname, taken_long, 1, out), 0);
	memset(want, 'a', 61);
	strcpy(want + 61, "-1");
	assert_string_equal(out, want);
	assert_true(hostname_valid(out));
	/* The cut never leaves "-" before the suffix. */
	memset(longname, 'b', 63);
	longname[60] = '-';
	assert_int_equal(hostname_resolve_clash_list(longname, taken_long, 1, out), 0);
	assert_true(hostname_valid(out));
	assert_null(strstr(out, "--"));
	/* Invalid wanted names are refused, not sanitised silently. */
	assert_int_equal(hostname_resolve_clash_list("Alice", taken, 4, out), -EINVAL);
	assert_int_equal(hostname_resolve_clash_list("", taken, 4, out), -EINVAL);
	assert_int_equal(hostname_resolve_clash("a", NULL, NULL, out), -EINVAL);
}

static bool all_taken(const char *name, void *arg)
{
	(*(unsigned *)arg)++;
	return true;
}

static void test_clash_exhausted(void **state)
{
	char out[HOSTNAME_BUF];
	unsigned calls = 0;

	(void)state;
	assert_int_equal(hostname_resolve_clash("x", all_taken, &calls, out), -EEXIST);
	assert_int_equal(calls, HOSTNAME_CLASH_TRIES + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_clash),
		cmocka_unit_test(test_clash_exhausted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
