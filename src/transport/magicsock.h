/*
 * magicsock: the one UDP socket of the daemon and the real-address side of
 * every peer path.
 *
 * QUIC, STUN, TURN ChannelData and disco packets all share one socket; the
 * first bytes tell them apart (magicsock_classify) and each class goes to the
 * handler registered for it. Packets of a class without a handler are counted
 * and dropped. QUIC never sees real addresses: it asks magicsock to send to a
 * peer (by its 32-byte Ed25519 key) and magicsock picks the address: the one
 * last heard from with a valid packet of that peer's connection while it is
 * fresh, else every candidate address the owner gave for the peer (so the
 * first Initial reaches whichever works).
 *
 * Relay route: the owner may register a relay sender (its TURN client) and
 * give each peer a relay candidate, the peer's relayed address on its own
 * TURN server. Packets relayed to us enter through magicsock_input_relayed
 * with from = the sender's relayed address; such addresses are remembered
 * (a bounded table, oldest replaced) so that any send to them by address
 * (answers to a peer not yet known) goes through the relay sender (TURN to
 * TURN: our allocation relays to theirs), never straight from our socket,
 * which their allocation would not accept. Sending to a peer: its direct
 * address gets everything (with disco: the address a pong confirmed; without
 * it: the last address heard while fresh); otherwise the packet goes through
 * the relay to the peer's relay candidate, and the direct candidates get
 * every packet while nothing was heard through the relay either (so the
 * first Initial reaches whichever works); without disco they also get one
 * packet per MAGICSOCK_DIRECT_PROBE_MS while relaying, so a direct path can
 * still come up and take over (with disco, its pings do that).
 *
 * Member relays (magicsock_member_relay.c): a member with a direct path
 * to two peers may forward opaque QUIC packets between them. A packet for
 * peer B through member R goes to R as MAGICSOCK_FWD_MAGIC, kind "to", the
 * first MAGICSOCK_FWD_KEY_LEN bytes of B's key and the QUIC packet; R
 * rewrites the kind to "from" and the key to the sender's and sends it on
 * to B. Both ends know the other end of a hop by its confirmed direct
 * address (with disco: a pong; without it: the last address heard), never
 * by what the packet says, so a stranger can neither use a relay nor
 * inject through one. R forwards only QUIC, only to peers it reaches
 * directly, only when the owner's policy (magicsock_set_fwd_policy) allows
 * the pair, and within a byte rate per pair. The receiver hands the QUIC
 * packet on with from = a virtual address in 100::/64 (RFC 6666: never a
 * real one) that stands for "origin through relay R"; sends to it go back
 * through R, so QUIC answers over the way it was reached. Sending to a
 * peer: direct first, then a TURN path heard from, then a member relay
 * heard through (with one packet a second to its TURN candidate, so a
 * working TURN path takes over); while probing, the packets also go
 * through the current via candidate (magicsock_set_peer_vias), which is
 * rotated when nothing comes back through it.
 *
 * Disco (once magicsock_set_disco_key gave it our identity): a direct path
 * counts only once a sealed disco pong (transport/disco.h) came back from
 * that address. Every peer we sent to in the last MAGICSOCK_DISCO_ACTIVE_MS
 * gets pings: to its confirmed address every MAGICSOCK_DISCO_HEARTBEAT_MS,
 * to every candidate (record addresses, addresses its own pings came from,
 * the last address heard) every MAGICSOCK_DISCO_PROBE_MS while it has no
 * confirmed path (backing off to MAGICSOCK_DISCO_SLOW_MS after a minute)
 * and every MAGICSOCK_DISCO_UPGRADE_MS while it has one, to find a faster
 * one. A ping is answered at once with a pong and, when it came straight
 * from the peer, with a ping of our own to its source: both ends punching
 * at the same time is what opens two NATs. A confirmed address without a
 * pong for MAGICSOCK_DISCO_TRUST_MS is dropped and the peer's packets go
 * through the relay until pongs come back; QUIC sees none of this. Disco
 * packets from unknown keys, with a bad box or over the per-peer rate are
 * counted and dropped.
 *
 * Classification (first byte b0):
 *   STUN        b0 top two bits 00, magic cookie 0x2112A442 at offset 4,
 *               length >= 20 and the header length field matches.
 *   disco       starts with MAGICSOCK_DISCO_MAGIC (first byte 0x0f, never
 *               STUN; never a QUIC long header).
 *   TURN        ChannelData (b0 0x40-0x4f, RFC 8656 channels 0x4000-0x4fff)
 *               and only from a registered relay server address: a QUIC
 *               short header also starts with 0x40-0x7f, so the source
 *               address is what separates them.
 *   QUIC        anything else (the QUIC fixed bit may be greased: ngtcp2
 *               0.12 always offers it, and 1.x then clears it, so a
 *               short header may start with any byte 0x00-0x7f; a QUIC
 *               packet that happens to look like STUN or disco is lost
 *               like any other packet, odds 2^-32 or less).
 *   junk        empty or truncated (larger than MAGICSOCK_BUF_SIZE)
 *               datagrams: counted and dropped.
 *
 * Batching: the socket reads with recvmmsg and UDP GRO (a coalesced message
 * is split back into its datagrams before classification, so handlers
 * always see single datagrams) and sends bursts with sendmmsg and UDP GSO
 * (magicsock_send_batch).
 *
 * Ownership: magicsock_new() allocates; magicsock_free() closes the socket
 * (the memory is released once libuv has closed the poll handle, so the loop
 * must run afterwards). Buffers passed to handlers are valid only during the
 * call. Single-threaded: call everything from the loop thread.
 */
