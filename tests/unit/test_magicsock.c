/*
 * test_magicsock: packet classification (incl. truncated and hostile
 * lookalikes), address helpers, the peer path table and its freshness rule,
 * real socket round trips on 127.0.0.1, the fixed-port fallback, the
 * counters for dropped input, and the relay route (relayed input, relay
 * path, direct tries while relaying, hostile relay candidates).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "transport/magicsock.h"
#include "util/log.h"

static uv_loop_t loop;

static void
test_classify(void **state)
{
	uint8_t b[64];

	memset(b, 0, sizeof(b));
	assert_int_equal(magicsock_classify(b, 0, 0), MS_PKT_JUNK);
	/* STUN binding request: type 0x0001, length 0, cookie. */
	b[1] = 0x01;
	b[4] = 0x21; b[5] = 0x12; b[6] = 0xa4; b[7] = 0x42;
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
	b[0] = 0x40; b[1] = 0x01; b[3] = 8;
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

static void
test_addr(void **state)
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
	assert_int_equal(ms_addr_parse(&a,
	    "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1"), -EINVAL);
}

struct rx {
	size_t n, last_len;
	union ms_addr from;
	size_t lens[256];
	uint8_t first[256];	/* first byte of each datagram */
};

static void
on_rx(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from)
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

static void
spin(int ms)
{
	uint64_t end = uv_now(&loop) + (uint64_t)ms;

	while (uv_now(&loop) < end) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
		uv_update_time(&loop);
	}
}

static void
addr_of(struct magicsock *ms, union ms_addr *a)
{
	assert_int_equal(ms_addr_parse(a, "127.0.0.1:0"), 0);
	a->in.sin_port = htons(magicsock_port(ms));
}

static void
test_paths(void **state)
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
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)),
	    -EHOSTUNREACH);
	magicsock_get_stats(a, &st);
	assert_int_equal(st.tx_no_path, 1);

	/* Too many candidates, bad family. */
	for (i = 0; i <= MAGICSOCK_MAX_ADDRS; i++)
		many[i] = ba;
	assert_int_equal(magicsock_set_peer_addrs(a, pk, many,
	    MAGICSOCK_MAX_ADDRS + 1), -E2BIG);
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
	struct magicsock *reenter;	/* sends again from inside, if set */
	int reenter_rv;
};

static int
relay_fn(void *ud, const union ms_addr *to, const uint8_t *buf, size_t len)
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

static void
test_relay(void **state)
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
	assert_int_equal(magicsock_send_peer(a, pk, pkt, sizeof(pkt)),
	    -EHOSTUNREACH);
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

static void
test_port_fallback(void **state)
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

static void
test_oversized_rx(void **state)
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
	assert_int_equal(sendto(fd, big, sizeof(big), 0, &aa.sa,
	    sizeof(aa.in)), (ssize_t)sizeof(big));
	assert_int_equal(sendto(fd, big, MAGICSOCK_BUF_SIZE, 0, &aa.sa,
	    sizeof(aa.in)), MAGICSOCK_BUF_SIZE);
	spin(50);
	close(fd);
	magicsock_get_stats(a, &st);
	assert_int_equal(r.n, 1);	/* exactly the buffer size passes */
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
static void
batch_round(int gso)
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
		lens[n] = i < 40 ? 1200 : i == 40 ? 700 : i < 44 ? 1200 :
		    i == 44 ? 1400 : 20;
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
	assert_int_equal(magicsock_send_batch(a, &ba, buf, lens,
	    MAGICSOCK_TX_BATCH + 1), -EINVAL);
	/* The peer variant: unknown peer has no path; fresh peer works. */
	assert_int_equal(magicsock_send_peer_batch(a, pk, buf, lens, 2),
	    -EHOSTUNREACH);
	magicsock_peer_heard(a, pk, &ba);
	assert_int_equal(magicsock_send_peer_batch(a, pk, buf, lens, 2), 2);
	for (i = 0; i < 100 && r.n < n + 2; i++)
		spin(5);
	assert_int_equal(r.n, n + 2);
	magicsock_free(a);
	magicsock_free(b);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static void
test_batch_gso(void **state)
{
	batch_round(1);
}

static void
test_batch_plain(void **state)
{
	batch_round(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_relay),
		cmocka_unit_test(test_port_fallback),
		cmocka_unit_test(test_oversized_rx),
		cmocka_unit_test(test_batch_gso),
		cmocka_unit_test(test_batch_plain),
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
