/*
 * connect: see connect.h.
 *
 * The owner's daemon keeps its contact record in the DHT while it is up,
 * signed by the contact key and naming this device; a requester looks it
 * up, dials that device's mesh connection (as a stranger: the gate gives it
 * a few seconds to become known) and sends CONNECT_REQ naming the contact
 * id. The owner queues it (the gate then keeps the connection) and answers
 * CONNECT_PENDING until `ray connections approve|deny`. Approval mints a
 * closed two-peer network with the requester pre-approved in its roster;
 * the network is direct (its room id is never shown) and CONNECT_OK names
 * it; the requester joins it as any pre-approved joiner, asking the owner
 * straight away (join_direct). The requester asks again every
 * CONNECT_ASK_MS while it waits, so an answer lost to a cut connection or
 * an owner's restart is asked for again, and the owner forgets requests
 * not asked again within CONNECT_IDLE_MS. Nothing here is stored but the
 * contact key: a restart forgets requests both ways (requesters ask again;
 * a `ray connect` whose daemon restarted is run again).
 *
 * Two devices asking each other form one network: the one with the higher
 * endpoint key mints it at once (both asked, so neither needs to approve)
 * and answers both its own `ray connect` and the other's request with it;
 * the other answers PENDING and waits for that. A requester that already
 * shares a direct network with the owner is answered with it again.
 *
 * Rotating the contact key publishes a retired record under the old id (a
 * higher sequence than any record naming us) and refuses requests naming
 * it, so an old id stops working at once, not when its record expires.
 */
#include "daemon/connect.h"
#include "daemon/daemon.h"
#include "daemon/join.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "daemon/records.h"
#include "discovery/dht.h"
#include "discovery/payload.h"
#include "discovery/record.h"
#include "mesh/address.h"
#include "mesh/contact.h"
#include "mesh/hostname.h"
#include "proto/control.h"
#include "util/hex.h"
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOKUP_FOR_MS 30000
#define LOOKUP_RETRY_MS 2000

enum out_state {
	OUT_LOOKUP,  /* finding the device behind the contact id */
	OUT_ASKING,  /* CONNECT_REQ sent (or waiting for the connection) */
	OUT_PENDING, /* the owner queued it */
};

/* Our request to someone else's contact id. */
struct connect_out {
	struct connect_out *next;
	struct ipc_request *req; /* the `ray connect` waiting, or NULL */
	enum out_state state;
	uint8_t contact[LIMIT_KEY_LEN];
	char contact_id[CONTACT_ID_BUF];
	bool lookup_busy;
	unsigned lookups;
	uint64_t lookup_until, next_ms, deadline;
	struct peer *peer; /* the owner's device; we hold a want */
	char hostname[HOSTNAME_BUF];
};

/* A request to our contact id. */
struct connect_in {
	char id[9]; /* short handle for approve/deny */
	uint8_t pk[LIMIT_KEY_LEN];
	char hostname[HOSTNAME_BUF]; /* what it calls itself; "" if unusable */
	uint64_t since;              /* unix seconds */
	uint64_t seen_ms;            /* loop time it last asked */
};

/* A peer kept connected after we made its network, until it is a member
 * (the network then wants it) or HOLD_MS pass: the CONNECT_OK just queued
 * on that connection must not be cut off with it. */
#define HOLD_MS 30000
struct connect_hold {
	uint8_t pk[LIMIT_KEY_LEN];
	uint64_t until_ms;
};

struct connect {
	struct identity key; /* the contact key */
	char contact_id[CONTACT_ID_BUF];
	uint64_t seq;
	bool published;
	uint64_t next_publish_ms;
	bool has_retired; /* a rotated-away key whose retired record is out */
	uint64_t retired_until_ms;
	struct connect_out *outs;
	struct connect_in in[CONNECT_IN_MAX];
	size_t n_in;
	uint8_t denied[CONNECT_DENIED_MAX][LIMIT_KEY_LEN];
	size_t n_denied, denied_next;
	struct ratelimit new_rl; /* requests that take a new place */
	struct identity retired; /* the key rotated away, while its record must be out */
	bool retired_out;        /* that retired record was put */
	struct connect_hold holds[CONNECT_IN_MAX];
	size_t n_holds;
};

