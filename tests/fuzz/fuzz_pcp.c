/*
 * fuzz_pcp: hostile datagrams through the PCP MAP response parser
 * (transport/pcp.h), as if the gateway sent them.
 *
 * Every input is parsed against a mapping request (the nonce, protocol and
 * port the seeds answer) and against a delete of it. The parser may only
 * return the errors pcp.h lists; a success must grant what pcp.h promises
 * (our nonce, protocol and port; a lifetime of 1..PCP_LIFETIME_MAX with a
 * usable external address and port, or 0 for the delete), and nothing
 * past the input may be read (ASan). The first bytes also make a request,
 * which must encode to the RFC 6887 layout and never parse as an answer.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "transport/pcp.h"

static const uint8_t nonce[PCP_NONCE_LEN] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
					      0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98 };

static int allowed(int rc)
{
	switch (rc) {
	case 0:
	case -EBADMSG:
	case -EPROTO:
	case -ENOMSG:
	case -EPROTONOSUPPORT:
	case -EACCES:
	case -EINVAL:
	case -EOPNOTSUPP:
	case -ENETDOWN:
	case -ENOSPC:
	case -ESOCKTNOSUPPORT:
	case -EDQUOT:
	case -EADDRNOTAVAIL:
	case -EREMCHG:
	case -E2BIG:
		return 1;
	default:
		return 0;
	}
}

static void check_grant(const struct pcp_reply *rep, const struct pcp_map *req)
{
	uint32_t h = ntohl(rep->map.external.s_addr);

	if (rep->result != PCP_SUCCESS || memcmp(rep->map.nonce, nonce, PCP_NONCE_LEN) != 0 ||
	    rep->map.protocol != req->protocol || rep->map.internal_port != req->internal_port)
		abort();
	if (req->lifetime_s == 0) {
		if (rep->map.lifetime_s != 0)
			abort();
		return;
	}
	if (rep->map.lifetime_s == 0 || rep->map.lifetime_s > PCP_LIFETIME_MAX ||
	    rep->map.external_port == 0 || h == 0 || h == 0xffffffffu || (h >> 28) == 0xe)
		abort();
}

static void parse_as(const uint8_t *data, size_t size, uint32_t lifetime)
{
	struct pcp_map req = { .protocol = PCP_PROTO_UDP,
			       .internal_port = 41383,
			       .external_port = 41383,
			       .lifetime_s = lifetime };
	struct pcp_reply rep;
	uint8_t *copy;
	int rc;

	memcpy(req.nonce, nonce, sizeof(nonce));
	/* An exact-size heap copy, so ASan sees any read past the datagram. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	rc = pcp_map_parse(copy, size, &req, &rep);
	free(copy);
	if (!allowed(rc))
		abort();
	if (rc == -EPROTONOSUPPORT && rep.result != PCP_UNSUPP_VERSION)
		abort();
	if (rc == 0)
		check_grant(&rep, &req);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void encode_from(const uint8_t *data, size_t size)
{
	uint8_t buf[PCP_MAP_LEN];
	struct pcp_reply rep;
	struct in_addr client;
	struct pcp_map req;
	int rc;

	if (size < 24)
		return;
	memset(&req, 0, sizeof(req));
	memcpy(req.nonce, data, PCP_NONCE_LEN);
	req.protocol = data[12];
	req.internal_port = be16(data + 13);
	req.external_port = be16(data + 15);
	memcpy(&req.external.s_addr, data + 17, 4);
	req.lifetime_s = (uint32_t)data[21] << 9 | (uint32_t)data[22] << 1;
	client.s_addr = htonl(0x0a000002u + data[23]);
	rc = pcp_map_encode(buf, sizeof(buf), client, &req);
	if (req.internal_port == 0 || req.lifetime_s > PCP_LIFETIME_MAX) {
		if (rc != -EINVAL)
			abort();
		return;
	}
	if (rc != PCP_MAP_LEN || buf[0] != PCP_VERSION || buf[1] != PCP_OP_MAP ||
	    memcmp(buf + 24, req.nonce, PCP_NONCE_LEN) != 0 || buf[36] != req.protocol ||
	    be16(buf + 40) != req.internal_port || be16(buf + 42) != req.external_port ||
	    memcmp(buf + 56, &req.external.s_addr, 4) != 0 ||
	    memcmp(buf + 20, &client.s_addr, 4) != 0)
		abort();
	/* Our own request has no R bit: never an answer to itself. */
	if (pcp_map_parse(buf, sizeof(buf), &req, &rep) != -EPROTO)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse_as(data, size, 7200);
	parse_as(data, size, 0);
	encode_from(data, size);
	return 0;
}