#ifndef RAYFISH_TRANSPORT_MAGICSOCK_H
#define RAYFISH_TRANSPORT_MAGICSOCK_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#define MAGICSOCK_DEFAULT_PORT 41383
#define MAGICSOCK_KEY_LEN LIMIT_KEY_LEN
#define MAGICSOCK_MAX_ADDRS 8 /* candidates kept per peer */
#define MAGICSOCK_MAX_RELAYS 4
#define MAGICSOCK_MAX_PEERS 65536
#define MAGICSOCK_FRESH_MS 10000 /* last-heard address is trusted this long */
#define MAGICSOCK_DISCO_MAGIC "\x0fRAYDS"
#define MAGICSOCK_DISCO_MAGIC_LEN 6
#define MAGICSOCK_STUN_COOKIE 0x2112A442u
#define MAGICSOCK_BUF_SIZE 2048        /* larger datagrams are dropped */
#define MAGICSOCK_RELAYED_MAX 64       /* relayed source addresses remembered */
#define MAGICSOCK_DIRECT_PROBE_MS 1000 /* direct tries while relaying */
#define MAGICSOCK_DISCO_TICK_MS 250
#define MAGICSOCK_DISCO_ACTIVE_MS 30000
#define MAGICSOCK_DISCO_HEARTBEAT_MS 1000
#define MAGICSOCK_DISCO_TRUST_MS 3500
#define MAGICSOCK_DISCO_PROBE_MS 1000
#define MAGICSOCK_DISCO_SLOW_MS 5000
#define MAGICSOCK_DISCO_UPGRADE_MS 15000
#define MAGICSOCK_DISCO_RATE 32 /* their pings answered per second */
#define MAGICSOCK_FWD_MAGIC "\x0fRAYFW"
#define MAGICSOCK_FWD_MAGIC_LEN 6
#define MAGICSOCK_FWD_KEY_LEN 8 /* key prefix naming the other end */
#define MAGICSOCK_FWD_OVERHEAD (MAGICSOCK_FWD_MAGIC_LEN + 1 + MAGICSOCK_FWD_KEY_LEN)
#define MAGICSOCK_MAX_VIAS 4                 /* member relay candidates per peer */
#define MAGICSOCK_FWD_PAIRS 128              /* peer pairs a relay serves at once */
#define MAGICSOCK_FWD_PAIR_RATE (128u << 20) /* bytes/s per pair (~1 Gbit/s) */
#define MAGICSOCK_FWD_RATE (256u << 20)      /* bytes/s for all pairs */

union ms_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

enum ms_pkt {
	MS_PKT_QUIC = 0,
	MS_PKT_STUN,
	MS_PKT_TURN,
	MS_PKT_DISCO,
	MS_PKT_FWD, /* member relay: handled inside magicsock */
	MS_PKT_JUNK,
	MS_PKT_MAX
};

enum ms_path {
	MS_PATH_NONE = 0, /* no address known */
	MS_PATH_DIRECT,   /* fresh last-heard address */
	MS_PATH_PROBING,  /* sending to every candidate */
	MS_PATH_RELAY,    /* fresh last-heard address is a relayed one */
	MS_PATH_MEMBER,   /* heard through a member relay */
};

