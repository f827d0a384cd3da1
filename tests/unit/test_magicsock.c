/*
 * test_magicsock: packet classification (incl. truncated and hostile
 * lookalikes), address helpers, the peer path table and its freshness rule,
 * real socket round trips on 127.0.0.1, the fixed-port fallback, the
 * counters for dropped input, and the relay route (relayed input, relay
 * path, direct tries while relaying, hostile relay candidates).
 *
 * Disco (two magicsocks with identities on 127.0.0.1): pings from the
 * sending end and the punch back make both paths direct; forged, unknown
 * and misdirected disco packets are counted as bad and change nothing; a
 * replayed ping from another address is answered there but never becomes
 * the path (only a pong does); pings over the per-peer rate go unanswered;
 * a vanished peer loses its direct path after MAGICSOCK_DISCO_TRUST_MS and
 * gets it back once it answers again.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "mesh/identity.h"
#include "transport/disco.h"
#include "transport/magicsock.h"
#include "util/log.h"

static uv_loop_t loop;

static void test_classify(void **state)
{
	uint8_t b[64];

	memset(b, 0, sizeof(b));
	assert_int_equal(magicsock_classify(b, 0, 0), MS_PKT_JUNK);
	/* STUN binding request: type 0x0001, length 0, cookie. */
	b[1] = 0x01;
	b[4] = 0x21;
	b[5] = 0x12;
	b[6] = 0xa4;
	b[7] = 0x42;
	assert_int_equal(magicsock_classify(b, 20, 0), MS_PKT_STUN);
	/* Header length must match the datagram: truncated is not STUN. */
	b[3] = 8;
	assert_int_equal(magicsock_classify(b, 20, 0), MS_PKT_QUIC);
	assert_int_equal(magicsock_classify(b, 28, 0), MS_PKT_STUN);
	assert_int_equal(magicsock_classify(b, 19, 0), MS_PKT_QUIC);
	/* Wrong cookie, or top bits set: not STUN. */
	b[3] = 0;
	b[7] = 0x43;
	assert_int_equal(magicsock_classify(b, 20, 0), MS_PKT_QUIC);
	b[7] = 0x42;
	b[0] = 0x80;
	assert_int_equal(magicsock_classify(b, 20, 0), MS_PKT_QUIC);
	/* Disco magic, and a truncated magic. */
	memcpy(b, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN);
	assert_int_equal(magicsock_classify(b, 6, 0), MS_PKT_DISCO);
	assert_int_equal(magicsock_classify(b, 40, 0), MS_PKT_DISCO);
	assert_int_equal(magicsock_classify(b, 5, 0), MS_PKT_QUIC);
	/* ChannelData only from a relay, with a length that fits. */
	memset(b, 0, sizeof(b));
	b[0] = 0x40;
	b[1] = 0x01;
	b[3] = 8;
	assert_int_equal(magicsock_classify(b, 12, 1), MS_PKT_TURN);
	assert_int_equal(magicsock_classify(b, 16, 1), MS_PKT_TURN);
	assert_int_equal(magicsock_classify(b, 11, 1), MS_PKT_QUIC);
	assert_int_equal(magicsock_classify(b, 3, 1), MS_PKT_QUIC);
	assert_int_equal(magicsock_classify(b, 12, 0), MS_PKT_QUIC);
	b[0] = 0x50;
	assert_int_equal(magicsock_classify(b, 12, 1), MS_PKT_QUIC);
	/* QUIC long and short headers. */
	b[0] = 0xc3;
	assert_int_equal(magicsock_classify(b, 1, 0), MS_PKT_QUIC);
	b[0] = 0x41;
	assert_int_equal(magicsock_classify(b, 30, 0), MS_PKT_QUIC);
}

static void test_addr(void **state)
{
	union ms_addr a, b;
	char s[MS_ADDR_STRLEN];

	assert_int_equal(ms_addr_parse(&a, "127.0.0.1:41383"), 0);
	assert_int_equal(a.sa.sa_family, AF_INET);
	assert_string_equal(ms_addr_fmt(&a, s, sizeof(s)), "127.0.0.1:41383");
	assert_int_equal(ms_addr_parse(&b, "[::1]:9"), 0);
	assert_int_equal(b.sa.sa_family, AF_INET6);
	assert_string_equal(ms_addr_fmt(&b, s, sizeof(s)), "[::1]:9");
	assert_false(ms_addr_eq(&a, &b));
	assert_int_equal(ms_addr_parse(&b, "127.0.0.1:41383"), 0);
	assert_true(ms_addr_eq(&a, &b));
	assert_int_equal(ms_addr_parse(&a, "127.0.0.1"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, "127.0.0.1:"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, "127.0.0.1:65536"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, "127.0.0.1:-1"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, "127.0.0.1:1x"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, "[::1:9"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, "::1:9"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, ":9"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, "host.example:9"), -EINVAL);
	assert_int_equal(ms_addr_parse(&a, "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1"),
			 -EINVAL);
}

struct rx {
	size_t n, last_len;
	union ms_addr from;
	size_t lens[256];
	uint8_t first[256]; /* first byte of each datagram */
};

