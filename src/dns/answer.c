/*
 * answer: see answer.h. The raw header is checked by hand before ldns sees
 * the packet, so counts that no query carries are refused without parsing;
 * ldns then parses (it bounds compression pointers and section lengths) and
 * builds the reply. Names are walked as label arrays, never as text, so a
 * label holding a '.' or a NUL can never alias a table name.
 */
#include "dns/answer.h"
#include "util/bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#define MAX_LABELS 128
#define UDP_MIN 512

struct qname {
	int n;
	const char *lab[MAX_LABELS]; /* left to right; root not included */
	size_t len[MAX_LABELS];
};

/* What a name inside one of our zones resolves to. */
struct lookup {
	int rcode;                      /* NOERROR or NXDOMAIN */
	char apex[80];                  /* zone apex, presentation form */
	const struct dns_entry *host;   /* forward name: its entry */
	char ptr[2 * HOSTNAME_BUF + 8]; /* reverse name: "host.net.ray." */
	int is_apex;
};

size_t dns_question_span(const uint8_t *q, size_t len)
{
	size_t off = DNS_HEADER_LEN;

	while (off < len) {
		uint8_t l = q[off];

		if (l == 0) {
			off += 1 + 4;
			return off <= len ? off - DNS_HEADER_LEN : 0;
		}
		if (l > 63)
			return 0; /* pointer or reserved label type */
		off += 1 + (size_t)l;
		/* A name is at most 255 bytes, its root label included. */
		if (off - DNS_HEADER_LEN > 254)
			return 0;
	}
	return 0;
}

static int header_error(const uint8_t *q, int rcode, struct dns_result *res)
{
	memset(res, 0, sizeof(*res));
	res->reply = calloc(1, DNS_HEADER_LEN);
	if (!res->reply)
		return -ENOMEM;
	memcpy(res->reply, q, 4);
	/* QR, keep opcode and RD, RA on; rcode in the low nibble. */
	res->reply[2] = (uint8_t)(0x80 | (q[2] & 0x79));
	res->reply[3] = (uint8_t)(0x80 | (rcode & 0x0f));
	res->len = DNS_HEADER_LEN;
	res->rcode = rcode;
	res->verdict = DNS_REPLY;
	return 0;
}

int dns_answer_error(const uint8_t *q, size_t len, int rcode, struct dns_result *res)
{
	size_t span = be16_get(q + 4) == 1 ? dns_question_span(q, len) : 0;
	uint8_t *r;

	if (header_error(q, rcode, res) < 0)
		return -ENOMEM;
	if (span == 0)
		return 0;
	r = realloc(res->reply, DNS_HEADER_LEN + span);
	if (!r) {
		free(res->reply);
		memset(res, 0, sizeof(*res));
		return -ENOMEM;
	}
	memcpy(r + DNS_HEADER_LEN, q + DNS_HEADER_LEN, span);
	be16_put(r + 4, 1);
	res->reply = r;
	res->len = DNS_HEADER_LEN + span;
	return 0;
}

static int qname_split(const ldns_rdf *rdf, struct qname *qn)
{
	const uint8_t *p = ldns_rdf_data(rdf);
	size_t len = ldns_rdf_size(rdf), off = 0;

	qn->n = 0;
	while (off < len) {
		uint8_t l = p[off];

		if (l == 0)
			return 0;
		if (l > 63 || off + 1 + l > len || qn->n == MAX_LABELS)
			return -EINVAL;
		qn->lab[qn->n] = (const char *)p + off + 1;
		qn->len[qn->n] = l;
		qn->n++;
		off += 1 + (size_t)l;
	}
	return -EINVAL;
}

/* Label i counted from the right (0 = last label) equals s, any case. */
static int rlab_is(const struct qname *qn, int i, const char *s)
{
	int k = qn->n - 1 - i;
	size_t n = strlen(s);

	if (k < 0 || qn->len[k] != n)
		return 0;
	return strncasecmp(qn->lab[k], s, n) == 0;
}

