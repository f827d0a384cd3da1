/*
 * Seeded simulation of roster convergence: the real decision rule
 * (mesh/roster_sync.c) and the real merge (mesh/group_blob_merge.c) on
 * NODES nodes, two of them coordinators, over a simulated network that
 * drops, reorders and partitions the SYNC messages that carry (sequence,
 * hash, roster). Coordinators admit new members, kick some, mint and revoke
 * keys at random, each change signed as the daemon signs it (next version,
 * the roster it replaced as first ancestor) and sent to everyone. Then the
 * partition heals, the losses stop, nodes keep syncing with random peers,
 * and the run checks that every node ends on one roster, that every
 * admission not followed by a kick survived, that no kick was undone, that
 * every revocation held and that no node was left out. A failing seed is
 * printed; it replays exactly (rand_r on one state word).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/group_blob.h"
#include "mesh/roster_sync.h"
#include "util/blake3.h"
#include "util/hex.h"

#define NODES 6
#define COORDS 2
#define MAX_MSGS 4096
#define MAX_IDS 256
#define GRACE_TICKS 400 /* a member waits this long for a fork's merge */

struct node {
	char id[IDENTITY_ID_LEN + 1];
	struct group_blob cur;
	uint8_t hash[GB_HASH_LEN];
	struct group_blob old[GB_MAX_ANCESTORS]; /* older rosters, newest first */
	uint8_t old_hash[GB_MAX_ANCESTORS][GB_HASH_LEN];
	size_t n_old;
	uint64_t seq;
	long fork_since; /* tick, -1 none */
	bool coordinator;
};

struct msg {
	int to, from;
	struct group_blob blob; /* a copy: as fetched */
	uint8_t hash[GB_HASH_LEN];
	uint64_t seq;
};

struct sim {
	unsigned rng;
	long tick;
	struct node n[NODES];
	struct msg q[MAX_MSGS];
	size_t nq;
	bool cut; /* coordinators 0 and 1 on two sides */
	int loss_pct;
	/* What the coordinators did, for the checks. */
	char admitted[MAX_IDS][IDENTITY_ID_LEN + 1];
	bool kicked[MAX_IDS];
	size_t n_admitted;
	unsigned next_key;
	uint8_t revoked[MAX_IDS][GB_HASH_LEN];
	size_t n_revoked;
	unsigned forks, merges, waits;
	unsigned seed;
};

static int trace; /* SIM_TRACE=1: print every step */
static unsigned total_forks, total_merges, total_waits;

#define TRACE(...)                                    \
	do {                                          \
		if (trace)                            \
			fprintf(stderr, __VA_ARGS__); \
	} while (0)

static void make_id(unsigned i, char out[IDENTITY_ID_LEN + 1])
{
	uint8_t pk[32];

	blake3_hash(&i, sizeof(i), pk);
	hex_encode(pk, 32, out);
}

static void sim_fail(struct sim *s, const char *what)
{
	print_error("seed %u, tick %ld: %s\n", s->seed, s->tick, what);
	fail();
}

static unsigned rnd(struct sim *s, unsigned n)
{
	return (unsigned)rand_r(&s->rng) % n;
}

static bool side(int i)
{
	return i % 2; /* coordinator 0 and evens, coordinator 1 and odds */
}

static void send_to(struct sim *s, int to, int from)
{
	struct msg *m;

	if (s->nq == MAX_MSGS)
		return; /* a full network drops */
	m = &s->q[s->nq];
	assert_int_equal(group_blob_copy(&m->blob, &s->n[from].cur), 0);
	memcpy(m->hash, s->n[from].hash, GB_HASH_LEN);
	m->seq = s->n[from].seq;
	m->to = to;
	m->from = from;
	s->nq++;
}

static void broadcast(struct sim *s, int from)
{
	for (int i = 0; i < NODES; i++)
		if (i != from)
			send_to(s, i, from);
}

/* As network_apply: the new roster becomes current, the old one the first
 * of the older ones kept. */
