/*
 * contact: contact ids, what `ray connect` takes to reach a device that
 * shares no network with us.
 *
 * A contact id is the public half of a contact key: an Ed25519 key of its
 * own (CONTACT_KEY_FILE under the home, 0600), not the device identity, so
 * the owner can rotate it and make old ids useless without changing the
 * device's addresses. The key signs the DHT record that says which device
 * the id reaches (record kind RECORD_CONTACT). In text the id is base58 of
 * the 32-byte public key followed by 4 bytes of a BLAKE3 checksum, so a
 * mistyped id is told apart from an unknown one before any lookup.
 */
#ifndef RAYFISH_MESH_CONTACT_H
#define RAYFISH_MESH_CONTACT_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>

#define CONTACT_KEY_FILE "contact_key"
#define CONTACT_ID_BUF 64 /* text form plus NUL; ids are about 49 characters */

/* Writes the id of pk into out (cap >= CONTACT_ID_BUF). Returns its length
 * or -ENOSPC. */
int contact_id_format(const uint8_t pk[LIMIT_KEY_LEN], char *out, size_t cap);
/* Parses an id: 0, -EINVAL when s is no contact id at all (not base58, far
 * from the length), -EBADMSG when it is one mistyped or cut short (the
 * checksum does not match). */
int contact_id_parse(const char *s, uint8_t pk[LIMIT_KEY_LEN]);

#endif