static struct connect_in *in_find(struct connect *c, const uint8_t pk[LIMIT_KEY_LEN]);
static void in_drop(struct connect *c, struct connect_in *e);

/* ---- the contact record ---- */

static int contact_put(struct daemon *d, const struct identity *key, bool retired)
{
	struct contact_payload p = { .retired = retired };
	uint8_t payload[64], rec[RECORD_MAX], dkey[RECORD_KEY_LEN];
	struct connect *c = d->connect;
	uint64_t now = daemon_unix_now();
	int plen, rlen;

	if (!d->dht)
		return -ENOTCONN;
	memcpy(p.endpoint, d->id.pk, LIMIT_KEY_LEN);
	plen = contact_payload_encode(&p, payload, sizeof(payload));
	if (plen < 0)
		return plen;
	c->seq = now > c->seq ? now : c->seq + 1;
	rlen = record_encode(RECORD_CONTACT, key->seed, c->seq, now + CONNECT_TTL_S, payload,
			     (size_t)plen, rec, sizeof(rec));
	if (rlen < 0)
		return rlen;
	record_dht_key(RECORD_CONTACT, key->pk, dkey);
	return dht_node_put(d->dht, dkey, rec, (size_t)rlen, NULL, NULL);
}

static void contact_unpublish(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	uint8_t dkey[RECORD_KEY_LEN];

	if (!d->dht)
		return;
	record_dht_key(RECORD_CONTACT, pk, dkey);
	dht_node_cancel_put(d->dht, dkey);
}

/* While the node is up, its contact record is in the DHT; while it is
 * down, nobody can reach it anyway, and the record is left to expire. */
static void publish_tick(struct daemon *d)
{
	struct connect *c = d->connect;
	uint64_t now = daemon_now_ms(d);

	if (c->has_retired && now >= c->retired_until_ms) {
		contact_unpublish(d, c->retired.pk);
		c->has_retired = false;
		identity_clear(&c->retired);
	}
	if (c->has_retired && !c->retired_out) /* the DHT was not up at rotation */
		c->retired_out = contact_put(d, &c->retired, true) == 0;
	if (!d->active) {
		if (c->published)
			contact_unpublish(d, c->key.pk);
		c->published = false;
		return;
	}
	if (c->published && now < c->next_publish_ms)
		return;
	if (contact_put(d, &c->key, false) < 0) {
		c->next_publish_ms = now + 5000;
		return;
	}
	if (!c->published)
		log_info("connect: contact record published (contact id %s)", c->contact_id);
	c->published = true;
	c->next_publish_ms = now + CONNECT_TTL_S * 1000 / 2;
}

/* ---- helpers ---- */

static void reply_network(struct daemon *d, struct ipc_request *req, const struct network *n)
{
	char v4[ADDRESS_V4_STRLEN], v6[ADDRESS_V6_STRLEN];
	uint8_t ip6[16];

	if (!req)
		return;
	address_ipv4_format(n->my_ipv4, v4);
	address_ipv6(d->id.id, ip6);
	address_ipv6_format(ip6, v6);
	ipc_reply(req, json_pack("{s:s, s:s, s:s, s:s}", "name", n->saved.name, "hostname",
				 n->saved.hostname, "ipv4", v4, "ipv6", v6));
}

/* The direct network we share with pk (a member, or approved and not yet
 * joined), or NULL. */
static struct network *direct_with(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	char id[IDENTITY_ID_LEN + 1];

	identity_id_format(pk, id);
	for (struct network *n = d->nets; n; n = n->next)
		if (n->saved.direct && (group_blob_find_member(&n->blob, id) ||
					group_blob_find_approved(&n->blob, id)))
			return n;
	return NULL;
}

