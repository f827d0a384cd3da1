/*
 * admission: see admission.h. Every way in ends in admit_member, which
 * builds the new roster, publishes it and sends the WELCOME; its failures
 * come back as a sentence for the DENIED message.
 */
#include "daemon/admission.h"
#include "util/limits.h"
#include "daemon/daemon.h"
#include "daemon/gate.h"
#include "daemon/network.h"
#include "daemon/peers.h"
#include "daemon/roster.h"
#include "mesh/invite.h"
#include "proto/control.h"
#include "transport/quic.h"
#include "util/blake3.h"
#include "util/hex.h"
#include "util/log.h"
#include "util/words.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INVITE_DEFAULT_TTL (7 * 86400)
#define REUSABLE_DEFAULT_TTL (30 * 86400)

static void send_denied(struct daemon *d, struct peer *p, const uint8_t net[LIMIT_KEY_LEN],
			const char *why)
{
	struct ctl_msg m = { .type = CTL_DENIED, .has_net = true };

	memcpy(m.net, net, LIMIT_KEY_LEN);
	snprintf(m.why, sizeof(m.why), "%s", why);
	peer_send_ctl(d, p, &m);
}

static void send_simple(struct daemon *d, struct peer *p, struct network *n, enum ctl_type type)
{
	struct ctl_msg m = { .type = type, .has_net = true };

	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	if (type == CTL_WELCOME) {
		m.rec = n->saved.record;
		m.rec_len = n->saved.record_len;
	}
	peer_send_ctl(d, p, &m);
}

static struct join_request *find_request(struct admission *a, const uint8_t pk[LIMIT_KEY_LEN])
{
	for (size_t i = 0; i < a->n_req; i++)
		if (memcmp(a->req[i].pk, pk, LIMIT_KEY_LEN) == 0)
			return &a->req[i];
	return NULL;
}

static void drop_request(struct admission *a, struct join_request *r)
{
	size_t i = (size_t)(r - a->req);

	memmove(&a->req[i], &a->req[i + 1], (a->n_req - i - 1) * sizeof(*r));
	a->n_req--;
}

static bool is_denied(const struct admission *a, const uint8_t pk[LIMIT_KEY_LEN])
{
	for (size_t i = 0; i < a->n_denied; i++)
		if (memcmp(a->denied[i], pk, LIMIT_KEY_LEN) == 0)
			return true;
	return false;
}

/*
 * Adds p as hostname `wanted`. bound: the name is authoritative (from an
 * invite or approval) and a clash with another identity is refused instead
 * of renamed. Returns 0, or -errno with a sentence in why.
 */
static int admit_member(struct daemon *d, struct network *n, struct peer *p, const char *wanted,
			bool bound, char *why, size_t whylen)
{
	char name[HOSTNAME_BUF], pick[HOSTNAME_BUF];
	struct group_blob blob;
	struct join_request *r;
	int ret;

	if (wanted && *wanted && hostname_valid(wanted))
		snprintf(pick, sizeof(pick), "%s", wanted);
	else
		words_name(pick, sizeof(pick), NULL, NULL);
	if (group_blob_copy(&blob, &n->blob) < 0) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	if (bound) {
		const struct gb_member *m = group_blob_find_member_by_hostname(&blob, pick);

		if (m && strcmp(m->id, p->id) != 0) {
			snprintf(why, whylen,
				 "the hostname %s bound to this invite is already taken", pick);
			group_blob_free(&blob);
			return -EEXIST;
		}
		snprintf(name, sizeof(name), "%s", pick);
		ret = 0;
	} else {
		ret = hostname_resolve_clash(pick, group_blob_hostname_taken, &blob, name);
	}
	if (ret == 0)
		ret = group_blob_admit(&blob, p->id, name, false);
	if (ret == 0 && group_blob_find_approved(&blob, p->id))
		group_blob_remove_approved(&blob, p->id);
	if (ret < 0) {
		snprintf(why, whylen, "admission failed: %s", strerror(-ret));
		group_blob_free(&blob);
		return ret;
	}
	log_info("network %s: admitting %.8s as %s", n->saved.name, p->id, name);
	d->admitted++;
	/* Batched for the other members (open networks churn by join and
	 * leave); the joiner's WELCOME below carries the record at once. */
	ret = network_publish_batched(d, n, &blob, p);
	if (ret < 0) {
		snprintf(why, whylen, "the coordinator could not sign and store the roster (%s)",
			 strerror(-ret));
		return ret;
	}
	if ((r = find_request(&n->admission, p->pk)))
		drop_request(&n->admission, r);
	send_simple(d, p, n, CTL_WELCOME);
	return 0;
}