static void on_rx(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
{
	struct rx *r = ud;

	if (r->n < 256) {
		r->lens[r->n] = len;
		r->first[r->n] = pkt[0];
	}
	r->n++;
	r->last_len = len;
	r->from = *from;
}

static void spin(int ms)
{
	uint64_t end = uv_now(&loop) + (uint64_t)ms;

	while (uv_now(&loop) < end) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
		uv_update_time(&loop);
	}
}

static void addr_of(struct magicsock *ms, union ms_addr *a)
{
	assert_int_equal(ms_addr_parse(a, "127.0.0.1:0"), 0);
	a->in.sin_port = htons(magicsock_port(ms));
}

static void test_paths(void **state)
{
	struct magicsock_config cfg = { .port = 0, .fresh_ms = 100 };
	struct magicsock *a, *b;
	union ms_addr aa, ba, dead, got, many[MAGICSOCK_MAX_ADDRS + 1];
	struct magicsock_stats st;
	struct rx rb = { 0 };
	uint8_t pk[32], other[32], pkt[100];
	size_t i;

	memset(pk, 7, sizeof(pk));
	memset(other, 8, sizeof(other));
	memset(pkt, 0xc0, sizeof(pkt));
	assert_int_equal(magicsock_new(&a, &loop, &cfg), 0);
	assert_int_equal(magicsock_new(&b, &loop, &cfg), 0);
	assert_int_equal(magicsock_fixed_port(a), 0);
	addr_of(a, &aa);
	addr_of(b, &ba);
	magicsock_set_handler(b, MS_PKT_QUIC, on_rx, &rb);

	/* Unknown peer: no path, nothing sent. */
	assert_int_equal(magicsock_peer_path(a, pk, NULL), MS_PATH_NONE);
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), -EHOSTUNREACH);
	magicsock_get_stats(a, &st);
	assert_int_equal(st.tx_no_path, 1);

	/* Too many candidates, bad family. */
	for (i = 0; i <= MAGICSOCK_MAX_ADDRS; i++)
		many[i] = ba;
	assert_int_equal(magicsock_set_peer_addrs(a, pk, many, MAGICSOCK_MAX_ADDRS + 1), -E2BIG);
	memset(&dead, 0, sizeof(dead));
	assert_int_equal(magicsock_set_peer_addrs(a, pk, &dead, 1), -EINVAL);

	/* Two candidates, one dead: every candidate gets the packet. */
	assert_int_equal(ms_addr_parse(&dead, "127.0.0.1:9"), 0);
	many[0] = dead;
	many[1] = ba;
	assert_int_equal(magicsock_set_peer_addrs(a, pk, many, 2), 0);
	assert_int_equal(magicsock_peer_path(a, pk, &got), MS_PATH_PROBING);
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), 0);
	spin(50);
	assert_int_equal(rb.n, 1);
	assert_int_equal(rb.last_len, sizeof(pkt));
	assert_true(ms_addr_eq(&rb.from, &aa));
	magicsock_get_stats(a, &st);
	assert_int_equal(st.tx_packets, 2);

	/* Heard: only the fresh address is used, and reported as direct. */
	magicsock_peer_heard(a, pk, &ba);
	assert_int_equal(magicsock_peer_path(a, pk, &got), MS_PATH_DIRECT);
	assert_true(ms_addr_eq(&got, &ba));
	assert_string_equal(magicsock_path_name(MS_PATH_DIRECT), "direct");
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), 0);
	magicsock_get_stats(a, &st);
	assert_int_equal(st.tx_packets, 3);
	/* After fresh_ms it goes stale: back to probing every candidate. */
	spin(150);
	assert_int_equal(magicsock_peer_path(a, pk, NULL), MS_PATH_PROBING);
	assert_int_equal(rb.n, 2);

	/* Remove: gone. */
	magicsock_remove_peer(a, pk);
	magicsock_remove_peer(a, other);
	assert_int_equal(magicsock_peer_path(a, pk, NULL), MS_PATH_NONE);

	/* Unhandled classes and blackhole are counted, not delivered. */
	memcpy(pkt, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN);
	assert_int_equal(magicsock_send_to(a, &ba, pkt, sizeof(pkt)), 0);
	assert_int_equal(magicsock_send_to(a, &ba, pkt, 0), 0);
	spin(50);
	magicsock_get_stats(b, &st);
	assert_int_equal(st.rx_packets[MS_PKT_DISCO], 1);
	assert_int_equal(st.rx_packets[MS_PKT_JUNK], 1);
	assert_int_equal(st.rx_dropped, 2);
	assert_int_equal(rb.n, 2);
	magicsock_set_blackhole(b, 1);
	memset(pkt, 0xc0, sizeof(pkt));
	assert_int_equal(magicsock_send_to(a, &ba, pkt, sizeof(pkt)), 0);
	spin(50);
	assert_int_equal(rb.n, 2);

	/* Relays: bounded list. */
	for (i = 0; i < MAGICSOCK_MAX_RELAYS; i++)
		assert_int_equal(magicsock_add_relay(a, &ba), 0);
	assert_int_equal(magicsock_add_relay(a, &ba), -ENOSPC);

	magicsock_free(a);
	magicsock_free(b);
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* A fake TURN client: records what magicsock hands the relay. */
struct relay_log {
	int n;
	int fail;
	union ms_addr to;
	size_t len;
	struct magicsock *reenter; /* sends again from inside, if set */
	int reenter_rv;
};

