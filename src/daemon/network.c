/*
 * network: see network.h. The roster is only ever replaced through
 * network_apply, which verifies the signed record and the blob's hash, so
 * nothing a peer says is taken on trust.
 */
#include "daemon/network.h"
#include "util/limits.h"
#include "daemon/blobs.h"
#include "daemon/gate.h"
#include "daemon/daemon.h"
#include "daemon/peers.h"
#include "daemon/records.h"
#include "daemon/roster_fetch.h"
#include "discovery/dht.h"
#include "discovery/payload.h"
#include "discovery/record.h"
#include "mesh/address.h"
#include "mesh/roster_sync.h"
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
#include <unistd.h>

#define NETWORK_RECORD_TTL_S (30ull * 24 * 3600)
#define NETWORK_RECORD_RESIGN_S (15ull * 24 * 3600)
#define NETWORK_POLL_MS 60000
/* `ray create` answers once the record is stored, or after this long. */
#define CREATE_PUBLISH_MS 15000
#define CREATE_POLL_MS 100

/* Fires the batched SYNC of a network (see NETWORK_BATCH_MS). Apart from
 * the network so a closing handle can outlive it. */
struct net_timer {
	uv_timer_t t;
	struct daemon *d;
	uint8_t pk[LIMIT_KEY_LEN];
};

/* A roster fetch waiting out its jitter (n->fetch_wait). */
struct sync_ctx;
struct fetch_wait {
	uv_timer_t t;
	struct daemon *d;
	struct sync_ctx *s;
};

static void on_fetch_wait_closed(uv_handle_t *h)
{
	free(h->data);
}

static void fetch_wait_close(struct fetch_wait *w)
{
	uv_close((uv_handle_t *)&w->t, on_fetch_wait_closed);
}

struct network *network_find(struct daemon *d, const char *name_or_room)
{
	for (struct network *n = d->nets; n; n = n->next)
		if (strcmp(n->saved.name, name_or_room) == 0 ||
		    strcmp(n->saved.room_id, name_or_room) == 0)
			return n;
	return NULL;
}

struct network *network_find_pk(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN])
{
	for (struct network *n = d->nets; n; n = n->next)
		if (memcmp(n->pk, pk, LIMIT_KEY_LEN) == 0)
			return n;
	return NULL;
}

const struct gb_member *network_me(struct daemon *d, const struct network *n)
{
	return group_blob_find_member(&n->blob, d->id.id);
}

const struct gb_member *network_find_member(struct daemon *d, const char *id)
{
	const struct gb_member *m;

	for (struct network *n = d->nets; n; n = n->next)
		if ((m = group_blob_find_member(&n->blob, id)))
			return m;
	return NULL;
}

/* Routes, addresses, names and the firewall follow every roster change. */
static void network_changed(struct daemon *d)
{
	daemon_rosters_changed(d);
}

/* Saves networks.json with `next` in place of only's entry (when given). */
static int networks_save_as(struct daemon *d, const struct network *only,
			    const struct net_saved *next)
{
	const struct net_saved *list[STORE_MAX_NETWORKS];
	size_t count = 0;
	int ret;

	for (struct network *n = d->nets; n && count < STORE_MAX_NETWORKS; n = n->next)
		list[count++] = n == only ? next : &n->saved;
	ret = store_save_networks(d->home, list, count);
	if (ret < 0)
		log_error("store: cannot save networks.json: %s", strerror(-ret));
	return ret;
}

int networks_save(struct daemon *d)
{
	return networks_save_as(d, NULL, NULL);
}

/* Every blob a network still needs (current rosters, merge bases); *out is
 * malloc'd. */
static int blob_refs(struct daemon *d, uint8_t (**out)[LIMIT_KEY_LEN], size_t *count)
{
	size_t cap = 1;

	for (struct network *n = d->nets; n; n = n->next)
		cap += 2;
	*out = calloc(cap, LIMIT_KEY_LEN);
	if (!*out)
		return -ENOMEM;
	*count = 0;
	for (struct network *n = d->nets; n; n = n->next)
		*count += store_saved_blob_refs(&n->saved, 1, *out + *count, cap - *count);
	return 0;
}

/*
 * Deletes the blobs in drop that no network references any more. Call it
 * only once networks.json no longer names them: a crash in between then
 * leaves a stray file for the start-up sweep, never a missing roster.
 */
static void release_blobs(struct daemon *d, const uint8_t (*drop)[LIMIT_KEY_LEN], size_t n_drop)
{
	uint8_t(*keep)[LIMIT_KEY_LEN];
	size_t n_keep;

	if (!n_drop || blob_refs(d, &keep, &n_keep) < 0)
		return; /* keeping a file is always safe */
	store_release_blobs(d->home, drop, n_drop, (const uint8_t(*)[LIMIT_KEY_LEN])keep, n_keep);
	free(keep);
}

/* Peers of members in `blob` other than us get (want=true) or lose a want. */
static void want_members(struct daemon *d, const struct group_blob *blob,
			 const struct group_blob *except, bool want, uint64_t code)
{
	for (size_t i = 0; i < blob->n_members; i++) {
		const struct gb_member *m = &blob->members[i];
		uint8_t pk[LIMIT_KEY_LEN];
		struct peer *p;

		if (strcmp(m->id, d->id.id) == 0 || identity_id_parse(m->id, pk) < 0)
			continue;
		if (except && group_blob_find_member(except, m->id))
			continue;
		if (want) {
			p = peers_ensure(d, pk);
			if (p)
				peer_want(d, p);
		} else if ((p = peers_find(d, pk))) {
			peer_unwant(d, p, code);
		}
	}
}

static void on_net_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void network_free(struct network *n)
{
	if (n->sync_timer)
		uv_close((uv_handle_t *)&n->sync_timer->t, on_net_timer_closed);
	if (n->fetch_wait) {
		free(n->fetch_wait->s);
		fetch_wait_close(n->fetch_wait);
	}
	if (n->rename_req)
		ipc_reply_error(n->rename_req,
				"the network was left before the coordinator recorded the name");
	if (n->grant_req)
		ipc_reply_error(n->grant_req,
				"the network was left before the grantee took the key");
	free(n->renames);
	free(n->next_rec);
	free(n->fw_pending);
	group_blob_free(&n->blob);
	if (n->has_base)
		group_blob_free(&n->base);
	while (n->n_older)
		group_blob_free(&n->older[--n->n_older]);
	identity_clear(&n->key);
	free(n);
}

static void network_unlink(struct daemon *d, struct network *n)
{
	struct network **pp;

	for (pp = &d->nets; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			return;
		}
	}
}

/* Forgets n locally: connections (with code), routes, announcements
 * (unless keep_published: a nuke leaves its empty record in the DHT). */
