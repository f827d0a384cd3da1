/* Unit tests for src/dns/name_table and src/dns/answer (no sockets). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns/answer.h"
#include "dns/name_table.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static struct dns_entry entry(const char *host, uint32_t v4, uint8_t v6last)
{
	struct dns_entry e;

	memset(&e, 0, sizeof(e));
	strcpy(e.hostname, host);
	e.ipv4 = v4;
	e.ipv6[0] = 0x02;
	e.ipv6[15] = v6last;
	return e;
}

/* gaming: alice, bob; work: bob (clash), carol. */
static void table_fill(struct dns_table *t)
{
	struct dns_entry g[2] = { entry("alice", IP4(100, 64, 0, 1), 1),
				  entry("bob", IP4(100, 64, 0, 2), 2) };
	struct dns_entry w[2] = { entry("bob", IP4(100, 70, 1, 3), 3),
				  entry("carol", IP4(100, 127, 255, 4), 4) };

	dns_table_init(t);
	assert_int_equal(dns_table_set_network(t, "gaming", g, 2), 2);
	assert_int_equal(dns_table_set_network(t, "work", w, 2), 2);
}

static void test_table_lookup(void **state)
{
	const struct dns_net *net = NULL;
	const struct dns_entry *e;
	struct dns_table t;

	(void)state;
	table_fill(&t);
	e = dns_table_lookup(&t, "bob", 3, "work", 4, &net);
	assert_non_null(e);
	assert_int_equal(e->ipv4, IP4(100, 70, 1, 3));
	assert_string_equal(net->name, "work");
	/* Flat: bob is two identities in two networks, so bob.ray is no one's. */
	assert_null(dns_table_lookup(&t, "bob", 3, NULL, 0, &net));
	e = dns_table_lookup(&t, "alice", 5, NULL, 0, &net);
	assert_int_equal(e->ipv4, IP4(100, 64, 0, 1));
	assert_string_equal(net->name, "gaming");
	/* Case-insensitive, length-exact. */
	assert_non_null(dns_table_lookup(&t, "CaRoL", 5, "WORK", 4, NULL));
	assert_null(dns_table_lookup(&t, "caro", 4, "work", 4, NULL));
	assert_null(dns_table_lookup(&t, "carols", 6, "work", 4, NULL));
	assert_null(dns_table_lookup(&t, "carol\0", 6, "work", 4, NULL));
	assert_null(dns_table_lookup(&t, "alice", 5, "work", 4, NULL));
	assert_true(dns_table_has_network(&t, "Gaming", 6));
	assert_false(dns_table_has_network(&t, "gam", 3));
	/* Reverse. */
	e = dns_table_find_v4(&t, IP4(100, 127, 255, 4), &net);
	assert_string_equal(e->hostname, "carol");
	assert_null(dns_table_find_v4(&t, IP4(100, 64, 0, 9), NULL));
	assert_null(dns_table_find_v4(&t, 0, NULL));
	assert_true(dns_table_has_v4_prefix(&t, IP4(100, 70, 1, 0), 24));
	assert_false(dns_table_has_v4_prefix(&t, IP4(100, 70, 2, 0), 24));
	dns_table_close(&t);
}

static void test_table_replace_remove(void **state)
{
	struct dns_entry g[1] = { entry("bobby", IP4(100, 64, 0, 2), 2) };
	const struct dns_net *net = NULL;
	const struct dns_entry *e;
	struct dns_table t;
	uint32_t serial;

	(void)state;
	table_fill(&t);
	serial = t.serial;
	/* Replacing gaming keeps its place; bob no longer clashes. */
	assert_int_equal(dns_table_set_network(&t, "gaming", g, 1), 1);
	assert_true(t.serial != serial);
	assert_null(dns_table_lookup(&t, "alice", 5, NULL, 0, NULL));
	e = dns_table_lookup(&t, "bob", 3, NULL, 0, &net);
	assert_string_equal(net->name, "work");
	assert_string_equal(t.nets[0].name, "gaming");
	assert_non_null(dns_table_lookup(&t, "bobby", 5, NULL, 0, NULL));
	assert_string_equal(t.nets[0].name, "gaming");
	assert_int_equal(dns_table_remove_network(&t, "gaming"), 0);
	assert_int_equal(dns_table_remove_network(&t, "gaming"), -ENOENT);
	assert_null(dns_table_lookup(&t, "bobby", 5, NULL, 0, NULL));
	e = dns_table_find_v4(&t, IP4(100, 64, 0, 2), NULL);
	assert_null(e);
	assert_int_equal(dns_table_remove_network(&t, "work"), 0);
	assert_int_equal(t.n, 0);
	assert_null(dns_table_lookup(&t, "bob", 3, NULL, 0, NULL));
	dns_table_close(&t);
}

