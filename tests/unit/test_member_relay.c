/*
 * test_member_relay: three magicsocks with identities on 127.0.0.1, a and b
 * each with a direct (disco-confirmed) path to r and none to each other.
 * With r's policy allowing the pair, QUIC packets from a reach b through r
 * with a virtual source address, b's answer to that address comes back
 * through r, and a's path to b becomes MS_PATH_MEMBER via r (single sends
 * and batches). Without a policy, or with one that says no, r forwards
 * nothing. Hostile frames (from a stranger, truncated, an unknown kind, a
 * payload that is not QUIC, a nested frame, an unknown or self next hop, an
 * origin that is not the connection's peer, virtual addresses handed in as
 * candidates) are counted and change nothing; a flood gets the pair's byte
 * rate and the rest is dropped. A dead first via candidate is
 * skipped; a relay that vanishes stops being the path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "mesh/identity.h"
#include "transport/magicsock.h"
#include "util/log.h"

static uv_loop_t loop;

struct end {
	struct magicsock *ms;
	struct identity id;
	union ms_addr addr;
	const uint8_t *peer_pk; /* the far end: what our QUIC "connection" is */
	int echo;               /* answer every packet to its source */
	int got;
	union ms_addr last_from;
	size_t last_len;
};

struct trio {
	struct end a, r, b;
	union ms_addr dead; /* nothing answers there */
	int allow;          /* r's policy answer */
	int asked;
};

static void on_quic(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct end *e = ud;

	e->got++;
	e->last_from = *from;
	e->last_len = len;
	if (e->peer_pk && magicsock_is_virtual(from))
		magicsock_peer_heard(e->ms, e->peer_pk, from);
	if (e->echo)
		magicsock_send_to(e->ms, from, pkt, len);
}

static int policy(void *ud, const uint8_t *from, const uint8_t *to)
{
	struct trio *t = ud;

	(void)from;
	(void)to;
	t->asked++;
	return t->allow;
}

static void end_open(struct end *e, uint8_t seedbyte, uint32_t fwd_rate)
{
	struct magicsock_config cfg = { .fwd_pair_rate = fwd_rate };
	uint8_t seed[IDENTITY_SEED_LEN];
	socklen_t len = sizeof(e->addr);

	memset(e, 0, sizeof(*e));
	memset(seed, seedbyte, sizeof(seed));
	assert_int_equal(identity_from_seed(seed, &e->id), 0);
	assert_int_equal(magicsock_new(&e->ms, &loop, &cfg), 0);
	assert_int_equal(magicsock_set_disco_key(e->ms, e->id.pk, e->id.sk), 0);
	magicsock_set_handler(e->ms, MS_PKT_QUIC, on_quic, e);
	/* The socket is dual-stack: talk to it over IPv4 loopback. */
	(void)len;
	assert_int_equal(ms_addr_parse(&e->addr, "127.0.0.1:0"), 0);
	e->addr.in.sin_port = htons(magicsock_port(e->ms));
}

static void run_ms(int ms)
{
	uint64_t start;

	uv_update_time(&loop);
	start = uv_now(&loop);
	while (uv_now(&loop) - start < (uint64_t)ms) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
		uv_update_time(&loop);
	}
}

static int run_until(int (*cond)(struct trio *), struct trio *t, int max_ms)
{
	uint64_t start;

	uv_update_time(&loop);
	start = uv_now(&loop);
	for (;;) {
		if (cond(t))
			return (int)(uv_now(&loop) - start);
		if (uv_now(&loop) - start >= (uint64_t)max_ms)
			return -1;
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
		uv_update_time(&loop);
	}
}

static void quic_like(uint8_t *pkt, size_t len, uint8_t fill)
{
	memset(pkt, fill, len);
	pkt[0] = 0xc3; /* a long header: never STUN, disco or a frame */
}

static void send_quic(struct end *from, const uint8_t *to_pk)
{
	uint8_t pkt[80];

	quic_like(pkt, sizeof(pkt), 0x11);
	magicsock_send_peer(from->ms, to_pk, pkt, sizeof(pkt));
}

static int is_direct(struct end *e, const uint8_t *pk)
{
	return magicsock_peer_path(e->ms, pk, NULL) == MS_PATH_DIRECT;
}

static int hops_direct(struct trio *t)
{
	/* Keep all four directions active so disco keeps pinging. */
	send_quic(&t->a, t->r.id.pk);
	send_quic(&t->r, t->a.id.pk);
	send_quic(&t->b, t->r.id.pk);
	send_quic(&t->r, t->b.id.pk);
	return is_direct(&t->a, t->r.id.pk) && is_direct(&t->r, t->a.id.pk) &&
	       is_direct(&t->b, t->r.id.pk) && is_direct(&t->r, t->b.id.pk);
}