static void network_forget(struct daemon *d, struct network *n, uint64_t code, bool keep_published)
{
	uint8_t drop[2][LIMIT_KEY_LEN];
	size_t n_drop = 0;

	/* Our copies of its rosters go with it; a nuke's final roster stays
	 * (not named here) for the members still fetching it, until the next
	 * start-up sweep. */
	if (n->saved.record_len)
		memcpy(drop[n_drop++], n->saved.blob_hash, LIMIT_KEY_LEN);
	if (n->saved.has_base)
		memcpy(drop[n_drop++], n->saved.base_hash, LIMIT_KEY_LEN);
	network_unlink(d, n);
	daemon_network_forgotten(d, n);
	want_members(d, &n->blob, NULL, false, code);
	if (!keep_published)
		records_unpublish_network(d, n->pk);
	if (n->has_key)
		store_delete_key(d->home, n->saved.room_id);
	network_free(n);
	if (networks_save(d) == 0)
		release_blobs(d, (const uint8_t(*)[LIMIT_KEY_LEN])drop, n_drop);
	network_changed(d);
}

static void network_remove(struct daemon *d, struct network *n, uint64_t code)
{
	network_forget(d, n, code, false);
}

/* Verifies rec for n and extracts its payload. */
static int check_record(const struct network *n, const uint8_t *rec, size_t len, struct record *r,
			struct network_payload *p)
{
	if (record_decode(rec, len, RECORD_NETWORK, n->pk, daemon_unix_now(), r) < 0 ||
	    network_payload_decode(r->payload, r->payload_len, p) < 0)
		return -EBADMSG;
	return 0;
}

/*
 * Keeps the network findable in the DHT: coordinators and the record's
 * seeds put the newest record (and re-announce it); other members do not,
 * since every put is a value of its own that lingers after it is replaced,
 * and a network where every member put every version would hold some N*N/3
 * values under its key, past the 256 a lookup reads (bench/scale). A member
 * that stops being a seed withdraws its put.
 */
static void network_announce(struct daemon *d, struct network *n, const uint8_t *rec, size_t len)
{
	struct network_payload p;
	struct record r;
	bool seed = n->has_key;

	if (!seed && check_record(n, rec, len, &r, &p) == 0)
		for (size_t i = 0; i < p.n_seeds && !seed; i++)
			seed = memcmp(p.seeds[i], d->id.pk, LIMIT_KEY_LEN) == 0;
	if (seed)
		records_publish_network(d, n->pk, rec, len);
	else
		records_unpublish_network(d, n->pk);
}

/*
 * ROSTER_WAIT: a newer roster lacks us but was made beside ours, so it is
 * not a kick; the coordinator holding ours merges the two (network_fork).
 * Waited out for NETWORK_FORK_GRACE_MS, then taken as a removal after all
 * (that coordinator may be gone). True once the wait is over.
 */
static bool fork_wait_over(struct daemon *d, struct network *n, uint64_t seq)
{
	uint64_t now = daemon_now_ms(d);

	if (!n->fork_since_ms) {
		n->fork_since_ms = now;
		log_info("network %s: a concurrent roster v%llu without this node (not a kick); "
			 "waiting for a coordinator to merge it",
			 n->saved.name, (unsigned long long)seq);
	}
	return now - n->fork_since_ms >= NETWORK_FORK_GRACE_MS;
}

/* Puts b (taken) first among the older rosters; the oldest drops off. */
static void older_push(struct network *n, struct group_blob *b, const uint8_t hash[LIMIT_KEY_LEN])
{
	size_t cap = GB_MAX_ANCESTORS - 1;

	if (n->n_older == cap)
		group_blob_free(&n->older[--n->n_older]);
	memmove(&n->older[1], &n->older[0], n->n_older * sizeof(n->older[0]));
	memmove(n->older_hash[1], n->older_hash[0], n->n_older * LIMIT_KEY_LEN);
	n->older[0] = *b;
	memcpy(n->older_hash[0], hash, LIMIT_KEY_LEN);
	n->n_older++;
}

/* The base about to be replaced goes first among the older rosters. */
static void keep_older(struct network *n)
{
	if (!n->has_base)
		return;
	older_push(n, &n->base, n->base_hash);
	n->has_base = false;
}

/* A roster merged into ours is held too, right after the base: a later
 * fork may have gone apart from it (both coordinators merged each other's
 * roster). */
static void hold_after_base(struct network *n, const struct group_blob *b,
			    const uint8_t hash[LIMIT_KEY_LEN])
{
	struct group_blob copy;

	if (group_blob_copy(&copy, b) == 0)
		older_push(n, &copy, hash);
}

/* The held roster roster_sync numbers i: the base, then the older ones. */
static const struct group_blob *held_roster(const struct network *n, size_t i)
{
	if (!n->has_base)
		return i < n->n_older ? &n->older[i] : NULL;
	return i == 0 ? &n->base : i - 1 < n->n_older ? &n->older[i - 1] : NULL;
}

/* What this node holds of n, for roster_sync; held is the caller's buffer. */
static void roster_state_of(const struct network *n, struct roster_state *st,
			    uint8_t held[GB_MAX_ANCESTORS][LIMIT_KEY_LEN])
{
	size_t k = 0;

	memset(st, 0, sizeof(*st));
	st->seq = n->saved.record_len ? n->seq : 0;
	memcpy(st->hash, n->saved.blob_hash, LIMIT_KEY_LEN);
	if (n->has_base)
		memcpy(held[k++], n->base_hash, LIMIT_KEY_LEN);
	for (size_t i = 0; i < n->n_older; i++)
		memcpy(held[k++], n->older_hash[i], LIMIT_KEY_LEN);
	st->held = (const uint8_t(*)[LIMIT_KEY_LEN])held;
	st->n_held = k;
	st->coordinator = n->has_key;
}

int network_apply(struct daemon *d, struct network *n, const uint8_t *rec, size_t rec_len,
		  const uint8_t *blob_bytes, size_t blob_len)
{
	struct network_payload p;
	struct group_blob blob, old;
	const struct gb_member *me;
	uint8_t hash[LIMIT_KEY_LEN], dropped[LIMIT_KEY_LEN];
	struct net_saved next;
	bool drop;
	struct record r;
	int ret;

	if (rec_len > STORE_MAX_RECORD || check_record(n, rec, rec_len, &r, &p) < 0)
		return -EBADMSG;
	if (r.seq < n->seq)
		return -ESTALE;
	blake3_hash(blob_bytes, blob_len, hash);
	if (memcmp(hash, p.blob_hash, LIMIT_KEY_LEN) != 0 ||
	    group_blob_decode(blob_bytes, blob_len, &blob) < 0)
		return -EBADMSG;
	me = group_blob_find_member(&blob, d->id.id);
	if (!me) {
		log_warn("network %s: the new roster no longer lists this node; leaving it",
			 n->saved.name);
		group_blob_free(&blob);
		network_remove(d, n, QUIC_CODE_NONE);
		return 0;
	}
	/* On disk before anything names it, so networks.json never points
	 * at a roster we do not hold. */
	ret = store_save_blob(d->home, hash, blob_bytes, blob_len);
	if (ret < 0) {
		log_error("network %s: cannot store roster v%llu (%s); keeping v%llu",
			  n->saved.name, (unsigned long long)blob.version, strerror(-ret),
			  (unsigned long long)n->blob.version);
		group_blob_free(&blob);
		return ret;
	}
	/* Keep the current roster and the merge base; the base before goes.
	 * networks.json names the new roster before anything acts on it: one
	 * it cannot record is neither adopted, nor announced, nor answered as
	 * done (a crash would lose it with nobody else holding it). */
	next = n->saved;
	next.has_base = n->saved.record_len > 0;
	if (next.has_base)
		memcpy(next.base_hash, n->saved.blob_hash, LIMIT_KEY_LEN);
	memcpy(next.blob_hash, hash, LIMIT_KEY_LEN);
	memcpy(next.record, rec, rec_len);
	next.record_len = rec_len;
	snprintf(next.hostname, sizeof(next.hostname), "%s", me->hostname);
	ret = networks_save_as(d, n, &next);
	if (ret < 0) {
		log_error("network %s: cannot record roster v%llu (%s); keeping v%llu",
			  n->saved.name, (unsigned long long)blob.version, strerror(-ret),
			  (unsigned long long)n->blob.version);
		group_blob_free(&blob);
		release_blobs(d, (const uint8_t(*)[LIMIT_KEY_LEN])hash, 1);
		return ret;
	}
	old = n->blob;
	n->blob = blob;
	/* Want the new members before dropping the old, so nobody we keep
	 * sees a connection close in between. */
	want_members(d, &n->blob, &old, true, 0);
	want_members(d, &old, &n->blob, false, QUIC_CODE_NONE);
	keep_older(n);
	n->base = old;
	memcpy(n->base_hash, n->saved.blob_hash, LIMIT_KEY_LEN);
	n->has_base = true;
	me = network_me(d, n);
	n->my_ipv4 = me->ipv4;
	drop = n->saved.has_base;
	memcpy(dropped, n->saved.base_hash, LIMIT_KEY_LEN);
	n->saved = next;
	n->seq = r.seq;
	n->fork_since_ms = 0;
	if (drop)
		release_blobs(d, (const uint8_t(*)[LIMIT_KEY_LEN])dropped, 1);
	network_announce(d, n, rec, rec_len);
	network_changed(d);
	daemon_roster_applied(d, n);
	log_info("network %s: roster v%llu, %zu members", n->saved.name,
		 (unsigned long long)n->blob.version, n->blob.n_members);
	return 0;
}

