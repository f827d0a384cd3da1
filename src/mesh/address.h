/*
 * address: the mesh addresses a member derives from its endpoint id.
 *
 * IPv4 lives in 100.64.0.0/10: FNV-1a-32 over the identity string, and for a
 * collision index n > 0 the hash continues over n as 4 big-endian bytes; the
 * low 22 bits are the host part. Host parts 0 and 0x3fffff are never
 * assigned (the coordinator moves on to the next index). IPv6 is 0x02
 * followed by the first 15 bytes of BLAKE3(identity string), inside 200::/7.
 * These rules are fixed in docs/ARCHITECTURE.md; every peer must compute the
 * same addresses. IPv4 values are uint32_t in host byte order.
 */
#ifndef RAYFISH_MESH_ADDRESS_H
#define RAYFISH_MESH_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDRESS_V4_NET 0x64400000u  /* 100.64.0.0 */
#define ADDRESS_V4_MASK 0xffc00000u /* /10 */
#define ADDRESS_V4_HOST 0x003fffffu
#define ADDRESS_V4_STRLEN 16 /* "255.255.255.255" + NUL */
#define ADDRESS_V6_STRLEN 46

uint32_t address_ipv4(const char *id_str, uint32_t collision_index);
void address_ipv6(const char *id_str, uint8_t out[16]);

bool address_ipv4_in_mesh(uint32_t ip);
/* True for the two host parts inside 100.64.0.0/10 that are never given to a
 * member (0 and all ones); false for every other address. */
bool address_ipv4_is_reserved(uint32_t ip);
bool address_ipv6_in_mesh(const uint8_t ip[16]);

/* Dotted quad into out (ADDRESS_V4_STRLEN bytes). */
void address_ipv4_format(uint32_t ip, char out[ADDRESS_V4_STRLEN]);
/* RFC 5952 text into out (ADDRESS_V6_STRLEN bytes). */
void address_ipv6_format(const uint8_t ip[16], char out[ADDRESS_V6_STRLEN]);
/* Strict parses (inet_pton); 0 or -EINVAL. */
int address_ipv4_parse(const char *s, uint32_t *ip);
int address_ipv6_parse(const char *s, uint8_t out[16]);

#endif