static int relay_fn(void *ud, const union ms_addr *to, const uint8_t *buf, size_t len)
{
	struct relay_log *r = ud;

	(void)buf;
	r->n++;
	r->to = *to;
	r->len = len;
	if (r->reenter)
		r->reenter_rv = magicsock_send_to(r->reenter, to, buf, len);
	return r->fail ? -EIO : 0;
}

static void test_relay(void **state)
{
	struct magicsock_config cfg = { .port = 0, .fresh_ms = 100 };
	struct magicsock *a, *b;
	union ms_addr ba, server, prelay, other_relay, joiner, got, zero;
	struct magicsock_stats st;
	struct relay_log rl = { 0 };
	struct rx rb = { 0 }, ra = { 0 };
	uint8_t pk[32], pkt[100];
	size_t lens[3] = { 10, 10, 5 };
	uint8_t batch[25];
	int i;

	memset(pk, 9, sizeof(pk));
	memset(pkt, 0xc0, sizeof(pkt));
	memset(batch, 0xc0, sizeof(batch));
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(magicsock_new(&a, &loop, &cfg), 0);
	assert_int_equal(magicsock_new(&b, &loop, &cfg), 0);
	addr_of(b, &ba);
	magicsock_set_handler(b, MS_PKT_QUIC, on_rx, &rb);
	magicsock_set_handler(a, MS_PKT_QUIC, on_rx, &ra);
	assert_int_equal(ms_addr_parse(&server, "127.0.0.1:3478"), 0);
	assert_int_equal(ms_addr_parse(&prelay, "127.0.0.1:50001"), 0);
	assert_int_equal(ms_addr_parse(&other_relay, "[::ffff:127.0.0.1]:50002"), 0);
	assert_int_equal(magicsock_add_relay(a, &server), 0);

	/* Hostile relay candidates: no family, or the TURN server itself. */
	assert_int_equal(magicsock_set_peer_relay(a, pk, &zero), -EINVAL);
	assert_int_equal(magicsock_set_peer_relay(a, pk, &server), -EINVAL);
	assert_false(magicsock_is_relayed(a, &server));
	assert_int_equal(magicsock_peer_path(a, pk, NULL), MS_PATH_NONE);
	/* Clearing an unknown peer's relay is harmless. */
	assert_int_equal(magicsock_set_peer_relay(a, pk, NULL), 0);

	/* Only a relay candidate: probing (dialable), and without a relay
	 * sender a send has no way out. A record's word alone does not make
	 * an address relayed: sends by address still go straight out. */
	assert_int_equal(magicsock_set_peer_relay(a, pk, &prelay), 0);
	assert_false(magicsock_is_relayed(a, &prelay));
	assert_int_equal(magicsock_peer_path(a, pk, &got), MS_PATH_PROBING);
	assert_true(ms_addr_eq(&got, &prelay));
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), -EHOSTUNREACH);
	magicsock_get_stats(a, &st);
	assert_int_equal(st.tx_relay_errors, 0);
	assert_int_equal(st.tx_packets, 0);

	/* With the sender: relay and every direct candidate get it. */
	magicsock_set_relay_sender(a, relay_fn, &rl);
	assert_int_equal(magicsock_set_peer_addrs(a, pk, &ba, 1), 0);
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), 0);
	assert_int_equal(magicsock_send_peer(a, pk, pkt, 50), 0);
	assert_int_equal(rl.n, 2);
	assert_true(ms_addr_eq(&rl.to, &prelay));
	assert_int_equal(rl.len, 50);
	spin(30);
	assert_int_equal(rb.n, 2);

	/* Heard through the relay: path relay, direct only once a second. */
	magicsock_input_relayed(a, pkt, sizeof(pkt), &prelay);
	assert_true(magicsock_is_relayed(a, &prelay));
	assert_int_equal(ra.n, 1);
	assert_true(ms_addr_eq(&ra.from, &prelay));
	magicsock_peer_heard(a, pk, &prelay);
	assert_int_equal(magicsock_peer_path(a, pk, &got), MS_PATH_RELAY);
	assert_true(ms_addr_eq(&got, &prelay));
	assert_string_equal(magicsock_path_name(MS_PATH_RELAY), "relay");
	for (i = 0; i < 5; i++)
		assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), 0);
	assert_int_equal(rl.n, 7);
	spin(30);
	assert_int_equal(rb.n, 3);

	/* A failing relay is reported unless a direct try got out. */
	rl.fail = 1;
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), -EIO);
	rl.fail = 0;
	magicsock_get_stats(a, &st);
	assert_int_equal(st.tx_relayed, 7);
	assert_int_equal(st.tx_relay_errors, 1);

	/* Batches to the relayed peer go datagram by datagram. */
	assert_int_equal(magicsock_send_peer_batch(a, pk, batch, lens, 3), 3);
	assert_int_equal(rl.n, 11);
	assert_int_equal(rl.len, 5);

	/* A direct packet takes over: the relay gets nothing more. */
	magicsock_peer_heard(a, pk, &ba);
	assert_int_equal(magicsock_peer_path(a, pk, NULL), MS_PATH_DIRECT);
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), 0);
	assert_int_equal(rl.n, 11);

	/* An unknown sender relayed to us (a joiner): answers by address
	 * (v4-mapped or not) go back through the relay, also in batches. */
	magicsock_input_relayed(a, pkt, 20, &other_relay);
	assert_int_equal(ra.from.sa.sa_family, AF_INET);
	joiner = ra.from;
	assert_true(magicsock_is_relayed(a, &joiner));
	assert_int_equal(magicsock_send_to(a, &ra.from, pkt, 30), 0);
	assert_int_equal(rl.n, 12);
	assert_int_equal(magicsock_send_batch(a, &ra.from, batch, lens, 3), 3);
	assert_int_equal(rl.n, 15);
	/* Malformed relayed input: no address, empty datagram. */
	magicsock_input_relayed(a, pkt, 10, &zero);
	magicsock_input_relayed(a, pkt, 0, &prelay);
	assert_int_equal(ra.n, 2);
	magicsock_get_stats(a, &st);
	assert_int_equal(st.rx_packets[MS_PKT_JUNK], 1);

	/* The relay sending through magicsock again is refused, not looped. */
	rl.reenter = a;
	assert_int_equal(magicsock_send_to(a, &prelay, pkt, 10), 0);
	assert_int_equal(rl.reenter_rv, -ELOOP);
	rl.reenter = NULL;

	/* The relayed table is bounded: the oldest entries make room. */
	for (i = 0; i < MAGICSOCK_RELAYED_MAX + 4; i++) {
		union ms_addr x = prelay;

		x.in.sin_port = htons((uint16_t)(20000 + i));
		magicsock_input_relayed(a, pkt, 10, &x);
	}
	assert_false(magicsock_is_relayed(a, &joiner));
	assert_true(magicsock_is_relayed(a, &ra.from));

	/* Blackhole: the relay sees nothing either. */
	magicsock_set_blackhole(a, 1);
	magicsock_peer_heard(a, pk, &prelay);
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), 0);
	assert_int_equal(rl.n, 16);
	magicsock_set_blackhole(a, 0);

	/* Unregistered (allocation gone): relayed sends fail, the peer's
	 * relay can be cleared, and then only direct candidates remain. */
	magicsock_set_relay_sender(a, NULL, NULL);
	assert_int_equal(magicsock_set_peer_relay(a, pk, NULL), 0);
	spin(150);
	assert_int_equal(magicsock_peer_path(a, pk, NULL), MS_PATH_PROBING);
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)), 0);
	assert_int_equal(rl.n, 16);
	assert_int_equal(magicsock_send_to(a, &ra.from, pkt, 10), -ENOTCONN);
	magicsock_get_stats(a, &st);
	assert_int_equal(st.tx_relay_errors, 3);

	magicsock_free(a);
	magicsock_free(b);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_port_fallback(void **state)
{
	struct magicsock_config cfg = { 0 };
	struct magicsock *a, *b;

	assert_int_equal(magicsock_new(&a, &loop, &cfg), 0);
	cfg.port = magicsock_port(a);
	assert_int_equal(magicsock_new(&b, &loop, &cfg), 0);
	assert_int_equal(magicsock_fixed_port(b), 0);
	assert_int_not_equal(magicsock_port(b), cfg.port);
	magicsock_free(b);
	uv_run(&loop, UV_RUN_NOWAIT);
	/* Free again: the fixed port is ours now. */
	magicsock_free(a);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(magicsock_new(&b, &loop, &cfg), 0);
	assert_int_equal(magicsock_fixed_port(b), 1);
	assert_int_equal(magicsock_port(b), cfg.port);
	magicsock_free(b);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_oversized_rx(void **state)
{
	struct magicsock_config cfg = { 0 };
	struct magicsock *a;
	struct magicsock_stats st;
	struct rx r = { 0 };
	union ms_addr aa;
	uint8_t big[4000];
	int fd;

	assert_int_equal(magicsock_new(&a, &loop, &cfg), 0);
	magicsock_set_handler(a, MS_PKT_QUIC, on_rx, &r);
	addr_of(a, &aa);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	memset(big, 0xc0, sizeof(big));
	assert_int_equal(sendto(fd, big, sizeof(big), 0, &aa.sa, sizeof(aa.in)),
			 (ssize_t)sizeof(big));
	assert_int_equal(sendto(fd, big, MAGICSOCK_BUF_SIZE, 0, &aa.sa, sizeof(aa.in)),
			 MAGICSOCK_BUF_SIZE);
	spin(50);
	close(fd);
	magicsock_get_stats(a, &st);
	assert_int_equal(r.n, 1); /* exactly the buffer size passes */
	assert_int_equal(r.last_len, MAGICSOCK_BUF_SIZE);
	assert_int_equal(st.rx_packets[MS_PKT_JUNK], 1);
	assert_int_equal(st.rx_dropped, 1);
	magicsock_free(a);
	uv_run(&loop, UV_RUN_NOWAIT);
}

/*
 * Batch sends: equal-size runs leave as GSO sends (a shorter datagram ends a
 * run), all in one sendmmsg; the receiver (GRO on) splits coalesced
 * messages back into the original datagrams, in order. The same with GSO
 * off, one message per datagram.
 */
static void batch_round(int gso)
{
	struct magicsock_config cfg = { 0 };
	struct magicsock *a, *b;
	struct magicsock_stats st;
	struct rx r;
	union ms_addr ba;
	static uint8_t buf[MAGICSOCK_TX_BATCH * 1500];
	size_t lens[MAGICSOCK_TX_BATCH], n = 0, off = 0, i;
	uint8_t pk[32];

	memset(&r, 0, sizeof(r));
	memset(pk, 9, sizeof(pk));
	assert_int_equal(magicsock_new(&a, &loop, &cfg), 0);
	assert_int_equal(magicsock_new(&b, &loop, &cfg), 0);
	magicsock_set_gso(a, gso);
	magicsock_set_handler(b, MS_PKT_QUIC, on_rx, &r);
	addr_of(b, &ba);
	/* 40 x 1200, then 700 (ends the run), 3 x 1200, 1400 (larger: a new
	 * run), and a 20-byte tail. */
	for (i = 0; i < 46; i++) {
		lens[n] = i < 40 ? 1200 : i == 40 ? 700 : i < 44 ? 1200 : i == 44 ? 1400 : 20;
		memset(buf + off, 0x40 + (int)(i % 60), lens[n]);
		off += lens[n++];
	}
	assert_int_equal(magicsock_send_batch(a, &ba, buf, lens, n), (int)n);
	magicsock_get_stats(a, &st);
	assert_int_equal(st.tx_packets, n);
	assert_int_equal(st.tx_bytes, off);
	assert_int_equal(st.tx_syscalls, 1);
	assert_int_equal(st.tx_errors, 0);
	for (i = 0; i < 100 && r.n < n; i++)
		spin(5);
	assert_int_equal(r.n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(r.lens[i], lens[i]);
		assert_int_equal(r.first[i], 0x40 + (int)(i % 60));
	}
	/* Bounds: empty is a no-op, more than a batch is refused. */
	assert_int_equal(magicsock_send_batch(a, &ba, buf, lens, 0), 0);
	assert_int_equal(magicsock_send_batch(a, &ba, buf, lens, MAGICSOCK_TX_BATCH + 1), -EINVAL);
	/* The peer variant: unknown peer has no path; fresh peer works. */
	assert_int_equal(magicsock_send_peer_batch(a, pk, buf, lens, 2), -EHOSTUNREACH);
	magicsock_peer_heard(a, pk, &ba);
	assert_int_equal(magicsock_send_peer_batch(a, pk, buf, lens, 2), 2);
	for (i = 0; i < 100 && r.n < n + 2; i++)
		spin(5);
	assert_int_equal(r.n, n + 2);
	magicsock_free(a);
	magicsock_free(b);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void test_batch_gso(void **state)
{
	batch_round(1);
}

static void test_batch_plain(void **state)
{
	batch_round(0);
}

/* ---- disco ---- */

/* Two magicsocks with identities, each the other's peer by address. */
struct dpair {
	struct magicsock *a, *b;
	struct identity ia, ib;
	union ms_addr aa, ba;
	uint8_t ab[DISCO_KEY_LEN]; /* the a-b box key, to forge with */
};

static void dpair_open(struct dpair *p)
{
	struct magicsock_config cfg = { 0 };
	uint8_t seed[IDENTITY_SEED_LEN], curve[DISCO_KEY_LEN];

	memset(p, 0, sizeof(*p));
	memset(seed, 0x5a, sizeof(seed));
	assert_int_equal(identity_from_seed(seed, &p->ia), 0);
	memset(seed, 0x5b, sizeof(seed));
	assert_int_equal(identity_from_seed(seed, &p->ib), 0);
	assert_int_equal(disco_secret_from_ed25519(curve, p->ia.sk), 0);
	assert_int_equal(disco_shared_key(p->ab, curve, p->ib.pk), 0);
	assert_int_equal(magicsock_new(&p->a, &loop, &cfg), 0);
	assert_int_equal(magicsock_new(&p->b, &loop, &cfg), 0);
	addr_of(p->a, &p->aa);
	addr_of(p->b, &p->ba);
	assert_int_equal(magicsock_set_disco_key(p->a, p->ia.pk, p->ia.sk), 0);
	assert_int_equal(magicsock_set_disco_key(p->b, p->ib.pk, p->ib.sk), 0);
	assert_int_equal(magicsock_set_peer_addrs(p->a, p->ib.pk, &p->ba, 1), 0);
	assert_int_equal(magicsock_set_peer_addrs(p->b, p->ia.pk, &p->aa, 1), 0);
}

static void dpair_close(struct dpair *p)
{
	magicsock_free(p->a);
	magicsock_free(p->b);
	uv_run(&loop, UV_RUN_NOWAIT);
	identity_clear(&p->ia);
	identity_clear(&p->ib);
}

/* The peer's path is direct through exactly want. */
static int direct_via(struct magicsock *ms, const uint8_t *pk, const union ms_addr *want)
{
	union ms_addr got;

	return magicsock_peer_path(ms, pk, &got) == MS_PATH_DIRECT && ms_addr_eq(&got, want);
}

static int both_direct(struct dpair *p)
{
	return direct_via(p->a, p->ib.pk, &p->ba) && direct_via(p->b, p->ia.pk, &p->aa);
}

static int a_direct(struct dpair *p)
{
	return direct_via(p->a, p->ib.pk, &p->ba);
}

static int a_not_direct(struct dpair *p)
{
	return !a_direct(p);
}

/* Runs the loop until cond holds or max_ms pass: the ms it took, or -1. */
static int run_until(int (*cond)(struct dpair *), struct dpair *p, int max_ms)
{
	uint64_t start;

	uv_update_time(&loop);
	start = uv_now(&loop);
	for (;;) {
		if (cond(p))
			return (int)(uv_now(&loop) - start);
		if (uv_now(&loop) - start >= (uint64_t)max_ms)
			return -1;
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
		uv_update_time(&loop);
	}
}

/* A QUIC-looking packet to the peer: marks it active for disco. */
static void dpair_send(struct magicsock *ms, const uint8_t *pk)
{
	uint8_t pkt[60];

	memset(pkt, 0xc0, sizeof(pkt));
	assert_int_equal(magicsock_send_peer(ms, pk, pkt, sizeof(pkt)), 0);
}

/* Both ends active and confirmed. */
static void dpair_connect(struct dpair *p)
{
	dpair_send(p->a, p->ib.pk);
	dpair_send(p->b, p->ia.pk);
	assert_true(run_until(both_direct, p, 2000) >= 0);
}

/* A plain UDP socket on 127.0.0.1: the attacker, or a wiretap. */
static int udp_open(union ms_addr *a)
{
	socklen_t len = sizeof(a->in);
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(ms_addr_parse(a, "127.0.0.1:0"), 0);
	assert_int_equal(bind(fd, &a->sa, sizeof(a->in)), 0);
	assert_int_equal(getsockname(fd, &a->sa, &len), 0);
	return fd;
}

static void udp_send(int fd, const union ms_addr *to, const uint8_t *buf, size_t len)
{
	assert_int_equal(sendto(fd, buf, len, 0, &to->sa, sizeof(to->in)), (ssize_t)len);
}

/*
 * Runs the loop until a disco packet of the given type (and txid, unless
 * NULL) that opens under key arrives on fd; gives up after ~2 s. The raw
 * bytes are copied to raw (DISCO_MAX_LEN) when it is not NULL.
 */
static int udp_wait_disco(int fd, const uint8_t *key, int type, const uint8_t *txid,
			  struct disco_msg *m, uint8_t *raw, size_t *rawlen)
{
	uint8_t buf[MAGICSOCK_BUF_SIZE];
	ssize_t n;
	int i;

	for (i = 0; i < 2000; i++) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			uv_run(&loop, UV_RUN_NOWAIT);
			usleep(1000);
			uv_update_time(&loop);
			continue;
		}
		if (disco_open(buf, (size_t)n, key, m) != 0 || m->type != type)
			continue;
		if (txid && memcmp(m->txid, txid, DISCO_TXID_LEN) != 0)
			continue;
		if (raw) {
			memcpy(raw, buf, (size_t)n);
			*rawlen = (size_t)n;
		}
		return 0;
	}
	return -ETIMEDOUT;
}