static const char *invite_error(int err)
{
	switch (err) {
	case -ENOENT:
		return "the invite code is not known to this coordinator (revoked, or minted for another network)";
	case -EKEYEXPIRED:
		return "the invite code has expired";
	case -EKEYREVOKED:
		return "the invite code was revoked";
	case -EALREADY:
		return "the invite code was already used";
	default:
		return "the invite code cannot be checked";
	}
}

/* The joiner the invite was claimed for is in the roster: the invite is
 * used. Should this not reach the disk, the claim lets only that joiner in
 * again. */
static void settle_claim(struct daemon *d, struct network *n, struct invite_ledger *led,
			 const uint8_t hash[LIMIT_KEY_LEN], const char *id)
{
	int ret;

	if (invite_settle(led, hash, id) < 0)
		return;
	ret = invite_ledger_save(led, d->home, n->saved.room_id);
	if (ret < 0)
		log_warn("network %s: the invite stays claimed by %.8s: cannot save the ledger (%s)",
			 n->saved.name, id, strerror(-ret));
}

/* A member asking again with the invite it was admitted with: the
 * coordinator died before it could answer, and before settling the claim. */
static void settle_member_claim(struct daemon *d, struct network *n, struct peer *p,
				const struct ctl_msg *m)
{
	struct invite_ledger led;
	uint8_t hash[LIMIT_KEY_LEN];

	if (!m->has_invite || !n->has_key ||
	    invite_ledger_load(&led, d->home, n->saved.room_id) < 0)
		return;
	blake3_hash(m->invite, INVITE_SECRET_LEN, hash);
	settle_claim(d, n, &led, hash, p->id);
	invite_ledger_free(&led);
}

static void admit_with_invite(struct daemon *d, struct network *n, struct peer *p,
			      const struct ctl_msg *m)
{
	struct invite_ledger led;
	struct invite inv;
	uint8_t hash[LIMIT_KEY_LEN];
	char why[160];
	int ret;

	if (invite_ledger_load(&led, d->home, n->saved.room_id) < 0) {
		send_denied(d, p, n->pk, "the coordinator's invite ledger is unreadable");
		return;
	}
	ret = invite_redeem(&led, m->invite, daemon_unix_now(), p->id, &inv);
	if (ret == 0) {
		/* The claim is on disk before any roster names the joiner: a
		 * crash in between leaves an invite only this joiner can use. */
		ret = invite_ledger_save(&led, d->home, n->saved.room_id);
		if (ret < 0) {
			log_error("network %s: cannot record invite %s as used (%s); %.8s refused",
				  n->saved.name, inv.id, strerror(-ret), p->id);
			snprintf(why, sizeof(why),
				 "the coordinator cannot record the invite as used (%s); try again later",
				 strerror(-ret));
			send_denied(d, p, n->pk, why);
			goto out;
		}
		if (admit_member(d, n, p, inv.hostname[0] ? inv.hostname : m->hostname,
				 inv.hostname[0] != 0, why, sizeof(why)) < 0) {
			/* Given back, so the holder may retry; if that cannot be
			 * saved it stays claimed by this joiner (locked out beats
			 * admitted twice). */
			invite_restore(&led, inv.hash);
			ret = invite_ledger_save(&led, d->home, n->saved.room_id);
			if (ret < 0)
				log_warn("network %s: invite %s stays claimed by %.8s: cannot save the ledger (%s)",
					 n->saved.name, inv.id, p->id, strerror(-ret));
			send_denied(d, p, n->pk, why);
			goto out;
		}
		/* Only now: a failed admission must not burn it at the others. */
		roster_invite_used(d, n, inv.hash);
		settle_claim(d, n, &led, inv.hash, p->id);
		goto out;
	}
	blake3_hash(m->invite, INVITE_SECRET_LEN, hash);
	if (ret == -ENOENT && group_blob_find_key_by_hash(&n->blob, hash)) {
		ret = group_blob_key_check(&n->blob, hash, daemon_unix_now());
		if (ret == 0) {
			if (admit_member(d, n, p, m->hostname, false, why, sizeof(why)) < 0)
				send_denied(d, p, n->pk, why);
			goto out;
		}
		send_denied(d, p, n->pk,
			    ret == -EKEYEXPIRED ? "the reusable key has expired"
						: "the reusable key was revoked");
		goto out;
	}
	if (gate_log_ok(d, p))
		log_info("network %s: refused an invite from %.8s: %s", n->saved.name, p->id,
			 invite_error(ret));
	send_denied(d, p, n->pk, invite_error(ret));
out:
	invite_ledger_free(&led);
}

