/*
 * roster: see roster.h. Every change a coordinator makes goes through
 * network_publish, so members only ever adopt it from the signed record.
 */
#include "daemon/roster.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/gate.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "home/store.h"
#include "mesh/address.h"
#include "mesh/invite.h"
#include "proto/control.h"
#include "transport/quic.h"
#include "util/log.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROSTER_CHECK_MS 10000
/* A member's `ray hostname` waits this long for the roster naming it. */
#define RENAME_WAIT_MS 5000
#define RENAME_MILLI_MS (ROSTER_RENAME_EVERY_MS / 1000) /* ms per 1/1000 rename */

/* A member by endpoint id, hostname, host.net, or mesh IPv4/IPv6 address. */
static const struct gb_member *resolve_member(const struct network *n, const char *s)
{
	const struct gb_member *m;
	char host[HOSTNAME_BUF];
	uint8_t v6[16], mv6[16];
	uint32_t v4;
	const char *dot;

	if (!s)
		return NULL;
	if ((m = group_blob_find_member(&n->blob, s)))
		return m;
	if ((m = group_blob_find_member_by_hostname(&n->blob, s)))
		return m;
	dot = strchr(s, '.');
	if (dot && (size_t)(dot - s) < sizeof(host) &&
	    (strcmp(dot + 1, n->saved.name) == 0 || strcmp(dot + 1, n->blob.name) == 0)) {
		snprintf(host, sizeof(host), "%.*s", (int)(dot - s), s);
		if ((m = group_blob_find_member_by_hostname(&n->blob, host)))
			return m;
	}
	if (address_ipv4_parse(s, &v4) == 0)
		return group_blob_find_member_by_ipv4(&n->blob, v4);
	if (address_ipv6_parse(s, v6) == 0) {
		for (size_t i = 0; i < n->blob.n_members; i++) {
			address_ipv6(n->blob.members[i].id, mv6);
			if (memcmp(mv6, v6, 16) == 0)
				return &n->blob.members[i];
		}
	}
	return NULL;
}

static void send_to_peer_id(struct daemon *d, const char *id, const struct ctl_msg *m)
{
	uint8_t pk[LIMIT_KEY_LEN];
	struct peer *p;

	if (identity_id_parse(id, pk) == 0 && (p = peers_find(d, pk)) && p->conn)
		peer_send_ctl(d, p, m);
}

struct rename_ctx {
	const struct group_blob *blob;
	const char *id;
};

/* Taken by anyone but the member being renamed. */
static bool taken_by_other(const char *name, void *arg)
{
	const struct rename_ctx *c = arg;
	const struct gb_member *m = group_blob_find_member_by_hostname(c->blob, name);

	return m && strcmp(m->id, c->id) != 0;
}

/* Coordinator: renames member id to (a clash-free variant of) wanted.
 * Batched (network.h): renames come in bursts, from members or a script. */
static int rename_member(struct daemon *d, struct network *n, const char *id, const char *wanted)
{
	char name[HOSTNAME_BUF];
	struct group_blob blob;
	const struct gb_member *m;
	int ret;

	m = group_blob_find_member(&n->blob, id);
	if (!m)
		return -ENOENT;
	if (strcmp(m->hostname, wanted) == 0)
		return 0;
	ret = group_blob_copy(&blob, &n->blob);
	if (ret < 0)
		return ret;
	ret = hostname_resolve_clash(wanted, taken_by_other, &(struct rename_ctx){ &blob, id },
				     name);
	/* Asking for carl while already carl-1 changes nothing: no version. */
	if (ret == 0 && strcmp(name, m->hostname) == 0) {
		group_blob_free(&blob);
		return 0;
	}
	if (ret == 0)
		ret = group_blob_set_hostname(&blob, id, name);
	if (ret < 0) {
		group_blob_free(&blob);
		return ret;
	}
	log_info("network %s: %.8s is now %s", n->saved.name, id, name);
	return network_publish_batched(d, n, &blob, NULL);
}

