/*
 * test_scale_sim: the connection and blob budgets of issue 10 at 1000 peers,
 * without sockets. One daemon context (daemon_fixture) coordinates a network
 * of SIM_MEMBERS members besides itself. Under it the QUIC endpoint is a
 * simulation: this test is linked with -Wl,--wrap= for every quic_conn_* and
 * quic_endpoint_* call the daemon makes, the magicsock calls that would
 * touch a socket, and daemon_now_ms (so the clock is the test's), and it
 * feeds its connections through the daemon's own QUIC event table
 * (daemon_quic_events). gate.c, peers.c, blobs.c, network.c and status.c
 * run unchanged:
 *   1. the pool gate_on_roster asks for; 1000 members behind 4 addresses
 *      arriving interleaved with 1000 strangers, the first 100 from the
 *      members' first address, then from 50; the strangers' window;
 *   2. one roster change: the coordinator's SYNC, then where and when the
 *      members fetch it (roster_fetch.c's choices over a timing model), the
 *      coordinator serving over the mesh connections, the blobs-ALPN caps;
 *   3. the status document, and the per-peer control-message bucket.
 * The figures go out with print_message, to be quoted.
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
#include <time.h>

#include "daemon_fixture.h"
#include "daemon/blobs.h"
#include "daemon/gate.h"
#include "daemon/roster_fetch.h"
#include "daemon/status.h"
#include "home/store.h"
#include "discovery/record.h"
#include "mesh/group_blob.h"
#include "proto/control.h"
#include "proto/ipc.h"
#include "transport/magicsock.h"
#include "transport/quic.h"
#include "util/blake3.h"
#include "util/log.h"

#define SIM_MEMBERS 1000 /* members besides the coordinator */
#define SIM_STRANGERS 1000
#define MEMBER_SOURCES 4    /* the members sit behind 4 NATs */
#define STRANGER_SOURCES 50 /* 0..3 shared with the members */
#define STRANGER_BURST 100  /* the first strangers all from source 0 */
#define BLOB_CONNS 1000     /* blobs-ALPN connections asking at once */
#define BLOB_SOURCES 100
#define BLOB_BURST 100 /* the first of them all from source 0 */

/* ---- the simulated endpoint ---- */

struct sim_conn {
	struct sim_conn *next;
	uint8_t peer[32];
	const char *alpn;
	unsigned source;
	bool client, confirmed, known, dead, trusted, close_due;
	uint64_t code;
	size_t txq_cap;
	void *data;
	size_t sent[CTL_TYPE_MAX];
	size_t blob_len; /* data of the last CTL_BLOB sent on it */
};

static struct {
	struct daemon *d;
	struct sim_conn *conns;
	uint64_t now;
	uint32_t max_conns;
	size_t connects; /* quic_connect calls: connections we opened */
	size_t sent[CTL_TYPE_MAX];
	int in_event;
	size_t n_due;
} sim;

static struct sim_conn *S(const struct quic_conn *c)
{
	return (struct sim_conn *)c;
}

static struct quic_conn *Q(struct sim_conn *c)
{
	return (struct quic_conn *)c;
}

static struct sim_conn *conn_new(const uint8_t pk[32], const char *alpn, bool client,
				 unsigned source)
{
	struct sim_conn *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	memcpy(c->peer, pk, 32);
	c->alpn = alpn;
	c->client = client;
	c->source = source;
	c->txq_cap = QUIC_TXQ_CAP;
	c->next = sim.conns;
	sim.conns = c;
	return c;
}

/* `closed` is due exactly once for every connection the owner knows. */
static void deliver_closed(struct sim_conn *c)
{
	c->dead = true;
	c->confirmed = false;
	if (!c->known)
		return;
	sim.in_event++;
	daemon_quic_events.closed(sim.d, Q(c), QUIC_CLOSE_LOCAL, c->code);
	sim.in_event--;
}

/* Closes asked for inside an event wait until it returns, as in quic.c. */
static void flush_closes(void)
{
	while (sim.n_due) {
		for (struct sim_conn *c = sim.conns; c; c = c->next) {
			if (!c->close_due)
				continue;
			c->close_due = false;
			sim.n_due--;
			deliver_closed(c);
		}
	}
}

static void event_begin(void)
{
	sim.in_event++;
}

static void event_end(void)
{
	if (--sim.in_event == 0)
		flush_closes();
}

int __wrap_quic_conn_is_client(const struct quic_conn *c)
{
	return S(c)->client;
}

int __wrap_quic_conn_is_confirmed(const struct quic_conn *c)
{
	return S(c)->confirmed;
}