static const char *rlab(const struct qname *qn, int i, size_t *len)
{
	int k = qn->n - 1 - i;

	*len = qn->len[k];
	return qn->lab[k];
}

/* A decimal octet label without leading zeros; -1 if invalid. */
static int octet_label(const char *s, size_t len)
{
	int v = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= 255 ? v : -1;
}

static int nibble_label(const char *s, size_t len)
{
	char c;

	if (len != 1)
		return -1;
	c = s[0];
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum zone {
	ZONE_NONE,
	ZONE_RAY,
	ZONE_REV4,
	ZONE_REV6
};

static enum zone zone_of(const struct qname *qn)
{
	size_t l;
	const char *s;
	int b;

	if (rlab_is(qn, 0, "ray"))
		return ZONE_RAY;
	if (qn->n >= 4 && rlab_is(qn, 0, "arpa") && rlab_is(qn, 1, "in-addr") &&
	    rlab_is(qn, 2, "100")) {
		s = rlab(qn, 3, &l);
		b = octet_label(s, l);
		if (b >= 64 && b <= 127)
			return ZONE_REV4;
	}
	if (qn->n >= 4 && rlab_is(qn, 0, "arpa") && rlab_is(qn, 1, "ip6") && rlab_is(qn, 2, "0") &&
	    (rlab_is(qn, 3, "2") || rlab_is(qn, 3, "3")))
		return ZONE_REV6;
	return ZONE_NONE;
}

static void ptr_name(struct lookup *lk, const struct dns_entry *e, const struct dns_net *net)
{
	snprintf(lk->ptr, sizeof(lk->ptr), "%s.%s.ray.", e->hostname, net->name);
}

static void resolve_ray(const struct dns_table *t, const struct qname *qn, struct lookup *lk)
{
	size_t hl, nl;
	const char *h, *n;

	strcpy(lk->apex, "ray.");
	if (qn->n == 1) {
		lk->is_apex = 1;
		return;
	}
	if (qn->n == 2) {
		h = rlab(qn, 1, &hl);
		lk->host = dns_table_lookup(t, h, hl, NULL, 0, NULL);
		/* A network name is an empty non-terminal: NODATA, not NXDOMAIN. */
		if (!lk->host && !dns_table_has_network(t, h, hl))
			lk->rcode = LDNS_RCODE_NXDOMAIN;
		return;
	}
	if (qn->n == 3) {
		n = rlab(qn, 1, &nl);
		h = rlab(qn, 2, &hl);
		lk->host = dns_table_lookup(t, h, hl, n, nl, NULL);
		if (lk->host)
			return;
	}
	lk->rcode = LDNS_RCODE_NXDOMAIN;
}

static void resolve_rev4(const struct dns_table *t, const struct qname *qn, struct lookup *lk)
{
	const struct dns_entry *e;
	const struct dns_net *net;
	size_t l0;
	uint32_t ip = 100u << 24;
	int extra = qn->n - 4; /* octets below the /16 apex */
	const char *s = rlab(qn, 3, &l0);
	int b = octet_label(s, l0); /* 64..127: zone_of checked it */
	size_t l;

	snprintf(lk->apex, sizeof(lk->apex), "%d.100.in-addr.arpa.", b);
	ip |= (uint32_t)b << 16;
	if (extra == 0) {
		lk->is_apex = 1;
		return;
	}
	if (extra > 2) {
		lk->rcode = LDNS_RCODE_NXDOMAIN;
		return;
	}
	for (int i = 0; i < extra; i++) {
		const char *lab = rlab(qn, 4 + i, &l);
		int v = octet_label(lab, l);

		if (v < 0) {
			lk->rcode = LDNS_RCODE_NXDOMAIN;
			return;
		}
		ip |= (uint32_t)v << (8 * (1 - i));
	}
	if (extra == 1) {
		if (!dns_table_has_v4_prefix(t, ip, 24))
			lk->rcode = LDNS_RCODE_NXDOMAIN;
		return;
	}
	e = dns_table_find_v4(t, ip, &net);
	if (!e) {
		lk->rcode = LDNS_RCODE_NXDOMAIN;
		return;
	}
	ptr_name(lk, e, net);
}

static void resolve_rev6(const struct dns_table *t, const struct qname *qn, struct lookup *lk)
{
	const struct dns_entry *e;
	const struct dns_net *net;
	uint8_t ip[16] = { 0 };
	int nibbles = qn->n - 2;
	size_t l;

	snprintf(lk->apex, sizeof(lk->apex), "%c.0.ip6.arpa.", rlab(qn, 3, &l)[0]);
	if (nibbles == 2) {
		lk->is_apex = 1;
		return;
	}
	if (nibbles > 32) {
		lk->rcode = LDNS_RCODE_NXDOMAIN;
		return;
	}
	for (int i = 0; i < nibbles; i++) {
		const char *lab = rlab(qn, 2 + i, &l);
		int v = nibble_label(lab, l);

		if (v < 0) {
			lk->rcode = LDNS_RCODE_NXDOMAIN;
			return;
		}
		ip[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
	}
	if (nibbles < 32) {
		if (!dns_table_has_v6_prefix(t, ip, (unsigned)nibbles * 4))
			lk->rcode = LDNS_RCODE_NXDOMAIN;
		return;
	}
	e = dns_table_find_v6(t, ip, &net);
	if (!e) {
		lk->rcode = LDNS_RCODE_NXDOMAIN;
		return;
	}
	ptr_name(lk, e, net);
}

static ldns_rr *rr_soa(const struct dns_table *t, const char *apex)
{
	char text[256];
	ldns_rr *rr = NULL;

	snprintf(text, sizeof(text),
		 "%s %d IN SOA ray. hostmaster.ray. "
		 "%u 3600 600 86400 %d",
		 apex, DNS_NEG_TTL, t->serial, DNS_NEG_TTL);
	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		return NULL;
	return rr;
}

/* An answer record owned by the query's name with one rdata field. */
static ldns_rr *rr_owned(const ldns_rdf *owner, ldns_rr_type type, ldns_rdf *rdata)
{
	ldns_rr *rr;
	ldns_rdf *o;

	if (!rdata)
		return NULL;
	rr = ldns_rr_new();
	o = ldns_rdf_clone(owner);
	if (!rr || !o) {
		ldns_rr_free(rr);
		ldns_rdf_deep_free(o);
		ldns_rdf_deep_free(rdata);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, DNS_TTL);
	if (!ldns_rr_push_rdf(rr, rdata)) {
		ldns_rdf_deep_free(rdata);
		ldns_rr_free(rr);
		return NULL;
	}
	return rr;
}

static int push(ldns_pkt *p, ldns_pkt_section sec, ldns_rr *rr)
{
	if (!rr)
		return -ENOMEM;
	if (!ldns_pkt_push_rr(p, sec, rr)) {
		ldns_rr_free(rr);
		return -ENOMEM;
	}
	return 0;
}

static int add_host(ldns_pkt *p, const ldns_rdf *owner, ldns_rr_type qt, const struct dns_entry *e)
{
	static const uint8_t zero16[16];
	int ret = 0;

	if ((qt == LDNS_RR_TYPE_A || qt == LDNS_RR_TYPE_ANY) && e->ipv4) {
		uint8_t a[4] = { (uint8_t)(e->ipv4 >> 24), (uint8_t)(e->ipv4 >> 16),
				 (uint8_t)(e->ipv4 >> 8), (uint8_t)e->ipv4 };

		ret = push(p, LDNS_SECTION_ANSWER,
			   rr_owned(owner, LDNS_RR_TYPE_A,
				    ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, a)));
		if (ret < 0)
			return ret;
	}
	if ((qt == LDNS_RR_TYPE_AAAA || qt == LDNS_RR_TYPE_ANY) && memcmp(e->ipv6, zero16, 16) != 0)
		ret = push(p, LDNS_SECTION_ANSWER,
			   rr_owned(owner, LDNS_RR_TYPE_AAAA,
				    ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, e->ipv6)));
	return ret;
}

