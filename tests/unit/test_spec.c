/* Unit tests for proto/yaml and cli/spec: parsing, line numbers, expansion. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/spec.h"
#include "proto/yaml.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static int build(const char *text, json_t **spec, char *err, size_t errlen)
{
	struct yaml_doc doc;
	int ret = yaml_parse(text, strlen(text), &doc, err, errlen);

	if (ret < 0)
		return ret;
	ret = spec_build(&doc, spec, err, errlen);
	yaml_doc_free(&doc);
	return ret;
}

static void test_yaml_basic(void **state)
{
	struct yaml_doc doc;
	char err[256];
	const char *t = "a:\n  b: [x, y]\n  c:\n    - z\n";

	(void)state;
	assert_int_equal(yaml_parse(t, strlen(t), &doc, err, sizeof(err)), 0);
	assert_string_equal(json_string_value(
				    json_array_get(json_object_get(json_object_get(doc.root, "a"),
								   "b"),
						   1)),
			    "y");
	assert_int_equal(yaml_line(&doc, ".a.c[0]"), 4);
	assert_int_equal(yaml_line(&doc, ".a.b"), 2);
	yaml_doc_free(&doc);
}

static void test_yaml_rejects(void **state)
{
	static const char *bad[] = {
		"a: [unclosed\n", "a: 1\na: 2\n",       "a: &x 1\nb: *x\n", "a: !!str 1\n",
		"--- 1\n--- 2\n", "? [complex]\n: 1\n", "a:\n\tb: 1\n",
	};
	struct yaml_doc doc;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(yaml_parse(bad[i], strlen(bad[i]), &doc, err, sizeof(err)),
				 -EINVAL);
		assert_non_null(strstr(err, "line "));
		assert_null(doc.root);
	}
}

static void test_yaml_depth(void **state)
{
	char deep[400] = "";
	struct yaml_doc doc;
	char err[256];

	(void)state;
	for (int i = 0; i < 60; i++)
		strcat(deep, "[");
	assert_int_equal(yaml_parse(deep, strlen(deep), &doc, err, sizeof(err)), -EINVAL);
}

static void test_spec_expand(void **state)
{
	const char *t = "aliases:\n"
			"  alice: " ID_A "\n"
			"  bob: [" ID_A ", " ID_B "]\n"
			"groups:\n"
			"  admins: [alice, ops]\n"
			"  web: [web-1, web-2]\n"
			"networks:\n"
			"  prod:\n"
			"    web:\n"
			"      allow: [\"*:tcp:443\", \"admins:tcp:22\"]\n"
			"    db:\n"
			"      allow: [\"web:tcp:5432\"]\n"
			"      deny: [udp]\n"
			"    \"*\":\n"
			"      allow: [icmp]\n";
	json_t *spec = NULL, *prod, *w1;
	char err[256];

	(void)state;
	assert_int_equal(build(t, &spec, err, sizeof(err)), 0);
	prod = json_object_get(json_object_get(spec, "networks"), "prod");
	w1 = json_object_get(json_object_get(prod, "subjects"), "web-1");
	assert_non_null(w1);
	assert_non_null(json_object_get(json_object_get(prod, "subjects"), "web-2"));
	/* *:tcp:443, alice's identity:tcp:22, ops:tcp:22 */
	assert_int_equal(json_array_size(json_object_get(w1, "allow")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(w1, "allow"), 1)),
			    ID_A ":tcp:22");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(json_object_get(json_object_get(prod,
										    "subjects"),
								    "db"),
						    "deny"),
				    0)),
			    "*:udp:*");
	/* expected hosts: web-1, web-2, ops, db (not aliases, not *) */
	assert_int_equal(json_array_size(json_object_get(prod, "hosts")), 4);
	json_decref(spec);
}

static void test_spec_errors_name_lines(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "networks:\n  prod:\n    web:\n      allow: [\"tcp:99999\"]\n", "line 4" },
		{ "networks:\n  prod:\n    web:\n      allow: [\"smtp:25\"]\n", "line 4" },
		{ "networks:\n  Bad_Net:\n    web: {allow: [tcp]}\n", "line 2" },
		{ "aliases:\n  al: nothex\nnetworks:\n  p: {}\n", "line 2" },
		{ "networks:\n  p:\n    web:\n      permit: [tcp]\n", "line 3" },
		{ "nets:\n  p: {}\n", "line 1" },
		{ "networks: {}\n", "networks" },
		{ "aliases:\n  al: " ID_A "\nnetworks:\n  p:\n    al: {allow: [tcp]}\n", "line 5" },
		{ "networks:\n  p:\n    web: {allow: [\"a:b:c:d\"]}\n", "line 3" },
	};
	char err[256];
	json_t *spec;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		spec = NULL;
		assert_int_equal(build(cases[i].text, &spec, err, sizeof(err)), -EINVAL);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: '%s' does not contain '%s'", i, err, cases[i].want);
		assert_null(spec);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_basic),
		cmocka_unit_test(test_yaml_rejects),
		cmocka_unit_test(test_yaml_depth),
		cmocka_unit_test(test_spec_expand),
		cmocka_unit_test(test_spec_errors_name_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