static void trio_open_rate(struct trio *t, uint32_t r_rate)
{
	memset(t, 0, sizeof(*t));
	end_open(&t->a, 0x5a, 0);
	end_open(&t->r, 0x5c, r_rate);
	end_open(&t->b, 0x5b, 0);
	t->a.peer_pk = t->b.id.pk;
	t->b.peer_pk = t->a.id.pk;
	assert_int_equal(ms_addr_parse(&t->dead, "127.0.0.1:9"), 0);
	assert_int_equal(magicsock_set_peer_addrs(t->a.ms, t->r.id.pk, &t->r.addr, 1), 0);
	assert_int_equal(magicsock_set_peer_addrs(t->b.ms, t->r.id.pk, &t->r.addr, 1), 0);
	assert_int_equal(magicsock_set_peer_addrs(t->r.ms, t->a.id.pk, &t->a.addr, 1), 0);
	assert_int_equal(magicsock_set_peer_addrs(t->r.ms, t->b.id.pk, &t->b.addr, 1), 0);
	assert_int_equal(magicsock_set_peer_addrs(t->a.ms, t->b.id.pk, &t->dead, 1), 0);
	assert_int_equal(magicsock_set_peer_addrs(t->b.ms, t->a.id.pk, &t->dead, 1), 0);
	assert_true(run_until(hops_direct, t, 3000) >= 0);
	run_ms(50); /* the last round's packets land before counting */
	t->a.got = t->r.got = t->b.got = 0;
	t->allow = 1;
	magicsock_set_fwd_policy(t->r.ms, policy, t);
	assert_int_equal(magicsock_set_peer_vias(t->a.ms, t->b.id.pk,
						 (const uint8_t(*)[MAGICSOCK_KEY_LEN])t->r.id.pk,
						 1),
			 0);
}

static void trio_open(struct trio *t)
{
	trio_open_rate(t, 0);
}

static void trio_close(struct trio *t)
{
	magicsock_free(t->a.ms);
	magicsock_free(t->r.ms);
	magicsock_free(t->b.ms);
	uv_run(&loop, UV_RUN_NOWAIT);
	identity_clear(&t->a.id);
	identity_clear(&t->r.id);
	identity_clear(&t->b.id);
}

static int b_got(struct trio *t)
{
	return t->b.got > 0;
}

static int a_member(struct trio *t)
{
	return magicsock_peer_path(t->a.ms, t->b.id.pk, NULL) == MS_PATH_MEMBER;
}

static int a_not_member(struct trio *t)
{
	send_quic(&t->a, t->r.id.pk); /* keep probing r */
	return !a_member(t);
}

/* a -> r -> b, b answers to the virtual source, a's path becomes r. */
static void test_forward(void **state)
{
	struct magicsock_stats sa, sr, sb;
	uint8_t via[MAGICSOCK_KEY_LEN], batch[4 * 1200];
	size_t lens[4] = { 1200, 1200, 1200, 700 };
	struct trio t;
	int rv, before;

	(void)state;
	trio_open(&t);
	t.b.echo = 1;
	send_quic(&t.a, t.b.id.pk);
	assert_true(run_until(b_got, &t, 2000) >= 0);
	assert_true(magicsock_is_virtual(&t.b.last_from));
	assert_int_equal(t.b.last_len, 80);
	assert_true(run_until(a_member, &t, 2000) >= 0);
	assert_int_equal(magicsock_peer_via(t.a.ms, t.b.id.pk, via), 0);
	assert_memory_equal(via, t.r.id.pk, MAGICSOCK_KEY_LEN);
	assert_int_equal(magicsock_peer_path(t.b.ms, t.a.id.pk, NULL), MS_PATH_MEMBER);
	assert_int_equal(t.r.got, 0); /* r relays, it never reads them */
	assert_true(t.asked >= 1);

	/* A batch keeps its sizes through the relay. */
	before = t.b.got;
	t.b.echo = 0;
	quic_like(batch, sizeof(batch), 0x22);
	rv = magicsock_send_peer_batch(t.a.ms, t.b.id.pk, batch, lens, 4);
	assert_int_equal(rv, 4);
	run_ms(200);
	assert_int_equal(t.b.got - before, 4);
	assert_int_equal(t.b.last_len, 700);

	magicsock_get_stats(t.a.ms, &sa);
	magicsock_get_stats(t.r.ms, &sr);
	magicsock_get_stats(t.b.ms, &sb);
	assert_true(sr.fwd_tx >= 6);
	assert_true(sb.fwd_rx >= 5);
	assert_true(sa.fwd_sent >= 5);
	assert_int_equal(sr.fwd_bad + sr.fwd_denied + sr.fwd_no_path, 0);
	assert_int_equal(sa.fwd_bad + sb.fwd_bad, 0);
	trio_close(&t);
}

