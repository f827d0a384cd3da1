/*
 * turn: an RFC 8656 TURN client over the daemon's one UDP socket, so that a
 * peer we cannot reach directly can still reach us through a relay.
 *
 * A client holds one UDP allocation on one server with long-term
 * credentials: the first Allocate is unauthenticated, the server's 401 gives
 * REALM and NONCE, and every later request carries USERNAME, REALM, NONCE
 * and MESSAGE-INTEGRITY keyed with MD5(user:realm:pass). A 438 (stale nonce)
 * takes the new nonce and repeats the request; a second 401 means the
 * credentials are wrong and the client fails with that reason. Once
 * allocated it keeps the permissions it was asked for (CreatePermission,
 * every ~4 min) and the channels it bound (ChannelBind, channels
 * 0x4000-0x4fff, every ~9 min).
 *
 * Liveness: the allocation is refreshed every check_ms (15 s), far more
 * often than its lifetime needs, because a Refresh is the only way to learn
 * that the allocation is gone: a restarted server answers 437 (it has no
 * allocation for our 5-tuple), a NAT that rebooted under us gives us a new
 * 5-tuple with the same result, and a dead server does not answer (the
 * Refresh gives up after ~15 s). A refused or unanswered CreatePermission
 * or ChannelBind triggers the check at once. The frequent Refresh also
 * keeps our NAT's mapping to the server open while no data flows. Either
 * way the client fails with a reason starting "allocation lost"; the owner
 * makes a new client (which allocates anew, possibly at another relayed
 * address) and republishes the address.
 *
 * turn_send sends to a peer through the relay: as ChannelData when a channel
 * to that exact address is bound, else as a Send indication (creating the
 * permission first when missing). Data from peers (Data indications and
 * ChannelData) goes to on_data with the peer's address, so the owner can
 * feed QUIC or disco as if the packet came from that address.
 *
 * Every response must answer an outstanding transaction and, once we have a
 * key, carry a valid MESSAGE-INTEGRITY (only 400/401/420/437/438 errors may
 * come without); anything else is dropped and counted as spoofed. Packets count
 * only when they come from the server's address.
 *
 * Wiring: turn_client_new registers the server with magicsock_add_relay (so
 * ChannelData is classified as TURN); the owner adds turn_client_input to
 * its STUN demultiplexer and turn_client_channel_input to a second one for
 * the TURN class (see stun.h), before any Binding client so Binding answers
 * still reach that one (turn_client_input never claims Binding messages).
 *
 * Ownership: turn_client_new allocates; turn_client_free sends a Refresh
 * with lifetime 0 (best effort, not waited for) and releases the memory once
 * libuv has closed the timer, so the loop must run afterwards. Remove the
 * client from the demultiplexers first. Callbacks must not free the client.
 * Single-threaded: call everything from the loop thread.
 */
#ifndef RAYFISH_TRANSPORT_TURN_H
#define RAYFISH_TRANSPORT_TURN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "transport/magicsock.h"
#include "transport/stun.h"

#define TURN_MAX_PERMS 64
#define TURN_MAX_CHANNELS 64
#define TURN_CHANNEL_MIN 0x4000
#define TURN_CHANNEL_MAX 0x4fff
#define TURN_MAX_DATA 1900 /* payload per send; the framing stays < 2048 */
#define TURN_REASON_LEN 192

enum turn_state {
	TURN_ALLOCATING = 0,
	TURN_ALLOCATED,
	TURN_FAILED, /* see the reason; the owner may start over */
	TURN_CLOSED, /* deallocated on request */
};

struct turn_events {
	void (*on_state)(void *ud, enum turn_state st, const char *reason);
	void (*on_data)(void *ud, const union ms_addr *peer, const uint8_t *buf, size_t len);
	void *ud;
};

struct turn_config {
	uint32_t lifetime_s;       /* requested lifetime, 0: 600 */
	uint32_t perm_refresh_ms;  /* 0: 240000 (permissions last 300 s) */
	uint32_t chan_refresh_ms;  /* 0: 540000 (channels last 600 s) */
	uint32_t refresh_ms;       /* allocation refresh period, 0: from
					 * the granted lifetime (tests: coturn
					 * never grants under 600 s), capped by
					 * check_ms */
	uint32_t check_ms;         /* liveness Refresh period, 0: 15000 */
	struct stun_timing timing; /* retransmissions, 0s: RFC 8489 */
};

struct turn_stats {
	uint64_t tx_send;    /* Send indications */
	uint64_t tx_channel; /* ChannelData */
	uint64_t rx_data;    /* Data indications delivered */
	uint64_t rx_channel; /* ChannelData delivered */
	uint64_t rx_spoofed; /* bad integrity, unknown transaction */
	uint64_t rx_late;    /* second answer to a retransmission */
	uint64_t rx_bad;     /* from the server but malformed */
	uint64_t rx_unknown_channel;
	uint64_t refreshes;    /* successful allocation refreshes */
	uint64_t stale_nonces; /* 438 answers followed */
	uint64_t perm_errors;  /* CreatePermission / ChannelBind refused */
	uint64_t tx_errors;
	int has_rtt;
	uint32_t rtt_ms; /* last request answered at its first try */
};

struct turn_client;

int turn_client_new(struct turn_client **out, uv_loop_t *loop, struct magicsock *ms,
		    const union ms_addr *server, const char *user, const char *pass,
		    const struct turn_events *ev, const struct turn_config *cfg);
void turn_client_free(struct turn_client *tc);

/* Refresh with lifetime 0 as a transaction: TURN_CLOSED when answered. */
int turn_client_deallocate(struct turn_client *tc);

enum turn_state turn_client_state(const struct turn_client *tc, const char **reason);
const char *turn_state_name(enum turn_state st);
/* 0, or -ENOTCONN while not allocated. */
int turn_relayed_addr(const struct turn_client *tc, union ms_addr *out);
int turn_reflexive_addr(const struct turn_client *tc, union ms_addr *out);
const union ms_addr *turn_server_addr(const struct turn_client *tc);

/*
 * Keep a permission for the peer's IP (ports do not matter to TURN) or a
 * channel to its exact address (which implies the permission). Asked before
 * the allocation exists, they are installed right after. 0 or -ENOSPC.
 */
int turn_permit(struct turn_client *tc, const union ms_addr *peer);
int turn_bind_channel(struct turn_client *tc, const union ms_addr *peer);
/* The bound channel number for peer, 0 when none is bound (yet). */
uint16_t turn_channel_of(const struct turn_client *tc, const union ms_addr *peer);

/* 0, -ENOTCONN (not allocated), -EMSGSIZE, or the send error. */
int turn_send(struct turn_client *tc, const union ms_addr *peer, const uint8_t *buf, size_t len);

/* stun_sink_fn for the STUN class: 1 when the packet was ours. */
int turn_client_input(void *tc, const uint8_t *pkt, size_t len, const union ms_addr *from);
/* stun_sink_fn for the TURN class (ChannelData). */
int turn_client_channel_input(void *tc, const uint8_t *pkt, size_t len, const union ms_addr *from);

void turn_client_get_stats(const struct turn_client *tc, struct turn_stats *st);

#endif
