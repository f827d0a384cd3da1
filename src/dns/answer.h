/*
 * answer: decides what Magic DNS does with one query packet, without sockets.
 *
 * A query is checked (header, exactly one question, sane section counts,
 * ldns parse), then either answered from the name table (names under `ray.`,
 * the mesh reverse zones N.100.in-addr.arpa for N in 64..127, and
 * 2.0.ip6.arpa / 3.0.ip6.arpa for 200::/7), handed back to the caller for
 * forwarding upstream (every other name), answered with an error
 * (FORMERR, NOTIMP, REFUSED, BADVERS) or dropped (too short to carry an id,
 * or itself a response, so two servers can never loop). Answers are
 * authoritative: NXDOMAIN and NODATA carry the zone's SOA in the authority
 * section; an EDNS query gets an OPT back with our payload size and its DO
 * bit. A UDP answer longer than the client can take is sent truncated (TC).
 * This is the whole hostile-input surface of the server, and the fuzz target
 * drives it directly.
 */
#ifndef RAYFISH_DNS_ANSWER_H
#define RAYFISH_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "dns/name_table.h"

#define DNS_HEADER_LEN 12
#define DNS_MAX_ADDITIONAL 8  /* a query carries OPT and maybe TSIG/cookie */
#define DNS_EDNS_PAYLOAD 1232 /* what we advertise (DNS flag day 2020) */
#define DNS_TTL 30            /* short: renames should show up quickly */
#define DNS_NEG_TTL 10

enum dns_verdict {
	DNS_DROP = 0,
	DNS_REPLY,
	DNS_FORWARD,
};

struct dns_result {
	enum dns_verdict verdict;
	int rcode;      /* of the reply (extended, e.g. 16 = BADVERS) */
	uint8_t *reply; /* DNS_REPLY: malloc'd wire packet, caller frees */
	size_t len;
};

/*
 * Handles one query. tcp != 0 lifts the UDP size limit. Fills res and
 * returns 0, or -ENOMEM (res then holds nothing to free).
 */
int dns_answer_query(const struct dns_table *t, const uint8_t *q, size_t len, int tcp,
		     struct dns_result *res);

/*
 * Bytes of the first question (from offset 12) when its name is written
 * without compression; 0 when it cannot be walked.
 */
size_t dns_question_span(const uint8_t *q, size_t len);

/*
 * An error reply to q (len >= 12): id, opcode and RD from q, the question
 * echoed when it can be walked (resolvers match replies by it), no records.
 * Returns 0 or -ENOMEM.
 */
int dns_answer_error(const uint8_t *q, size_t len, int rcode, struct dns_result *res);

#endif
