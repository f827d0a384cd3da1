/*
 * Unit tests of `ray contact`, `ray connect` and `ray connections`
 * (daemon/connect.c), on the daemon fixture with fake connections
 * (fake_net.c), a fake DHT node (fake_dht.c) under the real discovery code,
 * and the IPC replies caught (ipc_capture.c).
 *
 * As the requester, the test plays the owner O of a contact key K: it
 * stores K's signed contact record (naming O's device) and O's endpoint
 * record in the DHT, completes the daemon's dial to O and answers its
 * CONNECT_REQ with PENDING, OK or DENIED. As the owner, the test plays
 * strangers that dial the daemon and ask for its contact id, and runs
 * `ray connections approve|deny`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "daemon/connect.h"
#include "daemon/join.h"
#include "daemon/status.h"
#include "daemon_fixture.h"
#include "discovery/payload.h"
#include "discovery/record.h"
#include "fake_dht.h"
#include "fake_net.h"
#include "ipc_capture.h"
#include "mesh/contact.h"
#include "mesh/group_blob.h"
#include "proto/control.h"

#define SENT_MAX 1024
#define LOOP_MAX 400 /* bound on every polling loop below */
#define FLOOD 40

/* What the daemon sent, decoded (the fields connect.c and join.c set). */
struct sent {
	enum ctl_type type;
	uint8_t to[32];
	bool has_net;
	uint8_t net[32];
	bool has_contact;
	uint8_t contact[32];
	char hostname[64];
	char why[160];
	char name[256];
};

static struct sent sent[SENT_MAX];
static size_t n_sent;

static void on_sent(struct fake_conn *c, const struct ctl_msg *m, const uint8_t *buf, size_t len)
{
	struct sent *s;

	(void)buf;
	(void)len;
	assert_true(n_sent < SENT_MAX);
	s = &sent[n_sent++];
	memset(s, 0, sizeof(*s));
	s->type = m->type;
	memcpy(s->to, fake_conn_pk(c), 32);
	s->has_net = m->has_net;
	memcpy(s->net, m->net, 32);
	s->has_contact = m->has_contact;
	memcpy(s->contact, m->contact, 32);
	snprintf(s->hostname, sizeof(s->hostname), "%s", m->hostname);
	snprintf(s->why, sizeof(s->why), "%s", m->why);
	snprintf(s->name, sizeof(s->name), "%s", m->name);
}

static int connect_setup(void **state)
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

static int connect_teardown(void **state)
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

/* The mutual tests need identities on both sides of ours: ours is made
 * again until it is not near either end of the key space. */
static int mutual_setup(void **state)
{
	struct fixture *f;

	if (connect_setup(state) < 0)
		return -1;
	f = *state;
	for (int i = 0; i < 64 && (f->d.id.pk[0] < 0x40 || f->d.id.pk[0] > 0xbf); i++) {
		identity_clear(&f->d.id);
		if (identity_generate(&f->d.id) < 0)
			return -1;
	}
	fake_net_init(&f->d, f->d.id.pk, on_sent);
	return 0;
}

/* ---- the other side ---- */

/* Another device: its identity, its contact key and contact id. */
struct owner {
	struct identity dev;
	struct identity contact;
	char cid[CONTACT_ID_BUF];
};

static void make_owner(struct owner *o)
{
	memset(o, 0, sizeof(*o));
	assert_int_equal(identity_generate(&o->dev), 0);
	assert_int_equal(identity_generate(&o->contact), 0);
	assert_true(contact_id_format(o->contact.pk, o->cid, sizeof(o->cid)) > 0);
}

/* An owner whose device key is smaller than ours (ours_greater) or
 * greater. */
static void make_owner_ordered(struct fixture *f, struct owner *o, bool ours_greater)
{
	for (int i = 0; i < 256; i++) {
		make_owner(o);
		if ((memcmp(f->d.id.pk, o->dev.pk, 32) > 0) == ours_greater)
			return;
	}
	fail_msg("no identity on the wanted side of ours in 256 tries");
}

/* Contact key `key` says it reaches device `endpoint` (or is retired). */
static void publish_contact(const struct identity *key, const uint8_t endpoint[32], bool retired)
{
	struct contact_payload p = { .retired = retired };
	uint8_t payload[64], rec[RECORD_MAX];
	uint64_t now = daemon_unix_now();
	int plen, rlen;

	if (endpoint)
		memcpy(p.endpoint, endpoint, 32);
	plen = contact_payload_encode(&p, payload, sizeof(payload));
	assert_true(plen > 0);
	rlen = record_encode(RECORD_CONTACT, key->seed, now, now + CONNECT_TTL_S, payload,
			     (size_t)plen, rec, sizeof(rec));
	assert_true(rlen > 0);
	fake_dht_put_record(RECORD_CONTACT, key->pk, rec, (size_t)rlen);
}

/* dev can be reached: its signed endpoint record is in the DHT. */
static void publish_endpoint(const struct identity *dev, uint32_t host)
{
	assert_int_equal(fake_dht_publish_endpoint(dev->seed, 0xc0000200 + host),
			 0); /* 192.0.2.x */
}

/* O is findable by its contact id. */
static void publish_owner(const struct owner *o)
{
	publish_contact(&o->contact, o->dev.pk, false);
	publish_endpoint(&o->dev, 1);
}

/* ---- the daemon ---- */

