/*
 * quic: the QUIC endpoint (ngtcp2 + GnuTLS): many connections over the one
 * magicsock socket, DATAGRAM frames for IP packets and one framed control
 * stream per connection.
 *
 * This is the only module that includes ngtcp2 headers (1.x), so a change
 * of ngtcp2 API touches quic.c alone. Connections never see real addresses: each is
 * created with one fixed virtual path and always fed with it; the real source
 * of every packet goes to magicsock (magicsock_peer_heard) and every outgoing
 * packet is sent to the peer's key (magicsock_send_peer). Until a server
 * connection has verified its client's key it answers the address it last
 * heard the connection from.
 *
 * Identity: both sides present a self-signed Ed25519 certificate (tls.h). A
 * client only completes with the server whose key it dialled; a server
 * requires a client certificate and asks events.accept whether to admit the
 * key. ALPNs: QUIC_ALPN_MESH, QUIC_ALPN_BLOBS and QUIC_ALPN_FILES (the
 * server accepts all three; events.accept decides per key).
 *
 * Control messages: the client opens the one bidirectional stream when the
 * handshake is confirmed. Each message is a 4-byte big-endian length and an
 * opaque body; a zero-length frame is the stream-opening marker and is never
 * delivered. A frame longer than the receive cap closes the connection with
 * QUIC_CODE_PROTOCOL; the claimed size is never allocated up front.
 *
 * One mesh connection per peer: when two connections to the same peer with
 * QUIC_ALPN_MESH are both confirmed (simultaneous dial), the one whose client
 * has the lexicographically smaller key survives (equal clients: smaller
 * initial DCID) and the other is closed with QUIC_CODE_DUPLICATE. Both ends
 * pick the same survivor. The owner gets `confirmed` only for the survivor; a
 * loser the owner already knows (its own dial, or one announced before the
 * duplicate appeared) gets `closed` with QUIC_CLOSE_SUPERSEDED.
 *
 * Events and ownership: the endpoint owns its connections. The owner learns
 * of a connection from quic_connect() (its dials) or from events.confirmed
 * (accepted ones) and may use the pointer until events.closed for it has
 * returned; `closed` comes exactly once for every connection the owner knows,
 * including a quic_conn_close() it made itself (synchronously, unless called
 * from inside another event). `datagram` and `message` buffers are valid only
 * during the call. Inside `accept` do not call into this module; inside the
 * other events the send/close calls are allowed (they are deferred until the
 * packet being read is done); never free the endpoint from an event.
 * quic_endpoint_free() sends CONNECTION_CLOSE on
 * every connection and emits no events; run the loop afterwards so libuv
 * handles finish closing. Single-threaded: all calls on the loop thread.
 */
#ifndef RAYFISH_TRANSPORT_QUIC_H
#define RAYFISH_TRANSPORT_QUIC_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "transport/magicsock.h"

#define QUIC_KEY_LEN LIMIT_KEY_LEN
#define QUIC_ALPN_MESH "rayfish/mesh/1"
#define QUIC_ALPN_BLOBS "rayfish/blobs/1"
#define QUIC_ALPN_FILES "rayfish/files/1" /* file transfers (daemon/files.c) */
#define QUIC_ALPN_MAX 32
#define QUIC_MAX_DATAGRAM_FRAME 1350 /* our max_datagram_frame_size */
#define QUIC_MAX_UDP_PAYLOAD 1452    /* 1500 - IPv6 - UDP headers */
#define QUIC_MSG_CAP LIMIT_CTL_MSG   /* control frame body cap */
#define QUIC_TXQ_CAP (16u << 20)     /* unacknowledged control bytes */
#define QUIC_DGRAM_QUEUE 128         /* DATAGRAMs queued per connection */

/* Application close codes (CONNECTION_CLOSE type 0x1d). */
#define QUIC_CODE_NONE 0x0
#define QUIC_CODE_LEAVE 0x52460001     /* the peer left the network */
#define QUIC_CODE_DUPLICATE 0x52460002 /* simultaneous dial loser */
#define QUIC_CODE_PROTOCOL 0x52460003  /* bad control framing */
#define QUIC_CODE_SHUTDOWN 0x52460004  /* endpoint going away */
#define QUIC_CODE_OVERLOAD 0x52460005  /* the peer let our send queue overflow */

enum quic_close_reason {
	QUIC_CLOSE_LOCAL = 0,  /* quic_conn_close() */
	QUIC_CLOSE_PEER,       /* peer closed with an application code */
	QUIC_CLOSE_IDLE,       /* idle timeout: peer vanished */
	QUIC_CLOSE_HANDSHAKE,  /* refused, wrong key, or handshake timeout */
	QUIC_CLOSE_PROTOCOL,   /* transport error or bad framing */
	QUIC_CLOSE_SUPERSEDED, /* lost the duplicate-connection tie-break */
};

