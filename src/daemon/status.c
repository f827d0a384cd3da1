/*
 * status: see status.h. The daemon and the offline path share one builder
 * per network; only the live fields (online, path, rtt, bytes) differ.
 */
#include "daemon/connect.h"
#include "daemon/files.h"
#include "daemon/status.h"
#include "util/limits.h"
#include "daemon/blobs.h"
#include "daemon/daemon.h"
#include "daemon/admission.h"
#include "daemon/datapath.h"
#include "daemon/gate.h"
#include "daemon/join.h"
#include "daemon/member_relay.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "dns/name_table.h"
#include "daemon/firewall_policy.h"
#include "dataplane/conntrack.h"
#include "dataplane/forward.h"
#include "home/store.h"
#include "mesh/address.h"
#include "mesh/group_blob.h"
#include "mesh/contact.h"
#include "mesh/identity.h"
#include "transport/magicsock.h"
#include "transport/quic.h"
#include "util/fileio.h"

#include <sodium.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *skeleton(bool active, const char *endpoint_id)
{
	return json_pack("{s:s, s:b, s:s, s:s, s:[], s:{s:i, s:i, s:i, s:i}}", "version",
			 RAYFISH_VERSION, "active", active, "endpoint_id", endpoint_id,
			 "contact_id", "", "networks", "pending", "join_requests", 0, "file_offers",
			 0, "connect_requests", 0, "firewall_suggestions", 0);
}

static void add_live(struct daemon *d, json_t *o, const char *id)
{
	uint8_t pk[LIMIT_KEY_LEN];
	struct datapath_counts dc;
	struct peer *p;

	if (!d || identity_id_parse(id, pk) < 0 || !(p = peers_find(d, pk)))
		return;
	datapath_peer_counts(d, p, &dc);
	json_object_set_new(o, "tx_bytes", json_integer((json_int_t)dc.tx_bytes));
	json_object_set_new(o, "rx_bytes", json_integer((json_int_t)dc.rx_bytes));
	json_object_set_new(o, "tx_packets", json_integer((json_int_t)dc.tx_packets));
	json_object_set_new(o, "rx_packets", json_integer((json_int_t)dc.rx_packets));
	if (!p->conn)
		return;
	struct quic_stats st;

	quic_conn_get_stats(p->conn, &st);
	char relay[200];

	json_object_set_new(o, "online", json_true());
	json_object_set_new(o, "path", json_string(member_relay_path(d, p, relay, sizeof(relay))));
	if (relay[0])
		json_object_set_new(o, "relay", json_string(relay));
	json_object_set_new(o, "rtt_ms", json_real(round(st.rtt_ms * 100) / 100));
	json_object_set_new(o, "quic",
			    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "cwnd",
				      (json_int_t)st.cwnd, "bytes_in_flight",
				      (json_int_t)st.bytes_in_flight, "packets_tx",
				      (json_int_t)st.tx_packets, "packets_rx",
				      (json_int_t)st.rx_packets, "datagrams_tx",
				      (json_int_t)st.dgrams_tx, "datagrams_rx",
				      (json_int_t)st.dgrams_rx, "datagrams_lost",
				      (json_int_t)st.dgrams_lost, "datagrams_dropped",
				      (json_int_t)st.dgrams_dropped));
}

static json_t *network_json(struct daemon *d, const struct net_saved *s, const struct group_blob *b,
			    const char *self_id)
{
	char v4[ADDRESS_V4_STRLEN], v6[ADDRESS_V6_STRLEN];
	const struct gb_member *me = group_blob_find_member(b, self_id);
	json_t *peers = json_array(), *o;
	uint8_t ip6[16];

	for (size_t i = 0; i < b->n_members; i++) {
		const struct gb_member *m = &b->members[i];

		if (strcmp(m->id, self_id) == 0)
			continue;
		address_ipv4_format(m->ipv4, v4);
		address_ipv6(m->id, ip6);
		address_ipv6_format(ip6, v6);
		o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:n, s:i, s:i}", "hostname",
			      m->hostname, "endpoint_id", m->id, "ipv4", v4, "ipv6", v6,
			      "coordinator", m->coordinator, "online", 0, "path", "none", "rtt_ms",
			      "tx_bytes", 0, "rx_bytes", 0);
		add_live(d, o, m->id);
		json_array_append_new(peers, o);
	}
	address_ipv4_format(me ? me->ipv4 : 0, v4);
	address_ipv6(self_id, ip6);
	address_ipv6_format(ip6, v6);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:o}", "name", s->name,
			 "room_id", s->direct ? "" : s->room_id, "role",
			 s->direct        ? "direct"
			 : s->coordinator ? "coordinator"
					  : "member",
			 "mode", b->mode == GROUP_MODE_OPEN ? "open" : "closed", "hostname",
			 s->hostname, "ipv4", v4, "ipv6", v6, "members", (json_int_t)b->n_members,
			 "roster_version", (json_int_t)b->version, "peers", peers);
}