/* Disco datagrams waiting on fd that open under key, of the given type. */
static int udp_count_disco(int fd, const uint8_t *key, int type)
{
	uint8_t buf[MAGICSOCK_BUF_SIZE];
	struct disco_msg m;
	ssize_t n;
	int count = 0;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
		if (disco_open(buf, (size_t)n, key, &m) == 0 && m.type == type)
			count++;
	return count;
}

/*
 * Only a sends: its pings reach b, b answers and punches back, so both
 * ends confirm the other's address with a pong.
 */
static void test_disco_direct(void **state)
{
	struct magicsock_stats sa, sb;
	struct dpair p;

	dpair_open(&p);
	/* Before any send nothing is pinged: no peer is active. */
	assert_int_equal(run_until(both_direct, &p, 600), -1);
	magicsock_get_stats(p.a, &sa);
	assert_int_equal(sa.disco_tx, 0);
	assert_int_equal(magicsock_peer_path(p.a, p.ib.pk, NULL), MS_PATH_PROBING);

	dpair_send(p.a, p.ib.pk);
	assert_true(run_until(both_direct, &p, 2000) >= 0);
	magicsock_get_stats(p.a, &sa);
	magicsock_get_stats(p.b, &sb);
	assert_true(sa.disco_tx >= 2); /* ping, pong to b's punch */
	assert_true(sb.disco_tx >= 2); /* pong, punch */
	assert_true(sa.disco_rx_ping >= 1);
	assert_true(sa.disco_rx_pong >= 1);
	assert_true(sb.disco_rx_ping >= 1);
	assert_true(sb.disco_rx_pong >= 1);
	assert_int_equal(sa.disco_rx_bad, 0);
	assert_int_equal(sb.disco_rx_bad, 0);
	/* Every disco datagram went to the disco handler, none dropped. */
	assert_int_equal(sb.rx_packets[MS_PKT_DISCO], sb.disco_rx_ping + sb.disco_rx_pong);
	dpair_close(&p);
}

