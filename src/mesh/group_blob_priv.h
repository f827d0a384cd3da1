/*
 * group_blob_priv: entry checks shared by the roster operations
 * (group_blob.c) and the strict decoder (group_blob_codec.c), so a roster
 * built by hand and one read from the wire obey exactly the same rules.
 * Not for use outside src/mesh/group_blob*.c.
 */
#ifndef RAYFISH_MESH_GROUP_BLOB_PRIV_H
#define RAYFISH_MESH_GROUP_BLOB_PRIV_H

#include "mesh/group_blob.h"

/* Id, hostname and address of one member; 0 or -EINVAL. */
int gb_member_check(const struct gb_member *m);
int gb_approved_check(const struct gb_approved *a);
int gb_key_check(const struct gb_key *k);
/* -EEXIST when two members share an address or a hostname. */
int gb_members_unique(const struct gb_member *m, size_t n);
/* -EEXIST when two keys share a secret hash. */
int gb_keys_unique(const struct gb_key *k, size_t n);

#endif
