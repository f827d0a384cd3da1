/*
 * join: `ray join ROOM_ID`, the joiner's side of admission.
 *
 * Looks the network record up in the DHT, then asks its seed peers (the
 * coordinators first) one after another: connect, send JOIN_REQ, wait for
 * WELCOME / PENDING / DENIED. A WELCOME carries the network record signed by
 * the network key; the joiner verifies it, fetches the roster blob it names
 * from the same peer, checks its hash and that it lists this node, and only
 * then adopts the network. Each step has a deadline, and the whole join
 * answers the CLI within JOIN_TOTAL_MS.
 *
 * An invite's secret goes only to a coordinator: the one that minted it
 * (named in the code) or one the network's roster lists as coordinator. The
 * roster is fetched (by the hash in the signed record, so whoever serves it
 * cannot forge it) before the secret goes to any other seed; a plain member
 * gets the request without it and can only say it is not a coordinator.
 */
#include "daemon/blobs.h"
#include "util/limits.h"
#include "daemon/magicdns.h"
#include "daemon/daemon.h"
#include "daemon/join.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "daemon/records.h"
#include "discovery/payload.h"
#include "discovery/record.h"
#include "mesh/address.h"
#include "mesh/invite.h"
#include "proto/control.h"
#include "util/log.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOIN_STEP_MS 10000
#define JOIN_TOTAL_MS 100000
/* Times a seed whose roster could not be fetched after its WELCOME is
 * asked again (see on_blob). */
#define JOIN_REFETCH_MAX 3
/* A network created a moment ago may not be findable yet: look again. */
#define LOOKUP_FOR_MS 30000
#define LOOKUP_RETRY_MIN_MS 500
#define LOOKUP_RETRY_MAX_MS 4000

enum join_state {
	J_LOOKUP,
	J_ASKING,
	J_PENDING,
	J_FETCHING
};

#define PENDING_RETRY_MIN_MS 2000
#define PENDING_RETRY_MAX_MS 30000

struct join_op {
	struct join_op *next;
	struct ipc_request *req;
	enum join_state state;
	uint8_t net[LIMIT_KEY_LEN];
	char alias[HOSTNAME_BUF];
	char hostname[HOSTNAME_BUF];
	bool auto_accept;
	uint8_t seeds[NETWORK_SEEDS_MAX][LIMIT_KEY_LEN];
	size_t n_seeds, cur;
	struct peer *peer; /* the seed being asked; we hold a want */
	uint64_t step_deadline, deadline;
	uint8_t rec[RECORD_MAX];
	size_t rec_len;
	char last_error[200];
	bool has_invite;
	uint8_t secret[INVITE_SECRET_LEN];
	uint8_t minter[LIMIT_KEY_LEN];    /* the coordinator named in the invite code */
	uint8_t blob_hash[LIMIT_KEY_LEN]; /* from the signed network record */
	bool has_hash;
	bool roster_checked;  /* coords holds the roster's coordinators */
	bool verifying;       /* fetching the roster before asking */
	size_t verified_seed; /* cur when the last roster fetch began, +1 */
	uint8_t coords[NETWORK_SEEDS_MAX][LIMIT_KEY_LEN];
	size_t n_coords;
	uint32_t retry_ms;        /* J_PENDING: backoff between retries */
	uint32_t lookup_retry_ms; /* J_LOOKUP: likewise */
	unsigned lookups;         /* J_LOOKUP: DHT lookups done */
	uint64_t lookup_until, next_lookup_ms;
	uint64_t next_retry_ms;
	unsigned refetches; /* JOIN_REQs sent again after a failed fetch */
	bool direct;        /* `ray connect`: a two-peer network */
	bool rejoin;        /* restored from a backup: already in the roster */
};