/* Seals m as from_pk under key and sends it from fd to to. */
static void forge_send(int fd, const union ms_addr *to, const uint8_t *from_pk, const uint8_t *key,
		       int type, const uint8_t *txid)
{
	struct disco_msg m;
	uint8_t pkt[DISCO_MAX_LEN];
	int n;

	memset(&m, 0, sizeof(m));
	m.type = (uint8_t)type;
	if (txid)
		memcpy(m.txid, txid, DISCO_TXID_LEN);
	else
		disco_txid(m.txid);
	n = disco_seal(pkt, sizeof(pkt), from_pk, key, &m);
	assert_true(n > 0);
	udp_send(fd, to, pkt, (size_t)n);
}

/*
 * Hostile disco input to b while its path to a is direct: random boxes
 * under a's key (ping and pong size), a stranger's properly sealed ping, a
 * stranger's box claiming a's key, a pong nobody asked for. Each counts
 * once as bad and nothing else moves except with a's own traffic.
 */
static void test_disco_forged(void **state)
{
	struct magicsock_stats sa0, sb0, sa1, sb1;
	struct identity ic;
	struct dpair p;
	union ms_addr xa;
	uint8_t seed[IDENTITY_SEED_LEN], curve[DISCO_KEY_LEN];
	uint8_t cb[DISCO_KEY_LEN], pkt[DISCO_MAX_LEN];
	size_t len;
	int fd;

	dpair_open(&p);
	dpair_connect(&p);
	fd = udp_open(&xa);
	memset(seed, 0x5c, sizeof(seed));
	assert_int_equal(identity_from_seed(seed, &ic), 0);
	assert_int_equal(disco_secret_from_ed25519(curve, ic.sk), 0);
	assert_int_equal(disco_shared_key(cb, curve, p.ib.pk), 0);
	magicsock_get_stats(p.a, &sa0);
	magicsock_get_stats(p.b, &sb0);

	/* Right magic, version and a's key in clear, random box. */
	for (len = DISCO_HDR_LEN + 16 + 13; len <= DISCO_HDR_LEN + 16 + 32; len += 19) {
		memcpy(pkt, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN);
		pkt[MAGICSOCK_DISCO_MAGIC_LEN] = DISCO_VERSION;
		memcpy(pkt + MAGICSOCK_DISCO_MAGIC_LEN + 1, p.ia.pk, DISCO_KEY_LEN);
		randombytes_buf(pkt + DISCO_HDR_LEN - 24, len - (DISCO_HDR_LEN - 24));
		udp_send(fd, &p.ba, pkt, len);
	}
	/* A stranger b never heard of, sealing correctly for b. */
	forge_send(fd, &p.ba, ic.pk, cb, DISCO_PING, NULL);
	/* The stranger claiming to be a: b opens with the a-b key. */
	forge_send(fd, &p.ba, p.ia.pk, cb, DISCO_PING, NULL);
	/* A real-key pong whose txid b never sent. */
	forge_send(fd, &p.ba, p.ia.pk, p.ab, DISCO_PONG, NULL);
	spin(60);

	magicsock_get_stats(p.a, &sa1);
	magicsock_get_stats(p.b, &sb1);
	assert_int_equal(sb1.disco_rx_bad - sb0.disco_rx_bad, 5);
	assert_int_equal(sa1.disco_rx_bad, sa0.disco_rx_bad);
	/* Whatever b accepted meanwhile came from a. */
	assert_true((sb1.disco_rx_ping - sb0.disco_rx_ping) +
			    (sb1.disco_rx_pong - sb0.disco_rx_pong) <=
		    sa1.disco_tx - sa0.disco_tx);
	assert_int_equal(sb1.rx_packets[MS_PKT_DISCO] - sb0.rx_packets[MS_PKT_DISCO],
			 5 + (sb1.disco_rx_ping - sb0.disco_rx_ping) +
				 (sb1.disco_rx_pong - sb0.disco_rx_pong));
	assert_int_equal(sb1.rx_packets[MS_PKT_QUIC], sb0.rx_packets[MS_PKT_QUIC]);
	/* Nothing answered the attacker, no peer entry was made for the
	 * stranger, and both paths are as they were. */
	assert_int_equal(udp_count_disco(fd, p.ab, DISCO_PONG), 0);
	assert_int_equal(udp_count_disco(fd, cb, DISCO_PONG), 0);
	assert_int_equal(magicsock_peer_path(p.b, ic.pk, NULL), MS_PATH_NONE);
	assert_true(both_direct(&p));

	close(fd);
	identity_clear(&ic);
	dpair_close(&p);
}