bool roster_rename_take(struct rename_bucket *b, uint64_t now_ms, uint64_t *wait_ms)
{
	uint64_t gained;

	if (!b->last_ms) {
		b->tokens_milli = ROSTER_RENAME_BURST * 1000;
		b->last_ms = now_ms;
	}
	gained = now_ms > b->last_ms ? (now_ms - b->last_ms) / RENAME_MILLI_MS : 0;
	/* Advance by what was credited only, so fractions are not lost. */
	b->last_ms += gained * RENAME_MILLI_MS;
	if (gained >= ROSTER_RENAME_BURST * 1000 - b->tokens_milli) {
		b->tokens_milli = ROSTER_RENAME_BURST * 1000;
		b->last_ms = now_ms;
	} else {
		b->tokens_milli += gained;
	}
	if (b->tokens_milli >= 1000) {
		b->tokens_milli -= 1000;
		return true;
	}
	*wait_ms = (1000 - b->tokens_milli) * (uint64_t)RENAME_MILLI_MS;
	return false;
}

/* The rate state of member id; members the roster no longer lists make
 * room, so the table never outgrows the roster. */
static struct rename_bucket *rename_bucket(struct network *n, const char *id)
{
	struct rename_bucket *b;
	size_t i, kept = 0;

	for (i = 0; i < n->n_renames; i++)
		if (strcmp(n->renames[i].id, id) == 0)
			return &n->renames[i];
	if (n->n_renames >= GB_MAX_MEMBERS) {
		for (i = 0; i < n->n_renames; i++)
			if (group_blob_find_member(&n->blob, n->renames[i].id))
				n->renames[kept++] = n->renames[i];
		n->n_renames = kept;
		if (kept >= GB_MAX_MEMBERS)
			return NULL;
	}
	b = realloc(n->renames, (n->n_renames + 1) * sizeof(*b));
	if (!b)
		return NULL;
	n->renames = b;
	b = &n->renames[n->n_renames++];
	memset(b, 0, sizeof(*b));
	snprintf(b->id, sizeof(b->id), "%s", id);
	return b;
}

static void send_taken(struct daemon *d, struct peer *p, const struct network *n)
{
	struct ctl_msg m = { .type = CTL_ADMIN_TAKEN, .has_net = true };

	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	peer_send_ctl(d, p, &m);
}

static void send_denied(struct daemon *d, struct peer *p, const struct network *n, const char *why)
{
	struct ctl_msg m = { .type = CTL_DENIED, .has_net = true };

	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	snprintf(m.why, sizeof(m.why), "%s", why);
	peer_send_ctl(d, p, &m);
}

/* Coordinator: a member asks for a new name (CTL_HELLO). */
static void on_rename_request(struct daemon *d, struct network *n, struct peer *p,
			      const char *wanted)
{
	const struct gb_member *m = group_blob_find_member(&n->blob, p->id);
	struct rename_bucket *b;
	uint64_t wait_ms = 0;
	char why[160];

	if (!m || strcmp(m->hostname, wanted) == 0)
		return; /* nothing to sign, nothing spent */
	b = rename_bucket(n, p->id);
	if (b && roster_rename_take(b, daemon_now_ms(d), &wait_ms)) {
		b->warned = false;
		rename_member(d, n, p->id, wanted);
		return;
	}
	snprintf(why, sizeof(why),
		 "renamed too often: at most %d renames at once, then one per %d s; try again in %llu s",
		 ROSTER_RENAME_BURST, ROSTER_RENAME_EVERY_MS / 1000,
		 (unsigned long long)(wait_ms + 999) / 1000);
	if (b && !b->warned)
		log_warn("network %s: %s (%.8s) renames too often; refusing its renames until it slows down",
			 n->saved.name, m->hostname, p->id);
	if (b)
		b->warned = true;
	send_denied(d, p, n, why);
}

/* Member: a coordinator's answer to our rename (DENIED); true when it was one. */
static bool on_rename_denied(struct daemon *d, struct network *n, struct peer *p,
			     const struct ctl_msg *m)
{
	const struct gb_member *c = group_blob_find_member(&n->blob, p->id);

	if (!c || !c->coordinator)
		return false;
	if (!n->rename_req) {
		if (gate_log_ok(d, p))
			log_warn("network %s: %s refused a rename: %s", n->saved.name, c->hostname,
				 m->why);
		return true;
	}
	ipc_reply_error(n->rename_req, "%s refused the new name: %s", c->hostname,
			m->why[0] ? m->why : "no reason given");
	n->rename_req = NULL;
	return true;
}

/* Coordinator: a member we granted the key could not keep it (DENIED from
 * a member while no rename of ours waits); true when it was that. Any
 * member can send one, so the line passes the member's log bucket. */