static void join_free(struct daemon *d, struct join_op *j)
{
	struct join_op **pp;

	for (pp = &d->joins; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	if (j->peer)
		peer_unwant(d, j->peer, 0);
	sodium_memzero(j->secret, sizeof(j->secret));
	free(j);
}

static void join_fail(struct daemon *d, struct join_op *j, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void join_fail(struct daemon *d, struct join_op *j, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("join: %s", msg);
	d->joins_failed++;
	if (j->req)
		ipc_reply_error(j->req, "%s", msg);
	j->req = NULL;
	join_free(d, j);
}

static void ask_next_seed(struct daemon *d, struct join_op *j);
static void on_blob(struct daemon *d, const uint8_t *data, size_t len, void *ud);
static void verify_roster(struct daemon *d, struct join_op *j, struct peer *p);

/* Whether the invite's secret may go to pk. */
static bool is_coordinator(const struct join_op *j, const uint8_t pk[LIMIT_KEY_LEN])
{
	if (memcmp(pk, j->minter, LIMIT_KEY_LEN) == 0)
		return true;
	for (size_t i = 0; j->roster_checked && i < j->n_coords; i++)
		if (memcmp(j->coords[i], pk, LIMIT_KEY_LEN) == 0)
			return true;
	return false;
}

static void send_join_req(struct daemon *d, struct join_op *j)
{
	struct ctl_msg m = { .type = CTL_JOIN_REQ, .has_net = true };

	if (j->verifying)
		return; /* on_roster sends it */
	if (j->rejoin) {
		/* Already a member of the roster the DHT record names: no
		 * admission, just that roster from whoever holds it. */
		j->state = J_FETCHING;
		j->step_deadline = daemon_now_ms(d) + JOIN_STEP_MS;
		log_info("join: fetching the roster from %.8s to rejoin", j->peer->id);
		if (blob_fetch(d, j->peer->pk, j->blob_hash, on_blob, j) < 0)
			ask_next_seed(d, j);
		return;
	}
	if (j->has_invite && !j->roster_checked && !is_coordinator(j, j->peer->pk) &&
	    j->verified_seed != j->cur + 1) {
		j->verified_seed = j->cur + 1; /* once per seed: a failure sends without */
		verify_roster(d, j, j->peer);
		if (j->verifying)
			return;
	}
	memcpy(m.net, j->net, LIMIT_KEY_LEN);
	snprintf(m.hostname, sizeof(m.hostname), "%s", j->hostname);
	if (j->has_invite && is_coordinator(j, j->peer->pk)) {
		m.has_invite = true;
		memcpy(m.invite, j->secret, sizeof(m.invite));
	}
	if (peer_send_ctl(d, j->peer, &m) < 0)
		snprintf(j->last_error, sizeof(j->last_error), "sending the join request failed");
	else
		log_info("join: asked %.8s for admission", j->peer->id);
}

static void ask_next_seed(struct daemon *d, struct join_op *j)
{
	if (j->peer) {
		peer_unwant(d, j->peer, 0);
		j->peer = NULL;
	}
	while (j->cur < j->n_seeds) {
		struct peer *p = peers_ensure(d, j->seeds[j->cur++]);

		if (!p)
			continue; /* our own key */
		j->peer = p;
		j->state = J_ASKING;
		j->step_deadline = daemon_now_ms(d) + JOIN_STEP_MS;
		peer_want(d, p);
		if (p->conn)
			send_join_req(d, j);
		return;
	}
	join_fail(d, j, "could not reach a coordinator of the network (%zu tried)%s%s", j->n_seeds,
		  j->last_error[0] ? ": " : "", j->last_error);
}

struct roster_check {
	uint8_t net[LIMIT_KEY_LEN];
};

/* The roster (checked against the record's hash by blob_fetch): who its
 * coordinators are. */
static void on_roster(struct daemon *d, const uint8_t *data, size_t len, void *ud)
{
	struct roster_check *rc = ud;
	struct group_blob b;
	struct join_op *j;

	for (j = d->joins; j; j = j->next)
		if (j->verifying && memcmp(j->net, rc->net, LIMIT_KEY_LEN) == 0)
			break;
	free(rc);
	if (!j)
		return;
	j->verifying = false;
	/* Unverified (fetch failed): this seed gets no secret, the next seed
	 * is asked for the roster again. */
	if (data && group_blob_decode(data, len, &b) == 0) {
		j->roster_checked = true;
		for (size_t i = 0; i < b.n_members && j->n_coords < NETWORK_SEEDS_MAX; i++)
			if (b.members[i].coordinator &&
			    identity_id_parse(b.members[i].id, j->coords[j->n_coords]) == 0)
				j->n_coords++;
		group_blob_free(&b);
		log_info("join: the roster names %zu coordinator(s); the invite goes only to them",
			 j->n_coords);
	}
	if (j->peer && j->peer->conn && j->state == J_ASKING)
		send_join_req(d, j);
}

static void verify_roster(struct daemon *d, struct join_op *j, struct peer *p)
{
	struct roster_check *rc;

	if (!j->has_hash || !(rc = malloc(sizeof(*rc))))
		return;
	memcpy(rc->net, j->net, LIMIT_KEY_LEN);
	j->verifying = true;
	if (blob_fetch(d, p->pk, j->blob_hash, on_roster, rc) < 0) {
		free(rc);
		j->verifying = false;
	}
}

static void on_record(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], const uint8_t *rec,
		      size_t len, void *ud)
{
	struct network_payload p;
	struct join_op *j;
	struct record r;

	(void)ud;
	for (j = d->joins; j; j = j->next)
		if (j->state == J_LOOKUP && memcmp(j->net, pk, LIMIT_KEY_LEN) == 0)
			break;
	if (!j)
		return;
	if (!rec && j->n_seeds == 0) {
		uint64_t now = daemon_now_ms(d);

		j->lookups++;
		if (now < j->lookup_until) {
			log_info("join: network not in the DHT yet (lookup %u); looking again in %u ms",
				 j->lookups, j->lookup_retry_ms);
			j->next_lookup_ms = now + j->lookup_retry_ms;
			j->lookup_retry_ms = j->lookup_retry_ms * 2 > LOOKUP_RETRY_MAX_MS
						     ? LOOKUP_RETRY_MAX_MS
						     : j->lookup_retry_ms * 2;
			return;
		}
		join_fail(d, j,
			  "no network with that room id was found in the DHT after %u lookups in %u s (check the id, and that the DHT is reachable: 'ray config' dht-bootstrap)",
			  j->lookups, LOOKUP_FOR_MS / 1000);
		return;
	}
	if (rec && (record_decode(rec, len, RECORD_NETWORK, pk, daemon_unix_now(), &r) < 0 ||
		    network_payload_decode(r.payload, r.payload_len, &p) < 0)) {
		join_fail(d, j, "the network's DHT record is malformed");
		return;
	}
	if (rec && p.mesh_version > NETWORK_MESH_VERSION) {
		join_fail(d, j,
			  "incompatible mesh protocol version %u (this build speaks %u); update rayfish",
			  (unsigned)p.mesh_version, (unsigned)NETWORK_MESH_VERSION);
		return;
	}
	if (rec && p.n_seeds == 0) {
		join_fail(d, j, "the network's record names no members: it was deleted");
		return;
	}
	if (rec) {
		memcpy(j->blob_hash, p.blob_hash, LIMIT_KEY_LEN);
		j->has_hash = true;
	}
	if (j->rejoin && (!rec || len > sizeof(j->rec))) {
		join_fail(d, j, "the network's record was not found in the DHT");
		return;
	}
	if (j->rejoin) {
		memcpy(j->rec, rec, len); /* what the fetched roster is checked against */
		j->rec_len = len;
	}
	/* The invite's minter (already first) leads; the record's seeds
	 * (coordinators first) follow. */
	for (size_t i = 0; rec && i < p.n_seeds && j->n_seeds < NETWORK_SEEDS_MAX; i++) {
		bool dup = memcmp(p.seeds[i], d->id.pk, LIMIT_KEY_LEN) == 0; /* not us */

		for (size_t k = 0; k < j->n_seeds; k++)
			dup |= memcmp(j->seeds[k], p.seeds[i], LIMIT_KEY_LEN) == 0;
		if (!dup)
			memcpy(j->seeds[j->n_seeds++], p.seeds[i], LIMIT_KEY_LEN);
	}
	ask_next_seed(d, j);
}

static void reply_joined(struct daemon *d, struct join_op *j, struct network *n)
{
	char v4[ADDRESS_V4_STRLEN], v6[ADDRESS_V6_STRLEN];
	uint8_t ip6[16];

	if (!j->req)
		return; /* approved after the CLI was told "pending" */
	address_ipv4_format(n->my_ipv4, v4);
	address_ipv6(d->id.id, ip6);
	address_ipv6_format(ip6, v6);
	/* A direct network's room id is nobody else's business: not shown. */
	ipc_reply(j->req, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", n->saved.name, "room_id",
				    n->saved.direct ? "" : n->saved.room_id, "hostname",
				    n->saved.hostname, "ipv4", v4, "ipv6", v6));
	j->req = NULL;
}

