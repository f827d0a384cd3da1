/*
 * group_blob_merge: the three-way merge of two rosters that two coordinators
 * changed from one base at the same time (see group_blob.h).
 *
 * Every field merges by one rule: a change on one side since the base is
 * taken; where both sides changed a value differently, a fixed order picks
 * one (the smaller name, the smaller firewall encoding, the earlier expiry)
 * so both coordinators pick the same. Sets (members, approvals, keys) take
 * the other side's additions and removals; a revocation always holds.
 */
#include "mesh/group_blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Which of two changed values wins on both sides: the smaller string. */
static const char *pick_str(const char *base, const char *ours, const char *theirs)
{
	if (strcmp(theirs, base) == 0 || strcmp(ours, theirs) == 0)
		return ours;
	if (strcmp(ours, base) == 0)
		return theirs;
	return strcmp(ours, theirs) <= 0 ? ours : theirs;
}

/* Adds m to b as it is, picking a new hostname or address only on a clash. */
static int merge_add(struct group_blob *b, const struct gb_member *m)
{
	struct gb_member c = *m;
	int rc;

	if (group_blob_find_member_by_hostname(b, c.hostname) != NULL &&
	    (rc = hostname_resolve_clash(m->hostname, group_blob_hostname_taken, b, c.hostname)) <
		    0)
		return rc;
	if (group_blob_find_member_by_ipv4(b, c.ipv4) != NULL &&
	    (rc = group_blob_assign_ip(b, c.id, &c.ipv4, &c.collision_index)) < 0)
		return rc;
	return group_blob_add_member(b, &c);
}

int group_blob_merge_members(struct group_blob *ours, const struct group_blob *base,
			     const struct group_blob *theirs)
{
	const struct gb_member *m;
	int changes = 0, rc;
	size_t i;

	for (i = 0; i < base->n_members; i++) {
		m = &base->members[i];
		if (group_blob_find_member(theirs, m->id) != NULL ||
		    group_blob_find_member(ours, m->id) == NULL)
			continue;
		if ((rc = group_blob_remove_member(ours, m->id)) < 0)
			return rc;
		changes++;
	}
	for (i = 0; i < theirs->n_members; i++) {
		m = &theirs->members[i];
		if (group_blob_find_member(base, m->id) != NULL ||
		    group_blob_find_member(ours, m->id) != NULL)
			continue;
		if ((rc = merge_add(ours, m)) < 0)
			return rc;
		changes++;
	}
	return changes;
}

/*
 * A member both sides kept: a rename or a coordinator change on their side
 * is taken. A name another member of ours holds meanwhile is left as ours
 * (the holder came in by this merge or by ours; renaming it again is the
 * member's own business).
 */
static int merge_member_fields(struct group_blob *ours, const struct gb_member *b,
			       const struct gb_member *t)
{
	const struct gb_member *o = group_blob_find_member(ours, t->id);
	const char *name;
	int changes = 0, rc;

	if (o == NULL)
		return 0;
	name = pick_str(b->hostname, o->hostname, t->hostname);
	if (name != o->hostname) {
		rc = group_blob_set_hostname(ours, t->id, name);
		if (rc == 0)
			changes++;
		else if (rc != -EEXIST)
			return rc;
		o = group_blob_find_member(ours, t->id);
	}
	if (t->coordinator != b->coordinator && o->coordinator == b->coordinator) {
		if ((rc = group_blob_set_coordinator(ours, t->id, t->coordinator)) < 0)
			return rc;
		changes++;
	}
	return changes;
}

static int merge_members_fields(struct group_blob *ours, const struct group_blob *base,
				const struct group_blob *theirs)
{
	int changes = 0, rc;

	for (size_t i = 0; i < theirs->n_members; i++) {
		const struct gb_member *t = &theirs->members[i];
		const struct gb_member *b = group_blob_find_member(base, t->id);

		if (b == NULL)
			continue;
		if ((rc = merge_member_fields(ours, b, t)) < 0)
			return rc;
		changes += rc;
	}
	return changes;
}

/* Approvals: theirs' new ones are added (unless the identity is a member
 * by now: the approval was used), theirs' withdrawn or used ones go. */