/* One turn: time passes, the loop's timers, the tick, the DHT answers. */
static void turn(struct fixture *f, uint64_t ms)
{
	fake_clock_advance(ms);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	daemon_tick(&f->d);
	fake_dht_answer(true);
	fake_flush();
}

/* Time passes for the clock only: no tick (nothing expires, the gate does
 * not look), as between two messages arriving in one loop turn. */
static void clock_only(struct fixture *f, uint64_t ms)
{
	fake_clock_advance(ms);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void our_contact_pk(struct fixture *f, uint8_t pk[32])
{
	assert_int_equal(contact_id_parse(connect_contact_id(&f->d), pk), 0);
}

static void run_connect(struct fixture *f, const char *cid, const char *host)
{
	json_t *args = json_object();

	if (cid)
		json_object_set_new(args, "contact_id", json_string(cid));
	if (host)
		json_object_set_new(args, "hostname", json_string(host));
	connect_cmd_connect(&f->d, ipc_capture_request("connect", args));
}

/* `ray connections`: the list (a new reference). */
static json_t *list_requests(struct fixture *f)
{
	json_t *r;

	ipc_capture_reset();
	connect_cmd_list(&f->d, ipc_capture_request("connections", NULL));
	r = ipc_capture_result();
	assert_true(json_is_array(r));
	json_incref(r);
	ipc_capture_reset();
	return r;
}

static void approve(struct fixture *f, const char *id)
{
	ipc_capture_reset();
	connect_cmd_approve(&f->d, ipc_capture_request("connections_approve",
						       json_pack("{s:s}", "id", id)));
}

static void deny(struct fixture *f, const char *id)
{
	ipc_capture_reset();
	connect_cmd_deny(&f->d,
			 ipc_capture_request("connections_deny", json_pack("{s:s}", "id", id)));
}

/* status "connecting" (a new reference). */
static json_t *connecting(struct fixture *f)
{
	json_t *st = status_build(&f->d);
	json_t *c = json_object_get(st, "connecting");

	assert_true(json_is_array(c));
	json_incref(c);
	json_decref(st);
	return c;
}

/* The state of the only `ray connect` in progress. */
static void assert_connecting(struct fixture *f, const char *cid, const char *state,
			      const char *endpoint_id)
{
	json_t *c = connecting(f), *e;

	assert_int_equal(json_array_size(c), 1);
	e = json_array_get(c, 0);
	assert_string_equal(json_string_value(json_object_get(e, "contact_id")), cid);
	assert_string_equal(json_string_value(json_object_get(e, "state")), state);
	assert_string_equal(json_string_value(json_object_get(e, "endpoint_id")), endpoint_id);
	json_decref(c);
}

static void assert_not_connecting(struct fixture *f)
{
	json_t *c = connecting(f);

	assert_int_equal(json_array_size(c), 0);
	json_decref(c);
}

/* status "pending"."connect_requests". */
static json_int_t status_pending(struct fixture *f)
{
	json_t *st = status_build(&f->d);
	json_int_t n = json_integer_value(
		json_object_get(json_object_get(st, "pending"), "connect_requests"));

	json_decref(st);
	return n;
}

static size_t count_sent(const uint8_t pk[32], enum ctl_type type)
{
	size_t n = 0;

	for (size_t i = 0; i < n_sent; i++)
		n += sent[i].type == type && memcmp(sent[i].to, pk, 32) == 0;
	return n;
}

static size_t count_type(enum ctl_type type)
{
	size_t n = 0;

	for (size_t i = 0; i < n_sent; i++)
		n += sent[i].type == type;
	return n;
}

static const struct sent *last_sent(const uint8_t pk[32], enum ctl_type type)
{
	for (size_t i = n_sent; i-- > 0;)
		if (sent[i].type == type && memcmp(sent[i].to, pk, 32) == 0)
			return &sent[i];
	return NULL;
}

/* Turns until the daemon dials pk, then completes the dial. Returns the
 * connection. */
static unsigned dial_through(struct fixture *f, const uint8_t pk[32])
{
	for (int i = 0; i < LOOP_MAX && !ipc_capture_last(); i++) {
		for (size_t k = 0; k < fake_dials(); k++) {
			if (fake_dial_pk(k) && memcmp(fake_dial_pk(k), pk, 32) == 0) {
				unsigned c;

				fake_confirm(k, false);
				c = fake_find(pk, false, 1);
				assert_true(c != 0);
				return c;
			}
		}
		turn(f, 100);
	}
	fail_msg("no dial (reply: %s)",
		 ipc_capture_last() ? json_dumps(ipc_capture_last(), 0) : "none");
	return 0;
}

/* `ray connect` to o up to "asking": the look-up, the dial, CONNECT_REQ. */
static unsigned connect_to(struct fixture *f, const struct owner *o, const char *host)
{
	unsigned c;

	publish_owner(o);
	run_connect(f, o->cid, host);
	assert_null(ipc_capture_last());
	assert_connecting(f, o->cid, "looking-up", "");
	c = dial_through(f, o->dev.pk);
	assert_non_null(last_sent(o->dev.pk, CTL_CONNECT_REQ));
	assert_connecting(f, o->cid, "asking", o->dev.id);
	return c;
}

static void feed_req(unsigned c, const uint8_t contact[32], const char *host)
{
	struct ctl_msg m = { .type = CTL_CONNECT_REQ, .has_contact = true };

	memcpy(m.contact, contact, 32);
	if (host)
		snprintf(m.hostname, sizeof(m.hostname), "%s", host);
	fake_feed_msg(c, &m);
}

static void feed_simple(unsigned c, enum ctl_type type, const char *why)
{
	struct ctl_msg m = { .type = type };

	if (why)
		snprintf(m.why, sizeof(m.why), "%s", why);
	fake_feed_msg(c, &m);
}

static void feed_ok(unsigned c, const uint8_t net[32], const char *name)
{
	struct ctl_msg m = { .type = CTL_CONNECT_OK, .has_net = true };

	memcpy(m.net, net, 32);
	snprintf(m.name, sizeof(m.name), "%s", name);
	fake_feed_msg(c, &m);
}

/* A stranger dials us (from source) and asks for contact; returns its
 * connection. */
static unsigned stranger_asks(const struct identity *s, const uint8_t contact[32], const char *host,
			      int source)
{
	unsigned c = fake_accept(s->pk, false, source, false);

	assert_true(c != 0);
	feed_req(c, contact, host);
	return c;
}

/* The only direct network here. */
static struct network *the_direct_network(struct fixture *f)
{
	struct network *found = NULL;

	for (struct network *n = f->d.nets; n; n = n->next) {
		if (n->saved.direct) {
			assert_null(found);
			found = n;
		}
	}
	assert_non_null(found);
	return found;
}

/* The request queued from s: its handle (copied to id). */
static void queued_id(struct fixture *f, const struct identity *s, char id[16])
{
	json_t *l = list_requests(f);
	size_t i;
	json_t *e;

	json_array_foreach(l, i, e)
	{
		if (strcmp(json_string_value(json_object_get(e, "endpoint_id")), s->id) == 0) {
			snprintf(id, 16, "%s", json_string_value(json_object_get(e, "id")));
			json_decref(l);
			return;
		}
	}
	json_decref(l);
	fail_msg("no request from %.8s queued", s->id);
}

/* ================= requester side ================= */

/* Ids that are not ids, ours, and a bad hostname: a sentence each, and
 * nothing starts. */
static void test_connect_bad_input(void **state)
{
	struct fixture *f = *state;
	struct owner o;
	char bad[CONTACT_ID_BUF];
	uint8_t pk[32];
	size_t mid;

	make_owner(&o);
	snprintf(bad, sizeof(bad), "%s", o.cid);
	mid = strlen(bad) / 2;
	bad[mid] = bad[mid] == 'a' ? 'b' : 'a';
	assert_int_equal(contact_id_parse(bad, pk), -EBADMSG);
	run_connect(f, bad, NULL);
	assert_non_null(strstr(ipc_capture_error(), "mistyped"));

	run_connect(f, "alice", NULL);
	assert_non_null(strstr(ipc_capture_error(), "'alice' is not a contact id"));

	ipc_capture_reset();
	run_connect(f, NULL, NULL);
	assert_non_null(strstr(ipc_capture_error(), "is not a contact id"));

	ipc_capture_reset();
	run_connect(f, connect_contact_id(&f->d), NULL);
	assert_non_null(strstr(ipc_capture_error(), "own"));

	ipc_capture_reset();
	run_connect(f, o.cid, "Bad Name!");
	assert_non_null(strstr(ipc_capture_error(), "invalid hostname"));

	assert_not_connecting(f);
	assert_int_equal(fake_dht_pending(), 0);
	turn(f, 100);
	assert_int_equal(fake_dials(), 0);
	assert_int_equal(n_sent, 0);
}

/* The whole way: look-up, dial, CONNECT_REQ naming K with our hostname,
 * PENDING, asked again, OK with a network: join_direct asks O at once. */
static void test_connect_pending_then_ok(void **state)
{
	struct fixture *f = *state;
	const struct sent *s;
	struct owner o;
	uint8_t net[32];
	size_t asked;
	unsigned c;
	json_t *j;

	make_owner(&o);
	c = connect_to(f, &o, "bob");
	s = last_sent(o.dev.pk, CTL_CONNECT_REQ);
	assert_true(s->has_contact);
	assert_memory_equal(s->contact, o.contact.pk, 32);
	assert_string_equal(s->hostname, "bob");
	assert_null(ipc_capture_last());

	feed_simple(c, CTL_CONNECT_PENDING, NULL);
	assert_connecting(f, o.cid, "pending-approval", o.dev.id);
	assert_null(ipc_capture_last());

	asked = count_sent(o.dev.pk, CTL_CONNECT_REQ);
	for (int i = 0; i < 5; i++)
		turn(f, 1000);
	assert_int_equal(count_sent(o.dev.pk, CTL_CONNECT_REQ), asked); /* not yet */
	for (int i = 0; i < 6; i++)
		turn(f, 1000);
	assert_true(count_sent(o.dev.pk, CTL_CONNECT_REQ) > asked);
	s = last_sent(o.dev.pk, CTL_CONNECT_REQ);
	assert_memory_equal(s->contact, o.contact.pk, 32);
	assert_connecting(f, o.cid, "pending-approval", o.dev.id);

	randombytes_buf(net, sizeof(net));
	feed_ok(c, net, "bob-olive");
	s = last_sent(o.dev.pk, CTL_JOIN_REQ);
	assert_non_null(s);
	assert_true(s->has_net);
	assert_memory_equal(s->net, net, 32);
	assert_string_equal(s->hostname, "bob");
	assert_not_connecting(f);
	assert_non_null(f->d.joins);
	j = join_status(&f->d);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	assert_null(ipc_capture_last()); /* the join answers `ray connect` */
	/* The connection to O stays for the join. */
	assert_int_equal(fake_find(o.dev.pk, false, -1), c);
}

/* DENIED with a reason: `ray connect` ends with it. */
static void test_connect_denied(void **state)
{
	struct fixture *f = *state;
	struct owner o;
	const char *err;
	unsigned c;

	make_owner(&o);
	c = connect_to(f, &o, NULL);
	feed_simple(c, CTL_CONNECT_DENIED, "not today");
	err = ipc_capture_error();
	assert_non_null(strstr(err, "denied"));
	assert_non_null(strstr(err, "not today"));
	assert_non_null(strstr(err, o.cid));
	assert_not_connecting(f);
	assert_null(f->d.joins);
	assert_int_equal(fixture_count_networks(f), 0);
}

/* A retired contact record: "rotated", and no dial. */
static void test_connect_retired(void **state)
{
	struct fixture *f = *state;
	struct owner o;

	make_owner(&o);
	publish_contact(&o.contact, NULL, true);
	publish_endpoint(&o.dev, 1);
	run_connect(f, o.cid, NULL);
	for (int i = 0; i < 10 && !ipc_capture_last(); i++)
		turn(f, 100);
	assert_non_null(strstr(ipc_capture_error(), "rotated"));
	assert_int_equal(fake_dials(), 0);
	assert_int_equal(count_type(CTL_CONNECT_REQ), 0);
	assert_not_connecting(f);
}

/* No record at all: the look-ups go on for 30 s, then a sentence. */
static void test_connect_no_record(void **state)
{
	struct fixture *f = *state;
	struct owner o;
	int turns = 0;

	make_owner(&o);
	run_connect(f, o.cid, NULL);
	for (; turns < 120 && !ipc_capture_last(); turns++) {
		turn(f, 500);
		if (!ipc_capture_last())
			assert_connecting(f, o.cid, "looking-up", "");
	}
	assert_non_null(strstr(ipc_capture_error(), "no device answers"));
	assert_non_null(strstr(ipc_capture_error(), o.cid));
	assert_true(turns >= 55); /* not before ~30 s */
	assert_not_connecting(f);
	assert_int_equal(fake_dht_pending(), 0);
}

/* A contact record (someone else's key) that names this very device: a
 * sentence, no dial to ourselves. */
static void test_connect_record_names_us(void **state)
{
	struct fixture *f = *state;
	struct owner o;

	make_owner(&o);
	publish_contact(&o.contact, f->d.id.pk, false);
	run_connect(f, o.cid, NULL);
	for (int i = 0; i < 10 && !ipc_capture_last(); i++)
		turn(f, 100);
	assert_non_null(strstr(ipc_capture_error(), "this device's own"));
	assert_int_equal(fake_dials(), 0);
	assert_not_connecting(f);
}

/* A second `ray connect` of the same id takes over the first's wait. */
static void test_connect_twice_supersedes(void **state)
{
	struct fixture *f = *state;
	struct owner o;

	make_owner(&o);
	run_connect(f, o.cid, NULL);
	assert_null(ipc_capture_last());
	run_connect(f, o.cid, NULL);
	assert_non_null(strstr(ipc_capture_error(), "superseded"));
	assert_connecting(f, o.cid, "looking-up", "");
}

/* A CONNECT_OK from a peer we never asked: nothing joins, our own request
 * goes on. */
static void test_connect_ignores_unasked_ok(void **state)
{
	struct fixture *f = *state;
	struct identity stranger;
	struct owner o;
	uint8_t net[32];
	unsigned s;

	make_owner(&o);
	connect_to(f, &o, NULL);
	assert_int_equal(identity_generate(&stranger), 0);
	s = fake_accept(stranger.pk, false, 0, false);
	assert_true(s != 0);
	randombytes_buf(net, sizeof(net));
	feed_ok(s, net, "trap");
	feed_simple(s, CTL_CONNECT_DENIED, "trap");
	for (int i = 0; i < 5; i++)
		turn(f, 100);
	assert_null(f->d.joins);
	assert_int_equal(fixture_count_networks(f), 0);
	assert_int_equal(count_type(CTL_JOIN_REQ), 0);
	assert_null(ipc_capture_last());
	assert_connecting(f, o.cid, "asking", o.dev.id);
}

/* Already in a direct network with the device behind the id: answered
 * with it at once, nothing asked. */
static void test_connect_already_connected(void **state)
{
	struct fixture *f = *state;
	uint8_t mine[32];
	struct owner o;
	struct network *n;
	char id[16];
	char name[64];
	unsigned c;

	make_owner(&o);
	our_contact_pk(f, mine);
	c = stranger_asks(&o.dev, mine, "olive", 0);
	queued_id(f, &o.dev, id);
	approve(f, id);
	n = the_direct_network(f);
	snprintf(name, sizeof(name), "%s", n->saved.name);
	(void)c;

	ipc_capture_reset();
	publish_owner(&o);
	run_connect(f, o.cid, NULL);
	for (int i = 0; i < 10 && !ipc_capture_last(); i++)
		turn(f, 100);
	assert_string_equal(json_string_value(json_object_get(ipc_capture_result(), "name")), name);
	assert_int_equal(count_sent(o.dev.pk, CTL_CONNECT_REQ), 0);
	assert_int_equal(fixture_count_networks(f), 1);
	assert_not_connecting(f);
}

/* ================= owner side ================= */

/* A request for a contact key that is not ours: DENIED, nothing queued. */
static void test_owner_other_contact(void **state)
{
	struct fixture *f = *state;
	struct identity s;
	uint8_t other[32];
	json_t *l;

	assert_int_equal(identity_generate(&s), 0);
	randombytes_buf(other, sizeof(other));
	stranger_asks(&s, other, "bob", 0);
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_DENIED), 1);
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_PENDING), 0);
	assert_int_equal(connect_pending(&f->d), 0);
	assert_false(connect_is_queued(&f->d, s.pk));
	l = list_requests(f);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
}