static void apply(struct node *x, const struct group_blob *b, const uint8_t hash[GB_HASH_LEN],
		  uint64_t seq)
{
	if (x->n_old == GB_MAX_ANCESTORS)
		group_blob_free(&x->old[--x->n_old]);
	memmove(&x->old[1], &x->old[0], x->n_old * sizeof(x->old[0]));
	memmove(x->old_hash[1], x->old_hash[0], x->n_old * GB_HASH_LEN);
	x->old[0] = x->cur;
	memcpy(x->old_hash[0], x->hash, GB_HASH_LEN);
	x->n_old++;
	assert_int_equal(group_blob_copy(&x->cur, b), 0);
	memcpy(x->hash, hash, GB_HASH_LEN);
	x->seq = seq;
	x->fork_since = -1;
}

/* A roster merged in is held too, right after ours: a later fork may have
 * gone apart from it (criss-cross merges). */
static void hold_after_current(struct node *x, const struct group_blob *b,
			       const uint8_t hash[GB_HASH_LEN])
{
	size_t at = x->n_old ? 1 : 0;

	if (x->n_old == GB_MAX_ANCESTORS)
		group_blob_free(&x->old[--x->n_old]);
	memmove(&x->old[at + 1], &x->old[at], (x->n_old - at) * sizeof(x->old[0]));
	memmove(x->old_hash[at + 1], x->old_hash[at], (x->n_old - at) * GB_HASH_LEN);
	assert_int_equal(group_blob_copy(&x->old[at], b), 0);
	memcpy(x->old_hash[at], hash, GB_HASH_LEN);
	x->n_old++;
}

/* As publish: next version, ours as first ancestor, applied, sent. Takes b. */
static void sign(struct sim *s, int i, struct group_blob *b)
{
	struct node *x = &s->n[i];
	uint8_t hash[GB_HASH_LEN];

	b->version = (x->cur.version > b->version ? x->cur.version : b->version) + 1;
	group_blob_add_ancestor(b, x->hash);
	assert_int_equal(group_blob_hash(b, hash), 0);
	TRACE("t%ld node%d signs v%llu %02x (from %02x), %zu members\n", s->tick, i,
	      (unsigned long long)b->version, hash[0], x->hash[0], b->n_members);
	apply(x, b, hash, b->version);
	group_blob_free(b);
	broadcast(s, i);
}

static void state_of(const struct node *x, struct roster_state *st)
{
	memset(st, 0, sizeof(*st));
	st->seq = x->seq;
	memcpy(st->hash, x->hash, GB_HASH_LEN);
	st->held = (const uint8_t(*)[GB_HASH_LEN])x->old_hash;
	st->n_held = x->n_old;
	st->coordinator = x->coordinator;
}

static void take(struct sim *s, int i, const struct msg *m)
{
	struct node *x = &s->n[i];
	struct group_blob merged, ours, base;
	struct roster_state st;
	uint8_t ours_hash[GB_HASH_LEN];
	size_t bi = 0;
	int changes;

	state_of(x, &st);
	if (roster_sync_answer_back(&st, m->seq, m->hash))
		send_to(s, m->from, i);
	if (!roster_sync_wants(&st, m->seq, m->hash))
		return;
	enum roster_step step = roster_sync_step(&st, m->seq, m->hash, &m->blob, x->id, &bi);

	TRACE("t%ld node%d <- node%d v%llu %02x (ours v%llu %02x): step %d base %zu\n", s->tick, i,
	      m->from, (unsigned long long)m->seq, m->hash[0], (unsigned long long)x->seq,
	      x->hash[0], step, bi);
	switch (step) {
	case ROSTER_KEEP:
		break;
	case ROSTER_ADOPT:
		apply(x, &m->blob, m->hash, m->seq);
		break;
	case ROSTER_MERGE:
		assert_int_equal(group_blob_copy(&merged, &x->cur), 0);
		assert_true(group_blob_merge(&merged, &x->old[bi], &m->blob) >= 0);
		if (group_blob_same_members_and_fields(&x->cur, &m->blob) ||
		    group_blob_same_members_and_fields(&merged, &m->blob)) {
			/* One roster twice (the tie rule), or theirs holds ours. */
			group_blob_free(&merged);
			if (!group_blob_same_members_and_fields(&x->cur, &m->blob) ||
			    roster_sync_tie(&st, m->hash, &m->blob, x->id) == ROSTER_ADOPT)
				apply(x, &m->blob, m->hash, m->seq);
			break;
		}
		s->merges++;
		group_blob_set_merge_parents(&merged, m->hash, x->hash, x->cur.version);
		sign(s, i, &merged);
		hold_after_current(x, &m->blob, m->hash);
		break;
	case ROSTER_FORK:
		s->forks++;
		assert_int_equal(group_blob_copy(&ours, &x->cur), 0);
		assert_int_equal(group_blob_copy(&base, &x->old[bi]), 0);
		memcpy(ours_hash, x->hash, GB_HASH_LEN);
		apply(x, &m->blob, m->hash, m->seq);
		assert_int_equal(group_blob_copy(&merged, &x->cur), 0);
		changes = group_blob_merge(&merged, &base, &ours);
		assert_true(changes >= 0);
		if (changes > 0) {
			group_blob_add_ancestor(&merged, ours_hash);
			sign(s, i, &merged);
		} else {
			group_blob_free(&merged);
		}
		group_blob_free(&ours);
		group_blob_free(&base);
		break;
	case ROSTER_WAIT:
		s->waits++;
		if (x->fork_since < 0)
			x->fork_since = s->tick;
		if (s->tick - x->fork_since >= GRACE_TICKS)
			sim_fail(s, "a member waited out a fork that was never merged");
		break;
	case ROSTER_LEAVE:
		sim_fail(s, "a node that was never kicked left");
		break;
	}
}