static void send_simple(struct daemon *d, struct peer *p, enum ctl_type type, const char *why)
{
	struct ctl_msg m = { .type = type };

	if (why)
		snprintf(m.why, sizeof(m.why), "%s", why);
	if (p && p->conn)
		peer_send_ctl(d, p, &m);
}

static void send_ok(struct daemon *d, struct peer *p, const struct network *n)
{
	struct ctl_msg m = { .type = CTL_CONNECT_OK, .has_net = true };

	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	snprintf(m.name, sizeof(m.name), "%s", n->blob.name);
	if (p && p->conn)
		peer_send_ctl(d, p, &m);
}

/* ---- our requests ---- */

static void out_free(struct daemon *d, struct connect_out *o)
{
	struct connect_out **pp;

	for (pp = &d->connect->outs; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	if (o->peer)
		peer_unwant(d, o->peer, 0);
	free(o);
}

static void out_fail(struct daemon *d, struct connect_out *o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void out_fail(struct daemon *d, struct connect_out *o, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("connect: %.12s…: %s", o->contact_id, msg);
	if (o->req)
		ipc_reply_error(o->req, "%s", msg);
	o->req = NULL;
	out_free(d, o);
}

static struct connect_out *out_for_peer(struct daemon *d, const struct peer *p)
{
	for (struct connect_out *o = d->connect->outs; o; o = o->next)
		if (o->peer == p)
			return o;
	return NULL;
}

static void out_ask(struct daemon *d, struct connect_out *o)
{
	struct ctl_msg m = { .type = CTL_CONNECT_REQ, .has_contact = true };

	memcpy(m.contact, o->contact, LIMIT_KEY_LEN);
	snprintf(m.hostname, sizeof(m.hostname), "%s", o->hostname);
	o->next_ms = daemon_now_ms(d) + CONNECT_ASK_MS;
	if (o->peer && o->peer->conn)
		peer_send_ctl(d, o->peer, &m);
}

static void on_contact(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], const uint8_t *rec,
		       size_t len, void *ud)
{
	struct contact_payload cp;
	struct connect_out *o;
	struct network *n;
	struct record r;

	(void)ud;
	if (!d->connect)
		return;
	for (o = d->connect->outs; o; o = o->next)
		if (o->lookup_busy && memcmp(o->contact, pk, LIMIT_KEY_LEN) == 0)
			break;
	if (!o)
		return;
	o->lookup_busy = false;
	o->lookups++;
	if (!rec) {
		if (daemon_now_ms(d) < o->lookup_until) {
			o->next_ms = daemon_now_ms(d) + LOOKUP_RETRY_MS;
			return;
		}
		out_fail(d, o,
			 "no device answers to contact id %s: it is offline, or the id is unknown (%u look-ups in %u s; check the id with its owner, and that the DHT is reachable: 'ray config' dht-bootstrap)",
			 o->contact_id, o->lookups, LOOKUP_FOR_MS / 1000);
		return;
	}
	if (record_decode(rec, len, RECORD_CONTACT, pk, daemon_unix_now(), &r) < 0 ||
	    contact_payload_decode(r.payload, r.payload_len, &cp) < 0) {
		out_fail(d, o, "the contact id's DHT record is malformed");
		return;
	}
	if (cp.retired) {
		out_fail(d, o,
			 "contact id %s was rotated by its owner and is no longer in use: ask them for the current one ('ray contact')",
			 o->contact_id);
		return;
	}
	if (memcmp(cp.endpoint, d->id.pk, LIMIT_KEY_LEN) == 0) {
		out_fail(d, o, "contact id %s is this device's own", o->contact_id);
		return;
	}
	if ((n = direct_with(d, cp.endpoint)) && network_me(d, n)) {
		log_info("connect: already connected to %.12s… in %s", o->contact_id,
			 n->saved.name);
		reply_network(d, o->req, n);
		o->req = NULL;
		out_free(d, o);
		return;
	}
	o->peer = peers_ensure(d, cp.endpoint);
	if (!o->peer) {
		out_fail(d, o, "out of memory");
		return;
	}
	peer_want(d, o->peer);
	peer_dial_soon(d, o->peer);
	o->state = OUT_ASKING;
	log_info("connect: contact id %.12s… is device %.8s; asking it", o->contact_id,
		 o->peer->id);
	out_ask(d, o);
}

static void out_lookup(struct daemon *d, struct connect_out *o)
{
	int ret = records_lookup(d, RECORD_CONTACT, o->contact, on_contact, NULL);

	if (ret < 0) {
		out_fail(d, o, "the DHT node is not running: %s", strerror(-ret));
		return;
	}
	o->lookup_busy = true;
}

void connect_cmd_connect(struct daemon *d, struct ipc_request *req)
{
	const char *cid = json_string_value(json_object_get(req->args, "contact_id"));
	const char *host = json_string_value(json_object_get(req->args, "hostname"));
	struct connect *c = d->connect;
	uint8_t pk[LIMIT_KEY_LEN];
	struct connect_out *o;
	int ret;

	ret = contact_id_parse(cid, pk);
	if (ret == -EBADMSG) {
		ipc_reply_error(
			req,
			"the contact id is mistyped or cut short (its checksum does not match)");
		return;
	}
	if (ret < 0) {
		ipc_reply_error(
			req,
			"'%.80s' is not a contact id (ask its owner for the output of 'ray contact')",
			cid ? cid : "");
		return;
	}
	if (host && !hostname_valid(host)) {
		ipc_reply_error(req, "invalid hostname: use 1-63 of a-z, 0-9 and '-'");
		return;
	}
	if (memcmp(pk, c->key.pk, LIMIT_KEY_LEN) == 0) {
		ipc_reply_error(req, "that is this device's own contact id");
		return;
	}
	for (o = c->outs; o; o = o->next) {
		if (memcmp(o->contact, pk, LIMIT_KEY_LEN) != 0)
			continue;
		/* Asked again (the first `ray connect` was interrupted): this
		 * one waits for the answer now. */
		if (o->req)
			ipc_reply_error(o->req,
					"superseded by a newer 'ray connect' of the same id");
		o->req = req;
		if (host)
			snprintf(o->hostname, sizeof(o->hostname), "%s", host);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		ipc_reply_error(req, "out of memory");
		return;
	}
	o->req = req;
	memcpy(o->contact, pk, LIMIT_KEY_LEN);
	contact_id_format(pk, o->contact_id, sizeof(o->contact_id));
	if (host)
		snprintf(o->hostname, sizeof(o->hostname), "%s", host);
	else
		network_my_hostname(d, o->hostname);
	o->deadline = daemon_now_ms(d) + CONNECT_OUT_MS;
	o->lookup_until = daemon_now_ms(d) + LOOKUP_FOR_MS;
	o->next = c->outs;
	c->outs = o;
	out_lookup(d, o);
}

static void out_on_reply(struct daemon *d, struct connect_out *o, const struct ctl_msg *m)
{
	struct network *n;

	switch (m->type) {
	case CTL_CONNECT_PENDING:
		if (o->state != OUT_PENDING)
			log_info("connect: %.8s queued our request; waiting for its owner",
				 o->peer->id);
		o->state = OUT_PENDING;
		return;
	case CTL_CONNECT_DENIED:
		out_fail(d, o, "the owner of contact id %s denied the connection%s%s",
			 o->contact_id, m->why[0] ? ": " : "", m->why);
		return;
	default: /* CTL_CONNECT_OK */
		break;
	}
	log_info("connect: %.8s approved; joining %s", o->peer->id, m->name);
	{
		struct connect_in *e = in_find(d->connect, o->peer->pk);

		if (e) /* it asked us too, and made the network: answered */
			in_drop(d->connect, e);
	}
	if ((n = network_find_pk(d, m->net))) {
		reply_network(d, o->req, n);
		o->req = NULL;
	} else {
		/* join_direct holds its own want on the owner before ours
		 * goes, so the connection stays. */
		join_direct(d, o->req, m->net, o->peer->pk, o->hostname);
		o->req = NULL;
	}
	out_free(d, o);
}

/* ---- requests to us ---- */

static struct connect_in *in_find(struct connect *c, const uint8_t pk[LIMIT_KEY_LEN])
{
	for (size_t i = 0; i < c->n_in; i++)
		if (memcmp(c->in[i].pk, pk, LIMIT_KEY_LEN) == 0)
			return &c->in[i];
	return NULL;
}

static void in_drop(struct connect *c, struct connect_in *e)
{
	size_t i = (size_t)(e - c->in);

	memmove(&c->in[i], &c->in[i + 1], (c->n_in - i - 1) * sizeof(c->in[0]));
	c->n_in--;
}

static bool is_denied(const struct connect *c, const uint8_t pk[LIMIT_KEY_LEN])
{
	for (size_t i = 0; i < c->n_denied; i++)
		if (memcmp(c->denied[i], pk, LIMIT_KEY_LEN) == 0)
			return true;
	return false;
}

static bool name_taken(const char *name, void *arg)
{
	return network_find(arg, name) != NULL;
}

static void hold(struct daemon *d, struct peer *p)
{
	struct connect *c = d->connect;
	struct connect_hold *h = NULL;

	for (size_t i = 0; i < c->n_holds && !h; i++)
		if (memcmp(c->holds[i].pk, p->pk, LIMIT_KEY_LEN) == 0)
			h = &c->holds[i];
	if (!h && c->n_holds == CONNECT_IN_MAX)
		return; /* at worst the OK is asked for again */
	if (!h) {
		h = &c->holds[c->n_holds++];
		memcpy(h->pk, p->pk, LIMIT_KEY_LEN);
		peer_want(d, p);
	}
	h->until_ms = daemon_now_ms(d) + HOLD_MS;
}

/* Holds end once the peer is a member or their time is up. */
static void holds_tick(struct daemon *d)
{
	struct connect *c = d->connect;
	uint64_t now = daemon_now_ms(d);

	for (size_t i = 0; i < c->n_holds;) {
		struct connect_hold *h = &c->holds[i];
		char id[IDENTITY_ID_LEN + 1];
		struct peer *p = peers_find(d, h->pk);

		identity_id_format(h->pk, id);
		if (p && now < h->until_ms && !network_find_member(d, id)) {
			i++;
			continue;
		}
		*h = c->holds[--c->n_holds];
		if (p)
			peer_unwant(d, p, 0);
	}
}

/*
 * Mints the direct network for requester pk (calling itself theirs): named
 * "<our name>-<theirs>", closed, with pk pre-approved; answers pk's
 * request and our own `ray connect` to pk, if any. NULL on failure (err).
 */
static struct network *mint(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], const char *theirs,
			    char *err, size_t errlen)
{
	char mine[HOSTNAME_BUF], raw[2 * HOSTNAME_BUF], want[HOSTNAME_BUF], name[HOSTNAME_BUF];
	char id[IDENTITY_ID_LEN + 1];
	struct connect_out *o;
	struct connect_in *e;
	struct network *n;
	struct peer *p;

	identity_id_format(pk, id);
	network_my_hostname(d, mine);
	for (o = d->connect->outs; o; o = o->next)
		if (o->peer && memcmp(o->peer->pk, pk, LIMIT_KEY_LEN) == 0)
			snprintf(mine, sizeof(mine), "%s", o->hostname); /* as we asked */
	snprintf(raw, sizeof(raw), "%.31s-%.31s", mine, theirs[0] ? theirs : "peer");
	if (hostname_sanitize(raw, want) < 0 ||
	    hostname_resolve_clash(want, name_taken, d, name) < 0) {
		snprintf(err, errlen, "no free name for the network");
		return NULL;
	}
	if (network_create(d, name, mine, false, id, &n, err, errlen) < 0)
		return NULL;
	p = peers_find(d, pk);
	if (p)
		hold(d, p);
	send_ok(d, p, n);
	if ((e = in_find(d->connect, pk)))
		in_drop(d->connect, e); /* answered: no longer waiting */
	for (o = d->connect->outs; o; o = o->next) {
		if (o->peer && memcmp(o->peer->pk, pk, LIMIT_KEY_LEN) == 0) {
			reply_network(d, o->req, n);
			o->req = NULL;
			out_free(d, o);
			break;
		}
	}
	return n;
}

