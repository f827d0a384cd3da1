/*
 * Unit tests for what src/daemon/network.c keeps on disk: a damaged
 * networks.json costs only the entries that are damaged and is copied
 * before it is rewritten; a roster whose blob cannot be stored is never
 * adopted, published or named in networks.json; a network forgotten takes
 * its suggested firewall rules with it; a roster of our own that drops us
 * (published, or merged from a co-coordinator's over fake connections,
 * fake_net.c) forgets the network without touching it after.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_fixture.h"
#include "fake_net.h"
#include "discovery/record.h"
#include "proto/control.h"
#include "dataplane/firewall.h"
#include "proto/jsonpack.h"
#include "util/blake3.h"
#include "util/fileio.h"
#include "util/hex.h"

static char *read_file(const struct fixture *f, const char *rel, size_t *len)
{
	char path[256], *buf = NULL;

	fixture_path(f, rel, path, sizeof(path));
	assert_int_equal(fileio_read_all(path, 1u << 24, &buf, len), 0);
	return buf;
}

static void write_file(const struct fixture *f, const char *rel, const char *text)
{
	char path[256];

	fixture_path(f, rel, path, sizeof(path));
	assert_int_equal(fileio_write_atomic(path, text, strlen(text), 0600), 0);
}

/* Where store_backup_networks keeps the networks.json holding text. */
static void backup_name(const char *text, size_t len, char *out, size_t cap)
{
	uint8_t h[32];
	char hex[17];

	blake3_hash(text, len, h);
	hex_encode(h, 8, hex);
	snprintf(out, cap, "networks.json.bad-%s", hex);
}

static bool exists(const struct fixture *f, const char *rel)
{
	char path[256];

	fixture_path(f, rel, path, sizeof(path));
	return access(path, F_OK) == 0;
}

static bool blob_exists(const struct fixture *f, const uint8_t hash[32])
{
	char rel[128], hex[65];

	hex_encode(hash, 32, hex);
	snprintf(rel, sizeof(rel), "blobs/%s.blob", hex);
	return exists(f, rel);
}

/* Edits entry `name` of networks.json: key = value (stolen). */
static void edit_entry(const struct fixture *f, const char *name, const char *key, json_t *value)
{
	char path[256];
	json_t *root, *e;
	size_t i;

	fixture_path(f, "networks.json", path, sizeof(path));
	root = json_load_file(path, 0, NULL);
	assert_non_null(root);
	json_array_foreach(json_object_get(root, "networks"), i,
			   e) if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
		json_object_set(e, key, value);
	json_decref(value);
	assert_int_equal(json_dump_file(root, path, JSON_INDENT(2)), 0);
	json_decref(root);
}

static struct network *by_name(struct fixture *f, const char *name)
{
	return network_find(&f->d, name);
}

/* One entry that does not parse: the others start, the file as it was is
 * kept before anything rewrites it, and the blobs the lost entry named
 * stay for whoever restores it from the copy. */
