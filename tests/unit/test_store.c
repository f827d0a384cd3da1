/* Unit tests for src/home/store: round trips, corrupt files, hash checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "home/store.h"
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
	b.direct = true;
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
	assert_false(out[0].direct);
	assert_true(out[1].direct);
	free(out);
}

/* A file that is not {"networks": [...]} JSON loads as no networks and
 * counts as one entry dropped; an entry that does not parse is skipped. */
static void test_networks_corrupt(void **state)
{
	static const char *bad[] = {
		"{",
		"[]",
		"{\"networks\": 5}",
		"{\"networks\": [5]}",
		"\x01\xff\xfe garbage",
		"{\"networks\": []} trailing",
		"{\"networks\": [], \"networks\": []}",
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
		assert_int_equal(store_load_networks(home, &out, &n, err, sizeof(err)), 1);
		assert_int_equal(n, 0);
		assert_true(err[0] != 0);
		free(out);
	}
	write_file("networks.json", "");
	assert_int_equal(store_load_networks(home, &out, &n, err, sizeof(err)), 1);
	assert_int_equal(n, 0);
	free(out);
	/* a directory in the file's place cannot be read, backed up or
	 * replaced: that stays an error */
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/networks.json", home);
		unlink(path);
		assert_int_equal(mkdir(path, 0700), 0);
		assert_true(store_load_networks(home, &out, &n, err, sizeof(err)) < 0);
		assert_null(out);
		assert_true(strstr(err, "networks.json") != NULL);
		rmdir(path);
	}
}

#define GOOD_ENTRY(name)                                                     \
	"{\"name\": \"" name "\", \"room_id\": \"r\", \"hostname\": \"h\", " \
	"\"blob_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\", \"record\": \"abcd\"}"

/* One bad entry costs that entry only, whatever is wrong with it. */
static void test_networks_skip_bad_entries(void **state)
{
	char big[600], text[2048];
	struct net_saved *out = NULL;
	char err[256];
	size_t n = 0;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	snprintf(text, sizeof(text),
		 "{\"networks\": [" GOOD_ENTRY(
			 "first") ", 7, null, [], "
				  "{\"name\": \"%s\"}, "
				  "{\"name\": \"neg\", \"room_id\": \"r\", \"hostname\": \"h\", \"blob_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\", \"record\": \"\", \"ephemeral_s\": -1}, "
				  "{\"name\": \"base\", \"room_id\": \"r\", \"hostname\": \"h\", \"blob_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\", \"record\": \"\", \"base_hash\": 3}, "
				  "{\"name\": 5, \"room_id\": \"r\"}, " GOOD_ENTRY("last") "]}",
		 big);
	write_file("networks.json", text);
	assert_int_equal(store_load_networks(home, &out, &n, err, sizeof(err)), 7);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].name, "first");
	assert_string_equal(out[1].name, "last");
	assert_int_equal(out[1].record_len, 2);
	assert_true(strstr(err, "7") != NULL);
	free(out);
}

static void home_path(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", home, name);
}

