/*
 * conntrack: see conntrack.h. A bucket is CT_WAYS consecutive slots with a
 * parallel array of 32-bit tags (hash bits, 0 = free): a lookup is one
 * SipHash of the 40-byte key, one cache line of tags, and a full key
 * compare only where a tag matches. Owners live in a parallel array and a
 * small table of counts, touched only when an entry is made or freed, so
 * packets of known flows pay nothing for the quota.
 */
#include "dataplane/conntrack.h"
#include "dataplane/packet.h"
#include "util/bytes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static void addr_bytes(uint8_t version, const union packet_addr *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (version == 6) {
		memcpy(out, a->v6, 16);
		return;
	}
	be32_put(out, a->v4);
}

static void addr_from_bytes(uint8_t version, const uint8_t in[16], union packet_addr *a)
{
	if (version == 6) {
		memcpy(a->v6, in, 16);
		return;
	}
	a->v4 = be32_get(in);
}

static int is_echo_request(const struct packet_info *pi)
{
	return pi->icmp_type == (pi->version == 4 ? 8 : 128);
}

static int is_echo_reply(const struct packet_info *pi)
{
	return pi->icmp_type == (pi->version == 4 ? 0 : 129);
}

/*
 * Builds the canonical flow key of pi. Returns 0 and sets *src_is_a, or -1
 * when pi cannot belong to a flow.
 */
static int key_from_packet(const struct packet_info *pi, struct ct_key *k, int *src_is_a)
{
	uint8_t s[16], d[16];
	uint16_t sp, dp;
	int c;

	if (pi->frag_offset)
		return -1;
	if ((pi->proto == PROTO_TCP || pi->proto == PROTO_UDP) && (pi->flags & PACKET_F_PORTS)) {
		sp = pi->src_port;
		dp = pi->dst_port;
	} else if (pi->flags & PACKET_F_ICMP_ECHO) {
		/* the echo id sits on the requester's side only */
		if (is_echo_request(pi)) {
			sp = pi->icmp_id;
			dp = 0;
		} else if (is_echo_reply(pi)) {
			sp = 0;
			dp = pi->icmp_id;
		} else {
			return -1;
		}
	} else {
		return -1;
	}
	addr_bytes(pi->version, &pi->src, s);
	addr_bytes(pi->version, &pi->dst, d);
	memset(k, 0, sizeof(*k));
	c = memcmp(s, d, 16);
	*src_is_a = c < 0 || (c == 0 && sp <= dp);
	memcpy(k->a, *src_is_a ? s : d, 16);
	memcpy(k->b, *src_is_a ? d : s, 16);
	k->port_a = *src_is_a ? sp : dp;
	k->port_b = *src_is_a ? dp : sp;
	k->version = pi->version;
	k->proto = pi->proto;
	k->kind = CT_KIND_FLOW;
	return 0;
}

/* Fragment allowances are directional: a = source, b = destination. */
static void key_frag(const struct packet_info *pi, struct ct_key *k)
{
	memset(k, 0, sizeof(*k));
	addr_bytes(pi->version, &pi->src, k->a);
	addr_bytes(pi->version, &pi->dst, k->b);
	k->version = pi->version;
	k->proto = pi->proto;
	k->kind = CT_KIND_FRAG;
}

/* Where a key lives: its bucket's first slot and its tag. */
struct ct_pos {
	size_t base;
	uint32_t tag; /* never 0: 0 marks a free slot */
};

_Static_assert(sizeof(struct ct_key) % 8 == 0, "key_equal compares 64-bit words");