/* The flow table: a peer past its share has new flows refused (left
 * untracked, so their replies face the rules), which shows here. */
static json_t *conntrack_json(struct daemon *d)
{
	const struct conntrack *ct = d->ct;

	if (!ct || !ct->slots)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "flows",
			 (json_int_t)conntrack_count(ct, daemon_now_ms(d)), "capacity",
			 (json_int_t)ct->cap, "per_peer", (json_int_t)ct->quota, "evicted",
			 (json_int_t)ct->stats.evicted, "refused", (json_int_t)ct->stats.refused);
}

/* Forwarding totals and drops by reason (the labelled drop counters). */
/* Whether the TUN carries vnet headers, which offloads the kernel took, and
 * what they did: super-packets read and the segments cut from them, packets
 * received that went in merged, and TUN writes (rx_packets / tun_writes is
 * the merge ratio). */
static json_t *offload_json(struct daemon *d, const struct forward_counters *c)
{
	unsigned o = d->tun.offloads;

	return json_pack("{s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:I}", "vnet_hdr", d->tun.vnet_hdr,
			 "csum", !!(o & TUN_F_CSUM), "tso", !!(o & (TUN_F_TSO4 | TUN_F_TSO6)),
			 "uso", !!(o & (TUN_F_USO4 | TUN_F_USO6)), "gso_in", (json_int_t)c->gso_in,
			 "gso_segments", (json_int_t)c->gso_segments, "rx_merged",
			 (json_int_t)c->rx_merged, "tun_writes", (json_int_t)c->tun_writes);
}

static json_t *dataplane_json(struct daemon *d)
{
	struct forward_counters c;

	if (!d->fwd)
		return json_null();
	forward_counters_get(d->fwd, &c);
	return json_pack(
		"{s:I, s:I, s:I, s:I, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
		"tx_packets", (json_int_t)c.tx_packets, "tx_bytes", (json_int_t)c.tx_bytes,
		"rx_packets", (json_int_t)c.rx_packets, "rx_bytes", (json_int_t)c.rx_bytes,
		"conntrack", conntrack_json(d), "offload", offload_json(d, &c), "drops",
		"parse_error", (json_int_t)c.parse_error, "no_route", (json_int_t)c.no_route,
		"spoofed_source", (json_int_t)c.spoofed_source, "not_for_us",
		(json_int_t)c.not_for_us, "too_big", (json_int_t)c.too_big, "send_failed",
		(json_int_t)c.send_failed, "tun_write_failed", (json_int_t)c.tun_write_failed,
		"congestion", (json_int_t)c.congestion_dropped, "firewall",
		(json_int_t)c.fw_dropped, "firewall_rejected", (json_int_t)c.fw_rejected,
		"offload_invalid", (json_int_t)c.offload_invalid);
}

/* Disco ping/pong counters: forged or stray disco packets show in rx_bad. */
static json_t *disco_json(struct daemon *d)
{
	struct magicsock_stats ms;

	if (!d->ms)
		return json_null();
	magicsock_get_stats(d->ms, &ms);
	return json_pack("{s:I, s:I, s:I, s:I}", "tx", (json_int_t)ms.disco_tx, "rx_ping",
			 (json_int_t)ms.disco_rx_ping, "rx_pong", (json_int_t)ms.disco_rx_pong,
			 "rx_bad", (json_int_t)ms.disco_rx_bad);
}

/* Relayed traffic: through TURN, for two members (we relay), through a
 * member (one relays for us), and what member relaying refused. */
static json_t *relay_json(struct daemon *d)
{
	struct magicsock_stats ms;

	if (!d->ms)
		return json_null();
	magicsock_get_stats(d->ms, &ms);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "turn_tx",
			 (json_int_t)ms.tx_relayed, "turn_errors", (json_int_t)ms.tx_relay_errors,
			 "forwarded", (json_int_t)ms.fwd_tx, "via_member_rx", (json_int_t)ms.fwd_rx,
			 "via_member_tx", (json_int_t)ms.fwd_sent, "denied",
			 (json_int_t)ms.fwd_denied, "no_path", (json_int_t)ms.fwd_no_path,
			 "over_rate", (json_int_t)ms.fwd_over_rate, "bad", (json_int_t)ms.fwd_bad);
}

/* Who was kept out: strangers now, refused, timed out; messages dropped,
 * log lines held back. */
