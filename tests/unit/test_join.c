/*
 * Unit tests of the joiner's side of admission (daemon/join.c), on the
 * daemon fixture with fake connections (fake_net.c) and a fake DHT node
 * (fake_dht.c) under the real discovery code. The test plays the network:
 * it stores the signed network record and the seeds' endpoint records in
 * the DHT, completes the dials, and answers what the daemon sends with
 * WELCOME, PENDING, DENIED and the roster blob.
 *
 * The IPC replies are caught (ipc_capture.c) so each test can check what
 * `ray join` would print.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon/join.h"
#include "daemon_fixture.h"
#include "discovery/payload.h"
#include "discovery/record.h"
#include "fake_dht.h"
#include "fake_net.h"
#include "ipc_capture.h"
#include "mesh/group_blob.h"
#include "mesh/invite.h"
#include "proto/control.h"

#define SEEDS 3
#define SENT_MAX 64
#define LOOP_MAX 200 /* bound on every polling loop below */

/* The network as its members see it: its key, up to SEEDS members (seed 0
 * the coordinator), the roster and its signed record. */
struct remote {
	struct identity key;
	struct identity seed[SEEDS];
	size_t n_seeds;
	uint8_t rec[RECORD_MAX];
	size_t rec_len;
	uint8_t *bytes; /* the roster blob */
	size_t blen;
};

struct sent {
	enum ctl_type type;
	uint8_t to[32];
	bool has_invite;
	uint8_t invite[16];
	char hostname[64];
};

static struct sent sent[SENT_MAX];
static size_t n_sent;

static void on_sent(struct fake_conn *c, const struct ctl_msg *m, const uint8_t *buf, size_t len)
{
	(void)buf;
	(void)len;
	assert_true(n_sent < SENT_MAX);
	sent[n_sent].type = m->type;
	memcpy(sent[n_sent].to, fake_conn_pk(c), 32);
	sent[n_sent].has_invite = m->has_invite;
	memcpy(sent[n_sent].invite, m->invite, sizeof(m->invite));
	snprintf(sent[n_sent].hostname, sizeof(sent[n_sent].hostname), "%s", m->hostname);
	n_sent++;
}

static int join_setup(void **state)
{
	struct fixture *f;

	if (fixture_setup(state) < 0)
		return -1;
	f = *state;
	fake_net_init(&f->d, f->d.id.pk, on_sent);
	f->d.dht = fake_dht_init();
	n_sent = 0;
	ipc_capture_reset();
	return 0;
}

static int join_teardown(void **state)
{
	struct fixture *f = *state;

	fixture_stop(f);
	f->d.dht = NULL;
	fake_dht_reset();
	fake_net_reset();
	fake_clock_reset();
	ipc_capture_reset();
	return fixture_teardown(state);
}

/* Seed i can be reached: its signed endpoint record is in the DHT. */
static void publish_endpoint(const struct remote *r, size_t i)
{
	assert_int_equal(fake_dht_publish_endpoint(r->seed[i].seed, 0xc0000201 + (uint32_t)i), 0);
}

/*
 * A network of n seeds: seed 0 coordinates, seed i < n_coords too, the
 * others are plain members; the joiner (us) is listed when with_us. Its
 * record is not in the DHT yet (publish_network).
 */
static void make_remote(struct fixture *f, struct remote *r, size_t n, size_t n_coords,
			bool with_us)
{
	struct group_blob b;
	char host[16];

	memset(r, 0, sizeof(*r));
	assert_int_equal(identity_generate(&r->key), 0);
	assert_int_equal(group_blob_init(&b, "club", GROUP_MODE_CLOSED), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(identity_generate(&r->seed[i]), 0);
		snprintf(host, sizeof(host), "seed%zu", i);
		assert_int_equal(group_blob_admit(&b, r->seed[i].id, host, i < n_coords), 0);
	}
	r->n_seeds = n;
	if (with_us)
		assert_int_equal(group_blob_admit(&b, f->d.id.id, "joiner", false), 0);
	b.version = 3;
	assert_int_equal(network_sign_roster(&r->key, &b, r->rec, sizeof(r->rec), &r->rec_len,
					     &r->bytes, &r->blen),
			 0);
	group_blob_free(&b);
}

static void publish_network(const struct remote *r)
{
	fake_dht_put_record(RECORD_NETWORK, r->key.pk, r->rec, r->rec_len);
}