static bool on_grant_refused(struct daemon *d, struct network *n, struct peer *p,
			     const struct ctl_msg *m)
{
	const struct gb_member *c = group_blob_find_member(&n->blob, p->id);

	if (!n->has_key || n->rename_req || !c)
		return false;
	if (n->grant_req && memcmp(p->pk, n->grant_pk, LIMIT_KEY_LEN) == 0) {
		ipc_reply_error(n->grant_req, "%s did not take the network key: %s", c->hostname,
				m->why[0] ? m->why : "no reason given");
		n->grant_req = NULL;
	}
	if (gate_log_ok(d, p))
		log_error("network %s: %s (%.8s) did not take the network key: %s; it cannot act as a coordinator until granted again ('ray admin %s add %s')",
			  n->saved.name, c->hostname, p->id, m->why[0] ? m->why : "no reason given",
			  n->saved.name, c->hostname);
	return true;
}

static void rename_answer_requested(struct network *n)
{
	const char *want = json_string_value(json_object_get(n->rename_req->args, "hostname"));

	ipc_reply(n->rename_req,
		  json_pack("{s:s, s:b}", "hostname", want ? want : "", "requested", 1));
	n->rename_req = NULL;
}

void roster_on_applied(struct daemon *d, struct network *n)
{
	(void)d;
	if (!n->rename_req || strcmp(n->rename_from, n->saved.hostname) == 0)
		return;
	ipc_reply(n->rename_req, json_pack("{s:s}", "hostname", n->saved.hostname));
	n->rename_req = NULL;
}

void roster_cmd_hostname(struct daemon *d, struct ipc_request *req)
{
	const char *want = json_string_value(json_object_get(req->args, "hostname"));
	struct ctl_msg m = { .type = CTL_HELLO, .has_net = true };
	struct network *n = network_from_args(d, req, false);
	size_t sent = 0;
	int ret;

	if (!n)
		return;
	if (!want || !hostname_valid(want)) {
		ipc_reply_error(req, "invalid hostname: use 1-63 of a-z, 0-9 and '-'");
		return;
	}
	if (n->has_key) {
		ret = rename_member(d, n, d->id.id, want);
		if (ret < 0) {
			ipc_reply_error(req, "cannot rename: %s", strerror(-ret));
			return;
		}
		ipc_reply(req, json_pack("{s:s}", "hostname", n->saved.hostname));
		return;
	}
	if (strcmp(n->saved.hostname, want) == 0) {
		ipc_reply(req, json_pack("{s:s}", "hostname", want));
		return;
	}
	/* Ask every coordinator we are connected to; the roster they sign is
	 * the answer (a clash comes back as name-1). */
	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	snprintf(m.hostname, sizeof(m.hostname), "%s", want);
	for (size_t i = 0; i < n->blob.n_members; i++) {
		uint8_t pk[LIMIT_KEY_LEN];
		struct peer *p;

		if (!n->blob.members[i].coordinator ||
		    identity_id_parse(n->blob.members[i].id, pk) < 0 || !(p = peers_find(d, pk)) ||
		    !p->conn)
			continue;
		if (peer_send_ctl(d, p, &m) == 0)
			sent++;
	}
	if (!sent) {
		ipc_reply_error(req,
				"no coordinator of %s is online to record the new name; try again later",
				n->saved.name);
		return;
	}
	/* The answer is the roster naming us, a refusal, or after
	 * RENAME_WAIT_MS just "requested"; an earlier question gets that now. */
	if (n->rename_req)
		rename_answer_requested(n);
	n->rename_req = req;
	snprintf(n->rename_from, sizeof(n->rename_from), "%s", n->saved.hostname);
	n->rename_deadline_ms = daemon_now_ms(d) + RENAME_WAIT_MS;
}

void roster_cmd_kick(struct daemon *d, struct ipc_request *req)
{
	const char *who = json_string_value(json_object_get(req->args, "member"));
	struct network *n = network_from_args(d, req, true);
	const struct gb_member *m;
	struct group_blob blob;
	char id[IDENTITY_ID_LEN + 1];
	struct ctl_msg sync = { .type = CTL_SYNC, .has_net = true };
	int ret;

	if (!n)
		return;
	m = resolve_member(n, who);
	if (!m) {
		ipc_reply_error(req, "no member '%s' in %s", who ? who : "", n->saved.name);
		return;
	}
	if (strcmp(m->id, d->id.id) == 0) {
		ipc_reply_error(req, "a coordinator cannot kick itself: use 'ray leave %s'",
				n->saved.name);
		return;
	}
	snprintf(id, sizeof(id), "%s", m->id);
	ret = group_blob_copy(&blob, &n->blob);
	if (ret == 0 && (ret = group_blob_remove_member(&blob, id)) < 0)
		group_blob_free(&blob);
	if (ret == 0)
		group_blob_remove_approved(&blob, id);
	if (ret == 0)
		ret = network_publish(d, n, &blob, NULL);
	if (ret < 0) {
		ipc_reply_error(req, "cannot kick: %s", strerror(-ret));
		return;
	}
	/* The kicked node learns it from the signed record, like anyone. */
	memcpy(sync.net, n->pk, LIMIT_KEY_LEN);
	sync.rec = n->saved.record;
	sync.rec_len = n->saved.record_len;
	send_to_peer_id(d, id, &sync);
	log_info("network %s: kicked %.8s", n->saved.name, id);
	ipc_reply(req, NULL);
}

