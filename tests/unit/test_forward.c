/*
 * test_forward: the data path with a fake send callback that collects what
 * forward hands to peers (the unit seam standing for the QUIC connection),
 * and a SOCK_DGRAM socketpair standing for the TUN fd (same one-packet-per-
 * read/write semantics, and a small receive queue that makes EAGAIN easy to
 * reach). Covers routing, every drop label, batch bounds, the EAGAIN ring
 * (order kept, overflow dropped, drained when writable), a send callback
 * that unmaps its own peer, the libuv poll path, and backpressure (a packet
 * refused with -EAGAIN is held in order, the TUN paused, released by
 * forward_resume or dropped after FORWARD_HOLD_MS, then that peer stalled).
 * The same socketpair in vnet mode (cfg.vnet_hdr: every datagram starts with
 * a virtio_net_hdr): a GSO super-packet written in comes out at `send` as
 * its segments, a partial checksum is finished, a hostile header is dropped
 * and counted, a refusal on segment k holds the rest (resumed from k, or
 * dropped on timeout), in-order segments delivered in one loop iteration
 * come out as one merged write, a full batch flushes at once, parked
 * merged writes keep their header, and replies get a zero header.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "dataplane/firewall.h"
#include "dataplane/forward.h"
#include "dataplane/offload.h"
#include "dataplane/packet.h"
#include "util/bytes.h"

#define LOCAL4 0x64400102u  /* 100.64.1.2, ours */
#define PEERA4 0x64400909u  /* 100.64.9.9, peer A */
#define PEERA4B 0x64500001u /* 100.80.0.1, peer A in a second network */
#define PEERB4 0x64400a0au  /* 100.64.10.10, peer B */

static const uint8_t local6[16] = { 0x02, [15] = 0x01 };
static const uint8_t peera6[16] = { 0x02, [15] = 0x09 };

static int peer_a, peer_b;

struct sent {
	void *peer;
	size_t len;
	uint8_t data[2048];
};

struct fixture {
	uv_loop_t loop;
	int fds[2]; /* fds[0]: forward's "TUN"; fds[1]: the kernel side */
	struct peer_table peers;
	struct forward *fwd;
	struct sent sent[64];
	int n_sent;
	int send_rc;         /* what the fake send returns */
	int unmap_in_send;   /* the fake send removes the peer first */
	void *congested;     /* this peer answers -EAGAIN */
	struct firewall *fw; /* setup_policy only */
	int refusals;
	int budget; /* >= 0: sends taken before -EAGAIN; -1: no limit */
};

static int fake_send(void *peer, const uint8_t *pkt, size_t len, void *ud)
{
	struct fixture *f = ud;

	if (f->unmap_in_send)
		peer_table_remove_peer(&f->peers, peer);
	if (peer == f->congested || f->budget == 0) {
		f->refusals++;
		return -EAGAIN;
	}
	if (f->budget > 0)
		f->budget--;
	if (f->send_rc)
		return f->send_rc;
	assert_true(f->n_sent < 64);
	assert_true(len <= sizeof(f->sent[0].data));
	f->sent[f->n_sent].peer = peer;
	f->sent[f->n_sent].len = len;
	memcpy(f->sent[f->n_sent].data, pkt, len);
	f->n_sent++;
	return 0;
}

/* (Re)opens the forwarder of f: vnet mode or plain, firewall, path MTU. */
static void open_forward(struct fixture *f, int vnet, unsigned batch, struct firewall *fw,
			 forward_mtu_fn mtu)
{
	struct forward_config cfg = { 0 };

	cfg.tun_fd = f->fds[0];
	cfg.vnet_hdr = vnet;
	cfg.peers = &f->peers;
	cfg.send = fake_send;
	cfg.send_ud = f;
	cfg.batch = batch;
	cfg.fw = fw;
	cfg.mtu = mtu;
	assert_int_equal(forward_open(&f->fwd, &f->loop, &cfg), 0);
	assert_int_equal(forward_local_add4(f->fwd, LOCAL4), 0);
	assert_int_equal(forward_local_add4(f->fwd, LOCAL4), -EEXIST);
	forward_local_set6(f->fwd, local6);
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->budget = -1;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, f->fds), 0);
	assert_int_equal(fcntl(f->fds[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(f->fds[1], F_SETFL, O_NONBLOCK), 0);
	peer_table_init(&f->peers);
	assert_int_equal(peer_table_insert4(&f->peers, PEERA4, &peer_a, 0), 0);
	assert_int_equal(peer_table_insert4(&f->peers, PEERA4B, &peer_a, 1), 0);
	assert_int_equal(peer_table_insert6(&f->peers, peera6, &peer_a, 0), 0);
	assert_int_equal(peer_table_insert4(&f->peers, PEERB4, &peer_b, 0), 0);
	return f;
}

static int setup(void **state)
{
	struct fixture *f = fixture_new();

	open_forward(f, 0, 4, NULL, NULL);
	*state = f;
	return 0;
}

static int setup_vnet(void **state)
{
	struct fixture *f = fixture_new();

	open_forward(f, 1, 4, NULL, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	forward_close(f->fwd);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	close(f->fds[0]);
	close(f->fds[1]);
	peer_table_close(&f->peers);
	free(f);
	return 0;
}

/* IPv4 UDP src → dst carrying `payload` bytes of value `tag`. */
static size_t udp4(uint8_t *b, uint32_t src, uint32_t dst, size_t payload, uint8_t tag)
{
	size_t total = 28 + payload;

	memset(b, 0, 28);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)total);
	b[8] = 64;
	b[9] = 17;
	be32_put(b + 12, src);
	be32_put(b + 16, dst);
	be16_put(b + 20, 4000);
	be16_put(b + 22, 5000);
	be16_put(b + 24, (uint16_t)(8 + payload));
	memset(b + 28, tag, payload);
	return total;
}

