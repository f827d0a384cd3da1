/*
 * mdns_codec: the mDNS codec of mdns.h (mdns_build_announce,
 * mdns_build_query, mdns_parse). Pure and socket-free, so tests and the
 * fuzzer drive it directly. The raw header is checked before ldns sees a
 * packet, so absurd counts cost nothing; ldns then parses (it bounds
 * compression pointers and rdata lengths) and the records are matched as
 * wire-form names, never as presentation text.
 */
#include "discovery/mdns.h"
#include "util/limits.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "util/bytes.h"
#include "util/hex.h"

#define HDR_LEN 12
#define FLAG_QR 0x8000
#define CLASS_FLUSH 0x8000 /* cache-flush bit (answers), QU bit (questions) */
#define CLASS_IN 1

/* "_rayfish._udp.local." in wire form. */
static const uint8_t service_wire[] = "\x08_rayfish\x04_udp\x05local";
#define SERVICE_WIRE_LEN (sizeof(service_wire)) /* the NUL is the root label */

/* ---- codec: building ---------------------------------------------------- */

static ldns_rr *rr_make(const char *owner, ldns_rr_type type, uint16_t cls, uint32_t ttl)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rdf *o;

	if (!rr)
		return NULL;
	o = ldns_dname_new_frm_str(owner);
	if (!o) {
		ldns_rr_free(rr);
		return NULL;
	}
	ldns_rr_set_owner(rr, o);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, (ldns_rr_class)cls);
	ldns_rr_set_ttl(rr, ttl);
	return rr;
}

/* Pushes rdf into rr, taking ownership either way. */
static int rr_add(ldns_rr *rr, ldns_rdf *rdf)
{
	if (!rdf)
		return -ENOMEM;
	if (!ldns_rr_push_rdf(rr, rdf)) {
		ldns_rdf_deep_free(rdf);
		return -ENOMEM;
	}
	return 0;
}

static ldns_rdf *txt_string(const char *s)
{
	uint8_t b[256];
	size_t n = strlen(s);

	if (n > 255)
		return NULL;
	b[0] = (uint8_t)n;
	memcpy(b + 1, s, n);
	return ldns_rdf_new_frm_data(LDNS_RDF_TYPE_STR, n + 1, b);
}

/* Pushes rr into the packet, taking ownership either way. */
static int pkt_add(ldns_pkt *pkt, ldns_pkt_section sec, ldns_rr *rr)
{
	if (!rr)
		return -ENOMEM;
	if (!ldns_pkt_push_rr(pkt, sec, rr)) {
		ldns_rr_free(rr);
		return -ENOMEM;
	}
	return 0;
}

static int id_hex_valid(const char *hex)
{
	uint8_t id[LIMIT_KEY_LEN];

	return hex && strlen(hex) == 64 && hex_decode_str(hex, id, sizeof(id)) == 0;
}

static int add_records(ldns_pkt *pkt, const struct mdns_self *s, uint32_t ttl)
{
	char inst[96], host[64], txt[72];
	uint16_t flush = CLASS_IN | CLASS_FLUSH;
	ldns_rr *rr;
	size_t i;
	int rc;

	snprintf(inst, sizeof(inst), "%.16s.%s", s->id_hex, MDNS_SERVICE);
	snprintf(host, sizeof(host), "%.16s.local.", s->id_hex);
	snprintf(txt, sizeof(txt), "id=%s", s->id_hex);

	/* The PTR is shared (many nodes own records under the service). */
	rr = rr_make(MDNS_SERVICE, LDNS_RR_TYPE_PTR, CLASS_IN, ttl);
	if (rr && (rc = rr_add(rr, ldns_dname_new_frm_str(inst))) < 0)
		goto fail;
	if ((rc = pkt_add(pkt, LDNS_SECTION_ANSWER, rr)) < 0)
		return rc;

	rr = rr_make(inst, LDNS_RR_TYPE_SRV, flush, ttl);
	if (rr && ((rc = rr_add(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 0))) < 0 ||
		   (rc = rr_add(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, 0))) < 0 ||
		   (rc = rr_add(rr, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16, s->port))) < 0 ||
		   (rc = rr_add(rr, ldns_dname_new_frm_str(host))) < 0))
		goto fail;
	if ((rc = pkt_add(pkt, LDNS_SECTION_ANSWER, rr)) < 0)
		return rc;

	rr = rr_make(inst, LDNS_RR_TYPE_TXT, flush, ttl);
	if (rr &&
	    ((rc = rr_add(rr, txt_string(txt))) < 0 || (rc = rr_add(rr, txt_string("v=1"))) < 0))
		goto fail;
	if ((rc = pkt_add(pkt, LDNS_SECTION_ANSWER, rr)) < 0)
		return rc;

	for (i = 0; i < s->n_v4 && i < MDNS_MAX_HOST_ADDRS; i++) {
		rr = rr_make(host, LDNS_RR_TYPE_A, flush, ttl);
		if (rr &&
		    (rc = rr_add(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, &s->v4[i]))) < 0)
			goto fail;
		if ((rc = pkt_add(pkt, LDNS_SECTION_ANSWER, rr)) < 0)
			return rc;
	}
	for (i = 0; i < s->n_v6 && i < MDNS_MAX_HOST_ADDRS; i++) {
		rr = rr_make(host, LDNS_RR_TYPE_AAAA, flush, ttl);
		if (rr &&
		    (rc = rr_add(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, &s->v6[i]))) < 0)
			goto fail;
		if ((rc = pkt_add(pkt, LDNS_SECTION_ANSWER, rr)) < 0)
			return rc;
	}
	return 0;
