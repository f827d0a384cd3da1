/*
 * roster_sync: the convergence rule for a network's roster, as pure
 * functions of what a node holds and what it hears, so the daemon
 * (daemon/network.c) and the seeded simulation (tests/unit/test_roster_sim.c)
 * run the same decisions.
 *
 * A node holds one signed roster per network (sequence = roster version,
 * BLAKE3 hash) and the one before it (the merge base). It hears (sequence,
 * hash) in records from peers and the DHT, fetches the rosters it wants,
 * and then takes one step:
 *   - a higher sequence made from ours (ours among its ancestors, or no
 *     ancestry to tell) is adopted;
 *   - a higher sequence made beside ours (ours not among its ancestors, but
 *     an older roster we hold is: where the two went apart) is adopted by a
 *     coordinator, which merges ours back in against that common roster; a
 *     member it leaves out waits for that merge instead of leaving;
 *   - the same sequence with other contents is merged by a coordinator the
 *     same way: theirs is adopted when the merge is theirs already, else
 *     the merge is signed (both coordinators sign the same bytes, see
 *     group_blob_set_merge_parents); a node that cannot merge takes the
 *     lower hash, but never a roster that lacks it.
 * A peer that sent an older record, or the losing side of a tie, gets ours
 * back.
 */
#ifndef RAYFISH_MESH_ROSTER_SYNC_H
#define RAYFISH_MESH_ROSTER_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "mesh/group_blob.h"

struct roster_state {
	uint64_t seq; /* 0: no roster yet */
	uint8_t hash[GB_HASH_LEN];
	/* Hashes of the older rosters this node still holds, newest first
	 * (held[0]: the one before ours, the merge base). */
	const uint8_t (*held)[GB_HASH_LEN];
	size_t n_held;
	bool coordinator; /* holds the network key */
};

enum roster_step {
	ROSTER_KEEP,  /* nothing to do */
	ROSTER_ADOPT, /* take theirs as it is */
	ROSTER_MERGE, /* same sequence: merge theirs into ours, sign */
	ROSTER_FORK,  /* adopt theirs, merge ours back in, sign */
	ROSTER_WAIT,  /* a fork that lacks us: wait for its merge */
	ROSTER_LEAVE, /* a roster made from ours that removes us */
};

/* A record (seq, hash) heard: whether to fetch its roster. */
bool roster_sync_wants(const struct roster_state *s, uint64_t seq, const uint8_t hash[GB_HASH_LEN]);
/* Whether the peer that sent (seq, hash) should get our record back. */
bool roster_sync_answer_back(const struct roster_state *s, uint64_t seq,
			     const uint8_t hash[GB_HASH_LEN]);
/*
 * The step for a fetched roster theirs (checked against hash) at seq.
 * self_id is our endpoint id. For ROSTER_MERGE and ROSTER_FORK (only to a
 * coordinator) *base gets the index in s->held of the roster to merge
 * against. After ROSTER_MERGE the caller adopts theirs when the merge has
 * theirs' contents, else signs the merge; after ROSTER_FORK it signs the
 * merge when it changed anything.
 */
enum roster_step roster_sync_step(const struct roster_state *s, uint64_t seq,
				  const uint8_t hash[GB_HASH_LEN], const struct group_blob *theirs,
				  const char *self_id, size_t *base);
/* Same sequence and nothing to merge: ROSTER_ADOPT when theirs wins the
 * tie (lower hash, and it lists us), else ROSTER_KEEP. */
enum roster_step roster_sync_tie(const struct roster_state *s, const uint8_t hash[GB_HASH_LEN],
				 const struct group_blob *theirs, const char *self_id);

#endif
