/*
 * fuzz_group_blob: the roster decoder faces bytes fetched from any peer.
 * Whatever it accepts must re-encode to exactly the same bytes (the
 * canonical-form promise that makes hashes stable), and every accepted
 * roster must satisfy the invariants the rest of the daemon relies on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mesh/address.h"
#include "mesh/group_blob.h"

static void check_invariants(const struct group_blob *b)
{
	size_t i;

	if (b->n_members > GB_MAX_MEMBERS || !hostname_valid(b->name))
		abort();
	for (i = 0; i < b->n_members; i++) {
		const struct gb_member *m = &b->members[i];

		if (m->ipv4 != address_ipv4(m->id, m->collision_index) ||
		    address_ipv4_is_reserved(m->ipv4) || !identity_id_valid(m->id) ||
		    !hostname_valid(m->hostname))
			abort();
		if (group_blob_find_member(b, m->id) != m ||
		    group_blob_find_member_by_ipv4(b, m->ipv4) != m ||
		    group_blob_find_member_by_hostname(b, m->hostname) != m)
			abort();
	}
	if (group_blob_check_msgpack(b->firewall, b->firewall_len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct group_blob b;
	uint8_t *enc;
	size_t len;

	if (group_blob_decode(data, size, &b) != 0)
		return 0;
	check_invariants(&b);
	if (group_blob_encode(&b, &enc, &len) != 0)
		abort();
	if (len != size || memcmp(enc, data, size) != 0)
		abort();
	free(enc);
	group_blob_free(&b);
	return 0;
}
