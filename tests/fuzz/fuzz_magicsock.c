/*
 * fuzz_magicsock: hostile datagrams through the magicsock classifier and the
 * QUIC endpoint's input path (DCID routing, Initial acceptance, ngtcp2
 * decoding). The first input byte picks whether the datagram "came from" a
 * relay server, so the TURN branch is reached too, and whether it came from
 * one of two known peers (direct paths, relaying allowed between them), so
 * member relay frames reach forwarding and delivery. Replies the endpoint
 * makes go to the discard port on 127.0.0.x.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "transport/magicsock.h"
#include "transport/quic.h"
#include "util/log.h"

static uv_loop_t loop;
static struct magicsock *ms;
static struct quic_endpoint *ep;
static union ms_addr from, relay, peer_addr[2];
static uint8_t peer_pk[2][MAGICSOCK_KEY_LEN];

static int allow_all(void *ud, const uint8_t *a, const uint8_t *b)
{
	(void)ud;
	(void)a;
	(void)b;
	return 1;
}

static void setup(void)
{
	struct magicsock_config mc = { 0 };
	struct quic_config qc = { .handshake_timeout_ms = 200 };
	uint8_t seed[32];

	log_init(LL_ERROR);
	memset(seed, 0x42, sizeof(seed));
	uv_loop_init(&loop);
	if (magicsock_new(&ms, &loop, &mc) < 0 ||
	    quic_endpoint_new(&ep, &loop, ms, seed, &qc, NULL, NULL) < 0)
		__builtin_trap();
	ms_addr_parse(&from, "127.0.0.1:9");
	ms_addr_parse(&relay, "127.0.0.2:9");
	magicsock_add_relay(ms, &relay);
	/* Key prefixes the fuzzer can find: 0x01 0x01 ... and 0x02 0x02 ... */
	memset(peer_pk[0], 0x01, MAGICSOCK_KEY_LEN);
	memset(peer_pk[1], 0x02, MAGICSOCK_KEY_LEN);
	ms_addr_parse(&peer_addr[0], "127.0.0.3:9");
	ms_addr_parse(&peer_addr[1], "127.0.0.4:9");
	magicsock_set_fwd_policy(ms, allow_all, NULL);
}

/* Without disco, a peer's direct path is the address last heard (fresh). */
static void peers_refresh(void)
{
	magicsock_peer_heard(ms, peer_pk[0], &peer_addr[0]);
	magicsock_peer_heard(ms, peer_pk[1], &peer_addr[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quic_endpoint_stats st;
	int via_relay;

	if (ep == NULL)
		setup();
	if (size == 0)
		return 0;
	const union ms_addr *src;

	via_relay = data[0] & 1;
	src = via_relay            ? &relay
	      : (data[0] & 6) == 2 ? &peer_addr[0]
	      : (data[0] & 6) == 4 ? &peer_addr[1]
				   : &from;
	data++;
	size--;
	peers_refresh();
	(void)magicsock_classify(data, size, via_relay);
	magicsock_input(ms, data, size, src);
	/* Straight into the endpoint too, whatever the class. */
	quic_endpoint_input(ep, data, size, &from);
	uv_run(&loop, UV_RUN_NOWAIT);
	quic_endpoint_get_stats(ep, &st);
	/* Junk must never pile up connections. */
	if (st.conns > 200)
		__builtin_trap();
	return 0;
}