/* Fills answer and authority for a name inside one of our zones. */
static int fill_zone(const struct dns_table *t, ldns_pkt *p, const ldns_rdf *owner, ldns_rr_type qt,
		     const struct lookup *lk)
{
	int ret = 0;

	if (lk->rcode == LDNS_RCODE_NOERROR) {
		if (lk->is_apex && (qt == LDNS_RR_TYPE_SOA || qt == LDNS_RR_TYPE_ANY))
			ret = push(p, LDNS_SECTION_ANSWER, rr_soa(t, lk->apex));
		else if (lk->host)
			ret = add_host(p, owner, qt, lk->host);
		else if (lk->ptr[0] && (qt == LDNS_RR_TYPE_PTR || qt == LDNS_RR_TYPE_ANY))
			ret = push(p, LDNS_SECTION_ANSWER,
				   rr_owned(owner, LDNS_RR_TYPE_PTR,
					    ldns_dname_new_frm_str(lk->ptr)));
		if (ret < 0 || ldns_pkt_ancount(p) > 0)
			return ret;
	}
	/* NXDOMAIN or NODATA: the SOA tells caches how long to remember it. */
	return push(p, LDNS_SECTION_AUTHORITY, rr_soa(t, lk->apex));
}

static ldns_pkt *reply_new(const ldns_pkt *q, int rcode)
{
	ldns_pkt *r = ldns_pkt_new();
	ldns_rr_list *ql;

	if (!r)
		return NULL;
	ql = ldns_rr_list_clone(ldns_pkt_question(q));
	if (!ql) {
		ldns_pkt_free(r);
		return NULL;
	}
	ldns_rr_list_deep_free(ldns_pkt_question(r));
	ldns_pkt_set_question(r, ql);
	ldns_pkt_set_qdcount(r, (uint16_t)ldns_rr_list_rr_count(ql));
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, LDNS_PACKET_QUERY);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_cd(r, ldns_pkt_cd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_rcode(r, (uint8_t)(rcode & 0x0f));
	if (ldns_pkt_edns(q)) {
		ldns_pkt_set_edns_udp_size(r, DNS_EDNS_PAYLOAD);
		ldns_pkt_set_edns_version(r, 0);
		ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(q));
		ldns_pkt_set_edns_extended_rcode(r, (uint8_t)(rcode >> 4));
	}
	return r;
}

