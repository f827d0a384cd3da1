/*
 * roster_sync: see roster_sync.h.
 */
#include "mesh/roster_sync.h"

#include <string.h>

bool roster_sync_wants(const struct roster_state *s, uint64_t seq, const uint8_t hash[GB_HASH_LEN])
{
	int cmp;

	if (s->seq == 0 || seq > s->seq)
		return true;
	if (seq < s->seq)
		return false;
	/* Same sequence, other roster: worth it when we would merge it or it
	 * wins the tie. */
	cmp = memcmp(hash, s->hash, GB_HASH_LEN);
	return cmp != 0 && (s->coordinator || cmp < 0);
}

bool roster_sync_answer_back(const struct roster_state *s, uint64_t seq,
			     const uint8_t hash[GB_HASH_LEN])
{
	if (s->seq == 0 || seq > s->seq)
		return false;
	return seq < s->seq || memcmp(s->hash, hash, GB_HASH_LEN) < 0;
}

/* Made beside ours: not from ours, but from an older roster we hold (the
 * newest such is where the two went apart). */
static bool made_beside(const struct roster_state *s, const struct group_blob *theirs, size_t *base)
{
	if (group_blob_has_ancestor(theirs, s->hash))
		return false;
	for (size_t i = 0; i < s->n_held; i++)
		if (group_blob_has_ancestor(theirs, s->held[i])) {
			*base = i;
			return true;
		}
	return false;
}

enum roster_step roster_sync_step(const struct roster_state *s, uint64_t seq,
				  const uint8_t hash[GB_HASH_LEN], const struct group_blob *theirs,
				  const char *self_id, size_t *base)
{
	bool lists_us = group_blob_find_member(theirs, self_id) != NULL;

	if (s->seq == 0)
		return lists_us ? ROSTER_ADOPT : ROSTER_LEAVE;
	if (seq < s->seq || memcmp(hash, s->hash, GB_HASH_LEN) == 0)
		return ROSTER_KEEP;
	if (seq == s->seq)
		return s->coordinator && made_beside(s, theirs, base)
			       ? ROSTER_MERGE
			       : roster_sync_tie(s, hash, theirs, self_id);
	if (s->coordinator && made_beside(s, theirs, base))
		return ROSTER_FORK;
	if (lists_us)
		return ROSTER_ADOPT;
	/* Lacks us: a kick when it was made from ours. When its ancestry does
	 * not show ours it may be a fork a coordinator will merge, or a kick
	 * so far past ours that the ancestry no longer reaches back: the
	 * caller waits a while, then leaves. */
	if (theirs->n_ancestors && !group_blob_has_ancestor(theirs, s->hash))
		return ROSTER_WAIT;
	return ROSTER_LEAVE;
}

enum roster_step roster_sync_tie(const struct roster_state *s, const uint8_t hash[GB_HASH_LEN],
				 const struct group_blob *theirs, const char *self_id)
{
	if (group_blob_find_member(theirs, self_id) == NULL ||
	    memcmp(hash, s->hash, GB_HASH_LEN) >= 0)
		return ROSTER_KEEP;
	return ROSTER_ADOPT;
}
