/*
 * payload: the contents of the three record kinds (see record.h).
 *
 * An endpoint payload tells where a device can be reached right now: its
 * candidate socket addresses, optionally the relay it keeps an allocation on,
 * and optionally when it gathered them. A network payload points at the
 * current group blob (by BLAKE3 hash) and names a few members to fetch it
 * from, plus the mesh protocol version so a joiner with an incompatible build
 * can say so instead of failing to connect. A contact payload names the
 * device a contact id reaches, or nothing: the id was rotated away.
 *
 * Wire format (msgpack, inside a version-1 record; exact field counts):
 *
 *   endpoint = array(3|4) [ array(<=16) of addr, addr | nil relay,
 *                         uint | nil timestamp (unix seconds),
 *                         optional uint flags ]
 *   addr     = bin(6)  IPv4 address (4) || port (2, big-endian)
 *            | bin(18) IPv6 address (16) || port (2, big-endian)
 *   network  = array(3) [ bin(32) blob hash, array(<=16) of bin(32) seed
 *                         peer public keys, uint mesh_version (u32) ]
 *   contact  = array(1) [ bin(32) endpoint public key | nil (retired) ]
 *
 * Flags: bit 0 (ENDPOINT_FLAG_RELAY) offers member relaying (the device is
 * directly reachable and relays for members of networks it shares); other
 * bits are ignored so later versions can add some. The encoder writes the
 * fourth field only when a flag is set, so records without flags stay
 * readable by decoders that know only three fields.
 *
 * Port 0 is refused both ways: such an address cannot be dialled. IPv6 scope
 * ids and flow labels are not carried. Decoders take untrusted bytes (the
 * record signature says who wrote them, not that the writer is sane) and
 * return -EBADMSG for anything malformed, truncated, over a cap or followed by
 * trailing bytes. Encoders return the length written or -EINVAL / -EMSGSIZE.
 */
#ifndef RAYFISH_DISCOVERY_PAYLOAD_H
#define RAYFISH_DISCOVERY_PAYLOAD_H

#include "util/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ENDPOINT_ADDRS_MAX 16
#define NETWORK_SEEDS_MAX 16
#define NETWORK_HASH_LEN LIMIT_KEY_LEN
#define NETWORK_PK_LEN LIMIT_KEY_LEN
#define ENDPOINT_FLAG_RELAY 0x1

struct endpoint_payload {
	size_t n_addrs;
	struct sockaddr_storage addrs[ENDPOINT_ADDRS_MAX]; /* AF_INET/AF_INET6 */
	bool has_relay;
	struct sockaddr_storage relay;
	bool has_timestamp;
	uint64_t timestamp;
	uint64_t flags; /* ENDPOINT_FLAG_* */
};

struct network_payload {
	uint8_t blob_hash[NETWORK_HASH_LEN];
	size_t n_seeds;
	uint8_t seeds[NETWORK_SEEDS_MAX][NETWORK_PK_LEN];
	uint32_t mesh_version;
};

int endpoint_payload_encode(const struct endpoint_payload *p, uint8_t *out, size_t outcap);
int endpoint_payload_decode(const uint8_t *buf, size_t len, struct endpoint_payload *p);

struct contact_payload {
	bool retired; /* the owner rotated this contact id away */
	uint8_t endpoint[LIMIT_KEY_LEN];
};

int network_payload_encode(const struct network_payload *p, uint8_t *out, size_t outcap);
int network_payload_decode(const uint8_t *buf, size_t len, struct network_payload *p);

int contact_payload_encode(const struct contact_payload *p, uint8_t *out, size_t outcap);
int contact_payload_decode(const uint8_t *buf, size_t len, struct contact_payload *p);

#endif
