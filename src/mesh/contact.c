/*
 * contact: see contact.h.
 */
#include "mesh/contact.h"
#include "util/base58.h"
#include "util/blake3.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define ID_BYTES (LIMIT_KEY_LEN + 4)
#define CHECK_DOMAIN "rayfish-contact-v1"
/* 36 bytes are 48 or 49 base58 digits; leading zero bytes make it shorter,
 * so only ids far from that are "not an id". */
#define ID_MIN_CHARS 40
#define ID_MAX_CHARS 56

static void checksum(const uint8_t pk[LIMIT_KEY_LEN], uint8_t out[4])
{
	blake3_checksum(CHECK_DOMAIN, pk, LIMIT_KEY_LEN, out, 4);
}

int contact_id_format(const uint8_t pk[LIMIT_KEY_LEN], char *out, size_t cap)
{
	uint8_t raw[ID_BYTES];
	int n;

	memcpy(raw, pk, LIMIT_KEY_LEN);
	checksum(pk, raw + LIMIT_KEY_LEN);
	n = base58_encode(raw, sizeof(raw), out, cap);
	return n < 0 ? -ENOSPC : n;
}

int contact_id_parse(const char *s, uint8_t pk[LIMIT_KEY_LEN])
{
	uint8_t raw[ID_BYTES + 8], sum[4];
	size_t len = s ? strlen(s) : 0;
	int n;

	if (len < ID_MIN_CHARS || len > ID_MAX_CHARS)
		return -EINVAL;
	n = base58_decode(s, raw, sizeof(raw));
	if (n < 0)
		return -EINVAL;
	if (n != ID_BYTES)
		return -EBADMSG;
	checksum(raw, sum);
	if (sodium_memcmp(sum, raw + LIMIT_KEY_LEN, 4) != 0)
		return -EBADMSG;
	memcpy(pk, raw, LIMIT_KEY_LEN);
	return 0;
}
