/*
 * Unit tests for the co-coordinator grant in src/daemon/roster.c: a
 * network key that cannot be stored is not taken, so a node never acts as
 * a coordinator with a key it would lose at its next start; a member
 * refusing grants in a loop cannot flood the log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/gate.h"
#include "daemon/roster.h"
#include "daemon_fixture.h"
#include "proto/control.h"

/* A network where this node is a plain member and p a coordinator: made
 * here (so we can sign), then our key handed over to the test in seed. */
static struct network *member_of(struct fixture *f, struct peer **p, uint8_t seed[32])
{
	struct network *n = fixture_network(f, "team");

	*p = fixture_peer(f, NULL);
	fixture_admit(f, n, *p, "boss", true);
	memcpy(seed, n->key.seed, 32);
	identity_clear(&n->key);
	n->has_key = false;
	n->saved.coordinator = false;
	assert_int_equal(store_delete_key(f->home, n->saved.room_id), 0);
	assert_int_equal(networks_save(&f->d), 0);
	return n;
}

static void grant(struct fixture *f, struct network *n, struct peer *p, const uint8_t seed[32])
{
	struct ctl_msg m = { .type = CTL_ADMIN_GRANT, .has_net = true, .has_key = true };

	memcpy(m.net, n->pk, 32);
	memcpy(m.key, seed, 32);
	assert_true(roster_on_message(&f->d, p, &m));
}

/* What networks.json says about our role in n. */
static bool saved_coordinator(struct fixture *f, const struct network *n)
{
	struct net_saved *s = NULL;
	char err[256];
	size_t count = 0;
	bool found = false, coordinator = false;

	assert_int_equal(store_load_networks(f->home, &s, &count, err, sizeof(err)), 0);
	for (size_t i = 0; i < count; i++) {
		if (strcmp(s[i].room_id, n->saved.room_id) == 0) {
			found = true;
			coordinator = s[i].coordinator;
		}
	}
	free(s);
	assert_true(found);
	return coordinator;
}

/* keys/ is a file, so the key cannot be stored: not taken, not claimed
 * in networks.json; once it can be stored, a new grant is taken and
 * survives a restart. */
static void test_grant_key_save_fails(void **state)
{
	struct fixture *f = *state;
	struct peer *p;
	uint8_t seed[32], got[32];
	struct network *n = member_of(f, &p, seed);

	fixture_block_dir(f, "keys");
	grant(f, n, p, seed);
	fixture_unblock_dir(f, "keys");
	assert_false(n->has_key);
	assert_false(n->saved.coordinator);
	assert_false(saved_coordinator(f, n));
	assert_int_equal(store_load_key(f->home, n->saved.room_id, got), -ENOENT);

	grant(f, n, p, seed);
	assert_true(n->has_key);
	assert_true(saved_coordinator(f, n));
	assert_int_equal(store_load_key(f->home, n->saved.room_id, got), 0);
	assert_memory_equal(got, seed, 32);
	assert_int_equal(fixture_restart(f), 0);
	n = network_find(&f->d, "team");
	assert_non_null(n);
	assert_true(n->has_key);
	sodium_memzero(seed, sizeof(seed));
}

/* A key that is not the network's is refused whatever the disk. */
static void test_grant_wrong_key(void **state)
{
	struct fixture *f = *state;
	struct peer *p;
	uint8_t seed[32], got[32];
	struct network *n = member_of(f, &p, seed);

	seed[0] ^= 1;
	grant(f, n, p, seed);
	assert_false(n->has_key);
	assert_int_equal(store_load_key(f->home, n->saved.room_id, got), -ENOENT);
}

/* A member's DENIED with no rename of ours waiting reads as a refused
 * grant and is logged as an error; any member can send them in a loop, so
 * past the gate's burst the lines are held back, not written. */
static void test_refused_grant_lines_limited(void **state)
{
	struct fixture *f = *state;
	struct network *n = fixture_network(f, "club");
	struct peer *p = fixture_peer(f, NULL);
	struct ctl_msg m = { .type = CTL_DENIED, .has_net = true };

	fixture_admit(f, n, p, "member", false);
	memcpy(m.net, n->pk, 32);
	snprintf(m.why, sizeof(m.why), "no");
	for (int i = 0; i < 100; i++)
		assert_true(roster_on_message(&f->d, p, &m));
	assert_true(f->d.gate_logs_held >= 100 - GATE_LOG_BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_grant_key_save_fails, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_grant_wrong_key, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_refused_grant_lines_limited, fixture_setup,
						fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
