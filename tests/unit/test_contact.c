/* Unit tests for src/mesh/contact (contact ids) and the contact key file
 * (identity_load_or_create_file, identity_replace_file). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mesh/contact.h"
#include "mesh/identity.h"

static char home[64];

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/rf-test-contact-XXXXXX");
	return mkdtemp(home) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	return system(cmd);
}

static void test_roundtrip(void **state)
{
	uint8_t pk[32], out[32];
	char id[CONTACT_ID_BUF];
	int n;

	(void)state;
	for (int v = 0; v < 256; v += 51) {
		memset(pk, v, sizeof(pk));
		pk[5] ^= 0x5a;
		n = contact_id_format(pk, id, sizeof(id));
		assert_true(n >= 40 && n < CONTACT_ID_BUF);
		assert_int_equal(contact_id_parse(id, out), 0);
		assert_memory_equal(out, pk, 32);
	}
	assert_int_equal(contact_id_format(pk, id, 10), -ENOSPC);
}

/* Every one-character change and every cut is caught: mistyped, not a
 * different key. */
static void test_typos_and_cuts(void **state)
{
	static const char digits[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
	uint8_t pk[32], out[32];
	char id[CONTACT_ID_BUF], bad[CONTACT_ID_BUF];
	size_t len;

	(void)state;
	memset(pk, 0x77, sizeof(pk));
	len = (size_t)contact_id_format(pk, id, sizeof(id));
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, id, len + 1);
		bad[i] = digits[(strchr(digits, id[i]) - digits + 1) % 58];
		assert_true(contact_id_parse(bad, out) < 0);
	}
	for (size_t cut = 1; cut < len; cut++) {
		memcpy(bad, id, len + 1);
		bad[cut] = 0;
		assert_true(contact_id_parse(bad, out) < 0);
	}
	memcpy(bad, id, len + 1);
	bad[len - 3] = 0;
	assert_int_equal(contact_id_parse(bad, out), -EBADMSG);
}

static void test_not_an_id(void **state)
{
	uint8_t pk[32];
	char id[CONTACT_ID_BUF], room[65];

	(void)state;
	memset(room, 'a', 64);
	room[64] = 0;
	assert_int_equal(contact_id_parse(NULL, pk), -EINVAL);
	assert_int_equal(contact_id_parse("", pk), -EINVAL);
	assert_int_equal(contact_id_parse("alice", pk), -EINVAL);
	assert_int_equal(contact_id_parse(room, pk), -EINVAL); /* a room id */
	memset(pk, 1, sizeof(pk));
	contact_id_format(pk, id, sizeof(id));
	id[3] = '0'; /* not a base58 digit */
	assert_int_equal(contact_id_parse(id, pk), -EINVAL);
	id[3] = 'l';
	assert_int_equal(contact_id_parse(id, pk), -EINVAL);
}

static void test_key_file(void **state)
{
	struct identity a, b, c;
	char path[128];
	struct stat st;

	(void)state;
	assert_int_equal(identity_load_or_create_file(home, CONTACT_KEY_FILE, &a), 0);
	snprintf(path, sizeof(path), "%s/%s", home, CONTACT_KEY_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(identity_load_or_create_file(home, CONTACT_KEY_FILE, &b), 0);
	assert_memory_equal(a.pk, b.pk, 32);
	/* the device key is another file */
	assert_int_equal(identity_load_or_create(home, &c), 0);
	assert_memory_not_equal(a.pk, c.pk, 32);

	assert_int_equal(identity_replace_file(home, CONTACT_KEY_FILE, &b), 0);
	assert_memory_not_equal(a.pk, b.pk, 32);
	assert_int_equal(identity_load_or_create_file(home, CONTACT_KEY_FILE, &c), 0);
	assert_memory_equal(b.pk, c.pk, 32);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* a damaged key is refused, never replaced by a new one silently */
	assert_int_equal(truncate(path, 31), 0);
	assert_int_equal(identity_load_or_create_file(home, CONTACT_KEY_FILE, &c), -EINVAL);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 31);
	identity_clear(&a);
	identity_clear(&b);
	identity_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_typos_and_cuts),
		cmocka_unit_test(test_not_an_id),
		cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