/* Queued, listed, kept past the stranger window while it asks again;
 * approved: a direct network with it pre-approved, CONNECT_OK naming it;
 * asked again: the same network again. */
static void test_owner_approve(void **state)
{
	struct fixture *f = *state;
	struct identity s;
	uint8_t mine[32];
	const struct sent *ok;
	struct network *n;
	char id[16], name[64];
	unsigned c;
	json_t *l, *e, *st, *nets;

	assert_int_equal(identity_generate(&s), 0);
	our_contact_pk(f, mine);
	c = stranger_asks(&s, mine, "bob", 0);
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_PENDING), 1);
	assert_int_equal(connect_pending(&f->d), 1);
	assert_int_equal(status_pending(f), 1);
	assert_true(connect_is_queued(&f->d, s.pk));

	l = list_requests(f);
	assert_int_equal(json_array_size(l), 1);
	e = json_array_get(l, 0);
	assert_string_equal(json_string_value(json_object_get(e, "endpoint_id")), s.id);
	assert_string_equal(json_string_value(json_object_get(e, "hostname")), "bob");
	assert_int_equal(strlen(json_string_value(json_object_get(e, "id"))), 8);
	assert_true(json_integer_value(json_object_get(e, "since")) > 0);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(e, "id")));
	json_decref(l);

	/* 20 s: past the gate's stranger window; it asks every 10 s. */
	for (int i = 1; i <= 20; i++) {
		turn(f, 1000);
		if (i % 10 == 0)
			feed_req(c, mine, "bob");
	}
	assert_int_equal(fake_find(s.pk, false, 0), c);
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_PENDING), 3);
	assert_int_equal(connect_pending(&f->d), 1);
	assert_int_equal(fixture_count_networks(f), 0);

	approve(f, id);
	snprintf(name, sizeof(name), "%s",
		 json_string_value(json_object_get(ipc_capture_result(), "name")));
	assert_non_null(strstr(name, "bob"));
	n = the_direct_network(f);
	assert_string_equal(n->saved.name, name);
	assert_true(n->saved.direct);
	assert_non_null(group_blob_find_approved(&n->blob, s.id));
	assert_non_null(group_blob_find_member(&n->blob, f->d.id.id));
	assert_int_equal(connect_pending(&f->d), 0);

	st = status_build(&f->d);
	nets = json_object_get(st, "networks");
	assert_int_equal(json_array_size(nets), 1);
	e = json_array_get(nets, 0);
	assert_string_equal(json_string_value(json_object_get(e, "role")), "direct");
	assert_string_equal(json_string_value(json_object_get(e, "room_id")), "");
	assert_string_equal(json_string_value(json_object_get(e, "name")), name);
	json_decref(st);

	ok = last_sent(s.pk, CTL_CONNECT_OK);
	assert_non_null(ok);
	assert_true(ok->has_net);
	assert_memory_equal(ok->net, n->pk, 32);

	/* Asked again (the OK was lost): the same network again. */
	feed_req(c, mine, "bob");
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_OK), 2);
	ok = last_sent(s.pk, CTL_CONNECT_OK);
	assert_memory_equal(ok->net, n->pk, 32);
	assert_int_equal(fixture_count_networks(f), 1);
	assert_int_equal(connect_pending(&f->d), 0);

	/* An id that is not queued (any more) says so. */
	approve(f, id);
	assert_non_null(strstr(ipc_capture_error(), "no connection request"));
	assert_int_equal(fixture_count_networks(f), 1);
}