static size_t udp6(uint8_t *b, const uint8_t src[16], const uint8_t dst[16], size_t payload)
{
	memset(b, 0, 48);
	b[0] = 0x60;
	be16_put(b + 4, (uint16_t)(8 + payload));
	b[6] = 17;
	b[7] = 64;
	memcpy(b + 8, src, 16);
	memcpy(b + 24, dst, 16);
	be16_put(b + 40, 4000);
	be16_put(b + 42, 5000);
	be16_put(b + 44, (uint16_t)(8 + payload));
	memset(b + 48, 0x66, payload);
	return 48 + payload;
}

/* The "kernel" writes a packet into the TUN. */
static void tun_inject(struct fixture *f, const uint8_t *b, size_t len)
{
	assert_int_equal(write(f->fds[1], b, len), len);
}

static void test_outbound_routes(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t b[256];
	size_t len;
	struct peer_entry *e;

	len = udp4(b, LOCAL4, PEERA4, 10, 1);
	tun_inject(f, b, len);
	len = udp4(b, LOCAL4, PEERA4B, 11, 2);
	tun_inject(f, b, len);
	len = udp4(b, LOCAL4, PEERB4, 12, 3);
	tun_inject(f, b, len);
	len = udp6(b, local6, peera6, 13);
	tun_inject(f, b, len);
	assert_int_equal(forward_tun_drain(f->fwd), 4);
	assert_int_equal(forward_tun_drain(f->fwd), 0);

	assert_int_equal(f->n_sent, 4);
	assert_ptr_equal(f->sent[0].peer, &peer_a);
	assert_int_equal(f->sent[0].len, 38);
	assert_int_equal(f->sent[0].data[28], 1);
	assert_ptr_equal(f->sent[1].peer, &peer_a);
	assert_ptr_equal(f->sent[2].peer, &peer_b);
	assert_ptr_equal(f->sent[3].peer, &peer_a);
	assert_memory_equal(f->sent[3].data, b, len);

	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.tx_packets, 4);
	assert_int_equal(c.tx_bytes, 38 + 39 + 40 + 61);
	assert_int_equal(c.no_route + c.parse_error + c.send_failed + c.too_big, 0);
	e = peer_table_lookup4(&f->peers, PEERA4);
	assert_int_equal(e->tx_packets, 1);
	assert_int_equal(e->tx_bytes, 38);
	e = peer_table_lookup6(&f->peers, peera6);
	assert_int_equal(e->tx_bytes, 61);
}

static void test_outbound_drops(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t b[256];
	size_t len;

	/* unknown destination, and our own address looped back */
	tun_inject(f, b, udp4(b, LOCAL4, 0x64401111, 4, 0));
	tun_inject(f, b, udp4(b, PEERA4, LOCAL4, 4, 0));
	/* garbage */
	memset(b, 0xff, 40);
	tun_inject(f, b, 40);
	/* truncated: total length beyond what was read */
	len = udp4(b, LOCAL4, PEERA4, 20, 0);
	tun_inject(f, b, len - 1);
	assert_int_equal(forward_tun_drain(f->fwd), 4);

	/* send refuses: too big, then another failure */
	f->send_rc = -EMSGSIZE;
	tun_inject(f, b, len);
	forward_tun_drain(f->fwd);
	f->send_rc = -ECONNRESET;
	tun_inject(f, b, len);
	forward_tun_drain(f->fwd);

	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.no_route, 2);
	assert_int_equal(c.parse_error, 2);
	assert_int_equal(c.too_big, 1);
	assert_int_equal(c.send_failed, 1);
	assert_int_equal(c.tx_packets, 0);
	assert_int_equal(f->n_sent, 0);
	assert_int_equal(peer_table_lookup4(&f->peers, PEERA4)->tx_packets, 0);
}

/* One wakeup reads at most `batch` packets. */
static void test_batch_bound(void **state)
{
	struct fixture *f = *state;
	uint8_t b[256];

	for (int i = 0; i < 10; i++)
		tun_inject(f, b, udp4(b, LOCAL4, PEERB4, 4, (uint8_t)i));
	assert_int_equal(forward_tun_drain(f->fwd), 4);
	assert_int_equal(f->n_sent, 4);
	assert_int_equal(forward_tun_drain(f->fwd), 4);
	assert_int_equal(forward_tun_drain(f->fwd), 2);
	assert_int_equal(f->n_sent, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(f->sent[i].data[28], i);
}

/* The send callback unmaps the peer: forward must not touch the stale entry. */
static void test_send_unmaps_peer(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t b[256];

	f->unmap_in_send = 1;
	tun_inject(f, b, udp4(b, LOCAL4, PEERA4, 4, 0));
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_int_equal(f->n_sent, 1);
	assert_null(peer_table_lookup4(&f->peers, PEERA4));
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.tx_packets, 1);
	/* the next one finds no route */
	tun_inject(f, b, udp4(b, LOCAL4, PEERA4, 4, 0));
	forward_tun_drain(f->fwd);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.no_route, 1);
}

