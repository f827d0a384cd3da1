/*
 * pcp: RFC 6887 MAP request encoding and strict response parsing; see
 * pcp.h for the rules and errors.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include "transport/pcp.h"
#include "util/bytes.h"

#define PCP_R_BIT 0x80
#define OPT_HEADER_LEN 4

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* RFC 6887 section 5: IPv4 travels as ::ffff:a.b.c.d. */
static void put_v4mapped(uint8_t *p, struct in_addr a)
{
	memcpy(p, v4mapped_prefix, sizeof(v4mapped_prefix));
	memcpy(p + 12, &a.s_addr, 4);
}

static int get_v4mapped(const uint8_t *p, struct in_addr *a)
{
	if (memcmp(p, v4mapped_prefix, sizeof(v4mapped_prefix)) != 0)
		return -EPROTO;
	memcpy(&a->s_addr, p + 12, 4);
	return 0;
}

static int ipv4_usable(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);

	return h != 0 && h != 0xffffffffu && (h >> 28) != 0xe;
}

int pcp_map_encode(uint8_t *buf, size_t size, struct in_addr client, const struct pcp_map *req)
{
	uint8_t *m = buf + PCP_HEADER_LEN;

	if (size < PCP_MAP_LEN)
		return -ENOSPC;
	if (req->internal_port == 0 || client.s_addr == 0 || req->lifetime_s > PCP_LIFETIME_MAX)
		return -EINVAL;
	memset(buf, 0, PCP_MAP_LEN);
	buf[0] = PCP_VERSION;
	buf[1] = PCP_OP_MAP;
	be32_put(buf + 4, req->lifetime_s);
	put_v4mapped(buf + 8, client);
	memcpy(m, req->nonce, PCP_NONCE_LEN);
	m[12] = req->protocol;
	be16_put(m + 16, req->internal_port);
	be16_put(m + 18, req->external_port);
	/* No preference is ::ffff:0.0.0.0 for IPv4 (section 11.1). */
	put_v4mapped(m + 20, req->external);
	return PCP_MAP_LEN;
}

/*
 * Options only need to be well framed: none we could receive changes what
 * the mapping is, and unknown ones in a response are not ours to refuse.
 */
static int options_ok(const uint8_t *p, size_t len)
{
	size_t off = 0, olen;

	while (off < len) {
		if (len - off < OPT_HEADER_LEN)
			return -EBADMSG;
		olen = be16_get(p + off + 2);
		olen = (olen + 3) & ~(size_t)3;
		off += OPT_HEADER_LEN;
		if (olen > len - off)
			return -EBADMSG;
		off += olen;
	}
	return 0;
}

/*
 * The version and header checks. A NAT-PMP server answers our version 2
 * with a version 0 header whose 16-bit result is UNSUPP_VERSION, which
 * puts 1 in the byte where PCP keeps its result (RFC 6887 section 9).
 */
static int header_check(const uint8_t *buf, size_t len, struct pcp_reply *out)
{
	if (len < 4)
		return -EBADMSG;
	if (buf[0] != PCP_VERSION) {
		if (buf[0] == 0 && len >= 8 && (buf[1] & PCP_R_BIT) && buf[2] == 0 &&
		    buf[3] == PCP_UNSUPP_VERSION) {
			out->result = PCP_UNSUPP_VERSION;
			return -EPROTONOSUPPORT;
		}
		return -EPROTO;
	}
	if (len < PCP_HEADER_LEN)
		return -EBADMSG;
	if (!(buf[1] & PCP_R_BIT) || (buf[1] & ~PCP_R_BIT) != PCP_OP_MAP)
		return -EPROTO;
	out->result = buf[3];
	out->epoch = be32_get(buf + 8);
	/* Sent with the bare header when the server cannot read ours. */
	if (buf[3] == PCP_UNSUPP_VERSION)
		return -EPROTONOSUPPORT;
	if (len < PCP_MAP_LEN || len > PCP_MAX_LEN || len % 4 != 0)
		return -EBADMSG;
	return options_ok(buf + PCP_MAP_LEN, len - PCP_MAP_LEN);
}

static int grant_check(const uint8_t *buf, const struct pcp_map *req, struct pcp_map *got)
{
	const uint8_t *m = buf + PCP_HEADER_LEN;

	got->lifetime_s = be32_get(buf + 4);
	got->external_port = be16_get(m + 18);
	if (req->lifetime_s == 0)
		return got->lifetime_s == 0 ? 0 : -EPROTO;
	if (got->lifetime_s == 0 || got->lifetime_s > PCP_LIFETIME_MAX)
		return -EPROTO;
	if (got->external_port == 0)
		return -EPROTO;
	if (get_v4mapped(m + 20, &got->external) < 0 || !ipv4_usable(got->external))
		return -EPROTO;
	return 0;
}

int pcp_map_parse(const uint8_t *buf, size_t len, const struct pcp_map *req, struct pcp_reply *out)
{
	const uint8_t *m = buf + PCP_HEADER_LEN;
	struct pcp_map got;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = header_check(buf, len, out);
	if (rc < 0)
		return rc;
	if (memcmp(m, req->nonce, PCP_NONCE_LEN) != 0 || m[12] != req->protocol ||
	    be16_get(m + 16) != req->internal_port)
		return -ENOMSG;
	if (out->result != PCP_SUCCESS)
		return pcp_result_errno(out->result);
	memset(&got, 0, sizeof(got));
	memcpy(got.nonce, req->nonce, PCP_NONCE_LEN);
	got.protocol = req->protocol;
	got.internal_port = req->internal_port;
	rc = grant_check(buf, req, &got);
	if (rc < 0)
		return rc;
	out->map = got;
	return 0;
}

int pcp_result_errno(unsigned result)
{
	switch (result) {
	case PCP_SUCCESS:
		return 0;
	case PCP_UNSUPP_VERSION:
		return -EPROTONOSUPPORT;
	case PCP_NOT_AUTHORIZED:
		return -EACCES;
	case PCP_MALFORMED_REQUEST:
		return -EINVAL;
	case PCP_UNSUPP_OPCODE:
	case PCP_UNSUPP_OPTION:
		return -EOPNOTSUPP;
	case PCP_MALFORMED_OPTION:
		return -EBADMSG;
	case PCP_NETWORK_FAILURE:
		return -ENETDOWN;
	case PCP_NO_RESOURCES:
		return -ENOSPC;
	case PCP_UNSUPP_PROTOCOL:
		return -ESOCKTNOSUPPORT;
	case PCP_USER_EX_QUOTA:
		return -EDQUOT;
	case PCP_CANNOT_PROVIDE_EXTERNAL:
		return -EADDRNOTAVAIL;
	case PCP_ADDRESS_MISMATCH:
		return -EREMCHG;
	case PCP_EXCESSIVE_REMOTE_PEERS:
		return -E2BIG;
	default:
		return -EPROTO;
	}
}

const char *pcp_result_name(unsigned result)
{
	static const char *const names[] = {
		"SUCCESS",           "UNSUPP_VERSION",         "NOT_AUTHORIZED",
		"MALFORMED_REQUEST", "UNSUPP_OPCODE",          "UNSUPP_OPTION",
		"MALFORMED_OPTION",  "NETWORK_FAILURE",        "NO_RESOURCES",
		"UNSUPP_PROTOCOL",   "USER_EX_QUOTA",          "CANNOT_PROVIDE_EXTERNAL",
		"ADDRESS_MISMATCH",  "EXCESSIVE_REMOTE_PEERS",
	};

	if (result >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[result];
}
