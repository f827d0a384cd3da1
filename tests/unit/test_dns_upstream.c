/*
 * Unit tests for src/dns/upstream: which upstream packets the Magic DNS
 * forwarder relays for a query it sent. Hostile replies (too short, another
 * id, not a response, another question, the question written with a
 * compression pointer, a pointer loop, a question cut short) are refused;
 * an answer that only changes the case of the name's letters is taken, as
 * is a bare error reply without a question. Packets are built by hand so
 * every byte is the test's choice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "dns/answer.h"
#include "dns/upstream.h"

#define UP_ID 0xbeef
#define CLIENT_ID 0x1234
#define TYPE_A 1
#define TYPE_AAAA 28

struct pkt {
	uint8_t b[512];
	size_t len;
};

static void put16(struct pkt *p, uint16_t v)
{
	p->b[p->len++] = (uint8_t)(v >> 8);
	p->b[p->len++] = (uint8_t)v;
}

/* Header: id, flags, then qdcount and an empty rest. */
static void header(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd)
{
	p->len = 0;
	put16(p, id);
	put16(p, flags);
	put16(p, qd);
	put16(p, 0);
	put16(p, 0);
	put16(p, 0);
}

/* "www.example.com" as labels, then type and class IN. */
static void question(struct pkt *p, const char *name, uint16_t type)
{
	const char *s = name;

	while (*s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);

		p->b[p->len++] = (uint8_t)n;
		memcpy(p->b + p->len, s, n);
		p->len += n;
		s += n + (dot != NULL);
	}
	p->b[p->len++] = 0;
	put16(p, type);
	put16(p, 1);
}

/* The query as it went upstream: our id, RD. */
static void query(struct pkt *q, const char *name, uint16_t type)
{
	header(q, UP_ID, 0x0100, 1);
	question(q, name, type);
}

/* A NOERROR response to name/type with one A record after the question. */
static void answer(struct pkt *r, uint16_t id, const char *name, uint16_t type)
{
	static const uint8_t rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 1 };

	header(r, id, 0x8180, 1);
	question(r, name, type);
	r->b[7] = 1; /* ancount */
	memcpy(r->b + r->len, rr, sizeof(rr));
	r->len += sizeof(rr);
}

static bool matches(const struct pkt *q, const struct pkt *r)
{
	return dns_reply_matches(q->b, q->len, r->b, r->len);
}

static void test_answer_taken_and_relayed(void **state)
{
	struct pkt q, r, before;

	(void)state;
	query(&q, "www.example.com", TYPE_A);
	answer(&r, UP_ID, "www.example.com", TYPE_A);
	assert_true(matches(&q, &r));
	before = r;
	dns_reply_set_id(r.b, CLIENT_ID);
	assert_int_equal(r.b[0], CLIENT_ID >> 8);
	assert_int_equal(r.b[1], CLIENT_ID & 0xff);
	/* nothing but the id changes */
	assert_memory_equal(r.b + 2, before.b + 2, r.len - 2);
}

static void test_short_reply(void **state)
{
	struct pkt q, r;

	(void)state;
	query(&q, "www.example.com", TYPE_A);
	answer(&r, UP_ID, "www.example.com", TYPE_A);
	for (size_t n = 0; n < DNS_HEADER_LEN; n++) {
		r.len = n;
		assert_false(matches(&q, &r));
	}
	/* a header whose question is cut short */
	answer(&r, UP_ID, "www.example.com", TYPE_A);
	r.len = DNS_HEADER_LEN + dns_question_span(q.b, q.len) - 1;
	assert_false(matches(&q, &r));
	r.len = DNS_HEADER_LEN + 3;
	assert_false(matches(&q, &r));
}

static void test_wrong_id_or_not_response(void **state)
{
	struct pkt q, r;

	(void)state;
	query(&q, "www.example.com", TYPE_A);
	answer(&r, UP_ID ^ 1, "www.example.com", TYPE_A);
	assert_false(matches(&q, &r));
	answer(&r, UP_ID ^ 0x100, "www.example.com", TYPE_A);
	assert_false(matches(&q, &r));
	/* our own query reflected back: QR clear */
	assert_false(dns_reply_matches(q.b, q.len, q.b, q.len));
	answer(&r, UP_ID, "www.example.com", TYPE_A);
	r.b[2] &= 0x7f;
	assert_false(matches(&q, &r));
}

static void test_wrong_question(void **state)
{
	struct pkt q, r;

	(void)state;
	query(&q, "www.example.com", TYPE_A);
	answer(&r, UP_ID, "www.example.org", TYPE_A);
	assert_false(matches(&q, &r));
	answer(&r, UP_ID, "ww.example.com", TYPE_A);
	assert_false(matches(&q, &r));
	answer(&r, UP_ID, "www.example.com.evil", TYPE_A);
	assert_false(matches(&q, &r));
	answer(&r, UP_ID, "www.example.com", TYPE_AAAA);
	assert_false(matches(&q, &r));
	/* class CH instead of IN */
	answer(&r, UP_ID, "www.example.com", TYPE_A);
	r.b[DNS_HEADER_LEN + dns_question_span(q.b, q.len) - 1] = 3;
	assert_false(matches(&q, &r));
	/* two questions, the first one ours */
	answer(&r, UP_ID, "www.example.com", TYPE_A);
	r.b[5] = 2;
	assert_false(matches(&q, &r));
}