/* A flat name clashes only between two identities: one machine in two
 * networks (same IPv6, IPv4 picked per roster) is not a clash. */
static void test_table_flat_clash(void **state)
{
	struct dns_entry h[3] = { entry("dave", IP4(100, 64, 1, 1), 7),
				  entry("eve", IP4(100, 64, 1, 2), 8),
				  entry("frank", IP4(100, 64, 1, 3), 9) };
	struct dns_entry o[3] = { entry("dave", IP4(100, 64, 2, 1), 7),
				  entry("eve", IP4(100, 64, 1, 2), 66),
				  entry("frank", IP4(100, 64, 9, 9), 99) };
	struct dns_entry x[1] = { entry("eve", IP4(100, 64, 3, 3), 77) };
	const struct dns_net *net = NULL;
	const struct dns_entry *e;
	const char *names[4];
	struct dns_table t;

	(void)state;
	dns_table_init(&t);
	assert_int_equal(dns_table_flat_clashes(&t, names, 4), 0);
	assert_int_equal(dns_table_set_network(&t, "home", h, 3), 3);
	assert_int_equal(dns_table_set_network(&t, "other", o, 3), 3);
	assert_int_equal(dns_table_set_network(&t, "third", x, 1), 1);
	e = dns_table_lookup(&t, "dave", 4, NULL, 0, &net);
	assert_non_null(e);
	assert_int_equal(e->ipv4, IP4(100, 64, 1, 1));
	assert_string_equal(net->name, "home");
	/* Same IPv4, other identity: still a clash. */
	assert_null(dns_table_lookup(&t, "eve", 3, NULL, 0, NULL));
	assert_null(dns_table_lookup(&t, "FRANK", 5, NULL, 0, NULL));
	assert_non_null(dns_table_lookup(&t, "eve", 3, "third", 5, NULL));
	/* Each clash listed once (eve is in three networks), bounded by max. */
	assert_int_equal(dns_table_flat_clashes(&t, names, 4), 2);
	assert_string_equal(names[0], "eve");
	assert_string_equal(names[1], "frank");
	assert_int_equal(dns_table_flat_clashes(&t, names, 1), 1);
	/* Leaving the other networks ends the clashes. */
	assert_int_equal(dns_table_remove_network(&t, "other"), 0);
	assert_int_equal(dns_table_remove_network(&t, "third"), 0);
	assert_int_equal(dns_table_flat_clashes(&t, names, 4), 0);
	assert_non_null(dns_table_lookup(&t, "eve", 3, NULL, 0, NULL));
	dns_table_close(&t);
}

static void test_table_invalid(void **state)
{
	struct dns_entry bad[4] = { entry("ok", 1, 1), entry("Bad", 2, 2), entry("-x", 3, 3),
				    entry("ok", 4, 4) };
	struct dns_table t;
	struct dns_entry *many;

	(void)state;
	dns_table_init(&t);
	assert_int_equal(dns_table_set_network(&t, "Bad.Net", bad, 1), -EINVAL);
	assert_int_equal(dns_table_set_network(&t, "", bad, 1), -EINVAL);
	assert_int_equal(dns_table_set_network(&t, NULL, bad, 1), -EINVAL);
	/* Invalid names skipped, duplicate keeps the first. */
	assert_int_equal(dns_table_set_network(&t, "n", bad, 4), 1);
	assert_int_equal(dns_table_lookup(&t, "ok", 2, NULL, 0, NULL)->ipv4, 1);
	many = calloc(DNS_TABLE_MAX_ENTRIES + 1, sizeof(*many));
	assert_int_equal(dns_table_set_network(&t, "n", many, DNS_TABLE_MAX_ENTRIES + 1), -E2BIG);
	free(many);
	for (int i = 1; i < DNS_TABLE_MAX_NETWORKS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(dns_table_set_network(&t, name, NULL, 0), 0);
	}
	assert_int_equal(dns_table_set_network(&t, "one-more", NULL, 0), -E2BIG);
	dns_table_close(&t);
}

/* ------------------------------------------------------------ answers */