static void free_remote(struct remote *r)
{
	free(r->bytes);
	r->bytes = NULL;
}

static struct ipc_request *request(json_t *args)
{
	return ipc_capture_request("join", args);
}

static void join_room(struct fixture *f, const struct remote *r)
{
	network_cmd_join(&f->d, request(json_pack("{s:s}", "code", r->key.id)));
}

/* One turn of the daemon: a second passes, the tick, the DHT answers, the
 * loop's timers. */
static void turn(struct fixture *f, uint64_t ms)
{
	fake_clock_advance(ms);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	daemon_tick(&f->d);
	fake_dht_answer(true);
	fake_flush();
}

/* Turns until the daemon dials (returns the dial's number) or replies. */
static size_t until_dial(struct fixture *f, size_t dials_before)
{
	for (int i = 0; i < LOOP_MAX && !ipc_capture_last(); i++) {
		if (fake_dials() > dials_before)
			return fake_dials() - 1;
		turn(f, 100);
	}
	fail_msg("no dial (reply: %s)",
		 ipc_capture_last() ? json_dumps(ipc_capture_last(), 0) : "none");
	return 0;
}

/* The last message sent to pk of the given type, or NULL. */
static const struct sent *last_sent(const uint8_t pk[32], enum ctl_type type)
{
	for (size_t i = n_sent; i-- > 0;)
		if (sent[i].type == type && memcmp(sent[i].to, pk, 32) == 0)
			return &sent[i];
	return NULL;
}

static void send_welcome(unsigned c, const struct remote *r, const uint8_t *rec, size_t len)
{
	struct ctl_msg m = { .type = CTL_WELCOME, .has_net = true };

	memcpy(m.net, r->key.pk, 32);
	m.rec = rec;
	m.rec_len = len;
	fake_feed_msg(c, &m);
}

static void send_verdict(unsigned c, const struct remote *r, enum ctl_type type, const char *why)
{
	struct ctl_msg m = { .type = type, .has_net = true };

	memcpy(m.net, r->key.pk, 32);
	snprintf(m.why, sizeof(m.why), "%s", why);
	fake_feed_msg(c, &m);
}

/* Answers the daemon's BLOB_GET on c with the roster. */
static void serve_roster(struct fixture *f, unsigned c, const struct remote *r)
{
	struct ctl_msg m = { .type = CTL_BLOB, .has_hash = true };

	for (int i = 0; i < LOOP_MAX && !fake_last_get(c); i++)
		turn(f, 100);
	assert_non_null(fake_last_get(c));
	memcpy(m.hash, fake_last_get(c), 32);
	m.data = r->bytes;
	m.data_len = r->blen;
	fake_feed_msg(c, &m);
}

/* Completes the daemon's next dial, which must go to one of r's seeds;
 * *which (may be NULL) gets its index. */
static unsigned connect_next(struct fixture *f, const struct remote *r, size_t *which)
{
	size_t dial = until_dial(f, fake_dials());
	const uint8_t *pk = fake_dial_pk(dial);
	size_t i;

	assert_non_null(pk);
	for (i = 0; i < r->n_seeds && memcmp(r->seed[i].pk, pk, 32) != 0; i++)
		;
	assert_true(i < r->n_seeds);
	fake_confirm(dial, false);
	if (which)
		*which = i;
	return fake_find(pk, false, 1);
}

/* The same, when it must be seed i. */
static unsigned connect_seed(struct fixture *f, const struct remote *r, size_t i)
{
	size_t which;
	unsigned c = connect_next(f, r, &which);

	assert_int_equal(which, i);
	assert_true(c != 0);
	return c;
}

static void assert_joined(struct fixture *f, const struct remote *r)
{
	struct network *n = network_find_pk(&f->d, r->key.pk);

	assert_non_null(n);
	assert_string_equal(n->saved.name, "club");
	assert_string_equal(n->saved.room_id, r->key.id);
	assert_true(group_blob_find_member(&n->blob, f->d.id.id) != NULL);
}

/* The user's path: a room id, the record in the DHT, the coordinator
 * answers WELCOME, the roster comes from it and lists us. */