/* One random change by coordinator c, signed and sent. */
static void coordinator_change(struct sim *s, int c)
{
	struct node *x = &s->n[c];
	struct group_blob b;
	struct gb_key k;
	unsigned r = rnd(s, 10), i;

	assert_int_equal(group_blob_copy(&b, &x->cur), 0);
	if (r < 5 && s->n_admitted < MAX_IDS) {
		i = (unsigned)s->n_admitted;
		make_id(1000 + i, s->admitted[i]);
		char host[HOSTNAME_BUF];

		snprintf(host, sizeof(host), "m%u", i);
		if (group_blob_admit(&b, s->admitted[i], host, false) == 0) {
			TRACE("t%ld node%d admits m%u\n", s->tick, c, i);
			s->n_admitted++;
		}
	} else if (r < 7 && s->n_admitted) {
		i = rnd(s, (unsigned)s->n_admitted);
		if (group_blob_remove_member(&b, s->admitted[i]) == 0) {
			TRACE("t%ld node%d kicks m%u\n", s->tick, c, i);
			s->kicked[i] = true;
		}
	} else if (r < 9) {
		memset(&k, 0, sizeof(k));
		snprintf(k.id, sizeof(k.id), "k%u", s->next_key);
		blake3_hash(&s->next_key, sizeof(s->next_key), k.secret_hash);
		s->next_key++;
		(void)group_blob_add_key(&b, &k);
	} else if (b.n_keys && s->n_revoked < MAX_IDS) {
		i = rnd(s, (unsigned)b.n_keys);
		if (!b.keys[i].revoked && group_blob_revoke_key(&b, b.keys[i].id) == 0)
			memcpy(s->revoked[s->n_revoked++], b.keys[i].secret_hash, GB_HASH_LEN);
	}
	if (b.version == x->cur.version) {
		group_blob_free(&b);
		return;
	}
	sign(s, c, &b);
}

/* Delivers one message (picked at random: the network reorders), unless
 * lost or across the cut. */
static void deliver_one(struct sim *s)
{
	size_t k = rnd(s, (unsigned)s->nq);
	struct msg m = s->q[k];

	s->q[k] = s->q[--s->nq];
	if ((s->cut && side(m.to) != side(m.from)) ||
	    (s->loss_pct && (int)rnd(s, 100) < s->loss_pct)) {
		group_blob_free(&m.blob);
		return;
	}
	take(s, m.to, &m);
	group_blob_free(&m.blob);
}