const uint8_t *__wrap_quic_conn_peer(const struct quic_conn *c)
{
	return S(c)->peer;
}

const char *__wrap_quic_conn_alpn(const struct quic_conn *c)
{
	return S(c)->alpn;
}

void __wrap_quic_conn_set_data(struct quic_conn *c, void *data)
{
	S(c)->data = data;
}

void *__wrap_quic_conn_get_data(const struct quic_conn *c)
{
	return S(c)->data;
}

void __wrap_quic_conn_set_trusted(struct quic_conn *c, int trusted)
{
	S(c)->trusted = trusted != 0;
}

void __wrap_quic_conn_set_txq_cap(struct quic_conn *c, size_t bytes)
{
	S(c)->txq_cap = bytes;
}

/* Whatever is sent is acknowledged at once: the whole cap is free. */
size_t __wrap_quic_conn_txq_room(const struct quic_conn *c)
{
	return S(c)->txq_cap;
}

int __wrap_quic_conn_same_source(const struct quic_conn *a, const struct quic_conn *b)
{
	return !S(a)->client && !S(b)->client && S(a)->source == S(b)->source;
}

int __wrap_quic_conn_send_msg(struct quic_conn *qc, const uint8_t *buf, size_t len)
{
	struct sim_conn *c = S(qc);
	struct ctl_msg m;

	if (c->dead || c->close_due)
		return -ENOTCONN;
	if (len > QUIC_MSG_CAP)
		return -EMSGSIZE;
	assert_true(len <= c->txq_cap);
	assert_int_equal(ctl_decode(buf, len, &m), 0);
	c->sent[m.type]++;
	sim.sent[m.type]++;
	if (m.type == CTL_BLOB)
		c->blob_len = m.data_len;
	return 0;
}

void __wrap_quic_conn_close(struct quic_conn *qc, uint64_t code)
{
	struct sim_conn *c = S(qc);

	if (c->dead || c->close_due)
		return;
	c->code = code;
	if (sim.in_event) {
		c->close_due = true;
		sim.n_due++;
		return;
	}
	deliver_closed(c);
	flush_closes();
}

void __wrap_quic_conn_get_stats(struct quic_conn *c, struct quic_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->rtt_ms = 23.45;
	st->cwnd = 12000;
}

size_t __wrap_quic_conn_max_datagram(struct quic_conn *c)
{
	return 1200;
}

int __wrap_quic_conn_send_datagram(struct quic_conn *c, const uint8_t *buf, size_t len)
{
	return 0;
}

/* Our dials never complete: counting them is the point. */
int __wrap_quic_connect(struct quic_endpoint *ep, const uint8_t pk[32], const char *alpn,
			struct quic_conn **out)
{
	struct sim_conn *c = conn_new(pk, alpn, true, 0);

	sim.connects++;
	c->known = true;
	*out = Q(c);
	return 0;
}

int __wrap_quic_endpoint_set_max_conns(struct quic_endpoint *ep, uint32_t n)
{
	sim.max_conns = n;
	return 0;
}

void __wrap_quic_endpoint_get_stats(const struct quic_endpoint *ep, struct quic_endpoint_stats *st)
{
	memset(st, 0, sizeof(*st));
}

void __wrap_quic_endpoint_set_writable(struct quic_endpoint *ep, quic_writable_fn fn, void *ud)
{
}

enum ms_path __wrap_magicsock_peer_path(struct magicsock *ms, const uint8_t pk[32],
					union ms_addr *addr)
{
	return MS_PATH_DIRECT;
}

int __wrap_magicsock_peer_via(struct magicsock *ms, const uint8_t pk[32], uint8_t via[32])
{
	return -ENOENT;
}

void __wrap_magicsock_remove_peer(struct magicsock *ms, const uint8_t pk[32])
{
}

uint64_t __wrap_daemon_now_ms(const struct daemon *d)
{
	return sim.now;
}

/* A client at `source` connects with alpn: the endpoint asks `accept` in
 * the handshake, then tells `confirmed`. NULL when refused in the
 * handshake; a connection the daemon closed comes back dead. */
static struct sim_conn *sim_accept(const uint8_t pk[32], const char *alpn, unsigned source)
{
	struct sim_conn *c;

	if (daemon_quic_events.accept(sim.d, pk, alpn) != 0)
		return NULL;
	c = conn_new(pk, alpn, false, source);
	c->confirmed = true;
	c->known = true;
	event_begin();
	daemon_quic_events.confirmed(sim.d, Q(c));
	event_end();
	return c;
}

