/*
 * peers: see peers.h.
 */
#include "daemon/peers.h"
#include "util/limits.h"
#include "daemon/audit.h"
#include "daemon/daemon.h"
#include "daemon/gate.h"
#include "daemon/network.h"
#include "discovery/payload.h"
#include "daemon/records.h"
#include "proto/control.h"
#include "transport/quic.h"
#include "util/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define ADDRS_STALE_MS 20000
#define RELAY_REFRESH_MS 15000

struct peer *peers_find(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	for (struct peer *p = d->peers; p; p = p->next)
		if (memcmp(p->pk, pk, LIMIT_KEY_LEN) == 0)
			return p;
	return NULL;
}

struct peer *peers_ensure(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	struct peer *p = peers_find(d, pk);

	if (p || memcmp(pk, d->id.pk, LIMIT_KEY_LEN) == 0)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->pk, pk, LIMIT_KEY_LEN);
	identity_id_format(pk, p->id);
	p->backoff_ms = BACKOFF_MIN_MS;
	p->next = d->peers;
	d->peers = p;
	return p;
}

static void peer_free_if_unused(struct daemon *d, struct peer *p)
{
	struct peer **pp;

	if (p->wants || p->conn || p->dialing || p->lookup_busy)
		return;
	for (pp = &d->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	peer_table_remove_peer(&d->table, p);
	magicsock_remove_peer(d->ms, p->pk);
	free(p);
	daemon_peer_freed(d); /* compiled rules may have pointed at p */
}

void peer_want(struct daemon *d, struct peer *p)
{
	p->wants++;
	if (p->wants == 1)
		peer_dial_soon(d, p);
}

void peer_unwant(struct daemon *d, struct peer *p, uint64_t code)
{
	struct quic_conn *conn = p->conn, *dialing = p->dialing;

	if (p->wants == 0 || --p->wants > 0)
		return;
	/* Detach first: closing reports synchronously and must not find p. */
	p->conn = p->dialing = NULL;
	if (conn) {
		quic_conn_set_data(conn, NULL);
		quic_conn_close(conn, code);
	}
	if (dialing) {
		quic_conn_set_data(dialing, NULL);
		quic_conn_close(dialing, code);
	}
	peer_free_if_unused(d, p);
}

void peer_dial_soon(struct daemon *d, struct peer *p)
{
	p->next_dial_ms = daemon_now_ms(d);
}

int peer_send_ctl(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	msgpack_sbuffer sb;
	int ret;

	(void)d;
	if (!p->conn)
		return -ENOTCONN;
	msgpack_sbuffer_init(&sb);
	ret = ctl_encode(m, &sb);
	if (ret == 0)
		ret = quic_conn_send_msg(p->conn, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	if (ret < 0)
		log_warn("peer %.8s: cannot send %s: %s", p->id, ctl_type_name(m->type),
			 strerror(-ret));
	return ret;
}

static void dial(struct daemon *d, struct peer *p)
{
	int ret = quic_connect(d->quic, p->pk, QUIC_ALPN_MESH, &p->dialing);

	if (ret < 0) {
		p->dialing = NULL;
		log_debug("peer %.8s: dial failed: %s", p->id, strerror(-ret));
		return;
	}
	quic_conn_set_data(p->dialing, p);
	log_debug("peer %.8s: dialling", p->id);
}

/* Hands magicsock the peer's TURN relayed address (family 0: none). */
static void set_relay(struct daemon *d, struct peer *p, const union ms_addr *relay)
{
	char s[MS_ADDR_STRLEN];
	int ret;

	ret = magicsock_set_peer_relay(d->ms, p->pk, ms_addr_len(relay) ? relay : NULL);
	if (ret < 0)
		log_debug("peer %.8s: relay %s refused: %s", p->id,
			  ms_addr_fmt(relay, s, sizeof(s)), strerror(-ret));
}

/* Takes the addresses of p's signed endpoint record (DHT or CTL_ENDPOINT);
 * -EBADMSG when it does not verify. */
static int apply_endpoint(struct daemon *d, struct peer *p, const uint8_t *rec, size_t len)
{
	union ms_addr addrs[MAGICSOCK_MAX_ADDRS], relay;
	uint64_t flags = 0;
	int n;

	n = records_endpoint_addrs(p->pk, rec, len, addrs, MAGICSOCK_MAX_ADDRS, &relay, &flags);
	if (n < 0)
		return n;
	p->relay_offer = flags & ENDPOINT_FLAG_RELAY;
	/* The relay candidate first: setting the addresses may dial at once. */
	set_relay(d, p, &relay);
	if (n > 0)
		peer_set_addrs(d, p, false, addrs, (size_t)n);
	return 0;
}

static void on_endpoint(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], const uint8_t *rec,
			size_t len, void *ud)
{
	struct peer *p = peers_find(d, pk);

	(void)ud;
	if (!p)
		return;
	p->lookup_busy = false;
	if (!rec || apply_endpoint(d, p, rec, len) < 0)
		log_debug("peer %.8s: no endpoint record found", p->id);
	peer_free_if_unused(d, p);
}

static void send_endpoint(struct daemon *d, struct peer *p)
{
	struct ctl_msg m = { .type = CTL_ENDPOINT };

	if (!p->conn || !d->endpoint_rec_len)
		return;
	m.rec = d->endpoint_rec;
	m.rec_len = d->endpoint_rec_len;
	peer_send_ctl(d, p, &m);
}

void peers_broadcast_endpoint(struct daemon *d)
{
	for (struct peer *p = d->peers; p; p = p->next)
		send_endpoint(d, p);
}

bool peers_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	if (m->type != CTL_ENDPOINT)
		return false;
	if (apply_endpoint(d, p, m->rec, m->rec_len) < 0 && gate_log_ok(d, p))
		log_warn("peer %.8s: endpoint record over the connection does not verify", p->id);
	return true;
}