/* Requests from the source p's connection came from. */
static size_t from_source(struct daemon *d, const struct admission *a, const struct peer *p)
{
	size_t n = 0;

	for (size_t i = 0; p->conn && i < a->n_req; i++) {
		struct peer *q = peers_find(d, a->req[i].pk);

		if (q && q->conn && quic_conn_same_source(q->conn, p->conn))
			n++;
	}
	return n;
}

/* Makes room by dropping the oldest request whose joiner is gone. */
static bool evict_gone(struct admission *a)
{
	struct join_request *old = NULL;

	for (size_t i = 0; i < a->n_req; i++)
		if (a->req[i].gone_ms && (!old || a->req[i].since < old->since))
			old = &a->req[i];
	if (!old)
		return false;
	drop_request(a, old);
	return true;
}

static void queue_request(struct daemon *d, struct network *n, struct peer *p, const char *hostname)
{
	struct admission *a = &n->admission;
	struct join_request *r = find_request(a, p->pk);
	uint8_t rnd[4];

	if (!r) {
		/* No place: PENDING all the same, so the joiner asks again
		 * later instead of giving up on a refusal it did not earn. */
		if (from_source(d, a, p) >= ADMISSION_PER_SOURCE ||
		    (a->n_req == ADMISSION_MAX_REQUESTS && !evict_gone(a))) {
			log_debug("network %s: no place in the queue for %.8s yet", n->saved.name,
				  p->id);
			send_simple(d, p, n, CTL_PENDING);
			return;
		}
		r = &a->req[a->n_req++];
		memset(r, 0, sizeof(*r));
		memcpy(r->pk, p->pk, LIMIT_KEY_LEN);
		randombytes_buf(rnd, sizeof(rnd));
		hex_encode(rnd, sizeof(rnd), r->id);
		r->since = daemon_unix_now();
		if (gate_log_ok(d, p))
			log_info("network %s: join request %s from %.8s (%s) waits for approval",
				 n->saved.name, r->id, p->id,
				 hostname[0] ? hostname : "no hostname");
	}
	snprintf(r->hostname, sizeof(r->hostname), "%s", hostname_valid(hostname) ? hostname : "");
	r->seen_ms = daemon_now_ms(d);
	r->gone_ms = 0;
	send_simple(d, p, n, CTL_PENDING);
}

static bool expired(struct daemon *d, struct join_request *r, uint64_t now)
{
	struct peer *p = peers_find(d, r->pk);

	if (p && p->conn)
		r->gone_ms = 0;
	else if (!r->gone_ms)
		r->gone_ms = now;
	return (r->gone_ms && now - r->gone_ms >= ADMISSION_GONE_MS) ||
	       now - r->seen_ms >= ADMISSION_IDLE_MS;
}

void admission_tick(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);

	for (struct network *n = d->nets; n; n = n->next) {
		struct admission *a = &n->admission;

		for (size_t i = 0; i < a->n_req;) {
			if (!expired(d, &a->req[i], now)) {
				i++;
				continue;
			}
			log_info("network %s: join request %s expired (the joiner stopped asking)",
				 n->saved.name, a->req[i].id);
			drop_request(a, &a->req[i]);
		}
	}
}