/* from is normalized: v4-mapped IPv6 addresses arrive as AF_INET. */
typedef void (*ms_rx_fn)(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from);
/* Sends one datagram to a relayed address through the owner's relay
 * (TURN) client; returns 0 or -errno. */
typedef int (*ms_relay_send_fn)(void *ud, const union ms_addr *to, const uint8_t *buf, size_t len);

struct magicsock_config {
	uint16_t port;          /* 0: ephemeral; else tried first, ephemeral if taken */
	uint32_t fresh_ms;      /* 0: MAGICSOCK_FRESH_MS */
	int sockbuf;            /* socket buffer bytes, 0: 4 MiB */
	uint32_t fwd_pair_rate; /* member relay bytes/s per pair, 0: the default */
};

struct magicsock_stats {
	uint64_t rx_packets[MS_PKT_MAX];
	uint64_t rx_bytes;
	uint64_t rx_dropped; /* no handler for the class, or truncated */
	uint64_t tx_packets;
	uint64_t tx_bytes;
	uint64_t tx_errors;       /* sendmsg failed (incl. EAGAIN: UDP may drop) */
	uint64_t tx_syscalls;     /* sendto/sendmmsg calls */
	uint64_t tx_no_path;      /* send to a peer with no address at all */
	uint64_t tx_relayed;      /* datagrams the relay sender took */
	uint64_t tx_relay_errors; /* relay sender failed or is missing */
	uint64_t disco_tx;        /* pings and pongs sent */
	uint64_t disco_rx_ping;
	uint64_t disco_rx_pong;
	uint64_t disco_rx_bad;  /* unknown sender, bad box, stale pong, over rate */
	uint64_t fwd_tx;        /* packets we relayed for two peers */
	uint64_t fwd_rx;        /* packets that reached us through a member */
	uint64_t fwd_sent;      /* packets we sent through a member */
	uint64_t fwd_denied;    /* pair not allowed, relaying off, table full */
	uint64_t fwd_no_path;   /* unknown next hop or no direct path to it */
	uint64_t fwd_over_rate; /* over the pair's or the total byte rate */
	uint64_t fwd_bad;       /* unknown sender, malformed, not QUIC, a lie */
};

struct magicsock;

int magicsock_new(struct magicsock **out, uv_loop_t *loop, const struct magicsock_config *cfg);
void magicsock_free(struct magicsock *ms);

void magicsock_set_handler(struct magicsock *ms, enum ms_pkt cls, ms_rx_fn fn, void *ud);
uint16_t magicsock_port(const struct magicsock *ms);
/* 1 when the requested fixed port was bound, 0 on the ephemeral fallback. */
int magicsock_fixed_port(const struct magicsock *ms);
void magicsock_get_stats(const struct magicsock *ms, struct magicsock_stats *st);

/*
 * Diagnostics and tests: while on, every received datagram is discarded
 * unread and every send silently "succeeds" without leaving the host, as if
 * the node had vanished from the network.
 */
void magicsock_set_blackhole(struct magicsock *ms, int on);

/* Pure function of the bytes and whether they came from a relay server. */
enum ms_pkt magicsock_classify(const uint8_t *buf, size_t len, int from_relay);
/* Classifies and dispatches one received datagram (the socket reader's path). */
void magicsock_input(struct magicsock *ms, const uint8_t *buf, size_t len,
		     const union ms_addr *from);

/*
 * Turns disco on with our identity (Ed25519 public and 64-byte secret key);
 * 0 or -errno.
 */
int magicsock_set_disco_key(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			    const uint8_t sk[64]);

/* TURN servers whose ChannelData we accept (at most MAGICSOCK_MAX_RELAYS). */
int magicsock_add_relay(struct magicsock *ms, const union ms_addr *a);

/*
 * The relay route. fn NULL unregisters it (no allocation): sends to relayed
 * addresses then fail with -ENOTCONN. magicsock_input_relayed is
 * magicsock_input for a datagram our relay client received from the relayed
 * address from (remembered as relayed). magicsock_is_relayed says whether an
 * address is one of those (a peer's relay candidate counts only once
 * something came from it: records may name any address).
 */