static void test_policy(void **state)
{
	struct magicsock_stats sr;
	struct trio t;

	(void)state;
	trio_open(&t);
	t.allow = 0;
	send_quic(&t.a, t.b.id.pk);
	run_ms(200);
	assert_int_equal(t.b.got, 0);
	magicsock_get_stats(t.r.ms, &sr);
	assert_true(sr.fwd_denied >= 1);
	assert_int_equal(sr.fwd_tx, 0);

	/* Relaying off: nobody is asked, nothing moves. */
	magicsock_set_fwd_policy(t.r.ms, NULL, NULL);
	t.allow = 1;
	t.asked = 0;
	send_quic(&t.a, t.b.id.pk);
	run_ms(200);
	assert_int_equal(t.b.got, 0);
	assert_int_equal(t.asked, 0);
	magicsock_get_stats(t.r.ms, &sr);
	assert_int_equal(sr.fwd_tx, 0);
	trio_close(&t);
}

/* A frame: magic, kind, key prefix, payload. */
static size_t frame(uint8_t *out, uint8_t kind, const uint8_t *key, const uint8_t *payload,
		    size_t plen)
{
	memcpy(out, MAGICSOCK_FWD_MAGIC, MAGICSOCK_FWD_MAGIC_LEN);
	out[MAGICSOCK_FWD_MAGIC_LEN] = kind;
	memcpy(out + MAGICSOCK_FWD_MAGIC_LEN + 1, key, MAGICSOCK_FWD_KEY_LEN);
	memcpy(out + MAGICSOCK_FWD_OVERHEAD, payload, plen);
	return MAGICSOCK_FWD_OVERHEAD + plen;
}

static void test_hostile(void **state)
{
	struct magicsock_stats s0, s1, b0, b1;
	uint8_t q[64], f[256], nested[128], unknown[MAGICSOCK_KEY_LEN];
	union ms_addr v, stranger_addr;
	struct end stranger;
	struct trio t;
	size_t n;

	(void)state;
	trio_open(&t);
	quic_like(q, sizeof(q), 0x33);
	memset(unknown, 0xee, sizeof(unknown));
	magicsock_get_stats(t.r.ms, &s0);
	magicsock_get_stats(t.b.ms, &b0);

	/* From a stranger (a socket r has no direct path to). */
	end_open(&stranger, 0x77, 0);
	n = frame(f, 1, t.b.id.pk, q, sizeof(q));
	magicsock_send_to(stranger.ms, &t.r.addr, f, n);
	/* From a, malformed in every way but the source. */
	magicsock_send_to(t.a.ms, &t.r.addr, f, MAGICSOCK_FWD_OVERHEAD);
	n = frame(f, 3, t.b.id.pk, q, sizeof(q));
	magicsock_send_to(t.a.ms, &t.r.addr, f, n);
	n = frame(f, 1, t.b.id.pk, (const uint8_t *)MAGICSOCK_DISCO_MAGIC "xxxxxxxx", 14);
	magicsock_send_to(t.a.ms, &t.r.addr, f, n);
	n = frame(nested, 1, t.b.id.pk, q, sizeof(q));
	n = frame(f, 1, t.b.id.pk, nested, n);
	magicsock_send_to(t.a.ms, &t.r.addr, f, n);
	n = frame(f, 1, t.a.id.pk, q, sizeof(q)); /* back to itself */
	magicsock_send_to(t.a.ms, &t.r.addr, f, n);
	n = frame(f, 1, unknown, q, sizeof(q)); /* nobody r knows */
	magicsock_send_to(t.a.ms, &t.r.addr, f, n);
	run_ms(200);
	magicsock_get_stats(t.r.ms, &s1);
	assert_int_equal(s1.fwd_bad - s0.fwd_bad, 6);
	assert_int_equal(s1.fwd_no_path - s0.fwd_no_path, 1);
	assert_int_equal(s1.fwd_tx, s0.fwd_tx);
	assert_int_equal(t.b.got, 0);

	/* r tells b about an origin b does not know: dropped. */
	n = frame(f, 2, unknown, q, sizeof(q));
	magicsock_send_to(t.r.ms, &t.b.addr, f, n);
	/* A stranger's "from" frame: dropped, whatever it claims. */
	n = frame(f, 2, t.a.id.pk, q, sizeof(q));
	magicsock_send_to(stranger.ms, &t.b.addr, f, n);
	run_ms(200);
	magicsock_get_stats(t.b.ms, &b1);
	assert_int_equal(b1.fwd_bad - b0.fwd_bad, 2);
	assert_int_equal(t.b.got, 0);

	/* r names a as the origin, but the packet is heard by a connection
	 * of another peer (the relay lied): the path is not taken. */
	t.b.peer_pk = NULL;
	n = frame(f, 2, t.a.id.pk, q, sizeof(q));
	magicsock_send_to(t.r.ms, &t.b.addr, f, n);
	run_ms(200);
	assert_int_equal(t.b.got, 1);
	v = t.b.last_from;
	assert_true(magicsock_is_virtual(&v));
	magicsock_peer_heard(t.b.ms, stranger.id.pk, &v);
	assert_int_not_equal(magicsock_peer_path(t.b.ms, stranger.id.pk, NULL), MS_PATH_MEMBER);
	magicsock_get_stats(t.b.ms, &b1);
	assert_int_equal(b1.fwd_bad - b0.fwd_bad, 3);

	/* Virtual addresses are never candidates. */
	assert_int_equal(magicsock_set_peer_addrs(t.b.ms, t.a.id.pk, &v, 1), -EINVAL);
	assert_int_equal(magicsock_set_peer_relay(t.b.ms, t.a.id.pk, &v), -EINVAL);
	/* A forged virtual address (wrong generation) sends nowhere. */
	v.in6.sin6_addr.s6_addr[11] ^= 0xff;
	assert_int_equal(magicsock_send_to(t.b.ms, &v, q, sizeof(q)), -EHOSTUNREACH);
	stranger_addr = stranger.addr;
	(void)stranger_addr;
	magicsock_free(stranger.ms);
	identity_clear(&stranger.id);
	trio_close(&t);
}