void admission_on_join_req(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct network *n = network_find_pk(d, m->net);
	const struct gb_approved *ap;
	char why[160];

	if (!n) {
		send_denied(d, p, m->net, "this node is not in that network");
		return;
	}
	if (group_blob_find_member(&n->blob, p->id)) {
		settle_member_claim(d, n, p, m);
		send_simple(d, p, n, CTL_WELCOME);
		return;
	}
	if (!n->has_key) {
		/* A joiner hands invites to coordinators only; one that reached
		 * a plain member is worth knowing about (the member now holds
		 * it). */
		if (m->has_invite && gate_log_ok(d, p))
			log_warn("admission: %.8s sent us (not a coordinator) an invite", p->id);
		send_denied(d, p, m->net, CTL_WHY_NOT_COORDINATOR);
		return;
	}
	if (m->has_invite) {
		admit_with_invite(d, n, p, m); /* an invite outranks an earlier deny */
		return;
	}
	if (is_denied(&n->admission, p->pk)) {
		send_denied(d, p, m->net, "a coordinator denied this join request");
		return;
	}
	ap = group_blob_find_approved(&n->blob, p->id);
	if (ap || n->blob.mode == GROUP_MODE_OPEN) {
		bool bound = ap && ap->hostname[0];

		if (admit_member(d, n, p, bound ? ap->hostname : m->hostname, bound, why,
				 sizeof(why)) < 0)
			send_denied(d, p, m->net, why);
		return;
	}
	queue_request(d, n, p, m->hostname);
}

size_t admission_pending_count(struct daemon *d)
{
	size_t n = 0;

	for (struct network *net = d->nets; net; net = net->next)
		n += net->admission.n_req;
	return n;
}

static int mint_reusable(struct daemon *d, struct network *n, uint64_t ttl,
			 uint8_t secret[INVITE_SECRET_LEN], struct gb_key *k)
{
	struct group_blob blob;
	int ret;

	memset(k, 0, sizeof(*k));
	randombytes_buf(secret, INVITE_SECRET_LEN);
	blake3_hash(secret, INVITE_SECRET_LEN, k->secret_hash);
	hex_encode(k->secret_hash, 4, k->id);
	k->created = daemon_unix_now();
	k->expires = k->created + ttl;
	ret = group_blob_copy(&blob, &n->blob);
	if (ret < 0)
		return ret;
	ret = group_blob_add_key(&blob, k);
	if (ret < 0) {
		group_blob_free(&blob);
		return ret;
	}
	return network_publish(d, n, &blob, NULL);
}

/* Records a single-use invite (its hash) in the ledger and tells the other
 * coordinators; id and expires are set only on success. -EBADMSG when the
 * ledger does not load. */
static int mint_single(struct daemon *d, struct network *n, const char *host, uint64_t ttl,
		       uint8_t secret[INVITE_SECRET_LEN], char id[GB_KEY_ID_MAX + 1],
		       uint64_t *expires)
{
	struct invite_ledger led;
	struct invite inv;
	int ret;

	if (invite_ledger_load(&led, d->home, n->saved.room_id) < 0)
		return -EBADMSG;
	ret = invite_mint(&led, host, ttl, daemon_unix_now(), secret, &inv);
	if (ret == 0)
		ret = invite_ledger_save(&led, d->home, n->saved.room_id);
	invite_ledger_free(&led);
	if (ret < 0)
		return ret;
	roster_share_invite(d, n, &inv);
	snprintf(id, GB_KEY_ID_MAX + 1, "%s", inv.id);
	*expires = inv.expires;
	return 0;
}

