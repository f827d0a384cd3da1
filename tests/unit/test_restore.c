/* Unit tests for src/home/restore: a backup put into a home, and the list
 * of networks to rejoin. */
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

#include "home/restore.h"
#include "home/store.h"
#include "mesh/contact.h"
#include "mesh/identity.h"
#include "util/fileio.h"

static char home[64];

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/rf-test-restore-XXXXXX");
	return mkdtemp(home) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	return system(cmd);
}

static void fill(struct backup *b)
{
	memset(b, 0, sizeof(*b));
	memset(b->identity, 0x11, 32);
	b->has_contact = true;
	memset(b->contact, 0x22, 32);
	b->n_nets = 2;
	memset(b->nets[0].room, 0xaa, 32);
	strcpy(b->nets[0].name, "home");
	strcpy(b->nets[0].hostname, "alice");
	b->nets[0].has_key = true;
	memset(b->nets[0].key, 0x33, 32);
	memset(b->nets[1].room, 0xbb, 32);
	strcpy(b->nets[1].name, "alice-bob");
	strcpy(b->nets[1].hostname, "alice");
	b->nets[1].direct = true;
}

static void mode_is(const char *rel, mode_t want)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, want);
}

static void test_apply(void **state)
{
	struct restore_entry *list;
	struct identity id, want;
	uint8_t seed[32];
	struct backup b;
	char err[256], room[65];
	size_t n;

	(void)state;
	fill(&b);
	/* a home where a daemon ran once, with no network: fine to replace */
	assert_int_equal(identity_load_or_create(home, &id), 0);
	assert_int_equal(restore_apply(home, &b, err, sizeof(err)), 0);
	assert_int_equal(identity_load_or_create(home, &id), 0);
	assert_int_equal(identity_from_seed(b.identity, &want), 0);
	assert_string_equal(id.id, want.id);
	assert_int_equal(identity_load_or_create_file(home, CONTACT_KEY_FILE, &id), 0);
	assert_memory_equal(id.seed, b.contact, 32);
	memset(room, 'a', 64);
	room[64] = 0;
	assert_int_equal(store_load_key(home, room, seed), 0);
	assert_memory_equal(seed, b.nets[0].key, 32);
	memset(room, 'b', 64);
	assert_int_equal(store_load_key(home, room, seed), -ENOENT);
	mode_is("secret_key", 0600);
	mode_is("contact_key", 0600);
	mode_is(RESTORE_FILE, 0600);

	assert_int_equal(restore_load(home, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(list[0].room, b.nets[0].room, 32);
	assert_string_equal(list[0].name, "home");
	assert_string_equal(list[1].name, "alice-bob");
	assert_string_equal(list[1].hostname, "alice");
	assert_false(list[0].direct);
	assert_true(list[1].direct);

	/* dropping entries as they come back; the last one removes the file */
	assert_int_equal(restore_save(home, list + 1, 1), 0);
	free(list);
	assert_int_equal(restore_load(home, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "alice-bob");
	free(list);
	assert_int_equal(restore_save(home, NULL, 0), 0);
	assert_int_equal(restore_load(home, &list, &n), 0);
	assert_int_equal(n, 0);
	assert_null(list);
	identity_clear(&id);
}

/* A home holding networks is refused: they belong to the identity that
 * would be replaced. Nothing is written. */
static void test_refuses_a_home_in_use(void **state)
{
	struct net_saved s = { 0 };
	const struct net_saved *list[1] = { &s };
	struct identity before, after;
	struct backup b;
	char err[256];

	(void)state;
	fill(&b);
	assert_int_equal(identity_load_or_create(home, &before), 0);
	strcpy(s.name, "work");
	memset(s.room_id, 'c', 64);
	strcpy(s.hostname, "me");
	assert_int_equal(store_save_networks(home, list, 1), 0);
	assert_int_equal(restore_apply(home, &b, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "1 network"));
	assert_int_equal(identity_load_or_create(home, &after), 0);
	assert_string_equal(before.id, after.id);
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/%s", home, RESTORE_FILE);
		assert_int_equal(access(path, F_OK), -1);
	}
}

static void test_hostile_list(void **state)
{
	static const char text[] =
		"{\"networks\": [{\"room_id\": \"zz\", \"name\": \"a\", \"hostname\": \"b\"},"
		" {\"room_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"  \"name\": \"../etc\", \"hostname\": \"b\"},"
		" 7, {\"room_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"  \"name\": \"ok\", \"hostname\": \"me\"}]}";
	struct restore_entry *list;
	char path[256];
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/%s", home, RESTORE_FILE);
	assert_int_equal(fileio_write_atomic(path, text, strlen(text), 0600), 0);
	assert_int_equal(restore_load(home, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].name, "ok");
	free(list);
	assert_int_equal(fileio_write_atomic(path, "not json", 8, 0600), 0);
	assert_int_equal(restore_load(home, &list, &n), 0);
	assert_int_equal(n, 0);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_a_home_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_list, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