fail:
	ldns_rr_free(rr);
	return rc;
}

static int service_question(ldns_pkt *pkt)
{
	ldns_rr *q = rr_make(MDNS_SERVICE, LDNS_RR_TYPE_PTR, CLASS_IN, 0);

	if (q)
		ldns_rr_set_question(q, true);
	return pkt_add(pkt, LDNS_SECTION_QUESTION, q);
}

static int pkt_emit(ldns_pkt *pkt, uint8_t *buf, size_t cap)
{
	uint8_t *wire = NULL;
	size_t n = 0;
	int rc;

	if (ldns_pkt2wire(&wire, pkt, &n) != LDNS_STATUS_OK || !wire)
		return -ENOMEM;
	if (n > cap || n > MDNS_MAX_PACKET) {
		rc = -EMSGSIZE;
		goto out;
	}
	memcpy(buf, wire, n);
	rc = (int)n;
out:
	free(wire);
	return rc;
}

int mdns_build_announce(const struct mdns_self *self, uint32_t ttl, uint16_t qid, int with_question,
			uint8_t *buf, size_t cap)
{
	ldns_pkt *pkt;
	int rc;

	if (!id_hex_valid(self->id_hex) || self->port == 0)
		return -EINVAL;
	pkt = ldns_pkt_new();
	if (!pkt)
		return -ENOMEM;
	ldns_pkt_set_id(pkt, qid);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_aa(pkt, true);
	if (with_question && (rc = service_question(pkt)) < 0)
		goto out;
	if ((rc = add_records(pkt, self, ttl)) < 0)
		goto out;
	rc = pkt_emit(pkt, buf, cap);
out:
	ldns_pkt_free(pkt);
	return rc;
}

int mdns_build_query(uint8_t *buf, size_t cap)
{
	ldns_pkt *pkt = ldns_pkt_new();
	int rc;

	if (!pkt)
		return -ENOMEM;
	ldns_pkt_set_id(pkt, 0);
	if ((rc = service_question(pkt)) == 0)
		rc = pkt_emit(pkt, buf, cap);
	ldns_pkt_free(pkt);
	return rc;
}

/* ---- codec: parsing ------------------------------------------------------ */

static int is_service(const ldns_rdf *d)
{
	return ldns_rdf_size(d) == SERVICE_WIRE_LEN &&
	       strncasecmp((const char *)ldns_rdf_data(d), (const char *)service_wire,
			   SERVICE_WIRE_LEN) == 0;
}

static int is_hex16(const uint8_t *p)
{
	int i;

	for (i = 0; i < 16; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
		      (p[i] >= 'A' && p[i] <= 'F')))
			return 0;
	return 1;
}

