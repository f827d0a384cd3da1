/*
 * peers: every remote identity the daemon cares about and its one mesh
 * connection.
 *
 * A peer is wanted while it is a member of a network we share or while a
 * join talks to it; a wanted peer without a connection is dialled, after
 * looking up its endpoint record in the DHT, with exponential backoff from
 * 1 s to 30 s. Peers that connect to us unasked (joiners) live as long as
 * their connection. Both sides dial; the transport keeps one connection.
 *
 * Each side also sends its newest signed endpoint record (CTL_ENDPOINT)
 * over the connection when it comes up and whenever the record changes:
 * the side that was dialled never looked the dialler up, and a relayed
 * connection is how candidates for a direct path arrive when the DHT is
 * slow, stale or down. The record is verified like one from the DHT.
 */
#ifndef RAYFISH_DAEMON_PEERS_H
#define RAYFISH_DAEMON_PEERS_H

#include "util/limits.h"

#include <stdbool.h>
#include <stdint.h>

#include "mesh/identity.h"
#include "transport/magicsock.h"
#include "util/ratelimit.h"

struct daemon;
struct quic_conn;
struct ctl_msg;

struct peer {
	struct peer *next;
	uint8_t pk[LIMIT_KEY_LEN];
	char id[IDENTITY_ID_LEN + 1];
	struct quic_conn *conn;    /* confirmed mesh connection, or NULL */
	struct quic_conn *dialing; /* our dial in progress, or NULL */
	unsigned wants;            /* networks + joins that need this peer */
	uint32_t backoff_ms;
	uint64_t next_dial_ms;
	uint64_t addrs_ms; /* when we last had its endpoint record */
	bool lookup_busy;
	uint64_t tx_bytes, rx_bytes;                  /* data-plane bytes, all networks */
	uint64_t tx_packets, rx_packets;              /* and packets */
	uint64_t last_seen;                           /* unix seconds the connection was last up */
	union ms_addr dht_addrs[MAGICSOCK_MAX_ADDRS]; /* from its endpoint record */
	size_t n_dht;
	union ms_addr lan_addrs[4]; /* from mDNS on our LAN */
	size_t n_lan;
	bool relay_offer;  /* its record offers member relaying */
	uint32_t nets[16]; /* indexes of the networks it shares with us */
	size_t n_nets;     /* (datapath_sync; the firewall's union rule) */
	bool stranger;     /* gate.c: not known, on a deadline */
	uint64_t stranger_until_ms;
	struct ratelimit msg_rl;   /* gate.c: control messages */
	struct ratelimit log_rl;   /* gate.c: log lines its input causes */
	struct ratelimit audit_rl; /* audit.c: its lines in audit.log */
	uint64_t audit_held;       /* audit lines held back since the last one */
	uint64_t drop_logged_ms;
	size_t n_vias; /* member relays last handed to magicsock */
};

struct peer *peers_find(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN]);
/* Finds or creates; NULL only on allocation failure or our own key. */
struct peer *peers_ensure(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN]);
/* Adds / drops one reason to stay connected; the last drop closes the
 * connection with code (0 = plain close, QUIC_CODE_LEAVE on leave). */
void peer_want(struct daemon *d, struct peer *p);
void peer_unwant(struct daemon *d, struct peer *p, uint64_t code);
/* Dials now if there is no connection (skips the backoff wait). */
void peer_dial_soon(struct daemon *d, struct peer *p);

/* Records where p can be reached (lan: from mDNS, else from its endpoint
 * record) and hands magicsock the merged candidates, LAN first. */
void peer_set_addrs(struct daemon *d, struct peer *p, bool lan, const union ms_addr *addrs,
		    size_t n);

/* Encodes and sends one control message; -ENOTCONN without a connection. */
int peer_send_ctl(struct daemon *d, struct peer *p, const struct ctl_msg *m);

/* Our endpoint record changed: tell every connected peer. */
void peers_broadcast_endpoint(struct daemon *d);
/* Handles CTL_ENDPOINT; false for any other message. */
bool peers_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m);

/* Every tick: dial wanted peers whose backoff expired. */
void peers_tick(struct daemon *d);
/* Closes every connection and frees every peer (daemon shutdown). */
void peers_close_all(struct daemon *d);

/* QUIC events, wired by the daemon. */
void peers_on_confirmed(struct daemon *d, struct quic_conn *c);
void peers_on_closed(struct daemon *d, struct quic_conn *c, int reason, uint64_t code);

#endif