/* A place in the queue for pk, or NULL: full of requesters still there. */
static struct connect_in *in_add(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	struct connect *c = d->connect;
	struct connect_in *e;

	if (c->n_in == CONNECT_IN_MAX) {
		struct connect_in *gone = NULL;

		for (size_t i = 0; i < c->n_in && !gone; i++) {
			struct peer *q = peers_find(d, c->in[i].pk);

			if (!q || !q->conn)
				gone = &c->in[i]; /* oldest first: entries are in order */
		}
		if (!gone)
			return NULL;
		in_drop(c, gone);
	}
	e = &c->in[c->n_in++];
	memset(e, 0, sizeof(*e));
	memcpy(e->pk, pk, LIMIT_KEY_LEN);
	e->since = daemon_unix_now();
	{
		uint8_t raw[4];

		randombytes_buf(raw, sizeof(raw));
		hex_encode(raw, sizeof(raw), e->id);
	}
	return e;
}

static void on_request(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct connect *c = d->connect;
	const char *host = hostname_valid(m->hostname) ? m->hostname : "";
	struct connect_out *o;
	struct connect_in *e;
	struct network *n;
	char err[200];

	if (sodium_memcmp(m->contact, c->key.pk, LIMIT_KEY_LEN) != 0) {
		bool rotated = c->has_retired &&
			       sodium_memcmp(m->contact, c->retired.pk, LIMIT_KEY_LEN) == 0;

		send_simple(d, p, CTL_CONNECT_DENIED,
			    rotated ? "that contact id was rotated; ask for the current one"
				    : "that contact id is not this device's (or no longer); ask for "
				      "the current one");
		return;
	}
	if ((n = direct_with(d, p->pk))) {
		send_ok(d, p, n);
		return;
	}
	if (is_denied(c, p->pk)) {
		send_simple(d, p, CTL_CONNECT_DENIED, NULL);
		return;
	}
	o = out_for_peer(d, p);
	if (o && memcmp(d->id.pk, p->pk, LIMIT_KEY_LEN) > 0) {
		log_info("connect: %.8s and we asked each other; making the network", p->id);
		if (!mint(d, p->pk, host, err, sizeof(err)))
			log_warn("connect: %s", err);
		return;
	}
	if (o) {
		/* Both asked; the other side makes the network and our own
		 * request hears of it. */
		send_simple(d, p, CTL_CONNECT_PENDING, NULL);
		return;
	}
	e = in_find(c, p->pk);
	if (!e && ratelimit_take(&c->new_rl, daemon_now_ms(d)) && (e = in_add(d, p->pk)))
		log_info("connect: request %s from %.8s (%s) waits: 'ray connections approve %s'",
			 e->id, p->id, host[0] ? host : "no usable name", e->id);
	if (e) {
		e->seen_ms = daemon_now_ms(d);
		snprintf(e->hostname, sizeof(e->hostname), "%s", host);
	}
	/* Without a place (flood): PENDING all the same; it asks again. */
	send_simple(d, p, CTL_CONNECT_PENDING, NULL);
}

