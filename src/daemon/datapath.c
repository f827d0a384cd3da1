/*
 * datapath: see datapath.h. The peer table is rebuilt whole on every roster
 * change (rare) rather than patched, so it can never drift from the rosters;
 * counters of the old entries are folded into their peers first.
 *
 * One address, one identity: when two rosters give an address to two
 * identities (coordinators of different networks never see each other's
 * members, so honest IPv4 collisions happen; so do forged ones), the one
 * that already had it keeps it (the old table says who) and, for addresses
 * new to both, the network joined first wins. A roster change elsewhere
 * thus cannot take a working address away from its holder. The table
 * refuses the other claim; each refusal is logged once, when it first shows
 * up, and counted in `ray status` (address_clashes).
 */
#include "daemon/datapath.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "dataplane/forward.h"
#include "mesh/address.h"
#include "transport/quic.h"
#include "util/log.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static int send_to_peer(void *peer, const uint8_t *pkt, size_t len, void *ud)
{
	struct peer *p = peer;

	(void)ud;
	if (!p->conn)
		return -ENOTCONN;
	return quic_conn_send_datagram(p->conn, pkt, len);
}

void datapath_on_writable(struct daemon *d)
{
	if (d->fwd)
		forward_resume(d->fwd);
}

static int fold_counters(const struct peer_table_item *it, void *ud)
{
	struct peer *p = it->entry->peer;

	(void)ud;
	p->tx_bytes += it->entry->tx_bytes;
	p->rx_bytes += it->entry->rx_bytes;
	p->tx_packets += it->entry->tx_packets;
	p->rx_packets += it->entry->rx_packets;
	return 0;
}

static void sync_addresses(struct daemon *d)
{
	uint8_t v6[16];

	address_ipv6(d->id.id, v6);
	for (struct network *n = d->nets; n; n = n->next) {
		if (d->tun_open) {
			int ret = tun_addr4_add(&d->tun, n->my_ipv4);

			if (ret < 0 && ret != -EEXIST)
				log_warn("tun: cannot add an address for %s: %s", n->saved.name,
					 strerror(-ret));
		}
		if (d->fwd)
			forward_local_add4(d->fwd, n->my_ipv4);
	}
	if (d->tun_open) {
		/* drop addresses of networks we left */
		for (unsigned i = 0; i < d->tun.n_v4;) {
			uint32_t a = d->tun.v4[i];
			bool used = false;

			for (struct network *n = d->nets; n; n = n->next)
				used |= n->my_ipv4 == a;
			if (!used) {
				tun_addr4_del(&d->tun, a);
				if (d->fwd)
					forward_local_del4(d->fwd, a);
				continue;
			}
			i++;
		}
		if (!d->tun.has_v6)
			tun_addr6_set(&d->tun, v6);
	}
	if (d->fwd)
		forward_local_set6(d->fwd, v6);
}

/* Our own addresses are never routed to a peer, whatever its roster says:
 * its packets would enter the TUN with our own source. */
static bool is_mine4(const struct daemon *d, uint32_t ip)
{
	for (const struct network *n = d->nets; n; n = n->next)
		if (n->my_ipv4 == ip)
			return true;
	return false;
}

/* With `old`, only what `old` already routes to p; without, everything. */
static bool wanted4(const struct peer_table *old, uint32_t ip, const struct peer *p)
{
	const struct peer_entry *e;

	if (!old)
		return true;
	e = peer_table_lookup4(old, ip);
	return e && e->peer == p;
}

static bool wanted6(const struct peer_table *old, const uint8_t ip[16], const struct peer *p)
{
	const struct peer_entry *e;

	if (!old)
		return true;
	e = peer_table_lookup6(old, ip);
	return e && e->peer == p;
}

static void add_route(struct daemon *d, const struct network *n, const struct gb_member *m,
		      struct peer *p, const struct peer_table *old)
{
	uint8_t v6[16];
	int ret;

	if (!is_mine4(d, m->ipv4) && wanted4(old, m->ipv4, p)) {
		ret = peer_table_insert4(&d->table, m->ipv4, p, n->index);
		/* -EADDRINUSE: a clash, recorded by the table, logged later */
		if (ret < 0 && ret != -EEXIST && ret != -EADDRINUSE)
			log_warn("datapath: route for %s.%s: %s", m->hostname, n->saved.name,
				 strerror(-ret));
	}
	/* IPv6 comes from the id alone: two ids on one IPv6 means a BLAKE3
	 * collision, but the table would refuse it all the same. */
	address_ipv6(m->id, v6);
	if (wanted6(old, v6, p))
		peer_table_insert6(&d->table, v6, p, n->index);
}

/* Every remote member of every roster, in join order. With `old`, only the
 * addresses `old` already routes to that member: the holders go first. */
/* Every peer's list of networks shared with us, for scoped firewall rules. */
static void note_networks(struct daemon *d)
{
	for (struct peer *p = d->peers; p; p = p->next)
		p->n_nets = 0;
	for (struct network *n = d->nets; n; n = n->next) {
		for (size_t i = 0; i < n->blob.n_members; i++) {
			uint8_t pk[LIMIT_KEY_LEN];
			struct peer *p;

			if (identity_id_parse(n->blob.members[i].id, pk) < 0 ||
			    !(p = peers_find(d, pk)) || p->n_nets == 16)
				continue;
			p->nets[p->n_nets++] = n->index;
		}
	}
}