static int merge_approved(struct group_blob *ours, const struct group_blob *base,
			  const struct group_blob *theirs)
{
	const struct gb_approved *a;
	int changes = 0, rc;
	size_t i;

	for (i = 0; i < base->n_approved; i++) {
		a = &base->approved[i];
		if (group_blob_find_approved(theirs, a->id) != NULL ||
		    group_blob_find_approved(ours, a->id) == NULL)
			continue;
		if ((rc = group_blob_remove_approved(ours, a->id)) < 0)
			return rc;
		changes++;
	}
	for (i = 0; i < theirs->n_approved; i++) {
		a = &theirs->approved[i];
		if (group_blob_find_approved(base, a->id) != NULL ||
		    group_blob_find_approved(ours, a->id) != NULL ||
		    group_blob_find_member(ours, a->id) != NULL)
			continue;
		if ((rc = group_blob_add_approved(ours, a->id, a->hostname)) < 0)
			return rc;
		changes++;
	}
	return changes;
}

static struct gb_key *key_by_id(const struct group_blob *b, const char *id)
{
	for (size_t i = 0; i < b->n_keys; i++)
		if (strcmp(b->keys[i].id, id) == 0)
			return &b->keys[i];
	return NULL;
}

/* An expiry changed on both sides: the earlier one (0 is never). */
static uint64_t pick_expiry(uint64_t base, uint64_t ours, uint64_t theirs)
{
	if (theirs == base || ours == theirs)
		return ours;
	if (ours == base)
		return theirs;
	if (ours == 0 || theirs == 0)
		return ours == 0 ? theirs : ours;
	return ours < theirs ? ours : theirs;
}

/* Keys: theirs' new keys are added; a revocation on either side holds. */
static int merge_keys(struct group_blob *ours, const struct group_blob *base,
		      const struct group_blob *theirs)
{
	int changes = 0, rc;

	for (size_t i = 0; i < theirs->n_keys; i++) {
		const struct gb_key *t = &theirs->keys[i], *b = key_by_id(base, t->id);
		struct gb_key *o = key_by_id(ours, t->id);
		uint64_t expires;

		if (o == NULL) {
			if (b != NULL)
				continue; /* ours dropped it */
			rc = group_blob_add_key(ours, t);
			if (rc == -EEXIST)
				continue; /* the same secret under another id */
			if (rc < 0)
				return rc;
			changes++;
			continue;
		}
		if (t->revoked && !o->revoked) {
			o->revoked = true;
			ours->version++;
			changes++;
		}
		expires = pick_expiry(b ? b->expires : o->expires, o->expires, t->expires);
		if (expires != o->expires) {
			o->expires = expires;
			ours->version++;
			changes++;
		}
	}
	return changes;
}

static int fw_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return alen ? memcmp(a, b, alen) : 0;
}

/* The suggested firewall: one value, taken whole. */
static int merge_firewall(struct group_blob *ours, const struct group_blob *base,
			  const struct group_blob *theirs)
{
	const struct group_blob *pick;
	int rc;

	if (fw_cmp(theirs->firewall, theirs->firewall_len, base->firewall, base->firewall_len) ==
		    0 ||
	    fw_cmp(ours->firewall, ours->firewall_len, theirs->firewall, theirs->firewall_len) == 0)
		return 0;
	pick = theirs;
	if (fw_cmp(ours->firewall, ours->firewall_len, base->firewall, base->firewall_len) != 0 &&
	    fw_cmp(ours->firewall, ours->firewall_len, theirs->firewall, theirs->firewall_len) < 0)
		pick = ours;
	if (pick == ours)
		return 0;
	rc = group_blob_set_firewall(ours, theirs->firewall, theirs->firewall_len);
	return rc < 0 ? rc : 1;
}

static int merge_settings(struct group_blob *ours, const struct group_blob *base,
			  const struct group_blob *theirs)
{
	const char *name = pick_str(base->name, ours->name, theirs->name);
	int changes = 0, rc;

	if (name != ours->name) {
		if ((rc = group_blob_set_name(ours, name)) < 0)
			return rc;
		changes++;
	}
	/* Two modes: changed on both sides means changed to the same. */
	if (theirs->mode != base->mode && ours->mode == base->mode) {
		if ((rc = group_blob_set_mode(ours, theirs->mode)) < 0)
			return rc;
		changes++;
	}
	return changes;
}

int group_blob_merge(struct group_blob *ours, const struct group_blob *base,
		     const struct group_blob *theirs)
{
	int (*steps[])(struct group_blob *, const struct group_blob *,
		       const struct group_blob *) = {
		group_blob_merge_members, merge_members_fields, merge_approved, merge_keys,
		merge_firewall,           merge_settings
	};
	int changes = 0, rc;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if ((rc = steps[i](ours, base, theirs)) < 0)
			return rc;
		changes += rc;
	}
	return changes;
}