static void sim_message(struct sim_conn *c, const struct ctl_msg *m)
{
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(ctl_encode(m, &sb), 0);
	event_begin();
	daemon_quic_events.message(sim.d, Q(c), (const uint8_t *)sb.data, sb.size);
	event_end();
	msgpack_sbuffer_destroy(&sb);
}

static void sim_free_conns(void)
{
	while (sim.conns) {
		struct sim_conn *c = sim.conns;

		sim.conns = c->next;
		free(c);
	}
}

/* ---- the network ---- */

static struct fixture *F;
static struct network *NET;
static uint8_t member_pk[SIM_MEMBERS][32];
static struct sim_conn *member_conn[SIM_MEMBERS];

static double secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* One roster with every member admitted, then one publish: 1000 publishes
 * would sign, store and broadcast 1000 rosters. */
static void build_roster(void)
{
	struct group_blob blob;
	struct identity id;
	char host[16];

	assert_int_equal(group_blob_copy(&blob, &NET->blob), 0);
	for (size_t i = 0; i < SIM_MEMBERS; i++) {
		assert_int_equal(identity_generate(&id), 0);
		memcpy(member_pk[i], id.pk, 32);
		snprintf(host, sizeof(host), "m%04zu", i);
		assert_int_equal(group_blob_admit(&blob, id.id, host, false), 0);
		identity_clear(&id);
	}
	assert_int_equal(network_publish(&F->d, NET, &blob, NULL), 0);
	assert_int_equal(NET->blob.n_members, SIM_MEMBERS + 1);
}

static int sim_setup(void **state)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	log_init(LL_ERROR); /* the warnings a flood causes are expected here */
	F = calloc(1, sizeof(*F));
	if (!F || fixture_init(F) < 0)
		return -1;
	sim.d = &F->d;
	sim.now = 1000000;
	/* Never dereferenced: every endpoint call the daemon makes is wrapped. */
	F->d.quic = (struct quic_endpoint *)&sim;
	NET = fixture_network(F, "scale");
	build_roster();
	print_message("roster of %zu members built and published in %.2f s\n", NET->blob.n_members,
		      secs_since(&t0));
	*state = F;
	return 0;
}

static int sim_teardown(void **state)
{
	int ret;

	blobs_close_all(&F->d);
	F->d.quic = NULL;
	ret = fixture_close(F);
	sim_free_conns();
	free(F);
	return ret;
}

/* Members not connected yet connect from their NATs. */
static void connect_members(void)
{
	for (size_t i = 0; i < SIM_MEMBERS; i++) {
		if (member_conn[i] && !member_conn[i]->dead)
			continue;
		member_conn[i] = sim_accept(member_pk[i], QUIC_ALPN_MESH, i % MEMBER_SOURCES);
		assert_non_null(member_conn[i]);
		assert_false(member_conn[i]->dead);
	}
}

static void assert_members_in(void)
{
	for (size_t i = 0; i < SIM_MEMBERS; i++) {
		struct peer *p = peers_find(&F->d, member_pk[i]);

		assert_non_null(p);
		assert_ptr_equal(p->conn, Q(member_conn[i]));
		assert_false(member_conn[i]->dead);
		assert_true(member_conn[i]->trusted);
		assert_false(p->stranger);
	}
}

/* Open accepted mesh connections of strangers, all and from each source. */
static size_t strangers_open(size_t per_source[STRANGER_SOURCES])
{
	size_t n = 0;

	memset(per_source, 0, STRANGER_SOURCES * sizeof(*per_source));
	for (struct sim_conn *c = sim.conns; c; c = c->next) {
		if (c->dead || c->client || strcmp(c->alpn, QUIC_ALPN_MESH) != 0 || c->trusted)
			continue;
		n++;
		per_source[c->source]++;
	}
	return n;
}

static size_t accepted_open(void)
{
	size_t n = 0;

	for (struct sim_conn *c = sim.conns; c; c = c->next)
		n += !c->dead && !c->client;
	return n;
}

/* ---- 1. connections ---- */

/* expect strangers in, as the gate counts them too, none over the share
 * of its source; the most from one source. */
static size_t check_stranger_budget(size_t expect)
{
	size_t per_source[STRANGER_SOURCES], max = 0;
	size_t open = strangers_open(per_source);
	uint64_t g[5];

	for (size_t s = 0; s < STRANGER_SOURCES; s++)
		max = per_source[s] > max ? per_source[s] : max;
	gate_counts(&F->d, g);
	assert_int_equal(open, expect);
	assert_int_equal(g[0], expect);
	assert_true(max <= GATE_PER_SOURCE);
	return max;
}

/* A stranger, then a member, and again: the stranger budget is full after
 * the first few dozen, and every member still gets in. */
