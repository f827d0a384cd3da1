/*
 * magicsock_priv: the structures magicsock.c and magicsock_disco.c share.
 * Not part of the contract: nothing outside src/transport/magicsock*.c
 * includes this.
 *
 * Disco state lives in each peer entry: the box key shared with the peer,
 * the confirmed direct address ("best", trusted while its pongs keep
 * coming), addresses learned from the peer's own pings, and the pings in
 * flight.
 */
#ifndef RAYFISH_TRANSPORT_MAGICSOCK_PRIV_H
#define RAYFISH_TRANSPORT_MAGICSOCK_PRIV_H

#include "transport/disco.h"
#include "transport/magicsock.h"
#include "util/ratelimit.h"

/* One message: a datagram, or with UDP GRO up to 64 KiB of equal-size
 * datagrams from one sender, split again before classification. */
#define MS_RX_BUF 65536
#define MS_BUCKETS 256
#define MS_DISCO_PENDING 8 /* pings in flight per peer */
#define MS_DISCO_LEARNED 4 /* addresses a peer's pings came from */
#define MS_DISCO_SEEN 16   /* their recent ping ids: a replay is not answered */

struct ms_disco_ping {
	uint8_t txid[DISCO_TXID_LEN];
	union ms_addr to;
	uint64_t sent_ns; /* 0: free slot */
};

struct ms_disco {
	int key; /* 0: not derived yet, 1: shared is set, -1: unusable */
	uint8_t shared[DISCO_KEY_LEN];
	union ms_addr best; /* confirmed direct address */
	uint64_t best_ms;   /* loop time of its last pong; 0: none */
	uint64_t best_rtt_us;
	union ms_addr learned[MS_DISCO_LEARNED];
	size_t nlearned, learned_next;
	struct ms_disco_ping pend[MS_DISCO_PENDING];
	size_t pend_next;
	uint64_t next_ms;  /* next ping round due */
	uint64_t full_ms;  /* last round to every candidate */
	uint64_t lost_ms;  /* without a direct path since; 0: have one */
	uint64_t punch_ms; /* last ping sent in answer to theirs */
	uint64_t win_ms;   /* start of the rate window for their pings */
	uint32_t win_count;
	uint8_t seen[MS_DISCO_SEEN][DISCO_TXID_LEN];
	size_t seen_next;
	enum ms_path shown; /* last path logged */
};

struct ms_peer {
	struct ms_peer *next;
	uint8_t pk[MAGICSOCK_KEY_LEN];
	union ms_addr addrs[MAGICSOCK_MAX_ADDRS];
	size_t naddrs;
	union ms_addr heard;  /* last direct address a packet came from */
	uint64_t heard_ms;    /* loop time; 0: never */
	union ms_addr rheard; /* last relayed address a packet came from */
	uint64_t rheard_ms;   /* loop time; 0: never */
	union ms_addr relay;  /* the peer's relayed address */
	int has_relay;
	uint64_t probe_ms; /* last direct try while relaying */
	uint64_t tx_ms;    /* last send to the peer (loop time) */
	struct ms_disco disco;
	/* Member relays: the virtual address last heard through one, and the
	 * candidates the owner named (vias[via_cur] is tried while probing). */
	union ms_addr vheard;
	uint64_t vheard_ms; /* loop time; 0: never */
	uint8_t vias[MAGICSOCK_MAX_VIAS][MAGICSOCK_KEY_LEN];
	size_t nvias, via_cur;
	uint64_t via_since_ms;  /* vias[via_cur] tried since; 0: not yet */
	uint64_t turn_probe_ms; /* last TURN try while on a member relay */
};

/* A peer pair a member relay forwards for: the policy's cached answer and
 * the pair's byte bucket. */
struct ms_fwd_pair {
	uint8_t from[MAGICSOCK_KEY_LEN], to[MAGICSOCK_KEY_LEN];
	int allowed;
	uint64_t checked_ms; /* policy asked; 0: free slot */
	uint64_t used_ms;
	uint64_t tokens, fill_us;
};

/* One "origin through relay" pair behind a virtual address: slot index and
 * generation are in the address, so a reused slot never matches old ones. */
struct ms_via_slot {
	uint8_t relay[MAGICSOCK_KEY_LEN], origin[MAGICSOCK_KEY_LEN];
	uint16_t gen;
	uint64_t used_ms; /* 0: free */
};

#define MS_VIA_SLOTS 256
#define MS_SRC_CACHE 256 /* direct source address -> peer key */

struct ms_src_entry {
	union ms_addr a;
	uint8_t pk[MAGICSOCK_KEY_LEN];
	int used;
};