void admission_cmd_invite(struct daemon *d, struct ipc_request *req)
{
	const char *exp = json_string_value(json_object_get(req->args, "expires"));
	const char *host = json_string_value(json_object_get(req->args, "hostname"));
	bool reusable = json_is_true(json_object_get(req->args, "reusable"));
	struct network *n = network_from_args(d, req, true);
	struct invite_code code;
	char text[INVITE_CODE_MAX + 1], id[GB_KEY_ID_MAX + 1];
	uint64_t ttl = reusable ? REUSABLE_DEFAULT_TTL : INVITE_DEFAULT_TTL, expires;
	int ret;

	if (!n)
		return;
	if (exp && invite_parse_duration(exp, &ttl) < 0) {
		ipc_reply_error(req,
				"invalid --expires '%s': use a number with d, h, m or s (7d, 12h)",
				exp);
		return;
	}
	if (host && !hostname_valid(host)) {
		ipc_reply_error(req, "invalid hostname '%s'", host);
		return;
	}
	if (reusable && host) {
		ipc_reply_error(
			req,
			"a reusable key cannot bind a hostname: give each server its own --hostname when it joins");
		return;
	}
	memcpy(code.net, n->pk, LIMIT_KEY_LEN);
	memcpy(code.coordinator, d->id.pk, LIMIT_KEY_LEN);
	if (reusable) {
		struct gb_key k;

		ret = mint_reusable(d, n, ttl, code.secret, &k);
		snprintf(id, sizeof(id), "%s", k.id);
		expires = k.expires;
	} else if ((ret = mint_single(d, n, host, ttl, code.secret, id, &expires)) == -EBADMSG) {
		ipc_reply_error(req,
				"cannot mint the invite: the invite ledger of %s is unreadable",
				n->saved.name);
		return;
	}
	if (ret < 0) {
		ipc_reply_error(req, "cannot mint the invite: %s", strerror(-ret));
		return;
	}
	invite_code_encode(&code, text, sizeof(text));
	sodium_memzero(code.secret, sizeof(code.secret));
	log_info("network %s: minted %s %s", n->saved.name, reusable ? "reusable key" : "invite",
		 id);
	ipc_reply(req, json_pack("{s:s, s:s, s:I, s:b, s:s, s:s}", "id", id, "code", text,
				 "expires", (json_int_t)expires, "reusable", reusable, "hostname",
				 host ? host : "", "network", n->saved.name));
}

static const char *entry_status(enum invite_status s, uint64_t expires)
{
	if (s == INVITE_USED || s == INVITE_CLAIMED)
		return "used";
	if (s == INVITE_REVOKED)
		return "revoked";
	return expires && expires <= daemon_unix_now() ? "expired" : "active";
}

void admission_cmd_invite_list(struct daemon *d, struct ipc_request *req)
{
	struct network *n = network_from_args(d, req, true);
	struct invite_ledger led;
	json_t *list;

	if (!n)
		return;
	if (invite_ledger_load(&led, d->home, n->saved.room_id) < 0) {
		ipc_reply_error(req, "the invite ledger of %s is unreadable", n->saved.name);
		return;
	}
	list = json_array();
	for (size_t i = 0; i < led.n; i++) {
		const struct invite *v = &led.v[i];

		json_array_append_new(list,
				      json_pack("{s:s, s:b, s:I, s:s, s:s}", "id", v->id,
						"reusable", 0, "expires", (json_int_t)v->expires,
						"status", entry_status(v->status, v->expires),
						"hostname", v->hostname));
	}
	for (size_t i = 0; i < n->blob.n_keys; i++) {
		const struct gb_key *k = &n->blob.keys[i];

		json_array_append_new(list, json_pack("{s:s, s:b, s:I, s:s, s:s}", "id", k->id,
						      "reusable", 1, "expires",
						      (json_int_t)k->expires, "status",
						      entry_status(k->revoked ? INVITE_REVOKED
									      : INVITE_ACTIVE,
								   k->expires),
						      "hostname", ""));
	}
	invite_ledger_free(&led);
	ipc_reply(req, list);
}

void admission_cmd_invite_revoke(struct daemon *d, struct ipc_request *req)
{
	const char *id = json_string_value(json_object_get(req->args, "id"));
	struct network *n = network_from_args(d, req, true);
	struct invite_ledger led;
	struct group_blob blob;
	int ret;

	if (!n)
		return;
	if (!id || !*id) {
		ipc_reply_error(req, "which invite? give its id (see 'ray invite NET list')");
		return;
	}
	if (invite_ledger_load(&led, d->home, n->saved.room_id) < 0) {
		ipc_reply_error(req, "the invite ledger of %s is unreadable", n->saved.name);
		return;
	}
	ret = invite_revoke(&led, id, NULL);
	if (ret == 0)
		ret = invite_ledger_save(&led, d->home, n->saved.room_id);
	invite_ledger_free(&led);
	if (ret == -ENOENT && group_blob_copy(&blob, &n->blob) == 0) {
		ret = group_blob_revoke_key(&blob, id);
		if (ret == 0)
			ret = network_publish(d, n, &blob, NULL);
		else
			group_blob_free(&blob);
	}
	if (ret == -ENOENT) {
		ipc_reply_error(req, "no invite with id '%s' in %s", id, n->saved.name);
		return;
	}
	if (ret == -EEXIST) {
		ipc_reply_error(req, "'%s' matches several invites: give more of the id", id);
		return;
	}
	if (ret < 0) {
		ipc_reply_error(req, "cannot revoke: %s", strerror(-ret));
		return;
	}
	log_info("network %s: revoked invite %s", n->saved.name, id);
	ipc_reply(req, NULL);
}