/* The name's letters may differ in case, nothing else may: '[' and '{'
 * are 0x20 apart too but are not letters. */
static void test_case_differences(void **state)
{
	struct pkt q, r;

	(void)state;
	query(&q, "www.example.com", TYPE_A);
	answer(&r, UP_ID, "WwW.ExAmPlE.CoM", TYPE_A);
	assert_true(matches(&q, &r));
	query(&q, "MiXeD.Example.ORG", TYPE_AAAA);
	answer(&r, UP_ID, "mixed.example.org", TYPE_AAAA);
	assert_true(matches(&q, &r));
	query(&q, "a[b.example", TYPE_A);
	answer(&r, UP_ID, "a{b.example", TYPE_A);
	assert_false(matches(&q, &r));
	answer(&r, UP_ID, "A[B.EXAMPLE", TYPE_A);
	assert_true(matches(&q, &r));
	/* '@' (0x40) and '`' (0x60) sit just outside the letters */
	query(&q, "x@y.example", TYPE_A);
	answer(&r, UP_ID, "x`y.example", TYPE_A);
	assert_false(matches(&q, &r));
}

/* A question written as a compression pointer, to itself (a loop), to
 * the name further on, or to the header, is not the question we sent. */
static void test_compressed_question(void **state)
{
	struct pkt q, r;
	size_t span;

	(void)state;
	query(&q, "www.example.com", TYPE_A);
	span = dns_question_span(q.b, q.len);
	/* pointer to offset 12: itself */
	header(&r, UP_ID, 0x8180, 1);
	r.b[r.len++] = 0xc0;
	r.b[r.len++] = 0x0c;
	put16(&r, TYPE_A);
	put16(&r, 1);
	memset(r.b + r.len, 0, span);
	r.len += span;
	assert_false(matches(&q, &r));
	/* a pointer to a full copy of the name placed after the question */
	header(&r, UP_ID, 0x8180, 1);
	r.b[r.len++] = 0xc0;
	r.b[r.len++] = 18;
	put16(&r, TYPE_A);
	put16(&r, 1);
	question(&r, "www.example.com", TYPE_A);
	assert_false(matches(&q, &r));
	/* the labels up to "example", then a pointer back into the header */
	answer(&r, UP_ID, "www.example.com", TYPE_A);
	r.b[DNS_HEADER_LEN + 12] = 0xc0;
	r.b[DNS_HEADER_LEN + 13] = 0x00;
	assert_false(matches(&q, &r));
}

/* Errors without a question are taken (servers answer FORMERR,
 * SERVFAIL, REFUSED so); a NOERROR without one is not an answer. */
static void test_bare_error(void **state)
{
	struct pkt q, r;

	(void)state;
	query(&q, "www.example.com", TYPE_A);
	header(&r, UP_ID, 0x8182, 0); /* SERVFAIL */
	assert_true(matches(&q, &r));
	header(&r, UP_ID, 0x8185, 0); /* REFUSED */
	assert_true(matches(&q, &r));
	header(&r, UP_ID, 0x8180, 0); /* NOERROR */
	assert_false(matches(&q, &r));
	header(&r, UP_ID ^ 1, 0x8182, 0);
	assert_false(matches(&q, &r));
}

/* A query whose own question cannot be walked (it went upstream with a
 * pointer in it) cannot be compared: a response with its id and a
 * question is taken, a NOERROR without one is not. */
static void test_unwalkable_query(void **state)
{
	struct pkt q, r;

	(void)state;
	header(&q, UP_ID, 0x0100, 1);
	q.b[q.len++] = 0xc0;
	q.b[q.len++] = 0x00;
	put16(&q, TYPE_A);
	put16(&q, 1);
	assert_int_equal(dns_question_span(q.b, q.len), 0);
	answer(&r, UP_ID, "anything.example", TYPE_A);
	assert_true(matches(&q, &r));
	header(&r, UP_ID, 0x8180, 0);
	assert_false(matches(&q, &r));
	answer(&r, UP_ID ^ 1, "anything.example", TYPE_A);
	assert_false(matches(&q, &r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_taken_and_relayed),
		cmocka_unit_test(test_short_reply),
		cmocka_unit_test(test_wrong_id_or_not_response),
		cmocka_unit_test(test_wrong_question),
		cmocka_unit_test(test_case_differences),
		cmocka_unit_test(test_compressed_question),
		cmocka_unit_test(test_bare_error),
		cmocka_unit_test(test_unwalkable_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