void roster_cmd_nuke(struct daemon *d, struct ipc_request *req)
{
	struct network *n = network_from_args(d, req, true);
	struct group_blob blob;
	char name[HOSTNAME_BUF];
	int ret;

	if (!n)
		return;
	snprintf(name, sizeof(name), "%s", n->saved.name);
	/* An empty roster: every member that adopts it leaves, and joiners
	 * are told the network was deleted. */
	ret = group_blob_init(&blob, n->blob.name, n->blob.mode);
	if (ret == 0)
		blob.version = n->blob.version;
	if (ret == 0)
		ret = network_publish_final(d, n, &blob);
	if (ret < 0) {
		ipc_reply_error(req, "cannot nuke: %s", strerror(-ret));
		return;
	}
	log_info("network %s: nuked", name);
	ipc_reply(req, NULL);
}

/*
 * The key goes first; the roster names the grantee coordinator only once
 * it says the key is on its disk (CTL_ADMIN_TAKEN), so no roster names a
 * coordinator without a key, and the command's answer is the grantee's.
 */
void roster_cmd_admin_add(struct daemon *d, struct ipc_request *req)
{
	const char *who = json_string_value(json_object_get(req->args, "member"));
	struct network *n = network_from_args(d, req, true);
	struct ctl_msg grant = { .type = CTL_ADMIN_GRANT, .has_net = true, .has_key = true };
	const struct gb_member *m;
	uint8_t pk[LIMIT_KEY_LEN];
	struct peer *p;
	int ret;

	if (!n)
		return;
	if (n->grant_req) {
		ipc_reply_error(req, "another 'ray admin %s add' is waiting for its grantee",
				n->saved.name);
		return;
	}
	m = resolve_member(n, who);
	if (!m) {
		ipc_reply_error(req, "no member '%s' in %s", who ? who : "", n->saved.name);
		return;
	}
	if (identity_id_parse(m->id, pk) < 0 || !(p = peers_find(d, pk)) || !p->conn) {
		ipc_reply_error(
			req,
			"%s is not connected now: the key can only travel over a live connection",
			m->hostname);
		return;
	}
	memcpy(grant.net, n->pk, LIMIT_KEY_LEN);
	memcpy(grant.key, n->key.seed, LIMIT_KEY_LEN);
	ret = peer_send_ctl(d, p, &grant);
	sodium_memzero(grant.key, sizeof(grant.key));
	if (ret < 0) {
		ipc_reply_error(req, "cannot send the key: %s", strerror(-ret));
		return;
	}
	n->grant_req = req;
	memcpy(n->grant_pk, pk, LIMIT_KEY_LEN);
	n->grant_deadline_ms = daemon_now_ms(d) + ROSTER_GRANT_WAIT_MS;
}

/* The grantee stored the key: now the roster says so. */
static void on_grant_taken(struct daemon *d, struct network *n, struct peer *p)
{
	struct ipc_request *req = n->grant_req;
	struct group_blob blob;
	int ret;

	if (!req || !n->has_key || memcmp(p->pk, n->grant_pk, LIMIT_KEY_LEN) != 0)
		return;
	n->grant_req = NULL;
	ret = group_blob_copy(&blob, &n->blob);
	if (ret == 0 && (ret = group_blob_set_coordinator(&blob, p->id, true)) < 0)
		group_blob_free(&blob);
	if (ret == 0)
		ret = network_publish(d, n, &blob, NULL);
	if (ret < 0) {
		ipc_reply_error(req,
				"the grantee took the key but the roster could not be updated: %s",
				strerror(-ret));
		return;
	}
	log_info("network %s: %.8s is now a co-coordinator", n->saved.name, p->id);
	ipc_reply(req, NULL);
}