/* Denied: DENIED sent, the list empty; asking again is denied again. */
static void test_owner_deny(void **state)
{
	struct fixture *f = *state;
	struct identity s;
	uint8_t mine[32];
	char id[16];
	unsigned c;
	json_t *l;

	assert_int_equal(identity_generate(&s), 0);
	our_contact_pk(f, mine);
	c = stranger_asks(&s, mine, "bob", 0);
	queued_id(f, &s, id);
	deny(f, id);
	assert_true(json_is_true(json_object_get(ipc_capture_last(), "ok")));
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_DENIED), 1);
	l = list_requests(f);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	assert_int_equal(connect_pending(&f->d), 0);

	feed_req(c, mine, "bob");
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_DENIED), 2);
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_PENDING), 1);
	assert_int_equal(connect_pending(&f->d), 0);
	assert_int_equal(fixture_count_networks(f), 0);
}

/* A request not asked again for CONNECT_IDLE_MS is dropped. */
static void test_owner_request_expires(void **state)
{
	struct fixture *f = *state;
	struct identity s;
	uint8_t mine[32];
	json_t *l;

	assert_int_equal(identity_generate(&s), 0);
	our_contact_pk(f, mine);
	stranger_asks(&s, mine, "bob", 0);
	assert_int_equal(connect_pending(&f->d), 1);
	for (int i = 0; i < (CONNECT_IDLE_MS - 5000) / 1000; i++)
		turn(f, 1000);
	assert_int_equal(connect_pending(&f->d), 1); /* 55 s: still there */
	for (int i = 0; i < 10; i++)
		turn(f, 1000);
	assert_int_equal(connect_pending(&f->d), 0); /* 65 s: gone */
	l = list_requests(f);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	assert_int_equal(status_pending(f), 0);
}