static json_t *gate_json(struct daemon *d)
{
	struct quic_endpoint_stats qs = { 0 };
	uint64_t g[5];

	gate_counts(d, g);
	if (d->quic)
		quic_endpoint_get_stats(d->quic, &qs);
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "strangers",
			 (json_int_t)g[0], "refused", (json_int_t)g[1], "expired", (json_int_t)g[2],
			 "messages_dropped", (json_int_t)g[3], "log_lines_held", (json_int_t)g[4],
			 "quic_refused", (json_int_t)qs.rx_refused, "quic_refused_source",
			 (json_int_t)qs.refused_source, "quic_refused_key",
			 (json_int_t)qs.refused_key, "quic_refused_full",
			 (json_int_t)qs.refused_full, "quic_refused_token",
			 (json_int_t)qs.refused_token, "overloads", (json_int_t)qs.overloads);
}

/* Roster fetches by how they were answered; blobs connections we serve;
 * peers' requests waiting for a blob on its way to us. */
static json_t *blobs_json(struct daemon *d)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "fetched_mesh",
			 (json_int_t)d->blobs_fetched_mesh, "fetched_conn",
			 (json_int_t)d->blobs_fetched_conn, "serving", (json_int_t)blobs_serving(d),
			 "refused", (json_int_t)d->blobs_refused, "waiting",
			 (json_int_t)d->n_blob_waits);
}

/* Flat host.ray names that two networks give to two identities. */
static json_t *name_clashes_json(struct daemon *d)
{
	const char *names[64];
	size_t n = dns_table_flat_clashes(&d->dns_table, names, 64);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	return a;
}

json_t *status_build(struct daemon *d)
{
	json_t *st = skeleton(d->active, d->id.id);
	json_t *nets = json_object_get(st, "networks");

	for (struct network *n = d->nets; n; n = n->next)
		json_array_append_new(nets, network_json(d, &n->saved, &n->blob, d->id.id));
	json_object_set_new(json_object_get(st, "pending"), "join_requests",
			    json_integer((json_int_t)admission_pending_count(d)));
	json_object_set_new(json_object_get(st, "pending"), "firewall_suggestions",
			    json_integer((json_int_t)policy_pending_count(d)));
	json_object_set_new(json_object_get(st, "pending"), "file_offers",
			    json_integer((json_int_t)files_pending(d)));
	json_object_set_new(json_object_get(st, "pending"), "connect_requests",
			    json_integer((json_int_t)connect_pending(d)));
	json_object_set_new(st, "contact_id", json_string(connect_contact_id(d)));
	json_object_set_new(st, "joining", join_status(d));
	json_object_set_new(st, "connecting", connect_status(d));
	json_object_set_new(st, "last_crash",
			    d->last_crash[0] ? json_string(d->last_crash) : json_null());
	json_object_set_new(st, "dataplane", dataplane_json(d));
	json_object_set_new(st, "disco", disco_json(d));
	json_object_set_new(st, "relay", relay_json(d));
	json_object_set_new(st, "gate", gate_json(d));
	json_object_set_new(st, "blobs", blobs_json(d));
	/* addresses two rosters give to two identities (datapath.c) */
	json_object_set_new(st, "address_clashes", json_integer((json_int_t)d->table.n_clashes));
	json_object_set_new(st, "name_clashes", name_clashes_json(d));
	return st;
}

json_t *status_build_offline(const char *home)
{
	char path[4096], err[256];
	char *buf = NULL;
	size_t len = 0, count = 0;
	char id[IDENTITY_ID_LEN + 1] = "";
	struct net_saved *saved = NULL;
	struct identity ident;
	json_t *st, *nets;

	snprintf(path, sizeof(path), "%s/secret_key", home);
	if (fileio_read_all(path, 64, &buf, &len) == 0 && len == IDENTITY_SEED_LEN &&
	    identity_from_seed((const uint8_t *)buf, &ident) == 0) {
		snprintf(id, sizeof(id), "%s", ident.id);
		identity_clear(&ident);
	}
	free(buf);
	st = skeleton(false, id);
	buf = NULL;
	snprintf(path, sizeof(path), "%s/%s", home, CONTACT_KEY_FILE);
	if (fileio_read_all(path, 64, &buf, &len) == 0 && len == IDENTITY_SEED_LEN &&
	    identity_from_seed((const uint8_t *)buf, &ident) == 0) {
		char cid[CONTACT_ID_BUF];

		contact_id_format(ident.pk, cid, sizeof(cid));
		json_object_set_new(st, "contact_id", json_string(cid));
		identity_clear(&ident);
	}
	if (buf)
		sodium_memzero(buf, len);
	free(buf);
	nets = json_object_get(st, "networks");
	if (!id[0] || store_load_networks(home, &saved, &count, err, sizeof(err)) < 0)
		return st;
	for (size_t i = 0; i < count; i++) {
		struct group_blob b;
		uint8_t *bytes = NULL;

		if (store_load_blob(home, saved[i].blob_hash, &bytes, &len) < 0)
			continue;
		if (group_blob_decode(bytes, len, &b) == 0) {
			json_array_append_new(nets, network_json(NULL, &saved[i], &b, id));
			group_blob_free(&b);
		}
		free(bytes);
	}
	free(saved);
	return st;
}