static void add_routes(struct daemon *d, const struct peer_table *old)
{
	for (struct network *n = d->nets; n; n = n->next) {
		for (size_t i = 0; i < n->blob.n_members; i++) {
			const struct gb_member *m = &n->blob.members[i];
			uint8_t pk[LIMIT_KEY_LEN];
			struct peer *p;

			if (strcmp(m->id, d->id.id) == 0 || identity_id_parse(m->id, pk) < 0)
				continue;
			p = peers_find(d, pk);
			if (p)
				add_route(d, n, m, p, old);
		}
	}
}

static const char *net_name(const struct daemon *d, uint32_t index)
{
	for (const struct network *n = d->nets; n; n = n->next)
		if (n->index == index)
			return n->saved.name;
	return "?";
}

static bool clash_same(const struct peer_clash *a, const struct peer_clash *b)
{
	if (a->family != b->family || a->owner != b->owner || a->refused != b->refused)
		return false;
	return a->family == AF_INET ? a->v4 == b->v4 : memcmp(a->v6, b->v6, 16) == 0;
}

static bool clash_known(const struct peer_table *t, const struct peer_clash *c)
{
	for (size_t i = 0; i < t->n_clashes; i++)
		if (clash_same(&t->clashes[i], c))
			return true;
	return false;
}

/* Clashes the previous table did not have; the rest were logged then. */
static void log_new_clashes(const struct daemon *d, const struct peer_table *old)
{
	char a[ADDRESS_V6_STRLEN];

	for (size_t i = 0; i < d->table.n_clashes; i++) {
		const struct peer_clash *c = &d->table.clashes[i];
		const struct peer *owner = c->owner, *refused = c->refused;

		if (clash_known(old, c))
			continue;
		if (c->family == AF_INET)
			address_ipv4_format(c->v4, a);
		else
			address_ipv6_format(c->v6, a);
		log_warn("datapath: address clash: %s is %.16s's in %s, %s also gives it "
			 "to %.16s: kept for the first, packets to or from %.16s on it are "
			 "dropped",
			 a, owner->id, net_name(d, c->owner_net), net_name(d, c->refused_net),
			 refused->id, refused->id);
	}
}

void datapath_sync(struct daemon *d)
{
	struct peer_table old = d->table;

	peer_table_foreach(&old, fold_counters, NULL);
	peer_table_init(&d->table);
	/* the forwarder re-looks an entry up when gen moved: it must move */
	d->table.gen = old.gen + 1;
	note_networks(d);
	add_routes(d, &old);
	add_routes(d, NULL);
	log_new_clashes(d, &old);
	peer_table_close(&old);
	sync_addresses(d);
}

/* The largest IP packet the peer's connection carries now. */
static size_t peer_mtu(void *peer, void *ud)
{
	struct peer *p = peer;

	(void)ud;
	return p->conn ? quic_conn_max_datagram(p->conn) : 0;
}

/* Offloads unless the tun-offload setting (or RAYFISH_TUN_OFFLOAD) is off. */
static unsigned tun_flags(const struct daemon *d)
{
	return strcmp(settings_get(&d->settings, SET_TUN_OFFLOAD), "on") == 0 ? TUN_OPEN_OFFLOAD
									      : 0;
}

int datapath_up(struct daemon *d)
{
	struct forward_config cfg = { 0 };
	int ret;

	if (d->tun_open)
		return 0;
	ret = tun_open(&d->tun, settings_get(&d->settings, SET_TUN_NAME), 0, tun_flags(d));
	if (ret < 0) {
		log_error("tun: cannot open %s: %s", settings_get(&d->settings, SET_TUN_NAME),
			  strerror(-ret));
		return ret;
	}
	d->tun_open = true;
	cfg.tun_fd = d->tun.fd;
	cfg.vnet_hdr = d->tun.vnet_hdr;
	cfg.peers = &d->table;
	cfg.send = send_to_peer;
	cfg.send_ud = d;
	cfg.fw = d->fw;
	cfg.mtu = peer_mtu;
	ret = forward_open(&d->fwd, d->loop, &cfg);
	if (ret == 0)
		ret = forward_start(d->fwd);
	if (ret < 0) {
		log_error("forward: cannot start: %s", strerror(-ret));
		datapath_down(d);
		return ret;
	}
	datapath_sync(d);
	log_info("datapath: %s up", d->tun.name);
	return 0;
}

void datapath_down(struct daemon *d)
{
	if (d->fwd) {
		forward_close(d->fwd);
		d->fwd = NULL;
	}
	if (d->tun_open) {
		tun_close(&d->tun);
		d->tun_open = false;
		log_info("datapath: down");
	}
}

void datapath_deliver(struct daemon *d, struct peer *p, const uint8_t *pkt, size_t len)
{
	if (!d->fwd || len == 0)
		return;
	forward_deliver(d->fwd, p, pkt, len);
}

struct bytes_sum {
	struct peer *p;
	struct datapath_counts c;
};

static int sum_peer(const struct peer_table_item *it, void *ud)
{
	struct bytes_sum *s = ud;

	if (it->entry->peer == s->p) {
		s->c.tx_bytes += it->entry->tx_bytes;
		s->c.rx_bytes += it->entry->rx_bytes;
		s->c.tx_packets += it->entry->tx_packets;
		s->c.rx_packets += it->entry->rx_packets;
	}
	return 0;
}

void datapath_peer_counts(struct daemon *d, struct peer *p, struct datapath_counts *out)
{
	struct bytes_sum s = { p, { p->tx_bytes, p->rx_bytes, p->tx_packets, p->rx_packets } };

	peer_table_foreach(&d->table, sum_peer, &s);
	*out = s.c;
}