static uint8_t *query_wire(const char *name, ldns_rr_type type, int edns, size_t *len)
{
	ldns_pkt *q = NULL;
	uint8_t *w = NULL;

	assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, type, LDNS_RR_CLASS_IN, LDNS_RD),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(q, 0x1234);
	if (edns) {
		ldns_pkt_set_edns_udp_size(q, 4096);
		ldns_pkt_set_edns_do(q, 1);
	}
	assert_int_equal(ldns_pkt2wire(&w, q, len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	return w;
}

/* Runs one query through dns_answer_query and parses the reply. */
static ldns_pkt *ask(const struct dns_table *t, const char *name, ldns_rr_type type, int edns,
		     enum dns_verdict *verdict)
{
	struct dns_result res;
	ldns_pkt *r = NULL;
	size_t len;
	uint8_t *w = query_wire(name, type, edns, &len);

	assert_int_equal(dns_answer_query(t, w, len, 0, &res), 0);
	free(w);
	*verdict = res.verdict;
	if (res.verdict != DNS_REPLY)
		return NULL;
	assert_int_equal(ldns_wire2pkt(&r, res.reply, res.len), LDNS_STATUS_OK);
	free(res.reply);
	assert_int_equal(ldns_pkt_id(r), 0x1234);
	assert_true(ldns_pkt_qr(r));
	return r;
}

static char *rdf_str(const ldns_rdf *rdf)
{
	return ldns_rdf2str(rdf);
}

static void expect_answer(const struct dns_table *t, const char *name, ldns_rr_type type,
			  const char *want)
{
	enum dns_verdict v;
	ldns_pkt *r = ask(t, name, type, 0, &v);
	char *s;

	assert_int_equal(v, DNS_REPLY);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	s = rdf_str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(r), 0), 0));
	assert_string_equal(s, want);
	free(s);
	ldns_pkt_free(r);
}

