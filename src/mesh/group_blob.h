/*
 * group_blob: a network's roster (the reference product's GroupBlob) and its
 * canonical msgpack encoding.
 *
 * The roster lists the members (endpoint id, IPv4 + collision index,
 * hostname, coordinator flag), identities approved ahead of joining, the
 * reusable join keys, the network name and access mode, and the firewall
 * rules coordinators suggest (kept as one opaque msgpack object, re-emitted
 * byte for byte). `version` is bumped by every change so a newer roster is
 * recognisable. The same roster always encodes to the same bytes (fixed
 * field order, entries sorted by id, minimal msgpack forms), so
 * group_blob_hash (BLAKE3 of the encoding) names it in the signed DHT record
 * and blob fetches.
 *
 * group_blob_decode is the gate for rosters fetched from peers: it accepts
 * only what group_blob_encode would produce for a valid roster (right types,
 * known format, bounded counts, valid ids and hostnames, addresses that match
 * their derivation at a collision index of at most GB_MAX_COLLISION_INDEX,
 * no duplicate ids, addresses or hostnames, canonical
 * order and encoding) and rejects everything else with -EINVAL (-EMSGSIZE
 * for oversized input, -EPROTONOSUPPORT for an unknown format version).
 *
 * A setter that leaves the roster as it was (same name, mode, hostname or
 * flag) succeeds without bumping the version, so it causes no republish.
 *
 * Ownership: struct group_blob owns its arrays and firewall bytes; release
 * them with group_blob_free. Entry arrays are kept sorted by id; pointers
 * returned by the find functions stay valid until the next change. Every
 * mutator returns 0 or -errno and leaves the roster unchanged on failure.
 */
#ifndef RAYFISH_MESH_GROUP_BLOB_H
#define RAYFISH_MESH_GROUP_BLOB_H

#include "util/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/hostname.h"
#include "mesh/identity.h"

#define GB_FORMAT_VERSION 2 /* 1: without ancestors (still read) */
#define GB_MAX_ANCESTORS 32
#define GB_MAX_MEMBERS 1024
#define GB_MAX_APPROVED 1024
#define GB_MAX_KEYS 1024
#define GB_KEY_ID_MAX 32
#define GB_HASH_LEN LIMIT_KEY_LEN
#define GB_FIREWALL_MAX (1024 * 1024)
#define GB_FIREWALL_MAX_DEPTH 32
/* What group_blob_encode makes: one CTL_BLOB carries it. Decoding takes up
 * to GB_MAX_DECODED, what older builds could sign and store. */
#define GB_MAX_ENCODED LIMIT_BLOB
#define GB_MAX_DECODED (4u << 20)
/*
 * Highest collision index a roster may hold; group_blob_assign_ip tries
 * 0..GB_MAX_COLLISION_INDEX before -EADDRNOTAVAIL and every check (add,
 * decode) rejects a member above it.
 *
 * Why a cap and not "must be the lowest free index": a coordinator could
 * otherwise brute-force an index (about a second of FNV-1a) that lands its
 * own identity on a member's address in another network we are in. The
 * exact rule cannot be checked: an index is the lowest free one *when the
 * member was admitted*, and the member that held a lower address may have
 * left since, so an honest roster routinely lists index 1 with index 0
 * free. The roster keeps no history to tell that from a forgery.
 *
 * Why 7: index n > 0 needs n addresses in a row taken, each with
 * probability at most GB_MAX_MEMBERS / 2^22 (~2.4e-4); index 8 is ~1e-29 per
 * admission, so an honest coordinator never meets the cap. A forger gets
 * 8 addresses per identity instead of 2^32, so landing on a chosen address
 * means generating ~500 000 keys instead of a second of hashing. That is
 * still feasible: the data plane refuses an address another network already
 * maps to a different identity (peer_table.h), which is the real guard.
 */
#define GB_MAX_COLLISION_INDEX 7