static void arrive_interleaved(void)
{
	uint8_t pk[32];

	for (size_t i = 0; i < SIM_MEMBERS; i++) {
		randombytes_buf(pk, sizeof(pk));
		sim_accept(pk, QUIC_ALPN_MESH, i < STRANGER_BURST ? 0 : i % STRANGER_SOURCES);
		member_conn[i] = sim_accept(member_pk[i], QUIC_ALPN_MESH, i % MEMBER_SOURCES);
		assert_non_null(member_conn[i]);
	}
}

/* The strangers' window ends on the millisecond; the members stay. */
static void expire_strangers(void)
{
	uint64_t g[5];

	sim.now += GATE_STRANGER_MS - 1;
	gate_tick(&F->d);
	check_stranger_budget(GATE_STRANGERS);
	sim.now += 1;
	gate_tick(&F->d);
	check_stranger_budget(0);
	gate_counts(&F->d, g);
	assert_int_equal(g[2], GATE_STRANGERS);
	assert_members_in();
}

/* Once they are gone their places are free again. */
static void strangers_again(void)
{
	uint8_t pk[32];

	for (size_t i = 0; i < GATE_PER_SOURCE + 1; i++) {
		randombytes_buf(pk, sizeof(pk));
		sim_accept(pk, QUIC_ALPN_MESH, 7);
	}
	check_stranger_budget(GATE_PER_SOURCE);
	sim.now += GATE_STRANGER_MS;
	gate_tick(&F->d);
	check_stranger_budget(0);
}

static void test_members_and_strangers(void **state)
{
	size_t per_source[STRANGER_SOURCES], open;
	struct timespec t0;
	uint64_t g[5];

	/* The pool holds every member with the strangers' and the blobs
	 * connections' budgets on top, within the endpoint's accepted share. */
	sim.max_conns = 0;
	gate_on_roster(&F->d);
	assert_true(sim.max_conns >= GATE_POOL_MIN);
	assert_true(quic_accept_cap(sim.max_conns) >=
		    SIM_MEMBERS + GATE_STRANGERS + BLOBS_SERVE_MAX);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	arrive_interleaved();
	open = strangers_open(per_source);
	gate_counts(&F->d, g);
	print_message("pool %u connections (accepted share %u) for %zu members; "
		      "%zu members and %zu of %d strangers in (%zu from the members' "
		      "first NAT), %llu strangers refused, %.2f s\n",
		      sim.max_conns, quic_accept_cap(sim.max_conns), NET->blob.n_members,
		      (size_t)SIM_MEMBERS, open, SIM_STRANGERS, per_source[0],
		      (unsigned long long)g[1], secs_since(&t0));
	assert_members_in();
	assert_int_equal(check_stranger_budget(GATE_STRANGERS), GATE_PER_SOURCE);
	assert_int_equal(per_source[0], GATE_PER_SOURCE);
	assert_int_equal(g[1], SIM_STRANGERS - GATE_STRANGERS);
	assert_true(accepted_open() <= quic_accept_cap(sim.max_conns));
	expire_strangers();
	strangers_again();
	assert_int_equal(sim.connects, 0);
}

/* ---- 2. one roster change ---- */

/* Timing model of a fetch (not the daemon's: there is no network here). */
#define MODEL_FETCH_MS 250       /* asked to held: an RTT and ~100 KB */
#define MODEL_SLOW_FETCH_MS 1000 /* the same on a slow or lossy path */
#define MODEL_MISS_MS 100        /* an empty answer, a blobs connection, its DENIED */
#define MODEL_WINDOW_MS 100
#define MODEL_WINDOWS 64
#define MODEL_RUNS 20

static uint32_t lcg_uniform(uint32_t upper, void *arg)
{
	uint64_t *s = arg;

	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)((*s >> 33) % upper);
}

/* Every member holds a mesh connection to every other. */
static bool reach_all(const uint8_t pk[32], void *arg)
{
	return true;
}

/* Node 0 is the coordinator, node i + 1 member i. */
struct model {
	unsigned served[SIM_MEMBERS + 1];
	unsigned misses[SIM_MEMBERS + 1];
	unsigned waited[SIM_MEMBERS + 1];
	unsigned window[SIM_MEMBERS + 1][MODEL_WINDOWS];
	uint32_t started[SIM_MEMBERS + 1]; /* its own fetch */
	uint32_t ready[SIM_MEMBERS + 1];   /* holds the roster */
	uint32_t last_ms;
};

struct model_fetch {
	uint32_t at;
	unsigned who, src;
};

static int by_time(const void *a, const void *b)
{
	const struct model_fetch *x = a, *y = b;

	return x->at < y->at ? -1 : x->at > y->at;
}

