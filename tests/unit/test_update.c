/* Unit tests for src/cli/update.c: version order, and signed release feeds
 * (good, forged, altered, malformed, with no release for this machine). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/update.h"

static const char releases[] =
	"{\"releases\": ["
	" {\"version\": \"0.2.0\", \"released\": 1, \"binaries\": {\"x86_64-linux\":"
	"  {\"url\": \"https://example.org/ray-0.2.0\", \"sha256\":"
	"   \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\", \"size\": 1000}}},"
	" {\"version\": \"0.10.1\", \"released\": 2, \"binaries\": {\"x86_64-linux\":"
	"  {\"url\": \"http://example.org/ray-0.10.1\", \"sha256\":"
	"   \"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\", \"size\": 2000},"
	"  \"aarch64-linux\": {\"url\": \"https://example.org/a\", \"sha256\":"
	"   \"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\", \"size\": 5}}},"
	" {\"version\": \"0.3.0\", \"released\": 3, \"binaries\": {}}]}";

static uint8_t seed[32], pk[32];

static int setup(void **state)
{
	uint8_t sk[64];

	(void)state;
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	return 0;
}

static void test_versions(void **state)
{
	(void)state;
	assert_int_equal(update_version_cmp("0.1.0", "0.1.0"), 0);
	assert_int_equal(update_version_cmp("0.2.0", "0.10.0"), -1); /* numbers, not text */
	assert_int_equal(update_version_cmp("1.0.0", "0.99.99"), 1);
	assert_int_equal(update_version_cmp("1.0", "1.0.0"), -2);
	assert_int_equal(update_version_cmp("1.0.0-rc1", "1.0.0"), -2);
	assert_int_equal(update_version_cmp("v1.0.0", "1.0.0"), -2);
	assert_int_equal(update_version_cmp(NULL, "1.0.0"), -2);
	assert_int_equal(update_version_cmp("1.0.0.0", "1.0.0"), -2);
}

static void test_pick(void **state)
{
	struct update_release r;
	char err[256], *doc = update_feed_sign(releases, seed);

	(void)state;
	assert_non_null(doc);
	assert_int_equal(update_feed_pick(doc, strlen(doc), pk, "x86_64-linux", NULL, &r, err,
					  sizeof(err)),
			 0);
	assert_string_equal(r.version, "0.10.1"); /* the highest with a binary here */
	assert_string_equal(r.url, "http://example.org/ray-0.10.1");
	assert_int_equal(r.size, 2000);
	assert_int_equal(r.sha256[0], 0xff);
	assert_int_equal(update_feed_pick(doc, strlen(doc), pk, "x86_64-linux", "0.2.0", &r, err,
					  sizeof(err)),
			 0);
	assert_string_equal(r.version, "0.2.0");
	assert_int_equal(update_feed_pick(doc, strlen(doc), pk, "x86_64-linux", "0.3.0", &r, err,
					  sizeof(err)),
			 -ENOENT); /* no binary for this machine */
	assert_int_equal(update_feed_pick(doc, strlen(doc), pk, "riscv64-linux", NULL, &r, err,
					  sizeof(err)),
			 -ENOENT);
	free(doc);
}

/* Another key, an altered byte anywhere in the signed text, a signature
 * cut or missing: refused before anything in it is read. */
static void test_forged_and_altered(void **state)
{
	uint8_t other_seed[32], other_pk[32], sk[64];
	struct update_release r;
	char err[256], *doc, *mod;
	json_t *j;

	(void)state;
	memset(other_seed, 7, sizeof(other_seed));
	crypto_sign_seed_keypair(other_pk, sk, other_seed);
	doc = update_feed_sign(releases, other_seed);
	assert_int_equal(update_feed_pick(doc, strlen(doc), pk, "x86_64-linux", NULL, &r, err,
					  sizeof(err)),
			 -EKEYREJECTED);
	assert_non_null(strstr(err, "signature"));
	free(doc);

	doc = update_feed_sign(releases, seed);
	j = json_loads(doc, 0, NULL);
	{
		char *text = strdup(json_string_value(json_object_get(j, "feed")));

		text[strlen(text) / 2] ^= 1;
		json_object_set_new(j, "feed", json_string(text));
		free(text);
	}
	mod = json_dumps(j, 0);
	assert_int_equal(update_feed_pick(mod, strlen(mod), pk, "x86_64-linux", NULL, &r, err,
					  sizeof(err)),
			 -EKEYREJECTED);
	free(mod);
	json_object_set_new(j, "signature", json_string("abcd"));
	mod = json_dumps(j, 0);
	assert_int_equal(update_feed_pick(mod, strlen(mod), pk, "x86_64-linux", NULL, &r, err,
					  sizeof(err)),
			 -EKEYREJECTED);
	free(mod);
	json_decref(j);
	free(doc);
}

static void test_malformed(void **state)
{
	static const char *const bad_releases[] = {
		"{\"releases\": 7}",
		"[1, 2]",
		"{\"releases\": [{\"version\": \"two\", \"binaries\": {}}]}",
		"{\"releases\": [{\"version\": \"1.0.0\", \"binaries\": {\"x86_64-linux\":"
		" {\"url\": \"file:///etc/passwd\", \"sha256\": \"00\", \"size\": 1}}}]}",
		"{\"releases\": [{\"version\": \"1.0.0\", \"binaries\": {\"x86_64-linux\":"
		" {\"url\": \"https://x/y\", \"sha256\":"
		" \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
		" \"size\": 999999999999}}}]}",
	};
	struct update_release r;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_releases) / sizeof(bad_releases[0]); i++) {
		char *doc = update_feed_sign(bad_releases[i], seed);
		int ret = update_feed_pick(doc, strlen(doc), pk, "x86_64-linux", NULL, &r, err,
					   sizeof(err));

		assert_true(ret == -EBADMSG);
		free(doc);
	}
	assert_int_equal(update_feed_pick("not json", 8, pk, "x86_64-linux", NULL, &r, err,
					  sizeof(err)),
			 -EBADMSG);
	assert_int_equal(update_feed_pick("{\"feed\": 1}", 11, pk, "x86_64-linux", NULL, &r, err,
					  sizeof(err)),
			 -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_forged_and_altered),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