/* 40 strangers at once: CONNECT_NEW_BURST take a place, everyone hears
 * PENDING. Then one new one every CONNECT_NEW_EVERY_MS: the queue fills
 * to CONNECT_IN_MAX and no further; places go to newcomers only from
 * requesters whose connection is gone. */
static void test_owner_flood(void **state)
{
	struct fixture *f = *state;
	static struct identity s[FLOOD], late[FLOOD];
	unsigned conn[FLOOD];
	uint8_t mine[32];
	size_t queued = 0;
	json_t *l;

	our_contact_pk(f, mine);
	for (int i = 0; i < FLOOD; i++) {
		assert_int_equal(identity_generate(&s[i]), 0);
		conn[i] = stranger_asks(&s[i], mine, "flood", i % 4);
		assert_int_equal(count_sent(s[i].pk, CTL_CONNECT_PENDING), 1);
		assert_true(connect_pending(&f->d) <= CONNECT_NEW_BURST);
		if (connect_is_queued(&f->d, s[i].pk)) {
			queued++;
		} else {
			/* Keep the connections of the queued ones only. */
			fake_close(conn[i], 0, 0);
			conn[i] = 0;
		}
	}
	assert_int_equal(queued, CONNECT_NEW_BURST);
	assert_int_equal(connect_pending(&f->d), CONNECT_NEW_BURST);
	for (int i = 0; i < CONNECT_NEW_BURST; i++)
		assert_true(connect_is_queued(&f->d, s[i].pk)); /* the first ones */
	l = list_requests(f);
	assert_int_equal(json_array_size(l), CONNECT_NEW_BURST);
	json_decref(l);

	/* One more every CONNECT_NEW_EVERY_MS, each gone after asking. */
	for (int i = 0; i < FLOOD; i++) {
		unsigned c;

		clock_only(f, CONNECT_NEW_EVERY_MS);
		assert_int_equal(identity_generate(&late[i]), 0);
		c = stranger_asks(&late[i], mine, "late", i % 4);
		assert_int_equal(count_sent(late[i].pk, CTL_CONNECT_PENDING), 1);
		assert_true(connect_is_queued(&f->d, late[i].pk));
		assert_true(connect_pending(&f->d) <= CONNECT_IN_MAX);
		fake_close(c, 0, 0);
	}
	assert_int_equal(connect_pending(&f->d), CONNECT_IN_MAX);
	l = list_requests(f);
	assert_int_equal(json_array_size(l), CONNECT_IN_MAX);
	json_decref(l);
	/* Those still connected kept their places; the oldest gone ones made
	 * room. */
	for (int i = 0; i < CONNECT_NEW_BURST; i++) {
		assert_true(fake_find(s[i].pk, false, 0) == conn[i]);
		assert_true(connect_is_queued(&f->d, s[i].pk));
	}
	assert_false(connect_is_queued(&f->d, late[0].pk));
	assert_true(connect_is_queued(&f->d, late[FLOOD - 1].pk));
}

