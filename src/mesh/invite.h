/*
 * invite: single-use invite codes and the coordinator's invite ledger.
 *
 * A code is base58(network pk 32 ‖ minting coordinator pk 32 ‖ secret 16 ‖
 * checksum 4), the checksum being the first 4 bytes of
 * BLAKE3("rayfish-invite-v1" ‖ the 80 bytes before it), so a mistyped code
 * is told apart from a forged or revoked one. The same encoding carries
 * reusable keys (their hash rides the signed roster, see group_blob.h).
 *
 * The ledger ($RAYFISH_HOME/invites/<room id>.json, mode 0600) keeps only
 * BLAKE3(secret), never the secret. At admission an invite is first
 * claimed for the joiner's identity (and the claim saved), then settled
 * (used) once the roster naming the joiner is stored, or restored if the
 * admission failed, so its holder is not locked out by a name or address
 * clash. A coordinator that dies between the claim and the roster comes
 * back with an invite only that joiner can still redeem: never one anybody
 * can, never one nobody can.
 */
#ifndef RAYFISH_MESH_INVITE_H
#define RAYFISH_MESH_INVITE_H

#include "util/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mesh/hostname.h"
#include "mesh/identity.h"

#define INVITE_SECRET_LEN 16
#define INVITE_ID_LEN 8 /* hex chars */
#define INVITE_CODE_MIN 80
#define INVITE_CODE_MAX 160
#define INVITE_MAX 4096 /* ledger entries kept */

struct invite_code {
	uint8_t net[LIMIT_KEY_LEN];
	uint8_t coordinator[LIMIT_KEY_LEN];
	uint8_t secret[INVITE_SECRET_LEN];
};

/* Returns the code length, or -ENOSPC. */
int invite_code_encode(const struct invite_code *c, char *out, size_t cap);
/* -EINVAL: not a code (bad characters or length); -EBADMSG: checksum wrong
 * (mistyped or truncated). */
int invite_code_decode(const char *s, struct invite_code *c);

/* CLAIMED: spent for everyone but the joiner it is being redeemed for. */
enum invite_status {
	INVITE_ACTIVE,
	INVITE_USED,
	INVITE_REVOKED,
	INVITE_CLAIMED
};

struct invite {
	char id[INVITE_ID_LEN + 1];
	uint8_t hash[LIMIT_KEY_LEN]; /* BLAKE3(secret) */
	uint64_t created;
	uint64_t expires; /* unix seconds, 0 = never */
	enum invite_status status;
	char hostname[HOSTNAME_BUF];        /* "" = the joiner picks */
	bool shared;                        /* learned from another coordinator */
	char claimant[IDENTITY_ID_LEN + 1]; /* INVITE_CLAIMED: its joiner */
};

struct invite_ledger {
	struct invite *v;
	size_t n;
};

void invite_ledger_init(struct invite_ledger *l);
void invite_ledger_free(struct invite_ledger *l);
/* Absent file = empty ledger; a malformed file is -EINVAL and untouched. */
int invite_ledger_load(struct invite_ledger *l, const char *home, const char *room_id);
int invite_ledger_save(const struct invite_ledger *l, const char *home, const char *room_id);

/* Makes a fresh secret (out) and records its hash. hostname may be NULL. */
int invite_mint(struct invite_ledger *l, const char *hostname, uint64_t ttl_s, uint64_t now,
		uint8_t secret[INVITE_SECRET_LEN], struct invite *out);
/*
 * Claims the invite for secret for the joiner `claimant` (an endpoint id).
 * Returns 0 with *out set, -ENOENT (unknown), -EKEYEXPIRED, -EKEYREVOKED,
 * -EALREADY (used, or claimed by another joiner). An invite already claimed
 * by this claimant is claimed again: its admission never finished.
 */
int invite_redeem(struct invite_ledger *l, const uint8_t secret[INVITE_SECRET_LEN], uint64_t now,
		  const char *claimant, struct invite *out);
/* Claimed → used: the roster naming the claimant is stored. -ENOENT when
 * the invite with this hash is not claimed by claimant. */
int invite_settle(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN], const char *claimant);
/* Un-burns the invite with this hash (admission failed after redeem). */
int invite_restore(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN]);
/* Revokes by exact id or unique id prefix: -ENOENT, -EEXIST (ambiguous). */
int invite_revoke(struct invite_ledger *l, const char *id, struct invite *out);

/* Records an invite minted by another coordinator (gossip). Known hashes
 * are left as they are. */
int invite_record_shared(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN], const char *id,
			 uint64_t expires, const char *hostname, uint64_t now);
/* Marks the invite with this hash used (another coordinator redeemed it). */
int invite_burn_hash(struct invite_ledger *l, const uint8_t hash[LIMIT_KEY_LEN]);

/* "7d", "12h", "30m", "45s" or plain seconds → seconds; -EINVAL otherwise. */
int invite_parse_duration(const char *s, uint64_t *out);

#endif
