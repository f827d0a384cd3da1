/*
 * peer_table: maps mesh addresses (IPv4 in 100.64.0.0/10, IPv6 in 200::/7)
 * to the peer that owns them, for the per-packet lookup in forward.
 *
 * Two open-addressing hash tables with linear probing, one keyed by the
 * host-order IPv4 u32 and one by the 16 IPv6 bytes. Capacities are powers of
 * two; a table grows (or rehashes away its tombstones) only inside insert,
 * so lookups never allocate, never move entries and take no lock. Several
 * addresses may map to one peer: a peer sharing several networks with us has
 * one IPv4 per network and one IPv6.
 *
 * An address belongs to one peer. A second peer claiming it (another
 * network's roster gives the same address to a different identity: an
 * honest FNV collision between networks that never see each other's
 * members, or a hostile coordinator aiming at it) is refused with -EADDRINUSE, whoever holds it keeps it, and
 * the refusal is recorded once per (address, claimant) in `clashes`. So
 * packets to that address still go to the holder, and packets from the
 * claimant with that source fail forward's source check: never delivered
 * as someone else's.
 *
 * Ownership: the table owns its slot arrays. `peer` is an opaque handle that
 * belongs to the caller; the table never dereferences or frees it. A pointer
 * returned by a lookup stays valid until the next insert or remove on the
 * same table; use it at once (count the packet) and drop it.
 * Single-threaded: the owner (the daemon loop) serialises all calls.
 */
#ifndef RAYFISH_DATAPLANE_PEER_TABLE_H
#define RAYFISH_DATAPLANE_PEER_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Hard cap per family; an insert beyond it fails with -ENOSPC. */
#define PEER_TABLE_MAX_ENTRIES (1u << 20)

struct peer_entry {
	void *peer;          /* caller's handle, never NULL */
	uint32_t net;        /* caller's network index the address belongs to */
	uint64_t tx_packets; /* TUN → peer */
	uint64_t tx_bytes;
	uint64_t rx_packets; /* peer → TUN */
	uint64_t rx_bytes;
};

struct peer_slot;

/* One refused claim. */
struct peer_clash {
	int family;        /* AF_INET or AF_INET6 */
	uint32_t v4;       /* host order, AF_INET */
	uint8_t v6[16];    /* AF_INET6 */
	const void *owner; /* holds the address */
	uint32_t owner_net;
	const void *refused;  /* was refused it */
	uint32_t refused_net; /* network of the first refused claim */
};

/* One family's table. Keys are 16 bytes; an IPv4 key is its 4 big-endian
 * bytes followed by zeros. */
struct peer_map {
	struct peer_slot *slots;
	size_t cap;  /* power of two, or 0 before the first insert */
	size_t used; /* live entries */
	size_t tomb; /* removed slots that still continue probe chains */
};

struct peer_table {
	struct peer_map v4;
	struct peer_map v6;
	/* bumped by every insert and remove: a caller that held an entry
	 * pointer across a callback compares it to know the pointer is stale */
	uint64_t gen;
	/* refused claims, at most one per (address, claimant); an entry goes
	 * when either peer or the address is removed */
	struct peer_clash *clashes;
	size_t n_clashes;
};

/* One address during iteration; `entry` may be updated (counters) but the
 * table must not be changed from inside the callback. */
struct peer_table_item {
	int family;        /* AF_INET or AF_INET6 */
	uint32_t v4;       /* host order, AF_INET */
	const uint8_t *v6; /* 16 bytes, AF_INET6 */
	struct peer_entry *entry;
};

void peer_table_init(struct peer_table *t);
void peer_table_close(struct peer_table *t);

/* Maps addr → (peer, net) with zeroed counters. -EEXIST if the address is
 * already mapped to this peer, -EADDRINUSE (recorded in clashes) if to
 * another, -EINVAL for a NULL peer, -ENOMEM, -ENOSPC. */
int peer_table_insert4(struct peer_table *t, uint32_t addr, void *peer, uint32_t net);
int peer_table_insert6(struct peer_table *t, const uint8_t addr[16], void *peer, uint32_t net);

/* Unmaps one address and forgets its clashes; -ENOENT if it was not
 * mapped. */
int peer_table_remove4(struct peer_table *t, uint32_t addr);
int peer_table_remove6(struct peer_table *t, const uint8_t addr[16]);

/* Unmaps every address of `peer` and forgets the clashes it is part of;
 * returns how many addresses were removed. */
size_t peer_table_remove_peer(struct peer_table *t, const void *peer);

/* NULL when the address is not mapped. */
struct peer_entry *peer_table_lookup4(const struct peer_table *t, uint32_t addr);
struct peer_entry *peer_table_lookup6(const struct peer_table *t, const uint8_t addr[16]);

/* Number of mapped addresses, both families. */
size_t peer_table_count(const struct peer_table *t);

/* Calls cb for every mapped address (v4 first, then v6, in slot order). A
 * non-zero return from cb stops the walk and is returned. */
int peer_table_foreach(struct peer_table *t,
		       int (*cb)(const struct peer_table_item *item, void *ud), void *ud);

#endif