static void grant_expire(struct daemon *d, struct network *n)
{
	const struct gb_member *m;
	char id[IDENTITY_ID_LEN + 1];

	if (!n->grant_req || daemon_now_ms(d) < n->grant_deadline_ms)
		return;
	identity_id_format(n->grant_pk, id);
	m = group_blob_find_member(&n->blob, id);
	ipc_reply_error(
		n->grant_req,
		"%s did not confirm it took the key within %us; the roster is unchanged (is it running an older ray?)",
		m ? m->hostname : "the grantee", ROSTER_GRANT_WAIT_MS / 1000);
	n->grant_req = NULL;
}

void roster_cmd_admin_list(struct daemon *d, struct ipc_request *req)
{
	struct network *n = network_from_args(d, req, false);
	json_t *list;

	if (!n)
		return;
	list = json_array();
	for (size_t i = 0; i < n->blob.n_members; i++)
		if (n->blob.members[i].coordinator)
			json_array_append_new(list, json_pack("{s:s, s:s}", "endpoint_id",
							      n->blob.members[i].id, "hostname",
							      n->blob.members[i].hostname));
	ipc_reply(req, list);
}

void roster_cmd_ephemeral(struct daemon *d, struct ipc_request *req)
{
	const char *v = json_string_value(json_object_get(req->args, "value"));
	struct network *n = network_from_args(d, req, v && strcmp(v, "show") != 0);
	uint64_t secs = 0;

	if (!n)
		return;
	if (v && strcmp(v, "show") != 0) {
		if (strcmp(v, "off") != 0 && invite_parse_duration(v, &secs) < 0) {
			ipc_reply_error(req, "expected a duration like 7d or 12h, 'off' or 'show'");
			return;
		}
		n->saved.ephemeral_s = secs;
		networks_save(d);
	}
	ipc_reply(req, json_pack("{s:s, s:I}", "network", n->saved.name, "ephemeral_s",
				 (json_int_t)n->saved.ephemeral_s));
}

static bool from_coordinator(const struct network *n, const struct peer *p)
{
	const struct gb_member *m = group_blob_find_member(&n->blob, p->id);

	return m && m->coordinator;
}

/*
 * A key held only in memory would be gone at the next start while the
 * roster still names us coordinator: on disk first, or not taken at all
 * (the granter is told why).
 */
static void take_key(struct daemon *d, struct network *n, struct peer *p,
		     const struct identity *key)
{
	char why[160];
	int ret = store_save_key(d->home, n->saved.room_id, key->seed);

	if (ret < 0) {
		log_error("network %s: cannot store the network key %.8s granted (%s); not acting as a coordinator",
			  n->saved.name, p->id, strerror(-ret));
		snprintf(why, sizeof(why), "cannot store the network key: %s", strerror(-ret));
		send_denied(d, p, n, why);
		return;
	}
	n->key = *key;
	n->has_key = true;
	n->saved.coordinator = true;
	networks_save(d);
	log_info("network %s: %.8s made this node a co-coordinator", n->saved.name, p->id);
	send_taken(d, p, n);
}

static void on_admin_grant(struct daemon *d, struct network *n, struct peer *p,
			   const struct ctl_msg *m)
{
	struct identity key;

	if (!from_coordinator(n, p)) {
		if (gate_log_ok(d, p))
			log_warn("network %s: ignored a key grant from %.8s, not a coordinator",
				 n->saved.name, p->id);
		return;
	}
	if (identity_from_seed(m->key, &key) < 0 || memcmp(key.pk, n->pk, LIMIT_KEY_LEN) != 0) {
		if (gate_log_ok(d, p))
			log_warn("network %s: %.8s sent a key that is not this network's",
				 n->saved.name, p->id);
		identity_clear(&key);
		return;
	}
	if (!n->has_key)
		take_key(d, n, p, &key);
	else
		send_taken(d, p, n); /* held already: a grant again is answered */
	identity_clear(&key);
}