/* Signs blob with the network key into a record + bytes. */
int network_sign_roster(const struct identity *key, const struct group_blob *blob, uint8_t *rec,
			size_t reccap, size_t *rec_len, uint8_t **bytes, size_t *blen)
{
	struct network_payload p = { .mesh_version = NETWORK_MESH_VERSION };
	uint8_t payload[RECORD_PAYLOAD_MAX];
	int plen, rlen, ret;

	/* -EMSGSIZE: over LIMIT_BLOB, so no member could fetch it */
	if ((ret = group_blob_encode(blob, bytes, blen)) < 0)
		return ret == -EMSGSIZE ? ret : -EINVAL;
	blake3_hash(*bytes, *blen, p.blob_hash);
	roster_fetch_seeds(blob, &p);
	plen = network_payload_encode(&p, payload, sizeof(payload));
	rlen = plen < 0 ? plen
			: record_encode(RECORD_NETWORK, key->seed, blob->version,
					daemon_unix_now() + NETWORK_RECORD_TTL_S, payload,
					(size_t)plen, rec, reccap);
	if (rlen < 0) {
		free(*bytes);
		*bytes = NULL;
		return rlen;
	}
	*rec_len = (size_t)rlen;
	return 0;
}

void network_broadcast_sync(struct daemon *d, struct network *n, const struct peer *except)
{
	struct ctl_msg m = { .type = CTL_SYNC, .has_net = true };

	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	m.rec = n->saved.record;
	m.rec_len = n->saved.record_len;
	for (size_t i = 0; i < n->blob.n_members; i++) {
		uint8_t pk[LIMIT_KEY_LEN];
		struct peer *p;

		if (identity_id_parse(n->blob.members[i].id, pk) < 0)
			continue;
		p = peers_find(d, pk);
		if (p && p != except && p->conn)
			peer_send_ctl(d, p, &m);
	}
}

static void on_sync_timer(uv_timer_t *t)
{
	struct net_timer *nt = t->data;
	struct network *n = network_find_pk(nt->d, nt->pk);

	if (!n || !n->sync_due)
		return;
	n->sync_due = false;
	n->last_sync_ms = daemon_now_ms(nt->d);
	network_broadcast_sync(nt->d, n, NULL);
}

