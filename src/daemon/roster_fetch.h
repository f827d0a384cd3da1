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
 * So each member waits a jitter that grows with the roster, then asks the
 * peer that told it or any seed it is connected to, at random.
 */
#ifndef RAYFISH_DAEMON_ROSTER_FETCH_H
#define RAYFISH_DAEMON_ROSTER_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discovery/payload.h"
#include "mesh/group_blob.h"

/* Jitter before a fetch: uniform over 0..ROSTER_FETCH_JITTER_PER_MEMBER_MS
 * a member, at most ROSTER_FETCH_JITTER_MAX_MS: a few members fetch at
 * once, hundreds spread over a second. */
#define ROSTER_FETCH_JITTER_PER_MEMBER_MS 20
#define ROSTER_FETCH_JITTER_MAX_MS 1000

/* A uniform draw in 0..upper-1 (randombytes_uniform in the daemon, a seeded
 * generator in tests). */
typedef uint32_t (*roster_fetch_uniform_fn)(uint32_t upper, void *arg);
/* Whether the caller holds a connection to pk. */
typedef bool (*roster_fetch_reach_fn)(const uint8_t pk[32], void *arg);

/* Seeds of roster b into p: coordinators first, then other members, in
 * roster order; at most NETWORK_SEEDS_MAX. */
void roster_fetch_seeds(const struct group_blob *b, struct network_payload *p);

/* Where to fetch the roster record payload p names: `from` (the peer that
 * told us, which holds it) or any seed of p we reach other than from and
 * self, uniformly. A seed that does not hold it yet sends us back to from
 * (network.c). */
void roster_fetch_source(const uint8_t self[32], const uint8_t from[32],
			 const struct network_payload *p, roster_fetch_reach_fn reach,
			 void *reach_arg, roster_fetch_uniform_fn uniform, void *rand_arg,
			 uint8_t out[32]);

/* How long to wait before fetching, for a network of n_members. */
uint32_t roster_fetch_jitter_ms(size_t n_members, roster_fetch_uniform_fn uniform,
				void *rand_arg);

#endif
