/*
 * libFuzzer target: an upstream resolver's reply to a query Magic DNS
 * forwarded, through the check the forwarder makes before relaying it
 * (dns/upstream). The first byte picks one of a few fixed queries (as sent
 * upstream, under the forwarder's id); the rest is the reply. A reply that
 * is taken must, once the client's id is put back, carry that id, change
 * no other byte, and ask the same question as ldns reads it (or carry no
 * question and an error rcode); a reply that is the query's question
 * answered byte for byte must be taken.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/answer.h"
#include "dns/upstream.h"
#include "util/bytes.h"

#define UP_ID 0xbeef
#define CLIENT_ID 0x1234

struct query {
	uint8_t b[128];
	size_t len;
};

static struct query queries[3];
static size_t n_queries;

static void put16(struct query *q, uint16_t v)
{
	q->b[q->len++] = (uint8_t)(v >> 8);
	q->b[q->len++] = (uint8_t)v;
}

/* name as dot-separated labels; edns adds an OPT record (additional). */
static void query_add(const char *name, uint16_t type, bool edns)
{
	static const uint8_t opt[] = { 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0 };
	struct query *q = &queries[n_queries++];
	const char *s = name;

	put16(q, UP_ID);
	put16(q, 0x0100);
	put16(q, 1);
	put16(q, 0);
	put16(q, 0);
	put16(q, edns);
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);

		q->b[q->len++] = (uint8_t)n;
		memcpy(q->b + q->len, s, n);
		q->len += n;
		s += n + (dot != NULL);
	}
	q->b[q->len++] = 0;
	put16(q, type);
	put16(q, 1);
	if (edns) {
		memcpy(q->b + q->len, opt, sizeof(opt));
		q->len += sizeof(opt);
	}
}

/* The question of the reply, as ldns reads it, is the query's. */
static bool same_question(const struct query *q, const uint8_t *r, size_t len)
{
	size_t qpos = DNS_HEADER_LEN, rpos = DNS_HEADER_LEN;
	ldns_rdf *qn = NULL, *rn = NULL;
	bool same = false;

	if (ldns_wire2dname(&qn, q->b, q->len, &qpos) != LDNS_STATUS_OK)
		__builtin_trap(); /* our own query */
	if (ldns_wire2dname(&rn, r, len, &rpos) == LDNS_STATUS_OK)
		same = rpos == qpos && rpos + 4 <= len && ldns_dname_compare(qn, rn) == 0 &&
		       memcmp(r + rpos, q->b + qpos, 4) == 0;
	ldns_rdf_deep_free(qn);
	ldns_rdf_deep_free(rn);
	return same;
}

static void check(const struct query *q, const uint8_t *data, size_t len)
{
	size_t span = dns_question_span(q->b, q->len);
	bool echo = len >= DNS_HEADER_LEN + span && be16_get(data) == UP_ID && (data[2] & 0x80) &&
		    be16_get(data + 4) == 1 &&
		    memcmp(data + DNS_HEADER_LEN, q->b + DNS_HEADER_LEN, span) == 0;
	uint8_t *r;

	if (!dns_reply_matches(q->b, q->len, data, len)) {
		if (echo)
			__builtin_trap();
		return;
	}
	r = malloc(len);
	if (!r)
		return;
	memcpy(r, data, len);
	dns_reply_set_id(r, CLIENT_ID);
	if (be16_get(r) != CLIENT_ID || memcmp(r + 2, data + 2, len - 2) != 0)
		__builtin_trap();
	if (be16_get(r + 4) == 0) {
		if ((r[3] & 0x0f) == 0)
			__builtin_trap();
	} else if (be16_get(r + 4) != 1 || !same_question(q, r, len)) {
		__builtin_trap();
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!n_queries) {
		query_add("www.example.com", 1, false);
		query_add("MiXeD-Case.Example.ORG", 28, true);
		query_add("_sip._udp.a.b.c.d.e.f.example.net", 33, false);
	}
	if (size < 1)
		return 0;
	check(&queries[data[0] % n_queries], data + 1, size - 1);
	return 0;
}