bool connect_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct connect_out *o;

	if (m->type == CTL_CONNECT_REQ) {
		on_request(d, p, m);
		return true;
	}
	if (m->type != CTL_CONNECT_PENDING && m->type != CTL_CONNECT_OK &&
	    m->type != CTL_CONNECT_DENIED)
		return false;
	o = out_for_peer(d, p);
	if (o && o->state != OUT_LOOKUP)
		out_on_reply(d, o, m);
	return true; /* an answer nobody asked for is dropped */
}

void connect_on_peer_up(struct daemon *d, struct peer *p)
{
	struct connect_out *o = out_for_peer(d, p);

	if (o && o->state != OUT_LOOKUP)
		out_ask(d, o);
}

void connect_tick(struct daemon *d)
{
	struct connect *c = d->connect;
	uint64_t now = daemon_now_ms(d);
	struct connect_out *o, *next;

	publish_tick(d);
	holds_tick(d);
	for (o = c->outs; o; o = next) {
		next = o->next;
		if (now >= o->deadline) {
			out_fail(d, o, "no answer from the owner of contact id %s in %llu h",
				 o->contact_id, (unsigned long long)(CONNECT_OUT_MS / 3600000));
			continue;
		}
		if (now < o->next_ms)
			continue;
		if (o->state == OUT_LOOKUP && !o->lookup_busy)
			out_lookup(d, o); /* may free o: next is saved */
		else if (o->state != OUT_LOOKUP)
			out_ask(d, o);
	}
	for (size_t i = 0; i < c->n_in;) {
		if (now - c->in[i].seen_ms > CONNECT_IDLE_MS) {
			log_info("connect: request %s from %02x%02x%02x%02x.. was not asked again; dropped",
				 c->in[i].id, c->in[i].pk[0], c->in[i].pk[1], c->in[i].pk[2],
				 c->in[i].pk[3]);
			in_drop(c, &c->in[i]);
			continue;
		}
		i++;
	}
}