enum group_mode {
	GROUP_MODE_CLOSED = 0,
	GROUP_MODE_OPEN = 1,
};

struct gb_member {
	char id[IDENTITY_ID_LEN + 1];
	uint32_t ipv4; /* host order, = address_ipv4(id, idx) */
	uint32_t collision_index;
	char hostname[HOSTNAME_BUF];
	bool coordinator;
};

struct gb_approved {
	char id[IDENTITY_ID_LEN + 1];
	char hostname[HOSTNAME_BUF]; /* "" when the joiner picks its name */
};

struct gb_key {
	char id[GB_KEY_ID_MAX + 1];       /* 1-32 of a-z 0-9 */
	uint8_t secret_hash[GB_HASH_LEN]; /* BLAKE3 of the secret */
	uint64_t created;                 /* unix seconds */
	uint64_t expires;                 /* unix seconds, 0 = never */
	bool revoked;
};

struct group_blob {
	uint64_t version;
	char name[HOSTNAME_BUF];
	enum group_mode mode;
	struct gb_member *members;
	size_t n_members;
	struct gb_approved *approved;
	size_t n_approved;
	struct gb_key *keys;
	size_t n_keys;
	uint8_t *firewall; /* one msgpack object */
	size_t firewall_len;
	/*
	 * Hashes of the rosters this one was made from, newest first: the
	 * one it replaced, a concurrent one merged in, and theirs before
	 * them, up to GB_MAX_ANCESTORS. Lets a node tell a newer roster that
	 * follows its own from a fork made beside it (see network.c).
	 */
	uint8_t ancestors[GB_MAX_ANCESTORS][GB_HASH_LEN];
	size_t n_ancestors;
	uint32_t format; /* as read; new rosters: GB_FORMAT_VERSION */
};

/* An empty roster (version 0, firewall = empty map). name must be a valid
 * hostname. */
int group_blob_init(struct group_blob *b, const char *name, enum group_mode mode);
void group_blob_free(struct group_blob *b);
/* dst must not be initialised; on success it is an independent copy. */
int group_blob_copy(struct group_blob *dst, const struct group_blob *src);

int group_blob_set_name(struct group_blob *b, const char *name);
int group_blob_set_mode(struct group_blob *b, enum group_mode mode);
/* Replaces the suggested firewall; data must be exactly one well-formed
 * msgpack object of at most GB_FIREWALL_MAX bytes. */
int group_blob_set_firewall(struct group_blob *b, const uint8_t *data, size_t len);

/* Members. add checks everything decode checks: -EINVAL for a bad id,
 * hostname or address, -EEXIST for a duplicate id, address or hostname,
 * -ENOSPC beyond GB_MAX_MEMBERS. */
int group_blob_add_member(struct group_blob *b, const struct gb_member *m);
/* assign_ip + add_member in one step. */
int group_blob_admit(struct group_blob *b, const char *id, const char *hostname, bool coordinator);
int group_blob_remove_member(struct group_blob *b, const char *id);
/*
 * Three-way merge of the member lists after two coordinators changed the
 * same roster (base) at once: ours, changed in place, takes the members
 * theirs added since base (as they are; a hostname or address already held
 * in ours is picked anew) and loses the members theirs removed since base.
 * Run on both sides it gives the same members. Returns the number of
 * changes (0: theirs has nothing ours lacks) or -errno; on error ours may
 * be partly merged.
 */
int group_blob_merge_members(struct group_blob *ours, const struct group_blob *base,
			     const struct group_blob *theirs);
/*
 * The whole three-way merge (group_blob_merge.c): members as above, then
 * every other field. A change theirs made since base is taken unless ours
 * made a different one, in which case a fixed order decides, the same on
 * both sides (the smaller hostname or network name, the smaller firewall
 * encoding, the earlier key expiry); a rename onto a name another member of
 * ours holds is not taken. Approvals and keys take theirs' additions and
 * removals (an approval is not re-added for an identity that is a member by
 * now); a key revoked on either side stays revoked. Returns the number of
 * changes or -errno, as group_blob_merge_members.
 */
