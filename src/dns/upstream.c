/*
 * upstream: see upstream.h. The question is compared as the bytes the
 * query carried, so a reply that writes it with a compression pointer (or
 * any other way) does not match; only the ASCII letters of the name may
 * differ in case (resolvers may echo 0x20-randomised names either way).
 */
#include "dns/upstream.h"
#include "dns/answer.h"
#include "util/bytes.h"

#include <string.h>

/* Label length bytes are at most 63, below 'A': only letters fold. */
static bool name_eq_nocase(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (uint8_t)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (uint8_t)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

bool dns_reply_matches(const uint8_t *query, size_t qlen, const uint8_t *reply, size_t rlen)
{
	size_t span = dns_question_span(query, qlen);

	if (rlen < DNS_HEADER_LEN || be16_get(reply) != be16_get(query) || !(reply[2] & 0x80))
		return false;
	if (be16_get(reply + 4) == 0)
		return (reply[3] & 0x0f) != 0; /* bare error replies carry no question */
	if (be16_get(reply + 4) != 1 || span == 0)
		return span == 0;
	return rlen >= DNS_HEADER_LEN + span &&
	       name_eq_nocase(reply + DNS_HEADER_LEN, query + DNS_HEADER_LEN, span - 4) &&
	       memcmp(reply + DNS_HEADER_LEN + span - 4, query + DNS_HEADER_LEN + span - 4, 4) == 0;
}

void dns_reply_set_id(uint8_t *reply, uint16_t client_id)
{
	reply[0] = (uint8_t)(client_id >> 8);
	reply[1] = (uint8_t)client_id;
}