/*
 * A wiretap x is one of a's candidates for b, so it catches a real ping of
 * a's. A pong for that ping from an address a did not ping is refused. The
 * ping replayed to b from x is answered there (pongs are harmless) but x
 * never becomes b's path: only a pong from x could do that. Neither does
 * a packet merely heard from x.
 */
static void test_disco_replay(void **state)
{
	struct magicsock_stats sa0, sa1;
	struct disco_msg ping, pong;
	struct dpair p;
	union ms_addr xa, ya, cand[2];
	uint8_t raw[DISCO_MAX_LEN];
	size_t rawlen;
	int fx, fy;

	dpair_open(&p);
	fx = udp_open(&xa);
	fy = udp_open(&ya);
	cand[0] = p.ba;
	cand[1] = xa;
	assert_int_equal(magicsock_set_peer_addrs(p.a, p.ib.pk, cand, 2), 0);
	dpair_send(p.a, p.ib.pk);
	dpair_send(p.b, p.ia.pk);
	assert_int_equal(udp_wait_disco(fx, p.ab, DISCO_PING, NULL, &ping, raw, &rawlen), 0);

	/* Its pong from y (b's key, right txid, wrong address): bad. */
	magicsock_get_stats(p.a, &sa0);
	forge_send(fy, &p.aa, p.ib.pk, p.ab, DISCO_PONG, ping.txid);
	spin(30);
	magicsock_get_stats(p.a, &sa1);
	assert_int_equal(sa1.disco_rx_bad - sa0.disco_rx_bad, 1);
	assert_false(direct_via(p.a, p.ib.pk, &ya));

	assert_true(run_until(both_direct, &p, 2000) >= 0);
	/* The replay: b answers x with x's own address... */
	udp_send(fx, &p.ba, raw, rawlen);
	assert_int_equal(udp_wait_disco(fx, p.ab, DISCO_PONG, ping.txid, &pong, NULL, NULL), 0);
	assert_true(ms_addr_eq(&pong.observed, &xa));
	/* ...but keeps its path to a, also after its ping to x goes
	 * unanswered, and after a packet "heard" from x. */
	assert_true(direct_via(p.b, p.ia.pk, &p.aa));
	magicsock_peer_heard(p.b, p.ia.pk, &xa);
	spin(300);
	assert_true(both_direct(&p));

	close(fx);
	close(fy);
	dpair_close(&p);
}