static unsigned node_of(const uint8_t pk[32])
{
	if (memcmp(pk, F->d.id.pk, 32) == 0)
		return 0;
	for (unsigned i = 0; i < SIM_MEMBERS; i++)
		if (memcmp(pk, member_pk[i], 32) == 0)
			return i + 1;
	fail_msg("a source that is no node");
	return 0;
}

static void model_serve(struct model *m, unsigned node, uint32_t at)
{
	unsigned w = at / MODEL_WINDOW_MS;

	m->served[node]++;
	m->window[node][w < MODEL_WINDOWS ? w : MODEL_WINDOWS - 1]++;
}

/*
 * Every member hears the SYNC from the coordinator at 0 and follows its
 * roster_fetch_plan. A fetch takes fetch_ms. A seed asked before it holds
 * the roster holds the request while its own fetch runs, for at most
 * BLOBS_WAIT_MS (blobs.c wait_for); otherwise it answers "not here" and the
 * member asks the coordinator (network.c on_sync_blob).
 */
static void model_run(struct model *m, const struct network_payload *p, size_t members,
		      uint32_t fetch_ms, uint64_t *rng)
{
	static struct model_fetch f[SIM_MEMBERS];
	struct roster_fetch_plan plan;

	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < SIM_MEMBERS; i++) {
		roster_fetch_plan(member_pk[i], F->d.id.pk, p, members, reach_all, NULL,
				  lcg_uniform, rng, &plan);
		f[i].src = node_of(plan.src);
		f[i].at = plan.wait_ms;
		f[i].who = i + 1;
		m->ready[i + 1] = m->started[i + 1] = UINT32_MAX;
	}
	qsort(f, SIM_MEMBERS, sizeof(*f), by_time);
	for (unsigned i = 0; i < SIM_MEMBERS; i++) {
		uint32_t at = f[i].at, s = f[i].src;

		m->started[f[i].who] = at;
		if (m->ready[s] > at && m->started[s] <= at && m->ready[s] - at <= BLOBS_WAIT_MS) {
			m->waited[s]++;
			at = m->ready[s];
		} else if (m->ready[s] > at) {
			m->misses[s]++;
			at += MODEL_MISS_MS;
			f[i].src = 0;
		}
		model_serve(m, f[i].src, at);
		m->ready[f[i].who] = at + fetch_ms;
		m->last_ms = m->ready[f[i].who] > m->last_ms ? m->ready[f[i].who] : m->last_ms;
	}
}

struct model_worst {
	unsigned max_served, coord_served, max_misses, max_waited, peak_window;
	uint32_t last_ms;
};

static void model_fold(const struct model *m, struct model_worst *w)
{
	for (unsigned n = 0; n <= SIM_MEMBERS; n++) {
		w->max_served = m->served[n] > w->max_served ? m->served[n] : w->max_served;
		w->max_misses = m->misses[n] > w->max_misses ? m->misses[n] : w->max_misses;
		w->max_waited = m->waited[n] > w->max_waited ? m->waited[n] : w->max_waited;
		for (unsigned k = 0; k < MODEL_WINDOWS; k++)
			w->peak_window =
				m->window[n][k] > w->peak_window ? m->window[n][k] : w->peak_window;
	}
	w->coord_served = m->served[0] > w->coord_served ? m->served[0] : w->coord_served;
	w->last_ms = m->last_ms > w->last_ms ? m->last_ms : w->last_ms;
}

/* The worst of MODEL_RUNS runs (one seeded generator: it replays). */
static void model_worst(const struct network_payload *p, size_t members, uint32_t fetch_ms,
			struct model_worst *w)
{
	static struct model m;
	uint64_t rng = 0x5ca1ab1e;

	memset(w, 0, sizeof(*w));
	for (int run = 0; run < MODEL_RUNS; run++) {
		model_run(&m, p, members, fetch_ms, &rng);
		model_fold(&m, w);
	}
	print_message("roster change at %zu members, fetches taking %u ms, worst of %d "
		      "runs: a node serves at most %u fetches (the coordinator %u), at most "
		      "%u in %d ms; a seed holds at most %u requests until it has the "
		      "roster, answers \"not here\" at most %u times; all hold it after "
		      "%u ms\n",
		      members, fetch_ms, MODEL_RUNS, w->max_served, w->coord_served, w->peak_window,
		      MODEL_WINDOW_MS, w->max_waited, w->max_misses, w->last_ms);
}

