/* Unit tests for src/daemon/store: round trips, corrupt files, hash checks. */
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

#include "daemon/store.h"
#include "util/blake3.h"

static char home[64];

static int setup(void **state)
{
	(void)state;
	snprintf(home, sizeof(home), "/tmp/rf-test-store-XXXXXX");
	return mkdtemp(home) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	return system(cmd);
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", home, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_networks_roundtrip(void **state)
{
	struct net_saved a = { 0 }, b = { 0 }, *out = NULL;
	const struct net_saved *list[2] = { &a, &b };
	char err[256];
	size_t n = 0;

	(void)state;
	assert_int_equal(store_load_networks(home, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	strcpy(a.name, "gaming");
	memset(a.room_id, 'a', 64);
	strcpy(a.hostname, "alice");
	a.coordinator = true;
	memset(a.blob_hash, 0x11, 32);
	memset(a.record, 0x22, 300);
	a.record_len = 300;
	strcpy(b.name, "work");
	memset(b.room_id, 'b', 64);
	strcpy(b.hostname, "bob");
	b.record_len = 0;
	assert_int_equal(store_save_networks(home, list, 2), 0);
	{
		char path[512];
		struct stat st;

		snprintf(path, sizeof(path), "%s/networks.json", home);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_int_equal(store_load_networks(home, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].name, "gaming");
	assert_true(out[0].coordinator);
	assert_int_equal(out[0].record_len, 300);
	assert_memory_equal(out[0].record, a.record, 300);
	assert_memory_equal(out[0].blob_hash, a.blob_hash, 32);
	assert_false(out[1].coordinator);
	free(out);
}

static void test_networks_corrupt(void **state)
{
	static const char *bad[] = {
		"{", "[]", "{\"networks\": 5}", "{\"networks\": [5]}",
		"{\"networks\": [{\"name\": \"x\"}]}",
		"{\"networks\": [{\"name\": \"x\", \"room_id\": \"r\", \"hostname\": \"h\", \"blob_hash\": \"zz\", \"record\": \"\"}]}",
		"{\"networks\": [{\"name\": \"x\", \"room_id\": \"r\", \"hostname\": \"h\", \"blob_hash\": \"00\", \"record\": \"abc\"}]}",
	};
	struct net_saved *out = NULL;
	char err[256];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file("networks.json", bad[i]);
		assert_int_equal(store_load_networks(home, &out, &n, err, sizeof(err)), -EINVAL);
		assert_null(out);
		assert_int_equal(n, 0);
	}
	unlink("networks.json");
}

static void test_keys(void **state)
{
	uint8_t seed[32], got[32];
	char room[65];

	(void)state;
	memset(room, 'c', 64);
	room[64] = 0;
	memset(seed, 7, sizeof(seed));
	assert_int_equal(store_load_key(home, room, got), -ENOENT);
	assert_int_equal(store_save_key(home, room, seed), 0);
	assert_int_equal(store_load_key(home, room, got), 0);
	assert_memory_equal(seed, got, 32);
	{
		char path[256];
		struct stat st;

		snprintf(path, sizeof(path), "%s/keys/%s.key", home, room);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	assert_int_equal(store_save_key(home, "../etc/passwd", seed), -EINVAL);
	assert_int_equal(store_delete_key(home, room), 0);
	assert_int_equal(store_load_key(home, room, got), -ENOENT);
}

static void test_blobs(void **state)
{
	const char data[] = "roster bytes";
	uint8_t hash[32], bad[32], *out = NULL;
	char path[256], hex[65];
	size_t len = 0;

	(void)state;
	blake3_hash(data, sizeof(data), hash);
	assert_int_equal(store_save_blob(home, hash, data, sizeof(data)), 0);
	assert_int_equal(store_load_blob(home, hash, &out, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(out, data, len);
	free(out);
	/* a blob stored under the wrong name is refused */
	memset(bad, 0x33, sizeof(bad));
	assert_int_equal(store_save_blob(home, bad, data, sizeof(data)), 0);
	assert_int_equal(store_load_blob(home, bad, &out, &len), -EBADMSG);
	assert_null(out);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", 0x44);
	snprintf(path, sizeof(path), "%s/blobs/%s.blob", home, hex);
	memset(bad, 0x44, sizeof(bad));
	assert_int_equal(store_load_blob(home, bad, &out, &len), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks_roundtrip),
		cmocka_unit_test(test_networks_corrupt),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_blobs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