/*
 * Pings over the per-peer rate are dropped and counted: a burst of three
 * times the rate (well under a second, so at most two rate windows) gets
 * at most two windows' worth of pongs.
 */
static void test_disco_rate(void **state)
{
	struct magicsock_stats sb0, sb1;
	struct dpair p;
	union ms_addr xa;
	int fd, i, pongs;

	dpair_open(&p);
	fd = udp_open(&xa);
	magicsock_get_stats(p.b, &sb0);
	for (i = 0; i < 3 * MAGICSOCK_DISCO_RATE; i++)
		forge_send(fd, &p.ba, p.ia.pk, p.ab, DISCO_PING, NULL);
	spin(100);
	magicsock_get_stats(p.b, &sb1);
	pongs = udp_count_disco(fd, p.ab, DISCO_PONG);
	assert_true(pongs >= MAGICSOCK_DISCO_RATE);
	assert_true(pongs <= 2 * MAGICSOCK_DISCO_RATE);
	assert_int_equal(sb1.disco_rx_ping - sb0.disco_rx_ping, (uint64_t)pongs);
	assert_int_equal(sb1.disco_rx_bad - sb0.disco_rx_bad,
			 (uint64_t)(3 * MAGICSOCK_DISCO_RATE - pongs));
	close(fd);
	dpair_close(&p);
}