static void sim_init(struct sim *s, unsigned seed)
{
	struct group_blob genesis;
	uint8_t hash[GB_HASH_LEN];

	memset(s, 0, sizeof(*s));
	s->seed = s->rng = seed;
	assert_int_equal(group_blob_init(&genesis, "team", GROUP_MODE_CLOSED), 0);
	for (int i = 0; i < NODES; i++) {
		char host[HOSTNAME_BUF];

		make_id((unsigned)i, s->n[i].id);
		snprintf(host, sizeof(host), "node%d", i);
		assert_int_equal(group_blob_admit(&genesis, s->n[i].id, host, i < COORDS), 0);
	}
	assert_int_equal(group_blob_hash(&genesis, hash), 0);
	for (int i = 0; i < NODES; i++) {
		struct node *x = &s->n[i];

		assert_int_equal(group_blob_copy(&x->cur, &genesis), 0);
		memcpy(x->hash, hash, GB_HASH_LEN);
		x->seq = genesis.version;
		x->fork_since = -1;
		x->coordinator = i < COORDS;
	}
	group_blob_free(&genesis);
}

static void sim_free(struct sim *s)
{
	for (int i = 0; i < NODES; i++) {
		group_blob_free(&s->n[i].cur);
		while (s->n[i].n_old)
			group_blob_free(&s->n[i].old[--s->n[i].n_old]);
	}
	while (s->nq)
		group_blob_free(&s->q[--s->nq].blob);
}

static void check_end(struct sim *s)
{
	const struct group_blob *b = &s->n[0].cur;

	for (int i = 1; i < NODES; i++)
		if (memcmp(s->n[i].hash, s->n[0].hash, GB_HASH_LEN) != 0)
			sim_fail(s, "the nodes did not converge on one roster");
	for (int i = 0; i < NODES; i++)
		if (group_blob_find_member(b, s->n[i].id) == NULL)
			sim_fail(s, "a node was left out of the roster");
	for (size_t i = 0; i < s->n_admitted; i++) {
		bool in = group_blob_find_member(b, s->admitted[i]) != NULL;

		if (!s->kicked[i] && !in) {
			print_error("m%zu\n", i);
			sim_fail(s, "an admission was lost");
		}
		if (s->kicked[i] && in)
			sim_fail(s, "a kick was undone");
	}
	for (size_t i = 0; i < s->n_revoked; i++) {
		const struct gb_key *k = group_blob_find_key_by_hash(b, s->revoked[i]);

		if (k == NULL || !k->revoked)
			sim_fail(s, "a revocation was lost");
	}
}

static void sim_run(unsigned seed)
{
	static struct sim s;
	long busy = 200 + (long)(seed % 400);

	sim_init(&s, seed);
	s.loss_pct = (int)(seed % 30);
	for (s.tick = 0; s.tick < busy; s.tick++) {
		if (s.tick == busy / 4)
			s.cut = seed % 3 != 0;
		if (s.tick == 3 * busy / 4)
			s.cut = false;
		if (rnd(&s, 100) < 6)
			coordinator_change(&s, (int)rnd(&s, COORDS));
		if (rnd(&s, 100) < 10) /* a reconnect or a DHT poll */
			send_to(&s, (int)rnd(&s, NODES), (int)rnd(&s, NODES));
		for (int k = 0; k < 3 && s.nq; k++)
			deliver_one(&s);
	}
	/* Calm: no cut, no loss; every node syncs with every other until the
	 * network is quiet. */
	s.cut = false;
	s.loss_pct = 0;
	for (int round = 0; round < 50; round++, s.tick++) {
		for (int i = 0; i < NODES; i++)
			for (int j = 0; j < NODES; j++)
				if (i != j)
					send_to(&s, j, i);
		for (long guard = 0; s.nq && guard < 200000; guard++, s.tick++)
			deliver_one(&s);
	}
	check_end(&s);
	total_forks += s.forks;
	total_merges += s.merges;
	total_waits += s.waits;
	sim_free(&s);
}

static void test_roster_sim(void **state)
{
	unsigned seeds = 1000;

	(void)state;
	trace = getenv("SIM_TRACE") != NULL;
	if (getenv("SIM_SEED"))
		seeds = 0, sim_run((unsigned)atoi(getenv("SIM_SEED")));
	for (unsigned seed = 1; seed <= seeds; seed++)
		sim_run(seed);
	/* The runs must have met the cases they are for. */
	fprintf(stderr, "roster sim: %u seeds, %u fork merges, %u tie merges, %u waits\n", seeds,
		total_forks, total_merges, total_waits);
	if (seeds) {
		assert_true(total_forks > 0);
		assert_true(total_merges > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roster_sim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
