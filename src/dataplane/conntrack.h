/*
 * conntrack: the flow table that lets replies through a default-deny
 * firewall.
 *
 * When the firewall allows the first packet of a TCP connection, a UDP
 * exchange or an ICMP echo, the flow is entered here; later packets of the
 * same flow, in either direction, are found by conntrack_lookup and pass
 * without a rule scan. A flow is keyed by its canonical endpoint pair
 * (address + port, smaller side first), so the reply's reversed tuple finds
 * the same entry. An ICMP echo is keyed with the echo id on the requester's
 * side and 0 on the responder's, so a reply matches the request but a
 * request sent the other way does not.
 *
 * Fragments: a first fragment with more to come that passes leaves a
 * directional "fragment allowance" for its (src, dst, protocol), so the
 * later fragments of the same datagrams, which carry no ports, can be
 * matched by conntrack_lookup_fragment. They can only ever be reassembled
 * with a first fragment that went through the firewall.
 *
 * The table is a fixed array allocated once in conntrack_init: 8-way
 * set-associative buckets addressed by a keyed SipHash (random key per
 * table, so a peer cannot aim its flows at one bucket to push out someone
 * else's). Inserting into a full bucket reuses an expired entry, else the
 * least recently seen one it may take (below). Nothing is allocated per
 * packet and entries expire lazily against the caller's clock (`now`,
 * milliseconds, any epoch as long as it never goes back).
 *
 * Owners: every flow belongs to the peer it is with (an opaque handle from
 * the caller, whoever started the flow), and one owner holds at most
 * `quota` entries, cap / CT_OWNER_SHARE by default (8192 of the default
 * 65536), so one peer opening flows as fast as it can fills an eighth of
 * the table and no more. A new flow takes a free or expired slot while its
 * owner is under quota; in a full bucket it replaces the least recently
 * seen entry among its owner's own and those of owners holding more flows
 * than its owner does, so a flood pushes out only the flooder's flows (or
 * a bigger flooder's), never those of a peer with fewer. At its quota an
 * owner can only replace its own entries in the bucket. A flow with no
 * slot it may take is refused (not tracked; its replies face the rules).
 * Expired entries count until reclaimed: an owner at its quota first makes
 * the table sweep them, at most every CT_SWEEP_MS. A NULL owner (the
 * caller's own flows; tests) has no quota and counts as holding none.
 *
 * Timeouts: TCP half-open (SYN seen, no reply) 2 min, established 1 h idle,
 * closing (FIN seen) 2 min, reset 10 s; UDP 60 s; ICMP echo 30 s; fragment
 * allowance 60 s (the IPv6 reassembly timeout, longer than IPv4's).
 *
 * Ownership: the caller owns struct conntrack; conntrack_close frees the
 * entry, tag and owner arrays. Owner handles are only compared, never
 * dereferenced; one that is freed and reused names the same owner until
 * its flows end. Entry pointers returned by lookups stay valid until
 * the next conntrack_track, conntrack_note_fragment, conntrack_flush or
 * conntrack_close on the same table.
 * Single-threaded: one owner (the daemon loop) serialises all calls.
 */
#ifndef RAYFISH_DATAPLANE_CONNTRACK_H
#define RAYFISH_DATAPLANE_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "dataplane/packet.h"

#define CT_WAYS 8 /* entries per bucket */
#define CT_DEFAULT_CAPACITY 65536
#define CT_MAX_CAPACITY (1u << 22)
#define CT_OWNER_SHARE 8 /* an owner holds at most cap / this */
#define CT_SWEEP_MS 1000 /* quota-driven sweeps, at most this often */

/* Timeouts in milliseconds. */
#define CT_TIMEOUT_TCP_SYN (120 * 1000)
#define CT_TIMEOUT_TCP_EST (3600 * 1000)
#define CT_TIMEOUT_TCP_CLOSING (120 * 1000)
#define CT_TIMEOUT_TCP_RESET (10 * 1000)
#define CT_TIMEOUT_UDP (60 * 1000)
#define CT_TIMEOUT_ICMP (30 * 1000)
#define CT_TIMEOUT_FRAG (60 * 1000)

enum ct_state {
	CT_FREE = 0,
	CT_TCP_SYN_SENT,    /* SYN from the originator only */
	CT_TCP_ESTABLISHED, /* reply seen, or picked up mid-stream */
	CT_TCP_CLOSING,     /* FIN seen */
	CT_TCP_RESET,       /* RST seen */
	CT_UDP,
	CT_ICMP_ECHO,
	CT_FRAG, /* fragment allowance */
};

enum ct_kind {
	CT_KIND_FLOW = 0,
	CT_KIND_FRAG = 1,
};

struct ct_key {
	uint8_t a[16]; /* canonical side a (IPv4: 4 wire bytes, rest 0) */
	uint8_t b[16];
	uint16_t port_a; /* TCP/UDP port, or the echo id on the requester's side */
	uint16_t port_b;
	uint8_t version;
	uint8_t proto;
	uint8_t kind; /* enum ct_kind */
	uint8_t pad;
};

