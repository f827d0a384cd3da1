/*
 * test_peer_table: insert/lookup/remove for both families, duplicate and
 * missing keys, several addresses per peer, growth from empty to many
 * thousands of entries, tombstones under heavy churn (probe chains must stay
 * intact and the table must not grow without bound), removal by peer and
 * iteration, and a second identity claiming a mapped address (refused,
 * recorded once, the holder keeps routing). Results are checked against a
 * plain reference array.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "dataplane/peer_table.h"

static int peer_a, peer_b, peer_c;

static void v6addr(uint8_t out[16], uint32_t n)
{
	memset(out, 0, 16);
	out[0] = 0x02;
	out[12] = (uint8_t)(n >> 24);
	out[13] = (uint8_t)(n >> 16);
	out[14] = (uint8_t)(n >> 8);
	out[15] = (uint8_t)n;
}

static void test_basic(void **state)
{
	struct peer_table t;
	struct peer_entry *e;
	uint8_t a6[16], b6[16];

	peer_table_init(&t);
	assert_null(peer_table_lookup4(&t, 0x64400102));
	assert_int_equal(peer_table_remove4(&t, 0x64400102), -ENOENT);

	assert_int_equal(peer_table_insert4(&t, 0x64400102, &peer_a, 0), 0);
	/* another identity claiming a mapped address: refused, see
	 * test_cross_network_clash */
	assert_int_equal(peer_table_insert4(&t, 0x64400102, &peer_b, 1), -EADDRINUSE);
	assert_int_equal(peer_table_insert4(&t, 0x64400103, NULL, 1), -EINVAL);
	/* the same peer in a second network: a second IPv4 */
	assert_int_equal(peer_table_insert4(&t, 0x64771234, &peer_a, 1), 0);
	v6addr(a6, 1);
	v6addr(b6, 2);
	assert_int_equal(peer_table_insert6(&t, a6, &peer_a, 0), 0);
	assert_int_equal(peer_table_insert6(&t, a6, &peer_a, 0), -EEXIST);
	assert_int_equal(peer_table_insert6(&t, b6, &peer_b, 0), 0);
	assert_int_equal(peer_table_count(&t), 4);

	e = peer_table_lookup4(&t, 0x64400102);
	assert_non_null(e);
	assert_ptr_equal(e->peer, &peer_a);
	assert_int_equal(e->net, 0);
	assert_int_equal(e->tx_packets, 0);
	e->tx_packets = 5;
	assert_int_equal(peer_table_lookup4(&t, 0x64400102)->tx_packets, 5);
	e = peer_table_lookup4(&t, 0x64771234);
	assert_ptr_equal(e->peer, &peer_a);
	assert_int_equal(e->net, 1);
	assert_ptr_equal(peer_table_lookup6(&t, b6)->peer, &peer_b);
	/* a v4 key never matches in the v6 table and vice versa */
	v6addr(b6, 3);
	assert_null(peer_table_lookup6(&t, b6));

	assert_int_equal(peer_table_remove4(&t, 0x64400102), 0);
	assert_null(peer_table_lookup4(&t, 0x64400102));
	assert_non_null(peer_table_lookup4(&t, 0x64771234));
	assert_int_equal(peer_table_remove4(&t, 0x64400102), -ENOENT);
	/* re-insert after remove starts with fresh counters */
	assert_int_equal(peer_table_insert4(&t, 0x64400102, &peer_c, 2), 0);
	assert_int_equal(peer_table_lookup4(&t, 0x64400102)->tx_packets, 0);
	assert_ptr_equal(peer_table_lookup4(&t, 0x64400102)->peer, &peer_c);
	peer_table_close(&t);
	peer_table_close(&t);
}

/* Many entries: growth keeps every earlier entry reachable, lookups of
 * absent keys fail, and the capacity stays a power of two. */
static void test_many(void **state)
{
	struct peer_table t;
	enum {
		N = 50000
	};
	uint8_t a6[16];

	peer_table_init(&t);
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(peer_table_insert4(&t, 0x64400000 + i * 7, &peer_a, i), 0);
		v6addr(a6, i * 13);
		assert_int_equal(peer_table_insert6(&t, a6, &peer_b, i), 0);
	}
	assert_int_equal(peer_table_count(&t), 2 * N);
	assert_int_equal(t.v4.cap & (t.v4.cap - 1), 0);
	assert_true(t.v4.cap * 3 >= t.v4.used * 4);
	for (uint32_t i = 0; i < N; i++) {
		struct peer_entry *e = peer_table_lookup4(&t, 0x64400000 + i * 7);

		assert_non_null(e);
		assert_int_equal(e->net, i);
		assert_null(peer_table_lookup4(&t, 0x64400000 + i * 7 + 1));
		v6addr(a6, i * 13);
		assert_int_equal(peer_table_lookup6(&t, a6)->net, i);
		v6addr(a6, i * 13 + 1);
		assert_null(peer_table_lookup6(&t, a6));
	}
	peer_table_close(&t);
}

/* Keys that share low hash bits still need their own slots: with a tiny
 * table every insert collides with something, and removing an entry in the
 * middle of a probe chain must not hide the ones after it. */