static void on_invite_gossip(struct daemon *d, struct network *n, struct peer *p,
			     const struct ctl_msg *m)
{
	struct invite_ledger led;
	int ret;

	if (!n->has_key || !from_coordinator(n, p))
		return;
	if (invite_ledger_load(&led, d->home, n->saved.room_id) < 0)
		return;
	if (m->type == CTL_INVITE_SHARE)
		invite_record_shared(&led, m->hash, m->iid, m->exp, m->hostname, daemon_unix_now());
	else
		invite_burn_hash(&led, m->hash);
	ret = invite_ledger_save(&led, d->home, n->saved.room_id);
	invite_ledger_free(&led);
	if (ret < 0)
		log_error("network %s: cannot save an invite %s learned from %.8s (%s)",
			  n->saved.name, m->type == CTL_INVITE_SHARE ? "minted" : "burned", p->id,
			  strerror(-ret));
}

bool roster_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct network *n = m->has_net ? network_find_pk(d, m->net) : NULL;

	switch (m->type) {
	case CTL_HELLO:
		if (n && n->has_key && hostname_valid(m->hostname))
			on_rename_request(d, n, p, m->hostname);
		return true;
	case CTL_DENIED:
		/* Joins in progress (join.c) get the rest. */
		return n && (on_grant_refused(d, n, p, m) || on_rename_denied(d, n, p, m));
	case CTL_ADMIN_GRANT:
		if (n)
			on_admin_grant(d, n, p, m);
		return true;
	case CTL_ADMIN_TAKEN:
		if (n)
			on_grant_taken(d, n, p);
		return true;
	case CTL_INVITE_SHARE:
	case CTL_INVITE_USED:
		if (n)
			on_invite_gossip(d, n, p, m);
		return true;
	default:
		return false;
	}
}

static void gossip(struct daemon *d, struct network *n, const struct ctl_msg *m)
{
	for (size_t i = 0; i < n->blob.n_members; i++)
		if (n->blob.members[i].coordinator && strcmp(n->blob.members[i].id, d->id.id) != 0)
			send_to_peer_id(d, n->blob.members[i].id, m);
}

void roster_share_invite(struct daemon *d, struct network *n, const struct invite *inv)
{
	struct ctl_msg m = { .type = CTL_INVITE_SHARE, .has_net = true, .has_hash = true };

	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	memcpy(m.hash, inv->hash, LIMIT_KEY_LEN);
	snprintf(m.iid, sizeof(m.iid), "%s", inv->id);
	m.exp = inv->expires;
	snprintf(m.hostname, sizeof(m.hostname), "%s", inv->hostname);
	gossip(d, n, &m);
}

void roster_invite_used(struct daemon *d, struct network *n, const uint8_t hash[LIMIT_KEY_LEN])
{
	struct ctl_msg m = { .type = CTL_INVITE_USED, .has_net = true, .has_hash = true };

	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	memcpy(m.hash, hash, LIMIT_KEY_LEN);
	gossip(d, n, &m);
}

/* Coordinator: members offline longer than the network's ephemeral time go. */
static void prune_ephemeral(struct daemon *d, struct network *n)
{
	uint64_t now = daemon_unix_now(), cutoff = n->saved.ephemeral_s;
	struct group_blob blob;
	bool changed = false;

	if (!n->has_key || !cutoff || group_blob_copy(&blob, &n->blob) < 0)
		return;
	for (size_t i = 0; i < n->blob.n_members; i++) {
		const struct gb_member *m = &n->blob.members[i];
		uint64_t seen = d->started_unix;
		uint8_t pk[LIMIT_KEY_LEN];
		struct peer *p;

		if (strcmp(m->id, d->id.id) == 0 || identity_id_parse(m->id, pk) < 0)
			continue;
		p = peers_find(d, pk);
		if (p && p->conn)
			continue;
		if (p && p->last_seen > seen)
			seen = p->last_seen;
		if (now > seen + cutoff) {
			log_info("network %s: %s offline for longer than %llus; removing it (ephemeral)",
				 n->saved.name, m->hostname, (unsigned long long)cutoff);
			group_blob_remove_member(&blob, m->id);
			changed = true;
		}
	}
	if (changed)
		network_publish(d, n, &blob, NULL);
	else
		group_blob_free(&blob);
}

void roster_tick(struct daemon *d)
{
	struct network *n, *next;

	for (n = d->nets; n; n = n->next) {
		if (n->rename_req && daemon_now_ms(d) >= n->rename_deadline_ms)
			rename_answer_requested(n);
		grant_expire(d, n);
	}
	if (daemon_now_ms(d) < d->next_roster_check_ms)
		return;
	d->next_roster_check_ms = daemon_now_ms(d) + ROSTER_CHECK_MS;
	for (n = d->nets; n; n = next) {
		next = n->next;
		prune_ephemeral(d, n);
	}
}
