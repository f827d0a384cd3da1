/*
 * pcp: the Port Control Protocol (RFC 6887) MAP request and response as
 * bytes, with no sockets and no state. portmap.c sends what pcp_map_encode
 * writes to the default gateway's UDP port 5351 and hands every datagram
 * that comes back to pcp_map_parse, which checks it against the request it
 * answers: version 2, the R bit, opcode MAP, at least the 24-byte header
 * and the 36-byte MAP body, well-framed options, our nonce, protocol and
 * internal port, a success result code, a lifetime within bounds and an
 * IPv4-mapped external address. Only IPv4 mappings are made (magicsock's
 * mapped address is IPv4), so addresses are struct in_addr here and become
 * ::ffff:a.b.c.d on the wire.
 *
 * A NAT-PMP-only gateway answers a version 2 request with its own
 * UNSUPP_VERSION (version 0, result 1: RFC 6887 section 9); both that and
 * a PCP UNSUPP_VERSION return -EPROTONOSUPPORT, the caller's cue to fall
 * back to NAT-PMP.
 *
 * Ownership: the caller owns every buffer and struct; nothing is kept.
 */
#ifndef RAYFISH_TRANSPORT_PCP_H
#define RAYFISH_TRANSPORT_PCP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define PCP_SERVER_PORT 5351
#define PCP_VERSION 2
#define PCP_OP_MAP 1
#define PCP_NONCE_LEN 12
#define PCP_HEADER_LEN 24
#define PCP_MAP_LEN (PCP_HEADER_LEN + 36)
#define PCP_MAX_LEN 1100 /* RFC 6887 section 7 */
#define PCP_PROTO_UDP 17
/* Longer leases are refused: renewal is capped at 12 h (half of this). */
#define PCP_LIFETIME_MAX 86400u

/* Result codes, RFC 6887 section 7.4. */
enum pcp_result {
	PCP_SUCCESS = 0,
	PCP_UNSUPP_VERSION = 1,
	PCP_NOT_AUTHORIZED = 2,
	PCP_MALFORMED_REQUEST = 3,
	PCP_UNSUPP_OPCODE = 4,
	PCP_UNSUPP_OPTION = 5,
	PCP_MALFORMED_OPTION = 6,
	PCP_NETWORK_FAILURE = 7,
	PCP_NO_RESOURCES = 8,
	PCP_UNSUPP_PROTOCOL = 9,
	PCP_USER_EX_QUOTA = 10,
	PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	PCP_ADDRESS_MISMATCH = 12,
	PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/*
 * One MAP mapping. In a request: what we ask for (external port and
 * address are suggestions, 0 and 0.0.0.0 for no preference; lifetime 0
 * deletes). In a parsed response: what the server granted.
 */
struct pcp_map {
	uint8_t nonce[PCP_NONCE_LEN];
	uint8_t protocol;
	uint16_t internal_port;
	uint16_t external_port;
	struct in_addr external;
	uint32_t lifetime_s;
};

struct pcp_reply {
	struct pcp_map map; /* filled on success only */
	uint8_t result;     /* the server's result code, when it sent one */
	uint32_t epoch;     /* server's epoch time, when it sent one */
};

/*
 * Writes a MAP request from client (our address as the gateway sees it)
 * into buf. Returns PCP_MAP_LEN, -ENOSPC when size is short, -EINVAL for
 * internal port 0, a zero client address or a lifetime over
 * PCP_LIFETIME_MAX.
 */
int pcp_map_encode(uint8_t *buf, size_t size, struct in_addr client, const struct pcp_map *req);

/*
 * Checks a datagram from the gateway against req. Returns 0 and fills
 * out->map, or:
 *   -EBADMSG   truncated, longer than PCP_MAX_LEN, not a multiple of 4,
 *              or options that overrun the datagram
 *   -EPROTO    not a PCP MAP response (version, R bit, opcode), or a
 *              success that grants nothing usable: zero or over-long
 *              lifetime (a non-zero one to a delete), port 0, an address
 *              that is not IPv4-mapped or not usable
 *   -ENOMSG    a MAP response to another request (nonce, protocol or
 *              internal port differ): not ours, keep waiting
 *   the result code as -errno (pcp_result_errno) otherwise.
 */
int pcp_map_parse(const uint8_t *buf, size_t len, const struct pcp_map *req, struct pcp_reply *out);

/*
 * UNSUPP_VERSION -EPROTONOSUPPORT, NOT_AUTHORIZED -EACCES,
 * MALFORMED_REQUEST -EINVAL, UNSUPP_OPCODE and UNSUPP_OPTION -EOPNOTSUPP,
 * MALFORMED_OPTION -EBADMSG, NETWORK_FAILURE -ENETDOWN, NO_RESOURCES
 * -ENOSPC, UNSUPP_PROTOCOL -ESOCKTNOSUPPORT, USER_EX_QUOTA -EDQUOT,
 * CANNOT_PROVIDE_EXTERNAL -EADDRNOTAVAIL, ADDRESS_MISMATCH -EREMCHG (a NAT
 * between us and the server), EXCESSIVE_REMOTE_PEERS -E2BIG, unknown
 * -EPROTO; SUCCESS 0.
 */
int pcp_result_errno(unsigned result);
/* "NOT_AUTHORIZED" and so on; "unknown" past the known codes. */
const char *pcp_result_name(unsigned result);

#endif