/* The most the client said it can take over UDP. */
static size_t udp_limit(const ldns_pkt *q)
{
	size_t n;

	if (!ldns_pkt_edns(q))
		return UDP_MIN;
	n = ldns_pkt_edns_udp_size(q);
	if (n < UDP_MIN)
		return UDP_MIN;
	return n > DNS_EDNS_PAYLOAD ? DNS_EDNS_PAYLOAD : n;
}

static int reply_wire(ldns_pkt *r, size_t limit, struct dns_result *res)
{
	uint8_t *wire = NULL;
	size_t len = 0;

	if (ldns_pkt2wire(&wire, r, &len) != LDNS_STATUS_OK)
		return -ENOMEM;
	if (len > limit) {
		/* Too big for this client: header, question, OPT and TC. */
		free(wire);
		ldns_rr_list_deep_free(ldns_pkt_answer(r));
		ldns_rr_list_deep_free(ldns_pkt_authority(r));
		ldns_pkt_set_answer(r, ldns_rr_list_new());
		ldns_pkt_set_authority(r, ldns_rr_list_new());
		if (!ldns_pkt_answer(r) || !ldns_pkt_authority(r))
			return -ENOMEM;
		ldns_pkt_set_ancount(r, 0);
		ldns_pkt_set_nscount(r, 0);
		ldns_pkt_set_tc(r, true);
		wire = NULL;
		if (ldns_pkt2wire(&wire, r, &len) != LDNS_STATUS_OK)
			return -ENOMEM;
	}
	res->reply = wire;
	res->len = len;
	res->verdict = DNS_REPLY;
	return 0;
}