static void test_deliver(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t b[256], got[256];
	size_t len;

	/* from peer A's first and second-network addresses, and its IPv6 */
	len = udp4(b, PEERA4, LOCAL4, 10, 7);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), 0);
	assert_int_equal(read(f->fds[1], got, sizeof(got)), len);
	assert_memory_equal(got, b, len);
	len = udp4(b, PEERA4B, LOCAL4, 10, 7);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), 0);
	assert_int_equal(read(f->fds[1], got, sizeof(got)), len);
	len = udp6(b, peera6, local6, 5);
	/* trailing junk after the IP packet is not written */
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len + 3), 0);
	assert_int_equal(read(f->fds[1], got, sizeof(got)), len);
	assert_memory_equal(got, b, len);

	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.rx_packets, 3);
	assert_int_equal(c.rx_bytes, 38 + 38 + 53);
	assert_int_equal(peer_table_lookup4(&f->peers, PEERA4)->rx_packets, 1);
	assert_int_equal(peer_table_lookup6(&f->peers, peera6)->rx_bytes, 53);

	/* B's source address arriving from A; an unknown source */
	len = udp4(b, PEERB4, LOCAL4, 10, 7);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), -EPERM);
	len = udp4(b, 0x64402222, LOCAL4, 10, 7);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), -EPERM);
	len = udp6(b, local6, local6, 5);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), -EPERM);
	/* not addressed to us */
	len = udp4(b, PEERA4, PEERB4, 10, 7);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), -EHOSTUNREACH);
	len = udp6(b, peera6, peera6, 5);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), -EHOSTUNREACH);
	/* malformed */
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, 0), -EINVAL);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, 30), -EINVAL);
	b[0] = 0x00;
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), -EINVAL);

	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.spoofed_source, 3);
	assert_int_equal(c.not_for_us, 2);
	assert_int_equal(c.parse_error, 3);
	assert_int_equal(c.rx_packets, 3);
	assert_int_equal(read(f->fds[1], got, sizeof(got)), -1);
	assert_int_equal(errno, EAGAIN);

	/* after leaving the network our old address is no longer accepted */
	assert_int_equal(forward_local_del4(f->fwd, LOCAL4), 0);
	assert_int_equal(forward_local_del4(f->fwd, LOCAL4), -ENOENT);
	len = udp4(b, PEERA4, LOCAL4, 10, 7);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), -EHOSTUNREACH);
}

/*
 * Lookups are memorised per direction while the table does not change: an
 * address that moves to another peer between two packets is seen at once,
 * sending and receiving.
 */
static void test_address_moves(void **state)
{
	struct fixture *f = *state;
	uint8_t b[256], got[256];
	size_t len;

	len = udp4(b, PEERA4, LOCAL4, 10, 7);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), 0);
	assert_int_equal(read(f->fds[1], got, sizeof(got)), len);
	tun_inject(f, b, udp4(b, LOCAL4, PEERA4, 4, 1));
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_ptr_equal(f->sent[0].peer, &peer_a);

	assert_int_equal(peer_table_remove4(&f->peers, PEERA4), 0);
	assert_int_equal(peer_table_insert4(&f->peers, PEERA4, &peer_b, 0), 0);

	len = udp4(b, PEERA4, LOCAL4, 10, 7);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), -EPERM);
	assert_int_equal(forward_deliver(f->fwd, &peer_b, b, len), 0);
	assert_int_equal(read(f->fds[1], got, sizeof(got)), len);
	tun_inject(f, b, udp4(b, LOCAL4, PEERA4, 4, 2));
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_int_equal(f->n_sent, 2);
	assert_ptr_equal(f->sent[1].peer, &peer_b);

	/* gone: no route, and no source either */
	assert_int_equal(peer_table_remove4(&f->peers, PEERA4), 0);
	assert_int_equal(forward_deliver(f->fwd, &peer_b, b, len), -EPERM);
	tun_inject(f, b, udp4(b, LOCAL4, PEERA4, 4, 3));
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_int_equal(f->n_sent, 2);
}

/* A full TUN queue parks writes in the ring, in order; the overflow is
 * dropped; the loop drains the ring once the fd is writable again. */
static void test_write_ring(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t b[256], got[256];
	size_t len;
	int delivered = 0, rc, seen = 0;

	/* fill the socket queue, then the ring, until a drop */
	for (int i = 0; i < 1000; i++) {
		len = udp4(b, PEERA4, LOCAL4, 100, (uint8_t)i);
		rc = forward_deliver(f->fwd, &peer_a, b, len);
		if (rc == -ENOBUFS)
			break;
		assert_int_equal(rc, 0);
		delivered++;
	}
	assert_true(delivered > FORWARD_RING_SLOTS && delivered < 1000);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.tun_write_failed, 1);
	assert_int_equal(c.rx_packets, delivered);

	/* the reader drains while the loop flushes the ring */
	for (int spins = 0; spins < 10000 && seen < delivered; spins++) {
		ssize_t n;

		while ((n = read(f->fds[1], got, sizeof(got))) > 0) {
			assert_int_equal(n, len);
			assert_int_equal(got[28], (uint8_t)seen);
			seen++;
		}
		uv_run(&f->loop, UV_RUN_NOWAIT);
	}
	assert_int_equal(seen, delivered);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.tun_write_failed, 1);
	/* the ring is empty again: a new packet goes straight through */
	len = udp4(b, PEERA4, LOCAL4, 100, 0xaa);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), 0);
	assert_int_equal(read(f->fds[1], got, sizeof(got)), len);
	assert_int_equal(got[28], 0xaa);
}