/* ================= both ask ================= */

/* Ours is the greater key: we make the network at once, answer O with it
 * and our own `ray connect` too. */
static void test_mutual_we_mint(void **state)
{
	struct fixture *f = *state;
	uint8_t mine[32];
	const struct sent *ok;
	struct network *n;
	struct owner o;
	unsigned c;
	json_t *r;

	make_owner_ordered(f, &o, true);
	our_contact_pk(f, mine);
	c = connect_to(f, &o, "bob");
	feed_req(c, mine, "olive");
	r = ipc_capture_result();
	assert_non_null(json_string_value(json_object_get(r, "name")));
	assert_non_null(json_string_value(json_object_get(r, "ipv4")));
	assert_non_null(json_string_value(json_object_get(r, "ipv6")));
	n = the_direct_network(f);
	assert_string_equal(json_string_value(json_object_get(r, "name")), n->saved.name);
	assert_non_null(strstr(n->saved.name, "olive"));
	assert_non_null(group_blob_find_approved(&n->blob, o.dev.id));
	ok = last_sent(o.dev.pk, CTL_CONNECT_OK);
	assert_non_null(ok);
	assert_true(ok->has_net);
	assert_memory_equal(ok->net, n->pk, 32);
	assert_int_equal(count_sent(o.dev.pk, CTL_CONNECT_PENDING), 0);
	assert_not_connecting(f);
	assert_int_equal(connect_pending(&f->d), 0);
	assert_int_equal(fixture_count_networks(f), 1);
}

/* Ours is the smaller key: PENDING, no network; O's OK then joins ours to
 * its network. */
static void test_mutual_they_mint(void **state)
{
	struct fixture *f = *state;
	uint8_t mine[32], net[32];
	const struct sent *s;
	struct owner o;
	unsigned c;

	make_owner_ordered(f, &o, false);
	our_contact_pk(f, mine);
	c = connect_to(f, &o, "bob");
	feed_req(c, mine, "olive");
	assert_int_equal(count_sent(o.dev.pk, CTL_CONNECT_PENDING), 1);
	assert_int_equal(count_sent(o.dev.pk, CTL_CONNECT_OK), 0);
	assert_int_equal(fixture_count_networks(f), 0);
	assert_int_equal(connect_pending(&f->d), 0); /* no human needed */
	assert_null(ipc_capture_last());
	assert_connecting(f, o.cid, "asking", o.dev.id);

	randombytes_buf(net, sizeof(net));
	feed_ok(c, net, "olive-bob");
	s = last_sent(o.dev.pk, CTL_JOIN_REQ);
	assert_non_null(s);
	assert_memory_equal(s->net, net, 32);
	assert_not_connecting(f);
}