static bool alias_taken(const char *name, void *arg)
{
	return network_find(arg, name) != NULL;
}

static void on_blob(struct daemon *d, const uint8_t *data, size_t len, void *ud)
{
	struct join_op *j = ud;
	struct network *n;
	int ret;

	if (!data && d->stopping) {
		join_fail(d, j, "the daemon is shutting down");
		return;
	}
	if (!data) {
		snprintf(j->last_error, sizeof(j->last_error), "fetching the roster failed");
		/* A node keeps only its current roster and the one before
		 * (the merge base): two more changes between the WELCOME and
		 * our fetch (others joining at the same moment) and the
		 * roster it named is gone. We are a member by then, so asking
		 * the same seed again gets a WELCOME naming its current one. */
		if (j->peer && j->peer->conn && j->refetches < JOIN_REFETCH_MAX) {
			j->refetches++;
			log_info("join: %.8s no longer serves the roster it named; asking again",
				 j->peer->id);
			j->state = J_ASKING;
			j->step_deadline = daemon_now_ms(d) + JOIN_STEP_MS;
			send_join_req(d, j);
			return;
		}
		ask_next_seed(d, j);
		return;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		join_fail(d, j, "out of memory");
		return;
	}
	memcpy(n->pk, j->net, LIMIT_KEY_LEN);
	identity_id_format(j->net, n->saved.room_id);
	n->saved.auto_accept_firewall = j->auto_accept;
	n->saved.direct = j->direct;
	n->saved.coordinator = j->rejoin && network_take_stored_key(d, n);
	snprintf(n->saved.name, sizeof(n->saved.name), "%s", j->alias[0] ? j->alias : "joining");
	group_blob_init(&n->blob, "pending", GROUP_MODE_CLOSED);
	network_add(d, n);
	ret = network_apply(d, n, j->rec, j->rec_len, data, len);
	if (ret < 0 || network_find_pk(d, j->net) != n) {
		if (network_find_pk(d, j->net) == n) {
			/* never adopted: unlink without touching peers */
			struct network **pp;

			for (pp = &d->nets; *pp != n; pp = &(*pp)->next)
				;
			*pp = n->next;
			group_blob_free(&n->blob);
			free(n);
			networks_save(d);
		}
		if (ret < 0 && ret != -EBADMSG && ret != -ESTALE)
			join_fail(d, j, "cannot store the network's roster: %s", strerror(-ret));
		else
			join_fail(d, j,
				  "the roster sent by the coordinator does not verify or does not list this node");
		return;
	}
	{
		char alias[HOSTNAME_BUF];

		n->saved.name[0] = 0; /* so n does not count as taking its own name */
		hostname_resolve_clash(j->alias[0] ? j->alias : n->blob.name, alias_taken, d,
				       alias);
		snprintf(n->saved.name, sizeof(n->saved.name), "%s", alias);
	}
	networks_save(d);
	magicdns_sync(d); /* the names now live under the final alias */
	log_info("join: joined %s as %s", n->saved.name, n->saved.hostname);
	d->joins_ok++;
	reply_joined(d, j, n);
	join_free(d, j);
}