int group_blob_merge(struct group_blob *ours, const struct group_blob *base,
		     const struct group_blob *theirs);
const struct gb_member *group_blob_find_member(const struct group_blob *b, const char *id);
const struct gb_member *group_blob_find_member_by_hostname(const struct group_blob *b,
							   const char *hostname);
const struct gb_member *group_blob_find_member_by_ipv4(const struct group_blob *b, uint32_t ip);
/* Lowest collision index whose address is neither reserved nor held by
 * another member (the member `id` itself does not count); -EADDRNOTAVAIL
 * when none up to GB_MAX_COLLISION_INDEX is. */
int group_blob_assign_ip(const struct group_blob *b, const char *id, uint32_t *ip, uint32_t *index);
/* -ENOENT for an unknown member, -EEXIST when another member has the name. */
int group_blob_set_hostname(struct group_blob *b, const char *id, const char *hostname);
int group_blob_set_coordinator(struct group_blob *b, const char *id, bool coordinator);
/* hostname_taken_fn for hostname_resolve_clash; arg is the group_blob. */
bool group_blob_hostname_taken(const char *name, void *arg);

/* Approved identities; hostname may be NULL or "". */
int group_blob_add_approved(struct group_blob *b, const char *id, const char *hostname);
int group_blob_remove_approved(struct group_blob *b, const char *id);
const struct gb_approved *group_blob_find_approved(const struct group_blob *b, const char *id);

/* Reusable keys. */
int group_blob_add_key(struct group_blob *b, const struct gb_key *k);
int group_blob_revoke_key(struct group_blob *b, const char *id);
const struct gb_key *group_blob_find_key_by_hash(const struct group_blob *b,
						 const uint8_t hash[GB_HASH_LEN]);
/* The admission decision: 0 when a key with this hash exists, is not revoked
 * and not expired at `now`; -ENOENT, -EKEYREVOKED or -EKEYEXPIRED else. */
int group_blob_key_check(const struct group_blob *b, const uint8_t hash[GB_HASH_LEN], uint64_t now);

/* Puts hash first in the ancestors (an ancestor already listed stays where
 * it is; the oldest drops off a full list) and makes b a current-format
 * roster. */
void group_blob_add_ancestor(struct group_blob *b, const uint8_t hash[GB_HASH_LEN]);
/* Whether a and b list the same members, approvals, keys, name, mode and
 * firewall (version and ancestors aside). */
bool group_blob_same_members_and_fields(const struct group_blob *a, const struct group_blob *b);
/*
 * For a merge of two rosters of one sequence: both as the first ancestors,
 * the lower hash first, and the version reset to `version` (theirs and
 * ours share it) so that the two coordinators merging each other's roster
 * sign the same bytes, and meet on one roster instead of two.
 */
void group_blob_set_merge_parents(struct group_blob *b, const uint8_t a[GB_HASH_LEN],
				  const uint8_t c[GB_HASH_LEN], uint64_t version);
bool group_blob_has_ancestor(const struct group_blob *b, const uint8_t hash[GB_HASH_LEN]);

/* Canonical bytes; *out (caller frees) holds *len bytes. */
int group_blob_encode(const struct group_blob *b, uint8_t **out, size_t *len);
/* Strict decoder; b must not be initialised and is only filled on success. */
int group_blob_decode(const uint8_t *data, size_t len, struct group_blob *b);
/* BLAKE3 of the canonical encoding. */
int group_blob_hash(const struct group_blob *b, uint8_t out[GB_HASH_LEN]);

/* Checks that data is exactly one well-formed msgpack object (nesting at
 * most GB_FIREWALL_MAX_DEPTH). 0 or -EINVAL. */
int group_blob_check_msgpack(const uint8_t *data, size_t len);

#endif
