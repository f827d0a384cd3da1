/*
 * roster_fetch: which peers a roster names as its seeds, and where and when
 * a member fetches a roster it heard of. Pure functions of the roster, the
 * record and what the caller can reach, so the daemon (daemon/network.c)
 * and the 1000-peer simulation (tests/unit/test_scale_sim.c) make the same
 * choices; the simulation could not drive the daemon's own copy, which
 * needs a live connection to every seed.
 *
 * Why it spreads: a coordinator's SYNC reaches all its members at once. If
 * they all fetched the new roster from it at that moment, a roster change
 * at 1000 members would be 1000 blob transfers from one node in one burst.
 * So the seeds fetch it first, at once, from the peer that told them; every
 * other member waits a jitter that grows with the roster, then asks that
 * peer or any seed it is connected to, at random, and when it picked a seed
 * it waits half the jitter span more, so that the seed holds the roster by
 * then, or at least is fetching it (blobs.c then holds the request until it
 * has it). (A seed asked before it heard of the roster answers "not here",
 * and the member goes back to the peer that told it: with every member's
 * jitter the same and seeds choosing among each other, that was most
 * fetches, 880 of 1000 in the simulation, on the coordinator.)
 */
#ifndef RAYFISH_DAEMON_ROSTER_FETCH_H
#define RAYFISH_DAEMON_ROSTER_FETCH_H

#include "util/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discovery/payload.h"
#include "mesh/group_blob.h"

/* The jitter span: ROSTER_FETCH_JITTER_PER_MEMBER_MS a member, at most
 * ROSTER_FETCH_JITTER_MAX_MS: a few members fetch at once, hundreds spread
 * over a second. */
#define ROSTER_FETCH_JITTER_PER_MEMBER_MS 20
#define ROSTER_FETCH_JITTER_MAX_MS 1000

/* A uniform draw in 0..upper-1 (randombytes_uniform in the daemon, a seeded
 * generator in tests). */
typedef uint32_t (*roster_fetch_uniform_fn)(uint32_t upper, void *arg);
/* Whether the caller holds a connection to pk. */
typedef bool (*roster_fetch_reach_fn)(const uint8_t pk[LIMIT_KEY_LEN], void *arg);

/* Seeds of roster b into p: coordinators first, then other members, in
 * roster order; at most NETWORK_SEEDS_MAX. */
void roster_fetch_seeds(const struct group_blob *b, struct network_payload *p);

struct roster_fetch_plan {
	uint8_t src[LIMIT_KEY_LEN]; /* ask this peer first */
	uint32_t wait_ms;           /* after this long */
};

/*
 * The plan of node self, in a network of n_members, for the roster the
 * record payload p names, heard from `from` (which holds it): a seed of p
 * asks from at once; anyone else asks from or a seed of p it reaches (other
 * than from and self), uniformly, after the jitter, plus half the span when
 * it asks a seed. A seed that does not hold it yet sends us back to from
 * (network.c).
 */
void roster_fetch_plan(const uint8_t self[LIMIT_KEY_LEN], const uint8_t from[LIMIT_KEY_LEN],
		       const struct network_payload *p, size_t n_members,
		       roster_fetch_reach_fn reach, void *reach_arg,
		       roster_fetch_uniform_fn uniform, void *rand_arg,
		       struct roster_fetch_plan *out);

#endif