/* Returns 1 when the message belonged to a join in progress. */
bool join_on_message(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct network_payload np;
	struct join_op *j;
	struct record r;

	if (m->type != CTL_WELCOME && m->type != CTL_PENDING && m->type != CTL_DENIED)
		return false;
	for (j = d->joins; j; j = j->next)
		if ((j->state == J_ASKING || j->state == J_PENDING) && j->peer == p &&
		    memcmp(j->net, m->net, LIMIT_KEY_LEN) == 0)
			break;
	if (!j)
		return m->type != CTL_WELCOME;
	if (m->type == CTL_DENIED && strcmp(m->why, CTL_WHY_NOT_COORDINATOR) == 0) {
		/* A plain member among the seeds: another seed may coordinate. */
		snprintf(j->last_error, sizeof(j->last_error), "%.8s is not a coordinator", p->id);
		ask_next_seed(d, j);
		return true;
	}
	if (m->type == CTL_DENIED) {
		join_fail(d, j, "admission refused: %s", m->why[0] ? m->why : "no reason given");
		return true;
	}
	if (m->type == CTL_PENDING) {
		if (j->req)
			ipc_reply(j->req,
				  json_pack("{s:b, s:s}", "pending", 1, "coordinator", p->id));
		j->req = NULL;
		if (j->state != J_PENDING)
			log_info("join: %.8s queued the request for approval; retrying until answered",
				 p->id);
		j->state = J_PENDING;
		j->retry_ms = j->retry_ms ? j->retry_ms : PENDING_RETRY_MIN_MS;
		j->next_retry_ms = daemon_now_ms(d) + j->retry_ms;
		return true;
	}
	if (m->rec_len > sizeof(j->rec) ||
	    record_decode(m->rec, m->rec_len, RECORD_NETWORK, j->net, daemon_unix_now(), &r) < 0 ||
	    network_payload_decode(r.payload, r.payload_len, &np) < 0) {
		snprintf(j->last_error, sizeof(j->last_error),
			 "%.8s sent a record that does not verify", p->id);
		ask_next_seed(d, j);
		return true;
	}
	memcpy(j->rec, m->rec, m->rec_len);
	j->rec_len = m->rec_len;
	j->state = J_FETCHING;
	j->step_deadline = daemon_now_ms(d) + JOIN_STEP_MS;
	if (blob_fetch(d, p->pk, np.blob_hash, on_blob, j) < 0) {
		snprintf(j->last_error, sizeof(j->last_error), "cannot fetch the roster");
		ask_next_seed(d, j);
	}
	return true;
}