/* The seeds and blob hash of the record the coordinator signed. */
static void record_payload(struct network_payload *p)
{
	struct record r;

	assert_int_equal(record_decode(NET->saved.record, NET->saved.record_len, RECORD_NETWORK,
				       NET->pk, daemon_unix_now(), &r),
			 0);
	assert_int_equal(network_payload_decode(r.payload, r.payload_len, p), 0);
}

/* The coordinator renames a member (a rename keeps the nodes the model
 * knows): one signed roster, one SYNC to each connected member, no
 * connection opened. The roster's size, as the members hold it. */
static size_t publish_change(void)
{
	size_t syncs = sim.sent[CTL_SYNC];
	struct group_blob blob;
	char id[IDENTITY_ID_LEN + 1];

	identity_id_format(member_pk[0], id);
	assert_int_equal(group_blob_copy(&blob, &NET->blob), 0);
	assert_int_equal(group_blob_set_hostname(&blob, id, "renamed"), 0);
	assert_int_equal(network_publish(&F->d, NET, &blob, NULL), 0);
	assert_int_equal(sim.sent[CTL_SYNC] - syncs, SIM_MEMBERS);
	assert_int_equal(sim.connects, 0);
	return NET->blob.n_members;
}

static void test_roster_change(void **state)
{
	struct model_worst w, slow;
	struct network_payload p;
	unsigned bound;
	size_t members;

	connect_members();
	members = publish_change();
	record_payload(&p);
	assert_int_equal(p.n_seeds, NETWORK_SEEDS_MAX);
	assert_memory_equal(p.seeds[0], F->d.id.pk, 32); /* coordinators first */
	bound = 3 * SIM_MEMBERS / (unsigned)p.n_seeds;
	print_message("%zu seeds: a node may serve %u fetches\n", p.n_seeds, bound);
	model_worst(&p, members, MODEL_FETCH_MS, &w);
	assert_true(w.max_served <= bound);
	assert_int_equal(w.max_misses, 0);
	assert_true(w.last_ms <= 2 * ROSTER_FETCH_JITTER_MAX_MS);
	/* Seeds slower than the head start: the members' requests wait at the
	 * seeds, none goes back to the coordinator. */
	model_worst(&p, members, MODEL_SLOW_FETCH_MS, &slow);
	assert_true(slow.max_served <= bound);
	assert_int_equal(slow.max_misses, 0);
	assert_true(slow.max_waited <= BLOBS_WAIT_MAX);
}

/* Every member asks the coordinator over its mesh connection (the worst
 * case: no seed answers): every one is answered there, none needs a new
 * connection. */
static void test_blobs_over_mesh(void **state)
{
	struct ctl_msg get = { .type = CTL_BLOB_GET, .has_hash = true };
	size_t blobs = sim.sent[CTL_BLOB];
	uint64_t before = F->d.blobs_refused;
	struct timespec t0;
	uint8_t *bytes;
	size_t len;

	connect_members();
	assert_int_equal(store_load_blob(F->home, NET->saved.blob_hash, &bytes, &len), 0);
	free(bytes);
	memcpy(get.hash, NET->saved.blob_hash, 32);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < SIM_MEMBERS; i++) {
		size_t had = member_conn[i]->sent[CTL_BLOB];

		sim_message(member_conn[i], &get);
		assert_int_equal(member_conn[i]->sent[CTL_BLOB], had + 1);
		assert_int_equal(member_conn[i]->blob_len, len);
	}
	print_message("roster blob %zu bytes (mesh message cap %u, stranger send queue "
		      "%u): %zu fetches answered over mesh in %.2f s, %zu connections "
		      "opened\n",
		      len, QUIC_MSG_CAP, GATE_STRANGER_TXQ, sim.sent[CTL_BLOB] - blobs,
		      secs_since(&t0), sim.connects);
	assert_true(len + 128 <= QUIC_MSG_CAP);
	assert_int_equal(sim.sent[CTL_BLOB] - blobs, SIM_MEMBERS);
	assert_int_equal(sim.connects, 0);
	assert_int_equal(F->d.blobs_refused, before);
}

static void on_fetched(struct daemon *d, const uint8_t *data, size_t len, void *ud)
{
	*(size_t *)ud = data ? len : SIZE_MAX;
}

/* Our fetch of hash from member 0 (a seed fetching a new roster), asked
 * over its mesh connection. */
static void start_fetch(const uint8_t hash[32], size_t *got)
{
	size_t asked = member_conn[0]->sent[CTL_BLOB_GET];

	*got = 0;
	assert_int_equal(blob_fetch(&F->d, member_pk[0], hash, on_fetched, got), 0);
	assert_int_equal(member_conn[0]->sent[CTL_BLOB_GET], asked + 1);
}