/*
 * b vanishes: a keeps its direct path until MAGICSOCK_DISCO_TRUST_MS after
 * the last pong (one lost heartbeat is not enough), then probes; once b
 * answers again both paths come back.
 */
static void test_disco_blackhole(void **state)
{
	struct dpair p;
	int t;

	dpair_open(&p);
	dpair_connect(&p);
	magicsock_set_blackhole(p.b, 1);
	t = run_until(a_not_direct, &p, MAGICSOCK_DISCO_TRUST_MS + 1000);
	assert_true(t >= MAGICSOCK_DISCO_TRUST_MS - MAGICSOCK_DISCO_HEARTBEAT_MS -
				 2 * MAGICSOCK_DISCO_TICK_MS);
	assert_int_equal(magicsock_peer_path(p.a, p.ib.pk, NULL), MS_PATH_PROBING);
	magicsock_set_blackhole(p.b, 0);
	assert_true(run_until(a_direct, &p, 2 * MAGICSOCK_DISCO_PROBE_MS + 500) >= 0);
	assert_true(run_until(both_direct, &p, 2000) >= 0);
	dpair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),        cmocka_unit_test(test_addr),
		cmocka_unit_test(test_paths),           cmocka_unit_test(test_relay),
		cmocka_unit_test(test_port_fallback),   cmocka_unit_test(test_oversized_rx),
		cmocka_unit_test(test_batch_gso),       cmocka_unit_test(test_batch_plain),
		cmocka_unit_test(test_disco_direct),    cmocka_unit_test(test_disco_forged),
		cmocka_unit_test(test_disco_replay),    cmocka_unit_test(test_disco_rate),
		cmocka_unit_test(test_disco_blackhole),
	};
	int rv;

	log_init(LL_ERROR);
	uv_loop_init(&loop);
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (uv_loop_close(&loop) != 0)
		return 1;
	return rv;
}