void join_on_peer_up(struct daemon *d, struct peer *p)
{
	for (struct join_op *j = d->joins; j; j = j->next)
		if (j->state == J_ASKING && j->peer == p)
			send_join_req(d, j);
}

void joins_tick(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);
	struct join_op *j, *next;

	for (j = d->joins; j; j = next) {
		next = j->next;
		/* A queued request waits for a human: it keeps asking until
		 * answered or cancelled, however long that takes. */
		if (now >= j->deadline && j->state != J_FETCHING && j->state != J_PENDING) {
			join_fail(d, j, "joining timed out%s%s", j->last_error[0] ? ": " : "",
				  j->last_error);
			continue;
		}
		if (j->state == J_PENDING && now >= j->next_retry_ms) {
			if (j->peer && j->peer->conn)
				send_join_req(d, j);
			j->retry_ms = j->retry_ms * 2 > PENDING_RETRY_MAX_MS ? PENDING_RETRY_MAX_MS
									     : j->retry_ms * 2;
			j->next_retry_ms = now + j->retry_ms;
			continue;
		}
		if (j->state == J_LOOKUP && j->next_lookup_ms && now >= j->next_lookup_ms) {
			j->next_lookup_ms = 0;
			if (records_lookup(d, RECORD_NETWORK, j->net, on_record, NULL) < 0)
				join_fail(d, j, "the DHT node is not running");
			continue;
		}
		if (j->state == J_ASKING && now >= j->step_deadline) {
			snprintf(j->last_error, sizeof(j->last_error), "%.8s did not answer",
				 j->peer ? j->peer->id : "?");
			ask_next_seed(d, j);
		}
	}
}

void joins_cancel_all(struct daemon *d)
{
	/* Call after blobs_cancel_all: no fetch may still point at a join. */
	while (d->joins)
		join_fail(d, d->joins, "the daemon is shutting down");
}

static void join_launch(struct daemon *d, struct join_op *j)
{
	int ret;

	j->deadline = daemon_now_ms(d) + JOIN_TOTAL_MS;
	j->lookup_until = daemon_now_ms(d) + LOOKUP_FOR_MS;
	j->lookup_retry_ms = LOOKUP_RETRY_MIN_MS;
	j->next = d->joins;
	d->joins = j;
	if (j->direct) {
		ask_next_seed(d, j); /* the owner answers for it; no look-up */
		return;
	}
	ret = records_lookup(d, RECORD_NETWORK, j->net, on_record, NULL);
	if (ret < 0)
		join_fail(d, j, "the DHT node is not running: %s", strerror(-ret));
}