struct quic_conn;
struct quic_endpoint;

struct quic_events {
	/* Server: admit this client key for alpn? 0 = yes. NULL admits all. */
	int (*accept)(void *ud, const uint8_t pk[QUIC_KEY_LEN], const char *alpn);
	void (*confirmed)(void *ud, struct quic_conn *c);
	void (*datagram)(void *ud, struct quic_conn *c, const uint8_t *buf, size_t len);
	void (*message)(void *ud, struct quic_conn *c, const uint8_t *buf, size_t len);
	/* code: the application code for LOCAL/PEER/SUPERSEDED, else 0. */
	void (*closed)(void *ud, struct quic_conn *c, enum quic_close_reason reason, uint64_t code);
};

struct quic_config {
	uint32_t idle_timeout_ms;      /* 0: 30000 */
	uint32_t keepalive_ms;         /* 0: 5000 */
	uint32_t handshake_timeout_ms; /* 0: 10000 */
	uint32_t max_msg_len;          /* receive cap, 0: QUIC_MSG_CAP */
	uint32_t max_conns;            /* 0: 1024 */
	uint32_t max_handshakes;       /* half-open server conns, 0: 128 */
	/*
	 * Limits on what others may open (accepted connections, handshaking
	 * or open): per verified client key (0: 4), per source (IPv4
	 * address, IPv6 /64, or one member-relayed origin; 0: 32), and all
	 * together at most 3/4 of max_conns, so our own dials always have
	 * room.
	 */
	uint32_t max_conns_per_key;
	uint32_t max_conns_per_source;
	/* Control bytes queued and unacknowledged per connection, 0:
	 * QUIC_TXQ_CAP; over it the connection is closed (QUIC_CODE_OVERLOAD):
	 * a peer that never opens its window must not make us buffer. */
	uint32_t txq_cap;
	/* Retry (RFC 9000 8.1.2): clients prove their address before we keep
	 * any state, once a quarter of max_handshakes is in use (spoofed
	 * Initials then fill nothing), or always with retry_always (tests). */
	int retry_always;
};

struct quic_stats {
	double rtt_ms;               /* smoothed */
	uint64_t tx_bytes, rx_bytes; /* UDP payload bytes */
	uint64_t tx_packets, rx_packets;
	uint64_t dgrams_tx, dgrams_rx;
	uint64_t dgrams_lost;           /* declared lost by recovery */
	uint64_t dgrams_dropped;        /* refused: too big or congestion */
	uint64_t cwnd, bytes_in_flight; /* congestion state, bytes */
};

struct quic_endpoint_stats {
	uint64_t rx_unknown;     /* no connection for the DCID, not an Initial */
	uint64_t rx_bad;         /* undecodable header */
	uint64_t rx_refused;     /* new connection refused (limits) */
	uint64_t refused_source; /* of those: per-source limit */
	uint64_t refused_full;   /* of those: pool or half-open slots full */
	uint64_t refused_token;  /* of those: a Retry token forged or stale */
	uint64_t refused_key;    /* client key over its limit (in the handshake) */
	uint64_t overloads;      /* closed for a send queue over txq_cap */
	uint64_t retries;        /* Retry packets sent */
	uint64_t conns;          /* live connections */
};

/*
 * Creates the endpoint and registers it as magicsock's QUIC handler. seed is
 * the node's Ed25519 seed (copied where needed). Returns 0 or -errno.
 */
int quic_endpoint_new(struct quic_endpoint **out, uv_loop_t *loop, struct magicsock *ms,
		      const uint8_t seed[QUIC_KEY_LEN], const struct quic_config *cfg,
		      const struct quic_events *ev, void *ud);
void quic_endpoint_free(struct quic_endpoint *ep);
const uint8_t *quic_endpoint_key(const struct quic_endpoint *ep);
void quic_endpoint_get_stats(const struct quic_endpoint *ep, struct quic_endpoint_stats *st);
/* Feeds one received QUIC packet (normally called by magicsock). */
void quic_endpoint_input(struct quic_endpoint *ep, const uint8_t *pkt, size_t len,
			 const union ms_addr *from);
/* The confirmed connection to pk with alpn, or NULL. */
struct quic_conn *quic_endpoint_find(struct quic_endpoint *ep, const uint8_t pk[QUIC_KEY_LEN],
				     const char *alpn);

/*
 * Dials pk. *out is valid until events.closed. Returns 0 or -errno
 * (-EINVAL: unknown alpn or own key; -EHOSTUNREACH: magicsock knows no
 * address for pk; -EMFILE: connection limit).
 */
int quic_connect(struct quic_endpoint *ep, const uint8_t pk[QUIC_KEY_LEN], const char *alpn,
		 struct quic_conn **out);