/* The real wakeup path: uv_poll on the fd, stop and start. */
static void test_loop_polling(void **state)
{
	struct fixture *f = *state;
	uint8_t b[256];

	assert_int_equal(forward_start(f->fwd), 0);
	for (int i = 0; i < 6; i++)
		tun_inject(f, b, udp4(b, LOCAL4, PEERB4, 4, (uint8_t)i));
	for (int spins = 0; spins < 100 && f->n_sent < 6; spins++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->n_sent, 6);

	assert_int_equal(forward_stop(f->fwd), 0);
	tun_inject(f, b, udp4(b, LOCAL4, PEERB4, 4, 9));
	for (int spins = 0; spins < 10; spins++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->n_sent, 6);
	assert_int_equal(forward_start(f->fwd), 0);
	for (int spins = 0; spins < 100 && f->n_sent < 7; spins++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->n_sent, 7);
	assert_int_equal(f->sent[6].data[28], 9);
}

/* -EAGAIN holds the packet and pauses the TUN; resume keeps the order. */
static void test_hold_resume(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t b[256];

	f->congested = &peer_a;
	for (int i = 0; i < 3; i++)
		tun_inject(f, b, udp4(b, LOCAL4, PEERA4, 4, (uint8_t)i));
	/* the first is refused and held; the reading stops behind it */
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_int_equal(forward_tun_drain(f->fwd), 0);
	assert_int_equal(f->n_sent, 0);
	assert_int_equal(f->refusals, 1);
	/* still congested: still held, nothing read */
	forward_resume(f->fwd);
	assert_int_equal(f->refusals, 2);
	assert_int_equal(f->n_sent, 0);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.held, 1);
	assert_int_equal(c.send_failed + c.congestion_dropped + c.tx_packets, 0);
	/* room again: the held packet goes first, the rest follow in order
	 * once reading is on */
	f->congested = NULL;
	forward_resume(f->fwd);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].data[28], 0);
	assert_int_equal(forward_tun_drain(f->fwd), 2);
	assert_int_equal(f->n_sent, 3);
	assert_int_equal(f->sent[1].data[28], 1);
	assert_int_equal(f->sent[2].data[28], 2);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.tx_packets, 3);
	assert_int_equal(c.congestion_dropped, 0);
	/* resume without a held packet does nothing */
	forward_resume(f->fwd);
	assert_int_equal(f->n_sent, 3);
}

/* A peer that never drains: the hold times out, the packet is dropped, and
 * from then on that peer's refusals drop at once while others flow. */
/* Runs the loop until the hold timer lets B's packet go (UV_RUN_ONCE sleeps
 * until then): not before FORWARD_HOLD_MS from start, and only B's. */
static void wait_hold_release(struct fixture *f, uint64_t start)
{
	while (f->n_sent == 0 && uv_now(&f->loop) - start < 2000)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_true(uv_now(&f->loop) - start >= FORWARD_HOLD_MS);
	assert_int_equal(f->n_sent, 1);
	assert_ptr_equal(f->sent[0].peer, &peer_b);
}

static void test_hold_timeout(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t b[256];
	uint64_t start;

	f->congested = &peer_a;
	assert_int_equal(forward_start(f->fwd), 0);
	tun_inject(f, b, udp4(b, LOCAL4, PEERA4, 4, 1));
	tun_inject(f, b, udp4(b, LOCAL4, PEERB4, 4, 2));
	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	for (int spins = 0; spins < 100 && f->refusals == 0; spins++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->refusals, 1);
	/* B's packet waits behind the held one */
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->n_sent, 0);
	/* the hold timer releases it (UV_RUN_ONCE sleeps until then) */
	wait_hold_release(f, start);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.congestion_dropped, 1);
	/* stalled: A's next packet drops at once, B's behind it flows */
	tun_inject(f, b, udp4(b, LOCAL4, PEERA4, 4, 3));
	tun_inject(f, b, udp4(b, LOCAL4, PEERB4, 4, 4));
	for (int spins = 0; spins < 100 && f->n_sent < 2; spins++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[1].data[28], 4);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.congestion_dropped, 2);
	assert_int_equal(c.held, 1);
	assert_int_equal(forward_stop(f->fwd), 0);
}

static size_t fake_mtu(void *peer, void *ud)
{
	(void)peer;
	(void)ud;
	return 600;
}

/* A fixture whose forwarder has a path-MTU source and a real firewall that
 * rejects (inbound default deny, reject on). */
static int setup_policy_mode(void **state, int vnet)
{
	struct firewall *fw;
	struct fixture *f = fixture_new();

	assert_int_equal(firewall_open(&fw, NULL), 0);
	firewall_set_reject(fw, true);
	f->fw = fw;
	open_forward(f, vnet, 0, fw, fake_mtu);
	*state = f;
	return 0;
}

static int setup_policy(void **state)
{
	return setup_policy_mode(state, 0);
}

static int setup_policy_vnet(void **state)
{
	return setup_policy_mode(state, 1);
}

static int teardown_policy(void **state)
{
	struct fixture *f = *state;
	struct firewall *fw = f->fw;

	teardown(state);
	firewall_close(fw);
	return 0;
}

static void test_packet_too_big(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t pkt[1100], got[2048];
	size_t len = udp4(pkt, LOCAL4, PEERA4, 1000, 0x11);
	ssize_t n;

	f->send_rc = -EMSGSIZE;
	assert_int_equal(write(f->fds[1], pkt, len), (ssize_t)len);
	forward_tun_drain(f->fwd);
	n = read(f->fds[1], got, sizeof(got));
	assert_true(n >= 20 + 8 + 28);
	assert_int_equal(got[9], 1);                   /* ICMP */
	assert_int_equal(got[20], 3);                  /* destination unreachable */
	assert_int_equal(got[21], 4);                  /* fragmentation needed */
	assert_int_equal(got[26] << 8 | got[27], 600); /* next-hop MTU */
	assert_memory_equal(got + 16, pkt + 12, 4);    /* back to the sender */
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.too_big, 1);
	assert_int_equal(c.ptb_sent, 1);
}