static void test_join_by_room_id(void **state)
{
	struct fixture *f = *state;
	struct remote r;
	const struct sent *s;
	unsigned c;

	make_remote(f, &r, 1, 1, true);
	publish_network(&r);
	publish_endpoint(&r, 0);
	join_room(f, &r);
	assert_null(ipc_capture_last());
	c = connect_seed(f, &r, 0);
	s = last_sent(r.seed[0].pk, CTL_JOIN_REQ);
	assert_non_null(s);
	assert_false(s->has_invite);
	send_welcome(c, &r, r.rec, r.rec_len);
	serve_roster(f, c, &r);
	assert_non_null(ipc_capture_last());
	assert_true(json_is_true(json_object_get(ipc_capture_last(), "ok")));
	assert_string_equal(json_string_value(
				    json_object_get(json_object_get(ipc_capture_last(), "result"),
						    "name")),
			    "club");
	assert_joined(f, &r);
	free_remote(&r);
}

/* A join a moment after the create: the record is not in the DHT yet. The
 * join looks again (with backoff) and goes on once it appears. */
static void test_join_waits_for_record(void **state)
{
	struct fixture *f = *state;
	struct remote r;
	unsigned c;

	make_remote(f, &r, 1, 1, true);
	publish_endpoint(&r, 0);
	join_room(f, &r);
	for (int i = 0; i < 30; i++)
		turn(f, 100); /* three seconds of empty look-ups */
	assert_null(ipc_capture_last());
	assert_int_equal(fake_dials(), 0);
	publish_network(&r);
	c = connect_seed(f, &r, 0);
	send_welcome(c, &r, r.rec, r.rec_len);
	serve_roster(f, c, &r);
	assert_joined(f, &r);
	free_remote(&r);
}

/* A room id nobody published: a clear error once the look-ups give up,
 * and nothing joined. */
static void test_join_unknown_room(void **state)
{
	struct fixture *f = *state;
	struct remote r;

	make_remote(f, &r, 1, 1, true);
	join_room(f, &r);
	for (int i = 0; i < LOOP_MAX && !ipc_capture_last(); i++)
		turn(f, 1000);
	assert_non_null(strstr(ipc_capture_error(), "no network with that room id was found"));
	assert_null(network_find_pk(&f->d, r.key.pk));
	free_remote(&r);
}

/* A DHT value under the network's key that is not its signed record
 * (junk, or a record signed by someone else) is never taken for it. */
static void test_join_ignores_forged_dht_values(void **state)
{
	struct fixture *f = *state;
	struct remote r, other;
	static const uint8_t junk[] = { 0x93, 0x01, 0x02, 0x03 };
	unsigned c;

	make_remote(f, &r, 1, 1, true);
	make_remote(f, &other, 1, 1, true);
	fake_dht_put_record(RECORD_NETWORK, r.key.pk, junk, sizeof(junk));
	fake_dht_put_record(RECORD_NETWORK, r.key.pk, other.rec, other.rec_len);
	publish_network(&r);
	publish_endpoint(&r, 0);
	join_room(f, &r);
	c = connect_seed(f, &r, 0);
	send_welcome(c, &r, r.rec, r.rec_len);
	serve_roster(f, c, &r);
	assert_joined(f, &r);
	free_remote(&other);
	free_remote(&r);
}

/* WELCOME with a record the network key did not sign: that seed is
 * passed over, and with none left the join says why. */
static void test_join_refuses_forged_welcome(void **state)
{
	struct fixture *f = *state;
	struct remote r, other;
	unsigned c;

	make_remote(f, &r, 1, 1, true);
	make_remote(f, &other, 1, 1, true);
	publish_network(&r);
	publish_endpoint(&r, 0);
	join_room(f, &r);
	c = connect_seed(f, &r, 0);
	send_welcome(c, &r, other.rec, other.rec_len);
	assert_non_null(strstr(ipc_capture_error(), "sent a record that does not verify"));
	assert_null(network_find_pk(&f->d, r.key.pk));
	free_remote(&other);
	free_remote(&r);
}

/* A roster (matching the signed hash) that does not list us: refused,
 * and no network is left behind, in memory or on disk. */
static void test_join_roster_without_us(void **state)
{
	struct fixture *f = *state;
	struct remote r;
	unsigned c;

	make_remote(f, &r, 1, 1, false);
	publish_network(&r);
	publish_endpoint(&r, 0);
	join_room(f, &r);
	c = connect_seed(f, &r, 0);
	send_welcome(c, &r, r.rec, r.rec_len);
	serve_roster(f, c, &r);
	assert_non_null(strstr(ipc_capture_error(), "does not list this node"));
	assert_null(network_find_pk(&f->d, r.key.pk));
	assert_int_equal(fixture_count_networks(f), 0);
	assert_int_equal(fixture_restart(f), 0);
	assert_int_equal(fixture_count_networks(f), 0);
	free_remote(&r);
}