struct ct_entry {
	struct ct_key key;
	uint64_t last_seen; /* ms */
	uint64_t expires;   /* ms */
	uint32_t gen;       /* caller's policy generation the flow was last checked against */
	uint8_t state;      /* enum ct_state; CT_FREE = empty slot */
	uint8_t orig_dir;   /* caller's direction value of the packet that created it */
	uint8_t orig_is_a;  /* 1 when the originator is side a */
	uint8_t flags;      /* CT_F_* */
};

/* ct_entry.flags */
#define CT_F_FIN_ORIG 0x01  /* the originator sent FIN */
#define CT_F_FIN_REPLY 0x02 /* the responder sent FIN */
#define CT_F_DENIED 0x04    /* the caller's policy no longer allows this flow */

struct ct_stats {
	uint64_t inserted;
	uint64_t evicted; /* live entries pushed out by a full bucket */
	uint64_t expired; /* entries found dead on lookup, reuse or sweep */
	uint64_t refused; /* new flows left untracked: no slot their owner may take */
};

/* Flows held per owner; open addressing, id NULL = free. */
struct ct_owner {
	const void *id;
	uint32_t flows;
};

struct conntrack {
	struct ct_entry *slots;
	uint32_t *tags;        /* per slot: hash tag, 0 = free */
	const void **owner_of; /* per slot: the flow's owner, NULL = none */
	struct ct_owner *owners;
	size_t owners_cap; /* power of two; at most half are used */
	size_t n_owners;
	size_t quota;      /* entries one owner may hold (tests may lower it) */
	uint64_t swept_ms; /* last quota-driven sweep */
	size_t cap;        /* power of two, >= CT_WAYS */
	size_t mask;       /* bucket index mask */
	size_t used;       /* entries not CT_FREE (expired ones included until reused) */
	uint8_t hkey[16];  /* SipHash key */
	/* The last key hashed and where it lives: the packets of a batch are
	 * mostly one flow, and SipHash per packet showed in profiles. */
	struct ct_key memo_key;
	size_t memo_base;
	uint32_t memo_tag; /* 0: no memo */
	struct ct_stats stats;
};

/* capacity: a power of two between CT_WAYS and CT_MAX_CAPACITY, or 0 for
 * CT_DEFAULT_CAPACITY. Returns 0, -EINVAL or -ENOMEM. */
int conntrack_init(struct conntrack *ct, size_t capacity);
void conntrack_close(struct conntrack *ct);
/* Forgets every flow. */
void conntrack_flush(struct conntrack *ct);

/*
 * The live entry of pi's flow, or NULL. Only packets with ports (TCP/UDP,
 * PACKET_F_PORTS) and ICMP echo requests/replies (PACKET_F_ICMP_ECHO) can
 * belong to a flow. A TCP SYN (without ACK) on a closing, reset or
 * CT_F_DENIED flow frees the entry and returns NULL: a new connection on
 * old ports must face the rules again. Otherwise the entry is unchanged;
 * call conntrack_update for each packet of the flow.
 */
struct ct_entry *conntrack_lookup(struct conntrack *ct, const struct packet_info *pi, uint64_t now);
/* Advances the entry's state and timeout for pi, a packet of its flow. */
void conntrack_update(struct conntrack *ct, struct ct_entry *e, const struct packet_info *pi,
		      uint64_t now);
/* Frees one entry. */
void conntrack_remove(struct conntrack *ct, struct ct_entry *e);

/*
 * Enters pi as the first packet of a new flow of `owner` (or refreshes the
 * existing one) after the firewall allowed it; `dir` and `gen` are stored
 * as given. Also leaves the fragment allowance when pi is a first fragment
 * with more to come. Returns the entry, or NULL when pi cannot start a
 * flow (a TCP RST, an ICMP message other than an echo request, another
 * protocol) or its owner may take no slot for it (counted as refused).
 */
struct ct_entry *conntrack_track(struct conntrack *ct, const struct packet_info *pi, uint8_t dir,
				 uint32_t gen, const void *owner, uint64_t now);

/* For a non-first fragment: 1 when a first fragment with the same source,
 * destination and protocol passed within CT_TIMEOUT_FRAG, else 0. */
int conntrack_lookup_fragment(struct conntrack *ct, const struct packet_info *pi, uint64_t now);
/* Leaves or refreshes the fragment allowance for a first fragment of
 * owner's that passed (no-op for anything else); it counts as a flow. */
void conntrack_note_fragment(struct conntrack *ct, const struct packet_info *pi, const void *owner,
			     uint64_t now);

/* Rebuilds the packet that created the flow (addresses, protocol, ports
 * or echo id, SYN for TCP, echo request for ICMP) so the firewall can check
 * the flow against changed rules. */
void conntrack_entry_orig(const struct ct_entry *e, struct packet_info *out);

/* Live (unexpired) entries; walks the table, for tests and status only. */
size_t conntrack_count(const struct conntrack *ct, uint64_t now);

#endif