/* ---- commands ---- */

static struct connect_in *in_from_args(struct daemon *d, struct ipc_request *req)
{
	const char *id = json_string_value(json_object_get(req->args, "id"));
	struct connect *c = d->connect;

	for (size_t i = 0; id && i < c->n_in; i++)
		if (strcmp(c->in[i].id, id) == 0)
			return &c->in[i];
	ipc_reply_error(req, "no connection request with id '%s' (see 'ray connections')",
			id ? id : "");
	return NULL;
}

void connect_cmd_list(struct daemon *d, struct ipc_request *req)
{
	struct connect *c = d->connect;
	json_t *list = json_array();

	for (size_t i = 0; i < c->n_in; i++) {
		char id[IDENTITY_ID_LEN + 1];

		identity_id_format(c->in[i].pk, id);
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s, s:I}", "id", c->in[i].id,
						"endpoint_id", id, "hostname", c->in[i].hostname,
						"since", (json_int_t)c->in[i].since));
	}
	ipc_reply(req, list);
}

void connect_cmd_approve(struct daemon *d, struct ipc_request *req)
{
	struct connect_in *e = in_from_args(d, req);
	uint8_t pk[LIMIT_KEY_LEN];
	char host[HOSTNAME_BUF], err[200];
	struct network *n;

	if (!e)
		return;
	memcpy(pk, e->pk, LIMIT_KEY_LEN);
	snprintf(host, sizeof(host), "%s", e->hostname);
	if ((n = direct_with(d, pk))) {
		/* made meanwhile (they asked us too): that one */
		in_drop(d->connect, e);
		send_ok(d, peers_find(d, pk), n);
		ipc_reply(req, json_pack("{s:s}", "name", n->saved.name));
		return;
	}
	n = mint(d, pk, host, err, sizeof(err)); /* drops the request */
	if (!n) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	ipc_reply(req, json_pack("{s:s}", "name", n->saved.name));
}