static void test_collisions_and_tombstones(void **state)
{
	struct peer_table t;
	enum {
		N = 11
	}; /* stays within the first 16-slot table */
	size_t cap;

	peer_table_init(&t);
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(peer_table_insert4(&t, i, &peer_a, i), 0);
	cap = t.v4.cap;
	assert_int_equal(cap, 16);
	/* remove every other one, then all others must still be found */
	for (uint32_t i = 0; i < N; i += 2)
		assert_int_equal(peer_table_remove4(&t, i), 0);
	for (uint32_t i = 0; i < N; i++) {
		if (i % 2)
			assert_int_equal(peer_table_lookup4(&t, i)->net, i);
		else
			assert_null(peer_table_lookup4(&t, i));
	}
	/* churn: insert/remove far more keys than the capacity; tombstones are
	 * recycled or rehashed away instead of growing the table */
	for (uint32_t round = 0; round < 10000; round++) {
		uint32_t k = 1000 + round;

		assert_int_equal(peer_table_insert4(&t, k, &peer_b, round), 0);
		assert_int_equal(peer_table_lookup4(&t, k)->net, round);
		assert_int_equal(peer_table_remove4(&t, k), 0);
		assert_true(t.v4.used + t.v4.tomb <= t.v4.cap * 3 / 4);
	}
	assert_int_equal(t.v4.cap, cap);
	for (uint32_t i = 1; i < N; i += 2)
		assert_int_equal(peer_table_lookup4(&t, i)->net, i);
	assert_int_equal(peer_table_count(&t), N / 2);
	peer_table_close(&t);
}

/* Random operations checked against a reference array. */
static void test_random_reference(void **state)
{
	struct peer_table t;
	enum {
		KEYS = 512
	};
	int present[KEYS] = { 0 };
	unsigned seed = 7;

	peer_table_init(&t);
	for (int i = 0; i < 200000; i++) {
		uint32_t k;
		int rc;

		seed = seed * 1103515245 + 12345;
		k = (seed >> 8) % KEYS;
		if ((seed >> 20) & 1) {
			rc = peer_table_insert4(&t, 0x64400000 | k, &peer_a, k);
			assert_int_equal(rc, present[k] ? -EEXIST : 0);
			present[k] = 1;
		} else {
			rc = peer_table_remove4(&t, 0x64400000 | k);
			assert_int_equal(rc, present[k] ? 0 : -ENOENT);
			present[k] = 0;
		}
		if (i % 1000 == 0) {
			size_t n = 0;

			for (uint32_t j = 0; j < KEYS; j++) {
				struct peer_entry *e = peer_table_lookup4(&t, 0x64400000 | j);

				assert_true(present[j] ? e != NULL : e == NULL);
				n += (size_t)present[j];
			}
			assert_int_equal(peer_table_count(&t), n);
		}
	}
	peer_table_close(&t);
}

struct walk {
	int v4, v6;
	int a_entries;
	int stop_after;
};

static int walk_cb(const struct peer_table_item *item, void *ud)
{
	struct walk *w = ud;

	if (item->family == AF_INET) {
		w->v4++;
		assert_true((item->v4 & 0xffc00000) == 0x64400000);
	} else {
		assert_int_equal(item->family, AF_INET6);
		assert_int_equal(item->v6[0], 0x02);
		w->v6++;
	}
	if (item->entry->peer == &peer_a)
		w->a_entries++;
	item->entry->rx_bytes += 10;
	if (w->stop_after && w->v4 + w->v6 == w->stop_after)
		return 42;
	return 0;
}

static void test_remove_peer_and_iterate(void **state)
{
	struct peer_table t;
	struct walk w = { 0 };
	uint8_t a6[16];

	peer_table_init(&t);
	for (uint32_t i = 0; i < 100; i++) {
		void *p = i % 3 == 0 ? (void *)&peer_a : (void *)&peer_b;

		assert_int_equal(peer_table_insert4(&t, 0x64400000 + i, p, 0), 0);
		v6addr(a6, i);
		assert_int_equal(peer_table_insert6(&t, a6, p, 0), 0);
	}
	assert_int_equal(peer_table_foreach(&t, walk_cb, &w), 0);
	assert_int_equal(w.v4, 100);
	assert_int_equal(w.v6, 100);
	assert_int_equal(w.a_entries, 2 * 34);
	assert_int_equal(peer_table_lookup4(&t, 0x64400005)->rx_bytes, 10);

	memset(&w, 0, sizeof(w));
	w.stop_after = 7;
	assert_int_equal(peer_table_foreach(&t, walk_cb, &w), 42);
	assert_int_equal(w.v4 + w.v6, 7);

	assert_int_equal(peer_table_remove_peer(&t, &peer_a), 2 * 34);
	assert_int_equal(peer_table_remove_peer(&t, &peer_a), 0);
	assert_int_equal(peer_table_count(&t), 2 * 66);
	for (uint32_t i = 0; i < 100; i++) {
		struct peer_entry *e = peer_table_lookup4(&t, 0x64400000 + i);

		v6addr(a6, i);
		if (i % 3 == 0) {
			assert_null(e);
			assert_null(peer_table_lookup6(&t, a6));
		} else {
			assert_ptr_equal(e->peer, &peer_b);
			assert_ptr_equal(peer_table_lookup6(&t, a6)->peer, &peer_b);
		}
	}
	/* the generation moves on every change */
	{
		uint64_t g = t.gen;

		assert_int_equal(peer_table_insert4(&t, 1, &peer_c, 0), 0);
		assert_true(t.gen != g);
	}
	peer_table_close(&t);
}

