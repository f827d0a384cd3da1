/*
 * test_transport_quic: QUIC endpoints end to end over real UDP sockets on
 * 127.0.0.1, all in one libuv loop: mutual key checks, refusal, datagrams
 * (exact cap, cap + 1, bursts, the bounded send queue's -EAGAIN and the
 * writable event), control messages (600 KB, oversized), close
 * codes, idle timeout, simultaneous-dial de-duplication (and a peer that
 * restarts and dials again, replacing the connection it lost), garbage input;
 * limits on what others may open (per client key, per source address) and
 * the close of a connection whose peer lets our send queue overflow; Retry
 * (a handshake through it, a replayed Initial that leaves nothing open);
 * DATAGRAM-only traffic over a lossy link and across a path that dies and
 * returns (it must never stall). Every wait is bounded by a deadline timer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "loop_wait.h"
#include <sodium.h>

#include "transport/quic.h"
#include "transport/magicsock.h"
#include "util/log.h"

struct node {
	uv_loop_t *loop;
	struct magicsock *ms;
	struct quic_endpoint *ep;
	uint8_t seed[32];
	uint8_t pk[32];
	union ms_addr addr;
	int refuse;
	int trust; /* mark accepted connections trusted */
	int accepts;
	int confirmed, closed;
	struct quic_conn *conn; /* last confirmed */
	enum quic_close_reason reason;
	uint64_t code;
	size_t dgrams, last_dgram;
	size_t msgs, last_msg;
	uint32_t last_msg_sum;
	int echo;  /* echo datagrams back */
	int known; /* own dials + accepted - closed */
};

static uv_loop_t loop;

static void ev_closed(void *ud, struct quic_conn *c, enum quic_close_reason r, uint64_t code)
{
	struct node *n = ud;

	n->closed++;
	n->known--;
	n->reason = r;
	n->code = code;
	if (n->conn == c)
		n->conn = NULL;
}

static int ev_accept(void *ud, const uint8_t pk[32], const char *alpn)
{
	struct node *n = ud;

	n->accepts++;
	return n->refuse ? -1 : 0;
}

static void ev_confirmed(void *ud, struct quic_conn *c)
{
	struct node *n = ud;

	n->confirmed++;
	n->conn = c;
	if (!quic_conn_is_client(c))
		n->known++;
	if (n->trust && !quic_conn_is_client(c))
		quic_conn_set_trusted(c, 1);
}

static void ev_datagram(void *ud, struct quic_conn *c, const uint8_t *buf, size_t len)
{
	struct node *n = ud;

	n->dgrams++;
	n->last_dgram = len;
	if (n->echo)
		quic_conn_send_datagram(c, buf, len);
}

