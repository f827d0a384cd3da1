/*
 * ray-stranger: plays strangers against a daemon, for the lab. Opens N mesh
 * connections to the node KEY (64 hex) at ADDR (ip:port), each under a fresh
 * identity, sends nothing (or, with FLOOD > 0, that many CTL_PING messages
 * on each connection once it is up; with junk=COUNT, that many control
 * messages that do not decode; with join=ROOM (64 hex), one JOIN_REQ
 * for that network per connection, as a throwaway joiner would; with
 * blobs=K, blobs connections instead, each asking K times for a blob no
 * one holds, K = 0 asking nothing) and runs for SECONDS, printing once a
 * second how many of its connections are open. The last line is JSON:
 *   {"confirmed": C, "closed": K, "refused": R, "open": O, "max_open": M}
 * closed counts connections closed after they were up, refused those closed
 * before; max_open is the most connections open at one sample.
 *
 *   ray-stranger ADDR KEY N SECONDS [FLOOD | junk=COUNT | join=ROOM | blobs=K]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <msgpack.h>

#include "proto/control.h"
#include "transport/magicsock.h"
#include "transport/quic.h"
#include "util/hex.h"
#include "util/log.h"

#define MAX_N 256

struct tool {
	uv_loop_t loop;
	uv_timer_t tick;
	struct magicsock *ms[MAX_N];
	struct quic_endpoint *ep[MAX_N];
	int n, seconds, elapsed, flood;
	int junk; /* flood with undecodable messages */
	int join;
	int blobs, blob_gets;
	uint8_t room[32];
	int confirmed, closed, max_open; /* closed: once confirmed */
	int refused;                     /* closed before confirmation */
};

static void flood(struct tool *t, struct quic_conn *c)
{
	struct ctl_msg m = { .type = CTL_PING };
	static const uint8_t never_used[] = { 0xc1 }; /* no msgpack type */
	msgpack_sbuffer sb;
	int i;

	msgpack_sbuffer_init(&sb);
	if (t->junk)
		msgpack_sbuffer_write(&sb, (const char *)never_used, sizeof(never_used));
	else if (ctl_encode(&m, &sb) < 0)
		sb.size = 0;
	for (i = 0; sb.size && i < t->flood; i++)
		if (quic_conn_send_msg(c, (const uint8_t *)sb.data, sb.size) < 0)
			break;
	msgpack_sbuffer_destroy(&sb);
}

static void join_req(struct tool *t, struct quic_conn *c)
{
	struct ctl_msg m = { .type = CTL_JOIN_REQ, .has_net = true };
	msgpack_sbuffer sb;

	memcpy(m.net, t->room, 32);
	snprintf(m.hostname, sizeof(m.hostname), "stranger%d", t->confirmed);
	msgpack_sbuffer_init(&sb);
	if (ctl_encode(&m, &sb) == 0)
		quic_conn_send_msg(c, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void blob_gets(struct tool *t, struct quic_conn *c)
{
	struct ctl_msg m = { .type = CTL_BLOB_GET, .has_hash = true };
	msgpack_sbuffer sb;
	int i;

	randombytes_buf(m.hash, sizeof(m.hash));
	msgpack_sbuffer_init(&sb);
	if (ctl_encode(&m, &sb) == 0)
		for (i = 0; i < t->blob_gets; i++)
			quic_conn_send_msg(c, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void ev_confirmed(void *ud, struct quic_conn *c)
{
	struct tool *t = ud;

	t->confirmed++;
	quic_conn_set_data(c, t);
	if (t->flood)
		flood(t, c);
	if (t->join)
		join_req(t, c);
	if (t->blobs)
		blob_gets(t, c);
}

static void ev_closed(void *ud, struct quic_conn *c, enum quic_close_reason r, uint64_t code)
{
	struct tool *t = ud;

	(void)r;
	(void)code;
	if (quic_conn_get_data(c))
		t->closed++;
	else
		t->refused++;
}

static const struct quic_events events = {
	.confirmed = ev_confirmed,
	.closed = ev_closed,
};

static void on_tick(uv_timer_t *h)
{
	struct tool *t = h->data;
	int open = t->confirmed - t->closed, i;

	if (open > t->max_open)
		t->max_open = open;
	printf("t=%d open=%d confirmed=%d closed=%d refused=%d\n", t->elapsed, open, t->confirmed,
	       t->closed, t->refused);
	fflush(stdout);
	if (++t->elapsed <= t->seconds)
		return;
	printf("{\"confirmed\": %d, \"closed\": %d, \"refused\": %d, \"open\": %d, "
	       "\"max_open\": %d}\n",
	       t->confirmed, t->closed, t->refused, open, t->max_open);
	uv_timer_stop(h);
	for (i = 0; i < t->n; i++) {
		quic_endpoint_free(t->ep[i]);
		magicsock_free(t->ms[i]);
	}
	uv_close((uv_handle_t *)h, NULL);
}

static int start_one(struct tool *t, int i, const union ms_addr *to, const uint8_t *pk)
{
	struct magicsock_config mc = { .port = 0 };
	uint8_t seed[32];
	struct quic_conn *c;

	randombytes_buf(seed, sizeof(seed));
	if (magicsock_new(&t->ms[i], &t->loop, &mc) < 0 ||
	    quic_endpoint_new(&t->ep[i], &t->loop, t->ms[i], seed, NULL, &events, t) < 0 ||
	    magicsock_set_peer_addrs(t->ms[i], pk, to, 1) < 0)
		return -1;
	return quic_connect(t->ep[i], pk, t->blobs ? QUIC_ALPN_BLOBS : QUIC_ALPN_MESH, &c);
}

int main(int argc, char **argv)
{
	static struct tool t;
	union ms_addr to;
	uint8_t pk[32];
	int i;

	if (argc < 5 || argc > 6 || ms_addr_parse(&to, argv[1]) < 0 ||
	    hex_decode_str(argv[2], pk, sizeof(pk)) < 0) {
		fprintf(stderr, "usage: ray-stranger ADDR KEY N SECONDS "
				"[FLOOD | junk=COUNT | join=ROOM | blobs=K]\n");
		return 2;
	}
	t.n = atoi(argv[3]);
	t.seconds = atoi(argv[4]);
	if (argc == 6 && strncmp(argv[5], "join=", 5) == 0) {
		if (hex_decode_str(argv[5] + 5, t.room, sizeof(t.room)) < 0)
			return 2;
		t.join = 1;
	} else if (argc == 6 && strncmp(argv[5], "blobs=", 6) == 0) {
		t.blobs = 1;
		t.blob_gets = atoi(argv[5] + 6);
	} else if (argc == 6 && strncmp(argv[5], "junk=", 5) == 0) {
		t.flood = atoi(argv[5] + 5);
		t.junk = 1;
	} else if (argc == 6) {
		t.flood = atoi(argv[5]);
	}
	if (t.n < 1 || t.n > MAX_N || t.seconds < 1 || sodium_init() < 0)
		return 2;
	log_init(LL_ERROR);
	uv_loop_init(&t.loop);
	for (i = 0; i < t.n; i++)
		if (start_one(&t, i, &to, pk) < 0) {
			fprintf(stderr, "ray-stranger: cannot start connection %d\n", i);
			return 1;
		}
	uv_timer_init(&t.loop, &t.tick);
	t.tick.data = &t;
	uv_timer_start(&t.tick, on_tick, 1000, 1000);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	uv_loop_close(&t.loop);
	return 0;
}