void connect_cmd_deny(struct daemon *d, struct ipc_request *req)
{
	struct connect *c = d->connect;
	struct connect_in *e = in_from_args(d, req);

	if (!e)
		return;
	memcpy(c->denied[c->denied_next], e->pk, LIMIT_KEY_LEN);
	c->denied_next = (c->denied_next + 1) % CONNECT_DENIED_MAX;
	if (c->n_denied < CONNECT_DENIED_MAX)
		c->n_denied++;
	send_simple(d, peers_find(d, e->pk), CTL_CONNECT_DENIED, NULL);
	log_info("connect: request %s denied", e->id);
	in_drop(c, e);
	ipc_reply(req, NULL);
}

void connect_cmd_contact(struct daemon *d, struct ipc_request *req)
{
	ipc_reply(req, json_pack("{s:s}", "contact_id", d->connect->contact_id));
}

void connect_cmd_rotate(struct daemon *d, struct ipc_request *req)
{
	struct connect *c = d->connect;
	struct identity old = c->key, fresh;
	int ret;

	ret = identity_replace_file(d->home, CONTACT_KEY_FILE, &fresh);
	if (ret < 0) {
		identity_clear(&old);
		ipc_reply_error(req, "cannot store a new contact key: %s", strerror(-ret));
		return;
	}
	/* The old id now says "retired" for as long as a record naming us
	 * could still be found under it. */
	if (c->has_retired)
		contact_unpublish(d, c->retired.pk);
	c->has_retired = true;
	c->retired = old;
	c->retired_out = contact_put(d, &old, true) == 0;
	c->retired_until_ms = daemon_now_ms(d) + CONNECT_TTL_S * 1000ull;
	identity_clear(&old);
	c->key = fresh;
	identity_clear(&fresh);
	contact_id_format(c->key.pk, c->contact_id, sizeof(c->contact_id));
	c->published = false; /* the new record goes out on this tick */
	c->n_denied = c->denied_next = 0;
	log_info("connect: contact id rotated; the old one is retired");
	publish_tick(d);
	ipc_reply(req, json_pack("{s:s}", "contact_id", c->contact_id));
}