void magicsock_set_relay_sender(struct magicsock *ms, ms_relay_send_fn fn, void *ud);
void magicsock_input_relayed(struct magicsock *ms, const uint8_t *buf, size_t len,
			     const union ms_addr *from);
int magicsock_is_relayed(const struct magicsock *ms, const union ms_addr *a);
/* Sets (addr) or clears (NULL) the peer's relay candidate; 0 or -errno. */
int magicsock_set_peer_relay(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			     const union ms_addr *addr);

/*
 * Member relays. The policy says whether we forward from one peer to
 * another (1: yes); fn NULL (the default) relays for nobody. Its answer is
 * kept up to 5 s per pair; setting the policy again forgets every answer.
 */
typedef int (*ms_fwd_allow_fn)(void *ud, const uint8_t from[MAGICSOCK_KEY_LEN],
			       const uint8_t to[MAGICSOCK_KEY_LEN]);
void magicsock_set_fwd_policy(struct magicsock *ms, ms_fwd_allow_fn fn, void *ud);
/* Replaces the peer's member relay candidates (n <= MAGICSOCK_MAX_VIAS). */
int magicsock_set_peer_vias(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			    const uint8_t (*vias)[MAGICSOCK_KEY_LEN], size_t n);
/* While the path is MS_PATH_MEMBER: 0 and the relay's key, else -ENOENT. */
int magicsock_peer_via(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
		       uint8_t out[MAGICSOCK_KEY_LEN]);
/* 1 for a virtual "through a member relay" address. */
int magicsock_is_virtual(const union ms_addr *a);

/* Replaces the peer's candidate list (n <= MAGICSOCK_MAX_ADDRS, copied;
 * virtual addresses are refused with -EINVAL). */
int magicsock_set_peer_addrs(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			     const union ms_addr *addrs, size_t n);
void magicsock_remove_peer(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN]);
/* A valid packet of the peer's connection arrived from addr. */
void magicsock_peer_heard(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			  const union ms_addr *addr);
/* Current path; the chosen address is copied to addr when it is not NULL. */
enum ms_path magicsock_peer_path(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
				 union ms_addr *addr);
const char *magicsock_path_name(enum ms_path p);

/*
 * Returns 0 or -errno (-EHOSTUNREACH: no address for the peer). A send to a
 * relayed address goes through the relay sender.
 */
int magicsock_send_to(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf,
		      size_t len);
int magicsock_send_peer(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			const uint8_t *buf, size_t len);

/*
 * Batch sends: n datagrams stored back to back in buf, lens[i] bytes each
 * (n <= MAGICSOCK_TX_BATCH). Runs of equal-size datagrams (the last of a run
 * may be shorter) leave as one UDP GSO send (UDP_SEGMENT) and all runs go in
 * one sendmmsg; without kernel GSO support each datagram is its own message
 * in that sendmmsg. Returns how many datagrams the kernel took (a short
 * count means the rest were dropped and counted in tx_errors, like any UDP
 * loss) or -errno when none was taken. The peer variant picks the address
 * as magicsock_send_peer does.
 */
#define MAGICSOCK_TX_BATCH 64
int magicsock_send_batch(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf,
			 const size_t *lens, size_t n);
int magicsock_send_peer_batch(struct magicsock *ms, const uint8_t pk[MAGICSOCK_KEY_LEN],
			      const uint8_t *buf, const size_t *lens, size_t n);
/* Turns UDP GSO off (tests, and kernels that refuse it). */
void magicsock_set_gso(struct magicsock *ms, int on);

/*
 * Our public addresses as peers reported them in authenticated pongs over a
 * direct path (private and link-local ones left out), newest first, each
 * seen within the last 5 minutes: a reflexive address even when no STUN
 * server answers. Returns how many were written to out.
 */
#define MAGICSOCK_OBSERVED_MAX 4
size_t magicsock_observed_addrs(struct magicsock *ms, union ms_addr *out, size_t max);

/* Address helpers. */
socklen_t ms_addr_len(const union ms_addr *a);
int ms_addr_eq(const union ms_addr *a, const union ms_addr *b);
/* "1.2.3.4:5" or "[::1]:5"; returns 0 or -EINVAL. */
int ms_addr_parse(union ms_addr *a, const char *s);
const char *ms_addr_fmt(const union ms_addr *a, char *buf, size_t size);
#define MS_ADDR_STRLEN 64

#endif
