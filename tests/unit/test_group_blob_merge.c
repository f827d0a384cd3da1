/*
 * Unit tests for src/mesh/group_blob_merge.c: each field's rule, and a
 * seeded random walk (two coordinators change one base at once, merge each
 * other's roster) checking that both end on the same roster and that no
 * admission, revocation or removal is lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/group_blob.h"
#include "util/blake3.h"
#include "util/hex.h"

static void test_id(unsigned i, char out[IDENTITY_ID_LEN + 1])
{
	uint8_t pk[32];

	blake3_hash(&i, sizeof(i), pk);
	hex_encode(pk, 32, out);
}

static void admit(struct group_blob *b, unsigned i, const char *host)
{
	char id[IDENTITY_ID_LEN + 1];

	test_id(i, id);
	assert_int_equal(group_blob_admit(b, id, host, false), 0);
}

static const struct gb_member *member(const struct group_blob *b, unsigned i)
{
	char id[IDENTITY_ID_LEN + 1];

	test_id(i, id);
	return group_blob_find_member(b, id);
}

static void key_for(unsigned i, uint64_t expires, struct gb_key *k)
{
	memset(k, 0, sizeof(*k));
	snprintf(k->id, sizeof(k->id), "key%u", i);
	blake3_hash(&i, sizeof(i), k->secret_hash);
	k->created = 1000;
	k->expires = expires;
}

static const struct gb_key *key(const struct group_blob *b, unsigned i)
{
	uint8_t hash[GB_HASH_LEN];

	blake3_hash(&i, sizeof(i), hash);
	return group_blob_find_key_by_hash(b, hash);
}

/* Same roster, whatever the version. */
static void assert_same_roster(const struct group_blob *a, const struct group_blob *b)
{
	struct group_blob x, y;
	uint8_t *ea = NULL, *eb = NULL;
	size_t la, lb;

	assert_int_equal(group_blob_copy(&x, a), 0);
	assert_int_equal(group_blob_copy(&y, b), 0);
	x.version = y.version = 1;
	assert_int_equal(group_blob_encode(&x, &ea, &la), 0);
	assert_int_equal(group_blob_encode(&y, &eb, &lb), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(ea, eb, la);
	free(ea);
	free(eb);
	group_blob_free(&x);
	group_blob_free(&y);
}

struct fork {
	struct group_blob base, ours, theirs;
};

static void fork_init(struct fork *f)
{
	struct gb_key k;

	assert_int_equal(group_blob_init(&f->base, "team", GROUP_MODE_CLOSED), 0);
	admit(&f->base, 1, "alice");
	admit(&f->base, 2, "bob");
	admit(&f->base, 3, "carol");
	key_for(1, 5000, &k);
	assert_int_equal(group_blob_add_key(&f->base, &k), 0);
	key_for(2, 0, &k);
	assert_int_equal(group_blob_add_key(&f->base, &k), 0);
	assert_int_equal(group_blob_copy(&f->ours, &f->base), 0);
	assert_int_equal(group_blob_copy(&f->theirs, &f->base), 0);
}

static void fork_free(struct fork *f)
{
	group_blob_free(&f->base);
	group_blob_free(&f->ours);
	group_blob_free(&f->theirs);
}

/* Merges both ways; both must give one roster. Returns our side's changes. */
static int merge_both(struct fork *f, struct group_blob *out)
{
	struct group_blob t2;
	int changes;

	assert_int_equal(group_blob_copy(out, &f->ours), 0);
	assert_int_equal(group_blob_copy(&t2, &f->theirs), 0);
	changes = group_blob_merge(out, &f->base, &f->theirs);
	assert_true(changes >= 0);
	assert_true(group_blob_merge(&t2, &f->base, &f->ours) >= 0);
	assert_same_roster(out, &t2);
	/* Merged once, nothing is left to take. */
	assert_int_equal(group_blob_merge(out, &f->base, &t2), 0);
	group_blob_free(&t2);
	return changes;
}

/* A rename and a coordinator flag on their side are taken. */
static void test_member_fields(void **state)
{
	struct group_blob m;
	struct fork f;
	char id[IDENTITY_ID_LEN + 1];

	(void)state;
	fork_init(&f);
	test_id(2, id);
	assert_int_equal(group_blob_set_hostname(&f.theirs, id, "bobby"), 0);
	assert_int_equal(group_blob_set_coordinator(&f.theirs, id, true), 0);
	test_id(3, id);
	assert_int_equal(group_blob_set_coordinator(&f.ours, id, true), 0);
	assert_int_equal(merge_both(&f, &m), 2);
	assert_string_equal(member(&m, 2)->hostname, "bobby");
	assert_true(member(&m, 2)->coordinator);
	assert_true(member(&m, 3)->coordinator);
	group_blob_free(&m);
	fork_free(&f);
}

/* Both renamed one member: the smaller name, on both sides. A rename onto
 * a name ours gave someone else meanwhile is not taken. */
static void test_rename_conflicts(void **state)
{
	struct group_blob m;
	struct fork f;
	char id[IDENTITY_ID_LEN + 1];

	(void)state;
	fork_init(&f);
	test_id(1, id);
	assert_int_equal(group_blob_set_hostname(&f.ours, id, "zed"), 0);
	assert_int_equal(group_blob_set_hostname(&f.theirs, id, "amy"), 0);
	assert_int_equal(merge_both(&f, &m), 1);
	assert_string_equal(member(&m, 1)->hostname, "amy");
	group_blob_free(&m);
	fork_free(&f);

	fork_init(&f);
	test_id(2, id);
	assert_int_equal(group_blob_set_hostname(&f.theirs, id, "dave"), 0);
	admit(&f.ours, 9, "dave");
	assert_int_equal(group_blob_copy(&m, &f.ours), 0);
	assert_true(group_blob_merge(&m, &f.base, &f.theirs) >= 0);
	assert_string_equal(member(&m, 2)->hostname, "bob");
	assert_string_equal(member(&m, 9)->hostname, "dave");
	group_blob_free(&m);
	fork_free(&f);
}

/* Approvals: theirs' new one comes, theirs' withdrawn one goes, one used by
 * an admission on our side is not brought back. */
static void test_approvals(void **state)
{
	struct group_blob m;
	struct fork f;
	char id[IDENTITY_ID_LEN + 1];

	(void)state;
	fork_init(&f);
	test_id(20, id);
	assert_int_equal(group_blob_add_approved(&f.base, id, "gus"), 0);
	group_blob_free(&f.ours);
	group_blob_free(&f.theirs);
	assert_int_equal(group_blob_copy(&f.ours, &f.base), 0);
	assert_int_equal(group_blob_copy(&f.theirs, &f.base), 0);
	assert_int_equal(group_blob_remove_approved(&f.theirs, id), 0);
	test_id(21, id);
	assert_int_equal(group_blob_add_approved(&f.theirs, id, NULL), 0);
	assert_int_equal(merge_both(&f, &m), 2);
	test_id(20, id);
	assert_null(group_blob_find_approved(&m, id));
	test_id(21, id);
	assert_non_null(group_blob_find_approved(&m, id));
	group_blob_free(&m);
	fork_free(&f);

	/* Theirs approved 22; ours admitted 22 at the same time. */
	fork_init(&f);
	test_id(22, id);
	assert_int_equal(group_blob_add_approved(&f.theirs, id, NULL), 0);
	admit(&f.ours, 22, "hal");
	assert_int_equal(group_blob_copy(&m, &f.ours), 0);
	assert_int_equal(group_blob_merge(&m, &f.base, &f.theirs), 0);
	assert_null(group_blob_find_approved(&m, id));
	assert_non_null(member(&m, 22));
	group_blob_free(&m);
	fork_free(&f);
}

/* Keys: a mint on either side arrives; a revocation on either side holds
 * even where the other side changed the key; two expiries: the earlier. */
static void test_keys(void **state)
{
	struct group_blob m;
	struct gb_key k;
	struct fork f;

	(void)state;
	fork_init(&f);
	key_for(3, 0, &k);
	assert_int_equal(group_blob_add_key(&f.theirs, &k), 0);
	key_for(4, 9000, &k);
	assert_int_equal(group_blob_add_key(&f.ours, &k), 0);
	assert_int_equal(group_blob_revoke_key(&f.theirs, "key1"), 0);
	f.ours.keys[0].expires = 7000;   /* key1 */
	f.theirs.keys[1].expires = 6000; /* key2: never → 6000 */
	f.ours.keys[1].expires = 8000;   /* key2: never → 8000 */
	assert_true(merge_both(&f, &m) >= 3);
	assert_non_null(key(&m, 3));
	assert_non_null(key(&m, 4));
	assert_true(key(&m, 1)->revoked);
	assert_int_equal(key(&m, 1)->expires, 7000);
	assert_int_equal(key(&m, 2)->expires, 6000);
	assert_int_equal(group_blob_key_check(&m, key(&m, 1)->secret_hash, 2000), -EKEYREVOKED);
	group_blob_free(&m);
	fork_free(&f);
}

/* Firewall suggestions, name and mode: one side's change is taken; both
 * changed: the same pick on both sides. */
static void test_settings_and_firewall(void **state)
{
	static const uint8_t fw_a[] = { 0x81, 0xa1, '*', 0x91, 0xa6, 't', 'c', 'p', ':', '2', '2' };
	static const uint8_t fw_b[] = { 0x81, 0xa1, '*', 0x90 };
	struct group_blob m;
	struct fork f;

	(void)state;
	fork_init(&f);
	assert_int_equal(group_blob_set_firewall(&f.theirs, fw_a, sizeof(fw_a)), 0);
	assert_int_equal(group_blob_set_mode(&f.theirs, GROUP_MODE_OPEN), 0);
	assert_int_equal(group_blob_set_name(&f.ours, "crew"), 0);
	assert_int_equal(merge_both(&f, &m), 2);
	assert_int_equal(m.firewall_len, sizeof(fw_a));
	assert_memory_equal(m.firewall, fw_a, sizeof(fw_a));
	assert_int_equal(m.mode, GROUP_MODE_OPEN);
	assert_string_equal(m.name, "crew");
	group_blob_free(&m);
	fork_free(&f);

	fork_init(&f);
	assert_int_equal(group_blob_set_firewall(&f.theirs, fw_a, sizeof(fw_a)), 0);
	assert_int_equal(group_blob_set_firewall(&f.ours, fw_b, sizeof(fw_b)), 0);
	assert_int_equal(group_blob_set_name(&f.ours, "zulu"), 0);
	assert_int_equal(group_blob_set_name(&f.theirs, "alpha"), 0);
	merge_both(&f, &m);
	assert_int_equal(m.firewall_len, sizeof(fw_b));
	assert_string_equal(m.name, "alpha");
	group_blob_free(&m);
	fork_free(&f);
}

/* One random change, as a coordinator could make it; ids and names are
 * drawn from disjoint ranges per side so additions never clash by name. */
static void random_change(struct group_blob *b, unsigned *rng, unsigned side, unsigned *next_id)
{
	char id[IDENTITY_ID_LEN + 1], host[HOSTNAME_BUF];
	unsigned r = rand_r(rng) % 7, n;
	struct gb_key k;

	switch (r) {
	case 0: /* admit */
		n = (*next_id)++;
		snprintf(host, sizeof(host), "h%u-%u", side, n);
		test_id(n, id);
		(void)group_blob_admit(b, id, host, false);
		break;
	case 1: /* kick */
		if (b->n_members > 1)
			(void)group_blob_remove_member(b, b->members[1 + rand_r(rng) %
										 (b->n_members - 1)]
								  .id);
		break;
	case 2: /* rename */
		n = rand_r(rng) % b->n_members;
		snprintf(host, sizeof(host), "r%u-%u", side, rand_r(rng) % 50);
		(void)group_blob_set_hostname(b, b->members[n].id, host);
		break;
	case 3: /* make or drop a co-coordinator */
		n = rand_r(rng) % b->n_members;
		(void)group_blob_set_coordinator(b, b->members[n].id, !b->members[n].coordinator);
		break;
	case 4: /* mint a key */
		key_for(side * 100000 + (*next_id)++, 0, &k);
		(void)group_blob_add_key(b, &k);
		break;
	case 5: /* revoke a key */
		if (b->n_keys)
			(void)group_blob_revoke_key(b, b->keys[rand_r(rng) % b->n_keys].id);
		break;
	default: /* approve ahead */
		test_id(side * 100000 + (*next_id)++, id);
		(void)group_blob_add_approved(b, id, NULL);
		break;
	}
}

static const struct gb_key *key_by_hash_or_fail(const struct group_blob *b, const uint8_t *hash,
						unsigned seed)
{
	const struct gb_key *k = group_blob_find_key_by_hash(b, hash);

	if (k == NULL) {
		print_error("seed %u: a key was lost\n", seed);
		fail();
	}
	return k;
}

/*
 * 2000 seeded forks: both sides end on one roster; every member either side
 * added is in it, no base member either side removed comes back, every key
 * either side holds is there and a revocation on either side holds. A
 * failing seed is printed and replays exactly.
 */
static void test_random_forks(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 2000; seed++) {
		unsigned rng = seed, next_o = 1000, next_t = 50000, steps;
		struct group_blob m;
		struct fork f;

		fork_init(&f);
		steps = rand_r(&rng) % 8;
		for (unsigned i = 0; i < steps; i++)
			random_change(&f.ours, &rng, 1, &next_o);
		steps = rand_r(&rng) % 8;
		for (unsigned i = 0; i < steps; i++)
			random_change(&f.theirs, &rng, 2, &next_t);
		merge_both(&f, &m);
		for (int s = 0; s < 2; s++) {
			const struct group_blob *side = s ? &f.theirs : &f.ours;

			for (size_t i = 0; i < side->n_members; i++) {
				const char *id = side->members[i].id;
				int in_base = group_blob_find_member(&f.base, id) != NULL;
				const struct group_blob *other = s ? &f.ours : &f.theirs;

				if (!in_base && group_blob_find_member(&m, id) == NULL) {
					print_error("seed %u: an admission was lost\n", seed);
					fail();
				}
				if (in_base && group_blob_find_member(other, id) == NULL &&
				    group_blob_find_member(&m, id) != NULL) {
					print_error("seed %u: a kick was undone\n", seed);
					fail();
				}
			}
			for (size_t i = 0; i < side->n_keys; i++) {
				const struct gb_key *k =
					key_by_hash_or_fail(&m, side->keys[i].secret_hash, seed);

				if (side->keys[i].revoked && !k->revoked) {
					print_error("seed %u: a revocation was lost\n", seed);
					fail();
				}
			}
		}
		group_blob_free(&m);
		fork_free(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member_fields),
		cmocka_unit_test(test_rename_conflicts),
		cmocka_unit_test(test_approvals),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_settings_and_firewall),
		cmocka_unit_test(test_random_forks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