static int sync_timer_open(struct daemon *d, struct network *n)
{
	struct net_timer *nt;

	if (n->sync_timer)
		return 0;
	nt = calloc(1, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	nt->d = d;
	memcpy(nt->pk, n->pk, LIMIT_KEY_LEN);
	uv_timer_init(d->loop, &nt->t);
	nt->t.data = nt;
	n->sync_timer = nt;
	return 0;
}

/* Tells the members now; a batch waiting for its window goes with it. */
static void sync_now(struct daemon *d, struct network *n, const struct peer *except)
{
	if (n->sync_due) {
		n->sync_due = false;
		uv_timer_stop(&n->sync_timer->t);
		except = NULL; /* the batch may hold changes for it */
	}
	n->last_sync_ms = daemon_now_ms(d);
	network_broadcast_sync(d, n, except);
}

/*
 * Tells the members about n's new roster now, or, within NETWORK_BATCH_MS
 * of the last time, when the window ends: a burst of changes (renames,
 * joins and leaves) then costs every member one fetch, not one each.
 */
static void sync_soon(struct daemon *d, struct network *n, const struct peer *except)
{
	uint64_t now = daemon_now_ms(d), due = n->last_sync_ms + NETWORK_BATCH_MS;

	if (n->sync_due)
		return; /* the timer sends the newest record */
	if (!n->last_sync_ms || now >= due || sync_timer_open(d, n) < 0) {
		sync_now(d, n, except);
		return;
	}
	n->sync_due = true;
	uv_timer_start(&n->sync_timer->t, on_sync_timer, due - now, 0);
}

/*
 * Coordinator: signs `blob` (a changed copy of the roster, version bumped
 * here), adopts it and tells the members, now or batched. Takes blob.
 */
static int publish(struct daemon *d, struct network *n, struct group_blob *blob,
		   const struct peer *except, bool batch)
{
	uint8_t rec[RECORD_MAX], *bytes = NULL, pk[LIMIT_KEY_LEN];
	size_t rec_len, blen;
	int ret;

	blob->version = (n->blob.version > blob->version ? n->blob.version : blob->version) + 1;
	if (n->saved.record_len)
		group_blob_add_ancestor(blob, n->saved.blob_hash);
	ret = network_sign_roster(&n->key, blob, rec, sizeof(rec), &rec_len, &bytes, &blen);
	group_blob_free(blob);
	if (ret < 0)
		return ret;
	/* A roster without us (a merge that takes a co-coordinator's kick)
	 * makes network_apply forget n: only its key is compared after. */
	memcpy(pk, n->pk, LIMIT_KEY_LEN);
	ret = network_apply(d, n, rec, rec_len, bytes, blen);
	free(bytes);
	if (ret < 0 || network_find_pk(d, pk) != n)
		return ret;
	if (batch)
		sync_soon(d, n, except);
	else
		sync_now(d, n, except);
	return 0;
}

int network_publish(struct daemon *d, struct network *n, struct group_blob *blob,
		    const struct peer *except)
{
	return publish(d, n, blob, except, false);
}

int network_publish_batched(struct daemon *d, struct network *n, struct group_blob *blob,
			    const struct peer *except)
{
	return publish(d, n, blob, except, true);
}

int network_publish_final(struct daemon *d, struct network *n, struct group_blob *blob)
{
	uint8_t rec[RECORD_MAX], *bytes = NULL, hash[LIMIT_KEY_LEN];
	size_t rec_len, blen;
	int ret;

	blob->version = n->blob.version + 1;
	if (n->saved.record_len)
		group_blob_add_ancestor(blob, n->saved.blob_hash);
	ret = network_sign_roster(&n->key, blob, rec, sizeof(rec), &rec_len, &bytes, &blen);
	group_blob_free(blob);
	if (ret < 0)
		return ret;
	/* Members fetch the final roster by the record's hash: a record
	 * naming a blob we never wrote would leave them in the network. */
	blake3_hash(bytes, blen, hash);
	ret = store_save_blob(d->home, hash, bytes, blen);
	free(bytes);
	if (ret < 0) {
		log_error("network %s: cannot store the final roster (%s); not deleting it",
			  n->saved.name, strerror(-ret));
		return ret;
	}
	memcpy(n->saved.record, rec, rec_len);
	n->saved.record_len = rec_len;
	records_publish_network(d, n->pk, rec, rec_len);
	/* Tell the members of the roster being replaced, then go. */
	network_broadcast_sync(d, n, NULL);
	network_forget(d, n, QUIC_CODE_NONE, true);
	return 0;
}

static uint32_t rand_uniform(uint32_t upper, void *arg)
{
	(void)arg;
	return randombytes_uniform(upper);
}

void network_default_hostname(char out[HOSTNAME_BUF])
{
	char raw[256] = "";

	gethostname(raw, sizeof(raw) - 1);
	if (hostname_sanitize(raw, out) < 0 || !hostname_valid(out))
		words_name(out, HOSTNAME_BUF, rand_uniform, NULL);
}

int network_add(struct daemon *d, struct network *n)
{
	struct network **pp = &d->nets;

	while (*pp)
		pp = &(*pp)->next;
	n->next = NULL;
	n->index = d->next_net_index++;
	*pp = n;
	return networks_save(d);
}

/*
 * A create waiting for its network record to be stored, so that a join
 * started the moment `ray create` returns finds it. It polls the DHT node
 * on its own timer rather than taking a put callback: the wait ends at its
 * deadline, but a callback could still arrive after it. The timer also
 * sees the daemon stopping, so nothing else needs to know about the wait.
 */
struct create_wait {
	uv_timer_t timer; /* first: the close callback frees it */
	struct daemon *d;
	struct ipc_request *req;
	json_t *reply; /* owned until sent */
	uint8_t pk[LIMIT_KEY_LEN];
	uint64_t deadline;
};

static void create_wait_closed(uv_handle_t *h)
{
	free(h);
}

static void create_answer(struct create_wait *w, bool published)
{
	json_object_set_new(w->reply, "published", json_boolean(published));
	ipc_reply(w->req, w->reply);
	uv_timer_stop(&w->timer);
	uv_close((uv_handle_t *)&w->timer, create_wait_closed);
}

/* 1 stored, 0 not yet, -errno when it never will be (network gone, DHT
 * node closed). */
static int create_stored(struct create_wait *w)
{
	uint8_t key[RECORD_KEY_LEN];

	if (w->d->stopping || !w->d->dht)
		return -ESHUTDOWN;
	if (record_dht_key(RECORD_NETWORK, w->pk, key) < 0)
		return -EINVAL;
	return dht_node_put_announced(w->d->dht, key);
}

static void on_create_poll(uv_timer_t *t)
{
	struct create_wait *w = (struct create_wait *)t;
	int ret = create_stored(w);

	if (ret == 1) {
		create_answer(w, true);
		return;
	}
	if (ret == 0 && daemon_now_ms(w->d) < w->deadline)
		return;
	if (ret == 0)
		log_info("network %s: record not stored in the DHT after %d s; still publishing it",
			 json_string_value(json_object_get(w->reply, "name")),
			 CREATE_PUBLISH_MS / 1000);
	create_answer(w, false);
}

/* Answers req with reply (stolen) once the record of pk is stored. */
static void create_reply_when_stored(struct daemon *d, struct ipc_request *req,
				     const uint8_t pk[LIMIT_KEY_LEN], json_t *reply)
{
	struct create_wait *w = calloc(1, sizeof(*w));

	if (!w) {
		json_object_set_new(reply, "published", json_false());
		ipc_reply(req, reply);
		return;
	}
	w->d = d;
	w->req = req;
	w->reply = reply;
	memcpy(w->pk, pk, LIMIT_KEY_LEN);
	w->deadline = daemon_now_ms(d) + CREATE_PUBLISH_MS;
	uv_timer_init(d->loop, &w->timer);
	if (create_stored(w) == 1) {
		create_answer(w, true);
		return;
	}
	uv_timer_start(&w->timer, on_create_poll, CREATE_POLL_MS, CREATE_POLL_MS);
}

int network_create(struct daemon *d, const char *netname, const char *hostname, bool open,
		   const char *approve, struct network **out, char *err, size_t errlen)
{
	struct group_blob blob = { 0 };
	struct network *n;
	int ret;

	n = calloc(1, sizeof(*n));
	if (!n || identity_generate(&n->key) < 0) {
		free(n);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	n->has_key = true;
	memcpy(n->pk, n->key.pk, LIMIT_KEY_LEN);
	snprintf(n->saved.name, sizeof(n->saved.name), "%s", netname);
	snprintf(n->saved.room_id, sizeof(n->saved.room_id), "%s", n->key.id);
	n->saved.coordinator = true;
	n->saved.direct = approve != NULL;
	group_blob_init(&n->blob, netname, open ? GROUP_MODE_OPEN : GROUP_MODE_CLOSED);
	ret = store_save_key(d->home, n->saved.room_id, n->key.seed);
	if (ret == 0)
		ret = group_blob_init(&blob, netname, n->blob.mode);
	if (ret == 0 && (ret = group_blob_admit(&blob, d->id.id, hostname, true)) == 0 && approve)
		ret = group_blob_add_approved(&blob, approve, NULL);
	if (ret < 0) {
		group_blob_free(&blob);
		snprintf(err, errlen, "cannot create the network: %s", strerror(-ret));
		network_free(n);
		return ret;
	}
	network_add(d, n);
	ret = network_publish(d, n, &blob, NULL);
	if (ret < 0) {
		snprintf(err, errlen, "cannot sign the network record: %s", strerror(-ret));
		network_remove(d, n, QUIC_CODE_NONE);
		return ret;
	}
	log_info("network %s: created (%s%s), room %s", netname, open ? "open" : "closed",
		 approve ? ", direct" : "", n->saved.room_id);
	*out = n;
	return 0;
}

void network_cmd_create(struct daemon *d, struct ipc_request *req)
{
	const char *name = json_string_value(json_object_get(req->args, "name"));
	const char *host = json_string_value(json_object_get(req->args, "hostname"));
	bool open = json_is_true(json_object_get(req->args, "open"));
	char netname[HOSTNAME_BUF], hostname[HOSTNAME_BUF], err[200];
	char v4[ADDRESS_V4_STRLEN], v6[ADDRESS_V6_STRLEN];
	uint8_t ip6[16];
	struct network *n;

	if ((name && !hostname_valid(name)) || (host && !hostname_valid(host))) {
		ipc_reply_error(req, "invalid name: use 1-63 of a-z, 0-9 and '-'");
		return;
	}
	if (name)
		snprintf(netname, sizeof(netname), "%s", name);
	else
		words_name(netname, sizeof(netname), rand_uniform, NULL);
	if (network_find(d, netname)) {
		ipc_reply_error(req, "a network named %s already exists here", netname);
		return;
	}
	if (host)
		snprintf(hostname, sizeof(hostname), "%s", host);
	else
		network_my_hostname(d, hostname);
	if (network_create(d, netname, hostname, open, NULL, &n, err, sizeof(err)) < 0) {
		ipc_reply_error(req, "%s", err);
		return;
	}
	address_ipv4_format(n->my_ipv4, v4);
	address_ipv6(d->id.id, ip6);
	address_ipv6_format(ip6, v6);
	create_reply_when_stored(d, req, n->pk,
				 json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "name", netname,
					   "room_id", n->saved.room_id, "ipv4", v4, "ipv6", v6,
					   "hostname", n->saved.hostname, "mode",
					   open ? "open" : "closed"));
}

void network_my_hostname(struct daemon *d, char out[HOSTNAME_BUF])
{
	const char *set = settings_get(&d->settings, SET_HOSTNAME);

	if (set[0]) /* ray up --hostname */
		snprintf(out, HOSTNAME_BUF, "%s", set);
	else if (d->nets)
		/* the name this node already goes by */
		snprintf(out, HOSTNAME_BUF, "%s", d->nets->saved.hostname);
	else
		network_default_hostname(out);
}

void network_cmd_leave(struct daemon *d, struct ipc_request *req)
{
	const char *name = json_string_value(json_object_get(req->args, "network"));
	struct ctl_msg m = { .type = CTL_LEAVE, .has_net = true };
	struct network *n = name ? network_find(d, name) : NULL;

	if (!n) {
		ipc_reply_error(req, "no network named '%s' here (see 'ray status')",
				name ? name : "");
		return;
	}
	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	for (size_t i = 0; i < n->blob.n_members; i++) {
		uint8_t pk[LIMIT_KEY_LEN];
		struct peer *p;

		if (identity_id_parse(n->blob.members[i].id, pk) == 0 && (p = peers_find(d, pk)) &&
		    p->conn)
			peer_send_ctl(d, p, &m);
	}
	log_info("network %s: leaving", n->saved.name);
	network_remove(d, n, QUIC_CODE_LEAVE);
	ipc_reply(req, NULL);
}

/*
 * Coordinator: drop member p from every network we coordinate (or just n).
 * Publishing one roster without p may free p (its last want went with that
 * network), so the loop goes by p's id and finds p again for each one.
 */
void network_prune_member(struct daemon *d, struct network *only, struct peer *p)
{
	char id[IDENTITY_ID_LEN + 1];
	uint8_t pk[LIMIT_KEY_LEN];
	struct network *n, *next;

	memcpy(pk, p->pk, LIMIT_KEY_LEN);
	snprintf(id, sizeof(id), "%s", p->id);
	for (n = d->nets; n; n = next) {
		struct group_blob blob;

		next = n->next;
		if ((only && n != only) || !n->has_key || !group_blob_find_member(&n->blob, id))
			continue;
		if (group_blob_copy(&blob, &n->blob) < 0)
			continue;
		group_blob_remove_member(&blob, id);
		log_info("network %s: %.8s left; pruning it from the roster", n->saved.name, id);
		network_publish_batched(d, n, &blob, peers_find(d, pk));
	}
}

struct sync_ctx {
	uint8_t net[LIMIT_KEY_LEN];
	uint8_t rec[STORE_MAX_RECORD];
	size_t rec_len;
	uint8_t hash[LIMIT_KEY_LEN];
	uint8_t from[LIMIT_KEY_LEN]; /* told us about it, so holds it */
	uint8_t src[LIMIT_KEY_LEN];  /* asked first */
	uint32_t wait_ms;            /* when (roster_fetch_plan) */
	uint64_t seq;
};

/*
 * A roster with our sequence but other contents: two coordinators changed
 * the same version at once (say each admitted someone). A coordinator
 * merges theirs into ours (three-way, against where the two went apart,
 * base) and signs the result as the next version, so no admission is lost;
 * both coordinators doing so sign the same bytes. When the merge is theirs
 * already, theirs is taken; when the two hold the same roster under two
 * hashes, or the merge fails, the lower hash wins the tie, so all nodes
 * still end on one roster.
 */
static int network_merge(struct daemon *d, struct network *n, const uint8_t *rec, size_t rec_len,
			 const uint8_t *data, size_t len, const struct group_blob *base)
{
	uint8_t held[GB_MAX_ANCESTORS][LIMIT_KEY_LEN], hash[LIMIT_KEY_LEN], pk[LIMIT_KEY_LEN];
	struct group_blob theirs, merged;
	struct network_payload p;
	struct roster_state st;
	enum roster_step step;
	struct record r;
	int changes, ret;
	bool same;

	if (check_record(n, rec, rec_len, &r, &p) < 0)
		return -EBADMSG;
	blake3_hash(data, len, hash);
	if (memcmp(hash, p.blob_hash, LIMIT_KEY_LEN) != 0 ||
	    group_blob_decode(data, len, &theirs) < 0)
		return -EBADMSG;
	if (group_blob_copy(&merged, &n->blob) < 0) {
		group_blob_free(&theirs);
		return -ENOMEM;
	}
	changes = group_blob_merge(&merged, base, &theirs);
	same = group_blob_same_members_and_fields(&n->blob, &theirs);
	if (changes >= 0 && !same && !group_blob_same_members_and_fields(&merged, &theirs)) {
		log_info("network %s: merged a concurrent roster v%llu (%d changes)", n->saved.name,
			 (unsigned long long)r.seq, changes);
		group_blob_set_merge_parents(&merged, p.blob_hash, n->saved.blob_hash,
					     n->blob.version);
		/* theirs may have dropped us: publishing the merge forgets n. */
		memcpy(pk, n->pk, LIMIT_KEY_LEN);
		ret = network_publish(d, n, &merged, NULL);
		if (ret == 0 && network_find_pk(d, pk) == n)
			hold_after_base(n, &theirs, p.blob_hash);
		group_blob_free(&theirs);
		return ret;
	}
	group_blob_free(&merged);
	/* Theirs holds everything ours does: take it. */
	if (changes >= 0 && !same) {
		group_blob_free(&theirs);
		return network_apply(d, n, rec, rec_len, data, len);
	}
	roster_state_of(n, &st, held);
	step = roster_sync_tie(&st, p.blob_hash, &theirs, d->id.id);
	group_blob_free(&theirs);
	if (step == ROSTER_ADOPT)
		return network_apply(d, n, rec, rec_len, data, len);
	return 0;
}

/*
 * A newer roster made beside ours rather than from it: its ancestors hold
 * an older roster of ours but not ours, so a coordinator changed the roster
 * while we (or a coordinator whose roster we hold) did too, and it went on
 * to a higher version. Taking it as it is would drop what ours added (an
 * admitted member would be left out, its invite burned). A coordinator
 * adopts theirs, merges ours into it against where the two went apart
 * (held_base, a copy taken before adopting moves the history), and signs the
 * result with both as ancestors (roster_sync_step said ROSTER_FORK).
 */
static int network_fork(struct daemon *d, struct network *n, const uint8_t *rec, size_t rec_len,
			const uint8_t *data, size_t len, const struct group_blob *held_base)
{
	struct group_blob ours, base, merged;
	uint8_t ours_hash[LIMIT_KEY_LEN], pk[LIMIT_KEY_LEN];
	int ret, changes;

	if (group_blob_copy(&ours, &n->blob) < 0)
		return network_apply(d, n, rec, rec_len, data, len);
	if (group_blob_copy(&base, held_base) < 0) {
		group_blob_free(&ours);
		return network_apply(d, n, rec, rec_len, data, len);
	}
	memcpy(ours_hash, n->saved.blob_hash, LIMIT_KEY_LEN);
	memcpy(pk, n->pk, LIMIT_KEY_LEN); /* theirs may drop us, and n with it */
	ret = network_apply(d, n, rec, rec_len, data, len);
	if (ret < 0 || network_find_pk(d, pk) != n || group_blob_copy(&merged, &n->blob) < 0)
		goto out;
	changes = group_blob_merge(&merged, &base, &ours);
	if (changes <= 0) {
		group_blob_free(&merged);
		goto out;
	}
	log_info("network %s: roster v%llu was made beside ours; merged ours back in "
		 "(%d changes)",
		 n->saved.name, (unsigned long long)n->seq, changes);
	group_blob_add_ancestor(&merged, ours_hash);
	ret = network_publish(d, n, &merged, NULL);
out:
	group_blob_free(&ours);
	group_blob_free(&base);
	return ret;
}

/* A fetched roster: the step roster_sync says, taken. */
static int network_take(struct daemon *d, struct network *n, const uint8_t *rec, size_t rec_len,
			const uint8_t *data, size_t len)
{
	uint8_t held[GB_MAX_ANCESTORS][LIMIT_KEY_LEN], hash[LIMIT_KEY_LEN];
	const struct group_blob *base;
	struct network_payload p;
	struct group_blob theirs;
	struct roster_state st;
	enum roster_step step;
	struct record r;
	size_t bi = 0;

	if (rec_len > STORE_MAX_RECORD || check_record(n, rec, rec_len, &r, &p) < 0)
		return -EBADMSG;
	blake3_hash(data, len, hash);
	if (memcmp(hash, p.blob_hash, LIMIT_KEY_LEN) != 0 ||
	    group_blob_decode(data, len, &theirs) < 0)
		return -EBADMSG;
	roster_state_of(n, &st, held);
	step = roster_sync_step(&st, r.seq, hash, &theirs, d->id.id, &bi);
	group_blob_free(&theirs);
	base = held_roster(n, bi);
	switch (step) {
	case ROSTER_KEEP:
		return 0;
	case ROSTER_MERGE:
		return base ? network_merge(d, n, rec, rec_len, data, len, base) : 0;
	case ROSTER_FORK:
		return base ? network_fork(d, n, rec, rec_len, data, len, base)
			    : network_apply(d, n, rec, rec_len, data, len);
	case ROSTER_WAIT:
		/* No merge came in time: a removal after all. */
		return fork_wait_over(d, n, r.seq) ? network_apply(d, n, rec, rec_len, data, len)
						   : 0;
	default:
		return network_apply(d, n, rec, rec_len, data, len);
	}
}

static void learn_record(struct daemon *d, struct network *n, const uint8_t from[LIMIT_KEY_LEN],
			 const uint8_t *rec, size_t len);

/* A record heard while a fetch was under way: tried when it ends, since
 * the roster being fetched may be gone from its holder by then. */
static void stash_record(struct network *n, const uint8_t from[LIMIT_KEY_LEN], const uint8_t *rec,
			 size_t len, uint64_t seq)
{
	if (n->next_rec && seq < n->next_seq)
		return;
	if (!n->next_rec && !(n->next_rec = malloc(STORE_MAX_RECORD)))
		return;
	memcpy(n->next_rec, rec, len);
	n->next_rec_len = len;
	memcpy(n->next_from, from, LIMIT_KEY_LEN);
	n->next_seq = seq;
}

static void learn_stashed(struct daemon *d, struct network *n)
{
	uint8_t *rec = n->next_rec, from[LIMIT_KEY_LEN];

	if (!rec)
		return;
	n->next_rec = NULL;
	memcpy(from, n->next_from, LIMIT_KEY_LEN);
	learn_record(d, n, from, rec, n->next_rec_len);
	free(rec);
}

static void on_sync_blob(struct daemon *d, const uint8_t *data, size_t len, void *ud)
{
	struct sync_ctx *s = ud;
	struct network *n = network_find_pk(d, s->net);
	int ret;

	if (n)
		n->fetching = false;
	if (n && data) {
		ret = network_take(d, n, s->rec, s->rec_len, data, len);
		/* A roster we could not store was logged by network_apply. */
		if (ret == -EBADMSG)
			log_warn("network %s: a fetched roster did not verify", n->saved.name);
	}
	/* The seed we picked may not hold it yet: ask the peer that told us. */
	if (n && !data && !d->stopping && memcmp(s->src, s->from, LIMIT_KEY_LEN) != 0) {
		memcpy(s->src, s->from, LIMIT_KEY_LEN);
		if (blob_fetch(d, s->from, s->hash, on_sync_blob, s) == 0) {
			n->fetching = true;
			return;
		}
	}
	/* Applying may have left the network. */
	n = network_find_pk(d, s->net);
	if (n && !n->fetching && !d->stopping)
		learn_stashed(d, n);
	free(s);
}

/* roster_fetch_plan asks: a seed we hold a mesh connection to. */
static bool seed_connected(const uint8_t pk[LIMIT_KEY_LEN], void *arg)
{
	struct peer *s = peers_find(arg, pk);

	return s && s->conn;
}

static void on_fetch_jitter(uv_timer_t *t)
{
	struct fetch_wait *w = t->data;
	struct daemon *d = w->d;
	struct sync_ctx *s = w->s;
	struct network *n = network_find_pk(d, s->net);

	fetch_wait_close(w);
	if (!n) {
		free(s);
		return;
	}
	n->fetch_wait = NULL;
	if (blob_fetch(d, s->src, s->hash, on_sync_blob, s) == 0)
		return;
	memcpy(s->src, s->from, LIMIT_KEY_LEN);
	if (blob_fetch(d, s->from, s->hash, on_sync_blob, s) == 0)
		return;
	n->fetching = false;
	free(s);
}

/* Fills s with the record of n to fetch, where from and when. */
static void sync_ctx_set(struct daemon *d, const struct network *n, struct sync_ctx *s,
			 const uint8_t from[LIMIT_KEY_LEN], const uint8_t *rec, size_t len,
			 const struct record *r, const struct network_payload *p)
{
	struct roster_fetch_plan plan;

	memcpy(s->rec, rec, len);
	s->rec_len = len;
	s->seq = r->seq;
	memcpy(s->hash, p->blob_hash, LIMIT_KEY_LEN);
	memcpy(s->from, from, LIMIT_KEY_LEN);
	roster_fetch_plan(d->id.pk, from, p, n->blob.n_members, seed_connected, d, rand_uniform,
			  NULL, &plan);
	memcpy(s->src, plan.src, LIMIT_KEY_LEN);
	s->wait_ms = plan.wait_ms;
}

/* Starts fetching s's roster after its wait; takes s. */
static int fetch_after_jitter(struct daemon *d, struct network *n, struct sync_ctx *s)
{
	struct fetch_wait *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->d = d;
	w->s = s;
	uv_timer_init(d->loop, &w->t);
	w->t.data = w;
	uv_timer_start(&w->t, on_fetch_jitter, s->wait_ms, 0);
	n->fetch_wait = w;
	return 0;
}

/* A signed record newer than ours: fetch its blob from `from`. */
static void learn_record(struct daemon *d, struct network *n, const uint8_t from[LIMIT_KEY_LEN],
			 const uint8_t *rec, size_t len)
{
	uint8_t held[GB_MAX_ANCESTORS][LIMIT_KEY_LEN];
	struct network_payload p;
	struct roster_state st;
	struct sync_ctx *s;
	struct record r;

	if (len > STORE_MAX_RECORD || check_record(n, rec, len, &r, &p) < 0) {
		if (gate_log_ok(d, peers_find(d, from)))
			log_warn("network %s: a record that does not verify was ignored",
				 n->saved.name);
		return;
	}
	roster_state_of(n, &st, held);
	if (!roster_sync_wants(&st, r.seq, p.blob_hash))
		return;
	/* A newer record while the fetch still waits: fetch that instead. */
	if (n->fetch_wait && r.seq > n->fetch_wait->s->seq) {
		sync_ctx_set(d, n, n->fetch_wait->s, from, rec, len, &r, &p);
		return;
	}
	if (n->fetching) {
		stash_record(n, from, rec, len, r.seq);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	memcpy(s->net, n->pk, LIMIT_KEY_LEN);
	sync_ctx_set(d, n, s, from, rec, len, &r, &p);
	if (fetch_after_jitter(d, n, s) < 0) {
		free(s);
		return;
	}
	n->fetching = true;
}

/*
 * A peer holding an older record than ours gets ours back, member or not:
 * that is how a kicked member, reconnecting with its stale roster, learns
 * from the signed record that it was removed.
 */
static void answer_stale(struct daemon *d, struct network *n, struct peer *p, const uint8_t *rec,
			 size_t len)
{
	struct ctl_msg m = { .type = CTL_SYNC, .has_net = true };
	uint8_t held[GB_MAX_ANCESTORS][LIMIT_KEY_LEN];
	struct network_payload np;
	struct roster_state st;
	struct record r;

	roster_state_of(n, &st, held);
	if (len > STORE_MAX_RECORD || check_record(n, rec, len, &r, &np) < 0 ||
	    !roster_sync_answer_back(&st, r.seq, np.blob_hash))
		return;
	memcpy(m.net, n->pk, LIMIT_KEY_LEN);
	m.rec = n->saved.record;
	m.rec_len = n->saved.record_len;
	peer_send_ctl(d, p, &m);
}

bool network_on_sync(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct network *n = m->has_net ? network_find_pk(d, m->net) : NULL;

	if (!n)
		return true;
	/* From anyone: the record is signed by the network key and the blob
	 * checked against it. A member our roster does not list yet may hold
	 * the roster a co-coordinator signed at the same time as ours (see
	 * network_merge). */
	learn_record(d, n, p->pk, m->rec, m->rec_len);
	answer_stale(d, n, p, m->rec, m->rec_len);
	return true;
}

bool network_on_leave(struct daemon *d, struct peer *p, const struct ctl_msg *m)
{
	struct network *n = m->has_net ? network_find_pk(d, m->net) : NULL;

	if (n && n->has_key)
		network_prune_member(d, n, p);
	return true;
}

void network_on_peer_up(struct daemon *d, struct peer *p)
{
	struct ctl_msg m = { .type = CTL_SYNC, .has_net = true };

	/* Tell the peer which roster we hold for every network we share, so
	 * whichever side is behind catches up. */
	for (struct network *n = d->nets; n; n = n->next) {
		if (!group_blob_find_member(&n->blob, p->id) || !n->saved.record_len)
			continue;
		memcpy(m.net, n->pk, LIMIT_KEY_LEN);
		m.rec = n->saved.record;
		m.rec_len = n->saved.record_len;
		peer_send_ctl(d, p, &m);
	}
}

void network_on_peer_down(struct daemon *d, struct peer *p, bool left)
{
	if (left)
		network_prune_member(d, NULL, p);
}

static void on_poll_record(struct daemon *d, const uint8_t pk[LIMIT_KEY_LEN], const uint8_t *rec,
			   size_t len, void *ud)
{
	struct network *n = network_find_pk(d, pk);
	struct network_payload p;
	struct record r;

	(void)ud;
	if (!n)
		return;
	n->polling = false;
	if (!rec || check_record(n, rec, len, &r, &p) < 0 || r.seq < n->seq)
		return;
	/* Fetch from the first seed we are connected to. */
	for (size_t i = 0; i < p.n_seeds; i++) {
		struct peer *s = peers_find(d, p.seeds[i]);

		if (s && s->conn) {
			learn_record(d, n, s->pk, rec, len);
			return;
		}
	}
}

/* Coordinators re-sign a record nearing expiry (same roster, same seq). */
static void refresh_record(struct daemon *d, struct network *n)
{
	struct network_payload p;
	struct record r;
	struct group_blob blob;

	if (!n->has_key || check_record(n, n->saved.record, n->saved.record_len, &r, &p) < 0 ||
	    r.expires > daemon_unix_now() + NETWORK_RECORD_RESIGN_S)
		return;
	if (group_blob_copy(&blob, &n->blob) == 0)
		network_publish(d, n, &blob, NULL);
}

void networks_tick(struct daemon *d)
{
	uint64_t now = daemon_now_ms(d);

	for (struct network *n = d->nets; n; n = n->next) {
		if (now < n->next_poll_ms || n->polling)
			continue;
		/* Spread over 45..75 s, so members that joined together do not
		 * all ask the DHT at the same moment. */
		n->next_poll_ms =
			now + NETWORK_POLL_MS * 3 / 4 + randombytes_uniform(NETWORK_POLL_MS / 2);
		refresh_record(d, n);
		if (records_lookup(d, RECORD_NETWORK, n->pk, on_poll_record, NULL) == 0)
			n->polling = true;
	}
}

/* The merge base, when it was saved and is still here; without it a
 * concurrent roster is settled by the tie rule rather than merged. */
static void network_load_base(struct daemon *d, struct network *n)
{
	uint8_t *bytes = NULL;
	size_t len;

	if (n->saved.has_base && store_load_blob(d->home, n->saved.base_hash, &bytes, &len) == 0 &&
	    group_blob_decode(bytes, len, &n->base) == 0) {
		n->has_base = true;
		memcpy(n->base_hash, n->saved.base_hash, LIMIT_KEY_LEN);
	} else
		n->saved.has_base = false;
	free(bytes);
}

/* Start-up sweep: blobs no saved network names are leftovers (older
 * versions kept every roster forever, a crash between save and delete). */
static void gc_blobs(struct daemon *d, const struct net_saved *saved, size_t count)
{
	uint8_t(*keep)[LIMIT_KEY_LEN] = calloc(2 * count + 1, LIMIT_KEY_LEN);
	size_t n_keep;
	int ret;

	if (!keep)
		return;
	n_keep = store_saved_blob_refs(saved, count, keep, 2 * count + 1);
	ret = store_gc_blobs(d->home, (const uint8_t(*)[LIMIT_KEY_LEN])keep, n_keep);
	if (ret > 0)
		log_info("store: deleted %d roster blobs no network uses", ret);
	else if (ret < 0)
		log_warn("store: cannot sweep the blobs directory: %s", strerror(-ret));
	free(keep);
}

bool network_take_stored_key(struct daemon *d, struct network *n)
{
	uint8_t seed[LIMIT_KEY_LEN];

	if (store_load_key(d->home, n->saved.room_id, seed) == 0 &&
	    identity_from_seed(seed, &n->key) == 0 && memcmp(n->key.pk, n->pk, LIMIT_KEY_LEN) == 0)
		n->has_key = true;
	sodium_memzero(seed, sizeof(seed));
	return n->has_key;
}

static int network_load_one(struct daemon *d, const struct net_saved *s)
{
	struct network *n = calloc(1, sizeof(*n));
	struct network_payload p;
	uint8_t *bytes = NULL;
	const char *why = "its room_id is not a network key";
	struct record r;
	size_t len;
	int ret = -EINVAL;

	if (!n)
		return -ENOMEM;
	n->saved = *s;
	if (identity_id_parse(s->room_id, n->pk) < 0)
		goto fail;
	if (s->coordinator)
		network_take_stored_key(d, n);
	/* The stored record may have expired while we were down; verify the
	 * signature and hash without the clock. */
	why = "its record is not signed by the network key or does not name its roster";
	if (record_decode(s->record, s->record_len, RECORD_NETWORK, n->pk, 0, &r) < 0 ||
	    network_payload_decode(r.payload, r.payload_len, &p) < 0 ||
	    memcmp(p.blob_hash, s->blob_hash, LIMIT_KEY_LEN) != 0)
		goto fail;
	why = "its roster is missing or damaged";
	ret = store_load_blob(d->home, s->blob_hash, &bytes, &len);
	if (ret < 0 || (ret = group_blob_decode(bytes, len, &n->blob)) < 0)
		goto fail;
	free(bytes);
	bytes = NULL;
	if (!network_me(d, n)) {
		group_blob_free(&n->blob);
		why = "its roster does not list this node";
		ret = -ENOENT;
		goto fail;
	}
	network_load_base(d, n);
	n->seq = r.seq;
	n->my_ipv4 = network_me(d, n)->ipv4;
	n->index = d->next_net_index++;
	n->next = d->nets;
	d->nets = n;
	want_members(d, &n->blob, NULL, true, 0);
	network_announce(d, n, s->record, s->record_len);
	log_info("network %s: restored (%zu members, roster v%llu)", s->name, n->blob.n_members,
		 (unsigned long long)n->blob.version);
	return 0;
fail:
	free(bytes);
	identity_clear(&n->key);
	free(n);
	log_warn("store: networks.json: network \"%s\" (room %.16s) skipped: %s", s->name,
		 s->room_id, why);
	return ret;
}

/*
 * The next networks_save would write the file without what could not be
 * loaded: keep a copy first, or do not start (nothing may overwrite the
 * only copy).
 */
static int keep_damaged(struct daemon *d)
{
	char bak[4200];
	int ret = store_backup_networks(d->home, bak, sizeof(bak));

	if (ret < 0) {
		log_error("store: cannot keep a copy of networks.json before it is rewritten without the entries skipped (%s); not starting",
			  strerror(-ret));
		return ret;
	}
	log_warn("store: the networks.json as it was is kept in %s", bak);
	return 0;
}

int networks_load(struct daemon *d)
{
	struct net_saved *saved = NULL;
	char err[512];
	size_t count = 0, failed;
	int ret;

	ret = store_load_networks(d->home, &saved, &count, err, sizeof(err));
	if (ret < 0) {
		log_error("store: %s", err);
		return ret;
	}
	failed = (size_t)ret;
	/* The blobs of an entry that did not parse are unknown: sweep only
	 * when every entry named its own. */
	if (!failed)
		gc_blobs(d, saved, count);
	/* Restore in file order: network_load_one prepends, so go backwards. */
	for (size_t i = count; i > 0; i--)
		if (network_load_one(d, &saved[i - 1]) < 0)
			failed++;
	free(saved);
	if (failed && (ret = keep_damaged(d)) < 0) {
		networks_close_all(d);
		return ret;
	}
	for (struct network *n = d->nets; n; n = n->next)
		daemon_network_restored(d, n);
	network_changed(d);
	return 0;
}

void networks_close_all(struct daemon *d)
{
	while (d->nets) {
		struct network *n = d->nets;

		d->nets = n->next;
		network_free(n);
	}
}

/* Hostname, host.net, mesh address or endpoint id → endpoint id. */
int network_resolve_peer(struct daemon *d, const char *peer, const char *scope,
			 char out[IDENTITY_ID_LEN + 1], char *err, size_t errlen)
{
	const char *found = NULL;
	uint32_t v4;
	bool is_v4 = address_ipv4_parse(peer, &v4) == 0;

	if (identity_id_valid(peer)) {
		snprintf(out, IDENTITY_ID_LEN + 1, "%s", peer);
		return 0;
	}
	for (struct network *n = d->nets; n; n = n->next) {
		const struct gb_member *m;
		char host[HOSTNAME_BUF];
		const char *dot = strchr(peer, '.');

		if (scope && *scope && strcmp(scope, n->saved.name) != 0)
			continue;
		m = is_v4 ? group_blob_find_member_by_ipv4(&n->blob, v4)
			  : group_blob_find_member_by_hostname(&n->blob, peer);
		if (!m && dot && strcmp(dot + 1, n->saved.name) == 0 &&
		    (size_t)(dot - peer) < sizeof(host)) {
			snprintf(host, sizeof(host), "%.*s", (int)(dot - peer), peer);
			m = group_blob_find_member_by_hostname(&n->blob, host);
		}
		if (!m)
			continue;
		if (found && strcmp(found, m->id) != 0) {
			snprintf(err, errlen,
				 "'%s' names different peers in different networks: add --network",
				 peer);
			return -EEXIST;
		}
		found = m->id;
		snprintf(out, IDENTITY_ID_LEN + 1, "%s", m->id);
	}
	if (!found) {
		snprintf(err, errlen, "no peer named '%s'", peer);
		return -ENOENT;
	}
	return 0;
}

struct network *network_from_args(struct daemon *d, struct ipc_request *req, bool need_key)
{
	const char *name = json_string_value(json_object_get(req->args, "network"));
	struct network *n = name ? network_find(d, name) : NULL;

	if (!n) {
		ipc_reply_error(req, "no network named '%s' here (see 'ray status')",
				name ? name : "");
		return NULL;
	}
	if (need_key && !n->has_key) {
		ipc_reply_error(req, "this node is not a coordinator of %s", n->saved.name);
		return NULL;
	}
	return n;
}