/* Member 0 answers our fetch with blob. */
static void answer_fetch(const uint8_t *blob, size_t len, const uint8_t hash[32])
{
	struct ctl_msg m = { .type = CTL_BLOB, .has_hash = true, .data = blob, .data_len = len };

	memcpy(m.hash, hash, 32);
	sim_message(member_conn[0], &m);
}

/* A fetch (of get's hash) that does not end in time: the request waiting
 * for it hears "not here" after BLOBS_WAIT_MS. Then member 0 answers with
 * bytes that are not that blob: the fetch fails. */
static void wait_expires(const struct ctl_msg *get, const uint8_t *wrong, size_t len)
{
	size_t got, one;

	start_fetch(get->hash, &got);
	sim_message(member_conn[2], get);
	one = member_conn[2]->sent[CTL_BLOB];
	sim.now += BLOBS_WAIT_MS - 1;
	blobs_tick(&F->d);
	assert_int_equal(member_conn[2]->sent[CTL_BLOB], one);
	sim.now += 1;
	blobs_tick(&F->d);
	assert_int_equal(member_conn[2]->sent[CTL_BLOB], one + 1);
	assert_int_equal(member_conn[2]->blob_len, 0);
	assert_int_equal(F->d.n_blob_waits, 0);
	answer_fetch(wrong, len, get->hash);
	assert_int_equal(got, SIZE_MAX);
}

/* This node is a seed asked for a roster a moment before it holds it: the
 * other 999 members' requests wait for its own fetch and get the blob when
 * it ends; requests over BLOBS_WAIT_PER_PEER, or past BLOBS_WAIT_MS, hear
 * "not here" (and would go back to the peer that told them). */
static void test_seed_holds_requests(void **state)
{
	static uint8_t blob[80000];
	struct ctl_msg get = { .type = CTL_BLOB_GET, .has_hash = true };
	size_t got, blobs, one;

	connect_members();
	randombytes_buf(blob, sizeof(blob));
	blake3_hash(blob, sizeof(blob), get.hash);
	start_fetch(get.hash, &got);
	blobs = sim.sent[CTL_BLOB];
	for (size_t i = 1; i < SIM_MEMBERS; i++)
		sim_message(member_conn[i], &get);
	assert_int_equal(sim.sent[CTL_BLOB], blobs);
	assert_int_equal(F->d.n_blob_waits, SIM_MEMBERS - 1);
	/* Member 1 asks twice more than its share: those two hear "not here". */
	one = member_conn[1]->sent[CTL_BLOB];
	for (int k = 0; k < BLOBS_WAIT_PER_PEER + 1; k++)
		sim_message(member_conn[1], &get);
	assert_int_equal(member_conn[1]->sent[CTL_BLOB], one + 2);
	assert_int_equal(member_conn[1]->blob_len, 0);
	answer_fetch(blob, sizeof(blob), get.hash);
	assert_int_equal(got, sizeof(blob));
	assert_int_equal(F->d.n_blob_waits, 0);
	for (size_t i = 2; i < SIM_MEMBERS; i++)
		assert_int_equal(member_conn[i]->blob_len, sizeof(blob));
	assert_int_equal(member_conn[1]->sent[CTL_BLOB], one + 2 + BLOBS_WAIT_PER_PEER);
	print_message("a seed fetching a roster held %d members' requests and answered "
		      "them all when it came, %zu blobs sent, no connection opened\n",
		      SIM_MEMBERS - 1, sim.sent[CTL_BLOB] - blobs);
	assert_int_equal(sim.connects, 0);
	get.hash[0] ^= 1;
	wait_expires(&get, blob, sizeof(blob));
}

/* BLOB_CONNS blobs-ALPN connections at once (older builds, or joiners
 * whose stranger send queue is too small): at most BLOBS_SERVE_MAX served
 * at once, BLOBS_SERVE_PER_SOURCE from one address, each for one request,
 * all gone after BLOBS_SERVE_MS. */
