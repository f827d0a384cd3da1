/*
 * roster_fetch: see roster_fetch.h.
 */
#include "daemon/roster_fetch.h"
#include "mesh/identity.h"

#include <string.h>

void roster_fetch_seeds(const struct group_blob *b, struct network_payload *p)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < b->n_members && p->n_seeds < NETWORK_SEEDS_MAX; i++) {
			const struct gb_member *m = &b->members[i];

			if (m->coordinator != (pass == 0))
				continue;
			if (identity_id_parse(m->id, p->seeds[p->n_seeds]) == 0)
				p->n_seeds++;
		}
	}
}

void roster_fetch_source(const uint8_t self[32], const uint8_t from[32],
			 const struct network_payload *p, roster_fetch_reach_fn reach,
			 void *reach_arg, roster_fetch_uniform_fn uniform, void *rand_arg,
			 uint8_t out[32])
{
	const uint8_t *cand[NETWORK_SEEDS_MAX + 1];
	size_t n = 0;

	cand[n++] = from;
	for (size_t i = 0; i < p->n_seeds; i++)
		if (memcmp(p->seeds[i], from, 32) != 0 && memcmp(p->seeds[i], self, 32) != 0 &&
		    reach(p->seeds[i], reach_arg))
			cand[n++] = p->seeds[i];
	memcpy(out, cand[uniform((uint32_t)n, rand_arg)], 32);
}

uint32_t roster_fetch_jitter_ms(size_t n_members, roster_fetch_uniform_fn uniform,
				void *rand_arg)
{
	uint64_t span = (uint64_t)ROSTER_FETCH_JITTER_PER_MEMBER_MS * n_members;

	if (span > ROSTER_FETCH_JITTER_MAX_MS)
		span = ROSTER_FETCH_JITTER_MAX_MS;
	return uniform((uint32_t)span + 1, rand_arg);
}