void peer_set_addrs(struct daemon *d, struct peer *p, bool lan, const union ms_addr *addrs,
		    size_t n)
{
	union ms_addr all[MAGICSOCK_MAX_ADDRS];
	size_t count = 0;

	if (lan) {
		p->n_lan = n < 4 ? n : 4;
		memcpy(p->lan_addrs, addrs, p->n_lan * sizeof(*addrs));
	} else {
		p->n_dht = n < MAGICSOCK_MAX_ADDRS ? n : MAGICSOCK_MAX_ADDRS;
		memcpy(p->dht_addrs, addrs, p->n_dht * sizeof(*addrs));
	}
	for (int pass = 0; pass < 2; pass++) {
		const union ms_addr *src = pass == 0 ? p->lan_addrs : p->dht_addrs;
		size_t m = pass == 0 ? p->n_lan : p->n_dht;

		for (size_t i = 0; i < m && count < MAGICSOCK_MAX_ADDRS; i++) {
			bool dup = false;

			for (size_t k = 0; k < count; k++)
				dup |= ms_addr_eq(&all[k], &src[i]);
			if (!dup)
				all[count++] = src[i];
		}
	}
	if (count == 0 || magicsock_set_peer_addrs(d->ms, p->pk, all, count) < 0)
		return;
	p->addrs_ms = daemon_now_ms(d);
	if (p->wants && !p->conn && !p->dialing)
		dial(d, p);
}

static void backoff(struct daemon *d, struct peer *p)
{
	p->next_dial_ms = daemon_now_ms(d) + p->backoff_ms;
	p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
}

void peers_tick(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);

	for (struct peer *p = d->peers; p; p = p->next) {
		/* A peer we reach only through the relay, or not at all right
		 * now: keep its candidate addresses fresh (its public address
		 * may appear after we first looked, its relay or NAT may have
		 * restarted and given it new addresses) so the direct probes
		 * can open a path and the relay sends to its current
		 * allocation. The connection may still be up meanwhile, but
		 * nothing of ours reaches it, CTL_ENDPOINT included. */
		if (p->conn && !p->lookup_busy && now - p->addrs_ms > RELAY_REFRESH_MS &&
		    magicsock_peer_path(d->ms, p->pk, NULL) != MS_PATH_DIRECT) {
			p->addrs_ms = now;
			if (records_lookup(d, RECORD_ENDPOINT, p->pk, on_endpoint, NULL) == 0)
				p->lookup_busy = true;
		}
		if (!p->wants || p->conn || p->dialing || now < p->next_dial_ms)
			continue;
		backoff(d, p);
		if (!p->addrs_ms || now - p->addrs_ms > ADDRS_STALE_MS) {
			/* Dial what we know now; refresh the addresses meanwhile. */
			if (p->addrs_ms)
				dial(d, p);
			if (!p->lookup_busy &&
			    records_lookup(d, RECORD_ENDPOINT, p->pk, on_endpoint, NULL) == 0)
				p->lookup_busy = true;
			continue;
		}
		dial(d, p);
	}
}

void peers_on_confirmed(struct daemon *d, struct quic_conn *c)
{
	struct peer *p = peers_ensure(d, quic_conn_peer(c));

	if (!p) {
		quic_conn_close(c, QUIC_CODE_NONE);
		return;
	}
	if (p->dialing == c)
		p->dialing = NULL;
	quic_conn_set_data(c, p);
	p->conn = c;
	gate_on_peer_up(d, p);
	p->backoff_ms = BACKOFF_MIN_MS;
	p->last_seen = daemon_unix_now();
	audit_peer(d, p, "connect");
	if (gate_log_ok(d, p))
		log_info("peer %.8s: connected (%s)", p->id,
			 quic_conn_is_client(c) ? "we dialled" : "they dialled");
	send_endpoint(d, p);
	daemon_peer_up(d, p);
}

void peers_on_closed(struct daemon *d, struct quic_conn *c, int reason, uint64_t code)
{
	struct peer *p = quic_conn_get_data(c);
	uint8_t pk[LIMIT_KEY_LEN];

	if (!p)
		return;
	if (p->dialing == c)
		p->dialing = NULL;
	if (p->conn == c) {
		p->conn = NULL;
		p->last_seen = daemon_unix_now();
		audit_peer(d, p, "disconnect");
		if (gate_log_ok(d, p))
			log_info("peer %.8s: disconnected (%s)", p->id,
				 quic_close_reason_name(reason));
		/* A leaver pruned from the last network it shares with us
		 * loses its last want there, and is freed. */
		memcpy(pk, p->pk, LIMIT_KEY_LEN);
		if (reason != QUIC_CLOSE_SUPERSEDED)
			daemon_peer_down(d, p,
					 reason == QUIC_CLOSE_PEER && code == QUIC_CODE_LEAVE);
		if (!(p = peers_find(d, pk)))
			return;
		if (p->wants)
			backoff(d, p);
	}
	peer_free_if_unused(d, p);
}

void peers_close_all(struct daemon *d)
{
	while (d->peers) {
		struct peer *p = d->peers;

		d->peers = p->next;
		if (p->conn)
			quic_conn_set_data(p->conn, NULL);
		if (p->dialing)
			quic_conn_set_data(p->dialing, NULL);
		free(p);
	}
}