static void test_firewall_reject_inbound(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t syn[40];

	memset(syn, 0, sizeof(syn));
	syn[0] = 0x45;
	be16_put(syn + 2, 40);
	syn[8] = 64;
	syn[9] = 6;
	be32_put(syn + 12, PEERA4);
	be32_put(syn + 16, LOCAL4);
	be16_put(syn + 20, 40000);
	be16_put(syn + 22, 22);
	syn[32] = 0x50; /* data offset 5 */
	syn[33] = 0x02; /* SYN */
	assert_int_equal(forward_deliver(f->fwd, &peer_a, syn, sizeof(syn)), -EACCES);
	assert_int_equal(f->n_sent, 1); /* the RST went back to the peer */
	assert_ptr_equal(f->sent[0].peer, &peer_a);
	assert_int_equal(f->sent[0].data[9], 6);
	assert_true(f->sent[0].data[33] & 0x04); /* RST */
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.fw_dropped, 1);
	assert_int_equal(c.fw_rejected, 1);
	assert_int_equal(c.rx_packets, 0);
}

/* ---- vnet mode ---- */

#define HDR OFFLOAD_VNET_HDR_LEN

static uint16_t csum_full(const uint8_t *b, size_t len)
{
	return (uint16_t)~packet_csum_fold(packet_csum_add(0, b, len));
}

/* The TCP/UDP checksum field over b's L4 part: full (inverted, what goes
 * on the wire) or, partial, the pseudo-header sum a NEEDS_CSUM packet
 * holds. */
static void l4_csum(uint8_t *b, size_t total, size_t at, int partial)
{
	uint32_t sum = packet_csum_pseudo(b, b[9], (uint32_t)(total - 20));

	be16_put(b + 20 + at, 0);
	if (partial)
		be16_put(b + 20 + at, packet_csum_fold(sum));
	else
		be16_put(b + 20 + at,
			 (uint16_t)~packet_csum_fold(packet_csum_add(sum, b + 20, total - 20)));
}

static int l4_csum_ok(const uint8_t *b, size_t total)
{
	uint32_t sum = packet_csum_pseudo(b, b[9], (uint32_t)(total - 20));

	return packet_csum_fold(packet_csum_add(sum, b + 20, total - 20)) == 0xffff;
}

/* IPv4 TCP src:4000 → dst:`dport`, ACK|flags, DF, `payload` bytes counting
 * up from seq (so merged or split data can be checked byte by byte), valid
 * checksums. */
static size_t tcp4(uint8_t *b, uint32_t src, uint32_t dst, uint16_t dport, uint32_t seq,
		   size_t payload, uint8_t flags)
{
	size_t total = 40 + payload;

	memset(b, 0, 40);
	b[0] = 0x45;
	be16_put(b + 2, (uint16_t)total);
	be16_put(b + 4, (uint16_t)seq);
	be16_put(b + 6, 0x4000);
	b[8] = 64;
	b[9] = 6;
	be32_put(b + 12, src);
	be32_put(b + 16, dst);
	be16_put(b + 10, csum_full(b, 20));
	be16_put(b + 20, 4000);
	be16_put(b + 22, dport);
	be32_put(b + 24, seq);
	be32_put(b + 28, 1);
	b[32] = 0x50;
	b[33] = (uint8_t)(0x10 | flags);
	be16_put(b + 34, 512);
	for (size_t i = 0; i < payload; i++)
		b[40 + i] = (uint8_t)(seq + i);
	l4_csum(b, total, 16, 0);
	return total;
}

/* header + a TCPv4 super-packet of `payload` bytes to PEERA4 in segments of
 * gso, as the kernel hands one over: NEEDS_CSUM, the pseudo-header sum in
 * the checksum field. */
static size_t gso_tcp4(uint8_t *b, uint32_t seq, size_t payload, uint16_t gso)
{
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = 40,
		.gso_size = gso,
		.csum_start = 20,
		.csum_offset = 16,
	};
	size_t total = tcp4(b + HDR, LOCAL4, PEERA4, 5000, seq, payload, 0x08);

	l4_csum(b + HDR, total, 16, 1);
	offload_vnet_write(b, &vh);
	return HDR + total;
}

/* A segment at `send`: headers of a TCPv4 packet of `payload` bytes from
 * seq, data counting up, checksums valid. */
static void assert_seg(const struct sent *s, uint32_t seq, size_t payload)
{
	assert_ptr_equal(s->peer, &peer_a);
	assert_int_equal(s->len, 40 + payload);
	assert_int_equal((s->data[2] << 8) | s->data[3], 40 + payload);
	assert_int_equal((uint32_t)s->data[24] << 24 | s->data[25] << 16 | s->data[26] << 8 |
				 s->data[27],
			 seq);
	for (size_t i = 0; i < payload; i++)
		assert_int_equal(s->data[40 + i], (uint8_t)(seq + i));
	assert_int_equal(packet_csum_fold(packet_csum_add(0, s->data, 20)), 0xffff);
	assert_true(l4_csum_ok(s->data, s->len));
}