void admission_cmd_requests(struct daemon *d, struct ipc_request *req)
{
	struct network *n = network_from_args(d, req, true);
	json_t *list;
	char id[IDENTITY_ID_LEN + 1];

	if (!n)
		return;
	list = json_array();
	for (size_t i = 0; i < n->admission.n_req; i++) {
		const struct join_request *r = &n->admission.req[i];

		identity_id_format(r->pk, id);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:I}", "id", r->id,
						      "endpoint_id", id, "hostname", r->hostname,
						      "since", (json_int_t)r->since));
	}
	ipc_reply(req, list);
}

static struct join_request *request_by_id(struct network *n, const char *id)
{
	char ep[IDENTITY_ID_LEN + 1];

	/* By request id, or by the joiner's endpoint id. */
	for (size_t i = 0; id && i < n->admission.n_req; i++) {
		identity_id_format(n->admission.req[i].pk, ep);
		if (strcmp(n->admission.req[i].id, id) == 0 || strcmp(ep, id) == 0)
			return &n->admission.req[i];
	}
	return NULL;
}

void admission_cmd_accept(struct daemon *d, struct ipc_request *req)
{
	const char *id = json_string_value(json_object_get(req->args, "id"));
	struct network *n = network_from_args(d, req, true);
	struct join_request *r;
	struct group_blob blob;
	struct peer *p;
	char why[160], idstr[IDENTITY_ID_LEN + 1];
	int ret;

	if (!n)
		return;
	r = request_by_id(n, id);
	if (!r) {
		ipc_reply_error(req, "no join request '%s' in %s (see 'ray requests %s')",
				id ? id : "", n->saved.name, n->saved.name);
		return;
	}
	p = peers_find(d, r->pk);
	if (p && p->conn) {
		if (admit_member(d, n, p, r->hostname, false, why, sizeof(why)) < 0) {
			ipc_reply_error(req, "%s", why);
			return;
		}
		ipc_reply(req, NULL);
		return;
	}
	/* Not connected now: approve in the roster so its next retry (to any
	 * coordinator) is admitted. */
	identity_id_format(r->pk, idstr);
	ret = group_blob_copy(&blob, &n->blob);
	if (ret == 0 && (ret = group_blob_add_approved(&blob, idstr, NULL)) < 0)
		group_blob_free(&blob);
	if (ret == 0)
		ret = network_publish(d, n, &blob, NULL);
	if (ret < 0) {
		ipc_reply_error(req, "cannot approve: %s", strerror(-ret));
		return;
	}
	drop_request(&n->admission, r);
	ipc_reply(req, NULL);
}

void admission_cmd_deny(struct daemon *d, struct ipc_request *req)
{
	const char *id = json_string_value(json_object_get(req->args, "id"));
	struct network *n = network_from_args(d, req, true);
	struct admission *a;
	struct join_request *r;
	struct peer *p;

	if (!n)
		return;
	a = &n->admission;
	r = request_by_id(n, id);
	if (!r) {
		ipc_reply_error(req, "no join request '%s' in %s", id ? id : "", n->saved.name);
		return;
	}
	memcpy(a->denied[a->denied_next], r->pk, LIMIT_KEY_LEN);
	a->denied_next = (a->denied_next + 1) % ADMISSION_MAX_DENIED;
	if (a->n_denied < ADMISSION_MAX_DENIED)
		a->n_denied++;
	if ((p = peers_find(d, r->pk)) && p->conn)
		send_denied(d, p, n->pk, "a coordinator denied this join request");
	log_info("network %s: denied join request %s", n->saved.name, r->id);
	drop_request(a, r);
	ipc_reply(req, NULL);
}