/* Bug check: minting for a mutual request answers O with CONNECT_OK and
 * must keep the connection that answer travels on (O joins over it next);
 * dropping the last want on O closes it right after the send. */
static void test_mutual_keeps_connection(void **state)
{
	struct fixture *f = *state;
	uint8_t mine[32];
	struct owner o;
	unsigned c;

	make_owner_ordered(f, &o, true);
	our_contact_pk(f, mine);
	c = connect_to(f, &o, "bob");
	feed_req(c, mine, "olive");
	assert_non_null(last_sent(o.dev.pk, CTL_CONNECT_OK));
	fake_flush();
	if (fake_find(o.dev.pk, false, -1) != c)
		fail_msg("the connection to O was closed right after CONNECT_OK was queued on it "
			 "(out_free -> peer_unwant drops the last want)");
}

/* Bug check: O's request was queued here (waiting for approval) before
 * our own `ray connect` to O got going; the mutual rule then makes the
 * network. The queued request is answered by it: it must not stay in
 * `ray connections`, where approving it makes a second network. */
static void test_queued_then_mutual(void **state)
{
	struct fixture *f = *state;
	uint8_t mine[32];
	struct owner o;
	unsigned c;
	json_t *l;

	make_owner_ordered(f, &o, true);
	our_contact_pk(f, mine);
	c = stranger_asks(&o.dev, mine, "olive", 0);
	assert_int_equal(connect_pending(&f->d), 1);

	publish_owner(&o);
	run_connect(f, o.cid, "bob");
	for (int i = 0; i < 10 && !last_sent(o.dev.pk, CTL_CONNECT_REQ); i++)
		turn(f, 100);
	assert_non_null(last_sent(o.dev.pk, CTL_CONNECT_REQ)); /* on O's connection */
	assert_int_equal(fake_find(o.dev.pk, false, 0), c);

	feed_req(c, mine, "olive"); /* O asks again */
	assert_non_null(last_sent(o.dev.pk, CTL_CONNECT_OK));
	assert_string_equal(json_string_value(json_object_get(ipc_capture_result(), "name")),
			    the_direct_network(f)->saved.name);
	l = list_requests(f);
	if (json_array_size(l) > 0) {
		char id[16];

		snprintf(id, sizeof(id), "%s",
			 json_string_value(json_object_get(json_array_get(l, 0), "id")));
		json_decref(l);
		approve(f, id);
		fail_msg("O's request is still queued after the mutual network was made "
			 "(%zu networks after approving it)",
			 fixture_count_networks(f));
	}
	json_decref(l);
	assert_int_equal(connect_pending(&f->d), 0);
	assert_int_equal(fixture_count_networks(f), 1);
}

/* ================= rotation ================= */

static void decode_own_contact(const uint8_t pk[32], struct record *r, struct contact_payload *cp)
{
	uint8_t key[RECORD_KEY_LEN];
	const uint8_t *v;
	size_t len = 0;

	record_dht_key(RECORD_CONTACT, pk, key);
	v = fake_dht_own(key, &len);
	assert_non_null(v);
	assert_int_equal(record_decode(v, len, RECORD_CONTACT, pk, daemon_unix_now(), r), 0);
	assert_int_equal(contact_payload_decode(r->payload, r->payload_len, cp), 0);
}

static void test_rotate(void **state)
{
	struct fixture *f = *state;
	char old_id[CONTACT_ID_BUF], new_id[CONTACT_ID_BUF];
	uint8_t old_pk[32], new_pk[32];
	struct contact_payload cp;
	struct identity s, s2;
	const struct sent *d;
	uint64_t old_seq;
	struct record r;
	unsigned c;

	snprintf(old_id, sizeof(old_id), "%s", connect_contact_id(&f->d));
	our_contact_pk(f, old_pk);

	/* `ray contact` */
	connect_cmd_contact(&f->d, ipc_capture_request("contact", NULL));
	assert_string_equal(json_string_value(json_object_get(ipc_capture_result(), "contact_id")),
			    old_id);

	/* Nothing while down; published while up. */
	turn(f, 100);
	{
		uint8_t key[RECORD_KEY_LEN];
		size_t len;

		record_dht_key(RECORD_CONTACT, old_pk, key);
		assert_null(fake_dht_own(key, &len));
	}
	f->d.active = true;
	turn(f, 100);
	decode_own_contact(old_pk, &r, &cp);
	assert_false(cp.retired);
	assert_memory_equal(cp.endpoint, f->d.id.pk, 32);
	old_seq = r.seq;

	ipc_capture_reset();
	connect_cmd_rotate(&f->d, ipc_capture_request("contact_rotate", NULL));
	snprintf(new_id, sizeof(new_id), "%s",
		 json_string_value(json_object_get(ipc_capture_result(), "contact_id")));
	assert_string_not_equal(new_id, old_id);
	assert_string_equal(new_id, connect_contact_id(&f->d));
	assert_int_equal(contact_id_parse(new_id, new_pk), 0);
	assert_memory_not_equal(new_pk, old_pk, 32);

	/* The old id says "retired", with a higher sequence than before. */
	decode_own_contact(old_pk, &r, &cp);
	assert_true(cp.retired);
	assert_true(r.seq > old_seq);
	turn(f, 100);
	decode_own_contact(new_pk, &r, &cp);
	assert_false(cp.retired);
	assert_memory_equal(cp.endpoint, f->d.id.pk, 32);

	/* A request naming the old id is refused, the new one queued. */
	assert_int_equal(identity_generate(&s), 0);
	c = stranger_asks(&s, old_pk, "bob", 0);
	d = last_sent(s.pk, CTL_CONNECT_DENIED);
	assert_non_null(d);
	assert_non_null(strstr(d->why, "rotated"));
	assert_int_equal(connect_pending(&f->d), 0);
	(void)c;
	assert_int_equal(identity_generate(&s2), 0);
	stranger_asks(&s2, new_pk, "carol", 1);
	assert_int_equal(count_sent(s2.pk, CTL_CONNECT_PENDING), 1);
	assert_int_equal(connect_pending(&f->d), 1);

	/* Down again: the current record is withdrawn, the retired one stays
	 * (it must outlive any record naming us under the old id). */
	f->d.active = false;
	turn(f, 100);
	{
		uint8_t key[RECORD_KEY_LEN];
		size_t len;

		record_dht_key(RECORD_CONTACT, new_pk, key);
		assert_null(fake_dht_own(key, &len));
	}
	decode_own_contact(old_pk, &r, &cp);
	assert_true(cp.retired);

	/* The key is what is stored: a restart keeps the new id. */
	assert_int_equal(fixture_restart(f), 0);
	assert_string_equal(connect_contact_id(&f->d), new_id);
}