/* Answers a parsed query whose name lies in one of our zones. */
static int answer_zone(const struct dns_table *t, const ldns_pkt *q, const ldns_rr *qrr,
		       const struct qname *qn, enum zone z, int tcp, struct dns_result *res)
{
	ldns_rr_type qt = ldns_rr_get_type(qrr);
	struct lookup lk;
	ldns_pkt *r;
	int ret;

	memset(&lk, 0, sizeof(lk));
	if (ldns_rr_get_class(qrr) != LDNS_RR_CLASS_IN || qt == LDNS_RR_TYPE_AXFR ||
	    qt == LDNS_RR_TYPE_IXFR) {
		res->rcode = LDNS_RCODE_REFUSED;
	} else {
		if (z == ZONE_RAY)
			resolve_ray(t, qn, &lk);
		else if (z == ZONE_REV4)
			resolve_rev4(t, qn, &lk);
		else
			resolve_rev6(t, qn, &lk);
		res->rcode = lk.rcode;
	}
	r = reply_new(q, res->rcode);
	if (!r)
		return -ENOMEM;
	ldns_pkt_set_aa(r, res->rcode != LDNS_RCODE_REFUSED);
	ret = 0;
	if (res->rcode != LDNS_RCODE_REFUSED)
		ret = fill_zone(t, r, ldns_rr_owner(qrr), qt, &lk);
	if (ret == 0)
		ret = reply_wire(r, tcp ? 65535 : udp_limit(q), res);
	ldns_pkt_free(r);
	return ret;
}

/* Header checks that need no parse; returns 1 when res is decided. */
static int check_header(const uint8_t *q, size_t len, struct dns_result *res, int *ret)
{
	*ret = 0;
	if (len < DNS_HEADER_LEN || (q[2] & 0x80)) {
		res->verdict = DNS_DROP;
		return 1;
	}
	if (((q[2] >> 3) & 0x0f) != LDNS_PACKET_QUERY) {
		*ret = header_error(q, LDNS_RCODE_NOTIMPL, res);
		return 1;
	}
	if (be16_get(q + 4) != 1 || be16_get(q + 6) != 0 || be16_get(q + 8) != 0 ||
	    be16_get(q + 10) > DNS_MAX_ADDITIONAL) {
		*ret = dns_answer_error(q, len, LDNS_RCODE_FORMERR, res);
		return 1;
	}
	return 0;
}

int dns_answer_query(const struct dns_table *t, const uint8_t *q, size_t len, int tcp,
		     struct dns_result *res)
{
	ldns_pkt *pkt = NULL;
	const ldns_rr *qrr;
	struct qname qn;
	enum zone z;
	int ret;

	memset(res, 0, sizeof(*res));
	if (check_header(q, len, res, &ret))
		return ret;
	if (ldns_wire2pkt(&pkt, q, len) != LDNS_STATUS_OK || !pkt || ldns_pkt_qdcount(pkt) != 1 ||
	    !(qrr = ldns_rr_list_rr(ldns_pkt_question(pkt), 0)) ||
	    qname_split(ldns_rr_owner(qrr), &qn) < 0) {
		ret = dns_answer_error(q, len, LDNS_RCODE_FORMERR, res);
		goto out;
	}
	if (ldns_pkt_edns(pkt) && ldns_pkt_edns_version(pkt) != 0) {
		ldns_pkt *r = reply_new(pkt, 16 /* BADVERS */);

		res->rcode = 16;
		ret = r ? reply_wire(r, tcp ? 65535 : udp_limit(pkt), res) : -ENOMEM;
		ldns_pkt_free(r);
		goto out;
	}
	z = zone_of(&qn);
	if (z == ZONE_NONE) {
		res->verdict = DNS_FORWARD;
		goto out;
	}
	ret = answer_zone(t, pkt, qrr, &qn, z, tcp, res);
out:
	ldns_pkt_free(pkt);
	if (ret < 0) {
		free(res->reply);
		memset(res, 0, sizeof(*res));
	}
	return ret;
}
