/*
 * address: FNV-1a and BLAKE3 derivations plus text conversion.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "mesh/address.h"
#include "util/bytes.h"
#include "util/blake3.h"

#define FNV32_OFFSET 0x811c9dc5u
#define FNV32_PRIME 0x01000193u

static uint32_t fnv1a_update(uint32_t h, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV32_PRIME;
	}
	return h;
}

uint32_t address_ipv4(const char *id_str, uint32_t collision_index)
{
	uint8_t be[4];
	uint32_t h;

	h = fnv1a_update(FNV32_OFFSET, (const uint8_t *)id_str, strlen(id_str));
	if (collision_index > 0) {
		be32_put(be, collision_index);
		h = fnv1a_update(h, be, sizeof(be));
	}
	return ADDRESS_V4_NET | (h & ADDRESS_V4_HOST);
}

void address_ipv6(const char *id_str, uint8_t out[16])
{
	uint8_t digest[BLAKE3_OUT_LEN];

	blake3_hash(id_str, strlen(id_str), digest);
	out[0] = 0x02;
	memcpy(out + 1, digest, 15);
}

bool address_ipv4_in_mesh(uint32_t ip)
{
	return (ip & ADDRESS_V4_MASK) == ADDRESS_V4_NET;
}

bool address_ipv4_is_reserved(uint32_t ip)
{
	uint32_t host = ip & ADDRESS_V4_HOST;

	if (!address_ipv4_in_mesh(ip))
		return false;
	return host == 0 || host == ADDRESS_V4_HOST;
}

bool address_ipv6_in_mesh(const uint8_t ip[16])
{
	/* 200::/7 covers first bytes 0x02 and 0x03. */
	return (ip[0] & 0xfe) == 0x02;
}

void address_ipv4_format(uint32_t ip, char out[ADDRESS_V4_STRLEN])
{
	struct in_addr a;

	a.s_addr = htonl(ip);
	inet_ntop(AF_INET, &a, out, ADDRESS_V4_STRLEN);
}

void address_ipv6_format(const uint8_t ip[16], char out[ADDRESS_V6_STRLEN])
{
	inet_ntop(AF_INET6, ip, out, ADDRESS_V6_STRLEN);
}

int address_ipv4_parse(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

int address_ipv6_parse(const char *s, uint8_t out[16])
{
	if (s == NULL || inet_pton(AF_INET6, s, out) != 1)
		return -EINVAL;
	return 0;
}