/* ---- life cycle and status ---- */

int connect_open(struct daemon *d)
{
	struct connect *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	ret = identity_load_or_create_file(d->home, CONTACT_KEY_FILE, &c->key);
	if (ret < 0) {
		free(c);
		return ret;
	}
	contact_id_format(c->key.pk, c->contact_id, sizeof(c->contact_id));
	ratelimit_init(&c->new_rl, CONNECT_NEW_BURST, CONNECT_NEW_EVERY_MS);
	d->connect = c;
	return 0;
}

void connect_close(struct daemon *d)
{
	struct connect *c = d->connect;

	if (!c)
		return;
	while (c->outs)
		out_fail(d, c->outs, "the daemon is shutting down");
	for (size_t i = 0; i < c->n_holds; i++) {
		struct peer *p = peers_find(d, c->holds[i].pk);

		if (p)
			peer_unwant(d, p, 0);
	}
	identity_clear(&c->retired);
	identity_clear(&c->key);
	free(c);
	d->connect = NULL;
}

bool connect_is_queued(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	return d->connect && in_find(d->connect, pk) != NULL;
}

size_t connect_pending(const struct daemon *d)
{
	return d->connect ? d->connect->n_in : 0;
}

int connect_contact_seed(const struct daemon *d, uint8_t out[LIMIT_KEY_LEN])
{
	if (!d->connect)
		return -ENOENT;
	memcpy(out, d->connect->key.seed, LIMIT_KEY_LEN);
	return 0;
}

const char *connect_contact_id(const struct daemon *d)
{
	return d->connect ? d->connect->contact_id : "";
}

json_t *connect_status(struct daemon *d)
{
	static const char *names[] = { "looking-up", "asking", "pending-approval" };
	json_t *list = json_array();

	for (struct connect_out *o = d->connect ? d->connect->outs : NULL; o; o = o->next)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "contact_id",
						      o->contact_id, "state", names[o->state],
						      "endpoint_id", o->peer ? o->peer->id : ""));
	return list;
}