/* A super-packet read from the TUN goes to the peer as its segments. */
static void test_vnet_split(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	static uint8_t b[HDR + 4096];

	tun_inject(f, b, gso_tcp4(b, 1000, 2500, 1000));
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_int_equal(f->n_sent, 3);
	assert_seg(&f->sent[0], 1000, 1000);
	assert_seg(&f->sent[1], 2000, 1000);
	assert_seg(&f->sent[2], 3000, 500);
	/* PSH only on the last one */
	assert_int_equal(f->sent[0].data[33] & 0x08, 0);
	assert_int_equal(f->sent[2].data[33] & 0x08, 0x08);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.gso_in, 1);
	assert_int_equal(c.gso_segments, 3);
	assert_int_equal(c.tx_packets, 3);
	assert_int_equal(c.tx_bytes, 3 * 40 + 2500);
	assert_int_equal(c.offload_invalid + c.parse_error, 0);
	assert_int_equal(peer_table_lookup4(&f->peers, PEERA4)->tx_packets, 3);
}

/* A plain read with a partial checksum goes out with it finished; one with
 * a zero header goes as it came. */
static void test_vnet_plain_csum(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	struct virtio_net_hdr vh = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.csum_start = 20,
		.csum_offset = 6,
	};
	uint8_t b[HDR + 256];
	size_t len = udp4(b + HDR, LOCAL4, PEERB4, 30, 9);

	l4_csum(b + HDR, len, 6, 1);
	offload_vnet_write(b, &vh);
	tun_inject(f, b, HDR + len);
	memset(b, 0, HDR);
	len = udp4(b + HDR, LOCAL4, PEERB4, 31, 10);
	tun_inject(f, b, HDR + len);
	assert_int_equal(forward_tun_drain(f->fwd), 2);
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[0].len, 58);
	assert_true(l4_csum_ok(f->sent[0].data, f->sent[0].len));
	assert_int_equal(f->sent[1].len, 59);
	assert_memory_equal(f->sent[1].data, b + HDR, len);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.tx_packets, 2);
	assert_int_equal(c.gso_in + c.offload_invalid, 0);
}

/* Headers the offload module refuses drop the read, counted; what follows
 * still flows. */
static void test_vnet_hostile(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	static uint8_t b[HDR + 4096];
	size_t len;

	/* shorter than the header */
	tun_inject(f, b, 5);
	/* TCPV4 over a UDP packet */
	len = gso_tcp4(b, 1, 2000, 1000);
	b[HDR + 9] = 17;
	tun_inject(f, b, len);
	/* UFO, which nobody enabled */
	len = gso_tcp4(b, 1, 2000, 1000);
	b[1] = VIRTIO_NET_HDR_GSO_UDP;
	tun_inject(f, b, len);
	/* a checksum field outside the packet */
	len = gso_tcp4(b, 1, 2000, 1000);
	b[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	b[1] = VIRTIO_NET_HDR_GSO_NONE;
	be16_put(b + 6, 0xfff0);
	b[6] = 0xf0;
	b[7] = 0xff;
	tun_inject(f, b, len);
	/* more segments than the arena holds (gso_size 1 over 2000 bytes) */
	len = gso_tcp4(b, 1, 2000, 1);
	tun_inject(f, b, len);
	assert_int_equal(forward_tun_drain(f->fwd), 4);
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.offload_invalid, 5);
	assert_int_equal(c.tx_packets + c.gso_in, 0);
	assert_int_equal(f->n_sent, 0);
	tun_inject(f, b, gso_tcp4(b, 7, 1500, 1000));
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_int_equal(f->n_sent, 2);
	assert_seg(&f->sent[1], 1007, 500);
}

/* -EAGAIN on segment k of n holds the rest: resume goes on from k, and
 * reading stays off until all are taken. */
static void test_vnet_hold_segment(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	static uint8_t b[HDR + 8192];

	tun_inject(f, b, gso_tcp4(b, 0, 5000, 1000));
	tun_inject(f, b, gso_tcp4(b, 5000, 1000, 1000));
	f->budget = 2;
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(forward_tun_drain(f->fwd), 0);
	/* one more taken: progress, still held */
	f->budget = 1;
	forward_resume(f->fwd);
	assert_int_equal(f->n_sent, 3);
	assert_int_equal(forward_tun_drain(f->fwd), 0);
	/* room: the last two; then reading goes on with the next read */
	f->budget = -1;
	forward_resume(f->fwd);
	assert_int_equal(f->n_sent, 5);
	assert_int_equal(forward_tun_drain(f->fwd), 1);
	assert_int_equal(f->n_sent, 6);
	for (int i = 0; i < 6; i++)
		assert_seg(&f->sent[i], (uint32_t)i * 1000, 1000);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.held, 1);
	assert_int_equal(c.tx_packets, 6);
	assert_int_equal(c.gso_in, 2);
	assert_int_equal(c.congestion_dropped, 0);
}

/* A hold that times out drops what is left of the super-packet and stalls
 * the peer; other peers' reads behind it then flow. */
static void test_vnet_hold_timeout(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	static uint8_t b[HDR + 8192];
	size_t len;
	uint64_t start;

	assert_int_equal(forward_start(f->fwd), 0);
	tun_inject(f, b, gso_tcp4(b, 0, 5000, 1000));
	memset(b, 0, HDR);
	len = udp4(b + HDR, LOCAL4, PEERB4, 10, 2);
	tun_inject(f, b, HDR + len);
	f->congested = &peer_a;
	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	for (int spins = 0; spins < 100 && f->refusals == 0; spins++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->n_sent, 0);
	wait_hold_release(f, start);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.congestion_dropped, 5);
	assert_int_equal(c.held, 1);
	assert_int_equal(forward_stop(f->fwd), 0);
}

/* Reads the next datagram of the "kernel" side, header parsed. */
static ssize_t tun_take(struct fixture *f, struct virtio_net_hdr *vh, uint8_t *buf, size_t cap)
{
	ssize_t n = read(f->fds[1], buf, cap);

	if (n < 0)
		return -errno;
	assert_int_equal(offload_vnet_read(buf, (size_t)n, vh), 0);
	return n - HDR;
}