/* NXDOMAIN or NODATA: no answers, SOA of apex in authority. */
static void expect_negative(const struct dns_table *t, const char *name, ldns_rr_type type,
			    int rcode, const char *apex)
{
	enum dns_verdict v;
	ldns_pkt *r = ask(t, name, type, 0, &v);
	ldns_rr *soa;
	char *s;

	assert_int_equal(v, DNS_REPLY);
	assert_int_equal(ldns_pkt_get_rcode(r), rcode);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_int_equal(ldns_pkt_nscount(r), 1);
	soa = ldns_rr_list_rr(ldns_pkt_authority(r), 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	s = rdf_str(ldns_rr_owner(soa));
	assert_string_equal(s, apex);
	free(s);
	ldns_pkt_free(r);
}

static void test_answer_forward_names(void **state)
{
	struct dns_table t;

	(void)state;
	table_fill(&t);
	expect_answer(&t, "alice.gaming.ray.", LDNS_RR_TYPE_A, "100.64.0.1");
	expect_answer(&t, "ALICE.Gaming.RAY.", LDNS_RR_TYPE_A, "100.64.0.1");
	expect_answer(&t, "bob.work.ray.", LDNS_RR_TYPE_A, "100.70.1.3");
	expect_negative(&t, "bob.ray.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, "ray.");
	expect_answer(&t, "carol.ray.", LDNS_RR_TYPE_AAAA, "200::4");
	expect_answer(&t, "ray.", LDNS_RR_TYPE_SOA, "ray.");
	expect_negative(&t, "nobody.ray.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, "ray.");
	expect_negative(&t, "alice.work.ray.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, "ray.");
	expect_negative(&t, "x.alice.gaming.ray.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, "ray.");
	/* NODATA: known name, no such record type; network = empty non-terminal. */
	expect_negative(&t, "alice.gaming.ray.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR, "ray.");
	expect_negative(&t, "gaming.ray.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, "ray.");
	expect_negative(&t, "ray.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, "ray.");
	dns_table_close(&t);
}

static void test_answer_reverse(void **state)
{
	struct dns_table t;

	(void)state;
	table_fill(&t);
	expect_answer(&t, "1.0.64.100.in-addr.arpa.", LDNS_RR_TYPE_PTR, "alice.gaming.ray.");
	/* bob is in gaming only by .2; 100.70.1.3 is bob in work. */
	expect_answer(&t, "3.1.70.100.in-addr.arpa.", LDNS_RR_TYPE_PTR, "bob.work.ray.");
	{
		/* 200::4 = nibble 4, 29 zeros, then 2, 0 */
		char v6[80] = "4.";

		for (int i = 0; i < 29; i++)
			strcat(v6, "0.");
		strcat(v6, "2.0.ip6.arpa.");
		expect_answer(&t, v6, LDNS_RR_TYPE_PTR, "carol.work.ray.");
		v6[0] = 'F';
		expect_negative(&t, v6, LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN, "2.0.ip6.arpa.");
	}
	/* SOA at the reverse apex; rdata 0 is the primary name server. */
	expect_answer(&t, "64.100.in-addr.arpa.", LDNS_RR_TYPE_SOA, "ray.");
	expect_negative(&t, "9.0.64.100.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN,
			"64.100.in-addr.arpa.");
	expect_negative(&t, "0.64.100.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
			"64.100.in-addr.arpa.");
	expect_negative(&t, "5.64.100.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN,
			"64.100.in-addr.arpa.");
	expect_negative(&t, "01.0.64.100.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN,
			"64.100.in-addr.arpa.");
	expect_negative(&t, "1.1.0.64.100.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN,
			"64.100.in-addr.arpa.");
	expect_negative(&t, "1.0.64.100.in-addr.arpa.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
			"64.100.in-addr.arpa.");
	expect_negative(&t, "0.2.0.ip6.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
			"2.0.ip6.arpa.");
	expect_negative(&t, "1.2.0.ip6.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN,
			"2.0.ip6.arpa.");
	expect_negative(&t, "g.2.0.ip6.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN,
			"2.0.ip6.arpa.");
	dns_table_close(&t);
}

static void test_answer_forward_verdict(void **state)
{
	const char *names[] = { "example.com.",
				"1.0.63.100.in-addr.arpa.",
				"1.0.128.100.in-addr.arpa.",
				"100.in-addr.arpa.",
				"1.0.ip6.arpa.",
				"ray.example.",
				"." };
	struct dns_table t;
	enum dns_verdict v;

	(void)state;
	table_fill(&t);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_null(ask(&t, names[i], LDNS_RR_TYPE_A, 0, &v));
		assert_int_equal(v, DNS_FORWARD);
	}
	dns_table_close(&t);
}

static void test_answer_edns(void **state)
{
	struct dns_table t;
	enum dns_verdict v;
	ldns_pkt *r;
	uint8_t *w;
	size_t len;
	struct dns_result res;

	(void)state;
	table_fill(&t);
	r = ask(&t, "alice.gaming.ray.", LDNS_RR_TYPE_A, 1, &v);
	assert_true(ldns_pkt_edns(r));
	assert_int_equal(ldns_pkt_edns_udp_size(r), DNS_EDNS_PAYLOAD);
	assert_true(ldns_pkt_edns_do(r));
	assert_int_equal(ldns_pkt_ancount(r), 1);
	ldns_pkt_free(r);
	r = ask(&t, "alice.gaming.ray.", LDNS_RR_TYPE_A, 0, &v);
	assert_false(ldns_pkt_edns(r));
	ldns_pkt_free(r);
	/* EDNS version 1 gets BADVERS (extended rcode 1, rcode 0). */
	w = query_wire("alice.gaming.ray.", LDNS_RR_TYPE_A, 1, &len);
	w[len - 11 + 6] = 1; /* OPT: name, type, class, ercode, then version */
	assert_int_equal(dns_answer_query(&t, w, len, 0, &res), 0);
	assert_int_equal(res.verdict, DNS_REPLY);
	assert_int_equal(res.rcode, 16);
	assert_int_equal(ldns_wire2pkt(&r, res.reply, res.len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_edns_extended_rcode(r), 1);
	ldns_pkt_free(r);
	free(res.reply);
	free(w);
	dns_table_close(&t);
}

static void expect_rcode(const struct dns_table *t, const uint8_t *q, size_t len,
			 enum dns_verdict verdict, int rcode)
{
	struct dns_result res;

	assert_int_equal(dns_answer_query(t, q, len, 0, &res), 0);
	assert_int_equal(res.verdict, verdict);
	if (verdict == DNS_REPLY) {
		assert_true(res.len >= DNS_HEADER_LEN);
		assert_int_equal(res.reply[3] & 0x0f, rcode);
		assert_int_equal(res.reply[0], q[0]);
		assert_int_equal(res.reply[1], q[1]);
		assert_true(res.reply[2] & 0x80);
	}
	free(res.reply);
}

static void test_answer_malformed(void **state)
{
	struct dns_table t;
	struct dns_result res;
	size_t len;
	uint8_t *w;
	uint8_t buf[600];

	(void)state;
	table_fill(&t);
	w = query_wire("alice.gaming.ray.", LDNS_RR_TYPE_A, 1, &len);
	/* Truncated at every byte: drop below 12, FORMERR after. */
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_equal(dns_answer_query(&t, w, cut, 0, &res), 0);
		if (cut < DNS_HEADER_LEN)
			assert_int_equal(res.verdict, DNS_DROP);
		else
			assert_int_equal(res.rcode, LDNS_RCODE_FORMERR);
		free(res.reply);
	}
	/* A response is never answered (no loops). */
	memcpy(buf, w, len);
	buf[2] |= 0x80;
	expect_rcode(&t, buf, len, DNS_DROP, 0);
	/* Opcode STATUS: NOTIMP. */
	memcpy(buf, w, len);
	buf[2] = (uint8_t)((buf[2] & 0x87) | (2 << 3));
	expect_rcode(&t, buf, len, DNS_REPLY, LDNS_RCODE_NOTIMPL);
	/* Two questions, answers in a query, huge counts: FORMERR. */
	memcpy(buf, w, len);
	buf[5] = 2;
	expect_rcode(&t, buf, len, DNS_REPLY, LDNS_RCODE_FORMERR);
	memcpy(buf, w, len);
	buf[5] = 0;
	expect_rcode(&t, buf, len, DNS_REPLY, LDNS_RCODE_FORMERR);
	memcpy(buf, w, len);
	buf[6] = 0xff;
	buf[7] = 0xff;
	expect_rcode(&t, buf, len, DNS_REPLY, LDNS_RCODE_FORMERR);
	memcpy(buf, w, len);
	buf[10] = 0xff;
	buf[11] = 0xff;
	expect_rcode(&t, buf, len, DNS_REPLY, LDNS_RCODE_FORMERR);
	memcpy(buf, w, len);
	buf[11] = 3; /* 3 additional, 1 present */
	expect_rcode(&t, buf, len, DNS_REPLY, LDNS_RCODE_FORMERR);
	/* Bad label length (64 = 0x40 label type) and past the end. */
	memcpy(buf, w, len);
	buf[12] = 0x40;
	expect_rcode(&t, buf, len, DNS_REPLY, LDNS_RCODE_FORMERR);
	memcpy(buf, w, len);
	buf[12] = 60;
	expect_rcode(&t, buf, len, DNS_REPLY, LDNS_RCODE_FORMERR);
	free(w);
	{
		/* Compression pointer to itself, and a two-pointer loop. */
		const uint8_t self[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
		const uint8_t loop2[] = { 0, 1, 0,   0,    0,  1,    0,  0, 0, 0, 0,
					  0, 1, 'a', 0xc0, 16, 0xc0, 14, 0, 1, 0, 1 };
		const uint8_t fwd[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 200, 0, 1, 0, 1 };

		expect_rcode(&t, self, sizeof(self), DNS_REPLY, LDNS_RCODE_FORMERR);
		expect_rcode(&t, loop2, sizeof(loop2), DNS_REPLY, LDNS_RCODE_FORMERR);
		expect_rcode(&t, fwd, sizeof(fwd), DNS_REPLY, LDNS_RCODE_FORMERR);
	}
	{
		/* A name longer than 255 bytes. */
		size_t off = DNS_HEADER_LEN;

		memset(buf, 0, sizeof(buf));
		buf[1] = 7;
		buf[5] = 1;
		for (int i = 0; i < 5; i++) {
			buf[off++] = 63;
			memset(buf + off, 'a', 63);
			off += 63;
		}
		buf[off++] = 0;
		buf[off + 1] = 1;
		buf[off + 3] = 1;
		off += 4;
		expect_rcode(&t, buf, off, DNS_REPLY, LDNS_RCODE_FORMERR);
	}
	dns_table_close(&t);
}

static void test_answer_refused_class(void **state)
{
	struct dns_table t;
	struct dns_result res;
	ldns_pkt *q = NULL;
	uint8_t *w;
	size_t len;

	(void)state;
	table_fill(&t);
	assert_int_equal(ldns_pkt_query_new_frm_str(&q, "alice.gaming.ray.", LDNS_RR_TYPE_A,
						    LDNS_RR_CLASS_CH, LDNS_RD),
			 LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt2wire(&w, q, &len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	assert_int_equal(dns_answer_query(&t, w, len, 0, &res), 0);
	assert_int_equal(res.rcode, LDNS_RCODE_REFUSED);
	free(res.reply);
	free(w);
	dns_table_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_lookup),
		cmocka_unit_test(test_table_replace_remove),
		cmocka_unit_test(test_table_flat_clash),
		cmocka_unit_test(test_table_invalid),
		cmocka_unit_test(test_answer_forward_names),
		cmocka_unit_test(test_answer_reverse),
		cmocka_unit_test(test_answer_forward_verdict),
		cmocka_unit_test(test_answer_edns),
		cmocka_unit_test(test_answer_malformed),
		cmocka_unit_test(test_answer_refused_class),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