/*
 * Two networks give one IPv4 (and, for a hostile roster, one IPv6) to two
 * identities: the first mapping keeps routing, the second claim is refused
 * and counted once per (address, claimant), so packets to or from that
 * address for the second identity find the first one and are dropped by
 * forward's source check instead of being delivered.
 */
static void test_cross_network_clash(void **state)
{
	struct peer_table t;
	struct peer_entry *e;
	uint8_t a6[16];

	(void)state;
	peer_table_init(&t);
	assert_int_equal(t.n_clashes, 0);
	assert_int_equal(peer_table_insert4(&t, 0x64512345, &peer_a, 0), 0);
	assert_int_equal(peer_table_insert4(&t, 0x64512345, &peer_b, 1), -EADDRINUSE);
	assert_int_equal(t.n_clashes, 1);
	e = peer_table_lookup4(&t, 0x64512345);
	assert_non_null(e);
	assert_ptr_equal(e->peer, &peer_a);
	assert_int_equal(e->net, 0);
	assert_int_equal(t.n_clashes, 1);
	assert_int_equal(t.clashes[0].family, AF_INET);
	assert_int_equal(t.clashes[0].v4, 0x64512345);
	assert_ptr_equal(t.clashes[0].owner, &peer_a);
	assert_int_equal(t.clashes[0].owner_net, 0);
	assert_ptr_equal(t.clashes[0].refused, &peer_b);
	assert_int_equal(t.clashes[0].refused_net, 1);
	/* the same claimant again (a third network): still one clash */
	assert_int_equal(peer_table_insert4(&t, 0x64512345, &peer_b, 2), -EADDRINUSE);
	assert_int_equal(t.n_clashes, 1);
	/* the owner itself in another network is no clash */
	assert_int_equal(peer_table_insert4(&t, 0x64512345, &peer_a, 1), -EEXIST);
	assert_int_equal(t.n_clashes, 1);
	/* a third identity on the same address is another clash */
	assert_int_equal(peer_table_insert4(&t, 0x64512345, &peer_c, 1), -EADDRINUSE);
	assert_int_equal(t.n_clashes, 2);
	assert_ptr_equal(peer_table_lookup4(&t, 0x64512345)->peer, &peer_a);
	/* IPv6 follows the same rule */
	v6addr(a6, 9);
	assert_int_equal(peer_table_insert6(&t, a6, &peer_b, 1), 0);
	assert_int_equal(peer_table_insert6(&t, a6, &peer_a, 0), -EADDRINUSE);
	assert_int_equal(t.n_clashes, 3);
	assert_ptr_equal(peer_table_lookup6(&t, a6)->peer, &peer_b);
	assert_int_equal(peer_table_count(&t), 2);
	/* a freed claimant leaves no record behind (its handle may be
	 * reused); the owner going frees the address outright */
	assert_int_equal(peer_table_remove_peer(&t, &peer_c), 0);
	assert_int_equal(t.n_clashes, 2);
	assert_int_equal(peer_table_remove_peer(&t, &peer_a), 1);
	assert_int_equal(t.n_clashes, 0);
	assert_null(peer_table_lookup4(&t, 0x64512345));
	assert_int_equal(peer_table_insert4(&t, 0x64512345, &peer_b, 1), 0);
	peer_table_close(&t);
	assert_int_equal(t.n_clashes, 0);
}

/* Hostile churn: repeated refused claims are recorded once each, and no
 * claim displaces the owner. */
static void test_clash_flood(void **state)
{
	struct peer_table t;
	static int claimants[300];
	size_t n = sizeof(claimants) / sizeof(claimants[0]);

	(void)state;
	peer_table_init(&t);
	assert_int_equal(peer_table_insert4(&t, 0x64400007, &peer_a, 0), 0);
	for (size_t round = 0; round < 3; round++)
		for (size_t i = 0; i < n; i++)
			assert_int_equal(peer_table_insert4(&t, 0x64400007, &claimants[i], 1),
					 -EADDRINUSE);
	assert_int_equal(t.n_clashes, n);
	assert_ptr_equal(peer_table_lookup4(&t, 0x64400007)->peer, &peer_a);
	assert_int_equal(peer_table_count(&t), 1);
	assert_int_equal(peer_table_remove4(&t, 0x64400007), 0);
	assert_int_equal(t.n_clashes, 0);
	peer_table_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_collisions_and_tombstones),
		cmocka_unit_test(test_random_reference),
		cmocka_unit_test(test_remove_peer_and_iterate),
		cmocka_unit_test(test_cross_network_clash),
		cmocka_unit_test(test_clash_flood),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