/* Equal keys; inline, where libc's memcmp showed in profiles. */
static int key_equal(const struct ct_key *x, const struct ct_key *y)
{
	uint64_t a[sizeof(*x) / 8], b[sizeof(*x) / 8], d = 0;

	memcpy(a, x, sizeof(a));
	memcpy(b, y, sizeof(b));
	for (size_t i = 0; i < sizeof(a) / 8; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static struct ct_pos locate(struct conntrack *ct, const struct ct_key *k)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	struct ct_pos pos;

	if (ct->memo_tag && key_equal(&ct->memo_key, k)) {
		pos.base = ct->memo_base;
		pos.tag = ct->memo_tag;
		return pos;
	}
	crypto_shorthash(h, (const unsigned char *)k, sizeof(*k), ct->hkey);
	for (size_t i = 0; i < sizeof(h); i++)
		v = (v << 8) | h[i];
	pos.base = (size_t)(v & ct->mask) * CT_WAYS;
	pos.tag = (uint32_t)(v >> 32) | 1;
	ct->memo_key = *k;
	ct->memo_base = pos.base;
	ct->memo_tag = pos.tag;
	return pos;
}

/* ---- owners: flows held per owner handle ---- */

/* Handles are the caller's pointers, not a remote party's choice: a
 * multiplicative hash spreads them well enough. */
static size_t owner_home(const struct conntrack *ct, const void *id)
{
	uint64_t h = (uint64_t)(uintptr_t)id * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (ct->owners_cap - 1);
}

static struct ct_owner *owner_find(const struct conntrack *ct, const void *id)
{
	size_t mask = ct->owners_cap - 1;

	for (size_t i = owner_home(ct, id);; i = (i + 1) & mask) {
		if (ct->owners[i].id == id)
			return ct->owners + i;
		if (!ct->owners[i].id)
			return NULL;
	}
}

static uint32_t owner_flows(const struct conntrack *ct, const void *id)
{
	const struct ct_owner *o = id ? owner_find(ct, id) : NULL;

	return o ? o->flows : 0;
}

/* Counts one more flow for id; -ENOSPC when the table of owners is full. */
static int owner_add(struct conntrack *ct, const void *id)
{
	size_t mask = ct->owners_cap - 1, i;

	for (i = owner_home(ct, id); ct->owners[i].id; i = (i + 1) & mask) {
		if (ct->owners[i].id == id) {
			ct->owners[i].flows++;
			return 0;
		}
	}
	if (ct->n_owners >= ct->owners_cap / 2)
		return -ENOSPC;
	ct->owners[i].id = id;
	ct->owners[i].flows = 1;
	ct->n_owners++;
	return 0;
}

/* Whether home h lies cyclically in (i, j]: then the entry at j may not
 * move to i without becoming unreachable. */
static int home_between(size_t h, size_t i, size_t j)
{
	return i <= j ? (h > i && h <= j) : (h > i || h <= j);
}

/* Linear probing without tombstones: later entries of the run shift back. */
static void owner_delete(struct conntrack *ct, size_t i)
{
	size_t mask = ct->owners_cap - 1;

	for (size_t j = (i + 1) & mask; ct->owners[j].id; j = (j + 1) & mask) {
		if (home_between(owner_home(ct, ct->owners[j].id), i, j))
			continue;
		ct->owners[i] = ct->owners[j];
		i = j;
	}
	ct->owners[i].id = NULL;
	ct->owners[i].flows = 0;
	ct->n_owners--;
}

static void owner_drop(struct conntrack *ct, const void *id)
{
	struct ct_owner *o = owner_find(ct, id);

	if (o && --o->flows == 0)
		owner_delete(ct, (size_t)(o - ct->owners));
}

static void entry_free(struct conntrack *ct, struct ct_entry *e)
{
	size_t i = (size_t)(e - ct->slots);

	if (ct->owner_of[i])
		owner_drop(ct, ct->owner_of[i]);
	ct->owner_of[i] = NULL;
	ct->tags[i] = 0;
	memset(e, 0, sizeof(*e));
	ct->used--;
}

/* The live entry for k; an expired match is freed. Only slots whose tag
 * matches are touched, so a miss reads one cache line of tags. */
static struct ct_entry *find(struct conntrack *ct, const struct ct_key *k, struct ct_pos pos,
			     uint64_t now)
{
	for (int i = 0; i < CT_WAYS; i++) {
		struct ct_entry *e = ct->slots + pos.base + i;

		if (ct->tags[pos.base + i] != pos.tag || !key_equal(&e->key, k))
			continue;
		if (e->expires <= now) {
			entry_free(ct, e);
			ct->stats.expired++;
			return NULL;
		}
		return e;
	}
	return NULL;
}

/* Frees the bucket's expired entries. */
static void bucket_reclaim(struct conntrack *ct, size_t base, uint64_t now)
{
	for (int i = 0; i < CT_WAYS; i++) {
		if (ct->tags[base + i] && ct->slots[base + i].expires <= now) {
			entry_free(ct, ct->slots + base + i);
			ct->stats.expired++;
		}
	}
}

/* Expired entries still count against their owners: an owner at its quota
 * has the whole table swept before it is refused, at most every
 * CT_SWEEP_MS. */
static void table_sweep(struct conntrack *ct, uint64_t now)
{
	if (ct->swept_ms && now - ct->swept_ms < CT_SWEEP_MS)
		return;
	ct->swept_ms = now;
	for (size_t base = 0; base < ct->cap; base += CT_WAYS)
		bucket_reclaim(ct, base, now);
}

/*
 * The entry a new flow of owner (holding `mine` flows) may take in a full
 * bucket: the least recently seen of its own, or, under quota, of an owner
 * holding more. NULL when there is none.
 */
static struct ct_entry *victim(struct conntrack *ct, size_t base, const void *owner, uint32_t mine,
			       int at_quota)
{
	struct ct_entry *v = NULL;

	for (int i = 0; i < CT_WAYS; i++) {
		struct ct_entry *e = ct->slots + base + i;
		const void *o = ct->owner_of[base + i];

		if (o != owner && (at_quota || owner_flows(ct, o) <= mine))
			continue;
		if (!v || e->last_seen < v->last_seen)
			v = e;
	}
	return v;
}

/* A free slot of the bucket, or NULL. */
static struct ct_entry *bucket_free_slot(struct conntrack *ct, size_t base)
{
	for (int i = 0; i < CT_WAYS; i++)
		if (ct->tags[base + i] == 0)
			return ct->slots + base + i;
	return NULL;
}

/* Where owner's new flow goes, or NULL (see "Owners" in conntrack.h). */
static struct ct_entry *slot_pick(struct conntrack *ct, size_t base, const void *owner,
				  uint64_t now)
{
	uint32_t mine = owner_flows(ct, owner);
	int at_quota = owner && mine >= ct->quota;
	struct ct_entry *e = NULL;

	bucket_reclaim(ct, base, now);
	if (at_quota) {
		table_sweep(ct, now);
		mine = owner_flows(ct, owner);
		at_quota = mine >= ct->quota;
	}
	if (!at_quota)
		e = bucket_free_slot(ct, base);
	if (e)
		return e;
	if ((e = victim(ct, base, owner, mine, at_quota))) {
		entry_free(ct, e);
		ct->stats.evicted++;
	}
	return e;
}

/* A slot for a new key of owner's, tagged and counted, or NULL (refused). */
static struct ct_entry *slot_for(struct conntrack *ct, struct ct_pos pos, const void *owner,
				 uint64_t now)
{
	struct ct_entry *e = slot_pick(ct, pos.base, owner, now);
	size_t i;

	if (!e || (owner && owner_add(ct, owner) < 0)) {
		ct->stats.refused++;
		return NULL;
	}
	i = (size_t)(e - ct->slots);
	ct->owner_of[i] = owner;
	ct->tags[i] = pos.tag;
	ct->used++;
	ct->stats.inserted++;
	return e;
}

int conntrack_init(struct conntrack *ct, size_t capacity)
{
	memset(ct, 0, sizeof(*ct));
	if (capacity == 0)
		capacity = CT_DEFAULT_CAPACITY;
	if (capacity < CT_WAYS || capacity > CT_MAX_CAPACITY || (capacity & (capacity - 1)) != 0)
		return -EINVAL;
	/* Every owner holds an entry, so there are never more owners than
	 * slots: at twice that, the owners' table (at most half full) never
	 * refuses a flow the slots have room for, however many peers. */
	ct->owners_cap = capacity * 2;
	ct->slots = calloc(capacity, sizeof(*ct->slots));
	ct->tags = calloc(capacity, sizeof(*ct->tags));
	ct->owner_of = calloc(capacity, sizeof(*ct->owner_of));
	ct->owners = calloc(ct->owners_cap, sizeof(*ct->owners));
	if (!ct->slots || !ct->tags || !ct->owner_of || !ct->owners) {
		conntrack_close(ct);
		return -ENOMEM;
	}
	ct->quota = capacity / CT_OWNER_SHARE ? capacity / CT_OWNER_SHARE : 1;
	ct->cap = capacity;
	ct->mask = capacity / CT_WAYS - 1;
	randombytes_buf(ct->hkey, sizeof(ct->hkey));
	return 0;
}

void conntrack_close(struct conntrack *ct)
{
	free(ct->slots);
	free(ct->tags);
	free(ct->owner_of);
	free(ct->owners);
	memset(ct, 0, sizeof(*ct));
}

void conntrack_flush(struct conntrack *ct)
{
	if (ct->slots)
		memset(ct->slots, 0, ct->cap * sizeof(*ct->slots));
	if (ct->tags)
		memset(ct->tags, 0, ct->cap * sizeof(*ct->tags));
	if (ct->owner_of)
		memset(ct->owner_of, 0, ct->cap * sizeof(*ct->owner_of));
	if (ct->owners)
		memset(ct->owners, 0, ct->owners_cap * sizeof(*ct->owners));
	ct->n_owners = 0;
	ct->used = 0;
}

/* A fresh SYN on a closed or denied connection's ports starts a new
 * connection: it must face the rules again, not ride the old one. */
static int restarts(const struct ct_entry *e, const struct packet_info *pi)
{
	return pi->proto == PROTO_TCP &&
	       (pi->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
	       (e->state == CT_TCP_CLOSING || e->state == CT_TCP_RESET || (e->flags & CT_F_DENIED));
}

struct ct_entry *conntrack_lookup(struct conntrack *ct, const struct packet_info *pi, uint64_t now)
{
	struct ct_key k;
	struct ct_entry *e;
	int src_is_a;

	if (key_from_packet(pi, &k, &src_is_a) < 0)
		return NULL;
	if (!(e = find(ct, &k, locate(ct, &k), now)))
		return NULL;
	if (restarts(e, pi)) {
		entry_free(ct, e);
		return NULL;
	}
	return e;
}

static int from_originator(const struct ct_entry *e, const struct packet_info *pi)
{
	struct ct_key k;
	int src_is_a;

	if (key_from_packet(pi, &k, &src_is_a) < 0)
		return 1;
	return src_is_a == e->orig_is_a;
}

static void tcp_update(struct ct_entry *e, const struct packet_info *pi, uint64_t now)
{
	uint8_t f = pi->tcp_flags;
	int orig = from_originator(e, pi);

	if (f & TCP_RST) {
		/* no refresh once reset: stray packets must not keep it alive */
		if (e->state != CT_TCP_RESET) {
			e->state = CT_TCP_RESET;
			e->expires = now + CT_TIMEOUT_TCP_RESET;
		}
		return;
	}
	if (e->state == CT_TCP_RESET)
		return;
	if (f & TCP_FIN) {
		e->flags |= orig ? CT_F_FIN_ORIG : CT_F_FIN_REPLY;
		e->state = CT_TCP_CLOSING;
	} else if (e->state == CT_TCP_SYN_SENT && !orig && (f & TCP_ACK)) {
		e->state = CT_TCP_ESTABLISHED;
	}
	switch (e->state) {
	case CT_TCP_SYN_SENT:
		e->expires = now + CT_TIMEOUT_TCP_SYN;
		break;
	case CT_TCP_ESTABLISHED:
		e->expires = now + CT_TIMEOUT_TCP_EST;
		break;
	default:
		e->expires = now + CT_TIMEOUT_TCP_CLOSING;
		break;
	}
}

void conntrack_update(struct conntrack *ct, struct ct_entry *e, const struct packet_info *pi,
		      uint64_t now)
{
	e->last_seen = now;
	switch (e->state) {
	case CT_TCP_SYN_SENT:
	case CT_TCP_ESTABLISHED:
	case CT_TCP_CLOSING:
	case CT_TCP_RESET:
		tcp_update(e, pi, now);
		break;
	case CT_UDP:
		e->expires = now + CT_TIMEOUT_UDP;
		break;
	case CT_ICMP_ECHO:
		e->expires = now + CT_TIMEOUT_ICMP;
		break;
	default:
		break;
	}
}

void conntrack_remove(struct conntrack *ct, struct ct_entry *e)
{
	if (ct->tags[e - ct->slots])
		entry_free(ct, e);
}

static int tcp_initial_state(uint8_t f, uint64_t now, uint64_t *expires)
{
	if ((f & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		*expires = now + CT_TIMEOUT_TCP_SYN;
		return CT_TCP_SYN_SENT;
	}
	if (f & TCP_FIN) {
		*expires = now + CT_TIMEOUT_TCP_CLOSING;
		return CT_TCP_CLOSING;
	}
	/* picked up mid-stream: after a restart or an eviction */
	*expires = now + CT_TIMEOUT_TCP_EST;
	return CT_TCP_ESTABLISHED;
}

struct ct_entry *conntrack_track(struct conntrack *ct, const struct packet_info *pi, uint8_t dir,
				 uint32_t gen, const void *owner, uint64_t now)
{
	struct ct_key k;
	struct ct_entry *e;
	struct ct_pos pos;
	int src_is_a;

	conntrack_note_fragment(ct, pi, owner, now);
	if (key_from_packet(pi, &k, &src_is_a) < 0)
		return NULL;
	if (pi->proto == PROTO_TCP && (pi->tcp_flags & TCP_RST))
		return NULL;
	if ((pi->flags & PACKET_F_ICMP_ECHO) && !is_echo_request(pi))
		return NULL;
	pos = locate(ct, &k);
	if ((e = find(ct, &k, pos, now)) && restarts(e, pi)) {
		entry_free(ct, e);
		e = NULL;
	}
	if (e) {
		conntrack_update(ct, e, pi, now);
		e->gen = gen;
		e->flags &= (uint8_t)~CT_F_DENIED;
		return e;
	}
	if (!(e = slot_for(ct, pos, owner, now)))
		return NULL;
	e->key = k;
	if (pi->proto == PROTO_TCP)
		e->state = (uint8_t)tcp_initial_state(pi->tcp_flags, now, &e->expires);
	else if (pi->proto == PROTO_UDP) {
		e->state = CT_UDP;
		e->expires = now + CT_TIMEOUT_UDP;
	} else {
		e->state = CT_ICMP_ECHO;
		e->expires = now + CT_TIMEOUT_ICMP;
	}
	e->last_seen = now;
	e->gen = gen;
	e->orig_dir = dir;
	e->orig_is_a = (uint8_t)src_is_a;
	e->flags = (pi->proto == PROTO_TCP && (pi->tcp_flags & TCP_FIN)) ? CT_F_FIN_ORIG : 0;
	return e;
}

int conntrack_lookup_fragment(struct conntrack *ct, const struct packet_info *pi, uint64_t now)
{
	struct ct_key k;

	if (!(pi->flags & PACKET_F_FRAGMENT) || pi->frag_offset == 0)
		return 0;
	key_frag(pi, &k);
	return find(ct, &k, locate(ct, &k), now) != NULL;
}

void conntrack_note_fragment(struct conntrack *ct, const struct packet_info *pi, const void *owner,
			     uint64_t now)
{
	struct ct_key k;
	struct ct_entry *e;
	struct ct_pos pos;

	if (!(pi->flags & PACKET_F_MORE_FRAGS) || pi->frag_offset != 0)
		return;
	key_frag(pi, &k);
	pos = locate(ct, &k);
	if (!(e = find(ct, &k, pos, now))) {
		if (!(e = slot_for(ct, pos, owner, now)))
			return;
		e->key = k;
		e->state = CT_FRAG;
	}
	e->last_seen = now;
	e->expires = now + CT_TIMEOUT_FRAG;
}

void conntrack_entry_orig(const struct ct_entry *e, struct packet_info *out)
{
	const uint8_t *s = e->orig_is_a ? e->key.a : e->key.b;
	const uint8_t *d = e->orig_is_a ? e->key.b : e->key.a;
	uint16_t sp = e->orig_is_a ? e->key.port_a : e->key.port_b;
	uint16_t dp = e->orig_is_a ? e->key.port_b : e->key.port_a;

	memset(out, 0, sizeof(*out));
	out->version = e->key.version;
	out->proto = e->key.proto;
	out->hdr_len = e->key.version == 4 ? 20 : 40;
	out->total_len = out->hdr_len;
	out->ttl = 64;
	addr_from_bytes(e->key.version, s, &out->src);
	addr_from_bytes(e->key.version, d, &out->dst);
	if (e->key.proto == PROTO_TCP || e->key.proto == PROTO_UDP) {
		out->flags = PACKET_F_PORTS;
		out->src_port = sp;
		out->dst_port = dp;
		if (e->key.proto == PROTO_TCP)
			out->tcp_flags = TCP_SYN;
		return;
	}
	out->flags = PACKET_F_ICMP | PACKET_F_ICMP_ECHO;
	out->icmp_type = e->key.version == 4 ? 8 : 128;
	out->icmp_id = sp;
}

size_t conntrack_count(const struct conntrack *ct, uint64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < ct->cap; i++)
		if (ct->tags[i] && ct->slots[i].expires > now)
			n++;
	return n;
}