/* DENIED with a reason: the join ends with it. */
static void test_join_denied(void **state)
{
	struct fixture *f = *state;
	struct remote r;
	unsigned c;

	make_remote(f, &r, 1, 1, true);
	publish_network(&r);
	publish_endpoint(&r, 0);
	join_room(f, &r);
	c = connect_seed(f, &r, 0);
	send_verdict(c, &r, CTL_DENIED, "the network is closed");
	assert_string_equal(ipc_capture_error(), "admission refused: the network is closed");
	assert_null(network_find_pk(&f->d, r.key.pk));
	free_remote(&r);
}

/* PENDING: the CLI hears "pending" at once; the daemon keeps asking, and
 * joins when the coordinator approves. */
static void test_join_pending_then_approved(void **state)
{
	struct fixture *f = *state;
	struct remote r;
	size_t asked;
	unsigned c;

	make_remote(f, &r, 1, 1, true);
	publish_network(&r);
	publish_endpoint(&r, 0);
	join_room(f, &r);
	c = connect_seed(f, &r, 0);
	send_verdict(c, &r, CTL_PENDING, "");
	assert_non_null(ipc_capture_last());
	assert_true(json_is_true(
		json_object_get(json_object_get(ipc_capture_last(), "result"), "pending")));
	asked = n_sent;
	for (int i = 0; i < 30; i++)
		turn(f, 100);
	assert_non_null(last_sent(r.seed[0].pk, CTL_JOIN_REQ));
	assert_true(n_sent > asked); /* asked again after the retry delay */
	send_welcome(c, &r, r.rec, r.rec_len);
	serve_roster(f, c, &r);
	assert_joined(f, &r);
	free_remote(&r);
}

/* A WELCOME from someone we did not ask (a connected stranger) for the
 * network we are joining changes nothing. */
static void test_join_ignores_unasked_welcome(void **state)
{
	struct fixture *f = *state;
	struct remote r;
	struct identity stranger;
	unsigned c, s;

	make_remote(f, &r, 1, 1, true);
	publish_network(&r);
	publish_endpoint(&r, 0);
	join_room(f, &r);
	c = connect_seed(f, &r, 0);
	assert_int_equal(identity_generate(&stranger), 0);
	s = fake_accept(stranger.pk, false, 0, false);
	assert_true(s != 0);
	send_welcome(s, &r, r.rec, r.rec_len);
	for (int i = 0; i < 5; i++)
		turn(f, 100);
	assert_null(fake_last_get(s));
	assert_null(ipc_capture_last());
	send_welcome(c, &r, r.rec, r.rec_len);
	serve_roster(f, c, &r);
	assert_joined(f, &r);
	free_remote(&r);
}

/* A seed that never answers: after the step deadline the next is asked. */
static void test_join_next_seed_on_silence(void **state)
{
	struct fixture *f = *state;
	struct remote r;
	size_t first, second;
	unsigned c;

	make_remote(f, &r, 2, 2, true);
	publish_network(&r);
	publish_endpoint(&r, 0);
	publish_endpoint(&r, 1);
	join_room(f, &r);
	connect_next(f, &r, &first);
	assert_non_null(last_sent(r.seed[first].pk, CTL_JOIN_REQ));
	c = connect_next(f, &r, &second); /* until_dial waits out the deadline */
	assert_int_not_equal(first, second);
	assert_non_null(last_sent(r.seed[second].pk, CTL_JOIN_REQ));
	send_welcome(c, &r, r.rec, r.rec_len);
	serve_roster(f, c, &r);
	assert_joined(f, &r);
	free_remote(&r);
}

/* An invite code: its secret goes to the coordinator that minted it. */
static void invite_join(struct fixture *f, const struct remote *r, size_t minter,
			uint8_t secret[INVITE_SECRET_LEN])
{
	struct invite_code ic;
	char code[256];

	memcpy(ic.net, r->key.pk, 32);
	memcpy(ic.coordinator, r->seed[minter].pk, 32);
	randombytes_buf(ic.secret, sizeof(ic.secret));
	memcpy(secret, ic.secret, sizeof(ic.secret));
	assert_true(invite_code_encode(&ic, code, sizeof(code)) > 0);
	network_cmd_join(&f->d, request(json_pack("{s:s}", "code", code)));
}

