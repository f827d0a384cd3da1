/*
 * disco: the sealed ping/pong messages that find and keep direct paths.
 *
 * A disco packet proves it comes from a peer's identity and was meant for
 * ours: it carries the sender's Ed25519 public key in clear and a libsodium
 * crypto_box (X25519 keys converted from the two Ed25519 identities,
 * XSalsa20-Poly1305) around the message. Magicsock sends pings to a peer's
 * candidate addresses from both ends at once (hole punching) and treats an
 * address as a working direct path only when a pong with the ping's
 * transaction id comes back from it. A pong tells the pinger the address its
 * ping came from (how the peer sees it, i.e. through the NATs).
 *
 * Wire format (all of it after the magic is opaque to anyone without one of
 * the two secret keys):
 *
 *   magic "\x0fRAYDS" (6) | version 1 (1) | sender Ed25519 key (32) |
 *   nonce (24) | box: MAC (16) + message
 *   message: type (1: ping 1, pong 2) | txid (12) |
 *            pong only: family (1: 4 or 6) | port (2, big endian) | addr (16)
 *
 * Pure functions of their arguments, no state: safe on hostile input, every
 * length is checked before use.
 */
#ifndef RAYFISH_TRANSPORT_DISCO_H
#define RAYFISH_TRANSPORT_DISCO_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>

#include "transport/magicsock.h"

#define DISCO_VERSION 1
#define DISCO_KEY_LEN LIMIT_KEY_LEN
#define DISCO_TXID_LEN 12
#define DISCO_HDR_LEN (MAGICSOCK_DISCO_MAGIC_LEN + 1 + DISCO_KEY_LEN + 24)
#define DISCO_MAX_LEN 128 /* a sealed pong, the largest message */

enum disco_type {
	DISCO_PING = 1,
	DISCO_PONG = 2,
};

struct disco_msg {
	uint8_t type; /* enum disco_type */
	uint8_t txid[DISCO_TXID_LEN];
	union ms_addr observed; /* pong: where the ping came from */
};

/* Our X25519 secret from our Ed25519 secret key (64 bytes, libsodium's). */
int disco_secret_from_ed25519(uint8_t curve_sk[DISCO_KEY_LEN], const uint8_t ed_sk[64]);
/*
 * The box key shared with a peer, from our X25519 secret and the peer's
 * Ed25519 public key; -EINVAL when that key is not a usable point.
 */
int disco_shared_key(uint8_t shared[DISCO_KEY_LEN], const uint8_t curve_sk[DISCO_KEY_LEN],
		     const uint8_t peer_pk[DISCO_KEY_LEN]);

/* Seals m into out (cap >= DISCO_MAX_LEN); returns the length or -errno. */
int disco_seal(uint8_t *out, size_t cap, const uint8_t self_pk[DISCO_KEY_LEN],
	       const uint8_t shared[DISCO_KEY_LEN], const struct disco_msg *m);
/* The sender's key of a well-formed packet, or -EBADMSG. */
int disco_sender(const uint8_t *pkt, size_t len, uint8_t pk[DISCO_KEY_LEN]);
/* Opens a packet sealed for us; -EBADMSG on any bad byte or bad box. */
int disco_open(const uint8_t *pkt, size_t len, const uint8_t shared[DISCO_KEY_LEN],
	       struct disco_msg *m);
/* Random transaction id. */
void disco_txid(uint8_t txid[DISCO_TXID_LEN]);

#endif