static void test_blobs_alpn_caps(void **state)
{
	struct ctl_msg get = { .type = CTL_BLOB_GET, .has_hash = true };
	size_t per_source[BLOB_SOURCES] = { 0 }, open = 0, max = 0, refused_hs = 0;
	uint8_t pk[32];

	memcpy(get.hash, NET->saved.blob_hash, 32);
	for (size_t i = 0; i < BLOB_CONNS; i++) {
		struct sim_conn *c;

		randombytes_buf(pk, sizeof(pk));
		c = sim_accept(pk, QUIC_ALPN_BLOBS, i < BLOB_BURST ? 0 : i % BLOB_SOURCES);
		if (!c) {
			refused_hs++;
			continue;
		}
		if (c->dead)
			continue;
		open++;
		per_source[c->source]++;
		sim_message(c, &get);
		assert_int_equal(c->sent[CTL_BLOB], 1);
	}
	for (size_t s = 0; s < BLOB_SOURCES; s++)
		max = per_source[s] > max ? per_source[s] : max;
	print_message("blobs ALPN: %zu connections at once from %d sources: %zu served, "
		      "at most %zu from one source, %zu refused in the handshake, %llu "
		      "after it\n",
		      (size_t)BLOB_CONNS, BLOB_SOURCES, open, max, refused_hs,
		      (unsigned long long)F->d.blobs_refused);
	assert_int_equal(open, BLOBS_SERVE_MAX);
	assert_int_equal(blobs_serving(&F->d), BLOBS_SERVE_MAX);
	assert_int_equal(max, BLOBS_SERVE_PER_SOURCE);
	assert_int_equal(per_source[0], BLOBS_SERVE_PER_SOURCE);
	sim.now += BLOBS_SERVE_MS;
	blobs_tick(&F->d);
	assert_int_equal(blobs_serving(&F->d), 0);
	assert_members_in();
}

/* ---- 3. status and the message bucket ---- */

static void test_status(void **state)
{
	struct timespec t0;
	msgpack_sbuffer sb;
	json_t *st, *peers;
	size_t online = 0, text;
	char *dump;

	connect_members();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = status_build(&F->d);
	assert_non_null(st);
	peers = json_object_get(json_array_get(json_object_get(st, "networks"), 0), "peers");
	for (size_t i = 0; i < json_array_size(peers); i++)
		online += json_is_true(json_object_get(json_array_get(peers, i), "online"));
	msgpack_sbuffer_init(&sb);
	assert_int_equal(ipc_frame_encode(st, &sb), 0);
	dump = json_dumps(st, JSON_COMPACT);
	text = strlen(dump);
	print_message("status with %zu peers (%zu online): %zu bytes as an IPC frame, "
		      "%zu as JSON, in %.2f s; IPC reply cap %u\n",
		      json_array_size(peers), online, sb.size, text, secs_since(&t0),
		      IPC_MAX_REPLY);
	/* Room for ten times the peers. */
	assert_true(sb.size * 10 < IPC_MAX_REPLY);
	assert_int_equal(json_array_size(peers), NET->blob.n_members - 1);
	assert_true(online >= SIM_MEMBERS);
	free(dump);
	msgpack_sbuffer_destroy(&sb);
	json_decref(st);
}

static struct peer *member_peer(size_t i)
{
	struct peer *p = peers_find(&F->d, member_pk[i]);

	assert_non_null(p);
	return p;
}

/* Takes from member i's bucket until it refuses; how many it gave. */
static unsigned drain(size_t i, unsigned limit)
{
	struct peer *p = member_peer(i);
	unsigned n = 0;

	while (n < limit && gate_message_ok(&F->d, p))
		n++;
	return n;
}

static void test_message_buckets(void **state)
{
	uint64_t g[5], dropped;
	unsigned got;

	/* Full buckets: past anything earlier tests took. */
	sim.now += 10 * 1000 * GATE_MSG_BURST / GATE_MSG_RATE;
	gate_counts(&F->d, g);
	dropped = g[3];
	/* Member 0 floods; everyone else still has a full burst. */
	assert_int_equal(drain(0, 100 * GATE_MSG_BURST), GATE_MSG_BURST);
	for (size_t i = 1; i < SIM_MEMBERS; i++)
		assert_int_equal(drain(i, 10 * GATE_MSG_BURST), GATE_MSG_BURST);
	gate_counts(&F->d, g);
	assert_int_equal(g[3] - dropped, SIM_MEMBERS);
	/* A second later each has GATE_MSG_RATE more, its own. */
	sim.now += 1000;
	for (size_t i = 0; i < SIM_MEMBERS; i++) {
		got = drain(i, 10 * GATE_MSG_BURST);
		assert_true(got >= GATE_MSG_RATE - 1 && got <= GATE_MSG_RATE + 1);
	}
	print_message("message buckets: %d peers drained to the burst of %d, then %d a "
		      "second each; a flood from one costs the others nothing\n",
		      SIM_MEMBERS, GATE_MSG_BURST, GATE_MSG_RATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_members_and_strangers),
		cmocka_unit_test(test_roster_change),
		cmocka_unit_test(test_blobs_over_mesh),
		cmocka_unit_test(test_seed_holds_requests),
		cmocka_unit_test(test_blobs_alpn_caps),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_message_buckets),
	};
	return cmocka_run_group_tests(tests, sim_setup, sim_teardown);
}