static void test_invite_to_minter(void **state)
{
	struct fixture *f = *state;
	uint8_t secret[INVITE_SECRET_LEN];
	const struct sent *s;
	struct remote r;
	unsigned c;

	make_remote(f, &r, 1, 1, true);
	publish_network(&r);
	publish_endpoint(&r, 0);
	invite_join(f, &r, 0, secret);
	c = connect_seed(f, &r, 0);
	s = last_sent(r.seed[0].pk, CTL_JOIN_REQ);
	assert_non_null(s);
	assert_true(s->has_invite);
	assert_memory_equal(s->invite, secret, sizeof(secret));
	send_welcome(c, &r, r.rec, r.rec_len);
	serve_roster(f, c, &r);
	assert_joined(f, &r);
	free_remote(&r);
}

/*
 * The minter cannot be reached; the other seeds are asked. The roster
 * (fetched first, by the signed hash) names seed 1 a coordinator and
 * seed 2 a plain member: seed 1 may have the secret, seed 2 never.
 */
static void test_invite_only_to_coordinators(void **state)
{
	struct fixture *f = *state;
	uint8_t secret[INVITE_SECRET_LEN];
	const struct sent *s;
	struct remote r;
	unsigned c1, c2;

	make_remote(f, &r, 3, 2, true);
	publish_network(&r);
	publish_endpoint(&r, 1);
	publish_endpoint(&r, 2);
	invite_join(f, &r, 0, secret); /* seed 0 has no endpoint record */

	/* Seed order: the minter, then the record's (coordinators first). */
	c1 = connect_seed(f, &r, 1);
	serve_roster(f, c1, &r);
	s = last_sent(r.seed[1].pk, CTL_JOIN_REQ);
	assert_non_null(s);
	assert_true(s->has_invite);
	assert_memory_equal(s->invite, secret, sizeof(secret));
	send_verdict(c1, &r, CTL_DENIED, CTL_WHY_NOT_COORDINATOR);

	c2 = connect_seed(f, &r, 2);
	s = last_sent(r.seed[2].pk, CTL_JOIN_REQ);
	for (int i = 0; i < LOOP_MAX && !s; i++) {
		turn(f, 100);
		s = last_sent(r.seed[2].pk, CTL_JOIN_REQ);
	}
	assert_non_null(s);
	assert_false(s->has_invite);
	for (size_t i = 0; i < n_sent; i++)
		if (memcmp(sent[i].to, r.seed[2].pk, 32) == 0)
			assert_false(sent[i].has_invite);
	send_verdict(c2, &r, CTL_DENIED, CTL_WHY_NOT_COORDINATOR);
	/* Three seeds besides us; the roster lists us too, but we are not
	 * asked. */
	assert_non_null(strstr(ipc_capture_error(),
			       "could not reach a coordinator of the network (3 tried)"));
	free_remote(&r);
}

/* Malformed codes get a sentence, and no join starts. */
static void test_join_bad_codes(void **state)
{
	struct fixture *f = *state;

	network_cmd_join(&f->d, request(json_object()));
	assert_non_null(strstr(ipc_capture_error(), "missing the room id"));
	network_cmd_join(&f->d, request(json_pack("{s:s}", "code", "not-a-code")));
	assert_non_null(strstr(ipc_capture_error(), "neither a room id"));
	network_cmd_join(&f->d,
			 request(json_pack(
				 "{s:s, s:s}", "code",
				 "0000000000000000000000000000000000000000000000000000000000000000",
				 "name", "Bad Name!")));
	assert_non_null(strstr(ipc_capture_error(), "invalid name"));
	assert_null(f->d.joins);
	assert_int_equal(fake_dht_pending(), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, join_setup, join_teardown)
	const struct CMUnitTest tests[] = {
		T(test_join_by_room_id),
		T(test_join_waits_for_record),
		T(test_join_unknown_room),
		T(test_join_ignores_forged_dht_values),
		T(test_join_refuses_forged_welcome),
		T(test_join_roster_without_us),
		T(test_join_denied),
		T(test_join_pending_then_approved),
		T(test_join_ignores_unasked_welcome),
		T(test_join_next_seed_on_silence),
		T(test_invite_to_minter),
		T(test_invite_only_to_coordinators),
		T(test_join_bad_codes),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