/* "<16 hex>._rayfish._udp.local." as a wire-form dname. */
static int is_instance(const ldns_rdf *d)
{
	const uint8_t *p = ldns_rdf_data(d);
	size_t n = ldns_rdf_size(d);

	if (ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME || n != 17 + SERVICE_WIRE_LEN)
		return 0;
	if (p[0] != 16 || !is_hex16(p + 1))
		return 0;
	return strncasecmp((const char *)p + 17, (const char *)service_wire, SERVICE_WIRE_LEN) == 0;
}

/* Walks the TXT strings: needs id=<64 hex>; a v= other than 1 is refused. */
static int txt_id(const ldns_rr *rr, uint8_t id[LIMIT_KEY_LEN])
{
	int have = 0;
	size_t i;

	for (i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *f = ldns_rr_rdf(rr, i);
		const uint8_t *p = ldns_rdf_data(f);
		size_t n = ldns_rdf_size(f);

		if (n < 1 || (size_t)p[0] + 1 != n)
			return -EINVAL;
		if (p[0] == 67 && memcmp(p + 1, "id=", 3) == 0) {
			if (hex_decode((const char *)p + 4, 64, id, LIMIT_KEY_LEN) < 0)
				return -EINVAL;
			have = 1;
		} else if (p[0] >= 2 && memcmp(p + 1, "v=", 2) == 0) {
			if (p[0] != 3 || p[3] != '1')
				return -EINVAL;
		}
	}
	return have ? 0 : -EINVAL;
}

static const ldns_rr *section_rr(ldns_rr_list *const lists[2], size_t i)
{
	size_t n0 = lists[0] ? ldns_rr_list_rr_count(lists[0]) : 0;

	if (i < n0)
		return ldns_rr_list_rr(lists[0], i);
	return lists[1] ? ldns_rr_list_rr(lists[1], i - n0) : NULL;
}

static void add_host_addr(struct mdns_found *f, const ldns_rr *rr)
{
	const ldns_rdf *a = ldns_rr_rd_count(rr) == 1 ? ldns_rr_rdf(rr, 0) : NULL;

	if (!a)
		return;
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_A && ldns_rdf_size(a) == 4 &&
	    f->n_v4 < MDNS_MAX_HOST_ADDRS)
		memcpy(&f->v4[f->n_v4++], ldns_rdf_data(a), 4);
	else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_AAAA && ldns_rdf_size(a) == 16 &&
		 f->n_v6 < MDNS_MAX_HOST_ADDRS)
		memcpy(&f->v6[f->n_v6++], ldns_rdf_data(a), 16);
}

/* Fills f from the SRV at srv: its TXT (same owner) gives the id, which must
 * match the instance label; A/AAAA of the SRV target give the addresses. */
static int collect_peer(ldns_rr_list *const lists[2], size_t total, const ldns_rr *srv,
			struct mdns_found *f)
{
	const ldns_rdf *owner = ldns_rr_owner(srv), *target;
	char hex[65];
	int have_id = 0;
	size_t i;

	if (ldns_rr_rd_count(srv) != 4 || ldns_rr_ttl(srv) == 0)
		return -EINVAL;
	if (ldns_rdf_size(ldns_rr_rdf(srv, 2)) != 2)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->port = ldns_rdf2native_int16(ldns_rr_rdf(srv, 2));
	target = ldns_rr_rdf(srv, 3);
	if (f->port == 0 || ldns_rdf_get_type(target) != LDNS_RDF_TYPE_DNAME)
		return -EINVAL;
	for (i = 0; i < total; i++) {
		const ldns_rr *rr = section_rr(lists, i);
		ldns_rr_type t = ldns_rr_get_type(rr);

		if (t == LDNS_RR_TYPE_TXT && !have_id && ldns_rr_ttl(rr) > 0 &&
		    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			have_id = txt_id(rr, f->id) == 0;
		else if ((t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) && ldns_rr_ttl(rr) > 0 &&
			 ldns_dname_compare(ldns_rr_owner(rr), target) == 0)
			add_host_addr(f, rr);
	}
	if (!have_id)
		return -EINVAL;
	hex_encode(f->id, 8, hex);
	if (strncasecmp(hex, (const char *)ldns_rdf_data(owner) + 1, 16) != 0)
		return -EINVAL;
	return 0;
}

static void parse_questions(const ldns_pkt *pkt, struct mdns_parsed *out)
{
	const ldns_rr_list *qs = ldns_pkt_question(pkt);
	size_t i;

	for (i = 0; qs && i < ldns_rr_list_rr_count(qs); i++) {
		const ldns_rr *q = ldns_rr_list_rr(qs, i);
		ldns_rr_type t = ldns_rr_get_type(q);

		if ((t != LDNS_RR_TYPE_PTR && t != LDNS_RR_TYPE_ANY) ||
		    !is_service(ldns_rr_owner(q)))
			continue;
		out->asks_service = 1;
		if ((uint16_t)ldns_rr_get_class(q) & CLASS_FLUSH)
			out->unicast_reply = 1;
	}
}

static void parse_answers(const ldns_pkt *pkt, struct mdns_parsed *out)
{
	ldns_rr_list *const lists[2] = { ldns_pkt_answer(pkt), ldns_pkt_additional(pkt) };
	size_t total = 0, i, j;

	for (i = 0; i < 2; i++)
		total += lists[i] ? ldns_rr_list_rr_count(lists[i]) : 0;
	for (i = 0; i < total && out->n_found < MDNS_MAX_FOUND; i++) {
		const ldns_rr *rr = section_rr(lists, i);
		struct mdns_found *f = &out->found[out->n_found];
		int dup = 0;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SRV || !is_instance(ldns_rr_owner(rr)))
			continue;
		if (collect_peer(lists, total, rr, f) < 0)
			continue;
		for (j = 0; j < out->n_found; j++)
			dup |= memcmp(out->found[j].id, f->id, LIMIT_KEY_LEN) == 0;
		if (!dup)
			out->n_found++;
	}
}