/*
 * Queues one DATAGRAM (copied). Queued DATAGRAMs leave in the loop's check
 * phase, after this iteration's I/O callbacks, as one burst per connection,
 * and stay queued while the congestion window is full. 0 when queued;
 * -EMSGSIZE when len exceeds quic_conn_max_datagram(); -EAGAIN when the
 * queue (QUIC_DGRAM_QUEUE) is full: the DATAGRAM was not taken, and the
 * writable handler is called once the queue has drained to half, so the
 * caller can hold it and retry instead of dropping it; -ENOTCONN before
 * confirmation or while closing; -ENOMEM.
 */
int quic_conn_send_datagram(struct quic_conn *c, const uint8_t *buf, size_t len);
/*
 * The writable handler (one per endpoint, NULL clears): c refused a DATAGRAM
 * with -EAGAIN and has room again, or the room asked for with
 * quic_conn_want_room is free. Called from the loop's check phase; it
 * may send and close (the connection is freed only after it returns).
 */
typedef void (*quic_writable_fn)(void *ud, struct quic_conn *c);
void quic_endpoint_set_writable(struct quic_endpoint *ep, quic_writable_fn fn, void *ud);

/* Largest DATAGRAM payload that fits this connection now; 0 if none. */
size_t quic_conn_max_datagram(struct quic_conn *c);
/*
 * Queues one control message (copied; kept until acknowledged). 0 or
 * -EMSGSIZE (> QUIC_MSG_CAP), -ENOTCONN, or -ENOBUFS: the queue cap was
 * reached; the connection is then closed with QUIC_CODE_OVERLOAD from the
 * loop's check phase (the closed event never comes from inside this call).
 */
int quic_conn_send_msg(struct quic_conn *c, const uint8_t *buf, size_t len);
/* 1 when a and b were both accepted from one source (see max_conns_per_source). */
int quic_conn_same_source(const struct quic_conn *a, const struct quic_conn *b);
/* Lowers (or raises) one connection's send queue cap, e.g. for a stranger. */
void quic_conn_set_txq_cap(struct quic_conn *c, size_t bytes);
/* A connection whose peer the owner knows (a member): it no longer counts
 * against its source's max_conns_per_source, so many members behind one
 * NAT all get in while strangers from there stay capped. */
void quic_conn_set_trusted(struct quic_conn *c, int trusted);
/* Resizes the pool (max_conns; the 3/4 share for accepted connections
 * follows); connections already open stay. -EINVAL below 16. */
int quic_endpoint_set_max_conns(struct quic_endpoint *ep, uint32_t n);
/* How many accepted connections a pool of max_conns holds (3/4 of it, so
 * our own dials always have room); exported so the scale simulation checks
 * the pool the gate sizes against the endpoint's own rule. */
uint32_t quic_accept_cap(uint32_t max_conns);
/* The largest message quic_conn_send_msg would queue now without overflow. */
size_t quic_conn_txq_room(const struct quic_conn *c);
/* Calls the writable handler once, from the loop's check phase, when at
 * least bytes (at most half the queue cap) of send queue room are free:
 * a bulk sender fills the queue, asks, and fills again. */
void quic_conn_want_room(struct quic_conn *c, size_t bytes);
/* Closes with an application code; the peer sees QUIC_CLOSE_PEER + code. */
void quic_conn_close(struct quic_conn *c, uint64_t code);

const uint8_t *quic_conn_peer(const struct quic_conn *c);
const char *quic_conn_alpn(const struct quic_conn *c);
int quic_conn_is_client(const struct quic_conn *c);
int quic_conn_is_confirmed(const struct quic_conn *c);
void quic_conn_get_stats(struct quic_conn *c, struct quic_stats *st);
void quic_conn_set_data(struct quic_conn *c, void *data);
void *quic_conn_get_data(const struct quic_conn *c);

const char *quic_close_reason_name(enum quic_close_reason r);

/*
 * The control stream's receive side on its own, without a connection or
 * ngtcp2: bytes fed here go through the reassembly every connection runs on
 * its stream data (4-byte length frames, the zero-length opening marker,
 * the max_msg_len cap) and each whole body goes to fn. It exists so a fuzz
 * target (tests/fuzz/fuzz_daemon.c) can put the real framing in front of
 * the daemon's message handlers; the daemon itself never uses it. loop is
 * only read for the clock of the log rate limit.
 */
struct quic_rx;
typedef void (*quic_rx_fn)(void *ud, const uint8_t *buf, size_t len);
/* max_msg_len 0: QUIC_MSG_CAP. Returns 0 or -ENOMEM. */
int quic_rx_new(struct quic_rx **out, uv_loop_t *loop, uint32_t max_msg_len, quic_rx_fn fn,
		void *ud);
/* 0, or -EPROTO (a frame over the cap) / -ENOMEM, after which a
 * connection is closed with QUIC_CODE_PROTOCOL: feed no more then. */
int quic_rx_feed(struct quic_rx *rx, const uint8_t *p, size_t n);
void quic_rx_free(struct quic_rx *rx);

#endif