/* A member flooding through the relay gets the pair's rate, no more. */
static void test_flood(void **state)
{
	uint8_t pkt[1200];
	struct magicsock_stats sr;
	struct trio t;
	int i;

	(void)state;
	trio_open_rate(&t, 40000); /* bucket: 10 kB */
	quic_like(pkt, sizeof(pkt), 0x44);
	for (i = 0; i < 40; i++)
		magicsock_send_peer(t.a.ms, t.b.id.pk, pkt, sizeof(pkt));
	run_ms(200);
	magicsock_get_stats(t.r.ms, &sr);
	assert_true(sr.fwd_over_rate >= 25);
	assert_true(sr.fwd_tx >= 1 && sr.fwd_tx <= 15);
	assert_int_equal(t.b.got, (int)sr.fwd_tx);
	trio_close(&t);
}

/* A first candidate without a path is skipped; a relay that vanishes is
 * no longer the path. */
static void test_failover(void **state)
{
	uint8_t vias[2][MAGICSOCK_KEY_LEN];
	struct trio t;

	(void)state;
	trio_open(&t);
	memset(vias[0], 0x99, MAGICSOCK_KEY_LEN);
	memcpy(vias[1], t.r.id.pk, MAGICSOCK_KEY_LEN);
	assert_int_equal(magicsock_set_peer_vias(t.a.ms, t.b.id.pk,
						 (const uint8_t(*)[MAGICSOCK_KEY_LEN])vias, 2),
			 0);
	assert_int_equal(magicsock_set_peer_vias(t.a.ms, t.b.id.pk,
						 (const uint8_t(*)[MAGICSOCK_KEY_LEN])vias,
						 MAGICSOCK_MAX_VIAS + 1),
			 -E2BIG);
	t.b.echo = 1;
	send_quic(&t.a, t.b.id.pk);
	assert_true(run_until(a_member, &t, 2000) >= 0);
	t.b.echo = 0;
	magicsock_set_blackhole(t.r.ms, 1);
	/* a's direct path to r lapses after MAGICSOCK_DISCO_TRUST_MS. */
	assert_true(run_until(a_not_member, &t, MAGICSOCK_DISCO_TRUST_MS + 2000) >= 0);
	assert_int_equal(magicsock_peer_via(t.a.ms, t.b.id.pk, vias[0]), -ENOENT);
	trio_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forward),  cmocka_unit_test(test_policy),
		cmocka_unit_test(test_hostile),  cmocka_unit_test(test_flood),
		cmocka_unit_test(test_failover),
	};
	int rv;

	log_init(LL_ERROR);
	uv_loop_init(&loop);
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	uv_loop_close(&loop);
	return rv;
}