static void test_load_skips_bad_entry(void **state)
{
	struct fixture *f = *state;
	char bak[128], *orig, *copy, *now;
	uint8_t lost_blob[32];
	size_t len, copy_len, now_len;

	fixture_network(f, "good");
	memcpy(lost_blob, fixture_network(f, "lost")->saved.blob_hash, 32);
	fixture_network(f, "also");
	edit_entry(f, "lost", "ephemeral_s", json_integer(-1));
	orig = read_file(f, "networks.json", &len);
	backup_name(orig, len, bak, sizeof(bak));

	assert_int_equal(fixture_restart(f), 0);
	assert_int_equal(fixture_count_networks(f), 2);
	assert_non_null(by_name(f, "good"));
	assert_non_null(by_name(f, "also"));
	assert_null(by_name(f, "lost"));
	assert_true(blob_exists(f, lost_blob));
	copy = read_file(f, bak, &copy_len);
	assert_int_equal(copy_len, len);
	assert_memory_equal(copy, orig, len);
	{
		char path[256];
		struct stat st;

		fixture_path(f, bak, path, sizeof(path));
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* The next save drops the entry; the copy still has it. */
	assert_int_equal(networks_save(&f->d), 0);
	now = read_file(f, "networks.json", &now_len);
	assert_null(strstr(now, "\"lost\""));
	assert_non_null(strstr(copy, "\"lost\""));
	free(now);
	free(copy);
	free(orig);
}

/* Entries that parse but do not verify (a record not signed by the
 * network key, a roster missing from disk) go the same way. */
static void test_load_skips_unverifiable_entries(void **state)
{
	struct fixture *f = *state;
	struct network *n;
	char bak[128], rec[2 * STORE_MAX_RECORD + 1], hex[65], rel[128], *orig;
	size_t len;

	fixture_network(f, "good");
	n = fixture_network(f, "forged");
	hex_encode(n->saved.record, n->saved.record_len, rec);
	/* one hex digit of the signature, at the end */
	rec[2 * n->saved.record_len - 1] = rec[2 * n->saved.record_len - 1] == '0' ? '1' : '0';
	n = fixture_network(f, "blobless");
	hex_encode(n->saved.blob_hash, 32, hex);
	snprintf(rel, sizeof(rel), "blobs/%s.blob", hex);
	edit_entry(f, "forged", "record", json_string(rec));
	orig = read_file(f, "networks.json", &len);
	backup_name(orig, len, bak, sizeof(bak));
	{
		char path[256];

		fixture_path(f, rel, path, sizeof(path));
		assert_int_equal(unlink(path), 0);
	}

	assert_int_equal(fixture_restart(f), 0);
	assert_int_equal(fixture_count_networks(f), 1);
	assert_non_null(by_name(f, "good"));
	assert_true(exists(f, bak));
	free(orig);
}

/* Not JSON at all: no networks, the file untouched and copied. */
static void test_load_not_json(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "{\"networks\": [ {\"name\": 5\x01\xff";
	char bak[128], *now;
	size_t len;

	fixture_network(f, "net");
	write_file(f, "networks.json", text);
	backup_name(text, strlen(text), bak, sizeof(bak));
	assert_int_equal(fixture_restart(f), 0);
	assert_int_equal(fixture_count_networks(f), 0);
	now = read_file(f, "networks.json", &len);
	assert_string_equal(now, text);
	free(now);
	now = read_file(f, bak, &len);
	assert_string_equal(now, text);
	free(now);
	/* a restart on the same file keeps the one copy */
	assert_int_equal(fixture_restart(f), 0);
	assert_true(exists(f, bak));
}

/* No copy can be made: do not start, so nothing overwrites the only one. */
static void test_load_refuses_without_copy(void **state)
{
	struct fixture *f = *state;
	char bak[128], path[256], *orig, *now;
	size_t len, now_len;

	fixture_network(f, "good");
	fixture_network(f, "lost");
	edit_entry(f, "lost", "blob_hash", json_string("zz"));
	orig = read_file(f, "networks.json", &len);
	backup_name(orig, len, bak, sizeof(bak));
	fixture_path(f, bak, path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);

	assert_true(fixture_restart(f) < 0);
	assert_int_equal(fixture_count_networks(f), 0);
	now = read_file(f, "networks.json", &now_len);
	assert_int_equal(now_len, len);
	assert_memory_equal(now, orig, len);
	free(now);
	free(orig);
	assert_int_equal(rmdir(path), 0);
}

/* A roster that cannot be stored is not adopted: networks.json keeps
 * naming the one on disk, and the network survives a restart. */
static void test_apply_blob_save_fails(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "net");
	struct group_blob blob;
	struct peer *p = fixture_peer(f, NULL);
	uint8_t before[32];
	uint64_t version = n->blob.version;

	memcpy(before, n->saved.blob_hash, 32);
	fixture_block_dir(f, "blobs");
	assert_int_equal(group_blob_copy(&blob, &n->blob), 0);
	assert_int_equal(group_blob_admit(&blob, p->id, "joiner", false), 0);
	assert_int_equal(network_publish(&f->d, n, &blob, NULL), -ENOTDIR);
	assert_int_equal(n->blob.version, version);
	assert_null(group_blob_find_member(&n->blob, p->id));
	assert_memory_equal(n->saved.blob_hash, before, 32);
	fixture_unblock_dir(f, "blobs");
	assert_int_equal(fixture_restart(f), 0);
	n = by_name(f, "net");
	assert_non_null(n);
	assert_int_equal(n->blob.version, version);
}

/* A nuke whose final roster cannot be stored would publish a record
 * naming a blob nobody holds (members never learn of the nuke) and forget
 * the network: it is refused instead and nothing changes. */
static void test_nuke_blob_save_fails(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "doomed");
	uint8_t rec[STORE_MAX_RECORD];
	struct group_blob blob;
	size_t rec_len = n->saved.record_len;

	memcpy(rec, n->saved.record, rec_len);
	fixture_block_dir(f, "blobs");
	assert_int_equal(group_blob_init(&blob, n->blob.name, n->blob.mode), 0);
	blob.version = n->blob.version;
	assert_true(network_publish_final(&f->d, n, &blob) < 0);
	assert_ptr_equal(by_name(f, "doomed"), n);
	assert_int_equal(n->saved.record_len, rec_len);
	assert_memory_equal(n->saved.record, rec, rec_len);
	fixture_unblock_dir(f, "blobs");
	/* with room for the roster, the nuke goes through */
	assert_int_equal(group_blob_init(&blob, n->blob.name, n->blob.mode), 0);
	blob.version = n->blob.version;
	assert_int_equal(network_publish_final(&f->d, n, &blob), 0);
	assert_null(by_name(f, "doomed"));
}

/* Rules of f's firewall that network `net` suggested. */
static size_t suggested_by(struct fixture *f, const char *net)
{
	const struct fw_rule *rules;
	size_t n, count = 0;

	rules = firewall_rules(f->d.fw, &n);
	for (size_t i = 0; i < n; i++)
		count += strcmp(rules[i].origin, net) == 0;
	return count;
}