static char *read_text(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* The copy is private, named by content (one per damaged version), and
 * never replaces another file. */
static void test_networks_backup(void **state)
{
	char bak[512], bak2[512], path[512];
	struct stat st;

	(void)state;
	assert_int_equal(store_backup_networks(home, bak, sizeof(bak)), -ENOENT);
	write_file("networks.json", "{\"networks\": [ {\"name\": 5");
	assert_int_equal(store_backup_networks(home, bak, sizeof(bak)), 0);
	home_path("networks.json.bad-", path, sizeof(path));
	assert_memory_equal(bak, path, strlen(path));
	assert_int_equal(strlen(bak), strlen(path) + 16);
	assert_string_equal(read_text(bak), "{\"networks\": [ {\"name\": 5");
	assert_int_equal(stat(bak, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the same damage again: the one copy does */
	assert_int_equal(store_backup_networks(home, bak2, sizeof(bak2)), 0);
	assert_string_equal(bak, bak2);
	/* other damage: another copy, the first one stays */
	write_file("networks.json", "not json");
	assert_int_equal(store_backup_networks(home, bak2, sizeof(bak2)), 0);
	assert_string_not_equal(bak, bak2);
	assert_string_equal(read_text(bak), "{\"networks\": [ {\"name\": 5");
	assert_string_equal(read_text(bak2), "not json");
	/* something else under that name is not taken for the copy */
	assert_int_equal(unlink(bak2), 0);
	assert_int_equal(mkdir(bak2, 0700), 0);
	assert_true(store_backup_networks(home, bak, sizeof(bak)) < 0);
	assert_int_equal(rmdir(bak2), 0);
	write_file(strrchr(bak2, '/') + 1, "other bytes");
	assert_int_equal(store_backup_networks(home, bak, sizeof(bak)), -EEXIST);
	assert_string_equal(read_text(bak2), "other bytes");
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

static char group_home[64];

/* Fresh home for each blob GC test, so earlier tests' files do not count. */
static int setup_one(void **state)
{
	memcpy(group_home, home, sizeof(home));
	return setup(state);
}

static int teardown_one(void **state)
{
	int ret = teardown(state);

	memcpy(home, group_home, sizeof(home));
	return ret;
}

static void blob_path(const uint8_t hash[32], char *out, size_t cap)
{
	char hex[65];

	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", hash[i]);
	snprintf(out, cap, "%s/blobs/%s.blob", home, hex);
}

static bool blob_exists(const uint8_t hash[32])
{
	char path[256];

	blob_path(hash, path, sizeof(path));
	return access(path, F_OK) == 0;
}

/* Saves a blob with content `text` and returns its hash in h. */
static void put_blob(const char *text, uint8_t h[32])
{
	blake3_hash(text, strlen(text), h);
	assert_int_equal(store_save_blob(home, h, text, strlen(text)), 0);
}

static size_t count_blob_dir(void)
{
	char cmd[256];
	FILE *f;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "ls -A %s/blobs | wc -l", home);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%zu", &n), 1);
	pclose(f);
	return n;
}

/* Closed networks' rosters are private: 0700 directory, 0600 files. */
static void test_blob_modes(void **state)
{
	char path[256];
	struct stat st;
	uint8_t h[32];

	(void)state;
	put_blob("private roster", h);
	snprintf(path, sizeof(path), "%s/blobs", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	blob_path(h, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Files left by older versions (0755 / 0644) are tightened by the GC. */
static void test_blob_gc_fixes_modes(void **state)
{
	char path[256];
	struct stat st;
	uint8_t h[32];

	(void)state;
	put_blob("old roster", h);
	snprintf(path, sizeof(path), "%s/blobs", home);
	assert_int_equal(chmod(path, 0755), 0);
	blob_path(h, path, sizeof(path));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(store_gc_blobs(home, (const uint8_t(*)[32])h, 1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/blobs", home);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

/* A replaced roster goes unless another network (or the same one, as its
 * current or merge base) still names it. */
static void test_blob_release(void **state)
{
	uint8_t a[32], b[32], c[32], drop[2][32], keep[2][32];

	(void)state;
	put_blob("v1", a);
	put_blob("v2", b);
	put_blob("v3", c);
	memcpy(drop[0], a, 32);
	memcpy(drop[1], b, 32);
	memcpy(keep[0], b, 32); /* shared with another network */
	memcpy(keep[1], c, 32);
	assert_int_equal(store_release_blobs(home, (const uint8_t(*)[32])drop, 2,
					     (const uint8_t(*)[32])keep, 2),
			 1);
	assert_false(blob_exists(a));
	assert_true(blob_exists(b));
	assert_true(blob_exists(c));
	/* releasing what is already gone is not an error */
	assert_int_equal(store_release_blobs(home, (const uint8_t(*)[32])drop, 1,
					     (const uint8_t(*)[32])keep, 0),
			 0);
}

/* At start: keep current and base of every saved network (shared ones
 * once), collect the rest, including temp files a crash left behind. */
static void test_blob_gc_saved(void **state)
{
	struct net_saved s[2] = { 0 };
	uint8_t cur1[32], base1[32], cur2[32], old1[32], old2[32], refs[8][32];
	char path[300];
	size_t n;
	FILE *f;

	(void)state;
	put_blob("net1 v3", cur1);
	put_blob("net1 v2", base1);
	put_blob("net1 v1", old1);
	put_blob("net2 v9", cur2);
	put_blob("net2 v8", old2);
	memcpy(s[0].blob_hash, cur1, 32);
	memcpy(s[0].base_hash, base1, 32);
	s[0].has_base = true;
	memcpy(s[1].blob_hash, cur2, 32);
	memcpy(s[1].base_hash, cur1, 32); /* shares a roster with net1 */
	s[1].has_base = true;
	blob_path(old2, path, sizeof(path));
	strcat(path, ".tmp.Ab12Cd");
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/blobs/notes.txt", home);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	n = store_saved_blob_refs(s, 2, refs, 8);
	assert_int_equal(n, 3);
	assert_int_equal(store_gc_blobs(home, (const uint8_t(*)[32])refs, n), 3);
	assert_true(blob_exists(cur1));
	assert_true(blob_exists(base1));
	assert_true(blob_exists(cur2));
	assert_false(blob_exists(old1));
	assert_false(blob_exists(old2));
	/* a file that is not ours is left alone */
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(count_blob_dir(), 4);
	/* no blobs directory yet: nothing to do */
	snprintf(path, sizeof(path), "%s/empty", home);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(store_gc_blobs(path, NULL, 0), 0);
}

/* The merge base is persisted, so it survives a restart and the GC. */
static void test_networks_base_roundtrip(void **state)
{
	struct net_saved a = { 0 }, *out = NULL;
	const struct net_saved *list[1] = { &a };
	char err[256];
	size_t n = 0;

	(void)state;
	strcpy(a.name, "x");
	memset(a.room_id, 'a', 64);
	strcpy(a.hostname, "h");
	memset(a.blob_hash, 0x11, 32);
	memset(a.base_hash, 0x22, 32);
	a.has_base = true;
	assert_int_equal(store_save_networks(home, list, 1), 0);
	assert_int_equal(store_load_networks(home, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_true(out[0].has_base);
	assert_memory_equal(out[0].base_hash, a.base_hash, 32);
	free(out);
	/* an older file without a base still loads */
	write_file("networks.json",
		   "{\"networks\": [{\"name\": \"x\", \"room_id\": \"r\", \"hostname\": \"h\", \"blob_hash\": \"1111111111111111111111111111111111111111111111111111111111111111\", \"record\": \"\"}]}");
	assert_int_equal(store_load_networks(home, &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_false(out[0].has_base);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks_roundtrip),
		cmocka_unit_test_setup_teardown(test_networks_corrupt, setup_one, teardown_one),
		cmocka_unit_test_setup_teardown(test_networks_skip_bad_entries, setup_one,
						teardown_one),
		cmocka_unit_test_setup_teardown(test_networks_backup, setup_one, teardown_one),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_blobs),
		cmocka_unit_test_setup_teardown(test_blob_modes, setup_one, teardown_one),
		cmocka_unit_test_setup_teardown(test_blob_gc_fixes_modes, setup_one, teardown_one),
		cmocka_unit_test_setup_teardown(test_blob_release, setup_one, teardown_one),
		cmocka_unit_test_setup_teardown(test_blob_gc_saved, setup_one, teardown_one),
		cmocka_unit_test_setup_teardown(test_networks_base_roundtrip, setup_one,
						teardown_one),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