/* N in-order segments delivered in one loop iteration: nothing is written
 * until the iteration's I/O is done, then one merged write. */
static void test_vnet_merge(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	struct virtio_net_hdr vh;
	static uint8_t b[2048], got[HDR + 65536];
	ssize_t n;

	for (int i = 0; i < 8; i++) {
		size_t len = tcp4(b, PEERA4, LOCAL4, 22, 100 + (uint32_t)i * 1000, 1000, 0);

		assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), 0);
	}
	/* a pure ACK of another flow passes through on its own */
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, tcp4(b, PEERA4, LOCAL4, 80, 5, 0, 0)),
			 0);
	assert_int_equal(read(f->fds[1], got, sizeof(got)), -1);
	assert_int_equal(errno, EAGAIN);
	/* delivered outside the poll phase: one iteration, which must not
	 * sleep (nothing else would wake it), flushes */
	uv_run(&f->loop, UV_RUN_ONCE);
	n = tun_take(f, &vh, got, sizeof(got));
	assert_int_equal(n, 40 + 8000);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(vh.gso_size, 1000);
	assert_int_equal(vh.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(vh.csum_start, 20);
	assert_int_equal(vh.csum_offset, 16);
	for (int i = 0; i < 8000; i++)
		assert_int_equal(got[HDR + 40 + i], (uint8_t)(100 + i));
	n = tun_take(f, &vh, got, sizeof(got));
	assert_int_equal(n, 40);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(vh.flags, 0);
	assert_int_equal(tun_take(f, &vh, got, sizeof(got)), -EAGAIN);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.rx_packets, 9);
	assert_int_equal(c.rx_bytes, 8 * 1040 + 40);
	assert_int_equal(c.rx_merged, 8);
	assert_int_equal(c.tun_writes, 2);
	assert_int_equal(peer_table_lookup4(&f->peers, PEERA4)->rx_packets, 9);
	/* the per-packet checks still run before batching */
	assert_int_equal(forward_deliver(f->fwd, &peer_b, b, tcp4(b, PEERA4, LOCAL4, 22, 1, 10, 0)),
			 -EPERM);
	assert_int_equal(forward_deliver(f->fwd, &peer_a, b, tcp4(b, PEERA4, PEERB4, 22, 1, 10, 0)),
			 -EHOSTUNREACH);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(tun_take(f, &vh, got, sizeof(got)), -EAGAIN);
}

/* A full batch (OFFLOAD_BATCH_MAX packets) is flushed at once, without
 * waiting for the loop. */
static void test_vnet_batch_full(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	struct virtio_net_hdr vh;
	static uint8_t b[2048], got[HDR + 65536];
	int outs = 0;
	size_t bytes = 0;
	ssize_t n;

	for (int i = 0; i < OFFLOAD_BATCH_MAX; i++) {
		size_t len = tcp4(b, PEERA4, LOCAL4, 22, (uint32_t)i * 100, 100, 0);

		assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), 0);
	}
	while ((n = tun_take(f, &vh, got, sizeof(got))) > 0) {
		assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
		assert_int_equal(n, 40 + OFFLOAD_MAX_SEGS * 100);
		bytes += (size_t)n - 40;
		outs++;
	}
	assert_int_equal(outs, OFFLOAD_BATCH_MAX / OFFLOAD_MAX_SEGS);
	assert_int_equal(bytes, OFFLOAD_BATCH_MAX * 100);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.rx_merged, OFFLOAD_BATCH_MAX);
	assert_int_equal(c.tun_writes, outs);
}

/* Merged writes that meet a full TUN queue are parked with their header,
 * in order; the overflow is dropped with every packet it carried counted;
 * the ring drains when the fd turns writable. */
static void test_vnet_ring(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	struct virtio_net_hdr vh;
	static uint8_t b[2048], got[HDR + 65536];
	int rounds = 0, seen = 0;
	ssize_t n;

	/* each round: 4 mergeable segments of a flow of its own (port) */
	for (; rounds < 1000; rounds++) {
		for (int i = 0; i < 4; i++) {
			size_t len = tcp4(b, PEERA4, LOCAL4, (uint16_t)(1000 + rounds),
					  (uint32_t)i * 1000, 1000, 0);

			assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), 0);
		}
		uv_run(&f->loop, UV_RUN_NOWAIT);
		forward_counters_get(f->fwd, &c);
		if (c.tun_write_failed)
			break;
	}
	assert_true(rounds > FORWARD_RING_SLOTS && rounds < 1000);
	assert_int_equal(c.tun_write_failed, 4);
	assert_int_equal(c.rx_merged, 4 * (rounds + 1));
	for (int spins = 0; spins < 10000 && seen < rounds; spins++) {
		while ((n = tun_take(f, &vh, got, sizeof(got))) > 0) {
			assert_int_equal(n, 40 + 4000);
			assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
			assert_int_equal(vh.gso_size, 1000);
			assert_int_equal((got[HDR + 22] << 8) | got[HDR + 23], 1000 + seen);
			seen++;
		}
		uv_run(&f->loop, UV_RUN_NOWAIT);
	}
	assert_int_equal(seen, rounds);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.tun_writes, rounds);
	assert_int_equal(c.tun_write_failed, 4);
}

/* One round of test_vnet_ring_bytes: 64 segments of 1000 bytes, a flow of
 * its own (port), one loop iteration. Returns whether it was dropped. */
