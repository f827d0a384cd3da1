/*
 * record: signed, sequence-numbered records that Rayfish publishes as DHT
 * values.
 *
 * A DHT is open to anyone, so a value found there is worth nothing until it
 * proves who wrote it. Every record is signed with Ed25519 by the key it
 * speaks for (a device identity for endpoint records, a network key for
 * network records) and carries a sequence number and an expiry. Readers
 * decode every value stored under a key, drop anything malformed, expired,
 * of the wrong kind or signed by anyone else, and keep the highest sequence
 * (record_pick_best). Old values therefore need no deletion: they lose.
 *
 * Wire format (msgpack, version 1), at most RECORD_MAX bytes in total:
 *
 *   record = array(2) [ bin body, bin(64) signature ]
 *   body   = array(6) [ uint version = 1,
 *                       uint kind (1 = endpoint, 2 = network, 3 = contact),
 *                       bin(32) signer Ed25519 public key,
 *                       uint seq (u64),
 *                       uint expires (unix seconds),
 *                       bin payload ]
 *   signature = Ed25519(signer, "rayfish-record-v1" || body bytes)
 *
 * The body travels as opaque bytes so the signature covers exactly what was
 * sent; nothing is re-encoded before verifying. The domain prefix keeps these
 * signatures from being valid for any other message type signed with the same
 * key, and the kind inside the body keeps an endpoint record from being
 * replayed as a network record. A contact record is signed by a contact
 * key, which is not the device identity, so a contact id can be rotated. Integers use any msgpack unsigned width;
 * anything else (extra fields, trailing bytes, another version) is refused:
 * a format change means a new version number.
 *
 * DHT keys: record_dht_key gives the OpenDHT infohash (SHA-1) of the ASCII
 * string "rayfish/v1/<kind>/<hex pk>", kind "endpoint", "network" or
 * "contact" (lowercase hex, 64 characters).
 *
 * The payload codecs for the three kinds live in discovery/payload.h.
 */
#ifndef RAYFISH_DISCOVERY_RECORD_H
#define RAYFISH_DISCOVERY_RECORD_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>

#define RECORD_MAX 8192 /* whole encoded record */
#define RECORD_VERSION 1
#define RECORD_PK_LEN LIMIT_KEY_LEN
#define RECORD_SEED_LEN LIMIT_KEY_LEN
#define RECORD_SIG_LEN 64
#define RECORD_KEY_LEN 20 /* OpenDHT infohash */
#define RECORD_DOMAIN "rayfish-record-v1"
/* Largest payload accepted by record_encode: the framing around it takes
 * at most 128 bytes, so such a record always fits in RECORD_MAX. */
#define RECORD_PAYLOAD_MAX (RECORD_MAX - 128)

enum record_kind {
	RECORD_ENDPOINT = 1, /* where a device can be reached */
	RECORD_NETWORK = 2,  /* a network's blob hash and seed peers */
	RECORD_CONTACT = 3,  /* which device a contact id reaches (ray connect) */
};

/*
 * A decoded, verified record. payload and body point into the buffer given to
 * record_decode: they are valid only as long as that buffer is.
 */
struct record {
	enum record_kind kind;
	uint8_t signer[RECORD_PK_LEN];
	uint64_t seq;
	uint64_t expires;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *body; /* the signed bytes, used to break ties */
	size_t body_len;
};

/*
 * Signs and encodes a record with the keypair derived from seed. Returns the
 * encoded length, -EINVAL for an unknown kind or a NULL payload with len > 0,
 * or -EMSGSIZE when the record exceeds RECORD_MAX or outcap.
 */
int record_encode(enum record_kind kind, const uint8_t seed[RECORD_SEED_LEN], uint64_t seq,
		  uint64_t expires, const uint8_t *payload, size_t len, uint8_t *out,
		  size_t outcap);

/*
 * Decodes and verifies a record. expected_pk may be NULL to accept any signer
 * (the caller then checks rec->signer itself). A record is expired when
 * expires <= now. Returns 0, or:
 *   -EMSGSIZE      len > RECORD_MAX
 *   -EBADMSG       malformed: truncated, wrong types, trailing bytes,
 *                  unknown version or kind
 *   -ENOMSG        a well-formed record of another kind
 *   -EPERM         signed by someone other than expected_pk
 *   -ETIME         expired
 *   -EKEYREJECTED  the signature does not verify
 * On failure rec is left unspecified.
 */
int record_decode(const uint8_t *buf, size_t len, enum record_kind expected_kind,
		  const uint8_t *expected_pk, uint64_t now, struct record *rec);

/*
 * Index of the best record in recs[0..n): the highest seq; on equal seq the
 * later expiry, then the lexicographically greater body, so every reader
 * picks the same one whatever order the DHT returned them in. The caller
 * passes only records that record_decode accepted. Returns -ENOENT for n == 0.
 */
int record_pick_best(const struct record *recs, size_t n);

/* The DHT key (OpenDHT infohash) under which kind records of pk live.
 * Returns 0, or -EINVAL for an unknown kind. */
int record_dht_key(enum record_kind kind, const uint8_t pk[RECORD_PK_LEN],
		   uint8_t out[RECORD_KEY_LEN]);

/* Public key for a seed (what record_encode signs with). */
void record_seed_pk(const uint8_t seed[RECORD_SEED_LEN], uint8_t pk[RECORD_PK_LEN]);

#endif