/* ================= malformed ================= */

static void feed_raw_frame(unsigned c, const msgpack_sbuffer *sb)
{
	uint8_t hdr[4] = { (uint8_t)(sb->size >> 24), (uint8_t)(sb->size >> 16),
			   (uint8_t)(sb->size >> 8), (uint8_t)sb->size };

	fake_feed(c, hdr, 4);
	fake_feed(c, (const uint8_t *)sb->data, sb->size);
}

static void test_malformed_request(void **state)
{
	struct fixture *f = *state;
	struct ctl_msg m = { .type = CTL_CONNECT_REQ };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct identity s;
	uint8_t mine[32], short_cid[16] = { 0 };
	unsigned c;

	assert_int_equal(identity_generate(&s), 0);
	our_contact_pk(f, mine);
	c = fake_accept(s.pk, false, 0, false);
	assert_true(c != 0);

	/* No cid at all. */
	snprintf(m.hostname, sizeof(m.hostname), "bob");
	fake_feed_msg(c, &m);

	/* A cid of 16 bytes. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "t", 1);
	msgpack_pack_uint32(&pk, CTL_CONNECT_REQ);
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "cid", 3);
	msgpack_pack_bin(&pk, sizeof(short_cid));
	msgpack_pack_bin_body(&pk, short_cid, sizeof(short_cid));
	feed_raw_frame(c, &sb);
	msgpack_sbuffer_destroy(&sb);

	/* A cid that is a string. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	msgpack_pack_str(&pk, 1);
	msgpack_pack_str_body(&pk, "t", 1);
	msgpack_pack_uint32(&pk, CTL_CONNECT_REQ);
	msgpack_pack_str(&pk, 3);
	msgpack_pack_str_body(&pk, "cid", 3);
	msgpack_pack_str(&pk, 32);
	msgpack_pack_str_body(&pk, "0123456789abcdef0123456789abcdef", 32);
	feed_raw_frame(c, &sb);
	msgpack_sbuffer_destroy(&sb);

	/* CONNECT_OK without a net. */
	feed_simple(c, CTL_CONNECT_OK, NULL);

	turn(f, 100);
	assert_int_equal(count_type(CTL_CONNECT_PENDING), 0);
	assert_int_equal(count_type(CTL_CONNECT_DENIED), 0);
	assert_int_equal(count_type(CTL_CONNECT_OK), 0);
	assert_int_equal(connect_pending(&f->d), 0);
	assert_null(f->d.joins);

	/* Still listening: a good request is queued. */
	assert_int_equal(fake_find(s.pk, false, 0), c);
	feed_req(c, mine, "bob");
	assert_int_equal(count_sent(s.pk, CTL_CONNECT_PENDING), 1);
	assert_int_equal(connect_pending(&f->d), 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, connect_setup, connect_teardown)
#define M(fn) cmocka_unit_test_setup_teardown(fn, mutual_setup, connect_teardown)
	const struct CMUnitTest tests[] = {
		T(test_connect_bad_input),
		T(test_connect_pending_then_ok),
		T(test_connect_denied),
		T(test_connect_retired),
		T(test_connect_no_record),
		T(test_connect_record_names_us),
		T(test_connect_twice_supersedes),
		T(test_connect_ignores_unasked_ok),
		T(test_connect_already_connected),
		T(test_owner_other_contact),
		T(test_owner_approve),
		T(test_owner_deny),
		T(test_owner_request_expires),
		T(test_owner_flood),
		M(test_mutual_we_mint),
		M(test_mutual_they_mint),
		M(test_mutual_keeps_connection),
		M(test_queued_then_mutual),
		T(test_rotate),
		T(test_malformed_request),
	};
#undef T
#undef M
	return cmocka_run_group_tests(tests, NULL, NULL);
}