/* Coordinator of n: suggests `text` (JSON) and installs it (auto-accept). */
static void suggest(struct fixture *f, struct network *n, const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	struct group_blob blob;
	msgpack_sbuffer sb;

	assert_non_null(v);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(jsonpack_encode(v, &sb), 0);
	json_decref(v);
	n->saved.auto_accept_firewall = true;
	assert_int_equal(group_blob_copy(&blob, &n->blob), 0);
	assert_int_equal(group_blob_set_firewall(&blob, (const uint8_t *)sb.data, sb.size), 0);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(network_publish(&f->d, n, &blob, NULL), 0);
}

/* A network that goes (left, nuked, or a roster that drops us) takes the
 * rules it suggested with it: kept, they would go on shaping the firewall,
 * and apply to the next network joined under the same local name. */
static void test_forget_drops_suggested_rules(void **state)
{
	struct fixture *f = *state;
	struct network *team, *home;
	struct group_blob blob;

	assert_int_equal(fixture_open_firewall(f), 0);
	team = fixture_network(f, "team");
	home = fixture_network(f, "home");
	suggest(f, team, "{\"coord\": {\"allow\": [\"tcp:22\"]}}");
	suggest(f, home, "{\"*\": {\"deny\": [\"udp:53\"]}}");
	assert_true(suggested_by(f, "team") > 0);
	assert_true(suggested_by(f, "home") > 0);
	assert_int_equal(group_blob_init(&blob, team->blob.name, team->blob.mode), 0);
	blob.version = team->blob.version;
	assert_int_equal(network_publish_final(&f->d, team, &blob), 0);
	assert_int_equal(suggested_by(f, "team"), 0);
	assert_true(suggested_by(f, "home") > 0);
	/* firewall.json says so too */
	assert_int_equal(fixture_restart(f), 0);
	assert_int_equal(suggested_by(f, "team"), 0);
	assert_true(suggested_by(f, "home") > 0);
}

/* A coordinator's own roster without it (a merge that takes a
 * co-coordinator's kick of us): adopting it forgets the network, and
 * publish must not touch the network after. */
static void test_publish_without_us(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "solo");
	struct peer *p = fixture_peer(f, NULL);
	struct group_blob blob;

	fixture_network(f, "other"); /* looked through after n went */
	fixture_admit(f, n, p, "member", false);
	assert_int_equal(group_blob_copy(&blob, &n->blob), 0);
	assert_int_equal(group_blob_remove_member(&blob, f->d.id.id), 0);
	assert_int_equal(network_publish(&f->d, n, &blob, NULL), 0);
	assert_null(by_name(f, "solo"));
}

/*
 * The same through the sync path: a co-coordinator signed, at our version,
 * a roster made from the one before ours that kicked us and admitted
 * someone; we merge it (keeping our own admission) and the merge lacks us,
 * so publishing it forgets the network under network_merge's feet.
 */
static void test_merge_that_drops_us(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "team");
	struct identity mid, xid;
	struct peer *m = fixture_peer(f, &mid);
	struct ctl_msg sync = { .type = CTL_SYNC, .has_net = true };
	struct ctl_msg blob_msg = { .type = CTL_BLOB, .has_hash = true };
	uint8_t rec[RECORD_MAX], *bytes = NULL, base_hash[32];
	struct group_blob theirs;
	size_t rec_len, blen;
	unsigned c;

	fake_net_init(&f->d, f->d.id.pk, NULL);
	fixture_network(f, "other"); /* looked through after n went */
	assert_int_equal(group_blob_copy(&theirs, &n->blob), 0);
	memcpy(base_hash, n->saved.blob_hash, 32);
	fixture_admit(f, n, m, "member", false);
	assert_int_equal(identity_generate(&xid), 0);
	assert_int_equal(group_blob_remove_member(&theirs, f->d.id.id), 0);
	assert_int_equal(group_blob_admit(&theirs, xid.id, "other", true), 0);
	theirs.version = n->blob.version;
	group_blob_add_ancestor(&theirs, base_hash);
	assert_int_equal(network_sign_roster(&n->key, &theirs, rec, sizeof(rec), &rec_len, &bytes,
					     &blen),
			 0);
	group_blob_free(&theirs);

	c = fake_accept(mid.pk, false, 0, false);
	assert_true(c != 0);
	memcpy(sync.net, n->pk, 32);
	sync.rec = rec;
	sync.rec_len = rec_len;
	fake_feed_msg(c, &sync);
	/* the fetch waits out its jitter, then asks m */
	fake_clock_advance(2000);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_non_null(fake_last_get(c));
	memcpy(blob_msg.hash, fake_last_get(c), 32);
	blob_msg.data = bytes;
	blob_msg.data_len = blen;
	fake_feed_msg(c, &blob_msg);
	assert_null(by_name(f, "team"));
	free(bytes);
}

static int net_teardown(void **state)
{
	struct fixture *f = *state;

	fixture_stop(f);
	fake_net_reset();
	fake_clock_reset();
	return fixture_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_skips_bad_entry, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_load_skips_unverifiable_entries, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_load_not_json, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_load_refuses_without_copy, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_apply_blob_save_fails, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_nuke_blob_save_fails, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_forget_drops_suggested_rules, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_publish_without_us, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_merge_that_drops_us, fixture_setup,
						net_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