struct ms_fwd {
	ms_fwd_allow_fn allow;
	void *allow_ud;
	struct ms_fwd_pair pairs[MAGICSOCK_FWD_PAIRS];
	uint64_t tokens, fill_us; /* the total bucket */
	struct ms_via_slot slots[MS_VIA_SLOTS];
	size_t nslots, slot_hint;
	struct ms_src_entry src[MS_SRC_CACHE];
	uint64_t scan_win_ms;     /* full peer scans on a cache miss: */
	uint32_t scan_count;      /* bounded per second */
	uint8_t *txbuf;           /* wrapped batch, allocated on first use */
	uint64_t pair_rate, rate; /* bytes/s per pair and in all */
};

struct ms_handler {
	ms_rx_fn fn;
	void *ud;
};

struct magicsock {
	uv_loop_t *loop;
	uv_poll_t poll;
	uv_timer_t disco_timer;
	int open_handles; /* freed when the last one is closed */
	int fd;
	int family; /* AF_INET6 (dual-stack) or AF_INET */
	uint16_t port;
	int fixed;
	uint32_t fresh_ms;
	struct ms_handler handlers[MS_PKT_MAX];
	union ms_addr relays[MAGICSOCK_MAX_RELAYS];
	size_t nrelays;
	ms_relay_send_fn relay_fn;
	void *relay_ud;
	int relay_busy; /* inside relay_fn: no re-entry */
	union ms_addr relayed[MAGICSOCK_RELAYED_MAX];
	size_t nrelayed;
	size_t relayed_next; /* slot replaced next once full */
	struct ms_peer *buckets[MS_BUCKETS];
	size_t npeers;
	struct magicsock_stats st;
	int blackhole;
	int gso;   /* UDP_SEGMENT usable on this socket */
	int disco; /* disco keys set: paths need pongs */
	uint8_t disco_pk[DISCO_KEY_LEN];
	uint8_t disco_sk[DISCO_KEY_LEN]; /* X25519 */
	uint8_t (*bufs)[MS_RX_BUF];
	/* Our public addresses as peers saw them (disco pongs), newest first. */
	union ms_addr observed[MAGICSOCK_OBSERVED_MAX];
	uint64_t observed_ms[MAGICSOCK_OBSERVED_MAX];
	struct ms_fwd fwd;
	/* Path lines of peers we were given no address for (anyone who
	 * dials us, under as many keys as it likes) share this bucket. */
	struct ratelimit unnamed_log;
};

#define MS_UNNAMED_LOG_BURST 20
#define MS_UNNAMED_LOG_EVERY_MS 1000

/* magicsock.c */
struct ms_peer *ms_peer_get(struct magicsock *ms, const uint8_t *pk, int create);
int ms_heard_fresh(const struct magicsock *ms, const struct ms_peer *p);
int ms_rheard_fresh(const struct magicsock *ms, const struct ms_peer *p);
/* The confirmed direct address (disco) or the fresh last-heard one. */
const union ms_addr *ms_direct_addr(struct magicsock *ms, struct ms_peer *p);
void ms_dispatch(struct magicsock *ms, enum ms_pkt cls, const uint8_t *buf, size_t len,
		 const union ms_addr *from);

/* magicsock_member_relay.c */
void ms_fwd_input(struct magicsock *ms, const uint8_t *buf, size_t len, const union ms_addr *from);
/* Sends to a virtual address: through its relay; 0 / count or -errno. */
int ms_fwd_send(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf, size_t len);
int ms_fwd_send_batch(struct magicsock *ms, const union ms_addr *to, const uint8_t *buf,
		      const size_t *lens, size_t n);
/* A packet of p's connection came from virtual address a: 1 if a stands
 * for p through a live relay (remember it), 0 when it does not (a lie). */
int ms_fwd_heard(struct magicsock *ms, struct ms_peer *p, const union ms_addr *a);
/* p's member relay path while fresh: the virtual address, else NULL. */
const union ms_addr *ms_fwd_path(struct magicsock *ms, struct ms_peer *p);
/* While probing: one packet through the current via candidate. */
int ms_fwd_probe(struct magicsock *ms, struct ms_peer *p, const uint8_t *buf, size_t len);
void ms_fwd_free(struct magicsock *ms);

/* magicsock_disco.c */
void ms_disco_input(void *ud, const uint8_t *pkt, size_t len, const union ms_addr *from);
void ms_disco_tick(uv_timer_t *t);
/* The confirmed direct address while its pongs keep coming, else NULL. */
const union ms_addr *ms_disco_direct(struct magicsock *ms, struct ms_peer *p);
/* A QUIC packet of the peer came straight from addr: confirm it soon. */
void ms_disco_heard(struct magicsock *ms, struct ms_peer *p, const union ms_addr *addr);

#endif
