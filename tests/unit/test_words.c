/*
 * test_words: the lists are clean (lowercase, unique, short), every name is
 * a valid hostname with two different adjectives, a deterministic source
 * gives the expected name, and the random source covers the lists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mesh/hostname.h"
#include "util/words.h"

static void check_list(size_t n, const char *(*get)(size_t))
{
	size_t i, j, k, len;

	assert_true(n >= 90);
	assert_null(get(n));
	for (i = 0; i < n; i++) {
		const char *w = get(i);

		len = strlen(w);
		assert_true(len >= 2 && len <= 10);
		for (k = 0; k < len; k++)
			assert_true(w[k] >= 'a' && w[k] <= 'z');
		for (j = 0; j < i; j++)
			assert_string_not_equal(w, get(j));
	}
}

static void test_lists(void **state)
{
	(void)state;
	check_list(words_adjective_count(), words_adjective);
	check_list(words_noun_count(), words_noun);
}

/* Returns the values from a script, for deterministic names. */
static uint32_t scripted(uint32_t upper, void *arg)
{
	uint32_t **p = arg;
	uint32_t v = **p;

	(*p)++;
	assert_true(v < upper);
	return v;
}

static void test_deterministic(void **state)
{
	uint32_t script[] = { 3, 3, 0 }, *p = script;
	uint32_t script2[] = { 3, 2, 5 }, *p2 = script2;
	char out[WORDS_NAME_MAX + 1], want[64];
	int n;

	(void)state;
	/* b == a is shifted up so the adjectives differ. */
	n = words_name(out, sizeof(out), scripted, &p);
	snprintf(want, sizeof(want), "%s-%s-%s", words_adjective(3), words_adjective(4),
		 words_noun(0));
	assert_string_equal(out, want);
	assert_int_equal(n, (int)strlen(want));
	words_name(out, sizeof(out), scripted, &p2);
	snprintf(want, sizeof(want), "%s-%s-%s", words_adjective(3), words_adjective(2),
		 words_noun(5));
	assert_string_equal(out, want);
	/* Too small a buffer. */
	p = script;
	assert_int_equal(words_name(out, 5, scripted, &p), -ENOSPC);
}

static void test_random(void **state)
{
	char out[WORDS_NAME_MAX + 1], first[WORDS_NAME_MAX + 1];
	char a1[16], a2[16], noun[16];
	int i, differ = 0, n;

	(void)state;
	assert_true(words_name(first, sizeof(first), NULL, NULL) > 0);
	for (i = 0; i < 2000; i++) {
		n = words_name(out, sizeof(out), NULL, NULL);
		assert_true(n > 0 && n <= WORDS_NAME_MAX);
		assert_true(hostname_valid(out));
		assert_int_equal(sscanf(out, "%15[a-z]-%15[a-z]-%15[a-z]", a1, a2, noun), 3);
		assert_string_not_equal(a1, a2);
		if (strcmp(out, first) != 0)
			differ++;
	}
	assert_true(differ > 1990);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