static int big_round(struct fixture *f, int round)
{
	static uint8_t b[2048];
	struct forward_counters c0, c1;

	forward_counters_get(f->fwd, &c0);
	for (int i = 0; i < OFFLOAD_MAX_SEGS; i++) {
		size_t len = tcp4(b, PEERA4, LOCAL4, (uint16_t)(2000 + round), (uint32_t)i * 1000,
				  1000, 0);

		assert_int_equal(forward_deliver(f->fwd, &peer_a, b, len), 0);
	}
	uv_run(&f->loop, UV_RUN_NOWAIT);
	forward_counters_get(f->fwd, &c1);
	assert_true(c1.tun_write_failed == c0.tun_write_failed ||
		    c1.tun_write_failed == c0.tun_write_failed + OFFLOAD_MAX_SEGS);
	return c1.tun_write_failed != c0.tun_write_failed;
}

/* Reads one 64-segment write; checks it is the next round in order. */
static int big_take(struct fixture *f, int *last_port)
{
	static uint8_t got[HDR + 65536];
	struct virtio_net_hdr vh;
	ssize_t n = tun_take(f, &vh, got, sizeof(got));
	int port;

	if (n < 0)
		return 0;
	assert_int_equal(n, 40 + OFFLOAD_MAX_SEGS * 1000);
	assert_int_equal(vh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	port = (got[HDR + 22] << 8) | got[HDR + 23];
	assert_true(port > *last_port);
	for (int i = 0; i < OFFLOAD_MAX_SEGS * 1000; i += 997)
		assert_int_equal(got[HDR + 40 + i], (uint8_t)i);
	*last_port = port;
	return 1;
}

/* 64 KiB writes: the ring's byte bound comes before its slot bound, and
 * entries wrap around its end as the reader frees the front. */
static void test_vnet_ring_bytes(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	int round = 0, dropped = 0, seen = 0, last_port = 0, sndbuf = 65536;

	/* room for two such writes in the socket (the kernel doubles it), so
	 * that a flush takes only part of the ring and it wraps */
	assert_int_equal(setsockopt(f->fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	while (!big_round(f, round++))
		;
	dropped = 1;
	/* a few socket queue places, then FORWARD_RING_BYTES of entries */
	assert_true(round > FORWARD_RING_BYTES / (HDR + 40 + OFFLOAD_MAX_SEGS * 1000));
	assert_true(round < FORWARD_RING_SLOTS);
	/* the reader frees one at a time, each round adds one behind */
	for (int i = 0; i < 20; i++) {
		seen += big_take(f, &last_port);
		uv_run(&f->loop, UV_RUN_NOWAIT);
		dropped += big_round(f, round++);
	}
	for (int spins = 0; spins < 1000 && seen + dropped < round; spins++) {
		while (big_take(f, &last_port))
			seen++;
		uv_run(&f->loop, UV_RUN_NOWAIT);
	}
	assert_int_equal(seen + dropped, round);
	assert_true(dropped < 5);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.tun_writes, seen);
	assert_int_equal(c.tun_write_failed, (uint64_t)dropped * OFFLOAD_MAX_SEGS);
}

/* A reply forward writes into the TUN itself has a zero header. */
static void test_vnet_packet_too_big(void **state)
{
	struct fixture *f = *state;
	struct forward_counters c;
	uint8_t pkt[HDR + 1100], got[HDR + 2048];
	struct virtio_net_hdr vh;
	size_t len;
	ssize_t n;

	memset(pkt, 0, HDR);
	len = udp4(pkt + HDR, LOCAL4, PEERA4, 1000, 0x11);
	f->send_rc = -EMSGSIZE;
	tun_inject(f, pkt, HDR + len);
	forward_tun_drain(f->fwd);
	n = tun_take(f, &vh, got, sizeof(got));
	assert_true(n >= 20 + 8 + 28);
	assert_memory_equal(got, (uint8_t[HDR]){ 0 }, HDR);
	assert_int_equal(got[HDR + 9], 1);
	assert_int_equal(got[HDR + 20], 3);
	assert_int_equal(got[HDR + 21], 4);
	forward_counters_get(f->fwd, &c);
	assert_int_equal(c.ptb_sent, 1);
	assert_int_equal(c.tun_writes, 1);
}

static void test_open_refuses(void **state)
{
	uv_loop_t loop;
	struct peer_table t;
	struct forward *fwd = (struct forward *)&loop;
	struct forward_config cfg = { .tun_fd = -1 };

	assert_int_equal(uv_loop_init(&loop), 0);
	peer_table_init(&t);
	cfg.peers = &t;
	cfg.send = fake_send;
	assert_int_equal(forward_open(&fwd, &loop, &cfg), -EINVAL);
	assert_null(fwd);
	cfg.tun_fd = 0;
	cfg.send = NULL;
	assert_int_equal(forward_open(&fwd, &loop, &cfg), -EINVAL);
	cfg.send = fake_send;
	cfg.batch = FORWARD_MAX_BATCH + 1;
	assert_int_equal(forward_open(&fwd, &loop, &cfg), -EINVAL);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outbound_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packet_too_big, setup_policy, teardown_policy),
		cmocka_unit_test_setup_teardown(test_firewall_reject_inbound, setup_policy,
						teardown_policy),
		cmocka_unit_test_setup_teardown(test_outbound_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_unmaps_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_polling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_split, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_plain_csum, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_hostile, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_hold_segment, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_hold_timeout, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_merge, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_batch_full, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_ring, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_ring_bytes, setup_vnet, teardown),
		cmocka_unit_test_setup_teardown(test_vnet_packet_too_big, setup_policy_vnet,
						teardown_policy),
		cmocka_unit_test(test_open_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
