/*
 * roster_fetch: see roster_fetch.h.
 */
#include "daemon/roster_fetch.h"
#include "util/limits.h"
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

static bool is_seed(const uint8_t pk[LIMIT_KEY_LEN], const struct network_payload *p)
{
	for (size_t i = 0; i < p->n_seeds; i++)
		if (memcmp(p->seeds[i], pk, LIMIT_KEY_LEN) == 0)
			return true;
	return false;
}

static uint32_t jitter_span_ms(size_t n_members)
{
	uint64_t span = (uint64_t)ROSTER_FETCH_JITTER_PER_MEMBER_MS * n_members;

	return span > ROSTER_FETCH_JITTER_MAX_MS ? ROSTER_FETCH_JITTER_MAX_MS : (uint32_t)span;
}

void roster_fetch_plan(const uint8_t self[LIMIT_KEY_LEN], const uint8_t from[LIMIT_KEY_LEN],
		       const struct network_payload *p, size_t n_members,
		       roster_fetch_reach_fn reach, void *reach_arg,
		       roster_fetch_uniform_fn uniform, void *rand_arg,
		       struct roster_fetch_plan *out)
{
	const uint8_t *cand[NETWORK_SEEDS_MAX + 1];
	uint32_t span = jitter_span_ms(n_members);
	size_t n = 0, pick;

	memcpy(out->src, from, LIMIT_KEY_LEN);
	out->wait_ms = 0;
	/* The others will ask us: have it first. */
	if (is_seed(self, p))
		return;
	cand[n++] = from;
	for (size_t i = 0; i < p->n_seeds; i++)
		if (memcmp(p->seeds[i], from, LIMIT_KEY_LEN) != 0 &&
		    memcmp(p->seeds[i], self, LIMIT_KEY_LEN) != 0 && reach(p->seeds[i], reach_arg))
			cand[n++] = p->seeds[i];
	pick = uniform((uint32_t)n, rand_arg);
	memcpy(out->src, cand[pick], LIMIT_KEY_LEN);
	out->wait_ms = uniform(span + 1, rand_arg) + (pick ? span / 2 : 0);
}