static uint32_t checksum(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void ev_message(void *ud, struct quic_conn *c, const uint8_t *buf, size_t len)
{
	struct node *n = ud;

	n->msgs++;
	n->last_msg = len;
	n->last_msg_sum = checksum(buf, len);
}

static const struct quic_events events = {
	.accept = ev_accept,
	.confirmed = ev_confirmed,
	.datagram = ev_datagram,
	.message = ev_message,
	.closed = ev_closed,
};

static void node_init(struct node *n, uint8_t tag, const struct quic_config *cfg)
{
	struct magicsock_config mc = { 0 };
	uint8_t sk[64];

	memset(n, 0, sizeof(*n));
	n->loop = &loop;
	memset(n->seed, tag, sizeof(n->seed));
	crypto_sign_seed_keypair(n->pk, sk, n->seed);
	assert_int_equal(magicsock_new(&n->ms, &loop, &mc), 0);
	assert_int_equal(quic_endpoint_new(&n->ep, &loop, n->ms, n->seed, cfg, &events, n), 0);
	assert_memory_equal(quic_endpoint_key(n->ep), n->pk, 32);
	assert_int_equal(ms_addr_parse(&n->addr, "127.0.0.1:0"), 0);
	n->addr.in.sin_port = htons(magicsock_port(n->ms));
}

static void node_close(struct node *n)
{
	quic_endpoint_free(n->ep);
	magicsock_free(n->ms);
}

/* a learns b's address */
static void introduce(struct node *a, struct node *b)
{
	assert_int_equal(magicsock_set_peer_addrs(a->ms, b->pk, &b->addr, 1), 0);
}

static int never(void *arg)
{
	return 0;
}

static void settle(uint64_t ms)
{
	loop_wait(&loop, never, NULL, ms);
}

struct pair {
	struct node *a, *b;
};

static int both_confirmed(void *arg)
{
	struct pair *p = arg;

	return p->a->confirmed > 0 && p->b->confirmed > 0;
}

static int a_closed(void *arg)
{
	return ((struct pair *)arg)->a->closed > 0;
}

static int both_closed(void *arg)
{
	struct pair *p = arg;

	return p->a->closed > 0 && p->b->closed > 0;
}

static void finish(struct node *a, struct node *b)
{
	node_close(a);
	node_close(b);
	settle(20);
}

static struct quic_conn *connect_pair(struct node *a, struct node *b, const char *alpn)
{
	struct pair p = { a, b };
	struct quic_conn *c;

	introduce(a, b);
	assert_int_equal(quic_connect(a->ep, b->pk, alpn, &c), 0);
	assert_true(loop_wait(&loop, both_confirmed, &p, 5000));
	assert_ptr_equal(a->conn, c);
	return c;
}

static void test_handshake(void **state)
{
	struct node a, b;
	struct quic_conn *c;
	union ms_addr got;
	struct quic_stats st;

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	c = connect_pair(&a, &b, QUIC_ALPN_MESH);
	assert_memory_equal(quic_conn_peer(c), b.pk, 32);
	assert_memory_equal(quic_conn_peer(b.conn), a.pk, 32);
	assert_string_equal(quic_conn_alpn(b.conn), QUIC_ALPN_MESH);
	assert_true(quic_conn_is_client(c));
	assert_false(quic_conn_is_client(b.conn));
	assert_int_equal(b.accepts, 1);
	assert_ptr_equal(quic_endpoint_find(a.ep, b.pk, QUIC_ALPN_MESH), c);
	assert_null(quic_endpoint_find(a.ep, b.pk, QUIC_ALPN_BLOBS));
	/* Both sides learned the other's real address from valid packets. */
	assert_int_equal(magicsock_peer_path(a.ms, b.pk, &got), MS_PATH_DIRECT);
	assert_true(ms_addr_eq(&got, &b.addr));
	assert_int_equal(magicsock_peer_path(b.ms, a.pk, &got), MS_PATH_DIRECT);
	assert_int_equal(ntohs(got.in.sin_port), magicsock_port(a.ms));
	quic_conn_get_stats(c, &st);
	assert_true(st.tx_packets > 0 && st.rx_packets > 0);
	assert_true(st.rtt_ms > 0 && st.rtt_ms < 1000);
	/* The blobs ALPN is accepted too and reported to the server. */
	a.confirmed = b.confirmed = 0;
	assert_int_equal(quic_connect(a.ep, b.pk, QUIC_ALPN_BLOBS, &c), 0);
	{
		struct pair p = { &a, &b };
		assert_true(loop_wait(&loop, both_confirmed, &p, 5000));
	}
	assert_string_equal(quic_conn_alpn(b.conn), QUIC_ALPN_BLOBS);
	/* Bad arguments. */
	assert_int_equal(quic_connect(a.ep, b.pk, "h3", &c), -EINVAL);
	assert_int_equal(quic_connect(a.ep, a.pk, QUIC_ALPN_MESH, &c), -EINVAL);
	{
		uint8_t nobody[32] = { 9 };
		assert_int_equal(quic_connect(a.ep, nobody, QUIC_ALPN_MESH, &c), -EHOSTUNREACH);
	}
	finish(&a, &b);
}

static void test_wrong_key(void **state)
{
	struct node a, b, c;
	struct quic_conn *qc;
	struct pair p = { &a, &b };

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	node_init(&c, 3, NULL);
	/* a believes c lives at b's address: b answers with its own key. */
	assert_int_equal(magicsock_set_peer_addrs(a.ms, c.pk, &b.addr, 1), 0);
	assert_int_equal(quic_connect(a.ep, c.pk, QUIC_ALPN_MESH, &qc), 0);
	assert_true(loop_wait(&loop, a_closed, &p, 5000));
	assert_int_equal(a.reason, QUIC_CLOSE_HANDSHAKE);
	assert_int_equal(a.confirmed, 0);
	settle(100);
	assert_int_equal(b.confirmed, 0);
	assert_int_equal(b.closed, 0); /* never announced: never closed */
	node_close(&c);
	finish(&a, &b);
}

static void test_refused(void **state)
{
	struct node a, b;
	struct quic_conn *qc;
	struct pair p = { &a, &b };

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	b.refuse = 1;
	introduce(&a, &b);
	assert_int_equal(quic_connect(a.ep, b.pk, QUIC_ALPN_MESH, &qc), 0);
	assert_true(loop_wait(&loop, a_closed, &p, 5000));
	assert_int_equal(a.reason, QUIC_CLOSE_HANDSHAKE);
	assert_int_equal(a.confirmed, 0);
	assert_int_equal(b.accepts, 1);
	assert_int_equal(b.confirmed, 0);
	finish(&a, &b);
}

static int a_settled(void *arg)
{
	struct pair *p = arg;

	return p->a->confirmed + p->a->closed >= 3;
}

/* A client key gets max_conns_per_key accepted connections, no more. */
static void test_limit_key(void **state)
{
	struct quic_config cfg = { .max_conns_per_key = 2 };
	struct quic_endpoint_stats st;
	struct node a, b;
	struct quic_conn *qc;
	struct pair p = { &a, &b };
	int i;

	node_init(&a, 1, NULL);
	node_init(&b, 2, &cfg);
	introduce(&a, &b);
	for (i = 0; i < 3; i++)
		assert_int_equal(quic_connect(a.ep, b.pk, QUIC_ALPN_BLOBS, &qc), 0);
	assert_true(loop_wait(&loop, a_settled, &p, 5000));
	assert_int_equal(a.confirmed, 2);
	assert_int_equal(a.closed, 1);
	assert_int_equal(a.reason, QUIC_CLOSE_HANDSHAKE);
	quic_endpoint_get_stats(b.ep, &st);
	assert_int_equal(st.refused_key, 1);
	finish(&a, &b);
}

struct trio {
	struct node *c[3], *b;
};

static int clients_settled(void *arg)
{
	struct trio *t = arg;
	int i, n = 0;

	for (i = 0; i < 3; i++)
		n += t->c[i]->confirmed + t->c[i]->closed;
	return n >= 3;
}

/* One source address gets max_conns_per_source accepted connections. */
static void test_limit_source(void **state)
{
	struct quic_config bcfg = { .max_conns_per_source = 2 };
	struct quic_config ccfg = { .handshake_timeout_ms = 1500 };
	struct quic_endpoint_stats st;
	struct node c[3], b;
	struct trio t = { { &c[0], &c[1], &c[2] }, &b };
	struct quic_conn *qc;
	int i, confirmed = 0, refused = 0;

	node_init(&b, 9, &bcfg);
	for (i = 0; i < 3; i++) {
		node_init(&c[i], (uint8_t)(1 + i), &ccfg);
		introduce(&c[i], &b);
		assert_int_equal(quic_connect(c[i].ep, b.pk, QUIC_ALPN_MESH, &qc), 0);
	}
	assert_true(loop_wait(&loop, clients_settled, &t, 5000));
	for (i = 0; i < 3; i++) {
		confirmed += c[i].confirmed;
		refused += c[i].closed && c[i].reason == QUIC_CLOSE_HANDSHAKE;
	}
	assert_int_equal(confirmed, 2);
	assert_int_equal(refused, 1);
	quic_endpoint_get_stats(b.ep, &st);
	assert_true(st.refused_source >= 1);
	for (i = 0; i < 3; i++)
		node_close(&c[i]);
	node_close(&b);
	settle(20);
}

static int node_settled(void *arg)
{
	struct node *n = arg;

	return n->confirmed + n->closed > 0;
}

/* Connections the owner trusts (members) leave their source's share free:
 * three clients from one address all get in with a share of 2. */
static void test_limit_source_trusted(void **state)
{
	struct quic_config bcfg = { .max_conns_per_source = 2 };
	struct quic_config ccfg = { .handshake_timeout_ms = 1500 };
	struct node c[3], b;
	struct quic_conn *qc;
	int i, confirmed = 0;

	node_init(&b, 9, &bcfg);
	b.trust = 1;
	for (i = 0; i < 3; i++) {
		node_init(&c[i], (uint8_t)(1 + i), &ccfg);
		introduce(&c[i], &b);
	}
	/* One at a time: trust is given once a connection is up. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(quic_connect(c[i].ep, b.pk, QUIC_ALPN_MESH, &qc), 0);
		assert_true(loop_wait(&loop, node_settled, &c[i], 5000));
	}
	for (i = 0; i < 3; i++)
		confirmed += c[i].confirmed;
	assert_int_equal(confirmed, 3);
	assert_int_equal(quic_endpoint_set_max_conns(b.ep, 8), -EINVAL);
	assert_int_equal(quic_endpoint_set_max_conns(b.ep, 4096), 0);
	for (i = 0; i < 3; i++)
		node_close(&c[i]);
	node_close(&b);
	settle(20);
}

/* A peer that stops acknowledging makes us close, not buffer without end. */
static void test_overload(void **state)
{
	struct quic_config cfg = { .txq_cap = 32 * 1024 };
	struct quic_endpoint_stats st;
	struct node a, b;
	struct quic_conn *c;
	struct pair p = { &a, &b };
	uint8_t msg[8192];
	int i, rv = 0;

	node_init(&a, 1, &cfg);
	node_init(&b, 2, NULL);
	c = connect_pair(&a, &b, QUIC_ALPN_MESH);
	magicsock_set_blackhole(b.ms, 1);
	memset(msg, 0x5a, sizeof(msg));
	for (i = 0; i < 10 && rv == 0; i++)
		rv = quic_conn_send_msg(c, msg, sizeof(msg));
	assert_int_equal(rv, -ENOBUFS);
	assert_true(i >= 3);
	assert_int_equal(a.closed, 0); /* never from inside the call */
	assert_true(loop_wait(&loop, a_closed, &p, 2000));
	assert_int_equal(a.reason, QUIC_CLOSE_LOCAL);
	assert_int_equal(a.code, QUIC_CODE_OVERLOAD);
	quic_endpoint_get_stats(a.ep, &st);
	assert_int_equal(st.overloads, 1);
	magicsock_set_blackhole(b.ms, 0);
	finish(&a, &b);
}

/* A plain UDP socket on 127.0.0.1 (the wiretap, or the spoofer). */
static int raw_socket(union ms_addr *a)
{
	socklen_t len = sizeof(a->in);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_int_equal(ms_addr_parse(a, "127.0.0.1:0"), 0);
	assert_int_equal(bind(fd, &a->sa, sizeof(a->in)), 0);
	assert_int_equal(getsockname(fd, &a->sa, &len), 0);
	return fd;
}

struct capture {
	int fd;
	uint8_t buf[2048];
	ssize_t len;
};

static int captured(void *arg)
{
	struct capture *c = arg;

	if (c->len <= 0) /* loop_wait asks once more at the end */
		c->len = recv(c->fd, c->buf, sizeof(c->buf), 0);
	return c->len > 0;
}

static int never_true(void *arg)
{
	(void)arg;
	return 0;
}

/*
 * With Retry on, a client proves its address before the server keeps any
 * state: a real handshake still completes, and a client Initial replayed
 * from another address (a spoofer's) gets a Retry and leaves nothing open.
 * Without Retry the same replay holds a half-open slot.
 */
static void test_retry(void **state)
{
	struct quic_config rcfg = { .retry_always = 1 };
	struct quic_endpoint_stats st;
	struct node a, b, x, plain;
	struct quic_conn *qc;
	struct capture cap = { .len = 0 };
	union ms_addr wiretap, spoofer;
	int spoof;

	node_init(&a, 1, NULL);
	node_init(&b, 2, &rcfg);
	connect_pair(&a, &b, QUIC_ALPN_MESH);
	quic_endpoint_get_stats(b.ep, &st);
	assert_true(st.retries >= 1);
	finish(&a, &b);

	/* x's first Initial, caught on a wiretap posing as b. */
	node_init(&x, 3, NULL);
	node_init(&b, 2, &rcfg);
	node_init(&plain, 4, NULL);
	cap.fd = raw_socket(&wiretap);
	assert_int_equal(magicsock_set_peer_addrs(x.ms, b.pk, &wiretap, 1), 0);
	assert_int_equal(quic_connect(x.ep, b.pk, QUIC_ALPN_MESH, &qc), 0);
	assert_true(loop_wait(&loop, captured, &cap, 2000));
	spoof = raw_socket(&spoofer);
	assert_int_equal(sendto(spoof, cap.buf, (size_t)cap.len, 0, &b.addr.sa, sizeof(b.addr.in)),
			 cap.len);
	loop_wait(&loop, never_true, NULL, 200);
	quic_endpoint_get_stats(b.ep, &st);
	assert_true(st.retries >= 1);
	assert_int_equal(st.conns, 0);
	/* The same replay to a server without Retry takes a slot. */
	assert_int_equal(sendto(spoof, cap.buf, (size_t)cap.len, 0, &plain.addr.sa,
				sizeof(plain.addr.in)),
			 cap.len);
	loop_wait(&loop, never_true, NULL, 200);
	quic_endpoint_get_stats(plain.ep, &st);
	assert_int_equal(st.conns, 1);
	close(spoof);
	close(cap.fd);
	node_close(&x);
	node_close(&plain);
	node_close(&b);
	settle(20);
}

static int got_dgrams(void *arg)
{
	struct pair *p = arg;

	return p->b->dgrams >= 1 && p->a->dgrams >= 1;
}

static void test_datagrams(void **state)
{
	struct node a, b;
	struct quic_conn *c;
	struct pair p = { &a, &b };
	uint8_t buf[2000];
	size_t max;

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	c = connect_pair(&a, &b, QUIC_ALPN_MESH);
	max = quic_conn_max_datagram(c);
	/* 1350-byte frame cap minus type byte and 2-byte length. */
	assert_int_equal(max, 1347);
	assert_int_equal(quic_conn_max_datagram(b.conn), 1347);
	memset(buf, 0x45, sizeof(buf));
	assert_int_equal(quic_conn_send_datagram(c, buf, max + 1), -EMSGSIZE);
	assert_int_equal(quic_conn_send_datagram(c, buf, 0), -EMSGSIZE);
	assert_int_equal(quic_conn_send_datagram(c, buf, max), 0);
	assert_int_equal(quic_conn_send_datagram(b.conn, buf, max), 0);
	assert_int_equal(quic_conn_send_datagram(b.conn, buf, max + 1), -EMSGSIZE);
	assert_true(loop_wait(&loop, got_dgrams, &p, 3000));
	assert_int_equal(b.last_dgram, max);
	assert_int_equal(a.last_dgram, max);
	finish(&a, &b);
}

struct burst {
	struct node *b;
	size_t want;
};

static int burst_done(void *arg)
{
	struct burst *x = arg;

	return x->b->dgrams >= x->want;
}

static void test_burst(void **state)
{
	struct node a, b;
	struct quic_conn *c;
	struct quic_stats st;
	struct burst x = { &b, 1000 };
	uint8_t buf[1280];
	size_t sent = 0, blocked = 0;
	int rv;

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	c = connect_pair(&a, &b, QUIC_ALPN_MESH);
	memset(buf, 0x45, sizeof(buf));
	while (sent < 1000) {
		rv = quic_conn_send_datagram(c, buf, sizeof(buf));
		if (rv == 0) {
			sent++;
			continue;
		}
		assert_int_equal(rv, -EAGAIN);
		blocked++;
		/* Congestion window full: let ACKs arrive. */
		uv_run(&loop, UV_RUN_ONCE);
		assert_true(blocked < 100000);
	}
	loop_wait(&loop, burst_done, &x, 3000);
	/* Loopback with 4 MB buffers: nothing may go missing. */
	assert_int_equal(b.dgrams, 1000);
	quic_conn_get_stats(c, &st);
	assert_int_equal(st.dgrams_tx, 1000);
	assert_int_equal(st.dgrams_dropped, blocked);
	finish(&a, &b);
}

struct wr {
	struct quic_conn *c;
	size_t calls;
	size_t sent_in_cb;
};

static void on_writable(void *ud, struct quic_conn *c)
{
	struct wr *w = ud;
	uint8_t buf[1000];

	assert_ptr_equal(c, w->c);
	w->calls++;
	/* Sending from inside the event is allowed. */
	memset(buf, 0x45, sizeof(buf));
	if (quic_conn_send_datagram(c, buf, sizeof(buf)) == 0)
		w->sent_in_cb++;
}

static int writable_called(void *arg)
{
	return ((struct wr *)arg)->calls > 0;
}

/*
 * Backpressure: without running the loop the queue takes exactly
 * QUIC_DGRAM_QUEUE datagrams, then refuses with -EAGAIN (nothing dropped
 * silently); the writable event comes once it drained, and every datagram
 * the queue took arrives.
 */
static void test_backpressure(void **state)
{
	struct node a, b;
	struct quic_conn *c;
	struct quic_stats st;
	struct wr w = { 0 };
	struct burst x = { &b, QUIC_DGRAM_QUEUE + 1 };
	uint8_t buf[1000];
	size_t i;

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	c = connect_pair(&a, &b, QUIC_ALPN_MESH);
	w.c = c;
	quic_endpoint_set_writable(a.ep, on_writable, &w);
	memset(buf, 0x45, sizeof(buf));
	b.dgrams = 0;
	for (i = 0; i < QUIC_DGRAM_QUEUE; i++)
		assert_int_equal(quic_conn_send_datagram(c, buf, sizeof(buf)), 0);
	assert_int_equal(quic_conn_send_datagram(c, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(quic_conn_send_datagram(c, buf, sizeof(buf)), -EAGAIN);
	/* Too big stays too big, queue full or not. */
	assert_int_equal(quic_conn_send_datagram(c, buf, 5000), -EMSGSIZE);
	assert_true(loop_wait(&loop, writable_called, &w, 3000));
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.sent_in_cb, 1);
	assert_true(loop_wait(&loop, burst_done, &x, 3000));
	settle(50);
	assert_int_equal(b.dgrams, QUIC_DGRAM_QUEUE + 1);
	quic_conn_get_stats(c, &st);
	assert_int_equal(st.dgrams_tx, QUIC_DGRAM_QUEUE + 1);
	assert_int_equal(st.dgrams_dropped, 3);
	/* No refusal since: no further event. */
	assert_int_equal(w.calls, 1);
	quic_endpoint_set_writable(a.ep, NULL, NULL);
	finish(&a, &b);
}

static int b_has_msg(void *arg)
{
	return ((struct pair *)arg)->b->msgs > 0;
}

static int msg_count(void *arg)
{
	struct pair *p = arg;

	return p->b->msgs >= 2 && p->a->msgs >= 1;
}

static void test_messages(void **state)
{
	struct node a, b;
	struct quic_conn *c;
	struct pair p = { &a, &b };
	size_t big = 600 * 1024, i;
	uint8_t *buf;

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	c = connect_pair(&a, &b, QUIC_ALPN_MESH);
	buf = malloc(QUIC_MSG_CAP + 1);
	assert_non_null(buf);
	for (i = 0; i <= QUIC_MSG_CAP; i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 9));
	assert_int_equal(quic_conn_send_msg(c, (const uint8_t *)"hello", 5), 0);
	assert_int_equal(quic_conn_send_msg(c, buf, big), 0);
	/* The server can answer on the stream the client opened. */
	assert_int_equal(quic_conn_send_msg(b.conn, (const uint8_t *)"hi", 2), 0);
	assert_int_equal(quic_conn_send_msg(c, buf, QUIC_MSG_CAP + 1), -EMSGSIZE);
	assert_int_equal(quic_conn_send_msg(c, buf, 0), -EMSGSIZE);
	assert_true(loop_wait(&loop, msg_count, &p, 10000));
	assert_int_equal(b.msgs, 2);
	assert_int_equal(b.last_msg, big);
	assert_int_equal(b.last_msg_sum, checksum(buf, big));
	assert_int_equal(a.last_msg, 2);
	/* Exactly the cap still passes. */
	assert_int_equal(quic_conn_send_msg(c, buf, QUIC_MSG_CAP), 0);
	b.msgs = 0;
	assert_true(loop_wait(&loop, b_has_msg, &p, 5000));
	assert_int_equal(b.last_msg, QUIC_MSG_CAP);
	assert_int_equal(b.last_msg_sum, checksum(buf, QUIC_MSG_CAP));
	free(buf);
	finish(&a, &b);
}

/* A bulk sender on the control stream: fill the queue, ask for room, fill
 * again from the writable event, until n messages are out. */
struct bulk {
	struct quic_conn *c;
	uint8_t *buf;
	size_t len, n, queued, calls;
};

static void bulk_fill(struct bulk *k)
{
	while (k->queued < k->n && quic_conn_txq_room(k->c) >= k->len) {
		assert_int_equal(quic_conn_send_msg(k->c, k->buf, k->len), 0);
		k->queued++;
	}
	if (k->queued < k->n)
		quic_conn_want_room(k->c, 4 * k->len);
}

static void on_room(void *ud, struct quic_conn *c)
{
	struct bulk *k = ud;

	assert_ptr_equal(c, k->c);
	k->calls++;
	bulk_fill(k);
}

static int bulk_arrived(void *arg)
{
	struct pair *p = arg;

	return p->b->msgs >= 200;
}

/*
 * 200 messages of 256 KiB (50 MiB) through a 2 MiB send queue on a files
 * connection: the queue never overflows (the connection stays up), the
 * writable event comes back for room again and again, every message
 * arrives whole.
 */
static void test_want_room(void **state)
{
	struct quic_config cfg = { .txq_cap = 2u << 20 };
	struct node a, b;
	struct pair p = { &a, &b };
	struct bulk k = { .len = 256 * 1024, .n = 200 };

	(void)state;
	node_init(&a, 1, &cfg);
	node_init(&b, 2, NULL);
	k.c = connect_pair(&a, &b, QUIC_ALPN_FILES);
	k.buf = malloc(k.len);
	assert_non_null(k.buf);
	for (size_t i = 0; i < k.len; i++)
		k.buf[i] = (uint8_t)(i * 13 + 1);
	quic_endpoint_set_writable(a.ep, on_room, &k);
	b.msgs = 0;
	bulk_fill(&k);
	assert_true(k.queued < k.n); /* the queue is smaller than the whole */
	assert_true(loop_wait(&loop, bulk_arrived, &p, 30000));
	assert_int_equal(k.queued, k.n);
	assert_true(k.calls >= 5);
	assert_int_equal(b.msgs, 200);
	assert_int_equal(b.last_msg, k.len);
	assert_int_equal(b.last_msg_sum, checksum(k.buf, k.len));
	assert_int_equal(a.closed, 0);
	quic_endpoint_set_writable(a.ep, NULL, NULL);
	free(k.buf);
	finish(&a, &b);
}

static void test_oversized_frame(void **state)
{
	struct node a, b;
	struct quic_conn *c;
	struct pair p = { &a, &b };
	struct quic_config small = { .max_msg_len = 1000 };
	uint8_t buf[2000];

	node_init(&a, 1, NULL);
	node_init(&b, 2, &small);
	c = connect_pair(&a, &b, QUIC_ALPN_MESH);
	memset(buf, 1, sizeof(buf));
	assert_int_equal(quic_conn_send_msg(c, buf, 1000), 0);
	assert_true(loop_wait(&loop, b_has_msg, &p, 3000));
	assert_int_equal(b.last_msg, 1000);
	/* Over b's receive cap: b closes the connection with an error. */
	assert_int_equal(quic_conn_send_msg(c, buf, 1001), 0);
	assert_true(loop_wait(&loop, both_closed, &p, 3000));
	assert_int_equal(b.reason, QUIC_CLOSE_PROTOCOL);
	assert_int_equal(b.code, QUIC_CODE_PROTOCOL);
	assert_int_equal(a.reason, QUIC_CLOSE_PEER);
	assert_int_equal(a.code, QUIC_CODE_PROTOCOL);
	assert_int_equal(b.msgs, 1);
	finish(&a, &b);
}

static void test_close_code(void **state)
{
	struct node a, b;
	struct quic_conn *c;
	struct pair p = { &a, &b };

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	c = connect_pair(&a, &b, QUIC_ALPN_MESH);
	quic_conn_close(c, QUIC_CODE_LEAVE);
	/* Synchronous for the caller. */
	assert_int_equal(a.closed, 1);
	assert_int_equal(a.reason, QUIC_CLOSE_LOCAL);
	assert_int_equal(a.code, QUIC_CODE_LEAVE);
	assert_true(loop_wait(&loop, both_closed, &p, 3000));
	assert_int_equal(b.reason, QUIC_CLOSE_PEER);
	assert_int_equal(b.code, QUIC_CODE_LEAVE);
	assert_null(quic_endpoint_find(b.ep, a.pk, QUIC_ALPN_MESH));
	finish(&a, &b);
}

static void test_idle_timeout(void **state)
{
	struct node a, b;
	struct pair p = { &a, &b };
	struct quic_config fast = { .idle_timeout_ms = 600, .keepalive_ms = 150 };
	uint64_t t0;

	node_init(&a, 1, &fast);
	node_init(&b, 2, &fast);
	connect_pair(&a, &b, QUIC_ALPN_MESH);
	/* Keepalives hold an otherwise silent connection open. */
	settle(1500);
	assert_int_equal(a.closed, 0);
	assert_int_equal(b.closed, 0);
	/* b vanishes without a word. */
	magicsock_set_blackhole(b.ms, 1);
	t0 = uv_now(&loop);
	assert_true(loop_wait(&loop, a_closed, &p, 5000));
	assert_int_equal(a.reason, QUIC_CLOSE_IDLE);
	assert_true(uv_now(&loop) - t0 < 3000);
	finish(&a, &b);
}

static int dedup_settled(void *arg)
{
	struct pair *p = arg;
	struct quic_endpoint_stats sa, sb;

	quic_endpoint_get_stats(p->a->ep, &sa);
	quic_endpoint_get_stats(p->b->ep, &sb);
	return p->a->known == 1 && p->b->known == 1 && p->a->conn && p->b->conn &&
	       quic_endpoint_find(p->a->ep, p->b->pk, QUIC_ALPN_MESH) == p->a->conn &&
	       quic_endpoint_find(p->b->ep, p->a->pk, QUIC_ALPN_MESH) == p->b->conn;
}

static void test_simultaneous_dial(void **state)
{
	struct node a, b;
	struct quic_conn *ca, *cb, *sa, *sb;
	struct pair p = { &a, &b };
	const uint8_t *smaller;
	uint8_t buf[100] = { 0x45 };
	int round;

	for (round = 0; round < 3; round++) {
		node_init(&a, 1, NULL);
		node_init(&b, 2, NULL);
		introduce(&a, &b);
		introduce(&b, &a);
		assert_int_equal(quic_connect(a.ep, b.pk, QUIC_ALPN_MESH, &ca), 0);
		assert_int_equal(quic_connect(b.ep, a.pk, QUIC_ALPN_MESH, &cb), 0);
		a.known++;
		b.known++;
		assert_true(loop_wait(&loop, dedup_settled, &p, 5000));
		settle(300); /* let any late close arrive */
		assert_true(dedup_settled(&p));
		sa = a.conn;
		sb = b.conn;
		smaller = memcmp(a.pk, b.pk, 32) < 0 ? a.pk : b.pk;
		/* The survivor's client is the smaller key, on both sides. */
		if (smaller == a.pk) {
			assert_true(quic_conn_is_client(sa));
			assert_false(quic_conn_is_client(sb));
		} else {
			assert_false(quic_conn_is_client(sa));
			assert_true(quic_conn_is_client(sb));
		}
		/* The loser was the other side's dial, closed as superseded. */
		/* One loser per side; the larger key's own dial always lost. */
		assert_true(a.closed <= 1 && b.closed <= 1);
		assert_int_equal(smaller == a.pk ? b.closed : a.closed, 1);
		if (a.closed)
			assert_int_equal(a.reason, QUIC_CLOSE_SUPERSEDED);
		if (b.closed)
			assert_int_equal(b.reason, QUIC_CLOSE_SUPERSEDED);
		assert_int_equal(quic_conn_send_datagram(sa, buf, sizeof(buf)), 0);
		b.dgrams = 0;
		{
			struct burst x = { &b, 1 };
			assert_true(loop_wait(&loop, burst_done, &x, 2000));
		}
		finish(&a, &b);
	}
}

struct restart {
	struct node *lo, *hi2;
	struct quic_conn *old;
};

static int restart_reconnected(void *arg)
{
	struct restart *r = arg;

	return r->hi2->conn && r->lo->conn && r->lo->conn != r->old &&
	       quic_endpoint_find(r->lo->ep, r->hi2->pk, QUIC_ALPN_MESH) == r->lo->conn;
}

/*
 * The peer with the larger key is killed and restarts (no close reaches
 * the other side) and dials again: its new connection would lose the
 * simultaneous-dial rule to the old one, which the smaller key dialled,
 * and be turned away until the old one's idle timeout. Older than a dial
 * race, the old connection is the one replaced.
 */
static void test_peer_restart(void **state)
{
	struct node n1, n2, hi2, *lo, *hi;
	struct restart r;
	struct quic_conn *c;

	node_init(&n1, 1, NULL);
	node_init(&n2, 2, NULL);
	lo = memcmp(n1.pk, n2.pk, 32) < 0 ? &n1 : &n2;
	hi = lo == &n1 ? &n2 : &n1;
	connect_pair(lo, hi, QUIC_ALPN_MESH);
	introduce(hi, lo);
	r.old = lo->conn;
	settle(3300); /* older than a simultaneous dial */
	magicsock_set_blackhole(hi->ms, 1);
	node_close(hi);
	node_init(&hi2, hi == &n1 ? 1 : 2, NULL);
	introduce(&hi2, lo);
	r.lo = lo;
	r.hi2 = &hi2;
	assert_int_equal(quic_connect(hi2.ep, lo->pk, QUIC_ALPN_MESH, &c), 0);
	assert_true(loop_wait(&loop, restart_reconnected, &r, 3000));
	assert_ptr_equal(hi2.conn, c);
	assert_int_equal(hi2.closed, 0);
	assert_false(quic_conn_is_client(lo->conn));
	/* The old connection went as superseded. */
	assert_int_equal(lo->closed, 1);
	assert_int_equal(lo->reason, QUIC_CLOSE_SUPERSEDED);
	finish(lo, &hi2);
}

/* ---- a lossy link: a UDP relay between a and b that drops on purpose ---- */

/*
 * a sends to front (a is told b lives there) and the link passes each
 * datagram on to b from back; b's answers go the other way. Loss is
 * drawn from a fixed-seed generator, so a run is reproducible; `cut`
 * drops everything, as a path that died.
 */
struct link {
	uv_udp_t front, back;
	union ms_addr a_addr, b_addr, front_addr;
	int have_a;
	unsigned loss_pct;
	int cut;
	uint32_t rng;
	size_t passed, dropped;
	uint8_t buf[65536];
};

static int link_drops(struct link *l)
{
	if (l->cut)
		return 1;
	l->rng ^= l->rng << 13;
	l->rng ^= l->rng >> 17;
	l->rng ^= l->rng << 5;
	return l->rng % 100 < l->loss_pct;
}

static void link_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct link *l = h->data;

	*b = uv_buf_init((char *)l->buf, sizeof(l->buf));
}

static void link_pass(struct link *l, uv_udp_t *out, const union ms_addr *to, const uv_buf_t *b,
		      ssize_t n)
{
	uv_buf_t one = uv_buf_init(b->base, (unsigned)n);

	if (link_drops(l)) {
		l->dropped++;
		return;
	}
	/* A full socket buffer is loss too. */
	if (uv_udp_try_send(out, &one, 1, &to->sa) == n)
		l->passed++;
}

static void link_on_front(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
			  unsigned flags)
{
	struct link *l = h->data;

	if (n <= 0 || from == NULL)
		return;
	memcpy(&l->a_addr.in, from, sizeof(l->a_addr.in));
	l->have_a = 1;
	link_pass(l, &l->back, &l->b_addr, b, n);
}

static void link_on_back(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from,
			 unsigned flags)
{
	struct link *l = h->data;

	if (n <= 0 || from == NULL || !l->have_a)
		return;
	link_pass(l, &l->front, &l->a_addr, b, n);
}

static void link_bind(struct link *l, uv_udp_t *u, uv_udp_recv_cb cb, union ms_addr *got)
{
	union ms_addr any;
	int len = sizeof(got->in);

	assert_int_equal(ms_addr_parse(&any, "127.0.0.1:0"), 0);
	assert_int_equal(uv_udp_init(&loop, u), 0);
	u->data = l;
	assert_int_equal(uv_udp_bind(u, &any.sa, 0), 0);
	assert_int_equal(uv_recv_buffer_size((uv_handle_t *)u, &(int){ 4 << 20 }), 0);
	assert_int_equal(uv_udp_getsockname(u, &got->sa, &len), 0);
	assert_int_equal(uv_udp_recv_start(u, link_alloc, cb), 0);
}

/* Puts a link between a and b: a dials b through it. */
static void link_open(struct link *l, struct node *a, struct node *b, unsigned loss_pct)
{
	union ms_addr back_addr;

	memset(l, 0, sizeof(*l));
	l->b_addr = b->addr;
	l->loss_pct = loss_pct;
	l->rng = 0x9e3779b9u;
	link_bind(l, &l->front, link_on_front, &l->front_addr);
	link_bind(l, &l->back, link_on_back, &back_addr);
	assert_int_equal(magicsock_set_peer_addrs(a->ms, b->pk, &l->front_addr, 1), 0);
}

static void link_close(struct link *l)
{
	uv_close((uv_handle_t *)&l->front, NULL);
	uv_close((uv_handle_t *)&l->back, NULL);
}

/* Dials b from a through the link (which is not lossy yet). */
static struct quic_conn *connect_via(struct node *a, struct node *b, struct link *l)
{
	struct pair p = { a, b };
	struct quic_conn *c;

	link_open(l, a, b, 0);
	assert_int_equal(quic_connect(a->ep, b->pk, QUIC_ALPN_MESH, &c), 0);
	assert_true(loop_wait(&loop, both_confirmed, &p, 5000));
	return c;
}

/*
 * Queues up to n DATAGRAMs of len bytes on c, running the loop whenever
 * the queue is full, for at most ms. Returns how many were queued: fewer
 * than n means the sender was stuck for the rest of the time.
 */
static size_t pump(struct quic_conn *c, size_t n, size_t len, uint64_t ms)
{
	uint8_t buf[QUIC_MAX_DATAGRAM_FRAME];
	uint64_t end;
	size_t sent = 0;
	int rv;

	memset(buf, 0x45, sizeof(buf));
	uv_update_time(&loop);
	end = uv_now(&loop) + ms;
	while (sent < n && uv_now(&loop) < end) {
		rv = quic_conn_send_datagram(c, buf, len);
		if (rv == 0) {
			sent++;
			continue;
		}
		assert_int_equal(rv, -EAGAIN);
		uv_run(&loop, UV_RUN_ONCE);
		uv_update_time(&loop);
	}
	return sent;
}

/* The 3000 queued DATAGRAMs all went out (dgrams_dropped also counts
 * the -EAGAIN refusals, so it says nothing here). */
static int all_sent(void *arg)
{
	struct quic_stats st;

	quic_conn_get_stats(arg, &st);
	return st.dgrams_tx == 3000;
}

/*
 * DATAGRAMs only, 10% loss each way (ACKs too): the window is freed by
 * loss detection alone, so the sender never stalls and most arrive; no
 * control message is ever sent, so no stream data is there to help.
 */
static void test_datagram_loss(void **state)
{
	struct node a, b;
	struct link l;
	struct quic_conn *c;
	struct quic_stats st;
	struct burst x = { &b, 0 };

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	c = connect_via(&a, &b, &l);
	l.loss_pct = 10;
	b.dgrams = 0;
	assert_int_equal(pump(c, 3000, 1200, 20000), 3000);
	assert_true(loop_wait(&loop, all_sent, c, 5000));
	x.want = 2400;
	loop_wait(&loop, burst_done, &x, 1000);
	quic_conn_get_stats(c, &st);
	assert_true(b.dgrams >= 2400 && b.dgrams < 3000);
	assert_true(st.dgrams_lost > 0);
	assert_true(l.dropped > 0);
	assert_int_equal(a.closed, 0);
	assert_int_equal(b.msgs, 0);
	link_close(&l);
	finish(&a, &b);
}

/*
 * The path dies with the window full of DATAGRAMs and comes back: the
 * probes the library sends for them (nothing else is in flight) get
 * through once it is back, their acknowledgement frees the window, and
 * DATAGRAMs flow again within seconds instead of stalling until the idle
 * timeout. This is the ngtcp2 0.12 stall (ngtcp2 issue 697).
 */
static void test_datagram_blackout(void **state)
{
	struct node a, b;
	struct link l;
	struct quic_conn *c;
	struct quic_stats st;
	struct burst x = { &b, 0 };
	size_t before;

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	c = connect_via(&a, &b, &l);
	b.dgrams = 0;
	assert_int_equal(pump(c, 500, 1200, 5000), 500);
	x.want = 500;
	assert_true(loop_wait(&loop, burst_done, &x, 3000));
	/* Cut: whatever goes now fills the window and is never answered. */
	l.cut = 1;
	before = b.dgrams;
	assert_true(pump(c, 100000, 1200, 1500) < 100000);
	quic_conn_get_stats(c, &st);
	assert_true(st.bytes_in_flight > 0);
	assert_int_equal(b.dgrams, before);
	/* Back: the queue drains and new DATAGRAMs arrive. */
	l.cut = 0;
	assert_int_equal(pump(c, QUIC_DGRAM_QUEUE * 4, 1200, 5000), QUIC_DGRAM_QUEUE * 4);
	x.want = before + QUIC_DGRAM_QUEUE * 2;
	assert_true(loop_wait(&loop, burst_done, &x, 3000));
	assert_int_equal(a.closed, 0);
	assert_int_equal(b.closed, 0);
	assert_int_equal(b.msgs, 0);
	link_close(&l);
	finish(&a, &b);
}

static int confirmed_a(void *arg)
{
	return ((struct pair *)arg)->a->confirmed > 0 && ((struct pair *)arg)->b->confirmed > 0;
}

static void test_garbage(void **state)
{
	struct node a, b;
	struct pair p = { &a, &b };
	struct quic_endpoint_stats st;
	struct magicsock_stats ms;
	struct quic_conn *c;
	uint8_t pkt[3000];
	int fd, i;

	node_init(&a, 1, NULL);
	node_init(&b, 2, NULL);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
#define SEND(buf, len) sendto(fd, buf, len, 0, &b.addr.sa, sizeof(b.addr.in))
	/* Random junk of every length, including long-header lookalikes. */
	for (i = 0; i < 300; i++) {
		size_t len = (size_t)i * 7 % 1500;

		randombytes_buf(pkt, len);
		if (i % 3 == 0 && len > 0)
			pkt[0] |= 0xc0;      /* long header */
		if (i % 5 == 0 && len > 5) { /* version 1 */
			pkt[1] = 0;
			pkt[2] = 0;
			pkt[3] = 0;
			pkt[4] = 1;
		}
		SEND(pkt, len);
	}
	/* A truncated Initial: valid prefix, cut short. */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0xc3;
	pkt[4] = 1;
	pkt[5] = 8;
	SEND(pkt, 14);
	/* A full-size Initial with garbage payload (fails to decrypt). */
	pkt[5] = 8;
	randombytes_buf(pkt + 6, 8);
	pkt[14] = 0; /* scid len */
	pkt[15] = 0; /* token len */
	pkt[16] = 0x44;
	pkt[17] = 0xd0;
	SEND(pkt, 1200);
	/* Oversized datagram: truncated by the socket and dropped. */
	SEND(pkt, 3000);
	/* STUN and disco lookalikes go to their (empty) slots. */
	memset(pkt, 0, 20);
	pkt[4] = 0x21;
	pkt[5] = 0x12;
	pkt[6] = 0xa4;
	pkt[7] = 0x42;
	SEND(pkt, 20);
	memcpy(pkt, MAGICSOCK_DISCO_MAGIC, MAGICSOCK_DISCO_MAGIC_LEN);
	SEND(pkt, 40);
	settle(200);
	close(fd);
#undef SEND
	quic_endpoint_get_stats(b.ep, &st);
	magicsock_get_stats(b.ms, &ms);
	assert_true(st.rx_bad + st.rx_unknown > 0);
	assert_true(ms.rx_packets[MS_PKT_STUN] >= 1);
	assert_true(ms.rx_packets[MS_PKT_DISCO] >= 1);
	assert_true(ms.rx_packets[MS_PKT_JUNK] >= 1);
	assert_true(ms.rx_dropped >= 3);
	/* Half-open junk connections do not linger. */
	settle(100);
	quic_endpoint_get_stats(b.ep, &st);
	assert_int_equal(st.conns, 0);
	/* And the endpoint still works. */
	introduce(&a, &b);
	assert_int_equal(quic_connect(a.ep, b.pk, QUIC_ALPN_MESH, &c), 0);
	assert_true(loop_wait(&loop, confirmed_a, &p, 5000));
	finish(&a, &b);
}

/* ---- the control stream's reassembly alone (quic_rx) ---- */

struct rx_seen {
	size_t count;
	uint8_t last[64];
	size_t last_len;
};

static void rx_got(void *ud, const uint8_t *buf, size_t len)
{
	struct rx_seen *s = ud;

	s->count++;
	s->last_len = len < sizeof(s->last) ? len : sizeof(s->last);
	memcpy(s->last, buf, s->last_len);
}

/*
 * Stream data may end right after a frame's header, before any body byte
 * (the header in one STREAM frame, the body in the next): nothing is copied
 * then, not even zero bytes into the buffer not yet allocated, and the body
 * completes the message later. Likewise fed one byte at a time, with the
 * opening marker first.
 */
static void test_rx_header_alone(void **state)
{
	static const uint8_t frame[] = { 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c' };
	struct rx_seen seen = { 0 };
	struct quic_rx *rx;

	(void)state;
	assert_int_equal(quic_rx_new(&rx, &loop, 0, rx_got, &seen), 0);
	assert_int_equal(quic_rx_feed(rx, frame, 8), 0);
	assert_int_equal(seen.count, 0);
	assert_int_equal(quic_rx_feed(rx, frame + 8, 3), 0);
	assert_int_equal(seen.count, 1);
	assert_int_equal(seen.last_len, 3);
	assert_memory_equal(seen.last, "abc", 3);
	quic_rx_free(rx);

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(quic_rx_new(&rx, &loop, 0, rx_got, &seen), 0);
	for (size_t i = 0; i < sizeof(frame); i++)
		assert_int_equal(quic_rx_feed(rx, frame + i, 1), 0);
	assert_int_equal(seen.count, 1);
	assert_memory_equal(seen.last, "abc", 3);
	quic_rx_free(rx);
}

/* A header over the cap is a protocol error before any body arrives. */
static void test_rx_over_cap(void **state)
{
	static const uint8_t big[] = { 0, 0, 1, 1 };
	struct rx_seen seen = { 0 };
	struct quic_rx *rx;

	(void)state;
	assert_int_equal(quic_rx_new(&rx, &loop, 256, rx_got, &seen), 0);
	assert_int_equal(quic_rx_feed(rx, big, sizeof(big)), -EPROTO);
	assert_int_equal(seen.count, 0);
	quic_rx_free(rx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_limit_key),
		cmocka_unit_test(test_limit_source),
		cmocka_unit_test(test_limit_source_trusted),
		cmocka_unit_test(test_overload),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_datagrams),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_backpressure),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_want_room),
		cmocka_unit_test(test_oversized_frame),
		cmocka_unit_test(test_close_code),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_simultaneous_dial),
		cmocka_unit_test(test_peer_restart),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_datagram_loss),
		cmocka_unit_test(test_datagram_blackout),
		cmocka_unit_test(test_rx_header_alone),
		cmocka_unit_test(test_rx_over_cap),
	};
	int rv;

	if (sodium_init() < 0)
		return 1;
	log_init(LL_WARN);
	uv_loop_init(&loop);
	rv = cmocka_run_group_tests(tests, NULL, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (uv_loop_close(&loop) != 0) {
		fprintf(stderr, "loop still has handles\n");
		return 1;
	}
	return rv;
}