/* Offset just past the name at off, or 0 when it runs off the end. */
static size_t skip_name(const uint8_t *pkt, size_t len, size_t off)
{
	while (off < len) {
		uint8_t l = pkt[off];

		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (l & 0xc0)
			return 0;
		off += 1 + (size_t)l;
		if (l == 0)
			return off;
	}
	return 0;
}

/*
 * 1 when a record of the packet is a TSIG. mDNS never signs with TSIG, and
 * ldns_wire2pkt keeps only the last one it meets and leaks the others, so
 * such packets never reach it. Malformed walks count as found (refused).
 */
static int has_tsig(const uint8_t *pkt, size_t len, unsigned qd, unsigned rrs)
{
	size_t off = HDR_LEN;
	unsigned i;

	for (i = 0; i < qd; i++) {
		if ((off = skip_name(pkt, len, off)) == 0 || off + 4 > len)
			return 1;
		off += 4;
	}
	for (i = 0; i < rrs; i++) {
		if ((off = skip_name(pkt, len, off)) == 0 || off + 10 > len)
			return 1;
		if (be16_get(pkt + off) == LDNS_RR_TYPE_TSIG)
			return 1;
		off += 10 + (size_t)be16_get(pkt + off + 8);
		if (off > len)
			return 1;
	}
	return 0;
}

int mdns_parse(const uint8_t *pkt, size_t len, struct mdns_parsed *out)
{
	ldns_pkt *p = NULL;
	uint16_t flags;
	unsigned qd, rrs;

	memset(out, 0, sizeof(*out));
	if (len < HDR_LEN || len > MDNS_MAX_PACKET)
		return -EINVAL;
	flags = be16_get(pkt + 2);
	qd = be16_get(pkt + 4);
	rrs = (unsigned)be16_get(pkt + 6) + be16_get(pkt + 8) + be16_get(pkt + 10);
	/* Opcode and rcode must be zero (RFC 6762 s18.3, s18.11). */
	if ((flags & 0x7800) || (flags & 0x000f))
		return -EINVAL;
	if (qd > MDNS_MAX_QUESTIONS || rrs > MDNS_MAX_RECORDS)
		return -EINVAL;
	/* Every question takes at least 5 bytes and every record 11. */
	if (HDR_LEN + 5 * (size_t)qd + 11 * (size_t)rrs > len)
		return -EINVAL;
	if (has_tsig(pkt, len, qd, rrs) || ldns_wire2pkt(&p, pkt, len) != LDNS_STATUS_OK || !p)
		return -EINVAL;
	out->id = be16_get(pkt);
	out->is_response = (flags & FLAG_QR) != 0;
	if (out->is_response)
		parse_answers(p, out);
	else
		parse_questions(p, out);
	ldns_pkt_free(p);
	return 0;
}
