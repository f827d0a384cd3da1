/*
 * fuzz_roster_merge: a co-coordinator's roster is merged into ours
 * (mesh/group_blob_merge.c) and judged by the convergence rule
 * (mesh/roster_sync.c). The input is three rosters (ours, the base, theirs),
 * each a 2-byte big-endian length and the bytes; those the strict decoder
 * accepts are merged both ways. A merge must never crash, must leave a
 * roster the decoder accepts again (no duplicate name or address, every
 * address still derived from its id), and, merged once, must have nothing
 * left to take.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/group_blob.h"
#include "mesh/roster_sync.h"

static int take(const uint8_t **p, size_t *n, struct group_blob *b)
{
	size_t len;

	if (*n < 2)
		return -1;
	len = (size_t)(*p)[0] << 8 | (*p)[1];
	*p += 2;
	*n -= 2;
	if (len > *n)
		return -1;
	if (group_blob_decode(*p, len, b) != 0) {
		*p += len;
		*n -= len;
		return -1;
	}
	*p += len;
	*n -= len;
	return 0;
}

/* The merge result must be a roster the decoder takes back. */
static void check_valid(const struct group_blob *b)
{
	struct group_blob again;
	uint8_t *enc;
	size_t len;

	if (group_blob_encode(b, &enc, &len) != 0)
		abort();
	if (group_blob_decode(enc, len, &again) != 0)
		abort();
	group_blob_free(&again);
	free(enc);
}

static void merge_one(const struct group_blob *ours, const struct group_blob *base,
		      const struct group_blob *theirs)
{
	struct group_blob m;
	int rc;

	if (group_blob_copy(&m, ours) != 0)
		return;
	rc = group_blob_merge(&m, base, theirs);
	if (rc >= 0) {
		check_valid(&m);
		/* Merged once, a second pass finds at most name clashes
		 * resolved anew: never more members than before. */
		size_t members = m.n_members;

		if (group_blob_merge(&m, base, theirs) >= 0 && m.n_members > members)
			abort();
		check_valid(&m);
	}
	group_blob_free(&m);
}

static void judge(const struct group_blob *ours, const struct group_blob *theirs)
{
	uint8_t held[1][GB_HASH_LEN], h_ours[GB_HASH_LEN], h_theirs[GB_HASH_LEN];
	struct roster_state st = { 0 };
	size_t base = 99;
	enum roster_step step;

	if (group_blob_hash(ours, h_ours) != 0 || group_blob_hash(theirs, h_theirs) != 0)
		return;
	memcpy(held[0], ours->n_ancestors ? ours->ancestors[0] : h_ours, GB_HASH_LEN);
	st.seq = ours->version;
	memcpy(st.hash, h_ours, GB_HASH_LEN);
	st.held = (const uint8_t(*)[GB_HASH_LEN])held;
	st.n_held = 1;
	st.coordinator = true;
	step = roster_sync_step(&st, theirs->version, h_theirs, theirs,
				ours->n_members ? ours->members[0].id : "", &base);
	if ((step == ROSTER_MERGE || step == ROSTER_FORK) && base != 0)
		abort();
	(void)roster_sync_wants(&st, theirs->version, h_theirs);
	(void)roster_sync_answer_back(&st, theirs->version, h_theirs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct group_blob b[3];
	int ok = 0;

	for (int i = 0; i < 3; i++) {
		if (take(&data, &size, &b[i]) != 0)
			break;
		ok++;
	}
	if (ok == 3) {
		merge_one(&b[0], &b[1], &b[2]);
		merge_one(&b[2], &b[1], &b[0]);
		judge(&b[0], &b[2]);
	}
	for (int i = 0; i < ok; i++)
		group_blob_free(&b[i]);
	return 0;
}