void network_cmd_join(struct daemon *d, struct ipc_request *req)
{
	const char *code = json_string_value(json_object_get(req->args, "code"));
	const char *alias = json_string_value(json_object_get(req->args, "name"));
	const char *host = json_string_value(json_object_get(req->args, "hostname"));
	struct join_op *j;
	uint8_t pk[LIMIT_KEY_LEN];
	int ret;

	struct invite_code ic;
	bool invite = false;

	if (!code) {
		ipc_reply_error(req, "missing the room id or invite code");
		return;
	}
	if (identity_id_parse(code, pk) < 0) {
		ret = invite_code_decode(code, &ic);
		if (ret == -EBADMSG) {
			ipc_reply_error(
				req,
				"the invite code is mistyped or truncated (its checksum does not match)");
			return;
		}
		if (ret < 0) {
			ipc_reply_error(
				req,
				"'%.80s' is neither a room id (64 hex characters) nor an invite code",
				code);
			return;
		}
		memcpy(pk, ic.net, LIMIT_KEY_LEN);
		invite = true;
	}
	if (network_find_pk(d, pk)) {
		ipc_reply_error(req, "already a member of %s", network_find_pk(d, pk)->saved.name);
		return;
	}
	if ((alias && !hostname_valid(alias)) || (host && !hostname_valid(host))) {
		ipc_reply_error(req, "invalid name: use 1-63 of a-z, 0-9 and '-'");
		return;
	}
	for (j = d->joins; j; j = j->next) {
		if (memcmp(j->net, pk, LIMIT_KEY_LEN) == 0) {
			ipc_reply_error(req, "a join of this network is already in progress");
			return;
		}
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		ipc_reply_error(req, "out of memory");
		return;
	}
	j->req = req;
	memcpy(j->net, pk, LIMIT_KEY_LEN);
	if (alias)
		snprintf(j->alias, sizeof(j->alias), "%s", alias);
	if (host)
		snprintf(j->hostname, sizeof(j->hostname), "%s", host);
	else
		network_my_hostname(d, j->hostname);
	j->auto_accept = json_is_true(json_object_get(req->args, "auto_accept_firewall"));
	if (invite) {
		j->has_invite = true;
		memcpy(j->secret, ic.secret, sizeof(j->secret));
		memcpy(j->minter, ic.coordinator, LIMIT_KEY_LEN);
		if (memcmp(ic.coordinator, d->id.pk, LIMIT_KEY_LEN) != 0)
			memcpy(j->seeds[j->n_seeds++], ic.coordinator, LIMIT_KEY_LEN);
		sodium_memzero(&ic, sizeof(ic));
	}
	join_launch(d, j);
}

int join_rejoin(struct daemon *d, const uint8_t net[LIMIT_KEY_LEN], const char *alias,
		const char *hostname)
{
	struct join_op *j;

	if (network_find_pk(d, net))
		return -EEXIST;
	for (j = d->joins; j; j = j->next)
		if (memcmp(j->net, net, LIMIT_KEY_LEN) == 0)
			return -EALREADY;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->rejoin = true;
	memcpy(j->net, net, LIMIT_KEY_LEN);
	snprintf(j->alias, sizeof(j->alias), "%s", alias);
	snprintf(j->hostname, sizeof(j->hostname), "%s", hostname);
	join_launch(d, j);
	return 0;
}

void join_direct(struct daemon *d, struct ipc_request *req, const uint8_t net[LIMIT_KEY_LEN],
		 const uint8_t owner[LIMIT_KEY_LEN], const char *hostname)
{
	struct join_op *j;

	for (j = d->joins; j; j = j->next) {
		if (memcmp(j->net, net, LIMIT_KEY_LEN) == 0) {
			if (req)
				ipc_reply_error(req,
						"a join of this network is already in progress");
			return;
		}
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		if (req)
			ipc_reply_error(req, "out of memory");
		return;
	}
	j->req = req;
	j->direct = true;
	memcpy(j->net, net, LIMIT_KEY_LEN);
	snprintf(j->hostname, sizeof(j->hostname), "%s", hostname);
	/* The owner minted it a moment ago: ask it first, whatever the DHT
	 * says yet. */
	memcpy(j->seeds[j->n_seeds++], owner, LIMIT_KEY_LEN);
	join_launch(d, j);
}

json_t *join_status(struct daemon *d)
{
	static const char *names[] = { "looking-up", "asking", "pending-approval", "fetching" };
	char room[IDENTITY_ID_LEN + 1];
	json_t *list = json_array();

	for (struct join_op *j = d->joins; j; j = j->next) {
		identity_id_format(j->net, room);
		/* lookups: DHT lookups that came back empty, for the CLI's
		 * progress while it waits. */
		json_array_append_new(list, json_pack("{s:s, s:s, s:i}", "room_id", room, "state",
						      names[j->state], "lookups",
						      (json_int_t)j->lookups));
	}
	return list;
}
